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
    DelegatedRole, Delegations, Envelope, Expires, Extra, Key, KeyVal, MetaFile, Role, RoleKeys, Root,
    SPEC_VERSION, Signature, Snapshot, SuccinctRoles, TargetFile, Targets, Timestamp, signed_bytes, to_bytes,
};

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
        let keyid = key.public().key_id().to_string();
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
    pub fn sign_as(&mut self, key: &PrivateKey, keyid: &str) -> Result<(), TufError> {
        let bytes = signed_bytes(&self.signed).map_err(|e| TufError::malformed("metadata", e))?;
        self.signatures.retain(|s| s.keyid != keyid);
        self.signatures.push(Signature {
            keyid: keyid.to_owned(),
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
        let mut keyids: Vec<String> = self.keys.iter().map(|k| k.key_id().to_string()).collect();
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
    pub targets: BTreeMap<String, Signed<Targets>>,
    /// Expiry durations used when a role changes.
    pub expiries: Expiries,
    /// Whether snapshot lists each targets role's length and hash, not
    /// only its version (vouch's default; see `refresh_snapshot_meta`).
    pub snapshot_lists_hashes: bool,
    /// Targets roles changed since the last timestamp was made: each gets
    /// one new version per publish, however often it changes.
    changed: BTreeSet<String>,
    /// The least version the next snapshot takes less one (`raise_versions`).
    snapshot_floor: u64,
    /// Snapshots this writer published and found overwritten, named by the
    /// next one (`history::SUPERSEDED`).
    pub superseded: Vec<super::history::State>,
    /// The content hash of each role as verified (`BASE`).
    bases: BTreeMap<String, String>,
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

fn new_targets(name: &str, now: OffsetDateTime, valid: Duration) -> Targets {
    Targets {
        type_: "targets".to_owned(),
        spec_version: SPEC_VERSION.to_owned(),
        version: 1,
        expires: Expires::new(now + valid),
        targets: BTreeMap::new(),
        delegations: None,
        extra: Extra::from([
            (ROLE_NAME.to_owned(), serde_json::Value::String(name.to_owned())),
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
            ("root", root),
            ("targets", targets),
            ("snapshot", snapshot),
            ("timestamp", timestamp),
        ] {
            for k in &setup.keys {
                keys.insert(k.key_id().to_string(), tuf_key(k));
            }
            roles.insert(name.to_owned(), setup.role_keys());
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
            "targets".to_owned(),
            Signed::new(new_targets("targets", now, expiries.targets)),
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
            changed: BTreeSet::from(["targets".to_owned()]),
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
        roles: BTreeMap<String, super::writer_load::EditableRole>,
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
            .collect::<Result<BTreeMap<String, String>, TufError>>()?;
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
        self.changed.insert(role.to_owned());
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
    pub fn drop_unsigned_content(&mut self, now: OffsetDateTime) -> Result<Vec<String>, EditError> {
        let mut emptied = Vec::new();
        for (name, role) in &self.targets {
            if name == "targets"
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
                .filter_map(|d| super::trusted_set::delegation_signers(&d.signed, name))
            {
                delegated = true;
                let count = super::crypto::count_signatures(
                    name,
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
            let r = self.role_mut(name)?;
            r.signed.targets.clear();
            r.signed.delegations = None;
            self.touch(name, now)?;
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
    pub fn delegation(&self, parent: &str, name: &str) -> Option<(Vec<String>, u64)> {
        let d = self.targets.get(parent)?.signed.delegations.as_ref()?;
        d.roles
            .iter()
            .flatten()
            .find(|r| r.name == name)
            .map(|r| (r.keyids.clone(), r.threshold))
    }

    /// The public keys `parent` lists for its delegations, by key id.
    pub fn delegation_keys(&self, parent: &str) -> BTreeMap<String, Key> {
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

    /// Delegates from `parent` to a new role (appended last in search
    /// order).
    pub fn add_delegation(
        &mut self,
        parent: &str,
        delegation: Delegation<'_>,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        let Delegation {
            name,
            keys,
            threshold,
            paths,
            terminating,
        } = delegation;
        let (paths, path_hash_prefixes) = match paths {
            DelegatedPaths::Paths(p) => (Some(p), None),
            DelegatedPaths::HashPrefixes(h) => (None, Some(h)),
        };
        if self.targets.contains_key(name) || super::trusted_set::TOP_LEVEL_ROLES.contains(&name) {
            return Err(EditError::refused(parent, format!("role {name} already exists")));
        }
        // A name used before (its role since withdrawn) continues above the
        // version snapshot last listed, empty: nothing of the old role is
        // carried over.
        let version = self
            .snapshot
            .signed
            .meta
            .get(&crate::tuf::metadata::meta_key(name))
            .map_or(1, |m| m.version.saturating_add(1));
        let setup = RoleSetup {
            keys: keys.to_vec(),
            threshold,
        };
        let role_keys = setup.role_keys();
        let parent_md = &mut self.role_mut(parent)?.signed;
        let delegations = parent_md.delegations.get_or_insert_with(|| Delegations {
            keys: BTreeMap::new(),
            roles: Some(Vec::new()),
            succinct_roles: None,
            extra: Extra::new(),
        });
        if delegations.succinct_roles.is_some() {
            return Err(EditError::refused(
                parent,
                "already delegates to succinct hashed bins",
            ));
        }
        for k in keys {
            delegations.keys.insert(k.key_id().to_string(), tuf_key(k));
        }
        delegations
            .roles
            .get_or_insert_with(Vec::new)
            .push(DelegatedRole {
                name: name.to_owned(),
                keyids: role_keys.keyids,
                threshold,
                terminating,
                paths,
                path_hash_prefixes,
                extra: Extra::new(),
            });
        self.touch(parent, now)?;
        let mut role = new_targets(name, now, self.expiries.targets);
        role.version = version;
        self.targets.insert(name.to_owned(), Signed::new(role));
        self.changed.insert(name.to_owned());
        Ok(())
    }

    /// Changes the keys of an existing delegated role (role key rotation).
    pub fn set_delegation_keys(
        &mut self,
        parent: &str,
        name: &str,
        keys: &[PublicKey],
        threshold: u64,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        let setup = RoleSetup {
            keys: keys.to_vec(),
            threshold,
        };
        let delegations = self.delegations_mut(parent, name)?;
        let role = delegated_role_mut(&mut delegations.roles, name)?;
        role.keyids = setup.role_keys().keyids;
        role.threshold = threshold;
        for k in keys {
            delegations.keys.insert(k.key_id().to_string(), tuf_key(k));
        }
        prune_keys(delegations);
        self.touch(parent, now)
    }

    /// Authorises one more key for a delegated role (and sets its
    /// threshold, when given).
    pub fn add_delegation_key(
        &mut self,
        parent: &str,
        name: &str,
        key: &PublicKey,
        threshold: Option<u64>,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        let delegations = self.delegations_mut(parent, name)?;
        let role = delegated_role_mut(&mut delegations.roles, name)?;
        let id = key.key_id().to_string();
        if !role.keyids.contains(&id) {
            role.keyids.push(id.clone());
            role.keyids.sort();
        }
        if let Some(t) = threshold {
            role.threshold = t;
        }
        delegations.keys.insert(id, tuf_key(key));
        self.touch(parent, now)
    }

    /// Sets the threshold of delegated role `name` of `parent`.
    pub fn set_delegation_threshold(
        &mut self,
        parent: &str,
        name: &str,
        threshold: u64,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        let delegations = self.delegations_mut(parent, name)?;
        let role = delegated_role_mut(&mut delegations.roles, name)?;
        role.threshold = threshold;
        self.touch(parent, now)
    }

    /// Withdraws keys from a delegated role; returns how many keys remain.
    pub fn remove_delegation_keys(
        &mut self,
        parent: &str,
        name: &str,
        keyids: &[String],
        now: OffsetDateTime,
    ) -> Result<usize, EditError> {
        let delegations = self.delegations_mut(parent, name)?;
        let role = delegated_role_mut(&mut delegations.roles, name)?;
        role.keyids.retain(|k| !keyids.contains(k));
        let left = role.keyids.len();
        prune_keys(delegations);
        self.touch(parent, now)?;
        Ok(left)
    }

    /// Removes a delegated role from `parent` (it stays listed in snapshot,
    /// at its last version, as clients require, but nothing reaches it).
    pub fn remove_delegation(
        &mut self,
        parent: &str,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        let delegations = self.delegations_mut(parent, name)?;
        let roles = delegations.roles.get_or_insert_with(Vec::new);
        let before = roles.len();
        roles.retain(|r| r.name != name);
        if roles.len() == before {
            return Err(not_found(name));
        }
        prune_keys(delegations);
        self.touch(parent, now)?;
        // Nothing reaches it now: it is not published again, and snapshot
        // keeps listing its last version.
        self.targets.remove(name);
        Ok(())
    }

    /// Delegates all of `parent`'s paths to `2^bit_length` succinct hashed
    /// bins named `{name_prefix}-{hex}` (TAP 15), and creates them empty.
    pub fn add_succinct_bins(
        &mut self,
        parent: &str,
        name_prefix: &str,
        bit_length: u32,
        keys: &[PublicKey],
        threshold: u64,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        if !(1..=32).contains(&bit_length) {
            return Err(EditError::refused(parent, "bit_length must be 1 to 32"));
        }
        let setup = RoleSetup {
            keys: keys.to_vec(),
            threshold,
        };
        let bins = SuccinctRoles {
            keyids: setup.role_keys().keyids,
            threshold,
            bit_length,
            name_prefix: name_prefix.to_owned(),
            extra: Extra::new(),
        };
        let parent_md = &mut self.role_mut(parent)?.signed;
        if parent_md.delegations.is_some() {
            return Err(EditError::refused(parent, "already has delegations"));
        }
        parent_md.delegations = Some(Delegations {
            keys: keys
                .iter()
                .map(|k| (k.key_id().to_string(), tuf_key(k)))
                .collect(),
            roles: None,
            succinct_roles: Some(bins.clone()),
            extra: Extra::new(),
        });
        self.touch(parent, now)?;
        self.create_bins(&bins, now);
        Ok(())
    }

    /// Creates the (empty) bins of `bins`. A name used before (a bin of an
    /// earlier layout, since withdrawn) continues above the version
    /// snapshot last listed for it, so no client sees a rollback.
    fn create_bins(&mut self, bins: &SuccinctRoles, now: OffsetDateTime) {
        for n in 0..bins.bins() {
            let name = bins.bin_name(n);
            let mut role = new_targets(&name, now, self.expiries.targets);
            let above = self
                .snapshot
                .signed
                .meta
                .get(&crate::tuf::metadata::meta_key(&name))
                .map_or(1, |m| m.version.saturating_add(1));
            role.version = super::bin_versions::next(&name, above, now).unwrap_or(above);
            self.targets.insert(name.clone(), Signed::new(role));
            self.changed.insert(name);
        }
    }

    /// Moves the tags `holder` lists itself into `2^bit_length` succinct
    /// hashed bins named `{name_prefix}-{hex}` (TAP 15), delegated with the
    /// holder's own keys and threshold: the same signers decide, and a
    /// cold lookup reads one bin instead of every tag. The holder must not
    /// delegate to anything else.
    pub fn convert_to_bins(
        &mut self,
        holder: &str,
        name_prefix: &str,
        bit_length: u32,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        if !(1..=12).contains(&bit_length) {
            return Err(EditError::refused(holder, "bins must number 2 to 4,096"));
        }
        let (keys, keyids, threshold) = self.signers_of(holder)?;
        let holder_md = &self.targets.get(holder).ok_or_else(|| not_found(holder))?.signed;
        if holder_md
            .delegations
            .as_ref()
            .is_some_and(|d| d.succinct_roles.is_some() || d.roles.as_ref().is_some_and(|r| !r.is_empty()))
        {
            return Err(EditError::refused(holder, "it already delegates"));
        }
        let bins = SuccinctRoles {
            keyids: keyids.clone(),
            threshold,
            bit_length,
            name_prefix: name_prefix.to_owned(),
            extra: Extra::new(),
        };
        self.create_bins(&bins, now);
        let holder_md = &mut self.role_mut(holder)?.signed;
        let tags = std::mem::take(&mut holder_md.targets);
        holder_md.delegations = Some(Delegations {
            keys: keys.into_iter().filter(|(id, _)| keyids.contains(id)).collect(),
            roles: None,
            succinct_roles: Some(bins.clone()),
            extra: Extra::new(),
        });
        self.touch(holder, now)?;
        for (path, target) in tags {
            let bin = bins.bin_for(&path);
            self.role_mut(&bin)?.signed.targets.insert(path, target);
        }
        Ok(())
    }

    /// The keys, key ids and threshold that sign `role`, as root (for
    /// `targets`) or its delegator lists them.
    fn signers_of(&self, role: &str) -> Result<super::trusted_set::Signers, EditError> {
        if role == "targets" {
            super::trusted_set::top_level_signers(&self.root.signed, "targets")
                .map_err(|e| EditError::refused(role, e.to_string()))
        } else {
            self.targets
                .values()
                .find_map(|t| super::trusted_set::delegation_signers(&t.signed, role))
                .ok_or_else(|| not_found(role))
        }
    }

    /// Makes `holder`'s bins take the holder's own keys and threshold as
    /// its delegator now lists them (a signer added to `targets/releases`
    /// signs its bins too). Returns whether that changed the holder.
    pub fn sync_bin_keys(&mut self, holder: &str, now: OffsetDateTime) -> Result<bool, EditError> {
        let (keys, keyids, threshold) = self.signers_of(holder)?;
        let keys: BTreeMap<String, Key> = keys.into_iter().filter(|(id, _)| keyids.contains(id)).collect();
        let Some(d) = self.role_mut(holder)?.signed.delegations.as_mut() else {
            return Ok(false);
        };
        let Some(bins) = d.succinct_roles.as_mut() else {
            return Ok(false);
        };
        if bins.keyids == keyids && bins.threshold == threshold && d.keys == keys {
            return Ok(false);
        }
        bins.keyids = keyids;
        bins.threshold = threshold;
        d.keys = keys;
        self.touch(holder, now)?;
        Ok(true)
    }

    /// Renews targets role `role` as if it changed: a new version and
    /// expiry, signatures dropped (its signers sign it again).
    pub fn renew(&mut self, role: &str, now: OffsetDateTime) -> Result<(), EditError> {
        self.touch(role, now)
    }

    /// Withdraws `parent`'s succinct hashed bins (and what they list): they
    /// stay in snapshot at their last version, as any withdrawn role does.
    pub fn remove_bins(&mut self, parent: &str, now: OffsetDateTime) -> Result<(), EditError> {
        let parent_md = &mut self.role_mut(parent)?.signed;
        let Some(bins) = parent_md
            .delegations
            .as_ref()
            .and_then(|d| d.succinct_roles.clone())
        else {
            return Ok(());
        };
        parent_md.delegations = None;
        self.touch(parent, now)?;
        self.targets.retain(|name, _| !bins.is_bin(name));
        self.changed.retain(|name| !bins.is_bin(name));
        Ok(())
    }

    /// Moves the tags of `holder`'s succinct hashed bins back into
    /// `holder`'s own list and withdraws the bins (which stay listed in
    /// snapshot at their last version): a role that delegates to other
    /// roles cannot also delegate to bins. Every bin must be loaded.
    pub fn flatten_bins(&mut self, holder: &str, now: OffsetDateTime) -> Result<usize, EditError> {
        let Some(bins) = self.bins_of(holder).cloned() else {
            return Ok(0);
        };
        let mut moved = BTreeMap::new();
        for n in 0..bins.bins() {
            let name = bins.bin_name(n);
            let bin = self
                .targets
                .get(&name)
                .ok_or_else(|| EditError::refused(holder, format!("bin {name} is not loaded")))?;
            moved.extend(bin.signed.targets.clone());
        }
        let count = moved.len();
        self.remove_bins(holder, now)?;
        self.role_mut(holder)?.signed.targets.extend(moved);
        Ok(count)
    }

    /// The succinct bins `role` delegates to, if any.
    pub fn bins_of(&self, role: &str) -> Option<&SuccinctRoles> {
        self.targets
            .get(role)?
            .signed
            .delegations
            .as_ref()?
            .succinct_roles
            .as_ref()
    }

    /// Whether `role` is a succinct bin of some targets role here.
    pub fn is_bin(&self, role: &str) -> bool {
        self.targets.values().any(|t| {
            t.signed
                .delegations
                .as_ref()
                .and_then(|d| d.succinct_roles.as_ref())
                .is_some_and(|b| b.is_bin(role))
        })
    }

    /// Targets roles changed since the last timestamp was made.
    pub fn changed_roles(&self) -> impl Iterator<Item = &str> {
        self.changed.iter().map(String::as_str)
    }

    /// Delegates from `parent` to `16^prefix_len` classic hashed bins (spec
    /// 4.5): roles `{name_prefix}-{hex}` each owning one `path_hash_prefixes`
    /// entry, for clients that predate TAP 15.
    pub fn add_hashed_bins(
        &mut self,
        parent: &str,
        name_prefix: &str,
        prefix_len: usize,
        keys: &[PublicKey],
        threshold: u64,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, EditError> {
        if !(1..=4).contains(&prefix_len) {
            return Err(EditError::refused(
                parent,
                "hash prefix length must be 1 to 4 hex digits",
            ));
        }
        let mut names = Vec::new();
        for n in 0..16u64.pow(prefix_len as u32) {
            let prefix = format!("{n:0prefix_len$x}");
            let name = format!("{name_prefix}-{prefix}");
            self.add_delegation(
                parent,
                Delegation {
                    name: &name,
                    keys,
                    threshold,
                    paths: DelegatedPaths::HashPrefixes(vec![prefix]),
                    terminating: true,
                },
                now,
            )?;
            names.push(name);
        }
        Ok(names)
    }

    /// The classic hashed bin of `parent` whose prefix matches `path`.
    pub fn hashed_bin_for(&self, parent: &str, path: &str) -> Result<String, EditError> {
        let parent_md = &self.targets.get(parent).ok_or_else(|| not_found(parent))?.signed;
        parent_md
            .delegations
            .as_ref()
            .and_then(|d| d.roles.as_ref())
            .and_then(|roles| {
                roles.iter().find(|r| {
                    r.path_hash_prefixes
                        .as_ref()
                        .is_some_and(|p| super::path::hash_prefix_matches(p, path))
                })
            })
            .map(|r| r.name.clone())
            .ok_or_else(|| EditError::NoRoleFor {
                parent: parent.to_owned(),
                path: path.to_owned(),
            })
    }

    /// The succinct bin of `parent` that holds `path`.
    pub fn bin_for(&self, parent: &str, path: &str) -> Result<String, EditError> {
        let parent_md = &self.targets.get(parent).ok_or_else(|| not_found(parent))?.signed;
        let bins = parent_md
            .delegations
            .as_ref()
            .and_then(|d| d.succinct_roles.as_ref())
            .ok_or_else(|| EditError::refused(parent, "it has no succinct hashed bins"))?;
        Ok(bins.bin_for(path))
    }

    /// Replaces the root keys, or any top-level role's keys and threshold:
    /// a new root version to be signed by a threshold of both the old and
    /// the new root keys.
    pub fn set_top_level_keys(
        &mut self,
        role: &str,
        setup: &RoleSetup,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        if !matches!(role, "root" | "targets" | "snapshot" | "timestamp") {
            return Err(not_found(role));
        }
        self.bump_root(now);
        let root = &mut self.root.signed;
        root.roles.insert(role.to_owned(), setup.role_keys());
        for k in &setup.keys {
            root.keys.insert(k.key_id().to_string(), tuf_key(k));
        }
        let used: std::collections::BTreeSet<String> = root
            .roles
            .values()
            .flat_map(|r| r.keyids.iter().cloned())
            .collect();
        root.keys.retain(|id, _| used.contains(id));
        Ok(())
    }

    /// Changes the keys of top-level role `role` in a new root version:
    /// adds `add`, removes the key ids `remove`, sets the threshold when
    /// given. Refused when the role would be left with fewer keys than its
    /// threshold, or with none.
    pub fn edit_top_level(
        &mut self,
        role: &str,
        add: &[PublicKey],
        remove: &[String],
        threshold: Option<u64>,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        if !matches!(role, "root" | "targets" | "snapshot" | "timestamp") {
            return Err(not_found(role));
        }
        let current = self.root.signed.roles.get(role).ok_or_else(|| not_found(role))?;
        let mut ids: Vec<String> = current.keyids.clone();
        for id in remove {
            if !ids.contains(id) {
                return Err(EditError::refused(role, format!("{id} is not one of its keys")));
            }
            ids.retain(|i| i != id);
        }
        for k in add {
            let id = k.key_id().to_string();
            if ids.contains(&id) {
                return Err(EditError::refused(
                    role,
                    format!("{id} is already one of its keys"),
                ));
            }
            ids.push(id);
        }
        ids.sort();
        let threshold = threshold.unwrap_or(current.threshold);
        if threshold == 0 || threshold > ids.len() as u64 {
            return Err(EditError::refused(
                role,
                format!(
                    "a threshold of {threshold} needs between 1 and {} key(s), and it would have {}",
                    ids.len().max(1),
                    ids.len()
                ),
            ));
        }
        // The new version names the one it replaces, as it was.
        self.bump_root(now);
        let root = &mut self.root.signed;
        for k in add {
            root.keys.insert(k.key_id().to_string(), tuf_key(k));
        }
        if let Some(r) = root.roles.get_mut(role) {
            r.keyids = ids;
            r.threshold = threshold;
        }
        let used: BTreeSet<String> = root
            .roles
            .values()
            .flat_map(|r| r.keyids.iter().cloned())
            .collect();
        root.keys.retain(|id, _| used.contains(id));
        Ok(())
    }

    /// Makes `key`, listed under `id`, the only root key (threshold 1):
    /// `vouch migrate` keeps a Docker Content Trust root certificate as is,
    /// so that its key id stays the one its users know.
    pub fn adopt_root_key(&mut self, id: &str, key: Key) {
        let root = &mut self.root.signed;
        root.keys.insert(id.to_owned(), key);
        root.roles.insert(
            "root".to_owned(),
            RoleKeys {
                keyids: vec![id.to_owned()],
                threshold: 1,
                extra: Extra::new(),
            },
        );
        let used: BTreeSet<String> = root
            .roles
            .values()
            .flat_map(|r| r.keyids.iter().cloned())
            .collect();
        root.keys.retain(|k, _| used.contains(k));
        self.root.signatures.clear();
    }

    /// A new root version with a fresh expiry (signatures dropped). The
    /// new version names the one it replaces (`BASE`).
    pub fn bump_root(&mut self, now: OffsetDateTime) {
        let base = root_hash(&self.root.signed).unwrap_or_default();
        let root = &mut self.root.signed;
        // The previous version is kept in `root_history` once published.
        if self.root_history.len() as u64 >= root.version {
            root.version += 1;
            root.extra
                .insert(BASE.to_owned(), serde_json::Value::String(base));
        }
        root.expires = Expires::new(now + self.expiries.root);
        self.root.signatures.clear();
    }

    /// Records the signed root as published (appends to the history when
    /// its version is new, replaces it when more signatures were added).
    pub fn publish_root(&mut self) -> Result<(), EditError> {
        let bytes = self.root.to_bytes()?;
        let v = self.root.signed.version as usize;
        if self.root_history.len() >= v {
            self.root_history[v - 1] = bytes;
        } else {
            self.root_history.push(bytes);
        }
        Ok(())
    }

    /// Lists every targets role's current version in snapshot, with the
    /// length and SHA-256 of its bytes (signatures included) when
    /// `snapshot_lists_hashes`: the snapshot key then binds each role's
    /// exact bytes, so no role file can be swapped, stripped of signatures
    /// or replayed under another name. Roles it listed before and nothing
    /// delegates to any more stay listed (a client refuses a snapshot that
    /// drops a role it knew).
    fn refresh_snapshot_meta(&mut self) {
        use sha2::Digest;
        let bins: Vec<&SuccinctRoles> = self
            .targets
            .values()
            .filter_map(|t| t.signed.delegations.as_ref()?.succinct_roles.as_ref())
            .collect();
        for (name, t) in &self.targets {
            // A bin is listed by version only once a threshold of its keys
            // signed it: with hashes, snapshot would grow by 100 bytes a bin
            // and a cold lookup would read them all (docs/trust-format.md,
            // "Bins"). A bin short of its threshold keeps its hash, which is
            // what lets a writer carry it on for the other signers. (The
            // editor holds only signatures it made or verified.)
            let hashed = self.snapshot_lists_hashes
                && bins.iter().find(|b| b.is_bin(name)).is_none_or(|b| {
                    let signed: BTreeSet<&str> = t
                        .signatures
                        .iter()
                        .filter(|s| b.keyids.contains(&s.keyid))
                        .map(|s| s.keyid.as_str())
                        .collect();
                    (signed.len() as u64) < b.threshold
                });
            let bytes = hashed.then(|| t.to_bytes().ok()).flatten();
            self.snapshot.signed.meta.insert(
                crate::tuf::metadata::meta_key(name),
                MetaFile {
                    version: t.signed.version,
                    length: bytes.as_ref().map(|b| b.len() as u64),
                    hashes: bytes.map(|b| {
                        BTreeMap::from([("sha256".to_owned(), hex::encode(sha2::Sha256::digest(&b)))])
                    }),
                    extra: Extra::new(),
                },
            );
        }
    }

    /// A new snapshot version listing every targets role (signatures dropped).
    pub fn bump_snapshot(&mut self, now: OffsetDateTime) {
        // A snapshot that was published (signed) is the state the next
        // one descends from (`history`).
        if !self.snapshot.signatures.is_empty()
            && let Ok(history) = super::history::next_history(&self.snapshot.signed)
        {
            self.snapshot
                .signed
                .extra
                .insert(super::history::FIELD.to_owned(), history);
        }
        // Superseded states stay named as long as the history reaches
        // back to them: the previous snapshot's, then this writer's own.
        let mut superseded = super::history::superseded_of(&self.snapshot.signed);
        superseded.extend(self.superseded.iter().cloned());
        let oldest = super::history::history_of(&self.snapshot.signed)
            .ok()
            .and_then(|h| h.last().map(|s| s.version))
            .unwrap_or(0);
        superseded.retain(|s| s.version >= oldest);
        self.snapshot.signed.extra.remove(super::history::SUPERSEDED);
        if !superseded.is_empty() {
            self.snapshot.signed.extra.insert(
                super::history::SUPERSEDED.to_owned(),
                super::history::superseded_value(&superseded),
            );
        }
        self.refresh_snapshot_meta();
        let s = &mut self.snapshot.signed;
        s.version = s.version.max(self.snapshot_floor) + 1;
        s.expires = Expires::new(now + self.expiries.snapshot);
        self.snapshot.signatures.clear();
    }

    /// A new timestamp version listing the current snapshot's version,
    /// length and SHA-256 (signatures dropped). Needs only the timestamp
    /// key to sign, so an online job can keep a repository fresh.
    pub fn bump_timestamp(&mut self, now: OffsetDateTime) -> Result<(), EditError> {
        use sha2::Digest;
        let snap = self.snapshot.to_bytes()?;
        let mut hashes = BTreeMap::new();
        hashes.insert("sha256".to_owned(), hex::encode(sha2::Sha256::digest(&snap)));
        let t = &mut self.timestamp.signed;
        t.meta = BTreeMap::from([(
            "snapshot.json".to_owned(),
            MetaFile {
                version: self.snapshot.signed.version,
                length: Some(snap.len() as u64),
                hashes: Some(hashes),
                extra: Extra::new(),
            },
        )]);
        t.version += 1;
        t.expires = Expires::new(now + self.expiries.timestamp);
        self.timestamp.signatures.clear();
        self.changed.clear();
        Ok(())
    }

    /// Signs every targets role whose keys include `key` and that lacks its
    /// signature (k-of-n: other holders' signatures are kept).
    pub fn sign_targets_roles(&mut self, key: &PrivateKey) -> Result<Vec<String>, EditError> {
        let id = key.public().key_id().to_string();
        let mut authorised: Vec<String> = Vec::new();
        if self
            .root
            .signed
            .roles
            .get("targets")
            .is_some_and(|r| r.keyids.contains(&id))
        {
            authorised.push("targets".to_owned());
        }
        for t in self.targets.values() {
            if let Some(d) = &t.signed.delegations {
                for r in d.roles.iter().flatten() {
                    if r.keyids.contains(&id) {
                        authorised.push(r.name.clone());
                    }
                }
                if let Some(bins) = &d.succinct_roles
                    && bins.keyids.contains(&id)
                {
                    authorised.extend((0..bins.bins()).map(|n| bins.bin_name(n)));
                }
            }
        }
        let mut signed = Vec::new();
        for name in authorised {
            if let Some(role) = self.targets.get_mut(&name)
                && !role.signatures.iter().any(|s| s.keyid == id)
            {
                role.sign(key)?;
                signed.push(name);
            }
        }
        Ok(signed)
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
    let mut used: std::collections::BTreeSet<String> = delegations
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
