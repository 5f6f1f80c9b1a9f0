//! A real, loopback-only Dovecot + Postfix mail stack per test.
//!
//! Every [`MailStack`] lives in its own temporary directory with its own free
//! ports on 127.0.0.1, so any number of them can run side by side (threads of
//! one test binary, several test binaries).  Both daemons run as root without
//! systemd; Dovecot is a child process of the test (foreground mode), Postfix
//! is a daemonised `postfix -c DIR start` instance whose master is tracked by
//! pid + start time.  Everything is stopped by pid in `Drop`, also when the
//! test panics.
//!
//! Users (password [`PASSWORD`]): agent, support, customer, alice, bob, each
//! `USER@desk.example`.  Mail for `example.com`, `example0.com` ..
//! `example96.com` (and [`StackOptions::customer_domains`]) is a catch-all for
//! `customer@desk.example`.  Postfix never relays anywhere and never uses DNS.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Loopback address every service listens on.
pub const HOST: &str = "127.0.0.1";
/// The mailbox domain of all users.
pub const DOMAIN: &str = "desk.example";
/// Password of every user.
pub const PASSWORD: &str = "secret";
/// The users of a default stack.
pub const USERS: [&str; 5] = ["agent", "support", "customer", "alice", "bob"];

/// Debian packages the stack needs (installed by `tests/run.sh`).
pub const APT_PACKAGES: &str =
    "dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix openssl";

/// Dovecot's Drafts, Junk, Sent and Trash, marked with their special use.
const SPECIAL_MAILBOXES: &str = "  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
";

const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
const START_ATTEMPTS: usize = 3;

/// What to start.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// Local part of every user (all on [`DOMAIN`], password [`PASSWORD`]).
    pub users: Vec<String>,
    /// Start Postfix (SMTP + submission).  Dovecot alone starts faster.
    pub postfix: bool,
    /// Domains whose every address is delivered to `customer` (when that user exists).
    pub customer_domains: Vec<String>,
    /// Dovecot's `auth_failure_delay` in seconds (Dovecot's default is 2).
    pub auth_failure_delay_secs: u32,
    /// Servers present one self-signed certificate marked CA:TRUE, the way
    /// `openssl req -x509` tutorials make it, instead of a CA-issued leaf.
    pub self_signed_ca_cert: bool,
    /// No Drafts/Junk/Sent/Trash made by Dovecot and no SPECIAL-USE: the
    /// test creates its folders (e.g. with Cyrillic names) itself.
    pub no_special_folders: bool,
    /// Dovecot also accepts XOAUTH2/OAUTHBEARER tokens, checked at this
    /// introspection URL (see `support::oauth::TokenServer`).
    pub oauth2_introspection_url: Option<String>,
    /// Dovecot offers APOP (its POP3 greeting carries a timestamp).
    pub apop: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        let mut customer_domains = vec!["example.com".to_string()];
        customer_domains.extend((0..97).map(|k| format!("example{k}.com")));
        StackOptions {
            users: USERS.iter().map(|u| u.to_string()).collect(),
            postfix: true,
            customer_domains,
            auth_failure_delay_secs: 0,
            self_signed_ca_cert: false,
            no_special_folders: false,
            oauth2_introspection_url: None,
            apop: false,
        }
    }
}

impl StackOptions {
    /// Dovecot only (IMAP, IMAPS, POP3, POP3S, LMTP); no SMTP/submission.
    pub fn dovecot_only() -> Self {
        StackOptions {
            postfix: false,
            ..StackOptions::default()
        }
    }
}

/// A daemon that is not our child, identified by pid and start time so a
/// recycled pid is never signalled.
#[derive(Clone, Copy, Debug)]
struct Daemon {
    pid: i32,
    start_time: u64,
}

impl Daemon {
    fn alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some(st) if st.start_time == self.start_time && st.state != 'Z')
    }
}

struct Paths {
    tls: PathBuf,
    dovecot_conf: PathBuf,
    dovecot_base: PathBuf,
    postfix_conf: PathBuf,
    postfix_queue: PathBuf,
    postfix_data: PathBuf,
    mail: PathBuf,
    log: PathBuf,
}

impl Paths {
    fn new(d: &Path) -> Paths {
        Paths {
            tls: d.join("tls"),
            dovecot_conf: d.join("dovecot"),
            dovecot_base: d.join("dovecot/run"),
            postfix_conf: d.join("postfix"),
            postfix_queue: d.join("postfix-queue"),
            postfix_data: d.join("postfix-data"),
            mail: d.join("mail"),
            log: d.join("log"),
        }
    }
}

/// Executables used by the stack.
struct Tools {
    dovecot: PathBuf,
    doveadm: PathBuf,
    postfix: PathBuf,
    openssl: PathBuf,
    vmail_uid: u32,
    vmail_gid: u32,
    postfix_uid: u32,
    postfix_gid: u32,
    queue_layout: Option<Vec<(String, u32, u32, u32)>>,
}

/// One running mail stack.  Dropping it stops the daemons and removes the directory.
pub struct MailStack {
    /// Everything of this instance lives here (configs, mail, queue, logs).
    pub dir: TempDir,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub pop3_port: u16,
    pub pop3s_port: u16,
    pub lmtp_port: u16,
    /// Postfix SMTP (no auth, local domains only); 0 without Postfix.
    pub smtp_port: u16,
    /// Postfix submission (STARTTLS required, AUTH PLAIN/LOGIN); 0 without Postfix.
    pub submission_port: u16,
    /// Self-signed CA that issued the servers' certificate (for 127.0.0.1,
    /// localhost and mail.desk.example); clients trust it as their `ca_file`.
    pub cert_pem: PathBuf,
    /// [`DOMAIN`].
    pub domain: String,
    /// [`HOST`].
    pub host: String,
    users: Vec<String>,
    paths: Paths,
    dovecot: Mutex<Option<Child>>,
    postfix: Mutex<Option<Daemon>>,
    has_postfix: bool,
}

static MAILDIR_SEQ: AtomicU64 = AtomicU64::new(0);

impl MailStack {
    /// Dovecot + Postfix with the default users.  Panics (with the reason and
    /// the daemons' log) if the stack cannot be started.
    pub fn start() -> MailStack {
        MailStack::start_with(StackOptions::default())
    }

    /// Starts a stack as described by `opts`.
    pub fn start_with(opts: StackOptions) -> MailStack {
        let tools = tools();
        let mut last_err = String::new();
        for attempt in 1..=START_ATTEMPTS {
            match MailStack::try_start(&opts, tools) {
                Ok(stack) => return stack,
                Err(e) => {
                    // Usually a port taken by someone else between probing and binding.
                    eprintln!("mailstack: start attempt {attempt} failed: {e}");
                    last_err = e;
                }
            }
        }
        panic!("mailstack: could not start the mail stack: {last_err}");
    }

