//! An opt-in cache of passphrases in the OS keyring.
//!
//! `vouch key unlock KEYID --remember 15m` stores the passphrase under the
//! service `vouch` and the key id, with its expiry stored beside it; reads
//! after the expiry delete the entry. The D-Bus secret service is tried
//! first, then the Linux kernel keyutils session keyring. Where neither
//! works (headless, no D-Bus, no session keyring) the cache is simply not
//! there and callers fall back to their other passphrase sources.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error::{KeyError, Result};
use crate::secret::{KeyId, Passphrase};

const SERVICE: &str = "vouch";

/// A handle on the OS keyring.
pub struct KeyringCache {
    store: Arc<CredentialStore>,
    backend: &'static str,
}

impl std::fmt::Debug for KeyringCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringCache")
            .field("backend", &self.backend)
            .finish()
    }
}

fn unavailable(reason: impl std::fmt::Display) -> KeyError {
    KeyError::KeyringUnavailable {
        reason: reason.to_string().lines().next().unwrap_or_default().to_owned(),
    }
}

impl KeyringCache {
    /// Opens the first keyring that answers.
    pub fn open() -> Result<KeyringCache> {
        let mut reasons = Vec::new();
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
            match zbus_secret_service_keyring_store::Store::new() {
                Ok(store) => {
                    let cache = KeyringCache {
                        store,
                        backend: "secret service",
                    };
                    match cache.probe() {
                        Ok(()) => return Ok(cache),
                        Err(e) => reasons.push(format!("secret service: {e}")),
                    }
                }
                Err(e) => reasons.push(format!("secret service: {e}")),
            }
        } else {
            reasons.push("secret service: no D-Bus session".to_owned());
        }
        match linux_keyutils_keyring_store::Store::new() {
            Ok(store) => {
                let cache = KeyringCache {
                    store,
                    backend: "kernel keyutils",
                };
                match cache.probe() {
                    Ok(()) => return Ok(cache),
                    Err(e) => reasons.push(format!("keyutils: {e}")),
                }
            }
            Err(e) => reasons.push(format!("keyutils: {e}")),
        }
        Err(unavailable(reasons.join("; ")))
    }

    /// Which backend answered.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    fn entry(&self, user: &str) -> Result<Entry> {
        Entry::new_in_store(&self.store, SERVICE, user).map_err(unavailable)
    }

    fn probe(&self) -> std::result::Result<(), String> {
        let entry = Entry::new_in_store(&self.store, SERVICE, "probe").map_err(|e| e.to_string())?;
        match entry.get_secret() {
            Ok(_) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Remembers `passphrase` for `id` until `until`.
    pub fn remember(&self, id: &KeyId, passphrase: &Passphrase, until: OffsetDateTime) -> Result<()> {
        let value = Zeroizing::new(format!("v1\n{}\n{}", until.unix_timestamp(), passphrase.expose()));
        self.entry(id.as_str())?
            .set_secret(value.as_bytes())
            .map_err(unavailable)
    }

    /// The remembered passphrase for `id`, if any and not expired at `now`.
    pub fn recall(&self, id: &KeyId, now: OffsetDateTime) -> Result<Option<Passphrase>> {
        let entry = self.entry(id.as_str())?;
        let raw = match entry.get_secret() {
            Ok(raw) => Zeroizing::new(raw),
            Err(keyring_core::Error::NoEntry) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let text = std::str::from_utf8(&raw).ok();
        let mut parts = text.map(|t| t.splitn(3, '\n')).into_iter().flatten();
        let (Some("v1"), Some(expiry), Some(pass)) = (parts.next(), parts.next(), parts.next()) else {
            let _ = entry.delete_credential();
            return Ok(None);
        };
        match expiry.parse::<i64>() {
            Ok(t) if t > now.unix_timestamp() => Ok(Some(Passphrase::new(pass.to_owned()))),
            _ => {
                let _ = entry.delete_credential();
                Ok(None)
            }
        }
    }

    /// Forgets `id`; returns whether anything was stored.
    pub fn forget(&self, id: &KeyId) -> Result<bool> {
        match self.entry(id.as_str())?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }
}
