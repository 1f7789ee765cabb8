//! The client update workflow of the TUF specification, section 5, as a
//! sans-IO state machine: callers fetch bytes and hand them in one step at a
//! time; [`TrustedSet`] decides. Nothing here reads the network, the disk
//! or the clock — the update start time is given to [`TrustedSet::new`].

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::crypto::{check_key_ids, verify_threshold};
use super::error::TufError;
use super::limits::Limits;
use super::metadata::{
    DelegatedRole, Delegations, Envelope, Key, MetaFile, Role, Root, Snapshot, TargetFile, Targets, Timestamp,
};
use super::names::{KeyId, RoleName};
use super::path::{TargetPath, delegated_path_matches, hash_prefix_matches};

/// Verified metadata and the exact bytes it was received as.
#[derive(Clone, Debug)]
pub struct Verified<T> {
    /// The parsed envelope.
    pub envelope: Envelope<T>,
    /// The bytes received, to persist unchanged.
    pub bytes: Vec<u8>,
}

impl<T> Verified<T> {
    /// The typed role.
    pub fn signed(&self) -> &T {
        &self.envelope.signed
    }
}

/// What [`TrustedSet::update_timestamp`] concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampUpdate {
    /// A newer timestamp is now trusted.
    Updated,
    /// The same version as the trusted one: the new file is ignored, even
    /// if its content differs, and the trusted timestamp stays (5.4.3.1).
    /// Nothing changed, so snapshot and targets need not be fetched.
    Unchanged,
}

/// Whether expiry is checked. Only a writer that is about to re-sign
/// everything with fresh expiries may skip it (an expired repository must
/// stay repairable); every verifier enforces it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expiry {
    /// Expired metadata is refused (freeze attack).
    #[default]
    Enforce,
    /// Expired metadata is accepted. For publishers that re-sign what they
    /// load; never for a verdict.
    DangerIgnoreForRepublishing,
}

/// The result of one step of the target search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The target, and the role that signed it.
    Found {
        /// The delegated (or top-level) role that lists the target.
        role: RoleName,
        /// The target's metadata.
        target: TargetFile,
    },
    /// No role the search reached lists the target.
    NotFound,
    /// The search needs this role: fetch it (see [`TrustedSet::role_request`])
    /// and hand it to [`TrustedSet::update_delegated`], then search again.
    Fetch {
        /// The role to fetch.
        role: RoleName,
        /// The role that delegates to it.
        parent: RoleName,
    },
}

/// Which file to fetch for a role, and how much of it at most.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRequest {
    /// Role name.
    pub role: RoleName,
    /// Version to fetch (for `VERSION.ROLE.json` with consistent snapshots).
    pub version: Option<u64>,
    /// Most bytes to read.
    pub max_bytes: u64,
}

/// The keys, authorised key ids and threshold of a role.
pub type Signers = (BTreeMap<KeyId, Key>, Vec<KeyId>, u64);

/// The trusted metadata of one client, and the rules for changing it.
#[derive(Clone, Debug)]
pub struct TrustedSet {
    now: OffsetDateTime,
    limits: Limits,
    expiry: Expiry,
    root: Verified<Root>,
    /// Key ids of timestamp and snapshot when the update began (5.3.11).
    start_keys: (BTreeSet<KeyId>, BTreeSet<KeyId>),
    root_rotations: u64,
    timestamp: Option<Verified<Timestamp>>,
    snapshot: Option<Verified<Snapshot>>,
    targets: BTreeMap<RoleName, Verified<Targets>>,
    /// The delegators each loaded targets role was verified through: a
    /// role reached through another delegator is verified again against
    /// that delegator's keys.
    verified_via: BTreeMap<RoleName, BTreeSet<RoleName>>,
    /// vouch's rules on top of the specification, on unless reading a
    /// standard TUF repository ([`TrustedSet::standard_bins`]): succinct
    /// bins listed by version only carry a version bound to their name
    /// (`bin_versions`), and a new snapshot descends from the one trusted
    /// (`history`).
    bins_bound: bool,
    /// Root key ids that count toward no root threshold (keys lost or
    /// stolen, from the policy's deny list): a new root must meet both
    /// thresholds without them.
    denied: BTreeSet<KeyId>,
}

/// Checks a succinct bin's content against its name: every target it
/// lists is one the bin holds, and (when `bound`) a bin that snapshot
/// lists by version only, not `pinned` by hash, carries a version bound to
/// its name (`bin_versions`), so no other bin's file, empty or not, passes
/// for it.
pub fn check_bin(
    role: &RoleName,
    bins: &super::metadata::SuccinctRoles,
    signed: &Targets,
    pinned: bool,
    bound: bool,
) -> Result<(), TufError> {
    if let Some(path) = signed.targets.keys().find(|p| bins.bin_for(p) != *role) {
        return Err(TufError::malformed(
            role,
            format!("it lists {path:?}, which belongs to bin {}", bins.bin_for(path)),
        ));
    }
    if bound && !pinned && !super::bin_versions::bound_to(role.as_str(), signed.version) {
        return Err(TufError::malformed(
            role,
            format!(
                "version {} is not one of its own (a bin's version is bound to its name; another bin's file, \
                 or one signed by vouch before 2026-12-05)",
                signed.version
            ),
        ));
    }
    Ok(())
}

