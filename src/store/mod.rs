//! The sled store: one tree whose key families (see `keys`) hold messages,
//! bodies, folder indexes, UID maps, records, links and the outbox.
//! Writes that belong together go in one atomic `apply_batch`; readers never
//! scan more than the rows they show.

pub mod changes;
pub mod drafts;
pub mod keys;
pub mod messages;
pub mod notifications;
pub mod outbox;
pub mod records;
pub mod search_feed;

use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Mutex;

pub use messages::*;
pub use outbox::*;
pub use records::*;

/// 2: raw bodies moved out of the index tree into their own `bodies` tree.
pub const SCHEMA: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the mail store at {path} could not be opened: {reason}. Is another deskmail running on this data dir?"
    )]
    Open { path: String, reason: String },
    #[error("the mail store failed: {0}")]
    Sled(#[from] sled::Error),
    #[error("a stored row could not be read ({0}); the data dir may be damaged")]
    Decode(String),
    #[error(
        "the data dir was written by a newer deskmail (schema {found}, this one knows {known}); upgrade deskmail"
    )]
    TooNew { found: u32, known: u32 },
    #[error("{0}")]
    NotFound(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub struct Store {
    db: sled::Db,
    tree: sled::Tree,
    /// Raw RFC 822 bodies by message id. Kept apart so the index tree's
    /// nodes stay small (sled copies a node on every write to it).
    bodies: sled::Tree,
    /// Serialises read-modify-write sequences (dedup, counters) across tasks.
    write: Mutex<()>,
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

pub(crate) fn decode<T: for<'a> Deserialize<'a>>(b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| StoreError::Decode(e.to_string()))
}

impl Store {
    /// Open (or create) the store in `dir`, creating the dir with mode 0700.
    pub fn open(dir: &Path) -> Result<Store> {
        crate::config::paths::ensure_private_dir(dir).map_err(|e| StoreError::Open {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let db = sled::Config::new()
            .path(dir.join("store"))
            .cache_capacity(32 * 1024 * 1024)
            .flush_every_ms(Some(500))
            .open()
            .map_err(|e| StoreError::Open {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
        let tree = db.open_tree("desk")?;
        let bodies = db.open_tree("bodies")?;
        let store = Store {
            db,
            tree,
            bodies,
            write: Mutex::new(()),
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<()> {
        let found = self
            .tree
            .get(keys::SCHEMA_VERSION)?
            .map(|v| keys::read_u64(&v) as u32);
        match found {
            None => {
                self.tree
                    .insert(keys::SCHEMA_VERSION, &(SCHEMA as u64).to_be_bytes())?;
            }
            Some(v) if v > SCHEMA => {
                return Err(StoreError::TooNew {
                    found: v,
                    known: SCHEMA,
                });
            }
            Some(v) => {
                if v < 2 {
                    self.move_bodies_out()?;
                }
                if v < SCHEMA {
                    self.tree
                        .insert(keys::SCHEMA_VERSION, &(SCHEMA as u64).to_be_bytes())?;
                }
            }
        }
        Ok(())
    }

    /// Schema 1 → 2: bodies leave the index tree.
    fn move_bodies_out(&self) -> Result<()> {
        let mut moved = 0usize;
        for item in self.tree.scan_prefix([keys::BODY]) {
            let (k, v) = item?;
            self.bodies.insert(&k[1..], v)?;
            self.tree.remove(k)?;
            moved += 1;
        }
        self.db.flush()?;
        tracing::info!("store migrated to schema 2: {moved} bodies moved");
        Ok(())
    }

    pub(crate) fn body_key(id: u64) -> [u8; 8] {
        id.to_be_bytes()
    }

    /// Apply an index batch and a body batch atomically (one transaction).
    pub(crate) fn apply_with_bodies(&self, index: sled::Batch, bodies: sled::Batch) -> Result<()> {
        use sled::Transactional;
        (&self.tree, &self.bodies)
            .transaction(|(t, b)| {
                t.apply_batch(&index)?;
                b.apply_batch(&bodies)?;
                Ok(())
            })
            .map_err(|e: sled::transaction::TransactionError<()>| match e {
                sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
                sled::transaction::TransactionError::Abort(()) => {
                    StoreError::Decode("a store transaction was aborted".into())
                }
            })
    }

    /// Whether the store holds any desk at all (used by `demo --data-dir`).
    pub fn is_empty(&self) -> bool {
        self.tree.scan_prefix([keys::MESSAGE]).next().is_none()
    }

    /// Make everything written so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        match self.write.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub(crate) fn next_id(&self) -> Result<u64> {
        // sled ids start at 0; keep 0 free as "none".
        Ok(self.db.generate_id()? + 1)
    }

    pub fn setting(&self, name: &str) -> Result<Option<String>> {
        let mut k = vec![keys::SETTING];
        k.extend_from_slice(name.as_bytes());
        Ok(self
            .tree
            .get(k)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        let mut k = vec![keys::SETTING];
        k.extend_from_slice(name.as_bytes());
        self.tree.insert(k, value.as_bytes())?;
        Ok(())
    }

    fn count_prefix(&self, prefix: &[u8]) -> u64 {
        self.tree.scan_prefix(prefix).keys().count() as u64
    }
}

/// What `deskmail stats --json` prints.
#[derive(Debug, Serialize, Deserialize, Default, PartialEq)]
pub struct Stats {
    pub messages: u64,
    pub bodies: u64,
    pub accounts: Vec<AccountStats>,
    pub records: std::collections::BTreeMap<String, u64>,
    pub links: u64,
    pub cases: std::collections::BTreeMap<String, u64>,
    pub cases_by_assignee: std::collections::BTreeMap<String, u64>,
    pub outbox: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, Deserialize, Default, PartialEq)]
pub struct AccountStats {
    pub name: String,
    pub folders: Vec<FolderStats>,
}

#[derive(Debug, Serialize, Deserialize, Default, PartialEq)]
pub struct FolderStats {
    pub name: String,
    pub total: u64,
    pub unread: u64,
    pub bodies_missing: u64,
}

impl Store {
    /// Counts computed from the rows themselves (not from cached counters).
    pub fn stats(&self) -> Result<Stats> {
        let mut s = Stats {
            messages: self.count_prefix(&[keys::MESSAGE]),
            bodies: self.bodies.len() as u64,
            links: self.count_prefix(&[keys::LINK_BY_MESSAGE]),
            ..Stats::default()
        };
        for (account, folders) in self.folders_by_account()? {
            let mut acc = AccountStats {
                name: account.clone(),
                folders: vec![],
            };
            for f in folders {
                let (mut total, mut unread, mut missing) = (0, 0, 0);
                for item in self.tree.scan_prefix(keys::folder_prefix(
                    keys::FOLDER_INDEX,
                    &account,
                    &f.name,
                )) {
                    let (k, v) = item?;
                    let e: FolderEntry = decode(&v)?;
                    total += 1;
                    if e.flags & flags::SEEN == 0 {
                        unread += 1;
                    }
                    let id = keys::id_of_folder_index(&k);
                    if !self.bodies.contains_key(Self::body_key(id))? {
                        missing += 1;
                    }
                }
                acc.folders.push(FolderStats {
                    name: f.name,
                    total,
                    unread,
                    bodies_missing: missing,
                });
            }
            s.accounts.push(acc);
        }
        for kind in RecordKind::ALL {
            let n = self.count_prefix(&[keys::RECORD, kind.code()]);
            s.records.insert(kind.name().to_string(), n);
        }
        for item in self
            .tree
            .scan_prefix([keys::RECORD, RecordKind::Case.code()])
        {
            let (_, v) = item?;
            let r: Record = decode(&v)?;
            if r.deleted {
                continue;
            }
            let status = r.field("status").unwrap_or("New").to_string();
            *s.cases.entry(status.clone()).or_default() += 1;
            if CaseStatus::is_open_name(&status) {
                let who = r.field("assignee").unwrap_or("unassigned").to_string();
                *s.cases_by_assignee.entry(who).or_default() += 1;
            }
        }
        for e in self.outbox_entries()? {
            *s.outbox.entry(e.state.name().to_string()).or_default() += 1;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests;
