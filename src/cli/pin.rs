//! `vouch pin REPO ROOT_KEY_ID... [--threshold K]`

use crate::cli::common::parse_ref;
use crate::cli::{CliError, Context};
use crate::policy::Policy;

/// Pin a repository (or a pattern: `*` within a path component, `**`
/// across) to its root key ids, checked with the publisher out of band.
/// Verification then starts only from a root that K of these keys signed
/// (and that meets its own threshold). A changed pin applies at once:
/// trust data cached under the old pin is dropped if the new one does not
/// admit it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Repository (oci:DIR, REGISTRY/REPO) or pattern (registry.example/team/*)
    pub repository: String,
    /// Root key ids (64 lowercase hex digits each)
    #[arg(required = true)]
    pub root_keys: Vec<String>,
    /// How many of these keys must have signed the root (default 1)
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub threshold: u64,
    /// Replace the repository's existing pin (a new root after the root
    /// keys were lost or stolen: check the new ids with the publisher out
    /// of band first). Logged in TRUST_DIR/pins.log.
    #[arg(long)]
    pub replace: bool,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let repo = if args.repository.contains('*') {
        args.repository.clone()
    } else {
        parse_ref(&args.repository)?.repository()
    };
    let mut keys = Vec::new();
    for k in &args.root_keys {
        if vouch_keys::KeyId::parse(k).is_none() {
            return Err(CliError::failed(
                format!("{k:?} is not a key id"),
                "a key id is 64 lowercase hex digits",
            ));
        }
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    if args.threshold == 0 || args.threshold > keys.len() as u64 {
        return Err(CliError::failed(
            format!(
                "--threshold {} needs between 1 and {} distinct root key ids",
                args.threshold,
                keys.len()
            ),
            "name at least as many root key ids as the threshold",
        ));
    }
    ctx.trust_dir.ensure()?;
    let mut policy = Policy::load(ctx.trust_dir.path())?;
    if let Some(k) = keys.iter().find(|k| policy.denied(k)) {
        return Err(CliError {
            failure: crate::cli::Failure::Refused,
            message: format!("root key {k} is on this machine's deny list: no pin accepts it again"),
            hint: "pin the repository's new root keys (`vouch inspect` on a publisher's machine lists them)"
                .to_owned(),
        });
    }
    let old = policy
        .exact(&repo)
        .map(|s| (s.root_keys.clone(), s.threshold))
        .filter(|(k, t)| !k.is_empty() && (*k != keys || *t != args.threshold));
    if let Some((old_keys, old_threshold)) = &old {
        if !args.replace {
            return Err(CliError::refused(
                format!(
                    "{repo} is pinned to {old_threshold} of {} already",
                    old_keys.join(", ")
                ),
                "replacing a pin trusts a different root: check the new key ids with the publisher, \
                 then pin again with --replace (it is logged in pins.log)",
            ));
        }
        Policy::log(
            ctx.trust_dir.path(),
            &format!(
                "replace {repo}: {old_threshold} of [{}] -> {} of [{}]",
                old_keys.join(", "),
                args.threshold,
                keys.join(", ")
            ),
        )?;
        eprintln!("warning: replacing the pin of {repo} (logged in pins.log)");
    }
    policy.pin(&repo, keys.clone(), args.threshold);
    policy.save(ctx.trust_dir.path())?;
    eprintln!(
        "Pinned {repo} to {} of root key(s) {}",
        args.threshold,
        keys.join(", ")
    );
    Ok(())
}
