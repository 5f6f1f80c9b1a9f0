//! Who is on the other end of the socket and what they may touch: the
//! peer's uid (SO_PEERCRED) maps to an `[[agents]] unix_user`; an agent sees
//! their personal accounts and the group accounts of their teams.

use crate::config::{AgentConfig, Config};
use crate::protocol::{Command, Event};
use crate::serve::wire::Query;
use crate::store::{Record, RecordRef, Store};
use std::collections::BTreeSet;

/// An attached agent.
#[derive(Debug, Clone)]
pub struct Agent {
    pub config: AgentConfig,
    /// The Unix login, for the log and the status line.
    pub login: String,
    /// Accounts this agent may see; `None`: all (the server's own user).
    pub accounts: Option<BTreeSet<String>>,
}

impl Agent {
    /// The name the status line shows.
    pub fn label(&self) -> String {
        if self.config.name.is_empty() {
            self.login.clone()
        } else {
            format!("{} ({})", self.login, self.config.name)
        }
    }
}

/// The login name of `uid`, from the system's user database.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: buf outlives the call and pw_name points into it.
    let rc =
        unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut out) };
    if rc != 0 || out.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded, so pw_name is a NUL-terminated string in buf.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// The uid of this process.
pub fn my_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Map a peer to an agent; `Err` is the refusal, in words for the client.
pub fn identify(cfg: &Config, peer_uid: u32) -> Result<Agent, String> {
    let login = user_name(peer_uid).unwrap_or_else(|| format!("uid {peer_uid}"));
    let listed = std::iter::once(&cfg.agent)
        .chain(cfg.agents.iter())
        .find(|a| a.unix_user.as_deref() == Some(login.as_str()));
    if peer_uid == my_uid() {
        // The server's own user can read the store anyway.
        return Ok(Agent {
            config: listed.cloned().unwrap_or_else(|| cfg.agent.clone()),
            login,
            accounts: None,
        });
    }
    let Some(agent) = listed else {
        return Err(format!(
            "Unix user {login} (uid {peer_uid}) is not an agent of this desk; \
             the desk's administrator can add `unix_user = \"{login}\"` to that \
             agent's [[agents]] entry in the server's config"
        ));
    };
    Ok(Agent {
        config: agent.clone(),
        login,
        accounts: Some(visible_accounts(cfg, agent)),
    })
}

/// Personal accounts with the agent's address, group accounts without a
/// team or of a team that lists the agent.
pub fn visible_accounts(cfg: &Config, agent: &AgentConfig) -> BTreeSet<String> {
    let me = agent.email.to_lowercase();
    let in_team = |t: &str| {
        cfg.teams
            .iter()
            .any(|team| team.name == t && team.agents.iter().any(|a| a.to_lowercase() == me))
    };
    cfg.accounts
        .iter()
        .filter(|a| {
            if a.group {
                a.team.as_deref().is_none_or(in_team)
            } else {
                a.email.to_lowercase() == me
            }
        })
        .map(|a| a.name.clone())
        .collect()
}

impl Agent {
    pub fn sees_account(&self, account: &str) -> bool {
        self.accounts.as_ref().is_none_or(|a| a.contains(account))
    }

    fn check_account(&self, account: &str) -> Result<(), String> {
        if self.sees_account(account) {
            return Ok(());
        }
        Err(format!(
            "account \"{}\" is not one of yours or your team's",
            crate::mail::sanitize::sanitize_line(account)
        ))
    }

    fn check_mails(&self, store: &Store, ids: &[u64]) -> Result<(), String> {
        if self.accounts.is_none() {
            return Ok(());
        }
        for id in ids {
            let locs = store.locations(*id).map_err(|e| e.to_string())?;
            // A mail nobody stored yet (a fresh draft id) belongs to no account.
            if !locs.is_empty() && !locs.iter().any(|l| self.sees_account(&l.account)) {
                return Err(format!(
                    "mail {id} is in an account that is not yours or your team's"
                ));
            }
        }
        Ok(())
    }

