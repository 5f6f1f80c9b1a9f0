//! Queueing a mail from a script (`deskmail send`): recipients are checked
//! before anything else, the bytes are built and stored durably, and with
//! `wait` the outbox is drained until the mail is sent or has failed.

use super::message::{self, Draft, FileAttachment};
use super::template::{self, TemplateContext};
use super::worker::{OutboxError, drain_once};
use crate::config::Config;
use crate::store::{OutboxEntry, OutboxState, RecordKind, Store, StoreError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What `deskmail send` asks for.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    pub account: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub body_file: Option<PathBuf>,
    /// A template file, or a name under `<config dir>/templates/`.
    pub template: Option<String>,
    pub attach: Vec<PathBuf>,
    /// Drain the outbox until the mail is sent or failed for good.
    pub wait: bool,
}

/// A queued (and, with `wait`, sent) mail.
#[derive(Debug, Clone, PartialEq)]
pub struct SendOutcome {
    pub id: u64,
    pub message_id: String,
    pub state: OutboxState,
    /// Template placeholders that were left empty, and similar notes.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A recipient is not a valid address; `reason` names the offending character.
    #[error("invalid recipient \"{address}\": {reason}")]
    InvalidAddress { address: String, reason: String },
    #[error("no account named \"{0}\" in the configuration")]
    UnknownAccount(String),
    /// Missing or unreadable input (subject, body file, attachment…).
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Template(String),
    #[error("the mail could not be built: {0}")]
    Build(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// Failed for good; `reason` is the diagnosis. The entry stays in the outbox.
    #[error("{reason}")]
    Failed { id: u64, reason: String },
    #[error("outbox entry {id} was cancelled")]
    Cancelled { id: u64 },
    /// The server never confirmed it and it waits for the agent's word.
    #[error("{reason}")]
    Unconfirmed { id: u64, reason: String },
}

impl SendError {
    /// The exit status for the CLI: 2 for an invalid address or bad input,
    /// 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            SendError::InvalidAddress { .. } | SendError::Input(_) | SendError::Template(_) => 2,
            _ => 1,
        }
    }
}

/// Check every recipient before anything touches the disk or the network.
pub fn validate_recipients<'a>(
    addrs: impl IntoIterator<Item = &'a String>,
) -> Result<(), SendError> {
    for a in addrs {
        if let Err(e) = crate::mail::address::validate_recipient(a) {
            return Err(SendError::InvalidAddress {
                address: crate::mail::sanitize::sanitize_line(a),
                reason: e.to_string(),
            });
        }
    }
    Ok(())
}

