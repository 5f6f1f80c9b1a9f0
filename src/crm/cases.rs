//! Email-to-case for group accounts: which mail is automatic, which case a
//! mail joins (thread, the case encoded in our Message-IDs, a participant's
//! subject tag), reopening, numbering and assignment. Decides inside the
//! ingest batch and writes nothing itself.

use crate::config::Config;
use crate::config::cases::{AssignmentPolicy, CaseConfig, ReopenPolicy};
use crate::crm::linking::LinkRules;
use crate::mail::address::normalize_email;
use crate::store::{BatchView, LinkPlan, MessageSummary, Record, RecordKind, StoreError};
use std::collections::HashMap;

/// The setting holding the next case number (shared with cases made by hand).
pub const NEXT_CASE_SETTING: &str = "crm.next_case_number";

/// The setting holding the agent a team's rotation gave the last case to.
pub fn rotation_setting(team: &str) -> String {
    format!("cases.rotation.{team}")
}

/// Local parts of senders that are machines.
const SYSTEM_LOCALS: [&str; 8] = [
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "do_not_reply",
];

/// Whether an address is a machine's (bounces, postmaster, noreply).
pub fn is_system_sender(email: &str) -> bool {
    let e = email.trim().to_lowercase();
    let local = e.rsplit_once('@').map_or(e.as_str(), |(l, _)| l);
    let local = local.split('+').next().unwrap_or(local);
    SYSTEM_LOCALS.contains(&local)
}

/// Header names `is_automatic` looks at, lowercased.
const AUTOMATIC_HEADERS: [&str; 9] = [
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-autoreply",
    "x-autorespond",
    "return-path",
    "from",
    "sender",
];

/// The header a field line names, if `is_automatic` looks at it.
fn automatic_header(name: &[u8]) -> Option<&'static str> {
    let trimmed = name.trim_ascii();
    if trimmed.is_ascii() {
        return AUTOMATIC_HEADERS
            .iter()
            .copied()
            .find(|h| h.as_bytes().eq_ignore_ascii_case(trimmed));
    }
    // Rare: Unicode spaces around a name are trimmed too.
    let lower = String::from_utf8_lossy(name).trim().to_lowercase();
    AUTOMATIC_HEADERS.iter().copied().find(|h| *h == lower)
}

/// Whether one unfolded header field marks the mail as a machine's.
fn automatic_field(name: &str, value: &str) -> bool {
    let v = value.trim().to_lowercase();
    match name {
        "auto-submitted" => !v.is_empty() && v.split(';').next().map(str::trim) != Some("no"),
        "precedence" => matches!(v.as_str(), "bulk" | "junk" | "list" | "auto_reply"),
        "list-id" | "list-unsubscribe" | "x-autoreply" | "x-autorespond" => true,
        "return-path" => v.trim_matches(|c: char| c.is_whitespace()) == "<>",
        "from" | "sender" => extract_address(&v).is_some_and(|a| is_system_sender(&a)),
        _ => false,
    }
}

/// Whether a mail was sent by a machine and must create no case, get no
/// auto-reply and reopen nothing (RFC 3834 and the usual list headers).
/// Runs on every new mail: only the fields it looks at are unfolded.
pub fn is_automatic(raw: &[u8], sender: Option<&str>) -> bool {
    if sender.is_some_and(is_system_sender) {
        return true;
    }
    // The field being read: its name (when looked at) and unfolded value.
    let mut current: Option<(&'static str, String)> = None;
    for line in raw.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, value)) = current.as_mut() {
                value.push(' ');
                value.push_str(String::from_utf8_lossy(line).trim());
            }
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            // Not a field: folded lines after it still extend the last one.
            continue;
        };
        if let Some((name, value)) = current.take()
            && automatic_field(name, &value)
        {
            return true;
        }
        current = automatic_header(&line[..colon]).map(|name| {
            let value = String::from_utf8_lossy(&line[colon + 1..])
                .trim()
                .to_string();
            (name, value)
        });
    }
    current.is_some_and(|(name, value)| automatic_field(name, &value))
}

fn extract_address(v: &str) -> Option<String> {
    let inner = match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v,
    };
    let inner = inner.trim();
    inner.contains('@').then(|| inner.to_string())
}

