//! `vouch verify REF...` and `vouch verify --from-file FILE`

use std::collections::BTreeMap;

use crate::cli::common::{open_store, parse_ref, read_references, trust};
use crate::cli::{CliError, Context, Failure, output};
use crate::reference::{ImageRef, Location};
use crate::trust::Verdict;
use crate::trust::notary_reader::{NotaryReader, NotarySource};

/// The Notary server of a registry reference (`url` empty: the default).
/// Where Docker Content Trust data is read from, for the commands that can
/// read it (`verify`, `inspect`).
#[derive(Debug, Clone, clap::Args)]
pub struct NotaryArgs {
    /// Read Docker Content Trust data from this Notary v1 server instead
    /// of vouch's (https)
    #[arg(long, value_name = "URL", conflicts_with = "notary", value_parser = notary_url)]
    pub notary_server: Option<String>,
    /// Read Docker Content Trust data from the default Notary server:
    /// DOCKER_CONTENT_TRUST_SERVER, else https://REGISTRY, or
    /// notary.docker.io for Docker Hub. With DOCKER_CONTENT_TRUST_SERVER
    /// set, a repository with no vouch trust data is read from it anyway,
    /// as docker did
    #[arg(long)]
    pub notary: bool,
}

/// A Notary server's URL: `https://HOST[:PORT]` (never a reference the
/// option would otherwise swallow).
fn notary_url(text: &str) -> Result<String, String> {
    if text.starts_with("https://") || text.starts_with("http://") {
        return Ok(text.to_owned());
    }
    Err(format!(
        "{text:?} is not a URL: --notary-server takes https://HOST[:PORT]; --notary reads the default server"
    ))
}

impl NotaryArgs {
    /// The server asked for: `Some("")` is the default one.
    pub fn server(&self) -> Option<String> {
        match (&self.notary_server, self.notary) {
            (Some(url), _) => Some(url.clone()),
            (None, true) => Some(String::new()),
            (None, false) => None,
        }
    }

    /// Whether `DOCKER_CONTENT_TRUST_SERVER` alone sends a repository with
    /// no vouch trust data to Notary.
    pub fn env_server() -> bool {
        std::env::var_os("DOCKER_CONTENT_TRUST_SERVER").is_some_and(|v| !v.is_empty())
    }
}

pub fn notary_source(r: &ImageRef, url: &str) -> Result<NotarySource, CliError> {
    let Location::Registry { registry, .. } = &r.location else {
        return Err(CliError::failed(
            "Notary trust data belongs to registry repositories",
            "give REGISTRY/REPO:TAG with --notary-server",
        ));
    };
    Ok(NotarySource::resolve(
        &r.repository(),
        registry,
        (!url.is_empty()).then_some(url),
    ))
}

/// Check that a tag's current manifest is the one its trust data signs (or
/// that a digest is one a signed tag maps to). Exit 0 and print the trusted
/// digest, which is what to deploy; 1 with the reason when it is not
/// (unsigned, digest mismatch, expired, rolled back, threshold not met, not
/// pinned); 2 when it cannot decide. With several references (or
/// --from-file, or --json), one result line each on stdout; exit 0 only
/// when every one verified, 2 when any could not be decided, else 1.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub offline: crate::cli::OfflineArg,
    /// Tags or digests: oci:DIR:TAG, oci:DIR@sha256:…, REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:…
    pub references: Vec<String>,
    /// Also verify the references in FILE, one a line (`-`: standard
    /// input; blank lines and lines starting with # are skipped)
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<std::path::PathBuf>,
    /// One JSON object a line: reference, result (verified, refused,
    /// undecided), and the digest or the error and hint
    #[arg(long)]
    pub json: bool,
    /// Pin the repository's root on first use if it is not pinned (loud)
    #[arg(long)]
    pub tofu: bool,
    #[command(flatten)]
    pub notary: NotaryArgs,
    /// Also say, on stderr, how many bytes of trust data each repository
    /// fetched from its store
    #[arg(short, long)]
    pub verbose: bool,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let mut texts = args.references.clone();
    if let Some(file) = &args.from_file {
        texts.extend(read_references(file)?);
    }
    if texts.is_empty() {
        return Err(CliError::failed(
            "no references to verify",
            "give REF arguments, or --from-file FILE with one reference a line",
        ));
    }
    if texts.len() == 1 && args.from_file.is_none() && !args.json {
        return verify_one(&args, ctx, &texts[0]);
    }
    verify_many(&args, ctx, &texts)
}

/// One reference: the digest on stdout, the story on stderr, the error as
/// an `error:` and `hint:` pair.
fn verify_one(args: &Args, ctx: &Context, text: &str) -> Result<(), CliError> {
    let r = parse_ref(text)?;
    let verdict = verify_repository(args, ctx, std::slice::from_ref(&r))
        .pop()
        .unwrap_or_else(|| Err(CliError::bug("nothing was verified")))?;
    eprintln!("Verified {r} ({})", verdict.how);
    // A tag's current digest is what the store says it is (a registry's
    // Docker-Content-Digest): the signed digest printed is what to deploy.
    if r.digest.is_none() {
        eprintln!("Deploy by digest: {}@{}", r.repository(), verdict.digest);
    }
    output::print(&format!("{}\n", verdict.digest))
}

