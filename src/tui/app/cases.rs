//! The case queue (mine / team / unassigned, by status, oldest waiting
//! first) with its take, assign, status and close keys and its pickers, and
//! the triage dashboard whose bars open an agent's queue.

use super::{App, Focus, LineInput, Overlay, PickList, fuzzy_filter};
use crate::protocol::{CaseRow, Command, Dashboard, DashboardQuery, DeskClient, SearchAnswer};
use crate::tui::action::Action;
use crate::tui::compose::ComposeState;
use crate::tui::keymap::Key;

/// The statuses a case can be set to, in the order they are offered.
pub const STATUSES: [&str; 6] = [
    "New",
    "Assigned",
    "Pending",
    "Closed",
    "Rejected",
    "Duplicate",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseTab {
    Mine,
    Team,
    Unassigned,
}

impl CaseTab {
    pub const ALL: [CaseTab; 3] = [CaseTab::Mine, CaseTab::Team, CaseTab::Unassigned];

    pub fn label(self) -> &'static str {
        match self {
            CaseTab::Mine => "Mine",
            CaseTab::Team => "Team",
            CaseTab::Unassigned => "Unassigned",
        }
    }

    fn step(self, forward: bool) -> CaseTab {
        let i = CaseTab::ALL.iter().position(|t| *t == self).unwrap_or(0);
        CaseTab::ALL[if forward { (i + 1) % 3 } else { (i + 2) % 3 }]
    }
}

/// Which statuses the queue shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// New, Assigned and Pending.
    Open,
    Only(&'static str),
    /// Closed, Rejected and Duplicate.
    Done,
    All,
}

impl StatusFilter {
    const CYCLE: [StatusFilter; 6] = [
        StatusFilter::Open,
        StatusFilter::Only("New"),
        StatusFilter::Only("Assigned"),
        StatusFilter::Only("Pending"),
        StatusFilter::Done,
        StatusFilter::All,
    ];

