//! Per-agent notifications ("new mail on a record you follow"), newest last.

use super::{RecordRef, Result, Store, decode, encode, keys};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    pub id: u64,
    pub agent: String,
    /// The mail that caused it.
    pub message: u64,
    #[serde(default)]
    pub record: Option<RecordRef>,
    pub text: String,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub read: bool,
}

fn agent_prefix(agent: &str) -> Vec<u8> {
    let mut k = vec![keys::NOTIFICATION];
    k.extend_from_slice(agent.trim().to_lowercase().as_bytes());
    k.push(0);
    k
}

pub(crate) fn notification_key(agent: &str, id: u64) -> Vec<u8> {
    let mut k = agent_prefix(agent);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

impl Store {
    /// Add a notification for `n.agent`; its id is assigned here.
    pub fn add_notification(&self, mut n: Notification) -> Result<Notification> {
        n.id = self.next_id()?;
        self.tree
            .insert(notification_key(&n.agent, n.id), encode(&n)?)?;
        Ok(n)
    }

    /// An agent's notifications, oldest first.
    pub fn notifications(&self, agent: &str) -> Result<Vec<Notification>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(agent_prefix(agent)) {
            let (_, v) = item?;
            out.push(decode(&v)?);
        }
        Ok(out)
    }

    /// Mark one notification read; false if it does not exist.
    pub fn mark_notification_read(&self, agent: &str, id: u64) -> Result<bool> {
        let k = notification_key(agent, id);
        let Some(v) = self.tree.get(&k)? else {
            return Ok(false);
        };
        let mut n: Notification = decode(&v)?;
        n.read = true;
        self.tree.insert(k, encode(&n)?)?;
        Ok(true)
    }

    /// Remove all of an agent's notifications; returns how many there were.
    pub fn clear_notifications(&self, agent: &str) -> Result<usize> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for item in self.tree.scan_prefix(agent_prefix(agent)) {
            let (k, _) = item?;
            batch.remove(k);
            n += 1;
        }
        self.tree.apply_batch(batch)?;
        Ok(n)
    }
}
