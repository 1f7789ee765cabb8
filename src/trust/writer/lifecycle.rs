//! Keys over time: root changes, key rotation, recovery from a stolen
//! key, renewal of expiring or expired metadata. Each is one change of the
//! live trust data, signed with the keys held here, published when every
//! threshold is met (a new root: the old root's and its own) and staged
//! for the other holders otherwise (`staging`).
//!
//! These are the repairs, so they build on trust data whose timestamp has
//! expired, checked against this machine's cache (`Writer::repairing`).

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};
use vouch_keys::{PrivateKey, PublicKey};

use super::staging::Outcome;
use super::{Publishing, Writer, bug, signers_of};
use crate::trust::RELEASES;
use crate::trust::error::{Rebuild, TrustError};
use crate::trust::load::WriterState;
use crate::trust::record::Record;
use crate::tuf::editor::MetadataEditor;
use crate::tuf::metadata::{KeyId, RoleName, Root};

/// One key change of `vouch key rotate`: `role` (`root`, `targets`,
/// `snapshot`, `timestamp`, or a signer's `targets/NAME`) takes `new` in
/// place of the key ids `old`.
#[derive(Clone, Debug)]
pub struct KeyChange {
    /// The role.
    pub role: String,
    /// The key ids replaced (checked against the live data).
    pub old: Vec<KeyId>,
    /// The new key.
    pub new: PublicKey,
}

/// A tag whose meaning a recovery changed: what the store served before
/// it, and what it serves after (`None`: not signed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagChange {
    /// The tag.
    pub tag: String,
    /// The digest the store served.
    pub served: Option<String>,
    /// The digest it is signed as now.
    pub now: Option<String>,
}

/// Changes to the root: keys of any top-level role, thresholds, expiry.
#[derive(Clone, Debug, Default)]
pub struct RootEdit {
    /// Root keys to add.
    pub add: Vec<PublicKey>,
    /// Root key ids to remove.
    pub remove: Vec<KeyId>,
    /// A new root threshold.
    pub threshold: Option<u64>,
    /// A new validity period for this and later root versions.
    pub expires: Option<Duration>,
}

/// Signs what the change made with the keys held here: a new root with
/// every key of the live root's or its own root role, each changed
/// targets role with every key that role authorises.
fn sign_held(repo: &mut MetadataEditor, live_root: &Root, held: &[PrivateKey]) -> Result<(), TrustError> {
    if repo.root.signed != *live_root {
        for key in held {
            let id = KeyId::from(key.public().key_id());
            let may = [live_root, &repo.root.signed]
                .iter()
                .any(|r| r.roles.get("root").is_some_and(|k| k.keyids.contains(&id)));
            if may {
                repo.root.sign(key).map_err(bug)?;
            }
        }
        repo.publish_root().map_err(bug)?;
    }
    let changed: Vec<String> = repo.changed_roles().map(str::to_owned).collect();
    for role in changed {
        let Some((_, ids, _)) = signers_of(repo, &role) else {
            continue;
        };
        for key in held {
            if ids.contains(&KeyId::from(key.public().key_id()))
                && let Some(r) = repo.targets.get_mut(role.as_str())
            {
                r.sign(key).map_err(bug)?;
            }
        }
    }
    Ok(())
}

/// Renews `role` and, when it keeps its tags in bins, every bin.
fn renew_with_bins(repo: &mut MetadataEditor, role: &str, now: OffsetDateTime) -> Result<(), TrustError> {
    repo.renew(role, now).map_err(|source| TrustError::EditRefused {
        source,
        hint: "`vouch inspect` lists the roles",
    })?;
    if let Some(bins) = repo.bins_of(role).cloned() {
        for n in 0..bins.bins() {
            let name = bins.bin_name(n);
            if repo.targets.contains_key(&name) {
                repo.renew(name.as_str(), now).map_err(bug)?;
            }
        }
    }
    Ok(())
}

/// What each tag is signed as, by the tag rule (`targets/releases` and
/// its bins first, then `targets` and its bins).
fn resolved_tags(repo: &MetadataEditor) -> BTreeMap<String, Option<String>> {
    let mut out = tags_of(repo, "targets");
    if repo.delegation("targets", RELEASES).is_some() {
        out.extend(tags_of(repo, RELEASES));
    }
    out
}

