//! Full-text search: stemming, fields, phrases, cases, stale hits, the
//! `deskmail search`/`reindex` binary (exit codes, rebuild, a kill mid-index)
//! and mail synced from a real Dovecot showing up in a search.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use deskmail::config::Config;
use deskmail::search::{SearchIndex, indexer};
use deskmail::store::{NewMail, Record, RecordKind, Store, flags};
use support::{MailStack, StackOptions, gen_mailbox, poll_until};

const BIN: &str = env!("CARGO_BIN_EXE_deskmail");
const WAIT: Duration = Duration::from_secs(60);

fn mail(from: &str, subject: &str, body: &str, n: u32) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@desk.example\r\nSubject: {subject}\r\n\
         Date: Mon, 2 Nov 2026 10:{:02}:00 +0000\r\nMessage-ID: <m{n}@test.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        n % 60
    )
    .into_bytes()
}

/// Put mails into support/INBOX; returns their ids in order.
fn put(store: &Store, mails: &[Vec<u8>]) -> Vec<u64> {
    let base = store
        .folder_state("support", "INBOX")
        .expect("state")
        .map(|s| s.total as u32)
        .unwrap_or(0);
    let batch = mails
        .iter()
        .enumerate()
        .map(|(i, raw)| NewMail {
            account: "support".into(),
            folder: "INBOX".into(),
            uidvalidity: 1,
            uid: base + i as u32 + 1,
            flags: 0,
            summary: deskmail::sync::ingest::summary_from_raw(raw, &[]),
            raw: Some(raw.clone()),
        })
        .collect();
    let report = store.ingest(batch, None).expect("ingest");
    report.created
}

fn ids(index: &SearchIndex, store: &Store, q: &str) -> BTreeSet<u64> {
    index
        .search(store, q, 1000)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .into_iter()
        .map(|h| h.summary.id)
        .collect()
}

fn set(v: &[u64]) -> BTreeSet<u64> {
    v.iter().copied().collect()
}

fn indexed(dir: &Path, store: &Store) -> SearchIndex {
    let index = SearchIndex::open(dir).expect("index");
    index.catch_up(store, &mut |_, _| {}).expect("catch up");
    index
}

#[test]
fn russian_stemming_finds_other_forms_of_a_word() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    let got = put(
        &store,
        &[
            mail(
                "a@x.example",
                "Вопрос",
                "Пришлите, пожалуйста, счета за ноябрь.",
                1,
            ),
            mail("b@x.example", "Доставка", "Где мой заказ?", 2),
        ],
    );
    let index = indexed(dir.path(), &store);
    assert_eq!(ids(&index, &store, "счёт"), set(&got[..1]));
    assert_eq!(ids(&index, &store, "СЧЕТУ"), set(&got[..1]));
    assert_eq!(ids(&index, &store, "заказы"), set(&got[1..]));
}

#[test]
fn from_field_matches_only_the_sender() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    let got = put(
        &store,
        &[
            mail(
                "Lucas Moreau <lucas@contoso.example>",
                "Refund",
                "I want a refund.",
                1,
            ),
            mail(
                "Anna <anna@x.example>",
                "Re: Refund",
                "Lucas asked about refunds.",
                2,
            ),
            mail(
                "Lucas Moreau <lucas@contoso.example>",
                "Thanks",
                "All good now.",
                3,
            ),
        ],
    );
    let index = indexed(dir.path(), &store);
    assert_eq!(ids(&index, &store, "from:lucas refund"), set(&got[..1]));
    assert_eq!(ids(&index, &store, "lucas refund"), set(&got[..2]));
    assert_eq!(
        ids(&index, &store, "from:lucas@contoso.example"),
        set(&[got[0], got[2]])
    );
    assert_eq!(
        ids(&index, &store, "from:lucas -refund"),
        set(&got[2..]),
        "a negated word removes mails"
    );
}

