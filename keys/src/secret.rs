//! Secret and public key types.
//!
//! Private keys and passphrases live only in types that zeroize on drop and
//! whose `Debug` prints no secret material.

use std::fmt;

use ed25519_dalek::pkcs8::KeypairBytes;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use pkcs8::der::Decode;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{KeyError, Result};

/// A passphrase. Zeroized on drop, never printed.
pub struct Passphrase(SecretString);

impl Passphrase {
    /// Wraps a passphrase; the `String` is moved, not copied.
    pub fn new(s: String) -> Self {
        Passphrase(SecretString::from(s))
    }

    /// The passphrase bytes, for key derivation.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether the passphrase is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }
}

impl Clone for Passphrase {
    fn clone(&self) -> Self {
        Passphrase::new(self.expose().to_owned())
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// A TUF key id: lowercase hex of the SHA-256 of the canonical JSON of the
/// key's public TUF representation.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// Parses a full 64-hex-digit key id.
    pub fn parse(s: &str) -> Option<KeyId> {
        (s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| KeyId(s.to_owned()))
    }

    /// The id as hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, for messages.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// Signature algorithms the key manager holds keys for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// Ed25519 (what vouch generates).
    Ed25519,
    /// ECDSA over NIST P-256 with SHA-256 (what Docker Content Trust uses).
    EcdsaP256,
}

impl KeyAlgorithm {
    /// The name shown to people and written in key files.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
        }
    }

    /// Parses the name written by [`KeyAlgorithm::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ed25519" => Some(KeyAlgorithm::Ed25519),
            "ecdsa-p256" => Some(KeyAlgorithm::EcdsaP256),
            _ => None,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A public key.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Ed25519 public key.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// ECDSA P-256 public key.
    EcdsaP256(p256::PublicKey),
}

impl PublicKey {
    /// The algorithm of this key.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            PublicKey::Ed25519(_) => KeyAlgorithm::Ed25519,
            PublicKey::EcdsaP256(_) => KeyAlgorithm::EcdsaP256,
        }
    }

    /// DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let doc = match self {
            PublicKey::Ed25519(k) => k.to_public_key_der(),
            PublicKey::EcdsaP256(k) => k.to_public_key_der(),
        };
        // Encoding a valid in-memory key cannot fail.
        doc.map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }

    /// PEM `PUBLIC KEY` (SubjectPublicKeyInfo), with a trailing newline.
    pub fn to_pem(&self) -> String {
        crate::pem::encode("PUBLIC KEY", &self.to_spki_der())
    }

    /// Reads a DER SubjectPublicKeyInfo of a supported algorithm.
    pub fn from_spki_der(der: &[u8]) -> Option<PublicKey> {
        use p256::pkcs8::DecodePublicKey;
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Some(PublicKey::Ed25519(k));
        }
        p256::PublicKey::from_public_key_der(der)
            .ok()
            .map(PublicKey::EcdsaP256)
    }

    /// The TUF key object (`keytype`, `scheme`, `keyval.public`), as
    /// python-tuf and securesystemslib write it.
    pub fn tuf_json(&self) -> serde_json::Value {
        match self {
            PublicKey::Ed25519(k) => serde_json::json!({
                "keytype": "ed25519",
                "scheme": "ed25519",
                "keyval": { "public": hex::encode(k.as_bytes()) },
            }),
            PublicKey::EcdsaP256(_) => serde_json::json!({
                "keytype": "ecdsa",
                "scheme": "ecdsa-sha2-nistp256",
                "keyval": { "public": self.to_pem() },
            }),
        }
    }

    /// The TUF key id of this key.
    pub fn key_id(&self) -> KeyId {
        let canonical = canonical_json(&self.tuf_json());
        KeyId(hex::encode(Sha256::digest(&canonical)))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.algorithm(), self.key_id())
    }
}

/// OLPC canonical JSON of a value.
pub fn canonical_json(value: &serde_json::Value) -> Vec<u8> {
    use serde::Serialize;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, olpc_cjson::CanonicalFormatter::new());
    // Serialising a `Value` into a Vec only fails on floats, which TUF key
    // objects never hold.
    let _ = value.serialize(&mut ser);
    out
}

/// A private signing key. Zeroized on drop; `Debug` shows only the key id.
pub enum PrivateKey {
    /// Ed25519 signing key.
    Ed25519(ed25519_dalek::SigningKey),
    /// ECDSA P-256 signing key.
    EcdsaP256(p256::ecdsa::SigningKey),
}

const ED25519_OID: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.101.112");
const EC_PUBLIC_KEY_OID: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

