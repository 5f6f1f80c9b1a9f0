//! Mail parsing, terminal-safe rendering, sanitising, threading and addresses.

pub mod address;
pub mod attachments;
pub mod folders;
pub mod format;
pub(crate) mod mime;
pub mod mutf7;
pub mod parse;
pub mod render;
pub mod sanitize;
pub mod thread;
