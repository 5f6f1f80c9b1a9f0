//! The folder pane's keys against an in-memory desk: creating, renaming,
//! deleting (with its confirmation) and quieting a folder, and `m` offering
//! folders of the server that are not synced.

use deskmail::desk::fake::FakeDesk;
use deskmail::protocol::{Command, ServerFolder};
use deskmail::store::MessageSummary;
use deskmail::tui::app::{App, Overlay};
use deskmail::tui::keymap::{Key, Keymap};

fn mail(id: u64, subject: &str) -> MessageSummary {
    MessageSummary {
        id,
        subject: subject.into(),
        date: 1_700_000_000 - id as i64 * 3600,
        ..MessageSummary::default()
    }
}

/// support/INBOX with two mails, support/Kunden with three, and two folders
/// the server lists that are not synced.
fn desk() -> FakeDesk {
    let mut d = FakeDesk::new(deskmail::demo::demo_config())
        .with_folder(
            "support",
            "INBOX",
            vec![mail(1, "Order 1"), mail(2, "Order 2")],
        )
        .with_folder(
            "support",
            "Kunden",
            vec![mail(3, "A"), mail(4, "B"), mail(5, "C")],
        );
    d.listed.insert(
        "support".into(),
        vec![
            ServerFolder {
                name: "Archiv".into(),
                special_use: Some("\\Archive".into()),
                messages: Some(40),
            },
            ServerFolder {
                name: "Lieferanten".into(),
                special_use: None,
                messages: Some(7),
            },
        ],
    );
    d
}

fn app(d: &FakeDesk) -> App {
    let mut a = App::new(Keymap::builtin("default").expect("keymap"));
    a.list.height = 10;
    a.load(d);
    a
}

fn press(a: &mut App, d: &FakeDesk, keys: &str) -> Vec<Command> {
    let mut out = Vec::new();
    for k in Key::parse_sequence(keys).expect("keys") {
        out.extend(a.handle_key(d, k));
    }
    out
}

fn typ(a: &mut App, d: &FakeDesk, text: &str) {
    for c in text.chars() {
        let k: Key = if c == ' ' {
            "<Space>".parse().expect("space")
        } else {
            c.to_string().parse().expect("char")
        };
        a.handle_key(d, k);
    }
}

fn prompt_label(a: &App) -> String {
    match &a.overlay {
        Some(Overlay::Prompt(p)) => p.label.clone(),
        other => panic!("no prompt: {other:?}"),
    }
}

fn prompt_input(a: &App) -> String {
    match &a.overlay {
        Some(Overlay::Prompt(p)) => p.input.as_str().to_string(),
        other => panic!("no prompt: {other:?}"),
    }
}

