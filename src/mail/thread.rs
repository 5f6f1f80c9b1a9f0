//! Conversation threading: a small, deterministic variant of the JWZ
//! algorithm. Parents come from In-Reply-To, then References; mails left
//! without a parent are grouped by normalised subject under the earliest.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::parse::{ParsedHeaders, stable_id};
use super::sanitize::sanitize_line;

/// Reply and forward prefixes recognised by [`normalize_subject`]
/// (compared case-insensitively).
const PREFIXES: [&str; 6] = ["re", "fwd", "fw", "отв", "пересл", "aw"];

/// Normalises a subject for grouping: strips repeated `Re:`, `Fwd:`, `Fw:`,
/// `Отв:`, `Пересл:`, `AW:` (also with a counter such as `Re[2]:` or
/// `Re(2):`), leading bracketed tags such as `[Ticket #12]`, collapses
/// whitespace and case-folds.
pub fn normalize_subject(s: &str) -> String {
    let line = sanitize_line(s);
    let mut rest: &str = &line;
    loop {
        let trimmed = rest.trim_start();
        if let Some(after) = strip_tag(trimmed).or_else(|| strip_prefix(trimmed)) {
            rest = after;
        } else {
            rest = trimmed;
            break;
        }
    }
    rest.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Strips a leading `[tag]` (at most 100 bytes long).
fn strip_tag(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('[')?;
    let end = inner.find(']')?;
    (end <= 100).then(|| &inner[end + 1..])
}

/// Strips one leading reply/forward prefix with its colon.
fn strip_prefix(s: &str) -> Option<&str> {
    for p in PREFIXES {
        let Some(head) = s.get(..p.len()) else {
            continue;
        };
        if !head.to_lowercase().eq(p) {
            continue;
        }
        let mut rest = &s[p.len()..];
        // Optional counter: `[2]` or `(2)`.
        for (open, close) in [('[', ']'), ('(', ')')] {
            if let Some(inner) = rest.strip_prefix(open)
                && let Some(end) = inner.find(close)
                && end > 0
                && inner[..end].chars().all(|c| c.is_ascii_digit())
            {
                rest = &inner[end + 1..];
            }
        }
        let rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix(':').or_else(|| rest.strip_prefix('：')) {
            return Some(after);
        }
    }
    None
}

/// What the unique part of an auto-reply's Message-ID starts with.
pub const AUTO_REPLY_MARK: &str = "auto-";

/// Whether a Message-ID is one of deskmail's auto-replies: they answer no
/// one, so response times leave them out.
pub fn is_auto_reply_id(id: &str) -> bool {
    let id = normalize_id(id);
    id.starts_with("case")
        && id.contains(".deskmail@")
        && id.contains(&format!(".{AUTO_REPLY_MARK}"))
}

/// Normalises a message id for matching: trims, drops whitespace and the
/// surrounding angle brackets.
pub fn normalize_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The grouping key used for mails without a known parent.
pub fn thread_key(subject: &str) -> String {
    normalize_subject(subject)
}

/// What threading needs to know about a mail.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ThreadInput {
    /// The store's id for the mail.
    pub id: u64,
    pub message_id: String,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub subject: String,
    /// Unix seconds.
    pub date: i64,
}

impl ThreadInput {
    /// Builds the threading input for a stored mail from its parsed
    /// headers; mails without a Message-ID get [`stable_id`] of `raw`.
    pub fn from_parsed(id: u64, h: &ParsedHeaders, raw: &[u8]) -> ThreadInput {
        ThreadInput {
            id,
            message_id: h.message_id.clone().unwrap_or_else(|| stable_id(raw)),
            in_reply_to: h.in_reply_to.clone(),
            references: h.references.clone(),
            subject: h.subject.clone(),
            date: h.date.unwrap_or(0),
        }
    }
}

/// One mail's place in its thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadNode {
    pub id: u64,
    pub parent: Option<u64>,
    /// Id of the thread's first mail.
    pub root: u64,
    /// 0 for roots.
    pub depth: usize,
}

