//! Address normalisation and recipient validation.

use thiserror::Error;
use unicode_security::MixedScript;

/// Why a recipient address was refused. The messages say what to do.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    #[error("the address is empty; type an address such as name@example.com")]
    Empty,
    #[error("the address contains a line break; type it on a single line")]
    LineBreak,
    #[error(
        "character U+{code:04X} at position {position} is an invisible control character; retype the address by hand"
    )]
    ControlChar { code: u32, position: usize },
    #[error("the address has no '@'; use the form name@example.com")]
    MissingAt,
    #[error("there is nothing before the '@'; add the mailbox name, as in name@example.com")]
    EmptyLocalPart,
    #[error("there is nothing after the '@'; add the domain, as in name@example.com")]
    EmptyDomain,
    #[error(
        "character {desc} at position {position} is not allowed before the '@'; remove it, or put the part before the '@' in double quotes"
    )]
    InvalidLocalPart { desc: String, position: usize },
    #[error("the domain '{domain}' is not valid ({reason}); check the spelling after the '@'")]
    InvalidDomain { domain: String, reason: String },
    #[error(
        "the address is too long ({len} bytes, at most {max}); check that it was pasted correctly"
    )]
    TooLong { len: usize, max: usize },
    #[error(
        "character '{ch}' ({desc}) at position {position} mixes {script} into a {base} address; it is probably a look-alike: retype the address using {base} letters only"
    )]
    MixedScript {
        ch: char,
        desc: String,
        position: usize,
        script: String,
        base: String,
    },
}

/// Normalises an address for comparison and lookup: trims, drops
/// surrounding `<>`, lowercases, converts an IDN domain to punycode and,
/// when `strip_plus` is set, removes a `+tag` from the local part.
/// Returns `None` when it does not look like an address.
pub fn normalize_email(s: &str, strip_plus: bool) -> Option<String> {
    if let Some((local, domain)) = plain_address(s) {
        return with_local(local, domain, strip_plus);
    }
    normalize_slow(s, strip_plus)
}

/// `local@domain` when `s` is already in normal form: lowercase ASCII with
/// nothing to trim or unbracket and a plain domain (lowercase letters,
/// digits and hyphens, no empty or punycode labels), which IDNA would give
/// back unchanged. Most addresses a desk sees are; they skip IDNA.
fn plain_address(s: &str) -> Option<(&str, &str)> {
    let (local, domain) = s.rsplit_once('@')?;
    let local_ok = !local.is_empty()
        && local.bytes().all(|b| {
            b.is_ascii_graphic() && !b.is_ascii_uppercase() && !matches!(b, b'<' | b'>' | b'"')
        });
    let domain_ok = !domain.is_empty()
        && domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with("xn--")
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    (local_ok && domain_ok).then_some((local, domain))
}

/// `local@domain` with the plus tag cut when asked.
fn with_local(local: &str, domain: &str, strip_plus: bool) -> Option<String> {
    let local = if strip_plus {
        local.split('+').next().unwrap_or(local)
    } else {
        local
    };
    (!local.is_empty()).then(|| format!("{local}@{domain}"))
}

fn normalize_slow(s: &str, strip_plus: bool) -> Option<String> {
    let s = unbracket(s.trim());
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = s.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    let mut local = local.to_lowercase();
    if strip_plus && !local.starts_with('"') {
        if let Some(p) = local.find('+') {
            local.truncate(p);
        }
        if local.is_empty() {
            return None;
        }
    }
    let domain = if domain.starts_with('[') && domain.ends_with(']') {
        domain.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(domain.trim_end_matches('.')).ok()?
    };
    let plain =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':' | '[' | ']');
    if domain.is_empty() || !domain.chars().all(plain) {
        return None;
    }
    Some(format!("{local}@{domain}"))
}

fn unbracket(s: &str) -> &str {
    s.strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .map_or(s, str::trim)
}

/// Validates a recipient typed or pasted by the user (RFC 5322 addr-spec
/// with UTF-8 and IDN support) and returns it ready to send: trimmed, with
/// the domain in ASCII (punycode) form. Line breaks, control characters and
/// mixed-script look-alikes such as a Cyrillic `а` in a Latin address are
/// refused.
pub fn validate_recipient(s: &str) -> Result<String, AddressError> {
    if s.contains(['\r', '\n']) {
        return Err(AddressError::LineBreak);
    }
    let addr = unbracket(s.trim());
    if addr.is_empty() {
        return Err(AddressError::Empty);
    }
    if let Some((i, c)) = addr
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() || super::sanitize::is_bidi_control(*c))
    {
        return Err(AddressError::ControlChar {
            code: u32::from(c),
            position: i + 1,
        });
    }
    if addr.len() > 254 {
        return Err(AddressError::TooLong {
            len: addr.len(),
            max: 254,
        });
    }
    let (local, domain) = addr.rsplit_once('@').ok_or(AddressError::MissingAt)?;
    if local.is_empty() {
        return Err(AddressError::EmptyLocalPart);
    }
    if domain.is_empty() {
        return Err(AddressError::EmptyDomain);
    }
    check_local(local)?;
    let local_chars = local.chars().count();
    check_script(local, 0)?;
    let ascii_domain = check_domain(domain, local_chars + 1)?;
    Ok(format!("{local}@{ascii_domain}"))
}

