//! Email-to-case, auto-replies and filters against the real mail stack:
//! customers write to the group address through Postfix, `sync --once`
//! imports, and cases, replies and filed mail are read back from the store,
//! the customers' mailbox and the server.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskmail::config::Config;
use deskmail::store::{Record, RecordKind, Store};
use deskmail::sync::{self, SyncOptions};
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::client::Tls;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use support::MailStack;

fn config(stack: &MailStack, assignment: &str, carl_active: bool) -> Arc<Config> {
    let text = config_text(stack, assignment, carl_active, "");
    Arc::new(Config::parse(&text, Path::new("config.toml")).expect("config parses"))
}

/// The desk's config; `cases_extra` adds lines to `[accounts.cases]`.
fn config_text(
    stack: &MailStack,
    assignment: &str,
    carl_active: bool,
    cases_extra: &str,
) -> String {
    format!(
        r#"
[agent]
name = "Alice"
email = "alice@desk.example"

[[agents]]
name = "Bea"
email = "bea@desk.example"

[[agents]]
name = "Carl"
email = "carl@desk.example"
active = {carl_active}

[[teams]]
name = "support"
agents = ["alice@desk.example", "bea@desk.example", "carl@desk.example"]

[[accounts]]
name = "support"
group = true
email = "support@desk.example"
host = "127.0.0.1"
port = {port}
tls = "starttls"
ca_file = "{ca}"
user = "support"
password_command = "printf secret"
folders = ["INBOX"]
[accounts.cases]
enabled = true
team = "support"
assignment = "{assignment}"
subject_tag = "[#{{number}}]"
reopen = "reopen"
{cases_extra}

[accounts.smtp]
host = "127.0.0.1"
port = {submission}
tls = "starttls"
user = "support"
password_command = "printf secret"
"#,
        submission = stack.submission_port,
        port = stack.imap_port,
        ca = stack.cert_pem.display()
    )
}

struct Desk {
    stack: MailStack,
    store: Arc<Store>,
    _dir: tempfile::TempDir,
    sent: usize,
}

impl Desk {
    fn start() -> Desk {
        let stack = MailStack::start();
        let dir = tempfile::tempdir().expect("tmp");
        let store = Arc::new(Store::open(&dir.path().join("data")).expect("store opens"));
        Desk {
            stack,
            store,
            _dir: dir,
            sent: 0,
        }
    }

    /// A customer's mail to the group address, through Postfix.
    async fn write(&mut self, from: &str, subject: &str, msgid: &str, extra: &str) {
        let date = format!("Tue, 1 Dec 2026 10:00:{:02} +0000", self.sent % 60);
        customer_writes(&self.stack, from, subject, msgid, extra, &date).await;
        self.sent += 1;
    }

