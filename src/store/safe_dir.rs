//! A directory that vouch reads and writes without following links.
//!
//! An OCI layout is untrusted input: whoever can write it may have put a
//! symbolic link where `index.json` or a blob should be (to make vouch read
//! or overwrite a file elsewhere), a FIFO (to make a read hang) or a device.
//! Every name here is opened relative to a directory descriptor with
//! `O_NOFOLLOW`, non-blocking, and checked to be a regular file (or a real
//! directory) before a byte is read; new files get random names created
//! exclusively and are renamed into place within the same directory.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{
    AtFlags, CWD, Mode, OFlags, fcntl_getfl, fcntl_setfl, fstat, fsync, linkat, mkdirat, openat, renameat,
    statat, unlinkat,
};
use rustix::io::Errno;

/// Why a name inside a safe directory was not used.
#[derive(Debug)]
pub enum Refusal {
    /// A symbolic link, FIFO, device, socket, or a directory where a file
    /// belongs (or the other way round).
    NotRegular {
        /// The path as the user would see it.
        path: PathBuf,
        /// What was found there.
        found: &'static str,
    },
    /// Any other error of the file system.
    Io(PathBuf, io::Error),
}

/// An open directory; names are resolved beneath it, one level at a time.
#[derive(Debug)]
pub struct SafeDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// How long [`SafeDir::lock`] waits for another holder of the lock.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A kind of directory entry.
pub use rustix::fs::FileType;

fn plain(name: &str) -> io::Result<&str> {
    if name.is_empty() || name.contains('/') || name.contains('\0') || name == "." || name == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a plain file name",
        ));
    }
    Ok(name)
}

/// What a kind of file is called in messages.
fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Socket => "a socket",
        FileType::Directory => "a directory",
        FileType::RegularFile => "a regular file",
        _ => "an unknown kind of file",
    }
}

/// A random suffix for temporary names (never a predictable `NAME.PID`).
pub fn random_suffix() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        // Without the OS's randomness, fall back to something unique in
        // this process; exclusive creation still refuses a planted name.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes[..8].copy_from_slice(&(nanos as u64).to_le_bytes());
        bytes[8..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    hex::encode(bytes)
}

