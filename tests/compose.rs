//! The compose pane against the demo desk on a real store in a temp dir:
//! recipients of replies, subjects, validation, templates from linked
//! records, the `$EDITOR` round trip, drafts that survive a crash, and
//! attachments.

use deskmail::desk::{Backend, Command, Desk, Event};
use deskmail::protocol::{DeskClient, PageFrom, PageQuery};
use deskmail::store::{MessageSummary, Party, RecordKind, Store};
use deskmail::tui::action::Action;
use deskmail::tui::compose::{ATTACH, BODY, CC, ComposeSettings, ComposeState, Mode, TO};
use deskmail::tui::keymap::Key;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc::UnboundedReceiver;

/// One demo desk built once for the whole file, copied per test.
fn demo_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        // Templates and identities are looked up here, never in the real home.
        let cfg = tempfile::tempdir().expect("tmp");
        unsafe { std::env::set_var("XDG_CONFIG_HOME", cfg.path()) };
        std::mem::forget(cfg);
        let d = tempfile::tempdir().expect("tmp");
        let s = Store::open(d.path()).expect("open");
        deskmail::demo::build(&s, 320, 7).expect("demo");
        s.flush().expect("flush");
        d
    })
    .path()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).expect("copy");
        }
    }
}

struct Env {
    desk: Arc<Desk>,
    _events: UnboundedReceiver<Event>,
    rt: tokio::runtime::Runtime,
}

impl Env {
    fn open(dir: &Path) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("rt");
        let store = Arc::new(Store::open(dir).expect("open"));
        let (desk, events) = {
            let _g = rt.enter();
            Desk::new(store, deskmail::demo::demo_config(), Backend::Demo)
        };
        Env {
            desk,
            _events: events,
            rt,
        }
    }

    fn fresh() -> (Env, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tmp");
        copy_dir(demo_dir(), dir.path());
        (Env::open(dir.path()), dir)
    }

    /// Newest mails of the support INBOX.
    fn inbox(&self) -> Vec<MessageSummary> {
        let q = PageQuery {
            account: "support".into(),
            folder: "INBOX".into(),
            from: PageFrom::After,
            cursor: None,
            n: 100,
            collapsed: false,
        };
        self.desk
            .page(&q)
            .expect("page")
            .into_iter()
            .map(|r| r.summary)
            .collect()
    }

    fn action(
        &self,
        c: &mut ComposeState,
        a: Action,
    ) -> (bool, Vec<Command>, Option<(String, bool)>) {
        let _g = self.rt.enter();
        let out = c.action(&self.desk, a);
        // Draft keeping runs on the desk as it would in the interface.
        for cmd in &out.commands {
            if matches!(cmd, Command::SaveDraft(_) | Command::DeleteDraft { .. }) {
                self.desk.send(cmd.clone());
            }
        }
        let msg = out.message.map(|m| (m.text, m.is_error));
        (out.close, out.commands, msg)
    }

    fn drafts(&self) -> Vec<deskmail::store::drafts::StoredDraft> {
        self.desk.drafts().expect("drafts")
    }
}

fn keys(env: &Env, c: &mut ComposeState, s: &str) {
    for k in Key::parse_sequence(s).expect("keys") {
        c.input(&env.desk, k);
    }
}

fn typ(env: &Env, c: &mut ComposeState, s: &str) {
    for ch in s.chars() {
        c.input(
            &env.desk,
            Key {
                code: crossterm::event::KeyCode::Char(ch),
                mods: crossterm::event::KeyModifiers::NONE,
            },
        );
    }
}

fn start(env: &Env, action: Action, base: Option<&MessageSummary>) -> ComposeState {
    ComposeState::start_with(&env.desk, action, base, &ComposeSettings::default()).expect("start")
}

fn party(e: &str) -> Party {
    Party {
        name: String::new(),
        email: e.into(),
    }
}

