//! Screen state against an in-memory desk: no store, no terminal, no
//! runtime. Keys go into `App`; what it asks of the desk is read back from
//! the commands it returns and the fake desk's log.

use deskmail::desk::fake::FakeDesk;
use deskmail::protocol::Command;
use deskmail::store::drafts::StoredDraft;
use deskmail::store::{MessageSummary, Party, Record, RecordKind};
use deskmail::tui::action::Action;
use deskmail::tui::app::{App, Focus, Overlay};
use deskmail::tui::keymap::{Key, Keymap};
use std::path::Path;

fn mail(id: u64, subject: &str) -> MessageSummary {
    MessageSummary {
        id,
        subject: subject.into(),
        from: vec![Party {
            name: "Carol Customer".into(),
            email: "carol@example.com".into(),
        }],
        date: 1_700_000_000 - id as i64 * 3600,
        preview: format!("About {subject}"),
        ..MessageSummary::default()
    }
}

/// A desk with `n` mails in support/INBOX and three contacts.
fn desk(n: u64) -> FakeDesk {
    let mut d = FakeDesk::new(deskmail::demo::demo_config()).with_folder(
        "support",
        "INBOX",
        (1..=n).map(|i| mail(i, &format!("Order {i}"))).collect(),
    );
    for (id, name) in [(1, "Ann Archer"), (2, "Bob Baker"), (3, "Cid Carter")] {
        let mut r = Record::new(RecordKind::Contact, name);
        r.id = id;
        d.records.push(r);
    }
    d
}

fn app(desk: &FakeDesk, rows: usize) -> App {
    let mut app = App::new(Keymap::builtin("default").expect("keymap"));
    app.list.height = rows;
    let cmds = app.load(desk);
    assert!(
        matches!(cmds.as_slice(), [Command::Render { id: 1, .. }]),
        "{cmds:?}"
    );
    app
}

/// Press `keys` (keymap notation); the commands they produced.
fn press(app: &mut App, desk: &FakeDesk, keys: &str) -> Vec<Command> {
    let mut out = Vec::new();
    for k in Key::parse_sequence(keys).expect("keys") {
        out.extend(app.handle_key(desk, k));
    }
    out
}

fn typ(app: &mut App, desk: &FakeDesk, text: &str) {
    for c in text.chars() {
        let k: Key = if c == ' ' {
            "<Space>".parse().expect("space")
        } else {
            c.to_string().parse().expect("char")
        };
        app.handle_key(desk, k);
    }
}

#[test]
fn moving_past_the_window_pulls_the_next_row_from_the_desk() {
    let d = desk(30);
    let mut a = app(&d, 5);
    assert_eq!(a.list.rows.len(), 5);
    let cmds = press(&mut a, &d, "j j j j j j");
    assert_eq!(a.list.selected().map(|r| r.summary.id), Some(7));
    assert_eq!(a.list.first_index, 2);
    assert_eq!(a.list.rows.len(), 5, "the window keeps its height");
    assert!(matches!(cmds.last(), Some(Command::Render { id: 7, .. })));
    press(&mut a, &d, "G");
    assert_eq!(a.list.selected().map(|r| r.summary.id), Some(30));
    press(&mut a, &d, "g g");
    assert_eq!(a.list.selected().map(|r| r.summary.id), Some(1));
}

#[test]
fn enter_in_the_palette_after_moving_past_the_end_runs_the_last_match() {
    let d = desk(3);
    let mut a = app(&d, 5);
    press(&mut a, &d, ":");
    typ(&mut a, &d, "focus");
    let last = match &a.overlay {
        Some(Overlay::Palette { matches, .. }) => {
            assert!(matches.items().len() > 1, "{:?}", matches.items());
            matches.items().last().map(|(action, _)| *action)
        }
        other => panic!("no palette: {other:?}"),
    };
    for _ in 0..40 {
        press(&mut a, &d, "<Down>");
    }
    match &a.overlay {
        Some(Overlay::Palette { matches, .. }) => {
            assert_eq!(matches.selected().map(|(action, _)| *action), last)
        }
        other => panic!("the palette closed: {other:?}"),
    }
    press(&mut a, &d, "<Enter>");
    assert!(a.overlay.is_none());
    let want = match last {
        Some(Action::FocusFolders) => Focus::Folders,
        Some(Action::FocusList) => Focus::List,
        Some(Action::FocusReader) => Focus::Reader,
        Some(Action::FocusRecords) => Focus::Records,
        other => panic!("unexpected last match {other:?}"),
    };
    assert_ne!(want, Focus::List, "the focus did not start there");
    assert_eq!(a.focus, want, "Enter ran what was shown selected");
}

