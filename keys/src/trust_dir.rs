//! The trust directory: `private/<keyid>.key`, one file a key.
//!
//! Directories are 0700 and key files 0600; anything looser is refused,
//! the way ssh refuses an unprotected private key. Files are written
//! atomically (a temporary file in the same directory, fsync, then a hard
//! link or rename, then fsync of the directory) and a new key never replaces
//! an existing file. Changes hold an exclusive lock on `private/`, so two
//! processes cannot both claim one key name.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{KeyError, Result};
use crate::keyfile::KeyFile;
use crate::secret::KeyId;

/// Largest key file we read.
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// A key file found in the trust directory.
#[derive(Clone, Debug)]
pub struct StoredKey {
    /// The parsed file.
    pub file: KeyFile,
    /// Where it is.
    pub path: PathBuf,
}

/// What [`TrustDir::list`] found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Readable keys, sorted by name then id.
    pub keys: Vec<StoredKey>,
    /// Files that could not be read.
    pub problems: Vec<KeyError>,
}

/// A trust directory.
#[derive(Clone, Debug)]
pub struct TrustDir {
    root: PathBuf,
}

impl TrustDir {
    /// A trust directory at `root` (nothing is touched yet).
    pub fn at(root: impl Into<PathBuf>) -> TrustDir {
        TrustDir { root: root.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `private/` inside it.
    pub fn private_dir(&self) -> PathBuf {
        self.root.join("private")
    }

    /// Refuses a trust directory or `private/` that group or other users can
    /// reach. Missing directories are fine.
    pub fn check_permissions(&self) -> Result<()> {
        for dir in [self.root.clone(), self.private_dir()] {
            match fs::metadata(&dir) {
                Ok(meta) => check_mode(&dir, meta.permissions().mode())?,
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(KeyError::io("reading", dir, e)),
            }
        }
        Ok(())
    }

    /// Creates the trust directory and `private/` (0700) where missing.
    pub fn ensure(&self) -> Result<()> {
        self.check_permissions()?;
        for dir in [self.root.clone(), self.private_dir()] {
            match fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => {}
                Err(e) => return Err(KeyError::io("creating", dir, e)),
            }
        }
        Ok(())
    }

    fn key_path(&self, id: &KeyId) -> PathBuf {
        self.private_dir().join(format!("{id}.key"))
    }

    /// Reads one key file.
    pub fn read(&self, id: &KeyId) -> Result<StoredKey> {
        self.check_permissions()?;
        read_key_file(&self.key_path(id))
    }

    /// Every key file in `private/`.
    pub fn list(&self) -> Result<Listing> {
        self.check_permissions()?;
        let mut listing = Listing::default();
        for id in self.key_ids()? {
            match read_key_file(&self.key_path(&id)) {
                Ok(k) => listing.keys.push(k),
                Err(e) => listing.problems.push(e),
            }
        }
        listing
            .keys
            .sort_by(|a, b| (&a.file.info.name, &a.file.info.id).cmp(&(&b.file.info.name, &b.file.info.id)));
        Ok(listing)
    }

    fn key_ids(&self) -> Result<Vec<KeyId>> {
        let dir = self.private_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(KeyError::io("listing", dir, e)),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| KeyError::io("listing", &dir, e))?;
            let name = entry.file_name();
            if let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".key"))
                .and_then(KeyId::parse)
            {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Finds one key by full id, name, or a unique id prefix (4+ hex digits).
    pub fn find(&self, selector: &str) -> Result<StoredKey> {
        self.check_permissions()?;
        let sel = selector.to_ascii_lowercase();
        if let Some(id) = KeyId::parse(&sel) {
            return match self.read(&id) {
                Err(KeyError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                    Err(KeyError::NotFound {
                        selector: selector.to_owned(),
                    })
                }
                other => other,
            };
        }
        let listing = self.list()?;
        let by_name: Vec<&StoredKey> = listing
            .keys
            .iter()
            .filter(|k| k.file.info.name == selector)
            .collect();
        let candidates: Vec<KeyId> = if !by_name.is_empty() {
            by_name.iter().map(|k| k.file.info.id.clone()).collect()
        } else if sel.len() >= 4 && sel.bytes().all(|b| b.is_ascii_hexdigit()) {
            self.key_ids()?
                .into_iter()
                .filter(|id| id.as_str().starts_with(&sel))
                .collect()
        } else {
            Vec::new()
        };
        match candidates.as_slice() {
            // An unreadable file may be the key asked for: say why it is
            // unreadable rather than that nothing matches.
            [] => Err(listing.problems.into_iter().next().unwrap_or(KeyError::NotFound {
                selector: selector.to_owned(),
            })),
            [id] => self.read(id),
            _ => Err(KeyError::Ambiguous {
                selector: selector.to_owned(),
                candidates,
            }),
        }
    }

    /// Stores a new key. Refuses an id or a name that is already present;
    /// never replaces a file.
    pub fn insert(&self, file: &KeyFile) -> Result<PathBuf> {
        self.ensure()?;
        let _lock = self.lock()?;
        let info = &file.info;
        let path = self.key_path(&info.id);
        if path.exists() {
            return Err(KeyError::DuplicateKey { id: info.id.clone() });
        }
        if let Some(other) = self.list()?.keys.iter().find(|k| k.file.info.name == info.name) {
            return Err(KeyError::DuplicateName {
                name: info.name.clone(),
                id: other.file.info.id.clone(),
            });
        }
        write_atomic(&path, file.render().as_bytes(), 0o600, Mode::CreateNew).map_err(|e| {
            if e.kind() == ErrorKind::AlreadyExists {
                KeyError::DuplicateKey { id: info.id.clone() }
            } else {
                KeyError::io("writing", &path, e)
            }
        })?;
        Ok(path)
    }

    /// Replaces an existing key's file (e.g. after a passphrase change).
    pub fn replace(&self, file: &KeyFile) -> Result<PathBuf> {
        self.check_permissions()?;
        let _lock = self.lock()?;
        let path = self.key_path(&file.info.id);
        read_key_file(&path)?;
        write_atomic(&path, file.render().as_bytes(), 0o600, Mode::Replace)
            .map_err(|e| KeyError::io("writing", &path, e))?;
        Ok(path)
    }

    /// Deletes a key file.
    pub fn remove(&self, id: &KeyId) -> Result<()> {
        self.check_permissions()?;
        let _lock = self.lock()?;
        let path = self.key_path(id);
        fs::remove_file(&path).map_err(|e| KeyError::io("removing", &path, e))?;
        sync_dir(&self.private_dir()).map_err(|e| KeyError::io("syncing", self.private_dir(), e))
    }

    /// An exclusive lock on `private/`, released when dropped.
    fn lock(&self) -> Result<File> {
        let dir = self.private_dir();
        let handle = File::open(&dir).map_err(|e| KeyError::io("opening", &dir, e))?;
        handle.lock().map_err(|e| KeyError::io("locking", &dir, e))?;
        Ok(handle)
    }
}

