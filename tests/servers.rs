//! Real servers as admins run them, through the real binary: a self-signed
//! `CA:TRUE` certificate pinned with `ca_file` or `tls_fingerprint` for IMAP,
//! POP3 and SMTP, and what the agent is told when it is not trusted.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{MailStack, StackOptions};

/// Guard against a hang; the tests assert on results, not on time.
const CHILD_LIMIT: Duration = Duration::from_secs(90);

struct Desk {
    dir: tempfile::TempDir,
}

impl Desk {
    fn new() -> Desk {
        Desk {
            dir: tempfile::tempdir().expect("tmp"),
        }
    }

    fn config(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let file = self.dir.path().join(name);
        std::fs::write(&file, text).expect("write config");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        file
    }

    /// Run `deskmail --config <config> --data-dir <data> args…`, killed after [`CHILD_LIMIT`].
    fn run(&self, config: &Path, data: &str, args: &[&str]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_deskmail"))
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(self.dir.path().join(data))
            .args(args)
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn deskmail");
        let start = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if start.elapsed() > CHILD_LIMIT {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("output")
    }

    fn send(&self, config: &Path, data: &str, subject: &str) -> Output {
        let body = self.dir.path().join("body.txt");
        std::fs::write(&body, "Your refund is on its way.\n").expect("body");
        let body = body.display().to_string();
        self.run(
            config,
            data,
            &[
                "send",
                "--account",
                "support",
                "--to",
                "customer@desk.example",
                "--subject",
                subject,
                "--body-file",
                &body,
                "--wait",
            ],
        )
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An IMAP (STARTTLS) account with SMTP submission; `trust` is the lines
/// that say which certificate to trust (may be empty).
fn config_text(stack: &MailStack, trust: &str, smtp_trust: &str) -> String {
    format!(
        r#"
[agent]
name = "Sam Agent"
email = "agent@desk.example"

[[accounts]]
name = "support"
email = "support@desk.example"
host = "{host}"
port = {imap}
tls = "starttls"
{trust}
user = "support"
password_command = "printf secret"

[accounts.smtp]
host = "{host}"
port = {submission}
tls = "starttls"
user = "support"
{smtp_trust}
"#,
        host = stack.host,
        imap = stack.imap_port,
        submission = stack.submission_port,
    )
}

fn self_signed_stack() -> MailStack {
    MailStack::start_with(StackOptions {
        self_signed_ca_cert: true,
        ..StackOptions::default()
    })
}

#[test]
fn self_signed_ca_certificate_in_ca_file_is_trusted_by_doctor_sync_and_send() {
    let stack = self_signed_stack();
    let desk = Desk::new();
    let ca = format!("ca_file = \"{}\"", stack.cert_pem.display());
    let config = desk.config("pinned.toml", &config_text(&stack, &ca, ""));

    let doctor = desk.run(&config, "data", &["doctor"]);
    let out = text(&doctor);
    assert!(doctor.status.success(), "{out}");
    assert!(
        out.contains("ok: logged in") && out.contains("SMTP connected and logged in"),
        "{out}"
    );

    let sync = desk.run(&config, "data", &["sync", "--once"]);
    assert!(sync.status.success(), "{}", text(&sync));

    let send = desk.send(&config, "data", "pinned certificate");
    assert!(send.status.success(), "{}", text(&send));
    assert!(text(&send).contains("sent <"), "{}", text(&send));
    assert_eq!(stack.message_count("support", "Sent"), 1);
}

#[test]
fn untrusted_certificate_fails_send_at_once_and_doctor_prints_the_line_that_trusts_it() {
    let stack = self_signed_stack();
    let desk = Desk::new();
    let config = desk.config("untrusted.toml", &config_text(&stack, "", ""));

    let send = desk.send(&config, "data", "untrusted certificate");
    let out = text(&send);
    assert!(!send.status.success(), "{out}");
    assert_ne!(send.status.code(), None, "killed after a hang: {out}");
    assert!(out.contains("certificate"), "{out}");
    assert!(out.contains("tls_fingerprint = \"sha256:"), "{out}");
    assert!(!out.contains("could not reach"), "{out}");
    assert_eq!(stack.message_count("support", "Sent"), 0);

    let doctor = desk.run(&config, "data", &["doctor"]);
    let out = text(&doctor);
    assert_eq!(doctor.status.code(), Some(1), "{out}");
    for needle in [
        "subject \"CN=mail.desk.example\"",
        "issuer \"CN=mail.desk.example\"",
        "valid from",
        "until",
        "SHA-256 fingerprint",
        "SMTP FAILED",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from: {out}");
    }
    // The line doctor prints is the fix: pasted into the config, all works.
    let line = out
        .lines()
        .find_map(|l| {
            let key = "tls_fingerprint = \"";
            let rest = &l[l.find(key)?..];
            let end = rest[key.len()..].find('"')? + key.len() + 1;
            Some(rest[..end].to_string())
        })
        .expect("a tls_fingerprint line");
    let fixed = desk.config("fixed.toml", &config_text(&stack, &line, ""));
    let doctor = desk.run(&fixed, "data", &["doctor"]);
    assert!(doctor.status.success(), "{line}\n{}", text(&doctor));
    let send = desk.send(&fixed, "data2", "fingerprint pinned");
    assert!(send.status.success(), "{}", text(&send));
}

#[test]
fn pop3_trusts_a_pinned_self_signed_certificate_and_refuses_another() {
    let stack = MailStack::start_with(StackOptions {
        self_signed_ca_cert: true,
        ..StackOptions::dovecot_only()
    });
    stack.save_to(
        "support",
        "INBOX",
        b"From: a@example.com\r\nSubject: pop\r\n\r\nhi\r\n",
    );
    let desk = Desk::new();
    let account = |trust: &str| {
        format!(
            "[[accounts]]\nname = \"pop\"\nkind = \"pop3\"\nemail = \"support@desk.example\"\n\
             host = \"127.0.0.1\"\nport = {}\ntls = \"tls\"\n{trust}\nuser = \"support\"\n\
             password_command = \"printf secret\"\n",
            stack.pop3s_port
        )
    };
    let pinned = desk.config(
        "pop.toml",
        &account(&format!("ca_file = \"{}\"", stack.cert_pem.display())),
    );
    let sync = desk.run(&pinned, "data", &["sync", "--once"]);
    assert!(sync.status.success(), "{}", text(&sync));

    let wrong = desk.config(
        "pop-wrong.toml",
        &account(&format!("tls_fingerprint = \"sha256:{}\"", "AB".repeat(32))),
    );
    let doctor = desk.run(&wrong, "data", &["doctor"]);
    let out = text(&doctor);
    assert_eq!(doctor.status.code(), Some(1), "{out}");
    assert!(out.contains("CA:TRUE"), "{out}");
    assert!(out.contains("tls_fingerprint = \"sha256:"), "{out}");
}

#[test]
fn cyrillic_folders_display_in_cyrillic_and_an_unmarked_sent_folder_gets_the_copy() {
    let stack = MailStack::start_with(StackOptions {
        no_special_folders: true,
        ..StackOptions::default()
    });
    for folder in ["Отправленные", "Черновики", "Корзина", "Архив"]
    {
        stack.doveadm(&["mailbox", "create", "-u", "support", folder]);
    }
    stack.save_to(
        "support",
        "Отправленные",
        b"From: support@desk.example\r\nTo: a@example.com\r\nSubject: old reply\r\n\
          Message-ID: <old-reply@desk.example>\r\n\r\nDone.\r\n",
    );
    let desk = Desk::new();
    let ca = format!("ca_file = \"{}\"", stack.cert_pem.display());
    let config = desk.config("ru.toml", &config_text(&stack, &ca, ""));

    let doctor = desk.run(&config, "data", &["doctor"]);
    let out = text(&doctor);
    assert!(doctor.status.success(), "{out}");
    assert!(out.contains("monitors \"Отправленные\""), "{out}");
    assert!(
        !out.contains("&BB4"),
        "an encoded name reached the agent: {out}"
    );

    let sync = desk.run(&config, "data", &["sync", "--once"]);
    assert!(sync.status.success(), "{}", text(&sync));
    let stats = desk.run(&config, "data", &["stats", "--json"]);
    let out = text(&stats);
    assert!(out.contains("\"Отправленные\""), "{out}");
    assert!(!out.contains("&BB4"), "{out}");

    let send = desk.send(&config, "data", "filed in Отправленные");
    assert!(send.status.success(), "{}", text(&send));
    assert_eq!(stack.message_count("support", "Отправленные"), 2);
}

#[test]
fn xoauth2_token_from_the_command_logs_in_to_imap_and_smtp_and_a_revoked_one_is_explained() {
    let tokens = support::oauth::TokenServer::start();
    let stack = MailStack::start_with(StackOptions {
        oauth2_introspection_url: Some(tokens.url()),
        ..StackOptions::default()
    });
    tokens.grant("token-one", "support");
    let desk = Desk::new();
    let token_file = desk.dir.path().join("token");
    let runs = desk.dir.path().join("runs");
    std::fs::write(&token_file, "token-one\n").expect("token");
    let lines = format!(
        "ca_file = \"{}\"\nauth = \"xoauth2\"\n\
         oauth2_token_command = \"echo run >> {}; cat {}\"",
        stack.cert_pem.display(),
        runs.display(),
        token_file.display()
    );
    let config = desk.config("oauth.toml", &config_text(&stack, &lines, ""));

    let doctor = desk.run(&config, "data", &["doctor"]);
    let out = text(&doctor);
    assert!(doctor.status.success(), "{out}");
    assert!(out.contains("SMTP connected and logged in"), "{out}");
    let sync = desk.run(&config, "data", &["sync", "--once"]);
    assert!(sync.status.success(), "{}", text(&sync));
    let send = desk.send(&config, "data", "sent with a token");
    assert!(send.status.success(), "{}", text(&send));
    assert_eq!(stack.message_count("support", "Sent"), 1);
    assert!(tokens.hits() > 0, "Dovecot never asked the token server");

    tokens.revoke("token-one");
    std::fs::write(&runs, "").expect("reset runs");
    let sync = desk.run(&config, "data", &["sync", "--once"]);
    let out = text(&sync);
    assert!(!sync.status.success(), "{out}");
    assert!(out.contains("refused the OAuth2 token"), "{out}");
    assert!(out.contains("oama"), "{out}");
    let runs_text = std::fs::read_to_string(&runs).expect("runs");
    assert_eq!(
        runs_text.lines().count(),
        2,
        "the command runs once more: {runs_text}"
    );

    let send = desk.send(&config, "data", "refused token");
    let out = text(&send);
    assert!(!send.status.success(), "{out}");
    assert!(out.contains("refused the OAuth2 token"), "{out}");
}

#[test]
fn a_token_that_just_expired_is_replaced_by_running_the_command_again() {
    let tokens = support::oauth::TokenServer::start();
    let stack = MailStack::start_with(StackOptions {
        oauth2_introspection_url: Some(tokens.url()),
        ..StackOptions::dovecot_only()
    });
    tokens.grant("fresh", "support");
    let desk = Desk::new();
    let dir = desk.dir.path();
    std::fs::write(dir.join("token"), "expired\n").expect("token");
    std::fs::write(dir.join("next"), "fresh\n").expect("next");
    // Prints the cached token, then refreshes the cache like a token helper.
    let lines = format!(
        "ca_file = \"{}\"\nauth = \"oauthbearer\"\n\
         oauth2_token_command = \"cat {d}/token; cp {d}/next {d}/token\"",
        stack.cert_pem.display(),
        d = dir.display()
    );
    let text_cfg = config_text(&stack, &lines, "");
    let imap_only = &text_cfg[..text_cfg.find("[accounts.smtp]").expect("smtp table")];
    let config = desk.config("refresh.toml", imap_only);
    let sync = desk.run(&config, "data", &["sync", "--once"]);
    assert!(sync.status.success(), "{}", text(&sync));
}

/// The steps the accounts screen's "test connection" reports for `account`,
/// run by a real desk against the stack.
fn test_connection(config: &Path) -> Vec<deskmail::protocol::CheckStep> {
    use deskmail::desk::{Backend, Command, Desk, Event};
    let cfg = deskmail::config::Config::load(config).expect("config loads");
    let account = cfg.accounts[0].clone();
    let dir = tempfile::tempdir().expect("tmp");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = std::sync::Arc::new(deskmail::store::Store::open(dir.path()).expect("store"));
        let (desk, mut events) = Desk::new(store, cfg, Backend::Servers);
        desk.send(Command::TestAccount(Box::new(account)));
        loop {
            match tokio::time::timeout(CHILD_LIMIT, events.recv()).await {
                Ok(Some(Event::AccountTested { steps, .. })) => return steps,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("no test result from the desk"),
            }
        }
    })
}

#[test]
fn test_connection_in_the_accounts_screen_reports_each_doctor_step() {
    let stack = self_signed_stack();
    let desk = Desk::new();
    let ca = format!("ca_file = \"{}\"", stack.cert_pem.display());
    let pinned = desk.config("pinned.toml", &config_text(&stack, &ca, ""));
    let steps = test_connection(&pinned);
    let failed: Vec<_> = steps.iter().filter(|s| s.ok == Some(false)).collect();
    assert!(failed.is_empty(), "{steps:?}");
    assert!(
        steps
            .iter()
            .any(|s| s.text.contains("logged in and listed folders")),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.text.contains("SMTP") && s.text.contains("logged in")),
        "{steps:?}"
    );

