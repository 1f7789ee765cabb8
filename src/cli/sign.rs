//! `vouch sign REF...`

use std::collections::BTreeMap;

use crate::cli::common::{
    OnlineKeys, open_store, parse_ref, read_references, report_staged, trust, unlock_all,
};
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context, output};
use crate::reference::ImageRef;
use crate::store::Store;
use crate::trust::targets::TagTarget;
use crate::trust::writer::{Outcome, Writer};

/// Sign what tags mean: each tag's manifest digest, size and media type
/// become a TUF target (name = tag). Signing many tags publishes once. The
/// trust data is verified first; if it does not verify, nothing is signed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tags to sign: oci:DIR:TAG or REGISTRY/REPO:TAG
    pub references: Vec<String>,
    /// Also sign the tags in FILE, one reference a line (`-`: standard
    /// input; blank lines and lines starting with # are skipped)
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<std::path::PathBuf>,
    /// List every tag signed on stderr, however many (by default, past
    /// ten tags a repository, one summary line)
    #[arg(long, short)]
    pub verbose: bool,
    /// Sign only with these signer keys (key names); default: every signer
    /// key of the repository in the trust directory
    #[arg(long, value_name = "NAME")]
    pub signer: Vec<String>,
    /// For an image index, also sign each platform manifest, as the target
    /// TAG@OS-ARCH[-VARIANT] (so pulling a platform by digest verifies)
    #[arg(long)]
    pub recursive: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let mut texts = args.references.clone();
    if let Some(file) = &args.from_file {
        if file.as_os_str() == "-" && args.passphrase.passphrase_stdin {
            return Err(CliError::failed(
                "--from-file - and --passphrase-stdin both read standard input",
                "give the references in a file, or the passphrase with --passphrase-file or the environment",
            ));
        }
        texts.extend(read_references(file)?);
    }
    if texts.is_empty() {
        return Err(CliError::failed(
            "no tags to sign",
            "give REPO:TAG arguments, or --from-file FILE with one reference a line",
        ));
    }
    let refs = texts
        .iter()
        .map(|s| parse_ref(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut by_repo: BTreeMap<String, Vec<ImageRef>> = BTreeMap::new();
    for r in refs {
        if r.tag.is_none() || r.digest.is_some() {
            return Err(CliError::failed(format!("{r}: sign takes tags"), "give REPO:TAG"));
        }
        by_repo.entry(r.repository()).or_default().push(r);
    }
    let mut provider = Provider::new(args.passphrase, ctx.interactive);
    let mut out = String::new();
    for (repo_id, refs) in by_repo {
        let store = open_store(ctx, &refs[0], false)?;
        let tags: Vec<String> = refs.iter().map(|r| r.tag.clone().unwrap_or_default()).collect();
        let recursive = args.recursive;
        let signed = sign_with(
            ctx,
            &mut provider,
            store.as_ref(),
            &repo_id,
            &args.signer,
            args.verbose,
            |store| {
                let mut shown = crate::cli::progress::Progress::new(
                    format!("Looking up the tags of {repo_id}"),
                    tags.len(),
                    LOOKUP_PROGRESS_AT,
                );
                let found =
                    crate::trust::targets::resolve(store, &repo_id, &tags, recursive, &mut |n| shown.set(n));
                shown.clear();
                found
            },
        )?;
        out.push_str(&signed);
    }
    output::print(&out)
}

/// From this many tags, looking them up shows progress on a terminal.
const LOOKUP_PROGRESS_AT: usize = 512;

/// Past this many tags, `sign` prints one summary line on stderr.
const LIST_AT_MOST: usize = 10;

/// Signs the targets `targets` yields in `repo_id`'s trust data: loads it
/// verified, works out and unlocks the keys that may sign (while
/// `targets` runs: one waits on the store, the other is the KDF's CPU
/// work), then publishes. Returns the lines to print on stdout.
pub fn sign_with(
    ctx: &Context,
    provider: &mut Provider,
    store: &dyn Store,
    repo_id: &str,
    only: &[String],
    verbose: bool,
    targets: impl FnOnce(&dyn Store) -> Result<Vec<TagTarget>, crate::trust::TrustError> + Send,
) -> Result<String, CliError> {
    let trust = trust(ctx);
    let writer = Writer::new(&trust, repo_id, store);
    // Which keys sign is decided above the bins: none is read.
    let state = writer.load_for(&[])?;
    // Someone at a terminal is asked for passphrases only once every tag is
    // known to exist; otherwise the lookups overlap the key derivation.
    let (targets, keys) = if provider.may_prompt() {
        let targets = targets(store)?;
        let signers = crate::trust::signing_keys::for_signing(&ctx.trust_dir, &state.repo, repo_id, only)?;
        let by: Vec<String> = signers.iter().map(|k| k.file.info.name.clone()).collect();
        let keys = (
            unlock_all(&signers, provider)?,
            OnlineKeys::unlock_if_held(ctx, &state, repo_id, provider)?,
            by.join(", "),
        );
        (Ok(targets), Ok(keys))
    } else {
        std::thread::scope(|scope| {
            let resolving = scope.spawn(|| targets(store));
            let keys = (|| -> Result<_, CliError> {
                let signers =
                    crate::trust::signing_keys::for_signing(&ctx.trust_dir, &state.repo, repo_id, only)?;
                let by: Vec<String> = signers.iter().map(|k| k.file.info.name.clone()).collect();
                Ok((
                    unlock_all(&signers, provider)?,
                    OnlineKeys::unlock_if_held(ctx, &state, repo_id, provider)?,
                    by.join(", "),
                ))
            })();
            let targets = resolving
                .join()
                .unwrap_or_else(|_| Err(crate::trust::TrustError::bug("looking up the tags failed")));
            (targets, keys)
        })
    };
    // A missing tag signs nothing, and is reported first.
    let targets = targets?;
    let (signers, online, by) = keys?;
    provider.check_stdin_used()?;
    if targets.len() >= LOOKUP_PROGRESS_AT && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!("Signing {} tags of {repo_id} and publishing…", targets.len());
    }
    let pairs: Vec<(String, crate::tuf::metadata::TargetFile)> = targets
        .iter()
        .map(|(tag, _, t)| (tag.clone(), t.clone()))
        .collect();
    let outcome = writer.sign(&signers, online.as_ref().map(OnlineKeys::publishing), &pairs, &by)?;
    // Roles that only a holder renews (root, targets, signers' roles)
    // expiring within 60 days: say so while there is time.
    let now = time::OffsetDateTime::now_utc();
    for e in crate::trust::expiry::expiring(&state.repo, repo_id, now, now + time::Duration::days(60))
        .into_iter()
        .filter(|e| e.role != "timestamp" && e.role != "snapshot")
    {
        eprintln!(
            "warning: {} of {repo_id} expires at {}: renew it with `{}`",
            e.role, e.expires, e.renew
        );
    }
    if let Outcome::Staged { id, short } = &outcome {
        for (tag, digest, _) in targets.iter().take(LIST_AT_MOST) {
            eprintln!("Staged {repo_id}:{tag} -> {digest}");
        }
        report_staged(repo_id, id, short);
        return Ok(format!("staged {id}\n"));
    }
    let list = verbose || targets.len() <= LIST_AT_MOST;
    let mut out = String::new();
    for (tag, digest, _) in &targets {
        if list {
            eprintln!("Signed {repo_id}:{tag} -> {digest}");
        }
        out.push_str(&format!("{repo_id}:{tag} {digest}\n"));
    }
    if !list {
        eprintln!(
            "Signed {} tags of {repo_id} (--verbose lists them; stdout has one line a tag)",
            targets.len()
        );
    }
    Ok(out)
}
