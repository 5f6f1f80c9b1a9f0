//! The compose overlay: identity, To/Cc/Subject and body in textareas.
//! Send stays refused, with the reason shown, until the mail is valid.

use crate::desk::{Command, Desk, Outgoing};
use crate::store::MessageSummary;
use crate::tui::action::Action;
use crate::tui::keymap::Key;
use ratatui_textarea::TextArea;
use std::sync::Arc;

pub const FIELDS: [&str; 5] = ["From", "To", "Cc", "Subject", "Body"];

#[derive(Debug)]
pub struct ComposeState {
    /// Index into the desk's accounts: the identity mail goes out from.
    pub identity: usize,
    pub identities: Vec<(String, String)>,
    pub to: TextArea<'static>,
    pub cc: TextArea<'static>,
    pub subject: TextArea<'static>,
    pub body: TextArea<'static>,
    /// 0 = From, 1 = To, 2 = Cc, 3 = Subject, 4 = Body.
    pub field: usize,
    pub in_reply_to: Option<u64>,
}

fn area(text: &str) -> TextArea<'static> {
    TextArea::new(text.lines().map(str::to_string).collect())
}

fn re_subject(s: &str) -> String {
    let t = s.trim();
    let lower = t.to_lowercase();
    if lower.starts_with("re:") || lower.starts_with("отв:") {
        t.to_string()
    } else {
        format!("Re: {t}")
    }
}

impl ComposeState {
    /// Start a new mail, reply, reply-all or forward of `base`.
    pub fn start(
        desk: &Arc<Desk>,
        action: Action,
        base: Option<&MessageSummary>,
    ) -> Result<ComposeState, String> {
        let cfg = desk.config();
        let identities: Vec<(String, String)> = cfg
            .accounts
            .iter()
            .map(|a| (a.name.clone(), a.email.clone()))
            .collect();
        if identities.is_empty() {
            return Err("No account is configured to send from; add an [[accounts]] entry.".into());
        }
        let own = cfg.own_addresses();
        let mut c = ComposeState {
            identity: 0,
            identities,
            to: area(""),
            cc: area(""),
            subject: area(""),
            body: area(""),
            field: 1,
            in_reply_to: None,
        };
        let needs_base = matches!(action, Action::Reply | Action::ReplyAll | Action::Forward);
        let Some(m) = base.filter(|_| needs_base) else {
            if needs_base {
                return Err("Select a mail first.".into());
            }
            return Ok(c);
        };
        // Answer from the account the mail came to, when it is one of ours.
        if let Some(i) = c
            .identities
            .iter()
            .position(|(_, e)| m.to.iter().chain(m.cc.iter()).any(|p| p.email == *e))
        {
            c.identity = i;
        }
        let quote: String = desk
            .store()
            .body(m.id)
            .ok()
            .flatten()
            .map(|raw| {
                let r = crate::mail::render::render(&raw, &Default::default());
                r.lines
                    .iter()
                    .map(|l| format!("> {}", l.text))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        let date = chrono::DateTime::from_timestamp(m.date, 0)
            .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        match action {
            Action::Reply | Action::ReplyAll => {
                c.to = area(&m.from.first().map(|p| p.email.clone()).unwrap_or_default());
                if action == Action::ReplyAll {
                    let cc: Vec<String> =
                        m.to.iter()
                            .chain(m.cc.iter())
                            .map(|p| p.email.clone())
                            .filter(|e| !own.contains(e))
                            .collect();
                    c.cc = area(&cc.join(", "));
                }
                c.subject = area(&re_subject(&m.subject));
                c.body = area(&format!("\n\nOn {date}, {} wrote:\n{quote}", m.sender()));
                c.in_reply_to = Some(m.id);
                c.field = 4;
            }
            Action::Forward => {
                c.subject = area(&format!("Fwd: {}", m.subject));
                c.body = area(&format!(
                    "\n\n---------- Forwarded message ----------\nFrom: {}\nDate: {date}\nSubject: {}\n\n{quote}",
                    m.sender(),
                    m.subject
                ));
            }
            _ => {}
        }
        Ok(c)
    }

    fn current(&mut self) -> Option<&mut TextArea<'static>> {
        match self.field {
            1 => Some(&mut self.to),
            2 => Some(&mut self.cc),
            3 => Some(&mut self.subject),
            4 => Some(&mut self.body),
            _ => None,
        }
    }

    /// Typed text goes to the current field; Enter only breaks lines in the body.
    pub fn input(&mut self, key: Key) {
        use crossterm::event::{KeyCode, KeyEvent};
        if self.field == 0 {
            if matches!(
                key.code,
                KeyCode::Char(' ') | KeyCode::Right | KeyCode::Down
            ) {
                self.identity = (self.identity + 1) % self.identities.len().max(1);
            }
            return;
        }
        if key.code == KeyCode::Enter && self.field != 4 {
            self.field += 1;
            return;
        }
        if let Some(t) = self.current() {
            t.input(KeyEvent::new(key.code, key.mods));
        }
    }

    fn text(t: &TextArea<'static>) -> String {
        t.lines().join("\n")
    }

    fn addresses(t: &TextArea<'static>) -> Vec<String> {
        Self::text(t)
            .split([',', ';', '\n'])
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Why Send is refused now, if it is.
    pub fn blocked_reason(&self) -> Option<String> {
        let to = Self::addresses(&self.to);
        if to.is_empty() {
            return Some("Add a recipient in To.".into());
        }
        for a in to.iter().chain(Self::addresses(&self.cc).iter()) {
            if let Err(e) = crate::mail::address::validate_recipient(a) {
                return Some(format!("{a}: {e}"));
            }
        }
        let subject = Self::text(&self.subject);
        if subject.trim().is_empty() {
            return Some("Write a subject.".into());
        }
        if subject.contains(['\r', '\n']) {
            return Some("The subject must be one line.".into());
        }
        if Self::text(&self.body).trim().is_empty() {
            return Some("Write the message body.".into());
        }
        None
    }

    /// Handle a bound action: `(close overlay, commands, status message)`.
    pub fn action(
        &mut self,
        desk: &Arc<Desk>,
        action: Action,
    ) -> (bool, Vec<Command>, Option<(String, bool)>) {
        match action {
            Action::NextField => self.field = (self.field + 1) % FIELDS.len(),
            Action::PrevField => self.field = (self.field + FIELDS.len() - 1) % FIELDS.len(),
            Action::Cancel | Action::Back => {
                return (true, vec![], Some(("Draft discarded.".into(), false)));
            }
            Action::Send => {
                if let Some(reason) = self.blocked_reason() {
                    return (
                        false,
                        vec![],
                        Some((format!("Cannot send yet: {reason}"), true)),
                    );
                }
                let (account, email) = self.identities[self.identity].clone();
                let name = desk
                    .config()
                    .account(&account)
                    .filter(|a| !a.group)
                    .map(|_| desk.config().agent.name.clone())
                    .unwrap_or_default();
                let out = Outgoing {
                    account,
                    from_name: name,
                    from: email,
                    to: Self::addresses(&self.to),
                    cc: Self::addresses(&self.cc),
                    bcc: vec![],
                    subject: Self::text(&self.subject),
                    body: Self::text(&self.body),
                    in_reply_to: self.in_reply_to,
                };
                return (true, vec![Command::Send(Box::new(out))], None);
            }
            _ => {
                if let Some(t) = self.current() {
                    // Keys bound elsewhere but meaningful in text (none today).
                    let _ = t;
                }
            }
        }
        (false, vec![], None)
    }
}
