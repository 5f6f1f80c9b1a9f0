//! Search screens on the demo desk at 80×24: the query line with its
//! completions, and the hits as the "Search: …" list. A real desk and index
//! in a temp dir; drawn on ratatui's TestBackend and kept as snapshots.

use deskmail::desk::{Backend, Desk, Event};
use deskmail::mail::format::Clock;
use deskmail::store::Store;
use deskmail::tui::app::{App, Focus, Overlay, View};
use deskmail::tui::keymap::{Key, Keymap};
use deskmail::tui::theme::{ColorEnv, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

struct Screen {
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    desk: Arc<Desk>,
    events: UnboundedReceiver<Event>,
    app: App,
}

impl Screen {
    /// The demo desk with its index caught up, at 80×24.
    fn new() -> Screen {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("rt");
        let dir = tempfile::tempdir().expect("tmp");
        let store = Arc::new(Store::open(dir.path()).expect("open"));
        deskmail::demo::build(&store, 320, 7).expect("demo");
        let _guard = rt.enter();
        let (desk, events) = Desk::new(store, deskmail::demo::demo_config(), Backend::Demo);
        desk.set_data_dir(dir.path());
        desk.start_search(dir.path());
        let deadline = Instant::now() + Duration::from_secs(120);
        while !desk.search_caught_up() {
            assert!(Instant::now() < deadline, "the demo desk was never indexed");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut app = App::new(Keymap::builtin("default").expect("keymap"));
        app.clock = Clock::utc_at(1_764_000_000);
        let area = Rect::new(0, 0, 80, 24);
        app.list.height = deskmail::tui::ui::list_rows(area, app.focus);
        app.reader_width = deskmail::tui::ui::reader_width(area, app.focus);
        let mut s = Screen {
            rt,
            _dir: dir,
            desk,
            events,
            app,
        };
        let cmds = s.app.load(&*s.desk);
        s.run(cmds);
        s
    }

    /// Run commands and feed the desk's events back until it settles.
    fn run(&mut self, cmds: Vec<deskmail::desk::Command>) {
        let _g = self.rt.enter();
        let mut pending = cmds;
        loop {
            for c in pending.drain(..) {
                self.desk.send(c);
            }
            self.rt.block_on(self.desk.settled());
            match self.events.try_recv() {
                // The index's own news would redraw mid-test: the list is current.
                Ok(Event::SearchUpdated) => {}
                Ok(e) => pending = self.app.handle_event(&*self.desk, e),
                Err(_) => break,
            }
        }
    }

    fn keys(&mut self, keys: &str) {
        for k in Key::parse_sequence(keys).expect("keys") {
            let cmds = self.app.handle_key(&*self.desk, k);
            self.run(cmds);
        }
    }

    fn typ(&mut self, text: &str) {
        for c in text.chars() {
            let k = if c == ' ' {
                "<Space>".to_string()
            } else {
                c.to_string()
            };
            self.keys(&k);
        }
    }

    fn pause(&mut self) {
        let cmds = self
            .app
            .search_tick(&*self.desk, Instant::now() + Duration::from_secs(1))
            .expect("a query was waiting");
        self.run(cmds);
    }

    fn screen(&self) -> String {
        let theme = Theme::load(
            "mono",
            None,
            ColorEnv {
                no_color: true,
                truecolor: false,
            },
        )
        .expect("mono");
        let mut term = Terminal::new(TestBackend::new(80, 24)).expect("term");
        term.draw(|f| deskmail::tui::ui::draw(f, &self.app, &theme))
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

#[test]
fn search_line_with_address_completions_at_80x24() {
    let mut s = Screen::new();
    s.keys("/");
    s.typ("refund");
    s.pause();
    s.typ(" from:luc");
    assert!(matches!(s.app.overlay, Some(Overlay::Search(_))));
    let screen = s.screen();
    assert!(screen.contains("/refund from:luc_"), "{screen}");
    assert!(
        screen.contains("from:lucas"),
        "an address is offered: {screen}"
    );
    assert!(screen.contains("Search: refund"), "{screen}");
    insta::assert_snapshot!("search_line_80x24", screen);
}

#[test]
fn search_results_folder_at_80x24() {
    let mut s = Screen::new();
    s.keys("/");
    s.typ("from:lucas refund");
    s.keys("<Enter>");
    assert_eq!(s.app.list.view, View::Search);
    assert_eq!(s.app.focus, Focus::List);
    assert!(
        !s.app.list.rows.is_empty(),
        "the demo desk has Lucas's refunds"
    );
    let screen = s.screen();
    assert!(screen.contains("Search: from:lucas refund"), "{screen}");
    insta::assert_snapshot!("search_results_80x24", screen);
}
