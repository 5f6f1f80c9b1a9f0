//! The triage dashboard: open cases per agent as a bar chart (the selected
//! bar highlighted), incoming mail per hour over the last day as a
//! sparkline, the oldest unanswered case and today's median first response.

use crate::mail::format::Clock;
use crate::tui::app::DashboardScreen;
use crate::tui::panes::cases::{ago, short_agent};
use crate::tui::panes::safe;
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::pane_block;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Clear, Paragraph, Sparkline};

/// "1h 20m", "45m", "2d 3h": a duration in at most two units.
pub fn duration(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, clock: &Clock, d: &DashboardScreen, theme: &Theme) {
    let r = Rect {
        height: area.height.saturating_sub(1),
        ..area
    };
    frame.render_widget(Clear, r);
    let block = pane_block("Triage dashboard", true, theme)
        .title_bottom("←/→ agent  Enter their queue  K cases  Esc close");
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let spark_h = if inner.height >= 30 { 8 } else { 4 };
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Min(5),
            Constraint::Length(spark_h),
            Constraint::Length(4),
        ])
        .split(inner);

    let data = &d.data;
    let n = data.open_by_agent.len().max(1) as u16;
    let bar_w = (parts[0].width.saturating_sub(2) / n)
        .saturating_sub(2)
        .clamp(3, 24);
    let bars: Vec<Bar> = data
        .open_by_agent
        .iter()
        .enumerate()
        .map(|(i, (email, name, count))| {
            let label = if email.is_empty() {
                "nobody".to_string()
            } else {
                name.split_whitespace()
                    .next()
                    .unwrap_or(short_agent(email))
                    .to_string()
            };
            let selected = i == d.bar;
            // Brackets and a reversed label mark the choice even without colour.
            let label = if selected {
                format!("[{label}]")
            } else {
                label
            };
            let label = crate::mail::sanitize::truncate_to_width(
                &crate::mail::sanitize::sanitize_line(&label),
                bar_w as usize,
            );
            let label_role = if selected {
                Role::Selected
            } else {
                Role::Normal
            };
            let role = if email.is_empty() {
                Role::Warning
            } else {
                Role::Accent
            };
            Bar::default()
                .value(*count)
                .label(Line::styled(label, theme.style(label_role)))
                .style(theme.style(role))
        })
        .collect();
    let selected = data
        .open_by_agent
        .get(d.bar)
        .map(|(e, name, c)| {
            let who = if e.is_empty() {
                "nobody"
            } else {
                name.as_str()
            };
            format!("Open cases per agent — {who}: {c}")
        })
        .unwrap_or_else(|| "Open cases per agent".into());
    let chart = BarChart::default()
        .block(pane_block(
            Line::from(safe(&selected, theme.style(Role::Title))),
            false,
            theme,
        ))
        .data(BarGroup::default().bars(&bars))
        .bar_width(bar_w)
        .bar_gap(2)
        .value_style(theme.style(Role::Normal))
        .label_style(theme.style(Role::Normal));
    frame.render_widget(chart, parts[0]);

    let total: u64 = data.incoming_per_hour.iter().sum();
    let peak = data.incoming_per_hour.iter().copied().max().unwrap_or(0);
    // Each hour is drawn as wide as the pane allows, so 24 hours fill it.
    let per = (parts[1].width.saturating_sub(2) as usize / 24).max(1);
    let wide: Vec<u64> = data
        .incoming_per_hour
        .iter()
        .flat_map(|v| std::iter::repeat_n(*v, per))
        .collect();
    let spark = Sparkline::default()
        .block(pane_block(
            format!("Incoming mail per hour, last 24 h — {total} in all, peak {peak}/h"),
            false,
            theme,
        ))
        .data(&wide)
        .style(theme.style(Role::Accent));
    frame.render_widget(spark, parts[1]);

    let (oldest, detail) = match &data.oldest_unanswered {
        Some(c) => {
            let who = if c.assignee.is_empty() {
                "unassigned".to_string()
            } else {
                short_agent(&c.assignee).to_string()
            };
            (
                format!("#{} {}", c.number, c.record.name),
                format!(
                    "{}, waiting {}, {who}",
                    c.customer,
                    ago(clock, c.waiting_since())
                ),
            )
        }
        None => ("none: every open case has an answer".into(), String::new()),
    };
    let median = match data.first_response_median_today {
        Some(m) => format!(
            "median {} over {} case{}",
            duration(m),
            data.answered_today,
            if data.answered_today == 1 { "" } else { "s" }
        ),
        None => "no case answered yet today".into(),
    };
    let lines = vec![
        Line::from(vec![
            Span::styled("Oldest unanswered: ", theme.style(Role::Header)),
            safe(&oldest, theme.style(Role::Normal)),
        ]),
        Line::from(vec![
            Span::raw("                   "),
            safe(&detail, theme.style(Role::Muted)),
        ]),
        Line::from(vec![
            Span::styled("First response today: ", theme.style(Role::Header)),
            safe(&median, theme.style(Role::Normal)),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines), parts[2]);
}
