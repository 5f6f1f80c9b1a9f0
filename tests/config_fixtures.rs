//! Shipped keymaps and themes parse; broken files are reported with file and
//! line; colour environments are honoured; key notation round-trips.

use std::fs;
use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyModifiers};
use deskmail::tui::action::Action;
use deskmail::tui::keymap::{Context, Key, KeyResult, Keymap, KeymapError};
use deskmail::tui::theme::{ColorEnv, Role, Theme, ThemeError};
use proptest::prelude::*;
use ratatui::style::{Color, Modifier};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures(kind: &str) -> PathBuf {
    root().join("tests/fixtures").join(kind)
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no files in {}", dir.display());
    files
}

/// The 1-based line marked `# <- error` in a fixture.
fn marked_line(path: &Path) -> usize {
    let src = fs::read_to_string(path).expect("read fixture");
    src.lines()
        .position(|l| l.contains("# <- error"))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{} has no `# <- error` marker", path.display()))
}

const NO_COLOR: ColorEnv = ColorEnv {
    no_color: true,
    truecolor: true,
};
const COLOR_256: ColorEnv = ColorEnv {
    no_color: false,
    truecolor: false,
};

// ---- keymaps ---------------------------------------------------------------

#[test]
fn every_shipped_keymap_parses() {
    for path in toml_files(&root().join("keymaps")) {
        let src = fs::read_to_string(&path).expect("read");
        let km = Keymap::parse(&src, &path).unwrap_or_else(|e| panic!("{e}"));
        let name = path.file_stem().and_then(|s| s.to_str()).expect("name");
        assert_eq!(
            Keymap::builtin(name).expect("embedded"),
            km,
            "{name} is shipped but not embedded identically"
        );
    }
}

/// An independent check of what a terminal without the Kitty keyboard
/// protocol can report: no Ctrl+Shift (Ctrl + upper-case letter), no
/// Super/Hyper, no Ctrl+Enter/Tab.
fn legacy_terminal_can_send(key: &Key) -> bool {
    let m = key.mods;
    let ctrl = m.contains(KeyModifiers::CONTROL);
    let ctrl_shift_letter = ctrl && matches!(key.code, KeyCode::Char(c) if c.is_uppercase());
    let ctrl_special = ctrl && matches!(key.code, KeyCode::Enter | KeyCode::Tab | KeyCode::BackTab);
    !ctrl_shift_letter
        && !ctrl_special
        && !m.contains(KeyModifiers::SHIFT | KeyModifiers::CONTROL)
        && !m.intersects(KeyModifiers::SUPER | KeyModifiers::HYPER)
}

#[test]
fn no_builtin_binding_needs_the_kitty_protocol() {
    for name in Keymap::builtin_names() {
        let km = Keymap::builtin(name).expect("builtin");
        for ctx in Context::ALL {
            for b in km.bindings(*ctx) {
                for key in &b.keys {
                    assert!(
                        !key.needs_extended_protocol() && legacy_terminal_can_send(key),
                        "{name} [[{ctx}]] binds {key}, which needs the Kitty keyboard protocol"
                    );
                }
            }
        }
    }
}

fn keymap_error(fixture: &str) -> (KeymapError, PathBuf) {
    let path = fixtures("keymaps").join(fixture);
    let src = fs::read_to_string(&path).expect("read");
    let err = Keymap::parse(&src, &path).expect_err(fixture);
    (err, path)
}

#[test]
fn invalid_keymaps_name_file_and_line() {
    for (fixture, what) in [
        ("bad_key.toml", "unknown key \"<C-Foo>\" in [[list]]"),
        ("bad_key_in_chord.toml", "unknown key \"gg\" in [[reader]]"),
        (
            "bad_action.toml",
            "unknown action \"move_sideways\" in [[list]]",
        ),
        ("bad_context.toml", "unknown context [[lsit]]"),
        ("bad_toml.toml", "invalid TOML"),
        ("bad_field.toml", "unknown field `action`"),
        ("duplicate.toml", "\"j\" is bound twice in [[list]]"),
    ] {
        let (err, path) = keymap_error(fixture);
        let line = marked_line(&path);
        let msg = err.to_string();
        let prefix = format!("{} line {line}: ", path.display());
        assert!(
            msg.starts_with(&prefix),
            "{fixture}: {msg:?} should start with {prefix:?}"
        );
        assert!(
            msg.contains(what),
            "{fixture}: {msg:?} should contain {what:?}"
        );
        assert_eq!(err.line(), Some(line), "{fixture}");
    }
}

