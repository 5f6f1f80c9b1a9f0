//! The compose overlay: identity, To/Cc/Bcc, Subject, attachments and body.
//! Send stays refused, with the reason shown, until the mail is valid.
//!
//! # Identities
//!
//! Every configured account gives one identity by default: a group account
//! its shared address (no display name), a personal account the agent's name
//! and address. `<config dir>/identities.toml` may list identities instead,
//! several per account, each optional field falling back to that default:
//!
//! ```toml
//! [[identity]]
//! account = "support"            # the account whose SMTP sends it (required)
//! name = "Support Team"          # display name
//! email = "support@desk.example" # default: the account's address
//! signature = "Support Team\nhttps://desk.example"
//! archive_bcc = true             # Bcc the desk's system_address
//! agents = ["alice@desk.example"] # who may use it; empty: every agent
//! ```
//!
//! An account with at least one `[[identity]]` entry gives only those.
//! The signature goes above the quote, after a `-- ` separator line.
//!
//! # Keys (besides the keymap's send / template / editor / next / prev / cancel)
//!
//! - From row: Space, ←/→ cycle the identity.
//! - To/Cc/Bcc: Tab completes the first suggestion; with none, it moves on.
//! - Attach row: Enter or `a` adds a file, Delete/`d` removes the selected
//!   one, ←/→ select, `f` forwards the original inline or as an attachment.
//!   Alt-A adds a file from any row.
//! - Esc asks how to close: keep the draft (default) or discard it.

use crate::outbox::message::content_type_for;
use crate::outbox::template::{self, TemplateContext};
pub use crate::protocol::AttachmentSource;
use crate::protocol::{Command, DeskClient, FileAttachment, Outgoing};
use crate::store::drafts::StoredDraft;
use crate::store::{MessageSummary, RecordKind};
use crate::tui::action::Action;
use crate::tui::app::StatusMessage;
use crate::tui::keymap::Key;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::{CursorMove, TextArea};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod actions;
mod attachments;
mod completion;
mod drafts;
mod editor;
mod identity;
mod input;
mod subjects;
mod templates;
#[cfg(test)]
mod tests;
mod validate;

pub use crate::config::identities::{ComposeSettings, IdentityConfig};
pub use actions::ComposeOutcome;
pub use identity::{Identity, identities_for};
pub use subjects::{forward_subject, reply_subject};
// Helpers shared between the compose submodules.
use crate::config::files::expand_home;
use crate::mail::format::human_size;
use attachments::{file_attachment, join_addr, message_attachment};
pub(crate) use completion::known_addresses;
use identity::signature_block;

pub const FIELDS: [&str; 7] = ["From", "To", "Cc", "Bcc", "Subject", "Attach", "Body"];
pub const FROM: usize = 0;
pub const TO: usize = 1;
pub const CC: usize = 2;
pub const BCC: usize = 3;
pub const SUBJECT: usize = 4;
pub const ATTACH: usize = 5;
pub const BODY: usize = 6;

/// A pause in typing this long saves the draft.
const AUTOSAVE_IDLE: Duration = Duration::from_secs(2);
/// Typing without a pause still saves this often.
const AUTOSAVE_MAX: Duration = Duration::from_secs(10);
/// How many recent mails per account feed recipient completion.
const RECENT_MAILS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeAttachment {
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub source: AttachmentSource,
}

/// What the keys do right now, besides editing the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Edit,
    /// Typing the path of a file to attach; `matches` are completion hints.
    AttachPrompt {
        input: String,
        matches: Vec<String>,
    },
    /// Picking a template from `<config dir>/templates/`.
    Templates {
        names: Vec<String>,
        cursor: usize,
    },
    /// Esc was pressed once: Esc again closes, keeping or discarding the draft.
    ConfirmClose {
        discard: bool,
    },
}

