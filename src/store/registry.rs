//! A repository in an OCI registry (oci-client; plain HTTP for loopback
//! hosts, HTTPS otherwise). Every failure to talk to the registry is a
//! [`StoreError::Registry`]: could not decide, never "unsigned".

use std::path::PathBuf;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::oci_layout::{Descriptor, sha256_digest};
use super::{Store, StoreError};

/// Manifest media types vouch reads.
const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// A registry repository.
pub struct Registry {
    client: Client,
    rt: tokio::runtime::Runtime,
    registry: String,
    repository: String,
    auth: RegistryAuth,
    /// Serialises this machine's writers of the trust tag.
    lock: PathBuf,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("registry", &self.registry)
            .field("repository", &self.repository)
            .finish()
    }
}

/// Whether a registry host is on loopback (plain HTTP is used there).
pub fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map(|(h, _)| h).unwrap_or(registry);
    matches!(host, "localhost" | "[::1]") || host.starts_with("127.")
}

impl Registry {
    /// A client for `registry/repository`; `lock` is a file this machine's
    /// writers lock while they move the trust tag.
    pub fn new(
        registry: &str,
        repository: &str,
        auth: RegistryAuth,
        lock: PathBuf,
    ) -> Result<Registry, StoreError> {
        let protocol = if is_loopback(registry) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let client = Client::new(ClientConfig {
            protocol,
            ..ClientConfig::default()
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Io {
                path: "tokio runtime".to_owned(),
                source: e,
            })?;
        Ok(Registry {
            client,
            rt,
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            auth,
            lock,
        })
    }

    fn tag_ref(&self, tag: &str) -> Reference {
        Reference::with_tag(self.registry.clone(), self.repository.clone(), tag.to_owned())
    }

    fn digest_ref(&self, digest: &str) -> Reference {
        Reference::with_digest(self.registry.clone(), self.repository.clone(), digest.to_owned())
    }

    fn error(&self, what: &str, e: OciDistributionError) -> StoreError {
        let detail = match &e {
            OciDistributionError::RequestError(r) => {
                let mut s = r.to_string();
                let mut src = std::error::Error::source(r);
                while let Some(inner) = src {
                    s = format!("{s}: {inner}");
                    src = inner.source();
                }
                format!("unreachable: {s}")
            }
            OciDistributionError::ServerError { code, message, .. } => format!("HTTP {code}: {message}"),
            OciDistributionError::UnauthorizedError { url } => format!("authentication failed for {url}"),
            OciDistributionError::AuthenticationFailure(m) => format!("authentication failed: {m}"),
            other => other.to_string(),
        };
        StoreError::Registry {
            what: format!("{what} in {}/{}", self.registry, self.repository),
            detail,
        }
    }

    fn not_found(e: &OciDistributionError) -> bool {
        match e {
            OciDistributionError::ImageManifestNotFoundError(_) => true,
            OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|x| {
                matches!(
                    x.code,
                    OciErrorCode::ManifestUnknown | OciErrorCode::NotFound | OciErrorCode::NameUnknown
                )
            }),
            OciDistributionError::ServerError { code, .. } => *code == 404,
            _ => false,
        }
    }

    fn check(&self, what: &str, bytes: &[u8], digest: &str, max: u64) -> Result<(), StoreError> {
        if bytes.len() as u64 > max {
            return Err(StoreError::TooLarge {
                what: format!("{what} {digest}"),
                limit: max,
            });
        }
        if sha256_digest(bytes) != digest {
            return Err(StoreError::Malformed {
                what: format!("{what} {digest}"),
                reason: "content does not match its digest".to_owned(),
            });
        }
        Ok(())
    }
}

impl Registry {
    /// The descriptor of a manifest fetched by tag, after checking it.
    fn descriptor(&self, bytes: &[u8], digest: String) -> Result<Descriptor, StoreError> {
        self.check("manifest", bytes, &digest, super::copy::MAX_MANIFEST)?;
        Ok(Descriptor {
            media_type: media_type_of(bytes),
            digest,
            size: bytes.len() as u64,
            annotations: Default::default(),
            extra: Default::default(),
        })
    }
}

fn media_type_of(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".to_owned())
}