#[test]
fn enter_in_the_record_picker_past_the_end_links_the_last_record() {
    let d = desk(3);
    let mut a = app(&d, 5);
    press(&mut a, &d, "L");
    assert!(
        matches!(a.overlay, Some(Overlay::Picker(_))),
        "{:?}",
        a.overlay
    );
    for _ in 0..10 {
        press(&mut a, &d, "<Down>");
    }
    let cmds = press(&mut a, &d, "<Enter>");
    match cmds.as_slice() {
        [Command::Link { id: 1, record }] => assert_eq!(*record, (RecordKind::Contact, 3)),
        other => panic!("no link: {other:?}"),
    }
}

#[test]
fn deleting_the_last_draft_selects_the_one_before_and_tells_the_desk() {
    let d = desk(1);
    let mut a = app(&d, 5);
    let drafts: Vec<StoredDraft> = (1..=3)
        .map(|id| StoredDraft {
            id,
            subject: format!("draft {id}"),
            ..StoredDraft::default()
        })
        .collect();
    a.overlay = Some(Overlay::Drafts(deskmail::tui::app::PickList::new(drafts)));
    let cmds = press(&mut a, &d, "G d");
    assert!(
        matches!(cmds.as_slice(), [Command::DeleteDraft { id: 3 }]),
        "{cmds:?}"
    );
    match &a.overlay {
        Some(Overlay::Drafts(l)) => assert_eq!(l.selected().map(|d| d.id), Some(2)),
        other => panic!("drafts closed: {other:?}"),
    }
}

#[test]
fn an_outbox_override_does_not_reach_the_trash_or_drafts() {
    let d = desk(1);
    let mut keymap = Keymap::builtin("default").expect("keymap");
    keymap.merge(
        Keymap::parse(
            "[[outbox]]\non = \"x\"\nrun = \"back\"\n\n[[trash]]\non = \"z\"\nrun = \"back\"\n",
            Path::new("keymap.toml"),
        )
        .expect("override"),
    );
    let mut a = App::new(keymap);
    a.load(&d);
    a.handle_action(&d, Action::RecordTrash);
    assert!(matches!(a.overlay, Some(Overlay::Trash(_))));
    press(&mut a, &d, "x");
    assert!(
        matches!(a.overlay, Some(Overlay::Trash(_))),
        "x is outbox only"
    );
    press(&mut a, &d, "z");
    assert!(a.overlay.is_none(), "z closes the trash");
}

#[test]
fn a_reply_quotes_through_the_desk_and_esc_saves_the_draft_by_command() {
    let d = desk(2);
    let mut a = app(&d, 5);
    press(&mut a, &d, "r");
    let Some(Overlay::Compose(c)) = &a.overlay else {
        panic!("no compose: {:?}", a.status.message);
    };
    let body = c.body.lines().join("\n");
    assert!(body.contains("> About Order 1"), "{body}");
    typ(&mut a, &d, "Thanks");
    let cmds = press(&mut a, &d, "<Esc>");
    match cmds.as_slice() {
        [Command::SaveDraft(draft)] => {
            assert!(draft.body.contains("Thanks"), "{}", draft.body);
            assert_eq!(draft.in_reply_to, Some(1));
        }
        other => panic!("no draft saved: {other:?}"),
    }
    assert!(
        d.take_sent().is_empty(),
        "nothing went to the desk behind the screen"
    );
}

