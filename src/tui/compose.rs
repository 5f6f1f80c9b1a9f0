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

use crate::desk::{Command, Desk, Outgoing};
use crate::outbox::message::{FileAttachment, content_type_for};
use crate::outbox::template::{self, TemplateContext};
use crate::store::drafts::StoredDraft;
use crate::store::{MessageSummary, RecordKind, Store, StoreError};
use crate::tui::action::Action;
use crate::tui::keymap::Key;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::{CursorMove, TextArea};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// One `[[identity]]` of `identities.toml`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    pub account: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub archive_bcc: bool,
    #[serde(default)]
    pub agents: Vec<String>,
}

/// The compose settings file, `<config dir>/identities.toml`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ComposeSettings {
    #[serde(default, rename = "identity")]
    pub identities: Vec<IdentityConfig>,
}

impl ComposeSettings {
    /// Read `dir/identities.toml`; a missing file means the defaults.
    pub fn load(dir: &Path) -> Result<ComposeSettings, String> {
        let file = dir.join("identities.toml");
        match std::fs::read_to_string(&file) {
            Ok(text) => Self::parse(&text).map_err(|e| format!("{}: {e}", file.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ComposeSettings::default()),
            Err(e) => Err(format!("cannot read {}: {e}", file.display())),
        }
    }

    pub fn parse(text: &str) -> Result<ComposeSettings, String> {
        toml::from_str(text).map_err(|e| e.message().trim().to_string())
    }
}

/// Who a mail goes out as.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    pub account: String,
    pub name: String,
    pub email: String,
    pub group: bool,
    pub signature: Option<String>,
    pub archive_bcc: bool,
}

impl Identity {
    /// "name <email> (account)", or "email (account)" without a name.
    pub fn label(&self) -> String {
        if self.name.trim().is_empty() {
            format!("{} ({})", self.email, self.account)
        } else {
            format!("{} <{}> ({})", self.name, self.email, self.account)
        }
    }
}

/// The identities the agent of `cfg` may send as.
pub fn identities_for(cfg: &crate::config::Config, settings: &ComposeSettings) -> Vec<Identity> {
    let me = [
        cfg.agent.email.trim().to_lowercase(),
        cfg.agent.name.trim().to_lowercase(),
    ];
    let mut out = Vec::new();
    for a in &cfg.accounts {
        let default_name = if a.group {
            String::new()
        } else {
            cfg.agent.name.clone()
        };
        let configured: Vec<&IdentityConfig> = settings
            .identities
            .iter()
            .filter(|i| i.account == a.name)
            .collect();
        if configured.is_empty() {
            out.push(Identity {
                account: a.name.clone(),
                name: default_name,
                email: a.email.clone(),
                group: a.group,
                signature: None,
                archive_bcc: false,
            });
            continue;
        }
        for i in configured {
            let allowed = i.agents.is_empty()
                || i.agents
                    .iter()
                    .any(|x| me.contains(&x.trim().to_lowercase()) && !x.trim().is_empty());
            if !allowed {
                continue;
            }
            out.push(Identity {
                account: a.name.clone(),
                name: i.name.clone().unwrap_or_else(|| default_name.clone()),
                email: i.email.clone().unwrap_or_else(|| a.email.clone()),
                group: a.group,
                signature: i.signature.clone().filter(|s| !s.trim().is_empty()),
                archive_bcc: i.archive_bcc,
            });
        }
    }
    out
}

/// Where an attachment's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentSource {
    File(PathBuf),
    /// A stored mail's raw bytes, attached as message/rfc822.
    Message(u64),
}

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
    /// Set when the agent asked for `$EDITOR`; the event loop clears it,
    /// runs the editor on [`ComposeState::editor_text`] and calls
    /// [`ComposeState::apply_editor_text`].
    pub wants_editor: bool,
    pub mode: Mode,
    /// Selected attachment on the Attach row.
    pub attach_cursor: usize,
    /// A message for the pane (text, is an error).
    pub notice: Option<(String, bool)>,
    /// Where templates are read from.
    pub templates_dir: PathBuf,
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

/// Skip one reply or forward prefix (`Re:`, `RE[2]:`, `Отв:`…) at the
/// start of `s`, case-insensitively; the rest after it, trimmed.
fn skip_prefix<'a>(s: &'a str, names: &[&str]) -> Option<&'a str> {
    for name in names {
        let mut it = s.char_indices().peekable();
        let mut ok = true;
        for n in name.chars() {
            match it.next() {
                Some((_, c)) if c.to_lowercase().eq(n.to_lowercase()) => {}
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            continue;
        }
        // Optional counter: "Re[2]:" or "Re(2):".
        if let Some(&(_, open)) = it.peek()
            && (open == '[' || open == '(')
        {
            let close = if open == '[' { ']' } else { ')' };
            it.next();
            let mut digits = 0;
            while let Some(&(_, c)) = it.peek() {
                if c.is_ascii_digit() {
                    digits += 1;
                    it.next();
                } else {
                    break;
                }
            }
            if digits == 0 || it.next().map(|(_, c)| c) != Some(close) {
                continue;
            }
        }
        while let Some(&(_, c)) = it.peek() {
            if c == ' ' {
                it.next();
            } else {
                break;
            }
        }
        match it.next() {
            Some((i, c @ (':' | '：'))) => return Some(s[i + c.len_utf8()..].trim_start()),
            _ => continue,
        }
    }
    None
}

fn strip_prefixes<'a>(s: &'a str, names: &[&str]) -> &'a str {
    let mut t = s.trim();
    while let Some(rest) = skip_prefix(t, names) {
        t = rest;
    }
    t
}

const REPLY_PREFIXES: &[&str] = &["re", "отв", "ответ", "aw", "sv", "antw", "res"];
const FORWARD_PREFIXES: &[&str] = &["fwd", "fw", "пересл", "wg", "tr", "enc"];

/// "Re: " once, however many reply prefixes the subject already has.
pub fn reply_subject(s: &str) -> String {
    format!("Re: {}", strip_prefixes(s, REPLY_PREFIXES))
}

/// "Fwd: " once, however many forward prefixes the subject already has.
pub fn forward_subject(s: &str) -> String {
    format!("Fwd: {}", strip_prefixes(s, FORWARD_PREFIXES))
}

fn signature_block(sig: &str) -> String {
    format!("-- \n{}", sig.trim_end_matches(['\n', '\r']))
}

fn human_size(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f < K {
        format!("{n} B")
    } else if f < K * K {
        format!("{:.0} KB", (f / K).ceil())
    } else if f < K * K * K {
        format!("{:.1} MB", f / K / K)
    } else {
        format!("{:.1} GB", f / K / K / K)
    }
}

fn expand_home(p: &str) -> PathBuf {
    if (p == "~" || p.starts_with("~/"))
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(p.trim_start_matches('~').trim_start_matches('/'));
    }
    PathBuf::from(p)
}

