//! `vouch key passwd KEYID`

use std::path::PathBuf;

use vouch_keys::keyring::KeyringCache;
use vouch_keys::passphrase::{PassphraseProvider, Purpose, Request};
use vouch_keys::{KeyFile, describe_key, sealed, unlock};

use super::kdf::KdfChoice;
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context};

/// Change a key's passphrase. The current passphrase comes from the usual
/// sources; the new one from $VOUCH_NEW_PASSPHRASE, --new-passphrase-file,
/// the next line of stdin (with --passphrase-stdin) or the terminal. The
/// file is replaced atomically: a crash leaves the old file.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Key id, unique id prefix, or name
    pub key: String,
    /// Read the new passphrase from FILE
    #[arg(long, value_name = "FILE")]
    pub new_passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    pub short: crate::cli::prompt::AllowShort,
    /// Key derivation cost for the re-sealed file
    #[arg(long, value_enum, default_value_t)]
    pub kdf: KdfChoice,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let stored = ctx.trust_dir.find(&args.key)?;
    let info = &stored.file.info;
    let mut current = Provider::new(args.passphrase.clone(), ctx.interactive);
    let (key, _) = unlock(&stored, &mut current)?;

    let new_args = PassphraseArgs {
        passphrase_file: args.new_passphrase_file,
        passphrase_stdin: args.passphrase.passphrase_stdin,
    };
    let mut fresh = Provider::new(new_args, ctx.interactive)
        .allow_short(args.short.allow_short_passphrase)
        .env_override("VOUCH_NEW_PASSPHRASE");
    let what = describe_key(info);
    let req = Request {
        purpose: Purpose::Create,
        what: &what,
        class: info.role.class(),
        key_id: Some(&info.id),
    };
    let new = fresh.obtain(&req, None)?;
    let file = KeyFile {
        info: info.clone(),
        sealed: sealed::seal(&key, &new.passphrase, args.kdf.cost())?,
    };
    ctx.trust_dir.replace(&file)?;
    if let Ok(cache) = KeyringCache::open() {
        let _ = cache.forget(&info.id);
    }
    eprintln!("Changed the passphrase of {what}");
    Ok(())
}
