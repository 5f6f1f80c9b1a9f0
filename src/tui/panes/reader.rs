//! Reader pane: headers, body with folded quotes and dimmed signature,
//! attachment list. Every string here went through the sanitiser.

use crate::mail::render::LineKind;
use crate::tui::app::{App, Focus};
use crate::tui::panes::safe;
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::pane_block;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn lines<'a>(app: &App, theme: &Theme) -> Vec<Line<'a>> {
    let r = &app.reader;
    if r.raw {
        return match &r.raw_text {
            Some(t) => t
                .lines()
                .map(|l| Line::from(safe(l, theme.style(Role::Normal))))
                .collect(),
            None => vec![Line::from(Span::styled(
                "No source stored.",
                theme.style(Role::Muted),
            ))],
        };
    }
    let Some(mail) = &r.mail else {
        let msg = if r.id.is_some() {
            "Loading…"
        } else {
            "No mail selected."
        };
        return vec![Line::from(Span::styled(msg, theme.style(Role::Muted)))];
    };
    let mut out = Vec::new();
    for (name, value) in &mail.headers {
        out.push(Line::from(vec![
            Span::styled(format!("{name}: "), theme.style(Role::Header)),
            safe(value, theme.style(Role::Normal)),
        ]));
    }
    if !mail.attachments.is_empty() {
        for a in &mail.attachments {
            out.push(Line::from(vec![
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
    }
    out.push(Line::from(""));
    for l in &mail.lines {
        let style = match l.kind {
            LineKind::Quote => theme.style(Role::Quote),
            LineKind::QuoteFolded(_) | LineKind::Notice => theme.style(Role::Muted),
            LineKind::Signature => theme.style(Role::Signature),
            LineKind::LinkRef => theme.style(Role::Link),
            _ => theme.style(Role::Normal),
        };
        out.push(Line::from(safe(&l.text, style)));
    }
    out
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Reader;
    let lines = lines(app, theme);
    let height = area.height.saturating_sub(2) as usize;
    let max_scroll = lines.len().saturating_sub(height.max(1));
    let scroll = app.reader.scroll.min(max_scroll);
    let title = if app.reader.raw { "Source" } else { "Reader" };
    frame.render_widget(
        Paragraph::new(lines)
            .block(pane_block(title, focused, theme))
            .wrap(Wrap { trim: false })
            .scroll((scroll.min(u16::MAX as usize) as u16, 0)),
        area,
    );
}