    fn try_start(opts: &StackOptions, tools: &'static Tools) -> Result<MailStack, String> {
        for u in &opts.users {
            // Dovecot looks users up lower-cased (auth_username_format = %Ln).
            let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b);
            if u.is_empty() || !u.bytes().all(ok) {
                return Err(format!("invalid user name {u:?}"));
            }
        }
        let dir = make_dir()?;
        let paths = Paths::new(dir.path());
        let n_ports = if opts.postfix { 7 } else { 5 };
        let mut reserved = reserve_ports(n_ports)?;
        let port = |i: usize| reserved.get(i).map(|r| r.0).unwrap_or(0);
        let stack = MailStack {
            imap_port: port(0),
            imaps_port: port(1),
            pop3_port: port(2),
            pop3s_port: port(3),
            lmtp_port: port(4),
            smtp_port: port(5),
            submission_port: port(6),
            cert_pem: paths.tls.join("ca.pem"),
            domain: DOMAIN.to_string(),
            host: HOST.to_string(),
            users: opts.users.clone(),
            paths,
            dovecot: Mutex::new(None),
            postfix: Mutex::new(None),
            has_postfix: opts.postfix,
            dir,
        };
        for d in [&stack.paths.log, &stack.paths.mail, &stack.paths.tls] {
            mkdir(d)?;
        }
        chown(
            &stack.paths.mail,
            Some(tools.vmail_uid),
            Some(tools.vmail_gid),
        )
        .map_err(|e| format!("chown {}: {e}", stack.paths.mail.display()))?;
        set_mode(&stack.paths.mail, 0o750)?;
        stack.write_tls(tools, opts.self_signed_ca_cert)?;
        stack.write_dovecot(opts, tools)?;
        if opts.postfix {
            stack.write_postfix(opts)?;
        }

