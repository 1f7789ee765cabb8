//! Forks are noticed: each snapshot vouch signs carries a bounded history
//! of the snapshots before it (`"x-vouch-history"`: up to [`KEPT`]
//! entries `"VERSION:HASH"`, newest first, HASH the first 128 bits of the
//! SHA-256 of that snapshot's canonical `signed` part, which includes its
//! own history, so the entries form a hash chain).
//!
//! A machine that verified snapshot version V with hash H accepts a later
//! snapshot only if it descends from that: the same version with the same
//! content, or a newer one whose history lists (V, H). A newer snapshot
//! whose history reaches back to V or further without listing (V, H) was
//! built on other data (a stale publisher fed an older state, or a store
//! rolled back and signed over): refused, naming both. What remains
//! (SECURITY.md): a machine with no cached state, or one more than
//! [`KEPT`] publishes behind, cannot tell.

use sha2::Digest as _;

use super::error::TufError;
use super::metadata::{Snapshot, signed_bytes};

/// The field of a snapshot's `signed` part that holds its history.
pub const FIELD: &str = "x-vouch-history";

/// The field naming snapshots a publisher signed and then found
/// overwritten by another publisher's (a registry has no compare-and-swap)
/// before it applied its change again on what was served: the new state
/// holds their change, so machines that saw them move on.
pub const SUPERSEDED: &str = "x-vouch-superseded";

/// Most superseded states a snapshot names.
pub const MAX_SUPERSEDED: usize = 8;

/// Entries a snapshot keeps: about 2.8 KB.
pub const KEPT: usize = 64;

/// Hex digits of each entry's hash (128 bits).
const HASH_HEX: usize = 32;

/// One state: a snapshot's version and (truncated) hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// The snapshot's version.
    pub version: u64,
    /// The first 128 bits of the SHA-256 of its canonical `signed`, in hex.
    pub hash: String,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "snapshot version {} ({})", self.version, &self.hash[..12])
    }
}

/// The state `snapshot` is.
pub fn state_of(snapshot: &Snapshot) -> Result<State, TufError> {
    let bytes = signed_bytes(snapshot).map_err(|e| TufError::malformed("snapshot", e))?;
    let mut hash = hex::encode(sha2::Sha256::digest(&bytes));
    hash.truncate(HASH_HEX);
    Ok(State {
        version: snapshot.version,
        hash,
    })
}

/// The history `snapshot` carries (empty when it has none: signed by a
/// vouch before 2026-12-05, or by another TUF writer).
pub fn history_of(snapshot: &Snapshot) -> Result<Vec<State>, TufError> {
    let Some(value) = snapshot.extra.get(FIELD) else {
        return Ok(Vec::new());
    };
    let bad = |why: &str| TufError::malformed("snapshot", format!("{FIELD}: {why}"));
    let entries = value.as_array().ok_or_else(|| bad("not a list"))?;
    if entries.len() > KEPT {
        return Err(bad("longer than vouch keeps"));
    }
    let mut out: Vec<State> = Vec::with_capacity(entries.len());
    for e in entries {
        let (version, hash) = e
            .as_str()
            .and_then(|s| s.split_once(':'))
            .ok_or_else(|| bad("an entry is not VERSION:HASH"))?;
        let version: u64 = version.parse().map_err(|_| bad("a version is not a number"))?;
        if hash.len() != HASH_HEX
            || !hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("a hash is not 32 lowercase hex digits"));
        }
        // Newest first, each older than the one before and than the
        // snapshot itself.
        let above = out.last().map_or(snapshot.version, |s| s.version);
        if version >= above {
            return Err(bad("entries out of order"));
        }
        out.push(State {
            version,
            hash: hash.to_owned(),
        });
    }
    Ok(out)
}

/// The superseded states `snapshot` names (see [`SUPERSEDED`]).
pub fn superseded_of(snapshot: &Snapshot) -> Vec<State> {
    snapshot
        .extra
        .get(SUPERSEDED)
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .take(MAX_SUPERSEDED)
        .filter_map(|e| {
            let (version, hash) = e.as_str()?.split_once(':')?;
            Some(State {
                version: version.parse().ok()?,
                hash: hash.to_owned(),
            })
        })
        .collect()
}

/// The `SUPERSEDED` value naming `states` (oldest first): the newest
/// [`MAX_SUPERSEDED`] of them.
pub fn superseded_value(states: &[State]) -> serde_json::Value {
    let from = states.len().saturating_sub(MAX_SUPERSEDED);
    serde_json::Value::Array(
        states[from..]
            .iter()
            .map(|s| serde_json::Value::String(format!("{}:{}", s.version, s.hash)))
            .collect(),
    )
}

