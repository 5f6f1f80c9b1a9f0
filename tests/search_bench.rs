//! Figures for benches/search.sh: deskmail's index against notmuch on the same
//! mails, on the 100,000-mail demo desk and a 20,000-mail desk synced from a
//! loopback Dovecot. Prints `BENCH search …` lines; asserts only that both
//! tools ran and deskmail found what it indexed.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use deskmail::config::Config;
use deskmail::search::{SearchIndex, indexer};
use deskmail::store::Store;
use deskmail::sync::{self, SyncOptions};
use support::{MailStack, StackOptions};

const BIN: &str = env!("CARGO_BIN_EXE_deskmail");

/// (deskmail, notmuch) — the same question in each tool's language.
const QUERIES: [(&str, &str); 50] = [
    ("refund", "refund"),
    ("order", "order"),
    ("invoice", "invoice"),
    ("payment", "payment"),
    ("delivery", "delivery"),
    ("password", "password"),
    ("login", "login"),
    ("urgent", "urgent"),
    ("licence", "licence"),
    ("export", "export"),
    ("заказ", "заказ"),
    ("оплата", "оплата"),
    ("счёт", "счёт"),
    ("доставка", "доставка"),
    ("ошибка", "ошибка"),
    ("вход", "вход"),
    ("здравствуйте", "здравствуйте"),
    ("\"refund request\"", "\"refund request\""),
    ("\"invoice question\"", "\"invoice question\""),
    ("\"order number\"", "\"order number\""),
    ("\"доставка задерживается\"", "\"доставка задерживается\""),
    ("\"ошибка при оплате\"", "\"ошибка при оплате\""),
    ("\"не работает вход\"", "\"не работает вход\""),
    ("\"password reset\"", "\"password reset\""),
    ("from:lucas", "from:lucas"),
    ("from:client", "from:client"),
    ("from:anna", "from:anna"),
    ("subject:refund", "subject:refund"),
    ("subject:invoice", "subject:invoice"),
    ("subject:заказ", "subject:заказ"),
    ("to:support", "to:support"),
    ("from:lucas refund", "from:lucas AND refund"),
    ("refund payment", "refund AND payment"),
    ("заказ оплата", "заказ AND оплата"),
    ("refund OR invoice", "refund OR invoice"),
    (
        "(refund OR invoice) urgent",
        "(refund OR invoice) AND urgent",
    ),
    ("order -refund", "order AND NOT refund"),
    ("заказ -оплата", "заказ AND NOT оплата"),
    ("NOT payment", "NOT payment"),
    ("help -urgent -please", "help AND NOT urgent AND NOT please"),
    ("has:attachment", "tag:attachment"),
    ("has:attachment invoice", "tag:attachment AND invoice"),
    ("after:2023-11-20", "date:2023-11-20.."),
    ("before:2023-11-20", "date:..2023-11-20"),
    (
        "after:2026-10-15 before:2026-11-01",
        "date:2026-10-15..2026-11-01",
    ),
    ("after:2026-11-01 refund", "date:2026-11-01.. AND refund"),
    (
        "after:2023-11-15 before:2023-12-01 order",
        "date:2023-11-15..2023-12-01 AND order",
    ),
    ("subject:\"feature request\"", "subject:\"feature request\""),
    ("mailbox connect", "mailbox AND connect"),
    ("reset OR вход OR licence", "reset OR вход OR licence"),
];

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn dir_bytes(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => n += dir_bytes(&e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}

/// Every stored mail as one Maildir file; returns the raw bytes written.
fn export_maildir(store: &Store, dir: &Path) -> u64 {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).expect("maildir");
    }
    let mut bytes = 0;
    for id in store.message_ids_after(0, usize::MAX).expect("ids") {
        if let Some(raw) = store.body(id).expect("body") {
            bytes += raw.len() as u64;
            std::fs::write(dir.join("cur").join(format!("{id}.bench:2,")), raw).expect("write");
        }
    }
    bytes
}

