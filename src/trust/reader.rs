//! A verified reader of one repository's trust data, and everything it
//! answers: opening (the pinned root, the TUF update workflow, rollback
//! and freeze checks), tags and digests by the one tag rule
//! ([`super::decide`]), references against the store, and the listing
//! `inspect` shows.

use std::collections::{BTreeMap, BTreeSet};

use super::decide::*;
use super::error::TrustError;
use super::listing::{Listing, RoleListing, TagListing};
use super::load::{self, from_update};
use super::{FirstUse, Trust};
use crate::reference::ImageRef;
use crate::store::Store;
use crate::tuf::metadata::{Expires, Role as _, RoleName, TargetFile, Targets};
use crate::tuf::{TargetPath, TrustedSet, TufError};

/// A verified reader of one repository's trust data.
#[derive(Debug)]
pub struct Reader<'s> {
    repo: String,
    /// Whether it reads offline, and where its notices go.
    trust: Trust,
    client: load::StoreUpdater<'s>,
    artifact: Option<String>,
}

impl<'s> Reader<'s> {
    /// Verifies the trust data of `repo` in `store`: from the pinned root
    /// (or the cached chain after it), through the TUF update workflow,
    /// with rollback and freeze checks against this machine's cache. An
    /// unpinned repository is refused unless `tofu` (or the policy) allows
    /// pinning it on first use.
    pub fn open(
        trust: &Trust,
        repo: &str,
        store: &'s dyn Store,
        tofu: bool,
    ) -> Result<Reader<'s>, TrustError> {
        trust.ensure_dir()?;
        let policy = crate::policy::Policy::load(&trust.dir)?;
        let first_use = FirstUse::from(tofu, &policy, repo);
        let (client, artifact) = load::open_reader(trust, repo, store, first_use)?;
        Ok(Reader {
            repo: repo.to_owned(),
            trust: trust.clone(),
            client,
            artifact,
        })
    }

    /// The repository.
    pub fn repository(&self) -> &str {
        &self.repo
    }

    /// The digest of the trust artifact this reader verified (`None`
    /// offline): the same digest means the same trust data, so decisions
    /// made from it may be reused while it is fresh.
    pub fn artifact(&self) -> Option<&str> {
        self.artifact.as_deref()
    }

    /// The trusted metadata.
    pub fn trusted(&self) -> &TrustedSet {
        self.client.trusted()
    }

    /// Bytes this reader fetched from the store so far: (TUF metadata,
    /// trust manifests). A cold verify of one tag fetches the root chain,
    /// timestamp, snapshot, the role that holds tags and, where tags are
    /// in bins, one bin and its group's manifest.
    pub fn bytes_fetched(&self) -> (u64, u64) {
        match self.client.fetcher() {
            load::Source::Store(f) => f.bytes_fetched(),
            load::Source::Offline(_) => (0, 0),
        }
    }
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
        let signed = |role: RoleName, target: TargetFile| -> Result<SignedTarget, TrustError> {
            let role = role.to_string();
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
            return match self.client.resolve_in(&path, &RoleName::Targets, &RoleName::Root) {
                Ok((role, target)) if counts("targets", role.as_str(), self.client.trusted()) => {
                    signed(role, target)
                }
                Ok(_) | Err(crate::update::UpdateError::NoSuchTarget(_)) => {
                    Err(self.not_signed(tag, "targets"))
                }
                Err(e) => Err(from_update(&self.repo, e)),
            };
        }
        // Signers: releases (a refusal there is final: trust data that
        // does not verify is never passed over), then targets' own list.
        match self
            .client
            .resolve_in(&path, &RoleName::parse(RELEASES), &RoleName::Targets)
        {
            Ok((role, target)) if counts(RELEASES, role.as_str(), self.client.trusted()) => {
                return signed(role, target);
            }
            Ok(_) | Err(crate::update::UpdateError::NoSuchTarget(_)) => {}
            Err(e) => return Err(from_update(&self.repo, e)),
        }
        match self.top_targets()?.targets.get(tag).cloned() {
            Some(target) => signed(RoleName::Targets, target),
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
                    .filter(|(tag, t)| target_digest(tag, role.as_str(), t).is_ok_and(|d| d == digest))
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
    pub fn load_all(&mut self) -> Result<Vec<(RoleName, TufError)>, TrustError> {
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
                    Err(e @ TrustError::NotSigned { .. }) if digest.is_none() && !self.trust.offline => {
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
                let current = match (digest, self.trust.offline) {
                    (Some(d), _) => Some(d.to_string()),
                    (None, true) => {
                        self.trust.notice(super::Notice::OfflineNotLookedUp {
                            repo: self.repo.clone(),
                            tag: tag.clone(),
                        });
                        Some(signed.digest.clone())
                    }
                    (None, false) => head(tag)?,
                };
                compare(
                    &self.repo,
                    tag,
                    current,
                    signed.digest,
                    How::Tag { role: &signed.role },
                )
            }
            (None, Some(digest)) => {
                let signed = self.resolve_digest(digest.as_str())?;
                Ok(Verdict::new(
                    signed.digest.clone(),
                    How::AsTag {
                        tag: &signed.tag,
                        role: &signed.role,
                    },
                ))
            }
            (None, None) => Err(TrustError::edit(
                "a tag or a digest is needed",
                "give REPO:TAG or REPO@sha256:…",
            )),
        }
    }
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
            Ok(signed) => Ok(Verdict::new(
                signed.digest.clone(),
                How::AsTag {
                    tag: &signed.tag,
                    role: &signed.role,
                },
            )),
            Err(TrustError::DigestNotSigned { .. }) if admitted_children.contains(digest) => {
                Ok(Verdict::new(digest.to_owned(), How::IndexChild))
            }
            Err(e) => Err(e),
        }
    }
}

