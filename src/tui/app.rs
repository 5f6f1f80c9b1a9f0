//! The interface state and its update function. `App::handle_*` change state
//! and return `Command`s for the desk; they never draw and never block.
//! Rows are pulled from the desk only for the window on screen.

use crate::desk::{Command, Desk, Event, SyncState};
use crate::mail::render::{RenderOptions, RenderedMail};
use crate::store::{ListRow, Record, RecordKind, flags};
use crate::tui::action::Action;
use crate::tui::compose::ComposeState;
use crate::tui::keymap::{Context, Hint, Key, KeyResult, Keymap};
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

    fn step(self, forward: bool) -> Focus {
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
    },
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
        input: String,
        cursor: usize,
    },
    Record(Box<RecordCard>),
    Compose(Box<ComposeState>),
    Picker(Box<RecordPicker>),
    Outbox {
        cursor: usize,
        entries: Vec<crate::store::OutboxEntry>,
    },
    /// A one-line question (attachment number, command, folder).
    Prompt(Box<Prompt>),
    Form(Box<crate::tui::form::RecordForm>),
    Notifications {
        cursor: usize,
        items: Vec<crate::store::notifications::Notification>,
    },
    Trash {
        cursor: usize,
        items: Vec<Record>,
    },
    /// Drafts found at start (after a crash or a quit mid-mail).
    Drafts {
        cursor: usize,
        items: Vec<crate::store::drafts::StoredDraft>,
    },
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
}

#[derive(Debug, Clone)]
pub struct Prompt {
    pub label: String,
    pub input: String,
    pub purpose: PromptPurpose,
}

/// Fuzzy picker of records for manual linking.
#[derive(Debug)]
pub struct RecordPicker {
    pub input: String,
    pub all: Vec<Record>,
    pub cursor: usize,
    pub message: u64,
}

#[derive(Debug, Default)]
pub struct Status {
    pub message: Option<(String, bool)>,
    pub sync: BTreeMap<String, SyncState>,
    pub new_mail: usize,
    pub warnings: Vec<String>,
}

pub struct App {
    pub focus: Focus,
    pub folders: Vec<FolderRow>,
    pub folder_cursor: usize,
    pub list: ListView,
    pub reader: ReaderView,
    pub records: RecordsView,
    pub overlay: Option<Overlay>,
    pub status: Status,
    pub pending: Vec<Key>,
    pub hints: Vec<Hint>,
    pub keymap: Keymap,
    pub quit: bool,
    pub suspend: bool,
    pub bell: bool,
    pub reader_width: usize,
}

impl App {
    pub fn new(keymap: Keymap) -> App {
        App {
            focus: Focus::List,
            folders: vec![],
            folder_cursor: 0,
            list: ListView {
                height: 10,
                ..ListView::default()
            },
            reader: ReaderView::default(),
            records: RecordsView::default(),
            overlay: None,
            status: Status::default(),
            pending: vec![],
            hints: vec![],
            keymap,
            quit: false,
            suspend: false,
            bell: false,
            reader_width: 80,
        }
    }

    /// The context whose bindings apply now.
    pub fn context(&self) -> Context {
        match &self.overlay {
            Some(Overlay::Help { .. }) => Context::Help,
            Some(Overlay::Palette { .. }) | Some(Overlay::Picker(_)) | Some(Overlay::Prompt(_)) => {
                Context::Palette
            }
            Some(Overlay::Compose(_)) | Some(Overlay::Form(_)) => Context::Compose,
            Some(Overlay::Notifications { .. })
            | Some(Overlay::Trash { .. })
            | Some(Overlay::Drafts { .. }) => Context::Outbox,
            Some(Overlay::Record(_)) => Context::Records,
            Some(Overlay::Outbox { .. }) => Context::Outbox,
            None => self.focus.context(),
        }
    }

    pub fn notice(&mut self, msg: impl Into<String>) {
        self.status.message = Some((msg.into(), false));
    }

    pub fn error(&mut self, msg: impl Into<String>) {
        self.status.message = Some((msg.into(), true));
    }

    /// Load folders and the first folder's first page.
    pub fn load(&mut self, desk: &Arc<Desk>) -> Vec<Command> {
        self.reload_folders(desk);
        if let Some(i) = self
            .folders
            .iter()
            .position(|f| matches!(f, FolderRow::Folder { .. }))
        {
            self.folder_cursor = i;
        }
        self.open_folder(desk)
    }

    pub fn reload_folders(&mut self, desk: &Arc<Desk>) {
        let mut rows = Vec::new();
        for a in desk.folders() {
            rows.push(FolderRow::Account {
                name: a.account.clone(),
                group: a.group,
            });
            for f in a.folders {
                rows.push(FolderRow::Folder {
                    account: a.account.clone(),
                    name: f.name,
                    unread: f.unread,
                    total: f.total,
                });
            }
        }
        self.folders = rows;
        self.folder_cursor = self.folder_cursor.min(self.folders.len().saturating_sub(1));
        self.list.total = self.folder_total();
    }