/// After targets was rebuilt: a `targets/releases` its rebuilt delegation
/// no longer authorises (a key the thief added signed it) is rebuilt from
/// this machine's record of the versions it published, counting only
/// versions that keys the rebuilt delegation lists signed, and every
/// removal. Its signers then sign it again (staged), shown what changed.
/// With nothing recorded of it, it is left as served, for its signers to
/// judge.
fn restore_releases(
    repo: &mut MetadataEditor,
    record: &Record,
    now: OffsetDateTime,
) -> Result<(), TrustError> {
    if !repo.targets.contains_key(RELEASES) || super::staging::shortfalls(repo, [RELEASES]).is_empty() {
        return Ok(());
    }
    let Some((allowed, _)) = repo.delegation("targets", RELEASES) else {
        return Ok(());
    };
    let Some(tags) = record.replay_tags(role_or_its_bins(RELEASES), |e| {
        e.keyids.iter().any(|k| allowed.iter().any(|a| a == k.as_str()))
    })?
    else {
        return Ok(());
    };
    renew_with_bins(repo, RELEASES, now)?;
    place_tags(repo, RELEASES, tags)
}

/// Makes `tags` what `holder` signs: in its own list, or, where it keeps
/// its tags in bins, each in its bin (every bin emptied first).
fn place_tags(
    repo: &mut MetadataEditor,
    holder: &str,
    tags: BTreeMap<String, crate::tuf::metadata::TargetFile>,
) -> Result<(), TrustError> {
    let Some(bins) = repo.bins_of(holder).cloned() else {
        if let Some(r) = repo.targets.get_mut(holder) {
            r.signed.targets = tags;
        }
        return Ok(());
    };
    for n in 0..bins.bins() {
        if let Some(bin) = repo.targets.get_mut(&bins.bin_name(n)) {
            bin.signed.targets = BTreeMap::new();
        }
    }
    for (tag, target) in tags {
        let name = bins.bin_for(&tag);
        let bin = repo
            .targets
            .get_mut(&name)
            .ok_or_else(|| bug(format!("bin {name} is not loaded")))?;
        bin.signed.targets.insert(tag, target);
    }
    Ok(())
}

/// The tags of `role` and its bins, with their digests.
fn tags_of(repo: &MetadataEditor, role: &str) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    let mut names = vec![role.to_owned()];
    if let Some(bins) = repo.bins_of(role) {
        names.extend((0..bins.bins()).map(|n| bins.bin_name(n).to_string()));
    }
    for name in names {
        if let Some(r) = repo.targets.get(name.as_str()) {
            for (tag, t) in &r.signed.targets {
                out.insert(tag.clone(), t.hashes.get("sha256").map(|h| format!("sha256:{h}")));
            }
        }
    }
    out
}

impl<'s> Writer<'s> {
    /// Applies `edit` to the live data (read with the bins, and built on
    /// an expired timestamp if need be), signs what it made with `held`,
    /// and publishes when every threshold is met and `publishing` is given;
    /// stages it otherwise.
    pub fn change_keys<R>(
        &self,
        held: &[PrivateKey],
        publishing: Option<Publishing<'_>>,
        summary: &str,
        by: &str,
        mut edit: impl FnMut(&mut MetadataEditor, &WriterState, OffsetDateTime) -> Result<R, TrustError>,
    ) -> Result<(R, Outcome), TrustError> {
        let writer = Writer {
            mode: crate::trust::load::Building::Repair,
            ..self.clone_writer()
        };
        writer.change_or_stage(publishing, None, summary, by, |repo, state, now| {
            let out = edit(repo, state, now)?;
            sign_held(repo, &state.repo.root.signed, held)?;
            Ok(out)
        })
    }

    /// A new root version: root keys added or removed, a new threshold or
    /// validity period (with none of these: renewed as it is).
    pub fn change_root(
        &self,
        change: &RootEdit,
        held: &[PrivateKey],
        publishing: Option<Publishing<'_>>,
        by: &str,
    ) -> Result<Outcome, TrustError> {
        let summary = root_summary(change);
        let ((), outcome) = self.change_keys(held, publishing, &summary, by, |repo, _, now| {
            if let Some(d) = change.expires {
                repo.expiries.root = d;
            }
            if change.add.is_empty() && change.remove.is_empty() && change.threshold.is_none() {
                repo.bump_root(now);
            } else {
                repo.edit_top_level("root", &change.add, &change.remove, change.threshold, now)
                    .map_err(|source| TrustError::EditRefused {
                        source,
                        hint: "`vouch inspect` lists the root keys",
                    })?;
            }
            Ok(())
        })?;
        Ok(outcome)
    }

