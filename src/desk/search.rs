//! The desk's side of search in the interface: a `SearchQuery` answered from
//! the index as list rows with their places, and the index's commits turned
//! into `SearchUpdated` events so open searches follow new mail.

use super::Desk;
use crate::protocol::{
    DeskError, DeskResult, Event, ListRow, PageCursor, SearchAnswer, SearchHit, SearchQuery,
};
use crate::search::SearchError;
use crate::store::FolderEntry;
use std::sync::Arc;

impl Desk {
    /// Open the search index of `data_dir` and start its indexer, which tells
    /// the interface when it took in mail. When the index cannot open, the
    /// desk runs without search and says so.
    pub fn start_search(&self, data_dir: &std::path::Path) {
        match crate::search::SearchIndex::open(data_dir) {
            Ok(index) => {
                let events = self.events.clone();
                let h = crate::search::indexer::spawn_notifying(
                    Arc::new(index),
                    Arc::clone(&self.store),
                    move || {
                        let _ = events.send(Event::SearchUpdated);
                    },
                );
                if let Ok(mut g) = self.search.lock() {
                    *g = Some(h);
                }
            }
            Err(e) => {
                tracing::error!("{e}");
                self.emit(Event::Error(format!("Search is off: {e}")));
            }
        }
    }

    /// Whether the index holds every stored mail (tests wait for it).
    pub fn search_caught_up(&self) -> bool {
        let Some(h) = self.search_handle() else {
            return false;
        };
        self.store
            .message_ids_after(h.index().watermark(), 1)
            .is_ok_and(|ids| ids.is_empty())
    }

    pub(super) fn search_answer(&self, q: &SearchQuery) -> DeskResult<SearchAnswer> {
        let limit = q.limit.max(1);
        let hits = match self.search_hits(&q.query, limit.saturating_add(1)) {
            Ok(h) => h,
            // The agent is still typing: a bad query is no failure to log.
            Err(SearchError::Query(e)) => return Err(DeskError(sanitize(&e.to_string()))),
            Err(e) => {
                let msg = sanitize(&format!(
                    "Search failed ({e}). Run `deskmail reindex` if it keeps failing."
                ));
                tracing::error!("{msg}");
                return Err(DeskError(msg));
            }
        };
        let more = hits.len() > limit;
        let hits = hits
            .into_iter()
            .take(limit)
            .filter_map(|h| {
                let (account, folder, flags) = h.places.into_iter().next()?;
                Some(SearchHit {
                    row: ListRow {
                        cursor: PageCursor::from_key(h.summary.id.to_be_bytes().to_vec()),
                        // The list never shows a uid; flags are this place's.
                        entry: FolderEntry { uid: 0, flags },
                        summary: h.summary,
                        thread_size: 1,
                    },
                    account,
                    folder,
                })
            })
            .collect();
        Ok(SearchAnswer {
            hits,
            more,
            terms: crate::search::highlight::query_terms(&q.query),
        })
    }
}

fn sanitize(s: &str) -> String {
    crate::mail::sanitize::sanitize_line(s)
}
