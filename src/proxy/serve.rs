//! The proxy's HTTP side: each manifest request is decided by the shared
//! [`Decider`]; blobs stream from the upstream on the shared runtime, with
//! no thread held per transfer, and only while an image that references
//! them is still admitted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::route::{Route, route};
use super::{LogFormat, ProxyConfig, ProxyError};
use crate::serving::decider::MAX_MANIFEST;
use crate::serving::http::{Body, full, log_line, timestamp};
use crate::serving::{Decided, Decider, Reference, Target};
use crate::store::{Store, StoreError};

/// Largest blob streamed.
const MAX_BLOB: u64 = 16 << 30;
/// Time a manifest decision may take (the upstream's own timeouts are
/// shorter; this bounds waiting behind other requests).
const DECISION_DEADLINE: Duration = Duration::from_secs(90);

/// The status a refusal is answered with: 403 makes every client stop
/// (none falls back to the upstream, as some do on 404) and print the
/// message (see README, "Gate every pull").
const REFUSED: StatusCode = StatusCode::FORBIDDEN;
/// The status of "could not decide" (upstream down, 5xx, 429, auth).
const UNDECIDED: StatusCode = StatusCode::BAD_GATEWAY;

/// How often a served tag is compared with where the upstream's tag points
/// (for the log only: the answer never depends on it).
const MOVED_CHECK_EVERY: Duration = Duration::from_secs(30);
/// Tags whose last comparison is remembered.
const MAX_MOVED_CHECKS: usize = 4096;

struct State {
    config: ProxyConfig,
    decider: Arc<Decider>,
    /// When each served tag was last compared with the upstream's.
    moved_checked: Mutex<HashMap<String, Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
    api_headers(&mut resp);
    resp
}

fn api_headers(resp: &mut Response<Body>) {
    resp.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
}

/// Fetches a manifest upstream as the client asked for it (no decision:
/// content trust is off or auditing for the repository).
fn pass_through(store: &dyn Store, reference: &Reference) -> Result<Option<(Vec<u8>, String)>, StoreError> {
    match reference {
        Reference::Tag(t) => store.tagged_manifest(t, MAX_MANIFEST),
        Reference::Digest(d) => match store.tagged_manifest(d, MAX_MANIFEST)? {
            Some((_, actual)) if &actual != d => Err(StoreError::Malformed {
                what: format!("manifest {d}"),
                reason: "content does not match its digest".to_owned(),
            }),
            other => Ok(other),
        },
    }
}

fn manifest_answer(bytes: Bytes, media: &str, digest: &str, head: bool) -> Response<Body> {
    let len = bytes.len();
    let mut resp = Response::new(if head { full(Bytes::new()) } else { full(bytes) });
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(media) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(digest) {
        h.insert("docker-content-digest", v.clone());
        h.insert(header::ETAG, v);
    }
    api_headers(&mut resp);
    resp
}

/// Serves a manifest request as decided.
async fn manifest(
    state: Arc<State>,
    peer: SocketAddr,
    head: bool,
    target: Target,
    reference: Reference,
) -> Response<Body> {
    let started = Instant::now();
    let what = format!("{}{reference}", target.id());
    let decided = state
        .decider
        .answer(&target, &reference, started + DECISION_DEADLINE)
        .await;
    let (resp, decision) = match decided {
        Decided::Signed { verdict, manifest } => {
            if let Reference::Tag(t) = &reference {
                warn_if_moved(&state, &target, t, &verdict.digest);
            }
            (
                manifest_answer(
                    Bytes::copy_from_slice(&manifest.bytes),
                    &manifest.media,
                    &verdict.digest,
                    head,
                ),
                Decision {
                    verdict: "served",
                    digest: Some(verdict.digest),
                    reason: verdict.how,
                },
            )
        }
        Decided::Audited(why) => {
            passed(
                &state,
                &target,
                &reference,
                head,
                "passed (audit)",
                format!("refused in audit mode: {why}"),
            )
            .await
        }
        Decided::Unchecked => {
            passed(
                &state,
                &target,
                &reference,
                head,
                "passed (content trust off)",
                String::new(),
            )
            .await
        }
        Decided::Refused(why) => (
            error(REFUSED, "DENIED", &format!("vouch: {why}"), head),
            Decision {
                verdict: "refused",
                digest: None,
                reason: why,
            },
        ),
        Decided::Undecided(why) | Decided::Broken(why) => (
            error(
                UNDECIDED,
                "UNAVAILABLE",
                &format!("vouch: could not decide on {what}: {why}"),
                head,
            ),
            Decision {
                verdict: "undecided",
                digest: None,
                reason: why,
            },
        ),
    };
    let method = if head { Method::HEAD } else { Method::GET };
    log(&state.config, peer, &method, &what, &decision, started);
    resp
}