#[test]
fn three_marked_mails_are_archived_by_one_command_carrying_their_ids() {
    let d = desk(10);
    let mut a = app(&d, 5);
    press(&mut a, &d, "v v v");
    assert_eq!(a.list.marks.len(), 3);
    assert_eq!(
        a.list.selected().map(|r| r.summary.id),
        Some(4),
        "marking moves down"
    );
    let cmds = press(&mut a, &d, "a");
    let moves: Vec<&Command> = cmds
        .iter()
        .filter(|c| matches!(c, Command::MoveMany { .. } | Command::MoveTo { .. }))
        .collect();
    match moves.as_slice() {
        [
            Command::MoveMany {
                ids, folder, to, ..
            },
        ] => {
            assert_eq!(ids, &vec![1, 2, 3]);
            assert_eq!(folder, "INBOX");
            assert_eq!(to, &None, "archive is the account's archive");
        }
        other => panic!("not one bulk move: {other:?}"),
    }
    assert!(a.list.marks.is_empty(), "moved mails are no longer marked");
    assert!(matches!(press(&mut a, &d, "z").as_slice(), [Command::Undo]));
}

#[test]
fn flag_read_link_and_case_apply_to_every_marked_mail_until_esc_clears_marks() {
    let d = desk(10);
    let mut a = app(&d, 5);
    press(&mut a, &d, "v j v");
    let marked = vec![1, 3];
    match press(&mut a, &d, "s").as_slice() {
        [Command::SetFlagsMany { ids, add, .. }] => {
            assert_eq!(ids, &marked);
            assert_eq!(*add, deskmail::store::flags::FLAGGED);
        }
        other => panic!("{other:?}"),
    }
    match press(&mut a, &d, "s").as_slice() {
        [Command::SetFlagsMany { remove, .. }] => {
            assert_eq!(
                *remove,
                deskmail::store::flags::FLAGGED,
                "all flagged: unflag"
            )
        }
        other => panic!("{other:?}"),
    }
    press(&mut a, &d, "L");
    match press(&mut a, &d, "<Enter>").as_slice() {
        [Command::LinkMany { ids, .. }] => assert_eq!(ids, &marked),
        other => panic!("{other:?}"),
    }
    match a.handle_action(&d, Action::CreateCase).as_slice() {
        [Command::CreateCaseFromMails { ids }] => assert_eq!(ids, &marked),
        other => panic!("{other:?}"),
    }
    press(&mut a, &d, "<Esc>");
    assert!(a.list.marks.is_empty());
    let cmds = press(&mut a, &d, "a");
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::MoveTo { id: 4, .. })),
        "without marks the selected mail alone: {cmds:?}"
    );
}

