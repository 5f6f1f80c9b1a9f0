//! Terminal-safe rendering of a mail: headers, body lines, attachments and
//! links. Nothing remote is ever fetched; every string in the output has
//! been through the sanitiser.

use chrono::{FixedOffset, Local, TimeZone};
use mail_parser::{HeaderValue, Message, MessagePart, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

use super::mime;
use super::parse::{Address, headers_of};
use super::sanitize::{display_width, sanitize_line, sanitize_text, wrap_line};

/// How to render a mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderOptions {
    /// Show every header (raw, unfolded, sanitised) instead of the summary.
    pub all_headers: bool,
    /// Show quoted text; when false each run of quoted lines is folded into
    /// one [`LineKind::QuoteFolded`] line.
    pub show_quotes: bool,
    /// Wrap width in columns; 0 disables wrapping of plain text.
    pub width: usize,
    /// Time zone offset for the Date header in seconds east of UTC; `None`
    /// uses the local time zone.
    pub tz_offset_secs: Option<i32>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            all_headers: false,
            show_quotes: false,
            width: 80,
            tz_offset_secs: None,
        }
    }
}

/// What a rendered line is, for styling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineKind {
    Body,
    Quote,
    /// A folded run of quoted lines; the number of hidden lines.
    QuoteFolded(usize),
    Signature,
    /// An entry of the numbered link list at the end.
    LinkRef,
    /// Said by deskmail about the mail, e.g. why HTML is shown as text.
    Notice,
}

/// One display line (no `\n` inside, sanitised).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedLine {
    pub kind: LineKind,
    pub text: String,
}

/// One attachment. `index` is 1-based: the number shown to the user and
/// accepted by [`super::attachments::save_attachment`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentInfo {
    pub index: usize,
    /// Display name, sanitised (use `safe_filename` before writing to disk).
    pub name: String,
    /// `type/subtype`, lowercased and sanitised.
    pub mime: String,
    /// Decoded size in bytes.
    pub size: usize,
}

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RenderedMail {
    /// `(name, value)` pairs: From, To, Cc, Date, Subject (or all headers).
    pub headers: Vec<(String, String)>,
    pub lines: Vec<RenderedLine>,
    pub attachments: Vec<AttachmentInfo>,
    /// Link targets; `links[n - 1]` is the target of marker `[n]`.
    pub links: Vec<String>,
}

/// Renders a raw message. Never panics on malformed input.
pub fn render(raw: &[u8], opts: &RenderOptions) -> RenderedMail {
    render_cancellable(raw, opts, &AtomicBool::new(false)).unwrap_or_default()
}

/// [`render`] that stops early, returning `None`, once `cancel` is set.
pub fn render_cancellable(
    raw: &[u8],
    opts: &RenderOptions,
    cancel: &AtomicBool,
) -> Option<RenderedMail> {
    let out = render_inner(raw, opts, cancel);
    (!cancel.load(Ordering::Relaxed)).then_some(out)
}

fn render_inner(raw: &[u8], opts: &RenderOptions, cancel: &AtomicBool) -> RenderedMail {
    let prepared = mime::prepare(raw);
    let Some(msg) = mime::parse(&prepared) else {
        let mut out = RenderedMail::default();
        let text = sanitize_text(&String::from_utf8_lossy(raw));
        push_plain(&mut out.lines, &text, false, false, opts);
        return out;
    };
    let mut out = RenderedMail {
        headers: render_headers(&msg, opts),
        ..RenderedMail::default()
    };
    render_body(&msg, &msg.text_body, opts, &mut out, cancel);
    // An empty text alternative (common in newsletters): use the HTML one.
    if out.lines.iter().all(|l| l.text.trim().is_empty()) && msg.html_body != msg.text_body {
        out.lines.clear();
        out.links.clear();
        render_body(&msg, &msg.html_body, opts, &mut out, cancel);
    }
    while out.lines.last().is_some_and(|l| l.text.trim().is_empty()) {
        out.lines.pop();
    }
    if !out.links.is_empty() {
        out.lines.push(blank());
        for (i, url) in out.links.iter().enumerate() {
            out.lines.push(RenderedLine {
                kind: LineKind::LinkRef,
                text: format!("[{}] {url}", i + 1),
            });
        }
    }
    out.attachments = attachment_infos(&msg);
    out
}

