//! `vouch resolve REF`

use crate::cli::repo::{open_store, parse_ref, trusted_target};
use crate::cli::{CliError, Context, output};

/// Print `REPO@sha256:…` for a tag, from verified trust data only, for
/// deploy scripts: `docker run "$(vouch resolve REGISTRY/app:1.2)"`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// oci:DIR:TAG
    pub reference: String,
    /// Pin the repository's root on first use if it is not pinned (loud)
    #[arg(long)]
    pub tofu: bool,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.reference)?;
    let Some(tag) = r.tag.clone() else {
        return Err(CliError::failed("resolve needs a tag", "give REPO:TAG"));
    };
    let store = open_store(ctx, &r, false)?;
    let layout = store.as_ref();
    let (_, target) = trusted_target(ctx, &r, layout, Some(&tag), args.tofu)?
        .ok_or_else(|| CliError::failed("no target was resolved", "report this as a bug"))?;
    let hex = target.hashes.get("sha256").cloned().unwrap_or_default();
    output::print(&format!("{}@sha256:{hex}\n", r.repository()))
}