    pub fn label(self) -> &'static str {
        match self {
            StatusFilter::Open => "open",
            StatusFilter::Only(s) => s,
            StatusFilter::Done => "closed",
            StatusFilter::All => "all",
        }
    }

    pub fn keeps(self, status: &str) -> bool {
        let open = crate::store::CaseStatus::is_open_name(status);
        match self {
            StatusFilter::Open => open,
            StatusFilter::Only(s) => s == status,
            StatusFilter::Done => !open,
            StatusFilter::All => true,
        }
    }

    fn next(self) -> StatusFilter {
        let i = Self::CYCLE.iter().position(|f| *f == self).unwrap_or(0);
        Self::CYCLE[(i + 1) % Self::CYCLE.len()]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickPurpose {
    Assign,
    Status,
}

/// The fuzzy picker of an agent or a status for the selected case.
#[derive(Debug)]
pub struct CasePicker {
    pub purpose: PickPurpose,
    pub case: u64,
    pub input: LineInput,
    /// (value, label).
    pub all: Vec<(String, String)>,
    pub matches: PickList<(String, String)>,
}

impl CasePicker {
    fn new(purpose: PickPurpose, case: u64, all: Vec<(String, String)>) -> CasePicker {
        let matches = PickList::new(all.clone());
        CasePicker {
            purpose,
            case,
            input: LineInput::default(),
            all,
            matches,
        }
    }

    fn rank(&mut self) {
        let ranked = fuzzy_filter(self.input.as_str(), self.all.clone(), |(_, l)| l.as_str());
        self.matches = PickList::new(ranked);
    }
}

/// The Cases view.
#[derive(Debug)]
pub struct CasesScreen {
    pub tab: CaseTab,
    pub status: StatusFilter,
    /// Only this agent's cases (a dashboard bar), on the team tab.
    pub agent: Option<String>,
    /// The agent at this screen (lowercase address): "mine".
    pub me: String,
    /// Every case the desk answered with.
    pub all: Vec<CaseRow>,
    /// The cases of the tab and filter, oldest waiting first.
    pub list: PickList<CaseRow>,
    pub picker: Option<CasePicker>,
}

impl CasesScreen {
    fn in_tab(&self, tab: CaseTab, c: &CaseRow) -> bool {
        let who = c.assignee.to_lowercase();
        match tab {
            CaseTab::Mine => who == self.me,
            CaseTab::Team => self.agent.as_ref().is_none_or(|a| *a == who),
            CaseTab::Unassigned => who.is_empty(),
        }
    }

    /// Cases a tab shows with the current status filter.
    pub fn count(&self, tab: CaseTab) -> usize {
        self.all
            .iter()
            .filter(|c| self.in_tab(tab, c) && self.status.keeps(&c.status))
            .count()
    }

    /// Pick the rows again; the selected case stays selected when shown.
    fn refilter(&mut self) {
        let selected = self.list.selected().map(|c| c.record.id);
        let mut rows: Vec<CaseRow> = self
            .all
            .iter()
            .filter(|c| self.in_tab(self.tab, c) && self.status.keeps(&c.status))
            .cloned()
            .collect();
        rows.sort_by_key(|c| (c.waiting_since(), c.number));
        let at = selected.and_then(|id| rows.iter().position(|c| c.record.id == id));
        self.list = PickList::new(rows);
        if let Some(i) = at {
            self.list.down(i);
        }
    }
}

/// The triage dashboard.
#[derive(Debug)]
pub struct DashboardScreen {
    pub data: Dashboard,
    /// The selected bar of `data.open_by_agent`.
    pub bar: usize,
}

impl App {
    /// The start of the agent's day in their time zone, as Unix seconds.
    fn day_start(&self) -> i64 {
        let off = i64::from(self.clock.tz_offset_secs);
        (self.clock.now + off).div_euclid(86_400) * 86_400 - off
    }

    /// Open the Cases view on `tab` (and one agent's cases on the team tab).
    pub(super) fn open_cases(
        &mut self,
        desk: &dyn DeskClient,
        tab: CaseTab,
        agent: Option<String>,
    ) -> Vec<Command> {
        let all = desk.cases();
        let all = match all {
            Ok(a) => a,
            Err(e) => {
                self.error(e.0);
                return vec![];
            }
        };
        let mut s = CasesScreen {
            tab,
            status: StatusFilter::Open,
            agent,
            me: desk.config().agent.email.trim().to_lowercase(),
            all,
            list: PickList::default(),
            picker: None,
        };
        s.refilter();
        self.overlay = Some(Overlay::Cases(Box::new(s)));
        vec![]
    }

    /// Read the cases or the dashboard again (records or mail changed).
    pub(super) fn refresh_cases(&mut self, desk: &dyn DeskClient) {
        match &self.overlay {
            Some(Overlay::Cases(_)) => {
                let fresh = desk.cases();
                let fresh = self.ask(fresh);
                if let Some(Overlay::Cases(s)) = &mut self.overlay {
                    s.all = fresh;
                    s.refilter();
                }
            }
            Some(Overlay::Dashboard(_)) => {
                let fresh = desk.dashboard(&self.dashboard_query());
                let fresh = self.ask(fresh);
                if let Some(Overlay::Dashboard(d)) = &mut self.overlay {
                    d.bar = d.bar.min(fresh.open_by_agent.len().saturating_sub(1));
                    d.data = fresh;
                }
            }
            _ => {}
        }
    }

    fn dashboard_query(&self) -> DashboardQuery {
        DashboardQuery {
            now: self.clock.now,
            day_start: self.day_start(),
        }
    }

    pub(super) fn open_dashboard(&mut self, desk: &dyn DeskClient) -> Vec<Command> {
        match desk.dashboard(&self.dashboard_query()) {
            Ok(data) => {
                self.overlay = Some(Overlay::Dashboard(Box::new(DashboardScreen {
                    data,
                    bar: 0,
                })))
            }
            Err(e) => self.error(e.0),
        }
        vec![]
    }

    /// Keys while the dashboard is open.
    pub(super) fn dashboard_action(
        &mut self,
        desk: &dyn DeskClient,
        action: Action,
    ) -> Vec<Command> {
        let Some(Overlay::Dashboard(d)) = &mut self.overlay else {
            return vec![];
        };
        let n = d.data.open_by_agent.len();
        match action {
            Action::NextField | Action::MoveDown if n > 0 => d.bar = (d.bar + 1) % n,
            Action::PrevField | Action::MoveUp if n > 0 => d.bar = (d.bar + n - 1) % n,
            Action::Open => {
                let Some((email, _, _)) = d.data.open_by_agent.get(d.bar).cloned() else {
                    return vec![];
                };
                let me = desk.config().agent.email.trim().to_lowercase();
                return if email.is_empty() {
                    self.open_cases(desk, CaseTab::Unassigned, None)
                } else if email == me {
                    self.open_cases(desk, CaseTab::Mine, None)
                } else {
                    self.open_cases(desk, CaseTab::Team, Some(email))
                };
            }
            Action::Cases => return self.open_cases(desk, CaseTab::Mine, None),
            Action::Quit => self.quit = true,
            Action::Back | Action::Cancel | Action::Dashboard => self.overlay = None,
            _ => {}
        }
        vec![]
    }

    /// Typed text in the queue's picker.
    pub(super) fn cases_input(&mut self, key: &Key) {
        if let Some(Overlay::Cases(s)) = &mut self.overlay
            && let Some(p) = &mut s.picker
            && p.input.key(key)
        {
            p.rank();
        }
    }

    /// Keys while the Cases view is open.
    pub(super) fn cases_action(&mut self, desk: &dyn DeskClient, action: Action) -> Vec<Command> {
        let Some(Overlay::Cases(s)) = &mut self.overlay else {
            return vec![];
        };
        if let Some(p) = &mut s.picker {
            match action {
                Action::MoveDown | Action::NextField => p.matches.down(1),
                Action::MoveUp | Action::PrevField => p.matches.up(1),
                Action::Open => {
                    let (purpose, case) = (p.purpose, p.case);
                    let value = p.matches.selected().map(|(v, _)| v.clone());
                    s.picker = None;
                    let Some(v) = value else { return vec![] };
                    return vec![match purpose {
                        PickPurpose::Assign => Command::UpdateCase {
                            case,
                            assignee: Some(v),
                            status: None,
                        },
                        PickPurpose::Status => Command::UpdateCase {
                            case,
                            assignee: None,
                            status: Some(v),
                        },
                    }];
                }
                Action::Back | Action::Cancel => s.picker = None,
                _ => {}
            }
            return vec![];
        }
        let selected = s.list.selected().cloned();
        match action {
            Action::MoveDown => s.list.down(1),
            Action::MoveUp => s.list.up(1),
            Action::PageDown => s.list.down(10),
            Action::PageUp => s.list.up(10),
            Action::GoTop => s.list.top(),
            Action::GoBottom => s.list.bottom(),
            Action::NextField | Action::PrevField => {
                s.tab = s.tab.step(action == Action::NextField);
                s.agent = None;
                s.refilter();
            }
            Action::CasesMine | Action::CasesTeam | Action::CasesUnassigned => {
                s.tab = match action {
                    Action::CasesMine => CaseTab::Mine,
                    Action::CasesTeam => CaseTab::Team,
                    _ => CaseTab::Unassigned,
                };
                s.agent = None;
                s.refilter();
            }
            Action::FilterStatus => {
                s.status = s.status.next();
                s.refilter();
            }
            Action::Quit => self.quit = true,
            Action::Back | Action::Cancel | Action::Cases => self.overlay = None,
            Action::Dashboard => return self.open_dashboard(desk),
            _ => {
                let Some(c) = selected else {
                    if matches!(
                        action,
                        Action::Open
                            | Action::TakeCase
                            | Action::AssignCase
                            | Action::SetCaseStatus
                            | Action::CloseCase
                            | Action::Compose
                    ) {
                        self.notice(
                            "No case here: Tab shows the other queues, f the other statuses.",
                        );
                    }
                    return vec![];
                };
                return self.case_action(desk, action, c);
            }
        }
        vec![]
    }

    /// An action on the selected case of the queue.
    fn case_action(&mut self, desk: &dyn DeskClient, action: Action, c: CaseRow) -> Vec<Command> {
        let id = c.record.id;
        match action {
            Action::Open => self.show_case_mails(desk, &c),
            Action::TakeCase => {
                let me = desk.config().agent.email.trim().to_lowercase();
                vec![Command::UpdateCase {
                    case: id,
                    assignee: Some(me),
                    status: None,
                }]
            }
            Action::CloseCase => vec![Command::UpdateCase {
                case: id,
                assignee: None,
                status: Some("Closed".into()),
            }],
            Action::AssignCase => {
                let team = c.record.field("team").map(str::to_string);
                let mut agents: Vec<(String, String)> =
                    crate::crm::cases::desk_agents(desk.config(), team.as_deref())
                        .into_iter()
                        .map(|(e, n)| {
                            let label = if n == e {
                                e.clone()
                            } else {
                                format!("{n} <{e}>")
                            };
                            (e, label)
                        })
                        .collect();
                agents.push((String::new(), "nobody (unassign)".into()));
                if let Some(Overlay::Cases(s)) = &mut self.overlay {
                    s.picker = Some(CasePicker::new(PickPurpose::Assign, id, agents));
                }
                vec![]
            }
            Action::SetCaseStatus => {
                let all = STATUSES
                    .iter()
                    .map(|s| (s.to_string(), s.to_string()))
                    .collect();
                if let Some(Overlay::Cases(s)) = &mut self.overlay {
                    s.picker = Some(CasePicker::new(PickPurpose::Status, id, all));
                }
                vec![]
            }
            Action::Compose => {
                match ComposeState::start(desk, Action::Compose, None) {
                    Ok(cs) => {
                        let cs = cs.for_case(id, &c.account, &c.email, &c.record.name);
                        self.overlay = Some(Overlay::Compose(Box::new(cs)));
                    }
                    Err(msg) => self.error(msg),
                }
                vec![]
            }
            _ => vec![],
        }
    }

    /// Enter on a case: its mails become the list, read with the reader;
    /// Esc in the list comes back to the queue.
    fn show_case_mails(&mut self, desk: &dyn DeskClient, c: &CaseRow) -> Vec<Command> {
        let hits = desk.case_mails(c.record.id);
        let hits = match hits {
            Ok(h) => h,
            Err(e) => {
                self.error(e.0);
                return vec![];
            }
        };
        if hits.is_empty() {
            self.notice("This case has no mail yet.");
            return vec![];
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
        let answer = SearchAnswer {
            hits,
            more: false,
            terms: vec![],
        };
        if let Some(Overlay::Cases(s)) = self.overlay.take() {
            self.cases_back = Some(s);
        }
        self.show_hits(&format!("Case {}", c.record.title()), answer, home);
        if let Some(s) = &mut self.list.search {
            s.case = Some(c.record.id);
        }
        self.focus = Focus::List;
        self.list_top(desk)
    }

    /// Back from a case's mails to the queue it was opened from.
    pub(super) fn back_to_cases(&mut self, desk: &dyn DeskClient) {
        if let Some(s) = self.cases_back.take() {
            self.overlay = Some(Overlay::Cases(s));
            self.refresh_cases(desk);
        }
    }
}
