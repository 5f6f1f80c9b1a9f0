//! Submitting an outbox entry's bytes over SMTP with lettre: implicit TLS,
//! STARTTLS (required, never falling back to plain text) or none, AUTH with
//! the account's resolved secret, certificates checked by the account's trust
//! (pins, webpki roots plus `ca_file`) unless the agent chose `accept_invalid_certs`.

use super::diagnose::{self, Diagnosis, FailureKind, SmtpCtx};
use crate::config::{AccountConfig, SmtpConfig, TlsMode, secret};
use crate::mail::sanitize::sanitize_line;
use crate::store::OutboxEntry;
use crate::trust::Trust;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, MailBodyParameter, MailParameter};
use std::sync::Arc;
use std::time::Duration;

/// The longest wait for any single SMTP exchange.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The SMTP table of an account, or a diagnosis saying how to add one.
pub fn smtp_config(acc: &AccountConfig) -> Result<&SmtpConfig, Diagnosis> {
    acc.smtp.as_ref().ok_or_else(|| {
        Diagnosis::config(format!(
            "Not sent: account \"{}\" has no [accounts.smtp] table, so deskmail does not know \
             where to submit its mail. Add host, port, tls and user there.",
            acc.name
        ))
    })
}

/// The login name used for SMTP AUTH.
pub fn smtp_user(acc: &AccountConfig) -> String {
    acc.smtp
        .as_ref()
        .and_then(|s| s.user.clone())
        .unwrap_or_else(|| acc.user.clone())
}

/// The SMTP password. AUTH is used when `[accounts.smtp]` names a `user`
/// or a password: its own `password_command` / `password` first, else the
/// account's. A table with neither is a relay without AUTH (`Ok(None)`).
pub async fn smtp_secret(acc: &AccountConfig) -> Result<Option<secret::Secret>, Diagnosis> {
    let Some(s) = acc.smtp.as_ref() else {
        return Ok(None);
    };
    let (cmd, plain) = if s.password_command.is_some() || s.password.is_some() {
        (s.password_command.clone(), s.password.clone())
    } else if s.user.is_some() {
        (acc.password_command.clone(), acc.password.clone())
    } else {
        return Ok(None);
    };
    if cmd.is_none() && plain.is_none() {
        return Err(Diagnosis::config(format!(
            "Not sent: [accounts.smtp] of account \"{}\" names a user but no password; \
             add password_command there or to the account",
            acc.name
        )));
    }
    let name = acc.name.clone();
    let res = tokio::task::spawn_blocking(move || {
        secret::resolve(&name, cmd.as_deref(), plain.as_deref())
    })
    .await
    .map_err(|e| Diagnosis::config(format!("Not sent: resolving the password failed: {e}")))?;
    res.map(Some)
        .map_err(|e| Diagnosis::config(format!("Not sent: {e}")))
}

/// lettre's TLS settings. lettre cannot take a rustls verifier, so it is
/// told to accept any certificate (it still checks the handshake signature)
/// and [`check_certificate`] applies the account's trust right after the
/// handshake, before AUTH or any mail is sent.
fn tls_parameters(acc: &AccountConfig, s: &SmtpConfig) -> Result<TlsParameters, Diagnosis> {
    TlsParameters::builder(s.host.clone())
        .dangerous_accept_invalid_certs(true)
        .build_rustls()
        .map_err(|e| {
            Diagnosis::config(format!(
                "Not sent: TLS setup for {} of account \"{}\" failed: {e}",
                s.host, acc.name
            ))
        })
}

/// The account's SMTP trust; `None` when the agent chose not to check.
fn smtp_trust(acc: &AccountConfig) -> Result<Option<Arc<Trust>>, Diagnosis> {
    let (_, accept_invalid) = acc.smtp_trust().unwrap_or((None, false));
    if accept_invalid {
        tracing::warn!(
            account = %acc.name,
            "accept_invalid_certs = true: the SMTP server's certificate is not checked"
        );
        return Ok(None);
    }
    acc.smtp_cert_trust()
        .map(Some)
        .map_err(|e| Diagnosis::config(format!("Not sent: account \"{}\": {e}", acc.name)))
}

/// Check the certificate the server presented against the account's trust.
/// A refusal is a configuration failure: retrying cannot change it.
fn check_certificate(
    conn: &AsyncSmtpConnection,
    trust: Option<&Trust>,
    ctx: &SmtpCtx<'_>,
) -> Result<(), Diagnosis> {
    let Some(trust) = trust else {
        return Ok(());
    };
    let refused = |message: String| {
        tracing::warn!(account = %ctx.account, "{message}");
        Diagnosis {
            kind: FailureKind::Tls,
            code: None,
            server_said: String::new(),
            message,
        }
    };
    let chain = conn.certificate_chain().map_err(|e| {
        refused(format!(
            "Not sent: the secure connection to {}:{} gave no certificate to check ({}).",
            ctx.host,
            ctx.port,
            sanitize_line(&e.to_string())
        ))
    })?;
    trust.check_chain(ctx.host, &chain).map_err(|e| {
        let described = chain
            .first()
            .map(|der| {
                let table = format!("account \"{}\" (or its [accounts.smtp])", ctx.account);
                format!(" {}", crate::trust::describe_refused(der, &table))
            })
            .unwrap_or_default();
        refused(format!(
            "Not sent: the certificate of {}:{} was refused: {}.{described} Or, if the server \
             uses its own certificate authority, set ca_file to that authority's certificate. \
             Nothing changes until the configuration does, so the mail waits in the outbox: \
             retry it there after the change.",
            ctx.host,
            ctx.port,
            crate::trust::refusal_reason(&e, ctx.host),
        ))
    })
}

