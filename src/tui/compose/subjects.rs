//! "Re:" and "Fwd:" subjects that never stack, in several languages.

/// Skip one reply or forward prefix (`Re:`, `RE[2]:`, `Отв:`…) at the
/// start of `s`, case-insensitively; the rest after it, trimmed.
pub(super) fn skip_prefix<'a>(s: &'a str, names: &[&str]) -> Option<&'a str> {
    for name in names {
        let mut it = s.char_indices().peekable();
        let mut ok = true;
        for n in name.chars() {
            match it.next() {
                Some((_, c)) if c.to_lowercase().eq(n.to_lowercase()) => {}
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            continue;
        }
        // Optional counter: "Re[2]:" or "Re(2):".
        if let Some(&(_, open)) = it.peek()
            && (open == '[' || open == '(')
        {
            let close = if open == '[' { ']' } else { ')' };
            it.next();
            let mut digits = 0;
            while let Some(&(_, c)) = it.peek() {
                if c.is_ascii_digit() {
                    digits += 1;
                    it.next();
                } else {
                    break;
                }
            }
            if digits == 0 || it.next().map(|(_, c)| c) != Some(close) {
                continue;
            }
        }
        while let Some(&(_, c)) = it.peek() {
            if c == ' ' {
                it.next();
            } else {
                break;
            }
        }
        match it.next() {
            Some((i, c @ (':' | '：'))) => return Some(s[i + c.len_utf8()..].trim_start()),
            _ => continue,
        }
    }
    None
}

pub(super) fn strip_prefixes<'a>(s: &'a str, names: &[&str]) -> &'a str {
    let mut t = s.trim();
    while let Some(rest) = skip_prefix(t, names) {
        t = rest;
    }
    t
}

const REPLY_PREFIXES: &[&str] = &["re", "отв", "ответ", "aw", "sv", "antw", "res"];
const FORWARD_PREFIXES: &[&str] = &["fwd", "fw", "пересл", "wg", "tr", "enc"];

/// "Re: " once, however many reply prefixes the subject already has.
pub fn reply_subject(s: &str) -> String {
    format!("Re: {}", strip_prefixes(s, REPLY_PREFIXES))
}

/// "Fwd: " once, however many forward prefixes the subject already has.
pub fn forward_subject(s: &str) -> String {
    format!("Fwd: {}", strip_prefixes(s, FORWARD_PREFIXES))
}
