//! Which of the keys in the trust directory a writer signs with. Keys are
//! chosen by key id against the verified metadata (a key file's id is
//! recomputed from its public key by the key manager), never by the labels
//! a key file carries.

use std::collections::BTreeSet;

use vouch_keys::{StoredKey, TrustDir};

use super::decide::{RELEASES, tag_holder};
use super::error::TrustError;
use crate::tuf::KeyId;
use crate::tuf::editor::MetadataEditor;

/// The keys here whose ids are among `ids`, newest first.
fn held(dir: &TrustDir, ids: &BTreeSet<KeyId>) -> Result<Vec<StoredKey>, TrustError> {
    let mut keys: Vec<StoredKey> = dir
        .list()?
        .keys
        .into_iter()
        .filter(|k| ids.contains(k.file.info.id.as_str()))
        .collect();
    keys.sort_by_key(|k| std::cmp::Reverse(k.file.info.created));
    Ok(keys)
}

/// The key here of top-level role `role` (`targets`, `snapshot`,
/// `timestamp`, `root`) of the verified repository.
pub fn top_level(
    dir: &TrustDir,
    repo: &MetadataEditor,
    repo_id: &str,
    role: &str,
) -> Result<StoredKey, TrustError> {
    listed_by(dir, &repo.root.signed, repo_id, role)
}

/// The key here of top-level role `role` as `root` lists it.
pub fn listed_by(
    dir: &TrustDir,
    root: &crate::tuf::metadata::Root,
    repo_id: &str,
    role: &str,
) -> Result<StoredKey, TrustError> {
    let ids: BTreeSet<KeyId> = root
        .roles
        .get(role)
        .map(|r| r.keyids.iter().cloned().collect())
        .unwrap_or_default();
    held(dir, &ids)?
        .into_iter()
        .next()
        .ok_or_else(|| TrustError::KeyNotHere {
            repo: repo_id.to_owned(),
            role: role.to_owned(),
            dir: dir.path().display().to_string(),
            needs: ids.iter().map(|i| i.short().to_owned()).collect(),
        })
}

/// The key ids a delegated role of the verified repository authorises.
fn delegated_ids(repo: &MetadataEditor, role: &str) -> BTreeSet<KeyId> {
    repo.targets
        .values()
        .filter_map(|t| crate::tuf::trusted_set::delegation_signers(&t.signed, role))
        .flat_map(|(_, ids, _)| ids)
        .collect()
}

/// What `sign` signs tags with: where signers exist (`targets/releases`),
/// every signer key held here (or those named in `only`); otherwise the
/// repository's targets key.
pub fn for_signing(
    dir: &TrustDir,
    repo: &MetadataEditor,
    repo_id: &str,
    only: &[String],
) -> Result<Vec<StoredKey>, TrustError> {
    let (holder, _) = tag_holder(&repo.targets["targets"].signed);
    if holder == "targets" {
        if !only.is_empty() {
            return Err(TrustError::SignerFlagWithoutSigners {
                repo: repo_id.to_owned(),
            });
        }
        return Ok(vec![top_level(dir, repo, repo_id, "targets")?]);
    }
    let keys: Vec<StoredKey> = held(dir, &delegated_ids(repo, RELEASES))?
        .into_iter()
        .filter(|k| only.is_empty() || only.contains(&k.file.info.name))
        .collect();
    if keys.is_empty() {
        return Err(TrustError::NoSignerKeyHere {
            repo: repo_id.to_owned(),
        });
    }
    Ok(keys)
}

/// What `revoke` may use for the roles that list `tag` (any tag when
/// `None`): the keys held here that may sign each such role. An error when
/// no role lists it, or no key here may sign any role that does.
pub fn for_revoking(
    dir: &TrustDir,
    repo: &MetadataEditor,
    repo_id: &str,
    tag: Option<&str>,
) -> Result<Vec<StoredKey>, TrustError> {
    let tags = tag;
    let mut keys: Vec<StoredKey> = Vec::new();
    let mut unheld = Vec::new();
    for (name, role) in &repo.targets {
        let lists = match tags {
            Some(tag) => role.signed.targets.contains_key(tag),
            None => !role.signed.targets.is_empty(),
        };
        if !lists {
            continue;
        }
        let ids = if name == "targets" {
            repo.root
                .signed
                .roles
                .get("targets")
                .map(|r| r.keyids.iter().cloned().collect())
                .unwrap_or_default()
        } else {
            delegated_ids(repo, name.as_str())
        };
        let found = held(dir, &ids)?;
        if found.is_empty() {
            unheld.push(name.to_string());
        }
        for k in found {
            if !keys.iter().any(|have| have.file.info.id == k.file.info.id) {
                keys.push(k);
            }
        }
    }
    let what = tag.map_or_else(|| repo_id.to_owned(), |t| format!("{repo_id}:{t}"));
    // A signer revoking a tag targets also lists (or the owner one that
    // targets/releases lists) stages the other role's removal for its
    // holders: their own key signs what it may.
    if keys.is_empty() && !unheld.is_empty() {
        let mut ids = delegated_ids(repo, RELEASES);
        if let Some(r) = repo.root.signed.roles.get("targets") {
            ids.extend(r.keyids.iter().cloned());
        }
        keys = held(dir, &ids)?;
    }
    if keys.is_empty() {
        return Err(match unheld.first() {
            None => TrustError::NothingToRevoke { what },
            Some(role) => TrustError::NoKeyToRevoke {
                what,
                role: role.clone(),
            },
        });
    }
    Ok(keys)
}

/// The keys here among `ids` (only those named in `only`, if any): what an
/// approver of a staged change signs with.
pub fn for_approving(
    dir: &TrustDir,
    ids: &BTreeSet<KeyId>,
    only: &[String],
) -> Result<Vec<StoredKey>, TrustError> {
    Ok(held(dir, ids)?
        .into_iter()
        .filter(|k| only.is_empty() || only.contains(&k.file.info.name))
        .collect())
}
