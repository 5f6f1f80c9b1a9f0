//! Mail parsing, terminal-safe rendering, sanitising, threading and addresses.

pub mod sanitize;
pub(crate) mod mime;
pub mod parse;
pub mod render;
pub mod attachments;
pub mod thread;
pub mod address;
