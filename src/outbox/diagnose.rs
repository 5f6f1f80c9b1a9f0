//! What a failed submission means, in plain words: whether to try again, and
//! what the agent (or the server's administrator) can do about it. The
//! server's own reason is always quoted, sanitised, after the diagnosis.

use crate::mail::sanitize::sanitize_line;
use std::time::Duration;

/// The broad reason a mail was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// 4xx or a network problem: the outbox tries again later.
    Temporary,
    /// The server refused the login (535 and friends).
    AuthFailed,
    /// The server does not let this account send as this From address.
    SenderNotAllowed,
    /// The server took the mail for spam.
    SuspectedSpam,
    /// A recipient does not exist or is not accepted.
    InvalidRecipient,
    /// The message exceeds the server's size limit.
    TooBig,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The account's configuration cannot work (no SMTP table, bad ca_file…).
    Config,
    /// Any other permanent refusal.
    Rejected,
}

/// A diagnosis: plain words plus the server's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub kind: FailureKind,
    /// The SMTP reply code, if the server answered (e.g. "535").
    pub code: Option<String>,
    /// What the server said, sanitised; empty if it said nothing.
    pub server_said: String,
    /// The whole explanation shown to the agent.
    pub message: String,
}

impl Diagnosis {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == FailureKind::Temporary
    }

    pub fn config(message: impl Into<String>) -> Diagnosis {
        Diagnosis {
            kind: FailureKind::Config,
            code: None,
            server_said: String::new(),
            message: message.into(),
        }
    }

    pub fn temporary(message: impl Into<String>) -> Diagnosis {
        Diagnosis {
            kind: FailureKind::Temporary,
            code: None,
            server_said: String::new(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where the submission went, for the wording.
#[derive(Debug, Clone, Copy)]
pub struct SmtpCtx<'a> {
    pub account: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub from: &'a str,
    pub recipients: &'a [String],
}

/// How long to wait before try number `attempt` (1-based): 30 s doubling,
/// at most an hour.
pub fn backoff(attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(7);
    Duration::from_secs((30u64 << exp).min(3600))
}

/// After this many temporary failures the entry is failed for good.
pub const MAX_ATTEMPTS: u32 = 12;

fn quote(server: &str) -> String {
    if server.is_empty() {
        String::new()
    } else {
        format!(" The server said: \"{server}\"")
    }
}

/// The server's reply as it was on the wire: code first, then its text.
fn with_code(code: &str, server: &str) -> String {
    if code.bytes().all(|b| b.is_ascii_digit()) && !code.is_empty() {
        format!("{code} {server}").trim_end().to_string()
    } else {
        server.to_string()
    }
}

/// The address the server's reply is about, if it names one of ours.
fn named_recipient(text: &str, recipients: &[String]) -> Option<String> {
    let lower = text.to_lowercase();
    recipients
        .iter()
        .find(|r| lower.contains(&r.to_lowercase()))
        .cloned()
        .or_else(|| {
            let start = text.find('<')?;
            let end = text[start..].find('>')? + start;
            let inner = &text[start + 1..end];
            inner.contains('@').then(|| inner.to_string())
        })
}

/// Diagnose a permanent (5xx) reply: `code` like "550", `text` the server's lines.
pub fn permanent(ctx: &SmtpCtx<'_>, code: &str, text: &str) -> Diagnosis {
    let server = sanitize_line(text);
    let lower = server.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let (kind, words) = if code == "535"
        || code == "534"
        || code == "530" && has(&["auth"])
        || has(&[
            "5.7.8",
            "authentication failed",
            "authentication credentials",
        ]) {
        (
            FailureKind::AuthFailed,
            format!(
                "Not sent: authentication failed — {host}:{port} refused the login of \"{user}\". \
                 If the mailbox password was changed, update password_command (or password) \
                 in [accounts.smtp] of account \"{account}\"; if the mailbox uses two-factor \
                 authentication, use an app password there. Then retry the mail from the outbox.",
                host = ctx.host,
                port = ctx.port,
                user = ctx.user,
                account = ctx.account,
            ),
        )
    } else if has(&[
        "sending quota",
        "sending limit",
        "5.4.5",
        "too many messages",
    ]) {
        (
            FailureKind::Rejected,
            format!(
                "Not sent: account \"{}\" reached its sending limit at the provider. Wait \
                 (often until the next day) and retry, or ask the provider to raise the limit.",
                ctx.account
            ),
        )
    } else if has(&[
        "mailbox full",
        "mailbox is full",
        "over quota",
        "quota exceeded",
        "5.2.2",
    ]) {
        let who = named_recipient(&server, ctx.recipients)
            .map(|a| format!("\"{}\"", sanitize_line(&a)))
            .unwrap_or_else(|| "a recipient".to_string());
        (
            FailureKind::Rejected,
            format!(
                "Not sent: the mailbox of {who} is full. Retry later, or reach them another way."
            ),
        )
    } else if code == "552"
        || has(&[
            "5.3.4",
            "too big",
            "too large",
            "size limit",
            "size exceeds",
        ])
    {
        (
            FailureKind::TooBig,
            "Not sent: the message is too big for the server. Remove or shrink attachments \
             (or share a link instead) and send again."
                .to_string(),
        )
    } else if has(&[
        "spam",
        "junk",
        "content rejected",
        "blacklist",
        "blocklist",
        "reputation",
    ]) {
        (
            FailureKind::SuspectedSpam,
            "Not sent: the server refused the mail as suspected spam. Only the mail provider \
             knows why; send its support the reason below. Sending the same text directly from \
             the mailbox may work while this refusal stands."
                .to_string(),
        )
    } else if has(&[
        "sender address rejected",
        "not owned by user",
        "insufficient",
        "not allowed to send",
        "not authorized to send",
        "not permitted to send",
        "sender not allowed",
        "permission denied",
        "5.7.0 sender",
        "5.1.8",
        "5.1.7",
    ]) || (has(&["sender"]) && !has(&["recipient"]))
    {
        (
            FailureKind::SenderNotAllowed,
            format!(
                "Not sent: the server does not let account \"{account}\" send as {from} \
                 (\"insufficient rights\"). Ask the mail server's administrator to allow this \
                 sender for login \"{user}\" (unfinished mailbox registration or an IP allow \
                 list are common causes), or pick another identity.",
                account = ctx.account,
                from = ctx.from,
                user = ctx.user,
            ),
        )
    } else if has(&[
        "recipient",
        "user unknown",
        "unknown user",
        "no such user",
        "mailbox unavailable",
        "does not exist",
        "relay access denied",
        "5.1.1",
        "5.1.2",
        "5.1.3",
        "5.1.10",
        "5.4.1",
    ]) || code == "550" && has(&["mailbox"])
    {
        let who = named_recipient(&server, ctx.recipients);
        let hint = who
            .as_deref()
            .and_then(|a| crate::mail::address::validate_recipient(a).err())
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        let who = who
            .map(|a| format!("\"{}\"", sanitize_line(&a)))
            .unwrap_or_else(|| "one of the recipients".to_string());
        (
            FailureKind::InvalidRecipient,
            format!(
                "Not sent: the server refused the recipient {who}{hint}. Check the address \
                 and retype it by hand — a Cyrillic letter can look exactly like a Latin one."
            ),
        )
    } else {
        (
            FailureKind::Rejected,
            format!(
                "Not sent: {host}:{port} refused the mail permanently.",
                host = ctx.host,
                port = ctx.port
            ),
        )
    };
    Diagnosis {
        kind,
        code: Some(code.to_string()),
        message: format!("{words}{}", quote(&with_code(code, &server))),
        server_said: server,
    }
}

/// Diagnose what lettre returned.
pub fn smtp_error(ctx: &SmtpCtx<'_>, e: &lettre::transport::smtp::Error) -> Diagnosis {
    use std::error::Error as _;
    let text = e.source().map(|s| s.to_string()).unwrap_or_default();
    let code = e.status().map(|c| c.to_string());
    if e.is_permanent() {
        return permanent(ctx, code.as_deref().unwrap_or("5xx"), &text);
    }
    let server = sanitize_line(&text);
    let where_ = format!("{}:{}", ctx.host, ctx.port);
    if e.is_transient() {
        let code = code.unwrap_or_else(|| "4xx".into());
        return Diagnosis {
            kind: FailureKind::Temporary,
            message: format!(
                "Not sent yet: {where_} asked to try again later; the outbox will retry.{}",
                quote(&with_code(&code, &server))
            ),
            code: Some(code),
            server_said: server,
        };
    }
    // rustls reports a refused certificate as a connection error after STARTTLS.
    if e.is_tls() || server.contains("invalid peer certificate") {
        return Diagnosis {
            kind: FailureKind::Tls,
            code: None,
            message: format!(
                "Not sent: the secure connection to {where_} failed ({server}). If the server \
                 uses its own certificate authority, set ca_file for account \"{}\"; check that \
                 tls = \"tls\" is used for port 465 and \"starttls\" for 587.",
                ctx.account
            ),
            server_said: server,
        };
    }
    if e.is_timeout() {
        return Diagnosis {
            kind: FailureKind::Temporary,
            code: None,
            message: format!(
                "Not sent yet: {where_} did not answer in time; the outbox will retry."
            ),
            server_said: server,
        };
    }
    if e.is_client() && !server.to_lowercase().contains("connection") {
        return Diagnosis {
            kind: FailureKind::Config,
            code: None,
            message: format!(
                "Not sent: talking to {where_} failed ({server}). Check [accounts.smtp] of \
                 account \"{}\" (tls mode and port).",
                ctx.account
            ),
            server_said: server,
        };
    }
    Diagnosis {
        kind: FailureKind::Temporary,
        code: None,
        message: format!(
            "Not sent yet: could not reach {where_} ({}); the outbox will retry.",
            if server.is_empty() {
                e.to_string()
            } else {
                server.clone()
            }
        ),
        server_said: server,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(recipients: &[String]) -> SmtpCtx<'_> {
        SmtpCtx {
            account: "support",
            host: "smtp.example.com",
            port: 587,
            user: "support",
            from: "support@desk.example",
            recipients,
        }
    }

    #[test]
    fn auth_failure_suggests_password_change_and_quotes_server() {
        let d = permanent(
            &ctx(&[]),
            "535",
            "5.7.8 Error: authentication failed: bad\x1b[31m",
        );
        assert_eq!(d.kind, FailureKind::AuthFailed);
        assert!(d.message.contains("authentication failed"), "{}", d.message);
        assert!(d.message.contains("app password"), "{}", d.message);
        assert!(
            d.message.contains("The server said: \"535 5.7.8"),
            "{}",
            d.message
        );
        assert!(!d.message.contains('\x1b'));
    }

    #[test]
    fn kinds_from_typical_replies() {
        let r = vec!["bob@example.org".to_string()];
        let c = ctx(&r);
        assert_eq!(
            permanent(&c, "554", "5.7.1 Message rejected as spam").kind,
            FailureKind::SuspectedSpam
        );
        assert_eq!(
            permanent(
                &c,
                "553",
                "5.7.1 <x@y>: Sender address rejected: not owned by user support"
            )
            .kind,
            FailureKind::SenderNotAllowed
        );
        assert_eq!(
            permanent(&c, "550", "Insufficient rights to send").kind,
            FailureKind::SenderNotAllowed
        );
        let d = permanent(&c, "554", "5.7.1 <bob@example.org>: Relay access denied");
        assert_eq!(d.kind, FailureKind::InvalidRecipient);
        assert!(d.message.contains("\"bob@example.org\""), "{}", d.message);
        assert_eq!(
            permanent(&c, "552", "5.3.4 Message size exceeds fixed limit").kind,
            FailureKind::TooBig
        );
        assert_eq!(permanent(&c, "554", "go away").kind, FailureKind::Rejected);
        let full = permanent(&c, "552", "5.2.2 <bob@example.org>: mailbox full");
        assert_eq!(full.kind, FailureKind::Rejected);
        assert!(full.message.contains("is full"), "{}", full.message);
        let quota = permanent(&c, "550", "5.4.5 Daily user sending quota exceeded.");
        assert!(quota.message.contains("sending limit"), "{}", quota.message);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(30), Duration::from_secs(3600));
    }
}
