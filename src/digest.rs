//! Content digests: `sha256:` and 64 lowercase hex digits, the only form
//! vouch reads or writes. Every digest that comes from a user, a store or
//! signed metadata is parsed here once ([`Digest::parse`]); past that
//! boundary a [`Digest`] is known to be well formed, so it can go into a
//! URL, a file name or a comparison without another check.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A well-formed `sha256:<64 lowercase hex>` digest.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

/// A string that is not a digest vouch reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{shown:?} is not a digest: vouch reads sha256: and 64 lowercase hex digits")]
pub struct DigestError {
    /// The start of what was given (at most 80 characters).
    shown: String,
}

const PREFIX: &str = "sha256:";

impl Digest {
    /// Parses `sha256:` and 64 lowercase hex digits; anything else (another
    /// algorithm, upper case, a path) is refused.
    pub fn parse(text: &str) -> Result<Digest, DigestError> {
        let ok = text.strip_prefix(PREFIX).is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if ok {
            Ok(Digest(text.to_owned()))
        } else {
            Err(DigestError {
                shown: text.chars().take(80).collect(),
            })
        }
    }

    /// The digest whose hex is `hex` (lowercase, 64 digits).
    pub fn from_hex(hex: &str) -> Result<Digest, DigestError> {
        Digest::parse(&format!("{PREFIX}{hex}"))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    /// The digest a running SHA-256 has reached.
    pub fn from_hasher(hasher: Sha256) -> Digest {
        Digest(format!("{PREFIX}{}", hex::encode(hasher.finalize())))
    }

    /// `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0[PREFIX.len()..]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Digest, DigestError> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Digest {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Digest {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Digest {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Digest;

    #[test]
    fn only_lowercase_sha256_parses() {
        let hex = "a".repeat(64);
        let d = Digest::parse(&format!("sha256:{hex}")).expect("parses");
        assert_eq!(d.hex(), hex);
        assert_eq!(d.to_string(), format!("sha256:{hex}"));
        assert_eq!(Digest::from_hex(&hex), Ok(d));
        for bad in [
            String::new(),
            "sha256:".to_owned(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha512:{hex}"),
            format!("sha256:{}", "a".repeat(63)),
            format!("sha256:{}", "a".repeat(65)),
            format!("sha256:{}/../x", "a".repeat(60)),
            format!(" sha256:{hex}"),
            "sha256:../../v2/other/manifests/x".to_owned(),
        ] {
            assert!(Digest::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn digests_of_bytes() {
        assert_eq!(
            Digest::of(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn json_form_is_the_string_and_is_checked() {
        let d = Digest::of(b"x");
        let json = serde_json::to_string(&d).expect("serialises");
        assert_eq!(json, format!("\"{d}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).expect("parses"), d);
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }
}
