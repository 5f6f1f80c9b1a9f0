//! Interface state and screens on the demo desk, with no terminal: keys go
//! into `App`, commands run on the real desk (a real store in a temp dir),
//! and screens are drawn on ratatui's TestBackend and compared as snapshots.

use deskmail::desk::{Backend, Desk, Event};
use deskmail::mail::format::Clock;
use deskmail::protocol::{DeskClient, ListRow, PageFrom, PageQuery};
use deskmail::store::drafts::StoredDraft;
use deskmail::store::notifications::Notification;
use deskmail::store::{OutboxEntry, OutboxState};
use deskmail::store::{RecordKind, Store, flags};
use deskmail::tui::app::{App, Focus, Overlay, PickList, StatusMessage};
use deskmail::tui::keymap::{Key, Keymap};
use deskmail::tui::theme::{ColorEnv, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc::UnboundedReceiver;

/// One demo desk built once for the whole file, copied per test.
fn demo_dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("tmp");
        let s = Store::open(d.path()).expect("open");
        deskmail::demo::build(&s, 320, 7).expect("demo");
        s.flush().expect("flush");
        d
    })
    .path()
}

struct Harness {
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    desk: Arc<Desk>,
    events: UnboundedReceiver<Event>,
    app: App,
    width: u16,
    height: u16,
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).expect("copy");
        }
    }
}

