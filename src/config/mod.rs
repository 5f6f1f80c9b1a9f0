//! The `config.toml` model, its validation and secrets.
//! Owns reading the user's configuration; never logs a password.

pub mod cases;
pub mod edit;
pub mod files;
pub mod identities;
pub mod paths;
pub mod secret;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use files::{dir_entries, read_optional};

/// A configuration problem, always naming the file (and line where known).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: PathBuf, message: String },
    #[error("{file} line {line}: {field}: {message}")]
    Invalid {
        file: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
    #[error("{0}")]
    Secret(#[from] secret::SecretError),
    /// Several invalid fields, all of them listed.
    #[error("{file}: {} fields are invalid:{}", problems.len(), list_problems(problems))]
    Problems {
        file: PathBuf,
        problems: Vec<FieldProblem>,
    },
}

/// One invalid field of the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub line: usize,
    pub field: String,
    pub message: String,
}

fn list_problems(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("\n  line {}: {}: {}", p.line, p.field, p.message))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    #[default]
    Imap,
    Pop3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Implicit TLS from the first byte (IMAPS 993, SMTPS 465).
    #[default]
    Tls,
    /// Plain connection upgraded with STARTTLS; refuses to go on in plain text.
    Starttls,
    /// No encryption at all (loopback or trusted networks only).
    None,
}

/// How an account logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// The password from `password_command` or `password`.
    #[default]
    Password,
    /// SASL XOAUTH2 with a token from `oauth2_token_command` (Gmail, Microsoft 365).
    Xoauth2,
    /// SASL OAUTHBEARER (RFC 7628) with a token from `oauth2_token_command`.
    Oauthbearer,
}

impl AuthMethod {
    pub fn is_oauth(self) -> bool {
        self != AuthMethod::Password
    }

    /// The SASL mechanism name.
    pub fn mechanism(self) -> &'static str {
        match self {
            AuthMethod::Password => "PLAIN",
            AuthMethod::Xoauth2 => "XOAUTH2",
            AuthMethod::Oauthbearer => "OAUTHBEARER",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub name: String,
    pub email: String,
    /// The Unix login this agent attaches to a served desk as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix_user: Option<String>,
    /// `false`: the agent gets no new cases (absent means active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

impl AgentConfig {
    pub fn is_active(&self) -> bool {
        self.active.unwrap_or(true)
    }
}

/// `[server]`: where `deskmail serve` listens and who may connect.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The socket (default `$XDG_RUNTIME_DIR/deskmail/desk.sock`).
    #[serde(default)]
    pub socket: Option<PathBuf>,
    /// The group the socket and its directory belong to (team servers).
    #[serde(default)]
    pub group: Option<String>,
}

/// `[[teams]]`: agents (by email) who share the group accounts of the team.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    pub name: String,
    #[serde(default)]
    pub agents: Vec<String>,
}

/// `Debug` is written by hand below: it never shows a password.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub tls: TlsMode,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password_command: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Unset: inherit the account's `ca_file`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// `sha256:…` of the SMTP server's own certificate; unset: the account's.
    #[serde(default)]
    pub tls_fingerprint: Option<String>,
    /// Unset: inherit the account's `accept_invalid_certs`.
    #[serde(default)]
    pub accept_invalid_certs: Option<bool>,
    /// How long to wait for the server's verdict after the mail's data;
    /// unset: the 10 minutes RFC 5321 asks for.
    #[serde(default)]
    pub final_reply_timeout_secs: Option<u64>,
}

/// What Debug shows for a password or password command: whether one is set.
fn redacted(v: &Option<String>) -> Option<&'static str> {
    v.as_ref().map(|_| "<redacted>")
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password_command", &redacted(&self.password_command))
            .field("password", &redacted(&self.password))
            .field("ca_file", &self.ca_file)
            .field("tls_fingerprint", &self.tls_fingerprint)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("final_reply_timeout_secs", &self.final_reply_timeout_secs)
            .finish()
    }
}

