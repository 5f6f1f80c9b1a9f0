//! Filters overlay: one line per filter (name, where it applies, action,
//! patterns), the ones matching the selected mail marked. All text is
//! sanitised: names and patterns come from the config file.

use crate::tui::app::FiltersScreen;
use crate::tui::panes::{fit, safe};
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::{centered, pane_block};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, s: &FiltersScreen, theme: &Theme) {
    let r = centered(area, 90, 80);
    let width = r.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    let about = match &s.mail {
        Some(subject) => format!("✓ matches the selected mail: {subject}"),
        None => "No mail selected: nothing is marked.".to_string(),
    };
    lines.push(Line::from(safe(&about, theme.style(Role::Muted))));
    if s.rows.items().is_empty() {
        lines.push(Line::from(Span::styled(
            "No filters: add [[filters]] or [[accounts.filters]] to the config (see the README).",
            theme.style(Role::Muted),
        )));
    }
    for (i, f) in s.rows.items().iter().enumerate() {
        let selected = i == s.rows.cursor();
        let style = if selected {
            theme.style(Role::Selected)
        } else if f.matches {
            theme.style(Role::Accent)
        } else {
            theme.style(Role::Normal)
        };
        let scope = f.account.as_deref().unwrap_or("all accounts");
        let fixed = 2 + 16 + 1 + 14 + 1 + 20 + 1;
        lines.push(Line::from(vec![
            Span::styled(if f.matches { "✓ " } else { "  " }, style),
            Span::styled(fit(&f.name, 16), style),
            Span::styled(" ", style),
            Span::styled(fit(scope, 14), style),
            Span::styled(" ", style),
            Span::styled(fit(&f.action, 20), style),
            Span::styled(" ", style),
            Span::styled(fit(&f.patterns, width.saturating_sub(fixed)), style),
        ]));
    }
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(pane_block("Filters — Esc closes", true, theme)),
        r,
    );
}
