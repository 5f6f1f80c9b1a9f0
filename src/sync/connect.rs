//! Opening an IMAP session as an account's configuration says: implicit TLS,
//! STARTTLS (never falling back to plain text) or plain; certificates checked
//! by the account's trust (pins, webpki roots plus `ca_file`), or not at all when the agent chose
//! `accept_invalid_certs`; login with the resolved secret; bounded waits.

use super::diagnose::{Ctx, Stage, SyncError};
use crate::config::{AccountConfig, AuthMethod, TlsMode};
use crate::trust::Trust;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Any byte stream a session can run on.
pub trait AsyncReadWrite: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> AsyncReadWrite for T {}

pub type ImapStream = Box<dyn AsyncReadWrite>;
pub type ImapSession = async_imap::Session<ImapStream>;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest silence accepted in the middle of a command.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// What the server offers, read once after login.
#[derive(Debug, Clone, Default)]
pub struct Caps {
    pub idle: bool,
    pub condstore: bool,
    pub qresync: bool,
    /// `ENABLE QRESYNC` was accepted: VANISHED replaces EXPUNGE.
    pub qresync_enabled: bool,
    pub special_use: bool,
    pub uidplus: bool,
    pub mv: bool,
}

pub struct Connected {
    pub session: ImapSession,
    pub caps: Caps,
}

pub fn ctx(acc: &AccountConfig) -> Ctx<'_> {
    Ctx {
        account: &acc.name,
        host: &acc.host,
        port: acc.port,
        user: &acc.user,
    }
}

/// Run `fut` with a deadline; a timeout becomes the stage's diagnosis.
pub async fn bounded<T>(
    c: &Ctx<'_>,
    stage: Stage,
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, async_imap::error::Error>>,
) -> Result<T, SyncError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(c.imap(stage, e)),
        Err(_) => Err(c.timeout(stage)),
    }
}

/// A verifier that accepts any certificate but still checks the handshake
/// signatures, for `accept_invalid_certs = true`.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls client configuration of an account, and the trust behind it
/// (`None` with `accept_invalid_certs`), which remembers a refused certificate.
pub fn tls_config(
    acc: &AccountConfig,
) -> Result<(Arc<rustls::ClientConfig>, Option<Arc<Trust>>), SyncError> {
    let c = ctx(acc);
    if acc.accept_invalid_certs {
        tracing::warn!(
            account = %acc.name,
            "accept_invalid_certs = true: the server's certificate is not checked"
        );
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| c.tls(&e))?;
        return Ok((
            Arc::new(
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
                    .with_no_client_auth(),
            ),
            None,
        ));
    }
    let trust = acc.trust().map_err(|message| SyncError::Config {
        account: acc.name.clone(),
        message,
    })?;
    let config = trust.client_config().map_err(|e| c.tls(&e))?;
    Ok((config, Some(trust)))
}

/// A TLS failure, with the refused certificate described when there is one.
pub fn tls_failure(acc: &AccountConfig, trust: Option<&Trust>, e: &std::io::Error) -> SyncError {
    let mut err = ctx(acc).io(Stage::Tls, e);
    if let (SyncError::Tls { certificate, .. }, Some(der)) =
        (&mut err, trust.and_then(|t| t.refused()))
    {
        *certificate = format!(
            " {}",
            crate::trust::describe_refused(&der, &format!("account \"{}\"", acc.name))
        );
    }
    err
}

/// Start TLS on `tcp` as the account's trust says (IMAP and POP3).
pub async fn tls_wrap(acc: &AccountConfig, tcp: TcpStream) -> Result<ImapStream, SyncError> {
    let c = ctx(acc);
    let (config, trust) = tls_config(acc)?;
    let name = ServerName::try_from(acc.host.clone()).map_err(|e| SyncError::Config {
        account: acc.name.clone(),
        message: format!("host \"{}\" is not a valid server name: {e}", acc.host),
    })?;
    let connector = tokio_rustls::TlsConnector::from(config);
    match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => Ok(Box::new(s)),
        Ok(Err(e)) => Err(tls_failure(acc, trust.as_deref(), &e)),
        Err(_) => Err(c.timeout(Stage::Tls)),
    }
}

