use super::*;
use crate::store::{Store, StoreError};
use crate::sync::pipeline::{Extras, Incoming, Pipeline};
use std::sync::Arc;

fn agents(list: &[(&str, bool)]) -> Vec<TeamAgent> {
    list.iter()
        .map(|(e, a)| TeamAgent {
            email: e.to_string(),
            active: *a,
        })
        .collect()
}

#[test]
fn machine_mail_is_recognised_by_each_header_and_sender() {
    let h = |extra: &str| format!("From: a@cust.example\r\n{extra}\r\nbody\r\n").into_bytes();
    for extra in [
        "Auto-Submitted: auto-generated\r\n",
        "Auto-Submitted: auto-replied; owner-email=x@y\r\n",
        "Precedence: bulk\r\n",
        "Precedence: JUNK\r\n",
        "Precedence: list\r\n",
        "Precedence: auto_reply\r\n",
        "List-Id: <news.example>\r\n",
        "List-Unsubscribe:\r\n <mailto:u@news.example>\r\n",
        "X-Autoreply: yes\r\n",
        "X-Autorespond: on\r\n",
        "Return-Path: <>\r\n",
    ] {
        assert!(is_automatic(&h(extra), Some("a@cust.example")), "{extra}");
    }
    for sender in [
        "MAILER-DAEMON@mx.example",
        "postmaster@cust.example",
        "noreply@shop.example",
        "no-reply@shop.example",
        "do-not-reply@shop.example",
    ] {
        assert!(is_automatic(&h(""), Some(sender)), "{sender}");
    }
}

#[test]
fn a_person_s_mail_is_not_automatic() {
    let raw = b"From: Ann <ann@cust.example>\r\nAuto-Submitted: no\r\nPrecedence: normal\r\n\
                Return-Path: <ann@cust.example>\r\n\r\nList-Id: in the body\r\n";
    assert!(!is_automatic(raw, Some("ann@cust.example")));
}

#[test]
fn subject_tags_and_own_message_ids_carry_the_case_number() {
    assert_eq!(
        numbers_in_subject("Re: printer [#12]", "[#{number}]"),
        vec![12]
    );
    assert_eq!(
        numbers_in_subject("[#3] and [#45]", "[#{number}]"),
        vec![3, 45]
    );
    assert!(numbers_in_subject("order #12", "[#{number}]").is_empty());
    assert_eq!(numbers_in_subject("Case 7: x", "Case {number}:"), vec![7]);
    assert_eq!(tag_subject("Printer", "[#{number}]", 4), "Printer [#4]");
    assert_eq!(
        tag_subject("Re: Printer [#4]", "[#{number}]", 4),
        "Re: Printer [#4]"
    );
    let id = case_message_id(42, "a1b2", "desk.example");
    assert_eq!(case_in_message_id(&format!("<{id}>")), Some(42));
    assert_eq!(case_in_message_id("<case42@desk.example>"), None);
}

#[test]
fn round_robin_goes_in_team_order_and_skips_inactive_agents() {
    let team = agents(&[("a@d", true), ("b@d", true), ("c@d", true)]);
    let none = HashMap::new();
    let mut pointer: Option<String> = None;
    let mut got = Vec::new();
    for _ in 0..4 {
        let a = choose_assignee(
            AssignmentPolicy::RoundRobin,
            None,
            &team,
            pointer.as_deref(),
            &none,
            &HashMap::new(),
        );
        pointer = a.clone();
        got.push(a.unwrap_or_default());
    }
    assert_eq!(got, ["a@d", "b@d", "c@d", "a@d"]);
    let team = agents(&[("a@d", true), ("b@d", false), ("c@d", true)]);
    let next = choose_assignee(
        AssignmentPolicy::RoundRobin,
        None,
        &team,
        Some("a@d"),
        &none,
        &HashMap::new(),
    );
    assert_eq!(next.as_deref(), Some("c@d"));
    let nobody = agents(&[("a@d", false)]);
    assert_eq!(
        choose_assignee(
            AssignmentPolicy::RoundRobin,
            None,
            &nobody,
            None,
            &none,
            &HashMap::new()
        ),
        None
    );
}

