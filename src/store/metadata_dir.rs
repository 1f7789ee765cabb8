//! A client's trusted metadata on disk, holding the exact bytes received
//! and verified: `root.json`, `timestamp.json`, `snapshot.json` and
//! `targets.json` for the top-level roles, and `delegated/<role>.json` for
//! each delegated role (names percent-encoded). Delegated roles live in
//! their own directory so that no role name can stand in for a top-level
//! file. Other client state lives in further subdirectories.

use std::path::{Path, PathBuf};

use vouch_keys::trust_dir::{Mode, write_atomic};

use crate::tuf::metadata::file_name;

/// The metadata directory of a client.
#[derive(Clone, Debug)]
pub struct MetadataDir {
    dir: PathBuf,
}

impl MetadataDir {
    /// The directory (not created).
    pub fn new(dir: impl Into<PathBuf>) -> MetadataDir {
        MetadataDir { dir: dir.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The file of `role`.
    pub fn file(&self, role: &str) -> PathBuf {
        let name = file_name(role, None);
        if crate::tuf::trusted_set::TOP_LEVEL_ROLES.contains(&role) {
            self.dir.join(name)
        } else {
            self.dir.join("delegated").join(name)
        }
    }

    /// The persisted bytes of `role`, if any.
    pub fn read(&self, role: &str) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.file(role)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Persists `role` atomically.
    pub fn write(&self, role: &str, bytes: &[u8]) -> std::io::Result<()> {
        let file = self.file(role);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        write_atomic(&file, bytes, 0o644, Mode::Replace)
    }

    /// Records root version `version` as `roots/VERSION.root.json`.
    pub fn write_root_version(&self, version: u64, bytes: &[u8]) -> std::io::Result<()> {
        let dir = self.dir.join("roots");
        std::fs::create_dir_all(&dir)?;
        write_atomic(
            &dir.join(file_name("root", Some(version))),
            bytes,
            0o644,
            Mode::Replace,
        )
    }

    /// The recorded root versions, oldest first.
    pub fn root_chain(&self) -> std::io::Result<Vec<(u64, Vec<u8>)>> {
        let dir = self.dir.join("roots");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut versions = Vec::new();
        for entry in entries {
            let name = entry?.file_name();
            if let Some(v) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".root.json"))
                .and_then(|v| v.parse::<u64>().ok())
            {
                versions.push(v);
            }
        }
        versions.sort_unstable();
        versions
            .into_iter()
            .map(|v| Ok((v, std::fs::read(dir.join(file_name("root", Some(v))))?)))
            .collect()
    }

    /// Deletes everything: the trust anchor changed.
    pub fn clear(&self) -> std::io::Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Deletes `role`'s file if present.
    pub fn remove(&self, role: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.file(role)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