impl Harness {
    fn new(width: u16, height: u16) -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("rt");
        let dir = tempfile::tempdir().expect("tmp");
        let src = demo_dir();
        // sled keeps the store open only per process handle; copy once flushed.
        copy_dir(src, dir.path());
        let store = Arc::new(Store::open(dir.path()).expect("open copy"));
        let _guard = rt.enter();
        let (desk, events) = Desk::new(store, deskmail::demo::demo_config(), Backend::Demo);
        desk.set_data_dir(dir.path());
        let mut app = App::new(Keymap::builtin("default").expect("keymap"));
        // Screens are drawn in UTC whatever the machine's zone.
        app.clock = Clock::utc_at(1_764_000_000);
        let area = Rect::new(0, 0, width, height);
        app.list.height = deskmail::tui::ui::list_rows(area, app.focus);
        app.reader_width = deskmail::tui::ui::reader_width(area, app.focus);
        let mut h = Harness {
            _rt: rt,
            _dir: dir,
            desk,
            events,
            app,
            width,
            height,
        };
        let cmds = h.app.load(&h.desk);
        h.run(cmds);
        h
    }

    /// Run commands on the desk and feed its events back until it settles.
    fn run(&mut self, cmds: Vec<deskmail::desk::Command>) {
        let _g = self._rt.enter();
        let mut pending = cmds;
        loop {
            for c in pending.drain(..) {
                self.desk.send(c);
            }
            // Once settled, every event of the work so far is queued.
            self._rt.block_on(self.desk.settled());
            match self.events.try_recv() {
                Ok(e) => pending = self.app.handle_event(&self.desk, e),
                Err(_) => break,
            }
        }
    }

    /// The newest `n` rows of a folder of the support account.
    fn newest(&self, folder: &str, n: usize) -> Vec<ListRow> {
        let q = PageQuery {
            account: "support".into(),
            folder: folder.into(),
            from: PageFrom::After,
            cursor: None,
            n,
            collapsed: false,
        };
        self.desk.page(&q).expect("page")
    }

    fn key(&mut self, k: &str) {
        for key in Key::parse_sequence(k).expect("key") {
            let cmds = self.app.handle_key(&self.desk, key);
            self.run(cmds);
        }
    }

    fn screen(&self, theme: &Theme) -> String {
        let mut term = Terminal::new(TestBackend::new(self.width, self.height)).expect("term");
        term.draw(|f| deskmail::tui::ui::draw(f, &self.app, theme))
            .expect("draw");
        let buf = term.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut line = String::new();
            for x in 0..buf.area.width {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn mono() -> Theme {
    Theme::load(
        "mono",
        None,
        ColorEnv {
            no_color: true,
            truecolor: false,
        },
    )
    .expect("mono")
}

#[test]
fn demo_desk_at_80x24_matches_snapshot() {
    let h = Harness::new(80, 24);
    insta::assert_snapshot!("demo_80x24", h.screen(&mono()));
}

#[test]
fn demo_desk_at_160x48_matches_snapshot() {
    let h = Harness::new(160, 48);
    insta::assert_snapshot!("demo_160x48", h.screen(&mono()));
}

#[test]
fn j_and_k_move_the_selection_and_the_reader_follows() {
    let mut h = Harness::new(100, 30);
    let first = h.app.list.selected().map(|r| r.summary.id);
    h.key("j");
    let second = h.app.list.selected().map(|r| r.summary.id);
    assert_ne!(first, second);
    assert_eq!(h.app.reader.id, second);
    assert!(
        h.app.reader.mail.is_some(),
        "reader did not render the mail"
    );
    h.key("k");
    assert_eq!(h.app.list.selected().map(|r| r.summary.id), first);
}

#[test]
fn scrolling_past_the_window_pulls_only_the_next_rows() {
    let mut h = Harness::new(100, 30);
    let height = h.app.list.height;
    for _ in 0..height + 5 {
        h.key("j");
    }
    assert_eq!(
        h.app.list.rows.len(),
        height,
        "window grew beyond the screen"
    );
    assert_eq!(
        h.app.list.first_index as usize + h.app.list.cursor,
        height + 5
    );
    h.key("G");
    assert_eq!(
        h.app.list.first_index + h.app.list.rows.len() as u64,
        h.app.list.total
    );
    h.key("g g");
    assert_eq!(h.app.list.first_index, 0);
    assert_eq!(h.app.list.cursor, 0);
}

#[test]
fn opening_a_mail_marks_it_read() {
    let mut h = Harness::new(100, 30);
    // The newest demo mails are unread.
    let row = h.app.list.selected().cloned().expect("row");
    assert_eq!(
        row.entry.flags & flags::SEEN,
        0,
        "newest demo mail should be unread"
    );
    h.key("<Enter>");
    assert_eq!(h.app.focus, Focus::Reader);
    let row = h.app.list.selected().cloned().expect("row");
    assert_ne!(row.entry.flags & flags::SEEN, 0, "mail not marked read");
}

#[test]
fn tab_cycles_focus_through_the_four_panes() {
    let mut h = Harness::new(100, 30);
    let mut seen = vec![h.app.focus];
    for _ in 0..4 {
        h.key("<Tab>");
        seen.push(h.app.focus);
    }
    assert_eq!(
        seen,
        [
            Focus::List,
            Focus::Reader,
            Focus::Records,
            Focus::Folders,
            Focus::List
        ]
    );
}

#[test]
fn help_overlay_lists_the_active_keymap() {
    let mut h = Harness::new(100, 30);
    h.key("?");
    assert!(matches!(h.app.overlay, Some(Overlay::Help { .. })));
    let s = h.screen(&mono());
    for e in h.app.keymap.help(h.app.focus.context()).iter().take(5) {
        assert!(s.contains(&e.desc), "help misses {:?}:\n{s}", e.desc);
    }
    h.key("<Esc>");
    assert!(h.app.overlay.is_none());
}

#[test]
fn palette_runs_the_chosen_action() {
    let mut h = Harness::new(100, 30);
    h.key(":");
    for c in "focus_reader".chars() {
        h.key(&c.to_string());
    }
    h.key("<Enter>");
    assert!(h.app.overlay.is_none());
    assert_eq!(h.app.focus, Focus::Reader);
}

#[test]
fn linking_from_the_picker_shows_the_record_in_the_records_pane() {
    let mut h = Harness::new(100, 30);
    let id = h.app.list.selected().map(|r| r.summary.id).expect("row");
    h.key("L");
    for c in "Tailspin".chars() {
        h.key(&c.to_string());
    }
    h.key("<Enter>");
    let links = h.desk.links_of(id).expect("links");
    assert!(
        links
            .iter()
            .any(|r| r.kind == RecordKind::Account && r.name == "Tailspin Toys"),
        "{links:?}"
    );
    assert!(
        h.app
            .records
            .records
            .iter()
            .any(|r| r.name == "Tailspin Toys")
    );
}

#[test]
fn reply_on_the_demo_desk_lands_in_sent_with_the_same_links() {
    let mut h = Harness::new(100, 30);
    // Find a mail with links: walk down until the records pane is not empty.
    h.select_linked();
    let parent = h.app.list.selected().cloned().expect("row");
    let parent_links = h.desk.links_of(parent.summary.id).expect("links");
    assert!(!parent_links.is_empty(), "no linked mail in the first 30");
    h.key("r");
    assert!(matches!(h.app.overlay, Some(Overlay::Compose(_))));
    for c in "Fixed.".chars() {
        h.key(&c.to_string());
    }
    h.key("<C-g>");
    assert!(
        h.app.overlay.is_none(),
        "compose did not close: {:?}",
        h.app.status.message
    );
    let rows = h.newest("Sent", 1);
    let sent = rows.first().expect("a mail in Sent");
    assert!(
        sent.summary.subject.starts_with("Re: "),
        "{}",
        sent.summary.subject
    );
    assert_eq!(
        sent.summary.in_reply_to,
        vec![parent.summary.message_id.clone()]
    );
    let sent_links: Vec<_> = h
        .desk
        .links_of(sent.summary.id)
        .expect("links")
        .iter()
        .map(|r| r.reference())
        .collect();
    for l in parent_links {
        assert!(
            sent_links.contains(&l.reference()),
            "reply lost link {}",
            l.name
        );
    }
}

#[test]
fn send_is_refused_until_the_mail_is_valid() {
    let mut h = Harness::new(100, 30);
    h.key("c");
    h.key("<C-g>");
    assert!(
        matches!(h.app.overlay, Some(Overlay::Compose(_))),
        "sent an empty mail"
    );
    let StatusMessage {
        text: msg,
        is_error: is_err,
    } = h.app.status.message.clone().expect("a reason");
    assert!(is_err && msg.contains("recipient"), "{msg}");
}

impl Harness {
    /// Move down the list until the selected mail has linked records.
    fn select_linked(&mut self) {
        for _ in 0..30 {
            if !self.app.records.records.is_empty() {
                return;
            }
            self.key("j");
        }
    }

    /// Move down the list until `pred` holds for the selected mail.
    fn select_where(&mut self, pred: impl Fn(&deskmail::store::MessageSummary) -> bool) {
        for _ in 0..300 {
            if self.app.list.selected().is_some_and(|r| pred(&r.summary)) {
                return;
            }
            self.key("j");
        }
        panic!("no such mail in the folder");
    }
}

#[test]
fn w_in_the_reader_saves_the_attachment_inside_the_download_dir() {
    let mut h = Harness::new(100, 30);
    h.select_where(|s| s.has_attachments);
    h.key("<Enter>");
    h.key("W");
    let dir = h.desk.download_dir();
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("download dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(!files.is_empty(), "nothing saved in {}", dir.display());
    assert!(files.iter().all(|f| f.starts_with(&dir)));
    let StatusMessage {
        text: msg,
        is_error: is_err,
    } = h.app.status.message.clone().expect("a notice");
    assert!(!is_err && msg.starts_with("Saved"), "{msg}");
}

#[test]
fn pipe_sends_the_attachment_to_a_shell_command() {
    let mut h = Harness::new(100, 30);
    h.select_where(|s| s.has_attachments);
    h.key("<Enter>");
    h.key("|");
    for c in "1 wc -l".chars() {
        h.key(&if c == ' ' {
            "<Space>".to_string()
        } else {
            c.to_string()
        });
    }
    h.key("<Enter>");
    let StatusMessage {
        text: msg,
        is_error: is_err,
    } = h.app.status.message.clone().expect("a notice");
    assert!(
        !is_err && msg.contains("wc -l") && msg.contains("exited"),
        "{msg}"
    );
}

#[test]
fn delete_moves_the_mail_to_trash_and_archive_to_archive() {
    let mut h = Harness::new(100, 30);
    let id = h.app.list.selected().map(|r| r.summary.id).expect("row");
    h.key("d");
    assert!(h.newest("INBOX", 50).iter().all(|r| r.summary.id != id));
    assert!(h.newest("Trash", 50).iter().any(|r| r.summary.id == id));
    let id2 = h.app.list.selected().map(|r| r.summary.id).expect("row");
    assert_ne!(id, id2, "the selection did not move on");
    h.key("a");
    assert!(h.newest("Archive", 50).iter().any(|r| r.summary.id == id2));
}

#[test]
fn c_plus_k_creates_a_case_linked_to_the_mail() {
    let mut h = Harness::new(100, 30);
    let id = h.app.list.selected().map(|r| r.summary.id).expect("row");
    let before = h.desk.records(RecordKind::Case).expect("records").len();
    h.key("+ k");
    let cases = h.desk.records(RecordKind::Case).expect("records");
    assert_eq!(cases.len(), before + 1, "{:?}", h.app.status.message);
    assert!(
        h.desk
            .links_of(id)
            .expect("links")
            .iter()
            .any(|r| r.kind == RecordKind::Case)
    );
    assert!(
        h.app
            .records
            .records
            .iter()
            .any(|r| r.kind == RecordKind::Case)
    );
}

#[test]
fn space_collapses_threads_to_one_line_each_and_back() {
    let mut h = Harness::new(100, 150);
    let expanded: Vec<u64> = h
        .app
        .list
        .rows
        .iter()
        .map(|r| r.summary.thread_id)
        .collect();
    assert!(
        expanded
            .iter()
            .enumerate()
            .any(|(i, t)| expanded[..i].contains(t)),
        "the first screen should show a thread twice for this test to mean anything"
    );
    h.key("<Space>");
    assert!(h.app.list.collapsed);
    let threads: Vec<u64> = h
        .app
        .list
        .rows
        .iter()
        .map(|r| r.summary.thread_id)
        .collect();
    let mut dedup = threads.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(
        dedup.len(),
        threads.len(),
        "a thread shows twice when collapsed"
    );
    assert_eq!(threads.len(), h.app.list.height.min(threads.len()));
    for _ in 0..h.app.list.height + 3 {
        h.key("j");
    }
    let threads: Vec<u64> = h
        .app
        .list
        .rows
        .iter()
        .map(|r| r.summary.thread_id)
        .collect();
    let mut dedup = threads.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), threads.len(), "paging showed a thread twice");
    h.key("<Space>");
    assert!(!h.app.list.collapsed);
    assert_eq!(
        h.app
            .list
            .rows
            .iter()
            .map(|r| r.summary.thread_id)
            .collect::<Vec<_>>(),
        expanded
    );
}

#[test]
fn record_form_refuses_an_empty_name_in_place_then_saves() {
    let mut h = Harness::new(100, 30);
    h.select_where(|_| true);
    h.select_linked();
    let r = h
        .app
        .records
        .records
        .first()
        .cloned()
        .expect("a linked record");
    h.key("4");
    h.key("e");
    assert!(matches!(h.app.overlay, Some(Overlay::Form(_))));
    for _ in 0..r.name.chars().count() {
        h.key("<Backspace>");
    }
    h.key("<C-g>");
    match &h.app.overlay {
        Some(Overlay::Form(f)) => assert!(f.errors.contains_key("name"), "{:?}", f.errors),
        other => panic!("form closed with an empty name: {other:?}"),
    }
    for c in "Renamed".chars() {
        h.key(&c.to_string());
    }
    h.key("<C-g>");
    assert!(h.app.overlay.is_none(), "{:?}", h.app.status.message);
    assert_eq!(
        h.desk
            .record(r.reference())
            .expect("record")
            .map(|x| x.name),
        Some("Renamed".to_string())
    );
}

#[test]
fn deleted_record_goes_to_the_trash_and_is_restored_from_it() {
    let mut h = Harness::new(100, 30);
    h.select_linked();
    let r = h
        .app
        .records
        .records
        .first()
        .cloned()
        .expect("a linked record");
    h.key("4");
    h.key("d");
    assert!(
        h.desk
            .record(r.reference())
            .expect("record")
            .is_some_and(|x| x.deleted)
    );
    h.key("T");
    match &h.app.overlay {
        Some(Overlay::Trash(list)) => {
            assert!(list.items().iter().any(|x| x.reference() == r.reference()))
        }
        other => panic!("no trash overlay: {other:?}"),
    }
    let pos = match &h.app.overlay {
        Some(Overlay::Trash(list)) => list
            .items()
            .iter()
            .position(|x| x.reference() == r.reference())
            .unwrap_or(0),
        _ => 0,
    };
    for _ in 0..pos {
        h.key("j");
    }
    h.key("<Enter>");
    assert!(
        h.desk
            .record(r.reference())
            .expect("record")
            .is_some_and(|x| !x.deleted)
    );
}

#[test]
fn following_a_record_is_a_toggle() {
    let mut h = Harness::new(100, 30);
    h.select_linked();
    let r = h
        .app
        .records
        .records
        .first()
        .cloned()
        .expect("a linked record");
    let agent = h.desk.agent_name();
    let was = r.followers.iter().any(|f| f == &agent);
    h.key("4");
    h.key("F");
    let now = h
        .desk
        .record(r.reference())
        .expect("record")
        .expect("record")
        .followers
        .iter()
        .any(|f| f == &agent);
    assert_ne!(was, now);
    h.key("!");
    assert!(matches!(h.app.overlay, Some(Overlay::Notifications { .. })));
}

// ---- one snapshot per overlay, at 80×24 ----

impl Harness {
    fn overlay_screen(&self) -> String {
        assert!(self.app.overlay.is_some(), "{:?}", self.app.status.message);
        self.screen(&mono())
    }
}

#[test]
fn help_overlay_at_80x24() {
    let mut h = Harness::new(80, 24);
    h.key("?");
    insta::assert_snapshot!("overlay_help", h.overlay_screen());
}

#[test]
fn palette_overlay_at_80x24() {
    let mut h = Harness::new(80, 24);
    h.key(":");
    for c in "rep".chars() {
        h.key(&c.to_string());
    }
    insta::assert_snapshot!("overlay_palette", h.overlay_screen());
}

#[test]
fn record_picker_overlay_at_80x24() {
    let mut h = Harness::new(80, 24);
    h.key("L");
    for c in "ann".chars() {
        h.key(&c.to_string());
    }
    insta::assert_snapshot!("overlay_picker", h.overlay_screen());
}

#[test]
fn outbox_overlay_at_80x24() {
    let mut h = Harness::new(80, 24);
    let entry = |subject: &str, state: OutboxState, why: Option<&str>| OutboxEntry {
        id: 0,
        account: "support".into(),
        message_id: format!("<{subject}@desk.example>"),
        from: "support@desk.example".into(),
        recipients: vec!["carol@example.com".into()],
        subject: subject.into(),
        raw: b"Subject: x\r\n\r\nx\r\n".to_vec(),
        state,
        last_error: why.map(str::to_string),
        created: 1_764_000_000,
        in_reply_to: None,
        unconfirmed: false,
    };
    let store = h.desk.store();
    store
        .enqueue(entry(
            "Re: Refund for order 1042",
            OutboxState::Retrying {
                at: 1_764_000_300,
                attempt: 2,
            },
            Some("connection refused; will retry"),
        ))
        .expect("enqueue");
    store
        .enqueue(entry(
            "Re: Invoice copy",
            OutboxState::Failed {
                reason: "550 5.1.1 no such user".into(),
            },
            Some("550 5.1.1 no such user"),
        ))
        .expect("enqueue");
    let mut unsure = entry("Re: Shipping address", OutboxState::Sending, None);
    unsure.unconfirmed = true;
    store.enqueue(unsure).expect("enqueue");
    h.key("O");
    let screen = h.overlay_screen();
    assert!(screen.contains("unconfirmed"), "{screen}");
    insta::assert_snapshot!("overlay_outbox", screen);
}

#[test]
fn notifications_overlay_at_80x24() {
    let mut h = Harness::new(80, 24);
    let agent = h.desk.agent_name();
    for (i, text) in ["New mail on case #12 from Carol", "Ann Archer wrote again"]
        .iter()
        .enumerate()
    {
        h.desk
            .store()
            .add_notification(Notification {
                id: 0,
                agent: agent.clone(),
                message: 1,
                record: None,
                text: text.to_string(),
                created: 1_764_000_000 + i as i64,
                read: false,
            })
            .expect("notify");
    }
    h.key("!");
    insta::assert_snapshot!("overlay_notifications", h.overlay_screen());
}

#[test]
fn trash_overlay_at_80x24() {
    let mut h = Harness::new(80, 24);
    h.select_linked();
    h.key("4");
    h.key("d");
    h.key("T");
    assert!(matches!(h.app.overlay, Some(Overlay::Trash(_))));
    insta::assert_snapshot!("overlay_trash", h.overlay_screen());
}

#[test]
fn drafts_overlay_at_80x24() {
    let mut h = Harness::new(80, 24);
    for (id, subject) in [
        (9001, "Re: Refund for order 1042"),
        (9002, "Shipping delay"),
    ] {
        h.desk
            .store()
            .save_draft(&StoredDraft {
                id,
                saved: 1_764_000_000,
                account: Some("support".into()),
                from: Some("support@desk.example".into()),
                to: "carol@example.com".into(),
                subject: subject.into(),
                body: "Half-written answer".into(),
                ..StoredDraft::default()
            })
            .expect("draft");
    }
    let drafts = h.desk.drafts().expect("drafts");
    h.app.overlay = Some(Overlay::Drafts(PickList::new(drafts)));
    insta::assert_snapshot!("overlay_drafts", h.overlay_screen());
}

#[test]
fn record_form_overlay_at_80x24() {
    let mut h = Harness::new(80, 24);
    h.select_linked();
    h.key("4");
    h.key("e");
    assert!(matches!(h.app.overlay, Some(Overlay::Form(_))));
    insta::assert_snapshot!("overlay_record_form", h.overlay_screen());
}

#[test]
fn compose_overlay_at_80x24() {
    let mut h = Harness::new(80, 24);
    h.key("r");
    assert!(matches!(h.app.overlay, Some(Overlay::Compose(_))));
    insta::assert_snapshot!("overlay_compose", h.overlay_screen());
}

#[test]
fn list_with_marks_at_80x24() {
    let mut h = Harness::new(80, 24);
    h.key("v");
    h.key("j");
    h.key("v");
    h.key("v");
    let screen = h.screen(&mono());
    assert!(screen.contains("3 marked"), "{screen}");
    insta::assert_snapshot!("list_marks_80x24", screen);
}

#[test]
fn each_quick_view_shows_only_its_mails_and_names_itself_in_the_title() {
    let mut h = Harness::new(80, 24);
    let all = h.app.list.total;
    for (keys, name) in [
        ("g u", "unread"),
        ("g f", "flagged"),
        ("g l", "unlinked"),
        ("g w", "waiting"),
    ] {
        h.key(keys);
        let screen = h.screen(&mono());
        assert!(screen.contains(&format!("INBOX · {name}")), "{screen}");
        assert!(h.app.list.total < all, "{name} shows every mail");
        let rows = &h.app.list.rows;
        match name {
            "unread" => assert!(rows.iter().all(|r| r.entry.flags & flags::SEEN == 0)),
            "flagged" => assert!(rows.iter().all(|r| r.entry.flags & flags::FLAGGED != 0)),
            "waiting" => assert!(
                rows.windows(2)
                    .all(|w| w[0].summary.date <= w[1].summary.date),
                "oldest first"
            ),
            _ => {}
        }
        insta::assert_snapshot!(format!("view_{name}_80x24"), screen);
    }
    h.key("g a");
    assert_eq!(h.app.list.total, all);
    assert!(
        !h.screen(&mono()).contains(" · "),
        "view_all drops the name"
    );
}

#[test]
fn snoozed_mail_stays_hidden_across_a_restart_and_returns_unread_at_its_time() {
    use deskmail::protocol::Command;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let _guard = rt.enter();
    let dir = tempfile::tempdir().expect("tmp");
    copy_dir(demo_dir(), dir.path());
    let inbox = |desk: &Desk| -> Vec<ListRow> {
        let q = PageQuery {
            account: "support".into(),
            folder: "INBOX".into(),
            from: PageFrom::After,
            cursor: None,
            n: 10_000,
            collapsed: false,
        };
        desk.page(&q).expect("page")
    };
    let t0 = 1_764_000_000;
    let until = deskmail::tui::app::snooze_until("2h", &Clock::utc_at(t0)).expect("a time");
    let (id, before) = {
        let store = Arc::new(Store::open(dir.path()).expect("open"));
        let (desk, _events) = Desk::new(store, deskmail::demo::demo_config(), Backend::Demo);
        desk.set_clock(t0);
        let rows = inbox(&desk);
        let id = rows[3].summary.id;
        desk.send(Command::SetFlags {
            id,
            account: "support".into(),
            folder: "INBOX".into(),
            add: flags::SEEN,
            remove: 0,
        });
        desk.send(Command::Snooze {
            ids: vec![id],
            account: "support".into(),
            folder: "INBOX".into(),
            until,
        });
        rt.block_on(desk.settled());
        let after = inbox(&desk);
        assert_eq!(after.len() + 1, rows.len());
        assert!(after.iter().all(|r| r.summary.id != id), "still listed");
        desk.flush().expect("flush");
        (id, rows.len())
    };
    // A new desk on the same store: the snooze is still there.
    let store = Arc::new(Store::open(dir.path()).expect("reopen"));
    let (desk, mut events) = Desk::new(store, deskmail::demo::demo_config(), Backend::Demo);
    desk.set_clock(until - 60);
    assert_eq!(desk.wake_snoozed(), 0, "woke early");
    assert_eq!(inbox(&desk).len() + 1, before);
    desk.set_clock(until);
    assert_eq!(desk.wake_snoozed(), 1);
    let rows = inbox(&desk);
    assert_eq!(rows.len(), before);
    let back = rows
        .iter()
        .find(|r| r.summary.id == id)
        .expect("back in INBOX");
    assert_eq!(back.entry.flags & flags::SEEN, 0, "comes back unread");
    let mut said = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::Notice(n) = e {
            said.push(n);
        }
    }
    assert!(
        said.iter()
            .any(|n| n.starts_with("Back from snooze in INBOX")),
        "{said:?}"
    );
}

