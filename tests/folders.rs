//! Desk folders against a real Dovecot on loopback: creating, renaming and
//! deleting folders from the desk is checked over IMAP; mail moves to a
//! folder that is not synced; a quiet folder's new mail notifies nobody.

mod support;

use std::path::Path;
use std::sync::Arc;

use deskmail::config::Config;
use deskmail::desk::{Backend, Desk, Event};
use deskmail::protocol::{Command, DeskClient, PageFrom, PageQuery};
use deskmail::store::Store;
use deskmail::sync::{self, SyncOptions, SyncUpdate};
use futures::TryStreamExt;
use support::{MailStack, StackOptions, gen_mailbox};
use tokio::sync::mpsc::UnboundedReceiver;

const USER: &str = "support";

fn config(port: u16, folders: &str) -> Config {
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
folders = {folders}
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

/// The mailbox names the server lists, raw (modified UTF-7) as on the wire.
async fn server_names(stack: &MailStack) -> Vec<String> {
    let mut s = stack.imap_session(USER).await;
    let names: Vec<String> = s
        .list(Some(""), Some("*"))
        .await
        .expect("LIST")
        .try_collect::<Vec<_>>()
        .await
        .expect("LIST responses")
        .iter()
        .map(|n| n.name().to_string())
        .collect();
    let _ = s.logout().await;
    names
}

/// Errors and notices the desk said since the last call.
fn said(events: &mut UnboundedReceiver<Event>) -> (Vec<String>, Vec<String>, usize) {
    let (mut errors, mut notices, mut folder_changes) = (Vec::new(), Vec::new(), 0);
    while let Ok(e) = events.try_recv() {
        match e {
            Event::Error(t) | Event::AccountError { message: t, .. } => errors.push(t),
            Event::Notice(t) => notices.push(t),
            Event::FoldersChanged { .. } => folder_changes += 1,
            _ => {}
        }
    }
    (errors, notices, folder_changes)
}

fn pane_folders(desk: &dyn DeskClient) -> Vec<String> {
    desk.folders()
        .expect("folders")
        .into_iter()
        .flat_map(|a| a.folders.into_iter().map(|f| f.name))
        .collect()
}

#[tokio::test]
async fn a_folder_created_renamed_and_deleted_from_the_desk_changes_on_the_server() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(3, 31));
    let cfg = Arc::new(config(stack.imap_port, r#"["INBOX"]"#));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("first sync");
    let (desk, mut events) = Desk::new(Arc::clone(&store), (*cfg).clone(), Backend::Servers);

    desk.send(Command::CreateFolder {
        account: USER.into(),
        name: "Ärger 2026".into(),
    });
    desk.settled().await;
    let (errors, notices, changes) = said(&mut events);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        notices
            .iter()
            .any(|n| n == "Created folder \"Ärger 2026\"."),
        "{notices:?}"
    );
    assert_eq!(changes, 1, "one FoldersChanged for the pane");
    let names = server_names(&stack).await;
    assert!(
        names.iter().any(|n| n == "&AMQ-rger 2026"),
        "created in modified UTF-7: {names:?}"
    );
    assert!(pane_folders(&*desk).contains(&"Ärger 2026".to_string()));

    desk.send(Command::RenameFolder {
        account: USER.into(),
        from: "Ärger 2026".into(),
        to: "Erledigt".into(),
    });
    desk.settled().await;
    let (errors, _, _) = said(&mut events);
    assert!(errors.is_empty(), "{errors:?}");
    let names = server_names(&stack).await;
    assert!(names.iter().any(|n| n == "Erledigt"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("rger")), "{names:?}");
    let pane = pane_folders(&*desk);
    assert!(pane.contains(&"Erledigt".to_string()), "{pane:?}");
    assert!(!pane.contains(&"Ärger 2026".to_string()), "{pane:?}");

    desk.send(Command::DeleteFolder {
        account: USER.into(),
        name: "Erledigt".into(),
    });
    desk.settled().await;
    let (errors, notices, _) = said(&mut events);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(notices.iter().any(|n| n == "Deleted folder \"Erledigt\"."));
    let names = server_names(&stack).await;
    assert!(!names.iter().any(|n| n == "Erledigt"), "{names:?}");
    assert!(!pane_folders(&*desk).contains(&"Erledigt".to_string()));
    let listed = desk.server_folders(USER).expect("listing");
    assert!(listed.iter().all(|f| f.name != "Erledigt"), "{listed:?}");
}