fn notmuch(cfg: &Path, args: &[&str]) -> std::process::Output {
    Command::new("notmuch")
        .env("NOTMUCH_CONFIG", cfg)
        .args(args)
        .output()
        .expect("notmuch runs")
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Index, query and compare one desk; prints one BENCH line.
fn bench_desk(name: &str, data: &Path, extra: &str) {
    let store = Arc::new(Store::open(data).expect("store"));
    let mails = store.message_count();
    let work = tempfile::tempdir().expect("tmp");

    // deskmail: build from the store in process.
    let t = Instant::now();
    let index = SearchIndex::rebuild(data, &store, &mut |_, _| {}).expect("index");
    let build = t.elapsed().as_secs_f64();
    let index_mb = index.size_on_disk() as f64 / 1e6;
    assert_eq!(index.len(), mails, "every mail indexed");
    let mut hits_total = 0;
    for (q, _) in QUERIES {
        hits_total += index.search(&store, q, 50).expect(q).len();
    }
    let mut inproc = Vec::new();
    for (q, _) in QUERIES {
        let t = Instant::now();
        let _ = index.search(&store, q, 50).expect(q);
        inproc.push(ms_since(t));
    }
    let inproc = sorted(inproc);
    let screen = sorted(first_results_on_screen(store, data));
    // As `deskmail reindex` leaves it: built from this store, marked current.
    if let Some(stamp) = deskmail::search::store_stamp(data) {
        index.mark_current(stamp).expect("stamp");
    }
    drop(index);

    let d = data.to_string_lossy().to_string();
    let mut proc_ms = Vec::new();
    for (q, _) in QUERIES {
        let t = Instant::now();
        let out = Command::new(BIN)
            .args(["search", q, "--limit", "50", "--data-dir", &d])
            .env("XDG_STATE_HOME", work.path())
            .output()
            .expect("deskmail search");
        proc_ms.push(ms_since(t));
        assert!(matches!(out.status.code(), Some(0 | 1)), "{q}");
    }
    let proc_ms = sorted(proc_ms);

    // notmuch on the same mails.
    let store = Store::open(data).expect("store");
    let maildir = work.path().join("maildir");
    let raw_bytes = export_maildir(&store, &maildir);
    drop(store);
    let cfg = work.path().join("notmuch-config");
    std::fs::write(
        &cfg,
        format!(
            "[database]\npath={}\n[new]\ntags=unread;inbox;\n[search]\nexclude_tags=\n",
            maildir.display()
        ),
    )
    .expect("config");
    let t = Instant::now();
    let out = notmuch(&cfg, &["new", "--quiet"]);
    let nm_build = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nm_mb = dir_bytes(&maildir.join(".notmuch")) as f64 / 1e6;
    let mut nm_ms = Vec::new();
    for (_, q) in QUERIES {
        let t = Instant::now();
        let _ = notmuch(&cfg, &["search", "--limit=50", q]);
        nm_ms.push(ms_since(t));
    }
    let nm_ms = sorted(nm_ms);
    let raw_mb = raw_bytes as f64 / 1e6;
    println!(
        "BENCH search {name} mails={mails} raw_mb={raw_mb:.1} | deskmail build_s={build:.2} \
         ({:.0}/s) index_mb={index_mb:.1} ({:.0}% of raw) in-process p50_ms={:.2} p99_ms={:.2} \
         process p50_ms={:.1} p99_ms={:.1} hits={hits_total} tui_last_key_to_screen p50_ms={:.1} \
         p99_ms={:.1} | notmuch build_s={nm_build:.2} \
         ({:.0}/s) index_mb={nm_mb:.1} process p50_ms={:.1} p99_ms={:.1} | build {:.1}x faster{extra}",
        mails as f64 / build,
        100.0 * index_mb / raw_mb.max(0.001),
        pct(&inproc, 0.5),
        pct(&inproc, 0.99),
        pct(&proc_ms, 0.5),
        pct(&proc_ms, 0.99),
        pct(&screen, 0.5),
        pct(&screen, 0.99),
        mails as f64 / nm_build,
        pct(&nm_ms, 0.5),
        pct(&nm_ms, 0.99),
        nm_build / build,
    );
}

/// Per query: from the last key typed on the search line to the hits drawn
/// (the typing pause, the desk's answer, the list filled, one frame at
/// 160×48). Takes the store and lets go of it before returning.
fn first_results_on_screen(store: Arc<Store>, data: &Path) -> Vec<f64> {
    use deskmail::desk::{Backend, Desk};
    use deskmail::tui::app::App;
    use deskmail::tui::keymap::{Key, Keymap};
    use deskmail::tui::theme::{ColorEnv, Theme};
    let (desk, _events) = Desk::new(
        Arc::clone(&store),
        deskmail::demo::demo_config(),
        Backend::Demo,
    );
    desk.start_search(data);
    while !desk.search_caught_up() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let theme = Theme::load("dark", None, ColorEnv::from_vars(false, None)).expect("theme");
    let mut term =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).expect("terminal");
    let mut app = App::new(Keymap::builtin("default").expect("keymap"));
    app.list.height = 16;
    let _ = app.load(&*desk);
    let key = |s: &str| -> Key { s.parse().expect("key") };
    let pause = deskmail::tui::app::SEARCH_DEBOUNCE.as_secs_f64() * 1000.0;
    let mut ms = Vec::new();
    for (q, _) in QUERIES {
        app.handle_key(&*desk, key("/"));
        for c in q.chars() {
            let k = if c == ' ' {
                key("<Space>")
            } else {
                key(&c.to_string())
            };
            app.handle_key(&*desk, k);
        }
        let t = Instant::now();
        let _ = app.search_tick(&*desk, Instant::now() + std::time::Duration::from_secs(1));
        term.draw(|f| deskmail::tui::ui::draw(f, &app, &theme))
            .expect("draw");
        ms.push(pause + ms_since(t));
        app.handle_key(&*desk, key("<Esc>"));
    }
    drop(app);
    drop(desk);
    // The indexer thread lets go of the store once the desk is gone.
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while Arc::strong_count(&store) > 1 && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(store);
    ms
}

