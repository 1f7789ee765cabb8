//! An OCI image layout directory (what skopeo, buildah, podman and
//! `buildx --output type=oci` write): `oci-layout`, `index.json`,
//! `blobs/sha256/…`. vouch reads image manifests from it and keeps its trust
//! artifact in it, tagged `vouch-trust`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use vouch_keys::store::{Mode, write_atomic};

use super::StoreError;

/// The annotation naming a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An OCI content descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Annotations.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Any other fields (platform, artifactType, …), kept.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Index {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

/// `sha256:<hex>` of bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// An OCI layout directory.
#[derive(Clone, Debug)]
pub struct OciLayout {
    dir: PathBuf,
}

/// Largest `index.json` read.
const MAX_INDEX: u64 = 16 << 20;

impl OciLayout {
    /// Opens an existing layout (it must have an `oci-layout` file).
    pub fn open(dir: impl Into<PathBuf>) -> Result<OciLayout, StoreError> {
        let dir = dir.into();
        if !dir.join("oci-layout").is_file() {
            return Err(StoreError::NotFound {
                what: format!(
                    "OCI image layout at {} (it has no oci-layout file)",
                    dir.display()
                ),
            });
        }
        Ok(OciLayout { dir })
    }

    /// Creates an empty layout (or opens an existing one).
    pub fn create(dir: impl Into<PathBuf>) -> Result<OciLayout, StoreError> {
        let dir = dir.into();
        let io = |e| StoreError::io(&dir, e);
        std::fs::create_dir_all(dir.join("blobs/sha256")).map_err(io)?;
        if !dir.join("oci-layout").exists() {
            write_atomic(
                &dir.join("oci-layout"),
                br#"{"imageLayoutVersion":"1.0.0"}"#,
                0o644,
                Mode::Replace,
            )
            .map_err(|e| StoreError::io(&dir, e))?;
        }
        if !dir.join("index.json").exists() {
            write_atomic(
                &dir.join("index.json"),
                br#"{"schemaVersion":2,"manifests":[]}"#,
                0o644,
                Mode::Replace,
            )
            .map_err(|e| StoreError::io(&dir, e))?;
        }
        Ok(OciLayout { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn read_index(&self) -> Result<Index, StoreError> {
        let p = self.dir.join("index.json");
        let mut buf = Vec::new();
        File::open(&p)
            .and_then(|f| f.take(MAX_INDEX + 1).read_to_end(&mut buf))
            .map_err(|e| StoreError::io(&p, e))?;
        if buf.len() as u64 > MAX_INDEX {
            return Err(StoreError::TooLarge {
                what: p.display().to_string(),
                limit: MAX_INDEX,
            });
        }
        serde_json::from_slice(&buf).map_err(|e| StoreError::Malformed {
            what: p.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// Every tag and its descriptor.
    pub fn tags(&self) -> Result<Vec<(String, Descriptor)>, StoreError> {
        Ok(self
            .read_index()?
            .manifests
            .into_iter()
            .filter_map(|d| d.annotations.get(REF_NAME).cloned().map(|t| (t, d)))
            .collect())
    }

    /// The descriptor tagged `tag`, if any.
    pub fn resolve(&self, tag: &str) -> Result<Option<Descriptor>, StoreError> {
        Ok(self.tags()?.into_iter().find(|(t, _)| t == tag).map(|(_, d)| d))
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, StoreError> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| StoreError::Malformed {
                what: format!("digest {digest:?}"),
                reason: "only sha256 digests are supported".to_owned(),
            })?;
        Ok(self.dir.join("blobs/sha256").join(hex))
    }

    /// Reads a blob, at most `max` bytes, and checks its digest.
    pub fn blob(&self, digest: &str, max: u64) -> Result<Vec<u8>, StoreError> {
        let p = self.blob_path(digest)?;
        let mut buf = Vec::new();
        match File::open(&p) {
            Ok(f) => f
                .take(max + 1)
                .read_to_end(&mut buf)
                .map_err(|e| StoreError::io(&p, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    what: format!("blob {digest} in {}", self.dir.display()),
                });
            }
            Err(e) => return Err(StoreError::io(&p, e)),
        };
        if buf.len() as u64 > max {
            return Err(StoreError::TooLarge {
                what: format!("blob {digest}"),
                limit: max,
            });
        }
        if sha256_digest(&buf) != digest {
            return Err(StoreError::Malformed {
                what: format!("blob {digest}"),
                reason: "content does not match its digest".to_owned(),
            });
        }
        Ok(buf)
    }

    /// Stores a blob (content-addressed; an existing blob is kept).
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let digest = sha256_digest(bytes);
        let p = self.blob_path(&digest)?;
        if p.exists() {
            return Ok(digest);
        }
        std::fs::create_dir_all(self.dir.join("blobs/sha256")).map_err(|e| StoreError::io(&self.dir, e))?;
        match write_atomic(&p, bytes, 0o644, Mode::CreateNew) {
            Ok(()) => Ok(digest),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(digest),
            Err(e) => Err(StoreError::io(&p, e)),
        }
    }

    /// Points `tag` at `desc` if the tag currently points at `expected`
    /// (`None`: untagged). Holds a lock on the layout and replaces
    /// `index.json` atomically. Returns `false` (and changes nothing) when
    /// the tag moved meanwhile.
    pub fn swap_tag(&self, tag: &str, desc: &Descriptor, expected: Option<&str>) -> Result<bool, StoreError> {
        self.update_tag(tag, desc, Some(expected))
    }

    /// Points `tag` at `desc`, whatever it pointed at.
    pub fn set_tag(&self, tag: &str, desc: &Descriptor) -> Result<(), StoreError> {
        self.update_tag(tag, desc, None).map(|_| ())
    }

    fn update_tag(
        &self,
        tag: &str,
        desc: &Descriptor,
        expected: Option<Option<&str>>,
    ) -> Result<bool, StoreError> {
        // Writers serialise on a lock of the layout directory itself, so no
        // lock file is added to the layout.
        let lock = File::open(&self.dir).map_err(|e| StoreError::io(&self.dir, e))?;
        lock.lock().map_err(|e| StoreError::io(&self.dir, e))?;
        let index_path = self.dir.join("index.json");
        let mut index = self.read_index()?;
        let current = index
            .manifests
            .iter()
            .find(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(tag));
        if let Some(expected) = expected
            && current.map(|d| d.digest.as_str()) != expected
        {
            return Ok(false);
        }
        index
            .manifests
            .retain(|d| d.annotations.get(REF_NAME).map(String::as_str) != Some(tag));
        let mut d = desc.clone();
        d.annotations.insert(REF_NAME.to_owned(), tag.to_owned());
        index.manifests.push(d);
        let bytes = serde_json::to_vec(&index).map_err(|e| StoreError::Malformed {
            what: "index.json".to_owned(),
            reason: e.to_string(),
        })?;
        write_atomic(&index_path, &bytes, 0o644, Mode::Replace)
            .map_err(|e| StoreError::io(&index_path, e))?;
        drop(lock);
        Ok(true)
    }
}

impl super::Store for OciLayout {
    fn describe(&self) -> String {
        format!("oci:{}", self.dir.display())
    }

    fn resolve(&self, tag: &str) -> Result<Option<Descriptor>, StoreError> {
        OciLayout::resolve(self, tag)
    }

    fn resolve_many(&self, tags: &[String]) -> Result<Vec<Option<Descriptor>>, StoreError> {
        // index.json is read once, not once per tag.
        let all: std::collections::BTreeMap<String, Descriptor> = self.tags()?.into_iter().collect();
        Ok(tags.iter().map(|t| all.get(t).cloned()).collect())
    }

    fn manifest(&self, digest: &str, max: u64) -> Result<Vec<u8>, StoreError> {
        OciLayout::blob(self, digest, max)
    }

    fn blob(&self, digest: &str, max: u64) -> Result<Vec<u8>, StoreError> {
        OciLayout::blob(self, digest, max)
    }

    fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        OciLayout::put_blob(self, bytes)
    }

    fn put_manifest_by_digest(&self, bytes: &[u8], _media_type: &str) -> Result<String, StoreError> {
        OciLayout::put_blob(self, bytes)
    }

    fn put_manifest(
        &self,
        tag: &str,
        bytes: &[u8],
        media_type: &str,
        expected: Option<Option<&str>>,
    ) -> Result<bool, StoreError> {
        let digest = OciLayout::put_blob(self, bytes)?;
        let desc = Descriptor {
            media_type: media_type.to_owned(),
            digest,
            size: bytes.len() as u64,
            annotations: Default::default(),
            extra: Default::default(),
        };
        self.update_tag(tag, &desc, expected)
    }
}
