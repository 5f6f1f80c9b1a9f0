//! Where sync progress goes: desk events, a progress bar on a terminal, or
//! plain lines when the output is not a terminal.

use crate::protocol::SyncState;
use crate::sync::SyncUpdate;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

#[derive(Clone)]
pub enum Output {
    /// Events only (the interface's background tasks).
    Quiet,
    /// One indicatif bar per account.
    Bars(indicatif::MultiProgress),
    /// A line on stderr now and then.
    Lines,
}

struct Inner {
    account: String,
    events: Option<UnboundedSender<SyncUpdate>>,
    output: Output,
    bar: Mutex<Option<indicatif::ProgressBar>>,
    last_line: Mutex<Option<Instant>>,
}

/// Reports one account's sync progress. Cheap to clone.
#[derive(Clone)]
pub struct Reporter(Arc<Inner>);

impl Reporter {
    pub fn new(
        account: &str,
        events: Option<UnboundedSender<SyncUpdate>>,
        output: Output,
    ) -> Reporter {
        Reporter(Arc::new(Inner {
            account: account.to_string(),
            events,
            output,
            bar: Mutex::new(None),
            last_line: Mutex::new(None),
        }))
    }

    pub fn event(&self, e: SyncUpdate) {
        // Without an interface the agent reads problems on stderr.
        if let SyncUpdate::Error(text) | SyncUpdate::Notice(text) = &e
            && !matches!(self.0.output, Output::Quiet)
        {
            crate::console::err(text);
        }
        let e = match e {
            SyncUpdate::Error(message) => SyncUpdate::AccountError {
                account: self.0.account.clone(),
                message,
            },
            other => other,
        };
        if let Some(tx) = &self.0.events {
            // The receiver may be gone at shutdown; nothing to do then.
            let _ = tx.send(e);
        }
    }

    pub fn state(&self, state: SyncState) {
        self.event(SyncUpdate::State {
            account: self.0.account.clone(),
            state,
        });
    }

    pub fn idle(&self) {
        if let Ok(mut bar) = self.0.bar.lock()
            && let Some(b) = bar.take()
        {
            b.finish_and_clear();
        }
        self.state(SyncState::Idle);
    }

    pub fn progress(&self, folder: &str, done: u64, total: u64) {
        self.state(SyncState::Syncing { done, total });
        match &self.0.output {
            Output::Quiet => {}
            Output::Bars(multi) => {
                let Ok(mut slot) = self.0.bar.lock() else {
                    return;
                };
                let bar = slot.get_or_insert_with(|| {
                    let b = multi.add(indicatif::ProgressBar::new(total));
                    if let Ok(style) = indicatif::ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
                    ) {
                        b.set_style(style.progress_chars("=> "));
                    }
                    b
                });
                bar.set_prefix(crate::console::label(&format!(
                    "{}/{}",
                    self.0.account, folder
                )));
                bar.set_length(total);
                bar.set_position(done);
            }
            Output::Lines => {
                let Ok(mut last) = self.0.last_line.lock() else {
                    return;
                };
                let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
                if due || done == total {
                    *last = Some(Instant::now());
                    crate::console::print(
                        crate::console::Stream::Err,
                        &format!(
                            "{}/{}: {done} of {total}\n",
                            crate::console::label(&self.0.account),
                            crate::console::label(folder)
                        ),
                    );
                }
            }
        }
    }

    pub fn retrying(&self, in_secs: u64, reason: &str) {
        self.state(SyncState::Retrying {
            in_secs,
            reason: reason.to_string(),
        });
        if matches!(self.0.output, Output::Lines | Output::Bars(_)) {
            crate::console::err(&format!(
                "{}: {reason}; retrying in {in_secs}s",
                self.0.account
            ));
        }
    }
}