impl Store for Registry {
    fn describe(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    fn head(&self, tag: &str) -> Result<Option<String>, StoreError> {
        match self
            .rt
            .block_on(self.client.fetch_manifest_digest(&self.tag_ref(tag), &self.auth))
        {
            Ok(digest) => Ok(Some(digest)),
            Err(e) if Self::not_found(&e) => Ok(None),
            Err(e) => Err(self.error(&format!("tag {tag}"), e)),
        }
    }

    fn resolve(&self, tag: &str) -> Result<Option<Descriptor>, StoreError> {
        let r = self.tag_ref(tag);
        match self
            .rt
            .block_on(self.client.pull_manifest_raw(&r, &self.auth, MANIFEST_TYPES))
        {
            Ok((bytes, digest)) => self.descriptor(&bytes, digest).map(Some),
            Err(e) if Self::not_found(&e) => Ok(None),
            Err(e) => Err(self.error(&format!("tag {tag}"), e)),
        }
    }

    fn resolve_many(&self, tags: &[String]) -> Result<Vec<Option<Descriptor>>, StoreError> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        /// Requests in flight at once.
        const PARALLEL: usize = 16;
        self.rt.block_on(
            stream::iter(tags.iter().map(|tag| async move {
                let r = self.tag_ref(tag);
                match self
                    .client
                    .pull_manifest_raw(&r, &self.auth, MANIFEST_TYPES)
                    .await
                {
                    Ok((bytes, digest)) => self.descriptor(&bytes, digest).map(Some),
                    Err(e) if Self::not_found(&e) => Ok(None),
                    Err(e) => Err(self.error(&format!("tag {tag}"), e)),
                }
            }))
            .buffered(PARALLEL)
            .try_collect(),
        )
    }

    fn manifest(&self, digest: &str, max: u64) -> Result<Vec<u8>, StoreError> {
        let r = self.digest_ref(digest);
        let (bytes, _) = self
            .rt
            .block_on(self.client.pull_manifest_raw(&r, &self.auth, MANIFEST_TYPES))
            .map_err(|e| self.error(&format!("manifest {digest}"), e))?;
        self.check("manifest", &bytes, digest, max)?;
        Ok(bytes.to_vec())
    }

    fn blob(&self, digest: &str, max: u64) -> Result<Vec<u8>, StoreError> {
        let r = self.digest_ref(digest);
        let desc = oci_client::manifest::OciDescriptor {
            digest: digest.to_owned(),
            ..Default::default()
        };
        let mut out = Vec::new();
        self.rt
            .block_on(self.client.pull_blob(&r, &desc, &mut out))
            .map_err(|e| self.error(&format!("blob {digest}"), e))?;
        self.check("blob", &out, digest, max)?;
        Ok(out)
    }

    fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let digest = sha256_digest(bytes);
        let r = self.digest_ref(&digest);
        let exists = self
            .rt
            .block_on(self.client.blob_exists(&r, &digest))
            .unwrap_or(false);
        if !exists {
            self.rt
                .block_on(self.client.push_blob(&r, bytes.to_vec(), &digest))
                .map_err(|e| self.error(&format!("uploading blob {digest}"), e))?;
        }
        Ok(digest)
    }

    fn put_manifest_by_digest(&self, bytes: &[u8], media_type: &str) -> Result<String, StoreError> {
        let digest = sha256_digest(bytes);
        let content_type =
            reqwest::header::HeaderValue::from_str(media_type).map_err(|_| StoreError::Malformed {
                what: "media type".to_owned(),
                reason: media_type.to_owned(),
            })?;
        self.rt
            .block_on(
                self.client
                    .push_manifest_raw(&self.digest_ref(&digest), bytes.to_vec(), content_type),
            )
            .map_err(|e| self.error(&format!("pushing manifest {digest}"), e))?;
        Ok(digest)
    }

    fn put_manifest(
        &self,
        tag: &str,
        bytes: &[u8],
        media_type: &str,
        expected: Option<Option<&str>>,
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
        if let Some(expected) = expected {
            let current = self.resolve(tag)?.map(|d| d.digest);
            if current.as_deref() != expected {
                return Ok(false);
            }
        }
        let content_type =
            reqwest::header::HeaderValue::from_str(media_type).map_err(|_| StoreError::Malformed {
                what: "media type".to_owned(),
                reason: media_type.to_owned(),
            })?;
        self.rt
            .block_on(
                self.client
                    .push_manifest_raw(&self.tag_ref(tag), bytes.to_vec(), content_type),
            )
            .map_err(|e| self.error(&format!("pushing tag {tag}"), e))?;
        Ok(true)
    }
}