fn parse_verified<T: Role>(name: &str, bytes: &[u8], limit: u64) -> Result<Envelope<T>, TufError> {
    if bytes.len() as u64 > limit {
        return Err(TufError::TooLarge {
            role: name.to_owned(),
            limit,
        });
    }
    Envelope::parse(name, bytes)
}

fn check_not_expired<T: Role>(name: &str, signed: &T, now: OffsetDateTime) -> Result<(), TufError> {
    if signed.expires().at <= now {
        return expired(name, signed);
    }
    Ok(())
}

fn expired<T: Role>(name: &str, signed: &T) -> Result<(), TufError> {
    Err(TufError::Expired {
        role: name.to_owned(),
        version: signed.version(),
        expires: signed.expires().as_str().to_owned(),
    })
}

/// Checks `bytes` against a `meta` entry's length and hashes, if listed.
pub fn check_meta_file(what: &str, by: &str, meta: &MetaFile, bytes: &[u8]) -> Result<(), TufError> {
    if let Some(len) = meta.length
        && len != bytes.len() as u64
    {
        return Err(TufError::HashMismatch {
            what: what.to_owned(),
            by: by.to_owned(),
            field: "length".to_owned(),
        });
    }
    if let Some(hashes) = &meta.hashes {
        check_hashes(what, by, hashes, bytes, false)?;
    }
    Ok(())
}

/// Checks a downloaded target against its metadata: length and every
/// listed hash vouch supports (sha256, sha512; at least one must be listed).
pub fn check_target(path: &str, by: &str, target: &TargetFile, bytes: &[u8]) -> Result<(), TufError> {
    if target.length != bytes.len() as u64 {
        return Err(TufError::HashMismatch {
            what: format!("target {path}"),
            by: by.to_owned(),
            field: "length".to_owned(),
        });
    }
    check_hashes(&format!("target {path}"), by, &target.hashes, bytes, true)
}

fn check_hashes(
    what: &str,
    by: &str,
    hashes: &BTreeMap<String, String>,
    bytes: &[u8],
    need_one: bool,
) -> Result<(), TufError> {
    use sha2::Digest;
    let mut checked = 0;
    for (alg, expected) in hashes {
        let actual = match alg.as_str() {
            "sha256" => hex::encode(sha2::Sha256::digest(bytes)),
            "sha512" => hex::encode(sha2::Sha512::digest(bytes)),
            _ => continue,
        };
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(TufError::HashMismatch {
                what: what.to_owned(),
                by: by.to_owned(),
                field: alg.clone(),
            });
        }
        checked += 1;
    }
    if checked == 0 && (need_one || !hashes.is_empty()) {
        return Err(TufError::HashMismatch {
            what: what.to_owned(),
            by: by.to_owned(),
            field: "hashes (no supported algorithm listed)".to_owned(),
        });
    }
    Ok(())
}

fn role_keys(root: &Root, role: &RoleName) -> Result<(Vec<KeyId>, u64), TufError> {
    root.roles
        .get(role)
        .map(|r| (r.keyids.clone(), r.threshold))
        .ok_or_else(|| TufError::malformed("root", format!("no `{role}` role")))
}

fn keyid_set(root: &Root, role: &RoleName) -> BTreeSet<KeyId> {
    root.roles
        .get(role)
        .map(|r| r.keyids.iter().cloned().collect())
        .unwrap_or_default()
}

/// Verifies root `env` against the root role of `by`, counting no key id
/// in `denied`.
fn verify_root_by(by: &Root, env: &Envelope<Root>, denied: &BTreeSet<KeyId>) -> Result<(), TufError> {
    let (keyids, threshold) = role_keys(by, &RoleName::Root)?;
    let keyids: Vec<KeyId> = keyids.into_iter().filter(|k| !denied.contains(k)).collect();
    verify_threshold(
        "root",
        env.signed.version,
        &env.canonical,
        &env.signatures,
        &by.keys,
        &keyids,
        threshold,
    )
}

/// Verifies `env` against a top-level role of `root`.
fn verify_top_level<T: Role>(root: &Root, role: &RoleName, env: &Envelope<T>) -> Result<(), TufError> {
    let (keyids, threshold) = role_keys(root, role)?;
    verify_threshold(
        role.as_str(),
        env.signed.version(),
        &env.canonical,
        &env.signatures,
        &root.keys,
        &keyids,
        threshold,
    )
}

