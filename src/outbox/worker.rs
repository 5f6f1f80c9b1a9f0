//! The outbox worker: picks queued and due entries, submits them, and runs
//! the after-send steps (file in Sent, ingest, link, \Answered).
//!
//! # Never sent twice
//!
//! An entry is set to `Sending` durably (flushed) before any connection is
//! opened, and to `Sent` durably right after the server accepted DATA. An
//! entry found in `Sending` when a drain starts is therefore a leftover of a
//! crash in the middle of a submission. Before anything else happens to it,
//! the account's Sent folder is searched for its Message-ID
//! (`UID SEARCH HEADER Message-ID`): found means the mail went out (it is
//! marked Sent and only the after-send steps run); not found means it is
//! queued again; if the Sent folder cannot be checked (server unreachable,
//! POP3 account) the entry stays in `Sending` and is checked again on the
//! next pass — it is only sent again when the agent says "retry now".
//!
//! A failure after the mail's data began (no reply to the final dot within
//! `final_reply_timeout_secs`, 10 minutes by default, or a dropped
//! connection) leaves the entry in `Sending`, marked unconfirmed, and the same
//! Sent check runs at once. With `server_saves_sent = false` the check cannot
//! find a mail deskmail has not filed yet, so an unconfirmed entry then waits
//! for the agent instead of being sent again.
//!
//! The one window that remains: the server has accepted DATA but the process
//! dies before `Sent` is flushed (milliseconds: one local write). With
//! `server_saves_sent = false` nothing is in the Sent folder then, so the
//! check finds nothing and the mail is submitted again with the same
//! Message-ID. A store error at that point does not open the window: the
//! worker remembers the acceptance and records it on the next pass.

use super::OutboxUpdate;
use super::diagnose::{self, Diagnosis, FailureKind};
use super::imap;
use super::smtp::SubmitError;
use crate::config::{AccountKind, Config};
use crate::store::{OutboxEntry, OutboxState, Store, StoreError, flags};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// After-send steps are given up after this many tries.
pub const MAX_FOLLOWUP_ATTEMPTS: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no outbox entry {0}")]
    NotFound(u64),
}

/// What one drain did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DrainReport {
    /// Submitted and accepted by the server in this pass.
    pub sent: Vec<u64>,
    /// Found already in Sent after an interrupted submission: not sent again.
    pub recovered: Vec<u64>,
    /// Interrupted submissions not found in Sent: queued and sent again.
    pub resent: Vec<u64>,
    /// Left in `Sending` because the Sent folder could not be checked.
    pub unverified: Vec<u64>,
    /// Temporary failures, waiting for their next try.
    pub retrying: Vec<u64>,
    /// Permanent failures, with their diagnosis.
    pub failed: Vec<(u64, String)>,
    /// Sent mails whose after-send steps finished in this pass.
    pub filed: Vec<u64>,
    /// After-send steps that failed in this pass (they are tried again).
    pub followup_errors: Vec<(u64, String)>,
    /// When the earliest retrying entry is due (unix seconds).
    pub next_due: Option<i64>,
}

/// Per-store bookkeeping shared by every drain in this process.
#[derive(Default)]
struct Shared {
    drain: tokio::sync::Mutex<()>,
    in_flight: Mutex<HashSet<u64>>,
    /// Accepted by the server but not recorded as `Sent` (the store write
    /// failed): the next pass records them without any check or resend.
    accepted: Mutex<HashSet<u64>>,
}

type Registry = Vec<(usize, std::sync::Weak<Store>, Arc<Shared>)>;

fn shared(store: &Arc<Store>) -> Arc<Shared> {
    static ALL: Mutex<Registry> = Mutex::new(Vec::new());
    let key = Arc::as_ptr(store) as usize;
    let mut all = match ALL.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    all.retain(|(_, w, _)| w.strong_count() > 0);
    if let Some((_, _, s)) = all.iter().find(|(k, _, _)| *k == key) {
        return Arc::clone(s);
    }
    let s = Arc::new(Shared::default());
    all.push((key, Arc::downgrade(store), Arc::clone(&s)));
    s
}