async fn read_greeting<T>(c: &Ctx<'_>, client: &mut async_imap::Client<T>) -> Result<(), SyncError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug,
{
    match tokio::time::timeout(CONNECT_TIMEOUT, client.read_response()).await {
        Ok(Ok(Some(resp))) => {
            if let async_imap::imap_proto::Response::Data {
                status: async_imap::imap_proto::Status::Bye,
                information,
                ..
            } = resp.parsed()
            {
                return Err(c.server_said(
                    Stage::Greeting,
                    &format!("BYE {}", information.as_deref().unwrap_or("")),
                ));
            }
            Ok(())
        }
        Ok(Ok(None)) => Err(SyncError::ConnectionLost {
            account: c.account.into(),
            doing: "waiting for the server's greeting".into(),
            reason: "the server closed the connection before greeting".into(),
        }),
        Ok(Err(e)) => Err(c.io(Stage::Greeting, &e)),
        Err(_) => Err(c.timeout(Stage::Greeting)),
    }
}

/// Open the transport (TCP, TLS or STARTTLS) and read the greeting.
pub async fn open(acc: &AccountConfig) -> Result<async_imap::Client<ImapStream>, SyncError> {
    let c = ctx(acc);
    let tcp = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((acc.host.as_str(), acc.port)),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(c.io(Stage::Connect, &e)),
        Err(_) => return Err(c.timeout(Stage::Connect)),
    };
    let _ = tcp.set_nodelay(true);
    match acc.tls {
        TlsMode::Tls => {
            let stream = tls_wrap(acc, tcp).await?;
            let mut client = async_imap::Client::new(stream);
            read_greeting(&c, &mut client).await?;
            Ok(client)
        }
        TlsMode::None => {
            let stream: ImapStream = Box::new(tcp);
            let mut client = async_imap::Client::new(stream);
            read_greeting(&c, &mut client).await?;
            Ok(client)
        }
        TlsMode::Starttls => {
            let mut plain = async_imap::Client::new(tcp);
            read_greeting(&c, &mut plain).await?;
            let res = tokio::time::timeout(
                CONNECT_TIMEOUT,
                plain.run_command_and_check_ok("STARTTLS", None),
            )
            .await;
            match res {
                Ok(Ok(())) => {}
                Ok(Err(async_imap::error::Error::No(t) | async_imap::error::Error::Bad(t))) => {
                    return Err(c.server_said(Stage::Starttls, &t));
                }
                Ok(Err(e)) => {
                    return Err(SyncError::StarttlsFailed {
                        account: acc.name.clone(),
                        server: crate::mail::sanitize::sanitize_line(&e.to_string()),
                    });
                }
                Err(_) => {
                    return Err(SyncError::StarttlsFailed {
                        account: acc.name.clone(),
                        server: "no answer to STARTTLS".into(),
                    });
                }
            }
            let stream = tls_wrap(acc, plain.into_inner()).await?;
            Ok(async_imap::Client::new(stream))
        }
    }
}

/// The account's password, from `password_command` (run off the async
/// threads) or the plain `password`.
pub async fn resolve_secret(
    acc: &AccountConfig,
) -> Result<crate::config::secret::Secret, SyncError> {
    let (name, cmd, plain) = (
        acc.name.clone(),
        acc.password_command.clone(),
        acc.password.clone(),
    );
    tokio::task::spawn_blocking(move || {
        crate::config::secret::resolve(&name, cmd.as_deref(), plain.as_deref())
    })
    .await
    .map_err(|e| SyncError::Config {
        account: acc.name.clone(),
        message: format!("resolving the password failed: {e}"),
    })?
    .map_err(|e| SyncError::Config {
        account: acc.name.clone(),
        message: crate::mail::sanitize::sanitize_line(&e.to_string()),
    })
}

/// A fresh OAuth2 access token from `oauth2_token_command` (run off the
/// async threads).
pub async fn resolve_token(
    acc: &AccountConfig,
) -> Result<crate::config::secret::Secret, SyncError> {
    let (name, cmd) = (acc.name.clone(), acc.oauth2_token_command.clone());
    let Some(cmd) = cmd else {
        return Err(SyncError::Config {
            account: acc.name.clone(),
            message: "OAuth2 login needs oauth2_token_command".into(),
        });
    };
    tokio::task::spawn_blocking(move || crate::config::secret::resolve(&name, Some(&cmd), None))
        .await
        .map_err(|e| SyncError::Config {
            account: acc.name.clone(),
            message: format!("running oauth2_token_command failed: {e}"),
        })?
        .map_err(|e| SyncError::Config {
            account: acc.name.clone(),
            message: crate::mail::sanitize::sanitize_line(&e.to_string()),
        })
}

