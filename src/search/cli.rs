//! `deskmail search` and `deskmail reindex`: open the index (and the store
//! when the index may be behind it), bring the index up to date, print. Every mail string printed goes
//! through the sanitiser, in text and in JSON alike.

use super::{Hit, SearchError, SearchIndex};
use crate::console;
use crate::mail::sanitize::{display_width, sanitize_line, truncate_to_width};
use crate::store::Store;
use std::path::Path;

/// Exit code of a query that could not be read.
pub const EXIT_BAD_QUERY: i32 = 2;

/// Up to this many mails a search checks the whole index against the store
/// (about 0.1 s at 20,000 on 2 cores) so the next searches need not open it;
/// a larger desk is checked by `deskmail reindex`, seconds a search should not take.
const CHECK_INLINE_MAX: u64 = 30_000;

fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what.to_string());
    bar
}

fn date_of(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn folders_of(hit: &Hit) -> Vec<String> {
    hit.places
        .iter()
        .map(|(a, f, _)| sanitize_line(&format!("{a}/{f}")))
        .collect()
}

fn pad(s: &str, w: usize) -> String {
    let t = truncate_to_width(s, w);
    let fill = w.saturating_sub(display_width(&t));
    format!("{t}{}", " ".repeat(fill))
}

/// One line of text: date, sender, subject, folder(s), id.
pub fn text_line(hit: &Hit) -> String {
    let s = &hit.summary;
    format!(
        "{}  {}  {}  {}  {}",
        date_of(s.date),
        pad(&sanitize_line(s.sender()), 24),
        pad(&sanitize_line(&s.subject), 50),
        folders_of(hit).join(","),
        s.id
    )
}

/// One JSON object (one line).
pub fn json_line(hit: &Hit) -> String {
    let s = &hit.summary;
    let from = s.from.first();
    let v = serde_json::json!({
        "id": s.id,
        "date": chrono::DateTime::from_timestamp(s.date, 0).map(|d| d.to_rfc3339()),
        "from": sanitize_line(from.map(|p| p.name.as_str()).unwrap_or("")),
        "from_email": sanitize_line(from.map(|p| p.email.as_str()).unwrap_or("")),
        "subject": sanitize_line(&s.subject),
        "folders": folders_of(hit),
        "message_id": sanitize_line(&s.message_id),
    });
    console::json(&v).unwrap_or_default()
}

fn open_store(data_dir: &Path) -> anyhow::Result<Store> {
    if !data_dir.join("store").exists() {
        anyhow::bail!(
            "no mail store in {}: run `deskmail sync` or pass --data-dir",
            data_dir.display()
        );
    }
    Ok(Store::open(data_dir)?)
}

/// `deskmail search`: exit 0 with hits, 1 without, 2 on a bad query.
/// While the store is unchanged since a search found the index matching it,
/// the index answers alone: opening the store is most of a search's time.
pub fn search(data_dir: &Path, query: &str, json: bool, limit: usize) -> anyhow::Result<i32> {
    if let Err(e) = super::query::parse(query, chrono::Utc::now().timestamp()) {
        let msg = sanitize_line(&e.to_string());
        tracing::info!("bad query: {msg}");
        console::err(&format!("bad query: {msg}"));
        return Ok(EXIT_BAD_QUERY);
    }
    let Some(stamp) = super::store_stamp(data_dir) else {
        // No store: say so the usual way.
        open_store(data_dir)?;
        return Ok(1);
    };
    let index = SearchIndex::open(data_dir)?;
    if index.is_current_for(Some(stamp)) {
        tracing::info!("search answered from the index alone: the store is unchanged");
        return print_hits(index.search_alone(query, limit), json);
    }
    let store = match open_store(data_dir) {
        Ok(s) => s,
        Err(e) if index.watermark() > 0 => {
            // A running desk holds the store, and its indexer keeps the index current.
            let msg = sanitize_line(&format!(
                "the store could not be opened ({e}); answering from the search index alone, \
                 which may miss the last seconds of changes"
            ));
            tracing::info!("{msg}");
            console::err(&format!("note: {msg}"));
            return print_hits(index.search_alone(query, limit), json);
        }
        Err(e) => return Err(e),
    };
    let behind = store
        .message_ids_after(index.watermark(), usize::MAX)?
        .len() as u64;
    if behind > 0 {
        let bar = progress_bar(behind, "indexing");
        index.catch_up(&store, &mut |done, _| bar.set_position(done))?;
        bar.finish_and_clear();
    }
    let code = print_hits(index.search(&store, query, limit), json)?;
    if store.message_count() > CHECK_INLINE_MAX {
        // Nothing to flush: skip sled's closing wait.
        std::mem::forget(store);
        return Ok(code);
    }
    // Check the whole index against the store once, so the next searches
    // need not open it; the stamp is taken once sled has closed its files.
    match index.reconcile(&store) {
        Ok(_) => {
            drop(store);
            if let Some(now) = super::store_stamp(data_dir)
                && let Err(e) = index.mark_current(now)
            {
                tracing::warn!("search index not marked current: {e}");
            }
        }
        Err(e) => {
            tracing::warn!("search index not checked against the store: {e}");
            // Nothing to flush: skip sled's closing wait.
            std::mem::forget(store);
        }
    }
    Ok(code)
}

fn print_hits(hits: super::Result<Vec<Hit>>, json: bool) -> anyhow::Result<i32> {
    let hits = match hits {
        Ok(h) => h,
        Err(SearchError::Query(e)) => {
            console::err(&format!("bad query: {e}"));
            return Ok(EXIT_BAD_QUERY);
        }
        Err(e) => return Err(e.into()),
    };
    for h in &hits {
        console::out(&if json { json_line(h) } else { text_line(h) });
    }
    Ok(if hits.is_empty() { 1 } else { 0 })
}

/// `deskmail reindex`: delete the index and build it again from the store.
pub fn reindex(data_dir: &Path) -> anyhow::Result<i32> {
    let store = open_store(data_dir)?;
    let started = std::time::Instant::now();
    let bar = progress_bar(store.message_count(), "indexing");
    let index = SearchIndex::rebuild(data_dir, &store, &mut |done, _| bar.set_position(done))?;
    bar.finish_and_clear();
    // Built from this store whole: searches answer from the index alone
    // until the store changes.
    drop(store);
    if let Some(stamp) = super::store_stamp(data_dir) {
        index.mark_current(stamp)?;
    }
    console::out(&format!(
        "indexed {} mails in {:.1} s; the index takes {:.1} MB in {}",
        index.len(),
        started.elapsed().as_secs_f64(),
        index.size_on_disk() as f64 / 1e6,
        index.dir().display()
    ));
    Ok(0)
}
