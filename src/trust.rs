//! Which server certificates an account trusts, for IMAP, POP3 and SMTP alike:
//! an exact pin (a `ca_file` holding the server's own certificate, or
//! `tls_fingerprint`), else the webpki roots plus `ca_file`; and the words
//! that describe a refused certificate with the config line that trusts it.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One account's trust decision, usable as a rustls verifier. It remembers
/// the last certificate it refused so the diagnosis can describe it.
#[derive(Debug)]
pub struct Trust {
    /// DER of every certificate in `ca_file`: an exact match is trusted
    /// whatever its CA flag (tutorial self-signed certificates say CA:TRUE).
    pins: Vec<Vec<u8>>,
    fingerprints: Vec<[u8; 32]>,
    webpki: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
    refused: Mutex<Option<Vec<u8>>>,
}

/// SHA-256 of a certificate's DER bytes.
pub fn sha256(der: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// `AB:CD:…`, the way `openssl x509 -fingerprint -sha256` prints it.
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parse `sha256:AB:CD:…` (colons, spaces and case optional).
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], String> {
    let t = text.trim();
    let hex = t
        .strip_prefix("sha256:")
        .or_else(|| t.strip_prefix("SHA256:"))
        .ok_or_else(|| format!("\"{t}\" must start with sha256: followed by 64 hex digits"))?;
    let digits: String = hex
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "\"{t}\" is not a SHA-256 fingerprint: sha256: must be followed by 64 hex digits \
             (colons allowed), as `openssl x509 -noout -fingerprint -sha256` prints them"
        ));
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16)
            .map_err(|e| format!("\"{t}\": {e}"))?;
    }
    Ok(out)
}

impl Trust {
    /// The trust of an account: `ca_file` (PEM, one or more certificates)
    /// and `tls_fingerprint`, on top of the webpki roots. Errors are in
    /// words for the agent.
    pub fn new(ca_file: Option<&Path>, fingerprint: Option<&str>) -> Result<Arc<Trust>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut pins = Vec::new();
        if let Some(file) = ca_file {
            let pem = std::fs::read(file)
                .map_err(|e| format!("cannot read ca_file {}: {e}", file.display()))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert =
                    cert.map_err(|e| format!("ca_file {} is not valid PEM: {e}", file.display()))?;
                pins.push(cert.as_ref().to_vec());
                // A certificate rustls cannot use as an authority may still be a pin.
                if let Err(e) = roots.add(cert) {
                    tracing::debug!(file = %file.display(), "ca_file certificate kept as a pin only: {e}");
                }
            }
            if pins.is_empty() {
                return Err(format!(
                    "ca_file {} holds no PEM certificate (it should start with \
                     -----BEGIN CERTIFICATE-----)",
                    file.display()
                ));
            }
        }
        let fingerprints = match fingerprint {
            Some(f) => vec![parse_fingerprint(f).map_err(|e| format!("tls_fingerprint {e}"))?],
            None => Vec::new(),
        };
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| format!("cannot set up certificate checks: {e}"))?;
        Ok(Arc::new(Trust {
            pins,
            fingerprints,
            webpki,
            provider,
            refused: Mutex::new(None),
        }))
    }

    /// Whether `end_entity` is exactly a pinned certificate.
    pub fn is_pinned(&self, end_entity: &[u8]) -> bool {
        self.pins.iter().any(|p| p.as_slice() == end_entity)
            || (!self.fingerprints.is_empty() && self.fingerprints.contains(&sha256(end_entity)))
    }

    /// The certificate last refused, DER.
    pub fn refused(&self) -> Option<Vec<u8>> {
        self.refused.lock().ok().and_then(|r| r.clone())
    }

    /// Check a chain (end entity first) for `host` outside a handshake: for
    /// SMTP, whose library cannot take a verifier (it checks the signature).
    pub fn check_chain(&self, host: &str, chain: &[Vec<u8>]) -> Result<(), rustls::Error> {
        let Some((first, rest)) = chain.split_first() else {
            return Err(rustls::Error::NoCertificatesPresented);
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| rustls::Error::General(format!("\"{host}\" is not a server name: {e}")))?;
        let end_entity = CertificateDer::from(first.as_slice());
        let intermediates: Vec<CertificateDer<'_>> = rest
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        self.verify_server_cert(&end_entity, &intermediates, &name, &[], UnixTime::now())
            .map(|_| ())
    }

    /// A rustls client configuration that verifies through this trust.
    pub fn client_config(self: &Arc<Self>) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
        let verifier: Arc<dyn ServerCertVerifier> = Arc::clone(self) as Arc<dyn ServerCertVerifier>;
        Ok(Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::clone(&self.provider))
                .with_safe_default_protocol_versions()?
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth(),
        ))
    }
}

