//! `vouch admission --registry HOST… --tls-cert FILE --tls-key FILE`

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::admission::{Failure, Settings};
use crate::cli::common::trust;
use crate::cli::{CliError, Context};
use crate::policy::Level;
use crate::proxy::LogFormat;

/// A Kubernetes admission webhook: admit a workload only when trust data
/// signs every image it names. POST /mutate pins each tag to its signed
/// digest (JSON Patch); POST /validate refuses what does not verify (and
/// images named only by tag); POST /gatekeeper answers Gatekeeper's
/// external data requests; GET /healthz. Enforcing unless
/// VOUCH_CONTENT_TRUST (or DOCKER_CONTENT_TRUST) switches it to audit
/// (admit, with warnings) or off; policy scopes may lower it per
/// repository. Manifests: deploy/kubernetes/.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Registries whose images it checks (host[:port]); images from any
    /// other registry are refused unless policy.toml switches them off
    #[arg(long, value_name = "HOST[:PORT]", required = true)]
    pub registry: Vec<String>,
    /// Address to listen on
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// TLS certificate (PEM): the API server calls webhooks over HTTPS
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// TLS private key (PEM)
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,
    /// Time an answer may take (the API server waits at most 10s by default)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::cli::duration::deadline)]
    pub deadline: std::time::Duration,
    /// When a registry cannot be asked in time: closed denies, open admits
    /// with a warning
    #[arg(long, value_name = "POLICY", default_value = "closed", value_parser = ["closed", "open"])]
    pub failure_policy: String,
    /// One log line per review: text or json (JSON Lines)
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let level = crate::cli::common::gate_level()?;
    if level == Level::Off {
        eprintln!(
            "warning: content trust is off (VOUCH_CONTENT_TRUST / DOCKER_CONTENT_TRUST): every workload is admitted"
        );
    }
    for r in &args.registry {
        if r.is_empty() || r.contains('/') || r.contains(char::is_whitespace) {
            return Err(CliError::failed(
                format!("{r:?} is not a registry host[:port]"),
                "give --registry ghcr.io or --registry registry.example:5000",
            ));
        }
    }
    ctx.trust_dir.ensure()?;
    let settings = Settings {
        listen: args.listen,
        registries: args.registry,
        trust: crate::trust::Trust {
            notify: crate::serving::http::notice_logger(args.log_format == "json"),
            ..trust(ctx)
        },
        level,
        tls: (args.tls_cert, args.tls_key),
        deadline: args.deadline,
        failure: if args.failure_policy == "open" {
            Failure::Open
        } else {
            Failure::Closed
        },
        log: if args.log_format == "json" {
            LogFormat::Json
        } else {
            LogFormat::Text
        },
    };
    crate::admission::serve(settings)
        .map_err(|e| CliError::failed(e.to_string(), "check --listen, --registry and the TLS files"))
}