#[test]
fn reply_all_leaves_out_own_and_agents_addresses() {
    let (env, _dir) = Env::fresh();
    let mut m = env.inbox().into_iter().next().expect("a mail");
    let customer = m.from[0].email.clone();
    m.to = vec![
        party("support@desk.example"),
        party("Boris@Desk.Example"),
        party("carol@northwind.example"),
    ];
    m.cc = vec![
        party("alice@desk.example"),
        party("carol@northwind.example"),
        party("DESK@desk.example"),
        party("dan@contoso.example"),
        party(&customer),
    ];
    let c = start(&env, Action::ReplyAll, Some(&m));
    assert_eq!(c.recipients(TO), vec![customer.clone()]);
    assert_eq!(
        c.recipients(CC),
        vec![
            "carol@northwind.example".to_string(),
            "dan@contoso.example".to_string()
        ]
    );
    // Answered from the identity the mail came to.
    assert_eq!(
        c.current_identity().map(|i| i.account.as_str()),
        Some("support")
    );
    assert_eq!(c.in_reply_to, Some(m.id));
    assert_eq!(c.field, BODY);
    let r = start(&env, Action::Reply, Some(&m));
    assert_eq!(r.recipients(TO), vec![customer]);
    assert!(r.recipients(CC).is_empty());

    // Our own mail (in Sent): reply-all goes to its recipients.
    let mut own = m.clone();
    own.from = vec![party("alice@desk.example")];
    let c = start(&env, Action::ReplyAll, Some(&own));
    assert_eq!(
        c.recipients(TO),
        vec!["carol@northwind.example".to_string()]
    );
    assert!(!c.recipients(CC).iter().any(|e| e.contains("desk.example")));
}

#[test]
fn re_is_not_stacked_and_the_quote_has_an_attribution() {
    let (env, _dir) = Env::fresh();
    let mut m = env.inbox().into_iter().next().expect("a mail");
    for s in ["Re: Printer", "RE: Отв: re: Printer", "Printer"] {
        m.subject = s.into();
        let c = start(&env, Action::Reply, Some(&m));
        assert_eq!(c.subject.lines().join(""), "Re: Printer", "{s}");
    }
    m.subject = "Fwd: Printer".into();
    let f = start(&env, Action::Forward, Some(&m));
    assert_eq!(f.subject.lines().join(""), "Fwd: Printer");
    let c = start(&env, Action::Reply, Some(&m));
    let body = c.body.lines().join("\n");
    assert!(body.contains(" wrote:\n> "), "{body}");
}

#[test]
fn mixed_script_recipient_is_refused_naming_the_character() {
    let (env, _dir) = Env::fresh();
    let mut c = start(&env, Action::Compose, None);
    keys(&env, &mut c, "<Space>");
    assert!(c.current_identity().is_some());
    c.field = TO;
    typ(&env, &mut c, "\u{0430}lice@example.com");
    c.field = 4;
    typ(&env, &mut c, "Hello");
    c.field = BODY;
    typ(&env, &mut c, "Body");
    let reason = c.blocked_reason().expect("refused");
    assert!(reason.contains('\u{0430}'), "{reason}");
    assert!(reason.contains("Cyrillic"), "{reason}");
    let (close, cmds, msg) = env.action(&mut c, Action::Send);
    assert!(!close && cmds.is_empty());
    let (msg, is_err) = msg.expect("a reason");
    assert!(is_err && msg.contains('\u{0430}'), "{msg}");
}

