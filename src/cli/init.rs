//! `vouch init REPO`

use crate::cli::passphrase::{PassphraseArgs, Provider};
use crate::cli::repo::{generate_key, name_base, open_store, parse_ref, publish};
use crate::cli::{CliError, Context, output};
use crate::policy::Policy;
use crate::tuf::repo::{Expiries, Repository, RoleSetup};

/// Create a repository's trust data: root, targets, snapshot and timestamp
/// keys (sealed in the trust directory) and the first signed metadata,
/// published beside the images. Pins the new root locally and prints its
/// key id; the pin line is what other machines put in their policy.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: oci:DIR (REGISTRY/REPO in a later release)
    pub repository: String,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.repository)?;
    if r.tag.is_some() || r.digest.is_some() {
        return Err(CliError::failed(
            "init takes a repository, not a tag",
            "drop the :TAG",
        ));
    }
    let repo_id = r.repository();
    let store = open_store(ctx, &r, true)?;
    let layout = store.as_ref();
    if crate::store::artifact::read(layout)
        .map_err(crate::cli::repo::store_error)?
        .is_some()
    {
        return Err(CliError::failed(
            format!("{repo_id} already has trust data"),
            "`vouch inspect` shows it; signing needs its keys in this trust directory",
        ));
    }
    ctx.trust_dir.check_permissions()?;
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let base = name_base(&repo_id);
    let root = generate_key(ctx, &mut provider, &base, "root", &repo_id)?;
    let targets = generate_key(ctx, &mut provider, &base, "targets", &repo_id)?;
    let snapshot = generate_key(ctx, &mut provider, &base, "snapshot", &repo_id)?;
    let timestamp = generate_key(ctx, &mut provider, &base, "timestamp", &repo_id)?;

    let now = time::OffsetDateTime::now_utc();
    let single = |k: &vouch_keys::PrivateKey| RoleSetup::single(k.public());
    let mut repo = Repository::create(
        &single(&root),
        &single(&targets),
        &single(&snapshot),
        &single(&timestamp),
        true,
        now,
        Expiries::default(),
    );
    let sign_err = |e: crate::tuf::TufError| CliError::failed(e.to_string(), "report this as a bug");
    repo.root.sign(&root).map_err(sign_err)?;
    repo.publish_root().map_err(sign_err)?;
    repo.sign_targets_roles(&targets).map_err(sign_err)?;
    if !publish(layout, &mut repo, Some(&snapshot), &timestamp, None)? {
        return Err(CliError::failed(
            format!("another writer initialised {repo_id} at the same time"),
            "`vouch inspect` shows the trust data that won",
        ));
    }
    let root_id = root.public().key_id();
    let mut policy = Policy::load(ctx.trust_dir.path()).map_err(policy_error)?;
    policy.pin(&repo_id, vec![root_id.to_string()]);
    policy.save(ctx.trust_dir.path()).map_err(policy_error)?;
    eprintln!(
        "Initialised trust data for {repo_id}; pinned its root in {}",
        Policy::path(ctx.trust_dir.path()).display()
    );
    eprintln!("Pin it elsewhere with: vouch pin {repo_id} {root_id}");
    output::print(&format!("{root_id}\n"))
}

pub fn policy_error(e: crate::policy::PolicyError) -> CliError {
    CliError::failed(e.to_string(), "fix or remove the policy file")
}
