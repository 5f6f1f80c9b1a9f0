//! Help overlay, generated from the active keymap so it can never disagree.

use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::{centered, pane_block};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, scroll: usize, theme: &Theme) {
    let r = centered(area, 70, 80);
    let ctx = app.focus.context();
    let mut lines = vec![Line::from(Span::styled(
        format!("Keys in {} (then global)", ctx.name()),
        theme.style(Role::Header),
    ))];
    for e in app.keymap.help(ctx) {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>12}  ", e.keys), theme.style(Role::Accent)),
            Span::styled(e.desc, theme.style(Role::Normal)),
            Span::styled(
                format!("  ({})", e.context.name()),
                theme.style(Role::Muted),
            ),
        ]));
    }
    let scroll = scroll.min(lines.len().saturating_sub(1));
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines)
            .block(pane_block("Help — Esc closes", true, theme))
            .scroll((scroll as u16, 0)),
        r,
    );
}
