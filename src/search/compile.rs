//! Turning a parsed [`Expr`] into a tantivy query over the index's fields,
//! with query text going through the same analyzer as the mail.

use super::Fields;
use super::analyzer;
use super::query::{Expr, TextField};
use std::ops::Bound;
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

fn text_fields(f: Fields, which: Option<TextField>) -> Vec<Field> {
    match which {
        None => vec![
            f.subject,
            f.from,
            f.to,
            f.cc,
            f.body,
            f.attachment,
            f.record,
        ],
        Some(TextField::Subject) => vec![f.subject],
        Some(TextField::From) => vec![f.from],
        Some(TextField::To) => vec![f.to],
        Some(TextField::Cc) => vec![f.cc],
        Some(TextField::Body) => vec![f.body],
        Some(TextField::Attachment) => vec![f.attachment],
        Some(TextField::Record) => vec![f.record],
    }
}

fn exact(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// Words match as terms; several words (a phrase, or `lucas@example.com`)
/// must appear in order.
fn text(f: Fields, which: Option<TextField>, s: &str) -> Box<dyn Query> {
    let terms = analyzer::terms(s);
    if terms.is_empty() {
        // Only punctuation: nothing to narrow by.
        return Box::new(AllQuery);
    }
    let per_field: Vec<(Occur, Box<dyn Query>)> = text_fields(f, which)
        .into_iter()
        .map(|field| {
            let q: Box<dyn Query> = if terms.len() == 1 {
                Box::new(TermQuery::new(
                    Term::from_field_text(field, &terms[0]),
                    IndexRecordOption::Basic,
                ))
            } else {
                Box::new(PhraseQuery::new(
                    terms
                        .iter()
                        .map(|t| Term::from_field_text(field, t))
                        .collect(),
                ))
            };
            (Occur::Should, q)
        })
        .collect();
    Box::new(BooleanQuery::new(per_field))
}

pub(super) fn compile(e: &Expr, f: Fields) -> Box<dyn Query> {
    match e {
        Expr::Text { field, text: s } => text(f, *field, s),
        Expr::Tag(t) => exact(f.tag, t.name()),
        Expr::Folder(name) => exact(f.folder, name),
        Expr::Account(name) => exact(f.account, name),
        Expr::Case(n) => exact(f.case, n),
        Expr::Date { from, to } => {
            let lo = from.map_or(Bound::Unbounded, |v| {
                Bound::Included(Term::from_field_i64(f.date, v))
            });
            let hi = to.map_or(Bound::Unbounded, |v| {
                Bound::Excluded(Term::from_field_i64(f.date, v))
            });
            if matches!((&lo, &hi), (Bound::Unbounded, Bound::Unbounded)) {
                return Box::new(AllQuery);
            }
            if from.zip(*to).is_some_and(|(a, b)| a >= b) {
                return Box::new(EmptyQuery);
            }
            Box::new(RangeQuery::new(lo, hi))
        }
        Expr::And(parts) => {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for p in parts {
                match p {
                    Expr::Not(inner) => clauses.push((Occur::MustNot, compile(inner, f))),
                    _ => clauses.push((Occur::Must, compile(p, f))),
                }
            }
            if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Box::new(BooleanQuery::new(clauses))
        }
        Expr::Or(parts) => Box::new(BooleanQuery::new(
            parts
                .iter()
                .map(|p| (Occur::Should, compile(p, f)))
                .collect(),
        )),
        Expr::Not(inner) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery)),
            (Occur::MustNot, compile(inner, f)),
        ])),
    }
}
