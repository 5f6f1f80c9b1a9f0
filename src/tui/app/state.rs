//! The screen's state: focus, the folder list, the message list window, the
//! reader, the records pane, the open overlay and the status line. Plain
//! data; `App`'s methods in the sibling modules change it.

use super::pieces::{LineInput, PickList, StatusMessage};
use crate::mail::render::RenderedMail;
use crate::protocol::{ListRow, SyncState};
use crate::store::drafts::StoredDraft;
use crate::store::notifications::Notification;
use crate::store::{OutboxEntry, Record};
use crate::tui::action::Action;
use crate::tui::compose::ComposeState;
use crate::tui::keymap::Context;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Folders,
    List,
    Reader,
    Records,
}

impl Focus {
    const ORDER: [Focus; 4] = [Focus::Folders, Focus::List, Focus::Reader, Focus::Records];

    pub fn context(self) -> Context {
        match self {
            Focus::Folders => Context::Folders,
            Focus::List => Context::List,
            Focus::Reader => Context::Reader,
            Focus::Records => Context::Records,
        }
    }

    pub(super) fn step(self, forward: bool) -> Focus {
        let i = Focus::ORDER.iter().position(|f| *f == self).unwrap_or(0);
        let n = Focus::ORDER.len();
        Focus::ORDER[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// One line of the folder pane: an account heading or a folder.
#[derive(Debug, Clone, PartialEq)]
pub enum FolderRow {
    Account {
        name: String,
        group: bool,
    },
    Folder {
        account: String,
        name: String,
        unread: u64,
        total: u64,
        /// New mail here notifies nobody.
        quiet: bool,
    },
}

/// Which mails of the folder the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    All,
    Unread,
    Flagged,
    /// Linked to no record: still to be triaged.
    Unlinked,
    /// Threads whose last mail is the customer's, unanswered; oldest first.
    Waiting,
    /// The hits of a search over every folder (`ListView::search`).
    Search,
}

/// The message list window: exactly the rows on screen.
#[derive(Debug, Default)]
pub struct ListView {
    /// One row per thread (its newest mail) instead of every mail.
    pub collapsed: bool,
    pub account: String,
    pub folder: String,
    pub rows: Vec<ListRow>,
    pub cursor: usize,
    /// Absolute position of `rows[0]` in the folder.
    pub first_index: u64,
    pub total: u64,
    pub height: usize,
    /// Marked mails of this folder, with their flags when marked.
    pub marks: BTreeMap<u64, u8>,
    pub view: View,
    /// Every row of the current view (empty for the whole folder).
    pub filtered: Vec<ListRow>,
    /// The search shown as a virtual folder, while `view` is `Search`.
    pub search: Option<super::search::SearchResults>,
}

impl ListView {
    pub fn selected(&self) -> Option<&ListRow> {
        self.rows.get(self.cursor)
    }
}

#[derive(Debug, Default)]
pub struct ReaderView {
    pub id: Option<u64>,
    pub mail: Option<Arc<RenderedMail>>,
    pub scroll: usize,
    pub all_headers: bool,
    pub show_quotes: bool,
    pub raw: bool,
    /// The sanitised source, split into lines once.
    pub raw_text: Option<Vec<String>>,
    /// The line of the search hit `n`/`N` last jumped to.
    pub hit: Option<usize>,
    /// Jump to the first (`true`) or last hit once the mail is rendered.
    pub hit_pending: Option<bool>,
}

#[derive(Debug, Default)]
pub struct RecordsView {
    pub records: Vec<Record>,
    pub cursor: usize,
}

/// A record opened full-screen with its History.
#[derive(Debug)]
pub struct RecordCard {
    pub record: Record,
    pub related: Vec<Record>,
    pub history: Vec<crate::store::HistoryItem>,
    pub cursor: usize,
}

#[derive(Debug)]
pub enum Overlay {
    Help {
        scroll: usize,
    },
    Palette {
        input: LineInput,
        matches: PickList<(Action, String)>,
    },
    Record(Box<RecordCard>),
    Compose(Box<ComposeState>),
    Picker(Box<RecordPicker>),
    Outbox(PickList<OutboxEntry>),
    /// A one-line question (attachment number, command, folder).
    Prompt(Box<Prompt>),
    Form(Box<crate::tui::form::RecordForm>),
    Notifications(PickList<Notification>),
    /// Records in the trash, to restore.
    Trash(PickList<Record>),
    /// Drafts found at start (after a crash or a quit mid-mail).
    Drafts(PickList<StoredDraft>),
    /// The search query line at the bottom (`/`).
    Search(Box<super::search::SearchLine>),
    /// The accounts, and one account's form.
    Accounts(Box<super::accounts::AccountsScreen>),
    /// The filters, and which match the selected mail.
    Filters(Box<super::filters::FiltersScreen>),
    /// The case queue.
    Cases(Box<super::cases::CasesScreen>),
    /// The triage dashboard.
    Dashboard(Box<super::cases::DashboardScreen>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum PromptPurpose {
    SaveAttachment {
        id: u64,
    },
    PipePart {
        id: u64,
    },
    MoveTo {
        id: u64,
        account: String,
        folder: String,
    },
    MoveMarked {
        ids: Vec<u64>,
        account: String,
        folder: String,
    },
    Snooze {
        ids: Vec<u64>,
        account: String,
        folder: String,
    },
    CreateFolder {
        account: String,
    },
    RenameFolder {
        account: String,
        from: String,
    },
    /// Answered "yes" to delete.
    DeleteFolder {
        account: String,
        name: String,
    },
}

#[derive(Debug, Clone)]
pub struct Prompt {
    pub label: String,
    pub input: LineInput,
    pub purpose: PromptPurpose,
}

/// Fuzzy picker of records for manual linking.
#[derive(Debug)]
pub struct RecordPicker {
    pub input: LineInput,
    pub all: Vec<Record>,
    /// `all` ranked against the input.
    pub matches: PickList<Record>,
    /// The mail being linked.
    pub message: u64,
    /// Marked mails linked together instead, when there are marks.
    pub marked: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct Status {
    pub message: Option<StatusMessage>,
    pub sync: BTreeMap<String, SyncState>,
    pub new_mail: usize,
    pub warnings: Vec<String>,
    /// A served desk: "attached to PATH as NAME" or "reconnecting…".
    pub attached: Option<String>,
}
