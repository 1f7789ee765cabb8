//! The trust artifact (see `docs/trust-format.md`): TUF metadata files as
//! layers of one OCI manifest tagged `vouch-trust`.

use std::collections::BTreeMap;

use serde_json::json;

use super::oci_layout::Descriptor;
use super::{FetchError, FetchErrorKind, Fetcher, Store, StoreError};

/// The tag of the trust artifact.
pub const TRUST_TAG: &str = "vouch-trust";
use crate::media_type::{
    OCI_EMPTY as EMPTY_MEDIA_TYPE, OCI_MANIFEST as MANIFEST_MEDIA_TYPE,
    VOUCH_TRUST_ARTIFACT as ARTIFACT_TYPE, VOUCH_TUF_METADATA as METADATA_MEDIA_TYPE,
};
const TITLE: &str = "org.opencontainers.image.title";
/// Largest trust manifest read.
pub const MAX_TRUST_MANIFEST: u64 = 4 << 20;

/// A trust artifact as found in a store.
#[derive(Clone, Debug)]
pub struct TrustArtifact {
    /// Digest of the trust manifest.
    pub digest: String,
    /// Metadata files by TUF file name.
    pub files: BTreeMap<String, Descriptor>,
}

/// Reads the trust artifact of a store, if it has one.
pub fn read(store: &dyn Store) -> Result<Option<TrustArtifact>, StoreError> {
    let Some((bytes, digest)) = store.tagged_manifest(TRUST_TAG, MAX_TRUST_MANIFEST)? else {
        return Ok(None);
    };
    parse_manifest(&digest, &bytes).map(Some)
}

/// Parses a trust manifest (whose digest is `digest`): its layers by file
/// name, each a plain name.
pub fn parse_manifest(digest: &str, bytes: &[u8]) -> Result<TrustArtifact, StoreError> {
    let bad = |reason: &str| StoreError::Malformed {
        what: format!("trust manifest {digest}"),
        reason: reason.to_owned(),
    };
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
    if v["artifactType"] != ARTIFACT_TYPE {
        return Err(bad("not a vouch trust artifact"));
    }
    let layers: Vec<Descriptor> =
        serde_json::from_value(v["layers"].clone()).map_err(|e| bad(&format!("layers: {e}")))?;
    let mut files = BTreeMap::new();
    for l in layers {
        let name = l
            .annotations
            .get(TITLE)
            .cloned()
            .ok_or_else(|| bad("a layer has no title"))?;
        if name.contains('/') || name.starts_with('.') {
            return Err(bad("a layer title is not a plain file name"));
        }
        files.insert(name, l);
    }
    Ok(TrustArtifact {
        digest: digest.to_owned(),
        files,
    })
}

/// Publishes `files` as the new trust artifact if the trust tag still
/// points at `expected` (the digest read before the change, or `None`).
/// Returns the new artifact's digest, or `None` when another writer
/// published first.
pub fn publish(
    store: &dyn Store,
    files: &BTreeMap<String, Vec<u8>>,
    expected: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let empty = store.put_blob(b"{}")?;
    let mut layers = Vec::new();
    for (name, bytes) in files {
        let digest = store.put_blob(bytes)?;
        layers.push(json!({
            "mediaType": METADATA_MEDIA_TYPE,
            "digest": digest,
            "size": bytes.len(),
            "annotations": { TITLE: name },
        }));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": { "mediaType": EMPTY_MEDIA_TYPE, "digest": empty, "size": 2 },
        "layers": layers,
        "annotations": { "dev.vouch.trust.format": "1" },
    });
    let bytes = serde_json::to_vec(&manifest).map_err(|e| StoreError::Malformed {
        what: "trust manifest".to_owned(),
        reason: e.to_string(),
    })?;
    let moved = store.put_manifest(
        TRUST_TAG,
        &bytes,
        MANIFEST_MEDIA_TYPE,
        super::TagExpect::At(expected),
    )?;
    Ok(moved.then(|| super::oci_layout::sha256_digest(&bytes)))
}

/// Serves the files of a trust artifact to the TUF client by name. The
/// artifact's manifest is read on the first request, so a client that
/// needs nothing (cached metadata is current) makes no request at all.
#[derive(Debug)]
pub struct ArtifactFetcher<'a> {
    store: &'a dyn Store,
    artifact: Lookup,
}

/// What is known of the store's trust artifact.
#[derive(Debug)]
enum Lookup {
    /// Not read yet.
    Unread,
    /// The store has none.
    Absent,
    /// Read.
    Found(TrustArtifact),
}

impl Lookup {
    fn found(&self) -> Option<&TrustArtifact> {
        match self {
            Lookup::Found(a) => Some(a),
            Lookup::Unread | Lookup::Absent => None,
        }
    }
}

impl<'a> ArtifactFetcher<'a> {
    /// A fetcher that reads the store's trust artifact when first needed.
    pub fn new(store: &'a dyn Store) -> Self {
        ArtifactFetcher {
            store,
            artifact: Lookup::Unread,
        }
    }

    /// A fetcher serving an artifact already read.
    pub fn with_artifact(store: &'a dyn Store, artifact: TrustArtifact) -> Self {
        ArtifactFetcher {
            store,
            artifact: Lookup::Found(artifact),
        }
    }

    /// The digest of the artifact served, once read.
    pub fn digest(&self) -> Option<&str> {
        self.artifact.found().map(|a| a.digest.as_str())
    }

    /// A store error: the registry or layout failed to serve what the
    /// artifact lists (a body longer than its descriptor included), so
    /// nothing can be decided.
    fn io(location: &str, e: &StoreError) -> FetchError {
        FetchError {
            location: location.to_owned(),
            kind: FetchErrorKind::Io,
            detail: e.to_string(),
        }
    }
}

impl Fetcher for ArtifactFetcher<'_> {
    fn fetch(&mut self, location: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, FetchError> {
        if let Lookup::Unread = self.artifact {
            self.artifact = match read(self.store).map_err(|e| Self::io(location, &e))? {
                Some(a) => Lookup::Found(a),
                None => Lookup::Absent,
            };
        }
        let Some(desc) = self.artifact.found().and_then(|a| a.files.get(location)) else {
            return Ok(None);
        };
        // Metadata larger than its role may be: the TUF client refuses it.
        if desc.size > max_bytes {
            return Err(FetchError {
                location: location.to_owned(),
                kind: FetchErrorKind::TooLarge(max_bytes),
                detail: String::new(),
            });
        }
        self.store
            .blob(&desc.digest, desc.size)
            .map(Some)
            .map_err(|e| Self::io(location, &e))
    }
}
