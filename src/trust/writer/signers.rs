//! Signers and thresholds: `targets/releases` and each signer's role.

use vouch_keys::{PrivateKey, PublicKey};

use super::sign::sign_top_targets;
use super::{Publishing, Writer, authorised, bug};
use crate::trust::decide::RELEASES;
use crate::trust::error::TrustError;
use crate::tuf::editor::{DelegatedPaths, Delegation, EditError, MetadataEditor};

impl<'s> Writer<'s> {
    /// Adds signer `name`: its key joins `targets/releases` (created with
    /// `threshold`, default 1, if it does not exist yet; `threshold`
    /// changes it otherwise) and gets its own role `targets/NAME`.
    pub fn add_signer(
        &self,
        targets_key: &PrivateKey,
        keys: Publishing<'_>,
        name: &str,
        public: &PublicKey,
        threshold: Option<u64>,
    ) -> Result<MetadataEditor, TrustError> {
        let role = format!("targets/{name}");
        // The first signer needs every bin of targets (see below).
        let first = self.load_for(&[])?.repo.delegation("targets", RELEASES).is_none();
        let scope: Option<&[String]> = if first { None } else { Some(&[]) };
        let ((), repo) = self.publish_scoped(keys, scope, |repo, _, now| {
            authorised(repo, &self.repo, "targets", targets_key)?;
            if repo.delegation("targets", &role).is_some() {
                return Err(TrustError::edit(
                    format!("{} already has a signer {name}", self.repo),
                    "remove it first, or choose another name",
                ));
            }
            let all = vec!["*".to_owned()];
            let key = std::slice::from_ref(public);
            let edit = |e: EditError| TrustError::edit(e.to_string(), "check the signer name");
            if !valid_signer_name(name) {
                return Err(TrustError::edit(
                    format!("{name:?} is not a signer name"),
                    "use letters, digits, '-' and '_' (and not \"releases\")",
                ));
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
                    // Bins of targets/releases list its threshold
                    // themselves, and only the signers can re-sign that
                    // list: a new threshold withdraws them at once (the
                    // signers sign their tags again), as removing a
                    // signer does. A key added under the same threshold
                    // joins the bins on its first sign.
                    if threshold.is_some_and(|t| t != current) {
                        repo.remove_bins(RELEASES, now).map_err(edit)?;
                    }
                    repo.add_delegation_key("targets", RELEASES, public, threshold, now)
                        .map_err(edit)?
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
            sign_top_targets(repo, targets_key)?;
            Ok(())
        })?;
        Ok(repo)
    }

    /// Removes signer `name`: its key leaves `targets/releases` (which goes
    /// when no key is left) and its role goes. Roles left with no valid
    /// signature from their remaining keys are emptied (returned): what
    /// only that signer signed no longer verifies, and is not carried on.
    pub fn remove_signer(
        &self,
        targets_key: &PrivateKey,
        keys: Publishing<'_>,
        name: &str,
    ) -> Result<(Vec<String>, MetadataEditor), TrustError> {
        let role = format!("targets/{name}");
        self.publish_scoped(keys, Some(&[]), |repo, _, now| {
            authorised(repo, &self.repo, "targets", targets_key)?;
            let (signer_keys, _) = repo.delegation("targets", &role).ok_or_else(|| {
                TrustError::edit(
                    format!("{} has no signer {name}", self.repo),
                    "`vouch inspect` lists the roles",
                )
            })?;
            let edit = |e: EditError| TrustError::edit(e.to_string(), "check the signer name");
            // Bins of targets/releases list its keys themselves, and only
            // its signers can sign a change to that list: withdrawn, so
            // the removed key signs nothing more (the remaining signers
            // sign their tags again).
            repo.remove_bins(RELEASES, now).or_else(|e| match e {
                EditError::NoSuchRole { .. } => Ok(()),
                e => Err(edit(e)),
            })?;
            if repo.delegation("targets", RELEASES).is_some()
                && repo
                    .remove_delegation_keys("targets", RELEASES, &signer_keys, now)
                    .map_err(edit)?
                    == 0
            {
                repo.remove_delegation("targets", RELEASES, now).map_err(edit)?;
            }
            repo.remove_delegation("targets", &role, now).map_err(edit)?;
            let emptied = repo.drop_unsigned_content(now).map_err(bug)?;
            sign_top_targets(repo, targets_key)?;
            Ok(emptied)
        })
    }
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