#[test]
fn cyrillic_phrase_matches_the_words_in_order_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    let got = put(
        &store,
        &[
            mail(
                "a@x.example",
                "Оплата",
                "Оплата счёта задерживается на неделю.",
                1,
            ),
            mail(
                "b@x.example",
                "Вопрос",
                "Счёта нет, оплата будет завтра.",
                2,
            ),
        ],
    );
    let index = indexed(dir.path(), &store);
    assert_eq!(ids(&index, &store, "\"оплата счета\""), set(&got[..1]));
    assert_eq!(ids(&index, &store, "body:\"оплата счёта\""), set(&got[..1]));
    assert_eq!(ids(&index, &store, "оплата счёта"), set(&got));
}

#[test]
fn case_field_finds_mail_linked_to_a_case_once_the_link_is_refreshed() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    let got = put(
        &store,
        &[
            mail("a@x.example", "Printer jams", "It jams again.", 1),
            mail("b@x.example", "Printer ok", "Works.", 2),
        ],
    );
    let case = store
        .put_record(Record::new(RecordKind::Case, "Printer jams").with_field("number", "77"))
        .expect("case");
    store.link(got[0], case.reference()).expect("link");
    let index = indexed(dir.path(), &store);
    assert_eq!(ids(&index, &store, "case:77"), set(&got[..1]));
    assert_eq!(ids(&index, &store, "case:#77"), set(&got[..1]));
    assert!(ids(&index, &store, "case:78").is_empty());
    assert_eq!(
        ids(&index, &store, "record:\"printer jams\""),
        set(&got[..1])
    );

    // Linked after indexing: the Desk nudges the indexer, which refreshes it.
    store.link(got[1], case.reference()).expect("link");
    index.refresh(&store, &got[1..]).expect("refresh");
    assert_eq!(ids(&index, &store, "case:77"), set(&got));
}

#[test]
fn stale_hits_are_dropped_and_repaired_at_query_time() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    let got = put(
        &store,
        &[
            mail("a@x.example", "Invoice one", "invoice", 1),
            mail("b@x.example", "Invoice two", "invoice", 2),
            mail("c@x.example", "Invoice three", "invoice", 3),
        ],
    );
    let index = indexed(dir.path(), &store);
    assert_eq!(ids(&index, &store, "invoice is:unread"), set(&got));
    // Behind the index's back: one mail read, one expunged.
    store
        .set_flags("support", "INBOX", 1, 1, flags::SEEN)
        .expect("flags");
    store
        .remove_location("support", "INBOX", 1, 2)
        .expect("remove");
    assert_eq!(ids(&index, &store, "invoice is:unread"), set(&got[2..]));
    assert_eq!(ids(&index, &store, "invoice is:read"), set(&got[..1]));
    assert_eq!(index.len(), 2, "the expunged mail's document was removed");
    // A flag set behind the index shows after a reconcile (as on start).
    store
        .set_flags("support", "INBOX", 1, 3, flags::FLAGGED)
        .expect("flags");
    assert_eq!(index.reconcile(&store).expect("reconcile"), 1);
    assert_eq!(ids(&index, &store, "is:flagged"), set(&got[2..]));
}

#[test]
fn field_operators_dates_and_parentheses_combine() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    let got = put(
        &store,
        &[
            mail("a@x.example", "Alpha", "kiwi", 1),
            mail("b@x.example", "Beta", "mango", 2),
            mail("c@x.example", "Gamma", "kiwi mango", 3),
        ],
    );
    let index = indexed(dir.path(), &store);
    assert_eq!(
        ids(&index, &store, "(kiwi OR mango) -gamma"),
        set(&got[..2])
    );
    assert_eq!(
        ids(&index, &store, "kiwi AND NOT subject:alpha"),
        set(&got[2..])
    );
    assert_eq!(
        ids(&index, &store, "folder:inbox account:support"),
        set(&got)
    );
    assert_eq!(
        ids(&index, &store, "after:2026-11-02 before:2026-11-03"),
        set(&got)
    );
    assert!(ids(&index, &store, "before:2026-11-02").is_empty());
    assert!(ids(&index, &store, "folder:archive").is_empty());
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("XDG_STATE_HOME", std::env::temp_dir())
        .output()
        .expect("run deskmail");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn demo_desk(messages: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().to_string_lossy().to_string();
    let (code, _, err) = run(&[
        "demo",
        "--no-tui",
        "--messages",
        &messages.to_string(),
        "--data-dir",
        &d,
    ]);
    assert_eq!(code, 0, "demo: {err}");
    dir
}

