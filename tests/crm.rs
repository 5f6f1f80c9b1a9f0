//! CRM against the real mail stack: 2,000 imported contacts whose mail is
//! synced and linked; system addresses in To / Cc / Bcc and `+contact`,
//! `+lead`, `+customer` through the real Postfix; and a contact's History.

mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskmail::config::Config;
use deskmail::crm::history::history_text;
use deskmail::crm::linking::{REASON_AGENT, REASON_BCC_ONLY, REASON_NO_MATCH};
use deskmail::crm::{import_contacts, process_new_mail};
use deskmail::store::{MessageSummary, NewMail, Record, RecordKind, Store};
use deskmail::sync::{self, SyncOptions};
use lettre::AsyncTransport;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::client::Tls;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use support::{MailStack, StackOptions, gen_mailbox};

const CONTACTS: usize = 2000;

fn once(account: &str) -> SyncOptions {
    SyncOptions {
        account: Some(account.to_string()),
        once: true,
        progress: false,
    }
}

fn account_config(stack: &MailStack, user: &str, folder: &str) -> Arc<Config> {
    let text = format!(
        r#"
system_address = "desk@desk.example"

[agent]
name = "Agent"
email = "agent@desk.example"

[[agents]]
name = "Support"
email = "support@desk.example"

[[accounts]]
name = "{user}"
kind = "imap"
email = "{user}@desk.example"
host = "127.0.0.1"
port = {port}
tls = "starttls"
ca_file = "{ca}"
user = "{user}"
password_command = "printf secret"
folders = ["{folder}"]
"#,
        port = stack.imap_port,
        ca = stack.cert_pem.display()
    );
    Arc::new(Config::parse(&text, Path::new("config.toml")).expect("config parses"))
}

fn open_store(dir: &Path) -> Arc<Store> {
    Arc::new(Store::open(&dir.join("data")).expect("store opens"))
}

fn all_mail(store: &Store, account: &str) -> Vec<MessageSummary> {
    store
        .page(account, "INBOX", None, usize::MAX)
        .expect("page")
        .into_iter()
        .map(|r| r.summary)
        .collect()
}

/// "Kind name" of every record a mail is linked to, sorted.
fn links(store: &Store, id: u64) -> Vec<String> {
    let mut v: Vec<String> = store
        .links_of(id)
        .expect("links")
        .into_iter()
        .map(|r| format!("{} {}", r.kind.label(), r.name))
        .collect();
    v.sort();
    v
}

// ------------------------------------------------------------------ (a) --

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_imported_contacts_get_all_their_synced_mail_linked() {
    let stack = MailStack::start_with(StackOptions::dovecot_only());
    let dir = tempfile::tempdir().expect("tmp");

    // The customers the generated mailbox writes from, as a CSV export
    // with its own header spelling and an extra column.
    let mut csv = String::from("Full Name,EMAIL,Phone,Company,Notes\n");
    for k in 0..CONTACTS {
        let _ = writeln!(
            csv,
            "Client {k},client{k}@example{}.com,+1 555 {k:04},Company {},imported",
            k % 97,
            k % 97
        );
    }
    let csv_path = dir.path().join("customers.csv");
    std::fs::write(&csv_path, csv).expect("write csv");
    let store = open_store(dir.path());
    let t = Instant::now();
    let summary = import_contacts(&store, &csv_path).expect("import");
    eprintln!("import: {summary} in {:?}", t.elapsed());
    assert_eq!(summary.to_string(), "created 2000, updated 0, skipped 0");
    assert_eq!(summary.accounts_created, 97);

    // Importing again updates the same 2,000.
    let again = import_contacts(&store, &csv_path).expect("re-import");
    assert_eq!(again.to_string(), "created 0, updated 2000, skipped 0");
    assert_eq!(
        store.records(RecordKind::Contact).expect("contacts").len(),
        CONTACTS
    );

    let mails = 2000;
    let n = stack.fill_inbox("support", gen_mailbox(mails, 42));
    assert_eq!(n, mails);

    let t = Instant::now();
    let config = account_config(&stack, "support", "INBOX");
    let synced = sync::run(config.clone(), store.clone(), once("support"), None)
        .await
        .expect("sync");
    eprintln!("sync (with linking): {synced:?} in {:?}", t.elapsed());

    // The sync engine links as it ingests; the entry point run again over
    // every mail must agree and change nothing.
    let rules = deskmail::crm::LinkRules::from_config(&config);
    let stored = all_mail(&store, "support");
    assert_eq!(stored.len(), mails);
    let links_after_sync = store.stats().expect("stats").links;
    let mut unlinked = Vec::new();
    for m in &stored {
        let out = process_new_mail(&store, &rules, m).expect("process");
        if out.linked.is_empty() {
            unlinked.push(format!("{} {:?} {:?}", m.subject, m.from, out.reason));
        }
        let now = store.summary(m.id).expect("summary").expect("stored");
        assert_eq!(now.not_linked_reason, None, "{}", m.subject);
    }
    assert!(unlinked.is_empty(), "not linked: {unlinked:?}");
    let stats = store.stats().expect("stats");
    assert_eq!(
        stats.links, links_after_sync,
        "processing twice adds no links"
    );
    assert!(
        stats.links >= stats.messages,
        "links {} < mails {}",
        stats.links,
        stats.messages
    );
    // Every mail is on its sender's card and on the sender's company.
    for m in stored.iter().take(50) {
        let l = links(&store, m.id);
        assert_eq!(l.len(), 2, "{l:?}");
        assert!(l[0].starts_with("Company Company "), "{l:?}");
        assert!(l[1].starts_with("Contact Client "), "{l:?}");
    }
    let json = serde_json::to_value(&stats).expect("json");
    assert!(json.get("records").is_some() && json.get("links").is_some());
}

