//! The repository side: creating, editing and signing TUF metadata.
//!
//! Image targets need no file: a target is a name, a length, hashes and
//! `custom` data. Signing is k-of-n friendly: a role's signatures survive
//! until its content changes, so one holder can sign now and another later;
//! it verifies only once the threshold is met.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::{Duration, OffsetDateTime};
use vouch_keys::{PrivateKey, PublicKey};

use super::error::TufError;
use super::metadata::{
    DelegatedRole, Delegations, Envelope, Expires, Extra, Key, KeyId, KeyVal, MetaFile, Role, RoleKeys,
    RoleName, Root, SPEC_VERSION, Signature, Snapshot, SuccinctRoles, TargetFile, Targets, Timestamp,
    signed_bytes, to_bytes,
};

mod bins;
mod delegations;
#[cfg(test)]
mod tests;
mod top_level;

/// How long each role's metadata stays valid after it is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiries {
    /// Root: 365 days (offline keys; renewed rarely).
    pub root: Duration,
    /// Targets and delegated roles: 365 days (re-signed on release).
    pub targets: Duration,
    /// Snapshot: 30 days.
    pub snapshot: Duration,
    /// Timestamp: 7 days (re-signed by `vouch refresh` with the online key).
    pub timestamp: Duration,
}

impl Default for Expiries {
    fn default() -> Self {
        Expiries {
            root: Duration::days(365),
            targets: Duration::days(365),
            snapshot: Duration::days(30),
            timestamp: Duration::days(7),
        }
    }
}

/// Metadata with its signatures, being edited.
#[derive(Clone, Debug)]
pub struct Signed<T> {
    /// The role.
    pub signed: T,
    /// Signatures over the canonical form of `signed`.
    pub signatures: Vec<Signature>,
}

impl<T: Serialize> Signed<T> {
    fn new(signed: T) -> Self {
        Signed {
            signed,
            signatures: Vec::new(),
        }
    }

    /// Adds (or replaces) `key`'s signature over the current content.
    pub fn sign(&mut self, key: &PrivateKey) -> Result<(), TufError> {
        let bytes = signed_bytes(&self.signed).map_err(|e| TufError::malformed("metadata", e))?;
        let keyid = KeyId::from(key.public().key_id());
        self.signatures.retain(|s| s.keyid != keyid);
        self.signatures.push(Signature {
            keyid,
            sig: hex::encode(key.sign(&bytes)),
            extra: Extra::new(),
        });
        self.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
        Ok(())
    }

    /// Adds (or replaces) a signature by `key` listed under `keyid`: for a
    /// key that metadata names by another form of it (a Docker Content
    /// Trust root certificate). The caller checks that it verifies.
    pub fn sign_as(&mut self, key: &PrivateKey, keyid: &KeyId) -> Result<(), TufError> {
        let bytes = signed_bytes(&self.signed).map_err(|e| TufError::malformed("metadata", e))?;
        self.signatures.retain(|s| s.keyid != *keyid);
        self.signatures.push(Signature {
            keyid: keyid.clone(),
            sig: hex::encode(key.sign(&bytes)),
            extra: Extra::new(),
        });
        self.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
        Ok(())
    }

    /// The envelope bytes as vouch writes them.
    pub fn to_bytes(&self) -> Result<Vec<u8>, TufError> {
        to_bytes(&self.signed, &self.signatures).map_err(|e| TufError::malformed("metadata", e))
    }
}

impl<T: Role + Clone> Signed<T> {
    /// Reads metadata to edit, keeping its signatures.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self, TufError> {
        let env: Envelope<T> = Envelope::parse(name, bytes)?;
        Ok(Signed {
            signed: env.signed,
            signatures: env.signatures,
        })
    }
}

/// The TUF form of a public key.
pub fn tuf_key(public: &PublicKey) -> Key {
    // `tuf_json` always has these three string fields.
    let v = public.tuf_json();
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    Key {
        keytype: s("keytype"),
        scheme: Some(s("scheme")),
        keyval: KeyVal {
            public: v["keyval"]["public"].as_str().unwrap_or_default().to_owned(),
            extra: Extra::new(),
        },
        extra: Extra::new(),
    }
}

/// Keys and threshold of one role.
#[derive(Clone, Debug)]
pub struct RoleSetup {
    /// Public keys authorised for the role.
    pub keys: Vec<PublicKey>,
    /// How many must sign.
    pub threshold: u64,
}