fn json_ids(stdout: &str) -> Vec<u64> {
    stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            v["id"].as_u64().expect("id")
        })
        .collect()
}

#[test]
fn bad_query_exits_2_naming_the_token_and_column() {
    let desk = demo_desk(20);
    let d = desk.path().to_string_lossy().to_string();
    for (q, token) in [
        ("refund frm:lucas", "`frm:` at column 8"),
        ("(refund OR", "`OR` at column 9"),
        ("is:sleepy", "`is:sleepy` at column 1"),
    ] {
        let (code, out, err) = run(&["search", q, "--data-dir", &d]);
        assert_eq!(code, 2, "{q}: {err}");
        assert!(out.is_empty(), "{q}: nothing on stdout");
        assert!(
            err.contains("bad query") && err.contains(token),
            "{q}: {err}"
        );
    }
    let (code, _, _) = run(&["search", "zzqxnothing", "--data-dir", &d]);
    assert_eq!(code, 1, "no hits exits 1");
}

/// The oracle: mails from Lucas whose subject or rendered text says refund.
fn lucas_refunds(dir: &Path) -> BTreeSet<u64> {
    let store = Store::open(dir).expect("store");
    let mut want = BTreeSet::new();
    for id in store.message_ids_after(0, usize::MAX).expect("ids") {
        let s = store.summary(id).expect("summary").expect("exists");
        let from_lucas = s
            .from
            .iter()
            .any(|p| p.name.to_lowercase().contains("lucas") || p.email.contains("lucas"));
        let body = store.body(id).expect("body").unwrap_or_default();
        let text = deskmail::mail::render::render_to_text(&body).to_lowercase();
        if from_lucas && (text.contains("refund") || s.subject.to_lowercase().contains("refund")) {
            want.insert(id);
        }
    }
    want
}

#[test]
fn demo_desk_from_lucas_refund_json_prints_the_refund_requests() {
    let desk = demo_desk(320);
    let d = desk.path().to_string_lossy().to_string();
    let (code, out, err) = run(&["search", "from:lucas refund", "--json", "--data-dir", &d]);
    assert_eq!(code, 0, "{err}");
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert!(
            v["from_email"].as_str().unwrap_or("").contains("lucas"),
            "{line}"
        );
        assert!(
            v["subject"].as_str().is_some() && v["folders"].is_array(),
            "{line}"
        );
    }
    let got: BTreeSet<u64> = json_ids(&out).into_iter().collect();
    assert!(!got.is_empty());
    assert_eq!(got, lucas_refunds(desk.path()));
    let (code, text, _) = run(&["search", "from:lucas refund", "--data-dir", &d]);
    assert_eq!(code, 0);
    assert!(
        text.lines()
            .all(|l| l.contains("Lucas") && l.contains("support/INBOX"))
    );
}

const QUERIES: &[&str] = &[
    "refund",
    "from:lucas",
    "счёт",
    "\"order number\"",
    "is:unread -refund",
    "has:attachment",
    "date:3650d folder:inbox",
];

fn answers(d: &str) -> Vec<Vec<u64>> {
    QUERIES
        .iter()
        .map(|q| {
            let (code, out, err) =
                run(&["search", q, "--json", "--limit", "1000", "--data-dir", d]);
            assert!(code == 0 || code == 1, "{q}: {err}");
            json_ids(&out)
        })
        .collect()
}

#[test]
fn deleted_index_is_rebuilt_by_reindex_with_the_same_hits() {
    let desk = demo_desk(320);
    let d = desk.path().to_string_lossy().to_string();
    let before = answers(&d);
    assert!(before.iter().filter(|a| !a.is_empty()).count() >= 5);
    std::fs::remove_dir_all(desk.path().join("search")).expect("delete the index");
    let (code, out, err) = run(&["reindex", "--data-dir", &d]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("indexed 320 mails"), "{out}");
    assert_eq!(answers(&d), before);
    // Deleted again: the next search rebuilds it on its own.
    std::fs::remove_dir_all(desk.path().join("search")).expect("delete the index");
    assert_eq!(answers(&d), before);
}

