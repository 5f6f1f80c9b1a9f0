//! Submitting an outbox entry's bytes over SMTP with lettre: implicit TLS,
//! STARTTLS (required, never falling back to plain text) or none, AUTH with
//! the account's resolved secret, certificates checked against the webpki
//! roots plus `ca_file` unless the agent chose `accept_invalid_certs`.

use super::diagnose::{self, Diagnosis, SmtpCtx};
use crate::config::{AccountConfig, SmtpConfig, TlsMode, secret};
use crate::store::OutboxEntry;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, Tls, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, MailBodyParameter, MailParameter};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
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

fn tls_parameters(acc: &AccountConfig, s: &SmtpConfig) -> Result<TlsParameters, Diagnosis> {
    let (ca_file, accept_invalid) = acc.smtp_trust().unwrap_or((None, false));
    let mut b = TlsParameters::builder(s.host.clone());
    if let Some(file) = ca_file {
        let pem = std::fs::read(&file).map_err(|e| {
            Diagnosis::config(format!(
                "Not sent: cannot read ca_file {} of account \"{}\": {e}",
                file.display(),
                acc.name
            ))
        })?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            Diagnosis::config(format!(
                "Not sent: ca_file {} of account \"{}\" is not a PEM certificate: {e}",
                file.display(),
                acc.name
            ))
        })?;
        b = b.add_root_certificate(cert);
    }
    if accept_invalid {
        tracing::warn!(
            account = %acc.name,
            "accept_invalid_certs = true: the SMTP server's certificate is not checked"
        );
        b = b.dangerous_accept_invalid_certs(true);
    }
    b.build_rustls()
        .map_err(|e| Diagnosis::config(format!("Not sent: TLS setup for {} failed: {e}", s.host)))
}

/// A transport for the account, with credentials when a password is configured.
pub async fn transport(
    acc: &AccountConfig,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, Diagnosis> {
    let s = smtp_config(acc)?;
    let tls = match s.tls {
        TlsMode::Tls => Tls::Wrapper(tls_parameters(acc, s)?),
        TlsMode::Starttls => Tls::Required(tls_parameters(acc, s)?),
        TlsMode::None => Tls::None,
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
        .port(s.port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if let Some(secret) = smtp_secret(acc).await? {
        b = b
            .credentials(Credentials::new(
                smtp_user(acc),
                secret.expose().to_string(),
            ))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    Ok(b.build())
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

/// Connect, start TLS as configured and log in: everything before MAIL FROM.
async fn open(
    acc: &AccountConfig,
    s: &SmtpConfig,
    ctx: &SmtpCtx<'_>,
) -> Result<AsyncSmtpConnection, Diagnosis> {
    let hello = ClientId::default();
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
    if let Some(secret) = smtp_secret(acc).await? {
        let creds = Credentials::new(smtp_user(acc), secret.expose().to_string());
        bounded(
            ctx,
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds),
        )
        .await?;
    }
    Ok(conn)
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
/// TLS and log in as configured, without sending anything.
pub async fn check(acc: &AccountConfig) -> Result<(), Diagnosis> {
    let s = smtp_config(acc)?;
    let transport = transport(acc).await?;
    let user = s.user.clone().unwrap_or_default();
    let ctx = SmtpCtx {
        account: &acc.name,
        host: &s.host,
        port: s.port,
        user: &user,
        from: &acc.email,
        recipients: &[],
    };
    match transport.test_connection().await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Diagnosis::temporary(format!(
            "account \"{}\": the SMTP server {}:{} did not answer as expected",
            acc.name, s.host, s.port
        ))),
        Err(e) => Err(super::diagnose::smtp_error(&ctx, &e)),
    }
}
