//! The doctor's steps for one account (log in and list folders, SMTP log-in,
//! transport warnings) as a list of results, for `deskmail doctor` and the
//! accounts screen's "test connection". Never changes the store.

use crate::config::AccountConfig;
use crate::protocol::CheckStep;

/// Run every step for `acc`; each says how it went in plain words.
pub async fn check(acc: &AccountConfig) -> Vec<CheckStep> {
    let mut steps = Vec::new();
    let (proto, tls) = (
        match acc.kind {
            crate::config::AccountKind::Imap => "IMAP",
            crate::config::AccountKind::Pop3 => "POP3",
        },
        match acc.tls {
            crate::config::TlsMode::Tls => "tls",
            crate::config::TlsMode::Starttls => "starttls",
            crate::config::TlsMode::None => "no encryption",
        },
    );
    match crate::sync::check_account(acc).await {
        Ok(plans) => {
            steps.push(CheckStep::ok(format!(
                "{proto} {}:{} ({tls}): logged in and listed folders",
                acc.host, acc.port
            )));
            for p in plans {
                let special = p.special_use.as_deref().unwrap_or("");
                steps.push(CheckStep::ok(format!(
                    "monitors \"{}\" {special}",
                    p.server
                )));
            }
        }
        Err(e) => steps.push(CheckStep::failed(format!(
            "{proto} {}:{} ({tls}): {e}",
            acc.host, acc.port
        ))),
    }
    match &acc.smtp {
        Some(smtp) => match crate::outbox::smtp::check(acc).await {
            Ok(()) => steps.push(CheckStep::ok(format!(
                "SMTP {}:{}: connected and logged in",
                smtp.host, smtp.port
            ))),
            Err(d) => steps.push(CheckStep::failed(format!(
                "SMTP {}:{}: {}",
                smtp.host, smtp.port, d.message
            ))),
        },
        None => steps.push(CheckStep::note(
            "no SMTP server (smtp.host), so this account cannot send".into(),
        )),
    }
    for w in acc.security_warnings() {
        steps.push(CheckStep::note(format!("warning: {w}")));
    }
    steps
}
