//! Turning an `Outgoing` into final RFC 822 bytes with a fixed Message-ID and
//! Date, so the outbox can retry the very same message.

use super::Outgoing;
use crate::store::MessageSummary;
use lettre::message::{Mailbox, header::ContentType};

pub struct Built {
    pub message_id: String,
    pub raw: Vec<u8>,
}

fn mailbox(name: &str, email: &str) -> Result<Mailbox, String> {
    let addr = email
        .parse()
        .map_err(|e| format!("\"{email}\" is not a valid address ({e})"))?;
    Ok(Mailbox::new(
        if name.is_empty() { None } else { Some(name.to_string()) },
        addr,
    ))
}

/// Build the message; `parent` sets In-Reply-To and References.
pub fn build(out: &Outgoing, parent: Option<&MessageSummary>) -> Result<Built, String> {
    for field in [&out.subject, &out.from_name, &out.from] {
        if field.contains(['\r', '\n']) {
            return Err("a header field contains a line break".into());
        }
    }
    let domain = out.from.rsplit('@').next().unwrap_or("deskmail.invalid");
    let now = chrono::Utc::now();
    let message_id = format!(
        "{}.{:x}@{domain}",
        now.timestamp_micros(),
        std::process::id() as u64 ^ now.timestamp_subsec_nanos() as u64
    );
    let mut b = lettre::Message::builder()
        .from(mailbox(&out.from_name, &out.from)?)
        .subject(out.subject.clone())
        .message_id(Some(format!("<{message_id}>")))
        .date(std::time::SystemTime::now())
        .header(ContentType::TEXT_PLAIN);
    for to in &out.to {
        b = b.to(mailbox("", to)?);
    }
    for cc in &out.cc {
        b = b.cc(mailbox("", cc)?);
    }
    for bcc in &out.bcc {
        b = b.bcc(mailbox("", bcc)?);
    }
    if let Some(p) = parent {
        b = b.in_reply_to(format!("<{}>", p.message_id));
        let mut refs = p.references.clone();
        refs.push(p.message_id.clone());
        let refs: Vec<String> = refs.iter().map(|r| format!("<{r}>")).collect();
        b = b.references(refs.join(" "));
    }
    let msg = b.body(out.body.clone()).map_err(|e| e.to_string())?;
    Ok(Built {
        message_id,
        raw: msg.formatted(),
    })
}
