//! Search in the interface: the query line (`/`) with completion of field
//! names and `from:` addresses, its hits shown as the virtual folder
//! "Search: …" (asked again while typing and as the index takes in mail),
//! and `n`/`N` between the hits of the mail in the reader.

use super::{App, Focus, LineInput, Overlay, Prompt, PromptPurpose, View};
use crate::protocol::{Command, DeskClient, SearchQuery};
use crate::store::flags;
use crate::tui::action::Action;
use crate::tui::keymap::Key;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Typing pauses this long before the query runs, so a fast typist is not
/// answered once per key.
pub const DEBOUNCE: Duration = Duration::from_millis(60);
/// Hits one search shows; the title says when more mail matched.
pub const LIMIT: usize = 200;
/// Lines kept above a hit the reader jumps to.
const CONTEXT: usize = 2;
/// Completions offered at most.
const MAX_COMPLETIONS: usize = 50;
/// What `is:` and `has:` take.
const TAGS: &[&str] = &[
    "is:unread",
    "is:read",
    "is:flagged",
    "is:answered",
    "is:draft",
    "has:attachment",
];

/// A search shown as the list's virtual folder.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    pub query: String,
    /// The query's words as the index stems them, for highlighting.
    pub terms: Vec<String>,
    /// (account, folder) of each hit, by mail id: where its commands go.
    pub places: BTreeMap<u64, (String, String)>,
    /// More mail matched than [`LIMIT`].
    pub more: bool,
    /// The folder and view the search started from, to go back to.
    pub home: (String, String, View),
    /// The mails of this case (from the Cases view) rather than a search.
    pub case: Option<u64>,
}

/// The query line at the bottom while `/` is open.
#[derive(Debug, Clone, Default)]
pub struct SearchLine {
    pub input: LineInput,
    /// Completions of the word being typed, best first.
    pub completions: Vec<String>,
    /// The completion Tab put in, while cycling.
    pub chosen: Option<usize>,
    /// The line as typed before Tab started cycling.
    typed: String,
    /// When the typed query runs.
    pub due: Option<Instant>,
    /// Why the typed query does not read (it names the token).
    pub error: Option<String>,
    /// The search shown when the line opened: Esc goes back to it.
    before: Option<String>,
    /// Addresses `from:`, `to:` and `cc:` complete to (email, name).
    addresses: Vec<(String, String)>,
}

impl SearchLine {
    /// A line holding `text`, completing from `addresses`.
    pub fn new(text: &str, addresses: Vec<(String, String)>) -> SearchLine {
        let mut line = SearchLine {
            input: LineInput::from(text),
            addresses,
            ..SearchLine::default()
        };
        line.complete_again();
        line
    }

    fn complete_again(&mut self) {
        let (_, word) = last_word(self.input.as_str());
        self.completions = candidates(word, &self.addresses);
        self.chosen = None;
    }

    /// Put the next (or previous) completion in place of the last word.
    fn cycle(&mut self, forward: bool) -> bool {
        let n = self.completions.len();
        if n == 0 {
            return false;
        }
        let i = match self.chosen {
            None => {
                self.typed = self.input.as_str().to_string();
                if forward { 0 } else { n - 1 }
            }
            Some(i) if forward => (i + 1) % n,
            Some(i) => (i + n - 1) % n,
        };
        let (head, _) = last_word(&self.typed);
        self.input = LineInput::from(format!("{head}{}", self.completions[i]).as_str());
        self.chosen = Some(i);
        true
    }
}

/// The line split before the word being typed (after a space, `(` or `-`).
fn last_word(text: &str) -> (&str, &str) {
    let mut start = text.rfind([' ', '(']).map(|i| i + 1).unwrap_or(0);
    if text[start..].starts_with('-') {
        start += 1;
    }
    text.split_at(start)
}

