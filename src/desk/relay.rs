//! Turns what sync and the outbox report into interface events. Updates
//! that arrive together are one burst: one refresh per folder, new-mail
//! counts summed, and a `RecordsChanged` once the burst's mail is linked.

use crate::outbox::OutboxUpdate;
use crate::protocol::{Event, SyncState};
use crate::sync::SyncUpdate;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// Where the search indexer's handle lives once the desk started it.
pub(crate) type SearchSlot =
    std::sync::Arc<std::sync::Mutex<Option<crate::search::indexer::IndexerHandle>>>;

/// How long updates gather into one burst after the first arrives.
const BURST: Duration = Duration::from_millis(25);

/// What one burst of updates amounts to.
#[derive(Debug, Default)]
pub(crate) struct Burst {
    states: BTreeMap<String, SyncState>,
    changed: BTreeSet<(String, String)>,
    new_mail: BTreeMap<(String, String), usize>,
    links: BTreeSet<u64>,
    outbox: bool,
    /// Errors and notices, in order.
    said: Vec<Event>,
}

impl Burst {
    /// Wake the indexer for what the burst stored: new mail, relinked mail.
    fn nudge(&self, search: &SearchSlot) {
        let Some(h) = search.lock().ok().and_then(|g| g.clone()) else {
            return;
        };
        if !self.new_mail.is_empty() || !self.changed.is_empty() {
            h.new_mail();
        }
        h.changed(self.links.iter().copied().collect());
    }

    pub(crate) fn sync(&mut self, u: SyncUpdate) {
        match u {
            SyncUpdate::State { account, state } => {
                if let SyncState::Error(e) = &state {
                    // A passing error state must still reach the agent.
                    self.said.push(Event::AccountError {
                        account: account.clone(),
                        message: format!("{account}: {e}"),
                    });
                }
                self.states.insert(account, state);
            }
            SyncUpdate::FolderChanged { account, folder } => {
                self.changed.insert((account, folder));
            }
            SyncUpdate::NewMail {
                account,
                folder,
                count,
            } => *self.new_mail.entry((account, folder)).or_default() += count,
            SyncUpdate::Error(e) => self.said.push(Event::Error(e)),
            SyncUpdate::AccountError { account, message } => {
                self.said.push(Event::AccountError { account, message })
            }
            SyncUpdate::Notice(n) => self.said.push(Event::Notice(n)),
        }
    }

    pub(crate) fn outbox(&mut self, u: OutboxUpdate) {
        self.outbox = true;
        match u {
            OutboxUpdate::LinksChanged { id } => {
                self.links.insert(id);
            }
            OutboxUpdate::FolderChanged { account, folder } => {
                self.changed.insert((account, folder));
            }
            OutboxUpdate::Error(e) => self.said.push(Event::Error(e)),
            OutboxUpdate::Notice(n) => self.said.push(Event::Notice(n)),
        }
    }

    /// The events of the burst, each folder refreshed once.
    pub(crate) fn events(self) -> Vec<Event> {
        let mut out = Vec::new();
        for (account, state) in self.states {
            out.push(Event::Sync { account, state });
        }
        // Stored mail is linked in the same batch, so links may have moved.
        let linked = !self.new_mail.is_empty() || !self.changed.is_empty();
        for (account, folder) in &self.changed {
            if !self
                .new_mail
                .contains_key(&(account.clone(), folder.clone()))
            {
                out.push(Event::FolderChanged {
                    account: account.clone(),
                    folder: folder.clone(),
                });
            }
        }
        for ((account, folder), count) in self.new_mail {
            out.push(Event::NewMail {
                account,
                folder,
                count,
            });
        }
        for id in self.links {
            out.push(Event::LinksChanged { id });
        }
        if linked {
            out.push(Event::RecordsChanged);
        }
        if self.outbox {
            out.push(Event::OutboxChanged);
        }
        out.extend(self.said);
        out
    }
}

/// Relay until both senders are gone.
pub(crate) async fn relay(
    mut sync: UnboundedReceiver<SyncUpdate>,
    mut outbox: UnboundedReceiver<OutboxUpdate>,
    events: UnboundedSender<Event>,
    search: SearchSlot,
) {
    let (mut sync_open, mut outbox_open) = (true, true);
    while sync_open || outbox_open {
        let mut burst = Burst::default();
        tokio::select! {
            u = sync.recv(), if sync_open => match u {
                Some(u) => burst.sync(u),
                None => sync_open = false,
            },
            u = outbox.recv(), if outbox_open => match u {
                Some(u) => burst.outbox(u),
                None => outbox_open = false,
            },
        }
        tokio::time::sleep(BURST).await;
        while let Ok(u) = sync.try_recv() {
            burst.sync(u);
        }
        while let Ok(u) = outbox.try_recv() {
            burst.outbox(u);
        }
        burst.nudge(&search);
        for e in burst.events() {
            if events.send(e).is_err() {
                // The interface is gone: nobody is left to tell.
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_mail(folder: &str, count: usize) -> SyncUpdate {
        SyncUpdate::NewMail {
            account: "support".into(),
            folder: folder.into(),
            count,
        }
    }

    fn changed(folder: &str) -> SyncUpdate {
        SyncUpdate::FolderChanged {
            account: "support".into(),
            folder: folder.into(),
        }
    }

    #[test]
    fn a_burst_of_new_mail_refreshes_each_folder_once_then_the_records() {
        let mut b = Burst::default();
        for _ in 0..50 {
            b.sync(changed("INBOX"));
            b.sync(new_mail("INBOX", 1));
        }
        b.sync(changed("Sent"));
        let events = b.events();
        let names: Vec<String> = events
            .iter()
            .map(|e| match e {
                Event::FolderChanged { folder, .. } => format!("changed {folder}"),
                Event::NewMail { folder, count, .. } => format!("new {count} in {folder}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            vec!["changed Sent", "new 50 in INBOX", "RecordsChanged"]
        );
    }

    #[test]
    fn sync_states_keep_the_last_per_account_but_errors_are_all_told() {
        let mut b = Burst::default();
        b.sync(SyncUpdate::State {
            account: "support".into(),
            state: SyncState::Error("login refused".into()),
        });
        b.sync(SyncUpdate::State {
            account: "support".into(),
            state: SyncState::Idle,
        });
        let events = b.events();
        assert!(matches!(
            events.as_slice(),
            [Event::Sync { state: SyncState::Idle, .. }, Event::AccountError { message: e, .. }] if e.contains("login refused")
        ));
    }

    #[test]
    fn an_outbox_update_refreshes_the_outbox_and_the_sent_mail_links() {
        let mut b = Burst::default();
        b.outbox(OutboxUpdate::Notice("Sent \"Hi\".".into()));
        b.outbox(OutboxUpdate::LinksChanged { id: 7 });
        let events = b.events();
        assert!(matches!(
            events.as_slice(),
            [
                Event::LinksChanged { id: 7 },
                Event::OutboxChanged,
                Event::Notice(_)
            ]
        ));
    }
}
