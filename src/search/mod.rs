//! Full-text search over the desk: a tantivy index in `<data dir>/search/`,
//! derived from the store and rebuildable from it at any time. Owns the index
//! files, the query language and the background indexer; never writes the store.

pub mod analyzer;
pub mod cli;
mod compile;
mod document;
pub mod highlight;
pub mod indexer;
pub mod query;

use crate::store::search_feed::MailState;
use crate::store::{MessageSummary, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use tantivy::collector::TopDocs;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{Index, IndexReader, IndexWriter, Order, ReloadPolicy, Term};

/// Bumped when the schema or the analyzer changes: an older index is rebuilt.
const SCHEMA_VERSION: u32 = 2;
/// Mails indexed per commit while catching up: a crash loses at most this much work.
const BATCH: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(
        "the search index at {path} could not be opened ({reason}); delete that directory and run `deskmail reindex`"
    )]
    Open { path: String, reason: String },
    #[error("the search index failed ({0}); `deskmail reindex` rebuilds it from the store")]
    Index(String),
    #[error("{0}")]
    Query(#[from] query::QueryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError::Index(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, SearchError>;

/// What each commit carries: the schema it was written with and the highest
/// mail id indexed, so a restart resumes exactly where the last commit ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
struct Payload {
    schema: u32,
    watermark: u64,
    /// The store's files (see [`store_stamp`]) when the index was last found
    /// to match the store whole: while they are unchanged, `deskmail search`
    /// answers from the index alone.
    #[serde(default)]
    store_stamp: Option<u64>,
}

#[derive(Clone, Copy)]
pub(crate) struct Fields {
    id: Field,
    state: Field,
    date: Field,
    subject: Field,
    from: Field,
    to: Field,
    cc: Field,
    body: Field,
    attachment: Field,
    record: Field,
    tag: Field,
    folder: Field,
    account: Field,
    case: Field,
    /// What `deskmail search` prints of a hit, so it can answer without the store.
    card: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analyzer::NAME)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let f = Fields {
        id: b.add_u64_field("id", INDEXED | STORED | FAST),
        state: b.add_u64_field("state", FAST),
        date: b.add_i64_field("date", INDEXED | FAST),
        subject: b.add_text_field("subject", text.clone()),
        from: b.add_text_field("from", text.clone()),
        to: b.add_text_field("to", text.clone()),
        cc: b.add_text_field("cc", text.clone()),
        body: b.add_text_field("body", text.clone()),
        attachment: b.add_text_field("attachment", text.clone()),
        record: b.add_text_field("record", text),
        tag: b.add_text_field("tag", STRING),
        folder: b.add_text_field("folder", STRING),
        account: b.add_text_field("account", STRING),
        case: b.add_text_field("case", STRING),
        card: b.add_bytes_field("card", STORED),
    };
    (b.build(), f)
}

/// One search result, checked against the store when it was returned.
#[derive(Debug, Clone)]
pub struct Hit {
    pub summary: MessageSummary,
    /// (account, folder, flags) of every place the mail is in now.
    pub places: Vec<(String, String, u8)>,
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    /// Opened on first write (a plain search never needs it); `None` inside
    /// when another process holds the index's writer lock.
    writer: OnceLock<Option<Mutex<IndexWriter>>>,
    fields: Fields,
    dir: PathBuf,
}

/// Where the index of a data dir lives.
pub fn index_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("search")
}

