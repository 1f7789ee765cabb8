//! `vouch docker-plugin install|pull`: `docker vouch`, a Docker CLI plugin.
//!
//! Installed as `docker-vouch` in the CLI's plugin directory (a symlink to
//! this executable), it answers the CLI's metadata call; `docker vouch pull
//! IMAGE:TAG` verifies, pulls `IMAGE@DIGEST` and tags it, as
//! `DOCKER_CONTENT_TRUST=1 docker pull` did; `docker vouch sign|verify|…`
//! are the vouch commands.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cli::common::{open_store, trust};
use crate::cli::{CliError, Context};
use crate::reference::ImageRef;
use crate::trust::gate::{Admission, TagRule, admit};

/// `docker vouch`: install the Docker CLI plugin, or pull as it does
#[derive(Debug, clap::Subcommand)]
pub enum DockerCommand {
    /// Put `docker-vouch` in the Docker CLI's plugin directory
    /// ($DOCKER_CONFIG/cli-plugins, else ~/.docker/cli-plugins)
    Install(InstallArgs),
    /// Verify IMAGE:TAG, pull IMAGE@DIGEST through the docker CLI and tag
    /// it IMAGE:TAG (`docker vouch pull`); a refused pull exits 1 and pulls
    /// nothing. Enforcing unless VOUCH_CONTENT_TRUST / DOCKER_CONTENT_TRUST
    /// set audit or off.
    Pull(PullArgs),
}

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The plugin directory
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Install as `docker vouch` (default), or as `docker trust` for
    /// docker 29, which dropped it (`docker trust sign|inspect|revoke|signer|key`
    /// mapped onto vouch); a `docker-trust` plugin already there is never replaced
    #[arg(long = "as", value_name = "NAME", default_value = "vouch", value_parser = ["vouch", "trust"])]
    pub name: String,
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// An image as docker names it: IMAGE:TAG (Docker Hub names such as
    /// alpine:3 included) or IMAGE@sha256:…
    pub image: String,
}

pub fn run(cmd: DockerCommand, ctx: &Context) -> Result<(), CliError> {
    match cmd {
        DockerCommand::Install(a) => install(a),
        DockerCommand::Pull(a) => pull(a, ctx),
    }
}

/// What the docker CLI asks a plugin before it lists or runs it; `trust`
/// for the `docker trust` plugin.
pub fn metadata(trust: bool) -> String {
    let about = match trust {
        true => "Manage trust on Docker images (vouch)",
        false => "Content trust: sign image tags, verify before pull",
    };
    serde_json::json!({
        "SchemaVersion": "0.1.0",
        "Vendor": "vouch",
        "Version": env!("CARGO_PKG_VERSION"),
        "ShortDescription": about,
    })
    .to_string()
}

/// The plugin's own command line (`docker-vouch vouch pull …`, as the
/// docker CLI runs plugins) as `docker vouch pull …`, its first word the
/// name users typed. `None`: not called as the plugin.
pub fn plugin_argv(argv: &[OsString]) -> Option<Vec<OsString>> {
    plugin_argv_for(argv, "vouch")
}

/// A docker CLI plugin's command line (`docker-NAME NAME ARGS…`, as the
/// CLI runs plugins) as `docker NAME ARGS…`; `None` when the executable
/// is not called `docker-NAME`.
pub fn plugin_argv_for(argv: &[OsString], name: &str) -> Option<Vec<OsString>> {
    let called = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| *n == *format!("docker-{name}"));
    if !called {
        return None;
    }
    let mut rest: Vec<OsString> = argv.iter().skip(1).cloned().collect();
    if rest.first().is_some_and(|a| a == name) {
        rest.remove(0);
    }
    let mut out = vec![OsString::from(format!("docker {name}"))];
    out.extend(rest);
    Some(out)
}

