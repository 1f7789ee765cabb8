//! Writing a standard TUF repository directory, as python-tuf, go-tuf and
//! tuf-on-ci lay it out: `metadata/` (`1.root.json`, `2.root.json`, …,
//! `root.json`, `timestamp.json`, `N.snapshot.json`, `N.ROLE.json`, or
//! unversioned names without consistent snapshots) and `targets/`.
//!
//! There is no reader for editing here, on purpose: writers edit only what
//! the client workflow verified (see `crate::trust::writer`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vouch_keys::trust_dir::{Mode, write_atomic};

use crate::tuf::TufError;
use crate::tuf::editor::MetadataEditor;
use crate::tuf::metadata::{RoleName, file_name};

/// Errors reading or writing a repository directory.
#[derive(Debug, thiserror::Error)]
pub enum RepoDirError {
    /// File-system trouble.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Metadata that does not parse.
    #[error(transparent)]
    Tuf(#[from] TufError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RepoDirError + '_ {
    move |source| RepoDirError::Io {
        path: path.to_owned(),
        source,
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), RepoDirError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    write_atomic(path, bytes, 0o644, Mode::Replace).map_err(io(path))
}

/// Writes the repository's metadata under `dir/metadata/`: targets roles
/// first, then snapshot, then timestamp last, so a reader never sees a
/// timestamp that points at files not yet written.
pub fn write_metadata(repo: &MetadataEditor, dir: &Path) -> Result<(), RepoDirError> {
    let meta = dir.join("metadata");
    let files = current_files(repo)?;
    let rank = |name: &str| {
        if name == "timestamp.json" {
            2
        } else if name.ends_with(".snapshot.json") || name == "snapshot.json" {
            1
        } else {
            0
        }
    };
    let mut ordered: Vec<(&String, &Vec<u8>)> = files.iter().collect();
    ordered.sort_by_key(|(name, _)| rank(name));
    for (name, bytes) in ordered {
        write(&meta.join(name), bytes)?;
    }
    if let Some(latest) = repo.root_history.last() {
        write(&meta.join("root.json"), latest)?;
    }
    Ok(())
}

/// Writes a target file's content under `dir/targets/`: at its path, or
/// with consistent snapshots at `dir/HASH.file` for each listed hash.
pub fn write_target(
    repo: &MetadataEditor,
    dir: &Path,
    path: &str,
    hashes: &[String],
    content: &[u8],
) -> Result<(), RepoDirError> {
    let target = crate::tuf::TargetPath::parse(path)?;
    let base = dir.join("targets");
    if repo.root.signed.consistent_snapshot {
        for h in hashes {
            write(&base.join(target.with_hash_prefix(h)), content)?;
        }
    } else {
        write(&base.join(target.as_str()), content)?;
    }
    Ok(())
}

/// The files of a repository's current state, by standard file name (every
/// root version, `timestamp.json`, and the current snapshot and targets
/// roles, versioned when consistent snapshots are on).
pub fn current_files(repo: &MetadataEditor) -> Result<BTreeMap<String, Vec<u8>>, TufError> {
    let consistent = repo.root.signed.consistent_snapshot;
    let name = |role: &RoleName, version: u64| file_name(role, consistent.then_some(version));
    let mut files = BTreeMap::new();
    for (i, root) in repo.root_history.iter().enumerate() {
        files.insert(file_name(&RoleName::Root, Some(i as u64 + 1)), root.clone());
    }
    for (role, t) in &repo.targets {
        files.insert(name(role, t.signed.version), t.to_bytes()?);
    }
    files.insert(
        name(&RoleName::Snapshot, repo.snapshot.signed.version),
        repo.snapshot.to_bytes()?,
    );
    files.insert("timestamp.json".to_owned(), repo.timestamp.to_bytes()?);
    Ok(files)
}
