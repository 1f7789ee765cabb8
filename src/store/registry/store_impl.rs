//! The [`Store`] a registry repository is: tags (listed in pages, deleted), manifests and blobs.

use super::*;

/// A page of `GET /v2/NAME/tags/list`.
#[derive(serde::Deserialize)]
struct TagPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// Largest page of tags read (a registry that ignores `n` sends every
/// tag at once: about 1.5 MB at 100,000 tags).
const MAX_TAG_PAGE: u64 = 16 << 20;

/// Most bytes of tag pages read in one listing.
const MAX_TAG_BYTES: u64 = 64 << 20;

impl Registry {
    /// The tags that begin with `prefix`: pages of `tags/list` from
    /// `last=prefix` (a registry that honours it starts there; one that
    /// does not returns every tag, in any order), while pages come back
    /// full and move forward.
    async fn tags_async(&self, prefix: &str, max: usize) -> Result<Vec<String>, StoreError> {
        const PAGE: usize = 1000;
        const MAX_PAGES: usize = 1000;
        let what = format!("tags beginning {prefix:?}");
        let mut out: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        let mut read = 0u64;
        let mut last = prefix.to_owned();
        let mut seen: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = reqwest::Url::parse(&format!("{}/v2/{}/tags/list", self.base, self.repository))
                .map_err(|_| self.fail(&what, "the registry gave an invalid URL"))?;
            url.query_pairs_mut()
                .append_pair("n", &PAGE.to_string())
                .append_pair("last", &last);
            let answer = self
                .send(&what, Op::Read, Method::GET, url.as_str(), HeaderMap::new(), None)
                .await?;
            if answer.status == StatusCode::NOT_FOUND {
                break; // a repository with no tags yet
            }
            let body = self.read(&what, answer.response, MAX_TAG_PAGE).await?;
            let page: TagPage = serde_json::from_slice(&body).map_err(|e| StoreError::Malformed {
                what: what.clone(),
                reason: e.to_string(),
            })?;
            let tags = page.tags.unwrap_or_default();
            read += body.len() as u64;
            out.extend(tags.iter().filter(|t| t.starts_with(prefix)).cloned());
            if out.len() > max || read > MAX_TAG_BYTES {
                return Err(StoreError::TooMany {
                    what: format!("{}/{}: {what}", self.registry, self.repository),
                    limit: max,
                });
            }
            let Some(end) = tags.iter().max().cloned() else {
                break;
            };
            // A page that is not full is the last; pages must move forward
            // (or a hostile registry loops us); past the staged tags'
            // range there are none left.
            let past = end.as_str() > prefix && !end.starts_with(prefix);
            if tags.len() < PAGE || seen.as_ref().is_some_and(|s| end <= *s) || past {
                break;
            }
            seen = Some(end.clone());
            last = end;
        }
        Ok(out.into_iter().collect())
    }

    /// Deletes manifest `digest` (and so the tags naming it), if the
    /// registry deletes manifests.
    async fn delete_async(&self, tag: &str, digest: &str) -> Result<(), StoreError> {
        let what = format!("deleting tag {tag}");
        let url = self.url("manifests", digest)?;
        self.send(&what, Op::Manifest, Method::DELETE, &url, HeaderMap::new(), None)
            .await?;
        Ok(())
    }
}

impl Store for Registry {
    fn tags_with_prefix(&self, prefix: &str, max: usize) -> Result<Vec<String>, StoreError> {
        self.block_on(self.tags_async(prefix, max))
    }

    fn remove_tag(
        &self,
        tag: &str,
        digest: &str,
        tombstone: &[u8],
        media_type: &str,
    ) -> Result<(), StoreError> {
        if self.block_on(self.delete_async(tag, digest)).is_ok() && self.head(tag)?.as_deref() != Some(digest)
        {
            return Ok(());
        }
        if self.head(tag)?.as_deref() == Some(digest) {
            self.put_manifest_at(tag, tombstone, media_type)?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    fn head(&self, tag: &str) -> Result<Option<String>, StoreError> {
        self.block_on(self.head_async(tag))
    }

    fn head_many(&self, tags: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        // All at once: a warm verify's trust tag and image tag in one round
        // trip. (A registry that asks for a token answers each challenge.)
        self.block_on(
            stream::iter(tags.iter().map(|tag| self.head_async(tag)))
                .buffered(PARALLEL)
                .try_collect(),
        )
    }

    fn resolve(&self, tag: &str) -> Result<Option<Descriptor>, StoreError> {
        self.block_on(self.resolve_async(tag))
    }

    fn resolve_many(&self, tags: &[String]) -> Result<Vec<Option<Descriptor>>, StoreError> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        let Some((first, rest)) = tags.split_first() else {
            return Ok(Vec::new());
        };
        self.block_on(async {
            // One request alone first, so that an authentication challenge
            // is answered once, not by every request in flight.
            let mut out = vec![self.resolve_async(first).await?];
            let more: Vec<_> = stream::iter(rest.iter().map(|tag| self.resolve_async(tag)))
                .buffered(PARALLEL)
                .try_collect()
                .await?;
            out.extend(more);
            Ok(out)
        })
    }

    fn tagged_manifest(&self, tag: &str, max: u64) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        self.block_on(self.get_manifest(tag, max))
    }