#[test]
fn mark_all_marks_the_whole_folder_not_only_the_window() {
    let d = desk(30);
    let mut a = app(&d, 5);
    press(&mut a, &d, "*");
    assert_eq!(a.list.marks.len(), 30);
    match press(&mut a, &d, "d").as_slice() {
        [Command::TrashMany { ids, .. }] => assert_eq!(ids.len(), 30),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mark_folder_read_is_one_command_for_every_unread_mail_of_the_folder() {
    let d = desk(30);
    let mut a = app(&d, 5);
    match press(&mut a, &d, "M").as_slice() {
        [Command::SetFlagsMany { ids, add, .. }] => {
            assert_eq!(ids.len(), 30);
            assert_eq!(*add, deskmail::store::flags::SEEN);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_status_line_warns_of_plain_text_to_a_remote_host() {
    use deskmail::tui::theme::{ColorEnv, Theme};
    let cfg = deskmail::config::Config::parse(
        "[[accounts]]\nname = \"support\"\nemail = \"support@desk.example\"\n\
         host = \"mail.desk.example\"\nport = 143\ntls = \"none\"\nuser = \"support\"\n\
         password = \"secret\"\n\n\
         [[accounts]]\nname = \"local\"\nemail = \"local@desk.example\"\n\
         host = \"127.0.0.1\"\nport = 143\ntls = \"none\"\nuser = \"local\"\n\
         password = \"secret\"\n",
        Path::new("config.toml"),
    )
    .expect("config parses");
    let d = desk(3);
    let mut app = app(&d, 10);
    app.status.warnings = cfg.security_warnings();
    let theme = Theme::load("dark", None, ColorEnv::from_vars(false, None)).expect("theme");
    let mut term =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 30)).expect("terminal");
    term.draw(|f| deskmail::tui::ui::draw(f, &app, &theme))
        .expect("draw");
    let buf = term.backend().buffer();
    let status: String = (0..buf.area.width)
        .map(|x| buf[(x, buf.area.height - 1)].symbol().to_string())
        .collect();
    assert!(
        status.contains("support: IMAP to mail.desk.example is unencrypted"),
        "{status}"
    );
    assert!(!status.contains("127.0.0.1"), "{status}");
}

/// The text of the screen drawn at `w`×`h`, one string per line.
fn screen(app: &App, w: u16, h: u16) -> Vec<String> {
    use deskmail::tui::theme::{ColorEnv, Theme};
    let theme = Theme::load("dark", None, ColorEnv::from_vars(false, None)).expect("theme");
    let mut term =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| deskmail::tui::ui::draw(f, app, &theme))
        .expect("draw");
    let buf = term.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn first_start_opens_the_first_accounts_inbox_and_shows_mail_newest_first_as_it_arrives() {
    use deskmail::protocol::{Event, SyncState};
    let mut d = FakeDesk::new(deskmail::demo::demo_config());
    d.accounts = vec!["support".into(), "sales".into()];
    let mut a = App::new(Keymap::builtin("default").expect("keymap"));
    a.list.height = 5;
    assert!(a.load(&d).is_empty());
    assert_eq!(
        (a.list.account.as_str(), a.list.folder.as_str()),
        ("support", "INBOX")
    );

    // The first sync is under way: the list says so instead of "No mail".
    a.handle_event(
        &d,
        Event::Sync {
            account: "support".into(),
            state: SyncState::Syncing { done: 0, total: 40 },
        },
    );
    let text = screen(&a, 120, 20).join("\n");
    assert!(text.contains("Fetching mail (0 of 40)"), "{text}");
    assert!(text.contains("support: syncing 0 of 40"), "{text}");
    assert!(!text.contains("No mail in this folder"), "{text}");

    // A first batch lands: it shows at once, newest selected and rendered.
    d.mails.insert(
        ("support".into(), "INBOX".into()),
        vec![mail(8, "Order 8"), mail(9, "Order 9")],
    );
    let cmds = a.handle_event(
        &d,
        Event::FolderChanged {
            account: "support".into(),
            folder: "INBOX".into(),
        },
    );
    assert!(
        matches!(cmds.as_slice(), [Command::Render { id: 8, .. }]),
        "{cmds:?}"
    );
    // The folder cursor sits on the INBOX that has just been listed.
    assert!(matches!(
        &a.folders[a.folder_cursor],
        deskmail::tui::app::FolderRow::Folder { account, name, .. } if account == "support" && name == "INBOX"
    ));

    // Newer mail of the same sync goes above, and the untouched selection
    // follows the newest.
    d.mails.insert(
        ("support".into(), "INBOX".into()),
        (1..=9).map(|i| mail(i, &format!("Order {i}"))).collect(),
    );
    let cmds = a.handle_event(
        &d,
        Event::FolderChanged {
            account: "support".into(),
            folder: "INBOX".into(),
        },
    );
    assert!(
        matches!(cmds.as_slice(), [Command::Render { id: 1, .. }]),
        "{cmds:?}"
    );
    let ids: Vec<u64> = a.list.rows.iter().map(|r| r.summary.id).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);

    // Once the agent has picked a mail, more arriving keeps it selected.
    press(&mut a, &d, "j j");
    let mut more: Vec<_> = vec![mail(0, "Order 0")];
    more.extend((1..=9).map(|i| mail(i, &format!("Order {i}"))));
    d.mails.insert(("support".into(), "INBOX".into()), more);
    let cmds = a.handle_event(
        &d,
        Event::FolderChanged {
            account: "support".into(),
            folder: "INBOX".into(),
        },
    );
    assert!(cmds.is_empty(), "{cmds:?}");
    assert_eq!(a.list.selected().map(|r| r.summary.id), Some(3));
    assert_eq!(a.list.rows.first().map(|r| r.summary.id), Some(0));
}

#[test]
fn a_later_start_returns_to_the_folder_the_agent_left() {
    let d = desk(3).with_folder("support", "Sent", vec![mail(50, "Re: Order 1")]);
    let mut a = app(&d, 5);
    assert_eq!(a.list.folder, "INBOX");
    a.focus = Focus::Folders;
    let cmds = press(&mut a, &d, "j");
    assert_eq!(a.list.folder, "Sent");
    assert!(
        cmds.iter().any(|c| matches!(c, Command::RememberPosition { account, folder } if account == "support" && folder == "Sent")),
        "{cmds:?}"
    );
    // The driver hands the commands to the desk, which keeps the position.
    for c in cmds {
        deskmail::protocol::DeskClient::send(&d, c);
    }

    let mut next = App::new(Keymap::builtin("default").expect("keymap"));
    next.list.height = 5;
    let cmds = next.load(&d);
    assert_eq!(
        (next.list.account.as_str(), next.list.folder.as_str()),
        ("support", "Sent")
    );
    assert!(
        matches!(cmds.as_slice(), [Command::Render { id: 50, .. }]),
        "{cmds:?}"
    );

    // A remembered folder that no longer exists falls back to the INBOX.
    let gone = desk(3);
    *gone.position.lock().expect("lock") = Some(("support".into(), "Old".into()));
    let mut again = App::new(Keymap::builtin("default").expect("keymap"));
    again.list.height = 5;
    again.load(&gone);
    assert_eq!(again.list.folder, "INBOX");
}

const ACCOUNTS_FILE: &str = r#"# deskmail configuration
[agent]
name = "Sam Agent"   # shown in From
email = "sam@desk.example"

# The shared support mailbox.
[[accounts]]
name = "support"
email = "support@desk.example"
# our own server
host = "mail.desk.example"
port = 993   # IMAPS
user = "support"
password_command = "pass show support"

[accounts.smtp]
host = "mail.desk.example"
port = 587
tls = "starttls"
"#;

/// An app on a desk configured by `ACCOUNTS_FILE`, saved in a temp dir.
fn accounts_app(dir: &Path) -> (FakeDesk, App) {
    use std::os::unix::fs::PermissionsExt;
    let file = dir.join("config.toml");
    std::fs::write(&file, ACCOUNTS_FILE).expect("write config");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let cfg = deskmail::config::Config::load(&file).expect("config loads");
    let d = FakeDesk::new(cfg).with_folder("support", "INBOX", vec![mail(1, "Order 1")]);
    let mut a = app(&d, 10);
    a.config_file = Some(file);
    (d, a)
}

/// Empty the current form field and type `text` into it.
fn retype(a: &mut App, d: &FakeDesk, text: &str) {
    for _ in 0..40 {
        press(a, d, "<BS>");
    }
    for c in text.chars() {
        a.handle_key(d, Key::char(c));
    }
}

/// The mono screen as text, lines trimmed.
fn mono_screen(a: &App, w: u16, h: u16) -> String {
    use deskmail::tui::theme::{ColorEnv, Theme};
    let theme = Theme::load("mono", None, ColorEnv::from_vars(true, None)).expect("mono");
    let mut term =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| deskmail::tui::ui::draw(f, a, &theme))
        .expect("draw");
    let buf = term.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            let line: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            format!("{}\n", line.trim_end())
        })
        .collect()
}

