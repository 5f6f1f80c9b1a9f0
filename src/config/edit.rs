//! The accounts form's model: every field of an `[[accounts]]` table as text,
//! all invalid fields found at once, and saving back into config.toml with
//! toml_edit so the user's comments and order survive. Never writes a password.

use super::{AccountConfig, AccountKind, AuthMethod, DeleteAfter, SmtpConfig, TlsMode};
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Table, Value};

/// How a field's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text; empty means unset.
    Text,
    /// Free text that must not be empty.
    Required,
    /// A whole number; empty means the default.
    Number,
    Port,
    Bool,
    Choice(&'static [&'static str]),
    /// Comma-separated names.
    List,
    /// `true`, `false` or a number of days like `30d`.
    DeleteAfter,
}

/// One field of the form: its key in the account's table (`smtp.` for the
/// SMTP table) and what it means, shown under the field.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub key: &'static str,
    pub kind: FieldKind,
    pub help: &'static str,
}

const TLS: &[&str] = &["tls", "starttls", "none"];

/// Every field of the account contract, in the README's order.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        key: "name",
        kind: FieldKind::Required,
        help: "unique name of the account",
    },
    FieldSpec {
        key: "kind",
        kind: FieldKind::Choice(&["imap", "pop3"]),
        help: "imap or pop3",
    },
    FieldSpec {
        key: "email",
        kind: FieldKind::Required,
        help: "the address mail is sent from",
    },
    FieldSpec {
        key: "host",
        kind: FieldKind::Required,
        help: "the server's name or address",
    },
    FieldSpec {
        key: "port",
        kind: FieldKind::Port,
        help: "993 IMAPS, 143 IMAP, 995 POP3S",
    },
    FieldSpec {
        key: "tls",
        kind: FieldKind::Choice(TLS),
        help: "tls, starttls or none",
    },
    FieldSpec {
        key: "user",
        kind: FieldKind::Required,
        help: "login name",
    },
    FieldSpec {
        key: "password_command",
        kind: FieldKind::Text,
        help: "prints the password, e.g. pass show mail/support",
    },
    FieldSpec {
        key: "auth",
        kind: FieldKind::Choice(&["password", "xoauth2", "oauthbearer"]),
        help: "password, xoauth2 or oauthbearer",
    },
    FieldSpec {
        key: "oauth2_token_command",
        kind: FieldKind::Text,
        help: "prints a fresh access token",
    },
    FieldSpec {
        key: "ca_file",
        kind: FieldKind::Text,
        help: "PEM file of the server's certificate or CA",
    },
    FieldSpec {
        key: "tls_fingerprint",
        kind: FieldKind::Text,
        help: "sha256:… of the server's certificate",
    },
    FieldSpec {
        key: "accept_invalid_certs",
        kind: FieldKind::Bool,
        help: "true only for testing",
    },
    FieldSpec {
        key: "group",
        kind: FieldKind::Bool,
        help: "a shared mailbox of the team",
    },
    FieldSpec {
        key: "team",
        kind: FieldKind::Text,
        help: "served desk: the team that sees this group account",
    },
    FieldSpec {
        key: "active",
        kind: FieldKind::Bool,
        help: "false: configured but not synced",
    },
    FieldSpec {
        key: "folders",
        kind: FieldKind::List,
        help: "monitored folders, or subscribed; empty: INBOX and Sent",
    },
    FieldSpec {
        key: "fetch_since",
        kind: FieldKind::Text,
        help: "YYYY-MM-DD: older mail is not imported",
    },
    FieldSpec {
        key: "target_folder",
        kind: FieldKind::Text,
        help: "desk folder for imported mail",
    },
    FieldSpec {
        key: "check_interval_secs",
        kind: FieldKind::Number,
        help: "0: only when asked",
    },
    FieldSpec {
        key: "max_message_mb",
        kind: FieldKind::Number,
        help: "bigger mail: headers and a note",
    },
    FieldSpec {
        key: "server_saves_sent",
        kind: FieldKind::Bool,
        help: "the server files sent mail itself",
    },
    FieldSpec {
        key: "skip_notification",
        kind: FieldKind::List,
        help: "folders that never ring",
    },
    FieldSpec {
        key: "delete_after_download",
        kind: FieldKind::DeleteAfter,
        help: "POP3: true, false or 30d",
    },
    FieldSpec {
        key: "max_messages_per_connection",
        kind: FieldKind::Number,
        help: "POP3: mails per connection",
    },
    FieldSpec {
        key: "smtp.host",
        kind: FieldKind::Text,
        help: "empty: this account cannot send",
    },
    FieldSpec {
        key: "smtp.port",
        kind: FieldKind::Port,
        help: "465 SMTPS, 587 submission",
    },
    FieldSpec {
        key: "smtp.tls",
        kind: FieldKind::Choice(TLS),
        help: "tls, starttls or none",
    },
    FieldSpec {
        key: "smtp.user",
        kind: FieldKind::Text,
        help: "empty: the account's user",
    },
    FieldSpec {
        key: "smtp.password_command",
        kind: FieldKind::Text,
        help: "empty: the account's password",
    },
    FieldSpec {
        key: "smtp.ca_file",
        kind: FieldKind::Text,
        help: "empty: the account's ca_file",
    },
    FieldSpec {
        key: "smtp.tls_fingerprint",
        kind: FieldKind::Text,
        help: "empty: the account's",
    },
    FieldSpec {
        key: "smtp.accept_invalid_certs",
        kind: FieldKind::Bool,
        help: "empty: the account's",
    },
    FieldSpec {
        key: "smtp.final_reply_timeout_secs",
        kind: FieldKind::Number,
        help: "empty: 10 minutes",
    },
];

