//! Test support for integration tests: `mod support;` in a file under `tests/`.
//!
//! * [`MailStack`]: a real Dovecot + Postfix stack on loopback, one per test.
//! * [`gen_mailbox`]: deterministic synthetic support mail.
//! * TLS / IMAP / SMTP client helpers that trust the stack's certificate.
#![allow(dead_code, unused_imports)]

pub mod mailgen;
pub mod mailstack;
pub mod oauth;

pub use mailgen::{encode_header, gen_mailbox, gen_mailbox_iter, gen_message_id};
pub use mailstack::{APT_PACKAGES, DOMAIN, HOST, MailStack, PASSWORD, StackOptions, USERS};

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The TLS stream of IMAP/POP3 client connections to the stack.
pub type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;
/// An IMAP client (not logged in) over TLS.
pub type ImapClient = async_imap::Client<TlsStream>;
/// A logged-in IMAP session over TLS.
pub type ImapSession = async_imap::Session<TlsStream>;

/// A rustls client configuration that trusts exactly the CA certificates in `ca_pem`.
pub fn tls_config(ca_pem: &Path) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(ca_pem)
        .unwrap_or_else(|e| panic!("cannot read CA file {}: {e}", ca_pem.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.unwrap_or_else(|e| panic!("bad PEM in {}: {e}", ca_pem.display()));
        roots
            .add(cert)
            .unwrap_or_else(|e| panic!("bad certificate in {}: {e}", ca_pem.display()));
    }
    assert!(!roots.is_empty(), "no certificate in {}", ca_pem.display());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("rustls protocol versions: {e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Polls `check` (every 100 ms) until it returns `Some`, for at most `limit`.
pub async fn poll_until<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl MailStack {
    /// rustls configuration trusting [`MailStack::cert_pem`].
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        tls_config(&self.cert_pem)
    }

    /// TLS handshake (server name 127.0.0.1) over an established connection.
    pub async fn tls_wrap(&self, tcp: TcpStream) -> TlsStream {
        let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
        TlsConnector::from(self.tls_config())
            .connect(name, tcp)
            .await
            .unwrap_or_else(|e| panic!("TLS handshake with {}: {e}", self.host))
    }

    /// Connects to `port` on the stack's host.
    pub async fn tcp(&self, port: u16) -> TcpStream {
        TcpStream::connect((self.host.as_str(), port))
            .await
            .unwrap_or_else(|e| panic!("connect {}:{port}: {e}", self.host))
    }

    /// IMAPS (implicit TLS) client; the greeting has been read.
    pub async fn imaps_client(&self) -> ImapClient {
        let tls = self.tls_wrap(self.tcp(self.imaps_port).await).await;
        let mut client = async_imap::Client::new(tls);
        let greeting = client
            .read_response()
            .await
            .unwrap_or_else(|e| panic!("IMAPS greeting: {e}"));
        assert!(
            greeting.is_some(),
            "IMAPS server closed before its greeting"
        );
        client
    }

    /// IMAP on the plain port upgraded with STARTTLS; the greeting has been read.
    pub async fn imap_starttls_client(&self) -> ImapClient {
        let mut plain = async_imap::Client::new(self.tcp(self.imap_port).await);
        let greeting = plain
            .read_response()
            .await
            .unwrap_or_else(|e| panic!("IMAP greeting: {e}"));
        assert!(greeting.is_some(), "IMAP server closed before its greeting");
        plain
            .run_command_and_check_ok("STARTTLS", None)
            .await
            .unwrap_or_else(|e| panic!("IMAP STARTTLS: {e}"));
        let tls = self.tls_wrap(plain.into_inner()).await;
        async_imap::Client::new(tls)
    }

    /// Logged-in IMAPS session of `user` (password [`PASSWORD`]).
    pub async fn imap_session(&self, user: &str) -> ImapSession {
        let user = user.split('@').next().unwrap_or(user);
        self.imaps_client()
            .await
            .login(user, self.password())
            .await
            .unwrap_or_else(|(e, _)| panic!("IMAP login as {user}: {e}"))
    }

    /// lettre transport for Postfix's plain SMTP port (no TLS, no AUTH; it
    /// accepts mail for the local and customer domains only).
    pub fn smtp_transport(&self) -> AsyncSmtpTransport<Tokio1Executor> {
        assert!(self.has_postfix(), "this stack was started without Postfix");
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.as_str())
            .port(self.smtp_port)
            .tls(Tls::None)
            .timeout(Some(Duration::from_secs(30)))
            .build()
    }

    /// lettre transport for the submission port: STARTTLS required (trusting
    /// [`MailStack::cert_pem`]), AUTH PLAIN as `user` with `password`.
    pub fn submission_transport(
        &self,
        user: &str,
        password: &str,
    ) -> AsyncSmtpTransport<Tokio1Executor> {
        assert!(self.has_postfix(), "this stack was started without Postfix");
        let pem = std::fs::read(&self.cert_pem)
            .unwrap_or_else(|e| panic!("read {}: {e}", self.cert_pem.display()));
        let cert = Certificate::from_pem(&pem).unwrap_or_else(|e| panic!("CA certificate: {e}"));
        let tls = TlsParameters::builder(self.host.clone())
            .add_root_certificate(cert)
            .build_rustls()
            .unwrap_or_else(|e| panic!("lettre TLS parameters: {e}"));
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.as_str())
            .port(self.submission_port)
            .tls(Tls::Required(tls))
            .credentials(Credentials::new(user.to_string(), password.to_string()))
            .authentication(vec![Mechanism::Plain, Mechanism::Login])
            .timeout(Some(Duration::from_secs(30)))
            .build()
    }
}

/// Forwards loopback connections to `upstream` on 127.0.0.1, keeping the
/// bytes clients sent (to count the commands a sync issues).
pub async fn recording_proxy(upstream: u16) -> (u16, Arc<std::sync::Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&sent);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let down = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                });
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(k) = cr.read(&mut buf).await {
                    if k == 0 {
                        break;
                    }
                    if let Ok(mut l) = log.lock() {
                        l.extend_from_slice(&buf[..k]);
                    }
                    if sw.write_all(&buf[..k]).await.is_err() {
                        break;
                    }
                }
                down.abort();
            });
        }
    });
    (port, sent)
}
