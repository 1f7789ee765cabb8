//! Trust stores and fetchers at the edge: they move bytes; the TUF core
//! decides what the bytes mean.

pub mod fetch;
pub mod metadata_dir;
pub mod tuf_repo;

pub use fetch::{DirFetcher, FetchError, FetchErrorKind, Fetcher, HttpFetcher};
