//! `vouch staged REPO`

use crate::cli::common::{open_store, parse_repository, trust};
use crate::cli::{CliError, Context};
use crate::trust::writer::{Pending, StagedList, Standing, Writer};

/// List the changes staged for a repository and not yet published: what
/// each changes against the live trust data (tags added, moved, removed,
/// with digests; keys and thresholds), who signed it, and what it still
/// needs. Verifiers never see a staged change.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_repository(&args.repository, "staged")?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, false)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref()).reviewing();
    // No trust data yet: the first root its holders are signing.
    let (pending, skipped) = if crate::store::artifact::read(store.as_ref())?.is_none() {
        (writer.genesis()?, Vec::new())
    } else {
        let StagedList { pending, skipped, .. } = writer.staged()?;
        (pending, skipped)
    };
    if pending.is_empty() {
        eprintln!("No staged changes for {repo_id}");
    }
    let mut out = String::new();
    for p in &pending {
        out.push_str(&describe(&repo_id, p));
    }
    for (tag, why) in &skipped {
        out.push_str(&format!("ignored {tag}: {why}\n"));
    }
    crate::cli::output::print(&out)
}

/// A staged change, as people read it: one header line, then what it
/// needs, who signed, and its diff.
pub fn describe(repo_id: &str, p: &Pending) -> String {
    // A first root is approved by its whole id; other changes by any
    // prefix of 4 or more digits.
    let first_root = p.proposal.roles.get("root").is_some_and(|r| r.base_version == 0);
    let short_id = if first_root {
        &p.id[..]
    } else {
        &p.id[..p.id.len().min(12)]
    };
    let mut out = format!(
        "{short_id}  {}  (staged by {}, {}; these labels are unverified)\n",
        p.proposal.summary, p.proposal.by, p.proposal.created
    );
    let status = match &p.standing {
        Standing::Complete => format!("complete: a publisher publishes it (`vouch publish {repo_id}`)"),
        Standing::Short(short) => format!(
            "needs {} (`vouch approve {repo_id} {short_id}`)",
            crate::trust::writer::needs(short)
        ),
        Standing::Stale(why) => {
            format!("stale, it no longer applies: {why} (`vouch withdraw {repo_id} {short_id}`)")
        }
        Standing::Invalid(why) => {
            format!("INVALID, do not approve: {why} (`vouch withdraw {repo_id} {short_id}`)")
        }
    };
    out.push_str(&format!("  status: {status}\n"));
    for (role, who) in &p.signed_by {
        let who = if who.is_empty() {
            "nobody yet".to_owned()
        } else {
            who.join(", ")
        };
        out.push_str(&format!("  signed: {role}: {who}\n"));
    }
    for line in &p.root_status {
        out.push_str(&format!("  {line}\n"));
    }
    for line in &p.diff {
        out.push_str(&format!("  {line}\n"));
    }
    out
}
