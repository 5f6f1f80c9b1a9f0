//! Store behaviour on a real sled database in a temp dir.

use super::*;

fn mail(account: &str, folder: &str, uid: u32, mid: &str, date: i64, subject: &str) -> NewMail {
    NewMail {
        account: account.into(),
        folder: folder.into(),
        uidvalidity: 7,
        uid,
        flags: 0,
        summary: MessageSummary {
            message_id: mid.into(),
            subject: subject.into(),
            date,
            from: vec![Party {
                name: "Emma".into(),
                email: "emma@northwind.example".into(),
            }],
            ..MessageSummary::default()
        },
        raw: Some(format!("Subject: {subject}\r\n\r\nbody").into_bytes()),
    }
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    (dir, store)
}

#[test]
fn data_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("desk");
    let _s = Store::open(&d).expect("open");
    let mode = std::fs::metadata(&d).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn two_different_mails_sharing_a_message_id_are_both_kept_and_the_later_marked() {
    let (_d, s) = open();
    let first = s
        .ingest(
            vec![mail("support", "INBOX", 1, "<same@x>", 100, "Ticket 1")],
            None,
        )
        .expect("ingest");
    // In a later batch, then in the same batch as its own copy elsewhere.
    let later = s
        .ingest(
            vec![
                mail("support", "INBOX", 2, "<same@x>", 200, "Ticket 2"),
                mail("support", "Archive", 1, "<same@x>", 200, "Ticket 2"),
                mail("support", "Archive", 2, "<same@x>", 100, "Ticket 1"),
            ],
            None,
        )
        .expect("ingest");
    assert_eq!(first.created.len(), 1);
    assert_eq!(later.created.len(), 1, "{later:?}");
    let (a, b) = (first.created[0], later.created[0]);
    assert_ne!(a, b);
    assert_eq!(s.stats().expect("stats").messages, 2);
    assert_eq!(s.locations(a).expect("locs").len(), 2);
    assert_eq!(s.locations(b).expect("locs").len(), 2);
    let sa = s.summary(a).expect("read").expect("first");
    let sb = s.summary(b).expect("read").expect("second");
    assert_eq!(sa.subject, "Ticket 1");
    assert!(!sa.msgid_clash);
    assert_eq!(sb.subject, "Ticket 2");
    assert!(sb.msgid_clash);
    // Read back again in a new batch: still the same two mails.
    let again = s
        .ingest(
            vec![mail("alice", "INBOX", 9, "<same@x>", 200, "Ticket 2")],
            None,
        )
        .expect("ingest");
    assert_eq!(again.located, vec![b]);
}

#[test]
fn same_message_id_in_two_folders_is_one_record_with_two_locations() {
    let (_d, s) = open();
    let r = s
        .ingest(
            vec![
                mail("support", "INBOX", 1, "<a@x>", 100, "Hello"),
                mail("alice", "INBOX", 1, "<a@x>", 100, "Hello"),
            ],
            None,
        )
        .expect("ingest");
    assert_eq!(r.created.len(), 1);
    assert_eq!(r.located.len(), 1);
    let st = s.stats().expect("stats");
    assert_eq!(st.messages, 1);
    assert_eq!(s.locations(r.created[0]).expect("locs").len(), 2);
}

#[test]
fn replaying_a_batch_adds_nothing() {
    let (_d, s) = open();
    let batch = || {
        vec![
            mail("support", "INBOX", 1, "<a@x>", 100, "A"),
            mail("support", "INBOX", 2, "<b@x>", 200, "B"),
        ]
    };
    s.ingest(batch(), None).expect("first");
    let again = s.ingest(batch(), None).expect("again");
    assert!(again.created.is_empty());
    assert_eq!(again.skipped, 2);
    let st = s
        .folder_state("support", "INBOX")
        .expect("state")
        .expect("some");
    assert_eq!(st.total, 2);
    assert_eq!(st.unread, 2);
}