/// The index of `key` in [`FIELDS`].
pub fn field_index(key: &str) -> Option<usize> {
    FIELDS.iter().position(|f| f.key == key)
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn path(v: &Option<PathBuf>) -> String {
    v.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn tls_name(t: TlsMode) -> &'static str {
    match t {
        TlsMode::Tls => "tls",
        TlsMode::Starttls => "starttls",
        TlsMode::None => "none",
    }
}

/// The account's fields as the form shows them, in [`FIELDS`] order.
pub fn values_of(a: &AccountConfig) -> Vec<String> {
    let smtp = a.smtp.as_ref();
    FIELDS
        .iter()
        .map(|f| match f.key {
            "name" => a.name.clone(),
            "kind" => match a.kind {
                AccountKind::Imap => "imap".into(),
                AccountKind::Pop3 => "pop3".into(),
            },
            "email" => a.email.clone(),
            "host" => a.host.clone(),
            "port" => a.port.to_string(),
            "tls" => tls_name(a.tls).into(),
            "user" => a.user.clone(),
            "password_command" => opt(&a.password_command),
            "auth" => a
                .auth
                .mechanism()
                .to_lowercase()
                .replace("plain", "password"),
            "oauth2_token_command" => opt(&a.oauth2_token_command),
            "ca_file" => path(&a.ca_file),
            "tls_fingerprint" => opt(&a.tls_fingerprint),
            "accept_invalid_certs" => a.accept_invalid_certs.to_string(),
            "group" => a.group.to_string(),
            "team" => opt(&a.team),
            "active" => a.active.to_string(),
            "folders" => a.folders.display(),
            "fetch_since" => opt(&a.fetch_since),
            "target_folder" => opt(&a.target_folder),
            "check_interval_secs" => a.check_interval_secs.to_string(),
            "max_message_mb" => a.max_message_mb.to_string(),
            "server_saves_sent" => a.server_saves_sent.to_string(),
            "skip_notification" => a.skip_notification.join(", "),
            "delete_after_download" => match &a.delete_after_download {
                None => String::new(),
                Some(DeleteAfter::Now(b)) => b.to_string(),
                Some(DeleteAfter::After(s)) => s.clone(),
            },
            "max_messages_per_connection" => a
                .max_messages_per_connection
                .map(|n| n.to_string())
                .unwrap_or_default(),
            "smtp.host" => smtp.map(|s| s.host.clone()).unwrap_or_default(),
            "smtp.port" => smtp.map(|s| s.port.to_string()).unwrap_or_default(),
            "smtp.tls" => smtp
                .map(|s| tls_name(s.tls).to_string())
                .unwrap_or_default(),
            "smtp.user" => smtp.map(|s| opt(&s.user)).unwrap_or_default(),
            "smtp.password_command" => smtp.map(|s| opt(&s.password_command)).unwrap_or_default(),
            "smtp.ca_file" => smtp.map(|s| path(&s.ca_file)).unwrap_or_default(),
            "smtp.tls_fingerprint" => smtp.map(|s| opt(&s.tls_fingerprint)).unwrap_or_default(),
            "smtp.accept_invalid_certs" => smtp
                .and_then(|s| s.accept_invalid_certs)
                .map(|b| b.to_string())
                .unwrap_or_default(),
            "smtp.final_reply_timeout_secs" => smtp
                .and_then(|s| s.final_reply_timeout_secs)
                .map(|n| n.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .collect()
}

/// The fields of a new account: IMAP over TLS with the usual defaults.
pub fn new_account_values() -> Vec<String> {
    FIELDS
        .iter()
        .map(|f| {
            match f.key {
                "kind" => "imap",
                "port" => "993",
                "tls" => "tls",
                "auth" => "password",
                "accept_invalid_certs" | "group" | "server_saves_sent" => "false",
                "active" => "true",
                "check_interval_secs" => "60",
                "max_message_mb" => "50",
                _ => "",
            }
            .to_string()
        })
        .collect()
}

/// An invalid field: its index in [`FIELDS`] and the reason.
pub type FieldError = (usize, String);

/// Reads the form's text field by field, collecting every problem.
struct Reader<'a> {
    values: &'a [String],
    problems: Vec<FieldError>,
}

impl Reader<'_> {
    fn raw(&self, key: &str) -> (usize, String) {
        let i = field_index(key).unwrap_or(0);
        (
            i,
            self.values
                .get(i)
                .map(|v| v.trim().to_string())
                .unwrap_or_default(),
        )
    }

    fn text(&mut self, key: &str) -> Option<String> {
        let (_, v) = self.raw(key);
        (!v.is_empty()).then_some(v)
    }

    fn required(&mut self, key: &str) -> String {
        let (i, v) = self.raw(key);
        if v.is_empty() {
            self.problems.push((i, "must not be empty".into()));
        }
        v
    }

    fn number<T: std::str::FromStr>(&mut self, key: &str) -> Option<T> {
        let (i, v) = self.raw(key);
        if v.is_empty() {
            return None;
        }
        let n = v.parse::<T>().ok();
        if n.is_none() {
            self.problems
                .push((i, format!("\"{v}\" is not a whole number")));
        }
        n
    }

    fn port(&mut self, key: &str) -> Option<u16> {
        let (i, v) = self.raw(key);
        match v.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => {
                self.problems.push((
                    i,
                    if v.is_empty() {
                        "must not be empty: a port number from 1 to 65535".into()
                    } else {
                        format!("\"{v}\" is not a port number from 1 to 65535")
                    },
                ));
                None
            }
        }
    }

    fn boolean(&mut self, key: &str) -> Option<bool> {
        let (i, v) = self.raw(key);
        match v.to_ascii_lowercase().as_str() {
            "" => None,
            "true" | "yes" | "on" => Some(true),
            "false" | "no" | "off" => Some(false),
            _ => {
                self.problems
                    .push((i, format!("\"{v}\" is not true or false")));
                None
            }
        }
    }

    fn choice(&mut self, key: &str, options: &[&str]) -> Option<String> {
        let (i, v) = self.raw(key);
        let v = v.to_ascii_lowercase();
        if v.is_empty() || options.contains(&v.as_str()) {
            return (!v.is_empty()).then_some(v);
        }
        self.problems
            .push((i, format!("\"{v}\" is not one of {}", options.join(", "))));
        None
    }

    fn list(&mut self, key: &str) -> Vec<String> {
        let (_, v) = self.raw(key);
        split_list(&v)
    }
}

fn is_subscribed(text: &str) -> bool {
    text.trim().eq_ignore_ascii_case("subscribed")
}

/// The form's folders text: the word `subscribed`, or a list of names.
fn folders_of(text: &str) -> super::Folders {
    if is_subscribed(text) {
        super::Folders::Subscribed
    } else {
        split_list(text).into()
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn tls_mode(s: Option<String>) -> TlsMode {
    match s.as_deref() {
        Some("starttls") => TlsMode::Starttls,
        Some("none") => TlsMode::None,
        _ => TlsMode::Tls,
    }
}

/// The account the form describes, or every invalid field with its reason.
/// `before` is the account as configured (its plain password, if any, is
/// kept unless a password command replaces it); `taken` are the names of
/// the other accounts.
pub fn check(
    values: &[String],
    before: Option<&AccountConfig>,
    taken: &[String],
) -> Result<AccountConfig, Vec<FieldError>> {
    let mut r = Reader {
        values,
        problems: Vec::new(),
    };
    let name = r.required("name");
    if taken.contains(&name) {
        let i = field_index("name").unwrap_or(0);
        r.problems.push((
            i,
            format!("\"{name}\" is already the name of another account"),
        ));
    }
    let kind = match r.choice("kind", &["imap", "pop3"]).as_deref() {
        Some("pop3") => AccountKind::Pop3,
        _ => AccountKind::Imap,
    };
    let email = r.required("email");
    let host = r.required("host");
    let port = r.port("port").unwrap_or(0);
    let tls = tls_mode(r.choice("tls", TLS));
    let user = r.required("user");
    let password_command = r.text("password_command");
    let auth = match r
        .choice("auth", &["password", "xoauth2", "oauthbearer"])
        .as_deref()
    {
        Some("xoauth2") => AuthMethod::Xoauth2,
        Some("oauthbearer") => AuthMethod::Oauthbearer,
        _ => AuthMethod::Password,
    };
    let delete_after_download = {
        let (i, v) = r.raw("delete_after_download");
        match v.as_str() {
            "" => None,
            "true" => Some(DeleteAfter::Now(true)),
            "false" => Some(DeleteAfter::Now(false)),
            other => {
                let d = DeleteAfter::After(other.to_string());
                if let Err(e) = d.days() {
                    r.problems.push((i, e));
                }
                Some(d)
            }
        }
    };
    let smtp_host = r.text("smtp.host");
    let smtp = smtp_host.map(|host| SmtpConfig {
        host,
        port: r.port("smtp.port").unwrap_or(0),
        tls: tls_mode(r.choice("smtp.tls", TLS)),
        user: r.text("smtp.user"),
        password_command: r.text("smtp.password_command"),
        password: before
            .and_then(|b| b.smtp.as_ref())
            .and_then(|s| s.password.clone())
            .filter(|_| r.text("smtp.password_command").is_none()),
        ca_file: r.text("smtp.ca_file").map(PathBuf::from),
        tls_fingerprint: r.text("smtp.tls_fingerprint"),
        accept_invalid_certs: r.boolean("smtp.accept_invalid_certs"),
        final_reply_timeout_secs: r.number("smtp.final_reply_timeout_secs"),
    });
    let account = AccountConfig {
        name,
        kind,
        group: r.boolean("group").unwrap_or(false),
        team: r.text("team"),
        email,
        host,
        port,
        tls,
        ca_file: r.text("ca_file").map(PathBuf::from),
        tls_fingerprint: r.text("tls_fingerprint"),
        accept_invalid_certs: r.boolean("accept_invalid_certs").unwrap_or(false),
        user,
        password: before
            .and_then(|b| b.password.clone())
            .filter(|_| password_command.is_none()),
        password_command,
        auth,
        oauth2_token_command: r.text("oauth2_token_command"),
        folders: folders_of(&r.raw("folders").1),
        fetch_since: r.text("fetch_since"),
        target_folder: r.text("target_folder"),
        check_interval_secs: r
            .number("check_interval_secs")
            .unwrap_or(super::default_check_interval()),
        max_message_mb: r
            .number("max_message_mb")
            .unwrap_or(super::default_max_message_mb()),
        server_saves_sent: r.boolean("server_saves_sent").unwrap_or(false),
        skip_notification: r.list("skip_notification"),
        smtp,
        active: r.boolean("active").unwrap_or(true),
        delete_after_download,
        max_messages_per_connection: r.number("max_messages_per_connection"),
        // The editor does not show cases and filters: they are kept as they were.
        cases: before.and_then(|b| b.cases.clone()),
        filters: before.map(|b| b.filters.clone()).unwrap_or_default(),
    };
    let mut problems = r.problems;
    for (field, message) in account.problems() {
        // A field the form already found unreadable keeps its first reason.
        let key = match field {
            "password" => "password_command",
            "smtp.password" => "smtp.password_command",
            f => f,
        };
        let i = field_index(key).unwrap_or(0);
        if !problems.iter().any(|(j, _)| *j == i) {
            problems.push((i, message));
        }
    }
    problems.sort_by_key(|(i, _)| *i);
    if problems.is_empty() {
        Ok(account)
    } else {
        Err(problems)
    }
}

/// Why config.toml could not be edited.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{file} is not valid TOML ({reason}); fix it by hand first")]
    Parse { file: PathBuf, reason: String },
    #[error("{file} has no account named \"{name}\" any more; it was changed meanwhile")]
    Missing { file: PathBuf, name: String },
    #[error("{file}: `accounts` is not a list of [[accounts]] tables; fix it by hand first")]
    Shape { file: PathBuf },
    #[error("cannot write {file}: {source}")]
    Write {
        file: PathBuf,
        source: std::io::Error,
    },
}

/// The TOML value of a field's text (already checked).
fn toml_value(kind: FieldKind, text: &str) -> Value {
    let text = text.trim();
    match kind {
        FieldKind::Number | FieldKind::Port => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(text)),
        FieldKind::Bool => Value::from(matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "yes" | "on"
        )),
        FieldKind::DeleteAfter if text == "true" || text == "false" => Value::from(text == "true"),
        FieldKind::Choice(_) => Value::from(text.to_ascii_lowercase()),
        FieldKind::List => Value::Array(split_list(text).into_iter().collect()),
        _ => Value::from(text),
    }
}

