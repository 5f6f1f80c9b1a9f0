//! The sled store: one tree whose key families (see `keys`) hold messages,
//! bodies, folder indexes, UID maps, records, links and the outbox.
//! Writes that belong together go in one atomic `apply_batch`; readers never
//! scan more than the rows they show.

pub mod batch;
pub mod changes;
pub mod disk;
pub mod drafts;
mod folder_list;
mod folder_names;
pub mod keys;
pub mod message_row;
pub mod messages;
pub mod notifications;
pub mod outbox;
pub mod records;
pub mod search_feed;
pub mod segments;
pub mod snooze;
pub mod timing;

use serde::{Deserialize, Serialize};
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use batch::{BatchLinker, BatchView, IngestExtras, IngestSide, LinkPlan};
pub use folder_list::ServerFolder;
pub use messages::*;
pub use outbox::*;
pub use records::*;

/// 2: raw bodies moved out of the index tree into their own `bodies` tree.
/// 3: raw bodies moved out of sled into segment files (`segments`).
/// 4: a mail's body place, locations and links folded into its one row.
pub const SCHEMA: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the mail store at {path} could not be opened: {reason}")]
    Open { path: String, reason: String },
    #[error(
        "the mail store at {path} is in use by another deskmail{}; close that one (or pass another --data-dir) and start again",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Locked { path: String, pid: Option<u32> },
    #[error(
        "the disk holding {dir} is full ({free_mb} MB free); free some space there (or move the data dir with --data-dir) and start again"
    )]
    DiskFull { dir: String, free_mb: u64 },
    #[error(
        "writing the mail store to {dir} did not finish within {secs} s ({free_mb} MB free); the disk may be failing. Check it, then start again"
    )]
    WriteStalled {
        dir: String,
        secs: u64,
        free_mb: u64,
    },
    #[error(
        "the mail store at {path} is damaged ({reason}); move it aside (mv {path} {path}.damaged) and run `deskmail sync` to fetch the mail again (records, links and unsent mail kept only in it stay in the moved copy)"
    )]
    Corrupted { path: String, reason: String },
    #[error("the mail store failed: {0}")]
    Sled(#[from] sled::Error),
    #[error("a stored row could not be read ({0}); the data dir may be damaged")]
    Decode(String),
    #[error("a row could not be written ({0}); this is a bug, please report it")]
    Encode(String),
    #[error(
        "the data dir was written by a newer deskmail (schema {found}, this one knows {known}); upgrade deskmail"
    )]
    TooNew { found: u32, known: u32 },
    #[error("{0}")]
    NotFound(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub struct Store {
    /// Left undropped when the disk is full: sled's drop flushes and would
    /// wait for ever for room (see `Drop for Store`).
    db: ManuallyDrop<sled::Db>,
    tree: ManuallyDrop<sled::Tree>,
    /// Schema 2's raw bodies by message id, emptied into segments on open.
    bodies: ManuallyDrop<sled::Tree>,
    /// Raw RFC 822 bodies, outside sled so its tree holds small rows only.
    segments: segments::Segments,
    /// The data dir, for messages about its disk.
    dir: PathBuf,
    /// A write failed for lack of room or stalled: do not flush on drop.
    stuck: AtomicBool,
    /// Serialises read-modify-write sequences (dedup, counters) across tasks.
    write: Mutex<()>,
    /// Writes that fail on purpose, set only by tests through
    /// [`Store::inject_fault_for_tests`].
    faults: Mutex<Vec<FaultPoint>>,
}

/// A store write that a test can make fail once.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// Recording that the server accepted an outbox entry.
    OutboxSent,
    /// Recording that a sent entry still owes its after-send steps.
    OutboxFollowup,
    /// An ingest batch, after its bodies are written and before its index.
    IngestAfterBodies,
    /// The same moment, but the process dies there (SIGKILL).
    KillAfterBodies,
}

/// A row as stored; a value that cannot be written is an error, never
/// an empty row.
pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| StoreError::Encode(e.to_string()))
}

pub(crate) fn decode<T: for<'a> Deserialize<'a>>(b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| StoreError::Decode(e.to_string()))
}

