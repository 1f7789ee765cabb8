//! `vouch migrate REPO [--notary-server URL] [--dry-run] [--json]`

use crate::cli::common::{NewKey, name_base, open_store, parse_repository, trust, unlock_key};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context, output};
use crate::reference::Location;
use crate::trust::migration::{DctKeys, MigrationKeys, NewKeyReport, Plan, Report, plan};
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
    /// Report what the real run would do (tag statuses, removals, the keys it
    /// would make and what seals each); import, ask and write nothing
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
        return dry_run(ctx, &args, &r, &trust, &plan);
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
    let mut report = writer.migrate(
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
    report.new_keys = keys.made;
    print(&report, args.json)
}

/// `--dry-run`: the statuses the real run would report (against the vouch
/// trust data already there), and the keys it would make with the
/// passphrase that would seal each. Writes nothing; asks for nothing.
fn dry_run(
    ctx: &Context,
    args: &Args,
    r: &crate::reference::ImageRef,
    trust: &crate::trust::Trust,
    plan: &Plan,
) -> Result<(), CliError> {
    let repo_id = r.repository();
    let fresh_layout = matches!(&r.location, Location::Layout(dir) if !dir.exists());
    let (mut report, has_trust_data) = if fresh_layout {
        (plan.preview_fresh(&repo_id), false)
    } else {
        let store = open_store(ctx, r, false)?;
        let has = crate::store::artifact::read(store.as_ref())?.is_some();
        (
            Writer::new(trust, &repo_id, store.as_ref()).migration_preview(plan)?,
            has,
        )
    };
    let mut made: Vec<(String, vouch_keys::keyfile::RoleClass)> = Vec::new();
    let base = name_base(&repo_id);
    if !has_trust_data && plan.targets_file.is_none() {
        made.push(("targets".to_owned(), vouch_keys::keyfile::RoleClass::Targets));
    }
    if stand_in_needed(plan) && find_stand_in(ctx, &base, &repo_id)?.is_none() {
        made.push((
            format!("{} (a signer standing in)", crate::trust::RELEASES),
            vouch_keys::keyfile::RoleClass::Delegation,
        ));
    }
    if !has_trust_data {
        made.push(("snapshot".to_owned(), vouch_keys::keyfile::RoleClass::Snapshot));
        made.push(("timestamp".to_owned(), vouch_keys::keyfile::RoleClass::Timestamp));
    }
    let mut online_from: Option<String> = None;
    for (role, class) in made {
        let env = vouch_keys::passphrase::from_env(class, |v| std::env::var(v).ok());
        let online = matches!(
            class,
            vouch_keys::keyfile::RoleClass::Snapshot | vouch_keys::keyfile::RoleClass::Timestamp
        );
        let sealed_with = match (env, &online_from) {
            (Some(got), _) => got.source.to_string(),
            (None, Some(first)) if online => format!("the other online key's passphrase ({first})"),
            (None, _) => {
                let from = match (&args.passphrase.passphrase_file, args.passphrase.passphrase_stdin) {
                    (Some(path), _) => path.display().to_string(),
                    (None, true) => "a line of standard input".to_owned(),
                    (None, false) if ctx.interactive && crate::cli::prompt::terminal_available() => {
                        "a new passphrase asked on the terminal".to_owned()
                    }
                    (None, false) => format!(
                        "nothing: there is no terminal to ask on, so the real run stops here \
                         (set {}, or give --passphrase-file or --passphrase-stdin)",
                        vouch_keys::passphrase::env_vars(class)[0]
                    ),
                };
                if online {
                    online_from = Some(from.clone());
                }
                from
            }
        };
        report.new_keys.push(NewKeyReport {
            role,
            id: None,
            sealed_with,
        });
    }
    print(&report, args.json)
}

/// Whether the migration needs a new signer key: Notary's
/// `targets/releases` has no key on this machine.
fn stand_in_needed(plan: &Plan) -> bool {
    plan.signers
        .iter()
        .any(|s| s.role == crate::trust::RELEASES && s.held.is_empty())
}

/// The stand-in signer key an earlier migration made, if any.
fn find_stand_in(
    ctx: &Context,
    base: &str,
    repo_id: &str,
) -> Result<Option<vouch_keys::StoredKey>, CliError> {
    let name = format!("{base}-migrated");
    Ok(ctx
        .trust_dir
        .list()?
        .keys
        .into_iter()
        .find(|k| k.file.info.name.starts_with(&name) && k.file.info.repo.as_deref() == Some(repo_id)))
}

