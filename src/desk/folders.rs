//! Desk folders: creating, renaming and deleting an account's folders on its
//! server (the store follows in a batch once the server agreed), and which
//! folders stay quiet when new mail arrives.

use super::{Backend, Desk, Event};
use crate::config::AccountKind;
use crate::mail::sanitize::sanitize_line;
use crate::protocol::ServerFolder;
use crate::sync::imap::{FolderOp, FolderOpError};
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn quoted(name: &str) -> String {
    format!("\"{}\"", sanitize_line(name))
}

impl Desk {
    /// Every folder the server listed at the last sync, plus the desk's own.
    pub(super) fn known_folders(&self, account: &str) -> Vec<ServerFolder> {
        let mut all = self.store.server_folders(account).unwrap_or_default();
        let stored = self.store.folders_by_account().unwrap_or_default();
        if let Some((_, states)) = stored.into_iter().find(|(a, _)| a == account) {
            for st in states {
                match all.iter_mut().find(|f| f.name == st.name) {
                    // Synced: the store's count. Otherwise the server's at the
                    // last listing, or the demo desk's own.
                    Some(f) => {
                        f.messages = if st.monitored {
                            Some(st.total)
                        } else {
                            f.messages.map(|n| n.max(st.total))
                        };
                        f.special_use = f.special_use.take().or(st.special_use);
                    }
                    None => all.push(ServerFolder {
                        name: st.name,
                        special_use: st.special_use,
                        messages: (st.monitored || st.total > 0).then_some(st.total),
                    }),
                }
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Why `name` of `account` may not be renamed or deleted, if it may not.
    fn protected(&self, account: &str, name: &str) -> Option<String> {
        let acc = self.config.account(account)?;
        if name.eq_ignore_ascii_case("INBOX") || acc.target_folder.as_deref() == Some(name) {
            return Some(format!(
                "{} is where new mail arrives; it cannot be renamed or deleted",
                quoted(name)
            ));
        }
        if let Some(use_) = self
            .known_folders(account)
            .into_iter()
            .find(|f| f.name == name)
            .and_then(|f| f.special_use)
        {
            return Some(format!(
                "{} is the account's {} folder; rename or delete it with the server's own tools",
                quoted(name),
                use_.trim_start_matches('\\')
            ));
        }
        if self.changes_waiting(account, name) {
            return Some(format!(
                "changes to mail in {} are still on their way to the server; \
                 try again once the sync has sent them",
                quoted(name)
            ));
        }
        if acc.folders.names().iter().any(|f| f == name) {
            return Some(format!(
                "{} is synced because the account's `folders` in the config names it; \
                 take it out of `folders` first",
                quoted(name)
            ));
        }
        None
    }

    /// Whether queued moves or flag changes still name the folder: renamed
    /// or deleted now, they would fail on the server.
    fn changes_waiting(&self, account: &str, name: &str) -> bool {
        use crate::store::changes::ChangeOp;
        self.store.pending_changes(account).is_ok_and(|p| {
            p.iter().any(|c| {
                c.folder == name
                    || matches!(&c.op, ChangeOp::Move { to } | ChangeOp::Restore { to, .. } if to == name)
            })
        })
    }

    /// Words against a new folder name, if it cannot be one.
    fn bad_name(&self, account: &str, name: &str) -> Option<String> {
        if name.trim().is_empty() {
            return Some("a folder needs a name".into());
        }
        if name.chars().any(char::is_control) || name != name.trim() {
            return Some(format!(
                "{} has control characters or spaces at its ends; type the name again",
                quoted(name)
            ));
        }
        if self
            .known_folders(account)
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(name))
            || name.eq_ignore_ascii_case("INBOX")
        {
            return Some(format!("{account} already has a folder {}", quoted(name)));
        }
        None
    }

    /// Check a folder command, then run it on the server (or the demo store).
    pub(super) fn folder_command(self: &Arc<Self>, account: String, op: FolderOp) {
        let Some(acc) = self.config.account(&account) else {
            return self.emit(Event::Error(format!(
                "There is no account {} on this desk.",
                quoted(&account)
            )));
        };
        if acc.kind == AccountKind::Pop3 {
            return self.emit(Event::Error(format!(
                "Account {} is POP3: its server has no folders to create or change.",
                quoted(&account)
            )));
        }
        let refusal = match &op {
            FolderOp::Create(n) => self.bad_name(&account, n),
            FolderOp::Rename { from, to } => self
                .protected(&account, from)
                .or_else(|| self.bad_name(&account, to)),
            FolderOp::Delete(n) => self.protected(&account, n),
        };
        if let Some(why) = refusal {
            let msg = sanitize_line(&format!("Cannot change the folders of {account}: {why}."));
            tracing::warn!("{msg}");
            return self.emit(Event::Error(msg));
        }
        if self.backend == Backend::Demo {
            return self.apply_folder_op(&account, &op, None);
        }
        let acc = acc.clone();
        // A folder stored under another name than the server's (its name
        // had escape sequences) is changed under the server's name.
        let on_server = |desk_name: &str| {
            self.store
                .folder_state(&account, desk_name)
                .ok()
                .flatten()
                .and_then(|st| st.server)
                .unwrap_or_else(|| desk_name.to_string())
        };
        let server_op = match &op {
            FolderOp::Create(n) => FolderOp::Create(n.clone()),
            FolderOp::Rename { from, to } => FolderOp::Rename {
                from: on_server(from),
                to: to.clone(),
            },
            FolderOp::Delete(n) => FolderOp::Delete(on_server(n)),
        };
        let desk = Arc::clone(self);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let runtime = tokio::runtime::Handle::current();
        runtime.spawn(async move {
            desk.emit(Event::Notice(format!("{}…", capital(&op_words(&op)))));
            match crate::sync::imap::folder_op(&acc, &server_op).await {
                Ok(listed) => desk.apply_folder_op(&acc.name, &op, Some(listed)),
                Err(e) => {
                    let msg = match &e {
                        FolderOpError::Refused { .. } => format!(
                            "Could not finish {}: {e}. Nothing was changed.",
                            op_words(&op)
                        ),
                        FolderOpError::Sync(s) => {
                            format!("Could not finish {}: {s}.", op_words(&op))
                        }
                    };
                    let message = sanitize_line(&msg);
                    tracing::warn!(account = %acc.name, "{message}");
                    desk.emit(Event::AccountError {
                        account: acc.name.clone(),
                        message,
                    });
                }
            }
            if desk.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                desk.settled.notify_waiters();
            }
        });
    }

    /// The server agreed (or there is none): the store follows.
    fn apply_folder_op(&self, account: &str, op: &FolderOp, listed: Option<Vec<ServerFolder>>) {
        let stored = match op {
            FolderOp::Create(n) => self.store.add_folder(account, n),
            FolderOp::Rename { from, to } => self.store.rename_known_folder(account, from, to),
            FolderOp::Delete(n) => self.store.drop_folder(account, n),
        };
        let stored = stored.and_then(|()| match &listed {
            Some(l) => self.store.put_server_folders(account, l),
            None => Ok(()),
        });
        if let Err(e) = stored {
            return self.fail(
                &format!(
                    "The server finished {} but the desk could not store it; \
                     it shows at the next sync",
                    op_words(op)
                ),
                e,
            );
        }
        tracing::info!(account, "done: {}", op_words(op));
        let done = match op {
            FolderOp::Create(n) => format!("Created folder {}.", quoted(n)),
            FolderOp::Rename { from, to } => {
                format!("Renamed folder {} to {}.", quoted(from), quoted(to))
            }
            FolderOp::Delete(n) => format!("Deleted folder {}.", quoted(n)),
        };
        self.emit(Event::FoldersChanged {
            account: account.to_string(),
        });
        self.emit(Event::Notice(done));
    }

    /// New mail in `folder` notifies the agent again, or no longer does.
    pub(super) fn set_folder_notify(&self, account: &str, folder: &str, notify: bool) {
        match self.store.set_quiet(account, folder, !notify) {
            Ok(()) => {
                self.emit(Event::FoldersChanged {
                    account: account.to_string(),
                });
                self.emit(Event::Notice(if notify {
                    format!("New mail in {} notifies again.", quoted(folder))
                } else {
                    format!("New mail in {} no longer notifies.", quoted(folder))
                }));
            }
            Err(e) => self.fail("Could not change the folder's notification", e),
        }
    }
}

fn op_words(op: &FolderOp) -> String {
    match op {
        FolderOp::Create(n) => format!("creating folder {}", quoted(n)),
        FolderOp::Rename { from, to } => {
            format!("renaming folder {} to {}", quoted(from), quoted(to))
        }
        FolderOp::Delete(n) => format!("deleting folder {}", quoted(n)),
    }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
