//! The accounts overlay: accounts with their sync state and last connection
//! test, or one account's form with every invalid field marked in the error
//! colour and its reason. Draws only; all text passes the sanitiser.

use crate::config::edit::FIELDS;
use crate::protocol::CheckStep;
use crate::tui::app::{AccountForm, AccountsScreen, App};
use crate::tui::panes::{fit, safe};
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::pane_block;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

/// Width of the field names column, the longest name included.
const LABEL: usize = 29;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, screen: &AccountsScreen, theme: &Theme) {
    // The status line stays visible below: it says what saving did.
    let r = Rect {
        height: area.height.saturating_sub(1),
        ..area
    };
    frame.render_widget(Clear, r);
    match &screen.form {
        Some(form) => draw_form(frame, r, screen, form, theme),
        None => draw_list(frame, r, app, screen, theme),
    }
}

fn step_line<'a>(s: &CheckStep, width: usize, theme: &Theme) -> Line<'a> {
    let (mark, role) = match s.ok {
        Some(true) => ("ok  ", Role::Ok),
        Some(false) => ("FAIL", Role::Error),
        None => ("note", Role::Muted),
    };
    Line::from(vec![
        Span::styled(format!("  {mark} "), theme.style(role)),
        safe(
            &fit(&s.text, width.saturating_sub(7)),
            theme.style(if s.ok == Some(false) {
                Role::Error
            } else {
                Role::Normal
            }),
        ),
    ])
}

fn draw_list(frame: &mut Frame, r: Rect, app: &App, screen: &AccountsScreen, theme: &Theme) {
    let width = r.width.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    if screen.list.is_empty() {
        lines.push(Line::from(Span::styled(
            "No accounts yet: add an [[accounts]] table to config.toml (see the README).",
            theme.style(Role::Muted),
        )));
    }
    for (i, a) in screen.list.items().iter().enumerate() {
        let state = if !a.active {
            "not synced (active = false)".to_string()
        } else if screen.testing.contains(&a.name) {
            "testing the connection…".to_string()
        } else {
            app.status
                .sync
                .get(&a.name)
                .map(|s| s.label())
                .unwrap_or_else(|| "not started".into())
        };
        let kind = match a.kind {
            crate::config::AccountKind::Imap => "IMAP",
            crate::config::AccountKind::Pop3 => "POP3",
        };
        let text = format!(
            "{:<14} {kind} {:<28} {}",
            a.name,
            format!("{}:{}", a.host, a.port),
            state
        );
        let selected = i == screen.list.cursor();
        let role = if selected {
            Role::Selected
        } else if matches!(
            app.status.sync.get(&a.name),
            Some(crate::protocol::SyncState::Error(_))
        ) {
            Role::Error
        } else {
            Role::Normal
        };
        lines.push(Line::from(safe(&fit(&text, width), theme.style(role))));
        if let Some(steps) = screen.tests.get(&a.name) {
            lines.extend(steps.iter().map(|s| step_line(s, width, theme)));
        }
    }
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(
            "Accounts — Enter edit, t test connection, Esc close",
            true,
            theme,
        )),
        r,
    );
}

fn draw_form(
    frame: &mut Frame,
    r: Rect,
    screen: &AccountsScreen,
    form: &AccountForm,
    theme: &Theme,
) {
    let width = r.width.saturating_sub(2) as usize;
    let value_w = width.saturating_sub(LABEL + 2);
    let mut head: Vec<Line> = Vec::new();
    if !form.errors.is_empty() {
        head.push(Line::from(Span::styled(
            format!(
                "{} field(s) invalid, marked below; Ctrl-G saves once all are fixed.",
                form.errors.len()
            ),
            theme.style(Role::Error),
        )));
    }
    if form.has_plain_password {
        head.push(Line::from(Span::styled(
            fit(
                "password: kept as it is in config.toml, never shown or written here; \
                 a password_command replaces it",
                width,
            ),
            theme.style(Role::Muted),
        )));
    }
    if screen.testing.contains(&form.before.name) {
        head.push(Line::from(Span::styled(
            "Testing the connection…",
            theme.style(Role::Muted),
        )));
    } else if let Some(steps) = screen.tests.get(&form.before.name) {
        head.extend(steps.iter().map(|s| step_line(s, width, theme)));
    }
    let mut body: Vec<Line> = Vec::new();
    let mut current_line = 0;
    for (i, (spec, value)) in FIELDS.iter().zip(&form.values).enumerate() {
        let current = i == form.field;
        if current {
            current_line = body.len();
        }
        let error = form.errors.get(&i);
        let label_role = if error.is_some() {
            Role::Error
        } else if current {
            Role::Accent
        } else {
            Role::Muted
        };
        let mut spans = vec![
            Span::styled(format!("{:>LABEL$}: ", spec.key), theme.style(label_role)),
            safe(
                &crate::mail::sanitize::truncate_to_width(value, value_w.saturating_sub(1)),
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
        body.push(Line::from(spans));
        if let Some(err) = error {
            // The whole reason is shown, wrapped under the value.
            let reason = crate::mail::sanitize::sanitize_line(&format!("↑ {err}"));
            for part in crate::mail::sanitize::wrap_line(&reason, value_w.max(10)) {
                body.push(Line::from(vec![
                    Span::raw(" ".repeat(LABEL + 2)),
                    Span::styled(part, theme.style(Role::Error)),
                ]));
            }
        } else if current {
            body.push(Line::from(vec![
                Span::raw(" ".repeat(LABEL + 2)),
                safe(&fit(spec.help, value_w), theme.style(Role::Muted)),
            ]));
        }
    }
    let room = (r.height.saturating_sub(2) as usize).saturating_sub(head.len());
    // Keep the current field and the line under it in view.
    let skip = (current_line + 2).saturating_sub(room);
    let mut lines = head;
    lines.extend(body.into_iter().skip(skip).take(room));
    let title = format!(
        "Account {} — Tab next, Ctrl-G save, F5 test, Esc cancel",
        form.before.name
    );
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(
            safe(&title, theme.style(Role::Title)),
            true,
            theme,
        )),
        r,
    );
}
