//! Key bindings: keymap files, chords and lookup.
//!
//! A keymap file has one array of tables per [`Context`]:
//!
//! ```toml
//! [[list]]
//! on = "g g"                 # or on = ["g", "g"]
//! run = "go_top"             # or run = ["move_down", "open"]
//! desc = "First mail"        # optional; defaults to the action's description
//! ```
//!
//! `run = []` (or `run = "noop"`) unbinds the key in that context, which also
//! hides any `[[global]]` binding of the same keys there.
//!
//! Lookup order is: the context's own table, then `[[global]]`. In the text
//! entry contexts ([`Context::Compose`] and [`Context::Palette`]) the global
//! table is only consulted for keys with Ctrl/Alt or function keys, so typing
//! `q` into a mail never quits. When a binding exists for a key sequence and
//! also for a longer sequence starting with it, the shorter one wins.
//!
//! The shipped keymaps (`default`, vim-flavoured, and `emacs`) are compiled
//! in; a user file overrides them binding by binding (same keys in the same
//! context replace the shipped binding).

mod key;
mod parse;

use parse::Parser;

pub use key::{Key, KeyParseError};

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyModifiers};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::tui::action::Action;

/// Where a binding applies.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Context {
    Global,
    Folders,
    List,
    Reader,
    Records,
    Compose,
    Outbox,
    Notifications,
    Trash,
    Drafts,
    /// The accounts list (its form is a text-entry `Compose` context).
    Accounts,
    /// The case queue (its agent and status pickers are `Palette`).
    Cases,
    Dashboard,
    Help,
    Palette,
}

impl Context {
    /// Every context, in the order used for error messages.
    pub const ALL: &'static [Context] = &[
        Context::Global,
        Context::Folders,
        Context::List,
        Context::Reader,
        Context::Records,
        Context::Compose,
        Context::Outbox,
        Context::Notifications,
        Context::Trash,
        Context::Drafts,
        Context::Accounts,
        Context::Cases,
        Context::Dashboard,
        Context::Help,
        Context::Palette,
    ];

    /// The `snake_case` table name used in keymap files.
    pub fn name(&self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Folders => "folders",
            Context::List => "list",
            Context::Reader => "reader",
            Context::Records => "records",
            Context::Compose => "compose",
            Context::Outbox => "outbox",
            Context::Notifications => "notifications",
            Context::Trash => "trash",
            Context::Drafts => "drafts",
            Context::Accounts => "accounts",
            Context::Cases => "cases",
            Context::Dashboard => "dashboard",
            Context::Help => "help",
            Context::Palette => "palette",
        }
    }

    /// Contexts where plain keys are text typed by the user.
    pub fn is_text_entry(&self) -> bool {
        matches!(self, Context::Compose | Context::Palette)
    }

    /// Whether `[[global]]` bindings starting with `first` apply here.
    fn uses_global(&self, first: &Key) -> bool {
        match self {
            Context::Global => false,
            c if c.is_text_entry() => {
                first
                    .mods
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
                    || matches!(first.code, KeyCode::F(_))
            }
            _ => true,
        }
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Context {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Context::ALL
            .iter()
            .copied()
            .find(|c| c.name() == s)
            .ok_or(())
    }
}

/// One binding: a key sequence and what it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The key sequence (one key, or a chord such as `g g`).
    pub keys: Vec<Key>,
    /// Actions run in order; empty means "explicitly unbound".
    pub actions: Vec<Action>,
    /// Description shown in help and which-key hints.
    pub desc: String,
}

/// Result of [`Keymap::lookup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyResult {
    /// The sequence is complete: run these actions and clear the pending keys.
    Actions(Vec<Action>),
    /// The sequence is a prefix of one or more bindings: keep it pending and
    /// show these hints (which-key style).
    Pending(Vec<Hint>),
    /// Nothing is bound: clear the pending keys. In text entry contexts an
    /// unbound key with no pending keys should go to the text widget.
    Unbound,
}

/// A possible next key while a chord is pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub key: Key,
    /// The binding's description, or `+N more` when `key` leads to further keys.
    pub desc: String,
    /// True when pressing `key` still leaves a chord pending.
    pub is_prefix: bool,
}

/// One line of the help overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpEntry {
    /// The key sequence, e.g. `g g` or `<C-x> <C-c>`.
    pub keys: String,
    pub desc: String,
    /// The table the binding comes from (the asked context or `Global`).
    pub context: Context,
}

const KEY_EXAMPLES: &str = "(expected e.g. \"j\", \"<C-r>\", \"<Enter>\")";

