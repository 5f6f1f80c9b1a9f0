//! Turning raw RFC 822 bytes into the store's summary rows.
//! Pure: no I/O, so it runs on any thread (sync workers, demo builder).

use crate::mail::parse::{Address, ParsedHeaders, parse_headers, stable_id};
use crate::store::{MailStatus, MessageSummary, Party};

fn parties(list: &[Address]) -> Vec<Party> {
    list.iter()
        .map(|a| Party {
            name: a.name.clone().unwrap_or_default(),
            email: a.email.trim().to_lowercase(),
        })
        .collect()
}

/// Build the summary of a mail. `own` lists the desk's own addresses, so a
/// mail from one of them counts as Sent.
pub fn summary_from_raw(raw: &[u8], own: &[String]) -> MessageSummary {
    let h: ParsedHeaders = parse_headers(raw);
    let message_id = h
        .message_id
        .clone()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| crate::mail::thread::normalize_id(&stable_id(raw)));
    let from = parties(&h.from);
    let outgoing = from.iter().any(|p| own.iter().any(|o| o == &p.email));
    MessageSummary {
        id: 0,
        message_id,
        subject: h.subject.clone(),
        from,
        to: parties(&h.to),
        cc: parties(&h.cc),
        bcc: parties(&h.bcc),
        date: h.date.unwrap_or(0),
        size: raw.len() as u64,
        has_attachments: h.has_attachments,
        preview: h.preview.clone(),
        in_reply_to: h.in_reply_to.clone(),
        references: h.references.clone(),
        thread_id: 0,
        status: if outgoing {
            MailStatus::Sent
        } else {
            MailStatus::Archived
        },
        not_linked_reason: None,
        msgid_clash: false,
    }
}
