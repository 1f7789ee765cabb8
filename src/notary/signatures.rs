//! Notary v1 keys and signatures: key types `ecdsa` (base64 DER
//! SubjectPublicKeyInfo), `ecdsa-x509` (base64 of a PEM certificate) and
//! `ed25519` (base64 of the 32 key bytes); signature methods `ecdsa` (raw
//! r‖s over SHA-256) and `eddsa`. A key id is the SHA-256 of the canonical
//! JSON of the key object, recomputed here, never believed.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde_json::Value;

use super::NotaryError;
use super::format::NotarySignature;

pub use crate::x509::{CertInfo, parse_certificate};

/// A parsed key.
#[derive(Clone, Debug)]
pub struct NotaryKey {
    verifier: Verifier,
    /// The certificate, for `*-x509` keys.
    pub cert: Option<CertInfo>,
    /// DER SubjectPublicKeyInfo of the key.
    pub spki: Vec<u8>,
}

#[derive(Clone, Debug)]
enum Verifier {
    Ecdsa(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// The id of a key object as listed: SHA-256 of its canonical JSON.
pub fn key_id(object: &Value) -> Option<String> {
    use sha2::Digest;
    let canonical = crate::tuf::metadata::canonical(object).ok()?;
    Some(hex::encode(sha2::Sha256::digest(canonical)))
}

impl NotaryKey {
    /// Parses a key object `{"keytype", "keyval": {"public"}}`; `None` for
    /// a type vouch cannot verify.
    pub fn parse(object: &Value) -> Option<NotaryKey> {
        use p256::pkcs8::DecodePublicKey;
        let public = b64(object["keyval"]["public"].as_str()?)?;
        match object["keytype"].as_str()? {
            "ecdsa" => {
                let key = p256::ecdsa::VerifyingKey::from_public_key_der(&public).ok()?;
                Some(NotaryKey {
                    verifier: Verifier::Ecdsa(key),
                    cert: None,
                    spki: public,
                })
            }
            "ecdsa-x509" => {
                let (info, spki) = parse_certificate(&public)?;
                let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki).ok()?;
                Some(NotaryKey {
                    verifier: Verifier::Ecdsa(key),
                    cert: Some(info),
                    spki,
                })
            }
            "ed25519" => {
                let bytes: [u8; 32] = public.try_into().ok()?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok()?;
                let mut spki = vec![
                    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
                ];
                spki.extend_from_slice(&bytes);
                Some(NotaryKey {
                    verifier: Verifier::Ed25519(key),
                    cert: None,
                    spki,
                })
            }
            _ => None,
        }
    }

    /// The key, for telling keys apart: algorithm tag and key bytes.
    fn material(&self) -> (u8, Vec<u8>) {
        match &self.verifier {
            Verifier::Ecdsa(k) => (1, k.to_sec1_point(true).as_bytes().to_vec()),
            Verifier::Ed25519(k) => (0, k.as_bytes().to_vec()),
        }
    }

    fn verify(&self, method: &str, msg: &[u8], sig: &[u8]) -> bool {
        match (&self.verifier, method) {
            (Verifier::Ecdsa(k), "ecdsa") => {
                use p256::ecdsa::signature::Verifier as _;
                p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
            (Verifier::Ed25519(k), "eddsa") => {
                ed25519_dalek::Signature::from_slice(sig).is_ok_and(|s| k.verify_strict(msg, &s).is_ok())
            }
            _ => false,
        }
    }
}

/// Checks that every key id in `keys` is the hash of its key object.
pub fn check_key_ids(role: &str, keys: &BTreeMap<String, Value>) -> Result<(), NotaryError> {
    for (id, object) in keys {
        if key_id(object).as_deref() != Some(id.as_str()) {
            return Err(NotaryError::KeyIdMismatch {
                role: role.to_owned(),
                keyid: id.clone(),
            });
        }
    }
    Ok(())
}

/// Counts valid signatures over any of `msgs` from distinct keys among
/// `authorised` (ids into `keys`), refusing a signatures array that names
/// a key id twice, and compares with `threshold`.
pub fn verify_threshold(
    role: &str,
    version: u64,
    msgs: &[&[u8]],
    signatures: &[NotarySignature],
    keys: &BTreeMap<String, NotaryKey>,
    authorised: &[String],
    threshold: u64,
) -> Result<(), NotaryError> {
    let mut seen = BTreeSet::new();
    for s in signatures {
        if !seen.insert(s.keyid.as_str()) {
            return Err(NotaryError::DuplicateSignature {
                role: role.to_owned(),
                keyid: s.keyid.clone(),
            });
        }
    }
    let mut counted = BTreeSet::new();
    for s in signatures {
        if !authorised.contains(&s.keyid) {
            continue;
        }
        let Some(key) = keys.get(&s.keyid) else { continue };
        let Some(sig) = b64(&s.sig) else { continue };
        if msgs.iter().any(|msg| key.verify(&s.method, msg, &sig)) {
            counted.insert(key.material());
        }
    }
    if threshold >= 1 && counted.len() as u64 >= threshold {
        Ok(())
    } else {
        Err(NotaryError::ThresholdNotMet {
            role: role.to_owned(),
            version,
            valid: counted.len(),
            threshold,
        })
    }
}

/// Parses every key of a key map whose type vouch can verify.
pub fn parse_keys(keys: &BTreeMap<String, Value>) -> BTreeMap<String, NotaryKey> {
    keys.iter()
        .filter_map(|(id, object)| NotaryKey::parse(object).map(|k| (id.clone(), k)))
        .collect()
}
