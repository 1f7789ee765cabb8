//! `vouch completions SHELL`

use clap::CommandFactory;

use super::{Cli, CliError, output};

/// Print a completion script for SHELL on stdout.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "vouch", &mut buf);
    output::print(&String::from_utf8_lossy(&buf))
}
