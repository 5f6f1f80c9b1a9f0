//! The attached side: [`RemoteDesk`] is a `DeskClient` whose commands and
//! queries cross the serve socket. A reader thread hands answers back and
//! events to the screen, and reconnects by itself when the server restarts.

use crate::config::Config;
use crate::config::identities::ComposeSettings;
use crate::protocol::{
    AccountFolders, AttachmentSource, Command, DeskClient, DeskError, DeskResult, Event, ListRow,
    PageQuery, TemplateContext,
};
use crate::serve::wire::{self, ClientMsg, Query, ServerMsg, Welcome, WireError};
use crate::store::drafts::StoredDraft;
use crate::store::notifications::Notification;
use crate::store::{HistoryItem, MessageSummary, OutboxEntry, Record, RecordKind, RecordRef};
use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// The longest a query waits for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Between attempts to reach a restarted server.
const RETRY: Duration = Duration::from_millis(300);

type Pending = HashMap<u64, std::sync::mpsc::Sender<Result<Vec<u8>, DeskError>>>;

/// A desk served by `deskmail serve`.
pub struct RemoteDesk {
    socket: PathBuf,
    welcome: Welcome,
    /// The write side of the current connection; `None` while reconnecting.
    conn: Mutex<Option<UnixStream>>,
    pending: Mutex<Pending>,
    next: AtomicU64,
    events: mpsc::UnboundedSender<Event>,
    /// The folders last listed, to refresh them all after a resync.
    known: Mutex<Vec<(String, String)>>,
    /// Where this agent's attachments are saved: their side, not the server's.
    download_dir: Mutex<PathBuf>,
    me: Weak<RemoteDesk>,
    counts: Counts,
}

/// What arrived over the socket, for the load benchmark and the log.
#[derive(Debug, Default)]
pub struct Counts {
    pub events: AtomicU64,
    /// Events the server numbered but never sent (gaps in `seq`).
    pub lost: AtomicU64,
    /// Events that arrived with a number below one already seen.
    pub reordered: AtomicU64,
    pub resyncs: AtomicU64,
    /// The last event number of this connection.
    last: AtomicU64,
}

/// Connect and say hello; the stream and what the server said.
fn handshake(socket: &Path) -> Result<(UnixStream, Welcome), WireError> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    wire::write_frame(&mut s, &wire::hello(wire::VERSION))?;
    let first = wire::read_frame(&mut s)?
        .ok_or_else(|| WireError::Malformed("the server closed the connection".into()))?;
    let welcome = wire::read_welcome(&first)?;
    s.set_read_timeout(None)?;
    Ok((s, welcome))
}

impl RemoteDesk {
    /// Attach to the server on `socket`.
    pub fn connect(
        socket: &Path,
    ) -> Result<(Arc<RemoteDesk>, mpsc::UnboundedReceiver<Event>), WireError> {
        let (stream, welcome) = handshake(socket)?;
        let reader = stream.try_clone()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let desk = Arc::new_cyclic(|me| RemoteDesk {
            me: me.clone(),
            counts: Counts::default(),
            socket: socket.to_path_buf(),
            download_dir: Mutex::new(crate::config::paths::data_dir().join("downloads")),
            welcome,
            conn: Mutex::new(Some(stream)),
            pending: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            events: tx,
            known: Mutex::new(Vec::new()),
        });
        let _ = desk.events.send(Event::Attached(desk.attached_line()));
        tracing::info!("{}", desk.attached_line());
        let weak = Arc::downgrade(&desk);
        std::thread::Builder::new()
            .name("deskmail-attach".into())
            .spawn(move || read_loop(weak, reader))
            .map_err(WireError::Io)?;
        Ok((desk, rx))
    }

    /// "attached to PATH as NAME", for the status line.
    pub fn attached_line(&self) -> String {
        format!(
            "attached to {} as {}",
            self.socket.display(),
            self.welcome.agent
        )
    }