    fn folder_total(&self) -> u64 {
        self.folders
            .iter()
            .find_map(|f| match f {
                FolderRow::Folder {
                    account,
                    name,
                    total,
                    ..
                } if *account == self.list.account && *name == self.list.folder => Some(*total),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Show the folder under the folder cursor from its newest mail.
    fn open_folder(&mut self, desk: &Arc<Desk>) -> Vec<Command> {
        let Some(FolderRow::Folder { account, name, .. }) =
            self.folders.get(self.folder_cursor).cloned()
        else {
            return vec![];
        };
        self.list.account = account;
        self.list.folder = name;
        self.list.total = self.folder_total();
        self.list.rows = self.fetch_after(desk, None, self.list.height);
        self.list.cursor = 0;
        self.list.first_index = 0;
        self.selection_changed(desk)
    }

    /// The list area changed height: keep the top row, refill the window.
    pub fn resize_list(&mut self, desk: &Arc<Desk>, height: usize) -> Vec<Command> {
        let height = height.max(1);
        if height == self.list.height && !self.list.rows.is_empty() {
            return vec![];
        }
        self.list.height = height;
        self.refresh_list(desk)
    }

    /// Pull the visible rows again (after a change), keeping position.
    pub fn refresh_list(&mut self, desk: &Arc<Desk>) -> Vec<Command> {
        let selected = self.list.selected().map(|r| r.summary.id);
        let first_key = self.list.rows.first().map(|r| r.key.clone());
        let rows = match &first_key {
            Some(k) => {
                let mut rows = Vec::new();
                rows.extend(self.fetch_at(desk, k, self.list.height));
                rows
            }
            None => self.fetch_after(desk, None, self.list.height),
        };
        self.list.rows = rows;
        if self.list.rows.len() < self.list.height && self.list.first_index > 0 {
            // The window ran past the end (rows went away): pull from the end.
            self.list.rows = self.fetch_before(desk, None, self.list.height);
            self.list.first_index = self.list.total.saturating_sub(self.list.rows.len() as u64);
        }
        self.list.cursor = selected
            .and_then(|id| self.list.rows.iter().position(|r| r.summary.id == id))
            .unwrap_or(self.list.cursor)
            .min(self.list.rows.len().saturating_sub(1));
        if self.list.selected().map(|r| r.summary.id) != selected {
            return self.selection_changed(desk);
        }
        vec![]
    }

    /// Rows after `after` (exclusive), one per thread when threads are collapsed.
    fn fetch_after(&self, desk: &Arc<Desk>, after: Option<&[u8]>, n: usize) -> Vec<ListRow> {
        let l = &self.list;
        if l.collapsed {
            desk.store()
                .thread_page(&l.account, &l.folder, after, true, n)
                .unwrap_or_default()
        } else {
            desk.page(&l.account, &l.folder, after, n)
        }
    }

    fn fetch_before(&self, desk: &Arc<Desk>, before: Option<&[u8]>, n: usize) -> Vec<ListRow> {
        let l = &self.list;
        if l.collapsed {
            desk.store()
                .thread_page(&l.account, &l.folder, before, false, n)
                .unwrap_or_default()
        } else {
            desk.page_before(&l.account, &l.folder, before, n)
        }
    }

    /// Rows from `at` (inclusive).
    fn fetch_at(&self, desk: &Arc<Desk>, at: &[u8], n: usize) -> Vec<ListRow> {
        let l = &self.list;
        let mut rows: Vec<ListRow> = desk
            .store()
            .page_at(&l.account, &l.folder, at, 1)
            .unwrap_or_default();
        if l.collapsed {
            rows.retain(|r| {
                desk.store()
                    .is_thread_head(&l.account, &l.folder, r)
                    .unwrap_or(true)
            });
        }
        let more = n.saturating_sub(rows.len());
        rows.extend(self.fetch_after(desk, Some(at), more));
        rows.truncate(n);
        rows
    }

    fn selection_changed(&mut self, desk: &Arc<Desk>) -> Vec<Command> {
        let Some(row) = self.list.selected() else {
            self.reader = ReaderView {
                all_headers: self.reader.all_headers,
                show_quotes: self.reader.show_quotes,
                ..ReaderView::default()
            };
            self.records = RecordsView::default();
            return vec![];
        };
        let id = row.summary.id;
        if self.reader.id == Some(id) {
            return vec![];
        }
        self.reader.id = Some(id);
        self.reader.mail = None;
        self.reader.scroll = 0;
        self.reader.raw = false;
        self.reader.raw_text = None;
        self.records.records = desk.links_of(id);
        self.records.cursor = 0;
        vec![self.render_command(id)]
    }

    fn render_command(&self, id: u64) -> Command {
        Command::Render {
            id,
            options: RenderOptions {
                all_headers: self.reader.all_headers,
                show_quotes: self.reader.show_quotes,
                width: self.reader_width.max(20),
                ..RenderOptions::default()
            },
        }
    }

    fn move_list(&mut self, desk: &Arc<Desk>, down: bool, by: usize) -> Vec<Command> {
        for _ in 0..by {
            if down {
                if self.list.cursor + 1 < self.list.rows.len() {
                    self.list.cursor += 1;
                } else if let Some(last) = self.list.rows.last() {
                    let next = self.fetch_after(desk, Some(&last.key), 1);
                    if next.is_empty() {
                        break;
                    }
                    self.list.rows.extend(next);
                    if self.list.rows.len() > self.list.height {
                        self.list.rows.remove(0);
                        self.list.first_index += 1;
                    }
                    self.list.cursor = self.list.rows.len() - 1;
                }
            } else if self.list.cursor > 0 {
                self.list.cursor -= 1;
            } else if let Some(first) = self.list.rows.first() {
                let prev = self.fetch_before(desk, Some(&first.key), 1);
                if prev.is_empty() {
                    break;
                }
                let mut rows = prev;
                rows.append(&mut self.list.rows);
                rows.truncate(self.list.height);
                self.list.rows = rows;
                self.list.first_index = self.list.first_index.saturating_sub(1);
                self.list.cursor = 0;
            }
        }
        self.selection_changed(desk)
    }

    fn list_bottom(&mut self, desk: &Arc<Desk>) -> Vec<Command> {
        self.list.rows = self.fetch_before(desk, None, self.list.height);
        self.list.first_index = self.list.total.saturating_sub(self.list.rows.len() as u64);
        self.list.cursor = self.list.rows.len().saturating_sub(1);
        self.selection_changed(desk)
    }

    fn list_top(&mut self, desk: &Arc<Desk>) -> Vec<Command> {
        self.list.rows = self.fetch_after(desk, None, self.list.height);
        self.list.first_index = 0;
        self.list.cursor = 0;
        self.selection_changed(desk)
    }

    fn move_folder(&mut self, desk: &Arc<Desk>, down: bool) -> Vec<Command> {
        let n = self.folders.len();
        let mut i = self.folder_cursor;
        loop {
            let next = if down { i + 1 } else { i.wrapping_sub(1) };
            if next >= n {
                return vec![];
            }
            i = next;
            if matches!(self.folders[i], FolderRow::Folder { .. }) {
                break;
            }
        }
        self.folder_cursor = i;
        self.open_folder(desk)
    }

    /// A key from the terminal.
    pub fn handle_key(&mut self, desk: &Arc<Desk>, key: Key) -> Vec<Command> {
        let ctx = self.context();
        match self.keymap.lookup(ctx, &self.pending, key) {
            KeyResult::Actions(actions) => {
                self.pending.clear();
                self.hints.clear();
                let mut cmds = Vec::new();
                for a in actions {
                    cmds.extend(self.handle_action(desk, a));
                }
                cmds
            }
            KeyResult::Pending(h) => {
                self.pending.push(key);
                self.hints = h;
                vec![]
            }
            KeyResult::Unbound => {
                let was_pending = !self.pending.is_empty();
                self.pending.clear();
                self.hints.clear();
                if !was_pending {
                    return self.text_input(desk, key);
                }
                vec![]
            }
        }
    }

    /// Unbound keys in text-entry overlays are typed text.
    fn text_input(&mut self, desk: &Arc<Desk>, key: Key) -> Vec<Command> {
        use crossterm::event::KeyCode;
        match &mut self.overlay {
            Some(Overlay::Palette { input, cursor }) => {
                match key.code {
                    KeyCode::Char(c) => input.push(c),
                    KeyCode::Backspace => {
                        input.pop();
                    }
                    _ => {}
                }
                *cursor = 0;
            }
            Some(Overlay::Picker(p)) => {
                match key.code {
                    KeyCode::Char(c) => p.input.push(c),
                    KeyCode::Backspace => {
                        p.input.pop();
                    }
                    _ => {}
                }
                p.cursor = 0;
            }
            Some(Overlay::Compose(c)) => c.input(key),
            Some(Overlay::Form(f)) => f.input(key),
            Some(Overlay::Prompt(p)) => match key.code {
                KeyCode::Char(c) => p.input.push(c),
                KeyCode::Backspace => {
                    p.input.pop();
                }
                _ => {}
            },
            _ => {
                let _ = desk;
            }
        }
        vec![]
    }

    /// The palette's actions matching its input, best first.
    pub fn palette_matches(&self, input: &str) -> Vec<(Action, String)> {
        let ctx = self.focus.context();
        let items: Vec<(Action, String)> = Action::ALL
            .iter()
            .map(|a| {
                let keys = self.keymap.keys_for(ctx, *a).join(", ");
                (
                    *a,
                    format!(
                        "{} — {}{}",
                        a.name(),
                        a.describe(),
                        if keys.is_empty() {
                            String::new()
                        } else {
                            format!("  [{keys}]")
                        }
                    ),
                )
            })
            .collect();
        fuzzy_filter(input, items, |(_, label)| label.as_str())
    }

    /// Records matching the picker's input, best first.
    pub fn picker_matches<'a>(&self, p: &'a RecordPicker) -> Vec<&'a Record> {
        let items: Vec<&Record> = p.all.iter().collect();
        fuzzy_filter(&p.input, items, |r| r.name.as_str())
    }

    pub fn handle_action(&mut self, desk: &Arc<Desk>, action: Action) -> Vec<Command> {
        // Overlays first: they own the keys while open.
        if let Some(cmds) = self.overlay_action(desk, action) {
            return cmds;
        }
        match action {
            Action::Quit => {
                self.quit = true;
                vec![]
            }
            Action::Help => {
                self.overlay = Some(Overlay::Help { scroll: 0 });
                vec![]
            }
            Action::CommandPalette => {
                self.overlay = Some(Overlay::Palette {
                    input: String::new(),
                    cursor: 0,
                });
                vec![]
            }
            Action::Suspend => {
                self.suspend = true;
                vec![]
            }
            Action::FocusNext => {
                self.focus = self.focus.step(true);
                vec![]
            }
            Action::FocusPrev => {
                self.focus = self.focus.step(false);
                vec![]
            }
            Action::FocusFolders => {
                self.focus = Focus::Folders;
                vec![]
            }
            Action::FocusList => {
                self.focus = Focus::List;
                vec![]
            }
            Action::FocusReader => {
                self.focus = Focus::Reader;
                self.mark_read(desk)
            }
            Action::FocusRecords => {
                self.focus = Focus::Records;
                vec![]
            }
            Action::MoveDown | Action::MoveUp => {
                let down = action == Action::MoveDown;
                match self.focus {
                    Focus::Folders => self.move_folder(desk, down),
                    Focus::List => self.move_list(desk, down, 1),
                    Focus::Reader => {
                        self.scroll_reader(down, 1);
                        vec![]
                    }
                    Focus::Records => {
                        let n = self.records.records.len();
                        if down && self.records.cursor + 1 < n {
                            self.records.cursor += 1;
                        } else if !down && self.records.cursor > 0 {
                            self.records.cursor -= 1;
                        }
                        vec![]
                    }
                }
            }
            Action::ScrollDown | Action::ScrollUp => {
                self.scroll_reader(action == Action::ScrollDown, 1);
                vec![]
            }
            Action::PageDown | Action::PageUp => {
                let down = action == Action::PageDown;
                match self.focus {
                    Focus::Reader => {
                        self.scroll_reader(down, 10);
                        vec![]
                    }
                    _ => {
                        let h = self.list.height.max(1);
                        self.move_list(desk, down, h)
                    }
                }
            }
            Action::GoTop => match self.focus {
                Focus::Reader => {
                    self.reader.scroll = 0;
                    vec![]
                }
                _ => self.list_top(desk),
            },
            Action::GoBottom => match self.focus {
                Focus::Reader => {
                    self.reader.scroll = usize::MAX / 2;
                    vec![]
                }
                _ => self.list_bottom(desk),
            },
            Action::Open => match self.focus {
                Focus::Folders => {
                    self.focus = Focus::List;
                    vec![]
                }
                Focus::List => {
                    self.focus = Focus::Reader;
                    self.mark_read(desk)
                }
                Focus::Records => {
                    self.open_record(desk);
                    vec![]
                }
                Focus::Reader => vec![],
            },
            Action::Back => {
                self.focus = match self.focus {
                    Focus::Reader | Focus::Records => Focus::List,
                    _ => Focus::Folders,
                };
                vec![]
            }
            Action::ToggleHeaders => {
                self.reader.all_headers = !self.reader.all_headers;
                self.rerender()
            }
            Action::ToggleQuotes => {
                self.reader.show_quotes = !self.reader.show_quotes;
                self.rerender()
            }
            Action::RawSource => {
                self.reader.raw = !self.reader.raw;
                self.reader.scroll = 0;
                if self.reader.raw
                    && let Some(id) = self.reader.id
                {
                    self.reader.raw_text = desk.store().body(id).ok().flatten().map(|b| {
                        crate::mail::render::raw_source(&b)
                            .lines()
                            .map(str::to_string)
                            .collect()
                    });
                }
                vec![]
            }
            Action::ToggleRead => self.toggle_flag(flags::SEEN),
            Action::ToggleFlag => self.toggle_flag(flags::FLAGGED),
            Action::LinkRecord => {
                let Some(row) = self.list.selected() else {
                    return vec![];
                };
                let mut all = Vec::new();
                for kind in RecordKind::ALL {
                    all.extend(desk.records(kind));
                }
                self.overlay = Some(Overlay::Picker(Box::new(RecordPicker {
                    input: String::new(),
                    all,
                    cursor: 0,
                    message: row.summary.id,
                })));
                vec![]
            }
            Action::UnlinkRecord => {
                let (Some(id), Some(r)) = (
                    self.reader.id,
                    self.records.records.get(self.records.cursor),
                ) else {
                    self.notice("Select a linked record in the records pane to unlink it.");
                    return vec![];
                };
                vec![Command::Unlink {
                    id,
                    record: r.reference(),
                }]
            }
            Action::Compose | Action::Reply | Action::ReplyAll | Action::Forward => {
                let base = self.reader.id.and_then(|id| desk.summary(id));
                match ComposeState::start(desk, action, base.as_ref()) {
                    Ok(c) => self.overlay = Some(Overlay::Compose(Box::new(c))),
                    Err(msg) => self.error(msg),
                }
                vec![]
            }
            Action::SyncNow => vec![Command::SyncNow],
            Action::SaveAttachment | Action::SaveAllAttachments | Action::PipePart => {
                let Some(id) = self.reader.id else {
                    self.notice("Select a mail first.");
                    return vec![];
                };
                let n = self
                    .reader
                    .mail
                    .as_ref()
                    .map(|m| m.attachments.len())
                    .unwrap_or(0);
                match action {
                    Action::SaveAllAttachments => {
                        vec![Command::SaveAttachments { id, index: None }]
                    }
                    Action::SaveAttachment if n == 0 => {
                        self.notice("This mail has no attachments.");
                        vec![]
                    }
                    Action::SaveAttachment if n == 1 => {
                        vec![Command::SaveAttachments { id, index: Some(1) }]
                    }
                    Action::SaveAttachment => {
                        self.overlay = Some(Overlay::Prompt(Box::new(Prompt {
                            label: format!("Save attachment number (1–{n}):"),
                            input: String::new(),
                            purpose: PromptPurpose::SaveAttachment { id },
                        })));
                        vec![]
                    }
                    _ => {
                        self.overlay = Some(Overlay::Prompt(Box::new(Prompt {
                            label: "Pipe to command (start with an attachment number to pipe that part):".into(),
                            input: String::new(),
                            purpose: PromptPurpose::PipePart { id },
                        })));
                        vec![]
                    }
                }
            }
            Action::MoveToFolder => {
                let Some(row) = self.list.selected() else {
                    return vec![];
                };
                self.overlay = Some(Overlay::Prompt(Box::new(Prompt {
                    label: format!("Move to folder of {}:", self.list.account),
                    input: String::new(),
                    purpose: PromptPurpose::MoveTo {
                        id: row.summary.id,
                        account: self.list.account.clone(),
                        folder: self.list.folder.clone(),
                    },
                })));
                vec![]
            }
            Action::Outbox => {
                self.overlay = Some(Overlay::Outbox {
                    cursor: 0,
                    entries: desk.outbox_entries(),
                });
                vec![]
            }
            Action::CreateContact
            | Action::CreateLead
            | Action::CreateCase
            | Action::CreateTask => {
                let Some(row) = self.list.selected() else {
                    self.notice("Select a mail first.");
                    return vec![];
                };
                let kind = match action {
                    Action::CreateContact => RecordKind::Contact,
                    Action::CreateLead => RecordKind::Lead,
                    Action::CreateCase => RecordKind::Case,
                    _ => RecordKind::Task,
                };
                vec![Command::CreateFromMail {
                    id: row.summary.id,
                    kind,
                }]
            }
            Action::Delete | Action::Archive if self.focus != Focus::Records => {
                let Some(row) = self.list.selected() else {
                    return vec![];
                };
                let (id, account, folder) = (
                    row.summary.id,
                    self.list.account.clone(),
                    self.list.folder.clone(),
                );
                vec![if action == Action::Delete {
                    Command::Trash {
                        id,
                        account,
                        folder,
                    }
                } else {
                    Command::MoveTo {
                        id,
                        account,
                        folder,
                        to: None,
                    }
                }]
            }
            Action::Notifications => {
                self.overlay = Some(Overlay::Notifications {
                    cursor: 0,
                    items: desk.notifications(),
                });
                vec![]
            }
            Action::RecordTrash => {
                self.overlay = Some(Overlay::Trash {
                    cursor: 0,
                    items: desk.deleted_records(),
                });
                vec![]
            }
            Action::EditRecord | Action::FollowRecord | Action::Delete
                if self.focus == Focus::Records =>
            {
                let Some(r) = self.records.records.get(self.records.cursor).cloned() else {
                    self.notice("No record selected.");
                    return vec![];
                };
                self.record_action(action, r)
            }
            Action::ToggleThread => {
                self.list.collapsed = !self.list.collapsed;
                self.notice(if self.list.collapsed {
                    "Threads collapsed: one line per conversation."
                } else {
                    "Threads expanded."
                });
                self.list_top(desk)
            }
            Action::NextInThread | Action::PrevInThread => {
                self.step_thread(desk, action == Action::NextInThread)
            }
            other => {
                self.notice(format!(
                    "{} is not available on this desk yet.",
                    other.describe()
                ));
                vec![]
            }
        }
    }

    fn overlay_action(&mut self, desk: &Arc<Desk>, action: Action) -> Option<Vec<Command>> {
        let overlay = self.overlay.as_mut()?;
        match overlay {
            Overlay::Help { scroll } => match action {
                Action::MoveDown | Action::ScrollDown => *scroll += 1,
                Action::MoveUp | Action::ScrollUp => *scroll = scroll.saturating_sub(1),
                Action::PageDown => *scroll += 10,
                Action::PageUp => *scroll = scroll.saturating_sub(10),
                Action::Quit => self.quit = true,
                _ => self.overlay = None,
            },
            Overlay::Palette { input, cursor } => match action {
                Action::MoveDown | Action::NextField => *cursor += 1,
                Action::MoveUp | Action::PrevField => *cursor = cursor.saturating_sub(1),
                Action::Open => {
                    let input = input.clone();
                    let at = *cursor;
                    self.overlay = None;
                    let picked = self.palette_matches(&input).get(at).map(|(a, _)| *a);
                    return Some(match picked {
                        Some(a) => self.handle_action(desk, a),
                        None => vec![],
                    });
                }
                Action::Back | Action::Cancel | Action::Quit => self.overlay = None,
                _ => {}
            },
            Overlay::Picker(p) => match action {
                Action::MoveDown | Action::NextField => p.cursor += 1,
                Action::MoveUp | Action::PrevField => p.cursor = p.cursor.saturating_sub(1),
                Action::Open => {
                    let msg = p.message;
                    let picked = {
                        let p = match &self.overlay {
                            Some(Overlay::Picker(p)) => p,
                            _ => return Some(vec![]),
                        };
                        self.picker_matches(p)
                            .get(p.cursor)
                            .map(|r| (r.reference(), r.title()))
                    };
                    self.overlay = None;
                    return Some(match picked {
                        Some((r, title)) => {
                            self.notice(format!("Linked to {title}"));
                            vec![Command::Link { id: msg, record: r }]
                        }
                        None => vec![],
                    });
                }
                Action::Back | Action::Cancel | Action::Quit => self.overlay = None,
                _ => {}
            },
            Overlay::Record(card)
                if matches!(
                    action,
                    Action::EditRecord | Action::FollowRecord | Action::Delete
                ) =>
            {
                let r = card.record.clone();
                self.overlay = None;
                return Some(self.record_action(action, r));
            }
            Overlay::Form(f) => match action {
                Action::NextField => f.next(true),
                Action::PrevField => f.next(false),
                Action::Send | Action::Open => {
                    return Some(match f.validated() {
                        Some(record) => {
                            self.overlay = None;
                            vec![Command::SaveRecord {
                                record: Box::new(record),
                            }]
                        }
                        None => {
                            self.error("Fix the fields marked in the form.");
                            vec![]
                        }
                    });
                }
                Action::Cancel | Action::Back => {
                    self.overlay = None;
                    self.notice("Not saved.");
                }
                _ => {}
            },
            Overlay::Notifications { cursor, items } => match action {
                Action::MoveDown => *cursor = (*cursor + 1).min(items.len().saturating_sub(1)),
                Action::MoveUp => *cursor = cursor.saturating_sub(1),
                Action::Open => {
                    if let Some(n) = items.get(*cursor) {
                        return Some(vec![Command::NotificationRead { id: n.id }]);
                    }
                }
                Action::Quit => self.quit = true,
                Action::Back | Action::Notifications => self.overlay = None,
                _ => {}
            },
            Overlay::Drafts { cursor, items } => match action {
                Action::MoveDown => *cursor = (*cursor + 1).min(items.len().saturating_sub(1)),
                Action::MoveUp => *cursor = cursor.saturating_sub(1),
                Action::Open => {
                    let Some(d) = items.get(*cursor).cloned() else {
                        return Some(vec![]);
                    };
                    let settings = ComposeState::settings();
                    self.overlay = Some(Overlay::Compose(Box::new(ComposeState::from_draft(
                        desk, &d, &settings,
                    ))));
                }
                Action::Delete => {
                    if let Some(d) = items.get(*cursor) {
                        let _ = desk.store().delete_draft(d.id);
                        items.remove(*cursor);
                        *cursor = (*cursor).min(items.len().saturating_sub(1));
                        if items.is_empty() {
                            self.overlay = None;
                        }
                    }
                }
                Action::Quit => self.quit = true,
                Action::Back => self.overlay = None,
                _ => {}
            },
            Overlay::Trash { cursor, items } => match action {
                Action::MoveDown => *cursor = (*cursor + 1).min(items.len().saturating_sub(1)),
                Action::MoveUp => *cursor = cursor.saturating_sub(1),
                Action::Open => {
                    if let Some(r) = items.get(*cursor) {
                        let r = r.reference();
                        self.overlay = None;
                        return Some(vec![Command::RestoreRecord { record: r }]);
                    }
                }
                Action::Quit => self.quit = true,
                Action::Back | Action::RecordTrash => self.overlay = None,
                _ => {}
            },
            Overlay::Record(card) => match action {
                Action::MoveDown => {
                    card.cursor = (card.cursor + 1).min(card.history.len().saturating_sub(1))
                }
                Action::MoveUp => card.cursor = card.cursor.saturating_sub(1),
                Action::Quit => self.quit = true,
                Action::Back | Action::Cancel | Action::Open => self.overlay = None,
                _ => {}
            },
            Overlay::Prompt(p) => match action {
                Action::Open => {
                    let p = (**p).clone();
                    self.overlay = None;
                    return Some(self.answer_prompt(p));
                }
                Action::Back | Action::Cancel => self.overlay = None,
                _ => {}
            },
            Overlay::Outbox { cursor, entries } => match action {
                Action::MoveDown => *cursor = (*cursor + 1).min(entries.len().saturating_sub(1)),
                Action::MoveUp => *cursor = cursor.saturating_sub(1),
                Action::GoTop => *cursor = 0,
                Action::GoBottom => *cursor = entries.len().saturating_sub(1),
                Action::Send | Action::SyncNow => {
                    if let Some(e) = entries.get(*cursor) {
                        return Some(vec![Command::RetryNow { entry: e.id }]);
                    }
                }
                Action::Delete | Action::Cancel => {
                    if let Some(e) = entries.get(*cursor) {
                        return Some(vec![Command::CancelOutgoing { entry: e.id }]);
                    }
                }
                Action::Quit => self.quit = true,
                Action::Back | Action::Outbox => self.overlay = None,
                _ => {}
            },
            Overlay::Compose(c) => {
                let (close, cmds, msg) = c.action(desk, action);
                if let Some((m, is_err)) = msg {
                    self.status.message = Some((m, is_err));
                }
                if close {
                    self.overlay = None;
                }
                return Some(cmds);
            }
        }
        Some(vec![])
    }

    fn record_action(&mut self, action: Action, r: Record) -> Vec<Command> {
        match action {
            Action::EditRecord => {
                self.overlay = Some(Overlay::Form(Box::new(crate::tui::form::RecordForm::edit(
                    r,
                ))));
                vec![]
            }
            Action::FollowRecord => vec![Command::ToggleFollow {
                record: r.reference(),
            }],
            _ => vec![Command::DeleteRecord {
                record: r.reference(),
            }],
        }
    }

    fn answer_prompt(&mut self, p: Prompt) -> Vec<Command> {
        let input = p.input.trim().to_string();
        if input.is_empty() {
            return vec![];
        }
        match p.purpose {
            PromptPurpose::SaveAttachment { id } => match input.parse::<usize>() {
                Ok(i) if i >= 1 => vec![Command::SaveAttachments { id, index: Some(i) }],
                _ => {
                    self.error(format!("\"{input}\" is not an attachment number."));
                    vec![]
                }
            },
            PromptPurpose::PipePart { id } => {
                let (index, command) = match input.split_once(' ') {
                    Some((n, rest)) if n.parse::<usize>().is_ok() => {
                        (n.parse::<usize>().ok(), rest.trim().to_string())
                    }
                    _ => (None, input),
                };
                vec![Command::PipePart { id, index, command }]
            }
            PromptPurpose::MoveTo {
                id,
                account,
                folder,
            } => {
                let known = self.folders.iter().any(|f| {
                    matches!(f, FolderRow::Folder { account: a, name, .. } if *a == account && *name == input)
                });
                if !known {
                    self.error(format!("{account} has no folder \"{input}\"."));
                    return vec![];
                }
                vec![Command::MoveTo {
                    id,
                    account,
                    folder,
                    to: Some(input),
                }]
            }
        }
    }

    fn open_record(&mut self, desk: &Arc<Desk>) {
        let Some(r) = self.records.records.get(self.records.cursor).cloned() else {
            return;
        };
        let mut related: Vec<Record> = r
            .parent
            .iter()
            .chain(r.related.iter())
            .filter_map(|x| desk.record(*x))
            .collect();
        related.extend(desk.store().children_of(r.reference()).unwrap_or_default());
        let history = desk.history(&r);
        self.overlay = Some(Overlay::Record(Box::new(RecordCard {
            record: r,
            related,
            history,
            cursor: 0,
        })));
    }

    fn rerender(&mut self) -> Vec<Command> {
        match self.reader.id {
            Some(id) => vec![self.render_command(id)],
            None => vec![],
        }
    }

    fn scroll_reader(&mut self, down: bool, by: usize) {
        if down {
            self.reader.scroll = self.reader.scroll.saturating_add(by);
        } else {
            self.reader.scroll = self.reader.scroll.saturating_sub(by);
        }
    }

    fn toggle_flag(&mut self, flag: u8) -> Vec<Command> {
        let Some(row) = self.list.selected() else {
            return vec![];
        };
        let has = row.entry.flags & flag != 0;
        vec![Command::SetFlags {
            id: row.summary.id,
            account: self.list.account.clone(),
            folder: self.list.folder.clone(),
            add: if has { 0 } else { flag },
            remove: if has { flag } else { 0 },
        }]
    }

    fn mark_read(&mut self, _desk: &Arc<Desk>) -> Vec<Command> {
        match self.list.selected() {
            Some(row) if row.entry.flags & flags::SEEN == 0 => vec![Command::SetFlags {
                id: row.summary.id,
                account: self.list.account.clone(),
                folder: self.list.folder.clone(),
                add: flags::SEEN,
                remove: 0,
            }],
            _ => vec![],
        }
    }

    /// Move to the next/previous mail of the same thread within the window.
    fn step_thread(&mut self, desk: &Arc<Desk>, next: bool) -> Vec<Command> {
        let Some(tid) = self.list.selected().map(|r| r.summary.thread_id) else {
            return vec![];
        };
        let idx: Vec<usize> = (0..self.list.rows.len())
            .filter(|i| self.list.rows[*i].summary.thread_id == tid)
            .collect();
        let pos = idx.iter().position(|i| *i == self.list.cursor).unwrap_or(0);
        let target = if next {
            idx.get(pos + 1)
        } else {
            pos.checked_sub(1).and_then(|p| idx.get(p))
        };
        match target {
            Some(t) => {
                self.list.cursor = *t;
                self.selection_changed(desk)
            }
            None => {
                self.notice("No more mail of this thread on screen.");
                vec![]
            }
        }
    }

    /// An event from the desk.
    pub fn handle_event(&mut self, desk: &Arc<Desk>, event: Event) -> Vec<Command> {
        match event {
            Event::FolderChanged { account, folder } => {
                self.reload_folders(desk);
                if account == self.list.account && folder == self.list.folder {
                    return self.refresh_list(desk);
                }
                vec![]
            }
            Event::Rendered { id, mail } => {
                if self.reader.id == Some(id) {
                    self.reader.mail = Some(mail);
                }
                vec![]
            }
            Event::LinksChanged { id } => {
                if self.reader.id == Some(id) {
                    self.records.records = desk.links_of(id);
                    self.records.cursor = self
                        .records
                        .cursor
                        .min(self.records.records.len().saturating_sub(1));
                }
                vec![]
            }
            Event::Sync { account, state } => {
                if let SyncState::Error(e) = &state {
                    self.error(format!("{account}: {e}"));
                }
                self.status.sync.insert(account, state);
                vec![]
            }
            Event::NewMail {
                account,
                folder,
                count,
            } => {
                self.status.new_mail += count;
                self.bell = true;
                self.notice(format!("{count} new mail in {account}/{folder}"));
                self.reload_folders(desk);
                if account == self.list.account && folder == self.list.folder {
                    return self.refresh_list(desk);
                }
                vec![]
            }
            Event::RecordsChanged => {
                if let Some(id) = self.reader.id {
                    self.records.records = desk.links_of(id);
                    self.records.cursor = self
                        .records
                        .cursor
                        .min(self.records.records.len().saturating_sub(1));
                }
                match &mut self.overlay {
                    Some(Overlay::Notifications { items, cursor }) => {
                        *items = desk.notifications();
                        *cursor = (*cursor).min(items.len().saturating_sub(1));
                    }
                    Some(Overlay::Trash { items, cursor }) => {
                        *items = desk.deleted_records();
                        *cursor = (*cursor).min(items.len().saturating_sub(1));
                    }
                    _ => {}
                }
                vec![]
            }
            Event::OutboxChanged => {
                if let Some(Overlay::Outbox { entries, cursor }) = &mut self.overlay {
                    *entries = desk.outbox_entries();
                    *cursor = (*cursor).min(entries.len().saturating_sub(1));
                }
                vec![]
            }
            Event::Error(e) => {
                self.error(e);
                vec![]
            }
            Event::Notice(n) => {
                self.notice(n);
                vec![]
            }
        }
    }
}

/// Fuzzy-rank `items` by `key` against `pattern` (all items when empty).
pub fn fuzzy_filter<T>(pattern: &str, items: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<T> {
    use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
    use nucleo_matcher::{Config, Matcher, Utf32Str};
    if pattern.trim().is_empty() {
        return items;
    }
    let mut matcher = Matcher::new(Config::DEFAULT);
    let pat = Pattern::parse(pattern, CaseMatching::Ignore, Normalization::Smart);
    let mut buf = Vec::new();
    let mut scored: Vec<(u32, T)> = items
        .into_iter()
        .filter_map(|it| {
            let s = pat.score(Utf32Str::new(key(&it), &mut buf), &mut matcher)?;
            Some((s, it))
        })
        .collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    scored.into_iter().map(|(_, t)| t).collect()
}
