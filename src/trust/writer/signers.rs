//! Signers and thresholds: `targets/releases` and each signer's role.

use vouch_keys::{PrivateKey, PublicKey};

use super::sign::sign_top_targets;
use super::{Outcome, Publishing, Writer, authorised, bug};
use crate::trust::decide::RELEASES;
use crate::trust::error::TrustError;
use crate::tuf::editor::{DelegatedPaths, Delegation, EditError, MetadataEditor};

impl<'s> Writer<'s> {
    /// Adds signer `name`: its key joins `targets/releases` (created with
    /// `threshold`, default 1, if it does not exist yet; `threshold`
    /// changes it otherwise) and gets its own role `targets/NAME`.
    ///
    /// No tag that verified stops verifying: tags signed by `targets`
    /// keep verifying through it (`decide::TAG_RULE`), a new
    /// `targets/releases` starts empty, and a raised threshold is staged
    /// with what must be signed again under it until the signers approved
    /// (see [`Writer::set_threshold`]). Published when complete and `keys`
    /// are given, staged otherwise. Returns the delegation's keys and
    /// threshold as changed.
    pub fn add_signer(
        &self,
        targets_key: &PrivateKey,
        keys: Option<Publishing<'_>>,
        name: &str,
        public: &PublicKey,
        threshold: Option<u64>,
    ) -> Result<(Outcome, (Vec<crate::tuf::KeyId>, u64)), TrustError> {
        let role = format!("targets/{name}");
        let summary = format!("add signer {name}");
        let (delegation, outcome) = self.change_or_stage(keys, None, &summary, "owner", |repo, _, now| {
            authorised(repo, &self.repo, "targets", targets_key)?;
            if repo.delegation("targets", &role).is_some() {
                return Err(TrustError::SignerExists {
                    repo: self.repo.clone(),
                    name: name.to_owned(),
                });
            }
            let all = vec!["*".to_owned()];
            let key = std::slice::from_ref(public);
            let edit = |source: EditError| TrustError::EditRefused {
                source,
                hint: "check the signer name",
            };
            if !valid_signer_name(name) {
                return Err(TrustError::BadSignerName {
                    name: name.to_owned(),
                });
            }
            // Once signers exist, tags are looked up in targets/releases,
            // then in targets itself (`decide::TAG_RULE`), so what targets
            // signed keeps verifying. targets then delegates to roles, and
            // a role cannot delegate to bins too: the tags of its bins
            // move into its own list, signed here by its key.
            repo.flatten_bins("targets", now).map_err(edit)?;
            match repo.delegation("targets", RELEASES) {
                None => repo
                    .add_delegation(
                        "targets",
                        Delegation {
                            name: RELEASES,
                            keys: key,
                            threshold: threshold.unwrap_or(1),
                            paths: DelegatedPaths::Paths(all.clone()),
                            terminating: false,
                        },
                        now,
                    )
                    .map_err(edit)?,
                Some((_, current)) => {
                    repo.add_delegation_key("targets", RELEASES, public, threshold, now)
                        .map_err(edit)?;
                    // A raised threshold reaches the bins too (they list
                    // it themselves); a key added under the same threshold
                    // joins them on the signers' next sign.
                    if threshold.is_some_and(|t| t > current) {
                        raise_bins(repo, now)?;
                    }
                }
            }
            repo.add_delegation(
                "targets",
                Delegation {
                    name: &role,
                    keys: key,
                    threshold: 1,
                    paths: DelegatedPaths::Paths(all),
                    terminating: false,
                },
                now,
            )
            .map_err(edit)?;
            resign_what_falls_short(repo, now)?;
            sign_top_targets(repo, targets_key)?;
            Ok(repo.delegation("targets", RELEASES).unwrap_or_default())
        })?;
        Ok((outcome, delegation))
    }

    /// Sets the threshold of `targets/releases`. Lowering it takes effect
    /// at once; raising it is staged with `targets/releases` and every bin
    /// to be signed again under it, so nothing that verifies stops
    /// verifying before the signers approved. Refused above the number of
    /// signer keys.
    pub fn set_threshold(
        &self,
        targets_key: &PrivateKey,
        keys: Option<Publishing<'_>>,
        threshold: u64,
    ) -> Result<Outcome, TrustError> {
        let summary = format!("set the threshold of {RELEASES} to {threshold}");
        let ((), outcome) = self.change_or_stage(keys, None, &summary, "owner", |repo, _, now| {
            authorised(repo, &self.repo, "targets", targets_key)?;
            let Some((ids, current)) = repo.delegation("targets", RELEASES) else {
                return Err(TrustError::NoSigners {
                    repo: self.repo.clone(),
                });
            };
            if threshold == 0 || threshold > ids.len() as u64 {
                return Err(TrustError::ThresholdUnmeetable {
                    repo: self.repo.clone(),
                    role: RELEASES.to_owned(),
                    keys: ids.len(),
                    threshold,
                });
            }
            if threshold == current {
                return Err(TrustError::edit(
                    format!("the threshold of {RELEASES} is {current} already"),
                    "nothing to do",
                ));
            }
            repo.set_delegation_threshold("targets", RELEASES, threshold, now)
                .map_err(|e| TrustError::bug(e.to_string()))?;
            if threshold > current {
                raise_bins(repo, now)?;
            }
            resign_what_falls_short(repo, now)?;
            sign_top_targets(repo, targets_key)?;
            Ok(())
        })?;
        Ok(outcome)
    }

