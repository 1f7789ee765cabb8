//! Trust stores and fetchers at the edge: they move bytes; the TUF core
//! decides what the bytes mean.

pub mod artifact;
pub mod fetch;
pub mod metadata_dir;
pub mod oci_layout;
pub mod tuf_repo;

pub use fetch::{DirFetcher, FetchError, FetchErrorKind, Fetcher, HttpFetcher};

use std::path::Path;

/// Errors of the image and trust stores.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Something that should exist does not.
    #[error("no {what}")]
    NotFound {
        /// What is missing.
        what: String,
    },
    /// Content that does not parse or does not match its digest.
    #[error("{what} is malformed: {reason}")]
    Malformed {
        /// What.
        what: String,
        /// Why.
        reason: String,
    },
    /// Content larger than its limit.
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// File-system trouble.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