    /// Wait until Postfix delivered every mail, then `sync --once`.
    async fn sync(&self, cfg: &Arc<Config>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.stack.message_count("support", "INBOX") < self.sent {
            assert!(
                Instant::now() < deadline,
                "postfix log:\n{}",
                self.stack.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let opts = SyncOptions {
            account: Some("support".into()),
            once: true,
            progress: false,
        };
        sync::run(cfg.clone(), self.store.clone(), opts, None)
            .await
            .expect("sync");
    }

    fn case_of(&self, msgid: &str) -> Option<Record> {
        let id = self
            .store
            .id_by_message_id(msgid)
            .expect("index")
            .or_else(|| {
                self.store
                    .id_by_message_id(&format!("<{msgid}>"))
                    .ok()
                    .flatten()
            })
            .unwrap_or_else(|| panic!("{msgid} not synced"));
        self.store
            .links_of(id)
            .expect("links")
            .into_iter()
            .find(|r| r.kind == RecordKind::Case)
    }

    fn number_and_assignee(&self, msgid: &str) -> (String, String) {
        let c = self
            .case_of(msgid)
            .unwrap_or_else(|| panic!("{msgid}: no case"));
        (
            c.field("number").unwrap_or_default().into(),
            c.field("assignee").unwrap_or_default().into(),
        )
    }
}

/// A customer's mail to the group address, submitted to Postfix.
async fn customer_writes(
    stack: &MailStack,
    from: &str,
    subject: &str,
    msgid: &str,
    extra: &str,
    date: &str,
) {
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(stack.host.as_str())
        .port(stack.smtp_port)
        .tls(Tls::None)
        .timeout(Some(Duration::from_secs(30)))
        .build();
    let raw = format!(
        "From: {from}\r\nTo: support@desk.example\r\nSubject: {subject}\r\n\
         Message-ID: <{msgid}>\r\nDate: {date}\r\n{extra}\
         Content-Type: text/plain\r\n\r\nPlease help.\r\n"
    );
    let from: Address = from.parse().expect("from");
    let to: Address = "support@desk.example".parse().expect("to");
    let envelope = Envelope::new(Some(from), vec![to]).expect("envelope");
    transport
        .send_raw(&envelope, raw.as_bytes())
        .await
        .expect("SMTP");
}

fn pair(n: &str, a: &str) -> (String, String) {
    (n.into(), a.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_gives_four_customers_agents_1_2_3_1_and_holds_its_place() {
    let mut desk = Desk::start();
    let cfg = config(&desk.stack, "round-robin", true);
    for i in 1..=4 {
        desk.write(
            &format!("c{i}@example{i}.com"),
            &format!("Help {i}"),
            &format!("rr{i}@example.com"),
            "",
        )
        .await;
        // One sync per mail: the rotation is stored, not derived from a batch.
        desk.sync(&cfg).await;
    }
    let got: Vec<_> = (1..=4)
        .map(|i| desk.number_and_assignee(&format!("rr{i}@example.com")))
        .collect();
    assert_eq!(
        got,
        [
            pair("1", "alice@desk.example"),
            pair("2", "bea@desk.example"),
            pair("3", "carl@desk.example"),
            pair("4", "alice@desk.example"),
        ]
    );

    // An agent moves case 2 to Carl by hand: the rotation goes on to Bea.
    let mut two = desk.case_of("rr2@example.com").expect("case 2");
    two.fields
        .insert("assignee".into(), "carl@desk.example".into());
    desk.store.put_record(two).expect("reassign");
    desk.write("c5@example5.com", "Help 5", "rr5@example.com", "")
        .await;
    desk.sync(&cfg).await;
    assert_eq!(
        desk.number_and_assignee("rr5@example.com"),
        pair("5", "bea@desk.example")
    );

    // Carl is away: his turn passes to Alice.
    let away = config(&desk.stack, "round-robin", false);
    desk.write("c6@example6.com", "Help 6", "rr6@example.com", "")
        .await;
    desk.sync(&away).await;
    assert_eq!(
        desk.number_and_assignee("rr6@example.com"),
        pair("6", "alice@desk.example")
    );

    let stats = serde_json::to_value(desk.store.stats().expect("stats")).expect("json");
    assert_eq!(stats["cases"]["Assigned"], 6, "{stats}");
    assert_eq!(
        stats["cases_by_assignee"]["alice@desk.example"], 3,
        "{stats}"
    );
    assert_eq!(
        stats["cases_by_assignee"]["carl@desk.example"], 2,
        "{stats}"
    );
    assert_eq!(stats["unassigned"], 0, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_busy_replies_strangers_and_a_closed_case_through_the_real_stack() {
    let mut desk = Desk::start();
    let cfg = config(&desk.stack, "least-busy", true);
    // Alice already carries two open cases and Bea one.
    for (i, who) in ["alice", "alice", "bea"].iter().enumerate() {
        let mut c = Record::new(RecordKind::Case, format!("Old {i}"));
        c.fields.insert("number".into(), (100 + i).to_string());
        c.fields.insert("status".into(), "Assigned".into());
        c.fields
            .insert("assignee".into(), format!("{who}@desk.example"));
        desk.store.put_record(c).expect("case");
    }
    desk.write("ann@example1.com", "Printer jams", "ann1@example.com", "")
        .await;
    desk.sync(&cfg).await;
    let ann = desk.case_of("ann1@example.com").expect("ann's case");
    assert_eq!(ann.field("assignee"), Some("carl@desk.example"));
    assert_eq!(ann.field("number"), Some("103"));
    let tag = format!("[#{}]", ann.field("number").unwrap_or_default());

    // Her reply joins; a stranger quoting the tag does not; a bulk mail makes nothing.
    desk.write(
        "ann@example1.com",
        "Re: Printer jams",
        "ann2@example.com",
        "In-Reply-To: <ann1@example.com>\r\nReferences: <ann1@example.com>\r\n",
    )
    .await;
    desk.write(
        "eve@example2.com",
        &format!("Re: Printer jams {tag}"),
        "eve1@example.com",
        "",
    )
    .await;
    desk.write(
        "news@example3.com",
        "Weekly offers",
        "news1@example.com",
        "Precedence: bulk\r\n",
    )
    .await;
    desk.sync(&cfg).await;
    assert_eq!(desk.case_of("ann2@example.com").map(|c| c.id), Some(ann.id));
    let eve = desk.case_of("eve1@example.com").expect("eve's own case");
    assert_ne!(eve.id, ann.id);
    assert_eq!(eve.field("assignee"), Some("bea@desk.example"));
    assert!(desk.case_of("news1@example.com").is_none());

    // Ann's case is closed; her next mail reopens it.
    let mut closed = desk
        .store
        .record(RecordKind::Case, ann.id)
        .expect("r")
        .expect("case");
    closed.fields.insert("status".into(), "Closed".into());
    desk.store.put_record(closed).expect("close");
    desk.write(
        "ann@example1.com",
        &format!("Re: Printer jams {tag}"),
        "ann3@example.com",
        "In-Reply-To: <ann2@example.com>\r\n",
    )
    .await;
    desk.sync(&cfg).await;
    let again = desk.case_of("ann3@example.com").expect("case");
    assert_eq!(again.id, ann.id);
    assert_eq!(again.field("status"), Some("Assigned"));
}

/// The raw mails in a user's INBOX on disk.
fn inbox_files(stack: &MailStack, user: &str) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(dir) = std::fs::read_dir(stack.maildir(user).join(sub)) else {
            continue;
        };
        for f in dir.flatten() {
            out.push(String::from_utf8_lossy(&std::fs::read(f.path()).expect("read")).into_owned());
        }
    }
    out
}

fn header_of<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_s_reply_on_a_case_goes_out_from_the_group_with_its_tag() {
    use deskmail::desk::{Backend, Command, Desk as DeskFacade, Outgoing};
    let mut desk = Desk::start();
    let cfg = config(&desk.stack, "round-robin", true);
    desk.write("ann@example1.com", "Printer jams", "ann1@example.com", "")
        .await;
    desk.sync(&cfg).await;
    let case = desk.case_of("ann1@example.com").expect("case");
    let orig = desk
        .store
        .id_by_message_id("ann1@example.com")
        .expect("index")
        .expect("stored");

    // Alice answers from her own identity; the case speaks for the group.
    let (facade, _events) =
        DeskFacade::new(Arc::clone(&desk.store), (*cfg).clone(), Backend::Servers);
    facade.send(Command::Send(Box::new(Outgoing {
        account: "support".into(),
        from_name: "Alice".into(),
        from: "alice@desk.example".into(),
        to: vec!["ann@example1.com".into()],
        subject: "Re: Printer jams".into(),
        body: "A technician is on the way.\n".into(),
        in_reply_to: Some(orig),
        ..Outgoing::default()
    })));
    let report = deskmail::outbox::drain_once(Arc::clone(&cfg), Arc::clone(&desk.store), None)
        .await
        .expect("drain");
    assert_eq!(report.sent.len(), 1, "{report:?}");

    let deadline = Instant::now() + Duration::from_secs(60);
    let raw = loop {
        if let Some(r) = inbox_files(&desk.stack, "customer")
            .into_iter()
            .find(|r| r.contains("A technician is on the way."))
        {
            break r;
        }
        assert!(Instant::now() < deadline, "{}", desk.stack.log_tail(40));
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let number = case.field("number").unwrap_or_default();
    assert!(
        header_of(&raw, "From").is_some_and(|f| f.contains("support@desk.example")),
        "{raw}"
    );
    assert_eq!(
        header_of(&raw, "Reply-To"),
        Some("support@desk.example"),
        "{raw}"
    );
    assert_eq!(
        header_of(&raw, "Subject"),
        Some(format!("Re: Printer jams [#{number}]").as_str()),
        "{raw}"
    );
    let mid = header_of(&raw, "Message-ID").unwrap_or_default();
    assert_eq!(
        deskmail::crm::cases::case_in_message_id(mid),
        number.parse().ok(),
        "{mid}"
    );
}

/// A desk run as its users run it: a config file, a data dir and
/// `deskmail sync --once` as a process, templates under its config dir.
struct CliDesk {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl CliDesk {
    fn new(text: &str, templates: &[(&str, &str)]) -> CliDesk {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let config = dir.path().join("config.toml");
        std::fs::write(&config, text).expect("config");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let tdir = dir.path().join("xdg/deskmail/templates");
        std::fs::create_dir_all(&tdir).expect("templates dir");
        for (name, body) in templates {
            std::fs::write(tdir.join(name), body).expect("template");
        }
        CliDesk { dir, config }
    }

    /// `deskmail sync --once`; its stdout and stderr, asserted to succeed.
    async fn sync_once(&self) -> String {
        self.run(&["sync", "--once"]).await
    }

    /// `deskmail ARGS`; its stdout then stderr, asserted to succeed.
    async fn run(&self, args: &[&str]) -> String {
        let (dir, config) = (self.dir.path().to_path_buf(), self.config.clone());
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_deskmail"))
                .arg("--config")
                .arg(&config)
                .arg("--data-dir")
                .arg(dir.join("data"))
                .args(&args)
                .env("HOME", &dir)
                .env("XDG_CONFIG_HOME", dir.join("xdg"))
                .env("XDG_STATE_HOME", dir.join("state"))
                .env("NO_COLOR", "1")
                .stdin(std::process::Stdio::null())
                .output()
                .expect("run deskmail")
        })
        .await
        .expect("join");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "deskmail failed: {text}");
        text
    }
}

/// Wait until Postfix delivered `n` mails to `user`'s INBOX.
async fn delivered(stack: &MailStack, user: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while stack.message_count(user, "INBOX") < n {
        assert!(Instant::now() < deadline, "{}", stack.log_tail(40));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Auto-replies that reached the customers' mailbox, by recipient, once
/// Postfix has nothing left to deliver.
async fn auto_replies_received(stack: &MailStack) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !stack.postqueue().contains("empty") {
        assert!(Instant::now() < deadline, "{}", stack.postqueue());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    inbox_files(stack, "customer")
        .into_iter()
        .filter(|r| header_of(r, "Auto-Submitted") == Some("auto-replied"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_customer_gets_one_auto_reply_with_the_case_number_and_machines_and_the_sixth_mail_none()
 {
    let stack = MailStack::start();
    let text = config_text(
        &stack,
        "round-robin",
        true,
        "auto_reply_template = \"ack\"\nauto_reply_limit = \"5/2h\"",
    );
    let desk = CliDesk::new(
        &text,
        &[(
            "ack",
            "Hello {Person.emailAddress},\n\nyour request is case {Case.number}; \
             an agent answers soon.\n\n{User.name}\n",
        )],
    );
    let now = chrono::Utc::now().to_rfc2822();
    let mut sent = 0;
    for who in ["ann@example1.com", "bob@example2.com", "cat@example3.com"] {
        customer_writes(&stack, who, "Printer jams", &format!("{who}.1"), "", &now).await;
        sent += 1;
    }
    customer_writes(
        &stack,
        "monitor@example4.com",
        "Disk almost full",
        "auto1@example4.com",
        "Auto-Submitted: auto-generated\r\n",
        &now,
    )
    .await;
    customer_writes(
        &stack,
        "news@example5.com",
        "Weekly offers",
        "bulk1@example5.com",
        "Precedence: bulk\r\n",
        &now,
    )
    .await;
    sent += 2;
    // Dan opens six cases inside the window: the sixth gets no auto-reply.
    for i in 1..=6 {
        customer_writes(
            &stack,
            "dan@example6.com",
            &format!("Question {i}"),
            &format!("dan{i}@example6.com"),
            "",
            &now,
        )
        .await;
        sent += 1;
    }
    delivered(&stack, "support", sent).await;
    let out = desk.sync_once().await;
    assert!(out.contains("sent 8 of 8"), "{out}");

    let replies = auto_replies_received(&stack).await;
    let to = |who: &str| -> Vec<&String> {
        replies
            .iter()
            .filter(|r| header_of(r, "To") == Some(who))
            .collect()
    };
    let mut numbers = Vec::new();
    for who in ["ann@example1.com", "bob@example2.com", "cat@example3.com"] {
        let got = to(who);
        assert_eq!(got.len(), 1, "{who}: {got:?}");
        let raw = got[0];
        let subject = header_of(raw, "Subject").unwrap_or_default();
        let number = subject
            .rsplit_once("[#")
            .and_then(|(_, n)| n.strip_suffix(']'))
            .unwrap_or_else(|| panic!("no tag in {subject:?}"));
        assert_eq!(subject, format!("Re: Printer jams [#{number}]"));
        assert!(
            raw.contains(&format!("your request is case {number};")),
            "{raw}"
        );
        assert!(
            header_of(raw, "From").is_some_and(|f| f.contains("support@desk.example")),
            "{raw}"
        );
        assert_eq!(header_of(raw, "Reply-To"), Some("support@desk.example"));
        assert_eq!(header_of(raw, "X-Auto-Response-Suppress"), Some("All"));
        assert_eq!(
            header_of(raw, "In-Reply-To"),
            Some(format!("<{who}.1>").as_str())
        );
        numbers.push(number.to_string());
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 3, "one case each: {numbers:?}");
    assert!(to("monitor@example4.com").is_empty(), "auto-generated mail");
    assert!(to("news@example5.com").is_empty(), "bulk mail");
    assert_eq!(
        to("dan@example6.com").len(),
        5,
        "the sixth is over the limit"
    );
    // Filed in Sent like any mail the desk sends.
    assert_eq!(stack.message_count("support", "Sent"), 8);

    // A restart sends nothing twice, and the limit is remembered.
    customer_writes(
        &stack,
        "dan@example6.com",
        "Question 7",
        "dan7@example6.com",
        "",
        &now,
    )
    .await;
    delivered(&stack, "support", sent + 1).await;
    let out = desk.sync_once().await;
    assert!(!out.contains("sent "), "{out}");
    assert_eq!(auto_replies_received(&stack).await.len(), 8);
    assert_eq!(stack.message_count("support", "Sent"), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skip_filter_keeps_a_mail_out_and_a_move_filter_files_one_into_a_folder_it_creates() {
    let stack = MailStack::start();
    let mut text = config_text(&stack, "round-robin", true, "");
    text.push_str(
        r#"
[[accounts.filters]]
name = "billing"
subject = "re:(?i)^invoice"
action = "move"
folder = "Billing"

[[accounts.filters]]
name = "monitoring"
from = "*@monitor.example"
action = "mark-read"

[[filters]]
name = "newsletters"
from = "*@NEWS.example"
action = "skip"
"#,
    );
    let desk = CliDesk::new(&text, &[]);
    let now = chrono::Utc::now().to_rfc2822();
    customer_writes(
        &stack,
        "ann@example1.com",
        "Printer jams",
        "f1@example1.com",
        "",
        &now,
    )
    .await;
    customer_writes(
        &stack,
        "Offers@News.Example",
        "Weekly deals",
        "f2@news.example",
        "",
        &now,
    )
    .await;
    customer_writes(
        &stack,
        "bob@example2.com",
        "Invoice 2211",
        "f3@example2.com",
        "",
        &now,
    )
    .await;
    customer_writes(
        &stack,
        "cron@monitor.example",
        "Backup done",
        "f4@monitor.example",
        "",
        &now,
    )
    .await;
    delivered(&stack, "support", 4).await;
    assert!(
        !stack
            .doveadm(&["mailbox", "list", "-u", "support"])
            .lines()
            .any(|l| l.trim() == "Billing"),
        "the folder is not there before the sync"
    );

    desk.sync_once().await;

    let stats: serde_json::Value =
        serde_json::from_str(&desk.run(&["stats", "--json"]).await).expect("stats json");
    let folder = |name: &str| {
        stats["accounts"][0]["folders"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no folder {name} in {stats}"))
    };
    // The newsletter is not stored; the invoice is filed; the backup mail is read.
    assert_eq!(stats["messages"], 3, "{stats}");
    assert_eq!(folder("INBOX")["total"], 2, "{stats}");
    assert_eq!(folder("INBOX")["unread"], 1, "{stats}");
    assert_eq!(folder("Billing")["total"], 1, "{stats}");
    // On the server: Billing was created and holds the invoice; the skipped
    // mail stays in INBOX untouched, and the backup mail is \Seen there too.
    assert_eq!(stack.message_count("support", "Billing"), 1);
    assert_eq!(stack.message_count("support", "INBOX"), 3);
    let seen = stack.doveadm(&["search", "-u", "support", "mailbox", "INBOX", "SEEN"]);
    assert_eq!(seen.lines().count(), 1, "{seen}");

    // The next sync fetches nothing again and files nothing twice.
    let out = desk.sync_once().await;
    assert!(out.contains(": 0 new mail"), "{out}");
    assert_eq!(stack.message_count("support", "Billing"), 1);

    // A skip filter added later sends the stored mail it matches to Trash,
    // on the server too, at the next sync.
    text.push_str("\n[[filters]]\nname = \"ann\"\nfrom = \"ann@*\"\naction = \"skip\"\n");
    std::fs::write(&desk.config, &text).expect("config");
    let out = desk.sync_once().await;
    assert!(
        out.contains("1 stored mail(s) match a new skip filter"),
        "{out}"
    );
    assert_eq!(stack.message_count("support", "Trash"), 1);
    assert_eq!(stack.message_count("support", "INBOX"), 2);
    let stats: serde_json::Value =
        serde_json::from_str(&desk.run(&["stats", "--json"]).await).expect("stats json");
    let inbox = stats["accounts"][0]["folders"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == "INBOX"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(inbox["total"], 1, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_mail_written_from_a_case_goes_out_from_the_group_and_joins_the_case() {
    use deskmail::desk::{Backend, Command, Desk as DeskFacade, Outgoing};
    let mut desk = Desk::start();
    let cfg = config(&desk.stack, "round-robin", true);
    desk.write("ann@example1.com", "Printer jams", "ann1@example.com", "")
        .await;
    desk.sync(&cfg).await;
    let case = desk.case_of("ann1@example.com").expect("case");

    // Written from the Cases view: no mail answered, only the case named.
    let (facade, _events) =
        DeskFacade::new(Arc::clone(&desk.store), (*cfg).clone(), Backend::Servers);
    facade.send(Command::Send(Box::new(Outgoing {
        account: "support".into(),
        from_name: "Alice".into(),
        from: "alice@desk.example".into(),
        to: vec!["ann@example1.com".into()],
        subject: "Your printer".into(),
        body: "We ordered the part.\n".into(),
        case: Some(case.id),
        ..Outgoing::default()
    })));
    let report = deskmail::outbox::drain_once(Arc::clone(&cfg), Arc::clone(&desk.store), None)
        .await
        .expect("drain");
    assert_eq!(report.sent.len(), 1, "{report:?}");

    let deadline = Instant::now() + Duration::from_secs(60);
    let raw = loop {
        if let Some(r) = inbox_files(&desk.stack, "customer")
            .into_iter()
            .find(|r| r.contains("We ordered the part."))
        {
            break r;
        }
        assert!(Instant::now() < deadline, "{}", desk.stack.log_tail(40));
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let number = case.field("number").unwrap_or_default();
    assert!(
        header_of(&raw, "From").is_some_and(|f| f.contains("support@desk.example")),
        "{raw}"
    );
    assert_eq!(
        header_of(&raw, "Reply-To"),
        Some("support@desk.example"),
        "{raw}"
    );
    assert_eq!(
        header_of(&raw, "Subject"),
        Some(format!("Your printer [#{number}]").as_str()),
        "{raw}"
    );
    // The Sent copy is on the case: it counts as the case's first response.
    let sent = desk
        .store
        .messages_of(case.reference())
        .expect("links")
        .into_iter()
        .filter_map(|id| desk.store.summary(id).ok().flatten())
        .find(|m| m.subject.starts_with("Your printer"));
    assert!(sent.is_some(), "the sent mail is not on the case");
    assert!(
        desk.store
            .first_response_secs(case.reference())
            .expect("read")
            .is_some()
    );
}
