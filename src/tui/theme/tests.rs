use super::parse::{nearest_256, parse_colour};
use super::*;

#[test]
fn builtins_define_every_role() {
    for name in Theme::builtin_names() {
        let file = builtin_file(name).expect("exists").expect(name);
        for role in Role::ALL {
            assert!(file.roles.contains_key(role), "{name} lacks [{role}]");
        }
    }
}

#[test]
fn builtin_dark_selected() {
    let t = Theme::builtin("dark").expect("dark");
    let s = t.style(Role::Selected);
    assert_eq!(s.fg, Some(Color::Black));
    assert_eq!(s.bg, Some(Color::Rgb(0x87, 0xaf, 0xff)));
}

#[test]
fn cube_and_grey_reduction() {
    assert_eq!(nearest_256(0x87, 0xaf, 0xff), 111);
    assert_eq!(nearest_256(0, 0, 0), 16);
    assert_eq!(nearest_256(255, 255, 255), 231);
    assert_eq!(nearest_256(0x30, 0x30, 0x30), 236);
    assert_eq!(nearest_256(0xff, 0x00, 0x00), 196);
    assert_eq!(nearest_256(0x80, 0x80, 0x80), 244);
    assert_eq!(reduce_to_256(Color::Red), Color::Red);
    assert_eq!(reduce_to_256(Color::Indexed(7)), Color::Indexed(7));
}

#[test]
fn env_vars() {
    assert_eq!(
        ColorEnv::from_vars(false, Some("truecolor")),
        ColorEnv::TRUECOLOR
    );
    assert!(ColorEnv::from_vars(false, Some("24bit")).truecolor);
    assert!(!ColorEnv::from_vars(false, Some("yes")).truecolor);
    assert!(!ColorEnv::from_vars(false, None).truecolor);
    assert!(ColorEnv::from_vars(true, None).no_color);
}

#[test]
fn colour_forms() {
    let c = |s: &str| parse_colour(&DeValue::String(s.to_owned().into()));
    assert_eq!(c("#e0e0ff"), Some(Color::Rgb(0xe0, 0xe0, 0xff)));
    assert_eq!(c("#fff"), Some(Color::Rgb(255, 255, 255)));
    assert_eq!(c("lightblue"), Some(Color::LightBlue));
    assert_eq!(c("reset"), Some(Color::Reset));
    assert_eq!(c("236"), Some(Color::Indexed(236)));
    assert_eq!(c("#12345g"), None);
    assert_eq!(c("256"), None);
    assert_eq!(c("blurple"), None);
}

#[test]
fn rejects_path_like_names() {
    for n in ["../dark", "a/b", ".hidden", ""] {
        assert!(!valid_name(n), "{n}");
        assert!(matches!(
            Theme::load(n, None, ColorEnv::TRUECOLOR),
            Err(ThemeError::UnknownTheme { .. })
        ));
    }
}