/// The envelope of an entry: its From and every recipient, Bcc included.
pub fn envelope(entry: &OutboxEntry) -> Result<Envelope, Diagnosis> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        Diagnosis::config(format!("Not sent: {what} is not a valid address ({e})"))
    };
    let from = entry
        .from
        .parse()
        .map_err(|e| bad(&format!("the sender \"{}\"", entry.from), &e))?;
    let mut to = Vec::with_capacity(entry.recipients.len());
    for r in &entry.recipients {
        to.push(
            r.parse()
                .map_err(|e| bad(&format!("the recipient \"{r}\""), &e))?,
        );
    }
    Envelope::new(Some(from), to).map_err(|e| bad("the recipient list", &e))
}

/// Saying goodbye to a server that just failed us is not worth more.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// RFC 5321 4.5.3.2.6: a client waits at least 10 minutes for the reply to
/// the final dot, because the server may be checking the mail before it answers.
pub const FINAL_REPLY_TIMEOUT: Duration = Duration::from_secs(600);

/// Why a submission did not end with the server's "accepted".
#[derive(Debug, Clone)]
pub enum SubmitError {
    /// Nothing was accepted: the failure came before the message data, or the
    /// server answered the data with a refusal.
    NotSent(Diagnosis),
    /// The message data began but no verdict came back: the server may have
    /// accepted the mail, so it must be looked for in Sent before any retry.
    Unverified(Diagnosis),
}

impl From<Diagnosis> for SubmitError {
    fn from(d: Diagnosis) -> Self {
        SubmitError::NotSent(d)
    }
}

/// How long the reply to the final dot may take for this account.
pub fn final_reply_timeout(s: &SmtpConfig) -> Duration {
    s.final_reply_timeout_secs
        .map(Duration::from_secs)
        .unwrap_or(FINAL_REPLY_TIMEOUT)
}

async fn bounded<T>(
    ctx: &SmtpCtx<'_>,
    fut: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, Diagnosis> {
    match tokio::time::timeout(SMTP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(diagnose::smtp_error(ctx, &e)),
        Err(_) => Err(Diagnosis::temporary(format!(
            "Not sent yet: {}:{} took too long to answer; the outbox will retry.",
            ctx.host, ctx.port
        ))),
    }
}

/// Connect, start TLS as configured and log in (with `token` when the
/// account uses OAuth2): everything before MAIL FROM.
async fn open_once(
    acc: &AccountConfig,
    s: &SmtpConfig,
    ctx: &SmtpCtx<'_>,
    token: Option<secret::Secret>,
) -> Result<AsyncSmtpConnection, Diagnosis> {
    let hello = ClientId::default();
    let trust = match s.tls {
        TlsMode::None => None,
        _ => smtp_trust(acc)?,
    };
    let wrapper = match s.tls {
        TlsMode::Tls => Some(tls_parameters(acc, s)?),
        _ => None,
    };
    let mut conn = bounded(
        ctx,
        AsyncSmtpConnection::connect_tokio1(
            (s.host.as_str(), s.port),
            Some(SMTP_TIMEOUT),
            &hello,
            wrapper,
            None,
        ),
    )
    .await?;
    if s.tls == TlsMode::Starttls {
        // Required: a server without STARTTLS is an error, never plain text.
        let params = tls_parameters(acc, s)?;
        bounded(ctx, conn.starttls(params, &hello)).await?;
    }
    if s.tls != TlsMode::None
        && let Err(d) = check_certificate(&conn, trust.as_deref(), ctx)
    {
        let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.abort()).await;
        return Err(d);
    }
    if let Some(token) = token {
        let creds = Credentials::new(smtp_user(acc), token.expose().to_string());
        // lettre speaks XOAUTH2 only; Gmail and Microsoft 365 accept it.
        let res =
            tokio::time::timeout(SMTP_TIMEOUT, conn.auth(&[Mechanism::Xoauth2], &creds)).await;
        if let Ok(Err(e)) = res {
            let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.abort()).await;
            let server = sanitize_line(&e.to_string());
            return Err(Diagnosis {
                kind: FailureKind::AuthFailed,
                code: e.status().map(|c| c.to_string()),
                message: format!(
                    "Not sent: {}:{} refused the OAuth2 token of \"{}\", also after \
                     oauth2_token_command was run again. Run that command by hand: if it fails or \
                     prints an old token, sign in again with your token helper (for example \
                     `oama authorize`). The server said: \"{server}\"",
                    ctx.host, ctx.port, ctx.user
                ),
                server_said: server,
            });
        }
        if res.is_err() {
            return Err(Diagnosis::temporary(format!(
                "Not sent yet: {}:{} took too long to answer; the outbox will retry.",
                ctx.host, ctx.port
            )));
        }
    } else if let Some(secret) = smtp_secret(acc).await? {
        let creds = Credentials::new(smtp_user(acc), secret.expose().to_string());
        bounded(
            ctx,
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds),
        )
        .await?;
    }
    Ok(conn)
}

