//! A repository in an OCI registry, spoken to over the distribution API
//! (plain HTTP for loopback hosts, HTTPS otherwise).
//!
//! Every answer that is not the one asked for is a
//! [`StoreError::Registry`] naming its cause (unreachable, an HTTP status,
//! rate limiting, authentication, a truncated body): could not decide,
//! never "unsigned". Bodies are read against a limit as they arrive, so a
//! hostile registry cannot make vouch hold more than the limit in memory.
//!
//! Authentication follows the distribution token protocol: a request goes
//! out as it is; a `401` with a `Basic` challenge is answered with the
//! configured credentials, a `Bearer` challenge by asking the named realm
//! for a token (with the credentials, if any). What was learnt is kept for
//! the rest of the process, so an anonymous registry costs no extra round
//! trip and an authenticated one costs one per access level.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use zeroize::Zeroizing;

use super::oci_layout::{Descriptor, sha256_digest};
use super::{Store, StoreError, TagExpect, media_type_of};
use crate::digest::Digest;
use crate::media_type::ACCEPT_MANIFESTS;

mod blobs;
mod challenge;
mod store_impl;
#[cfg(test)]
mod tests;

use blobs::BlobReader;
pub use blobs::CheckedBlob;
pub use challenge::Challenge;
#[cfg(test)]
use challenge::auth_params;

/// Largest answer read from a token endpoint.
const MAX_TOKEN: u64 = 1 << 20;
/// Largest error body quoted from (the rest is not read).
const MAX_ERROR_BODY: u64 = 16 << 10;
pub use super::auth::Credentials;

/// Requests in flight at once when resolving many tags.
const PARALLEL: usize = 16;
/// Pauses before each retry of a transient failure.
const RETRY_DELAYS_MS: &[u64] = &[100, 400];

/// What a request does, which decides its access level and whether a
/// transient failure is retried on the spot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// GET or HEAD: retried.
    Read,
    /// A step of a blob upload: not retried alone (a retried PUT would
    /// find its upload session gone); `put_blob` retries the whole upload.
    Upload,
    /// A manifest PUT: retried (content-addressed, or a tag move under the
    /// lock).
    Manifest,
}

impl Op {
    fn access(self) -> Access {
        match self {
            Op::Read => Access::Pull,
            Op::Upload | Op::Manifest => Access::Push,
        }
    }
}

/// What a request needs the registry to allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Pull,
    Push,
}

impl Access {
    fn scope(self, repository: &str) -> String {
        match self {
            Access::Pull => format!("repository:{repository}:pull"),
            Access::Push => format!("repository:{repository}:pull,push"),
        }
    }
}

/// The settings every client of a registry shares. Idle connections are
/// kept per host, a few at most, so a process serving many repositories
/// (`vouch proxy`, `vouch admission`) holds a bounded number of sockets.
fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
        .pool_idle_timeout(Duration::from_secs(60))
}

/// Idle connections kept per registry host.
const MAX_IDLE_PER_HOST: usize = 32;

/// The one runtime every registry client's requests run on, whatever the
/// number of repositories: its worker threads drive the connections, and
/// the blocking [`Store`] methods wait on it from the caller's thread. It is
/// never dropped, so no client is ever torn down on an async worker (tokio
/// panics when a runtime is dropped there). The long-running gates serve
/// their own connections on it too.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
        // Building a runtime fails only when threads cannot be made, and
        // then nothing vouch does could go on.
        #[allow(clippy::expect_used)]
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("vouch-io")
            .enable_all()
            .build()
            .expect("starting the I/O runtime")
    })
}

/// The client for plain-HTTP loopback registries, shared by all: no TLS at
/// all and no redirects (a redirect is followed by [`https_client`]).
fn plain_client() -> Result<&'static reqwest::Client, reqwest::Error> {
    static PLAIN: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = PLAIN.get() {
        return Ok(c);
    }
    let c = client_builder()
        .tls_certs_only([])
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    Ok(PLAIN.get_or_init(|| c))
}

