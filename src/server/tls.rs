//! HTTPS on the office network without a certificate authority.
//!
//! `AICFO_TLS=auto` makes a self-signed certificate on first start and keeps it in the data
//! folder, so its fingerprint (which connectors pin) never changes on its own; `AICFO_TLS_CERT`
//! and `AICFO_TLS_KEY` bring the firm's own. TLS ends in the listener front (`listener.rs`), so
//! the handshake is under the front's deadlines; Rocket stays plain HTTP on loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocket::request::{FromRequest, Outcome};
use rocket::serde::json::Json;
use rocket::{get, Request};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::config::AppConfig;
use super::secrets::write_private;
use super::start_error::StartError;

/// The generated certificate and key, in the data folder.
pub const CERT_FILE: &str = "tls-cert.pem";
pub const KEY_FILE: &str = "tls-key.pem";

/// Ten years: an office appliance's certificate should not lapse under anyone's feet, and a
/// connector pins it by fingerprint, not by date.
const VALID_DAYS: i64 = 3653;

/// What the settings ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    Off,
    Auto,
    Supplied { cert: PathBuf, key: PathBuf },
}

impl TlsMode {
    /// `AICFO_TLS` (off, the default, or auto) with `AICFO_TLS_CERT` and `AICFO_TLS_KEY`: both
    /// files mean HTTPS with them, unless `AICFO_TLS=off` says otherwise (then it is an error,
    /// not a silent choice).
    pub fn from_config(cfg: &AppConfig) -> Result<TlsMode, StartError> {
        let mode = cfg.tls.as_deref().map(|m| m.trim().to_ascii_lowercase());
        let given = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
        match (mode.as_deref(), given(&cfg.tls_cert), given(&cfg.tls_key)) {
            (Some(m), ..) if !matches!(m, "off" | "auto" | "") => Err(StartError::new(format!(
                "AICFO_TLS is `{m}`; it must be `off` or `auto`"
            ))),
            (_, Some(_), None) | (_, None, Some(_)) => Err(StartError::new(
                "set both AICFO_TLS_CERT and AICFO_TLS_KEY (PEM files), or neither",
            )),
            (Some("off"), Some(_), Some(_)) => Err(StartError::new(
                "AICFO_TLS is off but AICFO_TLS_CERT and AICFO_TLS_KEY are set: remove one or the other",
            )),
            (_, Some(cert), Some(key)) => Ok(TlsMode::Supplied { cert, key }),
            (Some("auto"), None, None) => Ok(TlsMode::Auto),
            _ => Ok(TlsMode::Off),
        }
    }
}

/// The certificate the appliance serves, ready for the front.
pub struct ServerTls {
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the leaf certificate's DER, lowercase hex: what connectors pin.
    pub fingerprint: String,
}

impl ServerTls {
    /// The certificate the settings name, made on first start in `auto` mode; `None` when off.
    /// `listen_on` goes into a new certificate's names.
    pub fn load(cfg: &AppConfig, listen_on: IpAddr) -> Result<Option<ServerTls>, StartError> {
        let (cert, key) = match TlsMode::from_config(cfg)? {
            TlsMode::Off => return Ok(None),
            TlsMode::Supplied { cert, key } => (cert, key),
            TlsMode::Auto => auto_certificate(&cfg.data_dir, listen_on)?,
        };
        let tls = ServerTls::from_files(&cert, &key)?;
        println!(
            "aicfo-server: HTTPS with the certificate in {}; its SHA-256 fingerprint is {}",
            cert.display(),
            colon_hex(&tls.fingerprint)
        );
        Ok(Some(tls))
    }

    /// Reads a PEM certificate chain and its private key; any problem is one sentence naming
    /// the file.
    pub fn from_files(cert: &Path, key: &Path) -> Result<ServerTls, StartError> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect())
            .map_err(|e| unreadable("certificate", cert, e))?;
        let Some(leaf) = chain.first() else {
            return Err(StartError::new(format!(
                "the TLS certificate file {} holds no PEM certificate",
                cert.display()
            )));
        };
        let fingerprint = cert_sha256(leaf);
        let private =
            PrivateKeyDer::from_pem_file(key).map_err(|e| unreadable("private key", key, e))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::because("TLS cannot be set up", e))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            StartError::new(format!(
                "the TLS certificate {} and key {} do not go together or are not usable ({e})",
                cert.display(),
                key.display()
            ))
        })?;
        Ok(ServerTls {
            config: Arc::new(config),
            fingerprint,
        })
    }
}

/// The certificate and key `auto` keeps in the data folder, made when there is none yet.
fn auto_certificate(data_dir: &Path, listen_on: IpAddr) -> Result<(PathBuf, PathBuf), StartError> {
    let (cert, key) = (data_dir.join(CERT_FILE), data_dir.join(KEY_FILE));
    // The certificate is written last: a key without one is a start cut short, never served or
    // pinned, and is made again.
    if !cert.exists() {
        if key.exists() {
            std::fs::remove_file(&key)
                .map_err(|e| StartError::because(format!("cannot replace {}", key.display()), e))?;
        }
        generate(&cert, &key, listen_on)?;
    }
    Ok((cert, key))
}

fn unreadable(what: &str, path: &Path, e: rustls::pki_types::pem::Error) -> StartError {
    StartError::new(format!(
        "the TLS {what} file {} cannot be read as PEM ({e})",
        path.display()
    ))
}

