//! deskmail: a terminal mail desk for customer-support agents.
//!
//! The library holds everything; `src/main.rs` is a thin CLI over it.

pub mod cli;
pub mod config;
pub mod console;
pub mod crm;
pub mod demo;
pub mod desk;
pub mod hangup;
pub mod mail;
pub mod outbox;
pub mod protocol;
pub mod search;
pub mod serve;
pub mod store;
pub mod sync;
pub mod trust;
pub mod tui;