/// The client with TLS and the platform's roots, shared by all, built on
/// first use (loading the roots is most of a warm verify's own work).
fn https_client() -> Result<&'static reqwest::Client, reqwest::Error> {
    static HTTPS: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = HTTPS.get() {
        return Ok(c);
    }
    let c = client_builder().build()?;
    Ok(HTTPS.get_or_init(|| c))
}

/// A registry repository.
pub struct Registry {
    /// For a plain-HTTP loopback registry, the [`plain_client`] for its
    /// own origin (the [`https_client`] for everything else).
    plain: Option<&'static reqwest::Client>,
    /// `http://host:port` or `https://host`.
    base: String,
    /// The same, parsed: credentials go only to this origin.
    origin: reqwest::Url,
    registry: String,
    repository: String,
    credentials: Credentials,
    /// The `Authorization` value that works, per access level.
    authorization: Mutex<[Option<HeaderValue>; 2]>,
    /// Serialises this machine's writers of the trust tag.
    lock: PathBuf,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("registry", &self.registry)
            .field("repository", &self.repository)
            .finish()
    }
}

/// Whether a registry host is on loopback (plain HTTP is used there).
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => registry.rsplit_once(':').map(|(h, _)| h).unwrap_or(registry),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether credentials may go to a token service: over HTTPS, or plain
/// HTTP only when the token service itself is on loopback (a loopback
/// registry naming a plain-HTTP realm elsewhere gets nothing).
fn realm_allowed(realm: &reqwest::Url) -> bool {
    match realm.scheme() {
        "https" => true,
        "http" => realm.host_str().is_some_and(is_loopback),
        _ => false,
    }
}

/// A request body: bytes in memory, or a file streamed from its start
/// (a blob spooled to disk, so a large one is never held in memory).
#[derive(Clone)]
enum Payload {
    Bytes(Bytes),
    File(std::sync::Arc<std::fs::File>, u64),
}

impl Payload {
    /// A fresh body for one attempt, and its length.
    fn body(&self) -> std::io::Result<(reqwest::Body, u64)> {
        use std::io::{Seek, SeekFrom};
        match self {
            Payload::Bytes(b) => Ok((b.clone().into(), b.len() as u64)),
            Payload::File(f, len) => {
                let mut f = f.try_clone()?;
                f.seek(SeekFrom::Start(0))?;
                Ok((tokio::fs::File::from_std(f).into(), *len))
            }
        }
    }
}

/// The answer to a request: success or 404.
struct Answer {
    status: StatusCode,
    response: reqwest::Response,
}

/// An error status, with the registry's error code.
struct Failure {
    status: StatusCode,
    code: String,
    error: StoreError,
}

impl Failure {
    /// Whether trying again may succeed: a gateway or server hiccup, or
    /// CNCF distribution's filesystem storage reading a blob link another
    /// client is rewriting (it then answers 500, and rejects a manifest
    /// naming that blob with DIGEST_INVALID). Reads and manifest puts
    /// are idempotent: content-addressed, or a tag move under a lock.
    fn transient(&self, op: Op) -> bool {
        match (op, self.status) {
            (Op::Upload, _) => false,
            (
                _,
                StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT,
            ) => true,
            (Op::Manifest, StatusCode::BAD_REQUEST) => self.code == "DIGEST_INVALID",
            _ => false,
        }
    }
}

impl Registry {
    /// A client for `registry/repository`; `lock` is a file this machine's
    /// writers lock while they move the trust tag.
    pub fn new(
        registry: &str,
        repository: &str,
        credentials: Credentials,
        lock: PathBuf,
    ) -> Result<Registry, StoreError> {
        let scheme = if is_loopback(registry) { "http" } else { "https" };
        let plain = if scheme == "http" {
            Some(plain_client().map_err(|e| StoreError::Registry {
                what: format!("setting up a client for {registry}"),
                detail: e.to_string(),
            })?)
        } else {
            None
        };
        // Docker Hub's API lives on another host than its image names.
        let host = match registry {
            "docker.io" | "index.docker.io" => "registry-1.docker.io",
            other => other,
        };
        let base = format!("{scheme}://{host}");
        let origin = reqwest::Url::parse(&base).map_err(|_| StoreError::Registry {
            what: format!("the registry name {registry}"),
            detail: "not a host[:port]".to_owned(),
        })?;
        Ok(Registry {
            plain,
            base,
            origin,
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            credentials,
            authorization: Mutex::new([None, None]),
            lock,
        })
    }

