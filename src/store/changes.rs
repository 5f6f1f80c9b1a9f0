//! Changes made at the desk that the mail server still has to hear about:
//! flags, moves to Trash, moves between folders. They are applied to the
//! store at once, kept here durably, pushed by the sync task on its next
//! connection and removed once the server answered (rolled back if it refused).

use super::{Result, Store, decode, encode, keys};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ChangeOp {
    /// Flags to set and clear; `before` is what the store had, for a rollback.
    Flags { add: u8, remove: u8, before: u8 },
    /// Move to the account's Trash folder (the desk never expunges).
    Trash,
    /// Move to another server folder (archive is a move to the archive folder).
    Move { to: String },
    /// Undo of a move: the mail with this Message-ID, now in `folder` under
    /// a UID the desk may not know, goes back to `to`.
    Restore { to: String, message_id: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingChange {
    /// Order of the queue; assigned by [`Store::queue_change`].
    #[serde(default)]
    pub seq: u64,
    pub account: String,
    /// The desk folder the mail is in.
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
    /// The mail record.
    pub id: u64,
    pub op: ChangeOp,
}

fn change_key(account: &str, seq: u64) -> Vec<u8> {
    let mut k = vec![keys::PENDING_CHANGE];
    k.extend_from_slice(account.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn account_prefix(account: &str) -> Vec<u8> {
    let mut k = vec![keys::PENDING_CHANGE];
    k.extend_from_slice(account.as_bytes());
    k.push(0);
    k
}

impl Store {
    /// Queue a change for the server, durably (flushed before returning).
    pub fn queue_change(&self, mut c: PendingChange) -> Result<PendingChange> {
        c.seq = self.next_id()?;
        self.tree
            .insert(change_key(&c.account, c.seq), encode(&c)?)?;
        self.flush()?;
        Ok(c)
    }

    /// Set and clear flags of a mail in one folder now, and queue the same
    /// change for the server. `None` when the mail is not in that folder.
    pub fn change_flags(
        &self,
        account: &str,
        folder: &str,
        id: u64,
        add: u8,
        remove: u8,
    ) -> Result<Option<PendingChange>> {
        let Some((loc, before)) = self.flags_of(account, folder, id)? else {
            return Ok(None);
        };
        let change = self.queue_change(PendingChange {
            seq: 0,
            account: account.to_string(),
            folder: folder.to_string(),
            uidvalidity: loc.uidvalidity,
            uid: loc.uid,
            id,
            op: ChangeOp::Flags {
                add,
                remove,
                before,
            },
        })?;
        let after = (before | add) & !remove;
        self.set_flags(account, folder, loc.uidvalidity, loc.uid, after)?;
        Ok(Some(change))
    }

    /// Queue a move of a mail (to Trash with `to = None`).
    pub fn queue_move(
        &self,
        account: &str,
        folder: &str,
        id: u64,
        to: Option<&str>,
    ) -> Result<Option<PendingChange>> {
        let Some((loc, _)) = self.flags_of(account, folder, id)? else {
            return Ok(None);
        };
        let op = match to {
            Some(t) => ChangeOp::Move { to: t.to_string() },
            None => ChangeOp::Trash,
        };
        Ok(Some(self.queue_change(PendingChange {
            seq: 0,
            account: account.to_string(),
            folder: folder.to_string(),
            uidvalidity: loc.uidvalidity,
            uid: loc.uid,
            id,
            op,
        })?))
    }

    /// Remember a server mail a filter kept out: its UID is known, so it is
    /// not fetched again, and points at no mail (id 0).
    pub fn mark_filtered(
        &self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uid: u32,
    ) -> Result<()> {
        self.tree.insert(
            keys::uid_map(account, folder, uidvalidity, uid),
            &[0u8; 16][..],
        )?;
        Ok(())
    }

    /// The queued changes of an account, oldest first.
    pub fn pending_changes(&self, account: &str) -> Result<Vec<PendingChange>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(account_prefix(account)) {
            let (_, v) = item?;
            out.push(decode(&v)?);
        }
        Ok(out)
    }

    /// The server answered (yes or no): forget the change.
    pub fn finish_change(&self, account: &str, seq: u64) -> Result<()> {
        self.tree.remove(change_key(account, seq))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_is_ordered_per_account_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let store = Store::open(dir.path()).expect("open");
            for uid in [3, 1, 2] {
                store
                    .queue_change(PendingChange {
                        seq: 0,
                        account: "support".into(),
                        folder: "INBOX".into(),
                        uidvalidity: 7,
                        uid,
                        id: 1,
                        op: ChangeOp::Trash,
                    })
                    .expect("queue");
            }
        }
        let store = Store::open(dir.path()).expect("reopen");
        let q = store.pending_changes("support").expect("list");
        assert_eq!(q.iter().map(|c| c.uid).collect::<Vec<_>>(), vec![3, 1, 2]);
        assert!(store.pending_changes("sales").expect("list").is_empty());
        store.finish_change("support", q[0].seq).expect("finish");
        assert_eq!(store.pending_changes("support").expect("list").len(), 2);
    }
}
