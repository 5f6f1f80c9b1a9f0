//! A small, strict vCard 3.0 / 4.0 reader (RFC 2426, RFC 6350) for what a
//! contact needs: FN, N, EMAIL, TEL, ORG. Folded lines are unfolded; other
//! properties are ignored; a card that breaks the format is reported, not
//! guessed at.

/// One card as read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VCard {
    /// 1-based position of the card in the file.
    pub index: usize,
    /// Line of its `BEGIN:VCARD`.
    pub line: usize,
    pub version: String,
    /// FN.
    pub formatted_name: Option<String>,
    /// N: family, given, additional, prefixes, suffixes.
    pub structured_name: Vec<String>,
    /// Addresses, the preferred one first.
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    /// The organisation's name (first ORG component).
    pub org: Option<String>,
}

impl VCard {
    /// FN, else "Given Additional Family" from N.
    pub fn display_name(&self) -> Option<String> {
        if let Some(f) = self
            .formatted_name
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            return Some(f.to_string());
        }
        let part = |i: usize| {
            self.structured_name
                .get(i)
                .map(|s| s.trim())
                .unwrap_or_default()
        };
        let words: Vec<&str> = [part(1), part(2), part(0)]
            .into_iter()
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            None
        } else {
            Some(words.join(" "))
        }
    }
}

/// A card (or stray text) that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VCardError {
    /// "card 3" or "line 12".
    pub place: String,
    pub reason: String,
}

/// One unfolded content line and the physical line it starts on.
struct Logical {
    line: usize,
    text: String,
}

fn unfold(text: &str) -> Vec<Logical> {
    let mut out: Vec<Logical> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t'])
            && let Some(last) = out.last_mut()
        {
            last.text.push_str(rest);
            continue;
        }
        out.push(Logical {
            line: i + 1,
            text: raw.to_string(),
        });
    }
    out
}

/// A parsed content line: `[group.]NAME *(;param) : value`.
struct Property {
    name: String,
    params: Vec<(String, Vec<String>)>,
    value: String,
}

fn split_unquoted(s: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        if c == '"' {
            quoted = !quoted;
            cur.push(c);
        } else if c == sep && !quoted {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    parts
}

fn parse_property(text: &str) -> Option<Property> {
    // The value starts at the first ':' outside a quoted parameter value.
    let mut quoted = false;
    let mut colon = None;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => {
                colon = Some(i);
                break;
            }
            _ => {}
        }
    }
    let colon = colon?;
    let (head, value) = (&text[..colon], &text[colon + 1..]);
    let mut pieces = split_unquoted(head, ';').into_iter();
    let full_name = pieces.next()?;
    let name = full_name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    let mut params = Vec::new();
    for p in pieces {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_uppercase(), v),
            // vCard 2.1 style bare parameter ("EMAIL;INTERNET:"): a TYPE.
            None => ("TYPE".to_string(), p.as_str()),
        };
        let values = split_unquoted(v, ',')
            .into_iter()
            .map(|x| x.trim().trim_matches('"').to_string())
            .collect();
        params.push((k, values));
    }
    Some(Property {
        name,
        params,
        value: value.to_string(),
    })
}

impl Property {
    fn param(&self, key: &str) -> impl Iterator<Item = &str> {
        self.params
            .iter()
            .filter(move |(k, _)| k == key)
            .flat_map(|(_, v)| v.iter().map(String::as_str))
    }

    /// Preference: lower is preferred; `TYPE=pref` (3.0) counts as 1.
    fn preference(&self) -> u32 {
        if self.param("TYPE").any(|t| t.eq_ignore_ascii_case("pref")) {
            return 1;
        }
        self.param("PREF")
            .filter_map(|p| p.parse::<u32>().ok())
            .min()
            .unwrap_or(101)
    }
}

/// Undo vCard text escapes (`\n`, `\,`, `\;`, `\\`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') | Some('N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Split a structured value on unescaped `;`, unescaping each component.
fn components(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push('\\');
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ';' => parts.push(unescape(&std::mem::take(&mut cur))),
            _ => cur.push(c),
        }
    }
    parts.push(unescape(&cur));
    parts
}

struct Building {
    card: VCard,
    emails: Vec<(u32, usize, String)>,
    error: Option<String>,
}

fn finish(b: Building) -> Result<VCard, VCardError> {
    let place = format!("card {}", b.card.index);
    if let Some(reason) = b.error {
        return Err(VCardError { place, reason });
    }
    let mut card = b.card;
    match card.version.as_str() {
        "3.0" | "4.0" => {}
        "" => {
            return Err(VCardError {
                place,
                reason: "no VERSION (3.0 or 4.0 is required)".into(),
            });
        }
        v => {
            return Err(VCardError {
                place,
                reason: format!("vCard version {v} is not supported (use 3.0 or 4.0)"),
            });
        }
    }
    let mut emails = b.emails;
    emails.sort_by_key(|(pref, order, _)| (*pref, *order));
    for (_, _, e) in emails {
        if !card.emails.contains(&e) {
            card.emails.push(e);
        }
    }
    Ok(card)
}

