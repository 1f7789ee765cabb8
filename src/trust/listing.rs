//! What `inspect` shows: the signed tags as verifiers see them (each
//! resolved by the one tag rule), and every role with its keys, threshold,
//! version and expiry, or why it was refused.

use std::collections::BTreeSet;

use crate::tuf::metadata::Expires;

/// A tag that verifies, and the roles that sign the same digest for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagListing {
    /// The tag.
    pub tag: String,
    /// The trusted digest.
    pub digest: String,
    /// The manifest's length.
    pub length: u64,
    /// The manifest's media type, as signed.
    pub media_type: Option<String>,
    /// Verified roles that list this tag with this digest.
    pub signers: Vec<String>,
}

/// One role of the trust data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleListing {
    /// The role name.
    pub name: String,
    /// Authorised key ids.
    pub keys: Vec<String>,
    /// Threshold.
    pub threshold: u64,
    /// Version, when verified.
    pub version: Option<u64>,
    /// Expiry, when verified.
    pub expires: Option<Expires>,
    /// Why verifiers refuse it, when they do.
    pub refused: Option<String>,
}

/// The whole listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Tags that verify.
    pub tags: Vec<TagListing>,
    /// Every role reached.
    pub roles: Vec<RoleListing>,
}

/// A tag as `docker trust inspect` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerTag {
    /// The tag.
    pub tag: String,
    /// The trusted digest.
    pub digest: String,
    /// Docker's signer names: `Repo Admin` for the repository key, else
    /// the signers (`targets/NAME`) whose keys may sign the role listing it.
    pub signers: Vec<String>,
}

/// The listing in Docker Content Trust's terms (what `docker trust
/// inspect` printed): signers by name, the root and repository keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerView {
    /// Signed tags (one tag when asked for one).
    pub tags: Vec<DockerTag>,
    /// Signer name → key ids.
    pub signers: Vec<(String, Vec<String>)>,
    /// The root role's key ids.
    pub root: Vec<String>,
    /// The targets role's key ids (Docker's "repository key").
    pub repository: Vec<String>,
}

/// [`Listing`] as Docker showed it; only `tag` when given.
pub fn docker_view(listing: &Listing, tag: Option<&str>) -> DockerView {
    use super::decide::RELEASES;
    let keys_of = |name: &str| {
        listing
            .roles
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.keys.clone())
            .unwrap_or_default()
    };
    let signers: Vec<(String, Vec<String>)> = listing
        .roles
        .iter()
        .filter(|r| r.refused.is_none() && r.name != RELEASES)
        .filter_map(|r| {
            let name = r.name.strip_prefix("targets/")?;
            (!name.contains('/')).then(|| (name.to_owned(), r.keys.clone()))
        })
        .collect();
    let releases = keys_of(RELEASES);
    let names_for = |role: &str| -> Vec<String> {
        if role == "targets" || role.starts_with("b-") {
            return vec!["Repo Admin".to_owned()];
        }
        if role == RELEASES || role.starts_with("rb-") {
            return signers
                .iter()
                .filter(|(_, ids)| ids.iter().any(|i| releases.contains(i)))
                .map(|(n, _)| n.clone())
                .collect();
        }
        role.strip_prefix("targets/")
            .map(|n| vec![n.to_owned()])
            .unwrap_or_default()
    };
    let tags = listing
        .tags
        .iter()
        .filter(|t| tag.is_none_or(|want| t.tag == want))
        .map(|t| {
            let names: BTreeSet<String> = t.signers.iter().flat_map(|r| names_for(r)).collect();
            DockerTag {
                tag: t.tag.clone(),
                digest: t.digest.clone(),
                signers: names.into_iter().collect(),
            }
        })
        .collect();
    DockerView {
        tags,
        signers,
        root: keys_of("root"),
        repository: keys_of("targets"),
    }
}