/// Builds threads. The result lists every input exactly once, in display
/// order: threads by their root's (date, id), and within a thread depth
/// first with siblings by (date, id). Deterministic for a given input set,
/// whatever its order.
pub fn build_threads(items: &[ThreadInput]) -> Vec<ThreadNode> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    // A total order, so that duplicates resolve the same way whatever the
    // input order.
    order.sort_by(|&a, &b| {
        let (x, y) = (&items[a], &items[b]);
        (
            x.date,
            x.id,
            &x.message_id,
            &x.subject,
            &x.in_reply_to,
            &x.references,
        )
            .cmp(&(
                y.date,
                y.id,
                &y.message_id,
                &y.subject,
                &y.in_reply_to,
                &y.references,
            ))
    });
    // Deduplicate store ids: the first in (date, id) order wins.
    let mut seen_ids = HashMap::new();
    order.retain(|&i| seen_ids.insert(items[i].id, i).is_none());

    let mut by_msgid: HashMap<String, usize> = HashMap::new();
    for &i in &order {
        let mid = normalize_id(&items[i].message_id);
        if !mid.is_empty() {
            by_msgid.entry(mid).or_insert(i);
        }
    }

    let mut parent: HashMap<usize, usize> = HashMap::new();
    for &i in &order {
        let item = &items[i];
        let candidates = item
            .in_reply_to
            .iter()
            .rev()
            .chain(item.references.iter().rev());
        for cand in candidates {
            let Some(&p) = by_msgid.get(&normalize_id(cand)) else {
                continue;
            };
            if p != i && !is_ancestor(&parent, i, p) {
                parent.insert(i, p);
                break;
            }
        }
    }

    // Parentless mails with the same normalised subject join the earliest.
    let mut subject_root: HashMap<String, usize> = HashMap::new();
    for &i in &order {
        if parent.contains_key(&i) {
            continue;
        }
        let key = normalize_subject(&items[i].subject);
        if key.is_empty() {
            continue;
        }
        match subject_root.get(&key) {
            Some(&r) if !is_ancestor(&parent, i, r) => {
                parent.insert(i, r);
            }
            Some(_) => {}
            None => {
                subject_root.insert(key, i);
            }
        }
    }

    // Children lists in (date, id) order: `order` is already sorted.
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    for &i in &order {
        match parent.get(&i) {
            Some(&p) => children.entry(p).or_default().push(i),
            None => roots.push(i),
        }
    }

    let mut out = Vec::with_capacity(order.len());
    for &r in &roots {
        let mut stack = vec![(r, 0usize)];
        while let Some((n, depth)) = stack.pop() {
            out.push(ThreadNode {
                id: items[n].id,
                parent: parent.get(&n).map(|&p| items[p].id),
                root: items[r].id,
                depth,
            });
            if let Some(kids) = children.get(&n) {
                for &k in kids.iter().rev() {
                    stack.push((k, depth + 1));
                }
            }
        }
    }
    out
}

/// Whether `a` is `b` or an ancestor of `b` in the parent map.
fn is_ancestor(parent: &HashMap<usize, usize>, a: usize, b: usize) -> bool {
    let mut cur = b;
    let mut steps = 0usize;
    loop {
        if cur == a {
            return true;
        }
        match parent.get(&cur) {
            Some(&p) if steps <= parent.len() => {
                cur = p;
                steps += 1;
            }
            _ => return false,
        }
    }
}

