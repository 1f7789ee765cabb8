//! `vouch signer add NAME REPO --key NAME.pub [--threshold K]` and
//! `vouch signer remove NAME REPO`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::cli::passphrase::{PassphraseArgs, Provider};
use crate::cli::repo::{RELEASES, open_store, owner_keys, parse_ref, update};
use crate::cli::{CliError, Context};

#[derive(Debug, Subcommand)]
pub enum SignerCommand {
    /// Let a signer sign tags: their key joins targets/releases (and gets
    /// its own role targets/NAME), like `docker trust signer add`
    Add(AddArgs),
    /// Withdraw a signer's key from targets/releases and remove its role
    Remove(RemoveArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The signer's name (their role is targets/NAME)
    pub name: String,
    /// The repository: oci:DIR
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
    /// The repository: oci:DIR
    pub repository: String,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(cmd: SignerCommand, ctx: &Context) -> Result<(), CliError> {
    match cmd {
        SignerCommand::Add(a) => add(a, ctx),
        SignerCommand::Remove(a) => remove(a, ctx),
    }
}

fn read_public(path: &PathBuf) -> Result<vouch_keys::PublicKey, CliError> {
    let bad = |why: &str| {
        CliError::failed(
            format!("{} is not a public key file: {why}", path.display()),
            "give the PEM `PUBLIC KEY` file that `vouch key generate NAME` wrote as NAME.pub",
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(&e.to_string()))?;
    let pem = vouch_keys::pem::parse(&text).map_err(|_| bad("no PEM block"))?;
    if pem.label != "PUBLIC KEY" {
        return Err(bad(&format!("found `{}`", pem.label)));
    }
    vouch_keys::PublicKey::from_spki_der(&pem.der).ok_or_else(|| bad("not an ed25519 or ECDSA P-256 key"))
}

fn err(e: crate::tuf::TufError) -> CliError {
    CliError::failed(e.to_string(), "check the signer name")
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
    let r = parse_ref(&args.repository)?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let layout = store.as_ref();
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let keys = owner_keys(ctx, &mut provider, &repo_id)?;
    let role = format!("targets/{}", args.name);
    let ((), repo) = update(
        layout,
        &repo_id,
        Some(&keys.snapshot),
        &keys.timestamp,
        |repo, now| {
            if repo.delegation("targets", &role).is_some() {
                return Err(CliError::failed(
                    format!("{repo_id} already has a signer {}", args.name),
                    "remove it first, or choose another name",
                ));
            }
            let all = Some(vec!["*".to_owned()]);
            let key = std::slice::from_ref(&public);
            match repo.delegation("targets", RELEASES) {
                None => repo
                    .add_delegation(
                        "targets",
                        RELEASES,
                        key,
                        args.threshold.unwrap_or(1),
                        all.clone(),
                        None,
                        false,
                        now,
                    )
                    .map_err(err)?,
                Some(_) => repo
                    .add_delegation_key("targets", RELEASES, &public, args.threshold, now)
                    .map_err(err)?,
            }
            repo.add_delegation("targets", &role, key, 1, all, None, false, now)
                .map_err(err)?;
            repo.sign_targets_roles(&keys.targets).map_err(err)?;
            Ok(())
        },
    )?;
    let (keys, threshold) = repo.delegation("targets", RELEASES).unwrap_or_default();
    if (keys.len() as u64) < threshold {
        eprintln!(
            "warning: {RELEASES} needs {threshold} signatures but has {} signer key(s): add more signers",
            keys.len()
        );
    }
    eprintln!(
        "Added signer {} ({}) to {repo_id}: {RELEASES} has {} key(s), threshold {threshold}",
        args.name,
        public.key_id().short(),
        keys.len()
    );
    Ok(())
}

fn remove(args: RemoveArgs, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.repository)?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let layout = store.as_ref();
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let keys = owner_keys(ctx, &mut provider, &repo_id)?;
    let role = format!("targets/{}", args.name);
    update(
        layout,
        &repo_id,
        Some(&keys.snapshot),
        &keys.timestamp,
        |repo, now| {
            let (signer_keys, _) = repo.delegation("targets", &role).ok_or_else(|| {
                CliError::failed(
                    format!("{repo_id} has no signer {}", args.name),
                    "`vouch inspect` lists the roles",
                )
            })?;
            if repo
                .remove_delegation_keys("targets", RELEASES, &signer_keys, now)
                .map_err(err)?
                == 0
            {
                repo.remove_delegation("targets", RELEASES, now).map_err(err)?;
            }
            repo.remove_delegation("targets", &role, now).map_err(err)?;
            repo.sign_targets_roles(&keys.targets).map_err(err)?;
            Ok(())
        },
    )?;
    eprintln!("Removed signer {} from {repo_id}", args.name);
    Ok(())
}
