//! Auto-replies of group accounts: the customer whose mail opens a case gets
//! the account's template once, from the group address. The ingest batch
//! marks the case as owing one; right after it, this pass decides and queues
//! the mail in the outbox in one atomic write keyed by the case, so a crash
//! or a restart neither loses nor doubles it.

use crate::config::Config;
use crate::config::identities::ComposeSettings;
use crate::crm::cases::{AccountCases, CaseRules, is_system_sender, tag_subject};
use crate::outbox::message::{Draft, build};
use crate::outbox::template::{TemplateContext, render};
use crate::store::{
    MessageSummary, OutboxEntry, OutboxState, Record, RecordKind, Store, StoreError,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// `autoreply.pending.<case id>` = the mail that opened the case.
const PENDING: &str = "autoreply.pending.";
/// `autoreply.done.<case id>` = what was decided, for the log and support.
const DONE: &str = "autoreply.done.";
/// `autoreply.sent.<address>` = when auto-replies went to it (unix seconds).
const SENT_TO: &str = "autoreply.sent.";
/// Older mail gets none: a first sync of a year-old mailbox answers no one.
pub const MAX_AGE_SECS: i64 = 3 * 86_400;

/// The setting the ingest batch writes when a new case owes an auto-reply.
pub fn pending_setting(case_id: u64) -> String {
    format!("{PENDING}{case_id}")
}

/// What was decided for the case's auto-reply, if anything yet.
pub fn decision_of(store: &Store, case_id: u64) -> Result<Option<String>, StoreError> {
    store.setting(&format!("{DONE}{case_id}"))
}

/// Reports a problem the agent has to fix (a missing template), in plain words.
pub type ProblemSink = Arc<dyn Fn(String) + Send + Sync>;

/// The auto-reply settings of a desk, and where its templates are.
pub struct AutoReplies {
    cases: CaseRules,
    own: Vec<String>,
    config_dir: PathBuf,
    problems: Option<ProblemSink>,
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Outbox ids queued.
    pub queued: Vec<u64>,
    /// (case id, why not).
    pub skipped: Vec<(u64, String)>,
}

enum Decision {
    /// The mail, its recipient and the rate-limit window.
    Send(Box<OutboxEntry>, String, i64),
    Skip(String),
    /// The agent must act (template missing or wrong): said and logged.
    Problem(String),
}

/// Passes of one process never overlap: the rate limit is read and written.
static PASS: Mutex<()> = Mutex::new(());

impl AutoReplies {
    /// `None` when no group account has an `auto_reply_template`.
    pub fn from_config(cfg: &Config, config_dir: &Path) -> Option<AutoReplies> {
        let cases = CaseRules::from_config(cfg);
        cases
            .accounts
            .iter()
            .any(|a| a.config.auto_reply_template.is_some())
            .then(|| AutoReplies {
                cases,
                own: cfg.own_addresses(),
                config_dir: config_dir.to_path_buf(),
                problems: None,
            })
    }

    pub fn with_problems(mut self, sink: ProblemSink) -> AutoReplies {
        self.problems = Some(sink);
        self
    }

    /// Decide and queue every auto-reply the store owes.
    pub fn run(&self, store: &Store) -> Result<Pass, StoreError> {
        let _g = PASS.lock().unwrap_or_else(|p| p.into_inner());
        let now = chrono::Utc::now().timestamp();
        let mut pass = Pass::default();
        for (name, value) in store.settings_under(PENDING)? {
            let Some(case_id) = name
                .strip_prefix(PENDING)
                .and_then(|n| n.parse::<u64>().ok())
            else {
                store.enqueue_with_settings(None, &[], &[name])?;
                continue;
            };
            let mail_id: u64 = value.trim().parse().unwrap_or(0);
            let done = format!("{DONE}{case_id}");
            match self.decide(store, case_id, mail_id, now)? {
                Decision::Send(mut entry, to, window) => {
                    let key = format!("{SENT_TO}{to}");
                    let mut times = recent(store.setting(&key)?.as_deref(), now, window);
                    times.push(now);
                    let times = times
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(" ");
                    entry.id = store.next_id()?;
                    let id = entry.id;
                    store.enqueue_with_settings(
                        Some(*entry),
                        &[(key, times), (done, format!("queued {id}"))],
                        &[name],
                    )?;
                    tracing::info!(case = case_id, outbox = id, "auto-reply queued");
                    pass.queued.push(id);
                }
                Decision::Skip(why) => {
                    tracing::info!(case = case_id, "no auto-reply: {why}");
                    store.enqueue_with_settings(
                        None,
                        &[(done, format!("skipped: {why}"))],
                        &[name],
                    )?;
                    pass.skipped.push((case_id, why));
                }
                Decision::Problem(msg) => {
                    tracing::warn!(case = case_id, "{msg}");
                    store.enqueue_with_settings(
                        None,
                        &[(done, format!("not sent: {msg}"))],
                        &[name],
                    )?;
                    if let Some(sink) = &self.problems {
                        sink(crate::mail::sanitize::sanitize_line(&msg));
                    }
                    pass.skipped.push((case_id, msg));
                }
            }
        }
        if !pass.queued.is_empty() {
            crate::outbox::worker::nudge();
        }
        Ok(pass)
    }

    fn decide(
        &self,
        store: &Store,
        case_id: u64,
        mail_id: u64,
        now: i64,
    ) -> Result<Decision, StoreError> {
        let Some(case) = store
            .record(RecordKind::Case, case_id)?
            .filter(|c| !c.deleted)
        else {
            return Ok(Decision::Skip("the case is gone".into()));
        };
        let Some(acc) = case
            .field("account")
            .and_then(|a| self.cases.for_account(a))
        else {
            return Ok(Decision::Skip("the account has no email-to-case".into()));
        };
        let Some(template) = acc.config.auto_reply_template.clone() else {
            return Ok(Decision::Skip(
                "the account has no auto_reply_template".into(),
            ));
        };
        let Some(mail) = store.summary(mail_id)? else {
            return Ok(Decision::Skip("the mail is gone".into()));
        };
        let to = case
            .field("email")
            .unwrap_or_default()
            .trim()
            .to_lowercase();
        if !to.contains('@') {
            return Ok(Decision::Skip("the case has no customer address".into()));
        }
        if is_system_sender(&to) {
            return Ok(Decision::Skip(format!("{to} is a machine's address")));
        }
        if self.own.contains(&to) || to == acc.address {
            return Ok(Decision::Skip(format!("{to} is the desk's own address")));
        }
        if now - mail.date > MAX_AGE_SECS {
            return Ok(Decision::Skip("the mail is older than three days".into()));
        }
        let limit = acc.config.rate_limit();
        let sent = recent(
            store.setting(&format!("{SENT_TO}{to}"))?.as_deref(),
            now,
            limit.window_secs,
        );
        if sent.len() >= limit.count as usize {
            return Ok(Decision::Skip(format!(
                "{to} reached auto_reply_limit = \"{}\" ({} sent in the window)",
                acc.config.auto_reply_limit,
                sent.len()
            )));
        }
        let text = match self.template_text(&template) {
            Ok(t) => t,
            Err(e) => {
                return Ok(Decision::Problem(format!(
                    "no auto-reply for case {}: {e}; put the template there or remove auto_reply_template from account \"{}\"",
                    case.field("number").unwrap_or("?"),
                    acc.account
                )));
            }
        };
        let ctx = context(store, &case, acc, &to, &self.identity_name(acc))?;
        self.build(&case, acc, &mail, &to, &text, &ctx, now)
    }

    fn template_text(&self, name: &str) -> Result<String, String> {
        let dir = self.config_dir.join("templates");
        let candidates = [dir.join(name), dir.join(format!("{name}.txt"))];
        for c in &candidates {
            if c.is_file() {
                return std::fs::read_to_string(c)
                    .map_err(|e| format!("cannot read the template {}: {e}", c.display()));
            }
        }
        Err(format!(
            "the template \"{name}\" is not in {}",
            dir.display()
        ))
    }

    /// The group identity's name from identities.toml, if it has one.
    fn identity_name(&self, acc: &AccountCases) -> String {
        ComposeSettings::load(&self.config_dir)
            .ok()
            .and_then(|s| {
                s.identities.into_iter().find(|i| {
                    i.account == acc.account
                        && i.email
                            .as_deref()
                            .is_none_or(|e| e.trim().eq_ignore_ascii_case(&acc.address))
                })
            })
            .and_then(|i| i.name)
            .unwrap_or_default()
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        case: &Record,
        acc: &AccountCases,
        mail: &MessageSummary,
        to: &str,
        text: &str,
        ctx: &TemplateContext,
        now: i64,
    ) -> Result<Decision, StoreError> {
        let number: u64 = case
            .field("number")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        // A first line "Subject: …" gives the subject; else "Re: " the customer's.
        let (subject, body) = match text.split_once('\n') {
            Some((first, rest)) if first.trim_start().starts_with("Subject:") => (
                Some(first.trim_start()["Subject:".len()..].trim().to_string()),
                rest.trim_start_matches(['\r', '\n']).to_string(),
            ),
            _ => (None, text.to_string()),
        };
        let body = render(&body, ctx);
        let subject = subject.map(|s| render(&s, ctx));
        let unknown: Vec<String> = body
            .unknown
            .iter()
            .chain(subject.iter().flat_map(|s| s.unknown.iter()))
            .map(|u| format!("{{{u}}}"))
            .collect();
        if !unknown.is_empty() {
            return Ok(Decision::Problem(format!(
                "no auto-reply for case {number}: the template uses unknown placeholders {}; fix the template",
                unknown.join(", ")
            )));
        }
        let subject = match subject {
            Some(s) => s.text,
            None => {
                let s = mail.subject.trim();
                if s.to_lowercase().starts_with("re:") {
                    s.to_string()
                } else {
                    format!("Re: {s}")
                }
            }
        };
        let subject =
            tag_subject(&subject, &acc.config.subject_tag, number).replace(['\r', '\n'], " ");
        let draft = Draft {
            from_name: ctx.get("User.name").unwrap_or_default().to_string(),
            from: acc.address.clone(),
            to: vec![to.to_string()],
            subject: subject.clone(),
            body: body.text,
            reply_to: Some(acc.address.clone()),
            case_number: Some(number),
            ..Draft::default()
        };
        let built = match build(&draft, Some(mail)) {
            Ok(b) => b,
            Err(e) => {
                return Ok(Decision::Problem(format!(
                    "no auto-reply for case {number}: the mail could not be built ({e})"
                )));
            }
        };
        // The Message-ID says "auto-reply" so response times leave it out.
        let (local, domain) = built
            .message_id
            .split_once('@')
            .unwrap_or((built.message_id.as_str(), "deskmail.invalid"));
        let unique = local
            .strip_prefix(&format!("case{number}."))
            .and_then(|l| l.strip_suffix(".deskmail"))
            .unwrap_or(local);
        let message_id = crate::crm::cases::case_message_id(
            number,
            &format!("{}{unique}", crate::mail::thread::AUTO_REPLY_MARK),
            domain,
        );
        let old = format!("<{}>", built.message_id);
        let mut raw =
            String::from_utf8_lossy(&built.raw).replacen(&old, &format!("<{message_id}>"), 1);
        // RFC 3834: an auto-reply says so, and asks Exchange not to answer it.
        raw.insert_str(
            0,
            "Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n",
        );
        Ok(Decision::Send(
            Box::new(OutboxEntry {
                id: 0,
                account: acc.account.clone(),
                message_id,
                from: acc.address.clone(),
                recipients: built.recipients,
                subject,
                raw: raw.into_bytes(),
                state: OutboxState::Queued,
                last_error: None,
                created: now,
                // Not \Answered: an agent still owes the customer an answer.
                in_reply_to: None,
                unconfirmed: false,
            }),
            to.to_string(),
            acc.config.rate_limit().window_secs,
        ))
    }
}

/// The times in a stored list that fall within `window` seconds of `now`.
fn recent(stored: Option<&str>, now: i64, window: i64) -> Vec<i64> {
    stored
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|t| t.parse::<i64>().ok())
        .filter(|t| now.saturating_sub(*t) < window)
        .collect()
}