/// `docker vouch`: the docker CLI plugin's own commands.
#[derive(Debug, clap::Parser)]
#[command(
    name = "docker vouch",
    version,
    max_term_width = 100,
    arg_required_else_help = true,
    after_help = "Every other vouch command runs as `docker vouch COMMAND` too (`docker vouch verify IMAGE:TAG`, `docker vouch sign IMAGE:TAG`, …): see `vouch --help`."
)]
pub struct PluginCli {
    #[command(flatten)]
    pub global: super::GlobalArgs,
    #[command(subcommand)]
    pub command: PluginCommand,
}

/// What `docker vouch` runs.
#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// Verify IMAGE:TAG, pull IMAGE@DIGEST through the docker CLI and tag
    /// it IMAGE:TAG; a refused pull exits 1 and pulls nothing. Enforcing
    /// unless VOUCH_CONTENT_TRUST / DOCKER_CONTENT_TRUST set audit or off.
    Pull(PullArgs),
    /// Any other vouch command (its words are parsed again with the whole
    /// line, as vouch's own).
    #[command(external_subcommand)]
    Other(#[allow(dead_code)] Vec<OsString>),
}

fn plugin_dir(given: Option<PathBuf>) -> Result<PathBuf, CliError> {
    if let Some(d) = given {
        return Ok(d);
    }
    if let Some(c) = std::env::var_os("DOCKER_CONFIG").filter(|c| !c.is_empty()) {
        return Ok(PathBuf::from(c).join("cli-plugins"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| CliError::failed("HOME is not set", "give --dir DIR"))?;
    Ok(PathBuf::from(home).join(".docker/cli-plugins"))
}

fn install(args: InstallArgs) -> Result<(), CliError> {
    let dir = plugin_dir(args.dir)?;
    let io = |what: &str, p: &Path, e: std::io::Error| {
        CliError::failed(
            format!("{what} {}: {e}", p.display()),
            "check the directory and its permissions",
        )
    };
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| io("finding this executable", Path::new("vouch"), e))?;
    std::fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, e))?;
    let plugin = format!("docker-{}", args.name);
    let target = dir.join(&plugin);
    // Another tool's `docker-trust` stays: only vouch's own is replaced.
    if args.name == "trust"
        && target.symlink_metadata().is_ok()
        && std::fs::canonicalize(&target).ok().as_deref() != Some(exe.as_path())
    {
        return Err(CliError::failed(
            format!("{} is already installed, and is not vouch", target.display()),
            "vouch leaves it; remove it yourself to install vouch as `docker trust`, or use `docker vouch`",
        ));
    }
    // Replace atomically: a symlink under a temporary name, renamed over.
    // A random name, created exclusively (symlink never replaces a name).
    let temp = dir.join(format!(".{plugin}.{}", crate::store::safe_dir::random_suffix()));
    std::os::unix::fs::symlink(&exe, &temp).map_err(|e| io("linking", &temp, e))?;
    if let Err(e) = std::fs::rename(&temp, &target) {
        let _ = std::fs::remove_file(&temp);
        return Err(io("placing", &target, e));
    }
    let try_it = match args.name.as_str() {
        "trust" => "docker trust sign IMAGE:TAG",
        _ => "docker vouch pull IMAGE:TAG",
    };
    eprintln!(
        "Installed {} -> {}; try `{try_it}`",
        target.display(),
        exe.display()
    );
    Ok(())
}

/// The docker CLI that ran the plugin (it tells plugins), else `docker`.
fn docker_cli() -> OsString {
    std::env::var_os("DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND")
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "docker".into())
}

