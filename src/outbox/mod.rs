//! The outbox: mail is durable in the store before any network I/O, a worker
//! submits it over SMTP, files it in Sent, links it and marks what it
//! answers; failures are diagnosed in plain words.

pub mod diagnose;
pub mod drafts;
pub mod imap;
pub mod message;
pub mod send;
pub mod smtp;
pub mod template;
mod update;
pub mod worker;

pub use send::{SendError, SendOutcome, SendRequest, send_from_cli};
pub use update::OutboxUpdate;
pub use worker::{
    DrainReport, OutboxError, OutboxHandle, cancel, drain_once, edit_and_resend, retry_now, spawn,
};
