//! IMAP sync against a real Dovecot on loopback: initial sync, IDLE, crash
//! and resume, UIDVALIDITY change, a connection cut mid-FETCH, diagnoses.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use deskmail::config::Config;
use deskmail::store::{Record, RecordKind, Store, flags};
use deskmail::sync::SyncUpdate;
use deskmail::sync::{self, ErrorKind, SyncOptions};
use futures::TryStreamExt;
use support::{MailStack, StackOptions, gen_mailbox, poll_until, recording_proxy};

const USER: &str = "support";
const WAIT: Duration = Duration::from_secs(60);

fn config_text(stack: &MailStack, port: u16, extra: &str) -> String {
    format!(
        r#"
[[accounts]]
name = "support"
kind = "imap"
email = "support@desk.example"
host = "127.0.0.1"
port = {port}
tls = "starttls"
ca_file = "{ca}"
user = "support"
password_command = "printf secret"
folders = ["INBOX"]
{extra}
"#,
        ca = stack.cert_pem.display()
    )
}

fn config(stack: &MailStack, port: u16, extra: &str) -> Arc<Config> {
    let text = config_text(stack, port, extra);
    Arc::new(Config::parse(&text, Path::new("config.toml")).expect("config parses"))
}

/// The account's config on plain IMAP (no TLS, no CA file) at `port`.
fn plain_config_text(stack: &MailStack, port: u16) -> String {
    with_line(
        &with_line(&config_text(stack, port, ""), "tls", "tls = \"none\""),
        "ca_file",
        "",
    )
}

/// Replace one `key = value` line of the account.
fn with_line(text: &str, key: &str, line: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with(&format!("{key} =")) {
                line.to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn once() -> SyncOptions {
    SyncOptions {
        account: None,
        once: true,
        progress: false,
    }
}

async fn server_flags(stack: &MailStack, mailbox: &str) -> BTreeMap<u32, u8> {
    let mut s = stack.imap_session(USER).await;
    s.select(mailbox).await.expect("SELECT");
    let fetches: Vec<_> = s
        .uid_fetch("1:*", "(UID FLAGS)")
        .await
        .expect("UID FETCH")
        .try_collect()
        .await
        .expect("FETCH responses");
    let _ = s.logout().await;
    fetches
        .iter()
        .filter_map(|f| {
            let mut b = 0u8;
            for fl in f.flags() {
                b |= match fl {
                    async_imap::types::Flag::Seen => flags::SEEN,
                    async_imap::types::Flag::Flagged => flags::FLAGGED,
                    async_imap::types::Flag::Answered => flags::ANSWERED,
                    async_imap::types::Flag::Deleted => flags::DELETED,
                    async_imap::types::Flag::Draft => flags::DRAFT,
                    _ => 0,
                };
            }
            f.uid.map(|u| (u, b))
        })
        .collect()
}

fn store_flags(store: &Store, folder: &str) -> BTreeMap<u32, u8> {
    store
        .page(USER, folder, None, usize::MAX)
        .expect("page")
        .iter()
        .map(|r| (r.entry.uid, r.entry.flags))
        .collect()
}

fn folder_stats(store: &Store, folder: &str) -> (u64, u64) {
    let stats = store.stats().expect("stats");
    stats
        .accounts
        .iter()
        .find(|a| a.name == USER)
        .and_then(|a| a.folders.iter().find(|f| f.name == folder))
        .map(|f| (f.total, f.bodies_missing))
        .unwrap_or((0, 0))
}

/// The store mirrors the server: same UIDs and flags, every body, one record
/// per Message-ID.
async fn assert_mirrors(stack: &MailStack, store: &Store, mailbox: &str, folder: &str) {
    let server = server_flags(stack, mailbox).await;
    let local = store_flags(store, folder);
    assert_eq!(server.len(), local.len(), "message count differs");
    assert!(
        server == local,
        "UIDs or flags differ between server and store"
    );
    let (total, missing) = folder_stats(store, folder);
    assert_eq!(total as usize, server.len());
    assert_eq!(missing, 0, "bodies missing");
    let rows = store.page(USER, folder, None, usize::MAX).expect("page");
    let ids: HashSet<u64> = rows.iter().map(|r| r.summary.id).collect();
    let mids: HashSet<&str> = rows.iter().map(|r| r.summary.message_id.as_str()).collect();
    assert_eq!(
        ids.len(),
        rows.len(),
        "a record appears twice in the folder"
    );
    assert_eq!(mids.len(), rows.len(), "duplicate Message-ID records");
}

#[tokio::test]
async fn initial_sync_stores_5000_mails_with_bodies() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    let n = stack.fill_inbox(USER, gen_mailbox(5000, 11));
    assert_eq!(n, 5000);
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let t = Instant::now();
    let summary = sync::run(
        config(&stack, stack.imap_port, ""),
        Arc::clone(&store),
        once(),
        None,
    )
    .await
    .expect("sync");
    eprintln!("synced {n} mails in {:?}", t.elapsed());
    assert_eq!(summary.accounts, 1);
    assert_eq!(folder_stats(&store, "INBOX"), (5000, 0));
    assert_mirrors(&stack, &store, "INBOX", "INBOX").await;

    // A second run finds nothing new.
    let again = sync::run(
        config(&stack, stack.imap_port, ""),
        Arc::clone(&store),
        once(),
        None,
    )
    .await
    .expect("resync");
    assert_eq!(again.new_messages, 0);
    assert_eq!(folder_stats(&store, "INBOX"), (5000, 0));
}

#[tokio::test]
async fn idle_brings_new_mail_and_flag_changes_from_another_client() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(30, 3));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    // A long poll interval: only IDLE can bring the changes in time.
    let cfg = config(&stack, stack.imap_port, "check_interval_secs = 3600");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = sync::spawn_all(cfg, Arc::clone(&store), tx);
    assert_eq!(handle.accounts(), 1);
    let s = Arc::clone(&store);
    poll_until(WAIT, || {
        let s = Arc::clone(&s);
        async move { (folder_stats(&s, "INBOX").0 == 30).then_some(()) }
    })
    .await
    .expect("initial sync in time");
    // Wait until the task is idle.
    let idle = poll_until(WAIT, || {
        let mut seen = false;
        while let Ok(e) = rx.try_recv() {
            if let SyncUpdate::State {
                state: deskmail::desk::SyncState::Idle,
                ..
            } = e
            {
                seen = true;
            }
        }
        async move { seen.then_some(()) }
    })
    .await;
    assert!(idle.is_some(), "the sync task never went idle");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Another client flags mail 5 and reads mail 7.
    let mut other = stack.imap_session(USER).await;
    other.select("INBOX").await.expect("SELECT");
    let _: Vec<_> = other
        .uid_store("5", "+FLAGS (\\Flagged)")
        .await
        .expect("STORE")
        .try_collect()
        .await
        .expect("STORE responses");
    let _: Vec<_> = other
        .uid_store("7", "+FLAGS (\\Seen)")
        .await
        .expect("STORE")
        .try_collect()
        .await
        .expect("STORE responses");
    let _ = other.logout().await;
    let s = Arc::clone(&store);
    poll_until(WAIT, || {
        let f = store_flags(&s, "INBOX");
        let ok = f.get(&5).is_some_and(|x| x & flags::FLAGGED != 0)
            && f.get(&7).is_some_and(|x| x & flags::SEEN != 0);
        async move { ok.then_some(()) }
    })
    .await
    .expect("flag changes arrive through IDLE");

    // New mail delivered by LMTP.
    stack.deliver(USER, &gen_mailbox(31, 3)[30]);
    let s = Arc::clone(&store);
    poll_until(WAIT, || {
        let n = folder_stats(&s, "INBOX").0;
        async move { (n == 31).then_some(()) }
    })
    .await
    .expect("new mail arrives through IDLE");
    let got_notice = poll_until(WAIT, || {
        let mut seen = false;
        while let Ok(e) = rx.try_recv() {
            if let SyncUpdate::NewMail { count, .. } = e {
                seen |= count == 1;
            }
        }
        async move { seen.then_some(()) }
    })
    .await;
    assert!(got_notice.is_some(), "no NewMail event");
    handle.shutdown();
    assert_mirrors(&stack, &store, "INBOX", "INBOX").await;
}

