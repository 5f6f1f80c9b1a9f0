//! Search in the interface against an in-memory desk: the query line, the
//! "Search: …" virtual folder and `n`/`N` between hits. Keys go into `App`;
//! what it asks of the desk is read back from the commands it returns.

use deskmail::desk::fake::FakeDesk;
use deskmail::mail::render::{LineKind, RenderedLine, RenderedMail};
use deskmail::protocol::{Command, Event};
use deskmail::store::{MessageSummary, Party, Record, RecordKind, flags};
use deskmail::tui::app::{App, Focus, Overlay, View};
use deskmail::tui::keymap::{Key, Keymap};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn mail(id: u64, subject: &str, from: &str) -> MessageSummary {
    let (name, email) = from.split_once(' ').unwrap_or(("", from));
    MessageSummary {
        id,
        subject: subject.into(),
        from: vec![Party {
            name: name.into(),
            email: email.into(),
        }],
        date: 1_700_000_000 - id as i64 * 3600,
        preview: format!("About {subject}"),
        ..MessageSummary::default()
    }
}

/// support/INBOX with orders and two refunds; support/Archive with a third.
fn desk() -> FakeDesk {
    FakeDesk::new(deskmail::demo::demo_config())
        .with_folder(
            "support",
            "INBOX",
            vec![
                mail(1, "Order 1 shipped", "Carol carol@example.com"),
                mail(2, "Refund for order 7", "Lucas lucas@shop.example"),
                mail(3, "Order 3 late", "Carol carol@example.com"),
                mail(4, "Refunds policy", "Dana dana@example.org"),
            ],
        )
        .with_folder(
            "support",
            "Archive",
            vec![mail(5, "Refunded twice", "Lucas lucas@shop.example")],
        )
}

fn app(desk: &FakeDesk) -> App {
    let mut app = App::new(Keymap::builtin("default").expect("keymap"));
    app.list.height = 10;
    app.load(desk);
    // The folder pane lists Archive before INBOX; start in INBOX.
    while app.list.folder != "INBOX" {
        app.handle_action(desk, deskmail::tui::action::Action::FocusFolders);
        press(&mut app, desk, "j");
    }
    app.focus = Focus::List;
    app
}

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

/// Let the typing pause pass: the query runs.
fn pause(app: &mut App, desk: &FakeDesk) -> Vec<Command> {
    app.search_tick(desk, Instant::now() + Duration::from_secs(1))
        .unwrap_or_default()
}

fn line_text(app: &App) -> String {
    match &app.overlay {
        Some(Overlay::Search(l)) => l.input.as_str().to_string(),
        other => panic!("no search line: {other:?}"),
    }
}

fn shown_ids(app: &App) -> Vec<u64> {
    app.list.rows.iter().map(|r| r.summary.id).collect()
}

#[test]
fn typing_a_query_shows_the_hits_of_every_folder_once_typing_pauses() {
    let d = desk();
    let mut a = app(&d);
    press(&mut a, &d, "/");
    assert!(matches!(a.overlay, Some(Overlay::Search(_))));
    typ(&mut a, &d, "refund");
    assert_eq!(a.list.folder, "INBOX", "nothing runs while typing");
    assert!(a.search_due().is_some());
    let cmds = pause(&mut a, &d);
    assert_eq!(a.list.view, View::Search);
    assert_eq!(
        shown_ids(&a),
        vec![2, 4, 5],
        "refund, refunds, refunded: INBOX and Archive, newest first"
    );
    assert!(
        matches!(cmds.as_slice(), [Command::Render { id: 2, .. }]),
        "{cmds:?}"
    );
    // Narrowing the query while the line is open updates the hits again.
    typ(&mut a, &d, " lucas");
    pause(&mut a, &d);
    assert_eq!(shown_ids(&a), vec![2, 5]);
    press(&mut a, &d, "<Enter>");
    assert!(a.overlay.is_none());
    assert_eq!(a.focus, Focus::List);
    let s = a.list.search.as_ref().expect("search shown");
    assert_eq!(s.query, "refund lucas");
}