/// The placeholders for the case's auto-reply.
fn context(
    store: &Store,
    case: &Record,
    acc: &AccountCases,
    to: &str,
    identity: &str,
) -> Result<TemplateContext, StoreError> {
    let mut ctx = TemplateContext::new();
    ctx.set("Person.emailAddress", to);
    ctx.set(
        "User.name",
        if identity.is_empty() {
            acc.account.clone()
        } else {
            identity.to_string()
        },
    );
    if let Some(n) = case.field("number") {
        ctx.set("Case.number", n.to_string());
    }
    ctx.set("Case.name", case.name.clone());
    if let Some((kind, id)) = case.parent
        && let Some(p) = store.record(kind, id)?
    {
        ctx.set("Person.name", p.name.clone());
        if let Some((RecordKind::Account, cid)) = p.parent
            && let Some(c) = store.record(RecordKind::Account, cid)?
        {
            ctx.set("Account.name", c.name);
        }
    }
    Ok(ctx.with_defaults())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_times_inside_the_window_count() {
        assert_eq!(
            recent(Some("100 7000 7100"), 7200, 7200),
            vec![100, 7000, 7100]
        );
        assert_eq!(recent(Some("0 100 7100"), 7200, 7150), vec![100, 7100]);
        assert!(recent(None, 10, 10).is_empty());
    }

    #[test]
    fn auto_reply_ids_are_told_apart_from_other_case_mail() {
        let id = crate::crm::cases::case_message_id(7, "auto-123.9", "desk.example");
        assert!(crate::mail::thread::is_auto_reply_id(&format!("<{id}>")));
        let reply = crate::crm::cases::case_message_id(7, "123.9", "desk.example");
        assert!(!crate::mail::thread::is_auto_reply_id(&reply));
        assert_eq!(crate::crm::cases::case_in_message_id(&id), Some(7));
    }
}
