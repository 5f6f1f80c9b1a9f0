//! POP3 sync against a real Dovecot on loopback: STLS, POP3S and plain,
//! incremental runs, polling, a lost UIDL map, a refused login, and one
//! record for a mail seen through POP3 and IMAP.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use deskmail::config::Config;
use deskmail::store::{Store, flags};
use deskmail::sync::SyncUpdate;
use deskmail::sync::{self, ErrorKind, SyncOptions};
use support::{MailStack, StackOptions, gen_mailbox, poll_until};

const USER: &str = "support";
const WAIT: Duration = Duration::from_secs(60);

fn pop3_account(stack: &MailStack, name: &str, port: u16, tls: &str, extra: &str) -> String {
    format!(
        r#"
[[accounts]]
name = "{name}"
kind = "pop3"
email = "support@desk.example"
host = "127.0.0.1"
port = {port}
tls = "{tls}"
ca_file = "{ca}"
user = "support"
password_command = "printf secret"
{extra}
"#,
        ca = stack.cert_pem.display()
    )
}

fn parse(text: &str) -> Arc<Config> {
    Arc::new(Config::parse(text, Path::new("config.toml")).expect("config parses"))
}

fn once() -> SyncOptions {
    SyncOptions {
        account: None,
        once: true,
        progress: false,
    }
}

fn folder_stats(store: &Store, account: &str, folder: &str) -> (u64, u64) {
    let stats = store.stats().expect("stats");
    stats
        .accounts
        .iter()
        .find(|a| a.name == account)
        .and_then(|a| a.folders.iter().find(|f| f.name == folder))
        .map(|f| (f.total, f.bodies_missing))
        .unwrap_or((0, 0))
}

fn one_mail(tag: &str) -> Vec<u8> {
    format!(
        "From: Late Customer <late@example.com>\r\n\
         To: support@desk.example\r\n\
         Subject: {tag}\r\n\
         Message-ID: <{tag}@example.com>\r\n\
         Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
         \r\n\
         .a line that starts with a dot\r\n\
         Body of {tag}.\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn stls_sync_is_incremental_and_picks_up_new_mail() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    assert_eq!(stack.fill_inbox(USER, gen_mailbox(300, 21)), 300);
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let cfg = parse(&pop3_account(&stack, USER, stack.pop3_port, "starttls", ""));

    let first = sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    assert_eq!(first.accounts, 1);
    assert_eq!(first.new_messages, 300);
    assert_eq!(folder_stats(&store, USER, "INBOX"), (300, 0));
    let stats = store.stats().expect("stats");
    assert_eq!(stats.messages, 300);
    assert_eq!(stats.bodies, 300);

    // Nothing new on a second run.
    let again = sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("resync");
    assert_eq!(again.new_messages, 0);
    assert_eq!(folder_stats(&store, USER, "INBOX"), (300, 0));

    // A delivered mail comes with the next run, body dot-unstuffed, and rings.
    stack.deliver(USER, &one_mail("late-1"));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let third = sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), Some(tx))
        .await
        .expect("third sync");
    assert_eq!(third.new_messages, 1);
    assert_eq!(folder_stats(&store, USER, "INBOX"), (301, 0));
    let id = store
        .id_by_message_id("late-1@example.com")
        .expect("lookup")
        .or_else(|| {
            store
                .id_by_message_id("<late-1@example.com>")
                .expect("lookup")
        })
        .expect("the new mail is stored");
    let body = store.body(id).expect("body").expect("body stored");
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("\r\n.a line that starts"), "{text}");
    let mut rang = false;
    while let Ok(e) = rx.try_recv() {
        if let SyncUpdate::NewMail { count, folder, .. } = e {
            assert_eq!((count, folder.as_str()), (1, "INBOX"));
            rang = true;
        }
    }
    assert!(rang, "no NewMail event");
}

