//! Layout and the top-level draw. Drawing is pure: it reads `App` and the
//! theme and writes cells; it never changes state and never does I/O.

use crate::tui::app::{App, Focus, Overlay};
use crate::tui::panes;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::widgets::{Block, Borders};

/// Where each pane goes for a terminal size. `None`: collapsed at this size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub folders: Option<Rect>,
    pub list: Rect,
    pub reader: Option<Rect>,
    pub records: Option<Rect>,
    pub status: Rect,
}

pub fn layout(area: Rect, focus: Focus) -> Areas {
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(1), Constraint::Length(1)])
        .split(area);
    let (main, status) = (rows[0], rows[1]);
    let split_v = |r: Rect, top_pct: u16, min_top: u16| {
        let top = (r.height * top_pct / 100).max(min_top).min(r.height);
        let parts = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Length(top), Constraint::Min(0)])
            .split(r);
        (parts[0], parts[1])
    };
    if area.width >= 140 {
        let cols = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([
                Constraint::Length(26),
                Constraint::Min(40),
                Constraint::Length(40),
            ])
            .split(main);
        let (list, reader) = split_v(cols[1], 40, 8);
        Areas {
            folders: Some(cols[0]),
            list,
            reader: Some(reader),
            records: Some(cols[2]),
            status,
        }
    } else if area.width >= 60 && area.height >= 16 {
        let cols = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Length(22), Constraint::Min(30)])
            .split(main);
        let (folders, records) = split_v(cols[0], 55, 6);
        let (list, reader) = split_v(cols[1], 40, 8);
        Areas {
            folders: Some(folders),
            list,
            reader: Some(reader),
            records: Some(records),
            status,
        }
    } else {
        // Too small for side by side: the focused pane takes the screen.
        let mut a = Areas {
            folders: None,
            list: main,
            reader: None,
            records: None,
            status,
        };
        match focus {
            Focus::Folders => a.folders = Some(main),
            Focus::Reader => a.reader = Some(main),
            Focus::Records => a.records = Some(main),
            Focus::List => {}
        }
        a
    }
}

/// Rows of mail the list pane can show at this size.
pub fn list_rows(area: Rect, focus: Focus) -> usize {
    layout(area, focus).list.height.saturating_sub(2) as usize
}

/// Width available to the reader's text.
pub fn reader_width(area: Rect, focus: Focus) -> usize {
    layout(area, focus)
        .reader
        .map(|r| r.width.saturating_sub(2) as usize)
        .unwrap_or(80)
}

pub fn pane_block<'a>(
    title: impl Into<ratatui::text::Line<'a>>,
    focused: bool,
    theme: &Theme,
) -> Block<'a> {
    let border = if focused {
        Role::BorderFocused
    } else {
        Role::Border
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(border))
        .title(title)
        .title_style(theme.style(if focused { Role::Title } else { Role::Muted }))
}

pub fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    let area = frame.area();
    let a = layout(area, app.focus);
    if let Some(r) = a.folders {
        panes::folders::draw(frame, r, app, theme);
    }
    let narrow_hidden = a.list == a.folders.unwrap_or_default()
        || Some(a.list) == a.reader
        || Some(a.list) == a.records;
    if !narrow_hidden {
        panes::list::draw(frame, a.list, app, theme);
    }
    if let Some(r) = a.reader {
        panes::reader::draw(frame, r, app, theme);
    }
    if let Some(r) = a.records {
        panes::records::draw(frame, r, app, theme);
    }
    panes::status::draw(frame, a.status, app, theme);
    match &app.overlay {
        Some(Overlay::Help { scroll }) => panes::help::draw(frame, area, app, *scroll, theme),
        Some(Overlay::Palette { input, matches }) => {
            panes::palette::draw(frame, area, input.as_str(), matches, theme)
        }
        Some(Overlay::Picker(p)) => panes::palette::draw_picker(frame, area, p, theme),
        Some(Overlay::Record(card)) => {
            panes::record_card::draw(frame, area, card, &app.clock, theme)
        }
        Some(Overlay::Compose(c)) => panes::compose::draw(frame, area, c, theme),
        Some(Overlay::Form(f)) => panes::form::draw(frame, area, f, theme),
        Some(Overlay::Notifications(l)) => {
            panes::form::draw_notifications(frame, area, l.items(), l.cursor(), theme)
        }
        Some(Overlay::Drafts(l)) => {
            panes::form::draw_drafts(frame, area, l.items(), l.cursor(), theme)
        }
        Some(Overlay::Trash(l)) => {
            panes::form::draw_trash(frame, area, l.items(), l.cursor(), theme)
        }
        Some(Overlay::Prompt(p)) => {
            panes::palette::draw_prompt(frame, area, &p.label, p.input.as_str(), theme)
        }
        Some(Overlay::Accounts(s)) => panes::accounts::draw(frame, area, app, s, theme),
        Some(Overlay::Cases(s)) => panes::cases::draw(frame, area, &app.clock, s, theme),
        Some(Overlay::Dashboard(d)) => panes::dashboard::draw(frame, area, &app.clock, d, theme),
        Some(Overlay::Outbox(l)) => {
            panes::outbox::draw(frame, area, l.items(), l.cursor(), &app.clock, theme)
        }
        Some(Overlay::Filters(s)) => panes::filters::draw(frame, area, s, theme),
        Some(Overlay::Search(line)) => panes::search::draw_line(frame, area, a.status, line, theme),
        None => {}
    }
}

/// A centred rectangle `pct_w`% × `pct_h`% of `area` (at least 40×10 when it fits).
pub fn centered(area: Rect, pct_w: u16, pct_h: u16) -> Rect {
    let w = (area.width * pct_w / 100).max(40.min(area.width));
    let h = (area.height * pct_h / 100).max(10.min(area.height));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
