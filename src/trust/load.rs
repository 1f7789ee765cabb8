//! The verified load: how readers and writers come to trust a
//! repository's metadata. Both start from a root that the current pin
//! admits (or that this machine cached after the pin admitted it), and
//! both check rollback and freeze against this machine's cache; every
//! byte the store returns is treated as chosen by an attacker.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::Trust;
use super::cache::Cache;
use super::error::TrustError;
use super::pinning::{FirstUse, Pin};
use crate::policy::Policy;
use crate::store::artifact::{self, ArtifactFetcher, TRUST_TAG};
use crate::store::fetch::Offline;
use crate::store::{FetchError, FetchErrorKind, Fetcher, Store};
use crate::tuf::editor::{Expiries, MetadataEditor};
use crate::tuf::metadata::file_name;
use crate::tuf::metadata::{Envelope, KeyId, RoleName, Root};
use crate::tuf::writer_load::{RoleState, WriterLoad};
use crate::tuf::{TrustedSet, TufError};
use crate::update::{UpdateError, Updater};

/// Where a reader's bytes come from: the store's trust artifact, or
/// nowhere (`--offline`: the cache only).
#[derive(Debug)]
pub enum Source<'s> {
    /// The trust artifact of a store.
    Store(ArtifactFetcher<'s>),
    /// No fetch at all.
    Offline(Offline),
}

impl Fetcher for Source<'_> {
    fn fetch(&mut self, location: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, FetchError> {
        match self {
            Source::Store(f) => f.fetch(location, max_bytes),
            Source::Offline(f) => f.fetch(location, max_bytes),
        }
    }
}

/// A TUF client over one repository's trust data.
pub type StoreUpdater<'s> = Updater<Source<'s>>;

/// Maps the TUF client's errors into the trust layer's.
pub(crate) fn from_update(repo: &str, e: UpdateError) -> TrustError {
    match e {
        UpdateError::Refused(source) => TrustError::Refused {
            repo: repo.to_owned(),
            source,
        },
        UpdateError::Unavailable { what } => TrustError::Incomplete {
            repo: repo.to_owned(),
            what,
        },
        UpdateError::Fetch(f) => TrustError::Fetch(f),
        UpdateError::Local { path, source } => TrustError::Local { path, source },
        UpdateError::NoSuchTarget(tag) => TrustError::NotSigned {
            repo: repo.to_owned(),
            tag,
            holder: "targets".to_owned(),
        },
    }
}

/// Fetches a metadata file by name; more bytes than allowed is TUF's
/// endless-data refusal.
fn fetch(
    repo: &str,
    f: &mut impl Fetcher,
    name: &str,
    role: &str,
    max: u64,
) -> Result<Option<Vec<u8>>, TrustError> {
    match f.fetch(name, max) {
        Err(FetchError {
            kind: FetchErrorKind::TooLarge(limit),
            ..
        }) => Err(TrustError::Refused {
            repo: repo.to_owned(),
            source: TufError::TooLarge {
                role: role.to_owned(),
                limit,
            },
        }),
        other => Ok(other?),
    }
}

/// The root trust starts from, and the chain this machine cached after it.
#[derive(Debug)]
pub(crate) struct Start {
    /// Version of the root the pin admitted.
    pub anchor_version: u64,
    /// The cached roots from it on (the first is the anchor), oldest first.
    pub chain: Vec<(u64, Vec<u8>)>,
    /// The root key ids the policy denies (`vouch deny`), as read when
    /// the anchor was chosen: the chain from it is walked without them.
    pub denied: Vec<String>,
}

