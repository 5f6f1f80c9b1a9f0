//! The demo desk: a populated support desk generated from a fixed seed, so
//! `deskmail demo` shows every pane filled with no network and no blobs.

pub mod mailgen;

use crate::config::{AccountConfig, AgentConfig, Config, TlsMode};
use crate::crm::linking::LinkRules;
use crate::store::{FolderState, Record, RecordKind, Store, StoreError, flags};
use crate::sync::pipeline::{Extras, Incoming, Steps};
use mailgen::{Attachment, Charset, DraftMail, Rng};

pub const DEFAULT_MESSAGES: usize = 320;
/// 2026-10-01T08:00:00Z: demo dates are fixed so screens are reproducible.
const T0: i64 = 1_790_841_600;

/// The configuration the demo desk runs with: no servers, two accounts.
pub fn demo_config() -> Config {
    let account = |name: &str, group: bool, email: &str| AccountConfig {
        name: name.into(),
        kind: Default::default(),
        group,
        team: None,
        email: email.into(),
        host: "127.0.0.1".into(),
        port: 0,
        tls: TlsMode::None,
        ca_file: None,
        tls_fingerprint: None,
        accept_invalid_certs: false,
        user: name.into(),
        password_command: None,
        password: None,
        auth: Default::default(),
        oauth2_token_command: None,
        folders: vec!["INBOX".to_string()].into(),
        fetch_since: None,
        target_folder: None,
        check_interval_secs: 60,
        max_message_mb: 50,
        server_saves_sent: false,
        skip_notification: vec![],
        smtp: None,
        active: true,
        delete_after_download: None,
        max_messages_per_connection: None,
        cases: None,
        filters: vec![],
    };
    Config {
        agent: AgentConfig {
            name: "Alice Agent".into(),
            email: "alice@desk.example".into(),
            unix_user: None,
            active: None,
        },
        agents: vec![
            AgentConfig {
                name: "Boris Agent".into(),
                email: "boris@desk.example".into(),
                unix_user: None,
                active: None,
            },
            AgentConfig {
                name: "Carl Agent".into(),
                email: "carl@desk.example".into(),
                unix_user: None,
                active: None,
            },
        ],
        teams: vec![crate::config::TeamConfig {
            name: "support".into(),
            agents: vec![
                "alice@desk.example".into(),
                "boris@desk.example".into(),
                "carl@desk.example".into(),
            ],
        }],
        accounts: vec![
            account("support", true, "support@desk.example"),
            account("alice", false, "alice@desk.example"),
        ],
        system_address: Some("desk@desk.example".into()),
        ..Config::default()
    }
}

struct Company {
    name: &'static str,
    domain: &'static str,
    russian: bool,
}

const COMPANIES: &[Company] = &[
    Company {
        name: "Northwind Traders",
        domain: "northwind.example",
        russian: false,
    },
    Company {
        name: "Contoso Ltd",
        domain: "contoso.example",
        russian: false,
    },
    Company {
        name: "Fabrikam Inc",
        domain: "fabrikam.example",
        russian: false,
    },
    Company {
        name: "Tailspin Toys",
        domain: "tailspin.example",
        russian: false,
    },
    Company {
        name: "Adventure Works",
        domain: "adventure-works.example",
        russian: false,
    },
    Company {
        name: "ООО Ромашка",
        domain: "romashka.example",
        russian: true,
    },
    Company {
        name: "АО Северный Ветер",
        domain: "sevveter.example",
        russian: true,
    },
    Company {
        name: "ИП Кузнецов",
        domain: "kuznetsov.example",
        russian: true,
    },
    Company {
        name: "Litware Systems",
        domain: "litware.example",
        russian: false,
    },
    Company {
        name: "ТД Волга",
        domain: "volga-td.example",
        russian: true,
    },
];

const EN_FIRST: &[&str] = &[
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Grace", "Owen",
];
const EN_LAST: &[&str] = &[
    "Johnson", "Carter", "Nguyen", "Patel", "Brooks", "Fischer", "Hughes", "Moreau",
];
const RU_FIRST: &[&str] = &[
    "Анна",
    "Иван",
    "Мария",
    "Дмитрий",
    "Ольга",
    "Сергей",
    "Екатерина",
    "Павел",
];
const RU_LAST: &[&str] = &[
    "Иванова",
    "Петров",
    "Смирнова",
    "Кузнецов",
    "Попова",
    "Соколов",
    "Волкова",
];
const RU_TRANSLIT: &[&str] = &[
    "anna",
    "ivan",
    "maria",
    "dmitry",
    "olga",
    "sergey",
    "ekaterina",
    "pavel",
];

