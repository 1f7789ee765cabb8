//! The Notary v1 metadata format (the TUF dialect Docker Content Trust
//! used), as notary 0.7 writes it: capitalised `_type`, no
//! `spec_version`, base64 hashes and signatures with a `method`, snapshot
//! `meta` keyed by role name, delegations with path prefixes.
//!
//! Signatures are checked over the exact bytes of the `signed` member as
//! received (notary writes it in canonical form), so what is parsed is
//! exactly what was signed.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::NotaryError;

/// Canonical JSON as notary (github.com/docker/go/canonical/json) writes
/// it: vouch's canonical form, with U+2028 and U+2029 escaped.
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, String> {
    let plain = crate::tuf::metadata::canonical(value)?;
    let mut out = Vec::with_capacity(plain.len());
    let mut i = 0;
    while i < plain.len() {
        if plain[i..].starts_with(&[0xe2, 0x80, 0xa8]) {
            out.extend_from_slice(b"\\u2028");
            i += 3;
        } else if plain[i..].starts_with(&[0xe2, 0x80, 0xa9]) {
            out.extend_from_slice(b"\\u2029");
            i += 3;
        } else {
            out.push(plain[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// A signature in a Notary envelope.
#[derive(Clone, Debug, Deserialize)]
pub struct NotarySignature {
    /// The signing key's id.
    pub keyid: String,
    /// `ecdsa` (raw r‖s) or `eddsa`.
    pub method: String,
    /// Base64 signature.
    pub sig: String,
}

/// A parsed envelope: the role, the exact bytes its signatures cover, and
/// the signatures.
#[derive(Clone, Debug)]
pub struct Envelope<T> {
    /// The typed role.
    pub signed: T,
    /// The `signed` member as received.
    pub signed_bytes: Vec<u8>,
    /// The canonical form of the parsed `signed` member (what notary
    /// verifies), when it differs from the bytes received.
    pub canonical: Option<Vec<u8>>,
    /// The signatures.
    pub signatures: Vec<NotarySignature>,
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    signed: &'a RawValue,
    signatures: Vec<NotarySignature>,
}

/// An expiry as Notary writes it (RFC 3339, nanoseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expires {
    /// The instant.
    pub at: OffsetDateTime,
    /// As written.
    pub raw: String,
}

impl<'de> Deserialize<'de> for Expires {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let at = OffsetDateTime::parse(&raw, &Rfc3339).map_err(serde::de::Error::custom)?;
        Ok(Expires { at, raw })
    }
}

/// Keys and threshold of a top-level role.
#[derive(Clone, Debug, Deserialize)]
pub struct RoleKeys {
    /// Authorised key ids.
    pub keyids: Vec<String>,
    /// Threshold.
    pub threshold: u64,
}

/// `root.json`'s `signed`.
#[derive(Clone, Debug, Deserialize)]
pub struct Root {
    /// `Root`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    pub expires: Expires,
    /// Keys by id, as written (their ids are recomputed from these objects).
    pub keys: BTreeMap<String, Value>,
    /// root, targets, snapshot, timestamp.
    pub roles: BTreeMap<String, RoleKeys>,
}

/// A file listed in timestamp, snapshot or targets: length and base64 hashes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct FileMeta {
    /// Length in bytes.
    pub length: u64,
    /// Base64 hashes by algorithm.
    pub hashes: BTreeMap<String, String>,
    /// Application data, if any.
    #[serde(default)]
    pub custom: Option<Value>,
}

impl FileMeta {
    /// The SHA-256 in hex, if listed and well-formed.
    pub fn sha256_hex(&self) -> Option<String> {
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(self.hashes.get("sha256")?)
            .ok()?;
        (raw.len() == 32).then(|| hex::encode(raw))
    }
}

/// `timestamp.json`'s `signed`.
#[derive(Clone, Debug, Deserialize)]
pub struct Timestamp {
    /// `Timestamp`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    pub expires: Expires,
    /// `snapshot` only.
    pub meta: BTreeMap<String, FileMeta>,
}

/// `snapshot.json`'s `signed`.
#[derive(Clone, Debug, Deserialize)]
pub struct Snapshot {
    /// `Snapshot`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    pub expires: Expires,
    /// `root`, `targets` and each delegation, by role name.
    pub meta: BTreeMap<String, FileMeta>,
}

/// A list that notary may write as `null` (a delegation whose last key
/// was removed).
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// A delegation as its delegator lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct DelegatedRole {
    /// `targets/NAME` (a child of the delegator).
    pub name: String,
    /// Authorised key ids.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub keyids: Vec<String>,
    /// Threshold.
    pub threshold: u64,
    /// Path prefixes the role may sign (`""` = all).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub paths: Vec<String>,
}

/// `delegations` of a targets role.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Delegations {
    /// Keys by id.
    #[serde(default)]
    pub keys: BTreeMap<String, Value>,
    /// Delegated roles.
    #[serde(default)]
    pub roles: Vec<DelegatedRole>,
}

/// A targets or delegation role's `signed`.
#[derive(Clone, Debug, Deserialize)]
pub struct Targets {
    /// `Targets`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    pub expires: Expires,
    /// Targets (DCT: tag → manifest).
    #[serde(default)]
    pub targets: BTreeMap<String, FileMeta>,
    /// Delegations.
    #[serde(default)]
    pub delegations: Delegations,
}

/// The common view of a role.
pub trait Role: for<'de> Deserialize<'de> {
    /// The `_type` Notary writes.
    const TYPE: &'static str;
    /// Version.
    fn version(&self) -> u64;
    /// Expiry.
    fn expires(&self) -> &Expires;
    /// `_type` as found.
    fn type_field(&self) -> &str;
}

macro_rules! role {
    ($t:ty, $name:literal) => {
        impl Role for $t {
            const TYPE: &'static str = $name;
            fn version(&self) -> u64 {
                self.version
            }
            fn expires(&self) -> &Expires {
                &self.expires
            }
            fn type_field(&self) -> &str {
                &self.type_
            }
        }
    };
}
role!(Root, "Root");
role!(Timestamp, "Timestamp");
role!(Snapshot, "Snapshot");
role!(Targets, "Targets");

impl<T: Role> Envelope<T> {
    /// Parses the bytes of role `name` (for errors).
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Envelope<T>, NotaryError> {
        let bad = |reason: String| NotaryError::Malformed {
            role: name.to_owned(),
            reason,
        };
        let raw: RawEnvelope<'_> = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let signed: T = serde_json::from_str(raw.signed.get()).map_err(|e| bad(e.to_string()))?;
        let value: Value = serde_json::from_str(raw.signed.get()).map_err(|e| bad(e.to_string()))?;
        let canonical = canonical_json(&value).map_err(bad)?;
        let canonical = (canonical != raw.signed.get().as_bytes()).then_some(canonical);
        if signed.type_field() != T::TYPE {
            return Err(bad(format!(
                "_type is {:?}, expected {:?}",
                signed.type_field(),
                T::TYPE
            )));
        }
        Ok(Envelope {
            signed,
            signed_bytes: raw.signed.get().as_bytes().to_vec(),
            canonical,
            signatures: raw.signatures,
        })
    }

    /// The byte strings a signature may cover: as received, and as notary
    /// re-canonicalises them.
    pub fn messages(&self) -> Vec<&[u8]> {
        let mut out = vec![self.signed_bytes.as_slice()];
        out.extend(self.canonical.as_deref());
        out
    }
}