/// Mail rows rewritten per batch by the step to schema 4: bounded memory.
const FOLD_CHUNK: usize = 1000;

/// The longest a flush may take before deskmail gives up on it.
const FLUSH_LIMIT: Duration = Duration::from_secs(30);

/// Word a failure to open the store in `dir` by what the agent can do.
fn open_error(dir: &Path, e: sled::Error) -> StoreError {
    let path = dir.display().to_string();
    match e {
        sled::Error::Io(io) if disk::is_disk_full(&io) => StoreError::DiskFull {
            dir: path,
            free_mb: disk::free_mb(dir),
        },
        // sled 0.34 (pinned) words a held lock this way and gives no error kind.
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked {
                path,
                pid: disk::holder_pid(dir),
            }
        }
        sled::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            StoreError::Corrupted {
                path,
                reason: io.to_string(),
            }
        }
        // Unsupported at open: the files are not a store this sled can read.
        sled::Error::Corruption { .. }
        | sled::Error::ReportableBug(_)
        | sled::Error::Unsupported(_) => StoreError::Corrupted {
            path,
            reason: e.to_string(),
        },
        other => StoreError::Open {
            path,
            reason: other.to_string(),
        },
    }
}

impl Store {
    /// Open (or create) the store in `dir`, creating the dir with mode 0700.
    pub fn open(dir: &Path) -> Result<Store> {
        let store = Self::open_unmigrated(dir)?;
        store.migrate().map_err(|e| match e {
            StoreError::Sled(e) => open_error(dir, e),
            StoreError::Decode(reason) => StoreError::Corrupted {
                path: dir.display().to_string(),
                reason,
            },
            other => other,
        })?;
        store.drop_orphan_segments()?;
        // Lets the next deskmail name us if it finds the store locked.
        let _ = std::fs::write(dir.join(disk::PID_FILE), std::process::id().to_string());
        Ok(store)
    }

    /// A store as found on disk, before any migration.
    #[cfg(test)]
    fn open_unmigrated_for_tests(dir: &Path) -> Store {
        match Self::open_unmigrated(dir) {
            Ok(s) => s,
            Err(e) => panic!("open: {e}"),
        }
    }

    fn open_unmigrated(dir: &Path) -> Result<Store> {
        crate::config::paths::ensure_private_dir(dir).map_err(|e| {
            if disk::is_disk_full(&e) {
                StoreError::DiskFull {
                    dir: dir.display().to_string(),
                    free_mb: disk::free_mb(dir),
                }
            } else {
                StoreError::Open {
                    path: dir.display().to_string(),
                    reason: e.to_string(),
                }
            }
        })?;
        let db = open_db(dir)?;
        let tree = db.open_tree("desk").map_err(|e| open_error(dir, e))?;
        let bodies = db.open_tree("bodies").map_err(|e| open_error(dir, e))?;
        let segments = segments::Segments::open(dir).map_err(|e| {
            if disk::is_disk_full(&e) {
                StoreError::DiskFull {
                    dir: dir.display().to_string(),
                    free_mb: disk::free_mb(dir),
                }
            } else {
                StoreError::Open {
                    path: dir.display().to_string(),
                    reason: e.to_string(),
                }
            }
        })?;
        let store = Store {
            db: ManuallyDrop::new(db),
            tree: ManuallyDrop::new(tree),
            bodies: ManuallyDrop::new(bodies),
            segments,
            dir: dir.to_path_buf(),
            stuck: AtomicBool::new(false),
            write: Mutex::new(()),
            faults: Mutex::new(Vec::new()),
        };
        Ok(store)
    }

