//! The background indexer: one thread that keeps the index behind the store,
//! never in the sync's path. It catches up on start (from the committed
//! watermark), reconciles states, then wakes on a nudge or a short tick.

use super::SearchIndex;
use crate::store::Store;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// New mail is found by one seek past the watermark, so polling this often is cheap.
const TICK: Duration = Duration::from_secs(2);
/// Flag changes made on the server by other clients are picked up this often.
const RECONCILE_EVERY: Duration = Duration::from_secs(300);
/// Changes arriving together (a batch of flag edits) are indexed together.
const DEBOUNCE: Duration = Duration::from_millis(150);

enum Wake {
    NewMail,
    Changed(Vec<u64>),
    Stop,
}

/// Nudges the indexer; dropping the last handle stops it.
#[derive(Clone)]
pub struct IndexerHandle {
    tx: Sender<Wake>,
    index: Arc<SearchIndex>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl IndexerHandle {
    /// An ingest batch landed.
    pub fn new_mail(&self) {
        let _ = self.tx.send(Wake::NewMail);
    }

    /// These mails' flags, folders or links changed.
    pub fn changed(&self, ids: Vec<u64>) {
        if !ids.is_empty() {
            let _ = self.tx.send(Wake::Changed(ids));
        }
    }

    pub fn index(&self) -> &Arc<SearchIndex> {
        &self.index
    }

    /// Stop the indexer and wait for it (it lets go of the store and index).
    pub fn shutdown(&self) {
        let _ = self.tx.send(Wake::Stop);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread
            && t.join().is_err()
        {
            tracing::error!("search indexer stopped abnormally");
        }
    }
}

/// Start the indexer thread over `index` and `store`.
pub fn spawn(index: Arc<SearchIndex>, store: Arc<Store>) -> IndexerHandle {
    spawn_notifying(index, store, || {})
}

/// Start the indexer; `on_change` runs after each commit that took in new or
/// changed mail, so open searches can ask again.
pub fn spawn_notifying(
    index: Arc<SearchIndex>,
    store: Arc<Store>,
    on_change: impl Fn() + Send + 'static,
) -> IndexerHandle {
    let (tx, rx) = channel();
    let shared = Arc::clone(&index);
    let started = std::thread::Builder::new()
        .name("search-indexer".into())
        .spawn(move || run(&index, &store, &rx, &on_change));
    let thread = match started {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::error!("search indexer could not start: {e}; search shows older results");
            None
        }
    };
    IndexerHandle {
        tx,
        index: shared,
        thread: Arc::new(Mutex::new(thread)),
    }
}

fn log_err<T>(what: &str, r: super::Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::error!("search indexer: {what}: {e}");
            None
        }
    }
}

/// Linux nice values are per thread and inherited by threads it starts: the
/// indexer and its render workers yield the cores to the interface and the sync.
fn lower_priority() {
    // SAFETY: setpriority on the calling thread's own id has no memory effects.
    let r = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10)
    };
    if r != 0 {
        tracing::debug!("search indexer keeps normal priority");
    }
}

fn run(index: &SearchIndex, store: &Store, rx: &Receiver<Wake>, on_change: &dyn Fn()) {
    lower_priority();
    let n = log_err("catching up", index.catch_up(store, &mut |_, _| {}));
    tracing::info!(
        "search indexer started; {} new mails indexed",
        n.unwrap_or(0)
    );
    let fixed = log_err("reconciling", index.reconcile(store));
    if n.unwrap_or(0) > 0 || fixed.unwrap_or(0) > 0 {
        on_change();
    }
    let mut last_reconcile = Instant::now();
    // Changed mails are refreshed again on the next round too: a move to the
    // server may finish after the nudge.
    let mut again: Vec<u64> = Vec::new();
    loop {
        let retry = std::mem::take(&mut again);
        let mut changed: Vec<u64> = Vec::new();
        match rx.recv_timeout(TICK) {
            Ok(Wake::Stop) => return,
            Ok(w) => {
                absorb(w, &mut changed);
                std::thread::sleep(DEBOUNCE);
                while let Ok(w) = rx.try_recv() {
                    if matches!(w, Wake::Stop) {
                        return;
                    }
                    absorb(w, &mut changed);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let n = log_err("indexing new mail", index.catch_up(store, &mut |_, _| {}));
        let mut took_in = n.unwrap_or(0) > 0;
        changed.sort_unstable();
        changed.dedup();
        // Retried once only: refreshing them every tick would commit forever.
        let mut refresh = changed.clone();
        refresh.extend(retry);
        refresh.sort_unstable();
        refresh.dedup();
        if !refresh.is_empty() {
            took_in |= log_err("refreshing changed mail", index.refresh(store, &refresh)).is_some();
        }
        again = changed;
        if last_reconcile.elapsed() >= RECONCILE_EVERY {
            took_in |= log_err("reconciling", index.reconcile(store)).unwrap_or(0) > 0;
            last_reconcile = Instant::now();
        }
        if took_in {
            on_change();
        }
    }
}

fn absorb(w: Wake, changed: &mut Vec<u64>) {
    match w {
        Wake::NewMail | Wake::Stop => {}
        Wake::Changed(ids) => changed.extend(ids),
    }
}