#[test]
fn folder_pages_come_newest_first_and_continue_from_a_key() {
    let (_d, s) = open();
    let mails = (1..=50)
        .map(|i| {
            mail(
                "support",
                "INBOX",
                i,
                &format!("<{i}@x>"),
                i as i64 * 10,
                &format!("S{i}"),
            )
        })
        .collect();
    s.ingest(mails, None).expect("ingest");
    let first = s.page("support", "INBOX", None, 5).expect("page");
    let subjects: Vec<_> = first.iter().map(|r| r.summary.subject.clone()).collect();
    assert_eq!(subjects, ["S50", "S49", "S48", "S47", "S46"]);
    let next = s
        .page("support", "INBOX", Some(&first[4].key), 3)
        .expect("next");
    assert_eq!(next[0].summary.subject, "S45");
    let back = s
        .page_before("support", "INBOX", Some(&next[0].key), 2)
        .expect("back");
    assert_eq!(
        back.iter()
            .map(|r| r.summary.subject.as_str())
            .collect::<Vec<_>>(),
        ["S47", "S46"]
    );
    let end = s.page_before("support", "INBOX", None, 2).expect("end");
    assert_eq!(
        end.iter()
            .map(|r| r.summary.subject.as_str())
            .collect::<Vec<_>>(),
        ["S2", "S1"]
    );
    let at = s.page_at("support", "INBOX", &first[2].key, 1).expect("at");
    assert_eq!(at[0].summary.subject, "S48");
}

#[test]
fn replies_join_the_thread_of_their_parent() {
    let (_d, s) = open();
    let root = mail("support", "INBOX", 1, "<root@x>", 10, "Printer jams");
    let mut reply = mail("support", "INBOX", 2, "<r1@x>", 20, "Re: Printer jams");
    reply.summary.in_reply_to = vec!["<root@x>".into()];
    let r = s.ingest(vec![root, reply], None).expect("ingest");
    let a = s.summary(r.created[0]).expect("a").expect("some");
    let b = s.summary(r.created[1]).expect("b").expect("some");
    assert_eq!(a.thread_id, b.thread_id);
    assert_eq!(s.thread_size(a.thread_id).expect("size"), 2);
}

#[test]
fn a_lone_mail_costs_no_thread_size_row_and_a_later_reply_counts_two() {
    let (_d, s) = open();
    let r = s
        .ingest(
            vec![mail("support", "INBOX", 1, "<root@x>", 10, "Printer jams")],
            None,
        )
        .expect("root");
    let root = r.created[0];
    assert_eq!(s.thread_size(root).expect("size"), 1);
    assert_eq!(s.count_prefix(&[keys::THREAD_SIZE]), 0);
    // The reply comes in a later batch, so the count starts from the store.
    let mut reply = mail("support", "INBOX", 2, "<r1@x>", 20, "Re: Printer jams");
    reply.summary.in_reply_to = vec!["<root@x>".into()];
    s.ingest(vec![reply], None).expect("reply");
    assert_eq!(s.thread_size(root).expect("size"), 2);
    let page = s.page("support", "INBOX", None, 10).expect("page");
    assert!(page.iter().all(|r| r.thread_size == 2), "{page:?}");
}

#[test]
fn flags_change_keeps_unread_counter_right() {
    let (_d, s) = open();
    s.ingest(vec![mail("support", "INBOX", 1, "<a@x>", 1, "A")], None)
        .expect("ingest");
    assert!(
        s.set_flags("support", "INBOX", 7, 1, flags::SEEN)
            .expect("set")
    );
    assert_eq!(
        s.folder_state("support", "INBOX")
            .expect("st")
            .expect("some")
            .unread,
        0
    );
    let st = s.stats().expect("stats");
    assert_eq!(st.accounts[0].folders[0].unread, 0);
}

