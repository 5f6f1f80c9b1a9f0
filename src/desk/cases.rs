//! The desk's side of the case queue and the triage dashboard: cases as
//! queue rows (customer, waiting since, first response), a case's mails,
//! the dashboard's figures, and the queue's take / assign / status changes.

use super::Desk;
use crate::protocol::{
    CaseRow, Dashboard, DashboardQuery, DeskError, Event, ListRow, PageCursor, SearchHit,
};
use crate::store::{FolderEntry, MailStatus, Record, RecordKind, StoreError};
use std::collections::{BTreeMap, HashSet};

/// Rows of one folder read per step while counting the last day's mail.
const STEP: usize = 200;

fn failed(what: &str, e: impl std::fmt::Display) -> DeskError {
    let msg = crate::mail::sanitize::sanitize_line(&format!("{what}: {e}"));
    tracing::error!("{msg}");
    DeskError(msg)
}

impl Desk {
    /// The account a case belongs to: its own field, else its first mail's.
    pub fn case_account(&self, case: &Record) -> Result<Option<String>, StoreError> {
        if let Some(a) = case.field("account").filter(|a| !a.is_empty()) {
            return Ok(Some(a.to_string()));
        }
        for id in self.store.messages_of(case.reference())? {
            if let Some(l) = self.store.locations(id)?.into_iter().next() {
                return Ok(Some(l.account));
            }
        }
        Ok(None)
    }

    fn case_row(&self, r: Record) -> Result<CaseRow, StoreError> {
        let mails = self.store.messages_of(r.reference())?;
        let mut last_in: Option<i64> = r
            .field(crate::crm::cases::LAST_CUSTOMER_MAIL)
            .and_then(|t| t.parse().ok());
        let mut first_sender: Option<(i64, String, String)> = None;
        if last_in.is_none() || r.field("email").is_none() {
            for id in &mails {
                let Some(m) = self.store.summary(*id)? else {
                    continue;
                };
                if m.status != MailStatus::Archived {
                    continue;
                }
                last_in = Some(last_in.map_or(m.date, |t| t.max(m.date)));
                if first_sender.as_ref().is_none_or(|f| m.date < f.0)
                    && let Some(p) = m.from.first()
                {
                    first_sender = Some((m.date, p.name.clone(), p.email.clone()));
                }
            }
        }
        let contact = match r.parent {
            Some((RecordKind::Contact, id)) => self.store.record(RecordKind::Contact, id)?,
            _ => None,
        };
        let email = r
            .field("email")
            .map(str::to_string)
            .or_else(|| contact.as_ref().and_then(|c| c.emails.first().cloned()))
            .or_else(|| first_sender.as_ref().map(|f| f.2.clone()))
            .unwrap_or_default();
        let customer = contact
            .as_ref()
            .map(|c| c.name.clone())
            .or_else(|| {
                first_sender
                    .as_ref()
                    .map(|f| f.1.clone())
                    .filter(|n| !n.trim().is_empty())
            })
            .unwrap_or_else(|| email.clone());
        Ok(CaseRow {
            number: r.field("number").and_then(|n| n.parse().ok()).unwrap_or(0),
            account: self.case_account(&r)?.unwrap_or_default(),
            assignee: r.field("assignee").unwrap_or("").trim().to_string(),
            status: r.field("status").unwrap_or("New").to_string(),
            opened: r.created,
            first_response_secs: self.store.first_response_secs(r.reference())?,
            last_customer_mail: last_in,
            mails: mails.len(),
            customer,
            email,
            record: r,
        })
    }

