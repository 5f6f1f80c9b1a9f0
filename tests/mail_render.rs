//! Reader tests: every fixture parses and renders to terminal-safe text,
//! charsets decode, attachments save inside the target directory, and
//! arbitrary or hostile input never panics nor leaks control characters.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use deskmail::mail::attachments::{part_bytes, safe_filename, save_all, save_attachment};
use deskmail::mail::parse::{ParsedHeaders, parse_headers, stable_id};
use deskmail::mail::render::{
    LineKind, RenderOptions, RenderedMail, raw_source, render, render_to_text_with,
};
use deskmail::mail::sanitize::is_forbidden_char;
use proptest::prelude::*;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn all_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(fixture_dir()).expect("fixture dir");
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "eml") {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((name, std::fs::read(&path).expect("read fixture")));
        }
    }
    out.sort();
    assert!(out.len() >= 15, "fixture corpus is missing files");
    out
}

fn utc(show_quotes: bool, all_headers: bool) -> RenderOptions {
    RenderOptions {
        all_headers,
        show_quotes,
        width: 72,
        tz_offset_secs: Some(0),
    }
}

/// No ESC, no C0 except `\n` and `\t`, no DEL, no C1, no bidi control.
fn assert_clean(what: &str, s: &str) {
    if let Some(c) = s
        .chars()
        .find(|&c| c != '\n' && c != '\t' && is_forbidden_char(c))
    {
        panic!("{what}: forbidden U+{:04X} in {s:?}", u32::from(c));
    }
}

/// Like [`assert_clean`] but also without line breaks or tabs.
fn assert_clean_line(what: &str, s: &str) {
    assert_clean(what, s);
    assert!(!s.contains(['\n', '\t']), "{what}: line break in {s:?}");
}

fn check_rendered(name: &str, m: &RenderedMail) {
    for (k, v) in &m.headers {
        assert_clean_line(name, k);
        assert_clean_line(name, v);
    }
    for l in &m.lines {
        assert_clean_line(name, &l.text);
    }
    for a in &m.attachments {
        assert_clean_line(name, &a.name);
        assert_clean_line(name, &a.mime);
    }
    for l in &m.links {
        assert_clean_line(name, l);
    }
}

fn check_headers(name: &str, h: &ParsedHeaders) {
    assert_clean_line(name, &h.subject);
    assert_clean_line(name, &h.preview);
    for id in h
        .message_id
        .iter()
        .chain(&h.in_reply_to)
        .chain(&h.references)
    {
        assert_clean_line(name, id);
    }
    for a in h
        .from
        .iter()
        .chain(&h.to)
        .chain(&h.cc)
        .chain(&h.bcc)
        .chain(&h.reply_to)
    {
        assert_clean_line(name, &a.email);
        if let Some(n) = &a.name {
            assert_clean_line(name, n);
        }
    }
}

fn check_everything(name: &str, raw: &[u8]) {
    check_headers(name, &parse_headers(raw));
    for show_quotes in [false, true] {
        for all_headers in [false, true] {
            check_rendered(name, &render(raw, &utc(show_quotes, all_headers)));
        }
    }
    assert_clean(name, &render_to_text_with(raw, &utc(true, false)));
    assert_clean(name, &raw_source(raw));
    let id = stable_id(raw);
    assert_clean_line(name, &id);
}

#[test]
fn every_fixture_renders_clean() {
    for (name, raw) in all_fixtures() {
        check_everything(&name, &raw);
    }
}

fn body_text(m: &RenderedMail) -> String {
    m.lines
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn charsets_decode() {
    let cases: [(&str, &str, &str); 5] = [
        (
            "koi8r.eml",
            "Отв: Принтер",
            "Здравствуйте! Принтер не печатает.",
        ),
        ("cp1251.eml", "Счёт №42", "Добрый день! Счёт во вложении."),
        (
            "iso2022jp.eml",
            "プリンターの件",
            "お世話になっております。",
        ),
        ("shift_jis.eml", "請求書", "請求書を送ります。"),
        ("plain_utf8.eml", "Re: Printer on floor 3 🖨️", "日本語 🖨️"),
    ];
    for (file, subject, body) in cases {
        let raw = fixture(file);
        let h = parse_headers(&raw);
        assert_eq!(h.subject, subject, "{file}");
        let m = render(&raw, &utc(true, false));
        assert!(body_text(&m).contains(body), "{file}: {}", body_text(&m));
    }
    let h = parse_headers(&fixture("koi8r.eml"));
    assert_eq!(h.from[0].name.as_deref(), Some("Иван Петров"));
    let h = parse_headers(&fixture("cp1251.eml"));
    assert_eq!(h.from[0].name.as_deref(), Some("Ольга Смирнова"));
    let h = parse_headers(&fixture("iso2022jp.eml"));
    assert_eq!(h.from[0].name.as_deref(), Some("山田太郎"));
}

#[test]
fn encoded_names_and_filenames() {
    let raw = fixture("encoded_names.eml");
    let h = parse_headers(&raw);
    assert_eq!(h.from[0].name.as_deref(), Some("Jürgen Müller"));
    assert_eq!(h.cc[0].name.as_deref(), Some("François Étienne"));
    assert_eq!(h.subject, "Réclamationüber Rechnung");
    assert!(h.has_attachments);
    let m = render(&raw, &utc(true, false));
    let names: Vec<&str> = m.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["Счёт №5.pdf", "日本語.txt"]);
    assert_eq!(m.attachments[0].mime, "application/pdf");
    assert_eq!(m.attachments[0].index, 1);
}

