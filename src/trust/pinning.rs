//! Pins: which root keys a repository's trust starts from.
//!
//! A pin is a set of root key ids and a threshold, from the policy file.
//! A key id means nothing by itself: the root that is checked lists each
//! key under an id the TUF core recomputes from the key (a forged root
//! cannot map a pinned id to another key), so a pinned id binds the key
//! material it hashes from.

use crate::policy::{Policy, Scope};
use crate::tuf::TufError;
use crate::tuf::crypto::verify_threshold;
use crate::tuf::metadata::{Envelope, KeyId, Root};

/// The root keys a repository is pinned to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    /// Pinned root key ids.
    pub keys: Vec<String>,
    /// How many of them must sign the first root.
    pub threshold: u64,
}

impl Pin {
    /// The pin of `repo` in `policy`, if a scope pins it.
    pub fn of(policy: &Policy, repo: &str) -> Option<Pin> {
        policy.lookup(repo).and_then(Pin::from_scope).map(|mut pin| {
            // A denied key counts toward no pin, whatever the scope says.
            pin.keys.retain(|k| !policy.denied(k));
            pin
        })
    }

    fn from_scope(scope: &Scope) -> Option<Pin> {
        (!scope.root_keys.is_empty()).then(|| Pin {
            keys: scope.root_keys.clone(),
            threshold: scope.threshold,
        })
    }

    /// Whether the first root of a chain, given as bytes, carries this
    /// pin's threshold of valid signatures from pinned keys. (It must
    /// also meet its own threshold, which the TUF core checks when it
    /// trusts it; key ids are checked there too, and here first.)
    pub fn admits(&self, root_bytes: &[u8]) -> Result<(), TufError> {
        let env: Envelope<Root> = Envelope::parse("root", root_bytes)?;
        crate::tuf::crypto::check_key_ids("root", &env.signed.keys)?;
        // Pinned keys count only as keys of this root's root role.
        let root_keys = env.signed.roles.get("root").map(|r| &r.keyids);
        let pinned: Vec<KeyId> = self
            .keys
            .iter()
            .filter(|k| root_keys.is_some_and(|ids| ids.iter().any(|id| id == k.as_str())))
            .map(KeyId::new)
            .collect();
        verify_threshold(
            "root (pinned keys)",
            env.signed.version,
            &env.canonical,
            &env.signatures,
            &env.signed.keys,
            &pinned,
            self.threshold,
        )
    }
}

/// Whether trust may start from an unpinned root, and how loudly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstUse {
    /// Refuse a repository nothing pins.
    Refuse,
    /// Pin the root found on first use (printed as a warning).
    TrustOnFirstUse,
}

impl FirstUse {
    /// `--tofu`, or a policy scope that allows it.
    pub fn from(tofu_flag: bool, policy: &Policy, repo: &str) -> FirstUse {
        if tofu_flag || policy.lookup(repo).is_some_and(|s| s.tofu) {
            FirstUse::TrustOnFirstUse
        } else {
            FirstUse::Refuse
        }
    }
}