    /// Every case not in the trash whose account `sees` lets through.
    pub fn case_rows(&self, sees: &dyn Fn(&str) -> bool) -> Result<Vec<CaseRow>, DeskError> {
        let all = self
            .store
            .records(RecordKind::Case)
            .map_err(|e| failed("Could not read the cases", e))?;
        let mut out = Vec::new();
        for r in all.into_iter().filter(|r| !r.deleted) {
            let row = self
                .case_row(r)
                .map_err(|e| failed("Could not read a case", e))?;
            if row.account.is_empty() || sees(&row.account) {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// The mails of case `id`, oldest first, each where it is stored first.
    pub fn case_mail_hits(&self, id: u64) -> Result<Vec<SearchHit>, DeskError> {
        let read = |e| failed("Could not read the case's mail", e);
        let mut hits = Vec::new();
        for m in self
            .store
            .messages_of((RecordKind::Case, id))
            .map_err(read)?
        {
            let Some(summary) = self.store.summary(m).map_err(read)? else {
                continue;
            };
            let Some(place) = self.store.locations(m).map_err(read)?.into_iter().next() else {
                continue;
            };
            let flags = self
                .store
                .flags_of(&place.account, &place.folder, m)
                .map_err(read)?
                .map_or(0, |(_, f)| f);
            hits.push(SearchHit {
                row: ListRow {
                    cursor: PageCursor::from_key(m.to_be_bytes().to_vec()),
                    entry: FolderEntry { uid: 0, flags },
                    summary,
                    thread_size: 1,
                },
                account: place.account,
                folder: place.folder,
            });
        }
        hits.sort_by_key(|h| (h.row.summary.date, h.row.summary.id));
        Ok(hits)
    }

    /// The dashboard over the accounts `sees` lets through.
    pub fn dashboard_for(
        &self,
        q: &DashboardQuery,
        sees: &dyn Fn(&str) -> bool,
    ) -> Result<Dashboard, DeskError> {
        let cases = self.case_rows(sees)?;
        let mut d = Dashboard::default();
        let mut open: BTreeMap<String, u64> = BTreeMap::new();
        for c in cases.iter().filter(|c| c.is_open()) {
            *open.entry(c.assignee.to_lowercase()).or_default() += 1;
        }
        for (email, name) in self.team_agents() {
            let n = open.remove(&email).unwrap_or(0);
            d.open_by_agent.push((email, name, n));
        }
        let unassigned = open.remove("").unwrap_or(0);
        // Assignees outside the configured agents still count.
        for (email, n) in open {
            d.open_by_agent.push((email.clone(), email, n));
        }
        d.open_by_agent
            .push((String::new(), "unassigned".into(), unassigned));

        d.oldest_unanswered = cases
            .iter()
            .filter(|c| c.is_open() && c.first_response_secs.is_none())
            .min_by_key(|c| (c.waiting_since(), c.number))
            .cloned();
        let mut today: Vec<i64> = cases
            .iter()
            .filter_map(|c| {
                let secs = c.first_response_secs?;
                let first_in = self.first_customer_mail(c)?;
                (first_in + secs >= q.day_start && first_in + secs <= q.now).then_some(secs)
            })
            .collect();
        today.sort_unstable();
        d.answered_today = today.len();
        d.first_response_median_today = match today.len() {
            0 => None,
            n if n % 2 == 1 => Some(today[n / 2]),
            n => Some((today[n / 2 - 1] + today[n / 2]) / 2),
        };
        d.incoming_per_hour = self
            .incoming_per_hour(q.now, sees)
            .map_err(|e| failed("Could not count the last day's mail", e))?;
        Ok(d)
    }

    fn first_customer_mail(&self, c: &CaseRow) -> Option<i64> {
        let ids = self.store.messages_of(c.record.reference()).ok()?;
        ids.into_iter()
            .filter_map(|id| self.store.summary(id).ok().flatten())
            .filter(|m| m.status == MailStatus::Archived)
            .map(|m| m.date)
            .min()
    }

    /// Mail received per hour in the 24 hours before `now`, oldest first;
    /// sent, draft, trash and junk folders do not count.
    fn incoming_per_hour(
        &self,
        now: i64,
        sees: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<u64>, StoreError> {
        let from = now - 24 * 3600;
        let mut hours = vec![0u64; 24];
        let mut seen: HashSet<u64> = HashSet::new();
        for (account, folders) in self.store.folders_by_account()? {
            if !sees(&account) {
                continue;
            }
            for f in folders.iter().filter(|f| {
                !matches!(
                    f.special_use.as_deref(),
                    Some("\\Sent" | "\\Drafts" | "\\Trash" | "\\Junk")
                )
            }) {
                let mut cursor: Option<Vec<u8>> = None;
                'pages: loop {
                    let rows = self
                        .store
                        .page(&account, &f.name, cursor.as_deref(), STEP)?;
                    let Some(last) = rows.last() else { break };
                    cursor = Some(last.key.clone());
                    for r in &rows {
                        // Newest first: the first older one ends the folder.
                        if r.summary.date < from {
                            break 'pages;
                        }
                        if r.summary.date < now
                            && r.summary.status == MailStatus::Archived
                            && seen.insert(r.summary.id)
                        {
                            let h = usize::try_from((r.summary.date - from) / 3600).unwrap_or(0);
                            if let Some(slot) = hours.get_mut(h) {
                                *slot += 1;
                            }
                        }
                    }
                    if rows.len() < STEP {
                        break;
                    }
                }
            }
        }
        Ok(hours)
    }

    /// The newest mail of case `id`, if it has one.
    pub(super) fn latest_case_mail(&self, id: u64) -> Option<crate::store::MessageSummary> {
        let ids = self.store.messages_of((RecordKind::Case, id)).ok()?;
        ids.into_iter()
            .filter_map(|m| self.store.summary(m).ok().flatten())
            .max_by_key(|m| (m.date, m.id))
    }

    /// The agents cases go to, as (address, name).
    pub fn team_agents(&self) -> Vec<(String, String)> {
        crate::crm::cases::desk_agents(&self.config, None)
    }

    /// Take, assign, set the status of or close a case from the queue.
    pub(super) fn update_case(&self, id: u64, assignee: Option<String>, status: Option<String>) {
        let mut r = match self.store.record(RecordKind::Case, id) {
            Ok(Some(r)) if !r.deleted => r,
            Ok(_) => {
                return self.emit(Event::Error(
                    "That case is gone (deleted elsewhere); the queue is read again.".into(),
                ));
            }
            Err(e) => return self.fail("Could not read the case", e),
        };
        let mut said = Vec::new();
        if let Some(a) = assignee {
            let a = a.trim().to_lowercase();
            if a.is_empty() {
                r.fields.remove("assignee");
                said.push("unassigned".to_string());
            } else {
                said.push(format!("assigned to {a}"));
                r.fields.insert("assignee".into(), a);
                if status.is_none() && r.field("status").is_none_or(|s| s == "New") {
                    r.fields.insert("status".into(), "Assigned".into());
                }
            }
        }
        if let Some(s) = status {
            said.push(format!("now {s}"));
            r.fields.insert("status".into(), s);
        }
        match self.store.put_record(r) {
            Ok(r) => {
                self.emit(Event::RecordsChanged);
                self.emit(Event::Notice(crate::mail::sanitize::sanitize_line(
                    &format!("Case {}: {}.", r.title(), said.join(", ")),
                )));
            }
            Err(e) => self.fail("Could not save the case", e),
        }
    }
}
