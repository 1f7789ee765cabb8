//! `vouch migrate REPO [--notary-server URL] [--dry-run] [--json]`

use crate::cli::common::{generate_key, name_base, open_store, parse_repository, trust, unlock_key};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context, output};
use crate::reference::Location;
use crate::trust::migration::{DctKeys, MigrationKeys, Plan, Report, plan};
use crate::trust::notary_reader::{NotaryReader, NotarySource};
use crate::trust::writer::{Publishing, Writer};

/// Move a repository's Docker Content Trust data (Notary v1) into vouch
/// trust data in the registry, keeping the team's root key. The Notary
/// data is verified first (a tag that does not verify is skipped and
/// listed, never migrated); the keys are imported from
/// $DOCKER_CONFIG/trust/private (DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE and
/// DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE, or a prompt); snapshot and
/// timestamp keys are new. Safe to run again: only what changed is signed.
/// The Notary server is only read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: REGISTRY/REPO (or oci:DIR with --gun)
    pub repository: String,
    /// The Notary v1 server (https; default: DOCKER_CONTENT_TRUST_SERVER,
    /// else https://REGISTRY, or notary.docker.io for Docker Hub)
    #[arg(long, value_name = "URL")]
    pub notary_server: Option<String>,
    /// The Notary GUN to read (default: the repository)
    #[arg(long, value_name = "GUN")]
    pub gun: Option<String>,
    /// Show what would be migrated; import and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
    /// Trust the Notary root on first use if nothing pins it (loud)
    #[arg(long)]
    pub tofu: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_repository(&args.repository, "migrate")?;
    let repo_id = r.repository();
    let (gun, registry) = match (&args.gun, &r.location) {
        (Some(gun), _) => (gun.clone(), gun.split('/').next().unwrap_or_default().to_owned()),
        (None, Location::Registry { registry, .. }) => (repo_id.clone(), registry.clone()),
        (None, Location::Layout(_)) => {
            return Err(CliError::failed(
                "migrating into an OCI layout needs the Notary GUN to read",
                "give --gun REGISTRY/REPO",
            ));
        }
    };
    let source = NotarySource::resolve(&gun, &registry, args.notary_server.as_deref());
    let trust = trust(ctx);
    let reader = NotaryReader::open(&trust, source, args.tofu)?;
    let dct = DctKeys::find();
    let plan = plan(&reader, dct.as_ref())?;
    if args.dry_run {
        return print(&plan.dry_run(&repo_id), args.json);
    }
    let root_file = plan.root_file.clone().ok_or_else(|| {
        CliError::failed(
            format!(
                "the Docker Content Trust root key of {gun} ({}) is not in $DOCKER_CONFIG/trust/private",
                plan.root_canonical
            ),
            "vouch keeps the team's root key: run migrate where `docker trust` or notary created the repository, \
             or copy its root key file there",
        )
    })?;
    let store = open_store(ctx, &r, true)?;
    let writer = Writer::new(&trust, &repo_id, store.as_ref());
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let keys = unlock_keys(ctx, &mut provider, &writer, &plan, &root_file, &repo_id)?;
    let report = writer.migrate(
        &plan,
        &MigrationKeys {
            root: &keys.root,
            targets: &keys.targets,
            signers: &keys.signers,
            stand_in: keys.stand_in.as_ref().map(|(n, k)| (n.as_str(), k)),
            publishing: Publishing {
                snapshot: Some(&keys.snapshot),
                timestamp: &keys.timestamp,
            },
        },
    )?;
    print(&report, args.json)
}

struct Keys {
    root: vouch_keys::PrivateKey,
    targets: vouch_keys::PrivateKey,
    snapshot: vouch_keys::PrivateKey,
    timestamp: vouch_keys::PrivateKey,
    signers: Vec<vouch_keys::PrivateKey>,
    stand_in: Option<(String, vouch_keys::PrivateKey)>,
}

