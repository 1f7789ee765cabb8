//! The TUF metadata model (specification 1.0.x, section 4).
//!
//! Every object keeps the fields it does not know in `extra`, so that a
//! parsed role serialises back to the same canonical JSON it was signed as.
//! Signatures are always checked over the canonical form of the `signed`
//! value exactly as received, never over a re-serialisation.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::TufError;
pub use super::names::{KeyId, RoleName};

/// Fields a parser did not know, kept for re-serialisation.
pub type Extra = BTreeMap<String, Value>;

/// The spec version vouch writes.
pub const SPEC_VERSION: &str = "1.0.31";

/// An expiry time: the instant, and the exact text it was written as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expires {
    /// The instant.
    pub at: OffsetDateTime,
    raw: String,
}

impl Expires {
    /// An expiry at `at`, written with whole seconds (`2027-01-01T00:00:00Z`),
    /// the form every TUF client reads.
    pub fn new(at: OffsetDateTime) -> Expires {
        let at = at
            .replace_nanosecond(0)
            .unwrap_or(at)
            .to_offset(time::UtcOffset::UTC);
        let raw = at.format(&Rfc3339).unwrap_or_default();
        Expires { at, raw }
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl Serialize for Expires {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for Expires {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let at = OffsetDateTime::parse(&raw, &Rfc3339).map_err(serde::de::Error::custom)?;
        Ok(Expires { at, raw })
    }
}

/// A public key as TUF writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// `ed25519`, `ecdsa`, `ecdsa-sha2-nistp256`, `rsa`; `ecdsa-x509` for a
    /// Docker Content Trust root certificate kept by `vouch migrate`.
    pub keytype: String,
    /// `ed25519`, `ecdsa-sha2-nistp256`, `rsassa-pss-sha256` (absent in
    /// Notary's key objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The key value.
    pub keyval: KeyVal,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `keyval` of a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVal {
    /// Hex (ed25519) or PEM (ecdsa, rsa) public key.
    pub public: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Keys and threshold of a top-level role in root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleKeys {
    /// Authorised key ids.
    pub keyids: Vec<KeyId>,
    /// How many distinct authorised keys must sign.
    pub threshold: u64,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `root.json`'s `signed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    /// Always `root`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// Spec version.
    pub spec_version: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    pub expires: Expires,
    /// Whether consistent snapshots are used.
    pub consistent_snapshot: bool,
    /// Every key of the top-level roles, by key id.
    pub keys: BTreeMap<KeyId, Key>,
    /// root, targets, snapshot, timestamp.
    pub roles: BTreeMap<RoleName, RoleKeys>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A metadata file listed in timestamp or snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaFile {
    /// Its version.
    pub version: u64,
    /// Its length in bytes, if listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Its hashes, if listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<BTreeMap<String, String>>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `timestamp.json`'s `signed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    /// Always `timestamp`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// Spec version.
    pub spec_version: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    pub expires: Expires,
    /// `snapshot.json` only.
    pub meta: BTreeMap<String, MetaFile>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `snapshot.json`'s `signed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Always `snapshot`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// Spec version.
    pub spec_version: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    pub expires: Expires,
    /// `targets.json` and every delegated role's `ROLE.json`.
    pub meta: BTreeMap<String, MetaFile>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A target file (for vouch: an image manifest, named by tag).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFile {
    /// Length in bytes.
    pub length: u64,
    /// Hashes by algorithm (hex).
    pub hashes: BTreeMap<String, String>,
    /// Application data (vouch: the media type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A delegated role, as its delegator lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedRole {
    /// Role name (never a top-level role's: [`crate::tuf::trusted_set::validate_delegations`]).
    pub name: RoleName,
    /// Authorised key ids.
    pub keyids: Vec<KeyId>,
    /// Threshold.
    pub threshold: u64,
    /// Whether the search stops here when the role's paths match
    /// (required, as the specification and python-tuf have it: a default
    /// would re-serialise differently from what was signed).
    pub terminating: bool,
    /// Shell-style path patterns the role may sign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Hex prefixes of SHA-256(target path) the role may sign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Succinct hashed bins (TAP 15): `2^bit_length` roles named
/// `{name_prefix}-{bin in hex}`, all with these keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccinctRoles {
    /// Authorised key ids of every bin.
    pub keyids: Vec<KeyId>,
    /// Threshold of every bin.
    pub threshold: u64,
    /// Number of leading bits of SHA-256(target path) that select the bin.
    pub bit_length: u32,
    /// Prefix of the bin names (a delegated role's name).
    pub name_prefix: RoleName,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl SuccinctRoles {
    /// Hex digits in a bin name.
    pub fn suffix_len(&self) -> usize {
        (self.bit_length as usize).div_ceil(4)
    }

    /// Number of bins.
    pub fn bins(&self) -> u64 {
        1u64 << self.bit_length
    }

    /// Name of bin `n`.
    pub fn bin_name(&self, n: u64) -> RoleName {
        RoleName::parse(&format!(
            "{}-{:0width$x}",
            self.name_prefix,
            n,
            width = self.suffix_len()
        ))
    }

    /// The bin responsible for `path`.
    pub fn bin_for(&self, path: &str) -> RoleName {
        use sha2::{Digest, Sha256};
        let h = Sha256::digest(path.as_bytes());
        let first = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let bin = if self.bit_length == 0 {
            0
        } else {
            u64::from(first >> (32 - self.bit_length))
        };
        self.bin_name(bin)
    }

    /// Whether `name` is one of the bins.
    pub fn is_bin(&self, name: &str) -> bool {
        let Some(suffix) = name
            .strip_prefix(self.name_prefix.as_str())
            .and_then(|s| s.strip_prefix('-'))
        else {
            return false;
        };
        suffix.len() == self.suffix_len()
            && u64::from_str_radix(suffix, 16).is_ok_and(|n| n < self.bins())
            && suffix
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

/// `delegations` of a targets role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegations {
    /// Keys of the delegated roles, by key id.
    pub keys: BTreeMap<KeyId, Key>,
    /// Delegated roles, in search order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<DelegatedRole>>,
    /// Succinct hashed bins (instead of `roles`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succinct_roles: Option<SuccinctRoles>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `targets.json` (or a delegated role)'s `signed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    /// Always `targets`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// Spec version.
    pub spec_version: String,
    /// Version.
    pub version: u64,
    /// Expiry.
    pub expires: Expires,
    /// Target files by path.
    pub targets: BTreeMap<String, TargetFile>,
    /// Delegations, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A signature in an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The signing key's id.
    pub keyid: KeyId,
    /// Hex signature.
    pub sig: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The common view of a role's `signed`, whatever its type.
pub trait Role: Serialize + for<'de> Deserialize<'de> {
    /// The `_type` value.
    const TYPE: &'static str;
    /// Version.
    fn version(&self) -> u64;
    /// Expiry.
    fn expires(&self) -> &Expires;
    /// Spec version.
    fn spec_version(&self) -> &str;
    /// `_type` as found.
    fn type_field(&self) -> &str;
}

macro_rules! role_impl {
    ($t:ty, $name:literal) => {
        impl Role for $t {
            const TYPE: &'static str = $name;
            fn version(&self) -> u64 {
                self.version
            }
            fn expires(&self) -> &Expires {
                &self.expires
            }
            fn spec_version(&self) -> &str {
                &self.spec_version
            }
            fn type_field(&self) -> &str {
                &self.type_
            }
        }
    };
}
role_impl!(Root, "root");
role_impl!(Timestamp, "timestamp");
role_impl!(Snapshot, "snapshot");
role_impl!(Targets, "targets");

/// A parsed envelope: the typed role, the canonical bytes of `signed` (what
/// the signatures cover) and the signatures.
#[derive(Clone, Debug)]
pub struct Envelope<T> {
    /// The typed role.
    pub signed: T,
    /// Canonical JSON of `signed` as received.
    pub canonical: Vec<u8>,
    /// The signatures.
    pub signatures: Vec<Signature>,
}

#[derive(Deserialize)]
struct RawEnvelope {
    signed: Value,
    signatures: Vec<Signature>,
}

/// OLPC canonical JSON of a value, as TUF signs it: object keys sorted by
/// their UTF-8 bytes, no whitespace, strings escaping only `"` and `\`,
/// integers only (a float is an error).
///
/// Written here rather than through `olpc-cjson`'s serde formatter, which
/// is about ten times slower on large targets roles; the tests check both
/// produce the same bytes.
pub fn canonical(value: &Value) -> Result<Vec<u8>, String> {
    fn write(v: &Value, out: &mut Vec<u8>) -> Result<(), String> {
        match v {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(true) => out.extend_from_slice(b"true"),
            Value::Bool(false) => out.extend_from_slice(b"false"),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    out.extend_from_slice(i.to_string().as_bytes());
                } else if let Some(u) = n.as_u64() {
                    out.extend_from_slice(u.to_string().as_bytes());
                } else {
                    return Err(format!("canonical JSON has no floats ({n})"));
                }
            }
            Value::String(s) => write_str(s, out),
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(item, out)?;
                }
                out.push(b']');
            }
            Value::Object(map) => {
                // serde_json's map is a BTreeMap<String, _>: already in
                // byte order of the keys.
                out.push(b'{');
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(k, out);
                    out.push(b':');
                    write(item, out)?;
                }
                out.push(b'}');
            }
        }
        Ok(())
    }
    fn write_str(s: &str, out: &mut Vec<u8>) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    }
    let mut out = Vec::new();
    write(value, &mut out)?;
    Ok(out)
}

impl<T: Role> Envelope<T> {
    /// Parses metadata bytes of role `name` (used in errors). Checks shape,
    /// `_type`, the spec major version and thresholds, not signatures.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Envelope<T>, TufError> {
        let raw: RawEnvelope = serde_json::from_slice(bytes).map_err(|e| TufError::malformed(name, e))?;
        let canonical = canonical(&raw.signed).map_err(|e| TufError::malformed(name, e))?;
        let signed: T = serde_json::from_value(raw.signed).map_err(|e| TufError::malformed(name, e))?;
        if signed.type_field() != T::TYPE {
            return Err(TufError::malformed(
                name,
                format!("_type is {:?}, expected {:?}", signed.type_field(), T::TYPE),
            ));
        }
        if signed.spec_version().split('.').next() != Some("1") {
            return Err(TufError::malformed(
                name,
                format!("unsupported spec_version {:?}", signed.spec_version()),
            ));
        }
        Ok(Envelope {
            signed,
            canonical,
            signatures: raw.signatures,
        })
    }
}

/// Serialises an envelope as vouch writes it: `{"signatures":…,"signed":…}`,
/// compact with sorted keys. This is standard JSON (control characters in
/// strings are escaped), unlike canonical JSON, which writes them raw and
/// so cannot always be read back by a JSON parser; signatures cover the
/// canonical form either way.
pub fn to_bytes<T: Serialize>(signed: &T, signatures: &[Signature]) -> Result<Vec<u8>, String> {
    let value = serde_json::json!({
        "signed": serde_json::to_value(signed).map_err(|e| e.to_string())?,
        "signatures": signatures,
    });
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

/// Canonical bytes of a typed role (what gets signed).
pub fn signed_bytes<T: Serialize>(signed: &T) -> Result<Vec<u8>, String> {
    canonical(&serde_json::to_value(signed).map_err(|e| e.to_string())?)
}

/// Percent-encodes a name for use as one path segment or file name:
/// everything but `A-Za-z0-9-._~` becomes `%XX`.
pub fn encode_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The name snapshot (and timestamp) list a role's metadata under:
/// `ROLE.json`, the role name as it is (not a file name: see [`file_name`]).
pub fn meta_key(role: &RoleName) -> String {
    format!("{role}.json")
}

/// The file name of a role's metadata: `ROLE.json`, or `VERSION.ROLE.json`
/// (consistent snapshots, and every root), with the role name
/// percent-encoded ([`encode_segment`]) so that no role name is a path.
pub fn file_name(role: &RoleName, version: Option<u64>) -> String {
    let enc = encode_segment(role.as_str());
    match version {
        Some(v) => format!("{v}.{enc}.json"),
        None => format!("{enc}.json"),
    }
}

#[cfg(test)]
mod tests {
    use super::DelegatedRole;

    #[test]
    fn a_delegation_must_say_whether_it_terminates() {
        let with = r#"{"name":"r","keyids":[],"threshold":1,"terminating":false,"paths":["*"]}"#;
        let role: DelegatedRole = serde_json::from_str(with).expect("parses");
        assert!(!role.terminating);
        let without = r#"{"name":"r","keyids":[],"threshold":1,"paths":["*"]}"#;
        let e = serde_json::from_str::<DelegatedRole>(without).expect_err("refused");
        assert!(e.to_string().contains("terminating"), "{e}");
    }
}
