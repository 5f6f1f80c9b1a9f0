//! The compose overlay: fields, attachments, body editor, completion and
//! template hints, and why Send is refused, if it is.

use crate::tui::compose::{ATTACH, BCC, BODY, CC, ComposeState, FIELDS, FROM, Mode, SUBJECT, TO};
use crate::tui::panes::safe;
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::{centered, pane_block};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

const LABEL: u16 = 9;

pub fn draw(frame: &mut Frame, area: Rect, c: &ComposeState, theme: &Theme) {
    let r = centered(area, 90, 90);
    frame.render_widget(Clear, r);
    let block = pane_block(
        "Compose — Tab next · C-g send · C-t template · C-e editor · A-a attach · Esc close",
        true,
        theme,
    );
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let warnings = c.template_warnings();
    let suggestions = c.suggestions();
    let prompt_rows: u16 = match c.mode {
        Mode::AttachPrompt { .. } | Mode::ConfirmClose { .. } => 1,
        _ => 0,
    };
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(warnings.len().min(3) as u16),
            Constraint::Length(prompt_rows),
            Constraint::Length(u16::from(c.notice.is_some())),
            Constraint::Length(1),
        ])
        .split(inner);
    let label = |i: usize| {
        Span::styled(
            format!("{:<width$}", FIELDS[i], width = LABEL as usize),
            theme.style(if c.field == i {
                Role::Accent
            } else {
                Role::Muted
            }),
        )
    };
    let focused = |i: usize| {
        theme.style(if c.field == i {
            Role::Selected
        } else {
            Role::Normal
        })
    };
    // From
    let from = match c.current_identity() {
        Some(id) => Span::styled(id.label(), focused(FROM)),
        None => Span::styled(
            "(choose an identity: Space or ←/→)",
            theme.style(Role::Warning),
        ),
    };
    let mut from_line = vec![label(FROM), from];
    if c.identities.len() > 1 && c.field == FROM {
        from_line.push(Span::styled(
            format!("  {} identities", c.identities.len()),
            theme.style(Role::Muted),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(from_line)), rows[0]);
    // To, Cc, Bcc, Subject
    for (row, i, t) in [
        (1, TO, &c.to),
        (2, CC, &c.cc),
        (3, BCC, &c.bcc),
        (4, SUBJECT, &c.subject),
    ] {
        let parts = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([
                Constraint::Length(LABEL),
                Constraint::Min(1),
                Constraint::Length(if i == BCC { 34 } else { 0 }),
            ])
            .split(rows[row]);
        frame.render_widget(Paragraph::new(Line::from(label(i))), parts[0]);
        frame.render_widget(t, parts[1]);
        if i == BCC {
            let extra = c.effective_bcc().len() > c.recipients(BCC).len();
            if extra && let Some(sys) = c.effective_bcc().last() {
                frame.render_widget(
                    Paragraph::new(Span::styled(
                        format!(" + archive {sys}"),
                        theme.style(Role::Muted),
                    )),
                    parts[2],
                );
            }
        }
    }
    // Attachments
    let mut attach = vec![label(ATTACH)];
    let names = c.attachment_line();
    if names.is_empty() {
        attach.push(Span::styled(
            if c.field == ATTACH {
                "(none — Enter or a to add a file)"
            } else {
                "(none)"
            },
            theme.style(Role::Muted),
        ));
    } else {
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                attach.push(Span::styled(" · ", theme.style(Role::Muted)));
            }
            let style = if c.field == ATTACH && i == c.attach_cursor {
                theme.style(Role::Selected)
            } else {
                theme.style(Role::Normal)
            };
            attach.push(safe(n, style));
        }
        if c.field == ATTACH {
            attach.push(Span::styled(
                "   a add · d remove · f forward inline/attached",
                theme.style(Role::Muted),
            ));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(attach)), rows[5]);
    // Completion hints
    match &c.mode {
        Mode::Edit if !suggestions.is_empty() => {
            let mut spans = vec![Span::styled(
                format!("{:<width$}", "Tab", width = LABEL as usize),
                theme.style(Role::Muted),
            )];
            for (i, (shown, _)) in suggestions.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(" · ", theme.style(Role::Muted)));
                }
                let role = if i == 0 { Role::Accent } else { Role::Normal };
                spans.push(safe(shown, theme.style(role)));
            }
            frame.render_widget(Paragraph::new(Line::from(spans)), rows[6]);
        }
        Mode::AttachPrompt { matches, .. } if !matches.is_empty() => {
            let shown: Vec<&str> = matches.iter().take(12).map(String::as_str).collect();
            let more = matches.len().saturating_sub(shown.len());
            let mut t = shown.join("  ");
            if more > 0 {
                t.push_str(&format!("  (+{more})"));
            }
            frame.render_widget(Paragraph::new(safe(&t, theme.style(Role::Muted))), rows[6]);
        }
        _ => {
            let (role, label) = if c.field == BODY {
                (Role::Accent, "── Body ")
            } else {
                (Role::Muted, "── Body ")
            };
            let fill = (rows[6].width as usize).saturating_sub(label.chars().count());
            frame.render_widget(
                Paragraph::new(Span::styled(
                    format!("{label}{}", "─".repeat(fill)),
                    theme.style(role),
                )),
                rows[6],
            );
        }
    }
    // Body, with the template picker over it.
    frame.render_widget(&c.body, rows[7]);
    if let Mode::Templates { names, cursor } = &c.mode {
        let h = (names.len() as u16 + 2).min(rows[7].height);
        let w = names
            .iter()
            .map(|n| n.chars().count() as u16 + 4)
            .max()
            .unwrap_or(20)
            .max(30)
            .min(rows[7].width);
        let pick = Rect {
            x: rows[7].x,
            y: rows[7].y,
            width: w,
            height: h,
        };
        frame.render_widget(Clear, pick);
        let b = pane_block("Template — Enter insert · Esc close", true, theme);
        let list_area = b.inner(pick);
        frame.render_widget(b, pick);
        let skip = cursor.saturating_sub(list_area.height.saturating_sub(1) as usize);
        let lines: Vec<Line> = names
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(i, n)| {
                let role = if i == *cursor {
                    Role::Selected
                } else {
                    Role::Normal
                };
                Line::from(safe(n, theme.style(role)))
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), list_area);
    }
    // Template warnings
    let warn: Vec<Line> = warnings
        .iter()
        .take(3)
        .map(|w| Line::from(safe(&format!("⚠ {w}"), theme.style(Role::Warning))))
        .collect();
    frame.render_widget(Paragraph::new(warn), rows[8]);
    // Prompt
    match &c.mode {
        Mode::AttachPrompt { input, .. } => {
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled("Attach file: ", theme.style(Role::Accent)),
                    safe(&format!("{input}▏"), theme.style(Role::Normal)),
                    Span::styled(
                        "  Tab complete · Enter attach · Esc cancel",
                        theme.style(Role::Muted),
                    ),
                ])),
                rows[9],
            );
        }
        Mode::ConfirmClose { discard } => {
            let opt = |on: bool, t: &'static str| {
                Span::styled(
                    format!("{} {t}", if on { "(•)" } else { "( )" }),
                    theme.style(if on { Role::Selected } else { Role::Normal }),
                )
            };
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled("Close: ", theme.style(Role::Accent)),
                    opt(!*discard, "keep the draft (k)"),
                    Span::raw("  "),
                    opt(*discard, "discard it (d)"),
                    Span::styled(
                        "  Esc confirms · any other key: back to writing",
                        theme.style(Role::Muted),
                    ),
                ])),
                rows[9],
            );
        }
        _ => {}
    }
    if let Some(m) = &c.notice {
        frame.render_widget(
            Paragraph::new(crate::tui::panes::safe(
                &m.text,
                theme.style(if m.is_error { Role::Error } else { Role::Muted }),
            )),
            rows[10],
        );
    }
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
    frame.render_widget(Paragraph::new(status), rows[11]);
}
