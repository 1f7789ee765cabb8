//! `vouch pull REF --to oci:DIR[:TAG]` — the gate.

use crate::cli::common::{open_store, parse_ref, trust};
use crate::cli::{CliError, Context, output};
use crate::reference::Location;
use crate::store::oci_layout::OciLayout;
use crate::trust::gate::{Admission, TagRule, admit};

/// Verify, then copy the image by its trusted digest into an OCI layout.
/// Enforcing: a reference that does not verify is refused (exit 1) and
/// nothing is written. A tag is pulled as its signed digest; if the store's
/// tag has moved since, the signed image is pulled with a warning.
/// `VOUCH_CONTENT_TRUST=audit` warns and copies; `VOUCH_CONTENT_TRUST=0`
/// (or `DOCKER_CONTENT_TRUST=0` when ours is unset) copies without
/// checking. A policy scope can lower the level for its repositories.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A tag or digest: oci:DIR:TAG, REGISTRY/REPO:TAG, …@sha256:…
    pub reference: String,
    /// Destination layout: oci:DIR[:TAG] (the tag defaults to the source tag)
    #[arg(long, value_name = "oci:DIR[:TAG]")]
    pub to: String,
    /// Pin the repository's root on first use if it is not pinned (loud)
    #[arg(long)]
    pub tofu: bool,
}

use crate::store::copy::MAX_MANIFEST;

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let env_level = crate::cli::common::gate_level()?;
    let r = parse_ref(&args.reference)?;
    let dest = parse_ref(&args.to)?;
    let Location::Layout(dest_dir) = &dest.location else {
        return Err(CliError::failed(
            "--to must be an OCI layout (oci:DIR[:TAG])",
            "give oci:DIR",
        ));
    };
    let tag = dest.tag.clone().or(r.tag.clone()).ok_or_else(|| {
        CliError::failed(
            "the destination needs a tag",
            "give --to oci:DIR:TAG when pulling by digest",
        )
    })?;
    let src_store = open_store(ctx, &r, false)?;
    let src = src_store.as_ref();
    let current = || -> Result<String, CliError> {
        match (&r.digest, &r.tag) {
            (Some(d), _) => Ok(d.to_string()),
            (None, Some(t)) => src.resolve(t)?.map(|d| d.digest).ok_or_else(|| {
                CliError::failed(format!("{} has no tag {t}", r.repository()), "check the tag")
            }),
            (None, None) => Err(CliError::failed("pull needs a tag or a digest", "give REPO:TAG")),
        }
    };
    let digest = match admit(&trust(ctx), &r, src, env_level, TagRule::SignedDigest, args.tofu)? {
        Admission::Verified(v) => {
            // Docker Content Trust's rule: the signed digest is what is
            // pulled; a tag moved since is said, not followed.
            if r.digest.is_none()
                && let Some(t) = &r.tag
                && let Ok(Some(now)) = src.resolve(t)
                && now.digest != v.digest
            {
                eprintln!(
                    "warning: {}:{t} now points at {}, which nobody signed: pulling the signed {}",
                    r.repository(),
                    now.digest,
                    v.digest
                );
            }
            v.digest
        }
        Admission::Audited(e) => {
            eprintln!("warning: {e} (content trust in audit mode: pulling anyway)");
            current()?
        }
        Admission::Unchecked => current()?,
    };
    // Verified (or not required): only now is the destination touched.
    let manifest = src.manifest(&digest, MAX_MANIFEST)?;
    let media_type = crate::store::media_type_of(&manifest);
    // A new destination is filled under a temporary name next to it and
    // renamed when complete, so a failed copy leaves nothing behind. An
    // existing layout only gains checked blobs until the tag is written.
    if dest_dir.exists() {
        OciLayout::create(dest_dir)
            .and_then(|dst| crate::store::copy::image(src, &dst, &manifest, &media_type, &tag))?;
    } else {
        crate::store::staging::fill_then_place(dest_dir, |staging| {
            OciLayout::create(staging)
                .and_then(|dst| crate::store::copy::image(src, &dst, &manifest, &media_type, &tag))
        })?;
    }
    eprintln!("Pulled {r} ({digest}) into oci:{}:{tag}", dest_dir.display());
    output::print(&format!("{digest}\n"))
}
