//! The listening side: one task pair per attached client (reader, writer),
//! each with its own view of the desk and a bounded queue; desk events fan
//! out to every queue without ever waiting on a client.

use crate::desk::Desk;
use crate::protocol::{Command, DeskClient, DeskError, Event};
use crate::serve::access::{self, Agent};
use crate::serve::wire::{self, ClientMsg, Query, ServerMsg, WireError};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::{Notify, mpsc};

/// Messages waiting for one client; past this the client is told to resync.
pub const QUEUE: usize = 512;
/// A client that takes longer than this to take one frame is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// A client must say hello within this.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// One attached client, as the fan-out sees it.
struct Slot {
    tx: mpsc::Sender<ServerMsg>,
    /// The last event number handed out, dropped or not.
    seq: AtomicU64,
    lagged: Arc<AtomicBool>,
    wake: Arc<Notify>,
    agent: Arc<Agent>,
}

impl Slot {
    /// Queue `event` without waiting; a full queue marks the client lagged.
    /// `false` once the client is gone.
    fn offer(&self, event: Event) -> bool {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        match self.tx.try_send(ServerMsg::Event { seq, event }) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.lagged.swap(true, Ordering::SeqCst) {
                    tracing::warn!(
                        "serve: {} is not reading; its events are dropped and it will be told to resync",
                        self.agent.login
                    );
                }
                self.wake.notify_one();
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// The running server's shared state.
pub struct Server {
    desk: Arc<Desk>,
    clients: Mutex<HashMap<u64, Slot>>,
    next: AtomicU64,
}

impl Server {
    pub fn new(desk: Arc<Desk>) -> Arc<Server> {
        Arc::new(Server {
            desk,
            clients: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
        })
    }

    /// How many clients are attached.
    pub fn clients(&self) -> usize {
        self.clients.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Hand `e` to every client that may see it.
    pub fn broadcast(&self, e: &Event) {
        let Ok(mut clients) = self.clients.lock() else {
            return;
        };
        clients.retain(|_, slot| !slot.agent.wants(e) || slot.offer(e.clone()));
    }

    /// Forward the desk's own events (sync, outbox) to every client.
    pub async fn fan_out(self: Arc<Self>, mut events: mpsc::UnboundedReceiver<Event>) {
        while let Some(e) = events.recv().await {
            self.broadcast(&e);
        }
    }

    /// Accept clients until `stop` resolves.
    pub async fn run(
        self: &Arc<Self>,
        listener: tokio::net::UnixListener,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let me = Arc::clone(self);
                        tokio::spawn(async move { me.serve_client(stream).await });
                    }
                    Err(e) => {
                        tracing::warn!("serve: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
    }

    async fn serve_client(self: Arc<Self>, stream: UnixStream) {
        let uid = match stream.peer_cred() {
            Ok(c) => c.uid(),
            Err(e) => {
                tracing::warn!("serve: no peer credentials on a connection: {e}");
                return;
            }
        };
        let (mut rd, mut wr) = stream.into_split();
        let hello = tokio::time::timeout(HELLO_TIMEOUT, wire::read_frame_async(&mut rd)).await;
        let hello = match hello {
            Ok(Ok(Some(h))) => h,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                tracing::warn!("serve: uid {uid}: bad hello ({e}); connection closed");
                return;
            }
            Err(_) => {
                tracing::warn!("serve: uid {uid}: no hello within {HELLO_TIMEOUT:?}; closed");
                return;
            }
        };
        if let Err(reason) = wire::check_hello(&hello) {
            tracing::warn!("serve: uid {uid} refused: {reason}");
            let _ = write(&mut wr, &wire::refusal(&reason)).await;
            return;
        }
        let agent = match access::identify(self.desk.config(), uid) {
            Ok(a) => Arc::new(a),
            Err(reason) => {
                tracing::warn!("serve: refused: {reason}");
                let _ = write(&mut wr, &wire::refusal(&reason)).await;
                return;
            }
        };
        let welcome = wire::Welcome {
            agent: agent.label(),
            config: agent.config_for(self.desk.config()),
            demo: self.desk.backend() == crate::desk::Backend::Demo,
        };
        match wire::welcome(&welcome) {
            Ok(w) => {
                if write(&mut wr, &w).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::error!("serve: cannot encode the welcome: {e}");
                return;
            }
        }
        tracing::info!(
            "serve: {} attached (uid {uid}, agent {})",
            agent.login,
            agent.config.email
        );
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::channel(QUEUE);
        let lagged = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(Notify::new());
        if let Ok(mut c) = self.clients.lock() {
            c.insert(
                id,
                Slot {
                    tx: tx.clone(),
                    seq: AtomicU64::new(0),
                    lagged: Arc::clone(&lagged),
                    wake: Arc::clone(&wake),
                    agent: Arc::clone(&agent),
                },
            );
        }
        let (view, view_events) = self.desk.agent_view(agent.config.clone());
        let writer = tokio::spawn(write_loop(wr, rx, lagged, wake, agent.login.clone()));
        let relay = tokio::spawn(Arc::clone(&self).relay_view(id, view_events));
        self.read_loop(&mut rd, &view, &agent, &tx, id).await;
        if let Ok(mut c) = self.clients.lock() {
            c.remove(&id);
        }
        drop(tx);
        relay.abort();
        // The writer ends once its queue is empty and closed.
        let _ = writer.await;
        tracing::info!("serve: {} detached", agent.login);
    }

    /// Queue an event for client `id` alone.
    fn offer_to(&self, id: u64, e: Event) -> bool {
        self.clients
            .lock()
            .ok()
            .and_then(|c| c.get(&id).map(|s| s.offer(e)))
            == Some(true)
    }

    /// Events of one client's view: answers to that client go to it alone,
    /// changes to the desk go to every client.
    async fn relay_view(self: Arc<Self>, id: u64, mut events: mpsc::UnboundedReceiver<Event>) {
        while let Some(e) = events.recv().await {
            match e {
                Event::Rendered { .. }
                | Event::Error(_)
                | Event::AccountError { .. }
                | Event::Notice(_)
                | Event::Attached(_) => {
                    let alive = self
                        .clients
                        .lock()
                        .ok()
                        .and_then(|c| c.get(&id).map(|s| s.offer(e)));
                    if alive != Some(true) {
                        break;
                    }
                }
                shared => self.broadcast(&shared),
            }
        }
    }

    async fn read_loop(
        &self,
        rd: &mut tokio::net::unix::OwnedReadHalf,
        view: &Arc<Desk>,
        agent: &Arc<Agent>,
        tx: &mpsc::Sender<ServerMsg>,
        id: u64,
    ) {
        loop {
            let frame = match wire::read_frame_async(rd).await {
                Ok(Some(f)) => f,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(
                        "serve: {} sent a bad frame ({e}); connection closed",
                        agent.login
                    );
                    return;
                }
            };
            let msg: ClientMsg = match wire::decode(&frame) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(
                        "serve: {} sent a message that does not decode ({e}); connection closed",
                        agent.login
                    );
                    return;
                }
            };
            match msg {
                ClientMsg::Command(cmd) => match agent.check_command(self.desk.store(), &cmd) {
                    Ok(()) => view.send(match cmd {
                        // Who writes a draft is the server's to say.
                        Command::SaveDraft(mut d) => {
                            d.agent = Some(agent.config.email.clone());
                            Command::SaveDraft(d)
                        }
                        other => other,
                    }),
                    Err(reason) => {
                        tracing::warn!("serve: {} refused a command: {reason}", agent.login);
                        let words = format!("Refused by the desk server: {reason}.");
                        self.offer_to(id, Event::Error(words));
                    }
                },
                ClientMsg::Query { id: qid, query } => {
                    let result = match agent.check_query(self.desk.store(), &query) {
                        Ok(()) => self.answer(view, agent, query).await,
                        Err(reason) => {
                            tracing::warn!("serve: {} refused a query: {reason}", agent.login);
                            Err(DeskError(format!("Refused by the desk server: {reason}.")))
                        }
                    };
                    // Waits only on this client's own queue.
                    if tx
                        .send(ServerMsg::Answer { id: qid, result })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    }

    async fn answer(
        &self,
        view: &Arc<Desk>,
        agent: &Arc<Agent>,
        query: Query,
    ) -> Result<Vec<u8>, DeskError> {
        match query {
            Query::SendMail(req) => self.cli_send(*req).await,
            q => {
                let view = Arc::clone(view);
                let agent = Arc::clone(agent);
                let answered =
                    tokio::task::spawn_blocking(move || answer_now(&view, &agent, q)).await;
                match answered {
                    Ok((r, records_changed)) => {
                        if records_changed {
                            self.broadcast(&Event::RecordsChanged);
                        }
                        r
                    }
                    Err(e) => Err(DeskError(format!("the server failed: {e}"))),
                }
            }
        }
    }

    /// `deskmail send` through the server: files arrive as bytes.
    async fn cli_send(&self, req: wire::CliSend) -> Result<Vec<u8>, DeskError> {
        let dir = tempfile::tempdir().map_err(|e| DeskError(format!("cannot queue: {e}")))?;
        let body_file = match &req.body {
            Some(b) => {
                let p = dir.path().join("body.txt");
                std::fs::write(&p, b).map_err(|e| DeskError(format!("cannot queue: {e}")))?;
                Some(p)
            }
            None => None,
        };
        let mut attach = Vec::new();
        for (i, (name, data)) in req.attach.iter().enumerate() {
            let base = Path::new(name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("attachment-{i}"));
            let sub = dir.path().join(i.to_string());
            std::fs::create_dir(&sub).map_err(|e| DeskError(format!("cannot queue: {e}")))?;
            let p = sub.join(base);
            std::fs::write(&p, data).map_err(|e| DeskError(format!("cannot queue: {e}")))?;
            attach.push(p);
        }
        let r = crate::outbox::send::SendRequest {
            account: req.account,
            to: req.to,
            cc: req.cc,
            subject: req.subject,
            body_file,
            template: req.template,
            attach,
            // The desk's own worker sends it; the client waits on the outbox.
            wait: false,
        };
        let cfg = Arc::new(self.desk.config().clone());
        match crate::outbox::send::send_from_cli(cfg, Arc::clone(self.desk.store()), r).await {
            Ok(out) => {
                // On disk before the agent hears "queued": a kill now loses nothing.
                if let Err(e) = self.desk.store().flush() {
                    return Err(DeskError(format!(
                        "1\u{0}the queued mail could not be written: {e}"
                    )));
                }
                self.desk.wake_outbox();
                self.broadcast(&Event::OutboxChanged);
                wire::encode(&wire::CliSent {
                    message_id: out.message_id,
                    state: out.state.name().to_string(),
                    warnings: out.warnings,
                })
                .map_err(|e| DeskError(e.to_string()))
            }
            Err(e) => Err(DeskError(format!(
                "{}\u{0}{}",
                e.exit_code(),
                crate::mail::sanitize::sanitize_text(&e.to_string())
            ))),
        }
    }
}

/// Answer a read on a blocking thread; the flag says records changed.
fn answer_now(view: &Desk, agent: &Agent, q: Query) -> (Result<Vec<u8>, DeskError>, bool) {
    fn enc<T: serde::Serialize>(r: Result<T, DeskError>) -> Result<Vec<u8>, DeskError> {
        r.and_then(|v| wire::encode(&v).map_err(|e| DeskError(e.to_string())))
    }
    let r = match q {
        Query::Folders => enc(view.folders().map(|mut f| {
            f.retain(|a| agent.sees_account(&a.account));
            f
        })),
        Query::Page(p) => enc(view.page(&p)),
        Query::Summary(id) => enc(view.summary(id)),
        Query::AccountOf(id) => enc(view.account_of(id)),
        Query::RawSource(id) => enc(view.raw_source(id)),
        Query::BodySize(id) => enc(view.body_size(id)),
        Query::QuoteLines(id) => enc(view.quote_lines(id)),
        Query::SpecialFolder { account, use_ } => enc(view.special_folder(&account, &use_)),
        Query::LinksOf(id) => enc(view.links_of(id)),
        Query::Records(k) => enc(view
            .records(k)
            .map(|v| agent.visible_records(view.store(), v, "records"))),
        Query::Record(r) => enc(view.record(r)),
        Query::ChildrenOf(r) => enc(view
            .children_of(r)
            .map(|v| agent.visible_records(view.store(), v, "related records"))),
        // Mail of other teams' accounts stays out of a shared record's History.
        Query::History(r) => enc(view.history(&r).map(|mut items| {
            if agent.accounts.is_some() {
                items.retain(|i| {
                    view.store().locations(i.message.id).is_ok_and(|locs| {
                        locs.is_empty() || locs.iter().any(|l| agent.sees_account(&l.account))
                    })
                });
            }
            items
        })),
        Query::Notifications => enc(view.notifications()),
        Query::DeletedRecords => enc(view
            .deleted_records()
            .map(|v| agent.visible_records(view.store(), v, "deleted records"))),
        Query::Filters(mail) => enc(view.filters(mail).map(|mut v| {
            v.retain(|f| f.account.as_deref().is_none_or(|a| agent.sees_account(a)));
            v
        })),
        Query::OutboxEntries => enc(view.outbox_entries().map(|mut v| {
            v.retain(|e| agent.sees_account(&e.account));
            v
        })),
        Query::Drafts => enc(view.drafts().map(|mut v| {
            v.retain(|d| agent.owns_draft(d));
            v
        })),
        Query::NewDraftId => enc(view.new_draft_id()),
        Query::TemplateContext { parent, to } => enc(view.template_context(parent, to.as_deref())),
        Query::MailBytes(id) => {
            enc(view.attachment_bytes(&crate::protocol::AttachmentSource::Message(id)))
        }
        Query::Flush => enc(view.flush()),
        Query::Stats => enc(view
            .store()
            .stats()
            .map(|mut s| {
                s.accounts.retain(|a| agent.sees_account(&a.name));
                s
            })
            .map_err(|e| DeskError(format!("Could not count the store: {e}")))),
        Query::ImportContacts { name, data } => {
            return (enc(import_contacts(view, &name, &data)), true);
        }
        Query::SendMail(_) => Err(DeskError("sent on the async path".into())),
        Query::ServerFolders(account) => enc(view.server_folders(&account)),
        Query::Search(q) => enc(search_for(view, agent, &q)),
        Query::Cases => enc(view.case_rows(&|a| agent.sees_account(a))),
        Query::CaseMails(id) => enc(view.case_mail_hits(id).map(|mut v| {
            v.retain(|h| agent.sees_account(&h.account));
            v
        })),
        Query::Dashboard(q) => enc(view.dashboard_for(&q, &|a| agent.sees_account(a))),
    };
    (r, false)
}

/// A search as one agent may see it: hits in other accounts are dropped,
/// asking for more so the page still fills.
fn search_for(
    view: &Desk,
    agent: &Agent,
    q: &crate::protocol::SearchQuery,
) -> Result<crate::protocol::SearchAnswer, DeskError> {
    if agent.accounts.is_none() {
        return view.search(q);
    }
    let wide = crate::protocol::SearchQuery {
        query: q.query.clone(),
        limit: q.limit.max(1).saturating_mul(4),
    };
    let mut answer = view.search(&wide)?;
    let before = answer.hits.len();
    answer.hits.retain(|h| agent.sees_account(&h.account));
    let hidden = before - answer.hits.len();
    if hidden > 0 {
        tracing::info!(
            "serve: {} searched; {hidden} hit(s) in other teams' accounts left out",
            agent.login
        );
    }
    answer.more |= answer.hits.len() > q.limit;
    answer.hits.truncate(q.limit.max(1));
    Ok(answer)
}

/// `deskmail import contacts` through the server; the name picks the format.
fn import_contacts(view: &Desk, name: &str, data: &[u8]) -> Result<String, DeskError> {
    let base = Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "contacts.csv".into());
    let text = std::str::from_utf8(data).map_err(|_| {
        DeskError(format!(
            "{base} is not UTF-8 text; save it as UTF-8 and import again"
        ))
    })?;
    let store = view.store();
    let summary = crate::crm::import::import_contacts_text(store, Path::new(&base), text)
        .map_err(|e| DeskError(crate::mail::sanitize::sanitize_text(&format!("{e:#}"))))?;
    let rules = crate::crm::linking::LinkRules::from_config(view.config());
    let relinked = crate::crm::linking::relink_unlinked(store, &rules)
        .map_err(|e| DeskError(format!("cannot link the imported contacts: {e}")))?;
    store
        .flush()
        .map_err(|e| DeskError(format!("cannot write the store: {e}")))?;
    let mut text = summary.to_string();
    if relinked.linked > 0 {
        text.push_str(&format!(
            "\nlinked {} earlier mail(s) to the imported contacts",
            relinked.linked
        ));
    }
    Ok(text)
}

async fn write(wr: &mut tokio::net::unix::OwnedWriteHalf, payload: &[u8]) -> Result<(), WireError> {
    let frame = wire::framed(payload)?;
    wr.write_all(&frame).await?;
    Ok(())
}

/// Take the client's queue to its socket; a lagged client hears `Resync`
/// once its queue has room, a client that stops reading is dropped.
async fn write_loop(
    mut wr: tokio::net::unix::OwnedWriteHalf,
    mut rx: mpsc::Receiver<ServerMsg>,
    lagged: Arc<AtomicBool>,
    wake: Arc<Notify>,
    login: String,
) {
    loop {
        let msg = tokio::select! {
            m = rx.recv() => match m {
                Some(m) => Some(m),
                None => break,
            },
            _ = wake.notified() => None,
        };
        let mut out = Vec::new();
        out.extend(msg);
        if lagged.swap(false, Ordering::SeqCst) {
            out.push(ServerMsg::Resync);
        }
        for m in out {
            let payload = match wire::encode(&m) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!("serve: cannot encode a message for {login}: {e}");
                    continue;
                }
            };
            match tokio::time::timeout(WRITE_TIMEOUT, write(&mut wr, &payload)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::info!("serve: {login} went away ({e})");
                    return;
                }
                Err(_) => {
                    tracing::warn!("serve: {login} took no data for {WRITE_TIMEOUT:?}; dropped");
                    return;
                }
            }
        }
    }
    let _ = wr.shutdown().await;
}
