//! The one sanitiser for every string that comes from a mail or a server.
//!
//! Terminal output must never carry control characters, escape sequences or
//! bidirectional overrides from untrusted input: they can rewrite the screen,
//! set the clipboard (OSC 52), forge hyperlinks (OSC 8) or visually reorder
//! text. Everything shown to the user goes through [`sanitize_text`] (multi
//! line) or [`sanitize_line`] (single line).

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Tab stops are every 8 columns.
const TAB_WIDTH: usize = 8;

/// Returns true for characters that must never reach the terminal.
///
/// This covers C0 controls (all of them, including `\n` and `\t`: callers
/// that keep those handle them before asking), DEL, C1 controls and the
/// bidirectional formatting characters.
pub fn is_forbidden_char(c: char) -> bool {
    let u = c as u32;
    u < 0x20 || u == 0x7f || (0x80..=0x9f).contains(&u) || is_bidi_control(c)
}

/// Bidirectional embedding, override, isolate and mark characters.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Text,
    Line,
}

/// Sanitises a multi-line string: keeps `\n`, expands `\t` to the next
/// multiple of 8 columns, drops `\r`, and removes every control character,
/// escape sequence (with its payload) and bidi control.
pub fn sanitize_text(s: &str) -> String {
    strip(s, Mode::Text)
}

/// Sanitises a single-line string: like [`sanitize_text`], but newlines and
/// tabs become spaces, runs of whitespace collapse to one space and the
/// result is trimmed.
pub fn sanitize_line(s: &str) -> String {
    if is_clean(s, Mode::Line) && is_collapsed(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    collapse_into(s, usize::MAX, &mut out);
    out
}

/// [`sanitize_line`] cut to at most `max_chars` characters: when more would
/// follow, the kept part loses its trailing space and ends in `…`. Only
/// reads as much of `s` as the kept characters need.
pub fn sanitize_line_cut(s: &str, max_chars: usize) -> String {
    match cut(s, max_chars) {
        Ok(cut) => cut,
        Err(whole) => whole,
    }
}

/// Like [`sanitize_line_cut`], but `None` when `s` ends before more than
/// `max_chars` characters were seen: the cut of a longer text that starts
/// with `s` may then differ, so the caller reads on.
pub(crate) fn sanitize_line_cut_if_long(s: &str, max_chars: usize) -> Option<String> {
    cut(s, max_chars).ok()
}

/// `Ok(cut line)` when more than `max_chars` characters follow, else
/// `Err(the whole line)`.
fn cut(s: &str, max_chars: usize) -> Result<String, String> {
    let mut out = String::new();
    if !collapse_into(s, max_chars.saturating_add(1), &mut out) {
        return Err(out);
    }
    out.pop();
    out.truncate(out.trim_end().len());
    out.push('…');
    Ok(out)
}

/// The line-mode sanitiser appended to `out`, stopping once `out` holds
/// `limit` characters (returns true when it stopped there). What it kept is
/// always the start of what [`sanitize_line`] gives for the whole of `s`.
fn collapse_into(s: &str, limit: usize, out: &mut String) -> bool {
    let mut pending_space = false;
    let mut count = 0usize;
    let mut full = false;
    strip_each(s, Mode::Line, |c| {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            return true;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
            count += 1;
            if count >= limit {
                full = true;
                return false;
            }
        }
        out.push(c);
        count += 1;
        full = count >= limit;
        !full
    });
    full
}

/// Whether [`strip`] would give `s` back unchanged: a byte scan for the
/// first byte of anything it removes or rewrites (C0 and C1 controls, DEL,
/// tabs, U+2028/U+2029, bidi controls; newlines in line mode).
fn is_clean(s: &str, mode: Mode) -> bool {
    let b = s.as_bytes();
    let mut i = 0usize;
    while i < b.len() {
        let c = b[i];
        i += 1;
        if (0x20..0x7f).contains(&c) {
            continue;
        }
        let dirty = match c {
            b'\n' => mode == Mode::Line,
            // C1 controls U+0080..U+009F.
            0xc2 => matches!(b.get(i), Some(0x80..=0x9f)),
            // U+061C arabic letter mark.
            0xd8 => b.get(i) == Some(&0x9c),
            // U+200E/F, U+2028/9, U+202A..E, U+2066..9.
            0xe2 => matches!(
                (b.get(i), b.get(i + 1)),
                (Some(0x80), Some(0x8e | 0x8f | 0xa8..=0xae)) | (Some(0x81), Some(0xa6..=0xa9))
            ),
            // Any other byte of a multi-byte character.
            0x80.. => false,
            // The other C0 controls and DEL.
            _ => true,
        };
        if dirty {
            return false;
        }
    }
    true
}

