//! The filters screen on the demo desk at 80×24: every filter with where it
//! applies and its action, the ones matching the selected mail marked, and
//! names from the config file shown sanitised. Drawn on ratatui's TestBackend.

use deskmail::config::cases::{FilterAction, FilterConfig};
use deskmail::desk::{Backend, Desk, Event};
use deskmail::mail::format::Clock;
use deskmail::store::Store;
use deskmail::tui::app::{App, Overlay};
use deskmail::tui::keymap::{Key, Keymap};
use deskmail::tui::theme::{ColorEnv, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedReceiver;

fn filter(name: &str, action: FilterAction) -> FilterConfig {
    FilterConfig {
        name: name.into(),
        from: None,
        to: None,
        subject: None,
        body: None,
        action,
        folder: None,
    }
}

struct Screen {
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    desk: Arc<Desk>,
    events: UnboundedReceiver<Event>,
    app: App,
}

impl Screen {
    fn new() -> Screen {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("rt");
        let dir = tempfile::tempdir().expect("tmp");
        let store = Arc::new(Store::open(dir.path()).expect("open"));
        deskmail::demo::build(&store, 120, 7).expect("demo");
        let mut cfg = deskmail::demo::demo_config();
        cfg.filters = vec![
            FilterConfig {
                subject: Some("re:.".into()),
                ..filter("anything", FilterAction::NoNotify)
            },
            FilterConfig {
                from: Some("*@news.example".into()),
                ..filter("newsletters", FilterAction::Skip)
            },
        ];
        cfg.accounts[0].filters = vec![FilterConfig {
            subject: Some("re:(?i)invoice".into()),
            folder: Some("Billing".into()),
            ..filter("billing", FilterAction::Move)
        }];
        cfg.accounts[1].filters = vec![FilterConfig {
            from: Some("*@x.example".into()),
            ..filter("loud\u{1b}[31m red", FilterAction::MarkRead)
        }];
        let _guard = rt.enter();
        let (desk, events) = Desk::new(store, cfg, Backend::Demo);
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

    fn run(&mut self, cmds: Vec<deskmail::desk::Command>) {
        let _g = self.rt.enter();
        let mut pending = cmds;
        loop {
            for c in pending.drain(..) {
                self.desk.send(c);
            }
            self.rt.block_on(self.desk.settled());
            match self.events.try_recv() {
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
fn filters_screen_lists_every_filter_and_marks_those_matching_the_selected_mail_at_80x24() {
    let mut s = Screen::new();
    let subject = s
        .app
        .list
        .selected()
        .map(|r| r.summary.subject.clone())
        .expect("the demo inbox has mail");
    s.keys("F");
    let Some(Overlay::Filters(screen)) = &s.app.overlay else {
        panic!("F opens the filters screen");
    };
    let marks: Vec<(String, bool)> = screen
        .rows
        .items()
        .iter()
        .map(|f| (f.name.clone(), f.matches))
        .collect();
    let invoice = subject.to_lowercase().contains("invoice");
    assert_eq!(
        marks,
        [
            ("anything".to_string(), true),
            ("newsletters".to_string(), false),
            ("billing".to_string(), invoice),
            ("loud\u{1b}[31m red".to_string(), false),
        ]
    );
    let text = s.screen();
    assert!(text.contains("Filters — Esc closes"), "{text}");
    assert!(text.contains("move to Billing"), "{text}");
    assert!(!text.contains('\u{1b}'), "the name is sanitised: {text}");
    insta::assert_snapshot!("filters_screen_80x24", text);
    s.keys("<Esc>");
    assert!(s.app.overlay.is_none());
}