/// Renders the listed body parts into `out`, separated by blank lines.
fn render_body(
    msg: &Message<'_>,
    ids: &[u32],
    opts: &RenderOptions,
    out: &mut RenderedMail,
    cancel: &AtomicBool,
) {
    let mut first = true;
    for &id in ids {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let Some(part) = msg.parts.get(id as usize) else {
            continue;
        };
        let Some((text, is_html)) = mime::part_text(msg, part) else {
            continue;
        };
        if !first {
            out.lines.push(blank());
        }
        first = false;
        if is_html {
            // Strip raw escape sequences from the source first, so that no
            // payload survives as visible debris.
            let html = sanitize_text(&text);
            let (lines, links, note) = html_lines(&html, opts.width, out.links.len(), cancel);
            if let Some(text) = note {
                out.lines.push(RenderedLine {
                    kind: LineKind::Notice,
                    text,
                });
            }
            out.links.extend(links);
            let text = lines.join("\n");
            push_plain(&mut out.lines, &text, false, true, opts);
        } else {
            let (flowed, delsp) = flowed_params(part);
            if flowed {
                let text = unflow(&sanitize_text(&text), delsp);
                push_plain(&mut out.lines, &text, true, false, opts);
            } else {
                // Line by line: no second whole copy of a huge mail. The
                // sanitiser ends every sequence at a line break, so the
                // result is the same as for the whole text.
                let lines = text.split('\n').flat_map(|l| {
                    let clean = sanitize_text(l);
                    if clean.contains('\n') {
                        clean.split('\n').map(str::to_string).collect()
                    } else {
                        vec![clean]
                    }
                });
                push_lines(&mut out.lines, lines, true, false, opts);
            }
        }
    }
}

fn blank() -> RenderedLine {
    RenderedLine {
        kind: LineKind::Body,
        text: String::new(),
    }
}

/// The raw source, lossily decoded as UTF-8 and sanitised.
pub fn raw_source(raw: &[u8]) -> String {
    sanitize_text(&String::from_utf8_lossy(raw))
}

/// The options of `deskmail render FILE.eml`: local time, quotes shown.
pub fn text_options() -> RenderOptions {
    RenderOptions {
        show_quotes: true,
        ..RenderOptions::default()
    }
}

/// What `deskmail render FILE.eml` prints, with local time and quotes shown.
pub fn render_to_text(raw: &[u8]) -> String {
    render_to_text_with(raw, &text_options())
}

/// [`render_to_text`] with explicit options.
pub fn render_to_text_with(raw: &[u8], opts: &RenderOptions) -> String {
    let mut s = String::new();
    write_text(&render(raw, opts), |piece| s.push_str(piece));
    s
}

/// A rendered mail as text, handed to `put` a piece at a time, so that a
/// huge mail can be printed without a second whole copy of it.
pub fn write_text(mail: &RenderedMail, mut put: impl FnMut(&str)) {
    for (name, value) in &mail.headers {
        put(name);
        put(": ");
        put(value);
        put("\n");
    }
    put("\n");
    for line in &mail.lines {
        put(&line.text);
        put("\n");
    }
    if !mail.attachments.is_empty() {
        put("\nAttachments:\n");
        for a in &mail.attachments {
            put(&format!(
                "  [{}] {} ({}, {})\n",
                a.index,
                a.name,
                a.mime,
                human_size(a.size)
            ));
        }
    }
}

/// `512 B`, `12.3 KB`, `4.0 MB`.
pub fn human_size(n: usize) -> String {
    const KB: f64 = 1024.0;
    let f = n as f64;
    if f < KB {
        format!("{n} B")
    } else if f < KB * KB {
        format!("{:.1} KB", f / KB)
    } else if f < KB * KB * KB {
        format!("{:.1} MB", f / (KB * KB))
    } else {
        format!("{:.1} GB", f / (KB * KB * KB))
    }
}

