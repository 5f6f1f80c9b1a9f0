//! deskmail: a terminal mail desk for customer-support agents.
//!
//! The library holds everything; `src/main.rs` is a thin CLI over it.

pub mod mail;
pub mod tui;