impl RoleSetup {
    /// One key, threshold 1.
    pub fn single(key: PublicKey) -> RoleSetup {
        RoleSetup {
            keys: vec![key],
            threshold: 1,
        }
    }

    fn role_keys(&self) -> RoleKeys {
        let mut keyids: Vec<KeyId> = self.keys.iter().map(|k| KeyId::from(k.key_id())).collect();
        keyids.sort();
        keyids.dedup();
        RoleKeys {
            keyids,
            threshold: self.threshold,
            extra: Extra::new(),
        }
    }
}

/// A whole repository's metadata, being edited.
#[derive(Clone, Debug)]
pub struct MetadataEditor {
    /// Root.
    pub root: Signed<Root>,
    /// Every root version this repository has published, oldest first
    /// (bytes), so clients can walk the rotation chain.
    pub root_history: Vec<Vec<u8>>,
    /// Timestamp.
    pub timestamp: Signed<Timestamp>,
    /// Snapshot.
    pub snapshot: Signed<Snapshot>,
    /// `targets` and every delegated role, by name.
    pub targets: BTreeMap<RoleName, Signed<Targets>>,
    /// Expiry durations used when a role changes.
    pub expiries: Expiries,
    /// Whether snapshot lists each targets role's length and hash, not
    /// only its version (vouch's default; see `refresh_snapshot_meta`).
    pub snapshot_lists_hashes: bool,
    /// Targets roles changed since the last timestamp was made: each gets
    /// one new version per publish, however often it changes.
    changed: BTreeSet<RoleName>,
    /// The least version the next snapshot takes less one (`raise_versions`).
    snapshot_floor: u64,
    /// Snapshots this writer published and found overwritten, named by the
    /// next one (`history::SUPERSEDED`).
    pub superseded: Vec<super::history::State>,
    /// The content hash of each role as verified (`BASE`).
    bases: BTreeMap<RoleName, String>,
}

/// The field of a targets role's `signed` that names the role vouch signed
/// it as: TUF metadata does not carry its own name, so without it a
/// signature made for one role's bytes would count for another role that
/// the same keys sign (a staged change could offer a bin's signed bytes as
/// `targets/releases`). Writers set it on every role they change; a staged
/// role must carry its own name.
pub const ROLE_NAME: &str = "x-vouch-role";

/// The field of a targets role's `signed` that holds the SHA-256 of the
/// canonical `signed` of the version it replaced ("" for a new role): a
/// staged change applies only on exactly that predecessor, so signed bytes
/// from another repository, or made on another line, never apply.
pub const BASE: &str = "x-vouch-base";

/// The SHA-256 (hex) of a root's canonical `signed`: what the next root
/// version names as its `BASE`, so that signatures gathered for a root
/// change apply only on exactly the root it was made against.
pub fn root_hash(signed: &Root) -> Result<String, EditError> {
    use sha2::Digest;
    let bytes = signed_bytes(signed).map_err(|e| EditError::refused("root", e))?;
    Ok(hex::encode(sha2::Sha256::digest(&bytes)))
}

/// The SHA-256 (hex) of a targets role's canonical `signed`.
pub fn content_hash(signed: &Targets) -> Result<String, EditError> {
    use sha2::Digest;
    let bytes = signed_bytes(signed).map_err(|e| EditError::refused("targets", e))?;
    Ok(hex::encode(sha2::Sha256::digest(&bytes)))
}

fn new_targets(name: &RoleName, now: OffsetDateTime, valid: Duration) -> Targets {
    Targets {
        type_: "targets".to_owned(),
        spec_version: SPEC_VERSION.to_owned(),
        version: 1,
        expires: Expires::new(now + valid),
        targets: BTreeMap::new(),
        delegations: None,
        extra: Extra::from([
            (ROLE_NAME.to_owned(), serde_json::Value::String(name.to_string())),
            (BASE.to_owned(), serde_json::Value::String(String::new())),
        ]),
    }
}

/// A delegation to add: a new role, its keys, and what it may sign.
#[derive(Clone, Debug)]
pub struct Delegation<'a> {
    /// The new role's name.
    pub name: &'a str,
    /// The keys it authorises.
    pub keys: &'a [PublicKey],
    /// How many of them must sign.
    pub threshold: u64,
    /// Which targets it may sign.
    pub paths: DelegatedPaths,
    /// Whether a search whose path the scope matches ends at this role.
    pub terminating: bool,
}

/// Which target paths a delegated role may sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DelegatedPaths {
    /// Shell-style patterns (`paths`).
    Paths(Vec<String>),
    /// Hex prefixes of SHA-256(path) (`path_hash_prefixes`).
    HashPrefixes(Vec<String>),
}

