//! The Desk's answers to the screen's queries (`DeskClient`): small reads that
//! touch only the rows asked for, each failure reported as a `DeskError`.
//! Also the agent's own files (identities, templates, attachments).

use super::{Command, Desk, sort_folders};
use crate::config::Config;
use crate::config::identities::ComposeSettings;
use crate::protocol::{
    AccountFolders, AttachmentSource, DeskClient, DeskError, DeskResult, ListRow, PageCursor,
    PageFrom, PageQuery, TemplateContext,
};
use crate::store::drafts::StoredDraft;
use crate::store::notifications::Notification;
use crate::store::{HistoryItem, MessageSummary, OutboxEntry, Record, RecordKind, RecordRef};
use std::path::Path;

/// A failed read in plain words, logged once here.
fn failed(what: &str, e: impl std::fmt::Display) -> DeskError {
    let msg = crate::mail::sanitize::sanitize_line(&format!("{what}: {e}"));
    tracing::error!("{msg}");
    DeskError(msg)
}

fn view(rows: Vec<crate::store::ListRow>) -> Vec<ListRow> {
    rows.into_iter()
        .map(|r| ListRow {
            cursor: PageCursor::from_key(r.key),
            entry: r.entry,
            summary: r.summary,
            thread_size: r.thread_size,
        })
        .collect()
}

impl Desk {
    fn store_page(&self, q: &PageQuery) -> crate::store::Result<Vec<crate::store::ListRow>> {
        let s = &self.store;
        let (a, f, n) = (q.account.as_str(), q.folder.as_str(), q.n);
        let cursor = q.cursor.as_ref().map(PageCursor::key);
        match (q.from, q.collapsed) {
            (PageFrom::After, false) => s.page(a, f, cursor, n),
            (PageFrom::After, true) => s.thread_page(a, f, cursor, true, n),
            (PageFrom::Before, false) => s.page_before(a, f, cursor, n),
            (PageFrom::Before, true) => s.thread_page(a, f, cursor, false, n),
            (PageFrom::At, _) => {
                let Some(at) = cursor else {
                    return self.store_page(&PageQuery {
                        from: PageFrom::After,
                        ..q.clone()
                    });
                };
                let mut rows = s.page_at(a, f, at, 1)?;
                if q.collapsed {
                    let mut heads = Vec::new();
                    for r in rows {
                        if s.is_thread_head(a, f, &r)? {
                            heads.push(r);
                        }
                    }
                    rows = heads;
                }
                let more = n.saturating_sub(rows.len());
                rows.extend(self.store_page(&PageQuery {
                    from: PageFrom::After,
                    n: more,
                    ..q.clone()
                })?);
                rows.truncate(n);
                Ok(rows)
            }
        }
    }
}

impl DeskClient for Desk {
    fn search(
        &self,
        q: &crate::protocol::SearchQuery,
    ) -> DeskResult<crate::protocol::SearchAnswer> {
        self.search_answer(q)
    }