/// A Message-ID for mail sent from a case: the number travels in it, so a
/// reply finds its case even when a client drops the other references.
pub fn case_message_id(number: u64, unique: &str, domain: &str) -> String {
    format!("case{number}.{unique}.deskmail@{domain}")
}

/// The case number one of our own Message-IDs carries.
pub fn case_in_message_id(id: &str) -> Option<u64> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _) = id.rsplit_once('@')?;
    let rest = local.strip_suffix(".deskmail")?.strip_prefix("case")?;
    let (n, unique) = rest.split_once('.')?;
    if unique.is_empty() {
        return None;
    }
    n.parse().ok()
}

/// The subject with the tag of case `number` added once.
pub fn tag_subject(subject: &str, tag: &str, number: u64) -> String {
    let t = tag.replace("{number}", &number.to_string());
    if subject.contains(&t) {
        subject.to_string()
    } else if subject.is_empty() {
        t
    } else {
        format!("{subject} {t}")
    }
}

/// The case numbers a subject's tags name (`[#{number}]` → 12 in "Re: x [#12]").
pub fn numbers_in_subject(subject: &str, tag: &str) -> Vec<u64> {
    let Some((pre, post)) = tag.split_once("{number}") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut rest = subject;
    while let Some(at) = rest.find(pre) {
        let after = &rest[at + pre.len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty()
            && after[digits.len()..].starts_with(post)
            && let Ok(n) = digits.parse()
        {
            out.push(n);
        }
        rest = &rest[at + pre.len().max(1)..];
    }
    out
}

/// An agent of a team, as assignment sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamAgent {
    pub email: String,
    pub active: bool,
}

/// Pick the next case's agent. `pointer` is the agent the rotation gave the
/// last case to; `open` counts open cases and `last` the newest case id per
/// agent. `None`: nobody is available.
pub fn choose_assignee(
    policy: AssignmentPolicy,
    direct: Option<&str>,
    team: &[TeamAgent],
    pointer: Option<&str>,
    open: &HashMap<String, usize>,
    last: &HashMap<String, u64>,
) -> Option<String> {
    match policy {
        AssignmentPolicy::Direct => {
            let a = direct?.trim().to_lowercase();
            let inactive = team.iter().any(|t| t.email == a && !t.active);
            (!a.is_empty() && !inactive).then_some(a)
        }
        AssignmentPolicy::RoundRobin => {
            let n = team.len();
            let start = pointer
                .and_then(|p| team.iter().position(|t| t.email == p))
                .map_or(0, |i| i + 1);
            (0..n)
                .map(|i| &team[(start + i) % n])
                .find(|t| t.active)
                .map(|t| t.email.clone())
        }
        AssignmentPolicy::LeastBusy => team
            .iter()
            .enumerate()
            .filter(|(_, t)| t.active)
            .min_by_key(|(i, t)| {
                (
                    open.get(&t.email).copied().unwrap_or(0),
                    last.get(&t.email).copied().unwrap_or(0),
                    *i,
                )
            })
            .map(|(_, t)| t.email.clone()),
    }
}

/// The agents cases go to, as (address, name): team `team`'s, else every
/// team's agents in their order, else every configured agent.
pub fn desk_agents(cfg: &Config, team: Option<&str>) -> Vec<(String, String)> {
    let name_of = |email: &str| {
        std::iter::once(&cfg.agent)
            .chain(cfg.agents.iter())
            .find(|a| a.email.trim().eq_ignore_ascii_case(email))
            .map(|a| a.name.clone())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| email.to_string())
    };
    let one: Vec<String> = team
        .and_then(|t| cfg.teams.iter().find(|x| x.name == t))
        .map(|t| t.agents.clone())
        .unwrap_or_default();
    let listed: Vec<String> = if !one.is_empty() {
        one
    } else if cfg.teams.is_empty() {
        std::iter::once(&cfg.agent)
            .chain(cfg.agents.iter())
            .map(|a| a.email.clone())
            .collect()
    } else {
        cfg.teams.iter().flat_map(|t| t.agents.clone()).collect()
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for e in listed {
        let e = e.trim().to_lowercase();
        if !e.is_empty() && !out.iter().any(|(x, _)| *x == e) {
            let n = name_of(&e);
            out.push((e, n));
        }
    }
    out
}