/// Imports the Docker Content Trust keys at hand, and finds or makes the
/// rest: on a first run snapshot, timestamp (and, without the team's keys,
/// targets and a stand-in signer) are generated; on a rerun they are the
/// repository's keys in this trust directory.
fn unlock_keys(
    ctx: &Context,
    provider: &mut Provider,
    writer: &Writer<'_>,
    plan: &Plan,
    root_file: &std::path::Path,
    repo_id: &str,
) -> Result<Keys, CliError> {
    use crate::cli::key_import::import_or_find;
    let root = checked(import_or_find(ctx, provider, root_file, "root")?, root_file)?;
    let base = name_base(repo_id);
    let state = match crate::store::artifact::read(writer.store())? {
        Some(_) => Some(writer.load()?),
        None => None,
    };
    let existing =
        |role: &str, provider: &mut Provider| -> Result<Option<vouch_keys::PrivateKey>, CliError> {
            match &state {
                Some(s) => Ok(Some(unlock_key(
                    &crate::trust::signing_keys::top_level(&ctx.trust_dir, &s.repo, repo_id, role)?,
                    provider,
                )?)),
                None => Ok(None),
            }
        };
    let targets = match (&plan.targets_file, existing("targets", provider)?) {
        (_, Some(k)) => k,
        (Some(file), None) => checked(import_or_find(ctx, provider, file, "targets")?, file)?,
        (None, None) => {
            eprintln!("note: the repository's targets key is not here; a new targets key is made");
            generate_key(ctx, provider, &base, "targets", repo_id)?
        }
    };
    let snapshot = match existing("snapshot", provider)? {
        Some(k) => k,
        None => generate_key(ctx, provider, &base, "snapshot", repo_id)?,
    };
    let timestamp = match existing("timestamp", provider)? {
        Some(k) => k,
        None => generate_key(ctx, provider, &base, "timestamp", repo_id)?,
    };
    let mut signers = Vec::new();
    for signer in &plan.signers {
        for file in &signer.held {
            let name = signer.role.rsplit('/').next().unwrap_or("signer");
            signers.push(checked(import_or_find(ctx, provider, file, name)?, file)?);
        }
    }
    // Without any key of targets/releases here, the migrated tags would
    // carry no valid signature: a new signer key stands in (reported).
    let releases = plan.signers.iter().find(|s| s.role == crate::trust::RELEASES);
    let stand_in = match releases {
        Some(r) if r.held.is_empty() => {
            let name = format!("{base}-migrated");
            let existing_key = ctx.trust_dir.list()?.keys.into_iter().find(|k| {
                k.file.info.name.starts_with(&name) && k.file.info.repo.as_deref() == Some(repo_id)
            });
            let key = match existing_key {
                Some(k) => unlock_key(&k, provider)?,
                None => generate_key(ctx, provider, &name, "delegation", repo_id)?,
            };
            eprintln!(
                "note: no key of targets/releases is here; tags are re-signed by a new signer key {} ({})",
                name,
                key.public().key_id()
            );
            Some((name, key))
        }
        _ => None,
    };
    Ok(Keys {
        root,
        targets,
        snapshot,
        timestamp,
        signers,
        stand_in,
    })
}

/// Refuses a Docker Content Trust key file whose key is not the one its
/// name (the canonical key id) says.
fn checked(key: vouch_keys::PrivateKey, file: &std::path::Path) -> Result<vouch_keys::PrivateKey, CliError> {
    let named = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let actual = crate::trust::notary_reader::canonical_id_of_spki(&key.public().to_spki_der());
    if actual.as_deref() != Some(named) {
        return Err(CliError::failed(
            format!("{} does not hold the key its name says", file.display()),
            "restore the Docker Content Trust key file, or remove it and run migrate again",
        ));
    }
    Ok(key)
}

fn print(report: &Report, json: bool) -> Result<(), CliError> {
    if json {
        let mut text = serde_json::to_string_pretty(report)
            .map_err(|e| CliError::failed(format!("encoding JSON: {e}"), "report this as a bug"))?;
        text.push('\n');
        return output::print(&text);
    }
    let mut out = String::new();
    let verb = if report.dry_run {
        "Would migrate"
    } else {
        "Migrated"
    };
    out.push_str(&format!("{verb} {} -> {}\n\n", report.gun, report.repository));
    if report.tags.is_empty() {
        out.push_str("No signed tags.\n");
    }
    for t in &report.tags {
        let by = if t.signed_by.is_empty() {
            String::new()
        } else {
            format!(
                ", re-signed by {}",
                t.signed_by
                    .iter()
                    .map(|k| &k[..k.len().min(12)])
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        out.push_str(&format!(
            "  {:<20} {}  {} (signed in Notary by {}{by})\n",
            t.tag,
            t.digest,
            t.status,
            t.originally.join(", ")
        ));
    }
    if !report.skipped.is_empty() {
        out.push_str("\nSkipped:\n");
        for (what, why) in &report.skipped {
            out.push_str(&format!("  {what}: {why}\n"));
        }
    }
    if !report.signers.is_empty() {
        out.push_str("\nSigners:\n");
        for s in &report.signers {
            out.push_str(&format!(
                "  {:<20} threshold {}, keys {}\n",
                s.role,
                s.threshold,
                s.key_ids
                    .iter()
                    .map(|k| &k[..k.len().min(12)])
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    out.push_str(&format!(
        "\nRoot key: {} (the Docker Content Trust root key)\nConsumers pin it with:\n  {}\n",
        report.root_id, report.pin
    ));
    output::print(&out)
}
