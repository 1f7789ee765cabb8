//! `vouch key …` — the key manager's commands.

use clap::Subcommand;

mod export;
mod generate;
pub mod import;
pub mod kdf;
mod list;
mod passwd;
mod remove;
mod rotate;
mod unlock;

use crate::cli::{CliError, Context};

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
    /// Replace a repository role's key (root, targets, snapshot, timestamp, a signer); --compromised for a stolen key
    Rotate(rotate::Args),
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
        KeyCommand::Rotate(a) => rotate::run(a, ctx),
        KeyCommand::Unlock(a) => unlock::run_unlock(a, ctx),
        KeyCommand::Lock(a) => unlock::run_lock(a, ctx),
    }
}
