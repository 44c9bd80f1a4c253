//! What the connector keeps between runs, apart from config.json: its device id, the tokens it
//! obtained (never the user's password), and how the last sync went. Credentials live here, not
//! in config.json, and never in logs.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const STATE_FILE: &str = "connector-state.json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Generated once; identifies this PC to the appliance across re-enrolments.
    pub device_id: String,
    #[serde(default)]
    pub connector_id: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub connector_token: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub connector_token_expires_at: Option<i64>,
    #[serde(default)]
    pub last_sync: Option<LastSyncState>,
    /// Set when the appliance says this connector must be set up again (revoked).
    #[serde(default)]
    pub needs_setup: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastSyncState {
    /// RFC 3339
    pub at: String,
    /// `succeeded`, `unchanged`, `queued` or `failed`.
    pub outcome: String,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub sync_run_id: Option<String>,
    /// Tally's change markers of the last payload the appliance accepted (see [`TallyMarkers`]).
    #[serde(default)]
    pub tally_company: Option<String>,
    #[serde(default)]
    pub alt_mst_id: Option<u64>,
    #[serde(default)]
    pub alt_vch_id: Option<u64>,
    /// Unix seconds of the last full extraction the appliance accepted.
    #[serde(default)]
    pub full_sync_at: Option<i64>,
    /// The month (`YYYY-MM`) that extraction was in.
    #[serde(default)]
    pub full_sync_month: Option<String>,
}

/// What Tally said about its books when a payload was read: ALTMSTID / ALTVCHID grow with every
/// change to masters / vouchers. They travel beside the payload in the outbox and become the
/// state's "last delivered" only once the appliance accepted that payload, so that a payload
/// refused or still waiting is never mistaken for books the appliance already holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TallyMarkers {
    pub tally_company: String,
    #[serde(default)]
    pub alt_mst_id: Option<u64>,
    #[serde(default)]
    pub alt_vch_id: Option<u64>,
    /// Unix seconds of the read.
    pub read_at: i64,
    /// The month (`YYYY-MM`) the read was in.
    pub month: String,
}

impl LastSyncState {
    /// The appliance accepted a payload read with these markers.
    pub fn delivered(&mut self, m: TallyMarkers) {
        self.tally_company = Some(m.tally_company);
        self.alt_mst_id = m.alt_mst_id;
        self.alt_vch_id = m.alt_vch_id;
        self.full_sync_at = Some(m.read_at);
        self.full_sync_month = Some(m.month);
    }

    /// Forgets what was delivered, so that the next sync reads Tally in full.
    pub fn forget_markers(&mut self) {
        self.alt_mst_id = None;
        self.alt_vch_id = None;
        self.full_sync_at = None;
        self.full_sync_month = None;
    }
}

/// Replaces `path` with `bytes` in one step (write beside it, then rename), so a crash or a
/// power cut leaves the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

pub struct StateStore {
    path: PathBuf,
}

impl StateStore {
    pub fn new(home: &Path) -> StateStore {
        StateStore {
            path: home.join(STATE_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved state, or a fresh one with a new device id. A damaged file is set aside
    /// (renamed `.damaged`) rather than trusted: the connector then needs setup again.
    pub fn load(&self) -> State {
        let fresh = || State {
            device_id: uuid::Uuid::new_v4().to_string(),
            ..State::default()
        };
        match std::fs::read_to_string(&self.path) {
            Err(_) => fresh(),
            Ok(text) => match serde_json::from_str::<State>(&text) {
                Ok(s) if !s.device_id.is_empty() => s,
                _ => {
                    let aside = self.path.with_extension("damaged");
                    let _ = std::fs::rename(&self.path, &aside);
                    log::error!(
                        "{} was damaged and has been set aside as {}; run setup again",
                        self.path.display(),
                        aside.display()
                    );
                    fresh()
                }
            },
        }
    }

    pub fn save(&self, state: &State) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(state).map_err(std::io::Error::other)?;
        write_atomically(&self.path, text.as_bytes(), true)
    }
}
