//! The one ingest path for every source (IMAP, POP3, the outbox's Sent
//! copies, the demo desk): raw bytes are parsed once, pass the stages, are
//! linked in memory and written in one atomic batch. Never reads back a
//! summary it wrote and never parses a mail twice.

use crate::crm::auto_reply::AutoReplies;
use crate::crm::cases::{CaseRules, is_automatic, plan_case};
use crate::crm::filters::{Filters, MailFacts, Verdict};
use crate::crm::followers::notifications_for_link;
use crate::crm::linking::{LinkReads, LinkRules, decide};
use crate::store::{
    BatchLinker, BatchView, FolderState, IngestExtras, IngestReport, IngestSide, LinkPlan,
    MessageSummary, NewMail, Record, RecordKind, Store, StoreError,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A mail as it came off the wire.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub account: String,
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
    pub flags: u8,
    pub raw: Vec<u8>,
    /// The size the server reported (0: unknown), kept when the mail is cut.
    pub reported_size: u64,
    /// A stored mail whose links this one takes too (a reply's Sent copy).
    pub inherit_links_of: Option<u64>,
}

/// A mail parsed once, as the stages and the batch see it.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub mail: NewMail,
    pub side: IngestSide,
    /// What the filters decided (nothing without filters).
    pub filter: Verdict,
}

/// A step every new mail passes between parsing and the batch: filters and
/// email-to-case rules plug in here.
pub trait Stage: Send + Sync {
    fn name(&self) -> &'static str;
    fn apply(&self, mail: &mut Parsed);
}

/// What the batch writes besides the mails.
#[derive(Debug, Default)]
pub struct Extras {
    /// The folder's new cursor (account, state).
    pub cursor: Option<(String, FolderState)>,
    /// A setting that changes with the mails (POP3's UIDL map).
    pub setting: Option<(String, String)>,
}

/// Parse, stage, link and store mail of one desk.
#[derive(Clone)]
pub struct Pipeline {
    store: Arc<Store>,
    steps: Steps,
    /// Queues the auto-replies new cases owe, right after each batch.
    auto_replies: Option<Arc<AutoReplies>>,
}

/// The pipeline without its store: parsing, stages and rules. A caller
/// holding only a `&Store` (the demo builder) commits through it.
#[derive(Clone)]
pub struct Steps {
    rules: Arc<LinkRules>,
    own: Arc<Vec<String>>,
    /// (bytes, MB as configured): bigger mails keep only their headers.
    limit: Option<(usize, u64)>,
    /// The automatic-mail classifier first; filters add theirs.
    stages: Vec<Arc<dyn Stage>>,
    /// Email-to-case of group accounts, decided with the links.
    cases: Option<Arc<CaseRules>>,
}

/// Marks mail a machine sent (auto-replies, bounces, lists) from its headers.
pub struct AutomaticMail;

impl Stage for AutomaticMail {
    fn name(&self) -> &'static str {
        "automatic-mail"
    }

    fn apply(&self, mail: &mut Parsed) {
        let sender = mail.mail.summary.from.first().map(|p| p.email.as_str());
        let raw = mail.mail.raw.as_deref().unwrap_or_default();
        mail.side.automatic = is_automatic(raw, sender);
    }
}

/// Applies `[[filters]]` and `[[accounts.filters]]` at import, before
/// linking and cases. Mail in a move filter's folder is left alone, so what
/// a filter filed there is not filed again.
pub struct FilterStage {
    filters: Filters,
    targets: Vec<String>,
}

impl FilterStage {
    /// `None` without filters for `account`.
    pub fn new(filters: Filters, account: &str) -> Option<FilterStage> {
        let targets = filters.move_targets(account);
        (!filters.is_empty()).then_some(FilterStage { filters, targets })
    }
}

impl Stage for FilterStage {
    fn name(&self) -> &'static str {
        "filters"
    }

    fn apply(&self, mail: &mut Parsed) {
        let m = &mail.mail;
        if self.targets.contains(&m.folder) {
            return;
        }
        let facts = MailFacts {
            account: &m.account,
            from: m.summary.from.iter().map(|p| p.email.as_str()).collect(),
            to: m
                .summary
                .to
                .iter()
                .chain(m.summary.cc.iter())
                .map(|p| p.email.as_str())
                .collect(),
            subject: &m.summary.subject,
        };
        let raw = m.raw.as_deref().unwrap_or_default();
        // Parsed again only when a body pattern has to look at the text.
        let mut body = || {
            mail_parser::MessageParser::default()
                .parse(raw)
                .and_then(|p| p.body_text(0).map(|t| t.into_owned()))
                .unwrap_or_default()
        };
        let v = self.filters.verdict(&facts, &mut body);
        mail.filter = v;
    }
}

