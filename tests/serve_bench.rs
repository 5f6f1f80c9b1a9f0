//! Load on a served desk (run by benches/serve_load.sh, ignored otherwise):
//! 50 attached clients each page, read, flag and link 20 times a second for
//! 60 s while the server syncs 20,000 mails from a loopback Dovecot.
//! Prints one `BENCH serve_load` line; asserts nothing about time.
//! `BENCH_SYNC_FIRST=1` starts the clients after the sync, to see the serve
//! layer alone.

mod support;

use deskmail::protocol::{Command, DeskClient, PageFrom, PageQuery};
use deskmail::serve::client::RemoteDesk;
use std::path::Path;
use std::process::{Command as Proc, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use support::{MailStack, StackOptions};

const BIN: &str = env!("CARGO_BIN_EXE_deskmail");

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// utime + stime of `pid` in seconds, and its peak RSS in MB.
fn usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which ends with the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu = (ticks(11) + ticks(12)) / hz.max(1.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    (cpu, hwm_kb / 1024.0)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One client's run: latencies in ms, and the connection's counts.
fn client(socket: &Path, n: usize, secs: u64, rate: u64) -> (Vec<f64>, u64, u64, u64, u64) {
    let (d, mut events) = RemoteDesk::connect(socket).expect("attach");
    // The screen's event queue is drained as a screen would.
    let drain = std::thread::spawn(move || while events.blocking_recv().is_some() {});
    let tick = Duration::from_micros(1_000_000 / rate.max(1));
    let end = Instant::now() + Duration::from_secs(secs);
    let mut lat = Vec::new();
    let mut ids: Vec<u64> = Vec::new();
    let mut next = Instant::now();
    let mut i = 0usize;
    while Instant::now() < end {
        let t0 = Instant::now();
        let id = (!ids.is_empty()).then(|| ids[(n + i) % ids.len()]);
        match (i % 4, id) {
            (_, None) | (0, _) => {
                let rows = d
                    .page(&PageQuery {
                        account: "support".into(),
                        folder: "INBOX".into(),
                        from: PageFrom::After,
                        cursor: None,
                        n: 40,
                        collapsed: false,
                    })
                    .expect("page");
                ids = rows.iter().map(|r| r.summary.id).collect();
            }
            (1, Some(id)) => {
                d.quote_lines(id).expect("read");
            }
            (2, Some(id)) => {
                let on = i % 8 == 2;
                d.send(Command::SetFlags {
                    id,
                    account: "support".into(),
                    folder: "INBOX".into(),
                    add: if on {
                        deskmail::store::flags::FLAGGED
                    } else {
                        0
                    },
                    remove: if on {
                        0
                    } else {
                        deskmail::store::flags::FLAGGED
                    },
                });
                d.summary(id).expect("summary after flag");
            }
            (_, Some(id)) => {
                d.send(Command::Relink { ids: vec![id] });
                d.links_of(id).expect("links after link");
            }
        }
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        i += 1;
        next += tick;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let c = d.counts();
    let out = (
        lat,
        c.events.load(Ordering::Relaxed),
        c.lost.load(Ordering::Relaxed),
        c.reordered.load(Ordering::Relaxed),
        c.resyncs.load(Ordering::Relaxed),
    );
    drop(d);
    let _ = drain.join();
    out
}

#[test]
#[ignore = "a benchmark: benches/serve_load.sh"]
fn serve_load() {
    let clients = env_or("BENCH_CLIENTS", 50) as usize;
    let secs = env_or("BENCH_SECS", 60);
    let rate = env_or("BENCH_RATE", 20);
    let mails = env_or("BENCH_MESSAGES", 20_000) as usize;
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox("support", support::gen_mailbox_iter(mails, 42));
    let home = tempfile::tempdir().expect("tmp");
    let h = home.path();
    let config = h.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nname = \"Agent\"\nemail = \"agent@desk.example\"\n\n\
             [[accounts]]\nname = \"support\"\ngroup = true\nemail = \"support@desk.example\"\n\
             host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nuser = \"support\"\n\
             password_command = \"echo secret\"\n",
            stack.imap_port
        ),
    )
    .expect("config");
    let socket = h.join("desk.sock");
    let mut server = Proc::new(BIN)
        .env("HOME", h)
        .env("XDG_STATE_HOME", h.join("state"))
        .env("XDG_CONFIG_HOME", h.join("cfg"))
        .args(["--config", config.to_str().expect("utf-8")])
        .args(["--data-dir", h.join("desk").to_str().expect("utf-8")])
        .args(["--socket", socket.to_str().expect("utf-8")])
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let pid = server.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(Instant::now() < deadline, "serve never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    if env_or("BENCH_SYNC_FIRST", 0) == 1 {
        // The serve layer alone: let the sync finish before the clients start.
        let (d, _e) = RemoteDesk::connect(&socket).expect("attach");
        let deadline = Instant::now() + Duration::from_secs(600);
        while Instant::now() < deadline {
            let s: deskmail::store::Stats =
                d.ask(deskmail::serve::wire::Query::Stats).expect("stats");
            if s.messages as usize >= mails {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    let started = Instant::now();
    let (cpu0, _) = usage(pid);
    let socket = Arc::new(socket);
    let handles: Vec<_> = (0..clients)
        .map(|n| {
            let s = Arc::clone(&socket);
            std::thread::spawn(move || client(&s, n, secs, rate))
        })
        .collect();
    let mut lat = Vec::new();
    let (mut events, mut lost, mut reordered, mut resyncs) = (0, 0, 0, 0);
    let mut lost_max = 0;
    for h in handles {
        let (l, e, lo, re, rs) = h.join().expect("client");
        lat.extend(l);
        events += e;
        lost += lo;
        lost_max = lost_max.max(lo);
        reordered += re;
        resyncs += rs;
    }
    let wall = started.elapsed().as_secs_f64();
    let (cpu1, rss) = usage(pid);
    let synced = {
        let (d, _e) = RemoteDesk::connect(&socket).expect("attach");
        let s: deskmail::store::Stats = d.ask(deskmail::serve::wire::Query::Stats).expect("stats");
        s.messages
    };
    // SAFETY: a signal to our own child by its pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = server.wait();
    lat.sort_by(f64::total_cmp);
    println!(
        "BENCH serve_load clients={clients} rate={rate}/s secs={secs} ops={} ({:.0}/s) \
         p50_ms={:.2} p99_ms={:.2} max_ms={:.1} | events={events} lost={lost} \
         (max per client {lost_max}) reordered={reordered} resyncs={resyncs} | \
         server rss_peak_mb={rss:.0} cpu={:.0}% of one core | synced {synced} of {mails} mails \
         during the run",
        lat.len(),
        lat.len() as f64 / wall,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(0.0),
        100.0 * (cpu1 - cpu0) / wall,
    );
}
