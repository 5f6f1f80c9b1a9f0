//! The search line at the bottom (`/`, the typed query, why it does not
//! read) with its completions above it, and the highlighting of hit words.

use crate::mail::sanitize::sanitize_line;
use crate::tui::app::SearchLine;
use crate::tui::panes::{fit, safe};
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::pane_block;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

/// Completions shown at once above the line.
const SHOWN: usize = 6;

/// The line over the status bar `status`; completions above it in `screen`.
pub fn draw_line(frame: &mut Frame, screen: Rect, status: Rect, line: &SearchLine, theme: &Theme) {
    let bar = theme.style(Role::StatusBar);
    let mut spans = vec![
        Span::styled("/", theme.style(Role::Accent)),
        safe(line.input.as_str(), bar),
        Span::styled("_", theme.style(Role::Muted)),
    ];
    if let Some(e) = &line.error {
        spans.push(Span::styled("  ", bar));
        spans.push(safe(e, theme.style(Role::Error)));
    } else if line.due.is_none() && !line.input.as_str().trim().is_empty() {
        spans.push(Span::styled(
            "  Enter: to the list  Tab: complete  Esc: close",
            theme.style(Role::Muted),
        ));
    }
    frame.render_widget(Clear, status);
    frame.render_widget(Paragraph::new(Line::from(spans)).style(bar), status);
    if line.completions.is_empty() || status.y <= screen.y + 2 {
        return;
    }
    // Keep the chosen completion in the window.
    let first = line
        .chosen
        .map_or(0, |c| c.saturating_sub(SHOWN - 1))
        .min(line.completions.len().saturating_sub(SHOWN));
    let items: Vec<Line> = line
        .completions
        .iter()
        .enumerate()
        .skip(first)
        .take(SHOWN)
        .map(|(i, c)| {
            let role = if Some(i) == line.chosen {
                Role::Selected
            } else {
                Role::Normal
            };
            Line::from(Span::styled(fit(c, 44), theme.style(role)))
        })
        .collect();
    let height = (items.len() as u16 + 2).min(status.y - screen.y);
    let width = 46.min(screen.width);
    let r = Rect {
        x: screen.x,
        y: status.y - height,
        width,
        height,
    };
    let title = format!("Tab completes ({})", line.completions.len());
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(items).block(pane_block(title, false, theme)),
        r,
    );
}

/// `text` (sanitised) as spans, with the words of `terms` in the accent style.
pub fn highlighted<'a>(text: &str, style: Style, terms: &[String], theme: &Theme) -> Vec<Span<'a>> {
    let clean = sanitize_line(text);
    let found = crate::search::highlight::find(&clean, terms);
    if found.is_empty() {
        return vec![Span::styled(clean, style)];
    }
    let hit = theme
        .style(Role::Accent)
        .add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    let mut out = Vec::new();
    let mut at = 0;
    for r in found {
        if r.start > at {
            out.push(Span::styled(clean[at..r.start].to_string(), style));
        }
        out.push(Span::styled(clean[r.clone()].to_string(), hit));
        at = r.end;
    }
    if at < clean.len() {
        out.push(Span::styled(clean[at..].to_string(), style));
    }
    out
}