#[test]
fn template_placeholders_are_filled_from_linked_records_and_unknown_ones_flagged() {
    let (env, _dir) = Env::fresh();
    // A mail linked to a case (and through it to its contact).
    let case = env
        .desk
        .records(RecordKind::Case)
        .expect("records")
        .into_iter()
        .find(|c| c.field("number").is_some() && c.parent.is_some())
        .expect("a case");
    let id = env
        .desk
        .store()
        .messages_of(case.reference())
        .expect("messages")
        .into_iter()
        .next()
        .expect("a mail of the case");
    let m = env.desk.summary(id).expect("summary").expect("a mail");
    let contact = env
        .desk
        .record(case.parent.expect("parent"))
        .expect("record")
        .expect("contact");
    let tdir = deskmail::config::paths::config_dir().join("templates");
    std::fs::create_dir_all(&tdir).expect("mkdir");
    std::fs::write(
        tdir.join("case-update"),
        "Dear {Person.name},\nabout case #{Case.number} ({Case.name}).\n{Signoff.text}\n{User.name}\n",
    )
    .expect("write");
    std::fs::write(tdir.join("plain"), "Thanks!\n").expect("write");
    let mut c = start(&env, Action::Reply, Some(&m));
    let (close, _, msg) = env.action(&mut c, Action::InsertTemplate);
    assert!(!close && msg.is_none(), "{msg:?}");
    match &c.mode {
        Mode::Templates { names, .. } => assert_eq!(names, &["case-update", "plain"]),
        other => panic!("no picker: {other:?}"),
    }
    let shown = screen(&c, 100, 30);
    assert!(shown.contains("Template — Enter insert"), "{shown}");
    assert!(
        shown.contains("case-update") && shown.contains("plain"),
        "{shown}"
    );
    keys(&env, &mut c, "<Enter>");
    assert_eq!(c.mode, Mode::Edit);
    let shown = screen(&c, 100, 30);
    assert!(
        shown.contains("{Signoff.text} is not a known placeholder"),
        "{shown}"
    );
    if std::env::var_os("SHOW_COMPOSE").is_some() {
        println!("{shown}");
    }
    let body = c.body.lines().join("\n");
    assert!(
        body.starts_with(&format!("Dear {},", contact.name)),
        "{body}"
    );
    let number = case.field("number").unwrap_or_default();
    assert!(
        body.contains(&format!("case #{number} ({})", case.name)),
        "{body}"
    );
    assert!(body.contains("{Signoff.text}\nAlice Agent"), "{body}");
    let warnings = c.template_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("{Signoff.text}")),
        "{warnings:?}"
    );
    let (close, cmds, msg) = env.action(&mut c, Action::Send);
    assert!(!close && cmds.is_empty());
    assert!(msg.is_some_and(|(m, _)| m.contains("{Signoff.text}")));
    // Removing the unknown placeholder lets the mail go.
    let fixed = c.editor_text().replace("{Signoff.text}", "Best regards,");
    c.apply_editor_text(&env.desk, &fixed).expect("apply");
    assert_eq!(c.blocked_reason(), None);
}

#[test]
fn editor_round_trip_of_a_reply() {
    let (env, _dir) = Env::fresh();
    let m = env.inbox().into_iter().nth(3).expect("a mail");
    let mut c = start(&env, Action::ReplyAll, Some(&m));
    typ(&env, &mut c, "Thanks, fixed.");
    let (_, _, _) = env.action(&mut c, Action::ExternalEditor);
    assert!(c.wants_editor);
    let t = c.editor_text();
    assert!(t.starts_with("From: "), "{t}");
    assert!(t.contains("\nSubject: Re: "), "{t}");
    let mut d = start(&env, Action::Compose, None);
    d.apply_editor_text(&env.desk, &t).expect("apply");
    assert_eq!(d.editor_text(), t);
    assert_eq!(d.current_identity(), c.current_identity());
    assert_eq!(d.body.lines(), c.body.lines());
}

