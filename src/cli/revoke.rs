//! `vouch revoke REF` and `vouch revoke REPO --all`

use crate::cli::passphrase::{PassphraseArgs, Provider};
use crate::cli::repo::{bug, open_store, owner_keys, parse_ref, update};
use crate::cli::{CliError, Context};

/// Remove a tag's signature (or every tag's, with --all): verification of
/// it then fails. Needs the targets, snapshot and timestamp keys.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// oci:DIR:TAG, or oci:DIR with --all
    pub reference: String,
    /// Revoke every signed tag of the repository
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.reference)?;
    if args.all == r.tag.is_some() {
        return Err(CliError::failed(
            "give either REPO:TAG or REPO --all",
            "`vouch revoke oci:DIR:TAG` or `vouch revoke oci:DIR --all`",
        ));
    }
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let layout = store.as_ref();
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let keys = owner_keys(ctx, &mut provider, &repo_id)?;
    let (removed, _) = update(
        layout,
        &repo_id,
        Some(&keys.snapshot),
        &keys.timestamp,
        |repo, now| {
            let tags: Vec<String> = match &r.tag {
                Some(t) => vec![t.clone()],
                None => repo.targets["targets"].signed.targets.keys().cloned().collect(),
            };
            let mut removed = Vec::new();
            for tag in tags {
                if repo.remove_target("targets", &tag, now).map_err(bug)? {
                    removed.push(tag);
                }
            }
            if removed.is_empty() {
                return Err(CliError::failed(
                    format!("{r} has no signed tag to revoke"),
                    "`vouch inspect` lists the signed tags",
                ));
            }
            repo.sign_targets_roles(&keys.targets).map_err(bug)?;
            Ok(removed)
        },
    )?;
    for tag in removed {
        eprintln!("Revoked {repo_id}:{tag}");
    }
    Ok(())
}
