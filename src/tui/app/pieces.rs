//! Small pieces the overlays share: a list whose cursor always points at an
//! item, a one-line text input, and the status line's message.

use crate::tui::keymap::Key;
use crossterm::event::{KeyCode, KeyModifiers};

/// A list with a cursor kept on an item (0 when empty), so what is shown
/// selected is what Enter acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct PickList<T> {
    items: Vec<T>,
    cursor: usize,
}

impl<T> Default for PickList<T> {
    fn default() -> Self {
        PickList {
            items: Vec::new(),
            cursor: 0,
        }
    }
}

impl<T> PickList<T> {
    pub fn new(items: Vec<T>) -> PickList<T> {
        PickList { items, cursor: 0 }
    }

    pub fn items(&self) -> &[T] {
        &self.items
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn selected(&self) -> Option<&T> {
        self.items.get(self.cursor)
    }

    pub fn selected_mut(&mut self) -> Option<&mut T> {
        self.items.get_mut(self.cursor)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn down(&mut self, by: usize) {
        self.cursor = self.cursor.saturating_add(by);
        self.clamp();
    }

    pub fn up(&mut self, by: usize) {
        self.cursor = self.cursor.saturating_sub(by);
    }

    pub fn top(&mut self) {
        self.cursor = 0;
    }

    pub fn bottom(&mut self) {
        self.cursor = self.items.len().saturating_sub(1);
    }

    /// New items (a refresh): the cursor stays where it was when it can.
    pub fn set_items(&mut self, items: Vec<T>) {
        self.items = items;
        self.clamp();
    }

    /// Take the selected item out; the cursor moves to its neighbour.
    pub fn remove_selected(&mut self) -> Option<T> {
        if self.cursor >= self.items.len() {
            return None;
        }
        let it = self.items.remove(self.cursor);
        self.clamp();
        Some(it)
    }

    fn clamp(&mut self) {
        self.cursor = self.cursor.min(self.items.len().saturating_sub(1));
    }
}

/// One line of typed text: palette filters, pickers and prompts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    text: String,
}

impl LineInput {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Type `key`: a character is appended, Backspace removes the last one.
    /// Whether the text changed.
    pub fn key(&mut self, key: &Key) -> bool {
        match key.code {
            KeyCode::Char(c) if !key.mods.contains(KeyModifiers::CONTROL) => {
                self.text.push(c);
                true
            }
            KeyCode::Backspace => self.text.pop().is_some(),
            _ => false,
        }
    }
}

impl From<&str> for LineInput {
    fn from(s: &str) -> Self {
        LineInput { text: s.into() }
    }
}

/// What the status line says: a notice, or an error shown as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMessage {
    pub text: String,
    pub is_error: bool,
}

impl StatusMessage {
    pub fn notice(text: impl Into<String>) -> StatusMessage {
        StatusMessage {
            text: text.into(),
            is_error: false,
        }
    }

    pub fn error(text: impl Into<String>) -> StatusMessage {
        StatusMessage {
            text: text.into(),
            is_error: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_never_moves_past_the_last_item() {
        let mut l = PickList::new(vec!["a", "b", "c"]);
        l.down(10);
        assert_eq!(l.selected(), Some(&"c"));
        l.set_items(vec!["a"]);
        assert_eq!(l.selected(), Some(&"a"));
        assert_eq!(l.remove_selected(), Some("a"));
        assert_eq!(l.selected(), None);
        l.down(1);
        assert_eq!(l.cursor(), 0);
    }

    #[test]
    fn removing_the_last_item_selects_the_one_before() {
        let mut l = PickList::new(vec![1, 2, 3]);
        l.bottom();
        assert_eq!(l.remove_selected(), Some(3));
        assert_eq!(l.selected(), Some(&2));
    }

    #[test]
    fn line_input_types_and_erases_but_ignores_control_keys() {
        let mut i = LineInput::default();
        for k in ["a", "b", "<C-a>", "<BS>"] {
            i.key(&k.parse::<Key>().expect("key"));
        }
        assert_eq!(i.as_str(), "a");
    }
}
