//! Signing and revoking tags.

use vouch_keys::PrivateKey;

use super::bins::{bin_prefix, bins_needed, sign_into_bins};
use super::{Outcome, Publishing, Writer, authorised, bug};
use crate::trust::decide::{RELEASES, tag_holder};
use crate::trust::error::TrustError;
use crate::tuf::editor::MetadataEditor;
use crate::tuf::metadata::TargetFile;

impl<'s> Writer<'s> {
    /// Signs `targets` (tag → target): where signers exist, into every
    /// role each signer key may sign among those `targets` delegates
    /// (`targets/releases` and the signer's own); otherwise into `targets`.
    ///
    /// Built on the live, fully signed roles only. Published when every
    /// role it changes is then signed by its threshold and `keys` are
    /// given; staged otherwise (see `staging`), where verifiers never see
    /// it until a threshold approved it and a publisher published it.
    pub fn sign(
        &self,
        signers: &[PrivateKey],
        keys: Option<Publishing<'_>>,
        targets: &[(String, TargetFile)],
        by: &str,
    ) -> Result<Outcome, TrustError> {
        let tags: Vec<String> = targets.iter().map(|(t, _)| t.clone()).collect();
        let summary = match tags.as_slice() {
            [one] => format!("sign {one}"),
            many => format!("sign {} tags", many.len()),
        };
        let ((), outcome) = self.change_or_stage(keys, Some(&tags), &summary, by, |repo, _, now| {
            let (holder, _) = tag_holder(&repo.targets["targets"].signed);
            let mut converted = false;
            if repo.bins_of(holder).is_none()
                && let Some(bits) = bins_needed(repo, holder, targets)
            {
                repo.convert_to_bins(holder, &bin_prefix(holder), bits, now)
                    .map_err(bug)?;
                converted = true;
            }
            if let Some(bins) = repo.bins_of(holder).cloned() {
                return sign_into_bins(repo, &self.repo, holder, &bins, converted, signers, targets, now);
            }
            for key in signers {
                let roles = if holder == "targets" {
                    authorised(repo, &self.repo, "targets", key)?;
                    vec!["targets".to_owned()]
                } else {
                    authorised(repo, &self.repo, RELEASES, key)?;
                    signable_delegations(repo, key)
                };
                for role in &roles {
                    for (tag, target) in targets {
                        repo.add_target(role, tag, target.clone(), now)
                            .map_err(|source| TrustError::EditRefused {
                                source,
                                hint: "check the tag",
                            })?;
                    }
                    if let Some(r) = repo.targets.get_mut(role.as_str()) {
                        r.sign(key).map_err(bug)?;
                    }
                }
            }
            Ok(())
        })?;
        Ok(outcome)
    }

    /// Removes `tag` (every signed tag when `None`) from every role that
    /// lists it and that one of `role_keys` may sign, and re-signs those
    /// roles. Reports what was removed and what no key here could remove.
    /// Published or staged as [`Writer::sign`] is.
    pub fn revoke(
        &self,
        role_keys: &[PrivateKey],
        keys: Option<Publishing<'_>>,
        tag: Option<&str>,
        by: &str,
    ) -> Result<(RevokeReport, Outcome), TrustError> {
        let scope: Option<Vec<String>> = tag.map(|t| vec![t.to_owned()]);
        let summary = tag.map_or_else(|| "revoke every tag".to_owned(), |t| format!("revoke {t}"));
        self.change_or_stage(keys, scope.as_deref(), &summary, by, |repo, _, now| {
            let mut report = RevokeReport::default();
            let names: Vec<String> = repo.targets.keys().map(ToString::to_string).collect();
            for role in names {
                let tags: Vec<String> = match tag {
                    Some(t) if repo.targets[role.as_str()].signed.targets.contains_key(t) => {
                        vec![t.to_owned()]
                    }
                    Some(_) => continue,
                    None => repo.targets[role.as_str()]
                        .signed
                        .targets
                        .keys()
                        .cloned()
                        .collect(),
                };
                if tags.is_empty() {
                    continue;
                }
                let signing: Vec<&PrivateKey> = role_keys
                    .iter()
                    .filter(|k| authorised(repo, &self.repo, &role, k).is_ok())
                    .collect();
                // A tag is looked up in targets/releases, then in targets
                // (`decide::TAG_RULE`): revoking it from one of them while
                // the other still lists it would bring back that digest.
                // So it goes from both; what no key here signs is staged
                // for its holders. A signer's own role decides nothing.
                let decides = role == "targets"
                    || role == RELEASES
                    || super::delegator_of(&role).is_some_and(|p| p == RELEASES || p == "targets")
                        && crate::tuf::bin_versions::slot(&role).is_some();
                if signing.is_empty() && !decides {
                    report.kept.extend(tags.into_iter().map(|t| (t, role.clone())));
                    continue;
                }
                for t in tags {
                    repo.remove_target(&role, &t, now).map_err(bug)?;
                    report.removed.push((t, role.clone()));
                }
                for key in signing {
                    if let Some(r) = repo.targets.get_mut(role.as_str()) {
                        r.sign(key).map_err(bug)?;
                    }
                }
            }
            if report.removed.is_empty() {
                let what = tag.map_or_else(|| self.repo.clone(), |t| format!("{}:{t}", self.repo));
                return Err(match report.kept.first() {
                    None => TrustError::NothingToRevoke { what },
                    Some((_, role)) => TrustError::NoKeyToRevoke {
                        what,
                        role: role.clone(),
                    },
                });
            }
            Ok(report)
        })
    }
}

/// Signs the top-level `targets` role only: the owner's key signs what the
/// owner changed, never (say) a k-of-n role it happens to be listed in.
pub(super) fn sign_top_targets(repo: &mut MetadataEditor, key: &PrivateKey) -> Result<(), TrustError> {
    match repo.targets.get_mut("targets") {
        Some(role) => role.sign(key).map_err(bug),
        None => Err(TrustError::bug("the repository has no targets role")),
    }
}

/// The roles `targets` delegates to that `key` may sign.
pub(super) fn signable_delegations(repo: &MetadataEditor, key: &PrivateKey) -> Vec<String> {
    let id = crate::tuf::KeyId::from(key.public().key_id());
    repo.targets["targets"]
        .signed
        .delegations
        .iter()
        .flat_map(|d| d.roles.iter().flatten())
        .filter(|r| r.keyids.contains(&id))
        .map(|r| r.name.to_string())
        .collect()
}

/// Valid signatures and threshold of a delegated role as it stands.
pub(crate) fn signature_count(repo: &MetadataEditor, role: &str) -> Option<(u64, u64)> {
    let (keys, ids, threshold) = super::signers_of(repo, role)?;
    let signed = repo.targets.get(role)?;
    let canonical = crate::tuf::metadata::signed_bytes(&signed.signed).ok()?;
    let count = crate::tuf::crypto::count_signatures(
        role,
        signed.signed.version,
        &canonical,
        &signed.signatures,
        &keys,
        &ids,
    )
    .ok()?;
    Some((count.valid.len() as u64, threshold))
}

/// What `revoke` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevokeReport {
    /// (tag, role) removed.
    pub removed: Vec<(String, String)>,
    /// (tag, role) that no key here may sign, left as they were.
    pub kept: Vec<(String, String)>,
}
