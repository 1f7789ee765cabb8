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
#[cfg(test)]
mod load_tests;
pub mod migration;
pub mod notary_reader;
pub mod pinning;
mod reader;
pub mod record;
pub mod signing_keys;
pub mod targets;
pub mod warm;
pub mod writer;

use std::path::PathBuf;

pub use decide::{RELEASES, SignedTarget, Verdict, tag_holder};
pub use error::TrustError;
pub use pinning::{FirstUse, Pin};
pub use reader::Reader;

/// Where the trust layer keeps its state, whether it may use the
/// network, and who hears its notices.
#[derive(Clone)]
pub struct Trust {
    /// The trust directory: `policy.toml` (pins) and the verified cache.
    pub dir: PathBuf,
    /// Decide from the verified cache only, fetching nothing.
    pub offline: bool,
    /// Hears what the trust layer tells people without it being an error
    /// (the trust layer prints nothing itself).
    pub notify: Notify,
    /// What untrusted metadata may weigh (one place for every read).
    pub limits: crate::tuf::Limits,
    /// The clock every freshness decision reads (one place; tests may set
    /// another).
    pub clock: fn() -> time::OffsetDateTime,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("dir", &self.dir)
            .field("offline", &self.offline)
            .finish_non_exhaustive()
    }
}

/// Receives [`Notice`]s: the CLI prints them on stderr, the long-running
/// gates log them in their own format.
pub type Notify = std::sync::Arc<dyn Fn(&Notice) + Send + Sync>;

/// Something people should know that is not an error: rendered by the
/// caller (the CLI as `LEVEL: message`, the proxy and webhook as log lines).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// A root pinned on first use, unchecked with the publisher.
    TrustOnFirstUse {
        /// The repository (or GUN).
        repo: String,
        /// The root key ids pinned.
        keys: Vec<String>,
    },
    /// The pin (or the deny list) no longer admits the root verified
    /// here: the verified cache is dropped and verification starts over.
    PinChanged {
        /// The repository (or GUN).
        repo: String,
    },
    /// A GUN's Notary data is read from the root the user's docker trusted.
    DockerTrustedRoot {
        /// The GUN.
        gun: String,
    },
    /// Offline: the cached trust data stays fresh until then.
    OfflineFreshUntil {
        /// The repository.
        repo: String,
        /// The expiry, as written.
        until: String,
    },
    /// Offline: the tag was not looked up in the store.
    OfflineNotLookedUp {
        /// The repository.
        repo: String,
        /// The tag.
        tag: String,
    },
    /// Expired trust data read for review with nothing verified before to
    /// check it against.
    ExpiredUnchecked {
        /// The repository.
        repo: String,
    },
    /// The trust artifact in the store does not parse: its versions are
    /// ignored when choosing the next ones.
    ArtifactUnreadable,
}

impl Notice {
    /// How loud: `WARNING`, `warning`, `note` or `offline`.
    pub fn level(&self) -> &'static str {
        match self {
            Notice::TrustOnFirstUse { .. } => "WARNING",
            Notice::ExpiredUnchecked { .. } | Notice::ArtifactUnreadable => "warning",
            Notice::OfflineFreshUntil { .. } | Notice::OfflineNotLookedUp { .. } => "offline",
            Notice::PinChanged { .. } | Notice::DockerTrustedRoot { .. } => "note",
        }
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::TrustOnFirstUse { repo, keys } => write!(
                f,
                "trusting {repo} on first use: pinning root key(s) {} without checking them with the publisher",
                keys.join(", ")
            ),
            Notice::PinChanged { repo } => write!(
                f,
                "the pin of {repo} (or the deny list) no longer admits the root this machine verified; \
                 starting over"
            ),
            Notice::DockerTrustedRoot { gun } => {
                write!(
                    f,
                    "starting from the root your docker trusted for {gun} ($DOCKER_CONFIG/trust)"
                )
            }
            Notice::OfflineFreshUntil { repo, until } => {
                write!(f, "cached trust data of {repo} stays fresh until {until}")
            }
            Notice::OfflineNotLookedUp { repo, tag } => {
                write!(f, "{repo}:{tag} was not looked up; deploy by the trusted digest")
            }
            Notice::ExpiredUnchecked { repo } => write!(
                f,
                "the trust data of {repo} has expired and this machine has no verified copy to check it \
                 against: read what you sign; nothing is published from here"
            ),
            Notice::ArtifactUnreadable => {
                f.write_str("the trust artifact in the store does not parse; its versions are ignored")
            }
        }
    }
}

impl Trust {
    /// A trust layer at `dir` whose notices go to `notify`.
    pub fn new(dir: PathBuf, offline: bool, notify: Notify) -> Trust {
        Trust {
            dir,
            offline,
            notify,
            limits: crate::tuf::Limits::default(),
            clock: time::OffsetDateTime::now_utc,
        }
    }

    /// Now, by this trust layer's clock.
    pub fn now(&self) -> time::OffsetDateTime {
        (self.clock)()
    }

    /// Tells the caller.
    pub(crate) fn notice(&self, notice: Notice) {
        (self.notify)(&notice);
    }

    /// Creates the trust directory (0700) if this machine has none yet,
    /// and refuses one that others may read: it holds the pins and what
    /// was verified.
    pub fn ensure_dir(&self) -> Result<(), TrustError> {
        Ok(vouch_keys::TrustDir::at(self.dir.clone()).ensure()?)
    }
}
