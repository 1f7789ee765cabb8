//! Typed errors of the TUF core. Each carries the role and what was
//! expected; crypto failures stay terse.

use std::fmt;

/// Why metadata or a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TufError {
    /// Not valid JSON, or not the shape TUF defines.
    #[error("{role} metadata is malformed: {reason}")]
    Malformed {
        /// Role name.
        role: String,
        /// What is wrong.
        reason: String,
    },
    /// Larger than the limit for the role.
    #[error("{role} metadata is larger than the limit of {limit} bytes")]
    TooLarge {
        /// Role name.
        role: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// Fewer valid signatures from authorised keys than the threshold.
    #[error(
        "{role} version {version}: {valid} valid signature(s) from authorised keys, threshold is {threshold}"
    )]
    ThresholdNotMet {
        /// Role name.
        role: String,
        /// Version of the refused metadata.
        version: u64,
        /// Distinct authorised keys with a valid signature.
        valid: usize,
        /// The threshold.
        threshold: u64,
    },
    /// A version lower than the trusted one (or not exactly N+1 for root).
    #[error("rollback attack: {role} version {got} is not allowed after trusted version {trusted}")]
    Rollback {
        /// Role name.
        role: String,
        /// The trusted version.
        trusted: u64,
        /// The version offered.
        got: u64,
    },
    /// A snapshot that does not descend from the one this machine
    /// verified (`history`): built on other data.
    #[error(
        "fork: the store serves {got}, which does not descend from {trusted}, verified here before; someone built on other trust data"
    )]
    Fork {
        /// The state this machine verified.
        trusted: String,
        /// The state served.
        got: String,
    },
    /// A signatures array that names one key id twice: the metadata is
    /// invalid, whatever the other signatures say.
    #[error("{role} version {version} is invalid: key {keyid} is listed twice in its signatures")]
    DuplicateSignature {
        /// Role name.
        role: String,
        /// Version of the refused metadata.
        version: u64,
        /// The repeated key id.
        keyid: String,
    },
    /// A key listed under an id that is not the hash of the key.
    #[error("{role} metadata lists a key under id {keyid}, which is not that key's id")]
    KeyIdMismatch {
        /// The role whose key list holds the key.
        role: String,
        /// The id as listed.
        keyid: String,
    },
    /// A signature by an authorised key that does not verify: the
    /// content was changed after it was signed (writers refuse this).
    #[error(
        "{role} version {version} was changed after key {keyid} signed it: its signature does not verify"
    )]
    InvalidSignature {
        /// Role name.
        role: String,
        /// Version.
        version: u64,
        /// The key whose signature fails.
        keyid: String,
    },
    /// Content that no authorised key signed (writers refuse this).
    #[error("{role} version {version} lists content that none of its keys signed")]
    Unsigned {
        /// Role name.
        role: String,
        /// Version.
        version: u64,
    },
    /// Expired metadata (a freeze attack, or a repository not maintained).
    #[error("freeze attack or stale repository: {role} version {version} expired at {expires}")]
    Expired {
        /// Role name.
        role: String,
        /// Version.
        version: u64,
        /// When it expired (RFC 3339).
        expires: String,
    },
    /// A version different from what the referring role lists.
    #[error("mix-and-match: {role} version {got} does not match version {expected} listed in {by}")]
    VersionMismatch {
        /// Role name.
        role: String,
        /// The listing role.
        by: String,
        /// Version listed.
        expected: u64,
        /// Version received.
        got: u64,
    },
    /// Bytes whose hash or length differ from what the referring role lists.
    #[error("{what} does not match the {field} listed in {by}")]
    HashMismatch {
        /// The metadata file or target.
        what: String,
        /// The listing role.
        by: String,
        /// "length" or the hash algorithm.
        field: String,
    },
    /// A role that snapshot (or timestamp) does not list.
    #[error("{role} is not listed in {by}")]
    NotListed {
        /// Role name.
        role: String,
        /// The listing role.
        by: String,
    },
    /// A role that was listed before and no longer is.
    #[error("rollback attack: {role} was listed in the trusted snapshot and is missing from the new one")]
    RoleRemoved {
        /// Role name.
        role: String,
    },
    /// A search limit was reached.
    #[error("limit reached: {what} (limit {limit})")]
    LimitReached {
        /// Which limit.
        what: &'static str,
        /// Its value.
        limit: u64,
    },
    /// A target name that could escape the target directory or is not a
    /// valid TUF target path.
    #[error("target path {path:?} is not allowed: {reason}")]
    BadTargetPath {
        /// The path.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// The client has no trusted metadata of a role that is needed.
    #[error("no trusted {role} metadata; {needed}")]
    Missing {
        /// Role name.
        role: String,
        /// What the caller should do.
        needed: &'static str,
    },
}

impl TufError {
    pub(crate) fn malformed(role: impl fmt::Display, reason: impl fmt::Display) -> Self {
        TufError::Malformed {
            role: role.to_string(),
            reason: reason.to_string(),
        }
    }

    /// A one-word name of the failure, for callers that map errors to exit
    /// codes or messages.
    pub fn kind(&self) -> &'static str {
        match self {
            TufError::Malformed { .. } => "malformed",
            TufError::TooLarge { .. } => "too large",
            TufError::ThresholdNotMet { .. } => "signature",
            TufError::Rollback { .. } | TufError::RoleRemoved { .. } => "rollback",
            TufError::Fork { .. } => "fork",
            TufError::DuplicateSignature { .. } => "duplicate signature",
            TufError::KeyIdMismatch { .. } => "key id mismatch",
            TufError::InvalidSignature { .. } | TufError::Unsigned { .. } => "tampered",
            TufError::Expired { .. } => "expired",
            TufError::VersionMismatch { .. } | TufError::HashMismatch { .. } => "mismatch",
            TufError::NotListed { .. } => "not listed",
            TufError::LimitReached { .. } => "limit",
            TufError::BadTargetPath { .. } => "bad target path",
            TufError::Missing { .. } => "missing",
        }
    }
}
