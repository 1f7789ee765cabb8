//! `vouch verify REF`

use crate::cli::repo::{open_store, parse_ref, store_error, trusted_target};
use crate::cli::{CliError, Context, Failure, output};
use crate::reference::ImageRef;
use crate::store::Store;

/// Check that a tag's current manifest is the one its trust data signs (or
/// that a digest is a signed target). Exit 0 and print the trusted digest;
/// 1 with the reason when it is not (unsigned, digest mismatch, expired,
/// rolled back, threshold not met); 2 when it cannot decide.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// oci:DIR:TAG or oci:DIR@sha256:…
    pub reference: String,
    /// Pin the repository's root on first use if it is not pinned (loud)
    #[arg(long)]
    pub tofu: bool,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.reference)?;
    let store = open_store(ctx, &r, false)?;
    let layout = store.as_ref();
    let (digest, how) = check(ctx, &r, layout, args.tofu)?;
    eprintln!("Verified {r} ({how})");
    output::print(&format!("{digest}\n"))
}

/// Verifies a tag or digest reference against the repository's trust data
/// and returns the trusted digest and how it was established.
pub fn check(
    ctx: &Context,
    r: &ImageRef,
    layout: &dyn Store,
    tofu: bool,
) -> Result<(String, String), CliError> {
    let repo_id = r.repository();
    let refused = |message: String, hint: &str| CliError {
        failure: Failure::Refused,
        message,
        hint: hint.to_owned(),
    };
    match (&r.tag, &r.digest) {
        (Some(tag), digest) => {
            let (signer, target) = trusted_target(ctx, r, layout, Some(tag), tofu)?
                .ok_or_else(|| CliError::failed("no target was resolved", "report this as a bug"))?;
            let trusted = format!(
                "sha256:{}",
                target.hashes.get("sha256").cloned().unwrap_or_default()
            );
            let current = match (digest, ctx.offline) {
                (Some(_), _) => None,
                (None, true) => {
                    eprintln!("offline: {repo_id}:{tag} was not looked up; deploy by the trusted digest");
                    Some(trusted.clone())
                }
                (None, false) => layout.head(tag).map_err(store_error)?,
            };
            let compare = digest.clone().or(current).ok_or_else(|| {
                refused(
                    format!("{repo_id} has no tag {tag}"),
                    "the tag is signed but not in the store",
                )
            })?;
            if compare != trusted {
                return Err(refused(
                    format!(
                        "digest mismatch: {repo_id}:{tag} is {compare}, but its trust data signs {trusted}"
                    ),
                    "the tag was moved or tampered with after signing; do not deploy it",
                ));
            }
            Ok((trusted, format!("signed by {signer}")))
        }
        (None, Some(digest)) => {
            trusted_target(ctx, r, layout, None, tofu)?;
            let meta = crate::cli::repo::metadata_dir(ctx, &repo_id);
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
            match signed_tags(&meta).into_iter().find(|(_, h)| h == hex) {
                Some((tag, _)) => Ok((digest.clone(), format!("signed as {tag}"))),
                None => Err(refused(
                    format!("{repo_id}@{digest} is not a signed target: no signed tag maps to it"),
                    "only digests that trust data maps a tag to are allowed",
                )),
            }
        }
        (None, None) => Err(CliError::failed(
            "a tag or a digest is needed",
            "give REPO:TAG or REPO@sha256:…",
        )),
    }
}

/// Tags and sha256 digests of every target in the trusted targets roles
/// persisted for a repository.
pub fn signed_tags(meta: &crate::store::metadata_dir::MetadataDir) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(meta.path()) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if matches!(name.as_str(), "root.json" | "timestamp.json" | "snapshot.json") {
            continue;
        }
        let Ok(bytes) = std::fs::read(e.path()) else {
            continue;
        };
        let Ok(env) =
            crate::tuf::metadata::Envelope::<crate::tuf::metadata::Targets>::parse("targets", &bytes)
        else {
            continue;
        };
        for (tag, t) in env.signed.targets {
            if let Some(h) = t.hashes.get("sha256") {
                out.push((tag, h.clone()));
            }
        }
    }
    out
}
