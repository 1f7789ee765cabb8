//! The identities the TUF core reasons about: role names and key ids.
//!
//! Both are written in metadata as strings. Here they are types, so that a
//! key id is never passed where a role name belongs, the four top-level
//! roles are variants a `match` can check for completeness, and a
//! delegated role's name is sorted out once, when it is parsed: a
//! [`DelegatedName`] is never one of the four (the names `root`, `targets`,
//! `snapshot` and `timestamp` always parse as the top-level roles, so a
//! delegation under such a name is visibly not a delegated role, and
//! [`crate::tuf::trusted_set::validate_delegations`] refuses it, as it
//! refuses an empty name).
//!
//! Both compare, order and hash as the string they are written as (they
//! implement [`Borrow<str>`]), so maps keyed by them keep the byte order
//! canonical JSON writes and can be looked up with a `&str`.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The name of a TUF role: one of the four top-level roles, or a delegated
/// role (`targets/releases`, a bin such as `bins-0a`).
#[derive(Clone, PartialEq, Eq)]
pub enum RoleName {
    /// `root`.
    Root,
    /// `targets`.
    Targets,
    /// `snapshot`.
    Snapshot,
    /// `timestamp`.
    Timestamp,
    /// Any other name: a role that a targets role delegates to.
    Delegated(DelegatedName),
}

/// The name of a delegated role: never the name of a top-level role (a
/// delegated role named `timestamp` must never stand in for the real one).
/// Made only by [`RoleName::parse`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DelegatedName(String);

impl RoleName {
    /// The four top-level roles, in the order a root's shape is checked.
    pub const TOP_LEVEL: [RoleName; 4] = [
        RoleName::Root,
        RoleName::Timestamp,
        RoleName::Snapshot,
        RoleName::Targets,
    ];

    /// Reads a role name as metadata writes it: the four top-level names
    /// become their variants, any other is a delegated role's. (Whether a
    /// name may be used is the validation's to say: an empty one may not.)
    pub fn parse(name: &str) -> RoleName {
        match name {
            "root" => RoleName::Root,
            "targets" => RoleName::Targets,
            "snapshot" => RoleName::Snapshot,
            "timestamp" => RoleName::Timestamp,
            other => RoleName::Delegated(DelegatedName(other.to_owned())),
        }
    }

    /// The name as metadata writes it.
    pub fn as_str(&self) -> &str {
        match self {
            RoleName::Root => "root",
            RoleName::Targets => "targets",
            RoleName::Snapshot => "snapshot",
            RoleName::Timestamp => "timestamp",
            RoleName::Delegated(name) => &name.0,
        }
    }

    /// Whether this is one of the four top-level roles.
    pub fn is_top_level(&self) -> bool {
        !matches!(self, RoleName::Delegated(_))
    }

    /// Whether a targets role may delegate under this name: not empty, and
    /// not a top-level role's. The one rule for delegated names, which the
    /// verifier applies to what it reads and the editor to what it makes.
    pub fn is_delegable(&self) -> bool {
        !self.is_top_level() && !self.as_str().is_empty()
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Written as the quoted name, as a `String` role name was.
impl fmt::Debug for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Hash for RoleName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Ord for RoleName {
    fn cmp(&self, other: &RoleName) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for RoleName {
    fn partial_cmp(&self, other: &RoleName) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Borrow<str> for RoleName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for RoleName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for RoleName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RoleName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for RoleName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RoleName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(RoleName::parse(&name))
    }
}

/// A key id as metadata lists it. Metadata's ids are claims, never
/// believed: the core recomputes each from its key
/// ([`crate::tuf::crypto::key_id`]) before a signature counts. So any string
/// parses here; the key manager's [`vouch_keys::KeyId`] is the checked
/// 64-hex-digit form.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// A key id from its text.
    pub fn new(id: impl Into<String>) -> KeyId {
        KeyId(id.into())
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 characters, for messages.
    pub fn short(&self) -> &str {
        self.0.get(..12).unwrap_or(&self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Written as the quoted id, as a `String` key id was.
impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Borrow<str> for KeyId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for KeyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for KeyId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for KeyId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<&vouch_keys::KeyId> for KeyId {
    fn from(id: &vouch_keys::KeyId) -> KeyId {
        KeyId(id.as_str().to_owned())
    }
}

impl From<vouch_keys::KeyId> for KeyId {
    fn from(id: vouch_keys::KeyId) -> KeyId {
        KeyId(id.as_str().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{KeyId, RoleName};

    #[test]
    fn top_level_names_are_variants_and_others_are_delegated() {
        assert_eq!(RoleName::parse("targets"), RoleName::Targets);
        assert_eq!(RoleName::parse("timestamp"), RoleName::Timestamp);
        let releases = RoleName::parse("targets/releases");
        assert!(matches!(releases, RoleName::Delegated(_)));
        assert_eq!(releases.as_str(), "targets/releases");
        assert!(releases.is_delegable());
        assert!(!RoleName::parse("").is_delegable());
        // No delegated name is ever a top-level one.
        for top in RoleName::TOP_LEVEL {
            assert!(top.is_top_level() && !top.is_delegable());
            assert_eq!(RoleName::parse(top.as_str()), top);
        }
    }

    #[test]
    fn names_order_as_their_text_so_maps_serialise_canonically() {
        let mut roles = BTreeMap::new();
        for name in ["timestamp", "a", "targets", "root", "snapshot", "targets/z"] {
            roles.insert(RoleName::parse(name), ());
        }
        let order: Vec<&str> = roles.keys().map(RoleName::as_str).collect();
        assert_eq!(
            order,
            ["a", "root", "snapshot", "targets", "targets/z", "timestamp"]
        );
        assert!(roles.contains_key("snapshot"));
        let json = serde_json::to_string(&roles).expect("serialises");
        let back: BTreeMap<RoleName, ()> = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, roles);
    }

    #[test]
    fn key_ids_read_any_text_and_shorten_safely() {
        let id: KeyId = serde_json::from_str("\"abc\"").expect("parses");
        assert_eq!(id.short(), "abc");
        assert_eq!(format!("{id:?}"), "\"abc\"");
        let long = KeyId::new("0123456789abcdef");
        assert_eq!(long.short(), "0123456789ab");
    }
}
