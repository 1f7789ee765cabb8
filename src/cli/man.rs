//! `vouch man` — man pages from the same clap definitions as `--help`.

use std::path::PathBuf;

use clap::CommandFactory;

use super::{Cli, CliError, output};

/// Write man pages (vouch.1, vouch-key.1, …) into a directory, or print vouch.1.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write every page into; without it, vouch.1 goes to stdout
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let cmd = Cli::command();
    match args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .and_then(|()| clap_mangen::generate_to(cmd, &dir))
                .map_err(|e| {
                    CliError::failed(
                        format!("writing man pages to {}: {e}", dir.display()),
                        "check the directory",
                    )
                })?;
            eprintln!("wrote man pages to {}", dir.display());
            Ok(())
        }
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(|e| CliError::bug(format!("rendering the man page: {e}")))?;
            output::print(&String::from_utf8_lossy(&buf))
        }
    }
}
