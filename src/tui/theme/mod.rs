//! Colours and text attributes for every piece of the interface.
//!
//! A theme file has one table per [`Role`]:
//!
//! ```toml
//! extends = "dark"      # optional, for user themes: start from this builtin
//!
//! [unread]
//! fg = "#e0e0ff"        # "#rrggbb", a name ("red", "lightblue", "reset") or a palette index ("236" or 236)
//! bold = true
//!
//! [selected]
//! fg = "black"
//! bg = "#87afff"
//! ```
//!
//! Attributes: `fg`, `bg`, `bold`, `dim`, `italic`, `underlined`, `reversed`,
//! `crossed_out`.
//!
//! Shipped themes are `dark`, `light` and `mono`. A user file
//! `<user_dir>/NAME.toml` overrides the builtin `NAME` field by field; a user
//! file with a new name starts from `extends` (default `dark`).
//!
//! The colour environment decides how much colour is used: with `NO_COLOR`
//! the `mono` theme is used whatever was asked and no style carries a
//! colour; without a truecolor terminal RGB colours are mapped to the
//! nearest xterm 256-colour palette entry.

mod parse;

pub use parse::reduce_to_256;
use parse::{line_of, parse_file};
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

macro_rules! roles {
    ($( $(#[$meta:meta])* $variant:ident => $name:literal, )+) => {
        /// What a piece of text is, for styling purposes.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Deserialize, serde::Serialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum Role {
            $( $(#[$meta])* $variant, )+
        }

        impl Role {
            /// Every role, in declaration order.
            pub const ALL: &'static [Role] = &[ $( Role::$variant, )+ ];

            /// The table name used in theme files.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Role::$variant => $name, )+
                }
            }
        }

        impl FromStr for Role {
            type Err = ();

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $name => Ok(Role::$variant), )+
                    _ => Err(()),
                }
            }
        }
    };
}

roles! {
    /// Ordinary text.
    Normal => "normal",
    /// Secondary text: dates, counts, hints.
    Muted => "muted",
    /// Unread mail in the list.
    Unread => "unread",
    /// The selected row of the focused pane.
    Selected => "selected",
    /// The selected row of a pane without focus.
    SelectedUnfocused => "selected_unfocused",
    Border => "border",
    BorderFocused => "border_focused",
    /// Pane titles.
    Title => "title",
    /// Mail linked to a CRM record.
    Linked => "linked",
    /// Mail with an open case.
    CaseOpen => "case_open",
    Error => "error",
    Warning => "warning",
    Ok => "ok",
    StatusBar => "status_bar",
    /// Header lines in the reader (`From:`, `Subject:`...).
    Header => "header",
    /// Quoted text in the reader.
    Quote => "quote",
    /// Signature block in the reader.
    Signature => "signature",
    /// URLs in the reader.
    Link => "link",
    Flagged => "flagged",
    /// Highlights: search matches, key hints.
    Accent => "accent",
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColorEnv {
    /// No colour at all (`NO_COLOR`).
    pub no_color: bool,
    /// 24-bit colour is supported (`COLORTERM=truecolor|24bit`).
    pub truecolor: bool,
}

impl ColorEnv {
    /// Full colour, as the theme files say.
    pub const TRUECOLOR: ColorEnv = ColorEnv {
        no_color: false,
        truecolor: true,
    };

    /// Reads `NO_COLOR` and `COLORTERM`.
    pub fn from_env() -> ColorEnv {
        let no_color = std::env::var_os("NO_COLOR");
        let colorterm = std::env::var("COLORTERM").ok();
        ColorEnv::from_vars(
            no_color.as_ref().map(|v| !v.is_empty()).unwrap_or(false),
            colorterm.as_deref(),
        )
    }

    /// The decision [`ColorEnv::from_env`] makes, from given values:
    /// `no_color_set` is "NO_COLOR is set and non-empty".
    pub fn from_vars(no_color_set: bool, colorterm: Option<&str>) -> ColorEnv {
        let truecolor = colorterm.is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("truecolor") || v.eq_ignore_ascii_case("24bit")
        });
        ColorEnv {
            no_color: no_color_set,
            truecolor,
        }
    }
}

