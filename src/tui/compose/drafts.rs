//! Drafts: autosave while writing, and recovery after a crash.

use super::*;

impl ComposeState {
    /// The mail as it is now, to save.
    pub fn draft(&self) -> StoredDraft {
        let id = self.identity.and_then(|i| self.identities.get(i));
        StoredDraft {
            id: self.draft_id,
            saved: 0,
            account: id.map(|i| i.account.clone()),
            from: id.map(|i| i.email.clone()),
            to: text(&self.to),
            cc: text(&self.cc),
            bcc: text(&self.bcc),
            subject: text(&self.subject),
            body: text(&self.body),
            in_reply_to: self.in_reply_to,
            agent: None,
            forward_of: self.attachments.iter().find_map(|a| match a.source {
                AttachmentSource::Message(id) => Some(id),
                _ => None,
            }),
            attachments: self
                .attachments
                .iter()
                .filter_map(|a| match &a.source {
                    AttachmentSource::File(p) => Some(p.clone()),
                    _ => None,
                })
                .collect(),
            // The desk keeps what it knows of the server's copy.
            server_origin: None,
        }
    }

    /// The draft's id in the store (0 only before a first save of a pane
    /// made without a desk).
    pub fn draft_id(&self) -> u64 {
        self.draft_id
    }

    /// Whether there are changes not saved yet.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Whether the draft should be saved now: there are unsaved changes and
    /// typing paused for a moment or has gone on for a while.
    pub fn autosave_due(&self, now: Instant) -> bool {
        if !self.dirty {
            return false;
        }
        let idle = self
            .last_edit
            .is_none_or(|t| now.saturating_duration_since(t) >= AUTOSAVE_IDLE);
        let overdue = self
            .last_save
            .or(self.last_edit)
            .is_none_or(|t| now.saturating_duration_since(t) >= AUTOSAVE_MAX);
        idle || overdue
    }

    /// The command saving the draft if [`ComposeState::autosave_due`].
    pub fn autosave(&mut self, now: Instant) -> Option<Command> {
        self.autosave_due(now).then(|| self.save_draft())
    }

    /// The command saving the draft (also when nothing changed); a failure
    /// comes back from the desk as an error event.
    pub fn save_draft(&mut self) -> Command {
        self.saved = true;
        self.dirty = false;
        self.last_save = Some(Instant::now());
        Command::SaveDraft(Box::new(self.draft()))
    }

    pub(super) fn touch(&mut self) {
        self.dirty = true;
        self.last_edit = Some(Instant::now());
    }
}
