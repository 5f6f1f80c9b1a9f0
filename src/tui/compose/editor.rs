//! The `$EDITOR` hand-off: a header block plus body, read back after editing.

use super::*;

impl ComposeState {
    /// The mail as text for `$EDITOR`: a header block, a blank line, the body.
    pub fn editor_text(&self) -> String {
        let from = self
            .current_identity()
            .map(Identity::label)
            .unwrap_or_default();
        let mut s = format!(
            "From: {from}\nTo: {}\nCc: {}\nBcc: {}\nSubject: {}\n",
            addresses_of(&text(&self.to)).join(", "),
            addresses_of(&text(&self.cc)).join(", "),
            addresses_of(&text(&self.bcc)).join(", "),
            text(&self.subject).replace('\n', " "),
        );
        for a in &self.attachments {
            if let AttachmentSource::File(p) = &a.source {
                s.push_str(&format!("Attach: {}\n", p.display()));
            }
        }
        s.push('\n');
        s.push_str(&text(&self.body));
        s.push('\n');
        s
    }

    /// Read back what `$EDITOR` left: the header block and the body.
    /// Nothing changes when the text cannot be read.
    pub fn apply_editor_text(
        &mut self,
        desk: &dyn DeskClient,
        text_in: &str,
    ) -> Result<(), String> {
        let t = text_in.replace("\r\n", "\n");
        let (head, body) = match t.split_once("\n\n") {
            Some((h, b)) => (h, b),
            None if t.trim_end().lines().all(|l| l.contains(':')) => (t.trim_end(), ""),
            None => {
                return Err(
                    "The header block (From:, To:, Cc:, Bcc:, Subject:) must end with an empty line."
                        .into(),
                );
            }
        };
        let body = body.strip_suffix('\n').unwrap_or(body);
        let mut headers: Vec<(String, String)> = Vec::new();
        for (n, line) in head.lines().enumerate() {
            if line.starts_with([' ', '\t']) {
                match headers.last_mut() {
                    Some((_, v)) => {
                        v.push(' ');
                        v.push_str(line.trim());
                    }
                    None => return Err(format!("Header line {} continues nothing.", n + 1)),
                }
                continue;
            }
            let Some((k, v)) = line.split_once(':') else {
                return Err(format!(
                    "Header line {} has no \"Name:\": {}",
                    n + 1,
                    crate::mail::sanitize::sanitize_line(line)
                ));
            };
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let mut identity = self.identity;
        let (mut to, mut cc, mut bcc, mut subject) =
            (String::new(), String::new(), String::new(), String::new());
        let mut files: Vec<PathBuf> = Vec::new();
        for (k, v) in headers {
            match k.as_str() {
                "from" => identity = self.identity_from_text(&v)?,
                "to" => to = join_addr(&to, &v),
                "cc" => cc = join_addr(&cc, &v),
                "bcc" => bcc = join_addr(&bcc, &v),
                "subject" => subject = v,
                "attach" => {
                    if !v.is_empty() {
                        files.push(expand_home(&v));
                    }
                }
                other => {
                    return Err(format!(
                        "Unknown header \"{}\"; use From, To, Cc, Bcc, Subject or Attach.",
                        crate::mail::sanitize::sanitize_line(other)
                    ));
                }
            }
        }
        for f in &files {
            if desk.attachment_size(f).is_err() {
                return Err(format!("Attach: {} is not a readable file.", f.display()));
            }
        }
        if let Some(i) = identity
            && self.identity != Some(i)
        {
            self.set_identity(i);
        }
        self.identity = identity;
        self.to = area(&to);
        self.cc = area(&cc);
        self.bcc = area(&bcc);
        self.subject = area(&subject);
        self.body = area(body);
        self.signature_block = self
            .current_identity()
            .and_then(|i| i.signature.as_deref())
            .map(signature_block)
            .filter(|b| body.contains(b.as_str()));
        self.attachments.retain(|a| match &a.source {
            AttachmentSource::File(p) => files.contains(p),
            AttachmentSource::Message(_) => true,
        });
        for f in files {
            if !self
                .attachments
                .iter()
                .any(|a| a.source == AttachmentSource::File(f.clone()))
            {
                self.attachments.push(file_attachment(desk, &f));
            }
        }
        self.attach_cursor = 0;
        self.touch();
        Ok(())
    }

    pub(super) fn identity_from_text(&self, v: &str) -> Result<Option<usize>, String> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        if let Some(i) = self.identities.iter().position(|i| i.label() == v) {
            return Ok(Some(i));
        }
        let email = match (v.find('<'), v.find('>')) {
            (Some(a), Some(b)) if a < b => v[a + 1..b].trim(),
            _ => v.split_whitespace().next().unwrap_or(v),
        };
        let account = v
            .rsplit_once('(')
            .and_then(|(_, r)| r.strip_suffix(')'))
            .map(str::trim);
        let by_email = |acc: Option<&str>| {
            self.identities.iter().position(|i| {
                i.email.eq_ignore_ascii_case(email) && acc.is_none_or(|a| a == i.account)
            })
        };
        by_email(account)
            .or_else(|| by_email(None))
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "From: \"{}\" is none of your identities ({}).",
                    crate::mail::sanitize::sanitize_line(v),
                    self.identities
                        .iter()
                        .map(|i| i.email.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}
