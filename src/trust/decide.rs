//! The trust decisions, one function each: which role holds a tag, what a
//! tag is signed as, whether a digest is signed, whether a reference
//! verifies against the store. Every command and the gate call these.

use crate::digest::Digest;
use crate::tuf::TufError;
use crate::tuf::metadata::{TargetFile, Targets};

use super::error::TrustError;

/// The delegated role signers sign tags into (Docker Content Trust's name).
pub use crate::notary::RELEASES;

/// Where new tags are signed, as Docker Content Trust has it: once the
/// top-level `targets` delegates to `targets/releases`, into that role
/// (and its threshold); before, into `targets`. Returns the role and the
/// role that delegates it (`root` for `targets`). Readers look a tag up by
/// [`TAG_RULE`].
pub fn tag_holder(targets: &Targets) -> (&'static str, &'static str) {
    if has_releases(targets) {
        (RELEASES, "targets")
    } else {
        ("targets", "root")
    }
}

/// The one rule by which a tag (and so a digest) is looked up, in native
/// and Notary trust data alike, as the docker CLI has it: `targets/releases`
/// first (with its threshold and its bins), then the top-level `targets`
/// role itself (its own list, and its bins while it delegates to no
/// signer). A tag found only in a signer's own role (`targets/NAME`) is
/// not signed: that role has one key, and the threshold is releases'.
pub const TAG_RULE: &str = "targets/releases first, then targets itself";

pub(super) fn has_releases(targets: &Targets) -> bool {
    targets
        .delegations
        .as_ref()
        .is_some_and(|d| d.roles.iter().flatten().any(|r| r.name == RELEASES))
}

/// The manifest digest a target signs (`sha256:` and lowercase hex), or
/// why it names none.
pub fn target_digest(tag: &str, role: &str, target: &TargetFile) -> Result<String, TufError> {
    target
        .hashes
        .get("sha256")
        .and_then(|hex| Digest::from_hex(&hex.to_ascii_lowercase()).ok())
        .map(String::from)
        .ok_or_else(|| TufError::HashMismatch {
            what: format!("target {tag}"),
            by: role.to_owned(),
            field: "sha256 (none listed, or not a SHA-256)".to_owned(),
        })
}

/// A tag as its trust data signs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTarget {
    /// The tag (target name).
    pub tag: String,
    /// The role that signed it.
    pub role: String,
    /// The signed target.
    pub target: TargetFile,
    /// Its manifest digest.
    pub digest: String,
}

/// A reference that verified, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The trusted digest: what to deploy.
    pub digest: String,
    /// How it was established, for people.
    pub how: String,
}

/// How a verdict was reached.
#[derive(Clone, Copy, Debug)]
pub enum How<'a> {
    /// A tag, through the role that signs it.
    Tag {
        /// The role.
        role: &'a str,
    },
    /// A digest, as the signed tag it is.
    AsTag {
        /// The tag.
        tag: &'a str,
        /// The role that signs it.
        role: &'a str,
    },
    /// A platform manifest of a signed image index.
    IndexChild,
    /// A tag in Notary v1 data.
    NotaryTag {
        /// The Notary role.
        role: &'a str,
    },
    /// A digest, as a tag signed in Notary v1 data.
    NotaryAsTag {
        /// The tag.
        tag: &'a str,
        /// The Notary role.
        role: &'a str,
    },
    /// As recorded when it was first reached (the warm path).
    Recorded(&'a str),
}

impl Verdict {
    /// The one way a verdict is made.
    pub fn new(digest: String, how: How<'_>) -> Verdict {
        let how = match how {
            How::Tag { role } => format!("signed by {role}"),
            How::AsTag { tag, role } => format!("signed as {tag} by {role}"),
            How::IndexChild => "a platform manifest of a signed index".to_owned(),
            How::NotaryTag { role } => format!("signed by {role} (Notary)"),
            How::NotaryAsTag { tag, role } => format!("signed as {tag} by {role} (Notary)"),
            How::Recorded(how) => how.to_owned(),
        };
        Verdict { digest, how }
    }
}

/// Whether `tag`, which the store has at `current` (`None`: nowhere), is
/// the manifest its trust data signs (`signed`, by `how`).
pub fn compare(
    repo: &str,
    tag: &str,
    current: Option<String>,
    signed: String,
    how: How<'_>,
) -> Result<Verdict, TrustError> {
    let current = current.ok_or_else(|| TrustError::TagNotInStore {
        repo: repo.to_owned(),
        tag: tag.to_owned(),
    })?;
    if current != signed {
        return Err(TrustError::DigestMismatch {
            repo: repo.to_owned(),
            tag: tag.to_owned(),
            current,
            trusted: signed,
        });
    }
    Ok(Verdict::new(signed, how))
}

/// The manifests an image index lists (their sha256 digests). A child of an
/// index that was admitted may be pulled by digest: multi-platform pulls
/// fetch the index by tag, then the platform's manifest by digest.
pub fn index_children(manifest: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(manifest) else {
        return Vec::new();
    };
    if !v["mediaType"].as_str().is_some_and(crate::media_type::is_index) {
        return Vec::new();
    }
    v["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["digest"].as_str())
        .filter(|d| Digest::parse(d).is_ok())
        .map(str::to_owned)
        .collect()
}
