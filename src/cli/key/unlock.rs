//! `vouch key unlock KEYID --remember DURATION` and `vouch key lock [KEYID]`

use std::time::Duration;

use vouch_keys::keyring::KeyringCache;
use vouch_keys::{describe_key, unlock};

use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context};

/// Check a key's passphrase and keep it in the OS keyring (secret service,
/// else the kernel session keyring) for DURATION, so later commands do not ask.
#[derive(Debug, clap::Args)]
pub struct UnlockArgs {
    /// Key id, unique id prefix, or name
    pub key: String,
    /// How long to remember it: e.g. 30s, 15m, 8h, 2d (at most 7d)
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::duration::remember)]
    pub remember: Duration,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// Forget passphrases kept in the OS keyring: one key's, or every key's.
#[derive(Debug, clap::Args)]
pub struct LockArgs {
    /// Key id, unique id prefix, or name [default: every key in the trust directory]
    pub key: Option<String>,
}

pub fn run_unlock(args: UnlockArgs, ctx: &Context) -> Result<(), CliError> {
    let stored = ctx.trust_dir.find(&args.key)?;
    let cache = KeyringCache::open()?;
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let (_key, got) = unlock(&stored, &mut provider)?;
    let now = time::OffsetDateTime::now_utc();
    let until = now.replace_nanosecond(0).unwrap_or(now) + args.remember;
    cache.remember(&stored.file.info.id, &got.passphrase, until)?;
    eprintln!(
        "Remembered the passphrase of {} in the {} until {}",
        describe_key(&stored.file.info),
        cache.backend(),
        until
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );
    Ok(())
}

pub fn run_lock(args: LockArgs, ctx: &Context) -> Result<(), CliError> {
    let ids = match &args.key {
        Some(sel) => vec![ctx.trust_dir.find(sel)?.file.info.id],
        None => ctx
            .trust_dir
            .list()?
            .keys
            .into_iter()
            .map(|k| k.file.info.id)
            .collect(),
    };
    let cache = match KeyringCache::open() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("note: {e}; nothing is remembered there");
            return Ok(());
        }
    };
    let mut forgotten = 0;
    for id in &ids {
        if cache.forget(id)? {
            forgotten += 1;
        }
    }
    eprintln!(
        "Forgot {forgotten} remembered passphrase(s) in the {}",
        cache.backend()
    );
    Ok(())
}