    /// Replaces keys (`vouch key rotate`): top-level roles in a new root
    /// version, a signer's key in `targets`' delegations; every role the
    /// replaced keys signed is signed again (with bumped versions) in the
    /// same change. With `compromised`, `targets` (and its bins) is
    /// rebuilt from this machine's record of what it published, not from
    /// what the store serves, and the tags whose meaning that changes are
    /// returned.
    pub fn rotate(
        &self,
        changes: &[KeyChange],
        compromised: bool,
        held: &[PrivateKey],
        publishing: Option<Publishing<'_>>,
        by: &str,
    ) -> Result<(Vec<TagChange>, Outcome), TrustError> {
        let record = Record::new(&self.trust, &self.repo);
        if compromised
            && let Some(c) = changes
                .iter()
                .find(|c| !matches!(c.role.as_str(), "root" | "targets" | "snapshot" | "timestamp"))
        {
            return Err(TrustError::Rebuild(Rebuild::SignerRole { role: c.role.clone() }));
        }
        let rebuild = compromised && changes.iter().any(|c| c.role == "targets");
        if rebuild && record.entries()?.is_none() {
            return Err(TrustError::Rebuild(Rebuild::NoRecord {
                repo: self.repo.clone(),
                record: record.path().display().to_string(),
            }));
        }
        let roles: Vec<&str> = changes.iter().map(|c| c.role.as_str()).collect();
        let summary = format!(
            "{} key(s) of {}",
            if compromised {
                "replace compromised"
            } else {
                "rotate"
            },
            roles.join(", ")
        );
        self.change_keys(held, publishing, &summary, by, |repo, state, now| {
            if rebuild {
                restore_from_record(repo, &record, now)?;
            }
            for c in changes {
                rotate_one(repo, c, now)?;
            }
            if rebuild {
                // A delegated role signed by keys the rebuilt delegations
                // no longer list is signed again by those they list
                // (staged for them), the thief's version shown to them.
                super::signers::resign_what_falls_short(repo, now)?;
            }
            if rebuild {
                restore_releases(repo, &record, now)?;
            }
            let before = resolved_tags(&state.repo);
            let after = resolved_tags(repo);
            let mut changed = Vec::new();
            for tag in before
                .keys()
                .chain(after.keys())
                .collect::<std::collections::BTreeSet<_>>()
            {
                let (was, is) = (
                    before.get(tag).cloned().flatten(),
                    after.get(tag).cloned().flatten(),
                );
                if was != is {
                    changed.push(TagChange {
                        tag: tag.clone(),
                        served: was,
                        now: is,
                    });
                }
            }
            Ok(changed)
        })
    }

    /// Renews `roles` (`root`, a targets role; snapshot and timestamp are
    /// renewed by every publish) with fresh expiry dates.
    pub fn renew_roles(
        &self,
        roles: &[String],
        held: &[PrivateKey],
        publishing: Option<Publishing<'_>>,
        by: &str,
    ) -> Result<Outcome, TrustError> {
        let summary = format!("renew {}", roles.join(", "));
        let ((), outcome) = self.change_keys(held, publishing, &summary, by, |repo, _, now| {
            for role in roles {
                match role.as_str() {
                    "root" => repo.bump_root(now),
                    "snapshot" | "timestamp" => {}
                    r => renew_with_bins(repo, r, now)?,
                }
            }
            Ok(())
        })?;
        Ok(outcome)
    }
}

fn root_summary(change: &RootEdit) -> String {
    let mut parts = Vec::new();
    for k in &change.add {
        parts.push(format!("add root key {}", k.key_id().short()));
    }
    for id in &change.remove {
        parts.push(format!("remove root key {}", id.short()));
    }
    if let Some(t) = change.threshold {
        parts.push(format!("root threshold {t}"));
    }
    if parts.is_empty() {
        parts.push("renew root".to_owned());
    }
    parts.join(", ")
}

/// Whether a role is `holder` or one of its bins (by vouch's naming of
/// bins, as [`super::delegator_of`] reads it).
fn role_or_its_bins(holder: &str) -> impl Fn(&str) -> bool + '_ {
    move |role| {
        role == holder
            || (crate::tuf::bin_versions::slot(role).is_some()
                && super::delegator_of(role).as_deref() == Some(holder))
    }
}