/// Field names for a bare word; addresses for `from:`/`to:`/`cc:`; values
/// for `is:`/`has:`. Prefix matches come before matches inside.
fn candidates(word: &str, addresses: &[(String, String)]) -> Vec<String> {
    if word.is_empty() {
        return vec![];
    }
    let lower = word.to_lowercase();
    let mut out: Vec<String> = match lower.split_once(':') {
        None => crate::search::query::FIELDS
            .iter()
            .filter(|f| f.starts_with(&lower))
            .map(|f| f.to_string())
            .collect(),
        Some((field @ ("from" | "to" | "cc"), value)) => {
            let mut starts = Vec::new();
            let mut inside = Vec::new();
            for (email, name) in addresses {
                let full = format!("{field}:{email}");
                if email.starts_with(value) {
                    starts.push(full);
                } else if email.contains(value) || name.to_lowercase().contains(value) {
                    inside.push(full);
                }
            }
            starts.extend(inside);
            starts
        }
        Some(("is" | "has", _)) => TAGS
            .iter()
            .filter(|t| t.starts_with(&lower))
            .map(|t| t.to_string())
            .collect(),
        Some(_) => vec![],
    };
    out.retain(|c| *c != lower);
    out.truncate(MAX_COMPLETIONS);
    out
}

impl App {
    /// `/`: open the query line, holding the shown search to refine it.
    fn open_search_line(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        let before = self.list.search.as_ref().map(|s| s.query.clone());
        let addresses = crate::tui::compose::known_addresses(desk, &[]);
        let mut line = SearchLine::new(before.as_deref().unwrap_or(""), addresses);
        line.before = before;
        self.overlay = Some(Overlay::Search(Box::new(line)));
        vec![]
    }

    /// A key typed into the query line: the query runs once typing pauses.
    pub(super) fn search_typed(&mut self, key: &Key) {
        let Some(Overlay::Search(line)) = &mut self.overlay else {
            return;
        };
        if line.input.key(key) {
            line.complete_again();
            line.due = Some(Instant::now() + DEBOUNCE);
        }
    }

    /// When the typed query is due to run, if it is waiting.
    pub fn search_due(&self) -> Option<Instant> {
        match &self.overlay {
            Some(Overlay::Search(line)) => line.due,
            _ => None,
        }
    }

    /// Run the typed query if its time has come; `None` when nothing ran.
    pub fn search_tick(&mut self, desk: &dyn DeskClient, now: Instant) -> Option<Vec<Command>> {
        let Some(Overlay::Search(line)) = &mut self.overlay else {
            return None;
        };
        if line.due.is_none_or(|d| now < d) {
            return None;
        }
        line.due = None;
        let q = line.input.as_str().to_string();
        Some(self.run_search(desk, &q))
    }

    /// What a bound key does while the query line is open.
    pub(super) fn search_line_action(
        &mut self,
        desk: &dyn DeskClient,
        action: Action,
    ) -> Vec<Command> {
        let Some(Overlay::Search(line)) = &mut self.overlay else {
            return vec![];
        };
        match action {
            Action::MoveDown | Action::NextField | Action::MoveUp | Action::PrevField => {
                let forward = matches!(action, Action::MoveDown | Action::NextField);
                if line.cycle(forward) {
                    line.due = Some(Instant::now() + DEBOUNCE);
                } else {
                    self.notice("Nothing to complete: type the start of a field (fr → from:) or an address after from:.");
                }
                vec![]
            }
            Action::Open => {
                let q = line.input.as_str().trim().to_string();
                let shown = self.list.search.as_ref().map(|s| s.query.clone());
                let mut cmds = vec![];
                if shown.as_deref() != Some(q.as_str()) || q.is_empty() {
                    cmds = self.run_search(desk, &q);
                }
                let failed = matches!(&self.overlay, Some(Overlay::Search(l)) if l.error.is_some());
                if !failed {
                    self.overlay = None;
                    if self.list.view == View::Search {
                        self.focus = Focus::List;
                    }
                }
                cmds
            }
            Action::Cancel | Action::Back => {
                let before = line.before.clone();
                self.overlay = None;
                match before {
                    Some(q) if self.list.search.as_ref().map(|s| &s.query) != Some(&q) => {
                        self.run_search(desk, &q)
                    }
                    Some(_) => vec![],
                    None if self.list.view == View::Search => self.leave_search(desk),
                    None => vec![],
                }
            }
            _ => vec![],
        }
    }