/// Read every card of a file. Each card is either read or reported with why;
/// text between cards is reported by line.
pub fn parse_vcards(text: &str) -> Vec<Result<VCard, VCardError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut current: Option<Building> = None;
    let mut index = 0;
    for l in unfold(text) {
        let t = l.text.trim_end();
        if t.trim().is_empty() {
            continue;
        }
        let prop = parse_property(t);
        if prop
            .as_ref()
            .is_some_and(|p| p.name == "BEGIN" && p.value.trim().eq_ignore_ascii_case("VCARD"))
        {
            if let Some(open) = current.take() {
                out.push(Err(VCardError {
                    place: format!("card {}", open.card.index),
                    reason: format!(
                        "no END:VCARD before the next BEGIN:VCARD on line {}",
                        l.line
                    ),
                }));
            }
            index += 1;
            current = Some(Building {
                card: VCard {
                    index,
                    line: l.line,
                    ..VCard::default()
                },
                emails: Vec::new(),
                error: None,
            });
            continue;
        }
        let Some(b) = current.as_mut() else {
            out.push(Err(VCardError {
                place: format!("line {}", l.line),
                reason: "text outside BEGIN:VCARD … END:VCARD".into(),
            }));
            continue;
        };
        let Some(p) = prop else {
            if b.error.is_none() {
                b.error = Some(format!(
                    "line {}: not a vCard property: {}",
                    l.line,
                    short(t)
                ));
            }
            continue;
        };
        match p.name.as_str() {
            "END" if p.value.trim().eq_ignore_ascii_case("VCARD") => {
                if let Some(done) = current.take() {
                    out.push(finish(done));
                }
            }
            "VERSION" => b.card.version = p.value.trim().to_string(),
            "FN" => {
                let v = unescape(p.value.trim());
                if b.card.formatted_name.is_none() && !v.trim().is_empty() {
                    b.card.formatted_name = Some(v.trim().to_string());
                }
            }
            "N" => b.card.structured_name = components(p.value.trim()),
            "EMAIL" => {
                let v = unescape(p.value.trim());
                let v = v.strip_prefix("mailto:").unwrap_or(&v).trim().to_string();
                if !v.is_empty() {
                    let order = b.emails.len();
                    b.emails.push((p.preference(), order, v));
                }
            }
            "TEL" => {
                let v = unescape(p.value.trim());
                let v = v.strip_prefix("tel:").unwrap_or(&v).trim().to_string();
                if !v.is_empty() && !b.card.phones.contains(&v) {
                    b.card.phones.push(v);
                }
            }
            "ORG" => {
                let org = components(p.value.trim())
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                if !org.trim().is_empty() {
                    b.card.org = Some(org.trim().to_string());
                }
            }
            _ => {}
        }
    }
    if let Some(b) = current {
        out.push(Err(VCardError {
            place: format!("card {}", b.card.index),
            reason: format!("no END:VCARD for the card starting on line {}", b.card.line),
        }));
    }
    out
}

fn short(s: &str) -> String {
    let mut t: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        t.push('…');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_3_0_card_with_folding_and_preference() {
        let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Petrov;Ivan;;;\r\nFN:Ivan\r\n  Petrov\r\n\
                    EMAIL;TYPE=INTERNET:ivan@work.example\r\nEMAIL;TYPE=INTERNET,pref:ivan@home.example\r\n\
                    TEL;TYPE=CELL:+7 999 123-45-67\r\nORG:Acme\\, Inc.;Sales\r\nEND:VCARD\r\n";
        let cards = parse_vcards(text);
        assert_eq!(cards.len(), 1);
        let c = cards[0].as_ref().expect("card");
        assert_eq!(c.display_name().as_deref(), Some("Ivan Petrov"));
        assert_eq!(c.emails, vec!["ivan@home.example", "ivan@work.example"]);
        assert_eq!(c.phones, vec!["+7 999 123-45-67"]);
        assert_eq!(c.org.as_deref(), Some("Acme, Inc."));
    }

    #[test]
    fn reads_a_4_0_card_with_pref_and_uris() {
        let text = "BEGIN:VCARD\nVERSION:4.0\nN:Doe;Jane;Q.;;\nitem1.EMAIL;PREF=2:jane@a.example\n\
                    EMAIL;PREF=1:jane@b.example\nTEL;VALUE=uri;TYPE=\"voice,home\":tel:+1-555-555-5555\nEND:VCARD\n";
        let cards = parse_vcards(text);
        let c = cards[0].as_ref().expect("card");
        assert_eq!(c.display_name().as_deref(), Some("Jane Q. Doe"));
        assert_eq!(c.emails, vec!["jane@b.example", "jane@a.example"]);
        assert_eq!(c.phones, vec!["+1-555-555-5555"]);
    }

    #[test]
    fn reports_bad_cards_and_keeps_going() {
        let text = "BEGIN:VCARD\nVERSION:2.1\nFN:Old\nEND:VCARD\nstray\nBEGIN:VCARD\nVERSION:3.0\nFN:No end\n\
                    BEGIN:VCARD\nVERSION:3.0\nFN:Good\nEMAIL:g@x.example\nEND:VCARD\nBEGIN:VCARD\nVERSION:4.0\nFN:Cut";
        let cards = parse_vcards(text);
        let good: Vec<&VCard> = cards.iter().filter_map(|c| c.as_ref().ok()).collect();
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].index, 3);
        assert_eq!(good[0].emails, vec!["g@x.example"]);
        let errs: Vec<String> = cards
            .iter()
            .filter_map(|c| c.as_ref().err())
            .map(|e| format!("{}: {}", e.place, e.reason))
            .collect();
        assert_eq!(
            errs,
            vec![
                "card 1: vCard version 2.1 is not supported (use 3.0 or 4.0)",
                "line 5: text outside BEGIN:VCARD … END:VCARD",
                "card 2: no END:VCARD before the next BEGIN:VCARD on line 9",
                "card 4: no END:VCARD for the card starting on line 14",
            ]
        );
    }

    #[test]
    fn missing_version_is_refused() {
        let cards = parse_vcards("BEGIN:VCARD\nFN:X\nEMAIL:x@y.example\nEND:VCARD\n");
        assert!(cards[0].is_err());
    }
}
