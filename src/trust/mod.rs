//! The trust layer: the only way vouch reads or writes trust data.
//!
//! The store (a registry, a mirror, an OCI layout) is untrusted: whoever
//! can write it but holds no key must not be able to make an image verify
//! or pass the gate. So every path starts from verified data:
//!
//! * [`pinning`]: pins bind root key material (key ids are recomputed from
//!   keys), with a threshold; checked against the cached chain's first
//!   root on every run, so a changed pin takes effect at once.
//! * [`cache`]: what this machine verified, the reference for rollback and
//!   freeze checks.
//! * [`Reader`]: the verified load for verifiers (and the gate), with the
//!   decisions in [`decide`]: which role holds a tag, what a tag is
//!   signed as, whether a digest is signed.
//! * [`warm`]: verifying references in as few round trips as the store
//!   allows, answering from a record of verified verdicts while the trust
//!   artifact is unchanged and unexpired.
//! * [`writer`]: the edit session every writer goes through: it starts from
//!   the same verified load, refuses to publish over trust data that does
//!   not verify, and offers [`writer::Writer::recover`] to move clients past it.

pub mod cache;
pub mod decide;
pub mod error;
pub mod expiry;
pub mod gate;
pub mod listing;
pub mod load;
pub mod migration;
pub mod notary_reader;
pub mod pinning;
pub mod record;
pub mod signing_keys;
pub mod targets;
pub mod warm;
pub mod writer;

use std::path::PathBuf;

pub use decide::{RELEASES, SignedTarget, Verdict, tag_holder};
pub use error::TrustError;
pub use pinning::{FirstUse, Pin};

use crate::store::Store;
use crate::tuf::TrustedSet;

/// Where the trust layer keeps its state, and whether it may use the
/// network.
#[derive(Clone, Debug)]
pub struct Trust {
    /// The trust directory: `policy.toml` (pins) and the verified cache.
    pub dir: PathBuf,
    /// Decide from the verified cache only, fetching nothing.
    pub offline: bool,
}

impl Trust {
    /// Creates the trust directory (0700) if this machine has none yet,
    /// and refuses one that others may read: it holds the pins and what
    /// was verified.
    pub fn ensure_dir(&self) -> Result<(), TrustError> {
        Ok(vouch_keys::TrustDir::at(self.dir.clone()).ensure()?)
    }
}

/// A verified reader of one repository's trust data.
#[derive(Debug)]
pub struct Reader<'s> {
    repo: String,
    offline: bool,
    client: load::StoreUpdater<'s>,
    artifact: Option<String>,
}

impl<'s> Reader<'s> {
    /// Verifies the trust data of `repo` in `store`: from the pinned root
    /// (or the cached chain after it), through the TUF update workflow,
    /// with rollback and freeze checks against this machine's cache. An
    /// unpinned repository is refused unless `tofu` (or the policy) allows
    /// pinning it on first use.
    pub fn open(
        trust: &Trust,
        repo: &str,
        store: &'s dyn Store,
        tofu: bool,
    ) -> Result<Reader<'s>, TrustError> {
        trust.ensure_dir()?;
        let policy = crate::policy::Policy::load(&trust.dir)?;
        let first_use = FirstUse::from(tofu, &policy, repo);
        let (client, artifact) = load::open_reader(trust, repo, store, first_use)?;
        Ok(Reader {
            repo: repo.to_owned(),
            offline: trust.offline,
            client,
            artifact,
        })
    }

    /// The repository.
    pub fn repository(&self) -> &str {
        &self.repo
    }

    /// The digest of the trust artifact this reader verified (`None`
    /// offline): the same digest means the same trust data, so decisions
    /// made from it may be reused while it is fresh.
    pub fn artifact(&self) -> Option<&str> {
        self.artifact.as_deref()
    }

    /// The trusted metadata.
    pub fn trusted(&self) -> &TrustedSet {
        self.client.trusted()
    }

    /// Bytes this reader fetched from the store so far: (TUF metadata,
    /// trust manifests). A cold verify of one tag fetches the root chain,
    /// timestamp, snapshot, the role that holds tags and, where tags are
    /// in bins, one bin and its group's manifest.
    pub fn bytes_fetched(&self) -> (u64, u64) {
        match self.client.fetcher() {
            load::Source::Store(f) => f.bytes_fetched(),
            load::Source::Offline(_) => (0, 0),
        }
    }
}
