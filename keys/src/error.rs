//! Errors of the key manager. Each variant carries what a person needs to
//! act on it, and never a secret.

use std::path::PathBuf;

use crate::KeyId;

/// Everything that can go wrong while handling keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The passphrase did not decrypt the key (or the ciphertext is damaged).
    #[error("wrong passphrase for {what}")]
    WrongPassphrase {
        /// Which key or file was being unlocked.
        what: String,
    },
    /// A passphrase was needed and no source could provide one.
    #[error(
        "no passphrase for {what}: no environment variable, file or stdin was given and there is no terminal to ask on"
    )]
    NoPassphrase {
        /// Which key or file needed it.
        what: String,
        /// Environment variables that would have been read, in order.
        env_vars: Vec<&'static str>,
    },
    /// A passphrase was needed, none of the given sources had it, and
    /// prompting on the terminal was switched off (`--non-interactive`).
    #[error(
        "no passphrase for {what}: --non-interactive (or VOUCH_NON_INTERACTIVE) forbids asking on this terminal, and no environment variable, file or stdin gave one"
    )]
    PromptsForbidden {
        /// Which key or file needed it.
        what: String,
        /// Environment variables that would have been read, in order.
        env_vars: Vec<&'static str>,
    },
    /// An empty passphrase was given where a new one is being set.
    #[error("refusing an empty passphrase for {what}")]
    EmptyPassphrase {
        /// Which key is being created or re-encrypted.
        what: String,
    },
    /// A new passphrase shorter than [`crate::passphrase::MIN_NEW_PASSPHRASE`]
    /// characters, where short ones were not allowed.
    #[error("refusing a passphrase shorter than {min} characters for {what}")]
    ShortPassphrase {
        /// Which key is being created or re-encrypted.
        what: String,
        /// The least length accepted.
        min: usize,
    },
    /// The two entries of a new passphrase differ.
    #[error("the passphrases did not match")]
    PassphraseMismatch,
    /// The file is not PEM at all.
    #[error("{path} is not a PEM key file")]
    NotPem {
        /// The file.
        path: String,
    },
    /// PEM with a label we do not read as a private key.
    #[error("{path} holds a PEM `{label}` block, not a private key")]
    WrongLabel {
        /// The file.
        path: String,
        /// The label found.
        label: String,
    },
    /// A public key or certificate was offered where a private key is needed.
    #[error("{path} holds a public key (`{label}`); importing needs the private key")]
    PublicKeyOnly {
        /// The file.
        path: String,
        /// The label found.
        label: String,
    },
    /// The file is PEM but its contents are damaged or truncated.
    #[error("{path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong, without secret material.
        reason: String,
    },
    /// The key derivation cost recorded in the file is above what we accept.
    #[error("{path} asks for a key derivation cost above the cap ({cost}; the cap is {cap})")]
    KdfCostTooHigh {
        /// The file.
        path: String,
        /// The cost found, described.
        cost: String,
        /// The cap, described.
        cap: String,
    },
    /// The key algorithm or encryption scheme is not one we handle.
    #[error("{path}: unsupported {what}")]
    Unsupported {
        /// The file.
        path: String,
        /// What is unsupported.
        what: String,
    },
    /// No key matched a selector.
    #[error("no key matches `{selector}`")]
    NotFound {
        /// What the user typed.
        selector: String,
    },
    /// More than one key matched a selector.
    #[error("`{selector}` matches more than one key: {}", candidates.iter().map(|k| k.short()).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        /// What the user typed.
        selector: String,
        /// The keys it matched.
        candidates: Vec<KeyId>,
    },
    /// A key with this id is already stored.
    #[error("key {id} is already in the trust directory")]
    DuplicateKey {
        /// The key id.
        id: KeyId,
    },
    /// A key with this name is already stored.
    #[error("a key named `{name}` already exists ({id})")]
    DuplicateName {
        /// The name.
        name: String,
        /// The key holding it.
        id: KeyId,
    },
    /// A key name, role or repository is not acceptable.
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidName {
        /// name, role or repository
        what: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A directory or file is open to group or other users.
    #[error("{path} is accessible by other users (mode {mode:o})")]
    InsecurePermissions {
        /// The path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// File-system trouble.
    #[error("{action} {path}: {source}")]
    Io {
        /// What we were doing.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The OS keyring could not be used.
    #[error("OS keyring unavailable: {reason}")]
    KeyringUnavailable {
        /// Why, in one line.
        reason: String,
    },
}

impl KeyError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        KeyError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: &str, reason: impl Into<String>) -> Self {
        KeyError::Corrupt {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Result alias for the key manager.
pub type Result<T, E = KeyError> = std::result::Result<T, E>;
