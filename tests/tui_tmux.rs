//! The real binary in a real terminal: tmux runs `deskmail demo`, keys go in
//! with send-keys, the screen comes back with capture-pane. Also replays
//! demo.tape so the recorded triage flow cannot rot.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One private tmux server (its own socket), killed by socket on drop.
struct Tmux {
    socket: String,
    _dir: tempfile::TempDir,
    data: PathBuf,
}

impl Tmux {
    fn start(width: u16, height: u16, env: &[(&str, &str)]) -> Tmux {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = format!(
            "deskmail-test-{}-{}",
            std::process::id(),
            dir.path()
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("x")
        );
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        let mut envs: Vec<String> = vec![
            format!("HOME={}", home.display()),
            "TERM=xterm-256color".into(),
            "PS1=READY$ ".into(),
        ];
        envs.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        let shell = format!(
            "env -i PATH=/usr/bin:/bin {} bash --norc --noprofile",
            envs.join(" ")
        );
        let ok = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                &shell,
            ])
            .status()
            .expect("tmux must be installed (tests/run.sh installs it)");
        assert!(ok.success(), "tmux new-session failed");
        let data = dir.path().join("desk");
        let t = Tmux {
            socket,
            _dir: dir,
            data,
        };
        t.wait_for("READY$", Duration::from_secs(10));
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn literal(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "0", "-l", text]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    fn screen_with_escapes(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-e", "-t", "0"])
    }

    /// Wait (bounded) until the screen contains `text`; return the screen.
    fn wait_for(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("screen never showed {text:?}; it shows:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn run_demo(&self, extra: &str) {
        let bin = env!("CARGO_BIN_EXE_deskmail");
        self.literal(&format!(
            "{bin} demo --data-dir {}{extra}",
            self.data.display()
        ));
        self.keys(&["Enter"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// Wait until the screen stops changing (the app drew its last frame).
fn settle(t: &Tmux) -> String {
    let mut last = t.screen();
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        let now = t.screen();
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

#[test]
fn demo_at_80x24_shows_all_panes_moves_helps_and_quits_cleanly() {
    let t = Tmux::start(80, 24, &[]);
    t.run_demo("");
    let s = t.wait_for("Records", Duration::from_secs(60));
    for pane in ["Folders", "support/INBOX", "Reader", "Records"] {
        assert!(s.contains(pane), "pane {pane} missing:\n{s}");
    }
    assert!(s.contains("1–"), "list position missing:\n{s}");
    // j moves the selection down: the list title keeps the window, the reader changes.
    let before = settle(&t);
    t.keys(&["j"]);
    let after = settle(&t);
    assert_ne!(before, after, "j changed nothing");
    t.keys(&["k"]);
    let back = settle(&t);
    assert_eq!(back, before, "k did not return to the first mail");
    // ? lists keys from the keymap.
    t.keys(&["?"]);
    let help = t.wait_for("Keys in list", Duration::from_secs(5));
    assert!(
        help.contains("move_down") || help.contains("Next") || help.contains("down"),
        "{help}"
    );
    assert!(help.contains("quit") || help.contains("Quit"), "{help}");
    t.keys(&["Escape"]);
    settle(&t);
    t.keys(&["q"]);
    let s = t.wait_for("READY$", Duration::from_secs(10));
    assert!(!s.contains("Folders"), "interface still on screen:\n{s}");
    assert_eq!(
        t.tmux(&["display", "-p", "-t", "0", "#{alternate_on}"])
            .trim(),
        "0",
        "alternate screen not left"
    );
}

#[test]
fn no_color_emits_no_colour_and_keeps_selection_visible() {
    let t = Tmux::start(100, 30, &[("NO_COLOR", "1")]);
    t.run_demo("");
    t.wait_for("Records", Duration::from_secs(60));
    let s = settle(&t);
    let esc = t.screen_with_escapes();
    // SGR parameters 30–37, 38, 39?, 40–47, 48, 90–97, 100–107 are colours.
    let mut colours = Vec::new();
    for seq in esc.split("\x1b[").skip(1) {
        let Some(end) = seq.find('m') else { continue };
        let params = &seq[..end];
        if params.chars().any(|c| !c.is_ascii_digit() && c != ';') {
            continue;
        }
        for p in params.split(';') {
            if let Ok(n) = p.parse::<u32>()
                && (matches!(n, 30..=38 | 40..=48 | 90..=97 | 100..=107))
            {
                colours.push(params.to_string());
            }
        }
    }
    assert!(
        colours.is_empty(),
        "colour SGR emitted with NO_COLOR: {colours:?}"
    );
    assert!(
        esc.contains("\x1b[7m") || esc.contains(";7m") || esc.contains("[7;"),
        "no reverse video for the selection:\n{s}"
    );
    t.keys(&["q"]);
    t.wait_for("READY$", Duration::from_secs(10));
}

/// Turn demo.tape into tmux actions; returns (keys sent, final screen).
fn replay_tape(t: &Tmux, tape: &Path) -> String {
    let text = std::fs::read_to_string(tape).expect("demo.tape");
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        match cmd {
            "Output" | "Set" | "Require" | "Hide" | "Show" => {}
            "Type" => {
                let s = rest.trim().trim_matches('"');
                if s == "deskmail demo" {
                    t.run_demo("");
                    t.wait_for("Records", Duration::from_secs(60));
                    // The launch line's Enter is part of run_demo.
                    continue;
                }
                t.literal(s);
            }
            "Enter" => {
                if t.screen().contains("READY$ ") && !t.screen().contains("Folders") {
                    continue;
                }
                t.keys(&["Enter"]);
            }
            "Escape" => t.keys(&["Escape"]),
            "Tab" => t.keys(&["Tab"]),
            "Up" | "Down" | "Left" | "Right" | "Space" | "Backspace" => t.keys(&[cmd]),
            c if c.starts_with("Ctrl+") => {
                let k = format!("C-{}", c.trim_start_matches("Ctrl+").to_lowercase());
                t.keys(&[&k]);
            }
            "Sleep" => {
                settle(t);
            }
            other => panic!("demo.tape uses {other:?}, which the replay does not know"),
        }
        std::thread::sleep(Duration::from_millis(60));
    }
    settle(t)
}

#[test]
fn demo_tape_replays_to_a_reply_in_the_sent_folder() {
    let t = Tmux::start(120, 36, &[]);
    let tape = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo.tape");
    let s = replay_tape(&t, &tape);
    assert!(
        s.contains("support/Sent"),
        "tape did not end in support/Sent:\n{s}"
    );
    assert!(s.contains("Re: "), "the reply is not in Sent:\n{s}");
    assert!(s.contains("Sent (demo desk)"), "no sent notice:\n{s}");
    t.keys(&["q"]);
    t.wait_for("READY$", Duration::from_secs(10));
}

#[test]
fn taking_a_case_in_the_demo_queue_moves_it_to_mine_and_stats_agree() {
    let t = Tmux::start(100, 30, &[]);
    t.run_demo("");
    t.wait_for("Records", Duration::from_secs(60));
    t.keys(&["K"]);
    t.wait_for("Cases — oldest waiting first", Duration::from_secs(10));
    t.keys(&["3"]);
    t.wait_for("Unassigned (3)", Duration::from_secs(10));
    t.keys(&["t"]);
    let s = t.wait_for("Unassigned (2)", Duration::from_secs(10));
    assert!(s.contains("Mine (4)"), "{s}");
    t.keys(&["q"]);
    settle(&t);
    t.keys(&["q"]);
    t.wait_for("READY$", Duration::from_secs(10));
    let d = t.data.to_str().expect("utf-8 path");
    let out = deskmail(&["stats", "--json", "--data-dir", d]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["cases_by_assignee"]["alice@desk.example"], 4, "{v}");
    assert_eq!(v["unassigned"], 2, "{v}");
}

fn deskmail(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_deskmail"))
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run deskmail")
}

#[test]
fn demo_without_tui_then_stats_json_shows_a_populated_desk() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("desk");
    let d = d.to_str().expect("utf-8 path");
    let out = deskmail(&["demo", "--data-dir", d, "--no-tui"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = deskmail(&["stats", "--json", "--data-dir", d]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(v["messages"].as_u64().unwrap_or(0) >= 300, "{v}");
    let kinds = v["records"]
        .as_object()
        .expect("records")
        .values()
        .filter(|n| n.as_u64().unwrap_or(0) > 0)
        .count();
    assert!(kinds >= 6, "{v}");
    assert!(v["links"].as_u64().unwrap_or(0) > 0, "{v}");
    let open: u64 = ["New", "Assigned", "Pending"]
        .iter()
        .map(|s| v["cases"][s].as_u64().unwrap_or(0))
        .sum();
    assert!(open >= 1, "{v}");
    // A second run on the same dir opens the desk instead of writing it again.
    let out = deskmail(&["demo", "--data-dir", d, "--no-tui"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already present"));
    let again: serde_json::Value =
        serde_json::from_slice(&deskmail(&["stats", "--json", "--data-dir", d]).stdout)
            .expect("json");
    assert_eq!(again["messages"], v["messages"]);
}

#[test]
fn render_prints_a_mail_and_fails_only_on_an_unreadable_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("m.eml");
    std::fs::write(&f, b"From: Eve <eve@example.com>\r\nSubject: hi \x1b]52;c;ZXZpbA==\x07there\r\n\r\nbody \x1b[31mred\r\n").expect("write");
    let out = deskmail(&["render", f.to_str().expect("path")]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Subject: hi") && text.contains("body"),
        "{text}"
    );
    assert!(
        !out.stdout.contains(&0x1b),
        "escape reached stdout: {text:?}"
    );
    let out = deskmail(&["render", "/nonexistent/x.eml"]);
    assert!(!out.status.success());
}

#[test]
fn first_frame_and_exit_draws_once_and_restores_the_terminal() {
    let t = Tmux::start(80, 24, &[]);
    let bin = env!("CARGO_BIN_EXE_deskmail");
    t.literal(&format!(
        "{bin} --first-frame-and-exit demo --data-dir {}; echo E\"\"XIT=$?",
        t.data.display()
    ));
    t.keys(&["Enter"]);
    let s = t.wait_for("EXIT=", Duration::from_secs(60));
    assert!(s.contains("EXIT=0"), "{s}");
    assert_eq!(
        t.tmux(&["display", "-p", "-t", "0", "#{alternate_on}"])
            .trim(),
        "0"
    );
}

/// Holds the store's lock the way a running deskmail does, until dropped.
struct StoreLock(#[allow(dead_code)] std::fs::File);

impl StoreLock {
    fn take(data: &Path) -> StoreLock {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(data.join("store").join("db")).expect("store db");
        // SAFETY: flock on a descriptor this value owns; released when it closes.
        assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
        StoreLock(f)
    }
}

/// `--first-frame-and-exit` on the desk in `t.data`, with its exit code;
/// `tag` tells this run's line from earlier ones.
fn first_frame_exit_code(t: &Tmux, tag: &str, env: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_deskmail");
    t.literal(&format!(
        "{env} {bin} --first-frame-and-exit demo --data-dir {}; echo {tag}\"\"EXIT=$?",
        t.data.display()
    ));
    t.keys(&["Enter"]);
    let marker = format!("{tag}EXIT=");
    let s = t.wait_for(&marker, Duration::from_secs(60));
    s.lines()
        .find_map(|l| l.split(marker.as_str()).nth(1))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn the_desk_as_left_is_painted_before_its_store_opens_but_not_once_the_store_changed() {
    let t = Tmux::start(80, 24, &[]);
    t.run_demo("");
    t.wait_for("Records", Duration::from_secs(60));
    settle(&t);
    t.keys(&["q"]);
    t.wait_for("READY$", Duration::from_secs(10));
    assert!(
        t.data.join("frame.snapshot").exists(),
        "no frame kept at quit"
    );

    // With the store held by another process only the kept frame can be shown.
    {
        let _lock = StoreLock::take(&t.data);
        assert_eq!(first_frame_exit_code(&t, "A", ""), "0", "{}", t.screen());
        assert_eq!(
            first_frame_exit_code(&t, "B", "DESKMAIL_NO_FRAME_SNAPSHOT=1"),
            "1",
            "{}",
            t.screen()
        );
    }
    // Anything written to the store since makes the kept frame stale.
    {
        let store = deskmail::store::Store::open(&t.data).expect("store");
        store.set_setting("touched", "yes").expect("write");
        store.flush().expect("flush");
    }
    let _lock = StoreLock::take(&t.data);
    assert_eq!(first_frame_exit_code(&t, "C", ""), "1", "{}", t.screen());
    assert!(
        t.screen().contains("in use by another deskmail"),
        "{}",
        t.screen()
    );
}

#[test]
fn ctrl_e_hands_the_mail_to_the_editor_and_reads_it_back() {
    let t = Tmux::start(100, 30, &[]);
    let script = t.data.with_file_name("edit.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nsed -i 's/^Subject:.*/Subject: Written in the editor/' \"$1\"\n",
    )
    .expect("script");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let bin = env!("CARGO_BIN_EXE_deskmail");
    t.literal(&format!(
        "EDITOR={} {bin} demo --data-dir {}",
        script.display(),
        t.data.display()
    ));
    t.keys(&["Enter"]);
    t.wait_for("Records", Duration::from_secs(60));
    t.keys(&["r"]);
    t.wait_for("Compose", Duration::from_secs(10));
    t.keys(&["C-e"]);
    let s = t.wait_for("Written in the editor", Duration::from_secs(10));
    assert!(
        s.contains("Compose"),
        "compose closed after the editor:\n{s}"
    );
    t.keys(&["Escape"]);
    settle(&t);
    t.keys(&["Escape"]);
    settle(&t);
    t.keys(&["q"]);
    t.wait_for("READY$", Duration::from_secs(10));
}

#[test]
fn a_mail_being_written_at_kill_is_offered_again_at_the_next_start() {
    let t = Tmux::start(100, 30, &[]);
    t.run_demo("");
    t.wait_for("Records", Duration::from_secs(60));
    t.keys(&["c"]);
    t.wait_for("Compose", Duration::from_secs(10));
    // A new mail starts on From: choose the identity, then go to To.
    t.keys(&["Space"]);
    t.keys(&["Tab"]);
    t.literal("bob@example.com");
    // Autosave runs after two idle seconds; wait for it, then kill -9.
    std::thread::sleep(Duration::from_secs(4));
    let pid = t.tmux(&["display", "-p", "-t", "0", "#{pane_pid}"]);
    let pid = pid.trim();
    // The shell's child is deskmail (read from /proc: no procps needed).
    let child = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .expect("children of the pane's shell")
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    assert!(!child.is_empty(), "no deskmail process under the shell");
    let child: i32 = child.parse().expect("a pid");
    // SAFETY: sending SIGKILL to the pid of our own child process.
    assert_eq!(
        unsafe { libc::kill(child, libc::SIGKILL) },
        0,
        "kill -9 {child}"
    );
    t.wait_for("READY$", Duration::from_secs(10));
    t.keys(&["Enter"]);
    t.tmux(&["send-keys", "-t", "0", "reset", "Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    t.run_demo("");
    let s = t.wait_for("were being written", Duration::from_secs(60));
    assert!(
        s.contains("bob@example.com"),
        "the draft is not offered:\n{s}"
    );
    t.keys(&["Enter"]);
    let s = t.wait_for("Compose", Duration::from_secs(10));
    assert!(s.contains("bob@example.com"), "{s}");
}

/// The pid of the process the pane's shell is running (read from /proc).
fn pane_child(t: &Tmux) -> i32 {
    let pid = t.tmux(&["display", "-p", "-t", "0", "#{pane_pid}"]);
    let pid = pid.trim();
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .expect("children of the pane's shell")
        .split_whitespace()
        .next()
        .unwrap_or("")
        .parse()
        .expect("a deskmail process under the shell")
}

/// Wait (bounded) until `pid` is gone; false if it is still there.
fn wait_gone(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for its parent.
        if state.is_empty() || state.split_whitespace().nth(2) == Some("Z") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn log_of(t: &Tmux) -> String {
    let log = t
        ._dir
        .path()
        .join("home/.local/state/deskmail/deskmail.log");
    std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()))
}

#[test]
fn killed_pane_ends_deskmail_quietly_with_state_flushed() {
    let t = Tmux::start(100, 30, &[]);
    t.run_demo("");
    t.wait_for("Records", Duration::from_secs(60));
    let child = pane_child(&t);
    // The SSH connection drops: the terminal goes away under deskmail.
    t.tmux(&["kill-pane", "-t", "0"]);
    assert!(
        wait_gone(child, Duration::from_secs(30)),
        "deskmail still runs after its terminal went away"
    );
    let log = log_of(&t);
    assert!(!log.contains("panic"), "{log}");
    assert!(log.contains("the terminal went away"), "{log}");
    assert!(log.contains("store flushed"), "{log}");
    assert!(log.contains("exit code 129"), "{log}");
}

#[test]
fn sigterm_ends_deskmail_quietly_and_gives_the_terminal_back() {
    let t = Tmux::start(100, 30, &[]);
    t.run_demo("");
    t.wait_for("Records", Duration::from_secs(60));
    let child = pane_child(&t);
    // SAFETY: sending SIGTERM to the pid of our own child process.
    assert_eq!(unsafe { libc::kill(child, libc::SIGTERM) }, 0);
    assert!(wait_gone(child, Duration::from_secs(30)), "still running");
    // The typed line must not itself match what is awaited: the old prompt
    // line is still on the screen, and keys echo before the shell runs them.
    t.literal("echo st\"\"atus=$?");
    t.keys(&["Enter"]);
    let s = t.wait_for("status=", Duration::from_secs(10));
    assert!(s.contains("status=143"), "{s}");
    assert!(!s.contains("Records"), "the alternate screen is left:\n{s}");
    let log = log_of(&t);
    assert!(!log.contains("panic"), "{log}");
    assert!(log.contains("SIGTERM"), "{log}");
    assert!(log.contains("store flushed"), "{log}");
}

/// `(INBOX, Archive)` totals of the support account from `stats --json`.
fn inbox_and_archive(data: &Path) -> (u64, u64) {
    let d = data.to_str().expect("utf-8 path");
    // The desk that just quit may still hold the store for a moment.
    let deadline = Instant::now() + Duration::from_secs(20);
    let out = loop {
        let out = deskmail(&["stats", "--json", "--data-dir", d]);
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stats --json: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let total = |name: &str| {
        v["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["name"] == "support")
            .flat_map(|a| a["folders"].as_array().cloned().unwrap_or_default())
            .find(|f| f["name"] == name)
            .and_then(|f| f["total"].as_u64())
            .unwrap_or(0)
    };
    (total("INBOX"), total("Archive"))
}

#[test]
fn mark_three_archive_undo_then_mark_two_archive_moves_exactly_two() {
    let t = Tmux::start(80, 24, &[]);
    let d = t.data.to_str().expect("utf-8 path").to_string();
    let out = deskmail(&["demo", "--data-dir", &d, "--no-tui"]);
    assert!(out.status.success());
    let (inbox, archive) = inbox_and_archive(&t.data);
    assert!(inbox >= 5, "demo INBOX too small: {inbox}");
    t.run_demo("");
    t.wait_for("Records", Duration::from_secs(60));
    settle(&t);
    t.keys(&["v", "v", "v"]);
    t.wait_for("3 marked", Duration::from_secs(5));
    t.keys(&["a"]);
    t.wait_for("Moved 3 mails to Archive", Duration::from_secs(5));
    t.keys(&["z"]);
    t.wait_for("Moved 3 mails back to INBOX", Duration::from_secs(5));
    settle(&t);
    t.keys(&["v", "v"]);
    t.wait_for("2 marked", Duration::from_secs(5));
    t.keys(&["a"]);
    t.wait_for("Moved 2 mails to Archive", Duration::from_secs(5));
    t.keys(&["q"]);
    t.wait_for("READY$", Duration::from_secs(10));
    assert_eq!(inbox_and_archive(&t.data), (inbox - 2, archive + 2));
}

#[test]
fn slash_search_shows_hits_as_typing_pauses_and_esc_goes_back_to_the_folder() {
    let t = Tmux::start(100, 30, &[]);
    t.run_demo("");
    t.wait_for("Records", Duration::from_secs(60));
    settle(&t);
    t.keys(&["/"]);
    t.literal("счёт");
    // No Enter: the pause after the last key runs the query.
    let s = t.wait_for("Search: счёт", Duration::from_secs(10));
    assert!(s.contains("/счёт_"), "the line shows the query: {s}");
    t.wait_for("Вопрос по счёту", Duration::from_secs(10));
    t.keys(&["Enter"]);
    t.keys(&["Enter"]);
    t.keys(&["n"]);
    t.wait_for("Hit 1 of", Duration::from_secs(5));
    t.keys(&["Escape"]);
    settle(&t);
    t.keys(&["Escape"]);
    t.wait_for("Search closed.", Duration::from_secs(5));
    let s = t.wait_for("support/INBOX", Duration::from_secs(5));
    assert!(!s.contains("Search: "), "{s}");
    t.keys(&["q"]);
    t.wait_for("READY$", Duration::from_secs(10));
}
