//! Synchronising one IMAP account: folders, initial and incremental sync,
//! IDLE, and the reconnect loop.
//!
//! Crash safety comes from the store: every batch of mails is ingested in
//! one atomic write together with the folder's cursor, re-ingesting a known
//! (folder, UIDVALIDITY, UID) is a no-op, and the set of UIDs still to fetch
//! is always computed as "on the server" minus "in the store". The folder's
//! UIDNEXT and HIGHESTMODSEQ only advance in the write that ends a folder's
//! sync, so an interrupted sync starts again from what was really stored.

use super::connect::{self, Caps, ImapSession, READ_TIMEOUT, bounded};
use super::diagnose::{Ctx, Stage, SyncError};
use super::pipeline::{Extras, Incoming, Parsed};
use super::progress::Reporter;
use crate::config::{AccountConfig, Folders};
use crate::crm::linking::LinkRules;
use crate::mail::mutf7;
use crate::protocol::SyncState;
use crate::store::timing::{self, Step};
use crate::store::{FolderState, Store, flags};
use crate::sync::SyncUpdate;
use async_imap::types::{Fetch, Flag, NameAttribute};
use futures::{StreamExt, TryStreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The first batch of a folder is small so the list fills at once.
const FIRST_CHUNK: usize = 100;
/// Mails per FETCH after the first batch.
const CHUNK: usize = 500;
/// Bytes of mail per FETCH at most (one bigger mail still goes alone).
const BATCH_BYTES: u64 = 8 * 1024 * 1024;
/// UIDs whose sizes are asked for at once.
const SIZE_WINDOW: usize = 4000;
/// Batches fetched but not yet stored; bounds memory.
const QUEUE: usize = 1;
/// IMAP servers drop idle clients after 30 minutes.
const IDLE_MAX: Duration = Duration::from_secs(25 * 60);

/// One monitored folder: its name on the server and in the desk.
#[derive(Debug, Clone)]
pub struct FolderPlan {
    pub server: String,
    pub desk: String,
    pub special_use: Option<String>,
    pub skip_notification: bool,
}

/// What is shared by everything syncing one account.
#[derive(Clone)]
pub struct AccountCtx {
    pub acc: Arc<AccountConfig>,
    pub store: Arc<Store>,
    pub own: Arc<Vec<String>>,
    pub rules: Arc<LinkRules>,
    /// Every mail fetched goes through it.
    pub pipeline: super::pipeline::Pipeline,
    pub report: Reporter,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct FolderOutcome {
    pub new_messages: usize,
    pub flag_changes: usize,
    pub expunged: usize,
}

fn flags_of(f: &Fetch) -> u8 {
    let mut out = 0;
    for fl in f.flags() {
        out |= match fl {
            Flag::Seen => flags::SEEN,
            Flag::Flagged => flags::FLAGGED,
            Flag::Answered => flags::ANSWERED,
            Flag::Deleted => flags::DELETED,
            Flag::Draft => flags::DRAFT,
            _ => 0,
        };
    }
    out
}

/// `1:5,7,9:12` for a sorted or unsorted list of UIDs.
pub fn uid_set(uids: &[u32]) -> String {
    let mut v = uids.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// The special use of a listed folder, as the store keeps it.
pub fn special_use_of(attrs: &[NameAttribute<'_>]) -> Option<String> {
    attrs.iter().find_map(|a| match a {
        NameAttribute::Sent => Some("\\Sent".to_string()),
        NameAttribute::Drafts => Some("\\Drafts".to_string()),
        NameAttribute::Trash => Some("\\Trash".to_string()),
        NameAttribute::Junk => Some("\\Junk".to_string()),
        NameAttribute::Archive => Some("\\Archive".to_string()),
        _ => None,
    })
}

/// The folders on the server and their special use.
pub async fn list_folders(
    c: &Ctx<'_>,
    session: &mut ImapSession,
) -> Result<Vec<(String, Option<String>)>, SyncError> {
    let fut = async {
        let names: Vec<_> = session
            .list(Some(""), Some("*"))
            .await?
            .try_collect()
            .await?;
        Ok(names
            .iter()
            .filter(|n| !n.attributes().contains(&NameAttribute::NoSelect))
            .map(|n| (mutf7::display(n.name()), special_use_of(n.attributes())))
            .collect())
    };
    bounded(c, Stage::List, READ_TIMEOUT, fut).await
}

/// The folders the user subscribed to on the server (LSUB, which every
/// IMAP4rev1 server answers; LIST (SUBSCRIBED) needs LIST-EXTENDED).
pub async fn list_subscribed(
    c: &Ctx<'_>,
    session: &mut ImapSession,
) -> Result<Vec<String>, SyncError> {
    let fut = async {
        let names: Vec<_> = session
            .lsub(Some(""), Some("*"))
            .await?
            .try_collect()
            .await?;
        Ok(names
            .iter()
            .filter(|n| !n.attributes().contains(&NameAttribute::NoSelect))
            .map(|n| mutf7::display(n.name()))
            .collect())
    };
    bounded(c, Stage::List, READ_TIMEOUT, fut).await
}

/// The listing, and the subscribed folders when the account asks for them.
pub async fn list_for_plan(
    c: &Ctx<'_>,
    session: &mut ImapSession,
    acc: &AccountConfig,
) -> Result<(Vec<(String, Option<String>)>, Vec<String>), SyncError> {
    let list = list_folders(c, session).await?;
    let subscribed = match acc.folders {
        Folders::Subscribed => list_subscribed(c, session).await?,
        Folders::Named(_) => Vec::new(),
    };
    Ok((list, subscribed))
}

/// The Sent folder of a listing, by special use first, then by name.
pub fn find_sent(list: &[(String, Option<String>)]) -> Option<String> {
    crate::mail::folders::find(list, crate::mail::folders::SpecialFolder::Sent)
}

/// Decide which folders to sync. A missing Sent folder is reported (not fatal)
/// when the account relies on the default folders.
pub fn plan_folders(
    acc: &AccountConfig,
    list: &[(String, Option<String>)],
    subscribed: &[String],
) -> (Vec<FolderPlan>, Option<SyncError>) {
    let mut warning = None;
    let mut names: Vec<String> = if acc.folders == Folders::Subscribed {
        // INBOX always: servers differ on whether it is listed as subscribed.
        let mut v = vec!["INBOX".to_string()];
        for name in subscribed {
            if list.iter().any(|(n, _)| n == name)
                && !v.iter().any(|x| x.eq_ignore_ascii_case(name))
            {
                v.push(name.clone());
            }
        }
        v
    } else if acc.folders.names().is_empty() {
        let mut v = vec!["INBOX".to_string()];
        match find_sent(list) {
            Some(s) => v.push(s),
            None => {
                warning = Some(SyncError::NoSentFolder {
                    account: acc.name.clone(),
                })
            }
        }
        v
    } else {
        acc.folders.names().to_vec()
    };
    // Where move filters file mail is synced too.
    for t in filter_targets(acc) {
        if !names.contains(&t) {
            names.push(t);
        }
    }
    names.dedup();
    let plans = names
        .into_iter()
        .map(|server| {
            let special_use = list
                .iter()
                .find(|(n, _)| *n == server)
                .and_then(|(_, s)| s.clone());
            let desk = match &acc.target_folder {
                Some(t) if server.eq_ignore_ascii_case("INBOX") => t.clone(),
                _ => desk_name(&server),
            };
            let skip_notification = acc
                .skip_notification
                .iter()
                .any(|s| s == &server || s == &desk)
                || special_use.as_deref() == Some("\\Sent");
            FolderPlan {
                server,
                desk,
                special_use,
                skip_notification,
            }
        })
        .collect();
    (plans, warning)
}

/// The folders the account's move filters file mail into.
fn filter_targets(acc: &AccountConfig) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &acc.filters {
        if f.action == crate::config::cases::FilterAction::Move
            && let Some(t) = f.folder.as_deref().map(str::trim).filter(|t| !t.is_empty())
            && !out.iter().any(|o| o == t)
        {
            out.push(t.to_string());
        }
    }
    out
}

/// Create the move filters' folders the server does not have yet.
async fn create_filter_folders(
    ctx: &AccountCtx,
    session: &mut ImapSession,
    list: &mut Vec<(String, Option<String>)>,
) {
    let c = connect::ctx(&ctx.acc);
    for t in filter_targets(&ctx.acc) {
        if list.iter().any(|(n, _)| *n == t) {
            continue;
        }
        match bounded(
            &c,
            Stage::Select,
            READ_TIMEOUT,
            session.create(mutf7::encode(&t)),
        )
        .await
        {
            Ok(()) => {
                tracing::info!(account = %ctx.acc.name, folder = %t, "folder created for a move filter");
                list.push((t, None));
            }
            Err(e) => {
                let msg = format!(
                    "account \"{}\": the folder \"{}\" of a move filter could not be created: {e}; create it on the server or change the filter's folder",
                    crate::mail::sanitize::sanitize_line(&ctx.acc.name),
                    crate::mail::sanitize::sanitize_line(&t)
                );
                tracing::warn!("{msg}");
                ctx.report.event(SyncUpdate::Error(msg));
            }
        }
    }
}

/// `fetch_since = "2026-01-31"` as an IMAP SEARCH date.
fn imap_date(since: &str) -> Option<String> {
    let d = chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d").ok()?;
    Some(d.format("%d-%b-%Y").to_string())
}

/// A fetched mail before parsing.
struct RawMail {
    uid: u32,
    flags: u8,
    raw: Vec<u8>,
    /// The size the server reported (RFC822.SIZE), 0 when unknown.
    size: u64,
}

/// The pipeline's view of one fetched batch.
fn incoming(
    ctx: &AccountCtx,
    plan: &FolderPlan,
    uidvalidity: u32,
    batch: Vec<RawMail>,
) -> Vec<Incoming> {
    batch
        .into_iter()
        .map(|m| Incoming {
            account: ctx.acc.name.clone(),
            folder: plan.desk.clone(),
            uidvalidity,
            uid: m.uid,
            flags: m.flags,
            raw: m.raw,
            reported_size: m.size,
            inherit_links_of: None,
        })
        .collect()
}

fn joined<T>(r: Result<Result<T, SyncError>, tokio::task::JoinError>) -> Result<T, SyncError> {
    r.map_err(|e| SyncError::Store(format!("a sync worker failed: {e}")))?
}

/// The mail a folder's sync fetches.
#[derive(Debug)]
enum Todo {
    /// These UIDs, newest first.
    Uids(Vec<u32>),
    /// A folder with nothing stored yet and `exists` mails on the server:
    /// its newest mails are asked for by sequence number, so the first batch
    /// leaves before the whole folder is listed.
    Whole { exists: u32 },
}

impl Todo {
    fn len(&self) -> usize {
        match self {
            Todo::Uids(u) => u.len(),
            Todo::Whole { exists } => *exists as usize,
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Fetch the new mail of `todo`, newest first, with their bodies. Three
/// stages run at once with bounded queues between them: the FETCH of batch
/// k+1, parsing (spread over the cores) and the pipeline's one atomic write
/// per batch, mails already linked, followed by one update to the desk.
async fn fetch_new(
    ctx: &AccountCtx,
    session: &mut ImapSession,
    plan: &FolderPlan,
    cursor: &FolderState,
    todo: Todo,
) -> Result<usize, SyncError> {
    let c = connect::ctx(&ctx.acc);
    let total = todo.len() as u64;
    let (raw_tx, mut raw_rx) = tokio::sync::mpsc::channel::<Vec<RawMail>>(QUEUE);
    let (rows_tx, mut rows_rx) = tokio::sync::mpsc::channel::<Vec<Parsed>>(QUEUE);
    let parser = {
        let (ctx, plan, uv) = (ctx.clone(), plan.clone(), cursor.uidvalidity);
        tokio::spawn(async move {
            while let Some(batch) = raw_rx.recv().await {
                let rows = ctx
                    .pipeline
                    .parse_all(incoming(&ctx, &plan, uv, batch))
                    .await?;
                if rows_tx.send(rows).await.is_err() {
                    break;
                }
            }
            Ok::<(), SyncError>(())
        })
    };
    let writer = {
        let (ctx, plan, cursor) = (ctx.clone(), plan.clone(), cursor.clone());
        tokio::spawn(async move {
            let mut created = 0usize;
            let mut done = 0u64;
            loop {
                let idle = Instant::now();
                let Some(rows) = rows_rx.recv().await else {
                    break;
                };
                timing::add(Step::WriterIdle, idle.elapsed());
                let n = rows.len() as u64;
                let (pipeline, acc, cur) =
                    (ctx.pipeline.clone(), ctx.acc.name.clone(), cursor.clone());
                let report = tokio::task::spawn_blocking(move || {
                    pipeline.commit(
                        rows,
                        Extras {
                            cursor: Some((acc, cur)),
                            setting: None,
                        },
                    )
                })
                .await
                .map_err(|e| SyncError::Store(format!("a sync worker failed: {e}")))??;
                created += report.created.len();
                // Mails that arrived after the count make `done` pass it.
                done += n;
                tracing::debug!(folder = %plan.desk, mails = n, done, "batch stored");
                ctx.report.progress(&plan.desk, done, total.max(done));
                ctx.report.event(SyncUpdate::FolderChanged {
                    account: ctx.acc.name.clone(),
                    folder: plan.desk.clone(),
                });
            }
            Ok::<usize, SyncError>(created)
        })
    };
    let fetched = fetch_windows(&c, ctx, session, &raw_tx, todo).await;
    drop(raw_tx);
    // Whatever was fetched is stored before a fetch error is reported.
    let parsed = joined(parser.await);
    let written = joined(writer.await);
    parsed?;
    let created = written?;
    fetched.map(|()| created)
}

/// The FETCH side of [`fetch_new`]: sizes window by window, then bodies in
/// batches handed to `raw_tx`. Returns early when the queue is gone.
async fn fetch_windows(
    c: &Ctx<'_>,
    ctx: &AccountCtx,
    session: &mut ImapSession,
    raw_tx: &tokio::sync::mpsc::Sender<Vec<RawMail>>,
    todo: Todo,
) -> Result<(), SyncError> {
    let uids = match todo {
        Todo::Uids(uids) => uids,
        Todo::Whole { exists } => {
            // The newest mails by sequence number: no UID list is needed
            // for the first batch, however big the folder.
            let head = fetch_newest(c, session, exists, FIRST_CHUNK).await?;
            let uids: Vec<u32> = head.iter().map(|(u, _)| *u).collect();
            let sizes: HashMap<u32, u32> = head.into_iter().collect();
            if !send_window(c, ctx, session, raw_tx, &uids, &sizes, FIRST_CHUNK).await? {
                return Ok(());
            }
            // Then the rest, listed while the first batch is parsed and stored.
            let all: HashSet<u32> =
                bounded(c, Stage::Fetch, READ_TIMEOUT, session.uid_search("ALL")).await?;
            tracing::debug!(uids = all.len(), "server UIDs listed after the first batch");
            let lowest = uids.iter().copied().min().unwrap_or(u32::MAX);
            let mut rest: Vec<u32> = all
                .into_iter()
                .filter(|u| *u < lowest || !uids.contains(u))
                .collect();
            rest.sort_unstable_by(|a, b| b.cmp(a));
            for window in rest.chunks(SIZE_WINDOW) {
                let sizes = fetch_sizes(c, session, window).await?;
                if !send_window(c, ctx, session, raw_tx, window, &sizes, CHUNK).await? {
                    return Ok(());
                }
            }
            return Ok(());
        }
    };
    // Sizes are asked for window by window, so the first batch leaves at once.
    let mut windows = vec![&uids[..uids.len().min(FIRST_CHUNK)]];
    if uids.len() > FIRST_CHUNK {
        windows.extend(uids[FIRST_CHUNK..].chunks(SIZE_WINDOW));
    }
    for (i, window) in windows.into_iter().enumerate() {
        let sizes = fetch_sizes(c, session, window).await?;
        let first = if i == 0 { FIRST_CHUNK } else { CHUNK };
        if !send_window(c, ctx, session, raw_tx, window, &sizes, first).await? {
            return Ok(());
        }
    }
    Ok(())
}

/// Fetch one window of UIDs (newest first) in batches and queue them; false
/// when the queue is gone.
async fn send_window(
    c: &Ctx<'_>,
    ctx: &AccountCtx,
    session: &mut ImapSession,
    raw_tx: &tokio::sync::mpsc::Sender<Vec<RawMail>>,
    window: &[u32],
    sizes: &HashMap<u32, u32>,
    first: usize,
) -> Result<bool, SyncError> {
    let limit = ctx.acc.max_message_bytes();
    for chunk in plan_batches(window, sizes, first) {
        let batch = fetch_chunk(c, session, &chunk, sizes, limit, raw_tx).await?;
        let blocked = Instant::now();
        let sent = raw_tx.send(batch).await;
        timing::add(Step::FetchBlocked, blocked.elapsed());
        if sent.is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// UID and RFC822.SIZE of the newest `n` of a folder's `exists` mails, newest
/// first, asked for by sequence number.
async fn fetch_newest(
    c: &Ctx<'_>,
    session: &mut ImapSession,
    exists: u32,
    n: usize,
) -> Result<Vec<(u32, u32)>, SyncError> {
    let n = u32::try_from(n).unwrap_or(u32::MAX).max(1);
    let set = format!("{}:{exists}", exists.saturating_sub(n - 1).max(1));
    let waited = Instant::now();
    let fetched = bounded(c, Stage::Fetch, READ_TIMEOUT, async {
        metas(session.fetch(&set, "(UID RFC822.SIZE)").await?).await
    })
    .await?;
    timing::add(Step::FetchWait, waited.elapsed());
    let mut out: Vec<(u32, u32)> = fetched.iter().map(|m| (m.uid, m.size)).collect();
    out.sort_unstable_by_key(|m| std::cmp::Reverse(m.0));
    out.dedup_by_key(|m| m.0);
    Ok(out)
}

/// RFC822.SIZE of each UID, to keep batches within [`BATCH_BYTES`].
async fn fetch_sizes(
    c: &Ctx<'_>,
    session: &mut ImapSession,
    uids: &[u32],
) -> Result<HashMap<u32, u32>, SyncError> {
    let set = uid_set(uids);
    let waited = Instant::now();
    let fetched = bounded(c, Stage::Fetch, READ_TIMEOUT, async {
        metas(session.uid_fetch(&set, "(UID RFC822.SIZE)").await?).await
    })
    .await?;
    timing::add(Step::FetchWait, waited.elapsed());
    Ok(fetched.iter().map(|m| (m.uid, m.size)).collect())
}

/// What a FETCH without bodies tells of one mail.
#[derive(Debug, Clone, Copy)]
struct Meta {
    uid: u32,
    flags: u8,
    size: u32,
}

/// A FETCH's answers boiled down one by one as they arrive: each answer
/// keeps a read buffer of 4 KB or more alive, so collecting the answers of
/// a whole folder would hold hundreds of megabytes.
async fn metas<S>(stream: S) -> Result<Vec<Meta>, async_imap::error::Error>
where
    S: futures::Stream<Item = Result<Fetch, async_imap::error::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut out = Vec::new();
    while let Some(f) = stream.next().await {
        let f = f?;
        if let Some(uid) = f.uid {
            out.push(Meta {
                uid,
                flags: flags_of(&f),
                size: f.size.unwrap_or(0),
            });
        }
    }
    Ok(out)
}

/// Split UIDs (already newest first) into FETCH batches: `first` mails at most
/// in the first (small, so the list fills at once), then up to [`CHUNK`]
/// mails; never more than [`BATCH_BYTES`] unless one mail alone is bigger.
pub fn plan_batches(uids: &[u32], sizes: &HashMap<u32, u32>, first: usize) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut cur: Vec<u32> = Vec::new();
    let mut bytes = 0u64;
    for &uid in uids {
        let size = u64::from(sizes.get(&uid).copied().unwrap_or(0));
        let limit = if out.is_empty() { first } else { CHUNK };
        if !cur.is_empty() && (cur.len() >= limit || bytes + size > BATCH_BYTES) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        cur.push(uid);
        bytes += size;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

async fn fetch_chunk(
    c: &Ctx<'_>,
    session: &mut ImapSession,
    chunk: &[u32],
    sizes: &HashMap<u32, u32>,
    limit: usize,
    early: &tokio::sync::mpsc::Sender<Vec<RawMail>>,
) -> Result<Vec<RawMail>, SyncError> {
    let set = uid_set(chunk);
    // A partial fetch: whatever size the server reported, no mail brings
    // more than the limit (and one byte, to tell it was cut).
    let query = format!("(UID FLAGS BODY.PEEK[]<0.{}>)", limit.saturating_add(1));
    let mut stream = bounded(
        c,
        Stage::Fetch,
        READ_TIMEOUT,
        session.uid_fetch(&set, &query),
    )
    .await?;
    let mut out = Vec::with_capacity(chunk.len());
    let mut bytes = 0usize;
    loop {
        let waited = Instant::now();
        let next = tokio::time::timeout(READ_TIMEOUT, stream.next()).await;
        timing::add(Step::FetchWait, waited.elapsed());
        match next {
            Ok(Some(Ok(f))) => {
                let Some(uid) = f.uid else { continue };
                let Some(body) = f.body() else { continue };
                // The batch was planned on reported sizes; what really
                // arrives is handed on whenever it passes the batch budget.
                bytes += body.len();
                if bytes > BATCH_BYTES as usize && !out.is_empty() {
                    let ready = std::mem::take(&mut out);
                    bytes = body.len();
                    let blocked = Instant::now();
                    let sent = early.send(ready).await;
                    timing::add(Step::FetchBlocked, blocked.elapsed());
                    if sent.is_err() {
                        return Ok(Vec::new());
                    }
                }
                out.push(RawMail {
                    uid,
                    flags: flags_of(&f),
                    raw: body.to_vec(),
                    size: u64::from(sizes.get(&uid).copied().unwrap_or(0)),
                });
            }
            Ok(Some(Err(e))) => return Err(c.imap(Stage::Fetch, e)),
            Ok(None) => break,
            Err(_) => return Err(c.timeout(Stage::Fetch)),
        }
    }
    Ok(out)
}

/// Bring one folder up to date with the server.
pub async fn sync_folder(
    ctx: &AccountCtx,
    session: &mut ImapSession,
    caps: &Caps,
    plan: &FolderPlan,
) -> Result<FolderOutcome, SyncError> {
    let c = connect::ctx(&ctx.acc);
    let acc = ctx.acc.name.as_str();
    let mb = if caps.condstore {
        bounded(
            &c,
            Stage::Select,
            READ_TIMEOUT,
            session.select_condstore(mutf7::encode(&plan.server)),
        )
        .await?
    } else {
        bounded(
            &c,
            Stage::Select,
            READ_TIMEOUT,
            session.select(mutf7::encode(&plan.server)),
        )
        .await?
    };
    // Unsolicited answers of earlier commands are not needed any more.
    while session.unsolicited_responses.try_recv().is_ok() {}
    tracing::debug!(folder = %plan.desk, exists = mb.exists, "folder selected");
    let uidvalidity = mb.uid_validity.unwrap_or(0);
    let uidnext = mb.uid_next.unwrap_or(0);
    let modseq = mb.highest_modseq.unwrap_or(0);
    let mut outcome = FolderOutcome::default();

    let mut stored = ctx.store.folder_state(acc, &plan.desk)?;
    let first_sync = stored.as_ref().is_none_or(|s| s.uidvalidity == 0);
    if let Some(st) = &stored
        && st.uidvalidity != 0
        && st.uidvalidity != uidvalidity
    {
        tracing::info!(
            account = acc,
            folder = %plan.desk,
            "UIDVALIDITY changed ({} -> {uidvalidity}): resyncing the folder",
            st.uidvalidity
        );
        ctx.store.reset_folder(acc, &plan.desk)?;
        stored = ctx.store.folder_state(acc, &plan.desk)?;
    }
    let known: Vec<(u32, u64)> = {
        let (store, a, d) = (Arc::clone(&ctx.store), acc.to_string(), plan.desk.clone());
        tokio::task::spawn_blocking(move || store.known_uids(&a, &d, uidvalidity))
            .await
            .map_err(|e| SyncError::Store(e.to_string()))??
    };
    tracing::debug!(folder = %plan.desk, known = known.len(), "stored UIDs read");
    let cursor = FolderState {
        name: plan.desk.clone(),
        server: (plan.server != plan.desk).then(|| plan.server.clone()),
        uidvalidity,
        uidnext: 0,
        highestmodseq: 0,
        special_use: plan.special_use.clone(),
        monitored: true,
        skip_notification: plan.skip_notification,
        ..FolderState::default()
    };
    let unchanged = stored.as_ref().is_some_and(|st| {
        st.uidvalidity == uidvalidity
            && st.uidnext == uidnext
            && known.len() == mb.exists as usize
            && (modseq == 0 || st.highestmodseq == modseq)
            && ctx.acc.fetch_since.is_none()
    });
    if unchanged && modseq != 0 {
        ctx.report.idle();
        return Ok(outcome);
    }

    let since = stored.as_ref().map(|s| s.highestmodseq).unwrap_or(0);
    let known_max = known.iter().map(|(u, _)| *u).max().unwrap_or(0);
    if caps.qresync
        && caps.qresync_enabled
        && since > 0
        && modseq > 0
        && known_max > 0
        && ctx.acc.fetch_since.is_none()
    {
        // QRESYNC: the server names what vanished and what changed since
        // our MODSEQ; no list of every UID is asked for.
        if since < modseq {
            let set = format!("1:{known_max}");
            let query = format!("(UID FLAGS) (CHANGEDSINCE {since} VANISHED)");
            let fetched = bounded(&c, Stage::Fetch, READ_TIMEOUT, async {
                metas(session.uid_fetch(&set, &query).await?).await
            })
            .await?;
            let known_map: HashMap<u32, u64> = known.iter().copied().collect();
            for f in &fetched {
                let uid = f.uid;
                if known_map.contains_key(&uid)
                    && ctx
                        .store
                        .set_flags(acc, &plan.desk, uidvalidity, uid, f.flags)?
                {
                    outcome.flag_changes += 1;
                }
            }
            for uid in vanished(session) {
                if known_map.contains_key(&uid)
                    && ctx
                        .store
                        .remove_location(acc, &plan.desk, uidvalidity, uid)?
                {
                    outcome.expunged += 1;
                }
            }
        }
        if outcome.expunged + outcome.flag_changes > 0 {
            ctx.report.event(SyncUpdate::FolderChanged {
                account: acc.to_string(),
                folder: plan.desk.clone(),
            });
        }
        // `n:*` always names the last mail, even one below n.
        let query = format!("UID {}:*", known_max.saturating_add(1));
        let found: HashSet<u32> =
            bounded(&c, Stage::Fetch, READ_TIMEOUT, session.uid_search(&query)).await?;
        let mut new: Vec<u32> = found.into_iter().filter(|u| *u > known_max).collect();
        new.sort_unstable_by(|a, b| b.cmp(a));
        return finish_folder(
            ctx,
            session,
            plan,
            &cursor,
            Todo::Uids(new),
            uidnext,
            modseq,
            first_sync,
            outcome,
        )
        .await;
    }

    if known.is_empty() && mb.exists > 0 && ctx.acc.fetch_since.is_none() {
        // Nothing stored: no diff to make, and the first rows need not wait
        // for the list of every UID.
        return finish_folder(
            ctx,
            session,
            plan,
            &cursor,
            Todo::Whole { exists: mb.exists },
            uidnext,
            modseq,
            first_sync,
            outcome,
        )
        .await;
    }

    // What the server has.
    let query = match ctx.acc.fetch_since.as_deref().and_then(imap_date) {
        Some(d) => format!("SINCE {d}"),
        None => "ALL".to_string(),
    };
    let server: HashSet<u32> =
        bounded(&c, Stage::Fetch, READ_TIMEOUT, session.uid_search(&query)).await?;
    tracing::debug!(folder = %plan.desk, uids = server.len(), known = known.len(), "server UIDs listed");
    let known_map: HashMap<u32, u64> = known.iter().copied().collect();

    // Expunged on the server.
    let gone: Vec<u32> = known_map
        .keys()
        .filter(|u| !server.contains(u))
        .copied()
        .collect();
    for uid in &gone {
        if ctx
            .store
            .remove_location(acc, &plan.desk, uidvalidity, *uid)?
        {
            outcome.expunged += 1;
        }
    }

    // Flag changes of mail already stored.
    let still: Vec<u32> = known_map
        .keys()
        .filter(|u| server.contains(u))
        .copied()
        .collect();
    if !still.is_empty() {
        let since = stored.as_ref().map(|s| s.highestmodseq).unwrap_or(0);
        let (set, query) = if caps.condstore && since > 0 && modseq > 0 {
            if since >= modseq {
                (String::new(), String::new())
            } else {
                (
                    "1:*".to_string(),
                    format!("(UID FLAGS) (CHANGEDSINCE {since})"),
                )
            }
        } else {
            (uid_set(&still), "(UID FLAGS)".to_string())
        };
        if !set.is_empty() {
            let fetched = bounded(&c, Stage::Fetch, READ_TIMEOUT, async {
                metas(session.uid_fetch(&set, &query).await?).await
            })
            .await?;
            for f in &fetched {
                let uid = f.uid;
                if !known_map.contains_key(&uid) {
                    continue;
                }
                if ctx
                    .store
                    .set_flags(acc, &plan.desk, uidvalidity, uid, f.flags)?
                {
                    outcome.flag_changes += 1;
                }
            }
        }
    }
    if outcome.expunged + outcome.flag_changes > 0 {
        ctx.report.event(SyncUpdate::FolderChanged {
            account: acc.to_string(),
            folder: plan.desk.clone(),
        });
    }

    // New mail, newest first.
    let mut new: Vec<u32> = server
        .iter()
        .filter(|u| !known_map.contains_key(u))
        .copied()
        .collect();
    new.sort_unstable_by(|a, b| b.cmp(a));
    finish_folder(
        ctx,
        session,
        plan,
        &cursor,
        Todo::Uids(new),
        uidnext,
        modseq,
        first_sync,
        outcome,
    )
    .await
}

/// UIDs the server reported as vanished (QRESYNC) since the last look.
fn vanished(session: &mut ImapSession) -> Vec<u32> {
    let mut out = Vec::new();
    while let Ok(r) = session.unsolicited_responses.try_recv() {
        if let async_imap::types::UnsolicitedResponse::Other(d) = r
            && let async_imap::imap_proto::Response::Vanished { uids, .. } = d.parsed()
        {
            for range in uids {
                out.extend(range.clone());
            }
        }
    }
    out
}

/// Fetch the new mail (newest first), then advance the folder's cursor.
#[allow(clippy::too_many_arguments)]
async fn finish_folder(
    ctx: &AccountCtx,
    session: &mut ImapSession,
    plan: &FolderPlan,
    cursor: &FolderState,
    new: Todo,
    uidnext: u32,
    modseq: u64,
    first_sync: bool,
    mut outcome: FolderOutcome,
) -> Result<FolderOutcome, SyncError> {
    let acc = ctx.acc.name.as_str();
    if !new.is_empty() {
        ctx.report.progress(&plan.desk, 0, new.len() as u64);
        outcome.new_messages = fetch_new(ctx, session, plan, cursor, new).await?;
    }

    // The folder is complete: advance its cursor.
    let mut done = cursor.clone();
    done.uidnext = uidnext;
    done.highestmodseq = modseq;
    ctx.store.ingest(Vec::new(), Some((acc, done)))?;
    let quiet = plan.skip_notification || ctx.store.is_quiet(acc, &plan.desk);
    if outcome.new_messages > 0 && !first_sync && !quiet {
        ctx.report.event(SyncUpdate::NewMail {
            account: acc.to_string(),
            folder: plan.desk.clone(),
            count: outcome.new_messages,
        });
    }
    Ok(outcome)
}

/// The desk's name for a server folder: the server's, sanitised, because it
/// is shown everywhere and may hold escape sequences.
pub fn desk_name(server: &str) -> String {
    let clean = crate::mail::sanitize::sanitize_line(server);
    if clean.is_empty() {
        "(unnamed folder)".to_string()
    } else {
        clean
    }
}

/// The server folder behind a desk folder.
fn server_folder(ctx: &AccountCtx, desk: &str) -> String {
    server_name(&ctx.acc, &ctx.store, desk)
}

fn server_name(acc: &AccountConfig, store: &Store, desk: &str) -> String {
    match &acc.target_folder {
        Some(t) if t == desk => "INBOX".to_string(),
        _ => store
            .folder_state(&acc.name, desk)
            .ok()
            .flatten()
            .and_then(|st| st.server)
            .unwrap_or_else(|| desk.to_string()),
    }
}

/// The whole source of one mail, for a mail imported as headers only
/// because of its size: asked for when the agent opens it.
pub async fn fetch_whole(
    acc: &AccountConfig,
    store: &Store,
    loc: &crate::store::Location,
) -> Result<Vec<u8>, SyncError> {
    let c = connect::ctx(acc);
    let server = server_name(acc, store, &loc.folder);
    let connect::Connected { mut session, .. } = connect::connect(acc).await?;
    let mb = bounded(
        &c,
        Stage::Select,
        READ_TIMEOUT,
        session.examine(mutf7::encode(&server)),
    )
    .await?;
    if mb.uid_validity != Some(loc.uidvalidity) {
        return Err(SyncError::Protocol {
            account: acc.name.clone(),
            doing: "fetching a whole mail".into(),
            server: format!("folder \"{}\" was recreated; sync again", loc.folder),
        });
    }
    let uid = loc.uid.to_string();
    let fetched: Vec<Fetch> = bounded(&c, Stage::Fetch, READ_TIMEOUT, async {
        session
            .uid_fetch(&uid, "(UID BODY.PEEK[])")
            .await?
            .try_collect()
            .await
    })
    .await?;
    let _ = tokio::time::timeout(Duration::from_secs(2), session.logout()).await;
    fetched
        .iter()
        .find_map(|f| f.body().map(<[u8]>::to_vec))
        .ok_or_else(|| SyncError::Protocol {
            account: acc.name.clone(),
            doing: "fetching a whole mail".into(),
            server: format!("the mail is no longer in \"{}\"", loc.folder),
        })
}

/// Push the changes queued at the desk. Consecutive changes of one folder
/// doing the same thing go as one UID set (a bulk archive of 500 marked mails
/// is one `UID MOVE`). A refusal rolls the store back and is shown; a broken
/// connection leaves the rest queued for the next session.
pub async fn push_changes(
    ctx: &AccountCtx,
    session: &mut ImapSession,
    caps: &Caps,
    trash: &str,
) -> Result<usize, SyncError> {
    use crate::store::changes::ChangeOp;
    let c = connect::ctx(&ctx.acc);
    let acc = ctx.acc.name.as_str();
    let pending = ctx.store.pending_changes(acc)?;
    let mut selected: Option<(String, u32)> = None;
    let mut pushed = 0;
    for group in group_changes(pending) {
        let first = &group[0];
        let server = server_folder(ctx, &first.folder);
        if selected.as_ref().map(|(n, _)| n) != Some(&server) {
            let mb = bounded(
                &c,
                Stage::Select,
                READ_TIMEOUT,
                session.select(mutf7::encode(&server)),
            )
            .await;
            match mb {
                Ok(mb) => selected = Some((server.clone(), mb.uid_validity.unwrap_or(0))),
                Err(e) if e.is_transient() && !matches!(e, SyncError::Protocol { .. }) => {
                    return Err(e);
                }
                Err(e) => {
                    refused(ctx, &group, &e.to_string())?;
                    continue;
                }
            }
        }
        if let ChangeOp::Restore { to, .. } = &first.op {
            // Moved by the desk earlier: the UIDs there are found by Message-ID.
            let mut uids = Vec::new();
            for change in &group {
                if let ChangeOp::Restore { message_id, .. } = &change.op {
                    let query = format!("HEADER Message-ID {}", imap_quote(message_id));
                    match session.uid_search(&query).await {
                        Ok(found) => uids.extend(found),
                        Err(async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_)) => {
                        }
                        Err(e) => return Err(c.imap(Stage::Store, e)),
                    }
                }
            }
            let result = if uids.is_empty() {
                Ok(())
            } else {
                move_uid(session, caps, &uid_set(&uids), &server_folder(ctx, to)).await
            };
            match result {
                Ok(()) => {
                    for change in &group {
                        ctx.store.finish_change(acc, change.seq)?;
                    }
                    ctx.report.event(SyncUpdate::FolderChanged {
                        account: acc.to_string(),
                        folder: to.clone(),
                    });
                    pushed += group.len();
                }
                Err(async_imap::error::Error::No(t) | async_imap::error::Error::Bad(t)) => {
                    refused(ctx, &group, &crate::mail::sanitize::sanitize_line(&t))?;
                }
                Err(e) => return Err(c.imap(Stage::Store, e)),
            }
            continue;
        }
        if selected.as_ref().map(|(_, v)| *v) != Some(first.uidvalidity) {
            // The folder was recreated since: the changes no longer apply.
            for change in &group {
                ctx.store.finish_change(acc, change.seq)?;
            }
            continue;
        }
        let uids: Vec<u32> = group.iter().map(|c| c.uid).collect();
        let uid = uid_set(&uids);
        let result: Result<(), async_imap::error::Error> = match &first.op {
            ChangeOp::Flags { add, remove, .. } => {
                let mut r = Ok(());
                for (sign, bits) in [('+', *add), ('-', *remove)] {
                    if bits == 0 || r.is_err() {
                        continue;
                    }
                    let query = format!("{sign}FLAGS.SILENT ({})", flag_names(bits));
                    r = async {
                        let _: Vec<Fetch> =
                            session.uid_store(&uid, &query).await?.try_collect().await?;
                        Ok(())
                    }
                    .await;
                }
                r
            }
            ChangeOp::Trash => move_uid(session, caps, &uid, trash).await,
            ChangeOp::Move { to } => move_uid(session, caps, &uid, &server_folder(ctx, to)).await,
            // Handled above.
            ChangeOp::Restore { .. } => Ok(()),
        };
        match result {
            Ok(()) => {
                let moved = !matches!(first.op, ChangeOp::Flags { .. });
                for change in &group {
                    if moved {
                        ctx.store.remove_location(
                            acc,
                            &change.folder,
                            change.uidvalidity,
                            change.uid,
                        )?;
                    }
                    ctx.store.finish_change(acc, change.seq)?;
                }
                if moved {
                    ctx.report.event(SyncUpdate::FolderChanged {
                        account: acc.to_string(),
                        folder: first.folder.clone(),
                    });
                }
                pushed += group.len();
            }
            Err(async_imap::error::Error::No(t) | async_imap::error::Error::Bad(t)) => {
                refused(ctx, &group, &crate::mail::sanitize::sanitize_line(&t))?;
            }
            Err(e) => return Err(c.imap(Stage::Store, e)),
        }
    }
    Ok(pushed)
}

/// Runs of queued changes that can go to the server as one command: same
/// folder, same UIDVALIDITY, same operation (for flags: same bits).
fn group_changes(
    pending: Vec<crate::store::changes::PendingChange>,
) -> Vec<Vec<crate::store::changes::PendingChange>> {
    use crate::store::changes::ChangeOp;
    fn same(a: &ChangeOp, b: &ChangeOp) -> bool {
        match (a, b) {
            (
                ChangeOp::Flags {
                    add: a1,
                    remove: r1,
                    ..
                },
                ChangeOp::Flags {
                    add: a2,
                    remove: r2,
                    ..
                },
            ) => a1 == a2 && r1 == r2,
            (ChangeOp::Restore { to: t1, .. }, ChangeOp::Restore { to: t2, .. }) => t1 == t2,
            _ => a == b,
        }
    }
    // A long UID set is still one line; keep it well under servers' limits.
    const MAX_GROUP: usize = 1000;
    let mut out: Vec<Vec<crate::store::changes::PendingChange>> = Vec::new();
    for change in pending {
        match out.last_mut() {
            Some(g)
                if g.len() < MAX_GROUP
                    && g[0].folder == change.folder
                    && g[0].uidvalidity == change.uidvalidity
                    && same(&g[0].op, &change.op) =>
            {
                g.push(change)
            }
            _ => out.push(vec![change]),
        }
    }
    out
}

/// The server said no: undo the changes in the store and tell the agent.
fn refused(
    ctx: &AccountCtx,
    changes: &[crate::store::changes::PendingChange],
    why: &str,
) -> Result<(), SyncError> {
    use crate::store::changes::ChangeOp;
    let acc = ctx.acc.name.as_str();
    let Some(first) = changes.first() else {
        return Ok(());
    };
    for change in changes {
        if let ChangeOp::Flags { before, .. } = change.op {
            ctx.store
                .set_flags(acc, &change.folder, change.uidvalidity, change.uid, before)?;
        }
    }
    let mails = if changes.len() == 1 {
        "a mail".to_string()
    } else {
        format!("{} mails", changes.len())
    };
    let what = match &first.op {
        ChangeOp::Flags { .. } => "changing flags".to_string(),
        ChangeOp::Trash => format!("moving {mails} to Trash"),
        ChangeOp::Move { to } | ChangeOp::Restore { to, .. } => format!(
            "moving {mails} to \"{}\"",
            crate::mail::sanitize::sanitize_line(to)
        ),
    };
    let msg = format!(
        "account \"{}\": the server refused {what} in \"{}\": \"{why}\"; the change was undone",
        crate::mail::sanitize::sanitize_line(acc),
        crate::mail::sanitize::sanitize_line(&first.folder)
    );
    tracing::warn!("{msg}");
    ctx.report.event(SyncUpdate::Error(msg));
    ctx.report.event(SyncUpdate::FolderChanged {
        account: acc.to_string(),
        folder: first.folder.clone(),
    });
    for change in changes {
        ctx.store.finish_change(acc, change.seq)?;
    }
    Ok(())
}

/// A string as an IMAP quoted string (Message-IDs are plain ASCII).
fn imap_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn flag_names(bits: u8) -> String {
    let mut v = Vec::new();
    for (b, name) in [
        (flags::SEEN, "\\Seen"),
        (flags::FLAGGED, "\\Flagged"),
        (flags::ANSWERED, "\\Answered"),
        (flags::DELETED, "\\Deleted"),
        (flags::DRAFT, "\\Draft"),
    ] {
        if bits & b != 0 {
            v.push(name);
        }
    }
    v.join(" ")
}

/// MOVE when offered, else COPY + \Deleted + UID EXPUNGE of just these UIDs.
async fn move_uid(
    session: &mut ImapSession,
    caps: &Caps,
    uid: &str,
    to: &str,
) -> Result<(), async_imap::error::Error> {
    let to = mutf7::encode(to);
    if caps.mv {
        return session.uid_mv(uid, &to).await;
    }
    session.uid_copy(uid, &to).await?;
    let _: Vec<Fetch> = session
        .uid_store(uid, "+FLAGS.SILENT (\\Deleted)")
        .await?
        .try_collect()
        .await?;
    if caps.uidplus {
        let _: Vec<u32> = session.uid_expunge(uid).await?.try_collect().await?;
    }
    Ok(())
}

/// A logged-in, synced session, ready for IDLE.
pub struct Live {
    pub session: ImapSession,
    pub caps: Caps,
    /// Monitored folders, INBOX last.
    pub plans: Vec<FolderPlan>,
    /// Where deleted mail goes.
    pub trash: String,
    /// Mails new in this sync.
    pub new: usize,
}

/// Connect, list folders, push queued desk changes and sync every monitored
/// folder once. Returns the open session for IDLE.
pub async fn sync_account_once(ctx: &AccountCtx) -> Result<Live, SyncError> {
    ctx.report.state(SyncState::Connecting);
    let c = connect::ctx(&ctx.acc);
    let connect::Connected {
        mut session,
        mut caps,
    } = connect::connect(&ctx.acc).await?;
    if caps.qresync {
        // Refused or not, the sync goes on; without it, a UID SEARCH diff.
        caps.qresync_enabled = bounded(
            &c,
            Stage::Login,
            READ_TIMEOUT,
            session.run_command_and_check_ok("ENABLE QRESYNC"),
        )
        .await
        .is_ok();
    }
    let (mut list, subscribed) = list_for_plan(&c, &mut session, &ctx.acc).await?;
    create_filter_folders(ctx, &mut session, &mut list).await;
    let (plans, warning) = plan_folders(&ctx.acc, &list, &subscribed);
    if let Some(w) = warning {
        tracing::warn!(account = %ctx.acc.name, "{w}");
        ctx.report.event(SyncUpdate::Error(w.to_string()));
    }
    // Record the special use of every listed folder for the folder pane.
    for (name, special) in &list {
        if special.is_some() && !plans.iter().any(|p| &p.server == name) {
            let desk = desk_name(name);
            let mut st = ctx
                .store
                .folder_state(&ctx.acc.name, &desk)?
                .unwrap_or_else(|| FolderState {
                    server: (desk != *name).then(|| name.clone()),
                    name: desk,
                    ..FolderState::default()
                });
            if st.special_use != *special {
                st.special_use = special.clone();
                ctx.store.put_folder_state(&ctx.acc.name, &st)?;
            }
        }
    }
    let trash = crate::mail::folders::find(&list, crate::mail::folders::SpecialFolder::Trash)
        .unwrap_or_else(|| "Trash".to_string());
    // Every folder, for moving mail to ones that are not synced.
    let synced: Vec<String> = plans.iter().map(|p| p.server.clone()).collect();
    let listed = count_folders(&c, &mut session, list, &synced).await?;
    ctx.store.put_server_folders(&ctx.acc.name, &listed)?;
    push_changes(ctx, &mut session, &caps, &trash).await?;
    tracing::debug!(account = %ctx.acc.name, folders = plans.len(), "folders listed and counted");
    // INBOX last, so it stays selected for IDLE.
    let mut plans = plans;
    plans.sort_by_key(|p| p.server.eq_ignore_ascii_case("INBOX"));
    let mut new = 0;
    for plan in &plans {
        let o = sync_folder(ctx, &mut session, &caps, plan).await?;
        new += o.new_messages;
    }
    file_filtered(ctx, &mut session, &caps, &trash, &plans).await?;
    ctx.report.idle();
    Ok(Live {
        session,
        caps,
        plans,
        trash,
        new,
    })
}

/// Push what the filters of this sync queued (moves, \Seen) and sync the
/// folders mail was filed into, so one sync files it; INBOX stays selected.
async fn file_filtered(
    ctx: &AccountCtx,
    session: &mut ImapSession,
    caps: &Caps,
    trash: &str,
    plans: &[FolderPlan],
) -> Result<(), SyncError> {
    let targets = filter_targets(&ctx.acc);
    if ctx.acc.filters.is_empty() || ctx.store.pending_changes(&ctx.acc.name)?.is_empty() {
        return Ok(());
    }
    push_changes(ctx, session, caps, trash).await?;
    let mut again: Vec<&FolderPlan> = plans
        .iter()
        .filter(|p| targets.contains(&p.server) || targets.contains(&p.desk))
        .collect();
    again.extend(
        plans
            .iter()
            .filter(|p| p.server.eq_ignore_ascii_case("INBOX")),
    );
    for plan in again {
        sync_folder(ctx, session, caps, plan).await?;
    }
    Ok(())
}

/// Why an idle wait ended.
enum Wake {
    Server,
    Timer,
    Asked,
    Shutdown,
}

/// Wait on INBOX with IDLE (or a timer without it) for up to `limit`.
async fn wait_for_change(
    c: &Ctx<'_>,
    session: ImapSession,
    caps: &Caps,
    limit: Duration,
    wake: &Notify,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<(ImapSession, Wake), SyncError> {
    // Changes reported while the last sync ran: sync again before waiting.
    let mut pending = false;
    while let Ok(r) = session.unsolicited_responses.try_recv() {
        use async_imap::types::UnsolicitedResponse as U;
        pending |= match r {
            U::Exists(_) | U::Expunge(_) => true,
            U::Other(d) => matches!(
                d.parsed(),
                async_imap::imap_proto::Response::Fetch(..)
                    | async_imap::imap_proto::Response::Vanished { .. }
            ),
            _ => false,
        };
    }
    if pending {
        return Ok((session, Wake::Server));
    }
    if !caps.idle {
        let why = tokio::select! {
            _ = tokio::time::sleep(limit) => Wake::Timer,
            _ = wake.notified() => Wake::Asked,
            _ = shutdown.wait_for(|v| *v) => Wake::Shutdown,
        };
        return Ok((session, why));
    }
    let mut handle = session.idle();
    bounded(c, Stage::Idle, READ_TIMEOUT, handle.init()).await?;
    let why = {
        let (fut, stop) = handle.wait_with_timeout(limit);
        tokio::pin!(fut);
        let why = tokio::select! {
            r = &mut fut => match r {
                Ok(async_imap::extensions::idle::IdleResponse::NewData(_)) => Wake::Server,
                Ok(_) => Wake::Timer,
                Err(e) => return Err(c.imap(Stage::Idle, e)),
            },
            _ = wake.notified() => Wake::Asked,
            _ = shutdown.wait_for(|v| *v) => Wake::Shutdown,
        };
        drop(stop);
        why
    };
    let session = bounded(c, Stage::Idle, READ_TIMEOUT, handle.done()).await?;
    Ok((session, why))
}

/// Keep one account in sync until `shutdown`: sync, IDLE on INBOX, poll the
/// other folders every `check_interval_secs`. Errors end the session; the
/// caller reconnects.
pub async fn run_session(
    ctx: &AccountCtx,
    wake: &Notify,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    new_total: &mut usize,
    healthy: &mut bool,
) -> Result<(), SyncError> {
    let c = connect::ctx(&ctx.acc);
    let Live {
        mut session,
        caps,
        plans,
        trash,
        new,
    } = sync_account_once(ctx).await?;
    *new_total += new;
    *healthy = true;
    // check_interval_secs = 0: manual only, no IDLE and no timed polls.
    let manual = ctx.acc.check_interval_secs == 0;
    let interval = if manual {
        IDLE_MAX
    } else {
        Duration::from_secs(ctx.acc.check_interval_secs.max(5))
    };
    let caps = Caps {
        idle: caps.idle && !manual,
        ..caps
    };
    // The folder synced last is the one still selected: INBOX when monitored.
    let inbox = plans.len().saturating_sub(1);
    let mut last_poll = Instant::now();
    loop {
        let left = interval.saturating_sub(last_poll.elapsed()).min(IDLE_MAX);
        let (s, why) = wait_for_change(&c, session, &caps, left, wake, shutdown).await?;
        session = s;
        match why {
            Wake::Shutdown => {
                let _ = tokio::time::timeout(Duration::from_secs(2), session.logout()).await;
                return Ok(());
            }
            Wake::Server => {
                ctx.report.state(SyncState::Syncing { done: 0, total: 0 });
                if let Some(p) = plans.get(inbox) {
                    *new_total += sync_folder(ctx, &mut session, &caps, p).await?.new_messages;
                }
                file_filtered(ctx, &mut session, &caps, &trash, &plans).await?;
            }
            Wake::Timer if manual => {
                // Only keeps the connection alive until the agent asks.
                bounded(&c, Stage::Idle, READ_TIMEOUT, session.noop()).await?;
                last_poll = Instant::now();
                continue;
            }
            Wake::Timer | Wake::Asked => {
                ctx.report.state(SyncState::Syncing { done: 0, total: 0 });
                push_changes(ctx, &mut session, &caps, &trash).await?;
                for p in &plans {
                    *new_total += sync_folder(ctx, &mut session, &caps, p).await?.new_messages;
                }
                last_poll = Instant::now();
            }
        }
        ctx.report.idle();
    }
}

/// Exponential backoff with jitter: 1, 2, 4 … 300 seconds, ±25 %.
pub fn backoff(attempt: u32) -> Duration {
    let base = 1u64 << attempt.min(9);
    let base = base.min(300) as f64;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = (nanos % 1000) as f64 / 1000.0 * 0.5 - 0.25;
    Duration::from_millis((base * (1.0 + jitter) * 1000.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_changes_group_by_folder_and_operation() {
        use crate::store::changes::{ChangeOp, PendingChange};
        let c = |uid, folder: &str, op: ChangeOp| PendingChange {
            seq: uid as u64,
            account: "a".into(),
            folder: folder.into(),
            uidvalidity: 1,
            uid,
            id: uid as u64,
            op,
        };
        let arch = || ChangeOp::Move {
            to: "Archive".into(),
        };
        let seen = |before| ChangeOp::Flags {
            add: flags::SEEN,
            remove: 0,
            before,
        };
        let groups = group_changes(vec![
            c(1, "INBOX", arch()),
            c(2, "INBOX", arch()),
            c(3, "Other", arch()),
            c(4, "Other", seen(0)),
            c(5, "Other", seen(flags::FLAGGED)),
            c(6, "Other", ChangeOp::Trash),
        ]);
        let uids: Vec<Vec<u32>> = groups
            .iter()
            .map(|g| g.iter().map(|c| c.uid).collect())
            .collect();
        assert_eq!(uids, vec![vec![1, 2], vec![3], vec![4, 5], vec![6]]);
    }

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[5, 1, 2, 3, 9, 10, 7]), "1:3,5,7,9:10");
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[4]), "4");
    }

    #[test]
    fn sent_is_found_by_special_use_then_name() {
        let l = vec![
            ("INBOX".to_string(), None),
            ("Gesendet".to_string(), Some("\\Sent".to_string())),
        ];
        assert_eq!(find_sent(&l).as_deref(), Some("Gesendet"));
        let l = vec![
            ("INBOX".to_string(), None),
            ("Sent Items".to_string(), None),
        ];
        assert_eq!(find_sent(&l).as_deref(), Some("Sent Items"));
        assert_eq!(find_sent(&[("INBOX".to_string(), None)]), None);
    }

    #[test]
    fn batches_are_small_first_then_bounded_by_count_and_bytes() {
        let uids: Vec<u32> = (1..=2000).rev().collect();
        let mut sizes: HashMap<u32, u32> = uids.iter().map(|u| (*u, 1000)).collect();
        sizes.insert(1500, 20 * 1024 * 1024);
        let b = plan_batches(&uids, &sizes, FIRST_CHUNK);
        assert_eq!(b[0].len(), FIRST_CHUNK);
        assert!(b.iter().all(|c| c.len() <= CHUNK));
        assert!(b.iter().any(|c| c == &vec![1500]), "a huge mail goes alone");
        let flat: Vec<u32> = b.concat();
        assert_eq!(flat, uids, "every UID once, newest first");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) <= Duration::from_millis(1250));
        assert!(backoff(3) >= Duration::from_secs(6));
        assert!(backoff(30) <= Duration::from_secs(375));
    }

    #[test]
    fn since_is_an_imap_date() {
        assert_eq!(imap_date("2026-01-31").as_deref(), Some("31-Jan-2026"));
    }
}

/// A change to an account's folders, asked for from the desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderOp {
    Create(String),
    Rename { from: String, to: String },
    Delete(String),
}

impl FolderOp {
    fn doing(&self) -> String {
        let q = |s: &str| crate::mail::sanitize::sanitize_line(s);
        match self {
            FolderOp::Create(n) => format!("creating folder \"{}\"", q(n)),
            FolderOp::Rename { from, to } => {
                format!("renaming folder \"{}\" to \"{}\"", q(from), q(to))
            }
            FolderOp::Delete(n) => format!("deleting folder \"{}\"", q(n)),
        }
    }
}

/// Why a folder change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum FolderOpError {
    /// The server said NO or BAD; its words, sanitised.
    #[error("the server refused {doing}: \"{server}\"")]
    Refused { doing: String, server: String },
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// Most folders whose mails are counted (STATUS) per listing: the rest stay
/// uncounted so an account with thousands of folders still starts quickly.
const STATUS_MAX: usize = 50;

/// The server's whole listing with the special uses and, for folders that
/// are not synced (their count is in the store), the number of mails.
pub async fn list_server_folders(
    c: &Ctx<'_>,
    session: &mut ImapSession,
    synced: &[String],
) -> Result<Vec<crate::store::ServerFolder>, SyncError> {
    let list = list_folders(c, session).await?;
    count_folders(c, session, list, synced).await
}

/// The listing as the store keeps it, with unsynced folders counted.
async fn count_folders(
    c: &Ctx<'_>,
    session: &mut ImapSession,
    list: Vec<(String, Option<String>)>,
    synced: &[String],
) -> Result<Vec<crate::store::ServerFolder>, SyncError> {
    let mut out = Vec::with_capacity(list.len());
    let mut counted = 0;
    for (name, special_use) in list {
        let mut messages = None;
        if !synced.contains(&name) && counted < STATUS_MAX {
            counted += 1;
            let status = bounded(
                c,
                Stage::List,
                READ_TIMEOUT,
                session.status(mutf7::encode(&name), "(MESSAGES)"),
            )
            .await;
            // A folder that cannot be counted is still listed.
            messages = status.ok().map(|mb| u64::from(mb.exists));
        }
        out.push(crate::store::ServerFolder {
            name: desk_name(&name),
            special_use,
            messages,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Create, rename or delete a folder on the account's server over a
/// connection of its own; answers the server's listing afterwards.
pub async fn folder_op(
    acc: &AccountConfig,
    op: &FolderOp,
) -> Result<Vec<crate::store::ServerFolder>, FolderOpError> {
    let c = connect::ctx(acc);
    let connect::Connected { mut session, .. } = connect::connect(acc).await?;
    let fut = async {
        match op {
            FolderOp::Create(n) => session.create(mutf7::encode(n)).await,
            FolderOp::Rename { from, to } => {
                session.rename(mutf7::encode(from), mutf7::encode(to)).await
            }
            FolderOp::Delete(n) => session.delete(mutf7::encode(n)).await,
        }
    };
    let done = tokio::time::timeout(READ_TIMEOUT, fut).await;
    let result = match done {
        Ok(Ok(())) => Ok(()),
        Ok(Err(async_imap::error::Error::No(t) | async_imap::error::Error::Bad(t))) => {
            Err(FolderOpError::Refused {
                doing: op.doing(),
                server: crate::mail::sanitize::sanitize_line(t.trim()),
            })
        }
        Ok(Err(e)) => Err(c.imap(Stage::Store, e).into()),
        Err(_) => Err(c.timeout(Stage::Store).into()),
    };
    let listed = match result {
        Ok(()) => {
            let synced: Vec<String> = acc.folders.names().to_vec();
            list_server_folders(&c, &mut session, &synced)
                .await
                .map_err(FolderOpError::from)
        }
        Err(e) => Err(e),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), session.logout()).await;
    listed
}
