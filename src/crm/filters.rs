//! Filters (`[[filters]]`, `[[accounts.filters]]`): which configured filters
//! match a mail and what they add up to. Pure: the ingest stage applies the
//! verdict, the filters screen shows the matches.

use crate::config::Config;
use crate::config::cases::{FilterAction, FilterConfig};
use regex::{Regex, RegexBuilder};

/// One pattern: a wildcard (`*`, `?`; case-insensitive, the whole value) or
/// `re:` and a regular expression (searched, as written).
#[derive(Debug, Clone)]
struct Pattern(Regex);

impl Pattern {
    fn compile(p: &str) -> Result<Pattern, String> {
        if let Some(re) = p.strip_prefix("re:") {
            return Regex::new(re).map(Pattern).map_err(|e| e.to_string());
        }
        let mut re = String::from("^");
        for c in p.trim().chars() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        RegexBuilder::new(&re)
            .case_insensitive(true)
            .dot_matches_new_line(true)
            .build()
            .map(Pattern)
            .map_err(|e| e.to_string())
    }

    fn is_match(&self, s: &str) -> bool {
        self.0.is_match(s)
    }
}

/// A configured filter, compiled.
#[derive(Debug, Clone)]
pub struct Filter {
    pub config: FilterConfig,
    /// The account it belongs to; `None`: global.
    pub account: Option<String>,
    from: Option<Pattern>,
    to: Option<Pattern>,
    subject: Option<Pattern>,
    body: Option<Pattern>,
}

/// What a mail is matched on.
#[derive(Debug, Clone, Default)]
pub struct MailFacts<'a> {
    pub account: &'a str,
    pub from: Vec<&'a str>,
    /// To and Cc.
    pub to: Vec<&'a str>,
    pub subject: &'a str,
}

impl Filter {
    fn compile(config: &FilterConfig, account: Option<&str>) -> Result<Filter, String> {
        let p = |v: &Option<String>| v.as_deref().map(Pattern::compile).transpose();
        Ok(Filter {
            from: p(&config.from)?,
            to: p(&config.to)?,
            subject: p(&config.subject)?,
            body: p(&config.body)?,
            account: account.map(str::to_string),
            config: config.clone(),
        })
    }

    /// The action in words: "skip", "move to Billing", "mark-read", "no-notify".
    pub fn action_text(&self) -> String {
        match self.config.action {
            FilterAction::Skip => "skip".into(),
            FilterAction::Move => {
                format!("move to {}", self.config.folder.as_deref().unwrap_or("?"))
            }
            FilterAction::MarkRead => "mark-read".into(),
            FilterAction::NoNotify => "no-notify".into(),
        }
    }

    /// The patterns in words: "from *@news.example, subject re:^Weekly".
    pub fn patterns_text(&self) -> String {
        let c = &self.config;
        [
            ("from", &c.from),
            ("to", &c.to),
            ("subject", &c.subject),
            ("body", &c.body),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
        .collect::<Vec<_>>()
        .join(", ")
    }

    pub fn needs_body(&self) -> bool {
        self.body.is_some()
    }

    /// Whether every pattern given matches; `body` is asked for only when
    /// the other patterns matched and the filter has a body pattern.
    pub fn matches(&self, mail: &MailFacts<'_>, body: &mut dyn FnMut() -> String) -> bool {
        if self.account.as_deref().is_some_and(|a| a != mail.account) {
            return false;
        }
        let any = |p: &Option<Pattern>, values: &[&str]| {
            p.as_ref()
                .is_none_or(|p| values.iter().any(|v| p.is_match(v.trim())))
        };
        any(&self.from, &mail.from)
            && any(&self.to, &mail.to)
            && self
                .subject
                .as_ref()
                .is_none_or(|p| p.is_match(mail.subject))
            && self.body.as_ref().is_none_or(|p| p.is_match(&body()))
    }
}

/// Every filter of the desk: global ones first, then each account's.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub filters: Vec<Filter>,
}

