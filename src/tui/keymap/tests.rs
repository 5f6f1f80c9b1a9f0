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
            // `g g` (top) and the quick views and next unread.
            let keys: Vec<String> = h.iter().map(|h| h.key.to_string()).collect();
            assert_eq!(keys, ["g", "u", "f", "l", "w", "a", "n"]);
            assert!(h.iter().all(|h| !h.is_prefix));
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
