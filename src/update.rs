//! Drives the sans-IO TUF core against a fetcher and a client metadata
//! directory: the update workflow (spec section 5) and target resolution.

use time::OffsetDateTime;

use crate::store::metadata_dir::MetadataDir;
use crate::store::{FetchError, FetchErrorKind, Fetcher};
use crate::tuf::metadata::encode_segment;
use crate::tuf::metadata::{RoleName, TargetFile, file_name};
use crate::tuf::{Limits, Lookup, TargetPath, TimestampUpdate, TrustedSet, TufError};

/// Why an update or a resolution stopped.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The metadata was refused: a definite "no".
    #[error(transparent)]
    Refused(#[from] TufError),
    /// A role the workflow needs is not in the repository.
    #[error("{what} is not available from the repository")]
    Unavailable {
        /// What was missing.
        what: String,
    },
    /// The repository could not be reached or read: could not decide.
    #[error(transparent)]
    Fetch(FetchError),
    /// The local metadata directory could not be used.
    #[error("{path}: {source}")]
    Local {
        /// The path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The target is not listed by any role the search reached.
    #[error("no trusted metadata lists target {0}")]
    NoSuchTarget(String),
}

impl UpdateError {
    /// Whether this is a definite refusal (exit 1) rather than a failure to
    /// decide (exit 2).
    pub fn is_refusal(&self) -> bool {
        matches!(self, UpdateError::Refused(_) | UpdateError::NoSuchTarget(_))
    }
}

impl From<FetchError> for UpdateError {
    fn from(e: FetchError) -> Self {
        UpdateError::Fetch(e)
    }
}

fn local(dir: &MetadataDir) -> impl Fn(std::io::Error) -> UpdateError + '_ {
    |source| UpdateError::Local {
        path: dir.path().display().to_string(),
        source,
    }
}

/// How a client keeps the roots it trusts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootRecord {
    /// `root.json`: the newest trusted root only (standard TUF clients).
    Latest,
    /// `roots/N.root.json` for every root from the first trusted one on,
    /// so that the first can be checked against a pin on every run.
    Chain,
}

/// A TUF client: a metadata directory, a repository to fetch from, and the
/// trusted set after [`Updater::refresh`].
pub struct Updater<F: Fetcher> {
    dir: MetadataDir,
    fetcher: F,
    metadata_base: String,
    set: TrustedSet,
    roots: RootRecord,
}

impl<F: Fetcher> std::fmt::Debug for Updater<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Updater")
            .field("dir", &self.dir)
            .field("metadata_base", &self.metadata_base)
            .finish()
    }
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() || base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

