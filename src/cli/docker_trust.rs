//! `docker trust …` for docker 29, which dropped it: installed as the CLI
//! plugin `docker-trust` (`vouch docker-plugin install --as trust`), the
//! commands people have in scripts map onto vouch's, and print what
//! Docker printed. The trust data is vouch's, in the registry beside the
//! image; Docker's names stay (a signer is `targets/NAME`, signing goes to
//! `targets/releases`, Docker Hub names such as `alpine:3` work).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use crate::cli::common::{open_store, trust};
use crate::cli::{CliError, Context, dispatch, output, vouch_command};
use crate::reference::ImageRef;

/// The plugin's command line (`docker-trust trust sign …`, as the docker
/// CLI runs plugins) as `docker trust sign …`. `None`: not called as it.
pub fn plugin_argv(argv: &[OsString]) -> Option<Vec<OsString>> {
    crate::cli::docker_plugin::plugin_argv_for(argv, "trust")
}

/// `docker trust`, as vouch answers it.
#[derive(Debug, clap::Parser)]
#[command(
    name = "docker trust",
    version,
    max_term_width = 100,
    arg_required_else_help = true,
    about = "Manage trust on Docker images (vouch: trust data in the registry, no Notary server)"
)]
pub struct TrustCli {
    #[command(flatten)]
    pub global: super::GlobalArgs,
    #[command(subcommand)]
    pub command: TrustCommand,
}

