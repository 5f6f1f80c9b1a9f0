//! Message list pane: only the rows in the window are drawn (and loaded).

use crate::store::flags;
use crate::tui::app::{App, Focus, View};
use crate::tui::panes::{fit, safe};
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::pane_block;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::List;
    let l = &app.list;
    let search = l.search.as_ref().filter(|_| l.view == View::Search);
    let place = match (search, l.view.label()) {
        (Some(s), _) if s.case.is_some() => s.query.clone(),
        (Some(s), _) => format!("Search: {}", s.query),
        (None, Some(v)) => format!("{}/{} · {v}", l.account, l.folder),
        (None, None) => format!("{}/{}", l.account, l.folder),
    };
    let title = if l.rows.is_empty() {
        if search.is_some() {
            format!("{place} — no mail found")
        } else {
            format!("{place} — empty")
        }
    } else if let Some(s) = search {
        format!(
            "{place} — {}–{} of {}{}",
            l.first_index + 1,
            l.first_index + l.rows.len() as u64,
            l.total,
            if s.more { "+" } else { "" }
        )
    } else if l.collapsed {
        format!("{place} — threads")
    } else {
        format!(
            "{place} {}–{} of {}",
            l.first_index + 1,
            l.first_index + l.rows.len() as u64,
            l.total.max(l.first_index + l.rows.len() as u64)
        )
    };
    let title = if l.marks.is_empty() {
        title
    } else {
        format!("{title} — {} marked", l.marks.len())
    };
    let inner_w = area.width.saturating_sub(2) as usize;
    let sender_w = (inner_w / 4).clamp(8, 24);
    let date_w = 12;
    let lines: Vec<Line> = l
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let f = row.entry.flags;
            let unread = f & flags::SEEN == 0;
            let selected = i == l.cursor;
            let marked = l.marks.contains_key(&row.summary.id);
            let mut style = if unread {
                theme.style(Role::Unread)
            } else {
                theme.style(Role::Normal)
            };
            if selected {
                style = theme.style(if focused {
                    Role::Selected
                } else {
                    Role::SelectedUnfocused
                });
            }
            let marks: String = [
                if unread { 'N' } else { ' ' },
                if f & flags::FLAGGED != 0 { '!' } else { ' ' },
                if f & flags::ANSWERED != 0 { 'r' } else { ' ' },
                if row.summary.has_attachments {
                    '@'
                } else {
                    ' '
                },
            ]
            .iter()
            .collect();
            let s = &row.summary;
            let reply = s.thread_id != s.id;
            let thread = if row.thread_size > 1 {
                format!("({}) ", row.thread_size)
            } else {
                String::new()
            };
            // A hit outside the searched-from account's INBOX says where it is.
            let place = match search.and_then(|x| x.places.get(&s.id).map(|p| (x, p))) {
                Some((x, (a, f))) if *a != x.home.0 => format!("{a}/{f} · "),
                Some((_, (_, f))) if f != "INBOX" => format!("{f} · "),
                _ => String::new(),
            };
            let subject = format!(
                "{place}{}{}{}",
                if reply { "↳ " } else { "" },
                thread,
                s.subject
            );
            let who = if s.status == crate::store::MailStatus::Sent {
                format!("To {}", s.to.first().map(|p| p.display()).unwrap_or(""))
            } else {
                s.sender().to_string()
            };
            let used = 4 + 1 + date_w + 1 + sender_w + 1;
            let subj_w = inner_w.saturating_sub(used);
            Line::from(vec![
                Span::styled(
                    marks,
                    if selected {
                        style
                    } else {
                        theme.style(Role::Flagged)
                    },
                ),
                // The marker has its own cell, so marks show without colour too.
                Span::styled(if marked { "*" } else { " " }, style),
                Span::styled(
                    fit(&app.clock.short_date(s.date), date_w),
                    if selected {
                        style
                    } else {
                        theme.style(Role::Muted)
                    },
                ),
                Span::styled(" ", style),
                Span::styled(fit(&who, sender_w), style),
                Span::styled(" ", style),
                Span::styled(fit(&subject, subj_w), style),
            ])
        })
        .collect();
    let body = if lines.is_empty() {
        vec![Line::from(Span::styled(
            if search.is_some() {
                "No mail matches: / changes the search, Esc goes back.".to_string()
            } else {
                empty_text(app)
            },
            theme.style(Role::Muted),
        ))]
    } else {
        lines
    };
    frame.render_widget(
        Paragraph::new(body).block(pane_block(
            safe(&title, ratatui::style::Style::default()),
            focused,
            theme,
        )),
        area,
    );
}

/// What an empty list says: a first sync still bringing mail is not "no mail".
fn empty_text(app: &App) -> String {
    use crate::protocol::SyncState;
    if app.list.account.is_empty() {
        return "No folder open: add an account to config.toml (see the README).".into();
    }
    match app.status.sync.get(&app.list.account) {
        Some(SyncState::Connecting) => {
            "Connecting to the server; mail shows here as it arrives…".into()
        }
        Some(SyncState::Syncing { done, total }) if *total > 0 => {
            format!("Fetching mail ({done} of {total}); it shows here as it arrives…")
        }
        Some(SyncState::Syncing { .. }) => "Fetching mail; it shows here as it arrives…".into(),
        _ => "No mail in this folder.".into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Record, RecordKind};
    use crate::tui::app::App;
    use crate::tui::keymap::Keymap;
    use crate::tui::theme::{ColorEnv, Theme};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    #[test]
    fn folder_names_and_record_stages_reach_the_screen_sanitised() {
        let mut app = App::new(Keymap::builtin("default").expect("keymap"));
        let theme = Theme::load("dark", None, ColorEnv::from_vars(false, None)).expect("theme");
        app.list.account = "support".into();
        app.list.folder = "Drafts\u{202e}exe.txt\u{9b}2J".into();
        let mut deal = Record::new(RecordKind::Deal, "Renewal");
        deal.fields
            .insert("stage".into(), "won\u{2066}\u{1b}[31m!".into());
        app.records.records = vec![deal];
        let mut term = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
        term.draw(|f| crate::tui::ui::draw(f, &app, &theme))
            .expect("draw");
        let screen: String = term
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        let bad: Vec<char> = screen
            .chars()
            .filter(|c| crate::mail::sanitize::is_forbidden_char(*c))
            .collect();
        assert!(bad.is_empty(), "on screen: {bad:?}");
        assert!(screen.contains("support/Drafts"), "{screen}");
    }
}
