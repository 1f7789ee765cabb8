//! The Notary v1 client's rules, sans-IO: what notary 0.7 and the docker
//! CLI checked before they trusted a tag. Callers fetch bytes and hand them
//! in; [`NotarySet`] decides.
//!
//! * Root: its root keys are X.509 certificates whose common name is the
//!   GUN (or a `*`-suffixed prefix of it), leaves, valid now; a threshold
//!   of them signs it. A new root is also signed by a threshold of the
//!   trusted root's certificates.
//! * Timestamp, snapshot, targets: signed by the root's keys for the role,
//!   not older than this client's cached version (rollback), unexpired
//!   (freeze); snapshot and targets match the length and hashes that
//!   timestamp and snapshot list; snapshot lists the current root's hash.
//! * Delegations: `targets/NAME` children only, signed by the delegator's
//!   keys for them; one that is expired or below its threshold is skipped
//!   (as notary does), anything else wrong ends the update.
//! * A tag resolves as Docker Content Trust resolved it: the
//!   `targets/releases` subtree first, then `targets` and the rest.

use std::collections::{BTreeMap, VecDeque};

use time::OffsetDateTime;

use super::NotaryError;
use super::format::{Envelope, FileMeta, Role, Root, Snapshot, Targets, Timestamp};
use super::signatures::{NotaryKey, check_key_ids, parse_keys, verify_threshold};

/// Docker Content Trust's role for signers' tags.
pub const RELEASES: &str = "targets/releases";

/// The keys, authorised key ids and threshold of a role.
type Signers = (BTreeMap<String, NotaryKey>, Vec<String>, u64);

/// Byte limits for Notary metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotaryLimits {
    /// Largest root (bytes).
    pub max_root: u64,
    /// Largest timestamp (bytes).
    pub max_timestamp: u64,
    /// Largest snapshot or targets role (bytes), whatever the listed length.
    pub max_role: u64,
    /// Most targets roles loaded.
    pub max_roles: usize,
}

impl Default for NotaryLimits {
    fn default() -> Self {
        NotaryLimits {
            max_root: 1 << 20,
            max_timestamp: 64 << 10,
            max_role: 32 << 20,
            max_roles: 256,
        }
    }
}

/// Verified metadata and the bytes it was received as.
#[derive(Clone, Debug)]
pub struct Loaded<T> {
    /// The envelope.
    pub envelope: Envelope<T>,
    /// The bytes received.
    pub bytes: Vec<u8>,
}

impl<T> Loaded<T> {
    /// The role.
    pub fn signed(&self) -> &T {
        &self.envelope.signed
    }
}

/// Whether a common name covers the GUN (exactly, or as a `*` prefix),
/// as notary's `MatchCNToGun`.
fn cn_matches(cn: &str, gun: &str) -> bool {
    if cn.ends_with('*') {
        gun.starts_with(cn.trim_end_matches('*'))
    } else {
        cn == gun
    }
}

/// The root's valid root certificates (CN = GUN, a leaf, and unexpired when
/// `now` is given), by key id.
fn root_certs(root: &Root, gun: &str, now: Option<OffsetDateTime>) -> BTreeMap<String, NotaryKey> {
    let Some(role) = root.roles.get("root") else {
        return BTreeMap::new();
    };
    role.keyids
        .iter()
        .filter_map(|id| {
            let key = NotaryKey::parse(root.keys.get(id)?)?;
            let cert = key.cert.as_ref()?;
            let current = now.is_none_or(|t| cert.not_before <= t && t <= cert.not_after);
            (cn_matches(&cert.common_name, gun) && !cert.is_ca && current).then(|| (id.clone(), key))
        })
        .collect()
}

fn parse_limited<T: Role>(role: &str, bytes: &[u8], limit: u64) -> Result<Envelope<T>, NotaryError> {
    if bytes.len() as u64 > limit {
        return Err(NotaryError::TooLarge {
            role: role.to_owned(),
            limit,
        });
    }
    Envelope::parse(role, bytes)
}

