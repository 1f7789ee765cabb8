//! The trust decisions, one function each: which role holds a tag, what a
//! tag is signed as, whether a digest is signed, whether a reference
//! verifies against the store. Every command and the gate call these.

use crate::digest::Digest;
use crate::reference::ImageRef;
use crate::store::Store;
use crate::tuf::metadata::{TargetFile, Targets};
use crate::tuf::{TargetPath, TufError};

use super::Reader;
use super::error::TrustError;
use super::load::from_update;

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

fn has_releases(targets: &Targets) -> bool {
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

impl Reader<'_> {
    fn top_targets(&self) -> Result<&Targets, TrustError> {
        self.client
            .trusted()
            .targets("targets")
            .map(|t| t.signed())
            .ok_or_else(|| TrustError::Incomplete {
                repo: self.repo.clone(),
                what: "targets metadata".to_owned(),
            })
    }

    /// What `tag` is signed as, by [`TAG_RULE`]: `targets/releases` (its
    /// delegations and threshold) first, then `targets` itself.
    pub fn resolve_tag(&mut self, tag: &str) -> Result<SignedTarget, TrustError> {
        let path = TargetPath::parse(tag).map_err(|e| TrustError::edit(e.to_string(), "check the tag"))?;
        let signed = |role: String, target: TargetFile| -> Result<SignedTarget, TrustError> {
            let digest = target_digest(tag, &role, &target).map_err(|source| TrustError::Refused {
                repo: self.repo.clone(),
                source,
            })?;
            Ok(SignedTarget {
                tag: tag.to_owned(),
                role,
                target,
                digest,
            })
        };
        let top = self.top_targets()?;
        // A hit counts in the role itself or one of its bins, never in a
        // role it delegates to by name (a signer's own role has one key).
        let counts = |holder: &str, role: &str, trusted: &crate::tuf::TrustedSet| {
            role == holder
                || trusted
                    .targets(holder)
                    .and_then(|t| t.signed().delegations.as_ref()?.succinct_roles.as_ref())
                    .is_some_and(|bins| bins.is_bin(role))
        };
        if !has_releases(top) {
            // No signers: targets and its bins.
            return match self.client.resolve_in(&path, "targets", "root") {
                Ok((role, target)) if counts("targets", &role, self.client.trusted()) => signed(role, target),
                Ok(_) | Err(crate::update::UpdateError::NoSuchTarget(_)) => {
                    Err(self.not_signed(tag, "targets"))
                }
                Err(e) => Err(from_update(&self.repo, e)),
            };
        }
        // Signers: releases (a refusal there is final: trust data that
        // does not verify is never passed over), then targets' own list.
        match self.client.resolve_in(&path, RELEASES, "targets") {
            Ok((role, target)) if counts(RELEASES, &role, self.client.trusted()) => {
                return signed(role, target);
            }
            Ok(_) | Err(crate::update::UpdateError::NoSuchTarget(_)) => {}
            Err(e) => return Err(from_update(&self.repo, e)),
        }
        match self.top_targets()?.targets.get(tag).cloned() {
            Some(target) => signed("targets".to_owned(), target),
            None => Err(self.not_signed(tag, &format!("{RELEASES} or targets"))),
        }
    }

    fn not_signed(&self, tag: &str, holder: &str) -> TrustError {
        TrustError::NotSigned {
            repo: self.repo.clone(),
            tag: tag.to_owned(),
            holder: holder.to_owned(),
        }
    }

    /// Whether `digest` is signed: some tag resolves ([`Reader::resolve_tag`],
    /// the same rule, roles and thresholds) to exactly this digest. Only
    /// the verified trusted set is searched.
    pub fn resolve_digest(&mut self, digest: &str) -> Result<SignedTarget, TrustError> {
        self.load_all()?;
        let mut candidates: Vec<String> = self
            .client
            .trusted()
            .all_targets()
            .iter()
            .flat_map(|(role, md)| {
                md.signed()
                    .targets
                    .iter()
                    .filter(|(tag, t)| target_digest(tag, role, t).is_ok_and(|d| d == digest))
                    .map(|(tag, _)| tag.clone())
            })
            .collect();
        candidates.sort();
        candidates.dedup();
        let mut refusal = None;
        for tag in candidates {
            match self.resolve_tag(&tag) {
                Ok(signed) if signed.digest == digest => return Ok(signed),
                Ok(_) | Err(TrustError::NotSigned { .. }) => {}
                Err(e @ TrustError::Refused { .. }) => refusal = refusal.or(Some(e)),
                Err(e) => return Err(e),
            }
        }
        Err(refusal.unwrap_or_else(|| TrustError::DigestNotSigned {
            repo: self.repo.clone(),
            digest: digest.to_owned(),
        }))
    }

    /// Every tag trust data signs, by the tag rule ([`Reader::resolve_tag`]),
    /// sorted; at most `max` are looked at (a registry's tag list is
    /// paged). Platform targets (`TAG@OS-ARCH`) are not tags.
    pub fn signed_tags(&mut self, max: usize) -> Result<Vec<String>, TrustError> {
        self.load_all()?;
        let mut names: Vec<String> = self
            .client
            .trusted()
            .all_targets()
            .values()
            .flat_map(|md| md.signed().targets.keys().cloned().collect::<Vec<_>>())
            .filter(|t| crate::reference::valid_tag(t))
            .collect();
        names.sort();
        names.dedup();
        names.truncate(max);
        let mut signed = Vec::with_capacity(names.len());
        for tag in names {
            match self.resolve_tag(&tag) {
                Ok(_) => signed.push(tag),
                // Listed by a role the rule does not read for it, or its
                // target does not verify: not signed.
                Err(TrustError::NotSigned { .. } | TrustError::Refused { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(signed)
    }

    /// Loads every targets role reachable from `targets`; roles that are
    /// refused are returned with the reason.
    pub fn load_all(&mut self) -> Result<Vec<(String, TufError)>, TrustError> {
        self.client
            .load_all_roles(8192)
            .map_err(|e| from_update(&self.repo, e))
    }

    /// Verifies a reference: a tag must be signed, and the store's tag (or
    /// the digest given with it) must be the signed manifest; a digest must
    /// be one some signed tag maps to. `--offline` does not look the tag up
    /// in the store: the trusted digest is what to deploy.
    pub fn verify(&mut self, r: &ImageRef, store: &dyn Store) -> Result<Verdict, TrustError> {
        self.verify_with(r, |tag| store.head(tag))
    }

    /// [`Reader::verify`] with the store's answer for the tag already in
    /// hand (`current`: where the tag points, `None` if nowhere), looked up
    /// alongside the trust data.
    pub fn verify_against(&mut self, r: &ImageRef, current: Option<String>) -> Result<Verdict, TrustError> {
        self.verify_with(r, |_| Ok(current))
    }

    fn verify_with(
        &mut self,
        r: &ImageRef,
        head: impl FnOnce(&str) -> Result<Option<String>, crate::store::StoreError>,
    ) -> Result<Verdict, TrustError> {
        match (&r.tag, &r.digest) {
            (Some(tag), digest) => {
                let signed = match self.resolve_tag(tag) {
                    Ok(s) => s,
                    // Not signed, and not in the store either: a typo more
                    // likely than an unsigned image, so say which.
                    Err(e @ TrustError::NotSigned { .. }) if digest.is_none() && !self.offline => {
                        return Err(match head(tag) {
                            Ok(None) => TrustError::NoSuchTag {
                                repo: self.repo.clone(),
                                tag: tag.clone(),
                            },
                            _ => e,
                        });
                    }
                    Err(e) => return Err(e),
                };
                let current = match (digest, self.offline) {
                    (Some(d), _) => Some(d.to_string()),
                    (None, true) => {
                        eprintln!(
                            "offline: {}:{tag} was not looked up; deploy by the trusted digest",
                            self.repo
                        );
                        Some(signed.digest.clone())
                    }
                    (None, false) => head(tag)?,
                };
                compare(
                    &self.repo,
                    tag,
                    current,
                    signed.digest,
                    format!("signed by {}", signed.role),
                )
            }
            (None, Some(digest)) => {
                let signed = self.resolve_digest(digest.as_str())?;
                Ok(Verdict {
                    digest: signed.digest,
                    how: format!("signed as {} by {}", signed.tag, signed.role),
                })
            }
            (None, None) => Err(TrustError::edit(
                "a tag or a digest is needed",
                "give REPO:TAG or REPO@sha256:…",
            )),
        }
    }
}

/// Whether `tag`, which the store has at `current` (`None`: nowhere), is
/// the manifest its trust data signs (`signed`, by `how`).
pub fn compare(
    repo: &str,
    tag: &str,
    current: Option<String>,
    signed: String,
    how: String,
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
    Ok(Verdict { digest: signed, how })
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

impl Reader<'_> {
    /// Whether a pull of manifest `digest` may be served: some signed tag
    /// resolves to it ([`Reader::resolve_digest`]), or it is a child of an
    /// index that was admitted before (`admitted_children`, from
    /// [`index_children`] of manifests this verifier served).
    pub fn admit_digest(
        &mut self,
        digest: &str,
        admitted_children: &std::collections::BTreeSet<String>,
    ) -> Result<Verdict, TrustError> {
        match self.resolve_digest(digest) {
            Ok(signed) => Ok(Verdict {
                digest: signed.digest,
                how: format!("signed as {} by {}", signed.tag, signed.role),
            }),
            Err(TrustError::DigestNotSigned { .. }) if admitted_children.contains(digest) => Ok(Verdict {
                digest: digest.to_owned(),
                how: "a platform manifest of a signed index".to_owned(),
            }),
            Err(e) => Err(e),
        }
    }
}
