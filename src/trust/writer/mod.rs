//! The edit session every writer goes through. Each attempt loads the
//! trust data verified (`load::load_for_writing`), applies the
//! change to what verified, signs, and publishes only if nobody moved the
//! trust tag meanwhile (else it starts over, so concurrent writers lose no
//! update). Trust data that does not verify is never signed over.
//!
//! By concern: [`session`] (the publish loop, refresh, init), [`sign`]
//! (tags), [`signers`] (signers and thresholds), [`bins`], [`recover`],
//! [`staging`] (changes short of a threshold, or of a publisher).

mod bins;
mod lifecycle;
mod recover;
mod root;
mod session;
mod shortfall;
mod sign;
mod signers;
mod staging;

pub use bins::{BIN_THRESHOLD, MAX_BIN_BITS, bin_bits_for, bin_prefix};
pub use lifecycle::{KeyChange, RootEdit, TagChange};
pub use session::snapshot_expires_soon;
pub use shortfall::{Shortfall, needs};
pub use sign::RevokeReport;
pub(crate) use sign::signature_count;
pub use staging::{Approved, Outcome, Pending, Proposal, PublishedStaged, StagedList, Standing};

use vouch_keys::PrivateKey;

use super::Trust;
use super::error::TrustError;
use super::load::{Building, WriterState, load_for_writing};
use crate::store::Store;
use crate::tuf::editor::MetadataEditor;

/// Attempts to publish before giving up on concurrent writers.
pub const MAX_ATTEMPTS: usize = 20;

/// Shortest pause before a publish to a registry is confirmed.
pub const SETTLE_MIN: std::time::Duration = std::time::Duration::from_millis(250);
/// Longest pause before a publish to a registry is confirmed.
pub const SETTLE_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether `served` already holds the change that made `ours` from it:
/// the same root keys (and at least as many root versions), the same tags
/// and delegations in every targets role, every key that
/// signed a role of ours among that role's signers there (a co-signature
/// in a k-of-n role changes nothing else), and the same expiry settings
/// (`refresh --timestamp-expiry`). Versions and expiry dates aside.
fn holds_change(ours: &MetadataEditor, served: &MetadataEditor) -> bool {
    // A root change is held only by that very root.
    ours.root.signed.roles == served.root.signed.roles
        && ours.root.signed.keys == served.root.signed.keys
        && ours.root_history.len() <= served.root_history.len()
        && ours.expiries == served.expiries
        && ours.targets.len() == served.targets.len()
        && ours.targets.iter().all(|(name, role)| {
            served.targets.get(name).is_some_and(|other| {
                role.signed.targets == other.signed.targets
                    && role.signed.delegations == other.signed.delegations
                    && role
                        .signatures
                        .iter()
                        .all(|sig| other.signatures.iter().any(|o| o.keyid == sig.keyid))
            })
        })
}

/// The online keys every publish signs with.
#[derive(Clone, Copy, Debug)]
pub struct Publishing<'k> {
    /// The snapshot key; without it only the timestamp is re-signed.
    pub snapshot: Option<&'k PrivateKey>,
    /// The timestamp key.
    pub timestamp: &'k PrivateKey,
}

fn bug(e: impl std::fmt::Display) -> TrustError {
    TrustError::bug(e.to_string())
}

/// The role that delegates `role`, by vouch's (and Notary's) naming: a
/// bin `b-HEX` is `targets`', a bin `rb-HEX` is `targets/releases`', any
/// other delegated role the role its name extends (`targets/alice`:
/// `targets`). `None` for `targets` itself (root delegates it). Writers
/// count a role's signatures only against this delegator: a role that
/// another role also delegates (a signer's own role listing
/// `targets/releases` or a bin under their key alone) decides nothing.
pub(crate) fn delegator_of(role: &str) -> Option<String> {
    if role == "targets" {
        return None;
    }
    if role.starts_with("rb-") && crate::tuf::bin_versions::slot(role).is_some() {
        return Some(crate::trust::RELEASES.to_owned());
    }
    if role.starts_with("b-") && crate::tuf::bin_versions::slot(role).is_some() {
        return Some("targets".to_owned());
    }
    role.rsplit_once('/').map(|(parent, _)| parent.to_owned())
}

/// The key ids that sign `role` in `repo`, as its delegator lists them.
pub fn signer_ids(repo: &MetadataEditor, role: &str) -> Option<Vec<crate::tuf::KeyId>> {
    signers_of(repo, role).map(|(_, ids, _)| ids)
}

