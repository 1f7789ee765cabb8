//! `vouch sign REF...`

use std::collections::BTreeMap;

use crate::cli::passphrase::{PassphraseArgs, Provider};
use crate::cli::repo::{find_key, load, open_store, parse_ref, publish, store_error, unlock_key};
use crate::cli::{CliError, Context, output};
use crate::tuf::metadata::TargetFile;

/// Sign what tags mean: each tag's manifest digest, size and media type
/// become a TUF target (name = tag). Signing many tags publishes once.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tags to sign: oci:DIR:TAG
    #[arg(required = true)]
    pub references: Vec<String>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// Attempts to publish before giving up on concurrent writers.
const MAX_ATTEMPTS: usize = 20;

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let refs = args
        .references
        .iter()
        .map(|s| parse_ref(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut by_repo: BTreeMap<String, Vec<crate::reference::ImageRef>> = BTreeMap::new();
    for r in refs {
        if r.tag.is_none() || r.digest.is_some() {
            return Err(CliError::failed(format!("{r}: sign takes tags"), "give REPO:TAG"));
        }
        by_repo.entry(r.repository()).or_default().push(r);
    }
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let mut out = String::new();
    for (repo_id, refs) in by_repo {
        let layout = open_store(&refs[0], false)?;
        // Resolve every tag first: a missing tag signs nothing.
        let mut targets = Vec::new();
        for r in &refs {
            let tag = r.tag.clone().unwrap_or_default();
            let desc = layout.resolve(&tag).map_err(store_error)?.ok_or_else(|| {
                CliError::failed(
                    format!("{repo_id} has no tag {tag}"),
                    "push or tag the image first",
                )
            })?;
            let hex = desc
                .digest
                .strip_prefix("sha256:")
                .unwrap_or(&desc.digest)
                .to_owned();
            let target = TargetFile {
                length: desc.size,
                hashes: BTreeMap::from([("sha256".to_owned(), hex)]),
                custom: Some(serde_json::json!({ "mediaType": desc.media_type })),
                extra: Default::default(),
            };
            targets.push((tag, desc.digest, target));
        }
        let targets_key = unlock_key(&find_key(ctx, "targets", &repo_id)?, &mut provider)?;
        let snapshot_key = unlock_key(&find_key(ctx, "snapshot", &repo_id)?, &mut provider)?;
        let timestamp_key = unlock_key(&find_key(ctx, "timestamp", &repo_id)?, &mut provider)?;
        let mut published = false;
        for _ in 0..MAX_ATTEMPTS {
            let (art, mut repo) = load(&layout)?.ok_or_else(|| {
                CliError::failed(
                    format!("{repo_id} has no trust data"),
                    format!("run `vouch init {repo_id}` first"),
                )
            })?;
            let now = time::OffsetDateTime::now_utc();
            for (tag, _, target) in &targets {
                repo.add_target("targets", tag, target.clone(), now)
                    .map_err(|e| CliError::failed(e.to_string(), "check the tag"))?;
            }
            repo.sign_targets_roles(&targets_key)
                .map_err(|e| CliError::failed(e.to_string(), "report this as a bug"))?;
            if publish(
                &layout,
                &mut repo,
                Some(&snapshot_key),
                &timestamp_key,
                Some(&art.digest),
            )? {
                published = true;
                break;
            }
            // Another signer published first: start over from its state.
        }
        if !published {
            return Err(CliError::failed(
                format!("{repo_id}: gave up after {MAX_ATTEMPTS} concurrent updates"),
                "try again",
            ));
        }
        for (tag, digest, _) in &targets {
            eprintln!("Signed {repo_id}:{tag} -> {digest}");
            out.push_str(&format!("{repo_id}:{tag} {digest}\n"));
        }
    }
    output::print(&out)
}
