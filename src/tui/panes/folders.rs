//! Folder pane: accounts with their folders and unread counts.

use crate::tui::app::{App, Focus, FolderRow};
use crate::tui::panes::safe;
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::pane_block;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Folders;
    let height = area.height.saturating_sub(2) as usize;
    let start = app.folder_cursor.saturating_sub(height.saturating_sub(1));
    let lines: Vec<Line> = app
        .folders
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, row)| match row {
            FolderRow::Account { name, group } => Line::from(vec![
                safe(name, theme.style(Role::Header)),
                Span::styled(
                    if *group { " (group)" } else { " (personal)" },
                    theme.style(Role::Muted),
                ),
            ]),
            FolderRow::Folder {
                name,
                unread,
                quiet,
                ..
            } => {
                let selected = i == app.folder_cursor;
                let base = if selected {
                    theme.style(if focused {
                        Role::Selected
                    } else {
                        Role::SelectedUnfocused
                    })
                } else if *unread > 0 {
                    theme.style(Role::Unread)
                } else {
                    theme.style(Role::Normal)
                };
                let mut spans = vec![
                    Span::styled(if selected { "> " } else { "  " }, base),
                    safe(name, base),
                ];
                if *unread > 0 {
                    spans.push(Span::styled(format!(" {unread}"), base));
                }
                if *quiet {
                    // New mail here rings no bell.
                    spans.push(Span::styled(" (quiet)", theme.style(Role::Muted)));
                }
                Line::from(spans)
            }
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(pane_block("Folders", focused, theme)),
        area,
    );
}
