//! `vouch refresh REPO`

use crate::cli::passphrase::{PassphraseArgs, Provider};
use crate::cli::repo::{find_key, load, open_store, parse_ref, publish, unlock_key};
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
    let timestamp_key = unlock_key(&find_key(ctx, "timestamp", &repo_id)?, &mut provider)?;
    let mut snapshot_key = None;
    for _ in 0..20 {
        let (art, mut repo) = load(layout)?.ok_or_else(|| {
            CliError::failed(
                format!("{repo_id} has no trust data"),
                format!("run `vouch init {repo_id}` first"),
            )
        })?;
        let soon =
            repo.snapshot.signed.expires.at - time::OffsetDateTime::now_utc() < time::Duration::days(7);
        if (args.snapshot || soon) && snapshot_key.is_none() {
            snapshot_key = Some(unlock_key(&find_key(ctx, "snapshot", &repo_id)?, &mut provider)?);
        }
        if publish(
            layout,
            &mut repo,
            snapshot_key.as_ref(),
            &timestamp_key,
            Some(&art.digest),
        )? {
            eprintln!(
                "Refreshed {repo_id}: timestamp v{} expires {}{}",
                repo.timestamp.signed.version,
                repo.timestamp.signed.expires.as_str(),
                if snapshot_key.is_some() {
                    format!(
                        "; snapshot v{} expires {}",
                        repo.snapshot.signed.version,
                        repo.snapshot.signed.expires.as_str()
                    )
                } else {
                    String::new()
                }
            );
            return Ok(());
        }
    }
    Err(CliError::failed(
        format!("{repo_id}: gave up after 20 concurrent updates"),
        "try again",
    ))
}