    /// The data dir this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reword a storage error that comes from a full disk, naming the dir.
    pub(crate) fn explain(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Sled(sled::Error::Io(io)) if disk::is_disk_full(&io) => {
                self.stuck.store(true, Ordering::SeqCst);
                self.disk_full()
            }
            other => other,
        }
    }

    fn disk_full(&self) -> StoreError {
        StoreError::DiskFull {
            dir: self.dir.display().to_string(),
            free_mb: disk::free_mb(&self.dir),
        }
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
                if v < 3 {
                    self.move_bodies_to_segments()?;
                }
                if v < 4 {
                    self.fold_message_rows(FOLD_CHUNK, None)?;
                }
                if v < SCHEMA {
                    self.tree
                        .insert(keys::SCHEMA_VERSION, &(SCHEMA as u64).to_be_bytes())?;
                }
            }
        }
        // Cheap (folder states only) and idempotent, so it needs no version.
        self.decode_folder_names()?;
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

    /// Schema 2 → 3: bodies leave sled for segment files, a few MB at a
    /// time; each step is durable before its rows leave the old tree, so an
    /// interrupted migration resumes where it stopped.
    fn move_bodies_to_segments(&self) -> Result<()> {
        const STEP_BYTES: usize = 8 << 20;
        let mut moved = 0usize;
        loop {
            let mut step: Vec<(u64, Vec<u8>)> = Vec::new();
            let mut bytes = 0usize;
            for item in self.bodies.iter() {
                let (k, v) = item?;
                if k.len() != 8 {
                    continue;
                }
                bytes += v.len();
                step.push((keys::read_u64(&k), v.to_vec()));
                if bytes >= STEP_BYTES {
                    break;
                }
            }
            if step.is_empty() {
                break;
            }
            let ids: Vec<u64> = step.iter().map(|(id, _)| *id).collect();
            moved += ids.len();
            self.write_schema_3_bodies(step)?;
            let mut gone = sled::Batch::default();
            for id in ids {
                gone.remove(&Self::body_key(id));
            }
            self.bodies.apply_batch(gone)?;
        }
        // Whatever else the old tree held (nothing but bodies) goes too.
        self.bodies.clear()?;
        self.db.flush()?;
        if moved > 0 {
            tracing::info!("store migrated to schema 3: {moved} bodies moved to segment files");
        }
        Ok(())
    }

    /// Schema 3's body write: a segment, then one `B` row per body (folded
    /// into the mail rows by the step to schema 4 that follows).
    fn write_schema_3_bodies(&self, bodies: Vec<(u64, Vec<u8>)>) -> Result<()> {
        let parts: Vec<(u64, &[u8])> = bodies.iter().map(|(id, b)| (*id, b.as_slice())).collect();
        let segment = self.next_id()?;
        let locs = self
            .segments
            .write(segment, &parts)
            .map_err(|e| self.io_error(e))?;
        let mut index = sled::Batch::default();
        for ((id, _), loc) in bodies.iter().zip(locs) {
            index.insert(keys::with_id(keys::BODY_AT, *id), &loc.encode()[..]);
        }
        self.tree.apply_batch(index)?;
        Ok(())
    }

    /// Schema 3 → 4: each mail's body place (`B`), locations (`l`) and links
    /// (`L`) move into its `m` row. A chunk of rows is rewritten and its old
    /// keys removed in one batch, so memory stays flat and an interrupted
    /// step resumes (a row with no old keys left is not written again); the
    /// version is bumped by the caller once every chunk is done.
    fn fold_message_rows(&self, chunk_rows: usize, max_chunks: Option<usize>) -> Result<()> {
        let end = keys::prefix_end(&[keys::MESSAGE]);
        let mut from = vec![keys::MESSAGE];
        let mut folded = 0usize;
        let mut chunks = 0usize;
        loop {
            // Tests stop here to leave a migration half done, as a kill would.
            if max_chunks.is_some_and(|m| chunks >= m) {
                return Ok(());
            }
            chunks += 1;
            let mut chunk = Vec::with_capacity(chunk_rows);
            for item in self.tree.range(from.clone()..end.clone()).take(chunk_rows) {
                chunk.push(item?);
            }
            let Some((last, _)) = chunk.last() else {
                break;
            };
            from = last.to_vec();
            from.push(0);
            let mut batch = sled::Batch::default();
            for (k, v) in chunk {
                if k.len() != 9 {
                    continue;
                }
                let id = keys::read_u64(&k[1..]);
                let mut row = message_row::MessageRow::decode(&v)?;
                let mut old = 0usize;
                let bkey = keys::with_id(keys::BODY_AT, id);
                if let Some(b) = self.tree.get(&bkey)? {
                    row.body = segments::Locator::decode(&b).or(row.body);
                    batch.remove(bkey);
                    old += 1;
                }
                for item in self.tree.scan_prefix(keys::with_id(keys::LOCATION, id)) {
                    let (lk, lv) = item?;
                    row.put_location(decode(&lv)?);
                    batch.remove(lk);
                    old += 1;
                }
                for item in self
                    .tree
                    .scan_prefix(keys::with_id(keys::LINK_BY_MESSAGE, id))
                    .keys()
                {
                    let lk = item?;
                    if lk.len() >= 18
                        && let Some(kind) = RecordKind::from_code(lk[9])
                    {
                        row.add_link((kind, keys::read_u64(&lk[10..18])));
                    }
                    batch.remove(lk);
                    old += 1;
                }
                if old > 0 || !message_row::is_current(&v) {
                    batch.insert(k, row.encode()?);
                    folded += 1;
                }
            }
            self.tree.apply_batch(batch)?;
        }
        // Old rows of mails that have no row (none in a desk ingest wrote).
        let mut stray = 0usize;
        for tag in [keys::BODY_AT, keys::LOCATION, keys::LINK_BY_MESSAGE] {
            loop {
                let mut batch = sled::Batch::default();
                let mut n = 0usize;
                for k in self.tree.scan_prefix([tag]).keys().take(chunk_rows) {
                    batch.remove(k?);
                    n += 1;
                }
                if n == 0 {
                    break;
                }
                stray += n;
                self.tree.apply_batch(batch)?;
            }
        }
        self.db.flush()?;
        tracing::info!(
            "store migrated to schema 4: {folded} mail rows now hold their body place, locations and links ({stray} rows of absent mails dropped)"
        );
        Ok(())
    }

    /// Reword an I/O error of the segment files like a store error.
    pub(crate) fn io_error(&self, e: std::io::Error) -> StoreError {
        self.explain(StoreError::Sled(sled::Error::Io(e)))
    }

    /// Whether the store holds any desk at all (used by `demo --data-dir`).
    pub fn is_empty(&self) -> bool {
        self.tree.scan_prefix([keys::MESSAGE]).next().is_none()
    }

    /// Make everything written so far durable, or fail fast: with no room
    /// left the flush is not tried (sled would wait for room for ever), and
    /// a flush that does not finish in time is given up on.
    pub fn flush(&self) -> Result<()> {
        if disk::free_bytes(&self.dir).is_some_and(|f| f < disk::FLUSH_RESERVE) {
            self.stuck.store(true, Ordering::SeqCst);
            return Err(self.disk_full());
        }
        let started = std::time::Instant::now();
        let db: sled::Db = (*self.db).clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("store-flush".into())
            .spawn(move || {
                let r = db.flush();
                // Let go of the db before answering: a store dropped right
                // after the flush must release sled's file lock with it.
                drop(db);
                let _ = tx.send(r);
            });
        let result = match spawned {
            Ok(_) => match rx.recv_timeout(FLUSH_LIMIT) {
                Ok(r) => r,
                Err(_) => {
                    self.stuck.store(true, Ordering::SeqCst);
                    return Err(StoreError::WriteStalled {
                        dir: self.dir.display().to_string(),
                        secs: FLUSH_LIMIT.as_secs(),
                        free_mb: disk::free_mb(&self.dir),
                    });
                }
            },
            // No thread to spare: flush here.
            Err(_) => self.db.flush(),
        };
        timing::add(timing::Step::Flush, started.elapsed());
        result.map(|_| ()).map_err(|e| self.explain(e.into()))
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        match self.write.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Test knob: the next write at `at` fails with an I/O error.
    #[doc(hidden)]
    pub fn inject_fault_for_tests(&self, at: FaultPoint) {
        match self.faults.lock() {
            Ok(mut f) => f.push(at),
            Err(p) => p.into_inner().push(at),
        }
    }

    /// Fails (once) if a test injected a fault at `at`.
    pub(crate) fn take_fault(&self, at: FaultPoint) -> Result<()> {
        let mut f = match self.faults.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match f.iter().position(|p| *p == at) {
            Some(i) => {
                f.remove(i);
                Err(StoreError::Sled(sled::Error::Io(std::io::Error::other(
                    format!("injected fault at {at:?}"),
                ))))
            }
            None => Ok(()),
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

    /// Mails whose raw body is stored.
    fn count_bodies(&self) -> Result<u64> {
        let mut n = 0;
        for item in self.tree.scan_prefix([keys::MESSAGE]).values() {
            if message_row::body_place(&item?)?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Opens sled. A store this process has just dropped may still be closing on
/// sled's background threads, holding the file lock for a moment: only a lock
/// held by this very process is waited for, briefly.
fn open_db(dir: &Path) -> Result<sled::Db> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let opened = sled::Config::new()
            .path(dir.join("store"))
            // Small: a first sync of 100,000 mails must stay within 128 MB.
            .cache_capacity(16 * 1024 * 1024)
            .flush_every_ms(Some(500))
            .open();
        match opened {
            Ok(db) => return Ok(db),
            Err(e) => match open_error(dir, e) {
                StoreError::Locked { pid: Some(p), .. }
                    if p == std::process::id() && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => return Err(other),
            },
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let no_room = disk::free_bytes(&self.dir).is_some_and(|f| f < disk::FLUSH_RESERVE);
        if no_room || self.stuck.load(Ordering::SeqCst) {
            // sled's drop flushes until everything is written and would hang
            // here; what is not on disk yet is lost either way.
            tracing::warn!(
                "the disk holding {} is full: leaving without the final flush",
                self.dir.display()
            );
            return;
        }
        // SAFETY: each field is dropped exactly once, here, and never used after.
        unsafe {
            ManuallyDrop::drop(&mut self.bodies);
            ManuallyDrop::drop(&mut self.tree);
            ManuallyDrop::drop(&mut self.db);
        }
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
    /// Open cases nobody is assigned to.
    #[serde(default)]
    pub unassigned: u64,
    /// Median time from a case's first customer mail to the desk's first
    /// reply on it, over the cases answered so far.
    #[serde(default)]
    pub first_response_median_secs: Option<i64>,
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
            bodies: self.count_bodies()?,
            // One record-side row per link, as the mail rows hold them.
            links: self.count_prefix(&[keys::LINK_BY_RECORD]),
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
                    if !self.has_body(id)? {
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
        let mut responses: Vec<i64> = Vec::new();
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
            if let Some(secs) = self.first_response_secs(r.reference())? {
                responses.push(secs);
            }
            if CaseStatus::is_open_name(&status) {
                let who = r
                    .field("assignee")
                    .filter(|a| !a.trim().is_empty())
                    .unwrap_or("unassigned")
                    .to_string();
                if who == "unassigned" {
                    s.unassigned += 1;
                }
                *s.cases_by_assignee.entry(who).or_default() += 1;
            }
        }
        responses.sort_unstable();
        s.first_response_median_secs = match responses.len() {
            0 => None,
            n if n % 2 == 1 => Some(responses[n / 2]),
            n => Some((responses[n / 2 - 1] + responses[n / 2]) / 2),
        };
        for e in self.outbox_entries()? {
            *s.outbox.entry(e.state.name().to_string()).or_default() += 1;
        }
        Ok(s)
    }

    /// Seconds from a case's first customer mail to the desk's first mail
    /// after it; None while unanswered.
    pub fn first_response_secs(&self, case: RecordRef) -> Result<Option<i64>> {
        let mut first_in: Option<i64> = None;
        let mut outs: Vec<i64> = Vec::new();
        for id in self.messages_of(case)? {
            if let Some(m) = self.summary(id)? {
                if m.status == MailStatus::Archived {
                    first_in = Some(first_in.map_or(m.date, |d| d.min(m.date)));
                } else if m.status == MailStatus::Sent
                    && !crate::mail::thread::is_auto_reply_id(&m.message_id)
                {
                    outs.push(m.date);
                }
            }
        }
        Ok(first_in.and_then(|t| outs.into_iter().filter(|o| *o >= t).min().map(|o| o - t)))
    }
}

#[cfg(test)]
mod tests;