/// What the matching filters add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Not imported.
    pub skip: bool,
    /// The first move filter's folder.
    pub move_to: Option<String>,
    pub mark_read: bool,
    pub no_notify: bool,
    /// Names of the filters that matched, in order.
    pub names: Vec<String>,
}

impl Verdict {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

impl Filters {
    /// Compile every filter; a filter that does not compile (the config
    /// check refuses those) is left out and logged.
    pub fn from_config(cfg: &Config) -> Filters {
        let mut filters = Vec::new();
        let all = cfg.filters.iter().map(|f| (f, None)).chain(
            cfg.accounts
                .iter()
                .flat_map(|a| a.filters.iter().map(move |f| (f, Some(a.name.as_str())))),
        );
        for (f, account) in all {
            match Filter::compile(f, account) {
                Ok(f) => filters.push(f),
                Err(e) => tracing::warn!(filter = %f.name, "filter left out: {e}"),
            }
        }
        Filters { filters }
    }

    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Folders the move filters of `account` file mail into.
    pub fn move_targets(&self, account: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for f in &self.filters {
            if f.account.as_deref().is_none_or(|a| a == account)
                && f.config.action == FilterAction::Move
                && let Some(t) = &f.config.folder
                && !out.contains(t)
            {
                out.push(t.clone());
            }
        }
        out
    }

    /// The filters that match, in order.
    pub fn matching<'a>(
        &'a self,
        mail: &MailFacts<'_>,
        body: &mut dyn FnMut() -> String,
    ) -> Vec<&'a Filter> {
        let mut cached: Option<String> = None;
        let mut once = || cached.get_or_insert_with(&mut *body).clone();
        self.filters
            .iter()
            .filter(|f| f.matches(mail, &mut once))
            .collect()
    }

    pub fn verdict(&self, mail: &MailFacts<'_>, body: &mut dyn FnMut() -> String) -> Verdict {
        let mut v = Verdict::default();
        for f in self.matching(mail, body) {
            match f.config.action {
                FilterAction::Skip => v.skip = true,
                FilterAction::Move => {
                    if v.move_to.is_none() {
                        v.move_to = f.config.folder.clone();
                    }
                }
                FilterAction::MarkRead => v.mark_read = true,
                FilterAction::NoNotify => v.no_notify = true,
            }
            v.names.push(f.config.name.clone());
        }
        v
    }
}

/// The setting holding which skip filters an account's stored mail was
/// last checked against.
fn applied_setting(account: &str) -> String {
    format!("filters.skip_applied.{account}")
}

