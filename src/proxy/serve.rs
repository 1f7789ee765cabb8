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
use crate::store::registry::Registry;
use crate::store::{Store, StoreError};
use crate::trust::{Reader, TrustError};

type Body = BoxBody<Bytes, std::io::Error>;

/// Largest manifest served.
const MAX_MANIFEST: u64 = crate::store::copy::MAX_MANIFEST;
/// Largest blob streamed.
const MAX_BLOB: u64 = 16 << 30;
/// Manifest bytes kept in memory, by digest (content-addressed: safe).
const MANIFEST_CACHE_BYTES: usize = 64 << 20;
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
    /// Platform manifests of indexes admitted here.
    children: Mutex<BTreeSet<String>>,
    /// One decision at a time per repository.
    deciding: Mutex<()>,
}

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

struct State {
    config: ProxyConfig,
    repos: Mutex<HashMap<String, Arc<RepoState>>>,
    manifests: Mutex<ManifestCache>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    fn store(&self, upstream: &Upstream, repo: &str) -> Result<Registry, StoreError> {
        let credentials =
            crate::auth::for_registry(&upstream.registry).map_err(|e| StoreError::Registry {
                what: format!("credentials for {}", upstream.registry),
                detail: e.to_string(),
            })?;
        let lock = self.config.trust.dir.join("locks").join(format!(
            "{}.lock",
            crate::store::metadata_dir::encode_segment(&format!("{}/{repo}", upstream.registry))
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
            children: Mutex::new(BTreeSet::new()),
            deciding: Mutex::new(()),
        });
        let mut repos = lock(&self.repos);
        if repos.len() >= MAX_REPOS {
            repos.clear();
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
        Reference::Digest(d) => match repo.store.manifest(d, MAX_MANIFEST) {
            Ok(bytes) => Some((bytes, d.clone())),
            Err(StoreError::Registry { detail, .. }) if detail.contains("404") => None,
            Err(e) => return Err(e),
        },
    };
    Ok(got.map(|(bytes, digest)| {
        let media = crate::store::media_type_of(&bytes);
        (Arc::new(Manifest { bytes, media }), digest)
    }))
}

fn decide(state: &State, upstream: &Upstream, repo_path: &str, reference: &Reference) -> (Answer, Decision) {
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
    let policy = match Policy::load(&state.config.trust.dir) {
        Ok(p) => p,
        Err(e) => return undecided(e.to_string()),
    };
    let level = crate::gate::effective(state.config.level, policy.lookup(&repo_id).map(|s| s.level));
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
    let verdict = {
        let _one = lock(&repo.deciding);
        (|| -> Result<crate::trust::Verdict, TrustError> {
            let mut reader = Reader::open(&state.config.trust, &repo_id, &repo.store, false)?;
            match reference {
                Reference::Tag(t) => {
                    let signed = reader.resolve_tag(t)?;
                    Ok(crate::trust::Verdict {
                        how: format!("signed by {}", signed.role),
                        digest: signed.digest,
                    })
                }
                Reference::Digest(d) => {
                    let children = lock(&repo.children).clone();
                    reader.admit_digest(d, &children)
                }
            }
        })()
    };
    match verdict {
        Ok(v) => {
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
            lock(&repo.children).extend(crate::trust::decide::index_children(&entry.bytes));
            if let Reference::Tag(t) = reference {
                warn_if_moved(state.config.log, &repo, &repo_id, t, &v.digest);
            }
            let reason = v.how;
            (
                Answer::Manifest {
                    entry,
                    digest: v.digest.clone(),
                },
                Decision {
                    verdict: "served",
                    digest: Some(v.digest),
                    reason,
                },
            )
        }
        Err(e) if e.is_refusal() && level == Level::Audit => {
            passed("passed (audit)", format!("refused in audit mode: {e}"))
        }
        Err(e) if e.is_refusal() => (
            Answer::Refused(format!("vouch: {e}")),
            Decision {
                verdict: "refused",
                digest: None,
                reason: e.to_string(),
            },
        ),
        Err(e) => undecided(e.to_string()),
    }
}

/// Logs a warning when the upstream tag no longer points at the signed
/// digest the proxy served (someone moved it without signing, or signing
/// has not caught up). Off the answer's path: a warm pull stays one
/// upstream request.
fn warn_if_moved(format: LogFormat, repo: &Arc<RepoState>, repo_id: &str, tag: &str, signed: &str) {
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
                LogFormat::Json => eprintln!(
                    "{}",
                    serde_json::json!({"reference": format!("{repo_id}:{tag}"), "digest": signed, "warning": message})
                ),
                LogFormat::Text => eprintln!("warning: {message}"),
            }
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => drop(handle.spawn_blocking(check)),
        Err(_) => check(),
    }
}

fn log(config: &ProxyConfig, peer: SocketAddr, method: &Method, what: &str, d: &Decision, started: Instant) {
    let ms = started.elapsed().as_millis();
    match config.log {
        LogFormat::Json => eprintln!(
            "{}",
            serde_json::json!({
                "client": peer.to_string(), "method": method.as_str(), "reference": what,
                "digest": d.digest, "verdict": d.verdict, "reason": d.reason, "ms": ms,
            })
        ),
        LogFormat::Text => eprintln!(
            "{peer} {method} {what} {} {}{} ({ms} ms)",
            d.verdict,
            d.digest.as_deref().unwrap_or("-"),
            if d.reason.is_empty() {
                String::new()
            } else {
                format!(" {}", d.reason)
            },
        ),
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
    // Each transfer has its own client: a large blob must not hold up the
    // repository's other requests.
    let store = match state.store(&upstream, &repo) {
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
        return match tokio::task::spawn_blocking(move || store.head_blob(&d)).await {
            Ok(Ok(Some(len))) => answer(StatusCode::OK, len, full(Bytes::new())),
            Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown", true),
            Ok(Err(e)) => error(UNDECIDED, "UNAVAILABLE", &format!("vouch: {e}"), true),
            Err(e) => error(UNDECIDED, "UNAVAILABLE", &format!("vouch: {e}"), true),
        };
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let (start_tx, start_rx) = tokio::sync::oneshot::channel::<BlobStart>();
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
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
        match (result, start_tx.take()) {
            (Ok(false), Some(s)) => {
                let _ = s.send(BlobStart::Missing);
            }
            (Err(e), Some(s)) => {
                let _ = s.send(BlobStart::Failed(e.to_string()));
            }
            // Mid-transfer: the body ends in an error, so the client sees a
            // failed download, never a wrong blob.
            (Err(_), None) => failed_in_task.store(true, std::sync::atomic::Ordering::SeqCst),
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
        repos: Mutex::new(HashMap::new()),
        manifests: Mutex::new(ManifestCache::default()),
    });
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| ProxyError(format!("listening on {listen}: {e}")))?;
        let bound = listener.local_addr().map_err(|e| ProxyError(e.to_string()))?;
        eprintln!("vouch proxy on {scheme}://{bound} for {}", names.join(", "));
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| handle(state.clone(), peer, req));
                let http = hyper::server::conn::http1::Builder::new();
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(stream).await {
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