/// Formats Unix seconds as `2026-11-25 14:03` in the given or local zone.
pub fn format_date(ts: i64, tz_offset_secs: Option<i32>) -> String {
    const FMT: &str = "%Y-%m-%d %H:%M";
    match tz_offset_secs.and_then(FixedOffset::east_opt) {
        Some(tz) => tz
            .timestamp_opt(ts, 0)
            .single()
            .map(|d| d.format(FMT).to_string()),
        None => Local
            .timestamp_opt(ts, 0)
            .single()
            .map(|d| d.format(FMT).to_string()),
    }
    .unwrap_or_default()
}

fn join_addresses(list: &[Address]) -> String {
    list.iter()
        .map(Address::display)
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_headers(msg: &Message<'_>, opts: &RenderOptions) -> Vec<(String, String)> {
    if opts.all_headers {
        return msg
            .root_part()
            .headers()
            .iter()
            .map(|h| (sanitize_line(h.name.as_str()), header_value(msg, h)))
            .collect();
    }
    let h = headers_of(msg);
    let mut out = vec![("From".to_string(), join_addresses(&h.from))];
    if !h.to.is_empty() {
        out.push(("To".to_string(), join_addresses(&h.to)));
    }
    if !h.cc.is_empty() {
        out.push(("Cc".to_string(), join_addresses(&h.cc)));
    }
    if let Some(ts) = h.date {
        out.push(("Date".to_string(), format_date(ts, opts.tz_offset_secs)));
    }
    out.push(("Subject".to_string(), h.subject));
    out
}

/// A header value for the all-headers view: decoded for encoded words and
/// addresses, raw (unfolded) for everything else.
fn header_value(msg: &Message<'_>, h: &mail_parser::Header<'_>) -> String {
    let start = usize::try_from(h.offset_start).unwrap_or(usize::MAX);
    let end = usize::try_from(h.offset_end).unwrap_or(0);
    let raw = msg
        .raw_message
        .get(start..end)
        .map(|b| String::from_utf8_lossy(b))
        .unwrap_or_default();
    match &h.value {
        HeaderValue::Text(t) if raw.contains("=?") => sanitize_line(t),
        HeaderValue::Address(a) => {
            let list: Vec<Address> = a
                .iter()
                .map(|x| Address {
                    name: x
                        .name
                        .as_deref()
                        .map(sanitize_line)
                        .filter(|n| !n.is_empty()),
                    email: x.address.as_deref().map(sanitize_line).unwrap_or_default(),
                })
                .collect();
            join_addresses(&list)
        }
        _ => sanitize_line(&raw),
    }
}

fn flowed_params(part: &MessagePart<'_>) -> (bool, bool) {
    let Some(ct) = part.content_type() else {
        return (false, false);
    };
    let is = |name: &str, value: &str| {
        ct.attribute(name)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
    };
    (is("format", "flowed"), is("delsp", "yes"))
}

/// Decodes RFC 3676 format=flowed text into logical lines: flowed lines
/// (ending in a space) are joined with the next line of the same quote
/// depth, space-stuffing is undone and, with DelSp=yes, the trailing space
/// of flowed lines is deleted. Quote marks are re-emitted as `> `.
pub fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    // The paragraph being collected: (quote depth, text).
    let mut para: Option<(usize, String)> = None;
    let flush = |out: &mut String, depth: usize, body: &str| {
        for _ in 0..depth {
            out.push('>');
        }
        if depth > 0 && !body.is_empty() {
            out.push(' ');
        }
        out.push_str(body);
        out.push('\n');
    };
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        let depth = line.bytes().take_while(|&b| b == b'>').count();
        let mut body = &line[depth..];
        if let Some(rest) = body.strip_prefix(' ') {
            body = rest;
        }
        let is_sig = body == "-- ";
        let flowed = !is_sig && body.ends_with(' ');
        let piece = if flowed && delsp {
            &body[..body.len() - 1]
        } else {
            body
        };
        match para.take() {
            Some((d, mut acc)) if d == depth => {
                acc.push_str(piece);
                if flowed {
                    para = Some((d, acc));
                } else {
                    flush(&mut out, d, &acc);
                }
                continue;
            }
            Some((d, acc)) => flush(&mut out, d, &acc),
            None => {}
        }
        if flowed {
            para = Some((depth, piece.to_string()));
        } else {
            flush(&mut out, depth, piece);
        }
    }
    if let Some((d, acc)) = para {
        flush(&mut out, d, &acc);
    }
    if !text.ends_with('\n') {
        out.pop();
    }
    out
}