/// Errors loading a theme. File errors carry the file and 1-based line.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("{file}: cannot read theme: {source}")]
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
    #[error(
        "{file} line {line}: unknown role [{role}] (expected one of: {})",
        role_names()
    )]
    UnknownRole {
        file: String,
        line: usize,
        role: String,
    },
    #[error(
        "{file} line {line}: invalid colour \"{value}\" for {field} (expected a name such as \"red\" or \"lightblue\", \"#rrggbb\", \"reset\" or a palette index 0-255)"
    )]
    BadColour {
        file: String,
        line: usize,
        /// `role.fg` or `role.bg`.
        field: String,
        value: String,
    },
    #[error("{file} line {line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
    #[error("unknown theme \"{name}\" (available: {available})")]
    UnknownTheme { name: String, available: String },
}

impl ThemeError {
    /// The file the error is in, if it comes from a file.
    pub fn file(&self) -> Option<&str> {
        match self {
            ThemeError::Io { file, .. }
            | ThemeError::Toml { file, .. }
            | ThemeError::UnknownRole { file, .. }
            | ThemeError::BadColour { file, .. }
            | ThemeError::Invalid { file, .. } => Some(file),
            ThemeError::UnknownTheme { .. } => None,
        }
    }

    /// The 1-based line of the bad entry, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ThemeError::Toml { line, .. }
            | ThemeError::UnknownRole { line, .. }
            | ThemeError::BadColour { line, .. }
            | ThemeError::Invalid { line, .. } => Some(*line),
            ThemeError::Io { .. } | ThemeError::UnknownTheme { .. } => None,
        }
    }
}

fn role_names() -> String {
    Role::ALL
        .iter()
        .map(Role::name)
        .collect::<Vec<_>>()
        .join(", ")
}

const BUILTINS: &[(&str, &str, &str)] = &[
    (
        "dark",
        "themes/dark.toml",
        include_str!("../../../themes/dark.toml"),
    ),
    (
        "light",
        "themes/light.toml",
        include_str!("../../../themes/light.toml"),
    ),
    (
        "mono",
        "themes/mono.toml",
        include_str!("../../../themes/mono.toml"),
    ),
];

/// The theme a user file with an unknown name starts from.
const DEFAULT_BASE: &str = "dark";

const ATTRS: &[(&str, Modifier)] = &[
    ("bold", Modifier::BOLD),
    ("dim", Modifier::DIM),
    ("italic", Modifier::ITALIC),
    ("underlined", Modifier::UNDERLINED),
    ("reversed", Modifier::REVERSED),
    ("crossed_out", Modifier::CROSSED_OUT),
];

/// One role as written in a file; `None` means "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RoleSpec {
    fg: Option<Color>,
    bg: Option<Color>,
    /// Per attribute of [`ATTRS`]: explicitly on / off.
    attrs: [Option<bool>; 6],
}

impl RoleSpec {
    fn merge(&mut self, over: &RoleSpec) {
        if over.fg.is_some() {
            self.fg = over.fg;
        }
        if over.bg.is_some() {
            self.bg = over.bg;
        }
        for (mine, theirs) in self.attrs.iter_mut().zip(over.attrs) {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
    }

    fn style(&self, env: ColorEnv) -> Style {
        let mut style = Style::default();
        if !env.no_color {
            let adapt = |c: Color| if env.truecolor { c } else { reduce_to_256(c) };
            if let Some(fg) = self.fg {
                style = style.fg(adapt(fg));
            }
            if let Some(bg) = self.bg {
                style = style.bg(adapt(bg));
            }
        }
        for ((_, modifier), on) in ATTRS.iter().zip(self.attrs) {
            if on == Some(true) {
                style = style.add_modifier(*modifier);
            }
        }
        style
    }
}

/// A parsed theme file.
#[derive(Debug, Clone, Default)]
struct ThemeFile {
    extends: Option<Spanned<String>>,
    roles: BTreeMap<Role, RoleSpec>,
}

/// A resolved theme: a [`Style`] per [`Role`].
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    name: String,
    env: ColorEnv,
    styles: Vec<Style>,
}