impl std::fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("group", &self.group)
            .field("team", &self.team)
            .field("email", &self.email)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("tls_fingerprint", &self.tls_fingerprint)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("user", &self.user)
            .field("password_command", &redacted(&self.password_command))
            .field("password", &redacted(&self.password))
            .field("auth", &self.auth)
            .field(
                "oauth2_token_command",
                &redacted(&self.oauth2_token_command),
            )
            .field("folders", &self.folders)
            .field("fetch_since", &self.fetch_since)
            .field("target_folder", &self.target_folder)
            .field("check_interval_secs", &self.check_interval_secs)
            .field("max_message_mb", &self.max_message_mb)
            .field("server_saves_sent", &self.server_saves_sent)
            .field("skip_notification", &self.skip_notification)
            .field("smtp", &self.smtp)
            .field("active", &self.active)
            .field("delete_after_download", &self.delete_after_download)
            .field(
                "max_messages_per_connection",
                &self.max_messages_per_connection,
            )
            .field("cases", &self.cases)
            .field("filters", &self.filters)
            .finish()
    }
}

/// Whether `host` is this machine (plain text there never crosses a network).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn default_check_interval() -> u64 {
    60
}

fn default_max_message_mb() -> u64 {
    50
}

fn default_true() -> bool {
    true
}

/// POP3 `delete_after_download`: `true` (at once) or `"30d"` (after so many days).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DeleteAfter {
    Now(bool),
    After(String),
}

impl DeleteAfter {
    /// Days to keep a downloaded mail on the server; `None`: never delete.
    pub fn days(&self) -> Result<Option<u32>, String> {
        match self {
            DeleteAfter::Now(true) => Ok(Some(0)),
            DeleteAfter::Now(false) => Ok(None),
            DeleteAfter::After(s) => s
                .trim()
                .strip_suffix('d')
                .and_then(|n| n.trim().parse::<u32>().ok())
                .map(Some)
                .ok_or_else(|| {
                    format!("\"{s}\" is not true, false or a number of days like \"30d\"")
                }),
        }
    }
}

/// Which folders of an IMAP account are synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Folders {
    /// These server names; none means INBOX plus the Sent folder.
    Named(Vec<String>),
    /// `folders = "subscribed"`: INBOX and whatever the user subscribed to
    /// on the server (LIST (SUBSCRIBED) or LSUB).
    Subscribed,
}

impl Default for Folders {
    fn default() -> Folders {
        Folders::Named(Vec::new())
    }
}

impl From<Vec<String>> for Folders {
    fn from(v: Vec<String>) -> Folders {
        Folders::Named(v)
    }
}

impl Folders {
    /// The names listed, empty for `"subscribed"`.
    pub fn names(&self) -> &[String] {
        match self {
            Folders::Named(v) => v,
            Folders::Subscribed => &[],
        }
    }

    /// As the account form shows it.
    pub fn display(&self) -> String {
        match self {
            Folders::Named(v) => v.join(", "),
            Folders::Subscribed => "subscribed".into(),
        }
    }
}

impl Serialize for Folders {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Folders::Named(v) => v.serialize(s),
            Folders::Subscribed => s.serialize_str("subscribed"),
        }
    }
}

impl<'de> Deserialize<'de> for Folders {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Folders, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            List(Vec<String>),
            Word(String),
        }
        match Raw::deserialize(d) {
            Ok(Raw::List(v)) => Ok(Folders::Named(v)),
            Ok(Raw::Word(w)) if w.trim().eq_ignore_ascii_case("subscribed") => {
                Ok(Folders::Subscribed)
            }
            _ => Err(serde::de::Error::custom(
                "folders is a list of folder names, like [\"INBOX\", \"Sent\"], or \"subscribed\"",
            )),
        }
    }
}

