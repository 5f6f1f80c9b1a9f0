//! Rules of linking, system addresses, creation, followers and import, on a
//! real sled store in a temp dir.

use super::linking::*;
use super::*;
use crate::store::{
    MailStatus, MessageSummary, NewMail, Party, Record, RecordKind, RecordRef, Store,
};

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    (dir, store)
}

fn rules() -> LinkRules {
    LinkRules {
        own: vec![
            "agent@desk.example".into(),
            "support@desk.example".into(),
            "desk@desk.example".into(),
        ],
        system_address: Some("desk@desk.example".into()),
        ..LinkRules::default()
    }
}

fn party(s: &str) -> Party {
    match s.split_once('<') {
        Some((name, rest)) => Party {
            name: name.trim().to_string(),
            email: rest.trim_end_matches('>').trim().to_string(),
        },
        None => Party {
            name: String::new(),
            email: s.to_string(),
        },
    }
}

fn parties(list: &[&str]) -> Vec<Party> {
    list.iter().map(|s| party(s)).collect()
}

/// A mail as the list shows it; `to`, `cc`, `bcc` are address lists.
struct M<'a> {
    from: &'a str,
    to: &'a [&'a str],
    cc: &'a [&'a str],
    bcc: &'a [&'a str],
    subject: &'a str,
    status: MailStatus,
}

impl Default for M<'_> {
    fn default() -> Self {
        M {
            from: "",
            to: &["support@desk.example"],
            cc: &[],
            bcc: &[],
            subject: "Hello",
            status: MailStatus::Archived,
        }
    }
}

static UID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

fn put_mail_raw(store: &Store, m: M<'_>, size: u64, raw: Option<Vec<u8>>) -> MessageSummary {
    let uid = UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let summary = MessageSummary {
        message_id: format!("<{uid}@test>"),
        subject: m.subject.to_string(),
        from: parties(&[m.from]),
        to: parties(m.to),
        cc: parties(m.cc),
        bcc: parties(m.bcc),
        date: 1_700_000_000 + i64::from(uid) * 60,
        size,
        has_attachments: size > 100_000,
        status: m.status,
        ..MessageSummary::default()
    };
    let r = store
        .ingest(
            vec![NewMail {
                account: "support".into(),
                folder: "INBOX".into(),
                uidvalidity: 1,
                uid,
                flags: 0,
                summary,
                raw,
            }],
            None,
        )
        .expect("ingest");
    store
        .summary(r.created[0])
        .expect("summary")
        .expect("stored")
}

fn put_mail(store: &Store, m: M<'_>) -> MessageSummary {
    put_mail_raw(store, m, 1000, None)
}

fn contact(store: &Store, name: &str, emails: &[&str]) -> Record {
    let mut r = Record::new(RecordKind::Contact, name);
    r.emails = emails.iter().map(|e| e.to_string()).collect();
    store.put_record(r).expect("put")
}

fn reason(store: &Store, id: u64) -> Option<String> {
    store
        .summary(id)
        .expect("summary")
        .expect("stored")
        .not_linked_reason
}

