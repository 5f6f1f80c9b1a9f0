//! Command palette and record picker: a filter line over a fuzzy-ranked list.

use crate::tui::action::Action;
use crate::tui::app::{PickList, RecordPicker};
use crate::tui::panes::safe;
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::{centered, pane_block};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

fn draw_list(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    input: &str,
    items: Vec<String>,
    cursor: usize,
    theme: &Theme,
) {
    let r = centered(area, 60, 60);
    let height = r.height.saturating_sub(3) as usize;
    let start = cursor.saturating_sub(height.saturating_sub(1));
    let mut lines = vec![Line::from(vec![
        Span::styled("> ", theme.style(Role::Accent)),
        safe(input, theme.style(Role::Normal)),
        Span::styled("_", theme.style(Role::Muted)),
    ])];
    for (i, it) in items.iter().enumerate().skip(start).take(height) {
        let style = if i == cursor {
            theme.style(Role::Selected)
        } else {
            theme.style(Role::Normal)
        };
        lines.push(Line::from(safe(it, style)));
    }
    if items.is_empty() {
        lines.push(Line::from(Span::styled(
            "no match",
            theme.style(Role::Muted),
        )));
    }
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(title.to_string(), true, theme)),
        r,
    );
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    input: &str,
    matches: &PickList<(Action, String)>,
    theme: &Theme,
) {
    let items = matches.items().iter().map(|(_, l)| l.clone()).collect();
    draw_list(
        frame,
        area,
        "Command — Enter runs, Esc closes",
        input,
        items,
        matches.cursor(),
        theme,
    );
}

pub fn draw_picker(frame: &mut Frame, area: Rect, p: &RecordPicker, theme: &Theme) {
    let items = p
        .matches
        .items()
        .iter()
        .map(|r| format!("{:<8} {}", r.kind.label(), r.title()))
        .collect();
    draw_list(
        frame,
        area,
        "Link to record — Enter links, Esc closes",
        p.input.as_str(),
        items,
        p.matches.cursor(),
        theme,
    );
}

/// A one-line question with its answer being typed.
pub fn draw_prompt(frame: &mut Frame, area: Rect, label: &str, input: &str, theme: &Theme) {
    let w = area.width.saturating_sub(4).min(90).max(20.min(area.width));
    let r = Rect {
        x: area.x + (area.width.saturating_sub(w)) / 2,
        y: area.y + area.height.saturating_sub(4) / 2,
        width: w,
        height: 4.min(area.height),
    };
    let lines = vec![
        Line::from(Span::styled(label.to_string(), theme.style(Role::Header))),
        Line::from(vec![
            Span::styled("> ", theme.style(Role::Accent)),
            safe(input, theme.style(Role::Normal)),
            Span::styled("_", theme.style(Role::Muted)),
        ]),
    ];
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(pane_block("Enter answers, Esc cancels", true, theme)),
        r,
    );
}
