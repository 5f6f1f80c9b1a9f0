//! Snoozed mails: hidden from their folder until a time, kept on the desk
//! so they survive restarts (and a shared desk shows them to the team).

use super::{Result, Store, decode, encode, keys};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snooze {
    pub id: u64,
    pub account: String,
    pub folder: String,
    /// Unix seconds when the mail comes back.
    pub until: i64,
}

impl Store {
    pub fn snooze(&self, s: &Snooze) -> Result<()> {
        self.tree
            .insert(keys::with_id(keys::SNOOZE, s.id), encode(s)?)?;
        self.flush()?;
        Ok(())
    }

    /// Every snoozed mail, due or not.
    pub fn snoozes(&self) -> Result<Vec<Snooze>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([keys::SNOOZE]) {
            let (_, v) = item?;
            out.push(decode(&v)?);
        }
        Ok(out)
    }

    pub fn unsnooze(&self, id: u64) -> Result<bool> {
        Ok(self.tree.remove(keys::with_id(keys::SNOOZE, id))?.is_some())
    }
}
