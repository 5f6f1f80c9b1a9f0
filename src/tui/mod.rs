//! The terminal interface: guard, event loop, state, keymap, theme and panes.

pub mod action;
pub mod keymap;
pub mod theme;