#[tokio::test]
async fn pop3s_plain_and_target_folder() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(12, 5));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let text = pop3_account(&stack, USER, stack.pop3s_port, "tls", "");
    let n = sync::run(parse(&text), Arc::clone(&store), once(), None)
        .await
        .expect("POP3S sync");
    assert_eq!(n.new_messages, 12);
    assert_eq!(folder_stats(&store, USER, "INBOX"), (12, 0));

    // Desk changes: a flag stays as set, a move is declined; the queue drains.
    let id = store.page(USER, "INBOX", None, 1).expect("page")[0]
        .summary
        .id;
    store
        .change_flags(USER, "INBOX", id, flags::SEEN, 0)
        .expect("flag");
    store.queue_move(USER, "INBOX", id, None).expect("move");
    assert_eq!(store.pending_changes(USER).expect("pending").len(), 2);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    sync::run(parse(&text), Arc::clone(&store), once(), Some(tx))
        .await
        .expect("resync");
    assert!(store.pending_changes(USER).expect("pending").is_empty());
    let row = store
        .page(USER, "INBOX", None, usize::MAX)
        .expect("page")
        .into_iter()
        .find(|r| r.summary.id == id)
        .expect("mail still in INBOX");
    assert_ne!(row.entry.flags & flags::SEEN, 0);
    let mut told = false;
    while let Ok(e) = rx.try_recv() {
        told |= matches!(e, SyncUpdate::Notice(t) if t.contains("no folders"));
    }
    assert!(told, "the declined move is not explained");

    // Plain text (tls = "none") into a folder of its own, same mails: one
    // record each.
    let plain = pop3_account(
        &stack,
        "plain",
        stack.pop3_port,
        "none",
        "target_folder = \"Support\"",
    );
    let n = sync::run(parse(&plain), Arc::clone(&store), once(), None)
        .await
        .expect("plain sync");
    assert_eq!(n.new_messages, 0, "known Message-IDs create no records");
    assert_eq!(folder_stats(&store, "plain", "Support"), (12, 0));
    assert_eq!(store.stats().expect("stats").messages, 12);
}

#[tokio::test]
async fn wrong_password_is_auth_failed_quoting_the_server() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let text = pop3_account(&stack, USER, stack.pop3_port, "starttls", "")
        .replace("printf secret", "printf wrong");
    let e = sync::run(parse(&text), Arc::clone(&store), once(), None)
        .await
        .expect_err("login must fail");
    assert_eq!(e.kind(), ErrorKind::AuthFailed, "{e}");
    let s = e.to_string();
    assert!(
        s.contains("-ERR") && s.contains("Authentication failed"),
        "{s}"
    );

    // An IMAP port is no POP3 server: the greeting says so, and nothing
    // is sent in plain text.
    let text = pop3_account(&stack, USER, stack.imap_port, "starttls", "");
    let e = sync::run(parse(&text), Arc::clone(&store), once(), None)
        .await
        .expect_err("POP3 against IMAP must fail");
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let s = e.to_string();
    assert!(s.contains("POP3 server") && s.contains("Dovecot"), "{s}");
}

#[tokio::test]
async fn lost_uidl_map_refetches_without_duplicates() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(20, 9));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let cfg = parse(&pop3_account(&stack, USER, stack.pop3_port, "starttls", ""));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    assert_eq!(folder_stats(&store, USER, "INBOX"), (20, 0));
    // As if the process died after ingesting but before the map was written.
    store
        .set_setting("pop3.uidl.support", r#"{"next":0,"uids":{}}"#)
        .expect("setting");
    let n = sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("resync");
    assert_eq!(n.new_messages, 0);
    assert_eq!(folder_stats(&store, USER, "INBOX"), (20, 0));
    assert_eq!(store.stats().expect("stats").messages, 20);
    let again = sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("third sync");
    assert_eq!(again.new_messages, 0);
    assert_eq!(folder_stats(&store, USER, "INBOX"), (20, 0));
}

#[tokio::test]
async fn same_mail_via_imap_and_pop3_is_one_record() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(25, 13));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let text = format!(
        "{}\n[[accounts]]\nname = \"imap\"\nkind = \"imap\"\nemail = \"support@desk.example\"\n\
         host = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"\nca_file = \"{}\"\nuser = \"support\"\n\
         password_command = \"printf secret\"\nfolders = [\"INBOX\"]\n",
        pop3_account(&stack, USER, stack.pop3_port, "starttls", ""),
        stack.imap_port,
        stack.cert_pem.display()
    );
    let s = sync::run(parse(&text), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    assert_eq!(s.accounts, 2);
    assert_eq!(folder_stats(&store, USER, "INBOX"), (25, 0));
    assert_eq!(folder_stats(&store, "imap", "INBOX"), (25, 0));
    assert_eq!(store.stats().expect("stats").messages, 25);
}

#[tokio::test]
async fn background_task_polls_for_new_mail() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(5, 2));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let cfg = parse(&pop3_account(
        &stack,
        USER,
        stack.pop3_port,
        "starttls",
        "check_interval_secs = 1",
    ));
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = sync::spawn_all(cfg, Arc::clone(&store), tx);
    assert_eq!(handle.accounts(), 1);
    let wait_for = |n: u64| {
        let s = Arc::clone(&store);
        poll_until(WAIT, move || {
            let s = Arc::clone(&s);
            async move { (folder_stats(&s, USER, "INBOX").0 == n).then_some(()) }
        })
    };
    wait_for(5).await.expect("initial sync in time");
    stack.deliver(USER, &one_mail("polled-1"));
    wait_for(6).await.expect("polled mail in time");
    handle.shutdown();
}