fn check_file(what: &str, by: &str, meta: &FileMeta, bytes: &[u8]) -> Result<(), NotaryError> {
    use base64::Engine;
    use sha2::Digest;
    let mismatch = |field: &str| NotaryError::HashMismatch {
        what: what.to_owned(),
        by: by.to_owned(),
        field: field.to_owned(),
    };
    if meta.length != bytes.len() as u64 {
        return Err(mismatch("length"));
    }
    let mut checked = 0;
    for (alg, expected) in &meta.hashes {
        let actual = match alg.as_str() {
            "sha256" => sha2::Sha256::digest(bytes).to_vec(),
            "sha512" => sha2::Sha512::digest(bytes).to_vec(),
            _ => continue,
        };
        if base64::engine::general_purpose::STANDARD.encode(actual) != *expected {
            return Err(mismatch(alg));
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(mismatch("hashes (no sha256 or sha512 listed)"));
    }
    Ok(())
}

/// Whether `name` is a valid delegation directly under `parent`.
fn valid_child(parent: &str, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(parent).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    name.len() < 256
        && !rest.is_empty()
        && !rest.contains('/')
        && rest != "."
        && rest != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_/".contains(&b))
}

/// Whether a delegation entry of `parent` is one notary would use: a valid
/// child name, a threshold of at least one, and every key it lists present.
fn valid_delegation(
    parent: &str,
    role: &super::format::DelegatedRole,
    d: &super::format::Delegations,
) -> bool {
    valid_child(parent, &role.name)
        && role.threshold >= 1
        && role.keyids.iter().all(|id| d.keys.contains_key(id))
}

/// The child's path prefixes that fall under one of the parent's.
fn restrict(parent: &[String], child: &[String]) -> Vec<String> {
    child
        .iter()
        .filter(|c| parent.iter().any(|p| c.starts_with(p.as_str())))
        .cloned()
        .collect()
}

/// The trusted metadata of one GUN.
#[derive(Clone, Debug)]
pub struct NotarySet {
    gun: String,
    now: OffsetDateTime,
    limits: NotaryLimits,
    root: Loaded<Root>,
    timestamp: Option<Loaded<Timestamp>>,
    snapshot: Option<Loaded<Snapshot>>,
    targets: BTreeMap<String, Loaded<Targets>>,
    skipped: BTreeMap<String, NotaryError>,
}

impl NotarySet {
    /// Starts from a root this client already trusts (pinned, or cached):
    /// it must be well-formed and signed by a threshold of its own root
    /// certificates for `gun` (their expiry is checked by
    /// [`NotarySet::update_root`] on the root the server serves).
    pub fn new(
        gun: &str,
        root: &[u8],
        now: OffsetDateTime,
        limits: NotaryLimits,
    ) -> Result<NotarySet, NotaryError> {
        let env: Envelope<Root> = parse_limited("root", root, limits.max_root)?;
        validate_root(&env, gun, None)?;
        Ok(NotarySet {
            gun: gun.to_owned(),
            now,
            limits,
            root: Loaded {
                envelope: env,
                bytes: root.to_vec(),
            },
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
            skipped: BTreeMap::new(),
        })
    }

    /// The limits.
    pub fn limits(&self) -> &NotaryLimits {
        &self.limits
    }

    /// The trusted root.
    pub fn root(&self) -> &Loaded<Root> {
        &self.root
    }

    /// The trusted timestamp.
    pub fn timestamp(&self) -> Option<&Loaded<Timestamp>> {
        self.timestamp.as_ref()
    }

    /// The trusted snapshot.
    pub fn snapshot(&self) -> Option<&Loaded<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// Every trusted targets role.
    pub fn all_targets(&self) -> &BTreeMap<String, Loaded<Targets>> {
        &self.targets
    }

    /// Delegations that were skipped, and why.
    pub fn skipped(&self) -> &BTreeMap<String, NotaryError> {
        &self.skipped
    }

    /// The root the server serves (`root.json`, or `N.root.json` on the
    /// way to it): the same bytes as the trusted one, or a version at least
    /// as new, signed by a threshold of the trusted root's certificates and
    /// by a threshold of its own, its certificates valid now, unexpired.
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<(), NotaryError> {
        self.rotate_root(bytes, true)
    }

    /// A root on the way to the newest (`N.root.json`): as
    /// [`NotarySet::update_root`], but its own expiry is not checked (as
    /// notary loads intermediate roots).
    pub fn update_intermediate_root(&mut self, bytes: &[u8]) -> Result<(), NotaryError> {
        self.rotate_root(bytes, false)
    }

    fn rotate_root(&mut self, bytes: &[u8], newest: bool) -> Result<(), NotaryError> {
        let new: Envelope<Root> = parse_limited("root", bytes, self.limits.max_root)?;
        if bytes != self.root.bytes.as_slice() {
            let trusted = self.root.signed();
            if new.signed.version < trusted.version {
                return Err(NotaryError::Rollback {
                    role: "root".to_owned(),
                    trusted: trusted.version,
                    got: new.signed.version,
                });
            }
            let old_certs = root_certs(trusted, &self.gun, None);
            let ids: Vec<String> = old_certs.keys().cloned().collect();
            let threshold = trusted.roles.get("root").map_or(0, |r| r.threshold);
            verify_threshold(
                "root (trusted root keys)",
                new.signed.version,
                &new.messages(),
                &new.signatures,
                &old_certs,
                &ids,
                threshold,
            )?;
        }
        validate_root(&new, &self.gun, Some(self.now))?;
        if newest {
            check_not_expired("root", &new.signed, self.now)?;
        }
        self.root = Loaded {
            envelope: new,
            bytes: bytes.to_vec(),
        };
        Ok(())
    }

    fn role_keys(&self, role: &str) -> Result<Signers, NotaryError> {
        let root = self.root.signed();
        let r = root.roles.get(role).ok_or_else(|| NotaryError::Malformed {
            role: "root".to_owned(),
            reason: format!("no {role} role"),
        })?;
        Ok((parse_keys(&root.keys), r.keyids.clone(), r.threshold))
    }

    /// A timestamp from the server: signed by the timestamp keys, not older
    /// than `min_version` (this client's cached one), unexpired.
    pub fn update_timestamp(&mut self, bytes: &[u8], min_version: u64) -> Result<(), NotaryError> {
        let env: Envelope<Timestamp> = parse_limited("timestamp", bytes, self.limits.max_timestamp)?;
        check_signed_and_fresh(
            "timestamp",
            &env,
            self.role_keys("timestamp")?,
            min_version,
            self.now,
        )?;
        if !env.signed.meta.contains_key("snapshot") {
            return Err(NotaryError::Malformed {
                role: "timestamp".to_owned(),
                reason: "no snapshot in meta".to_owned(),
            });
        }
        self.timestamp = Some(Loaded {
            envelope: env,
            bytes: bytes.to_vec(),
        });
        Ok(())
    }

    /// The snapshot to fetch: the SHA-256 (hex) and length timestamp lists.
    pub fn snapshot_request(&self) -> Result<(String, u64), NotaryError> {
        let ts = self.timestamp.as_ref().ok_or(NotaryError::Missing {
            role: "timestamp".to_owned(),
        })?;
        file_request(
            "snapshot",
            "timestamp",
            ts.signed().meta.get("snapshot"),
            self.limits.max_role,
        )
    }

    /// A snapshot: as timestamp lists it, signed by the snapshot keys, not
    /// older than `min_version`, unexpired, listing the trusted root.
    /// [`NotaryError::RootChanged`] means: fetch the new root first.
    pub fn update_snapshot(&mut self, bytes: &[u8], min_version: u64) -> Result<(), NotaryError> {
        let ts = self.timestamp.as_ref().ok_or(NotaryError::Missing {
            role: "timestamp".to_owned(),
        })?;
        let meta = ts.signed().meta.get("snapshot").ok_or(NotaryError::Missing {
            role: "snapshot".to_owned(),
        })?;
        check_file("snapshot", "timestamp", meta, bytes)?;
        let env: Envelope<Snapshot> = Envelope::parse("snapshot", bytes)?;
        check_signed_and_fresh(
            "snapshot",
            &env,
            self.role_keys("snapshot")?,
            min_version,
            self.now,
        )?;
        match env.signed.meta.get("root") {
            Some(root_meta) if check_file("root", "snapshot", root_meta, &self.root.bytes).is_ok() => {}
            _ => return Err(NotaryError::RootChanged),
        }
        self.snapshot = Some(Loaded {
            envelope: env,
            bytes: bytes.to_vec(),
        });
        Ok(())
    }

    /// The file to fetch for `role`: the SHA-256 (hex) and length snapshot
    /// lists, or `None` when snapshot does not list it (then it is skipped).
    pub fn role_request(&self, role: &str) -> Result<Option<(String, u64)>, NotaryError> {
        let snap = self.snapshot.as_ref().ok_or(NotaryError::Missing {
            role: "snapshot".to_owned(),
        })?;
        match snap.signed().meta.get(role) {
            None => Ok(None),
            meta => file_request(role, "snapshot", meta, self.limits.max_role).map(Some),
        }
    }

    /// The keys, ids and threshold with which `role` is authorised: root's
    /// for `targets`, else its parent's delegation entry.
    fn signers_of(&self, role: &str) -> Result<Signers, NotaryError> {
        if role == "targets" {
            return self.role_keys("targets");
        }
        let (parent, _) = role.rsplit_once('/').ok_or_else(|| NotaryError::BadRoleName {
            name: role.to_owned(),
        })?;
        let delegator = self.targets.get(parent).ok_or(NotaryError::Missing {
            role: parent.to_owned(),
        })?;
        let d = &delegator.signed().delegations;
        let entry = d
            .roles
            .iter()
            .find(|r| r.name == role && valid_delegation(parent, r, d))
            .ok_or_else(|| NotaryError::NotListed {
                role: role.to_owned(),
                by: parent.to_owned(),
            })?;
        Ok((parse_keys(&d.keys), entry.keyids.clone(), entry.threshold))
    }

    /// A targets role (`targets` or a delegation, whose delegator is
    /// loaded): as snapshot lists it, signed by its delegator's keys for
    /// it, not older than `min_version`, unexpired.
    pub fn update_targets(&mut self, role: &str, bytes: &[u8], min_version: u64) -> Result<(), NotaryError> {
        let snap = self.snapshot.as_ref().ok_or(NotaryError::Missing {
            role: "snapshot".to_owned(),
        })?;
        let meta = snap
            .signed()
            .meta
            .get(role)
            .ok_or_else(|| NotaryError::NotListed {
                role: role.to_owned(),
                by: "snapshot".to_owned(),
            })?;
        check_file(role, "snapshot", meta, bytes)?;
        let env: Envelope<Targets> = Envelope::parse(role, bytes)?;
        check_signed_and_fresh(role, &env, self.signers_of(role)?, min_version, self.now)?;
        check_key_ids(role, &env.signed.delegations.keys)?;
        self.skipped.remove(role);
        self.targets.insert(
            role.to_owned(),
            Loaded {
                envelope: env,
                bytes: bytes.to_vec(),
            },
        );
        Ok(())
    }

    /// Records that a delegation was skipped (expired or below threshold,
    /// as notary skips them).
    pub fn skip(&mut self, role: &str, why: NotaryError) {
        self.skipped.insert(role.to_owned(), why);
    }

    /// The delegations of loaded role `role` that are valid children.
    pub fn children(&self, role: &str) -> Vec<String> {
        self.targets
            .get(role)
            .map(|t| {
                let d = &t.signed().delegations;
                d.roles
                    .iter()
                    .filter(|r| valid_delegation(role, r, d))
                    .map(|r| r.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Docker Content Trust's lookup of `tag`: the `targets/releases`
    /// subtree first, then `targets` and its other delegations, each a
    /// pre-order walk over the loaded roles; a role's entry counts only if
    /// its (delegation-restricted) path prefixes allow the name.
    ///
    /// As the docker CLI, only a hit in `targets/releases` or `targets`
    /// itself counts: a tag found first in another delegation has no trust
    /// data ("No trust data for TAG").
    pub fn lookup(&self, tag: &str) -> Option<(String, FileMeta)> {
        let hit = self
            .walk(tag, RELEASES, "targets")
            .or_else(|| self.walk(tag, "targets", RELEASES))?;
        (hit.0 == RELEASES || hit.0 == "targets").then_some(hit)
    }

    fn walk(&self, tag: &str, subtree: &str, skip: &str) -> Option<(String, FileMeta)> {
        let mut queue: VecDeque<(String, Vec<String>)> =
            VecDeque::from([("targets".to_owned(), vec![String::new()])]);
        let mut visited = 0usize;
        while let Some((role, paths)) = queue.pop_front() {
            visited += 1;
            if visited > self.limits.max_roles {
                return None;
            }
            let Some(loaded) = self.targets.get(&role) else {
                continue;
            };
            let children = || -> Vec<(String, Vec<String>)> {
                let d = &loaded.signed().delegations;
                d.roles
                    .iter()
                    .filter(|r| valid_delegation(&role, r, d))
                    .map(|r| (r.name.clone(), restrict(&paths, &r.paths)))
                    .collect()
            };
            if subtree.starts_with(&format!("{role}/")) {
                queue.extend(children());
                continue;
            }
            let in_subtree = role == subtree || role.starts_with(&format!("{subtree}/"));
            if !in_subtree || role == skip {
                continue;
            }
            if let Some(meta) = loaded.signed().targets.get(tag)
                && paths.iter().any(|p| tag.starts_with(p.as_str()))
            {
                return Some((role, meta.clone()));
            }
            for child in children().into_iter().rev() {
                queue.push_front(child);
            }
        }
        None
    }
}

fn file_request(
    role: &str,
    by: &str,
    meta: Option<&FileMeta>,
    max: u64,
) -> Result<(String, u64), NotaryError> {
    let meta = meta.ok_or_else(|| NotaryError::NotListed {
        role: role.to_owned(),
        by: by.to_owned(),
    })?;
    let sha = meta.sha256_hex().ok_or_else(|| NotaryError::HashMismatch {
        what: role.to_owned(),
        by: by.to_owned(),
        field: "sha256 (none listed)".to_owned(),
    })?;
    if meta.length > max {
        return Err(NotaryError::TooLarge {
            role: role.to_owned(),
            limit: max,
        });
    }
    Ok((sha, meta.length))
}

/// What every role but root must be: signed by a threshold of the keys
/// that may sign it, not older than `min_version` (this client's cached
/// one), unexpired.
fn check_signed_and_fresh<T: Role>(
    role: &str,
    env: &Envelope<T>,
    (keys, ids, threshold): Signers,
    min_version: u64,
    now: OffsetDateTime,
) -> Result<(), NotaryError> {
    let version = env.signed.version();
    verify_threshold(
        role,
        version,
        &env.messages(),
        &env.signatures,
        &keys,
        &ids,
        threshold,
    )?;
    check_version(role, version, min_version)?;
    check_not_expired(role, &env.signed, now)
}

fn check_version(role: &str, version: u64, min: u64) -> Result<(), NotaryError> {
    if version < min {
        return Err(NotaryError::Rollback {
            role: role.to_owned(),
            trusted: min,
            got: version,
        });
    }
    Ok(())
}

fn check_not_expired<T: Role>(role: &str, signed: &T, now: OffsetDateTime) -> Result<(), NotaryError> {
    if signed.expires().at <= now {
        return Err(NotaryError::Expired {
            role: role.to_owned(),
            version: signed.version(),
            expires: signed.expires().raw.clone(),
        });
    }
    Ok(())
}

/// A root's own checks: key ids, the four roles with thresholds of at least
/// one and no repeated ids, and a threshold of signatures from its valid
/// root certificates for `gun` (valid at `now`, when given).
fn validate_root(env: &Envelope<Root>, gun: &str, now: Option<OffsetDateTime>) -> Result<(), NotaryError> {
    let root = &env.signed;
    check_key_ids("root", &root.keys)?;
    for role in ["root", "targets", "snapshot", "timestamp"] {
        let r = root.roles.get(role).ok_or_else(|| NotaryError::Malformed {
            role: "root".to_owned(),
            reason: format!("no {role} role"),
        })?;
        let unique: std::collections::BTreeSet<&String> = r.keyids.iter().collect();
        if r.threshold == 0 || unique.len() != r.keyids.len() {
            return Err(NotaryError::Malformed {
                role: "root".to_owned(),
                reason: format!("{role}: a threshold of 0 or a key id listed twice"),
            });
        }
    }
    let certs = root_certs(root, gun, now);
    if certs.is_empty() {
        return Err(NotaryError::Certificate {
            reason: format!(
                "no root key is a valid certificate for {gun} (common name, leaf, validity{})",
                if now.is_some() { "" } else { " aside" }
            ),
        });
    }
    let ids: Vec<String> = certs.keys().cloned().collect();
    let threshold = root.roles.get("root").map_or(0, |r| r.threshold);
    verify_threshold(
        "root",
        root.version,
        &env.messages(),
        &env.signatures,
        &certs,
        &ids,
        threshold,
    )
}
