//! Staged changes in the store (docs/trust-format.md, "Staged changes").
//!
//! A change that a threshold of keys has not signed yet never replaces the
//! live trust data: it is kept beside it, each piece under a tag of its
//! own that begins with [`PREFIX`], so that two people staging at once
//! overwrite nothing of each other's and registry garbage collection keeps
//! them (they are tagged) until they are applied or withdrawn. Verifiers
//! never read these tags. Everything read here is untrusted and bounded:
//! what it says counts only once the trust layer checked each signature
//! against the live, verified trust data.

use serde_json::json;

use super::{Store, StoreError};
use crate::media_type::{OCI_EMPTY, OCI_MANIFEST, VOUCH_STAGED, VOUCH_STAGED_LAYER};

/// Every staged tag begins so.
pub const PREFIX: &str = "vouch-stage-";
/// Most staged tags read (proposals and approvals together).
pub const MAX_TAGS: usize = 512;
/// Largest staged manifest read.
const MAX_MANIFEST: u64 = 16 << 10;
/// Largest staged blob read (a proposal carries the roles it changes).
pub const MAX_BLOB: u64 = 16 << 20;
/// Most bytes of staged blobs read for one repository.
const MAX_TOTAL: u64 = 64 << 20;
/// The annotation a withdrawn tag's manifest carries (a registry that
/// does not delete manifests keeps the tag, pointing at this).
const WITHDRAWN: &str = "dev.vouch.staged.withdrawn";
/// The annotation naming what a staged blob is.
const KIND: &str = "dev.vouch.staged.kind";

/// What the store holds of staged changes.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// The pieces, in tag order.
    pub pieces: Vec<Piece>,
    /// Tags that are not staged pieces vouch reads, with why.
    pub skipped: Vec<(String, String)>,
}

/// One staged piece as found in the store.
#[derive(Clone, Debug)]
pub struct Piece {
    /// Its tag.
    pub tag: String,
    /// Its blob, as stored (unverified).
    pub bytes: Vec<u8>,
}

fn malformed(what: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Malformed {
        what: what.to_owned(),
        reason: reason.into(),
    }
}

/// Stores `bytes` under `tag` (which must begin with [`PREFIX`]): a blob
/// and a manifest that names it.
pub fn put(store: &dyn Store, tag: &str, kind: &str, bytes: &[u8]) -> Result<(), StoreError> {
    if !tag.starts_with(PREFIX) || bytes.len() as u64 > MAX_BLOB {
        return Err(malformed(
            &format!("staged tag {tag}"),
            "not a staged tag, or too large",
        ));
    }
    let empty = store.put_blob(b"{}")?;
    let digest = store.put_blob(bytes)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": VOUCH_STAGED,
        "config": { "mediaType": OCI_EMPTY, "digest": empty, "size": 2 },
        "layers": [{ "mediaType": VOUCH_STAGED_LAYER, "digest": digest, "size": bytes.len() }],
        "annotations": { KIND: kind },
    });
    let manifest = serde_json::to_vec(&manifest).map_err(|e| malformed("staged manifest", e.to_string()))?;
    store.put_manifest(tag, &manifest, OCI_MANIFEST, super::TagExpect::Anything)?;
    Ok(())
}

/// Every staged piece in the store (withdrawn ones skipped), in tag order.
/// A piece that does not parse as one is skipped with its reason, not
/// trusted and not fatal: anyone who can write the store can put one.
pub fn read_all(store: &dyn Store) -> Result<Found, StoreError> {
    let tags = store.tags_with_prefix(PREFIX, MAX_TAGS)?;
    let mut pieces = Vec::new();
    let mut skipped = Vec::new();
    let mut total = 0u64;
    for tag in tags {
        let Some((manifest, _)) = store.tagged_manifest(&tag, MAX_MANIFEST)? else {
            continue;
        };
        let layer = match layer_of(&manifest) {
            Ok(Some(layer)) => layer,
            Ok(None) => continue,
            Err(why) => {
                skipped.push((tag, why));
                continue;
            }
        };
        if layer.1 > MAX_BLOB {
            skipped.push((tag, format!("larger than {MAX_BLOB} bytes")));
            continue;
        }
        total += layer.1;
        if total > MAX_TOTAL {
            return Err(StoreError::TooLarge {
                what: format!("the staged changes of {}", store.describe()),
                limit: MAX_TOTAL,
            });
        }
        let bytes = store.blob(&layer.0, layer.1)?;
        pieces.push(Piece { tag, bytes });
    }
    Ok(Found { pieces, skipped })
}

/// The one layer (digest, size) of a staged manifest; `None` if withdrawn.
fn layer_of(manifest: &[u8]) -> Result<Option<(String, u64)>, String> {
    let v: serde_json::Value = serde_json::from_slice(manifest).map_err(|e| e.to_string())?;
    if v["artifactType"] != VOUCH_STAGED {
        return Err("not a vouch staged change".to_owned());
    }
    if v["annotations"][WITHDRAWN].is_string() {
        return Ok(None);
    }
    let layers = v["layers"].as_array().ok_or("no layers")?;
    let [layer] = layers.as_slice() else {
        return Err("not exactly one layer".to_owned());
    };
    let digest = layer["digest"].as_str().ok_or("a layer without a digest")?;
    crate::digest::Digest::parse(digest).map_err(|_| "a layer digest that is not sha256")?;
    let size = layer["size"].as_u64().ok_or("a layer without a size")?;
    Ok(Some((digest.to_owned(), size)))
}

/// Withdraws `tag`: removed from a layout; deleted from a registry, or
/// (where the registry deletes nothing) pointed at a withdrawn marker.
/// Only a staged manifest is ever deleted: the one the tag names now, read
/// and checked first (never whatever someone points the tag at meanwhile).
pub fn remove(store: &dyn Store, tag: &str) -> Result<(), StoreError> {
    if !tag.starts_with(PREFIX) {
        return Err(malformed(&format!("staged tag {tag}"), "not a staged tag"));
    }
    let Some((manifest, digest)) = store.tagged_manifest(tag, MAX_MANIFEST)? else {
        return Ok(());
    };
    let v: serde_json::Value = serde_json::from_slice(&manifest)
        .map_err(|e| malformed(&format!("staged tag {tag}"), e.to_string()))?;
    if v["artifactType"] != VOUCH_STAGED {
        return Err(malformed(
            &format!("staged tag {tag}"),
            "it names something else than a staged change",
        ));
    }
    let empty = store.put_blob(b"{}")?;
    let tombstone = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": VOUCH_STAGED,
        "config": { "mediaType": OCI_EMPTY, "digest": empty, "size": 2 },
        "layers": [],
        "annotations": { WITHDRAWN: tag },
    });
    let tombstone =
        serde_json::to_vec(&tombstone).map_err(|e| malformed("staged manifest", e.to_string()))?;
    store.remove_tag(tag, &digest, &tombstone, OCI_MANIFEST)
}