        let t0 = Instant::now();
        // Dovecot.
        let dovecot_ports: Vec<u16> = reserved.drain(..5).map(|(p, _)| p).collect();
        stack.spawn_dovecot(tools, &dovecot_ports)?;
        let dovecot_time = t0.elapsed();
        // Postfix.
        let mut postfix_time = Duration::ZERO;
        if opts.postfix {
            let t1 = Instant::now();
            let ports: Vec<u16> = reserved.drain(..).map(|(p, _)| p).collect();
            stack.postfix_start(tools, &ports)?;
            postfix_time = t1.elapsed();
        }
        eprintln!(
            "mailstack: up in {}: dovecot {dovecot_time:.2?}, postfix {postfix_time:.2?}",
            stack.dir.path().display()
        );
        Ok(stack)
    }

    /// Password of every user.
    pub fn password(&self) -> &str {
        PASSWORD
    }

    /// The default users (local parts).
    pub fn users() -> &'static [&'static str] {
        &USERS
    }

    /// Users of this instance (local parts).
    pub fn instance_users(&self) -> &[String] {
        &self.users
    }

    /// `user@desk.example` (`user` may already contain a domain).
    pub fn address(&self, user: &str) -> String {
        if user.contains('@') {
            user.to_string()
        } else {
            format!("{user}@{}", self.domain)
        }
    }

    /// Whether Postfix is part of this stack.
    pub fn has_postfix(&self) -> bool {
        self.has_postfix
    }

    /// Log files of this instance (Dovecot's and Postfix's).
    pub fn log_dir(&self) -> PathBuf {
        self.paths.log.clone()
    }

    /// The Maildir of `user` (INBOX); other mailboxes are `.NAME` below it.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.paths.mail.join(local_part(user)).join("Maildir")
    }

    // ------------------------------------------------------------- delivery --

    /// Delivers one message to `user`'s INBOX over LMTP (Dovecot indexes it and
    /// it is visible to IMAP/POP3 when this returns).  Panics if Dovecot refuses it.
    pub fn deliver(&self, user: &str, raw: &[u8]) {
        self.deliver_many(user, std::iter::once(raw.to_vec()));
    }

    /// Delivers messages to `user`'s INBOX over one LMTP connection (in order;
    /// UIDs follow the iteration order).  Returns how many were delivered.
    pub fn deliver_many(&self, user: &str, messages: impl IntoIterator<Item = Vec<u8>>) -> usize {
        let rcpt = self.address(user);
        let r = lmtp_deliver(self.lmtp_port, &rcpt, messages);
        r.unwrap_or_else(|e| panic!("mailstack: LMTP delivery to {rcpt} failed: {e}"))
    }

    /// Saves one message into any mailbox of `user` (e.g. "Sent", "Drafts")
    /// with `doveadm save`.
    pub fn save_to(&self, user: &str, mailbox: &str, raw: &[u8]) {
        let user = local_part(user);
        self.doveadm_stdin(&["save", "-u", user, "-m", mailbox], raw);
    }

    /// Bulk-fills `user`'s INBOX by writing Maildir files directly (fast: 20,000
    /// messages take about a second), then lets Dovecot index them.  The
    /// messages get UIDs in iteration order and no flags (unseen).  Returns the
    /// number of messages in the INBOX afterwards.
    pub fn fill_inbox(&self, user: &str, messages: impl IntoIterator<Item = Vec<u8>>) -> usize {
        self.fill_mailbox(user, "INBOX", messages, "")
    }

    /// Like [`fill_inbox`](Self::fill_inbox) for any mailbox (ASCII names; the
    /// special-use ones exist already, others are created) and with Maildir
    /// flag letters for every message (`""`, `"S"` seen, `"FS"` flagged + seen,
    /// `"RS"` answered + seen, `"T"` deleted, `"D"` draft).
    pub fn fill_mailbox(
        &self,
        user: &str,
        mailbox: &str,
        messages: impl IntoIterator<Item = Vec<u8>>,
        flags: &str,
    ) -> usize {
        let tools = tools();
        let user = local_part(user);
        assert!(
            mailbox
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'&'),
            "mailstack: fill_mailbox supports plain ASCII mailbox names, got {mailbox:?}"
        );
        assert!(
            flags.bytes().all(|b| b"DFPRST".contains(&b)),
            "mailstack: bad Maildir flags {flags:?}"
        );
        let mut flag_bytes: Vec<u8> = flags.bytes().collect();
        flag_bytes.sort_unstable();
        flag_bytes.dedup();
        let flags = String::from_utf8_lossy(&flag_bytes).into_owned();

        let home = self.paths.mail.join(user);
        let maildir = home.join("Maildir");
        let folder = if mailbox.eq_ignore_ascii_case("INBOX") {
            maildir.clone()
        } else {
            maildir.join(format!(".{mailbox}"))
        };
        let owner = (Some(tools.vmail_uid), Some(tools.vmail_gid));
        for d in [
            home.clone(),
            maildir.clone(),
            folder.clone(),
            folder.join("cur"),
            folder.join("new"),
            folder.join("tmp"),
        ] {
            if !d.exists() {
                mkdir(&d).unwrap_or_else(|e| panic!("mailstack: {e}"));
                chown(&d, owner.0, owner.1)
                    .unwrap_or_else(|e| panic!("mailstack: chown {}: {e}", d.display()));
                set_mode(&d, 0o700).unwrap_or_else(|e| panic!("mailstack: {e}"));
            }
        }
        if folder != maildir && !folder.join("maildirfolder").exists() {
            let f = folder.join("maildirfolder");
            fs::write(&f, b"").unwrap_or_else(|e| panic!("mailstack: {}: {e}", f.display()));
            let _ = chown(&f, owner.0, owner.1);
        }

        // Dovecot assigns UIDs to new files sorted by the time stamp in their
        // name, so consecutive (fake) seconds keep the iteration order.
        let batch = MAILDIR_SEQ.fetch_add(1, Ordering::Relaxed);
        let base = 1_600_000_000 + (batch % 1000) * 10_000_000;
        let pid = std::process::id();
        let tmp = folder.join("tmp");
        let cur = folder.join("cur");
        for (i, raw) in messages.into_iter().enumerate() {
            let name = format!(
                "{}.M{i}P{pid}Q{batch}.deskmail-test,S={}:2,{flags}",
                base + i as u64,
                raw.len()
            );
            let t = tmp.join(&name);
            fs::write(&t, &raw).unwrap_or_else(|e| panic!("mailstack: write {}: {e}", t.display()));
            chown(&t, owner.0, owner.1)
                .unwrap_or_else(|e| panic!("mailstack: chown {}: {e}", t.display()));
            fs::rename(&t, cur.join(&name))
                .unwrap_or_else(|e| panic!("mailstack: rename {}: {e}", t.display()));
        }
        let mailbox = if folder == maildir { "INBOX" } else { mailbox };
        self.message_count(user, mailbox)
    }

    /// Number of messages in `mailbox` of `user` (Dovecot syncs the mailbox first).
    pub fn message_count(&self, user: &str, mailbox: &str) -> usize {
        let out = self.doveadm(&[
            "mailbox",
            "status",
            "-u",
            local_part(user),
            "messages",
            mailbox,
        ]);
        parse_status(&out, "messages")
            .unwrap_or_else(|| panic!("mailstack: unexpected doveadm output {out:?}"))
    }

    /// UIDs of the messages in `mailbox` of `user`, ascending.
    pub fn uid_list(&self, user: &str, mailbox: &str) -> Vec<u32> {
        let out = self.doveadm(&["search", "-u", local_part(user), "mailbox", mailbox, "ALL"]);
        let mut uids: Vec<u32> = out
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter_map(|u| u.parse().ok())
            .collect();
        uids.sort_unstable();
        uids
    }

    /// Runs `doveadm` against this instance's configuration; returns stdout.
    /// Panics (with stderr) when doveadm fails.
    pub fn doveadm(&self, args: &[&str]) -> String {
        self.doveadm_stdin(args, b"")
    }

    /// [`doveadm`](Self::doveadm) with `input` on stdin (e.g. `save`).
    pub fn doveadm_stdin(&self, args: &[&str], input: &[u8]) -> String {
        let tools = tools();
        let conf = self.paths.dovecot_conf.join("dovecot.conf");
        let mut cmd = Command::new(&tools.doveadm);
        cmd.arg("-c").arg(&conf).args(args);
        let out = run_with_input(&mut cmd, input)
            .unwrap_or_else(|e| panic!("mailstack: doveadm {args:?}: {e}"));
        if !out.status.success() {
            panic!(
                "mailstack: doveadm {args:?} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    // ---------------------------------------------------------------- postfix --

    /// Stops Postfix (SMTP and submission refuse connections afterwards).
    /// Mail already queued stays in the queue.  No-op when not running.
    pub fn stop_postfix(&self) {
        let mut guard = lock(&self.postfix);
        if let Some(d) = guard.take() {
            stop_daemon("postfix", d);
        }
    }

    /// Starts Postfix again on the same ports (after [`stop_postfix`](Self::stop_postfix)).
    pub fn start_postfix(&self) {
        assert!(
            self.has_postfix,
            "mailstack: this stack was started without Postfix"
        );
        if self.postfix_running() {
            return;
        }
        let ports = [self.smtp_port, self.submission_port];
        let deadline = Instant::now() + START_TIMEOUT;
        // The ports may linger for a moment after the old master exited.
        loop {
            match self.postfix_start(tools(), &ports) {
                Ok(()) => return,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("mailstack: restarting postfix: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("mailstack: could not restart postfix: {e}"),
            }
        }
    }

    /// Whether the Postfix master of this stack is running.
    pub fn postfix_running(&self) -> bool {
        lock(&self.postfix).is_some_and(|d| d.alive())
    }

    /// Whether the Dovecot master of this stack is running.
    pub fn dovecot_running(&self) -> bool {
        let mut guard = lock(&self.dovecot);
        match guard.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Pid of the Dovecot master (a child of this process), if running.
    pub fn dovecot_pid(&self) -> Option<u32> {
        let mut guard = lock(&self.dovecot);
        let child = guard.as_mut()?;
        matches!(child.try_wait(), Ok(None)).then(|| child.id())
    }

    /// Pid of the Postfix master, if running.
    pub fn postfix_pid(&self) -> Option<u32> {
        lock(&self.postfix)
            .filter(Daemon::alive)
            .and_then(|d| u32::try_from(d.pid).ok())
    }

    /// Runs `postqueue -p` for this instance (the queue listing).
    pub fn postqueue(&self) -> String {
        let out = Command::new(sibling(&tools().postfix, "postqueue"))
            .arg("-c")
            .arg(&self.paths.postfix_conf)
            .arg("-p")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("mailstack: postqueue: {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Last `lines` lines of Dovecot's and Postfix's logs (for failure messages).
    pub fn log_tail(&self, lines: usize) -> String {
        let mut s = String::new();
        for name in [
            "dovecot.log",
            "dovecot.stderr",
            "postfix.log",
            "postfix-start.out",
        ] {
            let p = self.paths.log.join(name);
            if let Ok(text) = fs::read_to_string(&p) {
                if text.trim().is_empty() {
                    continue;
                }
                let all: Vec<&str> = text.lines().collect();
                let from = all.len().saturating_sub(lines);
                let _ = writeln!(s, "---- {} (last {} lines)", p.display(), all.len() - from);
                for l in &all[from..] {
                    let _ = writeln!(s, "{l}");
                }
            }
        }
        s
    }

    // ---------------------------------------------------------------- internals --

    fn write_tls(&self, tools: &Tools, self_signed: bool) -> Result<(), String> {
        let t = &self.paths.tls;
        let cnf = t.join("openssl.cnf");
        fs::write(
            &cnf,
            format!(
                "[req]\n\
                 distinguished_name = dn\n\
                 prompt = no\n\
                 [dn]\n\
                 CN = placeholder\n\
                 [v3_ca]\n\
                 basicConstraints = critical,CA:TRUE\n\
                 keyUsage = critical,keyCertSign,cRLSign\n\
                 subjectKeyIdentifier = hash\n\
                 [v3_self]\n\
                 basicConstraints = critical,CA:TRUE\n\
                 subjectAltName = DNS:mail.{DOMAIN},DNS:localhost,IP:127.0.0.1\n\
                 subjectKeyIdentifier = hash\n\
                 [v3_leaf]\n\
                 basicConstraints = critical,CA:FALSE\n\
                 keyUsage = critical,digitalSignature,keyEncipherment\n\
                 extendedKeyUsage = serverAuth\n\
                 subjectAltName = DNS:mail.{DOMAIN},DNS:localhost,IP:127.0.0.1\n\
                 subjectKeyIdentifier = hash\n\
                 authorityKeyIdentifier = keyid\n"
            ),
        )
        .map_err(|e| format!("write {}: {e}", cnf.display()))?;
        let ossl = |args: &[&str]| -> Result<(), String> {
            let out = Command::new(&tools.openssl)
                .args(args)
                .current_dir(t)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("openssl: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "openssl {args:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        if self_signed {
            let subj = format!("/CN=mail.{DOMAIN}");
            let mut one = vec!["req", "-config", "openssl.cnf", "-x509", "-nodes"];
            one.extend(ec);
            one.extend(["-days", "3650", "-sha256", "-subj", &subj]);
            one.extend([
                "-extensions",
                "v3_self",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
            ]);
            ossl(&one)?;
            // The client's ca_file is the server's own certificate.
            fs::copy(t.join("cert.pem"), t.join("ca.pem"))
                .map_err(|e| format!("copy cert.pem: {e}"))?;
            set_mode(&t.join("key.pem"), 0o600)?;
            set_mode(&t.join("cert.pem"), 0o644)?;
            set_mode(&t.join("ca.pem"), 0o644)?;
            return Ok(());
        }
        let mut ca = vec!["req", "-config", "openssl.cnf", "-x509", "-nodes"];
        ca.extend(ec);
        ca.extend([
            "-days",
            "3650",
            "-sha256",
            "-subj",
            "/CN=deskmail test CA",
            "-extensions",
            "v3_ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        ossl(&ca)?;
        let mut req = vec!["req", "-config", "openssl.cnf", "-new", "-nodes"];
        req.extend(ec);
        let subj = format!("/CN=mail.{DOMAIN}");
        req.extend(["-subj", &subj, "-keyout", "key.pem", "-out", "leaf.csr"]);
        ossl(&req)?;
        let serial = format!("{}", random_u64() >> 2);
        ossl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "v3_leaf",
            "-out",
            "leaf.pem",
        ])?;
        // Servers present the chain leaf + CA.
        let leaf = fs::read(t.join("leaf.pem")).map_err(|e| format!("read leaf.pem: {e}"))?;
        let ca = fs::read(t.join("ca.pem")).map_err(|e| format!("read ca.pem: {e}"))?;
        let chain = [leaf, ca].concat();
        fs::write(t.join("cert.pem"), chain).map_err(|e| format!("write cert.pem: {e}"))?;
        set_mode(&t.join("key.pem"), 0o600)?;
        set_mode(&t.join("ca.key"), 0o600)?;
        set_mode(&t.join("cert.pem"), 0o644)?;
        set_mode(&t.join("ca.pem"), 0o644)?;
        Ok(())
    }

    fn write_dovecot(&self, opts: &StackOptions, tools: &Tools) -> Result<(), String> {
        let dc = &self.paths.dovecot_conf;
        mkdir(dc)?;
        mkdir(&dc.join("state"))?;
        let mut passwd = String::new();
        for u in &opts.users {
            let _ = writeln!(passwd, "{u}:{{PLAIN}}{PASSWORD}::::::");
        }
        let pw = dc.join("passwd");
        fs::write(&pw, passwd).map_err(|e| format!("write {}: {e}", pw.display()))?;
        set_mode(&pw, 0o644)?;
        let d = |p: &Path| p.display().to_string();
        let extra_mechanisms = format!(
            "{}{}",
            if opts.oauth2_introspection_url.is_some() {
                " xoauth2 oauthbearer"
            } else {
                ""
            },
            if opts.apop { " apop" } else { "" }
        );
        let conf = format!(
            r#"# Generated by the deskmail test harness.
base_dir = {base}
state_dir = {state}
instance_name = deskmail-{instance}
log_path = {log}/dovecot.log
protocols = imap pop3 lmtp
listen = {HOST}
hostname = mail.{DOMAIN}
postmaster_address = postmaster@{DOMAIN}
shutdown_clients = yes

ssl = yes
ssl_cert = <{tls}/cert.pem
ssl_key = <{tls}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login{oauth_mechanisms}
auth_username_format = %Ln
auth_verbose = yes
auth_failure_delay = {delay} secs
{oauth_passdb}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {passwd}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%n
}}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_location = maildir:~/Maildir
mail_fsync = never

namespace inbox {{
  inbox = yes
  mailbox INBOX {{
    auto = subscribe
  }}
{special_mailboxes}}}

protocol imap {{
  mail_max_userip_connections = 200
}}
protocol pop3 {{
  mail_max_userip_connections = 200
  pop3_uidl_format = %08Xu%08Xv
}}

service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {imap}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {HOST}
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = {HOST}
    port = {pop3s}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {HOST}
    port = {lmtp}
  }}
}}
# No auth penalty: Dovecot otherwise delays every login from an address after
# a failed one (2 s, doubling up to 15 s); tests log in wrongly on purpose.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
"#,
            base = d(&self.paths.dovecot_base),
            state = d(&dc.join("state")),
            instance = self.imap_port,
            log = d(&self.paths.log),
            tls = d(&self.paths.tls),
            delay = opts.auth_failure_delay_secs,
            oauth_mechanisms = extra_mechanisms,
            oauth_passdb = match &opts.oauth2_introspection_url {
                Some(_) => format!(
                    "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  \
                     args = {}\n}}\n",
                    d(&dc.join("oauth2.conf.ext"))
                ),
                None => String::new(),
            },
            special_mailboxes = if opts.no_special_folders {
                ""
            } else {
                SPECIAL_MAILBOXES
            },
            passwd = d(&pw),
            uid = tools.vmail_uid,
            gid = tools.vmail_gid,
            mail = d(&self.paths.mail),
            imap = self.imap_port,
            imaps = self.imaps_port,
            pop3 = self.pop3_port,
            pop3s = self.pop3s_port,
            lmtp = self.lmtp_port,
        );
        if let Some(url) = &opts.oauth2_introspection_url {
            let f = dc.join("oauth2.conf.ext");
            let text = format!(
                "introspection_mode = post\nintrospection_url = {url}\n\
                 username_attribute = username\nactive_attribute = active\nactive_value = true\n"
            );
            fs::write(&f, text).map_err(|e| format!("write {}: {e}", f.display()))?;
            set_mode(&f, 0o644)?;
        }
        let f = dc.join("dovecot.conf");
        fs::write(&f, conf).map_err(|e| format!("write {}: {e}", f.display()))?;
        Ok(())
    }

    fn write_postfix(&self, opts: &StackOptions) -> Result<(), String> {
        let pc = &self.paths.postfix_conf;
        mkdir(pc)?;
        let mut vmailbox = String::new();
        for u in &opts.users {
            let _ = writeln!(vmailbox, "{u}@{DOMAIN} OK");
        }
        fs::write(pc.join("vmailbox"), vmailbox).map_err(|e| format!("write vmailbox: {e}"))?;
        let has = |u: &str| opts.users.iter().any(|x| x == u);
        let mut virtual_map = String::new();
        let postmaster = if has("agent") {
            Some("agent")
        } else {
            opts.users.first().map(String::as_str)
        };
        if let Some(pm) = postmaster {
            let _ = writeln!(virtual_map, "postmaster@{DOMAIN} {pm}@{DOMAIN}");
            let _ = writeln!(virtual_map, "abuse@{DOMAIN} {pm}@{DOMAIN}");
        }
        let alias_domains: Vec<&str> = if has("customer") {
            opts.customer_domains
                .iter()
                .map(String::as_str)
                .filter(|d| !d.eq_ignore_ascii_case(DOMAIN))
                .collect()
        } else {
            Vec::new()
        };
        for dom in &alias_domains {
            if !dom
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            {
                return Err(format!("invalid customer domain {dom:?}"));
            }
            let _ = writeln!(virtual_map, "@{dom} customer@{DOMAIN}");
        }
        fs::write(pc.join("virtual"), virtual_map).map_err(|e| format!("write virtual: {e}"))?;
        let d = |p: &Path| p.display().to_string();
        let main_cf = format!(
            r#"# Generated by the deskmail test harness.
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {log}/postfix.log
maillog_file_prefixes = {log}

myhostname = mail.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8

# Nothing is delivered locally and nothing leaves this host.
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery disabled in the test stack
alias_maps =
alias_database =
relayhost =
relay_domains =
relay_transport = error:5.7.1 relaying disabled in the test stack
default_transport = error:5.7.1 relaying disabled in the test stack
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination

# No DNS anywhere.
disable_dns_lookups = yes
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no

# Mailboxes live in Dovecot; Postfix hands everything over via LMTP.
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_maps = texthash:{conf}/vmailbox
virtual_alias_domains = {alias_domains}
virtual_alias_maps = texthash:{conf}/virtual
virtual_transport = lmtp:inet:{HOST}:{lmtp}

smtpd_banner = $myhostname ESMTP deskmail-test
smtpd_tls_cert_file = {tls}/cert.pem
smtpd_tls_key_file = {tls}/key.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {dovecot_base}/auth-postfix
smtpd_sasl_auth_enable = no
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_error_sleep_time = 0
in_flow_delay = 0

biff = no
append_dot_mydomain = no
message_size_limit = 52428800
mailbox_size_limit = 0
delay_warning_time = 0
minimal_backoff_time = 5s
maximal_backoff_time = 30s
queue_run_delay = 5s
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
"#,
            queue = d(&self.paths.postfix_queue),
            data = d(&self.paths.postfix_data),
            log = d(&self.paths.log),
            conf = d(pc),
            alias_domains = alias_domains.join(" "),
            lmtp = self.lmtp_port,
            tls = d(&self.paths.tls),
            dovecot_base = d(&self.paths.dovecot_base),
        );
        fs::write(pc.join("main.cf"), main_cf).map_err(|e| format!("write main.cf: {e}"))?;
        let master_cf = format!(
            r#"# Generated by the deskmail test harness.  No chroot anywhere.
# service type  private unpriv  chroot  wakeup  maxproc command + args
{HOST}:{smtp} inet n - n - - smtpd
{HOST}:{subm} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"#,
            smtp = self.smtp_port,
            subm = self.submission_port,
        );
        fs::write(pc.join("master.cf"), master_cf).map_err(|e| format!("write master.cf: {e}"))?;
        // Postfix waits (in 300 ms steps) until files it reads are more than a
        // second old, so that it never reads a half-written file; these are complete.
        let past = std::time::SystemTime::now() - Duration::from_secs(3600);
        for f in ["main.cf", "master.cf", "vmailbox", "virtual"] {
            let p = pc.join(f);
            fs::File::options()
                .write(true)
                .open(&p)
                .and_then(|file| file.set_modified(past))
                .map_err(|e| format!("set mtime of {}: {e}", p.display()))?;
        }
        Ok(())
    }

    fn spawn_dovecot(&self, tools: &Tools, ports: &[u16]) -> Result<(), String> {
        let conf = self.paths.dovecot_conf.join("dovecot.conf");
        let stderr_path = self.paths.log.join("dovecot.stderr");
        let stderr = fs::File::create(&stderr_path)
            .map_err(|e| format!("create {}: {e}", stderr_path.display()))?;
        let stdout = stderr
            .try_clone()
            .map_err(|e| format!("dup {}: {e}", stderr_path.display()))?;
        let mut child = Command::new(&tools.dovecot)
            .process_group(0)
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", tools.dovecot.display()))?;
        let deadline = Instant::now() + START_TIMEOUT;
        let mut pending: Vec<u16> = ports.to_vec();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let msg = format!(
                    "dovecot exited during start-up ({status}):\n{}",
                    self.log_tail(20)
                );
                return Err(msg);
            }
            let listening = i32::try_from(child.id())
                .map(listening_ports)
                .unwrap_or_default();
            pending.retain(|p| !listening.contains(p));
            if pending.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                stop_child("dovecot", &mut child);
                return Err(format!(
                    "dovecot is not listening on port(s) {pending:?} after {START_TIMEOUT:?}:\n{}",
                    self.log_tail(20)
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        *lock(&self.dovecot) = Some(child);
        Ok(())
    }

    fn postfix_start(&self, tools: &Tools, ports: &[u16]) -> Result<(), String> {
        let q = &self.paths.postfix_queue;
        let data = &self.paths.postfix_data;
        mkdir(q)?;
        set_mode(q, 0o755)?;
        mkdir(data)?;
        chown(data, Some(tools.postfix_uid), Some(tools.postfix_gid))
            .map_err(|e| format!("chown {}: {e}", data.display()))?;
        set_mode(data, 0o700)?;
        let out_path = self.paths.log.join("postfix-start.out");
        // A pid file of an earlier run must not be mistaken for the new master.
        let pid_file = q.join("pid/master.pid");
        let _ = fs::remove_file(&pid_file);
        let run = || -> Result<(Output, String), String> {
            let out = Command::new(&tools.postfix)
                .arg("-c")
                .arg(&self.paths.postfix_conf)
                .arg("start")
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run {}: {e}", tools.postfix.display()))?;
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = fs::write(&out_path, &text);
            Ok((out, text))
        };
        let t0 = Instant::now();
        let quick = prepare_quick_start(q, tools);
        trace(
            &format!("postfix queue prepared (quick start: {quick})"),
            t0,
        );
        let (mut out, mut text) = run()?;
        trace("`postfix start` returned", t0);
        if quick && !out.status.success() {
            // Fall back to the full start with postfix's own checks.
            let _ = fs::remove_file(q.join("quick-start"));
            let _ = fs::remove_file(&pid_file);
            (out, text) = run()?;
        }
        // The master writes its pid file before `postfix start` returns.
        let daemon = read_pid_file(&pid_file).filter(|d| {
            fs::read_link(format!("/proc/{}/exe", d.pid))
                .map(|exe| exe.ends_with("master"))
                .unwrap_or(false)
        });
        let Some(daemon) = daemon.filter(|_| out.status.success()) else {
            if let Some(d) = daemon {
                stop_daemon("postfix", d);
            }
            return Err(format!(
                "postfix failed to start ({}): {text}\n{}",
                out.status,
                self.log_tail(20)
            ));
        };
        *lock(&self.postfix) = Some(daemon);
        trace("postfix master found", t0);
        let deadline = Instant::now() + START_TIMEOUT;
        let mut pending = ports.to_vec();
        loop {
            let listening = listening_ports(daemon.pid);
            pending.retain(|p| !listening.contains(p));
            if pending.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline || !daemon.alive() {
                if let Some(d) = lock(&self.postfix).take() {
                    stop_daemon("postfix", d);
                }
                return Err(format!(
                    "postfix is not listening on port(s) {pending:?}:\n{}",
                    self.log_tail(20)
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for MailStack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "mailstack: test failed; logs of the stack in {}:\n{}",
                self.dir.path().display(),
                self.log_tail(30)
            );
        }
        let t0 = Instant::now();
        if let Some(d) = lock(&self.postfix).take() {
            stop_daemon("postfix", d);
        }
        trace("postfix stopped", t0);
        if let Some(mut child) = lock(&self.dovecot).take() {
            stop_child("dovecot", &mut child);
        }
        trace("dovecot stopped", t0);
        if std::env::var_os("DESKMAIL_KEEP_MAILSTACK").is_some() {
            let dir = std::mem::replace(
                &mut self.dir,
                match TempDir::new() {
                    Ok(t) => t,
                    Err(_) => return,
                },
            );
            eprintln!("mailstack: kept {}", dir.keep().display());
        }
    }
}

// ------------------------------------------------------------------ helpers --

/// Start-up phases on stderr when DESKMAIL_MAILSTACK_TRACE is set.
fn trace(what: &str, since: Instant) {
    static ON: OnceLock<bool> = OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("DESKMAIL_MAILSTACK_TRACE").is_some()) {
        eprintln!("mailstack: {what} after {:.1?}", since.elapsed());
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn local_part(user: &str) -> &str {
    user.split('@').next().unwrap_or(user)
}

fn mkdir(p: &Path) -> Result<(), String> {
    fs::create_dir_all(p).map_err(|e| format!("mkdir {}: {e}", p.display()))
}

fn set_mode(p: &Path, mode: u32) -> Result<(), String> {
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", p.display()))
}

fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(MAILDIR_SEQ.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

fn parse_status(out: &str, key: &str) -> Option<usize> {
    out.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// A fresh directory for one instance.  Socket paths under it must stay short
/// (unix socket names are limited to 107 bytes), and the daemons' users must
/// be able to traverse it.
fn make_dir() -> Result<TempDir, String> {
    let tmp = std::env::temp_dir();
    let base = if tmp.as_os_str().len() <= 24 && tmp.is_absolute() {
        tmp
    } else {
        PathBuf::from("/tmp")
    };
    let dir = tempfile::Builder::new()
        .prefix("deskmail-ms-")
        .tempdir_in(&base)
        .map_err(|e| format!("cannot create a directory in {}: {e}", base.display()))?;
    set_mode(dir.path(), 0o755)?;
    Ok(dir)
}

/// Free loopback ports, held open until the daemons are about to bind them.
/// They come from below the kernel's ephemeral range (so outgoing connections
/// never take them) and avoid 21000-21999 (the fixed ports of the shell stack).
fn reserve_ports(n: usize) -> Result<Vec<(u16, TcpListener)>, String> {
    let ephemeral_low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u32>().ok())
        })
        .unwrap_or(32768);
    let (lo, hi) = (10_000u32, ephemeral_low.min(65_000));
    let mut out: Vec<(u16, TcpListener)> = Vec::with_capacity(n);
    let mut tries = 0;
    while out.len() < n {
        tries += 1;
        if tries > 10_000 {
            return Err("no free loopback ports".into());
        }
        let port = if hi > lo + 2000 {
            let p = lo + (random_u64() % u64::from(hi - lo)) as u32;
            if (21_000..22_000).contains(&p) {
                continue;
            }
            p as u16
        } else {
            0
        };
        match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))) {
            Ok(l) => {
                let p = l.local_addr().map_err(|e| e.to_string())?.port();
                if out.iter().all(|(q, _)| *q != p) {
                    out.push((p, l));
                }
            }
            Err(_) => continue,
        }
    }
    Ok(out)
}

/// Loopback TCP ports in LISTEN state on sockets that process `pid` holds
/// (from /proc/net/tcp and /proc/<pid>/fd, so probing opens no connection
/// the daemons would have to serve).  Matching on the owner matters: a port
/// counted as ready while some other process briefly held it (a reservation
/// socket inherited across another test's fork, say) let a test connect to a
/// daemon that had in fact failed to bind.
fn listening_ports(pid: i32) -> std::collections::HashSet<u16> {
    let mut out = std::collections::HashSet::new();
    let mut inodes = std::collections::HashSet::new();
    if let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(target) = fs::read_link(fd.path())
                && let Some(inode) = target
                    .to_str()
                    .and_then(|t| t.strip_prefix("socket:["))
                    .and_then(|t| t.strip_suffix(']'))
            {
                inodes.insert(inode.to_string());
            }
        }
    }
    let Ok(table) = fs::read_to_string("/proc/net/tcp") else {
        return out;
    };
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(state), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else {
            continue;
        };
        if *state != "0A" || !inodes.contains(*inode) {
            continue;
        }
        if let Some((addr, port)) = local.split_once(':')
            && (addr == "0100007F" || addr == "00000000")
            && let Ok(port) = u16::from_str_radix(port, 16)
        {
            out.insert(port);
        }
    }
    out
}

