//! The media types vouch reads and writes, in one table.

/// An OCI image manifest (also the type of vouch's trust artifact).
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index (a multi-platform image).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// A Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A Docker manifest list (a multi-platform image).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The OCI empty descriptor's content (`{}`).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// `artifactType` of vouch's trust artifact.
pub const VOUCH_TRUST_ARTIFACT: &str = "application/vnd.vouch.trust.v1";
/// `artifactType` of vouch's trust artifact, format 2 (an index of
/// manifests: the core metadata and groups of bins).
pub const VOUCH_TRUST_ARTIFACT_V2: &str = "application/vnd.vouch.trust.v2";
/// `artifactType` of a staged change (a proposal or an approval) kept
/// beside the trust artifact.
pub const VOUCH_STAGED: &str = "application/vnd.vouch.staged.v1";
/// The one layer of a staged change.
pub const VOUCH_STAGED_LAYER: &str = "application/vnd.vouch.staged.v1+json";
/// Each TUF metadata layer of the trust artifact.
pub const VOUCH_TUF_METADATA: &str = "application/vnd.vouch.tuf.metadata.v1+json";

/// The manifest types vouch reads, as an HTTP `Accept` value.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// Whether a media type is an image index (OCI index or Docker manifest list).
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_lists_each_manifest_type() {
        let listed: Vec<&str> = ACCEPT_MANIFESTS.split(", ").collect();
        assert_eq!(
            listed,
            [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST]
        );
        assert!(is_index(OCI_INDEX) && is_index(DOCKER_MANIFEST_LIST));
        assert!(!is_index(OCI_MANIFEST) && !is_index(DOCKER_MANIFEST));
    }
}