/// Checks what threshold counting relies on: each key list's ids hash to
/// their keys, no role lists a key id twice, thresholds are at least 1.
fn check_key_list(
    role: &RoleName,
    listed_by: &str,
    keyids: &[KeyId],
    threshold: u64,
) -> Result<(), TufError> {
    if threshold == 0 {
        return Err(TufError::malformed(
            listed_by,
            format!("the threshold of {role} is 0"),
        ));
    }
    let unique: BTreeSet<&KeyId> = keyids.iter().collect();
    if unique.len() != keyids.len() {
        return Err(TufError::malformed(
            listed_by,
            format!("{role} lists a key id twice"),
        ));
    }
    Ok(())
}

/// Checks a root's shape: key ids hash to their keys, every top-level
/// role is listed once per key id with a threshold of at least 1.
pub fn validate_root(root: &Root) -> Result<(), TufError> {
    check_key_ids("root", &root.keys)?;
    for role in RoleName::TOP_LEVEL {
        let r = root
            .roles
            .get(&role)
            .ok_or_else(|| TufError::malformed("root", format!("no `{role}` role")))?;
        check_key_list(&role, "root", &r.keyids, r.threshold)?;
    }
    Ok(())
}

/// Checks the delegations of targets role `role`: key ids hash to their
/// keys, role names are unique and none is a top-level role's name (a
/// delegated role named `timestamp` must never stand in for the real one),
/// thresholds at least 1, no key id listed twice.
pub fn validate_delegations(role: &str, delegations: &Delegations) -> Result<(), TufError> {
    check_key_ids(role, &delegations.keys)?;
    let mut names = BTreeSet::new();
    for r in delegations.roles.iter().flatten() {
        if !r.name.is_delegable() {
            return Err(TufError::malformed(
                role,
                format!("it delegates to a role named {:?}, a reserved name", r.name),
            ));
        }
        if !names.insert(&r.name) {
            return Err(TufError::malformed(
                role,
                format!("it delegates to {:?} twice", r.name),
            ));
        }
        check_key_list(&r.name, role, &r.keyids, r.threshold)?;
    }
    if let Some(bins) = &delegations.succinct_roles {
        if delegations.roles.is_some() {
            return Err(TufError::malformed(
                role,
                "it has both `roles` and `succinct_roles`",
            ));
        }
        if !(1..=32).contains(&bins.bit_length) || !bins.name_prefix.is_delegable() {
            return Err(TufError::malformed(role, "its succinct_roles are not valid"));
        }
        check_key_list(&bins.name_prefix, role, &bins.keyids, bins.threshold)?;
    }
    Ok(())
}

/// The keys, key ids and threshold with which `parent`'s delegations
/// authorise `role`, if `parent` delegates to it.
pub fn delegation_signers(parent: &Targets, role: &str) -> Option<Signers> {
    let delegations = parent.delegations.as_ref()?;
    if let Some(r) = delegations.roles.iter().flatten().find(|r| r.name == role) {
        return Some((delegations.keys.clone(), r.keyids.clone(), r.threshold));
    }
    let bins = delegations.succinct_roles.as_ref()?;
    bins.is_bin(role)
        .then(|| (delegations.keys.clone(), bins.keyids.clone(), bins.threshold))
}

/// The keys, key ids and threshold of a top-level role in `root`.
pub fn top_level_signers(root: &Root, role: &RoleName) -> Result<Signers, TufError> {
    let (ids, threshold) = role_keys(root, role)?;
    Ok((root.keys.clone(), ids, threshold))
}

impl TrustedSet {
    /// 5.1 and 5.2: fixes the update start time `now` and loads the trusted
    /// root (shipped with the client, pinned, or persisted). Its expiry does
    /// not matter yet (5.3.10 checks it), but it must carry a threshold of
    /// its own signatures.
    pub fn new(root_bytes: &[u8], now: OffsetDateTime, limits: Limits) -> Result<TrustedSet, TufError> {
        let env: Envelope<Root> = parse_verified("root", root_bytes, limits.max_root_bytes)?;
        validate_root(&env.signed)?;
        verify_top_level(&env.signed, &RoleName::Root, &env)?;
        let start_keys = (
            keyid_set(&env.signed, &RoleName::Timestamp),
            keyid_set(&env.signed, &RoleName::Snapshot),
        );
        Ok(TrustedSet {
            now,
            limits,
            expiry: Expiry::Enforce,
            root: Verified {
                envelope: env,
                bytes: root_bytes.to_vec(),
            },
            start_keys,
            root_rotations: 0,
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
            verified_via: BTreeMap::new(),
            bins_bound: true,
            denied: BTreeSet::new(),
        })
    }

