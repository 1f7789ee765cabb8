//! Trust stores and fetchers at the edge: they move bytes; the TUF core
//! decides what the bytes mean.

pub mod artifact;
pub mod auth;
pub mod copy;
pub mod fetch;
pub mod metadata_dir;
pub mod notary_server;
pub mod oci_layout;
pub mod registry;
pub mod safe_dir;
pub mod staged;
pub mod staging;
pub mod tuf_repo_dir;

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
    /// The registry could not be reached or answered with an error.
    #[error("{what}: {detail}")]
    Registry {
        /// What was being done.
        what: String,
        /// What went wrong (unreachable, HTTP status, authentication).
        detail: String,
    },
    /// The registry could not be reached at all.
    #[error("registry {registry} unreachable ({cause}) while reading {what}")]
    Unreachable {
        /// `host[:port]`.
        registry: String,
        /// In plain words: connection refused, no such host, timed out, …
        cause: String,
        /// What was being done.
        what: String,
    },
    /// A symbolic link, FIFO, device or directory where a layout must have a
    /// regular file (or a file where it must have a directory).
    #[error("{path} is {found}, which vouch does not follow or read inside an image layout")]
    Unsafe {
        /// Where.
        path: String,
        /// What is there.
        found: &'static str,
    },
    /// A layout's `index.json` names one tag twice.
    #[error("{index} names the tag {tag:?} more than once, so which image it is depends on who reads it")]
    DuplicateTag {
        /// Which `index.json`.
        index: String,
        /// The tag.
        tag: String,
    },
    /// More tags of a kind than vouch reads.
    #[error("{what}: more than {limit}")]
    TooMany {
        /// What.
        what: String,
        /// The limit.
        limit: usize,
    },
    /// A layout's `index.json` has two keys in one object that readers
    /// which ignore case (Go's `encoding/json`: skopeo, podman,
    /// containerd) take as one.
    #[error(
        "{index} has the keys {first:?} and {second:?} in one object; readers that ignore case (skopeo, podman, containerd) take them as one, so which image it names depends on who reads it"
    )]
    AmbiguousKeys {
        /// Which `index.json`.
        index: String,
        /// One key.
        first: String,
        /// The key that collides with it.
        second: String,
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
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            StoreError::Unsafe { .. } => "replace it with the regular file (or directory) itself; \
                a layout is untrusted input, so vouch opens nothing in it through a link"
                .to_owned(),
            StoreError::DuplicateTag { tag, .. } => format!(
                "remove all but one entry for {tag:?} from index.json (or re-tag the layout with skopeo), then retry"
            ),
            StoreError::AmbiguousKeys { second, .. } => format!(
                "remove the key {second:?} from index.json (or re-tag the layout with skopeo), then retry"
            ),
            StoreError::Unreachable { registry, .. } => format!(
                "check that {registry} is up and reachable from here (name, port, proxy settings), then try again; nothing was decided"
            ),
            _ => "check the image store and try again; nothing was decided".to_owned(),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// A manifest's own `mediaType`, or the OCI image manifest type when it
/// names none.
pub fn media_type_of(manifest: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(manifest)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(str::to_owned))
        .unwrap_or_else(|| crate::media_type::OCI_MANIFEST.to_owned())
}

/// Where a tag must point for a tag update to go ahead (a compare-and-swap
/// where the store can do one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagExpect<'a> {
    /// Anywhere: overwrite.
    Anything,
    /// Nowhere yet, or at this digest (`None`: untagged).
    At(Option<&'a str>),
}

impl TagExpect<'_> {
    /// Whether a tag now at `current` may be moved.
    pub fn allows(self, current: Option<&str>) -> bool {
        match self {
            TagExpect::Anything => true,
            TagExpect::At(expected) => current == expected,
        }
    }
}

