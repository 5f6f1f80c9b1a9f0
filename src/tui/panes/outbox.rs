//! Outbox overlay: every queued mail with its state, retry time and the
//! server's reason for a failure. S sends now, d cancels.

use crate::mail::format::Clock;
use crate::store::{OutboxEntry, OutboxState};
use crate::tui::panes::{fit, safe};
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::{centered, pane_block};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

/// Under an unconfirmed entry: what happened and what the agent can do.
const UNCONFIRMED: &str = "The server did not confirm this mail after its data went out, so it \
     may have been sent. Check with the recipient or in Sent, then S sends it anyway or d cancels it.";

fn state_text(e: &OutboxEntry, clock: &Clock) -> (String, Role) {
    let at = |t: i64| clock.time_of_day(t);
    match &e.state {
        OutboxState::Queued => ("queued".into(), Role::Normal),
        // The worker does not send it again on its own: the agent decides.
        OutboxState::Sending if e.unconfirmed => {
            ("unconfirmed: waiting for you".into(), Role::Warning)
        }
        OutboxState::Sending => ("sending".into(), Role::Accent),
        OutboxState::Sent { at: t } => (format!("sent {}", at(*t)), Role::Ok),
        OutboxState::Retrying { at: t, attempt } => (
            format!("retrying at {} (attempt {attempt})", at(*t)),
            Role::Warning,
        ),
        OutboxState::Failed { .. } => ("failed".into(), Role::Error),
        OutboxState::Cancelled => ("cancelled".into(), Role::Muted),
    }
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    entries: &[OutboxEntry],
    cursor: usize,
    clock: &Clock,
    theme: &Theme,
) {
    let r = centered(area, 90, 80);
    let width = r.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    if entries.is_empty() {
        lines.push(Line::from(Span::styled(
            "The outbox is empty.",
            theme.style(Role::Muted),
        )));
    }
    for (i, e) in entries.iter().enumerate() {
        let (state, role) = state_text(e, clock);
        let selected = i == cursor;
        let style = if selected {
            theme.style(Role::Selected)
        } else {
            theme.style(Role::Normal)
        };
        let to = e.recipients.join(", ");
        lines.push(Line::from(vec![
            Span::styled(
                fit(&state, 30),
                if selected { style } else { theme.style(role) },
            ),
            Span::styled(" ", style),
            Span::styled(fit(&to, 28), style),
            Span::styled(" ", style),
            Span::styled(fit(&e.subject, width.saturating_sub(60)), style),
        ]));
        let reason = match &e.state {
            OutboxState::Failed { reason } => Some(reason.clone()),
            OutboxState::Retrying { .. } => e.last_error.clone(),
            _ => None,
        };
        if let Some(reason) = reason {
            lines.push(Line::from(vec![
                Span::raw("    "),
                safe(&reason, theme.style(role)),
            ]));
        }
        if e.unconfirmed && e.state == OutboxState::Sending {
            lines.push(Line::from(vec![
                Span::raw("    "),
                Span::styled(UNCONFIRMED, theme.style(role)),
            ]));
        }
    }
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines)
            .block(pane_block(
                "Outbox — S send now, d cancel, Esc closes",
                true,
                theme,
            ))
            .wrap(Wrap { trim: false }),
        r,
    );
}
