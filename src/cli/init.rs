//! `vouch init REPO`

use crate::cli::common::{generate_key, name_base, open_store, parse_repository, trust};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context, output};
use crate::policy::Policy;
use crate::trust::writer::{Publishing, Writer};

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
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_repository(&args.repository, "init")?;
    let repo_id = r.repository();
    let store = open_store(ctx, &r, true)?;
    if crate::store::artifact::read(store.as_ref())?.is_some() {
        return Err(crate::trust::TrustError::AlreadyInitialised { repo: repo_id }.into());
    }
    ctx.trust_dir.check_permissions()?;
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let base = name_base(&repo_id);
    let root = generate_key(ctx, &mut provider, &base, "root", &repo_id)?;
    let targets = generate_key(ctx, &mut provider, &base, "targets", &repo_id)?;
    let snapshot = generate_key(ctx, &mut provider, &base, "snapshot", &repo_id)?;
    let timestamp = generate_key(ctx, &mut provider, &base, "timestamp", &repo_id)?;
    let writer = Writer::new(&trust(ctx), &repo_id, store.as_ref());
    let publishing = Publishing {
        snapshot: Some(&snapshot),
        timestamp: &timestamp,
    };
    writer.init(&root, &targets, publishing, args.bins)?;
    let root_id = root.public().key_id();
    eprintln!(
        "Initialised trust data for {repo_id}; pinned its root in {}",
        Policy::path(ctx.trust_dir.path()).display()
    );
    eprintln!("Pin it elsewhere with: vouch pin {repo_id} {root_id}");
    output::print(&format!("{root_id}\n"))
}

/// `--bins N`: the bit length of N bins.
fn parse_bins(s: &str) -> Result<u32, String> {
    let n: u64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if !(16..=4096).contains(&n) || !n.is_power_of_two() {
        return Err(format!("{n} bins: choose a power of two from 16 to 4096"));
    }
    Ok(n.trailing_zeros())
}
