//! CRM records (contacts, companies, leads, deals, cases, tasks, customers),
//! the address index that finds them, and links between mails and records.

use super::{Result, Store, StoreError, decode, encode, keys};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Contact,
    Account,
    Lead,
    Deal,
    Case,
    Task,
    Customer,
}

impl RecordKind {
    pub const ALL: [RecordKind; 7] = [
        RecordKind::Contact,
        RecordKind::Account,
        RecordKind::Lead,
        RecordKind::Deal,
        RecordKind::Case,
        RecordKind::Task,
        RecordKind::Customer,
    ];

    pub fn code(self) -> u8 {
        match self {
            RecordKind::Contact => b'C',
            RecordKind::Account => b'A',
            RecordKind::Lead => b'L',
            RecordKind::Deal => b'D',
            RecordKind::Case => b'K',
            RecordKind::Task => b'T',
            RecordKind::Customer => b'U',
        }
    }

    pub fn from_code(c: u8) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.code() == c)
    }

    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Contact => "contact",
            RecordKind::Account => "account",
            RecordKind::Lead => "lead",
            RecordKind::Deal => "deal",
            RecordKind::Case => "case",
            RecordKind::Task => "task",
            RecordKind::Customer => "customer",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RecordKind::Contact => "Contact",
            RecordKind::Account => "Company",
            RecordKind::Lead => "Lead",
            RecordKind::Deal => "Deal",
            RecordKind::Case => "Case",
            RecordKind::Task => "Task",
            RecordKind::Customer => "Customer",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    New,
    Assigned,
    Pending,
    Closed,
    Rejected,
    Duplicate,
}

impl CaseStatus {
    pub fn is_open_name(s: &str) -> bool {
        matches!(s, "New" | "Assigned" | "Pending")
    }
}

/// A record reference: kind plus id.
pub type RecordRef = (RecordKind, u64);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub id: u64,
    pub kind: RecordKind,
    pub name: String,
    /// The first address is the primary one.
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    /// Company domains (accounts only), for optional match by domain.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Kind-specific fields: status, stage, amount, priority, assignee, team,
    /// number, due, source, next_purchase…
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The owning record: a contact's company, a case's contact, a task's parent.
    #[serde(default)]
    pub parent: Option<RecordRef>,
    /// Other related records (a deal's contacts, a case's account).
    #[serde(default)]
    pub related: Vec<RecordRef>,
    #[serde(default)]
    pub followers: Vec<String>,
    #[serde(default)]
    pub created: i64,
    /// In the trash; restorable.
    #[serde(default)]
    pub deleted: bool,
}

impl Record {
    pub fn new(kind: RecordKind, name: impl Into<String>) -> Record {
        Record {
            id: 0,
            kind,
            name: name.into(),
            emails: vec![],
            phones: vec![],
            domains: vec![],
            fields: BTreeMap::new(),
            parent: None,
            related: vec![],
            followers: vec![],
            created: chrono::Utc::now().timestamp(),
            deleted: false,
        }
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    pub fn with_field(mut self, k: &str, v: impl Into<String>) -> Record {
        self.fields.insert(k.to_string(), v.into());
        self
    }

    pub fn reference(&self) -> RecordRef {
        (self.kind, self.id)
    }

    /// A one-line title: "Case #12 Printer jams" or the name.
    pub fn title(&self) -> String {
        match (self.kind, self.field("number")) {
            (RecordKind::Case, Some(n)) => format!("#{n} {}", self.name),
            _ => self.name.clone(),
        }
    }
}

/// One mail in a record's History.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryItem {
    pub message: super::MessageSummary,
    /// The record the mail is linked through (itself or a related one).
    pub via: RecordRef,
}

/// A closed case without `closed_at` (unix seconds, which the "new-after-Nd"
/// reopen policy counts from) gets the current time; an open case loses it,
/// so a time already on a closed case is never stale.
fn stamp_closing(r: &mut Record) {
    if CaseStatus::is_open_name(r.field("status").unwrap_or("New")) {
        r.fields.remove("closed_at");
    } else if r.field("closed_at").is_none() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        r.fields.insert("closed_at".into(), now.to_string());
    }
}

impl Store {
    /// Create or overwrite a record and its address index entries in one batch.
    pub fn put_record(&self, mut r: Record) -> Result<Record> {
        let _g = self.lock();
        if r.id == 0 {
            r.id = self.next_id()?;
        }
        let mut batch = sled::Batch::default();
        let old = self.record_unlocked(r.kind, r.id)?;
        if r.kind == RecordKind::Case {
            stamp_closing(&mut r);
        }
        if let Some(old) = old {
            for e in &old.emails {
                batch.remove(keys::record_by_address(e, r.kind.code(), r.id));
            }
        }
        r.emails = r.emails.iter().map(|e| e.trim().to_lowercase()).collect();
        if !r.deleted {
            for e in &r.emails {
                batch.insert(keys::record_by_address(e, r.kind.code(), r.id), &[]);
            }
        }
        batch.insert(keys::record(r.kind.code(), r.id), encode(&r)?);
        self.tree.apply_batch(batch)?;
        Ok(r)
    }

