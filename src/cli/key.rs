//! `vouch key …` — the key manager's commands.

use clap::Subcommand;

use super::{CliError, Context};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate an ed25519 key, store it encrypted, write NAME.pub
    Generate(super::key_generate::Args),
    /// List the keys in the trust directory (never secrets)
    List(super::key_list::Args),
    /// Import private keys: vouch, OpenSSL (PKCS#8, SEC1), Docker trust and notary files
    Import(super::key_import::Args),
    /// Print a key's public PEM, or with --private its encrypted key file
    Export(super::key_export::Args),
    /// Change a key's passphrase
    Passwd(super::key_passwd::Args),
    /// Delete a key from the trust directory
    Remove(super::key_remove::Args),
    /// Replace a repository role's key (root, targets, snapshot, timestamp, a signer); --compromised for a stolen key
    Rotate(super::key_rotate::Args),
    /// Check a key's passphrase and keep it in the OS keyring for a while
    Unlock(super::key_unlock::UnlockArgs),
    /// Forget passphrases kept in the OS keyring
    Lock(super::key_unlock::LockArgs),
}

pub fn run(cmd: KeyCommand, ctx: &Context) -> Result<(), CliError> {
    match cmd {
        KeyCommand::Generate(a) => super::key_generate::run(a, ctx),
        KeyCommand::List(a) => super::key_list::run(a, ctx),
        KeyCommand::Import(a) => super::key_import::run(a, ctx),
        KeyCommand::Export(a) => super::key_export::run(a, ctx),
        KeyCommand::Passwd(a) => super::key_passwd::run(a, ctx),
        KeyCommand::Remove(a) => super::key_remove::run(a, ctx),
        KeyCommand::Rotate(a) => super::key_rotate::run(a, ctx),
        KeyCommand::Unlock(a) => super::key_unlock::run_unlock(a, ctx),
        KeyCommand::Lock(a) => super::key_unlock::run_lock(a, ctx),
    }
}

/// How hard to seal new key files.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum KdfChoice {
    /// scrypt N=2^16 r=3 p=6 (24 MiB a lane): readable by `openssl pkey`
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
