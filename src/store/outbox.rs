//! The outbox: final message bytes are durable here before any network I/O.

use super::{Result, Store, decode, encode, keys};
use serde::{Deserialize, Serialize};

/// Sent entries whose after-send steps still have to run.
const FOLLOWUP_TREE: &str = "outbox_followup";

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
    /// The mail's data went to the server but no verdict came back: the
    /// server may have it, so it is never submitted again without a check.
    #[serde(default)]
    pub unconfirmed: bool,
}

impl Store {
    /// Queue a mail and flush to disk before returning.
    pub fn enqueue(&self, mut e: OutboxEntry) -> Result<OutboxEntry> {
        if e.id == 0 {
            e.id = self.next_id()?;
        }
        self.tree
            .insert(keys::with_id(keys::OUTBOX, e.id), encode(&e)?)?;
        self.flush()?;
        Ok(e)
    }

    /// Change an entry's state durably.
    pub fn set_outbox_state(
        &self,
        id: u64,
        state: OutboxState,
        error: Option<String>,
    ) -> Result<Option<OutboxEntry>> {
        let key = keys::with_id(keys::OUTBOX, id);
        let Some(v) = self.tree.get(&key)? else {
            return Ok(None);
        };
        let mut e: OutboxEntry = decode(&v)?;
        e.state = state;
        if error.is_some() {
            e.last_error = error;
        }
        self.tree.insert(key, encode(&e)?)?;
        self.flush()?;
        Ok(Some(e))
    }