/// Whether a clean line is already collapsed: no whitespace but single
/// inner spaces.
fn is_collapsed(s: &str) -> bool {
    let b = s.as_bytes();
    if b.first() == Some(&b' ')
        || b.last() == Some(&b' ')
        || memchr::memmem::find(b, b"  ").is_some()
    {
        return false;
    }
    s.is_ascii() || !s.chars().any(|c| c != ' ' && c.is_whitespace())
}

/// The character starting at byte `i` of `s`, if any.
fn at(s: &str, i: usize) -> Option<char> {
    s.get(i..)?.chars().next()
}

/// Core state machine shared by both modes, with a fast path for text that
/// has nothing to strip.
fn strip(s: &str, mode: Mode) -> String {
    if is_clean(s, mode) {
        return s.to_string();
    }
    strip_full(s, mode)
}

/// The state machine without the fast path.
fn strip_full(s: &str, mode: Mode) -> String {
    let mut out = String::with_capacity(s.len());
    strip_each(s, mode, |c| {
        out.push(c);
        true
    });
    out
}

/// Walks `s` and hands each kept character to `keep` until it returns
/// false. Walks byte offsets rather than a collected `Vec<char>`, which
/// would take four times the text's size.
fn strip_each(s: &str, mode: Mode, mut keep: impl FnMut(char) -> bool) {
    // Only text mode needs the column, for tab stops.
    let mut col = 0usize;
    let mut i = 0usize;
    while let Some(c) = at(s, i) {
        let next = i + c.len_utf8();
        let go_on = match c {
            '\n' | '\u{2028}' | '\u{2029}' => {
                col = 0;
                i = next;
                match mode {
                    Mode::Text => keep('\n'),
                    Mode::Line => keep(' '),
                }
            }
            '\t' => {
                i = next;
                match mode {
                    Mode::Text => {
                        let n = TAB_WIDTH - (col % TAB_WIDTH);
                        col += n;
                        (0..n).all(|_| keep(' '))
                    }
                    Mode::Line => keep(' '),
                }
            }
            '\u{1b}' => {
                i = skip_escape(s, next);
                true
            }
            '\u{9b}' => {
                i = skip_csi(s, next);
                true
            }
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => {
                i = skip_string(s, next);
                true
            }
            c if is_forbidden_char(c) => {
                i = next;
                true
            }
            c => {
                if mode == Mode::Text {
                    col += c.width().unwrap_or(0);
                }
                i = next;
                keep(c)
            }
        };
        if !go_on {
            return;
        }
    }
}

/// Skips an escape sequence whose ESC is just before byte `i`; returns the
/// byte offset of the first character after it.
fn skip_escape(s: &str, i: usize) -> usize {
    let Some(next) = at(s, i) else {
        return i;
    };
    match next {
        '[' => skip_csi(s, i + 1),
        ']' | 'P' | 'X' | '^' | '_' => skip_string(s, i + 1),
        // nF sequences: intermediates then one final byte (e.g. `ESC ( B`).
        '\u{20}'..='\u{2f}' => {
            let mut j = i;
            while let Some(c) = at(s, j) {
                if ('\u{20}'..='\u{2f}').contains(&c) {
                    j += 1;
                } else {
                    break;
                }
            }
            match at(s, j) {
                Some(c) if ('\u{30}'..='\u{7e}').contains(&c) => j + 1,
                _ => j,
            }
        }
        // Two-character sequences (Fp, Fe, Fs).
        '\u{30}'..='\u{7e}' => i + 1,
        // A lone ESC: drop only the ESC.
        _ => i,
    }
}

/// Skips a CSI sequence body starting at byte `i` (just after `ESC [` or U+009B).
fn skip_csi(s: &str, i: usize) -> usize {
    let mut j = i;
    while let Some(c) = at(s, j) {
        match c {
            // Parameter and intermediate bytes.
            '\u{20}'..='\u{3f}' => j += 1,
            // Final byte ends the sequence.
            '\u{40}'..='\u{7e}' => return j + 1,
            // Anything else aborts the sequence; it is handled normally.
            _ => return j,
        }
    }
    j
}

