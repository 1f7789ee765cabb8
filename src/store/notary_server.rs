//! A Notary v1 server, read-only: `GET /v2/<GUN>/_trust/tuf/<name>.json`,
//! where `name` is `root`, `N.root`, `timestamp`, or a content-addressed
//! `<role>.<sha256 hex>` as the notary client fetches them. HTTPS only,
//! as Docker required; the server's CA comes from Docker's
//! `$DOCKER_CONFIG/tls/<host:port>/ca.crt` (and the system roots). Like
//! the docker CLI, a GUN on a loopback registry does not need the CA.
//! Bodies are read against their limit as they arrive.

use std::io::Read;
use std::time::Duration;

use super::fetch::{FetchError, FetchErrorKind, Fetcher};

/// The trust server of one GUN.
#[derive(Debug)]
pub struct NotaryServer {
    client: reqwest::blocking::Client,
    base: String,
    gun: String,
}

/// Why a server could not be used.
#[derive(Debug, thiserror::Error)]
#[error("Notary server {url}: {reason}")]
pub struct ServerError {
    /// The URL given.
    pub url: String,
    /// Why.
    pub reason: String,
}

/// Percent-encodes a GUN path for the URL, keeping `/`.
fn path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl NotaryServer {
    /// The server at `url` (https://host[:port]) for `gun`, whose registry
    /// host is `registry`.
    pub fn new(url: &str, gun: &str, registry: &str) -> Result<NotaryServer, ServerError> {
        let bad = |reason: String| ServerError {
            url: url.to_owned(),
            reason,
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        if parsed.scheme() != "https" {
            return Err(bad(
                "a Notary server is reached over https only, as Docker Content Trust required".to_owned(),
            ));
        }
        let host = parsed.host_str().ok_or_else(|| bad("no host".to_owned()))?;
        let hostport = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let mut builder = reqwest::blocking::Client::builder()
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60));
        let ca = crate::auth::docker_config_dir().map(|d| d.join("tls").join(&hostport).join("ca.crt"));
        match ca.as_ref().map(std::fs::read) {
            Some(Ok(pem)) => {
                let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                    bad(format!(
                        "{}: {e}",
                        ca.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
                    ))
                })?;
                builder = builder.add_root_certificate(cert);
            }
            _ if super::registry::is_loopback(registry) => {
                // As the docker CLI: a GUN on 127.0.0.0/8 skips the trust
                // server's certificate check. The metadata is verified by
                // its signatures either way.
                builder = builder.danger_accept_invalid_certs(true);
            }
            _ => {}
        }
        let client = builder.build().map_err(|e| bad(e.to_string()))?;
        Ok(NotaryServer {
            client,
            base: url.trim_end_matches('/').to_owned(),
            gun: gun.to_owned(),
        })
    }

    /// The URL of `name` (`root`, `timestamp`, `snapshot.<hex>`, …).
    fn url(&self, name: &str) -> String {
        format!(
            "{}/v2/{}/_trust/tuf/{}.json",
            self.base,
            path_segment(&self.gun),
            path_segment(name)
        )
    }
}

impl Fetcher for NotaryServer {
    /// `location` is a metadata name without `.json`.
    fn fetch(&mut self, location: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, FetchError> {
        let url = self.url(location);
        let err = |kind, detail: String| FetchError {
            location: format!("{} ({location})", self.base),
            kind,
            detail,
        };
        let resp = self.client.get(&url).send().map_err(|e| {
            let e = e.without_url();
            let mut detail = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                detail = format!("{detail}: {s}");
                source = s.source();
            }
            err(FetchErrorKind::Unreachable, detail)
        })?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            other => return Err(err(FetchErrorKind::Status(other), String::new())),
        }
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(err(FetchErrorKind::TooLarge(max_bytes), String::new()));
        }
        let mut body = Vec::new();
        resp.take(max_bytes.saturating_add(1))
            .read_to_end(&mut body)
            .map_err(|e| err(FetchErrorKind::Truncated, e.to_string()))?;
        if body.len() as u64 > max_bytes {
            return Err(err(FetchErrorKind::TooLarge(max_bytes), String::new()));
        }
        Ok(Some(body))
    }
}