#[test]
fn uidvalidity_reset_keeps_record_links() {
    let (_d, s) = open();
    let r = s
        .ingest(vec![mail("support", "INBOX", 1, "<a@x>", 1, "A")], None)
        .expect("ingest");
    let id = r.created[0];
    let mut c = Record::new(RecordKind::Contact, "Emma");
    c.emails = vec!["emma@northwind.example".into()];
    let c = s.put_record(c).expect("rec");
    s.link(id, c.reference()).expect("link");
    s.reset_folder("support", "INBOX").expect("reset");
    assert_eq!(s.stats().expect("stats").accounts[0].folders[0].total, 0);
    let mut again = mail("support", "INBOX", 1, "<a@x>", 1, "A");
    again.uidvalidity = 8;
    let r2 = s.ingest(vec![again], None).expect("reingest");
    assert_eq!(r2.located, vec![id]);
    assert_eq!(s.links_of(id).expect("links").len(), 1);
}

#[test]
fn deleted_record_goes_to_trash_and_comes_back() {
    let (_d, s) = open();
    let mut c = Record::new(RecordKind::Contact, "Emma");
    c.emails = vec!["Emma@Northwind.example ".into()];
    let c = s.put_record(c).expect("put");
    assert_eq!(
        s.records_by_address("emma@northwind.example")
            .expect("by addr")
            .len(),
        1
    );
    s.delete_record(RecordKind::Contact, c.id).expect("delete");
    assert!(s.records(RecordKind::Contact).expect("list").is_empty());
    assert!(
        s.records_by_address("emma@northwind.example")
            .expect("by addr")
            .is_empty()
    );
    s.restore_record(RecordKind::Contact, c.id)
        .expect("restore");
    assert_eq!(s.records(RecordKind::Contact).expect("list").len(), 1);
}

#[test]
fn company_history_includes_its_contacts_mail_newest_first() {
    let (_d, s) = open();
    let r = s
        .ingest(
            vec![
                mail("support", "INBOX", 1, "<a@x>", 10, "Old"),
                mail("support", "INBOX", 2, "<b@x>", 20, "New"),
            ],
            None,
        )
        .expect("ingest");
    let co = s
        .put_record(Record::new(RecordKind::Account, "Northwind"))
        .expect("co");
    let mut c = Record::new(RecordKind::Contact, "Emma");
    c.parent = Some(co.reference());
    let c = s.put_record(c).expect("c");
    s.link(r.created[0], c.reference()).expect("l1");
    s.link(r.created[1], co.reference()).expect("l2");
    let h = s.history(&co).expect("history");
    assert_eq!(
        h.iter()
            .map(|i| i.message.subject.as_str())
            .collect::<Vec<_>>(),
        ["New", "Old"]
    );
}

#[test]
fn outbox_entry_survives_reopen() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let s = Store::open(dir.path()).expect("open");
        s.enqueue(OutboxEntry {
            id: 0,
            account: "support".into(),
            message_id: "<m@x>".into(),
            from: "support@desk.example".into(),
            recipients: vec!["c@example.com".into()],
            subject: "Hi".into(),
            raw: b"Subject: Hi\r\n\r\nx".to_vec(),
            state: OutboxState::Queued,
            last_error: None,
            created: 0,
            in_reply_to: None,
            unconfirmed: false,
        })
        .expect("enqueue");
    }
    let s = Store::open(dir.path()).expect("reopen");
    let e = s.outbox_entries().expect("entries");
    assert_eq!(e.len(), 1);
    assert_eq!(s.stats().expect("stats").outbox.get("queued"), Some(&1));
}

