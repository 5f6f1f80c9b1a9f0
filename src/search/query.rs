//! The query language (notmuch/aerc-like) parsed into an [`Expr`] tree, with
//! every error naming the offending token and its column. Pure: no index here.

use chrono::{NaiveDate, TimeZone, Utc};

/// A text field a `field:` prefix selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Subject,
    From,
    To,
    Cc,
    Body,
    Attachment,
    Record,
}

/// A yes/no property of a mail (`is:` / `has:`), indexed as a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Unread,
    Read,
    Flagged,
    Answered,
    Draft,
    Attachment,
}

impl Tag {
    pub fn name(self) -> &'static str {
        match self {
            Tag::Unread => "unread",
            Tag::Read => "read",
            Tag::Flagged => "flagged",
            Tag::Answered => "answered",
            Tag::Draft => "draft",
            Tag::Attachment => "attachment",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Words or a phrase; `None` searches every text field.
    Text {
        field: Option<TextField>,
        text: String,
    },
    Tag(Tag),
    Folder(String),
    Account(String),
    Case(String),
    /// Unix seconds, `from` inclusive, `to` exclusive.
    Date {
        from: Option<i64>,
        to: Option<i64>,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// A query that could not be read; `column` is 1-based, in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}: `{token}` at column {column}")]
pub struct QueryError {
    pub message: String,
    pub token: String,
    pub column: usize,
}

pub const FIELDS: &[&str] = &[
    "from:",
    "to:",
    "cc:",
    "subject:",
    "body:",
    "attachment:",
    "has:",
    "is:",
    "folder:",
    "account:",
    "case:",
    "record:",
    "before:",
    "after:",
    "date:",
];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Minus,
    /// `field:value` or a bare word / phrase; `quoted` keeps phrases apart
    /// from operators (`"OR"` is a word).
    Atom {
        field: Option<String>,
        value: String,
        quoted: bool,
    },
}

#[derive(Debug, Clone)]
struct Lexed {
    tok: Tok,
    /// The source text of the token, for messages.
    text: String,
    column: usize,
}

fn err(message: impl Into<String>, token: &str, column: usize) -> QueryError {
    QueryError {
        message: message.into(),
        token: token.to_string(),
        column,
    }
}

fn lex(q: &str) -> Result<Vec<Lexed>, QueryError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let quoted_at = |i: usize| -> Result<(String, usize), QueryError> {
        // chars[i] == '"'; returns the inner text and the index after the closing quote.
        let mut j = i + 1;
        let mut s = String::new();
        while j < chars.len() && chars[j] != '"' {
            s.push(chars[j]);
            j += 1;
        }
        if j >= chars.len() {
            let token: String = chars[i..].iter().collect();
            return Err(err("this quote is never closed", &token, i + 1));
        }
        Ok((s, j + 1))
    };
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '-' if chars.get(i + 1).is_some_and(|n| !n.is_whitespace()) => Some(Tok::Minus),
            _ => None,
        };
        if let Some(tok) = single {
            out.push(Lexed {
                tok,
                text: c.to_string(),
                column,
            });
            i += 1;
            continue;
        }
        if c == '"' {
            let (value, next) = quoted_at(i)?;
            out.push(Lexed {
                tok: Tok::Atom {
                    field: None,
                    value,
                    quoted: true,
                },
                text: chars[i..next].iter().collect(),
                column,
            });
            i = next;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && !matches!(chars[i], '(' | ')' | '"') {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let tok = match word.as_str() {
            "AND" => Tok::And,
            "OR" => Tok::Or,
            "NOT" => Tok::Not,
            _ => match word.split_once(':') {
                Some((f, v)) if !f.is_empty() && f.chars().all(|c| c.is_ascii_alphabetic()) => {
                    let field = f.to_ascii_lowercase();
                    if !FIELDS.contains(&format!("{field}:").as_str()) {
                        return Err(err(
                            format!("unknown field (known: {})", FIELDS.join(" ")),
                            &format!("{f}:"),
                            column,
                        ));
                    }
                    if v.is_empty() && chars.get(i) == Some(&'"') {
                        let (value, next) = quoted_at(i)?;
                        let text = chars[start..next].iter().collect();
                        i = next;
                        out.push(Lexed {
                            tok: Tok::Atom {
                                field: Some(field),
                                value,
                                quoted: true,
                            },
                            text,
                            column,
                        });
                        continue;
                    }
                    Tok::Atom {
                        field: Some(field),
                        value: v.to_string(),
                        quoted: false,
                    }
                }
                _ => Tok::Atom {
                    field: None,
                    value: word.clone(),
                    quoted: false,
                },
            },
        };
        out.push(Lexed {
            tok,
            text: word,
            column,
        });
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Lexed>,
    pos: usize,
    now: i64,
    end_column: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Lexed> {
        self.toks.get(self.pos)
    }

    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.and_expr()?];
        while let Some(t) = self.peek() {
            if t.tok != Tok::Or {
                break;
            }
            let (text, column) = (t.text.clone(), t.column);
            self.pos += 1;
            if matches!(
                self.peek().map(|t| &t.tok),
                None | Some(Tok::RParen | Tok::Or)
            ) {
                return Err(err("OR needs a term after it", &text, column));
            }
            parts.push(self.and_expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek().map(|t| (&t.tok, t.text.clone(), t.column)) {
                None | Some((Tok::Or | Tok::RParen, _, _)) => break,
                Some((Tok::And, text, column)) => {
                    self.pos += 1;
                    if matches!(
                        self.peek().map(|t| &t.tok),
                        None | Some(Tok::RParen | Tok::Or)
                    ) {
                        return Err(err("AND needs a term after it", &text, column));
                    }
                }
                Some(_) => {}
            }
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        let Some(t) = self.peek().cloned() else {
            return Err(err(
                "the query ends where a term was expected",
                "",
                self.end_column,
            ));
        };
        match t.tok {
            Tok::Not | Tok::Minus => {
                self.pos += 1;
                if self.peek().is_none() {
                    return Err(err("nothing to exclude after", &t.text, t.column));
                }
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Tok::LParen => {
                self.pos += 1;
                if matches!(self.peek().map(|t| &t.tok), Some(Tok::RParen)) {
                    return Err(err("empty parentheses", "()", t.column));
                }
                let inner = self.or_expr()?;
                match self.peek() {
                    Some(Lexed {
                        tok: Tok::RParen, ..
                    }) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(err("this parenthesis is never closed", "(", t.column)),
                }
            }
            Tok::RParen => Err(err(
                "a closing parenthesis without an opening one",
                ")",
                t.column,
            )),
            Tok::And | Tok::Or => Err(err(
                format!("{} needs a term before it", t.text),
                &t.text,
                t.column,
            )),
            Tok::Atom {
                ref field,
                ref value,
                ..
            } => {
                self.pos += 1;
                self.atom(field.as_deref(), value.clone(), &t)
            }
        }
    }

    fn atom(&self, field: Option<&str>, value: String, t: &Lexed) -> Result<Expr, QueryError> {
        let Some(field) = field else {
            return Ok(Expr::Text {
                field: None,
                text: value,
            });
        };
        if value.trim().is_empty() {
            return Err(err(format!("{field}: needs a value"), &t.text, t.column));
        }
        let text = |f| {
            Ok(Expr::Text {
                field: Some(f),
                text: value.clone(),
            })
        };
        match field {
            "from" => text(TextField::From),
            "to" => text(TextField::To),
            "cc" => text(TextField::Cc),
            "subject" => text(TextField::Subject),
            "body" => text(TextField::Body),
            "attachment" => text(TextField::Attachment),
            "record" => text(TextField::Record),
            "folder" => Ok(Expr::Folder(value.to_lowercase())),
            "account" => Ok(Expr::Account(value.to_lowercase())),
            "case" => {
                let n = value.trim_start_matches('#');
                if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
                    return Err(err(
                        "case: takes a case number, e.g. case:42",
                        &t.text,
                        t.column,
                    ));
                }
                Ok(Expr::Case(n.trim_start_matches('0').to_string()))
            }
            "has" => match value.to_lowercase().as_str() {
                "attachment" | "attachments" => Ok(Expr::Tag(Tag::Attachment)),
                _ => Err(err("has: knows only has:attachment", &t.text, t.column)),
            },
            "is" => match value.to_lowercase().as_str() {
                "unread" => Ok(Expr::Tag(Tag::Unread)),
                "read" | "seen" => Ok(Expr::Tag(Tag::Read)),
                "flagged" | "starred" => Ok(Expr::Tag(Tag::Flagged)),
                "answered" | "replied" => Ok(Expr::Tag(Tag::Answered)),
                "draft" => Ok(Expr::Tag(Tag::Draft)),
                _ => Err(err(
                    "is: takes unread, read, flagged, answered or draft",
                    &t.text,
                    t.column,
                )),
            },
            "before" | "after" | "date" => {
                let (from, to) = self.date_range(&value).ok_or_else(|| {
                    err(
                        format!("{field}: takes a date YYYY-MM-DD or an age like 7d, 2w, 3m, 1y"),
                        &t.text,
                        t.column,
                    )
                })?;
                Ok(match field {
                    "before" => Expr::Date {
                        from: None,
                        to: Some(from),
                    },
                    "after" => Expr::Date {
                        from: Some(from),
                        to: None,
                    },
                    _ => Expr::Date {
                        from: Some(from),
                        to: Some(to),
                    },
                })
            }
            _ => Err(err("unknown field", &t.text, t.column)),
        }
    }

    /// `YYYY-MM-DD` is that UTC day; `7d`/`2w`/`3m`/`1y` runs from that long ago to now.
    fn date_range(&self, v: &str) -> Option<(i64, i64)> {
        if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            let start = Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?).timestamp();
            return Some((start, start + 86_400));
        }
        let unit = v.chars().last()?;
        let n: i64 = v[..v.len() - unit.len_utf8()].parse().ok()?;
        let day = 86_400i64;
        let secs = match unit {
            'd' => day,
            'w' => 7 * day,
            'm' => 30 * day,
            'y' => 365 * day,
            _ => return None,
        };
        let span = n.checked_mul(secs)?;
        Some((self.now.checked_sub(span)?, i64::MAX))
    }
}

