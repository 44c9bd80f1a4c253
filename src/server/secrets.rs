//! Signing secrets. Environment values win; otherwise secrets are generated once and kept in the
//! data folder, readable only by the appliance's user.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::random::random_token;
use super::start_error::StartError;

#[derive(Clone)]
pub struct Secrets {
    pub jwt: Vec<u8>,
    pub connector: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct SecretsFile {
    jwt_secret: String,
    connector_token_secret: String,
}

pub const SECRETS_FILE: &str = "secrets.json";

/// Creates `path` with `contents`, readable and writable by the owner only.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

fn env_secret(name: &str) -> Option<Vec<u8>> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.into_bytes())
}

impl Secrets {
    /// The secrets in force for the data folder: the environment's, else the stored ones, which
    /// are generated on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Secrets, StartError> {
        let path = data_dir.join(SECRETS_FILE);
        let stored = if path.exists() {
            read_stored(&path)?
        } else {
            create_stored(&path)?
        };
        Ok(Secrets {
            jwt: env_secret("JWT_SECRET").unwrap_or_else(|| stored.jwt_secret.into_bytes()),
            connector: env_secret("CONNECTOR_TOKEN_SECRET")
                .unwrap_or_else(|| stored.connector_token_secret.into_bytes()),
        })
    }
}

fn read_stored(path: &Path) -> Result<SecretsFile, StartError> {
    let shown = path.display();
    let text = fs::read_to_string(path)
        .map_err(|e| StartError::because(format!("cannot read {shown}"), e))?;
    serde_json::from_str(&text).map_err(|e| {
        StartError::because(format!("{shown} is damaged; restore it from a backup"), e)
    })
}

fn create_stored(path: &Path) -> Result<SecretsFile, StartError> {
    let fresh = SecretsFile {
        jwt_secret: random_token(48),
        connector_token_secret: random_token(48),
    };
    let write = serde_json::to_string_pretty(&fresh)
        .map_err(std::io::Error::other)
        .and_then(|text| write_private(path, &text));
    write.map_err(|e| StartError::because(format!("cannot write {}", path.display()), e))?;
    Ok(fresh)
}