/// The SASL client side of XOAUTH2 / OAUTHBEARER: the token first, then an
/// empty answer to the server's error challenge, which is kept for the diagnosis.
struct OAuth {
    first: Option<Vec<u8>>,
    error: Arc<std::sync::Mutex<String>>,
}

impl async_imap::Authenticator for OAuth {
    type Response = Vec<u8>;

    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        match self.first.take() {
            Some(initial) => initial,
            None => {
                if let Ok(mut e) = self.error.lock() {
                    *e = String::from_utf8_lossy(challenge).into_owned();
                }
                Vec::new()
            }
        }
    }
}

/// The initial SASL response carrying `token` for `user`.
pub fn oauth_initial_response(method: AuthMethod, user: &str, token: &str) -> Vec<u8> {
    match method {
        AuthMethod::Oauthbearer => format!("n,a={user},\x01auth=Bearer {token}\x01\x01"),
        _ => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
    }
    .into_bytes()
}

/// Log in with an OAuth2 token; a refused token is fetched again once,
/// since the command may have handed out one that just expired.
async fn oauth_login(
    acc: &AccountConfig,
    mut client: async_imap::Client<ImapStream>,
) -> Result<ImapSession, SyncError> {
    let c = ctx(acc);
    let mut refused = String::new();
    for attempt in 0..2 {
        let token = resolve_token(acc).await?;
        let error = Arc::new(std::sync::Mutex::new(String::new()));
        let auth = OAuth {
            first: Some(oauth_initial_response(acc.auth, &acc.user, token.expose())),
            error: Arc::clone(&error),
        };
        let res = tokio::time::timeout(
            READ_TIMEOUT,
            client.authenticate(acc.auth.mechanism(), auth),
        )
        .await;
        match res {
            Ok(Ok(session)) => return Ok(session),
            Ok(Err((
                async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text),
                back,
            ))) => {
                let detail = error.lock().map(|e| e.clone()).unwrap_or_default();
                refused = if detail.is_empty() {
                    text
                } else {
                    format!("{text} {detail}")
                };
                tracing::warn!(account = %acc.name, attempt, "OAuth2 token refused: {refused}");
                client = back;
            }
            Ok(Err((e, _))) => return Err(c.imap(Stage::Login, e)),
            Err(_) => return Err(c.timeout(Stage::Login)),
        }
    }
    Err(SyncError::TokenRefused {
        account: acc.name.clone(),
        user: acc.user.clone(),
        mechanism: acc.auth.mechanism().to_string(),
        server: crate::mail::sanitize::sanitize_line(&refused),
    })
}

/// Connect, log in and read the capabilities.
pub async fn connect(acc: &AccountConfig) -> Result<Connected, SyncError> {
    let c = ctx(acc);
    let mut session = if acc.auth.is_oauth() {
        let client = open(acc).await?;
        oauth_login(acc, client).await?
    } else {
        let secret = resolve_secret(acc).await?;
        let client = open(acc).await?;
        let login =
            tokio::time::timeout(READ_TIMEOUT, client.login(&acc.user, secret.expose())).await;
        match login {
            Ok(Ok(s)) => s,
            Ok(Err((e, _))) => return Err(c.imap(Stage::Login, e)),
            Err(_) => return Err(c.timeout(Stage::Login)),
        }
    };
    let caps = bounded(&c, Stage::Login, READ_TIMEOUT, session.capabilities()).await?;
    let caps = Caps {
        idle: caps.has_str("IDLE"),
        condstore: caps.has_str("CONDSTORE") || caps.has_str("QRESYNC"),
        qresync: caps.has_str("QRESYNC"),
        qresync_enabled: false,
        special_use: caps.has_str("SPECIAL-USE"),
        uidplus: caps.has_str("UIDPLUS"),
        mv: caps.has_str("MOVE"),
    };
    Ok(Connected { session, caps })
}
