//! Signature verification for the key types TUF repositories use, and the
//! one function that counts signatures against a threshold.

use std::collections::{BTreeMap, BTreeSet};

use super::error::TufError;
use super::metadata::{Key, KeyId, Signature, canonical};

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
        match (key.keytype.as_str(), key.scheme.as_deref().unwrap_or_default()) {
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
            // A Docker Content Trust root key: base64 of a PEM certificate
            // (Notary's form, no scheme), whose key signs with ECDSA P-256.
            ("ecdsa-x509", "" | "ecdsa-sha2-nistp256") => {
                use base64::Engine;
                let pem = base64::engine::general_purpose::STANDARD
                    .decode(&key.keyval.public)
                    .ok()?;
                let (_, spki) = crate::x509::parse_certificate(&pem)?;
                p256::ecdsa::VerifyingKey::from_public_key_der(&spki)
                    .ok()
                    .map(Verifier::EcdsaP256)
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

    /// The key itself, for telling keys apart: the algorithm and the
    /// public key bytes in one canonical encoding.
    fn material(&self) -> (u8, Vec<u8>) {
        match self {
            Verifier::Ed25519(k) => (0, k.as_bytes().to_vec()),
            Verifier::EcdsaP256(k) => (1, k.to_sec1_point(true).as_bytes().to_vec()),
            Verifier::RsaPss(k) => {
                use rsa::traits::PublicKeyParts as _;
                let mut bytes = k.n().as_ref().to_be_bytes_trimmed_vartime().to_vec();
                bytes.push(b'|');
                bytes.extend_from_slice(&k.e().to_be_bytes_trimmed_vartime());
                (2, bytes)
            }
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

/// The TUF key id of a key: the SHA-256 of the canonical JSON of the key
/// object as written, unknown fields included (specification 4.2). `None`
/// when the key has no canonical form (a float among its unknown fields).
pub fn key_id(key: &Key) -> Option<KeyId> {
    use sha2::Digest;
    let value = serde_json::to_value(key).ok()?;
    let canonical = canonical(&value).ok()?;
    Some(KeyId::new(hex::encode(sha2::Sha256::digest(canonical))))
}

/// Checks that every key id in `keys` is the id its key hashes to. A key
/// id read from metadata is never believed: a forged file could otherwise
/// map a pinned or authorised id to the attacker's key.
pub fn check_key_ids(role: &str, keys: &BTreeMap<KeyId, Key>) -> Result<(), TufError> {
    for (id, key) in keys {
        if key_id(key).as_ref() != Some(id) {
            return Err(TufError::KeyIdMismatch {
                role: role.to_owned(),
                keyid: id.to_string(),
            });
        }
    }
    Ok(())
}

/// The valid signatures on one piece of metadata, as [`count_signatures`]
/// found them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignatureCount {
    /// Key ids of distinct authorised keys whose signature verifies.
    pub valid: Vec<KeyId>,
    /// Key ids of authorised keys whose signature does not verify.
    pub invalid: Vec<KeyId>,
}

/// The one place signatures are counted, for root, top-level roles, every
/// delegation and the pin alike.
///
/// A signatures array naming one key id twice makes the metadata invalid
/// (an error, not a count of one). A signature counts when its key id is
/// among `authorised`, the key is in `keys` (whose ids the caller checked
/// with [`check_key_ids`]), and it verifies over `canonical`. Keys are
/// compared by their parsed material (algorithm and key bytes), so the same
/// public key under two ids counts once.
pub fn count_signatures(
    role: &str,
    version: u64,
    canonical: &[u8],
    signatures: &[Signature],
    keys: &BTreeMap<KeyId, Key>,
    authorised: &[KeyId],
) -> Result<SignatureCount, TufError> {
    let mut seen_ids = BTreeSet::new();
    for sig in signatures {
        if !seen_ids.insert(sig.keyid.as_str()) {
            return Err(TufError::DuplicateSignature {
                role: role.to_owned(),
                version,
                keyid: sig.keyid.to_string(),
            });
        }
    }
    let authorised: BTreeSet<&KeyId> = authorised.iter().collect();
    let mut count = SignatureCount::default();
    let mut counted = BTreeSet::new();
    for sig in signatures {
        let id = &sig.keyid;
        if !authorised.contains(id) {
            continue;
        }
        let Some(verifier) = keys.get(id).and_then(Verifier::from_key) else {
            continue;
        };
        let ok = hex::decode(&sig.sig).is_ok_and(|bytes| verifier.verify(canonical, &bytes));
        if !ok {
            count.invalid.push(id.clone());
        } else if counted.insert(verifier.material()) {
            count.valid.push(id.clone());
        }
    }
    Ok(count)
}

/// Counts signatures ([`count_signatures`]) and compares them with the
/// threshold (which must be at least 1).
pub fn verify_threshold(
    role: &str,
    version: u64,
    canonical: &[u8],
    signatures: &[Signature],
    keys: &BTreeMap<KeyId, Key>,
    authorised: &[KeyId],
    threshold: u64,
) -> Result<(), TufError> {
    let count = count_signatures(role, version, canonical, signatures, keys, authorised)?;
    if threshold >= 1 && count.valid.len() as u64 >= threshold {
        Ok(())
    } else {
        Err(TufError::ThresholdNotMet {
            role: role.to_owned(),
            version,
            valid: count.valid.len(),
            threshold,
        })
    }
}

/// The key manager's form of a TUF key object (ed25519, or ECDSA P-256 as
/// PEM), when it is one vouch writes: `None` for any other, or for one
/// that does not come back to the same TUF object.
pub fn public_key_of(key: &Key) -> Option<vouch_keys::PublicKey> {
    let der = match (key.keytype.as_str(), key.scheme.as_deref()) {
        ("ed25519", Some("ed25519")) => {
            let raw = hex::decode(&key.keyval.public).ok()?;
            if raw.len() != 32 {
                return None;
            }
            // SubjectPublicKeyInfo of an Ed25519 key (RFC 8410).
            let mut der = hex::decode("302a300506032b6570032100").ok()?;
            der.extend_from_slice(&raw);
            der
        }
        ("ecdsa" | "ecdsa-sha2-nistp256", Some("ecdsa-sha2-nistp256")) => pem_spki(&key.keyval.public)?,
        _ => return None,
    };
    let public = vouch_keys::PublicKey::from_spki_der(&der)?;
    let same: Key = serde_json::from_value(public.tuf_json()).ok()?;
    (same == *key).then_some(public)
}
