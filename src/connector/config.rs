//! `config.json` beside the executable: the guide's keys plus a few of ours. Every bad value is
//! reported with its key and how to fix it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const CONFIG_FILE: &str = "config.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The appliance's API base, as the guide writes it: `http://appliance:8000/api`.
    pub api_url: String,
    pub company_id: String,
    /// A token pasted by hand (the guide's manual flow); used until it expires.
    #[serde(default)]
    pub connector_token: String,
    pub tally_url: String,
    pub sync_interval_minutes: u32,
    pub heartbeat_interval_seconds: u32,
    pub max_retry_attempts: u32,
    pub retry_delay_seconds: u32,
    pub log_level: String,
    /// The Tally company to read; empty means "the one that is open".
    #[serde(default)]
    pub tally_company: String,
    /// How many closed months to send; absent means back to the start of the previous financial year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_months: Option<u32>,
    /// Whether the connector updates itself from the appliance.
    #[serde(default = "yes")]
    pub auto_update: bool,
    /// How long one Tally answer may take.
    #[serde(default = "default_tally_timeout")]
    pub tally_timeout_seconds: u32,
    /// The SHA-256 (64 lowercase hex digits) of the appliance's certificate, which is then the
    /// only one accepted (see `tls.rs`); written by the appliance into the downloaded ZIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert_sha256: Option<String>,
}

fn yes() -> bool {
    true
}

/// Big companies take minutes per answer (field reports: over 30 s for ~750 ledgers); a month
/// that still times out is asked again group by group.
fn default_tally_timeout() -> u32 {
    600
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_url: String::new(),
            company_id: String::new(),
            connector_token: String::new(),
            tally_url: "http://localhost:9000".into(),
            sync_interval_minutes: 30,
            heartbeat_interval_seconds: 30,
            max_retry_attempts: 3,
            retry_delay_seconds: 5,
            log_level: "info".into(),
            tally_company: String::new(),
            closed_months: None,
            auto_update: true,
            tally_timeout_seconds: default_tally_timeout(),
            tls_cert_sha256: None,
        }
    }
}

/// A problem with the configuration, said so that a bookkeeper can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem} Fix: {fix}")]
pub struct ConfigError {
    pub file: String,
    pub key: Option<String>,
    pub problem: String,
    pub fix: String,
}

const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

struct Reader<'a> {
    file: String,
    map: &'a Map<String, Value>,
}

impl Reader<'_> {
    fn err(&self, key: &str, problem: String, fix: &str) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            key: Some(key.into()),
            problem,
            fix: fix.into(),
        }
    }

    fn string(&self, key: &str, default: Option<&str>, fix: &str) -> Result<String, ConfigError> {
        match self.map.get(key) {
            None | Some(Value::Null) => default
                .map(str::to_string)
                .ok_or_else(|| self.err(key, format!("`{key}` is missing."), fix)),
            Some(Value::String(s)) => Ok(s.trim().to_string()),
            Some(other) => Err(self.err(
                key,
                format!("`{key}` must be text in quotes; it is {other}."),
                fix,
            )),
        }
    }

    fn number(
        &self,
        key: &str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
        fix: &str,
    ) -> Result<u32, ConfigError> {
        let bad = |v: &Value| {
            self.err(
                key,
                format!(
                    "`{key}` must be a whole number from {} to {}; it is {v}.",
                    range.start(),
                    range.end()
                ),
                fix,
            )
        };
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v @ Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| range.contains(n))
                .ok_or_else(|| bad(v)),
            // "30" in quotes is what people type; accept it when it is a number.
            Some(v @ Value::String(s)) => s
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| bad(v)),
            Some(v) => Err(bad(v)),
        }
    }
}

