//! A new directory filled under a temporary name beside its destination
//! and renamed into place when complete.
//!
//! The temporary name is random and created exclusively (never a
//! predictable `NAME.PID` someone could plant first), and the run holds a
//! lock on its `blobs/` while it works. A directory left by a killed run is
//! removed by the next run that finds it unlocked and over a minute old;
//! one a live run is filling is left alone.

use std::path::Path;

use super::StoreError;
use super::oci_layout::refused;
use super::safe_dir::SafeDir;

/// Fills a new directory through `fill` (given its temporary path), then
/// renames it to `dest`. On any failure the temporary directory is removed
/// and `dest` is not created.
pub fn fill_then_place<T>(
    dest: &Path,
    fill: impl FnOnce(&Path) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| StoreError::Malformed {
            what: format!("destination {}", dest.display()),
            reason: "it has no plain file name".to_owned(),
        })?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let parent_dir = SafeDir::open(parent).map_err(refused)?;
    let prefix = format!(".{name}.vouch-partial-");
    remove_abandoned(&parent_dir, &prefix);
    let (staging_dir, staging_name) = parent_dir.create_subdir(&prefix).map_err(refused)?;
    // The lock is on `blobs/` inside it (the layout's own writers lock the
    // layout directory; locking that here would wait on ourselves).
    let lock = staging_dir
        .subdir("blobs", true)
        .map_err(refused)?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("{}/blobs", staging_dir.path().display()),
        })?
        .lock()
        .map_err(refused)?;
    let staging = parent.join(&staging_name);
    let result = fill(&staging).and_then(|value| {
        parent_dir.rename(&staging_name, name).map_err(refused)?;
        Ok(value)
    });
    if result.is_err() {
        // remove_dir_all removes links, never what they point at.
        let _ = std::fs::remove_dir_all(&staging);
    }
    drop(lock);
    result
}

/// Removes staging directories of earlier runs that no live run holds.
fn remove_abandoned(parent: &SafeDir, prefix: &str) {
    let Ok(names) = parent.names_starting(prefix) else {
        return;
    };
    for name in names {
        // Only real directories (a link by that name is someone else's).
        let Ok(Some(dir)) = parent.subdir(&name, false) else {
            continue;
        };
        // Unlocked (or killed before `blobs/` was made) and at least a
        // minute old: a live run locks `blobs/` a moment after making it.
        let old = std::fs::symlink_metadata(dir.path())
            .and_then(|m| m.modified())
            .is_ok_and(|t| {
                t.elapsed()
                    .is_ok_and(|age| age > std::time::Duration::from_secs(60))
            });
        let abandoned = old
            && match dir.subdir("blobs", false) {
                Ok(Some(blobs)) => matches!(blobs.try_lock(), Ok(Some(_))),
                Ok(None) => true,
                Err(_) => false,
            };
        if abandoned {
            let _ = std::fs::remove_dir_all(parent.path().join(&name));
        }
    }
}