fn link_names(store: &Store, id: u64) -> Vec<String> {
    let mut v: Vec<String> = store
        .links_of(id)
        .expect("links")
        .into_iter()
        .map(|r| format!("{} {}", r.kind.label(), r.name))
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------- matching --

#[test]
fn addresses_match_case_insensitively_after_trimming() {
    let (_d, s) = open();
    let c = contact(&s, "Ivan", &["  Ivan.Petrov@Example.COM "]);
    let m = put_mail(
        &s,
        M {
            from: "IVAN.PETROV@example.com ",
            ..M::default()
        },
    );
    let out = process_new_mail(&s, &rules(), &m).expect("process");
    assert_eq!(out.linked, vec![c.reference()]);
    assert_eq!(reason(&s, m.id), None);
}

#[test]
fn idn_domains_match_in_either_form() {
    let (_d, s) = open();
    // Typed by hand in Unicode, mail arrives in punycode.
    let a = contact(&s, "Anna", &["anna@пример.рф"]);
    let m = put_mail(
        &s,
        M {
            from: "anna@xn--e1afmkfd.xn--p1ai",
            ..M::default()
        },
    );
    assert_eq!(
        process_new_mail(&s, &rules(), &m).expect("p").linked,
        vec![a.reference()]
    );
    // Stored normalised (punycode), mail arrives in Unicode with capitals.
    let mut b = Record::new(RecordKind::Contact, "Boris");
    b.emails = vec!["boris@пример.рф".into()];
    let b = s.put_record(create::normalize_record(b)).expect("put");
    assert_eq!(b.emails, vec!["boris@xn--e1afmkfd.xn--p1ai"]);
    let m = put_mail(
        &s,
        M {
            from: "Boris@ПРИМЕР.РФ",
            ..M::default()
        },
    );
    assert_eq!(
        process_new_mail(&s, &rules(), &m).expect("p").linked,
        vec![b.reference()]
    );
}

#[test]
fn plus_tags_are_kept_unless_stripping_is_configured() {
    let (_d, s) = open();
    let c = contact(&s, "Ivan", &["ivan@example.com"]);
    let tagged = contact(&s, "Ivan (shop)", &["ivan+shop@example.com"]);
    let m = put_mail(
        &s,
        M {
            from: "ivan+promo@example.com",
            ..M::default()
        },
    );
    let keep = rules();
    let out = process_new_mail(&s, &keep, &m).expect("p");
    assert!(out.linked.is_empty());
    assert_eq!(out.reason.as_deref(), Some(REASON_NO_MATCH));
    assert_eq!(reason(&s, m.id).as_deref(), Some(REASON_NO_MATCH));

    let m2 = put_mail(
        &s,
        M {
            from: "ivan+shop@example.com",
            ..M::default()
        },
    );
    assert_eq!(
        process_new_mail(&s, &keep, &m2).expect("p").linked,
        vec![tagged.reference()]
    );

    let strip = LinkRules {
        strip_plus_tags: true,
        ..rules()
    };
    let out = process_new_mail(&s, &strip, &m).expect("p");
    assert_eq!(out.linked, vec![c.reference()]);
    assert_eq!(reason(&s, m.id), None);
}

#[test]
fn a_contact_with_several_addresses_matches_each() {
    let (_d, s) = open();
    let c = contact(&s, "Olga", &["olga@work.example", "olga.home@mail.example"]);
    for addr in ["olga@work.example", "olga.home@mail.example"] {
        let m = put_mail(
            &s,
            M {
                from: addr,
                ..M::default()
            },
        );
        assert_eq!(
            process_new_mail(&s, &rules(), &m).expect("p").linked,
            vec![c.reference()],
            "{addr}"
        );
    }
}

#[test]
fn agent_addresses_never_match_even_if_a_record_holds_them() {
    let (_d, s) = open();
    // Someone made a contact of an agent by mistake.
    contact(&s, "Agent", &["agent@desk.example"]);
    let m = put_mail(
        &s,
        M {
            from: "Agent@Desk.Example",
            to: &["support@desk.example"],
            ..M::default()
        },
    );
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    assert!(out.linked.is_empty());
    assert_eq!(out.reason.as_deref(), Some(REASON_AGENT));
    assert_eq!(reason(&s, m.id).as_deref(), Some(REASON_AGENT));
    // Agents' plus-addresses are theirs too.
    assert!(rules().is_own("agent+notes@desk.example"));
    assert!(rules().is_own("desk+contact@desk.example"));
    assert!(!rules().is_own("desk@elsewhere.example"));
}

#[test]
fn a_contact_links_its_company_and_leads_and_accounts_match_too() {
    let (_d, s) = open();
    let mut acme = Record::new(RecordKind::Account, "Acme");
    acme.emails = vec!["info@acme.example".into()];
    acme.domains = vec!["acme.example".into()];
    let acme = s.put_record(acme).expect("put");
    let mut emma = Record::new(RecordKind::Contact, "Emma");
    emma.emails = vec!["emma@acme.example".into()];
    emma.parent = Some(acme.reference());
    let emma = s.put_record(emma).expect("put");
    let mut lead = Record::new(RecordKind::Lead, "Lena");
    lead.emails = vec!["lena@new.example".into()];
    let lead = s.put_record(lead).expect("put");

    let m = put_mail(
        &s,
        M {
            from: "Emma <emma@acme.example>",
            cc: &["lena@new.example", "info@acme.example"],
            ..M::default()
        },
    );
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    let mut got = out.linked.clone();
    got.sort();
    let mut want = vec![emma.reference(), acme.reference(), lead.reference()];
    want.sort();
    assert_eq!(got, want);

    // Domain matching is off by default, on when asked.
    let m = put_mail(
        &s,
        M {
            from: "bob@acme.example",
            ..M::default()
        },
    );
    assert!(
        process_new_mail(&s, &rules(), &m)
            .expect("p")
            .linked
            .is_empty()
    );
    let by_domain = LinkRules {
        match_domains: true,
        ..rules()
    };
    assert_eq!(
        process_new_mail(&s, &by_domain, &m).expect("p").linked,
        vec![acme.reference()]
    );
    assert_eq!(reason(&s, m.id), None);
}

#[test]
fn outgoing_mail_is_linked_by_its_recipients_and_all_matches_are_linked() {
    let (_d, s) = open();
    let a = contact(&s, "A", &["a@example.com"]);
    let b = contact(&s, "B", &["b@example.com"]);
    let m = put_mail(
        &s,
        M {
            from: "Agent <agent@desk.example>",
            to: &["a@example.com"],
            cc: &["b@example.com", "support@desk.example"],
            status: MailStatus::Sent,
            ..M::default()
        },
    );
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(out.linked, vec![a.reference(), b.reference()]);
    // Running again links nothing new and keeps the links.
    let again = process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(again.linked, out.linked);
    assert_eq!(s.stats().expect("stats").links, 2);
}

#[test]
fn auto_link_keeps_its_signature_and_rules() {
    let (_d, s) = open();
    let c = contact(&s, "C", &["c@example.com"]);
    let m = put_mail(
        &s,
        M {
            from: "c@example.com",
            ..M::default()
        },
    );
    assert_eq!(
        auto_link(&s, &rules(), &m).expect("link"),
        vec![c.reference()]
    );
}

#[test]
fn rules_come_from_the_config() {
    let cfg = crate::config::Config {
        agent: crate::config::AgentConfig {
            name: "Agent".into(),
            email: "Agent@Desk.Example".into(),
            unix_user: None,
        },
        system_address: Some("Desk@Desk.Example".into()),
        strip_plus_tags: true,
        ..crate::config::Config::default()
    };
    let r = LinkRules::from_config(&cfg);
    assert!(r.strip_plus_tags);
    assert_eq!(r.system_address.as_deref(), Some("desk@desk.example"));
    assert!(r.is_own("agent@desk.example"));
    assert_eq!(
        r.system_match("DESK+Lead@desk.example"),
        SystemMatch::Known(SystemAction::CreateLead)
    );
    assert_eq!(r.max_attachment_bytes, Some(DEFAULT_MAX_ATTACHMENT_BYTES));
}

// --------------------------------------------------------- system address --

#[test]
fn system_address_in_to_or_cc_attaches_to_the_other_parties_records() {
    let (_d, s) = open();
    let c = contact(&s, "Client", &["client@example.com"]);
    for (to, cc) in [
        (&["desk@desk.example"][..], &[][..]),
        (&["client@example.com"][..], &["desk@desk.example"][..]),
    ] {
        let m = put_mail(
            &s,
            M {
                from: "agent@desk.example",
                to,
                cc,
                status: MailStatus::Sent,
                ..M::default()
            },
        );
        let out = process_new_mail(&s, &rules(), &m).expect("p");
        if to.contains(&"client@example.com") {
            assert_eq!(out.linked, vec![c.reference()]);
        } else {
            // Only the agent and the system address: nothing to attach to.
            assert_eq!(out.reason.as_deref(), Some(REASON_AGENT));
        }
    }
    let m = put_mail(
        &s,
        M {
            from: "client@example.com",
            to: &["desk@desk.example"],
            ..M::default()
        },
    );
    assert_eq!(
        process_new_mail(&s, &rules(), &m).expect("p").linked,
        vec![c.reference()]
    );
}

#[test]
fn plus_contact_creates_the_sender_once() {
    let (_d, s) = open();
    let m = put_mail(
        &s,
        M {
            from: "Nina Sokolova <Nina@Shop.Example>",
            to: &["support@desk.example"],
            cc: &["desk+contact@desk.example"],
            ..M::default()
        },
    );
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(out.created.len(), 1);
    assert_eq!(out.linked, out.created);
    let nina = s
        .record(RecordKind::Contact, out.created[0].1)
        .expect("get")
        .expect("made");
    assert_eq!(nina.name, "Nina Sokolova");
    assert_eq!(nina.emails, vec!["nina@shop.example"]);
    // The same mail again (or another from her) creates nothing more.
    let again = process_new_mail(&s, &rules(), &m).expect("p");
    assert!(again.created.is_empty());
    assert_eq!(again.linked, out.linked);
    assert_eq!(s.records(RecordKind::Contact).expect("list").len(), 1);
}

#[test]
fn outgoing_plus_contact_creates_the_recipients() {
    let (_d, s) = open();
    let m = put_mail(
        &s,
        M {
            from: "agent@desk.example",
            to: &["pavel.ivanov@client.example", "Mila <mila@client.example>"],
            cc: &["desk+contact@desk.example", "agent@desk.example"],
            status: MailStatus::Sent,
            ..M::default()
        },
    );
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(out.created.len(), 2);
    assert_eq!(
        link_names(&s, m.id),
        vec!["Contact Mila", "Contact Pavel Ivanov"]
    );
}

#[test]
fn plus_lead_and_plus_customer_create_their_kinds() {
    let (_d, s) = open();
    let m = put_mail(
        &s,
        M {
            from: "Kim <kim@buyer.example>",
            to: &["desk+lead@desk.example"],
            ..M::default()
        },
    );
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(link_names(&s, m.id), vec!["Lead Kim"]);
    let lead = s
        .record(RecordKind::Lead, out.created[0].1)
        .expect("g")
        .expect("lead");
    assert_eq!(lead.field("status"), Some("New"));
    assert_eq!(lead.field("source"), Some("email"));

    let m = put_mail(
        &s,
        M {
            from: "Kim <kim@buyer.example>",
            to: &["support@desk.example"],
            cc: &["desk+customer@desk.example", "desk+contact@desk.example"],
            ..M::default()
        },
    );
    process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(
        link_names(&s, m.id),
        vec!["Contact Kim", "Customer Kim", "Lead Kim"]
    );
}

#[test]
fn system_address_only_in_bcc_does_nothing() {
    let (_d, s) = open();
    contact(&s, "Client", &["client@example.com"]);
    let m = put_mail(
        &s,
        M {
            from: "agent@desk.example",
            to: &["client@example.com"],
            bcc: &["desk+contact@desk.example"],
            status: MailStatus::Sent,
            ..M::default()
        },
    );
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    assert!(out.linked.is_empty() && out.created.is_empty());
    assert_eq!(reason(&s, m.id).as_deref(), Some(REASON_BCC_ONLY));
    assert_eq!(s.stats().expect("stats").links, 0);
}

#[test]
fn an_unknown_tag_is_not_imported_and_says_why() {
    let (_d, s) = open();
    contact(&s, "Client", &["client@example.com"]);
    let m = put_mail(
        &s,
        M {
            from: "client@example.com",
            to: &["desk+asdjhdfsd@desk.example"],
            ..M::default()
        },
    );
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    assert!(out.linked.is_empty());
    assert_eq!(out.ignored, vec!["desk+asdjhdfsd@desk.example"]);
    let why = reason(&s, m.id).expect("reason");
    assert!(
        why.contains("desk+asdjhdfsd@desk.example") && why.contains("not imported"),
        "{why}"
    );
    // With a valid system address beside it, the mail is still attached.
    let m = put_mail(
        &s,
        M {
            from: "client@example.com",
            to: &["desk+asdjhdfsd@desk.example"],
            cc: &["desk@desk.example"],
            ..M::default()
        },
    );
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(out.linked.len(), 1);
    assert_eq!(out.ignored.len(), 1);
}

#[test]
fn big_attachments_are_not_attached_with_a_configurable_limit() {
    let (_d, s) = open();
    contact(&s, "Client", &["client@example.com"]);
    let m = put_mail_raw(
        &s,
        M {
            from: "client@example.com",
            cc: &["desk+contact@desk.example"],
            ..M::default()
        },
        20 * 1024 * 1024,
        None,
    );
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    assert!(out.linked.is_empty() && out.created.is_empty());
    assert_eq!(reason(&s, m.id).as_deref(), Some("attachment over 10 MB"));
    let lax = LinkRules {
        max_attachment_bytes: Some(50 * 1024 * 1024),
        ..rules()
    };
    assert_eq!(process_new_mail(&s, &lax, &m).expect("p").linked.len(), 1);
    assert_eq!(reason(&s, m.id), None);
    assert_eq!(attachment_reason(5 * 1024 * 1024), "attachment over 5 MB");
}

#[test]
fn attachment_size_is_measured_from_the_stored_body() {
    let (_d, s) = open();
    contact(&s, "Client", &["client@example.com"]);
    // A 300 KB attachment in a 400 KB mail, with a 350 KB limit: attached.
    let payload = base64_lines(&vec![b'x'; 300 * 1024]);
    let raw = format!(
        "From: client@example.com\r\nTo: support@desk.example\r\nSubject: log\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee log\r\n\
         --b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=log.bin\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{payload}\r\n--b--\r\n"
    )
    .into_bytes();
    let size = raw.len() as u64;
    let m = put_mail_raw(
        &s,
        M {
            from: "client@example.com",
            ..M::default()
        },
        size,
        Some(raw),
    );
    assert!(s.body(m.id).expect("body").is_some());
    let limit = |kb: u64| LinkRules {
        max_attachment_bytes: Some(kb * 1024),
        ..rules()
    };
    assert_eq!(
        process_new_mail(&s, &limit(350), &m)
            .expect("p")
            .linked
            .len(),
        1
    );
    let out = process_new_mail(&s, &limit(250), &m).expect("p");
    // Already linked before: a reason never hides a link.
    assert_eq!(out.reason, None);
    assert_eq!(s.links_of(m.id).expect("links").len(), 1);
}

fn base64_lines(data: &[u8]) -> String {
    use base64::Engine;
    let enc = base64::engine::general_purpose::STANDARD.encode(data);
    enc.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn forwarded_mail_is_judged_by_its_outer_headers() {
    let (_d, s) = open();
    let raw = b"From: Agent <agent@desk.example>\r\nTo: desk+contact@desk.example\r\n\
        Subject: Fwd: order\r\nMessage-ID: <fwd@x>\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
        MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n---------- Forwarded message ----------\r\n\
        From: Real Customer <real@customer.example>\r\nTo: agent@desk.example\r\n\r\nPlease call me.\r\n";
    let own = rules().own;
    let summary = crate::sync::ingest::summary_from_raw(raw, &own);
    let r = s
        .ingest(
            vec![NewMail {
                account: "support".into(),
                folder: "INBOX".into(),
                uidvalidity: 1,
                uid: 1,
                flags: 0,
                summary,
                raw: Some(raw.to_vec()),
            }],
            None,
        )
        .expect("ingest");
    let m = s.summary(r.created[0]).expect("s").expect("stored");
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    assert!(
        out.created.is_empty(),
        "the forwarded sender must not become a contact"
    );
    assert!(s.records(RecordKind::Contact).expect("l").is_empty());
    assert_eq!(reason(&s, m.id).as_deref(), Some(REASON_AGENT));
}

#[test]
fn a_manual_link_clears_the_reason_and_is_never_overridden() {
    let (_d, s) = open();
    let m = put_mail(
        &s,
        M {
            from: "stranger@example.com",
            ..M::default()
        },
    );
    process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(reason(&s, m.id).as_deref(), Some(REASON_NO_MATCH));
    let rec = create_and_link(&s, contact_from_mail(&m), m.id).expect("create");
    assert_eq!(rec.name, "Stranger");
    assert_eq!(reason(&s, m.id), None);
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(out.linked, vec![rec.reference()]);
}

// ------------------------------------------------------ create from a mail --

#[test]
fn records_from_a_mail_are_prefilled() {
    let (_d, s) = open();
    let m = put_mail(
        &s,
        M {
            from: "Irina K <irina@shop.example>",
            subject: "Printer jams",
            ..M::default()
        },
    );
    let c = contact_from_mail(&m);
    assert_eq!((c.kind, c.name.as_str()), (RecordKind::Contact, "Irina K"));
    assert_eq!(c.emails, vec!["irina@shop.example"]);
    let l = lead_from_mail(&m);
    assert_eq!(l.kind, RecordKind::Lead);
    assert_eq!(l.field("status"), Some("New"));
    assert_eq!(l.field("description"), Some("Printer jams"));

    let contact = create_and_link(&s, c, m.id).expect("contact");
    let k1 = case_from_mail(&s, &m, Some("agent@desk.example")).expect("case");
    assert_eq!(k1.name, "Printer jams");
    assert_eq!(k1.field("status"), Some("Assigned"));
    assert_eq!(k1.parent, Some(contact.reference()));
    let k1 = create_and_link(&s, k1, m.id).expect("saved");
    let k2 = case_from_mail(&s, &m, None).expect("case");
    assert_eq!(k2.field("status"), Some("New"));
    let n1: u64 = k1.field("number").and_then(|n| n.parse().ok()).expect("n1");
    let n2: u64 = k2.field("number").and_then(|n| n.parse().ok()).expect("n2");
    assert_eq!(n2, n1 + 1);

    let t = task_from_mail(&s, &m, Some("agent@desk.example")).expect("task");
    assert_eq!(t.name, "Reply: Printer jams");
    assert!(t.parent.is_some());
    assert!(t.field("due").is_some());
    create_and_link(&s, t, m.id).expect("task saved");
    assert_eq!(
        link_names(&s, m.id),
        vec![
            "Case Printer jams",
            "Contact Irina K",
            "Task Reply: Printer jams"
        ]
    );
}

#[test]
fn outgoing_mail_makes_a_contact_of_its_first_recipient() {
    let m = MessageSummary {
        from: parties(&["agent@desk.example"]),
        to: parties(&["Olga <olga@client.example>", "x@client.example"]),
        status: MailStatus::Sent,
        ..MessageSummary::default()
    };
    let c = contact_from_mail(&m);
    assert_eq!(c.name, "Olga");
    assert_eq!(c.emails, vec!["olga@client.example"]);
}

#[test]
fn case_numbers_continue_after_the_highest_in_use() {
    let (_d, s) = open();
    s.put_record(Record::new(RecordKind::Case, "old").with_field("number", "41"))
        .expect("put");
    assert_eq!(create::next_case_number(&s).expect("n"), 42);
    assert_eq!(create::next_case_number(&s).expect("n"), 43);
}

#[test]
fn validation_names_each_bad_field() {
    let mut r = Record::new(RecordKind::Case, "  ");
    r.emails = vec!["ok@example.com".into(), "not-an-address".into()];
    r.fields.insert("status".into(), "Open".into());
    r.fields.insert("number".into(), "x1".into());
    let errs = validate_record(&r).expect_err("invalid");
    let fields: Vec<&str> = errs.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, vec!["name", "email", "status", "number"]);
    assert!(
        errs[2]
            .1
            .contains("New, Assigned, Pending, Closed, Rejected, Duplicate")
    );

    let mut ok = Record::new(RecordKind::Case, "Broken screen");
    for st in create::CASE_STATUSES {
        ok.fields.insert("status".into(), st.into());
        assert_eq!(validate_record(&ok), Ok(()));
    }
    let mut t = Record::new(RecordKind::Task, "Call back");
    t.fields.insert("due".into(), "tomorrow".into());
    assert_eq!(validate_record(&t).expect_err("due")[0].0, "due");
    let mut d = Record::new(RecordKind::Deal, "Big deal");
    d.fields.insert("amount".into(), "12 000,50".into());
    assert_eq!(validate_record(&d), Ok(()));
    // Cyrillic look-alike inside a Latin address.
    let mut c = Record::new(RecordKind::Contact, "Ivan");
    c.emails = vec!["ivаn@example.com".into()];
    assert!(validate_record(&c).is_err());
    assert!(matches!(
        create_and_link(
            &Store::open(tempfile::tempdir().expect("t").path()).expect("o"),
            c,
            1
        ),
        Err(CreateError::Invalid(_))
    ));
}

// ---------------------------------------------------------------- followers --

#[test]
fn followers_hear_of_new_mail_on_records_they_follow() {
    let (_d, s) = open();
    let mut acme = Record::new(RecordKind::Account, "Acme");
    acme.domains = vec!["acme.example".into()];
    let acme = s.put_record(acme).expect("put");
    let mut emma = Record::new(RecordKind::Contact, "Emma");
    emma.emails = vec!["emma@acme.example".into()];
    emma.parent = Some(acme.reference());
    let emma = s.put_record(emma).expect("put");

    assert!(follow(&s, emma.reference(), "bob@desk.example").expect("follow"));
    assert!(!follow(&s, emma.reference(), "Bob@desk.example").expect("again"));
    assert!(follow(&s, acme.reference(), "carol@desk.example").expect("follow"));

    // Bob and Carol are nowhere in To/Cc.
    let m = put_mail(
        &s,
        M {
            from: "Emma <emma@acme.example>",
            subject: "Invoice",
            ..M::default()
        },
    );
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    let mut who: Vec<&str> = out.notified.iter().map(|(a, _)| a.as_str()).collect();
    who.sort();
    assert_eq!(who, vec!["bob@desk.example", "carol@desk.example"]);
    assert_eq!(
        notifications_for_new_mail(&s, m.id, "bob@desk.example").expect("n"),
        vec!["New mail on Contact Emma: Invoice (from Emma)"]
    );
    assert_eq!(
        notifications_for_new_mail(&s, m.id, "carol@desk.example").expect("n"),
        vec!["New mail on Company Acme: Invoice (from Emma)"]
    );
    assert!(
        notifications_for_new_mail(&s, m.id, "dave@desk.example")
            .expect("n")
            .is_empty()
    );
    let stored = s.notifications("BOB@desk.example").expect("list");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].message, m.id);
    // Processing again does not notify twice.
    assert!(
        process_new_mail(&s, &rules(), &m)
            .expect("p")
            .notified
            .is_empty()
    );
    assert_eq!(s.notifications("bob@desk.example").expect("list").len(), 1);
    assert!(
        s.mark_notification_read("bob@desk.example", stored[0].id)
            .expect("read")
    );
    assert!(s.notifications("bob@desk.example").expect("l")[0].read);

    assert!(unfollow(&s, emma.reference(), "bob@desk.example").expect("unfollow"));
    assert!(
        notifications_for_new_mail(&s, m.id, "bob@desk.example")
            .expect("n")
            .is_empty()
    );
    assert_eq!(s.clear_notifications("bob@desk.example").expect("clear"), 1);
}

