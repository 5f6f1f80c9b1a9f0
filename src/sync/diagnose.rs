//! What went wrong with a mail server, in plain words, and what to do about it.
//!
//! Every text that came from the server is quoted after going through the
//! terminal sanitiser, so a hostile server cannot paint on the agent's screen.

use crate::mail::sanitize::sanitize_line;

/// The step of a session that failed; decides how an error reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    Tls,
    Greeting,
    Starttls,
    Login,
    List,
    Select,
    Fetch,
    Idle,
    Store,
}

impl Stage {
    fn doing(self) -> &'static str {
        match self {
            Stage::Connect => "connecting",
            Stage::Tls => "the TLS handshake",
            Stage::Greeting => "waiting for the server's greeting",
            Stage::Starttls => "STARTTLS",
            Stage::Login => "logging in",
            Stage::List => "listing folders",
            Stage::Select => "opening a folder",
            Stage::Fetch => "fetching mail",
            Stage::Idle => "waiting for new mail (IDLE)",
            Stage::Store => "changing mail on the server",
        }
    }
}

/// A diagnosed sync failure. The Display text is meant for the agent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    #[error(
        "account \"{account}\": the server refused the login for user \"{user}\": \"{server}\". \
         Was the password changed? Update password_command (or password) in the config. \
         If the mailbox uses two-factor authentication, create an app password in the mail provider's settings and use that instead"
    )]
    AuthFailed {
        account: String,
        user: String,
        server: String,
    },
    #[error(
        "account \"{account}\": the server refused the OAuth2 token ({mechanism}) for user \"{user}\", \
         also after fetching a fresh one: \"{server}\". Run oauth2_token_command by hand: if it \
         fails or prints an old token, sign in again with your token helper (for example \
         `oama authorize`); check that user is the mailbox address the token was issued for"
    )]
    TokenRefused {
        account: String,
        user: String,
        mechanism: String,
        server: String,
    },
    #[error(
        "account \"{account}\": the TLS connection to {host} failed: {reason}. \
         If the certificate is self-signed or from a private authority, set ca_file = \"/path/to/ca.pem\" for this account; \
         if the name does not match, use the host name the certificate was made for; \
         as a last resort set accept_invalid_certs = true (the connection is then not protected against interception).{certificate}"
    )]
    Tls {
        account: String,
        host: String,
        reason: String,
        /// The refused certificate and the line that trusts it, or empty.
        certificate: String,
    },
    #[error(
        "account \"{account}\": could not connect to {host}:{port} ({reason}). \
         Check host and port in the config: IMAP is usually port 993 with tls = \"tls\" or 143 with tls = \"starttls\", POP3 995 or 110"
    )]
    Refused {
        account: String,
        host: String,
        port: u16,
        reason: String,
    },
    #[error(
        "account \"{account}\": {host}:{port} did not answer in time while {doing}. \
         Check host and port, and that a firewall lets the connection through"
    )]
    Timeout {
        account: String,
        host: String,
        port: u16,
        doing: String,
    },
    #[error(
        "account \"{account}\": the server did not answer in time while listing folders. \
         The password may be wrong or the server may want more sign-in data; ask the mail administrator"
    )]
    ListTimeout { account: String },
    #[error(
        "account \"{account}\": the server has no Sent folder (no folder is marked \\Sent and none is called \"Sent\"). \
         Create one (deskmail can create \"Sent\" for you) or name the folder in `folders` of this account"
    )]
    NoSentFolder { account: String },
    #[error(
        "account \"{account}\": the server closed the connection: \"{server}\". It will be retried"
    )]
    Bye { account: String, server: String },
    #[error(
        "account \"{account}\": the mailbox is over its quota: \"{server}\". Delete or archive old mail on the server, or ask for more space"
    )]
    OverQuota { account: String, server: String },
    #[error(
        "account \"{account}\": STARTTLS was configured but failed: \"{server}\". \
         deskmail refuses to continue in plain text; use tls = \"tls\" (usually port 993 for IMAP, 995 for POP3) if the server offers it"
    )]
    StarttlsFailed { account: String, server: String },
    #[error("account \"{account}\": the server answered unexpectedly while {doing}: \"{server}\"")]
    Protocol {
        account: String,
        doing: String,
        server: String,
    },
    #[error(
        "account \"{account}\": the connection was lost while {doing} ({reason}). It will be retried"
    )]
    ConnectionLost {
        account: String,
        doing: String,
        reason: String,
    },
    #[error("account \"{account}\": {message}")]
    Config { account: String, message: String },
    #[error("the mail store failed during sync: {0}")]
    Store(String),
}