/// Splits a line into its quote prefix (`>`, `> >`, …) and the rest.
fn quote_prefix(line: &str) -> (&str, &str) {
    let mut end = 0usize;
    let mut seen = false;
    for (i, c) in line.char_indices() {
        match c {
            '>' => {
                seen = true;
                end = i + 1;
            }
            ' ' if seen => end = i + 1,
            ' ' => {}
            _ => break,
        }
        if i > 64 {
            break;
        }
    }
    if seen { line.split_at(end) } else { ("", line) }
}

/// Classifies, wraps and (optionally) folds sanitised text into lines.
fn push_plain(
    out: &mut Vec<RenderedLine>,
    text: &str,
    wrap: bool,
    prewrapped: bool,
    opts: &RenderOptions,
) {
    push_lines(out, text.split('\n'), wrap, prewrapped, opts);
}

/// [`push_plain`] over lines already split at `\n`.
fn push_lines<S: AsRef<str>>(
    out: &mut Vec<RenderedLine>,
    lines: impl Iterator<Item = S>,
    wrap: bool,
    prewrapped: bool,
    opts: &RenderOptions,
) {
    let mut in_sig = false;
    let mut quote_run: Vec<RenderedLine> = Vec::new();
    let mut quote_src = 0usize;
    let fold = |out: &mut Vec<RenderedLine>, run: &mut Vec<RenderedLine>, src: &mut usize| {
        if run.is_empty() {
            return;
        }
        if opts.show_quotes {
            out.append(run);
        } else {
            let n = *src;
            let noun = if n == 1 { "line" } else { "lines" };
            out.push(RenderedLine {
                kind: LineKind::QuoteFolded(n),
                text: format!("[… {n} quoted {noun}]"),
            });
            run.clear();
        }
        *src = 0;
    };
    let width = if wrap && !prewrapped { opts.width } else { 0 };
    for line in lines {
        let line = line.as_ref().trim_end_matches(['\r']);
        if !in_sig && (line == "-- " || line == "--") {
            fold(out, &mut quote_run, &mut quote_src);
            in_sig = true;
        }
        if in_sig {
            for piece in wrap_line(line, width) {
                out.push(RenderedLine {
                    kind: LineKind::Signature,
                    text: piece,
                });
            }
            continue;
        }
        let (prefix, rest) = quote_prefix(line);
        if !prefix.is_empty() {
            quote_src += 1;
            let inner = width.saturating_sub(display_width(prefix)).max(10);
            let inner = if width == 0 { 0 } else { inner };
            for piece in wrap_line(rest, inner) {
                quote_run.push(RenderedLine {
                    kind: LineKind::Quote,
                    text: format!("{prefix}{piece}"),
                });
            }
            continue;
        }
        fold(out, &mut quote_run, &mut quote_src);
        for piece in wrap_line(line, width) {
            out.push(RenderedLine {
                kind: LineKind::Body,
                text: piece,
            });
        }
    }
    fold(out, &mut quote_run, &mut quote_src);
}