impl SafeDir {
    /// Opens the directory the user named (that path itself may be a link:
    /// the user chose it).
    pub fn open(path: &Path) -> Result<SafeDir, Refusal> {
        let fd = openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Refusal::Io(path.to_owned(), e.into()))?;
        Ok(SafeDir {
            fd,
            path: path.to_owned(),
        })
    }

    /// The directory's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn child(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn name<'n>(&self, name: &'n str) -> Result<&'n str, Refusal> {
        plain(name).map_err(|e| Refusal::Io(self.child(name), e))
    }

    /// What `name` is, without following it: `None` when it does not exist.
    pub fn kind(&self, name: &str) -> Result<Option<FileType>, Refusal> {
        match statat(&self.fd, self.name(name)?, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(Refusal::Io(self.child(name), e.into())),
        }
    }

    /// Opens the subdirectory `name` (never through a link), creating it
    /// first when `create` is set. `None`: it does not exist.
    pub fn subdir(&self, name: &str, create: bool) -> Result<Option<SafeDir>, Refusal> {
        let path = self.child(name);
        let name = self.name(name)?;
        if create {
            match mkdirat(&self.fd, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(Refusal::Io(path, e.into())),
            }
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(SafeDir { fd, path })),
            Err(Errno::NOENT) => Ok(None),
            Err(Errno::LOOP | Errno::NOTDIR) => {
                let found = self.kind(name)?.map(kind_name).unwrap_or("something else");
                Err(Refusal::NotRegular { path, found })
            }
            Err(e) => Err(Refusal::Io(path, e.into())),
        }
    }

    /// Opens the regular file `name` for reading: never through a link,
    /// never a FIFO or device (the open does not block on one). `None`: it
    /// does not exist.
    pub fn open_file(&self, name: &str) -> Result<Option<File>, Refusal> {
        let path = self.child(name);
        // O_NONBLOCK: opening a FIFO returns at once instead of waiting for
        // a writer; it is then refused by its type.
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = match openat(&self.fd, self.name(name)?, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => {
                return Err(Refusal::NotRegular {
                    path,
                    found: "a symbolic link",
                });
            }
            Err(e) => return Err(Refusal::Io(path, e.into())),
        };
        let st = fstat(&fd).map_err(|e| Refusal::Io(path.clone(), e.into()))?;
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind != FileType::RegularFile {
            return Err(Refusal::NotRegular {
                path,
                found: kind_name(kind),
            });
        }
        // An ordinary blocking descriptor from here on.
        let flags = fcntl_getfl(&fd).map_err(|e| Refusal::Io(path.clone(), e.into()))?;
        fcntl_setfl(&fd, flags - OFlags::NONBLOCK).map_err(|e| Refusal::Io(path.clone(), e.into()))?;
        Ok(Some(File::from(fd)))
    }

    /// Reads the regular file `name`, at most `max + 1` bytes (more than
    /// `max` back means over the limit, the caller's to name). `None`: it
    /// does not exist.
    pub fn read_file(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>, Refusal> {
        let Some(f) = self.open_file(name)? else {
            return Ok(None);
        };
        let mut buf = Vec::new();
        f.take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Refusal::Io(self.child(name), e))?;
        Ok(Some(buf))
    }

    /// Creates a new file with a random name starting `prefix`, exclusively
    /// (a planted name or link is never opened).
    pub fn create_temp(&self, prefix: &str, perm: u32) -> Result<(File, String), Refusal> {
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        for _ in 0..8 {
            let name = format!("{prefix}{}", random_suffix());
            match openat(&self.fd, self.name(&name)?, flags, Mode::from_raw_mode(perm)) {
                Ok(fd) => return Ok((File::from(fd), name)),
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(Refusal::Io(self.child(&name), e.into())),
            }
        }
        Err(Refusal::Io(
            self.path.clone(),
            io::Error::new(io::ErrorKind::AlreadyExists, "no free temporary name"),
        ))
    }

    /// Creates a new subdirectory with a random name starting `prefix`,
    /// exclusively, and opens it.
    pub fn create_subdir(&self, prefix: &str) -> Result<(SafeDir, String), Refusal> {
        for _ in 0..8 {
            let name = format!("{prefix}{}", random_suffix());
            match mkdirat(&self.fd, self.name(&name)?, Mode::from_raw_mode(0o755)) {
                Ok(()) => {}
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(Refusal::Io(self.child(&name), e.into())),
            }
            let dir = self
                .subdir(&name, false)?
                .ok_or_else(|| Refusal::Io(self.child(&name), io::ErrorKind::NotFound.into()))?;
            return Ok((dir, name));
        }
        Err(Refusal::Io(
            self.path.clone(),
            io::Error::new(io::ErrorKind::AlreadyExists, "no free temporary name"),
        ))
    }

    /// Names in this directory starting with `prefix`.
    pub fn names_starting(&self, prefix: &str) -> Result<Vec<String>, Refusal> {
        let io = |e: Errno| Refusal::Io(self.path.clone(), e.into());
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.fd).map_err(io)? {
            let entry = entry.map_err(io)?;
            if let Ok(name) = entry.file_name().to_str()
                && name.starts_with(prefix)
            {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    /// Renames `from` to `to` within this directory, replacing `to` (the
    /// name itself, never what a link there points at).
    pub fn rename(&self, from: &str, to: &str) -> Result<(), Refusal> {
        renameat(&self.fd, self.name(from)?, &self.fd, self.name(to)?)
            .map_err(|e| Refusal::Io(self.child(to), e.into()))
    }

    /// Links `from` as `to` within this directory; `false` when `to`
    /// exists (it is left as it is).
    pub fn link_new(&self, from: &str, to: &str) -> Result<bool, Refusal> {
        match linkat(
            &self.fd,
            self.name(from)?,
            &self.fd,
            self.name(to)?,
            AtFlags::empty(),
        ) {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => Ok(false),
            Err(e) => Err(Refusal::Io(self.child(to), e.into())),
        }
    }

    /// Removes the name `name` (never what a link points at), if it is
    /// there.
    pub fn remove_file(&self, name: &str) {
        if let Ok(name) = plain(name) {
            let _ = unlinkat(&self.fd, name, AtFlags::empty());
        }
    }

    /// Flushes the directory's entries to disk.
    pub fn sync(&self) -> Result<(), Refusal> {
        fsync(&self.fd).map_err(|e| Refusal::Io(self.path.clone(), e.into()))
    }

    /// Writes `bytes` as `name`: a temporary file, flushed, renamed over
    /// `name` when `replace`, else linked (leaving an existing `name` as
    /// it is). Returns whether `name` now holds these bytes.
    pub fn write_atomic(&self, name: &str, bytes: &[u8], perm: u32, replace: bool) -> Result<bool, Refusal> {
        use std::io::Write as _;
        let (mut f, temp) = self.create_temp(&format!(".{name}.tmp-"), perm)?;
        let result = (|| {
            f.write_all(bytes)
                .map_err(|e| Refusal::Io(self.child(&temp), e))?;
            f.sync_all().map_err(|e| Refusal::Io(self.child(&temp), e))?;
            drop(f);
            let placed = if replace {
                self.rename(&temp, name).map(|()| true)?
            } else {
                self.link_new(&temp, name)?
            };
            self.sync()?;
            Ok(placed)
        })();
        self.remove_file(&temp);
        result
    }

    /// Holds an exclusive lock on the directory itself until the returned
    /// file is dropped (serialises writers; no lock file is added). Anyone
    /// who can open the directory can hold its lock, so waiting has a
    /// limit: [`LOCK_WAIT`], then an error.
    pub fn lock(&self) -> Result<File, Refusal> {
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            if let Some(held) = self.try_lock()? {
                return Ok(held);
            }
            if std::time::Instant::now() >= deadline {
                return Err(Refusal::Io(
                    self.path.clone(),
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "another process has held this directory's lock for more than {} s",
                            LOCK_WAIT.as_secs()
                        ),
                    ),
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Takes the lock only if no one holds it.
    pub fn try_lock(&self) -> Result<Option<File>, Refusal> {
        let f = self.reopen()?;
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(Refusal::Io(self.path.clone(), e)),
        }
    }

    /// A new open file description of this directory: a lock taken on it
    /// ends when it is dropped (a `dup` would share this one's lock).
    fn reopen(&self) -> Result<File, Refusal> {
        openat(
            &self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map(File::from)
        .map_err(|e| Refusal::Io(self.path.clone(), e.into()))
    }
}