/// Errors loading a keymap. File errors carry the file and 1-based line.
#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    #[error("{file}: cannot read keymap: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("{file} line {line}: invalid TOML: {message}")]
    Toml {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file} line {line}: unknown key \"{key}\" in [[{context}]] {KEY_EXAMPLES}")]
    UnknownKey {
        file: String,
        line: usize,
        key: String,
        context: Context,
    },
    #[error(
        "{file} line {line}: unknown action \"{action}\" in [[{context}]] (expected e.g. \"move_down\", \"reply\", \"open\")"
    )]
    UnknownAction {
        file: String,
        line: usize,
        action: String,
        context: Context,
    },
    #[error(
        "{file} line {line}: unknown context [[{context}]] (expected one of: global, folders, list, reader, records, compose, outbox, help, palette)"
    )]
    UnknownContext {
        file: String,
        line: usize,
        context: String,
    },
    #[error("{file} line {line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
    #[error("unknown keymap \"{name}\" (available: {available})")]
    UnknownKeymap { name: String, available: String },
}

impl KeymapError {
    /// The file the error is in, if it comes from a file.
    pub fn file(&self) -> Option<&str> {
        match self {
            KeymapError::Io { file, .. }
            | KeymapError::Toml { file, .. }
            | KeymapError::UnknownKey { file, .. }
            | KeymapError::UnknownAction { file, .. }
            | KeymapError::UnknownContext { file, .. }
            | KeymapError::Invalid { file, .. } => Some(file),
            KeymapError::UnknownKeymap { .. } => None,
        }
    }

    /// The 1-based line of the bad entry, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            KeymapError::Toml { line, .. }
            | KeymapError::UnknownKey { line, .. }
            | KeymapError::UnknownAction { line, .. }
            | KeymapError::UnknownContext { line, .. }
            | KeymapError::Invalid { line, .. } => Some(*line),
            KeymapError::Io { .. } | KeymapError::UnknownKeymap { .. } => None,
        }
    }
}

const BUILTINS: &[(&str, &str, &str)] = &[
    (
        "default",
        "keymaps/default.toml",
        include_str!("../../../keymaps/default.toml"),
    ),
    (
        "emacs",
        "keymaps/emacs.toml",
        include_str!("../../../keymaps/emacs.toml"),
    ),
];

/// A set of bindings per context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keymap {
    tables: BTreeMap<Context, Vec<Binding>>,
}