/// Finds where trust starts: the cached chain if the current pin still
/// admits its first root, else a root in the store that the pin admits
/// (the cache then starts over from it). Without a pin, the repository is
/// refused unless `first_use` allows pinning what is found, loudly.
pub(crate) fn start(
    trust: &Trust,
    repo: &str,
    first_use: FirstUse,
    fetcher: &mut impl Fetcher,
) -> Result<Start, TrustError> {
    let cache = Cache::new(&trust.dir, repo);
    let mut policy = Policy::load(&trust.dir)?;
    let pin = Pin::of(&policy, repo);
    let chain = cache.chain()?;
    // A root the pin admits must also stand without denied keys (a root
    // whose own threshold needed one is passed over for a later root the
    // pin admits).
    let denied = policy.deny.clone();
    let stands = |bytes: &[u8]| -> Result<(), TufError> {
        TrustedSet::new(bytes, trust.now(), trust.limits)?
            .with_denied(denied.iter().map(KeyId::new))
            .map(|_| ())
    };
    if let Some((version, anchor)) = chain.first() {
        match &pin {
            Some(pin) if pin.admits(anchor).is_ok() && stands(anchor).is_ok() => {
                return Ok(Start {
                    anchor_version: *version,
                    chain,
                    denied: denied.clone(),
                });
            }
            Some(_) => {
                if trust.offline {
                    return Err(TrustError::PinNotMet {
                        repo: repo.to_owned(),
                        reason: "the pin changed since the cached trust data was verified".to_owned(),
                    });
                }
                trust.notice(super::Notice::PinChanged {
                    repo: repo.to_owned(),
                });
                cache.clear()?;
            }
            None => {
                let keys = root_keys(anchor).unwrap_or_default();
                if first_use == FirstUse::Refuse {
                    return Err(TrustError::NotPinned {
                        repo: repo.to_owned(),
                        root_keys: keys.0,
                    });
                }
                pin_on_first_use(trust, &mut policy, repo, keys)?;
                return Ok(Start {
                    anchor_version: *version,
                    chain,
                    denied: denied.clone(),
                });
            }
        }
    }
    if trust.offline {
        return Err(TrustError::NoCache {
            repo: repo.to_owned(),
        });
    }
    let limits = trust.limits;
    let Some(pin) = pin else {
        let first = fetch(repo, fetcher, "1.root.json", "root", limits.max_root_bytes)?.ok_or_else(|| {
            TrustError::Incomplete {
                repo: repo.to_owned(),
                what: "1.root.json".to_owned(),
            }
        })?;
        // The root must stand on its own (key ids, its own threshold)
        // before anything is pinned to it.
        TrustedSet::new(&first, trust.now(), limits).map_err(|source| TrustError::Refused {
            repo: repo.to_owned(),
            source,
        })?;
        let keys = root_keys(&first).unwrap_or_default();
        if first_use == FirstUse::Refuse {
            return Err(TrustError::NotPinned {
                repo: repo.to_owned(),
                root_keys: keys.0,
            });
        }
        pin_on_first_use(trust, &mut policy, repo, keys)?;
        cache.start(1, &first)?;
        return Ok(Start {
            anchor_version: 1,
            chain: vec![(1, first)],
            denied: denied.clone(),
        });
    };
    // The first root of the chain the pin admits. Later roots are reached
    // from it by the rotation rules, never by the pin.
    let mut reason = "the trust data has no root".to_owned();
    for version in 1..=limits.max_root_rotations {
        let name = file_name(&RoleName::Root, Some(version));
        let Some(bytes) = fetch(repo, fetcher, &name, "root", limits.max_root_bytes)? else {
            break;
        };
        match pin.admits(&bytes).and_then(|()| {
            // Passed over when it needs a denied key to stand.
            match stands(&bytes) {
                Err(e @ TufError::ThresholdNotMet { .. }) => Err(e),
                _ => Ok(()),
            }
        }) {
            Ok(()) => {
                // Admitted by the pin, it must still stand on its own: key
                // ids, and its own threshold of its own keys.
                TrustedSet::new(&bytes, trust.now(), limits).map_err(|source| TrustError::Refused {
                    repo: repo.to_owned(),
                    source,
                })?;
                cache.start(version, &bytes)?;
                return Ok(Start {
                    anchor_version: version,
                    chain: vec![(version, bytes)],
                    denied: denied.clone(),
                });
            }
            Err(e) => reason = e.to_string(),
        }
    }
    Err(TrustError::PinNotMet {
        repo: repo.to_owned(),
        reason,
    })
}

/// The root role's key ids and threshold, as a root lists them (for a
/// message or a first-use pin; the ids are checked before either).
fn root_keys(bytes: &[u8]) -> Option<(Vec<String>, u64)> {
    let env: Envelope<Root> = Envelope::parse("root", bytes).ok()?;
    crate::tuf::crypto::check_key_ids("root", &env.signed.keys).ok()?;
    let role = env.signed.roles.get("root")?;
    Some((role.keyids.iter().map(KeyId::to_string).collect(), role.threshold))
}

