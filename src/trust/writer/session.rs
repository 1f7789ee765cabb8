//! The publish session: load verified, apply a change, sign snapshot and
//! timestamp, publish if the trust tag did not move (else start over), and
//! confirm the publish where the store has no compare-and-swap.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};
use vouch_keys::PrivateKey;

use super::bins::bin_prefix;
use super::{MAX_ATTEMPTS, Publishing, SETTLE_MAX, SETTLE_MIN, Writer, authorised, bug, holds_change};
use crate::store::artifact::{self, TRUST_TAG};
use crate::store::tuf_repo_dir::current_files;
use crate::trust::cache::Cache;
use crate::trust::error::TrustError;
use crate::trust::load::{WriterState, load_for_writing};
use crate::trust::record::Record;
use crate::tuf::TrustedSet;
use crate::tuf::editor::{Expiries, MetadataEditor, RoleSetup};

impl<'s> Writer<'s> {
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
        change: impl FnMut(&mut MetadataEditor, &WriterState, OffsetDateTime) -> Result<R, TrustError>,
    ) -> Result<(R, MetadataEditor), TrustError> {
        self.publish_from(keys, bins_for, None, change)
    }

    /// [`Writer::publish_scoped`] whose first attempt starts from `first`
    /// (a state just loaded, to save loading it again).
    pub(super) fn publish_from<R>(
        &self,
        keys: Publishing<'_>,
        bins_for: Option<&[String]>,
        mut first: Option<WriterState>,
        mut change: impl FnMut(&mut MetadataEditor, &WriterState, OffsetDateTime) -> Result<R, TrustError>,
    ) -> Result<(R, MetadataEditor), TrustError> {
        let mut overwritten = false;
        let mut superseded = Vec::new();
        for _ in 0..MAX_ATTEMPTS {
            let state = match first.take() {
                Some(state) => state,
                None => load_for_writing(
                    &self.trust,
                    &self.repo,
                    self.store,
                    bins_for,
                    self.mode.for_publishing(),
                )?,
            };
            let mut repo = state.repo.clone();
            repo.superseded = superseded.clone();
            // Above every snapshot this writer saw overwritten, so no new
            // state shares a version with one someone may have verified.
            if let Some(v) = superseded
                .iter()
                .map(|s: &crate::tuf::history::State| s.version)
                .max()
            {
                repo.raise_versions(v, 0);
            }
            let now = self.trust.now();
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
                Record::new(&self.trust, &self.repo).note(Some(&state.repo), &repo, !self.relayed)?;
                return Ok((out, repo));
            }
            // Someone may have verified what we published before it was
            // overwritten: the state we publish next names it.
            if let Ok(state) = crate::tuf::history::state_of(&repo.snapshot.signed) {
                superseded.push(state);
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
    pub(super) fn kept(&self, digest: &str, swap: std::time::Duration) -> Result<bool, TrustError> {
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

    pub(super) fn sign_and_publish(
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
                    return Err(TrustError::bug(
                        "this change needs a new snapshot, and no snapshot key was given",
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
                Ok((name.to_string(), version))
            })
            .collect::<Result<BTreeMap<String, u64>, TrustError>>()?;
        Ok(artifact::publish(self.store, &files, &bins, previous, expected)?)
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

    /// [`Writer::init`] with root keys `root_keys` (this machine's `root`
    /// among them) and their threshold. When `root` alone does not meet
    /// it, the first root is staged (`Outcome::Staged`) for the other
    /// holders to approve; nothing is published until
    /// [`Writer::publish_genesis`].
    pub fn init_with_root(
        &self,
        root: &PrivateKey,
        root_keys: &RoleSetup,
        targets: &PrivateKey,
        keys: Publishing<'_>,
        by: &str,
    ) -> Result<super::Outcome, TrustError> {
        let (mut repo, now) = self.fresh(root_keys, targets, keys, false)?;
        repo.root.sign(root).map_err(bug)?;
        let short = super::root::weigh(None, &repo.root, &self.denied()?).short;
        if self.replace && !short.is_empty() {
            return Err(TrustError::edit(
                format!(
                    "a new root over the trust data of {} is published at once, and the root keys here do not meet its threshold",
                    self.repo
                ),
                "make the new root with a threshold the keys here meet, then raise it with `vouch root REPO --threshold K`",
            ));
        }
        if short.is_empty() {
            repo.publish_root().map_err(bug)?;
            let repo = self.finish_create(repo, targets, keys, None, now)?;
            return Ok(super::Outcome::Published(Box::new(repo)));
        }
        let id = self.stage_genesis(&repo.root, by, now)?;
        // The only first root this machine will publish.
        Cache::new(&self.trust.dir, &self.repo).set_genesis(&id)?;
        Ok(super::Outcome::Staged { id, short })
    }

    /// Publishes the first root of a repository once its holders signed it
    /// (`vouch approve` of the staged first root), with this machine's
    /// targets, snapshot and timestamp keys, which that root lists.
    pub fn publish_genesis(
        &self,
        root: crate::tuf::editor::Signed<crate::tuf::metadata::Root>,
        targets: &PrivateKey,
        keys: Publishing<'_>,
        store_tags: &[String],
    ) -> Result<MetadataEditor, TrustError> {
        let (mut repo, now) = self.fresh(&RoleSetup::single(targets.public()), targets, keys, true)?;
        let Some(snapshot) = keys.snapshot else {
            return Err(bug("publishing a first root needs the snapshot key"));
        };
        repo.root = root;
        repo.publish_root().map_err(bug)?;
        for role in ["targets", "snapshot", "timestamp"] {
            let key = match role {
                "targets" => targets,
                "snapshot" => snapshot,
                _ => keys.timestamp,
            };
            authorised(&repo, &self.repo, role, key)?;
        }
        let repo = self.finish_create(repo, targets, keys, None, now)?;
        for tag in store_tags {
            crate::store::staged::remove(self.store, tag)?;
        }
        Ok(repo)
    }

    /// [`Writer::init`] with a root key listed as `root_key` (its id and
    /// object) instead of vouch's form of `root`'s public key: `vouch
    /// migrate` keeps a Docker Content Trust root certificate, so the root
    /// key id stays the one its users know. The root must verify with it.
    pub fn create(
        &self,
        root: &PrivateKey,
        root_key: Option<(&crate::tuf::KeyId, crate::tuf::metadata::Key)>,
        targets: &PrivateKey,
        keys: Publishing<'_>,
        bins: Option<u32>,
    ) -> Result<MetadataEditor, TrustError> {
        let (mut repo, now) = self.fresh(&RoleSetup::single(root.public()), targets, keys, false)?;
        match root_key {
            None => repo.root.sign(root).map_err(bug)?,
            Some((id, key)) => {
                repo.adopt_root_key(id, key);
                repo.root.sign_as(root, id).map_err(bug)?;
            }
        }
        repo.publish_root().map_err(bug)?;
        self.finish_create(repo, targets, keys, bins, now)
    }

    /// A new repository's metadata, unsigned: root keys `root_keys`, one
    /// key each for targets and the online roles. Refused where trust data
    /// exists.
    fn fresh(
        &self,
        root_keys: &RoleSetup,
        targets: &PrivateKey,
        keys: Publishing<'_>,
        publishing_staged: bool,
    ) -> Result<(MetadataEditor, OffsetDateTime), TrustError> {
        let Some(snapshot) = keys.snapshot else {
            return Err(bug("a new repository needs a snapshot key"));
        };
        // Replacing trust data (a root threshold lost): explicitly only.
        if !self.replace {
            if artifact::read(self.store)?.is_some() {
                return Err(TrustError::AlreadyInitialised {
                    repo: self.repo.clone(),
                });
            }
            self.check_empty_is_new()?;
        }
        // A first root staged for its holders is not made again over.
        if !publishing_staged
            && !self.replace
            && let Some(staged) = self.genesis()?.first()
        {
            return Err(TrustError::edit(
                format!(
                    "a first root of {} is staged already ({}): its holders approve it and its maker publishes it",
                    self.repo, staged.id
                ),
                "`vouch staged REPO` shows it; `vouch withdraw REPO ID` drops it before making another",
            ));
        }
        let now = self.trust.now();
        let single = |k: &PrivateKey| RoleSetup::single(k.public());
        let repo = MetadataEditor::create(
            root_keys,
            &single(targets),
            &single(snapshot),
            &single(keys.timestamp),
            true,
            now,
            Expiries::default(),
        );
        Ok((repo, now))
    }

    /// Publishes a new repository whose first root is signed: its targets
    /// signed, pinned here to its root keys and threshold, the verified
    /// cache started from it.
    fn finish_create(
        &self,
        mut repo: MetadataEditor,
        targets: &PrivateKey,
        keys: Publishing<'_>,
        bins: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<MetadataEditor, TrustError> {
        // The root must stand on its own before anything is published.
        TrustedSet::new(&repo.root_history[0], now, self.trust.limits).map_err(|e| {
            TrustError::edit(
                format!("the root keys do not sign the new root: {e}"),
                "check that the root private key belongs to the root certificate",
            )
        })?;
        if let Some(bits) = bins {
            repo.convert_to_bins("targets", &bin_prefix("targets"), bits, now)
                .map_err(|source| TrustError::EditRefused {
                    source,
                    hint: "choose 16 to 4,096 bins, a power of two",
                })?;
        }
        repo.sign_targets_roles(targets).map_err(bug)?;
        let (root_ids, threshold) = repo
            .root
            .signed
            .roles
            .get("root")
            .map(|r| {
                (
                    r.keyids.iter().map(ToString::to_string).collect::<Vec<String>>(),
                    r.threshold,
                )
            })
            .unwrap_or_default();
        let mut policy = crate::policy::Policy::load(&self.trust.dir)?;
        // A pin here to other root keys is never replaced silently.
        if let Some(pinned) = policy.exact(&self.repo)
            && !pinned.root_keys.is_empty()
            && !self.replace
        {
            let set = |ids: &[String]| {
                ids.iter()
                    .cloned()
                    .collect::<std::collections::BTreeSet<String>>()
            };
            if set(&pinned.root_keys) != set(&root_ids) || pinned.threshold != threshold {
                return Err(TrustError::PinnedToOtherKeys {
                    repo: self.repo.clone(),
                });
            }
        }
        // Over the trust data served, when replacing it; else where none is.
        let expected = if self.replace {
            self.store.head(TRUST_TAG)?
        } else {
            None
        };
        let published = match self.sign_and_publish(&mut repo, keys, None, expected.as_deref(), now)? {
            Some((digest, swap)) if self.kept(&digest, swap)? => Some(digest),
            _ => None,
        };
        let Some(digest) = published else {
            return Err(TrustError::InitialisedElsewhere {
                repo: self.repo.clone(),
            });
        };
        if self.replace {
            crate::policy::Policy::log(
                &self.trust.dir,
                &format!(
                    "replace {} (init --replace): {threshold} of [{}]",
                    self.repo,
                    root_ids.join(", ")
                ),
            )?;
        }
        policy.pin(&self.repo, root_ids, threshold);
        policy.save(&self.trust.dir)?;
        let cache = Cache::new(&self.trust.dir, &self.repo);
        cache.start(1, &repo.root_history[0])?;
        cache.record_published(&repo, &digest)?;
        Record::new(&self.trust, &self.repo).note(None, &repo, true)?;
        Ok(repo)
    }
}

/// Whether `refresh` should re-sign the snapshot too: it expires within
/// seven days of `now`.
pub fn snapshot_expires_soon(state: &WriterState, now: OffsetDateTime) -> bool {
    state.repo.snapshot.signed.expires.at - now < Duration::days(7)
}
