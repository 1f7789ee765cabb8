//! The edit session every writer goes through. Each attempt loads the
//! trust data verified (`load::load_for_writing`), applies the
//! change to what verified, signs, and publishes only if nobody moved the
//! trust tag meanwhile (else it starts over, so concurrent writers lose no
//! update). Trust data that does not verify is never signed over.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};
use vouch_keys::{PrivateKey, PublicKey};

use super::Trust;
use super::cache::Cache;
use super::decide::{RELEASES, tag_holder};
use super::error::TrustError;
use super::load::{WriterState, load_for_writing};
use crate::store::Store;
use crate::store::artifact::{self, TRUST_TAG};
use crate::store::tuf_repo_dir::current_files;
use crate::tuf::TufError;
use crate::tuf::editor::{DelegatedPaths, Delegation, EditError, Expiries, MetadataEditor, RoleSetup};
use crate::tuf::metadata::TargetFile;
use crate::tuf::writer_load::WriterLoad;
use crate::tuf::{Limits, TrustedSet};

/// Attempts to publish before giving up on concurrent writers.
pub const MAX_ATTEMPTS: usize = 20;

/// Shortest pause before a publish to a registry is confirmed.
pub const SETTLE_MIN: std::time::Duration = std::time::Duration::from_millis(250);
/// Longest pause before a publish to a registry is confirmed.
pub const SETTLE_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether `served` already holds the change that made `ours` from it:
/// the same tags and delegations in every targets role, every key that
/// signed a role of ours among that role's signers there (a co-signature
/// in a k-of-n role changes nothing else), and the same expiry settings
/// (`refresh --timestamp-expiry`). Versions and expiry dates aside.
fn holds_change(ours: &MetadataEditor, served: &MetadataEditor) -> bool {
    ours.expiries == served.expiries
        && ours.targets.len() == served.targets.len()
        && ours.targets.iter().all(|(name, role)| {
            served.targets.get(name).is_some_and(|other| {
                role.signed.targets == other.signed.targets
                    && role.signed.delegations == other.signed.delegations
                    && role
                        .signatures
                        .iter()
                        .all(|sig| other.signatures.iter().any(|o| o.keyid == sig.keyid))
            })
        })
}

/// The online keys every publish signs with.
#[derive(Clone, Copy, Debug)]
pub struct Publishing<'k> {
    /// The snapshot key; without it only the timestamp is re-signed.
    pub snapshot: Option<&'k PrivateKey>,
    /// The timestamp key.
    pub timestamp: &'k PrivateKey,
}

fn bug(e: impl std::fmt::Display) -> TrustError {
    TrustError::edit(e.to_string(), "report this as a bug")
}

/// Refuses a key that the verified metadata does not authorise for `role`.
fn authorised(repo: &MetadataEditor, repo_id: &str, role: &str, key: &PrivateKey) -> Result<(), TrustError> {
    let id = key.public().key_id().to_string();
    let ok = match role {
        "root" | "targets" | "snapshot" | "timestamp" => repo
            .root
            .signed
            .roles
            .get(role)
            .is_some_and(|r| r.keyids.contains(&id)),
        _ => repo
            .targets
            .values()
            .filter_map(|t| crate::tuf::trusted_set::delegation_signers(&t.signed, role))
            .any(|(_, ids, _)| ids.contains(&id)),
    };
    if ok {
        Ok(())
    } else {
        Err(TrustError::edit(
            format!(
                "key {} is not a key of {repo_id}'s {role} role",
                key.public().key_id().short()
            ),
            "`vouch inspect` lists the role keys; use the repository's own key",
        ))
    }
}

/// Writes one repository's trust data.
#[derive(Debug)]
pub struct Writer<'s> {
    trust: Trust,
    repo: String,
    store: &'s dyn Store,
    /// Renewing this machine's verified state: may build on an expired
    /// timestamp (`refresh`).
    repair: bool,
}

impl<'s> Writer<'s> {
    /// A writer of `repo` in `store`.
    pub fn new(trust: &Trust, repo: &str, store: &'s dyn Store) -> Writer<'s> {
        Writer {
            trust: trust.clone(),
            repo: repo.to_owned(),
            store,
            repair: false,
        }
    }

    /// A writer that renews this machine's verified state (`refresh`): it
    /// may build on trust data whose timestamp expired, checked against
    /// this machine's cache, which no other writer does.
    pub fn repairing(mut self) -> Writer<'s> {
        self.repair = true;
        self
    }