#[test]
fn an_agent_is_not_told_of_their_own_mail() {
    let (_d, s) = open();
    let c = contact(&s, "Client", &["client@example.com"]);
    follow(&s, c.reference(), "agent@desk.example").expect("follow");
    let m = put_mail(
        &s,
        M {
            from: "agent@desk.example",
            to: &["client@example.com"],
            status: MailStatus::Sent,
            ..M::default()
        },
    );
    let out = process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(out.linked, vec![c.reference()]);
    assert!(out.notified.is_empty());
    assert!(
        notifications_for_new_mail(&s, m.id, "agent@desk.example")
            .expect("n")
            .is_empty()
    );
}

// ------------------------------------------------------------------- import --

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn csv_import_creates_updates_and_skips_with_reasons() {
    let (d, s) = open();
    let p = write(
        d.path(),
        "contacts.csv",
        "Name,E-Mail,Phone,Company,Notes\n\
         Ivan Petrov,Ivan@Example.com,+7 999 000-00-01,Acme,vip\n\
         Olga,olga@example.com,,Acme,\n\
         \"Smith, John\",john@other.example,555-0100,Other Ltd,\n\
         No Mail,,555-0101,,\n\
         Bad,not-an-address,,,\n\
         ,anon.person@example.com,,,\n",
    );
    let sum = import_contacts(&s, &p).expect("import");
    assert_eq!(
        sum.to_string(),
        "created 4, updated 0, skipped 2 (line 5: no email address; line 6: invalid email address \"not-an-address\": the address has no '@'; use the form name@example.com)"
    );
    assert_eq!(sum.accounts_created, 2);
    let accounts = s.records(RecordKind::Account).expect("acc");
    assert_eq!(accounts.len(), 2);
    let ivan = s
        .records_by_address("ivan@example.com")
        .expect("find")
        .pop()
        .expect("ivan");
    assert_eq!(ivan.phones, vec!["+7 999 000-00-01"]);
    let acme = accounts.iter().find(|a| a.name == "Acme").expect("acme");
    assert_eq!(ivan.parent, Some(acme.reference()));
    let anon = s.records_by_address("anon.person@example.com").expect("f");
    assert_eq!(anon[0].name, "Anon Person");

    // Re-import with changes: updates by address, no duplicates.
    let p2 = write(
        d.path(),
        "again.csv",
        "email;name;phone\nivan@example.com;Ivan A. Petrov;+7 999 000-00-02\nnew@example.com;New One;\n",
    );
    let sum = import_contacts(&s, &p2).expect("import");
    assert_eq!(sum.to_string(), "created 1, updated 1, skipped 0");
    assert_eq!(s.records(RecordKind::Contact).expect("c").len(), 5);
    let ivan = s
        .record(RecordKind::Contact, ivan.id)
        .expect("g")
        .expect("ivan");
    assert_eq!(ivan.name, "Ivan A. Petrov");
    assert_eq!(ivan.phones, vec!["+7 999 000-00-01", "+7 999 000-00-02"]);
    assert_eq!(ivan.parent, Some(acme.reference()), "company kept");
}

