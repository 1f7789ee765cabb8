//! `vouch root REPO [--add-key FILE] [--remove-key ID] [--threshold K] [--expires DURATION]`

use std::path::PathBuf;

use crate::cli::common::{held_keys, open_store, parse_repository, read_public, report_outcome, trust};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context};
use crate::trust::writer::{RootEdit, Writer};

/// Change the root: add or remove root keys, change the root threshold or
/// validity period; with none of these, renew the root as it is. A new
/// root version counts only once a threshold of the current root keys and
/// a threshold of its own root keys signed it, so it is signed here with
/// the root keys this trust directory holds and staged for the other
/// holders (`vouch staged` shows, per key, which thresholds are met;
/// `vouch approve` signs on each holder's machine). Published at once
/// when the keys here meet both thresholds and the online keys are here.
/// Every earlier root stays in the trust data, so verifiers pinned to an
/// older root follow the chain.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
    /// Add a root key: a holder's public key file (PEM, as `vouch key
    /// generate NAME --role root` wrote NAME.pub)
    #[arg(long, value_name = "FILE")]
    pub add_key: Vec<PathBuf>,
    /// Remove a root key, by key id
    #[arg(long, value_name = "KEY_ID")]
    pub remove_key: Vec<String>,
    /// How many root keys must sign a root from now on
    #[arg(long, value_name = "K")]
    pub threshold: Option<u64>,
    /// How long this and later root versions stay valid: a number with s,
    /// m, h or d (default 365d)
    #[arg(long, value_name = "DURATION", value_parser = super::duration::expiry)]
    pub expires: Option<time::Duration>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_repository(&args.repository, "root")?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref()).repairing();
    for id in &args.remove_key {
        if vouch_keys::KeyId::parse(id).is_none() {
            return Err(CliError::failed(
                format!("{id:?} is not a key id"),
                "a key id is 64 lowercase hex digits (`vouch inspect` lists the root keys)",
            ));
        }
    }
    let change = RootEdit {
        add: args.add_key.iter().map(read_public).collect::<Result<_, _>>()?,
        remove: args.remove_key.iter().map(crate::tuf::KeyId::new).collect(),
        threshold: args.threshold,
        expires: args.expires,
    };
    let state = writer.load_for(&[])?;
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let (held, by, online) = held_keys(ctx, &state, &repo_id, &["root"], &mut provider)?;
    if held.is_empty() {
        eprintln!(
            "note: no root key of {repo_id} is here; the new root is staged for the root holders to sign"
        );
    }
    let outcome = writer.change_root(&change, &held, online.as_ref().map(|o| o.publishing()), &by)?;
    report_outcome(&repo_id, &outcome, "Published the new root")
}