/// The same information as a map: store id → (thread root id, depth).
pub fn thread_map(items: &[ThreadInput]) -> HashMap<u64, (u64, usize)> {
    build_threads(items)
        .into_iter()
        .map(|n| (n.id, (n.root, n.depth)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(
        id: u64,
        mid: &str,
        irt: &[&str],
        refs: &[&str],
        subject: &str,
        date: i64,
    ) -> ThreadInput {
        ThreadInput {
            id,
            message_id: mid.to_string(),
            in_reply_to: irt.iter().map(|s| s.to_string()).collect(),
            references: refs.iter().map(|s| s.to_string()).collect(),
            subject: subject.to_string(),
            date,
        }
    }

    #[test]
    fn subjects() {
        assert_eq!(
            normalize_subject("Re: RE: Fwd:  Hello   World"),
            "hello world"
        );
        assert_eq!(normalize_subject("[Ticket #12] Re: Printer"), "printer");
        assert_eq!(normalize_subject("Re[2]: Fw: AW: x"), "x");
        assert_eq!(normalize_subject("Отв: Пересл: Счёт"), "счёт");
        assert_eq!(normalize_subject("FW: [ext] RE(3): Y"), "y");
        assert_eq!(normalize_subject("Recall of items"), "recall of items");
        assert_eq!(normalize_subject("Re:"), "");
        assert_eq!(normalize_subject("\u{1b}[31mRe: red"), "red");
    }

    #[test]
    fn ids() {
        assert_eq!(normalize_id(" <a@b> "), "a@b");
        assert_eq!(normalize_id("a@b"), "a@b");
    }

    #[test]
    fn threads_by_headers_and_subject() {
        let items = vec![
            item(
                3,
                "<c@x>",
                &["<b@x>"],
                &["<a@x>", "<b@x>"],
                "Re: Re: Printer",
                30,
            ),
            item(1, "<a@x>", &[], &[], "Printer", 10),
            item(2, "b@x", &["a@x"], &[], "Re: Printer", 20),
            // Parent unknown, but References names a known ancestor.
            item(
                4,
                "<d@x>",
                &["<missing@x>"],
                &["<a@x>", "<missing@x>"],
                "Re: Printer",
                40,
            ),
            // No headers: joins by subject.
            item(5, "<e@x>", &[], &[], "RE: printer", 50),
            item(6, "<f@x>", &[], &[], "Other", 5),
        ];
        let t = build_threads(&items);
        let got: Vec<(u64, Option<u64>, u64, usize)> = t
            .iter()
            .map(|n| (n.id, n.parent, n.root, n.depth))
            .collect();
        assert_eq!(
            got,
            vec![
                (6, None, 6, 0),
                (1, None, 1, 0),
                (2, Some(1), 1, 1),
                (3, Some(2), 1, 2),
                (4, Some(1), 1, 1),
                (5, Some(1), 1, 1),
            ]
        );
        // Order of input does not matter.
        let mut rev = items.clone();
        rev.reverse();
        assert_eq!(build_threads(&rev), t);
        assert_eq!(thread_map(&items).get(&3), Some(&(1, 2)));
    }

    #[test]
    fn from_parsed_uses_stable_id() {
        let raw = b"Subject: Re: Hi\r\nIn-Reply-To: <p@x>\r\n\r\nbody";
        let h = crate::mail::parse::parse_headers(raw);
        let t = ThreadInput::from_parsed(7, &h, raw);
        assert_eq!(t.message_id, stable_id(raw));
        assert_eq!(t.in_reply_to, vec!["p@x"]);
        assert_eq!(t.subject, "Re: Hi");
    }

    #[test]
    fn cycles_and_duplicates_are_safe() {
        let items = vec![
            item(1, "<a@x>", &["<b@x>"], &[], "x", 1),
            item(2, "<b@x>", &["<a@x>"], &[], "y", 2),
            item(3, "<a@x>", &["<a@x>"], &[], "z", 3),
            item(3, "<dup@x>", &[], &[], "z", 4),
        ];
        let t = build_threads(&items);
        assert_eq!(t.len(), 3);
        assert!(t.iter().any(|n| n.depth == 0));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        #[test]
        fn threads_are_total_and_order_independent(
            spec in proptest::collection::vec(
                (0u64..40, 0usize..40, 0usize..40, 0usize..4, 0i64..20),
                0..40,
            )
        ) {
            let subjects = ["a", "Re: a", "b", ""];
            let items: Vec<ThreadInput> = spec
                .iter()
                .map(|&(id, mid, irt, subj, date)| ThreadInput {
                    id,
                    message_id: format!("<m{mid}@x>"),
                    in_reply_to: vec![format!("m{irt}@x")],
                    references: vec![format!("<m{}@x>", (irt + mid) % 40)],
                    subject: subjects[subj].to_string(),
                    date,
                })
                .collect();
            let t = build_threads(&items);
            let mut ids: Vec<u64> = items.iter().map(|i| i.id).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut got: Vec<u64> = t.iter().map(|n| n.id).collect();
            got.sort_unstable();
            proptest::prop_assert_eq!(&got, &ids);
            let by_id: HashMap<u64, &ThreadNode> = t.iter().map(|n| (n.id, n)).collect();
            for n in &t {
                match n.parent {
                    None => proptest::prop_assert!(n.depth == 0 && n.root == n.id),
                    Some(p) => {
                        let parent = by_id.get(&p).copied();
                        proptest::prop_assert!(parent.is_some());
                        if let Some(parent) = parent {
                            proptest::prop_assert_eq!(parent.depth + 1, n.depth);
                            proptest::prop_assert_eq!(parent.root, n.root);
                        }
                    }
                }
            }
            let mut rev = items.clone();
            rev.reverse();
            proptest::prop_assert_eq!(build_threads(&rev), t);
        }
    }
}