#[test]
fn least_busy_takes_the_fewest_open_cases_then_the_least_recently_assigned() {
    let team = agents(&[("a@d", true), ("b@d", true), ("c@d", true)]);
    let open: HashMap<String, usize> =
        [("a@d".into(), 2), ("b@d".into(), 1), ("c@d".into(), 1)].into();
    let last: HashMap<String, u64> =
        [("a@d".into(), 5), ("b@d".into(), 9), ("c@d".into(), 7)].into();
    let got = choose_assignee(AssignmentPolicy::LeastBusy, None, &team, None, &open, &last);
    assert_eq!(got.as_deref(), Some("c@d"));
}

#[test]
fn direct_assignment_to_an_inactive_agent_leaves_the_case_unassigned() {
    let team = agents(&[("a@d", false)]);
    let none = HashMap::new();
    assert_eq!(
        choose_assignee(
            AssignmentPolicy::Direct,
            Some("a@d"),
            &team,
            None,
            &none,
            &HashMap::new()
        ),
        None
    );
    assert_eq!(
        choose_assignee(
            AssignmentPolicy::Direct,
            Some("B@d"),
            &team,
            None,
            &none,
            &HashMap::new()
        )
        .as_deref(),
        Some("b@d")
    );
}

const CONFIG: &str = r#"
[agent]
name = "Alice"
email = "alice@desk.example"

[[agents]]
name = "Bea"
email = "bea@desk.example"

[[agents]]
name = "Carl"
email = "carl@desk.example"

[[teams]]
name = "support"
agents = ["alice@desk.example", "bea@desk.example", "carl@desk.example"]

[[accounts]]
name = "support"
group = true
email = "support@desk.example"
host = "127.0.0.1"
port = 1
user = "support"
[accounts.cases]
enabled = true
team = "support"
assignment = "round-robin"
REOPEN
"#;

fn desk(reopen: &str) -> (tempfile::TempDir, Pipeline) {
    let text = CONFIG.replace("REOPEN", reopen);
    let cfg = crate::config::Config::parse(&text, std::path::Path::new("c.toml")).expect("config");
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(Store::open(dir.path()).expect("open"));
    let p = Pipeline::new(
        store,
        Arc::new(LinkRules::from_config(&cfg)),
        Arc::new(cfg.own_addresses()),
    )
    .with_cases(CaseRules::from_config(&cfg));
    (dir, p)
}

fn mail(uid: u32, from: &str, subject: &str, extra: &str) -> Incoming {
    let raw = format!(
        "From: {from}\r\nTo: support@desk.example\r\nSubject: {subject}\r\n\
         Message-ID: <m{uid}@cust.example>\r\nDate: Tue, 1 Dec 2026 10:{:02}:00 +0000\r\n{extra}\r\nHello.\r\n",
        uid % 60
    );
    Incoming {
        account: "support".into(),
        folder: "INBOX".into(),
        uidvalidity: 1,
        uid,
        flags: 0,
        raw: raw.into_bytes(),
        reported_size: 0,
        inherit_links_of: None,
    }
}

fn ingest(p: &Pipeline, m: Incoming) -> u64 {
    let r = p.ingest_now(vec![m], Extras::default()).expect("ingest");
    r.created[0]
}

fn cases_of(p: &Pipeline, id: u64) -> Vec<Record> {
    p.store()
        .links_of(id)
        .expect("links")
        .into_iter()
        .filter(|r| r.kind == RecordKind::Case)
        .collect()
}

