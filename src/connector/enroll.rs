//! First start from a downloaded ZIP: its config.json carries a one-time `enrollment_code`.
//! The connector exchanges it at the appliance for its own refresh token, keeps that in the
//! state file, and takes the code out of config.json, so nobody types a password on the PC.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::agent::APP_VERSION;
use super::appliance::{Appliance, ApplianceError, RetryPolicy};
use super::config::Config;
use super::setup::{device_name, os_name};
use super::state::{write_atomically, StateStore};
use crate::protocol::EnrollRequest;

pub const CODE_KEY: &str = "enrollment_code";

/// What the bookkeeper reads when the code is refused.
pub const FRESH_ZIP: &str = "The enrolment code in config.json is no longer valid (it was already used, has expired, or was revoked). Download a fresh connector ZIP from the appliance's page and unzip it over this folder.";

/// The code config.json carries, if any.
fn code_in(config: &Value) -> Option<String> {
    config
        .get(CODE_KEY)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

fn read_config(home: &Path) -> Result<Value, String> {
    let path = Config::path(home);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// config.json without the code, rewritten in one step.
fn forget_code(home: &Path, mut config: Value) -> Result<(), String> {
    if let Some(map) = config.as_object_mut() {
        map.remove(CODE_KEY);
    }
    let path = Config::path(home);
    let text = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
    write_atomically(&path, text.as_bytes(), false)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Why enrolling with the code failed, with the exit code `once` gives for it: 5 for a refused
/// code (a fresh ZIP is needed), 4 when the appliance cannot be reached, else 1.
#[derive(Debug)]
pub struct EnrolFailure {
    pub exit_code: u8,
    pub message: String,
}

impl From<ApplianceError> for EnrolFailure {
    fn from(e: ApplianceError) -> Self {
        let exit_code = match &e {
            ApplianceError::Rejected { code, .. } if code == "enrollment_code_invalid" => {
                return EnrolFailure {
                    exit_code: 5,
                    message: FRESH_ZIP.into(),
                }
            }
            ApplianceError::Unreachable { .. } => 4,
            _ => 1,
        };
        EnrolFailure {
            exit_code,
            message: format!("enrolling with the code in config.json failed: {e}"),
        }
    }
}

fn local(message: String) -> EnrolFailure {
    EnrolFailure {
        exit_code: 1,
        message,
    }
}

/// Enrols with the code in config.json when there is one and this PC holds no refresh token
/// yet. Returns whether it enrolled. A refused code says to download a fresh ZIP.
pub async fn enrol_if_needed(home: &Path, cfg: &Config) -> Result<bool, EnrolFailure> {
    let config = read_config(home).map_err(local)?;
    let Some(code) = code_in(&config) else {
        return Ok(false);
    };
    let store = Arc::new(StateStore::new(home));
    let state = store.load();
    if state.refresh_token.is_some() {
        return Ok(false);
    }
    // The device id must be on disk before the appliance learns it.
    store
        .save(&state)
        .map_err(|e| local(format!("cannot write {}: {e}", store.path().display())))?;
    let request = EnrollRequest {
        enrollment_code: code,
        device_id: state.device_id.clone(),
        device_name: Some(device_name()),
        os: Some(os_name()),
        app_version: Some(APP_VERSION.into()),
        company_id: Some(cfg.company_id.clone()).filter(|c| !c.is_empty()),
    };
    let state = Arc::new(Mutex::new(state));
    let policy = RetryPolicy {
        retries: cfg.max_retry_attempts,
        first_delay: std::time::Duration::from_secs(u64::from(cfg.retry_delay_seconds)),
    };
    let appliance = Appliance::new(
        &cfg.api_url,
        cfg.tls_cert_sha256.as_deref(),
        policy,
        None,
        state.clone(),
        store.clone(),
    );
    let tokens = appliance.enrol_with_code(&request).await?;
    let snapshot = state.lock().unwrap_or_else(|p| p.into_inner()).clone();
    store
        .save(&snapshot)
        .map_err(|e| local(format!("cannot write {}: {e}", store.path().display())))?;
    forget_code(home, config).map_err(local)?;
    log::info!(
        "enrolled with the appliance as connector {}",
        tokens.connector_id
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_non_empty_code_counts() {
        assert_eq!(
            code_in(&serde_json::json!({"enrollment_code": " abc "})).as_deref(),
            Some("abc")
        );
        assert_eq!(code_in(&serde_json::json!({"enrollment_code": ""})), None);
        assert_eq!(code_in(&serde_json::json!({"api_url": "x"})), None);
    }
}
