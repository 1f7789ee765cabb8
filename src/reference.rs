//! Image references: `oci:DIR[:TAG]`, `REGISTRY/REPO[:TAG]`,
//! `REGISTRY/REPO@sha256:…`. Parsed once, at the boundary.

use std::path::PathBuf;

use crate::digest::Digest;
use crate::store::artifact::TRUST_TAG;

/// Where an image lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// An OCI image layout directory.
    Layout(PathBuf),
    /// A repository in a registry.
    Registry {
        /// `host[:port]`.
        registry: String,
        /// Repository path.
        repository: String,
    },
}

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// The store and repository.
    pub location: Location,
    /// Tag, if given.
    pub tag: Option<String>,
    /// `sha256:…` digest, if given.
    pub digest: Option<Digest>,
}

/// Why a reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {input:?}: {reason}")]
pub struct RefError {
    /// What was given.
    pub input: String,
    /// Why it is refused.
    pub reason: &'static str,
}

/// Checks a tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, and not vouch's own.
pub fn valid_tag(tag: &str) -> bool {
    let mut b = tag.bytes();
    tag.len() <= 128
        && tag != TRUST_TAG
        && b.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
}

impl ImageRef {
    /// Parses a reference.
    pub fn parse(input: &str) -> Result<ImageRef, RefError> {
        let err = |reason| RefError {
            input: input.to_owned(),
            reason,
        };
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => match Digest::parse(d) {
                Ok(d) => (r, Some(d)),
                Err(_) => return Err(err("a digest must be sha256: and 64 lowercase hex digits")),
            },
            None => (input, None),
        };
        if let Some(path) = rest.strip_prefix("oci:") {
            // The tag follows the last ':' after the last '/'.
            let last = path.rfind('/').map(|i| i + 1).unwrap_or(0);
            let (dir, tag) = match path[last..].rfind(':') {
                Some(i) => (&path[..last + i], Some(&path[last + i + 1..])),
                None => (path, None),
            };
            if dir.is_empty() {
                return Err(err("oci: needs a directory"));
            }
            if let Some(t) = tag
                && !valid_tag(t)
            {
                return Err(err(
                    "a tag is 1-128 of A-Z a-z 0-9 _ . - (not starting with . or -)",
                ));
            }
            let dir = std::path::absolute(dir).map_err(|_| err("cannot resolve the directory"))?;
            return Ok(ImageRef {
                location: Location::Layout(dir),
                tag: tag.map(str::to_owned),
                digest,
            });
        }
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| err("expected REGISTRY/REPO[:TAG]"))?;
        if registry.is_empty()
            || !(registry.contains('.') || registry.contains(':') || registry == "localhost")
        {
            return Err(err(
                "the first part must be a registry host (with a '.' or ':', or localhost)",
            ));
        }
        let last = path.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (repository, tag) = match path[last..].rfind(':') {
            Some(i) => (&path[..last + i], Some(&path[last + i + 1..])),
            None => (path, None),
        };
        if repository.is_empty()
            || !repository.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            })
        {
            return Err(err("a repository is lowercase path components of a-z 0-9 . _ -"));
        }
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(err(
                "a tag is 1-128 of A-Z a-z 0-9 _ . - (not starting with . or -)",
            ));
        }
        Ok(ImageRef {
            location: Location::Registry {
                registry: registry.to_owned(),
                repository: repository.to_owned(),
            },
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// Parses a reference as the docker CLI reads it: a name whose first
    /// component is not a registry host is on Docker Hub (`alpine:3` is
    /// `docker.io/library/alpine:3`, `team/app` is `docker.io/team/app`).
    /// Layouts (`oci:`) are not docker names.
    pub fn parse_docker(input: &str) -> Result<ImageRef, RefError> {
        let first = input.split('/').next().unwrap_or_default();
        let qualified =
            input.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
        if qualified || input.starts_with("oci:") {
            return ImageRef::parse(input);
        }
        let path = if input.contains('/') {
            input.to_owned()
        } else {
            format!("library/{input}")
        };
        ImageRef::parse(&format!("docker.io/{path}"))
    }

    /// The repository's identity, for policy and caches: `oci:/abs/dir`
    /// or `registry/repository`.
    pub fn repository(&self) -> String {
        match &self.location {
            Location::Layout(dir) => {
                let shown = dir.display().to_string();
                // A last component with a ':' would read back as DIR:TAG;
                // a trailing "/." keeps it one directory (found by fuzzing).
                if shown.rsplit('/').next().is_some_and(|last| last.contains(':')) {
                    format!("oci:{shown}/.")
                } else {
                    format!("oci:{shown}")
                }
            }
            Location::Registry { registry, repository } => format!("{registry}/{repository}"),
        }
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzzer's `image_ref` find: `oci:\0t:G0000oc-opc/.` is a layout
    /// directory named `\0t:G0000oc-opc`, which printed as
    /// `oci:/…/\0t:G0000oc-opc` read back as that directory's parent tagged.
    #[test]
    fn a_layout_whose_name_has_a_colon_prints_back_the_same() {
        for input in [
            "oci:\0t:G0000oc-opc/.",
            "oci:/tmp/dir:v1/.",
            "oci:/tmp/dir:v1/.:v2",
            "oci:/tmp/dir:v1/.@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            let r = ImageRef::parse(input).expect("parses");
            assert!(
                r.repository().ends_with(":v1/.") || r.repository().ends_with("opc/."),
                "{r}"
            );
            assert_eq!(
                ImageRef::parse(&r.to_string()).expect("prints back"),
                r,
                "{input}"
            );
        }
        let plain = ImageRef::parse("oci:/tmp/lay:v1").expect("layout");
        assert_eq!(plain.to_string(), "oci:/tmp/lay:v1");
    }

    #[test]
    fn parses_the_three_forms() {
        let r = ImageRef::parse("oci:/tmp/lay:v1").expect("layout");
        assert_eq!(r.location, Location::Layout("/tmp/lay".into()));
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let r = ImageRef::parse_docker("alpine:3").expect("docker hub");
        assert_eq!(r.repository(), "docker.io/library/alpine");
        let r = ImageRef::parse_docker("team/app").expect("docker hub");
        assert_eq!(r.repository(), "docker.io/team/app");
        let r = ImageRef::parse_docker("127.0.0.1:5000/team/app:1.2").expect("registry");
        assert_eq!(r.repository(), "127.0.0.1:5000/team/app");
        let r = ImageRef::parse("127.0.0.1:5000/team/app:1.2").expect("registry");
        assert_eq!(r.repository(), "127.0.0.1:5000/team/app");
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("localhost/app@{d}")).expect("digest");
        assert_eq!(r.digest.as_ref().map(Digest::as_str), Some(d.as_str()));
        assert!(r.tag.is_none());
        for bad in [
            "app:1",
            "oci:",
            "x.io/App:1",
            "x.io/app:-bad",
            "oci:/d:vouch-trust",
            "x.io/app@sha256:zz",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }
}