/// SHA-256 of a certificate's DER, lowercase hex.
pub fn cert_sha256(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `ab12…` as browsers show it: `AB:12:…`.
pub fn colon_hex(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|p| String::from_utf8_lossy(p).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

/// Makes a self-signed certificate for this machine: its host name, `localhost`, loopback, the
/// address it listens on and its address on the office network.
fn generate(cert_path: &Path, key_path: &Path, listen_on: IpAddr) -> Result<(), StartError> {
    let failed = |e: rcgen::Error| StartError::because("cannot make a TLS certificate", e);
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let mut params = rcgen::CertificateParams::new(names(listen_on)).map_err(failed)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("aicfo appliance {}", host_name().unwrap_or_default()),
    );
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(VALID_DAYS);
    let cert = params.self_signed(&key).map_err(failed)?;
    let write = |path: &Path, text: &str| {
        write_private(path, text)
            .map_err(|e| StartError::because(format!("cannot write {}", path.display()), e))
    };
    write(key_path, &key.serialize_pem())?;
    write(cert_path, &cert.pem())?;
    println!(
        "aicfo-server: made a self-signed TLS certificate {} (key {})",
        cert_path.display(),
        key_path.display()
    );
    Ok(())
}

/// The names a browser or connector may use for this machine.
fn names(listen_on: IpAddr) -> Vec<String> {
    let mut names = vec!["localhost".to_string()];
    if let Some(host) = host_name() {
        names.push(host);
    }
    let mut addresses = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if !listen_on.is_unspecified() {
        addresses.push(listen_on);
    }
    addresses.extend(office_address());
    for a in addresses {
        if !names.contains(&a.to_string()) {
            names.push(a.to_string());
        }
    }
    names
}

/// The machine's name, when it is one a certificate may carry.
fn host_name() -> Option<String> {
    let from_env = ["COMPUTERNAME", "HOSTNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok());
    let from_file = || {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|f| std::fs::read_to_string(f).ok())
    };
    let name = from_env.or_else(from_file)?.trim().to_ascii_lowercase();
    let fits = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    fits.then_some(name)
}

/// The address this machine uses towards the network: connecting a UDP socket sends nothing,
/// but makes the system choose the outgoing interface.
fn office_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

/// Whether the appliance serves HTTPS, and with which certificate; managed by the server binary.
/// A server built without it (the in-process tests) is plain HTTP.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsStatus {
    pub enabled: bool,
    /// SHA-256 of the certificate, lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_sha256: Option<String>,
}

impl TlsStatus {
    pub fn of(tls: Option<&ServerTls>) -> TlsStatus {
        TlsStatus {
            enabled: tls.is_some(),
            cert_sha256: tls.map(|t| t.fingerprint.clone()),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for TlsStatus {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(
            req.rocket()
                .state::<TlsStatus>()
                .cloned()
                .unwrap_or_default(),
        )
    }
}

/// `GET /api/health/tls` (no token): whether HTTPS is on and the certificate's fingerprint, so an
/// admin can compare it with what the browser shows.
#[get("/health/tls")]
pub fn health(status: TlsStatus) -> Json<TlsStatus> {
    Json(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(tls: Option<&str>, cert: Option<&str>, key: Option<&str>) -> AppConfig {
        AppConfig {
            tls: tls.map(str::to_string),
            tls_cert: cert.map(PathBuf::from),
            tls_key: key.map(PathBuf::from),
            ..AppConfig::default()
        }
    }

    #[test]
    fn the_settings_choose_the_mode_or_say_what_is_wrong() {
        assert_eq!(
            TlsMode::from_config(&cfg(None, None, None)).unwrap(),
            TlsMode::Off
        );
        assert_eq!(
            TlsMode::from_config(&cfg(Some("AUTO"), None, None)).unwrap(),
            TlsMode::Auto
        );
        assert!(matches!(
            TlsMode::from_config(&cfg(None, Some("c.pem"), Some("k.pem"))).unwrap(),
            TlsMode::Supplied { .. }
        ));
        for (bad, says) in [
            (cfg(Some("on"), None, None), "must be `off` or `auto`"),
            (cfg(Some("auto"), Some("c.pem"), None), "both"),
            (cfg(Some("off"), Some("c.pem"), Some("k.pem")), "remove one"),
        ] {
            let err = TlsMode::from_config(&bad).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn a_key_left_without_its_certificate_is_made_again_and_a_pair_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(KEY_FILE),
            "half of an interrupted first start",
        )
        .unwrap();
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let (cert, key) = auto_certificate(dir.path(), loopback).unwrap();
        let first = ServerTls::from_files(&cert, &key).unwrap().fingerprint;
        auto_certificate(dir.path(), loopback).unwrap();
        assert_eq!(
            ServerTls::from_files(&cert, &key).unwrap().fingerprint,
            first
        );
    }

    #[test]
    fn fingerprints_read_as_browsers_show_them() {
        assert_eq!(colon_hex("ab01ff"), "AB:01:FF");
        assert_eq!(cert_sha256(b"").len(), 64);
    }

    #[test]
    fn a_new_certificate_names_this_machine_and_loopback() {
        let names = names(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)));
        for n in ["localhost", "127.0.0.1", "::1", "10.1.2.3"] {
            assert!(names.contains(&n.to_string()), "{names:?}");
        }
    }
}
