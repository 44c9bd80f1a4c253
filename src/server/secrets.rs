//! Signing secrets and the first admin. Environment values win; otherwise secrets are generated
//! once and kept in the data folder, readable only by the appliance's user.

use std::fs;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::auth::passwords;
use super::db::{now_ms, Db};

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

const SECRETS_FILE: &str = "secrets.json";
pub const ADMIN_PASSWORD_FILE: &str = "admin-password.txt";

pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// A password a person can type and a shell or command line cannot misread (no leading `-`,
/// no punctuation): 20 letters and digits, about 119 bits.
fn readable_password() -> String {
    use rand::Rng;
    rand::rngs::OsRng
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

/// Creates `path` with `contents`, readable and writable by the owner only.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
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
    pub fn load_or_create(data_dir: &Path) -> Result<Secrets, String> {
        let path = data_dir.join(SECRETS_FILE);
        let stored = if path.exists() {
            let text = fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str::<SecretsFile>(&text).map_err(|e| {
                format!(
                    "{} is damaged ({e}); restore it from a backup",
                    path.display()
                )
            })?
        } else {
            let fresh = SecretsFile {
                jwt_secret: random_token(48),
                connector_token_secret: random_token(48),
            };
            let text = serde_json::to_string_pretty(&fresh).map_err(|e| e.to_string())?;
            write_private(&path, &text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            fresh
        };
        Ok(Secrets {
            jwt: env_secret("JWT_SECRET").unwrap_or_else(|| stored.jwt_secret.into_bytes()),
            connector: env_secret("CONNECTOR_TOKEN_SECRET")
                .unwrap_or_else(|| stored.connector_token_secret.into_bytes()),
        })
    }
}

/// On an empty database, creates `admin` with `AICFO_ADMIN_PASSWORD` or a generated password,
/// which is shown once on the console and left in a private file in the data folder.
pub fn ensure_admin(db: &Db, data_dir: &Path) -> Result<(), String> {
    let has_users = db
        .read_blocking(|c| {
            Ok(c.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| {
                r.get::<_, bool>(0)
            })?)
        })
        .map_err(|e| e.message)?;
    if has_users {
        return Ok(());
    }
    let from_env = std::env::var("AICFO_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let password = match &from_env {
        Some(p) => {
            passwords::check_strength(p).map_err(|e| format!("AICFO_ADMIN_PASSWORD: {e}"))?;
            p.clone()
        }
        None => readable_password(),
    };
    let hash = passwords::hash(&password).map_err(|e| e.message)?;
    db.write_blocking(move |tx| {
        tx.execute(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES ('admin', ?1, 'admin', ?2)",
            rusqlite::params![hash, now_ms()],
        )?;
        Ok(())
    })
    .map_err(|e| e.message)?;
    if from_env.is_none() {
        let file = data_dir.join(ADMIN_PASSWORD_FILE);
        let _ = fs::remove_file(&file);
        write_private(&file, &format!("{password}\n"))
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        println!();
        println!("==================================================================");
        println!(" aicfo: created the administrator account");
        println!("   username: admin");
        println!("   password: {password}");
        println!(
            " It is shown only this once; it is also in {}",
            file.display()
        );
        println!(" (readable only by this user). Delete that file once noted.");
        println!("==================================================================");
        println!();
    } else {
        log::info!("created user admin with the password from AICFO_ADMIN_PASSWORD");
    }
    Ok(())
}