/// Where images and trust artifacts live: an OCI layout or a registry.
pub trait Store: std::fmt::Debug + Send + Sync {
    /// For messages: `oci:/dir` or `registry/repo`.
    fn describe(&self) -> String;
    /// Whether [`Store::put_manifest`]'s check of the current tag and its
    /// move are one atomic step for every writer (a layout, under its
    /// lock), not only for the writers of this machine (a registry).
    fn atomic_tags(&self) -> bool {
        false
    }
    /// The digest a tag points at, if the tag exists (a HEAD request on a
    /// registry).
    fn head(&self, tag: &str) -> Result<Option<String>, StoreError> {
        Ok(self.resolve(tag)?.map(|d| d.digest))
    }
    /// [`Store::head`] for many tags, in order (a registry asks at once; a
    /// layout reads its `index.json` once).
    fn head_many(&self, tags: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        Ok(self
            .resolve_many(tags)?
            .into_iter()
            .map(|d| d.map(|d| d.digest))
            .collect())
    }
    /// The manifest a tag points at, if the tag exists.
    fn resolve(&self, tag: &str) -> Result<Option<oci_layout::Descriptor>, StoreError>;
    /// [`Store::resolve`] for many tags, in order (a registry asks in
    /// parallel).
    fn resolve_many(&self, tags: &[String]) -> Result<Vec<Option<oci_layout::Descriptor>>, StoreError> {
        tags.iter().map(|t| self.resolve(t)).collect()
    }
    /// The manifest a tag points at, at most `max` bytes, and its digest
    /// (one request on a registry).
    fn tagged_manifest(&self, tag: &str, max: u64) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        match self.resolve(tag)? {
            None => Ok(None),
            Some(d) => Ok(Some((self.manifest(&d.digest, max)?, d.digest))),
        }
    }
    /// A manifest by digest (checked), at most `max` bytes.
    fn manifest(&self, digest: &str, max: u64) -> Result<Vec<u8>, StoreError>;
    /// A blob by digest (checked), at most `max` bytes.
    fn blob(&self, digest: &str, max: u64) -> Result<Vec<u8>, StoreError>;
    /// Stores a blob; returns its digest.
    fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError>;
    /// A blob's bytes as they arrive, at most `max` of them (a longer blob
    /// is an error while reading): unchecked, the consumer checks the digest.
    fn open_blob(&self, digest: &str, max: u64) -> Result<Box<dyn std::io::Read + Send + '_>, StoreError>;
    /// A blob as a local file, when the store keeps it in one (a layout):
    /// unchecked, at most `max` bytes long.
    fn open_blob_file(&self, _digest: &str, _max: u64) -> Result<Option<std::fs::File>, StoreError> {
        Ok(None)
    }
    /// Stores a blob read from a local file (see [`Store::put_blob_from`]);
    /// a registry uploads it straight from the file, with no copy.
    fn put_blob_file(&self, digest: &str, max: u64, mut file: std::fs::File) -> Result<(), StoreError> {
        self.put_blob_from(digest, max, &mut file)
    }
    /// Whether the store already holds a blob.
    fn has_blob(&self, digest: &str) -> Result<bool, StoreError>;
    /// Stores a blob read from `src` without holding it in memory; it is
    /// stored only if it is at most `max` bytes and its digest is `digest`.
    fn put_blob_from(&self, digest: &str, max: u64, src: &mut dyn std::io::Read) -> Result<(), StoreError>;
    /// Stores a manifest by digest (no tag): children of an image index.
    fn put_manifest_by_digest(&self, bytes: &[u8], media_type: &str) -> Result<String, StoreError>;
    /// The tags that begin with `prefix`, in order; more than `max` is an
    /// error (a store can hold any number of tags; vouch reads a bounded
    /// few, its staged changes).
    fn tags_with_prefix(&self, prefix: &str, max: usize) -> Result<Vec<String>, StoreError>;
    /// Removes `tag` if it points at `digest` (a manifest the caller read
    /// and checked): a registry deletes that manifest by digest (never
    /// whatever the tag names by then), or, where it deletes nothing,
    /// moves the tag to `tombstone` (a small manifest readers skip).
    fn remove_tag(
        &self,
        tag: &str,
        digest: &str,
        tombstone: &[u8],
        media_type: &str,
    ) -> Result<(), StoreError>;
    /// Stores a manifest and points `tag` at it, if the tag is where
    /// `expect` says. Returns `false`, changing nothing, when it is not.
    fn put_manifest(
        &self,
        tag: &str,
        bytes: &[u8],
        media_type: &str,
        expect: TagExpect<'_>,
    ) -> Result<bool, StoreError>;
}