#[derive(Debug)]
pub struct ComposeState {
    /// Index into `identities`; `None` until one is chosen.
    pub identity: Option<usize>,
    pub identities: Vec<Identity>,
    pub to: TextArea<'static>,
    pub cc: TextArea<'static>,
    pub bcc: TextArea<'static>,
    pub subject: TextArea<'static>,
    pub body: TextArea<'static>,
    /// One of [`FROM`], [`TO`], … [`BODY`].
    pub field: usize,
    pub in_reply_to: Option<u64>,
    /// Written from this case: it goes out as the case's group.
    pub case: Option<u64>,
    /// Set when the agent asked for `$EDITOR`; the event loop clears it,
    /// runs the editor on [`ComposeState::editor_text`] and calls
    /// [`ComposeState::apply_editor_text`].
    pub wants_editor: bool,
    pub mode: Mode,
    /// Selected attachment on the Attach row.
    pub attach_cursor: usize,
    /// A message for the pane (text, is an error).
    pub notice: Option<StatusMessage>,
    attachments: Vec<ComposeAttachment>,
    system_address: Option<String>,
    /// Completion candidates: (address, name).
    known: Vec<(String, String)>,
    own: Vec<String>,
    /// Unknown placeholders inserted by templates, flagged until removed.
    template_unknown: Vec<String>,
    /// Known placeholders that had no value when inserted.
    template_empty: Vec<String>,
    template_ctx: Option<TemplateContext>,
    signature_block: Option<String>,
    /// The attribution or forward header line, where a signature goes above.
    quote_marker: Option<String>,
    /// The forwarded mail and its inline block.
    forward_of: Option<u64>,
    forward_block: Option<String>,
    forward_attachment: Option<ComposeAttachment>,
    /// The draft's id in the store, fixed for the life of the pane.
    draft_id: u64,
    /// Whether the draft is in the store.
    saved: bool,
    dirty: bool,
    last_edit: Option<Instant>,
    last_save: Option<Instant>,
}

/// A textarea holding `text`; a trailing newline is kept as an empty line.
fn area(text: &str) -> TextArea<'static> {
    let text = text.replace("\r\n", "\n");
    TextArea::new(text.split('\n').map(str::to_string).collect())
}

fn text(t: &TextArea<'static>) -> String {
    t.lines().join("\n")
}