/// Skips a string sequence payload (OSC, DCS, SOS, PM, APC) starting at byte `i`.
///
/// It ends at BEL, ST (`ESC \` or U+009C) or, when unterminated, at a line
/// break (kept) so that a stray introducer cannot swallow the whole mail.
/// Another escape introducer also ends it and is processed normally.
fn skip_string(s: &str, i: usize) -> usize {
    let mut j = i;
    while let Some(c) = at(s, j) {
        match c {
            '\u{7}' | '\u{9c}' => return j + c.len_utf8(),
            '\u{1b}' => {
                if at(s, j + 1) == Some('\\') {
                    return j + 2;
                }
                return j;
            }
            '\n' | '\r' => return j,
            _ => j += c.len_utf8(),
        }
    }
    j
}

/// Display width in terminal columns.
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Truncates `s` to at most `w` columns, appending `…` when anything was cut.
/// Never splits a grapheme cluster.
pub fn truncate_to_width(s: &str, w: usize) -> String {
    if display_width(s) <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let budget = w - 1;
    let mut out = String::new();
    let mut used = 0usize;
    for g in s.graphemes(true) {
        let gw = display_width(g);
        if used + gw > budget {
            break;
        }
        out.push_str(g);
        used += gw;
    }
    out.push('…');
    out
}