impl Theme {
    /// Names of the shipped themes.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTINS.iter().map(|(n, _, _)| *n)
    }

    /// A shipped theme, in full colour.
    pub fn builtin(name: &str) -> Result<Theme, ThemeError> {
        Theme::load(name, None, ColorEnv::TRUECOLOR)
    }

    /// Theme `name` from `user_dir/NAME.toml` (when present) over the
    /// builtin of the same name, adapted to `env`. With `env.no_color` the
    /// `mono` theme is loaded instead of `name`.
    pub fn load(name: &str, user_dir: Option<&Path>, env: ColorEnv) -> Result<Theme, ThemeError> {
        let name = if env.no_color { "mono" } else { name };
        let unknown = || ThemeError::UnknownTheme {
            name: name.to_owned(),
            available: available(user_dir).join(", "),
        };
        if !valid_name(name) {
            return Err(unknown());
        }
        let user = match user_dir {
            Some(dir) => {
                let path = dir.join(format!("{name}.toml"));
                match crate::config::read_optional(&path) {
                    Ok(Some(src)) => Some((parse_file(&src, &path)?, src, path)),
                    Ok(None) => None,
                    Err(source) => {
                        return Err(ThemeError::Io {
                            file: path.display().to_string(),
                            source,
                        });
                    }
                }
            }
            None => None,
        };
        let roles = match user {
            None => builtin_file(name).ok_or_else(unknown)??.roles,
            Some((file, src, path)) => {
                let base = match &file.extends {
                    Some(ext) => {
                        builtin_file(ext.get_ref()).ok_or_else(|| ThemeError::Invalid {
                            file: path.display().to_string(),
                            line: line_of(&src, &ext.span()),
                            message: format!(
                                "`extends` names unknown theme \"{}\" (builtin themes: {})",
                                ext.get_ref(),
                                Theme::builtin_names().collect::<Vec<_>>().join(", ")
                            ),
                        })??
                    }
                    None => match builtin_file(name) {
                        Some(b) => b?,
                        None => builtin_file(DEFAULT_BASE).ok_or_else(unknown)??,
                    },
                };
                let mut roles = base.roles;
                for (role, spec) in file.roles {
                    roles.entry(role).or_default().merge(&spec);
                }
                roles
            }
        };
        Ok(Theme::resolve(name, &roles, env))
    }

    /// A standalone theme from TOML text (`extends` is honoured; roles not
    /// given get the default style). `origin` is used in error messages.
    pub fn parse(src: &str, origin: &Path, env: ColorEnv) -> Result<Theme, ThemeError> {
        let file = parse_file(src, origin)?;
        let mut roles = match &file.extends {
            Some(ext) => {
                builtin_file(ext.get_ref())
                    .ok_or_else(|| ThemeError::Invalid {
                        file: origin.display().to_string(),
                        line: line_of(src, &ext.span()),
                        message: format!("`extends` names unknown theme \"{}\"", ext.get_ref()),
                    })??
                    .roles
            }
            None => BTreeMap::new(),
        };
        for (role, spec) in file.roles {
            roles.entry(role).or_default().merge(&spec);
        }
        let name = origin
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Theme::resolve(&name, &roles, env))
    }

    fn resolve(name: &str, roles: &BTreeMap<Role, RoleSpec>, env: ColorEnv) -> Theme {
        let styles = Role::ALL
            .iter()
            .map(|role| {
                let mut style = roles
                    .get(role)
                    .map(|spec| spec.style(env))
                    .unwrap_or_default();
                if env.no_color && *role == Role::Selected {
                    // The selection must stay visible without colour.
                    style = style.add_modifier(Modifier::REVERSED);
                }
                style
            })
            .collect();
        Theme {
            name: name.to_owned(),
            env,
            styles,
        }
    }

    /// The theme's name (`mono` when colour is off).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The colour environment the theme was adapted to.
    pub fn env(&self) -> ColorEnv {
        self.env
    }

    /// The style for `role`.
    pub fn style(&self, role: Role) -> Style {
        self.styles.get(role as usize).copied().unwrap_or_default()
    }
}

/// Theme names usable with [`Theme::load`]: builtins plus `*.toml` in `user_dir`.
pub fn available(user_dir: Option<&Path>) -> Vec<String> {
    let mut names: Vec<String> = Theme::builtin_names().map(str::to_owned).collect();
    if let Some(dir) = user_dir {
        for path in crate::config::dir_entries(dir) {
            if path.extension().is_some_and(|e| e == "toml")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
                && valid_name(stem)
            {
                names.push(stem.to_owned());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Theme names are plain file stems: no paths, no hidden files.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn builtin_file(name: &str) -> Option<Result<ThemeFile, ThemeError>> {
    BUILTINS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, origin, src)| parse_file(src, Path::new(origin)))
}

#[cfg(test)]
mod tests;
