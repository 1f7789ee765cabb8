//! `vouch key …` — the key manager's commands.

mod export;
mod generate;
pub(crate) mod import;
mod list;
mod passwd;
mod remove;
mod unlock;

use clap::Subcommand;

use super::{CliError, Context};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate an ed25519 key, store it encrypted, write NAME.pub
    Generate(generate::Args),
    /// List the keys in the trust directory (never secrets)
    List(list::Args),
    /// Import private keys: vouch, OpenSSL (PKCS#8, SEC1), Docker trust and notary files
    Import(import::Args),
    /// Print a key's public PEM, or with --private its encrypted key file
    Export(export::Args),
    /// Change a key's passphrase
    Passwd(passwd::Args),
    /// Delete a key from the trust directory
    Remove(remove::Args),
    /// Check a key's passphrase and keep it in the OS keyring for a while
    Unlock(unlock::UnlockArgs),
    /// Forget passphrases kept in the OS keyring
    Lock(unlock::LockArgs),
}

pub fn run(cmd: KeyCommand, ctx: &Context) -> Result<(), CliError> {
    match cmd {
        KeyCommand::Generate(a) => generate::run(a, ctx),
        KeyCommand::List(a) => list::run(a, ctx),
        KeyCommand::Import(a) => import::run(a, ctx),
        KeyCommand::Export(a) => export::run(a, ctx),
        KeyCommand::Passwd(a) => passwd::run(a, ctx),
        KeyCommand::Remove(a) => remove::run(a, ctx),
        KeyCommand::Unlock(a) => unlock::run_unlock(a, ctx),
        KeyCommand::Lock(a) => unlock::run_lock(a, ctx),
    }
}

/// How hard to seal new key files.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum KdfChoice {
    /// scrypt N=2^17 r=1 p=8 (16 MiB): readable by `openssl pkey`
    #[default]
    Default,
    /// scrypt N=2^17 r=8 p=1 (128 MiB): more memory-hard; OpenSSL 3 cannot open it
    Strong,
}

impl KdfChoice {
    pub fn cost(self) -> vouch_keys::sealed::ScryptCost {
        match self {
            KdfChoice::Default => vouch_keys::sealed::ScryptCost::DEFAULT,
            KdfChoice::Strong => vouch_keys::sealed::ScryptCost::STRONG,
        }
    }
}
