//! Signature verification for the key types TUF repositories use, and the
//! one function that counts signatures against a threshold.

use std::collections::{BTreeMap, BTreeSet};

use super::error::TufError;
use super::metadata::{Key, Signature};

/// A key ready to verify with.
enum Verifier {
    Ed25519(ed25519_dalek::VerifyingKey),
    EcdsaP256(p256::ecdsa::VerifyingKey),
    RsaPss(Box<rsa::PublicKey>),
}

fn pem_spki(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN PUBLIC KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

impl Verifier {
    fn from_key(key: &Key) -> Option<Verifier> {
        use p256::pkcs8::DecodePublicKey;
        match (key.keytype.as_str(), key.scheme.as_str()) {
            ("ed25519", "ed25519") => {
                let bytes: [u8; 32] = hex::decode(&key.keyval.public).ok()?.try_into().ok()?;
                ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                    .ok()
                    .map(Verifier::Ed25519)
            }
            ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
                let public = &key.keyval.public;
                let vk = match pem_spki(public) {
                    Some(der) => p256::ecdsa::VerifyingKey::from_public_key_der(&der).ok()?,
                    // Some writers put the SEC1 point in hex.
                    None => p256::ecdsa::VerifyingKey::from_sec1_bytes(&hex::decode(public).ok()?).ok()?,
                };
                Some(Verifier::EcdsaP256(vk))
            }
            ("rsa", "rsassa-pss-sha256") => {
                use rsa::pkcs8::DecodePublicKey as _;
                let der = pem_spki(&key.keyval.public)?;
                rsa::PublicKey::from_public_key_der(&der)
                    .ok()
                    .map(|k| Verifier::RsaPss(Box::new(k)))
            }
            _ => None,
        }
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Verifier::Ed25519(k) => {
                ed25519_dalek::Signature::from_slice(sig).is_ok_and(|s| k.verify_strict(msg, &s).is_ok())
            }
            Verifier::EcdsaP256(k) => {
                use p256::ecdsa::signature::Verifier as _;
                let parsed = if sig.len() == 64 {
                    p256::ecdsa::Signature::from_slice(sig).ok()
                } else {
                    p256::ecdsa::Signature::from_der(sig).ok()
                };
                parsed.is_some_and(|s| k.verify(msg, &s).is_ok())
            }
            Verifier::RsaPss(k) => {
                use rsa::signature::Verifier as _;
                let vk = rsa::pss::VerifyingKey::<sha2::Sha256>::new((**k).clone());
                rsa::pss::Signature::try_from(sig).is_ok_and(|s| vk.verify(msg, &s).is_ok())
            }
        }
    }
}

/// Whether `key` is a key type vouch can verify.
pub fn supported(key: &Key) -> bool {
    Verifier::from_key(key).is_some()
}

/// The one place signatures are counted, for root, top-level roles and
/// every delegation alike.
///
/// A signature counts when its key id is among `authorised`, the key is
/// in `keys`, and the signature verifies over `canonical`. Each key counts
/// once: a key id listed twice, a key signing twice, or the same public key
/// under two key ids all count as one.
pub fn verify_threshold(
    role: &str,
    version: u64,
    canonical: &[u8],
    signatures: &[Signature],
    keys: &BTreeMap<String, Key>,
    authorised: &[String],
    threshold: u64,
) -> Result<(), TufError> {
    let authorised: BTreeSet<&str> = authorised.iter().map(String::as_str).collect();
    let mut counted_ids = BTreeSet::new();
    let mut counted_keys = BTreeSet::new();
    for sig in signatures {
        let id = sig.keyid.as_str();
        if !authorised.contains(id) || counted_ids.contains(id) {
            continue;
        }
        let Some(key) = keys.get(id) else { continue };
        let Some(verifier) = Verifier::from_key(key) else {
            continue;
        };
        let Ok(bytes) = hex::decode(&sig.sig) else {
            continue;
        };
        if verifier.verify(canonical, &bytes) && counted_keys.insert((&key.keytype, key.keyval.public.trim()))
        {
            counted_ids.insert(id);
        }
    }
    if threshold >= 1 && counted_ids.len() as u64 >= threshold {
        Ok(())
    } else {
        Err(TufError::ThresholdNotMet {
            role: role.to_owned(),
            version,
            valid: counted_ids.len(),
            threshold,
        })
    }
}
