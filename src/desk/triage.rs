//! Changes to many mails at once (marked mails) and their undo: the desk
//! remembers each move, delete, flag and link change while it runs, and
//! `undo` reverts the last one, on the server too.

use super::{Backend, Desk, Event};
use crate::mail::sanitize::sanitize_line;
use crate::store::RecordRef;
use crate::store::changes::{ChangeOp, PendingChange};

/// One change the agent can take back.
#[derive(Debug, Clone)]
pub(super) enum UndoStep {
    Moved {
        account: String,
        from: String,
        to: String,
        ids: Vec<u64>,
    },
    /// Each mail's flags before the change.
    Flags {
        account: String,
        folder: String,
        before: Vec<(u64, u8)>,
    },
    Linked {
        ids: Vec<u64>,
        record: RecordRef,
    },
    Unlinked {
        ids: Vec<u64>,
        record: RecordRef,
    },
}

/// "a mail" / "12 mails".
pub(super) fn mails(n: usize) -> String {
    if n == 1 {
        "1 mail".into()
    } else {
        format!("{n} mails")
    }
}

impl Desk {
    pub(super) fn remember(&self, step: UndoStep) {
        if let Ok(mut u) = self.undo.lock() {
            u.push(step);
        }
    }

    /// Move `ids` from `folder` to `target`; the ids that moved (or were queued).
    pub(super) fn move_many(
        &self,
        ids: &[u64],
        account: &str,
        folder: &str,
        target: &str,
    ) -> Vec<u64> {
        let mut moved = Vec::new();
        for id in ids {
            let done = match self.backend {
                Backend::Demo => self.store.relocate(account, folder, *id, target),
                Backend::Servers => {
                    let to = (Some(target) != self.trash_of(account).as_deref()).then_some(target);
                    self.store
                        .queue_move(account, folder, *id, to)
                        .map(|c| c.is_some())
                }
            };
            match done {
                Ok(true) => moved.push(*id),
                Ok(false) => {}
                Err(e) => {
                    self.fail("Could not move the mail", e);
                    break;
                }
            }
        }
        if !moved.is_empty() {
            self.emit(Event::FolderChanged {
                account: account.to_string(),
                folder: folder.to_string(),
            });
            self.emit(Event::FolderChanged {
                account: account.to_string(),
                folder: target.to_string(),
            });
            if self.backend == Backend::Servers {
                self.wake_sync();
            }
        }
        moved
    }

    pub(super) fn trash_of(&self, account: &str) -> Option<String> {
        self.special_use_folder(account, "\\Trash")
    }

    /// Set and clear flags on `ids`; their flags before, for undo.
    pub(super) fn flags_many(
        &self,
        ids: &[u64],
        account: &str,
        folder: &str,
        add: u8,
        remove: u8,
    ) -> Vec<(u64, u8)> {
        let mut before = Vec::new();
        for id in ids {
            let old = match self.store.flags_of(account, folder, *id) {
                Ok(Some((_, f))) => f,
                Ok(None) => continue,
                Err(e) => {
                    self.fail("Could not change the flags", e);
                    break;
                }
            };
            let done = match self.backend {
                Backend::Servers => self
                    .store
                    .change_flags(account, folder, *id, add, remove)
                    .map(|c| c.is_some()),
                Backend::Demo => {
                    self.store
                        .flags_of(account, folder, *id)
                        .and_then(|found| match found {
                            Some((loc, _)) => self
                                .store
                                .set_flags(
                                    account,
                                    folder,
                                    loc.uidvalidity,
                                    loc.uid,
                                    (old | add) & !remove,
                                )
                                .map(|_| true),
                            None => Ok(false),
                        })
                }
            };
            match done {
                Ok(true) => before.push((*id, old)),
                Ok(false) => {}
                Err(e) => {
                    self.fail("Could not change the flags", e);
                    break;
                }
            }
        }
        if !before.is_empty() {
            self.emit(Event::FolderChanged {
                account: account.to_string(),
                folder: folder.to_string(),
            });
            if self.backend == Backend::Servers {
                self.wake_sync();
            }
        }
        before
    }

