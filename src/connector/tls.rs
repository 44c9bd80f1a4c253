//! Trusting the appliance's certificate.
//!
//! An office appliance runs on HTTPS with a self-signed certificate (`AICFO_TLS=auto`); no
//! authority vouches for it, so the connector pins it instead: config.json's `tls_cert_sha256`
//! (written into the downloaded ZIP, or given to `setup`) is the SHA-256 of the certificate, and
//! the connector accepts exactly the certificate with that hash, whatever name or address the
//! appliance is reached by (an office PC's address changes with DHCP). The handshake's signature
//! is still checked, so only the holder of that certificate's key can answer.
//!
//! Without a fingerprint, an https:// appliance must have a certificate from a public authority
//! (Mozilla's list, compiled in, so the same on every Windows PC); there is no way to accept
//! any certificate.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// SHA-256 of a certificate's DER, lowercase hex.
pub fn cert_sha256(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fingerprint as people copy it (`AB:CD:…`, spaces, either case), as 64 lowercase hex
/// digits; `None` when it is not a SHA-256 fingerprint.
pub fn normalise_fingerprint(text: &str) -> Option<String> {
    let hex: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

/// The appliance presented another certificate than the pinned one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the appliance's certificate is not the one this connector trusts: it presented SHA-256 {presented}, but config.json's tls_cert_sha256 is {expected}")]
pub struct PinMismatch {
    pub presented: String,
    pub expected: String,
}

/// Accepts exactly the certificate whose DER hashes to `sha256`.
#[derive(Debug)]
pub struct PinnedCertificate {
    sha256: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = cert_sha256(end_entity);
        if presented == self.sha256 {
            return Ok(ServerCertVerified::assertion());
        }
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            rustls::OtherError(Arc::new(PinMismatch {
                presented,
                expected: self.sha256.clone(),
            })),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
        verify_tls13_signature(
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

/// A TLS client configuration that trusts only the certificate with this SHA-256 (64 lowercase
/// hex digits, see [`normalise_fingerprint`]).
pub fn pinned_config(sha256: &str) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinnedCertificate {
        sha256: sha256.to_string(),
        provider: provider.clone(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// The pin refusal somewhere in a request error's causes, said plainly.
pub fn pin_mismatch(error: &(dyn std::error::Error + 'static)) -> Option<PinMismatch> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(found) = as_mismatch(e) {
            return Some(found);
        }
        // An io::Error's `source` skips the error it wraps (here rustls's, inside another
        // io::Error): step into it instead.
        cause = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn as_mismatch(e: &(dyn std::error::Error + 'static)) -> Option<PinMismatch> {
    if let Some(m) = e.downcast_ref::<PinMismatch>() {
        return Some(m.clone());
    }
    match e.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<PinMismatch>().cloned()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_read_as_people_copy_them() {
        let hex = "ab".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(
            normalise_fingerprint(&colons).as_deref(),
            Some(hex.as_str())
        );
        assert_eq!(normalise_fingerprint(&hex).as_deref(), Some(hex.as_str()));
        assert_eq!(normalise_fingerprint("abcd"), None);
        assert_eq!(normalise_fingerprint(&"zz".repeat(32)), None);
    }

    #[test]
    fn only_the_pinned_certificate_passes() {
        let cert = CertificateDer::from(b"the appliance".to_vec());
        let other = CertificateDer::from(b"someone else".to_vec());
        let verifier = PinnedCertificate {
            sha256: cert_sha256(&cert),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        };
        let name = ServerName::try_from("appliance").unwrap();
        let check = |c: &CertificateDer<'_>| {
            verifier.verify_server_cert(c, &[], &name, &[], UnixTime::now())
        };
        assert!(check(&cert).is_ok());
        // As the refusal reaches reqwest: rustls's error inside two io::Errors.
        let err = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            check(&other).unwrap_err(),
        ));
        let mismatch = pin_mismatch(&err).expect("the refusal names the pin");
        assert_eq!(mismatch.presented, cert_sha256(&other));
    }
}