#[test]
fn next_unread_skips_read_mail_then_goes_to_the_next_folder_with_unread() {
    let mut h = Harness::new(80, 24);
    // The next unread after the selected (first) mail.
    let first_unread = h
        .newest("INBOX", 400)
        .into_iter()
        .skip(1)
        .find(|r| r.entry.flags & flags::SEEN == 0)
        .expect("an unread mail");
    h.key("g n");
    assert_eq!(
        h.app.list.selected().map(|r| r.summary.id),
        Some(first_unread.summary.id)
    );
    // From the bottom of INBOX the next unread is in another folder of support.
    h.key("G");
    h.key("g n");
    let (account, folder) = (h.app.list.account.clone(), h.app.list.folder.clone());
    if folder == "INBOX" {
        assert!(
            h.app.status.message.is_some(),
            "no next unread and nothing said"
        );
    } else {
        assert_eq!(account, "support");
        let sel = h.app.list.selected().expect("a mail selected");
        assert_eq!(sel.entry.flags & flags::SEEN, 0, "{folder}");
    }
}

#[test]
fn the_folder_left_open_is_where_the_next_start_returns() {
    let mut h = Harness::new(120, 30);
    let first = h.app.list.folder.clone();
    assert_eq!(first, "INBOX");
    h.app.focus = Focus::Folders;
    h.key("j");
    let left = h.app.list.folder.clone();
    assert_ne!(left, first);
    assert_eq!(
        h.desk.saved_position().expect("position"),
        Some(("support".to_string(), left.clone()))
    );
    let mut next = App::new(Keymap::builtin("default").expect("keymap"));
    next.list.height = 10;
    let cmds = next.load(&h.desk);
    h.run(cmds);
    assert_eq!(next.list.folder, left);
}