/// When the skip filters of `account` changed since the last check, queue a
/// move to Trash for every stored mail they now match (Sent, Drafts, Trash
/// and Junk left alone); the sync pushes those moves to the server. Runs
/// once per change of the filters; returns how many mails were queued.
pub fn trash_newly_skipped(
    store: &crate::store::Store,
    filters: &Filters,
    account: &str,
) -> Result<usize, crate::store::StoreError> {
    let skips: Vec<&Filter> = filters
        .filters
        .iter()
        .filter(|f| f.config.action == FilterAction::Skip)
        .filter(|f| f.account.as_deref().is_none_or(|a| a == account))
        .collect();
    let print = serde_json::to_string(&skips.iter().map(|f| &f.config).collect::<Vec<_>>())
        .unwrap_or_default();
    let key = applied_setting(account);
    if store.setting(&key)?.as_deref() == Some(print.as_str()) {
        return Ok(0);
    }
    let only = Filters {
        filters: skips.into_iter().cloned().collect(),
    };
    let mut queued = 0;
    let folders = store.folders_by_account()?;
    let states = folders
        .iter()
        .filter(|(a, _)| a == account)
        .flat_map(|(_, f)| f.iter());
    for st in states {
        if st
            .special_use
            .as_deref()
            .is_some_and(|u| matches!(u, "\\Sent" | "\\Drafts" | "\\Trash" | "\\Junk"))
        {
            continue;
        }
        let mut after: Option<Vec<u8>> = None;
        loop {
            let rows = store.page(account, &st.name, after.as_deref(), 500)?;
            let Some(last) = rows.last() else { break };
            after = Some(last.key.clone());
            for row in &rows {
                let m = &row.summary;
                let facts = MailFacts {
                    account,
                    from: m.from.iter().map(|p| p.email.as_str()).collect(),
                    to: m
                        .to
                        .iter()
                        .chain(m.cc.iter())
                        .map(|p| p.email.as_str())
                        .collect(),
                    subject: &m.subject,
                };
                let mut body = || {
                    store
                        .body(m.id)
                        .ok()
                        .flatten()
                        .and_then(|raw| {
                            mail_parser::MessageParser::default()
                                .parse(&raw)
                                .and_then(|p| p.body_text(0).map(|t| t.into_owned()))
                        })
                        .unwrap_or_default()
                };
                if only.verdict(&facts, &mut body).skip
                    && store.queue_move(account, &st.name, m.id, None)?.is_some()
                {
                    queued += 1;
                }
            }
        }
    }
    if queued > 0 {
        tracing::info!(
            account,
            queued,
            "stored mail a new skip filter matches goes to Trash"
        );
    }
    store.set_setting(&key, &print)?;
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(toml: &str) -> Filters {
        let text = format!(
            "[[accounts]]\nname = \"support\"\nemail = \"support@desk.example\"\nhost = \"h\"\nport = 143\nuser = \"u\"\n\n{toml}"
        );
        let cfg = Config::parse(&text, std::path::Path::new("c.toml")).expect("config");
        Filters::from_config(&cfg)
    }

    fn facts<'a>(from: &'a str, subject: &'a str) -> MailFacts<'a> {
        MailFacts {
            account: "support",
            from: vec![from],
            to: vec!["support@desk.example"],
            subject,
        }
    }

    #[test]
    fn an_address_wildcard_ignores_case_and_every_given_pattern_must_match() {
        let f = filters(
            "[[filters]]\nname = \"news\"\nfrom = \"*@news.example\"\nsubject = \"re:^Weekly\"\naction = \"skip\"\n",
        );
        let mut body = || String::new();
        assert!(
            f.verdict(&facts("Offers@NEWS.example", "Weekly deals"), &mut body)
                .skip
        );
        assert!(
            !f.verdict(&facts("offers@news.example", "Your order"), &mut body)
                .skip
        );
        assert!(
            !f.verdict(&facts("ann@example.com", "Weekly deals"), &mut body)
                .skip
        );
    }

    #[test]
    fn an_account_filter_applies_to_its_account_only_and_actions_add_up() {
        let f = filters(
            "[[filters]]\nname = \"quiet\"\nsubject = \"*report*\"\naction = \"no-notify\"\n\n\
             [[accounts.filters]]\nname = \"reports\"\nfrom = \"*@monitor.example\"\naction = \"move\"\nfolder = \"Reports\"\n\n\
             [[accounts.filters]]\nname = \"read\"\nbody = \"*nightly*\"\naction = \"mark-read\"\n",
        );
        let mut asked = 0;
        let mut body = || {
            asked += 1;
            "the nightly run\nfinished".to_string()
        };
        let mail = facts("cron@monitor.example", "Daily report");
        let v = f.verdict(&mail, &mut body);
        assert_eq!(v.move_to.as_deref(), Some("Reports"));
        assert!(v.mark_read && v.no_notify && !v.skip);
        assert_eq!(v.names, ["quiet", "reports", "read"]);
        assert_eq!(asked, 1, "the body is read once");
        let other = MailFacts {
            account: "sales",
            ..mail
        };
        assert_eq!(f.verdict(&other, &mut || String::new()).names, ["quiet"]);
        assert_eq!(f.move_targets("support"), ["Reports"]);
        assert!(f.move_targets("sales").is_empty());
    }
}
