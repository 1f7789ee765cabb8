//! Durations on the command line: a whole number and a unit, `s`, `m`, `h`
//! or `d` (`90s`, `15m`, `12h`, `7d`). One parser; each option says its
//! range and whether a bare number means minutes.

use std::time::Duration;

/// How long new metadata stays valid (`vouch refresh --timestamp-expiry`):
/// a unit is required, from 1s to 366d.
pub fn expiry(text: &str) -> Result<time::Duration, String> {
    let d = parse(text, Duration::from_secs(366 * 86400), false)?;
    time::Duration::try_from(d).map_err(|_| format!("{text} is out of range: from 1s to 366d"))
}

/// How long a passphrase stays in the keyring (`vouch key unlock
/// --remember`): from 1s to 7d; a bare number is minutes.
pub fn remember(text: &str) -> Result<Duration, String> {
    parse(text, Duration::from_secs(7 * 86400), true)
}

/// How long a webhook answer may take (`vouch admission --deadline`):
/// from 1s to 29s, a unit required (the API server waits at most 30s).
pub fn deadline(text: &str) -> Result<Duration, String> {
    parse(text, Duration::from_secs(29), false)
}

/// The one parser: `NUMBER UNIT`, at least a second and at most `max`.
fn parse(text: &str, max: Duration, bare_minutes: bool) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration: write a number and s, m, h or d (e.g. 12h, 7d)");
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "" if bare_minutes => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    let out_of_range = || format!("{text} is out of range: from 1s to {}d", max.as_secs() / 86400);
    match n.checked_mul(unit) {
        Some(s) if s >= 1 && s <= max.as_secs() => Ok(Duration::from_secs(s)),
        _ => Err(out_of_range()),
    }
}

#[cfg(test)]
mod tests {
    use super::{expiry, remember};

    #[test]
    fn expiries_need_a_unit() {
        assert_eq!(expiry("90s"), Ok(time::Duration::seconds(90)));
        assert_eq!(expiry("12h"), Ok(time::Duration::hours(12)));
        assert_eq!(expiry("7d"), Ok(time::Duration::days(7)));
        assert_eq!(expiry("366d"), Ok(time::Duration::days(366)));
        for bad in [
            "",
            "d",
            "7",
            "7w",
            "-1d",
            "0s",
            "367d",
            "1.5h",
            "9999999999999999999d",
            "99999999999999d",
            "7дн",
            "+7d",
        ] {
            assert!(expiry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn remembering_reads_a_bare_number_as_minutes() {
        assert_eq!(remember("15"), Ok(std::time::Duration::from_secs(15 * 60)));
        assert_eq!(remember("30s"), Ok(std::time::Duration::from_secs(30)));
        assert_eq!(remember("7d"), Ok(std::time::Duration::from_secs(7 * 86400)));
        for bad in ["", "0", "0m", "8d", "1w", "m", "-5m"] {
            assert!(remember(bad).is_err(), "{bad}");
        }
    }
}