#[test]
fn unknown_key_message_gives_examples() {
    let (err, _) = keymap_error("bad_key.toml");
    assert!(
        err.to_string()
            .ends_with("(expected e.g. \"j\", \"<C-r>\", \"<Enter>\")"),
        "{err}"
    );
}

#[test]
fn user_keymap_overrides_default() {
    let user = fixtures("keymaps").join("user_override.toml");
    let km = Keymap::load("default", Some(&user)).expect("load");
    let j = Key::char('j');
    assert_eq!(
        km.lookup(Context::List, &[], j),
        KeyResult::Actions(vec![Action::MoveDown, Action::Open])
    );
    assert_eq!(
        km.lookup(Context::List, &[], Key::char('d')),
        KeyResult::Unbound
    );
    // Reader keeps its own `d`.
    assert_eq!(
        km.lookup(Context::Reader, &[], Key::char('d')),
        KeyResult::Actions(vec![Action::Delete])
    );
    // Ctrl keys from [[global]] reach text contexts too.
    assert_eq!(
        km.lookup(Context::Compose, &[], Key::ctrl('q')),
        KeyResult::Actions(vec![Action::Quit])
    );
    assert!(
        km.help(Context::List)
            .iter()
            .any(|e| e.keys == "j" && e.desc == "Next and read")
    );
    assert!(matches!(
        Keymap::load("vim", None),
        Err(KeymapError::UnknownKeymap { .. })
    ));
}

// ---- themes ----------------------------------------------------------------

#[test]
fn every_shipped_theme_parses_and_defines_all_roles() {
    for path in toml_files(&root().join("themes")) {
        let src = fs::read_to_string(&path).expect("read");
        let parsed =
            Theme::parse(&src, &path, ColorEnv::TRUECOLOR).unwrap_or_else(|e| panic!("{e}"));
        let name = path.file_stem().and_then(|s| s.to_str()).expect("name");
        let builtin = Theme::builtin(name).expect("embedded");
        for role in Role::ALL {
            assert_eq!(parsed.style(*role), builtin.style(*role), "{name} {role}");
        }
        for section in Role::ALL.iter().map(|r| format!("[{r}]")) {
            assert!(
                src.lines().any(|l| l.trim() == section),
                "{name} lacks {section}"
            );
        }
    }
}

#[test]
fn selection_is_visible_in_every_builtin() {
    for name in Theme::builtin_names() {
        let t = Theme::builtin(name).expect("builtin");
        let s = t.style(Role::Selected);
        assert!(
            s.bg.is_some() || s.add_modifier.contains(Modifier::REVERSED),
            "{name}: selection has neither background nor reverse video"
        );
    }
}

#[test]
fn invalid_themes_name_file_line_and_field() {
    let dir = fixtures("themes");
    for (name, what) in [
        ("bad_colour", "invalid colour \"#87afzz\" for selected.bg"),
        ("bad_palette_index", "invalid colour \"300\" for muted.fg"),
        ("bad_role", "unknown role [unred]"),
        ("bad_toml", "invalid TOML"),
        ("bad_attribute", "unknown field `normal.blink`"),
    ] {
        let path = dir.join(format!("{name}.toml"));
        let line = marked_line(&path);
        let err = Theme::load(name, Some(&dir), ColorEnv::TRUECOLOR).expect_err(name);
        let msg = err.to_string();
        let prefix = format!("{} line {line}: ", path.display());
        assert!(
            msg.starts_with(&prefix),
            "{name}: {msg:?} should start with {prefix:?}"
        );
        assert!(
            msg.contains(what),
            "{name}: {msg:?} should contain {what:?}"
        );
        assert_eq!(err.line(), Some(line));
    }
}

#[test]
fn unknown_theme_lists_available() {
    let dir = fixtures("themes");
    let err = Theme::load("nord", Some(&dir), ColorEnv::TRUECOLOR).expect_err("nord");
    assert!(matches!(err, ThemeError::UnknownTheme { .. }));
    let msg = err.to_string();
    for n in ["dark", "light", "mono", "solarized"] {
        assert!(msg.contains(n), "{msg}");
    }
}