    /// Ask the desk and show the hits as the virtual folder; an empty query
    /// goes back to the folder the search started from.
    fn run_search(&mut self, desk: &dyn DeskClient, query: &str) -> Vec<Command> {
        let q = query.trim();
        if q.is_empty() {
            if let Some(Overlay::Search(line)) = &mut self.overlay {
                line.error = None;
            }
            return if self.list.view == View::Search {
                self.leave_search(desk)
            } else {
                vec![]
            };
        }
        let answer = desk.search(&SearchQuery {
            query: q.to_string(),
            limit: LIMIT,
        });
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                match &mut self.overlay {
                    Some(Overlay::Search(line)) => line.error = Some(e.0),
                    _ => self.error(e.0),
                }
                return vec![];
            }
        };
        if let Some(Overlay::Search(line)) = &mut self.overlay {
            line.error = None;
        }
        let home = match &self.list.search {
            Some(s) => s.home.clone(),
            None => {
                self.list.marks.clear();
                (
                    self.list.account.clone(),
                    self.list.folder.clone(),
                    self.list.view,
                )
            }
        };
        self.show_hits(q, answer, home);
        self.list_top(desk)
    }

    pub(super) fn show_hits(
        &mut self,
        query: &str,
        answer: crate::protocol::SearchAnswer,
        home: (String, String, View),
    ) {
        let places = answer
            .hits
            .iter()
            .map(|h| (h.row.summary.id, (h.account.clone(), h.folder.clone())))
            .collect();
        self.list.filtered = answer.hits.into_iter().map(|h| h.row).collect();
        self.list.total = self.list.filtered.len() as u64;
        self.list.view = View::Search;
        self.list.search = Some(SearchResults {
            query: query.to_string(),
            terms: answer.terms,
            places,
            more: answer.more,
            home,
            case: None,
        });
    }

    /// Ask the shown search again (a refresh of the list keeps its place).
    pub(super) fn load_search(&mut self, desk: &dyn DeskClient) {
        let Some(s) = self.list.search.clone() else {
            self.list.filtered.clear();
            self.list.total = 0;
            return;
        };
        if let Some(case) = s.case {
            match desk.case_mails(case) {
                Ok(hits) => {
                    let answer = crate::protocol::SearchAnswer {
                        hits,
                        more: false,
                        terms: vec![],
                    };
                    self.show_hits(&s.query, answer, s.home);
                    if let Some(x) = &mut self.list.search {
                        x.case = Some(case);
                    }
                }
                Err(e) => self.error(e.0),
            }
            return;
        }
        let answer = desk.search(&SearchQuery {
            query: s.query.clone(),
            limit: LIMIT,
        });
        match answer {
            Ok(a) => self.show_hits(&s.query, a, s.home),
            Err(e) => self.error(e.0),
        }
    }

    /// The index took in mail: the shown search is asked again.
    pub(super) fn search_updated(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        if self.list.view == View::Search {
            return self.refresh_list(desk);
        }
        vec![]
    }

    /// Commands on the selected hit go to the folder it is in.
    pub(super) fn follow_hit_place(&mut self, id: u64) {
        if let Some((a, f)) = self.list.search.as_ref().and_then(|s| s.places.get(&id)) {
            self.list.account = a.clone();
            self.list.folder = f.clone();
        }
    }

    /// Forget the search (another folder is being opened).
    pub(super) fn drop_search(&mut self) {
        if let Some(s) = self.list.search.take() {
            self.list.view = s.home.2;
            self.list.marks.clear();
        }
        if self.list.view == View::Search {
            self.list.view = View::All;
        }
    }

    /// Back to the folder and view the search started from.
    fn leave_search(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        let home = self.list.search.as_ref().map(|s| s.home.clone());
        let from_case = self.list.search.as_ref().is_some_and(|s| s.case.is_some());
        self.drop_search();
        if let Some((account, folder, _)) = home {
            // The folder cursor may have followed the selected hit.
            if let Some(i) = self.folders.iter().position(|f| {
                matches!(f, super::FolderRow::Folder { account: a, name, .. } if *a == account && *name == folder)
            }) {
                self.folder_cursor = i;
            }
            self.list.account = account;
            self.list.folder = folder;
        }
        self.notice("Search closed.");
        let cmds = self.open_folder(desk);
        if from_case {
            self.back_to_cases(desk);
            self.notice("Back to the case queue.");
        }
        cmds
    }

    /// Search keys, and the list keys that mean something else on hits;
    /// `None` leaves the action to the usual handlers.
    pub(super) fn search_action(
        &mut self,
        desk: &dyn DeskClient,
        action: Action,
    ) -> Option<Vec<Command>> {
        match action {
            Action::Search => return Some(self.open_search_line(desk)),
            Action::SearchNext | Action::SearchPrev => {
                return Some(self.jump_hit(desk, action == Action::SearchNext));
            }
            _ => {}
        }
        if self.list.view != View::Search {
            return None;
        }
        Some(match action {
            Action::ClearMarks if self.list.marks.is_empty() => self.leave_search(desk),
            Action::ViewAll
            | Action::ViewUnread
            | Action::ViewFlagged
            | Action::ViewUnlinked
            | Action::ViewWaiting
            | Action::NextUnread
            | Action::MarkFolderRead => {
                // These are about the folder the search started from.
                let mut cmds = self.leave_search(desk);
                cmds.extend(self.handle_action(desk, action));
                cmds
            }
            Action::ToggleThread => {
                self.notice("Search hits are one line per mail.");
                vec![]
            }
            Action::MarkAll => {
                for r in &self.list.filtered {
                    self.list.marks.insert(r.summary.id, r.entry.flags);
                }
                self.notice(format!("{} marked.", self.list.marks.len()));
                vec![]
            }
            Action::Archive | Action::Delete | Action::ToggleRead | Action::ToggleFlag
                if !self.list.marks.is_empty() && self.focus != Focus::Records =>
            {
                self.marked_hits_action(action)
            }
            Action::MoveToFolder | Action::Snooze if !self.list.marks.is_empty() => {
                return self.marked_hits_in_one_folder(action);
            }
            _ => return None,
        })
    }

    /// The marked hits by the folder they are in.
    fn marks_by_place(&self) -> BTreeMap<(String, String), Vec<(u64, u8)>> {
        let mut by: BTreeMap<(String, String), Vec<(u64, u8)>> = BTreeMap::new();
        let places = self.list.search.as_ref().map(|s| &s.places);
        for (id, f) in &self.list.marks {
            if let Some(p) = places.and_then(|p| p.get(id)) {
                by.entry(p.clone()).or_default().push((*id, *f));
            }
        }
        by
    }

    /// Archive, delete, read or flag marked hits: one command per folder.
    fn marked_hits_action(&mut self, action: Action) -> Vec<Command> {
        let by = self.marks_by_place();
        let flag = match action {
            Action::ToggleRead => flags::SEEN,
            Action::ToggleFlag => flags::FLAGGED,
            _ => 0,
        };
        // One answer for all marked mails, as in a folder.
        let add = self.list.marks.values().any(|f| f & flag == 0);
        let mut cmds = Vec::new();
        for ((account, folder), marked) in by {
            let ids: Vec<u64> = marked.iter().map(|(id, _)| *id).collect();
            cmds.push(match action {
                Action::Archive => Command::MoveMany {
                    ids,
                    account,
                    folder,
                    to: None,
                },
                Action::Delete => Command::TrashMany {
                    ids,
                    account,
                    folder,
                },
                _ => Command::SetFlagsMany {
                    ids,
                    account,
                    folder,
                    add: if add { flag } else { 0 },
                    remove: if add { 0 } else { flag },
                },
            });
        }
        if flag == 0 {
            self.list.marks.clear();
        } else {
            for f in self.list.marks.values_mut() {
                *f = if add { *f | flag } else { *f & !flag };
            }
        }
        cmds
    }

    /// Move or snooze marked hits: they must share one folder.
    fn marked_hits_in_one_folder(&mut self, action: Action) -> Option<Vec<Command>> {
        let by = self.marks_by_place();
        if by.len() > 1 {
            self.error(format!(
                "The marked mails are in {} folders: mark mails of one folder to {} them together.",
                by.len(),
                if action == Action::Snooze {
                    "snooze"
                } else {
                    "move"
                }
            ));
            return Some(vec![]);
        }
        let ((account, folder), marked) = by.into_iter().next()?;
        let ids: Vec<u64> = marked.iter().map(|(id, _)| *id).collect();
        let (label, purpose) = if action == Action::Snooze {
            (
                "Snooze until (2h, 3d, tomorrow 9:00, mon, 17:30):".to_string(),
                PromptPurpose::Snooze {
                    ids,
                    account,
                    folder,
                },
            )
        } else {
            (
                format!("Move {} marked mails to folder of {account}:", ids.len()),
                PromptPurpose::MoveMarked {
                    ids,
                    account,
                    folder,
                },
            )
        };
        self.overlay = Some(Overlay::Prompt(Box::new(Prompt {
            label,
            input: LineInput::default(),
            purpose,
        })));
        Some(vec![])
    }

    /// The reader's lines holding a hit, in the order the reader shows them.
    pub fn hit_lines(&self) -> Vec<usize> {
        let Some(terms) = self.search_terms() else {
            return vec![];
        };
        let r = &self.reader;
        let hit = |t: &str| !crate::search::highlight::find(t, terms).is_empty();
        if r.raw {
            return r
                .raw_text
                .iter()
                .flatten()
                .enumerate()
                .filter(|(_, l)| hit(l))
                .map(|(i, _)| i)
                .collect();
        }
        let Some(mail) = &r.mail else {
            return vec![];
        };
        // The same order as the reader pane: headers, attachments, a blank line, the body.
        let head = mail
            .headers
            .iter()
            .map(|(_, v)| v.as_str())
            .chain(mail.attachments.iter().map(|a| a.name.as_str()))
            .chain(std::iter::once(""));
        head.chain(mail.lines.iter().map(|l| l.text.as_str()))
            .enumerate()
            .filter(|(_, t)| hit(t))
            .map(|(i, _)| i)
            .collect()
    }

    /// The words to highlight in the reader: those of the shown search.
    pub fn search_terms(&self) -> Option<&[String]> {
        self.list
            .search
            .as_ref()
            .map(|s| s.terms.as_slice())
            .filter(|t| !t.is_empty())
    }

    /// `n`/`N`: the next or previous hit in the mail, then in the next or
    /// previous hit mail. Without a search they step through the thread.
    fn jump_hit(&mut self, desk: &dyn DeskClient, forward: bool) -> Vec<Command> {
        if self.search_terms().is_none() {
            let step = if forward {
                Action::NextInThread
            } else {
                Action::PrevInThread
            };
            return self.handle_action(desk, step);
        }
        if self.reader.mail.is_none() && !self.reader.raw {
            self.notice("The mail is still loading.");
            return vec![];
        }
        let lines = self.hit_lines();
        let target = if forward {
            let from = self.reader.hit.map_or(self.reader.scroll, |h| h + 1);
            lines.iter().find(|l| **l >= from)
        } else {
            let before = self.reader.hit.unwrap_or(self.reader.scroll);
            lines.iter().rev().find(|l| **l < before)
        };
        if let Some(&l) = target {
            self.show_hit(l, &lines);
            return vec![];
        }
        let was = self.reader.id;
        let cmds = self.move_list(desk, forward, 1);
        if self.reader.id == was {
            self.notice(if forward {
                "No more hits: this is the last mail found."
            } else {
                "No hits before this one: this is the first mail found."
            });
        } else {
            self.reader.hit_pending = Some(forward);
        }
        cmds
    }

    fn show_hit(&mut self, line: usize, lines: &[usize]) {
        self.reader.hit = Some(line);
        self.reader.scroll = line.saturating_sub(CONTEXT);
        let i = lines.iter().position(|l| *l == line).unwrap_or(0);
        self.notice(format!("Hit {} of {} in this mail.", i + 1, lines.len()));
    }

    /// A mail `n`/`N` moved to has rendered: show its first (or last) hit.
    pub(super) fn jump_to_pending_hit(&mut self) {
        let Some(first) = self.reader.hit_pending.take() else {
            return;
        };
        let lines = self.hit_lines();
        let target = if first { lines.first() } else { lines.last() };
        if let Some(&l) = target {
            self.show_hit(l, &lines);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_word_starts_after_a_space_a_parenthesis_or_a_minus() {
        assert_eq!(last_word("refund (fr"), ("refund (", "fr"));
        assert_eq!(last_word("a -from:lu"), ("a -", "from:lu"));
        assert_eq!(last_word("from:"), ("", "from:"));
    }

    #[test]
    fn fields_tags_and_addresses_complete_and_an_exact_word_does_not() {
        let addrs = vec![
            ("lucas@shop.example".to_string(), "Lucas Lee".to_string()),
            ("ann@lucasfilm.example".to_string(), "Ann".to_string()),
            ("bob@x.example".to_string(), "Bob Lucas".to_string()),
        ];
        assert_eq!(candidates("fr", &addrs), ["from:"]);
        assert_eq!(candidates("is:un", &addrs), ["is:unread"]);
        assert_eq!(
            candidates("from:luc", &addrs),
            [
                "from:lucas@shop.example",
                "from:ann@lucasfilm.example",
                "from:bob@x.example"
            ]
        );
        assert!(candidates("from:", &addrs).len() == 3);
        assert!(candidates("from:lucas@shop.example", &addrs).is_empty());
        assert!(candidates("", &addrs).is_empty());
    }
}
