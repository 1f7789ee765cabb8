//! vouch's key manager: signing keys and the secrets that protect them.
//!
//! Scope: generating and importing keys, sealing them at rest (encrypted
//! PKCS#8 with scrypt), the trust directory that holds them, where
//! passphrases come from, and an optional OS keyring cache. Nothing about
//! TUF metadata, registries or policy lives here.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod import;
pub mod keyfile;
pub mod keyring;
pub mod passphrase;
pub mod pem;
pub mod sealed;
pub mod secret;
pub mod trust_dir;
mod unlock;

pub use error::{KeyError, Result};
pub use keyfile::{KeyFile, KeyInfo, Role, RoleClass};
pub use secret::{KeyAlgorithm, KeyId, Passphrase, PrivateKey, PublicKey};
pub use trust_dir::{StoredKey, TrustDir};
pub use unlock::{describe_key, unlock};