fn valid_http_url(s: &str) -> bool {
    reqwest::Url::parse(s)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

impl Config {
    pub fn path(home: &Path) -> PathBuf {
        home.join(CONFIG_FILE)
    }

    /// Reads and checks `config.json` in `home`. `require_enrolment` asks for the appliance
    /// settings too (every command but `companies`, `version` and `setup`).
    pub fn load(home: &Path, require_enrolment: bool) -> Result<Config, ConfigError> {
        let path = Config::path(home);
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError {
                    file,
                    key: None,
                    problem: "the file does not exist.".into(),
                    fix: "run `AICFOConnector.exe setup`, or put the config.json from the downloaded ZIP next to the program.".into(),
                })
            }
            Err(e) => {
                return Err(ConfigError {
                    file,
                    key: None,
                    problem: format!("the file cannot be read ({e})."),
                    fix: "check that the file is not open in another program and that you may read it.".into(),
                })
            }
        };
        Config::parse(&text, &file, require_enrolment)
    }

    pub fn parse(text: &str, file: &str, require_enrolment: bool) -> Result<Config, ConfigError> {
        let map = json_object(text, file)?;
        let r = Reader {
            file: file.into(),
            map: &map,
        };
        let mut cfg = Config::read_keys(&r)?;
        cfg.check_log_level(&r)?;
        cfg.check_tally_url(&r)?;
        cfg.check_enrolment(&r, require_enrolment)?;
        Ok(cfg)
    }

    /// Every key, read in the order of the file setup writes, so the first bad one is the one
    /// reported. A missing key takes its default.
    fn read_keys(r: &Reader<'_>) -> Result<Config, ConfigError> {
        let d = Config::default();
        Ok(Config {
            api_url: r.string(
                "api_url",
                Some(""),
                "set it to the appliance's address, e.g. \"http://aicfo-server:8000/api\".",
            )?,
            company_id: r.string(
                "company_id",
                Some(""),
                "set it to the company's id on the appliance, or run setup.",
            )?,
            connector_token: r.string(
                "connector_token",
                Some(""),
                "paste the token the appliance gave, or leave it \"\" and run setup.",
            )?,
            tally_url: r.string(
                "tally_url",
                Some(&d.tally_url),
                "set it to Tally's address, usually \"http://localhost:9000\".",
            )?,
            sync_interval_minutes: r.number(
                "sync_interval_minutes",
                d.sync_interval_minutes,
                1..=1440,
                "set how many minutes between syncs, e.g. 30.",
            )?,
            heartbeat_interval_seconds: r.number(
                "heartbeat_interval_seconds",
                d.heartbeat_interval_seconds,
                5..=3600,
                "set how many seconds between heartbeats, e.g. 30.",
            )?,
            max_retry_attempts: r.number(
                "max_retry_attempts",
                d.max_retry_attempts,
                0..=20,
                "set how many times to retry, e.g. 3.",
            )?,
            retry_delay_seconds: r.number(
                "retry_delay_seconds",
                d.retry_delay_seconds,
                1..=600,
                "set the first retry's delay in seconds, e.g. 5.",
            )?,
            log_level: r.string(
                "log_level",
                Some(&d.log_level),
                "use one of \"error\", \"warn\", \"info\", \"debug\", \"trace\".",
            )?,
            tally_company: r.string(
                "tally_company",
                Some(""),
                "set it to the company's name exactly as Tally shows it, or \"\".",
            )?,
            closed_months: read_closed_months(r)?,
            auto_update: read_auto_update(r)?,
            tally_timeout_seconds: r.number(
                "tally_timeout_seconds",
                d.tally_timeout_seconds,
                1..=7200,
                "set how many seconds Tally may take to answer, e.g. 600.",
            )?,
            tls_cert_sha256: read_fingerprint(r)?,
        })
    }

    /// The log level, lower-cased, must be one the connector knows.
    fn check_log_level(&mut self, r: &Reader<'_>) -> Result<(), ConfigError> {
        self.log_level = self.log_level.to_ascii_lowercase();
        if !LOG_LEVELS.contains(&self.log_level.as_str()) {
            return Err(r.err(
                "log_level",
                format!(
                    "`log_level` is \"{}\", which is not a level.",
                    self.log_level
                ),
                "use one of \"error\", \"warn\", \"info\", \"debug\", \"trace\".",
            ));
        }
        Ok(())
    }

    /// Tally's address must be an http:// address; it is kept without a trailing `/`.
    fn check_tally_url(&mut self, r: &Reader<'_>) -> Result<(), ConfigError> {
        if !valid_http_url(&self.tally_url) {
            return Err(r.err(
                "tally_url",
                format!(
                    "`tally_url` is \"{}\", which is not an http:// address.",
                    self.tally_url
                ),
                "set it to Tally's address, usually \"http://localhost:9000\".",
            ));
        }
        self.tally_url = self.tally_url.trim_end_matches('/').to_string();
        Ok(())
    }

    /// The appliance's address, when given or when enrolment is required, must be an http://
    /// address (it is normalised); enrolment also needs the company's id.
    fn check_enrolment(
        &mut self,
        r: &Reader<'_>,
        require_enrolment: bool,
    ) -> Result<(), ConfigError> {
        if !self.api_url.is_empty() || require_enrolment {
            if !valid_http_url(&self.api_url) {
                let problem = if self.api_url.is_empty() {
                    "`api_url` is empty.".to_string()
                } else {
                    format!(
                        "`api_url` is \"{}\", which is not an http:// address.",
                        self.api_url
                    )
                };
                return Err(r.err("api_url", problem, "set it to the appliance's address, e.g. \"http://aicfo-server:8000/api\", or run setup."));
            }
            self.api_url = normalise_api_url(&self.api_url);
        }
        if self.tls_cert_sha256.is_some() && self.api_url.starts_with("http://") {
            return Err(r.err(
                "api_url",
                "`tls_cert_sha256` is set, but `api_url` is an http:// address, which is not encrypted.".into(),
                "write the appliance's address with https://, as in the config.json the appliance gives.",
            ));
        }
        if require_enrolment && self.company_id.is_empty() {
            return Err(r.err(
                "company_id",
                "`company_id` is empty.".into(),
                "set it to the company's id on the appliance, or run setup.",
            ));
        }
        Ok(())
    }

    /// Writes the file (pretty, so it stays editable in Notepad), replacing it in one step.
    pub fn save(&self, home: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        super::state::write_atomically(&Config::path(home), text.as_bytes(), false)
    }
}