struct Keys {
    root: vouch_keys::PrivateKey,
    targets: vouch_keys::PrivateKey,
    snapshot: vouch_keys::PrivateKey,
    timestamp: vouch_keys::PrivateKey,
    signers: Vec<vouch_keys::PrivateKey>,
    stand_in: Option<(String, vouch_keys::PrivateKey)>,
    made: Vec<NewKeyReport>,
}

/// Imports the Docker Content Trust keys at hand, and finds or makes the
/// rest: on a first run snapshot, timestamp (and, without the team's keys,
/// targets and a stand-in signer) are generated; on a rerun they are the
/// repository's keys in this trust directory. Passphrases are asked in the
/// order every command uses: root, targets, signers, online keys.
fn unlock_keys(
    ctx: &Context,
    provider: &mut Provider,
    writer: &Writer<'_>,
    plan: &Plan,
    root_file: &std::path::Path,
    repo_id: &str,
) -> Result<Keys, CliError> {
    use crate::cli::key::import::import_or_find;
    let root = checked(
        import_or_find(ctx, provider, root_file, "root", Some(&plan.root_id))?,
        root_file,
    )?;
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
    let mut made = Vec::new();
    let mut make = |provider: &mut Provider, base: &str, role: &str, label: &str| -> Result<_, CliError> {
        let new = NewKey::ask(ctx, provider, base, role, repo_id, &[])?;
        ctx.trust_dir.insert(&new.seal()?)?;
        made.push(NewKeyReport {
            role: label.to_owned(),
            id: Some(new.key.public().key_id().to_string()),
            sealed_with: new.sealed_with.to_string(),
        });
        Ok(new.key)
    };
    let targets = match (&plan.targets_file, existing("targets", provider)?) {
        (_, Some(k)) => k,
        (Some(file), None) => checked(import_or_find(ctx, provider, file, "targets", None)?, file)?,
        (None, None) => {
            eprintln!("note: the repository's targets key is not here; a new targets key is made");
            make(provider, &base, "targets", "targets")?
        }
    };
    let mut signers = Vec::new();
    for signer in &plan.signers {
        for file in &signer.held {
            let name = signer.role.rsplit('/').next().unwrap_or("signer");
            signers.push(checked(import_or_find(ctx, provider, file, name, None)?, file)?);
        }
    }
    // Without any key of targets/releases here, the migrated tags would
    // carry no valid signature: a new signer key stands in (reported).
    let stand_in = match stand_in_needed(plan) {
        true => {
            let name = format!("{base}-migrated");
            let key = match find_stand_in(ctx, &base, repo_id)? {
                Some(k) => unlock_key(&k, provider)?,
                None => make(
                    provider,
                    &name,
                    "delegation",
                    &format!("{} (a signer standing in)", crate::trust::RELEASES),
                )?,
            };
            eprintln!(
                "note: no key of targets/releases is here; tags are re-signed by a new signer key {} ({})",
                name,
                key.public().key_id()
            );
            Some((name, key))
        }
        false => None,
    };
    let snapshot = match existing("snapshot", provider)? {
        Some(k) => k,
        None => make(provider, &base, "snapshot", "snapshot")?,
    };
    let timestamp = match existing("timestamp", provider)? {
        Some(k) => k,
        None => make(provider, &base, "timestamp", "timestamp")?,
    };
    Ok(Keys {
        root,
        targets,
        snapshot,
        timestamp,
        signers,
        stand_in,
        made,
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
        let mut text =
            serde_json::to_string_pretty(report).map_err(|e| CliError::bug(format!("encoding JSON: {e}")))?;
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
            out.push_str(&format!("  {:<20} threshold {}, keys:\n", s.role, s.threshold));
            for id in &s.key_ids {
                out.push_str(&format!("    {id}\n"));
            }
        }
    }
    if !report.new_keys.is_empty() {
        let verb = if report.dry_run { "Would make" } else { "Made" };
        out.push_str(&format!("\n{verb} keys:\n"));
        for k in &report.new_keys {
            let id = k.id.as_deref().map(|i| format!(" {i}")).unwrap_or_default();
            out.push_str(&format!("  {}{id}, sealed with {}\n", k.role, k.sealed_with));
        }
    }
    out.push_str(&format!(
        "\nRoot key: {} (the Docker Content Trust root key)\nConsumers pin it with:\n  {}\n",
        report.root_id, report.pin
    ));
    output::print(&out)
}
