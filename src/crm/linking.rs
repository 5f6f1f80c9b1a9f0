//! Auto-linking: a mail's parties are matched against records by address.
//! Never links or creates a record for the desk's own or system addresses.
//!
//! The rules, in the order they are applied by [`process_new_mail`]:
//!
//! 1. The system address (`system_address = "desk@desk.example"`) only in
//!    Bcc: nothing happens ("system address only in Bcc").
//! 2. Only unknown `desk+tag@` addresses in To/Cc: the mail is not imported
//!    into any record; the reason names the address and is logged.
//! 3. Attachments over [`LinkRules::max_attachment_bytes`]: not attached.
//! 4. `desk+contact@`, `desk+lead@`, `desk+customer@` in To/Cc create that
//!    record from the sender (incoming) or the recipients (outgoing) unless
//!    one with that address already exists.
//! 5. From/To/Cc (outgoing mail: To/Cc) are matched against contacts, leads,
//!    accounts and customers; a contact also links its company; with
//!    [`LinkRules::match_domains`] an account whose domains include the
//!    party's domain is linked too. Every match is linked.
//!    A reply also goes to the cases and deals the mail it answers is on.
//! 6. Nothing linked: "sent to an agent of the desk" when every party is the
//!    desk's own, else "no matching contact".
//!
//! Forwarded mail is judged by its outer From/To/Cc only: the summary never
//! carries the forwarded content's headers.

use crate::mail::address::normalize_email;
use crate::store::{
    BatchView, MailStatus, MessageSummary, Party, Record, RecordKind, RecordRef, Store, StoreError,
};

/// The default attachment limit above which a mail is not attached (10 MB).
pub const DEFAULT_MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;

pub const REASON_NO_MATCH: &str = "no matching contact";
pub const REASON_AGENT: &str = "sent to an agent of the desk";
pub const REASON_BCC_ONLY: &str = "system address only in Bcc";

/// The record kinds a party's address is matched against.
const MATCHED_KINDS: [RecordKind; 4] = [
    RecordKind::Contact,
    RecordKind::Lead,
    RecordKind::Account,
    RecordKind::Customer,
];

/// Who the desk is, for matching.
#[derive(Debug, Clone)]
pub struct LinkRules {
    /// Agents', accounts' and system addresses, lowercased.
    pub own: Vec<String>,
    pub strip_plus_tags: bool,
    /// The desk's system address (`desk@desk.example`); `desk+tag@` variants
    /// are recognised from it.
    pub system_address: Option<String>,
    /// Also link accounts whose `domains` include a party's domain.
    pub match_domains: bool,
    /// Mail whose attachments add up to more than this is not attached;
    /// `None` attaches whatever the size.
    pub max_attachment_bytes: Option<u64>,
    /// Names of the accounts that receive the system address's mailbox. Mail
    /// found only there without the system address in To/Cc reached it by
    /// Bcc (the server drops the Bcc header), so nothing happens to it.
    pub system_accounts: Vec<String>,
}

impl Default for LinkRules {
    fn default() -> Self {
        LinkRules {
            own: Vec::new(),
            strip_plus_tags: false,
            system_address: None,
            match_domains: false,
            max_attachment_bytes: Some(DEFAULT_MAX_ATTACHMENT_BYTES),
            system_accounts: Vec::new(),
        }
    }
}

/// What a `desk+tag@` address asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemAction {
    /// The plain system address: attach to matching records.
    Attach,
    CreateContact,
    CreateLead,
    CreateCustomer,
}

impl SystemAction {
    fn from_tag(tag: &str) -> Option<SystemAction> {
        match tag {
            "contact" => Some(SystemAction::CreateContact),
            "lead" => Some(SystemAction::CreateLead),
            "customer" => Some(SystemAction::CreateCustomer),
            _ => None,
        }
    }

    fn kind(self) -> Option<RecordKind> {
        match self {
            SystemAction::Attach => None,
            SystemAction::CreateContact => Some(RecordKind::Contact),
            SystemAction::CreateLead => Some(RecordKind::Lead),
            SystemAction::CreateCustomer => Some(RecordKind::Customer),
        }
    }
}

/// How an address relates to the system address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemMatch {
    /// Not the system address at all.
    No,
    Known(SystemAction),
    /// `desk+tag@` with a tag the desk does not know (the whole address).
    Unknown(String),
}

