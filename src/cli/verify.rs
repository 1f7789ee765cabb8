//! `vouch verify REF`

use crate::cli::repo::{open_store, parse_ref, trust};
use crate::cli::{CliError, Context, output};
use crate::trust::Reader;

/// Check that a tag's current manifest is the one its trust data signs (or
/// that a digest is one a signed tag maps to). Exit 0 and print the trusted
/// digest, which is what to deploy; 1 with the reason when it is not
/// (unsigned, digest mismatch, expired, rolled back, threshold not met, not
/// pinned); 2 when it cannot decide.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A tag or digest: oci:DIR:TAG, oci:DIR@sha256:…, REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:…
    pub reference: String,
    /// Pin the repository's root on first use if it is not pinned (loud)
    #[arg(long)]
    pub tofu: bool,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.reference)?;
    let store = open_store(ctx, &r, false)?;
    let mut reader = Reader::open(&trust(ctx), &r.repository(), store.as_ref(), args.tofu)?;
    let verdict = reader.verify(&r, store.as_ref())?;
    eprintln!("Verified {r} ({})", verdict.how);
    output::print(&format!("{}\n", verdict.digest))
}