#[test]
fn csv_without_an_email_column_is_refused() {
    let (d, s) = open();
    let p = write(d.path(), "x.csv", "name,phone\nA,1\n");
    let err = import_contacts(&s, &p).expect_err("no email column");
    assert!(err.to_string().contains("no email column"), "{err}");
    assert!(err.to_string().contains("name, phone"), "{err}");
}

#[test]
fn vcard_import_by_extension_and_by_content() {
    let (d, s) = open();
    let cards = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Smirnova\r\nN:Smirnova;Anna;;;\r\n\
        EMAIL;TYPE=INTERNET:anna@work.example\r\nEMAIL;TYPE=INTERNET,PREF:Anna@Home.Example\r\n\
        TEL:+7 812 000 00 00\r\nORG:Northwind;Support\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:4.0\r\nN:Lee;Tom;;;\r\nEMAIL:tom@lee.example\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Nobody\r\nEND:VCARD\r\n";
    let p = write(d.path(), "people.vcf", cards);
    let sum = import_contacts(&s, &p).expect("import");
    assert_eq!(
        sum.to_string(),
        "created 2, updated 0, skipped 1 (card 3: no email address)"
    );
    let anna = s
        .records_by_address("anna@work.example")
        .expect("f")
        .pop()
        .expect("anna");
    assert_eq!(anna.emails, vec!["anna@home.example", "anna@work.example"]);
    assert!(anna.parent.is_some());
    let tom = s
        .records_by_address("tom@lee.example")
        .expect("f")
        .pop()
        .expect("tom");
    assert_eq!(tom.name, "Tom Lee");

    // Sniffed from content; a re-import updates.
    let p = write(d.path(), "export.txt", cards);
    let sum = import_contacts(&s, &p).expect("import");
    assert_eq!(sum.created, 0);
    assert_eq!(sum.updated, 2);
    assert_eq!(s.records(RecordKind::Contact).expect("c").len(), 2);
}

