//! `vouch init REPO`

use crate::cli::common::{NewKey, name_base, open_store, parse_repository, read_public, trust};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context, output};
use crate::policy::Policy;
use crate::trust::writer::{Outcome, Publishing, Writer};
use crate::tuf::editor::RoleSetup;

/// Create a repository's trust data: root, targets, snapshot and timestamp
/// keys (sealed in the trust directory) and the first signed metadata,
/// published beside the images. Pins the new root locally and prints its
/// key id; the pin line is what other machines put in their policy.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository: oci:DIR or REGISTRY/REPO
    pub repository: String,
    /// Keep tags in this many hashed bins from the start (a power of two,
    /// 16 to 4096), for a repository that will hold many thousands of
    /// tags. Without it, tags move into bins on the sign that takes the
    /// repository past 256 tags.
    #[arg(long, value_name = "N", value_parser = parse_bins)]
    pub bins: Option<u32>,
    /// Another root key holder's public key (PEM, from `vouch key generate
    /// NAME --role root` on their machine); repeat for each holder. The
    /// root key made here is one of the root keys too.
    #[arg(long, value_name = "FILE")]
    pub root_key: Vec<std::path::PathBuf>,
    /// How many root keys must sign a root (default 1). Above 1, the first
    /// root is staged for the other holders (`vouch approve REPO ID` on
    /// their machines), then published here with `vouch publish REPO`.
    #[arg(long, value_name = "K")]
    pub root_threshold: Option<u64>,
    /// Make a new root over the trust data already there: the way out when
    /// a root threshold was lost or stolen. Every verifier refuses the new
    /// root until it replaces its pin explicitly (`vouch deny OLD_IDS`,
    /// then `vouch pin REPO NEW_IDS --replace`); the old trust data's tags
    /// are not carried over (sign them again). Logged in pins.log.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub short: crate::cli::prompt::AllowShort,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_repository(&args.repository, "init")?;
    let repo_id = r.repository();
    let others: Vec<vouch_keys::PublicKey> =
        args.root_key.iter().map(read_public).collect::<Result<_, _>>()?;
    let threshold = args.root_threshold.unwrap_or(1);
    let total = others.len() as u64 + 1;
    if threshold == 0 || threshold > total {
        return Err(CliError::failed(
            format!("--root-threshold {threshold} needs between 1 and {total} root keys"),
            "give each other holder's public key with --root-key FILE",
        ));
    }
    if threshold > 1 && args.bins.is_some() {
        return Err(CliError::failed(
            "--bins applies when init publishes at once, and a root threshold above 1 stages the first root",
            "init without --bins; the repository moves tags into bins itself past 256 tags",
        ));
    }
    let store = open_store(ctx, &r, true)?;
    let before = crate::store::artifact::read(store.as_ref())?.map(|a| a.digest);
    if !args.replace && before.is_some() {
        return Err(crate::trust::TrustError::AlreadyInitialised { repo: repo_id }.into());
    }
    ctx.trust_dir.check_permissions()?;
    let mut provider = Provider::new(args.passphrase.clone(), ctx.interactive)
        .allow_short(args.short.allow_short_passphrase);
    let base = name_base(&repo_id);
    // Every passphrase is asked for before any key is written: stopping
    // at a prompt leaves nothing behind. The online keys share one.
    let mut made: Vec<NewKey> = Vec::new();
    for role in ["root", "targets", "snapshot", "timestamp"] {
        let taken: Vec<&NewKey> = made.iter().collect();
        let key = NewKey::ask(ctx, &mut provider, &base, role, &repo_id, &taken)?;
        made.push(key);
    }
    provider.check_stdin_used()?;
    let files = made.iter().map(NewKey::seal).collect::<Result<Vec<_>, _>>()?;
    let mut written = Vec::new();
    for file in &files {
        match ctx.trust_dir.insert(file) {
            Ok(_) => written.push(file.info.id.clone()),
            Err(e) => {
                forget_keys(ctx, &written);
                return Err(e.into());
            }
        }
    }
    let [root, targets, snapshot, timestamp] = [0, 1, 2, 3].map(|i| &made[i].key);
    // A first root for several holders is staged beside the trust data:
    // keys of a failed staging are kept, as a proposal may name them.
    let staging = !others.is_empty();
    let done = publish(
        &args,
        ctx,
        &repo_id,
        store.as_ref(),
        others,
        threshold,
        root,
        targets,
        snapshot,
        timestamp,
    );
    match done {
        // Printed only now: nothing after the publish may cost its keys.
        Ok(done) => {
            for line in &done.stderr {
                eprintln!("{line}");
            }
            output::print(&done.stdout)
        }
        Err(e) => {
            // Keys for trust data that was never published are orphans;
            // keys that may sign what reached the store are kept. Removed
            // only on a definite failure with the trust tag unmoved.
            let unmoved = || {
                matches!(crate::store::artifact::read(store.as_ref()),
                    Ok(now) if now.as_ref().map(|a| &a.digest) == before.as_ref())
            };
            if !staging && !may_have_landed(&e) && unmoved() {
                forget_keys(ctx, &written);
            } else {
                eprintln!(
                    "warning: init failed, and whether its trust data reached {repo_id} is unknown: \
                     its new keys stay in the trust directory (`vouch key list`)"
                );
            }
            Err(e.into())
        }
    }
}

