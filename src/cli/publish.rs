//! `vouch publish REPO`

use crate::cli::common::{OnlineKeys, open_store, parse_repository, trust};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context};
use crate::trust::writer::{Standing, Writer};

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
    let state = writer.load_for(&[])?;
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let online = OnlineKeys::unlock(ctx, &state, &repo_id, &mut provider, true)?;
    publish_complete(&writer, &repo_id, &online)
}

/// Publishes the complete staged changes of `repo_id` and says what was
/// left; an error when a complete one could not be published.
pub fn publish_complete(writer: &Writer<'_>, repo_id: &str, online: &OnlineKeys) -> Result<(), CliError> {
    let (published, left) = writer.publish_staged(online.publishing())?;
    for p in &published {
        eprintln!(
            "Published {} ({}) of {repo_id}",
            &p.id[..p.id.len().min(12)],
            p.proposal.summary
        );
    }
    let mut failed = 0;
    for p in &left {
        let short_id = &p.id[..p.id.len().min(12)];
        match &p.standing {
            Standing::Short(short) => eprintln!(
                "Left {short_id} ({}): it needs {}",
                p.proposal.summary,
                short
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Standing::Stale(why) | Standing::Invalid(why) => {
                failed += 1;
                eprintln!("Left {short_id} ({}): {why}", p.proposal.summary);
            }
            Standing::Complete => {}
        }
    }
    if published.is_empty() && left.is_empty() {
        eprintln!("No staged changes for {repo_id}");
    }
    if failed > 0 {
        return Err(CliError {
            failure: crate::cli::Failure::Refused,
            message: format!("{failed} staged change(s) of {repo_id} could not be published"),
            hint: format!("`vouch staged {repo_id}` shows why; withdraw what no longer applies"),
        });
    }
    Ok(())
}
