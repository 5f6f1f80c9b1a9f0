//! The Desk: the one facade between the interface and everything else.
//! `Command`s go in, `Event`s come out; reads are small queries that touch
//! only the rows asked for. It owns the store and the background tasks.

use crate::config::Config;
use crate::crm::linking::{LinkRules, auto_link};
use crate::mail::render::RenderedMail;
use crate::store::{FolderState, MessageSummary, RecordKind, Store, flags};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use tokio::sync::{Notify, mpsc};

/// Added under the headers-only note of a cut POP3 mail the server deleted.
/// The store setting holding "account\tfolder" of the folder open at the last exit.
const POSITION_SETTING: &str = "ui.position";

const GONE_FROM_POP3: &str = "\r\n[The POP3 server no longer has this mail (it was deleted there \
     after deskmail imported its headers), so the rest of it cannot be fetched.]\r\n";

pub mod account_check;
mod cases;
pub mod fake;
mod folders;
pub mod local;
mod queries;
mod relay;
pub mod render;
mod search;
pub mod server_drafts;
mod templates;
mod triage;

pub use crate::protocol::{AccountFolders, Command, DeskClient, Event, Outgoing, SyncState};

/// Where the desk's changes to mail go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The accounts' servers: flag changes and moves are queued for sync,
    /// sent mail goes through the outbox.
    Servers,
    /// The generated demo desk: no servers, so changes apply to the store at
    /// once and sent mail is filed straight into Sent.
    Demo,
}

/// The in-process desk.
pub struct Desk {
    store: Arc<Store>,
    config: Arc<Config>,
    rules: LinkRules,
    events: mpsc::UnboundedSender<Event>,
    backend: Backend,
    /// Shared with the agents' views of a served desk.
    sync: Arc<std::sync::Mutex<Option<crate::sync::SyncHandle>>>,
    outbox: Arc<std::sync::Mutex<Option<crate::outbox::worker::OutboxHandle>>>,
    download_dir: std::sync::Mutex<std::path::PathBuf>,
    /// Running renders and rendered mails, so going back to a mail is instant.
    renders: render::RenderQueue,
    /// Itself, so a command can hand work to a task that outlives the call.
    me: Weak<Desk>,
    /// Commands still working off the caller's task; 0 means settled.
    in_flight: AtomicUsize,
    settled: Notify,
    /// Changes the agent can take back, last on top.
    undo: std::sync::Mutex<Vec<triage::UndoStep>>,
    /// An injected time (tests); `None` reads the system clock.
    clock: std::sync::Mutex<Option<i64>>,
    /// The search indexer, once `start_search` ran; the relay nudges it too.
    search: relay::SearchSlot,
    /// The task keeping the servers' Drafts folders in step (servers only).
    server_drafts: Arc<std::sync::Mutex<Option<mpsc::UnboundedSender<server_drafts::DraftJob>>>>,
}

impl Desk {
    /// Start the desk on `store`; the receiver carries its events.
    pub fn new(
        store: Arc<Store>,
        config: Config,
        backend: Backend,
    ) -> (Arc<Desk>, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let rules = LinkRules::from_config(&config);
        let download = config.download_dir.clone();
        let desk = Arc::new_cyclic(|me| Desk {
            store,
            config: Arc::new(config),
            rules,
            events: tx,
            backend,
            sync: Arc::default(),
            outbox: Arc::default(),
            download_dir: std::sync::Mutex::new(
                download.unwrap_or_else(|| crate::config::paths::data_dir().join("downloads")),
            ),
            renders: render::RenderQueue::default(),
            me: me.clone(),
            in_flight: AtomicUsize::new(0),
            settled: Notify::new(),
            undo: std::sync::Mutex::new(Vec::new()),
            clock: std::sync::Mutex::new(None),
            search: relay::SearchSlot::default(),
            server_drafts: Arc::new(std::sync::Mutex::new(None)),
        });
        (desk, rx)
    }

    /// The same desk for another agent (a served desk's client): shared
    /// store and background tasks; its own events, undo steps and name.
    pub fn agent_view(
        &self,
        agent: crate::config::AgentConfig,
    ) -> (Arc<Desk>, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut config = (*self.config).clone();
        config.agent = agent;
        let desk = Arc::new_cyclic(|me| Desk {
            store: Arc::clone(&self.store),
            config: Arc::new(config),
            rules: self.rules.clone(),
            events: tx,
            backend: self.backend,
            sync: Arc::clone(&self.sync),
            outbox: Arc::clone(&self.outbox),
            download_dir: std::sync::Mutex::new(self.download_dir()),
            renders: render::RenderQueue::default(),
            me: me.clone(),
            in_flight: AtomicUsize::new(0),
            settled: Notify::new(),
            undo: std::sync::Mutex::new(Vec::new()),
            clock: std::sync::Mutex::new(self.clock.lock().ok().and_then(|c| *c)),
            search: Arc::clone(&self.search),
            server_drafts: Arc::clone(&self.server_drafts),
        });
        (desk, rx)
    }

