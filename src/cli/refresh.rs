//! `vouch refresh REPO`

use crate::cli::passphrase::{PassphraseArgs, Provider};
use crate::cli::repo::{OnlineKeys, open_store, parse_ref, trust};
use crate::cli::{CliError, Context};
use crate::trust::edit::{Writer, snapshot_expires_soon};

/// Keep a repository's trust data fresh: re-sign the timestamp with the
/// timestamp key only (for a cron or CI job), and the snapshot too when it
/// expires within 7 days (or with --snapshot). The trust data is verified
/// first (expiry aside); if it does not verify, nothing is published.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
    /// Re-sign the snapshot as well
    #[arg(long)]
    pub snapshot: bool,
    /// How long the new timestamp stays valid: a number with s, m, h or d
    /// (default 7d). Shorter means a frozen view is noticed sooner; the job
    /// must then run more often.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timestamp_expiry: Option<time::Duration>,
    /// How long a new snapshot stays valid (default 30d); re-signs the
    /// snapshot
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub snapshot_expiry: Option<time::Duration>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.repository)?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref());
    let state = writer.load()?;
    let with_snapshot = args.snapshot || args.snapshot_expiry.is_some() || snapshot_expires_soon(&state);
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let online = OnlineKeys::unlock(ctx, &state, &repo_id, &mut provider, with_snapshot)?;
    let repo = writer.refresh(online.publishing(), args.timestamp_expiry, args.snapshot_expiry)?;
    let snapshot = if with_snapshot {
        format!(
            "; snapshot v{} expires {}",
            repo.snapshot.signed.version,
            repo.snapshot.signed.expires.as_str()
        )
    } else {
        String::new()
    };
    eprintln!(
        "Refreshed {repo_id}: timestamp v{} expires {}{snapshot}",
        repo.timestamp.signed.version,
        repo.timestamp.signed.expires.as_str()
    );
    Ok(())
}

/// `90s`, `15m`, `12h`, `7d`: at least a second, at most 366 days.
fn parse_duration(text: &str) -> Result<time::Duration, String> {
    let bad = || format!("{text:?} is not a duration: write a number and s, m, h or d (e.g. 12h, 7d)");
    let split = text
        .len()
        .checked_sub(1)
        .filter(|&i| text.is_char_boundary(i))
        .ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let unit: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    match n.checked_mul(unit) {
        Some(s) if (1..=366 * 86400).contains(&s) => Ok(time::Duration::seconds(s)),
        _ => Err(format!("{text} is out of range: from 1s to 366d")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(time::Duration::seconds(90)));
        assert_eq!(parse_duration("12h"), Ok(time::Duration::hours(12)));
        assert_eq!(parse_duration("7d"), Ok(time::Duration::days(7)));
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
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