/// The file's text as a JSON object (a byte-order mark, which Notepad may write, is ignored).
fn json_object(text: &str, file: &str) -> Result<Map<String, Value>, ConfigError> {
    let text = text.trim_start_matches('\u{feff}');
    let value: Value = serde_json::from_str(text).map_err(|e| ConfigError {
        file: file.into(),
        key: None,
        problem: format!("the file is not valid JSON ({e})."),
        fix: "correct it in Notepad (every key and text value in double quotes, commas between entries), or run setup again.".into(),
    })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ConfigError {
            file: file.into(),
            key: None,
            problem: "the file must hold one JSON object `{ ... }`.".into(),
            fix: "run setup again to write a fresh one.".into(),
        }),
    }
}

/// `closed_months`: absent or null means none are sent.
fn read_closed_months(r: &Reader<'_>) -> Result<Option<u32>, ConfigError> {
    Ok(match r.map.get("closed_months") {
        None | Some(Value::Null) => None,
        Some(_) => Some(r.number(
            "closed_months",
            0,
            0..=120,
            "set how many closed months to send, e.g. 12, or remove the line.",
        )?),
    })
}

/// `auto_update`: absent or null means on.
fn read_auto_update(r: &Reader<'_>) -> Result<bool, ConfigError> {
    match r.map.get("auto_update") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(r.err(
            "auto_update",
            format!("`auto_update` must be true or false; it is {v}."),
            "write true or false, without quotes.",
        )),
    }
}

