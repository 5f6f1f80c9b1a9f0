//! Records made from a mail (contact, lead, case, task), their validation,
//! and creating one linked to the mail it came from.

use std::sync::Mutex;

use crate::crm::linking::party_name;
use crate::mail::address::{normalize_email, validate_recipient};
use crate::store::{
    MailStatus, MessageSummary, Party, Record, RecordKind, RecordRef, Store, StoreError,
};

/// Case statuses, in workflow order.
pub const CASE_STATUSES: [&str; 6] = [
    "New",
    "Assigned",
    "Pending",
    "Closed",
    "Rejected",
    "Duplicate",
];
/// Case priorities, lowest first.
pub const CASE_PRIORITIES: [&str; 4] = ["Low", "Normal", "High", "Urgent"];

/// The kind-specific fields a form shows for each kind, in order (name,
/// emails and phones are common to all).
pub fn form_fields(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Contact => &["title"],
        RecordKind::Account => &["website", "industry"],
        RecordKind::Lead => &["status", "source", "description"],
        RecordKind::Deal => &["stage", "amount", "close_date"],
        RecordKind::Case => &["number", "status", "priority", "assignee", "team"],
        RecordKind::Task => &["status", "due", "assignee"],
        RecordKind::Customer => &["next_purchase"],
    }
}

/// The setting holding the next case number.
const NEXT_CASE_SETTING: &str = "crm.next_case_number";

/// A field that failed validation: `(field, message)`.
pub type FieldError = (String, String);

/// Why a record could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{}", describe_invalid(.0))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe_invalid(errs: &[FieldError]) -> String {
    errs.iter()
        .map(|(f, m)| format!("{f}: {m}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The customer a mail is about: the sender, or for outgoing mail (Sent,
/// Draft) the first recipient.
pub fn counterpart(msg: &MessageSummary) -> Option<&Party> {
    if msg.status == MailStatus::Archived {
        msg.from.first()
    } else {
        msg.to.first().or_else(|| msg.cc.first())
    }
}

fn subject_of(msg: &MessageSummary) -> String {
    let s = msg.subject.trim();
    if s.is_empty() {
        "(no subject)".to_string()
    } else {
        s.to_string()
    }
}

fn person_record(kind: RecordKind, msg: &MessageSummary) -> Record {
    let mut r = match counterpart(msg) {
        Some(p) => {
            let mut r = Record::new(kind, party_name(p));
            let email =
                normalize_email(&p.email, false).unwrap_or_else(|| p.email.trim().to_lowercase());
            if !email.is_empty() {
                r.emails.push(email);
            }
            r
        }
        None => Record::new(kind, ""),
    };
    r.fields.insert("source".into(), "email".into());
    r
}

/// A contact prefilled from the mail's sender (outgoing: first recipient).
pub fn contact_from_mail(msg: &MessageSummary) -> Record {
    person_record(RecordKind::Contact, msg)
}

/// A lead prefilled from the mail: the person, status New, source email,
/// the subject as its description.
pub fn lead_from_mail(msg: &MessageSummary) -> Record {
    let mut r = person_record(RecordKind::Lead, msg);
    r.fields.insert("status".into(), "New".into());
    r.fields.insert("description".into(), subject_of(msg));
    r
}

static CASE_COUNTER: Mutex<()> = Mutex::new(());

/// Reserve the next case number: one past both the stored counter and the
/// highest number in use (including cases in the trash).
pub fn next_case_number(store: &Store) -> Result<u64, StoreError> {
    let _g = match CASE_COUNTER.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let stored = store
        .setting(NEXT_CASE_SETTING)?
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1);
    let max_used = store
        .records(RecordKind::Case)?
        .iter()
        .filter_map(|r| r.field("number").and_then(|n| n.trim().parse::<u64>().ok()))
        .max()
        .unwrap_or(0);
    let n = stored.max(max_used + 1);
    store.set_setting(NEXT_CASE_SETTING, &(n + 1).to_string())?;
    Ok(n)
}

/// The first linked record of `kind` for a mail, else one found by the
/// counterpart's address.
fn related_of(
    store: &Store,
    msg: &MessageSummary,
    kind: RecordKind,
) -> Result<Option<RecordRef>, StoreError> {
    if msg.id != 0
        && let Some(r) = store
            .links_of(msg.id)?
            .into_iter()
            .find(|r| r.kind == kind && !r.deleted)
    {
        return Ok(Some(r.reference()));
    }
    if let Some(p) = counterpart(msg)
        && let Some(email) = normalize_email(&p.email, false)
    {
        return Ok(store
            .records_by_address(&email)?
            .into_iter()
            .find(|r| r.kind == kind)
            .map(|r| r.reference()));
    }
    Ok(None)
}

/// A case prefilled from the mail: the next number, the subject, status New
/// (Assigned when `assignee` is given), priority Normal, the contact and
/// its company when known.
pub fn case_from_mail(
    store: &Store,
    msg: &MessageSummary,
    assignee: Option<&str>,
) -> Result<Record, StoreError> {
    let mut r = Record::new(RecordKind::Case, subject_of(msg));
    r.fields
        .insert("number".into(), next_case_number(store)?.to_string());
    r.fields.insert("priority".into(), "Normal".into());
    match assignee.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => {
            r.fields.insert("status".into(), "Assigned".into());
            r.fields.insert("assignee".into(), a.to_string());
        }
        None => {
            r.fields.insert("status".into(), "New".into());
        }
    }
    if let Some(p) = counterpart(msg) {
        r.fields
            .insert("email".into(), p.email.trim().to_lowercase());
    }
    let contact = related_of(store, msg, RecordKind::Contact)?;
    r.parent = contact;
    let account = match related_of(store, msg, RecordKind::Account)? {
        Some(a) => Some(a),
        None => match contact {
            Some(c) => store.record(c.0, c.1)?.and_then(|c| c.parent),
            None => None,
        },
    };
    if let Some(a) = account {
        r.related.push(a);
    }
    Ok(r)
}

