//! `vouch verify REF`

use crate::cli::common::{open_store, parse_ref, trust};
use crate::cli::{CliError, Context, output};
use crate::reference::{ImageRef, Location};
use crate::trust::Reader;
use crate::trust::notary_reader::{NotaryReader, NotarySource};

/// The Notary server of a registry reference (`url` empty: the default).
pub fn notary_source(r: &ImageRef, url: &str) -> Result<NotarySource, CliError> {
    let Location::Registry { registry, .. } = &r.location else {
        return Err(CliError::failed(
            "Notary trust data belongs to registry repositories",
            "give REGISTRY/REPO:TAG with --notary-server",
        ));
    };
    Ok(NotarySource::resolve(
        &r.repository(),
        registry,
        (!url.is_empty()).then_some(url),
    ))
}

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
    /// Verify against Docker Content Trust data on a Notary v1 server
    /// instead (https; without URL: DOCKER_CONTENT_TRUST_SERVER, else
    /// https://REGISTRY, or notary.docker.io for Docker Hub)
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub notary_server: Option<String>,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.reference)?;
    let store = open_store(ctx, &r, false)?;
    let verdict = match &args.notary_server {
        Some(url) => {
            let source = notary_source(&r, url)?;
            NotaryReader::open(&trust(ctx), source, args.tofu)?.verify(&r, store.as_ref())?
        }
        None => {
            let mut reader = Reader::open(&trust(ctx), &r.repository(), store.as_ref(), args.tofu)?;
            reader.verify(&r, store.as_ref())?
        }
    };
    eprintln!("Verified {r} ({})", verdict.how);
    // A tag's current digest is what the store says it is (a registry's
    // Docker-Content-Digest): the signed digest printed is what to deploy.
    if r.digest.is_none() {
        eprintln!("Deploy by digest: {}@{}", r.repository(), verdict.digest);
    }
    output::print(&format!("{}\n", verdict.digest))
}
