//! The words the screen and the desk speak: `Command`s in, `Event`s out,
//! the queries of [`DeskClient`] and the view models they return. A leaf:
//! it imports no room that talks (tui, desk, sync, outbox); all of it is serde.

use crate::config::Config;
use crate::config::identities::ComposeSettings;
use crate::mail::render::{RenderOptions, RenderedMail};
pub use crate::store::ServerFolder;
use crate::store::drafts::StoredDraft;
use crate::store::notifications::Notification;
use crate::store::{
    FolderEntry, FolderState, HistoryItem, MessageSummary, OutboxEntry, Record, RecordKind,
    RecordRef,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the interface asks the desk to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    /// Set or clear flags of a mail in one folder.
    SetFlags {
        id: u64,
        account: String,
        folder: String,
        add: u8,
        remove: u8,
    },
    /// Parse and render a mail off the interface task.
    Render {
        id: u64,
        options: RenderOptions,
    },
    Link {
        id: u64,
        record: RecordRef,
    },
    Unlink {
        id: u64,
        record: RecordRef,
    },
    /// Link every mail to the records its addresses match.
    Relink {
        ids: Vec<u64>,
    },
    SyncNow,
    /// Move a mail to the account's Trash (never expunged).
    Trash {
        id: u64,
        account: String,
        folder: String,
    },
    /// Move a mail to another folder of its account (`None`: the archive).
    MoveTo {
        id: u64,
        account: String,
        folder: String,
        to: Option<String>,
    },
    /// Save attachment `index` (1-based; `None`: all) into the download dir.
    SaveAttachments {
        id: u64,
        index: Option<usize>,
    },
    /// Pipe attachment `index` (`None`: the whole raw mail) to a shell command.
    PipePart {
        id: u64,
        index: Option<usize>,
        command: String,
    },
    /// Save a record edited in a form.
    SaveRecord {
        record: Box<Record>,
    },
    /// Move a record to the trash / bring it back.
    DeleteRecord {
        record: RecordRef,
    },
    RestoreRecord {
        record: RecordRef,
    },
    /// The agent follows the record, or stops following it.
    ToggleFollow {
        record: RecordRef,
    },
    NotificationRead {
        id: u64,
    },
    /// Create a record prefilled from a mail and link it.
    CreateFromMail {
        id: u64,
        kind: RecordKind,
    },
    /// Outbox: send a waiting entry now / cancel it.
    RetryNow {
        entry: u64,
    },
    CancelOutgoing {
        entry: u64,
    },
    /// Queue a mail for sending (demo desk: file it in Sent).
    Send(Box<Outgoing>),
    /// Keep a mail being written; the same draft id overwrites.
    SaveDraft(Box<StoredDraft>),
    /// Forget a draft (sent, discarded or deleted from the drafts list).
    DeleteDraft {
        id: u64,
    },
    /// Set or clear flags of several mails of one folder (marked mails);
    /// the server hears one `UID STORE` for them.
    SetFlagsMany {
        ids: Vec<u64>,
        account: String,
        folder: String,
        add: u8,
        remove: u8,
    },
    /// Move several mails of one folder (`to: None`: the archive).
    MoveMany {
        ids: Vec<u64>,
        account: String,
        folder: String,
        to: Option<String>,
    },
    /// Move several mails of one folder to the account's Trash.
    TrashMany {
        ids: Vec<u64>,
        account: String,
        folder: String,
    },
    LinkMany {
        ids: Vec<u64>,
        record: RecordRef,
    },
    /// One case for several mails: made from the first, linked to all.
    CreateCaseFromMails {
        ids: Vec<u64>,
    },
    /// Revert the last move, delete, flag, read, link or unlink.
    Undo,
    /// Hide mails from their folder until `until` (Unix seconds); they come
    /// back unread.
    Snooze {
        ids: Vec<u64>,
        account: String,
        folder: String,
        until: i64,
    },
    /// Run the doctor's steps for an account as the form describes it.
    TestAccount(Box<crate::config::AccountConfig>),
    /// The folder the agent has open, for the next start to return to.
    RememberPosition {
        account: String,
        folder: String,
    },
    /// Create a folder on the account's server (and in the desk).
    CreateFolder {
        account: String,
        name: String,
    },
    /// Rename a folder on the server; its stored mail keeps its links.
    RenameFolder {
        account: String,
        from: String,
        to: String,
    },
    /// Delete a folder and the mail in it on the server.
    DeleteFolder {
        account: String,
        name: String,
    },
    /// Whether new mail in a folder notifies the agent (unread alert).
    SetFolderNotify {
        account: String,
        folder: String,
        notify: bool,
    },
    /// Change a case from the queue: its assignee (`Some("")` unassigns)
    /// and/or its status.
    UpdateCase {
        case: u64,
        assignee: Option<String>,
        status: Option<String>,
    },
}