#[test]
fn account_form_marks_both_invalid_fields_with_their_reasons_at_80x24() {
    use deskmail::tui::theme::{ColorEnv, Role, Theme};
    let dir = tempfile::tempdir().expect("tmp");
    let (d, mut a) = accounts_app(dir.path());
    press(&mut a, &d, "A");
    assert!(matches!(a.overlay, Some(Overlay::Accounts(_))));
    press(&mut a, &d, "<Enter>");
    press(&mut a, &d, "<Tab> <Tab>");
    retype(&mut a, &d, "support.desk.example");
    press(&mut a, &d, "<Tab> <Tab>");
    retype(&mut a, &d, "99x");
    let Some(Overlay::Accounts(screen)) = &a.overlay else {
        panic!("accounts screen closed");
    };
    let form = screen.form.as_ref().expect("form open");
    let marked: Vec<&str> = form
        .errors
        .keys()
        .map(|i| deskmail::config::edit::FIELDS[*i].key)
        .collect();
    assert_eq!(marked, vec!["email", "port"]);
    insta::assert_snapshot!("overlay_account_form_two_invalid", mono_screen(&a, 80, 24));

    // Each reason is drawn in the theme's error colour.
    let theme = Theme::load("dark", None, ColorEnv::from_vars(false, None)).expect("theme");
    let error = theme.style(Role::Error);
    let mut term =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).expect("terminal");
    term.draw(|f| deskmail::tui::ui::draw(f, &a, &theme))
        .expect("draw");
    let buf = term.backend().buffer();
    let mut reasons = 0;
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        if let Some(col) = line.find("↑ ") {
            let x = line[..col].chars().count() as u16;
            assert_eq!(buf[(x, y)].fg, error.fg.unwrap_or_default(), "{line}");
            reasons += 1;
        }
    }
    assert_eq!(reasons, 2);

    // Saving is refused while they are invalid; the file is untouched.
    press(&mut a, &d, "<C-g>");
    let file = dir.path().join("config.toml");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), ACCOUNTS_FILE);
    assert!(
        a.status
            .message
            .as_ref()
            .is_some_and(|m| m.is_error && m.text.contains("2 field")),
        "{:?}",
        a.status.message
    );
}

