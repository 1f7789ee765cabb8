//! Verifying references of one repository, warm or cold, in as few round
//! trips as the store allows.
//!
//! The store is asked two things at once: where the trust tag points, and
//! where each tag to verify points. When the trust tag still points at the
//! trust artifact this machine last verified, and the tags were verified
//! against that very artifact before, the verdicts are answered from a
//! record kept beside the verified cache (`state/verdicts.json`) instead of
//! parsing and verifying every cached file again. The record holds only
//! verdicts the verified path reached, is keyed by the artifact's digest
//! and the pin it was reached under, and carries the earliest expiry of the
//! metadata behind it, checked on every run: an expired repository is
//! refused as before. Anything else takes the verified path
//! ([`Reader`]), which then records what it verified.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cache::Cache;
use super::error::TrustError;
use super::{Reader, Trust, Verdict};
use crate::reference::ImageRef;
use crate::store::Store;
use crate::store::artifact::TRUST_TAG;
use crate::tuf::metadata::Role;

/// Most tags one record keeps (a node verifies its running images over and
/// over; a batch of more starts the record afresh).
const MAX_RECORDED: usize = 4096;
/// Largest record read.
const MAX_RECORD_BYTES: u64 = 2 << 20;

/// Verdicts reached for one trust artifact.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    /// The trust artifact's digest.
    artifact: String,
    /// The pin (root key ids and threshold) they were reached under.
    pin: String,
    /// Unix time at which the first metadata behind them expires.
    expires: i64,
    /// Tag → (digest, how).
    tags: BTreeMap<String, (String, String)>,
}

fn pin_of(trust: &Trust, repo: &str) -> Result<String, TrustError> {
    let policy = crate::policy::Policy::load(&trust.dir)?;
    let pin = super::Pin::of(&policy, repo).map_or_else(String::new, |p| {
        let mut keys = p.keys.clone();
        keys.sort();
        format!("{} of {}", p.threshold, keys.join(","))
    });
    // A key denied since (`vouch deny`) may have signed a root behind the
    // recorded verdicts: they were reached under another policy.
    if policy.deny.is_empty() {
        Ok(pin)
    } else {
        let mut denied = policy.deny.clone();
        denied.sort();
        Ok(format!("{pin}; denied {}", denied.join(",")))
    }
}

fn read_record(cache: &Cache) -> Option<Record> {
    use std::io::Read;
    let file = std::fs::File::open(cache.state_path("verdicts.json")).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_RECORD_BYTES).read_to_end(&mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What verifying references of one repository took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Answered from the record of verdicts (no metadata parsed).
    pub warm: bool,
    /// Bytes of TUF metadata fetched from the store.
    pub metadata: u64,
    /// Bytes of trust manifests fetched from the store.
    pub manifests: u64,
}

/// The verdicts on some references, in order, and what they cost.
pub type Verdicts = (Vec<Result<Verdict, TrustError>>, Cost);

/// Verifies `refs` (all of repository `repo` in `store`), each to a
/// verdict or the reason it is refused or undecided, in order. See the
/// module documentation for the warm path; `tofu` pins an unpinned
/// repository on first use (loudly).
pub fn verify_refs(
    trust: &Trust,
    repo: &str,
    store: &dyn Store,
    refs: &[ImageRef],
    tofu: bool,
) -> Result<Verdicts, TrustError> {
    let cost = |reader: &Reader<'_>| {
        let (metadata, manifests) = reader.bytes_fetched();
        Cost {
            warm: false,
            metadata,
            manifests,
        }
    };
    if trust.offline {
        let mut reader = Reader::open(trust, repo, store, tofu)?;
        let verdicts = refs.iter().map(|r| reader.verify(r, store)).collect();
        return Ok((verdicts, cost(&reader)));
    }
    // The trust tag and every tag, asked at once.
    let tags: Vec<String> = refs
        .iter()
        .filter(|r| r.digest.is_none())
        .filter_map(|r| r.tag.clone())
        .collect();
    // (One lookup: concurrent requests to a registry, one read of a
    // layout's index.json.)
    let mut asked = Vec::with_capacity(tags.len() + 1);
    asked.push(TRUST_TAG.to_owned());
    asked.extend(tags.iter().cloned());
    let mut found = store.head_many(&asked)?.into_iter();
    let trust_head = found.next().flatten().ok_or_else(|| TrustError::NoTrustData {
        repo: repo.to_owned(),
    })?;
    let current: BTreeMap<&str, Option<String>> = tags.iter().map(String::as_str).zip(found).collect();
    let cache = Cache::new(&trust.dir, repo);
    if let Some(verdicts) = warm(trust, repo, &cache, &trust_head, refs, &current)? {
        let warm = Cost {
            warm: true,
            ..Cost::default()
        };
        return Ok((verdicts, warm));
    }
    let mut reader = Reader::open(trust, repo, store, tofu)?;
    let verdicts: Vec<Result<Verdict, TrustError>> = refs
        .iter()
        .map(|r| {
            let known = r.tag.as_deref().and_then(|t| current.get(t).cloned());
            match (r.digest.is_none(), known) {
                (true, Some(now)) => reader.verify_against(r, now),
                _ => reader.verify(r, store),
            }
        })
        .collect();
    if reader.artifact() == Some(trust_head.as_str()) {
        record(trust, repo, &cache, &reader, refs, &verdicts)?;
    }
    Ok((verdicts, cost(&reader)))
}

