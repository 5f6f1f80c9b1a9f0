//! Records pane: the CRM records linked to the selected mail, or why none is.

use crate::store::RecordKind;
use crate::tui::app::{App, Focus};
use crate::tui::panes::safe;
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::pane_block;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Records;
    let mut lines: Vec<Line> = Vec::new();
    for (i, r) in app.records.records.iter().enumerate() {
        let selected = focused && i == app.records.cursor;
        let open_case = r.kind == RecordKind::Case
            && crate::store::CaseStatus::is_open_name(r.field("status").unwrap_or("New"));
        let style = if selected {
            theme.style(Role::Selected)
        } else if open_case {
            theme.style(Role::CaseOpen)
        } else {
            theme.style(Role::Linked)
        };
        let mut spans = vec![
            Span::styled(
                format!("{:<8}", r.kind.label()),
                if selected {
                    style
                } else {
                    theme.style(Role::Muted)
                },
            ),
            safe(&r.title(), style),
        ];
        if let Some(s) = r.field("status").or(r.field("stage")) {
            spans.push(safe(
                &format!(" [{s}]"),
                if selected {
                    style
                } else {
                    theme.style(Role::Muted)
                },
            ));
        }
        lines.push(Line::from(spans));
    }
    if lines.is_empty() {
        let reason = app
            .list
            .selected()
            .and_then(|r| r.summary.not_linked_reason.clone())
            .unwrap_or_else(|| "no linked records".into());
        lines.push(Line::from(vec![
            Span::styled("Not linked: ", theme.style(Role::Warning)),
            safe(&reason, theme.style(Role::Muted)),
        ]));
        lines.push(Line::from(Span::styled(
            "L links a record, C creates a case.",
            theme.style(Role::Muted),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(pane_block("Records", focused, theme))
            .wrap(Wrap { trim: true }),
        area,
    );
}
