//! Auto-linking: a mail's parties are matched against records by address.
//! Never links or creates a record for the desk's own or system addresses.

use crate::store::{MessageSummary, RecordKind, RecordRef, Store, StoreError};

/// Who the desk is, for matching.
#[derive(Debug, Clone, Default)]
pub struct LinkRules {
    /// Agents', accounts' and system addresses, lowercased.
    pub own: Vec<String>,
    pub strip_plus_tags: bool,
}

impl LinkRules {
    pub fn from_config(cfg: &crate::config::Config) -> LinkRules {
        LinkRules {
            own: cfg.own_addresses(),
            strip_plus_tags: cfg.strip_plus_tags,
        }
    }

    fn normalize(&self, email: &str) -> Option<String> {
        crate::mail::address::normalize_email(email, self.strip_plus_tags)
    }

    /// Whether an address belongs to the desk (agents, accounts, system, `system+tag`).
    pub fn is_own(&self, email: &str) -> bool {
        let Some(n) = self.normalize(email) else {
            return false;
        };
        let base = crate::mail::address::normalize_email(&n, true).unwrap_or_default();
        self.own.iter().any(|o| *o == n || *o == base)
    }
}

/// Link a stored mail to every record its From/To/Cc match; a contact also
/// links its company. Returns the links made; records the reason if none.
pub fn auto_link(store: &Store, rules: &LinkRules, msg: &MessageSummary) -> Result<Vec<RecordRef>, StoreError> {
    let mut linked: Vec<RecordRef> = Vec::new();
    let mut any_customer = false;
    let parties = msg.from.iter().chain(msg.to.iter()).chain(msg.cc.iter());
    for p in parties {
        if rules.is_own(&p.email) {
            continue;
        }
        any_customer = true;
        let Some(addr) = rules.normalize(&p.email) else {
            continue;
        };
        for r in store.records_by_address(&addr)? {
            if !linked.contains(&r.reference()) {
                linked.push(r.reference());
            }
            if r.kind == RecordKind::Contact
                && let Some(parent) = r.parent
                && !linked.contains(&parent)
            {
                linked.push(parent);
            }
        }
    }
    for r in &linked {
        store.link(msg.id, *r)?;
    }
    let reason = if !linked.is_empty() {
        None
    } else if !any_customer {
        Some("sent to an agent of the desk".to_string())
    } else {
        Some("no matching contact".to_string())
    };
    if reason != msg.not_linked_reason && store.links_of(msg.id)?.is_empty() {
        let mut m = msg.clone();
        m.not_linked_reason = reason;
        store.update_summary(&m)?;
    } else if !linked.is_empty() && msg.not_linked_reason.is_some() {
        let mut m = msg.clone();
        m.not_linked_reason = None;
        store.update_summary(&m)?;
    }
    Ok(linked)
}