/// What [`process_new_mail`] did with one mail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkOutcome {
    /// Every record the mail is now linked to by these rules.
    pub linked: Vec<RecordRef>,
    /// Records created from a `desk+contact@`/`+lead@`/`+customer@` address.
    pub created: Vec<RecordRef>,
    /// Why the mail is not attached to anything (also stored on the summary).
    pub reason: Option<String>,
    /// Unknown `desk+tag@` addresses that were ignored.
    pub ignored: Vec<String>,
    /// `(agent, text)` for followers of records this mail was newly linked to.
    pub notified: Vec<(String, String)>,
}

impl LinkRules {
    pub fn from_config(cfg: &crate::config::Config) -> LinkRules {
        let system = cfg
            .system_address
            .as_deref()
            .and_then(|a| normalize_email(a, true));
        LinkRules {
            system_accounts: cfg
                .accounts
                .iter()
                .filter(|a| system.is_some() && normalize_email(&a.email, true) == system)
                .map(|a| a.name.clone())
                .collect(),
            own: cfg
                .own_addresses()
                .iter()
                .filter_map(|a| normalize_email(a, false))
                .collect(),
            strip_plus_tags: cfg.strip_plus_tags,
            match_domains: cfg.match_company_domains,
            max_attachment_bytes: match cfg.max_attachment_mb {
                Some(0) => None,
                Some(mb) => Some(mb * 1024 * 1024),
                None => LinkRules::default().max_attachment_bytes,
            },
            system_address: cfg
                .system_address
                .as_deref()
                .and_then(|a| normalize_email(a, false)),
        }
    }

    /// The address as records and the index hold it for lookups.
    pub fn normalize(&self, email: &str) -> Option<String> {
        normalize_email(email, self.strip_plus_tags)
    }

    /// Whether an address belongs to the desk (agents, accounts, system, `system+tag`).
    pub fn is_own(&self, email: &str) -> bool {
        let Some(n) = normalize_email(email, false) else {
            return false;
        };
        let base = normalize_email(&n, true).unwrap_or_default();
        if self.system_match(&n) != SystemMatch::No {
            return true;
        }
        self.own.iter().any(|o| {
            let o = o.trim();
            // `n` and `base` are lowercase: an ASCII entry compares without a copy.
            if o.is_ascii() {
                return o.eq_ignore_ascii_case(&n) || o.eq_ignore_ascii_case(&base);
            }
            let o = o.to_lowercase();
            o == n || o == base
        })
    }

    /// Whether `email` is the system address or one of its `+tag` forms.
    pub fn system_match(&self, email: &str) -> SystemMatch {
        let Some(sys) = self.system_address.as_deref() else {
            return SystemMatch::No;
        };
        let (Some(n), Some(sys)) = (normalize_email(email, false), normalize_email(sys, false))
        else {
            return SystemMatch::No;
        };
        let (Some((local, domain)), Some((sys_local, sys_domain))) =
            (n.rsplit_once('@'), sys.rsplit_once('@'))
        else {
            return SystemMatch::No;
        };
        if domain != sys_domain {
            return SystemMatch::No;
        }
        if local == sys_local {
            return SystemMatch::Known(SystemAction::Attach);
        }
        match local
            .strip_prefix(sys_local)
            .and_then(|r| r.strip_prefix('+'))
        {
            Some(tag) => match SystemAction::from_tag(tag) {
                Some(a) => SystemMatch::Known(a),
                None => SystemMatch::Unknown(n.clone()),
            },
            None => SystemMatch::No,
        }
    }

    /// Outgoing mail: sent or drafted by the desk, or from one of its addresses.
    pub fn is_outgoing(&self, msg: &MessageSummary) -> bool {
        msg.status != MailStatus::Archived || msg.from.iter().any(|p| self.is_own(&p.email))
    }

    /// The addresses to look `email` up under: the normalised form, plus the
    /// raw lowercased and Unicode-domain forms that records typed by hand
    /// may hold.
    fn lookup_keys(&self, email: &str) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        let mut push = |k: String| {
            if !k.is_empty() && !keys.contains(&k) {
                keys.push(k);
            }
        };
        if let Some(n) = self.normalize(email) {
            // Only a punycode label has another Unicode form.
            if let Some((local, domain)) = n.rsplit_once('@')
                && domain.contains("xn--")
            {
                let (uni, res) = idna::domain_to_unicode(domain);
                if res.is_ok() && uni != domain {
                    push(format!("{local}@{uni}"));
                }
            }
            push(n);
        }
        push(email.trim().to_lowercase());
        keys
    }
}

