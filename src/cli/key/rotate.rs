//! `vouch key rotate REPO ROLE... [--compromised] [--replace KEY_ID]`

use crate::cli::common::{
    generate_key, held_keys, name_base, open_store, parse_repository, read_public, report_outcome, trust,
};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context};
use crate::trust::writer::{KeyChange, Writer};
use crate::tuf::KeyId;

/// Replace a role's key with a new one made here: `root`, `targets`,
/// `snapshot`, `timestamp`, or a signer's name. Top-level keys change in
/// a new root version, a signer's key in targets' delegations; every role
/// the old key signed is signed again with the new key, at new versions,
/// in the same change. Published at once when the keys here meet every
/// threshold (a new root: the old root's and its own) and the online
/// keys are here, else staged for the other holders (`vouch staged`,
/// `vouch approve`, `vouch publish`). The new root and what its new keys
/// sign are published together, never one without the other.
///
/// Run it where the new key will live: a new snapshot or timestamp key
/// on the machine that publishes, a signer's key on the signer's machine.
///
/// With --compromised (a stolen key): targets and its bins are rebuilt
/// from this machine's record of what it published, not from what the
/// store serves, and the tags whose meaning that changes are printed
/// (`changed TAG SERVED -> NOW`). Rotate snapshot and timestamp in the
/// same command when the thief may have held them too: verifiers then
/// drop what they cached of the thief's state.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
    /// The roles whose key to replace: root, targets, snapshot, timestamp,
    /// or a signer's name
    #[arg(required = true)]
    pub roles: Vec<String>,
    /// The key was stolen or exposed: rebuild targets from this machine's
    /// record of what it published, and report what changes
    #[arg(long)]
    pub compromised: bool,
    /// The key id to replace (default: for root, the root keys held here;
    /// for other roles, all of the role's keys)
    #[arg(long, value_name = "KEY_ID")]
    pub replace: Vec<String>,
    /// The new key's public key file (PEM), made on the machine where it
    /// will live, instead of a key made here (one ROLE only). What it must
    /// sign is staged for its holder.
    #[arg(long, value_name = "FILE")]
    pub key: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    for id in &args.replace {
        if vouch_keys::KeyId::parse(id).is_none() {
            return Err(CliError::failed(
                format!("{id:?} is not a key id"),
                "a key id is 64 lowercase hex digits (`vouch inspect` lists each role's keys)",
            ));
        }
    }
    if args.key.is_some() && args.roles.len() != 1 {
        return Err(CliError::failed(
            "--key gives the new key of one role",
            "rotate one role at a time with --key",
        ));
    }
    let given = args.key.as_ref().map(read_public).transpose()?;
    let r = parse_repository(&args.repository, "key rotate")?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref()).repairing();
    let state = writer.load_for(&[])?;
    ctx.trust_dir.check_permissions()?;
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let (mut held, by, online) = held_keys(ctx, &state, &repo_id, &["root", "targets"], &mut provider)?;
    let root = &state.repo.root.signed;
    let mut changes = Vec::new();
    let mut new_online = (None, None);
    let base = name_base(&repo_id);
    for role in &args.roles {
        let old: Vec<KeyId> = match role.as_str() {
            "root" => {
                let listed = root
                    .roles
                    .get("root")
                    .map(|r| r.keyids.clone())
                    .unwrap_or_default();
                // By default the root keys held here (others are their
                // holders' to rotate).
                let old: Vec<KeyId> = if args.replace.is_empty() {
                    held.iter()
                        .map(|k| KeyId::from(k.public().key_id()))
                        .filter(|id| listed.contains(id))
                        .collect()
                } else {
                    chosen(listed, &args.replace)
                };
                if old.is_empty() {
                    return Err(CliError::failed(
                        format!("no root key of {repo_id} to replace was named or is here"),
                        "name it with --replace KEY_ID (`vouch inspect` lists the root keys)",
                    ));
                }
                old
            }
            "targets" | "snapshot" | "timestamp" => chosen(
                root.roles
                    .get(role.as_str())
                    .map(|r| r.keyids.clone())
                    .unwrap_or_default(),
                &args.replace,
            ),
            signer => {
                let name = signer.strip_prefix("targets/").unwrap_or(signer);
                let ids = state
                    .repo
                    .delegation("targets", &format!("targets/{name}"))
                    .map(|(ids, _)| ids)
                    .ok_or_else(|| {
                        CliError::failed(
                            format!("{name} is not a signer of {repo_id}"),
                            "name root, targets, snapshot, timestamp or a signer (`vouch inspect` lists them)",
                        )
                    })?;
                chosen(ids, &args.replace)
            }
        };
        let replacing = old.iter().map(KeyId::short).collect::<Vec<_>>().join(", ");
        if let Some(public) = &given {
            eprintln!(
                "New {role} key {} (given) for {repo_id}, replacing {replacing}",
                public.key_id()
            );
            changes.push(KeyChange {
                role: role.clone(),
                old,
                new: public.clone(),
            });
            continue;
        }
        let kind = role.strip_prefix("targets/").unwrap_or(role);
        let key = generate_key(ctx, &mut provider, &base, kind, &repo_id)?;
        eprintln!(
            "New {role} key {} for {repo_id}, replacing {replacing}",
            key.public().key_id()
        );
        changes.push(KeyChange {
            role: role.clone(),
            old,
            new: key.public(),
        });
        match role.as_str() {
            "snapshot" => new_online.0 = Some(held.len()),
            "timestamp" => new_online.1 = Some(held.len()),
            _ => {}
        }
        held.push(key);
    }
    // The online keys of the new root: the new ones, else those here.
    let old = online.as_ref().map(|o| o.publishing());
    let snapshot = new_online.0.map(|i| &held[i]).or(old.and_then(|p| p.snapshot));
    let timestamp = new_online.1.map(|i| &held[i]).or(old.map(|p| p.timestamp));
    let publishing = timestamp.map(|timestamp| crate::trust::writer::Publishing { snapshot, timestamp });
    // A new online key given (made elsewhere): its holder publishes.
    let given_online = given.is_some() && args.roles.iter().any(|r| r == "snapshot" || r == "timestamp");
    let publishing = publishing.filter(|p| p.snapshot.is_some() && !given_online);
    let (changed, outcome) = writer.rotate(&changes, args.compromised, &held, publishing, &by)?;
    let mut out = String::new();
    for c in &changed {
        out.push_str(&format!(
            "changed {} {} -> {}\n",
            c.tag,
            c.served.as_deref().unwrap_or("unsigned"),
            c.now.as_deref().unwrap_or("unsigned")
        ));
    }
    if args.compromised {
        if changed.is_empty() {
            eprintln!("No tag of {repo_id} changes: every tag is signed as the store served it");
        } else {
            eprintln!(
                "{} tag(s) of {repo_id} served differently from what this machine published (listed on stdout)",
                changed.len()
            );
        }
    }
    crate::cli::output::print(&out)?;
    report_outcome(&repo_id, &outcome, "Published the new key(s)")
}

/// Of a role's key ids `listed`, those `--replace` names (all without it).
fn chosen(listed: Vec<KeyId>, replace: &[String]) -> Vec<KeyId> {
    if replace.is_empty() {
        listed
    } else {
        listed
            .into_iter()
            .filter(|id| replace.iter().any(|r| id == r.as_str()))
            .collect()
    }
}