/// `Debug` is written by hand below: it never shows a password.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub name: String,
    #[serde(default)]
    pub kind: AccountKind,
    #[serde(default)]
    pub group: bool,
    /// The team whose agents see this group account on a served desk.
    #[serde(default)]
    pub team: Option<String>,
    pub email: String,
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub tls: TlsMode,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// `sha256:…` of the server's own certificate: trusted exactly, like a
    /// `ca_file` holding that certificate.
    #[serde(default)]
    pub tls_fingerprint: Option<String>,
    #[serde(default)]
    pub accept_invalid_certs: bool,
    pub user: String,
    #[serde(default)]
    pub password_command: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// `password`, `xoauth2` or `oauthbearer`; SMTP logs in the same way.
    #[serde(default)]
    pub auth: AuthMethod,
    /// With OAuth2: a command whose first output line is a fresh access token.
    #[serde(default)]
    pub oauth2_token_command: Option<String>,
    /// Monitored folders: a list (empty: INBOX plus the Sent folder) or
    /// `"subscribed"`, the folders subscribed on the server.
    #[serde(default)]
    pub folders: Folders,
    /// `YYYY-MM-DD`: older mail is not imported.
    #[serde(default)]
    pub fetch_since: Option<String>,
    /// Put imported mail into this desk folder instead of the server's name.
    #[serde(default)]
    pub target_folder: Option<String>,
    #[serde(default = "default_check_interval")]
    pub check_interval_secs: u64,
    /// Mails bigger than this many MB are imported as headers plus a note.
    #[serde(default = "default_max_message_mb")]
    pub max_message_mb: u64,
    #[serde(default)]
    pub server_saves_sent: bool,
    /// Folders whose new mail never rings the bell.
    #[serde(default)]
    pub skip_notification: Vec<String>,
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// `false`: configured but not synced.
    #[serde(default = "default_true")]
    pub active: bool,
    /// POP3: delete mail on the server once it is safely stored (`true`) or
    /// so many days after (`"30d"`).
    #[serde(default)]
    pub delete_after_download: Option<DeleteAfter>,
    /// POP3: download at most this many mails per connection.
    #[serde(default)]
    pub max_messages_per_connection: Option<u32>,
    /// `[accounts.cases]`: email-to-case for a group account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<cases::CaseConfig>,
    /// `[[accounts.filters]]`: filters applied to this account's mail only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<cases::FilterConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub agent: AgentConfig,
    /// Other agents of the desk: their addresses never become contacts.
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// The desk's system address (e.g. `desk@desk.example`).
    #[serde(default)]
    pub system_address: Option<String>,
    #[serde(default)]
    pub download_dir: Option<PathBuf>,
    #[serde(default)]
    pub theme: Option<String>,
    #[serde(default)]
    pub keymap: Option<String>,
    #[serde(default)]
    pub bell: bool,
    #[serde(default)]
    pub strip_plus_tags: bool,
    /// Also link a mail to the company whose domain the sender's address has.
    #[serde(default)]
    pub match_company_domains: bool,
    /// Mail with attachments over this many MB is not attached to records
    /// (default 10; 0 turns the limit off).
    #[serde(default)]
    pub max_attachment_mb: Option<u64>,
    /// A sync does not start with less free space than this under the data
    /// dir (default 50 MB; 0 turns the check off).
    #[serde(default)]
    pub min_free_mb: Option<u64>,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub teams: Vec<TeamConfig>,
    /// `[[filters]]`: applied to every account's mail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<cases::FilterConfig>,
}

impl Config {
    /// Every account's transport warnings, "account: warning", for the status line.
    pub fn security_warnings(&self) -> Vec<String> {
        self.accounts
            .iter()
            .flat_map(|a| {
                a.security_warnings()
                    .into_iter()
                    .map(move |w| format!("{}: {w}", a.name))
            })
            .collect()
    }

