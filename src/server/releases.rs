//! The connector releases this appliance hands out: per target a signed archive
//! `aicfo-connector-<version>-<triple>.zip` holding only the program, listed in `manifest.json`
//! (see packaging/build.sh). They are embedded in the binary when it was built with the
//! `embedded-connectors` feature, else read from a folder on disk (`connector_releases`).

use std::io::{Cursor, Read};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Windows,
    Linux,
}

impl Target {
    pub fn parse(s: &str) -> Option<Target> {
        match s.trim().to_ascii_lowercase().as_str() {
            "windows" => Some(Target::Windows),
            "linux" => Some(Target::Linux),
            _ => None,
        }
    }

    pub fn triple(self) -> &'static str {
        match self {
            Target::Windows => "x86_64-pc-windows-gnu",
            Target::Linux => "x86_64-unknown-linux-gnu",
        }
    }

    /// The program's name inside the archive and the downloaded ZIP.
    pub fn program(self) -> &'static str {
        match self {
            Target::Windows => "AICFOConnector.exe",
            Target::Linux => "aicfo-connector",
        }
    }
}

/// One release archive, as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    pub version: String,
    /// The Rust target triple, e.g. `x86_64-pc-windows-gnu`.
    pub target: String,
    /// The archive's file name; also its signature's context.
    pub file: String,
    pub size: u64,
    /// SHA-256 (hex) of the archive, and of the program inside it.
    pub sha256: String,
    pub program: String,
    pub program_sha256: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub releases: Vec<Release>,
}

#[cfg(feature = "embedded-connectors")]
#[derive(rust_embed::RustEmbed)]
#[folder = "$AICFO_EMBED_CONNECTORS"]
struct Embedded;

/// Where release files are read from: the binary itself first, then the folder.
#[derive(Debug, Clone)]
pub struct ReleaseStore {
    dir: PathBuf,
}

impl ReleaseStore {
    pub fn new(dir: PathBuf) -> ReleaseStore {
        ReleaseStore { dir }
    }

    /// Whether this binary carries its connectors.
    pub fn embedded() -> bool {
        cfg!(feature = "embedded-connectors")
    }

    fn file(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        #[cfg(feature = "embedded-connectors")]
        if let Some(f) = Embedded::get(name) {
            return Ok(Some(f.data.into_owned()));
        }
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    pub fn manifest(&self) -> Result<Manifest, String> {
        match self.file(MANIFEST)? {
            None => Ok(Manifest::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{MANIFEST}: {e}")),
        }
    }

    /// The release for `target` and its archive's bytes, when this appliance has one.
    pub fn release(&self, target: Target) -> Result<Option<(Release, Vec<u8>)>, String> {
        let manifest = self.manifest()?;
        let Some(release) = manifest
            .releases
            .into_iter()
            .find(|r| r.target == target.triple())
        else {
            return Ok(None);
        };
        let archive = self
            .file(&release.file)?
            .ok_or_else(|| format!("{MANIFEST} names {}, which is missing", release.file))?;
        Ok(Some((release, archive)))
    }
}

/// The program's bytes inside a release archive.
pub fn program_in(archive: &[u8], program: &str) -> Result<Vec<u8>, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(archive))
        .map_err(|e| format!("the release archive is not a ZIP: {e}"))?;
    let mut entry = zip
        .by_name(program)
        .map_err(|e| format!("the release archive has no {program}: {e}"))?;
    let mut bytes = Vec::new();
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{program} in the release archive: {e}"))?;
    Ok(bytes)
}