/// `role` as one of the four top-level roles.
fn top_level(role: &str) -> Result<RoleName, EditError> {
    Some(RoleName::parse(role))
        .filter(RoleName::is_top_level)
        .ok_or_else(|| not_found(role))
}

fn not_found(role: &str) -> EditError {
    EditError::NoSuchRole {
        role: role.to_owned(),
    }
}

/// Why the editor refused an edit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The role named is not in the repository.
    #[error("{role} is not a role of this repository")]
    NoSuchRole {
        /// The role.
        role: String,
    },
    /// No delegated role of the kind asked for holds the path.
    #[error("no role that {parent} delegates to holds {path:?}")]
    NoRoleFor {
        /// The delegating role.
        parent: String,
        /// The target path.
        path: String,
    },
    /// The edit does not fit the role as it is.
    #[error("cannot change {role}: {reason}")]
    Refused {
        /// The role.
        role: String,
        /// Why.
        reason: String,
    },
    /// Metadata that does not parse or serialise.
    #[error(transparent)]
    Metadata(#[from] TufError),
}

impl EditError {
    fn refused(role: impl std::fmt::Display, reason: impl std::fmt::Display) -> EditError {
        EditError::Refused {
            role: role.to_string(),
            reason: reason.to_string(),
        }
    }
}

impl MetadataEditor {
    /// A new repository with one key per top-level role, its first root
    /// signed by `root` and published: where tests, benchmarks and a new
    /// repository start.
    pub fn create_single_key(
        root: &PrivateKey,
        others: [&PublicKey; 3],
        consistent_snapshot: bool,
        now: OffsetDateTime,
        expiries: Expiries,
    ) -> Result<MetadataEditor, EditError> {
        let [targets, snapshot, timestamp] = others.map(|k| RoleSetup::single(k.clone()));
        let mut repo = MetadataEditor::create(
            &RoleSetup::single(root.public()),
            &targets,
            &snapshot,
            &timestamp,
            consistent_snapshot,
            now,
            expiries,
        );
        repo.root.sign(root)?;
        repo.publish_root()?;
        Ok(repo)
    }

    /// A new repository at version 1 of every role (unsigned: call the
    /// `sign_*` methods, then [`MetadataEditor::publish_root`]).
    pub fn create(
        root: &RoleSetup,
        targets: &RoleSetup,
        snapshot: &RoleSetup,
        timestamp: &RoleSetup,
        consistent_snapshot: bool,
        now: OffsetDateTime,
        expiries: Expiries,
    ) -> MetadataEditor {
        let mut keys = BTreeMap::new();
        let mut roles = BTreeMap::new();
        for (name, setup) in [
            (RoleName::Root, root),
            (RoleName::Targets, targets),
            (RoleName::Snapshot, snapshot),
            (RoleName::Timestamp, timestamp),
        ] {
            for k in &setup.keys {
                keys.insert(KeyId::from(k.key_id()), tuf_key(k));
            }
            roles.insert(name, setup.role_keys());
        }
        let root = Root {
            type_: "root".to_owned(),
            spec_version: SPEC_VERSION.to_owned(),
            version: 1,
            expires: Expires::new(now + expiries.root),
            consistent_snapshot,
            keys,
            roles,
            extra: Extra::new(),
        };
        let mut targets_map = BTreeMap::new();
        targets_map.insert(
            RoleName::Targets,
            Signed::new(new_targets(&RoleName::Targets, now, expiries.targets)),
        );
        let mut repo = MetadataEditor {
            root: Signed::new(root),
            root_history: Vec::new(),
            timestamp: Signed::new(Timestamp {
                type_: "timestamp".to_owned(),
                spec_version: SPEC_VERSION.to_owned(),
                version: 0,
                expires: Expires::new(now + expiries.timestamp),
                meta: BTreeMap::new(),
                extra: Extra::new(),
            }),
            snapshot: Signed::new(Snapshot {
                type_: "snapshot".to_owned(),
                spec_version: SPEC_VERSION.to_owned(),
                version: 0,
                expires: Expires::new(now + expiries.snapshot),
                meta: BTreeMap::new(),
                extra: Extra::new(),
            }),
            targets: targets_map,
            expiries,
            snapshot_lists_hashes: true,
            changed: BTreeSet::from([RoleName::Targets]),
            snapshot_floor: 0,
            superseded: Vec::new(),
            bases: BTreeMap::new(),
        };
        repo.refresh_snapshot_meta();
        repo
    }

