//! The archive, fetched into `update/` in the connector's home. It is written under a name
//! that says it is incomplete (`<file>.part`) and only renamed to its own name once complete,
//! so a download cut off (the appliance going away, the PC switched off) is never taken for
//! an archive: the next attempt starts it afresh.

use std::path::{Path, PathBuf};

use super::super::appliance::Appliance;
use crate::protocol::UpdateInstruction;

/// No connector archive comes near this; anything announcing more is refused unread.
pub const MAX_ARCHIVE_BYTES: u64 = 200 * 1024 * 1024;

pub fn staging_dir(home: &Path) -> PathBuf {
    home.join("update")
}

/// Downloads the archive; its path once complete.
pub async fn fetch(
    appliance: &Appliance,
    ins: &UpdateInstruction,
    home: &Path,
) -> Result<PathBuf, String> {
    if ins.size > MAX_ARCHIVE_BYTES {
        return Err(format!(
            "the appliance announced {} bytes for {}, more than any connector archive ({MAX_ARCHIVE_BYTES}).",
            ins.size, ins.file
        ));
    }
    let dir = staging_dir(home);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let part = dir.join(format!("{}.part", ins.file));
    let done = dir.join(&ins.file);
    appliance
        .download_to(&ins.url, &part, ins.size)
        .await
        .map_err(|e| format!("downloading {} failed: {e}", ins.file))?;
    std::fs::rename(&part, &done)
        .map_err(|e| format!("cannot keep the downloaded {}: {e}", ins.file))?;
    Ok(done)
}

/// Removes what an attempt left in the staging folder: after a swap the program is in place;
/// after a failure the files are of no further use (the next attempt fetches afresh).
pub fn tidy(home: &Path) {
    let dir = staging_dir(home);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            log::warn!("cannot tidy {}: {e}", dir.display());
        }
    }
}
