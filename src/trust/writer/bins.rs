//! Succinct hashed bins: when a role moves its tags into bins, how many,
//! and signing into them.

use time::{Duration, OffsetDateTime};
use vouch_keys::PrivateKey;

use super::{authorised, bug};
use crate::trust::error::TrustError;
use crate::tuf::editor::MetadataEditor;
use crate::tuf::metadata::{KeyId, RoleName, TargetFile};

pub use crate::tuf::bin_versions::RENEW_AFTER;

/// Past this many tags, the role that holds tags moves them into succinct
/// hashed bins (docs/trust-format.md, "Bins"): about 46 KB of flat
/// targets, what a cold lookup of one bin with its share of snapshot reads
/// at 100,000 tags.
pub const BIN_THRESHOLD: usize = 256;

/// The prefix of the bins of `holder`: `b` for `targets` (bins `b-3ff`),
/// `rb` for `targets/releases` (`rb-3ff`). Short, because snapshot names
/// every bin and a one-tag sign rewrites snapshot; and no signer role
/// (`targets/NAME`) or top-level role can be named so.
pub fn bin_prefix(holder: &str) -> String {
    match holder {
        "targets" => "b".to_owned(),
        _ => "rb".to_owned(),
    }
}

/// Most bins a role delegates to, as a bit length: 4,096 (a digest lookup
/// reads every role, and snapshot names every bin).
pub const MAX_BIN_BITS: u32 = 12;

/// How many bins (as a bit length) suit `tags` tags: the power of two
/// nearest sqrt(3 x tags), where the share of snapshot that lists the bins
/// (about 40 bytes a bin) and one bin (about 115 bytes a tag) weigh about
/// the same: 512 bins of about 200 tags at 100,000 tags. At least 16.
pub fn bin_bits_for(tags: usize) -> u32 {
    let ideal = (3.0 * tags.max(1) as f64).log2() / 2.0;
    (ideal.round() as u32).clamp(4, MAX_BIN_BITS)
}

/// Whether `holder` should move its tags into bins to sign `targets`:
/// the bit length, when it would hold more than [`BIN_THRESHOLD`].
pub(super) fn bins_needed(
    repo: &MetadataEditor,
    holder: &str,
    targets: &[(String, TargetFile)],
) -> Option<u32> {
    let holder_md = &repo.targets.get(holder)?.signed;
    // A role that delegates to others (a migrated repository's roles) keeps
    // its tags: bins would take its delegations' place.
    if holder_md
        .delegations
        .as_ref()
        .is_some_and(|d| d.roles.as_ref().is_some_and(|r| !r.is_empty()))
    {
        return None;
    }
    let listed = &holder_md.targets;
    let new: std::collections::BTreeSet<&str> = targets
        .iter()
        .map(|(t, _)| t.as_str())
        .filter(|t| !listed.contains_key(*t))
        .collect();
    let total = listed.len() + new.len();
    (total > BIN_THRESHOLD).then(|| bin_bits_for(total))
}

/// [`Writer::sign`] where `holder` keeps its tags in `bins`: each tag goes
/// into its bin, and each key signs the bins of the tags it signs (a
/// co-signer of a k-of-n role adds its signature to the same content) and
/// the holder itself when it lacks that key's signature (after a
/// conversion, its new delegation to the bins). Signer roles
/// (`targets/NAME`) are not written: they would list every tag.
#[allow(clippy::too_many_arguments)]
pub(super) fn sign_into_bins(
    repo: &mut MetadataEditor,
    repo_id: &str,
    holder: &str,
    bins: &crate::tuf::metadata::SuccinctRoles,
    converted: bool,
    signers: &[PrivateKey],
    targets: &[(String, TargetFile)],
    now: OffsetDateTime,
) -> Result<(), TrustError> {
    repo.sync_bin_keys(holder, now).map_err(bug)?;
    let mut touched = std::collections::BTreeSet::new();
    for (tag, target) in targets {
        let bin = bins.bin_for(tag);
        repo.add_target(bin.as_str(), tag, target.clone(), now)
            .map_err(|source| TrustError::EditRefused {
                source,
                hint: "check the tag",
            })?;
        touched.insert(bin);
    }
    // Just converted: every bin is new, and holds tags that were signed
    // in the holder; renewals: bins and holder signed long ago.
    let renew = now + (Duration::days(365) - RENEW_AFTER);
    let loaded: Vec<RoleName> = repo
        .targets
        .iter()
        .filter(|(name, r)| {
            // Renewed: every bin just converted, bins and holder signed
            // long ago, and bins whose version is not bound to their name
            // (signed by a vouch before 2026-12-05; readers refuse them).
            let legacy = bins.is_bin(name.as_str())
                && crate::tuf::bin_versions::slot(name.as_str()).is_some()
                && !crate::tuf::bin_versions::bound_to(name.as_str(), r.signed.version);
            (bins.is_bin(name.as_str()) || name.as_str() == holder)
                && (converted || r.signed.expires.at < renew || legacy)
        })
        .map(|(name, _)| name.clone())
        .collect();
    for role in loaded {
        if role != holder {
            repo.renew(role.as_str(), now).map_err(bug)?;
            touched.insert(role);
        } else if !converted {
            repo.renew(role.as_str(), now).map_err(bug)?;
        }
    }
    for key in signers {
        authorised(repo, repo_id, holder, key)?;
        let id = KeyId::from(key.public().key_id());
        for role in touched.iter().map(RoleName::as_str).chain([holder]) {
            if let Some(r) = repo.targets.get_mut(role)
                && (role != holder || !r.signatures.iter().any(|s| s.keyid == id))
            {
                r.sign(key).map_err(bug)?;
            }
        }
    }
    Ok(())
}