/// Word-wraps one line (without `\n`) to `width` columns. Words longer than
/// the width are split between grapheme clusters. A width of 0 disables
/// wrapping. Always returns at least one (possibly empty) line.
pub fn wrap_line(s: &str, width: usize) -> Vec<String> {
    if width == 0 || display_width(s) <= width {
        return vec![s.to_string()];
    }
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0usize;
    for word in s.split_word_bounds() {
        let ww = display_width(word);
        let is_space = word.chars().all(char::is_whitespace);
        if cur_w + ww <= width {
            cur.push_str(word);
            cur_w += ww;
            continue;
        }
        if is_space {
            // Break here; the whitespace is consumed by the line break.
            lines.push(std::mem::take(&mut cur).trim_end().to_string());
            cur_w = 0;
            continue;
        }
        if ww <= width {
            lines.push(std::mem::take(&mut cur).trim_end().to_string());
            cur.push_str(word);
            cur_w = ww;
            continue;
        }
        // A long word: hard-split by graphemes.
        for g in word.graphemes(true) {
            let gw = display_width(g);
            if cur_w + gw > width && !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
                cur_w = 0;
            }
            cur.push_str(g);
            cur_w += gw;
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn clean(s: &str) -> bool {
        s.chars()
            .all(|c| c == '\n' || c == '\t' || !is_forbidden_char(c))
    }

    #[test]
    fn strips_csi_and_keeps_text() {
        assert_eq!(sanitize_text("a\u{1b}[31mred\u{1b}[0m b"), "ared b");
        assert_eq!(sanitize_text("x\u{1b}[?1049hy"), "xy");
        assert_eq!(sanitize_text("x\u{9b}2Jy"), "xy");
    }

    #[test]
    fn strips_osc_with_payload() {
        // OSC 52 clipboard write, BEL terminated.
        assert_eq!(sanitize_text("a\u{1b}]52;c;ZXZpbA==\u{7}b"), "ab");
        // OSC 8 hyperlink, ST terminated.
        assert_eq!(
            sanitize_text("\u{1b}]8;;http://evil\u{1b}\\click\u{1b}]8;;\u{1b}\\"),
            "click"
        );
        // OSC 0 title.
        assert_eq!(sanitize_text("\u{1b}]0;pwned\u{7}ok"), "ok");
        // 8-bit OSC with 8-bit ST.
        assert_eq!(sanitize_text("a\u{9d}0;t\u{9c}b"), "ab");
    }

    #[test]
    fn strips_dcs_apc_pm_sos() {
        assert_eq!(sanitize_text("a\u{1b}Pq#0;1\u{1b}\\b"), "ab");
        assert_eq!(sanitize_text("a\u{1b}_apc\u{1b}\\b"), "ab");
        assert_eq!(sanitize_text("a\u{1b}^pm\u{1b}\\b"), "ab");
        assert_eq!(sanitize_text("a\u{1b}Xsos\u{1b}\\b"), "ab");
    }

    #[test]
    fn strips_two_char_and_charset_designations() {
        assert_eq!(sanitize_text("a\u{1b}cb"), "ab");
        assert_eq!(sanitize_text("a\u{1b}(Bb\u{1b}$Bc"), "abc");
        assert_eq!(sanitize_text("a\u{1b}"), "a");
    }

    #[test]
    fn unterminated_osc_stops_at_newline() {
        assert_eq!(sanitize_text("a\u{1b}]52;c;xxx\nnext"), "a\nnext");
    }

    #[test]
    fn controls_and_bidi_removed() {
        assert_eq!(
            sanitize_text("a\u{0}b\u{7f}c\u{85}d\u{202e}e\u{2066}f\u{200f}g\u{61c}h"),
            "abcdefgh"
        );
    }

    #[test]
    fn tabs_and_cr() {
        assert_eq!(sanitize_text("ab\tc\r\n\td"), "ab      c\n        d");
        assert_eq!(sanitize_text("日本\tx"), "日本    x");
    }

    #[test]
    fn line_mode_collapses() {
        assert_eq!(
            sanitize_line("  Re:\tHello\r\n   world  "),
            "Re: Hello world"
        );
        assert_eq!(sanitize_line("a\u{1b}[2Jb"), "ab");
    }

    #[test]
    fn keeps_cjk_and_emoji() {
        let s = "日本語のメール 👩‍👩‍👧 Привет";
        assert_eq!(sanitize_text(s), s);
        assert_eq!(sanitize_line(s), s);
    }

    #[test]
    fn width_and_truncate() {
        assert_eq!(display_width("日本"), 4);
        assert_eq!(truncate_to_width("hello", 5), "hello");
        assert_eq!(truncate_to_width("hello world", 6), "hello…");
        assert_eq!(truncate_to_width("日本語", 4), "日…");
        assert_eq!(truncate_to_width("日本語", 0), "");
        // Family emoji is one grapheme: it is kept whole or dropped whole.
        let fam = "👩‍👩‍👧x";
        let t = truncate_to_width(&format!("{fam}{fam}"), 3);
        assert!(t == "👩‍👩‍👧…" || t == "…", "{t}");
    }

    #[test]
    fn wrap_basic() {
        assert_eq!(wrap_line("aaa bbb ccc", 7), vec!["aaa bbb", "ccc"]);
        assert_eq!(wrap_line("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap_line("", 4), vec![""]);
        assert_eq!(wrap_line("日本語日本語", 4), vec!["日本", "語日", "本語"]);
    }

    /// The line sanitiser as it was before its fast path and streaming
    /// collapse: the reference the proptests hold it to.
    fn line_reference(s: &str) -> String {
        let stripped = strip_full(s, Mode::Line);
        let mut out = String::new();
        let mut pending_space = false;
        for c in stripped.chars() {
            if c.is_whitespace() {
                pending_space = !out.is_empty();
            } else {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(c);
            }
        }
        out
    }

    /// How previews were cut before `sanitize_line_cut`.
    fn cut_reference(s: &str, max: usize) -> String {
        let line = line_reference(s);
        match line.char_indices().nth(max) {
            Some((i, _)) => format!("{}…", line[..i].trim_end()),
            None => line,
        }
    }

    /// Mostly ordinary text with everything the sanitiser treats specially
    /// mixed in, so that both the fast and the full path are taken.
    fn mixed_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                8 => "[a-zA-Z0-9 .,:;<>@=?-]{0,12}",
                2 => Just("Привет мир ".to_string()),
                2 => Just("日本語 «quoted» “smart” – … € 👩‍👩‍👧".to_string()),
                1 => Just(" ".to_string()),
                1 => Just("  ".to_string()),
                1 => Just("\n".to_string()),
                1 => Just("\r\n".to_string()),
                1 => Just("\t".to_string()),
                1 => Just("\u{1b}[31m".to_string()),
                1 => Just("\u{1b}]8;;x\u{7}".to_string()),
                1 => Just("\u{85}\u{9b}\u{9c}\u{9d}".to_string()),
                1 => Just("\u{a0}\u{1680}\u{2000}\u{200a}\u{202f}\u{205f}\u{3000}".to_string()),
                1 => Just("\u{2028}\u{2029}".to_string()),
                1 => Just("\u{200e}\u{200f}\u{202a}\u{202e}\u{2066}\u{2069}\u{61c}".to_string()),
                1 => Just("\u{200b}\u{200d}\u{2060}\u{2070}\u{2030}\u{20ac}\u{0600}\u{061b}".to_string()),
                1 => Just("\u{7f}\u{0}\u{b}\u{c}".to_string()),
                1 => any::<char>().prop_map(|c| c.to_string()),
            ],
            0..30,
        )
        .prop_map(|parts| parts.concat())
    }

    #[test]
    fn a_preview_cut_keeps_at_most_the_limit_and_marks_the_cut() {
        assert_eq!(sanitize_line_cut("  a  b\tc ", 10), "a b c");
        assert_eq!(sanitize_line_cut("abc def", 4), "abc…");
        assert_eq!(sanitize_line_cut("abc def", 3), "abc…");
        assert_eq!(sanitize_line_cut("abc", 3), "abc");
        assert_eq!(sanitize_line_cut("a\u{1b}]52;c;x\u{7}bc", 2), "ab…");
        assert_eq!(sanitize_line_cut_if_long("abc", 3), None);
        assert_eq!(
            sanitize_line_cut_if_long("abcd", 3).as_deref(),
            Some("abc…")
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_fast_path_and_the_full_path_agree(s in mixed_text()) {
            for mode in [Mode::Text, Mode::Line] {
                prop_assert_eq!(strip(&s, mode), strip_full(&s, mode));
                if is_clean(&s, mode) {
                    prop_assert_eq!(strip_full(&s, mode), s.clone());
                }
            }
            prop_assert_eq!(sanitize_line(&s), line_reference(&s));
        }

        #[test]
        fn the_fast_path_and_the_full_path_agree_on_any_string(s in any::<String>()) {
            prop_assert_eq!(strip(&s, Mode::Text), strip_full(&s, Mode::Text));
            prop_assert_eq!(sanitize_line(&s), line_reference(&s));
        }

        #[test]
        fn a_cut_reads_the_same_as_cutting_the_whole_line(s in mixed_text(), max in 0usize..40) {
            prop_assert_eq!(sanitize_line_cut(&s, max), cut_reference(&s, max));
        }

        #[test]
        fn a_cut_taken_early_from_a_prefix_is_the_cut_of_the_whole(
            s in mixed_text(),
            max in 0usize..20,
            at in 0usize..400,
        ) {
            let mut end = at.min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            if let Some(early) = sanitize_line_cut_if_long(&s[..end], max) {
                prop_assert_eq!(early, cut_reference(&s, max));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_emits_forbidden(s in any::<String>()) {
            let t = sanitize_text(&s);
            prop_assert!(clean(&t));
            prop_assert!(!t.contains('\t'));
            prop_assert!(!t.contains('\r'));
            let l = sanitize_line(&s);
            prop_assert!(clean(&l));
            prop_assert!(!l.contains('\n') && !l.contains('\t'));
        }

        #[test]
        fn never_emits_forbidden_hostile(parts in proptest::collection::vec(
            prop_oneof![
                Just("\u{1b}".to_string()),
                Just("\u{1b}[".to_string()),
                Just("\u{1b}]52;c;".to_string()),
                Just("\u{9b}".to_string()),
                Just("\u{9d}".to_string()),
                Just("\u{7}".to_string()),
                Just("\u{1b}\\".to_string()),
                Just("\u{202e}".to_string()),
                Just("\r\n".to_string()),
                Just("\t".to_string()),
                "[a-z0-9;:?]{0,4}",
                any::<char>().prop_map(|c| c.to_string()),
            ], 0..40)) {
            let s: String = parts.concat();
            prop_assert!(clean(&sanitize_text(&s)));
            prop_assert!(clean(&sanitize_line(&s)));
        }

        #[test]
        fn truncate_respects_width(s in "\\PC{0,40}", w in 0usize..30) {
            let t = truncate_to_width(&s, w);
            prop_assert!(display_width(&t) <= w);
        }

        #[test]
        fn sanitize_is_idempotent(s in any::<String>()) {
            let t = sanitize_text(&s);
            prop_assert_eq!(sanitize_text(&t), t.clone());
            let l = sanitize_line(&s);
            prop_assert_eq!(sanitize_line(&l), l.clone());
        }
    }
}
