//! What the desk's events change on screen: folders and rows pulled again,
//! the rendered mail, links, sync state, overlays refreshed, messages.

use super::{App, Overlay};
use crate::protocol::{Command, DeskClient, Event};

impl App {
    pub fn handle_event(&mut self, desk: &dyn DeskClient, event: Event) -> Vec<Command> {
        if matches!(event, Event::RecordsChanged) {
            // Sent once per burst of stored mail and per changed record: new
            // mail and changed cases move the queue and the dashboard.
            self.refresh_cases(desk);
        }
        match event {
            Event::FolderChanged { account, folder } => {
                self.reload_folders(desk);
                let cmds = self.settle_position(desk);
                if !cmds.is_empty() {
                    return cmds;
                }
                if account == self.list.account && folder == self.list.folder {
                    return self.refresh_list(desk);
                }
                vec![]
            }
            Event::Rendered { id, mail } => {
                if self.reader.id == Some(id) {
                    self.reader.mail = Some(mail);
                    self.jump_to_pending_hit();
                }
                vec![]
            }
            Event::SearchUpdated => self.search_updated(desk),
            Event::LinksChanged { id } => {
                if self.reader.id == Some(id) {
                    let links = desk.links_of(id);
                    self.records.records = self.ask(links);
                    self.records.cursor = self
                        .records
                        .cursor
                        .min(self.records.records.len().saturating_sub(1));
                }
                vec![]
            }
            Event::Sync { account, state } => {
                // A sync error also arrives as an Error event from the desk.
                self.status.sync.insert(account, state);
                vec![]
            }
            Event::NewMail {
                account,
                folder,
                count,
            } => {
                self.status.new_mail += count;
                self.bell = true;
                self.notice(format!("{count} new mail in {account}/{folder}"));
                self.reload_folders(desk);
                let cmds = self.settle_position(desk);
                if !cmds.is_empty() {
                    return cmds;
                }
                if account == self.list.account && folder == self.list.folder {
                    return self.refresh_list(desk);
                }
                vec![]
            }
            Event::RecordsChanged => {
                if let Some(id) = self.reader.id {
                    let links = desk.links_of(id);
                    self.records.records = self.ask(links);
                    self.records.cursor = self
                        .records
                        .cursor
                        .min(self.records.records.len().saturating_sub(1));
                }
                match &self.overlay {
                    Some(Overlay::Notifications(_)) => {
                        let fresh = desk.notifications();
                        let fresh = self.ask(fresh);
                        if let Some(Overlay::Notifications(list)) = &mut self.overlay {
                            list.set_items(fresh);
                        }
                    }
                    Some(Overlay::Trash(_)) => {
                        let fresh = desk.deleted_records();
                        let fresh = self.ask(fresh);
                        if let Some(Overlay::Trash(list)) = &mut self.overlay {
                            list.set_items(fresh);
                        }
                    }
                    _ => {}
                }
                vec![]
            }
            Event::OutboxChanged => {
                if matches!(self.overlay, Some(Overlay::Outbox(_))) {
                    let fresh = desk.outbox_entries();
                    let fresh = self.ask(fresh);
                    if let Some(Overlay::Outbox(list)) = &mut self.overlay {
                        list.set_items(fresh);
                    }
                }
                vec![]
            }
            Event::Error(e) => {
                self.error(e);
                vec![]
            }
            Event::Notice(n) => {
                self.notice(n);
                vec![]
            }
            Event::DraftsFound { count } => {
                let drafts = desk.drafts();
                let drafts = self.ask(drafts);
                if self.overlay.is_none() && !drafts.is_empty() {
                    self.overlay = Some(Overlay::Drafts(super::PickList::new(drafts)));
                } else {
                    self.notice(format!(
                        "{count} draft(s) written elsewhere were found on the server; \
                         they are offered at the next start."
                    ));
                }
                vec![]
            }
            Event::AccountTested { account, steps } => {
                self.account_tested(account, steps);
                vec![]
            }
            Event::Attached(text) => {
                self.status.attached = Some(text);
                vec![]
            }
            Event::FoldersChanged { .. } => {
                self.reload_folders(desk);
                let wanted = self
                    .folder_wanted
                    .clone()
                    .and_then(|(a, n)| self.folder_index(&a, &n));
                if let Some(i) = wanted {
                    self.folder_cursor = i;
                    self.folder_wanted = None;
                }
                if self
                    .folder_index(&self.list.account, &self.list.folder)
                    .is_none()
                {
                    // The open folder was renamed (open it under its new
                    // name) or deleted (go to another).
                    if wanted.is_some() {
                        return self.open_folder(desk);
                    }
                    self.list.account.clear();
                    return self.settle_position(desk);
                }
                vec![]
            }
            Event::AccountError { message, .. } => {
                self.error(message);
                vec![]
            }
        }
    }
}

/// Fuzzy-rank `items` by `key` against `pattern` (all items when empty).
pub fn fuzzy_filter<T>(pattern: &str, items: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<T> {
    use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
    use nucleo_matcher::{Config, Matcher, Utf32Str};
    if pattern.trim().is_empty() {
        return items;
    }
    let mut matcher = Matcher::new(Config::DEFAULT);
    let pat = Pattern::parse(pattern, CaseMatching::Ignore, Normalization::Smart);
    let mut buf = Vec::new();
    let mut scored: Vec<(u32, T)> = items
        .into_iter()
        .filter_map(|it| {
            let s = pat.score(Utf32Str::new(key(&it), &mut buf), &mut matcher)?;
            Some((s, it))
        })
        .collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    scored.into_iter().map(|(_, t)| t).collect()
}
