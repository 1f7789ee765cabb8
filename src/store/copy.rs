//! Copying an image between stores by digest: every blob and child
//! manifest is checked against its digest on the way, then the top
//! manifest is tagged in the destination.

use std::collections::BTreeSet;
use std::io::{Read, Write};

use sha2::Digest as _;

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
    children(src, dst, manifest, &mut seen, 0)?;
    dst.put_manifest(tag, manifest, media_type, super::TagExpect::Anything)
        .map(|_| ())
}

/// How deep image indexes may nest (an index of indexes of manifests is
/// 2); deeper is refused, not followed until the stack runs out.
const MAX_DEPTH: usize = 8;

fn children(
    src: &dyn Store,
    dst: &dyn Store,
    manifest: &[u8],
    seen: &mut BTreeSet<String>,
    depth: usize,
) -> Result<(), StoreError> {
    if depth > MAX_DEPTH {
        return Err(StoreError::Malformed {
            what: "image index".to_owned(),
            reason: format!("indexes nest more than {MAX_DEPTH} deep"),
        });
    }
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
            blob(src, dst, digest, limit)?;
        }
    }
    for d in v["manifests"].as_array().into_iter().flatten() {
        let Some(digest) = d["digest"].as_str() else {
            continue;
        };
        if seen.insert(digest.to_owned()) {
            let child = src.manifest(digest, MAX_MANIFEST)?;
            children(src, dst, &child, seen, depth + 1)?;
            let media_type = d["mediaType"].as_str().unwrap_or(crate::media_type::OCI_MANIFEST);
            dst.put_manifest_by_digest(&child, media_type)?;
        }
    }
    Ok(())
}

/// Copies one blob, streaming: memory stays bounded whatever its size.
/// The destination checks length and digest before the blob is visible.
pub fn blob(src: &dyn Store, dst: &dyn Store, digest: &str, max: u64) -> Result<(), StoreError> {
    if dst.has_blob(digest)? {
        return Ok(());
    }
    if let Some(file) = src.open_blob_file(digest, max)? {
        return dst.put_blob_file(digest, max, file);
    }
    let mut reader = src.open_blob(digest, max)?;
    dst.put_blob_from(digest, max, &mut reader)
}

/// Copies `src` into `dst` while hashing it; refuses more than `max`
/// bytes. Returns the content's `sha256:` digest; `expected` only names
/// the blob in errors.
pub fn hash_into(
    src: &mut dyn Read,
    dst: &mut dyn Write,
    max: u64,
    expected: &str,
) -> Result<String, StoreError> {
    let what = format!("blob {expected}");
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(&what, e)),
        };
        total += n as u64;
        if total > max {
            return Err(StoreError::TooLarge { what, limit: max });
        }
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(|e| StoreError::Io {
            path: format!("a temporary file for {what}"),
            source: e,
        })?;
    }
    Ok(crate::digest::Digest::from_hasher(hasher).into())
}

/// A read error of a blob stream: a store's own error travels inside it.
fn read_error(what: &str, e: std::io::Error) -> StoreError {
    if e.get_ref().is_some_and(|inner| inner.is::<StoreError>()) {
        let inner = e.into_inner().expect("checked above");
        return *inner.downcast::<StoreError>().expect("checked above");
    }
    StoreError::Io {
        path: what.to_owned(),
        source: e,
    }
}