/// What the rules read: the store itself, or the store as an ingest batch
/// will leave it (records, links and mails earlier in the same batch).
pub trait LinkReads {
    fn next_id(&self) -> Result<u64, StoreError>;
    fn record(&self, kind: RecordKind, id: u64) -> Result<Option<Record>, StoreError>;
    fn records(&self, kind: RecordKind) -> Result<Vec<Record>, StoreError>;
    fn records_by_address(&self, email: &str) -> Result<Vec<Record>, StoreError>;
    fn id_by_message_id(&self, mid: &str) -> Result<Option<u64>, StoreError>;
    fn links_of(&self, msg: u64) -> Result<Vec<Record>, StoreError>;
    fn accounts_of(&self, msg: u64) -> Result<Vec<String>, StoreError>;
    /// Attachment bytes of a stored mail, parsed from its body (None without one).
    fn stored_attachment_bytes(&self, msg: u64) -> Result<Option<u64>, StoreError>;
}

impl LinkReads for Store {
    fn next_id(&self) -> Result<u64, StoreError> {
        Store::next_id(self)
    }
    fn record(&self, kind: RecordKind, id: u64) -> Result<Option<Record>, StoreError> {
        Store::record(self, kind, id)
    }
    fn records(&self, kind: RecordKind) -> Result<Vec<Record>, StoreError> {
        Store::records(self, kind)
    }
    fn records_by_address(&self, email: &str) -> Result<Vec<Record>, StoreError> {
        Store::records_by_address(self, email)
    }
    fn id_by_message_id(&self, mid: &str) -> Result<Option<u64>, StoreError> {
        Store::id_by_message_id(self, mid)
    }
    fn links_of(&self, msg: u64) -> Result<Vec<Record>, StoreError> {
        Store::links_of(self, msg)
    }
    fn accounts_of(&self, msg: u64) -> Result<Vec<String>, StoreError> {
        Ok(self
            .locations(msg)?
            .into_iter()
            .map(|l| l.account)
            .collect())
    }
    fn stored_attachment_bytes(&self, msg: u64) -> Result<Option<u64>, StoreError> {
        Ok(self
            .body(msg)?
            .and_then(|raw| crate::sync::ingest::attachment_bytes(&raw)))
    }
}

impl LinkReads for BatchView<'_> {
    fn next_id(&self) -> Result<u64, StoreError> {
        BatchView::next_id(self)
    }
    fn record(&self, kind: RecordKind, id: u64) -> Result<Option<Record>, StoreError> {
        BatchView::record(self, kind, id)
    }
    fn records(&self, kind: RecordKind) -> Result<Vec<Record>, StoreError> {
        BatchView::records(self, kind)
    }
    fn records_by_address(&self, email: &str) -> Result<Vec<Record>, StoreError> {
        BatchView::records_by_address(self, email)
    }
    fn id_by_message_id(&self, mid: &str) -> Result<Option<u64>, StoreError> {
        BatchView::id_by_message_id(self, mid)
    }
    fn links_of(&self, msg: u64) -> Result<Vec<Record>, StoreError> {
        BatchView::links_of(self, msg)
    }
    fn accounts_of(&self, msg: u64) -> Result<Vec<String>, StoreError> {
        BatchView::accounts_of(self, msg)
    }
    fn stored_attachment_bytes(&self, _msg: u64) -> Result<Option<u64>, StoreError> {
        // A mail of the batch was parsed already: its side says the size.
        Ok(None)
    }
}

/// How many of a mail's References (newest first) are followed.
const THREAD_DEPTH: usize = 5;

/// Cases and deals the mails this one answers are linked to.
fn thread_records(
    store: &dyn LinkReads,
    msg: &MessageSummary,
) -> Result<Vec<RecordRef>, StoreError> {
    let mut out = Vec::new();
    let parents = msg
        .in_reply_to
        .iter()
        .chain(msg.references.iter().rev().take(THREAD_DEPTH));
    let mut seen = Vec::new();
    for p in parents {
        let key = crate::mail::thread::normalize_id(p);
        if key.is_empty() || seen.contains(&key) {
            continue;
        }
        seen.push(key.clone());
        let id = match store.id_by_message_id(&key)? {
            Some(id) => Some(id),
            None => store.id_by_message_id(&format!("<{key}>"))?,
        };
        let Some(id) = id else {
            continue;
        };
        if id == msg.id {
            continue;
        }
        for r in store.links_of(id)? {
            if matches!(r.kind, RecordKind::Case | RecordKind::Deal)
                && !r.deleted
                && !out.contains(&r.reference())
            {
                out.push(r.reference());
            }
        }
    }
    Ok(out)
}

