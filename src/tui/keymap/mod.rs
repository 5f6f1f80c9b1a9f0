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

/// Line (1-based) of a byte offset.
fn line_of(src: &str, offset: usize) -> usize {
    let end = offset.min(src.len());
    src.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

struct Parser<'a> {
    src: &'a str,
    file: String,
}

impl Parser<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        line_of(self.src, span.start)
    }

    fn invalid(&self, span: &Range<usize>, message: impl Into<String>) -> KeymapError {
        KeymapError::Invalid {
            file: self.file.clone(),
            line: self.line(span),
            message: message.into(),
        }
    }

    fn parse(&self) -> Result<Keymap, KeymapError> {
        let doc = DeTable::parse(self.src).map_err(|e| KeymapError::Toml {
            file: self.file.clone(),
            line: e.span().map_or(1, |s| self.line(&s)),
            message: e.message().trim().to_owned(),
        })?;
        let mut entries: Vec<_> = doc.get_ref().iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        let mut keymap = Keymap::default();
        for (name, value) in entries {
            let ctx: Context =
                name.get_ref()
                    .parse()
                    .map_err(|()| KeymapError::UnknownContext {
                        file: self.file.clone(),
                        line: self.line(&name.span()),
                        context: name.get_ref().to_string(),
                    })?;
            let DeValue::Array(items) = value.get_ref() else {
                return Err(self.invalid(
                    &name.span(),
                    format!(
                        "[{ctx}] must be an array of tables: write [[{ctx}]] before each binding"
                    ),
                ));
            };
            let mut lines: Vec<usize> = Vec::new();
            for item in items {
                let binding = self.binding(ctx, item, &name.span())?;
                let table = keymap.tables.entry(ctx).or_default();
                let line = self.line(&item.span());
                if let Some(i) = table.iter().position(|b| b.keys == binding.keys) {
                    return Err(self.invalid(
                        &item.span(),
                        format!(
                            "\"{}\" is bound twice in [[{ctx}]] (first at line {})",
                            Key::sequence_to_string(&binding.keys),
                            lines[i]
                        ),
                    ));
                }
                table.push(binding);
                lines.push(line);
            }
        }
        Ok(keymap)
    }

    fn binding(
        &self,
        ctx: Context,
        item: &Spanned<DeValue<'_>>,
        header: &Range<usize>,
    ) -> Result<Binding, KeymapError> {
        let DeValue::Table(table) = item.get_ref() else {
            return Err(self.invalid(
                header,
                format!("[[{ctx}]] entries must be tables with `on` and `run`"),
            ));
        };
        let mut on = None;
        let mut run = None;
        let mut desc = None;
        for (k, v) in table.iter() {
            match k.get_ref().as_ref() {
                "on" => on = Some(self.keys(ctx, v)?),
                "run" => run = Some(self.actions(ctx, v)?),
                "desc" => match v.get_ref() {
                    DeValue::String(s) => desc = Some(s.to_string()),
                    other => {
                        return Err(self.invalid(
                            &v.span(),
                            format!(
                                "`desc` in [[{ctx}]] must be a string, not {}",
                                other.type_str()
                            ),
                        ));
                    }
                },
                other => {
                    return Err(self.invalid(
                        &k.span(),
                        format!(
                            "unknown field `{other}` in [[{ctx}]] (expected `on`, `run` or `desc`)"
                        ),
                    ));
                }
            }
        }
        let at = if item.span().is_empty() {
            header.clone()
        } else {
            item.span()
        };
        let keys = on.ok_or_else(|| self.invalid(&at, format!("[[{ctx}]] entry has no `on`")))?;
        let actions =
            run.ok_or_else(|| self.invalid(&at, format!("[[{ctx}]] entry has no `run`")))?;
        let desc = desc.unwrap_or_else(|| {
            actions
                .iter()
                .map(Action::describe)
                .collect::<Vec<_>>()
                .join(", ")
        });
        Ok(Binding {
            keys,
            actions,
            desc,
        })
    }

    /// Strings of a string-or-array value, each with its span.
    fn strings<'v>(
        &self,
        ctx: Context,
        field: &str,
        v: &'v Spanned<DeValue<'_>>,
    ) -> Result<Vec<(&'v str, Range<usize>)>, KeymapError> {
        match v.get_ref() {
            DeValue::String(s) => Ok(vec![(s.as_ref(), v.span())]),
            DeValue::Array(items) => items
                .iter()
                .map(|item| match item.get_ref() {
                    DeValue::String(s) => Ok((s.as_ref(), item.span())),
                    other => Err(self.invalid(
                        &item.span(),
                        format!(
                            "`{field}` in [[{ctx}]] must hold strings, not {}",
                            other.type_str()
                        ),
                    )),
                })
                .collect(),
            other => Err(self.invalid(
                &v.span(),
                format!(
                    "`{field}` in [[{ctx}]] must be a string or an array of strings, not {}",
                    other.type_str()
                ),
            )),
        }
    }

    fn keys(&self, ctx: Context, v: &Spanned<DeValue<'_>>) -> Result<Vec<Key>, KeymapError> {
        let single = matches!(v.get_ref(), DeValue::String(_));
        let mut keys = Vec::new();
        for (s, span) in self.strings(ctx, "on", v)? {
            let unknown = |key: &str| KeymapError::UnknownKey {
                file: self.file.clone(),
                line: self.line(&span),
                key: key.to_owned(),
                context: ctx,
            };
            if single {
                for token in s.split_whitespace() {
                    keys.push(token.parse::<Key>().map_err(|_| unknown(token))?);
                }
            } else {
                keys.push(s.parse::<Key>().map_err(|_| unknown(s))?);
            }
        }
        if keys.is_empty() {
            return Err(self.invalid(&v.span(), format!("empty `on` in [[{ctx}]]")));
        }
        Ok(keys)
    }

    fn actions(&self, ctx: Context, v: &Spanned<DeValue<'_>>) -> Result<Vec<Action>, KeymapError> {
        self.strings(ctx, "run", v)?
            .into_iter()
            .filter(|(s, _)| *s != "noop")
            .map(|(s, span)| {
                s.parse::<Action>().map_err(|_| KeymapError::UnknownAction {
                    file: self.file.clone(),
                    line: self.line(&span),
                    action: s.to_owned(),
                    context: ctx,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Key {
        s.parse().expect(s)
    }

    fn parse(src: &str) -> Result<Keymap, KeymapError> {
        Keymap::parse(src, Path::new("keymap.toml"))
    }

    fn builtins() -> Vec<(&'static str, Keymap)> {
        Keymap::builtin_names()
            .map(|n| (n, Keymap::builtin(n).expect(n)))
            .collect()
    }

    #[test]
    fn builtins_parse_and_cover_every_context() {
        for (name, km) in builtins() {
            for ctx in Context::ALL {
                assert!(!km.bindings(*ctx).is_empty(), "{name}: [[{ctx}]] is empty");
            }
        }
        assert!(matches!(
            Keymap::builtin("vi"),
            Err(KeymapError::UnknownKeymap { .. })
        ));
    }

    #[test]
    fn builtins_need_no_extended_keyboard_protocol() {
        for (name, km) in builtins() {
            for ctx in Context::ALL {
                for b in km.bindings(*ctx) {
                    for key in &b.keys {
                        assert!(
                            !key.needs_extended_protocol(),
                            "{name} [[{ctx}]] {key} needs the Kitty protocol"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn builtins_have_no_shadowed_chords() {
        for (name, km) in builtins() {
            for ctx in Context::ALL {
                let table = km.bindings(*ctx);
                for a in table {
                    for b in table {
                        assert!(
                            a.keys == b.keys || !b.keys.starts_with(&a.keys),
                            "{name} [[{ctx}]]: {} hides {}",
                            Key::sequence_to_string(&a.keys),
                            Key::sequence_to_string(&b.keys)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn builtins_reach_every_available_action_and_no_other() {
        for (name, km) in builtins() {
            for action in Action::ALL {
                let bound = Context::ALL
                    .iter()
                    .any(|c| km.bindings(*c).iter().any(|b| b.actions.contains(action)));
                assert_eq!(
                    bound,
                    action.is_available(),
                    "{name}: {action} is bound: {bound}"
                );
            }
        }
    }

    #[test]
    fn default_table_basics() {
        let km = Keymap::builtin("default").expect("default");
        let act = |ctx, keys: &str| {
            let seq = Key::parse_sequence(keys).expect(keys);
            let (last, pending) = seq.split_last().expect("non-empty");
            km.lookup(ctx, pending, *last)
        };
        use Action as A;
        assert_eq!(
            act(Context::List, "j"),
            KeyResult::Actions(vec![A::MoveDown])
        );
        assert_eq!(
            act(Context::List, "g g"),
            KeyResult::Actions(vec![A::GoTop])
        );
        assert_eq!(act(Context::List, "q"), KeyResult::Actions(vec![A::Quit]));
        assert_eq!(act(Context::Reader, "q"), KeyResult::Actions(vec![A::Back]));
        assert_eq!(
            act(Context::Reader, "j"),
            KeyResult::Actions(vec![A::ScrollDown])
        );
        assert_eq!(
            act(Context::List, "R"),
            KeyResult::Actions(vec![A::ReplyAll])
        );
        assert_eq!(
            act(Context::Folders, "?"),
            KeyResult::Actions(vec![A::Help])
        );
        assert_eq!(
            act(Context::Compose, "<C-g>"),
            KeyResult::Actions(vec![A::Send])
        );
        // Plain keys are text in compose: no fallback to global `q`.
        assert_eq!(act(Context::Compose, "q"), KeyResult::Unbound);
        // ...but Ctrl keys still reach global.
        assert_eq!(
            act(Context::Compose, "<C-z>"),
            KeyResult::Actions(vec![A::Suspend])
        );
        assert_eq!(act(Context::List, "g x"), KeyResult::Unbound);
        match act(Context::List, "g") {
            KeyResult::Pending(h) => {
                assert_eq!(h.len(), 1);
                assert_eq!(h[0].key, k("g"));
                assert!(!h[0].is_prefix);
            }
            other => panic!("expected pending, got {other:?}"),
        }
        match act(Context::Reader, "+") {
            KeyResult::Pending(h) => {
                let keys: Vec<String> = h.iter().map(|h| h.key.to_string()).collect();
                assert_eq!(keys, ["c", "l", "k", "t"]);
            }
            other => panic!("expected pending, got {other:?}"),
        }
    }

    #[test]
    fn emacs_chords() {
        let km = Keymap::builtin("emacs").expect("emacs");
        match km.lookup(Context::List, &[], k("<C-x>")) {
            KeyResult::Pending(h) => assert!(h.iter().any(|h| h.key == k("<C-c>"))),
            other => panic!("expected pending, got {other:?}"),
        }
        assert_eq!(
            km.lookup(Context::List, &[k("<C-x>")], k("<C-c>")),
            KeyResult::Actions(vec![Action::Quit])
        );
        assert_eq!(
            km.lookup(Context::Compose, &[k("<C-c>")], k("<C-c>")),
            KeyResult::Actions(vec![Action::Send])
        );
        // In compose, <C-c> pending offers compose chords and reachable global ones.
        match km.lookup(Context::Compose, &[], k("<C-c>")) {
            KeyResult::Pending(h) => {
                assert_eq!(h[0].key, k("<C-c>"));
                let r = h.iter().find(|h| h.key == k("r")).expect("r group");
                assert!(r.is_prefix);
                assert_eq!(r.desc, "+4 more");
            }
            other => panic!("expected pending, got {other:?}"),
        }
        assert_eq!(
            km.lookup(Context::List, &[], k("<M-lt>")),
            KeyResult::Actions(vec![Action::GoTop])
        );
    }

    #[test]
    fn file_format_variants() {
        let km = parse(
            r#"
[[list]]
on = ["g", "g"]
run = ["archive", "move_down"]

[[list]]
on = "<C-x>   <C-s>"
run = "send"
desc = "Send it"
"#,
        )
        .expect("parse");
        let b = km.bindings(Context::List);
        assert_eq!(b[0].keys, vec![k("g"), k("g")]);
        assert_eq!(b[0].actions, vec![Action::Archive, Action::MoveDown]);
        assert_eq!(b[0].desc, "Archive, Move down");
        assert_eq!(b[1].keys, vec![k("<C-x>"), k("<C-s>")]);
        assert_eq!(b[1].desc, "Send it");
    }

    #[test]
    fn user_overrides_replace_unbind_and_add() {
        let mut km = Keymap::builtin("default").expect("default");
        let user = parse(
            r#"
[[list]]
on = "j"
run = "go_bottom"

[[list]]
on = "q"
run = []

[[list]]
on = "<C-b>"
run = "page_up"
desc = "Back a page"
"#,
        )
        .expect("user");
        km.merge(user);
        assert_eq!(
            km.lookup(Context::List, &[], k("j")),
            KeyResult::Actions(vec![Action::GoBottom])
        );
        // Unbinding in [[list]] hides the global `q`.
        assert_eq!(km.lookup(Context::List, &[], k("q")), KeyResult::Unbound);
        assert_eq!(
            km.lookup(Context::Folders, &[], k("q")),
            KeyResult::Actions(vec![Action::Quit])
        );
        assert_eq!(
            km.lookup(Context::List, &[], k("<C-b>")),
            KeyResult::Actions(vec![Action::PageUp])
        );
        let help = km.help(Context::List);
        assert!(help.iter().all(|e| e.keys != "q"));
        assert!(
            help.iter()
                .any(|e| e.keys == "<C-b>" && e.desc == "Back a page")
        );
        // `j` replaced in place: still the first entry.
        assert_eq!(help[0].keys, "j");
    }

    #[test]
    fn load_missing_user_file_is_no_override() {
        let km = Keymap::load(
            "default",
            Some(Path::new("/nonexistent/deskmail/keymap.toml")),
        )
        .expect("load");
        assert_eq!(km, Keymap::builtin("default").expect("default"));
    }

    #[test]
    fn help_lists_context_then_global() {
        let km = Keymap::builtin("default").expect("default");
        let help = km.help(Context::Reader);
        let first_global = help
            .iter()
            .position(|e| e.context == Context::Global)
            .expect("has global");
        assert!(
            help[..first_global]
                .iter()
                .all(|e| e.context == Context::Reader)
        );
        assert!(
            help[first_global..]
                .iter()
                .all(|e| e.context == Context::Global)
        );
        // Reader binds `q` itself, so global quit is not listed there.
        assert!(!help[first_global..].iter().any(|e| e.keys == "q"));
        // Compose help only lists global keys that work while typing.
        let compose = km.help(Context::Compose);
        assert!(compose.iter().any(|e| e.keys == "<C-z>"));
        assert!(!compose.iter().any(|e| e.keys == "q"));
        assert_eq!(km.keys_for(Context::List, Action::GoTop), ["g g", "<Home>"]);
    }

    fn err(src: &str) -> KeymapError {
        parse(src).expect_err("should fail")
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = err(
            "[[list]]\non = \"j\"\nrun = \"move_down\"\n\n[[list]]\non = \"<C-Foo>\"\nrun = \"open\"\n",
        );
        assert_eq!(
            e.to_string(),
            "keymap.toml line 6: unknown key \"<C-Foo>\" in [[list]] (expected e.g. \"j\", \"<C-r>\", \"<Enter>\")"
        );
        let e = err("[[reader]]\non = \"j\"\nrun = [\"scroll_down\",\n  \"jump\"]\n");
        assert!(
            matches!(e, KeymapError::UnknownAction { line: 4, .. }),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("unknown action \"jump\" in [[reader]]")
        );
        let e = err("[[list]]\non = \"j\"\nrun = \"open\"\n[[lsit]]\non = \"k\"\nrun = \"open\"\n");
        assert!(
            matches!(e, KeymapError::UnknownContext { line: 4, .. }),
            "{e}"
        );
        let e = err("[[list]]\non = \"j\"\nrun = \"open\"\nwhat = 1\n");
        assert_eq!(e.line(), Some(4), "{e}");
        let e = err("[list]\non = \"j\"\nrun = \"open\"\n");
        assert_eq!(e.line(), Some(1), "{e}");
        let e = err("[[list]]\non = \"j\"\nrun = \"open\"\n[[list]]\non = \"j\"\nrun = \"back\"\n");
        assert_eq!(e.line(), Some(4), "{e}");
        assert!(e.to_string().contains("first at line 1"), "{e}");
        let e = err("[[list]]\non = \"j\"\n\nrun = \"open\n");
        assert!(matches!(e, KeymapError::Toml { line: 4, .. }), "{e}");
        let e = err("[[list]]\nrun = \"open\"\n");
        assert_eq!(e.line(), Some(1), "{e}");
        assert_eq!(e.file(), Some("keymap.toml"));
    }
}
