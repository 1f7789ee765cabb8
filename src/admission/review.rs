//! What an admission review asks about, and the answer: the images of a
//! workload, each decided by the shared [`Decider`], gathered into allow
//! (with a JSON Patch pinning tags to their signed digests, and warnings)
//! or deny (naming each image and its reason).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::{Failure, Settings};
use crate::policy::Level;
use crate::reference::{ImageRef, Location};
use crate::serving::{Decided, Decider, Reference, Target};

/// Distinct images decided per review (more is refused).
pub const MAX_IMAGES: usize = 256;

/// Where a workload kind keeps its pod spec (a JSON Pointer), or `None`
/// for a kind that has none.
pub fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("/spec"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job"
        | "PodTemplate" => Some(if kind == "PodTemplate" {
            "/template/spec"
        } else {
            "/spec/template/spec"
        }),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// The images of a pod spec: (JSON Pointer of the `image` field, image).
/// Containers, init containers and ephemeral containers; an entry with no
/// image string is skipped (the API server rejects it).
pub fn images(object: &Value, spec_pointer: &str) -> Vec<(String, String)> {
    let Some(spec) = object.pointer(spec_pointer) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in spec[list].as_array().into_iter().flatten().enumerate() {
            if let Some(image) = c["image"].as_str() {
                found.push((format!("{spec_pointer}/{list}/{i}/image"), image.to_owned()));
            }
        }
    }
    // Image volumes (an OCI image mounted read-only) are images the node
    // pulls too.
    for (i, v) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
        if let Some(image) = v["image"]["reference"].as_str() {
            found.push((
                format!("{spec_pointer}/volumes/{i}/image/reference"),
                image.to_owned(),
            ));
        }
    }
    found
}

/// What the gate says about one image.
#[derive(Clone, Debug)]
pub enum ImageDecision {
    /// Signed: the digest it resolves to, and the image named by it
    /// (`NAME:TAG@DIGEST`; unchanged when it already named that digest).
    Signed {
        /// The signed digest.
        digest: String,
        /// The image pinned to it.
        pinned: String,
        /// Whether the image named its digest already.
        by_digest: bool,
    },
    /// Let through without a check (content trust off for it).
    Unchecked,
    /// Would be refused; let through because the level is audit.
    Audited(String),
    /// Refused.
    Refused(String),
    /// Could not decide: the registry did not answer in time.
    Undecided(String),
    /// Could not decide for a local reason: denied whatever the failure
    /// policy.
    Broken(String),
}

/// Decides one image as the pod names it.
pub async fn decide_image(
    decider: &Arc<Decider>,
    settings: &Settings,
    image: &str,
    deadline: Instant,
) -> ImageDecision {
    let parsed = match ImageRef::parse_docker(image) {
        Ok(r) => r,
        Err(e) => return ImageDecision::Refused(e.to_string()),
    };
    let Location::Registry { registry, repository } = &parsed.location else {
        return ImageDecision::Refused("not a registry image".to_owned());
    };
    // Docker Hub's names, as the node resolves them: `index.docker.io` is
    // `docker.io`, and a one-component repository there is `library/…`.
    let registry = match registry.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        other => other.to_owned(),
    };
    let repository = if registry == "docker.io" && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository.clone()
    };
    let registry = &registry;
    let target = Target {
        registry: registry.clone(),
        repo: repository,
    };
    if !settings.registries.iter().any(|r| r == registry) {
        // Never asked about: a registry not served is not contacted.
        return match decider.level_for(&target.id()) {
            Ok((Level::Off, _)) => ImageDecision::Unchecked,
            Ok((level, _)) => {
                let why =
                    format!("{registry} is not a registry this gate checks (vouch admission --registry)");
                if level == Level::Audit {
                    ImageDecision::Audited(why)
                } else {
                    ImageDecision::Refused(why)
                }
            }
            Err(e) => ImageDecision::Broken(e),
        };
    }
    let reference = match (&parsed.tag, &parsed.digest) {
        (_, Some(d)) => Reference::Digest(d.as_str().to_owned()),
        (Some(t), None) => Reference::Tag(t.clone()),
        (None, None) => Reference::Tag("latest".to_owned()),
    };
    match decider.answer(&target, &reference, deadline).await {
        Decided::Signed { verdict, .. } => {
            let by_digest = parsed.digest.is_some();
            let pinned = if by_digest {
                image.to_owned()
            } else {
                format!("{image}@{}", verdict.digest)
            };
            ImageDecision::Signed {
                digest: verdict.digest,
                pinned,
                by_digest,
            }
        }
        Decided::Unchecked => ImageDecision::Unchecked,
        Decided::Audited(why) => ImageDecision::Audited(why),
        Decided::Refused(why) => ImageDecision::Refused(why),
        Decided::Undecided(why) => ImageDecision::Undecided(why),
        Decided::Broken(why) => ImageDecision::Broken(why),
    }
}