    fn send(&self, cmd: Command) {
        match self.me.upgrade() {
            Some(me) => me.send(cmd),
            None => tracing::warn!("a command arrived while the desk was shutting down"),
        }
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn folders(&self) -> DeskResult<Vec<AccountFolders>> {
        let stored = self
            .store
            .folders_by_account()
            .map_err(|e| failed("Could not read the folders", e))?;
        Ok(self
            .config
            .accounts
            .iter()
            .map(|a| AccountFolders {
                account: a.name.clone(),
                group: a.group,
                folders: stored
                    .iter()
                    .find(|(n, _)| *n == a.name)
                    .map(|(_, f)| {
                        let quiet = self.store.quiet_folders(&a.name).unwrap_or_default();
                        let mut f = sort_folders(f.clone());
                        for st in &mut f {
                            st.skip_notification |= quiet.contains(&st.name);
                        }
                        f
                    })
                    .unwrap_or_default(),
            })
            .collect())
    }

    fn page(&self, q: &PageQuery) -> DeskResult<Vec<ListRow>> {
        let hidden = self.snoozed_in(&q.account, &q.folder);
        if hidden.is_empty() {
            return self
                .store_page(q)
                .map(view)
                .map_err(|e| failed("Could not read the folder", e));
        }
        // Ask for as many more rows as can be hidden, then drop those.
        let wide = PageQuery {
            n: q.n.saturating_add(hidden.len()),
            ..q.clone()
        };
        let mut rows: Vec<ListRow> = self
            .store_page(&wide)
            .map(view)
            .map_err(|e| failed("Could not read the folder", e))?
            .into_iter()
            .filter(|r| !hidden.contains(&r.summary.id))
            .collect();
        if q.from == PageFrom::Before {
            let extra = rows.len().saturating_sub(q.n);
            rows.drain(..extra);
        } else {
            rows.truncate(q.n);
        }
        Ok(rows)
    }

    fn summary(&self, id: u64) -> DeskResult<Option<MessageSummary>> {
        self.store
            .summary(id)
            .map_err(|e| failed("Could not read the mail", e))
    }

    fn account_of(&self, id: u64) -> DeskResult<Option<String>> {
        let locs = self
            .store
            .locations(id)
            .map_err(|e| failed("Could not read where the mail is", e))?;
        Ok(locs.into_iter().next().map(|l| l.account))
    }

    fn raw_source(&self, id: u64) -> DeskResult<Option<String>> {
        let body = self
            .store
            .body(id)
            .map_err(|e| failed("Could not read the mail", e))?;
        Ok(body.map(|b| crate::mail::render::raw_source(&b)))
    }

    fn body_size(&self, id: u64) -> DeskResult<Option<u64>> {
        let body = self
            .store
            .body(id)
            .map_err(|e| failed("Could not read the mail", e))?;
        Ok(body.map(|b| b.len() as u64))
    }

    fn quote_lines(&self, id: u64) -> DeskResult<Option<Vec<String>>> {
        let body = self
            .store
            .body(id)
            .map_err(|e| failed("Could not read the mail", e))?;
        Ok(body.map(|raw| {
            crate::mail::render::render(&raw, &Default::default())
                .lines
                .into_iter()
                .map(|l| l.text)
                .collect()
        }))
    }

    fn special_folder(&self, account: &str, use_: &str) -> DeskResult<Option<String>> {
        let folders = self
            .store
            .folders_by_account()
            .map_err(|e| failed("Could not read the folders", e))?;
        Ok(folders
            .into_iter()
            .find(|(a, _)| a == account)
            .and_then(|(_, f)| {
                f.into_iter()
                    .find(|f| f.special_use.as_deref() == Some(use_))
            })
            .map(|f| f.name))
    }

    fn links_of(&self, id: u64) -> DeskResult<Vec<Record>> {
        self.store
            .links_of(id)
            .map_err(|e| failed("Could not read the linked records", e))
    }

    fn records(&self, kind: RecordKind) -> DeskResult<Vec<Record>> {
        self.store
            .records(kind)
            .map_err(|e| failed("Could not read the records", e))
    }

    fn record(&self, r: RecordRef) -> DeskResult<Option<Record>> {
        self.store
            .record(r.0, r.1)
            .map_err(|e| failed("Could not read the record", e))
    }

    fn children_of(&self, r: RecordRef) -> DeskResult<Vec<Record>> {
        self.store
            .children_of(r)
            .map_err(|e| failed("Could not read the related records", e))
    }

    fn history(&self, r: &Record) -> DeskResult<Vec<HistoryItem>> {
        crate::crm::history::history(&self.store, r)
            .map_err(|e| failed("Could not read the history", e))
    }

    fn notifications(&self) -> DeskResult<Vec<Notification>> {
        let mut v = self
            .store
            .notifications(&self.agent_name())
            .map_err(|e| failed("Could not read the notifications", e))?;
        v.reverse();
        Ok(v)
    }

    fn deleted_records(&self) -> DeskResult<Vec<Record>> {
        self.store
            .deleted_records()
            .map_err(|e| failed("Could not read the trash", e))
    }

    fn outbox_entries(&self) -> DeskResult<Vec<OutboxEntry>> {
        let mut v = self
            .store
            .outbox_entries()
            .map_err(|e| failed("Could not read the outbox", e))?;
        v.reverse();
        Ok(v)
    }

    fn drafts(&self) -> DeskResult<Vec<StoredDraft>> {
        self.store
            .drafts()
            .map_err(|e| failed("Could not read the drafts", e))
    }

    fn new_draft_id(&self) -> DeskResult<u64> {
        self.store
            .next_id()
            .map_err(|e| failed("Could not start a draft", e))
    }

    fn template_context(
        &self,
        parent: Option<u64>,
        to: Option<&str>,
    ) -> DeskResult<TemplateContext> {
        super::templates::template_context(self, parent, to)
            .map_err(|e| failed("Could not fill in the template", e))
    }

    fn compose_settings(&self) -> DeskResult<ComposeSettings> {
        super::local::compose_settings()
    }

    fn template_names(&self) -> DeskResult<Vec<String>> {
        super::local::template_names()
    }

    fn template_text(&self, name: &str) -> DeskResult<String> {
        super::local::template_text(name)
    }

    fn attachment_size(&self, path: &Path) -> DeskResult<u64> {
        super::local::attachment_size(path)
    }

    fn attachment_bytes(&self, source: &AttachmentSource) -> DeskResult<Vec<u8>> {
        match source {
            AttachmentSource::File(p) => super::local::file_bytes(p),
            AttachmentSource::Message(id) => {
                self.store.body(*id).ok().flatten().ok_or_else(|| {
                    DeskError("the forwarded mail's body is not downloaded yet".into())
                })
            }
        }
    }

    fn complete_path(&self, input: &str) -> (String, Vec<String>) {
        crate::config::files::complete_path(input)
    }

    fn flush(&self) -> DeskResult<()> {
        self.store
            .flush()
            .map(|_| ())
            .map_err(|e| failed("Could not write the desk to disk", e))
    }

    fn filters(&self, mail: Option<u64>) -> DeskResult<Vec<crate::protocol::FilterRow>> {
        use crate::crm::filters::{Filters, MailFacts};
        let all = Filters::from_config(&self.config);
        let m = match mail {
            Some(id) => self
                .store
                .summary(id)
                .map_err(|e| failed("Could not read the mail", e))?,
            None => None,
        };
        let account = match &m {
            Some(m) => self.account_of(m.id)?.unwrap_or_default(),
            None => String::new(),
        };
        let mut body = || {
            m.as_ref()
                .and_then(|m| self.store.body(m.id).ok().flatten())
                .and_then(|raw| {
                    mail_parser::MessageParser::default()
                        .parse(&raw)
                        .and_then(|p| p.body_text(0).map(|t| t.into_owned()))
                })
                .unwrap_or_default()
        };
        let facts = m.as_ref().map(|m| MailFacts {
            account: &account,
            from: m.from.iter().map(|p| p.email.as_str()).collect(),
            to: m
                .to
                .iter()
                .chain(m.cc.iter())
                .map(|p| p.email.as_str())
                .collect(),
            subject: &m.subject,
        });
        Ok(all
            .filters
            .iter()
            .map(|f| crate::protocol::FilterRow {
                name: f.config.name.clone(),
                account: f.account.clone(),
                action: f.action_text(),
                patterns: f.patterns_text(),
                matches: facts.as_ref().is_some_and(|x| f.matches(x, &mut body)),
            })
            .collect())
    }

    fn cases(&self) -> DeskResult<Vec<crate::protocol::CaseRow>> {
        self.case_rows(&|_| true)
    }

    fn case_mails(&self, case: u64) -> DeskResult<Vec<crate::protocol::SearchHit>> {
        self.case_mail_hits(case)
    }

    fn dashboard(
        &self,
        q: &crate::protocol::DashboardQuery,
    ) -> DeskResult<crate::protocol::Dashboard> {
        self.dashboard_for(q, &|_| true)
    }

    fn saved_position(&self) -> DeskResult<Option<(String, String)>> {
        let saved = self
            .store
            .setting(super::POSITION_SETTING)
            .map_err(|e| failed("Could not read where you left off", e))?;
        Ok(saved.and_then(|v| {
            v.split_once('\t')
                .map(|(a, f)| (a.to_string(), f.to_string()))
        }))
    }

    fn server_folders(&self, account: &str) -> DeskResult<Vec<crate::protocol::ServerFolder>> {
        Ok(self.known_folders(account))
    }
}