/// Whether the mail was found only in the system address's own mailbox.
fn only_in_system_mailbox(
    store: &dyn LinkReads,
    rules: &LinkRules,
    msg: &MessageSummary,
) -> Result<bool, StoreError> {
    if rules.system_accounts.is_empty() || rules.system_address.is_none() || msg.id == 0 {
        return Ok(false);
    }
    let accounts = store.accounts_of(msg.id)?;
    Ok(!accounts.is_empty() && accounts.iter().all(|a| rules.system_accounts.contains(a)))
}

/// Whether any of the mail's attachments push it over the limit; `known`
/// is the size parsing found, when the mail was just parsed.
fn attachments_over(
    store: &dyn LinkReads,
    msg: &MessageSummary,
    limit: u64,
    known: Option<u64>,
) -> Result<bool, StoreError> {
    if !msg.has_attachments || msg.size <= limit {
        // An encoded attachment is never smaller than its content.
        return Ok(false);
    }
    let total = match known {
        Some(n) => Some(n),
        None if msg.id != 0 => store.stored_attachment_bytes(msg.id)?,
        None => None,
    };
    // Only the summary: base64 carries 3 bytes in 4.
    Ok(total.unwrap_or(msg.size / 4 * 3) > limit)
}

/// The reason shown for mail whose attachments are over the limit.
pub fn attachment_reason(limit: u64) -> String {
    format!("attachment over {}", crate::mail::format::human_size(limit))
}

/// The reason shown for mail sent only to unknown `desk+tag@` addresses.
pub fn unknown_tag_reason(addresses: &[String]) -> String {
    format!(
        "unknown system address {}: not imported (use +contact, +lead or +customer)",
        addresses.join(", ")
    )
}