/// A mail the agent wrote, before it becomes bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outgoing {
    pub account: String,
    pub from_name: String,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: String,
    pub body: String,
    /// The stored mail this answers.
    pub in_reply_to: Option<u64>,
    pub attachments: Vec<FileAttachment>,
    /// A new mail written from this case: it goes out as the case's group.
    #[serde(default)]
    pub case: Option<u64>,
}

/// What the desk tells the interface.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Event {
    /// A folder's rows changed: pull the visible ones again.
    FolderChanged {
        account: String,
        folder: String,
    },
    Rendered {
        id: u64,
        mail: Arc<RenderedMail>,
    },
    /// An outbox entry changed state.
    OutboxChanged,
    /// Records, follows or notifications changed.
    RecordsChanged,
    LinksChanged {
        id: u64,
    },
    Sync {
        account: String,
        state: SyncState,
    },
    NewMail {
        account: String,
        folder: String,
        count: usize,
    },
    /// The search index took in new or changed mail: open searches ask again.
    SearchUpdated,
    /// Something failed: plain words, already sanitised.
    Error(String),
    Notice(String),
    /// Drafts other clients left on a server were added to the drafts.
    DraftsFound {
        count: usize,
    },
    /// The steps of a `TestAccount`, in order.
    AccountTested {
        account: String,
        steps: Vec<CheckStep>,
    },
    /// Where this screen's desk lives changed (a served desk): the status
    /// line's words, e.g. "attached to /run/deskmail/desk.sock as alice".
    Attached(String),
    /// An account's folders were created, renamed, deleted or changed
    /// settings: the folder pane asks again.
    FoldersChanged {
        account: String,
    },
    /// Something failed in one account (sync, folders): plain words, already
    /// sanitised; a shared desk tells only the agents who see the account.
    AccountError {
        account: String,
        message: String,
    },
}

/// One step of an account check: what was tried and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckStep {
    /// `Some(true)` passed, `Some(false)` failed, `None` a note.
    pub ok: Option<bool>,
    pub text: String,
}

impl CheckStep {
    pub fn ok(text: String) -> CheckStep {
        CheckStep {
            ok: Some(true),
            text,
        }
    }
    pub fn failed(text: String) -> CheckStep {
        CheckStep {
            ok: Some(false),
            text,
        }
    }
    pub fn note(text: String) -> CheckStep {
        CheckStep { ok: None, text }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncState {
    Offline,
    Connecting,
    Syncing { done: u64, total: u64 },
    Idle,
    Retrying { in_secs: u64, reason: String },
    Error(String),
}

impl SyncState {
    pub fn label(&self) -> String {
        match self {
            SyncState::Offline => "offline".into(),
            SyncState::Connecting => "connecting".into(),
            SyncState::Syncing { done, total } => format!("syncing {done} of {total}"),
            SyncState::Idle => "idle".into(),
            SyncState::Retrying { in_secs, .. } => format!("retrying in {in_secs}s"),
            SyncState::Error(e) => format!("error: {e}"),
        }
    }
}

/// The folders of one account, as the folder pane shows them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountFolders {
    pub account: String,
    pub group: bool,
    pub folders: Vec<FolderState>,
}

/// A file attached to an outgoing mail, with its bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileAttachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Where the next or previous page of a list starts. Opaque to the screen:
/// only the desk that handed it out can read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PageCursor(Vec<u8>);

impl PageCursor {
    pub(crate) fn from_key(key: Vec<u8>) -> PageCursor {
        PageCursor(key)
    }

    pub(crate) fn key(&self) -> &[u8] {
        &self.0
    }
}

/// One row of a message list page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListRow {
    pub cursor: PageCursor,
    pub entry: FolderEntry,
    pub summary: MessageSummary,
    /// Mails in the row's thread (collapsed lists).
    pub thread_size: u64,
}