#[test]
fn draft_survives_a_crash_and_is_deleted_after_send() {
    let dir = tempfile::tempdir().expect("tmp");
    copy_dir(demo_dir(), dir.path());
    let draft_id = {
        let env = Env::open(dir.path());
        let m = env.inbox().into_iter().next().expect("a mail");
        let mut c = start(&env, Action::Reply, Some(&m));
        typ(&env, &mut c, "Half-written answer");
        assert!(c.autosave_due(std::time::Instant::now() + std::time::Duration::from_secs(3)));
        env.desk.send(c.save_draft());
        let id = c.draft_id();
        assert!(!c.autosave_due(std::time::Instant::now() + std::time::Duration::from_secs(60)));
        typ(&env, &mut c, " and more");
        env.desk.send(c.save_draft());
        assert_eq!(c.draft_id(), id);
        id
        // Dropped without closing: the "crash".
    };
    let env = Env::open(dir.path());
    let drafts = env.drafts();
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].id, draft_id);
    assert!(drafts[0].body.starts_with("Half-written answer and more"));
    assert_eq!(drafts[0].account.as_deref(), Some("support"));
    let mut c = ComposeState::from_draft(&env.desk, &drafts[0], &ComposeSettings::default());
    assert_eq!(c.draft_id(), draft_id);
    assert!(c.in_reply_to.is_some());
    assert!(c.subject.lines().join("").starts_with("Re: "));
    assert_eq!(c.blocked_reason(), None, "the reply is complete");
    let (close, cmds, _) = env.action(&mut c, Action::Send);
    assert!(close);
    assert!(
        matches!(cmds.as_slice(), [Command::Send(_), Command::DeleteDraft { id }] if *id == draft_id),
        "{cmds:?}"
    );
    assert!(env.drafts().is_empty());
}

#[test]
fn esc_keeps_the_draft_unless_discarded() {
    let (env, _dir) = Env::fresh();
    // Nothing written: Esc just closes.
    let mut c = start(&env, Action::Compose, None);
    let (close, _, _) = env.action(&mut c, Action::Cancel);
    assert!(close);
    assert!(env.drafts().is_empty());

    let mut c = start(&env, Action::Compose, None);
    c.field = TO;
    typ(&env, &mut c, "ann@example.com");
    let (close, _, msg) = env.action(&mut c, Action::Cancel);
    assert!(!close, "first Esc asks");
    assert!(msg.is_some_and(|(m, _)| m.contains("Draft saved")));
    assert_eq!(env.drafts().len(), 1);
    // Any other key goes back to writing; Esc twice keeps the draft.
    typ(&env, &mut c, "x");
    assert_eq!(c.mode, Mode::Edit);
    env.action(&mut c, Action::Cancel);
    let (close, _, msg) = env.action(&mut c, Action::Cancel);
    assert!(close);
    assert!(msg.is_some_and(|(m, _)| m.contains("kept")));
    assert_eq!(env.drafts().len(), 1);

    // Esc, d, Esc discards it.
    let d = env.drafts().remove(0);
    let mut c = ComposeState::from_draft(&env.desk, &d, &ComposeSettings::default());
    env.action(&mut c, Action::Cancel);
    typ(&env, &mut c, "d");
    let (close, _, msg) = env.action(&mut c, Action::Cancel);
    assert!(close);
    assert!(msg.is_some_and(|(m, _)| m.contains("discarded")));
    assert!(env.drafts().is_empty());
}

#[test]
fn attachments_add_with_path_completion_and_remove() {
    let (env, _dir) = Env::fresh();
    let files = tempfile::tempdir().expect("tmp");
    std::fs::write(files.path().join("invoice-0042.pdf"), vec![7u8; 3000]).expect("w");
    let mut c = start(&env, Action::Compose, None);
    keys(&env, &mut c, "<A-a>");
    assert!(matches!(c.mode, Mode::AttachPrompt { .. }));
    if let Mode::AttachPrompt { input, .. } = &mut c.mode {
        input.clear();
    }
    typ(&env, &mut c, &format!("{}/inv", files.path().display()));
    env.action(&mut c, Action::NextField);
    match &c.mode {
        Mode::AttachPrompt { input, .. } => assert!(input.ends_with("invoice-0042.pdf"), "{input}"),
        other => panic!("{other:?}"),
    }
    keys(&env, &mut c, "<Enter>");
    assert_eq!(c.mode, Mode::Edit);
    assert_eq!(c.attachment_line(), vec!["invoice-0042.pdf (2.9 KB)"]);
    let data = c.file_attachments(&env.desk).expect("read");
    assert_eq!(data[0].data.len(), 3000);
    assert_eq!(data[0].content_type, "application/pdf");
    c.field = ATTACH;
    keys(&env, &mut c, "d");
    assert!(c.attachments().is_empty());
}