/// The file names completing `input` (a path being typed), and the longest
/// common completion. Directories end with `/`; hidden files only show when
/// the typed name starts with a dot.
pub fn complete_path(input: &str) -> (String, Vec<String>) {
    let (dir_part, prefix) = match input.rfind('/') {
        Some(i) => (&input[..=i], &input[i + 1..]),
        None => ("", input),
    };
    let dir = if dir_part.is_empty() {
        PathBuf::from(".")
    } else {
        expand_home(dir_part)
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if !name.starts_with(prefix)
                        || (name.starts_with('.') && !prefix.starts_with('.'))
                    {
                        return None;
                    }
                    let is_dir = e.path().is_dir();
                    Some(if is_dir { format!("{name}/") } else { name })
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let completed = match names.as_slice() {
        [] => input.to_string(),
        [one] => format!("{dir_part}{one}"),
        many => {
            let first = &many[0];
            let mut common = first.len();
            for n in &many[1..] {
                common = common.min(
                    first
                        .char_indices()
                        .zip(n.chars())
                        .take_while(|((_, a), b)| a == b)
                        .last()
                        .map(|((i, a), _)| i + a.len_utf8())
                        .unwrap_or(0),
                );
            }
            format!("{dir_part}{}", &first[..common])
        }
    };
    (completed, names)
}

/// The template files in `dir`, by name.
pub fn template_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && !n.ends_with('~'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Placeholder values for a mail answering `parent` (its linked records)
/// or, without links, for a mail to `to`.
pub fn template_context(desk: &Desk, parent: Option<u64>, to: Option<&str>) -> TemplateContext {
    let cfg = desk.config();
    let linked = parent.map(|id| desk.links_of(id)).unwrap_or_default();
    if linked.is_empty()
        && let Some(to) = to
        && let Ok(ctx) = crate::outbox::send::context_for(desk.store(), cfg, to)
    {
        return ctx;
    }
    let mut ctx = TemplateContext::new();
    ctx.set("User.name", cfg.agent.name.clone());
    if let Some(to) = to {
        ctx.set("Person.emailAddress", to.trim());
    }
    let alive = |k: RecordKind| linked.iter().find(|r| r.kind == k && !r.deleted).cloned();
    let case = alive(RecordKind::Case);
    // The person: linked, or the contact the linked case belongs to.
    let person = alive(RecordKind::Contact)
        .or_else(|| alive(RecordKind::Lead))
        .or_else(|| {
            case.as_ref()
                .and_then(|c| c.parent)
                .filter(|r| matches!(r.0, RecordKind::Contact | RecordKind::Lead))
                .and_then(|r| desk.record(r))
        });
    // The case: linked, or the person's newest open one.
    let case = case.or_else(|| {
        let p = person.as_ref()?;
        let mut cases: Vec<_> = desk
            .store()
            .children_of(p.reference())
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.kind == RecordKind::Case && !r.deleted)
            .filter(|c| {
                c.field("status")
                    .is_none_or(crate::store::CaseStatus::is_open_name)
            })
            .collect();
        cases.sort_by_key(|c| c.created);
        cases.pop()
    });
    if let Some(p) = &person {
        ctx.set("Person.name", p.name.clone());
        if let Some(e) = p.emails.first() {
            ctx.set("Person.emailAddress", e.clone());
        }
        if let Some(url) = p.field("opt_out_url").or(p.field("optOutUrl")) {
            ctx.set("optOutUrl", url.to_string());
        }
        if let Some(r) = p.parent
            && r.0 == RecordKind::Account
            && let Some(a) = desk.record(r)
        {
            ctx.set("Account.name", a.name);
        }
    }
    let account = alive(RecordKind::Account).or_else(|| {
        case.as_ref()?
            .related
            .iter()
            .find(|r| r.0 == RecordKind::Account)
            .and_then(|r| desk.record(*r))
    });
    if let Some(a) = account {
        ctx.set("Account.name", a.name.clone());
    }
    if let Some(c) = &case {
        ctx.set("Case.name", c.name.clone());
        if let Some(n) = c.field("number") {
            ctx.set("Case.number", n.to_string());
        }
    }
    ctx.with_defaults()
}

/// Addresses to complete from: records with addresses, then the people of
/// the last mails in each account's INBOX and Sent.
fn known_addresses(desk: &Desk, own: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut add = |email: &str, name: &str| {
        let e = email.trim().to_lowercase();
        if e.is_empty() || own.contains(&e) || !seen.insert(e.clone()) {
            return;
        }
        out.push((e, name.trim().to_string()));
    };
    for kind in [
        RecordKind::Contact,
        RecordKind::Lead,
        RecordKind::Customer,
        RecordKind::Account,
    ] {
        for r in desk.records(kind) {
            if r.deleted {
                continue;
            }
            for e in &r.emails {
                add(e, &r.name);
            }
        }
    }
    for a in &desk.config().accounts {
        for row in desk.page(&a.name, "INBOX", None, RECENT_MAILS) {
            for p in &row.summary.from {
                add(&p.email, &p.name);
            }
        }
        let sent = desk
            .special_folder(&a.name, "\\Sent")
            .unwrap_or_else(|| "Sent".into());
        for row in desk.page(&a.name, &sent, None, RECENT_MAILS) {
            for p in row.summary.to.iter().chain(row.summary.cc.iter()) {
                add(&p.email, &p.name);
            }
        }
    }
    out
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
            wants_editor: false,
            mode: Mode::Edit,
            attach_cursor: 0,
            notice: None,
            templates_dir: crate::config::paths::config_dir().join("templates"),
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

    /// The identities file's settings (defaults when it is absent or bad).
    pub fn settings() -> ComposeSettings {
        ComposeSettings::load(&crate::config::paths::config_dir()).unwrap_or_default()
    }

    /// Start a new mail, reply, reply-all or forward of `base`, with the
    /// identities of `<config dir>/identities.toml`.
    pub fn start(
        desk: &Arc<Desk>,
        action: Action,
        base: Option<&MessageSummary>,
    ) -> Result<ComposeState, String> {
        let (settings, problem) = match ComposeSettings::load(&crate::config::paths::config_dir()) {
            Ok(s) => (s, None),
            Err(e) => (ComposeSettings::default(), Some(e)),
        };
        let mut c = Self::start_with(desk, action, base, &settings)?;
        if let Some(p) = problem {
            c.notice = Some((format!("Identities file ignored: {p}"), true));
        }
        c.sync_cursors();
        Ok(c)
    }

    /// [`ComposeState::start`] with the given settings.
    pub fn start_with(
        desk: &Arc<Desk>,
        action: Action,
        base: Option<&MessageSummary>,
        settings: &ComposeSettings,
    ) -> Result<ComposeState, String> {
        let mut c = Self::blank(desk.config(), settings);
        if c.identities.is_empty() {
            return Err("No account is configured to send from; add an [[accounts]] entry.".into());
        }
        c.known = known_addresses(desk, &c.own);
        c.draft_id = desk.store().next_id().unwrap_or(0);
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
            .store()
            .body(m.id)
            .ok()
            .flatten()
            .map(|raw| {
                let r = crate::mail::render::render(&raw, &Default::default());
                r.lines
                    .iter()
                    .map(|l| {
                        if l.text.is_empty() {
                            ">".to_string()
                        } else {
                            format!("> {}", l.text)
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
    fn identity_for(&self, desk: &Desk, m: &MessageSummary) -> Option<usize> {
        let addressed =
            m.to.iter()
                .chain(m.cc.iter())
                .chain(m.bcc.iter())
                .chain(m.from.iter())
                .map(|p| p.email.to_lowercase())
                .collect::<Vec<_>>();
        let mut by_account = None;
        if let Ok(locs) = desk.store().locations(m.id)
            && let Some(l) = locs.first()
        {
            by_account = Some(l.account.clone());
        }
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
        desk: &Arc<Desk>,
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
            c.attachments.push(file_attachment(p));
        }
        c.draft_id = d.id;
        c.saved = d.id != 0;
        if d.id == 0 {
            c.draft_id = desk.store().next_id().unwrap_or(0);
        }
        c.field = if c.identity.is_none() { FROM } else { BODY };
        c.sync_cursors();
        c
    }

    /// Saved drafts, newest first, for the next start to offer.
    pub fn recover(desk: &Desk) -> Vec<StoredDraft> {
        desk.store().drafts().unwrap_or_default()
    }

    // ---- drafts ----

    /// The mail as it is now, to save.
    pub fn draft(&self) -> StoredDraft {
        let id = self.identity.and_then(|i| self.identities.get(i));
        StoredDraft {
            id: self.draft_id,
            saved: 0,
            account: id.map(|i| i.account.clone()),
            from: id.map(|i| i.email.clone()),
            to: text(&self.to),
            cc: text(&self.cc),
            bcc: text(&self.bcc),
            subject: text(&self.subject),
            body: text(&self.body),
            in_reply_to: self.in_reply_to,
            forward_of: self.attachments.iter().find_map(|a| match a.source {
                AttachmentSource::Message(id) => Some(id),
                _ => None,
            }),
            attachments: self
                .attachments
                .iter()
                .filter_map(|a| match &a.source {
                    AttachmentSource::File(p) => Some(p.clone()),
                    _ => None,
                })
                .collect(),
        }
    }

    /// The draft's id in the store (0 only before a first save of a pane
    /// made without a desk).
    pub fn draft_id(&self) -> u64 {
        self.draft_id
    }

    /// Whether there are changes not saved yet.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Whether the draft should be saved now: there are unsaved changes and
    /// typing paused for a moment or has gone on for a while.
    pub fn autosave_due(&self, now: Instant) -> bool {
        if !self.dirty {
            return false;
        }
        let idle = self
            .last_edit
            .is_none_or(|t| now.saturating_duration_since(t) >= AUTOSAVE_IDLE);
        let overdue = self
            .last_save
            .or(self.last_edit)
            .is_none_or(|t| now.saturating_duration_since(t) >= AUTOSAVE_MAX);
        idle || overdue
    }

    /// Save the draft if [`ComposeState::autosave_due`]; `None` when not due.
    pub fn autosave(&mut self, store: &Store, now: Instant) -> Option<Result<u64, StoreError>> {
        self.autosave_due(now).then(|| self.save_draft(store))
    }

    /// Save the draft durably (also when nothing changed); returns its id.
    pub fn save_draft(&mut self, store: &Store) -> Result<u64, StoreError> {
        let saved = store.save_draft(&self.draft())?;
        self.draft_id = saved.id;
        self.saved = true;
        self.dirty = false;
        self.last_save = Some(Instant::now());
        Ok(saved.id)
    }

    fn touch(&mut self) {
        self.dirty = true;
        self.last_edit = Some(Instant::now());
    }

    // ---- attachments ----

    pub fn attachments(&self) -> &[ComposeAttachment] {
        &self.attachments
    }

    /// Attach the file at `path`; refused for what is not a readable file.
    pub fn add_attachment(&mut self, path: &Path) -> Result<(), String> {
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("cannot attach {}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("{} is not a file", path.display()));
        }
        if self
            .attachments
            .iter()
            .any(|a| a.source == AttachmentSource::File(path.to_path_buf()))
        {
            return Err(format!("{} is already attached", path.display()));
        }
        self.attachments.push(file_attachment(path));
        self.attach_cursor = self.attachments.len() - 1;
        self.touch();
        Ok(())
    }

    /// Remove the attachment at `index`; whether there was one.
    pub fn remove_attachment(&mut self, index: usize) -> bool {
        if index >= self.attachments.len() {
            return false;
        }
        let a = self.attachments.remove(index);
        if let AttachmentSource::Message(id) = a.source
            && self.forward_of == Some(id)
            && let Some(b) = &self.forward_block
        {
            // Forwarding without the original would lose it: inline again.
            let b = b.clone();
            self.insert_block(&b);
        }
        self.attach_cursor = self
            .attach_cursor
            .min(self.attachments.len().saturating_sub(1));
        self.touch();
        true
    }

    fn attach_message(&mut self, desk: &Desk, id: u64) {
        let a = message_attachment(desk, id);
        self.forward_attachment = Some(a.clone());
        self.attachments.push(a);
    }

    /// Whether the original goes as an attachment (else inline).
    pub fn forwards_as_attachment(&self) -> bool {
        self.attachments
            .iter()
            .any(|a| matches!(a.source, AttachmentSource::Message(_)))
    }

    /// Forward the original inline or as a message/rfc822 attachment.
    pub fn set_forward_as_attachment(&mut self, on: bool) -> Result<(), String> {
        let Some(id) = self.forward_of else {
            return Err("Only a forwarded mail can be attached.".into());
        };
        if on == self.forwards_as_attachment() {
            return Ok(());
        }
        if on {
            if let Some(b) = &self.forward_block {
                let body = text(&self.body);
                if let Some(pos) = body.find(b.as_str()) {
                    let mut s = body[..pos].trim_end_matches('\n').to_string();
                    s.push('\n');
                    s.push_str(&body[pos + b.len()..]);
                    self.replace_body(&s);
                }
            }
            let Some(a) = self.forward_attachment.clone() else {
                return Err("The forwarded mail is not available.".into());
            };
            self.attachments.push(a);
            self.attach_cursor = self.attachments.len() - 1;
        } else if let Some(i) = self
            .attachments
            .iter()
            .position(|a| a.source == AttachmentSource::Message(id))
        {
            self.attachments.remove(i);
            if let Some(b) = self.forward_block.clone() {
                self.insert_block(&b);
            }
            self.attach_cursor = 0;
        }
        self.touch();
        Ok(())
    }

    fn insert_block(&mut self, block: &str) {
        let mut body = text(&self.body);
        if !body.ends_with('\n') {
            body.push('\n');
        }
        body.push('\n');
        body.push_str(block);
        self.replace_body(&body);
    }

    /// The attachments' bytes, for sending.
    pub fn file_attachments(&self, desk: &Desk) -> Result<Vec<FileAttachment>, String> {
        let mut out = Vec::new();
        for a in &self.attachments {
            let data = match &a.source {
                AttachmentSource::File(p) => std::fs::read(p)
                    .map_err(|e| format!("cannot read attachment {}: {e}", p.display()))?,
                AttachmentSource::Message(id) => {
                    desk.store().body(*id).ok().flatten().ok_or_else(|| {
                        "the forwarded mail's body is not downloaded yet".to_string()
                    })?
                }
            };
            out.push(FileAttachment {
                filename: a.name.clone(),
                content_type: a.content_type.clone(),
                data,
            });
        }
        Ok(out)
    }

    // ---- identity and signature ----

    /// The chosen identity.
    pub fn current_identity(&self) -> Option<&Identity> {
        self.identity.and_then(|i| self.identities.get(i))
    }

    /// Choose identity `i`, swapping the signature in the body.
    pub fn set_identity(&mut self, i: usize) {
        if i >= self.identities.len() || self.identity == Some(i) {
            return;
        }
        self.identity = Some(i);
        let new_block = self.identities[i].signature.as_deref().map(signature_block);
        let old_block = self.signature_block.take();
        let body = text(&self.body);
        let updated = match (&old_block, &new_block) {
            (Some(o), Some(n)) if body.contains(o.as_str()) => Some(body.replacen(o, n, 1)),
            (Some(o), None) if body.contains(o.as_str()) => {
                let with_gap = format!("\n{o}\n");
                Some(if body.contains(&with_gap) {
                    body.replacen(&with_gap, "", 1)
                } else {
                    body.replacen(o, "", 1)
                })
            }
            (None, Some(n)) => Some(
                match self.quote_marker.as_deref().and_then(|m| body.find(m)) {
                    Some(pos) => format!("{}{n}\n\n{}", &body[..pos], &body[pos..]),
                    None if body.trim().is_empty() => format!("\n\n{n}"),
                    None => format!("{}\n\n{n}", body.trim_end_matches('\n')),
                },
            ),
            _ => None,
        };
        if let Some(b) = updated {
            self.replace_body(&b);
        }
        self.signature_block = new_block;
        self.touch();
    }

    fn cycle_identity(&mut self, forward: bool) {
        let n = self.identities.len();
        if n == 0 {
            return;
        }
        let next = match self.identity {
            None => 0,
            Some(i) if forward => (i + 1) % n,
            Some(i) => (i + n - 1) % n,
        };
        self.set_identity(next);
    }

    /// Replace the body, keeping the cursor where it was when possible.
    fn replace_body(&mut self, body: &str) {
        let (r, c) = {
            let cur = self.body.cursor();
            (cur.0, cur.1)
        };
        self.body = area(body);
        let r = r.min(self.body.lines().len().saturating_sub(1));
        let c = c.min(self.body.lines().get(r).map_or(0, |l| l.chars().count()));
        self.body.move_cursor(CursorMove::Jump(
            u16::try_from(r).unwrap_or(u16::MAX),
            u16::try_from(c).unwrap_or(u16::MAX),
        ));
    }

    // ---- completion ----

    fn address_area(&self, field: usize) -> Option<&TextArea<'static>> {
        match field {
            TO => Some(&self.to),
            CC => Some(&self.cc),
            BCC => Some(&self.bcc),
            _ => None,
        }
    }

    /// The address being typed in To/Cc/Bcc (after the last comma).
    fn typed_token(&self) -> Option<String> {
        let t = self.address_area(self.field)?;
        let line = t.lines().get(t.cursor().0)?;
        let tok = line.rsplit([',', ';']).next().unwrap_or("").trim();
        (!tok.is_empty()).then(|| tok.to_string())
    }

    /// Known addresses completing what is typed in To/Cc/Bcc, best first:
    /// "Name <address>" for display, the address for completion.
    pub fn suggestions(&self) -> Vec<(String, String)> {
        if self.mode != Mode::Edit {
            return vec![];
        }
        let Some(tok) = self.typed_token() else {
            return vec![];
        };
        let tok = tok.to_lowercase();
        let present: Vec<String> = [TO, CC, BCC]
            .iter()
            .filter_map(|f| self.address_area(*f))
            .flat_map(|t| addresses_of(&text(t)))
            .map(|a| a.to_lowercase())
            .collect();
        let mut scored: Vec<(u8, &(String, String))> = self
            .known
            .iter()
            .filter(|(e, _)| *e != tok && !present.contains(e))
            .filter_map(|k| {
                let (e, n) = k;
                let name = n.to_lowercase();
                let score = if e.starts_with(&tok) {
                    0
                } else if name.starts_with(&tok) {
                    1
                } else if name.split_whitespace().any(|w| w.starts_with(&tok)) {
                    2
                } else if e.contains(&tok) {
                    3
                } else {
                    return None;
                };
                Some((score, k))
            })
            .collect();
        scored.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.0.cmp(&b.1.0)));
        scored
            .into_iter()
            .take(5)
            .map(|(_, (e, n))| {
                let shown = if n.is_empty() {
                    e.clone()
                } else {
                    format!("{n} <{e}>")
                };
                (shown, e.clone())
            })
            .collect()
    }

    /// Replace the typed address with the first suggestion; whether it did.
    pub fn complete_recipient(&mut self) -> bool {
        let Some((_, email)) = self.suggestions().into_iter().next() else {
            return false;
        };
        let field = self.field;
        let Some(t) = self.address_area(field) else {
            return false;
        };
        let row = t.cursor().0;
        let mut lines: Vec<String> = t.lines().to_vec();
        let Some(line) = lines.get_mut(row) else {
            return false;
        };
        let head = match line.rfind([',', ';']) {
            Some(i) => format!("{} ", &line[..=i]),
            None => String::new(),
        };
        *line = format!("{head}{email}, ");
        let new = lines.join("\n");
        let mut a = area(&new);
        a.move_cursor(CursorMove::Jump(
            u16::try_from(row).unwrap_or(u16::MAX),
            u16::MAX,
        ));
        a.move_cursor(CursorMove::End);
        match field {
            TO => self.to = a,
            CC => self.cc = a,
            _ => self.bcc = a,
        }
        self.touch();
        true
    }

    // ---- templates ----

    /// Open the template picker.
    pub fn open_templates(&mut self) -> Result<(), String> {
        let names = template_names(&self.templates_dir);
        if names.is_empty() {
            return Err(format!(
                "No templates: put text files in {}.",
                self.templates_dir.display()
            ));
        }
        self.mode = Mode::Templates { names, cursor: 0 };
        Ok(())
    }

    /// Fill template `name` with `ctx` and insert it at the body's cursor.
    pub fn insert_template(&mut self, name: &str, ctx: &TemplateContext) -> Result<(), String> {
        let file = self.templates_dir.join(name);
        let raw = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read template {}: {e}", file.display()))?;
        let r = template::render(&raw, ctx);
        self.field = BODY;
        self.body.insert_str(r.text.trim_end_matches('\n'));
        for u in r.unknown {
            if !self.template_unknown.contains(&u) {
                self.template_unknown.push(u);
            }
        }
        for e in r.empty {
            if !self.template_empty.contains(&e) {
                self.template_empty.push(e);
            }
        }
        self.touch();
        Ok(())
    }

    /// Template placeholders needing a look: unknown ones still in the body
    /// (they block sending) and known ones that were left empty.
    pub fn template_warnings(&self) -> Vec<String> {
        let body = text(&self.body);
        let r = template::Rendered {
            text: String::new(),
            unknown: self
                .template_unknown
                .iter()
                .filter(|u| body.contains(&format!("{{{u}}}")))
                .cloned()
                .collect(),
            empty: self.template_empty.clone(),
        };
        r.warnings()
    }

    // ---- $EDITOR ----

    /// The mail as text for `$EDITOR`: a header block, a blank line, the body.
    pub fn editor_text(&self) -> String {
        let from = self
            .current_identity()
            .map(Identity::label)
            .unwrap_or_default();
        let mut s = format!(
            "From: {from}\nTo: {}\nCc: {}\nBcc: {}\nSubject: {}\n",
            addresses_of(&text(&self.to)).join(", "),
            addresses_of(&text(&self.cc)).join(", "),
            addresses_of(&text(&self.bcc)).join(", "),
            text(&self.subject).replace('\n', " "),
        );
        for a in &self.attachments {
            if let AttachmentSource::File(p) = &a.source {
                s.push_str(&format!("Attach: {}\n", p.display()));
            }
        }
        s.push('\n');
        s.push_str(&text(&self.body));
        s.push('\n');
        s
    }

    /// Read back what `$EDITOR` left: the header block and the body.
    /// Nothing changes when the text cannot be read.
    pub fn apply_editor_text(&mut self, text_in: &str) -> Result<(), String> {
        let t = text_in.replace("\r\n", "\n");
        let (head, body) = match t.split_once("\n\n") {
            Some((h, b)) => (h, b),
            None if t.trim_end().lines().all(|l| l.contains(':')) => (t.trim_end(), ""),
            None => {
                return Err(
                    "The header block (From:, To:, Cc:, Bcc:, Subject:) must end with an empty line."
                        .into(),
                );
            }
        };
        let body = body.strip_suffix('\n').unwrap_or(body);
        let mut headers: Vec<(String, String)> = Vec::new();
        for (n, line) in head.lines().enumerate() {
            if line.starts_with([' ', '\t']) {
                match headers.last_mut() {
                    Some((_, v)) => {
                        v.push(' ');
                        v.push_str(line.trim());
                    }
                    None => return Err(format!("Header line {} continues nothing.", n + 1)),
                }
                continue;
            }
            let Some((k, v)) = line.split_once(':') else {
                return Err(format!(
                    "Header line {} has no \"Name:\": {}",
                    n + 1,
                    crate::mail::sanitize::sanitize_line(line)
                ));
            };
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let mut identity = self.identity;
        let (mut to, mut cc, mut bcc, mut subject) =
            (String::new(), String::new(), String::new(), String::new());
        let mut files: Vec<PathBuf> = Vec::new();
        for (k, v) in headers {
            match k.as_str() {
                "from" => identity = self.identity_from_text(&v)?,
                "to" => to = join_addr(&to, &v),
                "cc" => cc = join_addr(&cc, &v),
                "bcc" => bcc = join_addr(&bcc, &v),
                "subject" => subject = v,
                "attach" => {
                    if !v.is_empty() {
                        files.push(expand_home(&v));
                    }
                }
                other => {
                    return Err(format!(
                        "Unknown header \"{}\"; use From, To, Cc, Bcc, Subject or Attach.",
                        crate::mail::sanitize::sanitize_line(other)
                    ));
                }
            }
        }
        for f in &files {
            if !f.is_file() {
                return Err(format!("Attach: {} is not a readable file.", f.display()));
            }
        }
        if let Some(i) = identity
            && self.identity != Some(i)
        {
            self.set_identity(i);
        }
        self.identity = identity;
        self.to = area(&to);
        self.cc = area(&cc);
        self.bcc = area(&bcc);
        self.subject = area(&subject);
        self.body = area(body);
        self.signature_block = self
            .current_identity()
            .and_then(|i| i.signature.as_deref())
            .map(signature_block)
            .filter(|b| body.contains(b.as_str()));
        self.attachments.retain(|a| match &a.source {
            AttachmentSource::File(p) => files.contains(p),
            AttachmentSource::Message(_) => true,
        });
        for f in files {
            if !self
                .attachments
                .iter()
                .any(|a| a.source == AttachmentSource::File(f.clone()))
            {
                self.attachments.push(file_attachment(&f));
            }
        }
        self.attach_cursor = 0;
        self.touch();
        Ok(())
    }

    fn identity_from_text(&self, v: &str) -> Result<Option<usize>, String> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        if let Some(i) = self.identities.iter().position(|i| i.label() == v) {
            return Ok(Some(i));
        }
        let email = match (v.find('<'), v.find('>')) {
            (Some(a), Some(b)) if a < b => v[a + 1..b].trim(),
            _ => v.split_whitespace().next().unwrap_or(v),
        };
        let account = v
            .rsplit_once('(')
            .and_then(|(_, r)| r.strip_suffix(')'))
            .map(str::trim);
        let by_email = |acc: Option<&str>| {
            self.identities.iter().position(|i| {
                i.email.eq_ignore_ascii_case(email) && acc.is_none_or(|a| a == i.account)
            })
        };
        by_email(account)
            .or_else(|| by_email(None))
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "From: \"{}\" is none of your identities ({}).",
                    crate::mail::sanitize::sanitize_line(v),
                    self.identities
                        .iter()
                        .map(|i| i.email.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    // ---- input ----

    fn current(&mut self) -> Option<&mut TextArea<'static>> {
        match self.field {
            TO => Some(&mut self.to),
            CC => Some(&mut self.cc),
            BCC => Some(&mut self.bcc),
            SUBJECT => Some(&mut self.subject),
            BODY => Some(&mut self.body),
            _ => None,
        }
    }

    fn open_attach_prompt(&mut self) {
        let start = std::env::var("HOME")
            .map(|h| format!("{}/", h.trim_end_matches('/')))
            .unwrap_or_default();
        self.mode = Mode::AttachPrompt {
            input: start,
            matches: vec![],
        };
    }

    /// Typed text goes to the current field; Enter only breaks lines in the body.
    pub fn input(&mut self, key: Key) {
        self.handle_input(key);
        self.sync_cursors();
    }

    fn handle_input(&mut self, key: Key) {
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
                        match self.add_attachment(&path) {
                            Ok(()) => {
                                self.mode = Mode::Edit;
                                self.notice =
                                    Some((format!("Attached {}.", path.display()), false));
                            }
                            Err(e) => self.notice = Some((e, true)),
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
                            match self.insert_template(&name, &ctx) {
                                Ok(()) => {
                                    let flagged = !self.template_warnings().is_empty();
                                    self.notice = Some(if flagged {
                                        (
                                            format!(
                                                "Inserted template {name}; look at the flagged placeholders."
                                            ),
                                            true,
                                        )
                                    } else {
                                        (format!("Inserted template {name}."), false)
                                    });
                                }
                                Err(e) => self.notice = Some((e, true)),
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
                _ => {}
            },
            ATTACH => match key.code {
                KeyCode::Enter | KeyCode::Char('a') => self.open_attach_prompt(),
                KeyCode::Delete | KeyCode::Backspace | KeyCode::Char('d') => {
                    let i = self.attach_cursor;
                    if self.remove_attachment(i) {
                        self.notice = Some(("Attachment removed.".into(), false));
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
                            self.notice = Some((
                                if on {
                                    "The original goes as an attachment.".into()
                                } else {
                                    "The original goes inline.".into()
                                },
                                false,
                            ))
                        }
                        Err(e) => self.notice = Some((e, true)),
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

fn message_attachment(desk: &Desk, id: u64) -> ComposeAttachment {
    let size = desk
        .store()
        .body(id)
        .ok()
        .flatten()
        .map(|b| b.len() as u64)
        .unwrap_or(0);
    let subject = desk.summary(id).map(|s| s.subject).unwrap_or_default();
    let mut name: String = subject
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    if name.trim().is_empty() {
        name = "message".into();
    }
    ComposeAttachment {
        name: format!("{}.eml", name.trim()),
        size,
        content_type: "message/rfc822".into(),
        source: AttachmentSource::Message(id),
    }
}

fn join_addr(a: &str, b: &str) -> String {
    if a.trim().is_empty() {
        b.to_string()
    } else if b.trim().is_empty() {
        a.to_string()
    } else {
        format!("{a}, {b}")
    }
}

fn file_attachment(p: &Path) -> ComposeAttachment {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".into());
    ComposeAttachment {
        size: std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
        content_type: content_type_for(&name).to_string(),
        name,
        source: AttachmentSource::File(p.to_path_buf()),
    }
}

impl ComposeState {
    fn header_fields(&self) -> [(&'static str, &TextArea<'static>); 4] {
        [
            ("To", &self.to),
            ("Cc", &self.cc),
            ("Bcc", &self.bcc),
            ("Subject", &self.subject),
        ]
    }

    /// Every recipient of one address field.
    pub fn recipients(&self, field: usize) -> Vec<String> {
        self.address_area(field)
            .map(|t| addresses_of(&text(t)))
            .unwrap_or_default()
    }

    /// The Bcc the mail gets: the typed ones plus the archive address when
    /// the identity asks for it.
    pub fn effective_bcc(&self) -> Vec<String> {
        let mut bcc = self.recipients(BCC);
        if let (Some(id), Some(sys)) = (self.current_identity(), &self.system_address)
            && id.archive_bcc
            && !bcc.iter().any(|b| b.eq_ignore_ascii_case(sys))
        {
            bcc.push(sys.clone());
        }
        bcc
    }

    /// Why Send is refused now, if it is.
    pub fn blocked_reason(&self) -> Option<String> {
        if self.recipients(TO).is_empty() {
            return Some("Add a recipient in To.".into());
        }
        if self.current_identity().is_none() {
            return Some("Choose who the mail is from (From row: Space or ←/→).".into());
        }
        if let Some(id) = self.current_identity()
            && (id.name.contains(['\r', '\n']) || id.email.contains(['\r', '\n']))
        {
            return Some(
                "The identity's name or address contains a line break; fix identities.toml.".into(),
            );
        }
        for (name, t) in self.header_fields() {
            let lines = t.lines();
            let multi_line = name == "Subject" && lines.len() > 1;
            if multi_line || lines.iter().any(|l| l.contains(['\r', '\n'])) {
                return Some(format!(
                    "{name} contains a line break; header fields must be one line."
                ));
            }
        }
        for (name, field) in [("To", TO), ("Cc", CC), ("Bcc", BCC)] {
            for a in self.recipients(field) {
                if let Err(e) = crate::mail::address::validate_recipient(&a) {
                    return Some(format!(
                        "{name}: {}: {e}",
                        crate::mail::sanitize::sanitize_line(&a)
                    ));
                }
            }
        }
        if text(&self.subject).trim().is_empty() {
            return Some("Write a subject.".into());
        }
        let body = text(&self.body);
        if !self.has_own_text(&body) {
            return Some("Write the message body.".into());
        }
        let unknown: Vec<String> = self
            .template_unknown
            .iter()
            .filter(|u| body.contains(&format!("{{{u}}}")))
            .map(|u| format!("{{{u}}}"))
            .collect();
        if !unknown.is_empty() {
            return Some(format!(
                "{} {} not a known placeholder; fix or remove it.",
                unknown.join(", "),
                if unknown.len() == 1 { "is" } else { "are" }
            ));
        }
        for a in &self.attachments {
            if let AttachmentSource::File(p) = &a.source
                && !p.is_file()
            {
                return Some(format!(
                    "The attachment {} is gone; remove it or put the file back.",
                    p.display()
                ));
            }
        }
        None
    }

    /// Whether `body` holds more than the signature and the quote (a
    /// forward's original counts as content).
    fn has_own_text(&self, body: &str) -> bool {
        if self.forwards_as_attachment()
            || self
                .forward_block
                .as_deref()
                .is_some_and(|b| body.contains(b))
        {
            return !body.trim().is_empty();
        }
        let mut rest = body.to_string();
        if let Some(s) = &self.signature_block {
            rest = rest.replacen(s.as_str(), "", 1);
        }
        if let Some(m) = &self.quote_marker {
            rest = rest.replacen(m.as_str(), "", 1);
        }
        rest.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('>'))
    }

    /// The mail to queue, once [`ComposeState::blocked_reason`] is `None`.
    pub fn outgoing(&self, desk: &Desk) -> Result<Outgoing, String> {
        if let Some(r) = self.blocked_reason() {
            return Err(r);
        }
        let Some(id) = self.current_identity() else {
            return Err("Choose who the mail is from.".into());
        };
        let checked = |v: Vec<String>| -> Result<Vec<String>, String> {
            v.iter()
                .map(|a| crate::mail::address::validate_recipient(a).map_err(|e| e.to_string()))
                .collect()
        };
        Ok(Outgoing {
            account: id.account.clone(),
            from_name: id.name.clone(),
            from: id.email.clone(),
            to: checked(self.recipients(TO))?,
            cc: checked(self.recipients(CC))?,
            bcc: checked(self.effective_bcc())?,
            subject: text(&self.subject).trim().to_string(),
            body: text(&self.body),
            in_reply_to: self.in_reply_to,
            attachments: self.file_attachments(desk)?,
        })
    }

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

    /// Handle a bound action: `(close overlay, commands, status message)`.
    pub fn action(
        &mut self,
        desk: &Arc<Desk>,
        action: Action,
    ) -> (bool, Vec<Command>, Option<(String, bool)>) {
        let r = self.handle_action(desk, action);
        self.sync_cursors();
        r
    }

    fn handle_action(
        &mut self,
        desk: &Arc<Desk>,
        action: Action,
    ) -> (bool, Vec<Command>, Option<(String, bool)>) {
        match &mut self.mode {
            Mode::AttachPrompt { input, matches } => {
                match action {
                    Action::NextField => {
                        let (completed, found) = complete_path(input);
                        *input = completed;
                        *matches = found;
                        if matches.is_empty() {
                            self.notice = Some(("No file matches.".into(), true));
                        }
                    }
                    Action::Cancel | Action::Back => {
                        self.mode = Mode::Edit;
                        self.notice = None;
                    }
                    _ => {}
                }
                return (false, vec![], None);
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
                return (false, vec![], None);
            }
            Mode::ConfirmClose { discard } => {
                let discard = *discard;
                self.mode = Mode::Edit;
                self.notice = None;
                if matches!(action, Action::Cancel | Action::Back) {
                    return self.close(desk, discard);
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
                    return (true, vec![], None);
                }
                let saved = self.save_draft(desk.store());
                self.mode = Mode::ConfirmClose { discard: false };
                let msg = match saved {
                    Ok(_) => (
                        "Draft saved. Esc again closes and keeps it; d then Esc discards it; any other key goes back to writing."
                            .to_string(),
                        false,
                    ),
                    Err(e) => (
                        format!(
                            "The draft could not be saved ({e}). Esc again closes anyway; any other key goes back to writing."
                        ),
                        true,
                    ),
                };
                self.notice = Some(msg.clone());
                return (false, vec![], Some(msg));
            }
            Action::InsertTemplate => {
                let to = self.recipients(TO).into_iter().next();
                self.template_ctx = Some(template_context(desk, self.in_reply_to, to.as_deref()));
                if let Err(e) = self.open_templates() {
                    self.notice = Some((e.clone(), true));
                    return (false, vec![], Some((e, true)));
                }
            }
            Action::ExternalEditor => self.wants_editor = true,
            Action::Send => {
                let out = match self.outgoing(desk) {
                    Ok(o) => o,
                    Err(reason) => {
                        return (
                            false,
                            vec![],
                            Some((format!("Cannot send yet: {reason}"), true)),
                        );
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
                };
                if let Err(e) = crate::outbox::message::build(&probe, None) {
                    return (false, vec![], Some((format!("Cannot send: {e}"), true)));
                }
                if self.draft_id != 0 {
                    // The outbox has the mail from here on; a draft left
                    // behind would be offered again after a restart.
                    if let Err(e) = desk.store().delete_draft(self.draft_id) {
                        tracing::warn!("could not delete draft {}: {e}", self.draft_id);
                    }
                    self.saved = false;
                }
                self.dirty = false;
                return (true, vec![Command::Send(Box::new(out))], None);
            }
            _ => {}
        }
        (false, vec![], None)
    }

    /// Close the pane, keeping the draft saved or discarding it.
    fn close(
        &mut self,
        desk: &Arc<Desk>,
        discard: bool,
    ) -> (bool, Vec<Command>, Option<(String, bool)>) {
        if discard {
            if self.draft_id != 0
                && let Err(e) = desk.store().delete_draft(self.draft_id)
            {
                return (
                    true,
                    vec![],
                    Some((format!("Could not discard the draft: {e}"), true)),
                );
            }
            self.saved = false;
            self.dirty = false;
            return (true, vec![], Some(("Draft discarded.".into(), false)));
        }
        if self.dirty
            && let Err(e) = self.save_draft(desk.store())
        {
            return (
                true,
                vec![],
                Some((format!("Could not save the draft: {e}"), true)),
            );
        }
        (
            true,
            vec![],
            Some((
                "Draft kept; it is offered again on the next start.".into(),
                false,
            )),
        )
    }

    /// A one-line summary of the attachments with sizes.
    pub fn attachment_line(&self) -> Vec<String> {
        self.attachments
            .iter()
            .map(|a| format!("{} ({})", a.name, human_size(a.size)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ComposeSettings {
        ComposeSettings::parse(
            r#"
[[identity]]
account = "support"
name = "Support Team"
signature = "Support Team\nhttps://desk.example"
archive_bcc = true

[[identity]]
account = "support"
name = "Escalations"
email = "escalations@desk.example"
agents = ["boris@desk.example"]
"#,
        )
        .expect("settings")
    }

    fn blank() -> ComposeState {
        ComposeState::blank(&crate::demo::demo_config(), &settings())
    }

    fn key(code: KeyCode) -> Key {
        Key {
            code,
            mods: KeyModifiers::NONE,
        }
    }

    fn typ(c: &mut ComposeState, s: &str) {
        for ch in s.chars() {
            c.input(key(KeyCode::Char(ch)));
        }
    }

    #[test]
    fn reply_prefix_is_never_stacked() {
        for (s, want) in [
            ("Hello", "Re: Hello"),
            ("Re: Hello", "Re: Hello"),
            ("RE: re: Hello", "Re: Hello"),
            ("Re[2]: Hello", "Re: Hello"),
            ("Отв: Привет", "Re: Привет"),
            ("ОТВ: Re: Привет", "Re: Привет"),
            ("re : Hello", "Re: Hello"),
            ("Re：Hello", "Re: Hello"),
            ("Regarding: x", "Re: Regarding: x"),
            ("Reply needed", "Re: Reply needed"),
            ("", "Re: "),
        ] {
            assert_eq!(reply_subject(s), want, "{s}");
        }
        assert_eq!(forward_subject("Fwd: FW: Hello"), "Fwd: Hello");
        assert_eq!(forward_subject("Re: Hello"), "Fwd: Re: Hello");
    }

    #[test]
    fn identities_follow_the_file_and_the_agent() {
        let c = blank();
        // Escalations is for Boris only; Alice gets Support Team and her own.
        let labels: Vec<String> = c.identities.iter().map(Identity::label).collect();
        assert_eq!(
            labels,
            vec![
                "Support Team <support@desk.example> (support)",
                "Alice Agent <alice@desk.example> (alice)",
            ]
        );
        assert!(c.identity.is_none(), "two identities: nothing chosen");
        let d = ComposeState::blank(&crate::demo::demo_config(), &ComposeSettings::default());
        assert_eq!(d.identities[0].label(), "support@desk.example (support)");
    }

    #[test]
    fn signature_follows_the_identity() {
        let mut c = blank();
        c.quote_marker = Some("On x, y wrote:".into());
        c.body = area("\n\nOn x, y wrote:\n> hi");
        c.set_identity(0);
        let b = text(&c.body);
        assert!(
            b.contains("-- \nSupport Team\nhttps://desk.example\n\nOn x, y wrote:"),
            "{b:?}"
        );
        c.set_identity(1);
        let b = text(&c.body);
        assert!(!b.contains("-- "), "{b:?}");
        assert!(b.contains("On x, y wrote:\n> hi"), "{b:?}");
    }

    #[test]
    fn archive_bcc_is_added_for_the_identity() {
        let mut c = blank();
        c.set_identity(0);
        assert_eq!(c.effective_bcc(), vec!["desk@desk.example"]);
        c.set_identity(1);
        assert!(c.effective_bcc().is_empty());
    }

    #[test]
    fn send_is_refused_until_valid() {
        let mut c = blank();
        assert!(c.blocked_reason().is_some_and(|r| r.contains("recipient")));
        c.field = TO;
        typ(&mut c, "ann@example.com");
        assert!(c.blocked_reason().is_some_and(|r| r.contains("from")));
        c.set_identity(1);
        assert!(c.blocked_reason().is_some_and(|r| r.contains("subject")));
        c.subject = area("Hello\nBcc: evil@example.com");
        assert!(
            c.blocked_reason().is_some_and(|r| r.contains("line break")),
            "{:?}",
            c.blocked_reason()
        );
        c.subject = area("Hello");
        assert!(c.blocked_reason().is_some_and(|r| r.contains("body")));
        c.body = area("Hi Ann");
        assert_eq!(c.blocked_reason(), None);
        c.cc = area("bob@example.com, \u{0430}lice@example.com");
        let r = c.blocked_reason().unwrap_or_default();
        assert!(r.contains('\u{0430}') && r.contains("Cc"), "{r}");
    }

    #[test]
    fn editor_text_round_trips() {
        let mut c = blank();
        c.set_identity(0);
        c.to = area("ann@example.com, bob@example.com");
        c.cc = area("carol@example.com");
        c.subject = area("Your order");
        c.body = area("Hello Ann,\n\nline two\n\n-- \nsig\n");
        let t = c.editor_text();
        assert!(
            t.starts_with(
                "From: Support Team <support@desk.example> (support)\nTo: ann@example.com, bob@example.com\nCc: carol@example.com\nBcc: \nSubject: Your order\n\nHello Ann,"
            ),
            "{t}"
        );
        let mut d = blank();
        d.apply_editor_text(&t).expect("applies");
        assert_eq!(d.identity, Some(0));
        assert_eq!(d.editor_text(), t);
        assert_eq!(text(&d.body), text(&c.body));
        assert!(d.is_dirty());

        // Edited in the editor: new identity, wrapped To, CRLF endings.
        let edited = "From: alice@desk.example\r\nTo: ann@example.com,\r\n  dan@example.com\r\nSubject: Changed\r\n\r\nNew body\r\n";
        d.apply_editor_text(edited).expect("applies");
        assert_eq!(d.identity, Some(1));
        assert_eq!(
            d.recipients(TO),
            vec!["ann@example.com".to_string(), "dan@example.com".to_string()]
        );
        assert!(d.recipients(CC).is_empty());
        assert_eq!(text(&d.subject), "Changed");
        assert_eq!(text(&d.body), "New body");

        let before = d.editor_text();
        assert!(
            d.apply_editor_text("From: nobody@else.example\n\nx")
                .is_err()
        );
        assert!(d.apply_editor_text("X-Evil: 1\n\nx").is_err());
        assert!(d.apply_editor_text("just a body without headers").is_err());
        assert_eq!(d.editor_text(), before, "a failed read changes nothing");
    }

    #[test]
    fn completion_from_known_addresses() {
        let mut c = blank();
        c.known = vec![
            ("ann.lee@example.com".into(), "Ann Lee".into()),
            ("bob@example.com".into(), "Bob Stone".into()),
            ("anna@other.example".into(), String::new()),
        ];
        c.field = TO;
        typ(&mut c, "an");
        let s = c.suggestions();
        assert_eq!(s[0].1, "ann.lee@example.com");
        assert_eq!(s[0].0, "Ann Lee <ann.lee@example.com>");
        assert!(c.complete_recipient());
        typ(&mut c, "sto");
        assert_eq!(c.suggestions()[0].1, "bob@example.com");
        assert!(c.complete_recipient());
        assert_eq!(
            c.recipients(TO),
            vec![
                "ann.lee@example.com".to_string(),
                "bob@example.com".to_string()
            ]
        );
        // Nothing typed: no suggestion, Tab moves on.
        assert!(c.suggestions().is_empty());
        assert!(!c.complete_recipient());
    }

    #[test]
    fn path_completion() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("invoice-2026.pdf"), b"x").expect("w");
        std::fs::write(dir.path().join("invoice-2025.pdf"), b"x").expect("w");
        std::fs::create_dir(dir.path().join("scans")).expect("mkdir");
        std::fs::write(dir.path().join(".hidden"), b"x").expect("w");
        let base = format!("{}/", dir.path().display());
        let (done, found) = complete_path(&format!("{base}inv"));
        assert_eq!(done, format!("{base}invoice-202"));
        assert_eq!(found.len(), 2);
        let (done, _) = complete_path(&format!("{base}sc"));
        assert_eq!(done, format!("{base}scans/"));
        let (_, found) = complete_path(&base);
        assert!(!found.iter().any(|f| f.starts_with('.')), "{found:?}");
    }

    #[test]
    fn attachments_add_and_remove() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("report.pdf");
        std::fs::write(&f, vec![0u8; 2048]).expect("w");
        let mut c = blank();
        c.add_attachment(&f).expect("added");
        assert!(c.add_attachment(&f).is_err(), "twice");
        assert!(c.add_attachment(dir.path()).is_err(), "a directory");
        assert_eq!(c.attachment_line(), vec!["report.pdf (2 KB)"]);
        assert_eq!(c.attachments()[0].content_type, "application/pdf");
        assert_eq!(c.draft().attachments, vec![f.clone()]);
        c.field = ATTACH;
        c.input(key(KeyCode::Char('d')));
        assert!(c.attachments().is_empty());
    }

    #[test]
    fn autosave_waits_for_a_pause() {
        let mut c = blank();
        let now = Instant::now();
        assert!(!c.autosave_due(now), "nothing typed");
        c.field = BODY;
        typ(&mut c, "x");
        let t = c.last_edit.unwrap_or(now);
        assert!(!c.autosave_due(t));
        assert!(c.autosave_due(t + AUTOSAVE_IDLE));
    }

    #[test]
    fn unknown_template_placeholder_blocks_until_removed() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("thanks"),
            "Dear {Person.name}, re {Case.nmber}. {User.name}\n",
        )
        .expect("w");
        let mut c = blank();
        c.templates_dir = dir.path().to_path_buf();
        c.set_identity(1);
        c.to = area("ann@example.com");
        c.subject = area("Hi");
        let mut ctx = TemplateContext::new();
        ctx.set("Person.name", "Ann").set("User.name", "Alice");
        c.insert_template("thanks", &ctx).expect("inserted");
        assert_eq!(text(&c.body), "Dear Ann, re {Case.nmber}. Alice");
        let r = c.blocked_reason().unwrap_or_default();
        assert!(r.contains("{Case.nmber}"), "{r}");
        assert!(c.template_warnings()[0].contains("{Case.nmber}"));
        c.body = area("Dear Ann. Alice");
        assert_eq!(c.blocked_reason(), None);
    }
}