    /// Whether the agent may see record `r`: a record linked to mail, all
    /// of it in accounts the agent does not see, is another team's. Records
    /// linked to no stored mail are everyone's.
    pub fn sees_record(&self, store: &Store, r: RecordRef) -> Result<bool, String> {
        if self.accounts.is_none() {
            return Ok(true);
        }
        let mut placed = false;
        for id in store.messages_of(r).map_err(|e| e.to_string())? {
            for loc in store.locations(id).map_err(|e| e.to_string())? {
                if self.sees_account(&loc.account) {
                    return Ok(true);
                }
                placed = true;
            }
        }
        Ok(!placed)
    }

    fn check_record(&self, store: &Store, r: RecordRef) -> Result<(), String> {
        if self.sees_record(store, r)? {
            return Ok(());
        }
        Err(format!(
            "{} {} is linked only to mail of accounts that are not yours or your team's",
            r.0.name(),
            r.1
        ))
    }

    /// The records of `list` this agent may see; the rest are logged.
    pub fn visible_records(&self, store: &Store, list: Vec<Record>, what: &str) -> Vec<Record> {
        if self.accounts.is_none() {
            return list;
        }
        let before = list.len();
        let kept: Vec<Record> = list
            .into_iter()
            .filter(|r| self.sees_record(store, r.reference()).unwrap_or(false))
            .collect();
        if kept.len() < before {
            tracing::info!(
                "serve: {} asked for {what}; {} record(s) of other teams' accounts left out",
                self.login,
                before - kept.len()
            );
        }
        kept
    }

    /// Refused when case `id` belongs to an account this agent does not see.
    fn check_case(&self, store: &Store, id: u64) -> Result<(), String> {
        let Some(r) = store
            .record(crate::store::RecordKind::Case, id)
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        if let Some(a) = r.field("account").filter(|a| !a.is_empty()) {
            return self.check_account(a);
        }
        let mails = store
            .messages_of(r.reference())
            .map_err(|e| e.to_string())?;
        self.check_mails(store, &mails)
    }

    /// Whether this agent may run `cmd`; `Err` says why not.
    pub fn check_command(&self, store: &Store, cmd: &Command) -> Result<(), String> {
        match cmd {
            Command::SetFlags { id, account, .. }
            | Command::Trash { id, account, .. }
            | Command::MoveTo { id, account, .. } => {
                self.check_account(account)?;
                self.check_mails(store, &[*id])
            }
            Command::SetFlagsMany { ids, account, .. }
            | Command::MoveMany { ids, account, .. }
            | Command::TrashMany { ids, account, .. }
            | Command::Snooze { ids, account, .. } => {
                self.check_account(account)?;
                self.check_mails(store, ids)
            }
            Command::Render { id, .. }
            | Command::Unlink { id, .. }
            | Command::CreateFromMail { id, .. } => self.check_mails(store, &[*id]),
            Command::Link { id, record } => {
                self.check_mails(store, &[*id])?;
                self.check_record(store, *record)
            }
            Command::LinkMany { ids, record } => {
                self.check_mails(store, ids)?;
                self.check_record(store, *record)
            }
            Command::Relink { ids } | Command::CreateCaseFromMails { ids } => {
                self.check_mails(store, ids)
            }
            Command::ToggleFollow { record }
            | Command::DeleteRecord { record }
            | Command::RestoreRecord { record } => self.check_record(store, *record),
            // A new record (id 0) is nobody's yet.
            Command::SaveRecord { record } if record.id != 0 => {
                self.check_record(store, record.reference())
            }
            Command::Send(out) => {
                self.check_account(&out.account)?;
                if let Some(c) = out.case {
                    self.check_case(store, c)?;
                }
                self.check_mails(store, &out.in_reply_to.into_iter().collect::<Vec<_>>())
            }
            Command::CreateFolder { account, .. }
            | Command::RenameFolder { account, .. }
            | Command::DeleteFolder { account, .. }
            | Command::SetFolderNotify { account, .. } => self.check_account(account),
            Command::DeleteDraft { id } => self.check_draft(store, *id),
            Command::UpdateCase { case, .. } => self.check_case(store, *case),
            Command::SaveDraft(d) if d.id != 0 => self.check_draft(store, d.id),
            Command::SaveAttachments { .. } | Command::PipePart { .. } => {
                Err("attachments are saved and piped on the agent's side, not by the server".into())
            }
            // The form's password and token commands would run as the server.
            Command::TestAccount(_) => {
                Err("account settings are tested on the agent's side, not by the server".into())
            }
            _ => Ok(()),
        }
    }