#[test]
fn nested_multipart_prefers_plain_and_lists_attachments() {
    let raw = fixture("nested_multipart.eml");
    let m = render(&raw, &utc(true, false));
    let body = body_text(&m);
    assert!(body.contains("Plain alternative wins."), "{body}");
    assert!(!body.contains("HTML alternative"), "{body}");
    let got: Vec<(&str, &str)> = m
        .attachments
        .iter()
        .map(|a| (a.name.as_str(), a.mime.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("report.pdf", "application/pdf"),
            ("Original ticket.eml", "message/rfc822")
        ]
    );
    let pdf = part_bytes(&raw, 1).expect("pdf bytes");
    assert!(pdf.starts_with(b"%PDF-1.4"));
    assert_eq!(pdf.len(), m.attachments[0].size);
    assert!(pdf.ends_with(&[0xfd, 0xfe, 0xff]));
    assert_eq!(part_bytes(&raw, 0), None);
    assert_eq!(part_bytes(&raw, 3), None);
}

#[test]
fn html_only_is_converted_without_fetching() {
    let raw = fixture("html_only.eml");
    let m = render(&raw, &utc(true, false));
    assert_eq!(
        m.links,
        vec![
            "https://example.com/notes".to_string(),
            "https://example.com/faq".to_string()
        ]
    );
    let body = body_text(&m);
    assert!(body.contains("notes[1]"), "{body}");
    assert!(body.contains("FAQ[2]"), "{body}");
    assert!(!body.contains("alert(1)"), "{body}");
    assert!(!body.contains("color:red"), "{body}");
    assert!(!body.contains("tracker.example.com"), "{body}");
    assert!(m.lines.iter().any(|l| l.kind == LineKind::Quote));
    let refs: Vec<&str> = m
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::LinkRef)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(
        refs,
        vec![
            "[1] https://example.com/notes",
            "[2] https://example.com/faq"
        ]
    );
}

#[test]
fn quotes_fold_and_signature_is_marked() {
    let raw = fixture("plain_utf8.eml");
    let m = render(&raw, &utc(false, false));
    assert!(
        m.lines
            .iter()
            .any(|l| l.kind == LineKind::QuoteFolded(3) && l.text == "[… 3 quoted lines]")
    );
    assert!(!m.lines.iter().any(|l| l.kind == LineKind::Quote));
    let sig: Vec<&str> = m
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Signature)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(sig, vec!["-- ", "Alice Martin", "Floor 3"]);
}

#[test]
fn flowed_text_is_joined() {
    let raw = fixture("flowed_delsp.eml");
    let m = render(
        &raw,
        &RenderOptions {
            width: 0,
            ..utc(true, false)
        },
    );
    let body = body_text(&m);
    assert!(
        body.contains("so it arrives as several physical lines that must be joined back together by the reader."),
        "{body}"
    );
    assert!(body.contains("\nFrom the space-stuffed line."), "{body}");
    assert!(body.contains("> Quoted flowed paragraph."), "{body}");
}

#[test]
fn malformed_mail_is_tolerated() {
    let m = render(&fixture("broken_boundary.eml"), &utc(true, false));
    assert!(body_text(&m).contains("First part text."));
    let h = parse_headers(&fixture("nul_bytes.eml"));
    assert!(!h.subject.contains('\0'));
    let h = parse_headers(&fixture("headers_only.eml"));
    assert_eq!(h.subject, "only headers");
    let m = render(b"", &utc(true, false));
    check_rendered("empty", &m);
}

#[test]
fn huge_header_is_fast() {
    let raw = fixture("huge_header.eml");
    let start = Instant::now();
    let h = parse_headers(&raw);
    let m = render(&raw, &utc(true, true));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(h.subject, "Huge header");
    assert!(body_text(&m).contains("Body after a huge header."));
}

