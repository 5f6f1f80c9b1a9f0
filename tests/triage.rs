//! Bulk actions on marked mails and their undo, against a real Dovecot on
//! loopback: a counting proxy in front of it reads the commands deskmail
//! sends, so one `UID MOVE` per folder is checked, not assumed.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use deskmail::config::Config;
use deskmail::desk::{Backend, Desk, Event};
use deskmail::protocol::{Command, DeskClient, PageFrom, PageQuery};
use deskmail::store::Store;
use deskmail::sync::{self, SyncOptions};
use support::{MailStack, StackOptions, gen_mailbox, recording_proxy};

const USER: &str = "support";

/// Client command lines containing `what` (case-insensitive).
fn commands(log: &Mutex<Vec<u8>>, what: &str) -> Vec<String> {
    let bytes = log.lock().map(|l| l.clone()).unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| l.to_ascii_uppercase().contains(what))
        .map(|l| l.chars().take(120).collect())
        .collect()
}

fn config(port: u16) -> Config {
    let text = format!(
        r#"
[[accounts]]
name = "support"
kind = "imap"
email = "support@desk.example"
host = "127.0.0.1"
port = {port}
tls = "none"
user = "support"
password_command = "printf secret"
folders = ["INBOX"]
"#
    );
    Config::parse(&text, Path::new("config.toml")).expect("config parses")
}

fn once() -> SyncOptions {
    SyncOptions {
        account: None,
        once: true,
        progress: false,
    }
}

fn inbox_ids(desk: &dyn DeskClient) -> Vec<u64> {
    let q = PageQuery {
        account: USER.into(),
        folder: "INBOX".into(),
        from: PageFrom::After,
        cursor: None,
        n: 10_000,
        collapsed: false,
    };
    desk.page(&q)
        .expect("page")
        .iter()
        .map(|r| r.summary.id)
        .collect()
}

#[tokio::test]
async fn bulk_archive_of_500_marked_mails_is_one_uid_move_and_undo_brings_all_back() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(500, 16));
    stack.doveadm(&["mailbox", "create", "-u", USER, "Archive"]);
    let (port, log) = recording_proxy(stack.imap_port).await;
    let cfg = Arc::new(config(port));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("first sync");
    let (desk, mut events) = Desk::new(Arc::clone(&store), (*cfg).clone(), Backend::Servers);
    let ids = inbox_ids(&*desk);
    assert_eq!(ids.len(), 500);

    desk.send(Command::MoveMany {
        ids: ids.clone(),
        account: USER.into(),
        folder: "INBOX".into(),
        to: None,
    });
    desk.settled().await;
    let started = Instant::now();
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("push the archive");
    println!(
        "BENCH bulk archive of 500 pushed and synced in {:?}",
        started.elapsed()
    );
    let moves = commands(&log, "UID MOVE");
    assert_eq!(moves.len(), 1, "one UID MOVE for one folder: {moves:?}");
    assert_eq!(stack.message_count(USER, "INBOX"), 0);
    assert_eq!(stack.message_count(USER, "Archive"), 500);
    assert!(inbox_ids(&*desk).is_empty(), "the desk's INBOX follows");

    desk.send(Command::Undo);
    desk.settled().await;
    let mut said = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::Notice(n) = e {
            said.push(n);
        }
    }
    assert!(
        said.iter().any(|n| n == "Moved 500 mails back to INBOX."),
        "{said:?}"
    );
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("push the undo");
    let moves = commands(&log, "UID MOVE");
    assert_eq!(moves.len(), 2, "the undo is one UID MOVE back: {moves:?}");
    assert_eq!(stack.message_count(USER, "INBOX"), 500);
    assert_eq!(stack.message_count(USER, "Archive"), 0);
    let mut back = inbox_ids(&*desk);
    back.sort_unstable();
    let mut want = ids;
    want.sort_unstable();
    assert_eq!(back, want, "the same mails (and their links) are back");
}

#[tokio::test]
async fn bulk_flag_is_one_uid_store_and_undo_clears_it_on_the_server() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(40, 17));
    let (port, log) = recording_proxy(stack.imap_port).await;
    let cfg = Arc::new(config(port));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("first sync");
    let (desk, _events) = Desk::new(Arc::clone(&store), (*cfg).clone(), Backend::Servers);
    let ids = inbox_ids(&*desk);
    desk.send(Command::SetFlagsMany {
        ids: ids[..25].to_vec(),
        account: USER.into(),
        folder: "INBOX".into(),
        add: deskmail::store::flags::FLAGGED,
        remove: 0,
    });
    desk.settled().await;
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("push");
    let stores = commands(&log, "UID STORE");
    assert_eq!(stores.len(), 1, "{stores:?}");
    let flagged = stack.doveadm(&["search", "-u", USER, "mailbox", "INBOX", "FLAGGED"]);
    assert_eq!(flagged.lines().count(), 25);

    desk.send(Command::Undo);
    desk.settled().await;
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("push the undo");
    assert_eq!(commands(&log, "UID STORE").len(), 2);
    let flagged = stack.doveadm(&["search", "-u", USER, "mailbox", "INBOX", "FLAGGED"]);
    assert_eq!(flagged.lines().count(), 0, "{flagged}");
}