/// Short names for the kinds, for tests, logs and the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    AuthFailed,
    Tls,
    Refused,
    Timeout,
    ListTimeout,
    NoSentFolder,
    Bye,
    OverQuota,
    StarttlsFailed,
    Protocol,
    ConnectionLost,
    Config,
    Store,
}

impl SyncError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SyncError::AuthFailed { .. } | SyncError::TokenRefused { .. } => ErrorKind::AuthFailed,
            SyncError::Tls { .. } => ErrorKind::Tls,
            SyncError::Refused { .. } => ErrorKind::Refused,
            SyncError::Timeout { .. } => ErrorKind::Timeout,
            SyncError::ListTimeout { .. } => ErrorKind::ListTimeout,
            SyncError::NoSentFolder { .. } => ErrorKind::NoSentFolder,
            SyncError::Bye { .. } => ErrorKind::Bye,
            SyncError::OverQuota { .. } => ErrorKind::OverQuota,
            SyncError::StarttlsFailed { .. } => ErrorKind::StarttlsFailed,
            SyncError::Protocol { .. } => ErrorKind::Protocol,
            SyncError::ConnectionLost { .. } => ErrorKind::ConnectionLost,
            SyncError::Config { .. } => ErrorKind::Config,
            SyncError::Store(_) => ErrorKind::Store,
        }
    }

    /// Errors a retry can fix by itself (network trouble), as opposed to ones
    /// that need the agent to change something (password, certificate).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Refused
                | ErrorKind::Timeout
                | ErrorKind::ListTimeout
                | ErrorKind::Bye
                | ErrorKind::ConnectionLost
                | ErrorKind::Protocol
        )
    }

    /// A short reason for the status bar.
    pub fn short(&self) -> String {
        match self.kind() {
            ErrorKind::AuthFailed => "login refused".into(),
            ErrorKind::Tls => "TLS failed".into(),
            ErrorKind::Refused => "connection refused".into(),
            ErrorKind::Timeout | ErrorKind::ListTimeout => "timeout".into(),
            ErrorKind::NoSentFolder => "no Sent folder".into(),
            ErrorKind::Bye => "server closed the connection".into(),
            ErrorKind::OverQuota => "over quota".into(),
            ErrorKind::StarttlsFailed => "STARTTLS failed".into(),
            ErrorKind::Protocol => "protocol error".into(),
            ErrorKind::ConnectionLost => "connection lost".into(),
            ErrorKind::Config => "configuration".into(),
            ErrorKind::Store => "store".into(),
        }
    }
}

impl From<crate::store::StoreError> for SyncError {
    fn from(e: crate::store::StoreError) -> Self {
        SyncError::Store(sanitize_line(&e.to_string()))
    }
}

/// Where an error happened: enough to word the diagnosis.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    pub account: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
}