#[tokio::test]
async fn folder_changes_the_desk_or_the_server_refuse_are_said_in_plain_words() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(2, 32));
    stack.doveadm(&["mailbox", "create", "-u", USER, "Trash"]);
    stack.doveadm(&["mailbox", "create", "-u", USER, "Kunden"]);
    let cfg = Arc::new(config(stack.imap_port, r#"["INBOX"]"#));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("first sync");
    let (desk, mut events) = Desk::new(Arc::clone(&store), (*cfg).clone(), Backend::Servers);

    desk.send(Command::DeleteFolder {
        account: USER.into(),
        name: "INBOX".into(),
    });
    desk.send(Command::CreateFolder {
        account: USER.into(),
        name: "Kunden".into(),
    });
    desk.settled().await;
    let (errors, _, _) = said(&mut events);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("\"INBOX\" is where new mail arrives")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("already has a folder \"Kunden\"")),
        "an unsynced folder the server listed counts: {errors:?}"
    );

    // Renamed behind the desk's back: the server's own words come back.
    stack.doveadm(&["mailbox", "rename", "-u", USER, "Kunden", "Kunden-alt"]);
    desk.send(Command::RenameFolder {
        account: USER.into(),
        from: "Kunden".into(),
        to: "Klienten".into(),
    });
    desk.settled().await;
    let (errors, _, _) = said(&mut events);
    let [e] = errors.as_slice() else {
        panic!("one error: {errors:?}");
    };
    assert!(
        e.contains("the server refused renaming folder \"Kunden\" to \"Klienten\": \""),
        "{e}"
    );
    assert!(e.ends_with("Nothing was changed."), "{e}");
    assert!(server_names(&stack).await.iter().all(|n| n != "Klienten"));

    // A move to the folder still queued: deleting it waits for the sync.
    let q = PageQuery {
        account: USER.into(),
        folder: "INBOX".into(),
        from: PageFrom::After,
        cursor: None,
        n: 1,
        collapsed: false,
    };
    let id = desk.page(&q).expect("page")[0].summary.id;
    desk.send(Command::MoveTo {
        id,
        account: USER.into(),
        folder: "INBOX".into(),
        to: Some("Kunden-alt".into()),
    });
    desk.send(Command::DeleteFolder {
        account: USER.into(),
        name: "Kunden-alt".into(),
    });
    desk.settled().await;
    let (errors, _, _) = said(&mut events);
    assert!(
        errors.iter().any(|e| e.contains("still on their way")),
        "{errors:?}"
    );
    assert!(server_names(&stack).await.iter().any(|n| n == "Kunden-alt"));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("push the move");
    desk.send(Command::DeleteFolder {
        account: USER.into(),
        name: "Kunden-alt".into(),
    });
    desk.settled().await;
    let (errors, _, _) = said(&mut events);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(server_names(&stack).await.iter().all(|n| n != "Kunden-alt"));
}

#[tokio::test]
async fn mail_moves_to_a_folder_that_is_not_synced_and_the_listing_counts_it() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(4, 33));
    stack.doveadm(&["mailbox", "create", "-u", USER, "Lieferanten"]);
    let cfg = Arc::new(config(stack.imap_port, r#"["INBOX"]"#));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("first sync");
    let (desk, _events) = Desk::new(Arc::clone(&store), (*cfg).clone(), Backend::Servers);
    let listed = desk.server_folders(USER).expect("listing");
    let lief = listed
        .iter()
        .find(|f| f.name == "Lieferanten")
        .expect("the unsynced folder is listed");
    assert_eq!(lief.messages, Some(0));
    assert!(
        !pane_folders(&*desk).contains(&"Lieferanten".to_string()),
        "listed, not synced"
    );

    let q = PageQuery {
        account: USER.into(),
        folder: "INBOX".into(),
        from: PageFrom::After,
        cursor: None,
        n: 10,
        collapsed: false,
    };
    let id = desk.page(&q).expect("page")[0].summary.id;
    desk.send(Command::MoveTo {
        id,
        account: USER.into(),
        folder: "INBOX".into(),
        to: Some("Lieferanten".into()),
    });
    desk.settled().await;
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("push the move");
    assert_eq!(stack.message_count(USER, "Lieferanten"), 1);
    assert_eq!(stack.message_count(USER, "INBOX"), 3);
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("list again");
    let listed = desk.server_folders(USER).expect("listing");
    let lief = listed.iter().find(|f| f.name == "Lieferanten");
    assert_eq!(lief.and_then(|f| f.messages), Some(1), "{listed:?}");
}

#[tokio::test]
async fn new_mail_in_a_quiet_folder_notifies_nobody_and_the_inbox_still_does() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox(USER, gen_mailbox(1, 34));
    stack.doveadm(&["mailbox", "create", "-u", USER, "Newsletters"]);
    let cfg = Arc::new(config(stack.imap_port, r#"["INBOX", "Newsletters"]"#));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), None)
        .await
        .expect("first sync");
    let (desk, mut events) = Desk::new(Arc::clone(&store), (*cfg).clone(), Backend::Servers);
    desk.send(Command::SetFolderNotify {
        account: USER.into(),
        folder: "Newsletters".into(),
        notify: false,
    });
    desk.settled().await;
    let (_, notices, _) = said(&mut events);
    assert!(
        notices
            .iter()
            .any(|n| n == "New mail in \"Newsletters\" no longer notifies."),
        "{notices:?}"
    );
    let quiet = desk
        .folders()
        .expect("folders")
        .into_iter()
        .flat_map(|a| a.folders)
        .find(|f| f.name == "Newsletters")
        .expect("synced");
    assert!(quiet.skip_notification, "the pane can show it is quiet");

    for (i, raw) in gen_mailbox(2, 35).into_iter().enumerate() {
        let to = if i == 0 { "Newsletters" } else { "INBOX" };
        stack.save_to(USER, to, &raw);
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    sync::run(Arc::clone(&cfg), Arc::clone(&store), once(), Some(tx))
        .await
        .expect("second sync");
    let mut notified = Vec::new();
    while let Ok(u) = rx.try_recv() {
        if let SyncUpdate::NewMail { folder, count, .. } = u {
            notified.push((folder, count));
        }
    }
    assert_eq!(notified, vec![("INBOX".to_string(), 1)]);
    let total = desk
        .folders()
        .expect("folders")
        .into_iter()
        .flat_map(|a| a.folders)
        .find(|f| f.name == "Newsletters")
        .map(|f| f.total);
    assert_eq!(total, Some(1), "the quiet folder still syncs");
}
