//! Copying an image between stores by digest: every blob and child
//! manifest is checked against its digest on the way, then the top
//! manifest is tagged in the destination.

use std::collections::BTreeSet;

use super::{Store, StoreError};

/// Largest manifest or index copied.
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Largest blob copied.
pub const MAX_BLOB: u64 = 16 << 30;

/// Copies the image whose manifest is `manifest` from `src` to `dst` and
/// tags it `tag` there (the tag moves unconditionally).
pub fn image(
    src: &dyn Store,
    dst: &dyn Store,
    manifest: &[u8],
    media_type: &str,
    tag: &str,
) -> Result<(), StoreError> {
    let mut seen = BTreeSet::new();
    children(src, dst, manifest, &mut seen)?;
    dst.put_manifest(tag, manifest, media_type, None).map(|_| ())
}

fn children(
    src: &dyn Store,
    dst: &dyn Store,
    manifest: &[u8],
    seen: &mut BTreeSet<String>,
) -> Result<(), StoreError> {
    let v: serde_json::Value = serde_json::from_slice(manifest).map_err(|e| StoreError::Malformed {
        what: "manifest".to_owned(),
        reason: e.to_string(),
    })?;
    let blobs = v
        .get("config")
        .into_iter()
        .chain(v["layers"].as_array().into_iter().flatten());
    for d in blobs {
        let Some(digest) = d["digest"].as_str() else {
            continue;
        };
        if seen.insert(digest.to_owned()) {
            let limit = d["size"].as_u64().unwrap_or(MAX_BLOB).min(MAX_BLOB);
            dst.put_blob(&src.blob(digest, limit)?)?;
        }
    }
    for d in v["manifests"].as_array().into_iter().flatten() {
        let Some(digest) = d["digest"].as_str() else {
            continue;
        };
        if seen.insert(digest.to_owned()) {
            let child = src.manifest(digest, MAX_MANIFEST)?;
            children(src, dst, &child, seen)?;
            let media_type = d["mediaType"]
                .as_str()
                .unwrap_or("application/vnd.oci.image.manifest.v1+json");
            dst.put_manifest_by_digest(&child, media_type)?;
        }
    }
    Ok(())
}