#[test]
fn schema_1_bodies_move_to_their_own_tree_on_open() {
    let dir = tempfile::tempdir().expect("tmp");
    let id;
    {
        let s = Store::open(dir.path()).expect("open");
        let mut m = mail("support", "INBOX", 1, "<old@x>", 1, "old");
        m.raw = None;
        id = s.ingest(vec![m], None).expect("ingest").created[0];
        downgrade_to_schema_3(&s);
        s.tree
            .insert(
                keys::with_id(keys::BODY, id),
                b"Subject: old\r\n\r\nx".to_vec(),
            )
            .expect("insert");
        s.tree
            .insert(keys::SCHEMA_VERSION, &1u64.to_be_bytes())
            .expect("version");
        s.flush().expect("flush");
    }
    let s = Store::open(dir.path()).expect("reopen");
    assert_eq!(
        s.body(id).expect("body").as_deref(),
        Some(&b"Subject: old\r\n\r\nx"[..])
    );
    assert!(s.tree.scan_prefix([keys::BODY]).next().is_none());
    let v = s
        .tree
        .get(keys::SCHEMA_VERSION)
        .expect("get")
        .expect("some");
    assert_eq!(keys::read_u64(&v), SCHEMA as u64);
}

#[test]
fn schema_2_bodies_move_to_segment_files_on_open_and_stay_readable() {
    let dir = tempfile::tempdir().expect("tmp");
    let body = |i: u64| format!("Subject: old {i}\r\n\r\n{}", "x".repeat(i as usize)).into_bytes();
    let ids: Vec<u64>;
    {
        let s = Store::open(dir.path()).expect("open");
        // Headers only: the schema 2 bodies below are the only ones.
        let mails = (0..300u32)
            .map(|i| {
                let mut m = mail(
                    "support",
                    "INBOX",
                    i + 1,
                    &format!("<{i}@x>"),
                    i.into(),
                    "A",
                );
                m.raw = None;
                m
            })
            .collect();
        ids = s.ingest(mails, None).expect("ingest").created;
        downgrade_to_schema_3(&s);
        // A schema 2 desk: bodies in their own sled tree, none in segments.
        for (i, id) in ids.iter().enumerate() {
            s.bodies
                .insert(Store::body_key(*id), body(i as u64))
                .expect("insert");
        }
        s.tree
            .insert(keys::SCHEMA_VERSION, &2u64.to_be_bytes())
            .expect("version");
        s.flush().expect("flush");
    }
    let s = Store::open(dir.path()).expect("reopen");
    assert_eq!(s.bodies.len(), 0, "the old tree is emptied");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(s.body(*id).expect("body"), Some(body(i as u64)), "body {i}");
    }
    assert_eq!(
        s.stats().expect("stats").accounts[0].folders[0].bodies_missing,
        0
    );
    let v = s
        .tree
        .get(keys::SCHEMA_VERSION)
        .expect("get")
        .expect("some");
    assert_eq!(keys::read_u64(&v), SCHEMA as u64);
    drop(s);
    // Opening again moves nothing twice and loses nothing.
    let s = Store::open(dir.path()).expect("third open");
    assert_eq!(s.body(ids[299]).expect("body"), Some(body(299)));
}

/// Rewrite a desk as schema 3 wrote it: a bare JSON summary under `m`, the
/// body place under `B`, each location under `l`, each link under `L`.
fn downgrade_to_schema_3(s: &Store) {
    let rows: Vec<_> = s
        .tree
        .scan_prefix([keys::MESSAGE])
        .map(|i| i.expect("row"))
        .collect();
    for (k, v) in rows {
        let id = keys::read_u64(&k[1..]);
        let row = message_row::MessageRow::decode(&v).expect("decode");
        let summary = row.summary().expect("summary");
        s.tree
            .insert(k, encode(&summary).expect("json"))
            .expect("m");
        if let Some(b) = row.body {
            s.tree
                .insert(keys::with_id(keys::BODY_AT, id), &b.encode()[..])
                .expect("B");
        }
        for l in &row.locations {
            s.tree
                .insert(
                    keys::location(id, &l.account, &l.folder),
                    encode(l).expect("loc"),
                )
                .expect("l");
        }
        for (kind, rid) in &row.links {
            s.tree
                .insert(
                    keys::link_by_message(id, kind.code(), *rid),
                    &summary.date.to_be_bytes(),
                )
                .expect("L");
        }
    }
    s.tree
        .insert(keys::SCHEMA_VERSION, &3u64.to_be_bytes())
        .expect("version");
}