/// Which mails of a folder a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageFrom {
    /// The newest `n` after the cursor (exclusive); `None`: from the newest.
    After,
    /// The `n` before the cursor (exclusive); `None`: up to the oldest.
    Before,
    /// From the cursor on (inclusive).
    At,
}

/// A page of a folder: one row per mail, or per thread when collapsed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageQuery {
    pub account: String,
    pub folder: String,
    pub from: PageFrom,
    pub cursor: Option<PageCursor>,
    pub n: usize,
    pub collapsed: bool,
}

/// The values a template's placeholders take for one mail; a missing key
/// means "no value".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateContext {
    pub(crate) values: BTreeMap<String, String>,
}

impl TemplateContext {
    pub fn new() -> TemplateContext {
        TemplateContext::default()
    }

    /// Set a placeholder's value; empty values count as missing.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        let v = value.into();
        if v.trim().is_empty() {
            self.values.remove(name);
        } else {
            self.values.insert(name.to_string(), v);
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

/// A full-text search over every account and folder, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// The query language of `deskmail search` (`from:ann refund -is:read`).
    pub query: String,
    pub limit: usize,
}

/// One mail a search found, as a list row, and where it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchHit {
    /// The row's flags are those of the first place.
    pub row: ListRow,
    pub account: String,
    pub folder: String,
}

/// What a search found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchAnswer {
    pub hits: Vec<SearchHit>,
    /// More mails matched than the limit let through.
    pub more: bool,
    /// The query's words as the index stems them, for highlighting hits in
    /// the reader (`crate::search::highlight::find`).
    pub terms: Vec<String>,
}

/// One case of the queue with what the Cases view shows of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseRow {
    pub record: Record,
    pub number: u64,
    /// The customer's name, else address.
    pub customer: String,
    /// The customer's address, for composing.
    pub email: String,
    pub account: String,
    /// An agent's address; empty when unassigned.
    pub assignee: String,
    pub status: String,
    pub opened: i64,
    /// When the customer last wrote (Unix seconds).
    pub last_customer_mail: Option<i64>,
    /// Seconds from the first customer mail to the desk's first answer.
    pub first_response_secs: Option<i64>,
    pub mails: usize,
}

impl CaseRow {
    pub fn is_open(&self) -> bool {
        crate::store::CaseStatus::is_open_name(&self.status)
    }

    /// Since when the customer waits: their last mail, else the case's opening.
    pub fn waiting_since(&self) -> i64 {
        self.last_customer_mail.unwrap_or(self.opened)
    }
}

/// What the triage dashboard asks: `now` and the start of the agent's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardQuery {
    pub now: i64,
    pub day_start: i64,
}

/// The triage dashboard's figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Dashboard {
    /// Open cases per agent (address, name, count), the team's order;
    /// the unassigned ones last under an empty address.
    pub open_by_agent: Vec<(String, String, u64)>,
    /// Incoming mail per hour, the oldest of the last 24 hours first.
    pub incoming_per_hour: Vec<u64>,
    /// The open case waiting longest for a first answer.
    pub oldest_unanswered: Option<CaseRow>,
    /// Median first response of the cases answered since `day_start`.
    pub first_response_median_today: Option<i64>,
    pub answered_today: usize,
}

/// A query the desk could not answer, in plain words (already sanitised).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{0}")]
pub struct DeskError(pub String);

pub type DeskResult<T> = Result<T, DeskError>;

