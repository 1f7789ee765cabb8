//! What `vouch tuf refresh` and `download` share: where the trusted
//! metadata is kept and where the repository is.

use std::path::PathBuf;

use crate::cli::CliError;
use crate::store::{DirFetcher, Fetcher, HttpFetcher};

/// Where the client keeps trusted metadata and where the repository is.
#[derive(Debug, clap::Args)]
pub struct RepoArgs {
    /// Directory of trusted metadata (one ROLE.json a role, exact bytes)
    #[arg(long, value_name = "DIR")]
    pub metadata_dir: PathBuf,
    /// Base URL of the repository's metadata (http://, https://, file:// or a directory)
    #[arg(long, value_name = "URL")]
    pub metadata_url: String,
}

/// A fetcher for a base location, and the base to join names to.
pub fn fetcher_for(base: &str) -> Result<(Box<dyn Fetcher>, String), CliError> {
    if base.starts_with("http://") || base.starts_with("https://") {
        let f = HttpFetcher::new().map_err(|e| CliError::failed(e.to_string(), "check the URL"))?;
        Ok((Box::new(f), base.to_owned()))
    } else {
        let path = base.strip_prefix("file://").unwrap_or(base);
        Ok((Box::new(DirFetcher::new("")), path.to_owned()))
    }
}
