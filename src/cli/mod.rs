//! The `vouch` command line: one module per command.

mod admission;
mod approve;
mod common;
mod completions;
mod containerd_verifier;
mod deny;
mod docker_plugin;
mod docker_trust;
mod duration;
pub mod error;
mod init;
mod inspect;
mod key;
pub(crate) mod man;
mod migrate;
mod output;
mod pin;
mod policy;
mod progress;
mod prompt;
mod proxy;
mod proxy_config;
mod publish;
mod pull;
mod push;
mod recover;
mod refresh;
mod renew;
mod resolve;
mod revoke;
mod root;
mod sign;
mod signer;
mod staged;
mod tuf;
mod verify;
mod withdraw;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use error::{CliError, Failure};
use vouch_keys::TrustDir;

/// Content trust for OCI images: sign what a tag means, verify it before you deploy.
#[derive(Debug, Parser)]
#[command(name = "vouch", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Trust directory holding keys and trust data [default: ~/.vouch]
    #[arg(long, global = true, env = "VOUCH_TRUST_DIR", value_name = "DIR")]
    pub trust_dir: Option<PathBuf>,

    /// Never prompt on the terminal; fail instead when a passphrase or a
    /// confirmation is needed and no other source gives it
    #[arg(long, global = true, env = "VOUCH_NON_INTERACTIVE", value_parser = clap::builder::BoolishValueParser::new())]
    pub non_interactive: bool,
}

/// `--offline`, on the commands that only read trust data.
#[derive(Debug, Args)]
pub struct OfflineArg {
    /// Verify from cached trust data only: no network at all (a tag's
    /// current manifest is then not checked; deploy by the printed digest)
    #[arg(long)]
    pub offline: bool,
}

