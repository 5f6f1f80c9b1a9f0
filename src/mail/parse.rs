//! Header extraction for the message list and threading.

use mail_parser::{HeaderValue, Message};
use serde::{Deserialize, Serialize};

use super::mime;
use super::sanitize::{sanitize_line, sanitize_line_cut, sanitize_line_cut_if_long};

/// Maximum preview length in characters.
const PREVIEW_CHARS: usize = 120;

/// One mailbox from an address header. All strings are sanitised.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    /// Display name, if any.
    pub name: Option<String>,
    /// The address itself; may be empty for malformed headers.
    pub email: String,
}

impl Address {
    /// `Name <email>` or just `email` (or just the name when there is no
    /// address at all).
    pub fn display(&self) -> String {
        match (&self.name, self.email.is_empty()) {
            (Some(n), false) => format!("{n} <{}>", self.email),
            (Some(n), true) => n.clone(),
            (None, _) => self.email.clone(),
        }
    }
}

/// The headers the rest of the application needs, all sanitised.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ParsedHeaders {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To ids without angle brackets.
    pub in_reply_to: Vec<String>,
    /// References ids without angle brackets, oldest first.
    pub references: Vec<String>,
    /// Subject as a single sanitised line.
    pub subject: String,
    pub from: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub reply_to: Vec<Address>,
    /// Date as Unix seconds (UTC).
    pub date: Option<i64>,
    /// Whether the mail carries attachments.
    pub has_attachments: bool,
    /// The first ~120 characters of the body text, as one sanitised line.
    pub preview: String,
}

/// Parses the headers of a raw message. Never panics; malformed input
/// yields whatever could be recovered.
pub fn parse_headers(raw: &[u8]) -> ParsedHeaders {
    let prepared = mime::prepare(raw);
    let Some(msg) = mime::parse_for_ingest(&prepared) else {
        return ParsedHeaders::default();
    };
    headers_of(&msg)
}

pub(crate) fn headers_of(msg: &Message<'_>) -> ParsedHeaders {
    ParsedHeaders {
        message_id: msg
            .message_id()
            .map(clean_id)
            .filter(|s| !s.is_empty())
            .or_else(|| {
                raw_id(msg, mail_parser::HeaderName::MessageId)
                    .into_iter()
                    .next()
            }),
        in_reply_to: ids(msg.in_reply_to())
            .or_else(|| Some(raw_id(msg, mail_parser::HeaderName::InReplyTo)))
            .unwrap_or_default(),
        references: ids(msg.references())
            .or_else(|| Some(raw_id(msg, mail_parser::HeaderName::References)))
            .unwrap_or_default(),
        subject: msg.subject().map(sanitize_line).unwrap_or_default(),
        from: addresses(msg.from()),
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        bcc: addresses(msg.bcc()),
        reply_to: addresses(msg.reply_to()),
        date: msg
            .date()
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp()),
        has_attachments: msg.attachment_count() > 0,
        preview: preview(msg),
    }
}

/// Strips angle brackets and whitespace/control characters from an id.
fn clean_id(s: &str) -> String {
    // The sanitised line has no whitespace but single inner spaces.
    let mut line = sanitize_line(s);
    let inner = line.trim_start_matches('<').trim_end_matches('>');
    if inner.contains(' ') {
        return inner.chars().filter(|c| *c != ' ').collect();
    }
    // The leading `<` and trailing `>` runs never overlap.
    let start = line.len() - line.trim_start_matches('<').len();
    line.truncate(line.trim_end_matches('>').len());
    line.drain(..start);
    line
}

