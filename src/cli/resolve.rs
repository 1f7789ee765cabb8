//! `vouch resolve REF`

use crate::cli::common::{open_store, parse_ref, trust};
use crate::cli::{CliError, Context, output};
use crate::trust::Reader;

/// Print `REPO@sha256:…` for a tag, from verified trust data only, for
/// deploy scripts: `docker run "$(vouch resolve REGISTRY/app:1.2)"`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub offline: crate::cli::OfflineArg,
    /// A tag: oci:DIR:TAG or REGISTRY/REPO:TAG
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
    let mut reader = Reader::open(&trust(ctx), &r.repository(), store.as_ref(), args.tofu)?;
    let signed = reader.resolve_tag(&tag)?;
    output::print(&format!("{}@{}\n", r.repository(), signed.digest))
}