fn run_with_input(cmd: &mut Command, input: &[u8]) -> std::io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        // A writer thread, so a large input cannot dead-lock against full pipes.
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output()?;
        match writer.join() {
            Ok(r) => r?,
            Err(_) => return Err(std::io::Error::other("stdin writer panicked")),
        }
        Ok(out)
    } else {
        child.wait_with_output()
    }
}

fn sibling(exe: &Path, name: &str) -> PathBuf {
    exe.parent()
        .map(|d| d.join(name))
        .unwrap_or_else(|| PathBuf::from(name))
}

// ------------------------------------------------------------ postfix queue --

/// The queue directory layout (name, mode, uid, gid) from postfix's own
/// `postfix-files` (what `postfix start` would create on its first run).
/// With it, instances are started with postfix's `quick-start` marker, which
/// skips the slow installation checks of `postfix start`.
fn queue_layout(postfix: &Path) -> Option<Vec<(String, u32, u32, u32)>> {
    let meta = Command::new(sibling(postfix, "postconf"))
        .args(["-h", "meta_directory"])
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "/etc/postfix".to_string());
    let files = fs::read_to_string(Path::new(&meta).join("postfix-files")).ok()?;
    let (owner_uid, _) = lookup_user("postfix").ok()??;
    let postdrop_gid = lookup_group("postdrop")?;
    let mut dirs = Vec::new();
    for line in files.lines() {
        let Some(rest) = line.strip_prefix("$queue_directory/") else {
            continue;
        };
        let f: Vec<&str> = rest.split(':').collect();
        if f.get(1) != Some(&"d") {
            continue;
        }
        let name = (*f.first()?).to_string();
        let uid = match *f.get(2)? {
            "root" | "-" => 0,
            "$mail_owner" => owner_uid,
            _ => return None,
        };
        let gid = match *f.get(3)? {
            "root" | "-" => 0,
            "$setgid_group" => postdrop_gid,
            _ => return None,
        };
        let mode = u32::from_str_radix(f.get(4)?, 8).ok()?;
        if name.is_empty() || name.contains('/') || name.contains('$') {
            return None;
        }
        dirs.push((name, mode, uid, gid));
    }
    (dirs.iter().any(|d| d.0 == "pid") && dirs.len() >= 10).then_some(dirs)
}