    /// Link `ids` to `record`; the ids that were not linked before.
    pub(super) fn link_many(&self, ids: &[u64], record: RecordRef) -> Vec<u64> {
        let mut linked = Vec::new();
        for id in ids {
            match self.store.link(*id, record) {
                Ok(true) => {
                    linked.push(*id);
                    self.emit(Event::LinksChanged { id: *id });
                }
                Ok(false) => {}
                Err(e) => {
                    self.fail("Could not link the mail", e);
                    break;
                }
            }
        }
        linked
    }

    /// Take back the last change; says what was undone.
    pub(super) fn undo(&self) {
        let step = self.undo.lock().ok().and_then(|mut u| u.pop());
        let Some(step) = step else {
            return self.emit(Event::Notice("Nothing to undo.".into()));
        };
        match step {
            UndoStep::Moved {
                account,
                from,
                to,
                ids,
            } => {
                let back = match self.backend {
                    Backend::Demo => self.move_many(&ids, &account, &to, &from).len(),
                    Backend::Servers => self.restore_many(&ids, &account, &to, &from),
                };
                self.emit(Event::Notice(format!(
                    "Moved {} back to {}.",
                    mails(back),
                    sanitize_line(&from)
                )));
            }
            UndoStep::Flags {
                account,
                folder,
                before,
            } => {
                // Same change together, so the server hears one STORE per kind.
                let mut changes: Vec<(u8, u8, u64)> = Vec::new();
                for (id, old) in &before {
                    if let Ok(Some((_, now))) = self.store.flags_of(&account, &folder, *id) {
                        let (add, remove) = (old & !now, now & !old);
                        if add != 0 || remove != 0 {
                            changes.push((add, remove, *id));
                        }
                    }
                }
                changes.sort();
                let mut n = 0;
                for chunk in changes.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
                    let ids: Vec<u64> = chunk.iter().map(|c| c.2).collect();
                    n += self
                        .flags_many(&ids, &account, &folder, chunk[0].0, chunk[0].1)
                        .len();
                }
                self.emit(Event::Notice(format!("Flags of {} set back.", mails(n))));
            }
            UndoStep::Linked { ids, record } => {
                for id in &ids {
                    match self.store.unlink(*id, record) {
                        Ok(_) => self.emit(Event::LinksChanged { id: *id }),
                        Err(e) => return self.fail("Could not unlink the mail", e),
                    }
                }
                self.emit(Event::Notice(format!(
                    "Unlinked {} again.",
                    mails(ids.len())
                )));
            }
            UndoStep::Unlinked { ids, record } => {
                let n = self.link_many(&ids, record).len();
                self.emit(Event::Notice(format!("Linked {} again.", mails(n))));
            }
        }
    }

    /// Servers: queue moves of mails back from `now_in` to `to`, found on
    /// the server by Message-ID (their UID there is new).
    fn restore_many(&self, ids: &[u64], account: &str, now_in: &str, to: &str) -> usize {
        let mut n = 0;
        for id in ids {
            let message_id = match self.store.summary(*id) {
                Ok(Some(s)) if !s.message_id.is_empty() => s.message_id,
                Ok(_) => continue,
                Err(e) => {
                    self.fail("Could not undo the move", e);
                    break;
                }
            };
            let change = PendingChange {
                seq: 0,
                account: account.to_string(),
                folder: now_in.to_string(),
                uidvalidity: 0,
                uid: 0,
                id: *id,
                op: ChangeOp::Restore {
                    to: to.to_string(),
                    message_id,
                },
            };
            match self.store.queue_change(change) {
                Ok(_) => n += 1,
                Err(e) => {
                    self.fail("Could not undo the move", e);
                    break;
                }
            }
        }
        if n > 0 {
            self.wake_sync();
        }
        n
    }
}