/// The history a snapshot signed after `previous` carries: `previous`
/// itself, then its own history, [`KEPT`] entries at most.
pub fn next_history(previous: &Snapshot) -> Result<serde_json::Value, TufError> {
    let mut states = vec![state_of(previous)?];
    states.extend(history_of(previous)?);
    states.truncate(KEPT);
    Ok(serde_json::Value::Array(
        states
            .into_iter()
            .map(|s| serde_json::Value::String(format!("{}:{}", s.version, s.hash)))
            .collect(),
    ))
}

/// Whether `new` descends from `trusted` (see the module documentation);
/// a fork is refused with [`TufError::Fork`].
pub fn check_descends(trusted: &Snapshot, new: &Snapshot) -> Result<(), TufError> {
    let ours = state_of(trusted)?;
    let theirs = state_of(new)?;
    let fork = || TufError::Fork {
        trusted: ours.to_string(),
        got: theirs.to_string(),
    };
    if new.version < trusted.version {
        return Ok(()); // a rollback: refused as one by the TUF checks
    }
    if ours == theirs {
        return Ok(());
    }
    // A state its own publisher found overwritten and applied again here
    // (named for as long as the history reaches back to it).
    if superseded_of(new).contains(&ours) {
        return Ok(());
    }
    if new.version == trusted.version {
        return Err(fork());
    }
    let history = history_of(new)?;
    // Once a state with a history was trusted, a newer one without any
    // cannot be checked (a writer that keeps none, or one stripped): a fork.
    if history.is_empty() && !history_of(trusted)?.is_empty() {
        return Err(fork());
    }
    match history.iter().find(|s| s.version == ours.version) {
        Some(s) if *s == ours => Ok(()),
        Some(_) => Err(fork()),
        // Reaching back past our version without it: another line.
        None if history.last().is_some_and(|oldest| oldest.version < ours.version) => Err(fork()),
        // No history, or ours is older than all of it: cannot tell.
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuf::metadata::Expires;

    fn snapshot(version: u64, tag: &str) -> Snapshot {
        Snapshot {
            type_: "snapshot".to_owned(),
            spec_version: "1.0.31".to_owned(),
            version,
            expires: Expires::new(time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)),
            meta: std::collections::BTreeMap::new(),
            extra: [("note".to_owned(), serde_json::Value::String(tag.to_owned()))].into(),
        }
    }

    fn after(previous: &Snapshot, tag: &str) -> Snapshot {
        let mut s = snapshot(previous.version + 1, tag);
        s.extra
            .insert(FIELD.to_owned(), next_history(previous).expect("history"));
        s
    }

    #[test]
    fn a_line_descends_and_a_fork_does_not() {
        let s1 = snapshot(1, "a");
        let s2 = after(&s1, "b");
        let s3 = after(&s2, "c");
        check_descends(&s1, &s3).expect("descends");
        check_descends(&s2, &s3).expect("descends");
        check_descends(&s3, &s3).expect("the same state");
        // Built on s1 by a stale publisher: the same version as s2, or
        // later, with s1 in its history but not s2.
        let f2 = after(&s1, "fork");
        let f3 = after(&f2, "fork");
        assert!(matches!(check_descends(&s2, &f2), Err(TufError::Fork { .. })));
        assert!(matches!(check_descends(&s2, &f3), Err(TufError::Fork { .. })));
        assert!(matches!(
            check_descends(&s3, &after(&f3, "x")),
            Err(TufError::Fork { .. })
        ));
        // No history, and none trusted: cannot tell.
        check_descends(&s1, &snapshot(5, "old writer")).expect("no history");
    }

    #[test]
    fn a_superseded_state_its_publisher_applied_again_descends() {
        let s1 = snapshot(1, "a");
        let ours = after(&s1, "ours, overwritten");
        let theirs = after(&s1, "theirs");
        let mut again = after(&theirs, "ours again");
        assert!(matches!(
            check_descends(&ours, &again),
            Err(TufError::Fork { .. })
        ));
        again.extra.insert(
            SUPERSEDED.to_owned(),
            superseded_value(&[state_of(&ours).expect("state")]),
        );
        check_descends(&ours, &again).expect("named as superseded");
        check_descends(&theirs, &again).expect("in the history");
        // A history dropped after one was trusted: refused.
        assert!(matches!(
            check_descends(&again, &snapshot(9, "no history")),
            Err(TufError::Fork { .. })
        ));
    }

    #[test]
    fn the_history_is_bounded_and_checked() {
        let mut s = snapshot(1, "a");
        let first = s.clone();
        for _ in 0..(KEPT + 10) {
            s = after(&s, "n");
        }
        assert_eq!(history_of(&s).expect("history").len(), KEPT);
        // The first state is older than the window: cannot tell.
        check_descends(&first, &s).expect("too old to tell");
        let mut bad = s.clone();
        bad.extra.insert(FIELD.to_owned(), serde_json::json!(["x"]));
        assert!(history_of(&bad).is_err());
        bad.extra
            .insert(FIELD.to_owned(), serde_json::json!(["1:00", "2:00"]));
        assert!(history_of(&bad).is_err());
    }
}