    /// Removes signer `name`: its key leaves `targets/releases` and its
    /// role goes. What must be signed again without its key (releases,
    /// whose bins list the key themselves, and any bin only it signed) is
    /// staged for the remaining signers, so no tag stops verifying. A
    /// removal that would leave fewer keys than the threshold is refused
    /// unless `force`; forced, or removing the last signer,
    /// `targets/releases` goes, and the tags it alone signed (returned)
    /// stop verifying.
    pub fn remove_signer(
        &self,
        targets_key: &PrivateKey,
        keys: Option<Publishing<'_>>,
        name: &str,
        force: bool,
    ) -> Result<(Vec<String>, Outcome), TrustError> {
        let role = format!("targets/{name}");
        let summary = format!("remove signer {name}");
        self.change_or_stage(keys, None, &summary, "owner", |repo, _, now| {
            authorised(repo, &self.repo, "targets", targets_key)?;
            let (signer_keys, _) = repo.delegation("targets", &role).ok_or_else(|| {
                TrustError::NoSuchSigner {
                    repo: self.repo.clone(),
                    name: name.to_owned(),
                }
            })?;
            let edit = |source: EditError| TrustError::EditRefused {
                source,
                hint: "check the signer name",
            };
            let mut lost = Vec::new();
            if let Some((ids, threshold)) = repo.delegation("targets", RELEASES) {
                let left = ids.iter().filter(|i| !signer_keys.contains(i)).count();
                if left == 0 || (left as u64) < threshold {
                    if left > 0 && !force {
                        return Err(TrustError::edit(
                            format!(
                                "without {name}, {RELEASES} of {} would have {left} key(s) for a threshold of {threshold}: nothing could be signed again",
                                self.repo
                            ),
                            "lower the threshold first (`vouch signer threshold`), add a signer, or pass --force \
                             to withdraw targets/releases and every tag only it signs",
                        ));
                    }
                    lost = releases_only_tags(repo);
                    repo.remove_bins(RELEASES, now).map_err(edit)?;
                    repo.remove_delegation("targets", RELEASES, now).map_err(edit)?;
                } else {
                    repo.remove_delegation_keys("targets", RELEASES, &signer_keys, now)
                        .map_err(edit)?;
                    // The bins list releases' keys themselves: the removed
                    // key leaves them too.
                    if repo.bins_of(RELEASES).is_some() {
                        repo.sync_bin_keys(RELEASES, now).map_err(bug)?;
                    }
                }
            }
            repo.remove_delegation("targets", &role, now).map_err(edit)?;
            resign_what_falls_short(repo, now)?;
            sign_top_targets(repo, targets_key)?;
            Ok(lost)
        })
    }
}

/// After a raised threshold of `targets/releases`: its bins take it too
/// (releases lists it for them, so releases is signed again).
fn raise_bins(repo: &mut MetadataEditor, now: time::OffsetDateTime) -> Result<(), TrustError> {
    if repo.bins_of(RELEASES).is_some() {
        repo.sync_bin_keys(RELEASES, now).map_err(bug)?;
    }
    Ok(())
}

/// Every role the change left short of its threshold (a key withdrawn, a
/// threshold raised) is renewed: a new version for its signers to sign,
/// so that the change is published only with what is signed again, and
/// nothing that verified before stops verifying meanwhile.
pub(super) fn resign_what_falls_short(
    repo: &mut MetadataEditor,
    now: time::OffsetDateTime,
) -> Result<(), TrustError> {
    let changed: Vec<String> = repo.changed_roles().map(str::to_owned).collect();
    let loaded: Vec<String> = repo
        .targets
        .keys()
        .map(ToString::to_string)
        .filter(|n| n != "targets" && !changed.contains(n))
        .collect();
    for role in super::staging::shortfalls(repo, loaded.iter().map(String::as_str)) {
        repo.renew(&role.role, now).map_err(bug)?;
    }
    Ok(())
}

/// The tags `targets/releases` (and its bins) signs that `targets` does not
/// sign alike: what withdrawing it loses.
fn releases_only_tags(repo: &MetadataEditor) -> Vec<String> {
    let top = repo.targets.get("targets").map(|t| &t.signed.targets);
    let mut roles = vec![RELEASES.to_owned()];
    if let Some(bins) = repo.bins_of(RELEASES) {
        roles.extend((0..bins.bins()).map(|n| bins.bin_name(n).to_string()));
    }
    let mut lost: Vec<String> = roles
        .iter()
        .filter_map(|r| repo.targets.get(r.as_str()))
        .flat_map(|r| r.signed.targets.iter())
        .filter(|(tag, t)| top.and_then(|top| top.get(*tag)) != Some(*t))
        .map(|(tag, _)| tag.clone())
        .collect();
    lost.sort();
    lost.dedup();
    lost
}

/// A signer's name: its role is `targets/NAME`, so no `/` (nor `.`, which
/// bin names use), and not `releases`.
fn valid_signer_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name != "releases"
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
