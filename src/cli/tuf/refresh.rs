//! `vouch tuf refresh --metadata-dir DIR --metadata-url URL`

use super::repo::{RepoArgs, fetcher_for};
use crate::cli::CliError;
use crate::store::metadata_dir::MetadataDir;
use crate::tuf::Limits;
use crate::update::Updater;

/// Run the TUF update workflow: follow root rotations, then timestamp,
/// snapshot and top-level targets, with rollback, freeze and mix-and-match
/// checks against the trusted metadata in DIR. "Now" is the system clock.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub repo: RepoArgs,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let (mut fetcher, base) = fetcher_for(&args.repo.metadata_url)?;
    let dir = MetadataDir::standard(&args.repo.metadata_dir);
    let mut client = Updater::open(
        dir,
        fetcher.as_mut(),
        &base,
        time::OffsetDateTime::now_utc(),
        Limits::default(),
    )?;
    client.refresh()?;
    let t = client.trusted();
    let v = |o: Option<u64>| o.map(|v| v.to_string()).unwrap_or_else(|| "-".to_owned());
    eprintln!(
        "Trusted: root v{}, timestamp v{}, snapshot v{}, targets v{}",
        t.root().signed().version,
        v(t.timestamp().map(|x| x.signed().version)),
        v(t.snapshot().map(|x| x.signed().version)),
        v(t.targets("targets").map(|x| x.signed().version)),
    );
    Ok(())
}
