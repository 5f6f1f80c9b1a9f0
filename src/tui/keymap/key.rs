//! A single key press, in a normalised form that keymap files can name.
//!
//! Notation (vim-like):
//!
//! * a printable character stands for itself: `j`, `G`, `?`, `:`, `|`;
//! * everything else goes in angle brackets: `<Enter>`, `<Esc>`, `<Tab>`,
//!   `<S-Tab>`, `<Space>`, `<Up>`, `<PageDown>`, `<F5>`, `<lt>` (a literal `<`);
//! * modifiers prefix the name inside the brackets: `C-` (Ctrl), `M-` or
//!   `A-` (Alt), `S-` (Shift), `D-` (Super), `H-` (Hyper): `<C-r>`,
//!   `<M-x>`, `<C-S-x>`.
//!
//! Normalisation: shift is folded into characters, so `G`, `<S-g>` and a
//! terminal event "Shift + g" are all the same key (`KeyCode::Char('G')`
//! with no modifiers). `<C-S-x>` is therefore `Char('X')` with CONTROL.
//! Shift+Tab is always `KeyCode::BackTab` without SHIFT.

use std::fmt;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The modifiers a [`Key`] can carry (crossterm's META is not kept).
const KEPT_MODS: KeyModifiers = KeyModifiers::CONTROL
    .union(KeyModifiers::ALT)
    .union(KeyModifiers::SHIFT)
    .union(KeyModifiers::SUPER)
    .union(KeyModifiers::HYPER);

/// One normalised key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

/// Returned when a key name cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key \"{token}\": {reason}")]
pub struct KeyParseError {
    /// The offending text.
    pub token: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl Key {
    /// A key with the given code and modifiers, normalised.
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Key {
        normalise(code, mods & KEPT_MODS)
    }

    /// A plain character key (`Key::char('G')` is shift+g).
    pub fn char(c: char) -> Key {
        Key::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    /// Ctrl + character.
    pub fn ctrl(c: char) -> Key {
        Key::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    /// Alt (Meta) + character.
    pub fn alt(c: char) -> Key {
        Key::new(KeyCode::Char(c), KeyModifiers::ALT)
    }

    /// Converts a terminal event. Only key presses are accepted (repeats and
    /// releases, reported by the Kitty protocol, give `None`), as are key
    /// codes that have no notation (media keys, lone modifiers, ...).
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        if ev.kind != KeyEventKind::Press {
            return None;
        }
        match ev.code {
            KeyCode::Char(c) if c.is_control() => None,
            KeyCode::Char(_)
            | KeyCode::Backspace
            | KeyCode::Enter
            | KeyCode::Left
            | KeyCode::Right
            | KeyCode::Up
            | KeyCode::Down
            | KeyCode::Home
            | KeyCode::End
            | KeyCode::PageUp
            | KeyCode::PageDown
            | KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Delete
            | KeyCode::Insert
            | KeyCode::F(1..=24)
            | KeyCode::Esc => Some(Key::new(ev.code, ev.modifiers)),
            _ => None,
        }
    }

    /// True if this key can reach the application only through the Kitty
    /// keyboard protocol (or is ambiguous without it): Ctrl+Shift
    /// combinations, Super/Hyper, Ctrl with a non-letter (other than
    /// `<C-Space>`), Ctrl+Enter/Tab/Backspace/Esc, and the Ctrl letters a
    /// legacy terminal sends as other keys (`<C-i>` = Tab, `<C-m>` = Enter,
    /// `<C-h>` = Backspace, `<C-[>` = Esc).
    pub fn needs_extended_protocol(&self) -> bool {
        let m = self.mods;
        if m.intersects(KeyModifiers::SUPER | KeyModifiers::HYPER) {
            return true;
        }
        let ctrl = m.contains(KeyModifiers::CONTROL);
        match self.code {
            KeyCode::Char(c) => {
                ctrl && (!(c.is_ascii_lowercase() || c == ' ') || matches!(c, 'i' | 'm' | 'h'))
            }
            KeyCode::Enter
            | KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Backspace
            | KeyCode::Esc => ctrl || m.contains(KeyModifiers::SHIFT),
            _ => false,
        }
    }

    /// Parses a space-separated key sequence such as `"g g"` or
    /// `"<C-x> <C-c>"`.
    pub fn parse_sequence(s: &str) -> Result<Vec<Key>, KeyParseError> {
        let keys = s
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<Vec<Key>, _>>()?;
        if keys.is_empty() {
            return Err(KeyParseError {
                token: s.to_owned(),
                reason: "empty key sequence",
            });
        }
        Ok(keys)
    }

    /// Formats a key sequence the way [`Key::parse_sequence`] reads it.
    pub fn sequence_to_string(keys: &[Key]) -> String {
        keys.iter()
            .map(Key::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn normalise(code: KeyCode, mut mods: KeyModifiers) -> Key {
    let code = match code {
        KeyCode::Char(c) => {
            let shifted = mods.contains(KeyModifiers::SHIFT);
            mods.remove(KeyModifiers::SHIFT);
            KeyCode::Char(if shifted { upper(c) } else { c })
        }
        KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => {
            mods.remove(KeyModifiers::SHIFT);
            KeyCode::BackTab
        }
        KeyCode::BackTab => {
            mods.remove(KeyModifiers::SHIFT);
            KeyCode::BackTab
        }
        other => other,
    };
    Key { code, mods }
}

/// Upper-cases a character when it has a single-character upper case.
fn upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn lower(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

const NAMED: &[(&str, KeyCode)] = &[
    ("Enter", KeyCode::Enter),
    ("Esc", KeyCode::Esc),
    ("Tab", KeyCode::Tab),
    ("Space", KeyCode::Char(' ')),
    ("Up", KeyCode::Up),
    ("Down", KeyCode::Down),
    ("Left", KeyCode::Left),
    ("Right", KeyCode::Right),
    ("PageUp", KeyCode::PageUp),
    ("PageDown", KeyCode::PageDown),
    ("Home", KeyCode::Home),
    ("End", KeyCode::End),
    ("Backspace", KeyCode::Backspace),
    ("Delete", KeyCode::Delete),
    ("Insert", KeyCode::Insert),
    ("lt", KeyCode::Char('<')),
    // Aliases, accepted but never printed.
    ("CR", KeyCode::Enter),
    ("Return", KeyCode::Enter),
    ("Escape", KeyCode::Esc),
    ("BS", KeyCode::Backspace),
    ("Del", KeyCode::Delete),
    ("Ins", KeyCode::Insert),
    ("PgUp", KeyCode::PageUp),
    ("PgDn", KeyCode::PageDown),
    ("gt", KeyCode::Char('>')),
    ("Bar", KeyCode::Char('|')),
    ("Bslash", KeyCode::Char('\\')),
];

fn named(name: &str) -> Option<KeyCode> {
    if let Some((_, code)) = NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        return Some(*code);
    }
    let digits = name.strip_prefix('F').or_else(|| name.strip_prefix('f'))?;
    if digits.is_empty() || digits.starts_with('0') {
        return None;
    }
    match digits.parse::<u8>() {
        Ok(n @ 1..=24) => Some(KeyCode::F(n)),
        _ => None,
    }
}

fn bad(token: &str, reason: &'static str) -> KeyParseError {
    KeyParseError {
        token: token.to_owned(),
        reason,
    }
}

impl FromStr for Key {
    type Err = KeyParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (None, _) => return Err(bad(s, "empty key")),
            (Some(c), None) => {
                if c.is_whitespace() || c.is_control() {
                    return Err(bad(s, "use <Space>, <Tab> or <Enter> for blank keys"));
                }
                return Ok(Key::char(c));
            }
            _ => {}
        }
        let inner = s
            .strip_prefix('<')
            .and_then(|r| r.strip_suffix('>'))
            .ok_or_else(|| {
                bad(
                    s,
                    "write one key per entry, names in angle brackets, sequences separated by spaces",
                )
            })?;
        let mut mods = KeyModifiers::NONE;
        let mut rest = inner;
        loop {
            let mut it = rest.chars();
            let (Some(m), Some('-'), Some(_)) = (it.next(), it.next(), it.next()) else {
                break;
            };
            let flag = match m.to_ascii_uppercase() {
                'C' => KeyModifiers::CONTROL,
                'A' | 'M' => KeyModifiers::ALT,
                'S' => KeyModifiers::SHIFT,
                'D' => KeyModifiers::SUPER,
                'H' => KeyModifiers::HYPER,
                _ => return Err(bad(s, "modifiers are C-, S-, A- / M-, D-, H-")),
            };
            if mods.contains(flag) {
                return Err(bad(s, "modifier given twice"));
            }
            mods |= flag;
            rest = &rest[2..];
        }
        let mut it = rest.chars();
        let code = match (it.next(), it.next()) {
            (None, _) => return Err(bad(s, "empty key name")),
            (Some(c), None) if !c.is_whitespace() && !c.is_control() => KeyCode::Char(c),
            _ => named(rest).ok_or_else(|| bad(s, "not a key name"))?,
        };
        Ok(Key::new(code, mods))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut mods = self.mods;
        let name: String = match self.code {
            KeyCode::Char(' ') => "Space".into(),
            KeyCode::Char('<') => "lt".into(),
            KeyCode::Char(c) if !mods.is_empty() && c != lower(c) && upper(lower(c)) == c => {
                mods |= KeyModifiers::SHIFT;
                lower(c).to_string()
            }
            KeyCode::Char(c) if mods.is_empty() => return write!(f, "{c}"),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::BackTab => {
                mods |= KeyModifiers::SHIFT;
                "Tab".into()
            }
            KeyCode::F(n) => format!("F{n}"),
            code => match NAMED.iter().find(|(_, c)| *c == code) {
                Some((n, _)) => (*n).into(),
                None => format!("{code:?}"),
            },
        };
        f.write_str("<")?;
        for (flag, prefix) in [
            (KeyModifiers::CONTROL, "C-"),
            (KeyModifiers::ALT, "M-"),
            (KeyModifiers::SHIFT, "S-"),
            (KeyModifiers::SUPER, "D-"),
            (KeyModifiers::HYPER, "H-"),
        ] {
            if mods.contains(flag) {
                f.write_str(prefix)?;
            }
        }
        write!(f, "{name}>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;

    fn k(s: &str) -> Key {
        s.parse().expect(s)
    }

    #[test]
    fn canonical_forms_round_trip() {
        for s in [
            "j",
            "<C-ǅ>",
            "<M-ǆ>",
            "G",
            "?",
            ":",
            "|",
            "$",
            "<Enter>",
            "<Esc>",
            "<Tab>",
            "<S-Tab>",
            "<Space>",
            "<Up>",
            "<Down>",
            "<Left>",
            "<Right>",
            "<PageUp>",
            "<PageDown>",
            "<Home>",
            "<End>",
            "<Backspace>",
            "<Delete>",
            "<F1>",
            "<F12>",
            "<C-r>",
            "<M-x>",
            "<C-S-x>",
            "<lt>",
            ">",
            "<M-lt>",
            "<M->>",
            "<C-Space>",
            "<S-Up>",
            "<C-M-x>",
            "<M-?>",
            "-",
            "<C-->",
        ] {
            assert_eq!(k(s).to_string(), s);
        }
    }

    #[test]
    fn aliases_and_normalisation() {
        assert_eq!(k("<A-x>"), k("<M-x>"));
        assert_eq!(k("<S-g>"), k("G"));
        assert_eq!(k("<C-X>"), k("<C-S-x>"));
        assert_eq!(
            k("<C-S-x>"),
            Key::new(KeyCode::Char('X'), KeyModifiers::CONTROL)
        );
        assert_eq!(k("<S-Tab>").code, KeyCode::BackTab);
        assert_eq!(k("<S-Tab>").mods, KeyModifiers::NONE);
        assert_eq!(k("<cr>"), k("<Enter>"));
        assert_eq!(k("<c-r>"), k("<C-r>"));
        assert_eq!(k("<"), Key::char('<'));
        assert_eq!(k("<M-<>"), Key::alt('<'));
        assert_eq!(k("<f5>"), Key::new(KeyCode::F(5), KeyModifiers::NONE));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "", " ", "gg", "<C-Foo>", "<>", "<C->", "<X-a>", "<F0>", "<F25>", "<C-C-a>", "Enter",
            "<Enter",
        ] {
            assert!(s.parse::<Key>().is_err(), "{s:?} should not parse");
        }
    }

    #[test]
    fn sequences() {
        assert_eq!(
            Key::parse_sequence("g  g").expect("seq"),
            vec![Key::char('g'), Key::char('g')]
        );
        assert_eq!(
            Key::sequence_to_string(&Key::parse_sequence("<C-x> <C-c>").expect("seq")),
            "<C-x> <C-c>"
        );
        assert!(Key::parse_sequence("   ").is_err());
    }

    fn ev(code: KeyCode, mods: KeyModifiers, kind: KeyEventKind) -> KeyEvent {
        KeyEvent {
            code,
            modifiers: mods,
            kind,
            state: KeyEventState::NONE,
        }
    }

    #[test]
    fn from_event() {
        let press = KeyEventKind::Press;
        assert_eq!(
            Key::from_event(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT, press)),
            Some(k("G"))
        );
        assert_eq!(
            Key::from_event(&ev(KeyCode::Char('g'), KeyModifiers::SHIFT, press)),
            Some(k("G"))
        );
        assert_eq!(
            Key::from_event(&ev(KeyCode::Char('?'), KeyModifiers::SHIFT, press)),
            Some(k("?"))
        );
        assert_eq!(
            Key::from_event(&ev(KeyCode::BackTab, KeyModifiers::SHIFT, press)),
            Some(k("<S-Tab>"))
        );
        assert_eq!(
            Key::from_event(&ev(KeyCode::Char('r'), KeyModifiers::CONTROL, press)),
            Some(k("<C-r>"))
        );
        assert_eq!(
            Key::from_event(&ev(
                KeyCode::Char('x'),
                KeyModifiers::CONTROL | KeyModifiers::SHIFT,
                press
            )),
            Some(k("<C-S-x>"))
        );
        assert_eq!(
            Key::from_event(&ev(
                KeyCode::Char('j'),
                KeyModifiers::NONE,
                KeyEventKind::Release
            )),
            None
        );
        assert_eq!(
            Key::from_event(&ev(
                KeyCode::Char('j'),
                KeyModifiers::NONE,
                KeyEventKind::Repeat
            )),
            None
        );
        assert_eq!(
            Key::from_event(&ev(KeyCode::CapsLock, KeyModifiers::NONE, press)),
            None
        );
    }

    #[test]
    fn extended_protocol_detection() {
        for s in [
            "<C-S-x>",
            "<C-Enter>",
            "<C-Tab>",
            "<D-x>",
            "<C-i>",
            "<C-.>",
            "<S-Enter>",
        ] {
            assert!(k(s).needs_extended_protocol(), "{s}");
        }
        for s in [
            "<C-x>",
            "j",
            "G",
            "<M-x>",
            "<M-<>",
            "<Tab>",
            "<S-Tab>",
            "<C-Space>",
            "<F5>",
        ] {
            assert!(!k(s).needs_extended_protocol(), "{s}");
        }
    }
}
