//! Attachments: files with path completion, and the original mail forwarded as one.

use super::*;

pub(super) fn human_size(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f < K {
        format!("{n} B")
    } else if f < K * K {
        format!("{:.0} KB", (f / K).ceil())
    } else if f < K * K * K {
        format!("{:.1} MB", f / K / K)
    } else {
        format!("{:.1} GB", f / K / K / K)
    }
}

pub(super) fn expand_home(p: &str) -> PathBuf {
    if (p == "~" || p.starts_with("~/"))
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(p.trim_start_matches('~').trim_start_matches('/'));
    }
    PathBuf::from(p)
}

/// The file names completing `input` (a path being typed), and the longest
/// common completion. Directories end with `/`; hidden files only show when
/// the typed name starts with a dot.
pub fn complete_path(input: &str) -> (String, Vec<String>) {
    let (dir_part, prefix) = match input.rfind('/') {
        Some(i) => (&input[..=i], &input[i + 1..]),
        None => ("", input),
    };
    let dir = if dir_part.is_empty() {
        PathBuf::from(".")
    } else {
        expand_home(dir_part)
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if !name.starts_with(prefix)
                        || (name.starts_with('.') && !prefix.starts_with('.'))
                    {
                        return None;
                    }
                    let is_dir = e.path().is_dir();
                    Some(if is_dir { format!("{name}/") } else { name })
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let completed = match names.as_slice() {
        [] => input.to_string(),
        [one] => format!("{dir_part}{one}"),
        many => {
            let first = &many[0];
            let mut common = first.len();
            for n in &many[1..] {
                common = common.min(
                    first
                        .char_indices()
                        .zip(n.chars())
                        .take_while(|((_, a), b)| a == b)
                        .last()
                        .map(|((i, a), _)| i + a.len_utf8())
                        .unwrap_or(0),
                );
            }
            format!("{dir_part}{}", &first[..common])
        }
    };
    (completed, names)
}

impl ComposeState {
    pub fn attachments(&self) -> &[ComposeAttachment] {
        &self.attachments
    }

    /// Attach the file at `path`; refused for what is not a readable file.
    pub fn add_attachment(&mut self, path: &Path) -> Result<(), String> {
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("cannot attach {}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("{} is not a file", path.display()));
        }
        if self
            .attachments
            .iter()
            .any(|a| a.source == AttachmentSource::File(path.to_path_buf()))
        {
            return Err(format!("{} is already attached", path.display()));
        }
        self.attachments.push(file_attachment(path));
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

    pub(super) fn attach_message(&mut self, desk: &Desk, id: u64) {
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
    pub fn file_attachments(&self, desk: &Desk) -> Result<Vec<FileAttachment>, String> {
        let mut out = Vec::new();
        for a in &self.attachments {
            let data = match &a.source {
                AttachmentSource::File(p) => std::fs::read(p)
                    .map_err(|e| format!("cannot read attachment {}: {e}", p.display()))?,
                AttachmentSource::Message(id) => {
                    desk.store().body(*id).ok().flatten().ok_or_else(|| {
                        "the forwarded mail's body is not downloaded yet".to_string()
                    })?
                }
            };
            out.push(FileAttachment {
                filename: a.name.clone(),
                content_type: a.content_type.clone(),
                data,
            });
        }
        Ok(out)
    }
}

pub(super) fn message_attachment(desk: &Desk, id: u64) -> ComposeAttachment {
    let size = desk
        .store()
        .body(id)
        .ok()
        .flatten()
        .map(|b| b.len() as u64)
        .unwrap_or(0);
    let subject = desk.summary(id).map(|s| s.subject).unwrap_or_default();
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

pub(super) fn file_attachment(p: &Path) -> ComposeAttachment {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".into());
    ComposeAttachment {
        size: std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
        content_type: content_type_for(&name).to_string(),
        name,
        source: AttachmentSource::File(p.to_path_buf()),
    }
}
