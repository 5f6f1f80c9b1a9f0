//! Background synchronisation with mail servers, and the ingest pipeline.
//!
//! [`run`] is the headless `deskmail sync`; [`spawn_all`] starts one task per
//! account for the interface. Both reconnect with backoff after failures.

pub mod connect;
pub mod diagnose;
pub mod imap;
pub mod ingest;
pub mod pipeline;
pub mod pop3;
pub mod progress;
mod update;

pub use diagnose::{ErrorKind, SyncError};
pub use update::SyncUpdate;

use crate::config::{AccountConfig, AccountKind, Config};
use crate::crm::linking::LinkRules;
use crate::protocol::SyncState;
use crate::store::Store;
use imap::AccountCtx;
use progress::{Output, Reporter};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc::UnboundedSender, watch};

/// How `deskmail sync` runs.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Only this account (all accounts when `None`).
    pub account: Option<String>,
    /// Sync once and return instead of following the server with IDLE.
    pub once: bool,
    /// An indicatif bar on a terminal; plain lines otherwise.
    pub progress: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSummary {
    pub accounts: usize,
    pub new_messages: usize,
}

/// Attempts of a `--once` sync before a network failure is given up on.
const ONCE_ATTEMPTS: u32 = 5;

fn accounts<'a>(
    config: &'a Config,
    only: Option<&str>,
) -> Result<Vec<&'a AccountConfig>, SyncError> {
    if let Some(name) = only {
        let acc = config.account(name).ok_or_else(|| SyncError::Config {
            account: name.to_string(),
            message: "no account with this name in the config".into(),
        })?;
        return Ok(vec![acc]);
    }
    // An inactive account stays configured but is not synced unless named.
    Ok(config.accounts.iter().filter(|a| a.active).collect())
}

fn account_ctx(
    config: &Config,
    store: &Arc<Store>,
    acc: &AccountConfig,
    report: Reporter,
) -> AccountCtx {
    let own = Arc::new(config.own_addresses());
    let rules = Arc::new(LinkRules::from_config(config));
    // The account's filters as sync sees them: the global ones, then its own.
    let mut acc = acc.clone();
    acc.filters = config
        .filters
        .iter()
        .chain(acc.filters.iter())
        .cloned()
        .collect();
    let filters = crate::crm::filters::Filters::from_config(config);
    // A skip filter added since the last sync sends stored mail it matches to
    // Trash; the session pushes the moves.
    match crate::crm::filters::trash_newly_skipped(store, &filters, &acc.name) {
        Ok(0) => {}
        Ok(n) => report.event(SyncUpdate::Notice(format!(
            "account \"{}\": {n} stored mail(s) match a new skip filter and go to Trash",
            crate::mail::sanitize::sanitize_line(&acc.name)
        ))),
        Err(e) => {
            tracing::warn!(account = %acc.name, "checking stored mail against the skip filters failed: {e}")
        }
    }
    let mut pipeline =
        pipeline::Pipeline::new(Arc::clone(store), Arc::clone(&rules), Arc::clone(&own));
    if let Some(stage) = pipeline::FilterStage::new(filters, &acc.name) {
        pipeline = pipeline.with_stage(Arc::new(stage));
    }
    let pipeline = pipeline
        .with_size_limit(acc.max_message_bytes(), acc.max_message_mb)
        .with_cases(crate::crm::cases::CaseRules::from_config(config))
        .with_auto_replies(
            crate::crm::auto_reply::AutoReplies::from_config(
                config,
                &crate::config::paths::config_dir(),
            )
            .map(|a| {
                let report = report.clone();
                a.with_problems(Arc::new(move |m| report.event(SyncUpdate::Error(m))))
            }),
        );
    AccountCtx {
        acc: Arc::new(acc),
        store: Arc::clone(store),
        own,
        rules,
        pipeline,
        report,
    }
}

/// One account, until done (`once`), shut down, or a failure that retrying
/// cannot fix (`once` only). Returns the number of new mails.
async fn account_loop(
    ctx: AccountCtx,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
    once: bool,
) -> Result<usize, SyncError> {
    if ctx.acc.accept_invalid_certs {
        ctx.report.event(SyncUpdate::Notice(format!(
            "account \"{}\": certificate checks are off (accept_invalid_certs = true)",
            crate::mail::sanitize::sanitize_line(&ctx.acc.name)
        )));
    }
    let mut attempt = 0u32;
    let mut new_total = 0usize;
    loop {
        if *shutdown.borrow() {
            return Ok(new_total);
        }
        let mut healthy = false;
        let result = if ctx.acc.kind == AccountKind::Pop3 {
            if once {
                pop3::sync_once(&ctx).await.map(|n| new_total += n)
            } else {
                pop3::run_polling(&ctx, &wake, &mut shutdown, &mut new_total, &mut healthy).await
            }
        } else if once {
            match imap::sync_account_once(&ctx).await {
                Ok(mut live) => {
                    new_total += live.new;
                    let _ =
                        tokio::time::timeout(Duration::from_secs(2), live.session.logout()).await;
                    Ok(())
                }
                Err(e) => Err(e),
            }
        } else {
            imap::run_session(&ctx, &wake, &mut shutdown, &mut new_total, &mut healthy).await
        };
        let e = match result {
            Ok(()) => return Ok(new_total),
            Err(e) => e,
        };
        if healthy {
            attempt = 0;
        }
        tracing::warn!(account = %ctx.acc.name, "sync failed: {e}");
        // A one-shot sync retries a session that broke off, not a server
        // that cannot be reached at all: that answer is wanted at once.
        let resumable = matches!(
            e.kind(),
            ErrorKind::ConnectionLost | ErrorKind::Bye | ErrorKind::Protocol
        );
        if once && (!resumable || attempt + 1 >= ONCE_ATTEMPTS) {
            ctx.report.state(SyncState::Error(e.short()));
            return Err(e);
        }
        let delay = if e.is_transient() {
            imap::backoff(attempt)
        } else {
            // The agent has to fix something; do not hammer the server.
            ctx.report.event(SyncUpdate::Error(e.to_string()));
            ctx.report.state(SyncState::Error(e.short()));
            imap::backoff(attempt).max(Duration::from_secs(ctx.acc.check_interval_secs.max(300)))
        };
        attempt += 1;
        ctx.report.retrying(delay.as_secs().max(1), &e.short());
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = wake.notified() => {}
            _ = shutdown.wait_for(|v| *v) => return Ok(new_total),
        }
    }
}