/// Prepares `q` for `postfix start` without the integrity checks; false when
/// no checked layout is known yet (then postfix does the full start).
fn prepare_quick_start(q: &Path, tools: &Tools) -> bool {
    if !q.join("pid").is_dir() {
        let Some(layout) = &tools.queue_layout else {
            return false;
        };
        for (name, mode, uid, gid) in layout {
            let d = q.join(name);
            if mkdir(&d).is_err()
                || chown(&d, Some(*uid), Some(*gid)).is_err()
                || set_mode(&d, *mode).is_err()
            {
                return false;
            }
        }
    }
    fs::write(q.join("quick-start"), b"").is_ok()
}

// --------------------------------------------------------------- processes --

struct ProcStat {
    state: char,
    ppid: i32,
    pgrp: i32,
    start_time: u64,
}

fn proc_stat(pid: i32) -> Option<ProcStat> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses; fields follow the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        start_time: f.get(19)?.parse().ok()?,
    })
}

fn read_pid_file(p: &Path) -> Option<Daemon> {
    let pid: i32 = fs::read_to_string(p).ok()?.trim().parse().ok()?;
    let st = proc_stat(pid)?;
    Some(Daemon {
        pid,
        start_time: st.start_time,
    })
}

fn all_processes() -> Vec<(i32, ProcStat)> {
    let mut all = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok())
                && let Some(st) = proc_stat(p)
            {
                all.push((p, st));
            }
        }
    }
    all
}