#[test]
fn imported_contacts_link_their_mail_and_company() {
    let (d, s) = open();
    let p = write(
        d.path(),
        "c.csv",
        "name,email,company\nEmma,emma@acme.example,Acme\n",
    );
    import_contacts(&s, &p).expect("import");
    let m = put_mail(
        &s,
        M {
            from: "emma@acme.example",
            ..M::default()
        },
    );
    process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(link_names(&s, m.id), vec!["Company Acme", "Contact Emma"]);
}

// ------------------------------------------------------------------ history --

#[test]
fn a_contacts_history_holds_its_company_and_deal_mail() {
    let (_d, s) = open();
    let acme = s
        .put_record(Record::new(RecordKind::Account, "Acme"))
        .expect("a");
    let mut emma = Record::new(RecordKind::Contact, "Emma");
    emma.emails = vec!["emma@acme.example".into()];
    emma.parent = Some(acme.reference());
    let emma = s.put_record(emma).expect("e");
    let mut deal = Record::new(RecordKind::Deal, "Renewal");
    deal.related = vec![emma.reference()];
    let deal = s.put_record(deal).expect("d");

    let own = put_mail(
        &s,
        M {
            from: "emma@acme.example",
            subject: "own",
            ..M::default()
        },
    );
    process_new_mail(&s, &rules(), &own).expect("p");
    let company = put_mail(
        &s,
        M {
            from: "boss@acme.example",
            subject: "company",
            ..M::default()
        },
    );
    s.link(company.id, acme.reference()).expect("link");
    let deal_mail = put_mail(
        &s,
        M {
            from: "agent@desk.example",
            subject: "deal",
            status: MailStatus::Sent,
            ..M::default()
        },
    );
    s.link(deal_mail.id, deal.reference()).expect("link");

    let subjects = |r: &Record| -> Vec<String> {
        history::history(&s, r)
            .expect("history")
            .into_iter()
            .map(|i| i.message.subject)
            .collect()
    };
    assert_eq!(subjects(&emma), vec!["deal", "company", "own"]);
    assert_eq!(subjects(&acme), vec!["company", "own"]);
    assert_eq!(subjects(&deal), vec!["deal", "own"]);
    let text = history::history_text(&s, &emma).expect("text");
    assert!(text.contains("(via Deal Renewal)"), "{text}");
    assert!(text.contains("(via Company Acme)"), "{text}");
}