fn plain_config(stack: &MailStack) -> Arc<Config> {
    let text = format!(
        "[[accounts]]\nname = \"support\"\nkind = \"imap\"\nemail = \"support@desk.example\"\n\
         host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nuser = \"support\"\n\
         password_command = \"printf secret\"\nfolders = [\"INBOX\"]\n",
        stack.imap_port
    );
    Arc::new(Config::parse(&text, Path::new("c.toml")).expect("config"))
}

async fn timed_sync(cfg: &Arc<Config>, data: &Path, with_indexer: bool) -> f64 {
    let store = Arc::new(Store::open(data).expect("store"));
    let handle = with_indexer.then(|| {
        let index = Arc::new(SearchIndex::open(data).expect("index"));
        indexer::spawn(index, Arc::clone(&store))
    });
    let opts = SyncOptions {
        account: None,
        once: true,
        progress: false,
    };
    let t = Instant::now();
    sync::run(Arc::clone(cfg), Arc::clone(&store), opts, None)
        .await
        .expect("sync");
    let secs = t.elapsed().as_secs_f64();
    if let Some(h) = handle {
        // Let the indexer finish before the store is dropped and re-opened.
        let (i, s) = (Arc::clone(h.index()), Arc::clone(&store));
        while i.len() < s.message_count() {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        h.shutdown();
    }
    secs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run benches/search.sh"]
async fn bench_search_vs_notmuch() {
    let demo_n: usize = std::env::var("BENCH_DEMO_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let sync_n: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);

    // The 20,000-mail synced desk, synced once without and once with the indexer.
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox("support", support::gen_mailbox_iter(sync_n, 42));
    let cfg = plain_config(&stack);
    let off = tempfile::tempdir().expect("tmp");
    let on = tempfile::tempdir().expect("tmp");
    let sync_off = timed_sync(&cfg, off.path(), false).await;
    let sync_on = timed_sync(&cfg, on.path(), true).await;
    let extra = format!(
        " | sync_s indexer_off={sync_off:.2} on={sync_on:.2} ({:+.0}%)",
        100.0 * (sync_on / sync_off - 1.0)
    );
    bench_desk("synced", on.path(), &extra);

    let demo = tempfile::tempdir().expect("tmp");
    let d = demo.path().to_string_lossy().to_string();
    let out = Command::new(BIN)
        .args([
            "demo",
            "--no-tui",
            "--messages",
            &demo_n.to_string(),
            "--data-dir",
            &d,
        ])
        .output()
        .expect("demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bench_desk("demo", demo.path(), "");
}
