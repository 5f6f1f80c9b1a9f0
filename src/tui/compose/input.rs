//! Keys typed into the compose pane that the keymap does not bind.

use super::*;

impl ComposeState {
    pub(super) fn current(&mut self) -> Option<&mut TextArea<'static>> {
        match self.field {
            TO => Some(&mut self.to),
            CC => Some(&mut self.cc),
            BCC => Some(&mut self.bcc),
            SUBJECT => Some(&mut self.subject),
            BODY => Some(&mut self.body),
            _ => None,
        }
    }

    pub(super) fn open_attach_prompt(&mut self) {
        let start = std::env::var("HOME")
            .map(|h| format!("{}/", h.trim_end_matches('/')))
            .unwrap_or_default();
        self.mode = Mode::AttachPrompt {
            input: start,
            matches: vec![],
        };
    }

    /// Typed text goes to the current field; Enter only breaks lines in the body.
    pub fn input(&mut self, desk: &dyn DeskClient, key: Key) {
        self.handle_input(desk, key);
        self.sync_cursors();
    }

    pub(super) fn handle_input(&mut self, desk: &dyn DeskClient, key: Key) {
        let alt = key.mods.contains(KeyModifiers::ALT);
        match &mut self.mode {
            Mode::AttachPrompt { input, matches } => {
                match key.code {
                    KeyCode::Char(ch) if !key.mods.contains(KeyModifiers::CONTROL) => {
                        input.push(ch);
                        matches.clear();
                    }
                    KeyCode::Backspace => {
                        input.pop();
                        matches.clear();
                    }
                    KeyCode::Enter => {
                        let path = expand_home(input.trim());
                        match self.add_attachment(desk, &path) {
                            Ok(()) => {
                                self.mode = Mode::Edit;
                                self.notice = Some(StatusMessage::notice(format!(
                                    "Attached {}.",
                                    path.display()
                                )));
                            }
                            Err(e) => self.notice = Some(StatusMessage::error(e)),
                        }
                    }
                    _ => {}
                }
                return;
            }
            Mode::Templates { names, cursor } => {
                match key.code {
                    KeyCode::Down | KeyCode::Char('j') => {
                        *cursor = (*cursor + 1).min(names.len().saturating_sub(1));
                    }
                    KeyCode::Up | KeyCode::Char('k') => *cursor = cursor.saturating_sub(1),
                    KeyCode::Enter => {
                        let name = names.get(*cursor).cloned();
                        self.mode = Mode::Edit;
                        if let Some(name) = name {
                            let ctx = self.template_ctx.clone().unwrap_or_default();
                            match self.insert_template(desk, &name, &ctx) {
                                Ok(()) => {
                                    let flagged = !self.template_warnings().is_empty();
                                    self.notice = Some(if flagged {
                                        StatusMessage::error(format!(
                                            "Inserted template {name}; look at the flagged placeholders."
                                        ))
                                    } else {
                                        StatusMessage::notice(format!("Inserted template {name}."))
                                    });
                                }
                                Err(e) => self.notice = Some(StatusMessage::error(e)),
                            }
                        }
                    }
                    _ => {}
                }
                return;
            }
            Mode::ConfirmClose { discard } => {
                match key.code {
                    KeyCode::Char('d' | 'D') => *discard = true,
                    KeyCode::Char('k' | 'K') => *discard = false,
                    KeyCode::Left | KeyCode::Right | KeyCode::Up | KeyCode::Down => {
                        *discard = !*discard
                    }
                    _ => {
                        self.mode = Mode::Edit;
                        self.notice = None;
                    }
                }
                return;
            }
            Mode::Edit => {}
        }
        if alt && matches!(key.code, KeyCode::Char('a' | 'A')) {
            self.open_attach_prompt();
            return;
        }
        match self.field {
            FROM => match key.code {
                KeyCode::Char(' ') | KeyCode::Right | KeyCode::Down => self.cycle_identity(true),
                KeyCode::Left | KeyCode::Up => self.cycle_identity(false),
                KeyCode::Enter => self.field = TO,
                _ => {
                    self.notice = Some(StatusMessage::notice(
                        "This row is who the mail is from: Space or ←/→ chooses, Tab goes on to To.",
                    ))
                }
            },
            ATTACH => match key.code {
                KeyCode::Enter | KeyCode::Char('a') => self.open_attach_prompt(),
                KeyCode::Delete | KeyCode::Backspace | KeyCode::Char('d') => {
                    let i = self.attach_cursor;
                    if self.remove_attachment(i) {
                        self.notice = Some(StatusMessage::notice("Attachment removed."));
                    }
                }
                KeyCode::Right | KeyCode::Char('l') => {
                    self.attach_cursor =
                        (self.attach_cursor + 1).min(self.attachments.len().saturating_sub(1));
                }
                KeyCode::Left | KeyCode::Char('h') => {
                    self.attach_cursor = self.attach_cursor.saturating_sub(1)
                }
                KeyCode::Char('f') => {
                    let on = !self.forwards_as_attachment();
                    match self.set_forward_as_attachment(on) {
                        Ok(()) => {
                            self.notice = Some(StatusMessage::notice(if on {
                                "The original goes as an attachment."
                            } else {
                                "The original goes inline."
                            }))
                        }
                        Err(e) => self.notice = Some(StatusMessage::error(e)),
                    }
                }
                _ => {}
            },
            _ => {
                if key.code == KeyCode::Enter && self.field != BODY {
                    self.field += 1;
                    return;
                }
                if let Some(t) = self.current() {
                    let before = t.lines().to_vec();
                    t.input(KeyEvent::new(key.code, key.mods));
                    let changed = t.lines() != before.as_slice();
                    if changed {
                        self.touch();
                    }
                }
            }
        }
    }
}
