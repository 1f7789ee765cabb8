//! Reading Docker Content Trust data from a Notary v1 server, verified by
//! the Notary client's rules (`crate::notary`), with trust that does not
//! start on first use: the root is pinned in `policy.toml` (by the root
//! certificate's key id, as `docker trust inspect` prints it, or by the
//! key's canonical id, as notary names the key file), or taken from the
//! user's Docker trust cache (`$DOCKER_CONFIG/trust/tuf/<GUN>/metadata/
//! root.json`, what their docker trusted before), or pinned on first use
//! with `--tofu`. Rollback and freeze are checked against vouch's own cache
//! for the GUN (`TRUST_DIR/notary/<GUN>/`).

use std::collections::BTreeMap;

use super::Trust;
use super::error::TrustError;
use super::pinning::{FirstUse, Pin};
use crate::notary::format::{Envelope, FileMeta, Root};
use crate::notary::signatures::{NotaryKey, verify_threshold};
use crate::notary::{NotaryError, NotaryLimits, NotarySet, RELEASES};
use crate::policy::Policy;
use crate::store::metadata_dir::MetadataDir;
use crate::store::notary_server::NotaryServer;
use crate::store::{FetchError, FetchErrorKind, Fetcher};
use crate::tuf::metadata::{RoleName, encode_segment};

/// Where a GUN's Notary data comes from.
#[derive(Clone, Debug)]
pub struct NotarySource {
    /// The GUN (`registry/repository`).
    pub gun: String,
    /// The registry host of the GUN.
    pub registry: String,
    /// The server's URL (https).
    pub url: String,
}

impl NotarySource {
    /// The server for `gun`: `url` if given, else `DOCKER_CONTENT_TRUST_SERVER`,
    /// else Docker's default (`https://notary.docker.io` for Docker Hub,
    /// `https://<registry>` otherwise).
    pub fn resolve(gun: &str, registry: &str, url: Option<&str>) -> NotarySource {
        let env = std::env::var("DOCKER_CONTENT_TRUST_SERVER")
            .ok()
            .filter(|s| !s.is_empty());
        let url = url.map(str::to_owned).or(env).unwrap_or_else(|| match registry {
            "docker.io" | "index.docker.io" | "registry-1.docker.io" => "https://notary.docker.io".to_owned(),
            other => format!("https://{other}"),
        });
        NotarySource {
            gun: gun.to_owned(),
            registry: registry.to_owned(),
            url,
        }
    }
}

/// The canonical id of a key: that of the plain `ecdsa` key built from its
/// SubjectPublicKeyInfo (how notary names private key files).
pub fn canonical_key_id(key: &NotaryKey) -> Option<String> {
    canonical_id_of_spki(&key.spki)
}

/// The canonical id of an ECDSA public key given as DER SubjectPublicKeyInfo.
pub fn canonical_id_of_spki(spki: &[u8]) -> Option<String> {
    use base64::Engine;
    let object = serde_json::json!({
        "keytype": "ecdsa",
        "keyval": {"private": null, "public": base64::engine::general_purpose::STANDARD.encode(spki)},
    });
    crate::notary::signatures::key_id(&object)
}

/// Whether a root carries the pin's threshold of signatures from pinned
/// root keys, a pinned id being the root certificate's key id or its
/// canonical key id.
fn pin_admits(pin: &Pin, root: &[u8]) -> Result<(), NotaryError> {
    let env: Envelope<Root> = Envelope::parse("root", root)?;
    crate::notary::signatures::check_key_ids("root", &env.signed.keys)?;
    let root_ids = env
        .signed
        .roles
        .get("root")
        .map(|r| r.keyids.clone())
        .unwrap_or_default();
    let mut keys = BTreeMap::new();
    for id in &root_ids {
        let Some(key) = env.signed.keys.get(id).and_then(NotaryKey::parse) else {
            continue;
        };
        let canonical = canonical_key_id(&key);
        if pin.keys.contains(id) || canonical.is_some_and(|c| pin.keys.contains(&c)) {
            keys.insert(id.clone(), key);
        }
    }
    let ids: Vec<String> = keys.keys().cloned().collect();
    verify_threshold(
        "root (pinned keys)",
        env.signed.version,
        &env.messages(),
        &env.signatures,
        &keys,
        &ids,
        pin.threshold,
    )
}

