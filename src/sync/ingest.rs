//! Turning raw RFC 822 bytes into the store's summary rows.
//! Pure: no I/O, so it runs on any thread (sync workers, demo builder).

use crate::mail::parse::{Address, ParsedHeaders, parse_headers, stable_id};
use crate::store::{MailStatus, MessageSummary, Party};

fn parties(list: Vec<Address>) -> Vec<Party> {
    list.into_iter()
        .map(|a| Party {
            name: a.name.unwrap_or_default(),
            email: lowercase_trimmed(a.email),
        })
        .collect()
}

/// The address trimmed and lowercased, in place when it is ASCII.
fn lowercase_trimmed(mut email: String) -> String {
    if !email.is_ascii() {
        return email.trim().to_lowercase();
    }
    email.make_ascii_lowercase();
    if email.trim().len() != email.len() {
        return email.trim().to_string();
    }
    email
}

/// Build the summary of a mail. `own` lists the desk's own addresses, so a
/// mail from one of them counts as Sent.
pub fn summary_from_raw(raw: &[u8], own: &[String]) -> MessageSummary {
    summary_of(parse_headers(raw), raw, own)
}

/// One parse of a mail for ingest: its summary and the bytes of its
/// attachments (what the linking rules' size limit needs).
pub fn parse_once(raw: &[u8], own: &[String]) -> (MessageSummary, Option<u64>) {
    let prepared = crate::mail::mime::prepare(raw);
    let Some(msg) = crate::mail::mime::parse_for_ingest(&prepared) else {
        return (summary_of(ParsedHeaders::default(), raw, own), None);
    };
    let h = crate::mail::parse::headers_of(&msg);
    let bytes = msg
        .attachments()
        .map(|p| p.contents().len() as u64)
        .sum::<u64>();
    (summary_of(h, raw, own), Some(bytes))
}

/// The bytes of a stored mail's attachments, parsing it (None: unparsable).
pub fn attachment_bytes(raw: &[u8]) -> Option<u64> {
    let parsed = mail_parser::MessageParser::default().parse(raw)?;
    Some(
        parsed
            .attachments()
            .map(|p| p.contents().len() as u64)
            .sum(),
    )
}

fn summary_of(h: ParsedHeaders, raw: &[u8], own: &[String]) -> MessageSummary {
    let message_id = h
        .message_id
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| crate::mail::thread::normalize_id(&stable_id(raw)));
    let from = parties(h.from);
    let outgoing = from.iter().any(|p| own.iter().any(|o| o == &p.email));
    MessageSummary {
        id: 0,
        message_id,
        subject: h.subject,
        from,
        to: parties(h.to),
        cc: parties(h.cc),
        bcc: parties(h.bcc),
        reply_to: parties(h.reply_to),
        date: h.date.unwrap_or(0),
        size: raw.len() as u64,
        has_attachments: h.has_attachments,
        preview: h.preview,
        in_reply_to: h.in_reply_to,
        references: h.references,
        thread_id: 0,
        status: if outgoing {
            MailStatus::Sent
        } else {
            MailStatus::Archived
        },
        not_linked_reason: None,
        msgid_clash: false,
        body_cut: false,
    }
}

/// A mail over the account's size limit as stored instead: its own headers
/// (without the Content-* ones, which described the missing body) and a
/// plain-text note with its size. `prefix` is the start of the mail.
pub fn headers_with_note(prefix: &[u8], size: u64, limit_mb: u64) -> Vec<u8> {
    let end = find(prefix, b"\r\n\r\n")
        .or_else(|| find(prefix, b"\n\n"))
        // No end of headers within the limit: keep the first lines only.
        .unwrap_or(prefix.len().min(64 * 1024));
    let mut out = Vec::with_capacity(end + 512);
    let mut skipping = false;
    for line in prefix[..end].split_inclusive(|&b| b == b'\n') {
        let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !folded {
            skipping = line
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case(b"content-"))
                || line
                    .get(..13)
                    .is_some_and(|s| s.eq_ignore_ascii_case(b"mime-version:"));
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    while out.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        out.pop();
    }
    let note = format!(
        "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         [This mail is {}, more than max_message_mb = {limit_mb} for this account: only its \
         headers were imported.]\r\n",
        crate::mail::render::human_size(usize::try_from(size).unwrap_or(usize::MAX))
    );
    out.extend_from_slice(note.as_bytes());
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_mail_keeps_its_headers_and_says_its_size() {
        let raw = b"From: a@x.example\r\nSubject: Logs\r\nMessage-ID: <big@x>\r\n\
Content-Type: multipart/mixed;\r\n boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nAAAA";
        let stored = headers_with_note(raw, 73 << 20, 50);
        let s = summary_from_raw(&stored, &[]);
        assert_eq!(s.subject, "Logs");
        assert_eq!(s.message_id, "big@x");
        let text = crate::mail::render::render_to_text(&stored);
        assert!(
            text.contains("This mail is 73.0 MB, more than max_message_mb = 50"),
            "{text}"
        );
        assert!(!text.contains("AAAA"), "{text}");
    }
}
