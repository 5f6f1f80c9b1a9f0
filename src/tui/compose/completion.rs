//! Recipient completion from records and past correspondents.

use super::*;

/// Addresses to complete from: records with addresses, then the people of
/// the last mails in each account's INBOX and Sent.
/// Completion candidates; a read that fails only leaves fewer of them.
pub(crate) fn known_addresses(desk: &dyn DeskClient, own: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut add = |email: &str, name: &str| {
        let e = email.trim().to_lowercase();
        if e.is_empty() || own.contains(&e) || !seen.insert(e.clone()) {
            return;
        }
        out.push((e, name.trim().to_string()));
    };
    for kind in [
        RecordKind::Contact,
        RecordKind::Lead,
        RecordKind::Customer,
        RecordKind::Account,
    ] {
        for r in desk.records(kind).unwrap_or_default() {
            if r.deleted {
                continue;
            }
            for e in &r.emails {
                add(e, &r.name);
            }
        }
    }
    for a in &desk.config().accounts {
        for row in newest(desk, &a.name, "INBOX") {
            for p in &row.summary.from {
                add(&p.email, &p.name);
            }
        }
        let sent = desk
            .special_folder(&a.name, "\\Sent")
            .ok()
            .flatten()
            .unwrap_or_else(|| "Sent".into());
        for row in newest(desk, &a.name, &sent) {
            for p in row.summary.to.iter().chain(row.summary.cc.iter()) {
                add(&p.email, &p.name);
            }
        }
    }
    out
}

fn newest(desk: &dyn DeskClient, account: &str, folder: &str) -> Vec<crate::protocol::ListRow> {
    let q = crate::protocol::PageQuery {
        account: account.into(),
        folder: folder.into(),
        from: crate::protocol::PageFrom::After,
        cursor: None,
        n: RECENT_MAILS,
        collapsed: false,
    };
    desk.page(&q).unwrap_or_default()
}

impl ComposeState {
    pub(super) fn address_area(&self, field: usize) -> Option<&TextArea<'static>> {
        match field {
            TO => Some(&self.to),
            CC => Some(&self.cc),
            BCC => Some(&self.bcc),
            _ => None,
        }
    }

    /// The address being typed in To/Cc/Bcc (after the last comma).
    pub(super) fn typed_token(&self) -> Option<String> {
        let t = self.address_area(self.field)?;
        let line = t.lines().get(t.cursor().0)?;
        let tok = line.rsplit([',', ';']).next().unwrap_or("").trim();
        (!tok.is_empty()).then(|| tok.to_string())
    }

    /// Known addresses completing what is typed in To/Cc/Bcc, best first:
    /// "Name <address>" for display, the address for completion.
    pub fn suggestions(&self) -> Vec<(String, String)> {
        if self.mode != Mode::Edit {
            return vec![];
        }
        let Some(tok) = self.typed_token() else {
            return vec![];
        };
        let tok = tok.to_lowercase();
        let present: Vec<String> = [TO, CC, BCC]
            .iter()
            .filter_map(|f| self.address_area(*f))
            .flat_map(|t| addresses_of(&text(t)))
            .map(|a| a.to_lowercase())
            .collect();
        let mut scored: Vec<(u8, &(String, String))> = self
            .known
            .iter()
            .filter(|(e, _)| *e != tok && !present.contains(e))
            .filter_map(|k| {
                let (e, n) = k;
                let name = n.to_lowercase();
                let score = if e.starts_with(&tok) {
                    0
                } else if name.starts_with(&tok) {
                    1
                } else if name.split_whitespace().any(|w| w.starts_with(&tok)) {
                    2
                } else if e.contains(&tok) {
                    3
                } else {
                    return None;
                };
                Some((score, k))
            })
            .collect();
        scored.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.0.cmp(&b.1.0)));
        scored
            .into_iter()
            .take(5)
            .map(|(_, (e, n))| {
                let shown = if n.is_empty() {
                    e.clone()
                } else {
                    format!("{n} <{e}>")
                };
                (shown, e.clone())
            })
            .collect()
    }

    /// Replace the typed address with the first suggestion; whether it did.
    pub fn complete_recipient(&mut self) -> bool {
        let Some((_, email)) = self.suggestions().into_iter().next() else {
            return false;
        };
        let field = self.field;
        let Some(t) = self.address_area(field) else {
            return false;
        };
        let row = t.cursor().0;
        let mut lines: Vec<String> = t.lines().to_vec();
        let Some(line) = lines.get_mut(row) else {
            return false;
        };
        let head = match line.rfind([',', ';']) {
            Some(i) => format!("{} ", &line[..=i]),
            None => String::new(),
        };
        *line = format!("{head}{email}, ");
        let new = lines.join("\n");
        let mut a = area(&new);
        a.move_cursor(CursorMove::Jump(
            u16::try_from(row).unwrap_or(u16::MAX),
            u16::MAX,
        ));
        a.move_cursor(CursorMove::End);
        match field {
            TO => self.to = a,
            CC => self.cc = a,
            _ => self.bcc = a,
        }
        self.touch();
        true
    }
}