fn describe(c: char) -> String {
    if c.is_ascii_graphic() {
        format!("'{c}'")
    } else {
        format!("U+{:04X}", u32::from(c))
    }
}

fn check_local(local: &str) -> Result<(), AddressError> {
    if local.len() > 64 {
        return Err(AddressError::TooLong {
            len: local.len(),
            max: 64,
        });
    }
    let bad = |i: usize, c: char| AddressError::InvalidLocalPart {
        desc: describe(c),
        position: i + 1,
    };
    if let Some(inner) = local.strip_prefix('"').and_then(|r| r.strip_suffix('"'))
        && local.len() >= 2
    {
        // Quoted string: any printable character; `"` and `\` escaped.
        let mut escaped = false;
        for (i, c) in inner.chars().enumerate() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                return Err(bad(i + 1, c));
            }
        }
        if escaped {
            return Err(bad(inner.chars().count(), '\\'));
        }
        return Ok(());
    }
    let n = local.chars().count();
    let mut prev_dot = false;
    for (i, c) in local.chars().enumerate() {
        let ok = c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~".contains(c)
            || (!c.is_ascii() && !c.is_whitespace());
        if c == '.' {
            if i == 0 || i + 1 == n || prev_dot {
                return Err(bad(i, c));
            }
            prev_dot = true;
            continue;
        }
        prev_dot = false;
        if !ok {
            return Err(bad(i, c));
        }
    }
    Ok(())
}

/// Validates the domain and returns its ASCII form. `offset` is the number
/// of characters before the domain, for error positions.
fn check_domain(domain: &str, offset: usize) -> Result<String, AddressError> {
    let invalid = |reason: &str| AddressError::InvalidDomain {
        domain: super::sanitize::sanitize_line(domain),
        reason: reason.to_string(),
    };
    if let Some(lit) = domain.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let ok = lit.parse::<std::net::Ipv4Addr>().is_ok()
            || lit
                .strip_prefix("IPv6:")
                .is_some_and(|v| v.parse::<std::net::Ipv6Addr>().is_ok());
        return if ok {
            Ok(domain.to_string())
        } else {
            Err(invalid("not an IP address literal"))
        };
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let mut pos = offset;
    for label in domain.split('.') {
        check_script(label, pos)?;
        pos += label.chars().count() + 1;
    }
    let ascii = idna::domain_to_ascii_strict(domain)
        .map_err(|_| invalid("it contains characters that are not allowed in domain names"))?;
    if !ascii.contains('.') {
        return Err(invalid("it needs at least one dot, as in example.com"));
    }
    if ascii.len() > 253 {
        return Err(invalid("it is too long"));
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(invalid("it has an empty part between dots"));
        }
        if label.len() > 63 {
            return Err(invalid("a part between dots is longer than 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("a part between dots starts or ends with '-'"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid(
                "it contains characters that are not allowed in domain names",
            ));
        }
    }
    Ok(ascii)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Greek,
    Other,
}