fn cheap_random(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn binary_has_sync() -> bool {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deskmail"))
        .args(["sync", "--help"])
        .output();
    matches!(out, Ok(o) if o.status.success() && String::from_utf8_lossy(&o.stdout).contains("--once"))
}

#[tokio::test]
async fn sigkill_at_random_moments_then_resume_loses_and_duplicates_nothing() {
    if !binary_has_sync() {
        eprintln!("SKIPPED: this deskmail binary has no `sync --once` subcommand yet");
        return;
    }
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(5000, 21));
    // Some flags on the server, so flags are compared too.
    let mut s = stack.imap_session(USER).await;
    s.select("INBOX").await.expect("SELECT");
    let _: Vec<_> = s
        .uid_store("1:300", "+FLAGS (\\Seen)")
        .await
        .expect("STORE")
        .try_collect()
        .await
        .expect("STORE");
    let _: Vec<_> = s
        .uid_store("4000:4100", "+FLAGS (\\Flagged)")
        .await
        .expect("STORE")
        .try_collect()
        .await
        .expect("STORE");
    let _ = s.logout().await;

    let dir = tempfile::tempdir().expect("tmp");
    let cfg_file = dir.path().join("config.toml");
    std::fs::write(&cfg_file, config_text(&stack, stack.imap_port, "")).expect("config");
    let data = dir.path().join("data");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_deskmail"))
            .arg("sync")
            .arg("--once")
            .arg("--config")
            .arg(&cfg_file)
            .arg("--data-dir")
            .arg(&data)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn deskmail")
    };

    // How long a full sync takes here, to spread the kills over it.
    let probe = Instant::now();
    let mut seed = std::process::id() as u64;
    let mut kills = 0;
    let mut span_ms = 3000u64;
    let mut rounds = 0;
    while kills < 10 {
        rounds += 1;
        assert!(
            rounds < 60,
            "the sync finished too fast to be killed 10 times"
        );
        let mut child = run();
        let at = 20 + cheap_random(&mut seed) % span_ms;
        let started = Instant::now();
        tokio::time::sleep(Duration::from_millis(at)).await;
        match child.try_wait().expect("wait") {
            Some(status) => {
                // Finished before the kill: start over from an empty store,
                // killing sooner.
                assert!(status.success(), "deskmail sync failed: {status}");
                span_ms = (started.elapsed().as_millis() as u64).max(100);
                std::fs::remove_dir_all(&data).expect("reset data dir");
            }
            None => {
                child.kill().expect("SIGKILL");
                let _ = child.wait();
                kills += 1;
            }
        }
    }
    eprintln!("{kills} kills in {:?}", probe.elapsed());
    let out = run().wait_with_output().expect("final run");
    assert!(
        out.status.success(),
        "final sync failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::open(&data).expect("store");
    assert_mirrors(&stack, &store, "INBOX", "INBOX").await;
    assert_eq!(store.stats().expect("stats").messages, 5000);
    // The rules ran for every mail: each has links or says why it has none.
    for row in store.page(USER, "INBOX", None, usize::MAX).expect("page") {
        assert!(
            row.summary.not_linked_reason.is_some()
                || !store.links_of(row.summary.id).expect("links").is_empty(),
            "mail {} was never linked",
            row.summary.message_id
        );
    }
}

