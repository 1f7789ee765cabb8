//! `vouch publish REPO`

use crate::cli::common::{OnlineKeys, open_store, parse_repository, trust};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context};
use crate::trust::writer::{PublishedStaged, Standing, Writer};

/// Publish every staged change that a threshold has signed and that still
/// applies to the live trust data, with the snapshot and timestamp keys
/// (for the machine or CI job that holds them). Each is checked again
/// against the live data first. Exits 1 when a complete change could not
/// be published.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
    /// Publish only this staged change (its id or first 4+ hex digits),
    /// and exit 1 when it is not complete (a root change: when the old
    /// root's threshold or the new root's is not met)
    pub id: Option<String>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_repository(&args.repository, "publish")?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref()).repairing();
    if crate::store::artifact::read(store.as_ref())?.is_none() {
        return publish_first_root(&writer, args, ctx);
    }
    // Nothing complete to publish (a cron's usual run): no key is unlocked.
    let mut listed = writer.staged()?;
    if let Some(id) = &args.id {
        listed
            .pending
            .retain(|p| id.len() >= 4 && p.id.starts_with(id.as_str()));
        match listed.pending.as_slice() {
            [] => {
                return Err(CliError::failed(
                    format!("{repo_id} has no staged change {id}"),
                    format!("`vouch staged {repo_id}` lists them"),
                ));
            }
            [one] if one.standing != Standing::Complete => {
                return Err(CliError {
                    failure: crate::cli::Failure::Refused,
                    message: format!(
                        "staged change {id} of {repo_id} is not published: {}",
                        why_left(&one.standing)
                    ),
                    hint: format!(
                        "`vouch staged {repo_id}` shows who signed; holders sign with `vouch approve {repo_id} {id}`"
                    ),
                });
            }
            [_] => {}
            _ => {
                return Err(CliError::failed(
                    format!("{id} names more than one staged change of {repo_id}"),
                    "give more of the id",
                ));
            }
        }
    }
    if !listed.pending.iter().any(|p| p.standing == Standing::Complete) {
        for p in &listed.pending {
            eprintln!(
                "Left {} ({}): {}",
                &p.id[..p.id.len().min(12)],
                p.proposal.summary,
                why_left(&p.standing)
            );
        }
        if listed.pending.is_empty() {
            eprintln!("No staged changes for {repo_id}");
        }
        return Ok(());
    }
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    // A complete root change that replaces an online key: the publish
    // signs with the key the new root lists.
    let next = listed
        .pending
        .iter()
        .filter(|p| p.standing == Standing::Complete)
        .find_map(|p| p.root.as_ref())
        .map_or(&listed.live.repo.root.signed, |r| &r.signed);
    let online = OnlineKeys::unlock_for(ctx, next, &repo_id, &mut provider, true)?;
    match &args.id {
        None => publish_complete(&writer, &repo_id, &online),
        Some(_) => {
            let p = &listed.pending[0];
            writer.publish_one(online.publishing(), p)?;
            eprintln!(
                "Published {} ({}) of {repo_id}",
                &p.id[..p.id.len().min(12)],
                p.proposal.summary
            );
            Ok(())
        }
    }
}

/// Publishes the first root of a repository once its holders signed it,
/// with the targets, snapshot and timestamp keys `vouch init` made here.
fn publish_first_root(writer: &Writer<'_>, args: Args, ctx: &Context) -> Result<(), CliError> {
    let repo_id = writer.repository().to_owned();
    // Only the first root this machine staged: anyone can stage one in an
    // empty store.
    let Some(mine) = writer.genesis_id()? else {
        return Err(CliError::failed(
            format!("{repo_id} has no trust data, and this machine staged no first root of it"),
            format!("whoever ran `vouch init {repo_id} --root-threshold K` publishes its first root"),
        ));
    };
    let Some(first) = writer.genesis_by_id(&mine)? else {
        return Err(CliError::failed(
            format!("the first root this machine staged for {repo_id} ({mine}) is no longer in the store"),
            format!("stage it again: `vouch init {repo_id} --root-key … --root-threshold K`"),
        ));
    };
    if first.standing != Standing::Complete {
        return Err(CliError {
            failure: crate::cli::Failure::Refused,
            message: format!(
                "the first root of {repo_id} is not published: {}",
                why_left(&first.standing)
            ),
            hint: format!("the other root holders approve it: `vouch approve {repo_id} {mine}`"),
        });
    }
    let Some(root) = first.root.clone() else {
        return Err(CliError::bug("the staged first root holds no root"));
    };
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let targets = crate::cli::common::unlock_key(
        &crate::trust::signing_keys::listed_by(&ctx.trust_dir, &root.signed, &repo_id, "targets")?,
        &mut provider,
    )?;
    let online = OnlineKeys::unlock_for(ctx, &root.signed, &repo_id, &mut provider, true)?;
    writer.publish_genesis(root, &targets, online.publishing(), &first.store_tags)?;
    eprintln!(
        "Published the first root of {repo_id} ({} of its root keys signed it); pinned it here",
        first.root.as_ref().map_or(0, |r| r.signatures.len())
    );
    Ok(())
}

/// Why a staged change is left unpublished, for people.
fn why_left(standing: &Standing) -> String {
    match standing {
        Standing::Short(s) => format!("it needs {}", crate::trust::writer::needs(s)),
        Standing::Stale(why) => format!("it no longer applies: {why}"),
        Standing::Invalid(why) => format!("it is not valid: {why}"),
        Standing::Complete => "complete".to_owned(),
    }
}

/// Publishes the complete staged changes of `repo_id` and says what was
/// left; an error when a complete one could not be published.
pub fn publish_complete(writer: &Writer<'_>, repo_id: &str, online: &OnlineKeys) -> Result<(), CliError> {
    let PublishedStaged {
        published,
        left,
        failed,
    } = writer.publish_staged(online.publishing())?;
    let short = |id: &str| id[..id.len().min(12)].to_owned();
    for p in &published {
        eprintln!("Published {} ({}) of {repo_id}", short(&p.id), p.proposal.summary);
    }
    for p in left.iter().filter(|p| p.standing != Standing::Complete) {
        eprintln!(
            "Left {} ({}): {}",
            short(&p.id),
            p.proposal.summary,
            why_left(&p.standing)
        );
    }
    for (p, e) in &failed {
        eprintln!("Could not publish {} ({}): {e}", short(&p.id), p.proposal.summary);
    }
    if published.is_empty() && left.is_empty() && failed.is_empty() {
        eprintln!("No staged changes for {repo_id}");
    }
    if !failed.is_empty() {
        return Err(CliError {
            failure: crate::cli::Failure::Refused,
            message: format!(
                "{} complete staged change(s) of {repo_id} could not be published",
                failed.len()
            ),
            hint: format!("`vouch staged {repo_id}` shows why; withdraw what no longer applies"),
        });
    }
    Ok(())
}
