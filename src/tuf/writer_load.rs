//! Loading a repository's targets roles for a writer, sans-IO.
//!
//! A writer edits only what it verified (tuftool's rule): it starts from a
//! [`TrustedSet`] whose root, timestamp and snapshot passed the update
//! workflow, then loads every targets role the snapshot lists and a
//! delegator reaches, each checked against the snapshot and against the
//! keys of every delegator that reaches it.
//!
//! One deliberate difference from a verifier: a delegated role signed by
//! fewer keys than its threshold is kept, because k-of-n signers add their
//! signatures one publish at a time. That is allowed only where the
//! snapshot (signed by the snapshot key) pins the role's exact bytes by
//! hash, so that nobody without a key can swap, strip or replay it; and
//! what is kept is only ever content that an authorised key signed.
//! Anything else is refused, so that no writer ever signs over an edit made
//! without a key:
//!
//! * a signature by an authorised key that does not verify means the
//!   content changed after signing: refused ([`TufError::InvalidSignature`]);
//! * content (targets or delegations) with no valid signature from an
//!   authorised key: refused ([`TufError::Unsigned`]); an empty delegated
//!   role with no signature, its bytes pinned by snapshot, is one created
//!   and not yet signed, and is kept;
//! * below its threshold without a hash in snapshot: refused, as a
//!   verifier refuses it ([`TufError::ThresholdNotMet`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::crypto::count_signatures;
use super::error::TufError;
use super::metadata::{Envelope, KeyId, Role as _, RoleName, Signature, Targets};
use super::trusted_set::{
    RoleRequest, TrustedSet, check_meta_file, delegation_signers, top_level_signers, validate_delegations,
};

/// How well a loaded targets role is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleState {
    /// A threshold of its keys signed it: a verifier accepts it.
    Signed,
    /// At least one of its keys signed it, fewer than the threshold: k-of-n
    /// signing under way; verifiers refuse it until more keys sign.
    PartlySigned {
        /// Valid signatures from distinct authorised keys.
        valid: usize,
        /// The threshold.
        threshold: u64,
    },
    /// Empty and unsigned: created, not yet signed by its keys.
    EmptyUnsigned,
}

/// A targets role as loaded for editing: its content and the signatures
/// that verified (others are dropped).
#[derive(Clone, Debug)]
pub struct EditableRole {
    /// The role's `signed`.
    pub signed: Targets,
    /// Valid signatures by authorised keys.
    pub signatures: Vec<Signature>,
    /// How well it is signed.
    pub state: RoleState,
}

/// Loads every reachable targets role for editing; see the module docs.
///
/// Drive it with [`WriterLoad::next_request`] (which role to fetch next) and
/// [`WriterLoad::add`] (its bytes), then take the roles with
/// [`WriterLoad::finish`].
#[derive(Debug)]
pub struct WriterLoad<'a> {
    set: &'a TrustedSet,
    roles: BTreeMap<RoleName, Loaded>,
    /// Delegation edges (role, delegator) still to check.
    queue: VecDeque<(RoleName, RoleName)>,
    edges: BTreeSet<(RoleName, RoleName)>,
    /// The edge whose role bytes [`WriterLoad::add`] expects.
    pending: Option<(RoleName, RoleName)>,
    /// Load only the succinct bins that hold these target paths (`None`:
    /// every bin)...
    bins_for: Option<BTreeSet<String>>,
    /// ... and those snapshot lists outside this range of versions (signed
    /// long ago, or by a clock ahead of this one).
    bins_within: std::ops::RangeInclusive<u64>,
    /// Bins whose version is not bound to their name (signed by a vouch
    /// before 2026-12-05) that the caller vouches for: the bytes are this
    /// machine's own verified copy.
    unbound_ok: BTreeSet<String>,
}

/// A role loaded so far: as received, how well signed, and the key ids
/// whose signatures verified through any delegator.
#[derive(Debug)]
struct Loaded {
    env: Envelope<Targets>,
    state: RoleState,
    valid: BTreeSet<KeyId>,
    /// Whether snapshot pins its bytes by hash.
    pinned: bool,
}

fn is_empty(t: &Targets) -> bool {
    t.targets.is_empty()
        && t.delegations
            .as_ref()
            .is_none_or(|d| d.roles.as_ref().is_none_or(Vec::is_empty) && d.succinct_roles.is_none())
}

