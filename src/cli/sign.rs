//! `vouch sign REF...`

use std::collections::BTreeMap;

use crate::cli::passphrase::{PassphraseArgs, Provider};
use crate::cli::repo::{
    RELEASES, bug, load, no_trust_data, open_store, parse_ref, role_key, store_error, unlock_key, update,
};
use crate::cli::{CliError, Context, output};
use crate::tuf::metadata::TargetFile;
use vouch_keys::PrivateKey;

/// Sign what tags mean: each tag's manifest digest, size and media type
/// become a TUF target (name = tag). Signing many tags publishes once.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tags to sign: oci:DIR:TAG
    #[arg(required = true)]
    pub references: Vec<String>,
    /// Sign only with these signer keys (key names); default: every signer
    /// key of the repository in the trust directory
    #[arg(long, value_name = "NAME")]
    pub signer: Vec<String>,
    /// For an image index, also sign each platform manifest, as the target
    /// TAG@OS-ARCH[-VARIANT] (so pulling a platform by digest verifies)
    #[arg(long)]
    pub recursive: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

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
        let store = open_store(ctx, &refs[0], false)?;
        let layout = store.as_ref();
        let tags: Vec<String> = refs.iter().map(|r| r.tag.clone().unwrap_or_default()).collect();
        let (_, probe) = load(layout)?.ok_or_else(|| no_trust_data(&repo_id))?;
        // The tags are looked up while the keys are unlocked: one waits on
        // the registry, the other is the KDF's CPU work.
        let (targets, keys) = std::thread::scope(|scope| {
            let resolving = scope.spawn(|| resolve_targets(layout, &repo_id, &tags, args.recursive));
            let keys = signing_keys(ctx, &mut provider, &probe, &repo_id, &args.signer);
            let targets = resolving.join().unwrap_or_else(|_| {
                Err(CliError::failed(
                    "looking up the tags failed",
                    "report this as a bug",
                ))
            });
            (targets, keys)
        });
        // A missing tag signs nothing, and is reported first.
        let targets = targets?;
        let (signing_keys, snapshot_key, timestamp_key) = keys?;
        update(
            layout,
            &repo_id,
            Some(&snapshot_key),
            &timestamp_key,
            |repo, now| {
                let with_signers = repo.delegation("targets", RELEASES).is_some();
                for key in &signing_keys {
                    let id = key.public().key_id().to_string();
                    let roles: Vec<String> = if with_signers {
                        repo.targets["targets"]
                            .signed
                            .delegations
                            .iter()
                            .flat_map(|d| d.roles.iter().flatten())
                            .filter(|r| r.keyids.contains(&id))
                            .map(|r| r.name.clone())
                            .collect()
                    } else {
                        vec!["targets".to_owned()]
                    };
                    for role in &roles {
                        for (tag, _, target) in &targets {
                            repo.add_target(role, tag, target.clone(), now)
                                .map_err(|e| CliError::failed(e.to_string(), "check the tag"))?;
                        }
                    }
                    for role in &roles {
                        repo.targets
                            .get_mut(role)
                            .map(|r| r.sign(key))
                            .transpose()
                            .map_err(bug)?;
                    }
                }
                Ok(())
            },
        )?;
        let mut said = String::new();
        for (tag, digest, _) in &targets {
            said.push_str(&format!("Signed {repo_id}:{tag} -> {digest}\n"));
            out.push_str(&format!("{repo_id}:{tag} {digest}\n"));
        }
        eprint!("{said}");
    }
    output::print(&out)
}

/// Each tag's target (and with `recursive`, each platform manifest's).
fn resolve_targets(
    layout: &dyn crate::store::Store,
    repo_id: &str,
    tags: &[String],
    recursive: bool,
) -> Result<Vec<(String, String, TargetFile)>, CliError> {
    let mut targets = Vec::new();
    for (tag, desc) in tags.iter().zip(layout.resolve_many(tags).map_err(store_error)?) {
        let desc = desc.ok_or_else(|| {
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
        if recursive && is_index(&desc.media_type) {
            targets.extend(platform_targets(layout, tag, &desc.digest)?);
        }
        targets.push((tag.clone(), desc.digest, target));
    }
    Ok(targets)
}

/// The keys `sign` signs with: with signers (targets/releases), every
/// signer key the user holds (or those named by --signer); otherwise the
/// targets key. Then the snapshot and timestamp keys.
fn signing_keys(
    ctx: &Context,
    provider: &mut Provider,
    probe: &crate::tuf::repo::Repository,
    repo_id: &str,
    only: &[String],
) -> Result<(Vec<PrivateKey>, PrivateKey, PrivateKey), CliError> {
    let signers = match probe.delegation("targets", RELEASES) {
        Some((ids, _)) => {
            let held: Vec<_> = ctx
                .trust_dir
                .list()?
                .keys
                .into_iter()
                .filter(|k| ids.contains(&k.file.info.id.to_string()))
                .filter(|k| only.is_empty() || only.contains(&k.file.info.name))
                .collect();
            if held.is_empty() {
                return Err(CliError::failed(
                    format!(
                        "{repo_id} has signers ({RELEASES}) and none of their keys is in this trust directory"
                    ),
                    "import your signer key (`vouch key import`), or check --signer",
                ));
            }
            held.iter()
                .map(|k| unlock_key(k, provider))
                .collect::<Result<Vec<_>, _>>()?
        }
        None => vec![role_key(ctx, provider, "targets", repo_id)?],
    };
    let snapshot = role_key(ctx, provider, "snapshot", repo_id)?;
    let timestamp = role_key(ctx, provider, "timestamp", repo_id)?;
    Ok((signers, snapshot, timestamp))
}

fn is_index(media_type: &str) -> bool {
    matches!(
        media_type,
        "application/vnd.oci.image.index.v1+json"
            | "application/vnd.docker.distribution.manifest.list.v2+json"
    )
}

/// The platform manifests of an image index, as targets `TAG@OS-ARCH[-VARIANT]`.
fn platform_targets(
    store: &dyn crate::store::Store,
    tag: &str,
    digest: &str,
) -> Result<Vec<(String, String, TargetFile)>, CliError> {
    let bytes = store
        .manifest(digest, crate::store::copy::MAX_MANIFEST)
        .map_err(store_error)?;
    let index: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::failed(
            format!("the index of {tag} is not JSON: {e}"),
            "the image is damaged",
        )
    })?;
    let mut out = Vec::new();
    for m in index["manifests"].as_array().into_iter().flatten() {
        let (Some(child), Some(size)) = (m["digest"].as_str(), m["size"].as_u64()) else {
            continue;
        };
        let p = &m["platform"];
        let (Some(os), Some(arch)) = (p["os"].as_str(), p["architecture"].as_str()) else {
            continue;
        };
        let mut name = format!("{tag}@{os}-{arch}");
        if let Some(v) = p["variant"].as_str() {
            name.push('-');
            name.push_str(v);
        }
        let hex = child.strip_prefix("sha256:").unwrap_or(child).to_owned();
        let target = TargetFile {
            length: size,
            hashes: BTreeMap::from([("sha256".to_owned(), hex)]),
            custom: Some(serde_json::json!({
                "mediaType": m["mediaType"],
                "platform": p,
                "index": digest,
            })),
            extra: Default::default(),
        };
        out.push((name, child.to_owned(), target));
    }
    Ok(out)
}
