//! The connector releases this appliance hands out: per target a signed archive
//! `aicfo-connector-<version>-<triple>.zip` holding only the program, listed in `manifest.json`
//! (see packaging/build.sh). They are embedded in the binary when it was built with the
//! `embedded-connectors` feature, else read from a folder on disk (`connector_releases`).
//!
//! The manifest may list several versions per target (an older one kept for pinning). What the
//! appliance publishes (`GET /api/connector/releases`, the heartbeat's update instruction) is the
//! [`Catalogue`]: the manifest's entries checked against the archives' own bytes, read once.

use std::borrow::Cow;
use std::io::{Cursor, Read};
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::protocol::{ReleaseList, ReleaseView, Version};

pub const MANIFEST: &str = "manifest.json";

/// A release file's bytes: borrowed from the binary when embedded, else read from the folder.
pub type FileBytes = Cow<'static, [u8]>;

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

    /// The name the API uses (`windows`, `linux`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Windows => "windows",
            Target::Linux => "linux",
        }
    }

    pub fn from_triple(triple: &str) -> Option<Target> {
        [Target::Windows, Target::Linux]
            .into_iter()
            .find(|t| t.triple() == triple)
    }

    /// The target of a connector from the `os` it enrolled with: this project's connector sends
    /// `windows x86_64` or `linux x86_64`, the guide's example `Windows 10`. Only x86_64 builds
    /// are made, so an ARM machine has none.
    pub fn of_os(os: &str) -> Option<Target> {
        let os = os.to_ascii_lowercase();
        if os.contains("aarch64") || os.contains("arm") {
            return None;
        }
        if os.contains("windows") {
            Some(Target::Windows)
        } else if os.contains("linux") {
            Some(Target::Linux)
        } else {
            None
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

    /// A file's bytes: borrowed from the binary when embedded (no copy per request), else read.
    fn file(&self, name: &str) -> Result<Option<FileBytes>, String> {
        #[cfg(feature = "embedded-connectors")]
        if let Some(f) = Embedded::get(name) {
            return Ok(Some(f.data));
        }
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(Cow::Owned(bytes))),
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

    /// The newest release for `target` and its archive's bytes, when this appliance has one.
    pub fn release(&self, target: Target) -> Result<Option<(Release, FileBytes)>, String> {
        let manifest = self.manifest()?;
        let Some(release) = manifest
            .releases
            .into_iter()
            .filter(|r| r.target == target.triple())
            .max_by(|a, b| Version::parse(&a.version).cmp(&Version::parse(&b.version)))
        else {
            return Ok(None);
        };
        let archive = self
            .file(&release.file)?
            .ok_or_else(|| format!("{MANIFEST} names {}, which is missing", release.file))?;
        Ok(Some((release, archive)))
    }

    /// The archive of a release in the catalogue (only those: a name from a request never
    /// reaches the file system unchecked), to send as it is: an embedded one from the binary's
    /// own bytes, one on disk as the open file, so no request holds a copy of it.
    pub fn archive(&self, release: &Carried) -> Result<Option<ArchiveBody>, String> {
        #[cfg(feature = "embedded-connectors")]
        if let Some(f) = Embedded::get(&release.file) {
            return Ok(Some(ArchiveBody::Bytes(f.data)));
        }
        let path = self.dir.join(&release.file);
        let opened = std::fs::File::open(&path).and_then(|f| Ok((f.metadata()?.len(), f)));
        match opened {
            Ok((size, file)) => Ok(Some(ArchiveBody::File { file, size })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }
}

/// A release archive to send.
pub enum ArchiveBody {
    /// In memory already (the binary's own bytes when embedded).
    Bytes(FileBytes),
    /// On disk, open, with its size.
    File { file: std::fs::File, size: u64 },
}

/// A release the appliance carries: a manifest entry whose archive is present, with the size
/// and SHA-256 of the archive's actual bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub target: Target,
    pub version: Version,
    pub file: String,
    pub size: u64,
    pub sha256: String,
}

impl Carried {
    /// Where a connector downloads the archive.
    pub fn url(&self) -> String {
        format!("/api/connector/releases/{}", self.file)
    }

    pub fn view(&self) -> ReleaseView {
        ReleaseView {
            target: self.target.name().to_string(),
            version: self.version.to_string(),
            file: self.file.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            url: self.url(),
        }
    }
}

/// The releases this appliance carries: per target, newest first.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    releases: Vec<Carried>,
}

/// An archive's name must be a plain file name: it becomes a URL segment and a file to read.
fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != MANIFEST
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One manifest entry checked against its archive.
fn carried(store: &ReleaseStore, release: &Release) -> Result<Carried, String> {
    let target = Target::from_triple(&release.target)
        .ok_or_else(|| format!("unknown target `{}`", release.target))?;
    let version = Version::parse(&release.version)
        .ok_or_else(|| format!("`{}` is not a version (N.N.N)", release.version))?;
    if !plain_file_name(&release.file) {
        return Err(format!("`{}` is not a plain file name", release.file));
    }
    let bytes = store
        .file(&release.file)?
        .ok_or_else(|| "the archive is missing".to_string())?;
    let sha256 = sha256_hex(&bytes);
    let size = bytes.len() as u64;
    // An empty or zero field in the manifest states nothing; a stated one must match.
    if !release.sha256.is_empty() && !release.sha256.eq_ignore_ascii_case(&sha256) {
        return Err(format!(
            "the manifest says SHA-256 {}, the archive has {sha256}",
            release.sha256
        ));
    }
    if release.size != 0 && release.size != size {
        return Err(format!(
            "the manifest says {} bytes, the archive has {size}",
            release.size
        ));
    }
    Ok(Carried {
        target,
        version,
        file: release.file.clone(),
        size,
        sha256,
    })
}

impl Catalogue {
    /// The manifest's entries that check out; each one that does not is logged and left out,
    /// so one bad entry does not keep the others from being handed out.
    pub fn load(store: &ReleaseStore) -> Result<Catalogue, String> {
        let mut releases: Vec<Carried> = Vec::new();
        for release in store.manifest()?.releases {
            match carried(store, &release) {
                Ok(c)
                    if releases
                        .iter()
                        .any(|r| r.target == c.target && r.version == c.version) =>
                {
                    log::error!(
                        "{MANIFEST}: {} repeats {} {}; left out",
                        c.file,
                        c.target.name(),
                        c.version
                    );
                }
                Ok(c) => releases.push(c),
                Err(e) => log::error!("{MANIFEST}: {}: {e}; left out", release.file),
            }
        }
        Ok(Catalogue::of(releases))
    }

    /// A catalogue of these releases, put in order: per target, newest first.
    pub fn of(mut releases: Vec<Carried>) -> Catalogue {
        releases.sort_by(|a, b| (a.target.name(), &b.version).cmp(&(b.target.name(), &a.version)));
        Catalogue { releases }
    }

    pub fn releases(&self) -> &[Carried] {
        &self.releases
    }

    pub fn list(&self) -> ReleaseList {
        ReleaseList {
            releases: self.releases.iter().map(Carried::view).collect(),
        }
    }

    pub fn newest(&self, target: Target) -> Option<&Carried> {
        self.releases.iter().find(|r| r.target == target)
    }

    pub fn find(&self, target: Target, version: &Version) -> Option<&Carried> {
        self.releases
            .iter()
            .find(|r| r.target == target && &r.version == version)
    }

    pub fn by_file(&self, file: &str) -> Option<&Carried> {
        self.releases.iter().find(|r| r.file == file)
    }
}

/// The store and its catalogue, read on first use and kept: the heartbeat consults it on every
/// beat. Replaced releases are seen after a restart.
pub struct Releases {
    store: ReleaseStore,
    catalogue: tokio::sync::OnceCell<Arc<Catalogue>>,
}

impl Releases {
    pub fn new(store: ReleaseStore) -> Releases {
        Releases {
            store,
            catalogue: tokio::sync::OnceCell::new(),
        }
    }

    pub fn store(&self) -> &ReleaseStore {
        &self.store
    }

    /// The catalogue; the first call reads the manifest and hashes the archives on the blocking
    /// pool, and calls made meanwhile wait for that one read (at start every connector's first
    /// heartbeat asks at once). A manifest that cannot be read is logged and counts as carrying
    /// nothing.
    pub async fn catalogue(&self) -> Arc<Catalogue> {
        self.catalogue
            .get_or_init(|| async {
                let store = self.store.clone();
                let loaded = tokio::task::spawn_blocking(move || Catalogue::load(&store)).await;
                Arc::new(match loaded {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        log::error!("connector releases: {e}; this appliance hands out no updates");
                        Catalogue::default()
                    }
                    Err(e) => {
                        log::error!("reading the connector releases: {e}");
                        Catalogue::default()
                    }
                })
            })
            .await
            .clone()
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