impl Desk {
    /// One case per customer among `ids`: made from their first mail and
    /// linked to all of theirs.
    pub(super) fn create_case_for(&self, ids: &[u64]) {
        use crate::crm::create;
        let mut groups: Vec<(String, Vec<crate::store::MessageSummary>)> = Vec::new();
        for id in ids {
            let Ok(Some(s)) = self.store.summary(*id) else {
                continue;
            };
            let who = s
                .from
                .first()
                .map(|p| p.email.to_lowercase())
                .unwrap_or_default();
            match groups.iter_mut().find(|(w, _)| *w == who) {
                Some((_, g)) => g.push(s),
                None => groups.push((who, vec![s])),
            }
        }
        let agent = self.config.agent.name.clone();
        let agent = (!agent.is_empty()).then_some(agent);
        let mut cases = 0;
        for (_, group) in &groups {
            let first = &group[0];
            let made = create::case_from_mail(&self.store, first, agent.as_deref())
                .map_err(create::CreateError::from)
                .and_then(|r| {
                    create::create_and_link_checked(&self.store, &self.rules, r, first.id)
                });
            let case = match made {
                Ok(c) => c,
                Err(e) => return self.fail("Cannot create the case", e),
            };
            cases += 1;
            self.link_many(
                &group.iter().map(|s| s.id).collect::<Vec<_>>(),
                case.reference(),
            );
            self.emit(Event::LinksChanged { id: first.id });
        }
        self.emit(Event::RecordsChanged);
        self.emit(Event::Notice(format!(
            "Created {cases} case{} for {}.",
            if cases == 1 { "" } else { "s" },
            mails(groups.iter().map(|(_, g)| g.len()).sum())
        )));
    }
}

impl Desk {
    /// Now, in Unix seconds: the injected time when tests set one.
    pub fn now(&self) -> i64 {
        self.clock
            .lock()
            .ok()
            .and_then(|c| *c)
            .unwrap_or_else(|| chrono::Utc::now().timestamp())
    }

    /// Fix the desk's clock (tests); snoozed mail wakes by it.
    pub fn set_clock(&self, now: i64) {
        if let Ok(mut c) = self.clock.lock() {
            *c = Some(now);
        }
    }

    pub(super) fn snooze(&self, ids: &[u64], account: &str, folder: &str, until: i64) {
        for id in ids {
            let s = crate::store::snooze::Snooze {
                id: *id,
                account: account.to_string(),
                folder: folder.to_string(),
                until,
            };
            if let Err(e) = self.store.snooze(&s) {
                return self.fail("Could not snooze the mail", e);
            }
        }
        self.emit(Event::FolderChanged {
            account: account.to_string(),
            folder: folder.to_string(),
        });
        let when = chrono::DateTime::from_timestamp(until, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        self.emit(Event::Notice(format!(
            "Snoozed {} until {when}.",
            mails(ids.len())
        )));
    }

    /// Ids hidden from `account`/`folder` now.
    pub(super) fn snoozed_in(&self, account: &str, folder: &str) -> Vec<u64> {
        let now = self.now();
        self.store
            .snoozes()
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.account == account && s.folder == folder && s.until > now)
            .map(|s| s.id)
            .collect()
    }

    /// Bring back every snoozed mail whose time has come: unread again, with
    /// a notice. Returns how many came back.
    pub fn wake_snoozed(&self) -> usize {
        let now = self.now();
        let due: Vec<_> = match self.store.snoozes() {
            Ok(all) => all.into_iter().filter(|s| s.until <= now).collect(),
            Err(e) => {
                self.fail("Could not read snoozed mail", e);
                return 0;
            }
        };
        for s in &due {
            if let Err(e) = self.store.unsnooze(s.id) {
                self.fail("Could not bring back a snoozed mail", e);
                continue;
            }
            self.flags_many(&[s.id], &s.account, &s.folder, 0, crate::store::flags::SEEN);
            let subject = self
                .store
                .summary(s.id)
                .ok()
                .flatten()
                .map(|m| m.subject)
                .unwrap_or_default();
            self.emit(Event::Notice(sanitize_line(&format!(
                "Back from snooze in {}: {subject}",
                s.folder
            ))));
        }
        due.len()
    }
}