#[test]
fn forward_inline_or_as_attachment() {
    let (env, _dir) = Env::fresh();
    let m = env
        .inbox()
        .into_iter()
        .find(|m| env.desk.store().body(m.id).ok().flatten().is_some())
        .expect("a mail with a body");
    let raw = env
        .desk
        .store()
        .body(m.id)
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut c = start(&env, Action::Forward, Some(&m));
    assert!(c.body.lines().join("\n").contains("Forwarded message"));
    c.field = ATTACH;
    keys(&env, &mut c, "f");
    assert!(c.forwards_as_attachment());
    assert!(!c.body.lines().join("\n").contains("Forwarded message"));
    assert_eq!(c.attachments()[0].content_type, "message/rfc822");
    let data = c.file_attachments(&env.desk).expect("bytes");
    assert_eq!(data[0].data, raw);
    keys(&env, &mut c, "f");
    assert!(!c.forwards_as_attachment());
    assert!(c.body.lines().join("\n").contains("Forwarded message"));
}

#[test]
fn a_reply_with_only_the_quote_is_refused() {
    let (env, _dir) = Env::fresh();
    let m = env.inbox().into_iter().next().expect("a mail");
    let mut c = start(&env, Action::Reply, Some(&m));
    assert!(
        c.blocked_reason().is_some_and(|r| r.contains("body")),
        "{:?}",
        c.blocked_reason()
    );
    typ(&env, &mut c, "Done.");
    assert_eq!(c.blocked_reason(), None);
}

fn screen(c: &ComposeState, w: u16, h: u16) -> String {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let theme = deskmail::tui::theme::Theme::load(
        "mono",
        None,
        deskmail::tui::theme::ColorEnv {
            no_color: true,
            truecolor: false,
        },
    )
    .expect("mono");
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("term");
    term.draw(|f| deskmail::tui::panes::compose::draw(f, f.area(), c, &theme))
        .expect("draw");
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_pane_shows_identity_suggestions_attachments_and_the_reason() {
    let (env, _dir) = Env::fresh();
    let mut c = start(&env, Action::Compose, None);
    let s = screen(&c, 110, 30);
    assert!(s.contains("choose an identity"), "{s}");
    assert!(s.contains("Send disabled: Add a recipient"), "{s}");
    keys(&env, &mut c, "<Right>");
    c.field = TO;
    // A demo contact's first letters bring up a suggestion line.
    let contact = env
        .desk
        .records(RecordKind::Contact)
        .expect("records")
        .remove(0);
    let email = contact.emails[0].clone();
    typ(&env, &mut c, &email[..4]);
    assert!(!c.suggestions().is_empty());
    let s = screen(&c, 110, 30);
    assert!(s.contains("support@desk.example (support)"), "{s}");
    assert!(s.contains("Tab"), "{s}");
    let first = c.suggestions()[0].1.clone();
    env.action(&mut c, Action::NextField);
    assert_eq!(c.field, TO, "Tab completed instead of moving on");
    assert_eq!(c.recipients(TO), vec![first]);
    let files = tempfile::tempdir().expect("tmp");
    let f = files.path().join("notes.txt");
    std::fs::write(&f, "hello").expect("w");
    c.add_attachment(&env.desk, &f).expect("attach");
    let s = screen(&c, 110, 30);
    assert!(s.contains("notes.txt (5 B)"), "{s}");
    if std::env::var_os("SHOW_COMPOSE").is_some() {
        println!("{s}");
    }
    // Nothing left to complete: Tab moves on.
    env.action(&mut c, Action::NextField);
    assert_eq!(c.field, CC);
    env.action(&mut c, Action::Cancel);
    let s = screen(&c, 110, 30);
    assert!(s.contains("keep the draft"), "{s}");
}