/// Everything a desk shows of its mail, to compare across a migration.
#[derive(Debug, PartialEq)]
struct DeskView {
    stats: Stats,
    mails: Vec<MailView>,
}

#[derive(Debug, PartialEq)]
struct MailView {
    summary: MessageSummary,
    body: Option<Vec<u8>>,
    locations: Vec<(Location, Option<u8>)>,
    links: Vec<RecordRef>,
    messages_of_links: Vec<Vec<u64>>,
    state: search_feed::MailState,
}

fn desk_view(s: &Store) -> DeskView {
    let mut mails = Vec::new();
    for id in s.message_ids_after(0, usize::MAX).expect("ids") {
        let mut locations: Vec<(Location, Option<u8>)> = s
            .locations(id)
            .expect("locs")
            .into_iter()
            .map(|l| {
                let flags = s
                    .flags_of(&l.account, &l.folder, id)
                    .expect("flags")
                    .map(|(_, f)| f);
                (l, flags)
            })
            .collect();
        locations.sort_by(|a, b| (&a.0.account, &a.0.folder).cmp(&(&b.0.account, &b.0.folder)));
        let mut links: Vec<RecordRef> = s
            .links_of(id)
            .expect("links")
            .iter()
            .map(Record::reference)
            .collect();
        links.sort();
        let messages_of_links = links
            .iter()
            .map(|r| s.messages_of(*r).expect("messages of"))
            .collect();
        mails.push(MailView {
            summary: s.summary(id).expect("summary").expect("some"),
            body: s.body(id).expect("body"),
            locations,
            links,
            messages_of_links,
            state: s.mail_state(id).expect("state"),
        });
    }
    DeskView {
        stats: s.stats().expect("stats"),
        mails,
    }
}

/// A schema 3 desk of `n` mails: some in two folders, some read, some
/// headers only, some linked to a contact or a case.
fn schema_3_desk(dir: &std::path::Path, n: u32) -> DeskView {
    let s = Store::open(dir).expect("open");
    let mut mails = Vec::new();
    for i in 0..n {
        let mut m = mail(
            "support",
            "INBOX",
            i + 1,
            &format!("<{i}@x>"),
            i.into(),
            &format!("Ticket {i}"),
        );
        if i % 3 == 0 {
            m.flags = flags::SEEN;
        }
        if i % 5 == 0 {
            m.raw = None;
        }
        mails.push(m);
        if i % 4 == 0 {
            let mut copy = mail(
                "support",
                "Archive",
                i + 1,
                &format!("<{i}@x>"),
                i.into(),
                &format!("Ticket {i}"),
            );
            copy.flags = flags::FLAGGED;
            mails.push(copy);
        }
    }
    let ids = s.ingest(mails, None).expect("ingest").created;
    let mut c = Record::new(RecordKind::Contact, "Emma");
    c.emails = vec!["emma@northwind.example".into()];
    let c = s.put_record(c).expect("contact");
    let case = s
        .put_record(Record::new(RecordKind::Case, "Refund"))
        .expect("case");
    for (i, id) in ids.iter().enumerate() {
        if i % 2 == 0 {
            assert!(s.link(*id, c.reference()).expect("link"));
        }
        if i % 7 == 0 {
            assert!(s.link(*id, case.reference()).expect("link"));
        }
    }
    // A body fetched after its summary, as a headers-first sync does.
    s.put_bodies(vec![(ids[5], b"Subject: late\r\n\r\nbody".to_vec())])
        .expect("late body");
    let view = desk_view(&s);
    assert!(view.stats.bodies > 0 && view.stats.links > 0);
    downgrade_to_schema_3(&s);
    s.flush().expect("flush");
    view
}

