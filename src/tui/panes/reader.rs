//! Reader pane: headers, body with folded quotes and dimmed signature,
//! attachment list. Every string here went through the sanitiser.

use crate::mail::render::LineKind;
use crate::tui::app::{App, Focus};
use crate::tui::panes::safe;
use crate::tui::panes::search::highlighted;
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::pane_block;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

/// The reader's lines `[from, from + count)` and how many lines there are in
/// all. Only the lines asked for are built: a 50 MB mail has a million.
pub fn window<'a>(app: &App, theme: &Theme, from: usize, count: usize) -> (Vec<Line<'a>>, usize) {
    let r = &app.reader;
    // Words of the shown search stand out wherever they are.
    let terms = app.search_terms().unwrap_or(&[]);
    let text = |t: &str, style| Line::from(highlighted(t, style, terms, theme));
    if r.raw {
        return match &r.raw_text {
            Some(t) => (
                t.iter()
                    .skip(from)
                    .take(count)
                    .map(|l| text(l, theme.style(Role::Normal)))
                    .collect(),
                t.len(),
            ),
            None => (
                vec![Line::from(Span::styled(
                    "No source stored.",
                    theme.style(Role::Muted),
                ))],
                1,
            ),
        };
    }
    let Some(mail) = &r.mail else {
        let msg = if r.id.is_some() {
            "Loading…"
        } else {
            "No mail selected."
        };
        return (
            vec![Line::from(Span::styled(msg, theme.style(Role::Muted)))],
            1,
        );
    };
    let mut head = Vec::new();
    for (name, value) in &mail.headers {
        let mut spans = vec![Span::styled(format!("{name}: "), theme.style(Role::Header))];
        spans.extend(highlighted(value, theme.style(Role::Normal), terms, theme));
        head.push(Line::from(spans));
    }
    for a in &mail.attachments {
        head.push(Line::from(vec![
            Span::styled(format!("[{}] ", a.index), theme.style(Role::Accent)),
            safe(&a.name, theme.style(Role::Normal)),
            Span::styled(
                format!(
                    " ({}, {})",
                    crate::mail::sanitize::sanitize_line(&a.mime),
                    crate::mail::format::human_size(a.size as u64)
                ),
                theme.style(Role::Muted),
            ),
        ]));
    }
    head.push(Line::from(""));
    let total = head.len() + mail.lines.len();
    let body_from = from.saturating_sub(head.len());
    let mut out: Vec<Line<'a>> = head.into_iter().skip(from).take(count).collect();
    let body = mail
        .lines
        .iter()
        .skip(body_from)
        .take(count - out.len())
        .map(|l| {
            let style = match l.kind {
                LineKind::Quote => theme.style(Role::Quote),
                LineKind::QuoteFolded(_) | LineKind::Notice => theme.style(Role::Muted),
                LineKind::Signature => theme.style(Role::Signature),
                LineKind::LinkRef => theme.style(Role::Link),
                _ => theme.style(Role::Normal),
            };
            text(&l.text, style)
        });
    out.extend(body);
    (out, total)
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Reader;
    let height = (area.height.saturating_sub(2) as usize).max(1);
    let (_, total) = window(app, theme, 0, 0);
    let scroll = app.reader.scroll.min(total.saturating_sub(height));
    let (lines, _) = window(app, theme, scroll, height);
    let title = if app.reader.raw { "Source" } else { "Reader" };
    frame.render_widget(
        Paragraph::new(lines)
            .block(pane_block(title, focused, theme))
            .wrap(Wrap { trim: false }),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::render::{RenderedLine, RenderedMail};
    use crate::tui::keymap::Keymap;
    use crate::tui::theme::ColorEnv;

    #[test]
    fn the_window_holds_only_the_asked_lines_of_a_huge_mail() {
        let mut app = App::new(Keymap::builtin("default").expect("keymap"));
        let theme = Theme::load("dark", None, ColorEnv::from_vars(false, None)).expect("theme");
        let lines = (0..200_000)
            .map(|i| RenderedLine {
                kind: LineKind::Body,
                text: format!("line {i}"),
            })
            .collect();
        app.reader.id = Some(1);
        app.reader.mail = Some(std::sync::Arc::new(RenderedMail {
            headers: vec![("Subject".into(), "huge".into())],
            lines,
            ..RenderedMail::default()
        }));
        // Subject and a blank line come before the body.
        let (shown, total) = window(&app, &theme, 150_002, 3);
        assert_eq!(total, 200_002);
        let text: Vec<String> = shown.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, vec!["line 150000", "line 150001", "line 150002"]);
        let (shown, _) = window(&app, &theme, 0, 3);
        let text: Vec<String> = shown.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, vec!["Subject: huge", "", "line 0"]);
    }
}