/// Environment of the child process of the kill-after-bodies test.
const KILL_CHILD_DIR: &str = "DESKMAIL_SYNC_KILL_CHILD_DIR";

/// Not a test of its own: the process the kill-after-bodies test runs. It
/// syncs the config and store in `$DESKMAIL_SYNC_KILL_CHILD_DIR` and dies by
/// SIGKILL right after the first batch's bodies are on disk.
#[tokio::test]
#[ignore = "run by killed_after_the_body_write_before_the_batch_imports_exactly_once_linked_on_restart"]
async fn child_syncs_until_killed_after_the_bodies() {
    let Ok(dir) = std::env::var(KILL_CHILD_DIR) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let text = std::fs::read_to_string(dir.join("config.toml")).expect("child config");
    let config = Arc::new(Config::parse(&text, &dir.join("config.toml")).expect("parses"));
    let store = Arc::new(Store::open(&dir.join("data")).expect("child store"));
    store.inject_fault_for_tests(deskmail::store::FaultPoint::KillAfterBodies);
    let _ = sync::run(config, store, once(), None).await;
}

#[tokio::test]
async fn killed_after_the_body_write_before_the_batch_imports_exactly_once_linked_on_restart() {
    use std::os::unix::process::ExitStatusExt;
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    let mails = gen_mailbox(400, 31);
    // A contact for every sender, so every mail has a record to be linked to.
    let senders: HashSet<String> = mails
        .iter()
        .filter_map(|m| {
            deskmail::mail::parse::parse_headers(m)
                .from
                .first()
                .map(|a| a.email.to_lowercase())
        })
        .collect();
    assert_eq!(stack.fill_inbox(USER, mails), 400);
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("config.toml"),
        config_text(&stack, stack.imap_port, ""),
    )
    .expect("config");
    let data = dir.path().join("data");
    {
        let store = Store::open(&data).expect("store");
        for email in &senders {
            let mut c = Record::new(RecordKind::Contact, email.clone());
            c.emails = vec![email.clone()];
            store.put_record(c).expect("contact");
        }
        store.flush().expect("flush");
        // Closed here, so the child can open it.
    }

    let exe = std::env::current_exe().expect("test binary");
    let status = std::process::Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "child_syncs_until_killed_after_the_bodies",
            "--nocapture",
        ])
        .env(KILL_CHILD_DIR, dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run the child");
    assert_eq!(
        status.signal(),
        Some(9),
        "the child was to die by SIGKILL after the bodies: {status}"
    );

    let segments = || {
        std::fs::read_dir(data.join("bodies"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(segments(), 1, "the first batch's bodies were on disk");

    // Restart: the bodies written without their index are dropped on open
    // and the mails they belonged to are fetched again.
    let store = Arc::new(Store::open(&data).expect("reopen"));
    let before = store.stats().expect("stats");
    assert_eq!(before.messages, 0, "nothing was indexed before the kill");
    assert_eq!(segments(), 0, "the orphaned bodies are gone");
    sync::run(
        config(&stack, stack.imap_port, ""),
        Arc::clone(&store),
        once(),
        None,
    )
    .await
    .expect("sync after the restart");
    assert_mirrors(&stack, &store, "INBOX", "INBOX").await;
    let stats = store.stats().expect("stats");
    assert_eq!(stats.messages, 400, "every mail exactly once");
    assert_eq!(stats.bodies, 400, "one body per mail, none left over");
    for row in store.page(USER, "INBOX", None, usize::MAX).expect("page") {
        let sender = row.summary.from.first().map(|p| p.email.clone());
        let links = store.links_of(row.summary.id).expect("links");
        assert!(
            links
                .iter()
                .any(|r| r.kind == RecordKind::Contact && Some(&r.emails[0]) == sender.as_ref()),
            "mail {} is not linked to its sender's contact",
            row.summary.message_id
        );
        assert_eq!(row.summary.not_linked_reason, None);
    }
}

#[tokio::test]
async fn recreated_folder_gets_new_uidvalidity_and_keeps_record_links() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    let mails = gen_mailbox(40, 5);
    stack.fill_mailbox(USER, "Support", mails.clone(), "");
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let extra = "";
    let text = with_line(
        &config_text(&stack, stack.imap_port, extra),
        "folders",
        "folders = [\"Support\"]",
    );
    let cfg = Arc::new(Config::parse(&text, Path::new("c.toml")).expect("config"));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    let before = store
        .folder_state(USER, "Support")
        .expect("state")
        .expect("state");
    let rows = store.page(USER, "Support", None, usize::MAX).expect("page");
    assert_eq!(rows.len(), 40);
    let picked = rows[3].summary.clone();
    let contact = store
        .put_record(Record::new(RecordKind::Contact, "Linked Customer"))
        .expect("record");
    store.link(picked.id, contact.reference()).expect("link");

    stack.doveadm(&["mailbox", "delete", "-u", USER, "Support"]);
    stack.doveadm(&["mailbox", "create", "-u", USER, "Support"]);
    stack.fill_mailbox(USER, "Support", mails, "S");
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("resync");
    let after = store
        .folder_state(USER, "Support")
        .expect("state")
        .expect("state");
    assert_ne!(
        before.uidvalidity, after.uidvalidity,
        "UIDVALIDITY did not change"
    );
    assert_mirrors(&stack, &store, "Support", "Support").await;
    let id = store
        .id_by_message_id(&picked.message_id)
        .expect("lookup")
        .expect("mail still there");
    assert_eq!(id, picked.id, "the mail got a new record");
    let links = store.links_of(id).expect("links");
    assert!(
        links.iter().any(|r| r.reference() == contact.reference()),
        "record link lost"
    );
    assert_eq!(store.stats().expect("stats").messages, 40);
}

/// A loopback proxy that cuts the first `cuts` connections after
/// `after_bytes` bytes from the server.
async fn cutting_proxy(upstream: u16, after_bytes: usize, cuts: usize) -> (u16, Arc<AtomicUsize>) {
    proxy(upstream, after_bytes, cuts, None).await
}

fn replace_all(buf: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len());
    let mut i = 0;
    while i < buf.len() {
        if buf[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(buf[i]);
            i += 1;
        }
    }
    out
}

/// The proxy: optionally cuts connections, optionally rewrites the server's
/// bytes (same length) so the client sees another server.
async fn proxy(
    upstream: u16,
    after_bytes: usize,
    cuts: usize,
    rewrite: Option<(&'static [u8], &'static [u8])>,
) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let done = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&done);
    tokio::spawn(async move {
        let mut n = 0usize;
        while let Ok((client, _)) = listener.accept().await {
            n += 1;
            let cut = n <= cuts;
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                });
                let mut sent = 0usize;
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(k) = sr.read(&mut buf).await {
                    if k == 0 {
                        break;
                    }
                    if cut && sent + k > after_bytes {
                        let _ = cw.write_all(&buf[..after_bytes - sent]).await;
                        counter.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    let chunk = match rewrite {
                        Some((from, to)) => replace_all(&buf[..k], from, to),
                        None => buf[..k].to_vec(),
                    };
                    if cw.write_all(&chunk).await.is_err() {
                        break;
                    }
                    sent += k;
                }
                up.abort();
            });
        }
    });
    (port, done)
}

