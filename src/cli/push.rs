//! `vouch push SRC DEST` — sign on push.

use std::io::IsTerminal;

use crate::cli::common::{open_store, parse_ref};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context, output, sign};
use crate::reference::Location;
use crate::store::copy::MAX_MANIFEST;

/// Copy an image from an OCI layout to a registry (by digest, every blob
/// checked), then sign the destination tag: sign on push in one step.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Source: oci:DIR:TAG
    pub source: String,
    /// Destination: REGISTRY/REPO[:TAG] (the tag defaults to the source's)
    pub destination: String,
    /// Sign only with these signer keys (key names)
    #[arg(long, value_name = "NAME")]
    pub signer: Vec<String>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let src_ref = parse_ref(&args.source)?;
    let mut dest_ref = parse_ref(&args.destination)?;
    let Some(tag) = src_ref.tag.clone() else {
        return Err(CliError::failed("the source needs a tag", "give oci:DIR:TAG"));
    };
    if !matches!(dest_ref.location, Location::Registry { .. }) {
        return Err(CliError::failed(
            "push copies to a registry",
            "give REGISTRY/REPO[:TAG] as the destination",
        ));
    }
    if dest_ref.digest.is_some() {
        return Err(CliError::failed(
            "push needs a destination tag, not a digest",
            "give REGISTRY/REPO:TAG",
        ));
    }
    let dest_tag = dest_ref.tag.clone().unwrap_or_else(|| tag.clone());
    dest_ref.tag = Some(dest_tag.clone());
    let src = open_store(ctx, &src_ref, false)?;
    let dst = open_store(ctx, &dest_ref, false)?;
    let desc = src.resolve(&tag)?.ok_or_else(|| {
        CliError::failed(
            format!("{} has no tag {tag}", src_ref.repository()),
            "check the source tag",
        )
    })?;
    let manifest = src.manifest(&desc.digest, MAX_MANIFEST)?;
    // The manifest was checked against its digest; its size is its length.
    let desc = crate::store::oci_layout::Descriptor {
        size: manifest.len() as u64,
        ..desc
    };
    if std::io::stderr().is_terminal() {
        eprintln!("Copying {} ({}) to {dest_ref}…", args.source, desc.digest);
    }
    crate::store::copy::image(src.as_ref(), dst.as_ref(), &manifest, &desc.media_type, &dest_tag)?;
    eprintln!("Pushed {} to {dest_ref}", desc.digest);
    // Sign exactly what was copied (the source's descriptor and manifest),
    // not whatever the destination tag points at by the time of signing.
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let out = sign::sign_with(
        ctx,
        &mut provider,
        dst.as_ref(),
        &dest_ref.repository(),
        &args.signer,
        false,
        |_| crate::trust::targets::for_image(&dest_tag, &desc, Some(&manifest), true),
    )?;
    output::print(&out)
}
