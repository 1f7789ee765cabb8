//! `vouch revoke REF` and `vouch revoke REPO --all`

use crate::cli::common::{OnlineKeys, open_store, parse_ref, report_staged, trust, unlock_all};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context};
use crate::trust::writer::{Outcome, Writer};

/// Remove a tag's signature (or every tag's, with --all) from every role
/// that lists it and that a key in this trust directory may sign (the
/// targets key, or signer keys for targets/releases); verification of it
/// then fails. Roles no key here may sign are named and left as they are.
/// Where this trust directory lacks the snapshot and timestamp keys, or
/// the roles need more signatures than the keys here make, the revocation
/// is staged for co-signers and a publisher (`vouch staged`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A tag (oci:DIR:TAG, REGISTRY/REPO:TAG), or a repository with --all
    pub reference: String,
    /// Revoke every signed tag of the repository
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.reference)?;
    if args.all == r.tag.is_some() || r.digest.is_some() {
        return Err(CliError::failed(
            "give either REPO:TAG or REPO --all",
            "`vouch revoke REPO:TAG` or `vouch revoke REPO --all`",
        ));
    }
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref());
    let scope: Option<Vec<String>> = r.tag.clone().map(|t| vec![t]);
    let state = match &scope {
        Some(tags) => writer.load_for(tags)?,
        None => writer.load()?,
    };
    let role_keys =
        crate::trust::signing_keys::for_revoking(&ctx.trust_dir, &state.repo, &repo_id, r.tag.as_deref())?;
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let role_keys = unlock_all(&role_keys, &mut provider)?;
    let online = OnlineKeys::unlock_if_held(ctx, &state, &repo_id, &mut provider)?;
    provider.check_stdin_used()?;
    let by = role_keys
        .first()
        .map(|k| k.public().key_id().short().to_string())
        .unwrap_or_default();
    let (report, outcome) = writer.revoke(
        &role_keys,
        online.as_ref().map(OnlineKeys::publishing),
        r.tag.as_deref(),
        &by,
    )?;
    let staged = match &outcome {
        Outcome::Published(_) => None,
        Outcome::Staged { id, short } => Some((id, short)),
    };
    for (tag, role) in &report.removed {
        match staged {
            None => eprintln!("Revoked {repo_id}:{tag} in {role}"),
            Some(_) => eprintln!("Revoking {repo_id}:{tag} in {role} (staged)"),
        }
    }
    for (tag, role) in &report.kept {
        eprintln!("warning: {repo_id}:{tag} stays in {role}: no key in this trust directory may sign it");
    }
    if let Some((id, short)) = staged {
        report_staged(&repo_id, id, short);
        return crate::cli::output::print(&format!("staged {id}\n"));
    }
    Ok(())
}