/// URL schemes that are listed as numbered links.
fn allowed_link(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    ["http://", "https://", "mailto:", "ftp://"]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// HTML bigger than this is not laid out: shown as plain text instead.
const HTML_MAX_BYTES: usize = 2 << 20;
/// Deeper nesting than this is not laid out (html2text's cost grows with the
/// square of the depth).
const HTML_MAX_DEPTH: usize = 1000;
/// How long the layout may take before the plain-text view is shown.
const HTML_TIME_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// Elements that never hold children in the HTML parser.
const VOID: [&str; 16] = [
    "br", "img", "hr", "meta", "link", "input", "wbr", "area", "base", "col", "embed", "source",
    "track", "param", "keygen", "frame",
];
/// Elements a new start tag of the same name closes (`<li>` ends an open `<li>`).
const SELF_CLOSING_SIBLINGS: [&str; 9] = ["p", "li", "dt", "dd", "option", "tr", "td", "th", "a"];

/// The deepest nesting the HTML parser will build, from a stack of open
/// elements: an end tag closes only an element that is open (stray ones such
/// as `</br>` are ignored, as the parser does). Errs on the deep side.
pub fn open_tag_depth(html: &str) -> usize {
    let bytes = html.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    // How many of each name are open: a stray end tag costs no stack walk.
    let mut open: std::collections::HashMap<String, usize> = Default::default();
    let mut max = 0usize;
    let close_to = |stack: &mut Vec<String>,
                    open: &mut std::collections::HashMap<String, usize>,
                    name: &str| {
        if open.get(name).copied().unwrap_or(0) == 0 {
            return;
        }
        if let Some(at) = stack.iter().rposition(|n| n == name) {
            for gone in stack.drain(at..) {
                if let Some(c) = open.get_mut(&gone) {
                    *c = c.saturating_sub(1);
                }
            }
        }
    };
    let mut i = 0usize;
    let tag_name = |from: usize| -> String {
        bytes
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take(32)
            .take_while(|b| b.is_ascii_alphanumeric())
            .map(|&b| char::from(b.to_ascii_lowercase()))
            .collect()
    };
    while let Some(pos) = bytes
        .get(i..)
        .and_then(|r| r.iter().position(|&b| b == b'<'))
    {
        i += pos + 1;
        if bytes.get(i..).is_some_and(|r| r.starts_with(b"!--")) {
            i = find_from(bytes, i, b"-->").map_or(bytes.len(), |e| e + 3);
            continue;
        }
        match bytes.get(i) {
            Some(b'/') => {
                close_to(&mut stack, &mut open, &tag_name(i + 1));
            }
            Some(b) if b.is_ascii_alphabetic() => {
                let name = tag_name(i);
                if VOID.contains(&name.as_str()) {
                    continue;
                }
                if SELF_CLOSING_SIBLINGS.contains(&name.as_str()) {
                    close_to(&mut stack, &mut open, &name);
                }
                // Their content is text to the parser, tags inside included.
                if matches!(name.as_str(), "script" | "style" | "textarea" | "title") {
                    let close = format!("</{name}");
                    i = find_from_ci(bytes, i, close.as_bytes()).unwrap_or(bytes.len());
                    continue;
                }
                *open.entry(name.clone()).or_default() += 1;
                stack.push(name);
                max = max.max(stack.len());
            }
            _ => {}
        }
    }
    max
}

fn find_from(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn find_from_ci(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

/// Why an HTML part is shown as plain text instead of laid out.
fn html_fallback_reason(html: &str) -> Option<String> {
    if html.len() > HTML_MAX_BYTES {
        return Some(format!("it is {} of HTML", human_size(html.len())));
    }
    let depth = open_tag_depth(html);
    (depth > HTML_MAX_DEPTH).then(|| format!("its HTML is nested {depth} levels deep"))
}

/// Lays HTML out with html2text on its own thread, waiting at most the time
/// budget and giving up as soon as `cancel` is set. `None`: not laid out.
fn html_layout(
    html: &str,
    width: usize,
    cancel: &AtomicBool,
) -> Result<Vec<html2text::render::TaggedLine<Vec<html2text::render::RichAnnotation>>>, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = html.to_string();
    // Detached: html2text cannot be interrupted; the size and depth limits
    // above bound the work a given-up layout still does.
    let spawned = std::thread::Builder::new()
        .name("html-layout".into())
        // html2text recurses over the document tree; give it room.
        .stack_size(256 << 20)
        .spawn(move || {
            let lines = html2text::config::rich()
                .lines_from_read(owned.as_bytes(), width)
                .ok();
            let _ = tx.send(lines);
        });
    if spawned.is_err() {
        return Err("no thread could be started to lay it out".into());
    }
    let started = std::time::Instant::now();
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err("cancelled".into());
        }
        match rx.recv_timeout(std::time::Duration::from_millis(20)) {
            Ok(Some(lines)) => return Ok(lines),
            Ok(None) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err("the HTML could not be laid out".into());
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if started.elapsed() > HTML_TIME_BUDGET {
                    return Err(format!(
                        "laying it out took longer than {} s",
                        HTML_TIME_BUDGET.as_secs()
                    ));
                }
            }
        }
    }
}