const EN_SUBJECTS: &[&str] = &[
    "Cannot log in to the portal",
    "Invoice 4471 looks wrong",
    "Refund request for order 10293",
    "Export to CSV fails",
    "Password reset link expired",
    "Delivery is late",
    "Feature request: dark mode",
    "Error 502 when uploading files",
    "Question about the annual plan",
    "Mailbox stopped syncing",
];
const RU_SUBJECTS: &[&str] = &[
    "Не работает вход в личный кабинет",
    "Ошибка при оплате картой",
    "Доставка задерживается",
    "Вопрос по счёту",
    "Не приходят письма",
    "Прошу вернуть деньги за заказ",
    "Не открывается отчёт",
];
const EN_BODIES: &[&str] = &[
    "Hello,\n\nsince this morning I cannot log in. The page says \"session expired\" and sends me back to the start.\nCould you please have a look?\n\nThanks,",
    "Hi team,\n\nthe last invoice charges us for 12 seats but we only have 9 users.\nPlease correct it and send a new invoice.\n\nBest regards,",
    "Good afternoon,\n\nwe ordered two licences last week and still have not received the keys.\nThe order number is in the subject.\n\nKind regards,",
    "Hello support,\n\nexporting the customer list to CSV stops at 80% with no message.\nI attached the log from our side.\n\nCheers,",
];
const RU_BODIES: &[&str] = &[
    "Здравствуйте!\n\nС утра не могу войти в личный кабинет: пишет «неверный пароль», хотя пароль правильный.\nПомогите, пожалуйста.\n\nС уважением,",
    "Добрый день.\n\nПри оплате картой появляется ошибка, деньги списались, а заказ не оплачен.\nПрошу разобраться.\n\nСпасибо,",
    "Здравствуйте,\n\nзаказ должен был прийти в понедельник, но до сих пор нет даже трек-номера.\nКогда ждать доставку?\n\nС уважением,",
];
const EN_REPLIES: &[&str] = &[
    "Hello,\n\nthank you for writing. We have reproduced the problem and a fix is on its way.\nI will update you as soon as it is deployed.",
    "Hi,\n\nI have corrected the invoice; the new one is attached to your account.\nSorry for the trouble.",
    "Hello,\n\ncould you tell us which browser you use and send a screenshot of the error?",
];
const RU_REPLIES: &[&str] = &[
    "Здравствуйте!\n\nСпасибо за обращение. Мы проверили ваш заказ и передали его в службу доставки.\nТрек-номер придёт в течение дня.",
    "Добрый день.\n\nПлатёж найден, заказ отмечен как оплаченный. Приносим извинения за неудобства.",
];

struct Person {
    name: String,
    email: String,
    company: usize,
    russian: bool,
    contact_id: u64,
}

/// What the demo builder wrote.
#[derive(Debug, Default)]
pub struct DemoReport {
    pub messages: usize,
    pub records: usize,
    pub links: usize,
}

struct Thread {
    root_mid: String,
    mids: Vec<String>,
    subject: String,
    person: usize,
    account: usize,
}