fn check_mode(path: &Path, mode: u32) -> Result<()> {
    if mode & 0o077 != 0 {
        return Err(KeyError::InsecurePermissions {
            path: path.to_owned(),
            mode: mode & 0o7777,
        });
    }
    Ok(())
}

fn read_key_file(path: &Path) -> Result<StoredKey> {
    let file = File::open(path).map_err(|e| KeyError::io("reading", path, e))?;
    let meta = file.metadata().map_err(|e| KeyError::io("reading", path, e))?;
    check_mode(path, meta.permissions().mode())?;
    let shown = path.display().to_string();
    if meta.len() > MAX_KEY_FILE {
        return Err(KeyError::corrupt(&shown, "larger than 64 KiB"));
    }
    let mut text = String::new();
    file.take(MAX_KEY_FILE)
        .read_to_string(&mut text)
        .map_err(|_| KeyError::corrupt(&shown, "not UTF-8 text"))?;
    let parsed = KeyFile::parse(&text, &shown)?;
    let expected = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if parsed.info.id.as_str() != expected {
        return Err(KeyError::corrupt(
            &shown,
            "the file name does not match the key id inside",
        ));
    }
    Ok(StoredKey {
        file: parsed,
        path: path.to_owned(),
    })
}

/// How [`write_atomic`] treats an existing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Fail with `AlreadyExists` if the target exists.
    CreateNew,
    /// Replace the target atomically.
    Replace,
}

/// Writes `bytes` to `path` atomically: a temporary file beside it (created
/// with `perm`), fsync, then link (`CreateNew`) or rename (`Replace`), then
/// fsync of the directory. A crash leaves the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8], perm: u32, mode: Mode) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let base = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    // A random name, created exclusively below: never a predictable one
    // that someone with write access could plant first.
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).map_err(|e| std::io::Error::other(format!("no randomness: {e}")))?;
    let tmp = dir.join(format!(".tmp-{base}-{}", hex::encode(random)));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(perm)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        match mode {
            Mode::CreateNew => fs::hard_link(&tmp, path)?,
            Mode::Replace => fs::rename(&tmp, path)?,
        }
        sync_dir(&dir)
    })();
    // After a rename the temporary name is gone; after a link it remains.
    let _ = fs::remove_file(&tmp);
    result
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