    /// Where `tag` points (its digest), if it exists: a HEAD request, and a
    /// GET only when the HEAD does not say.
    async fn head_async(&self, tag: &str) -> Result<Option<String>, StoreError> {
        let what = format!("tag {tag}");
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT_MANIFESTS));
        let url = self.url("manifests", tag)?;
        let answer = self
            .send(&what, Op::Read, Method::HEAD, &url, headers, None)
            .await?;
        let claimed = digest_header(answer.response.headers()).filter(|d| Digest::parse(d).is_ok());
        match (answer.status, claimed) {
            (StatusCode::NOT_FOUND, _) => {}
            (_, Some(d)) => return Ok(Some(d)),
            _ => {}
        }
        // A HEAD 404 has no body to say what is missing, and a registry
        // may not say the digest (or say another algorithm's): GET.
        Ok(self
            .get_manifest(tag, super::copy::MAX_MANIFEST)
            .await?
            .map(|(_, d)| d))
    }

    /// The URL of a manifest or blob. A reference that is neither a
    /// sha256 digest nor a tag (say, a digest read from a hostile manifest)
    /// never reaches a URL.
    fn url(&self, kind: &str, reference: &str) -> Result<String, StoreError> {
        let ok = match reference.starts_with("sha256:") {
            true => Digest::parse(reference).is_ok(),
            false => {
                (1..=128).contains(&reference.len())
                    && reference
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            }
        };
        if !ok {
            return Err(StoreError::Malformed {
                what: format!("reference {:?}", reference.chars().take(80).collect::<String>()),
                reason: "not a sha256 digest or a tag".to_owned(),
            });
        }
        Ok(format!("{}/v2/{}/{kind}/{reference}", self.base, self.repository))
    }

    fn same_origin(&self, url: &reqwest::Url) -> bool {
        url.origin() == self.origin.origin()
    }

    /// The client with TLS (built on first use).
    fn full(&self, what: &str) -> Result<&'static reqwest::Client, StoreError> {
        https_client().map_err(|e| self.fail(what, format!("setting up an HTTPS client: {e}")))
    }

    /// Runs one of this client's requests to its end from a thread that is
    /// not an async worker (every blocking [`Store`] method).
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        runtime().block_on(f)
    }

    fn fail(&self, what: &str, detail: impl Into<String>) -> StoreError {
        StoreError::Registry {
            what: format!("{what} in {}/{}", self.registry, self.repository),
            detail: detail.into(),
        }
    }

    /// A transport error, without its URL (which may carry a signed
    /// redirect or an upload session's state).
    fn unreachable(&self, what: &str, e: reqwest::Error) -> StoreError {
        let e = e.without_url();
        let detail = super::fetch::error_chain(&e);
        if e.is_connect() {
            let lower = detail.to_ascii_lowercase();
            let cause = if lower.contains("connection refused") {
                "connection refused"
            } else if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
                "no such host"
            } else if e.is_timeout() || lower.contains("timed out") {
                "timed out"
            } else if lower.contains("certificate") || lower.contains("tls") {
                "its TLS certificate was not accepted"
            } else if lower.contains("unreachable") {
                "network unreachable"
            } else {
                "could not connect"
            };
            return StoreError::Unreachable {
                registry: self.registry.clone(),
                cause: cause.to_owned(),
                what: format!("{what} of {}", self.repository),
            };
        }
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_body() || e.is_decode() {
            "the answer was cut short"
        } else {
            "unreachable"
        };
        self.fail(what, format!("{kind}: {detail}"))
    }

    fn stored_authorization(&self, access: Access) -> Option<HeaderValue> {
        let slots = self.authorization.lock().unwrap_or_else(|p| p.into_inner());
        slots[access as usize].clone()
    }

    fn store_authorization(&self, access: Access, value: HeaderValue) {
        let mut slots = self.authorization.lock().unwrap_or_else(|p| p.into_inner());
        slots[access as usize] = Some(value.clone());
        // A token for pushing also allows pulling.
        if access == Access::Push && slots[Access::Pull as usize].is_none() {
            slots[Access::Pull as usize] = Some(value);
        }
    }

    /// Sends a request, answering one authentication challenge and
    /// retrying what the registry reports as transient. Success and 404 are
    /// returned; every other status is an error naming it. Credentials go
    /// only to the registry's own origin.
    async fn send(
        &self,
        what: &str,
        op: Op,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Payload>,
    ) -> Result<Answer, StoreError> {
        let access = op.access();
        let target =
            reqwest::Url::parse(url).map_err(|_| self.fail(what, "the registry gave an invalid URL"))?;
        let ours = self.same_origin(&target);
        let mut challenged = false;
        let mut redirected = false;
        let mut retries = RETRY_DELAYS_MS.iter();
        loop {
            let client = match &self.plain {
                Some(plain) if ours && !redirected => *plain,
                _ => self.full(what)?,
            };
            let mut request = client
                .request(method.clone(), target.clone())
                .headers(headers.clone());
            if ours && let Some(auth) = self.stored_authorization(access) {
                request = request.header(header::AUTHORIZATION, auth);
            }
            if let Some(payload) = &body {
                let (body, len) = payload.body().map_err(|e| StoreError::Io {
                    path: format!("the body of {what}"),
                    source: e,
                })?;
                request = request.header(header::CONTENT_LENGTH, len).body(body);
            }
            let response = request.send().await.map_err(|e| self.unreachable(what, e))?;
            let status = response.status();
            if status.is_success() || status == StatusCode::NOT_FOUND {
                return Ok(Answer { status, response });
            }
            // The plain client follows no redirect: the full one does.
            if status.is_redirection() && self.plain.is_some() && !redirected {
                redirected = true;
                continue;
            }
            // Only the registry itself (not a host it redirected to) may
            // ask for the credentials.
            if status == StatusCode::UNAUTHORIZED && !challenged && self.same_origin(response.url()) {
                challenged = true;
                let challenge = response
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .map(Challenge::parse);
                let value = self.answer(what, access, challenge).await?;
                self.store_authorization(access, value);
                continue;
            }
            let failure = self.failure(what, status, response).await;
            match retries.next() {
                Some(ms) if failure.transient(op) => {
                    tokio::time::sleep(Duration::from_millis(*ms)).await;
                }
                _ => return Err(failure.error),
            }
        }
    }

    /// The `Authorization` value that answers a challenge.
    async fn answer(
        &self,
        what: &str,
        access: Access,
        challenge: Option<Challenge>,
    ) -> Result<HeaderValue, StoreError> {
        let refused = |why: &str| self.fail(what, format!("authentication failed: {why}"));
        match challenge {
            Some(Challenge::Bearer { realm, service }) => {
                let realm_url = reqwest::Url::parse(&realm)
                    .map_err(|_| refused(&format!("the token service {realm:?} is not a URL")))?;
                if !realm_allowed(&realm_url) {
                    return Err(refused(&format!(
                        "the token service {realm} is not HTTPS; vouch does not send credentials there"
                    )));
                }
                let mut request = self
                    .full(what)?
                    .get(realm_url)
                    .query(&[("scope", access.scope(&self.repository))]);
                if let Some(service) = &service {
                    request = request.query(&[("service", service)]);
                }
                if let Some(basic) = self.credentials.basic_header() {
                    request = request.header(header::AUTHORIZATION, basic);
                }
                let response = request
                    .send()
                    .await
                    .map_err(|e| self.unreachable(&format!("{what} (token from {realm})"), e))?;
                if !response.status().is_success() {
                    return Err(refused(&format!("the token service {realm} answered {}", response.status())));
                }
                let body = self.read(what, response, MAX_TOKEN).await?;
                let token: TokenAnswer = serde_json::from_slice(&body)
                    .map_err(|_| refused(&format!("the token service {realm} did not answer with a token")))?;
                let token = Zeroizing::new(token.token.or(token.access_token).unwrap_or_default());
                if token.is_empty() {
                    return Err(refused(&format!("the token service {realm} gave no token")));
                }
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.as_str()))
                    .map_err(|_| refused("the token is not a valid header value"))?;
                value.set_sensitive(true);
                Ok(value)
            }
            Some(Challenge::Basic) => self.credentials.basic_header().ok_or_else(|| {
                refused("the registry asks for credentials and none are configured (docker login, or DOCKER_CONFIG)")
            }),
            Some(Challenge::Other(scheme)) => Err(refused(&format!("unsupported scheme {scheme}"))),
            None => Err(refused("HTTP 401 without a challenge")),
        }
    }

    /// What an error status means, read from the answer.
    async fn failure(&self, what: &str, status: StatusCode, response: reqwest::Response) -> Failure {
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (code, message) = self.error_message(response).await;
        let detail = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                format!("authentication failed (HTTP {status}){message}")
            }
            StatusCode::TOO_MANY_REQUESTS => format!(
                "rate limited (HTTP 429){}{message}",
                retry_after
                    .map(|s| format!(", retry after {s} s"))
                    .unwrap_or_default()
            ),
            _ => format!("HTTP {status}{message}"),
        };
        Failure {
            status,
            code,
            error: self.fail(what, detail),
        }
    }

    /// The registry's error code and message (`": CODE: message"`), if
    /// its body carries them.
    async fn error_message(&self, response: reqwest::Response) -> (String, String) {
        let Ok(body) = self.read("error", response, MAX_ERROR_BODY).await else {
            return (String::new(), String::new());
        };
        let parsed: Option<ErrorsAnswer> = serde_json::from_slice(&body).ok();
        let (code, text) = match parsed.and_then(|p| p.errors.into_iter().next()) {
            Some(e) => (e.code.clone(), format!("{}: {}", e.code, e.message)),
            None => (
                String::new(),
                String::from_utf8_lossy(&body).trim().chars().take(200).collect(),
            ),
        };
        let text: String = text.chars().filter(|c| !c.is_control()).collect();
        (
            code,
            if text.is_empty() {
                text
            } else {
                format!(": {text}")
            },
        )
    }

    /// Reads a body of at most `max` bytes as it arrives.
    async fn read(
        &self,
        what: &str,
        mut response: reqwest::Response,
        max: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let declared = declared_length(&response, what, max)?;
        // A declared length is a claim: reserve at most 1 MiB up front.
        let mut body = Vec::with_capacity(declared.unwrap_or(0).min(max).min(1 << 20) as usize);
        while let Some(chunk) = response.chunk().await.map_err(|e| self.unreachable(what, e))? {
            if (body.len() + chunk.len()) as u64 > max {
                return Err(StoreError::TooLarge {
                    what: what.to_owned(),
                    limit: max,
                });
            }
            body.extend_from_slice(&chunk);
        }
        if let Some(n) = declared
            && n != body.len() as u64
        {
            return Err(self.fail(
                what,
                format!("the answer was cut short: {} of {n} bytes", body.len()),
            ));
        }
        Ok(body)
    }

    /// A manifest by tag or digest: `None` when the registry has none.
    async fn get_manifest(&self, reference: &str, max: u64) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        let what = if reference.starts_with("sha256:") {
            format!("manifest {reference}")
        } else {
            format!("tag {reference}")
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT_MANIFESTS));
        let url = self.url("manifests", reference)?;
        let answer = self
            .send(&what, Op::Read, Method::GET, &url, headers, None)
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return self.absent(&what, answer.response).await.map(|()| None);
        }
        let claimed = digest_header(answer.response.headers());
        let body = self.read(&what, answer.response, max).await?;
        let digest = sha256_digest(&body);
        if let Some(claimed) = claimed
            && Digest::parse(&claimed).is_ok()
            && claimed != digest
        {
            return Err(StoreError::Malformed {
                what,
                reason: format!("the registry says its digest is {claimed}, but it is {digest}"),
            });
        }
        Ok(Some((body, digest)))
    }

    async fn resolve_async(&self, tag: &str) -> Result<Option<Descriptor>, StoreError> {
        let Some((bytes, digest)) = self.get_manifest(tag, super::copy::MAX_MANIFEST).await? else {
            return Ok(None);
        };
        Ok(Some(Descriptor {
            media_type: media_type_of(&bytes),
            digest,
            size: bytes.len() as u64,
            annotations: Default::default(),
            extra: Default::default(),
        }))
    }

    /// A 404 that really says "no such manifest": the registry names the
    /// manifest or repository unknown. A 404 without that (a proxy, a
    /// gateway, a wrong path) decides nothing.
    async fn absent(&self, what: &str, response: reqwest::Response) -> Result<(), StoreError> {
        let (code, message) = self.error_message(response).await;
        match code.as_str() {
            "MANIFEST_UNKNOWN" | "NAME_UNKNOWN" | "NOT_FOUND" => Ok(()),
            _ => Err(self.fail(
                what,
                format!("HTTP 404 without a registry error code{message}: is this a registry?"),
            )),
        }
    }

    /// A 404 where something must exist.
    async fn missing(&self, what: &str, response: reqwest::Response) -> StoreError {
        let (_, message) = self.error_message(response).await;
        self.fail(what, format!("HTTP 404 Not Found{message}"))
    }

    async fn put(
        &self,
        what: &str,
        op: Op,
        url: &str,
        content_type: &str,
        body: Payload,
    ) -> Result<(), StoreError> {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(content_type).map_err(|_| StoreError::Malformed {
            what: "media type".to_owned(),
            reason: content_type.to_owned(),
        })?;
        headers.insert(header::CONTENT_TYPE, value);
        let answer = self.send(what, op, Method::PUT, url, headers, Some(body)).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Err(self.missing(what, answer.response).await);
        }
        Ok(())
    }

    /// One attempt at uploading a blob: HEAD (a shortcut), POST, PUT.
    async fn upload(&self, what: &str, digest: &str, payload: &Payload) -> Result<(), StoreError> {
        let url = self.url("blobs", digest)?;
        // Any answer but "here it is" means upload. (distribution answers
        // 500 while another client commits the same blob.)
        let exists = self
            .send(what, Op::Upload, Method::HEAD, &url, HeaderMap::new(), None)
            .await;
        if exists.is_ok_and(|a| a.status.is_success()) {
            return Ok(());
        }
        let start = format!("{}/v2/{}/blobs/uploads/", self.base, self.repository);
        let answer = self
            .send(what, Op::Upload, Method::POST, &start, HeaderMap::new(), None)
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Err(self.missing(what, answer.response).await);
        }
        let location = answer
            .response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.fail(what, "the registry gave no upload location"))?;
        let mut url = self
            .origin
            .join(location)
            .map_err(|_| self.fail(what, "the registry gave an invalid upload location"))?;
        url.query_pairs_mut().append_pair("digest", digest);
        self.put(
            what,
            Op::Upload,
            url.as_str(),
            "application/octet-stream",
            payload.clone(),
        )
        .await
    }
}

/// The length an answer declares (`Content-Length`), refused when over
/// `max` before a byte of the body is read.
fn declared_length(response: &reqwest::Response, what: &str, max: u64) -> Result<Option<u64>, StoreError> {
    let declared = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > max => Err(StoreError::TooLarge {
            what: what.to_owned(),
            limit: max,
        }),
        other => Ok(other),
    }
}

fn digest_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[derive(serde::Deserialize)]
pub(crate) struct TokenAnswer {
    #[serde(default)]
    pub(crate) token: Option<String>,
    #[serde(default)]
    pub(crate) access_token: Option<String>,
}

#[derive(serde::Deserialize)]
struct ErrorsAnswer {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(serde::Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}
