//! Which upstream repository and object a request names.
//!
//! * `/v2/NAME/REPO/…` goes to the upstream called NAME, so images keep
//!   their names behind a mirror configuration (`prefix = "UPSTREAM"`,
//!   `location = "PROXY/NAME"`);
//! * a request with containerd's `ns=REGISTRY` query parameter goes to that
//!   registry if it is an upstream, and is refused if it is not;
//! * a bare `/v2/REPO/…` goes to the first upstream.

use crate::digest::Digest;

/// An upstream registry and the name the proxy serves it under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    /// The first path component that selects it.
    pub name: String,
    /// `host[:port]`.
    pub registry: String,
}

impl Upstream {
    /// Parses `[NAME=]REGISTRY`; without a name, the registry's host (its
    /// port dropped).
    pub fn parse(spec: &str) -> Result<Upstream, String> {
        let (name, registry) = match spec.split_once('=') {
            Some((n, r)) => (n.to_owned(), r.to_owned()),
            None => {
                let host = match spec.strip_prefix('[') {
                    Some(rest) => rest.split(']').next().unwrap_or_default(),
                    None => spec.rsplit_once(':').map_or(spec, |(h, _)| h),
                };
                (host.to_owned(), spec.to_owned())
            }
        };
        if !valid_component(&name) {
            return Err(format!(
                "{name:?} is not a valid upstream name (a repository path component)"
            ));
        }
        if registry.is_empty() || registry.contains('/') || registry.contains(char::is_whitespace) {
            return Err(format!("{registry:?} is not a registry host[:port]"));
        }
        Ok(Upstream { name, registry })
    }
}

pub use crate::serving::Reference;

