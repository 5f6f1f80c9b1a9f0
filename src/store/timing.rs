//! Where ingest time goes, summed over the process: each stage of the sync
//! path adds the time it spent, and `deskmail sync` logs the totals at the
//! end (the sync bench prints them). Counting costs two clock reads a step.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One measured step of the ingest path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Waiting for the server's FETCH answers (sizes and bodies).
    FetchWait,
    /// The fetcher waiting for room in the parse queue (downstream is slower).
    FetchBlocked,
    /// Parsing on the blocking pool, summed over its threads.
    Parse,
    /// The writer waiting for parsed mail (upstream is slower).
    WriterIdle,
    /// Building a batch: dedup and thread look-ups, linking, encoding rows.
    Build,
    /// Writing and fsyncing a segment of bodies.
    Bodies,
    /// sled's `apply_batch` of the index rows.
    Apply,
    /// The final flush of the store.
    Flush,
}

const STEPS: [(Step, &str); 8] = [
    (Step::FetchWait, "fetch_wait"),
    (Step::FetchBlocked, "fetch_blocked"),
    (Step::Parse, "parse_cpu"),
    (Step::WriterIdle, "writer_idle"),
    (Step::Build, "build"),
    (Step::Bodies, "bodies"),
    (Step::Apply, "apply"),
    (Step::Flush, "flush"),
];

static NANOS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];
static BATCHES: AtomicU64 = AtomicU64::new(0);
static KEYS: AtomicU64 = AtomicU64::new(0);
static MAILS: AtomicU64 = AtomicU64::new(0);

fn slot(step: Step) -> &'static AtomicU64 {
    let i = STEPS.iter().position(|(s, _)| *s == step).unwrap_or(0);
    &NANOS[i]
}

pub fn add(step: Step, d: Duration) {
    slot(step).fetch_add(
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// Time `f` as `step`.
pub fn time<T>(step: Step, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    add(step, t.elapsed());
    out
}

/// One index batch written: its mails and sled keys.
pub fn batch(mails: usize, keys: usize) {
    BATCHES.fetch_add(1, Ordering::Relaxed);
    MAILS.fetch_add(mails as u64, Ordering::Relaxed);
    KEYS.fetch_add(keys as u64, Ordering::Relaxed);
}

/// Start counting afresh (the bench, between runs).
pub fn reset() {
    for n in &NANOS {
        n.store(0, Ordering::Relaxed);
    }
    for n in [&BATCHES, &KEYS, &MAILS] {
        n.store(0, Ordering::Relaxed);
    }
}

/// `fetch_wait_s=… parse_cpu_s=… … batches=N keys_per_mail=K`.
pub fn summary() -> String {
    let mut out = String::new();
    for (i, (_, name)) in STEPS.iter().enumerate() {
        let s = NANOS[i].load(Ordering::Relaxed) as f64 / 1e9;
        out.push_str(&format!("{name}_s={s:.3} "));
    }
    let mails = MAILS.load(Ordering::Relaxed);
    let keys = KEYS.load(Ordering::Relaxed);
    out.push_str(&format!(
        "batches={} keys_per_mail={:.1}",
        BATCHES.load(Ordering::Relaxed),
        if mails == 0 {
            0.0
        } else {
            keys as f64 / mails as f64
        }
    ));
    out
}
