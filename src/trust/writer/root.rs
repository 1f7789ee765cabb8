//! Root changes. A new root version is a staged change like any other
//! (`staging`): it names the root it replaces (`BASE`), it is the next
//! version, and it counts only once a threshold of the live root's root
//! keys *and* a threshold of its own root keys signed it, each key once
//! (TUF 5.3.4). Its holders sign on their own machines (`vouch approve`).
//! The first root of a repository with several root holders is staged
//! the same way before anything is published (the genesis change).

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::shortfall::Shortfall;
use crate::tuf::crypto::count_signatures;
use crate::tuf::editor::{BASE, Signed, root_hash};
use crate::tuf::metadata::{Envelope, KeyId, Root, Signature, signed_bytes};

/// Why a staged root does not apply.
pub(super) enum RootCheck {
    /// The live root moved on since it was made.
    Stale(String),
    /// It is not a valid next root.
    Invalid(String),
}

/// Parses a staged root's metadata.
pub(super) fn parse_root(metadata: &serde_json::Value) -> Result<Signed<Root>, String> {
    let bytes = serde_json::to_vec(metadata).map_err(|e| e.to_string())?;
    let env: Envelope<Root> = Envelope::parse("root", &bytes).map_err(|e| e.to_string())?;
    Ok(Signed {
        signed: env.signed,
        signatures: env.signatures,
    })
}

/// Checks staged root `new` against the live root (`None`: a repository
/// with no trust data yet, where it must be version 1), made against
/// `base_version` and `base`.
pub(super) fn check_root(
    live: Option<&Root>,
    base_version: u64,
    base: &str,
    new: &Root,
    now: OffsetDateTime,
) -> Result<(), RootCheck> {
    let live_hash = match live {
        Some(l) => root_hash(l).map_err(|e| RootCheck::Invalid(e.to_string()))?,
        None => String::new(),
    };
    let live_version = live.map_or(0, |l| l.version);
    if base_version != live_version || base != live_hash {
        return Err(RootCheck::Stale(format!(
            "root is at version {live_version} now; the change was made against version {base_version}"
        )));
    }
    let made_on = new.extra.get(BASE).and_then(|v| v.as_str()).unwrap_or_default();
    if live.is_some() && made_on != base {
        return Err(RootCheck::Invalid(
            "the staged root was not made on the live root it claims to replace".to_owned(),
        ));
    }
    if new.version != live_version + 1 {
        return Err(RootCheck::Invalid(format!(
            "root version {} is not the next version of the live root (version {live_version})",
            new.version
        )));
    }
    if new.type_ != "root" {
        return Err(RootCheck::Invalid("the staged root is not a root".to_owned()));
    }
    crate::tuf::trusted_set::validate_root(new).map_err(|e| RootCheck::Invalid(e.to_string()))?;
    if new.expires.at <= now {
        return Err(RootCheck::Invalid(format!(
            "root version {} expired at {}",
            new.version,
            new.expires.as_str()
        )));
    }
    if let Some(l) = live
        && l.consistent_snapshot != new.consistent_snapshot
    {
        return Err(RootCheck::Invalid(
            "the staged root changes consistent_snapshot, which vouch does not do".to_owned(),
        ));
    }
    Ok(())
}

/// Of `candidates`, the key ids of distinct `by`'s root keys whose
/// signature over `new` verifies (one signature per key id considered,
/// the first that verifies; the same key under two ids counts once).
fn valid_by(by: &Root, new: &Root, candidates: &[Signature], denied: &BTreeSet<String>) -> Vec<Signature> {
    let Some(role) = by.roles.get("root") else {
        return Vec::new();
    };
    // Denied keys (`vouch deny`) count for nothing.
    let authorised: Vec<KeyId> = role
        .keyids
        .iter()
        .filter(|k| !denied.contains(k.as_str()))
        .cloned()
        .collect();
    let Ok(canonical) = signed_bytes(new) else {
        return Vec::new();
    };
    let mut valid: BTreeMap<KeyId, Signature> = BTreeMap::new();
    for sig in candidates {
        if valid.contains_key(&sig.keyid) {
            continue;
        }
        let one = std::slice::from_ref(sig);
        if count_signatures("root", new.version, &canonical, one, &by.keys, &authorised)
            .is_ok_and(|c| !c.valid.is_empty())
        {
            valid.insert(sig.keyid.clone(), sig.clone());
        }
    }
    let kept: Vec<Signature> = valid.into_values().collect();
    let counted = count_signatures("root", new.version, &canonical, &kept, &by.keys, &authorised)
        .map(|c| c.valid)
        .unwrap_or_default();
    kept.into_iter().filter(|s| counted.contains(&s.keyid)).collect()
}

