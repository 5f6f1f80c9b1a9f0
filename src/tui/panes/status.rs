//! Status bar: the last message or error, per-account sync state, pending keys.

use crate::protocol::SyncState;
use crate::tui::app::App;
use crate::tui::panes::safe;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let bar = theme.style(Role::StatusBar);
    let mut spans: Vec<Span> = Vec::new();
    if !app.hints.is_empty() {
        let pending = crate::tui::keymap::Key::sequence_to_string(&app.pending);
        spans.push(Span::styled(format!("{pending} … "), bar));
        for h in &app.hints {
            spans.push(Span::styled(
                format!("{} ", h.key),
                theme.style(Role::Accent),
            ));
            spans.push(safe(&format!("{}  ", h.desc), bar));
        }
    } else if let Some(m) = &app.status.message {
        spans.push(safe(
            &m.text,
            theme.style(if m.is_error {
                Role::Error
            } else {
                Role::StatusBar
            }),
        ));
    } else {
        spans.push(Span::styled("? help  : commands  q quit", bar));
    }
    let mut right: Vec<Span> = Vec::new();
    if let Some(a) = &app.status.attached {
        right.push(safe(&format!(" {a} "), bar));
    }
    for w in &app.status.warnings {
        right.push(safe(&format!(" {w} "), theme.style(Role::Warning)));
    }
    if app.status.new_mail > 0 {
        right.push(Span::styled(
            format!(" {} new ", app.status.new_mail),
            theme.style(Role::Unread),
        ));
    }
    for (account, state) in &app.status.sync {
        let role = match state {
            SyncState::Error(_) => Role::Error,
            SyncState::Retrying { .. } => Role::Warning,
            _ => Role::StatusBar,
        };
        right.push(safe(
            &format!(" {account}: {} ", state.label()),
            theme.style(role),
        ));
    }
    let right_w: usize = right.iter().map(|s| s.width()).sum();
    let left_w = (area.width as usize).saturating_sub(right_w);
    let left_text: usize = spans.iter().map(|s| s.width()).sum();
    if left_text < left_w {
        spans.push(Span::styled(" ".repeat(left_w - left_text), bar));
    }
    spans.extend(right);
    frame.render_widget(Paragraph::new(Line::from(spans)).style(bar), area);
}