/// Write the demo desk into `store` (which should be empty).
pub fn build(store: &Store, messages: usize, seed: u64) -> Result<DemoReport, StoreError> {
    let cfg = demo_config();
    let steps = Steps::new(
        std::sync::Arc::new(LinkRules::from_config(&cfg)),
        std::sync::Arc::new(cfg.own_addresses()),
    );
    let mut rng = Rng::new(seed);
    let mut report = DemoReport::default();

    // Records: companies, their contacts, leads, deals, customers.
    let mut company_ids = Vec::new();
    for c in COMPANIES {
        let mut r = Record::new(RecordKind::Account, c.name);
        r.domains = vec![c.domain.to_string()];
        r.emails = vec![format!("info@{}", c.domain)];
        r.created = T0 - 86_400 * 90;
        company_ids.push(store.put_record(r)?.id);
        report.records += 1;
    }
    let mut people: Vec<Person> = Vec::new();
    for (ci, c) in COMPANIES.iter().enumerate() {
        for k in 0..3 {
            let (name, local) = if c.russian {
                let f = (ci * 3 + k) % RU_FIRST.len();
                let l = (ci + k * 5) % RU_LAST.len();
                (
                    format!("{} {}", RU_FIRST[f], RU_LAST[l]),
                    format!("{}.{}", RU_TRANSLIT[f], l),
                )
            } else {
                let f = (ci * 3 + k) % EN_FIRST.len();
                let l = (ci + k * 3) % EN_LAST.len();
                (
                    format!("{} {}", EN_FIRST[f], EN_LAST[l]),
                    format!(
                        "{}.{}",
                        EN_FIRST[f].to_lowercase(),
                        EN_LAST[l].to_lowercase()
                    ),
                )
            };
            let email = format!("{local}@{}", c.domain);
            let mut r = Record::new(RecordKind::Contact, name.clone());
            r.emails = vec![email.clone()];
            r.phones = vec![format!("+1 555 01{:02}", ci * 3 + k)];
            r.parent = Some((RecordKind::Account, company_ids[ci]));
            r.created = T0 - 86_400 * 60;
            r = r.with_field("company", c.name);
            let id = store.put_record(r)?.id;
            report.records += 1;
            people.push(Person {
                name,
                email,
                company: ci,
                russian: c.russian,
                contact_id: id,
            });
        }
    }
    // Leads write from addresses no contact has yet.
    let lead_names = [
        "Harper Lane",
        "Quinn Ellis",
        "Рита Орлова",
        "Jonas Berg",
        "Sofia Marin",
        "Глеб Лебедев",
    ];
    let mut leads = Vec::new();
    for (i, n) in lead_names.iter().enumerate() {
        let email = format!("lead{i}@prospect{i}.example");
        let mut r = Record::new(RecordKind::Lead, *n)
            .with_field("status", if i % 2 == 0 { "New" } else { "In Process" })
            .with_field("source", "Email");
        r.emails = vec![email.clone()];
        store.put_record(r)?;
        report.records += 1;
        leads.push((n.to_string(), email));
    }
    let stages = [
        "Prospecting",
        "Qualification",
        "Proposal",
        "Negotiation",
        "Closed Won",
    ];
    for i in 0..6 {
        let ci = i % COMPANIES.len();
        let mut r = Record::new(
            RecordKind::Deal,
            format!("{} renewal 2027", COMPANIES[ci].name),
        )
        .with_field("stage", stages[i % stages.len()])
        .with_field("amount", format!("{}", 1200 * (i + 1)));
        r.parent = Some((RecordKind::Account, company_ids[ci]));
        r.related = people
            .iter()
            .filter(|p| p.company == ci)
            .map(|p| (RecordKind::Contact, p.contact_id))
            .collect();
        store.put_record(r)?;
        report.records += 1;
    }
    for i in 0..3 {
        let ci = (i * 4 + 1) % COMPANIES.len();
        let mut r = Record::new(RecordKind::Customer, COMPANIES[ci].name)
            .with_field("next_purchase", format!("2027-0{}-15", i + 1));
        r.related = vec![(RecordKind::Account, company_ids[ci])];
        r.parent = Some((RecordKind::Account, company_ids[ci]));
        store.put_record(r)?;
        report.records += 1;
    }

    // Folders.
    let folder_list = [
        ("support", "INBOX", None),
        ("support", "Sent", Some("\\Sent")),
        ("support", "Archive", Some("\\Archive")),
        ("support", "Trash", Some("\\Trash")),
        ("alice", "INBOX", None),
        ("alice", "Sent", Some("\\Sent")),
        ("alice", "Drafts", Some("\\Drafts")),
        ("alice", "Trash", Some("\\Trash")),
    ];
    for (account, folder, special) in folder_list {
        store.put_folder_state(
            account,
            &FolderState {
                name: folder.into(),
                uidvalidity: 1,
                special_use: special.map(str::to_string),
                monitored: true,
                ..FolderState::default()
            },
        )?;
    }

    // Mail.
    let accounts = [
        ("support", "support@desk.example", "Support Desk"),
        ("alice", "alice@desk.example", "Alice Agent"),
    ];
    let mut threads: Vec<Thread> = Vec::new();
    let mut uid_next = std::collections::HashMap::<(usize, &str), u32>::new();
    let mut pending: Vec<Incoming> = Vec::new();
    let mut first_mail_of_person: std::collections::HashMap<usize, String> = Default::default();
    for i in 0..messages {
        let date =
            T0 + (i as i64) * 3_600 * 24 * 50 / (messages.max(1) as i64) + rng.below(1800) as i64;
        let reply_to_thread = !threads.is_empty() && rng.chance(35);
        let (mail, account, folder) = if reply_to_thread {
            let ti = threads.len() - 1 - rng.below(threads.len().min(40));
            let agent_reply = rng.chance(55);
            let t = &mut threads[ti];
            let p = &people[t.person];
            let acc = accounts[t.account];
            let mid = format!(
                "<demo.{i}.{seed}@{}>",
                if agent_reply {
                    "desk.example"
                } else {
                    "mail.example"
                }
            );
            let parent = t.mids.last().cloned().unwrap_or_else(|| t.root_mid.clone());
            let mut refs = t.mids.clone();
            if refs.len() > 8 {
                refs.drain(1..refs.len() - 7);
            }
            let subject = format!("Re: {}", t.subject);
            let (from, to, folder) = if agent_reply {
                (
                    (acc.2.to_string(), acc.1.to_string()),
                    vec![(p.name.clone(), p.email.clone())],
                    "Sent",
                )
            } else {
                (
                    (p.name.clone(), p.email.clone()),
                    vec![(acc.2.to_string(), acc.1.to_string())],
                    "INBOX",
                )
            };
            let body = if agent_reply {
                let r = if p.russian {
                    *rng.pick(RU_REPLIES)
                } else {
                    *rng.pick(EN_REPLIES)
                };
                format!(
                    "{r}\n\n-- \n{}\nSupport Desk, desk.example\n\n> {}",
                    acc.2, t.subject
                )
            } else if p.russian {
                format!(
                    "{}\n{}\n\n> {}",
                    "Спасибо, но проблема осталась.", p.name, t.subject
                )
            } else {
                format!(
                    "Thanks, but the problem is still there.\n{}\n\n> On the previous mail you wrote:\n> {}",
                    p.name, t.subject
                )
            };
            t.mids.push(mid.clone());
            let m = DraftMail {
                from,
                to,
                cc: vec![],
                subject,
                date,
                message_id: mid,
                in_reply_to: Some(parent),
                references: refs,
                body,
                charset: if p.russian && !agent_reply && rng.chance(50) {
                    Charset::Koi8R
                } else {
                    Charset::Utf8
                },
                html: false,
                attachments: vec![],
            };
            (m, t.account, folder)
        } else {
            let unknown = rng.chance(12);
            let lead = !unknown && rng.chance(6);
            let pi = rng.below(people.len());
            let account = if rng.chance(75) { 0 } else { 1 };
            let acc = accounts[account];
            let (name, email, russian) = if unknown {
                (
                    format!("Visitor {}", i % 97),
                    format!("visitor{}@freemail.example", i % 97),
                    rng.chance(30),
                )
            } else if lead {
                let (n, e) = rng.pick(&leads).clone();
                (n, e, false)
            } else {
                (
                    people[pi].name.clone(),
                    people[pi].email.clone(),
                    people[pi].russian,
                )
            };
            let subject = if russian {
                (*rng.pick(RU_SUBJECTS)).to_string()
            } else {
                (*rng.pick(EN_SUBJECTS)).to_string()
            };
            let body = format!(
                "{}\n{}",
                if russian {
                    *rng.pick(RU_BODIES)
                } else {
                    *rng.pick(EN_BODIES)
                },
                name
            );
            let charset = if russian {
                *rng.pick(&[Charset::Utf8, Charset::Koi8R, Charset::Windows1251])
            } else {
                Charset::Utf8
            };
            let mut attachments = vec![];
            if rng.chance(12) {
                let log: String = (0..20)
                    .map(|l| {
                        format!(
                            "2026-10-0{} 12:{:02}:00 ERROR export worker {l}: timeout after 30s\n",
                            1 + l % 9,
                            l
                        )
                    })
                    .collect();
                attachments.push(Attachment {
                    name: "export.log".into(),
                    mime: "text/plain".into(),
                    data: log.into_bytes(),
                });
            }
            if rng.chance(5) {
                attachments.push(Attachment {
                    name: "invoice-4471.csv".into(),
                    mime: "text/csv".into(),
                    data: b"item,qty,price\nseat,12,49.00\nsupport,1,0.00\n".to_vec(),
                });
            }
            let mid = format!("<demo.{i}.{seed}@mail.example>");
            let mut cc = vec![];
            if rng.chance(8) {
                cc.push((String::new(), "desk@desk.example".to_string()));
            }
            let m = DraftMail {
                from: (name, email),
                to: vec![(acc.2.to_string(), acc.1.to_string())],
                cc,
                subject: subject.clone(),
                date,
                message_id: mid.clone(),
                in_reply_to: None,
                references: vec![],
                body,
                charset,
                html: rng.chance(20),
                attachments,
            };
            if !unknown && !lead {
                threads.push(Thread {
                    root_mid: mid.clone(),
                    mids: vec![mid.clone()],
                    subject,
                    person: pi,
                    account,
                });
                first_mail_of_person.entry(pi).or_insert(mid);
            }
            (m, account, "INBOX")
        };
        let raw = mail.to_bytes();
        let uid = uid_next.entry((account, folder)).or_insert(0);
        *uid += 1;
        let recent = i + 25 >= messages;
        let mut f = 0u8;
        if folder == "Sent" || (!recent && rng.chance(80)) {
            f |= flags::SEEN;
        }
        if rng.chance(5) {
            f |= flags::FLAGGED;
        }
        pending.push(Incoming {
            account: accounts[account].0.to_string(),
            folder: folder.to_string(),
            uidvalidity: 1,
            uid: *uid,
            flags: f,
            raw,
            reported_size: 0,
            inherit_links_of: None,
        });
        if pending.len() >= 2000 {
            report.messages += ingest_batch(store, &steps, std::mem::take(&mut pending))?;
        }
    }
    report.messages += ingest_batch(store, &steps, pending)?;

    // Cases and tasks on the first mails of some contacts.
    let statuses = [
        "New", "Assigned", "Assigned", "Pending", "Closed", "Rejected", "Assigned", "New",
    ];
    let agents = [
        "alice@desk.example",
        "boris@desk.example",
        "carl@desk.example",
    ];
    let mut case_no = 1000;
    let mut persons: Vec<_> = first_mail_of_person.into_iter().collect();
    persons.sort();
    for (k, (pi, mid)) in persons.into_iter().take(12).enumerate() {
        case_no += 1;
        let p = &people[pi];
        let Some(msg) = store.id_by_message_id(&crate::mail::thread::normalize_id(&mid))? else {
            continue;
        };
        let Some(first) = store.summary(msg)? else {
            continue;
        };
        let account = store
            .locations(msg)?
            .into_iter()
            .next()
            .map_or_else(|| "support".to_string(), |l| l.account);
        let status = statuses[k % statuses.len()];
        let agent = agents[k % agents.len()];
        let mut r = Record::new(RecordKind::Case, first.subject)
            .with_field("number", case_no.to_string())
            .with_field("status", status)
            .with_field("priority", if k % 3 == 0 { "High" } else { "Normal" })
            .with_field("team", "support")
            .with_field("account", account)
            .with_field("email", p.email.clone())
            .with_field(
                crate::crm::cases::LAST_CUSTOMER_MAIL,
                first.date.to_string(),
            );
        // Dates from the mail, not the clock: the demo's screens are fixed.
        r.created = first.date;
        if status != "New" {
            r = r.with_field("assignee", agent);
        }
        if !crate::store::CaseStatus::is_open_name(status) {
            r = r.with_field("closed_at", (first.date + 86_400).to_string());
        }
        r.parent = Some((RecordKind::Contact, p.contact_id));
        r.related = vec![(RecordKind::Account, company_ids[p.company])];
        r.followers = vec![agent.to_string()];
        let case = store.put_record(r)?;
        store.link(msg, case.reference())?;
        report.records += 1;
        if k % 2 == 0 {
            let mut t = Record::new(RecordKind::Task, format!("Call back {}", p.name))
                .with_field("due", format!("2026-11-{:02}", 20 + k))
                .with_field("assignee", agent)
                .with_field("status", "Not Started");
            t.parent = Some(case.reference());
            t.related = vec![(RecordKind::Contact, p.contact_id)];
            let task = store.put_record(t)?;
            store.link(msg, task.reference())?;
            report.records += 1;
        }
    }
    report.links = store.stats()?.links as usize;
    store.set_setting("desk", "demo")?;
    store.flush()?;
    Ok(report)
}

fn ingest_batch(store: &Store, steps: &Steps, mails: Vec<Incoming>) -> Result<usize, StoreError> {
    let r = steps.ingest_now(store, mails, Extras::default())?;
    Ok(r.created.len())
}