#[tokio::test]
async fn connection_cut_in_the_middle_of_a_fetch_resumes_without_gap() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(2000, 8));
    // Two cuts, each a few MB into the session: in the middle of a FETCH.
    let (port, cut) = cutting_proxy(stack.imap_port, 3_000_000, 2).await;
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    sync::run(config(&stack, port, ""), Arc::clone(&store), once(), None)
        .await
        .expect("sync completes after the cuts");
    assert_eq!(cut.load(Ordering::SeqCst), 2, "the proxy did not cut");
    assert_mirrors(&stack, &store, "INBOX", "INBOX").await;
}

#[tokio::test]
async fn wrong_password_port_certificate_and_missing_sent_are_diagnosed() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let base = config_text(&stack, stack.imap_port, "");
    let parse = |t: &str| Arc::new(Config::parse(t, Path::new("c.toml")).expect("config"));

    let bad_pw = with_line(
        &base,
        "password_command",
        "password_command = \"printf wrong\"",
    );
    let e = sync::run(parse(&bad_pw), Arc::clone(&store), once(), None)
        .await
        .expect_err("login must fail");
    assert_eq!(e.kind(), ErrorKind::AuthFailed, "{e}");
    assert!(
        e.to_string().contains("Authentication failed"),
        "server text not quoted: {e}"
    );

    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let bad_port = with_line(&base, "port", &format!("port = {port}"));
    let e = sync::run(parse(&bad_port), Arc::clone(&store), once(), None)
        .await
        .expect_err("connect must fail");
    assert_eq!(e.kind(), ErrorKind::Refused, "{e}");

    // The stack's certificate is self-signed: without ca_file it is refused.
    let no_ca = with_line(&base, "ca_file", "");
    let e = sync::run(parse(&no_ca), Arc::clone(&store), once(), None)
        .await
        .expect_err("TLS must fail");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    // … and accepted when the agent says so.
    let insecure = with_line(&base, "ca_file", "accept_invalid_certs = true");
    sync::run(parse(&insecure), Arc::clone(&store), once(), None)
        .await
        .expect("accept_invalid_certs connects");

    // A server whose STARTTLS fails: no fallback to plain text.
    let (port, _) = proxy(
        stack.imap_port,
        0,
        0,
        Some((b"OK Begin TLS", b"NO Begin TLS")),
    )
    .await;
    let no_starttls = with_line(&base, "port", &format!("port = {port}"));
    let e = sync::run(parse(&no_starttls), Arc::clone(&store), once(), None)
        .await
        .expect_err("STARTTLS must fail");
    assert_eq!(e.kind(), ErrorKind::StarttlsFailed, "{e}");

    // Default folders with no Sent folder on the server: this Dovecot always
    // has one, so a plain-text proxy hides it.
    let (port, _) = proxy(stack.imap_port, 0, 0, Some((b"Sent", b"Sant"))).await;
    let hidden = with_line(&base, "folders", "");
    let hidden = with_line(&hidden, "port", &format!("port = {port}"));
    let hidden = with_line(&hidden, "tls", "tls = \"none\"");
    let cfg = parse(&hidden);
    let e = sync::check_account(&cfg.accounts[0])
        .await
        .expect_err("no Sent folder");
    assert_eq!(e.kind(), ErrorKind::NoSentFolder, "{e}");
}

