//! An in-memory `DeskClient` for state tests of the screen: no store, no
//! files, no tasks. It answers from the rows, records, files and templates
//! it is given and keeps every command it is sent.

use crate::config::Config;
use crate::config::identities::ComposeSettings;
use crate::protocol::{
    AccountFolders, AttachmentSource, Command, DeskClient, DeskError, DeskResult, ListRow,
    PageCursor, PageFrom, PageQuery, SearchAnswer, SearchHit, SearchQuery, TemplateContext,
};
use crate::store::drafts::StoredDraft;
use crate::store::notifications::Notification;
use crate::store::{
    FolderEntry, FolderState, HistoryItem, MessageSummary, OutboxEntry, Record, RecordKind,
    RecordRef,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct FakeDesk {
    pub config: Config,
    /// Mails per (account, folder), newest first.
    pub mails: BTreeMap<(String, String), Vec<MessageSummary>>,
    pub records: Vec<Record>,
    /// Links of a mail.
    pub links: BTreeMap<u64, Vec<Record>>,
    /// The agent's files: path → bytes.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    pub templates: BTreeMap<String, String>,
    pub settings: ComposeSettings,
    pub drafts: Vec<StoredDraft>,
    /// Accounts listed first, in this order, even before they have folders.
    pub accounts: Vec<String>,
    /// The folder last remembered by `Command::RememberPosition`.
    pub position: Mutex<Option<(String, String)>>,
    /// Every command sent, in order.
    pub sent: Mutex<Vec<Command>>,
    /// Folders the servers list beyond those with mails here, per account.
    pub listed: BTreeMap<String, Vec<crate::protocol::ServerFolder>>,
    next_id: AtomicU64,
}

impl FakeDesk {
    pub fn new(config: Config) -> FakeDesk {
        FakeDesk {
            config,
            next_id: AtomicU64::new(1000),
            ..FakeDesk::default()
        }
    }

    /// Put `mails` (newest first) into `account/folder`.
    pub fn with_folder(mut self, account: &str, folder: &str, mails: Vec<MessageSummary>) -> Self {
        self.mails
            .insert((account.to_string(), folder.to_string()), mails);
        self
    }

    /// The commands sent so far, taken out.
    pub fn take_sent(&self) -> Vec<Command> {
        self.sent
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }

    fn row(m: &MessageSummary) -> ListRow {
        ListRow {
            cursor: PageCursor::from_key(m.id.to_be_bytes().to_vec()),
            entry: FolderEntry {
                uid: u32::try_from(m.id).unwrap_or(u32::MAX),
                flags: 0,
            },
            summary: m.clone(),
            thread_size: 1,
        }
    }

    fn find(&self, id: u64) -> Option<&MessageSummary> {
        self.mails.values().flatten().find(|m| m.id == id)
    }
}

impl DeskClient for FakeDesk {
    fn send(&self, cmd: Command) {
        if let Command::RememberPosition { account, folder } = &cmd
            && let Ok(mut p) = self.position.lock()
        {
            *p = Some((account.clone(), folder.clone()));
        }
        if let Ok(mut s) = self.sent.lock() {
            s.push(cmd);
        }
    }

    fn server_folders(&self, account: &str) -> DeskResult<Vec<crate::protocol::ServerFolder>> {
        let mut all = self.listed.get(account).cloned().unwrap_or_default();
        for ((a, folder), mails) in &self.mails {
            if a == account && !all.iter().any(|f| f.name == *folder) {
                all.push(crate::protocol::ServerFolder {
                    name: folder.clone(),
                    special_use: None,
                    messages: Some(mails.len() as u64),
                });
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn folders(&self) -> DeskResult<Vec<AccountFolders>> {
        let mut out: Vec<AccountFolders> = self
            .accounts
            .iter()
            .map(|a| AccountFolders {
                account: a.clone(),
                group: false,
                folders: vec![],
            })
            .collect();
        for ((account, folder), mails) in &self.mails {
            let state = FolderState {
                name: folder.clone(),
                total: mails.len() as u64,
                unread: mails.len() as u64,
                ..FolderState::default()
            };
            match out.iter_mut().find(|a| a.account == *account) {
                Some(a) => a.folders.push(state),
                None => out.push(AccountFolders {
                    account: account.clone(),
                    group: false,
                    folders: vec![state],
                }),
            }
        }
        Ok(out)
    }

    fn page(&self, q: &PageQuery) -> DeskResult<Vec<ListRow>> {
        let rows: Vec<ListRow> = self
            .mails
            .get(&(q.account.clone(), q.folder.clone()))
            .map(|m| m.iter().map(FakeDesk::row).collect())
            .unwrap_or_default();
        let at = q
            .cursor
            .as_ref()
            .and_then(|c| rows.iter().position(|r| r.cursor == *c));
        let (start, end) = match (q.from, at) {
            (PageFrom::After, Some(i)) => (i + 1, (i + 1 + q.n).min(rows.len())),
            (PageFrom::At, Some(i)) => (i, (i + q.n).min(rows.len())),
            (PageFrom::After | PageFrom::At, None) => (0, q.n.min(rows.len())),
            (PageFrom::Before, Some(i)) => (i.saturating_sub(q.n), i),
            (PageFrom::Before, None) => (rows.len().saturating_sub(q.n), rows.len()),
        };
        Ok(rows
            .get(start..end)
            .map(<[ListRow]>::to_vec)
            .unwrap_or_default())
    }

    fn summary(&self, id: u64) -> DeskResult<Option<MessageSummary>> {
        Ok(self.find(id).cloned())
    }

    fn saved_position(&self) -> DeskResult<Option<(String, String)>> {
        Ok(self.position.lock().ok().and_then(|p| p.clone()))
    }

    fn account_of(&self, id: u64) -> DeskResult<Option<String>> {
        Ok(self
            .mails
            .iter()
            .find(|(_, m)| m.iter().any(|m| m.id == id))
            .map(|((a, _), _)| a.clone()))
    }

    fn raw_source(&self, id: u64) -> DeskResult<Option<String>> {
        Ok(self.find(id).map(|m| format!("Subject: {}\n", m.subject)))
    }

    fn body_size(&self, id: u64) -> DeskResult<Option<u64>> {
        Ok(self.find(id).map(|m| m.size))
    }

    fn quote_lines(&self, id: u64) -> DeskResult<Option<Vec<String>>> {
        Ok(self.find(id).map(|m| vec![m.preview.clone()]))
    }

    fn special_folder(&self, _account: &str, _use: &str) -> DeskResult<Option<String>> {
        Ok(None)
    }

    fn links_of(&self, id: u64) -> DeskResult<Vec<Record>> {
        Ok(self.links.get(&id).cloned().unwrap_or_default())
    }

    fn records(&self, kind: RecordKind) -> DeskResult<Vec<Record>> {
        Ok(self
            .records
            .iter()
            .filter(|r| r.kind == kind && !r.deleted)
            .cloned()
            .collect())
    }

    fn record(&self, r: RecordRef) -> DeskResult<Option<Record>> {
        Ok(self.records.iter().find(|x| x.reference() == r).cloned())
    }

    fn children_of(&self, r: RecordRef) -> DeskResult<Vec<Record>> {
        Ok(self
            .records
            .iter()
            .filter(|x| x.parent == Some(r))
            .cloned()
            .collect())
    }

    fn history(&self, _r: &Record) -> DeskResult<Vec<HistoryItem>> {
        Ok(vec![])
    }

    fn notifications(&self) -> DeskResult<Vec<Notification>> {
        Ok(vec![])
    }

    fn deleted_records(&self) -> DeskResult<Vec<Record>> {
        Ok(self.records.iter().filter(|r| r.deleted).cloned().collect())
    }

    fn outbox_entries(&self) -> DeskResult<Vec<OutboxEntry>> {
        Ok(vec![])
    }

    fn drafts(&self) -> DeskResult<Vec<StoredDraft>> {
        Ok(self.drafts.clone())
    }

    fn new_draft_id(&self) -> DeskResult<u64> {
        Ok(self.next_id.fetch_add(1, Ordering::SeqCst))
    }

    fn template_context(
        &self,
        _parent: Option<u64>,
        to: Option<&str>,
    ) -> DeskResult<TemplateContext> {
        let mut ctx = TemplateContext::new();
        ctx.set("User.name", self.config.agent.name.clone());
        if let Some(to) = to {
            ctx.set("Person.emailAddress", to);
        }
        Ok(ctx)
    }

    fn compose_settings(&self) -> DeskResult<ComposeSettings> {
        Ok(self.settings.clone())
    }

    fn template_names(&self) -> DeskResult<Vec<String>> {
        if self.templates.is_empty() {
            return Err(DeskError("No templates.".into()));
        }
        Ok(self.templates.keys().cloned().collect())
    }

    fn template_text(&self, name: &str) -> DeskResult<String> {
        self.templates
            .get(name)
            .cloned()
            .ok_or_else(|| DeskError(format!("no template {name}")))
    }

    fn attachment_size(&self, path: &Path) -> DeskResult<u64> {
        match self.files.get(path) {
            Some(b) => Ok(b.len() as u64),
            None => Err(DeskError(format!("{} is not a file", path.display()))),
        }
    }

    fn attachment_bytes(&self, source: &AttachmentSource) -> DeskResult<Vec<u8>> {
        match source {
            AttachmentSource::File(p) => self
                .files
                .get(p)
                .cloned()
                .ok_or_else(|| DeskError(format!("cannot read attachment {}", p.display()))),
            AttachmentSource::Message(id) => self
                .find(*id)
                .map(|m| m.subject.clone().into_bytes())
                .ok_or_else(|| DeskError("the forwarded mail's body is not downloaded yet".into())),
        }
    }

    fn complete_path(&self, input: &str) -> (String, Vec<String>) {
        let names: Vec<String> = self
            .files
            .keys()
            .map(|p| p.display().to_string())
            .filter(|p| p.starts_with(input))
            .collect();
        match names.as_slice() {
            [one] => (one.clone(), names),
            _ => (input.to_string(), names),
        }
    }

    fn flush(&self) -> DeskResult<()> {
        Ok(())
    }

    /// Every word of the query (stemmed) must be in the subject, sender or
    /// preview; fields and operators beyond that are not modelled.
    fn search(&self, q: &SearchQuery) -> DeskResult<SearchAnswer> {
        if let Err(e) = crate::search::query::parse(&q.query, 0) {
            return Err(DeskError(e.to_string()));
        }
        let terms = crate::search::highlight::query_terms(&q.query);
        let mut hits: Vec<SearchHit> = Vec::new();
        for ((account, folder), mails) in &self.mails {
            for m in mails {
                let text = format!(
                    "{} {} {}",
                    m.subject,
                    m.from
                        .iter()
                        .map(|p| format!("{} {}", p.name, p.email))
                        .collect::<Vec<_>>()
                        .join(" "),
                    m.preview
                );
                let words: Vec<String> = crate::search::analyzer::terms(&text);
                if terms.iter().all(|t| words.contains(t)) {
                    hits.push(SearchHit {
                        row: FakeDesk::row(m),
                        account: account.clone(),
                        folder: folder.clone(),
                    });
                }
            }
        }
        hits.sort_by_key(|h| std::cmp::Reverse(h.row.summary.date));
        let more = hits.len() > q.limit;
        hits.truncate(q.limit);
        Ok(SearchAnswer { hits, more, terms })
    }
}
