//! The compose overlay: fields, body editor and why Send is refused, if it is.

use crate::tui::compose::{ComposeState, FIELDS};
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::{centered, pane_block};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, c: &ComposeState, theme: &Theme) {
    let r = centered(area, 90, 90);
    frame.render_widget(Clear, r);
    let block = pane_block(
        "Compose — Tab next field, Ctrl-G send, Esc discard",
        true,
        theme,
    );
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .split(inner);
    let label = |i: usize| {
        Span::styled(
            format!("{:<8}", FIELDS[i]),
            theme.style(if c.field == i {
                Role::Accent
            } else {
                Role::Muted
            }),
        )
    };
    let (acct, email) = c.identities.get(c.identity).cloned().unwrap_or_default();
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            label(0),
            Span::styled(
                format!("{email} ({acct})"),
                theme.style(if c.field == 0 {
                    Role::Selected
                } else {
                    Role::Normal
                }),
            ),
        ])),
        rows[0],
    );
    for (i, t) in [(1, &c.to), (2, &c.cc), (3, &c.subject)] {
        let parts = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Length(8), Constraint::Min(1)])
            .split(rows[i]);
        frame.render_widget(Paragraph::new(Line::from(label(i))), parts[0]);
        frame.render_widget(t, parts[1]);
    }
    frame.render_widget(&c.body, rows[4]);
    let status = match c.blocked_reason() {
        Some(r) => Line::from(Span::styled(
            format!("Send disabled: {r}"),
            theme.style(Role::Warning),
        )),
        None => Line::from(Span::styled(
            "Ready to send (Ctrl-G).",
            theme.style(Role::Ok),
        )),
    };
    frame.render_widget(Paragraph::new(status), rows[5]);
}