/// Parse "68.0 MB in 0.45s" from the raw fetch script.
fn raw_seconds(out: &str) -> Option<f64> {
    out.split(" in ")
        .nth(1)?
        .trim()
        .trim_end_matches('s')
        .parse()
        .ok()
}

fn raw_fetch(stack: &MailStack) -> (f64, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/imap_raw_fetch.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg("127.0.0.1")
        .arg(stack.imap_port.to_string())
        .arg(USER)
        .arg(stack.password())
        .arg("BODY.PEEK[]")
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (raw_seconds(&text).unwrap_or(f64::NAN), text)
}

/// Run deskmail with `args`, stdout to `out`: (success, stderr, its own peak
/// RSS in kB). It runs under /usr/bin/time: a child forked straight from this
/// test process would report this process's RSS (Linux keeps the larger
/// high-water mark across fork and exec), and RUSAGE_CHILDREN mixes in the
/// raw fetch and doveadm.
fn run_with_rss(args: &[&std::ffi::OsStr], out: &Path) -> (bool, String, i64) {
    let err_path = out.with_extension("err");
    let rss_path = out.with_extension("rss");
    let status = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_path)
        .arg(env!("CARGO_BIN_EXE_deskmail"))
        .args(args)
        .stdout(std::fs::File::create(out).expect("out file"))
        .stderr(std::fs::File::create(&err_path).expect("err file"))
        .status()
        .expect("/usr/bin/time is needed: apt-get install time");
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    let rss = std::fs::read_to_string(&rss_path)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(-1);
    (status.success(), err, rss)
}

/// Figures for benches/sync_bench.sh: raw FETCH vs deskmail on one server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run benches/sync_bench.sh"]
async fn bench_sync_vs_raw_fetch() {
    let n: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    if std::env::var_os("BENCH_TRACE").is_some() {
        // The sync's steps with their times (DESKMAIL_LOG picks the level).
        let filter = tracing_subscriber::EnvFilter::try_from_env("DESKMAIL_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("deskmail::sync=debug"));
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(filter)
            .try_init();
    }
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    let t = Instant::now();
    let filled = stack.fill_inbox(USER, support::gen_mailbox_iter(n, 42));
    eprintln!("filled {filled} mails in {:?}", t.elapsed());

    // Warm the server's caches, then measure the raw fetch.
    let _ = raw_fetch(&stack);
    let (raw, raw_text) = raw_fetch(&stack);
    eprintln!("raw UID FETCH 1:* BODY.PEEK[]: {raw_text}");

    // deskmail in process, plain IMAP like the raw fetch.
    let plain = plain_config_text(&stack, stack.imap_port);
    if let Some(hold) = std::env::var_os("BENCH_HOLD") {
        // The filled server stays up for profiling by hand until the config
        // written here is removed.
        let hold = Path::new(&hold);
        std::fs::write(hold, &plain).expect("hold config");
        eprintln!(
            "BENCH hold: the server runs with {filled} mails; sync with --config {}, remove it to stop",
            hold.display()
        );
        while hold.exists() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        return;
    }
    let cfg = Arc::new(Config::parse(&plain, Path::new("c.toml")).expect("config"));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    deskmail::store::timing::reset();
    let start = Instant::now();
    let first = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if matches!(e, SyncUpdate::FolderChanged { .. }) {
                return Some(start.elapsed());
            }
        }
        None
    });
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), Some(tx))
        .await
        .expect("sync");
    let total = start.elapsed().as_secs_f64();
    let breakdown = deskmail::store::timing::summary();
    let first_screen = first.await.ok().flatten();
    assert_eq!(folder_stats(&store, "INBOX"), (filled as u64, 0));
    drop(store);

    // The real binary, best of 3 runs (each from an empty store), with its peak memory.
    let mut binary = None;
    if binary_has_sync() {
        let cfg_file = dir.path().join("config.toml");
        std::fs::write(&cfg_file, &plain).expect("config");
        let mut best = f64::INFINITY;
        let (mut sync_rss, mut stats_rss) = (0i64, 0i64);
        for run in 0..3 {
            let data = dir.path().join(format!("bin-data-{run}"));
            let t = Instant::now();
            let (ok, err, rss) = run_with_rss(
                &[
                    "sync".as_ref(),
                    "--once".as_ref(),
                    "--config".as_ref(),
                    cfg_file.as_os_str(),
                    "--data-dir".as_ref(),
                    data.as_os_str(),
                ],
                &dir.path().join("sync.out"),
            );
            assert!(ok, "{err}");
            best = best.min(t.elapsed().as_secs_f64());
            sync_rss = sync_rss.max(rss);
            // What `deskmail stats --json` says about the binary's store.
            let out = dir.path().join("stats.out");
            let (ok, err, rss) = run_with_rss(
                &[
                    "stats".as_ref(),
                    "--json".as_ref(),
                    "--config".as_ref(),
                    cfg_file.as_os_str(),
                    "--data-dir".as_ref(),
                    data.as_os_str(),
                ],
                &out,
            );
            assert!(ok, "{err}");
            stats_rss = stats_rss.max(rss);
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&out).expect("stats out"))
                    .expect("stats json");
            let inbox = json["accounts"][0]["folders"]
                .as_array()
                .and_then(|f| f.iter().find(|f| f["name"] == "INBOX"))
                .cloned()
                .unwrap_or_default();
            assert_eq!(inbox["total"].as_u64(), Some(filled as u64));
            assert_eq!(inbox["bodies_missing"].as_u64(), Some(0));
            let _ = std::fs::remove_dir_all(&data);
        }
        binary = Some((best, sync_rss, stats_rss));
    }

    let first = first_screen.map_or("n/a".to_string(), |f| format!("{:.3}", f.as_secs_f64()));
    let (bin, rss) = match binary {
        Some((secs, rss, stats_rss)) => (
            format!(
                "binary_best_of_3_s={secs:.3} ratio={:.2} (goal <= 1.50)",
                secs / raw
            ),
            format!(
                "peak_rss_mb={:.1} (goal <= 128) stats_rss_mb={:.1}",
                rss as f64 / 1024.0,
                stats_rss as f64 / 1024.0
            ),
        ),
        None => ("binary: no `sync` subcommand".to_string(), String::new()),
    };
    eprintln!(
        "BENCH sync messages={filled} raw_fetch_s={raw:.3} {bin} {rss} first_rows_s={first} \
         (goal <= 0.30) inprocess_s={total:.3} inprocess_ratio={:.2}",
        total / raw
    );
    eprintln!("BENCH breakdown messages={filled} (in process) {breakdown}");
}

