//! Recovery: republish the state this machine verified, above whatever
//! the store claims.

use std::collections::BTreeMap;

use vouch_keys::PrivateKey;

use super::sign::sign_top_targets;
use super::{Publishing, Writer, authorised, bug};
use crate::store::artifact::{self, TRUST_TAG};
use crate::trust::Trust;
use crate::trust::cache::Cache;
use crate::trust::error::TrustError;
use crate::tuf::TrustedSet;
use crate::tuf::TufError;
use crate::tuf::editor::{Expiries, MetadataEditor};
use crate::tuf::metadata::RoleName;
use crate::tuf::writer_load::WriterLoad;

impl<'s> Writer<'s> {
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
            return Err(TrustError::bug("recover needs the snapshot key"));
        };
        let mut repo = self.cached()?;
        let floors = self.claimed_versions(&repo)?;
        let now = self.trust.now();
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
            offline: true,
            ..self.trust.clone()
        };
        let start = crate::trust::load::start(
            &offline,
            &self.repo,
            crate::trust::FirstUse::Refuse,
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
        let now = self.trust.now();
        // Roots before the pinned one are not cached (nothing here vouches
        // for them): they are republished as the store has them.
        let mut history = match start.chain.first() {
            Some((version, anchor)) if *version > 1 => crate::trust::load::history_before(
                &self.trust,
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
        let mut set = TrustedSet::new(anchor, now, self.trust.limits)
            .map_err(damaged)?
            .with_denied(start.denied.iter().map(crate::tuf::KeyId::new))
            .map_err(damaged)?
            .danger_ignore_expiry_for_republishing();
        history.push(anchor.clone());
        for (_, bytes) in chain {
            set.update_root(bytes).map_err(damaged)?;
            history.push(bytes.clone());
        }
        set.begin_update();
        set.finish_root_update().map_err(damaged)?;
        let read = |role: &RoleName| {
            cache
                .metadata()
                .read(role)
                .map_err(TrustError::local(cache.metadata().path()))?
                .ok_or_else(|| incomplete(role.as_str()))
        };
        set.load_timestamp(&read(&RoleName::Timestamp)?)
            .map_err(damaged)?;
        set.load_snapshot(&read(&RoleName::Snapshot)?).map_err(damaged)?;
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
                Some(bytes) => {
                    // This machine's verified copy.
                    load.accept_unbound(request.role.as_str());
                    bytes
                }
                None => {
                    let name = crate::tuf::metadata::file_name(&request.role, request.version);
                    crate::store::Fetcher::fetch(&mut from_store, &name, request.max_bytes)
                        .map_err(|e| {
                            TrustError::edit(
                                format!("{name}, which this machine never read, could not be fetched: {e}"),
                                "check the store and retry",
                            )
                        })?
                        .ok_or_else(|| incomplete(request.role.as_str()))?
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
                self.trust.notice(crate::trust::Notice::ArtifactUnreadable);
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
            && d.size <= self.trust.limits.max_timestamp_bytes
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
