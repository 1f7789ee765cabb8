//! Versions of vouch's succinct hashed bins (docs/trust-format.md,
//! "Bins").
//!
//! Snapshot lists a fully signed bin by version only (about 40 bytes a bin
//! instead of 130), and every bin of a set shares its keys. So a version
//! must name one signing of one bin and nothing else:
//!
//! * **bound to the bin's name**: a bin's version is congruent to its slot
//!   (`b-HEX`: HEX, `rb-HEX`: 4,096 + HEX) modulo [`SLOTS`], so no two bins
//!   ever share a version and bin Y's file can never pass as bin X, empty
//!   bins included. Readers of vouch trust data refuse a bin listed by
//!   version only whose version is not in its slot.
//! * **unique to one signing**: the rest of the version is the clock in
//!   milliseconds since 2025-01-01 times 1,000 plus a random 0 to 999, so
//!   two signings of one bin (one of them abandoned, or two publishers
//!   racing) share a version only in the same millisecond and with the
//!   same draw.
//! * **dated**: the same clock tells, from snapshot alone, when each bin
//!   was last signed ([`signed_before`]).
//!
//! About 5.1e17 in 2026 and below 2^63 until about 2060: above the 2^53
//! that a JavaScript number keeps exact, which no TUF client here uses
//! (python-tuf, tough, Go and vouch read 64-bit integers).

use time::OffsetDateTime;

/// A writer renews a bin (or the role that delegates to bins) signed this
/// long ago when it next signs: it would expire within about two months
/// (targets roles are valid for a year). Bins carry the time they were
/// signed in their version, so the stale ones are found in snapshot
/// without reading every bin.
pub const RENEW_AFTER: time::Duration = time::Duration::days(300);

/// The modulus of a bin's slot: two sets of at most 4,096 bins.
pub const SLOTS: u64 = 8192;

/// Most bins in one set (`b-` or `rb-`).
const SET: u64 = 4096;

/// Milliseconds from 1970 to 2025-01-01, the clock's origin.
const ORIGIN_MS: i128 = 1_735_689_600_000;

/// The slot of bin `name` (`b-HEX` or `rb-HEX`, HEX below 4,096), or
/// `None` for a name that is not one of vouch's bins.
pub fn slot(name: &str) -> Option<u64> {
    let (base, hex) = if let Some(hex) = name.strip_prefix("rb-") {
        (SET, hex)
    } else {
        (0, name.strip_prefix("b-")?)
    };
    if hex.is_empty()
        || hex.len() > 3
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let n = u64::from_str_radix(hex, 16).ok()?;
    (n < SET).then_some(base + n)
}

/// Whether `version` is one that bin `name` may carry: in its slot.
pub fn bound_to(name: &str, version: u64) -> bool {
    slot(name).is_some_and(|s| version % SLOTS == s)
}

/// The least version of a bin signed at `at`, in slot 0 (see the module
/// documentation).
pub fn clock(at: OffsetDateTime) -> u64 {
    let ms = at.unix_timestamp_nanos() / 1_000_000 - ORIGIN_MS;
    u64::try_from(ms.max(0))
        .unwrap_or(0)
        .saturating_mul(1000)
        .saturating_mul(SLOTS)
}

/// The version bin `name` takes when signed at `now`: at least
/// `at_least` (one above what it had), at least the clock with a random
/// draw, and in the bin's slot. `None` for a name that is not a bin.
pub fn next(name: &str, at_least: u64, now: OffsetDateTime) -> Option<u64> {
    let slot = slot(name)?;
    let mut random = [0u8; 2];
    // Without randomness the clock alone still separates most signings.
    let draw = match getrandom::fill(&mut random) {
        Ok(()) => u64::from(u16::from_le_bytes(random)) % 1000,
        Err(_) => 0,
    };
    let least = at_least.max(clock(now).saturating_add(draw.saturating_mul(SLOTS)));
    // The first version at or above `least` in the slot.
    let base = least - least % SLOTS;
    let v = base.saturating_add(slot);
    Some(if v >= least { v } else { v.saturating_add(SLOTS) })
}

/// Whether a bin at `version` was last signed before `at` (bins signed by
/// this vouch carry the time in their version).
pub fn signed_before(version: u64, at: OffsetDateTime) -> bool {
    version < clock(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_name_one_bin_each() {
        assert_eq!(slot("b-000"), Some(0));
        assert_eq!(slot("b-fff"), Some(4095));
        assert_eq!(slot("rb-00"), Some(4096));
        assert_eq!(slot("rb-1a"), Some(4096 + 26));
        for bad in ["b-", "b-1000", "b-FF", "x-00", "rb-g", "targets", "b--1"] {
            assert_eq!(slot(bad), None, "{bad}");
        }
    }

    #[test]
    fn versions_are_in_their_slot_above_the_old_one_and_dated() {
        let now = OffsetDateTime::now_utc();
        for name in ["b-000", "b-7ff", "rb-00", "rb-fff"] {
            let v = next(name, 1, now).expect("a bin");
            assert!(bound_to(name, v), "{name} {v}");
            assert!(!signed_before(v, now), "dated");
            assert!(v < 1 << 62, "room below 2^63");
            let w = next(name, v + 1, now).expect("a bin");
            assert!(w > v && bound_to(name, w), "{name} {v} {w}");
            // Another bin never shares a version.
            assert!(!bound_to(if name == "b-000" { "b-001" } else { "b-000" }, v));
        }
        assert!(signed_before(
            next("b-00", 1, now - time::Duration::days(2)).expect("bin"),
            now - time::Duration::days(1)
        ));
        assert_eq!(next("targets", 1, now), None);
    }
}
