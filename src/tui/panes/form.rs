//! Record form, notifications and record trash overlays.

use crate::store::Record;
use crate::store::notifications::Notification;
use crate::tui::form::RecordForm;
use crate::tui::panes::{fit, safe};
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::{centered, pane_block};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, f: &RecordForm, theme: &Theme) {
    let r = centered(area, 70, 70);
    let mut lines = Vec::new();
    for (i, (label, value)) in f.labels.iter().zip(&f.values).enumerate() {
        let current = i == f.field;
        let mut spans = vec![
            Span::styled(
                format!("{label:>12}: "),
                theme.style(if current { Role::Accent } else { Role::Muted }),
            ),
            safe(
                value,
                theme.style(if current {
                    Role::Selected
                } else {
                    Role::Normal
                }),
            ),
        ];
        if current {
            spans.push(Span::styled("_", theme.style(Role::Muted)));
        }
        lines.push(Line::from(spans));
        if let Some(err) = f.errors.get(label) {
            lines.push(Line::from(vec![
                Span::raw(" ".repeat(14)),
                safe(&format!("↑ {err}"), theme.style(Role::Error)),
            ]));
        }
    }
    frame.render_widget(Clear, r);
    let title = format!("{} — Tab next field, Ctrl-G save, Esc cancel", f.title());
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(title, true, theme)),
        r,
    );
}

pub fn draw_notifications(
    frame: &mut Frame,
    area: Rect,
    items: &[Notification],
    cursor: usize,
    theme: &Theme,
) {
    let r = centered(area, 80, 70);
    let width = r.width.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    if items.is_empty() {
        lines.push(Line::from(Span::styled(
            "No notifications. Follow a record (F in the records pane) to hear about its new mail.",
            theme.style(Role::Muted),
        )));
    }
    for (i, n) in items.iter().enumerate() {
        let style = if i == cursor {
            theme.style(Role::Selected)
        } else if n.read {
            theme.style(Role::Muted)
        } else {
            theme.style(Role::Unread)
        };
        lines.push(Line::from(Span::styled(fit(&n.text, width), style)));
    }
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(
            "Notifications — Enter marks read, Esc closes",
            true,
            theme,
        )),
        r,
    );
}

pub fn draw_trash(frame: &mut Frame, area: Rect, items: &[Record], cursor: usize, theme: &Theme) {
    let r = centered(area, 70, 60);
    let width = r.width.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    if items.is_empty() {
        lines.push(Line::from(Span::styled(
            "The record trash is empty.",
            theme.style(Role::Muted),
        )));
    }
    for (i, rec) in items.iter().enumerate() {
        let style = if i == cursor {
            theme.style(Role::Selected)
        } else {
            theme.style(Role::Normal)
        };
        lines.push(Line::from(Span::styled(
            fit(&format!("{:<8} {}", rec.kind.label(), rec.title()), width),
            style,
        )));
    }
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(
            "Deleted records — Enter restores, Esc closes",
            true,
            theme,
        )),
        r,
    );
}

pub fn draw_drafts(
    frame: &mut Frame,
    area: Rect,
    items: &[crate::store::drafts::StoredDraft],
    cursor: usize,
    theme: &Theme,
) {
    let r = centered(area, 70, 50);
    let width = r.width.saturating_sub(2) as usize;
    let mut lines = vec![Line::from(Span::styled(
        "These mails were being written when deskmail last stopped:",
        theme.style(Role::Header),
    ))];
    for (i, d) in items.iter().enumerate() {
        let style = if i == cursor {
            theme.style(Role::Selected)
        } else {
            theme.style(Role::Normal)
        };
        lines.push(Line::from(Span::styled(fit(&d.title(), width), style)));
    }
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(
            "Drafts — Enter continues, d discards, Esc later",
            true,
            theme,
        )),
        r,
    );
}