/// Whether `docker ARGS` succeeds (its output discarded).
pub fn docker_succeeds(args: &[&str]) -> bool {
    Command::new(docker_cli())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `docker push IMAGE`, its output passed on; the digest it pushed.
pub fn docker_push(image: &str) -> Result<String, CliError> {
    let out = Command::new(docker_cli())
        .args(["push", image])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| CliError::failed(format!("running docker: {e}"), "install the docker CLI"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
    }
    if !out.status.success() {
        return Err(CliError::failed(
            format!("docker push {image} failed ({})", out.status),
            "see docker's message above",
        ));
    }
    // "TAG: digest: sha256:… size: N", the last line of a push.
    text.split_whitespace()
        .skip_while(|w| *w != "digest:")
        .nth(1)
        .filter(|d| d.starts_with("sha256:"))
        .map(str::to_owned)
        .ok_or_else(|| {
            CliError::failed(
                format!("docker push {image} did not say which digest it pushed"),
                "push the image with docker, then run `docker trust sign` again",
            )
        })
}

pub fn docker(args: &[&str]) -> Result<(), CliError> {
    let status = Command::new(docker_cli())
        .args(args)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| CliError::failed(format!("running docker: {e}"), "install the docker CLI"))?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::failed(
            format!("docker {} failed ({status})", args.join(" ")),
            "see docker's message above",
        ))
    }
}

/// The image's name as the user wrote it, without tag or digest.
fn bare_name(image: &str) -> &str {
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rfind('/').map_or(0, |i| i + 1);
    match name[last..].rfind(':') {
        Some(i) => &name[..last + i],
        None => name,
    }
}

pub fn pull(args: PullArgs, ctx: &Context) -> Result<(), CliError> {
    let r = ImageRef::parse_docker(&args.image).map_err(|e| {
        CliError::failed(
            e.to_string(),
            "give IMAGE:TAG or IMAGE@sha256:…, as for docker pull",
        )
    })?;
    if r.tag.is_none() && r.digest.is_none() {
        return Err(CliError::failed(
            format!("{} names no tag", args.image),
            "give IMAGE:TAG (docker would pull :latest; vouch verifies only what you name)",
        ));
    }
    let env = crate::cli::common::gate_level()?;
    let store = open_store(ctx, &r, false)?;
    let name = bare_name(&args.image);
    match admit(&trust(ctx), &r, store.as_ref(), env, TagRule::SignedDigest, false)? {
        Admission::Verified(v) => {
            eprintln!("Verified {r} ({}): pulling {name}@{}", v.how, v.digest);
            if let Some(tag) = &r.tag
                && let Ok(Some(now)) = store.head(tag)
                && now != v.digest
            {
                eprintln!(
                    "warning: the registry's {tag} points at {now}; pulling the signed {}",
                    v.digest
                );
            }
            let pinned = format!("{name}@{}", v.digest);
            docker(&["pull", &pinned])?;
            if let Some(tag) = &r.tag {
                docker(&["tag", &pinned, &format!("{name}:{tag}")])?;
                eprintln!("Tagged {name}:{tag} ({})", v.digest);
            }
            Ok(())
        }
        Admission::Audited(e) => {
            eprintln!(
                "warning: {e} (content trust in audit mode: pulling {} anyway)",
                args.image
            );
            docker(&["pull", &args.image])
        }
        Admission::Unchecked => docker(&["pull", &args.image]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_the_plugin_argv() {
        let argv: Vec<OsString> = ["/x/docker-vouch", "vouch", "pull", "a:1"]
            .iter()
            .map(OsString::from)
            .collect();
        let out = plugin_argv(&argv).expect("plugin");
        assert_eq!(out, [OsString::from("docker vouch"), "pull".into(), "a:1".into()]);
        assert!(plugin_argv(&[OsString::from("vouch"), "pull".into()]).is_none());
    }

    #[test]
    fn bare_names() {
        assert_eq!(bare_name("alpine:3"), "alpine");
        assert_eq!(bare_name("127.0.0.1:5000/a/b:v1"), "127.0.0.1:5000/a/b");
        assert_eq!(bare_name("127.0.0.1:5000/a/b@sha256:00"), "127.0.0.1:5000/a/b");
        assert_eq!(bare_name("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b");
    }
}
