//! `vouch admission`: a Kubernetes admission webhook (and a Gatekeeper
//! external-data provider) that admits a workload only when trust data
//! signs every image it names.
//!
//! It speaks `admission.k8s.io/v1` AdmissionReview over HTTPS:
//! * `POST /mutate`: each image named by tag is rewritten to
//!   `NAME:TAG@sha256:SIGNED` (JSON Patch), so the node pulls exactly what
//!   was verified; an image named by digest is admitted only if a signed
//!   tag maps to it;
//! * `POST /validate`: the same decisions without rewriting; an image
//!   named only by tag is refused (the node could pull anything the tag
//!   names later);
//! * `POST /gatekeeper`: Gatekeeper's external data (image in, the image
//!   pinned to its signed digest, or an error, out);
//! * `GET /healthz`.
//!
//! Each image is decided by [`crate::serving::Decider`], the decision
//! `vouch proxy` makes, with the same pins and `policy.toml`. A refusal
//! denies the object with a message naming each image and why; under
//! `audit` it is admitted with Kubernetes warnings. When the registry
//! cannot be asked in time, the failure policy decides: closed (deny) by
//! default, or open (admit, with a warning). Every answer is given within
//! the deadline, well inside the API server's 10 seconds.

mod gatekeeper;
pub mod review;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use kube_core::DynamicObject;
use kube_core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};

use crate::policy::Level;
use crate::proxy::LogFormat;
use crate::serving::Decider;
use crate::serving::http::{Body, full, log_line, timestamp};
use crate::trust::Trust;

/// Largest request body read (an AdmissionReview carries the object).
pub const MAX_BODY: usize = 4 << 20;

/// What to do when a registry cannot be asked in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Deny (the default).
    Closed,
    /// Admit, with a warning.
    Open,
}

/// The webhook's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The registries whose images it checks (`host[:port]`); an image
    /// from any other is refused unless policy switches it off.
    pub registries: Vec<String>,
    /// Pins, policy and the verified cache.
    pub trust: Trust,
    /// The level the environment sets; policy scopes may lower it.
    pub level: Level,
    /// Certificate and key (PEM).
    pub tls: (PathBuf, PathBuf),
    /// Time an answer may take.
    pub deadline: Duration,
    /// What "could not decide" does.
    pub failure: Failure,
    /// Log format.
    pub log: LogFormat,
}

/// Why the webhook could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdmissionError(pub String);

struct State {
    settings: Settings,
    decider: Arc<Decider>,
}

fn json_answer(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let len = body.len();
    let mut resp = Response::new(full(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut resp = Response::new(full(Bytes::from(format!("{text}\n"))));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

/// Reads a request body, at most [`MAX_BODY`] bytes, by `deadline`.
async fn read_body(req: Request<Incoming>, deadline: Instant) -> Result<Bytes, (StatusCode, String)> {
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY);
    let wait = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(wait, limited.collect()).await {
        Ok(Ok(body)) => Ok(body.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request is larger than {MAX_BODY} bytes"),
        )),
        Ok(Err(e)) => Err((StatusCode::BAD_REQUEST, format!("reading the request: {e}"))),
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            "the request was not sent in time".to_owned(),
        )),
    }
}

/// Answers one AdmissionReview.
async fn review(
    state: &Arc<State>,
    peer: SocketAddr,
    body: &[u8],
    mutate: bool,
    deadline: Instant,
) -> Response<Body> {
    let started = Instant::now();
    let parsed: AdmissionReview<DynamicObject> = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return json_answer(
                StatusCode::BAD_REQUEST,
                serialized(&AdmissionResponse::invalid(format!("not an AdmissionReview: {e}")).into_review()),
            );
        }
    };
    let req: AdmissionRequest<DynamicObject> = match parsed.try_into() {
        Ok(r) => r,
        Err(e) => {
            return json_answer(
                StatusCode::BAD_REQUEST,
                serialized(
                    &AdmissionResponse::invalid(format!("not an AdmissionReview request: {e}")).into_review(),
                ),
            );
        }
    };
    let mut resp = AdmissionResponse::from(&req);
    let kind = req.kind.kind.clone();
    let what = format!(
        "{kind} {}/{}",
        req.namespace.as_deref().unwrap_or("-"),
        if req.name.is_empty() { "-" } else { &req.name }
    );
    let object = match (&req.operation, &req.object) {
        (Operation::Create | Operation::Update, Some(o)) => serde_json::to_value(o).unwrap_or_default(),
        // Deleting or connecting runs nothing new.
        _ => return json_answer(StatusCode::OK, serialized(&resp.into_review())),
    };
    let Some(pointer) = review::pod_spec_pointer(&kind) else {
        let resp = deny(
            resp,
            format!(
                "vouch admission does not know where a {kind} names its images; check the webhook's rules"
            ),
        );
        return json_answer(StatusCode::OK, serialized(&resp.into_review()));
    };
    let fields = review::images(&object, pointer);
    let distinct: std::collections::BTreeSet<&String> = fields.iter().map(|(_, i)| i).collect();
    if distinct.len() > review::MAX_IMAGES {
        let resp = deny(
            resp,
            format!("{what} names more than {} images", review::MAX_IMAGES),
        );
        return json_answer(StatusCode::OK, serialized(&resp.into_review()));
    }
    let decided = review::decide_all(
        &state.decider,
        &state.settings,
        fields.iter().map(|(_, i)| i.clone()),
        deadline,
    )
    .await;
    let answer = review::answer(&fields, &decided, mutate, state.settings.failure);
    if !answer.warnings.is_empty() {
        resp.warnings = Some(answer.warnings.clone());
    }
    let allowed = answer.denied.is_empty();
    if !allowed {
        resp = deny(
            resp,
            format!("vouch refused {what}: {}", answer.denied.join("; ")),
        );
    } else if !answer.patch.is_empty() {
        let patch: Result<json_patch::Patch, _> =
            serde_json::from_value(serde_json::Value::Array(answer.patch));
        resp = match patch
            .map_err(|e| e.to_string())
            .and_then(|p| resp.clone().with_patch(p).map_err(|e| e.to_string()))
        {
            Ok(r) => r,
            Err(e) => deny(resp, format!("vouch could not pin {what}: {e}")),
        };
    }
    log_review(
        state,
        peer,
        &req.uid,
        mutate,
        &what,
        allowed,
        &answer.log,
        started,
    );
    json_answer(StatusCode::OK, serialized(&resp.into_review()))
}