/// The desk as the screen sees it: commands are fire-and-forget with
/// `Event`s back; queries are small reads that answer at once.
pub trait DeskClient: Send + Sync {
    /// Run a command; its outcome comes back as events.
    fn send(&self, cmd: Command);
    /// The configuration the desk runs with.
    fn config(&self) -> &Config;
    fn folders(&self) -> DeskResult<Vec<AccountFolders>>;
    fn page(&self, q: &PageQuery) -> DeskResult<Vec<ListRow>>;
    fn summary(&self, id: u64) -> DeskResult<Option<MessageSummary>>;
    /// The account a mail is stored in first.
    fn account_of(&self, id: u64) -> DeskResult<Option<String>>;
    /// The mail's source as text, for the raw view.
    fn raw_source(&self, id: u64) -> DeskResult<Option<String>>;
    /// The size of the mail's source, `None` while its body is not fetched.
    fn body_size(&self, id: u64) -> DeskResult<Option<u64>>;
    /// The mail's body as plain lines, for quoting in a reply.
    fn quote_lines(&self, id: u64) -> DeskResult<Option<Vec<String>>>;
    /// The folder of `account` with special use `use_` (e.g. `\\Sent`).
    fn special_folder(&self, account: &str, use_: &str) -> DeskResult<Option<String>>;
    fn links_of(&self, id: u64) -> DeskResult<Vec<Record>>;
    fn records(&self, kind: RecordKind) -> DeskResult<Vec<Record>>;
    fn record(&self, r: RecordRef) -> DeskResult<Option<Record>>;
    fn children_of(&self, r: RecordRef) -> DeskResult<Vec<Record>>;
    fn history(&self, r: &Record) -> DeskResult<Vec<HistoryItem>>;
    /// The agent's notifications, newest first.
    fn notifications(&self) -> DeskResult<Vec<Notification>>;
    /// Records in the trash.
    fn deleted_records(&self) -> DeskResult<Vec<Record>>;
    /// Outbox entries, newest first.
    fn outbox_entries(&self) -> DeskResult<Vec<OutboxEntry>>;
    /// Saved drafts, for the start to offer again.
    fn drafts(&self) -> DeskResult<Vec<StoredDraft>>;
    /// A fresh id for a draft about to be written.
    fn new_draft_id(&self) -> DeskResult<u64>;
    /// Placeholder values for a mail answering `parent` or going to `to`.
    fn template_context(
        &self,
        parent: Option<u64>,
        to: Option<&str>,
    ) -> DeskResult<TemplateContext>;

    // ---- the agent's own files: read where the agent sits ----

    /// `identities.toml`: who mail may go out as.
    fn compose_settings(&self) -> DeskResult<ComposeSettings>;
    /// Names of the text templates, sorted; the error says where to put some.
    fn template_names(&self) -> DeskResult<Vec<String>>;
    fn template_text(&self, name: &str) -> DeskResult<String>;
    /// The size of a file the agent attaches; an error when it is no file.
    fn attachment_size(&self, path: &std::path::Path) -> DeskResult<u64>;
    /// The bytes of an attached file or forwarded mail, for sending.
    fn attachment_bytes(&self, source: &AttachmentSource) -> DeskResult<Vec<u8>>;
    /// Completion of a path being typed: the longest common completion and
    /// the names that match.
    fn complete_path(&self, input: &str) -> (String, Vec<String>);
    /// Write everything pending to disk (before suspend and exit).
    fn flush(&self) -> DeskResult<()>;
    /// Search every account and folder; a bad query's error names the token.
    fn search(&self, _q: &SearchQuery) -> DeskResult<SearchAnswer> {
        Err(DeskError("Search is not available on this desk.".into()))
    }
    /// The account and folder open when the agent last left; `None` on a
    /// first start.
    fn saved_position(&self) -> DeskResult<Option<(String, String)>> {
        Ok(None)
    }
    /// Every folder the account's server listed at the last sync (cached in
    /// the store), for moving mail to folders that are not synced.
    fn server_folders(&self, _account: &str) -> DeskResult<Vec<ServerFolder>> {
        Ok(Vec::new())
    }
    /// Every case not in the trash, with the figures the queue shows.
    fn cases(&self) -> DeskResult<Vec<CaseRow>> {
        Err(DeskError(
            "The case queue is not available on this desk.".into(),
        ))
    }
    /// The mails of a case, oldest first, each with where it is stored.
    fn case_mails(&self, _case: u64) -> DeskResult<Vec<SearchHit>> {
        Err(DeskError(
            "The case queue is not available on this desk.".into(),
        ))
    }
    fn dashboard(&self, _q: &DashboardQuery) -> DeskResult<Dashboard> {
        Err(DeskError(
            "The dashboard is not available on this desk.".into(),
        ))
    }
    /// Every filter, global ones first, each marked when it matches mail
    /// `mail`.
    fn filters(&self, _mail: Option<u64>) -> DeskResult<Vec<FilterRow>> {
        Err(DeskError("Filters are not available on this desk.".into()))
    }
}

/// A filter as the filters screen lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterRow {
    pub name: String,
    /// The account it belongs to; `None`: every account.
    pub account: Option<String>,
    /// "skip", "move to Billing", "mark-read", "no-notify".
    pub action: String,
    /// What it looks at: "from *@news.example, subject re:^Weekly".
    pub patterns: String,
    /// Whether it matches the mail asked about.
    pub matches: bool,
}

