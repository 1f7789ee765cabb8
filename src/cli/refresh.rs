//! `vouch refresh REPO`

use crate::cli::passphrase::{PassphraseArgs, Provider};
use crate::cli::repo::{load, no_trust_data, open_store, parse_ref, role_key, update};
use crate::cli::{CliError, Context};

/// Keep a repository's trust data fresh: re-sign the timestamp with the
/// timestamp key only (for a cron or CI job), and the snapshot too when it
/// expires within 7 days (or with --snapshot).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: oci:DIR
    pub repository: String,
    /// Re-sign the snapshot as well
    #[arg(long)]
    pub snapshot: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.repository)?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let layout = store.as_ref();
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let timestamp_key = role_key(ctx, &mut provider, "timestamp", &repo_id)?;
    let (_, current) = load(layout)?.ok_or_else(|| no_trust_data(&repo_id))?;
    let soon = current.snapshot.signed.expires.at - time::OffsetDateTime::now_utc() < time::Duration::days(7);
    let snapshot_key = if args.snapshot || soon {
        Some(role_key(ctx, &mut provider, "snapshot", &repo_id)?)
    } else {
        None
    };
    let ((), repo) = update(layout, &repo_id, snapshot_key.as_ref(), &timestamp_key, |_, _| {
        Ok(())
    })?;
    let snapshot = match &snapshot_key {
        Some(_) => format!(
            "; snapshot v{} expires {}",
            repo.snapshot.signed.version,
            repo.snapshot.signed.expires.as_str()
        ),
        None => String::new(),
    };
    eprintln!(
        "Refreshed {repo_id}: timestamp v{} expires {}{snapshot}",
        repo.timestamp.signed.version,
        repo.timestamp.signed.expires.as_str()
    );
    Ok(())
}
