//! `vouch tuf …` — a generic TUF client for standard repositories (python-tuf,
//! go-tuf, tuf-on-ci), over HTTP(S) or from a directory.

mod download;
mod init;
mod refresh;

use std::path::PathBuf;

use clap::Subcommand;

use crate::cli::{CliError, Failure};
use crate::store::{DirFetcher, Fetcher, HttpFetcher};
use crate::update::UpdateError;

#[derive(Debug, Subcommand)]
pub enum TufCommand {
    /// Trust a root: copy ROOT_FILE into the metadata directory (offline)
    Init(init::Args),
    /// Run the TUF update workflow against a repository
    Refresh(refresh::Args),
    /// Refresh, then resolve, download and check targets
    Download(download::Args),
}

pub fn run(cmd: TufCommand) -> Result<(), CliError> {
    match cmd {
        TufCommand::Init(a) => init::run(a),
        TufCommand::Refresh(a) => refresh::run(a),
        TufCommand::Download(a) => download::run(a),
    }
}

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

impl From<UpdateError> for CliError {
    fn from(e: UpdateError) -> Self {
        let hint = match &e {
            UpdateError::Refused(t) => match t.kind() {
                "rollback" => "the repository served older metadata than this client trusts: do not use it; \
                               if the repository was rebuilt on purpose, re-initialise from its new root"
                    .to_owned(),
                "expired" => {
                    "the repository must re-sign its metadata (`vouch refresh` for vouch repositories)"
                        .to_owned()
                }
                _ => "the repository's metadata is not trustworthy; nothing was downloaded".to_owned(),
            },
            UpdateError::NoSuchTarget(_) => {
                "check the target name; `vouch tuf refresh` updates the metadata".to_owned()
            }
            UpdateError::Unavailable { .. } | UpdateError::Fetch(_) => {
                "check the URL and that the repository is reachable; nothing was decided".to_owned()
            }
            UpdateError::Local { .. } => {
                "check the metadata directory (`vouch tuf init` creates it)".to_owned()
            }
        };
        CliError {
            failure: if e.is_refusal() {
                Failure::Refused
            } else {
                Failure::Failed
            },
            message: e.to_string(),
            hint,
        }
    }
}