#[test]
fn user_theme_overrides_per_field() {
    let dir = fixtures("themes");
    let t = Theme::load("dark", Some(&dir), ColorEnv::TRUECOLOR).expect("dark");
    let unread = t.style(Role::Unread);
    assert_eq!(unread.fg, Some(Color::Red));
    assert!(
        unread.add_modifier.contains(Modifier::BOLD),
        "bold kept from builtin"
    );
    let sel = t.style(Role::Selected);
    assert_eq!(sel.bg, Some(Color::Indexed(236)));
    assert_eq!(sel.fg, Some(Color::Black), "fg kept from builtin");
    // Untouched roles equal the builtin.
    let builtin = Theme::builtin("dark").expect("dark");
    assert_eq!(t.style(Role::Title), builtin.style(Role::Title));

    let s = Theme::load("solarized", Some(&dir), ColorEnv::TRUECOLOR).expect("solarized");
    assert_eq!(s.name(), "solarized");
    assert_eq!(s.style(Role::Normal).bg, Some(Color::Rgb(0xfd, 0xf6, 0xe3)));
    let light = Theme::builtin("light").expect("light");
    assert_eq!(s.style(Role::Link), light.style(Role::Link));
}

#[test]
fn no_color_gives_no_colours_anywhere() {
    let dir = fixtures("themes");
    for name in ["dark", "light", "mono", "solarized", "nord", "bad_colour"] {
        // NO_COLOR always means mono, even for unknown or broken names.
        let t = Theme::load(name, Some(&dir), NO_COLOR).expect(name);
        assert_eq!(t.name(), "mono");
        for role in Role::ALL {
            let s = t.style(*role);
            assert_eq!(s.fg, None, "{name} {role}");
            assert_eq!(s.bg, None, "{name} {role}");
            assert_eq!(s.underline_color, None, "{name} {role}");
        }
        assert!(
            t.style(Role::Selected)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }
}

#[test]
fn no_color_strips_colours_from_a_user_mono() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("mono.toml"),
        "[selected]\nreversed = false\nbg = \"red\"\n[title]\nfg = \"#ff0000\"\n",
    )
    .expect("write");
    let t = Theme::load("dark", Some(dir.path()), NO_COLOR).expect("mono");
    for role in Role::ALL {
        assert_eq!(t.style(*role).fg, None);
        assert_eq!(t.style(*role).bg, None);
    }
    assert!(
        t.style(Role::Selected)
            .add_modifier
            .contains(Modifier::REVERSED),
        "selection stays visible"
    );
}

#[test]
fn without_truecolor_rgb_becomes_palette_indices() {
    for name in Theme::builtin_names() {
        let t = Theme::load(name, None, COLOR_256).expect(name);
        for role in Role::ALL {
            let s = t.style(*role);
            for c in [s.fg, s.bg].into_iter().flatten() {
                assert!(!matches!(c, Color::Rgb(..)), "{name} {role}: {c:?}");
            }
        }
    }
    let t = Theme::load("dark", None, COLOR_256).expect("dark");
    // #87afff is exactly cube entry 111; #303030 is grey 236.
    assert_eq!(t.style(Role::Selected).bg, Some(Color::Indexed(111)));
    assert_eq!(t.style(Role::StatusBar).bg, Some(Color::Indexed(236)));
    assert_eq!(t.style(Role::Selected).fg, Some(Color::Black));
    let full = Theme::load("dark", None, ColorEnv::TRUECOLOR).expect("dark");
    assert_eq!(
        full.style(Role::Selected).bg,
        Some(Color::Rgb(0x87, 0xaf, 0xff))
    );
}

#[test]
fn color_env_from_variables() {
    assert_eq!(
        ColorEnv::from_vars(false, Some("truecolor")),
        ColorEnv::TRUECOLOR
    );
    assert_eq!(
        ColorEnv::from_vars(false, Some("24bit")),
        ColorEnv::TRUECOLOR
    );
    assert_eq!(ColorEnv::from_vars(false, None), COLOR_256);
    assert!(ColorEnv::from_vars(true, Some("truecolor")).no_color);
}

// ---- key notation ----------------------------------------------------------

fn key_code() -> impl Strategy<Value = KeyCode> {
    prop_oneof![
        any::<char>()
            .prop_filter("printable", |c| !c.is_control() && !c.is_whitespace())
            .prop_map(KeyCode::Char),
        prop::sample::select(vec![
            KeyCode::Char(' '),
            KeyCode::Char('<'),
            KeyCode::Char('>'),
            KeyCode::Char('-'),
            KeyCode::Enter,
            KeyCode::Esc,
            KeyCode::Tab,
            KeyCode::BackTab,
            KeyCode::Up,
            KeyCode::Down,
            KeyCode::Left,
            KeyCode::Right,
            KeyCode::PageUp,
            KeyCode::PageDown,
            KeyCode::Home,
            KeyCode::End,
            KeyCode::Backspace,
            KeyCode::Delete,
            KeyCode::Insert,
        ]),
        (1u8..=24).prop_map(KeyCode::F),
    ]
}