/// The verdicts from the record, when the trust artifact is the one it
/// was made for, under the same pin, unexpired, and it answers every
/// reference (tags only: a digest alone takes the verified path).
fn warm(
    trust: &Trust,
    repo: &str,
    cache: &Cache,
    trust_head: &str,
    refs: &[ImageRef],
    current: &BTreeMap<&str, Option<String>>,
) -> Result<Option<Vec<Result<Verdict, TrustError>>>, TrustError> {
    if cache.last_artifact()?.as_deref() != Some(trust_head) {
        return Ok(None);
    }
    let Some(record) = read_record(cache) else {
        return Ok(None);
    };
    // The pin must still admit the cached chain's first root, as on every
    // run (else the verified path starts the cache over, record included).
    let chain = cache.chain()?;
    let Some((_, anchor)) = chain.first() else {
        return Ok(None);
    };
    let policy = crate::policy::Policy::load(&trust.dir)?;
    if super::Pin::of(&policy, repo).is_none_or(|pin| pin.admits(anchor).is_err()) {
        return Ok(None);
    }
    if record.artifact != trust_head
        || record.pin != pin_of(trust, repo)?
        || trust.now().unix_timestamp() >= record.expires
    {
        return Ok(None);
    }
    let mut out = Vec::new();
    for r in refs {
        let Some(tag) = &r.tag else { return Ok(None) };
        let Some((signed, how)) = record.tags.get(tag) else {
            return Ok(None);
        };
        let now = match &r.digest {
            Some(d) => Some(d.to_string()),
            None => match current.get(tag.as_str()) {
                Some(now) => now.clone(),
                None => return Ok(None),
            },
        };
        out.push(super::decide::compare(
            repo,
            tag,
            now,
            signed.clone(),
            super::decide::How::Recorded(how),
        ));
    }
    Ok(Some(out))
}

/// Records the tag verdicts `reader` reached (verified tags only), with
/// the earliest expiry of the metadata it holds.
fn record(
    trust: &Trust,
    repo: &str,
    cache: &Cache,
    reader: &Reader<'_>,
    refs: &[ImageRef],
    verdicts: &[Result<Verdict, TrustError>],
) -> Result<(), TrustError> {
    let Some(artifact) = reader.artifact() else {
        return Ok(());
    };
    let set = reader.trusted();
    let mut expires = set.root().signed().expires().at;
    for at in [
        set.timestamp().map(|t| t.signed().expires().at),
        set.snapshot().map(|s| s.signed().expires().at),
    ]
    .into_iter()
    .flatten()
    .chain(set.all_targets().values().map(|t| t.signed().expires().at))
    {
        expires = expires.min(at);
    }
    let pin = pin_of(trust, repo)?;
    let mut rec = match read_record(cache) {
        Some(r) if r.artifact == artifact && r.pin == pin => r,
        _ => Record {
            expires: i64::MAX,
            ..Record::default()
        },
    };
    if rec.tags.len() + refs.len() > MAX_RECORDED {
        rec.tags.clear();
        rec.expires = i64::MAX;
    }
    rec.artifact = artifact.to_owned();
    rec.pin = pin;
    // Tags recorded before came through other bins: the earliest expiry of
    // everything behind any of them.
    rec.expires = rec.expires.min(expires.unix_timestamp());
    // A tag that verified is signed as the verdict's digest.
    for (r, v) in refs.iter().zip(verdicts) {
        if let (Some(tag), Ok(v)) = (&r.tag, v) {
            rec.tags.insert(tag.clone(), (v.digest.clone(), v.how.clone()));
        }
    }
    let bytes = serde_json::to_vec(&rec).map_err(|e| TrustError::bug(e.to_string()))?;
    cache.write_state_bytes("verdicts.json", &bytes)
}
