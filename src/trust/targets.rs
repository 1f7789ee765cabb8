//! What a signed tag says: the target for a tag is its manifest's digest
//! and size (Docker Content Trust's shape); an image index's
//! platform manifests can be signed too, as `TAG@OS-ARCH[-VARIANT]`.

use std::collections::BTreeMap;

use super::error::TrustError;
use crate::digest::Digest;
use crate::store::Store;
use crate::store::copy::MAX_MANIFEST;
use crate::store::oci_layout::Descriptor;
use crate::tuf::metadata::TargetFile;

/// A tag to sign: its name, manifest digest, and target.
pub type TagTarget = (String, String, TargetFile);

fn sha256_hex(digest: &str) -> Option<&str> {
    Digest::parse(digest).ok().map(|_| &digest["sha256:".len()..])
}

/// The target for a manifest descriptor.
pub fn for_descriptor(tag: &str, desc: &Descriptor) -> Result<TargetFile, TrustError> {
    let hex = sha256_hex(&desc.digest).ok_or_else(|| {
        TrustError::edit(
            format!("{tag} points at {:?}, not a sha256 digest", desc.digest),
            "vouch signs sha256 manifest digests",
        )
    })?;
    // Digest and length, as Docker Content Trust signs them. The media
    // type is not signed: the manifest names its own, under the digest,
    // and 70 bytes a tag is a third of a bin.
    Ok(TargetFile {
        length: desc.size,
        hashes: BTreeMap::from([("sha256".to_owned(), hex.to_owned())]),
        custom: None,
        extra: Default::default(),
    })
}

pub use crate::media_type::is_index;

/// The targets for `tag` pointing at `desc`: the tag itself and, with
/// `recursive` and an image index (whose bytes are `manifest`), each
/// platform manifest.
pub fn for_image(
    tag: &str,
    desc: &Descriptor,
    manifest: Option<&[u8]>,
    recursive: bool,
) -> Result<Vec<TagTarget>, TrustError> {
    let mut out = Vec::new();
    if recursive
        && is_index(&desc.media_type)
        && let Some(bytes) = manifest
    {
        out.extend(platforms(tag, &desc.digest, bytes)?);
    }
    out.push((tag.to_owned(), desc.digest.clone(), for_descriptor(tag, desc)?));
    Ok(out)
}

/// Tags looked up between two reports of progress.
const LOOKUP_CHUNK: usize = 1024;

/// Looks `tags` up in `store` (in parallel on a registry) and returns
/// their targets; a missing tag is an error and signs nothing. `progress`
/// hears how many are looked up so far.
pub fn resolve(
    store: &dyn Store,
    repo: &str,
    tags: &[String],
    recursive: bool,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<TagTarget>, TrustError> {
    let mut found = Vec::with_capacity(tags.len());
    for chunk in tags.chunks(LOOKUP_CHUNK) {
        found.extend(store.resolve_many(chunk)?);
        progress(found.len());
    }
    let mut out = Vec::new();
    for (tag, desc) in tags.iter().zip(found) {
        let desc = desc.ok_or_else(|| TrustError::NoSuchTag {
            repo: repo.to_owned(),
            tag: tag.clone(),
        })?;
        let manifest = if recursive && is_index(&desc.media_type) {
            Some(store.manifest(&desc.digest, MAX_MANIFEST)?)
        } else {
            None
        };
        out.extend(for_image(tag, &desc, manifest.as_deref(), recursive)?);
    }
    Ok(out)
}

/// The platform manifests of an image index, as targets `TAG@OS-ARCH[-VARIANT]`.
fn platforms(tag: &str, digest: &str, bytes: &[u8]) -> Result<Vec<TagTarget>, TrustError> {
    let index: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        TrustError::edit(
            format!("the index of {tag} is not JSON: {e}"),
            "the image is damaged",
        )
    })?;
    let mut out = Vec::new();
    for m in index["manifests"].as_array().into_iter().flatten() {
        let (Some(child), Some(size)) = (m["digest"].as_str(), m["size"].as_u64()) else {
            continue;
        };
        let Some(hex) = sha256_hex(child) else {
            continue;
        };
        let p = &m["platform"];
        let (Some(os), Some(arch)) = (p["os"].as_str(), p["architecture"].as_str()) else {
            continue;
        };
        let mut name = format!("{tag}@{os}-{arch}");
        if let Some(v) = p["variant"].as_str() {
            name.push('-');
            name.push_str(v);
        }
        let target = TargetFile {
            length: size,
            hashes: BTreeMap::from([("sha256".to_owned(), hex.to_owned())]),
            custom: Some(serde_json::json!({
                "mediaType": m["mediaType"],
                "platform": p,
                "index": digest,
            })),
            extra: Default::default(),
        };
        out.push((name, child.to_owned(), target));
    }
    Ok(out)
}