#[test]
fn kitty_check_catches_kitty_only_keys() {
    for s in ["<C-S-x>", "<C-Enter>", "<C-Tab>", "<D-x>"] {
        let key: Key = s.parse().expect(s);
        assert!(!legacy_terminal_can_send(&key), "{s}");
    }
}

fn key_mods() -> impl Strategy<Value = KeyModifiers> {
    (0u8..32).prop_map(KeyModifiers::from_bits_truncate)
}

proptest! {
    #[test]
    fn key_display_parse_round_trip(code in key_code(), mods in key_mods()) {
        let key = Key::new(code, mods);
        let text = key.to_string();
        prop_assert!(!text.contains(char::is_whitespace), "{:?}", text);
        let back: Key = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, key);
        prop_assert_eq!(back.to_string(), text);
    }

    #[test]
    fn key_sequences_round_trip(keys in prop::collection::vec((key_code(), key_mods()), 1..4)) {
        let keys: Vec<Key> = keys.into_iter().map(|(c, m)| Key::new(c, m)).collect();
        let text = Key::sequence_to_string(&keys);
        prop_assert_eq!(Key::parse_sequence(&text).map_err(|e| TestCaseError::fail(e.to_string()))?, keys);
    }
}

#[test]
fn documented_notation_round_trips() {
    for s in [
        "j",
        "G",
        "?",
        ":",
        "<Enter>",
        "<Esc>",
        "<Tab>",
        "<S-Tab>",
        "<Space>",
        "<Up>",
        "<Down>",
        "<Left>",
        "<Right>",
        "<PageUp>",
        "<PageDown>",
        "<Home>",
        "<End>",
        "<Backspace>",
        "<Delete>",
        "<F1>",
        "<F12>",
        "<C-r>",
        "<M-x>",
        "<C-S-x>",
    ] {
        let key: Key = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(key.to_string(), s);
    }
    assert_eq!("<A-x>".parse::<Key>().ok(), "<M-x>".parse::<Key>().ok());
    assert_eq!(Key::char('G').mods, KeyModifiers::NONE);
}

#[test]
fn doctor_warns_of_plain_text_to_a_remote_host_and_not_to_loopback() {
    use std::os::unix::fs::PermissionsExt;
    // A closed port: both accounts fail to connect at once, on this machine.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("config.toml");
    // 0.0.0.0 reaches this machine but is not a loopback address.
    let account = |name: &str, host: &str| {
        format!(
            "[[accounts]]\nname = \"{name}\"\nemail = \"{name}@desk.example\"\n\
             host = \"{host}\"\nport = {port}\ntls = \"none\"\nuser = \"{name}\"\n\
             password = \"secret\"\n\n"
        )
    };
    let text = format!(
        "[agent]\nname = \"Sam Agent\"\nemail = \"agent@desk.example\"\n\n{}{}",
        account("remote", "0.0.0.0"),
        account("local", "127.0.0.1")
    );
    fs::write(&file, text).expect("write config");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deskmail"))
        .arg("doctor")
        .arg("--config")
        .arg(&file)
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .output()
        .expect("run doctor");
    let out = String::from_utf8_lossy(&out.stdout);
    let warnings: Vec<&str> = out.lines().filter(|l| l.contains("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{out}");
    assert!(
        warnings[0].contains("IMAP to 0.0.0.0 is unencrypted")
            && warnings[0].contains("plain text"),
        "{out}"
    );
}

#[test]
fn doctor_lists_every_invalid_field_with_its_line_not_only_the_first() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("config.toml");
    let text = "[agent]\nname = \"Sam Agent\"\nemail = \"agent@desk.example\"\n\n\
                [[accounts]]\nname = \"support\"\nemail = \"support.desk.example\"\n\
                host = \"127.0.0.1\"\nport = 143\ntls = \"none\"\nuser = \"support\"\n\
                password_command = \"printf secret\"\nfetch_since = \"last week\"\n";
    fs::write(&file, text).expect("write config");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deskmail"))
        .arg("doctor")
        .arg("--config")
        .arg(&file)
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .output()
        .expect("run doctor");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("2 fields are invalid"), "{all}");
    assert!(
        all.contains("line 7: accounts.email: \"support.desk.example\" is not an email address"),
        "{all}"
    );
    assert!(
        all.contains("line 13: accounts.fetch_since: \"last week\" is not a date"),
        "{all}"
    );
}
