//! `vouch approve REPO ID`

use crate::cli::common::{OnlineKeys, open_store, parse_repository, trust, unlock_all};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context};
use crate::trust::writer::{Approved, Writer};

/// Approve a staged change: shows what it changes, then signs exactly
/// those bytes with every key here that may sign a role of it (or those
/// named by --signer). Publishes it when it is then complete and this
/// trust directory holds the snapshot and timestamp keys; otherwise it
/// waits for more approvals or a publisher. A change that no longer
/// applies to the live trust data, or is not valid, is refused.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
    /// The staged change: its id, or the first 4 or more hex digits of it
    /// (`vouch staged` lists them)
    pub id: String,
    /// Sign only with these signer keys (key names)
    #[arg(long, value_name = "NAME")]
    pub signer: Vec<String>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_repository(&args.repository, "approve")?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref()).reviewing();
    if crate::store::artifact::read(store.as_ref())?.is_none() {
        return approve_first_root(&writer, &args, ctx);
    }
    let to = writer.to_approve(&args.id)?;
    eprint!("{}", super::staged::describe(&repo_id, &to.pending));
    let keys = crate::trust::signing_keys::for_approving(&ctx.trust_dir, &to.approvers, &args.signer)?;
    let by: Vec<String> = keys.iter().map(|k| k.file.info.name.clone()).collect();
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let keys = unlock_all(&keys, &mut provider)?;
    // The publish after it signs with the online keys of the root it
    // leaves in force.
    let root = to
        .pending
        .root
        .as_ref()
        .map_or(&to.live().repo.root.signed, |r| &r.signed);
    let online = OnlineKeys::unlock_if_listed(ctx, root, &repo_id, &mut provider)?;
    // Exactly the change shown above.
    let (pending, done) = writer.approve(
        to,
        &keys,
        online.as_ref().map(OnlineKeys::publishing),
        &by.join(", "),
    )?;
    let short_id = &pending.id[..pending.id.len().min(12)];
    match done {
        Approved::Published => eprintln!("Approved and published {short_id} of {repo_id}"),
        Approved::Added(short) if short.is_empty() => eprintln!(
            "Approved {short_id} of {repo_id}: complete; it waits for a publisher (`vouch publish {repo_id}`)"
        ),
        Approved::Added(short) => eprintln!(
            "Approved {short_id} of {repo_id}: it still needs {}",
            crate::trust::writer::needs(&short)
        ),
    }
    Ok(())
}

/// Approves the staged first root of a repository with no trust data yet:
/// every root key here that it lists signs it.
fn approve_first_root(writer: &Writer<'_>, args: &Args, ctx: &Context) -> Result<(), CliError> {
    let repo_id = writer.repository();
    let Some(first) = writer.genesis_by_id(&args.id)? else {
        return Err(CliError::failed(
            format!(
                "{repo_id} has no trust data and no staged first root {} (give its whole id, 24 hex digits, as `vouch init` printed it)",
                args.id
            ),
            format!("`vouch staged {repo_id}` lists what is staged"),
        ));
    };
    eprint!("{}", super::staged::describe(repo_id, &first));
    let ids: std::collections::BTreeSet<crate::tuf::KeyId> = first
        .root
        .as_ref()
        .and_then(|r| r.signed.roles.get("root"))
        .map(|r| r.keyids.iter().cloned().collect())
        .unwrap_or_default();
    let keys = crate::trust::signing_keys::for_approving(&ctx.trust_dir, &ids, &args.signer)?;
    let by: Vec<String> = keys.iter().map(|k| k.file.info.name.clone()).collect();
    let mut provider = Provider::new(args.passphrase.clone(), ctx.interactive);
    let keys = unlock_all(&keys, &mut provider)?;
    // Exactly the first root shown above.
    let (pending, short) = writer.approve_genesis(first, &keys, &by.join(", "))?;
    let short_id = &pending.id[..pending.id.len().min(12)];
    if short.is_empty() {
        eprintln!(
            "Approved first root {short_id} of {repo_id}: complete; whoever ran `vouch init` publishes it (`vouch publish {repo_id}`)"
        );
    } else {
        eprintln!(
            "Approved first root {short_id} of {repo_id}: it still needs {}",
            crate::trust::writer::needs(&short)
        );
    }
    Ok(())
}