// ------------------------------------------------------------------ (b) --

/// Postfix's plain SMTP port: no auth, local and catch-all domains.
fn smtp(stack: &MailStack) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(stack.host.as_str())
        .port(stack.smtp_port)
        .tls(Tls::None)
        .timeout(Some(Duration::from_secs(30)))
        .build()
}

fn addr(s: &str) -> Address {
    s.parse().unwrap_or_else(|e| panic!("address {s}: {e}"))
}

/// One mail of the scenario: its headers say what the rules read, the
/// envelope says where Postfix delivers it.
struct Case {
    token: &'static str,
    from: &'static str,
    to: &'static str,
    cc: Option<&'static str>,
    bcc: Option<&'static str>,
    /// Envelope recipients (deliverable mailboxes).
    rcpt: &'static [&'static str],
    body: String,
    /// Expected links ("Kind Name", sorted).
    links: &'static [&'static str],
    /// Expected reason when nothing is linked.
    reason: Option<&'static str>,
}

fn raw_mail(c: &Case, i: usize) -> Vec<u8> {
    let mut h = format!(
        "From: {}\r\nTo: {}\r\nSubject: {} scenario\r\nMessage-ID: <{}@crm.test>\r\n\
         Date: Tue, 14 Nov 2023 {:02}:00:00 +0000\r\nMIME-Version: 1.0\r\n",
        c.from, c.to, c.token, c.token, i
    );
    if let Some(cc) = c.cc {
        let _ = write!(h, "Cc: {cc}\r\n");
    }
    if let Some(bcc) = c.bcc {
        let _ = write!(h, "Bcc: {bcc}\r\n");
    }
    h.push_str(&c.body);
    h.into_bytes()
}

fn text_body(s: &str) -> String {
    format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{s}\r\n")
}

fn big_attachment_body(bytes: usize) -> String {
    use base64::Engine;
    let enc = base64::engine::general_purpose::STANDARD.encode(vec![b'z'; bytes]);
    let mut lines = String::with_capacity(enc.len() + enc.len() / 38);
    for chunk in enc.as_bytes().chunks(76) {
        lines.push_str(&String::from_utf8_lossy(chunk));
        lines.push_str("\r\n");
    }
    format!(
        "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
         Content-Type: text/plain\r\n\r\nThe logs are attached.\r\n--b1\r\n\
         Content-Type: application/zip\r\nContent-Disposition: attachment; filename=\"logs.zip\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{lines}--b1--\r\n"
    )
}