/// Renders HTML to sanitised lines, numbering links `[n]` starting after
/// `link_base` existing links. Returns the lines and the new link targets.
fn html_lines(
    html: &str,
    width: usize,
    link_base: usize,
    cancel: &AtomicBool,
) -> (Vec<String>, Vec<String>, Option<String>) {
    let w = if width == 0 { 1000 } else { width.max(20) };
    let laid_out = match html_fallback_reason(html) {
        Some(why) => Err(why),
        None => html_layout(html, w, cancel),
    };
    let tagged = match laid_out {
        Ok(t) => t,
        Err(why) => {
            let text = sanitize_text(&mail_parser::decoders::html::html_to_text(html));
            let lines = text.split('\n').map(str::to_string).collect();
            return (lines, Vec::new(), Some(fallback_note(&why)));
        }
    };
    use html2text::render::{RichAnnotation, TaggedLineElement};
    let mut lines: Vec<String> = Vec::with_capacity(tagged.len());
    let mut links: Vec<String> = Vec::new();
    // The link run in progress: (url, line index of its last text).
    let mut open: Option<(String, usize)> = None;
    let close = |lines: &mut Vec<String>,
                 cur: &mut String,
                 links: &mut Vec<String>,
                 open: &mut Option<(String, usize)>| {
        let Some((url, at)) = open.take() else {
            return;
        };
        if !allowed_link(&url) {
            return;
        }
        let n = match links.iter().position(|l| *l == url) {
            Some(p) => p + 1,
            None => {
                links.push(url);
                links.len()
            }
        };
        let marker = format!("[{}]", link_base + n);
        match lines.get_mut(at) {
            Some(l) => l.push_str(&marker),
            None => cur.push_str(&marker),
        }
    };
    for line in tagged {
        let mut cur = String::new();
        for el in line.iter() {
            let TaggedLineElement::Str(ts) = el else {
                continue;
            };
            let link = ts.tag.iter().find_map(|a| match a {
                RichAnnotation::Link(u) => Some(sanitize_line(u)),
                _ => None,
            });
            let same = matches!((&open, &link), (Some((o, _)), Some(l)) if o == l);
            if !same {
                close(&mut lines, &mut cur, &mut links, &mut open);
                if let Some(l) = link {
                    open = Some((l, lines.len()));
                }
            }
            cur.push_str(&sanitize_text(&ts.s));
            if let Some((_, at)) = open.as_mut() {
                *at = lines.len();
            }
        }
        lines.push(cur);
    }
    let mut tail = String::new();
    close(&mut lines, &mut tail, &mut links, &mut open);
    let lines = lines
        .into_iter()
        .map(|l| l.trim_end().to_string())
        .collect();
    (lines, links, None)
}

/// The line above an HTML part shown as plain text, saying why.
fn fallback_note(why: &str) -> String {
    format!("[Shown as plain text because {why}.]")
}

fn attachment_infos(msg: &Message<'_>) -> Vec<AttachmentInfo> {
    msg.attachments
        .iter()
        .enumerate()
        .filter_map(|(i, &id)| {
            let part = msg.parts.get(id as usize)?;
            Some(attachment_info(i + 1, part))
        })
        .collect()
}

