//! What the trust layer says when it says no, or cannot decide. Each error
//! knows whether it is a refusal (a definite "no": exit 1) or a failure to
//! decide (exit 2), and what the user should do next.

use crate::notary::NotaryError;
use crate::policy::PolicyError;
use crate::store::{FetchError, StoreError};
use crate::tuf::TufError;

/// Why the trust layer refused, or could not decide.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// No pin names the repository's root keys, and trust on first use
    /// was not asked for.
    #[error("{repo} is not pinned: vouch does not trust a root on first use")]
    NotPinned {
        /// The repository.
        repo: String,
        /// The root key ids its trust data names (to check with the publisher).
        root_keys: Vec<String>,
    },
    /// The trust data's first root does not carry the pin's threshold of
    /// signatures from pinned keys.
    #[error("{repo}: its root is not signed by the pinned root keys ({reason})")]
    PinNotMet {
        /// The repository.
        repo: String,
        /// What was missing.
        reason: String,
    },
    /// The repository has no trust data at all.
    #[error("{repo} has no trust data: nothing in it is signed")]
    NoTrustData {
        /// The repository.
        repo: String,
    },
    /// A writer found no trust data to change.
    #[error("{repo} has no trust data")]
    NotInitialised {
        /// The repository.
        repo: String,
    },
    /// `init` on a repository that already has trust data.
    #[error("{repo} already has trust data")]
    AlreadyInitialised {
        /// The repository.
        repo: String,
    },
    /// Trust data that failed verification.
    #[error("the trust data of {repo} was refused: {source}")]
    Refused {
        /// The repository.
        repo: String,
        /// The TUF refusal.
        #[source]
        source: TufError,
    },
    /// A writer found trust data that does not verify, and publishes
    /// nothing over it.
    #[error("the trust data of {repo} does not verify, so nothing was published: {source}")]
    Tampered {
        /// The repository.
        repo: String,
        /// What does not verify.
        #[source]
        source: TufError,
    },
    /// A writer found expired trust data and has no verified copy of its
    /// own to check that it is not an old state served again.
    #[error(
        "the trust data of {repo} has expired and this machine has no verified copy to check it against, so nothing was published: {source}"
    )]
    ExpiredUnchecked {
        /// The repository.
        repo: String,
        /// The expiry refusal.
        #[source]
        source: TufError,
    },
    /// A staged change that cannot be approved or published.
    #[error("staged change {id} was refused: {why}")]
    StagedRefused {
        /// The change.
        id: String,
        /// Why.
        why: String,
        /// What to do.
        hint: &'static str,
    },
    /// A writer was served trust data whose timestamp has expired.
    #[error(
        "the trust data of {repo} has a timestamp that expired at {expires}; nothing is built on expired trust data (it may be an older state served again), so nothing was published"
    )]
    ExpiredState {
        /// The repository.
        repo: String,
        /// When the timestamp expired.
        expires: String,
    },
    /// Notary v1 trust data that failed the Notary client's checks.
    #[error("the Notary trust data of {gun} was refused: {source}")]
    NotaryRefused {
        /// The GUN.
        gun: String,
        /// The refusal.
        #[source]
        source: crate::notary::NotaryError,
    },
    /// The Notary server has no trust data for the GUN (or is not its
    /// Notary server).
    #[error("{gun} has no Docker Content Trust data on {url}")]
    NoNotaryData {
        /// The GUN.
        gun: String,
        /// The server asked.
        url: String,
    },
    /// The trust artifact lacks a file its metadata names.
    #[error("the trust data of {repo} is incomplete: {what} is missing")]
    Incomplete {
        /// The repository.
        repo: String,
        /// The missing file.
        what: String,
    },
    /// The tag has no signed target in the role that holds tags.
    #[error("{repo}:{tag} is not signed{}", if holder == "targets" { String::new() } else { format!(" in {holder}") })]
    NotSigned {
        /// The repository.
        repo: String,
        /// The tag.
        tag: String,
        /// The role tags resolve through.
        holder: String,
    },
    /// The store's tag points at another manifest than the signed one.
    #[error("digest mismatch: {repo}:{tag} is {current}, but its trust data signs {trusted}")]
    DigestMismatch {
        /// The repository.
        repo: String,
        /// The tag.
        tag: String,
        /// What the store says.
        current: String,
        /// What the trust data signs.
        trusted: String,
    },
    /// A digest no signed tag maps to.
    #[error("{repo}@{digest} is not a signed target: no signed tag maps to it")]
    DigestNotSigned {
        /// The repository.
        repo: String,
        /// The digest.
        digest: String,
    },
    /// A tag neither the store has nor trust data signs (a typo, most
    /// likely).
    #[error("no such tag: {repo} has no tag {tag}")]
    NoSuchTag {
        /// The repository.
        repo: String,
        /// The tag.
        tag: String,
    },
    /// A signed tag the store does not have.
    #[error("{repo} has no tag {tag}")]
    TagNotInStore {
        /// The repository.
        repo: String,
        /// The tag.
        tag: String,
    },
    /// The image or trust store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Fetching trust data failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The trust directory could not be used.
    #[error("{path}: {source}")]
    Local {
        /// Where.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The policy file could not be read or written.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// `--offline` without cached trust data.
    #[error("no cached trust data for {repo}")]
    NoCache {
        /// The repository.
        repo: String,
    },
    /// The key manager failed (a missing key, a wrong passphrase).
    #[error(transparent)]
    Key(#[from] vouch_keys::KeyError),
    /// Too many concurrent writers.
    #[error("{repo}: gave up after {attempts} concurrent updates")]
    Contended {
        /// The repository.
        repo: String,
        /// Attempts made.
        attempts: usize,
    },
    /// A publish whose result could not be read back from the store.
    #[error("{repo}: published, but could not confirm that the registry kept it: {detail}")]
    Unconfirmed {
        /// The repository.
        repo: String,
        /// Why not.
        detail: String,
    },
    /// A signer of that name is already delegated to.
    #[error("{repo} already has a signer {name}")]
    SignerExists {
        /// The repository.
        repo: String,
        /// The signer's name.
        name: String,
    },
    /// A name a signer role cannot take.
    #[error("{name:?} is not a signer name")]
    BadSignerName {
        /// The name given.
        name: String,
    },
    /// The repository delegates to no signer.
    #[error("{repo} has no signers")]
    NoSigners {
        /// The repository.
        repo: String,
    },
    /// No signer of that name.
    #[error("{repo} has no signer {name}")]
    NoSuchSigner {
        /// The repository.
        repo: String,
        /// The name given.
        name: String,
    },
    /// A threshold the signers' keys could never meet.
    #[error("{role} of {repo} has {keys} signer key(s): a threshold of {threshold} could never be met")]
    ThresholdUnmeetable {
        /// The repository.
        repo: String,
        /// The role (`targets/releases`).
        role: String,
        /// Keys it has.
        keys: usize,
        /// The threshold asked for.
        threshold: u64,
    },
    /// None of the keys a role needs is in the trust directory.
    #[error("no key of {repo}'s {role} role is in {dir} (it needs one of: {})", needs.join(", "))]
    KeyNotHere {
        /// The repository.
        repo: String,
        /// The role.
        role: String,
        /// The trust directory.
        dir: String,
        /// The ids it would take (shortened).
        needs: Vec<String>,
    },
    /// An invariant vouch keeps did not hold: a bug in vouch, never the
    /// user's input or the store's content.
    #[error("internal error: {what}")]
    Bug {
        /// What went wrong.
        what: String,
    },
    /// The metadata editor refused a change (a tag that is no target
    /// path, a role that does not exist, a threshold out of range).
    #[error("{source}")]
    EditRefused {
        /// What the editor said.
        source: crate::tuf::editor::EditError,
        /// What to do.
        hint: &'static str,
    },
    /// Nothing to revoke: no role lists the tag (or any tag).
    #[error("{what} has no signed tag to revoke")]
    NothingToRevoke {
        /// `REPO` or `REPO:TAG`.
        what: String,
    },
    /// A role lists the tag to revoke and no key here may sign it.
    #[error("{what}: no key in this trust directory may sign {role}, which lists it")]
    NoKeyToRevoke {
        /// `REPO` or `REPO:TAG`.
        what: String,
        /// The role that lists it.
        role: String,
    },
    /// `--signer` was given for a repository without signers.
    #[error("{repo} has no signers: --signer does not apply")]
    SignerFlagWithoutSigners {
        /// The repository.
        repo: String,
    },
    /// The repository has signers and none of their keys is here.
    #[error("{repo} has signers (targets/releases) and none of their keys is in this trust directory")]
    NoSignerKeyHere {
        /// The repository.
        repo: String,
    },
    /// A key the verified metadata does not authorise for the role.
    #[error("key {key} is not a key of {repo}'s {role} role")]
    KeyNotAuthorised {
        /// The key id (shortened).
        key: String,
        /// The repository.
        repo: String,
        /// The role.
        role: String,
    },
    /// The repository is pinned here to other root keys than a new
    /// repository's: nothing was published over it.
    #[error("{repo} is pinned here to other root keys; nothing was published")]
    PinnedToOtherKeys {
        /// The repository.
        repo: String,
    },
    /// Another writer created the repository first.
    #[error("another writer initialised {repo} at the same time")]
    InitialisedElsewhere {
        /// The repository.
        repo: String,
    },
    /// `vouch key rotate --compromised` cannot rebuild what it was asked to.
    #[error("{0}")]
    Rebuild(Rebuild),
    /// An edit that cannot be made (a usage error), with what to do.
    #[error("{message}")]
    Edit {
        /// What is wrong.
        message: String,
        /// What to do.
        hint: String,
    },
}

impl TrustError {
    /// A broken invariant (see [`TrustError::Bug`]).
    pub fn bug(what: impl std::fmt::Display) -> TrustError {
        TrustError::Bug {
            what: what.to_string(),
        }
    }

    /// An edit that cannot be made.
    pub fn edit(message: impl Into<String>, hint: impl Into<String>) -> TrustError {
        TrustError::Edit {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub(crate) fn local(path: &std::path::Path) -> impl Fn(std::io::Error) -> TrustError + '_ {
        move |source| TrustError::Local {
            path: path.display().to_string(),
            source,
        }
    }

    /// Whether this is a definite "no" (exit 1) rather than a failure to
    /// decide (exit 2).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            TrustError::NotPinned { .. }
                | TrustError::PinNotMet { .. }
                | TrustError::NoTrustData { .. }
                | TrustError::Refused { .. }
                | TrustError::Tampered { .. }
                | TrustError::ExpiredUnchecked { .. }
                | TrustError::ExpiredState { .. }
                | TrustError::StagedRefused { .. }
                | TrustError::NotaryRefused { .. }
                | TrustError::NoNotaryData { .. }
                | TrustError::Incomplete { .. }
                | TrustError::NotSigned { .. }
                | TrustError::DigestMismatch { .. }
                | TrustError::DigestNotSigned { .. }
                | TrustError::TagNotInStore { .. }
                | TrustError::NoSuchTag { .. }
        )
    }

    /// What the user should do next.
    pub fn hint(&self) -> String {
        match self {
            TrustError::NotPinned { repo, root_keys } => format!(
                "check the root key with the publisher, then: vouch pin {repo} {}  (or pass --tofu)",
                root_keys.join(" ")
            ),
            TrustError::PinNotMet { .. } => "the repository's root changed or its trust data was replaced; \
                 check the root key ids with the publisher before changing the pin"
                .to_owned(),
            TrustError::NoTrustData { repo } => {
                format!("the publisher runs `vouch init {repo}` and `vouch sign`")
            }
            TrustError::NotInitialised { repo } => format!("run `vouch init {repo}` first"),
            TrustError::AlreadyInitialised { .. } => {
                "`vouch inspect` shows it; signing needs its keys in this trust directory (a root threshold \
                 lost or stolen: `vouch init REPO --replace`, README \"Keys over time\")"
                    .to_owned()
            }
            TrustError::Refused { source, .. } => match source {
                TufError::Rollback { .. } | TufError::RoleRemoved { .. } => {
                    "the store served older trust data than this machine has verified: do not \
                               deploy from it"
                        .to_owned()
                }
                TufError::Expired { role, .. } => format!(
                    "the publisher must re-sign it (`{}`); do not deploy until then",
                    crate::trust::expiry::renew_command(
                        match self {
                            TrustError::Refused { repo, .. } => repo,
                            _ => "REPO",
                        },
                        role
                    )
                ),
                TufError::Fork { .. } => "two lines of trust data exist: a publisher built on an older \
                     state (or the store was rolled back and signed over). Do not deploy from it; the \
                     publishers agree which line is right, and the one who holds it runs `vouch recover`"
                    .to_owned(),
                TufError::ThresholdNotMet { .. } => {
                    "not enough valid signatures: do not deploy it; signers add theirs with \
                                `vouch sign`"
                        .to_owned()
                }
                _ => "the trust data is not trustworthy: do not deploy from it".to_owned(),
            },
            TrustError::Tampered {
                source: TufError::Fork { .. },
                ..
            } => "two lines of trust data exist: a publisher built on an older state (or the store \
                  was rolled back and signed over), and nothing is built on either until the \
                  publishers agree which is right; the one who holds it runs `vouch recover`"
                .to_owned(),
            TrustError::Tampered { repo, .. } => format!(
                "someone without a key changed the trust data in the store; `vouch recover {repo}` \
                 republishes the last trust data this machine verified"
            ),
            TrustError::ExpiredUnchecked { repo, .. } => format!(
                "run `vouch refresh {repo}` on the machine that published last (it keeps a verified copy); \
                 re-signing an expired state checked against nothing could bring back an old one"
            ),
            TrustError::StagedRefused { hint, .. } => (*hint).to_owned(),
            TrustError::ExpiredState { repo, .. } => format!(
                "if this is the state last published, `vouch refresh {repo}` renews it (checked against \
                 what this machine verified); then retry"
            ),
            TrustError::NotaryRefused { source, .. } => match source {
                NotaryError::Rollback { .. } => {
                    "the Notary server served older trust data than this machine verified: do not deploy \
                               from it"
                        .to_owned()
                }
                NotaryError::Expired { .. } => {
                    "the Notary data has expired; re-sign it, or migrate it with `vouch migrate` while \
                              it still verifies"
                        .to_owned()
                }
                NotaryError::Certificate { .. } => {
                    "the root certificate is not for this repository (its common name must be the \
                                  GUN) or is not valid now"
                        .to_owned()
                }
                _ => "the Notary trust data is not trustworthy: do not deploy from it".to_owned(),
            },
            TrustError::NoNotaryData { .. } => "nothing of it is signed there; check --notary-server (or \
                 DOCKER_CONTENT_TRUST_SERVER): the default is https://REGISTRY"
                .to_owned(),
            TrustError::Incomplete { .. } => {
                "the trust artifact is damaged: do not deploy from it; the publisher runs `vouch recover`"
                    .to_owned()
            }
            TrustError::NotSigned { repo, tag, .. } => {
                format!("the publisher signs it with `vouch sign {repo}:{tag}`; do not deploy it unsigned")
            }
            TrustError::DigestMismatch { .. } => {
                "the tag was moved or tampered with after signing; do not deploy it".to_owned()
            }
            TrustError::DigestNotSigned { .. } => {
                "only digests that trust data maps a tag to are allowed".to_owned()
            }
            TrustError::TagNotInStore { .. } => "the tag is signed but not in the store".to_owned(),
            TrustError::NoSuchTag { repo, .. } => {
                format!(
                    "check the tag: `vouch inspect {repo}` lists the signed tags; push or tag an image before signing it"
                )
            }
            TrustError::Store(e) => e.hint(),
            TrustError::Fetch(_) => "check the image store and try again; nothing was decided".to_owned(),
            TrustError::Local { .. } => "check the trust directory (--trust-dir, VOUCH_TRUST_DIR)".to_owned(),
            TrustError::Policy(_) => "fix or remove the policy file".to_owned(),
            TrustError::NoCache { .. } => {
                "verify once online; --offline then uses what that verification kept".to_owned()
            }
            TrustError::Key(_) => {
                "`vouch key list` shows the keys here; passphrases come from the environment, \
                 --passphrase-file, --passphrase-stdin or the terminal"
                    .to_owned()
            }
            TrustError::Contended { .. } => "try again".to_owned(),
            TrustError::Unconfirmed { .. } => {
                "run the command again (it is safe to repeat), then `vouch verify` the tags".to_owned()
            }
            TrustError::SignerExists { .. } => "remove it first, or choose another name".to_owned(),
            TrustError::BadSignerName { .. } => {
                "use letters, digits, '-' and '_' (and not \"releases\")".to_owned()
            }
            TrustError::NoSigners { .. } => "`vouch signer add` adds the first".to_owned(),
            TrustError::NoSuchSigner { .. } => "`vouch inspect` lists the roles".to_owned(),
            TrustError::ThresholdUnmeetable { .. } => {
                "give a threshold from 1 to the number of signers, or add signers first".to_owned()
            }
            TrustError::KeyNotHere { .. } => {
                "`vouch key import` adds the repository's keys; `vouch key list` shows what is here"
                    .to_owned()
            }
            TrustError::Bug { .. } => {
                "this is a bug in vouch, not in your data: please report it with the command that hit it"
                    .to_owned()
            }
            TrustError::EditRefused { hint, .. } => (*hint).to_owned(),
            TrustError::NothingToRevoke { .. } => "`vouch inspect` lists the signed tags".to_owned(),
            TrustError::NoKeyToRevoke { .. } => {
                "revoke it where a key of that role is held (`vouch inspect` lists the role keys)".to_owned()
            }
            TrustError::Rebuild(r) => r.hint().to_owned(),
            TrustError::SignerFlagWithoutSigners { .. } => {
                "`vouch signer add` adds signers; without them the targets key signs".to_owned()
            }
            TrustError::NoSignerKeyHere { .. } => {
                "import your signer key (`vouch key import`), or check --signer".to_owned()
            }
            TrustError::KeyNotAuthorised { .. } => {
                "`vouch inspect` lists the role keys; use the repository's own key".to_owned()
            }
            TrustError::PinnedToOtherKeys { .. } => {
                "check the root key ids with the other holders, then `vouch pin REPO IDS… --replace`"
                    .to_owned()
            }
            TrustError::InitialisedElsewhere { .. } => {
                "`vouch inspect` shows the trust data that won".to_owned()
            }
            TrustError::Edit { hint, .. } => hint.clone(),
        }
    }
}

