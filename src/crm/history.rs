//! A record's History: the mail linked to it and to its related records,
//! newest first, and its cases and tasks, as the desk shows it.
//!
//! - contact: its own mail, its company's and its deals' mail;
//! - company: its own mail, its contacts' mail, its deals' and cases' mail;
//! - deal: its own mail and its contacts' mail;
//! - other kinds: their own mail.

use std::collections::HashSet;

use crate::store::{HistoryItem, Record, RecordKind, RecordRef, Store, StoreError};

/// The records whose mail shows in `r`'s History besides what
/// [`Store::history`] already gathers.
fn extra_sources(store: &Store, r: &Record) -> Result<Vec<RecordRef>, StoreError> {
    let mut out = Vec::new();
    match r.kind {
        RecordKind::Contact => {
            if let Some(p) = r.parent
                && p.0 == RecordKind::Account
            {
                out.push(p);
            }
            for d in store.records(RecordKind::Deal)? {
                if d.related.contains(&r.reference()) || d.parent == Some(r.reference()) {
                    out.push(d.reference());
                }
            }
        }
        RecordKind::Account => {
            for c in store.children_of(r.reference())? {
                if matches!(c.kind, RecordKind::Deal | RecordKind::Case) {
                    out.push(c.reference());
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

/// All mail of a record's History, newest first, each mail once.
pub fn history(store: &Store, r: &Record) -> Result<Vec<HistoryItem>, StoreError> {
    let mut items = store.history(r)?;
    let mut seen: HashSet<u64> = items.iter().map(|i| i.message.id).collect();
    for src in extra_sources(store, r)? {
        if let Some(rec) = store.record(src.0, src.1)?
            && rec.deleted
        {
            continue;
        }
        for id in store.messages_of(src)? {
            if seen.insert(id)
                && let Some(message) = store.summary(id)?
            {
                items.push(HistoryItem { message, via: src });
            }
        }
    }
    items.sort_by(|a, b| {
        b.message
            .date
            .cmp(&a.message.date)
            .then(b.message.id.cmp(&a.message.id))
    });
    Ok(items)
}

/// A UTC date and time for History lines.
pub fn format_date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "????-??-?? ??:??".to_string())
}

/// One History line: date, status, sender, subject and, when the mail came
/// through another record, which one.
pub fn history_line(store: &Store, r: &Record, item: &HistoryItem) -> Result<String, StoreError> {
    let m = &item.message;
    let sender = match m.from.first() {
        Some(p) if !p.name.is_empty() => format!("{} <{}>", p.name, p.email),
        Some(p) => p.email.clone(),
        None => "(no sender)".to_string(),
    };
    let subject = if m.subject.trim().is_empty() {
        "(no subject)"
    } else {
        m.subject.as_str()
    };
    let mut line = format!(
        "{}  {:<8}  {}  {}",
        format_date(m.date),
        m.status.name(),
        sender,
        subject
    );
    if item.via != r.reference()
        && let Some(v) = store.record(item.via.0, item.via.1)?
    {
        line.push_str(&format!("  (via {} {})", v.kind.label(), v.title()));
    }
    Ok(line)
}

/// The cases and tasks of a record (its children), one line each.
pub fn cases_and_tasks(store: &Store, r: &Record) -> Result<Vec<String>, StoreError> {
    let mut kids = store.children_of(r.reference())?;
    kids.retain(|k| matches!(k.kind, RecordKind::Case | RecordKind::Task));
    kids.sort_by_key(|k| (k.kind, k.id));
    Ok(kids
        .iter()
        .map(|k| {
            let status = k.field("status").unwrap_or("New");
            let mut s = format!("{} {}  [{}]", k.kind.label(), k.title(), status);
            if let Some(due) = k.field("due") {
                s.push_str(&format!("  due {due}"));
            }
            if let Some(a) = k.field("assignee") {
                s.push_str(&format!("  {a}"));
            }
            s
        })
        .collect())
}

/// The whole History pane as text: a title, the mail lines, then cases and tasks.
pub fn history_text(store: &Store, r: &Record) -> Result<String, StoreError> {
    let mut out = format!("{} {} — History\n", r.kind.label(), r.title());
    let items = history(store, r)?;
    if items.is_empty() {
        out.push_str("  (no mail)\n");
    }
    for item in &items {
        out.push_str("  ");
        out.push_str(&history_line(store, r, item)?);
        out.push('\n');
    }
    let kids = cases_and_tasks(store, r)?;
    if !kids.is_empty() {
        out.push_str("Cases and tasks\n");
        for k in kids {
            out.push_str("  ");
            out.push_str(&k);
            out.push('\n');
        }
    }
    Ok(out)
}