impl Command {
    /// Whether the command reads from cached trust data only.
    fn offline(&self) -> bool {
        match self {
            Command::Verify(a) => a.offline.offline,
            Command::Resolve(a) => a.offline.offline,
            Command::Inspect(a) => a.offline.offline,
            _ => false,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a repository's keys and trust data, and pin its root
    Init(init::Args),
    /// Sign what tags mean (tag -> manifest digest)
    Sign(sign::Args),
    /// Verify tags or digests against their repository's trust data
    Verify(verify::Args),
    /// Print REPO@sha256:… for a tag, from verified trust data
    Resolve(resolve::Args),
    /// Show signed tags, signers, role keys, thresholds and expiries
    Inspect(inspect::Args),
    /// Pin a repository to its root key ids
    Pin(pin::Args),
    /// The policy without editing TOML: list pins and levels, set a level, unpin
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Never accept these root key ids again, under any pin (lost or stolen root keys)
    Deny(deny::Args),
    /// The gate: verify, then copy an image by its signed digest into an OCI
    /// layout (enforcing unless VOUCH_CONTENT_TRUST=0)
    Pull(pull::Args),
    /// Copy an image from an OCI layout to a registry, then sign it
    Push(push::Args),
    /// A verifying registry front: clients pull through it, only what is signed
    Proxy(proxy::Args),
    /// Write or check podman, containerd or Docker configuration for `vouch proxy`
    ProxyConfig(proxy_config::Args),
    /// A Kubernetes admission webhook: admit only workloads whose images are signed
    Admission(admission::Args),
    /// containerd's image verifier (containerd >= 2.0 image-verifier bin_dir)
    ContainerdVerifier(containerd_verifier::Args),
    /// `docker vouch`: install the Docker CLI plugin; pull as it does
    #[command(subcommand, name = "docker-plugin")]
    DockerPlugin(docker_plugin::DockerCommand),
    /// List staged changes: what each changes, who signed, what it needs
    Staged(staged::Args),
    /// Approve a staged change: sign exactly what it changes
    Approve(approve::Args),
    /// Withdraw a staged change
    Withdraw(withdraw::Args),
    /// Publish the staged changes a threshold has signed (snapshot, timestamp keys)
    Publish(publish::Args),
    /// Re-sign the timestamp (and snapshot when needed); publish complete staged changes
    Refresh(refresh::Args),
    /// Remove a tag's signature, or every tag's with --all
    Revoke(revoke::Args),
    /// Change the root: add or remove root keys, threshold, expiry (a ceremony)
    Root(root::Args),
    /// Re-sign roles that expire soon or have expired (root, targets, a signer's role)
    Renew(renew::Args),
    /// Republish the trust data last verified here, after it was tampered with
    Recover(recover::Args),
    /// Move Docker Content Trust (Notary v1) data into vouch trust data, keeping the root key
    Migrate(migrate::Args),
    /// Add or remove signers, or change their threshold (delegated roles)
    #[command(subcommand)]
    Signer(signer::SignerCommand),
    /// Manage signing keys: generate, import, list, export, change passphrase
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// A TUF client for standard repositories: init, refresh, download
    #[command(subcommand)]
    Tuf(tuf::TufCommand),
    /// Print a shell completion script
    Completions(completions::Args),
    /// Write the man pages
    Man(man::Args),
}

/// What every command receives besides its own arguments.
#[derive(Debug)]
pub struct Context {
    /// The trust directory.
    pub trust_dir: TrustDir,
    /// Whether prompting on a terminal is allowed.
    pub interactive: bool,
    /// Use cached trust data only.
    pub offline: bool,
}

impl GlobalArgs {
    fn context(&self, offline: bool) -> Result<Context, CliError> {
        let dir = match &self.trust_dir {
            Some(d) => d.clone(),
            None => {
                let home = std::env::var_os("HOME")
                    .filter(|h| !h.is_empty())
                    .ok_or_else(|| {
                        CliError::failed(
                            "cannot find the default trust directory: HOME is not set",
                            "pass --trust-dir DIR or set VOUCH_TRUST_DIR",
                        )
                    })?;
                PathBuf::from(home).join(".vouch")
            }
        };
        Ok(Context {
            trust_dir: TrustDir::at(dir),
            interactive: !self.non_interactive,
            offline,
        })
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "docker-cli-plugin-metadata") {
        let trust = docker_trust::plugin_argv(&argv).is_some();
        if trust || docker_plugin::plugin_argv(&argv).is_some() {
            println!("{}", docker_plugin::metadata(trust));
            return ExitCode::SUCCESS;
        }
    }
    if let Some(plugin) = docker_plugin::plugin_argv(&argv) {
        use clap::Parser as _;
        let parsed = docker_plugin::PluginCli::parse_from(&plugin);
        match parsed.command {
            docker_plugin::PluginCommand::Pull(a) => {
                let result = parsed
                    .global
                    .context(false)
                    .and_then(|ctx| docker_plugin::pull(a, &ctx));
                return finish(result);
            }
            // Parsed again as vouch's own, options before the command included.
            docker_plugin::PluginCommand::Other(_) => argv = plugin,
        }
    } else if argv
        .first()
        .is_some_and(|a| containerd_verifier::called_as_verifier(a))
    {
        argv.insert(1, "containerd-verifier".into());
    }
    if let Some(trust) = docker_trust::plugin_argv(&argv) {
        use clap::Parser as _;
        let parsed = docker_trust::TrustCli::parse_from(&trust);
        let result = parsed
            .global
            .context(false)
            .and_then(|ctx| docker_trust::run(parsed.command, &ctx));
        return finish(result);
    }
    let cli = Cli::parse_from(argv);
    let offline = cli.command.offline();
    let result = cli
        .global
        .context(offline)
        .and_then(|ctx| dispatch(cli.command, &ctx));
    finish(result)
}

/// Runs one parsed command.
fn dispatch(command: Command, ctx: &Context) -> Result<(), CliError> {
    match command {
        Command::Init(a) => init::run(a, ctx),
        Command::Sign(a) => sign::run(a, ctx),
        Command::Verify(a) => verify::run(a, ctx),
        Command::Resolve(a) => resolve::run(a, ctx),
        Command::Inspect(a) => inspect::run(a, ctx),
        Command::Pin(a) => pin::run(a, ctx),
        Command::Deny(a) => deny::run(a, ctx),
        Command::Policy(cmd) => policy::run(cmd, ctx),
        Command::Pull(a) => pull::run(a, ctx),
        Command::Push(a) => push::run(a, ctx),
        Command::Proxy(a) => proxy::run(a, ctx),
        Command::ProxyConfig(a) => proxy_config::run(a, ctx),
        Command::Admission(a) => admission::run(a, ctx),
        Command::ContainerdVerifier(a) => containerd_verifier::run(a, ctx),
        Command::DockerPlugin(cmd) => docker_plugin::run(cmd, ctx),
        Command::Staged(a) => staged::run(a, ctx),
        Command::Approve(a) => approve::run(a, ctx),
        Command::Withdraw(a) => withdraw::run(a, ctx),
        Command::Publish(a) => publish::run(a, ctx),
        Command::Refresh(a) => refresh::run(a, ctx),
        Command::Revoke(a) => revoke::run(a, ctx),
        Command::Root(a) => root::run(a, ctx),
        Command::Renew(a) => renew::run(a, ctx),
        Command::Recover(a) => recover::run(a, ctx),
        Command::Migrate(a) => migrate::run(a, ctx),
        Command::Signer(cmd) => signer::run(cmd, ctx),
        Command::Key(cmd) => key::run(cmd, ctx),
        Command::Tuf(cmd) => tuf::run(cmd),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}

/// `vouch WORDS…` parsed as vouch's own command line (for the `docker
/// trust` plugin, which maps Docker's commands onto vouch's).
fn vouch_command(words: &[&str]) -> Result<Command, CliError> {
    use clap::Parser as _;
    let argv = std::iter::once("vouch").chain(words.iter().copied());
    Cli::try_parse_from(argv)
        .map(|cli| cli.command)
        .map_err(|e| CliError::failed(e.to_string().trim().to_owned(), "see `docker trust --help`"))
}

fn finish(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    }
}