fn in_flight(sh: &Shared) -> std::sync::MutexGuard<'_, HashSet<u64>> {
    match sh.in_flight.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn accepted(sh: &Shared) -> std::sync::MutexGuard<'_, HashSet<u64>> {
    match sh.accepted.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Marks an entry in flight for as long as it lives, so every return path
/// (store errors included) clears the mark.
struct InFlight<'a> {
    sh: &'a Shared,
    id: u64,
}

impl<'a> InFlight<'a> {
    fn new(sh: &'a Shared, id: u64) -> Self {
        in_flight(sh).insert(id);
        InFlight { sh, id }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        in_flight(self.sh).remove(&self.id);
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn emit(events: &Option<mpsc::UnboundedSender<OutboxUpdate>>, e: OutboxUpdate) {
    if let Some(tx) = events {
        let _ = tx.send(e);
    }
}

fn subject_of(e: &OutboxEntry) -> String {
    crate::mail::sanitize::sanitize_line(&e.subject)
}

/// Run one pass: recover interrupted submissions, submit what is due, run
/// pending after-send steps. Drains of one store never overlap.
pub async fn drain_once(
    config: Arc<Config>,
    store: Arc<Store>,
    events: Option<mpsc::UnboundedSender<OutboxUpdate>>,
) -> Result<DrainReport, OutboxError> {
    let sh = shared(&store);
    let _g = sh.drain.lock().await;
    let mut report = DrainReport::default();
    recover(&config, &store, &sh, &events, &mut report).await?;

    let t = now();
    let mut due: Vec<OutboxEntry> = store
        .outbox_entries()?
        .into_iter()
        .filter(|e| is_due(&e.state, t))
        .collect();
    due.sort_by_key(|e| (e.created, e.id));
    let mut unconfirmed = false;
    for e in due {
        unconfirmed |= send_one(&config, &store, &sh, &events, e, &mut report).await?;
    }
    if unconfirmed {
        // Look for them in Sent now rather than a pass later.
        recover(&config, &store, &sh, &events, &mut report).await?;
    }

    let tried: HashSet<u64> = report
        .filed
        .iter()
        .copied()
        .chain(report.followup_errors.iter().map(|(id, _)| *id))
        .collect();
    for (id, tries) in store.outbox_followups()? {
        if tried.contains(&id) {
            continue;
        }
        let Some(entry) = store.outbox_entry(id)? else {
            store.set_outbox_followup(id, None)?;
            continue;
        };
        match after_send(&config, &store, &events, &entry).await {
            Ok(()) => {
                store.set_outbox_followup(id, None)?;
                report.filed.push(id);
            }
            Err(e) => {
                let tries = tries + 1;
                let msg = format!(
                    "\"{}\" was sent, but filing it in Sent failed: {e}",
                    subject_of(&entry)
                );
                tracing::warn!(id, tries, "{msg}");
                if tries >= MAX_FOLLOWUP_ATTEMPTS {
                    store.set_outbox_followup(id, None)?;
                    emit(
                        &events,
                        OutboxUpdate::Error(format!("{msg} (gave up after {tries} tries)")),
                    );
                } else {
                    store.set_outbox_followup(id, Some(tries))?;
                }
                report.followup_errors.push((id, msg));
            }
        }
    }

    report.next_due = store
        .outbox_entries()?
        .iter()
        .filter_map(|e| match e.state {
            OutboxState::Retrying { at, .. } => Some(at),
            OutboxState::Queued => Some(t),
            _ => None,
        })
        .min();
    Ok(report)
}

fn is_due(s: &OutboxState, t: i64) -> bool {
    match s {
        OutboxState::Queued => true,
        OutboxState::Retrying { at, .. } => *at <= t,
        _ => false,
    }
}

/// Check every entry left in `Sending` against the Sent folder.
async fn recover(
    config: &Config,
    store: &Arc<Store>,
    sh: &Shared,
    events: &Option<mpsc::UnboundedSender<OutboxUpdate>>,
    report: &mut DrainReport,
) -> Result<(), OutboxError> {
    let stuck: Vec<OutboxEntry> = store
        .outbox_entries()?
        .into_iter()
        .filter(|e| e.state == OutboxState::Sending && !in_flight(sh).contains(&e.id))
        .collect();
    if stuck.is_empty() {
        return Ok(());
    }
    let mut unchecked = Vec::new();
    for e in stuck {
        if accepted(sh).contains(&e.id) {
            store.mark_outbox_sent(
                e.id,
                now(),
                Some("the server accepted it; recording that failed once and was repeated".into()),
            )?;
            accepted(sh).remove(&e.id);
            report.recovered.push(e.id);
        } else {
            unchecked.push(e);
        }
    }
    let stuck = unchecked;
    let mut by_account: HashMap<String, Vec<OutboxEntry>> = HashMap::new();
    for e in stuck {
        by_account.entry(e.account.clone()).or_default().push(e);
    }
    for (account, entries) in by_account {
        let acc = config.account(&account);
        let checked = match acc {
            None => Err(format!("account \"{account}\" is no longer configured")),
            Some(acc) if acc.kind == AccountKind::Pop3 => {
                Err("a POP3 account has no Sent folder on the server to check".to_string())
            }
            Some(acc) => check_sent(acc, &entries).await.map_err(|e| e.to_string()),
        };
        // deskmail files in Sent only after the server's "accepted", so
        // without the server's own copy an unconfirmed mail cannot be found.
        let server_files = acc.is_some_and(|a| a.server_saves_sent);
        match checked {
            Ok(found) => {
                for e in entries {
                    let only_if_sending = |s: &OutboxState| *s == OutboxState::Sending;
                    if found.contains(&e.message_id) {
                        store.mark_outbox_sent(
                            e.id,
                            now(),
                            Some("the submission was interrupted, but the mail is in Sent: not sent again".into()),
                        )?;
                        report.recovered.push(e.id);
                    } else if e.unconfirmed && !server_files {
                        let msg = format!(
                            "\"{}\" may or may not have been sent: the server did not confirm it \
                             after its data went out, and deskmail files a copy in Sent only \
                             after the server confirms. It is not sent again automatically; \
                             check the recipient's copy, then use \"retry now\" to send it anyway \
                             or cancel it.",
                            subject_of(&e)
                        );
                        tell_unverified(store, events, &e, msg)?;
                        report.unverified.push(e.id);
                    } else {
                        store.transition_outbox(
                            e.id,
                            only_if_sending,
                            OutboxState::Queued,
                            Some("the submission was interrupted and the mail is not in Sent: sending again".into()),
                        )?;
                        report.resent.push(e.id);
                    }
                }
            }
            Err(why) => {
                for e in entries {
                    let msg = format!(
                        "\"{}\" may or may not have been sent (the submission was interrupted) and \
                         the Sent folder could not be checked: {why}. It is not sent again \
                         automatically; check the recipient's copy or Sent, then use \"retry now\" \
                         to send it anyway or cancel it.",
                        subject_of(&e)
                    );
                    tell_unverified(store, events, &e, msg)?;
                    report.unverified.push(e.id);
                }
            }
        }
    }
    Ok(())
}

/// Keep an entry in `Sending` with `msg` as its error, telling the agent
/// once, not on every pass.
fn tell_unverified(
    store: &Store,
    events: &Option<mpsc::UnboundedSender<OutboxUpdate>>,
    e: &OutboxEntry,
    msg: String,
) -> Result<(), OutboxError> {
    if e.last_error.as_deref() != Some(msg.as_str()) {
        tracing::warn!(id = e.id, "{msg}");
        store.transition_outbox(
            e.id,
            |s| *s == OutboxState::Sending,
            OutboxState::Sending,
            Some(msg.clone()),
        )?;
        emit(events, OutboxUpdate::Error(msg));
    }
    Ok(())
}

/// The Message-IDs of `entries` that are in the account's Sent folder.
async fn check_sent(
    acc: &crate::config::AccountConfig,
    entries: &[OutboxEntry],
) -> Result<HashSet<String>, imap::ImapError> {
    let mut session = imap::login(acc).await?;
    let result = async {
        let folder = imap::sent_folder(&mut session).await?;
        let mut found = HashSet::new();
        for e in entries {
            let (_, uids) = imap::find_by_message_id(&mut session, &folder, &e.message_id).await?;
            if !uids.is_empty() {
                found.insert(e.message_id.clone());
            }
        }
        Ok(found)
    }
    .await;
    imap::logout(session).await;
    result
}

/// Submit one due entry. Returns whether it ended unconfirmed (the server
/// may have it), so the pass looks for it in Sent.
async fn send_one(
    config: &Config,
    store: &Arc<Store>,
    sh: &Shared,
    events: &Option<mpsc::UnboundedSender<OutboxUpdate>>,
    entry: OutboxEntry,
    report: &mut DrainReport,
) -> Result<bool, OutboxError> {
    let attempt = match entry.state {
        OutboxState::Retrying { attempt, .. } => attempt + 1,
        _ => 1,
    };
    let t = now();
    // In flight before the claim: "retry now" must never see a claimed entry
    // that is not marked, or it would queue a mail that is being sent.
    let flight = InFlight::new(sh, entry.id);
    // Durable before any connection is opened.
    let Some((entry, true)) =
        store.transition_outbox(entry.id, |s| is_due(s, t), OutboxState::Sending, None)?
    else {
        return Ok(false);
    };
    let result = match config.account(&entry.account) {
        Some(acc) => super::smtp::submit(acc, &entry).await,
        None => Err(Diagnosis::config(format!(
            "Not sent: account \"{}\" is not in the configuration any more.",
            entry.account
        ))
        .into()),
    };
    match result {
        Ok(()) => {
            if let Err(e) = record_sent(store, &entry) {
                accepted(sh).insert(entry.id);
                return Err(e);
            }
            report.sent.push(entry.id);
            emit(
                events,
                OutboxUpdate::Notice(format!("Sent \"{}\".", subject_of(&entry))),
            );
        }
        Err(SubmitError::NotSent(d)) => {
            record_failure(store, events, &entry, attempt, &d, report)?;
            return Ok(false);
        }
        Err(SubmitError::Unverified(d)) => {
            tracing::warn!(id = entry.id, "{}", d.message);
            store.edit_outbox(
                entry.id,
                |s| *s == OutboxState::Sending,
                |e| {
                    e.unconfirmed = true;
                    e.last_error = Some(d.message.clone());
                },
            )?;
            return Ok(true);
        }
    }
    drop(flight);
    match after_send(config, store, events, &entry).await {
        Ok(()) => {
            store.set_outbox_followup(entry.id, None)?;
            report.filed.push(entry.id);
        }
        Err(e) => {
            let msg = format!(
                "\"{}\" was sent, but filing it in Sent failed: {e}; will try again",
                subject_of(&entry)
            );
            store.set_outbox_followup(entry.id, Some(1))?;
            report.followup_errors.push((entry.id, msg));
        }
    }
    Ok(false)
}

/// The server accepted the entry: record `Sent` and the owed after-send
/// steps together, even if something changed the entry's state meanwhile.
fn record_sent(store: &Store, entry: &OutboxEntry) -> Result<(), OutboxError> {
    match store.mark_outbox_sent(entry.id, now(), None)? {
        None => Err(OutboxError::NotFound(entry.id)),
        Some((_, OutboxState::Sending)) => Ok(()),
        Some((_, before)) => {
            // Recorded anyway: the server has the mail, whatever the entry said.
            tracing::error!(
                id = entry.id,
                "an outbox entry was {} while it was being sent; recorded as sent",
                before.name()
            );
            Ok(())
        }
    }
}

fn record_failure(
    store: &Store,
    events: &Option<mpsc::UnboundedSender<OutboxUpdate>>,
    entry: &OutboxEntry,
    attempt: u32,
    d: &Diagnosis,
    report: &mut DrainReport,
) -> Result<(), OutboxError> {
    let sending = |s: &OutboxState| *s == OutboxState::Sending;
    if d.kind == FailureKind::Temporary && attempt < diagnose::MAX_ATTEMPTS {
        let at = now() + diagnose::backoff(attempt).as_secs() as i64;
        store.transition_outbox(
            entry.id,
            sending,
            OutboxState::Retrying { at, attempt },
            Some(d.message.clone()),
        )?;
        report.retrying.push(entry.id);
        emit(
            events,
            OutboxUpdate::Notice(format!(
                "\"{}\" waits in the outbox (try {attempt}): {}",
                subject_of(entry),
                d.message
            )),
        );
    } else {
        let reason = if d.kind == FailureKind::Temporary {
            format!("{} Gave up after {attempt} tries.", d.message)
        } else {
            d.message.clone()
        };
        store.transition_outbox(
            entry.id,
            sending,
            OutboxState::Failed {
                reason: reason.clone(),
            },
            Some(reason.clone()),
        )?;
        report.failed.push((entry.id, reason.clone()));
        emit(
            events,
            OutboxUpdate::Error(format!("\"{}\": {reason}", subject_of(entry))),
        );
    }
    Ok(())
}

/// File a sent mail in Sent (APPEND unless the server does it), ingest it
/// into the store, link it to the records of the mail it answers, and set
/// \Answered on that mail. Every step is safe to repeat.
async fn after_send(
    config: &Config,
    store: &Arc<Store>,
    events: &Option<mpsc::UnboundedSender<OutboxUpdate>>,
    entry: &OutboxEntry,
) -> Result<(), String> {
    let Some(acc) = config.account(&entry.account) else {
        return Err(format!("account \"{}\" is not configured", entry.account));
    };
    let mut answered_on_server: Vec<(String, u32, u32)> = Vec::new();
    if acc.kind == AccountKind::Pop3 {
        // No server folder: only the local \Answered flag.
        mark_answered_locally(store, events, entry, &mut answered_on_server)
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    let mut session = imap::login(acc).await.map_err(|e| e.to_string())?;
    let result = async {
        let folder = imap::sent_folder(&mut session).await?;
        let (mut uidvalidity, mut uids) =
            imap::find_by_message_id(&mut session, &folder, &entry.message_id).await?;
        if uids.is_empty() && !acc.server_saves_sent {
            imap::append(&mut session, &folder, &entry.raw).await?;
            (uidvalidity, uids) =
                imap::find_by_message_id(&mut session, &folder, &entry.message_id).await?;
        }
        let Some(&uid) = uids.last() else {
            return Err(imap::ImapError(format!(
                "the server has not filed it in {folder} yet"
            )));
        };
        Ok((folder, uidvalidity, uid))
    }
    .await;
    let (folder, uidvalidity, uid) = match result {
        Ok(v) => v,
        Err(e) => {
            imap::logout(session).await;
            return Err(e.to_string());
        }
    };
    let local = record_locally(
        config,
        store,
        events,
        entry,
        &folder,
        uidvalidity,
        uid,
        &mut answered_on_server,
    );
    if let Err(e) = local {
        imap::logout(session).await;
        return Err(e.to_string());
    }
    for (f, uv, u) in answered_on_server {
        if let Err(e) = imap::mark_answered(&mut session, &f, uv, u).await {
            tracing::warn!(folder = %f, uid = u, "setting \\Answered on the server failed: {e}");
        }
    }
    imap::logout(session).await;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn record_locally(
    config: &Config,
    store: &Arc<Store>,
    events: &Option<mpsc::UnboundedSender<OutboxUpdate>>,
    entry: &OutboxEntry,
    folder: &str,
    uidvalidity: u32,
    uid: u32,
    answered_on_server: &mut Vec<(String, u32, u32)>,
) -> Result<(), StoreError> {
    let rules = Arc::new(crate::crm::linking::LinkRules::from_config(config));
    let pipeline = crate::sync::pipeline::Pipeline::new(
        Arc::clone(store),
        rules,
        Arc::new(config.own_addresses()),
    );
    // The Sent copy takes the links of the mail it answers in its own batch.
    let report = pipeline.ingest_now(
        vec![crate::sync::pipeline::Incoming {
            account: entry.account.clone(),
            folder: folder.to_string(),
            uidvalidity,
            uid,
            flags: flags::SEEN,
            raw: entry.raw.clone(),
            reported_size: 0,
            inherit_links_of: entry.in_reply_to,
        }],
        crate::sync::pipeline::Extras::default(),
    )?;
    let id = match report.created.first().or(report.located.first()) {
        Some(id) => Some(*id),
        None => {
            match store.id_by_message_id(&crate::mail::thread::normalize_id(&entry.message_id))? {
                Some(id) => Some(id),
                None => store.id_by_uid(&entry.account, folder, uidvalidity, uid)?,
            }
        }
    };
    if let Some(id) = id {
        // Already stored (a repeated step, or synced first): the rules run on it as stored.
        if report.created.is_empty() {
            if let Some(parent) = entry.in_reply_to {
                for r in store.links_of(parent)? {
                    store.link(id, r.reference())?;
                }
            }
            if let Some(s) = store.summary(id)? {
                let rules = crate::crm::linking::LinkRules::from_config(config);
                crate::crm::linking::auto_link(store, &rules, &s)?;
            }
        }
        emit(events, OutboxUpdate::LinksChanged { id });
    }
    mark_answered_locally(store, events, entry, answered_on_server)?;
    store.flush()?;
    emit(
        events,
        OutboxUpdate::FolderChanged {
            account: entry.account.clone(),
            folder: folder.to_string(),
        },
    );
    Ok(())
}

fn mark_answered_locally(
    store: &Store,
    events: &Option<mpsc::UnboundedSender<OutboxUpdate>>,
    entry: &OutboxEntry,
    answered_on_server: &mut Vec<(String, u32, u32)>,
) -> Result<(), StoreError> {
    let Some(parent) = entry.in_reply_to else {
        return Ok(());
    };
    for loc in store.locations(parent)? {
        if let Some((_, f)) = store.flags_of(&loc.account, &loc.folder, parent)? {
            if f & flags::ANSWERED == 0 {
                store.set_flags(
                    &loc.account,
                    &loc.folder,
                    loc.uidvalidity,
                    loc.uid,
                    f | flags::ANSWERED,
                )?;
                emit(
                    events,
                    OutboxUpdate::FolderChanged {
                        account: loc.account.clone(),
                        folder: loc.folder.clone(),
                    },
                );
            }
            if loc.account == entry.account {
                answered_on_server.push((loc.folder.clone(), loc.uidvalidity, loc.uid));
            }
        }
    }
    Ok(())
}

/// Send an entry again now: a retrying or failed entry is queued at once;
/// an interrupted one that could not be checked is queued on the agent's
/// word. Returns whether anything changed.
pub fn retry_now(store: &Arc<Store>, id: u64) -> Result<bool, OutboxError> {
    let sh = shared(store);
    // Runs under the store's lock, so the worker cannot claim in between.
    let allowed = |s: &OutboxState| match s {
        OutboxState::Retrying { .. } | OutboxState::Failed { .. } => true,
        OutboxState::Sending => !in_flight(&sh).contains(&id),
        _ => false,
    };
    match store.transition_outbox(id, allowed, OutboxState::Queued, None)? {
        Some((_, changed)) => Ok(changed),
        None => Err(OutboxError::NotFound(id)),
    }
}

/// Replace a mail that has not gone out (queued, retrying, failed or
/// cancelled) with an edited version and queue it; the old bytes are gone,
/// the entry keeps its id. `built` comes from [`super::message::build`].
pub fn edit_and_resend(
    store: &Arc<Store>,
    id: u64,
    built: super::message::BuiltMail,
    subject: &str,
) -> Result<bool, OutboxError> {
    let editable = |s: &OutboxState| {
        matches!(
            s,
            OutboxState::Queued
                | OutboxState::Retrying { .. }
                | OutboxState::Failed { .. }
                | OutboxState::Cancelled
        )
    };
    let changed = store.edit_outbox(id, editable, |e| {
        e.message_id = built.message_id;
        e.raw = built.raw;
        e.recipients = built.recipients;
        e.subject = subject.to_string();
        e.state = OutboxState::Queued;
        e.last_error = None;
    })?;
    changed.ok_or(OutboxError::NotFound(id))
}

/// Cancel an entry that is not being sent and was not sent; an interrupted
/// or unconfirmed one is cancelled on the agent's word. The entry (and its
/// bytes) stays in the outbox, marked cancelled.
pub fn cancel(store: &Arc<Store>, id: u64) -> Result<bool, OutboxError> {
    let sh = shared(store);
    // Runs under the store's lock, like `retry_now`.
    let allowed = |s: &OutboxState| match s {
        OutboxState::Queued | OutboxState::Retrying { .. } | OutboxState::Failed { .. } => true,
        OutboxState::Sending => !in_flight(&sh).contains(&id),
        _ => false,
    };
    match store.transition_outbox(id, allowed, OutboxState::Cancelled, None)? {
        Some((_, changed)) => Ok(changed),
        None => Err(OutboxError::NotFound(id)),
    }
}

/// The running worker; dropping it stops the worker after its current pass.
pub struct OutboxHandle {
    wake: mpsc::UnboundedSender<()>,
    store: Arc<Store>,
    task: tokio::task::JoinHandle<()>,
}

impl OutboxHandle {
    /// Look at the outbox now (after a mail was queued).
    pub fn wake(&self) {
        let _ = self.wake.send(());
    }

    /// See [`retry_now`]; wakes the worker.
    pub fn retry_now(&self, id: u64) -> Result<bool, OutboxError> {
        let changed = retry_now(&self.store, id)?;
        self.wake();
        Ok(changed)
    }

    /// See [`cancel`].
    pub fn cancel(&self, id: u64) -> Result<bool, OutboxError> {
        cancel(&self.store, id)
    }

    /// Stop the worker now.
    pub fn abort(&self) {
        self.task.abort();
    }
}

/// How long the worker sleeps when nothing is due.
const IDLE: Duration = Duration::from_secs(60);

/// Mail queued outside the desk's commands (auto-replies after a sync).
static QUEUED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Wake the running worker for mail queued by a sync.
pub fn nudge() {
    QUEUED.notify_one();
}

/// Start the worker on the current tokio runtime.
pub fn spawn(
    config: Arc<Config>,
    store: Arc<Store>,
    events: mpsc::UnboundedSender<OutboxUpdate>,
) -> OutboxHandle {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let st = Arc::clone(&store);
    let task = tokio::spawn(async move {
        loop {
            let wait = match drain_once(Arc::clone(&config), Arc::clone(&st), Some(events.clone()))
                .await
            {
                Ok(r) => {
                    let mut wait = IDLE;
                    if let Some(at) = r.next_due {
                        let secs = (at - now()).clamp(1, IDLE.as_secs() as i64);
                        wait = Duration::from_secs(secs as u64);
                    }
                    wait
                }
                Err(e) => {
                    let _ = events.send(OutboxUpdate::Error(format!("The outbox failed: {e}")));
                    IDLE
                }
            };
            tokio::select! {
                msg = rx.recv() => {
                    if msg.is_none() {
                        break;
                    }
                    while rx.try_recv().is_ok() {}
                }
                _ = tokio::time::sleep(wait) => {}
                _ = QUEUED.notified() => {}
            }
        }
    });
    OutboxHandle {
        wake: tx,
        store,
        task,
    }
}