impl PrivateKey {
    /// A fresh Ed25519 key from the operating system's random source.
    pub fn generate_ed25519() -> Result<PrivateKey> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|e| KeyError::Io {
            action: "reading randomness from",
            path: "the operating system".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(PrivateKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        match self {
            PrivateKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            PrivateKey::EcdsaP256(k) => PublicKey::EcdsaP256((*k.verifying_key()).into()),
        }
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public().algorithm()
    }

    /// Signs `msg`: a 64-byte Ed25519 signature, or a DER-encoded ECDSA
    /// signature over SHA-256 (the `ecdsa-sha2-nistp256` TUF scheme).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        use ed25519_dalek::Signer;
        match self {
            PrivateKey::Ed25519(k) => k.sign(msg).to_bytes().to_vec(),
            PrivateKey::EcdsaP256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(msg);
                sig.to_der().as_bytes().to_vec()
            }
        }
    }

    /// PKCS#8 v1 `PrivateKeyInfo` DER (no embedded public key), the form
    /// OpenSSL 3 reads back.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        let doc = match self {
            PrivateKey::Ed25519(k) => {
                let kp = KeypairBytes {
                    secret_key: k.to_bytes(),
                    public_key: None,
                };
                kp.to_pkcs8_der()
            }
            PrivateKey::EcdsaP256(k) => p256::SecretKey::from(k).to_pkcs8_der(),
        };
        // Encoding a valid in-memory key cannot fail.
        Zeroizing::new(doc.map(|d| d.as_bytes().to_vec()).unwrap_or_default())
    }

    /// Reads a PKCS#8 `PrivateKeyInfo` (v1 or v2) of a supported algorithm.
    pub fn from_pkcs8_der(der: &[u8], path: &str) -> Result<PrivateKey> {
        let info = match pkcs8::PrivateKeyInfoRef::from_der(der) {
            Ok(info) => info,
            // notary (Go) marks its EC keys version 2 (RFC 5958) without the
            // public key field that version requires; the SEC1 key inside
            // is whole, so read it as version 1.
            Err(e) => match as_version_1(der) {
                Some(v1) if v1.as_slice() != der => return Self::from_pkcs8_der(&v1, path),
                _ => return Err(KeyError::corrupt(path, format!("not a PKCS#8 private key ({e})"))),
            },
        };
        let oid = info.algorithm.oid;
        if oid == ED25519_OID {
            let kp = KeypairBytes::from_pkcs8_der(der)
                .map_err(|e| KeyError::corrupt(path, format!("bad Ed25519 key ({e})")))?;
            let sk = ed25519_dalek::SigningKey::from_bytes(&kp.secret_key);
            if let Some(public) = &kp.public_key
                && public.as_ref() != sk.verifying_key().as_bytes()
            {
                return Err(KeyError::corrupt(
                    path,
                    "embedded public key does not match the private key",
                ));
            }
            Ok(PrivateKey::Ed25519(sk))
        } else if oid == EC_PUBLIC_KEY_OID {
            let sk = p256::SecretKey::from_pkcs8_der(der).map_err(|_| KeyError::Unsupported {
                path: path.to_owned(),
                what: "elliptic curve (only P-256 is supported)".to_owned(),
            })?;
            Ok(PrivateKey::EcdsaP256(sk.into()))
        } else {
            Err(KeyError::Unsupported {
                path: path.to_owned(),
                what: format!("key algorithm {oid} (ed25519 and ECDSA P-256 are supported)"),
            })
        }
    }

    /// Reads a SEC1 `EC PRIVATE KEY` (what `openssl ecparam -genkey` writes).
    pub fn from_sec1_der(der: &[u8], path: &str) -> Result<PrivateKey> {
        let sk = p256::SecretKey::from_sec1_der(der)
            .map_err(|_| KeyError::corrupt(path, "not a P-256 SEC1 private key (only P-256 is supported)"))?;
        Ok(PrivateKey::EcdsaP256(sk.into()))
    }
}

/// Re-encodes a PKCS#8 `PrivateKeyInfo` as version 1: algorithm and
/// private key only (attributes and public key dropped).
fn as_version_1(der: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    /// Splits one DER TLV off the front: (whole TLV, rest).
    fn tlv(input: &[u8]) -> Option<(&[u8], &[u8])> {
        let (&first_len, _) = input.get(1..)?.split_first()?;
        let (header, len) = if first_len < 0x80 {
            (2, usize::from(first_len))
        } else {
            let n = usize::from(first_len & 0x7f);
            if n == 0 || n > 3 {
                return None;
            }
            let bytes = input.get(2..2 + n)?;
            (
                2 + n,
                bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
            )
        };
        let end = header.checked_add(len)?;
        (end <= input.len()).then(|| input.split_at(end))
    }
    // The structure must be the whole input: bytes after it (say, what a
    // damaged ciphertext decrypts to past the key) are not ignored.
    let (outer, trailing) = tlv(der)?;
    if outer.first() != Some(&0x30) || !trailing.is_empty() {
        return None;
    }
    // Skip the outer tag and length to reach the fields.
    let header_len = outer.len() - tlv_value_len(outer)?;
    let mut rest = &outer[header_len..];
    let mut fields = Zeroizing::new(vec![0x02, 0x01, 0x00]);
    for i in 0..3 {
        let (field, tail) = tlv(rest)?;
        if i > 0 {
            fields.extend_from_slice(field);
        }
        rest = tail;
    }
    let mut out = Zeroizing::new(vec![0x30]);
    let len = fields.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(&fields);
    return Some(out);

    fn tlv_value_len(tlv: &[u8]) -> Option<usize> {
        let first_len = *tlv.get(1)?;
        Some(if first_len < 0x80 {
            usize::from(first_len)
        } else {
            tlv.len() - 2 - usize::from(first_len & 0x7f)
        })
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({} {})", self.algorithm(), self.public().key_id())
    }
}