/// A display name for a party: its name, else the mailbox part of its
/// address turned into words ("ivan.petrov" -> "Ivan Petrov").
pub fn party_name(p: &Party) -> String {
    let name = p.name.trim();
    if !name.is_empty() {
        return name.to_string();
    }
    let local = p.email.split('@').next().unwrap_or_default();
    let local = local.split('+').next().unwrap_or(local);
    let words: Vec<String> = local
        .split(['.', '_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect();
    if words.is_empty() {
        p.email.trim().to_string()
    } else {
        words.join(" ")
    }
}

/// Live records of the matched kinds found under any of `email`'s lookup keys.
fn records_for(
    store: &dyn LinkReads,
    rules: &LinkRules,
    email: &str,
) -> Result<Vec<Record>, StoreError> {
    let mut out: Vec<Record> = Vec::new();
    for key in rules.lookup_keys(email) {
        for r in store.records_by_address(&key)? {
            if MATCHED_KINDS.contains(&r.kind)
                && !out.iter().any(|o| o.reference() == r.reference())
            {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Accounts whose domains include `domain` (ASCII, lowercased).
fn accounts_by_domain(accounts: &[Record], domain: &str) -> Vec<RecordRef> {
    accounts
        .iter()
        .filter(|a| {
            a.domains.iter().any(|d| {
                let d = d
                    .trim()
                    .trim_start_matches('@')
                    .trim_end_matches('.')
                    .to_lowercase();
                d == domain
                    || idna::domain_to_ascii(&d)
                        .map(|x| x == domain)
                        .unwrap_or(false)
            })
        })
        .map(Record::reference)
        .collect()
}

fn domain_of(email: &str) -> Option<String> {
    normalize_email(email, false).and_then(|n| n.rsplit_once('@').map(|(_, d)| d.to_string()))
}

/// Find the record a `desk+tag@` address asks for, for one party, or make
/// it (not written: the caller writes it with the links).
fn create_for_party(
    store: &dyn LinkReads,
    rules: &LinkRules,
    kind: RecordKind,
    p: &Party,
    accounts: &[Record],
) -> Result<Option<(Record, bool)>, StoreError> {
    let Some(email) = normalize_email(&p.email, false) else {
        return Ok(None);
    };
    if let Some(existing) = records_for(store, rules, &email)?
        .into_iter()
        .find(|r| r.kind == kind)
    {
        return Ok(Some((existing, false)));
    }
    let mut r = Record::new(kind, party_name(p));
    r.id = store.next_id()?;
    r.emails = vec![email.clone()];
    r.fields.insert("source".into(), "email".into());
    match kind {
        RecordKind::Lead => {
            r.fields.insert("status".into(), "New".into());
        }
        RecordKind::Contact => {
            if rules.match_domains
                && let Some(d) = domain_of(&email)
                && let Some(acc) = accounts_by_domain(accounts, &d).first()
            {
                r.parent = Some(*acc);
            }
        }
        RecordKind::Customer => {
            for c in store.records_by_address(&email)? {
                if c.kind == RecordKind::Contact {
                    r.related.push(c.reference());
                }
            }
        }
        _ => {}
    }
    tracing::info!(kind = kind.name(), id = r.id, email = %email, "record created from a system address");
    Ok(Some((r, true)))
}

/// What the rules decided for one mail, before anything is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkDecision {
    /// Every record the mail is to be linked to.
    pub linked: Vec<RecordRef>,
    /// Records a `desk+contact@`/`+lead@`/`+customer@` address asks for,
    /// with their ids assigned but not written yet.
    pub created: Vec<Record>,
    pub reason: Option<String>,
    pub ignored: Vec<String>,
}

/// Apply every rule to one mail and decide, writing nothing: what it links
/// to, what records it creates and why it stays unlinked. `attachments` is
/// the attachment size parsing found (`None`: look at the stored body).
pub fn decide(
    store: &dyn LinkReads,
    rules: &LinkRules,
    msg: &MessageSummary,
    attachments: Option<u64>,
) -> Result<LinkDecision, StoreError> {
    let mut out = LinkDecision::default();
    let outgoing = rules.is_outgoing(msg);

    // System address mentions.
    let mut actions: Vec<SystemAction> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut in_to_cc = false;
    for p in msg.to.iter().chain(msg.cc.iter()) {
        match rules.system_match(&p.email) {
            SystemMatch::No => {}
            SystemMatch::Known(a) => {
                in_to_cc = true;
                if !actions.contains(&a) {
                    actions.push(a);
                }
            }
            SystemMatch::Unknown(addr) => {
                if !unknown.contains(&addr) {
                    unknown.push(addr);
                }
            }
        }
    }
    let in_bcc = msg
        .bcc
        .iter()
        .any(|p| rules.system_match(&p.email) != SystemMatch::No)
        || (!in_to_cc && only_in_system_mailbox(store, rules, msg)?);

    for addr in &unknown {
        tracing::warn!(message_id = %msg.message_id, address = %addr, "unknown system address tag; not imported");
    }
    out.ignored = unknown.clone();

    let stop = if !in_to_cc && !unknown.is_empty() {
        Some(unknown_tag_reason(&unknown))
    } else if !in_to_cc && in_bcc {
        Some(REASON_BCC_ONLY.to_string())
    } else if let Some(limit) = rules.max_attachment_bytes
        && attachments_over(store, msg, limit, attachments)?
    {
        Some(attachment_reason(limit))
    } else {
        None
    };
    if let Some(reason) = stop {
        tracing::debug!(message_id = %msg.message_id, %reason, "mail not attached");
        out.reason = Some(reason);
        return Ok(out);
    }

    // The customer side of the mail.
    let parties: Vec<&Party> = if outgoing {
        msg.to.iter().chain(msg.cc.iter()).collect()
    } else {
        msg.from
            .iter()
            .chain(msg.to.iter())
            .chain(msg.cc.iter())
            .collect()
    };
    let customers: Vec<&Party> = parties
        .into_iter()
        .filter(|p| !rules.is_own(&p.email) && normalize_email(&p.email, false).is_some())
        .collect();

    let accounts = if rules.match_domains {
        store.records(RecordKind::Account)?
    } else {
        Vec::new()
    };

    // Records asked for by `desk+tag@`.
    let creators: Vec<&Party> = if outgoing {
        customers.clone()
    } else {
        msg.from
            .iter()
            .filter(|p| !rules.is_own(&p.email))
            .collect()
    };
    for action in &actions {
        let Some(kind) = action.kind() else {
            continue;
        };
        for p in &creators {
            // One mail naming the same new party twice makes one record.
            let made = out.created.iter().find(|r| {
                r.kind == kind
                    && normalize_email(&p.email, false).is_some_and(|e| r.emails.contains(&e))
            });
            if made.is_some() {
                continue;
            }
            if let Some((r, true)) = create_for_party(store, rules, kind, p, &accounts)? {
                out.created.push(r);
            }
        }
    }

    // Matching.
    let mut linked: Vec<RecordRef> = Vec::new();
    let push = |r: RecordRef, linked: &mut Vec<RecordRef>| {
        if !linked.contains(&r) {
            linked.push(r);
        }
    };
    for p in &customers {
        for r in records_for(store, rules, &p.email)? {
            push(r.reference(), &mut linked);
            if r.kind == RecordKind::Contact
                && let Some(parent) = r.parent
                && parent.0 == RecordKind::Account
                && store
                    .record(parent.0, parent.1)?
                    .is_some_and(|a| !a.deleted)
            {
                push(parent, &mut linked);
            }
        }
        if rules.match_domains
            && let Some(d) = domain_of(&p.email)
        {
            for a in accounts_by_domain(&accounts, &d) {
                push(a, &mut linked);
            }
        }
    }
    // A reply stays on the cases and deals its thread is filed under.
    for r in thread_records(store, msg)? {
        push(r, &mut linked);
    }
    // Records just created always take the mail, even when a lookup key missed.
    for r in out.created.iter().map(Record::reference) {
        push(r, &mut linked);
    }
    out.linked = linked;
    out.reason = if !out.linked.is_empty() {
        None
    } else if customers.is_empty() {
        Some(REASON_AGENT.to_string())
    } else {
        Some(REASON_NO_MATCH.to_string())
    };
    Ok(out)
}

/// The rules applied to one stored mail, written at once: records that
/// `desk+tag@` addresses ask for, links, followers' notifications and the
/// reason when nothing is attached. Ingest decides the same inside its
/// batch (`sync::pipeline`); this is for mail already stored (relink).
pub fn process_new_mail(
    store: &Store,
    rules: &LinkRules,
    msg: &MessageSummary,
) -> Result<LinkOutcome, StoreError> {
    let d = decide(store, rules, msg, None)?;
    let mut out = LinkOutcome {
        ignored: d.ignored,
        ..LinkOutcome::default()
    };
    for r in d.created {
        out.created.push(store.put_record(r)?.reference());
    }
    for r in &d.linked {
        if store.link(msg.id, *r)? {
            out.notified
                .extend(crate::crm::followers::notify_followers(store, msg, *r)?);
        }
    }
    out.linked = d.linked;
    out.reason = store_reason(store, msg, d.reason)?;
    Ok(out)
}

/// Store the reason on the summary when the mail has no link at all (a mail
/// linked by hand keeps no reason); returns the reason now in effect.
fn store_reason(
    store: &Store,
    msg: &MessageSummary,
    reason: Option<String>,
) -> Result<Option<String>, StoreError> {
    let reason = if reason.is_some() && msg.id != 0 && !store.links_of(msg.id)?.is_empty() {
        None
    } else {
        reason
    };
    if msg.id == 0 {
        return Ok(reason);
    }
    let mut current = store.summary(msg.id)?.unwrap_or_else(|| msg.clone());
    if current.not_linked_reason != reason {
        current.not_linked_reason = reason.clone();
        store.update_summary(&current)?;
    }
    Ok(reason)
}

/// Link a stored mail to every record its From/To/Cc match; a contact also
/// links its company. Returns the links made; records the reason if none.
/// The same rules as [`process_new_mail`], which it runs.
pub fn auto_link(
    store: &Store,
    rules: &LinkRules,
    msg: &MessageSummary,
) -> Result<Vec<RecordRef>, StoreError> {
    Ok(process_new_mail(store, rules, msg)?.linked)
}

/// What [`relink_unlinked`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelinkReport {
    /// Mails without any link that were looked at again.
    pub checked: usize,
    /// Of those, the ones now linked.
    pub linked: usize,
}

/// Run the rules again over every stored mail that has no link, e.g. after
/// contacts were imported or created. Mails already linked (by the rules or
/// by hand) are left alone.
pub fn relink_unlinked(store: &Store, rules: &LinkRules) -> Result<RelinkReport, StoreError> {
    let mut report = RelinkReport::default();
    let mut seen = std::collections::HashSet::new();
    for (account, folders) in store.folders_by_account()? {
        for f in folders {
            for row in store.page(&account, &f.name, None, usize::MAX)? {
                let m = row.summary;
                if !seen.insert(m.id) || !store.links_of(m.id)?.is_empty() {
                    continue;
                }
                report.checked += 1;
                if !process_new_mail(store, rules, &m)?.linked.is_empty() {
                    report.linked += 1;
                }
            }
        }
    }
    Ok(report)
}