    fn record_unlocked(&self, kind: RecordKind, id: u64) -> Result<Option<Record>> {
        match self.tree.get(keys::record(kind.code(), id))? {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    pub fn record(&self, kind: RecordKind, id: u64) -> Result<Option<Record>> {
        self.record_unlocked(kind, id)
    }

    /// Move to the trash (restorable with `restore_record`).
    pub fn delete_record(&self, kind: RecordKind, id: u64) -> Result<()> {
        let mut r = self
            .record(kind, id)?
            .ok_or_else(|| StoreError::NotFound(format!("{} {id}", kind.label())))?;
        r.deleted = true;
        self.put_record(r)?;
        Ok(())
    }

    pub fn restore_record(&self, kind: RecordKind, id: u64) -> Result<()> {
        let mut r = self
            .record(kind, id)?
            .ok_or_else(|| StoreError::NotFound(format!("{} {id}", kind.label())))?;
        r.deleted = false;
        self.put_record(r)?;
        Ok(())
    }

    /// All live records of a kind, in id order.
    pub fn records(&self, kind: RecordKind) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([keys::RECORD, kind.code()]) {
            let (_, v) = item?;
            let r: Record = decode(&v)?;
            if !r.deleted {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Records in the trash, of every kind.
    pub fn deleted_records(&self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([keys::RECORD]) {
            let (_, v) = item?;
            let r: Record = decode(&v)?;
            if r.deleted {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Live records whose addresses include `email` (already normalised).
    pub fn records_by_address(&self, email: &str) -> Result<Vec<Record>> {
        let mut prefix = vec![keys::RECORD_BY_ADDRESS];
        prefix.extend_from_slice(email.as_bytes());
        prefix.push(0);
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(&prefix) {
            let (k, _) = item?;
            let rest = &k[prefix.len()..];
            if rest.len() < 9 {
                continue;
            }
            if let Some(kind) = RecordKind::from_code(rest[0])
                && let Some(r) = self.record(kind, keys::read_u64(&rest[1..]))?
                && !r.deleted
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Link a mail to a record (the mail's row and the record's index, one
    /// batch). Idempotent; a mail that is not stored is not linked.
    pub fn link(&self, msg: u64, to: RecordRef) -> Result<bool> {
        let _g = self.lock();
        let Some(mut row) = self.message_row(msg)? else {
            return Ok(false);
        };
        if !row.add_link(to) {
            return Ok(false);
        }
        let date = row.summary()?.date;
        let mut batch = sled::Batch::default();
        batch.insert(keys::with_id(keys::MESSAGE, msg), row.encode()?);
        batch.insert(keys::link_by_record(to.0.code(), to.1, date, msg), &[]);
        self.tree.apply_batch(batch)?;
        Ok(true)
    }

    pub fn unlink(&self, msg: u64, to: RecordRef) -> Result<bool> {
        let _g = self.lock();
        let Some(mut row) = self.message_row(msg)? else {
            return Ok(false);
        };
        if !row.remove_link(to) {
            return Ok(false);
        }
        let date = row.summary()?.date;
        let mut batch = sled::Batch::default();
        batch.insert(keys::with_id(keys::MESSAGE, msg), row.encode()?);
        batch.remove(keys::link_by_record(to.0.code(), to.1, date, msg));
        self.tree.apply_batch(batch)?;
        Ok(true)
    }

    /// The records a mail is linked to.
    pub fn links_of(&self, msg: u64) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for (kind, id) in self.message_row(msg)?.map(|r| r.links).unwrap_or_default() {
            if let Some(r) = self.record(kind, id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Mail ids linked directly to a record, newest first.
    pub fn messages_of(&self, r: RecordRef) -> Result<Vec<u64>> {
        let mut prefix = vec![keys::LINK_BY_RECORD, r.0.code()];
        prefix.extend_from_slice(&r.1.to_be_bytes());
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(&prefix) {
            let (k, _) = item?;
            out.push(keys::read_u64(&k[k.len() - 8..]));
        }
        Ok(out)
    }

    /// Records whose parent or related list names `r` (a company's contacts,
    /// a contact's cases and tasks, a deal's contacts are found via `related`).
    pub fn children_of(&self, r: RecordRef) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for kind in RecordKind::ALL {
            for rec in self.records(kind)? {
                if rec.parent == Some(r) || rec.related.contains(&r) {
                    out.push(rec);
                }
            }
        }
        Ok(out)
    }

    /// A record's History: its own mail and its related records' mail,
    /// newest first, each mail once.
    pub fn history(&self, r: &Record) -> Result<Vec<HistoryItem>> {
        let mut sources: Vec<RecordRef> = vec![r.reference()];
        match r.kind {
            RecordKind::Account | RecordKind::Customer => {
                for c in self.children_of(r.reference())? {
                    if c.kind == RecordKind::Contact {
                        sources.push(c.reference());
                    }
                }
            }
            RecordKind::Deal => {
                sources.extend(r.related.iter().filter(|x| x.0 == RecordKind::Contact));
            }
            _ => {}
        }
        let mut seen = std::collections::HashSet::new();
        let mut items = Vec::new();
        for src in sources {
            for id in self.messages_of(src)? {
                if seen.insert(id)
                    && let Some(message) = self.summary(id)?
                {
                    items.push(HistoryItem { message, via: src });
                }
            }
        }
        items.sort_by(|a, b| {
            b.message
                .date
                .cmp(&a.message.date)
                .then(b.message.id.cmp(&a.message.id))
        });
        Ok(items)
    }
}
