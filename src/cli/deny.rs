//! `vouch deny ROOT_KEY_ID...`

use crate::cli::{CliError, Context};
use crate::policy::Policy;

/// Never accept these root key ids again, under any pin: root keys lost
/// or stolen. A pin counts none of them toward its threshold (a pin left
/// short refuses the repository until it is replaced with `vouch pin
/// --replace`), nothing is pinned to them on first use, and `vouch pin`
/// refuses them. Logged in TRUST_DIR/pins.log; there is no undo command.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Root key ids (64 lowercase hex digits each)
    #[arg(required = true)]
    pub root_keys: Vec<String>,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    for k in &args.root_keys {
        if vouch_keys::KeyId::parse(k).is_none() {
            return Err(CliError::failed(
                format!("{k:?} is not a key id"),
                "a key id is 64 lowercase hex digits",
            ));
        }
    }
    ctx.trust_dir.ensure()?;
    let mut policy = Policy::load(ctx.trust_dir.path())?;
    for k in &args.root_keys {
        if !policy.denied(k) {
            policy.deny.push(k.clone());
            Policy::log(ctx.trust_dir.path(), &format!("deny {k}"))?;
        }
    }
    policy.deny.sort();
    policy.save(ctx.trust_dir.path())?;
    let short: Vec<String> = policy
        .scope
        .iter()
        .filter(|s| {
            let left = s.root_keys.iter().filter(|k| !policy.denied(k)).count() as u64;
            !s.root_keys.is_empty() && left < s.threshold
        })
        .map(|s| s.repository.clone())
        .collect();
    eprintln!(
        "Denied {} root key id(s); no pin accepts them again",
        args.root_keys.len()
    );
    if !short.is_empty() {
        eprintln!(
            "warning: these pins can no longer be met and refuse until replaced (`vouch pin REPO NEW_IDS --replace`): {}",
            short.join(", ")
        );
    }
    Ok(())
}
