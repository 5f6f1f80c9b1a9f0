//! The outbox: mail is durable in the store before any network I/O, a worker
//! submits it over SMTP, files it in Sent, links it and marks what it
//! answers; failures are diagnosed in plain words.

pub mod diagnose;
pub mod imap;
pub mod smtp;
pub mod worker;

pub use worker::{DrainReport, OutboxError, OutboxHandle, drain_once, spawn};
