//! `vouch recover REPO`

use crate::cli::common::{open_store, parse_repository, trust, unlock_key};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context};
use crate::trust::writer::{Publishing, Writer};

/// Republish the trust data this machine last verified, after someone
/// without a key changed it in the store (writers then refuse to publish
/// over it). The cached, verified state is published again with versions
/// above anything the store shows, re-signed with the targets (when held
/// here), snapshot and timestamp keys, so every pinned verifier moves past
/// the tampered data. Run it on the machine that published last.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_repository(&args.repository, "recover")?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref()).repairing();
    let cached = writer.cached()?;
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let key = |role: &str, provider: &mut Provider| -> Result<_, CliError> {
        let stored = crate::trust::signing_keys::top_level(&ctx.trust_dir, &cached, &repo_id, role)?;
        unlock_key(&stored, provider)
    };
    let targets = crate::trust::signing_keys::top_level(&ctx.trust_dir, &cached, &repo_id, "targets")
        .ok()
        .map(|k| unlock_key(&k, &mut provider))
        .transpose()?;
    let snapshot = key("snapshot", &mut provider)?;
    let timestamp = key("timestamp", &mut provider)?;
    let repo = writer.recover(
        targets.as_ref(),
        Publishing {
            snapshot: Some(&snapshot),
            timestamp: &timestamp,
        },
    )?;
    eprintln!(
        "Recovered {repo_id}: republished the trust data verified here as timestamp v{}, snapshot v{}",
        repo.timestamp.signed.version, repo.snapshot.signed.version
    );
    Ok(())
}
