//! Messages, their locations (account, folder, UID) and folder indexes.
//! One mail record per Message-ID: a second copy only adds a location.

use super::batch::{BatchLinker, BatchView, IngestExtras, LinkPlan};
use super::message_row::{self, MessageRow};
use super::{Record, Result, Store, decode, encode, keys};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

pub mod flags {
    pub const SEEN: u8 = 1;
    pub const FLAGGED: u8 = 2;
    pub const ANSWERED: u8 = 4;
    pub const DELETED: u8 = 8;
    pub const DRAFT: u8 = 16;
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct Party {
    #[serde(default)]
    pub name: String,
    pub email: String,
}

impl Party {
    /// The name if there is one, else the address.
    pub fn display(&self) -> &str {
        if self.name.is_empty() {
            &self.email
        } else {
            &self.name
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
pub enum MailStatus {
    #[default]
    Archived,
    Sent,
    Draft,
}

impl MailStatus {
    pub fn name(self) -> &'static str {
        match self {
            MailStatus::Archived => "Archived",
            MailStatus::Sent => "Sent",
            MailStatus::Draft => "Draft",
        }
    }
}

/// The compact row a list shows; everything in it is already sanitised.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct MessageSummary {
    pub id: u64,
    pub message_id: String,
    pub subject: String,
    #[serde(default)]
    pub from: Vec<Party>,
    #[serde(default)]
    pub to: Vec<Party>,
    #[serde(default)]
    pub cc: Vec<Party>,
    #[serde(default)]
    pub bcc: Vec<Party>,
    /// Where the sender asks replies to go.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reply_to: Vec<Party>,
    pub date: i64,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub has_attachments: bool,
    #[serde(default)]
    pub preview: String,
    #[serde(default)]
    pub in_reply_to: Vec<String>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub thread_id: u64,
    #[serde(default)]
    pub status: MailStatus,
    /// Why no record is linked ("no matching contact", …), shown to the agent.
    #[serde(default)]
    pub not_linked_reason: Option<String>,
    /// Another, different mail arrived first with the same Message-ID; this
    /// one was kept apart instead of merged into it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub msgid_clash: bool,
    /// Over the account's `max_message_mb`: only the headers are stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_cut: bool,
}

impl MessageSummary {
    pub fn sender(&self) -> &str {
        self.from
            .first()
            .map(|p| p.display())
            .unwrap_or("(no sender)")
    }
}

/// The value of a folder index row: this location's UID and flags.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct FolderEntry {
    pub uid: u32,
    pub flags: u8,
}

/// Sync cursor and counters of one folder.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct FolderState {
    /// The name shown and used as the key: sanitised when it came from a server.
    pub name: String,
    /// The server's own name when it differs from `name` (it held controls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default)]
    pub uidvalidity: u32,
    #[serde(default)]
    pub uidnext: u32,
    #[serde(default)]
    pub highestmodseq: u64,
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub unread: u64,
    /// `\Sent`, `\Drafts`, `\Trash`, `\Junk`, `\Archive` or none.
    #[serde(default)]
    pub special_use: Option<String>,
    #[serde(default)]
    pub monitored: bool,
    #[serde(default)]
    pub skip_notification: bool,
}

/// A mail found by Message-ID: its id and, when indexed, (date, thread).
type KnownMail = (u64, Option<(i64, u64)>);

/// What makes two mails with one Message-ID the same mail: sender, date
/// and subject.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    from: String,
    date: i64,
    subject: String,
}

impl Fingerprint {
    fn of(s: &MessageSummary) -> Fingerprint {
        Fingerprint {
            from: s
                .from
                .first()
                .map(|p| p.email.to_lowercase())
                .unwrap_or_default(),
            date: s.date,
            // A bounded key, whatever the header's length.
            subject: s.subject.trim().chars().take(200).collect(),
        }
    }

    /// The index key of a different mail that reused `mid`.
    fn clash_key(&self, mid: &str) -> String {
        format!("{mid}\0{}\0{}\0{}", self.from, self.date, self.subject)
    }
}

/// One mail arriving in a folder, parsed off the write lock.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub account: String,
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
    pub flags: u8,
    pub summary: MessageSummary,
    /// The full RFC 822 source; `None` when only the summary was fetched.
    pub raw: Option<Vec<u8>>,
}

/// What an ingest did, for events and linking.
#[derive(Debug, Default, Clone)]
pub struct IngestReport {
    /// Message records created by this batch.
    pub created: Vec<u64>,
    /// Existing records that gained a location.
    pub located: Vec<u64>,
    /// Locations that were already known (a resumed batch).
    pub skipped: usize,
    /// Records the linking rules created (`desk+contact@` and the like).
    pub records_created: Vec<super::RecordRef>,
}