#[test]
fn reindex_killed_midway_resumes_to_the_same_hits() {
    let desk = demo_desk(3000);
    let d = desk.path().to_string_lossy().to_string();
    let (code, _, err) = run(&["reindex", "--data-dir", &d]);
    assert_eq!(code, 0, "{err}");
    let clean = answers(&d);
    for delay_ms in [300u64, 900] {
        let mut child = Command::new(BIN)
            .args(["reindex", "--data-dir", &d])
            .env("XDG_STATE_HOME", std::env::temp_dir())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(delay_ms));
        // SIGKILL: no chance to flush or clean up.
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(answers(&d), clean, "after a kill at {delay_ms} ms");
    }
}

fn sync_config(stack: &MailStack) -> Arc<Config> {
    let text = format!(
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
check_interval_secs = 3600
"#,
        port = stack.imap_port,
        ca = stack.cert_pem.display()
    );
    Arc::new(Config::parse(&text, Path::new("config.toml")).expect("config"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_synced_during_a_search_appears_in_its_results() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox("support", gen_mailbox(200, 11));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let index = Arc::new(SearchIndex::open(dir.path()).expect("index"));
    let handle = indexer::spawn(Arc::clone(&index), Arc::clone(&store));
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let sync = deskmail::sync::spawn_all(sync_config(&stack), Arc::clone(&store), tx);
    let (i, s) = (Arc::clone(&index), Arc::clone(&store));
    poll_until(WAIT, || {
        let n = i.len();
        let total = s.message_count();
        async move { (n == 200 && total == 200).then_some(()) }
    })
    .await
    .expect("the initial 200 mails indexed behind the sync");
    let query = "subject:\"квартальный отчёт\" OR zephyrine";
    assert!(index.search(&store, query, 10).expect("search").is_empty());

    // The agent keeps the search open; a matching mail arrives by IMAP IDLE.
    let raw = mail(
        "Ольга <olga@client.example>",
        "Квартальный отчёт",
        "Отчёт приложен, zephyrine.",
        99,
    );
    stack.deliver("support", &raw);
    let (i, s) = (Arc::clone(&index), Arc::clone(&store));
    let hits = poll_until(WAIT, || {
        let hits = i.search(&s, query, 10).expect("search");
        async move { (!hits.is_empty()).then_some(hits) }
    })
    .await
    .expect("the new mail appears in the search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].summary.subject, "Квартальный отчёт");
    assert_eq!(hits[0].places[0].1, "INBOX");
    sync.shutdown();
    handle.shutdown();
}

/// The acceptance case on screen: the agent's search is open in the
/// interface (a real desk syncing from Dovecot), a matching mail arrives by
/// IMAP, and the "Search: …" list shows it without a key pressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_synced_during_a_search_appears_in_the_live_results_on_screen() {
    use deskmail::desk::{Backend, Desk};
    use deskmail::tui::app::{App, View};
    use deskmail::tui::keymap::{Key, Keymap};
    use std::time::Instant;

    let stack = MailStack::start_with(StackOptions::dovecot_only());
    stack.fill_inbox("support", gen_mailbox(50, 5));
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    let (desk, mut events) = Desk::new(
        Arc::clone(&store),
        (*sync_config(&stack)).clone(),
        Backend::Servers,
    );
    desk.set_data_dir(dir.path());
    desk.start_search(dir.path());
    desk.start_background();
    let (d, s) = (Arc::clone(&desk), Arc::clone(&store));
    poll_until(WAIT, || {
        let done = s.message_count() == 50 && d.search_caught_up();
        async move { done.then_some(()) }
    })
    .await
    .expect("the first 50 mails synced and indexed");

    let mut app = App::new(Keymap::builtin("default").expect("keymap"));
    app.list.height = 10;
    for c in app.load(&*desk) {
        desk.send(c);
    }
    for k in Key::parse_sequence("/ z e p h y r i n e").expect("keys") {
        app.handle_key(&*desk, k);
    }
    let cmds = app
        .search_tick(&*desk, Instant::now() + Duration::from_secs(1))
        .expect("the query ran once typing paused");
    assert!(cmds.is_empty());
    assert_eq!(app.list.view, View::Search);
    assert!(app.list.rows.is_empty(), "nothing matches yet");

    stack.deliver(
        "support",
        &mail(
            "Ольга <olga@client.example>",
            "Квартальный отчёт",
            "Отчёт приложен, zephyrine.",
            77,
        ),
    );
    // Only the desk's events move the screen: sync, then the index's commit.
    let deadline = Instant::now() + WAIT;
    while app.list.rows.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the new mail never reached the search list"
        );
        if let Ok(Some(e)) = tokio::time::timeout(left, events.recv()).await {
            for c in app.handle_event(&*desk, e) {
                desk.send(c);
            }
        }
    }
    assert_eq!(app.list.view, View::Search, "still the search, not INBOX");
    let row = &app.list.rows[0];
    assert_eq!(row.summary.subject, "Квартальный отчёт");
    assert_eq!(app.list.rows.len(), 1);
    assert_eq!(app.list.folder, "INBOX", "commands on it go to its folder");
    assert_eq!(app.reader.id, Some(row.summary.id), "selected, rendering");
}