/// A task prefilled from the mail: "Reply: subject", due the day after the
/// mail, the assignee, and the mail's first linked record as its parent.
pub fn task_from_mail(
    store: &Store,
    msg: &MessageSummary,
    assignee: Option<&str>,
) -> Result<Record, StoreError> {
    let mut r = Record::new(RecordKind::Task, format!("Reply: {}", subject_of(msg)));
    r.fields.insert("status".into(), "Not Started".into());
    if let Some(d) = chrono::DateTime::from_timestamp(msg.date + 86_400, 0)
        && msg.date > 0
    {
        r.fields
            .insert("due".into(), d.format("%Y-%m-%d").to_string());
    }
    if let Some(a) = assignee.map(str::trim).filter(|a| !a.is_empty()) {
        r.fields.insert("assignee".into(), a.to_string());
    }
    if msg.id != 0 {
        r.parent = store
            .links_of(msg.id)?
            .into_iter()
            .find(|x| !x.deleted && x.kind != RecordKind::Task)
            .map(|x| x.reference());
    }
    Ok(r)
}

/// Trim the name and put addresses in their lookup form (lowercase, IDN
/// domain in punycode), without duplicates, the primary first.
pub fn normalize_record(mut r: Record) -> Record {
    r.name = r.name.trim().to_string();
    let mut emails: Vec<String> = Vec::new();
    for e in &r.emails {
        let n = normalize_email(e, false).unwrap_or_else(|| e.trim().to_lowercase());
        if !n.is_empty() && !emails.contains(&n) {
            emails.push(n);
        }
    }
    r.emails = emails;
    r.phones = r
        .phones
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    r.domains = r
        .domains
        .iter()
        .map(|d| {
            let d = d.trim().trim_start_matches('@').to_lowercase();
            idna::domain_to_ascii(&d).unwrap_or(d)
        })
        .filter(|d| !d.is_empty())
        .collect();
    r
}

fn is_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").is_ok()
}

fn is_amount(s: &str) -> bool {
    let t: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect();
    let t = t.replace(',', ".");
    !t.is_empty() && t.parse::<f64>().is_ok_and(|v| v.is_finite() && v >= 0.0)
}

fn is_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    digits >= 3
        && s.chars()
            .all(|c| c.is_ascii_digit() || " +-().#*/".contains(c) || c == 'x' || c == 'X')
}