/// The root certificate key ids of a root (for messages and first-use pins).
pub fn root_key_ids(root: &[u8]) -> Vec<String> {
    Envelope::<Root>::parse("root", root)
        .ok()
        .and_then(|e| e.signed.roles.get("root").map(|r| r.keyids.clone()))
        .unwrap_or_default()
}

fn refused(gun: &str) -> impl Fn(NotaryError) -> TrustError + '_ {
    move |source| TrustError::NotaryRefused {
        gun: gun.to_owned(),
        source,
    }
}

/// A GUN's verified Notary data.
#[derive(Debug)]
pub struct NotaryReader {
    source: NotarySource,
    set: NotarySet,
}

fn fetch(
    gun: &str,
    server: &mut NotaryServer,
    name: &str,
    role: &str,
    max: u64,
) -> Result<Vec<u8>, TrustError> {
    match server.fetch(name, max) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(TrustError::Incomplete {
            repo: gun.to_owned(),
            what: format!("Notary {role} metadata ({name}.json)"),
        }),
        Err(FetchError {
            kind: FetchErrorKind::TooLarge(limit),
            ..
        }) => Err(refused(gun)(NotaryError::TooLarge {
            role: role.to_owned(),
            limit,
        })),
        Err(e) => Err(e.into()),
    }
}

/// The version of cached metadata (this machine's own, verified copy).
fn cached_version(cache: &MetadataDir, role: &str) -> u64 {
    cache
        .read(&RoleName::parse(role))
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["signed"]["version"].as_u64())
        .unwrap_or(0)
}

