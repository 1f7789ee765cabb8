//! `vouch pin REPO ROOT_KEY_ID...`

use crate::cli::init::policy_error;
use crate::cli::repo::parse_ref;
use crate::cli::{CliError, Context};
use crate::policy::Policy;

/// Pin a repository (or a pattern: `*` within a path component, `**`
/// across) to its root key ids, checked with the publisher out of band.
/// Verification then starts only from a root signed by these keys.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Repository (oci:DIR, REGISTRY/REPO) or pattern (registry.example/team/*)
    pub repository: String,
    /// Root key ids (64 hex digits each)
    #[arg(required = true)]
    pub root_keys: Vec<String>,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let repo = if args.repository.contains('*') {
        args.repository.clone()
    } else {
        parse_ref(&args.repository)?.repository()
    };
    for k in &args.root_keys {
        if vouch_keys::KeyId::parse(k).is_none() {
            return Err(CliError::failed(
                format!("{k:?} is not a key id"),
                "a key id is 64 lowercase hex digits",
            ));
        }
    }
    ctx.trust_dir.ensure()?;
    let mut policy = Policy::load(ctx.trust_dir.path()).map_err(policy_error)?;
    policy.pin(&repo, args.root_keys.clone());
    policy.save(ctx.trust_dir.path()).map_err(policy_error)?;
    eprintln!("Pinned {repo} to root key(s) {}", args.root_keys.join(", "));
    Ok(())
}