impl SearchIndex {
    /// Open (or create) the index of `data_dir`. An index of another schema
    /// version is thrown away and recreated empty (the indexer refills it).
    pub fn open(data_dir: &Path) -> Result<SearchIndex> {
        let dir = index_dir(data_dir);
        let open_err = |reason: String| SearchError::Open {
            path: dir.display().to_string(),
            reason,
        };
        crate::config::paths::ensure_private_dir(&dir).map_err(|e| open_err(e.to_string()))?;
        let (schema, fields) = schema();
        discard_leftovers(data_dir);
        let mut index = match Index::open_in_dir(&dir) {
            Ok(i) => i,
            Err(_) if is_empty_dir(&dir) => {
                Index::create_in_dir(&dir, schema.clone()).map_err(|e| open_err(e.to_string()))?
            }
            Err(e) => {
                // Derived data: a damaged index is set aside and rebuilt.
                tracing::warn!(
                    "search index unreadable ({e}): rebuilding {}",
                    dir.display()
                );
                discard(&dir).map_err(|e| open_err(e.to_string()))?;
                crate::config::paths::ensure_private_dir(&dir)
                    .map_err(|e| open_err(e.to_string()))?;
                Index::create_in_dir(&dir, schema.clone()).map_err(|e| open_err(e.to_string()))?
            }
        };
        if payload_of(&index).schema != SCHEMA_VERSION {
            tracing::info!("search index schema changed: rebuilding {}", dir.display());
            drop(index);
            discard(&dir).map_err(|e| open_err(e.to_string()))?;
            crate::config::paths::ensure_private_dir(&dir).map_err(|e| open_err(e.to_string()))?;
            index = Index::create_in_dir(&dir, schema).map_err(|e| open_err(e.to_string()))?;
        }
        index
            .tokenizers()
            .register(analyzer::NAME, analyzer::MailTokenizer::default());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e: tantivy::TantivyError| open_err(e.to_string()))?;
        let si = SearchIndex {
            index,
            reader,
            writer: OnceLock::new(),
            fields,
            dir,
        };
        if payload_of(&si.index).schema != SCHEMA_VERSION {
            // A fresh index: stamp it so the next open knows its version.
            si.commit(0)?;
        }
        Ok(si)
    }

    /// Delete the index of `data_dir` and build it again from the store.
    pub fn rebuild(
        data_dir: &Path,
        store: &Store,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<SearchIndex> {
        let dir = index_dir(data_dir);
        if dir.exists() {
            discard(&dir).map_err(|e| SearchError::Open {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let si = SearchIndex::open(data_dir)?;
        si.catch_up(store, progress)?;
        Ok(si)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The highest mail id the last commit covers.
    pub fn watermark(&self) -> u64 {
        payload_of(&self.index).watermark
    }

    fn lock_writer(&self) -> Option<std::sync::MutexGuard<'_, IndexWriter>> {
        let w = self
            .writer
            .get_or_init(|| match self.index.writer_with_num_threads(1, 48 << 20) {
                Ok(w) => Some(Mutex::new(w)),
                Err(e) => {
                    tracing::warn!("search index opened for reading only: {e}");
                    None
                }
            })
            .as_ref()?;
        Some(match w.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        })
    }

    fn commit(&self, watermark: u64) -> Result<()> {
        let Some(mut w) = self.lock_writer() else {
            return Ok(());
        };
        commit_with(&mut w, watermark)?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    /// Index every mail past the watermark, committing every [`BATCH`] mails
    /// with the new watermark. Returns how many mails were indexed.
    pub fn catch_up(&self, store: &Store, progress: &mut dyn FnMut(u64, u64)) -> Result<usize> {
        let total = store.message_count();
        let mut done = 0usize;
        loop {
            // The writer is taken per batch, so a search repairing a stale
            // hit waits for one batch at most, not the whole build.
            let Some(mut w) = self.lock_writer() else {
                return Ok(done);
            };
            let mark = payload_of(&self.index).watermark;
            let ids = store.message_ids_after(mark, BATCH)?;
            let Some(&last) = ids.last() else { break };
            document::index_ids(&w, self.fields, store, &ids)?;
            commit_with(&mut w, last)?;
            drop(w);
            self.reader.reload()?;
            done += ids.len();
            progress(done as u64, total);
        }
        Ok(done)
    }

    /// Re-index these mails (flags, folder or links changed) or drop the ones
    /// that left every folder; one commit.
    pub fn refresh(&self, store: &Store, ids: &[u64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let Some(mut w) = self.lock_writer() else {
            return Ok(());
        };
        let mark = payload_of(&self.index).watermark;
        // Mails past the watermark are left to catch_up, which keeps its promise.
        let ids: Vec<u64> = ids.iter().copied().filter(|id| *id <= mark).collect();
        document::index_ids(&w, self.fields, store, &ids)?;
        commit_with(&mut w, mark)?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    /// Compare every document's state with the store and refresh the ones
    /// that differ (a crash lost a change, or the sync changed flags).
    /// Returns how many were refreshed.
    pub fn reconcile(&self, store: &Store) -> Result<usize> {
        let states = store.all_mail_states()?;
        let mark = self.watermark();
        let searcher = self.reader.searcher();
        let mut stale = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for seg in searcher.segment_readers() {
            let ids = seg.fast_fields().u64("id")?;
            let st = seg.fast_fields().u64("state")?;
            for doc in seg.doc_ids_alive() {
                let (Some(id), Some(fp)) = (ids.first(doc), st.first(doc)) else {
                    continue;
                };
                seen.insert(id);
                match states.get(&id) {
                    Some(now) if now.fingerprint() == fp => {}
                    _ => stale.push(id),
                }
            }
        }
        // Placed mails under the watermark the index lacks (a lost document).
        stale.extend(
            states
                .keys()
                .filter(|id| **id <= mark && !seen.contains(id))
                .copied(),
        );
        stale.sort_unstable();
        stale.dedup();
        for chunk in stale.chunks(BATCH) {
            self.refresh(store, chunk)?;
        }
        Ok(stale.len())
    }

    /// Whether the index matched the store whole when the store's files
    /// were last as `stamp` says.
    pub fn is_current_for(&self, stamp: Option<u64>) -> bool {
        stamp.is_some() && payload_of(&self.index).store_stamp == stamp
    }

    /// Record that the index matches the store whose files are as `stamp`
    /// says (call after `catch_up` and `reconcile`, the store closed).
    pub fn mark_current(&self, stamp: u64) -> Result<()> {
        let Some(mut w) = self.lock_writer() else {
            return Ok(());
        };
        let mark = payload_of(&self.index).watermark;
        commit_stamped(&mut w, mark, Some(stamp))?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    /// Run a query, newest first, answered from the index alone: what each
    /// hit's card says, as of the last time the index took the mail in.
    pub fn search_alone(&self, q: &str, limit: usize) -> Result<Vec<Hit>> {
        use tantivy::schema::Value;
        let expr = query::parse(q, chrono::Utc::now().timestamp())?;
        let compiled = compile::compile(&expr, self.fields);
        let searcher = self.reader.searcher();
        let collector =
            TopDocs::with_limit(limit.max(1)).order_by_fast_field::<i64>("date", Order::Desc);
        let mut hits = Vec::new();
        for (_, addr) in searcher.search(&*compiled, &collector)? {
            let doc: tantivy::TantivyDocument = searcher.doc(addr)?;
            let card = doc
                .get_first(self.fields.card)
                .and_then(|v| v.as_bytes())
                .and_then(|b| serde_json::from_slice::<document::Card>(b).ok());
            if let Some(card) = card {
                hits.push(card.into_hit());
            }
        }
        Ok(hits)
    }

    /// Run a query, newest first. Hits whose mail has changed since it was
    /// indexed are refreshed and the query runs again once, so results match
    /// the store; hits whose mail is gone are dropped.
    pub fn search(&self, store: &Store, q: &str, limit: usize) -> Result<Vec<Hit>> {
        let expr = query::parse(q, chrono::Utc::now().timestamp())?;
        let compiled = compile::compile(&expr, self.fields);
        let mut repaired = false;
        loop {
            let searcher = self.reader.searcher();
            // A few spare hits, so dropping stale ones still fills the page.
            let collector = TopDocs::with_limit(limit.max(1) + 8)
                .order_by_fast_field::<i64>("date", Order::Desc);
            let docs = searcher.search(&*compiled, &collector)?;
            let mut hits = Vec::new();
            let mut stale = Vec::new();
            for (_, addr) in docs {
                let seg = searcher.segment_reader(addr.segment_ord);
                let ids = seg.fast_fields().u64("id")?;
                let states = seg.fast_fields().u64("state")?;
                let (Some(id), Some(fp)) = (ids.first(addr.doc_id), states.first(addr.doc_id))
                else {
                    continue;
                };
                let now = store.mail_state(id)?;
                if now.places.is_empty() || now.fingerprint() != fp {
                    stale.push(id);
                    continue;
                }
                if let Some(summary) = store.summary(id)? {
                    hits.push(Hit {
                        summary,
                        places: now.places,
                    });
                }
            }
            if stale.is_empty() || repaired {
                hits.truncate(limit);
                return Ok(hits);
            }
            tracing::debug!("search: refreshing {} stale hits", stale.len());
            self.refresh(store, &stale)?;
            repaired = true;
        }
    }

    /// Documents in the index (for tests and `reindex`'s summary).
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the index takes on disk.
    pub fn size_on_disk(&self) -> u64 {
        dir_size(&self.dir)
    }
}

/// Every commit but [`SearchIndex::mark_current`]'s drops the stamp: the
/// index changed, so whether it matches the store is no longer known.
fn commit_with(w: &mut IndexWriter, watermark: u64) -> Result<()> {
    commit_stamped(w, watermark, None)
}

fn commit_stamped(w: &mut IndexWriter, watermark: u64, store_stamp: Option<u64>) -> Result<()> {
    let payload = Payload {
        schema: SCHEMA_VERSION,
        watermark,
        store_stamp,
    };
    let mut prepared = w.prepare_commit()?;
    prepared.set_payload(&serde_json::to_string(&payload).unwrap_or_default());
    prepared.commit()?;
    Ok(())
}

fn payload_of(index: &Index) -> Payload {
    index
        .load_metas()
        .ok()
        .and_then(|m| m.payload)
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or_default()
}

const DISCARDED: &str = "search.discarded-";

/// Move the index out of the way in one rename, then delete it: a kill in
/// the middle leaves either the whole old index or none, never a half.
fn discard(dir: &Path) -> std::io::Result<()> {
    let aside = dir.with_file_name(format!("{DISCARDED}{}", std::process::id()));
    std::fs::rename(dir, &aside)?;
    if let Err(e) = std::fs::remove_dir_all(&aside) {
        tracing::warn!("could not delete {}: {e}", aside.display());
    }
    Ok(())
}

/// Delete indexes an earlier, killed process had set aside.
fn discard_leftovers(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(DISCARDED) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false)
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A fingerprint of the store's files (names, sizes, modification times):
/// any write to the store changes it. `None` when there is no store.
pub fn store_stamp(data_dir: &Path) -> Option<u64> {
    fn walk(dir: &Path, eat: &mut dyn FnMut(&[u8])) -> Option<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let m = e.metadata().ok()?;
            if m.is_dir() {
                walk(&e.path(), eat)?;
                continue;
            }
            let modified = m
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?;
            eat(e.file_name().as_encoded_bytes());
            eat(&m.len().to_le_bytes());
            eat(&modified.as_nanos().to_le_bytes());
        }
        Some(())
    }
    // FNV-1a: stable across releases, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    walk(&data_dir.join("store"), &mut eat)?;
    Some(h)
}

/// The state fingerprint a document is written with.
pub(crate) fn fingerprint(st: &MailState) -> u64 {
    st.fingerprint()
}

pub(crate) fn id_term(f: Fields, id: u64) -> Term {
    Term::from_field_u64(f.id, id)
}