/// Puts back `targets` and its bins as this machine made them (the
/// record's changes made here, replayed: never what a thief added and
/// this machine only carried over), at new versions above what the store
/// serves.
fn restore_from_record(
    repo: &mut MetadataEditor,
    record: &Record,
    now: OffsetDateTime,
) -> Result<(), TrustError> {
    let rebuilt = match record.rebuild(role_or_its_bins("targets"), repo)? {
        Some(r) if r.made_here => r,
        _ => {
            return Err(TrustError::Rebuild(Rebuild::NotMadeHere));
        }
    };
    let live_bins = repo.bins_of("targets").cloned();
    let bins = rebuilt
        .delegations
        .as_ref()
        .and_then(|d| d.succinct_roles.clone());
    let same = |a: &crate::tuf::metadata::SuccinctRoles, b: &crate::tuf::metadata::SuccinctRoles| {
        a.name_prefix == b.name_prefix && a.bit_length == b.bit_length
    };
    match (&live_bins, &bins) {
        (None, None) => {}
        (Some(a), Some(b)) if same(a, b) => {}
        _ => {
            return Err(TrustError::Rebuild(Rebuild::OtherBins));
        }
    }
    repo.renew("targets", now).map_err(bug)?;
    let reached: std::collections::BTreeSet<RoleName> = rebuilt
        .delegations
        .iter()
        .flat_map(|d| d.roles.iter().flatten().map(|r| r.name.clone()))
        .collect();
    if let Some(t) = repo.targets.get_mut("targets") {
        t.signed.delegations = rebuilt.delegations.clone();
        t.signed.targets = BTreeMap::new();
    }
    // Roles the rebuilt targets does not delegate to stay listed in
    // snapshot and are not republished.
    let unreached: Vec<RoleName> = repo
        .targets
        .keys()
        .filter(|n| n.as_str().starts_with("targets/") && !reached.contains(*n))
        .cloned()
        .collect();
    for n in unreached {
        repo.targets.remove(&n);
    }
    // A role the rebuilt targets delegates to must be one the store still
    // serves: it is not made up here.
    if let Some(missing) = reached.iter().find(|r| !repo.targets.contains_key(*r)) {
        return Err(TrustError::Rebuild(Rebuild::RoleGone {
            role: missing.to_string(),
        }));
    }
    // Bins were checked to be the ones served: each is renewed, emptied
    // and given back its own tags.
    renew_with_bins(repo, "targets", now)?;
    place_tags(repo, "targets", rebuilt.tags)
}

/// One key change, and the re-signing it needs.
fn rotate_one(repo: &mut MetadataEditor, c: &KeyChange, now: OffsetDateTime) -> Result<(), TrustError> {
    let refused = |source| TrustError::EditRefused {
        source,
        hint: "`vouch inspect` lists the keys of each role",
    };
    match c.role.as_str() {
        "root" | "targets" | "snapshot" | "timestamp" => {
            let threshold = repo.root.signed.roles.get(c.role.as_str()).map(|r| r.threshold);
            repo.edit_top_level(&c.role, std::slice::from_ref(&c.new), &c.old, threshold, now)
                .map_err(refused)?;
            if c.role == "targets" {
                // Bins take the new key; everything the old key signed
                // is signed again.
                repo.sync_bin_keys("targets", now).map_err(refused)?;
                renew_with_bins(repo, "targets", now)?;
            }
        }
        signer => {
            let role = if signer.starts_with("targets/") {
                signer.to_owned()
            } else {
                format!("targets/{signer}")
            };
            if role == RELEASES {
                return Err(TrustError::edit(
                    "targets/releases holds every signer's key",
                    "name the signer whose key to rotate: `vouch key rotate REPO NAME`",
                ));
            }
            let Some((keys, ids, threshold)) = signers_of(repo, &role) else {
                return Err(TrustError::edit(
                    format!("{role} is not a signer of this repository"),
                    "`vouch inspect` lists the signers",
                ));
            };
            let mut new_keys: Vec<PublicKey> = Vec::new();
            for id in ids.iter().filter(|i| !c.old.contains(i)) {
                let key = keys
                    .get(id)
                    .and_then(public_of)
                    .ok_or_else(|| bug(format!("key {id} of {role} cannot be read back")))?;
                new_keys.push(key);
            }
            new_keys.push(c.new.clone());
            repo.set_delegation_keys(
                "targets",
                &role,
                &new_keys,
                threshold.min(new_keys.len() as u64),
                now,
            )
            .map_err(refused)?;
            // The signer's own role, signed again with the new key.
            if repo.targets.contains_key(role.as_str()) {
                renew_with_bins(repo, &role, now)?;
            }
            if repo.delegation("targets", RELEASES).is_some() {
                let (release_ids, release_threshold) =
                    repo.delegation("targets", RELEASES).unwrap_or_default();
                let release_keys = repo.delegation_keys("targets");
                let mut keys: Vec<PublicKey> = release_ids
                    .iter()
                    .filter(|i| !c.old.contains(i))
                    .filter_map(|i| release_keys.get(i).and_then(public_of))
                    .collect();
                keys.push(c.new.clone());
                repo.set_delegation_keys("targets", RELEASES, &keys, release_threshold, now)
                    .map_err(refused)?;
                repo.sync_bin_keys(RELEASES, now).map_err(refused)?;
                if repo.targets.contains_key(RELEASES) {
                    renew_with_bins(repo, RELEASES, now)?;
                }
            }
        }
    }
    Ok(())
}

/// A public key back from its TUF form (ed25519 and P-256 keys as vouch
/// writes them).
fn public_of(key: &crate::tuf::metadata::Key) -> Option<PublicKey> {
    crate::tuf::crypto::public_key_of(key)
}
