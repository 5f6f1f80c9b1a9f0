//! A record's card: its fields, related records and History (all mail
//! linked to it and to its related records, newest first, with status).

use crate::mail::format::Clock;
use crate::tui::app::RecordCard;
use crate::tui::panes::{fit, safe};
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::{centered, pane_block};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

pub fn lines<'a>(card: &RecordCard, width: usize, clock: &Clock, theme: &Theme) -> Vec<Line<'a>> {
    let r = &card.record;
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{} ", r.kind.label()), theme.style(Role::Muted)),
        safe(&r.title(), theme.style(Role::Header)),
    ])];
    if !r.emails.is_empty() {
        lines.push(Line::from(vec![
            Span::styled("Email: ", theme.style(Role::Muted)),
            safe(&r.emails.join(", "), theme.style(Role::Normal)),
        ]));
    }
    if !r.phones.is_empty() {
        lines.push(Line::from(vec![
            Span::styled("Phone: ", theme.style(Role::Muted)),
            safe(&r.phones.join(", "), theme.style(Role::Normal)),
        ]));
    }
    for (k, v) in &r.fields {
        lines.push(Line::from(vec![
            Span::styled(format!("{k}: "), theme.style(Role::Muted)),
            safe(v, theme.style(Role::Normal)),
        ]));
    }
    for rel in &card.related {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:<8} ", rel.kind.label()),
                theme.style(Role::Muted),
            ),
            safe(&rel.title(), theme.style(Role::Linked)),
            Span::styled(
                rel.field("status")
                    .map(|s| format!(" [{s}]"))
                    .unwrap_or_default(),
                theme.style(Role::Muted),
            ),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        format!("History ({} mails)", card.history.len()),
        theme.style(Role::Header),
    )));
    let sender_w = 20;
    for (i, h) in card.history.iter().enumerate() {
        let m = &h.message;
        let style = if i == card.cursor {
            theme.style(Role::Selected)
        } else {
            theme.style(Role::Normal)
        };
        let who = m.sender().to_string();
        let subj_w = width.saturating_sub(12 + 1 + 9 + 1 + sender_w + 1);
        lines.push(Line::from(vec![
            Span::styled(fit(&clock.short_date(m.date), 12), style),
            Span::styled(" ", style),
            Span::styled(fit(m.status.name(), 9), style),
            Span::styled(" ", style),
            Span::styled(fit(&who, sender_w), style),
            Span::styled(" ", style),
            Span::styled(fit(&m.subject, subj_w), style),
        ]));
    }
    lines
}

pub fn draw(frame: &mut Frame, area: Rect, card: &RecordCard, clock: &Clock, theme: &Theme) {
    let r = centered(area, 90, 90);
    let width = r.width.saturating_sub(2) as usize;
    let lines = lines(card, width, clock, theme);
    let height = r.height.saturating_sub(2) as usize;
    let head = lines.len().saturating_sub(card.history.len());
    let scroll = (head + card.cursor + 1).saturating_sub(height);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines)
            .block(pane_block("Record — Esc closes", true, theme))
            .scroll((scroll as u16, 0)),
        r,
    );
}