    /// Counts none of the root key ids `denied` toward a root threshold
    /// from now on, the trusted root's own included: refused when it no
    /// longer meets its threshold without them.
    pub fn with_denied(mut self, denied: impl IntoIterator<Item = KeyId>) -> Result<TrustedSet, TufError> {
        self.denied = denied.into_iter().collect();
        if !self.denied.is_empty() {
            let root = &self.root.envelope;
            verify_root_by(&root.signed, root, &self.denied)?;
        }
        Ok(self)
    }

    /// Marks the start of an update at the current root: a client that
    /// rebuilt its trusted root from a cached chain calls this once the
    /// chain is replayed, so that key rotations it had already seen do not
    /// count as new (5.3.11) and the root-version limit counts from here.
    pub fn begin_update(&mut self) {
        let root = self.root.signed();
        self.start_keys = (
            keyid_set(root, &RoleName::Timestamp),
            keyid_set(root, &RoleName::Snapshot),
        );
        self.root_rotations = 0;
    }

    /// Checks expiry again from now on (undoes
    /// [`TrustedSet::danger_ignore_expiry_for_republishing`]).
    pub fn enforce_expiry(&mut self) {
        self.expiry = Expiry::Enforce;
    }

    /// Whether the trusted root has not expired (5.3.10), whatever the
    /// expiry mode.
    pub fn root_is_current(&self) -> Result<(), TufError> {
        check_not_expired("root", self.root.signed(), self.now)
    }

    /// Reads a standard TUF repository: succinct bins are bound to their
    /// names only by what snapshot lists (as the specification has it),
    /// not by vouch's version rule.
    pub fn standard_bins(mut self) -> TrustedSet {
        self.bins_bound = false;
        self
    }

    /// Whether bins must carry versions bound to their names.
    pub fn bins_bound(&self) -> bool {
        self.bins_bound
    }

    /// Skips expiry checks: see [`Expiry::DangerIgnoreForRepublishing`].
    pub fn danger_ignore_expiry_for_republishing(mut self) -> TrustedSet {
        self.expiry = Expiry::DangerIgnoreForRepublishing;
        self
    }