#[test]
fn record_refs_round_trip_through_links() {
    let (_d, s) = open();
    let c: RecordRef = contact(&s, "X", &["x@example.com"]).reference();
    let m = put_mail(
        &s,
        M {
            from: "x@example.com",
            ..M::default()
        },
    );
    process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(s.messages_of(c).expect("msgs"), vec![m.id]);
}

#[test]
fn mail_only_in_the_system_mailbox_without_the_address_in_to_or_cc_came_by_bcc() {
    let (_d, s) = open();
    contact(&s, "Client", &["client@example.com"]);
    let r = s
        .ingest(
            vec![NewMail {
                account: "desk".into(),
                folder: "INBOX".into(),
                uidvalidity: 1,
                uid: 1,
                flags: 0,
                summary: MessageSummary {
                    message_id: "<bcc@x>".into(),
                    from: parties(&["agent@desk.example"]),
                    to: parties(&["client@example.com"]),
                    status: MailStatus::Sent,
                    ..MessageSummary::default()
                },
                raw: None,
            }],
            None,
        )
        .expect("ingest");
    let m = s.summary(r.created[0]).expect("s").expect("stored");
    let sys = LinkRules {
        system_accounts: vec!["desk".into()],
        ..rules()
    };
    let out = process_new_mail(&s, &sys, &m).expect("p");
    assert!(out.linked.is_empty());
    assert_eq!(out.reason.as_deref(), Some(REASON_BCC_ONLY));
    // The same mail seen elsewhere is ordinary mail.
    assert_eq!(
        process_new_mail(&s, &rules(), &m).expect("p").linked.len(),
        1
    );

    let cfg = crate::config::Config::parse(
        "system_address = \"desk@desk.example\"\n[[accounts]]\nname = \"sys\"\nemail = \"Desk@desk.example\"\n\
         host = \"h\"\nport = 993\nuser = \"desk\"\n[[accounts]]\nname = \"sup\"\nemail = \"support@desk.example\"\n\
         host = \"h\"\nport = 993\nuser = \"support\"\n",
        std::path::Path::new("config.toml"),
    )
    .expect("config");
    assert_eq!(LinkRules::from_config(&cfg).system_accounts, vec!["sys"]);
}

