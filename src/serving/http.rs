//! Listening for the long-running gates: TLS, a bound on connections, a
//! deadline for each request's headers, a watchdog that closes a
//! connection whose client stopped reading a transfer, and log lines.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Request, Response};

/// A response body.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// Client connections served at once.
pub const MAX_CONNECTIONS: usize = 1024;
/// Time a client has for its TLS handshake, and for each request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Time an answer may wait on a client that takes no byte of it before
/// its connection is closed (a client that never reads holds nothing
/// longer).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A whole body in memory.
pub fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// Why serving could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServeError(pub String);

/// A TLS acceptor for a PEM certificate chain and key (HTTP/1.1 only).
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad =
        |what: &std::path::Path, e: &dyn std::fmt::Display| ServeError(format!("{}: {e}", what.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError(format!("TLS certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// What a connection's socket reports to its watchdog: since when a write
/// has been waiting for the client to take bytes.
#[derive(Debug, Default)]
struct Activity {
    /// 0: no write is waiting; else 1 + ms since `start` when one began to.
    blocked_ms: AtomicU64,
    start: std::sync::OnceLock<Instant>,
}

impl Activity {
    fn now_ms(&self) -> u64 {
        let start = self.start.get_or_init(Instant::now);
        u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn wrote(&self) {
        self.blocked_ms.store(0, Ordering::Relaxed);
    }

    fn blocked(&self) {
        let now = self.now_ms() + 1;
        let _ = self
            .blocked_ms
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Whether a write has waited on the client longer than `limit`.
    fn stalled(&self, limit: Duration) -> bool {
        let since = self.blocked_ms.load(Ordering::Relaxed);
        since != 0
            && self.now_ms().saturating_sub(since - 1) > u64::try_from(limit.as_millis()).unwrap_or(u64::MAX)
    }
}

/// A connection's socket, its writes watched: a client that stops reading
/// any answer (a blob, a manifest, pipelined requests) leaves a write
/// waiting, which the watchdog sees.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Watched<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> Watched<S> {
    fn watch<T>(&self, p: std::task::Poll<std::io::Result<T>>) -> std::task::Poll<std::io::Result<T>> {
        match &p {
            std::task::Poll::Pending => self.activity.blocked(),
            std::task::Poll::Ready(_) => self.activity.wrote(),
        }
        p
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let p = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(p)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let p = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(p)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let p = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(p)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Binds `listen`, logs `NAME on SCHEME://ADDRESS for FOR` (a JSON line
/// when `json`), and serves connections ([`serve`]) on the shared runtime
/// until the process ends.
pub fn run<H, F>(
    listen: SocketAddr,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    name: &str,
    serving_for: &str,
    json: bool,
    handle: H,
) -> Result<(), ServeError>
where
    H: Fn(SocketAddr, Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    crate::store::registry::runtime().block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| ServeError(format!("listening on {listen}: {e}")))?;
        let bound = listener.local_addr().map_err(|e| ServeError(e.to_string()))?;
        log_line(match json {
            true => serde_json::json!({
                "time": timestamp(), "started": name, "listen": format!("{scheme}://{bound}"), "for": serving_for,
            })
            .to_string(),
            false => format!("{} {name} on {scheme}://{bound} for {serving_for}", timestamp()),
        });
        serve(listener, acceptor, handle).await;
        Ok(())
    })
}

/// Serves connections from `listener` until the process ends, calling
/// `handle` for each request. At most [`MAX_CONNECTIONS`] at once; the TLS
/// handshake and each request's headers have [`HEADER_TIMEOUT`]; a
/// connection whose client leaves an answer unread for [`STALL_TIMEOUT`]
/// is closed.
pub async fn serve<H, F>(
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    handle: H,
) where
    H: Fn(SocketAddr, Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        // At most MAX_CONNECTIONS at once: the next waits for a slot.
        let Ok(slot) = connections.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                log_line(format!("{} warning: accepting a connection: {e}", timestamp()));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let handle = handle.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let activity = Arc::new(Activity::default());
            let stream = Watched {
                inner: stream,
                activity: activity.clone(),
            };
            let service = hyper::service::service_fn(move |req| {
                let f = handle(peer, req);
                async move { Ok::<_, Infallible>(f.await) }
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let served = async move {
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
            };
            let watchdog = async move {
                loop {
                    tokio::time::sleep(STALL_TIMEOUT / 4).await;
                    if activity.stalled(STALL_TIMEOUT) {
                        return;
                    }
                }
            };
            // Whichever ends first ends the connection (dropping it closes
            // the socket and every transfer it had).
            futures_util::future::select(Box::pin(served), Box::pin(watchdog)).await;
        });
    }
}

/// The time now, RFC 3339, for log lines.
pub fn timestamp() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Writes one log line with one write: stderr is unbuffered, and lines
/// from concurrent requests must not interleave.
/// Notices of the trust layer as log lines: JSON when `json`, else text,
/// each with its timestamp.
pub fn notice_logger(json: bool) -> crate::trust::Notify {
    std::sync::Arc::new(move |n: &crate::trust::Notice| {
        if json {
            log_line(
                serde_json::json!({"time": timestamp(), "level": n.level(), "notice": n.to_string()})
                    .to_string(),
            );
        } else {
            log_line(format!("{} {}: {n}", timestamp(), n.level()));
        }
    })
}

pub fn log_line(line: String) {
    use std::io::Write;
    let mut line = line;
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