fn status(a: &App) -> String {
    a.status
        .message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

/// Focus the folder pane with the cursor on `name`.
fn on_folder(a: &mut App, d: &FakeDesk, name: &str) {
    press(a, d, "1 g g");
    for _ in 0..10 {
        if matches!(a.folders.get(a.folder_cursor),
            Some(deskmail::tui::app::FolderRow::Folder { name: n, .. }) if n == name)
        {
            return;
        }
        press(a, d, "j");
    }
    panic!("no folder {name} in {:?}", a.folders);
}

#[test]
fn folder_pane_keys_create_and_rename_a_folder_through_a_prompt() {
    let d = desk();
    let mut a = app(&d);
    on_folder(&mut a, &d, "Kunden");
    press(&mut a, &d, "a");
    assert!(prompt_label(&a).contains("New folder on the server of support"));
    typ(&mut a, &d, "Reklamationen 2026");
    let cmds = press(&mut a, &d, "<Enter>");
    assert!(
        matches!(cmds.as_slice(), [Command::CreateFolder { account, name }]
            if account == "support" && name == "Reklamationen 2026"),
        "{cmds:?}"
    );

    press(&mut a, &d, "R");
    assert_eq!(prompt_label(&a), "Rename folder \"Kunden\" to:");
    typ(&mut a, &d, "Stammkunden");
    let cmds = press(&mut a, &d, "<Enter>");
    assert!(
        matches!(cmds.as_slice(), [Command::RenameFolder { account, from, to }]
            if account == "support" && from == "Kunden" && to == "Stammkunden"),
        "{cmds:?}"
    );
}

#[test]
fn delete_asks_to_confirm_with_the_mail_count_and_only_yes_deletes() {
    let d = desk();
    let mut a = app(&d);
    on_folder(&mut a, &d, "Kunden");
    press(&mut a, &d, "X");
    assert_eq!(
        prompt_label(&a),
        "Delete folder \"Kunden\" and its 3 mails on the server? Type yes:"
    );
    typ(&mut a, &d, "no");
    assert!(press(&mut a, &d, "<Enter>").is_empty());
    assert_eq!(status(&a), "Not deleted.");

    press(&mut a, &d, "X");
    typ(&mut a, &d, "yes");
    let cmds = press(&mut a, &d, "<Enter>");
    assert!(
        matches!(cmds.as_slice(), [Command::DeleteFolder { account, name }]
            if account == "support" && name == "Kunden"),
        "{cmds:?}"
    );
}

#[test]
fn inbox_is_refused_in_plain_words_without_a_prompt() {
    let d = desk();
    let mut a = app(&d);
    on_folder(&mut a, &d, "INBOX");
    assert!(press(&mut a, &d, "X").is_empty());
    assert!(a.overlay.is_none());
    assert!(status(&a).contains("INBOX is where new mail arrives"));
    assert!(press(&mut a, &d, "R").is_empty());
    assert!(a.overlay.is_none());
}

#[test]
fn n_in_the_folder_pane_makes_a_folder_quiet() {
    let d = desk();
    let mut a = app(&d);
    on_folder(&mut a, &d, "Kunden");
    let cmds = press(&mut a, &d, "N");
    assert!(
        matches!(cmds.as_slice(), [Command::SetFolderNotify { account, folder, notify: false }]
            if account == "support" && folder == "Kunden"),
        "{cmds:?}"
    );
}

#[test]
fn palette_entries_run_the_folder_actions_on_the_folder_under_the_cursor() {
    let d = desk();
    let mut a = app(&d);
    on_folder(&mut a, &d, "Kunden");
    press(&mut a, &d, ":");
    typ(&mut a, &d, "delete folder");
    press(&mut a, &d, "<Enter>");
    assert!(prompt_label(&a).starts_with("Delete folder \"Kunden\""));
}

#[test]
fn m_offers_folders_the_server_lists_but_the_desk_does_not_sync() {
    let d = desk();
    let mut a = app(&d);
    press(&mut a, &d, "2");
    press(&mut a, &d, "m");
    assert!(prompt_label(&a).contains("Tab"), "{}", prompt_label(&a));
    // Sorted, the open folder left out: Archiv, Kunden, Lieferanten.
    press(&mut a, &d, "<Tab>");
    assert_eq!(prompt_input(&a), "Archiv");
    press(&mut a, &d, "<Tab> <Tab>");
    assert_eq!(prompt_input(&a), "Lieferanten");
    let cmds = press(&mut a, &d, "<Enter>");
    assert!(
        matches!(cmds.as_slice(), [Command::MoveTo { to: Some(t), folder, .. }]
            if t == "Lieferanten" && folder == "INBOX"),
        "{cmds:?}"
    );

    press(&mut a, &d, "m");
    typ(&mut a, &d, "li");
    press(&mut a, &d, "<Tab>");
    assert_eq!(
        prompt_input(&a),
        "Lieferanten",
        "Tab completes what was typed"
    );

    press(&mut a, &d, "<Esc> m");
    typ(&mut a, &d, "Nirgendwo");
    assert!(press(&mut a, &d, "<Enter>").is_empty());
    assert!(
        status(&a).contains("has no folder \"Nirgendwo\""),
        "{}",
        status(&a)
    );
}
