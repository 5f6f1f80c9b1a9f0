//! Final message bytes for the outbox: fixed Message-ID and Date, no Bcc
//! header (Bcc recipients live only in the envelope), attachments with a
//! content type guessed from the file name.

use crate::store::MessageSummary;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use std::sync::atomic::{AtomicU64, Ordering};

/// A mail to be turned into bytes.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub from_name: String,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<FileAttachment>,
    /// `Reply-To` (a case's group address).
    pub reply_to: Option<String>,
    /// The case a reply is sent from: its number travels in the Message-ID.
    pub case_number: Option<u64>,
}

pub use crate::protocol::FileAttachment;

/// The bytes and the envelope of a built mail.
#[derive(Debug, Clone)]
pub struct BuiltMail {
    pub message_id: String,
    pub raw: Vec<u8>,
    /// Every envelope recipient: To, Cc and Bcc.
    pub recipients: Vec<String>,
}

/// The content type of a file, by its extension.
pub fn content_type_for(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" | "text" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "ics" => "text/calendar",
        "md" => "text/markdown",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "7z" => "application/x-7z-compressed",
        "rar" => "application/vnd.rar",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "rtf" => "application/rtf",
        "eml" => "message/rfc822",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "heic" => "image/heic",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// A fresh Message-ID under the sender's domain, without angle brackets
/// (the store's form; the header gets them).
pub fn new_message_id(from: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>'))
        .filter(|d| !d.is_empty())
        .unwrap_or("deskmail.invalid");
    let now = chrono::Utc::now();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}.{:x}.{n}@{domain}",
        now.timestamp_micros(),
        (std::process::id() as u64) << 32 ^ now.timestamp_subsec_nanos() as u64
    )
}

fn mailbox(name: &str, email: &str) -> Result<Mailbox, String> {
    let addr = email
        .trim()
        .parse()
        .map_err(|e| format!("\"{email}\" is not a valid address ({e})"))?;
    Ok(Mailbox::new(
        (!name.trim().is_empty()).then(|| name.trim().to_string()),
        addr,
    ))
}

/// Build the bytes; `parent` sets In-Reply-To and References.
pub fn build(d: &Draft, parent: Option<&MessageSummary>) -> Result<BuiltMail, String> {
    for field in [&d.subject, &d.from_name, &d.from]
        .into_iter()
        .chain(d.reply_to.iter())
        .chain(d.to.iter())
        .chain(d.cc.iter())
        .chain(d.bcc.iter())
    {
        if field.contains(['\r', '\n']) {
            return Err("a header field contains a line break".into());
        }
    }
    let mut message_id = new_message_id(&d.from);
    if let Some(n) = d.case_number
        && let Some((unique, domain)) = message_id.split_once('@')
    {
        message_id = crate::crm::cases::case_message_id(n, unique, domain);
    }
    let mut b = lettre::Message::builder()
        .from(mailbox(&d.from_name, &d.from)?)
        .subject(d.subject.clone())
        .message_id(Some(format!("<{message_id}>")))
        .date(std::time::SystemTime::now());
    if let Some(r) = d.reply_to.as_deref() {
        b = b.reply_to(mailbox("", r)?);
    }
    for a in &d.to {
        b = b.to(mailbox("", a)?);
    }
    for a in &d.cc {
        b = b.cc(mailbox("", a)?);
    }
    for a in &d.bcc {
        b = b.bcc(mailbox("", a)?);
    }
    if let Some(p) = parent {
        let mut refs = p.references.clone();
        refs.push(p.message_id.clone());
        let bracket = |m: &str| {
            if m.starts_with('<') {
                m.to_string()
            } else {
                format!("<{m}>")
            }
        };
        b = b.in_reply_to(bracket(&p.message_id));
        b = b.references(
            refs.iter()
                .map(|r| bracket(r))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    let msg = if d.attachments.is_empty() {
        b.header(ContentType::TEXT_PLAIN).body(d.body.clone())
    } else {
        let mut mp = MultiPart::mixed().singlepart(SinglePart::plain(d.body.clone()));
        for a in &d.attachments {
            let ct = ContentType::parse(&a.content_type).unwrap_or(
                ContentType::parse("application/octet-stream").map_err(|e| e.to_string())?,
            );
            mp = mp.singlepart(Attachment::new(a.filename.clone()).body(a.data.clone(), ct));
        }
        b.multipart(mp)
    }
    .map_err(|e| e.to_string())?;
    let raw = msg.formatted();
    Ok(BuiltMail {
        message_id,
        raw,
        recipients: d
            .to
            .iter()
            .chain(d.cc.iter())
            .chain(d.bcc.iter())
            .map(|a| a.trim().to_string())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> Draft {
        Draft {
            from_name: "Support".into(),
            from: "support@desk.example".into(),
            to: vec!["ann@example.com".into()],
            bcc: vec!["archive@desk.example".into()],
            subject: "Your order".into(),
            body: "Hello\n".into(),
            ..Draft::default()
        }
    }

    #[test]
    fn bcc_is_in_the_envelope_only() {
        let m = build(&draft(), None).expect("built");
        let text = String::from_utf8_lossy(&m.raw);
        assert!(!text.to_lowercase().contains("bcc:"), "{text}");
        assert!(!text.contains("archive@desk.example"), "{text}");
        assert!(m.recipients.contains(&"archive@desk.example".to_string()));
        assert!(
            text.contains(&format!("Message-ID: <{}>", m.message_id)),
            "{text}"
        );
    }

    #[test]
    fn reply_sets_in_reply_to_and_references() {
        let parent = MessageSummary {
            message_id: "<b@x>".into(),
            references: vec!["<a@x>".into()],
            ..MessageSummary::default()
        };
        let m = build(&draft(), Some(&parent)).expect("built");
        let text = String::from_utf8_lossy(&m.raw);
        assert!(text.contains("In-Reply-To: <b@x>"), "{text}");
        assert!(text.contains("References: <a@x> <b@x>"), "{text}");
    }

    #[test]
    fn line_break_in_subject_is_refused() {
        let mut d = draft();
        d.subject = "x\r\nBcc: evil@example.com".into();
        assert!(build(&d, None).is_err());
    }

    #[test]
    fn attachments_get_a_content_type() {
        let mut d = draft();
        d.attachments.push(FileAttachment {
            filename: "invoice.pdf".into(),
            content_type: content_type_for("invoice.pdf").into(),
            data: b"%PDF-1.4".to_vec(),
        });
        let m = build(&d, None).expect("built");
        let text = String::from_utf8_lossy(&m.raw);
        assert!(text.contains("application/pdf"), "{text}");
        assert!(text.contains("invoice.pdf"), "{text}");
        assert_eq!(content_type_for("A.JPEG"), "image/jpeg");
        assert_eq!(content_type_for("noext"), "application/octet-stream");
    }
}
