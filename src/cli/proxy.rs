//! `vouch proxy --upstream [NAME=]REGISTRY… [--listen ADDR]`

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::cli::common::trust;
use crate::cli::{CliError, Context};
use crate::policy::Level;
use crate::proxy::{LogFormat, ProxyConfig, Upstream};

/// Serve the read side of a registry API that pulls only what trust data
/// signs: point docker, podman, containerd or skopeo at it as a mirror.
/// A tag is answered with its signed digest's manifest (even if the
/// upstream tag moved); a digest only when a signed tag maps to it, or it
/// is a platform manifest of a signed index. A refusal is HTTP 403 with
/// vouch's reason; "could not decide" (upstream down, 5xx, auth) is 502.
/// Enforcing unless VOUCH_CONTENT_TRUST (or DOCKER_CONTENT_TRUST) switches
/// it to audit or off; policy scopes may lower it per repository.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Upstream registries: REGISTRY, or NAME=REGISTRY; /v2/NAME/REPO/…
    /// goes to NAME (default name: the registry's host), containerd's
    /// ns=REGISTRY to that registry, a bare /v2/REPO/… to the first
    #[arg(long, value_name = "[NAME=]REGISTRY", required = true)]
    pub upstream: Vec<String>,
    /// Address to listen on (a non-loopback address needs TLS)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5100")]
    pub listen: SocketAddr,
    /// TLS certificate (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// One log line per decision: text or json (JSON Lines)
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let upstreams = args
        .upstream
        .iter()
        .map(|u| Upstream::parse(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::failed(e, "give --upstream REGISTRY or --upstream NAME=REGISTRY"))?;
    let level = crate::cli::common::gate_level()?;
    if level == Level::Off {
        eprintln!(
            "warning: content trust is off (VOUCH_CONTENT_TRUST / DOCKER_CONTENT_TRUST): every pull passes"
        );
    }
    ctx.trust_dir.ensure()?;
    let config = ProxyConfig {
        listen: args.listen,
        upstreams,
        trust: crate::trust::Trust {
            notify: crate::serving::http::notice_logger(args.log_format == "json"),
            ..trust(ctx)
        },
        level,
        tls: args.tls_cert.zip(args.tls_key),
        log: if args.log_format == "json" {
            LogFormat::Json
        } else {
            LogFormat::Text
        },
    };
    crate::proxy::serve::serve(config)
        .map_err(|e| CliError::failed(e.to_string(), "check --listen, --upstream and the TLS files"))
}