#[tokio::test]
async fn desk_changes_reach_the_server_and_a_refusal_is_rolled_back() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(10, 9));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let cfg = config(&stack, stack.imap_port, "");
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    let st = store
        .folder_state(USER, "INBOX")
        .expect("state")
        .expect("state");
    let id_of = |uid: u32| {
        store
            .id_by_uid(USER, "INBOX", st.uidvalidity, uid)
            .expect("lookup")
            .expect("known uid")
    };
    // Read + flagged on 1, delete 2 (to Trash), move 3 to a folder that does not exist.
    store
        .change_flags(USER, "INBOX", id_of(1), flags::SEEN | flags::FLAGGED, 0)
        .expect("flags")
        .expect("in folder");
    assert_eq!(
        store_flags(&store, "INBOX").get(&1).copied(),
        Some(flags::SEEN | flags::FLAGGED),
        "applied to the store at once"
    );
    store
        .queue_move(USER, "INBOX", id_of(2), None)
        .expect("trash")
        .expect("in folder");
    store
        .queue_move(USER, "INBOX", id_of(3), Some("No Such Folder"))
        .expect("move")
        .expect("in folder");
    assert_eq!(store.pending_changes(USER).expect("queue").len(), 3);

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), Some(tx))
        .await
        .expect("push");
    assert!(store.pending_changes(USER).expect("queue").is_empty());
    let server = server_flags(&stack, "INBOX").await;
    assert_eq!(server.get(&1).copied(), Some(flags::SEEN | flags::FLAGGED));
    assert!(!server.contains_key(&2), "deleted mail still in INBOX");
    assert!(server.contains_key(&3), "refused move removed the mail");
    assert_eq!(
        stack.message_count(USER, "Trash"),
        1,
        "deleted mail is not in Trash"
    );
    assert_mirrors(&stack, &store, "INBOX", "INBOX").await;
    let mut refused = false;
    while let Ok(e) = rx.try_recv() {
        if let SyncUpdate::Error(text) | SyncUpdate::AccountError { message: text, .. } = e {
            refused |= text.contains("refused") && text.contains("No Such Folder");
        }
    }
    assert!(refused, "the refusal was not shown");
}

