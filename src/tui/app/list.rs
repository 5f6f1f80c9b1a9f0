//! The folder list and the message list window: which rows are on screen,
//! paging through a folder without loading it, and the selected mail.

use super::{App, FolderRow, ReaderView, RecordsView};
use crate::mail::render::RenderOptions;
use crate::protocol::{Command, DeskClient, ListRow, PageCursor, PageFrom, PageQuery};

impl App {
    /// Load folders and open where the agent left off; on a first start the
    /// first account's INBOX, shown as soon as its mail arrives.
    pub fn load(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        self.reload_folders(desk);
        let saved = desk.saved_position();
        let saved = self
            .ask(saved)
            .filter(|(a, f)| self.folder_index(a, f).is_some());
        match saved.or_else(|| self.default_position()) {
            Some((account, folder)) => self.go_to_folder(desk, account, folder),
            None => vec![],
        }
    }

    /// The row of `account/folder` in the folder pane.
    pub(super) fn folder_index(&self, account: &str, folder: &str) -> Option<usize> {
        self.folders.iter().position(|f| {
            matches!(f, FolderRow::Folder { account: a, name, .. } if a == account && name == folder)
        })
    }

    /// The first account's INBOX (even before its first sync lists it), else
    /// its first folder, else any folder.
    fn default_position(&self) -> Option<(String, String)> {
        let first_account = self.folders.iter().find_map(|f| match f {
            FolderRow::Account { name, .. } => Some(name.clone()),
            FolderRow::Folder { .. } => None,
        });
        if let Some(account) = first_account {
            let folder = self
                .inbox_or_first(&account)
                .unwrap_or_else(|| "INBOX".into());
            return Some((account, folder));
        }
        self.folders.iter().find_map(|f| match f {
            FolderRow::Folder { account, name, .. } => Some((account.clone(), name.clone())),
            FolderRow::Account { .. } => None,
        })
    }

    /// The account's INBOX if listed, else its first folder.
    fn inbox_or_first(&self, account: &str) -> Option<String> {
        self.folders
            .iter()
            .filter_map(|f| match f {
                FolderRow::Folder {
                    account: a, name, ..
                } if a == account => Some(name),
                _ => None,
            })
            .min_by_key(|n| !n.eq_ignore_ascii_case("INBOX"))
            .cloned()
    }

    /// Open `account/folder`; one not listed yet is waited for with an empty
    /// list, and its rows show as the sync brings them.
    fn go_to_folder(
        &mut self,
        desk: &dyn DeskClient,
        account: String,
        folder: String,
    ) -> Vec<Command> {
        if let Some(i) = self.folder_index(&account, &folder) {
            self.folder_cursor = i;
            return self.open_folder(desk);
        }
        if let Some(i) = self
            .folders
            .iter()
            .position(|f| matches!(f, FolderRow::Account { name, .. } if *name == account))
        {
            self.folder_cursor = i;
        }
        self.list.marks.clear();
        self.list.account = account;
        self.list.folder = folder;
        self.list.total = 0;
        self.list.rows.clear();
        self.list.cursor = 0;
        self.list.first_index = 0;
        self.selection_changed(desk)
    }

    /// After folders changed: keep the folder cursor on the open folder, and
    /// when that folder is still not listed but its account now has folders
    /// (a first sync that has no INBOX), open the account's default instead.
    pub(super) fn settle_position(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        if self.list.account.is_empty() {
            return match self.default_position() {
                Some((a, f)) => self.go_to_folder(desk, a, f),
                None => vec![],
            };
        }
        if let Some(i) = self.folder_index(&self.list.account, &self.list.folder) {
            self.folder_cursor = i;
            return vec![];
        }
        let has_folders = self.folders.iter().any(
            |f| matches!(f, FolderRow::Folder { account, .. } if *account == self.list.account),
        );
        if !has_folders || !self.list.rows.is_empty() {
            return vec![];
        }
        let account = self.list.account.clone();
        match self.inbox_or_first(&account) {
            Some(f) => self.go_to_folder(desk, account, f),
            None => vec![],
        }
    }