/// Where an attachment's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttachmentSource {
    File(std::path::PathBuf),
    /// A stored mail's raw bytes, attached as message/rfc822.
    Message(u64),
}

/// A shared desk is a desk too.
impl<T: DeskClient + ?Sized> DeskClient for Arc<T> {
    fn send(&self, cmd: Command) {
        (**self).send(cmd)
    }
    fn config(&self) -> &Config {
        (**self).config()
    }
    fn folders(&self) -> DeskResult<Vec<AccountFolders>> {
        (**self).folders()
    }
    fn page(&self, q: &PageQuery) -> DeskResult<Vec<ListRow>> {
        (**self).page(q)
    }
    fn summary(&self, id: u64) -> DeskResult<Option<MessageSummary>> {
        (**self).summary(id)
    }
    fn account_of(&self, id: u64) -> DeskResult<Option<String>> {
        (**self).account_of(id)
    }
    fn raw_source(&self, id: u64) -> DeskResult<Option<String>> {
        (**self).raw_source(id)
    }
    fn body_size(&self, id: u64) -> DeskResult<Option<u64>> {
        (**self).body_size(id)
    }
    fn quote_lines(&self, id: u64) -> DeskResult<Option<Vec<String>>> {
        (**self).quote_lines(id)
    }
    fn special_folder(&self, account: &str, use_: &str) -> DeskResult<Option<String>> {
        (**self).special_folder(account, use_)
    }
    fn links_of(&self, id: u64) -> DeskResult<Vec<Record>> {
        (**self).links_of(id)
    }
    fn records(&self, kind: RecordKind) -> DeskResult<Vec<Record>> {
        (**self).records(kind)
    }
    fn record(&self, r: RecordRef) -> DeskResult<Option<Record>> {
        (**self).record(r)
    }
    fn children_of(&self, r: RecordRef) -> DeskResult<Vec<Record>> {
        (**self).children_of(r)
    }
    fn history(&self, r: &Record) -> DeskResult<Vec<HistoryItem>> {
        (**self).history(r)
    }
    fn notifications(&self) -> DeskResult<Vec<Notification>> {
        (**self).notifications()
    }
    fn deleted_records(&self) -> DeskResult<Vec<Record>> {
        (**self).deleted_records()
    }
    fn outbox_entries(&self) -> DeskResult<Vec<OutboxEntry>> {
        (**self).outbox_entries()
    }
    fn drafts(&self) -> DeskResult<Vec<StoredDraft>> {
        (**self).drafts()
    }
    fn new_draft_id(&self) -> DeskResult<u64> {
        (**self).new_draft_id()
    }
    fn template_context(
        &self,
        parent: Option<u64>,
        to: Option<&str>,
    ) -> DeskResult<TemplateContext> {
        (**self).template_context(parent, to)
    }
    fn compose_settings(&self) -> DeskResult<ComposeSettings> {
        (**self).compose_settings()
    }
    fn template_names(&self) -> DeskResult<Vec<String>> {
        (**self).template_names()
    }
    fn template_text(&self, name: &str) -> DeskResult<String> {
        (**self).template_text(name)
    }
    fn attachment_size(&self, path: &std::path::Path) -> DeskResult<u64> {
        (**self).attachment_size(path)
    }
    fn attachment_bytes(&self, source: &AttachmentSource) -> DeskResult<Vec<u8>> {
        (**self).attachment_bytes(source)
    }
    fn complete_path(&self, input: &str) -> (String, Vec<String>) {
        (**self).complete_path(input)
    }
    fn flush(&self) -> DeskResult<()> {
        (**self).flush()
    }
    fn search(&self, q: &SearchQuery) -> DeskResult<SearchAnswer> {
        (**self).search(q)
    }
    fn saved_position(&self) -> DeskResult<Option<(String, String)>> {
        (**self).saved_position()
    }
    fn server_folders(&self, account: &str) -> DeskResult<Vec<ServerFolder>> {
        (**self).server_folders(account)
    }
    fn cases(&self) -> DeskResult<Vec<CaseRow>> {
        (**self).cases()
    }
    fn case_mails(&self, case: u64) -> DeskResult<Vec<SearchHit>> {
        (**self).case_mails(case)
    }
    fn dashboard(&self, q: &DashboardQuery) -> DeskResult<Dashboard> {
        (**self).dashboard(q)
    }
    fn filters(&self, mail: Option<u64>) -> DeskResult<Vec<FilterRow>> {
        (**self).filters(mail)
    }
}