#[tokio::test]
async fn sync_without_once_follows_the_server_until_sigterm() {
    if !binary_has_sync() {
        eprintln!("SKIPPED: this deskmail binary has no `sync` subcommand yet");
        return;
    }
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(10, 4));
    let dir = tempfile::tempdir().expect("tmp");
    let cfg_file = dir.path().join("config.toml");
    std::fs::write(&cfg_file, config_text(&stack, stack.imap_port, "")).expect("config");
    let data = dir.path().join("data");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_deskmail"))
        .arg("sync")
        .arg("--config")
        .arg(&cfg_file)
        .arg("--data-dir")
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn deskmail");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let synced = tokio::time::timeout(WAIT, async {
        while let Ok(Some(l)) = lines.next_line().await {
            if l.contains("10 of 10") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(synced.ok(), Some(true), "no progress line for the 10 mails");
    // Mail delivered while it runs is picked up through IDLE.
    stack.deliver(USER, &gen_mailbox(11, 4)[10]);
    let followed = tokio::time::timeout(WAIT, async {
        while let Ok(Some(l)) = lines.next_line().await {
            if l.contains("1 of 1") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(followed.ok(), Some(true), "new mail not followed");
    let pid = child.id().expect("pid") as i32;
    // SAFETY: signalling our own child process by its pid.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("exits after SIGTERM")
        .expect("wait");
    assert!(status.success(), "exit status {status}");
    let store = Store::open(&data).expect("store");
    assert_mirrors(&stack, &store, "INBOX", "INBOX").await;
}

#[tokio::test]
async fn fetch_since_leaves_older_mail_on_the_server_and_target_folder_renames_it() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    let mut session = stack.imap_session("support").await;
    // INTERNALDATE decides what SEARCH SINCE finds; APPEND sets it (the
    // date-time goes on the wire quoted).
    let mails = gen_mailbox(6, 41);
    let dates = [
        "01-Mar-2025 10:00:00 +0000",
        "15-Dec-2025 10:00:00 +0000",
        "31-Dec-2025 23:00:00 +0000",
        "02-Jan-2026 09:00:00 +0000",
        "20-Feb-2026 09:00:00 +0000",
        "05-Nov-2026 09:00:00 +0000",
    ];
    for (raw, date) in mails.iter().zip(dates) {
        session
            .append("INBOX", None, Some(&format!("\"{date}\"")), raw)
            .await
            .expect("APPEND with a date");
    }
    let _ = session.logout().await;
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let cfg = config(
        &stack,
        stack.imap_port,
        "fetch_since = \"2026-01-01\"\ntarget_folder = \"Support inbox\"",
    );
    sync::run(cfg, Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    let stats = store.stats().expect("stats");
    let folders: Vec<(String, u64)> = stats
        .accounts
        .iter()
        .flat_map(|a| a.folders.iter().map(|f| (f.name.clone(), f.total)))
        .collect();
    assert!(
        folders.iter().any(|(n, t)| n == "Support inbox" && *t == 3),
        "expected the 3 mails since 2026-01-01 in the target folder: {folders:?}"
    );
    assert!(
        !folders.iter().any(|(n, t)| n == "INBOX" && *t > 0),
        "{folders:?}"
    );
    assert_eq!(stats.messages, 3);
}

#[tokio::test]
async fn two_different_mails_sharing_a_message_id_are_both_shown_and_the_clash_is_marked() {
    use deskmail::desk::{Backend, Command, Desk, Event};
    use deskmail::mail::render::{LineKind, RenderOptions};
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    // A ticket system that numbers its Message-IDs per queue, not per mail.
    for (subject, date) in [
        ("Ticket 1 opened", "Mon, 2 Nov 2026 09:00:00 +0000"),
        ("Ticket 2 opened", "Tue, 3 Nov 2026 09:00:00 +0000"),
    ] {
        let raw = format!(
            "From: tickets@vendor.example\r\nTo: support@desk.example\r\nSubject: {subject}\r\n\
             Date: {date}\r\nMessage-ID: <queue-7@vendor.example>\r\n\r\n{subject}\r\n"
        );
        stack.deliver(USER, raw.as_bytes());
    }
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let cfg = config(&stack, stack.imap_port, "");
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    assert_eq!(store.stats().expect("stats").messages, 2);
    let rows = store.page("support", "INBOX", None, 10).expect("page");
    let (desk, mut events) = Desk::new(Arc::clone(&store), (*cfg).clone(), Backend::Servers);
    let mut notes = Vec::new();
    for row in &rows {
        desk.send(Command::Render {
            id: row.summary.id,
            options: RenderOptions::default(),
        });
        let mail = loop {
            match tokio::time::timeout(WAIT, events.recv()).await {
                Ok(Some(Event::Rendered { mail, .. })) => break mail,
                Ok(Some(_)) => continue,
                other => panic!("no rendered mail: {other:?}"),
            }
        };
        let body: Vec<&str> = mail.lines.iter().map(|l| l.text.as_str()).collect();
        assert!(body.contains(&row.summary.subject.as_str()), "{body:?}");
        notes.push(
            mail.lines
                .iter()
                .filter(|l| l.kind == LineKind::Notice)
                .map(|l| l.text.clone())
                .collect::<Vec<_>>(),
        );
    }
    // Newest first: the second ticket is the one kept apart and marked.
    assert_eq!(
        notes,
        vec![
            vec![
                "[Another, different mail has the same Message-ID <queue-7@vendor.example>; both are kept.]"
                    .to_string()
            ],
            vec![],
        ]
    );
}

#[tokio::test]
async fn a_mail_over_max_message_mb_is_imported_as_headers_and_a_note() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    let mut big = b"From: Logs <logs@example.com>\r\nTo: support@desk.example\r\n\
Subject: Full server log\r\nMessage-ID: <big-imap@example.com>\r\n\
Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\n"
        .to_vec();
    while big.len() < 3 << 20 {
        big.extend_from_slice(b"2026-11-25 10:00:00 worker: a line of the log\r\n");
    }
    stack.deliver(USER, &big);
    stack.deliver_many(USER, gen_mailbox(20, 77));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let cfg = config(&stack, stack.imap_port, "max_message_mb = 1");
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    assert_eq!(folder_stats(&store, "INBOX"), (21, 0));
    let id = store
        .id_by_message_id("big-imap@example.com")
        .expect("read")
        .expect("the big mail is listed");
    let summary = store.summary(id).expect("read").expect("summary");
    assert_eq!(summary.subject, "Full server log");
    assert!(summary.size >= 3 << 20, "{}", summary.size);
    let body = store.body(id).expect("read").expect("a body");
    assert!(body.len() < 4096, "{}", body.len());
    let text = deskmail::mail::render::render_to_text(&body);
    assert!(
        text.contains("more than max_message_mb = 1 for this account"),
        "{text}"
    );
    assert!(summary.body_cut);

    // Opening it shows the note at once, then fetches the whole mail.
    use deskmail::desk::{Backend, Command, Desk, Event};
    let (desk, mut events) = Desk::new(Arc::clone(&store), (*cfg).clone(), Backend::Servers);
    desk.send(Command::Render {
        id,
        options: deskmail::mail::render::RenderOptions::default(),
    });
    let mut shown = Vec::new();
    while shown.len() < 2 {
        match tokio::time::timeout(WAIT, events.recv()).await {
            Ok(Some(Event::Rendered { mail, .. })) => shown.push(
                mail.lines
                    .iter()
                    .map(|l| l.text.clone())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            Ok(Some(Event::Error(e) | Event::AccountError { message: e, .. })) => panic!("{e}"),
            Ok(Some(_)) => {}
            other => panic!("no second rendering: {other:?} after {shown:?}"),
        }
    }
    assert!(shown[0].contains("headers were imported"), "{}", shown[0]);
    assert!(shown[1].contains("worker: a line of the log"));
    // Delivery added its trace headers in front.
    let whole = store.body(id).expect("read").expect("body");
    assert!(whole.ends_with(&big[big.len() - 1000..]) && whole.len() > big.len());
    assert!(!store.summary(id).expect("read").expect("summary").body_cut);
}

#[tokio::test]
async fn resync_with_qresync_learns_expunges_from_vanished_without_listing_every_uid() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    assert_eq!(stack.fill_inbox(USER, gen_mailbox(30, 51)), 30);
    let (port, log) = recording_proxy(stack.imap_port).await;
    let plain = plain_config_text(&stack, port);
    let cfg = Arc::new(Config::parse(&plain, Path::new("c.toml")).expect("config"));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("first sync");

    // Another client expunges two mails and flags one; one more arrives.
    let mut s = stack.imap_session(USER).await;
    s.select("INBOX").await.expect("SELECT");
    let _: Vec<_> = s
        .uid_store("3:4", "+FLAGS (\\Deleted)")
        .await
        .expect("STORE")
        .try_collect()
        .await
        .expect("STORE");
    let _: Vec<_> = s
        .uid_expunge("3:4")
        .await
        .expect("EXPUNGE")
        .try_collect()
        .await
        .expect("EXPUNGE");
    let _: Vec<_> = s
        .uid_store("7", "+FLAGS (\\Flagged)")
        .await
        .expect("STORE")
        .try_collect()
        .await
        .expect("STORE");
    let _ = s.logout().await;
    stack.deliver(USER, &gen_mailbox(31, 51)[30]);

    if let Ok(mut l) = log.lock() {
        l.clear();
    }
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("resync");
    assert_mirrors(&stack, &store, "INBOX", "INBOX").await;
    assert_eq!(folder_stats(&store, "INBOX").0, 29);
    let sent = String::from_utf8_lossy(&log.lock().map(|l| l.clone()).unwrap_or_default())
        .to_ascii_uppercase();
    assert!(sent.contains("ENABLE QRESYNC"), "{sent}");
    assert!(sent.contains("VANISHED"), "{sent}");
    assert!(
        !sent.contains("SEARCH ALL"),
        "no list of every UID was asked for: {sent}"
    );
}

#[tokio::test]
async fn subscribed_folders_are_synced_and_an_unsubscribed_one_is_left_alone() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(2, 51));
    stack.fill_mailbox(USER, "Billing", gen_mailbox(3, 52), "");
    stack.fill_mailbox(USER, "Escalations", gen_mailbox(4, 53), "");
    // The user subscribes to Billing in another client; Escalations stays
    // unsubscribed.
    let mut session = stack.imap_session(USER).await;
    session.subscribe("Billing").await.expect("SUBSCRIBE");
    let _ = session.unsubscribe("Escalations").await;
    let _ = session.logout().await;

    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let text = with_line(
        &config_text(&stack, stack.imap_port, ""),
        "folders",
        "folders = \"subscribed\"",
    );
    let cfg = Arc::new(Config::parse(&text, Path::new("c.toml")).expect("config"));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    assert_eq!(folder_stats(&store, "INBOX"), (2, 0));
    assert_eq!(folder_stats(&store, "Billing"), (3, 0));
    assert_eq!(folder_stats(&store, "Escalations"), (0, 0));
    assert!(
        store
            .folder_state(USER, "Escalations")
            .expect("state")
            .is_none(),
        "an unsubscribed folder was synced"
    );
    assert_mirrors(&stack, &store, "Billing", "Billing").await;

    // Subscribing later brings the folder in on the next sync.
    let mut session = stack.imap_session(USER).await;
    session.subscribe("Escalations").await.expect("SUBSCRIBE");
    let _ = session.logout().await;
    sync::run(cfg, Arc::clone(&store), once(), None)
        .await
        .expect("sync again");
    assert_eq!(folder_stats(&store, "Escalations"), (4, 0));
}

