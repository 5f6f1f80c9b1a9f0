//! The interface state and its update function. `App::handle_*` change state
//! and return `Command`s for the desk; they never draw and never block.
//! Rows are pulled from the desk only for the window on screen.

mod accounts;
mod actions;
mod cases;
mod events;
mod filters;
mod folders;
mod list;
mod marks;
mod overlays;
mod pieces;
mod search;
mod snooze;
mod state;
mod unread;
mod views;

pub use accounts::{AccountForm, AccountsScreen};
pub use cases::{
    CasePicker, CaseTab, CasesScreen, DashboardScreen, PickPurpose, STATUSES, StatusFilter,
};
pub use events::fuzzy_filter;
pub use filters::FiltersScreen;
pub use pieces::{LineInput, PickList, StatusMessage};
pub use search::{DEBOUNCE as SEARCH_DEBOUNCE, SearchLine, SearchResults};
pub use snooze::snooze_until;
pub use state::*;

use crate::mail::format::Clock;
use crate::protocol::{Command, DeskClient, DeskResult};
use crate::store::Record;
use crate::tui::action::Action;
use crate::tui::keymap::{Context, Hint, Key, KeyResult, Keymap};

/// The whole screen state; see the sibling modules for what changes it.
pub struct App {
    /// The time zone dates are drawn in and what counts as now.
    pub clock: Clock,
    pub focus: Focus,
    pub folders: Vec<FolderRow>,
    pub folder_cursor: usize,
    /// A folder just created or renamed: the cursor goes to it once listed.
    pub folder_wanted: Option<(String, String)>,
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
    /// The config.toml the accounts screen saves to; `None` on the demo desk.
    pub config_file: Option<std::path::PathBuf>,
    /// The queue a case's mails were opened from, for Esc to return to.
    pub cases_back: Option<Box<CasesScreen>>,
}

impl App {
    pub fn new(keymap: Keymap) -> App {
        App {
            clock: Clock::local(),
            focus: Focus::List,
            folders: vec![],
            folder_cursor: 0,
            folder_wanted: None,
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
            config_file: None,
            cases_back: None,
        }
    }

    /// The context whose bindings apply now.
    pub fn context(&self) -> Context {
        match &self.overlay {
            Some(Overlay::Help { .. }) => Context::Help,
            Some(Overlay::Palette { .. })
            | Some(Overlay::Picker(_))
            | Some(Overlay::Prompt(_))
            | Some(Overlay::Search(_)) => Context::Palette,
            Some(Overlay::Compose(_)) | Some(Overlay::Form(_)) => Context::Compose,
            Some(Overlay::Notifications(_)) => Context::Notifications,
            Some(Overlay::Trash(_)) => Context::Trash,
            Some(Overlay::Drafts(_)) => Context::Drafts,
            Some(Overlay::Record(_)) => Context::Records,
            Some(Overlay::Outbox(_)) => Context::Outbox,
            Some(Overlay::Filters(_)) => Context::Notifications,
            // The form is typed into like a mail; the list is walked.
            Some(Overlay::Accounts(s)) if s.form.is_some() => Context::Compose,
            Some(Overlay::Accounts(_)) => Context::Accounts,
            // The agent and status pickers are typed into like the palette.
            Some(Overlay::Cases(s)) if s.picker.is_some() => Context::Palette,
            Some(Overlay::Cases(_)) => Context::Cases,
            Some(Overlay::Dashboard(_)) => Context::Dashboard,
            None => self.focus.context(),
        }
    }

    pub fn notice(&mut self, msg: impl Into<String>) {
        self.status.message = Some(StatusMessage::notice(msg));
    }

    pub fn error(&mut self, msg: impl Into<String>) {
        self.status.message = Some(StatusMessage::error(msg));
    }

    /// The answer of a desk query; a failed one shows its reason and counts as empty.
    pub fn ask<T: Default>(&mut self, answer: DeskResult<T>) -> T {
        answer.unwrap_or_else(|e| {
            self.error(e.0);
            T::default()
        })
    }

    /// A key from the terminal.
    pub fn handle_key(&mut self, desk: &dyn DeskClient, key: Key) -> Vec<Command> {
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
    fn text_input(&mut self, desk: &dyn DeskClient, key: Key) -> Vec<Command> {
        if matches!(self.overlay, Some(Overlay::Cases(_))) {
            self.cases_input(&key);
            return vec![];
        }
        match &mut self.overlay {
            Some(Overlay::Palette { input, .. }) => {
                let typed = input.key(&key);
                if typed {
                    let text = input.as_str().to_string();
                    let fresh = PickList::new(self.palette_matches(&text));
                    if let Some(Overlay::Palette { matches, .. }) = &mut self.overlay {
                        *matches = fresh;
                    }
                }
            }
            Some(Overlay::Picker(p)) => {
                let typed = p.input.key(&key);
                if typed {
                    p.rank();
                }
            }
            Some(Overlay::Compose(c)) => c.input(desk, key),
            Some(Overlay::Form(f)) => f.input(key),
            Some(Overlay::Accounts(_)) => self.accounts_input(key),
            Some(Overlay::Prompt(p)) => {
                p.input.key(&key);
            }
            Some(Overlay::Search(_)) => self.search_typed(&key),
            _ => {}
        }
        vec![]
    }

    /// The palette's actions matching its input, best first.
    pub fn palette_matches(&self, input: &str) -> Vec<(Action, String)> {
        let ctx = self.focus.context();
        let items: Vec<(Action, String)> = Action::ALL
            .iter()
            .filter(|a| a.is_available())
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
}

impl RecordPicker {
    /// A picker over `all` for linking mail `message`.
    pub fn new(all: Vec<Record>, message: u64) -> RecordPicker {
        let mut p = RecordPicker {
            input: LineInput::default(),
            all,
            matches: PickList::default(),
            message,
            marked: vec![],
        };
        p.rank();
        p
    }

    /// Rank the records against the input again, best first.
    pub fn rank(&mut self) {
        let ranked = fuzzy_filter(self.input.as_str(), self.all.clone(), |r| r.name.as_str());
        self.matches = PickList::new(ranked);
    }
}