    /// Whether this agent may ask `q`; `Err` says why not.
    pub fn check_query(&self, store: &Store, q: &Query) -> Result<(), String> {
        match q {
            Query::Page(p) => self.check_account(&p.account),
            Query::SpecialFolder { account, .. } | Query::ServerFolders(account) => {
                self.check_account(account)
            }
            Query::Summary(id)
            | Query::AccountOf(id)
            | Query::RawSource(id)
            | Query::BodySize(id)
            | Query::QuoteLines(id)
            | Query::LinksOf(id)
            | Query::MailBytes(id) => self.check_mails(store, &[*id]),
            Query::TemplateContext {
                parent: Some(id), ..
            } => self.check_mails(store, &[*id]),
            Query::SendMail(s) => self.check_account(&s.account),
            Query::Record(r) | Query::ChildrenOf(r) => self.check_record(store, *r),
            Query::History(r) => self.check_record(store, r.reference()),
            Query::CaseMails(id) => self.check_case(store, *id),
            // Cases and Dashboard are answered with the agent's cases only.
            _ => Ok(()),
        }
    }

    /// Whether a saved draft is this agent's: their own on a served desk;
    /// unowned ones (written before the desk was served) go to its own user.
    pub fn owns_draft(&self, d: &crate::store::drafts::StoredDraft) -> bool {
        match &d.agent {
            Some(a) => a.eq_ignore_ascii_case(&self.config.email),
            None => self.accounts.is_none(),
        }
    }

    /// Refused when draft `id` exists and is another agent's.
    fn check_draft(&self, store: &Store, id: u64) -> Result<(), String> {
        let all = store.drafts().map_err(|e| e.to_string())?;
        match all.iter().find(|d| d.id == id) {
            Some(d) if !self.owns_draft(d) => Err(format!("draft {id} is another agent's")),
            _ => Ok(()),
        }
    }

    /// Whether a desk event concerns this agent.
    pub fn wants(&self, e: &Event) -> bool {
        match e {
            Event::FolderChanged { account, .. }
            | Event::NewMail { account, .. }
            | Event::Sync { account, .. }
            | Event::FoldersChanged { account }
            | Event::AccountError { account, .. } => self.sees_account(account),
            _ => true,
        }
    }

