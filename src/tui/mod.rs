//! The terminal interface: guard, event loop, state, keymap, theme and panes.

pub mod keymap;
pub mod theme;
