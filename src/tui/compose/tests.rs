//! Compose behaviour against an in-memory desk: no store, no files.

use super::*;
use crate::desk::fake::FakeDesk;

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

fn desk() -> FakeDesk {
    FakeDesk::new(crate::demo::demo_config())
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
        c.input(&desk(), key(KeyCode::Char(ch)));
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
    d.apply_editor_text(&desk(), &t).expect("applies");
    assert_eq!(d.identity, Some(0));
    assert_eq!(d.editor_text(), t);
    assert_eq!(text(&d.body), text(&c.body));
    assert!(d.is_dirty());

    // Edited in the editor: new identity, wrapped To, CRLF endings.
    let edited = "From: alice@desk.example\r\nTo: ann@example.com,\r\n  dan@example.com\r\nSubject: Changed\r\n\r\nNew body\r\n";
    d.apply_editor_text(&desk(), edited).expect("applies");
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
        d.apply_editor_text(&desk(), "From: nobody@else.example\n\nx")
            .is_err()
    );
    assert!(d.apply_editor_text(&desk(), "X-Evil: 1\n\nx").is_err());
    assert!(
        d.apply_editor_text(&desk(), "just a body without headers")
            .is_err()
    );
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
fn attachments_add_and_remove() {
    let f = PathBuf::from("/home/alice/report.pdf");
    let mut d = desk();
    d.files.insert(f.clone(), vec![0u8; 2048]);
    let mut c = blank();
    c.add_attachment(&d, &f).expect("added");
    assert!(c.add_attachment(&d, &f).is_err(), "twice");
    let dir = Path::new("/home/alice");
    assert!(c.add_attachment(&d, dir).is_err(), "a directory");
    assert_eq!(c.attachment_line(), vec!["report.pdf (2 KB)"]);
    assert_eq!(c.attachments()[0].content_type, "application/pdf");
    assert_eq!(c.draft().attachments, vec![f.clone()]);
    c.field = ATTACH;
    c.input(&d, key(KeyCode::Char('d')));
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
    let mut d = desk();
    d.templates.insert(
        "thanks".into(),
        "Dear {Person.name}, re {Case.nmber}. {User.name}\n".into(),
    );
    let mut c = blank();
    c.set_identity(1);
    c.to = area("ann@example.com");
    c.subject = area("Hi");
    let mut ctx = TemplateContext::new();
    ctx.set("Person.name", "Ann").set("User.name", "Alice");
    c.insert_template(&d, "thanks", &ctx).expect("inserted");
    assert_eq!(text(&c.body), "Dear Ann, re {Case.nmber}. Alice");
    let r = c.blocked_reason().unwrap_or_default();
    assert!(r.contains("{Case.nmber}"), "{r}");
    assert!(c.template_warnings()[0].contains("{Case.nmber}"));
    c.body = area("Dear Ann. Alice");
    assert_eq!(c.blocked_reason(), None);
}

/// Every cell of the compose pane drawn on a test terminal.
fn compose_screen(c: &ComposeState) -> String {
    use crate::tui::theme::{ColorEnv, Theme};
    let theme = Theme::load("dark", None, ColorEnv::from_vars(false, None)).expect("theme");
    let mut term =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 30)).expect("terminal");
    term.draw(|f| crate::tui::panes::compose::draw(f, f.area(), c, &theme))
        .expect("draw");
    term.backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect()
}

fn forbidden(screen: &str) -> Vec<char> {
    screen
        .chars()
        .filter(|c| crate::mail::sanitize::is_forbidden_char(*c))
        .collect()
}

#[test]
fn hostile_completion_names_and_attach_prompt_file_names_reach_the_screen_sanitised() {
    let mut c = blank();
    c.known = vec![(
        "eve@evil.example".into(),
        "Eve\u{202e}nimdA\u{1b}]0;pwned\u{7}\u{9b}42J".into(),
    )];
    c.field = TO;
    typ(&mut c, "ev");
    assert_eq!(c.suggestions().len(), 1);
    let screen = compose_screen(&c);
    assert!(forbidden(&screen).is_empty(), "{:?}", forbidden(&screen));
    assert!(screen.contains("eve@evil.example"), "{screen}");
    // The terminal drops lone control characters; the sequences' payloads
    // would still show as debris without the sanitiser.
    assert!(
        !screen.contains("pwned") && !screen.contains("42J"),
        "{screen}"
    );

    c.mode = Mode::AttachPrompt {
        input: "/tmp/in\u{1b}[2Jput".into(),
        matches: vec![
            "report\u{2066}.pdf\u{9b}31m".into(),
            "invoice\u{202e}fdp.exe\u{1b}]52;c;c2VjcmV0\u{7}".into(),
        ],
    };
    let screen = compose_screen(&c);
    assert!(forbidden(&screen).is_empty(), "{:?}", forbidden(&screen));
    assert!(screen.contains("Attach file:"), "{screen}");
    assert!(screen.contains("invoice"), "{screen}");
    assert!(
        !screen.contains("31m") && !screen.contains("52;c") && !screen.contains("[2J"),
        "{screen}"
    );
}

#[test]
fn a_reply_goes_to_the_customer_s_reply_to_address() {
    let c = blank();
    let party = |e: &str| crate::store::Party {
        name: String::new(),
        email: e.into(),
    };
    let m = MessageSummary {
        from: vec![party("ann@example.com")],
        reply_to: vec![party("tickets@example.com")],
        to: vec![party("support@desk.example")],
        cc: vec![party("bob@example.com")],
        ..MessageSummary::default()
    };
    assert_eq!(
        c.reply_recipients(&m, false),
        (vec!["tickets@example.com".to_string()], vec![])
    );
    assert_eq!(
        c.reply_recipients(&m, true),
        (
            vec!["tickets@example.com".to_string()],
            vec!["bob@example.com".to_string()]
        )
    );
}