/// Decides each distinct image once, concurrently.
pub async fn decide_all(
    decider: &Arc<Decider>,
    settings: &Settings,
    images: impl Iterator<Item = String>,
    deadline: Instant,
) -> BTreeMap<String, ImageDecision> {
    let distinct: std::collections::BTreeSet<String> = images.collect();
    let decided = futures_util::future::join_all(distinct.iter().map(|image| async move {
        (
            image.clone(),
            decide_image(decider, settings, image, deadline).await,
        )
    }))
    .await;
    decided.into_iter().collect()
}

/// The answer to one review.
#[derive(Debug, Default)]
pub struct Answer {
    /// Denied, and why (one line per image).
    pub denied: Vec<String>,
    /// Warnings for the client (audit, an open failure policy).
    pub warnings: Vec<String>,
    /// JSON Patch operations (mutating only).
    pub patch: Vec<Value>,
    /// For the log: image, verdict.
    pub log: Vec<(String, String)>,
}

/// Gathers the decisions on a workload's images into an answer. With
/// `mutate`, a signed image named by tag is pinned to its signed digest
/// by a patch; without it (validating), such an image is refused under
/// enforcement: the node would pull whatever the tag names then.
pub fn answer(
    fields: &[(String, String)],
    decided: &BTreeMap<String, ImageDecision>,
    mutate: bool,
    failure: Failure,
) -> Answer {
    let mut a = Answer::default();
    let mut seen = std::collections::BTreeSet::new();
    for (pointer, image) in fields {
        let Some(d) = decided.get(image) else { continue };
        let first = seen.insert(image.clone());
        match d {
            ImageDecision::Signed {
                digest,
                pinned,
                by_digest,
            } => {
                if *by_digest {
                    if first {
                        a.log.push((image.clone(), format!("signed {digest}")));
                    }
                } else if mutate {
                    a.patch
                        .push(serde_json::json!({"op": "replace", "path": pointer, "value": pinned}));
                    if first {
                        a.log.push((image.clone(), format!("pinned {digest}")));
                    }
                } else if first {
                    a.denied.push(format!(
                        "{image}: signed as {digest} but named by tag (the node would pull whatever the tag names then): name it {pinned}, as vouch's mutating webhook does"
                    ));
                    a.log.push((image.clone(), "refused: named by tag".to_owned()));
                }
            }
            _ if !first => {}
            ImageDecision::Unchecked => a
                .log
                .push((image.clone(), "unchecked (content trust off)".to_owned())),
            ImageDecision::Audited(why) => {
                a.warnings.push(format!("vouch (audit): {image}: {why}"));
                a.log.push((image.clone(), format!("audit: {why}")));
            }
            ImageDecision::Refused(why) => {
                a.denied.push(format!("{image}: {why}"));
                a.log.push((image.clone(), format!("refused: {why}")));
            }
            ImageDecision::Broken(why) => {
                a.denied.push(format!("{image}: could not decide: {why}"));
                a.log.push((image.clone(), format!("undecided (denied): {why}")));
            }
            ImageDecision::Undecided(why) => match failure {
                Failure::Closed => {
                    a.denied.push(format!("{image}: could not decide: {why}"));
                    a.log.push((image.clone(), format!("undecided (denied): {why}")));
                }
                Failure::Open => {
                    a.warnings.push(format!(
                        "vouch: {image} admitted unchecked (failure policy open): {why}"
                    ));
                    a.log
                        .push((image.clone(), format!("undecided (admitted): {why}")));
                }
            },
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_kind_has_its_pod_spec_found() {
        let spec = serde_json::json!({
            "initContainers": [{"name": "i", "image": "r.example/init:1"}],
            "containers": [{"name": "a", "image": "r.example/app:1"}, {"name": "b"}],
            "ephemeralContainers": [{"name": "e", "image": "r.example/debug:1"}],
            "volumes": [{"name": "v", "image": {"reference": "r.example/data:1"}}, {"name": "w", "emptyDir": {}}],
        });
        let wrap = |kind: &str| -> Value {
            match kind {
                "Pod" => serde_json::json!({"spec": spec}),
                "CronJob" => {
                    serde_json::json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}})
                }
                "PodTemplate" => serde_json::json!({"template": {"spec": spec}}),
                _ => serde_json::json!({"spec": {"template": {"spec": spec}}}),
            }
        };
        for kind in [
            "Pod",
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "ReplicationController",
            "Job",
            "CronJob",
            "PodTemplate",
        ] {
            let object = wrap(kind);
            let pointer = pod_spec_pointer(kind).expect(kind);
            let found = images(&object, pointer);
            let names: Vec<&str> = found.iter().map(|(_, i)| i.as_str()).collect();
            assert_eq!(
                names,
                [
                    "r.example/init:1",
                    "r.example/app:1",
                    "r.example/debug:1",
                    "r.example/data:1"
                ],
                "{kind}"
            );
            for (p, i) in &found {
                assert_eq!(
                    object.pointer(p).and_then(Value::as_str),
                    Some(i.as_str()),
                    "{kind} {p}"
                );
            }
        }
        assert_eq!(pod_spec_pointer("ConfigMap"), None);
    }
}
