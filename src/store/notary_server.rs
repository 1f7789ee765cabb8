//! A Notary v1 server, read-only: `GET /v2/<GUN>/_trust/tuf/<name>.json`,
//! where `name` is `root`, `N.root`, `timestamp`, or a content-addressed
//! `<role>.<sha256 hex>` as the notary client fetches them. HTTPS only,
//! as Docker required; the server's CA comes from Docker's
//! `$DOCKER_CONFIG/tls/<host:port>/ca.crt` (and the system roots). Like
//! the docker CLI, a loopback server for a GUN on a loopback registry does
//! not need the CA. A `Bearer` challenge (notary.docker.io, Harbor) is
//! answered with a token from its realm, with the registry's credentials
//! from Docker's configuration. Bodies are read against their limit as
//! they arrive.

use std::io::Read;
use std::time::Duration;

use super::fetch::{FetchError, FetchErrorKind, Fetcher};

/// The trust server of one GUN.
#[derive(Debug)]
pub struct NotaryServer {
    client: reqwest::blocking::Client,
    base: String,
    gun: String,
    registry: String,
    /// The `Authorization` value once a challenge was answered.
    authorization: Option<reqwest::header::HeaderValue>,
}

/// Largest token answer read.
const MAX_TOKEN: u64 = 64 << 10;

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
    /// The server at `url` (`https://host[:port]`) for `gun`, whose registry
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
        let ca =
            crate::store::auth::docker_config_dir().map(|d| d.join("tls").join(&hostport).join("ca.crt"));
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
            _ if super::registry::is_loopback(registry) && super::registry::is_loopback(&hostport) => {
                // As the docker CLI: a GUN on 127.0.0.0/8 skips the trust
                // server's certificate check; vouch also requires the
                // server to be on this machine. The metadata is verified
                // by its signatures either way.
                builder = builder.danger_accept_invalid_certs(true);
            }
            _ => {}
        }
        let client = builder.build().map_err(|e| bad(e.to_string()))?;
        Ok(NotaryServer {
            client,
            base: url.trim_end_matches('/').to_owned(),
            gun: gun.to_owned(),
            registry: registry.to_owned(),
            authorization: None,
        })
    }

    /// The `Authorization` value that answers a `WWW-Authenticate`
    /// challenge, or why there is none.
    fn answer(&self, challenge: &str) -> Result<reqwest::header::HeaderValue, String> {
        use super::registry::{Challenge, TokenAnswer};
        let credentials = crate::store::auth::for_registry(&self.registry).map_err(|e| e.to_string())?;
        match Challenge::parse(challenge) {
            Challenge::Basic => credentials.basic_header().ok_or_else(|| {
                "the server asks for credentials and none are configured (docker login)".to_owned()
            }),
            Challenge::Bearer { realm, service } => {
                let url = reqwest::Url::parse(&realm)
                    .map_err(|_| format!("the token service {realm:?} is not a URL"))?;
                if url.scheme() != "https" && !url.host_str().is_some_and(super::registry::is_loopback) {
                    return Err(format!(
                        "the token service {realm} is not HTTPS; vouch does not send credentials there"
                    ));
                }
                let mut request = self
                    .client
                    .get(url)
                    .query(&[("scope", format!("repository:{}:pull", self.gun))]);
                if let Some(service) = &service {
                    request = request.query(&[("service", service)]);
                }
                if let Some(basic) = credentials.basic_header() {
                    request = request.header(reqwest::header::AUTHORIZATION, basic);
                }
                let response = request
                    .send()
                    .map_err(|e| format!("token from {realm}: {}", e.without_url()))?;
                if !response.status().is_success() {
                    return Err(format!(
                        "the token service {realm} answered {}",
                        response.status()
                    ));
                }
                let mut body = Vec::new();
                response
                    .take(MAX_TOKEN)
                    .read_to_end(&mut body)
                    .map_err(|e| e.to_string())?;
                let token: TokenAnswer = serde_json::from_slice(&body)
                    .map_err(|_| format!("the token service {realm} gave no token"))?;
                let token = zeroize::Zeroizing::new(token.token.or(token.access_token).unwrap_or_default());
                let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.as_str()))
                    .map_err(|_| "the token is not a valid header value".to_owned())?;
                value.set_sensitive(true);
                Ok(value)
            }
            Challenge::Other(scheme) => Err(format!("unsupported authentication scheme {scheme}")),
        }
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
        let send = |auth: Option<&reqwest::header::HeaderValue>| {
            let mut request = self.client.get(&url);
            if let Some(a) = auth {
                request = request.header(reqwest::header::AUTHORIZATION, a.clone());
            }
            request.send().map_err(|e| {
                err(
                    FetchErrorKind::Unreachable,
                    super::fetch::error_chain(&e.without_url()),
                )
            })
        };
        let mut resp = send(self.authorization.as_ref())?;
        if resp.status().as_u16() == 401 && self.authorization.is_none() {
            let challenge = resp
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let value = self.answer(&challenge).map_err(|why| {
                err(
                    FetchErrorKind::Status(401),
                    format!("authentication failed: {why}"),
                )
            })?;
            resp = send(Some(&value))?;
            self.authorization = Some(value);
        }
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
