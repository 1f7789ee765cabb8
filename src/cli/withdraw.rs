//! `vouch withdraw REPO ID`

use crate::cli::common::{open_store, parse_repository, trust};
use crate::cli::{CliError, Context};
use crate::trust::writer::Writer;

/// Withdraw a staged change: its proposal and approvals are removed from
/// the store (a registry that deletes nothing keeps a marker under each
/// tag). The live trust data is not touched.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
    /// The staged change: its id, or the first 4 or more hex digits of it
    pub id: String,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_repository(&args.repository, "withdraw")?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref()).reviewing();
    let pending = writer.withdraw(&args.id)?;
    eprintln!(
        "Withdrew {} ({}) of {repo_id}",
        &pending.id[..pending.id.len().min(12)],
        pending.proposal.summary
    );
    Ok(())
}
