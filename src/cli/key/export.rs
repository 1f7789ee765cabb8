//! `vouch key export KEYID`

use std::path::PathBuf;

use vouch_keys::trust_dir::{Mode, write_atomic};

use crate::cli::{CliError, Context, output};

/// Print a key's public key (PEM). With --private, the key file itself —
/// still encrypted; vouch never writes a private key in plaintext.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Key id, unique id prefix, or name
    pub key: String,
    /// Export the encrypted private key file instead of the public key
    #[arg(long)]
    pub private: bool,
    /// Write to PATH (never replaced) instead of stdout
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let stored = ctx.trust_dir.find(&args.key)?;
    let (text, perm) = if args.private {
        (stored.file.render(), 0o600)
    } else {
        (stored.file.info.public.to_pem(), 0o644)
    };
    match args.output {
        None => output::print(&text),
        Some(path) => write_atomic(&path, text.as_bytes(), perm, Mode::CreateNew).map_err(|e| {
            CliError::failed(
                format!("writing {}: {e}", path.display()),
                "choose a path that does not exist yet in a writable directory",
            )
        }),
    }
}