/// Serves what the upstream has, unchecked (off, or audit).
async fn passed(
    state: &Arc<State>,
    target: &Target,
    reference: &Reference,
    head: bool,
    verdict: &'static str,
    reason: String,
) -> (Response<Body>, Decision) {
    let what = format!("{}{reference}", target.id());
    let fetched = {
        let (decider, target, reference) = (state.decider.clone(), target.clone(), reference.clone());
        state
            .decider
            .blocking(Instant::now() + DECISION_DEADLINE, move || {
                let repo = decider.repo(&target)?;
                let got = pass_through(&repo.store, &reference).map_err(|e| e.to_string())?;
                if let Some((bytes, digest)) = &got {
                    decider.note_served(&target.id(), digest, bytes);
                }
                Ok::<_, String>(got)
            })
            .await
            .unwrap_or_else(|d| match d {
                Decided::Undecided(e) | Decided::Broken(e) => Err(e),
                _ => Err("internal error".to_owned()),
            })
    };
    match fetched {
        Ok(Some((bytes, digest))) => {
            let media = crate::store::media_type_of(&bytes);
            (
                manifest_answer(Bytes::from(bytes), &media, &digest, head),
                Decision {
                    verdict,
                    digest: Some(digest),
                    reason,
                },
            )
        }
        Ok(None) => (
            error(
                StatusCode::NOT_FOUND,
                "MANIFEST_UNKNOWN",
                &format!("{what}: manifest unknown"),
                head,
            ),
            Decision {
                verdict,
                digest: None,
                reason: "not in the upstream".to_owned(),
            },
        ),
        Err(e) => (
            error(UNDECIDED, "UNAVAILABLE", &format!("vouch: {what}: {e}"), head),
            Decision {
                verdict: "undecided",
                digest: None,
                reason: e,
            },
        ),
    }
}

/// Logs a warning when the upstream tag no longer points at the signed
/// digest the proxy served (someone moved it without signing, or signing
/// has not caught up). Off the answer's path, and at most every
/// [`MOVED_CHECK_EVERY`] per tag.
fn warn_if_moved(state: &Arc<State>, target: &Target, tag: &str, signed: &str) {
    let key = format!("{}:{tag}", target.id());
    {
        let mut checked = lock(&state.moved_checked);
        if checked.get(&key).is_some_and(|t| t.elapsed() < MOVED_CHECK_EVERY) {
            return;
        }
        if checked.len() >= MAX_MOVED_CHECKS {
            checked.clear();
        }
        checked.insert(key.clone(), Instant::now());
    }
    let (state, target, tag, signed) = (state.clone(), target.clone(), tag.to_owned(), signed.to_owned());
    let decider = state.decider.clone();
    decider.try_blocking(move || {
        let Ok(repo) = state.decider.repo(&target) else {
            return;
        };
        if let Ok(Some(now)) = repo.store.head(&tag)
            && now != signed
        {
            let message = format!("the upstream tag {key} points at {now}; vouch served the signed {signed}");
            match state.config.log {
                LogFormat::Json => log_line(
                    serde_json::json!({"time": timestamp(), "reference": key, "digest": signed, "warning": message})
                        .to_string(),
                ),
                LogFormat::Text => log_line(format!("{} warning: {message}", timestamp())),
            }
        }
    });
}