    fn manifest(&self, digest: &str, max: u64) -> Result<Vec<u8>, StoreError> {
        match self.block_on(self.get_manifest(digest, max))? {
            Some((bytes, actual)) if actual == digest => Ok(bytes),
            Some(_) => Err(StoreError::Malformed {
                what: format!("manifest {digest}"),
                reason: "content does not match its digest".to_owned(),
            }),
            None => Err(self.fail(&format!("manifest {digest}"), "HTTP 404 Not Found")),
        }
    }

    fn blob(&self, digest: &str, max: u64) -> Result<Vec<u8>, StoreError> {
        let what = format!("blob {digest}");
        let bytes = self.block_on(async {
            let response = self.get_blob(&what, digest).await?;
            self.read(&what, response, max).await
        })?;
        if sha256_digest(&bytes) != digest {
            return Err(StoreError::Malformed {
                what,
                reason: "content does not match its digest".to_owned(),
            });
        }
        Ok(bytes)
    }

    fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let digest = sha256_digest(bytes);
        self.upload_with_retries(&digest, Payload::Bytes(Bytes::copy_from_slice(bytes)))?;
        Ok(digest)
    }

    fn open_blob(&self, digest: &str, max: u64) -> Result<Box<dyn std::io::Read + Send + '_>, StoreError> {
        let what = format!("blob {digest}");
        let response = self.block_on(async {
            let response = self.get_blob(&what, digest).await?;
            declared_length(&response, &what, max)?;
            Ok(response)
        })?;
        Ok(Box::new(BlobReader {
            registry: self,
            what,
            response,
            pending: Bytes::new(),
            seen: 0,
            max,
        }))
    }

    fn has_blob(&self, digest: &str) -> Result<bool, StoreError> {
        Ok(self.block_on(self.head_blob(digest))?.is_some())
    }

    fn put_blob_file(&self, digest: &str, max: u64, mut file: std::fs::File) -> Result<(), StoreError> {
        use std::io::{Seek, SeekFrom};
        // Hashed first (a blob whose digest does not check out never leaves
        // this machine; the registry checks the digest of what it receives
        // as well), then uploaded from the file itself: no copy, no memory.
        let actual = crate::store::copy::hash_into(&mut file, &mut std::io::sink(), max, digest)?;
        if actual != digest {
            return Err(StoreError::Malformed {
                what: format!("blob {digest}"),
                reason: "content does not match its digest".to_owned(),
            });
        }
        let len = file.seek(SeekFrom::End(0)).map_err(|e| StoreError::Io {
            path: format!("blob {digest}"),
            source: e,
        })?;
        self.upload_with_retries(digest, Payload::File(std::sync::Arc::new(file), len))
    }

    fn put_blob_from(&self, digest: &str, max: u64, src: &mut dyn std::io::Read) -> Result<(), StoreError> {
        // Spooled to an unnamed temporary file, checked, then uploaded from
        // it: memory stays bounded, a retry starts the file again, and a
        // blob whose digest does not check out never leaves this machine.
        // (Only a copy from a registry comes here; a layout's blob goes
        // through `put_blob_file`.)
        let tmp = std::env::temp_dir();
        let dir = crate::store::safe_dir::SafeDir::open(&tmp).map_err(crate::store::oci_layout::refused)?;
        let (mut file, name) = dir
            .create_temp(".vouch-blob-", 0o600)
            .map_err(crate::store::oci_layout::refused)?;
        dir.remove_file(&name);
        let actual = crate::store::copy::hash_into(src, &mut file, max, digest)?;
        if actual != digest {
            return Err(StoreError::Malformed {
                what: format!("blob {digest}"),
                reason: "content does not match its digest".to_owned(),
            });
        }
        let len = file.metadata().map_err(|e| StoreError::io(&tmp, e))?.len();
        self.upload_with_retries(digest, Payload::File(std::sync::Arc::new(file), len))
    }

    fn put_manifest_by_digest(&self, bytes: &[u8], media_type: &str) -> Result<String, StoreError> {
        let digest = sha256_digest(bytes);
        self.put_manifest_at(&digest, bytes, media_type)?;
        Ok(digest)
    }

    fn put_manifest(
        &self,
        tag: &str,
        bytes: &[u8],
        media_type: &str,
        expect: TagExpect<'_>,
    ) -> Result<bool, StoreError> {
        if let Some(parent) = self.lock.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
        }
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .map_err(|e| StoreError::io(&self.lock, e))?;
        lock.lock().map_err(|e| StoreError::io(&self.lock, e))?;
        if expect != TagExpect::Anything {
            let current = self.resolve(tag)?.map(|d| d.digest);
            if !expect.allows(current.as_deref()) {
                return Ok(false);
            }
        }
        self.put_manifest_at(tag, bytes, media_type)?;
        Ok(true)
    }
}