/// Connect and log in; with OAuth2 a refused token is fetched again once,
/// since the command may have handed out one that just expired.
async fn open(
    acc: &AccountConfig,
    s: &SmtpConfig,
    ctx: &SmtpCtx<'_>,
) -> Result<AsyncSmtpConnection, Diagnosis> {
    if !acc.auth.is_oauth() {
        return open_once(acc, s, ctx, None).await;
    }
    let mut refused = None;
    for attempt in 0..2 {
        let token = crate::sync::connect::resolve_token(acc)
            .await
            .map_err(|e| Diagnosis::config(format!("Not sent: {e}")))?;
        match open_once(acc, s, ctx, Some(token)).await {
            Err(d) if d.kind == FailureKind::AuthFailed => {
                tracing::warn!(account = %acc.name, attempt, "SMTP refused the OAuth2 token: {}", d.server_said);
                refused = Some(d);
            }
            other => return other,
        }
    }
    Err(refused.unwrap_or_else(|| Diagnosis::config("Not sent: the OAuth2 login failed")))
}

/// Submit the entry's bytes; `Ok` once the server accepted DATA.
pub async fn submit(acc: &AccountConfig, entry: &OutboxEntry) -> Result<(), SubmitError> {
    let s = smtp_config(acc)?;
    let envelope = envelope(entry)?;
    let user = smtp_user(acc);
    let ctx = SmtpCtx {
        account: &acc.name,
        host: &s.host,
        port: s.port,
        user: &user,
        from: &entry.from,
        recipients: &entry.recipients,
    };
    let mut conn = open(acc, s, &ctx).await?;
    let before_data = async {
        let mut options = Vec::new();
        let non_ascii = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .any(|a: &lettre::Address| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii {
            options.push(MailParameter::SmtpUtfEight);
        }
        if !entry.raw.is_ascii() {
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        bounded(
            &ctx,
            conn.command(Mail::new(envelope.from().cloned(), options)),
        )
        .await?;
        for to in envelope.to() {
            bounded(&ctx, conn.command(Rcpt::new(to.clone(), vec![]))).await?;
        }
        bounded(&ctx, conn.command(Data)).await
    }
    .await;
    if let Err(d) = before_data {
        let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.abort()).await;
        return Err(SubmitError::NotSent(d));
    }
    // From here on the server may take the mail whatever we see next.
    let wait = final_reply_timeout(s);
    let result = tokio::time::timeout(wait, conn.message(&entry.raw)).await;
    match result {
        Ok(Ok(_)) => {
            // Accepted: recording that must not wait for the goodbye.
            tokio::spawn(async move {
                let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.quit()).await;
            });
            Ok(())
        }
        // The server answered the data with a refusal: it did not take it.
        Ok(Err(e)) if e.is_permanent() || e.is_transient() => {
            let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.abort()).await;
            Err(SubmitError::NotSent(diagnose::smtp_error(&ctx, &e)))
        }
        Ok(Err(e)) => {
            let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.abort()).await;
            Err(SubmitError::Unverified(Diagnosis::temporary(format!(
                "{}:{} did not confirm the mail after its data was sent ({}); it is looked \
                 for in Sent before it is sent again.",
                s.host,
                s.port,
                crate::mail::sanitize::sanitize_line(&e.to_string())
            ))))
        }
        Err(_) => Err(SubmitError::Unverified(Diagnosis::temporary(format!(
            "{}:{} gave no answer within {} s after the mail's data was sent; it is looked \
             for in Sent before it is sent again.",
            s.host,
            s.port,
            wait.as_secs()
        )))),
    }
}

/// `deskmail doctor`: connect to the account's SMTP server, say EHLO, start
/// TLS, check the certificate and log in as configured, without sending anything.
pub async fn check(acc: &AccountConfig) -> Result<(), Diagnosis> {
    let s = smtp_config(acc)?;
    let user = smtp_user(acc);
    let ctx = SmtpCtx {
        account: &acc.name,
        host: &s.host,
        port: s.port,
        user: &user,
        from: &acc.email,
        recipients: &[],
    };
    let mut conn = open(acc, s, &ctx).await?;
    let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.quit()).await;
    Ok(())
}
