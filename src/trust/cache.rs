//! The verified cache: what this machine verified of one repository's
//! trust data, in `TRUST_DIR/tuf/<repository>/`.
//!
//! * `roots/N.root.json`: the root chain, from the root checked against
//!   the pin (its version is in `state/anchor`) to the newest trusted.
//! * `timestamp.json`, `snapshot.json`, `targets.json`,
//!   `delegated/<role>.json`: the newest verified metadata, exact bytes
//!   (the references for rollback and freeze checks).
//! * `state/trust-manifest`: the digest of the trust artifact last
//!   verified, so an unchanged repository costs one request.
//! * `state/verdicts.json`: the tags verified against that artifact, with
//!   the earliest expiry behind them (see [`super::warm`]).
//!
//! Everything here was verified before it was written, and the first root
//! is checked against the current pin on every run.

use std::path::{Path, PathBuf};

use vouch_keys::trust_dir::{Mode, write_atomic};

use super::error::TrustError;
use crate::store::metadata_dir::MetadataDir;
use crate::tuf::editor::MetadataEditor;
use crate::tuf::metadata::{RoleName, encode_segment};

/// One repository's verified cache.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: MetadataDir,
}

impl Cache {
    /// The cache of `repo` in the trust directory `trust_dir`.
    pub fn new(trust_dir: &Path, repo: &str) -> Cache {
        Cache {
            dir: MetadataDir::new(trust_dir.join("tuf").join(encode_segment(repo))),
        }
    }

    /// The metadata directory (for the TUF client).
    pub fn metadata(&self) -> &MetadataDir {
        &self.dir
    }

    fn state(&self, name: &str) -> PathBuf {
        self.dir.path().join("state").join(name)
    }

    /// Where state file `name` lives.
    pub(crate) fn state_path(&self, name: &str) -> PathBuf {
        self.state(name)
    }

    /// Writes state file `name` (atomically).
    pub(crate) fn write_state_bytes(&self, name: &str, bytes: &[u8]) -> Result<(), TrustError> {
        let path = self.state(name);
        let parent = path.parent().unwrap_or(self.dir.path());
        std::fs::create_dir_all(parent).map_err(TrustError::local(parent))?;
        write_atomic(&path, bytes, 0o644, Mode::Replace).map_err(TrustError::local(&path))
    }

    fn read_state(&self, name: &str) -> Result<Option<String>, TrustError> {
        let path = self.state(name);
        match std::fs::read_to_string(&path) {
            Ok(s) => Ok(Some(s.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TrustError::local(&path)(e)),
        }
    }

    fn write_state(&self, name: &str, value: &str) -> Result<(), TrustError> {
        self.write_state_bytes(name, value.as_bytes())
    }

    /// The cached root chain from the pinned root on, oldest first (empty
    /// when nothing is cached).
    pub fn chain(&self) -> Result<Vec<(u64, Vec<u8>)>, TrustError> {
        let all = self
            .dir
            .root_chain()
            .map_err(TrustError::local(self.dir.path()))?;
        let anchor = self.anchor()?;
        Ok(all
            .into_iter()
            .filter(|(v, _)| anchor.is_none_or(|a| *v >= a))
            .collect())
    }

    /// The version of the root that was checked against the pin.
    pub fn anchor(&self) -> Result<Option<u64>, TrustError> {
        Ok(self.read_state("anchor")?.and_then(|s| s.parse().ok()))
    }

    /// Starts a new cache from `root` (version `version`), checked against
    /// the pin: whatever was cached before is deleted.
    pub fn start(&self, version: u64, root: &[u8]) -> Result<(), TrustError> {
        self.clear()?;
        self.dir
            .write_root_version(version, root)
            .map_err(TrustError::local(self.dir.path()))?;
        self.write_state("anchor", &version.to_string())
    }

    /// Forgets everything cached (the pin changed).
    pub fn clear(&self) -> Result<(), TrustError> {
        self.dir.clear().map_err(TrustError::local(self.dir.path()))
    }

    /// The id of the first root this machine staged (`vouch init
    /// --root-threshold`), the only one it publishes.
    pub fn genesis(&self) -> Result<Option<String>, TrustError> {
        self.read_state("genesis")
    }

    /// Records the id of the first root this machine staged.
    pub fn set_genesis(&self, id: &str) -> Result<(), TrustError> {
        self.write_state("genesis", id)
    }

    /// The ids of the staged changes made on this machine (the newest
    /// 256): published by whoever holds the online keys, they are still
    /// changes made here (the publisher's record).
    pub fn staged_here(&self) -> Result<Vec<String>, TrustError> {
        Ok(self
            .read_state("staged-here")?
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default())
    }

    /// Adds `id` to [`Cache::staged_here`].
    pub fn note_staged_here(&self, id: &str) -> Result<(), TrustError> {
        let mut ids = self.staged_here()?;
        ids.retain(|i| i != id);
        ids.push(id.to_owned());
        let keep = ids.len().saturating_sub(256);
        self.write_state("staged-here", &ids[keep..].join("\n"))
    }

    /// The digest of the trust artifact last verified, if any.
    pub fn last_artifact(&self) -> Result<Option<String>, TrustError> {
        self.read_state("trust-manifest")
    }

    /// Records the digest of the trust artifact just verified.
    pub fn set_last_artifact(&self, digest: &str) -> Result<(), TrustError> {
        self.write_state("trust-manifest", digest)
    }

    /// Records a state this machine just published (and so verified, as
    /// the editor was built from verified metadata): every root version,
    /// timestamp, snapshot and every targets role, as the bytes published.
    pub fn record_published(&self, repo: &MetadataEditor, artifact: &str) -> Result<(), TrustError> {
        let local = TrustError::local(self.dir.path());
        // Another writer of this machine may have recorded a newer state
        // meanwhile (publishing is serialised, recording is not): keep it.
        let cached_version = self
            .dir
            .read(&RoleName::Timestamp)
            .map_err(&local)?
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["signed"]["version"].as_u64());
        if cached_version.is_some_and(|v| v >= repo.timestamp.signed.version) {
            return Ok(());
        }
        // Roots from the pinned one on: those before it are trusted for
        // nothing and not cached.
        let anchor = self.anchor()?.unwrap_or(1);
        for (i, root) in repo.root_history.iter().enumerate() {
            let version = i as u64 + 1;
            if version >= anchor {
                self.dir.write_root_version(version, root).map_err(&local)?;
            }
        }
        let bug = |e: crate::tuf::TufError| TrustError::bug(e.to_string());
        for (name, role) in &repo.targets {
            self.dir
                .write(name, &role.to_bytes().map_err(bug)?)
                .map_err(&local)?;
        }
        self.dir
            .write(&RoleName::Snapshot, &repo.snapshot.to_bytes().map_err(bug)?)
            .map_err(&local)?;
        self.dir
            .write(&RoleName::Timestamp, &repo.timestamp.to_bytes().map_err(bug)?)
            .map_err(&local)?;
        self.set_last_artifact(artifact)
    }
}
