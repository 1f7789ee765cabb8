//! Fetching bytes with a size limit, over HTTP(S) or from a directory.

use std::io::Read;
use std::path::PathBuf;

/// Why bytes could not be fetched. Never "unsigned", never "verified":
/// callers report these as "could not decide".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fetching {location}: {kind}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
pub struct FetchError {
    /// URL or path.
    pub location: String,
    /// What went wrong.
    pub kind: FetchErrorKind,
    /// More detail, if any.
    pub detail: String,
}

/// Kinds of fetch failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchErrorKind {
    /// Connection refused, DNS failure, TLS failure, timeout.
    #[error("unreachable")]
    Unreachable,
    /// An HTTP status other than 200 and 404.
    #[error("HTTP status {0}")]
    Status(u16),
    /// More bytes than allowed.
    #[error("larger than the limit of {0} bytes")]
    TooLarge(u64),
    /// The body ended early or could not be read.
    #[error("truncated or unreadable body")]
    Truncated,
    /// A local file could not be read.
    #[error("I/O error")]
    Io,
}

/// Something that fetches bytes by location, up to a limit. `Ok(None)`
/// means the location does not exist (HTTP 404, no such file).
pub trait Fetcher {
    /// Fetches `location` (a URL or path), reading at most `max_bytes`.
    fn fetch(&mut self, location: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, FetchError>;
}

impl<F: Fetcher + ?Sized> Fetcher for &mut F {
    fn fetch(&mut self, location: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, FetchError> {
        (**self).fetch(location, max_bytes)
    }
}

impl<F: Fetcher + ?Sized> Fetcher for Box<F> {
    fn fetch(&mut self, location: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, FetchError> {
        (**self).fetch(location, max_bytes)
    }
}

/// An error and every error that caused it, `: `-separated.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut detail = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    detail
}

fn read_limited(mut r: impl Read, location: &str, max_bytes: u64) -> Result<Vec<u8>, FetchError> {
    let mut buf = Vec::new();
    let err = |kind, detail: String| FetchError {
        location: location.to_owned(),
        kind,
        detail,
    };
    (&mut r)
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| err(FetchErrorKind::Truncated, e.to_string()))?;
    if buf.len() as u64 > max_bytes {
        return Err(err(FetchErrorKind::TooLarge(max_bytes), String::new()));
    }
    Ok(buf)
}

/// HTTP(S) fetcher (rustls; plain HTTP as given in the URL).
#[derive(Debug)]
pub struct HttpFetcher {
    client: reqwest::blocking::Client,
}

impl HttpFetcher {
    /// A fetcher with a 30 s timeout.
    pub fn new() -> Result<HttpFetcher, FetchError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError {
                location: String::new(),
                kind: FetchErrorKind::Unreachable,
                detail: e.to_string(),
            })?;
        Ok(HttpFetcher { client })
    }
}

impl Fetcher for HttpFetcher {
    fn fetch(&mut self, location: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, FetchError> {
        let err = |kind, detail: String| FetchError {
            location: location.to_owned(),
            kind,
            detail,
        };
        let resp = self
            .client
            .get(location)
            .send()
            .map_err(|e| err(FetchErrorKind::Unreachable, error_chain(&e)))?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            other => return Err(err(FetchErrorKind::Status(other), String::new())),
        }
        if let Some(len) = resp.content_length()
            && len > max_bytes
        {
            return Err(err(FetchErrorKind::TooLarge(max_bytes), String::new()));
        }
        let expected = resp.content_length();
        let body = read_limited(resp, location, max_bytes)?;
        if expected.is_some_and(|n| n != body.len() as u64) {
            return Err(err(FetchErrorKind::Truncated, String::new()));
        }
        Ok(Some(body))
    }
}

/// Fetches from a local directory (air-gapped bundles, tests): locations
/// are paths relative to it.
#[derive(Debug)]
pub struct DirFetcher {
    root: PathBuf,
}

impl DirFetcher {
    /// A fetcher reading below `root`.
    pub fn new(root: impl Into<PathBuf>) -> DirFetcher {
        DirFetcher { root: root.into() }
    }
}

impl Fetcher for DirFetcher {
    fn fetch(&mut self, location: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, FetchError> {
        let path = self.root.join(location);
        match std::fs::File::open(&path) {
            Ok(f) => read_limited(f, location, max_bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(FetchError {
                location: path.display().to_string(),
                kind: FetchErrorKind::Io,
                detail: e.to_string(),
            }),
        }
    }
}

/// A fetcher that fetches nothing: offline mode. Every request is an error
/// (could not decide), never "not found".
#[derive(Debug, Default)]
pub struct Offline;

impl Fetcher for Offline {
    fn fetch(&mut self, location: &str, _max_bytes: u64) -> Result<Option<Vec<u8>>, FetchError> {
        Err(FetchError {
            location: location.to_owned(),
            kind: FetchErrorKind::Io,
            detail: "offline: not in the cached trust data".to_owned(),
        })
    }
}
