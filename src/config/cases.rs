//! `[accounts.cases]` and `[[filters]]`: the email-to-case and filter
//! settings as the config file spells them, and their checks. The rules that
//! act on them live in `crm::cases`; nothing here reads mail or the store.

use serde::{Deserialize, Serialize};

/// How a new case finds its agent.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AssignmentPolicy {
    /// Always `assignee`.
    Direct,
    /// The team's agents in turn, from a pointer stored per team.
    #[default]
    RoundRobin,
    /// The agent with the fewest open cases.
    LeastBusy,
}

/// What a customer's mail to a closed case does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReopenPolicy {
    #[default]
    Reopen,
    New,
    /// A new case when the case was closed more than so many days ago.
    NewAfterDays(u32),
}

impl std::str::FromStr for ReopenPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s {
            "reopen" => Ok(ReopenPolicy::Reopen),
            "new" => Ok(ReopenPolicy::New),
            _ => s
                .strip_prefix("new-after-")
                .and_then(|d| d.strip_suffix('d'))
                .and_then(|d| d.parse::<u32>().ok())
                .map(ReopenPolicy::NewAfterDays)
                .ok_or_else(|| {
                    format!(
                        "\"{s}\": use \"reopen\", \"new\" or \"new-after-30d\" (any number of days)"
                    )
                }),
        }
    }
}

/// At most `count` auto-replies to one sender within `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub window_secs: i64,
}

impl std::str::FromStr for RateLimit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!("\"{s}\": write it as count/window, such as \"5/2h\", \"1/30m\" or \"10/1d\"")
        };
        let (count, window) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let window = window.trim();
        let (n, unit) = window.split_at(window.len().saturating_sub(1));
        let n: i64 = n.parse().map_err(|_| bad())?;
        let secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        if count == 0 || n <= 0 {
            return Err(bad());
        }
        Ok(RateLimit {
            count,
            window_secs: n * secs,
        })
    }
}

fn default_subject_tag() -> String {
    "[#{number}]".into()
}

fn default_reopen() -> String {
    "reopen".into()
}

fn default_limit() -> String {
    "5/2h".into()
}

/// `[accounts.cases]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CaseConfig {
    #[serde(default)]
    pub enabled: bool,
    /// The team whose agents take the cases (default: the account's team).
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub assignment: AssignmentPolicy,
    /// For `direct`.
    #[serde(default)]
    pub assignee: Option<String>,
    /// A file in the templates dir; absent: no auto-reply.
    #[serde(default)]
    pub auto_reply_template: Option<String>,
    #[serde(default = "default_limit")]
    pub auto_reply_limit: String,
    /// `{number}` stands for the case number.
    #[serde(default = "default_subject_tag")]
    pub subject_tag: String,
    /// `reopen`, `new` or `new-after-30d`.
    #[serde(default = "default_reopen")]
    pub reopen: String,
}

impl Default for CaseConfig {
    fn default() -> Self {
        CaseConfig {
            enabled: false,
            team: None,
            assignment: AssignmentPolicy::default(),
            assignee: None,
            auto_reply_template: None,
            auto_reply_limit: default_limit(),
            subject_tag: default_subject_tag(),
            reopen: default_reopen(),
        }
    }
}

impl CaseConfig {
    pub fn reopen_policy(&self) -> ReopenPolicy {
        self.reopen.parse().unwrap_or_default()
    }

    pub fn rate_limit(&self) -> RateLimit {
        self.auto_reply_limit.parse().unwrap_or(RateLimit {
            count: 5,
            window_secs: 7200,
        })
    }

    /// (field, message) of the first thing wrong, for the config error.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        self.reopen
            .parse::<ReopenPolicy>()
            .map_err(|e| ("reopen", e))?;
        self.auto_reply_limit
            .parse::<RateLimit>()
            .map_err(|e| ("auto_reply_limit", e))?;
        if !self.subject_tag.contains("{number}") {
            return Err((
                "subject_tag",
                format!(
                    "\"{}\" must contain {{number}}, such as \"[#{{number}}]\"",
                    self.subject_tag
                ),
            ));
        }
        if self.assignment == AssignmentPolicy::Direct
            && self.assignee.as_deref().is_none_or(|a| !a.contains('@'))
        {
            return Err((
                "assignee",
                "assignment = \"direct\" needs assignee = the agent's email".into(),
            ));
        }
        Ok(())
    }
}

