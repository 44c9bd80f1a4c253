//! Payloads not yet delivered, kept on disk and delivered in order once the appliance is back.
//! Each is the exact gzip-compressed JSON that will be posted, written in one step, and
//! removed only after the appliance accepted it. Redelivery of one the appliance did store
//! (its answer lost on the way) replaces the same months with the same data: no duplicates.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::state::write_atomically;
use crate::protocol::SyncPayload;

pub const OUTBOX_DIR: &str = "outbox";

pub struct Outbox {
    dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub path: PathBuf,
    pub sequence: u64,
    /// The sync run the payload was extracted in.
    pub sync_run_id: Option<String>,
}

impl Outbox {
    pub fn new(home: &Path) -> Outbox {
        Outbox {
            dir: home.join(OUTBOX_DIR),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queues a payload after every payload already waiting.
    pub fn push(&self, payload: &SyncPayload) -> std::io::Result<Pending> {
        std::fs::create_dir_all(&self.dir)?;
        let sequence = self.pending()?.last().map_or(1, |p| p.sequence + 1);
        let run = payload.sync_run_id.clone();
        let name = format!(
            "{sequence:010}-{}.json.gz",
            run.as_deref().unwrap_or("norun")
        );
        let path = self.dir.join(name);
        write_atomically(
            &path,
            &gzip(&serde_json::to_vec(payload).map_err(std::io::Error::other)?)?,
            false,
        )?;
        Ok(Pending {
            path,
            sequence,
            sync_run_id: run,
        })
    }

    /// Waiting payloads, oldest first.
    pub fn pending(&self) -> std::io::Result<Vec<Pending>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json.gz"))
            else {
                continue;
            };
            let Some((seq, run)) = name.split_once('-') else {
                continue;
            };
            let Ok(sequence) = seq.parse() else { continue };
            out.push(Pending {
                sync_run_id: (run != "norun").then(|| run.to_string()),
                path,
                sequence,
            });
        }
        out.sort_by_key(|p| p.sequence);
        Ok(out)
    }

    pub fn read(&self, p: &Pending) -> std::io::Result<Vec<u8>> {
        std::fs::read(&p.path)
    }

    pub fn delivered(&self, p: &Pending) -> std::io::Result<()> {
        std::fs::remove_file(&p.path)
    }

    /// Moves a payload the appliance will never accept out of the way, with the reason beside it.
    pub fn reject(&self, p: &Pending, reason: &str) -> std::io::Result<PathBuf> {
        let dir = self.dir.join("rejected");
        std::fs::create_dir_all(&dir)?;
        let target = dir.join(p.path.file_name().unwrap_or_default());
        std::fs::rename(&p.path, &target)?;
        std::fs::write(target.with_extension("reason.txt"), reason)?;
        Ok(target)
    }
}

pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::with_capacity(bytes.len() / 8), Compression::fast());
    gz.write_all(bytes)?;
    gz.finish()
}

/// The same payload without its run id (for a run the appliance has closed meanwhile).
pub fn without_run_id(gzip_json: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(gzip_json).read_to_end(&mut text)?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&text).map_err(std::io::Error::other)?;
    if let Some(obj) = value.as_object_mut() {
        obj.remove("syncRunId");
    }
    gzip(&serde_json::to_vec(&value).map_err(std::io::Error::other)?)
}