fn assert_no_schema_3_rows(s: &Store) {
    for tag in [keys::BODY_AT, keys::LOCATION, keys::LINK_BY_MESSAGE] {
        assert!(
            s.tree.scan_prefix([tag]).next().is_none(),
            "rows of family {:?} are left",
            tag as char
        );
    }
    for item in s.tree.scan_prefix([keys::MESSAGE]).values() {
        assert!(message_row::is_current(&item.expect("row")));
    }
    let v = s
        .tree
        .get(keys::SCHEMA_VERSION)
        .expect("get")
        .expect("some");
    assert_eq!(keys::read_u64(&v), 4);
}

#[test]
fn a_schema_3_desk_opens_as_schema_4_with_mail_bodies_places_links_flags_and_counts_intact() {
    let dir = tempfile::tempdir().expect("tmp");
    // More mails than one migration chunk.
    let before = schema_3_desk(dir.path(), 1300);
    let s = Store::open(dir.path()).expect("reopen");
    assert_no_schema_3_rows(&s);
    let after = desk_view(&s);
    assert_eq!(after.stats, before.stats);
    assert_eq!(after.mails.len(), before.mails.len());
    for (a, b) in after.mails.iter().zip(&before.mails) {
        assert_eq!(a, b, "mail {}", b.summary.id);
    }
    // The migrated rows take new mail like any other: a copy in a third folder.
    let id = before.mails[1].summary.id;
    let mut m = mail("support", "Later", 1, "<1@x>", 1, "Ticket 1");
    m.raw = None;
    assert_eq!(s.ingest(vec![m], None).expect("ingest").located, vec![id]);
    assert_eq!(s.locations(id).expect("locs").len(), 2);
}

#[test]
fn a_migration_to_schema_4_cut_short_resumes_on_the_next_open_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let before = schema_3_desk(dir.path(), 60);
    {
        let s = Store::open_unmigrated_for_tests(dir.path());
        // Two chunks of 7 rows done, then the process is gone.
        s.fold_message_rows(7, Some(2)).expect("part");
        let v = s
            .tree
            .get(keys::SCHEMA_VERSION)
            .expect("get")
            .expect("some");
        assert_eq!(keys::read_u64(&v), 3, "the version moves last");
        let current = s
            .tree
            .scan_prefix([keys::MESSAGE])
            .values()
            .filter(|v| message_row::is_current(v.as_ref().expect("row")))
            .count();
        assert_eq!(current, 14);
        s.flush().expect("flush");
    }
    let s = Store::open(dir.path()).expect("reopen");
    assert_no_schema_3_rows(&s);
    let after = desk_view(&s);
    assert_eq!(after, before);
}

#[test]
fn closing_a_case_stamps_when_and_reopening_clears_it() {
    let (_d, s) = open();
    let mut case = Record::new(RecordKind::Case, "Refund");
    case.fields.insert("status".into(), "Assigned".into());
    let case = s.put_record(case).expect("create");
    assert_eq!(case.field("closed_at"), None);

    let mut closed = case.clone();
    closed.fields.insert("status".into(), "Closed".into());
    let closed = s.put_record(closed).expect("close");
    let stamp: i64 = closed
        .field("closed_at")
        .expect("closing stamps the time")
        .parse()
        .expect("unix seconds");
    assert!((chrono::Utc::now().timestamp() - stamp).abs() < 3600);

    // Saving a closed case again keeps the time it was closed.
    let mut edited = closed.clone();
    edited.fields.insert("closed_at".into(), "1000".into());
    let edited = s.put_record(edited).expect("edit");
    assert_eq!(edited.field("closed_at"), Some("1000"));

    let mut reopened = edited.clone();
    reopened.fields.insert("status".into(), "Pending".into());
    let reopened = s.put_record(reopened).expect("reopen");
    assert_eq!(reopened.field("closed_at"), None);
    let stored = s
        .record(RecordKind::Case, reopened.id)
        .expect("read")
        .expect("case");
    assert_eq!(stored.field("closed_at"), None);
}