#[tokio::test]
async fn a_first_sync_fetches_the_newest_mails_before_it_lists_every_uid() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    assert_eq!(stack.fill_inbox(USER, gen_mailbox(250, 61)), 250);
    let (port, log) = recording_proxy(stack.imap_port).await;
    let plain = plain_config_text(&stack, port);
    let cfg = Arc::new(Config::parse(&plain, Path::new("c.toml")).expect("config"));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("first sync");
    assert_mirrors(&stack, &store, "INBOX", "INBOX").await;
    assert_eq!(folder_stats(&store, "INBOX"), (250, 0));

    let sent = String::from_utf8_lossy(&log.lock().map(|l| l.clone()).unwrap_or_default())
        .to_ascii_uppercase();
    let at = |what: &str| {
        sent.find(what)
            .unwrap_or_else(|| panic!("{what:?} was not sent: {sent}"))
    };
    // The newest 100 by sequence number, their bodies, and only then the list.
    let newest = at("FETCH 151:250 (UID RFC822.SIZE)");
    let bodies = at("UID FETCH 151:250 (UID FLAGS BODY.PEEK[]");
    let search = at("UID SEARCH ALL");
    assert!(newest < bodies && bodies < search, "{sent}");

    // A second sync of the same folder lists and diffs as before: nothing new.
    if let Ok(mut l) = log.lock() {
        l.clear();
    }
    let again = sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("second sync");
    assert_eq!(again.new_messages, 0);
    assert_eq!(folder_stats(&store, "INBOX"), (250, 0));
}