/// The live descendants of `pid` plus all members of process group `pid`
/// (both masters lead their own process group; children forked while the
/// master shuts down are found through the group after it has exited).
fn family(pid: i32) -> Vec<Daemon> {
    let all = all_processes();
    let mut out: Vec<Daemon> = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (p, st) in &all {
            if st.ppid == parent && out.iter().all(|d| d.pid != *p) {
                out.push(Daemon {
                    pid: *p,
                    start_time: st.start_time,
                });
                frontier.push(*p);
            }
        }
    }
    for (p, st) in &all {
        if st.pgrp == pid && *p != pid && st.state != 'Z' && out.iter().all(|d| d.pid != *p) {
            out.push(Daemon {
                pid: *p,
                start_time: st.start_time,
            });
        }
    }
    out
}

fn signal(d: &Daemon, sig: i32) {
    if d.alive() {
        // SAFETY: kill(2) on a pid verified (by start time) to be the process we started.
        unsafe {
            libc::kill(d.pid, sig);
        }
    }
}

fn wait_gone(ds: &[Daemon], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ds.iter().all(|d| !d.alive()) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Makes sure the (former) children of a stopped master are gone too.
fn reap_leftovers(name: &str, pid: i32, before: Vec<Daemon>) {
    let t0 = Instant::now();
    let mut kids = before;
    for d in family(pid) {
        if kids.iter().all(|k| k.pid != d.pid) {
            kids.push(d);
        }
    }
    let kids = &kids;
    if wait_gone(kids, Duration::from_secs(5)) {
        trace(&format!("{name}: {} children gone", kids.len()), t0);
        return;
    }
    for sig in [libc::SIGTERM, libc::SIGKILL] {
        let left: Vec<Daemon> = kids.iter().copied().filter(Daemon::alive).collect();
        if left.is_empty() {
            return;
        }
        eprintln!(
            "mailstack: {name}: {} leftover process(es), sending signal {sig}",
            left.len()
        );
        for d in &left {
            signal(d, sig);
        }
        if wait_gone(&left, Duration::from_secs(5)) {
            return;
        }
    }
}

fn stop_daemon(name: &str, d: Daemon) {
    let kids = family(d.pid);
    signal(&d, libc::SIGTERM);
    if !wait_gone(&[d], STOP_TIMEOUT) {
        eprintln!(
            "mailstack: {name} (pid {}) ignored SIGTERM; killing it",
            d.pid
        );
        signal(&d, libc::SIGKILL);
        wait_gone(&[d], Duration::from_secs(5));
    }
    reap_leftovers(name, d.pid, kids);
}

fn stop_child(name: &str, child: &mut Child) {
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let kids = family(pid);
    // The whole process group (the child leads it) at once: the master then
    // does not have to wait for its children to notice.
    // SAFETY: kill(2) on the process group of our own, not yet reaped child.
    unsafe {
        libc::kill(-pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => break,
            Ok(None) if Instant::now() > deadline => {
                eprintln!("mailstack: {name} (pid {pid}) ignored SIGTERM; killing it");
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    reap_leftovers(name, pid, kids);
}

// ------------------------------------------------------------------ set-up --

fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    match TOOLS.get_or_init(find_tools) {
        Ok(t) => t,
        Err(e) => panic!("mailstack: {e}"),
    }
}

fn find_exe(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn find_tools() -> Result<Tools, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "the mail stack must run as root (it starts Dovecot and Postfix); run `bash tests/run.sh` as root"
                .into(),
        );
    }
    let need = |exe: &str, pkg: &str| {
        find_exe(exe).ok_or_else(|| {
            format!(
                "`{exe}` not found: install the Debian package {pkg} \
                 (apt-get install {APT_PACKAGES}; `bash tests/run.sh` does this as root)"
            )
        })
    };
    let dovecot = need("dovecot", "dovecot-core")?;
    let doveadm = need("doveadm", "dovecot-core")?;
    let postfix = need("postfix", "postfix")?;
    let openssl = need("openssl", "openssl")?;
    // Protocol binaries of the split Debian packages.
    let libexec = Path::new("/usr/lib/dovecot");
    if libexec.is_dir() {
        for (bin, pkg) in [
            ("imap", "dovecot-imapd"),
            ("pop3", "dovecot-pop3d"),
            ("lmtp", "dovecot-lmtpd"),
        ] {
            if !libexec.join(bin).exists() {
                return Err(format!(
                    "{} is missing: install the Debian package {pkg} (apt-get install {APT_PACKAGES})",
                    libexec.join(bin).display()
                ));
            }
        }
    }
    let (postfix_uid, postfix_gid) = lookup_user("postfix")?
        .ok_or("user `postfix` is missing (is the postfix package installed correctly?)")?;
    lookup_user("dovecot")?
        .ok_or("user `dovecot` is missing (is the dovecot-core package installed correctly?)")?;
    let (vmail_uid, vmail_gid) = ensure_vmail()?;
    let queue_layout = queue_layout(&postfix);
    Ok(Tools {
        dovecot,
        doveadm,
        postfix,
        openssl,
        vmail_uid,
        vmail_gid,
        postfix_uid,
        postfix_gid,
        queue_layout,
    })
}

fn lookup_user(name: &str) -> Result<Option<(u32, u32)>, String> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("getent: {e}"))?;
    if !out.status.success() {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = line.trim().split(':').collect();
    match (
        f.get(2).and_then(|v| v.parse().ok()),
        f.get(3).and_then(|v| v.parse().ok()),
    ) {
        (Some(u), Some(g)) => Ok(Some((u, g))),
        _ => Err(format!("cannot parse passwd entry {line:?}")),
    }
}