fn pin_on_first_use(
    trust: &Trust,
    policy: &mut Policy,
    repo: &str,
    (keys, threshold): (Vec<String>, u64),
) -> Result<(), TrustError> {
    if let Some(k) = keys.iter().find(|k| policy.denied(k)) {
        return Err(TrustError::PinNotMet {
            repo: repo.to_owned(),
            reason: format!("its root key {k} is on this machine's deny list"),
        });
    }
    trust.notice(super::Notice::TrustOnFirstUse {
        repo: repo.to_owned(),
        keys: keys.clone(),
    });
    policy.pin(repo, keys, threshold.max(1));
    std::fs::create_dir_all(&trust.dir).map_err(TrustError::local(&trust.dir))?;
    policy.save(&trust.dir)?;
    Ok(())
}

/// The trusted set at the end of the cached chain. The cache was verified
/// when written; a chain that no longer verifies is damaged.
fn walk_cached(
    trust: &Trust,
    repo: &str,
    start: &Start,
    now: OffsetDateTime,
) -> Result<TrustedSet, TrustError> {
    let cache = Cache::new(&trust.dir, repo);
    let damaged = |e: TufError| TrustError::Local {
        path: cache.metadata().path().display().to_string(),
        source: std::io::Error::other(format!(
            "the cached root chain no longer verifies ({e}); remove the directory to start over"
        )),
    };
    let mut chain = start.chain.iter();
    let Some((_, anchor)) = chain.next() else {
        return Err(TrustError::NoCache {
            repo: repo.to_owned(),
        });
    };
    let set = TrustedSet::new(anchor, now, trust.limits).map_err(damaged)?;
    // Denied root keys count for nothing, in the cached chain too: a root
    // verified here before the key was denied is checked again.
    let refused = |source: TufError| TrustError::Refused {
        repo: repo.to_owned(),
        source,
    };
    let mut set = set
        .with_denied(start.denied.iter().map(KeyId::new))
        .map_err(refused)?;
    for (_, bytes) in chain {
        set.update_root(bytes).map_err(|e| match e {
            TufError::ThresholdNotMet { .. } => refused(e),
            e => damaged(e),
        })?;
    }
    // The update starts at the newest cached root: rotations already seen
    // are not new.
    set.begin_update();
    Ok(set)
}

/// The roots before the pinned one (`anchor`, version `anchor_version`),
/// which publishers republish for other clients as they found them. They
/// are trusted for nothing; they must only form a chain that ends at the
/// pinned root.
pub(crate) fn history_before(
    trust: &Trust,
    repo: &str,
    fetcher: &mut impl Fetcher,
    anchor_version: u64,
    anchor: &[u8],
) -> Result<Vec<Vec<u8>>, TrustError> {
    let limits = trust.limits;
    let now = trust.now();
    let tampered = |source: TufError| TrustError::Tampered {
        repo: repo.to_owned(),
        source,
    };
    let mut history = Vec::new();
    let mut earlier: Option<TrustedSet> = None;
    for version in 1..anchor_version {
        let name = file_name(&RoleName::Root, Some(version));
        let bytes = fetch(repo, fetcher, &name, "root", limits.max_root_bytes)?.ok_or_else(|| {
            TrustError::Incomplete {
                repo: repo.to_owned(),
                what: name.clone(),
            }
        })?;
        match &mut earlier {
            None => earlier = Some(TrustedSet::new(&bytes, now, limits).map_err(tampered)?),
            Some(set) => set.update_root(&bytes).map_err(tampered)?,
        }
        history.push(bytes);
    }
    if let Some(set) = &mut earlier {
        set.update_root(anchor).map_err(tampered)?;
    }
    Ok(history)
}

/// A verified reader of one repository's trust data: the TUF client after
/// the update workflow, ready for lookups.
pub(crate) fn open_reader<'s>(
    trust: &Trust,
    repo: &str,
    store: &'s dyn Store,
    first_use: FirstUse,
) -> Result<(StoreUpdater<'s>, Option<String>), TrustError> {
    if trust.offline {
        return open_offline(trust, repo, first_use).map(|c| (c, None));
    }
    for _ in 0..MAX_STALE_READS {
        // One request tells whether the trust data changed since last time.
        let current = store.head(TRUST_TAG)?.ok_or_else(|| TrustError::NoTrustData {
            repo: repo.to_owned(),
        })?;
        match open_online(trust, repo, store, first_use, &current) {
            Err(e) if e.is_refusal() && moved_since(store, &current) => continue,
            other => return other,
        }
    }
    Err(TrustError::Contended {
        repo: repo.to_owned(),
        attempts: MAX_STALE_READS,
    })
}

