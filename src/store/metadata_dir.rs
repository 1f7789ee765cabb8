//! A client's trusted metadata on disk: one `<role>.json` a role (role
//! names percent-encoded), holding the exact bytes received and verified.
//! Other client state lives in subdirectories.

use std::path::{Path, PathBuf};

use vouch_keys::store::{Mode, write_atomic};

/// Percent-encodes a name for use as one path segment or file name:
/// everything but `A-Za-z0-9-._~` becomes `%XX`.
pub fn encode_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

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
        self.dir.join(format!("{}.json", encode_segment(role)))
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
        std::fs::create_dir_all(&self.dir)?;
        write_atomic(&self.file(role), bytes, 0o644, Mode::Replace)
    }

    /// Deletes `role`'s file if present.
    pub fn remove(&self, role: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.file(role)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