/// The keys, key ids and threshold that sign `role` in `repo`, as its
/// delegator ([`delegator_of`]) or root (for `targets`) lists them.
pub(crate) fn signers_of(repo: &MetadataEditor, role: &str) -> Option<crate::tuf::trusted_set::Signers> {
    match delegator_of(role) {
        None => {
            crate::tuf::trusted_set::top_level_signers(&repo.root.signed, &crate::tuf::RoleName::Targets).ok()
        }
        Some(parent) => {
            crate::tuf::trusted_set::delegation_signers(&repo.targets.get(parent.as_str())?.signed, role)
        }
    }
}

/// Refuses a key that the verified metadata does not authorise for `role`.
fn authorised(repo: &MetadataEditor, repo_id: &str, role: &str, key: &PrivateKey) -> Result<(), TrustError> {
    let id = crate::tuf::KeyId::from(key.public().key_id());
    let ok = match role {
        "root" | "targets" | "snapshot" | "timestamp" => repo
            .root
            .signed
            .roles
            .get(role)
            .is_some_and(|r| r.keyids.contains(&id)),
        _ => signers_of(repo, role).is_some_and(|(_, ids, _)| ids.contains(&id)),
    };
    if ok {
        Ok(())
    } else {
        Err(TrustError::KeyNotAuthorised {
            key: key.public().key_id().short().to_owned(),
            repo: repo_id.to_owned(),
            role: role.to_owned(),
        })
    }
}

/// Writes one repository's trust data.
#[derive(Debug)]
pub struct Writer<'s> {
    trust: Trust,
    repo: String,
    store: &'s dyn Store,
    /// Renewing this machine's verified state: may build on an expired
    /// timestamp (`refresh`), or reads staged changes on expired data
    /// (`staged`, `approve`).
    mode: Building,
    /// Publishing changes made elsewhere (staged ones): the publisher's
    /// record notes them as not made here.
    relayed: bool,
    /// `init --replace`: a new root over trust data whose root threshold
    /// was lost.
    replace: bool,
}

impl<'s> Writer<'s> {
    /// A writer of `repo` in `store`.
    pub fn new(trust: &Trust, repo: &str, store: &'s dyn Store) -> Writer<'s> {
        Writer {
            trust: trust.clone(),
            repo: repo.to_owned(),
            store,
            mode: Building::Fresh,
            relayed: false,
            replace: false,
        }
    }

    /// A writer that renews this machine's verified state (`refresh`): it
    /// may build on trust data whose timestamp expired, checked against
    /// this machine's cache, which no other writer does.
    pub fn repairing(mut self) -> Writer<'s> {
        self.mode = Building::Repair;
        self
    }

    /// A writer that makes a new root over the trust data served (`init
    /// --replace`, after a root threshold was lost or stolen): verifiers
    /// refuse it until each replaces its pin, explicitly.
    pub fn replacing_trust_data(mut self) -> Writer<'s> {
        self.replace = true;
        self
    }

    /// A writer that reads staged changes to list or approve them, on
    /// expired trust data too, even where this machine has no verified
    /// copy (a root holder renewing an expired root): it warns, and
    /// publishes only as [`Writer::repairing`] does.
    pub fn reviewing(mut self) -> Writer<'s> {
        self.mode = Building::Review;
        self
    }

    fn clone_writer(&self) -> Writer<'s> {
        Writer {
            trust: self.trust.clone(),
            repo: self.repo.clone(),
            store: self.store,
            mode: self.mode,
            relayed: self.relayed,
            replace: self.replace,
        }
    }

    /// The repository.
    pub fn repository(&self) -> &str {
        &self.repo
    }

    /// The trust directory settings.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// The store written.
    pub fn store(&self) -> &'s dyn Store {
        self.store
    }

    /// The trust data as verified for editing (to learn which keys an
    /// edit needs before unlocking them).
    pub fn load(&self) -> Result<WriterState, TrustError> {
        load_for_writing(&self.trust, &self.repo, self.store, None, self.mode)
    }

    /// [`Writer::load`], reading of the hashed bins only those that hold
    /// `tags` (none: only the roles above the bins, enough to learn which
    /// keys sign what).
    pub fn load_for(&self, tags: &[String]) -> Result<WriterState, TrustError> {
        load_for_writing(&self.trust, &self.repo, self.store, Some(tags), self.mode)
    }
}