impl NotaryReader {
    /// Verifies the GUN's trust data on its Notary server.
    pub fn open(trust: &Trust, source: NotarySource, tofu: bool) -> Result<NotaryReader, TrustError> {
        if trust.offline {
            return Err(TrustError::edit(
                "--offline does not read Notary data",
                "verify against the Notary server, or migrate the repository with `vouch migrate`",
            ));
        }
        trust.ensure_dir()?;
        let gun = source.gun.clone();
        let refuse = refused(&gun);
        let now = trust.now();
        let limits = NotaryLimits::default();
        let cache = MetadataDir::new(trust.dir.join("notary").join(encode_segment(&gun)));
        let local = TrustError::local(cache.path());
        let mut server = NotaryServer::new(&source.url, &gun, &source.registry)
            .map_err(|e| TrustError::edit(e.to_string(), "give --notary-server https://HOST[:PORT]"))?;
        let mut policy = Policy::load(&trust.dir)?;
        let pin = Pin::of(&policy, &gun);
        let first_use = FirstUse::from(tofu, &policy, &gun);
        let served_root = match server.fetch("root", limits.max_root) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Err(TrustError::NoNotaryData {
                    gun: gun.clone(),
                    url: source.url.clone(),
                });
            }
            Err(_) => fetch(&gun, &mut server, "root", "root", limits.max_root)?,
        };

        // Where trust starts: the chain cached here, if its first root
        // (the anchor) is still admitted by the pin; else a new start, from
        // the pin, the root the user's docker trusted, or first use. A new
        // start replaces the cache only once it has verified.
        let anchor_file = cache.path().join("anchor-root.json");
        let cached_anchor = std::fs::read(&anchor_file).ok();
        let cached_root = cache.read(&RoleName::Root).map_err(&local)?;
        let continues = match (&pin, &cached_anchor, &cached_root) {
            (Some(pin), Some(anchor), Some(_)) => pin_admits(pin, anchor).is_ok(),
            (None, Some(_), Some(_)) => true,
            _ => false,
        };
        let docker_root = crate::store::auth::docker_config_dir()
            .map(|d| d.join("trust/tuf").join(&gun).join("metadata/root.json"))
            .and_then(|p| std::fs::read(p).ok());
        let (start, anchor) = if continues {
            let root = cached_root.unwrap_or_default();
            (root, cached_anchor.unwrap_or_default())
        } else if let Some(pin) = &pin {
            if cached_anchor.is_some() {
                trust.notice(super::Notice::PinChanged { repo: gun.clone() });
            }
            pin_admits(pin, &served_root).map_err(|e| TrustError::PinNotMet {
                repo: gun.clone(),
                reason: e.to_string(),
            })?;
            (served_root.clone(), served_root.clone())
        } else if let Some(root) = docker_root {
            trust.notice(super::Notice::DockerTrustedRoot { gun: gun.clone() });
            (root.clone(), root)
        } else if first_use == FirstUse::TrustOnFirstUse {
            let ids = root_key_ids(&served_root);
            trust.notice(super::Notice::TrustOnFirstUse {
                repo: gun.clone(),
                keys: ids.clone(),
            });
            NotarySet::new(&gun, &served_root, now, limits).map_err(&refuse)?;
            policy.pin(&gun, ids, 1);
            policy.save(&trust.dir)?;
            (served_root.clone(), served_root.clone())
        } else {
            return Err(TrustError::NotPinned {
                repo: gun.clone(),
                root_keys: root_key_ids(&served_root),
            });
        };
        // The versions this machine verified are the floors (rollback), on
        // the chain it continues.
        let floor = |role: &str| {
            if continues {
                cached_version(&cache, role)
            } else {
                0
            }
        };
        let mut set = NotarySet::new(&gun, &start, now, limits).map_err(&refuse)?;

        // Root: the server's, reached through any versions in between.
        if served_root != set.root().bytes {
            let newest = Envelope::<Root>::parse("root", &served_root)
                .map_err(&refuse)?
                .signed
                .version;
            let trusted = set.root().signed().version;
            for version in trusted.saturating_add(1)..newest.min(trusted.saturating_add(256)) {
                let name = format!("{version}.root");
                let bytes = fetch(&gun, &mut server, &name, "root", limits.max_root)?;
                set.update_intermediate_root(&bytes).map_err(&refuse)?;
            }
        }
        set.update_root(&served_root).map_err(&refuse)?;
        // Timestamp, snapshot: not older than what was verified here.
        let ts = fetch(&gun, &mut server, "timestamp", "timestamp", limits.max_timestamp)?;
        set.update_timestamp(&ts, floor("timestamp")).map_err(&refuse)?;
        let (sha, len) = set.snapshot_request().map_err(&refuse)?;
        let snap = fetch(&gun, &mut server, &format!("snapshot.{sha}"), "snapshot", len)?;
        set.update_snapshot(&snap, floor("snapshot")).map_err(&refuse)?;
        // Targets and every delegation the snapshot lists, breadth first.
        let mut queue = std::collections::VecDeque::from(["targets".to_owned()]);
        let mut loaded = 0usize;
        while let Some(role) = queue.pop_front() {
            loaded += 1;
            if loaded > limits.max_roles {
                return Err(refuse(NotaryError::TooLarge {
                    role: "delegations".to_owned(),
                    limit: limits.max_roles as u64,
                }));
            }
            let Some((sha, len)) = set.role_request(&role).map_err(&refuse)? else {
                if role == "targets" {
                    return Err(refuse(NotaryError::NotListed {
                        role,
                        by: "snapshot".to_owned(),
                    }));
                }
                continue;
            };
            let bytes = fetch(&gun, &mut server, &format!("{role}.{sha}"), &role, len)?;
            match set.update_targets(&role, &bytes, floor(&role)) {
                Ok(()) => queue.extend(set.children(&role)),
                // off-notary: the role that holds tags, once verified here,
                // may not silently stop counting (docker would fall back to
                // `targets`, possibly to an older digest).
                Err(e) if role == RELEASES && floor(RELEASES) > 0 => return Err(refuse(e)),
                Err(e) if role != "targets" && e.skips_delegation() => set.skip(&role, e),
                Err(e) => return Err(refuse(e)),
            }
        }
        // Keep what verified: the references for the next run (a new start
        // replaces what was cached under another anchor).
        if !continues {
            cache.clear().map_err(&local)?;
        }
        cache.write(&RoleName::Root, &set.root().bytes).map_err(&local)?;
        vouch_keys::trust_dir::write_atomic(
            &anchor_file,
            &anchor,
            0o644,
            vouch_keys::trust_dir::Mode::Replace,
        )
        .map_err(&local)?;
        if let Some(t) = set.timestamp() {
            cache.write(&RoleName::Timestamp, &t.bytes).map_err(&local)?;
        }
        if let Some(s) = set.snapshot() {
            cache.write(&RoleName::Snapshot, &s.bytes).map_err(&local)?;
        }
        for (role, t) in set.all_targets() {
            cache.write(&RoleName::parse(role), &t.bytes).map_err(&local)?;
        }
        Ok(NotaryReader { source, set })
    }

    /// The verified set.
    pub fn trusted(&self) -> &NotarySet {
        &self.set
    }

    /// The GUN.
    pub fn gun(&self) -> &str {
        &self.source.gun
    }

    /// What `tag` is signed as, by Docker Content Trust's rule
    /// (`targets/releases` first, then `targets`).
    pub fn resolve_tag(&self, tag: &str) -> Result<NotaryTarget, TrustError> {
        let (role, meta) = self.set.lookup(tag).ok_or_else(|| TrustError::NotSigned {
            repo: self.source.gun.clone(),
            tag: tag.to_owned(),
            holder: format!("{RELEASES} or targets (Notary)"),
        })?;
        let digest = meta.sha256_hex().map(|h| format!("sha256:{h}")).ok_or_else(|| {
            refused(&self.source.gun)(NotaryError::HashMismatch {
                what: format!("target {tag}"),
                by: role.clone(),
                field: "sha256 (none listed)".to_owned(),
            })
        })?;
        Ok(NotaryTarget {
            tag: tag.to_owned(),
            role,
            digest,
            meta,
        })
    }

    /// Every target name any verified role lists, once each, sorted.
    fn tag_names(&self) -> Vec<&String> {
        let names: std::collections::BTreeSet<&String> = self
            .set
            .all_targets()
            .values()
            .flat_map(|t| t.signed().targets.keys())
            .collect();
        names.into_iter().collect()
    }

    /// Whether `digest` is what some tag resolves to.
    pub fn resolve_digest(&self, digest: &str) -> Result<NotaryTarget, TrustError> {
        let names = self.tag_names();
        for tag in names {
            if let Ok(t) = self.resolve_tag(tag)
                && t.digest == digest
            {
                return Ok(t);
            }
        }
        Err(TrustError::DigestNotSigned {
            repo: self.source.gun.clone(),
            digest: digest.to_owned(),
        })
    }

    /// Every tag that resolves, with the roles that list it with the same
    /// digest.
    pub fn signed_tags(&self) -> Vec<(NotaryTarget, Vec<String>)> {
        let names = self.tag_names();
        names
            .into_iter()
            .filter_map(|tag| {
                let t = self.resolve_tag(tag).ok()?;
                let roles = self
                    .set
                    .all_targets()
                    .iter()
                    .filter(|(_, r)| {
                        r.signed()
                            .targets
                            .get(tag)
                            .and_then(FileMeta::sha256_hex)
                            .map(|h| format!("sha256:{h}"))
                            == Some(t.digest.clone())
                    })
                    .map(|(name, _)| name.clone())
                    .collect();
                Some((t, roles))
            })
            .collect()
    }

    /// Verifies a registry reference against the Notary data: a tag must be
    /// signed and the registry's tag must be the signed manifest; a digest
    /// must be one a signed tag maps to.
    pub fn verify(
        &self,
        r: &crate::reference::ImageRef,
        store: &dyn crate::store::Store,
    ) -> Result<super::Verdict, TrustError> {
        match (&r.tag, &r.digest) {
            (Some(tag), digest) => {
                let t = self.resolve_tag(tag)?;
                let current = match digest {
                    Some(d) => Some(d.to_string()),
                    None => store.head(tag)?,
                };
                let current = current.ok_or_else(|| TrustError::TagNotInStore {
                    repo: self.source.gun.clone(),
                    tag: tag.clone(),
                })?;
                if current != t.digest {
                    return Err(TrustError::DigestMismatch {
                        repo: self.source.gun.clone(),
                        tag: tag.clone(),
                        current,
                        trusted: t.digest,
                    });
                }
                Ok(super::Verdict::new(
                    t.digest.clone(),
                    super::decide::How::NotaryTag { role: &t.role },
                ))
            }
            (None, Some(digest)) => {
                let t = self.resolve_digest(digest.as_str())?;
                Ok(super::Verdict::new(
                    t.digest.clone(),
                    super::decide::How::NotaryAsTag {
                        tag: &t.tag,
                        role: &t.role,
                    },
                ))
            }
            (None, None) => Err(TrustError::edit(
                "a tag or a digest is needed",
                "give REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:…",
            )),
        }
    }
}

/// A tag as Notary data signs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotaryTarget {
    /// The tag.
    pub tag: String,
    /// The role it resolved in.
    pub role: String,
    /// `sha256:…`.
    pub digest: String,
    /// Length, hashes and custom data.
    pub meta: FileMeta,
}