#[test]
fn mail_that_arrived_before_its_contact_is_linked_on_demand() {
    let (d, s) = open();
    let m = put_mail(
        &s,
        M {
            from: "late@example.com",
            ..M::default()
        },
    );
    process_new_mail(&s, &rules(), &m).expect("p");
    assert_eq!(reason(&s, m.id).as_deref(), Some(REASON_NO_MATCH));
    let p = write(
        d.path(),
        "late.csv",
        "name,email\nLate Comer,late@example.com\n",
    );
    import_contacts(&s, &p).expect("import");
    let report = relink_unlinked(&s, &rules()).expect("relink");
    assert_eq!(
        report,
        RelinkReport {
            checked: 1,
            linked: 1
        }
    );
    assert_eq!(link_names(&s, m.id), vec!["Contact Late Comer"]);
    assert_eq!(reason(&s, m.id), None);
    assert_eq!(relink_unlinked(&s, &rules()).expect("relink").checked, 0);
}

#[test]
fn csv_cells_may_hold_several_addresses_and_names_and_any_script() {
    let (d, s) = open();
    let p = write(
        d.path(),
        "ru.txt",
        "Имя;Почта;Телефон;Компания\nАнна;\"Анна Смирнова <anna@example.com>, anna.s@example.org\";+7 1;Ромашка\n",
    );
    let sum = import_contacts(&s, &p).expect("import");
    assert_eq!(sum.to_string(), "created 1, updated 0, skipped 0");
    let anna = s
        .records_by_address("anna.s@example.org")
        .expect("f")
        .pop()
        .expect("anna");
    assert_eq!(anna.name, "Анна");
    assert_eq!(anna.emails, vec!["anna@example.com", "anna.s@example.org"]);
    let acc = s.records(RecordKind::Account).expect("a");
    assert_eq!(acc[0].name, "Ромашка");
}

