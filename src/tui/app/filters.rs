//! The filters screen: every configured filter with its action, and which
//! of them match the selected mail. Asked of the desk when opened; read-only.

use super::{App, Overlay, PickList};
use crate::protocol::{DeskClient, FilterRow};

/// The filters overlay.
#[derive(Debug, Default)]
pub struct FiltersScreen {
    pub rows: PickList<FilterRow>,
    /// The subject of the mail the matches are for, if one is selected.
    pub mail: Option<String>,
}

impl App {
    /// Open the filters screen for the selected mail (or the one being read).
    pub(super) fn open_filters(&mut self, desk: &dyn DeskClient) {
        let selected = self
            .list
            .selected()
            .map(|r| (r.summary.id, r.summary.subject.clone()));
        let (id, subject) = match selected {
            Some((id, s)) => (Some(id), Some(s)),
            None => (self.reader.id, None),
        };
        let rows = desk.filters(id);
        let rows = self.ask(rows);
        self.overlay = Some(Overlay::Filters(Box::new(FiltersScreen {
            rows: PickList::new(rows),
            mail: subject,
        })));
    }
}