    /// The desk's config as this agent sees it: their accounts, no secrets.
    pub fn config_for(&self, cfg: &Config) -> Config {
        let mut c = cfg.clone();
        c.agent = self.config.clone();
        // The server's paths mean nothing on the agent's side.
        c.download_dir = None;
        c.accounts.retain(|a| self.sees_account(&a.name));
        for a in &mut c.accounts {
            a.password = None;
            a.password_command = None;
            a.oauth2_token_command = None;
            if let Some(s) = &mut a.smtp {
                s.password = None;
                s.password_command = None;
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::parse(
            r#"
[agent]
name = "Owner"
email = "owner@desk.example"

[[agents]]
name = "Alice"
email = "alice@desk.example"
unix_user = "alice"

[[agents]]
name = "Bob"
email = "bob@desk.example"
unix_user = "bob"

[[teams]]
name = "billing"
agents = ["Alice@desk.example"]

[[accounts]]
name = "billing"
group = true
team = "billing"
email = "billing@desk.example"
host = "127.0.0.1"
port = 993
user = "billing"

[[accounts]]
name = "info"
group = true
email = "info@desk.example"
host = "127.0.0.1"
port = 993
user = "info"

[[accounts]]
name = "bob"
email = "bob@desk.example"
host = "127.0.0.1"
port = 993
user = "bob"
password = "secret"
"#,
            std::path::Path::new("c.toml"),
        )
        .expect("parses")
    }

    #[test]
    fn a_team_account_is_seen_by_its_team_and_a_personal_one_by_its_owner() {
        let c = cfg();
        let alice = visible_accounts(&c, &c.agents[0]);
        let bob = visible_accounts(&c, &c.agents[1]);
        assert_eq!(alice.into_iter().collect::<Vec<_>>(), ["billing", "info"]);
        assert_eq!(bob.into_iter().collect::<Vec<_>>(), ["bob", "info"]);
    }

    #[test]
    fn the_config_an_agent_gets_has_no_secrets_and_no_foreign_accounts() {
        let c = cfg();
        let bob = Agent {
            config: c.agents[1].clone(),
            login: "bob".into(),
            accounts: Some(visible_accounts(&c, &c.agents[1])),
        };
        let seen = bob.config_for(&c);
        assert_eq!(seen.agent.email, "bob@desk.example");
        assert!(seen.accounts.iter().all(|a| a.name != "billing"));
        assert!(seen.accounts.iter().all(|a| a.password.is_none()));
    }

    #[test]
    fn an_agent_sees_and_deletes_only_their_own_drafts() {
        let c = cfg();
        let agent = |i: usize| Agent {
            config: c.agents[i].clone(),
            login: c.agents[i].unix_user.clone().unwrap_or_default(),
            accounts: Some(visible_accounts(&c, &c.agents[i])),
        };
        let (alice, bob) = (agent(0), agent(1));
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let saved = store
            .save_draft(&crate::store::drafts::StoredDraft {
                subject: "half an answer".into(),
                agent: Some("alice@desk.example".into()),
                ..Default::default()
            })
            .expect("draft");
        assert!(alice.owns_draft(&saved));
        assert!(!bob.owns_draft(&saved));
        let delete = Command::DeleteDraft { id: saved.id };
        assert!(alice.check_command(&store, &delete).is_ok());
        let err = bob.check_command(&store, &delete).expect_err("refused");
        assert!(err.contains("another agent's"), "{err}");
    }

    #[test]
    fn a_command_on_another_teams_folder_is_refused_with_the_account_named() {
        let c = cfg();
        let bob = Agent {
            config: c.agents[1].clone(),
            login: "bob".into(),
            accounts: Some(visible_accounts(&c, &c.agents[1])),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let cmd = Command::MoveMany {
            ids: vec![],
            account: "billing".into(),
            folder: "INBOX".into(),
            to: None,
        };
        let err = bob.check_command(&store, &cmd).expect_err("refused");
        assert!(err.contains("\"billing\""), "{err}");
        let q = Query::Page(crate::protocol::PageQuery {
            account: "info".into(),
            folder: "INBOX".into(),
            from: crate::protocol::PageFrom::After,
            cursor: None,
            n: 10,
            collapsed: false,
        });
        assert!(bob.check_query(&store, &q).is_ok());
    }

    #[test]
    fn a_record_linked_only_to_another_teams_mail_is_refused_and_left_out_of_lists() {
        let c = cfg();
        let bob = Agent {
            config: c.agents[1].clone(),
            login: "bob".into(),
            accounts: Some(visible_accounts(&c, &c.agents[1])),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let mail = |account: &str, mid: &str| crate::store::NewMail {
            account: account.into(),
            folder: "INBOX".into(),
            uidvalidity: 1,
            uid: 1,
            flags: 0,
            summary: crate::store::MessageSummary {
                message_id: mid.into(),
                subject: "Invoice".into(),
                date: 1_700_000_000,
                ..Default::default()
            },
            raw: None,
        };
        let billing = store
            .ingest(vec![mail("billing", "<1@x>")], None)
            .expect("ingest")
            .created[0];
        let info = store
            .ingest(vec![mail("info", "<2@x>")], None)
            .expect("ingest")
            .created[0];
        let put = |name: &str| {
            store
                .put_record(Record::new(crate::store::RecordKind::Contact, name))
                .expect("record")
        };
        let (theirs, shared, unlinked) = (put("Billing only"), put("Both"), put("Nobody"));
        store.link(billing, theirs.reference()).expect("link");
        store.link(billing, shared.reference()).expect("link");
        store.link(info, shared.reference()).expect("link");

        let err = bob
            .check_query(&store, &Query::Record(theirs.reference()))
            .expect_err("refused");
        assert!(err.contains("not yours or your team's"), "{err}");
        let follow = Command::ToggleFollow {
            record: theirs.reference(),
        };
        assert!(bob.check_command(&store, &follow).is_err());
        assert!(
            bob.check_query(&store, &Query::Record(shared.reference()))
                .is_ok()
        );
        let seen: Vec<String> = bob
            .visible_records(&store, vec![theirs, shared, unlinked], "records")
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(seen, ["Both", "Nobody"]);
    }
}
