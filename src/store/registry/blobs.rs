//! Blobs: uploads with retries, and streams checked against their digest as they arrive.

use super::*;

impl Registry {
    /// The answer to a GET of a blob that must exist (a 404 is an error).
    pub(super) async fn get_blob(&self, what: &str, digest: &str) -> Result<reqwest::Response, StoreError> {
        let url = self.url("blobs", digest)?;
        let answer = self
            .send(what, Op::Read, Method::GET, &url, HeaderMap::new(), None)
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Err(self.missing(what, answer.response).await);
        }
        Ok(answer.response)
    }

    /// Uploads a blob, retrying the whole upload: a session whose PUT
    /// failed may be gone, and blobs are content-addressed.
    pub(super) fn upload_with_retries(&self, digest: &str, payload: Payload) -> Result<(), StoreError> {
        let what = format!("uploading blob {digest}");
        self.block_on(async {
            let mut retries = RETRY_DELAYS_MS.iter();
            loop {
                match self.upload(&what, digest, &payload).await {
                    Err(e @ (StoreError::Registry { .. } | StoreError::Unreachable { .. })) => {
                        match retries.next() {
                            Some(ms) => tokio::time::sleep(Duration::from_millis(*ms)).await,
                            None => return Err(e),
                        }
                    }
                    other => return other,
                }
            }
        })
    }

    /// Opens a blob for streaming: its declared length and its body as a
    /// [`CheckedBlob`], or `None` when the registry has no such blob. Runs
    /// on [`runtime`] (or any runtime): no thread is held while the
    /// consumer does not read.
    pub async fn open_blob_stream(
        &self,
        digest: &str,
        max: u64,
    ) -> Result<Option<(Option<u64>, CheckedBlob)>, StoreError> {
        let what = format!("blob {digest}");
        let url = self.url("blobs", digest)?;
        let answer = self
            .send(&what, Op::Read, Method::GET, &url, HeaderMap::new(), None)
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let declared = declared_length(&answer.response, &what, max)?;
        let blob = CheckedBlob {
            inner: Box::pin(answer.response.bytes_stream()),
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
            seen: 0,
            max,
            declared,
            digest: digest.to_owned(),
            held: None,
            done: false,
        };
        Ok(Some((declared, blob)))
    }

    /// Whether a blob exists, and its length as the registry states it.
    pub async fn head_blob(&self, digest: &str) -> Result<Option<Option<u64>>, StoreError> {
        let what = format!("blob {digest}");
        let url = self.url("blobs", digest)?;
        let answer = self
            .send(&what, Op::Read, Method::HEAD, &url, HeaderMap::new(), None)
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(declared_length(&answer.response, &what, u64::MAX)?))
    }

    /// Puts a manifest at a tag or at its digest.
    pub(super) fn put_manifest_at(
        &self,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<(), StoreError> {
        let what = format!("pushing manifest {reference}");
        let url = self.url("manifests", reference)?;
        self.block_on(self.put(
            &what,
            Op::Manifest,
            &url,
            media_type,
            Payload::Bytes(Bytes::copy_from_slice(bytes)),
        ))
    }
}

/// A blob's body as it arrives, checked on the way: more than its limit,
/// or than its declared length, is an error at once; its SHA-256 is checked
/// at the end, and the last chunk is held back until then, so a consumer
/// never receives the whole of a blob that does not match its digest (the
/// stream ends in an error instead). Memory stays at one chunk.
pub struct CheckedBlob {
    inner: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send + Sync>>,
    hasher: sha2::Sha256,
    seen: u64,
    max: u64,
    declared: Option<u64>,
    digest: String,
    held: Option<Bytes>,
    done: bool,
}

impl std::fmt::Debug for CheckedBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedBlob")
            .field("digest", &self.digest)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl futures_util::Stream for CheckedBlob {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    this.seen += chunk.len() as u64;
                    if this.seen > this.max || this.declared.is_some_and(|n| this.seen > n) {
                        this.done = true;
                        return Poll::Ready(Some(Err(std::io::Error::other(format!(
                            "blob {} is longer than it may be",
                            this.digest
                        )))));
                    }
                    sha2::Digest::update(&mut this.hasher, &chunk);
                    if let Some(previous) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(std::io::Error::other(format!(
                        "blob {}: the transfer failed: {}",
                        this.digest,
                        crate::store::fetch::error_chain(&e.without_url())
                    )))));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    let hasher = std::mem::take(&mut this.hasher);
                    let short = this.declared.is_some_and(|n| n != this.seen);
                    if short || Digest::from_hasher(hasher).as_str() != this.digest {
                        return Poll::Ready(Some(Err(std::io::Error::other(format!(
                            "blob {} does not match its digest",
                            this.digest
                        )))));
                    }
                    return Poll::Ready(this.held.take().map(Ok));
                }
            }
        }
    }
}

/// A blob's body read as it arrives, for a synchronous consumer; more than
/// `max` bytes, or a failure of the transfer, is a read error carrying the
/// [`StoreError`].
pub(super) struct BlobReader<'a> {
    pub(super) registry: &'a Registry,
    pub(super) what: String,
    pub(super) response: reqwest::Response,
    pub(super) pending: Bytes,
    pub(super) seen: u64,
    pub(super) max: u64,
}

impl std::io::Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let as_io = |e: StoreError| std::io::Error::other(e);
        while self.pending.is_empty() {
            let next = self.registry.block_on(self.response.chunk());
            match next.map_err(|e| as_io(self.registry.unreachable(&self.what, e)))? {
                Some(chunk) => {
                    self.seen += chunk.len() as u64;
                    if self.seen > self.max {
                        return Err(as_io(StoreError::TooLarge {
                            what: self.what.clone(),
                            limit: self.max,
                        }));
                    }
                    self.pending = chunk;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
}
