//! `vouch renew REPO [ROLE...] [--within DURATION]`

use crate::cli::common::{held_keys, open_store, parse_repository, report_outcome, trust};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context};
use crate::trust::writer::Writer;

/// Re-sign roles with fresh expiry dates, expired ones included: root
/// (with the root keys here; staged for the other holders when they do
/// not meet the threshold), targets, a signer's role or
/// `targets/releases` (with the keys here that sign it), and the snapshot
/// and timestamp (every publish renews them). Without ROLE, every role
/// that expires within --within. Verifiers keep refusing expired trust
/// data until the renewal is published; a writer builds on an expired
/// state only against what this machine verified before.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
    /// Roles to renew (root, targets, targets/releases, targets/NAME,
    /// snapshot, timestamp) [default: those expiring within --within]
    pub roles: Vec<String>,
    /// With no ROLE, renew what expires within this period: a number with
    /// s, m, h or d
    #[arg(long, value_name = "DURATION", value_parser = super::duration::expiry, default_value = "60d")]
    pub within: time::Duration,
    /// Only list what expires within --within (expired included) and the
    /// command that renews each; change nothing
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_repository(&args.repository, "renew")?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref()).repairing();
    let state = writer.load()?;
    if args.list {
        // The timestamp and snapshot, renewed by every publish, only
        // shortly before they expire (as `inspect` lists them).
        let now = time::OffsetDateTime::now_utc();
        let found: Vec<_> = crate::trust::expiry::expiring(&state.repo, &repo_id, now, now + args.within)
            .into_iter()
            .filter(|e| e.expired || e.at < now + crate::trust::expiry::window(&e.role, args.within))
            .collect();
        let mut out = String::new();
        for e in &found {
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\n",
                e.role,
                if e.expired { "EXPIRED" } else { "expires" },
                e.expires,
                e.renew
            ));
        }
        if found.is_empty() {
            eprintln!("Nothing of {repo_id} expires within the period");
        }
        return crate::cli::output::print(&out);
    }
    let roles: Vec<String> = if args.roles.is_empty() {
        let now = time::OffsetDateTime::now_utc();
        crate::trust::expiry::expiring(&state.repo, &repo_id, now, now + args.within)
            .into_iter()
            .map(|e| e.role)
            .collect()
    } else {
        args.roles.clone()
    };
    if roles.is_empty() {
        eprintln!("Nothing of {repo_id} expires within the period; nothing renewed");
        return Ok(());
    }
    for role in &roles {
        let known = matches!(role.as_str(), "root" | "snapshot" | "timestamp")
            || state.repo.targets.contains_key(role.as_str());
        if !known {
            return Err(CliError::failed(
                format!("{role} is not a role of {repo_id}"),
                "`vouch inspect` lists the roles and when each expires",
            ));
        }
    }
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let (mut held, by, online) = held_keys(ctx, &state, &repo_id, &["root", "targets"], &mut provider)?;
    // The keys here of the delegated roles renewed.
    let delegated: std::collections::BTreeSet<crate::tuf::KeyId> = roles
        .iter()
        .filter(|r| r.starts_with("targets/"))
        .filter_map(|r| crate::trust::writer::signer_ids(&state.repo, r))
        .flatten()
        .collect();
    if !delegated.is_empty() {
        let stored = crate::trust::signing_keys::for_approving(&ctx.trust_dir, &delegated, &[])?;
        held.extend(crate::cli::common::unlock_all(&stored, &mut provider)?);
    }
    if online.is_none() && roles.iter().all(|r| r == "snapshot" || r == "timestamp") {
        return Err(CliError::failed(
            format!("renewing the snapshot and timestamp of {repo_id} needs their keys, which are not here"),
            format!("run `vouch refresh {repo_id} --snapshot` where the online keys are"),
        ));
    }
    let outcome = writer.renew_roles(&roles, &held, online.as_ref().map(|o| o.publishing()), &by)?;
    report_outcome(&repo_id, &outcome, &format!("Renewed {}", roles.join(", ")))
}
