//! `vouch key remove KEYID`

use std::io::{BufRead, BufReader, Write};

use vouch_keys::describe_key;
use vouch_keys::keyring::KeyringCache;

use crate::cli::prompt::terminal_available;
use crate::cli::{CliError, Context};

/// Delete a key from the trust directory. Asks for confirmation on the
/// terminal; without one, --yes is required.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Key id, unique id prefix, or name
    pub key: String,
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let stored = ctx.trust_dir.find(&args.key)?;
    let what = describe_key(&stored.file.info);
    if !args.yes {
        if !ctx.interactive || !terminal_available() {
            return Err(CliError::failed(
                format!("not removing {what} without confirmation"),
                "pass --yes to remove it without a terminal",
            ));
        }
        if !confirm(&format!("Remove {what}? This cannot be undone. [y/N] "))? {
            return Err(CliError::failed(
                format!("kept {what}"),
                "answer `y` to remove it",
            ));
        }
    }
    ctx.trust_dir.remove(&stored.file.info.id)?;
    if let Ok(cache) = KeyringCache::open() {
        let _ = cache.forget(&stored.file.info.id);
    }
    eprintln!("Removed {what}");
    Ok(())
}

fn confirm(question: &str) -> Result<bool, CliError> {
    let tty_err =
        |e: std::io::Error| CliError::failed(format!("reading from the terminal: {e}"), "pass --yes");
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(tty_err)?;
    tty.write_all(question.as_bytes())
        .and_then(|()| tty.flush())
        .map_err(tty_err)?;
    let mut answer = String::new();
    BufReader::new(tty).read_line(&mut answer).map_err(tty_err)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