impl Ctx<'_> {
    pub fn timeout(&self, stage: Stage) -> SyncError {
        if stage == Stage::List {
            return SyncError::ListTimeout {
                account: self.account.into(),
            };
        }
        SyncError::Timeout {
            account: self.account.into(),
            host: self.host.into(),
            port: self.port,
            doing: stage.doing().into(),
        }
    }

    /// Diagnose an I/O error (connect, TLS handshake, reads and writes).
    pub fn io(&self, stage: Stage, e: &std::io::Error) -> SyncError {
        use std::io::ErrorKind as K;
        if let Some(tls) = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return self.tls(tls);
        }
        let reason = sanitize_line(&e.to_string());
        match e.kind() {
            K::ConnectionRefused | K::AddrNotAvailable | K::NotFound
                if matches!(stage, Stage::Connect) =>
            {
                SyncError::Refused {
                    account: self.account.into(),
                    host: self.host.into(),
                    port: self.port,
                    reason,
                }
            }
            K::TimedOut | K::WouldBlock => self.timeout(stage),
            _ if stage == Stage::Connect => SyncError::Refused {
                account: self.account.into(),
                host: self.host.into(),
                port: self.port,
                reason,
            },
            _ if stage == Stage::Tls => SyncError::Tls {
                account: self.account.into(),
                host: self.host.into(),
                reason,
                certificate: String::new(),
            },
            _ => SyncError::ConnectionLost {
                account: self.account.into(),
                doing: stage.doing().into(),
                reason,
            },
        }
    }

    /// Diagnose a rustls failure in words an agent can act on.
    pub fn tls(&self, e: &rustls::Error) -> SyncError {
        let reason = crate::trust::refusal_reason(e, self.host);
        SyncError::Tls {
            account: self.account.into(),
            host: self.host.into(),
            reason,
            certificate: String::new(),
        }
    }

    /// Diagnose an async-imap error at `stage`.
    pub fn imap(&self, stage: Stage, e: async_imap::error::Error) -> SyncError {
        use async_imap::error::Error as E;
        match e {
            E::Io(io) => self.io(stage, &io),
            E::No(text) | E::Bad(text) => self.server_said(stage, &text),
            E::ConnectionLost => SyncError::ConnectionLost {
                account: self.account.into(),
                doing: stage.doing().into(),
                reason: "the server closed the connection".into(),
            },
            other => SyncError::Protocol {
                account: self.account.into(),
                doing: stage.doing().into(),
                server: sanitize_line(&other.to_string()),
            },
        }
    }

    /// Diagnose a NO/BAD/BYE answer from its text.
    pub fn server_said(&self, stage: Stage, text: &str) -> SyncError {
        let server = sanitize_line(text.trim());
        let lower = server.to_ascii_lowercase();
        if lower.contains("overquota")
            || lower.contains("over quota")
            || lower.contains("quota exceeded")
        {
            return SyncError::OverQuota {
                account: self.account.into(),
                server,
            };
        }
        match stage {
            Stage::Login => SyncError::AuthFailed {
                account: self.account.into(),
                user: sanitize_line(self.user),
                server,
            },
            Stage::Starttls => SyncError::StarttlsFailed {
                account: self.account.into(),
                server,
            },
            _ if lower.starts_with("bye") || lower.contains("shutting down") => SyncError::Bye {
                account: self.account.into(),
                server,
            },
            _ => SyncError::Protocol {
                account: self.account.into(),
                doing: stage.doing().into(),
                server,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx<'static> {
        Ctx {
            account: "support",
            host: "mail.example",
            port: 993,
            user: "support",
        }
    }

    #[test]
    fn login_no_is_auth_failed_and_quotes_the_server() {
        let e = ctx().imap(
            Stage::Login,
            async_imap::error::Error::No(
                "[AUTHENTICATIONFAILED] Authentication failed.\x1b[2J".into(),
            ),
        );
        assert_eq!(e.kind(), ErrorKind::AuthFailed);
        let s = e.to_string();
        assert!(s.contains("Authentication failed."), "{s}");
        assert!(s.contains("app password"), "{s}");
        assert!(!s.contains('\x1b'), "{s}");
    }

    #[test]
    fn refused_connect_says_check_host_and_port() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = ctx().io(Stage::Connect, &io);
        assert_eq!(e.kind(), ErrorKind::Refused);
        assert!(e.to_string().contains("Check host and port"));
    }

    #[test]
    fn unknown_issuer_suggests_ca_file() {
        let e = ctx().tls(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert_eq!(e.kind(), ErrorKind::Tls);
        let s = e.to_string();
        assert!(
            s.contains("ca_file") && s.contains("accept_invalid_certs"),
            "{s}"
        );
    }

    #[test]
    fn quota_and_list_timeout() {
        let e = ctx().server_said(Stage::Fetch, "[OVERQUOTA] Quota exceeded");
        assert_eq!(e.kind(), ErrorKind::OverQuota);
        assert_eq!(ctx().timeout(Stage::List).kind(), ErrorKind::ListTimeout);
        assert!(!ctx().tls(&rustls::Error::DecryptError).is_transient());
    }
}