    pub fn reload_folders(&mut self, desk: &dyn DeskClient) {
        let mut rows = Vec::new();
        let folders = desk.folders();
        for a in self.ask(folders) {
            rows.push(FolderRow::Account {
                name: a.account.clone(),
                group: a.group,
            });
            for f in a.folders {
                rows.push(FolderRow::Folder {
                    account: a.account.clone(),
                    name: f.name,
                    unread: f.unread,
                    total: f.total,
                    quiet: f.skip_notification,
                });
            }
        }
        self.folders = rows;
        self.folder_cursor = self.folder_cursor.min(self.folders.len().saturating_sub(1));
        if self.list.view == super::View::All {
            self.list.total = self.folder_total();
        }
    }

    pub(super) fn folder_total(&self) -> u64 {
        self.folders
            .iter()
            .find_map(|f| match f {
                FolderRow::Folder {
                    account,
                    name,
                    total,
                    ..
                } if *account == self.list.account && *name == self.list.folder => Some(*total),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Show the folder under the folder cursor from its newest mail.
    pub(super) fn open_folder(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        let Some(FolderRow::Folder { account, name, .. }) =
            self.folders.get(self.folder_cursor).cloned()
        else {
            return vec![];
        };
        self.drop_search();
        let mut cmds = Vec::new();
        if self.list.account != account || self.list.folder != name {
            self.list.marks.clear();
            if !self.list.account.is_empty() {
                cmds.push(Command::RememberPosition {
                    account: account.clone(),
                    folder: name.clone(),
                });
            }
        }
        self.list.account = account;
        self.list.folder = name;
        self.list.total = self.folder_total();
        self.load_view(desk);
        self.list.rows = self.fetch(desk, PageFrom::After, None, self.list.height);
        self.list.cursor = 0;
        self.list.first_index = 0;
        cmds.extend(self.selection_changed(desk));
        cmds
    }

    /// The list area changed height: keep the top row, refill the window.
    pub fn resize_list(&mut self, desk: &dyn DeskClient, height: usize) -> Vec<Command> {
        let height = height.max(1);
        if height == self.list.height && !self.list.rows.is_empty() {
            return vec![];
        }
        self.list.height = height;
        self.refresh_list(desk)
    }

    /// Pull the visible rows again (after a change), keeping position.
    pub fn refresh_list(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        let selected = self.list.selected().map(|r| r.summary.id);
        self.load_view(desk);
        if self.list.first_index == 0 {
            // At the top, newer mail (a first sync filling in) shows above;
            // the selected mail stays selected while it is still on screen,
            // and a selection still on the first row follows the newest.
            let top = self.fetch(desk, PageFrom::After, None, self.list.height);
            let keeps = selected.is_none_or(|id| top.iter().any(|r| r.summary.id == id));
            if keeps || self.list.cursor == 0 {
                self.list.rows = top;
                self.list.cursor = selected
                    .and_then(|id| self.list.rows.iter().position(|r| r.summary.id == id))
                    .unwrap_or(0);
                if self.list.selected().map(|r| r.summary.id) != selected {
                    return self.selection_changed(desk);
                }
                return vec![];
            }
        }
        let first = self.list.rows.first().map(|r| r.cursor.clone());
        let from = if first.is_some() {
            PageFrom::At
        } else {
            PageFrom::After
        };
        self.list.rows = self.fetch(desk, from, first, self.list.height);
        if self.list.rows.len() < self.list.height && self.list.first_index > 0 {
            // The window ran past the end (rows went away): pull from the end.
            self.list.rows = self.fetch(desk, PageFrom::Before, None, self.list.height);
            self.list.first_index = self.list.total.saturating_sub(self.list.rows.len() as u64);
        }
        self.list.cursor = selected
            .and_then(|id| self.list.rows.iter().position(|r| r.summary.id == id))
            .unwrap_or(self.list.cursor)
            .min(self.list.rows.len().saturating_sub(1));
        if self.list.selected().map(|r| r.summary.id) != selected {
            return self.selection_changed(desk);
        }
        vec![]
    }

    /// A page of the open folder, one row per thread when threads are collapsed.
    fn fetch(
        &mut self,
        desk: &dyn DeskClient,
        from: PageFrom,
        cursor: Option<PageCursor>,
        n: usize,
    ) -> Vec<ListRow> {
        if self.list.view != super::View::All {
            return self.view_page(from, cursor.as_ref(), n);
        }
        let q = PageQuery {
            account: self.list.account.clone(),
            folder: self.list.folder.clone(),
            from,
            cursor,
            n,
            collapsed: self.list.collapsed,
        };
        let rows = desk.page(&q);
        self.ask(rows)
    }

    pub(super) fn selection_changed(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        let Some(row) = self.list.selected() else {
            self.reader = ReaderView {
                all_headers: self.reader.all_headers,
                show_quotes: self.reader.show_quotes,
                ..ReaderView::default()
            };
            self.records = RecordsView::default();
            return vec![];
        };
        let id = row.summary.id;
        if self.reader.id == Some(id) {
            return vec![];
        }
        self.follow_hit_place(id);
        self.reader.id = Some(id);
        self.reader.mail = None;
        self.reader.scroll = 0;
        self.reader.hit = None;
        self.reader.raw = false;
        self.reader.raw_text = None;
        let links = desk.links_of(id);
        self.records.records = self.ask(links);
        self.records.cursor = 0;
        vec![self.render_command(id)]
    }

    pub(super) fn render_command(&self, id: u64) -> Command {
        Command::Render {
            id,
            options: RenderOptions {
                all_headers: self.reader.all_headers,
                show_quotes: self.reader.show_quotes,
                width: self.reader_width.max(20),
                tz_offset_secs: Some(self.clock.tz_offset_secs),
            },
        }
    }

    pub(super) fn move_list(
        &mut self,
        desk: &dyn DeskClient,
        down: bool,
        by: usize,
    ) -> Vec<Command> {
        for _ in 0..by {
            if down {
                if self.list.cursor + 1 < self.list.rows.len() {
                    self.list.cursor += 1;
                } else if let Some(last) = self.list.rows.last().map(|r| r.cursor.clone()) {
                    let next = self.fetch(desk, PageFrom::After, Some(last), 1);
                    if next.is_empty() {
                        break;
                    }
                    self.list.rows.extend(next);
                    if self.list.rows.len() > self.list.height {
                        self.list.rows.remove(0);
                        self.list.first_index += 1;
                    }
                    self.list.cursor = self.list.rows.len() - 1;
                }
            } else if self.list.cursor > 0 {
                self.list.cursor -= 1;
            } else if let Some(first) = self.list.rows.first().map(|r| r.cursor.clone()) {
                let prev = self.fetch(desk, PageFrom::Before, Some(first), 1);
                if prev.is_empty() {
                    break;
                }
                let mut rows = prev;
                rows.append(&mut self.list.rows);
                rows.truncate(self.list.height);
                self.list.rows = rows;
                self.list.first_index = self.list.first_index.saturating_sub(1);
                self.list.cursor = 0;
            }
        }
        self.selection_changed(desk)
    }

    pub(super) fn list_bottom(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        self.list.rows = self.fetch(desk, PageFrom::Before, None, self.list.height);
        self.list.first_index = self.list.total.saturating_sub(self.list.rows.len() as u64);
        self.list.cursor = self.list.rows.len().saturating_sub(1);
        self.selection_changed(desk)
    }

    pub(super) fn list_top(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        self.list.rows = self.fetch(desk, PageFrom::After, None, self.list.height);
        self.list.first_index = 0;
        self.list.cursor = 0;
        self.selection_changed(desk)
    }

    pub(super) fn move_folder(&mut self, desk: &dyn DeskClient, down: bool) -> Vec<Command> {
        let n = self.folders.len();
        let mut i = self.folder_cursor;
        loop {
            let next = if down { i + 1 } else { i.wrapping_sub(1) };
            if next >= n {
                return vec![];
            }
            i = next;
            if matches!(self.folders[i], FolderRow::Folder { .. }) {
                break;
            }
        }
        self.folder_cursor = i;
        self.open_folder(desk)
    }

    /// Move to the next/previous mail of the same thread within the window.
    pub(super) fn step_thread(&mut self, desk: &dyn DeskClient, next: bool) -> Vec<Command> {
        let Some(tid) = self.list.selected().map(|r| r.summary.thread_id) else {
            return vec![];
        };
        let idx: Vec<usize> = (0..self.list.rows.len())
            .filter(|i| self.list.rows[*i].summary.thread_id == tid)
            .collect();
        let pos = idx.iter().position(|i| *i == self.list.cursor).unwrap_or(0);
        let target = if next {
            idx.get(pos + 1)
        } else {
            pos.checked_sub(1).and_then(|p| idx.get(p))
        };
        match target {
            Some(t) => {
                self.list.cursor = *t;
                self.selection_changed(desk)
            }
            None => {
                self.notice("No more mail of this thread on screen.");
                vec![]
            }
        }
    }
}