#[tokio::test]
async fn max_messages_per_connection_fetches_the_oldest_first_and_the_rest_next_time() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    assert_eq!(stack.fill_inbox(USER, gen_mailbox(5, 7)), 5);
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let extra = "max_messages_per_connection = 2";
    let cfg = parse(&pop3_account(&stack, USER, stack.pop3s_port, "tls", extra));
    for expected in [2, 4, 5, 5] {
        sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
            .await
            .expect("sync");
        assert_eq!(folder_stats(&store, USER, "INBOX").0, expected);
    }
    assert_eq!(stack.message_count(USER, "INBOX"), 5, "nothing deleted");
}

#[tokio::test]
async fn delete_after_download_removes_stored_mail_from_the_server() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    assert_eq!(stack.fill_inbox(USER, gen_mailbox(3, 8)), 3);
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let extra = "delete_after_download = true";
    let cfg = parse(&pop3_account(&stack, USER, stack.pop3s_port, "tls", extra));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    assert_eq!(folder_stats(&store, USER, "INBOX").0, 3);
    assert_eq!(stack.message_count(USER, "INBOX"), 0);
    // The desk keeps its copies when the server no longer lists them.
    stack.deliver(USER, &one_mail("after-delete"));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("resync");
    assert_eq!(folder_stats(&store, USER, "INBOX").0, 4);
    assert_eq!(stack.message_count(USER, "INBOX"), 0);
}

#[tokio::test]
async fn delete_after_days_keeps_mail_until_it_is_old_enough() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    assert_eq!(stack.fill_inbox(USER, gen_mailbox(2, 9)), 2);
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let extra = "delete_after_download = \"30d\"";
    let cfg = parse(&pop3_account(&stack, USER, stack.pop3s_port, "tls", extra));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    assert_eq!(folder_stats(&store, USER, "INBOX").0, 2);
    assert_eq!(stack.message_count(USER, "INBOX"), 2, "too young to delete");
    // Age the download record by 31 days, as if a month had passed.
    let key = format!("pop3.uidl.{USER}");
    let state = store.setting(&key).expect("setting").expect("uidl map");
    let mut map: serde_json::Value = serde_json::from_str(&state).expect("json");
    let month_ago = chrono::Utc::now().timestamp() - 31 * 86_400;
    if let Some(seen) = map.get_mut("seen").and_then(|s| s.as_object_mut()) {
        for v in seen.values_mut() {
            *v = serde_json::Value::from(month_ago);
        }
    }
    store
        .set_setting(&key, &map.to_string())
        .expect("write setting");
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("resync");
    assert_eq!(stack.message_count(USER, "INBOX"), 0);
    assert_eq!(folder_stats(&store, USER, "INBOX").0, 2);
}

#[tokio::test]
async fn inactive_account_stays_configured_but_is_not_synced() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    assert_eq!(stack.fill_inbox(USER, gen_mailbox(2, 10)), 2);
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let text = format!(
        "{}{}",
        pop3_account(&stack, USER, stack.pop3s_port, "tls", ""),
        pop3_account(&stack, "paused", stack.pop3s_port, "tls", "active = false")
    );
    let cfg = parse(&text);
    assert_eq!(cfg.accounts.len(), 2);
    let report = sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    assert_eq!(report.accounts, 1);
    assert_eq!(folder_stats(&store, USER, "INBOX").0, 2);
    assert_eq!(folder_stats(&store, "paused", "INBOX").0, 0);
}

#[tokio::test]
async fn check_interval_zero_syncs_at_start_and_then_only_when_asked() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    assert_eq!(stack.fill_inbox(USER, gen_mailbox(1, 11)), 1);
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let extra = "check_interval_secs = 0";
    let cfg = parse(&pop3_account(&stack, USER, stack.pop3s_port, "tls", extra));
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = sync::spawn_all(Arc::clone(&cfg), Arc::clone(&store), tx);
    let count = || folder_stats(&store, USER, "INBOX").0;
    assert!(
        poll_until(WAIT, || async { (count() == 1).then_some(()) })
            .await
            .is_some(),
        "the first sync at start did not happen"
    );
    stack.deliver(USER, &one_mail("manual-1"));
    // A 1 s interval would have fetched it several times over by now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(), 1, "fetched without being asked");
    handle.sync_now();
    assert!(
        poll_until(WAIT, || async { (count() == 2).then_some(()) })
            .await
            .is_some(),
        "asking did not sync"
    );
    handle.shutdown();
}

