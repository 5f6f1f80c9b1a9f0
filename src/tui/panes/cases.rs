//! The Cases view: the mine / team / unassigned tabs with their counts, the
//! queue oldest waiting first (number, customer, subject, assignee, status,
//! age, waiting) and the agent or status picker. Draws only; text is sanitised.

use crate::mail::format::Clock;
use crate::protocol::CaseRow;
use crate::tui::app::{CasePicker, CaseTab, CasesScreen, PickPurpose};
use crate::tui::panes::{fit, safe};
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::{centered, pane_block};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

/// "45m", "5h", "12d": how long ago `since` was, in one short word.
pub fn ago(clock: &Clock, since: i64) -> String {
    let s = (clock.now - since).max(0);
    match s {
        s if s < 3_600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// An agent's address as a column shows it: the part before the @.
pub fn short_agent(email: &str) -> &str {
    email.split('@').next().unwrap_or(email)
}

struct Columns {
    number: usize,
    customer: usize,
    subject: usize,
    assignee: usize,
    status: usize,
    age: usize,
    waiting: usize,
}

impl Columns {
    fn for_width(w: usize) -> Columns {
        let wide = w >= 120;
        let mut c = Columns {
            number: 6,
            customer: if wide { 24 } else { 15 },
            subject: 0,
            assignee: if wide { 14 } else { 8 },
            status: 9,
            age: 4,
            waiting: 7,
        };
        let fixed = c.number + c.customer + c.assignee + c.status + c.age + c.waiting + 6;
        c.subject = w.saturating_sub(fixed).max(8);
        c
    }

    fn line(&self, cells: [&str; 7]) -> String {
        let [n, cu, su, a, st, ag, wa] = cells;
        format!(
            "{} {} {} {} {} {:>age$} {:>wait$}",
            fit(n, self.number),
            fit(cu, self.customer),
            fit(su, self.subject),
            fit(a, self.assignee),
            fit(st, self.status),
            fit(ag, self.age).trim_end(),
            fit(wa, self.waiting).trim_end(),
            age = self.age,
            wait = self.waiting,
        )
    }
}

fn row_text(c: &CaseRow, cols: &Columns, clock: &Clock) -> String {
    let assignee = if c.assignee.is_empty() {
        "—"
    } else {
        short_agent(&c.assignee)
    };
    cols.line([
        &format!("#{}", c.number),
        &c.customer,
        &c.record.name,
        assignee,
        &c.status,
        &ago(clock, c.opened),
        &ago(clock, c.waiting_since()),
    ])
}

pub fn draw(frame: &mut Frame, area: Rect, clock: &Clock, s: &CasesScreen, theme: &Theme) {
    // The status line stays visible below: it says what a key did.
    let r = Rect {
        height: area.height.saturating_sub(1),
        ..area
    };
    frame.render_widget(Clear, r);
    let width = r.width.saturating_sub(2) as usize;
    let cols = Columns::for_width(width);
    let mut tabs: Vec<Span> = vec![Span::raw(" ")];
    for t in CaseTab::ALL {
        let label = format!(" {} ({}) ", t.label(), s.count(t));
        let role = if t == s.tab {
            Role::Selected
        } else {
            Role::Muted
        };
        tabs.push(Span::styled(label, theme.style(role)));
        tabs.push(Span::raw(" "));
    }
    let mut filter = format!("status: {}", s.status.label());
    if let (CaseTab::Team, Some(a)) = (s.tab, &s.agent) {
        filter.push_str(&format!(" · agent: {}", short_agent(a)));
    }
    tabs.push(safe(&filter, theme.style(Role::Accent)));
    let mut lines = vec![
        Line::from(tabs),
        Line::from(Span::styled(
            cols.line([
                "Case", "Customer", "Subject", "Assignee", "Status", "Age", "Waiting",
            ]),
            theme.style(Role::Header),
        )),
    ];
    let rows_h = (r.height as usize).saturating_sub(4);
    let items = s.list.items();
    if items.is_empty() {
        lines.push(Line::from(Span::styled(
            "No case here: Tab shows the other queues, f the other statuses.",
            theme.style(Role::Muted),
        )));
    }
    let first = s.list.cursor().saturating_sub(rows_h.saturating_sub(1));
    for (i, c) in items.iter().enumerate().skip(first).take(rows_h) {
        let role = if i == s.list.cursor() {
            Role::Selected
        } else if c.is_open() {
            Role::Normal
        } else {
            Role::Muted
        };
        // Every cell went through `fit`, the sanitiser: the padding stays.
        lines.push(Line::from(Span::styled(
            row_text(c, &cols, clock),
            theme.style(role),
        )));
    }
    let block = pane_block("Cases — oldest waiting first", true, theme)
        .title_bottom("Enter mail  t take  a assign  s status  x close  f filter  c write  Esc");
    frame.render_widget(Paragraph::new(lines).block(block), r);
    if let Some(p) = &s.picker {
        draw_picker(frame, r, p, theme);
    }
}

fn draw_picker(frame: &mut Frame, area: Rect, p: &CasePicker, theme: &Theme) {
    let r = centered(area, 50, 50);
    frame.render_widget(Clear, r);
    let width = r.width.saturating_sub(2) as usize;
    let mut lines = vec![Line::from(vec![
        Span::styled("> ", theme.style(Role::Accent)),
        safe(p.input.as_str(), theme.style(Role::Normal)),
    ])];
    for (i, (_, label)) in p.matches.items().iter().enumerate() {
        let role = if i == p.matches.cursor() {
            Role::Selected
        } else {
            Role::Normal
        };
        lines.push(Line::from(safe(&fit(label, width), theme.style(role))));
    }
    let title = match p.purpose {
        PickPurpose::Assign => "Assign to (type to filter)",
        PickPurpose::Status => "Set status (type to filter)",
    };
    let block = pane_block(title, true, theme).title_bottom("Enter pick  Esc cancel");
    frame.render_widget(Paragraph::new(lines).block(block), r);
}