    // Without the certificate both servers fail, each naming the fix.
    let untrusted = desk.config("untrusted.toml", &config_text(&stack, "", ""));
    let steps = test_connection(&untrusted);
    let failed: Vec<_> = steps.iter().filter(|s| s.ok == Some(false)).collect();
    assert_eq!(failed.len(), 2, "{steps:?}");
    assert!(failed[0].text.starts_with("IMAP"), "{steps:?}");
    assert!(failed[1].text.starts_with("SMTP"), "{steps:?}");
    for f in failed {
        assert!(f.text.contains("tls_fingerprint = \"sha256:"), "{f:?}");
    }
}

/// Subject and flags of each mail in `support`'s Drafts folder on the server.
fn server_drafts(stack: &MailStack) -> Vec<(String, String)> {
    let out = stack.doveadm(&[
        "-f",
        "tab",
        "fetch",
        "-u",
        "support",
        "hdr.subject flags",
        "mailbox",
        "Drafts",
        "all",
    ]);
    out.lines()
        .skip(1)
        .filter_map(|l| {
            let (subject, flags) = l.split_once('\t')?;
            Some((subject.trim().to_string(), flags.trim().to_string()))
        })
        .collect()
}

/// Wait until the server's Drafts folder satisfies `ok` (bounded by [`CHILD_LIMIT`]).
fn wait_for_drafts(stack: &MailStack, what: &str, ok: impl Fn(&[(String, String)]) -> bool) {
    let start = Instant::now();
    loop {
        let now = server_drafts(stack);
        if ok(&now) {
            return;
        }
        assert!(
            start.elapsed() < CHILD_LIMIT,
            "{what}: Drafts holds {now:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn drafts_are_kept_in_the_servers_drafts_folder_replaced_on_save_and_removed_when_discarded() {
    use deskmail::desk::{Backend, Command, Desk, DeskClient, Event};
    use deskmail::store::drafts::StoredDraft;
    let stack = self_signed_stack();
    // Another mail client left a draft on the server.
    stack.save_to(
        "support",
        "Drafts",
        b"From: support@desk.example\r\nTo: carol@example.com\r\nSubject: Written on the laptop\r\n\
          Message-ID: <laptop-draft-1@desk.example>\r\n\r\nHalf an answer.\r\n",
    );
    let desk_dir = self::Desk::new();
    let ca = format!("ca_file = \"{}\"", stack.cert_pem.display());
    let config = desk_dir.config("config.toml", &config_text(&stack, &ca, ""));
    let cfg = deskmail::config::Config::load(&config).expect("config loads");
    let data = tempfile::tempdir().expect("tmp");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _guard = rt.enter();
    let store = std::sync::Arc::new(deskmail::store::Store::open(data.path()).expect("store"));
    let (desk, mut events) = Desk::new(store, cfg, Backend::Servers);
    desk.start_background();

    // The other client's draft joins the drafts list.
    rt.block_on(async {
        loop {
            match tokio::time::timeout(CHILD_LIMIT, events.recv()).await {
                Ok(Some(Event::DraftsFound { count })) => {
                    assert_eq!(count, 1);
                    break;
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("the server's draft was never found"),
            }
        }
    });
    let drafts = desk.drafts().expect("drafts");
    let laptop = drafts
        .iter()
        .find(|d| d.subject == "Written on the laptop")
        .cloned()
        .expect("the laptop's draft is in the list");
    assert_eq!(laptop.to, "carol@example.com");
    assert_eq!(laptop.body.trim(), "Half an answer.");

    // A draft written here is APPENDed with \Draft, and each save replaces it.
    let id = desk.new_draft_id().expect("id");
    let mut mine = StoredDraft {
        id,
        account: Some("support".into()),
        to: "dan@example.com".into(),
        subject: "Refund, first words".into(),
        body: "Dear Dan,".into(),
        ..StoredDraft::default()
    };
    desk.send(Command::SaveDraft(Box::new(mine.clone())));
    wait_for_drafts(&stack, "first save", |d| {
        d.iter()
            .any(|(s, f)| s == "Refund, first words" && f.contains("\\Draft"))
    });
    mine.subject = "Refund, approved".into();
    desk.send(Command::SaveDraft(Box::new(mine.clone())));
    wait_for_drafts(&stack, "second save replaces the first", |d| {
        d.iter().any(|(s, _)| s == "Refund, approved")
            && !d.iter().any(|(s, _)| s == "Refund, first words")
    });
    assert_eq!(
        server_drafts(&stack).len(),
        2,
        "{:?}",
        server_drafts(&stack)
    );

    // Continuing the laptop's draft replaces it on the server too.
    let mut continued = laptop.clone();
    continued.body = "Half an answer, now finished.".into();
    desk.send(Command::SaveDraft(Box::new(continued)));
    let laptop_original = || {
        stack.doveadm(&[
            "search",
            "-u",
            "support",
            "mailbox",
            "Drafts",
            "HEADER",
            "Message-ID",
            "laptop-draft-1",
        ])
    };
    let start = Instant::now();
    while !laptop_original().trim().is_empty() {
        assert!(
            start.elapsed() < CHILD_LIMIT,
            "the laptop's draft stays on the server"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let now = server_drafts(&stack);
    assert_eq!(now.len(), 2, "{now:?}");
    assert_eq!(
        now.iter()
            .filter(|(s, _)| s == "Written on the laptop")
            .count(),
        1,
        "{now:?}"
    );

    // Sent or discarded: gone from the server.
    desk.send(Command::DeleteDraft { id });
    desk.send(Command::DeleteDraft { id: laptop.id });
    wait_for_drafts(&stack, "discarded drafts are removed", |d| d.is_empty());
}

#[test]
fn a_cyrillic_folder_stored_under_its_encoded_name_is_renamed_and_not_synced_twice() {
    use deskmail::store::{FolderState, MessageSummary, NewMail, Store, flags};
    let stack = MailStack::start_with(StackOptions {
        no_special_folders: true,
        ..StackOptions::default()
    });
    stack.doveadm(&["mailbox", "create", "-u", "support", "Отправленные"]);
    stack.save_to(
        "support",
        "Отправленные",
        b"From: support@desk.example\r\nTo: a@example.com\r\nSubject: old reply\r\n\
          Message-ID: <old-reply@desk.example>\r\n\r\nDone.\r\n",
    );
    let status = stack.doveadm(&[
        "mailbox",
        "status",
        "-u",
        "support",
        "uidvalidity",
        "Отправленные",
    ]);
    let uidvalidity: u32 = status
        .split_whitespace()
        .find_map(|w| w.strip_prefix("uidvalidity="))
        .and_then(|v| v.parse().ok())
        .expect("uidvalidity");
    let uid = stack.uid_list("support", "Отправленные")[0];

    // A desk synced by a version that kept the server's encoded name.
    let desk = Desk::new();
    let data = desk.dir.path().join("data");
    let raw = "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-";
    assert_eq!(deskmail::mail::mutf7::encode("Отправленные"), raw);
    let id = {
        let store = Store::open(&data).expect("store");
        store
            .ingest(
                vec![NewMail {
                    account: "support".into(),
                    folder: raw.into(),
                    uidvalidity,
                    uid,
                    flags: flags::SEEN,
                    summary: MessageSummary {
                        message_id: "old-reply@desk.example".into(),
                        subject: "old reply".into(),
                        ..MessageSummary::default()
                    },
                    raw: None,
                }],
                Some((
                    "support",
                    FolderState {
                        name: raw.into(),
                        uidvalidity,
                        uidnext: uid + 1,
                        ..FolderState::default()
                    },
                )),
            )
            .expect("ingest");
        store.flush().expect("flush");
        store
            .id_by_message_id("old-reply@desk.example")
            .expect("lookup")
            .expect("stored")
    };

    let ca = format!("ca_file = \"{}\"", stack.cert_pem.display());
    let config = desk.config("ru.toml", &config_text(&stack, &ca, ""));
    let sync = desk.run(&config, "data", &["sync", "--once"]);
    assert!(sync.status.success(), "{}", text(&sync));

    let store = Store::open(&data).expect("store");
    let folders: Vec<(String, u64)> = store
        .folders_by_account()
        .expect("folders")
        .into_iter()
        .filter(|(a, _)| a == "support")
        .flat_map(|(_, f)| f.into_iter().map(|s| (s.name, s.total)))
        .collect();
    assert!(
        folders.contains(&("Отправленные".to_string(), 1)),
        "{folders:?}"
    );
    assert!(!folders.iter().any(|(n, _)| n.contains('&')), "{folders:?}");
    // The same mail, not a second copy fetched under the decoded name.
    assert_eq!(
        store
            .id_by_message_id("old-reply@desk.example")
            .expect("lookup"),
        Some(id)
    );
    assert_eq!(
        store
            .id_by_uid("support", "Отправленные", uidvalidity, uid)
            .expect("uid"),
        Some(id)
    );
}
