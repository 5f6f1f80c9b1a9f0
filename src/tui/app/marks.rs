//! Marked mails of the open folder and the actions that then apply to all
//! of them at once: each is one desk command carrying the marked ids.

use super::{App, Focus, LineInput, Overlay, Prompt, PromptPurpose, RecordPicker};
use crate::protocol::{Command, DeskClient, PageFrom, PageQuery};
use crate::store::{RecordKind, flags};
use crate::tui::action::Action;

impl App {
    /// `toggle_mark`, `mark_thread`, `mark_all`, `clear_marks`.
    pub(super) fn marks_action(&mut self, desk: &dyn DeskClient, action: Action) -> Vec<Command> {
        match action {
            Action::ToggleMark => {
                let Some(row) = self.list.selected() else {
                    return vec![];
                };
                let (id, f) = (row.summary.id, row.entry.flags);
                if self.list.marks.remove(&id).is_none() {
                    self.list.marks.insert(id, f);
                }
                self.move_list(desk, true, 1)
            }
            Action::MarkThread => {
                let Some(tid) = self.list.selected().map(|r| r.summary.thread_id) else {
                    return vec![];
                };
                let thread: Vec<(u64, u8)> = self
                    .list
                    .rows
                    .iter()
                    .filter(|r| r.summary.thread_id == tid)
                    .map(|r| (r.summary.id, r.entry.flags))
                    .collect();
                let all_marked = thread
                    .iter()
                    .all(|(id, _)| self.list.marks.contains_key(id));
                for (id, f) in thread {
                    if all_marked {
                        self.list.marks.remove(&id);
                    } else {
                        self.list.marks.insert(id, f);
                    }
                }
                vec![]
            }
            Action::MarkAll => {
                let q = PageQuery {
                    account: self.list.account.clone(),
                    folder: self.list.folder.clone(),
                    from: PageFrom::After,
                    cursor: None,
                    n: usize::try_from(self.list.total)
                        .unwrap_or(usize::MAX)
                        .max(1),
                    collapsed: false,
                };
                let rows = desk.page(&q);
                for r in self.ask(rows) {
                    self.list.marks.insert(r.summary.id, r.entry.flags);
                }
                self.notice(format!("{} marked.", self.list.marks.len()));
                vec![]
            }
            _ => {
                self.list.marks.clear();
                vec![]
            }
        }
    }

    /// An action on every marked mail; `None` when it does not apply to marks.
    pub(super) fn bulk_action(&mut self, action: Action) -> Option<Vec<Command>> {
        let ids: Vec<u64> = self.list.marks.keys().copied().collect();
        let (account, folder) = (self.list.account.clone(), self.list.folder.clone());
        let cmd = match action {
            Action::Archive | Action::Delete if self.focus != Focus::Records => {
                self.list.marks.clear();
                if action == Action::Archive {
                    Command::MoveMany {
                        ids,
                        account,
                        folder,
                        to: None,
                    }
                } else {
                    Command::TrashMany {
                        ids,
                        account,
                        folder,
                    }
                }
            }
            Action::ToggleRead | Action::ToggleFlag => {
                let flag = if action == Action::ToggleRead {
                    flags::SEEN
                } else {
                    flags::FLAGGED
                };
                // Any mail without it: give it to all; else take it from all.
                let add = self.list.marks.values().any(|f| f & flag == 0);
                for f in self.list.marks.values_mut() {
                    *f = if add { *f | flag } else { *f & !flag };
                }
                Command::SetFlagsMany {
                    ids,
                    account,
                    folder,
                    add: if add { flag } else { 0 },
                    remove: if add { 0 } else { flag },
                }
            }
            Action::MoveToFolder => {
                self.overlay = Some(Overlay::Prompt(Box::new(Prompt {
                    label: format!(
                        "Move {} marked mails to folder of {account} (Tab: next folder):",
                        ids.len()
                    ),
                    input: LineInput::default(),
                    purpose: PromptPurpose::MoveMarked {
                        ids,
                        account,
                        folder,
                    },
                })));
                return Some(vec![]);
            }
            Action::CreateCase => Command::CreateCaseFromMails { ids },
            _ => return None,
        };
        Some(vec![cmd])
    }

    /// The record picker for linking every marked mail.
    pub(super) fn link_marked(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        let ids: Vec<u64> = self.list.marks.keys().copied().collect();
        let Some(first) = ids.first().copied() else {
            return vec![];
        };
        let mut all = Vec::new();
        for kind in RecordKind::ALL {
            let records = desk.records(kind);
            all.extend(self.ask(records));
        }
        let mut picker = RecordPicker::new(all, first);
        picker.marked = ids;
        self.overlay = Some(Overlay::Picker(Box::new(picker)));
        vec![]
    }
}
