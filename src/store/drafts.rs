//! Drafts: what the agent was writing, saved every few seconds so a crash
//! or a closed terminal loses at most the last moments of typing.
//!
//! One key family, tag [`DRAFT`] (`d`) followed by the draft id (u64,
//! big-endian); the value is a JSON [`StoredDraft`].

use super::{Result, Store, decode, encode, keys};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The key tag of the drafts family.
pub const DRAFT: u8 = b'd';

/// A mail being written, as the compose pane last had it.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct StoredDraft {
    /// 0 until first saved.
    pub id: u64,
    /// Unix seconds of the last save.
    #[serde(default)]
    pub saved: i64,
    /// The account the identity sends through, if one was chosen.
    #[serde(default)]
    pub account: Option<String>,
    /// The identity's address, if one was chosen.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub cc: String,
    #[serde(default)]
    pub bcc: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    /// The stored mail this answers.
    #[serde(default)]
    pub in_reply_to: Option<u64>,
    /// The stored mail forwarded as an attachment.
    #[serde(default)]
    pub forward_of: Option<u64>,
    /// Files to attach (read again when the mail is sent).
    #[serde(default)]
    pub attachments: Vec<PathBuf>,
    /// The Message-ID of the draft another client left in the server's
    /// Drafts folder, which this one continues (and replaces there).
    #[serde(default)]
    pub server_origin: Option<String>,
    /// On a served desk, the agent (email) who writes it; set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

impl StoredDraft {
    /// A one-line description for a recovery list.
    pub fn title(&self) -> String {
        let subject = if self.subject.trim().is_empty() {
            "(no subject)"
        } else {
            self.subject.trim()
        };
        let to = self.to.trim();
        if to.is_empty() {
            subject.to_string()
        } else {
            format!("{subject} — to {to}")
        }
    }
}

fn key(id: u64) -> Vec<u8> {
    keys::with_id(DRAFT, id)
}

impl Store {
    /// Save (create or overwrite) a draft durably; a draft with id 0 gets a
    /// fresh id. Returns the draft as stored.
    pub fn save_draft(&self, d: &StoredDraft) -> Result<StoredDraft> {
        let mut d = d.clone();
        if d.id == 0 {
            d.id = self.next_id()?;
        }
        d.saved = chrono::Utc::now().timestamp();
        self.tree.insert(key(d.id), encode(&d)?)?;
        self.flush()?;
        Ok(d)
    }

    /// Every saved draft, newest first.
    pub fn drafts(&self) -> Result<Vec<StoredDraft>> {
        let mut out: Vec<StoredDraft> = Vec::new();
        for item in self.tree.scan_prefix([DRAFT]) {
            let (k, v) = item?;
            // Only `d` + 8-byte id keys belong to this family.
            if k.len() != 9 {
                continue;
            }
            out.push(decode(&v)?);
        }
        out.sort_by(|a, b| b.saved.cmp(&a.saved).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// One draft, if it exists.
    pub fn draft(&self, id: u64) -> Result<Option<StoredDraft>> {
        match self.tree.get(key(id))? {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Delete a draft durably; whether it existed.
    pub fn delete_draft(&self, id: u64) -> Result<bool> {
        let existed = self.tree.remove(key(id))?.is_some();
        self.flush()?;
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_list_delete() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = Store::open(dir.path()).expect("open");
        let d = s
            .save_draft(&StoredDraft {
                subject: "Hello".into(),
                body: "Body".into(),
                ..StoredDraft::default()
            })
            .expect("save");
        assert_ne!(d.id, 0);
        let mut again = d.clone();
        again.body = "Body 2".into();
        s.save_draft(&again).expect("save again");
        let all = s.drafts().expect("list");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].body, "Body 2");
        assert!(s.delete_draft(d.id).expect("delete"));
        assert!(s.drafts().expect("list").is_empty());
        assert!(!s.delete_draft(d.id).expect("delete"));
    }
}