impl Pipeline {
    pub fn new(store: Arc<Store>, rules: Arc<LinkRules>, own: Arc<Vec<String>>) -> Pipeline {
        Pipeline {
            store,
            steps: Steps::new(rules, own),
            auto_replies: None,
        }
    }

    /// Mails over `max_mb` (an account's `max_message_mb`) keep their headers and a note.
    pub fn with_size_limit(mut self, max_bytes: usize, max_mb: u64) -> Pipeline {
        self.steps.limit = Some((max_bytes, max_mb));
        self
    }

    pub fn with_stage(mut self, stage: Arc<dyn Stage>) -> Pipeline {
        self.steps.stages.push(stage);
        self
    }

    /// Group accounts with `[accounts.cases]` make and join cases at ingest.
    pub fn with_cases(mut self, cases: CaseRules) -> Pipeline {
        self.steps.cases = (!cases.is_empty()).then(|| Arc::new(cases));
        self
    }

    /// Auto-replies of new cases are queued after each batch.
    pub fn with_auto_replies(mut self, a: Option<AutoReplies>) -> Pipeline {
        self.auto_replies = a.map(Arc::new);
        self
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Parse one mail (pure CPU: call it on a blocking thread).
    pub fn parse(&self, m: Incoming) -> Parsed {
        self.steps.parse(m)
    }

    /// Parse a batch on the blocking pool, one share per core, in order.
    pub async fn parse_all(&self, mails: Vec<Incoming>) -> Result<Vec<Parsed>, StoreError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let share = mails.len().div_ceil(cores).max(16);
        let mut rest = mails;
        let mut tasks = Vec::new();
        while !rest.is_empty() {
            let tail = rest.split_off(share.min(rest.len()));
            let part = std::mem::replace(&mut rest, tail);
            let p = self.clone();
            tasks.push(tokio::task::spawn_blocking(move || {
                part.into_iter().map(|m| p.parse(m)).collect::<Vec<_>>()
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.extend(
                t.await
                    .map_err(|e| StoreError::Decode(format!("a mail parser thread failed: {e}")))?,
            );
        }
        Ok(out)
    }

    /// Write a parsed batch: mails, indexes, links, reasons, records,
    /// notifications, UID map, cursor and setting in one atomic batch.
    pub fn commit(&self, batch: Vec<Parsed>, extras: Extras) -> Result<IngestReport, StoreError> {
        let report = self.steps.commit_to(&self.store, batch, extras)?;
        self.queue_auto_replies();
        Ok(report)
    }

    /// The mails are stored whatever happens here; what is owed stays owed
    /// and the next batch tries again.
    fn queue_auto_replies(&self) {
        if let Some(a) = &self.auto_replies
            && let Err(e) = a.run(&self.store)
        {
            tracing::warn!("auto-replies could not be queued yet: {e}");
        }
    }

    /// Parse and write in one call (a few mails, already on a blocking thread).
    pub fn ingest_now(
        &self,
        mails: Vec<Incoming>,
        extras: Extras,
    ) -> Result<IngestReport, StoreError> {
        let report = self.steps.ingest_now(&self.store, mails, extras)?;
        self.queue_auto_replies();
        Ok(report)
    }
}

impl Steps {
    pub fn new(rules: Arc<LinkRules>, own: Arc<Vec<String>>) -> Steps {
        Steps {
            rules,
            own,
            limit: None,
            stages: vec![Arc::new(AutomaticMail)],
            cases: None,
        }
    }

    /// Parse one mail (pure CPU: call it on a blocking thread).
    pub fn parse(&self, m: Incoming) -> Parsed {
        let started = std::time::Instant::now();
        let parsed = self.parse_untimed(m);
        crate::store::timing::add(crate::store::timing::Step::Parse, started.elapsed());
        parsed
    }

    fn parse_untimed(&self, m: Incoming) -> Parsed {
        let Incoming {
            account,
            folder,
            uidvalidity,
            uid,
            flags,
            mut raw,
            reported_size,
            inherit_links_of,
        } = m;
        let size = reported_size.max(raw.len() as u64);
        let cut = self.limit.is_some_and(|(bytes, _)| raw.len() > bytes);
        if let Some((_, mb)) = self.limit
            && cut
        {
            raw = super::ingest::headers_with_note(&raw, size, mb);
        }
        let (mut summary, attachment_bytes): (MessageSummary, _) =
            super::ingest::parse_once(&raw, &self.own);
        summary.size = size;
        summary.body_cut = cut;
        let mut parsed = Parsed {
            mail: NewMail {
                account,
                folder,
                uidvalidity,
                uid,
                flags,
                summary,
                raw: Some(raw),
            },
            side: IngestSide {
                attachment_bytes,
                inherit_links_of,
                automatic: false,
            },
            filter: Verdict::default(),
        };
        for stage in &self.stages {
            stage.apply(&mut parsed);
        }
        parsed
    }

    /// Write a parsed batch to `store` in one atomic batch.
    pub fn commit_to(
        &self,
        store: &Store,
        batch: Vec<Parsed>,
        extras: Extras,
    ) -> Result<IngestReport, StoreError> {
        // Skipped mail is not stored; its UID is, so it is not fetched again.
        let mut kept = Vec::with_capacity(batch.len());
        let mut filed = Vec::new();
        for p in batch {
            let m = &p.mail;
            if p.filter.skip {
                tracing::info!(account = %m.account, folder = %m.folder, uid = m.uid, filters = ?p.filter.names, "mail skipped by a filter");
                store.mark_filtered(&m.account, &m.folder, m.uidvalidity, m.uid)?;
                continue;
            }
            if !p.filter.is_empty() {
                let key = (m.account.clone(), m.folder.clone(), m.uidvalidity, m.uid);
                filed.push((key, p.filter.clone()));
            }
            kept.push(p);
        }
        let (mails, sides): (Vec<NewMail>, Vec<IngestSide>) =
            kept.into_iter().map(|p| (p.mail, p.side)).unzip();
        let linker = RulesLinker {
            rules: Arc::clone(&self.rules),
            cases: self.cases.clone(),
            by_address: Mutex::default(),
        };
        let Extras { cursor, setting } = extras;
        let mut report = store.ingest_with(
            mails,
            IngestExtras {
                cursor: cursor.as_ref().map(|(a, st)| (a.as_str(), st.clone())),
                setting,
                sides,
            },
            Some(&linker),
        )?;
        for ((account, folder, uidvalidity, uid), v) in filed {
            let Some(id) = store
                .id_by_uid(&account, &folder, uidvalidity, uid)?
                .filter(|id| *id != 0)
            else {
                continue;
            };
            if v.mark_read {
                store.change_flags(&account, &folder, id, crate::store::flags::SEEN, 0)?;
            }
            if let Some(to) = v.move_to.as_deref().filter(|t| *t != folder) {
                store.queue_move(&account, &folder, id, Some(to))?;
            }
            if v.no_notify {
                // Not counted as new: no bell, no "new mail" notice.
                report.created.retain(|c| *c != id);
            }
        }
        Ok(report)
    }

    /// Parse and write in one call, on the calling thread.
    pub fn ingest_now(
        &self,
        store: &Store,
        mails: Vec<Incoming>,
        extras: Extras,
    ) -> Result<IngestReport, StoreError> {
        let parsed = mails.into_iter().map(|m| self.parse(m)).collect();
        self.commit_to(store, parsed, extras)
    }
}

/// The linking rules as the batch's hook, for one batch.
struct RulesLinker {
    rules: Arc<LinkRules>,
    cases: Option<Arc<CaseRules>>,
    /// Records found under an address earlier in this batch: mails of one
    /// batch often name the same customer. Emptied whenever a mail creates
    /// records, the only way the view's answers change within a batch.
    by_address: Mutex<HashMap<String, Vec<Record>>>,
}

/// The batch view, with address lookups answered from the batch's cache.
struct CachedView<'v, 'a> {
    view: &'v BatchView<'a>,
    by_address: &'v Mutex<HashMap<String, Vec<Record>>>,
}

impl LinkReads for CachedView<'_, '_> {
    fn next_id(&self) -> Result<u64, StoreError> {
        LinkReads::next_id(self.view)
    }
    fn record(&self, kind: RecordKind, id: u64) -> Result<Option<Record>, StoreError> {
        LinkReads::record(self.view, kind, id)
    }
    fn records(&self, kind: RecordKind) -> Result<Vec<Record>, StoreError> {
        LinkReads::records(self.view, kind)
    }
    fn records_by_address(&self, email: &str) -> Result<Vec<Record>, StoreError> {
        let mut cache = self
            .by_address
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = cache.get(email) {
            return Ok(found.clone());
        }
        let found = LinkReads::records_by_address(self.view, email)?;
        cache.insert(email.to_string(), found.clone());
        Ok(found)
    }
    fn id_by_message_id(&self, mid: &str) -> Result<Option<u64>, StoreError> {
        LinkReads::id_by_message_id(self.view, mid)
    }
    fn links_of(&self, msg: u64) -> Result<Vec<Record>, StoreError> {
        LinkReads::links_of(self.view, msg)
    }
    fn accounts_of(&self, msg: u64) -> Result<Vec<String>, StoreError> {
        LinkReads::accounts_of(self.view, msg)
    }
    fn stored_attachment_bytes(&self, msg: u64) -> Result<Option<u64>, StoreError> {
        LinkReads::stored_attachment_bytes(self.view, msg)
    }
}

impl BatchLinker for RulesLinker {
    fn decide(
        &self,
        view: &BatchView<'_>,
        mail: &MessageSummary,
        side: IngestSide,
    ) -> Result<LinkPlan, StoreError> {
        let cached = CachedView {
            view,
            by_address: &self.by_address,
        };
        let d = decide(&cached, &self.rules, mail, side.attachment_bytes)?;
        let mut links = d.linked;
        if let Some(parent) = side.inherit_links_of {
            for r in LinkReads::links_of(view, parent)? {
                if !links.contains(&r.reference()) {
                    links.push(r.reference());
                }
            }
        }
        let mut plan = LinkPlan {
            records: d.created,
            links,
            ..LinkPlan::default()
        };
        if let Some(cases) = &self.cases {
            plan_case(view, cases, &self.rules, mail, side.automatic, &mut plan)?;
        }
        if !plan.records.is_empty() {
            self.by_address
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clear();
        }
        let links = std::mem::take(&mut plan.links);
        plan.reason = if links.is_empty() { d.reason } else { None };
        for r in &links {
            // Records created by this mail have no followers yet.
            if !plan.records.iter().any(|c| c.reference() == *r) {
                plan.notifications
                    .extend(notifications_for_link(view, mail, *r)?);
            }
        }
        plan.links = links;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FaultPoint, Record, RecordKind};

    fn rules() -> Arc<LinkRules> {
        Arc::new(LinkRules {
            own: vec!["support@desk.example".into(), "desk@desk.example".into()],
            system_address: Some("desk@desk.example".into()),
            ..LinkRules::default()
        })
    }

    fn pipeline() -> (tempfile::TempDir, Pipeline) {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Arc::new(Store::open(dir.path()).expect("open"));
        let own = Arc::new(vec!["support@desk.example".to_string()]);
        (dir, Pipeline::new(store, rules(), own))
    }

    fn mail(uid: u32, from: &str, to: &str, extra: &str) -> Incoming {
        let raw = format!(
            "From: {from}\r\nTo: {to}\r\nSubject: Mail {uid}\r\nMessage-ID: <m{uid}@x.example>\r\n\
             Date: Tue, 1 Dec 2026 10:{uid:02}:00 +0000\r\n{extra}\r\nHello.\r\n"
        );
        Incoming {
            account: "support".into(),
            folder: "INBOX".into(),
            uidvalidity: 7,
            uid,
            flags: 0,
            raw: raw.into_bytes(),
            reported_size: 0,
            inherit_links_of: None,
        }
    }

    #[test]
    fn two_mails_of_one_batch_asking_for_the_same_contact_make_one_record() {
        let (_d, p) = pipeline();
        let r = p
            .ingest_now(
                vec![
                    mail(
                        1,
                        "Ann Lee <ann@cust.example>",
                        "desk+contact@desk.example",
                        "",
                    ),
                    mail(
                        2,
                        "Ann Lee <ann@cust.example>",
                        "desk+contact@desk.example",
                        "",
                    ),
                ],
                Extras::default(),
            )
            .expect("ingest");
        let contacts = p.store().records(RecordKind::Contact).expect("records");
        assert_eq!(contacts.len(), 1, "{contacts:?}");
        assert_eq!(r.records_created, vec![contacts[0].reference()]);
        for id in r.created {
            let links = p.store().links_of(id).expect("links");
            assert_eq!(links.len(), 1);
            assert_eq!(links[0].reference(), contacts[0].reference());
            let s = p.store().summary(id).expect("summary").expect("stored");
            assert_eq!(s.not_linked_reason, None);
        }
    }

    #[test]
    fn a_contact_made_mid_batch_is_found_by_the_batchs_later_mail_from_that_address() {
        let (_d, p) = pipeline();
        let ann = "Ann Lee <ann@cust.example>";
        let r = p
            .ingest_now(
                vec![
                    mail(1, ann, "support@desk.example", ""),
                    mail(2, ann, "desk+contact@desk.example", ""),
                    mail(3, ann, "support@desk.example", ""),
                ],
                Extras::default(),
            )
            .expect("ingest");
        let contacts = p.store().records(RecordKind::Contact).expect("records");
        assert_eq!(contacts.len(), 1, "{contacts:?}");
        let linked = |id: u64| p.store().links_of(id).expect("links");
        assert!(linked(r.created[0]).is_empty());
        for id in &r.created[1..] {
            assert_eq!(linked(*id).len(), 1, "mail {id}");
            assert_eq!(linked(*id)[0].reference(), contacts[0].reference());
        }
    }

    #[test]
    fn a_reply_in_the_batch_of_its_root_follows_the_roots_case() {
        let (_d, p) = pipeline();
        let store = Arc::clone(p.store());
        let case = store
            .put_record(Record::new(RecordKind::Case, "Refund"))
            .expect("case");
        // The root is stored and filed under a case by hand.
        let root = p
            .ingest_now(
                vec![mail(1, "a@cust.example", "support@desk.example", "")],
                Extras::default(),
            )
            .expect("root");
        store.link(root.created[0], case.reference()).expect("link");
        // Its reply and the reply to that reply arrive in one batch.
        let r = p
            .ingest_now(
                vec![
                    mail(
                        2,
                        "b@cust.example",
                        "support@desk.example",
                        "In-Reply-To: <m1@x.example>\r\n",
                    ),
                    mail(
                        3,
                        "c@cust.example",
                        "support@desk.example",
                        "In-Reply-To: <m2@x.example>\r\nReferences: <m2@x.example>\r\n",
                    ),
                ],
                Extras::default(),
            )
            .expect("replies");
        for id in r.created {
            let links = store.links_of(id).expect("links");
            assert!(
                links.iter().any(|l| l.reference() == case.reference()),
                "mail {id} is not on the case: {links:?}"
            );
        }
    }

    #[test]
    fn a_batch_that_fails_after_its_bodies_leaves_no_mail_link_or_reason_behind() {
        let (_d, p) = pipeline();
        let store = Arc::clone(p.store());
        let mut c = Record::new(RecordKind::Contact, "Ann");
        c.emails = vec!["ann@cust.example".into()];
        let c = store.put_record(c).expect("contact");
        store.inject_fault_for_tests(FaultPoint::IngestAfterBodies);
        let batch = || vec![mail(1, "ann@cust.example", "support@desk.example", "")];
        assert!(p.ingest_now(batch(), Extras::default()).is_err());
        assert_eq!(store.message_count(), 0);
        assert!(store.messages_of(c.reference()).expect("links").is_empty());
        // The same mail again: stored once, linked, with its body.
        let r = p.ingest_now(batch(), Extras::default()).expect("again");
        assert_eq!(store.message_count(), 1);
        assert_eq!(store.messages_of(c.reference()).expect("links"), r.created);
        assert!(store.has_body(r.created[0]).expect("body"));
    }

    #[test]
    fn the_setting_is_written_with_the_mails_it_names() {
        let (_d, p) = pipeline();
        let store = Arc::clone(p.store());
        store.inject_fault_for_tests(FaultPoint::IngestAfterBodies);
        let extras = || Extras {
            cursor: None,
            setting: Some(("pop3:support".into(), "{\"next\":2}".into())),
        };
        let batch = || vec![mail(1, "ann@cust.example", "support@desk.example", "")];
        assert!(p.ingest_now(batch(), extras()).is_err());
        assert_eq!(store.setting("pop3:support").expect("setting"), None);
        p.ingest_now(batch(), extras()).expect("again");
        assert_eq!(
            store.setting("pop3:support").expect("setting").as_deref(),
            Some("{\"next\":2}")
        );
    }
}
