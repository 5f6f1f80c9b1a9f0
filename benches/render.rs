//! Rendering benchmarks for hostile and huge mails (run: `cargo bench --bench render`).
//!
//! Prints the time of `render` on the `<div></br>` × 100,000 body (1 MB, nested
//! 100,000 deep to the HTML parser), on 2 MB of ordinary HTML and on a plain
//! text mail, each against a reference in the same run: a 100 KB newsletter.

use deskmail::mail::render::{RenderOptions, render};
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
}
