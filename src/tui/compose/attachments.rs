//! Attachments: files with path completion, and the original mail forwarded as one.

use super::*;

impl ComposeState {
    pub fn attachments(&self) -> &[ComposeAttachment] {
        &self.attachments
    }

    /// Attach the file at `path`; refused for what is not a readable file.
    pub fn add_attachment(&mut self, desk: &dyn DeskClient, path: &Path) -> Result<(), String> {
        let size = desk.attachment_size(path).map_err(|e| e.0)?;
        if self
            .attachments
            .iter()
            .any(|a| a.source == AttachmentSource::File(path.to_path_buf()))
        {
            return Err(format!("{} is already attached", path.display()));
        }
        self.attachments.push(sized_attachment(path, size));
        self.attach_cursor = self.attachments.len() - 1;
        self.touch();
        Ok(())
    }

    /// Remove the attachment at `index`; whether there was one.
    pub fn remove_attachment(&mut self, index: usize) -> bool {
        if index >= self.attachments.len() {
            return false;
        }
        let a = self.attachments.remove(index);
        if let AttachmentSource::Message(id) = a.source
            && self.forward_of == Some(id)
            && let Some(b) = &self.forward_block
        {
            // Forwarding without the original would lose it: inline again.
            let b = b.clone();
            self.insert_block(&b);
        }
        self.attach_cursor = self
            .attach_cursor
            .min(self.attachments.len().saturating_sub(1));
        self.touch();
        true
    }

    pub(super) fn attach_message(&mut self, desk: &dyn DeskClient, id: u64) {
        let a = message_attachment(desk, id);
        self.forward_attachment = Some(a.clone());
        self.attachments.push(a);
    }

    /// Whether the original goes as an attachment (else inline).
    pub fn forwards_as_attachment(&self) -> bool {
        self.attachments
            .iter()
            .any(|a| matches!(a.source, AttachmentSource::Message(_)))
    }

    /// Forward the original inline or as a message/rfc822 attachment.
    pub fn set_forward_as_attachment(&mut self, on: bool) -> Result<(), String> {
        let Some(id) = self.forward_of else {
            return Err("Only a forwarded mail can be attached.".into());
        };
        if on == self.forwards_as_attachment() {
            return Ok(());
        }
        if on {
            if let Some(b) = &self.forward_block {
                let body = text(&self.body);
                if let Some(pos) = body.find(b.as_str()) {
                    let mut s = body[..pos].trim_end_matches('\n').to_string();
                    s.push('\n');
                    s.push_str(&body[pos + b.len()..]);
                    self.replace_body(&s);
                }
            }
            let Some(a) = self.forward_attachment.clone() else {
                return Err("The forwarded mail is not available.".into());
            };
            self.attachments.push(a);
            self.attach_cursor = self.attachments.len() - 1;
        } else if let Some(i) = self
            .attachments
            .iter()
            .position(|a| a.source == AttachmentSource::Message(id))
        {
            self.attachments.remove(i);
            if let Some(b) = self.forward_block.clone() {
                self.insert_block(&b);
            }
            self.attach_cursor = 0;
        }
        self.touch();
        Ok(())
    }

    pub(super) fn insert_block(&mut self, block: &str) {
        let mut body = text(&self.body);
        if !body.ends_with('\n') {
            body.push('\n');
        }
        body.push('\n');
        body.push_str(block);
        self.replace_body(&body);
    }

    /// The attachments' bytes, for sending.
    pub fn file_attachments(&self, desk: &dyn DeskClient) -> Result<Vec<FileAttachment>, String> {
        let mut out = Vec::new();
        for a in &self.attachments {
            let data = desk
                .attachment_bytes(&a.source)
                .map_err(|e| match &a.source {
                    AttachmentSource::File(p) if desk.attachment_size(p).is_err() => format!(
                        "The attachment {} is gone; remove it or put the file back.",
                        p.display()
                    ),
                    _ => e.0,
                })?;
            out.push(FileAttachment {
                filename: a.name.clone(),
                content_type: a.content_type.clone(),
                data,
            });
        }
        Ok(out)
    }
}

pub(super) fn message_attachment(desk: &dyn DeskClient, id: u64) -> ComposeAttachment {
    // The size and name only label the attachment; unknown ones show as 0 / "message".
    let size = desk.body_size(id).ok().flatten().unwrap_or(0);
    let subject = desk
        .summary(id)
        .ok()
        .flatten()
        .map(|s| s.subject)
        .unwrap_or_default();
    let mut name: String = subject
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    if name.trim().is_empty() {
        name = "message".into();
    }
    ComposeAttachment {
        name: format!("{}.eml", name.trim()),
        size,
        content_type: "message/rfc822".into(),
        source: AttachmentSource::Message(id),
    }
}

pub(super) fn join_addr(a: &str, b: &str) -> String {
    if a.trim().is_empty() {
        b.to_string()
    } else if b.trim().is_empty() {
        a.to_string()
    } else {
        format!("{a}, {b}")
    }
}

/// A file attachment as a reopened draft or the editor names it; a file
/// that is gone shows size 0 and Send reports it.
pub(super) fn file_attachment(desk: &dyn DeskClient, p: &Path) -> ComposeAttachment {
    sized_attachment(p, desk.attachment_size(p).unwrap_or(0))
}

fn sized_attachment(p: &Path, size: u64) -> ComposeAttachment {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".into());
    ComposeAttachment {
        size,
        content_type: content_type_for(&name).to_string(),
        name,
        source: AttachmentSource::File(p.to_path_buf()),
    }
}
