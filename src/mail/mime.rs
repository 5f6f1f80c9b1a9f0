//! Shared MIME plumbing on top of `mail-parser`.
//!
//! `mail-parser` is built without its `full_encoding` feature, so it decodes
//! the multi-byte legacy charsets (ISO-2022-JP, Shift_JIS, EUC-JP, GBK, Big5,
//! EUC-KR, …) as lossy UTF-8. This module re-decodes those with `encoding_rs`:
//! text parts from their transfer-decoded bytes, and RFC 2047 encoded words
//! in headers by rewriting them to UTF-8 encoded words before parsing.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;

use encoding_rs::Encoding;
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// Returns the `encoding_rs` decoder for charsets that `mail-parser` cannot
/// decode on its own in this build.
pub(crate) fn own_decoder(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().trim_matches('"');
    let enc = Encoding::for_label_no_replacement(label.as_bytes())?;
    let wanted = [
        encoding_rs::SHIFT_JIS,
        encoding_rs::EUC_JP,
        encoding_rs::ISO_2022_JP,
        encoding_rs::BIG5,
        encoding_rs::GBK,
        encoding_rs::GB18030,
        encoding_rs::EUC_KR,
        encoding_rs::WINDOWS_874,
        encoding_rs::IBM866,
        encoding_rs::X_MAC_CYRILLIC,
    ];
    wanted.contains(&enc).then_some(enc)
}