#[test]
fn saving_the_account_form_changes_only_the_edited_field_and_keeps_every_comment() {
    let dir = tempfile::tempdir().expect("tmp");
    let (d, mut a) = accounts_app(dir.path());
    press(&mut a, &d, "A <Enter> <Tab> <Tab> <Tab> <Tab>");
    retype(&mut a, &d, "143");
    press(&mut a, &d, "<Tab>");
    retype(&mut a, &d, "starttls");
    press(&mut a, &d, "<C-g>");
    let file = dir.path().join("config.toml");
    let saved = std::fs::read_to_string(&file).expect("read");
    let expected = ACCOUNTS_FILE
        .replace("port = 993   # IMAPS", "port = 143   # IMAPS")
        .replace(
            "password_command = \"pass show support\"\n",
            "password_command = \"pass show support\"\ntls = \"starttls\"\n",
        );
    assert_eq!(saved, expected);
    let again = deskmail::config::Config::load(&file).expect("saved config loads");
    assert_eq!(again.accounts[0].port, 143);
    assert!(
        a.status
            .message
            .as_ref()
            .is_some_and(|m| !m.is_error && m.text.contains("Saved support")),
        "{:?}",
        a.status.message
    );
    // The form closed; the list shows the saved settings.
    let Some(Overlay::Accounts(screen)) = &a.overlay else {
        panic!("accounts screen closed");
    };
    assert!(screen.form.is_none());
    assert_eq!(screen.list.selected().map(|a| a.port), Some(143));
}

#[test]
fn the_palette_offers_the_accounts_screen_and_opens_it_with_their_sync_state() {
    use deskmail::protocol::{Event, SyncState};
    let dir = tempfile::tempdir().expect("tmp");
    let (d, mut a) = accounts_app(dir.path());
    a.handle_event(
        &d,
        Event::Sync {
            account: "support".into(),
            state: SyncState::Syncing { done: 3, total: 9 },
        },
    );
    press(&mut a, &d, ":");
    typ(&mut a, &d, "accounts");
    press(&mut a, &d, "<Enter>");
    assert!(matches!(a.overlay, Some(Overlay::Accounts(_))));
    let screen = mono_screen(&a, 100, 24);
    assert!(
        screen.contains("support")
            && screen.contains("mail.desk.example:993")
            && screen.contains("syncing 3 of 9"),
        "{screen}"
    );
    press(&mut a, &d, "<Esc>");
    assert!(a.overlay.is_none());
}