// ---- desk folders on the demo desk ----

impl Harness {
    fn folder_names(&self) -> Vec<String> {
        self.app
            .folders
            .iter()
            .filter_map(|f| match f {
                deskmail::tui::app::FolderRow::Folder { account, name, .. }
                    if account == "support" =>
                {
                    Some(name.clone())
                }
                _ => None,
            })
            .collect()
    }

    fn typed(&mut self, text: &str) {
        for c in text.chars() {
            self.key(&c.to_string());
        }
    }
}

#[test]
fn a_folder_made_renamed_and_deleted_from_the_pane_and_the_delete_prompt_at_80x24() {
    let mut h = Harness::new(80, 24);
    h.key("1 g g j");
    h.key("a");
    h.typed("Kunden");
    h.key("<Enter>");
    assert!(
        h.folder_names().contains(&"Kunden".to_string()),
        "{:?}",
        h.folder_names()
    );

    // Two mails of INBOX go there with m and Tab-completion.
    for _ in 0..2 {
        h.key("2 m");
        h.typed("Ku");
        h.key("<Tab> <Enter>");
    }
    h.key("1 g g");
    for _ in 0..10 {
        let on = h.app.folders.get(h.app.folder_cursor);
        if matches!(on, Some(deskmail::tui::app::FolderRow::Folder { name, .. }) if name == "Kunden")
        {
            break;
        }
        h.key("j");
    }
    h.key("R");
    h.typed("Stammkunden");
    h.key("<Enter>");
    let names = h.folder_names();
    assert!(
        names.contains(&"Stammkunden".to_string()),
        "{names:?} {:?}",
        h.app.status.message
    );
    assert!(!names.contains(&"Kunden".to_string()), "{names:?}");

    h.key("X");
    insta::assert_snapshot!("overlay_delete_folder", h.overlay_screen());
    h.typed("yes");
    h.key("<Enter>");
    assert!(!h.folder_names().contains(&"Stammkunden".to_string()));
}
