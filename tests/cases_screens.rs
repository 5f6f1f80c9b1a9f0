//! The case queue and the triage dashboard on the demo desk, with no
//! terminal: keys go into `App`, commands run on the real desk (a store in a
//! temp dir), screens are drawn on ratatui's TestBackend as snapshots.

use deskmail::desk::{Backend, Desk, Event};
use deskmail::mail::format::Clock;
use deskmail::protocol::{CaseRow, Command, DashboardQuery, DeskClient};
use deskmail::store::Store;
use deskmail::tui::app::{App, CaseTab, Focus, Overlay, View};
use deskmail::tui::keymap::{Key, Keymap};
use deskmail::tui::theme::{ColorEnv, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc::UnboundedReceiver;

/// A day after the demo's last mail (2026-11-21 00:00 UTC): screens are fixed.
const NOW: i64 = 1_795_219_200;

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
        app.clock = Clock::utc_at(NOW);
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

impl Harness {
    fn cases(&self) -> Vec<CaseRow> {
        self.desk.cases().expect("cases")
    }

    fn case(&self, id: u64) -> CaseRow {
        self.cases()
            .into_iter()
            .find(|c| c.record.id == id)
            .expect("the case")
    }

    /// The case selected in the open Cases view.
    fn selected_case(&self) -> CaseRow {
        match &self.app.overlay {
            Some(Overlay::Cases(s)) => s.list.selected().cloned().expect("a selected case"),
            _ => panic!("the Cases view is not open"),
        }
    }

    fn shown_cases(&self) -> Vec<CaseRow> {
        match &self.app.overlay {
            Some(Overlay::Cases(s)) => s.list.items().to_vec(),
            _ => panic!("the Cases view is not open"),
        }
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
fn cases_view_team_tab_at_80x24() {
    let mut h = Harness::new(80, 24);
    h.key("K 2");
    insta::assert_snapshot!("cases_team_80x24", h.screen(&mono()));
}

#[test]
fn cases_view_team_tab_at_160x48() {
    let mut h = Harness::new(160, 48);
    h.key("K 2");
    insta::assert_snapshot!("cases_team_160x48", h.screen(&mono()));
}

#[test]
fn assign_picker_at_80x24() {
    let mut h = Harness::new(80, 24);
    h.key("K 3");
    h.key("a");
    insta::assert_snapshot!("assign_picker_80x24", h.screen(&mono()));
}

#[test]
fn dashboard_at_80x24() {
    let mut h = Harness::new(80, 24);
    h.key("D");
    insta::assert_snapshot!("dashboard_80x24", h.screen(&mono()));
}

#[test]
fn dashboard_at_160x48() {
    let mut h = Harness::new(160, 48);
    h.key("D");
    insta::assert_snapshot!("dashboard_160x48", h.screen(&mono()));
}

#[test]
fn the_queue_shows_open_cases_oldest_waiting_first_and_the_tabs_split_them() {
    let mut h = Harness::new(80, 24);
    h.key("K 2");
    let team = h.shown_cases();
    assert!(!team.is_empty(), "the demo desk has open cases");
    assert!(team.iter().all(CaseRow::is_open), "{team:?}");
    let waits: Vec<i64> = team.iter().map(CaseRow::waiting_since).collect();
    let mut sorted = waits.clone();
    sorted.sort_unstable();
    assert_eq!(waits, sorted, "oldest waiting first");
    h.key("1");
    let mine = h.shown_cases();
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|c| c.assignee == "alice@desk.example"));
    h.key("3");
    let nobody = h.shown_cases();
    assert!(!nobody.is_empty());
    assert!(nobody.iter().all(|c| c.assignee.is_empty()));
    // f walks the statuses: open, New, Assigned, Pending, closed.
    h.key("f f f f");
    let done = h.shown_cases();
    assert!(done.iter().all(|c| !c.is_open()));
}

#[test]
fn taking_a_case_assigns_it_to_me_and_moves_it_to_my_tab() {
    let mut h = Harness::new(80, 24);
    h.key("K 3");
    let c = h.selected_case();
    assert!(c.assignee.is_empty());
    h.key("t");
    let after = h.case(c.record.id);
    assert_eq!(after.assignee, "alice@desk.example");
    assert_eq!(after.status, "Assigned");
    // The open view followed the desk's event: the case left "unassigned".
    assert!(h.shown_cases().iter().all(|x| x.record.id != c.record.id));
    h.key("1");
    assert!(h.shown_cases().iter().any(|x| x.record.id == c.record.id));
}

#[test]
fn assigning_from_the_picker_gives_the_case_to_the_chosen_agent() {
    let mut h = Harness::new(80, 24);
    h.key("K 3");
    let c = h.selected_case();
    h.key("a");
    for k in ["c", "a", "r", "l"] {
        h.key(k);
    }
    h.key("<Enter>");
    assert_eq!(h.case(c.record.id).assignee, "carl@desk.example");
}

#[test]
fn closing_a_case_closes_the_record_and_takes_it_off_the_open_queue() {
    let mut h = Harness::new(80, 24);
    h.key("K 2");
    let c = h.selected_case();
    h.key("x");
    let after = h.case(c.record.id);
    assert_eq!(after.status, "Closed");
    assert!(after.record.field("closed_at").is_some());
    assert!(h.shown_cases().iter().all(|x| x.record.id != c.record.id));
}

#[test]
fn setting_a_status_from_the_picker_changes_the_record() {
    let mut h = Harness::new(80, 24);
    h.key("K 2");
    let c = h.selected_case();
    h.key("s");
    for k in ["P", "e", "n"] {
        h.key(k);
    }
    h.key("<Enter>");
    assert_eq!(h.case(c.record.id).status, "Pending");
}

#[test]
fn a_change_made_elsewhere_reaches_the_open_queue_through_the_desks_event() {
    let mut h = Harness::new(80, 24);
    h.key("K 3");
    let c = h.selected_case();
    // Another agent takes it: only the desk's RecordsChanged tells this screen.
    let cmds = vec![Command::UpdateCase {
        case: c.record.id,
        assignee: Some("boris@desk.example".into()),
        status: None,
    }];
    h.run(cmds);
    assert!(h.shown_cases().iter().all(|x| x.record.id != c.record.id));
}

#[test]
fn enter_on_a_dashboard_bar_opens_that_agents_queue() {
    let mut h = Harness::new(80, 24);
    h.key("D");
    // Bars: alice, boris, carl, nobody; → selects boris.
    h.key("l");
    h.key("<Enter>");
    match &h.app.overlay {
        Some(Overlay::Cases(s)) => {
            assert_eq!(s.tab, CaseTab::Team);
            assert_eq!(s.agent.as_deref(), Some("boris@desk.example"));
        }
        _ => panic!("Enter on a bar should open the Cases view"),
    }
    let shown = h.shown_cases();
    assert!(!shown.is_empty());
    assert!(shown.iter().all(|c| c.assignee == "boris@desk.example"));
    let d = h
        .desk
        .dashboard(&DashboardQuery {
            now: NOW,
            day_start: NOW,
        })
        .expect("dashboard");
    let boris = d
        .open_by_agent
        .iter()
        .find(|(e, _, _)| e == "boris@desk.example")
        .expect("boris's bar");
    assert_eq!(boris.2, shown.len() as u64);
}

#[test]
fn enter_on_a_case_lists_its_mails_for_the_reader_and_esc_returns_to_the_queue() {
    let mut h = Harness::new(80, 24);
    h.key("K 2");
    let c = h.selected_case();
    h.key("<Enter>");
    assert!(h.app.overlay.is_none());
    assert_eq!(h.app.list.view, View::Search);
    assert_eq!(
        h.app.list.search.as_ref().and_then(|s| s.case),
        Some(c.record.id)
    );
    let want: Vec<u64> = h
        .desk
        .case_mails(c.record.id)
        .expect("mails")
        .iter()
        .map(|m| m.row.summary.id)
        .collect();
    let shown: Vec<u64> = h.app.list.rows.iter().map(|r| r.summary.id).collect();
    assert_eq!(shown, want);
    h.key("<Enter>");
    assert_eq!(h.app.reader.id, want.first().copied());
    h.app.focus = Focus::List;
    h.key("<Esc>");
    assert!(matches!(h.app.overlay, Some(Overlay::Cases(_))));
}

#[test]
fn writing_from_a_case_goes_to_its_customer_from_its_account() {
    let mut h = Harness::new(80, 24);
    h.key("K 2");
    let c = h.selected_case();
    h.key("c");
    match &h.app.overlay {
        Some(Overlay::Compose(cs)) => {
            assert_eq!(cs.case, Some(c.record.id));
            assert_eq!(cs.to.lines().join(""), c.email);
            assert_eq!(
                cs.current_identity().map(|i| i.account.clone()),
                Some(c.account.clone())
            );
        }
        _ => panic!("c in the Cases view should open the composer"),
    }
}

#[test]
fn answering_a_case_counts_in_todays_first_response_median() {
    let mut h = Harness::new(80, 24);
    let before = h
        .desk
        .dashboard(&DashboardQuery {
            now: chrono::Utc::now().timestamp() + 60,
            day_start: chrono::Utc::now().timestamp() - 3_600,
        })
        .expect("dashboard");
    assert_eq!(before.answered_today, 0);
    // Reply to the case's mail: the Sent copy joins the case.
    h.key("K 2");
    let c = h.selected_case();
    h.key("<Enter>");
    h.key("<Enter>");
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
    assert!(h.desk.case_mails(c.record.id).expect("mails").len() > c.mails);
    let after = h
        .desk
        .dashboard(&DashboardQuery {
            now: chrono::Utc::now().timestamp() + 60,
            day_start: chrono::Utc::now().timestamp() - 3_600,
        })
        .expect("dashboard");
    assert_eq!(after.answered_today, 1);
    assert!(after.first_response_median_today.is_some_and(|s| s > 0));
}

#[test]
fn an_agent_of_a_served_desk_sees_and_changes_only_cases_of_their_accounts() {
    use deskmail::serve::access::Agent;
    use deskmail::serve::wire::Query;
    let h = Harness::new(80, 24);
    let cfg = h.desk.config().clone();
    // Boris sees only the personal account "alice" here, not the group one.
    let boris = Agent {
        config: cfg.agents[0].clone(),
        login: "boris".into(),
        accounts: Some(["alice".to_string()].into_iter().collect()),
    };
    let all = h.cases();
    let support = all
        .iter()
        .find(|c| c.account == "support")
        .expect("a case of the group account");
    let seen = h.desk.case_rows(&|a| boris.sees_account(a)).expect("cases");
    assert!(seen.len() < all.len());
    assert!(seen.iter().all(|c| c.account == "alice"), "{seen:?}");
    let take = Command::UpdateCase {
        case: support.record.id,
        assignee: Some("boris@desk.example".into()),
        status: None,
    };
    let err = boris
        .check_command(h.desk.store(), &take)
        .expect_err("refused");
    assert!(err.contains("\"support\""), "{err}");
    assert!(
        boris
            .check_query(h.desk.store(), &Query::CaseMails(support.record.id))
            .is_err()
    );
    let d = h
        .desk
        .dashboard_for(
            &DashboardQuery {
                now: NOW,
                day_start: NOW,
            },
            &|a| boris.sees_account(a),
        )
        .expect("dashboard");
    let open: u64 = d.open_by_agent.iter().map(|b| b.2).sum();
    assert_eq!(open, seen.iter().filter(|c| c.is_open()).count() as u64);
}

#[test]
fn writing_from_a_record_card_goes_to_the_records_address() {
    let mut h = Harness::new(80, 24);
    let contact = h
        .desk
        .records(deskmail::store::RecordKind::Contact)
        .expect("records")
        .into_iter()
        .next()
        .expect("a demo contact");
    h.app.overlay = Some(Overlay::Record(Box::new(deskmail::tui::app::RecordCard {
        record: contact.clone(),
        related: vec![],
        history: vec![],
        cursor: 0,
    })));
    h.key("c");
    match &h.app.overlay {
        Some(Overlay::Compose(cs)) => {
            assert_eq!(cs.to.lines().join(""), contact.emails[0]);
            assert_eq!(cs.case, None);
        }
        _ => panic!("c on a record card should open the composer"),
    }
}

#[test]
fn a_mail_written_from_a_case_joins_the_cases_mail_stream() {
    let mut h = Harness::new(80, 24);
    h.key("K 2");
    let c = h.selected_case();
    let before = h.desk.case_mails(c.record.id).expect("mails").len();
    h.key("c");
    for ch in "Onit.".chars() {
        h.key(&ch.to_string());
    }
    h.key("<C-g>");
    assert!(
        h.app.overlay.is_none(),
        "compose did not close: {:?}",
        h.app.status.message
    );
    let after = h.desk.case_mails(c.record.id).expect("mails");
    assert_eq!(after.len(), before + 1);
    let sent = after.last().expect("the new mail");
    assert_eq!(sent.folder, "Sent");
    assert_eq!(sent.row.summary.to[0].email, c.email);
}