/// Headless sync: returns Ok when done (`--once`) or on SIGTERM; Err carries the diagnosis.
pub async fn run(
    config: Arc<Config>,
    store: Arc<Store>,
    opts: SyncOptions,
    events: Option<UnboundedSender<SyncUpdate>>,
) -> Result<SyncSummary, SyncError> {
    let accs = accounts(&config, opts.account.as_deref())?;
    let output = if opts.progress {
        Output::Bars(indicatif::MultiProgress::new())
    } else {
        Output::Lines
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    if !opts.once {
        tokio::spawn(async move {
            wait_for_signal().await;
            let _ = stop_tx.send(true);
        });
    }
    let tasks = accs.iter().map(|acc| {
        let report = Reporter::new(&acc.name, events.clone(), output.clone());
        let ctx = account_ctx(&config, &store, acc, report);
        account_loop(ctx, Arc::new(Notify::new()), stop_rx.clone(), opts.once)
    });
    let results = futures::future::join_all(tasks).await;
    let mut summary = SyncSummary {
        accounts: accs.len(),
        new_messages: 0,
    };
    let mut first_err = None;
    for r in results {
        match r {
            Ok(n) => summary.new_messages += n,
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some(e);
                }
            }
        }
    }
    store.flush()?;
    tracing::info!(
        "where the sync's time went: {}",
        crate::store::timing::summary()
    );
    match first_err {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// SIGTERM, SIGHUP or Ctrl-C: stop syncing (the store is flushed after).
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(mut term), Ok(mut hup)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: stopping the sync"),
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: the terminal went away; stopping the sync");
                    crate::hangup::detach_stdio();
                }
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The interface's handle on the background sync tasks. Dropping it stops them.
pub struct SyncHandle {
    wakes: Vec<Arc<Notify>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl SyncHandle {
    /// Sync every account now instead of waiting for the next poll.
    pub fn sync_now(&self) {
        for w in &self.wakes {
            w.notify_one();
        }
    }

    /// Wake the tasks to push queued changes to the servers.
    pub fn changes_pending(&self) {
        self.sync_now();
    }

    /// Stop all tasks (they log out when they can).
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    pub fn accounts(&self) -> usize {
        self.tasks.len()
    }
}

impl Drop for SyncHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Background tasks for the interface: one per account, forever, with backoff.
pub fn spawn_all(
    config: Arc<Config>,
    store: Arc<Store>,
    events: UnboundedSender<SyncUpdate>,
) -> SyncHandle {
    let (stop, stop_rx) = watch::channel(false);
    let mut wakes = Vec::new();
    let mut tasks = Vec::new();
    let accs = accounts(&config, None).unwrap_or_default();
    for acc in accs {
        let report = Reporter::new(&acc.name, Some(events.clone()), Output::Quiet);
        let ctx = account_ctx(&config, &store, acc, report);
        let wake = Arc::new(Notify::new());
        wakes.push(Arc::clone(&wake));
        let rx = stop_rx.clone();
        let events = events.clone();
        let account = acc.name.clone();
        tasks.push(tokio::spawn(async move {
            // Background tasks never give up; only shutdown ends them.
            if let Err(e) = account_loop(ctx, wake, rx, false).await {
                let _ = events.send(SyncUpdate::AccountError {
                    account,
                    message: e.to_string(),
                });
            }
        }));
    }
    SyncHandle { wakes, tasks, stop }
}

/// Connect, log in and look at the folders: a diagnosis of an account's
/// settings (the missing Sent folder included) without syncing anything.
pub async fn check_account(acc: &AccountConfig) -> Result<Vec<imap::FolderPlan>, SyncError> {
    if acc.kind == AccountKind::Pop3 {
        pop3::check(acc).await?;
        return Ok(vec![imap::FolderPlan {
            server: "INBOX".into(),
            desk: pop3::desk_folder(acc),
            special_use: None,
            skip_notification: false,
        }]);
    }
    let c = connect::ctx(acc);
    let connect::Connected { mut session, .. } = connect::connect(acc).await?;
    let (list, subscribed) = imap::list_for_plan(&c, &mut session, acc).await?;
    let _ = tokio::time::timeout(Duration::from_secs(2), session.logout()).await;
    let (plans, warning) = imap::plan_folders(acc, &list, &subscribed);
    match warning {
        Some(w) => Err(w),
        None => Ok(plans),
    }
}
