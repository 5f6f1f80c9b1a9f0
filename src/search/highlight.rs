//! Where a query's words occur in text on screen: the words a query asks
//! for (not those it excludes), stemmed as the index stems them, found word
//! by word so `счёт` lights up `счета`. Pure; no index here.

use super::analyzer;
use super::query::{self, Expr};
use std::ops::Range;

/// The stemmed words a query looks for; none for a query that does not parse.
pub fn query_terms(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(e) = query::parse(q, 0) {
        collect(&e, false, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn collect(e: &Expr, negated: bool, out: &mut Vec<String>) {
    match e {
        Expr::Text { text, .. } if !negated => out.extend(analyzer::terms(text)),
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| collect(x, negated, out)),
        Expr::Not(x) => collect(x, !negated, out),
        _ => {}
    }
}

/// Byte ranges of the words of `text` that are one of `terms`, in order.
pub fn find(text: &str, terms: &[String]) -> Vec<Range<usize>> {
    if terms.is_empty() {
        return Vec::new();
    }
    analyzer::words(text)
        .into_iter()
        .filter(|(_, t)| terms.iter().any(|q| q == t))
        .map(|(r, _)| r)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_forms_of_a_query_word_are_found_and_excluded_words_are_not() {
        let terms = query_terms("счёт refund -invoice");
        let line = "Счета и refunds, not the invoice";
        let found: Vec<&str> = find(line, &terms).into_iter().map(|r| &line[r]).collect();
        assert_eq!(found, ["Счета", "refunds"]);
    }

    #[test]
    fn field_values_and_phrases_count_and_a_bad_query_finds_nothing() {
        let terms = query_terms("from:lucas subject:\"late parcel\"");
        let line = "Lucas asks about a late parcel";
        let found: Vec<&str> = find(line, &terms).into_iter().map(|r| &line[r]).collect();
        assert_eq!(found, ["Lucas", "late", "parcel"]);
        assert!(query_terms("refund OR").is_empty());
    }
}