/// Check a record before it is saved. Every problem is returned, each with
/// the field it belongs to, so a form can show them in place.
pub fn validate_record(r: &Record) -> Result<(), Vec<FieldError>> {
    let mut errs: Vec<FieldError> = Vec::new();
    let mut err = |f: &str, m: String| errs.push((f.to_string(), m));
    if r.name.trim().is_empty() {
        let what = if matches!(r.kind, RecordKind::Case | RecordKind::Task) {
            "a subject is required"
        } else {
            "a name is required"
        };
        err("name", what.to_string());
    }
    for e in &r.emails {
        if let Err(why) = validate_recipient(e) {
            err("email", format!("{e}: {why}"));
        }
    }
    for p in &r.phones {
        if !is_phone(p) {
            err("phone", format!("{p}: use digits, spaces and + - ( )"));
        }
    }
    for d in &r.domains {
        let d = d.trim().trim_start_matches('@');
        if d.is_empty() || !d.contains('.') || idna::domain_to_ascii(d).is_err() {
            err(
                "domains",
                format!("{d}: not a domain name such as example.com"),
            );
        }
    }
    let field = |k: &str| r.field(k).map(str::trim).filter(|v| !v.is_empty());
    match r.kind {
        RecordKind::Case => {
            if let Some(s) = field("status")
                && !CASE_STATUSES.contains(&s)
            {
                err(
                    "status",
                    format!("{s}: must be one of {}", CASE_STATUSES.join(", ")),
                );
            }
            if let Some(p) = field("priority")
                && !CASE_PRIORITIES.contains(&p)
            {
                err(
                    "priority",
                    format!("{p}: must be one of {}", CASE_PRIORITIES.join(", ")),
                );
            }
            if let Some(n) = field("number")
                && n.parse::<u64>().is_err()
            {
                err("number", format!("{n}: must be a whole number"));
            }
        }
        RecordKind::Deal => {
            if let Some(a) = field("amount")
                && !is_amount(a)
            {
                err("amount", format!("{a}: must be a number such as 1200.50"));
            }
            if let Some(d) = field("close_date")
                && !is_date(d)
            {
                err("close_date", format!("{d}: use YYYY-MM-DD"));
            }
        }
        RecordKind::Task => {
            if let Some(d) = field("due")
                && !is_date(d)
            {
                err("due", format!("{d}: use YYYY-MM-DD"));
            }
        }
        RecordKind::Customer => {
            if let Some(d) = field("next_purchase")
                && !is_date(d)
            {
                err("next_purchase", format!("{d}: use YYYY-MM-DD"));
            }
        }
        _ => {}
    }
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// Validate, save and link a record made from mail `msg_id`; a contact also
/// links its company. The mail loses its "not linked" reason.
pub fn create_and_link(store: &Store, record: Record, msg_id: u64) -> Result<Record, CreateError> {
    let record = normalize_record(record);
    validate_record(&record).map_err(CreateError::Invalid)?;
    let saved = store.put_record(record)?;
    store.link(msg_id, saved.reference())?;
    if saved.kind == RecordKind::Contact
        && let Some(parent) = saved.parent
        && parent.0 == RecordKind::Account
    {
        store.link(msg_id, parent)?;
    }
    if let Some(mut s) = store.summary(msg_id)?
        && s.not_linked_reason.is_some()
    {
        s.not_linked_reason = None;
        store.update_summary(&s)?;
    }
    Ok(saved)
}

/// Refuse the desk's own and system addresses on a person or company record:
/// they never become a customer's.
pub fn check_not_own(
    rules: &crate::crm::linking::LinkRules,
    r: &Record,
) -> Result<(), Vec<FieldError>> {
    if matches!(
        r.kind,
        RecordKind::Case | RecordKind::Task | RecordKind::Deal
    ) {
        return Ok(());
    }
    let errs: Vec<FieldError> = r
        .emails
        .iter()
        .filter(|e| rules.is_own(e))
        .map(|e| {
            (
                "email".to_string(),
                format!(
                    "{e}: an address of the desk (agent, account or system) cannot belong to a {}",
                    r.kind.name()
                ),
            )
        })
        .collect();
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// [`create_and_link`] that also refuses the desk's own addresses.
pub fn create_and_link_checked(
    store: &Store,
    rules: &crate::crm::linking::LinkRules,
    record: Record,
    msg_id: u64,
) -> Result<Record, CreateError> {
    let record = normalize_record(record);
    check_not_own(rules, &record).map_err(CreateError::Invalid)?;
    create_and_link(store, record, msg_id)
}