fn addresses_of(s: &str) -> Vec<String> {
    s.split([',', ';', '\n'])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl ComposeState {
    /// An empty mail with the identities of `cfg` and `settings` and no
    /// completion candidates.
    pub fn blank(cfg: &crate::config::Config, settings: &ComposeSettings) -> ComposeState {
        let identities = identities_for(cfg, settings);
        let mut own = cfg.own_addresses();
        own.extend(identities.iter().map(|i| i.email.to_lowercase()));
        ComposeState {
            identity: (identities.len() == 1).then_some(0),
            identities,
            to: area(""),
            cc: area(""),
            bcc: area(""),
            subject: area(""),
            body: area(""),
            field: TO,
            in_reply_to: None,
            case: None,
            wants_editor: false,
            mode: Mode::Edit,
            attach_cursor: 0,
            notice: None,
            attachments: Vec::new(),
            system_address: cfg.system_address.clone().filter(|s| !s.trim().is_empty()),
            known: Vec::new(),
            own,
            template_unknown: Vec::new(),
            template_empty: Vec::new(),
            template_ctx: None,
            signature_block: None,
            quote_marker: None,
            forward_of: None,
            forward_block: None,
            forward_attachment: None,
            draft_id: 0,
            saved: false,
            dirty: false,
            last_edit: None,
            last_save: None,
        }
    }

    /// Start a new mail, reply, reply-all or forward of `base`, with the
    /// identities of `<config dir>/identities.toml`.
    pub fn start(
        desk: &dyn DeskClient,
        action: Action,
        base: Option<&MessageSummary>,
    ) -> Result<ComposeState, String> {
        let (settings, problem) = match desk.compose_settings() {
            Ok(s) => (s, None),
            Err(e) => (ComposeSettings::default(), Some(e)),
        };
        let mut c = Self::start_with(desk, action, base, &settings)?;
        if let Some(p) = problem {
            c.notice = Some(StatusMessage::error(format!(
                "Identities file ignored: {p}"
            )));
        }
        c.sync_cursors();
        Ok(c)
    }

    /// [`ComposeState::start`] with the given settings.
    pub fn start_with(
        desk: &dyn DeskClient,
        action: Action,
        base: Option<&MessageSummary>,
        settings: &ComposeSettings,
    ) -> Result<ComposeState, String> {
        let mut c = Self::blank(desk.config(), settings);
        if c.identities.is_empty() {
            return Err("No account is configured to send from; add an [[accounts]] entry.".into());
        }
        c.known = known_addresses(desk, &c.own);
        c.draft_id = desk.new_draft_id().map_err(|e| e.0)?;
        let needs_base = matches!(action, Action::Reply | Action::ReplyAll | Action::Forward);
        let Some(m) = base.filter(|_| needs_base) else {
            if needs_base {
                return Err("Select a mail first.".into());
            }
            if c.identity.is_none() {
                c.field = FROM;
            }
            c.set_signature_body("");
            return Ok(c);
        };
        c.identity = c.identity_for(desk, m);
        let quote: String = desk
            .quote_lines(m.id)
            .map_err(|e| e.0)?
            .map(|lines| {
                lines
                    .iter()
                    .map(|l| {
                        if l.is_empty() {
                            ">".to_string()
                        } else {
                            format!("> {l}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        let date = chrono::DateTime::from_timestamp(m.date, 0)
            .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        match action {
            Action::Reply | Action::ReplyAll => {
                let (to, cc) = c.reply_recipients(m, action == Action::ReplyAll);
                c.to = area(&to.join(", "));
                c.cc = area(&cc.join(", "));
                c.subject = area(&reply_subject(&m.subject));
                let attribution = format!("On {date}, {} wrote:", m.sender());
                c.quote_marker = Some(attribution.clone());
                c.set_signature_body(&format!("{attribution}\n{quote}"));
                c.in_reply_to = Some(m.id);
                c.field = if c.identity.is_none() { FROM } else { BODY };
            }
            Action::Forward => {
                c.subject = area(&forward_subject(&m.subject));
                let header = "---------- Forwarded message ----------".to_string();
                let block = format!(
                    "{header}\nFrom: {}\nDate: {date}\nSubject: {}\n\n{quote}",
                    m.sender(),
                    m.subject
                );
                c.quote_marker = Some(header);
                c.forward_of = Some(m.id);
                c.forward_block = Some(block.clone());
                c.forward_attachment = Some(message_attachment(desk, m.id));
                c.set_signature_body(&block);
                c.field = if c.identity.is_none() { FROM } else { TO };
            }
            _ => {}
        }
        c.sync_cursors();
        Ok(c)
    }

    /// A new mail from case `case` of `account` to its customer: sent as
    /// the account's identity (the desk adds the group's Reply-To and tag).
    pub fn for_case(
        mut self,
        case: u64,
        account: &str,
        address: &str,
        subject: &str,
    ) -> ComposeState {
        if let Some(i) = self.identities.iter().position(|i| i.account == account) {
            self.set_identity(i);
        }
        self.case = Some(case);
        self.subject = area(subject);
        self = self.with_to(address);
        if self.identity.is_some() {
            self.field = BODY;
        }
        self
    }

    /// A new mail to `address` (from the reader or a record card).
    pub fn with_to(mut self, address: &str) -> ComposeState {
        self.to = area(address.trim());
        if self.identity.is_some() {
            self.field = SUBJECT;
        }
        self
    }

    /// The body: empty lines to write in, the signature, then `rest`.
    fn set_signature_body(&mut self, rest: &str) {
        let sig = self
            .identity
            .and_then(|i| self.identities.get(i))
            .and_then(|i| i.signature.as_deref())
            .map(signature_block);
        let mut body = String::from("\n");
        if let Some(s) = &sig {
            body.push('\n');
            body.push_str(s);
            body.push('\n');
        }
        if !rest.is_empty() {
            body.push('\n');
            body.push_str(rest);
        }
        self.signature_block = sig;
        self.body = area(&body);
    }

    /// The identity to answer `m` with: the one it was addressed to, else one
    /// of the account it is stored in.
    fn identity_for(&self, desk: &dyn DeskClient, m: &MessageSummary) -> Option<usize> {
        let addressed =
            m.to.iter()
                .chain(m.cc.iter())
                .chain(m.bcc.iter())
                .chain(m.from.iter())
                .map(|p| p.email.to_lowercase())
                .collect::<Vec<_>>();
        // Not knowing the account only weakens the guess.
        let by_account = desk.account_of(m.id).ok().flatten();
        // Addressed to an identity of the account it is stored in, first.
        let hit = |same_account: bool| {
            self.identities.iter().position(|i| {
                addressed.contains(&i.email.to_lowercase())
                    && (!same_account || by_account.as_deref() == Some(i.account.as_str()))
            })
        };
        hit(true)
            .or_else(|| hit(false))
            .or_else(|| {
                by_account
                    .as_deref()
                    .and_then(|a| self.identities.iter().position(|i| i.account == a))
            })
            .or(self.identity)
    }

    fn is_own(&self, email: &str) -> bool {
        self.own.contains(&email.trim().to_lowercase())
    }

    /// To and Cc of a reply: the sender (or, for our own mail, its
    /// recipients); reply-all adds everyone else except our own addresses,
    /// each address once.
    fn reply_recipients(&self, m: &MessageSummary, all: bool) -> (Vec<String>, Vec<String>) {
        let mut seen = std::collections::HashSet::new();
        let mut to = Vec::new();
        let from_own = m.from.first().is_none_or(|p| self.is_own(&p.email));
        let primary: Vec<&str> = if from_own {
            m.to.iter().map(|p| p.email.as_str()).collect()
        } else if !m.reply_to.is_empty() {
            // The customer asked replies to go elsewhere (a ticket address, a colleague).
            m.reply_to.iter().map(|p| p.email.as_str()).collect()
        } else {
            m.from.iter().take(1).map(|p| p.email.as_str()).collect()
        };
        for e in primary {
            if !self.is_own(e) && seen.insert(e.trim().to_lowercase()) {
                to.push(e.trim().to_string());
            }
        }
        let mut cc = Vec::new();
        if all {
            for p in m.to.iter().chain(m.cc.iter()) {
                if !self.is_own(&p.email) && seen.insert(p.email.trim().to_lowercase()) {
                    cc.push(p.email.trim().to_string());
                }
            }
        }
        (to, cc)
    }

    /// Reopen a saved draft.
    pub fn from_draft(
        desk: &dyn DeskClient,
        d: &StoredDraft,
        settings: &ComposeSettings,
    ) -> ComposeState {
        let mut c = Self::blank(desk.config(), settings);
        c.known = known_addresses(desk, &c.own);
        if let (Some(acc), Some(from)) = (&d.account, &d.from) {
            c.identity = c
                .identities
                .iter()
                .position(|i| i.account == *acc && i.email.eq_ignore_ascii_case(from))
                .or_else(|| c.identities.iter().position(|i| i.account == *acc));
        }
        c.to = area(&d.to);
        c.cc = area(&d.cc);
        c.bcc = area(&d.bcc);
        c.subject = area(&d.subject);
        c.body = area(&d.body);
        c.in_reply_to = d.in_reply_to;
        c.signature_block = c
            .identity
            .and_then(|i| c.identities[i].signature.as_deref())
            .map(signature_block)
            .filter(|b| d.body.contains(b.as_str()));
        if let Some(id) = d.forward_of {
            c.forward_of = Some(id);
            c.attach_message(desk, id);
        }
        for p in &d.attachments {
            c.attachments.push(file_attachment(desk, p));
        }
        c.draft_id = d.id;
        c.saved = d.id != 0;
        if d.id == 0 {
            // Without a fresh id the draft is still kept, under id 0.
            c.draft_id = desk.new_draft_id().unwrap_or(0);
        }
        c.field = if c.identity.is_none() { FROM } else { BODY };
        c.sync_cursors();
        c
    }
}

impl ComposeState {
    /// Show the cursor only in the field being edited.
    pub fn sync_cursors(&mut self) {
        use ratatui::style::{Modifier, Style};
        let field = self.field;
        let editing = self.mode == Mode::Edit;
        for (i, t) in [
            (TO, &mut self.to),
            (CC, &mut self.cc),
            (BCC, &mut self.bcc),
            (SUBJECT, &mut self.subject),
            (BODY, &mut self.body),
        ] {
            t.set_cursor_line_style(Style::default());
            t.set_cursor_style(if editing && i == field {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            });
        }
    }

    /// A one-line summary of the attachments with sizes.
    pub fn attachment_line(&self) -> Vec<String> {
        self.attachments
            .iter()
            .map(|a| format!("{} ({})", a.name, human_size(a.size)))
            .collect()
    }
}
