//! Keeps the server's Drafts folder in step with the desk's drafts: one task
//! per desk takes saves and deletions in order, waits for the agent to pause,
//! and at start brings in drafts other clients left on the server.

use crate::config::{AccountKind, Config};
use crate::protocol::Event;
use crate::store::Store;
use crate::store::drafts::StoredDraft;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long saves are gathered before one APPEND: typing bursts make one.
const PAUSE: Duration = Duration::from_secs(2);

/// What the server's copy of a draft must become.
#[derive(Debug, Clone)]
pub enum DraftJob {
    Put(StoredDraft),
    Remove(StoredDraft),
}

impl DraftJob {
    fn draft(&self) -> &StoredDraft {
        match self {
            DraftJob::Put(d) | DraftJob::Remove(d) => d,
        }
    }
}

/// The account whose Drafts folder holds `d`: its own, else the first
/// synced IMAP account.
fn account_of<'a>(config: &'a Config, d: &StoredDraft) -> Option<&'a crate::config::AccountConfig> {
    let usable = |a: &&crate::config::AccountConfig| a.kind == AccountKind::Imap && a.active;
    match &d.account {
        Some(name) => config.account(name).filter(usable),
        None => config.accounts.iter().find(usable),
    }
}

/// Start the task; the sender takes jobs for it.
pub fn spawn(
    config: Arc<Config>,
    store: Arc<Store>,
    events: mpsc::UnboundedSender<Event>,
) -> mpsc::UnboundedSender<DraftJob> {
    let (tx, mut rx) = mpsc::unbounded_channel::<DraftJob>();
    tokio::spawn(async move {
        import_foreign(&config, &store, &events).await;
        // An account whose Drafts folder failed is reported once, not per save.
        let mut warned = BTreeSet::new();
        while let Some(first) = rx.recv().await {
            tokio::time::sleep(PAUSE).await;
            let mut last: BTreeMap<u64, DraftJob> = BTreeMap::new();
            last.insert(first.draft().id, first);
            while let Ok(job) = rx.try_recv() {
                last.insert(job.draft().id, job);
            }
            for job in last.into_values() {
                let Some(acc) = account_of(&config, job.draft()) else {
                    continue;
                };
                let result = match &job {
                    DraftJob::Put(d) => crate::outbox::drafts::put(acc, d).await,
                    DraftJob::Remove(d) => crate::outbox::drafts::remove(acc, d).await,
                };
                match result {
                    Ok(()) => {
                        warned.remove(&acc.name);
                    }
                    Err(e) => {
                        tracing::warn!(
                            "draft {} on the server of {}: {e}",
                            job.draft().id,
                            acc.name
                        );
                        if warned.insert(acc.name.clone()) {
                            let _ = events.send(Event::Error(crate::mail::sanitize::sanitize_line(
                                &format!(
                                    "The draft is saved here but not in the server's Drafts folder: {e}"
                                ),
                            )));
                        }
                    }
                }
            }
        }
    });
    tx
}

/// Drafts other clients left in the accounts' Drafts folders become drafts
/// of the desk (once each), offered in the drafts list.
async fn import_foreign(config: &Config, store: &Store, events: &mpsc::UnboundedSender<Event>) {
    let mut found = 0;
    for acc in config
        .accounts
        .iter()
        .filter(|a| a.kind == AccountKind::Imap && a.active)
    {
        let drafts = match crate::outbox::drafts::foreign(acc).await {
            Ok(d) => d,
            Err(e) => {
                tracing::info!("no drafts read from the server of {}: {e}", acc.name);
                continue;
            }
        };
        let known: BTreeSet<String> = store
            .drafts()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|d| d.server_origin)
            .collect();
        for d in drafts {
            if d.server_origin.as_ref().is_some_and(|o| known.contains(o)) {
                continue;
            }
            match store.save_draft(&d) {
                Ok(_) => found += 1,
                Err(e) => tracing::warn!("a server draft of {} was not kept: {e}", acc.name),
            }
        }
    }
    if found > 0 {
        let _ = events.send(Event::DraftsFound { count: found });
    }
}
