//! Mail parsing, terminal-safe rendering, sanitising, threading and addresses.

pub mod sanitize;