/// The `docker trust` commands.
#[derive(Debug, clap::Subcommand)]
pub enum TrustCommand {
    /// Sign an image (pushing it first if the registry lacks the tag)
    Sign {
        /// IMAGE:TAG
        image: String,
        /// Accepted for compatibility: vouch signs the tag the registry holds
        #[arg(long)]
        local: bool,
    },
    /// Return low-level information about keys and signatures
    Inspect {
        /// IMAGE[:TAG]…
        #[arg(required = true)]
        images: Vec<String>,
        /// Print the information in a human friendly format
        #[arg(long)]
        pretty: bool,
    },
    /// Remove trust for an image
    Revoke {
        /// IMAGE[:TAG]
        image: String,
        /// Do not prompt for confirmation
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Manage entities who can sign Docker images
    #[command(subcommand)]
    Signer(SignerCommand),
    /// Manage keys for signing Docker images
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum SignerCommand {
    /// Add a signer
    Add {
        /// Path to the signer's public key file
        #[arg(long, required = true, value_name = "FILE")]
        key: Vec<PathBuf>,
        /// The signer's name
        name: String,
        /// Repositories (REPOSITORY…)
        #[arg(required = true)]
        repositories: Vec<String>,
    },
    /// Remove a signer
    Remove {
        /// Accepted for compatibility (vouch keeps what the signer signed
        /// verifying through the other signers and the repository key)
        #[arg(short, long)]
        force: bool,
        /// The signer's name
        name: String,
        /// Repositories (REPOSITORY…)
        #[arg(required = true)]
        repositories: Vec<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Generate and load a signing key-pair
    Generate {
        /// The key's name
        name: String,
        /// Directory to generate the public key in (default: the current one)
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Load a private key file for signing
    Load {
        /// The key file (PEM)
        keyfile: PathBuf,
        /// Name for the loaded key
        #[arg(long, default_value = "signer")]
        name: String,
    },
}

/// Writes Docker's lines to stdout (a closed pipe ends them quietly).
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
}

/// Runs `vouch WORDS…`; a change it only staged (a signer's machine
/// without the online keys, a threshold not yet met) is not what Docker's
/// command promised, so it fails here with what to do.
fn run_vouch(words: &[&str], ctx: &Context) -> Result<(), CliError> {
    let _ = output::take_captured();
    dispatch(vouch_command(words)?, ctx)?;
    staged_is_failure(&output::take_captured())
}

fn staged_is_failure(printed: &str) -> Result<(), CliError> {
    match printed.lines().find_map(|l| l.strip_prefix("staged ")) {
        None => Ok(()),
        Some(id) => Err(CliError::failed(
            format!(
                "the change was staged ({}), not published",
                &id[..id.len().min(12)]
            ),
            "`vouch staged REPO` lists it: co-signers approve it, or a holder of the snapshot and timestamp \
             keys publishes it (`vouch publish REPO`)",
        )),
    }
}

/// A key name for `docker trust key`: Docker's keys are signer keys, so
/// the names of the repository's own roles are refused.
fn signer_key_name(name: &str) -> Result<(), CliError> {
    if ["root", "targets", "snapshot", "timestamp", "releases"].contains(&name) {
        return Err(CliError::failed(
            format!("{name:?} names a repository role, not a signer"),
            "choose the signer's name (docker trust keys are signer keys)",
        ));
    }
    Ok(())
}

/// A repository as docker names it (`alpine` is `docker.io/library/alpine`),
/// as vouch writes it.
fn docker_ref(image: &str) -> Result<ImageRef, CliError> {
    ImageRef::parse_docker(image).map_err(|e| {
        CliError::failed(
            e.to_string(),
            "give IMAGE[:TAG], as for docker trust (Docker Hub names such as alpine:3 included)",
        )
    })
}

pub fn run(command: TrustCommand, ctx: &Context) -> Result<(), CliError> {
    // vouch's own stdout (ids, digests) gives way to Docker's lines.
    output::quiet();
    match command {
        TrustCommand::Sign { image, .. } => sign(&image, ctx),
        TrustCommand::Inspect { images, pretty } => inspect(&images, pretty, ctx),
        TrustCommand::Revoke { image, yes } => revoke(&image, yes, ctx),
        TrustCommand::Signer(SignerCommand::Add {
            key,
            name,
            repositories,
        }) => signer_add(&key, &name, &repositories, ctx),
        TrustCommand::Signer(SignerCommand::Remove {
            name, repositories, ..
        }) => {
            for repo in &repositories {
                let r = docker_ref(repo)?;
                say(&format!("Removing signer \"{name}\" from {repo}..."));
                run_vouch(&["signer", "remove", "--", &name, &r.repository()], ctx)?;
                say(&format!("Successfully removed {name} from {repo}"));
            }
            Ok(())
        }
        TrustCommand::Key(KeyCommand::Generate { name, dir }) => {
            signer_key_name(&name)?;
            let dir = dir.unwrap_or_else(|| PathBuf::from("."));
            let public = dir.join(format!("{name}.pub"));
            let public_str = public.to_string_lossy().into_owned();
            say(&format!("Generating key for {name}..."));
            run_vouch(
                &["key", "generate", "--public-out", &public_str, "--", &name],
                ctx,
            )?;
            say(&format!(
                "Successfully generated and loaded private key. Corresponding public key available: {}",
                std::path::absolute(&public).unwrap_or(public).display()
            ));
            Ok(())
        }
        TrustCommand::Key(KeyCommand::Load { keyfile, name }) => {
            signer_key_name(&name)?;
            let file = keyfile.to_string_lossy().into_owned();
            say(&format!("Loading key from \"{file}\"..."));
            run_vouch(
                &["key", "import", "--name", &name, "--role", &name, "--", &file],
                ctx,
            )?;
            say(&format!("Successfully imported key from {file}"));
            Ok(())
        }
    }
}

/// `docker trust sign IMAGE:TAG`: the repository is initialised if it has
/// no trust data yet; an image the docker daemon holds is pushed first, as
/// Docker did, and exactly the digest pushed is signed (a tag moved in the
/// registry meanwhile is refused); otherwise the registry's tag is signed.
fn sign(image: &str, ctx: &Context) -> Result<(), CliError> {
    let r = docker_ref(image)?;
    let Some(tag) = r.tag.clone() else {
        return Err(CliError::failed(
            format!("{image} names no tag"),
            "give IMAGE:TAG: docker trust signs a tag",
        ));
    };
    let repo = r.repository();
    let store = open_store(ctx, &r, false)?;
    init_if_new(store.as_ref(), &repo, &repo, ctx)?;
    let pushed = if crate::cli::docker_plugin::docker_succeeds(&["image", "inspect", image]) {
        say(&format!(
            "Signing and pushing trust data for local image {image}, may overwrite remote trust data"
        ));
        Some(crate::cli::docker_plugin::docker_push(image)?)
    } else {
        None
    };
    say("Signing and pushing trust metadata");
    let mut provider = crate::cli::prompt::Provider::new(Default::default(), ctx.interactive);
    let tags = [tag.clone()];
    let printed =
        crate::cli::sign::sign_with(ctx, &mut provider, store.as_ref(), &repo, &[], false, |store| {
            let found = crate::trust::targets::resolve(store, &repo, &tags, false, &mut |_| {})?;
            match (&pushed, found.first()) {
                (Some(want), Some((_, got, _))) if got != want => {
                    Err(crate::trust::TrustError::DigestMismatch {
                        repo: repo.clone(),
                        tag: tag.clone(),
                        current: got.clone(),
                        trusted: want.clone(),
                    })
                }
                _ => Ok(found),
            }
        })?;
    staged_is_failure(&printed)?;
    say(&format!("Successfully signed {image}"));
    Ok(())
}

/// Initialises repository `id` (shown as `shown`) when it has no trust
/// data yet, as Docker did before its first signature.
fn init_if_new(
    store: &dyn crate::store::Store,
    id: &str,
    shown: &str,
    ctx: &Context,
) -> Result<(), CliError> {
    if crate::store::artifact::read(store)?.is_none() {
        say(&format!("Initializing signed repository for {shown}..."));
        run_vouch(&["init", "--", id], ctx)?;
    }
    Ok(())
}

fn revoke(image: &str, yes: bool, ctx: &Context) -> Result<(), CliError> {
    let r = docker_ref(image)?;
    let repo = r.repository();
    match &r.tag {
        Some(tag) => run_vouch(&["revoke", "--", &format!("{repo}:{tag}")], ctx)?,
        None => {
            if !yes
                && !confirm(&format!(
                    "Confirm you would like to delete all signature data for {image}? [y/N] "
                ))?
            {
                say("Aborting action.");
                return Ok(());
            }
            run_vouch(&["revoke", "--all", "--", &repo], ctx)?;
        }
    }
    say(&format!("Successfully deleted signature for {image}"));
    Ok(())
}

/// Asks on the terminal; without one, the answer is no.
fn confirm(question: &str) -> Result<bool, CliError> {
    if !crate::cli::prompt::terminal_available() {
        return Err(CliError::failed(
            "revoking every tag needs confirmation, and there is no terminal to ask on",
            "pass -y",
        ));
    }
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| CliError::failed(format!("opening the terminal: {e}"), "pass -y"))?;
    let _ = tty.write_all(question.as_bytes());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(&mut tty), &mut line)
        .map_err(|e| CliError::failed(format!("reading the terminal: {e}"), "pass -y"))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

fn signer_add(keys: &[PathBuf], name: &str, repositories: &[String], ctx: &Context) -> Result<(), CliError> {
    if keys.len() != 1 {
        return Err(CliError::failed(
            "vouch takes one key per signer here",
            "give one --key; add another key with `vouch signer add` under another name",
        ));
    }
    let key = keys[0].to_string_lossy().into_owned();
    for repo in repositories {
        let r = docker_ref(repo)?;
        let id = r.repository();
        say(&format!("Adding signer \"{name}\" to {repo}..."));
        let store = open_store(ctx, &r, false)?;
        init_if_new(store.as_ref(), &id, repo, ctx)?;
        run_vouch(&["signer", "add", "--key", &key, "--", name, &id], ctx)?;
        say(&format!("Successfully added signer: {name} to {repo}"));
    }
    Ok(())
}

fn inspect(images: &[String], pretty: bool, ctx: &Context) -> Result<(), CliError> {
    let mut all = Vec::new();
    let mut text = String::new();
    for image in images {
        let r = docker_ref(image)?;
        let store = open_store(ctx, &r, false)?;
        let mut reader = crate::trust::Reader::open(&trust(ctx), &r.repository(), store.as_ref(), false)?;
        let listing = reader.listing()?;
        let shown = crate::trust::listing::docker_view(&listing, r.tag.as_deref());
        if pretty {
            text.push_str(&pretty_view(image, &shown));
        }
        all.push(serde_json::json!({
            "Name": image,
            "SignedTags": shown.tags.iter().map(|t| serde_json::json!({
                "SignedTag": t.tag,
                "Digest": t.digest.trim_start_matches("sha256:"),
                "Signers": t.signers,
            })).collect::<Vec<_>>(),
            "Signers": shown.signers.iter().map(|(n, ids)| serde_json::json!({
                "Name": n,
                "Keys": ids.iter().map(|id| serde_json::json!({"ID": id})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "AdministrativeKeys": [
                {"Name": "Root", "Keys": shown.root.iter().map(|id| serde_json::json!({"ID": id})).collect::<Vec<_>>()},
                {"Name": "Repository", "Keys": shown.repository.iter().map(|id| serde_json::json!({"ID": id})).collect::<Vec<_>>()},
            ],
        }));
    }
    if pretty {
        say(text.trim_end());
        return Ok(());
    }
    let json =
        serde_json::to_string_pretty(&all).map_err(|e| CliError::bug(format!("encoding JSON: {e}")))?;
    say(&json);
    Ok(())
}

/// `docker trust inspect --pretty`'s layout.
fn pretty_view(image: &str, v: &crate::trust::listing::DockerView) -> String {
    let mut out = String::new();
    if v.tags.is_empty() {
        out.push_str(&format!("\nNo signatures for {image}\n\n"));
    } else {
        out.push_str(&format!("\nSignatures for {image}\n\n"));
        out.push_str(&format!("{:<16}{:<68}{}\n", "SIGNED TAG", "DIGEST", "SIGNERS"));
        for t in &v.tags {
            out.push_str(&format!(
                "{:<16}{:<68}{}\n",
                t.tag,
                t.digest.trim_start_matches("sha256:"),
                t.signers.join(", ")
            ));
        }
    }
    if !v.signers.is_empty() {
        out.push_str(&format!("\nList of signers and their keys for {image}\n\n"));
        out.push_str(&format!("{:<16}{}\n", "SIGNER", "KEYS"));
        for (name, ids) in &v.signers {
            let short: Vec<&str> = ids.iter().map(|i| &i[..i.len().min(12)]).collect();
            out.push_str(&format!("{name:<16}{}\n", short.join(", ")));
        }
    }
    out.push_str(&format!("\nAdministrative keys for {image}\n\n"));
    out.push_str(&format!("  Repository Key:\t{}\n", v.repository.join(", ")));
    out.push_str(&format!("  Root Key:\t{}\n", v.root.join(", ")));
    out
}