#[test]
fn tab_completes_field_names_and_from_addresses() {
    let d = desk();
    let mut a = app(&d);
    press(&mut a, &d, "/");
    typ(&mut a, &d, "fr");
    press(&mut a, &d, "<Tab>");
    assert_eq!(line_text(&a), "from:");
    typ(&mut a, &d, "luc");
    press(&mut a, &d, "<Tab>");
    assert_eq!(line_text(&a), "from:lucas@shop.example");
    typ(&mut a, &d, " is:unr");
    press(&mut a, &d, "<Tab>");
    assert_eq!(line_text(&a), "from:lucas@shop.example is:unread");
    // Several candidates: Tab cycles through them, Shift-Tab goes back.
    typ(&mut a, &d, " -from:");
    press(&mut a, &d, "<Tab>");
    let first = line_text(&a);
    press(&mut a, &d, "<Tab>");
    let second = line_text(&a);
    assert_ne!(first, second);
    assert!(second.starts_with("from:lucas@shop.example is:unread -from:"));
    press(&mut a, &d, "<S-Tab>");
    assert_eq!(line_text(&a), first);
}

#[test]
fn a_bad_query_names_its_token_and_keeps_the_hits_shown() {
    let d = desk();
    let mut a = app(&d);
    press(&mut a, &d, "/");
    typ(&mut a, &d, "refund");
    pause(&mut a, &d);
    typ(&mut a, &d, " OR");
    pause(&mut a, &d);
    match &a.overlay {
        Some(Overlay::Search(l)) => {
            let e = l.error.as_deref().expect("an error on the line");
            assert!(e.contains("`OR` at column 8"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(shown_ids(&a), vec![2, 4, 5], "the last good hits stay");
    press(&mut a, &d, "<Enter>");
    assert!(
        matches!(a.overlay, Some(Overlay::Search(_))),
        "Enter on a bad query keeps the line open"
    );
}

#[test]
fn commands_on_a_hit_go_to_the_folder_it_is_in() {
    let mut d = desk();
    let mut lucas = Record::new(RecordKind::Contact, "Lucas Lee");
    lucas.id = 9;
    d.records.push(lucas);
    let mut a = app(&d);
    press(&mut a, &d, "/");
    typ(&mut a, &d, "twice");
    press(&mut a, &d, "<Enter>");
    assert_eq!(shown_ids(&a), vec![5]);
    match press(&mut a, &d, "s").as_slice() {
        [
            Command::SetFlagsMany {
                ids, folder, add, ..
            },
        ] => {
            assert_eq!(ids, &[5]);
            assert_eq!(folder, "Archive");
            assert_eq!(*add, flags::FLAGGED);
        }
        other => panic!("{other:?}"),
    }
    match press(&mut a, &d, "d").as_slice() {
        [Command::Trash { id: 5, folder, .. }] => assert_eq!(folder, "Archive"),
        other => panic!("{other:?}"),
    }
    press(&mut a, &d, "m");
    typ(&mut a, &d, "INBOX");
    match press(&mut a, &d, "<Enter>").as_slice() {
        [
            Command::MoveTo {
                id: 5, folder, to, ..
            },
        ] => {
            assert_eq!(folder, "Archive");
            assert_eq!(to.as_deref(), Some("INBOX"));
        }
        other => panic!("{other:?}"),
    }
    press(&mut a, &d, "L");
    match press(&mut a, &d, "<Enter>").as_slice() {
        [Command::Link { id: 5, record }] => assert_eq!(record.1, 9),
        other => panic!("{other:?}"),
    }
    // Reply works on the hit as on any mail.
    press(&mut a, &d, "r");
    assert!(matches!(a.overlay, Some(Overlay::Compose(_))));
}

#[test]
fn marked_hits_of_two_folders_are_archived_by_one_command_per_folder() {
    let d = desk();
    let mut a = app(&d);
    press(&mut a, &d, "/");
    typ(&mut a, &d, "refund");
    press(&mut a, &d, "<Enter>");
    press(&mut a, &d, "*");
    assert_eq!(a.list.marks.len(), 3);
    let cmds = press(&mut a, &d, "a");
    let mut moves: Vec<(String, Vec<u64>)> = cmds
        .iter()
        .map(|c| match c {
            Command::MoveMany { ids, folder, .. } => (folder.clone(), ids.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    moves.sort();
    assert_eq!(
        moves,
        vec![("Archive".into(), vec![5]), ("INBOX".into(), vec![2, 4])]
    );
    assert!(a.list.marks.is_empty());
}

#[test]
fn esc_in_the_hits_goes_back_to_the_folder_the_search_started_from() {
    let d = desk();
    let mut a = app(&d);
    press(&mut a, &d, "j j");
    press(&mut a, &d, "/");
    typ(&mut a, &d, "twice");
    press(&mut a, &d, "<Enter>");
    assert_eq!(
        a.list.folder, "Archive",
        "the hit's folder while it is selected"
    );
    press(&mut a, &d, "<Esc>");
    assert_eq!(a.list.view, View::All);
    assert!(a.list.search.is_none());
    assert_eq!(a.list.folder, "INBOX");
    assert_eq!(shown_ids(&a), vec![1, 2, 3, 4]);
    // Esc on the line itself, before any search was accepted, changes nothing.
    press(&mut a, &d, "/");
    typ(&mut a, &d, "order");
    pause(&mut a, &d);
    press(&mut a, &d, "<Esc>");
    assert!(a.overlay.is_none());
    assert_eq!(a.list.view, View::All);
    assert_eq!(a.list.folder, "INBOX");
}

fn rendered(lines: &[&str]) -> Arc<RenderedMail> {
    Arc::new(RenderedMail {
        headers: vec![("Subject".into(), "Re: your parcel".into())],
        lines: lines
            .iter()
            .map(|t| RenderedLine {
                kind: LineKind::Body,
                text: t.to_string(),
            })
            .collect(),
        ..RenderedMail::default()
    })
}

#[test]
fn n_and_shift_n_jump_between_hits_then_to_the_next_mail_found() {
    let d = desk();
    let mut a = app(&d);
    press(&mut a, &d, "/");
    typ(&mut a, &d, "refund");
    press(&mut a, &d, "<Enter> <Enter>");
    assert_eq!(a.focus, Focus::Reader);
    assert_eq!(a.reader.id, Some(2));
    // Subject and a blank line come first: body line i is reader line i + 2.
    a.handle_event(
        &d,
        Event::Rendered {
            id: 2,
            mail: rendered(&[
                "Hello,",
                "I asked for a refund last week.",
                "Nothing yet.",
                "",
                "Refunds take long, I know.",
            ]),
        },
    );
    assert_eq!(a.hit_lines(), vec![3, 6]);
    press(&mut a, &d, "n");
    assert_eq!(a.reader.hit, Some(3));
    press(&mut a, &d, "n");
    assert_eq!(a.reader.hit, Some(6));
    press(&mut a, &d, "N");
    assert_eq!(a.reader.hit, Some(3));
    press(&mut a, &d, "n");
    // Past the last hit: the next mail found, at its first hit once rendered.
    let cmds = press(&mut a, &d, "n");
    assert_eq!(a.reader.id, Some(4));
    assert!(
        matches!(cmds.as_slice(), [Command::Render { id: 4, .. }]),
        "{cmds:?}"
    );
    a.handle_event(
        &d,
        Event::Rendered {
            id: 4,
            mail: rendered(&["Policy:", "", "", "", "", "", "No refund after 30 days."]),
        },
    );
    assert_eq!(a.reader.hit, Some(8));
    assert_eq!(a.reader.scroll, 6, "two lines of context above the hit");
}

#[test]
fn hit_words_are_highlighted_in_the_reader() {
    use deskmail::tui::theme::{ColorEnv, Role, Theme};
    let d = desk();
    let mut a = app(&d);
    press(&mut a, &d, "/");
    typ(&mut a, &d, "refund");
    press(&mut a, &d, "<Enter>");
    a.handle_event(
        &d,
        Event::Rendered {
            id: 2,
            mail: rendered(&["Two refunds and one\u{1b}[31m refund."]),
        },
    );
    let theme = Theme::load("dark", None, ColorEnv::from_vars(false, None)).expect("theme");
    let (lines, _) = deskmail::tui::panes::reader::window(&a, &theme, 2, 1);
    let accent = theme.style(Role::Accent).fg;
    let lit: Vec<String> = lines[0]
        .spans
        .iter()
        .filter(|s| s.style.fg == accent)
        .map(|s| s.content.to_string())
        .collect();
    assert_eq!(lit, ["refunds", "refund"]);
    assert!(!lines[0].to_string().contains('\u{1b}'), "sanitised first");
}

#[test]
fn without_a_search_n_in_the_reader_still_steps_through_the_thread() {
    let mut d = desk();
    for m in d.mails.values_mut().flatten() {
        m.thread_id = 7;
    }
    let mut a = app(&d);
    press(&mut a, &d, "<Enter>");
    assert_eq!(a.reader.id, Some(1));
    press(&mut a, &d, "n");
    assert_eq!(a.reader.id, Some(2));
    assert!(a.reader.hit.is_none());
}
