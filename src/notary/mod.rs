//! Notary v1 (Docker Content Trust) trust data, read and verified sans-IO:
//! bytes and a time in, decisions out. The server adapter is
//! `crate::store::notary_server`; the trust layer
//! (`crate::trust::notary_reader`) pins, caches and fetches.

pub mod format;
pub mod notary_set;
pub mod signatures;

pub use notary_set::{NotaryLimits, NotarySet, RELEASES};

/// Why Notary metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotaryError {
    /// Not the shape Notary writes.
    #[error("Notary {role} metadata is malformed: {reason}")]
    Malformed {
        /// Role.
        role: String,
        /// Why.
        reason: String,
    },
    /// Larger than allowed.
    #[error("Notary {role} metadata is larger than the limit of {limit} bytes")]
    TooLarge {
        /// Role.
        role: String,
        /// Limit.
        limit: u64,
    },
    /// Too few valid signatures.
    #[error(
        "Notary {role} version {version}: {valid} valid signature(s) from authorised keys, threshold is {threshold}"
    )]
    ThresholdNotMet {
        /// Role.
        role: String,
        /// Version.
        version: u64,
        /// Valid signatures from distinct keys.
        valid: usize,
        /// Threshold.
        threshold: u64,
    },
    /// One key id twice in a signatures array.
    #[error("Notary {role} metadata is invalid: key {keyid} is listed twice in its signatures")]
    DuplicateSignature {
        /// Role.
        role: String,
        /// Key id.
        keyid: String,
    },
    /// A key listed under an id that is not its hash.
    #[error("Notary {role} metadata lists a key under id {keyid}, which is not that key's id")]
    KeyIdMismatch {
        /// Role.
        role: String,
        /// Key id.
        keyid: String,
    },
    /// No root certificate valid for the GUN.
    #[error("Notary root certificate refused: {reason}")]
    Certificate {
        /// Why.
        reason: String,
    },
    /// Older than what this client trusts.
    #[error("rollback attack: Notary {role} version {got} is older than trusted version {trusted}")]
    Rollback {
        /// Role.
        role: String,
        /// Trusted version.
        trusted: u64,
        /// Offered version.
        got: u64,
    },
    /// Expired.
    #[error("freeze attack or stale repository: Notary {role} version {version} expired at {expires}")]
    Expired {
        /// Role.
        role: String,
        /// Version.
        version: u64,
        /// When.
        expires: String,
    },
    /// Bytes that differ from what the listing role says.
    #[error("Notary {what} does not match the {field} listed in {by}")]
    HashMismatch {
        /// What.
        what: String,
        /// Listing role.
        by: String,
        /// Length or hash algorithm.
        field: String,
    },
    /// Not listed where it must be.
    #[error("Notary {role} is not listed in {by}")]
    NotListed {
        /// Role.
        role: String,
        /// Listing role.
        by: String,
    },
    /// Snapshot lists another root than the trusted one: fetch it first.
    #[error("Notary snapshot lists a root other than the trusted one")]
    RootChanged,
    /// A role that is needed is not loaded.
    #[error("no trusted Notary {role} metadata")]
    Missing {
        /// Role.
        role: String,
    },
    /// A role name Notary does not allow.
    #[error("{name:?} is not a valid Notary delegation name")]
    BadRoleName {
        /// The name.
        name: String,
    },
}

impl NotaryError {
    /// A one-word name of the failure.
    pub fn kind(&self) -> &'static str {
        match self {
            NotaryError::Malformed { .. } | NotaryError::BadRoleName { .. } => "malformed",
            NotaryError::TooLarge { .. } => "too large",
            NotaryError::ThresholdNotMet { .. } => "signature",
            NotaryError::DuplicateSignature { .. } => "duplicate signature",
            NotaryError::KeyIdMismatch { .. } => "key id mismatch",
            NotaryError::Certificate { .. } => "certificate",
            NotaryError::Rollback { .. } => "rollback",
            NotaryError::Expired { .. } => "expired",
            NotaryError::HashMismatch { .. } => "mismatch",
            NotaryError::NotListed { .. } => "not listed",
            NotaryError::RootChanged => "root changed",
            NotaryError::Missing { .. } => "missing",
        }
    }

    /// Whether notary skips a delegation that fails this way (instead of
    /// ending the update).
    pub fn skips_delegation(&self) -> bool {
        matches!(
            self,
            NotaryError::Expired { .. } | NotaryError::ThresholdNotMet { .. }
        )
    }
}
