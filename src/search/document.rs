//! One index document per mail, built from the store: the text as the reader
//! renders it, parties, attachment names, linked records, places and flags.

use super::{Fields, Result, SearchError, fingerprint, id_term};
use crate::mail::render::{LineKind, RenderOptions, render};
use crate::store::flags;
use crate::store::{RecordKind, Store};
use tantivy::{IndexWriter, TantivyDocument};

/// What `deskmail search` prints of a mail, kept in its document so a search
/// can answer from the index alone.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Card {
    id: u64,
    date: i64,
    #[serde(default)]
    from: Option<crate::store::Party>,
    subject: String,
    message_id: String,
    places: Vec<(String, String, u8)>,
}

impl Card {
    pub(super) fn into_hit(self) -> super::Hit {
        super::Hit {
            summary: crate::store::MessageSummary {
                id: self.id,
                date: self.date,
                from: self.from.into_iter().collect(),
                subject: self.subject,
                message_id: self.message_id,
                ..crate::store::MessageSummary::default()
            },
            places: self.places,
        }
    }
}

/// Build the document of one mail; `None` when it is in no folder any more.
fn build(f: Fields, store: &Store, id: u64) -> Result<Option<TantivyDocument>> {
    let state = store.mail_state(id)?;
    if state.places.is_empty() {
        return Ok(None);
    }
    let Some(s) = store.summary(id)? else {
        return Ok(None);
    };
    let mut doc = TantivyDocument::default();
    doc.add_u64(f.id, id);
    doc.add_u64(f.state, fingerprint(&state));
    doc.add_i64(f.date, s.date);
    doc.add_text(f.subject, &s.subject);
    for (field, parties) in [(f.from, &s.from), (f.to, &s.to), (f.cc, &s.cc)] {
        for p in parties.iter() {
            doc.add_text(field, format!("{} {}", p.name, p.email));
        }
    }
    if let Some(raw) = store.body(id)? {
        let opts = RenderOptions {
            show_quotes: true,
            width: 0,
            ..RenderOptions::default()
        };
        let mail = render(&raw, &opts);
        let mut body = String::new();
        for line in mail.lines.iter().filter(|l| l.kind != LineKind::LinkRef) {
            body.push_str(&line.text);
            body.push('\n');
        }
        doc.add_text(f.body, &body);
        for a in &mail.attachments {
            doc.add_text(f.attachment, &a.name);
        }
        if !mail.attachments.is_empty() {
            doc.add_text(f.tag, "attachment");
        }
    } else {
        doc.add_text(f.body, &s.preview);
        if s.has_attachments {
            doc.add_text(f.tag, "attachment");
        }
    }
    let card = Card {
        id,
        date: s.date,
        from: s.from.first().cloned(),
        subject: s.subject.clone(),
        message_id: s.message_id.clone(),
        places: state.places.clone(),
    };
    if let Ok(bytes) = serde_json::to_vec(&card) {
        doc.add_bytes(f.card, &bytes);
    }
    let mut any_unread = false;
    let mut union = 0u8;
    for (account, folder, fl) in &state.places {
        doc.add_text(f.folder, folder.to_lowercase());
        doc.add_text(f.account, account.to_lowercase());
        any_unread |= fl & flags::SEEN == 0;
        union |= fl;
    }
    let tag = |doc: &mut TantivyDocument, on: bool, name: &str| {
        if on {
            doc.add_text(f.tag, name);
        }
    };
    tag(&mut doc, any_unread, "unread");
    tag(&mut doc, union & flags::SEEN != 0, "read");
    tag(&mut doc, union & flags::FLAGGED != 0, "flagged");
    tag(&mut doc, union & flags::ANSWERED != 0, "answered");
    tag(&mut doc, union & flags::DRAFT != 0, "draft");
    for r in store.links_of(id)? {
        doc.add_text(f.record, &r.name);
        for e in &r.emails {
            doc.add_text(f.record, e);
        }
        if r.kind == RecordKind::Case
            && let Some(n) = r.field("number")
        {
            doc.add_text(f.case, n.trim_start_matches('0'));
        }
    }
    Ok(Some(doc))
}

/// Replace the documents of `ids` (delete, then add the current one). Mail
/// is rendered on every core; the writer takes documents from all of them.
pub(super) fn index_ids(w: &IndexWriter, f: Fields, store: &Store, ids: &[u64]) -> Result<()> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4);
    let chunk = ids.len().div_ceil(workers).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || -> Result<()> {
                    for &id in part {
                        w.delete_term(id_term(f, id));
                        if let Some(doc) = build(f, store, id)? {
                            w.add_document(doc)?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| SearchError::Index("an indexing thread stopped".into()))??;
        }
        Ok(())
    })
}