/// What a filter does with the mails it matches.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FilterAction {
    Skip,
    Move,
    MarkRead,
    NoNotify,
}

/// `[[filters]]` / `[[accounts.filters]]`: every pattern given must match.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    pub name: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    pub action: FilterAction,
    /// For `move`.
    #[serde(default)]
    pub folder: Option<String>,
}

impl FilterConfig {
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.action == FilterAction::Move && self.folder.as_deref().is_none_or(str::is_empty) {
            return Err((
                "folder",
                format!(
                    "filter \"{}\": action = \"move\" needs folder = \"…\"",
                    self.name
                ),
            ));
        }
        for p in [&self.from, &self.to, &self.subject, &self.body]
            .into_iter()
            .flatten()
        {
            if let Some(re) = p.strip_prefix("re:")
                && let Err(e) = regex::Regex::new(re)
            {
                return Err(("pattern", format!("filter \"{}\": {re}: {e}", self.name)));
            }
        }
        if self.from.is_none() && self.to.is_none() && self.subject.is_none() && self.body.is_none()
        {
            return Err((
                "from",
                format!(
                    "filter \"{}\" matches every mail: give from, to, subject or body",
                    self.name
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopen_policies_parse_and_a_wrong_one_says_what_to_write() {
        assert_eq!("reopen".parse(), Ok(ReopenPolicy::Reopen));
        assert_eq!("new".parse(), Ok(ReopenPolicy::New));
        assert_eq!("new-after-30d".parse(), Ok(ReopenPolicy::NewAfterDays(30)));
        let e = "sometimes".parse::<ReopenPolicy>().expect_err("bad");
        assert!(e.contains("new-after-30d"), "{e}");
    }

    #[test]
    fn rate_limits_parse_count_and_window() {
        assert_eq!(
            "5/2h".parse(),
            Ok(RateLimit {
                count: 5,
                window_secs: 7200
            })
        );
        assert_eq!(
            "1/30m".parse(),
            Ok(RateLimit {
                count: 1,
                window_secs: 1800
            })
        );
        assert!("5 per hour".parse::<RateLimit>().is_err());
        assert!("0/1h".parse::<RateLimit>().is_err());
    }
}

#[cfg(test)]
mod contract {
    use crate::config::Config;
    use std::path::Path;

    const CONTRACT: &str = r#"
[[agents]]
name = "Bea"
email = "bea@desk.example"
unix_user = "bea"
active = true

[[teams]]
name = "support"
agents = ["alice@desk.example", "bea@desk.example", "carl@desk.example"]

[[accounts]]
name = "support"
group = true
email = "support@desk.example"
host = "127.0.0.1"
port = 143
user = "support"
[accounts.cases]
enabled = true
team = "support"
assignment = "round-robin"
assignee = "bea@desk.example"
auto_reply_template = "ack"
auto_reply_limit = "5/2h"
subject_tag = "[#{number}]"
reopen = "reopen"

[[filters]]
name = "newsletters"
from = "*@news.example"
action = "skip"
folder = "Newsletters"
"#;

    #[test]
    fn the_documented_cases_and_filters_keys_parse() {
        let cfg = Config::parse(CONTRACT, Path::new("c.toml")).expect("contract parses");
        let c = cfg.accounts[0].cases.as_ref().expect("cases");
        assert!(c.enabled);
        assert_eq!(c.assignment, super::AssignmentPolicy::RoundRobin);
        assert_eq!(cfg.filters[0].action, super::FilterAction::Skip);
        assert!(cfg.agents[0].is_active());
    }

    #[test]
    fn a_wrong_reopen_value_names_the_field_and_what_to_write() {
        let bad = CONTRACT.replace("reopen = \"reopen\"", "reopen = \"later\"");
        let e = Config::parse(&bad, Path::new("c.toml"))
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("accounts.cases.reopen") && e.contains("new-after-30d"),
            "{e}"
        );
    }
}