    /// Load and validate `file`. Secrets are not resolved here.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        Self::check_not_writable_by_others(file)?;
        let cfg = Self::parse(&text, file)?;
        cfg.check_plain_passwords(file)?;
        Ok(cfg)
    }

    /// Parse and validate config text; `file` is only used in messages.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.to_path_buf(),
            message: describe_toml_error(text, &e),
        })?;
        cfg.validate(text, file)?;
        Ok(cfg)
    }

    fn validate(&self, text: &str, file: &Path) -> Result<(), ConfigError> {
        let mut found = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for a in &self.accounts {
            let at = format!("name = \"{}\"", a.name);
            // Each account's problems point at lines of its own table.
            let from = text.find(&at).unwrap_or(0);
            let line = |needle: &str| {
                text[from..]
                    .find(needle)
                    .map(|pos| text[..from + pos].matches('\n').count() + 1)
                    .unwrap_or_else(|| line_of(text, &at))
            };
            if !a.name.trim().is_empty() && !seen.insert(a.name.clone()) {
                found.push(FieldProblem {
                    line: line(&at),
                    field: "accounts.name".into(),
                    message: format!(
                        "account name \"{}\" is used twice; names must be unique",
                        a.name
                    ),
                });
            }
            for (field, message) in a.problems() {
                let key = field.rsplit('.').next().unwrap_or(field);
                found.push(FieldProblem {
                    line: line(&format!("{key} =")),
                    field: format!("accounts.{field}"),
                    message,
                });
            }
            if let Some(c) = &a.cases {
                if let Err((field, message)) = c.check() {
                    found.push(FieldProblem {
                        line: line(&format!("{field} =")),
                        field: format!("accounts.cases.{field}"),
                        message,
                    });
                }
                if c.enabled
                    && let Some(team) = c.team.as_ref().or(a.team.as_ref())
                    && !self.teams.iter().any(|t| &t.name == team)
                {
                    found.push(FieldProblem {
                        line: line("team ="),
                        field: "accounts.cases.team".into(),
                        message: format!(
                            "no [[teams]] entry is named \"{team}\"; add one or fix the name"
                        ),
                    });
                }
            }
            for f in &a.filters {
                if let Err((field, message)) = f.check() {
                    found.push(FieldProblem {
                        line: line(&format!("{field} =")),
                        field: format!("accounts.filters.{field}"),
                        message,
                    });
                }
            }
        }
        for f in &self.filters {
            if let Err((field, message)) = f.check() {
                found.push(FieldProblem {
                    line: line_of(text, &format!("name = \"{}\"", f.name)),
                    field: format!("filters.{field}"),
                    message,
                });
            }
        }
        match found.len() {
            0 => Ok(()),
            1 => {
                let p = found.remove(0);
                Err(ConfigError::Invalid {
                    file: file.to_path_buf(),
                    line: p.line,
                    field: p.field,
                    message: p.message,
                })
            }
            _ => Err(ConfigError::Problems {
                file: file.to_path_buf(),
                problems: found,
            }),
        }
    }

    /// Whoever can write the config can make deskmail run a command as the
    /// agent (password_command) or send mail through another server, so a
    /// file writable by group or others is refused whatever it holds.
    fn check_not_writable_by_others(file: &Path) -> Result<(), ConfigError> {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file)
            .map_err(|source| ConfigError::Read {
                file: file.to_path_buf(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o022 != 0 {
            return Err(ConfigError::Invalid {
                file: file.to_path_buf(),
                line: 1,
                field: "file mode".into(),
                message: format!(
                    "the file is writable by group or others (mode {:o}), so anyone who can \
                     write it could run commands as you through password_command; run \
                     `chmod 600 {}` (or `chmod go-w`) and start again",
                    mode & 0o777,
                    file.display()
                ),
            });
        }
        Ok(())
    }

    /// A plain `password` is only accepted in a file nobody else can read.
    fn check_plain_passwords(&self, file: &Path) -> Result<(), ConfigError> {
        use std::os::unix::fs::PermissionsExt;
        let has_plain = self
            .accounts
            .iter()
            .any(|a| a.password.is_some() || a.smtp.as_ref().is_some_and(|s| s.password.is_some()));
        if !has_plain {
            return Ok(());
        }
        let mode = std::fs::metadata(file)
            .map_err(|source| ConfigError::Read {
                file: file.to_path_buf(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            return Err(ConfigError::Invalid {
                file: file.to_path_buf(),
                line: line_of(&text, "password ="),
                field: "password".into(),
                message: format!(
                    "a plain password is refused because the file is readable by group or others (mode {:o}); run `chmod 600 {}` or use password_command",
                    mode & 0o777,
                    file.display()
                ),
            });
        }
        Ok(())
    }

    pub fn account(&self, name: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// Every address that belongs to the desk's own people or system.
    pub fn own_addresses(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        if !self.agent.email.is_empty() {
            v.push(self.agent.email.to_lowercase());
        }
        v.extend(self.agents.iter().map(|a| a.email.to_lowercase()));
        v.extend(self.accounts.iter().map(|a| a.email.to_lowercase()));
        if let Some(s) = &self.system_address {
            v.push(s.to_lowercase());
        }
        v
    }
}

impl AccountConfig {
    /// [`AccountConfig::max_message_mb`] in bytes (at least 1 MB).
    pub fn max_message_bytes(&self) -> usize {
        usize::try_from(self.max_message_mb.max(1).saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    /// What weakens this account's transport security, one short phrase
    /// each, for the status line and `deskmail doctor`.
    pub fn security_warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.accept_invalid_certs && self.tls != TlsMode::None {
            w.push("IMAP certificate NOT verified (accept_invalid_certs = true)".to_string());
        }
        if self.tls == TlsMode::None && !is_loopback_host(&self.host) {
            w.push(format!(
                "IMAP to {} is unencrypted (tls = \"none\"): the password and mail cross the network in plain text",
                self.host
            ));
        }
        if let Some(s) = &self.smtp {
            let accept_invalid = self.smtp_trust().is_some_and(|t| t.1);
            if accept_invalid && s.tls != TlsMode::None {
                w.push("SMTP certificate NOT verified (accept_invalid_certs)".to_string());
            }
            if s.tls == TlsMode::None && !is_loopback_host(&s.host) {
                w.push(format!(
                    "SMTP to {} is unencrypted (tls = \"none\"): the password and mail cross the network in plain text",
                    s.host
                ));
            }
        }
        w
    }

    /// The SMTP trust settings, inheriting the account's when the table is
    /// silent; `accept_invalid_certs` only when SMTP is the IMAP host, since
    /// trusting one machine's broken certificate says nothing of another.
    pub fn smtp_trust(&self) -> Option<(Option<PathBuf>, bool)> {
        self.smtp.as_ref().map(|s| {
            let same_host = s.host.trim().eq_ignore_ascii_case(self.host.trim());
            let inherited = self.accept_invalid_certs && same_host;
            (
                s.ca_file.clone().or_else(|| self.ca_file.clone()),
                s.accept_invalid_certs.unwrap_or(inherited),
            )
        })
    }
}

impl AccountConfig {
    /// The certificates IMAP and POP3 trust for this account.
    pub fn trust(&self) -> Result<std::sync::Arc<crate::trust::Trust>, String> {
        crate::trust::Trust::new(self.ca_file.as_deref(), self.tls_fingerprint.as_deref())
    }

    /// The certificates SMTP trusts: its own `ca_file`/`tls_fingerprint`,
    /// else the account's.
    pub fn smtp_cert_trust(&self) -> Result<std::sync::Arc<crate::trust::Trust>, String> {
        let (ca_file, _) = self.smtp_trust().unwrap_or((None, false));
        let fingerprint = self
            .smtp
            .as_ref()
            .and_then(|s| s.tls_fingerprint.clone())
            .or_else(|| self.tls_fingerprint.clone());
        crate::trust::Trust::new(ca_file.as_deref(), fingerprint.as_deref())
    }
}

impl AccountConfig {
    /// Every invalid field of the account as (field, reason); fields of its
    /// SMTP table are named `smtp.…`. The form and `Config::parse` share it.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.name.trim().is_empty() {
            out.push(("name", "must not be empty".to_string()));
        }
        if !self.email.contains('@') {
            out.push((
                "email",
                format!("\"{}\" is not an email address", self.email),
            ));
        }
        if self.host.trim().is_empty() {
            out.push((
                "host",
                "must not be empty: the server's name or address".into(),
            ));
        }
        if self.port == 0 {
            out.push(("port", "must be a port number from 1 to 65535".into()));
        }
        if self.password_command.is_some() && self.password.is_some() {
            out.push((
                "password",
                "set either password_command or password, not both".into(),
            ));
        }
        if self.auth.is_oauth() && self.oauth2_token_command.is_none() {
            out.push((
                "oauth2_token_command",
                format!(
                    "auth = \"{}\" needs oauth2_token_command, a command that prints a \
                     fresh access token (for example `oama access you@example.com`)",
                    self.auth.mechanism().to_lowercase()
                ),
            ));
        }
        if let Some(Err(e)) = self.delete_after_download.as_ref().map(|d| d.days()) {
            out.push(("delete_after_download", e));
        }
        if let Some(since) = &self.fetch_since
            && chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d").is_err()
        {
            out.push((
                "fetch_since",
                format!("\"{since}\" is not a date like 2026-01-31"),
            ));
        }
        if let Some(fp) = self.tls_fingerprint.as_deref()
            && let Err(e) = crate::trust::parse_fingerprint(fp)
        {
            out.push(("tls_fingerprint", e));
        }
        if let Some(smtp) = &self.smtp {
            if smtp.host.trim().is_empty() {
                out.push((
                    "smtp.host",
                    "must not be empty: the SMTP server's name or address".into(),
                ));
            }
            if smtp.port == 0 {
                out.push(("smtp.port", "must be a port number from 1 to 65535".into()));
            }
            if smtp.password_command.is_some() && smtp.password.is_some() {
                out.push((
                    "smtp.password",
                    "set either password_command or password, not both".into(),
                ));
            }
            if let Some(fp) = smtp.tls_fingerprint.as_deref()
                && let Err(e) = crate::trust::parse_fingerprint(fp)
            {
                out.push(("smtp.tls_fingerprint", e));
            }
        }
        out
    }
}

/// 1-based line of the first occurrence of `needle`, or 1.
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|pos| text[..pos].matches('\n').count() + 1)
        .unwrap_or(1)
}

fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[agent]
name = "Alice Agent"
email = "alice@desk.example"

[[accounts]]
name = "support"
kind = "imap"
group = true
email = "support@desk.example"
host = "127.0.0.1"
port = 21143
tls = "starttls"
ca_file = "/path/cert.pem"
accept_invalid_certs = false
user = "support"
password_command = "printf secret"
folders = ["INBOX"]

[accounts.smtp]
host = "127.0.0.1"
port = 21587
tls = "starttls"
user = "support"
password_command = "printf secret"
"#;

    #[test]
    fn contract_example_parses() {
        let c = Config::parse(FULL, Path::new("config.toml")).expect("parses");
        assert_eq!(c.accounts[0].tls, TlsMode::Starttls);
        assert_eq!(c.accounts[0].folders, Folders::Named(vec!["INBOX".into()]));
        let (ca, invalid) = c.accounts[0].smtp_trust().expect("smtp");
        assert_eq!(ca, Some(PathBuf::from("/path/cert.pem")));
        assert!(!invalid);
    }

    #[test]
    fn folders_subscribed_parses_and_another_word_says_what_to_write() {
        let sub = FULL.replace("folders = [\"INBOX\"]", "folders = \"subscribed\"");
        let c = Config::parse(&sub, Path::new("config.toml")).expect("parses");
        assert_eq!(c.accounts[0].folders, Folders::Subscribed);
        assert_eq!(c.accounts[0].folders.display(), "subscribed");
        let bad = FULL.replace("folders = [\"INBOX\"]", "folders = \"all\"");
        let err = Config::parse(&bad, Path::new("config.toml")).expect_err("refused");
        let s = err.to_string();
        assert!(s.contains("\"subscribed\""), "{s}");
        assert!(s.contains("line 18"), "{s}");
    }

    #[test]
    fn unknown_field_names_file_and_line() {
        let bad = FULL.replace("group = true", "groop = true");
        let err = Config::parse(&bad, Path::new("/x/config.toml")).expect_err("fails");
        let s = err.to_string();
        assert!(s.contains("/x/config.toml"), "{s}");
        assert!(s.contains("line 9"), "{s}");
        assert!(s.contains("groop"), "{s}");
    }

    #[test]
    fn duplicate_account_name_is_refused() {
        let dup = format!(
            "{FULL}\n[[accounts]]\nname = \"support\"\nemail = \"x@y\"\nhost = \"h\"\nport = 1\nuser = \"u\"\n"
        );
        let err = Config::parse(&dup, Path::new("c.toml")).expect_err("dup");
        assert!(err.to_string().contains("used twice"), "{err}");
    }

    #[test]
    fn plain_password_in_world_readable_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("config.toml");
        let text = FULL.replace(
            "password_command = \"printf secret\"\nfolders",
            "password = \"hunter2\"\nfolders",
        );
        std::fs::write(&f, &text).expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = Config::load(&f).expect_err("refused");
        let s = err.to_string();
        assert!(s.contains("chmod 600"), "{s}");
        assert!(!s.contains("hunter2"), "password leaked: {s}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(Config::load(&f).is_ok());
    }

    #[test]
    fn smtp_on_another_host_does_not_inherit_accept_invalid_certs() {
        let text = FULL.replace(
            "accept_invalid_certs = false",
            "accept_invalid_certs = true",
        );
        let same = Config::parse(&text, Path::new("c.toml")).expect("parses");
        assert_eq!(same.accounts[0].smtp_trust().map(|t| t.1), Some(true));
        let other = text.replace(
            "[accounts.smtp]\nhost = \"127.0.0.1\"",
            "[accounts.smtp]\nhost = \"smtp.elsewhere.example\"",
        );
        let other = Config::parse(&other, Path::new("c.toml")).expect("parses");
        assert_eq!(other.accounts[0].smtp_trust().map(|t| t.1), Some(false));
        // Said explicitly in [accounts.smtp], it still applies.
        let explicit = other.accounts[0].clone();
        let mut explicit = explicit;
        if let Some(s) = explicit.smtp.as_mut() {
            s.accept_invalid_certs = Some(true);
        }
        assert_eq!(explicit.smtp_trust().map(|t| t.1), Some(true));
    }

    #[test]
    fn plain_text_to_a_remote_host_is_warned_about_but_not_on_loopback() {
        let text = FULL.replace("tls = \"starttls\"", "tls = \"none\"");
        let local = Config::parse(&text, Path::new("c.toml")).expect("parses");
        assert!(
            local.accounts[0].security_warnings().is_empty(),
            "{:?}",
            local.accounts[0].security_warnings()
        );
        let remote = text.replace("127.0.0.1", "mail.desk.example");
        let remote = Config::parse(&remote, Path::new("c.toml")).expect("parses");
        let w = remote.accounts[0].security_warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("IMAP") && w[0].contains("unencrypted"),
            "{w:?}"
        );
        assert!(
            w[1].contains("SMTP") && w[1].contains("unencrypted"),
            "{w:?}"
        );
    }

    #[test]
    fn debug_output_of_the_config_never_shows_a_password() {
        let text = FULL
            .replace(
                "password_command = \"printf secret\"\nfolders",
                "password = \"hunter2-imap\"\nfolders",
            )
            .replace(
                "password_command = \"printf secret\"\n",
                "password = \"hunter2-smtp\"\n",
            );
        let c = Config::parse(&text, Path::new("c.toml")).expect("parses");
        assert_eq!(c.accounts[0].password.as_deref(), Some("hunter2-imap"));
        for dump in [
            format!("{c:?}"),
            format!("{c:#?}"),
            format!("{:?}", c.accounts[0]),
            format!("{:?}", c.accounts[0].smtp),
        ] {
            assert!(
                !dump.contains("hunter2"),
                "password in Debug output: {dump}"
            );
            assert!(dump.contains("support"), "{dump}");
        }
    }

    #[test]
    fn config_writable_by_group_or_others_is_refused_whatever_it_holds() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("config.toml");
        // Only a password_command, no plain password.
        std::fs::write(&f, FULL).expect("write");
        for mode in [0o664, 0o646, 0o666] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let err = Config::load(&f).expect_err("refused");
            let s = err.to_string();
            assert!(s.contains("writable"), "{s}");
            assert!(s.contains("chmod"), "{s}");
        }
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(Config::load(&f).is_ok());
    }
}