    /// One entry, if it exists.
    pub fn outbox_entry(&self, id: u64) -> Result<Option<OutboxEntry>> {
        match self.tree.get(keys::with_id(keys::OUTBOX, id))? {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Change an entry's state durably, but only if `allowed` accepts the
    /// state it has now; returns the entry as it is afterwards and whether it
    /// changed. Claiming an entry for sending and cancelling it go through
    /// here so the two can never both win.
    pub fn transition_outbox(
        &self,
        id: u64,
        allowed: impl Fn(&OutboxState) -> bool,
        state: OutboxState,
        error: Option<String>,
    ) -> Result<Option<(OutboxEntry, bool)>> {
        let _g = self.lock();
        let key = keys::with_id(keys::OUTBOX, id);
        let Some(v) = self.tree.get(&key)? else {
            return Ok(None);
        };
        let mut e: OutboxEntry = decode(&v)?;
        if !allowed(&e.state) {
            return Ok(Some((e, false)));
        }
        if state != OutboxState::Sending {
            e.unconfirmed = false;
        }
        e.state = state;
        if error.is_some() {
            e.last_error = error;
        }
        self.tree.insert(key, encode(&e)?)?;
        self.flush()?;
        Ok(Some((e, true)))
    }

    /// Record that the server has the mail: the entry becomes `Sent` whatever
    /// state it is in, and owes its after-send steps, in one transaction so a
    /// crash cannot leave a sent mail that is never filed. Returns the entry
    /// and the state it had before (anything but `Sending` is a bug upstream).
    pub fn mark_outbox_sent(
        &self,
        id: u64,
        at: i64,
        note: Option<String>,
    ) -> Result<Option<(OutboxEntry, OutboxState)>> {
        use sled::Transactional;
        let _g = self.lock();
        let key = keys::with_id(keys::OUTBOX, id);
        let Some(v) = self.tree.get(&key)? else {
            return Ok(None);
        };
        let mut e: OutboxEntry = decode(&v)?;
        self.take_fault(super::FaultPoint::OutboxSent)?;
        self.take_fault(super::FaultPoint::OutboxFollowup)?;
        let before = std::mem::replace(&mut e.state, OutboxState::Sent { at });
        e.unconfirmed = false;
        if note.is_some() {
            e.last_error = note;
        }
        let followups = self.db.open_tree(FOLLOWUP_TREE)?;
        let value = encode(&e)?;
        (&*self.tree, &followups)
            .transaction(|(t, f)| {
                t.insert(key.as_slice(), value.as_slice())?;
                f.insert(&id.to_be_bytes(), &0u32.to_be_bytes())?;
                Ok(())
            })
            .map_err(|err: sled::transaction::TransactionError<()>| match err {
                sled::transaction::TransactionError::Storage(err) => self.explain(err.into()),
                sled::transaction::TransactionError::Abort(()) => {
                    super::StoreError::Decode("a store transaction was aborted".into())
                }
            })?;
        self.flush()?;
        Ok(Some((e, before)))
    }

    /// Change an entry with `edit` if `allowed` accepts its state, durably.
    /// `None`: no such entry; `Some(false)`: its state forbids the edit.
    pub fn edit_outbox(
        &self,
        id: u64,
        allowed: impl Fn(&OutboxState) -> bool,
        edit: impl FnOnce(&mut OutboxEntry),
    ) -> Result<Option<bool>> {
        let _g = self.lock();
        let key = keys::with_id(keys::OUTBOX, id);
        let Some(v) = self.tree.get(&key)? else {
            return Ok(None);
        };
        let mut e: OutboxEntry = decode(&v)?;
        if !allowed(&e.state) {
            return Ok(Some(false));
        }
        edit(&mut e);
        e.id = id;
        self.tree.insert(key, encode(&e)?)?;
        self.flush()?;
        Ok(Some(true))
    }

    /// Mark a sent entry as still owing its after-send steps (filing in
    /// Sent, linking, \Answered); `attempts` counts the tries so far.
    pub fn set_outbox_followup(&self, id: u64, attempts: Option<u32>) -> Result<()> {
        let tree = self.db.open_tree(FOLLOWUP_TREE)?;
        match attempts {
            Some(n) => {
                tree.insert(id.to_be_bytes(), &n.to_be_bytes())?;
            }
            None => {
                tree.remove(id.to_be_bytes())?;
            }
        }
        self.flush()?;
        Ok(())
    }

    /// Sent entries whose after-send steps are not done yet, with their tries.
    pub fn outbox_followups(&self) -> Result<Vec<(u64, u32)>> {
        let tree = self.db.open_tree(FOLLOWUP_TREE)?;
        let mut out = Vec::new();
        for item in tree.iter() {
            let (k, v) = item?;
            let id = keys::read_u64(&k);
            let n = v.as_ref().try_into().map(u32::from_be_bytes).unwrap_or(0);
            out.push((id, n));
        }
        Ok(out)
    }

    /// Settings whose names start with `prefix`, in name order.
    pub fn settings_under(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        let mut k = vec![keys::SETTING];
        k.extend_from_slice(prefix.as_bytes());
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(k) {
            let (k, v) = item?;
            out.push((
                String::from_utf8_lossy(&k[1..]).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            ));
        }
        Ok(out)
    }

    /// Queue `entry` (if any), set and remove settings in one atomic write,
    /// flushed: a decision recorded with the mail it sends is never taken twice.
    pub fn enqueue_with_settings(
        &self,
        entry: Option<OutboxEntry>,
        set: &[(String, String)],
        remove: &[String],
    ) -> Result<Option<OutboxEntry>> {
        let _g = self.lock();
        let setting = |name: &str| {
            let mut k = vec![keys::SETTING];
            k.extend_from_slice(name.as_bytes());
            k
        };
        let mut batch = sled::Batch::default();
        let entry = match entry {
            Some(mut e) => {
                if e.id == 0 {
                    e.id = self.next_id()?;
                }
                batch.insert(keys::with_id(keys::OUTBOX, e.id), encode(&e)?);
                Some(e)
            }
            None => None,
        };
        for name in remove {
            batch.remove(setting(name));
        }
        for (name, value) in set {
            batch.insert(setting(name), value.as_bytes());
        }
        self.tree.apply_batch(batch)?;
        self.flush()?;
        Ok(entry)
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
