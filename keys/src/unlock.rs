//! Unlocking a sealed key with passphrases from a provider.

use crate::error::{KeyError, Result};
use crate::keyfile::{KeyInfo, RoleClass};
use crate::passphrase::{Obtained, PassphraseProvider, Purpose, Request};
use crate::sealed::{self, KdfCap};
use crate::secret::{KeyId, PrivateKey};
use crate::trust_dir::StoredKey;

/// Most passphrases tried for one key in one run (a terminal gets three).
const MAX_ATTEMPTS: usize = 5;

/// How a key is named in prompts and messages: `key 3f5c2a1b9c0d (alice, role targets)`.
pub fn describe_key(info: &KeyInfo) -> String {
    format!("key {} ({}, role {})", info.id.short(), info.name, info.role)
}

/// Decrypts `sealed` (DER) asking `provider` for passphrases. The KDF cost
/// is checked against `cap` before any passphrase is asked for.
pub(crate) fn open_with(
    provider: &mut dyn PassphraseProvider,
    what: &str,
    class: RoleClass,
    key_id: Option<&KeyId>,
    der: &[u8],
    path: &str,
) -> Result<(PrivateKey, Obtained)> {
    let cap = KdfCap::DEFAULT;
    sealed::check(der, &cap, path)?;
    let req = Request {
        purpose: Purpose::Unlock,
        what,
        class,
        key_id,
    };
    let mut rejected = None;
    for _ in 0..MAX_ATTEMPTS {
        let got = provider.obtain(&req, rejected.as_ref())?;
        match sealed::open(der, &got.passphrase, &cap, path) {
            Ok(key) => return Ok((key, got)),
            Err(KeyError::WrongPassphrase { .. }) => rejected = Some(got.source),
            Err(e) => return Err(e),
        }
    }
    Err(KeyError::WrongPassphrase {
        what: what.to_owned(),
    })
}

/// Unlocks a stored key and checks it is the key its file describes.
pub fn unlock(stored: &StoredKey, provider: &mut dyn PassphraseProvider) -> Result<(PrivateKey, Obtained)> {
    let info = &stored.file.info;
    let what = describe_key(info);
    let path = stored.path.display().to_string();
    let (key, got) = open_with(
        provider,
        &what,
        info.role.class(),
        Some(&info.id),
        &stored.file.sealed,
        &path,
    )
    .map_err(|e| match e {
        KeyError::WrongPassphrase { .. } => KeyError::WrongPassphrase { what: what.clone() },
        other => other,
    })?;
    stored.file.check_matches(&key, &path)?;
    Ok((key, got))
}