#[test]
fn a_reply_follows_its_thread_onto_cases_and_deals() {
    let (_d, s) = open();
    let c = contact(&s, "Client", &["client@example.com"]);
    let first = put_mail(
        &s,
        M {
            from: "client@example.com",
            subject: "Broken",
            ..M::default()
        },
    );
    process_new_mail(&s, &rules(), &first).expect("p");
    let case = create_and_link(
        &s,
        case_from_mail(&s, &first, None).expect("case"),
        first.id,
    )
    .expect("case");
    // The agent answers from another address the customer never used.
    let mut reply = put_mail(
        &s,
        M {
            from: "agent@desk.example",
            to: &["client.private@other.example"],
            subject: "Re: Broken",
            status: MailStatus::Sent,
            ..M::default()
        },
    );
    reply.in_reply_to = vec![format!("<{}>", first.message_id)];
    s.update_summary(&reply).expect("update");
    let out = process_new_mail(&s, &rules(), &reply).expect("p");
    assert_eq!(out.linked, vec![case.reference()]);
    assert!(!out.linked.contains(&c.reference()));
    assert_eq!(reason(&s, reply.id), None);
}

#[test]
fn the_desks_own_addresses_never_become_a_contact() {
    let (_d, s) = open();
    let m = put_mail(
        &s,
        M {
            from: "Agent <agent@desk.example>",
            to: &["support@desk.example"],
            ..M::default()
        },
    );
    let err = create::create_and_link_checked(&s, &rules(), contact_from_mail(&m), m.id)
        .expect_err("own address");
    assert!(err.to_string().contains("agent@desk.example"), "{err}");
    assert!(s.records(RecordKind::Contact).expect("c").is_empty());
    let mut c = contact_from_mail(&m);
    c.emails = vec!["desk+lead@desk.example".into()];
    assert!(create::check_not_own(&rules(), &c).is_err());
    c.emails = vec!["client@example.com".into()];
    assert!(create::create_and_link_checked(&s, &rules(), c, m.id).is_ok());
}