/// Refuses upstream lists that route ambiguously: two upstreams under one
/// name (the second would never be reached, or a request meant for one
/// would read the other's repositories), or one registry under two names
/// (containerd's `ns=` names a registry, not a name).
pub fn check_upstreams(upstreams: &[Upstream]) -> Result<(), String> {
    if upstreams.is_empty() {
        return Err("no --upstream given".to_owned());
    }
    for (i, u) in upstreams.iter().enumerate() {
        // Mirror configurations put the registry's host first in the path
        // (`location = "PROXY/ghcr.io"`): a name that reads as a host must
        // be the host it serves, or it would stand in for another
        // registry's repositories.
        let host = u
            .registry
            .rsplit_once(':')
            .map_or(u.registry.as_str(), |(h, _)| h);
        let looks_like_host = u.name.contains('.') || u.name == "localhost";
        if looks_like_host && u.name != host && u.name != u.registry {
            return Err(format!(
                "the upstream name {:?} reads as a registry host but serves {}: it would shadow {}'s repositories; pick a name without a dot",
                u.name, u.registry, u.name
            ));
        }
        for other in &upstreams[..i] {
            if other.name == u.name {
                return Err(format!(
                    "two upstreams are named {:?} ({} and {}): give each its own NAME=",
                    u.name, other.registry, u.registry
                ));
            }
            if other.registry == u.registry {
                return Err(format!(
                    "the upstream {} is given twice (as {:?} and {:?})",
                    u.registry, other.name, u.name
                ));
            }
        }
    }
    Ok(())
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/v2/`: the API version check.
    Base,
    /// A manifest.
    Manifest {
        /// The upstream.
        upstream: &'a Upstream,
        /// The repository path there.
        repo: String,
        /// Tag or digest.
        reference: Reference,
    },
    /// A blob.
    Blob {
        /// The upstream.
        upstream: &'a Upstream,
        /// The repository path there.
        repo: String,
        /// Its digest.
        digest: String,
    },
    /// The tag list (`tags/list`).
    Tags {
        /// The upstream.
        upstream: &'a Upstream,
        /// The repository path there.
        repo: String,
        /// The name as the client gave it (the list answers under it).
        name: String,
        /// At most this many tags (`n`).
        n: Option<usize>,
        /// Tags after this one (`last`).
        last: Option<String>,
    },
    /// Anything else: not served.
    Unsupported,
}

fn valid_component(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= 128
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && !c.contains("..")
}

/// A query parameter, if any.
fn param(query: Option<&str>, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(&format!("http://proxy/?{}", query?)).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The `ns` query parameter, if any.
fn namespace(query: Option<&str>) -> Option<String> {
    param(query, "ns")
}

/// Routes a request path (and query) among `upstreams`.
pub fn route<'a>(upstreams: &'a [Upstream], path: &str, query: Option<&str>) -> Route<'a> {
    if path == "/v2/" || path == "/v2" {
        return Route::Base;
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Route::Unsupported;
    };
    let (name, kind, reference) = if let Some(name) = rest.strip_suffix("/tags/list") {
        (name, "tags", "")
    } else if let Some((name, r)) = rest.rsplit_once("/manifests/") {
        (name, "manifests", r)
    } else if let Some((name, r)) = rest.rsplit_once("/blobs/") {
        (name, "blobs", r)
    } else {
        return Route::Unsupported;
    };
    if !name.split('/').all(valid_component) {
        return Route::Unsupported;
    }
    let Some(first) = upstreams.first() else {
        return Route::Unsupported;
    };
    let (upstream, repo) = match namespace(query) {
        // containerd names the registry it means: that one, or none (never
        // another registry's repository under the name it asked for).
        Some(ns) => match upstreams.iter().find(|u| u.registry == ns) {
            Some(u) => (u, name.to_owned()),
            None => return Route::Unsupported,
        },
        None => match name.split_once('/') {
            Some((head, tail)) if upstreams.iter().any(|u| u.name == head) => (
                upstreams.iter().find(|u| u.name == head).unwrap_or(first),
                tail.to_owned(),
            ),
            _ => (first, name.to_owned()),
        },
    };
    match kind {
        "tags" => Route::Tags {
            upstream,
            repo,
            name: name.to_owned(),
            n: param(query, "n").and_then(|n| n.parse().ok()),
            last: param(query, "last"),
        },
        "manifests" if Digest::parse(reference).is_ok() => Route::Manifest {
            upstream,
            repo,
            reference: Reference::Digest(reference.to_owned()),
        },
        "manifests" if crate::reference::valid_tag(reference) => Route::Manifest {
            upstream,
            repo,
            reference: Reference::Tag(reference.to_owned()),
        },
        "blobs" if Digest::parse(reference).is_ok() => Route::Blob {
            upstream,
            repo,
            digest: reference.to_owned(),
        },
        _ => Route::Unsupported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_upstreams_are_refused() {
        let ups = |specs: &[&str]| -> Vec<Upstream> {
            specs
                .iter()
                .map(|s| Upstream::parse(s).expect("upstream"))
                .collect()
        };
        assert!(check_upstreams(&ups(&["127.0.0.1:5000", "hub=registry.example"])).is_ok());
        assert!(check_upstreams(&ups(&["ghcr.io"])).is_ok());
        assert!(check_upstreams(&[]).is_err());
        for bad in [
            &["a=127.0.0.1:5000", "a=127.0.0.1:5001"][..],
            &["a=127.0.0.1:5000", "b=127.0.0.1:5000"][..],
            &["ghcr.io=evil.example"][..],
            &["127.0.0.1:5000", "127.0.0.1=127.0.0.1:5001"][..],
        ] {
            assert!(check_upstreams(&ups(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn routes_by_name_namespace_or_first() {
        let ups = vec![
            Upstream::parse("127.0.0.1:5000").expect("upstream"),
            Upstream::parse("hub=registry.example").expect("upstream"),
        ];
        assert_eq!(ups[0].name, "127.0.0.1");
        let d = format!("sha256:{}", "a".repeat(64));
        match route(&ups, "/v2/hub/team/app/manifests/v1", None) {
            Route::Manifest {
                upstream,
                repo,
                reference,
            } => {
                assert_eq!(upstream.registry, "registry.example");
                assert_eq!(repo, "team/app");
                assert_eq!(reference, Reference::Tag("v1".to_owned()));
            }
            other => panic!("{other:?}"),
        }
        match route(&ups, "/v2/team/app/manifests/v1", Some("ns=registry.example")) {
            Route::Manifest { upstream, repo, .. } => {
                assert_eq!(
                    (upstream.registry.as_str(), repo.as_str()),
                    ("registry.example", "team/app")
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            route(&ups, "/v2/team/app/manifests/v1", Some("ns=ghcr.io")),
            Route::Unsupported,
            "a registry that is not an upstream"
        );
        match route(&ups, &format!("/v2/demo/app/blobs/{d}"), None) {
            Route::Blob {
                upstream,
                repo,
                digest,
            } => {
                assert_eq!(
                    (upstream.registry.as_str(), repo.as_str()),
                    ("127.0.0.1:5000", "demo/app")
                );
                assert_eq!(digest, d);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(route(&ups, "/v2/", None), Route::Base);
        match route(&ups, "/v2/hub/team/app/tags/list", Some("n=2&last=v1")) {
            Route::Tags {
                upstream,
                repo,
                name,
                n,
                last,
            } => {
                assert_eq!(
                    (upstream.registry.as_str(), repo.as_str(), name.as_str()),
                    ("registry.example", "team/app", "hub/team/app")
                );
                assert_eq!((n, last.as_deref()), (Some(2), Some("v1")));
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            "/v2/demo/app/manifests/../x",
            "/v2/Demo/app/manifests/v1",
            "/v2/demo/app/blobs/sha256:xyz",
            "/v2/demo/app/tags/lists",
            "/v3/demo/app/manifests/v1",
            "/v2/demo/app/manifests/vouch-trust",
        ] {
            assert_eq!(route(&ups, bad, None), Route::Unsupported, "{bad}");
        }
    }
}
