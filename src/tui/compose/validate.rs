//! Whether the mail may go: recipients, identity, one-line headers, own
//! text, known placeholders; and the `Outgoing` it becomes.

use super::*;

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
    pub fn outgoing(&self, desk: &dyn DeskClient) -> Result<Outgoing, String> {
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
            case: self.case,
        })
    }
}
