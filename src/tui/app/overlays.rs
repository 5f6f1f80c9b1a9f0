//! What a bound action does while an overlay is open: the overlay owns the
//! keys until it closes. List overlays share one way of moving the cursor.

use super::{App, Overlay, PickList, RecordPicker};
use crate::protocol::{Command, DeskClient};
use crate::tui::action::Action;
use crate::tui::compose::ComposeState;

/// Cursor movement in a list overlay; whether `action` was one.
fn navigate<T>(list: &mut PickList<T>, action: Action) -> bool {
    match action {
        Action::MoveDown | Action::NextField => list.down(1),
        Action::MoveUp | Action::PrevField => list.up(1),
        Action::PageDown => list.down(10),
        Action::PageUp => list.up(10),
        Action::GoTop => list.top(),
        Action::GoBottom => list.bottom(),
        _ => return false,
    }
    true
}

impl App {
    pub(super) fn overlay_action(
        &mut self,
        desk: &dyn DeskClient,
        action: Action,
    ) -> Option<Vec<Command>> {
        let overlay = self.overlay.as_mut()?;
        match overlay {
            Overlay::Accounts(_) => return Some(self.accounts_action(action)),
            Overlay::Cases(_) => return Some(self.cases_action(desk, action)),
            Overlay::Dashboard(_) => return Some(self.dashboard_action(desk, action)),
            Overlay::Help { scroll } => match action {
                Action::MoveDown | Action::ScrollDown => *scroll += 1,
                Action::MoveUp | Action::ScrollUp => *scroll = scroll.saturating_sub(1),
                Action::PageDown => *scroll += 10,
                Action::PageUp => *scroll = scroll.saturating_sub(10),
                Action::Quit => self.quit = true,
                _ => self.overlay = None,
            },
            Overlay::Palette { matches, .. } => {
                if navigate(matches, action) {
                    return Some(vec![]);
                }
                match action {
                    Action::Open => {
                        let picked = matches.selected().map(|(a, _)| *a);
                        self.overlay = None;
                        return Some(match picked {
                            Some(a) => self.handle_action(desk, a),
                            None => vec![],
                        });
                    }
                    Action::Back | Action::Cancel | Action::Quit => self.overlay = None,
                    _ => {}
                }
            }
            Overlay::Picker(p) => {
                if navigate(&mut p.matches, action) {
                    return Some(vec![]);
                }
                match action {
                    Action::Open => return Some(self.link_picked()),
                    Action::Back | Action::Cancel | Action::Quit => self.overlay = None,
                    _ => {}
                }
            }
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
            Overlay::Record(card) if action == Action::Compose => {
                let r = card.record.clone();
                return Some(self.compose_to_record(desk, &r));
            }
            Overlay::Record(card) => match action {
                Action::MoveDown => {
                    card.cursor = (card.cursor + 1).min(card.history.len().saturating_sub(1))
                }
                Action::MoveUp => card.cursor = card.cursor.saturating_sub(1),
                Action::Quit => self.quit = true,
                Action::Back | Action::Cancel | Action::Open => self.overlay = None,
                _ => {}
            },
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
            Overlay::Search(_) => return Some(self.search_line_action(desk, action)),
            Overlay::Prompt(p) => match action {
                Action::Open => {
                    let p = (**p).clone();
                    self.overlay = None;
                    return Some(self.answer_prompt(desk, p));
                }
                Action::MoveDown | Action::MoveUp => {
                    self.next_move_target(desk, action == Action::MoveDown);
                }
                Action::Back | Action::Cancel => self.overlay = None,
                _ => {}
            },
            Overlay::Filters(s) => {
                if navigate(&mut s.rows, action) {
                    return Some(vec![]);
                }
                match action {
                    Action::Quit => self.quit = true,
                    Action::Back | Action::Cancel | Action::Filters => self.overlay = None,
                    _ => {}
                }
            }
            Overlay::Notifications(list) => {
                if navigate(list, action) {
                    return Some(vec![]);
                }
                match action {
                    Action::Open => {
                        if let Some(n) = list.selected() {
                            return Some(vec![Command::NotificationRead { id: n.id }]);
                        }
                    }
                    Action::Quit => self.quit = true,
                    Action::Back | Action::Notifications => self.overlay = None,
                    _ => {}
                }
            }
            Overlay::Drafts(list) => {
                if navigate(list, action) {
                    return Some(vec![]);
                }
                match action {
                    Action::Open => {
                        let Some(d) = list.selected().cloned() else {
                            return Some(vec![]);
                        };
                        // A bad identities file falls back to the defaults here;
                        // composing anew reports it.
                        let settings = desk.compose_settings().unwrap_or_default();
                        let c = ComposeState::from_draft(desk, &d, &settings);
                        self.overlay = Some(Overlay::Compose(Box::new(c)));
                    }
                    Action::Delete => {
                        if let Some(d) = list.remove_selected() {
                            if list.is_empty() {
                                self.overlay = None;
                            }
                            return Some(vec![Command::DeleteDraft { id: d.id }]);
                        }
                    }
                    Action::Quit => self.quit = true,
                    Action::Back => self.overlay = None,
                    _ => {}
                }
            }
            Overlay::Trash(list) => {
                if navigate(list, action) {
                    return Some(vec![]);
                }
                match action {
                    Action::Open => {
                        if let Some(r) = list.selected() {
                            let r = r.reference();
                            self.overlay = None;
                            return Some(vec![Command::RestoreRecord { record: r }]);
                        }
                    }
                    Action::Quit => self.quit = true,
                    Action::Back | Action::RecordTrash => self.overlay = None,
                    _ => {}
                }
            }
            Overlay::Outbox(list) => {
                if navigate(list, action) {
                    return Some(vec![]);
                }
                match action {
                    Action::Send | Action::SyncNow => {
                        if let Some(e) = list.selected() {
                            return Some(vec![Command::RetryNow { entry: e.id }]);
                        }
                    }
                    Action::Delete | Action::Cancel => {
                        if let Some(e) = list.selected() {
                            return Some(vec![Command::CancelOutgoing { entry: e.id }]);
                        }
                    }
                    Action::Quit => self.quit = true,
                    Action::Back | Action::Outbox => self.overlay = None,
                    _ => {}
                }
            }
            Overlay::Compose(c) => {
                let out = c.action(desk, action);
                if let Some(m) = out.message {
                    self.status.message = Some(m);
                }
                if out.close {
                    self.overlay = None;
                }
                return Some(out.commands);
            }
        }
        Some(vec![])
    }

