//! The outbox: final message bytes are durable here before any network I/O.

use super::{Result, Store, decode, encode, keys};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OutboxState {
    Queued,
    Sending,
    Sent { at: i64 },
    Retrying { at: i64, attempt: u32 },
    Failed { reason: String },
    Cancelled,
}

impl OutboxState {
    pub fn name(&self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::Sending => "sending",
            OutboxState::Sent { .. } => "sent",
            OutboxState::Retrying { .. } => "retrying",
            OutboxState::Failed { .. } => "failed",
            OutboxState::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutboxEntry {
    pub id: u64,
    pub account: String,
    pub message_id: String,
    pub from: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub raw: Vec<u8>,
    pub state: OutboxState,
    #[serde(default)]
    pub last_error: Option<String>,
    pub created: i64,
    /// The mail this one answers, to mark \Answered after sending.
    #[serde(default)]
    pub in_reply_to: Option<u64>,
}

impl Store {
    /// Queue a mail and flush to disk before returning.
    pub fn enqueue(&self, mut e: OutboxEntry) -> Result<OutboxEntry> {
        if e.id == 0 {
            e.id = self.next_id()?;
        }
        self.tree.insert(keys::with_id(keys::OUTBOX, e.id), encode(&e))?;
        self.flush()?;
        Ok(e)
    }

    /// Change an entry's state durably.
    pub fn set_outbox_state(&self, id: u64, state: OutboxState, error: Option<String>) -> Result<Option<OutboxEntry>> {
        let key = keys::with_id(keys::OUTBOX, id);
        let Some(v) = self.tree.get(&key)? else {
            return Ok(None);
        };
        let mut e: OutboxEntry = decode(&v)?;
        e.state = state;
        if error.is_some() {
            e.last_error = error;
        }
        self.tree.insert(key, encode(&e))?;
        self.flush()?;
        Ok(Some(e))
    }

    pub fn outbox_entries(&self) -> Result<Vec<OutboxEntry>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([keys::OUTBOX]) {
            let (_, v) = item?;
            out.push(decode(&v)?);
        }
        Ok(out)
    }
}