fn lookup_group(name: &str) -> Option<u32> {
    let out = Command::new("getent")
        .args(["group", name])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(':')
        .nth(2)?
        .parse()
        .ok()
}

/// Mail is owned by a system user `vmail` (Dovecot never accesses mail as root).
fn ensure_vmail() -> Result<(u32, u32), String> {
    for _ in 0..50 {
        if let Some(ids) = lookup_user("vmail")? {
            return Ok(ids);
        }
        let useradd =
            find_exe("useradd").ok_or("user `vmail` is missing and useradd is not available")?;
        let _ = Command::new(useradd)
            .args([
                "-r",
                "-U",
                "-M",
                "-d",
                "/nonexistent",
                "-s",
                "/usr/sbin/nologin",
                "vmail",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // Another process may be creating it at the same moment; look again.
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("cannot create the system user `vmail`".into())
}

// -------------------------------------------------------------------- LMTP --

fn lmtp_read_reply(r: &mut impl BufRead) -> Result<(u16, String), String> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        let n = r
            .read_line(&mut line)
            .map_err(|e| format!("LMTP read: {e}"))?;
        if n == 0 {
            return Err(format!("LMTP connection closed (after {text:?})"));
        }
        text.push_str(&line);
        let l = line.trim_end();
        if l.len() == 3 || l.as_bytes().get(3) == Some(&b' ') {
            let code = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| format!("bad LMTP reply {line:?}"))?;
            return Ok((code, text));
        }
    }
}