fn template_text(config_dir: &std::path::Path, name: &str) -> Result<String, SendError> {
    let direct = PathBuf::from(name);
    let dir = config_dir.join("templates");
    let candidates = [direct, dir.join(name), dir.join(format!("{name}.txt"))];
    for c in &candidates {
        if c.is_file() {
            return std::fs::read_to_string(c).map_err(|e| {
                SendError::Input(format!("cannot read template {}: {e}", c.display()))
            });
        }
    }
    Err(SendError::Input(format!(
        "no template \"{name}\" (looked for {})",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// The placeholder values for a mail to `to`: the contact with that address,
/// its company, its newest open case, and the agent.
pub fn context_for(
    store: &Store,
    config: &Config,
    to: &str,
) -> Result<TemplateContext, StoreError> {
    let mut ctx = TemplateContext::new();
    ctx.set("Person.emailAddress", to.trim());
    ctx.set("User.name", config.agent.name.clone());
    let records = store.records_by_address(to.trim())?;
    let person = records
        .iter()
        .find(|r| matches!(r.kind, RecordKind::Contact | RecordKind::Lead) && !r.deleted);
    if let Some(p) = person {
        ctx.set("Person.name", p.name.clone());
        if let Some(url) = p.field("opt_out_url").or(p.field("optOutUrl")) {
            ctx.set("optOutUrl", url.to_string());
        }
        let company = match p.parent {
            Some((RecordKind::Account, id)) => store.record(RecordKind::Account, id)?,
            _ => None,
        };
        if let Some(c) = company {
            ctx.set("Account.name", c.name);
        }
        let mut cases: Vec<_> = store
            .children_of(p.reference())?
            .into_iter()
            .filter(|r| r.kind == RecordKind::Case && !r.deleted)
            .collect();
        cases.sort_by_key(|c| {
            let open = c
                .field("status")
                .is_none_or(crate::store::CaseStatus::is_open_name);
            (open, c.created)
        });
        if let Some(c) = cases.last() {
            ctx.set("Case.name", c.name.clone());
            if let Some(n) = c.field("number") {
                ctx.set("Case.number", n.to_string());
            }
        }
    }
    if let Some(c) = records
        .iter()
        .find(|r| r.kind == RecordKind::Account && !r.deleted)
    {
        ctx.set("Account.name", c.name.clone());
    }
    Ok(ctx.with_defaults())
}

/// Queue a mail from the command line; with `wait`, send it before returning.
pub async fn send_from_cli(
    config: Arc<Config>,
    store: Arc<Store>,
    req: SendRequest,
) -> Result<SendOutcome, SendError> {
    validate_recipients(req.to.iter().chain(req.cc.iter()))?;
    if req.to.is_empty() {
        return Err(SendError::Input("add a recipient with --to".into()));
    }
    let acc = config
        .account(&req.account)
        .ok_or_else(|| SendError::UnknownAccount(req.account.clone()))?;
    if req.subject.trim().is_empty() {
        return Err(SendError::Input(
            "the subject is empty; pass --subject".into(),
        ));
    }
    if req.subject.contains(['\r', '\n']) {
        return Err(SendError::Input("the subject must be a single line".into()));
    }
    let mut warnings = Vec::new();
    let body = match (&req.body_file, &req.template) {
        (Some(_), Some(_)) => {
            return Err(SendError::Input(
                "pass either --body-file or --template, not both".into(),
            ));
        }
        (None, None) => {
            return Err(SendError::Input("pass --body-file or --template".into()));
        }
        (Some(f), None) => std::fs::read_to_string(f)
            .map_err(|e| SendError::Input(format!("cannot read {}: {e}", f.display())))?,
        (None, Some(t)) => {
            let text = template_text(&crate::config::paths::config_dir(), t)?;
            let ctx = context_for(&store, &config, &req.to[0])?;
            let r = template::render(&text, &ctx);
            if !r.unknown.is_empty() {
                return Err(SendError::Template(format!(
                    "template \"{t}\" uses unknown placeholders: {}; fix the template (known: {})",
                    r.unknown
                        .iter()
                        .map(|u| format!("{{{u}}}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    template::PLACEHOLDERS
                        .iter()
                        .map(|p| format!("{{{p}}}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )));
            }
            warnings.extend(r.warnings());
            r.text
        }
    };
    if body.trim().is_empty() {
        return Err(SendError::Input("the body is empty".into()));
    }
    let mut attachments = Vec::new();
    for path in &req.attach {
        let data = std::fs::read(path).map_err(|e| {
            SendError::Input(format!("cannot read attachment {}: {e}", path.display()))
        })?;
        let filename = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".into());
        attachments.push(FileAttachment {
            content_type: message::content_type_for(&filename).to_string(),
            filename,
            data,
        });
    }
    let draft = Draft {
        from_name: config.agent.name.clone(),
        from: acc.email.clone(),
        to: req.to.clone(),
        cc: req.cc.clone(),
        bcc: vec![],
        subject: req.subject.clone(),
        body,
        attachments,
        ..Default::default()
    };
    let built = message::build(&draft, None).map_err(SendError::Build)?;
    let entry = store.enqueue(OutboxEntry {
        id: 0,
        account: acc.name.clone(),
        message_id: built.message_id.clone(),
        from: acc.email.clone(),
        recipients: built.recipients,
        subject: req.subject.clone(),
        raw: built.raw,
        state: OutboxState::Queued,
        last_error: None,
        created: chrono::Utc::now().timestamp(),
        in_reply_to: None,
        unconfirmed: false,
    })?;
    let mut outcome = SendOutcome {
        id: entry.id,
        message_id: entry.message_id.clone(),
        state: entry.state.clone(),
        warnings,
    };
    if !req.wait {
        return Ok(outcome);
    }
    outcome.state = wait_for(&config, &store, entry.id).await?;
    Ok(outcome)
}

/// Drain until entry `id` is sent (its state) or failed for good (an error).
pub async fn wait_for(
    config: &Arc<Config>,
    store: &Arc<Store>,
    id: u64,
) -> Result<OutboxState, SendError> {
    loop {
        let report = drain_once(Arc::clone(config), Arc::clone(store), None).await?;
        let Some(e) = store.outbox_entry(id)? else {
            return Err(OutboxError::NotFound(id).into());
        };
        // Held for the agent: waiting longer would never end.
        if e.unconfirmed && e.state == OutboxState::Sending && report.unverified.contains(&id) {
            return Err(SendError::Unconfirmed {
                id,
                reason: e.last_error.unwrap_or_default(),
            });
        }
        let pause = match &e.state {
            OutboxState::Sent { .. } => return Ok(e.state),
            OutboxState::Failed { reason } => {
                return Err(SendError::Failed {
                    id,
                    reason: reason.clone(),
                });
            }
            OutboxState::Cancelled => return Err(SendError::Cancelled { id }),
            OutboxState::Retrying { at, .. } => {
                if let Some(err) = &e.last_error {
                    tracing::info!(id, "{err}");
                }
                (*at - chrono::Utc::now().timestamp()).clamp(1, 60) as u64
            }
            OutboxState::Queued => 1,
            // Interrupted and not checkable yet: look again later.
            OutboxState::Sending => 30,
        };
        tokio::time::sleep(Duration::from_secs(pause)).await;
    }
}