    /// Attachments go to `<data dir>/downloads` unless the config names a dir.
    pub fn set_data_dir(&self, dir: &std::path::Path) {
        if self.config.download_dir.is_none()
            && let Ok(mut d) = self.download_dir.lock()
        {
            *d = dir.join("downloads");
        }
    }

    pub fn download_dir(&self) -> std::path::PathBuf {
        self.download_dir
            .lock()
            .map(|d| d.clone())
            .unwrap_or_else(|_| crate::config::paths::data_dir().join("downloads"))
    }

    fn save_attachments(&self, id: u64, index: Option<usize>) {
        let dir = self.download_dir();
        let raw = match self.store.body(id) {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                return self.emit(Event::Notice(
                    "This mail's body is still being fetched.".into(),
                ));
            }
            Err(e) => return self.fail("Could not read the mail", e),
        };
        // The attachment code creates and checks the dir itself: making it
        // private here would chmod through a symbolic link.
        let saved = match index {
            Some(i) => crate::mail::attachments::save_attachment(&raw, i, &dir).map(|p| vec![p]),
            None => crate::mail::attachments::save_all(&raw, &dir),
        };
        match saved {
            Ok(paths) if paths.is_empty() => {
                self.emit(Event::Notice("This mail has no attachments.".into()))
            }
            Ok(paths) => {
                let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                tracing::info!("saved attachments: {}", names.join(", "));
                self.emit(Event::Notice(crate::mail::sanitize::sanitize_line(
                    &format!("Saved {}", names.join(", ")),
                )));
            }
            Err(e) => self.fail("Could not save the attachment", e),
        }
    }

    fn pipe_part(&self, id: u64, index: Option<usize>, command: &str) {
        use std::io::Write;
        let raw = match self.store.body(id) {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                return self.emit(Event::Notice(
                    "This mail's body is still being fetched.".into(),
                ));
            }
            Err(e) => return self.fail("Could not read the mail", e),
        };
        let bytes = match index {
            Some(i) => match crate::mail::attachments::part_bytes(&raw, i) {
                Some(b) => b,
                None => {
                    return self.emit(Event::Error(format!("This mail has no attachment [{i}].")));
                }
            },
            None => raw,
        };
        let child = std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return self.fail("Could not start the command", e),
        };
        if let Some(mut stdin) = child.stdin.take() {
            // A command that stops reading early is not an error.
            let _ = stdin.write_all(&bytes);
        }
        match child.wait_with_output() {
            Ok(out) => {
                let text = String::from_utf8_lossy(if out.stdout.is_empty() {
                    &out.stderr
                } else {
                    &out.stdout
                });
                let first = crate::mail::sanitize::sanitize_line(text.lines().next().unwrap_or(""));
                let msg = format!(
                    "`{}` exited with {}: {first}",
                    crate::mail::sanitize::sanitize_line(command),
                    out.status
                );
                tracing::info!("{msg}");
                if out.status.success() {
                    self.emit(Event::Notice(msg));
                } else {
                    self.emit(Event::Error(msg));
                }
            }
            Err(e) => self.fail("The command failed", e),
        }
    }

    /// Start the background sync tasks (not on the demo desk). Call from
    /// inside the tokio runtime.
    pub fn start_background(&self) {
        // Snoozed mail comes back on time on every desk, demo included.
        let me = self.me.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
            loop {
                tick.tick().await;
                let Some(desk) = me.upgrade() else { break };
                desk.spawn_work(|d| {
                    d.wake_snoozed();
                });
            }
        });
        if self.backend == Backend::Demo {
            return;
        }
        let (sync_tx, sync_rx) = mpsc::unbounded_channel();
        let (outbox_tx, outbox_rx) = mpsc::unbounded_channel();
        tokio::spawn(relay::relay(
            sync_rx,
            outbox_rx,
            self.events.clone(),
            Arc::clone(&self.search),
        ));
        let floor = self
            .config
            .min_free_mb
            .unwrap_or(crate::store::disk::DEFAULT_MIN_FREE_MB);
        match crate::store::disk::check_floor(self.store.dir(), floor) {
            Ok(()) => {
                let handle = crate::sync::spawn_all(
                    Arc::clone(&self.config),
                    Arc::clone(&self.store),
                    sync_tx,
                );
                if let Ok(mut g) = self.sync.lock() {
                    *g = Some(handle);
                }
            }
            Err(msg) => {
                tracing::error!("{msg}");
                let _ = self.events.send(Event::Error(msg));
            }
        }
        let outbox = crate::outbox::worker::spawn(
            Arc::clone(&self.config),
            Arc::clone(&self.store),
            outbox_tx,
        );
        if let Ok(mut g) = self.outbox.lock() {
            *g = Some(outbox);
        }
        let drafts = server_drafts::spawn(
            Arc::clone(&self.config),
            Arc::clone(&self.store),
            self.events.clone(),
        );
        if let Ok(mut g) = self.server_drafts.lock() {
            *g = Some(drafts);
        }
    }

    /// Hand a draft change to the servers' Drafts folders, if they are synced.
    fn to_server_drafts(&self, job: server_drafts::DraftJob) {
        if let Ok(g) = self.server_drafts.lock()
            && let Some(tx) = g.as_ref()
        {
            let _ = tx.send(job);
        }
    }

    fn search_handle(&self) -> Option<crate::search::indexer::IndexerHandle> {
        self.search.lock().ok().and_then(|g| g.clone())
    }

    /// Run a search query, newest first (hits are checked against the store).
    pub fn search_hits(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<crate::search::Hit>, crate::search::SearchError> {
        match self.search_handle() {
            Some(h) => h.index().search(&self.store, query, limit),
            None => Err(crate::search::SearchError::Index(
                "the index is not open".into(),
            )),
        }
    }

    /// Tell the indexer which mails a command changes.
    fn touch_search(&self, cmd: &Command) {
        let ids = match cmd {
            Command::SetFlags { id, .. }
            | Command::Link { id, .. }
            | Command::Unlink { id, .. }
            | Command::Trash { id, .. }
            | Command::MoveTo { id, .. }
            | Command::CreateFromMail { id, .. } => vec![*id],
            Command::Relink { ids } => ids.clone(),
            _ => return,
        };
        if let Some(h) = self.search_handle() {
            h.changed(ids);
        }
    }

    /// Look at the outbox now (a mail was queued from outside the desk).
    pub fn wake_outbox(&self) {
        if let Ok(g) = self.outbox.lock()
            && let Some(h) = g.as_ref()
        {
            h.wake();
        }
    }

    fn wake_sync(&self) {
        if let Ok(g) = self.sync.lock()
            && let Some(h) = g.as_ref()
        {
            h.changes_pending();
        }
    }

    /// The folder of `account` with special use `use_` (e.g. `\\Trash`).
    fn special_use_folder(&self, account: &str, use_: &str) -> Option<String> {
        self.store
            .folders_by_account()
            .ok()?
            .into_iter()
            .find(|(a, _)| a == account)?
            .1
            .into_iter()
            .find(|f| f.special_use.as_deref() == Some(use_))
            .map(|f| f.name)
    }

    fn move_mail(&self, ids: Vec<u64>, account: String, folder: String, to: Option<String>) {
        let target = match &to {
            Some(t) => t.clone(),
            None => match self.special_use_folder(&account, "\\Trash") {
                Some(t) => t,
                None => {
                    return self.fail(
                        "Could not delete",
                        format!("account \"{account}\" has no Trash folder"),
                    );
                }
            },
        };
        if target == folder {
            return self.emit(Event::Notice(format!("The mail is already in {target}.")));
        }
        let moved = self.move_many(&ids, &account, &folder, &target);
        if moved.is_empty() {
            return;
        }
        let n = moved.len();
        self.remember(triage::UndoStep::Moved {
            account,
            from: folder,
            to: target.clone(),
            ids: moved,
        });
        let what = if n == 1 && ids.len() == 1 {
            String::new()
        } else {
            format!(" {}", triage::mails(n))
        };
        let target = crate::mail::sanitize::sanitize_line(&target);
        self.emit(Event::Notice(match self.backend {
            Backend::Demo => format!("Moved{what} to {target}."),
            Backend::Servers => format!("Moving{what} to {target}…"),
        }));
    }

    fn archive_of(&self, account: &str, to: Option<String>) -> String {
        to.or_else(|| self.special_use_folder(account, "\\Archive"))
            .unwrap_or_else(|| "Archive".into())
    }

    /// Servers: the change is queued for sync. Demo: it applies at once.
    fn set_flags(&self, id: u64, account: String, folder: String, add: u8, remove: u8) {
        match self.backend {
            Backend::Servers => match self.store.change_flags(&account, &folder, id, add, remove) {
                Ok(_) => {
                    self.emit(Event::FolderChanged { account, folder });
                    self.wake_sync();
                }
                Err(e) => self.fail("Could not change the flags", e),
            },
            Backend::Demo => match self.store.flags_of(&account, &folder, id) {
                Ok(Some((loc, old))) => {
                    let new = (old | add) & !remove;
                    match self
                        .store
                        .set_flags(&account, &folder, loc.uidvalidity, loc.uid, new)
                    {
                        Ok(_) => self.emit(Event::FolderChanged { account, folder }),
                        Err(e) => self.fail("Could not change the flags", e),
                    }
                }
                Ok(None) => {}
                Err(e) => self.fail("Could not change the flags", e),
            },
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// A mail imported as headers only (over `max_message_mb`) is fetched
    /// whole when the agent opens it, then shown again if still wanted.
    fn fetch_whole_if_cut(self: &Arc<Self>, id: u64, runtime: &tokio::runtime::Handle) {
        let Ok(Some(summary)) = self.store.summary(id) else {
            return;
        };
        if !summary.body_cut || self.backend == Backend::Demo || !self.renders.claim_fetch(id) {
            return;
        }
        let loc = self.store.locations(id).ok().and_then(|l| {
            l.into_iter().find(|loc| {
                self.config.account(&loc.account).is_some_and(|a| {
                    matches!(
                        a.kind,
                        crate::config::AccountKind::Imap | crate::config::AccountKind::Pop3
                    )
                })
            })
        });
        let Some(loc) = loc else {
            self.renders.fetch_done(id);
            return;
        };
        let desk = Arc::clone(self);
        runtime.spawn(async move {
            desk.emit(Event::Notice(format!(
                "Fetching the whole mail ({}) from the server…",
                crate::mail::render::human_size(
                    usize::try_from(summary.size).unwrap_or(usize::MAX)
                )
            )));
            let fetched = match desk.config.account(&loc.account) {
                Some(acc) if acc.kind == crate::config::AccountKind::Pop3 => {
                    desk.fetch_whole_pop3(acc, id, &loc).await
                }
                Some(acc) => crate::sync::imap::fetch_whole(acc, &desk.store, &loc).await,
                None => return desk.renders.fetch_done(id),
            };
            let stored = fetched.map_err(|e| e.to_string()).and_then(|raw| {
                desk.store
                    .put_whole_body(id, &raw)
                    .map_err(|e| e.to_string())
            });
            desk.renders.fetch_done(id);
            match stored {
                Ok(()) => {
                    desk.renders.forget(id);
                    if let Some((wanted, options)) = desk.renders.wanted()
                        && wanted == id
                    {
                        desk.send(Command::Render { id, options });
                    }
                }
                Err(e) => desk.fail("Could not fetch the whole mail", e),
            }
        });
    }

    /// The whole mail from a POP3 server; when the server no longer has it,
    /// the stored headers and note say so in the reader instead.
    async fn fetch_whole_pop3(
        &self,
        acc: &crate::config::AccountConfig,
        id: u64,
        loc: &crate::store::Location,
    ) -> Result<Vec<u8>, crate::sync::SyncError> {
        match crate::sync::pop3::fetch_whole(acc, &self.store, loc).await? {
            crate::sync::pop3::Whole::Mail(raw) => Ok(raw),
            crate::sync::pop3::Whole::Gone => {
                tracing::info!(account = %acc.name, "mail {id}: the POP3 server no longer has it");
                let mut kept = self.store.body(id)?.unwrap_or_default();
                kept.extend_from_slice(GONE_FROM_POP3.as_bytes());
                Ok(kept)
            }
        }
    }

    /// Run `work` on a blocking task, counted until it is done.
    fn spawn_work(self: &Arc<Self>, work: impl FnOnce(&Desk) + Send + 'static) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let desk = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            work(&desk);
            // Events are already queued when the count drops, so a settled
            // desk has nothing more on its way.
            if desk.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                desk.settled.notify_waiters();
            }
        });
    }

    /// Whether every command sent so far has finished its work.
    pub fn is_settled(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// Wait until every command sent so far has finished its work.
    pub async fn settled(&self) {
        loop {
            let notified = self.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_settled() {
                return;
            }
            notified.await;
        }
    }

    /// Says in the reader that another mail has this one's Message-ID.
    fn mark_clash(&self, id: u64, mut mail: RenderedMail) -> RenderedMail {
        if let Ok(Some(s)) = self.store.summary(id)
            && s.msgid_clash
        {
            let note = crate::mail::render::RenderedLine {
                kind: crate::mail::render::LineKind::Notice,
                text: crate::mail::sanitize::sanitize_line(&format!(
                    "[Another, different mail has the same Message-ID <{}>; both are kept.]",
                    s.message_id.trim_matches(['<', '>'])
                )),
            };
            mail.lines.insert(0, note);
        }
        mail
    }

    fn emit(&self, e: Event) {
        // The interface may have gone away at shutdown; nothing to do then.
        let _ = self.events.send(e);
    }

    fn fail(&self, what: &str, e: impl std::fmt::Display) {
        let msg = crate::mail::sanitize::sanitize_line(&format!("{what}: {e}"));
        tracing::error!("{msg}");
        self.emit(Event::Error(msg));
    }

    /// Run a command; slow work goes to a blocking task, never the caller.
    pub fn send(self: &Arc<Self>, cmd: Command) {
        self.touch_search(&cmd);
        let desk = Arc::clone(self);
        match cmd {
            Command::SaveAttachments { id, index } => {
                desk.spawn_work(move |d| d.save_attachments(id, index));
            }
            Command::PipePart { id, index, command } => {
                desk.spawn_work(move |d| d.pipe_part(id, index, &command));
            }
            Command::Render { id, options } => {
                let cancel = match self.renders.request(id, &options) {
                    render::Ticket::Cached(mail) => {
                        return self.emit(Event::Rendered { id, mail });
                    }
                    render::Ticket::Running => return,
                    render::Ticket::Start(cancel) => cancel,
                };
                let runtime = tokio::runtime::Handle::current();
                let owner = Arc::clone(self);
                desk.spawn_work(move |desk| {
                    let raw = match desk.store.body(id) {
                        Ok(raw) => raw,
                        Err(e) => {
                            desk.renders.finish(id, &options, &cancel, None);
                            return desk.fail("Could not read the mail", e);
                        }
                    };
                    let rendered = raw.as_deref().and_then(|raw| {
                        crate::mail::render::render_cancellable(raw, &options, &cancel)
                    });
                    let rendered = rendered.map(|mail| desk.mark_clash(id, mail));
                    let shown = desk.renders.finish(id, &options, &cancel, rendered);
                    match (raw, shown) {
                        (None, _) => desk.emit(Event::Notice(
                            "This mail's body is still being fetched.".into(),
                        )),
                        (Some(_), Some(mail)) => {
                            desk.emit(Event::Rendered { id, mail });
                            owner.fetch_whole_if_cut(id, &runtime);
                        }
                        // Cancelled: the interface has moved on.
                        (Some(_), None) => {}
                    }
                });
            }
            Command::SetFlags {
                id,
                account,
                folder,
                add,
                remove,
            } => self.set_flags(id, account, folder, add, remove),
            Command::Link { id, record } => match self.store.link(id, record) {
                Ok(new) => {
                    if new {
                        self.remember(triage::UndoStep::Linked {
                            ids: vec![id],
                            record,
                        });
                    }
                    self.emit(Event::LinksChanged { id })
                }
                Err(e) => self.fail("Could not link the mail", e),
            },
            Command::Unlink { id, record } => match self.store.unlink(id, record) {
                Ok(gone) => {
                    if gone {
                        self.remember(triage::UndoStep::Unlinked {
                            ids: vec![id],
                            record,
                        });
                    }
                    self.emit(Event::LinksChanged { id })
                }
                Err(e) => self.fail("Could not unlink the mail", e),
            },
            Command::Relink { ids } => {
                for id in ids {
                    match self.store.summary(id) {
                        Ok(Some(s)) => {
                            if let Err(e) = auto_link(&self.store, &self.rules, &s) {
                                self.fail("Could not link the mail", e);
                            }
                            self.emit(Event::LinksChanged { id });
                        }
                        Ok(None) => {}
                        Err(e) => self.fail("Could not link the mail", e),
                    }
                }
            }
            Command::Send(out) => self.send_mail(*out),
            Command::SaveDraft(d) => {
                let mut d = *d;
                // The screen does not know which server draft this continues.
                if d.server_origin.is_none()
                    && let Ok(Some(old)) = self.store.draft(d.id)
                {
                    d.server_origin = old.server_origin;
                }
                match self.store.save_draft(&d) {
                    Ok(saved) => self.to_server_drafts(server_drafts::DraftJob::Put(saved)),
                    Err(e) => self.fail("The draft could not be saved", e),
                }
            }
            Command::DeleteDraft { id } => {
                let old = self.store.draft(id).ok().flatten();
                match self.store.delete_draft(id) {
                    Ok(_) => {
                        if let Some(old) = old {
                            self.to_server_drafts(server_drafts::DraftJob::Remove(old));
                        }
                    }
                    Err(e) => self.fail("Could not delete the draft", e),
                }
            }
            Command::CreateFromMail { id, kind } => self.create_from_mail(id, kind),
            Command::SaveRecord { record } => {
                let new = record.id == 0;
                match self.store.put_record(*record) {
                    Ok(r) => {
                        self.emit(Event::RecordsChanged);
                        self.emit(Event::Notice(format!(
                            "{} {} {}.",
                            if new { "Created" } else { "Saved" },
                            r.kind.label().to_lowercase(),
                            crate::mail::sanitize::sanitize_line(&r.title())
                        )));
                    }
                    Err(e) => self.fail("Could not save the record", e),
                }
            }
            Command::DeleteRecord { record } => {
                match self.store.delete_record(record.0, record.1) {
                    Ok(()) => {
                        self.emit(Event::RecordsChanged);
                        self.emit(Event::Notice(format!(
                            "{} moved to the trash; T in the records pane restores it.",
                            record.0.label()
                        )));
                    }
                    Err(e) => self.fail("Could not delete the record", e),
                }
            }
            Command::RestoreRecord { record } => {
                match self.store.restore_record(record.0, record.1) {
                    Ok(()) => {
                        self.emit(Event::RecordsChanged);
                        self.emit(Event::Notice(format!("{} restored.", record.0.label())));
                    }
                    Err(e) => self.fail("Could not restore the record", e),
                }
            }
            Command::ToggleFollow { record } => {
                let agent = self.agent_name();
                let r = self.store.record(record.0, record.1).ok().flatten();
                let following = r
                    .as_ref()
                    .is_some_and(|r| crate::crm::followers::is_following(r, &agent));
                let result = if following {
                    crate::crm::followers::unfollow(&self.store, record, &agent)
                } else {
                    crate::crm::followers::follow(&self.store, record, &agent)
                };
                match result {
                    Ok(_) => {
                        self.emit(Event::RecordsChanged);
                        self.emit(Event::Notice(if following {
                            "You no longer follow this record.".into()
                        } else {
                            "You follow this record: its new mail will notify you.".into()
                        }));
                    }
                    Err(e) => self.fail("Could not change following", e),
                }
            }
            Command::NotificationRead { id } => {
                match self.store.mark_notification_read(&self.agent_name(), id) {
                    Ok(_) => self.emit(Event::RecordsChanged),
                    Err(e) => self.fail("Could not mark the notification", e),
                }
            }
            Command::RetryNow { entry } => {
                match crate::outbox::worker::retry_now(&self.store, entry) {
                    Ok(_) => {
                        self.emit(Event::OutboxChanged);
                        if let Ok(g) = self.outbox.lock()
                            && let Some(h) = g.as_ref()
                        {
                            h.wake();
                        }
                    }
                    Err(e) => self.fail("Could not retry", e),
                }
            }
            Command::CancelOutgoing { entry } => {
                match crate::outbox::worker::cancel(&self.store, entry) {
                    Ok(true) => {
                        self.emit(Event::OutboxChanged);
                        self.emit(Event::Notice(
                            "Cancelled; the mail will not be sent.".into(),
                        ));
                    }
                    Ok(false) => self.emit(Event::Notice(
                        "Only a mail that is still waiting can be cancelled.".into(),
                    )),
                    Err(e) => self.fail("Could not cancel", e),
                }
            }
            Command::Trash {
                id,
                account,
                folder,
            } => self.move_mail(vec![id], account, folder, None),
            Command::TrashMany {
                ids,
                account,
                folder,
            } => self.move_mail(ids, account, folder, None),
            Command::CreateFolder { account, name } => {
                self.folder_command(account, crate::sync::imap::FolderOp::Create(name));
            }
            Command::RenameFolder { account, from, to } => {
                self.folder_command(account, crate::sync::imap::FolderOp::Rename { from, to });
            }
            Command::DeleteFolder { account, name } => {
                self.folder_command(account, crate::sync::imap::FolderOp::Delete(name));
            }
            Command::SetFolderNotify {
                account,
                folder,
                notify,
            } => self.set_folder_notify(&account, &folder, notify),
            Command::MoveTo {
                id,
                account,
                folder,
                to,
            } => {
                let to = self.archive_of(&account, to);
                self.move_mail(vec![id], account, folder, Some(to))
            }
            Command::MoveMany {
                ids,
                account,
                folder,
                to,
            } => {
                let to = self.archive_of(&account, to);
                self.move_mail(ids, account, folder, Some(to))
            }
            Command::SetFlagsMany {
                ids,
                account,
                folder,
                add,
                remove,
            } => {
                let before = self.flags_many(&ids, &account, &folder, add, remove);
                if !before.is_empty() {
                    self.remember(triage::UndoStep::Flags {
                        account,
                        folder,
                        before,
                    });
                }
            }
            Command::LinkMany { ids, record } => {
                let linked = self.link_many(&ids, record);
                let n = linked.len();
                if n > 0 {
                    self.remember(triage::UndoStep::Linked {
                        ids: linked,
                        record,
                    });
                }
                self.emit(Event::Notice(format!("Linked {}.", triage::mails(n))));
            }
            Command::CreateCaseFromMails { ids } => self.create_case_for(&ids),
            Command::Undo => self.undo(),
            Command::Snooze {
                ids,
                account,
                folder,
                until,
            } => self.snooze(&ids, &account, &folder, until),
            Command::TestAccount(account) => {
                if self.backend == Backend::Demo {
                    return self.emit(Event::AccountTested {
                        account: account.name.clone(),
                        steps: vec![crate::protocol::CheckStep::note(
                            "The demo desk has no servers to test.".into(),
                        )],
                    });
                }
                let events = self.events.clone();
                tokio::spawn(async move {
                    let steps = account_check::check(&account).await;
                    for s in &steps {
                        tracing::info!("test of account {}: {}", account.name, s.text);
                    }
                    let _ = events.send(Event::AccountTested {
                        account: account.name.clone(),
                        steps,
                    });
                });
            }
            Command::UpdateCase {
                case,
                assignee,
                status,
            } => self.update_case(case, assignee, status),
            Command::RememberPosition { account, folder } => {
                let value = format!("{account}\t{folder}");
                if let Err(e) = self.store.set_setting(POSITION_SETTING, &value) {
                    self.fail("Could not remember the open folder", e);
                }
            }
            Command::SyncNow => match self.backend {
                Backend::Demo => self.emit(Event::Notice(
                    "The demo desk has no servers to sync with.".into(),
                )),
                Backend::Servers => {
                    self.wake_sync();
                    self.emit(Event::Notice("Syncing now…".into()));
                }
            },
        }
    }

    fn create_from_mail(&self, id: u64, kind: RecordKind) {
        use crate::crm::create;
        let Some(msg) = self.store.summary(id).ok().flatten() else {
            return;
        };
        let agent = self.config.agent.name.clone();
        let agent = (!agent.is_empty()).then_some(agent);
        let record = match kind {
            RecordKind::Contact => Ok(create::contact_from_mail(&msg)),
            RecordKind::Lead => Ok(create::lead_from_mail(&msg)),
            RecordKind::Case => create::case_from_mail(&self.store, &msg, agent.as_deref()),
            RecordKind::Task => create::task_from_mail(&self.store, &msg, agent.as_deref()),
            other => {
                return self.emit(Event::Notice(format!(
                    "A {} is not created from a mail.",
                    other.label()
                )));
            }
        };
        let result = record
            .map_err(create::CreateError::from)
            .and_then(|r| create::create_and_link_checked(&self.store, &self.rules, r, id));
        match result {
            Ok(r) => {
                self.emit(Event::LinksChanged { id });
                self.emit(Event::Notice(format!(
                    "Created {} {} and linked the mail.",
                    r.kind.label().to_lowercase(),
                    crate::mail::sanitize::sanitize_line(&r.title())
                )));
            }
            Err(e) => self.fail(
                &format!("Cannot create the {}", kind.label().to_lowercase()),
                e,
            ),
        }
    }

    /// The agent's name as followers and notifications know it.
    pub fn agent_name(&self) -> String {
        let a = &self.config.agent;
        if a.name.is_empty() {
            a.email.clone()
        } else {
            a.name.clone()
        }
    }

    fn send_mail(&self, mut out: Outgoing) {
        let parent = out
            .in_reply_to
            .and_then(|id| self.store.summary(id).ok().flatten());
        // A reply on a case speaks for the group: its address, its tag.
        let case = match (parent.as_ref(), out.case) {
            (Some(p), _) => crate::crm::cases::case_reply(&self.store, &self.config, p.id),
            // A new mail written from a case speaks for it too.
            (None, Some(c)) => crate::crm::cases::case_reply_of(&self.store, &self.config, c),
            (None, None) => Ok(None),
        }
        .ok()
        .flatten();
        if let Some(c) = &case {
            out.account = c.account.clone();
            out.from = c.address.clone();
            out.subject = c.subject(&out.subject);
        }
        let draft = crate::outbox::message::Draft {
            reply_to: case.as_ref().map(|c| c.address.clone()),
            case_number: case.as_ref().map(|c| c.number),
            from_name: out.from_name.clone(),
            from: out.from.clone(),
            to: out.to.clone(),
            cc: out.cc.clone(),
            bcc: out.bcc.clone(),
            subject: out.subject.clone(),
            body: out.body.clone(),
            attachments: out.attachments.clone(),
        };
        let built = match crate::outbox::message::build(&draft, parent.as_ref()) {
            Ok(b) => b,
            Err(e) => return self.fail("Could not build the mail", e),
        };
        // A new mail written from a case joins it through the case's latest
        // mail, as a reply joins through the mail it answers.
        let anchor = match (&parent, out.case) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(c)) => self.latest_case_mail(c),
            (None, None) => None,
        };
        if self.backend == Backend::Demo {
            match self.file_sent(&out, &built, anchor.as_ref()) {
                Ok(()) => self.emit(Event::Notice(format!(
                    "Sent (demo desk): \"{}\" is in {}/Sent.",
                    crate::mail::sanitize::sanitize_line(&out.subject),
                    out.account
                ))),
                Err(e) => self.fail("Could not file the mail in Sent", e),
            }
            return;
        }
        let entry = crate::store::OutboxEntry {
            id: 0,
            account: out.account.clone(),
            message_id: built.message_id.clone(),
            from: out.from.clone(),
            recipients: built.recipients,
            subject: out.subject.clone(),
            raw: built.raw,
            state: crate::store::OutboxState::Queued,
            last_error: None,
            created: chrono::Utc::now().timestamp(),
            in_reply_to: anchor.as_ref().map(|m| m.id),
            unconfirmed: false,
        };
        match self.store.enqueue(entry) {
            Ok(_) => {
                self.emit(Event::Notice("Queued in the outbox.".into()));
                if let Ok(g) = self.outbox.lock()
                    && let Some(h) = g.as_ref()
                {
                    h.wake();
                }
            }
            Err(e) => self.fail("Could not queue the mail", e),
        }
    }

    /// The demo desk has no server: a sent mail goes straight into Sent.
    fn file_sent(
        &self,
        out: &Outgoing,
        built: &crate::outbox::message::BuiltMail,
        parent: Option<&MessageSummary>,
    ) -> Result<(), crate::store::StoreError> {
        let folder = "Sent".to_string();
        let uid = self
            .store
            .folder_state(&out.account, &folder)?
            .map(|s| s.uidnext.max(s.total as u32 + 1))
            .unwrap_or(1);
        let steps = crate::sync::pipeline::Steps::new(
            std::sync::Arc::new(self.rules.clone()),
            std::sync::Arc::new(self.config.own_addresses()),
        );
        // The copy takes the links of the mail it answers in its own batch.
        steps.ingest_now(
            &self.store,
            vec![crate::sync::pipeline::Incoming {
                account: out.account.clone(),
                folder: folder.clone(),
                uidvalidity: 1,
                uid: uid + 1_000_000,
                flags: flags::SEEN,
                raw: built.raw.clone(),
                reported_size: 0,
                inherit_links_of: parent.map(|p| p.id),
            }],
            crate::sync::pipeline::Extras::default(),
        )?;
        if let Some(h) = self.search_handle() {
            h.new_mail();
        }
        if let Some(p) = parent {
            for loc in self.store.locations(p.id)? {
                if let Some((_, f)) = self.store.flags_of(&loc.account, &loc.folder, p.id)? {
                    self.store.set_flags(
                        &loc.account,
                        &loc.folder,
                        loc.uidvalidity,
                        loc.uid,
                        f | flags::ANSWERED,
                    )?;
                    self.emit(Event::FolderChanged {
                        account: loc.account.clone(),
                        folder: loc.folder.clone(),
                    });
                }
            }
        }
        self.store.flush()?;
        self.emit(Event::FolderChanged {
            account: out.account.clone(),
            folder,
        });
        Ok(())
    }

    pub fn is_unread(entry_flags: u8) -> bool {
        entry_flags & flags::SEEN == 0
    }
}

/// INBOX first, then special folders in a fixed order, then the rest by name.
fn sort_folders(mut f: Vec<FolderState>) -> Vec<FolderState> {
    fn rank(s: &FolderState) -> u8 {
        if s.name.eq_ignore_ascii_case("INBOX") {
            return 0;
        }
        match s.special_use.as_deref() {
            Some("\\Drafts") => 1,
            Some("\\Sent") => 2,
            Some("\\Archive") => 3,
            Some("\\Junk") => 5,
            Some("\\Trash") => 6,
            _ => 4,
        }
    }
    f.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.name.cmp(&b.name)));
    f
}
