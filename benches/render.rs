//! Rendering benchmarks for hostile and huge mails (run: `cargo bench --bench render`).
//!
//! Prints the time of `render` on the `<div></br>` × 100,000 body (1 MB, nested
//! 100,000 deep to the HTML parser), on 2 MB of ordinary HTML and on a plain
//! text mail, each against a reference in the same run: a 100 KB newsletter.
//! Then key → frame in the reader on a rendered 50 MB mail (160×48, p50/p99),
//! against a key → frame on a one-screen mail.

use deskmail::desk::{Backend, Desk};
use deskmail::mail::render::{RenderOptions, render};
use deskmail::store::Store;
use deskmail::tui::app::{App, Focus};
use deskmail::tui::keymap::{Key, Keymap};
use deskmail::tui::theme::{ColorEnv, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn time(label: &str, raw: &[u8], reference: Option<Duration>) -> Duration {
    let opts = RenderOptions::default();
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let mail = render(raw, &opts);
        best = best.min(started.elapsed());
        std::hint::black_box(mail);
    }
    let ratio = reference
        .map(|r| {
            format!(
                " ({:.1}x the reference)",
                best.as_secs_f64() / r.as_secs_f64()
            )
        })
        .unwrap_or_default();
    println!(
        "BENCH render {label}: {:.1} ms for {} KB{ratio}",
        best.as_secs_f64() * 1000.0,
        raw.len() / 1024
    );
    best
}

fn html(body: &str) -> Vec<u8> {
    let mut raw = b"Content-Type: text/html; charset=utf-8\r\n\r\n".to_vec();
    raw.extend(body.as_bytes());
    raw
}

fn main() {
    let newsletter = html(
        &"<table><tr><td><p>Dear customer, <a href=\"https://example.com/x\">your order</a> \
          has shipped.</p></td></tr></table>\n"
            .repeat(1000),
    );
    let reference = time("reference: 100 KB newsletter", &newsletter, None);
    time(
        "<div></br> x 100,000",
        &html(&"<div></br>".repeat(100_000)),
        Some(reference),
    );
    time(
        "2 MB of paragraphs",
        &html(&"<p>word word</p>\n".repeat(130_000)),
        Some(reference),
    );
    let mut text = b"Subject: big\r\n\r\n".to_vec();
    text.extend(
        "A line of plain text in a long mail.\r\n"
            .repeat(100_000)
            .as_bytes(),
    );
    time("3.7 MB plain text", &text, Some(reference));
    if let Err(e) = reader_keys() {
        println!("BENCH reader: could not run: {e:#}");
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len().saturating_sub(1)) as f64 * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Key → frame (j, then Ctrl-d pages) in the reader showing `raw`.
fn key_to_frame(raw: &[u8], desk: &Arc<Desk>) -> anyhow::Result<(f64, f64, usize)> {
    let mail = Arc::new(render(
        raw,
        &RenderOptions {
            width: 100,
            ..RenderOptions::default()
        },
    ));
    let lines = mail.lines.len();
    let mut app = App::new(Keymap::builtin("default")?);
    let theme = Theme::load("dark", None, ColorEnv::from_vars(false, Some("truecolor")))?;
    let mut term = Terminal::new(TestBackend::new(160, 48))?;
    app.reader.id = Some(1);
    app.reader.mail = Some(mail);
    app.focus = Focus::Reader;
    term.draw(|f| deskmail::tui::ui::draw(f, &app, &theme))?;
    let mut lat = Vec::new();
    for i in 0..60 {
        let key = if i % 3 == 0 {
            Key::ctrl('d')
        } else {
            Key::char('j')
        };
        let t = Instant::now();
        drop(app.handle_key(desk, key));
        term.draw(|f| deskmail::tui::ui::draw(f, &app, &theme))?;
        lat.push(t.elapsed());
    }
    lat.sort();
    Ok((percentile(&lat, 0.5), percentile(&lat, 0.99), lines))
}

fn reader_keys() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(Store::open(dir.path())?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _guard = rt.enter();
    let (desk, _events) = Desk::new(store, deskmail::demo::demo_config(), Backend::Demo);
    let small = b"Subject: small\r\n\r\nOne screen of text.\r\n".to_vec();
    let (r50, r99, _) = key_to_frame(&small, &desk)?;
    println!(
        "BENCH reader reference: one-screen mail key -> frame p50 {r50:.3} ms p99 {r99:.3} ms"
    );
    let mut big = b"Subject: huge\r\n\r\n".to_vec();
    let line = "A line of a very long log that a customer pasted into the mail body.\r\n";
    while big.len() < 50 << 20 {
        big.extend(line.as_bytes());
    }
    let (p50, p99, lines) = key_to_frame(&big, &desk)?;
    println!(
        "BENCH reader 50 MB mail ({lines} lines): key -> frame p50 {p50:.3} ms p99 {p99:.3} ms ({:.0}x the reference p50)",
        p50 / r50.max(0.001)
    );
    Ok(())
}
