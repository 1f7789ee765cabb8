//! `vouch proxy-config CLIENT --proxy ADDR --upstream [NAME=]REGISTRY… [--write PATH | --check PATH]`

use std::path::PathBuf;

use crate::cli::{CliError, Context, output};
use crate::proxy::Upstream;
use crate::proxy::clients::{self, Client, Setup};

/// Write or check a client's configuration for `vouch proxy`, so that
/// every pull of the upstreams goes through the proxy and only through it
/// (no mirror or fallback host that would serve what vouch refuses).
/// Prints it by default; `--write` puts it in place; `--check` reads the
/// configuration in place and says what lets a pull around the proxy
/// (exit 1), or that none does (exit 0).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// podman (registries.conf: also buildah, skopeo, CRI-O), containerd
    /// (hosts.toml), or docker (hosts.toml under /etc/docker/certs.d, for
    /// the containerd image store; daemon.json's registry-mirrors is
    /// checked, never written: the engine falls back past a mirror)
    #[arg(value_enum)]
    pub client: Client,
    /// The proxy's address, as clients reach it
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:5100")]
    pub proxy: String,
    /// The proxy's upstreams, exactly as given to `vouch proxy`
    #[arg(long, value_name = "[NAME=]REGISTRY", required = true)]
    pub upstream: Vec<String>,
    /// The proxy serves HTTPS (it was started with --tls-cert)
    #[arg(long)]
    pub tls: bool,
    /// Write the configuration: podman, a file (say
    /// /etc/containers/registries.conf.d/50-vouch.conf); containerd, the
    /// certs.d folder (/etc/containerd/certs.d); docker, /etc/docker/certs.d.
    /// A file vouch did not write is never replaced
    #[arg(long, value_name = "PATH", conflicts_with = "check")]
    pub write: Option<PathBuf>,
    /// Check the configuration in place: podman, a registries.conf file or
    /// a registries.conf.d folder; containerd, the certs.d folder; docker,
    /// /etc/docker
    #[arg(long, value_name = "PATH")]
    pub check: Option<PathBuf>,
}

pub fn run(args: Args, _ctx: &Context) -> Result<(), CliError> {
    let upstreams = args
        .upstream
        .iter()
        .map(|u| Upstream::parse(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            CliError::failed(
                e,
                "give --upstream REGISTRY or --upstream NAME=REGISTRY, as to `vouch proxy`",
            )
        })?;
    crate::proxy::route::check_upstreams(&upstreams)
        .map_err(|e| CliError::failed(e, "give each upstream once, under one name"))?;
    if args.proxy.contains('/') || args.proxy.contains("://") || args.proxy.is_empty() {
        return Err(CliError::failed(
            format!("--proxy {:?} is not HOST:PORT", args.proxy),
            "give the address clients reach the proxy at, such as 127.0.0.1:5100 (--tls for HTTPS)",
        ));
    }
    let setup = Setup {
        proxy: args.proxy.clone(),
        tls: args.tls,
        upstreams,
    };
    if let Some(path) = &args.check {
        return check(args.client, &setup, path);
    }
    let files = clients::render(args.client, &setup);
    let Some(dest) = &args.write else {
        let mut out = String::new();
        for f in &files {
            if !f.path.as_os_str().is_empty() {
                out.push_str(&format!("# --- {} ---\n", f.path.display()));
            }
            out.push_str(&f.text);
        }
        return output::print(&out);
    };
    let targets: Vec<(PathBuf, &str)> = files
        .iter()
        .map(|f| {
            let path = if f.path.as_os_str().is_empty() {
                dest.clone()
            } else {
                dest.join(&f.path)
            };
            (path, f.text.as_str())
        })
        .collect();
    // Nothing is written unless every file may be.
    for (path, _) in &targets {
        if path.is_dir() {
            return Err(CliError::failed(
                format!("{} is a folder", path.display()),
                "give the file to write, such as /etc/containers/registries.conf.d/50-vouch.conf",
            ));
        }
        // Anything there (a link, a file it cannot read) is replaced only
        // when it is a file vouch wrote.
        if let Ok(meta) = path.symlink_metadata() {
            let ours =
                meta.is_file() && std::fs::read_to_string(path).is_ok_and(|t| t.starts_with(clients::MARKER));
            if !ours {
                return Err(CliError::failed(
                    format!("{} exists and vouch did not write it", path.display()),
                    "move it aside, or merge by hand what `vouch proxy-config` prints; nothing was written",
                ));
            }
        }
    }
    for (path, text) in &targets {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                CliError::failed(
                    format!("creating {}: {e}", parent.display()),
                    "check the path and its permissions",
                )
            })?;
        }
        vouch_keys::trust_dir::write_atomic(
            path,
            text.as_bytes(),
            0o644,
            vouch_keys::trust_dir::Mode::Replace,
        )
        .map_err(|e| {
            CliError::failed(
                format!("writing {}: {e}", path.display()),
                "check the path and its permissions",
            )
        })?;
        eprintln!("Wrote {}", path.display());
    }
    if args.client == Client::Docker {
        eprintln!(
            "note: the Docker engine reads certs.d with the containerd image store (docker 29's default); \
             with the classic store use `docker vouch pull`: registry-mirrors is not a gate"
        );
    }
    Ok(())
}

fn check(client: Client, setup: &Setup, path: &std::path::Path) -> Result<(), CliError> {
    let checked = clients::check(client, setup, path).map_err(|e| {
        CliError::failed(
            e.to_string(),
            "check the path; `vouch proxy-config` prints a configuration that passes",
        )
    })?;
    let found = checked.findings;
    if found.is_empty() {
        let names: Vec<&str> = setup.upstreams.iter().map(|u| u.registry.as_str()).collect();
        let read: Vec<String> = checked.read.iter().map(|p| p.display().to_string()).collect();
        eprintln!(
            "OK: in the files read ({}), every pull of {} goes through the proxy at {}, and only through it",
            read.join(", "),
            names.join(", "),
            setup.proxy
        );
        if client == Client::Podman {
            eprintln!(
                "note: a user's ~/.config/containers/registries.conf (and CONTAINERS_REGISTRIES_CONF) \
                 take precedence for that user: check those too"
            );
        }
        return Ok(());
    }
    for f in &found {
        eprintln!("{}: {}", f.file.display(), f.problem);
    }
    Err(CliError::refused(
        format!(
            "{} problem(s) in the {client:?} configuration: pulls can go around the proxy, or fail",
            found.len()
        ),
        format!(
            "`vouch proxy-config {} --upstream … --write PATH` writes one that passes",
            format!("{client:?}").to_lowercase()
        ),
    ))
}
