//! `vouch refresh REPO`

use crate::cli::common::{OnlineKeys, open_store, parse_ref, trust};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context};
use crate::trust::writer::{Standing, Writer, snapshot_expires_soon};

/// Keep a repository's trust data fresh: re-sign the timestamp with the
/// timestamp key only (for a cron or CI job), and the snapshot too when it
/// expires within 7 days (or with --snapshot). The trust data is verified
/// first (expiry aside); if it does not verify, nothing is published.
/// Where the snapshot key is here too, the staged changes a threshold has
/// signed are published as with `vouch publish`.
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
    #[arg(long, value_name = "DURATION", value_parser = super::duration::expiry)]
    pub timestamp_expiry: Option<time::Duration>,
    /// How long a new snapshot stays valid (default 30d); re-signs the
    /// snapshot
    #[arg(long, value_name = "DURATION", value_parser = super::duration::expiry)]
    pub snapshot_expiry: Option<time::Duration>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.repository)?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref()).repairing();
    let state = writer.load_for(&[])?;
    let with_snapshot = args.snapshot
        || args.snapshot_expiry.is_some()
        || snapshot_expires_soon(&state, writer.trust().now());
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
    // Whoever holds snapshot and timestamp also publishes the staged
    // changes a threshold has signed (a refresh cron is such a job).
    let complete = writer
        .staged()?
        .pending
        .iter()
        .filter(|p| p.standing == Standing::Complete)
        .count();
    if complete > 0 {
        if crate::trust::signing_keys::top_level(&ctx.trust_dir, &repo, &repo_id, "snapshot").is_err() {
            eprintln!(
                "{complete} complete staged change(s) of {repo_id} wait for a publisher with the snapshot key"
            );
            return Ok(());
        }
        let online = match with_snapshot {
            true => online,
            false => OnlineKeys::unlock(ctx, &state, &repo_id, &mut provider, true)?,
        };
        super::publish::publish_complete(&writer, &repo_id, &online)?;
    }
    Ok(())
}
