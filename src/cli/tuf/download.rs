//! `vouch tuf download … TARGET...`

use std::path::PathBuf;

use super::repo::{RepoArgs, fetcher_for};
use crate::cli::{CliError, output};
use crate::store::metadata_dir::MetadataDir;
use crate::tuf::{Limits, TargetPath};
use crate::update::Updater;

/// Refresh, then for each TARGET in order: resolve it through delegations,
/// download it, check length and hashes, and print where it is. Stops at
/// the first failure. A target already in the target directory with the
/// right hashes is not fetched again.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Base URL of the repository's targets
    #[arg(long, value_name = "URL")]
    pub target_base_url: String,
    /// Where to put downloaded targets (file names are the percent-encoded target paths)
    #[arg(long, value_name = "DIR")]
    pub target_dir: PathBuf,
    /// Target paths
    #[arg(required = true)]
    pub targets: Vec<String>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let paths = args
        .targets
        .iter()
        .map(|t| TargetPath::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            CliError::failed(
                e.to_string(),
                "target paths are relative, without '.', '..' or '//'",
            )
        })?;
    let (mut fetcher, meta_base) = fetcher_for(&args.repo.metadata_url)?;
    let target_base = args
        .target_base_url
        .strip_prefix("file://")
        .unwrap_or(&args.target_base_url)
        .to_owned();
    let dir = MetadataDir::standard(&args.repo.metadata_dir);
    let mut client = Updater::open(
        dir,
        fetcher.as_mut(),
        &meta_base,
        time::OffsetDateTime::now_utc(),
        Limits::default(),
    )?;
    client.refresh()?;
    for path in &paths {
        let (signer, target) = client.resolve(path)?;
        let local = client.download(path, signer.as_str(), &target, &target_base, &args.target_dir)?;
        output::print(&format!("{}\n", local.display()))?;
    }
    Ok(())
}
