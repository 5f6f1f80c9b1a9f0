//! Interface benchmarks on a 100,000-mail demo desk (run: `cargo bench --bench desk`).
//!
//! Reported against a reference measured in the same run: opening the sled
//! store of that size. Figures: first frame (open store + load folders + first
//! page + draw), key → frame latency while scrolling (p50/p99), peak RSS.
//! Set DESKMAIL_BENCH_MESSAGES to change the desk size.

use deskmail::desk::{Backend, Desk};
use deskmail::store::Store;
use deskmail::tui::app::App;
use deskmail::tui::keymap::{Key, Keymap};
use deskmail::tui::theme::{ColorEnv, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("DESKMAIL_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("deskmail-bench-{n}"));
    if !dir.join("store").exists() {
        let t = Instant::now();
        let store = Store::open(&dir)?;
        deskmail::demo::build(&store, n, 7)?;
        store.flush()?;
        eprintln!(
            "built a {n}-mail demo desk in {:.1}s at {}",
            t.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // Reference: opening the store alone.
        let t = Instant::now();
        let store = Store::open(&dir)?;
        let open = t.elapsed();
        drop(store);

        // First frame: open, load the first folder's first page, draw.
        let t = Instant::now();
        let store = Arc::new(Store::open(&dir)?);
        let (desk, _events) = Desk::new(store, deskmail::demo::demo_config(), Backend::Demo);
        let mut app = App::new(Keymap::builtin("default")?);
        let theme = Theme::load("dark", None, ColorEnv::from_vars(false, Some("truecolor")))?;
        let mut term = Terminal::new(TestBackend::new(160, 48))?;
        let area = ratatui::layout::Rect::new(0, 0, 160, 48);
        app.list.height = deskmail::tui::ui::list_rows(area, app.focus);
        let cmds = app.load(&desk);
        drop(cmds);
        term.draw(|f| deskmail::tui::ui::draw(f, &app, &theme))?;
        let first = t.elapsed();
        let total = app.list.total;

        // Key → frame while scrolling down through the folder.
        let j = Key::char('j');
        let mut lat = Vec::with_capacity(2000);
        for _ in 0..2000 {
            let t = Instant::now();
            let cmds = app.handle_key(&desk, j);
            drop(cmds);
            term.draw(|f| deskmail::tui::ui::draw(f, &app, &theme))?;
            lat.push(t.elapsed());
        }
        // …and paging, and a jump to the bottom.
        let mut page = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let _ = app.handle_key(&desk, Key::ctrl('d'));
            term.draw(|f| deskmail::tui::ui::draw(f, &app, &theme))?;
            page.push(t.elapsed());
        }
        let t = Instant::now();
        let _ = app.handle_key(&desk, Key::char('G'));
        term.draw(|f| deskmail::tui::ui::draw(f, &app, &theme))?;
        let bottom = t.elapsed();
        lat.sort();
        page.sort();
        println!("desk: {total} mails in support/INBOX ({n} generated)");
        println!("reference  open sled store        {:8.2} ms", ms(open));
        println!(
            "first frame (open+load+draw)     {:8.2} ms  = {:.2}x the store open",
            ms(first),
            ms(first) / ms(open).max(0.001)
        );
        println!(
            "key j → frame   p50 {:6.3} ms  p99 {:6.3} ms  max {:6.3} ms",
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99)),
            ms(*lat.last().unwrap_or(&Duration::ZERO))
        );
        println!(
            "page  → frame   p50 {:6.3} ms  p99 {:6.3} ms",
            ms(percentile(&page, 0.5)),
            ms(percentile(&page, 0.99))
        );
        println!("G (bottom) → frame                {:8.3} ms", ms(bottom));
        println!("peak RSS                          {:8.1} MB", peak_rss_mb());
        anyhow::Ok(())
    })
}
