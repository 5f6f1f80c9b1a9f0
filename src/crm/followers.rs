//! Followers: agents who follow a record hear about new mail linked to it,
//! even when they are not among the mail's recipients.
//!
//! An agent is named the same way everywhere (by name or by address);
//! comparisons ignore case and surrounding blanks.

use crate::store::notifications::Notification;
use crate::store::{MessageSummary, Record, RecordKind, RecordRef, Store, StoreError};

fn same_agent(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn load(store: &Store, r: RecordRef) -> Result<Record, StoreError> {
    store
        .record(r.0, r.1)?
        .ok_or_else(|| StoreError::NotFound(format!("{} {}", r.0.label(), r.1)))
}

/// Start following a record; false if the agent already follows it.
pub fn follow(store: &Store, r: RecordRef, agent: &str) -> Result<bool, StoreError> {
    let agent = agent.trim();
    if agent.is_empty() {
        return Ok(false);
    }
    let mut rec = load(store, r)?;
    if rec.followers.iter().any(|f| same_agent(f, agent)) {
        return Ok(false);
    }
    rec.followers.push(agent.to_string());
    store.put_record(rec)?;
    Ok(true)
}

/// Stop following a record; false if the agent did not follow it.
pub fn unfollow(store: &Store, r: RecordRef, agent: &str) -> Result<bool, StoreError> {
    let mut rec = load(store, r)?;
    let before = rec.followers.len();
    rec.followers.retain(|f| !same_agent(f, agent));
    if rec.followers.len() == before {
        return Ok(false);
    }
    store.put_record(rec)?;
    Ok(true)
}

/// Whether `agent` follows the record.
pub fn is_following(rec: &Record, agent: &str) -> bool {
    rec.followers.iter().any(|f| same_agent(f, agent))
}

/// The line shown for a mail on a followed record.
pub fn notification_text(rec: &Record, msg: &MessageSummary) -> String {
    let subject = if msg.subject.trim().is_empty() {
        "(no subject)"
    } else {
        msg.subject.as_str()
    };
    format!(
        "New mail on {} {}: {} (from {})",
        rec.kind.label(),
        rec.title(),
        subject,
        msg.sender()
    )
}

/// Whether the agent wrote the mail themselves (no need to tell them).
fn sent_by(msg: &MessageSummary, agent: &str) -> bool {
    msg.from.iter().any(|p| {
        same_agent(&p.email, agent) || (!p.name.trim().is_empty() && same_agent(&p.name, agent))
    })
}

/// The records whose followers hear about mail linked to `r`: the record
/// itself and, for a contact, its company.
fn watched(store: &Store, r: RecordRef) -> Result<Vec<Record>, StoreError> {
    let mut out = Vec::new();
    if let Some(rec) = store.record(r.0, r.1)?
        && !rec.deleted
    {
        if rec.kind == RecordKind::Contact
            && let Some(p) = rec.parent
            && let Some(parent) = store.record(p.0, p.1)?
            && !parent.deleted
        {
            out.push(parent);
        }
        out.insert(0, rec);
    }
    Ok(out)
}

/// What `agent` is told about mail `msg_id`: one line per followed record the
/// mail is linked to (directly, or through a contact's company). Pure: reads
/// the store, writes nothing.
pub fn notifications_for_new_mail(
    store: &Store,
    msg_id: u64,
    agent: &str,
) -> Result<Vec<String>, StoreError> {
    let Some(msg) = store.summary(msg_id)? else {
        return Ok(Vec::new());
    };
    if sent_by(&msg, agent) {
        return Ok(Vec::new());
    }
    let mut seen: Vec<RecordRef> = Vec::new();
    let mut out = Vec::new();
    for linked in store.links_of(msg_id)? {
        for rec in watched(store, linked.reference())? {
            if seen.contains(&rec.reference()) {
                continue;
            }
            seen.push(rec.reference());
            if is_following(&rec, agent) {
                out.push(notification_text(&rec, &msg));
            }
        }
    }
    Ok(out)
}

/// The notifications the followers of `r` get for mail `msg` newly linked
/// to it (ids left 0: assigned when written). Reads only.
pub fn notifications_for_link(
    store: &dyn crate::crm::linking::LinkReads,
    msg: &MessageSummary,
    r: RecordRef,
) -> Result<Vec<Notification>, StoreError> {
    let Some(rec) = store.record(r.0, r.1)? else {
        return Ok(Vec::new());
    };
    if rec.deleted {
        return Ok(Vec::new());
    }
    let created = chrono::Utc::now().timestamp();
    Ok(rec
        .followers
        .iter()
        .filter(|agent| !sent_by(msg, agent))
        .map(|agent| Notification {
            id: 0,
            agent: agent.clone(),
            message: msg.id,
            record: Some(r),
            text: notification_text(&rec, msg),
            created,
            read: false,
        })
        .collect())
}

/// Record a notification for every follower of `r` (the mail was just
/// linked to it); returns `(agent, text)` of each.
pub fn notify_followers(
    store: &Store,
    msg: &MessageSummary,
    r: RecordRef,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for n in notifications_for_link(store, msg, r)? {
        out.push((n.agent.clone(), n.text.clone()));
        store.add_notification(n)?;
    }
    Ok(out)
}