    fn check_expiry<T: Role>(&self, name: &str, signed: &T) -> Result<(), TufError> {
        match self.expiry {
            Expiry::Enforce => check_not_expired(name, signed, self.now),
            Expiry::DangerIgnoreForRepublishing => Ok(()),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The update start time.
    pub fn now(&self) -> OffsetDateTime {
        self.now
    }

    /// The trusted root.
    pub fn root(&self) -> &Verified<Root> {
        &self.root
    }

    /// The trusted timestamp, if any.
    pub fn timestamp(&self) -> Option<&Verified<Timestamp>> {
        self.timestamp.as_ref()
    }

    /// The trusted snapshot, if any.
    pub fn snapshot(&self) -> Option<&Verified<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// A trusted targets role (top-level `targets` or delegated), if loaded.
    pub fn targets<Q>(&self, role: &Q) -> Option<&Verified<Targets>>
    where
        Q: Ord + ?Sized,
        RoleName: std::borrow::Borrow<Q>,
    {
        self.targets.get(role)
    }

    /// Every trusted targets role.
    pub fn all_targets(&self) -> &BTreeMap<RoleName, Verified<Targets>> {
        &self.targets
    }

    /// 5.3.3: the next root version to try, N+1, or `None` once the limit
    /// of root versions per update (Y) is reached.
    pub fn next_root_version(&self) -> Option<u64> {
        (self.root_rotations < self.limits.max_root_rotations).then(|| self.root.signed().version + 1)
    }

    /// 5.3.4 to 5.3.8: one newer root, `N+1.root.json`.
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        let trusted = self.root.signed();
        let new: Envelope<Root> = parse_verified("root", bytes, self.limits.max_root_bytes)?;
        validate_root(&new.signed)?;
        // 5.3.4: signed by a threshold of the trusted root's root keys…
        verify_root_by(trusted, &new, &self.denied)?;
        // …and by a threshold of its own (denied keys count for neither).
        verify_root_by(&new.signed, &new, &self.denied)?;
        // 5.3.5: exactly N+1.
        if new.signed.version != trusted.version + 1 {
            return Err(TufError::Rollback {
                role: "root".to_owned(),
                trusted: trusted.version,
                got: new.signed.version,
            });
        }
        // 5.3.6: the intermediate root's expiry is checked in 5.3.10.
        // 5.3.7: trust it (5.3.8, persisting, is the caller's: `root().bytes`).
        self.root = Verified {
            envelope: new,
            bytes: bytes.to_vec(),
        };
        self.root_rotations += 1;
        Ok(())
    }

    /// 5.3.10 to 5.3.12, once no newer root is available. Returns the roles
    /// whose persisted metadata the caller must delete (5.3.11).
    pub fn finish_root_update(&mut self) -> Result<Vec<RoleName>, TufError> {
        let root = self.root.signed();
        // 5.3.10: freeze attack on root.
        self.check_expiry("root", root)?;
        // 5.3.11: after a timestamp or snapshot key rotation, forget the
        // trusted timestamp and snapshot (fast-forward attack recovery).
        let mut delete = Vec::new();
        if keyid_set(root, &RoleName::Timestamp) != self.start_keys.0
            || keyid_set(root, &RoleName::Snapshot) != self.start_keys.1
        {
            self.timestamp = None;
            self.snapshot = None;
            delete = vec![RoleName::Timestamp, RoleName::Snapshot];
        }
        // 5.3.12: consistent snapshots are read from `root().signed()`.
        Ok(delete)
    }

    /// Loads a persisted timestamp: it must be signed by the current root's
    /// timestamp keys; expired or not, it becomes the reference for rollback
    /// checks of the next one.
    pub fn load_timestamp(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        let env: Envelope<Timestamp> = parse_verified("timestamp", bytes, self.limits.max_timestamp_bytes)?;
        verify_top_level(self.root.signed(), &RoleName::Timestamp, &env)?;
        self.timestamp = Some(Verified {
            envelope: env,
            bytes: bytes.to_vec(),
        });
        Ok(())
    }

    /// 5.4.2 to 5.4.4: a newly downloaded timestamp (5.4.1 fetched at most
    /// `limits().max_timestamp_bytes`). On success the caller persists
    /// `timestamp().bytes` (5.4.5).
    pub fn update_timestamp(&mut self, bytes: &[u8]) -> Result<TimestampUpdate, TufError> {
        let new: Envelope<Timestamp> = parse_verified("timestamp", bytes, self.limits.max_timestamp_bytes)?;
        // 5.4.2: arbitrary software attack.
        verify_top_level(self.root.signed(), &RoleName::Timestamp, &new)?;
        let new_snapshot = snapshot_meta(&new.signed)?;
        if let Some(trusted) = &self.timestamp {
            let old = trusted.signed();
            // 5.4.3.1: rollback; an equal version ends the update normally:
            // the new file is ignored, whatever it holds.
            if new.signed.version < old.version {
                return Err(TufError::Rollback {
                    role: "timestamp".to_owned(),
                    trusted: old.version,
                    got: new.signed.version,
                });
            }
            if new.signed.version == old.version {
                // off-spec: the spec keeps the trusted timestamp and ends the
                // update; an expired trusted timestamp must still stop the
                // client (a frozen view).
                self.check_expiry("timestamp", old)?;
                return Ok(TimestampUpdate::Unchanged);
            }
            // 5.4.3.2: the snapshot version it lists must not go back.
            let old_snapshot = snapshot_meta(old)?;
            if new_snapshot.version < old_snapshot.version {
                return Err(TufError::Rollback {
                    role: "snapshot".to_owned(),
                    trusted: old_snapshot.version,
                    got: new_snapshot.version,
                });
            }
        }
        // 5.4.4: freeze attack.
        self.check_expiry("timestamp", &new.signed)?;
        self.timestamp = Some(Verified {
            envelope: new,
            bytes: bytes.to_vec(),
        });
        Ok(TimestampUpdate::Updated)
    }

    /// Whether the trusted timestamp has not expired (for cached use).
    pub fn timestamp_is_current(&self) -> Result<(), TufError> {
        let ts = self.trusted_timestamp()?;
        self.check_expiry("timestamp", ts.signed())
    }

    /// The earliest expiry among the trusted root, timestamp, snapshot and
    /// targets roles: how long cached trust data stays usable.
    pub fn fresh_until(&self) -> Option<&super::metadata::Expires> {
        let mut all = vec![&self.root.signed().expires];
        all.extend(self.timestamp.as_ref().map(|t| &t.signed().expires));
        all.extend(self.snapshot.as_ref().map(|s| &s.signed().expires));
        all.extend(self.targets.values().map(|t| &t.signed().expires));
        all.into_iter().min_by_key(|e| e.at)
    }

    /// 5.5.1: which snapshot to fetch, and how many bytes at most.
    pub fn snapshot_request(&self) -> Result<RoleRequest, TufError> {
        let ts = self.trusted_timestamp()?;
        let meta = snapshot_meta(ts.signed())?;
        Ok(RoleRequest {
            role: RoleName::Snapshot,
            version: self.root.signed().consistent_snapshot.then_some(meta.version),
            max_bytes: meta.length.unwrap_or(self.limits.max_snapshot_bytes),
        })
    }

    fn trusted_timestamp(&self) -> Result<&Verified<Timestamp>, TufError> {
        self.timestamp.as_ref().ok_or(TufError::Missing {
            role: "timestamp".to_owned(),
            needed: "update the timestamp first",
        })
    }

    /// Loads a persisted snapshot: signed by the root's snapshot keys; kept
    /// as the reference for rollback checks (5.5.5). Whether it is current
    /// is [`TrustedSet::snapshot_is_current`].
    pub fn load_snapshot(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        let env: Envelope<Snapshot> = parse_verified("snapshot", bytes, self.limits.max_snapshot_bytes)?;
        verify_top_level(self.root.signed(), &RoleName::Snapshot, &env)?;
        self.snapshot = Some(Verified {
            envelope: env,
            bytes: bytes.to_vec(),
        });
        Ok(())
    }

    /// Whether the trusted snapshot is the one the trusted timestamp lists
    /// (version and hashes) and has not expired — the checks of 5.5.2,
    /// 5.5.4 and 5.5.6 applied to a persisted file.
    pub fn snapshot_is_current(&self) -> Result<(), TufError> {
        let ts = self.trusted_timestamp()?;
        let snap = self.snapshot.as_ref().ok_or(TufError::Missing {
            role: "snapshot".to_owned(),
            needed: "fetch the snapshot",
        })?;
        let meta = snapshot_meta(ts.signed())?;
        check_meta_file("snapshot", "timestamp", meta, &snap.bytes)?;
        if snap.signed().version != meta.version {
            return Err(TufError::VersionMismatch {
                role: "snapshot".to_owned(),
                by: "timestamp".to_owned(),
                expected: meta.version,
                got: snap.signed().version,
            });
        }
        self.check_expiry("snapshot", snap.signed())
    }

    /// 5.5.2 to 5.5.6: a newly downloaded snapshot. On success the caller
    /// persists `snapshot().bytes` (5.5.7).
    pub fn update_snapshot(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        let ts = self.trusted_timestamp()?;
        let meta = snapshot_meta(ts.signed())?;
        if bytes.len() as u64 > meta.length.unwrap_or(self.limits.max_snapshot_bytes) {
            return Err(TufError::TooLarge {
                role: "snapshot".to_owned(),
                limit: meta.length.unwrap_or(self.limits.max_snapshot_bytes),
            });
        }
        // 5.5.2: hashes (and length) listed by timestamp.
        check_meta_file("snapshot", "timestamp", meta, bytes)?;
        let new: Envelope<Snapshot> = Envelope::parse("snapshot", bytes)?;
        // 5.5.3: arbitrary software attack.
        verify_top_level(self.root.signed(), &RoleName::Snapshot, &new)?;
        // 5.5.4: the version timestamp lists.
        if new.signed.version != meta.version {
            return Err(TufError::VersionMismatch {
                role: "snapshot".to_owned(),
                by: "timestamp".to_owned(),
                expected: meta.version,
                got: new.signed.version,
            });
        }
        // 5.5.5: no targets role goes back, none disappears.
        if let Some(old) = &self.snapshot {
            for (name, old_meta) in &old.signed().meta {
                let Some(new_meta) = new.signed.meta.get(name) else {
                    return Err(TufError::RoleRemoved {
                        role: name.trim_end_matches(".json").to_owned(),
                    });
                };
                if new_meta.version < old_meta.version {
                    return Err(TufError::Rollback {
                        role: name.trim_end_matches(".json").to_owned(),
                        trusted: old_meta.version,
                        got: new_meta.version,
                    });
                }
            }
        }
        // vouch: a machine that verified a state never accepts one that
        // does not descend from it (`history`).
        if self.bins_bound
            && let Some(old) = &self.snapshot
        {
            super::history::check_descends(old.signed(), &new.signed)?;
        }
        // 5.5.6: freeze attack.
        self.check_expiry("snapshot", &new.signed)?;
        self.snapshot = Some(Verified {
            envelope: new,
            bytes: bytes.to_vec(),
        });
        // Targets metadata trusted under the old snapshot may be stale now.
        let snap = self.snapshot.as_ref().map(|s| &s.envelope.signed);
        self.targets.retain(|name, t| {
            snap.and_then(|s| s.meta.get(&crate::tuf::metadata::meta_key(name)))
                .is_some_and(|m| m.version == t.signed().version)
        });
        let kept = &self.targets;
        self.verified_via.retain(|name, _| kept.contains_key(name));
        Ok(())
    }

    fn trusted_snapshot(&self) -> Result<&Verified<Snapshot>, TufError> {
        self.snapshot.as_ref().ok_or(TufError::Missing {
            role: "snapshot".to_owned(),
            needed: "update the snapshot first",
        })
    }

    fn listed_in_snapshot(&self, role: &RoleName) -> Result<&MetaFile, TufError> {
        self.trusted_snapshot()?
            .signed()
            .meta
            .get(&crate::tuf::metadata::meta_key(role))
            .ok_or_else(|| TufError::NotListed {
                role: role.to_string(),
                by: "snapshot".to_owned(),
            })
    }

    /// 5.6.1: which targets metadata to fetch for `role`, and the most bytes.
    pub fn role_request(&self, role: &RoleName) -> Result<RoleRequest, TufError> {
        let meta = self.listed_in_snapshot(role)?;
        Ok(RoleRequest {
            role: role.clone(),
            version: self.root.signed().consistent_snapshot.then_some(meta.version),
            max_bytes: meta.length.unwrap_or(self.limits.max_targets_bytes),
        })
    }

    /// The keys, key ids and threshold that sign `role`, as its delegator
    /// `parent` (or root, for `targets`) lists them.
    fn signers(&self, role: &RoleName, parent: &RoleName) -> Result<Signers, TufError> {
        if *role == RoleName::Targets {
            return top_level_signers(self.root.signed(), &RoleName::Targets);
        }
        let parent_md = self.targets.get(parent).ok_or(TufError::Missing {
            role: parent.to_string(),
            needed: "load the delegating role first",
        })?;
        delegation_signers(parent_md.signed(), role.as_str()).ok_or_else(|| TufError::NotListed {
            role: role.to_string(),
            by: format!("{parent}'s delegations"),
        })
    }

    fn verify_targets(
        &self,
        role: &RoleName,
        parent: &RoleName,
        env: &Envelope<Targets>,
    ) -> Result<(), TufError> {
        let (keys, keyids, threshold) = self.signers(role, parent)?;
        if threshold == 0 {
            return Err(TufError::malformed(parent, format!("threshold of {role} is 0")));
        }
        verify_threshold(
            role.as_str(),
            env.signed.version,
            &env.canonical,
            &env.signatures,
            &keys,
            &keyids,
            threshold,
        )
    }

    /// Loads persisted targets metadata of `role` (delegated by `parent`;
    /// use `"root"` for `targets`). It is kept only if it is exactly what the
    /// trusted snapshot lists, signed by its delegator's keys and unexpired.
    pub fn load_targets(&mut self, role: &RoleName, parent: &RoleName, bytes: &[u8]) -> Result<(), TufError> {
        self.update_delegated(role, parent, bytes)
    }

    /// 5.6.2 to 5.6.5: targets metadata of `role`, delegated by `parent`
    /// (`"root"` for the top-level `targets`). On success the caller
    /// persists it (5.6.6) as `ROLE.json`.
    pub fn update_delegated(
        &mut self,
        role: &RoleName,
        parent: &RoleName,
        bytes: &[u8],
    ) -> Result<(), TufError> {
        let meta = self.listed_in_snapshot(role)?.clone();
        let limit = meta.length.unwrap_or(self.limits.max_targets_bytes);
        if bytes.len() as u64 > limit {
            return Err(TufError::TooLarge {
                role: role.to_string(),
                limit,
            });
        }
        // 5.6.2: hashes listed by snapshot (mix-and-match).
        check_meta_file(role.as_str(), "snapshot", &meta, bytes)?;
        let new: Envelope<Targets> = Envelope::parse(role.as_str(), bytes)?;
        // 5.6.3: arbitrary software attack (delegations: unauthorised keys).
        // vouch: a delegated role just created (version 1) that lists
        // nothing and delegates nothing may stand unsigned (a new
        // `targets/releases` before its signers signed anything): it can
        // sign nothing, and is taken as empty.
        match self.verify_targets(role, parent, &new) {
            Err(TufError::ThresholdNotMet { .. })
                if self.bins_bound
                    && *role != RoleName::Targets
                    && new.signed.version == 1
                    && new.signed.targets.is_empty()
                    && new.signed.delegations.as_ref().is_none_or(|d| {
                        d.roles.as_ref().is_none_or(Vec::is_empty) && d.succinct_roles.is_none()
                    }) => {}
            other => other?,
        }
        // 5.6.4: the version snapshot lists.
        if new.signed.version != meta.version {
            return Err(TufError::VersionMismatch {
                role: role.to_string(),
                by: "snapshot".to_owned(),
                expected: meta.version,
                got: new.signed.version,
            });
        }
        // vouch: a bin's file under another bin's name.
        if let Some(bins) = self
            .targets
            .get(parent)
            .and_then(|p| p.signed().delegations.as_ref()?.succinct_roles.as_ref())
            && bins.is_bin(role.as_str())
        {
            let pinned =
                meta.length.is_some() && meta.hashes.as_ref().is_some_and(|h| h.contains_key("sha256"));
            check_bin(role, bins, &new.signed, pinned, self.bins_bound)?;
        }
        // 5.6.5: freeze attack.
        self.check_expiry(role.as_str(), &new.signed)?;
        // What the search will rely on: the keys and delegations it lists.
        if let Some(d) = &new.signed.delegations {
            validate_delegations(role.as_str(), d)?;
        }
        // New bytes: trusted through this delegator only, so far.
        self.verified_via
            .insert(role.clone(), BTreeSet::from([parent.clone()]));
        self.targets.insert(
            role.clone(),
            Verified {
                envelope: new,
                bytes: bytes.to_vec(),
            },
        );
        Ok(())
    }

    /// 5.6.7: pre-order depth-first search for `path`, starting at the
    /// top-level targets role. Lazy: when a role is needed that is not
    /// loaded yet, returns [`Lookup::Fetch`]; load it and call again (the
    /// search is deterministic and resumes where it stopped).
    pub fn lookup(&self, path: &TargetPath) -> Result<Lookup, TufError> {
        self.lookup_in(path, &RoleName::Targets, &RoleName::Root)
    }

    /// 5.6.7 from one role down: the search for `path` starts at `role`,
    /// reached through its delegator `parent` (`"root"` for `targets`). A
    /// delegated start role must be delegated by `parent` for `path`.
    /// Used where a rule names the role that holds a path (Docker Content
    /// Trust: `targets/releases`).
    pub fn lookup_in(
        &self,
        path: &TargetPath,
        role: &RoleName,
        parent: &RoleName,
    ) -> Result<Lookup, TufError> {
        let path = path.as_str();
        if *role != RoleName::Targets {
            let Some(parent_md) = self.targets.get(parent) else {
                if *parent == RoleName::Targets {
                    return Ok(Lookup::Fetch {
                        role: RoleName::Targets,
                        parent: RoleName::Root,
                    });
                }
                return Err(TufError::Missing {
                    role: parent.to_string(),
                    needed: "load the delegating role first",
                });
            };
            let entry = parent_md
                .signed()
                .delegations
                .as_ref()
                .and_then(|d| d.roles.iter().flatten().find(|r| r.name == *role));
            if !entry.is_some_and(|r| delegated_role_matches(r, path)) {
                return Ok(Lookup::NotFound);
            }
        }
        let mut visited = BTreeSet::new();
        let mut stack = vec![(role.clone(), parent.clone(), 0u64)];
        while let Some((role, parent, depth)) = stack.pop() {
            // 5.6.7.1: skip roles seen before (cycles); stop at the limit.
            if visited.contains(&role) {
                continue;
            }
            if visited.len() as u64 >= self.limits.max_roles_visited {
                return Err(TufError::LimitReached {
                    what: "targets roles visited in one search",
                    limit: self.limits.max_roles_visited,
                });
            }
            let Some(md) = self.targets.get(&role) else {
                return Ok(Lookup::Fetch { role, parent });
            };
            // A role trusted through one delegator is not thereby trusted
            // through another that lists other keys for the same name.
            if !self
                .verified_via
                .get(&role)
                .is_some_and(|via| via.contains(&parent))
            {
                self.verify_targets(&role, &parent, &md.envelope)?;
            }
            if let Some(target) = md.signed().targets.get(path) {
                return Ok(Lookup::Found {
                    role,
                    target: target.clone(),
                });
            }
            visited.insert(role.clone());
            let Some(delegations) = &md.signed().delegations else {
                continue;
            };
            if depth >= self.limits.max_delegation_depth {
                continue;
            }
            // 5.6.7.2: delegations in order of appearance.
            let mut children = Vec::new();
            for (child, terminating) in roles_for_target(delegations, path) {
                children.push((child, role.clone(), depth + 1));
                if terminating {
                    // 5.6.7.2.1: a terminating delegation ends the search
                    // once its subtree is done.
                    stack.clear();
                    break;
                }
            }
            children.reverse();
            stack.extend(children);
        }
        Ok(Lookup::NotFound)
    }
}

fn snapshot_meta(ts: &Timestamp) -> Result<&MetaFile, TufError> {
    ts.meta
        .get("snapshot.json")
        .ok_or_else(|| TufError::malformed("timestamp", "no snapshot.json in meta"))
}

/// The delegated roles responsible for `path`, in order, with whether each
/// is terminating.
fn roles_for_target(delegations: &super::metadata::Delegations, path: &str) -> Vec<(RoleName, bool)> {
    if let Some(bins) = &delegations.succinct_roles {
        // TAP 15: exactly one bin is responsible, and bins terminate.
        return vec![(bins.bin_for(path), true)];
    }
    delegations
        .roles
        .iter()
        .flatten()
        .filter(|r| delegated_role_matches(r, path))
        .map(|r| (r.name.clone(), r.terminating))
        .collect()
}

/// Whether a delegated role may sign `path`: by `paths` patterns or by
/// `path_hash_prefixes` (a role with neither signs nothing).
pub fn delegated_role_matches(role: &DelegatedRole, path: &str) -> bool {
    match (&role.paths, &role.path_hash_prefixes) {
        (Some(patterns), _) => patterns.iter().any(|p| delegated_path_matches(p, path)),
        (None, Some(prefixes)) => hash_prefix_matches(prefixes, path),
        (None, None) => false,
    }
}