    /// A new mail to a record's address; from a case, as its group.
    fn compose_to_record(
        &mut self,
        desk: &dyn DeskClient,
        r: &crate::store::Record,
    ) -> Vec<Command> {
        let case = (r.kind == crate::store::RecordKind::Case).then(|| {
            desk.cases()
                .ok()
                .and_then(|all| all.into_iter().find(|c| c.record.id == r.id))
        });
        let address = match &case {
            Some(Some(c)) => c.email.clone(),
            _ => r
                .emails
                .first()
                .cloned()
                .or_else(|| r.field("email").map(str::to_string))
                .unwrap_or_default(),
        };
        match ComposeState::start(desk, Action::Compose, None) {
            Ok(c) => {
                let c = match case.flatten() {
                    Some(row) => c.for_case(r.id, &row.account, &address, &r.name),
                    None => c.with_to(&address),
                };
                self.overlay = Some(Overlay::Compose(Box::new(c)));
            }
            Err(msg) => self.error(msg),
        }
        vec![]
    }

    /// Enter in the record picker: link the selected record, close.
    fn link_picked(&mut self) -> Vec<Command> {
        let Some(Overlay::Picker(p)) = self.overlay.take() else {
            return vec![];
        };
        let RecordPicker {
            matches,
            message,
            marked,
            ..
        } = *p;
        match matches.selected() {
            Some(r) if !marked.is_empty() => {
                self.notice(format!("Linking {} mails to {}", marked.len(), r.title()));
                vec![Command::LinkMany {
                    ids: marked,
                    record: r.reference(),
                }]
            }
            Some(r) => {
                self.notice(format!("Linked to {}", r.title()));
                vec![Command::Link {
                    id: message,
                    record: r.reference(),
                }]
            }
            None => vec![],
        }
    }
}