/// `deskmail search` with its log in `state`.
fn run_logged(state: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("XDG_STATE_HOME", state)
        .output()
        .expect("run deskmail");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn answered_alone(state: &Path) -> usize {
    std::fs::read_to_string(state.join("deskmail/deskmail.log"))
        .unwrap_or_default()
        .matches("answered from the index alone")
        .count()
}

#[test]
fn search_answers_from_the_index_alone_until_the_store_changes() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = tempfile::tempdir().expect("state");
    let d = dir.path().to_string_lossy().to_string();
    let store = Store::open(dir.path()).expect("store");
    let first = put(
        &store,
        &[
            mail("Ann <ann@a.example>", "zephyrine one", "first", 1),
            mail("Bob <bob@b.example>", "zephyrine two", "second", 2),
        ],
    );
    drop(store);
    let search = |args: &[&str]| run_logged(state.path(), args);
    let (code, out, err) = search(&["search", "zephyrine", "--json", "--data-dir", &d]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_ids(&out), vec![first[1], first[0]]);
    assert_eq!(
        answered_alone(state.path()),
        0,
        "the first search opens the store"
    );

    let (code, again, _) = search(&["search", "zephyrine", "--json", "--data-dir", &d]);
    assert_eq!(code, 0);
    assert_eq!(again, out, "the index alone prints the same");
    assert_eq!(answered_alone(state.path()), 1);

    // Another process changes the store: the next search sees it.
    let store = Store::open(dir.path()).expect("store");
    let third = put(
        &store,
        &[mail("Cid <cid@c.example>", "zephyrine three", "third", 3)],
    );
    drop(store);
    let (code, out, _) = search(&["search", "zephyrine", "--json", "--data-dir", &d]);
    assert_eq!(code, 0);
    assert_eq!(json_ids(&out).len(), 3, "{out}");
    assert!(json_ids(&out).contains(&third[0]));
    assert_eq!(answered_alone(state.path()), 1, "a changed store is opened");

    // A running desk holds the store: its index answers, and says so.
    let held = Store::open(dir.path()).expect("store");
    let (code, out, err) = search(&["search", "zephyrine", "--json", "--data-dir", &d]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_ids(&out).len(), 3);
    assert!(
        err.contains("answering from the search index alone"),
        "{err}"
    );
    drop(held);

    // Whatever the desk's size, a reindex leaves the index marked current.
    let alone = answered_alone(state.path());
    let (code, _, err) = search(&["reindex", "--data-dir", &d]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = search(&["search", "zephyrine", "--json", "--data-dir", &d]);
    assert_eq!(code, 0);
    assert_eq!(json_ids(&out).len(), 3);
    assert_eq!(answered_alone(state.path()), alone + 1);
}
