//! `vouch proxy`: a verifying registry front, so that unchanged clients
//! (docker, podman, containerd, skopeo, buildah) pull only what trust data
//! signs. It serves the read side of the OCI distribution API and decides
//! every manifest request through the trust layer ([`crate::trust`]): a
//! tag is answered with its *signed* digest's manifest, a digest only when
//! a signed tag maps to it (or it is a platform manifest of an index it
//! admitted); blobs stream through, checked against their digest.
//!
//! Adapters only: routing ([`route`]) and HTTP ([`serve`]); the decision
//! is [`crate::serving::Decider`]'s, shared with `vouch admission`; no
//! trust rule lives here.

pub mod clients;
pub mod route;
pub mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use route::Upstream;

use crate::policy::Level;
use crate::trust::Trust;

/// How decisions are logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One line of text a decision.
    Text,
    /// JSON Lines.
    Json,
}

/// The proxy's settings.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Upstream registries (the first takes bare paths).
    pub upstreams: Vec<Upstream>,
    /// Pins, policy and the verified cache.
    pub trust: Trust,
    /// The level the environment sets (enforcing unless switched off);
    /// policy scopes may lower it.
    pub level: Level,
    /// Certificate and key (PEM) for TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Log format.
    pub log: LogFormat,
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProxyError(pub String);
