//! One file per pane or overlay; each exposes a pure `draw`.

pub mod accounts;
pub mod cases;
pub mod compose;
pub mod dashboard;
pub mod filters;
pub mod folders;
pub mod form;
pub mod help;
pub mod list;
pub mod outbox;
pub mod palette;
pub mod reader;
pub mod record_card;
pub mod records;
pub mod search;
pub mod status;

use crate::mail::sanitize::sanitize_line;
use ratatui::style::Style;
use ratatui::text::Span;

/// The only way text from a mail or server becomes a `Span`.
pub fn safe<'a>(text: &str, style: Style) -> Span<'a> {
    Span::styled(sanitize_line(text), style)
}

/// Fit `text` (sanitised) into `width` columns, padding with spaces.
pub fn fit(text: &str, width: usize) -> String {
    let s = crate::mail::sanitize::truncate_to_width(&sanitize_line(text), width);
    let w = crate::mail::sanitize::display_width(&s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}
