//! A client's trusted metadata on disk, holding the exact bytes received
//! and verified: `root.json`, `timestamp.json`, `snapshot.json` and
//! `targets.json` for the top-level roles, and for each delegated role
//! either `ROLE.json` beside them (the standard layout of `vouch tuf`, as
//! python-tuf keeps it: the name percent-encoded, so `../x` is
//! `..%2Fx.json`; delegations may not take the top-level names, which the
//! TUF core refuses) or `delegated/ROLE.json` (vouch's own caches). Other
//! client state lives in further subdirectories.

use std::path::{Path, PathBuf};

use vouch_keys::trust_dir::{Mode, write_atomic};

use crate::tuf::metadata::{RoleName, file_name};

/// The metadata directory of a client.
#[derive(Clone, Debug)]
pub struct MetadataDir {
    dir: PathBuf,
    /// Delegated roles beside the top-level ones (the standard layout).
    flat: bool,
}

impl MetadataDir {
    /// The directory (not created).
    pub fn new(dir: impl Into<PathBuf>) -> MetadataDir {
        MetadataDir {
            dir: dir.into(),
            flat: false,
        }
    }

    /// The standard layout (`vouch tuf`): every role as its
    /// percent-encoded `NAME.json` at the top level, as python-tuf and TUF
    /// tooling keep it. A delegated role an earlier version kept under
    /// `delegated/` is still read from there until it is written again.
    pub fn standard(dir: impl Into<PathBuf>) -> MetadataDir {
        MetadataDir {
            dir: dir.into(),
            flat: true,
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The file of `role`.
    pub fn file(&self, role: &RoleName) -> PathBuf {
        let name = file_name(role, None);
        if self.flat || role.is_top_level() {
            self.dir.join(name)
        } else {
            self.dir.join("delegated").join(name)
        }
    }

    /// Where an earlier version kept a delegated role of the standard
    /// layout.
    fn legacy_file(&self, role: &RoleName) -> Option<PathBuf> {
        (self.flat && !role.is_top_level()).then(|| self.dir.join("delegated").join(file_name(role, None)))
    }

    /// The persisted bytes of `role`, if any.
    pub fn read(&self, role: &RoleName) -> std::io::Result<Option<Vec<u8>>> {
        let read = |path: PathBuf| match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
        match (read(self.file(role))?, self.legacy_file(role)) {
            (None, Some(legacy)) => read(legacy),
            (found, _) => Ok(found),
        }
    }

    /// Persists `role` atomically.
    pub fn write(&self, role: &RoleName, bytes: &[u8]) -> std::io::Result<()> {
        let file = self.file(role);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        write_atomic(&file, bytes, 0o644, Mode::Replace)?;
        if let Some(legacy) = self.legacy_file(role) {
            remove_if_present(&legacy)?;
        }
        Ok(())
    }

    /// Records root version `version` as `roots/VERSION.root.json`.
    pub fn write_root_version(&self, version: u64, bytes: &[u8]) -> std::io::Result<()> {
        let dir = self.dir.join("roots");
        std::fs::create_dir_all(&dir)?;
        write_atomic(
            &dir.join(file_name(&RoleName::Root, Some(version))),
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
            .map(|v| Ok((v, std::fs::read(dir.join(file_name(&RoleName::Root, Some(v))))?)))
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
    pub fn remove(&self, role: &RoleName) -> std::io::Result<()> {
        remove_if_present(&self.file(role))?;
        match self.legacy_file(role) {
            Some(legacy) => remove_if_present(&legacy),
            None => Ok(()),
        }
    }
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_layout_keeps_each_role_under_its_encoded_name() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = MetadataDir::standard(tmp.path().join("meta"));
        for (role, file) in [
            ("releases", "releases.json"),
            ("?", "%3F.json"),
            ("#", "%23.json"),
            ("/x", "%2Fx.json"),
            ("../x", "..%2Fx.json"),
            ("targets", "targets.json"),
        ] {
            let name = RoleName::parse(role);
            dir.write(&name, role.as_bytes()).expect("write");
            assert_eq!(
                std::fs::read(tmp.path().join("meta").join(file)).expect(file),
                role.as_bytes()
            );
            assert_eq!(dir.read(&name).expect("read").as_deref(), Some(role.as_bytes()));
        }
        assert!(
            !tmp.path().join("x.json").exists(),
            "nothing outside the directory"
        );
        // What an earlier version kept under delegated/ is still read, and
        // moves on the next write.
        let legacy = tmp.path().join("meta/delegated/old.json");
        std::fs::create_dir_all(legacy.parent().expect("parent")).expect("mkdir");
        std::fs::write(&legacy, b"v1").expect("legacy");
        let old = RoleName::parse("old");
        assert_eq!(dir.read(&old).expect("read").as_deref(), Some(&b"v1"[..]));
        dir.write(&old, b"v2").expect("write");
        assert!(!legacy.exists());
        assert_eq!(
            std::fs::read(tmp.path().join("meta/old.json")).expect("moved"),
            b"v2"
        );
    }
}