    /// A repository to edit, built from verified metadata only: the root
    /// chain, the trusted timestamp and snapshot, and the targets roles an
    /// [`super::writer_load::WriterLoad`] checked (with only their valid
    /// signatures). Roles the snapshot lists that nothing delegates to any
    /// more keep their snapshot entry and are not republished.
    pub fn from_verified(
        root_history: Vec<Vec<u8>>,
        timestamp: &Envelope<Timestamp>,
        snapshot: &Envelope<Snapshot>,
        roles: BTreeMap<RoleName, super::writer_load::EditableRole>,
        expiries: Expiries,
    ) -> Result<MetadataEditor, TufError> {
        let last = root_history.last().ok_or(TufError::Missing {
            role: "root".to_owned(),
            needed: "a writer starts from a verified root",
        })?;
        let root = Signed::from_bytes("root", last)?;
        // What each role's next version replaces (`BASE`), as verified.
        let bases = roles
            .iter()
            .map(|(name, r)| {
                Ok((
                    name.clone(),
                    content_hash(&r.signed).map_err(|e| TufError::malformed(name, e))?,
                ))
            })
            .collect::<Result<BTreeMap<RoleName, String>, TufError>>()?;
        Ok(MetadataEditor {
            root,
            root_history,
            timestamp: Signed {
                signed: timestamp.signed.clone(),
                signatures: timestamp.signatures.clone(),
            },
            snapshot: Signed {
                signed: snapshot.signed.clone(),
                signatures: snapshot.signatures.clone(),
            },
            targets: roles
                .into_iter()
                .map(|(name, r)| {
                    (
                        name,
                        Signed {
                            signed: r.signed,
                            signatures: r.signatures,
                        },
                    )
                })
                .collect(),
            expiries,
            snapshot_lists_hashes: true,
            changed: BTreeSet::new(),
            snapshot_floor: 0,
            superseded: Vec::new(),
            bases,
        })
    }

    fn role_mut(&mut self, role: &str) -> Result<&mut Signed<Targets>, EditError> {
        self.targets.get_mut(role).ok_or_else(|| not_found(role))
    }

    /// The delegations of `parent`; `name` is the role being looked for,
    /// for the error.
    fn delegations_mut(&mut self, parent: &str, name: &str) -> Result<&mut Delegations, EditError> {
        self.role_mut(parent)?
            .signed
            .delegations
            .as_mut()
            .ok_or_else(|| not_found(name))
    }

    /// Marks a targets role changed: new expiry, signatures dropped (they
    /// covered the old content), and a new version unless it was already
    /// changed since it was last signed.
    fn touch(&mut self, role: &str, now: OffsetDateTime) -> Result<(), EditError> {
        let valid = self.expiries.targets;
        let first_change = !self.changed.contains(role);
        let bin = first_change && self.is_bin(role);
        let name = self
            .targets
            .get_key_value(role)
            .map(|(name, _)| name.clone())
            .ok_or_else(|| not_found(role))?;
        let r = self.targets.get_mut(role).ok_or_else(|| not_found(role))?;
        if first_change {
            // What this version replaces, as verified (signatures aside).
            let base = self.bases.get(role).cloned().unwrap_or_default();
            r.signed
                .extra
                .insert(BASE.to_owned(), serde_json::Value::String(base));
            let next = r
                .signed
                .version
                .checked_add(1)
                .ok_or_else(|| EditError::refused(role, "version overflow"))?;
            // A bin's version is bound to its name and dated
            // (`bin_versions`).
            r.signed.version = if bin {
                super::bin_versions::next(role, next, now).unwrap_or(next)
            } else {
                next
            };
        }
        r.signed.expires = Expires::new(now + valid);
        r.signed
            .extra
            .insert(ROLE_NAME.to_owned(), serde_json::Value::String(role.to_owned()));
        r.signatures.clear();
        self.changed.insert(name);
        Ok(())
    }

    /// Marks targets role `role` changed as if its content were new, at a
    /// version above both its own and `at_least` (signatures dropped).
    pub fn rewrite_role(&mut self, role: &str, at_least: u64, now: OffsetDateTime) -> Result<(), EditError> {
        let r = self.role_mut(role)?;
        r.signed.version = r.signed.version.max(at_least);
        self.changed.remove(role);
        self.touch(role, now)
    }