/// Why a recovery from a compromised targets key (`vouch key rotate
/// --compromised`) cannot rebuild targets from this machine's record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rebuild {
    /// A signer's role was named: its signers sign it, not the record.
    #[error(
        "--compromised rebuilds targets from this machine's record; {role} is a signer's role, signed by signers"
    )]
    SignerRole {
        /// The role named.
        role: String,
    },
    /// This machine never recorded a publish of the repository.
    #[error("this machine has no record of what it published for {repo} ({record})")]
    NoRecord {
        /// The repository.
        repo: String,
        /// Where the record would be.
        record: String,
    },
    /// The record holds no change of targets made on this machine.
    #[error("this machine's record holds no change of targets made here")]
    NotMadeHere,
    /// The hashed bins served are not the ones this machine made.
    #[error("targets' hashed bins are not as this machine made them")]
    OtherBins,
    /// A role the record delegates to is not served any more.
    #[error("{role}, which targets delegated to as this machine made it, is not served any more")]
    RoleGone {
        /// The role.
        role: String,
    },
}

impl Rebuild {
    /// What to do instead.
    pub fn hint(&self) -> &'static str {
        match self {
            Rebuild::SignerRole { .. } => {
                "replace the signer's key with `vouch key rotate REPO NAME` (without --compromised), check the staged \
                 diff before approving, and revoke the thief's tags (`vouch revoke`), or `vouch signer remove`"
            }
            Rebuild::NoRecord { .. } => {
                "run the recovery on the machine that published the repository's targets"
            }
            Rebuild::NotMadeHere => {
                "run the recovery on the machine that signed the repository's targets (the owner's)"
            }
            Rebuild::OtherBins => "rebuild by hand: `vouch inspect` shows the trust data served",
            Rebuild::RoleGone { .. } => {
                "rebuild by hand: `vouch inspect` shows the trust data served; `vouch signer add` makes a signer again"
            }
        }
    }
}
