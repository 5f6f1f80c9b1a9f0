//! Quick views of the open folder (unread, flagged, unlinked, waiting): the
//! folder's rows are read once through the desk's queries, filtered here and
//! kept, and the list window pages through that instead of the folder.

use super::{App, View};
use crate::protocol::{DeskClient, ListRow, PageCursor, PageFrom, PageQuery};
use crate::store::{MailStatus, flags};
use crate::tui::action::Action;

impl View {
    pub fn of(action: Action) -> Option<View> {
        Some(match action {
            Action::ViewAll => View::All,
            Action::ViewUnread => View::Unread,
            Action::ViewFlagged => View::Flagged,
            Action::ViewUnlinked => View::Unlinked,
            Action::ViewWaiting => View::Waiting,
            _ => return None,
        })
    }

    /// The name in the list title; `None` for the whole folder.
    pub fn label(self) -> Option<&'static str> {
        match self {
            View::All => None,
            View::Unread => Some("unread"),
            View::Flagged => Some("flagged"),
            View::Unlinked => Some("unlinked"),
            View::Waiting => Some("waiting"),
            View::Search => Some("search"),
        }
    }
}

impl App {
    /// Switch the list to `view` and show it from the top.
    pub(super) fn set_view(
        &mut self,
        desk: &dyn DeskClient,
        view: View,
    ) -> Vec<crate::protocol::Command> {
        self.list.view = view;
        self.load_view(desk);
        match view.label() {
            Some(l) => self.notice(format!("{} {l}.", self.list.total)),
            None => self.notice("Whole folder."),
        }
        self.list_top(desk)
    }

    /// Read the open folder again and keep the rows of the current view.
    pub(super) fn load_view(&mut self, desk: &dyn DeskClient) {
        if self.list.view == View::All {
            self.list.filtered.clear();
            self.list.total = self.folder_total();
            return;
        }
        if self.list.view == View::Search {
            self.load_search(desk);
            return;
        }
        let q = PageQuery {
            account: self.list.account.clone(),
            folder: self.list.folder.clone(),
            from: PageFrom::After,
            cursor: None,
            n: usize::try_from(self.folder_total())
                .unwrap_or(usize::MAX)
                .max(1),
            collapsed: false,
        };
        let rows = desk.page(&q);
        let rows = self.ask(rows);
        let keep: Vec<ListRow> = match self.list.view {
            View::All => rows,
            View::Unread => rows
                .into_iter()
                .filter(|r| r.entry.flags & flags::SEEN == 0)
                .collect(),
            View::Flagged => rows
                .into_iter()
                .filter(|r| r.entry.flags & flags::FLAGGED != 0)
                .collect(),
            View::Unlinked => rows
                .into_iter()
                .filter(|r| desk.links_of(r.summary.id).is_ok_and(|l| l.is_empty()))
                .collect(),
            View::Waiting => waiting(rows),
            View::Search => vec![],
        };
        self.list.total = keep.len() as u64;
        self.list.filtered = keep;
    }

    /// A page of the current view's rows, like the desk's page of a folder.
    pub(super) fn view_page(
        &self,
        from: PageFrom,
        cursor: Option<&PageCursor>,
        n: usize,
    ) -> Vec<ListRow> {
        let all = &self.list.filtered;
        let pos = cursor.and_then(|c| all.iter().position(|r| r.cursor == *c));
        let (start, end) = match (from, pos) {
            (PageFrom::After, None) => (0, n),
            (PageFrom::After, Some(p)) => (p + 1, p + 1 + n),
            (PageFrom::At, Some(p)) => (p, p + n),
            (PageFrom::At, None) => (0, n),
            (PageFrom::Before, None) => (all.len().saturating_sub(n), all.len()),
            (PageFrom::Before, Some(p)) => (p.saturating_sub(n), p),
        };
        let end = end.min(all.len());
        all.get(start.min(end)..end)
            .map(<[ListRow]>::to_vec)
            .unwrap_or_default()
    }
}

/// Threads whose newest mail here is the customer's and not answered,
/// the longest waiting first (one row per thread: that newest mail).
fn waiting(rows: Vec<ListRow>) -> Vec<ListRow> {
    let mut newest: std::collections::HashMap<u64, ListRow> = std::collections::HashMap::new();
    for r in rows {
        match newest.get(&r.summary.thread_id) {
            Some(n) if n.summary.date >= r.summary.date => {}
            _ => {
                newest.insert(r.summary.thread_id, r);
            }
        }
    }
    let mut out: Vec<ListRow> = newest
        .into_values()
        .filter(|r| r.summary.status != MailStatus::Sent && r.entry.flags & flags::ANSWERED == 0)
        .collect();
    out.sort_by_key(|r| (r.summary.date, r.summary.id));
    out
}