fn scenario() -> Vec<Case> {
    let forwarded = String::from(
        "Content-Type: multipart/mixed; boundary=\"f1\"\r\n\r\n--f1\r\nContent-Type: text/plain\r\n\r\n\
         See below.\r\n--f1\r\nContent-Type: message/rfc822\r\n\r\n\
         From: Inner Customer <inner@example14.com>\r\nTo: agent@desk.example\r\n\
         Cc: desk+contact@desk.example\r\nSubject: original\r\n\r\nPlease call me.\r\n--f1--\r\n",
    );
    vec![
        // The system address in To: attached to the sender's records.
        Case {
            token: "to-system",
            from: "Client One <client1@example1.com>",
            to: "desk@desk.example",
            cc: None,
            bcc: None,
            rcpt: &["desk@desk.example"],
            body: text_body("Where is my order?"),
            links: &["Company Example One", "Contact Client One"],
            reason: None,
        },
        // An agent writes a customer with the system address in Cc.
        Case {
            token: "cc-system",
            from: "Agent <agent@desk.example>",
            to: "Client Two <client2@example2.com>",
            cc: Some("desk@desk.example"),
            bcc: None,
            rcpt: &["client2@example2.com", "desk@desk.example"],
            body: text_body("Your order ships today."),
            links: &["Contact Client Two"],
            reason: None,
        },
        // Only in Bcc: nothing happens, even though the customer is known.
        // Postfix drops a Bcc header, so the desk's copy shows the system
        // address nowhere: it is known to be a Bcc by arriving in the
        // system mailbox without the address in To/Cc.
        Case {
            token: "bcc-system",
            from: "Agent <agent@desk.example>",
            to: "Client Three <client3@example3.com>",
            cc: None,
            bcc: None,
            rcpt: &["client3@example3.com", "desk@desk.example"],
            body: text_body("A quiet copy."),
            links: &[],
            reason: Some(REASON_BCC_ONLY),
        },
        // Same with the +contact form in Bcc: no contact is created.
        Case {
            token: "bcc-plus-contact",
            from: "Agent <agent@desk.example>",
            to: "Someone New <someone@example20.com>",
            cc: None,
            bcc: Some("desk+contact@desk.example"),
            rcpt: &["someone@example20.com", "desk@desk.example"],
            body: text_body("Bcc'd to the desk."),
            links: &[],
            reason: Some(REASON_BCC_ONLY),
        },
        // +contact in Cc of an incoming mail: the sender becomes a contact.
        Case {
            token: "plus-contact",
            from: "New Person <newbie@example10.com>",
            to: "support@desk.example",
            cc: Some("desk+contact@desk.example"),
            bcc: None,
            rcpt: &["support@desk.example", "desk@desk.example"],
            body: text_body("Hello, I am new here."),
            links: &["Contact New Person"],
            reason: None,
        },
        // +contact on outgoing mail: the recipient becomes a contact.
        Case {
            token: "plus-contact-outgoing",
            from: "Agent <agent@desk.example>",
            to: "Fresh Client <fresh@example13.com>",
            cc: Some("desk+contact@desk.example"),
            bcc: None,
            rcpt: &["fresh@example13.com", "desk@desk.example"],
            body: text_body("Welcome aboard."),
            links: &["Contact Fresh Client"],
            reason: None,
        },
        // +lead in To.
        Case {
            token: "plus-lead",
            from: "Lead Person <lead1@example11.com>",
            to: "desk+lead@desk.example",
            cc: None,
            bcc: None,
            rcpt: &["desk@desk.example"],
            body: text_body("Please send a quote for 40 seats."),
            links: &["Lead Lead Person"],
            reason: None,
        },
        // +customer in Cc.
        Case {
            token: "plus-customer",
            from: "Returning Buyer <buyer@example12.com>",
            to: "support@desk.example",
            cc: Some("desk+customer@desk.example"),
            bcc: None,
            rcpt: &["support@desk.example", "desk@desk.example"],
            body: text_body("Same order as last month, please."),
            links: &["Customer Returning Buyer"],
            reason: None,
        },
        // An unknown tag: not imported, and the reason says which address.
        Case {
            token: "unknown-tag",
            from: "Client One <client1@example1.com>",
            to: "desk+asdjhdfsd@desk.example",
            cc: None,
            bcc: None,
            rcpt: &["desk@desk.example"],
            body: text_body("Wrong address."),
            links: &[],
            reason: Some("unknown system address desk+asdjhdfsd@desk.example"),
        },
        // Forwarded to +contact by an agent: judged by the outer headers, so
        // the customer inside the forwarded mail is not created.
        Case {
            token: "forwarded",
            from: "Agent <agent@desk.example>",
            to: "desk+contact@desk.example",
            cc: None,
            bcc: None,
            rcpt: &["desk@desk.example"],
            body: forwarded,
            links: &[],
            reason: Some(REASON_AGENT),
        },
        // Nobody the desk knows.
        Case {
            token: "stranger",
            from: "Stranger <stranger@example15.com>",
            to: "desk@desk.example",
            cc: None,
            bcc: None,
            rcpt: &["desk@desk.example"],
            body: text_body("Hi."),
            links: &[],
            reason: Some(REASON_NO_MATCH),
        },
        // Agents among themselves.
        Case {
            token: "agents-only",
            from: "Agent <agent@desk.example>",
            to: "support@desk.example",
            cc: Some("desk@desk.example"),
            bcc: None,
            rcpt: &["support@desk.example", "desk@desk.example"],
            body: text_body("Lunch?"),
            links: &[],
            reason: Some(REASON_AGENT),
        },
        // Attachments over 10 MB are not attached.
        Case {
            token: "big-attachment",
            from: "Client Two <client2@example2.com>",
            to: "desk@desk.example",
            cc: None,
            bcc: None,
            rcpt: &["desk@desk.example"],
            body: big_attachment_body(11 * 1024 * 1024),
            links: &[],
            reason: Some("attachment over 10 MB"),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_addresses_through_postfix_attach_create_or_explain() {
    // The system address is a real mailbox here: `desk@desk.example`. The
    // harness's Postfix has no recipient delimiter, so `desk+tag@` can only
    // appear in the headers; every such mail is delivered to the `desk`
    // mailbox by its envelope, and the headers are what the rules read.
    let mut opts = StackOptions::default();
    opts.users.push("desk".to_string());
    let stack = MailStack::start_with(opts);
    let dir = tempfile::tempdir().expect("tmp");
    let store = open_store(dir.path());

    let csv = "name,email,company\n\
               Client One,client1@example1.com,Example One\n\
               Client Two,client2@example2.com,\n\
               Client Three,client3@example3.com,\n";
    let csv_path = dir.path().join("known.csv");
    std::fs::write(&csv_path, csv).expect("write");
    assert_eq!(
        import_contacts(&store, &csv_path)
            .expect("import")
            .to_string(),
        "created 3, updated 0, skipped 0"
    );

    let cases = scenario();
    let transport = smtp(&stack);
    for (i, c) in cases.iter().enumerate() {
        let from = c
            .from
            .rsplit_once('<')
            .map(|(_, a)| a.trim_end_matches('>'))
            .unwrap_or(c.from);
        let envelope = Envelope::new(Some(addr(from)), c.rcpt.iter().map(|r| addr(r)).collect())
            .expect("envelope");
        transport
            .send_raw(&envelope, &raw_mail(c, i))
            .await
            .unwrap_or_else(|e| panic!("{}: SMTP: {e}", c.token));
    }

    // Wait until Postfix has handed everything to the desk mailbox.
    let deadline = Instant::now() + Duration::from_secs(60);
    while stack.message_count("desk", "INBOX") < cases.len() {
        assert!(
            Instant::now() < deadline,
            "only {} of {} mails arrived; postfix log:\n{}",
            stack.message_count("desk", "INBOX"),
            cases.len(),
            stack.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let config = account_config(&stack, "desk", "INBOX");
    let summary = sync::run(config.clone(), store.clone(), once("desk"), None)
        .await
        .expect("sync");
    eprintln!("sync: {summary:?}");

    let stored = all_mail(&store, "desk");
    assert_eq!(stored.len(), cases.len());
    let rules = deskmail::crm::LinkRules::from_config(&config);
    let mut report = Vec::new();
    for c in &cases {
        let m = stored
            .iter()
            .find(|m| m.subject == format!("{} scenario", c.token))
            .unwrap_or_else(|| panic!("{} not synced", c.token));
        // The entry point again: same answer, nothing new.
        let out = process_new_mail(&store, &rules, m).expect("process");
        assert!(
            out.created.is_empty(),
            "{}: created again {:?}",
            c.token,
            out.created
        );
        let got = links(&store, m.id);
        let reason = store
            .summary(m.id)
            .expect("summary")
            .expect("stored")
            .not_linked_reason;
        report.push(format!("{}: {got:?} {reason:?}", c.token));
        assert_eq!(got, c.links, "{}: links", c.token);
        match c.reason {
            None => assert_eq!(reason, None, "{}", c.token),
            Some(want) => {
                let r = reason.unwrap_or_default();
                assert!(
                    r.starts_with(want),
                    "{}: reason {r:?}, want {want:?}",
                    c.token
                );
            }
        }
    }
    eprintln!("{}", report.join("\n"));

    // Exactly the records the rules make: three imported contacts plus the
    // two +contact ones, one lead, one customer; nobody from the Bcc'd or
    // forwarded mail.
    let names = |k: RecordKind| -> BTreeSet<String> {
        store
            .records(k)
            .expect("records")
            .into_iter()
            .map(|r| format!("{} <{}>", r.name, r.emails.join(",")))
            .collect()
    };
    assert_eq!(
        names(RecordKind::Contact),
        BTreeSet::from([
            "Client One <client1@example1.com>".to_string(),
            "Client Three <client3@example3.com>".to_string(),
            "Client Two <client2@example2.com>".to_string(),
            "Fresh Client <fresh@example13.com>".to_string(),
            "New Person <newbie@example10.com>".to_string(),
        ])
    );
    assert_eq!(
        names(RecordKind::Lead),
        BTreeSet::from(["Lead Person <lead1@example11.com>".to_string()])
    );
    assert_eq!(
        names(RecordKind::Customer),
        BTreeSet::from(["Returning Buyer <buyer@example12.com>".to_string()])
    );
    assert_eq!(
        names(RecordKind::Account),
        BTreeSet::from(["Example One <>".to_string()])
    );
    let expected_links: usize = cases.iter().map(|c| c.links.len()).sum();
    assert_eq!(store.stats().expect("stats").links as usize, expected_links);

    // The agent's own copy in Sent keeps the Bcc header the server dropped:
    // synced from the agent's account it is judged by that header.
    let sent = Case {
        token: "sent-copy-bcc",
        from: "Agent <agent@desk.example>",
        to: "Client Three <client3@example3.com>",
        cc: None,
        bcc: Some("desk@desk.example"),
        rcpt: &[],
        body: text_body("A quiet copy, as the agent's client filed it."),
        links: &[],
        reason: Some(REASON_BCC_ONLY),
    };
    stack.save_to("agent", "Sent", &raw_mail(&sent, 20));
    let agent = account_config(&stack, "agent", "Sent");
    sync::run(agent, store.clone(), once("agent"), None)
        .await
        .expect("sync agent");
    let copies: Vec<MessageSummary> = store
        .page("agent", "Sent", None, usize::MAX)
        .expect("page")
        .into_iter()
        .map(|r| r.summary)
        .filter(|m| m.subject == "sent-copy-bcc scenario")
        .collect();
    assert_eq!(copies.len(), 1);
    let copy = store.summary(copies[0].id).expect("s").expect("stored");
    assert_eq!(copy.bcc.len(), 1, "the Sent copy keeps its Bcc");
    assert!(links(&store, copy.id).is_empty());
    assert_eq!(copy.not_linked_reason.as_deref(), sent.reason);
    assert_eq!(store.stats().expect("stats").links as usize, expected_links);
}

// ------------------------------------------------------------------ (c) --

fn history_mail(uid: u32, from: &str, to: &str, subject: &str, date: &str) -> NewMail {
    let raw = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <h{uid}@crm.test>\r\n\
         Date: {date}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nBody {uid}.\r\n"
    );
    let own = vec![
        "agent@desk.example".to_string(),
        "support@desk.example".to_string(),
    ];
    let summary = deskmail::sync::ingest::summary_from_raw(raw.as_bytes(), &own);
    NewMail {
        account: "support".into(),
        folder: "INBOX".into(),
        uidvalidity: 1,
        uid,
        flags: 0,
        summary,
        raw: Some(raw.into_bytes()),
    }
}

#[test]
fn a_contacts_history_shows_its_company_and_deal_mail() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open_store(dir.path());
    let csv_path = dir.path().join("c.csv");
    std::fs::write(
        &csv_path,
        "name,email,phone,company\n\
         Emma Larsen,emma@northwind.example,+46 8 123 45,Northwind Traders\n\
         Olaf Berg,olaf@northwind.example,,Northwind Traders\n",
    )
    .expect("write");
    import_contacts(&store, &csv_path).expect("import");
    let emma = store
        .records_by_address("emma@northwind.example")
        .expect("find")
        .pop()
        .expect("emma");
    let company = emma.parent.expect("company");
    let mut deal =
        Record::new(RecordKind::Deal, "Northwind renewal 2024").with_field("stage", "Proposal");
    deal.parent = Some(company);
    deal.related = vec![emma.reference()];
    let deal = store.put_record(deal).expect("deal");

    let mails = vec![
        history_mail(
            1,
            "Emma Larsen <emma@northwind.example>",
            "support@desk.example",
            "Printer jams again",
            "Mon, 13 Nov 2023 09:15:00 +0000",
        ),
        history_mail(
            2,
            "Agent <agent@desk.example>",
            "Emma Larsen <emma@northwind.example>",
            "Re: Printer jams again",
            "Mon, 13 Nov 2023 11:40:00 +0000",
        ),
        history_mail(
            3,
            "Olaf Berg <olaf@northwind.example>",
            "support@desk.example",
            "Invoice 2023-118",
            "Tue, 14 Nov 2023 08:05:00 +0000",
        ),
        history_mail(
            4,
            "Finance <billing@northwind.example>",
            "support@desk.example",
            "Payment terms for Northwind",
            "Wed, 15 Nov 2023 16:30:00 +0000",
        ),
        history_mail(
            5,
            "Agent <agent@desk.example>",
            "procurement@northwind.example",
            "Renewal proposal",
            "Thu, 16 Nov 2023 10:00:00 +0000",
        ),
        history_mail(
            6,
            "Someone <someone@elsewhere.example>",
            "support@desk.example",
            "Unrelated",
            "Fri, 17 Nov 2023 12:00:00 +0000",
        ),
    ];
    let report = store.ingest(mails, None).expect("ingest");
    let rules = deskmail::crm::LinkRules {
        own: vec!["agent@desk.example".into(), "support@desk.example".into()],
        ..Default::default()
    };
    let mut ids = Vec::new();
    for id in &report.created {
        let m = store.summary(*id).expect("summary").expect("stored");
        process_new_mail(&store, &rules, &m).expect("process");
        ids.push(m);
    }
    let by_subject = |s: &str| {
        ids.iter()
            .find(|m| m.subject == s)
            .map(|m| m.id)
            .expect("mail")
    };
    // Mail filed by hand on the company and on the deal.
    store
        .link(by_subject("Payment terms for Northwind"), company)
        .expect("link");
    store
        .link(by_subject("Renewal proposal"), deal.reference())
        .expect("link");
    // A case of Emma's.
    let case = deskmail::crm::case_from_mail(
        &store,
        &store
            .summary(by_subject("Printer jams again"))
            .expect("s")
            .expect("m"),
        Some("agent@desk.example"),
    )
    .expect("case");
    deskmail::crm::create_and_link(&store, case, by_subject("Printer jams again"))
        .expect("case saved");

    let emma = store
        .record(RecordKind::Contact, emma.id)
        .expect("get")
        .expect("emma");
    let company = store
        .record(company.0, company.1)
        .expect("get")
        .expect("company");
    let deal = store
        .record(RecordKind::Deal, deal.id)
        .expect("get")
        .expect("deal");
    let text = format!(
        "{}\n{}\n{}",
        history_text(&store, &emma).expect("history"),
        history_text(&store, &company).expect("history"),
        history_text(&store, &deal).expect("history"),
    );
    insta::assert_snapshot!("contact_history", text);
}