/// Where a staged root stands, each signature verified once.
pub(super) struct Weighed {
    /// Its signatures that count: valid ones by the live root's root keys
    /// or by its own.
    pub signatures: Vec<Signature>,
    /// Per root key of the live root and of the new one: whether it
    /// signed, and whether each threshold is met (for `vouch staged`).
    pub status: Vec<String>,
    /// What it still needs: a threshold of the live root's root keys and
    /// a threshold of its own, counted separately.
    pub short: Vec<Shortfall>,
}

/// Weighs staged root `new` against the live root (`None`: a first root)
/// and itself, counting no key in `denied`.
pub(super) fn weigh(live: Option<&Root>, new: &Signed<Root>, denied: &BTreeSet<String>) -> Weighed {
    let mut by: Vec<(String, String, &Root)> = Vec::new();
    if let Some(l) = live {
        by.push((
            format!("root v{} (keys of root v{})", new.signed.version, l.version),
            format!("old root v{} keys", l.version),
            l,
        ));
    }
    by.push((
        format!("root v{} (its own keys)", new.signed.version),
        format!("new root v{} keys", new.signed.version),
        &new.signed,
    ));
    let valid: Vec<Vec<Signature>> = by
        .iter()
        .map(|(_, _, root)| valid_by(root, &new.signed, &new.signatures, denied))
        .collect();
    let mut signatures: BTreeMap<KeyId, Signature> = BTreeMap::new();
    for s in valid.iter().flatten() {
        signatures.entry(s.keyid.clone()).or_insert_with(|| s.clone());
    }
    let mut status = Vec::new();
    let mut short = Vec::new();
    for ((need, label, root), valid) in by.iter().zip(&valid) {
        // Counted as the threshold counts: distinct keys.
        let n = valid.len();
        let threshold = root.roles.get("root").map_or(1, |r| r.threshold);
        if (n as u64) < threshold {
            short.push(Shortfall {
                role: need.clone(),
                valid: n,
                threshold,
            });
        }
        if let Some(role) = root.roles.get("root") {
            let met = if n as u64 >= role.threshold {
                "met"
            } else {
                "not met"
            };
            status.push(format!("{label}: {n} of {} needed ({met})", role.threshold));
            for id in &role.keyids {
                let mark = if signatures.contains_key(id) {
                    "signed "
                } else {
                    "missing"
                };
                status.push(format!("  {mark} {id}"));
            }
        }
    }
    Weighed {
        signatures: signatures.into_values().collect(),
        status,
        short,
    }
}

/// What root `new` changes of `old` (`None`: a first root), line by line.
pub(super) fn diff_root(old: Option<&Root>, new: &Root, out: &mut Vec<String>) {
    out.push(match old {
        Some(o) => format!(
            "root: version {} -> {}, expires {} (was {})",
            o.version,
            new.version,
            new.expires.as_str(),
            o.expires.as_str()
        ),
        None => format!(
            "root: new, version {}, expires {}",
            new.version,
            new.expires.as_str()
        ),
    });
    for (role, r) in &new.roles {
        let before = old.and_then(|o| o.roles.get(role));
        match before {
            None => out.push(format!(
                "root role {role}: threshold {} of {} key(s)",
                r.threshold,
                r.keyids.len()
            )),
            Some(b) if b.threshold != r.threshold => out.push(format!(
                "root role {role}: threshold {} -> {} ({} key(s))",
                b.threshold,
                r.threshold,
                r.keyids.len()
            )),
            Some(_) => {}
        }
        for id in &r.keyids {
            if before.is_none_or(|b| !b.keyids.contains(id)) {
                let kind = new.keys.get(id).map_or("?", |k| k.keytype.as_str());
                out.push(format!("root role {role}: + key {id} ({kind})"));
            }
        }
        for id in before.map(|b| b.keyids.as_slice()).unwrap_or_default() {
            if !r.keyids.contains(id) {
                out.push(format!("root role {role}: - key {id}"));
            }
        }
    }
}