fn ids(v: &HeaderValue<'_>) -> Option<Vec<String>> {
    let list: Vec<String> = match v {
        HeaderValue::Text(t) => vec![clean_id(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| clean_id(t)).collect(),
        _ => return None,
    };
    let list: Vec<String> = list.into_iter().filter(|s| !s.is_empty()).collect();
    (!list.is_empty()).then_some(list)
}

/// Falls back to splitting the raw header on whitespace and brackets, for
/// ids written without `<>` that the structured parser rejected.
fn raw_id(msg: &Message<'_>, name: mail_parser::HeaderName<'static>) -> Vec<String> {
    let Some(raw) = msg.header_raw(name) else {
        return Vec::new();
    };
    raw.split(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == ',')
        .map(clean_id)
        .filter(|s| !s.is_empty() && s.len() <= 998)
        .collect()
}

fn addresses(a: Option<&mail_parser::Address<'_>>) -> Vec<Address> {
    let Some(a) = a else {
        return Vec::new();
    };
    a.iter()
        .filter_map(|addr| {
            let name = addr
                .name
                .as_deref()
                .map(sanitize_line)
                .filter(|s| !s.is_empty());
            let email = addr
                .address
                .as_deref()
                .map(sanitize_line)
                .unwrap_or_default();
            if name.is_none() && email.is_empty() {
                None
            } else {
                Some(Address { name, email })
            }
        })
        .collect()
}

/// The first text body part as one sanitised line of at most 120 characters.
fn preview(msg: &Message<'_>) -> String {
    let Some(part) = msg
        .text_body
        .first()
        .and_then(|&i| msg.parts.get(i as usize))
    else {
        return String::new();
    };
    let Some((text, is_html)) = mime::part_text(msg, part) else {
        return String::new();
    };
    // Only look at the start: previews must stay cheap for huge mails.
    if is_html {
        html_preview(prefix_chars(&text, 16 * 1024))
    } else {
        plain_preview(prefix_chars(&text, 2048))
    }
}

/// Quoted lines are skipped so the preview shows what is new; the
/// sanitiser stops once the preview is full.
fn plain_preview(head: &str) -> String {
    let mut joined = String::with_capacity(head.len());
    for (n, l) in head
        .lines()
        .filter(|l| !l.trim_start().starts_with('>'))
        .enumerate()
    {
        if n > 0 {
            joined.push(' ');
        }
        joined.push_str(l);
    }
    sanitize_line_cut(&joined, PREVIEW_CHARS)
}

/// The HTML is turned into text a growing piece at a time, each piece
/// ending just after a `<`: the text of such a piece is the start of the
/// text of the whole, so a full preview from it is the preview of the whole.
fn html_preview(head: &str) -> String {
    let mut want = 2048;
    loop {
        let end = match head.as_bytes().get(want..) {
            Some(rest) => memchr::memchr(b'<', rest).map_or(head.len(), |p| want + p + 1),
            None => head.len(),
        };
        let text = mail_parser::decoders::html::html_to_text(&head[..end]);
        if end == head.len() {
            return sanitize_line_cut(&text, PREVIEW_CHARS);
        }
        if let Some(line) = sanitize_line_cut_if_long(&text, PREVIEW_CHARS) {
            return line;
        }
        want = end * 4;
    }
}

fn prefix_chars(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A stable synthetic Message-ID for mail that has none:
/// `<16 hex digits@deskmail.invalid>`, from a 64-bit FNV-1a hash of the raw
/// Date, From and Subject headers and the first 4 KB of the body. The same
/// bytes always give the same id, on every run and platform.
pub fn stable_id(raw: &[u8]) -> String {
    let (head, body) = split_head_body(raw);
    let mut h = Fnv1a::new();
    for name in ["date", "from", "subject"] {
        h.write(name.as_bytes());
        h.write(b":");
        if let Some(v) = raw_header(head, name) {
            h.write(v.as_slice());
        }
        h.write(b"\0");
    }
    h.write(&body[..body.len().min(4096)]);
    format!("<{:016x}@deskmail.invalid>", h.finish())
}

struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Splits a raw message at the first empty line.
fn split_head_body(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut i = 0usize;
    while i < raw.len() {
        let line_end = raw[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |p| i + p);
        let line = &raw[i..line_end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            let body_start = (line_end + 1).min(raw.len());
            return (&raw[..i], &raw[body_start..]);
        }
        i = line_end + 1;
    }
    (raw, &[])
}

/// The unfolded, whitespace-normalised raw value of the first header
/// `name` (lowercase) in a header block.
fn raw_header(head: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut value: Option<Vec<u8>> = None;
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(v) = value.as_mut() {
            if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                v.push(b' ');
                v.extend_from_slice(line.trim_ascii());
                continue;
            }
            break;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && line[..colon]
                .trim_ascii()
                .eq_ignore_ascii_case(name.as_bytes())
        {
            value = Some(line[colon + 1..].trim_ascii().to_vec());
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMPLE: &[u8] = b"Message-ID: <abc@example.com>\r\n\
In-Reply-To: <p1@example.com>\r\n\
References: <p0@example.com> <p1@example.com>\r\n\
From: \"Alice Doe\" <alice@example.com>\r\n\
To: bob@example.com, Carol <carol@example.org>\r\n\
Cc: =?UTF-8?B?0JjQstCw0L0=?= <ivan@example.ru>\r\n\
Subject: Re: Hello\r\n\tworld\r\n\
Date: Wed, 25 Nov 2026 14:03:00 +0000\r\n\
\r\n\
> quoted\r\n\
Thanks for the report.\r\n";

    #[test]
    fn parses_simple() {
        let h = parse_headers(SIMPLE);
        assert_eq!(h.message_id.as_deref(), Some("abc@example.com"));
        assert_eq!(h.in_reply_to, vec!["p1@example.com"]);
        assert_eq!(h.references, vec!["p0@example.com", "p1@example.com"]);
        assert_eq!(h.subject, "Re: Hello world");
        assert_eq!(
            h.from,
            vec![Address {
                name: Some("Alice Doe".into()),
                email: "alice@example.com".into()
            }]
        );
        assert_eq!(h.to.len(), 2);
        assert_eq!(h.cc[0].name.as_deref(), Some("Иван"));
        assert_eq!(h.date, Some(1_795_615_380));
        assert!(!h.has_attachments);
        assert_eq!(h.preview, "Thanks for the report.");
    }

    #[test]
    fn ids_without_brackets() {
        let h = parse_headers(b"Message-ID: abc@example.com\r\nIn-Reply-To: x@y\r\n\r\nhi\r\n");
        assert_eq!(h.message_id.as_deref(), Some("abc@example.com"));
        assert_eq!(h.in_reply_to, vec!["x@y"]);
    }

    #[test]
    fn hostile_subject_is_sanitised() {
        let h = parse_headers(
            b"Subject: a\x1b]52;c;ZXZpbA==\x07b\x1b[2J\xe2\x80\xaec\r\nFrom: \x1b[31mEve\x1b[0m <eve@x.y>\r\n\r\n",
        );
        assert_eq!(h.subject, "abc");
        assert_eq!(h.from[0].display(), "Eve <eve@x.y>");
    }

    /// How the HTML preview was taken before it read a piece at a time.
    fn html_preview_whole(head: &str) -> String {
        sanitize_line_cut(
            &mail_parser::decoders::html::html_to_text(head),
            PREVIEW_CHARS,
        )
    }

    #[test]
    fn a_long_html_preview_reads_the_same_from_its_start_as_from_the_whole() {
        let mut html = String::from("<html><head><style>p { x: y }</style></head><body>");
        for i in 0..400 {
            html.push_str(&format!(
                "<p>Line {i} &amp; more &#x41;<br>text <!-- note {i} --> <b>bold</b></p>\n"
            ));
        }
        let head = prefix_chars(&html, 16 * 1024);
        let p = html_preview(head);
        assert_eq!(p, html_preview_whole(head));
        assert!(p.ends_with('…') && p.starts_with("Line 0 & more A"), "{p}");
    }

    #[test]
    fn a_plain_preview_skips_quotes_and_stops_at_120_characters() {
        let body = format!("> old\r\n{}\r\n", "word ".repeat(100));
        let raw = format!("Subject: x\r\n\r\n{body}");
        let h = parse_headers(raw.as_bytes());
        assert_eq!(h.preview.chars().count(), 120);
        assert!(h.preview.starts_with("word word") && h.preview.ends_with(" word…"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn an_html_preview_is_the_preview_of_the_whole_text(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::Just("<p>".to_string()),
                    proptest::prelude::Just("</p>".to_string()),
                    proptest::prelude::Just("<br>".to_string()),
                    proptest::prelude::Just("<!-- c -->".to_string()),
                    proptest::prelude::Just("<style>a{}</style>".to_string()),
                    proptest::prelude::Just("&amp;".to_string()),
                    proptest::prelude::Just("&#65;".to_string()),
                    proptest::prelude::Just(" ".to_string()),
                    proptest::prelude::Just("\n".to_string()),
                    proptest::prelude::Just("<".to_string()),
                    proptest::prelude::Just("\u{1b}[1m".to_string()),
                    "[a-zA-Zа-я ]{1,30}",
                ],
                0..600,
            )
        ) {
            let html = parts.concat();
            let head = prefix_chars(&html, 16 * 1024);
            proptest::prop_assert_eq!(html_preview(head), html_preview_whole(head));
        }
    }

    #[test]
    fn garbage_does_not_panic() {
        for raw in [
            &b""[..],
            b"\0\0\0",
            b":::\r\n\r\n",
            b"From:\r\n",
            b"\xff\xfe",
        ] {
            let _ = parse_headers(raw);
            let _ = stable_id(raw);
        }
    }

    #[test]
    fn stable_id_is_deterministic() {
        let a = stable_id(SIMPLE);
        assert_eq!(a, stable_id(SIMPLE));
        assert!(a.starts_with('<') && a.ends_with("@deskmail.invalid>"));
        assert_eq!(a.len(), 1 + 16 + "@deskmail.invalid>".len());
        let other = stable_id(b"Subject: other\r\n\r\nbody");
        assert_ne!(a, other);
        // Fixed value: the hash must not change between releases.
        assert_eq!(stable_id(b""), stable_id(b""));
        assert_eq!(
            stable_id(b"Subject: x\r\n\r\nbody"),
            "<73939a8bb3f282b7@deskmail.invalid>"
        );
    }
}
