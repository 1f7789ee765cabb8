//! The proxy's HTTP side: hyper on a multi-threaded runtime; each manifest
//! decision and each upstream transfer runs on a blocking thread (the
//! registry client and the trust layer are blocking).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::route::{Reference, Route, Upstream, route};
use super::{LogFormat, ProxyConfig, ProxyError};
use crate::policy::{Level, Policy};
use crate::store::artifact::TRUST_TAG;
use crate::store::registry::Registry;
use crate::store::{Store, StoreError};
use crate::trust::{Reader, Verdict};
use time::OffsetDateTime;

type Body = BoxBody<Bytes, std::io::Error>;

/// Largest manifest served.
const MAX_MANIFEST: u64 = crate::store::copy::MAX_MANIFEST;
/// Largest blob streamed.
const MAX_BLOB: u64 = 16 << 30;
/// Manifest bytes kept in memory, by digest (content-addressed: safe).
const MANIFEST_CACHE_BYTES: usize = 64 << 20;
/// Client connections served at once.
const MAX_CONNECTIONS: usize = 1024;
/// Time a client has for its TLS handshake, and for each request's headers.
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Repositories whose state is kept.
const MAX_REPOS: usize = 1024;

/// The status a refusal is answered with: 403 makes every client stop
/// (none falls back to the upstream, as some do on 404) and print the
/// message (see README, "Gate every pull").
const REFUSED: StatusCode = StatusCode::FORBIDDEN;
/// The status of "could not decide" (upstream down, 5xx, 429, auth).
const UNDECIDED: StatusCode = StatusCode::BAD_GATEWAY;

/// A manifest's bytes and media type, shared between answers.
struct Manifest {
    bytes: Vec<u8>,
    media: String,
}

type Entry = Arc<Manifest>;

struct RepoState {
    store: Registry,
    /// Decisions made from the trust artifact last verified here.
    decisions: Mutex<Option<Decisions>>,
    /// One decision at a time per repository.
    deciding: Mutex<()>,
    /// When each tag was last compared with the upstream's.
    moved_checked: Mutex<HashMap<String, Instant>>,
    /// Idle clients for blob transfers.
    blob_clients: Mutex<Vec<Registry>>,
    /// The blobs (config and layers) of the manifests served here: the only
    /// blobs the proxy fetches, with its own credentials, for a client.
    blobs: Mutex<BlobSet>,
}

/// A bounded set of blob digests, oldest forgotten first.
#[derive(Default)]
struct BlobSet {
    set: std::collections::HashSet<String>,
    order: VecDeque<String>,
}

/// Blob digests remembered per repository.
const MAX_BLOBS: usize = 65_536;