/// CRLF line endings and dot-stuffing for SMTP/LMTP DATA.
fn dot_stuff(raw: &[u8], out: &mut Vec<u8>) {
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in raw {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

fn lmtp_deliver(
    port: u16,
    rcpt: &str,
    messages: impl IntoIterator<Item = Vec<u8>>,
) -> Result<usize, String> {
    let stream = TcpStream::connect((HOST, port)).map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut w = stream.try_clone().map_err(|e| format!("dup: {e}"))?;
    let mut r = BufReader::new(stream);
    let expect = |r: &mut BufReader<TcpStream>, want: u16, what: &str| -> Result<(), String> {
        let (code, text) = lmtp_read_reply(r)?;
        if code == want {
            Ok(())
        } else {
            Err(format!("{what}: {}", text.trim_end()))
        }
    };
    expect(&mut r, 220, "greeting")?;
    w.write_all(b"LHLO deskmail-test\r\n")
        .map_err(|e| e.to_string())?;
    expect(&mut r, 250, "LHLO")?;
    let mut n = 0;
    let mut buf = Vec::new();
    for raw in messages {
        buf.clear();
        buf.extend_from_slice(b"MAIL FROM:<harness@desk.example>\r\n");
        buf.extend_from_slice(format!("RCPT TO:<{rcpt}>\r\nDATA\r\n").as_bytes());
        w.write_all(&buf).map_err(|e| e.to_string())?;
        expect(&mut r, 250, "MAIL FROM")?;
        expect(&mut r, 250, "RCPT TO")?;
        expect(&mut r, 354, "DATA")?;
        buf.clear();
        dot_stuff(&raw, &mut buf);
        w.write_all(&buf).map_err(|e| e.to_string())?;
        expect(&mut r, 250, "message data")?;
        n += 1;
    }
    let _ = w.write_all(b"QUIT\r\n");
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    Ok(n)
}