impl<'a> WriterLoad<'a> {
    /// Starts at the top-level targets role. `set` must hold a verified
    /// snapshot.
    pub fn new(set: &'a TrustedSet) -> Result<WriterLoad<'a>, TufError> {
        if set.snapshot().is_none() {
            return Err(TufError::Missing {
                role: "snapshot".to_owned(),
                needed: "update the snapshot first",
            });
        }
        let edge = (RoleName::Targets, RoleName::Root);
        Ok(WriterLoad {
            set,
            roles: BTreeMap::new(),
            queue: VecDeque::from([edge.clone()]),
            edges: BTreeSet::from([edge]),
            pending: None,
            bins_for: None,
            bins_within: 0..=u64::MAX,
            unbound_ok: BTreeSet::new(),
        })
    }

    /// Also loads the bins snapshot lists at versions outside `within`
    /// (with [`WriterLoad::only_bins_for`]): bins signed long ago, for the
    /// writer to renew before they expire, and bins whose version is ahead
    /// of this clock (whose age it cannot tell).
    pub fn also_bins_outside(mut self, within: std::ops::RangeInclusive<u64>) -> Self {
        self.bins_within = within;
        self
    }

    /// Loads, of succinct hashed bins, only those that hold `paths` (a
    /// writer that signs or revokes some tags touches only their bins; the
    /// others are neither read nor rewritten, and snapshot keeps listing
    /// them as it verified them).
    pub fn only_bins_for(mut self, paths: impl IntoIterator<Item = String>) -> Self {
        self.bins_for = Some(paths.into_iter().collect());
        self
    }

    /// The next role whose bytes are needed, and how to fetch them, or
    /// `None` when every reachable role is loaded and checked.
    pub fn next_request(&mut self) -> Result<Option<RoleRequest>, TufError> {
        while let Some((role, parent)) = self.queue.pop_front() {
            if let Some(loaded) = self.roles.get(&role) {
                // Reached again through another delegator: its keys must
                // accept the role too.
                let (state, valid) = self.classify(&role, &parent, &loaded.env, loaded.pinned)?;
                if let Some(loaded) = self.roles.get_mut(&role) {
                    loaded.valid.extend(valid);
                    if state != RoleState::Signed {
                        loaded.state = state;
                    }
                }
                continue;
            }
            let request = self.set.role_request(&role)?;
            self.pending = Some((role, parent));
            return Ok(Some(request));
        }
        Ok(None)
    }

    /// Accepts the next bytes of bin `role` although its version is not
    /// bound to its name (it was signed by a vouch before versions were):
    /// only for bytes equal to this machine's verified copy, since such a
    /// bin's file could otherwise be another bin's of the same version.
    pub fn accept_unbound(&mut self, role: &str) {
        self.unbound_ok.insert(role.to_owned());
    }

    /// The bytes of the role [`WriterLoad::next_request`] asked for.
    pub fn add(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        let Some((role, parent)) = self.pending.take() else {
            return Err(TufError::Missing {
                role: "targets".to_owned(),
                needed: "ask `next` which role to load",
            });
        };
        let request = self.set.role_request(&role)?;
        if bytes.len() as u64 > request.max_bytes {
            return Err(TufError::TooLarge {
                role: role.to_string(),
                limit: request.max_bytes,
            });
        }
        let snapshot = self.set.snapshot().map(|s| s.signed()).ok_or(TufError::Missing {
            role: "snapshot".to_owned(),
            needed: "update the snapshot first",
        })?;
        let meta = snapshot
            .meta
            .get(&crate::tuf::metadata::meta_key(&role))
            .ok_or_else(|| TufError::NotListed {
                role: role.to_string(),
                by: "snapshot".to_owned(),
            })?;
        // 5.6.2 and 5.6.4, as a verifier checks them.
        check_meta_file(role.as_str(), "snapshot", meta, bytes)?;
        let env: Envelope<Targets> = Envelope::parse(role.as_str(), bytes)?;
        if env.signed.version != meta.version {
            return Err(TufError::VersionMismatch {
                role: role.to_string(),
                by: "snapshot".to_owned(),
                expected: meta.version,
                got: env.signed.version,
            });
        }
        if let Some(d) = &env.signed.delegations {
            validate_delegations(role.as_str(), d)?;
        }
        let pinned = meta.length.is_some() && meta.hashes.as_ref().is_some_and(|h| h.contains_key("sha256"));
        if let Some(bins) = self.roles.get(&parent).and_then(|p| {
            p.env
                .signed
                .delegations
                .as_ref()
                .and_then(|d| d.succinct_roles.as_ref())
        }) && bins.is_bin(role.as_str())
        {
            // A bin signed by a vouch before versions were bound to names
            // is loaded only as this machine verified it (then signed
            // again); readers refuse it.
            let bound = self.set.bins_bound() && !self.unbound_ok.contains(role.as_str());
            super::trusted_set::check_bin(&role, bins, &env.signed, pinned, bound)?;
        }
        let (state, valid) = self.classify(&role, &parent, &env, pinned)?;
        // Children: every role it delegates to that snapshot lists.
        if let Some(d) = &env.signed.delegations {
            let mut children: Vec<RoleName> = d.roles.iter().flatten().map(|r| r.name.clone()).collect();
            if let Some(bins) = &d.succinct_roles {
                let wanted: Option<BTreeSet<RoleName>> = self
                    .bins_for
                    .as_ref()
                    .map(|paths| paths.iter().map(|p| bins.bin_for(p)).collect());
                children.extend(
                    snapshot
                        .meta
                        .iter()
                        .filter_map(|(name, meta)| Some((name.strip_suffix(".json")?, meta.version)))
                        .filter(|(name, _)| bins.is_bin(name))
                        .filter(|(name, version)| {
                            wanted
                                .as_ref()
                                .is_none_or(|w| w.contains(*name) || !self.bins_within.contains(version))
                        })
                        .map(|(name, _)| RoleName::parse(name)),
                );
            }
            for child in children {
                let edge = (child, role.clone());
                if self.edges.insert(edge.clone()) {
                    self.queue.push_back(edge);
                }
            }
        }
        self.roles.insert(
            role,
            Loaded {
                env,
                state,
                valid,
                pinned,
            },
        );
        Ok(())
    }

    /// Decides whether `env` may be edited as reached through `parent`.
    fn classify(
        &self,
        role: &RoleName,
        parent: &RoleName,
        env: &Envelope<Targets>,
        pinned: bool,
    ) -> Result<(RoleState, BTreeSet<KeyId>), TufError> {
        let (keys, keyids, threshold) = if *parent == RoleName::Root {
            top_level_signers(self.set.root().signed(), &RoleName::Targets)?
        } else {
            let delegator = self.roles.get(parent).ok_or(TufError::Missing {
                role: parent.to_string(),
                needed: "load the delegating role first",
            })?;
            delegation_signers(&delegator.env.signed, role.as_str()).ok_or_else(|| TufError::NotListed {
                role: role.to_string(),
                by: format!("{parent}'s delegations"),
            })?
        };
        let version = env.signed.version();
        let count = count_signatures(
            role.as_str(),
            version,
            &env.canonical,
            &env.signatures,
            &keys,
            &keyids,
        )?;
        // A threshold of valid signatures is what a verifier accepts; an
        // extra signature that does not verify (which anyone can append
        // to bytes snapshot lists by version only) is dropped, not a
        // reason to stop publishing. Below the threshold it means the
        // content changed after a key signed it.
        if let Some(keyid) = count.invalid.first()
            && (count.valid.len() as u64) < threshold
        {
            return Err(TufError::InvalidSignature {
                role: role.to_string(),
                version,
                keyid: keyid.to_string(),
            });
        }
        let valid = count.valid.len();
        let state = if valid as u64 >= threshold {
            RoleState::Signed
        } else if !pinned || *role == RoleName::Targets {
            // Unpinned bytes could be swapped for anything that keeps the
            // version; the top-level role is never left unsigned.
            return Err(if valid == 0 && !is_empty(&env.signed) {
                TufError::Unsigned {
                    role: role.to_string(),
                    version,
                }
            } else {
                TufError::ThresholdNotMet {
                    role: role.to_string(),
                    version,
                    valid,
                    threshold,
                }
            });
        } else if valid > 0 {
            RoleState::PartlySigned { valid, threshold }
        } else if is_empty(&env.signed) {
            RoleState::EmptyUnsigned
        } else {
            return Err(TufError::Unsigned {
                role: role.to_string(),
                version,
            });
        };
        Ok((state, count.valid.into_iter().collect()))
    }

    /// Every loaded role, by name, with the signatures that verified.
    pub fn finish(self) -> BTreeMap<RoleName, EditableRole> {
        self.roles
            .into_iter()
            .map(|(name, loaded)| {
                let signatures = loaded
                    .env
                    .signatures
                    .into_iter()
                    .filter(|s| loaded.valid.contains(&s.keyid))
                    .collect();
                let role = EditableRole {
                    signed: loaded.env.signed,
                    signatures,
                    state: loaded.state,
                };
                (name, role)
            })
            .collect()
    }
}