#[test]
fn missing_message_id_gets_stable_id() {
    let raw = fixture("no_message_id.eml");
    assert_eq!(parse_headers(&raw).message_id, None);
    let id = stable_id(&raw);
    assert_eq!(id, stable_id(&raw));
    assert!(id.ends_with("@deskmail.invalid>"));
    assert_ne!(id, stable_id(&fixture("plain_utf8.eml")));
}

#[test]
fn hostile_mail_is_defused() {
    let raw = fixture("hostile.eml");
    let h = parse_headers(&raw);
    assert_eq!(h.subject, "Invoice pdf.exe");
    assert_eq!(h.from[0].name.as_deref(), Some("Evil"));
    assert_eq!(h.reply_to[0].name.as_deref(), Some("Trusted Bank"));
    let m = render(&raw, &utc(true, true));
    let body = body_text(&m);
    for needle in ["52;c;", "]8;;", "evil.example", "pwned", "#0;2"] {
        assert!(!body.contains(needle), "{needle} leaked: {body}");
    }
    assert!(body.contains("Hyperlink: click me done"), "{body}");
    let names: Vec<&str> = m.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["../../.bashrc", "/etc/passwd", "xgnp.exe"]);
    let safe: Vec<String> = names.iter().map(|n| safe_filename(n)).collect();
    assert_eq!(safe, vec!["bashrc", "passwd", "xgnp.exe"]);
}

#[test]
fn attachments_save_inside_dir_only() -> std::io::Result<()> {
    let parent = tempfile::tempdir()?;
    let dir = parent.path().join("downloads");
    std::fs::create_dir(&dir)?;
    let raw = fixture("hostile.eml");
    let first = save_all(&raw, &dir)?;
    let second = save_all(&raw, &dir)?;
    for p in first.iter().chain(&second) {
        assert_eq!(p.parent(), Some(dir.as_path()), "{}", p.display());
        assert!(p.is_file());
    }
    let names: Vec<String> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    let mut names = names;
    names.sort();
    assert_eq!(
        names,
        vec![
            "bashrc",
            "bashrc (1)",
            "passwd",
            "passwd (1)",
            "xgnp (1).exe",
            "xgnp.exe"
        ]
    );
    // Nothing escaped into the parent directory.
    let outside: Vec<_> = std::fs::read_dir(parent.path())?.collect();
    assert_eq!(outside.len(), 1);
    assert_eq!(
        std::fs::read(dir.join("passwd"))?,
        b"root:x:0:0::/root:/bin/sh\n"
    );
    assert_eq!(std::fs::read(dir.join("bashrc"))?, b"echo pwned");
    let one = save_attachment(&fixture("encoded_names.eml"), 1, &dir)?;
    assert_eq!(one, dir.join("Счёт №5.pdf"));
    assert!(save_attachment(&raw, 9, &dir).is_err());
    Ok(())
}

#[test]
fn large_mail_renders_quickly() {
    let mut plain =
        b"From: big@example.com\r\nSubject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            .to_vec();
    let line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod. > not a quote\r\n";
    while plain.len() < 5 * 1024 * 1024 {
        plain.extend_from_slice(line.as_bytes());
        plain.extend_from_slice(b"> quoted reply line here\r\n");
    }
    let mut html = b"From: big@example.com\r\nSubject: big\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>".to_vec();
    while html.len() < 5 * 1024 * 1024 {
        html.extend_from_slice(b"<p>Paragraph with a <a href=\"https://example.com/x\">link</a> and <b>bold</b> text.</p>\r\n");
    }
    html.extend_from_slice(b"</body></html>\r\n");
    let deep = format!(
        "Content-Type: text/html\r\n\r\n{}x",
        "<div>".repeat(100_000)
    );
    for (what, raw) in [
        ("plain", plain),
        ("html", html),
        ("deep", deep.into_bytes()),
    ] {
        let start = Instant::now();
        let m = render(&raw, &utc(false, false));
        let h = parse_headers(&raw);
        let took = start.elapsed();
        assert!(!m.lines.is_empty(), "{what}");
        assert_clean_line(what, &h.preview);
        // Generous: debug builds on a shared machine.
        assert!(took < Duration::from_secs(60), "{what} took {took:?}");
        eprintln!("{what}: {took:?}");
    }
}

