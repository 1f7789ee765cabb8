//! `vouch tuf …` — a generic TUF client for standard repositories (python-tuf,
//! go-tuf, tuf-on-ci), over HTTP(S) or from a directory.

use clap::Subcommand;

mod download;
mod init;
mod refresh;
pub mod repo;

use crate::cli::CliError;

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
