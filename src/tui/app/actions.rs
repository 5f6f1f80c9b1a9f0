//! What a bound action does outside overlays: focus, navigation, reading,
//! flags, linking, composing and opening the overlays.

use super::{
    App, Focus, LineInput, Overlay, PickList, Prompt, PromptPurpose, RecordCard, RecordPicker,
};
use crate::protocol::{Command, DeskClient};
use crate::store::{Record, RecordKind, flags};
use crate::tui::action::Action;
use crate::tui::compose::ComposeState;

impl App {
    pub fn handle_action(&mut self, desk: &dyn DeskClient, action: Action) -> Vec<Command> {
        // Overlays first: they own the keys while open.
        if let Some(cmds) = self.overlay_action(desk, action) {
            return cmds;
        }
        if let Some(cmds) = self.search_action(desk, action) {
            return cmds;
        }
        if let Some(cmds) = self.folder_action(desk, action) {
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
                let matches = PickList::new(self.palette_matches(""));
                self.overlay = Some(Overlay::Palette {
                    input: LineInput::default(),
                    matches,
                });
                vec![]
            }
            Action::Suspend => {
                self.suspend = true;
                vec![]
            }
            Action::Accounts => {
                self.open_accounts(desk);
                vec![]
            }
            Action::Filters => {
                self.open_filters(desk);
                vec![]
            }
            Action::Cases | Action::CasesMine => self.open_cases(desk, super::CaseTab::Mine, None),
            Action::CasesTeam => self.open_cases(desk, super::CaseTab::Team, None),
            Action::CasesUnassigned => self.open_cases(desk, super::CaseTab::Unassigned, None),
            Action::FilterStatus
            | Action::TakeCase
            | Action::AssignCase
            | Action::SetCaseStatus
            | Action::CloseCase => {
                self.notice("That acts on the case queue: open it first (cases, K).");
                vec![]
            }
            Action::Dashboard => self.open_dashboard(desk),
            Action::Outbox => {
                let entries = desk.outbox_entries();
                let entries = self.ask(entries);
                self.overlay = Some(Overlay::Outbox(PickList::new(entries)));
                vec![]
            }
            Action::Notifications => {
                let items = desk.notifications();
                let items = self.ask(items);
                self.overlay = Some(Overlay::Notifications(PickList::new(items)));
                vec![]
            }
            Action::RecordTrash => {
                let items = desk.deleted_records();
                let items = self.ask(items);
                self.overlay = Some(Overlay::Trash(PickList::new(items)));
                vec![]
            }
            Action::FocusNext
            | Action::FocusPrev
            | Action::FocusFolders
            | Action::FocusList
            | Action::FocusReader
            | Action::FocusRecords
            | Action::MoveDown
            | Action::MoveUp
            | Action::ScrollDown
            | Action::ScrollUp
            | Action::PageDown
            | Action::PageUp
            | Action::GoTop
            | Action::GoBottom
            | Action::Open
            | Action::Back
            | Action::ToggleThread
            | Action::NextInThread
            | Action::PrevInThread => self.navigate(desk, action),
            Action::ToggleMark | Action::MarkThread | Action::MarkAll | Action::ClearMarks => {
                self.marks_action(desk, action)
            }
            Action::Undo => vec![Command::Undo],
            Action::Snooze => self.ask_snooze(),
            Action::NextUnread => self.next_unread(desk),
            Action::MarkFolderRead => self.mark_folder_read(desk),
            Action::ViewAll
            | Action::ViewUnread
            | Action::ViewFlagged
            | Action::ViewUnlinked
            | Action::ViewWaiting => match super::View::of(action) {
                Some(v) => self.set_view(desk, v),
                None => vec![],
            },
            Action::LinkRecord if !self.list.marks.is_empty() => self.link_marked(desk),
            _ if !self.list.marks.is_empty() => match self.bulk_action(action) {
                Some(cmds) => cmds,
                None => self.mail_action(desk, action),
            },
            _ => self.mail_action(desk, action),
        }
    }

    /// Focus, cursor and scroll movement in the panes.
    fn navigate(&mut self, desk: &dyn DeskClient, action: Action) -> Vec<Command> {
        match action {
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
            _ => vec![],
        }
    }

    /// What acts on the selected mail or record.
    fn mail_action(&mut self, desk: &dyn DeskClient, action: Action) -> Vec<Command> {
        match action {
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
                    let raw = desk.raw_source(id);
                    self.reader.raw_text = self
                        .ask(raw)
                        .map(|t| t.lines().map(str::to_string).collect());
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
                let id = row.summary.id;
                for kind in RecordKind::ALL {
                    let records = desk.records(kind);
                    all.extend(self.ask(records));
                }
                self.overlay = Some(Overlay::Picker(Box::new(RecordPicker::new(all, id))));
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
                let base = match self.reader.id {
                    Some(id) => {
                        let s = desk.summary(id);
                        self.ask(s)
                    }
                    None => None,
                };
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
                            input: LineInput::default(),
                            purpose: PromptPurpose::SaveAttachment { id },
                        })));
                        vec![]
                    }
                    _ => {
                        self.overlay = Some(Overlay::Prompt(Box::new(Prompt {
                            label: "Pipe to command (start with an attachment number to pipe that part):".into(),
                            input: LineInput::default(),
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
                    label: format!(
                        "Move to folder of {} (Tab: next folder):",
                        self.list.account
                    ),
                    input: LineInput::default(),
                    purpose: PromptPurpose::MoveTo {
                        id: row.summary.id,
                        account: self.list.account.clone(),
                        folder: self.list.folder.clone(),
                    },
                })));
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
            Action::EditRecord | Action::FollowRecord | Action::Delete
                if self.focus == Focus::Records =>
            {
                let Some(r) = self.records.records.get(self.records.cursor).cloned() else {
                    self.notice("No record selected.");
                    return vec![];
                };
                self.record_action(action, r)
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

    pub(super) fn record_action(&mut self, action: Action, r: Record) -> Vec<Command> {
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

    pub(super) fn answer_prompt(&mut self, desk: &dyn DeskClient, p: Prompt) -> Vec<Command> {
        let input = p.input.as_str().trim().to_string();
        if input.is_empty() {
            return vec![];
        }
        match p.purpose {
            purpose @ (PromptPurpose::CreateFolder { .. }
            | PromptPurpose::RenameFolder { .. }
            | PromptPurpose::DeleteFolder { .. }) => self.answer_folder_prompt(&input, purpose),
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
            PromptPurpose::Snooze {
                ids,
                account,
                folder,
            } => self.answer_snooze(&input, ids, account, folder),
            PromptPurpose::MoveMarked {
                ids,
                account,
                folder,
            } => {
                if !self.move_targets(desk, &account).contains(&input) {
                    self.no_such_folder(&account, &input);
                    return vec![];
                }
                self.list.marks.clear();
                vec![Command::MoveMany {
                    ids,
                    account,
                    folder,
                    to: Some(input),
                }]
            }
            PromptPurpose::MoveTo {
                id,
                account,
                folder,
            } => {
                if !self.move_targets(desk, &account).contains(&input) {
                    self.no_such_folder(&account, &input);
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

    fn no_such_folder(&mut self, account: &str, input: &str) {
        self.error(format!(
            "{} has no folder \"{}\"; Tab offers its folders, or create one in the folder pane.",
            crate::mail::sanitize::sanitize_line(account),
            crate::mail::sanitize::sanitize_line(input)
        ));
    }

    pub(super) fn open_record(&mut self, desk: &dyn DeskClient) {
        let Some(r) = self.records.records.get(self.records.cursor).cloned() else {
            return;
        };
        let mut related: Vec<Record> = Vec::new();
        for x in r.parent.iter().chain(r.related.iter()) {
            let found = desk.record(*x);
            related.extend(self.ask(found));
        }
        let children = desk.children_of(r.reference());
        related.extend(self.ask(children));
        let history = desk.history(&r);
        let history = self.ask(history);
        self.overlay = Some(Overlay::Record(Box::new(RecordCard {
            record: r,
            related,
            history,
            cursor: 0,
        })));
    }

    pub(super) fn rerender(&mut self) -> Vec<Command> {
        match self.reader.id {
            Some(id) => vec![self.render_command(id)],
            None => vec![],
        }
    }

    pub(super) fn scroll_reader(&mut self, down: bool, by: usize) {
        if down {
            self.reader.scroll = self.reader.scroll.saturating_add(by);
        } else {
            self.reader.scroll = self.reader.scroll.saturating_sub(by);
        }
    }

    pub(super) fn toggle_flag(&mut self, flag: u8) -> Vec<Command> {
        let Some(row) = self.list.selected() else {
            return vec![];
        };
        let has = row.entry.flags & flag != 0;
        // The many-mail form, so the agent can undo it (opening a mail cannot).
        vec![Command::SetFlagsMany {
            ids: vec![row.summary.id],
            account: self.list.account.clone(),
            folder: self.list.folder.clone(),
            add: if has { 0 } else { flag },
            remove: if has { flag } else { 0 },
        }]
    }

    pub(super) fn mark_read(&mut self, _desk: &dyn DeskClient) -> Vec<Command> {
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
}