pub(crate) fn attachment_info(index: usize, part: &MessagePart<'_>) -> AttachmentInfo {
    let mime = sanitize_line(&mime::mime_type(part));
    let name = part
        .attachment_name()
        .map(sanitize_line)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| match &part.body {
            PartType::Message(m) => {
                let subject = m.subject().map(sanitize_line).unwrap_or_default();
                if subject.is_empty() {
                    format!("message-{index}.eml")
                } else {
                    format!("{subject}.eml")
                }
            }
            _ => format!("attachment-{index}{}", default_extension(&mime)),
        });
    AttachmentInfo {
        index,
        name,
        mime,
        size: part.len(),
    }
}

fn default_extension(mime: &str) -> &'static str {
    match mime {
        "text/plain" => ".txt",
        "text/html" => ".html",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "application/pdf" => ".pdf",
        "message/rfc822" => ".eml",
        _ => ".bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> RenderOptions {
        RenderOptions {
            tz_offset_secs: Some(0),
            show_quotes: true,
            ..RenderOptions::default()
        }
    }

    fn texts(m: &RenderedMail) -> Vec<&str> {
        m.lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn unflow_joins_and_unstuffs() {
        let t = "Hello \r\nworld\r\n From here\r\n> quoted \r\n> more\r\n-- \r\nsig";
        let t = sanitize_text(t);
        assert_eq!(
            unflow(&t, false),
            "Hello world\nFrom here\n> quoted more\n-- \nsig"
        );
        assert_eq!(unflow("ab \ncd\n", true), "abcd\n");
    }

    #[test]
    fn plain_quotes_signature_and_headers() {
        let raw = b"From: Alice <a@x.org>\r\nTo: b@y.org\r\nSubject: Hi\r\n\
Date: Wed, 25 Nov 2026 14:03:00 +0000\r\n\r\n\
On Monday Bob wrote:\r\n> one\r\n> two\r\n>> three\r\nreply\r\n-- \r\nAlice\r\n";
        let m = render(raw, &opts());
        assert_eq!(
            m.headers,
            vec![
                ("From".into(), "Alice <a@x.org>".into()),
                ("To".into(), "b@y.org".into()),
                ("Date".into(), "2026-11-25 14:03".into()),
                ("Subject".into(), "Hi".into()),
            ]
        );
        let kinds: Vec<LineKind> = m.lines.iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            vec![
                LineKind::Body,
                LineKind::Quote,
                LineKind::Quote,
                LineKind::Quote,
                LineKind::Body,
                LineKind::Signature,
                LineKind::Signature
            ]
        );
        let folded = render(
            raw,
            &RenderOptions {
                show_quotes: false,
                ..opts()
            },
        );
        assert_eq!(
            texts(&folded),
            vec![
                "On Monday Bob wrote:",
                "[… 3 quoted lines]",
                "reply",
                "-- ",
                "Alice"
            ]
        );
        assert_eq!(folded.lines[1].kind, LineKind::QuoteFolded(3));
    }

    #[test]
    fn html_links_are_numbered() {
        let raw = b"Content-Type: text/html; charset=utf-8\r\n\r\n\
<p>See <a href=\"https://example.com/a\">the docs</a> and \
<a href=\"javascript:alert(1)\">this</a> and <a href=\"https://example.com/a\">again</a>.</p>\
<img src=\"https://tracker.example/p.gif\" alt=\"logo\">";
        let m = render(raw, &opts());
        assert_eq!(m.links, vec!["https://example.com/a".to_string()]);
        let all = texts(&m).join("\n");
        assert!(all.contains("the docs[1]"), "{all}");
        assert!(all.contains("again[1]"), "{all}");
        assert!(!all.contains("this["), "{all}");
        assert_eq!(
            m.lines.last().map(|l| (l.kind, l.text.as_str())),
            Some((LineKind::LinkRef, "[1] https://example.com/a"))
        );
    }

    #[test]
    fn wraps_to_width() {
        let raw = b"Subject: w\r\n\r\nalpha beta gamma delta epsilon\r\n> quoted words that wrap around\r\n";
        let m = render(
            raw,
            &RenderOptions {
                width: 12,
                ..opts()
            },
        );
        for l in &m.lines {
            assert!(display_width(&l.text) <= 12, "{:?}", l.text);
        }
        assert!(m.lines.iter().filter(|l| l.kind == LineKind::Quote).count() > 1);
        assert!(
            m.lines
                .iter()
                .filter(|l| l.kind == LineKind::Quote)
                .all(|l| l.text.starts_with("> "))
        );
    }

    #[test]
    fn all_headers_are_decoded_where_textual() {
        let raw = b"Subject: =?UTF-8?B?0J/RgNC40LLQtdGC?=\r\nX-Custom: a\r\n b\r\nFrom: =?UTF-8?Q?J=C3=BCrgen?= <j@x.de>\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n";
        let m = render(
            raw,
            &RenderOptions {
                all_headers: true,
                ..opts()
            },
        );
        assert_eq!(
            m.headers,
            vec![
                ("Subject".into(), "Привет".into()),
                ("X-Custom".into(), "a b".into()),
                ("From".into(), "Jürgen <j@x.de>".into()),
                ("Message-ID".into(), "<m@x>".into()),
            ]
        );
    }

    #[test]
    fn empty_plain_alternative_falls_back_to_html() {
        let raw = b"Content-Type: multipart/alternative; boundary=\"x\"\r\n\r\n--x\r\n\
Content-Type: text/plain\r\n\r\n \r\n--x\r\nContent-Type: text/html\r\n\r\n\
<p>Rich <a href=\"https://e.example/\">text</a></p>\r\n--x--\r\n";
        let m = render(raw, &opts());
        assert_eq!(
            texts(&m),
            vec!["Rich text[1]", "", "[1] https://e.example/"]
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(12_595), "12.3 KB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MB");
    }

    #[test]
    fn open_tag_depth_follows_the_parser() {
        assert_eq!(open_tag_depth("<div><b>x</b><br></div>"), 2);
        assert_eq!(open_tag_depth(&"<div>".repeat(5000)), 5000);
        assert_eq!(open_tag_depth("<ul><li>a<li>b<li>c</ul>"), 2);
        assert_eq!(open_tag_depth("<style><div><div></style><p>x"), 1);
    }

    #[test]
    fn stray_end_tags_do_not_hide_nesting() {
        // `</br>` is a `<br>` to the parser, so every `<div>` stays open.
        assert_eq!(open_tag_depth(&"<div></br>".repeat(3000)), 3000);
        assert_eq!(open_tag_depth(&"<div></span>".repeat(3000)), 3000);
    }

    #[test]
    fn deeply_nested_html_is_shown_as_plain_text_with_a_note() {
        let mut raw = b"Content-Type: text/html\r\n\r\n<p>Hello agent</p>".to_vec();
        raw.extend("<div></br>".repeat(100_000).as_bytes());
        raw.extend(b"<p>the end</p>");
        let m = render(&raw, &opts());
        assert_eq!(m.lines.first().map(|l| l.kind), Some(LineKind::Notice));
        assert_eq!(
            m.lines[0].text,
            "[Shown as plain text because its HTML is nested 100001 levels deep.]"
        );
        let all = texts(&m).join("\n");
        assert!(all.contains("Hello agent"), "{all}");
        assert!(all.contains("the end"), "{all}");
    }

    #[test]
    fn oversized_html_is_shown_as_plain_text_with_a_note() {
        let mut raw = b"Content-Type: text/html\r\n\r\n".to_vec();
        raw.extend("<p>word</p>\n".repeat(300_000).as_bytes());
        let m = render(&raw, &opts());
        assert_eq!(m.lines.first().map(|l| l.kind), Some(LineKind::Notice));
        assert!(
            m.lines[0].text.contains("MB of HTML"),
            "{}",
            m.lines[0].text
        );
        assert!(texts(&m).contains(&"word"));
    }

    #[test]
    fn a_cancelled_render_returns_nothing() {
        let raw = b"Subject: x\r\n\r\nbody\r\n";
        assert!(render_cancellable(raw, &opts(), &AtomicBool::new(true)).is_none());
        assert!(render_cancellable(raw, &opts(), &AtomicBool::new(false)).is_some());
    }
}