fn log(config: &ProxyConfig, peer: SocketAddr, method: &Method, what: &str, d: &Decision, started: Instant) {
    let ms = started.elapsed().as_millis();
    match config.log {
        LogFormat::Json => log_line(
            serde_json::json!({
                "time": timestamp(), "client": peer.to_string(), "method": method.as_str(),
                "reference": what, "digest": d.digest, "verdict": d.verdict, "reason": d.reason, "ms": ms,
            })
            .to_string(),
        ),
        LogFormat::Text => log_line(format!(
            "{} {peer} {method} {what} {} {}{} ({ms} ms)",
            timestamp(),
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

/// Answers a tag list with the tags trust data signs (what the proxy
/// would serve), paged as the distribution API pages it.
async fn tags(
    state: Arc<State>,
    peer: SocketAddr,
    head: bool,
    target: Target,
    name: String,
    n: Option<usize>,
    last: Option<String>,
) -> Response<Body> {
    let started = Instant::now();
    let what = format!("{}/tags/list", target.id());
    let method = if head { Method::HEAD } else { Method::GET };
    let listed = state.decider.tags(&target, started + DECISION_DEADLINE).await;
    let tags = match listed {
        Ok(t) => t,
        Err(d) => {
            let (status, code, verdict, why) = match d {
                Decided::Refused(why) => (REFUSED, "DENIED", "refused", why),
                Decided::Undecided(why) | Decided::Broken(why) => {
                    (UNDECIDED, "UNAVAILABLE", "undecided", why)
                }
                _ => (UNDECIDED, "UNAVAILABLE", "undecided", "internal error".to_owned()),
            };
            let decision = Decision {
                verdict,
                digest: None,
                reason: why.clone(),
            };
            log(&state.config, peer, &method, &what, &decision, started);
            return error(status, code, &format!("vouch: {why}"), head);
        }
    };
    let from = last
        .as_ref()
        .map_or(0, |l| tags.partition_point(|t| t.as_str() <= l.as_str()));
    let page = n.unwrap_or(usize::MAX).min(tags.len().saturating_sub(from));
    let listed: Vec<&String> = tags[from..from + page].iter().collect();
    let body = Bytes::from(serde_json::json!({"name": name, "tags": listed}).to_string());
    let len = body.len();
    let mut resp = Response::new(if head { full(Bytes::new()) } else { full(body) });
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if from + page < tags.len()
        && let (Some(n), Some(l)) = (n, listed.last())
        && let Ok(v) = HeaderValue::from_str(&format!("</v2/{name}/tags/list?n={n}&last={l}>; rel=\"next\""))
    {
        h.insert(header::LINK, v);
    }
    api_headers(&mut resp);
    let decision = Decision {
        verdict: "served",
        digest: None,
        reason: format!("{} signed tags", tags.len()),
    };
    log(&state.config, peer, &method, &what, &decision, started);
    resp
}

/// Serves a blob of an image still admitted, streamed and checked.
async fn blob(state: Arc<State>, head: bool, target: Target, digest: String) -> Response<Body> {
    let deadline = Instant::now() + DECISION_DEADLINE;
    match state.decider.admit_blob(&target, &digest, deadline).await {
        Ok(()) => {}
        Err(Decided::Undecided(why) | Decided::Broken(why)) => {
            return error(UNDECIDED, "UNAVAILABLE", &format!("vouch: {why}"), head);
        }
        Err(Decided::Refused(why)) => return error(REFUSED, "DENIED", &format!("vouch: {why}"), head),
        Err(_) => return error(REFUSED, "DENIED", "vouch: not admitted", head),
    }
    // Held for the whole transfer: the repository's state is not forgotten
    // while it is in use.
    let repo = match state.decider.repo_async(&target, deadline).await {
        Ok(r) => r,
        Err(_) => {
            return error(
                UNDECIDED,
                "UNAVAILABLE",
                "vouch: too busy to answer in time",
                head,
            );
        }
    };
    let answer = |len: Option<u64>, body: Body| {
        let mut resp = Response::new(body);
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
        return match repo.store.head_blob(&digest).await {
            Ok(Some(len)) => answer(len, full(Bytes::new())),
            Ok(None) => error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown", true),
            Err(e) => error(UNDECIDED, "UNAVAILABLE", &format!("vouch: {e}"), true),
        };
    }
    match repo.store.open_blob_stream(&digest, MAX_BLOB).await {
        Ok(Some((len, blob))) => {
            use futures_util::StreamExt;
            // The repository's state is held for the whole transfer: it is
            // not forgotten while in use.
            let held = repo.clone();
            let stream = blob.map(move |chunk| {
                let _ = &held;
                chunk.map(Frame::data)
            });
            answer(len, http_body_util::BodyExt::boxed(StreamBody::new(stream)))
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown", false),
        Err(e) => error(UNDECIDED, "UNAVAILABLE", &format!("vouch: {e}"), false),
    }
}

async fn handle(state: Arc<State>, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "vouch proxy serves pulls only",
            false,
        );
    }
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    match route(&state.config.upstreams, &path, query.as_deref()) {
        Route::Base => {
            let mut resp = Response::new(full(Bytes::from_static(b"{}")));
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            api_headers(&mut resp);
            resp
        }
        Route::Manifest {
            upstream,
            repo,
            reference,
        } => {
            let target = Target {
                registry: upstream.registry.clone(),
                repo,
            };
            manifest(state, peer, head, target, reference).await
        }
        Route::Blob {
            upstream,
            repo,
            digest,
        } => {
            let target = Target {
                registry: upstream.registry.clone(),
                repo,
            };
            blob(state, head, target, digest).await
        }
        Route::Tags {
            upstream,
            repo,
            name,
            n,
            last,
        } => {
            let target = Target {
                registry: upstream.registry.clone(),
                repo,
            };
            tags(state, peer, head, target, name, n, last).await
        }
        Route::Unsupported => error(
            StatusCode::NOT_FOUND,
            "UNSUPPORTED",
            "vouch proxy: not a pull it serves",
            head,
        ),
    }
}

/// Runs the proxy until the process ends.
pub fn serve(config: ProxyConfig) -> Result<(), ProxyError> {
    if !config.listen.ip().is_loopback() && config.tls.is_none() {
        return Err(ProxyError(format!(
            "{} is not a loopback address: serving it needs --tls-cert and --tls-key",
            config.listen
        )));
    }
    super::route::check_upstreams(&config.upstreams).map_err(ProxyError)?;
    let acceptor = match &config.tls {
        Some((cert, key)) => {
            Some(crate::serving::http::tls_acceptor(cert, key).map_err(|e| ProxyError(e.to_string()))?)
        }
        None => None,
    };
    let listen = config.listen;
    let names: Vec<String> = config
        .upstreams
        .iter()
        .map(|u| format!("{}={}", u.name, u.registry))
        .collect();
    let decider = Arc::new(Decider::new(config.trust.clone(), config.level));
    let json = config.log == LogFormat::Json;
    let state = Arc::new(State {
        config,
        decider,
        moved_checked: Mutex::new(HashMap::new()),
    });
    crate::serving::http::run(
        listen,
        acceptor,
        "vouch proxy",
        &names.join(", "),
        json,
        move |peer, req| handle(state.clone(), peer, req),
    )
    .map_err(|e| ProxyError(e.0))
}