impl Reader<'_> {
    /// Every signed tag and every role, as verifiers see them.
    pub fn listing(&mut self) -> Result<Listing, TrustError> {
        let refused = self.load_all()?;
        let set = self.client.trusted();
        let root = set.root().signed();
        let mut roles = Vec::new();
        let top = |name: &str| {
            root.roles
                .get(name)
                .map(|k| (k.keyids.iter().map(ToString::to_string).collect(), k.threshold))
                .unwrap_or_default()
        };
        let mut add = |name: &str, (keys, threshold): (Vec<String>, u64), v: Option<(u64, &Expires)>| {
            roles.push(RoleListing {
                name: name.to_owned(),
                keys,
                threshold,
                version: v.map(|(v, _)| v),
                expires: v.map(|(_, e)| e.clone()),
                refused: None,
            })
        };
        add("root", top("root"), Some((root.version, &root.expires)));
        if let Some(ts) = set.timestamp() {
            add(
                "timestamp",
                top("timestamp"),
                Some((ts.signed().version, ts.signed().expires())),
            );
        }
        if let Some(sn) = set.snapshot() {
            add(
                "snapshot",
                top("snapshot"),
                Some((sn.signed().version, sn.signed().expires())),
            );
        }
        // Keys and thresholds of delegated roles, as their delegators list them.
        let mut delegated: BTreeMap<String, (Vec<String>, u64)> = BTreeMap::new();
        for md in set.all_targets().values() {
            if let Some(d) = &md.signed().delegations {
                for role in d.roles.iter().flatten() {
                    let keys = role.keyids.iter().map(ToString::to_string).collect();
                    delegated.insert(role.name.to_string(), (keys, role.threshold));
                }
            }
        }
        let keys_of = |name: &str| {
            if name == "targets" {
                top("targets")
            } else {
                delegated.get(name).cloned().unwrap_or_default()
            }
        };
        for (name, md) in set.all_targets() {
            add(
                name.as_str(),
                keys_of(name.as_str()),
                Some((md.signed().version, md.signed().expires())),
            );
        }
        for (name, why) in &refused {
            let (keys, threshold) = keys_of(name.as_str());
            roles.push(RoleListing {
                name: name.to_string(),
                keys,
                threshold,
                version: None,
                expires: None,
                refused: Some(why.to_string()),
            });
        }
        let names: BTreeSet<String> = set
            .all_targets()
            .values()
            .flat_map(|md| md.signed().targets.keys().cloned())
            .collect();
        let mut tags = Vec::new();
        for tag in names {
            let signed = match self.resolve_tag(&tag) {
                Ok(s) => s,
                Err(TrustError::NotSigned { .. } | TrustError::Refused { .. }) => continue,
                Err(e) => return Err(e),
            };
            let signers = self
                .client
                .trusted()
                .all_targets()
                .iter()
                .filter(|(role, md)| {
                    md.signed().targets.get(&tag).is_some_and(|t| {
                        target_digest(&tag, role.as_str(), t).is_ok_and(|d| d == signed.digest)
                    })
                })
                .map(|(role, _)| role.to_string())
                .collect();
            tags.push(TagListing {
                media_type: signed
                    .target
                    .custom
                    .as_ref()
                    .and_then(|c| c["mediaType"].as_str())
                    .map(str::to_owned),
                length: signed.target.length,
                digest: signed.digest,
                tag,
                signers,
            });
        }
        Ok(Listing { tags, roles })
    }
}
