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
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_repository(&args.repository, "publish")?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref());
    // Nothing complete to publish (a cron's usual run): no key is unlocked.
    let listed = writer.staged()?;
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
    let online = OnlineKeys::unlock(ctx, &listed.live, &repo_id, &mut provider, true)?;
    publish_complete(&writer, &repo_id, &online)
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