fn open_offline<'s>(trust: &Trust, repo: &str, first_use: FirstUse) -> Result<StoreUpdater<'s>, TrustError> {
    let now = trust.now();
    let cache = Cache::new(&trust.dir, repo);
    let start = start(trust, repo, first_use, &mut Offline)?;
    let set = walk_cached(trust, repo, &start, now)?;
    let mut client = Updater::from_trusted(cache.metadata().clone(), Source::Offline(Offline), "", set);
    client.load_cached().map_err(|e| match e {
        // Offline, a file missing from the cache is "cannot decide".
        UpdateError::Unavailable { .. } => TrustError::NoCache {
            repo: repo.to_owned(),
        },
        e => from_update(repo, e),
    })?;
    if let Some(until) = client.trusted().fresh_until() {
        trust.notice(super::Notice::OfflineFreshUntil {
            repo: repo.to_owned(),
            until: until.as_str().to_owned(),
        });
    }
    Ok(client)
}

fn open_online<'s>(
    trust: &Trust,
    repo: &str,
    store: &'s dyn Store,
    first_use: FirstUse,
    current: &str,
) -> Result<(StoreUpdater<'s>, Option<String>), TrustError> {
    let now = trust.now();
    let cache = Cache::new(&trust.dir, repo);
    let mut fetcher = ArtifactFetcher::new(store);
    let start = start(trust, repo, first_use, &mut fetcher)?;
    let set = walk_cached(trust, repo, &start, now)?;
    if cache.last_artifact()?.as_deref() == Some(current) {
        // Nothing changed since the last verification: the cached metadata
        // serves as long as it is fresh.
        let mut client = Updater::from_trusted(
            cache.metadata().clone(),
            Source::Store(ArtifactFetcher::new(store)),
            "",
            set.clone(),
        );
        if client.load_cached().is_ok() {
            return Ok((client, Some(current.to_owned())));
        }
    }
    let mut client = Updater::from_trusted(cache.metadata().clone(), Source::Store(fetcher), "", set);
    client.refresh().map_err(|e| from_update(repo, e))?;
    let mut verified = None;
    if let Source::Store(f) = client.fetcher()
        && let Some(digest) = f.digest()
    {
        cache.set_last_artifact(digest)?;
        verified = Some(digest.to_owned());
    }
    Ok((client, verified))
}

/// How a writer treats expired trust data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Building {
    /// Builds only on unexpired trust data (expiry of root and the roles
    /// below the timestamp is skipped against this machine's verified
    /// copy only).
    Fresh,
    /// Renews: may build on an expired timestamp too, against this
    /// machine's verified copy (`refresh`, `renew`, `root`, …).
    Repair,
    /// Reads staged changes to list or approve them: expired data is read
    /// even without a verified copy (with a warning); nothing is
    /// published from such a read.
    Review,
}

impl Building {
    /// The mode a publish takes: a review never publishes on unchecked
    /// data.
    pub fn for_publishing(self) -> Building {
        match self {
            Building::Review => Building::Repair,
            other => other,
        }
    }
}

/// What a writer starts from: the repository as verified, ready to edit.
#[derive(Debug)]
pub struct WriterState {
    /// The editable repository, built from verified metadata only.
    pub repo: MetadataEditor,
    /// How well each targets role is signed.
    pub states: BTreeMap<RoleName, RoleState>,
    /// The digest of the trust artifact it was read from (for the
    /// compare-and-swap publish).
    pub artifact: String,
    /// That artifact as read: what it lists need not be written again.
    pub previous: artifact::TrustArtifact,
}