    /// Raises the snapshot and timestamp versions to at least these, so
    /// that the next [`MetadataEditor::bump_snapshot`] and
    /// [`MetadataEditor::bump_timestamp`] go above them.
    pub fn raise_versions(&mut self, snapshot_at_least: u64, timestamp_at_least: u64) {
        // Applied by the next `bump_snapshot`, after it records the
        // snapshot it replaces in the history (`history`).
        self.snapshot_floor = self.snapshot_floor.max(snapshot_at_least);
        let t = &mut self.timestamp.signed;
        t.version = t.version.max(timestamp_at_least);
    }

    /// Empties every delegated role that no longer carries a valid
    /// signature from the keys its delegator now lists (after signer keys
    /// were withdrawn): its content is no longer signed, so it is not
    /// carried into the next publish. Roles changed in this edit (about to
    /// be signed) are left alone. Returns the roles emptied.
    pub fn drop_unsigned_content(&mut self, now: OffsetDateTime) -> Result<Vec<RoleName>, EditError> {
        let mut emptied = Vec::new();
        for (name, role) in &self.targets {
            if *name == RoleName::Targets
                || self.changed.contains(name)
                || (role.signed.targets.is_empty() && role.signed.delegations.is_none())
            {
                continue;
            }
            let canonical = signed_bytes(&role.signed).map_err(|e| EditError::refused(name, e))?;
            let mut delegated = false;
            let mut signed = false;
            for (keys, keyids, _) in self
                .targets
                .values()
                .filter_map(|d| super::trusted_set::delegation_signers(&d.signed, name.as_str()))
            {
                delegated = true;
                let count = super::crypto::count_signatures(
                    name.as_str(),
                    role.signed.version,
                    &canonical,
                    &role.signatures,
                    &keys,
                    &keyids,
                )?;
                signed |= !count.valid.is_empty();
            }
            if delegated && !signed {
                emptied.push(name.clone());
            }
        }
        for name in &emptied {
            let r = self.role_mut(name.as_str())?;
            r.signed.targets.clear();
            r.signed.delegations = None;
            self.touch(name.as_str(), now)?;
        }
        Ok(emptied)
    }

    /// Adds or replaces a target in `role`. Adding a target exactly as it
    /// is already listed changes nothing (so its signatures stay: k-of-n
    /// signers can each "add" the same tag).
    pub fn add_target(
        &mut self,
        role: &str,
        path: &str,
        target: TargetFile,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        super::path::TargetPath::parse(path)?;
        let r = self.role_mut(role)?;
        if r.signed.targets.get(path) == Some(&target) {
            return Ok(());
        }
        r.signed.targets.insert(path.to_owned(), target);
        self.touch(role, now)
    }

    /// The key ids and threshold of a role delegated by `parent`.
    pub fn delegation(&self, parent: &str, name: &str) -> Option<(Vec<KeyId>, u64)> {
        let d = self.targets.get(parent)?.signed.delegations.as_ref()?;
        d.roles
            .iter()
            .flatten()
            .find(|r| r.name == name)
            .map(|r| (r.keyids.clone(), r.threshold))
    }

    /// The public keys `parent` lists for its delegations, by key id.
    pub fn delegation_keys(&self, parent: &str) -> BTreeMap<KeyId, Key> {
        self.targets
            .get(parent)
            .and_then(|t| t.signed.delegations.as_ref())
            .map(|d| d.keys.clone())
            .unwrap_or_default()
    }

    /// Removes a target from `role`; returns whether it was there.
    pub fn remove_target(&mut self, role: &str, path: &str, now: OffsetDateTime) -> Result<bool, EditError> {
        let removed = self.role_mut(role)?.signed.targets.remove(path).is_some();
        if removed {
            self.touch(role, now)?;
        }
        Ok(removed)
    }
}

/// The delegated role `name` among `roles`.
fn delegated_role_mut<'a>(
    roles: &'a mut Option<Vec<DelegatedRole>>,
    name: &str,
) -> Result<&'a mut DelegatedRole, EditError> {
    roles
        .iter_mut()
        .flatten()
        .find(|r| r.name == name)
        .ok_or_else(|| not_found(name))
}

fn prune_keys(delegations: &mut Delegations) {
    let mut used: std::collections::BTreeSet<KeyId> = delegations
        .roles
        .iter()
        .flatten()
        .flat_map(|r| r.keyids.iter().cloned())
        .collect();
    if let Some(b) = &delegations.succinct_roles {
        used.extend(b.keyids.iter().cloned());
    }
    delegations.keys.retain(|id, _| used.contains(id));
}
