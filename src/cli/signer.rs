//! `vouch signer add NAME REPO --key NAME.pub [--threshold K]` and
//! `vouch signer remove NAME REPO`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::cli::common::{OnlineKeys, open_store, parse_ref, read_public, report_staged, trust, unlock_key};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context};
use crate::trust::RELEASES;
use crate::trust::writer::{Outcome, Writer};

#[derive(Debug, Subcommand)]
pub enum SignerCommand {
    /// Let a signer sign tags: their key joins targets/releases (and gets
    /// its own role targets/NAME), like `docker trust signer add`
    Add(AddArgs),
    /// Withdraw a signer's key from targets/releases and remove its role;
    /// what must be signed again without it is staged for the others
    Remove(RemoveArgs),
    /// Change how many signers must sign a tag (raising it is staged until
    /// the signers signed again under it)
    Threshold(ThresholdArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The signer's name (their role is targets/NAME)
    pub name: String,
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
    /// The signer's public key (PEM, as `vouch key generate` or `docker trust key generate` write it)
    #[arg(long, value_name = "NAME.pub")]
    pub key: PathBuf,
    /// How many signers must sign a tag for it to verify
    #[arg(long, value_name = "K")]
    pub threshold: Option<u64>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The signer's name
    pub name: String,
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
    /// Remove the signer even when the keys left cannot meet the
    /// threshold: targets/releases is then withdrawn, and the tags only it
    /// signs (listed) stop verifying
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, clap::Args)]
pub struct ThresholdArgs {
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
    /// How many signers must sign a tag
    pub threshold: u64,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(cmd: SignerCommand, ctx: &Context) -> Result<(), CliError> {
    match cmd {
        SignerCommand::Add(a) => add(a, ctx),
        SignerCommand::Remove(a) => remove(a, ctx),
        SignerCommand::Threshold(a) => threshold(a, ctx),
    }
}

/// The verified trust data, the owner's targets key and the online keys
/// (when this trust directory holds them; else the change is staged).
fn owner(
    ctx: &Context,
    writer: &Writer<'_>,
    provider: &mut Provider,
) -> Result<(vouch_keys::PrivateKey, Option<OnlineKeys>), CliError> {
    let state = writer.load_for(&[])?;
    let repo_id = writer.repository();
    let targets = crate::trust::signing_keys::top_level(&ctx.trust_dir, &state.repo, repo_id, "targets")?;
    let targets = unlock_key(&targets, provider)?;
    let online = OnlineKeys::unlock_if_held(ctx, &state, repo_id, provider)?;
    Ok((targets, online))
}

/// Runs `change` as the owner of `repository`: its verified trust data,
/// the targets key and, where held here, the online keys. Returns the
/// repository's id and what `change` returned.
fn as_owner<R>(
    ctx: &Context,
    repository: &str,
    passphrase: PassphraseArgs,
    change: impl FnOnce(
        &Writer<'_>,
        &vouch_keys::PrivateKey,
        Option<crate::trust::writer::Publishing<'_>>,
    ) -> Result<R, crate::trust::TrustError>,
) -> Result<(String, R), CliError> {
    let r = parse_ref(repository)?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref());
    let mut provider = Provider::new(passphrase, ctx.interactive);
    let (targets, online) = owner(ctx, &writer, &mut provider)?;
    let out = change(&writer, &targets, online.as_ref().map(OnlineKeys::publishing))?;
    Ok((repo_id, out))
}

/// Says what became of an owner's change: published (`done`) or staged.
fn report(repo_id: &str, outcome: &Outcome, done: &str) {
    match outcome {
        Outcome::Published(_) => eprintln!("{done}"),
        Outcome::Staged { id, short } => {
            eprintln!("{done} (staged, not yet published)");
            report_staged(repo_id, id, short);
            let _ = crate::cli::output::print(&format!("staged {id}\n"));
        }
    }
}

fn add(args: AddArgs, ctx: &Context) -> Result<(), CliError> {
    vouch_keys::keyfile::validate_name(&args.name)?;
    if args.threshold == Some(0) {
        return Err(CliError::failed(
            "a threshold is at least 1",
            "give --threshold 1 or more",
        ));
    }
    let public = read_public(&args.key)?;
    let (repo_id, (outcome, (keys, threshold))) = as_owner(
        ctx,
        &args.repository,
        args.passphrase,
        |writer, targets, online| writer.add_signer(targets, online, &args.name, &public, args.threshold),
    )?;
    if (keys.len() as u64) < threshold {
        eprintln!(
            "warning: {RELEASES} needs {threshold} signatures but has {} signer key(s): add more signers",
            keys.len()
        );
    }
    let done = format!(
        "Added signer {} ({}) to {repo_id}: {RELEASES} has {} key(s), threshold {threshold}",
        args.name,
        public.key_id().short(),
        keys.len()
    );
    report(&repo_id, &outcome, &done);
    Ok(())
}

fn remove(args: RemoveArgs, ctx: &Context) -> Result<(), CliError> {
    let (repo_id, (lost, outcome)) = as_owner(
        ctx,
        &args.repository,
        args.passphrase,
        |writer, targets, online| writer.remove_signer(targets, online, &args.name, args.force),
    )?;
    for tag in &lost {
        eprintln!("warning: {repo_id}:{tag} was signed only by {RELEASES}: it no longer verifies");
    }
    report(
        &repo_id,
        &outcome,
        &format!("Removed signer {} from {repo_id}", args.name),
    );
    Ok(())
}

fn threshold(args: ThresholdArgs, ctx: &Context) -> Result<(), CliError> {
    let (repo_id, outcome) = as_owner(
        ctx,
        &args.repository,
        args.passphrase,
        |writer, targets, online| writer.set_threshold(targets, online, args.threshold),
    )?;
    report(
        &repo_id,
        &outcome,
        &format!(
            "Set the threshold of {RELEASES} of {repo_id} to {}",
            args.threshold
        ),
    );
    Ok(())
}