impl Script {
    fn of(c: char) -> Option<Script> {
        let u = u32::from(c);
        if !c.is_alphabetic() {
            return None;
        }
        Some(match u {
            0x41..=0x5a | 0x61..=0x7a | 0xc0..=0x24f | 0x1e00..=0x1eff | 0x2c60..=0x2c7f => {
                Script::Latin
            }
            0x400..=0x52f | 0x1c80..=0x1c8f | 0x2de0..=0x2dff | 0xa640..=0xa69f => Script::Cyrillic,
            0x370..=0x3ff | 0x1f00..=0x1fff => Script::Greek,
            _ => Script::Other,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Script::Latin => "Latin",
            Script::Cyrillic => "Cyrillic",
            Script::Greek => "Greek",
            Script::Other => "another script",
        }
    }
}

/// Refuses a part of an address that mixes scripts (Unicode TR39
/// single-script test). `offset` is the number of characters before `part`.
fn check_script(part: &str, offset: usize) -> Result<(), AddressError> {
    if part.is_single_script() {
        return Ok(());
    }
    let scripts: Vec<(usize, char, Script)> = part
        .chars()
        .enumerate()
        .filter_map(|(i, c)| Script::of(c).map(|s| (i, c, s)))
        .collect();
    let count = |s: Script| scripts.iter().filter(|x| x.2 == s).count();
    // The base script is the most frequent one; Latin wins ties.
    let base = [
        Script::Latin,
        Script::Cyrillic,
        Script::Greek,
        Script::Other,
    ]
    .into_iter()
    .max_by_key(|&s| (count(s), s == Script::Latin))
    .unwrap_or(Script::Latin);
    let offending = scripts
        .iter()
        .find(|x| x.2 != base)
        .or_else(|| scripts.first());
    let (i, ch, script) = match offending {
        Some(&(i, c, s)) => (i, c, s),
        None => {
            let c = part.chars().next().unwrap_or('?');
            (0, c, Script::Other)
        }
    };
    Err(AddressError::MixedScript {
        ch,
        desc: char_description(ch),
        position: offset + i + 1,
        script: script.name().to_string(),
        base: base.name().to_string(),
    })
}

/// `U+0430 CYRILLIC SMALL LETTER A` for common look-alikes, else the code
/// point alone.
fn char_description(c: char) -> String {
    let name = match c {
        'а' => "CYRILLIC SMALL LETTER A",
        'в' => "CYRILLIC SMALL LETTER VE",
        'е' => "CYRILLIC SMALL LETTER IE",
        'к' => "CYRILLIC SMALL LETTER KA",
        'м' => "CYRILLIC SMALL LETTER EM",
        'н' => "CYRILLIC SMALL LETTER EN",
        'о' => "CYRILLIC SMALL LETTER O",
        'р' => "CYRILLIC SMALL LETTER ER",
        'с' => "CYRILLIC SMALL LETTER ES",
        'т' => "CYRILLIC SMALL LETTER TE",
        'у' => "CYRILLIC SMALL LETTER U",
        'х' => "CYRILLIC SMALL LETTER HA",
        'і' => "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I",
        'ј' => "CYRILLIC SMALL LETTER JE",
        'ѕ' => "CYRILLIC SMALL LETTER DZE",
        'ԁ' => "CYRILLIC SMALL LETTER KOMI DE",
        'ɡ' => "LATIN SMALL LETTER SCRIPT G",
        'А' => "CYRILLIC CAPITAL LETTER A",
        'В' => "CYRILLIC CAPITAL LETTER VE",
        'Е' => "CYRILLIC CAPITAL LETTER IE",
        'К' => "CYRILLIC CAPITAL LETTER KA",
        'М' => "CYRILLIC CAPITAL LETTER EM",
        'Н' => "CYRILLIC CAPITAL LETTER EN",
        'О' => "CYRILLIC CAPITAL LETTER O",
        'Р' => "CYRILLIC CAPITAL LETTER ER",
        'С' => "CYRILLIC CAPITAL LETTER ES",
        'Т' => "CYRILLIC CAPITAL LETTER TE",
        'Х' => "CYRILLIC CAPITAL LETTER HA",
        'α' => "GREEK SMALL LETTER ALPHA",
        'ε' => "GREEK SMALL LETTER EPSILON",
        'ι' => "GREEK SMALL LETTER IOTA",
        'κ' => "GREEK SMALL LETTER KAPPA",
        'ν' => "GREEK SMALL LETTER NU",
        'ο' => "GREEK SMALL LETTER OMICRON",
        'ρ' => "GREEK SMALL LETTER RHO",
        'τ' => "GREEK SMALL LETTER TAU",
        'υ' => "GREEK SMALL LETTER UPSILON",
        'Α' => "GREEK CAPITAL LETTER ALPHA",
        'Β' => "GREEK CAPITAL LETTER BETA",
        'Ε' => "GREEK CAPITAL LETTER EPSILON",
        'Η' => "GREEK CAPITAL LETTER ETA",
        'Ι' => "GREEK CAPITAL LETTER IOTA",
        'Κ' => "GREEK CAPITAL LETTER KAPPA",
        'Μ' => "GREEK CAPITAL LETTER MU",
        'Ν' => "GREEK CAPITAL LETTER NU",
        'Ο' => "GREEK CAPITAL LETTER OMICRON",
        'Ρ' => "GREEK CAPITAL LETTER RHO",
        'Τ' => "GREEK CAPITAL LETTER TAU",
        'Χ' => "GREEK CAPITAL LETTER CHI",
        _ => "",
    };
    if name.is_empty() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("U+{:04X} {name}", u32::from(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn plain_addresses_normalise_as_idna_does(
            local in "[a-zA-Z0-9.+_=-]{0,8}",
            labels in proptest::collection::vec("(xn--)?[a-z0-9-]{0,6}", 1..4),
            strip in proptest::prelude::any::<bool>(),
        ) {
            let s = format!("{local}@{}", labels.join("."));
            proptest::prop_assert_eq!(normalize_email(&s, strip), normalize_slow(&s, strip));
        }
    }

    #[test]
    fn normalizes() {
        assert_eq!(
            normalize_email("  <Alice+Tag@Example.COM> ", false).as_deref(),
            Some("alice+tag@example.com")
        );
        assert_eq!(
            normalize_email("Alice+Tag@Example.COM", true).as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(
            normalize_email("ivan@пример.рф", false).as_deref(),
            Some("ivan@xn--e1afmkfd.xn--p1ai")
        );
        assert_eq!(normalize_email("no-at-sign", false), None);
        assert_eq!(normalize_email("a b@c.d", false), None);
        assert_eq!(normalize_email("+tag@c.d", true), None);
    }

    #[test]
    fn valid_recipients() {
        for (input, out) in [
            ("alice@example.com", "alice@example.com"),
            (" <Bob.Smith+x@Example.org> ", "Bob.Smith+x@example.org"),
            ("\"john doe\"@example.com", "\"john doe\"@example.com"),
            ("ivan@пример.рф", "ivan@xn--e1afmkfd.xn--p1ai"),
            ("иван@пример.рф", "иван@xn--e1afmkfd.xn--p1ai"),
            ("user@[192.0.2.1]", "user@[192.0.2.1]"),
            ("用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v"),
        ] {
            assert_eq!(validate_recipient(input).as_deref(), Ok(out), "{input}");
        }
    }

    #[test]
    fn refuses_mixed_script() {
        let err = validate_recipient("аlice@example.com").err();
        let Some(err) = err else {
            panic!("accepted a mixed-script address");
        };
        assert!(
            err.to_string().starts_with(
                "character 'а' (U+0430 CYRILLIC SMALL LETTER A) at position 1 mixes Cyrillic into a Latin address"
            ),
            "{err}"
        );
        let err = validate_recipient("alice@exаmple.com").err();
        assert!(
            matches!(err, Some(AddressError::MixedScript { position: 9, .. })),
            "{err:?}"
        );
        assert!(matches!(
            validate_recipient("pαypal@example.com"),
            Err(AddressError::MixedScript { ref script, .. }) if script == "Greek"
        ));
    }

    #[test]
    fn refuses_malformed() {
        assert_eq!(validate_recipient(""), Err(AddressError::Empty));
        assert_eq!(
            validate_recipient("a@b.c\r\nBcc: x@y.z"),
            Err(AddressError::LineBreak)
        );
        assert_eq!(validate_recipient("alice"), Err(AddressError::MissingAt));
        assert_eq!(
            validate_recipient("@example.com"),
            Err(AddressError::EmptyLocalPart)
        );
        assert_eq!(validate_recipient("a@"), Err(AddressError::EmptyDomain));
        assert!(matches!(
            validate_recipient("a..b@example.com"),
            Err(AddressError::InvalidLocalPart { position: 3, .. })
        ));
        assert!(matches!(
            validate_recipient("a b@example.com"),
            Err(AddressError::InvalidLocalPart { .. })
        ));
        assert!(matches!(
            validate_recipient("a@localhost"),
            Err(AddressError::InvalidDomain { .. })
        ));
        assert!(matches!(
            validate_recipient("a@-x.com"),
            Err(AddressError::InvalidDomain { .. })
        ));
        assert!(matches!(
            validate_recipient("a\u{202e}@x.com"),
            Err(AddressError::ControlChar { code: 0x202e, .. })
        ));
        let msg = validate_recipient("alice").err().map(|e| e.to_string());
        assert_eq!(
            msg.as_deref(),
            Some("the address has no '@'; use the form name@example.com")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics_and_output_is_clean(s in "\\PC{0,40}|[a-zA-Zа-я.+\"@ -]{0,20}@[a-zа-я.-]{0,12}") {
            if let Ok(a) = validate_recipient(&s) {
                proptest::prop_assert!(!a.chars().any(|c| c.is_control() || c == '\n'));
                proptest::prop_assert!(a.contains('@'));
                proptest::prop_assert!(a.len() <= 254 + 64);
            }
            if let Some(n) = normalize_email(&s, true) {
                proptest::prop_assert!(!n.chars().any(char::is_whitespace));
            }
            let _ = validate_recipient(&s).map_err(|e| e.to_string());
        }
    }
}