/// Set (or with empty text remove) `key` in `table`, keeping the comment
/// and spacing around a value that was there.
fn set_key(table: &mut Table, key: &str, kind: FieldKind, text: &str) {
    if text.trim().is_empty() {
        table.remove(key);
        return;
    }
    // `folders = "subscribed"` is a word, not a one-folder list.
    let mut value = if key == "folders" && is_subscribed(text) {
        Value::from("subscribed")
    } else {
        toml_value(kind, text)
    };
    if let Some(old) = table.get(key).and_then(Item::as_value) {
        *value.decor_mut() = old.decor().clone();
    }
    match table.get_mut(key) {
        Some(item) => *item = Item::Value(value),
        None => {
            table.insert(key, Item::Value(value));
        }
    }
}

/// `text` with the account `original` (a new one when `None`) changed from
/// the form's `before` values to `after`; only changed fields are touched,
/// so everything else keeps its comments, order and spelling. A password
/// is never written; a password command set here drops the plain password.
pub fn save_account(
    text: &str,
    file: &Path,
    original: Option<&str>,
    before: &[String],
    after: &[String],
) -> Result<String, EditError> {
    let mut doc: DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| EditError::Parse {
                file: file.to_path_buf(),
                reason: e.message().to_string(),
            })?;
    if doc.get("accounts").is_none() {
        doc.insert("accounts", Item::ArrayOfTables(Default::default()));
    }
    let accounts = doc
        .get_mut("accounts")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(|| EditError::Shape {
            file: file.to_path_buf(),
        })?;
    let table = match original {
        Some(name) => accounts
            .iter_mut()
            .find(|t| t.get("name").and_then(Item::as_str) == Some(name))
            .ok_or_else(|| EditError::Missing {
                file: file.to_path_buf(),
                name: name.to_string(),
            })?,
        None => {
            accounts.push(Table::new());
            let n = accounts.len();
            accounts.get_mut(n - 1).ok_or_else(|| EditError::Shape {
                file: file.to_path_buf(),
            })?
        }
    };
    let changed = |i: usize| after.get(i) != before.get(i) || original.is_none();
    for (i, f) in FIELDS.iter().enumerate() {
        if !changed(i) || f.key.starts_with("smtp.") {
            continue;
        }
        set_key(
            table,
            f.key,
            f.kind,
            after.get(i).map_or("", |s| s.as_str()),
        );
    }
    let smtp_host = field_index("smtp.host")
        .and_then(|i| after.get(i))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if smtp_host.is_empty() {
        table.remove("smtp");
    } else {
        if !table.get("smtp").is_some_and(Item::is_table) {
            table.insert("smtp", Item::Table(Table::new()));
        }
        if let Some(smtp) = table.get_mut("smtp").and_then(Item::as_table_mut) {
            for (i, f) in FIELDS.iter().enumerate() {
                let Some(key) = f.key.strip_prefix("smtp.") else {
                    continue;
                };
                if changed(i) {
                    set_key(smtp, key, f.kind, after.get(i).map_or("", |s| s.as_str()));
                }
            }
            if smtp.contains_key("password_command") {
                smtp.remove("password");
            }
        }
    }
    if table.contains_key("password_command") {
        table.remove("password");
    }
    Ok(doc.to_string())
}