/// `tls_cert_sha256`: absent, null or "" means no pinned certificate.
fn read_fingerprint(r: &Reader<'_>) -> Result<Option<String>, ConfigError> {
    let fix = "copy the SHA-256 fingerprint the appliance shows (64 hex digits, colons allowed), or download config.json again.";
    let text = r.string("tls_cert_sha256", Some(""), fix)?;
    if text.is_empty() {
        return Ok(None);
    }
    super::tls::normalise_fingerprint(&text)
        .map(Some)
        .ok_or_else(|| {
            r.err(
                "tls_cert_sha256",
                format!("`tls_cert_sha256` is \"{text}\", which is not a SHA-256 fingerprint."),
                fix,
            )
        })
}

/// The guide's `api_url` ends in `/api`; an address without a path gets it.
pub fn normalise_api_url(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    match reqwest::Url::parse(trimmed) {
        Ok(u) if u.path() == "/" || u.path().is_empty() => format!("{trimmed}/api"),
        _ => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "config.json", true)
    }

    const GUIDE: &str = r#"{
      "api_url": "https://your-api-domain.com/api", "company_id": "your-company-id",
      "connector_token": "your-connector-token", "tally_url": "http://localhost:9000",
      "sync_interval_minutes": 30, "heartbeat_interval_seconds": 30, "max_retry_attempts": 3,
      "retry_delay_seconds": 5, "log_level": "info"
    }"#;

    #[test]
    fn the_guides_file_reads() {
        let c = parse(GUIDE).unwrap();
        assert_eq!(c.api_url, "https://your-api-domain.com/api");
        assert_eq!(c.connector_token, "your-connector-token");
        assert!(c.auto_update);
        assert_eq!(c.closed_months, None);
    }

    #[test]
    fn each_bad_value_names_its_key_and_fix() {
        let cases = [
            (
                "sync_interval_minutes",
                "\"soon\"",
                "whole number from 1 to 1440",
            ),
            ("sync_interval_minutes", "0", "whole number"),
            ("heartbeat_interval_seconds", "-5", "whole number from 5"),
            ("log_level", "\"loud\"", "not a level"),
            ("tally_url", "\"localhost\"", "not an http:// address"),
            ("api_url", "\"\"", "`api_url` is empty"),
            ("company_id", "\"\"", "`company_id` is empty"),
            ("auto_update", "\"yes\"", "true or false"),
            ("max_retry_attempts", "1.5", "whole number"),
            ("tls_cert_sha256", "\"ab:cd\"", "not a SHA-256 fingerprint"),
        ];
        for (key, value, says) in cases {
            let text = GUIDE.replacen(
                &format!("\"{key}\": "),
                &format!("\"{key}\": {value}, \"_was\": "),
                1,
            );
            let text = if text == GUIDE {
                GUIDE.replacen('{', &format!("{{\"{key}\": {value},"), 1)
            } else {
                text
            };
            let err = parse(&text).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{err}");
            assert!(err.to_string().contains(says), "{key}: {err}");
            assert!(err.to_string().contains("Fix:"), "{err}");
        }
    }

    #[test]
    fn broken_json_says_so() {
        let err = parse("{ \"api_url\": ").unwrap_err();
        assert!(err.problem.contains("not valid JSON"), "{err}");
        assert_eq!(err.key, None);
    }

    #[test]
    fn api_url_without_path_gets_api() {
        assert_eq!(normalise_api_url("http://box:8000"), "http://box:8000/api");
        assert_eq!(
            normalise_api_url("http://box:8000/api/"),
            "http://box:8000/api"
        );
    }

    #[test]
    fn a_pinned_certificate_is_read_as_hex_and_needs_https() {
        let pin = vec!["AB"; 32].join(":");
        let text = GUIDE.replacen('{', &format!("{{\"tls_cert_sha256\": \"{pin}\","), 1);
        assert_eq!(parse(&text).unwrap().tls_cert_sha256, Some("ab".repeat(32)));
        let plain = text.replace("https://", "http://");
        let err = parse(&plain).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("api_url"), "{err}");
        assert!(err.problem.contains("not encrypted"), "{err}");
    }
}