/// Whether a failed publish may have reached the store anyway: a request
/// sent whose answer was lost (timed out, cut short). A registry's error
/// answer, a connection never made, or a local failure did not.
fn may_have_landed(e: &crate::trust::TrustError) -> bool {
    matches!(e, crate::trust::TrustError::Store(crate::store::StoreError::Registry { detail, .. })
        if !detail.starts_with("HTTP "))
}

/// What a successful init prints, once its keys are known to be kept.
struct Done {
    stderr: Vec<String>,
    stdout: String,
}

/// Removes the keys an unfinished init wrote.
fn forget_keys(ctx: &Context, ids: &[vouch_keys::KeyId]) {
    for id in ids {
        if let Err(e) = ctx.trust_dir.remove(id) {
            eprintln!("warning: could not remove the unused key {id}: {e}");
        }
    }
}

/// Publishes (or stages) the first trust data signed by the new keys.
#[allow(clippy::too_many_arguments)]
fn publish(
    args: &Args,
    ctx: &Context,
    repo_id: &str,
    store: &dyn crate::store::Store,
    others: Vec<vouch_keys::PublicKey>,
    threshold: u64,
    root: &vouch_keys::PrivateKey,
    targets: &vouch_keys::PrivateKey,
    snapshot: &vouch_keys::PrivateKey,
    timestamp: &vouch_keys::PrivateKey,
) -> Result<Done, crate::trust::TrustError> {
    let base = name_base(repo_id);
    let mut writer = Writer::new(&trust(ctx), repo_id, store);
    let mut stderr = Vec::new();
    if args.replace {
        eprintln!("warning: making a new root over the trust data of {repo_id}: every verifier must re-pin");
        writer = writer.replacing_trust_data();
    }
    let publishing = Publishing {
        snapshot: Some(snapshot),
        timestamp,
    };
    let root_id = root.public().key_id();
    if others.is_empty() {
        writer.init(root, targets, publishing, args.bins)?;
        stderr.push(format!(
            "Initialised trust data for {repo_id}; pinned its root in {}",
            Policy::path(ctx.trust_dir.path()).display()
        ));
        stderr.push(format!("Pin it elsewhere with: vouch pin {repo_id} {root_id}"));
        return Ok(Done {
            stderr,
            stdout: format!("{root_id}\n"),
        });
    }
    let mut keys = vec![root.public()];
    keys.extend(others);
    let ids: Vec<String> = keys.iter().map(|k| k.key_id().to_string()).collect();
    let setup = RoleSetup { keys, threshold };
    let mut stdout = String::new();
    match writer.init_with_root(root, &setup, targets, publishing, &format!("{base}-root"))? {
        Outcome::Published(_) => {
            stderr.push(format!(
                "Initialised trust data for {repo_id} with {} root keys, threshold {threshold}; pinned its root in {}",
                ids.len(),
                Policy::path(ctx.trust_dir.path()).display()
            ));
        }
        Outcome::Staged { id, short } => {
            stderr.push(format!(
                "Staged the first root of {repo_id} ({}): nothing is published until the other root holders sign it \
                 (`vouch approve {repo_id} {id}` on their machines: the whole id), then `vouch publish {repo_id}` here",
                crate::trust::writer::needs(&short)
            ));
            stdout = format!("staged {id}\n");
        }
    }
    stderr.push(format!(
        "Pin it elsewhere with: vouch pin {repo_id} {} --threshold {threshold}",
        ids.join(" ")
    ));
    Ok(Done { stderr, stdout })
}

/// `--bins N`: the bit length of N bins.
fn parse_bins(s: &str) -> Result<u32, String> {
    let n: u64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if !(16..=4096).contains(&n) || !n.is_power_of_two() {
        return Err(format!("{n} bins: choose a power of two from 16 to 4096"));
    }
    Ok(n.trailing_zeros())
}