/// A denial, its message bounded (the API server shows it to the user).
fn deny(resp: AdmissionResponse, message: String) -> AdmissionResponse {
    let mut message = message;
    if message.len() > 4096 {
        let mut cut = 4096;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str(" …");
    }
    let mut resp = resp.deny(message);
    resp.result.code = 403;
    resp.result.reason = "Forbidden".to_owned();
    resp
}

/// The bytes sent back. A patch goes as base64 text, the form the API
/// documents for `[]byte` (kube-core writes it as an array of numbers).
fn serialized<T: serde::Serialize>(value: &T) -> Vec<u8> {
    use base64::Engine;
    let mut v = serde_json::to_value(value).unwrap_or_default();
    if let Some(patch) = v.pointer_mut("/response/patch")
        && let Some(numbers) = patch.as_array()
    {
        let bytes: Vec<u8> = numbers
            .iter()
            .filter_map(|n| n.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect();
        *patch = serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn log_review(
    state: &State,
    peer: SocketAddr,
    uid: &str,
    mutate: bool,
    what: &str,
    allowed: bool,
    images: &[(String, String)],
    started: Instant,
) {
    let ms = started.elapsed().as_millis();
    let endpoint = if mutate { "mutate" } else { "validate" };
    let verdict = if allowed { "allowed" } else { "denied" };
    match state.settings.log {
        LogFormat::Json => log_line(
            serde_json::json!({
                "time": timestamp(), "client": peer.to_string(), "endpoint": endpoint, "uid": uid,
                "object": what, "verdict": verdict,
                "images": images.iter().map(|(i, v)| serde_json::json!({"image": i, "verdict": v})).collect::<Vec<_>>(),
                "ms": ms,
            })
            .to_string(),
        ),
        LogFormat::Text => log_line(format!(
            "{} {peer} {endpoint} {what} {verdict}: {} ({ms} ms)",
            timestamp(),
            images
                .iter()
                .map(|(i, v)| format!("{i} {v}"))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

async fn handle(state: Arc<State>, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    let deadline = Instant::now() + state.settings.deadline;
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/healthz") => plain(StatusCode::OK, "ok"),
        (Method::POST, "/mutate" | "/validate" | "/gatekeeper") => {
            let body = match read_body(req, deadline).await {
                Ok(b) => b,
                Err((status, why)) => return plain(status, &why),
            };
            match path.as_str() {
                "/gatekeeper" => gatekeeper::provide(&state.decider, &state.settings, &body, deadline).await,
                p => review(&state, peer, &body, p == "/mutate", deadline).await,
            }
        }
        (_, "/healthz" | "/mutate" | "/validate" | "/gatekeeper") => {
            plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => plain(
            StatusCode::NOT_FOUND,
            "not found: vouch admission serves /mutate, /validate, /gatekeeper and /healthz",
        ),
    }
}

/// Runs the webhook until the process ends.
pub fn serve(settings: Settings) -> Result<(), AdmissionError> {
    if settings.registries.is_empty() {
        return Err(AdmissionError("no --registry given".to_owned()));
    }
    let acceptor = crate::serving::http::tls_acceptor(&settings.tls.0, &settings.tls.1)
        .map_err(|e| AdmissionError(e.to_string()))?;
    let listen = settings.listen;
    let decider = Arc::new(Decider::new(settings.trust.clone(), settings.level));
    let registries = settings.registries.join(", ");
    let json = settings.log == LogFormat::Json;
    let state = Arc::new(State { settings, decider });
    crate::serving::http::run(
        listen,
        Some(acceptor),
        "vouch admission",
        &registries,
        json,
        move |peer, req| handle(state.clone(), peer, req),
    )
    .map_err(|e| AdmissionError(e.0))
}
