//! Submitting an outbox entry's bytes over SMTP with lettre: implicit TLS,
//! STARTTLS (required, never falling back to plain text) or none, AUTH with
//! the account's resolved secret, certificates checked against the webpki
//! roots plus `ca_file` unless the agent chose `accept_invalid_certs`.

use super::diagnose::{self, Diagnosis, SmtpCtx};
use crate::config::{AccountConfig, SmtpConfig, TlsMode, secret};
use crate::store::OutboxEntry;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
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

/// Submit the entry's bytes; `Ok` once the server accepted DATA.
pub async fn submit(acc: &AccountConfig, entry: &OutboxEntry) -> Result<(), Diagnosis> {
    let s = smtp_config(acc)?;
    let envelope = envelope(entry)?;
    let mailer = transport(acc).await?;
    let user = smtp_user(acc);
    let ctx = SmtpCtx {
        account: &acc.name,
        host: &s.host,
        port: s.port,
        user: &user,
        from: &entry.from,
        recipients: &entry.recipients,
    };
    // lettre's own timeout covers each exchange; this bounds the whole.
    match tokio::time::timeout(SMTP_TIMEOUT * 4, mailer.send_raw(&envelope, &entry.raw)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(diagnose::smtp_error(&ctx, &e)),
        Err(_) => Err(Diagnosis::temporary(format!(
            "Not sent yet: {}:{} took too long; the outbox will retry.",
            s.host, s.port
        ))),
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