fn case_numbers(p: &Pipeline) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = p
        .store()
        .records(RecordKind::Case)
        .expect("cases")
        .into_iter()
        .map(|c| {
            (
                c.field("number").unwrap_or_default().to_string(),
                c.field("status").unwrap_or_default().to_string(),
                c.field("assignee").unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn each_customer_s_first_mail_makes_a_numbered_case_in_rotation() {
    let (_d, p) = desk("");
    let batch = (1..=4)
        .map(|i| mail(i, &format!("c{i}@cust.example"), &format!("Help {i}"), ""))
        .collect();
    let r = p.ingest_now(batch, Extras::default()).expect("ingest");
    let got: Vec<(String, String)> = r
        .created
        .iter()
        .map(|id| {
            let c = &cases_of(&p, *id)[0];
            (
                c.field("number").unwrap_or_default().into(),
                c.field("assignee").unwrap_or_default().into(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("1".into(), "alice@desk.example".into()),
            ("2".into(), "bea@desk.example".into()),
            ("3".into(), "carl@desk.example".into()),
            ("4".into(), "alice@desk.example".into()),
        ]
    );
    let c = &cases_of(&p, r.created[0])[0];
    assert_eq!(c.field("status"), Some("Assigned"));
    assert_eq!(c.field("email"), Some("c1@cust.example"));
}

#[test]
fn a_reply_in_the_thread_joins_its_case_and_a_stranger_quoting_the_tag_does_not()
-> Result<(), StoreError> {
    let (_d, p) = desk("");
    let first = ingest(&p, mail(1, "ann@cust.example", "Printer", ""));
    let case = cases_of(&p, first)[0].clone();
    let reply = ingest(
        &p,
        mail(
            2,
            "ann@cust.example",
            "Re: Printer",
            "In-Reply-To: <m1@cust.example>\r\n",
        ),
    );
    assert_eq!(cases_of(&p, reply)[0].id, case.id);
    let tagged = ingest(&p, mail(3, "ann@cust.example", "more [#1]", ""));
    assert_eq!(
        cases_of(&p, tagged)[0].id,
        case.id,
        "the customer's tag joins"
    );
    let stranger = ingest(&p, mail(4, "eve@else.example", "about [#1]", ""));
    let theirs = cases_of(&p, stranger);
    assert_eq!(theirs.len(), 1);
    assert_ne!(theirs[0].id, case.id);
    assert_eq!(theirs[0].field("number"), Some("2"));
    let own_id = format!(
        "In-Reply-To: <{}>\r\n",
        case_message_id(1, "x9", "desk.example")
    );
    let mangled = ingest(&p, mail(5, "ann@cust.example", "Re: hm", &own_id));
    assert_eq!(cases_of(&p, mangled)[0].id, case.id);
    Ok(())
}

#[test]
fn automatic_mail_makes_no_case_and_reopens_nothing() {
    let (_d, p) = desk("");
    let bulk = ingest(
        &p,
        mail(1, "news@list.example", "Weekly", "Precedence: bulk\r\n"),
    );
    assert!(cases_of(&p, bulk).is_empty());
    let bounce = ingest(&p, mail(2, "MAILER-DAEMON@mx.example", "Undelivered", ""));
    assert!(cases_of(&p, bounce).is_empty());
    let first = ingest(&p, mail(3, "ann@cust.example", "Printer", ""));
    let mut case = cases_of(&p, first)[0].clone();
    case.fields.insert("status".into(), "Closed".into());
    p.store().put_record(case).expect("close");
    let ooo = ingest(
        &p,
        mail(
            4,
            "ann@cust.example",
            "Out of office",
            "In-Reply-To: <m3@cust.example>\r\nAuto-Submitted: auto-replied\r\n",
        ),
    );
    assert_eq!(cases_of(&p, ooo)[0].field("status"), Some("Closed"));
    assert_eq!(case_numbers(&p).len(), 1);
}

#[test]
fn a_customer_reply_reopens_a_closed_case_by_default() {
    let (_d, p) = desk("");
    let first = ingest(&p, mail(1, "ann@cust.example", "Printer", ""));
    let mut case = cases_of(&p, first)[0].clone();
    case.fields.insert("status".into(), "Closed".into());
    p.store().put_record(case.clone()).expect("close");
    let reply = ingest(
        &p,
        mail(
            2,
            "ann@cust.example",
            "Re: Printer",
            "In-Reply-To: <m1@cust.example>\r\n",
        ),
    );
    let now = cases_of(&p, reply);
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].id, case.id);
    assert_eq!(now[0].field("status"), Some("Assigned"));
}

#[test]
fn with_reopen_new_a_reply_to_a_closed_case_opens_another() {
    let (_d, p) = desk("reopen = \"new\"");
    let first = ingest(&p, mail(1, "ann@cust.example", "Printer", ""));
    let mut case = cases_of(&p, first)[0].clone();
    case.fields.insert("status".into(), "Closed".into());
    p.store().put_record(case.clone()).expect("close");
    let reply = ingest(
        &p,
        mail(
            2,
            "ann@cust.example",
            "Re: Printer",
            "In-Reply-To: <m1@cust.example>\r\n",
        ),
    );
    let now = cases_of(&p, reply);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!(now[0].field("number"), Some("2"));
    assert_eq!(
        p.store()
            .record(RecordKind::Case, case.id)
            .expect("read")
            .and_then(|c| c.field("status").map(String::from)),
        Some("Closed".into())
    );
}

#[test]
fn new_after_days_reopens_a_recently_closed_case_and_opens_a_new_one_after() {
    let (_d, p) = desk("reopen = \"new-after-30d\"");
    let first = ingest(&p, mail(1, "ann@cust.example", "Printer", ""));
    let mut case = cases_of(&p, first)[0].clone();
    let date = p
        .store()
        .summary(first)
        .expect("s")
        .map(|s| s.date)
        .unwrap_or(0);
    case.fields.insert("status".into(), "Closed".into());
    case.fields
        .insert("closed_at".into(), (date - 10 * 86_400).to_string());
    p.store().put_record(case.clone()).expect("close");
    let soon = ingest(
        &p,
        mail(
            2,
            "ann@cust.example",
            "Re: Printer",
            "In-Reply-To: <m1@cust.example>\r\n",
        ),
    );
    assert_eq!(cases_of(&p, soon)[0].id, case.id);
    let mut case = p
        .store()
        .record(RecordKind::Case, case.id)
        .expect("r")
        .expect("case");
    assert_eq!(case.field("status"), Some("Assigned"));
    case.fields.insert("status".into(), "Closed".into());
    case.fields
        .insert("closed_at".into(), (date - 40 * 86_400).to_string());
    p.store().put_record(case.clone()).expect("close");
    let late = ingest(
        &p,
        mail(
            3,
            "ann@cust.example",
            "Re: Printer",
            "In-Reply-To: <m2@cust.example>\r\n",
        ),
    );
    let now = cases_of(&p, late);
    assert_eq!(now.len(), 1);
    assert_ne!(now[0].id, case.id);
}

#[test]
fn the_reply_to_address_is_kept_on_the_stored_mail() {
    let (_d, p) = desk("");
    let id = ingest(
        &p,
        mail(
            1,
            "ann@cust.example",
            "Hi",
            "Reply-To: Tickets <tickets@cust.example>\r\n",
        ),
    );
    let s = p.store().summary(id).expect("read").expect("stored");
    assert_eq!(s.reply_to.len(), 1);
    assert_eq!(s.reply_to[0].email, "tickets@cust.example");
}

fn reply_from_desk(uid: u32, minute: u32, to: &str, parent: u32) -> Incoming {
    let raw = format!(
        "From: Support <support@desk.example>\r\nTo: {to}\r\nSubject: Re: x\r\n\
         Message-ID: <r{uid}@desk.example>\r\nIn-Reply-To: <m{parent}@cust.example>\r\n\
         Date: Tue, 1 Dec 2026 10:{minute:02}:00 +0000\r\n\r\nDone.\r\n"
    );
    Incoming {
        account: "support".into(),
        folder: "Sent".into(),
        ..mail(uid, "x@y", "x", "")
    }
    .with_raw(raw)
}

trait WithRaw {
    fn with_raw(self, raw: String) -> Self;
}

impl WithRaw for Incoming {
    fn with_raw(mut self, raw: String) -> Self {
        self.raw = raw.into_bytes();
        self
    }
}

#[test]
fn stats_give_the_median_first_response_and_the_unassigned_count() {
    let (_d, p) = desk("");
    // Three cases answered after 10, 20 and 40 minutes; a fourth waits.
    for (uid, minute) in [(1u32, 10u32), (2, 20), (3, 40)] {
        ingest(&p, mail(uid, &format!("c{uid}@cust.example"), "Help", ""));
        ingest(
            &p,
            reply_from_desk(
                100 + uid,
                uid + minute,
                &format!("c{uid}@cust.example"),
                uid,
            ),
        );
    }
    ingest(&p, mail(4, "c4@cust.example", "Help", ""));
    let mut four = p
        .store()
        .records(RecordKind::Case)
        .expect("cases")
        .into_iter()
        .find(|c| c.field("number") == Some("4"))
        .expect("case 4");
    four.fields.remove("assignee");
    four.fields.insert("status".into(), "New".into());
    p.store().put_record(four).expect("unassign");
    let s = p.store().stats().expect("stats");
    assert_eq!(s.first_response_median_secs, Some(20 * 60));
    assert_eq!(s.unassigned, 1);
    assert_eq!(s.cases_by_assignee.get("unassigned"), Some(&1));
    assert_eq!(s.cases.get("Assigned"), Some(&3));
}

#[test]
fn an_auto_reply_owed_when_the_process_stopped_is_queued_once_by_the_next_pass() {
    let (_d, p) = desk("auto_reply_template = \"ack\"");
    let tdir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tdir.path().join("templates")).expect("dir");
    std::fs::write(tdir.path().join("templates/ack"), "Case {Case.number}.\n").expect("ack");
    let mut m = mail(1, "ann@cust.example", "Help", "");
    let now = chrono::Utc::now().to_rfc2822();
    m.raw = String::from_utf8_lossy(&m.raw)
        .replace("Tue, 1 Dec 2026 10:01:00 +0000", &now)
        .into_bytes();
    // The batch stores the case and what it owes; the process stops before the pass.
    let id = ingest(&p, m);
    let case = cases_of(&p, id).remove(0);
    assert!(p.store().outbox_entries().expect("outbox").is_empty());
    let cfg = crate::config::Config::parse(
        &CONFIG.replace("REOPEN", "auto_reply_template = \"ack\""),
        std::path::Path::new("c.toml"),
    )
    .expect("config");
    let replies =
        crate::crm::auto_reply::AutoReplies::from_config(&cfg, tdir.path()).expect("configured");
    let first = replies.run(p.store()).expect("pass");
    let again = replies.run(p.store()).expect("pass again");
    assert_eq!(first.queued.len(), 1, "{first:?}");
    assert!(again.queued.is_empty(), "{again:?}");
    let out = p.store().outbox_entries().expect("outbox");
    assert_eq!(out.len(), 1);
    let raw = String::from_utf8_lossy(&out[0].raw);
    assert!(raw.starts_with("Auto-Submitted: auto-replied\r\n"), "{raw}");
    let number = case.field("number").unwrap_or_default();
    assert!(raw.contains(&format!("Case {number}.")), "{raw}");
    assert!(crate::mail::thread::is_auto_reply_id(&out[0].message_id));
    assert_eq!(
        crate::crm::auto_reply::decision_of(p.store(), case.id)
            .expect("setting")
            .as_deref(),
        Some(format!("queued {}", out[0].id).as_str())
    );
}

#[test]
fn the_case_records_when_the_customer_last_wrote_and_not_the_desks_replies() {
    let (_d, p) = desk("");
    let date = |id: u64| {
        p.store()
            .summary(id)
            .expect("read")
            .map(|s| s.date)
            .expect("mail")
    };
    let recorded = |id: u64| {
        p.store()
            .record(RecordKind::Case, id)
            .expect("read")
            .and_then(|c| c.field(LAST_CUSTOMER_MAIL).map(String::from))
    };
    let first = ingest(&p, mail(1, "ann@cust.example", "Printer", ""));
    let case = cases_of(&p, first)[0].id;
    assert_eq!(recorded(case), Some(date(first).to_string()));
    // The desk's answer joins the case but is not the customer waiting.
    ingest(&p, reply_from_desk(2, 30, "ann@cust.example", 1));
    assert_eq!(recorded(case), Some(date(first).to_string()));
    let again = ingest(
        &p,
        mail(
            3,
            "ann@cust.example",
            "Re: Printer",
            "In-Reply-To: <m1@cust.example>\r\n",
        ),
    );
    assert_eq!(cases_of(&p, again)[0].id, case);
    assert_eq!(recorded(case), Some(date(again).to_string()));
    // An older mail arriving late does not move the time back.
    let late = ingest(
        &p,
        mail(
            62,
            "ann@cust.example",
            "Re: Printer",
            "In-Reply-To: <m1@cust.example>\r\n",
        ),
    );
    assert!(date(late) < date(again));
    assert_eq!(recorded(case), Some(date(again).to_string()));
}

#[test]
fn no_auto_reply_goes_to_agents_machines_or_past_the_senders_limit() {
    let extra = "auto_reply_template = \"ack\"\nauto_reply_limit = \"1/1h\"";
    let (_d, p) = desk(extra);
    let tdir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tdir.path().join("templates")).expect("dir");
    std::fs::write(
        tdir.path().join("templates/ack.txt"),
        "Case {Case.number}.\n",
    )
    .expect("ack");
    let cfg = crate::config::Config::parse(
        &CONFIG.replace("REOPEN", extra),
        std::path::Path::new("c.toml"),
    )
    .expect("config");
    let p = p.with_auto_replies(crate::crm::auto_reply::AutoReplies::from_config(
        &cfg,
        tdir.path(),
    ));
    let now = chrono::Utc::now().to_rfc2822();
    let dated = |uid: u32, from: &str| {
        let mut m = mail(uid, from, &format!("Help {uid}"), "");
        m.raw = String::from_utf8_lossy(&m.raw)
            .replace(&format!("Tue, 1 Dec 2026 10:{uid:02}:00 +0000"), &now)
            .into_bytes();
        m
    };
    for (uid, from) in [
        (1, "ann@cust.example"),
        (2, "bea@desk.example"),
        (3, "noreply@shop.example"),
        (4, "MAILER-DAEMON@mx.example"),
        (5, "ann@cust.example"),
    ] {
        ingest(&p, dated(uid, from));
    }
    let out = p.store().outbox_entries().expect("outbox");
    let to: Vec<&Vec<String>> = out.iter().map(|e| &e.recipients).collect();
    assert_eq!(to, [&vec!["ann@cust.example".to_string()]], "{out:?}");
    // Ann's second case stays without one: the limit is one an hour.
    let cases = p.store().records(RecordKind::Case).expect("cases");
    assert_eq!(
        cases.len(),
        2,
        "Ann's two mails are two cases; the others make none"
    );
    let said: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            crate::crm::auto_reply::decision_of(p.store(), c.id)
                .ok()
                .flatten()
        })
        .collect();
    assert!(
        said.iter()
            .any(|d| d.contains("reached auto_reply_limit = \"1/1h\" (1 sent")),
        "{said:?}"
    );
}