/// Loads a repository's trust data for a writer, verified as a reader
/// verifies it: a pinned root, rollback checks against this machine's
/// cache, signatures, snapshot and timestamp consistency. Two deliberate
/// differences, both documented: expiry is not checked but for the
/// timestamp's (a `repair` renews an expired state against this machine's
/// cache; nothing else builds on one), and a role
/// partly signed by k-of-n signers is kept (see [`WriterLoad`]). Anything
/// else that does not verify is [`TrustError::Tampered`].
///
/// With `bins_for`, of succinct hashed bins only those that hold these tags
/// are loaded (see [`WriterLoad::only_bins_for`]).
pub(crate) fn load_for_writing(
    trust: &Trust,
    repo: &str,
    store: &dyn Store,
    bins_for: Option<&[String]>,
    mode: Building,
) -> Result<WriterState, TrustError> {
    trust.ensure_dir()?;
    for _ in 0..MAX_STALE_READS {
        let art = artifact::read(store)?.ok_or_else(|| TrustError::NotInitialised {
            repo: repo.to_owned(),
        })?;
        let read = art.digest.clone();
        match load_artifact(trust, repo, store, art, bins_for, mode) {
            Err(e) if e.is_refusal() && moved_since(store, &read) => continue,
            other => return other,
        }
    }
    Err(TrustError::Contended {
        repo: repo.to_owned(),
        attempts: MAX_STALE_READS,
    })
}

/// How often a load starts over because another writer on this machine
/// published (and updated the shared cache) while it read.
const MAX_STALE_READS: usize = 20;

/// Whether the trust tag has moved away from `read` (the artifact a load
/// read). A refusal seen while it moved may come from another writer of
/// this machine updating the cache mid-read: the load starts over, and
/// refuses only what it sees on a tag that stood still.
fn moved_since(store: &dyn Store, read: &str) -> bool {
    store.head(TRUST_TAG).ok().flatten().as_deref() != Some(read)
}