/// Email-to-case settings of one group account, resolved against the team.
#[derive(Debug, Clone)]
pub struct AccountCases {
    pub account: String,
    pub address: String,
    pub team: String,
    pub config: CaseConfig,
    pub agents: Vec<TeamAgent>,
}

/// Every group account's email-to-case settings.
#[derive(Debug, Clone, Default)]
pub struct CaseRules {
    pub accounts: Vec<AccountCases>,
}

impl CaseRules {
    pub fn from_config(cfg: &Config) -> CaseRules {
        let active = |email: &str| {
            std::iter::once(&cfg.agent)
                .chain(cfg.agents.iter())
                .find(|a| a.email.trim().eq_ignore_ascii_case(email))
                .is_none_or(|a| a.is_active())
        };
        let accounts = cfg
            .accounts
            .iter()
            .filter_map(|a| {
                let c = a.cases.as_ref().filter(|c| c.enabled)?;
                let team = c
                    .team
                    .clone()
                    .or_else(|| a.team.clone())
                    .unwrap_or_default();
                let agents = cfg
                    .teams
                    .iter()
                    .find(|t| t.name == team)
                    .map(|t| {
                        t.agents
                            .iter()
                            .map(|e| TeamAgent {
                                email: e.trim().to_lowercase(),
                                active: active(e.trim()),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Some(AccountCases {
                    account: a.name.clone(),
                    address: a.email.trim().to_lowercase(),
                    team,
                    config: c.clone(),
                    agents,
                })
            })
            .collect();
        CaseRules { accounts }
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    pub fn for_account(&self, account: &str) -> Option<&AccountCases> {
        self.accounts.iter().find(|a| a.account == account)
    }
}

/// The case field holding when the customer last wrote (Unix seconds), so
/// the queue can say how long they wait.
pub const LAST_CUSTOMER_MAIL: &str = "last_customer_mail";

/// The case with the customer's mail of `date` recorded; `None` when a
/// later one is recorded already (mail can arrive out of order).
fn with_customer_mail(case: &Record, date: i64) -> Option<Record> {
    let known: Option<i64> = case
        .field(LAST_CUSTOMER_MAIL)
        .and_then(|t| t.trim().parse().ok());
    if known.is_some_and(|k| k >= date) {
        return None;
    }
    let mut c = case.clone();
    c.fields.insert(LAST_CUSTOMER_MAIL.into(), date.to_string());
    Some(c)
}

fn number_of(r: &Record) -> Option<u64> {
    r.field("number").and_then(|n| n.trim().parse().ok())
}

fn is_open(r: &Record) -> bool {
    crate::store::CaseStatus::is_open_name(r.field("status").unwrap_or("New"))
}

fn case_by_number(view: &BatchView<'_>, n: u64) -> Result<Option<Record>, StoreError> {
    Ok(view
        .records(RecordKind::Case)?
        .into_iter()
        .find(|r| !r.deleted && number_of(r) == Some(n)))
}

/// Whether `email` wrote or received mail of the case, or is its customer.
fn is_participant(view: &BatchView<'_>, case: &Record, email: &str) -> Result<bool, StoreError> {
    if case.field("email") == Some(email) {
        return Ok(true);
    }
    for id in view.store().messages_of(case.reference())? {
        if let Some(m) = view.store().summary(id)?
            && m.from
                .iter()
                .chain(m.to.iter())
                .chain(m.cc.iter())
                .any(|p| normalize_email(&p.email, false).as_deref() == Some(email))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The case an incoming mail belongs to, if any.
fn find_case(
    view: &BatchView<'_>,
    acc: &AccountCases,
    mail: &MessageSummary,
    plan: &LinkPlan,
    sender: &str,
) -> Result<Option<Record>, StoreError> {
    // The thread: linking already followed In-Reply-To/References.
    let mut best: Option<Record> = None;
    for r in plan.links.iter().filter(|r| r.0 == RecordKind::Case) {
        if let Some(c) = view.record(r.0, r.1)?
            && !c.deleted
            && best.as_ref().is_none_or(|b| c.id > b.id)
        {
            best = Some(c);
        }
    }
    if best.is_some() {
        return Ok(best);
    }
    for id in mail.in_reply_to.iter().chain(mail.references.iter().rev()) {
        if let Some(n) = case_in_message_id(id)
            && let Some(c) = case_by_number(view, n)?
        {
            return Ok(Some(c));
        }
    }
    for n in numbers_in_subject(&mail.subject, &acc.config.subject_tag) {
        if let Some(c) = case_by_number(view, n)? {
            if is_participant(view, &c, sender)? {
                return Ok(Some(c));
            }
            tracing::info!(
                case = n,
                sender,
                "subject names a case the sender is not part of; not joined"
            );
        }
    }
    Ok(None)
}

/// Decide the case side of one new mail into its link plan: join, reopen or
/// create (with number and assignee). Mail of accounts without cases,
/// outgoing mail and the desk's own is left alone.
pub fn plan_case(
    view: &BatchView<'_>,
    cases: &CaseRules,
    rules: &LinkRules,
    mail: &MessageSummary,
    automatic: bool,
    plan: &mut LinkPlan,
) -> Result<(), StoreError> {
    let Some(acc) = view
        .accounts_of(mail.id)?
        .iter()
        .find_map(|a| cases.for_account(a))
    else {
        return Ok(());
    };
    if rules.is_outgoing(mail) {
        return Ok(());
    }
    let Some(sender) = mail
        .from
        .first()
        .and_then(|p| normalize_email(&p.email, false))
    else {
        return Ok(());
    };
    let automatic = automatic || is_system_sender(&sender);
    if let Some(case) = find_case(view, acc, mail, plan, &sender)? {
        if !plan.links.contains(&case.reference()) {
            plan.links.push(case.reference());
        }
        if automatic {
            return Ok(());
        }
        if is_open(&case) {
            if let Some(c) = with_customer_mail(&case, mail.date) {
                plan.updated.push(c);
            }
            return Ok(());
        }
        let closed_at: Option<i64> = case.field("closed_at").and_then(|t| t.parse().ok());
        let fresh = match acc.config.reopen_policy() {
            ReopenPolicy::Reopen => false,
            ReopenPolicy::New => true,
            ReopenPolicy::NewAfterDays(d) => {
                closed_at.is_some_and(|t| mail.date - t > i64::from(d) * 86_400)
            }
        };
        if !fresh {
            let mut c = with_customer_mail(&case, mail.date).unwrap_or(case);
            let status = if c.field("assignee").is_some_and(|a| !a.is_empty()) {
                "Assigned"
            } else {
                "New"
            };
            c.fields.insert("status".into(), status.into());
            c.fields.remove("closed_at");
            tracing::info!(case = ?number_of(&c), "closed case reopened by the customer's mail");
            plan.updated.push(c);
            return Ok(());
        }
        plan.links.retain(|r| *r != case.reference());
    } else if automatic {
        return Ok(());
    }
    create_case(view, acc, mail, &sender, plan)
}

fn create_case(
    view: &BatchView<'_>,
    acc: &AccountCases,
    mail: &MessageSummary,
    sender: &str,
    plan: &mut LinkPlan,
) -> Result<(), StoreError> {
    let all = view.records(RecordKind::Case)?;
    let stored: u64 = view
        .setting(NEXT_CASE_SETTING)?
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1);
    let max_used = view
        .store()
        .deleted_records()?
        .iter()
        .chain(all.iter())
        .filter(|r| r.kind == RecordKind::Case)
        .filter_map(number_of)
        .max()
        .unwrap_or(0);
    let number = stored.max(max_used + 1);
    plan.settings
        .push((NEXT_CASE_SETTING.into(), (number + 1).to_string()));

    let mut open: HashMap<String, usize> = HashMap::new();
    let mut last: HashMap<String, u64> = HashMap::new();
    for c in all.iter().filter(|c| !c.deleted) {
        if let Some(a) = c.field("assignee").filter(|a| !a.is_empty()) {
            if is_open(c) {
                *open.entry(a.to_string()).or_default() += 1;
            }
            let l = last.entry(a.to_string()).or_default();
            *l = (*l).max(c.id);
        }
    }
    let key = rotation_setting(&acc.team);
    let pointer = view.setting(&key)?;
    let assignee = choose_assignee(
        acc.config.assignment,
        acc.config.assignee.as_deref(),
        &acc.agents,
        pointer.as_deref(),
        &open,
        &last,
    );
    if acc.config.assignment == AssignmentPolicy::RoundRobin
        && let Some(a) = &assignee
    {
        plan.settings.push((key, a.clone()));
    }

    let subject = mail.subject.trim();
    let mut r = Record::new(
        RecordKind::Case,
        if subject.is_empty() {
            "(no subject)"
        } else {
            subject
        },
    );
    r.id = view.next_id()?;
    r.fields.insert("number".into(), number.to_string());
    r.fields.insert("priority".into(), "Normal".into());
    r.fields.insert("source".into(), "email".into());
    r.fields.insert("email".into(), sender.to_string());
    r.fields
        .insert(LAST_CUSTOMER_MAIL.into(), mail.date.to_string());
    r.fields.insert("account".into(), acc.account.clone());
    if !acc.team.is_empty() {
        r.fields.insert("team".into(), acc.team.clone());
    }
    match &assignee {
        Some(a) => {
            r.fields.insert("status".into(), "Assigned".into());
            r.fields.insert("assignee".into(), a.clone());
        }
        None => {
            r.fields.insert("status".into(), "New".into());
        }
    }
    r.parent = plan
        .links
        .iter()
        .copied()
        .chain(plan.records.iter().map(Record::reference))
        .find(|x| x.0 == RecordKind::Contact);
    if let Some(a) = plan.links.iter().find(|x| x.0 == RecordKind::Account) {
        r.related.push(*a);
    }
    if acc.config.auto_reply_template.is_some() {
        // Owed with the case in this batch; decided and queued right after it.
        plan.settings.push((
            crate::crm::auto_reply::pending_setting(r.id),
            mail.id.to_string(),
        ));
    }
    tracing::info!(number, assignee = ?assignee, account = %acc.account, "case created from mail");
    plan.links.push(r.reference());
    plan.records.push(r);
    Ok(())
}

/// How a reply on a case goes out: from the group account, with its
/// address as Reply-To and the case tag in the subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReply {
    pub account: String,
    pub address: String,
    pub number: u64,
    pub tag: String,
}

impl CaseReply {
    pub fn subject(&self, subject: &str) -> String {
        tag_subject(subject, &self.tag, self.number)
    }
}

/// The case reply for an answer to mail `parent`, when that mail is on a
/// case of a group account with `[accounts.cases]` enabled.
pub fn case_reply(
    store: &crate::store::Store,
    cfg: &Config,
    parent: u64,
) -> Result<Option<CaseReply>, StoreError> {
    let rules = CaseRules::from_config(cfg);
    if rules.is_empty() {
        return Ok(None);
    }
    for c in store.links_of(parent)? {
        if let Some(r) = reply_for(store, &rules, &c, Some(parent))? {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// The case reply for a new mail written from case `case` (not a reply).
pub fn case_reply_of(
    store: &crate::store::Store,
    cfg: &Config,
    case: u64,
) -> Result<Option<CaseReply>, StoreError> {
    let rules = CaseRules::from_config(cfg);
    if rules.is_empty() {
        return Ok(None);
    }
    let Some(c) = store.record(RecordKind::Case, case)? else {
        return Ok(None);
    };
    let first = store.messages_of(c.reference())?.into_iter().next();
    reply_for(store, &rules, &c, first)
}

fn reply_for(
    store: &crate::store::Store,
    rules: &CaseRules,
    c: &Record,
    mail: Option<u64>,
) -> Result<Option<CaseReply>, StoreError> {
    if c.kind != RecordKind::Case || c.deleted {
        return Ok(None);
    }
    let account = match (c.field("account"), mail) {
        (Some(a), _) => Some(a.to_string()),
        (None, Some(m)) => store.locations(m)?.into_iter().map(|l| l.account).next(),
        (None, None) => None,
    };
    Ok(
        match (
            account.as_deref().and_then(|a| rules.for_account(a)),
            number_of(c),
        ) {
            (Some(acc), Some(number)) => Some(CaseReply {
                account: acc.account.clone(),
                address: acc.address.clone(),
                number,
                tag: acc.config.subject_tag.clone(),
            }),
            _ => None,
        },
    )
}

#[cfg(test)]
#[path = "cases_tests.rs"]
mod tests;