    /// The repository.
    pub fn repository(&self) -> &str {
        &self.repo
    }

    /// The trust directory settings.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// The store written.
    pub fn store(&self) -> &'s dyn Store {
        self.store
    }

    /// The trust data as verified for editing (to learn which keys an
    /// edit needs before unlocking them).
    pub fn load(&self) -> Result<WriterState, TrustError> {
        load_for_writing(&self.trust, &self.repo, self.store, None, self.repair)
    }

    /// [`Writer::load`], reading of the hashed bins only those that hold
    /// `tags` (none: only the roles above the bins, enough to learn which
    /// keys sign what).
    pub fn load_for(&self, tags: &[String]) -> Result<WriterState, TrustError> {
        load_for_writing(&self.trust, &self.repo, self.store, Some(tags), self.repair)
    }

    /// Loads verified, applies `change`, signs a new snapshot (with its
    /// key) and timestamp, and publishes if the trust tag did not move;
    /// starts over otherwise. Returns what `change` returned and the
    /// published state.
    ///
    /// A registry has no compare-and-swap: a publisher on another machine
    /// that checked the trust tag just before this one's write lands can
    /// overwrite it. So a publish to a store without atomic tags is
    /// confirmed (`Writer::confirm`); when another publisher overwrote
    /// it, the change is applied again to what the registry now serves,
    /// unless that already holds it.
    pub fn publish<R>(
        &self,
        keys: Publishing<'_>,
        change: impl FnMut(&mut MetadataEditor, &WriterState, OffsetDateTime) -> Result<R, TrustError>,
    ) -> Result<(R, MetadataEditor), TrustError> {
        self.publish_scoped(keys, None, change)
    }

    /// [`Writer::publish`] for a change that touches, of the hashed bins,
    /// only those holding `bins_for` (the tags it signs or revokes; `None`:
    /// it may touch any). The other bins are not read, and the new
    /// artifact references them as the old one did.
    pub fn publish_scoped<R>(
        &self,
        keys: Publishing<'_>,
        bins_for: Option<&[String]>,
        mut change: impl FnMut(&mut MetadataEditor, &WriterState, OffsetDateTime) -> Result<R, TrustError>,
    ) -> Result<(R, MetadataEditor), TrustError> {
        let mut overwritten = false;
        for _ in 0..MAX_ATTEMPTS {
            let state = load_for_writing(&self.trust, &self.repo, self.store, bins_for, self.repair)?;
            let mut repo = state.repo.clone();
            let now = OffsetDateTime::now_utc();
            let out = change(&mut repo, &state, now)?;
            // What is served now already holds this change (another
            // publisher built on ours, or made the same change); it counts
            // once it is confirmed like a publish of our own.
            if overwritten
                && holds_change(&repo, &state.repo)
                && self.kept(&state.artifact, std::time::Duration::ZERO)?
            {
                Cache::new(&self.trust.dir, &self.repo).record_published(&state.repo, &state.artifact)?;
                return Ok((out, state.repo));
            }
            let Some((digest, swap)) =
                self.sign_and_publish(&mut repo, keys, Some(&state.previous), Some(&state.artifact), now)?
            else {
                continue;
            };
            if self.kept(&digest, swap)? {
                Cache::new(&self.trust.dir, &self.repo).record_published(&repo, &digest)?;
                return Ok((out, repo));
            }
            overwritten = true;
        }
        Err(TrustError::Contended {
            repo: self.repo.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Whether a publish that began at `started` is what the store keeps:
    /// at once for a store with atomic tags, else [`Writer::confirm`].
    fn kept(&self, digest: &str, swap: std::time::Duration) -> Result<bool, TrustError> {
        Ok(self.store.atomic_tags() || self.confirm(digest, swap)?)
    }

    /// Whether the trust tag still points at what this writer published
    /// (`digest`): read right away and again after a pause longer than
    /// another publisher's check-then-write takes (at least
    /// [`SETTLE_MIN`], four times this publisher's own check-and-move of
    /// the tag, `swap`, at most
    /// [`SETTLE_MAX`]), so a write that had already checked the old tag
    /// when this one landed has landed too. A failure to read is an error:
    /// never reported as published.
    fn confirm(&self, digest: &str, swap: std::time::Duration) -> Result<bool, TrustError> {
        let settle = (swap * 4).clamp(SETTLE_MIN, SETTLE_MAX);
        for pause in [std::time::Duration::ZERO, settle] {
            std::thread::sleep(pause);
            let served = self.store.head(TRUST_TAG).map_err(|e| TrustError::Unconfirmed {
                repo: self.repo.clone(),
                detail: e.to_string(),
            })?;
            if served.as_deref() != Some(digest) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn sign_and_publish(
        &self,
        repo: &mut MetadataEditor,
        keys: Publishing<'_>,
        previous: Option<&artifact::TrustArtifact>,
        expected: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<(String, std::time::Duration)>, TrustError> {
        authorised(repo, &self.repo, "timestamp", keys.timestamp)?;
        match keys.snapshot {
            Some(key) => {
                authorised(repo, &self.repo, "snapshot", key)?;
                repo.bump_snapshot(now);
                repo.snapshot.sign(key).map_err(bug)?;
            }
            None => {
                let listed = &repo.snapshot.signed.meta;
                let stale = repo.targets.iter().any(|(name, t)| {
                    listed
                        .get(&crate::tuf::metadata::meta_key(name))
                        .map(|m| m.version)
                        != Some(t.signed.version)
                });
                if stale {
                    return Err(TrustError::edit(
                        "this change needs a new snapshot, and no snapshot key was given",
                        "report this as a bug",
                    ));
                }
            }
        }
        repo.bump_timestamp(now).map_err(bug)?;
        repo.timestamp.sign(keys.timestamp).map_err(bug)?;
        let files = current_files(repo).map_err(bug)?;
        // Every bin delegated to, read or not, at the version snapshot
        // lists: an unread bin is carried forward by exactly that file.
        let listed = &repo.snapshot.signed.meta;
        let bins = repo
            .targets
            .values()
            .filter_map(|t| t.signed.delegations.as_ref()?.succinct_roles.as_ref())
            .flat_map(|b| (0..b.bins()).map(|n| b.bin_name(n)))
            .map(|name| {
                let version = listed
                    .get(&crate::tuf::metadata::meta_key(&name))
                    .map(|m| m.version)
                    .ok_or_else(|| bug(format!("snapshot does not list bin {name}")))?;
                Ok((name, version))
            })
            .collect::<Result<BTreeMap<String, u64>, TrustError>>()?;
        Ok(artifact::publish(self.store, &files, &bins, previous, expected)?)
    }

    /// Signs `targets` (tag → target): where signers exist, into every
    /// role each signer key may sign among those `targets` delegates
    /// (`targets/releases` and the signer's own); otherwise into `targets`.
    pub fn sign(
        &self,
        signers: &[PrivateKey],
        keys: Publishing<'_>,
        targets: &[(String, TargetFile)],
    ) -> Result<MetadataEditor, TrustError> {
        let tags: Vec<String> = targets.iter().map(|(t, _)| t.clone()).collect();
        let ((), repo) = self.publish_scoped(keys, Some(&tags), |repo, _, now| {
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
                            .map_err(|e| TrustError::edit(e.to_string(), "check the tag"))?;
                    }
                    if let Some(r) = repo.targets.get_mut(role) {
                        r.sign(key).map_err(bug)?;
                    }
                }
            }
            Ok(())
        })?;
        Ok(repo)
    }

    /// Removes `tag` (every signed tag when `None`) from every role that
    /// lists it and that one of `role_keys` may sign, and re-signs those
    /// roles. Reports what was removed and what no key here could remove.
    pub fn revoke(
        &self,
        role_keys: &[PrivateKey],
        keys: Publishing<'_>,
        tag: Option<&str>,
    ) -> Result<RevokeReport, TrustError> {
        let scope: Option<Vec<String>> = tag.map(|t| vec![t.to_owned()]);
        let (report, _) = self.publish_scoped(keys, scope.as_deref(), |repo, _, now| {
            let mut report = RevokeReport::default();
            let names: Vec<String> = repo.targets.keys().cloned().collect();
            for role in names {
                let tags: Vec<String> = match tag {
                    Some(t) if repo.targets[&role].signed.targets.contains_key(t) => vec![t.to_owned()],
                    Some(_) => continue,
                    None => repo.targets[&role].signed.targets.keys().cloned().collect(),
                };
                if tags.is_empty() {
                    continue;
                }
                let signing: Vec<&PrivateKey> = role_keys
                    .iter()
                    .filter(|k| authorised(repo, &self.repo, &role, k).is_ok())
                    .collect();
                if signing.is_empty() {
                    report.kept.extend(tags.into_iter().map(|t| (t, role.clone())));
                    continue;
                }
                for t in tags {
                    repo.remove_target(&role, &t, now).map_err(bug)?;
                    report.removed.push((t, role.clone()));
                }
                for key in signing {
                    if let Some(r) = repo.targets.get_mut(&role) {
                        r.sign(key).map_err(bug)?;
                    }
                }
            }
            if report.removed.is_empty() {
                let what = tag.map_or_else(|| self.repo.clone(), |t| format!("{}:{t}", self.repo));
                return Err(match report.kept.first() {
                    None => TrustError::edit(
                        format!("{what} has no signed tag to revoke"),
                        "`vouch inspect` lists the signed tags",
                    ),
                    Some((_, role)) => TrustError::edit(
                        format!("{what}: no key in this trust directory may sign {role}, which lists it"),
                        "revoke it where a key of that role is held (`vouch inspect` lists the role keys)",
                    ),
                });
            }
            for role in report.removed.iter().map(|(_, r)| r) {
                if let Some((valid, threshold)) = signature_count(repo, role)
                    && valid < threshold
                    && !report.partly_signed.iter().any(|(r, _, _)| r == role)
                {
                    report.partly_signed.push((role.clone(), valid, threshold));
                }
            }
            Ok(report)
        })?;
        Ok(report)
    }

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

    /// Re-signs the timestamp (and, with its key, the snapshot), with new
    /// expiry periods when given.
    pub fn refresh(
        &self,
        keys: Publishing<'_>,
        timestamp_expiry: Option<Duration>,
        snapshot_expiry: Option<Duration>,
    ) -> Result<MetadataEditor, TrustError> {
        let ((), repo) = self.publish_scoped(keys, Some(&[]), |repo, _, _| {
            if let Some(d) = timestamp_expiry {
                repo.expiries.timestamp = d;
            }
            if let Some(d) = snapshot_expiry {
                repo.expiries.snapshot = d;
            }
            Ok(())
        })?;
        Ok(repo)
    }

    /// Creates the repository's trust data with these four keys (each
    /// role one key, threshold 1), pins its root here, and starts the
    /// verified cache from it.
    pub fn init(
        &self,
        root: &PrivateKey,
        targets: &PrivateKey,
        keys: Publishing<'_>,
        bins: Option<u32>,
    ) -> Result<MetadataEditor, TrustError> {
        self.create(root, None, targets, keys, bins)
    }

    /// [`Writer::init`] with a root key listed as `root_key` (its id and
    /// object) instead of vouch's form of `root`'s public key: `vouch
    /// migrate` keeps a Docker Content Trust root certificate, so the root
    /// key id stays the one its users know. The root must verify with it.
    pub fn create(
        &self,
        root: &PrivateKey,
        root_key: Option<(&str, crate::tuf::metadata::Key)>,
        targets: &PrivateKey,
        keys: Publishing<'_>,
        bins: Option<u32>,
    ) -> Result<MetadataEditor, TrustError> {
        let Some(snapshot) = keys.snapshot else {
            return Err(TrustError::edit(
                "init needs a snapshot key",
                "report this as a bug",
            ));
        };
        if artifact::read(self.store)?.is_some() {
            return Err(TrustError::AlreadyInitialised {
                repo: self.repo.clone(),
            });
        }
        let now = OffsetDateTime::now_utc();
        let single = |k: &PrivateKey| RoleSetup::single(k.public());
        let mut repo = MetadataEditor::create(
            &single(root),
            &single(targets),
            &single(snapshot),
            &single(keys.timestamp),
            true,
            now,
            Expiries::default(),
        );
        let root_id = match root_key {
            None => {
                repo.root.sign(root).map_err(bug)?;
                root.public().key_id().to_string()
            }
            Some((id, key)) => {
                repo.adopt_root_key(id, key);
                repo.root.sign_as(root, id).map_err(bug)?;
                id.to_owned()
            }
        };
        repo.publish_root().map_err(bug)?;
        // The root must stand on its own before anything is published.
        TrustedSet::new(&repo.root_history[0], now, Limits::default()).map_err(|e| {
            TrustError::edit(
                format!("the root key does not sign the new root: {e}"),
                "check that the root private key belongs to the root certificate",
            )
        })?;
        if let Some(bits) = bins {
            repo.convert_to_bins("targets", &bin_prefix("targets"), bits, now)
                .map_err(|e| TrustError::edit(e.to_string(), "choose 16 to 4,096 bins, a power of two"))?;
        }
        repo.sign_targets_roles(targets).map_err(bug)?;
        let published = match self.sign_and_publish(&mut repo, keys, None, None, now)? {
            Some((digest, swap)) if self.kept(&digest, swap)? => Some(digest),
            _ => None,
        };
        let Some(digest) = published else {
            return Err(TrustError::edit(
                format!("another writer initialised {} at the same time", self.repo),
                "`vouch inspect` shows the trust data that won",
            ));
        };
        let mut policy = crate::policy::Policy::load(&self.trust.dir)?;
        policy.pin(&self.repo, vec![root_id], 1);
        policy.save(&self.trust.dir)?;
        let cache = Cache::new(&self.trust.dir, &self.repo);
        cache.start(1, &repo.root_history[0])?;
        cache.record_published(&repo, &digest)?;
        Ok(repo)
    }

    /// Republishes the last trust data this machine verified (its cache),
    /// with versions above anything the store now shows, so that every
    /// pinned verifier moves past trust data that someone without a key
    /// changed. Re-signs `targets` when its key is given; delegated roles
    /// are republished exactly as verified.
    pub fn recover(
        &self,
        targets_key: Option<&PrivateKey>,
        keys: Publishing<'_>,
    ) -> Result<MetadataEditor, TrustError> {
        let Some(snapshot_key) = keys.snapshot else {
            return Err(TrustError::edit(
                "recover needs the snapshot key",
                "report this as a bug",
            ));
        };
        let mut repo = self.cached()?;
        let floors = self.claimed_versions(&repo)?;
        let now = OffsetDateTime::now_utc();
        if let Some(key) = targets_key {
            authorised(&repo, &self.repo, "targets", key)?;
            let floor = floors.get("targets").copied().unwrap_or(0);
            repo.rewrite_role("targets", floor, now).map_err(bug)?;
            sign_top_targets(&mut repo, key)?;
        }
        repo.raise_versions(
            floors.get("snapshot").copied().unwrap_or(0),
            floors.get("timestamp").copied().unwrap_or(0),
        );
        let expected = self.store.head(TRUST_TAG)?;
        let publishing = Publishing {
            snapshot: Some(snapshot_key),
            timestamp: keys.timestamp,
        };
        let published = match self.sign_and_publish(&mut repo, publishing, None, expected.as_deref(), now)? {
            Some((digest, swap)) if self.kept(&digest, swap)? => Some(digest),
            _ => None,
        };
        let Some(digest) = published else {
            return Err(TrustError::Contended {
                repo: self.repo.clone(),
                attempts: 1,
            });
        };
        Cache::new(&self.trust.dir, &self.repo).record_published(&repo, &digest)?;
        Ok(repo)
    }

    /// The repository as this machine last verified it, from the cache
    /// only, verified again (expiry aside: it is about to be re-signed).
    pub fn cached(&self) -> Result<MetadataEditor, TrustError> {
        let cache = Cache::new(&self.trust.dir, &self.repo);
        let offline = Trust {
            dir: self.trust.dir.clone(),
            offline: true,
        };
        let start = super::load::start(
            &offline,
            &self.repo,
            super::FirstUse::Refuse,
            &mut crate::store::fetch::Offline,
        )?;
        let incomplete = |what: &str| {
            TrustError::edit(
                format!(
                    "the trust data of {} cached here is incomplete ({what} is missing)",
                    self.repo
                ),
                "run `vouch recover` on the machine that published last",
            )
        };
        let damaged = |e: TufError| {
            TrustError::edit(
                format!("the trust data of {} cached here does not verify: {e}", self.repo),
                "run `vouch recover` on the machine that published last",
            )
        };
        let now = OffsetDateTime::now_utc();
        // Roots before the pinned one are not cached (nothing here vouches
        // for them): they are republished as the store has them.
        let mut history = match start.chain.first() {
            Some((version, anchor)) if *version > 1 => super::load::history_before(
                &self.repo,
                &mut crate::store::artifact::ArtifactFetcher::new(self.store),
                *version,
                anchor,
            )?,
            _ => Vec::new(),
        };
        let mut chain = start.chain.iter();
        let Some((_, anchor)) = chain.next() else {
            return Err(incomplete("root"));
        };
        let mut set = TrustedSet::new(anchor, now, Limits::default())
            .map_err(damaged)?
            .danger_ignore_expiry_for_republishing();
        history.push(anchor.clone());
        for (_, bytes) in chain {
            set.update_root(bytes).map_err(damaged)?;
            history.push(bytes.clone());
        }
        set.begin_update();
        set.finish_root_update().map_err(damaged)?;
        let read = |role: &str| {
            cache
                .metadata()
                .read(role)
                .map_err(TrustError::local(cache.metadata().path()))?
                .ok_or_else(|| incomplete(role))
        };
        set.load_timestamp(&read("timestamp")?).map_err(damaged)?;
        set.load_snapshot(&read("snapshot")?).map_err(damaged)?;
        set.snapshot_is_current().map_err(damaged)?;
        // Roles this machine never read (bins another publisher changed)
        // come from the store, checked like the rest against the cached
        // snapshot: its version (bound to the bin's name) and its keys.
        let mut from_store = crate::store::artifact::ArtifactFetcher::new(self.store);
        let mut load = WriterLoad::new(&set).map_err(damaged)?;
        while let Some(request) = load.next_request().map_err(damaged)? {
            let cached = cache
                .metadata()
                .read(&request.role)
                .map_err(TrustError::local(cache.metadata().path()))?
                .filter(|bytes| {
                    serde_json::from_slice::<serde_json::Value>(bytes)
                        .ok()
                        .and_then(|v| v["signed"]["version"].as_u64())
                        == request.version
                });
            let bytes = match cached {
                Some(bytes) => bytes,
                None => {
                    let name = crate::tuf::metadata::file_name(&request.role, request.version);
                    crate::store::Fetcher::fetch(&mut from_store, &name, request.max_bytes)
                        .map_err(|e| {
                            TrustError::edit(
                                format!("{name}, which this machine never read, could not be fetched: {e}"),
                                "check the store and retry",
                            )
                        })?
                        .ok_or_else(|| incomplete(&request.role))?
                }
            };
            load.add(&bytes).map_err(damaged)?;
        }
        let roles = load.finish();
        let (Some(ts), Some(snap)) = (set.timestamp(), set.snapshot()) else {
            return Err(incomplete("timestamp"));
        };
        MetadataEditor::from_verified(history, &ts.envelope, &snap.envelope, roles, Expiries::default())
            .map_err(damaged)
    }

    /// The highest version the store's trust artifact claims for each
    /// role, read without trusting it: recovery publishes above these.
    /// Claims far above what was verified are ignored (an attacker could
    /// otherwise push versions to their limit).
    fn claimed_versions(&self, repo: &MetadataEditor) -> Result<BTreeMap<String, u64>, TrustError> {
        const MAX_JUMP: u64 = 1 << 20;
        let mut claims = BTreeMap::new();
        let art = match artifact::read(self.store) {
            Ok(Some(art)) => art,
            Ok(None) => return Ok(claims),
            // An artifact that does not parse claims nothing; a store that
            // cannot be read leaves the floors unknown: stop.
            Err(crate::store::StoreError::Malformed { .. }) => {
                eprintln!(
                    "warning: the trust artifact in the store does not parse; its versions are ignored"
                );
                return Ok(claims);
            }
            Err(e) => return Err(e.into()),
        };
        let mut claim = |role: &str, version: u64, ours: u64| {
            if version <= ours.saturating_add(MAX_JUMP) {
                let e = claims.entry(role.to_owned()).or_insert(0);
                *e = (*e).max(version);
            }
        };
        for name in art.files.keys() {
            let Some((v, role)) = name.strip_suffix(".json").and_then(|n| n.split_once('.')) else {
                continue;
            };
            let Ok(v) = v.parse::<u64>() else { continue };
            let ours = match role {
                "snapshot" => repo.snapshot.signed.version,
                "targets" => repo.targets.get("targets").map_or(0, |t| t.signed.version),
                _ => continue,
            };
            claim(role, v, ours);
        }
        if let Some(d) = art.files.get("timestamp.json")
            && d.size <= Limits::default().max_timestamp_bytes
        {
            let bytes = self.store.blob(&d.digest, d.size)?;
            if let Some(version) = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["signed"]["version"].as_u64())
            {
                claim("timestamp", version, repo.timestamp.signed.version);
            }
        }
        Ok(claims)
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

/// A writer renews a bin (or the role that delegates to bins) signed this
/// long ago when it next signs: it would expire within about two months
/// (targets roles are valid for a year). Bins carry the time they were
/// signed in their version, so the stale ones are found in snapshot
/// without reading every bin.
pub const RENEW_AFTER: Duration = Duration::days(300);

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
fn bins_needed(repo: &MetadataEditor, holder: &str, targets: &[(String, TargetFile)]) -> Option<u32> {
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
fn sign_into_bins(
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
        repo.add_target(&bin, tag, target.clone(), now)
            .map_err(|e| TrustError::edit(e.to_string(), "check the tag"))?;
        touched.insert(bin);
    }
    // Just converted: every bin is new, and holds tags that were signed
    // in the holder; renewals: bins and holder signed long ago.
    let renew = now + (Duration::days(365) - RENEW_AFTER);
    let loaded: Vec<String> = repo
        .targets
        .iter()
        .filter(|(name, r)| {
            (bins.is_bin(name) || name.as_str() == holder) && (converted || r.signed.expires.at < renew)
        })
        .map(|(name, _)| name.clone())
        .collect();
    for role in loaded {
        if role != holder {
            repo.renew(&role, now).map_err(bug)?;
            touched.insert(role);
        } else if !converted {
            repo.renew(&role, now).map_err(bug)?;
        }
    }
    for key in signers {
        authorised(repo, repo_id, holder, key)?;
        let id = key.public().key_id().to_string();
        for role in touched.iter().map(String::as_str).chain([holder]) {
            if let Some(r) = repo.targets.get_mut(role)
                && (role != holder || !r.signatures.iter().any(|s| s.keyid == id))
            {
                r.sign(key).map_err(bug)?;
            }
        }
    }
    Ok(())
}

/// Signs the top-level `targets` role only: the owner's key signs what the
/// owner changed, never (say) a k-of-n role it happens to be listed in.
fn sign_top_targets(repo: &mut MetadataEditor, key: &PrivateKey) -> Result<(), TrustError> {
    match repo.targets.get_mut("targets") {
        Some(role) => role.sign(key).map_err(bug),
        None => Err(TrustError::edit(
            "the repository has no targets role",
            "report this as a bug",
        )),
    }
}

/// The roles `targets` delegates to that `key` may sign.
fn signable_delegations(repo: &MetadataEditor, key: &PrivateKey) -> Vec<String> {
    let id = key.public().key_id().to_string();
    repo.targets["targets"]
        .signed
        .delegations
        .iter()
        .flat_map(|d| d.roles.iter().flatten())
        .filter(|r| r.keyids.contains(&id))
        .map(|r| r.name.clone())
        .collect()
}

/// Valid signatures and threshold of a delegated role as it stands.
pub(crate) fn signature_count(repo: &MetadataEditor, role: &str) -> Option<(u64, u64)> {
    let (keys, ids, threshold) = if role == "targets" {
        crate::tuf::trusted_set::top_level_signers(&repo.root.signed, "targets").ok()?
    } else {
        repo.targets
            .values()
            .find_map(|t| crate::tuf::trusted_set::delegation_signers(&t.signed, role))?
    };
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
    /// Roles now signed by fewer keys than their threshold: (role, valid,
    /// threshold). Verifiers refuse them until more keys sign.
    pub partly_signed: Vec<(String, u64, u64)>,
}

/// Whether `refresh` should re-sign the snapshot too: it expires within
/// seven days.
pub fn snapshot_expires_soon(state: &WriterState) -> bool {
    state.repo.snapshot.signed.expires.at - OffsetDateTime::now_utc() < Duration::days(7)
}