#[tokio::test]
async fn apop_is_used_when_the_greeting_offers_it() {
    let stack = MailStack::start_with(StackOptions {
        apop: true,
        ..StackOptions::dovecot_only()
    });
    assert_eq!(stack.fill_inbox(USER, gen_mailbox(2, 12)), 2);
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let cfg = parse(&pop3_account(&stack, USER, stack.pop3s_port, "tls", ""));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    assert_eq!(folder_stats(&store, USER, "INBOX").0, 2);
    let log = stack.log_tail(200);
    assert!(log.contains("method=APOP"), "{log}");
}

#[tokio::test]
async fn a_mail_over_max_message_mb_is_imported_as_headers_and_a_note() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    let mut big = b"From: Logs <logs@example.com>\r\nTo: support@desk.example\r\n\
Subject: Full server log\r\nMessage-ID: <big-pop@example.com>\r\n\
Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\n"
        .to_vec();
    while big.len() < 3 << 20 {
        big.extend_from_slice(b"2026-11-25 10:00:00 worker: a line of the log\r\n");
    }
    stack.deliver(USER, &big);
    stack.deliver(USER, &one_mail("small"));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let cfg = parse(&pop3_account(
        &stack,
        USER,
        stack.pop3_port,
        "starttls",
        "max_message_mb = 1",
    ));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    let id = store
        .id_by_message_id("big-pop@example.com")
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
    let small = store
        .id_by_message_id("small@example.com")
        .expect("read")
        .expect("small mail");
    let small_text =
        deskmail::mail::render::render_to_text(&store.body(small).expect("read").expect("body"));
    assert!(small_text.contains("Body of small."), "{small_text}");
}

/// The text of the next `n` renderings of mail `id`, asked for once.
async fn renderings(
    desk: &Arc<deskmail::desk::Desk>,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<deskmail::desk::Event>,
    id: u64,
    n: usize,
) -> Vec<String> {
    use deskmail::desk::{Command, Event};
    desk.send(Command::Render {
        id,
        options: deskmail::mail::render::RenderOptions::default(),
    });
    let mut shown = Vec::new();
    while shown.len() < n {
        match tokio::time::timeout(WAIT, events.recv()).await {
            Ok(Some(Event::Rendered { id: got, mail })) if got == id => shown.push(
                mail.lines
                    .iter()
                    .map(|l| l.text.clone())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            Ok(Some(Event::Error(e) | Event::AccountError { message: e, .. })) => panic!("{e}"),
            Ok(Some(_)) => {}
            other => panic!(
                "no rendering {}: {other:?} after {shown:?}",
                shown.len() + 1
            ),
        }
    }
    shown
}

#[tokio::test]
async fn opening_a_cut_pop3_mail_fetches_it_whole_or_says_the_server_no_longer_has_it() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    let big_mail = |msgid: &str, line: &str| {
        let mut big = format!(
            "From: Logs <logs@example.com>\r\nTo: support@desk.example\r\n\
             Subject: Full server log\r\nMessage-ID: <{msgid}>\r\n\
             Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\n"
        )
        .into_bytes();
        while big.len() < 3 << 19 {
            big.extend_from_slice(line.as_bytes());
        }
        big
    };
    let kept = big_mail(
        "kept-pop@example.com",
        "10:00:00 worker: a line of the log\r\n",
    );
    stack.deliver(USER, &kept);
    stack.deliver(
        USER,
        &big_mail("gone-pop@example.com", "10:00:00 gone line\r\n"),
    );
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let cfg = parse(&pop3_account(
        &stack,
        USER,
        stack.pop3_port,
        "starttls",
        "max_message_mb = 1",
    ));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("sync");
    let id_of = |msgid: &str| {
        store
            .id_by_message_id(msgid)
            .expect("read")
            .expect("the big mail is listed")
    };
    let (kept_id, gone_id) = (id_of("kept-pop@example.com"), id_of("gone-pop@example.com"));
    assert!(
        store
            .summary(kept_id)
            .expect("read")
            .expect("summary")
            .body_cut
    );
    // Deleted on the server after the sync (by another client).
    stack.doveadm(&[
        "expunge",
        "-u",
        USER,
        "mailbox",
        "INBOX",
        "header",
        "Message-ID",
        "gone-pop",
    ]);

    use deskmail::desk::{Backend, Desk};
    let (desk, mut events) = Desk::new(Arc::clone(&store), (*cfg).clone(), Backend::Servers);

    let shown = renderings(&desk, &mut events, kept_id, 2).await;
    assert!(shown[0].contains("headers were imported"), "{}", shown[0]);
    assert!(shown[1].contains("worker: a line of the log"));
    let whole = store.body(kept_id).expect("read").expect("body");
    assert!(whole.ends_with(&kept[kept.len() - 1000..]) && whole.len() >= kept.len());
    assert!(
        !store
            .summary(kept_id)
            .expect("read")
            .expect("summary")
            .body_cut
    );

    let shown = renderings(&desk, &mut events, gone_id, 2).await;
    assert!(shown[1].contains("headers were imported"), "{}", shown[1]);
    assert!(
        shown[1].contains("The POP3 server no longer has this mail"),
        "{}",
        shown[1]
    );
    assert!(!shown[1].contains("gone line"));
    // Said once: opening it again does not ask the server again.
    assert!(
        !store
            .summary(gone_id)
            .expect("read")
            .expect("summary")
            .body_cut
    );
}