impl BlobSet {
    fn extend(&mut self, digests: Vec<String>) {
        for d in digests {
            if self.set.insert(d.clone()) {
                self.order.push_back(d);
            }
        }
        while self.order.len() > MAX_BLOBS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

/// The blobs an image manifest references (its config and layers).
fn referenced_blobs(manifest: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(manifest) else {
        return Vec::new();
    };
    std::iter::once(&v["config"])
        .chain(v["layers"].as_array().into_iter().flatten())
        .filter_map(|d| d["digest"].as_str())
        .filter(|d| crate::digest::Digest::parse(d).is_ok())
        .map(str::to_owned)
        .collect()
}

/// Idle blob clients kept per repository.
const MAX_IDLE_BLOB_CLIENTS: usize = 4;

impl RepoState {
    fn take_blob_client(
        &self,
        state: &State,
        upstream: &Upstream,
        repo: &str,
    ) -> Result<Registry, StoreError> {
        match lock(&self.blob_clients).pop() {
            Some(client) => Ok(client),
            None => state.store(upstream, repo),
        }
    }

    fn put_blob_client(&self, client: Registry) {
        let mut idle = lock(&self.blob_clients);
        if idle.len() < MAX_IDLE_BLOB_CLIENTS {
            idle.push(client);
        }
    }
}

/// How often a served tag is compared with where the upstream's tag points
/// (for the log only: the answer never depends on it).
const MOVED_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Decisions made from one verified trust artifact. The artifact is
/// content-addressed, so while the upstream's trust tag still names it,
/// the policy file is unchanged and the metadata is fresh, the same
/// question has the same answer: a warm pull costs one upstream HEAD.
struct Decisions {
    artifact: String,
    policy: Vec<u8>,
    /// The earliest expiry of the metadata the decisions used.
    until: OffsetDateTime,
    /// By reference (`:tag`, `@digest`): admitted, or refused and why.
    answers: HashMap<String, Result<Verdict, String>>,
    /// Platform manifests of the indexes admitted from this artifact.
    children: BTreeSet<String>,
}

/// Answers kept per repository.
const MAX_ANSWERS: usize = 4096;

#[derive(Default)]
struct ManifestCache {
    map: HashMap<String, Entry>,
    order: VecDeque<String>,
    bytes: usize,
}

impl ManifestCache {
    fn get(&self, digest: &str) -> Option<Entry> {
        self.map.get(digest).cloned()
    }

    fn put(&mut self, digest: &str, entry: Entry) {
        if self.map.contains_key(digest) || entry.bytes.len() > MANIFEST_CACHE_BYTES {
            return;
        }
        self.bytes += entry.bytes.len();
        self.map.insert(digest.to_owned(), entry);
        self.order.push_back(digest.to_owned());
        while self.bytes > MANIFEST_CACHE_BYTES {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(e) = self.map.remove(&old) {
                self.bytes -= e.bytes.len();
            }
        }
    }
}

/// A policy file's bytes and what they parse to.
type PolicyFile = (Arc<Vec<u8>>, Arc<Policy>);

struct State {
    config: ProxyConfig,
    /// The policy file's bytes and what they parse to, re-read on every
    /// decision (a changed pin applies at once) and re-parsed when changed.
    policy: Mutex<Option<PolicyFile>>,
    repos: Mutex<HashMap<String, Arc<RepoState>>>,
    /// The order repositories were added in, for eviction.
    repo_order: Mutex<VecDeque<String>>,
    manifests: Mutex<ManifestCache>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    fn policy(&self) -> Result<PolicyFile, String> {
        let path = Policy::path(&self.config.trust.dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        if let Some((b, p)) = lock(&self.policy).as_ref()
            && **b == bytes
        {
            return Ok((b.clone(), p.clone()));
        }
        let text =
            String::from_utf8(bytes.clone()).map_err(|_| format!("{} is not UTF-8", path.display()))?;
        let parsed = Arc::new(Policy::parse(&text, &path).map_err(|e| e.to_string())?);
        let bytes = Arc::new(bytes);
        *lock(&self.policy) = Some((bytes.clone(), parsed.clone()));
        Ok((bytes, parsed))
    }

    fn store(&self, upstream: &Upstream, repo: &str) -> Result<Registry, StoreError> {
        let credentials =
            crate::auth::for_registry(&upstream.registry).map_err(|e| StoreError::Registry {
                what: format!("credentials for {}", upstream.registry),
                detail: e.to_string(),
            })?;
        let lock = self.config.trust.dir.join("locks").join(format!(
            "{}.lock",
            crate::tuf::metadata::encode_segment(&format!("{}/{repo}", upstream.registry))
        ));
        Registry::new(&upstream.registry, repo, credentials, lock)
    }

    fn repo(&self, upstream: &Upstream, repo: &str) -> Result<Arc<RepoState>, StoreError> {
        let id = format!("{}/{repo}", upstream.registry);
        if let Some(r) = lock(&self.repos).get(&id) {
            return Ok(r.clone());
        }
        let state = Arc::new(RepoState {
            store: self.store(upstream, repo)?,
            decisions: Mutex::new(None),
            deciding: Mutex::new(()),
            moved_checked: Mutex::new(HashMap::new()),
            blob_clients: Mutex::new(Vec::new()),
            blobs: Mutex::new(BlobSet::default()),
        });
        let mut repos = lock(&self.repos);
        // Forget one repository at a time, the one least recently added:
        // clearing them all would drop what pulls under way still need.
        while repos.len() >= MAX_REPOS {
            let Some(old) = lock(&self.repo_order).pop_front() else {
                repos.clear();
                break;
            };
            repos.remove(&old);
        }
        if !repos.contains_key(&id) {
            lock(&self.repo_order).push_back(id.clone());
        }
        Ok(repos.entry(id).or_insert(state).clone())
    }
}

/// What a manifest request is answered with.
enum Answer {
    Manifest { entry: Entry, digest: String },
    Refused(String),
    Undecided(String),
    NotFound(String),
}

/// One decision, for the log.
struct Decision {
    verdict: &'static str,
    digest: Option<String>,
    reason: String,
}

fn error_body(code: &str, message: &str) -> Bytes {
    Bytes::from(
        serde_json::json!({"errors": [{"code": code, "message": message, "detail": null}]}).to_string(),
    )
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// An OCI error answer. The message also goes in the status line's reason
/// phrase: clients that print only the status of a HEAD request (which has
/// no body) then still show it.
fn error(status: StatusCode, code: &str, message: &str, head: bool) -> Response<Body> {
    let body = error_body(code, message);
    let len = body.len();
    let mut resp = Response::new(if head { full(Bytes::new()) } else { full(body) });
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let phrase: String = message
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { ' ' })
        .take(400)
        .collect();
    if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(phrase.into_bytes()) {
        resp.extensions_mut().insert(reason);
    }
    resp
}

fn api_headers(resp: &mut Response<Body>) {
    resp.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
}

/// Fetches a manifest upstream as the client asked for it (no decision).
fn pass_through(repo: &RepoState, reference: &Reference) -> Result<Option<(Entry, String)>, StoreError> {
    let got = match reference {
        Reference::Tag(t) => repo.store.tagged_manifest(t, MAX_MANIFEST)?,
        Reference::Digest(d) => match repo.store.tagged_manifest(d, MAX_MANIFEST)? {
            Some((_, actual)) if &actual != d => {
                return Err(StoreError::Malformed {
                    what: format!("manifest {d}"),
                    reason: "content does not match its digest".to_owned(),
                });
            }
            other => other,
        },
    };
    Ok(got.map(|(bytes, digest)| {
        let media = crate::store::media_type_of(&bytes);
        (Arc::new(Manifest { bytes, media }), digest)
    }))
}

/// Decides a manifest request; the blobs of a manifest served become
/// fetchable through the proxy.
fn decide(state: &State, upstream: &Upstream, repo_path: &str, reference: &Reference) -> (Answer, Decision) {
    let decided = decide_manifest(state, upstream, repo_path, reference);
    if let Answer::Manifest { entry, .. } = &decided.0
        && let Ok(repo) = state.repo(upstream, repo_path)
    {
        lock(&repo.blobs).extend(referenced_blobs(&entry.bytes));
    }
    decided
}

fn decide_manifest(
    state: &State,
    upstream: &Upstream,
    repo_path: &str,
    reference: &Reference,
) -> (Answer, Decision) {
    let repo_id = format!("{}/{repo_path}", upstream.registry);
    let undecided = |reason: String| {
        (
            Answer::Undecided(format!(
                "vouch: could not decide on {repo_id}{reference}: {reason}"
            )),
            Decision {
                verdict: "undecided",
                digest: None,
                reason,
            },
        )
    };
    let repo = match state.repo(upstream, repo_path) {
        Ok(r) => r,
        Err(e) => return undecided(e.to_string()),
    };
    let (policy_bytes, policy) = match state.policy() {
        Ok(p) => p,
        Err(e) => return undecided(e),
    };
    let level = crate::gate_switch::effective(state.config.level, policy.lookup(&repo_id).map(|s| s.level));
    let passed = |verdict: &'static str, reason: String| match pass_through(&repo, reference) {
        Ok(Some((entry, digest))) => (
            Answer::Manifest {
                entry,
                digest: digest.clone(),
            },
            Decision {
                verdict,
                digest: Some(digest),
                reason,
            },
        ),
        Ok(None) => (
            Answer::NotFound(format!("{repo_id}{reference}: manifest unknown")),
            Decision {
                verdict,
                digest: None,
                reason: "not in the upstream".to_owned(),
            },
        ),
        Err(e) => (
            Answer::Undecided(format!("vouch: {repo_id}{reference}: {e}")),
            Decision {
                verdict: "undecided",
                digest: None,
                reason: e.to_string(),
            },
        ),
    };
    if level == Level::Off {
        return passed("passed (content trust off)", String::new());
    }
    let outcome = {
        let _one = lock(&repo.deciding);
        trust_decision(state, &repo, &repo_id, reference, &policy_bytes)
    };
    match outcome {
        Outcome::Admitted(v, artifact) => {
            let cached = lock(&state.manifests).get(&v.digest);
            let entry = match cached {
                Some(e) => e,
                None => match repo.store.manifest(&v.digest, MAX_MANIFEST) {
                    Ok(bytes) => {
                        let media = crate::store::media_type_of(&bytes);
                        let entry = Arc::new(Manifest { bytes, media });
                        lock(&state.manifests).put(&v.digest, entry.clone());
                        entry
                    }
                    Err(e) => return undecided(e.to_string()),
                },
            };
            let children = crate::trust::decide::index_children(&entry.bytes);
            if !children.is_empty()
                && let Some(d) = lock(&repo.decisions).as_mut()
                && Some(&d.artifact) == artifact.as_ref()
            {
                d.children.extend(children);
            }
            if let Reference::Tag(t) = reference {
                warn_if_moved(state.config.log, &repo, &repo_id, t, &v.digest);
            }
            (
                Answer::Manifest {
                    entry,
                    digest: v.digest.clone(),
                },
                Decision {
                    verdict: "served",
                    digest: Some(v.digest),
                    reason: v.how,
                },
            )
        }
        Outcome::Refused(e) if level == Level::Audit => {
            passed("passed (audit)", format!("refused in audit mode: {e}"))
        }
        Outcome::Refused(e) => (
            Answer::Refused(format!("vouch: {e}")),
            Decision {
                verdict: "refused",
                digest: None,
                reason: e,
            },
        ),
        Outcome::Undecided(e) => undecided(e),
    }
}

/// What trust data says about a manifest request.
enum Outcome {
    /// Admitted, from this trust artifact.
    Admitted(Verdict, Option<String>),
    /// Refused, and why.
    Refused(String),
    /// Could not decide, and why.
    Undecided(String),
}

/// Decides a manifest request through the trust layer, reusing what was
/// decided from the same trust artifact (see [`Decisions`]).
fn trust_decision(
    state: &State,
    repo: &RepoState,
    repo_id: &str,
    reference: &Reference,
    policy: &[u8],
) -> Outcome {
    let key = reference.to_string();
    let now = OffsetDateTime::now_utc();
    match repo.store.head(TRUST_TAG) {
        Ok(Some(current)) => {
            // The upstream's word that nothing changed is checked against
            // what this machine verified last (another vouch process may
            // have seen newer trust data): otherwise pointing the trust tag
            // back at an older artifact would replay older decisions.
            let verified_here = crate::trust::cache::Cache::new(&state.config.trust.dir, repo_id)
                .last_artifact()
                .ok()
                .flatten();
            if let Some(d) = lock(&repo.decisions).as_ref()
                && verified_here.as_deref() == Some(current.as_str())
                && d.artifact == current
                && d.policy == policy
                && now < d.until
            {
                match (d.answers.get(&key), reference) {
                    (Some(Ok(v)), _) => return Outcome::Admitted(v.clone(), Some(current)),
                    // A digest refused before may since have become the
                    // child of an admitted index.
                    (Some(Err(why)), Reference::Digest(digest)) if !d.children.contains(digest) => {
                        return Outcome::Refused(why.clone());
                    }
                    (Some(Err(why)), Reference::Tag(_)) => return Outcome::Refused(why.clone()),
                    _ => {}
                }
            }
        }
        // No trust data: the reader below says so, as a refusal.
        Ok(None) => {}
        Err(e) => return Outcome::Undecided(e.to_string()),
    }
    let mut reader = match Reader::open(&state.config.trust, repo_id, &repo.store, false) {
        Ok(r) => r,
        Err(e) if e.is_refusal() => return Outcome::Refused(e.to_string()),
        Err(e) => return Outcome::Undecided(e.to_string()),
    };
    let artifact = reader.artifact().map(str::to_owned);
    let result = match reference {
        Reference::Tag(t) => reader.resolve_tag(t).map(|signed| Verdict {
            how: format!("signed by {}", signed.role),
            digest: signed.digest,
        }),
        Reference::Digest(d) => {
            let children = lock(&repo.decisions)
                .as_ref()
                .filter(|c| Some(&c.artifact) == artifact.as_ref())
                .map(|c| c.children.clone())
                .unwrap_or_default();
            reader.admit_digest(d, &children)
        }
    };
    if let (Some(artifact), Some(until)) = (&artifact, reader.trusted().fresh_until()) {
        let mut cache = lock(&repo.decisions);
        if cache
            .as_ref()
            .is_none_or(|c| &c.artifact != artifact || c.policy != policy)
        {
            *cache = Some(Decisions {
                artifact: artifact.clone(),
                policy: policy.to_vec(),
                until: until.at,
                answers: HashMap::new(),
                children: BTreeSet::new(),
            });
        }
        if let Some(c) = cache.as_mut() {
            c.until = c.until.min(until.at);
            if c.answers.len() >= MAX_ANSWERS {
                c.answers.clear();
            }
            match &result {
                Ok(v) => {
                    c.answers.insert(key, Ok(v.clone()));
                }
                Err(e) if e.is_refusal() => {
                    c.answers.insert(key, Err(e.to_string()));
                }
                Err(_) => {}
            }
        }
    }
    match result {
        Ok(v) => Outcome::Admitted(v, artifact),
        Err(e) if e.is_refusal() => Outcome::Refused(e.to_string()),
        Err(e) => Outcome::Undecided(e.to_string()),
    }
}

/// Logs a warning when the upstream tag no longer points at the signed
/// digest the proxy served (someone moved it without signing, or signing
/// has not caught up). Off the answer's path, and at most every
/// [`MOVED_CHECK_EVERY`] per tag: a warm pull stays one upstream request.
fn warn_if_moved(format: LogFormat, repo: &Arc<RepoState>, repo_id: &str, tag: &str, signed: &str) {
    {
        let mut checked = lock(&repo.moved_checked);
        if checked.get(tag).is_some_and(|t| t.elapsed() < MOVED_CHECK_EVERY) {
            return;
        }
        if checked.len() >= MAX_ANSWERS {
            checked.clear();
        }
        checked.insert(tag.to_owned(), Instant::now());
    }
    let (repo, repo_id, tag, signed) = (
        repo.clone(),
        repo_id.to_owned(),
        tag.to_owned(),
        signed.to_owned(),
    );
    let check = move || {
        if let Ok(Some(now)) = repo.store.head(&tag)
            && now != signed
        {
            let message =
                format!("the upstream tag {repo_id}:{tag} points at {now}; vouch served the signed {signed}");
            match format {
                LogFormat::Json => log_line(
                    serde_json::json!({"reference": format!("{repo_id}:{tag}"), "digest": signed, "warning": message})
                        .to_string(),
                ),
                LogFormat::Text => log_line(format!("warning: {message}")),
            }
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => drop(handle.spawn_blocking(check)),
        Err(_) => check(),
    }
}

/// Writes one log line with one write: stderr is unbuffered, and lines
/// from concurrent requests must not interleave.
fn log_line(line: String) {
    use std::io::Write;
    let mut line = line;
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn log(config: &ProxyConfig, peer: SocketAddr, method: &Method, what: &str, d: &Decision, started: Instant) {
    let ms = started.elapsed().as_millis();
    match config.log {
        LogFormat::Json => log_line(
            serde_json::json!({
                "client": peer.to_string(), "method": method.as_str(), "reference": what,
                "digest": d.digest, "verdict": d.verdict, "reason": d.reason, "ms": ms,
            })
            .to_string(),
        ),
        LogFormat::Text => log_line(format!(
            "{peer} {method} {what} {} {}{} ({ms} ms)",
            d.verdict,
            d.digest.as_deref().unwrap_or("-"),
            if d.reason.is_empty() {
                String::new()
            } else {
                format!(" {}", d.reason)
            },
        )),
    }
}

async fn manifest(
    state: Arc<State>,
    peer: SocketAddr,
    head: bool,
    upstream: Upstream,
    repo: String,
    reference: Reference,
) -> Response<Body> {
    let started = Instant::now();
    let what = format!("{}/{repo}{reference}", upstream.registry);
    let task_state = state.clone();
    let decided =
        tokio::task::spawn_blocking(move || decide(&task_state, &upstream, &repo, &reference)).await;
    let (answer, decision) = match decided {
        Ok(d) => d,
        Err(e) => (
            Answer::Undecided(format!("vouch: internal error: {e}")),
            Decision {
                verdict: "undecided",
                digest: None,
                reason: e.to_string(),
            },
        ),
    };
    let method = if head { Method::HEAD } else { Method::GET };
    log(&state.config, peer, &method, &what, &decision, started);
    let mut resp = match answer {
        Answer::Manifest { entry, digest } => {
            let len = entry.bytes.len();
            let mut resp = Response::new(if head {
                full(Bytes::new())
            } else {
                full(Bytes::copy_from_slice(&entry.bytes))
            });
            let h = resp.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&entry.media) {
                h.insert(header::CONTENT_TYPE, v);
            }
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            if let Ok(v) = HeaderValue::from_str(&digest) {
                h.insert("docker-content-digest", v.clone());
                h.insert(header::ETAG, v);
            }
            resp
        }
        Answer::Refused(message) => error(REFUSED, "DENIED", &message, head),
        Answer::Undecided(message) => error(UNDECIDED, "UNAVAILABLE", &message, head),
        Answer::NotFound(message) => error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", &message, head),
    };
    api_headers(&mut resp);
    resp
}

/// The first thing a blob transfer learns.
enum BlobStart {
    Found(Option<u64>),
    Missing,
    Failed(String),
}

async fn blob(
    state: Arc<State>,
    head: bool,
    upstream: Upstream,
    repo: String,
    digest: String,
) -> Response<Body> {
    // Each transfer has a client of its own while it runs (a large blob
    // must not hold up the repository's other requests), taken from the
    // repository's idle ones so connections are reused.
    let repo_state = match state.repo(&upstream, &repo) {
        Ok(r) => r,
        Err(e) => return error(UNDECIDED, "UNAVAILABLE", &format!("vouch: {e}"), head),
    };
    if !lock(&repo_state.blobs).set.contains(&digest) {
        return error(
            REFUSED,
            "DENIED",
            &format!(
                "vouch: blob {digest} of {}/{repo} is not part of an image this proxy served",
                upstream.registry
            ),
            head,
        );
    }
    let store = match repo_state.take_blob_client(&state, &upstream, &repo) {
        Ok(s) => s,
        Err(e) => return error(UNDECIDED, "UNAVAILABLE", &format!("vouch: {e}"), head),
    };
    let answer = |status: StatusCode, len: Option<u64>, body: Body| {
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Some(n) = len {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
        if let Ok(v) = HeaderValue::from_str(&digest) {
            h.insert("docker-content-digest", v);
        }
        api_headers(&mut resp);
        resp
    };
    if head {
        let d = digest.clone();
        let pool = repo_state.clone();
        return match tokio::task::spawn_blocking(move || {
            let found = store.head_blob(&d);
            pool.put_blob_client(store);
            found
        })
        .await
        {
            Ok(Ok(Some(len))) => answer(StatusCode::OK, len, full(Bytes::new())),
            Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown", true),
            Ok(Err(e)) => error(UNDECIDED, "UNAVAILABLE", &format!("vouch: {e}"), true),
            Err(e) => error(UNDECIDED, "UNAVAILABLE", &format!("vouch: {e}"), true),
        };
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let (start_tx, start_rx) = tokio::sync::oneshot::channel::<BlobStart>();
    // A transfer counts as failed unless it ends with the digest checked.
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let failed_in_task = failed.clone();
    let d = digest.clone();
    tokio::task::spawn_blocking(move || {
        let mut start_tx = Some(start_tx);
        let mut start = |len: Option<u64>| {
            start_tx
                .take()
                .is_some_and(|s| s.send(BlobStart::Found(len)).is_ok())
        };
        let result = store.stream_blob(&d, MAX_BLOB, &mut start, &tx);
        if result.is_ok() {
            repo_state.put_blob_client(store);
        }
        match (result, start_tx.take()) {
            (Ok(false), Some(s)) => {
                let _ = s.send(BlobStart::Missing);
            }
            (Err(e), Some(s)) => {
                let _ = s.send(BlobStart::Failed(e.to_string()));
            }
            // Checked to the end (the channel closes after this).
            (Ok(true), _) => failed_in_task.store(false, std::sync::atomic::Ordering::SeqCst),
            // Mid-transfer (or a panic): `failed` stays set, the body ends
            // in an error, and the client sees a failed download, never a
            // wrong or short blob taken as whole.
            _ => {}
        }
    });
    match start_rx.await {
        Ok(BlobStart::Found(len)) => {
            let mut ended = false;
            let stream = futures_util::stream::poll_fn(move |cx| {
                if ended {
                    return std::task::Poll::Ready(None);
                }
                match rx.poll_recv(cx) {
                    std::task::Poll::Ready(Some(bytes)) => {
                        std::task::Poll::Ready(Some(Ok(Frame::data(bytes))))
                    }
                    std::task::Poll::Ready(None) => {
                        ended = true;
                        if failed.load(std::sync::atomic::Ordering::SeqCst) {
                            std::task::Poll::Ready(Some(Err(std::io::Error::other(
                                "the upstream blob did not check out",
                            ))))
                        } else {
                            std::task::Poll::Ready(None)
                        }
                    }
                    std::task::Poll::Pending => std::task::Poll::Pending,
                }
            });
            answer(StatusCode::OK, len, BodyExt::boxed(StreamBody::new(stream)))
        }
        Ok(BlobStart::Missing) => error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown", false),
        Ok(BlobStart::Failed(why)) => error(UNDECIDED, "UNAVAILABLE", &format!("vouch: {why}"), false),
        Err(_) => error(UNDECIDED, "UNAVAILABLE", "vouch: the transfer stopped", false),
    }
}

async fn handle(
    state: Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        return Ok(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "vouch proxy serves pulls only",
            false,
        ));
    }
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let routed = match route(&state.config.upstreams, &path, query.as_deref()) {
        Route::Base => None,
        Route::Manifest {
            upstream,
            repo,
            reference,
        } => Some((
            true,
            upstream.clone(),
            repo,
            reference.to_string(),
            Some(reference),
        )),
        Route::Blob {
            upstream,
            repo,
            digest,
        } => Some((false, upstream.clone(), repo, digest, None)),
        Route::Unsupported => {
            return Ok(error(
                StatusCode::NOT_FOUND,
                "UNSUPPORTED",
                "vouch proxy: not a pull it serves",
                head,
            ));
        }
    };
    Ok(match routed {
        None => {
            let mut resp = Response::new(full(Bytes::from_static(b"{}")));
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            api_headers(&mut resp);
            resp
        }
        Some((true, upstream, repo, _, Some(reference))) => {
            manifest(state, peer, head, upstream, repo, reference).await
        }
        Some((_, upstream, repo, digest, _)) => blob(state, head, upstream, repo, digest).await,
    })
}

fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, ProxyError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad =
        |what: &std::path::Path, e: &dyn std::fmt::Display| ProxyError(format!("{}: {e}", what.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProxyError(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ProxyError(format!("TLS certificate and key: {e}")))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Runs the proxy until the process ends.
pub fn serve(config: ProxyConfig) -> Result<(), ProxyError> {
    if !config.listen.ip().is_loopback() && config.tls.is_none() {
        return Err(ProxyError(format!(
            "{} is not a loopback address: serving it needs --tls-cert and --tls-key",
            config.listen
        )));
    }
    if config.upstreams.is_empty() {
        return Err(ProxyError("no --upstream given".to_owned()));
    }
    let acceptor = match &config.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ProxyError(e.to_string()))?;
    let listen = config.listen;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let names: Vec<String> = config
        .upstreams
        .iter()
        .map(|u| format!("{}={}", u.name, u.registry))
        .collect();
    let state = Arc::new(State {
        config,
        policy: Mutex::new(None),
        repos: Mutex::new(HashMap::new()),
        repo_order: Mutex::new(VecDeque::new()),
        manifests: Mutex::new(ManifestCache::default()),
    });
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| ProxyError(format!("listening on {listen}: {e}")))?;
        let bound = listener.local_addr().map_err(|e| ProxyError(e.to_string()))?;
        eprintln!("vouch proxy on {scheme}://{bound} for {}", names.join(", "));
        let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            // At most MAX_CONNECTIONS at once: the next waits for a slot.
            let Ok(slot) = connections.clone().acquire_owned().await else {
                return Ok(());
            };
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    eprintln!("warning: accepting a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let state = state.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let service = hyper::service::service_fn(move |req| handle(state.clone(), peer, req));
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT);
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(Ok(tls)) =
                            tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await
                        {
                            let _ = http
                                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                                .await;
                        }
                    }
                    None => {
                        let _ = http
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    }
                }
            });
        }
    })
}
