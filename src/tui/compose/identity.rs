//! Identities (who a mail goes out as), their settings file and signatures.

use super::*;

/// Who a mail goes out as.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    pub account: String,
    pub name: String,
    pub email: String,
    pub group: bool,
    pub signature: Option<String>,
    pub archive_bcc: bool,
}

impl Identity {
    /// "name <email> (account)", or "email (account)" without a name.
    pub fn label(&self) -> String {
        if self.name.trim().is_empty() {
            format!("{} ({})", self.email, self.account)
        } else {
            format!("{} <{}> ({})", self.name, self.email, self.account)
        }
    }
}

/// The identities the agent of `cfg` may send as.
pub fn identities_for(cfg: &crate::config::Config, settings: &ComposeSettings) -> Vec<Identity> {
    let me = [
        cfg.agent.email.trim().to_lowercase(),
        cfg.agent.name.trim().to_lowercase(),
    ];
    let mut out = Vec::new();
    for a in &cfg.accounts {
        let default_name = if a.group {
            String::new()
        } else {
            cfg.agent.name.clone()
        };
        let configured: Vec<&IdentityConfig> = settings
            .identities
            .iter()
            .filter(|i| i.account == a.name)
            .collect();
        if configured.is_empty() {
            out.push(Identity {
                account: a.name.clone(),
                name: default_name,
                email: a.email.clone(),
                group: a.group,
                signature: None,
                archive_bcc: false,
            });
            continue;
        }
        for i in configured {
            let allowed = i.agents.is_empty()
                || i.agents
                    .iter()
                    .any(|x| me.contains(&x.trim().to_lowercase()) && !x.trim().is_empty());
            if !allowed {
                continue;
            }
            out.push(Identity {
                account: a.name.clone(),
                name: i.name.clone().unwrap_or_else(|| default_name.clone()),
                email: i.email.clone().unwrap_or_else(|| a.email.clone()),
                group: a.group,
                signature: i.signature.clone().filter(|s| !s.trim().is_empty()),
                archive_bcc: i.archive_bcc,
            });
        }
    }
    out
}

pub(super) fn signature_block(sig: &str) -> String {
    format!("-- \n{}", sig.trim_end_matches(['\n', '\r']))
}

impl ComposeState {
    /// The chosen identity.
    pub fn current_identity(&self) -> Option<&Identity> {
        self.identity.and_then(|i| self.identities.get(i))
    }

    /// Choose identity `i`, swapping the signature in the body.
    pub fn set_identity(&mut self, i: usize) {
        if i >= self.identities.len() || self.identity == Some(i) {
            return;
        }
        self.identity = Some(i);
        let new_block = self.identities[i].signature.as_deref().map(signature_block);
        let old_block = self.signature_block.take();
        let body = text(&self.body);
        let updated = match (&old_block, &new_block) {
            (Some(o), Some(n)) if body.contains(o.as_str()) => Some(body.replacen(o, n, 1)),
            (Some(o), None) if body.contains(o.as_str()) => {
                let with_gap = format!("\n{o}\n");
                Some(if body.contains(&with_gap) {
                    body.replacen(&with_gap, "", 1)
                } else {
                    body.replacen(o, "", 1)
                })
            }
            (None, Some(n)) => Some(
                match self.quote_marker.as_deref().and_then(|m| body.find(m)) {
                    Some(pos) => format!("{}{n}\n\n{}", &body[..pos], &body[pos..]),
                    None if body.trim().is_empty() => format!("\n\n{n}"),
                    None => format!("{}\n\n{n}", body.trim_end_matches('\n')),
                },
            ),
            _ => None,
        };
        if let Some(b) = updated {
            self.replace_body(&b);
        }
        self.signature_block = new_block;
        self.touch();
    }

    pub(super) fn cycle_identity(&mut self, forward: bool) {
        let n = self.identities.len();
        if n == 0 {
            return;
        }
        let next = match self.identity {
            None => 0,
            Some(i) if forward => (i + 1) % n,
            Some(i) => (i + n - 1) % n,
        };
        self.set_identity(next);
    }

    /// Replace the body, keeping the cursor where it was when possible.
    pub(super) fn replace_body(&mut self, body: &str) {
        let (r, c) = {
            let cur = self.body.cursor();
            (cur.0, cur.1)
        };
        self.body = area(body);
        let r = r.min(self.body.lines().len().saturating_sub(1));
        let c = c.min(self.body.lines().get(r).map_or(0, |l| l.chars().count()));
        self.body.move_cursor(CursorMove::Jump(
            u16::try_from(r).unwrap_or(u16::MAX),
            u16::try_from(c).unwrap_or(u16::MAX),
        ));
    }
}