/// Many references: each repository's trust data is opened once, each
/// reference gets a result line, in the order given.
fn verify_many(args: &Args, ctx: &Context, texts: &[String]) -> Result<(), CliError> {
    let mut results: Vec<Option<Result<Verdict, CliError>>> = texts.iter().map(|_| None).collect();
    let mut by_repo: BTreeMap<String, Vec<(usize, ImageRef)>> = BTreeMap::new();
    for (i, text) in texts.iter().enumerate() {
        match parse_ref(text) {
            Ok(r) => by_repo.entry(r.repository()).or_default().push((i, r)),
            Err(e) => results[i] = Some(Err(e)),
        }
    }
    for refs in by_repo.values() {
        let only: Vec<ImageRef> = refs.iter().map(|(_, r)| r.clone()).collect();
        let verdicts = verify_repository(args, ctx, &only);
        for ((i, _), verdict) in refs.iter().zip(verdicts) {
            results[*i] = Some(verdict);
        }
    }
    let mut out = String::new();
    let (mut verified, mut refused, mut undecided) = (0usize, 0usize, 0usize);
    for (text, result) in texts.iter().zip(results) {
        let result = result.unwrap_or_else(|| Err(CliError::bug("not verified")));
        match &result {
            Ok(_) => verified += 1,
            Err(e) if e.failure == Failure::Refused => refused += 1,
            Err(_) => undecided += 1,
        }
        out.push_str(&result_line(text, &result, args.json));
        out.push('\n');
    }
    output::print(&out)?;
    let total = texts.len();
    eprintln!("Verified {verified} of {total}: {refused} refused, {undecided} could not be decided");
    if undecided > 0 {
        Err(CliError::failed(
            format!("{undecided} of {total} references could not be verified or refused"),
            "their lines say why (unreachable store, unreadable trust data); nothing about them was decided",
        ))
    } else if refused > 0 {
        Err(CliError {
            failure: Failure::Refused,
            message: format!("{refused} of {total} references did not verify"),
            hint: "their lines say why; do not deploy them".to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Verifies references of one repository against its trust data, opened
/// once. A failure to open decides every reference alike.
fn verify_repository(args: &Args, ctx: &Context, refs: &[ImageRef]) -> Vec<Result<Verdict, CliError>> {
    let all = |e: CliError| refs.iter().map(|_| Err(e.clone())).collect();
    let Some(first) = refs.first() else {
        return Vec::new();
    };
    let store = match open_store(ctx, first, false) {
        Ok(s) => s,
        Err(e) => return all(e),
    };
    let store = store.as_ref();
    let from_notary = |url: &str| -> Vec<Result<Verdict, CliError>> {
        let reader = notary_source(first, url)
            .and_then(|source| Ok(NotaryReader::open(&trust(ctx), source, args.tofu)?));
        match reader {
            Ok(reader) => refs.iter().map(|r| Ok(reader.verify(r, store)?)).collect(),
            Err(e) => all(e),
        }
    };
    match args.notary.server() {
        Some(url) => from_notary(&url),
        None if NotaryArgs::env_server()
            && matches!(first.location, crate::reference::Location::Registry { .. })
            && matches!(store.head(crate::store::artifact::TRUST_TAG), Ok(None)) =>
        {
            eprintln!(
                "{}: no vouch trust data; reading Docker Content Trust data from DOCKER_CONTENT_TRUST_SERVER",
                first.repository()
            );
            from_notary("")
        }
        None => {
            match crate::trust::warm::verify_refs(&trust(ctx), &first.repository(), store, refs, args.tofu) {
                Ok((verdicts, cost)) => {
                    if args.verbose {
                        let how = if cost.warm {
                            "unchanged since verified: answered from the record of verdicts"
                        } else {
                            "verified"
                        };
                        eprintln!(
                            "{}: {how}; fetched {} bytes of trust metadata and {} bytes of trust manifests",
                            first.repository(),
                            cost.metadata,
                            cost.manifests
                        );
                    }
                    verdicts.into_iter().map(|v| v.map_err(CliError::from)).collect()
                }
                Err(e) => all(e.into()),
            }
        }
    }
}

fn result_line(text: &str, result: &Result<Verdict, CliError>, json: bool) -> String {
    let kind = match result {
        Ok(_) => "verified",
        Err(e) if e.failure == Failure::Refused => "refused",
        Err(_) => "undecided",
    };
    match (result, json) {
        (Ok(v), true) => serde_json::json!({
            "reference": text,
            "result": kind,
            "digest": v.digest,
            "how": v.how,
        })
        .to_string(),
        (Err(e), true) => serde_json::json!({
            "reference": text,
            "result": kind,
            "error": e.message,
            "hint": e.hint,
        })
        .to_string(),
        (Ok(v), false) => format!("{kind} {} {}", one_line(text), v.digest),
        (Err(e), false) => format!("{kind} {}: {}", one_line(text), one_line(&e.message)),
    }
}

/// A message on one line (a reference file's line may end up in it).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