impl<F: Fetcher> Updater<F> {
    /// 5.1 and 5.2: fixes `now` and loads `root.json` from the metadata
    /// directory (put there by `vouch tuf init`).
    pub fn open(
        dir: MetadataDir,
        fetcher: F,
        metadata_base: &str,
        now: OffsetDateTime,
        limits: Limits,
    ) -> Result<Updater<F>, UpdateError> {
        let root = dir
            .read(&RoleName::Root)
            .map_err(local(&dir))?
            .ok_or_else(|| UpdateError::Local {
                path: dir.file(&RoleName::Root).display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no trusted root (run `vouch tuf init`)",
                ),
            })?;
        let set = TrustedSet::new(&root, now, limits)?.standard_bins();
        Ok(Updater {
            dir,
            fetcher,
            metadata_base: metadata_base.to_owned(),
            set,
            roots: RootRecord::Latest,
        })
    }

    /// A client that starts from a trusted set its caller built (a root
    /// checked against a pin, and the cached chain after it) and records
    /// each newer root as `roots/N.root.json`.
    pub fn from_trusted(dir: MetadataDir, fetcher: F, metadata_base: &str, set: TrustedSet) -> Updater<F> {
        Updater {
            dir,
            fetcher,
            metadata_base: metadata_base.to_owned(),
            set,
            roots: RootRecord::Chain,
        }
    }

    /// The trusted set.
    pub fn trusted(&self) -> &TrustedSet {
        &self.set
    }

    /// The fetcher.
    pub fn fetcher(&self) -> &F {
        &self.fetcher
    }

    fn fetch_metadata(&mut self, name: &str, role: &str, max: u64) -> Result<Option<Vec<u8>>, UpdateError> {
        let location = join(&self.metadata_base, name);
        match self.fetcher.fetch(&location, max) {
            // Endless data: the repository served more than the role may be.
            Err(FetchError {
                kind: FetchErrorKind::TooLarge(limit),
                ..
            }) => Err(TufError::TooLarge {
                role: role.to_owned(),
                limit,
            }
            .into()),
            other => Ok(other?),
        }
    }

    fn require(&mut self, name: &str, role: &str, max: u64) -> Result<Vec<u8>, UpdateError> {
        self.fetch_metadata(name, role, max)?
            .ok_or_else(|| UpdateError::Unavailable {
                what: join(&self.metadata_base, name),
            })
    }

    /// Runs the update workflow: root chain, timestamp, snapshot, top-level
    /// targets. Persists each verified file as received.
    pub fn refresh(&mut self) -> Result<(), UpdateError> {
        let limits = *self.set.limits();
        // 5.3.3 to 5.3.9: walk N+1.root.json until there is none.
        while let Some(v) = self.set.next_root_version() {
            let Some(bytes) = self.fetch_metadata(
                &file_name(&RoleName::Root, Some(v)),
                "root",
                limits.max_root_bytes,
            )?
            else {
                break;
            };
            self.set.update_root(&bytes)?;
            // 5.3.8: persist.
            match self.roots {
                RootRecord::Latest => self.dir.write(&RoleName::Root, &bytes),
                RootRecord::Chain => self.dir.write_root_version(v, &bytes),
            }
            .map_err(local(&self.dir))?;
        }
        // 5.3.10 to 5.3.12.
        for role in self.set.finish_root_update()? {
            self.dir.remove(&role).map_err(local(&self.dir))?;
        }
        // The persisted timestamp is the reference for rollback checks. It
        // was verified when it was stored and its keys did not change
        // (5.3.11 deleted it otherwise): one that no longer verifies is
        // damaged, and using none would silently drop rollback protection.
        if let Some(old) = self.dir.read(&RoleName::Timestamp).map_err(local(&self.dir))? {
            self.set
                .load_timestamp(&old)
                .map_err(|e| self.damaged(&RoleName::Timestamp, &e))?;
        }
        // 5.4.1 to 5.4.5.
        let ts = self.require("timestamp.json", "timestamp", limits.max_timestamp_bytes)?;
        if self.set.update_timestamp(&ts)? == TimestampUpdate::Updated {
            self.dir
                .write(&RoleName::Timestamp, &ts)
                .map_err(local(&self.dir))?;
        }
        // 5.5: use the persisted snapshot when it is the current one
        // (nothing is fetched when the timestamp did not change).
        if let Some(old) = self.dir.read(&RoleName::Snapshot).map_err(local(&self.dir))? {
            self.set
                .load_snapshot(&old)
                .map_err(|e| self.damaged(&RoleName::Snapshot, &e))?;
        }
        if self.set.snapshot_is_current().is_err() {
            let req = self.set.snapshot_request()?;
            let name = file_name(&RoleName::Snapshot, req.version);
            let bytes = self.require(&name, "snapshot", req.max_bytes)?;
            self.set.update_snapshot(&bytes)?;
            // 5.5.7: persist.
            self.dir
                .write(&RoleName::Snapshot, &bytes)
                .map_err(local(&self.dir))?;
        }
        // 5.6: top-level targets.
        self.load_role(&RoleName::Targets, &RoleName::Root)
    }

    fn damaged(&self, role: &RoleName, e: &TufError) -> UpdateError {
        UpdateError::Local {
            path: self.dir.file(role).display().to_string(),
            source: std::io::Error::other(format!(
                "the cached {role} metadata no longer verifies ({e}); remove the directory to start over"
            )),
        }
    }

    /// Uses only the persisted metadata: no fetch at all. Every file must
    /// verify, agree with the one that lists it, and be unexpired at `now`
    /// (offline mode, and the fast path when the repository is unchanged).
    pub fn load_cached(&mut self) -> Result<(), UpdateError> {
        let missing = |role: &str| UpdateError::Unavailable {
            what: format!("cached {role} metadata"),
        };
        self.set.finish_root_update()?;
        let ts = self
            .dir
            .read(&RoleName::Timestamp)
            .map_err(local(&self.dir))?
            .ok_or_else(|| missing("timestamp"))?;
        self.set.load_timestamp(&ts)?;
        self.set.timestamp_is_current()?;
        let snap = self
            .dir
            .read(&RoleName::Snapshot)
            .map_err(local(&self.dir))?
            .ok_or_else(|| missing("snapshot"))?;
        self.set.load_snapshot(&snap)?;
        self.set.snapshot_is_current()?;
        let targets = self
            .dir
            .read(&RoleName::Targets)
            .map_err(local(&self.dir))?
            .ok_or_else(|| missing("targets"))?;
        self.set
            .load_targets(&RoleName::Targets, &RoleName::Root, &targets)?;
        Ok(())
    }

    /// Loads a targets role from the metadata directory if it is the
    /// current one, else fetches it (5.6.1 to 5.6.6).
    fn load_role(&mut self, role: &RoleName, parent: &RoleName) -> Result<(), UpdateError> {
        if let Some(old) = self.dir.read(role).map_err(local(&self.dir))?
            && self.set.load_targets(role, parent, &old).is_ok()
        {
            return Ok(());
        }
        let req = self.set.role_request(role)?;
        let name = file_name(role, req.version);
        let bytes = self.require(&name, role.as_str(), req.max_bytes)?;
        self.set.update_delegated(role, parent, &bytes)?;
        self.dir.write(role, &bytes).map_err(local(&self.dir))
    }

    /// Loads every targets role reachable from `targets` (breadth-first, at
    /// most `max` roles), for listings such as `vouch inspect`. A role
    /// that is refused is not descended into; the refusals are returned,
    /// by role (a fetch failure still ends the walk: nothing was decided).
    pub fn load_all_roles(&mut self, max: usize) -> Result<Vec<(RoleName, TufError)>, UpdateError> {
        let mut queue = std::collections::VecDeque::from([(RoleName::Targets, RoleName::Root)]);
        let mut seen = std::collections::BTreeSet::new();
        let mut refused = Vec::new();
        while let Some((role, parent)) = queue.pop_front() {
            if seen.len() >= max || !seen.insert(role.clone()) {
                continue;
            }
            if self.set.targets(&role).is_none() {
                match self.load_role(&role, &parent) {
                    Ok(()) => {}
                    Err(UpdateError::Refused(e)) if role != RoleName::Targets => {
                        refused.push((role, e));
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(d) = self
                .set
                .targets(&role)
                .and_then(|t| t.signed().delegations.clone())
            else {
                continue;
            };
            for r in d.roles.iter().flatten() {
                queue.push_back((r.name.clone(), role.clone()));
            }
            if let Some(bins) = &d.succinct_roles {
                for n in 0..bins.bins().min(max as u64) {
                    queue.push_back((bins.bin_name(n), role.clone()));
                }
            }
        }
        Ok(refused)
    }

    /// 5.6.7: finds `path`, fetching only the delegated roles the search
    /// needs. Returns the signing role and the target's metadata.
    pub fn resolve(&mut self, path: &TargetPath) -> Result<(RoleName, TargetFile), UpdateError> {
        self.resolve_in(path, &RoleName::Targets, &RoleName::Root)
    }

    /// 5.6.7 from `role` (delegated by `parent`) down: see
    /// [`TrustedSet::lookup_in`].
    pub fn resolve_in(
        &mut self,
        path: &TargetPath,
        role: &RoleName,
        parent: &RoleName,
    ) -> Result<(RoleName, TargetFile), UpdateError> {
        loop {
            match self.set.lookup_in(path, role, parent)? {
                Lookup::Found { role, target } => return Ok((role, target)),
                Lookup::NotFound => return Err(UpdateError::NoSuchTarget(path.to_string())),
                Lookup::Fetch { role, parent } => self.load_role(&role, &parent)?,
            }
        }
    }

    /// 5.7: downloads a resolved target from `targets_base` into
    /// `target_dir`, checking length and hashes. A file already there with
    /// the right hashes is not fetched again. Returns the local path.
    pub fn download(
        &mut self,
        path: &TargetPath,
        signer: &str,
        target: &TargetFile,
        targets_base: &str,
        target_dir: &std::path::Path,
    ) -> Result<std::path::PathBuf, UpdateError> {
        let local_path = target_dir.join(encode_segment(path.as_str()));
        if let Ok(existing) = std::fs::read(&local_path)
            && crate::tuf::trusted_set::check_target(path.as_str(), signer, target, &existing).is_ok()
        {
            return Ok(local_path);
        }
        let remote = if self.set.root().signed().consistent_snapshot {
            let hash = target
                .hashes
                .values()
                .next()
                .ok_or_else(|| TufError::HashMismatch {
                    what: format!("target {path}"),
                    by: signer.to_owned(),
                    field: "hashes (none listed)".to_owned(),
                })?;
            path.with_hash_prefix(hash)
        } else {
            path.as_str().to_owned()
        };
        let location = join(targets_base, &remote);
        let bytes = match self.fetcher.fetch(&location, target.length) {
            Err(FetchError {
                kind: FetchErrorKind::TooLarge(_),
                ..
            }) => {
                return Err(TufError::HashMismatch {
                    what: format!("target {path}"),
                    by: signer.to_owned(),
                    field: "length".to_owned(),
                }
                .into());
            }
            other => other?.ok_or(UpdateError::Unavailable { what: location })?,
        };
        crate::tuf::trusted_set::check_target(path.as_str(), signer, target, &bytes)?;
        std::fs::create_dir_all(target_dir).map_err(local(&self.dir))?;
        vouch_keys::trust_dir::write_atomic(&local_path, &bytes, 0o644, vouch_keys::trust_dir::Mode::Replace)
            .map_err(local(&self.dir))?;
        Ok(local_path)
    }
}