#[test]
fn snapshots() {
    for name in [
        "plain_utf8",
        "flowed_delsp",
        "koi8r",
        "cp1251",
        "iso2022jp",
        "nested_multipart",
        "html_only",
        "encoded_names",
        "hostile",
        "hostile_html",
    ] {
        let raw = fixture(&format!("{name}.eml"));
        insta::assert_snapshot!(name, render_to_text_with(&raw, &utc(true, false)));
    }
    let raw = fixture("plain_utf8.eml");
    insta::assert_snapshot!(
        "plain_utf8_folded",
        render_to_text_with(&raw, &utc(false, false))
    );
}

/// Pieces for structured hostile mails.
fn hostile_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\u{1b}".to_string()),
        Just("\u{1b}[2J".to_string()),
        Just("\u{1b}]52;c;ZXZpbA==\u{7}".to_string()),
        Just("\u{1b}]8;;https://evil/\u{1b}\\".to_string()),
        Just("\u{9b}31m".to_string()),
        Just("\u{9d}0;t\u{9c}".to_string()),
        Just("\u{202e}".to_string()),
        Just("\u{2066}".to_string()),
        Just("\0".to_string()),
        Just("\u{7f}".to_string()),
        Just("\r\n".to_string()),
        Just("\r\n> ".to_string()),
        Just("\r\n-- \r\n".to_string()),
        Just(" \r\n".to_string()),
        Just("=?UTF-8?B?G101MjtjO1pYWnBiQT09Bw==?=".to_string()),
        Just("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=".to_string()),
        Just("=?koi8-r?Q?=F0=D2=C9?=".to_string()),
        Just("<a href=\"https://x.example/\u{1b}[31m\">l</a>".to_string()),
        Just("&#x1b;]52;c;AA&#7;".to_string()),
        Just("../../.bashrc".to_string()),
        "[a-zA-Z0-9 <>@.:;\"=/-]{0,12}",
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn hostile_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(hostile_piece(), 0..12).prop_map(|v| v.concat())
}

fn hostile_mail() -> impl Strategy<Value = Vec<u8>> {
    let ctype = prop_oneof![
        Just("text/plain; charset=utf-8"),
        Just("text/plain; charset=utf-8; format=flowed; delsp=yes"),
        Just("text/html; charset=utf-8"),
        Just("text/plain; charset=iso-2022-jp"),
        Just("text/plain; charset=koi8-r"),
    ];
    let cte = prop_oneof![Just("8bit"), Just("quoted-printable"), Just("base64")];
    (
        hostile_text(),
        hostile_text(),
        hostile_text(),
        hostile_text(),
        ctype,
        cte,
        any::<bool>(),
    )
        .prop_map(|(subject, name, body, filename, ctype, cte, multipart)| {
            let head = format!(
                "From: {name} <a@b.example>\r\nSubject: {subject}\r\nMessage-ID: {name}\r\nDate: {subject}\r\n"
            );
            let body = if multipart {
                format!(
                    "Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{body}\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{filename}\"\r\n\r\n{body}\r\n--B--\r\n"
                )
            } else {
                format!("Content-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{body}")
            };
            format!("{head}{body}").into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_or_leak(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_everything("arbitrary", &raw);
    }

    #[test]
    fn hostile_mails_never_panic_or_leak(raw in hostile_mail()) {
        check_everything("hostile", &raw);
        let m = render(&raw, &utc(true, false));
        for a in &m.attachments {
            let safe = safe_filename(&a.name);
            prop_assert!(!safe.is_empty());
            prop_assert!(!safe.contains(['/', '\\']));
            prop_assert!(!safe.starts_with('.'));
            prop_assert!(!safe.contains(".."));
            prop_assert!(safe.len() <= 200);
        }
    }
}

#[test]
fn pathological_structures_stay_bounded() {
    let mut multipart = String::from("Subject: deep\r\n");
    for i in 0..2000 {
        multipart.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    multipart.push_str("Content-Type: text/plain\r\n\r\ninnermost\r\n");
    let mut nested_msg = String::new();
    for _ in 0..200 {
        nested_msg.push_str("Subject: fwd\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    nested_msg.push_str("Subject: last\r\n\r\nbody\r\n");
    let tables = format!(
        "Content-Type: text/html\r\n\r\n{}x{}",
        "<table><tr><td>".repeat(300),
        "</td></tr></table>".repeat(300)
    );
    let wide = format!(
        "Content-Type: text/html\r\n\r\n<table><tr>{}</tr></table>",
        "<td>cell</td>".repeat(5000)
    );
    for (what, raw) in [
        ("multipart", multipart),
        ("nested message", nested_msg),
        ("nested tables", tables),
        ("wide table", wide),
    ] {
        let start = Instant::now();
        check_everything(what, raw.as_bytes());
        let took = start.elapsed();
        eprintln!("{what}: {took:?}");
        assert!(took < Duration::from_secs(60), "{what} took {took:?}");
    }
}