/// Rewrites RFC 2047 encoded words whose charset needs [`own_decoder`] into
/// UTF-8 encoded words, so that `mail-parser` decodes them correctly.
/// Returns the input unchanged (borrowed) in the common case.
pub(crate) fn prepare(raw: &[u8]) -> Cow<'_, [u8]> {
    if !contains_foreign_word(raw) {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut i = 0usize;
    while i < raw.len() {
        if raw[i] == b'='
            && raw.get(i + 1) == Some(&b'?')
            && let Some((end, text)) = decode_word(raw, i)
        {
            out.extend_from_slice(b"=?UTF-8?Q?");
            for &b in text.as_bytes() {
                if b.is_ascii_alphanumeric() {
                    out.push(b);
                } else {
                    out.extend_from_slice(format!("={b:02X}").as_bytes());
                }
            }
            out.extend_from_slice(b"?=");
            i = end;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    Cow::Owned(out)
}

fn contains_foreign_word(raw: &[u8]) -> bool {
    let mut i = 0usize;
    while let Some(pos) = find(&raw[i..], b"=?") {
        let start = i + pos + 2;
        let charset: Vec<u8> = raw[start..]
            .iter()
            .take(40)
            .take_while(|&&b| b != b'?' && b != b'*' && !b.is_ascii_whitespace())
            .copied()
            .collect();
        if let Ok(label) = std::str::from_utf8(&charset)
            && own_decoder(label).is_some()
        {
            return true;
        }
        i = start;
    }
    false
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    // Runs over every ingested mail whole: a vectorised search, not windows().
    memchr::memmem::find(hay, needle)
}

/// Decodes one encoded word starting at `start` (pointing at `=?`) when its
/// charset needs [`own_decoder`]. Returns the index after `?=` and the text.
fn decode_word(raw: &[u8], start: usize) -> Option<(usize, String)> {
    let rest = raw.get(start + 2..)?;
    let limit = rest.len().min(1024);
    let rest = &rest[..limit];
    let q1 = rest.iter().position(|&b| b == b'?')?;
    let charset = std::str::from_utf8(&rest[..q1]).ok()?;
    let charset = charset.split('*').next().unwrap_or(charset);
    let enc = own_decoder(charset)?;
    let kind = *rest.get(q1 + 1)?;
    if rest.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let body_start = q1 + 3;
    let body_len = find(rest.get(body_start..)?, b"?=")?;
    let body = &rest[body_start..body_start + body_len];
    if body.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let bytes = match kind.to_ascii_uppercase() {
        b'B' => base64_decode(body)?,
        b'Q' => q_decode(body),
        _ => return None,
    };
    let (text, _, _) = enc.decode(&bytes);
    Some((start + 2 + body_start + body_len + 2, text.into_owned()))
}

fn q_decode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0usize;
    while i < body.len() {
        match body[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < body.len() => match (hex(body[i + 1]), hex(body[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'='),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Parses a message, tolerating anything: returns `None` when there is
/// nothing to parse or the parser gave up.
pub(crate) fn parse(raw: &[u8]) -> Option<Message<'_>> {
    catch_unwind(AssertUnwindSafe(|| MessageParser::default().parse(raw)))
        .ok()
        .flatten()
}

/// Parses a message as ingest needs it: only the fields a summary reads
/// (addresses, ids, subject, date, MIME) are parsed; the rest (Received,
/// DKIM and the like, many per mail) are skipped, not decoded.
pub(crate) fn parse_for_ingest(raw: &[u8]) -> Option<Message<'_>> {
    static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
        MessageParser::new()
            .with_minimal_headers()
            .with_message_ids()
            .default_header_ignore()
    });
    catch_unwind(AssertUnwindSafe(|| PARSER.parse(raw)))
        .ok()
        .flatten()
}

/// The decoded text of a text part and whether it is HTML.
pub(crate) fn part_text<'a>(
    msg: &'a Message<'a>,
    part: &'a MessagePart<'a>,
) -> Option<(Cow<'a, str>, bool)> {
    let (text, is_html) = match &part.body {
        PartType::Text(t) => (t, false),
        PartType::Html(t) => (t, true),
        _ => return None,
    };
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .and_then(own_decoder);
    if let Some(enc) = charset
        && let Some(bytes) = transfer_decoded(msg, part)
    {
        let (decoded, _, _) = enc.decode(&bytes);
        return Some((Cow::Owned(decoded.into_owned()), is_html));
    }
    Some((Cow::Borrowed(text.as_ref()), is_html))
}

/// The transfer-decoded (base64 / quoted-printable) bytes of a part, taken
/// from the raw message.
pub(crate) fn transfer_decoded(msg: &Message<'_>, part: &MessagePart<'_>) -> Option<Vec<u8>> {
    let start = usize::try_from(part.offset_body).ok()?;
    let end = usize::try_from(part.offset_end).ok()?;
    let raw = msg.raw_message.get(start..end)?;
    match part.encoding {
        mail_parser::Encoding::Base64 => base64_decode(raw),
        mail_parser::Encoding::QuotedPrintable => quoted_printable_decode(raw),
        mail_parser::Encoding::None => Some(raw.to_vec()),
    }
}

/// The MIME type of a part as `type/subtype`, lowercased.
pub(crate) fn mime_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => {
            let mut s = ct.ctype().to_ascii_lowercase();
            if let Some(sub) = ct.subtype() {
                s.push('/');
                s.push_str(&sub.to_ascii_lowercase());
            }
            s
        }
        None => match &part.body {
            PartType::Text(_) => "text/plain".to_string(),
            PartType::Html(_) => "text/html".to_string(),
            PartType::Message(_) => "message/rfc822".to_string(),
            _ => "application/octet-stream".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_iso2022jp_words() {
        // "テスト" in ISO-2022-JP, base64.
        let raw = b"Subject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\r\n\r\nbody\r\n";
        let fixed = prepare(raw);
        assert!(matches!(fixed, Cow::Owned(_)));
        let msg = parse(&fixed).expect("parses");
        assert_eq!(msg.subject(), Some("テスト"));
    }

    #[test]
    fn leaves_utf8_alone() {
        let raw = b"Subject: =?UTF-8?B?0J/RgNC40LLQtdGC?=\r\n\r\nbody\r\n";
        assert!(matches!(prepare(raw), Cow::Borrowed(_)));
    }

    #[test]
    fn q_words() {
        assert_eq!(q_decode(b"a_b=41=4"), b"a bA=4".to_vec());
    }
}
