//! `next_unread` across the account's folders and `mark_folder_read`, both
//! through the desk's page queries.

use super::{App, FolderRow, View};
use crate::protocol::{Command, DeskClient, ListRow, PageCursor, PageFrom, PageQuery};
use crate::store::flags;

impl App {
    /// Every row of the open folder after `cursor` (all with `None`).
    fn rows_after(&mut self, desk: &dyn DeskClient, cursor: Option<PageCursor>) -> Vec<ListRow> {
        let q = PageQuery {
            account: self.list.account.clone(),
            folder: self.list.folder.clone(),
            from: PageFrom::After,
            cursor,
            n: usize::try_from(self.folder_total())
                .unwrap_or(usize::MAX)
                .max(1),
            collapsed: false,
        };
        let rows = desk.page(&q);
        self.ask(rows)
    }

    /// Select the next unread mail: later in this folder, else in the next
    /// folder of the same account that has unread mail.
    pub(super) fn next_unread(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        if self.list.view != View::All || self.list.collapsed {
            self.list.view = View::All;
            self.list.collapsed = false;
        }
        let after = self.list.selected().map(|r| r.cursor.clone());
        let mut skipped = self.list.first_index + self.list.cursor as u64 + 1;
        if after.is_none() {
            skipped = 0;
        }
        let rows = self.rows_after(desk, after);
        if let Some(i) = rows.iter().position(|r| r.entry.flags & flags::SEEN == 0) {
            return self.show_from(desk, &rows[i], skipped + i as u64);
        }
        let account = self.list.account.clone();
        let next = self
            .folders
            .iter()
            .enumerate()
            .skip(self.folder_cursor + 1)
            .take_while(|(_, f)| !matches!(f, FolderRow::Account { .. }))
            .find(|(_, f)| {
                matches!(f, FolderRow::Folder { account: a, unread, .. } if *a == account && *unread > 0)
            })
            .map(|(i, _)| i);
        let Some(i) = next else {
            self.notice(format!("No more unread mail in {account}."));
            return vec![];
        };
        self.folder_cursor = i;
        let mut cmds = self.open_folder(desk);
        let rows = self.rows_after(desk, None);
        if let Some(i) = rows.iter().position(|r| r.entry.flags & flags::SEEN == 0) {
            cmds = self.show_from(desk, &rows[i], i as u64);
        }
        cmds
    }

    /// Fill the window from `row` (at absolute position `index`), selected.
    fn show_from(&mut self, desk: &dyn DeskClient, row: &ListRow, index: u64) -> Vec<Command> {
        let q = PageQuery {
            account: self.list.account.clone(),
            folder: self.list.folder.clone(),
            from: PageFrom::At,
            cursor: Some(row.cursor.clone()),
            n: self.list.height,
            collapsed: false,
        };
        let rows = desk.page(&q);
        self.list.rows = self.ask(rows);
        self.list.first_index = index;
        self.list.cursor = 0;
        self.selection_changed(desk)
    }

    /// Every unread mail of the open folder read, as one undoable change.
    pub(super) fn mark_folder_read(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        let ids: Vec<u64> = self
            .rows_after(desk, None)
            .iter()
            .filter(|r| r.entry.flags & flags::SEEN == 0)
            .map(|r| r.summary.id)
            .collect();
        if ids.is_empty() {
            self.notice("No unread mail here.");
            return vec![];
        }
        self.notice(format!("Marked {} mails read.", ids.len()));
        vec![Command::SetFlagsMany {
            ids,
            account: self.list.account.clone(),
            folder: self.list.folder.clone(),
            add: flags::SEEN,
            remove: 0,
        }]
    }
}
