//! What the keymap's actions do in the compose pane: move between fields,
//! templates, the editor, Send, and closing with the draft kept or discarded.

use super::*;
use crate::tui::app::StatusMessage;

/// What an action in the compose pane amounts to for the screen.
#[derive(Debug, Default)]
pub struct ComposeOutcome {
    /// The pane closes.
    pub close: bool,
    /// Commands for the desk (send, save or delete the draft).
    pub commands: Vec<Command>,
    /// What the status line says.
    pub message: Option<StatusMessage>,
}

impl ComposeOutcome {
    fn stay() -> ComposeOutcome {
        ComposeOutcome::default()
    }

    fn refused(why: impl Into<String>) -> ComposeOutcome {
        ComposeOutcome {
            message: Some(StatusMessage::error(why)),
            ..ComposeOutcome::default()
        }
    }

    fn closed(commands: Vec<Command>, message: Option<StatusMessage>) -> ComposeOutcome {
        ComposeOutcome {
            close: true,
            commands,
            message,
        }
    }
}

impl ComposeState {
    /// Handle a bound action.
    pub fn action(&mut self, desk: &dyn DeskClient, action: Action) -> ComposeOutcome {
        let r = self.handle_action(desk, action);
        self.sync_cursors();
        r
    }

    fn handle_action(&mut self, desk: &dyn DeskClient, action: Action) -> ComposeOutcome {
        match &mut self.mode {
            Mode::AttachPrompt { input, matches } => {
                match action {
                    Action::NextField => {
                        let (completed, found) = desk.complete_path(input);
                        *input = completed;
                        *matches = found;
                        if matches.is_empty() {
                            self.notice = Some(StatusMessage::error("No file matches."));
                        }
                    }
                    Action::Cancel | Action::Back => {
                        self.mode = Mode::Edit;
                        self.notice = None;
                    }
                    _ => {}
                }
                return ComposeOutcome::stay();
            }
            Mode::Templates { names, cursor } => {
                match action {
                    Action::NextField => *cursor = (*cursor + 1).min(names.len().saturating_sub(1)),
                    Action::PrevField => *cursor = cursor.saturating_sub(1),
                    Action::Cancel | Action::Back | Action::InsertTemplate => {
                        self.mode = Mode::Edit
                    }
                    _ => {}
                }
                return ComposeOutcome::stay();
            }
            Mode::ConfirmClose { discard } => {
                let discard = *discard;
                self.mode = Mode::Edit;
                self.notice = None;
                if matches!(action, Action::Cancel | Action::Back) {
                    return self.close(discard);
                }
            }
            Mode::Edit => {}
        }
        match action {
            Action::NextField => {
                let completing = matches!(self.field, TO | CC | BCC) && self.complete_recipient();
                if !completing {
                    self.field = (self.field + 1) % FIELDS.len();
                }
            }
            Action::PrevField => self.field = (self.field + FIELDS.len() - 1) % FIELDS.len(),
            Action::Cancel | Action::Back => {
                if !self.dirty && !self.saved {
                    return ComposeOutcome::closed(vec![], None);
                }
                // A failed save comes back from the desk as an error event.
                let save = self.save_draft();
                self.mode = Mode::ConfirmClose { discard: false };
                let msg = StatusMessage::notice(
                    "Draft saved. Esc again closes and keeps it; d then Esc discards it; any other key goes back to writing.",
                );
                self.notice = Some(msg.clone());
                return ComposeOutcome {
                    close: false,
                    commands: vec![save],
                    message: Some(msg),
                };
            }
            Action::InsertTemplate => {
                let to = self.recipients(TO).into_iter().next();
                match desk.template_context(self.in_reply_to, to.as_deref()) {
                    Ok(ctx) => self.template_ctx = Some(ctx),
                    Err(e) => return ComposeOutcome::refused(e.0),
                }
                if let Err(e) = self.open_templates(desk) {
                    self.notice = Some(StatusMessage::error(e.clone()));
                    return ComposeOutcome::refused(e);
                }
            }
            Action::ExternalEditor => self.wants_editor = true,
            Action::Send => {
                let out = match self.outgoing(desk) {
                    Ok(o) => o,
                    Err(reason) => {
                        return ComposeOutcome::refused(format!("Cannot send yet: {reason}"));
                    }
                };
                // Build the bytes once here so a mail the outbox would refuse
                // keeps its draft and the pane stays open with the reason.
                let probe = crate::outbox::message::Draft {
                    from_name: out.from_name.clone(),
                    from: out.from.clone(),
                    to: out.to.clone(),
                    cc: out.cc.clone(),
                    bcc: out.bcc.clone(),
                    subject: out.subject.clone(),
                    body: out.body.clone(),
                    attachments: vec![],
                    ..Default::default()
                };
                if let Err(e) = crate::outbox::message::build(&probe, None) {
                    return ComposeOutcome::refused(format!("Cannot send: {e}"));
                }
                let mut cmds = vec![Command::Send(Box::new(out))];
                if self.draft_id != 0 {
                    // The outbox has the mail from here on; a draft left
                    // behind would be offered again after a restart.
                    cmds.push(Command::DeleteDraft { id: self.draft_id });
                    self.saved = false;
                }
                self.dirty = false;
                return ComposeOutcome::closed(cmds, None);
            }
            _ => {}
        }
        ComposeOutcome::stay()
    }

    /// Close the pane, keeping the draft saved or discarding it.
    fn close(&mut self, discard: bool) -> ComposeOutcome {
        if discard {
            let mut cmds = vec![];
            if self.draft_id != 0 {
                cmds.push(Command::DeleteDraft { id: self.draft_id });
            }
            self.saved = false;
            self.dirty = false;
            return ComposeOutcome::closed(cmds, Some(StatusMessage::notice("Draft discarded.")));
        }
        let cmds = if self.dirty {
            vec![self.save_draft()]
        } else {
            vec![]
        };
        ComposeOutcome::closed(
            cmds,
            Some(StatusMessage::notice(
                "Draft kept; it is offered again on the next start.",
            )),
        )
    }
}