/// The rows of one ingest batch, counted for the timing summary.
#[derive(Default)]
struct Rows {
    batch: sled::Batch,
    n: usize,
}

impl Rows {
    fn insert(&mut self, k: impl Into<sled::IVec>, v: impl Into<sled::IVec>) {
        self.n += 1;
        self.batch.insert(k, v);
    }
}

/// One row of a message list page.
#[derive(Debug, Clone)]
pub struct ListRow {
    /// The folder index key: the cursor for the next page.
    pub key: Vec<u8>,
    pub entry: FolderEntry,
    pub summary: MessageSummary,
    pub thread_size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Location {
    pub account: String,
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

fn thread_key(subject: &str) -> Option<Vec<u8>> {
    let norm = crate::mail::thread::normalize_subject(subject);
    if norm.is_empty() {
        return None;
    }
    let mut k = vec![keys::THREAD_SUBJECT];
    k.extend_from_slice(norm.as_bytes());
    Some(k)
}

impl Store {
    /// Add mails and (optionally) the folder's new sync cursor in one atomic batch.
    /// Re-ingesting a known (folder, uidvalidity, uid) is a no-op, so a batch
    /// replayed after a crash never duplicates anything.
    pub fn ingest(
        &self,
        mails: Vec<NewMail>,
        cursor: Option<(&str, FolderState)>,
    ) -> Result<IngestReport> {
        self.ingest_with(
            mails,
            IngestExtras {
                cursor,
                ..IngestExtras::default()
            },
            None,
        )
    }

    /// [`Store::ingest`] with the linking of new mail decided in the same
    /// batch: `linker` sees the store plus everything earlier in the batch,
    /// and its links, records, notifications and not-linked reason are
    /// written atomically with the mail, its indexes and its UID map.
    pub fn ingest_with(
        &self,
        mails: Vec<NewMail>,
        extras: IngestExtras<'_>,
        linker: Option<&dyn BatchLinker>,
    ) -> Result<IngestReport> {
        let IngestExtras {
            cursor,
            setting,
            sides,
        } = extras;
        let _guard = self.lock();
        let started = std::time::Instant::now();
        let mut batch = Rows::default();
        let mut bodies: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut report = IngestReport::default();
        // New records, decided before linking, encoded once linking is done.
        let mut fresh: Vec<(MessageSummary, usize)> = Vec::new();
        let mut accounts_of: HashMap<u64, Vec<String>> = HashMap::new();
        // Overlays so mails later in the batch see earlier ones.
        let mut msgids: HashMap<String, (u64, u64, u64)> = HashMap::new();
        let mut subjects: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut thread_sizes: HashMap<u64, u64> = HashMap::new();
        let mut states: BTreeMap<(String, String), FolderState> = BTreeMap::new();
        let mut seen_locs: std::collections::HashSet<Vec<u8>> = Default::default();
        let mut fingerprints: HashMap<u64, Fingerprint> = HashMap::new();
        // Every mail row the batch writes, read once and merged in memory.
        let mut rows: BTreeMap<u64, MessageRow> = BTreeMap::new();

        for (index, mut mail) in mails.into_iter().enumerate() {
            let ukey = keys::uid_map(&mail.account, &mail.folder, mail.uidvalidity, mail.uid);
            if seen_locs.contains(&ukey) || self.tree.contains_key(&ukey)? {
                report.skipped += 1;
                continue;
            }
            seen_locs.insert(ukey.clone());
            let state_key = (mail.account.clone(), mail.folder.clone());
            if !states.contains_key(&state_key) {
                let st = self
                    .folder_state(&mail.account, &mail.folder)?
                    .unwrap_or_else(|| FolderState {
                        name: mail.folder.clone(),
                        ..FolderState::default()
                    });
                states.insert(state_key.clone(), st);
            }

            // A known Message-ID is the same mail only with the same content;
            // a different one is kept apart under a key of its own.
            let fp = Fingerprint::of(&mail.summary);
            let mut mid = mail.summary.message_id.clone();
            let mut existing = self.known_msgid(&mid, &msgids)?;
            let mut clash = false;
            if let Some((first, _)) = existing
                && !self.same_content(first, &fp, &fingerprints)?
            {
                clash = true;
                mid = fp.clash_key(&mid);
                existing = self.known_msgid(&mid, &msgids)?;
            }
            let (id, date, tid) = match existing {
                Some((id, known)) => {
                    let (date, tid) = match known {
                        Some(dt) => dt,
                        None => self
                            .summary(id)?
                            .map(|s| (s.date, s.thread_id))
                            .unwrap_or((mail.summary.date, id)),
                    };
                    if !rows.contains_key(&id)
                        && let Some(row) = self.message_row(id)?
                    {
                        rows.insert(id, row);
                    }
                    // A mail whose row is gone (an old store) gets no body or location.
                    let wants_body = rows.get(&id).is_some_and(|r| r.body.is_none());
                    if wants_body
                        && mail.raw.is_some()
                        && !bodies.iter().any(|(b, _)| *b == id)
                        && let Some(raw) = mail.raw.take()
                    {
                        bodies.push((id, raw));
                    }
                    report.located.push(id);
                    (id, date, tid)
                }
                None => {
                    let id = self.next_id()?;
                    let mut summary = mail.summary.clone();
                    summary.id = id;
                    summary.msgid_clash = clash;
                    fingerprints.insert(id, fp);
                    summary.thread_id = self
                        .find_thread(&summary, &msgids, &subjects)?
                        .unwrap_or(id);
                    if let Some(k) = thread_key(&summary.subject) {
                        subjects.entry(k.clone()).or_insert(summary.thread_id);
                        if summary.thread_id == id {
                            batch.insert(k, &id.to_be_bytes());
                        }
                    }
                    let size = match thread_sizes.get(&summary.thread_id) {
                        Some(n) => *n,
                        // A new root: its thread has no mail yet.
                        None if summary.thread_id == id => 0,
                        None => self.thread_size(summary.thread_id)?,
                    };
                    thread_sizes.insert(summary.thread_id, size + 1);
                    if let Some(raw) = mail.raw.take() {
                        bodies.push((id, raw));
                    }
                    // Its summary is written once linking has decided.
                    rows.insert(id, MessageRow::default());
                    batch.insert(
                        keys::msgid(&mid),
                        keys::msgid_value(id, summary.date, summary.thread_id),
                    );
                    msgids.insert(
                        mid.clone(),
                        (id, summary.date.max(0) as u64, summary.thread_id),
                    );
                    report.created.push(id);
                    let (date, tid) = (summary.date, summary.thread_id);
                    fresh.push((summary, index));
                    (id, date, tid)
                }
            };
            let accs = accounts_of.entry(id).or_default();
            if !accs.contains(&mail.account) {
                accs.push(mail.account.clone());
            }
            batch.insert(
                keys::thread_member(&mail.account, &mail.folder, tid, date, id),
                &[],
            );
            let entry = FolderEntry {
                uid: mail.uid,
                flags: mail.flags,
            };
            batch.insert(
                keys::folder_index(&mail.account, &mail.folder, date, id),
                encode(&entry)?,
            );
            let mut uval = id.to_be_bytes().to_vec();
            uval.extend_from_slice(&date.to_be_bytes());
            batch.insert(ukey, uval);
            if let Some(row) = rows.get_mut(&id) {
                row.put_location(Location {
                    account: mail.account.clone(),
                    folder: mail.folder.clone(),
                    uidvalidity: mail.uidvalidity,
                    uid: mail.uid,
                });
            }
            if let Some(st) = states.get_mut(&state_key) {
                st.total += 1;
                if mail.flags & flags::SEEN == 0 {
                    st.unread += 1;
                }
                if st.uidvalidity == 0 {
                    st.uidvalidity = mail.uidvalidity;
                }
            }
        }
        // Most threads are one mail: only longer ones cost a row.
        for (tid, n) in thread_sizes {
            if n > 1 {
                batch.insert(keys::with_id(keys::THREAD_SIZE, tid), &n.to_be_bytes());
            }
        }
        if let Some((account, cursor)) = cursor {
            let key = (account.to_string(), cursor.name.clone());
            let mut st = states.remove(&key).unwrap_or_else(|| {
                self.folder_state(account, &cursor.name)
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            });
            st.name = cursor.name.clone();
            st.server = cursor.server.clone();
            st.uidvalidity = cursor.uidvalidity;
            st.uidnext = st.uidnext.max(cursor.uidnext);
            st.highestmodseq = cursor.highestmodseq.max(st.highestmodseq);
            st.special_use = cursor.special_use.clone().or(st.special_use);
            st.monitored = cursor.monitored || st.monitored;
            st.skip_notification = cursor.skip_notification;
            batch.insert(keys::folder_state(account, &st.name), encode(&st)?);
        }
        for ((account, folder), st) in states {
            batch.insert(keys::folder_state(&account, &folder), encode(&st)?);
        }
        let mut view = BatchView {
            store: self,
            msgids: &msgids,
            accounts: &accounts_of,
            links: HashMap::new(),
            records: Vec::new(),
            updated: Vec::new(),
            settings: HashMap::new(),
        };
        for (mut summary, index) in fresh {
            if let Some(linker) = linker {
                let side = sides.get(index).copied().unwrap_or_default();
                let plan = linker.decide(&view, &summary, side)?;
                self.plan_into_batch(&mut batch, &mut view, &summary, &plan)?;
                summary.not_linked_reason = plan.reason;
            }
            if let Some(row) = rows.get_mut(&summary.id) {
                row.set_summary(&summary)?;
                for to in view.links.get(&summary.id).into_iter().flatten() {
                    row.add_link(*to);
                }
            }
        }
        report.records_created = view.records.iter().map(Record::reference).collect();
        if let Some((name, value)) = setting {
            let mut k = vec![keys::SETTING];
            k.extend_from_slice(name.as_bytes());
            batch.insert(k, value.as_bytes());
        }
        super::timing::add(super::timing::Step::Build, started.elapsed());
        super::timing::batch(
            report.created.len() + report.located.len(),
            batch.n + rows.len(),
        );
        self.write_bodies_then_index(batch.batch, rows, bodies)?;
        Ok(report)
    }

    /// One mail's links, new records and notifications into the batch; the
    /// view learns them so later mails of the batch see them.
    fn plan_into_batch(
        &self,
        batch: &mut Rows,
        view: &mut BatchView<'_>,
        summary: &MessageSummary,
        plan: &LinkPlan,
    ) -> Result<()> {
        for r in &plan.records {
            let mut r = r.clone();
            r.emails = r.emails.iter().map(|e| e.trim().to_lowercase()).collect();
            for e in &r.emails {
                batch.insert(keys::record_by_address(e, r.kind.code(), r.id), &[]);
            }
            batch.insert(keys::record(r.kind.code(), r.id), encode(&r)?);
            view.records.push(r);
        }
        for r in &plan.updated {
            // Cases and their like: the address index is left as it is.
            batch.insert(keys::record(r.kind.code(), r.id), encode(r)?);
            view.updated.retain(|u| u.reference() != r.reference());
            view.updated.push(r.clone());
        }
        for (name, value) in &plan.settings {
            let mut k = vec![keys::SETTING];
            k.extend_from_slice(name.as_bytes());
            batch.insert(k, value.as_bytes());
            view.settings.insert(name.clone(), value.clone());
        }
        let links = view.links.entry(summary.id).or_default();
        for to in &plan.links {
            if links.contains(to) {
                continue;
            }
            // The mail's own row carries the link; this is the record's side.
            links.push(*to);
            batch.insert(
                keys::link_by_record(to.0.code(), to.1, summary.date, summary.id),
                &[],
            );
        }
        for n in &plan.notifications {
            let mut n = n.clone();
            n.id = self.next_id()?;
            batch.insert(
                super::notifications::notification_key(&n.agent, n.id),
                encode(&n)?,
            );
        }
        Ok(())
    }

    /// Bodies first, in a segment file made durable, then the index batch
    /// with the mail rows that point at them. A crash in between leaves a
    /// segment nothing points to, removed on the next open; the mails are
    /// fetched again. Only a body whose row is in `rows` is written.
    pub(super) fn write_bodies_then_index(
        &self,
        mut index: sled::Batch,
        mut rows: BTreeMap<u64, MessageRow>,
        mut bodies: Vec<(u64, Vec<u8>)>,
    ) -> Result<()> {
        // A segment whose first mail had no row would be swept on the next open.
        bodies.retain(|(id, _)| rows.contains_key(id));
        if !bodies.is_empty() {
            let parts: Vec<(u64, &[u8])> =
                bodies.iter().map(|(id, b)| (*id, b.as_slice())).collect();
            let segment = self.next_id()?;
            let locs = super::timing::time(super::timing::Step::Bodies, || {
                self.segments.write(segment, &parts)
            })
            .map_err(|e| self.io_error(e))?;
            for ((id, _), loc) in bodies.iter().zip(locs) {
                if let Some(row) = rows.get_mut(id) {
                    row.body = Some(loc);
                }
            }
            self.after_bodies_fault()?;
        }
        for (id, row) in &rows {
            index.insert(keys::with_id(keys::MESSAGE, *id), row.encode()?);
        }
        super::timing::time(super::timing::Step::Apply, || self.tree.apply_batch(index))
            .map_err(|e| self.explain(e.into()))?;
        Ok(())
    }

    /// The mail indexed under `mid`: in this batch or stored. The date and
    /// thread come along when the index holds them.
    fn known_msgid(
        &self,
        mid: &str,
        batch: &HashMap<String, (u64, u64, u64)>,
    ) -> Result<Option<KnownMail>> {
        Ok(match batch.get(mid) {
            Some(&(id, d, t)) => Some((id, Some((d as i64, t)))),
            None => self
                .tree
                .get(keys::msgid(mid))?
                .map(|v| keys::read_msgid(&v)),
        })
    }

    /// Whether stored mail `id` has the content `fp` describes; a mail whose
    /// summary is gone counts as the same (the old behaviour).
    fn same_content(
        &self,
        id: u64,
        fp: &Fingerprint,
        batch: &HashMap<u64, Fingerprint>,
    ) -> Result<bool> {
        if let Some(known) = batch.get(&id) {
            return Ok(known == fp);
        }
        Ok(self.summary(id)?.is_none_or(|s| Fingerprint::of(&s) == *fp))
    }

    fn find_thread(
        &self,
        s: &MessageSummary,
        batch_ids: &HashMap<String, (u64, u64, u64)>,
        batch_subjects: &HashMap<Vec<u8>, u64>,
    ) -> Result<Option<u64>> {
        for parent in s.in_reply_to.iter().chain(s.references.iter().rev()) {
            if let Some(&(_, _, tid)) = batch_ids.get(parent) {
                return Ok(Some(tid));
            }
            if let Some(v) = self.tree.get(keys::msgid(parent))? {
                match keys::read_msgid(&v) {
                    (_, Some((_, tid))) => return Ok(Some(tid)),
                    (pid, None) => {
                        if let Some(p) = self.summary(pid)? {
                            return Ok(Some(p.thread_id));
                        }
                    }
                }
            }
        }
        // Subject fallback only for replies/forwards ("Re: x"): two customers
        // writing "Refund request" are two conversations, not one.
        let is_reply =
            crate::mail::thread::normalize_subject(&s.subject) != s.subject.trim().to_lowercase();
        if is_reply && let Some(k) = thread_key(&s.subject) {
            if let Some(t) = batch_subjects.get(&k) {
                return Ok(Some(*t));
            }
            if let Some(v) = self.tree.get(&k)? {
                return Ok(Some(keys::read_u64(&v)));
            }
        }
        Ok(None)
    }

    /// Mails in a thread that exists; a thread without a size row is its
    /// root alone (sizes are written from two mails on).
    pub fn thread_size(&self, thread_id: u64) -> Result<u64> {
        Ok(self
            .tree
            .get(keys::with_id(keys::THREAD_SIZE, thread_id))?
            .map_or(1, |v| keys::read_u64(&v)))
    }

    /// Store bodies fetched after their summaries (mails with no row are skipped).
    pub fn put_bodies(&self, bodies: Vec<(u64, Vec<u8>)>) -> Result<()> {
        let _g = self.lock();
        let mut rows = BTreeMap::new();
        for (id, _) in &bodies {
            if let Some(row) = self.message_row(*id)? {
                rows.insert(*id, row);
            }
        }
        self.write_bodies_then_index(sled::Batch::default(), rows, bodies)
    }

    /// A mail's whole row: summary, body place, locations and links.
    pub(crate) fn message_row(&self, id: u64) -> Result<Option<MessageRow>> {
        match self.tree.get(keys::with_id(keys::MESSAGE, id))? {
            Some(v) => Ok(Some(MessageRow::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Rewrite a mail's row in place; the caller holds the write lock.
    pub(crate) fn put_message_row(&self, id: u64, row: &MessageRow) -> Result<()> {
        self.tree
            .insert(keys::with_id(keys::MESSAGE, id), row.encode()?)?;
        Ok(())
    }

    pub fn summary(&self, id: u64) -> Result<Option<MessageSummary>> {
        match self.tree.get(keys::with_id(keys::MESSAGE, id))? {
            Some(v) => Ok(Some(decode(message_row::summary_bytes(&v)?)?)),
            None => Ok(None),
        }
    }

    /// Store the whole source of a mail imported as headers only.
    pub fn put_whole_body(&self, id: u64, raw: &[u8]) -> Result<()> {
        let _g = self.lock();
        let Some(mut row) = self.message_row(id)? else {
            return Ok(());
        };
        let mut s = row.summary()?;
        s.body_cut = false;
        row.set_summary(&s)?;
        let rows = BTreeMap::from([(id, row)]);
        self.write_bodies_then_index(sled::Batch::default(), rows, vec![(id, raw.to_vec())])
    }

    /// Replace a mail's summary; its body place, locations and links stay.
    pub fn update_summary(&self, s: &MessageSummary) -> Result<()> {
        let _g = self.lock();
        let mut row: MessageRow = self.message_row(s.id)?.unwrap_or_default();
        row.set_summary(s)?;
        self.put_message_row(s.id, &row)
    }

    pub fn body(&self, id: u64) -> Result<Option<Vec<u8>>> {
        let Some(v) = self.tree.get(keys::with_id(keys::MESSAGE, id))? else {
            return Ok(None);
        };
        let Some(loc) = message_row::body_place(&v)? else {
            return Ok(None);
        };
        self.segments
            .read(&loc)
            .map(Some)
            .map_err(|e| self.io_error(e))
    }

    pub fn has_body(&self, id: u64) -> Result<bool> {
        Ok(match self.tree.get(keys::with_id(keys::MESSAGE, id))? {
            Some(v) => message_row::body_place(&v)?.is_some(),
            None => false,
        })
    }

    pub fn id_by_message_id(&self, message_id: &str) -> Result<Option<u64>> {
        Ok(self
            .tree
            .get(keys::msgid(message_id))?
            .map(|v| keys::read_u64(&v)))
    }

    /// The message id at (folder, uidvalidity, uid), if known.
    pub fn id_by_uid(
        &self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uid: u32,
    ) -> Result<Option<u64>> {
        Ok(self
            .tree
            .get(keys::uid_map(account, folder, uidvalidity, uid))?
            .map(|v| keys::read_u64(&v)))
    }

    /// Every known UID of a folder under `uidvalidity`, ascending.
    pub fn known_uids(
        &self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> Result<Vec<(u32, u64)>> {
        let mut prefix = keys::folder_prefix(keys::UID_MAP, account, folder);
        prefix.extend_from_slice(&uidvalidity.to_be_bytes());
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(&prefix) {
            let (k, v) = item?;
            let uid = keys::read_u64(&[&[0u8; 4][..], &k[k.len() - 4..]].concat()) as u32;
            out.push((uid, keys::read_u64(&v)));
        }
        Ok(out)
    }

    /// Up to `n` rows of a folder, newest first, after `after` (exclusive).
    pub fn page(
        &self,
        account: &str,
        folder: &str,
        after: Option<&[u8]>,
        n: usize,
    ) -> Result<Vec<ListRow>> {
        let prefix = keys::folder_prefix(keys::FOLDER_INDEX, account, folder);
        let end = keys::prefix_end(&prefix);
        let iter = match after {
            Some(k) => {
                let mut start = k.to_vec();
                start.push(0);
                self.tree.range(start..end)
            }
            None => self.tree.range(prefix..end),
        };
        self.rows(iter.take(n))
    }

    /// Up to `n` rows starting at `at` (inclusive).
    pub fn page_at(
        &self,
        account: &str,
        folder: &str,
        at: &[u8],
        n: usize,
    ) -> Result<Vec<ListRow>> {
        let prefix = keys::folder_prefix(keys::FOLDER_INDEX, account, folder);
        let end = keys::prefix_end(&prefix);
        let start = if at.starts_with(&prefix) {
            at.to_vec()
        } else {
            prefix
        };
        self.rows(self.tree.range(start..end).take(n))
    }

    /// Up to `n` rows before `before` (exclusive; `None` = from the end), in display order.
    pub fn page_before(
        &self,
        account: &str,
        folder: &str,
        before: Option<&[u8]>,
        n: usize,
    ) -> Result<Vec<ListRow>> {
        let prefix = keys::folder_prefix(keys::FOLDER_INDEX, account, folder);
        let end = match before {
            Some(k) => k.to_vec(),
            None => keys::prefix_end(&prefix),
        };
        let mut rows = self.rows(self.tree.range(prefix..end).rev().take(n))?;
        rows.reverse();
        Ok(rows)
    }

    /// Whether a folder row is the newest mail of its thread in that folder.
    pub fn is_thread_head(&self, account: &str, folder: &str, row: &ListRow) -> Result<bool> {
        let mut prefix = keys::folder_prefix(keys::THREAD_MEMBER, account, folder);
        prefix.extend_from_slice(&row.summary.thread_id.to_be_bytes());
        match self.tree.scan_prefix(&prefix).keys().next() {
            Some(k) => Ok(keys::id_of_folder_index(&k?) == row.summary.id),
            None => Ok(true),
        }
    }

    /// Like `page`/`page_before`, but one row per thread (its newest mail).
    pub fn thread_page(
        &self,
        account: &str,
        folder: &str,
        from: Option<&[u8]>,
        forward: bool,
        n: usize,
    ) -> Result<Vec<ListRow>> {
        let mut out = Vec::new();
        let mut cursor = from.map(<[u8]>::to_vec);
        while out.len() < n {
            let batch = if forward {
                self.page(account, folder, cursor.as_deref(), 64)?
            } else {
                self.page_before(account, folder, cursor.as_deref(), 64)?
            };
            if batch.is_empty() {
                break;
            }
            cursor = if forward {
                batch.last().map(|r| r.key.clone())
            } else {
                batch.first().map(|r| r.key.clone())
            };
            let iter: Box<dyn Iterator<Item = ListRow>> = if forward {
                Box::new(batch.into_iter())
            } else {
                Box::new(batch.into_iter().rev())
            };
            for row in iter {
                if self.is_thread_head(account, folder, &row)? {
                    out.push(row);
                    if out.len() == n {
                        break;
                    }
                }
            }
        }
        if !forward {
            out.reverse();
        }
        Ok(out)
    }

    fn rows(
        &self,
        iter: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    ) -> Result<Vec<ListRow>> {
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = item?;
            let id = keys::id_of_folder_index(&k);
            let Some(summary) = self.summary(id)? else {
                continue;
            };
            let thread_size = self.thread_size(summary.thread_id)?;
            out.push(ListRow {
                key: k.to_vec(),
                entry: decode(&v)?,
                summary,
                thread_size,
            });
        }
        Ok(out)
    }

    pub fn folder_state(&self, account: &str, folder: &str) -> Result<Option<FolderState>> {
        match self.tree.get(keys::folder_state(account, folder))? {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    pub fn put_folder_state(&self, account: &str, st: &FolderState) -> Result<()> {
        let _g = self.lock();
        self.tree
            .insert(keys::folder_state(account, &st.name), encode(st)?)?;
        Ok(())
    }

    /// Accounts and their folders as stored, in key order.
    pub fn folders_by_account(&self) -> Result<Vec<(String, Vec<FolderState>)>> {
        let mut out: Vec<(String, Vec<FolderState>)> = Vec::new();
        for item in self.tree.scan_prefix([keys::FOLDER_STATE]) {
            let (k, v) = item?;
            let rest = &k[1..];
            let account = rest
                .split(|b| *b == 0)
                .next()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .unwrap_or_default();
            let st: FolderState = decode(&v)?;
            match out.last_mut() {
                Some((a, list)) if *a == account => list.push(st),
                _ => out.push((account, vec![st])),
            }
        }
        Ok(out)
    }

    /// All locations of a message.
    pub fn locations(&self, id: u64) -> Result<Vec<Location>> {
        Ok(self
            .message_row(id)?
            .map(|r| r.locations)
            .unwrap_or_default())
    }

    /// Set the flags of one location; keeps the folder's unread counter right.
    pub fn set_flags(
        &self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uid: u32,
        new_flags: u8,
    ) -> Result<bool> {
        let _g = self.lock();
        let Some(v) = self
            .tree
            .get(keys::uid_map(account, folder, uidvalidity, uid))?
        else {
            return Ok(false);
        };
        let id = keys::read_u64(&v[..8]);
        let date = keys::read_u64(&v[8..]) as i64;
        let fkey = keys::folder_index(account, folder, date, id);
        let old: FolderEntry = match self.tree.get(&fkey)? {
            Some(v) => decode(&v)?,
            None => return Ok(false),
        };
        if old.flags == new_flags {
            return Ok(false);
        }
        let mut batch = sled::Batch::default();
        batch.insert(
            fkey,
            encode(&FolderEntry {
                uid,
                flags: new_flags,
            })?,
        );
        if let Some(mut st) = self.folder_state(account, folder)? {
            let was_unread = old.flags & flags::SEEN == 0;
            let is_unread = new_flags & flags::SEEN == 0;
            if was_unread && !is_unread {
                st.unread = st.unread.saturating_sub(1);
            } else if !was_unread && is_unread {
                st.unread += 1;
            }
            batch.insert(keys::folder_state(account, folder), encode(&st)?);
        }
        self.tree.apply_batch(batch)?;
        Ok(true)
    }

    /// The flags a location has now.
    pub fn flags_of(&self, account: &str, folder: &str, id: u64) -> Result<Option<(Location, u8)>> {
        let Some(row) = self.message_row(id)? else {
            return Ok(None);
        };
        let Some(loc) = row.location(account, folder).cloned() else {
            return Ok(None);
        };
        let s = row.summary()?;
        let fkey = keys::folder_index(account, folder, s.date, id);
        let e: FolderEntry = match self.tree.get(fkey)? {
            Some(v) => decode(&v)?,
            None => return Ok(None),
        };
        Ok(Some((loc, e.flags)))
    }

    /// Forget one location (expunged on the server). The mail record and its
    /// links stay, so a copy found later reattaches to them.
    pub fn remove_location(
        &self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uid: u32,
    ) -> Result<bool> {
        let _g = self.lock();
        let ukey = keys::uid_map(account, folder, uidvalidity, uid);
        let Some(v) = self.tree.get(&ukey)? else {
            return Ok(false);
        };
        let id = keys::read_u64(&v[..8]);
        let date = keys::read_u64(&v[8..]) as i64;
        let fkey = keys::folder_index(account, folder, date, id);
        let mut batch = sled::Batch::default();
        if let Some(mut row) = self.message_row(id)? {
            let s = row.summary()?;
            batch.remove(keys::thread_member(account, folder, s.thread_id, date, id));
            if row.remove_location(account, folder) {
                batch.insert(keys::with_id(keys::MESSAGE, id), row.encode()?);
            }
        }
        if let Some(old) = self.tree.get(&fkey)?
            && let Some(mut st) = self.folder_state(account, folder)?
        {
            let e: FolderEntry = decode(&old)?;
            st.total = st.total.saturating_sub(1);
            if e.flags & flags::SEEN == 0 {
                st.unread = st.unread.saturating_sub(1);
            }
            batch.insert(keys::folder_state(account, folder), encode(&st)?);
        }
        batch.remove(fkey);
        batch.remove(ukey);
        self.tree.apply_batch(batch)?;
        Ok(true)
    }

    /// Into `batch`: the removal of a folder's locations, index, UID map and
    /// thread membership (mails and their links stay).
    pub(crate) fn forget_folder_locations(
        &self,
        batch: &mut sled::Batch,
        account: &str,
        folder: &str,
    ) -> Result<()> {
        for item in self
            .tree
            .scan_prefix(keys::folder_prefix(keys::FOLDER_INDEX, account, folder))
        {
            let (k, _) = item?;
            let id = keys::id_of_folder_index(&k);
            if let Some(mut row) = self.message_row(id)?
                && row.remove_location(account, folder)
            {
                batch.insert(keys::with_id(keys::MESSAGE, id), row.encode()?);
            }
            batch.remove(k);
        }
        for tag in [keys::UID_MAP, keys::THREAD_MEMBER] {
            for item in self
                .tree
                .scan_prefix(keys::folder_prefix(tag, account, folder))
            {
                let (k, _) = item?;
                batch.remove(k);
            }
        }
        Ok(())
    }

    /// Drop every location of a folder (UIDVALIDITY changed); records and links stay.
    pub fn reset_folder(&self, account: &str, folder: &str) -> Result<()> {
        let _g = self.lock();
        let mut batch = sled::Batch::default();
        self.forget_folder_locations(&mut batch, account, folder)?;
        if let Some(mut st) = self.folder_state(account, folder)? {
            st.uidvalidity = 0;
            st.uidnext = 0;
            st.highestmodseq = 0;
            st.total = 0;
            st.unread = 0;
            batch.insert(keys::folder_state(account, folder), encode(&st)?);
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// Ids of a folder's messages whose body is not stored yet, newest first.
    pub fn missing_bodies(
        &self,
        account: &str,
        folder: &str,
        limit: usize,
    ) -> Result<Vec<(u64, u32)>> {
        let mut out = Vec::new();
        for item in self
            .tree
            .scan_prefix(keys::folder_prefix(keys::FOLDER_INDEX, account, folder))
        {
            let (k, v) = item?;
            let id = keys::id_of_folder_index(&k);
            if !self.has_body(id)? {
                let e: FolderEntry = decode(&v)?;
                out.push((id, e.uid));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Move a mail between folders of an account in the store alone (the
    /// demo desk, which has no server). Keeps its flags; gives it the next UID.
    pub fn relocate(&self, account: &str, from: &str, id: u64, to: &str) -> Result<bool> {
        let Some((loc, f)) = self.flags_of(account, from, id)? else {
            return Ok(false);
        };
        let Some(summary) = self.summary(id)? else {
            return Ok(false);
        };
        self.remove_location(account, from, loc.uidvalidity, loc.uid)?;
        let st = self.folder_state(account, to)?.unwrap_or_default();
        let uidvalidity = if st.uidvalidity == 0 {
            1
        } else {
            st.uidvalidity
        };
        let uid = self
            .known_uids(account, to, uidvalidity)?
            .last()
            .map(|(u, _)| u + 1)
            .unwrap_or(1)
            .max(st.uidnext);
        self.ingest(
            vec![NewMail {
                account: account.into(),
                folder: to.into(),
                uidvalidity,
                uid,
                flags: f,
                summary,
                raw: None,
            }],
            Some((
                account,
                FolderState {
                    name: to.into(),
                    uidvalidity,
                    uidnext: uid + 1,
                    ..st
                },
            )),
        )?;
        Ok(true)
    }
}