#[tokio::test]
async fn pop3_logs_in_over_sasl_oauth2_and_a_revoked_token_is_explained() {
    let tokens = support::oauth::TokenServer::start();
    let stack = MailStack::start_with(StackOptions {
        oauth2_introspection_url: Some(tokens.url()),
        ..StackOptions::dovecot_only()
    });
    tokens.grant("pop-token", USER);
    assert_eq!(stack.fill_inbox(USER, gen_mailbox(2, 5)), 2);
    for mech in ["xoauth2", "oauthbearer"] {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        let extra = format!("auth = \"{mech}\"\noauth2_token_command = \"printf pop-token\"");
        let text = pop3_account(&stack, USER, stack.pop3s_port, "tls", &extra)
            .replace("password_command = \"printf secret\"\n", "");
        sync::run(parse(&text), Arc::clone(&store), once(), None)
            .await
            .unwrap_or_else(|e| panic!("{mech}: {e}"));
        assert_eq!(folder_stats(&store, USER, "INBOX").0, 2, "{mech}");
        let log = stack.log_tail(200);
        assert!(
            log.contains(&format!("method={}", mech.to_uppercase())),
            "{mech}: {log}"
        );
    }

    tokens.revoke("pop-token");
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let text = pop3_account(
        &stack,
        USER,
        stack.pop3s_port,
        "tls",
        "auth = \"xoauth2\"\noauth2_token_command = \"printf pop-token\"",
    )
    .replace("password_command = \"printf secret\"\n", "");
    let e = sync::run(parse(&text), Arc::clone(&store), once(), None)
        .await
        .expect_err("a revoked token must fail");
    assert_eq!(e.kind(), ErrorKind::AuthFailed, "{e}");
    assert!(e.to_string().contains("refused the OAuth2 token"), "{e}");
}

fn dated_mail(tag: &str, date: &str) -> Vec<u8> {
    format!(
        "From: Old Customer <old@example.com>\r\n\
         To: support@desk.example\r\n\
         Subject: {tag}\r\n\
         Message-ID: <{tag}@example.com>\r\n\
         Date: {date}\r\n\
         \r\n\
         Body of {tag}.\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn fetch_since_leaves_older_pop3_mail_on_the_server_and_never_deletes_it() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    for (tag, date) in [
        ("dec-2025", "Mon, 15 Dec 2025 10:00:00 +0000"),
        ("jan-2026", "Fri, 02 Jan 2026 09:00:00 +0000"),
        ("mar-2025", "Sat, 01 Mar 2025 10:00:00 +0000"),
        ("nov-2026", "Thu, 05 Nov 2026 09:00:00 +0000"),
    ] {
        stack.deliver(USER, &dated_mail(tag, date));
    }
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let extra = "fetch_since = \"2026-01-01\"\ndelete_after_download = true";
    let cfg = parse(&pop3_account(&stack, USER, stack.pop3s_port, "tls", extra));
    for _ in 0..2 {
        sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
            .await
            .expect("sync");
        let subjects: HashSet<String> = store
            .page(USER, "INBOX", None, usize::MAX)
            .expect("page")
            .into_iter()
            .map(|r| r.summary.subject)
            .collect();
        assert_eq!(
            subjects,
            HashSet::from(["jan-2026".to_string(), "nov-2026".to_string()])
        );
        // Only what was stored is deleted; the older mail stays on the server.
        assert_eq!(stack.message_count(USER, "INBOX"), 2);
    }
}