fn load_artifact(
    trust: &Trust,
    repo: &str,
    store: &dyn Store,
    art: artifact::TrustArtifact,
    bins_for: Option<&[String]>,
    mode: Building,
) -> Result<WriterState, TrustError> {
    let digest = art.digest.clone();
    let mut fetcher = ArtifactFetcher::with_artifact(store, art);
    let start = start(trust, repo, FirstUse::Refuse, &mut fetcher)?;
    let cache = Cache::new(&trust.dir, repo);
    let limits = trust.limits;
    let tampered = |source: TufError| {
        if matches!(source, TufError::Expired { .. }) {
            TrustError::ExpiredUnchecked {
                repo: repo.to_owned(),
                source,
            }
        } else {
            TrustError::Tampered {
                repo: repo.to_owned(),
                source,
            }
        }
    };
    let incomplete = |what: &str| TrustError::Incomplete {
        repo: repo.to_owned(),
        what: what.to_owned(),
    };
    let now = trust.now();
    let Some((_, anchor)) = start.chain.first() else {
        return Err(TrustError::NoCache {
            repo: repo.to_owned(),
        });
    };
    let mut history = history_before(trust, repo, &mut fetcher, start.anchor_version, anchor)?;
    // 5.3: from the pinned root through the store's rotations; the chain
    // must reach at least the newest root this machine trusted, and the
    // update counts key rotations from there (5.3.11).
    history.push(anchor.clone());
    let cached_newest = start.chain.last().map_or(start.anchor_version, |(v, _)| *v);
    let mut set = TrustedSet::new(anchor, now, limits)
        .map_err(tampered)?
        .with_denied(start.denied.iter().map(KeyId::new))
        .map_err(tampered)?
        .danger_ignore_expiry_for_republishing();
    while let Some(version) = set.next_root_version() {
        let name = file_name(&RoleName::Root, Some(version));
        let Some(bytes) = fetch(repo, &mut fetcher, &name, "root", limits.max_root_bytes)? else {
            break;
        };
        set.update_root(&bytes).map_err(tampered)?;
        history.push(bytes);
        if version == cached_newest {
            set.begin_update();
        }
    }
    if set.root().signed().version < cached_newest {
        return Err(tampered(TufError::Rollback {
            role: "root".to_owned(),
            trusted: cached_newest,
            got: set.root().signed().version,
        }));
    }
    let deleted = set.finish_root_update().map_err(tampered)?;
    let damaged = |role: &RoleName, e: TufError| TrustError::Local {
        path: cache.metadata().file(role).display().to_string(),
        source: std::io::Error::other(format!(
            "the cached {role} metadata no longer verifies ({e}); remove the directory to start over"
        )),
    };
    // 5.4 and 5.5 against this machine's cache: no rollback.
    let local = TrustError::local(cache.metadata().path());
    let mut reference = false;
    if !deleted.contains(&RoleName::Timestamp)
        && let Some(old) = cache.metadata().read(&RoleName::Timestamp).map_err(&local)?
    {
        set.load_timestamp(&old)
            .map_err(|e| damaged(&RoleName::Timestamp, e))?;
        reference = true;
    }
    // Expiry may be skipped only against what this machine verified
    // before: without that reference, an expired state could be an old one
    // served again, and re-signing it would make it fresh.
    if !reference && mode != Building::Review {
        set.enforce_expiry();
        set.root_is_current().map_err(tampered)?;
    }
    if !reference && mode == Building::Review && set.root_is_current().is_err() {
        trust.notice(super::Notice::ExpiredUnchecked {
            repo: repo.to_owned(),
        });
    }
    let ts = fetch(
        repo,
        &mut fetcher,
        "timestamp.json",
        "timestamp",
        limits.max_timestamp_bytes,
    )?
    .ok_or_else(|| incomplete("timestamp.json"))?;
    set.update_timestamp(&ts).map_err(tampered)?;
    // A writer does not build on a state whose timestamp has expired: it
    // may be an older state served again (a stale publisher would sign
    // over a revocation). Only a repair (`refresh`) renews it, checked
    // against this machine's cache.
    if mode == Building::Fresh
        && let Some(t) = set.timestamp()
        && t.signed().expires.at <= now
    {
        return Err(TrustError::ExpiredState {
            repo: repo.to_owned(),
            expires: t.signed().expires.as_str().to_owned(),
        });
    }
    if !deleted.contains(&RoleName::Snapshot)
        && let Some(old) = cache.metadata().read(&RoleName::Snapshot).map_err(&local)?
    {
        set.load_snapshot(&old)
            .map_err(|e| damaged(&RoleName::Snapshot, e))?;
    }
    let request = set.snapshot_request().map_err(tampered)?;
    let name = file_name(&RoleName::Snapshot, request.version);
    let bytes =
        fetch(repo, &mut fetcher, &name, "snapshot", request.max_bytes)?.ok_or_else(|| incomplete(&name))?;
    set.update_snapshot(&bytes).map_err(tampered)?;
    // 5.6 for every reachable targets role, from the store (never the
    // cache: a co-signer's newer signatures must not be dropped).
    let mut load = WriterLoad::new(&set).map_err(tampered)?;
    if let Some(tags) = bins_for {
        load = load.only_bins_for(tags.iter().cloned()).also_bins_outside(
            crate::tuf::bin_versions::clock(now - crate::tuf::bin_versions::RENEW_AFTER)
                ..=crate::tuf::bin_versions::clock(now + time::Duration::days(1)),
        );
    }
    while let Some(request) = load.next_request().map_err(tampered)? {
        let name = file_name(&request.role, request.version);
        let bytes = fetch(
            repo,
            &mut fetcher,
            &name,
            request.role.as_str(),
            request.max_bytes,
        )?
        .ok_or_else(|| incomplete(&name))?;
        // A bin signed before versions were bound to names: only as this
        // machine verified it (`WriterLoad::accept_unbound`).
        if request.version.is_some_and(|v| {
            crate::tuf::bin_versions::slot(request.role.as_str()).is_some()
                && !crate::tuf::bin_versions::bound_to(request.role.as_str(), v)
        }) && cache.metadata().read(&request.role).map_err(&local)?.as_deref() == Some(bytes.as_slice())
        {
            load.accept_unbound(request.role.as_str());
        }
        load.add(&bytes).map_err(tampered)?;
    }
    let roles = load.finish();
    let states = roles.iter().map(|(name, r)| (name.clone(), r.state)).collect();
    let (Some(timestamp), Some(snapshot)) = (set.timestamp(), set.snapshot()) else {
        return Err(incomplete("timestamp.json"));
    };
    let repo_state = MetadataEditor::from_verified(
        history,
        &timestamp.envelope,
        &snapshot.envelope,
        roles,
        Expiries::default(),
    )
    .map_err(tampered)?;
    let previous = fetcher
        .artifact()
        .cloned()
        .ok_or_else(|| incomplete("trust artifact"))?;
    Ok(WriterState {
        repo: repo_state,
        states,
        artifact: digest,
        previous,
    })
}