impl Keymap {
    /// Names accepted by [`Keymap::builtin`].
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTINS.iter().map(|(n, _, _)| *n)
    }

    /// A shipped keymap: `default` (vim-like) or `emacs`.
    pub fn builtin(name: &str) -> Result<Keymap, KeymapError> {
        let (_, origin, src) = BUILTINS
            .iter()
            .find(|(n, _, _)| *n == name)
            .ok_or_else(|| KeymapError::UnknownKeymap {
                name: name.to_owned(),
                available: Keymap::builtin_names().collect::<Vec<_>>().join(", "),
            })?;
        Keymap::parse(src, Path::new(origin))
    }

    /// Parses a keymap file; `origin` is only used in error messages.
    pub fn parse(src: &str, origin: &Path) -> Result<Keymap, KeymapError> {
        Parser {
            src,
            file: origin.display().to_string(),
        }
        .parse()
    }

    /// The shipped keymap `name`, overridden by `user_file` when it exists.
    pub fn load(name: &str, user_file: Option<&Path>) -> Result<Keymap, KeymapError> {
        let mut keymap = Keymap::builtin(name)?;
        if let Some(path) = user_file {
            match crate::config::read_optional(path) {
                Ok(Some(src)) => keymap.merge(Keymap::parse(&src, path)?),
                Ok(None) => {}
                Err(source) => {
                    return Err(KeymapError::Io {
                        file: path.display().to_string(),
                        source,
                    });
                }
            }
        }
        Ok(keymap)
    }

    /// Applies `overrides` on top of `self`: a binding with the same keys in
    /// the same context is replaced in place, others are appended.
    pub fn merge(&mut self, overrides: Keymap) {
        for (ctx, bindings) in overrides.tables {
            let table = self.tables.entry(ctx).or_default();
            for b in bindings {
                match table.iter_mut().find(|old| old.keys == b.keys) {
                    Some(old) => *old = b,
                    None => table.push(b),
                }
            }
        }
    }

    /// The bindings of one context (not including `[[global]]`), in file order.
    pub fn bindings(&self, ctx: Context) -> &[Binding] {
        self.tables.get(&ctx).map(Vec::as_slice).unwrap_or(&[])
    }

    fn layers(&self, ctx: Context, first: &Key) -> Vec<&[Binding]> {
        let mut layers = vec![self.bindings(ctx)];
        if ctx.uses_global(first) {
            layers.push(self.bindings(Context::Global));
        }
        layers
    }

    /// Resolves `key` pressed after the `pending` keys of a chord.
    pub fn lookup(&self, ctx: Context, pending: &[Key], key: Key) -> KeyResult {
        let mut seq = pending.to_vec();
        seq.push(key);
        let layers = self.layers(ctx, &seq[0]);
        for (i, layer) in layers.iter().enumerate() {
            if let Some(b) = layer.iter().find(|b| b.keys == seq) {
                return if b.actions.is_empty() {
                    KeyResult::Unbound
                } else {
                    KeyResult::Actions(b.actions.clone())
                };
            }
            if layer.iter().any(|b| is_continuation(b, &seq)) {
                return KeyResult::Pending(hints(&layers[i..], &seq));
            }
        }
        KeyResult::Unbound
    }

    /// Help entries for `ctx`: its own bindings, then the global ones that
    /// are reachable there, each in file order. Unbound keys are omitted.
    pub fn help(&self, ctx: Context) -> Vec<HelpEntry> {
        self.reachable(ctx)
            .into_iter()
            .map(|(b, context)| help_entry(b, context))
            .collect()
    }

    /// The key sequences that run exactly `[action]` in `ctx` (own table
    /// first, then reachable global ones), for showing shortcuts next to
    /// command palette entries.
    pub fn keys_for(&self, ctx: Context, action: Action) -> Vec<String> {
        self.reachable(ctx)
            .into_iter()
            .filter(|(b, _)| b.actions == [action])
            .map(|(b, _)| Key::sequence_to_string(&b.keys))
            .collect()
    }

    fn reachable(&self, ctx: Context) -> Vec<(&Binding, Context)> {
        let own = self.bindings(ctx);
        let mut out: Vec<(&Binding, Context)> = own
            .iter()
            .filter(|b| !b.actions.is_empty())
            .map(|b| (b, ctx))
            .collect();
        if ctx != Context::Global {
            out.extend(
                self.bindings(Context::Global)
                    .iter()
                    .filter(|b| !b.actions.is_empty())
                    .filter(|b| b.keys.first().is_some_and(|k| ctx.uses_global(k)))
                    .filter(|b| !shadowed(own, &b.keys))
                    .map(|b| (b, Context::Global)),
            );
        }
        out
    }
}

fn help_entry(b: &Binding, context: Context) -> HelpEntry {
    HelpEntry {
        keys: Key::sequence_to_string(&b.keys),
        desc: b.desc.clone(),
        context,
    }
}

/// True when `b` is a live binding strictly longer than `seq` starting with it.
fn is_continuation(b: &Binding, seq: &[Key]) -> bool {
    !b.actions.is_empty() && b.keys.len() > seq.len() && b.keys.starts_with(seq)
}

/// Whether a global binding for `keys` is hidden by the context's own table:
/// some prefix of it (or itself) is bound or unbound there, or it is a
/// prefix of a context chord.
fn shadowed(own: &[Binding], keys: &[Key]) -> bool {
    own.iter()
        .any(|b| keys.starts_with(&b.keys) || (b.keys.starts_with(keys) && !b.actions.is_empty()))
        || (1..keys.len()).any(|n| own.iter().any(|b| is_continuation(b, &keys[..n])))
}

fn hints(layers: &[&[Binding]], seq: &[Key]) -> Vec<Hint> {
    let mut out: Vec<Hint> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    for layer in layers {
        let before = out.len();
        for b in layer.iter().filter(|b| is_continuation(b, seq)) {
            let next = b.keys[seq.len()];
            let is_prefix = b.keys.len() > seq.len() + 1;
            match out.iter().position(|h| h.key == next) {
                // An earlier layer already decided what this key does.
                Some(i) if i < before => {}
                Some(i) => {
                    if is_prefix && out[i].is_prefix {
                        counts[i] += 1;
                    }
                }
                None => {
                    out.push(Hint {
                        key: next,
                        desc: b.desc.clone(),
                        is_prefix,
                    });
                    counts.push(1);
                }
            }
        }
    }
    for (h, n) in out.iter_mut().zip(counts) {
        if h.is_prefix {
            h.desc = format!("+{n} more");
        }
    }
    out
}

#[cfg(test)]
mod tests;
