//! `deskmail serve`: a real server process on a demo desk, clients over its
//! Unix socket (the library's RemoteDesk, raw frames for the fault cases,
//! the real binary in tmux), stopped by pid.

mod support;

use deskmail::protocol::{Command, DeskClient, Event, PageFrom, PageQuery};
use deskmail::serve::client::RemoteDesk;
use deskmail::serve::wire::{self, ServerMsg};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Proc, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_deskmail");

/// A temp home with a demo desk in it.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().expect("tempdir");
        let h = Home { dir };
        let out = h.run(&["demo", "--no-tui"]);
        assert!(out.status.success(), "demo: {out:?}");
        h
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn data(&self) -> PathBuf {
        self.path().join("desk")
    }

    fn socket(&self) -> PathBuf {
        self.path().join("run").join("deskmail").join("desk.sock")
    }

    fn cmd(&self) -> Proc {
        let mut c = Proc::new(BIN);
        c.env("HOME", self.path())
            .env("XDG_RUNTIME_DIR", self.path().join("run"))
            .env("XDG_STATE_HOME", self.path().join("state"))
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .arg("--data-dir")
            .arg(self.data());
        c
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd().args(args).output().expect("run deskmail")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path().join("state/deskmail/deskmail.log")).unwrap_or_default()
    }

    /// Start `deskmail serve` and wait until its socket answers.
    fn serve(&self) -> Server {
        let child = self
            .cmd()
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let s = Server { child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while UnixStream::connect(self.socket()).is_err() {
            assert!(Instant::now() < deadline, "serve never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }
}

struct Server {
    child: Child,
}

impl Server {
    /// SIGTERM, then wait for the exit code.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as i32;
        // SAFETY: a signal to our own child by its pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        self.child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn first_inbox_mail(d: &RemoteDesk) -> u64 {
    let rows = d
        .page(&PageQuery {
            account: "support".into(),
            folder: "INBOX".into(),
            from: PageFrom::After,
            cursor: None,
            n: 1,
            collapsed: false,
        })
        .expect("page");
    rows[0].summary.id
}

/// A raw client past the handshake.
fn raw_client(socket: &Path) -> UnixStream {
    let mut s = UnixStream::connect(socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    wire::write_frame(&mut s, &wire::hello(wire::VERSION)).expect("hello");
    let w = wire::read_frame(&mut s).expect("read").expect("welcome");
    wire::read_welcome(&w).expect("welcomed");
    s
}

/// Whether the server closed `s` (EOF or reset) within a few seconds.
fn closed_by_server(s: &mut UnixStream) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
    false
}

fn stats_json(h: &Home) -> String {
    let out = h.run(&["stats", "--json"]);
    assert!(out.status.success(), "stats: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn stats_json_through_the_socket_equals_the_desks_own_stats() {
    let h = Home::new();
    let own = stats_json(&h);
    let server = h.serve();
    let served = stats_json(&h);
    assert_eq!(served, own);
    // The same through an explicit --socket.
    let sock = h.socket();
    let out = h.run(&["--socket", sock.to_str().expect("utf-8"), "stats", "--json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), own);
    assert!(server.stop().success());
    assert!(
        h.log().contains("attached (uid"),
        "stats did not go through the server"
    );
}

fn records_total(stats: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(stats).expect("json");
    v["records"]
        .as_object()
        .expect("records")
        .values()
        .filter_map(|n| n.as_u64())
        .sum()
}

#[test]
fn contacts_imported_through_a_running_server_are_on_the_served_desk() {
    let h = Home::new();
    let server = h.serve();
    let before = records_total(&stats_json(&h));
    let csv = h.path().join("new.csv");
    std::fs::write(
        &csv,
        "name,email,phone,company\nZed Quinn,zed.quinn@example.org,,\n",
    )
    .expect("csv");
    let out = h.run(&["import", "contacts", csv.to_str().expect("utf-8")]);
    assert!(out.status.success(), "import: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("created 1"),
        "{out:?}"
    );
    assert_eq!(records_total(&stats_json(&h)), before + 1);
    assert!(server.stop().success());
    // Written by the server itself: the store shows it after the server stopped.
    assert_eq!(records_total(&stats_json(&h)), before + 1);
}

#[test]
fn a_second_server_or_embedded_desk_on_a_served_data_dir_exits_naming_the_socket() {
    let h = Home::new();
    let server = h.serve();
    let sock = h.socket().display().to_string();
    for args in [&["serve"][..], &["demo", "--no-tui"][..]] {
        let out = h.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(&sock), "{args:?} did not name {sock}: {err}");
    }
    assert!(server.stop().success());
}

#[test]
fn sigterm_stops_the_server_with_the_store_flushed_and_the_socket_gone() {
    let h = Home::new();
    let server = h.serve();
    let (d, _events) = RemoteDesk::connect(&h.socket()).expect("attach");
    let id = first_inbox_mail(&d);
    d.send(Command::SetFlags {
        id,
        account: "support".into(),
        folder: "INBOX".into(),
        add: deskmail::store::flags::FLAGGED,
        remove: 0,
    });
    // A query after the command: the server has read it.
    d.folders().expect("folders");
    std::thread::sleep(Duration::from_millis(300));
    let status = server.stop();
    assert!(status.success(), "serve exited with {status}");
    assert!(!h.socket().exists(), "socket left behind");
    assert!(h.log().contains("serve: SIGTERM; stopping"));
    // The flag is on disk: the store opens in this process and shows it.
    drop(d);
    let store = deskmail::store::Store::open(&h.data()).expect("store opens");
    let (_, flags) = store
        .flags_of("support", "INBOX", id)
        .expect("read")
        .expect("mail");
    assert_ne!(flags & deskmail::store::flags::FLAGGED, 0);
}

#[test]
fn a_client_of_another_version_gets_a_clear_refusal() {
    let h = Home::new();
    let server = h.serve();
    let mut s = UnixStream::connect(h.socket()).expect("connect");
    wire::write_frame(&mut s, &wire::hello(wire::VERSION + 1)).expect("hello");
    let answer = wire::read_frame(&mut s).expect("read").expect("answer");
    match wire::read_welcome(&answer) {
        Err(wire::WireError::Refused(r)) => {
            assert!(r.contains("version"), "{r}");
            assert!(r.contains(&(wire::VERSION + 1).to_string()), "{r}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Something that is no deskmail at all is refused too, and the server stays.
    let mut junk = UnixStream::connect(h.socket()).expect("connect");
    junk.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
    junk.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    assert!(closed_by_server(&mut junk));
    assert_eq!(stats_json(&h), {
        let (d, _e) = RemoteDesk::connect(&h.socket()).expect("attach");
        drop(d);
        stats_json(&h)
    });
    assert!(server.stop().success());
}

#[test]
fn oversized_and_malformed_frames_close_that_connection_and_the_server_keeps_serving() {
    let h = Home::new();
    let server = h.serve();
    let before = stats_json(&h);
    // An announced length over the limit: closed before anything is read.
    let mut big = raw_client(&h.socket());
    big.write_all(&((wire::MAX_FRAME as u32) + 1).to_be_bytes())
        .expect("write");
    assert!(closed_by_server(&mut big), "oversized frame kept open");
    // A frame that is no message.
    let mut bad = raw_client(&h.socket());
    let junk = [0xc1u8, 0xff, 0x00, 0x13, 0x37];
    wire::write_frame(&mut bad, &junk).expect("write");
    assert!(closed_by_server(&mut bad), "malformed frame kept open");
    // A frame cut short by the client going away.
    let mut cut = raw_client(&h.socket());
    cut.write_all(&100u32.to_be_bytes()).expect("write");
    cut.write_all(b"half").expect("write");
    drop(cut);
    // Nothing was written, and the server answers as before.
    assert_eq!(stats_json(&h), before);
    assert!(server.stop().success());
    let log = h.log();
    assert!(log.contains("over the limit"), "{log}");
    assert!(log.contains("does not decode"), "{log}");
}

#[test]
fn a_client_that_disconnects_mid_command_leaves_the_server_serving_others() {
    let h = Home::new();
    let server = h.serve();
    let (d, _events) = RemoteDesk::connect(&h.socket()).expect("attach");
    let id = first_inbox_mail(&d);
    for _ in 0..20 {
        let mut s = raw_client(&h.socket());
        let cmd = wire::ClientMsg::Command(Command::Render {
            id,
            options: Default::default(),
        });
        let q = wire::ClientMsg::Query {
            id: 1,
            query: wire::Query::QuoteLines(id),
        };
        wire::write_frame(&mut s, &wire::encode(&cmd).expect("encode")).expect("write");
        wire::write_frame(&mut s, &wire::encode(&q).expect("encode")).expect("write");
        // Gone before the answers.
        drop(s);
    }
    let lines = d.quote_lines(id).expect("quote").expect("a body");
    assert!(!lines.is_empty());
    assert_eq!(d.folders().expect("folders").len(), 2);
    assert!(server.stop().success());
}

#[test]
fn a_client_that_stops_reading_is_told_to_resync_or_dropped_and_others_keep_answers() {
    let h = Home::new();
    let server = h.serve();
    let (fast, _events) = RemoteDesk::connect(&h.socket()).expect("attach");
    let id = first_inbox_mail(&fast);
    let mut slow = raw_client(&h.socket());
    // Each toggle is one FolderChanged event for every attached client.
    let sent = 12_000;
    for i in 0..sent {
        let (add, remove) = if i % 2 == 0 {
            (deskmail::store::flags::FLAGGED, 0)
        } else {
            (0, deskmail::store::flags::FLAGGED)
        };
        fast.send(Command::SetFlags {
            id,
            account: "support".into(),
            folder: "INBOX".into(),
            add,
            remove,
        });
        if i % 1000 == 0 {
            // The fast client still gets its answers while the slow one lags.
            fast.folders().expect("an answer during the flood");
        }
    }
    fast.folders().expect("an answer after the flood");
    std::thread::sleep(Duration::from_millis(500));
    // The slow client reads now: either dropped, or told to resync.
    let mut events = 0usize;
    let mut last_seq = 0u64;
    let mut gap = false;
    let mut resync = false;
    let mut dropped = false;
    slow.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    loop {
        match wire::read_frame(&mut slow) {
            Ok(Some(f)) => match wire::decode::<ServerMsg>(&f).expect("decodes") {
                ServerMsg::Event { seq, .. } => {
                    events += 1;
                    gap |= seq > last_seq + 1;
                    last_seq = seq;
                }
                ServerMsg::Resync => resync = true,
                ServerMsg::Answer { .. } => {}
            },
            Ok(None) => {
                dropped = true;
                break;
            }
            Err(wire::WireError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(_) => {
                dropped = true;
                break;
            }
        }
    }
    assert!(
        resync || dropped,
        "neither resync nor drop ({events} events)"
    );
    // Loss is always said: a gap in the numbers, a resync, or the drop.
    assert!(gap || resync || dropped);
    assert!(
        events < sent,
        "all {events} events were queued for a client that did not read"
    );
    assert!(server.stop().success());
    assert!(h.log().contains("is not reading"), "{}", h.log());
}

#[test]
fn an_attached_desk_reconnects_by_itself_after_the_server_restarts() {
    let h = Home::new();
    let server = h.serve();
    let (d, mut events) = RemoteDesk::connect(&h.socket()).expect("attach");
    let first = events.blocking_recv().expect("an event");
    assert!(
        matches!(&first, Event::Attached(t) if t.starts_with("attached to ")),
        "{first:?}"
    );
    d.folders().expect("folders");
    assert!(server.stop().success());
    let mut saw_reconnecting = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !saw_reconnecting {
        if let Ok(Event::Attached(t)) = events.try_recv() {
            saw_reconnecting = t.starts_with("reconnecting");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(saw_reconnecting, "no reconnecting… on the status line");
    let err = d.folders().expect_err("no server now");
    assert!(err.0.contains("reconnecting"), "{err}");
    let server = h.serve();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut attached = false;
    let mut refreshed = false;
    while Instant::now() < deadline && !(attached && refreshed) {
        match events.try_recv() {
            Ok(Event::Attached(t)) => attached |= t.starts_with("attached to "),
            Ok(Event::FolderChanged { .. }) if attached => refreshed = true,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    assert!(attached, "never attached again");
    assert!(
        refreshed,
        "the screen was not told to read its folders again"
    );
    assert_eq!(d.folders().expect("folders again").len(), 2);
    assert!(server.stop().success());
}

// ---- two TUIs in tmux ----

struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(h: &Home, name: &str) -> Tmux {
        let socket = format!("deskmail-serve-{}-{name}", std::process::id());
        let shell = format!(
            "env -i PATH=/usr/bin:/bin HOME={home} TERM=xterm-256color \
             XDG_RUNTIME_DIR={home}/run XDG_STATE_HOME={home}/state-{name} \
             XDG_CONFIG_HOME={home}/config {BIN} --data-dir {data}",
            home = h.path().display(),
            data = h.data().display()
        );
        let ok = Proc::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "30",
                &shell,
            ])
            .status()
            .expect("tmux must be installed");
        assert!(ok.success());
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Proc::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    fn wait_for(&self, what: impl Fn(&str) -> bool, limit: Duration, why: &str) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.screen();
            if what(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "{why}; the screen shows:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// The marks column of the list's first row ("N!" when flagged).
fn first_row_flagged(screen: &str) -> Option<bool> {
    let line = screen.lines().nth(1)?;
    let row = line.split("││").nth(1)?;
    Some(row.chars().nth(1)? == '!')
}

#[test]
fn two_tuis_attached_to_one_served_demo_desk_see_each_others_flag() {
    let h = Home::new();
    let server = h.serve();
    let a = Tmux::start(&h, "a");
    let b = Tmux::start(&h, "b");
    let sock = h.socket().display().to_string();
    let ready = |s: &str| s.contains("Records") && s.contains("attached to ");
    let sa = a.wait_for(ready, Duration::from_secs(30), "A never attached");
    let sb = b.wait_for(ready, Duration::from_secs(30), "B never attached");
    assert!(sa.contains(&format!("attached to {sock}")), "{sa}");
    let before = first_row_flagged(&sb).expect("a first row in B");
    assert_eq!(first_row_flagged(&sa), Some(before));
    let pressed = Instant::now();
    a.tmux(&["send-keys", "-t", "0", "s"]);
    // Shown in B without a key press there; the time is reported, not asserted.
    b.wait_for(
        |s| first_row_flagged(s) == Some(!before),
        Duration::from_secs(10),
        "B did not show A's flag",
    );
    eprintln!("flag in A shown in B after {:?}", pressed.elapsed());
    a.wait_for(
        |s| first_row_flagged(s) == Some(!before),
        Duration::from_secs(5),
        "A did not show its own flag",
    );
    a.tmux(&["send-keys", "-t", "0", "q"]);
    b.tmux(&["send-keys", "-t", "0", "q"]);
    assert!(server.stop().success());
}

// ---- identity from the operating system ----

/// Unix users and a group made for one test, removed by name afterwards.
struct Accounts {
    users: Vec<String>,
    group: String,
}

impl Accounts {
    fn make(group: &str, users: &[(&str, bool)]) -> Accounts {
        let a = Accounts {
            users: users.iter().map(|(u, _)| u.to_string()).collect(),
            group: group.to_string(),
        };
        a.remove();
        let ok = Proc::new("groupadd").arg(group).status().expect("groupadd");
        assert!(ok.success(), "groupadd {group}");
        for (u, member) in users {
            let mut c = Proc::new("useradd");
            c.args(["-M", "-s", "/usr/sbin/nologin"]);
            if *member {
                c.args(["-G", group]);
            }
            assert!(c.arg(u).status().expect("useradd").success(), "useradd {u}");
        }
        a
    }

    fn remove(&self) {
        for u in &self.users {
            let _ = Proc::new("userdel").arg(u).stderr(Stdio::null()).status();
        }
        let _ = Proc::new("groupdel")
            .arg(&self.group)
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Run the binary as Unix user `user` against `socket`.
fn as_user(user: &str, socket: &Path, args: &[&str]) -> std::process::Output {
    Proc::new("runuser")
        .args([
            "-u",
            user,
            "--",
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
            "HOME=/nonexistent",
        ])
        .arg(BIN)
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("runuser")
}

#[test]
fn unix_users_see_their_teams_accounts_others_are_refused_with_a_reason() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: creating Unix users for this test needs root");
        return;
    }
    let pid = std::process::id() % 100_000;
    let (alice, bob, carol, group) = (
        format!("dmta{pid}"),
        format!("dmtb{pid}"),
        format!("dmtc{pid}"),
        format!("dmtg{pid}"),
    );
    let _accounts = Accounts::make(&group, &[(&alice, true), (&bob, true), (&carol, true)]);
    let h = Home::new();
    // The agents' processes walk to the socket through the temp home.
    std::fs::set_permissions(h.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::create_dir_all(h.path().join("run")).expect("run dir");
    std::fs::set_permissions(h.path().join("run"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    // A served desk with a real config, not the demo's.
    std::fs::remove_file(h.data().join("demo-desk")).expect("demo mark");
    let cfg_dir = h.path().join("config/deskmail");
    std::fs::create_dir_all(&cfg_dir).expect("config dir");
    let account = |name: &str, group_line: &str, email: &str| {
        format!(
            "[[accounts]]\nname = \"{name}\"\n{group_line}email = \"{email}\"\n\
             host = \"127.0.0.1\"\nport = 1\nuser = \"{name}\"\nactive = false\n\n"
        )
    };
    let config = format!(
        "[agent]\nname = \"Owner\"\nemail = \"owner@desk.example\"\n\n\
         [server]\ngroup = \"{group}\"\n\n\
         [[agents]]\nname = \"Alice\"\nemail = \"alice@desk.example\"\nunix_user = \"{alice}\"\n\n\
         [[agents]]\nname = \"Bob\"\nemail = \"bob@desk.example\"\nunix_user = \"{bob}\"\n\n\
         [[teams]]\nname = \"desk\"\nagents = [\"alice@desk.example\"]\n\n{}{}",
        account(
            "support",
            "group = true\nteam = \"desk\"\n",
            "support@desk.example"
        ),
        account("alice", "", "alice@desk.example"),
    );
    let file = cfg_dir.join("config.toml");
    std::fs::write(&file, config).expect("config");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let server = h.serve();
    let sock = h.socket();
    let gid = std::fs::metadata(sock.parent().expect("dir"))
        .expect("dir")
        .gid();
    let meta = std::fs::metadata(&sock).expect("socket");
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), gid);
    let dir_mode = std::fs::metadata(sock.parent().expect("dir"))
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o750);

    // Alice is in the team: she sees the group account and her own.
    let out = as_user(&alice, &sock, &["stats", "--json"]);
    assert!(out.status.success(), "alice: {out:?}");
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&str> = stats["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(names, ["alice", "support"]);

    // Bob is not: the group account is hidden and a command on it refused.
    let out = as_user(&bob, &sock, &["stats", "--json"]);
    assert!(out.status.success(), "bob: {out:?}");
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        stats["accounts"].as_array().map(Vec::len),
        Some(0),
        "{stats}"
    );
    let body = h.path().join("body.txt");
    std::fs::write(&body, "hello").expect("body");
    std::fs::set_permissions(&body, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = as_user(
        &bob,
        &sock,
        &[
            "send",
            "--account",
            "support",
            "--to",
            "customer@example.com",
            "--subject",
            "hi",
            "--body-file",
            body.to_str().expect("utf-8"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "bob sent from support: {out:?}");
    assert!(
        err.contains("Refused") && err.contains("\"support\""),
        "{err}"
    );

    // Carol may open the socket (she is in the group) but is no agent.
    let out = as_user(&carol, &sock, &["stats", "--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "carol: {out:?}");
    assert!(err.contains("not an agent of this desk"), "{err}");
    assert!(err.contains(&carol), "{err}");

    // The log is complete once the server has stopped.
    assert!(server.stop().success());
    let log = h.log();
    assert!(log.contains(&format!("{bob} refused a query")), "{log}");
    assert!(log.contains(&format!("Unix user {carol}")), "{log}");
}

// ---- a real mail stack behind the served desk ----

fn stats_of(user: &str, socket: &Path) -> Option<serde_json::Value> {
    let out = as_user(user, socket, &["stats", "--json"]);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten()
}

fn inbox_total(stats: &serde_json::Value, account: &str) -> u64 {
    stats["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["name"] == account)
        .flat_map(|a| a["folders"].as_array().into_iter().flatten())
        .filter(|f| f["name"] == "INBOX")
        .filter_map(|f| f["total"].as_u64())
        .sum()
}

#[test]
fn served_group_account_is_seen_by_its_team_refused_to_others_and_a_reply_survives_sigkill() {
    use std::os::unix::fs::PermissionsExt;
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: creating Unix users for this test needs root");
        return;
    }
    let stack = support::MailStack::start();
    stack.deliver_many("support", support::gen_mailbox(3, 11));
    let pid = std::process::id() % 100_000;
    let (alice, bob, group) = (
        format!("dmda{pid}"),
        format!("dmdb{pid}"),
        format!("dmdg{pid}"),
    );
    let _accounts = Accounts::make(&group, &[(&alice, true), (&bob, true)]);
    let dir = tempfile::tempdir().expect("tempdir");
    let h = Home { dir };
    std::fs::set_permissions(h.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::create_dir_all(h.path().join("run")).expect("run dir");
    std::fs::set_permissions(h.path().join("run"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let cfg_dir = h.path().join("config/deskmail");
    std::fs::create_dir_all(&cfg_dir).expect("config dir");
    let config = format!(
        r#"[agent]
name = "Owner"
email = "owner@desk.example"

[server]
group = "{group}"

[[agents]]
name = "Alice"
email = "alice@desk.example"
unix_user = "{alice}"

[[agents]]
name = "Bob"
email = "bob@desk.example"
unix_user = "{bob}"

[[teams]]
name = "desk"
agents = ["alice@desk.example"]

[[accounts]]
name = "support"
group = true
team = "desk"
email = "support@desk.example"
host = "{host}"
port = {imap}
tls = "starttls"
ca_file = "{ca}"
user = "support"
password = "secret"

[accounts.smtp]
host = "{host}"
port = {submission}
tls = "starttls"
user = "support"
password = "secret"
"#,
        host = stack.host,
        imap = stack.imap_port,
        submission = stack.submission_port,
        ca = stack.cert_pem.display(),
    );
    let file = cfg_dir.join("config.toml");
    std::fs::write(&file, config).expect("config");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let server = h.serve();
    let sock = h.socket();

    // The server syncs the group account; Alice (in the team) sees its mail.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = stats_of(&alice, &sock).map(|s| inbox_total(&s, "support"));
        if seen == Some(3) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alice never saw the 3 synced mails: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // `sync --once` goes through the server: new mail is in when it returns.
    stack.deliver_many("support", support::gen_mailbox(2, 12));
    let out = as_user(&alice, &sock, &["sync", "--once"]);
    assert!(out.status.success(), "sync --once: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("through the desk server"),
        "{out:?}"
    );
    let seen = stats_of(&alice, &sock).map(|s| inbox_total(&s, "support"));
    assert_eq!(seen, Some(5));
    // Bob does not see it, and a command on it is refused with the reason.
    let bob_stats = stats_of(&bob, &sock).expect("bob's stats");
    assert_eq!(inbox_total(&bob_stats, "support"), 0, "{bob_stats}");
    let body = h.path().join("reply.txt");
    std::fs::write(&body, "We have refunded order 10293.").expect("body");
    std::fs::set_permissions(&body, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let token = format!("serve-reply-{pid}");
    let send_as = |user: &str| {
        as_user(
            user,
            &sock,
            &[
                "send",
                "--account",
                "support",
                "--to",
                &stack.address("customer"),
                "--subject",
                &format!("Re: refund {token}"),
                "--body-file",
                body.to_str().expect("utf-8"),
            ],
        )
    };
    let out = send_as(&bob);
    assert!(!out.status.success(), "bob queued on support: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Refused"),
        "{out:?}"
    );

    // Alice queues a reply; the server is killed right after saying "queued".
    let out = send_as(&alice);
    assert!(out.status.success(), "alice's reply: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("queued"),
        "{out:?}"
    );
    let mut server = server;
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    drop(server);
    let server = h.serve();
    let delivered = |stack: &support::MailStack| {
        let maildir = stack.maildir("customer");
        let mut n = 0;
        for sub in ["new", "cur"] {
            for e in std::fs::read_dir(maildir.join(sub))
                .into_iter()
                .flatten()
                .flatten()
            {
                let text = std::fs::read(e.path()).unwrap_or_default();
                if String::from_utf8_lossy(&text).contains(&token) {
                    n += 1;
                }
            }
        }
        n
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered(&stack) == 0 {
        assert!(Instant::now() < deadline, "the reply was never delivered");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Another outbox pass must not send it again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        delivered(&stack),
        1,
        "the reply was delivered more than once"
    );
    assert!(server.stop().success());
}

#[test]
fn an_attached_tui_shows_reconnecting_and_reads_again_after_a_server_restart() {
    let h = Home::new();
    let server = h.serve();
    let t = Tmux::start(&h, "r");
    let ready = |s: &str| s.contains("Records") && s.contains("attached to ");
    let s = t.wait_for(ready, Duration::from_secs(30), "never attached");
    let before = first_row_flagged(&s).expect("a first row");
    assert!(server.stop().success());
    t.wait_for(
        |s| s.contains("reconnecting to "),
        Duration::from_secs(10),
        "no reconnecting on the status line",
    );
    // While the server is down the desk changes under it.
    {
        let store = deskmail::store::Store::open(&h.data()).expect("store");
        let rows = store.page("support", "INBOX", None, 1).expect("page");
        let id = rows[0].summary.id;
        let (loc, flags) = store
            .flags_of("support", "INBOX", id)
            .expect("flags")
            .expect("mail");
        let flags = flags ^ deskmail::store::flags::FLAGGED;
        store
            .set_flags("support", "INBOX", loc.uidvalidity, loc.uid, flags)
            .expect("set");
        store.flush().expect("flush");
    }
    // sled's threads let go of the lock a moment after the store is dropped.
    std::thread::sleep(Duration::from_secs(2));
    let server = h.serve();
    // Back by itself, and the list is read again without a key press.
    t.wait_for(
        |s| s.contains("attached to ") && first_row_flagged(s) == Some(!before),
        Duration::from_secs(20),
        "the screen did not come back with the changed desk",
    );
    t.tmux(&["send-keys", "-t", "0", "q"]);
    assert!(server.stop().success());
}

// ---- what an attached agent of another team may see ----

/// Frames to and from a served desk over a connection made as one Unix user.
struct RawAgent {
    s: UnixStream,
    events: Vec<Event>,
    next: u64,
}

fn id_of(user: &str, flag: &str) -> u32 {
    let out = Proc::new("id").args([flag, user]).output().expect("id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a numeric id")
}

impl RawAgent {
    /// Connect as `user` (with `group` as its one supplementary group): a
    /// forked child takes the user's ids and connects the socket both
    /// share, so the server reads that user from SO_PEERCRED.
    fn connect_as(user: &str, group: u32, socket: &Path) -> RawAgent {
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        let (uid, gid) = (id_of(user, "-u"), id_of(user, "-g"));
        // SAFETY: plain system calls on values owned here.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0, "socket");
        // SAFETY: sockaddr_un is plain old data.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let path = socket.as_os_str().as_bytes();
        assert!(path.len() < addr.sun_path.len(), "socket path too long");
        for (d, b) in addr.sun_path.iter_mut().zip(path) {
            *d = *b as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        let groups = [group as libc::gid_t];
        // SAFETY: the child makes only system calls, then _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: as above; nothing here allocates or locks.
            unsafe {
                let ok = libc::setgroups(1, groups.as_ptr()) == 0
                    && libc::setgid(gid) == 0
                    && libc::setuid(uid) == 0
                    && libc::connect(fd, (&raw const addr).cast(), len) == 0;
                libc::_exit(if ok { 0 } else { 1 });
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "connecting as {user} failed"
        );
        // SAFETY: fd is a connected socket nobody else owns.
        let mut s = unsafe { UnixStream::from_raw_fd(fd) };
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        wire::write_frame(&mut s, &wire::hello(wire::VERSION)).expect("hello");
        let mut welcome = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        while welcome.is_none() && Instant::now() < deadline {
            if let Ok(Some(f)) = wire::read_frame(&mut s) {
                welcome = Some(f);
            }
        }
        let w = wire::read_welcome(&welcome.expect("welcome")).expect("welcomed");
        assert!(w.agent.contains(user), "{}", w.agent);
        RawAgent {
            s,
            events: Vec::new(),
            next: 1,
        }
    }

    fn send(&mut self, cmd: Command) {
        let msg = wire::encode(&wire::ClientMsg::Command(cmd)).expect("encode");
        wire::write_frame(&mut self.s, &msg).expect("write");
    }

    /// Read frames until `until` is met or `limit` passes; events are kept.
    fn read(&mut self, limit: Duration, mut until: impl FnMut(&ServerMsg) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let Ok(Some(f)) = wire::read_frame(&mut self.s) else {
                continue;
            };
            let msg: ServerMsg = wire::decode(&f).expect("decode");
            let done = until(&msg);
            if let ServerMsg::Event { event, .. } = msg {
                self.events.push(event);
            }
            if done {
                return true;
            }
        }
        false
    }

    fn ask<T: for<'de> serde::Deserialize<'de>>(
        &mut self,
        query: wire::Query,
    ) -> Result<T, deskmail::protocol::DeskError> {
        let id = self.next;
        self.next += 1;
        let msg = wire::encode(&wire::ClientMsg::Query { id, query }).expect("encode");
        wire::write_frame(&mut self.s, &msg).expect("write");
        let mut answer = None;
        self.read(Duration::from_secs(30), |m| match m {
            ServerMsg::Answer { id: got, result } if *got == id => {
                answer = Some(result.clone());
                true
            }
            _ => false,
        });
        answer
            .expect("an answer")
            .map(|bytes| wire::decode(&bytes).expect("decode answer"))
    }

    fn account_errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::AccountError { account, message } => Some(format!("{account}: {message}")),
                _ => None,
            })
            .collect()
    }

    fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Error(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn another_teams_agent_gets_no_records_hits_or_sync_errors_of_the_account() {
    use deskmail::protocol::{SearchAnswer, SearchQuery};
    use deskmail::store::{Record, RecordKind};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: creating Unix users for this test needs root");
        return;
    }
    let stack = support::MailStack::start_with(support::StackOptions::dovecot_only());
    let pid = std::process::id() % 100_000;
    let (alice, bob, group) = (
        format!("dmra{pid}"),
        format!("dmrb{pid}"),
        format!("dmrg{pid}"),
    );
    let _accounts = Accounts::make(&group, &[(&alice, true), (&bob, true)]);
    let h = Home::new();
    std::fs::set_permissions(h.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::create_dir_all(h.path().join("run")).expect("run dir");
    std::fs::set_permissions(h.path().join("run"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    // The demo's mail and records under a real config: "support" is the
    // team's and syncs with a password the server refuses.
    std::fs::remove_file(h.data().join("demo-desk")).expect("demo mark");
    let cfg_dir = h.path().join("config/deskmail");
    std::fs::create_dir_all(&cfg_dir).expect("config dir");
    let config = format!(
        "[agent]\nname = \"Owner\"\nemail = \"owner@desk.example\"\n\n\
         [server]\ngroup = \"{group}\"\n\n\
         [[agents]]\nname = \"Alice\"\nemail = \"alice@desk.example\"\nunix_user = \"{alice}\"\n\n\
         [[agents]]\nname = \"Bob\"\nemail = \"bob@desk.example\"\nunix_user = \"{bob}\"\n\n\
         [[teams]]\nname = \"desk\"\nagents = [\"alice@desk.example\"]\n\n\
         [[accounts]]\nname = \"support\"\ngroup = true\nteam = \"desk\"\n\
         email = \"support@desk.example\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
         user = \"support\"\npassword_command = \"printf wrong\"\nfolders = [\"INBOX\"]\n\n\
         [[accounts]]\nname = \"alice\"\nemail = \"alice@desk.example\"\nhost = \"127.0.0.1\"\n\
         port = 1\nuser = \"alice\"\nactive = false\n",
        port = stack.imap_port
    );
    let file = cfg_dir.join("config.toml");
    std::fs::write(&file, config).expect("config");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let server = h.serve();
    let sock = h.socket();
    let gid = std::fs::metadata(&sock).expect("socket").gid();
    let mut a = RawAgent::connect_as(&alice, gid, &sock);
    let mut b = RawAgent::connect_as(&bob, gid, &sock);

    // Records: Alice sees the team's contacts; Bob only those linked to no
    // mail of hers, and asking for one of hers by reference is refused.
    let theirs: Vec<Record> = a
        .ask(wire::Query::Records(RecordKind::Contact))
        .expect("records");
    let mine: Vec<Record> = b
        .ask(wire::Query::Records(RecordKind::Contact))
        .expect("records");
    assert!(!theirs.is_empty());
    assert!(
        mine.len() < theirs.len(),
        "{} of {}",
        mine.len(),
        theirs.len()
    );
    let hidden = theirs
        .iter()
        .find(|r| !mine.iter().any(|m| m.id == r.id))
        .expect("a hidden contact");
    let asked: Result<Option<Record>, _> = b.ask(wire::Query::Record(hidden.reference()));
    let err = asked.expect_err("refused");
    assert!(err.0.contains("not yours or your team's"), "{}", err.0);
    let again: Option<Record> = a
        .ask(wire::Query::Record(hidden.reference()))
        .expect("alice");
    assert!(again.is_some());

    // Search over the socket: Alice finds the team's mail, Bob nothing of it.
    let q = SearchQuery {
        query: "invoice".into(),
        limit: 50,
    };
    let mut found = SearchAnswer::default();
    let deadline = Instant::now() + Duration::from_secs(120);
    while found.hits.is_empty() && Instant::now() < deadline {
        found = a.ask(wire::Query::Search(q.clone())).unwrap_or_default();
        if found.hits.is_empty() {
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    assert!(!found.hits.is_empty(), "the index never answered Alice");
    let bobs: SearchAnswer = b.ask(wire::Query::Search(q)).expect("bob's search answers");
    assert!(bobs.hits.is_empty(), "{:?}", bobs.hits.len());

    // Bob's folder command on the team's account is refused.
    b.send(Command::CreateFolder {
        account: "support".into(),
        name: "Bobs".into(),
    });
    assert!(b.read(Duration::from_secs(10), |m| matches!(
        m,
        ServerMsg::Event {
            event: Event::Error(_),
            ..
        }
    )));
    let errors = b.errors();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Refused by the desk server") && e.contains("\"support\"")),
        "{errors:?}"
    );

    // The refused login reaches Alice when she syncs, never Bob.
    a.send(Command::SyncNow);
    assert!(
        a.read(Duration::from_secs(60), |m| matches!(
            m,
            ServerMsg::Event {
                event: Event::AccountError { .. },
                ..
            }
        )),
        "Alice heard no sync error: {:?}",
        a.events
    );
    let told = a.account_errors();
    assert!(told.iter().any(|e| e.starts_with("support: ")), "{told:?}");
    b.read(Duration::from_secs(3), |_| false);
    assert!(b.account_errors().is_empty(), "{:?}", b.account_errors());
    assert!(
        b.events.iter().all(|e| !matches!(e, Event::Sync { .. })),
        "{:?}",
        b.events
    );

    drop((a, b));
    assert!(server.stop().success());
    let log = h.log();
    assert!(log.contains(&format!("{bob} refused a query")), "{log}");
    assert!(log.contains(&format!("{bob} refused a command")), "{log}");
    assert!(log.contains("left out"), "{log}");
}
