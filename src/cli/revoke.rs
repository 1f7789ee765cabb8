//! `vouch revoke REF` and `vouch revoke REPO --all`

use crate::cli::passphrase::{PassphraseArgs, Provider};
use crate::cli::repo::{find_key, load, open_store, parse_ref, publish, unlock_key};
use crate::cli::{CliError, Context};

/// Remove a tag's signature (or every tag's, with --all): verification of
/// it then fails. Needs the targets, snapshot and timestamp keys.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// oci:DIR:TAG, or oci:DIR with --all
    pub reference: String,
    /// Revoke every signed tag of the repository
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.reference)?;
    if args.all == r.tag.is_some() {
        return Err(CliError::failed(
            "give either REPO:TAG or REPO --all",
            "`vouch revoke oci:DIR:TAG` or `vouch revoke oci:DIR --all`",
        ));
    }
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let layout = store.as_ref();
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let targets_key = unlock_key(&find_key(ctx, "targets", &repo_id)?, &mut provider)?;
    let snapshot_key = unlock_key(&find_key(ctx, "snapshot", &repo_id)?, &mut provider)?;
    let timestamp_key = unlock_key(&find_key(ctx, "timestamp", &repo_id)?, &mut provider)?;
    for _ in 0..20 {
        let (art, mut repo) = load(layout)?.ok_or_else(|| {
            CliError::failed(
                format!("{repo_id} has no trust data"),
                format!("run `vouch init {repo_id}` first"),
            )
        })?;
        let now = time::OffsetDateTime::now_utc();
        let tags: Vec<String> = match &r.tag {
            Some(t) => vec![t.clone()],
            None => repo.targets["targets"].signed.targets.keys().cloned().collect(),
        };
        let mut removed = Vec::new();
        for tag in &tags {
            if repo
                .remove_target("targets", tag, now)
                .map_err(|e| CliError::failed(e.to_string(), "report this as a bug"))?
            {
                removed.push(tag.clone());
            }
        }
        if removed.is_empty() {
            return Err(CliError::failed(
                format!("{} has no signed tag to revoke", r),
                "`vouch inspect` lists the signed tags",
            ));
        }
        repo.sign_targets_roles(&targets_key)
            .map_err(|e| CliError::failed(e.to_string(), "report this as a bug"))?;
        if publish(
            layout,
            &mut repo,
            Some(&snapshot_key),
            &timestamp_key,
            Some(&art.digest),
        )? {
            for tag in removed {
                eprintln!("Revoked {repo_id}:{tag}");
            }
            return Ok(());
        }
    }
    Err(CliError::failed(
        format!("{repo_id}: gave up after 20 concurrent updates"),
        "try again",
    ))
}