impl ServerCertVerifier for Trust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.is_pinned(end_entity.as_ref()) {
            return Ok(ServerCertVerified::assertion());
        }
        let res = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if res.is_err()
            && let Ok(mut slot) = self.refused.lock()
        {
            *slot = Some(end_entity.as_ref().to_vec());
        }
        res
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Why a certificate or handshake was refused, in words an agent can act on.
pub fn refusal_reason(e: &rustls::Error, host: &str) -> String {
    use crate::mail::sanitize::sanitize_line;
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "the certificate is self-signed or issued by an authority this \
                                 computer does not trust"
                .to_string(),
            C::Expired | C::ExpiredContext { .. } => {
                "the server's certificate has expired".to_string()
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (check the clock)".to_string()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("the server's certificate is not valid for the name \"{host}\"")
            }
            C::Revoked => "the server's certificate was revoked".to_string(),
            other if other.to_string().contains("CaUsedAsEndEntity") => {
                "the server's certificate is marked as a certificate authority (CA:TRUE, as \
                 `openssl req -x509` makes it) and is not itself trusted"
                    .to_string()
            }
            other => format!(
                "the server's certificate was refused ({})",
                sanitize_line(&other.to_string())
            ),
        },
        other => sanitize_line(&other.to_string()),
    }
}

/// What an agent needs to judge a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// `AB:CD:…`
    pub sha256: String,
}

/// Read a certificate's names and dates; server-sent text is sanitised.
pub fn summarize(der: &[u8]) -> CertSummary {
    use crate::mail::sanitize::sanitize_line;
    let sha = colon_hex(&sha256(der));
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => CertSummary {
            subject: sanitize_line(&cert.subject().to_string()),
            issuer: sanitize_line(&cert.issuer().to_string()),
            not_before: sanitize_line(&cert.validity().not_before.to_string()),
            not_after: sanitize_line(&cert.validity().not_after.to_string()),
            sha256: sha,
        },
        Err(e) => CertSummary {
            subject: format!("(unreadable: {})", sanitize_line(&e.to_string())),
            issuer: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            sha256: sha,
        },
    }
}

/// The config line that trusts exactly this certificate.
pub fn fingerprint_line(der: &[u8]) -> String {
    format!("tls_fingerprint = \"sha256:{}\"", colon_hex(&sha256(der)))
}

/// The refused certificate in words, then the line to add: appended to a
/// TLS diagnosis. `table` names where the line goes.
pub fn describe_refused(der: &[u8], table: &str) -> String {
    let s = summarize(der);
    format!(
        "The server's certificate: subject \"{}\", issuer \"{}\", valid from {} until {}, \
         SHA-256 fingerprint {}. If this is your server's certificate (compare the fingerprint \
         with the one your mail administrator gives you), trust exactly this certificate by \
         adding to {table} in config.toml: {}",
        s.subject,
        s.issuer,
        s.not_before,
        s.not_after,
        s.sha256,
        fingerprint_line(der)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_with_or_without_colons_and_in_any_case() {
        let bytes: Vec<u8> = (0u8..32).collect();
        let colons = format!("sha256:{}", colon_hex(&bytes));
        let plain = format!(
            "sha256:{}",
            colon_hex(&bytes).replace(':', "").to_lowercase()
        );
        assert_eq!(parse_fingerprint(&colons).expect("colons").to_vec(), bytes);
        assert_eq!(parse_fingerprint(&plain).expect("plain").to_vec(), bytes);
    }

    #[test]
    fn malformed_fingerprints_are_refused_with_the_expected_form() {
        for bad in [
            "AB:CD",
            "sha256:ABCD",
            "md5:00",
            &format!("sha256:{}", "G".repeat(64)),
        ] {
            let e = parse_fingerprint(bad).expect_err(bad);
            assert!(e.contains("sha256:"), "{e}");
        }
    }
}
