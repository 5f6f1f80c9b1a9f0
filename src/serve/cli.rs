//! Command-line subcommands that go through a running server instead of
//! opening the store it holds: `import contacts`, `send`, `sync --once`.
//! The agent's files are read here and cross the socket as bytes.

use crate::protocol::{Command, DeskClient, Event, SyncState};
use crate::serve::client::RemoteDesk;
use crate::serve::wire::{CliSend, CliSent, Query};
use crate::store::OutboxState;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// An attached desk and its events.
pub type Attached = (Arc<RemoteDesk>, UnboundedReceiver<Event>);

/// How long `sync --once` through a server waits for every account.
const SYNC_LIMIT: Duration = Duration::from_secs(600);
/// An account that shows no activity within this after the nudge is done.
const SYNC_QUIET: Duration = Duration::from_secs(5);

pub fn import(remote: &RemoteDesk, file: &Path) -> Result<i32> {
    let data = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "contacts.csv".into());
    let text: String = remote
        .ask(Query::ImportContacts { name, data })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::console::out(&text);
    Ok(0)
}

pub async fn send(remote: &RemoteDesk, req: crate::outbox::send::SendRequest) -> Result<i32> {
    let body = match &req.body_file {
        Some(f) => Some(
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
        ),
        None => None,
    };
    let mut attach = Vec::new();
    for p in &req.attach {
        let data = std::fs::read(p).with_context(|| format!("cannot attach {}", p.display()))?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".into());
        attach.push((name, data));
    }
    let wire_req = CliSend {
        account: req.account,
        to: req.to,
        cc: req.cc,
        subject: req.subject,
        body,
        template: req.template,
        attach,
        wait: req.wait,
    };
    let sent: CliSent = match remote.ask(Query::SendMail(Box::new(wire_req))) {
        Ok(s) => s,
        Err(e) => {
            // The server words the send error as "exit code NUL message".
            let (code, msg) = match e.0.split_once('\0') {
                Some((c, m)) => (c.parse().unwrap_or(1), m.to_string()),
                None => (1, e.0),
            };
            tracing::error!("send through the server failed: {msg}");
            crate::console::err(&msg);
            return Ok(code);
        }
    };
    for w in &sent.warnings {
        crate::console::err(&format!("warning: {w}"));
    }
    if !req.wait {
        crate::console::out(&format!(
            "queued <{}> in the outbox ({})",
            sent.message_id, sent.state
        ));
        return Ok(0);
    }
    // The server's outbox worker sends it; watch the entry until it settles.
    loop {
        let entries = remote
            .outbox_entries()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let Some(e) = entries.iter().find(|e| e.message_id == sent.message_id) else {
            anyhow::bail!("the queued mail <{}> left the outbox", sent.message_id);
        };
        match &e.state {
            OutboxState::Sent { .. } => {
                crate::console::out(&format!("sent <{}>", sent.message_id));
                return Ok(0);
            }
            OutboxState::Failed { reason } => {
                crate::console::err(&format!(
                    "sending <{}> failed: {}",
                    sent.message_id,
                    crate::mail::sanitize::sanitize_line(reason)
                ));
                return Ok(1);
            }
            OutboxState::Cancelled => {
                crate::console::err(&format!("<{}> was cancelled", sent.message_id));
                return Ok(1);
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Nudge the server's sync and wait until each account went idle again.
pub async fn sync_once(
    remote: &RemoteDesk,
    mut events: UnboundedReceiver<Event>,
    only: Option<String>,
) -> Result<i32> {
    let accounts: Vec<String> = remote
        .config()
        .accounts
        .iter()
        .filter(|a| a.active && only.as_ref().is_none_or(|o| *o == a.name))
        .map(|a| a.name.clone())
        .collect();
    if let Some(o) = &only
        && accounts.is_empty()
    {
        anyhow::bail!("the desk server has no account named \"{o}\" that you may see");
    }
    remote.send(Command::SyncNow);
    // false: nudged, not yet seen working; true: seen working.
    let mut busy: BTreeMap<String, bool> = accounts.iter().map(|a| (a.clone(), false)).collect();
    let mut failed = Vec::new();
    let deadline = tokio::time::Instant::now() + SYNC_LIMIT;
    let quiet_until = tokio::time::Instant::now() + SYNC_QUIET;
    while !busy.is_empty() {
        let wait = if busy.values().any(|b| *b) {
            deadline
        } else {
            quiet_until.min(deadline)
        };
        match tokio::time::timeout_at(wait, events.recv()).await {
            Ok(Some(Event::Sync { account, state })) => {
                if !busy.contains_key(&account) {
                    continue;
                }
                match state {
                    SyncState::Idle => {
                        if busy.get(&account) == Some(&true) {
                            busy.remove(&account);
                        }
                    }
                    SyncState::Error(e) | SyncState::Retrying { reason: e, .. } => {
                        failed.push(format!("{account}: {e}"));
                        busy.remove(&account);
                    }
                    _ => {
                        busy.insert(account, true);
                    }
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => anyhow::bail!("the desk server went away during the sync"),
            Err(_) if tokio::time::Instant::now() >= deadline => {
                anyhow::bail!(
                    "the desk server did not finish syncing within {} s",
                    SYNC_LIMIT.as_secs()
                )
            }
            // Nothing to fetch: the accounts stayed idle.
            Err(_) => busy.retain(|_, seen| *seen),
        }
    }
    if failed.is_empty() {
        crate::console::out(&format!(
            "synced {} account(s) through the desk server",
            accounts.len()
        ));
        Ok(0)
    } else {
        for f in &failed {
            crate::console::err(&crate::mail::sanitize::sanitize_line(f));
        }
        Ok(2)
    }
}