    /// Events, losses and resyncs seen so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Check an event's number; a gap means the screen must read again.
    fn numbered(&self, seq: u64) -> bool {
        let c = &self.counts;
        c.events.fetch_add(1, Ordering::Relaxed);
        let last = c.last.load(Ordering::Relaxed);
        if seq <= last {
            c.reordered.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        c.last.store(seq, Ordering::Relaxed);
        if seq > last + 1 {
            c.lost.fetch_add(seq - last - 1, Ordering::Relaxed);
            return false;
        }
        true
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    fn not_attached(&self) -> DeskError {
        DeskError(format!(
            "The desk server at {} is not answering; reconnecting…",
            self.socket.display()
        ))
    }

    fn write(&self, msg: &ClientMsg) -> Result<(), DeskError> {
        let payload = wire::encode(msg).map_err(|e| DeskError(e.to_string()))?;
        let mut g = self.conn.lock().map_err(|_| self.not_attached())?;
        let Some(s) = g.as_mut() else {
            return Err(self.not_attached());
        };
        if let Err(e) = wire::write_frame(s, &payload) {
            tracing::warn!("writing to {} failed: {e}", self.socket.display());
            // The reader sees the end too and starts reconnecting.
            let _ = s.shutdown(std::net::Shutdown::Both);
            *g = None;
            return Err(self.not_attached());
        }
        Ok(())
    }

    /// Ask the server and wait for its answer.
    pub fn ask<T: for<'de> serde::Deserialize<'de>>(&self, query: Query) -> DeskResult<T> {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = std::sync::mpsc::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, tx);
        }
        let sent = self.write(&ClientMsg::Query { id, query });
        let answer = sent.and_then(|()| {
            rx.recv_timeout(ANSWER_TIMEOUT).map_err(|_| {
                DeskError(format!(
                    "The desk server at {} did not answer in time.",
                    self.socket.display()
                ))
            })
        });
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&id);
        }
        let bytes = answer??;
        wire::decode(&bytes).map_err(|e| DeskError(format!("The desk server's answer: {e}")))
    }

    fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    /// After a resync or reconnect: every list, record and outbox view reads again.
    fn refresh_all(&self) {
        let known = self.known.lock().map(|k| k.clone()).unwrap_or_default();
        for (account, folder) in known {
            self.emit(Event::FolderChanged { account, folder });
        }
        self.emit(Event::RecordsChanged);
        self.emit(Event::OutboxChanged);
    }

    /// Attachments are saved and piped here, where the agent sits.
    fn local_part_work(&self, cmd: Command) {
        let Some(me) = self.me.upgrade() else { return };
        let spawned = std::thread::Builder::new()
            .name("deskmail-part".into())
            .spawn(move || {
                let (id, index, command) = match cmd {
                    Command::SaveAttachments { id, index } => (id, index, None),
                    Command::PipePart { id, index, command } => (id, index, Some(command)),
                    _ => return,
                };
                let raw: Vec<u8> = match me.ask(Query::MailBytes(id)) {
                    Ok(r) => r,
                    Err(e) => return me.emit(Event::Error(e.0)),
                };
                match command {
                    None => me.save_parts(&raw, index),
                    Some(c) => me.pipe(&raw, index, &c),
                }
            });
        if let Err(e) = spawned {
            self.emit(Event::Error(format!("Could not start: {e}")));
        }
    }

    /// The agent's own `download_dir`, from their config.
    pub fn set_download_dir(&self, dir: PathBuf) {
        if let Ok(mut d) = self.download_dir.lock() {
            *d = dir;
        }
    }

    fn save_parts(&self, raw: &[u8], index: Option<usize>) {
        let dir = self
            .download_dir
            .lock()
            .map(|d| d.clone())
            .unwrap_or_else(|_| crate::config::paths::data_dir().join("downloads"));
        let dir = &dir;
        let saved = match index {
            Some(i) => crate::mail::attachments::save_attachment(raw, i, dir).map(|p| vec![p]),
            None => crate::mail::attachments::save_all(raw, dir),
        };
        let sanitize = crate::mail::sanitize::sanitize_line;
        match saved {
            Ok(p) if p.is_empty() => {
                self.emit(Event::Notice("This mail has no attachments.".into()))
            }
            Ok(p) => {
                let names: Vec<String> = p.iter().map(|p| p.display().to_string()).collect();
                self.emit(Event::Notice(sanitize(&format!(
                    "Saved {}",
                    names.join(", ")
                ))));
            }
            Err(e) => self.emit(Event::Error(sanitize(&format!(
                "Could not save the attachment: {e}"
            )))),
        }
    }

    fn pipe(&self, raw: &[u8], index: Option<usize>, command: &str) {
        use std::io::Write;
        let sanitize = crate::mail::sanitize::sanitize_line;
        let bytes = match index {
            Some(i) => match crate::mail::attachments::part_bytes(raw, i) {
                Some(b) => b,
                None => {
                    return self.emit(Event::Error(format!("This mail has no attachment [{i}].")));
                }
            },
            None => raw.to_vec(),
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
            Err(e) => {
                return self.emit(Event::Error(sanitize(&format!(
                    "Could not start the command: {e}"
                ))));
            }
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
                let msg = sanitize(&format!(
                    "`{command}` exited with {}: {}",
                    out.status,
                    text.lines().next().unwrap_or("")
                ));
                if out.status.success() {
                    self.emit(Event::Notice(msg));
                } else {
                    self.emit(Event::Error(msg));
                }
            }
            Err(e) => self.emit(Event::Error(sanitize(&format!("The command failed: {e}")))),
        }
    }
}