/// `is_automatic` as it was before it stopped unfolding every field: the
/// reference the proptest holds it to.
fn is_automatic_reference(raw: &[u8], sender: Option<&str>) -> bool {
    if sender.is_some_and(is_system_sender) {
        return true;
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in raw.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = fields.last_mut() {
                last.1.push(' ');
                last.1.push_str(String::from_utf8_lossy(line).trim());
            }
            continue;
        }
        if let Some(colon) = line.iter().position(|b| *b == b':') {
            let name = String::from_utf8_lossy(&line[..colon])
                .trim()
                .to_lowercase();
            let value = String::from_utf8_lossy(&line[colon + 1..])
                .trim()
                .to_string();
            fields.push((name, value));
        }
    }
    fields
        .iter()
        .any(|(name, value)| automatic_field(name, value))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    #[test]
    fn is_automatic_decides_as_unfolding_every_field_did(
        lines in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::prelude::Just("From: Ann <ann@cust.example>".to_string()),
                proptest::prelude::Just("From: <noreply@shop.example>".to_string()),
                proptest::prelude::Just("Sender: MAILER-DAEMON@mx".to_string()),
                proptest::prelude::Just("Auto-Submitted: no".to_string()),
                proptest::prelude::Just("AUTO-SUBMITTED : auto-replied".to_string()),
                proptest::prelude::Just("Precedence: BULK".to_string()),
                proptest::prelude::Just("Precedence:".to_string()),
                proptest::prelude::Just("list-id: x".to_string()),
                proptest::prelude::Just("Return-Path: <".to_string()),
                proptest::prelude::Just(" >".to_string()),
                proptest::prelude::Just("\t bulk".to_string()),
                proptest::prelude::Just(" ".to_string()),
                proptest::prelude::Just("no colon here".to_string()),
                proptest::prelude::Just("\u{a0}X-Autoreply\u{a0}: y".to_string()),
                proptest::prelude::Just("Subject: hi".to_string()),
                proptest::prelude::Just(String::new()),
                "[A-Za-z:; <>@.-]{0,20}",
            ],
            0..12,
        ),
        crlf in proptest::prelude::any::<bool>(),
    ) {
        let raw = lines.join(if crlf { "\r\n" } else { "\n" });
        proptest::prop_assert_eq!(
            is_automatic(raw.as_bytes(), Some("ann@cust.example")),
            is_automatic_reference(raw.as_bytes(), Some("ann@cust.example"))
        );
    }
}