/// Replace `file` with `text` at once (a crash leaves the old or the new
/// file, never half of one), readable and writable by the owner only.
pub fn write_config(file: &Path, text: &str) -> Result<(), EditError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let failed = |source| EditError::Write {
        file: file.to_path_buf(),
        source,
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    tmp.write_all(text.as_bytes()).map_err(failed)?;
    tmp.as_file().sync_all().map_err(failed)?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
    tmp.persist(file).map_err(|e| failed(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# deskmail configuration
[agent]
name = "Alice Agent"   # shown in From
email = "alice@desk.example"

# The shared support mailbox.
[[accounts]]
name = "support"
email = "support@desk.example"
# our mail server
host = "mail.desk.example"
port = 993   # IMAPS
user = "support"
password = "hunter2"

[accounts.smtp]
host = "mail.desk.example"
port = 587
tls = "starttls"

# Sales, read by Bob.
[[accounts]]
name = "sales"
email = "sales@desk.example"
host = "mail.desk.example"
port = 993
user = "sales"
password_command = "pass show sales"
"#;

    fn parse(text: &str) -> crate::config::Config {
        crate::config::Config::parse(text, Path::new("config.toml")).expect("parses")
    }

    fn set(values: &mut [String], key: &str, v: &str) {
        if let Some(i) = field_index(key) {
            values[i] = v.to_string();
        }
    }

    #[test]
    fn saving_a_changed_port_keeps_every_comment_order_and_the_other_account() {
        let cfg = parse(FILE);
        let before = values_of(&cfg.accounts[0]);
        let mut after = before.clone();
        set(&mut after, "port", "143");
        set(&mut after, "tls", "starttls");
        set(&mut after, "folders", "INBOX, Отправленные");
        let out = save_account(
            FILE,
            Path::new("config.toml"),
            Some("support"),
            &before,
            &after,
        )
        .expect("saved");
        let expected = FILE
            .replace("port = 993   # IMAPS", "port = 143   # IMAPS")
            .replace(
                "password = \"hunter2\"\n",
                "password = \"hunter2\"\ntls = \"starttls\"\nfolders = [\"INBOX\", \"Отправленные\"]\n",
            );
        assert_eq!(out, expected);
        let again = parse(&out);
        assert_eq!(again.accounts[0].port, 143);
        assert_eq!(again.accounts[1], cfg.accounts[1]);
    }

    #[test]
    fn typing_subscribed_in_the_form_saves_the_word_not_a_folder_named_so() {
        let cfg = parse(FILE);
        let before = values_of(&cfg.accounts[0]);
        let mut after = before.clone();
        set(&mut after, "folders", "Subscribed");
        let out = save_account(
            FILE,
            Path::new("config.toml"),
            Some("support"),
            &before,
            &after,
        )
        .expect("saved");
        assert!(out.contains("folders = \"subscribed\"\n"), "{out}");
        let again = parse(&out);
        assert_eq!(
            again.accounts[0].folders,
            crate::config::Folders::Subscribed
        );
    }

    #[test]
    fn an_unchanged_form_writes_the_file_back_byte_for_byte() {
        let cfg = parse(FILE);
        let v = values_of(&cfg.accounts[1]);
        let out =
            save_account(FILE, Path::new("config.toml"), Some("sales"), &v, &v).expect("saved");
        assert_eq!(out, FILE);
    }

    #[test]
    fn a_password_command_replaces_the_plain_password_and_no_password_is_ever_written() {
        let cfg = parse(FILE);
        let before = values_of(&cfg.accounts[0]);
        let mut after = before.clone();
        set(&mut after, "password_command", "pass show support");
        let out = save_account(
            FILE,
            Path::new("config.toml"),
            Some("support"),
            &before,
            &after,
        )
        .expect("saved");
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("password_command = \"pass show support\""));
        let checked = check(&after, Some(&cfg.accounts[0]), &["sales".into()]).expect("valid");
        assert_eq!(checked.password, None);
    }

    #[test]
    fn a_new_account_is_appended_with_its_smtp_table() {
        let mut v = new_account_values();
        for (k, x) in [
            ("name", "billing"),
            ("email", "billing@desk.example"),
            ("host", "imap.desk.example"),
            ("user", "billing"),
            ("password_command", "pass show billing"),
            ("smtp.host", "smtp.desk.example"),
            ("smtp.port", "465"),
        ] {
            set(&mut v, k, x);
        }
        let out = save_account(FILE, Path::new("config.toml"), None, &v, &v).expect("saved");
        assert!(out.starts_with(FILE), "{out}");
        let cfg = parse(&out);
        assert_eq!(cfg.accounts.len(), 3);
        assert_eq!(cfg.accounts[2].name, "billing");
        assert_eq!(cfg.accounts[2].smtp.as_ref().map(|s| s.port), Some(465));
    }

    #[test]
    fn every_invalid_field_is_reported_with_its_reason() {
        let cfg = parse(FILE);
        let mut v = values_of(&cfg.accounts[0]);
        set(&mut v, "email", "support.desk.example");
        set(&mut v, "port", "99999");
        set(&mut v, "fetch_since", "yesterday");
        set(&mut v, "name", "sales");
        let errs = check(&v, Some(&cfg.accounts[0]), &["sales".into()]).expect_err("invalid");
        let keys: Vec<&str> = errs.iter().map(|(i, _)| FIELDS[*i].key).collect();
        assert_eq!(keys, vec!["name", "email", "port", "fetch_since"]);
        assert!(
            errs[2].1.contains("\"99999\" is not a port number"),
            "{errs:?}"
        );
    }
}