/// Read frames until the connection ends, then reconnect; ends when the
/// desk is dropped.
fn read_loop(desk: Weak<RemoteDesk>, mut stream: UnixStream) {
    loop {
        let ended = loop {
            let frame = match wire::read_frame(&mut stream) {
                Ok(Some(f)) => f,
                Ok(None) => break "the server closed the connection".to_string(),
                Err(e) => break e.to_string(),
            };
            let Some(d) = desk.upgrade() else { return };
            match wire::decode::<ServerMsg>(&frame) {
                Ok(ServerMsg::Answer { id, result }) => {
                    if let Some(tx) = d.pending.lock().ok().and_then(|mut p| p.remove(&id)) {
                        let _ = tx.send(result);
                    }
                }
                Ok(ServerMsg::Event { seq, event }) => {
                    let in_order = d.numbered(seq);
                    if d.events.send(event).is_err() {
                        return;
                    }
                    if !in_order {
                        tracing::info!(
                            "events before {seq} were dropped for us; reading everything again"
                        );
                        d.refresh_all();
                    }
                }
                Ok(ServerMsg::Resync) => {
                    d.counts.resyncs.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        "the desk server dropped events for us; reading everything again"
                    );
                    d.refresh_all();
                }
                Err(e) => break format!("a frame did not decode: {e}"),
            }
        };
        let Some(d) = desk.upgrade() else { return };
        tracing::warn!("lost the desk server at {}: {ended}", d.socket.display());
        if let Ok(mut c) = d.conn.lock() {
            *c = None;
        }
        // Whoever waits for an answer hears at once that none is coming.
        if let Ok(mut p) = d.pending.lock() {
            for (_, tx) in p.drain() {
                let _ = tx.send(Err(d.not_attached()));
            }
        }
        d.emit(Event::Attached(format!(
            "reconnecting to {}…",
            d.socket.display()
        )));
        let socket = d.socket.clone();
        drop(d);
        stream = loop {
            std::thread::sleep(RETRY);
            let Some(d) = desk.upgrade() else { return };
            if d.events.is_closed() {
                return;
            }
            match handshake(&socket) {
                Ok((s, _)) => match s.try_clone() {
                    Ok(reader) => {
                        if let Ok(mut c) = d.conn.lock() {
                            *c = Some(s);
                        }
                        // The new connection numbers its events from 1.
                        d.counts.last.store(0, Ordering::Relaxed);
                        tracing::info!("attached again to {}", socket.display());
                        d.emit(Event::Attached(d.attached_line()));
                        d.refresh_all();
                        break reader;
                    }
                    Err(e) => tracing::warn!("reconnect: {e}"),
                },
                Err(WireError::Refused(r)) => {
                    d.emit(Event::Error(format!("The desk server refused us: {r}")));
                    return;
                }
                Err(_) => {}
            }
        };
    }
}

