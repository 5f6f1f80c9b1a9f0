//! Everything deskmail prints outside the interface (CLI commands, sync
//! progress lines) goes through [`print`]: every string passes the one
//! sanitiser on its way to the terminal, and a closed stream is never a panic.

use crate::mail::sanitize::{is_forbidden_char, sanitize_line, sanitize_text};
use std::io::Write;

/// Where a text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// Writes `text` to the stream, sanitised (newlines kept, every escape
/// sequence, C0/C1 control and bidi control removed).
pub fn print(stream: Stream, text: &str) {
    let clean = sanitize_text(text);
    // A reader that went away (a closed pipe) is not worth a panic.
    let _ = match stream {
        Stream::Out => std::io::stdout().lock().write_all(clean.as_bytes()),
        Stream::Err => std::io::stderr().lock().write_all(clean.as_bytes()),
    };
}

/// One line on stdout.
pub fn out(line: &str) {
    print(Stream::Out, &format!("{line}\n"));
}

/// A message on stderr, prefixed with `deskmail: `; each of its lines is
/// sanitised on its own, so a list of problems stays a list.
pub fn err(text: &str) {
    let lines: Vec<String> = text.lines().map(sanitize_line).collect();
    print(Stream::Err, &format!("deskmail: {}\n", lines.join("\n")));
}

/// A one-line label drawn by something else (a progress bar prefix).
pub fn label(s: &str) -> String {
    sanitize_line(s)
}

/// JSON on one line with every control and bidi character escaped as
/// `\uXXXX` (serde_json leaves DEL, C1 and bidi controls raw).
pub fn json<T: serde::Serialize>(value: &T) -> serde_json::Result<String> {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, TerminalSafeJson);
    value.serialize(&mut ser)?;
    // The serializer writes UTF-8 only.
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// serde_json's compact output, escaping what a terminal must not see.
struct TerminalSafeJson;

impl serde_json::ser::Formatter for TerminalSafeJson {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_forbidden_char(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_c1_del_and_bidi_and_stays_equal_after_parsing() {
        let name = "Junk\u{9b}31m\u{85}\u{7f}Drafts\u{202e}exe\u{1b}]0;x\u{7}";
        let text = json(&serde_json::json!({ "name": name })).expect("json");
        assert!(
            text.chars().all(|c| !is_forbidden_char(c)),
            "raw control in {text:?}"
        );
        assert!(text.contains("\\u009b"), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).expect("parses");
        assert_eq!(back["name"], name);
    }
}
