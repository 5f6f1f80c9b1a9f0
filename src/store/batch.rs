//! What an ingest batch carries besides the mails: the linking hook, its
//! plan per mail, and the read view (store plus the batch so far) it decides
//! on. The store never imports the rules; it only writes what they planned.

use super::notifications::Notification;
use super::{Record, RecordKind, RecordRef, Result, Store, keys};
use std::collections::HashMap;

/// The folder cursor and settings written in the same batch as the mails.
#[derive(Default)]
pub struct IngestExtras<'a> {
    /// The folder's new sync cursor.
    pub cursor: Option<(&'a str, super::FolderState)>,
    /// A setting (name, value) that must change with the mails (POP3's UIDL map).
    pub setting: Option<(String, String)>,
    /// Facts about each mail, by its position in the batch.
    pub sides: Vec<IngestSide>,
}

/// What parsing learnt about a mail that its summary does not keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestSide {
    /// Bytes of attachment content, when the mail was parsed.
    pub attachment_bytes: Option<u64>,
    /// A stored mail whose links this one takes too (a reply's Sent copy).
    pub inherit_links_of: Option<u64>,
    /// Sent by a machine (auto-reply, bounce, list): no case, no auto-reply.
    pub automatic: bool,
}

/// What the rules decided for one new mail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkPlan {
    pub links: Vec<RecordRef>,
    /// Records to create (ids already assigned).
    pub records: Vec<Record>,
    /// Ids are assigned when written.
    pub notifications: Vec<Notification>,
    pub reason: Option<String>,
    /// Existing records changed by the mail (a case reopened), written whole.
    pub updated: Vec<Record>,
    /// Settings (name, value) that change with the mail (case counter, rotation).
    pub settings: Vec<(String, String)>,
}

/// Decides the links of a new mail inside the ingest batch.
pub trait BatchLinker: Send + Sync {
    fn decide(
        &self,
        view: &BatchView<'_>,
        mail: &super::MessageSummary,
        side: IngestSide,
    ) -> Result<LinkPlan>;
}

/// The store as it will be once the batch so far is written.
pub struct BatchView<'a> {
    pub(super) store: &'a Store,
    pub(super) msgids: &'a HashMap<String, (u64, u64, u64)>,
    /// Accounts each mail of the batch is found in.
    pub(super) accounts: &'a HashMap<u64, Vec<String>>,
    pub(super) links: HashMap<u64, Vec<RecordRef>>,
    pub(super) records: Vec<Record>,
    /// Records of the store changed earlier in this batch.
    pub(super) updated: Vec<Record>,
    pub(super) settings: HashMap<String, String>,
}

impl BatchView<'_> {
    pub fn store(&self) -> &Store {
        self.store
    }

    pub fn next_id(&self) -> Result<u64> {
        self.store.next_id()
    }

    pub fn record(&self, kind: RecordKind, id: u64) -> Result<Option<Record>> {
        if let Some(r) = self
            .updated
            .iter()
            .chain(self.records.iter())
            .find(|r| r.kind == kind && r.id == id)
        {
            return Ok(Some(r.clone()));
        }
        self.store.record(kind, id)
    }

    pub fn records(&self, kind: RecordKind) -> Result<Vec<Record>> {
        let mut out = self.store.records(kind)?;
        for r in &mut out {
            if let Some(u) = self.updated.iter().find(|u| u.reference() == r.reference()) {
                *r = u.clone();
            }
        }
        out.extend(self.records.iter().filter(|r| r.kind == kind).cloned());
        Ok(out)
    }

    /// A setting as the batch so far leaves it.
    pub fn setting(&self, name: &str) -> Result<Option<String>> {
        match self.settings.get(name) {
            Some(v) => Ok(Some(v.clone())),
            None => self.store.setting(name),
        }
    }

    pub fn records_by_address(&self, email: &str) -> Result<Vec<Record>> {
        let mut out = self.store.records_by_address(email)?;
        out.extend(
            self.records
                .iter()
                .filter(|r| !r.deleted && r.emails.iter().any(|e| e == email))
                .cloned(),
        );
        Ok(out)
    }

    pub fn id_by_message_id(&self, mid: &str) -> Result<Option<u64>> {
        match self.msgids.get(mid) {
            Some(&(id, _, _)) => Ok(Some(id)),
            None => self.store.id_by_message_id(mid),
        }
    }

    /// Records linked to a mail, stored or decided earlier in this batch.
    pub fn links_of(&self, msg: u64) -> Result<Vec<Record>> {
        let mut out = self.store.links_of(msg)?;
        for r in self.links.get(&msg).into_iter().flatten() {
            if !out.iter().any(|o| o.reference() == *r)
                && let Some(rec) = self.record(r.0, r.1)?
            {
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// Accounts a mail is found in, stored or in this batch.
    pub fn accounts_of(&self, msg: u64) -> Result<Vec<String>> {
        let mut out: Vec<String> = self
            .store
            .locations(msg)?
            .into_iter()
            .map(|l| l.account)
            .collect();
        for a in self.accounts.get(&msg).into_iter().flatten() {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Remove segments a crash left between their write and the index
    /// batch: their first mail has no body place (the next sync fetches
    /// those mails again). A later segment may take over single bodies
    /// (a whole mail fetched on opening), never the first one's place.
    pub(super) fn drop_orphan_segments(&self) -> Result<usize> {
        let mut dropped = 0;
        for (segment, first) in self.segments.list().map_err(|e| self.io_error(e))? {
            let placed = match self.tree.get(keys::with_id(keys::MESSAGE, first))? {
                Some(v) => super::message_row::body_place(&v)?.is_some(),
                None => false,
            };
            if !placed {
                self.segments
                    .remove(segment, first)
                    .map_err(|e| self.io_error(e))?;
                dropped += 1;
            }
        }
        if dropped > 0 {
            tracing::info!("{dropped} body segments of an interrupted ingest removed");
        }
        Ok(dropped)
    }

    /// Test hook: fail, or die like a SIGKILL, right after the bodies are written.
    pub(super) fn after_bodies_fault(&self) -> Result<()> {
        if self.take_fault(super::FaultPoint::KillAfterBodies).is_err() {
            // The bodies are made durable first: the point is a crash after them.
            let _ = self.db.flush();
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
        }
        self.take_fault(super::FaultPoint::IngestAfterBodies)
    }
}