impl DeskClient for RemoteDesk {
    fn send(&self, cmd: Command) {
        if matches!(
            cmd,
            Command::SaveAttachments { .. } | Command::PipePart { .. }
        ) {
            return self.local_part_work(cmd);
        }
        // The form's commands run as the agent, here, never on the server.
        if let Command::TestAccount(account) = cmd {
            let Some(me) = self.me.upgrade() else { return };
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(async move {
                        let steps = crate::desk::account_check::check(&account).await;
                        me.emit(Event::AccountTested {
                            account: account.name.clone(),
                            steps,
                        });
                    });
                }
                Err(_) => self.emit(Event::Error(
                    "The connection test could not start here.".into(),
                )),
            }
            return;
        }
        if let Err(e) = self.write(&ClientMsg::Command(cmd)) {
            self.emit(Event::Error(e.0));
        }
    }
    fn config(&self) -> &Config {
        &self.welcome.config
    }
    fn folders(&self) -> DeskResult<Vec<AccountFolders>> {
        let f: Vec<AccountFolders> = self.ask(Query::Folders)?;
        if let Ok(mut k) = self.known.lock() {
            *k = f
                .iter()
                .flat_map(|a| {
                    a.folders
                        .iter()
                        .map(move |x| (a.account.clone(), x.name.clone()))
                })
                .collect();
        }
        Ok(f)
    }
    fn page(&self, q: &PageQuery) -> DeskResult<Vec<ListRow>> {
        self.ask(Query::Page(q.clone()))
    }
    fn summary(&self, id: u64) -> DeskResult<Option<MessageSummary>> {
        self.ask(Query::Summary(id))
    }
    fn account_of(&self, id: u64) -> DeskResult<Option<String>> {
        self.ask(Query::AccountOf(id))
    }
    fn raw_source(&self, id: u64) -> DeskResult<Option<String>> {
        self.ask(Query::RawSource(id))
    }
    fn body_size(&self, id: u64) -> DeskResult<Option<u64>> {
        self.ask(Query::BodySize(id))
    }
    fn quote_lines(&self, id: u64) -> DeskResult<Option<Vec<String>>> {
        self.ask(Query::QuoteLines(id))
    }
    fn special_folder(&self, account: &str, use_: &str) -> DeskResult<Option<String>> {
        self.ask(Query::SpecialFolder {
            account: account.into(),
            use_: use_.into(),
        })
    }
    fn links_of(&self, id: u64) -> DeskResult<Vec<Record>> {
        self.ask(Query::LinksOf(id))
    }
    fn records(&self, kind: RecordKind) -> DeskResult<Vec<Record>> {
        self.ask(Query::Records(kind))
    }
    fn record(&self, r: RecordRef) -> DeskResult<Option<Record>> {
        self.ask(Query::Record(r))
    }
    fn children_of(&self, r: RecordRef) -> DeskResult<Vec<Record>> {
        self.ask(Query::ChildrenOf(r))
    }
    fn history(&self, r: &Record) -> DeskResult<Vec<HistoryItem>> {
        self.ask(Query::History(Box::new(r.clone())))
    }
    fn notifications(&self) -> DeskResult<Vec<Notification>> {
        self.ask(Query::Notifications)
    }
    fn deleted_records(&self) -> DeskResult<Vec<Record>> {
        self.ask(Query::DeletedRecords)
    }
    fn outbox_entries(&self) -> DeskResult<Vec<OutboxEntry>> {
        self.ask(Query::OutboxEntries)
    }
    fn filters(&self, mail: Option<u64>) -> DeskResult<Vec<crate::protocol::FilterRow>> {
        self.ask(Query::Filters(mail))
    }
    fn drafts(&self) -> DeskResult<Vec<StoredDraft>> {
        self.ask(Query::Drafts)
    }
    fn new_draft_id(&self) -> DeskResult<u64> {
        self.ask(Query::NewDraftId)
    }
    fn template_context(
        &self,
        parent: Option<u64>,
        to: Option<&str>,
    ) -> DeskResult<TemplateContext> {
        self.ask(Query::TemplateContext {
            parent,
            to: to.map(str::to_string),
        })
    }
    fn compose_settings(&self) -> DeskResult<ComposeSettings> {
        crate::desk::local::compose_settings()
    }
    fn template_names(&self) -> DeskResult<Vec<String>> {
        crate::desk::local::template_names()
    }
    fn template_text(&self, name: &str) -> DeskResult<String> {
        crate::desk::local::template_text(name)
    }
    fn attachment_size(&self, path: &Path) -> DeskResult<u64> {
        crate::desk::local::attachment_size(path)
    }
    fn attachment_bytes(&self, source: &AttachmentSource) -> DeskResult<Vec<u8>> {
        match source {
            AttachmentSource::File(p) => crate::desk::local::file_bytes(p),
            AttachmentSource::Message(id) => self.ask(Query::MailBytes(*id)),
        }
    }
    fn complete_path(&self, input: &str) -> (String, Vec<String>) {
        crate::config::files::complete_path(input)
    }
    fn flush(&self) -> DeskResult<()> {
        self.ask(Query::Flush)
    }
    fn search(
        &self,
        q: &crate::protocol::SearchQuery,
    ) -> DeskResult<crate::protocol::SearchAnswer> {
        self.ask(Query::Search(q.clone()))
    }
    fn server_folders(&self, account: &str) -> DeskResult<Vec<crate::protocol::ServerFolder>> {
        self.ask(Query::ServerFolders(account.to_string()))
    }
    fn cases(&self) -> DeskResult<Vec<crate::protocol::CaseRow>> {
        self.ask(Query::Cases)
    }
    fn case_mails(&self, case: u64) -> DeskResult<Vec<crate::protocol::SearchHit>> {
        self.ask(Query::CaseMails(case))
    }
    fn dashboard(
        &self,
        q: &crate::protocol::DashboardQuery,
    ) -> DeskResult<crate::protocol::Dashboard> {
        self.ask(Query::Dashboard(*q))
    }
}