/// Parse a query; `now` (Unix seconds) anchors ages like `date:7d`.
pub fn parse(q: &str, now: i64) -> Result<Expr, QueryError> {
    let toks = lex(q)?;
    if toks.is_empty() {
        return Err(err(
            "the query is empty; type words or fields like from:",
            q,
            1,
        ));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        now,
        end_column: q.chars().count() + 1,
    };
    let e = p.or_expr()?;
    if let Some(t) = p.peek() {
        return Err(err(
            "a closing parenthesis without an opening one",
            &t.text,
            t.column,
        ));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: Option<TextField>, t: &str) -> Expr {
        Expr::Text {
            field: f,
            text: t.into(),
        }
    }

    #[test]
    fn words_and_fields_join_with_an_implicit_and() {
        let e = parse("from:lucas refund", 0).expect("parse");
        assert_eq!(
            e,
            Expr::And(vec![
                text(Some(TextField::From), "lucas"),
                text(None, "refund")
            ])
        );
    }

    #[test]
    fn or_binds_looser_than_and_and_minus_negates() {
        let e = parse("a b OR -c", 0).expect("parse");
        assert_eq!(
            e,
            Expr::Or(vec![
                Expr::And(vec![text(None, "a"), text(None, "b")]),
                Expr::Not(Box::new(text(None, "c"))),
            ])
        );
    }

    #[test]
    fn quoted_field_values_are_phrases() {
        let e = parse("subject:\"счёт на оплату\" (is:unread OR is:flagged)", 0).expect("p");
        assert_eq!(
            e,
            Expr::And(vec![
                text(Some(TextField::Subject), "счёт на оплату"),
                Expr::Or(vec![Expr::Tag(Tag::Unread), Expr::Tag(Tag::Flagged)]),
            ])
        );
    }

    #[test]
    fn dates_are_utc_days_and_ages() {
        assert_eq!(
            parse("before:1970-01-02", 0).expect("p"),
            Expr::Date {
                from: None,
                to: Some(86_400)
            }
        );
        assert_eq!(
            parse("date:7d", 10 * 86_400).expect("p"),
            Expr::Date {
                from: Some(3 * 86_400),
                to: Some(i64::MAX)
            }
        );
    }

    #[test]
    fn errors_name_the_token_and_its_column() {
        let cases = [
            ("refund OR", "OR", 8),
            ("(a b", "(", 1),
            ("a )", ")", 3),
            ("is:sleepy", "is:sleepy", 1),
            ("x frm:lucas", "frm:", 3),
            ("before:yesterday", "before:yesterday", 1),
            ("say \"hi", "\"hi", 5),
            ("case:abc", "case:abc", 1),
            ("from:", "from:", 1),
        ];
        for (q, token, column) in cases {
            let e = parse(q, 0).expect_err(q);
            assert_eq!((e.token.as_str(), e.column), (token, column), "{q}: {e}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn random_queries_never_panic(q in "[a-z:()\"\\- ORANDNOTсчёт0-9]{0,40}") {
            let _ = parse(&q, 1_000_000);
        }

        #[test]
        fn random_unicode_never_panics(q in "\\PC{0,30}") {
            if let Err(e) = parse(&q, 0) {
                proptest::prop_assert!(e.column >= 1 && e.column <= q.chars().count() + 1);
            }
        }
    }
}
