//! Shared by the commands that work on an image repository's trust data:
//! opening the store, reading and publishing the trust artifact, finding
//! and unlocking the repository's keys.

use std::collections::BTreeMap;

use vouch_keys::passphrase::{PassphraseProvider, Purpose, Request};
use vouch_keys::{KeyFile, KeyInfo, PrivateKey, Role, StoredKey, keyfile, sealed, unlock};

use super::passphrase::Provider;
use super::{CliError, Context, Failure};
use crate::reference::{ImageRef, Location};
use crate::store::artifact::{self, TrustArtifact};
use crate::store::oci_layout::OciLayout;
use crate::store::registry::Registry;
use crate::store::tuf_repo::{RepoDirError, read_with};
use crate::store::{Store, StoreError};
use crate::tuf::repo::{Expiries, Repository};

/// The delegated role signers sign tags into (Docker Content Trust's name).
pub const RELEASES: &str = "targets/releases";

/// Parses a reference, with the CLI's error shape.
pub fn parse_ref(s: &str) -> Result<ImageRef, CliError> {
    ImageRef::parse(s).map_err(|e| {
        CliError::failed(
            e.to_string(),
            "references look like oci:DIR:TAG, REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:…",
        )
    })
}

/// Opens the store of a reference (creating an empty layout when `create`).
pub fn open_store(ctx: &Context, r: &ImageRef, create: bool) -> Result<Box<dyn Store>, CliError> {
    match &r.location {
        Location::Layout(dir) => {
            let layout = if create {
                OciLayout::create(dir)
            } else {
                OciLayout::open(dir)
            }
            .map_err(store_error)?;
            Ok(Box::new(layout))
        }
        Location::Registry { registry, repository } => {
            let auth = crate::auth::for_registry(registry).map_err(|e| {
                CliError::failed(
                    e.to_string(),
                    "check ~/.docker/config.json (or $DOCKER_CONFIG) and its credential helper",
                )
            })?;
            let lock = ctx.trust_dir.path().join("locks").join(format!(
                "{}.lock",
                crate::store::metadata_dir::encode_segment(&r.repository())
            ));
            Ok(Box::new(
                Registry::new(registry, repository, auth, lock).map_err(store_error)?,
            ))
        }
    }
}

/// A store error: could not decide (exit 2).
pub fn store_error(e: StoreError) -> CliError {
    CliError::failed(
        e.to_string(),
        "check the image store and try again; nothing was decided",
    )
}

/// The trust artifact and the repository it holds, if initialised.
pub fn load(layout: &dyn Store) -> Result<Option<(TrustArtifact, Repository)>, CliError> {
    let Some(art) = artifact::read(layout).map_err(store_error)? else {
        return Ok(None);
    };
    let repo = read_with(
        |name| match art.files.get(name) {
            None => Ok(None),
            Some(d) => layout
                .blob(&d.digest, 64 << 20)
                .map(Some)
                .map_err(|e| RepoDirError::Io {
                    path: name.into(),
                    source: std::io::Error::other(e.to_string()),
                }),
        },
        Expiries::default(),
    )
    .map_err(|e| CliError {
        failure: Failure::Refused,
        message: format!("the trust data of {} is unreadable: {e}", layout.describe()),
        hint: "the trust artifact is damaged; restore it or re-initialise the repository".to_owned(),
    })?;
    Ok(Some((art, repo)))
}

/// The newest key of `role` scoped to `repo`.
pub fn find_key(ctx: &Context, role: &str, repo: &str) -> Result<StoredKey, CliError> {
    let listing = ctx.trust_dir.list()?;
    listing
        .keys
        .into_iter()
        .filter(|k| k.file.info.role.as_str() == role && k.file.info.repo.as_deref() == Some(repo))
        .max_by_key(|k| k.file.info.created)
        .ok_or_else(|| {
            CliError::failed(
                format!("no {role} key for {repo} in {}", ctx.trust_dir.path().display()),
                format!(
                    "`vouch init {repo}` creates the repository's keys; `vouch key import` adds existing ones"
                ),
            )
        })
}

/// Unlocks the repository's key for `role` from the trust directory.
pub fn role_key(
    ctx: &Context,
    provider: &mut Provider,
    role: &str,
    repo: &str,
) -> Result<PrivateKey, CliError> {
    unlock_key(&find_key(ctx, role, repo)?, provider)
}

/// The keys the repository's owner changes its trust data with.
pub struct OwnerKeys {
    /// The top-level targets key.
    pub targets: PrivateKey,
    /// The snapshot key.
    pub snapshot: PrivateKey,
    /// The timestamp key.
    pub timestamp: PrivateKey,
}

/// Unlocks the owner's targets, snapshot and timestamp keys.
pub fn owner_keys(ctx: &Context, provider: &mut Provider, repo: &str) -> Result<OwnerKeys, CliError> {
    Ok(OwnerKeys {
        targets: role_key(ctx, provider, "targets", repo)?,
        snapshot: role_key(ctx, provider, "snapshot", repo)?,
        timestamp: role_key(ctx, provider, "timestamp", repo)?,
    })
}

/// Unlocks a stored key with the usual passphrase sources.
pub fn unlock_key(stored: &StoredKey, provider: &mut Provider) -> Result<PrivateKey, CliError> {
    Ok(unlock(stored, provider)?.0)
}

/// Generates and stores a key for `role` of `repo`, named `{base}-{role}`
/// (made unique), and returns it unlocked.
pub fn generate_key(
    ctx: &Context,
    provider: &mut Provider,
    base: &str,
    role: &str,
    repo: &str,
) -> Result<PrivateKey, CliError> {
    let role = Role::parse(role)?;
    let existing: Vec<String> = ctx
        .trust_dir
        .list()?
        .keys
        .into_iter()
        .map(|k| k.file.info.name)
        .collect();
    let mut name = format!("{base}-{role}");
    let mut n = 2;
    while existing.contains(&name) {
        name = format!("{base}-{role}-{n}");
        n += 1;
    }
    let what = format!("new {role} key {name} for {repo}");
    let pass = provider.obtain(
        &Request {
            purpose: Purpose::Create,
            what: &what,
            class: role.class(),
            key_id: None,
        },
        None,
    )?;
    let key = PrivateKey::generate_ed25519()?;
    let file = KeyFile {
        info: KeyInfo {
            id: key.public().key_id(),
            name,
            role,
            repo: Some(repo.to_owned()),
            public: key.public(),
            created: keyfile::now_utc(),
        },
        sealed: sealed::seal(&key, &pass.passphrase, sealed::ScryptCost::DEFAULT)?,
    };
    ctx.trust_dir.insert(&file)?;
    Ok(key)
}

/// A key name base for a repository: its last path component.
pub fn name_base(repo: &str) -> String {
    key_name_from(repo.rsplit('/').next().unwrap_or(repo), "repo", 40)
}

/// A key name from arbitrary text: characters a name may not hold become
/// '-', leading dots and dashes go, at most `max` characters; `fallback`
/// when nothing is left.
pub fn key_name_from(text: &str, fallback: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches(['.', '-']);
    if trimmed.is_empty() {
        fallback.to_owned()
    } else {
        trimmed.chars().take(max).collect()
    }
}

/// Signs a new snapshot (when its key is given) and timestamp and
/// publishes the repository if the trust tag still points at `expected`.
/// `Ok(false)`: another writer won.
pub fn publish(
    layout: &dyn Store,
    repo: &mut Repository,
    snapshot: Option<&PrivateKey>,
    timestamp: &PrivateKey,
    expected: Option<&str>,
) -> Result<bool, CliError> {
    let now = time::OffsetDateTime::now_utc();
    if let Some(snapshot) = snapshot {
        repo.bump_snapshot(now);
        repo.snapshot.sign(snapshot).map_err(tuf_error)?;
    }
    repo.bump_timestamp(now).map_err(tuf_error)?;
    repo.timestamp.sign(timestamp).map_err(tuf_error)?;
    let files: BTreeMap<String, Vec<u8>> = crate::store::tuf_repo::current_files(repo).map_err(tuf_error)?;
    artifact::publish(layout, &files, expected).map_err(store_error)
}

/// Attempts to publish before giving up on concurrent writers.
pub const MAX_ATTEMPTS: usize = 20;

/// The error for a repository without trust data.
pub fn no_trust_data(repo_id: &str) -> CliError {
    CliError::failed(
        format!("{repo_id} has no trust data"),
        format!("run `vouch init {repo_id}` first"),
    )
}

/// Reads the repository's trust data, applies `change`, signs a new
/// snapshot (when its key is given) and timestamp, and publishes — starting
/// over from the new state when another writer published first, so no
/// update is lost. Returns what `change` returned and the published state.
pub fn update<R>(
    store: &dyn Store,
    repo_id: &str,
    snapshot: Option<&PrivateKey>,
    timestamp: &PrivateKey,
    mut change: impl FnMut(&mut Repository, time::OffsetDateTime) -> Result<R, CliError>,
) -> Result<(R, Repository), CliError> {
    for _ in 0..MAX_ATTEMPTS {
        let (art, mut repo) = load(store)?.ok_or_else(|| no_trust_data(repo_id))?;
        let out = change(&mut repo, time::OffsetDateTime::now_utc())?;
        if publish(store, &mut repo, snapshot, timestamp, Some(&art.digest))? {
            return Ok((out, repo));
        }
    }
    Err(CliError::failed(
        format!("{repo_id}: gave up after {MAX_ATTEMPTS} concurrent updates"),
        "try again",
    ))
}

/// A TUF error where none is expected.
pub fn bug(e: crate::tuf::TufError) -> CliError {
    CliError::failed(e.to_string(), "report this as a bug")
}

fn tuf_error(e: crate::tuf::TufError) -> CliError {
    CliError::failed(e.to_string(), "report this as a bug")
}

/// The client metadata directory of a repository in the trust directory.
pub fn metadata_dir(ctx: &Context, repo_id: &str) -> crate::store::metadata_dir::MetadataDir {
    crate::store::metadata_dir::MetadataDir::new(
        ctx.trust_dir
            .path()
            .join("tuf")
            .join(crate::store::metadata_dir::encode_segment(repo_id)),
    )
}

fn refused(message: String, hint: impl Into<String>) -> CliError {
    CliError {
        failure: Failure::Refused,
        message,
        hint: hint.into(),
    }
}

/// Refreshes the repository's trust data (see [`with_trusted`]) and
/// resolves `tag`. Returns the signing role and the target.
pub fn trusted_target(
    ctx: &Context,
    r: &ImageRef,
    layout: &dyn Store,
    tag: Option<&str>,
    tofu: bool,
) -> Result<Option<(String, crate::tuf::metadata::TargetFile)>, CliError> {
    with_trusted(ctx, r, layout, tofu, |client| {
        let Some(tag) = tag else { return Ok(None) };
        let path = crate::tuf::TargetPath::parse(tag)
            .map_err(|e| CliError::failed(e.to_string(), "check the tag"))?;
        // Docker Content Trust's rule: when targets/releases exists, a tag
        // resolves through it (and needs its threshold), else through targets.
        let releases = client
            .trusted()
            .targets("targets")
            .and_then(|t| t.signed().delegations.as_ref())
            .is_some_and(|d| d.roles.iter().flatten().any(|r| r.name == RELEASES));
        let found = if releases {
            client
                .resolve_in(RELEASES, "targets", &path)
                .map(|t| (RELEASES.to_owned(), t))
        } else {
            client.resolve(&path)
        };
        match found {
            Ok(found) => Ok(Some(found)),
            Err(crate::update::UpdateError::NoSuchTarget(_)) => Err(refused(
                format!("{}:{tag} is not signed", r.repository()),
                format!("the publisher signs it with `vouch sign {r}`"),
            )),
            Err(e) => Err(e.into()),
        }
    })
}

/// Runs the TUF client against the repository's trust artifact, starting
/// from a root signed by the pinned keys (or pinning on first use when
/// `tofu`), refreshes, and hands the client to `f`.
pub fn with_trusted<T>(
    ctx: &Context,
    r: &ImageRef,
    layout: &dyn Store,
    tofu: bool,
    f: impl FnOnce(&mut crate::update::Client<'_>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    use crate::tuf::metadata::{Envelope, Root};
    use crate::update::Client;
    let repo_id = r.repository();
    let meta = metadata_dir(ctx, &repo_id);
    let local = |e: std::io::Error| {
        CliError::failed(
            format!("{}: {e}", meta.path().display()),
            "check the trust directory",
        )
    };
    let now = time::OffsetDateTime::now_utc();
    let limits = crate::tuf::Limits::default();
    if ctx.offline {
        // Zero network: only what an earlier verification persisted.
        if meta.read("root").map_err(local)?.is_none() {
            return Err(CliError::failed(
                format!("no cached trust data for {repo_id}"),
                "verify once online; --offline then uses what that verification kept",
            ));
        }
        let mut fetcher = crate::store::fetch::Offline;
        let mut client = Client::open(meta.clone(), &mut fetcher, "", now, limits)?;
        client.load_cached()?;
        if let Some(until) = client.trusted().fresh_until() {
            eprintln!(
                "offline: cached trust data of {repo_id} stays fresh until {}",
                until.as_str()
            );
        }
        return f(&mut client);
    }
    // One request tells whether the trust data changed since last time.
    let current = layout
        .head(artifact::TRUST_TAG)
        .map_err(store_error)?
        .ok_or_else(|| {
            refused(
                format!("{repo_id} has no trust data: nothing in it is signed"),
                format!("the publisher runs `vouch init {repo_id}` and `vouch sign`"),
            )
        })?;
    if meta.read("root").map_err(local)?.is_none() {
        // Creates the trust directory 0700 if this machine has none yet.
        ctx.trust_dir.ensure()?;
        let art = artifact::read(layout).map_err(store_error)?.ok_or_else(|| {
            refused(
                format!("{repo_id} has no trust data: nothing in it is signed"),
                "ask the publisher to sign it",
            )
        })?;
        let policy = crate::policy::Policy::load(ctx.trust_dir.path()).map_err(super::init::policy_error)?;
        let scope = policy.lookup(&repo_id);
        let pinned: Vec<String> = scope.map(|s| s.root_keys.clone()).unwrap_or_default();
        let first = art.files.get("1.root.json").ok_or_else(|| {
            refused(
                format!("the trust data of {repo_id} has no 1.root.json"),
                "the trust artifact is damaged",
            )
        })?;
        let bytes = layout.blob(&first.digest, 512 * 1024).map_err(store_error)?;
        let env: Envelope<Root> = Envelope::parse("root", &bytes)
            .map_err(|e| refused(format!("{repo_id}: {e}"), "the trust artifact is damaged"))?;
        let root = &env.signed;
        let role = root.roles.get("root").ok_or_else(|| {
            refused(
                format!("{repo_id}: root has no root role"),
                "the trust artifact is damaged",
            )
        })?;
        if pinned.is_empty() {
            if !(tofu || scope.is_some_and(|s| s.tofu)) {
                let ids = role.keyids.join(" ");
                return Err(refused(
                    format!("{repo_id} is not pinned: vouch does not trust a root on first use"),
                    format!(
                        "check the root key with the publisher, then: vouch pin {repo_id} {ids}  (or pass --tofu)"
                    ),
                ));
            }
            eprintln!(
                "WARNING: trusting {repo_id} on first use: pinning root key(s) {} without checking them with the publisher",
                role.keyids.join(", ")
            );
            let mut policy = policy;
            policy.pin(&repo_id, role.keyids.clone());
            policy
                .save(ctx.trust_dir.path())
                .map_err(super::init::policy_error)?;
        } else {
            // The first root must be signed by a threshold of the pinned keys.
            crate::tuf::crypto::verify_threshold(
                "root",
                1,
                &env.canonical,
                &env.signatures,
                &root.keys,
                &pinned,
                role.threshold,
            )
            .map_err(|e| {
                refused(
                    format!("{repo_id}: its root is not signed by the pinned root keys ({e})"),
                    "the repository's root changed or the trust data was replaced; check with the publisher",
                )
            })?;
        }
        std::fs::create_dir_all(meta.path()).map_err(local)?;
        meta.write("root", &bytes).map_err(local)?;
    }
    let state = meta.path().join("state").join("trust-manifest");
    let unchanged = std::fs::read_to_string(&state).is_ok_and(|d| d.trim() == current);
    let mut fetcher = artifact::ArtifactFetcher::new(layout);
    if unchanged {
        // Nothing changed since the last verification: the cached metadata
        // is used as long as it is still fresh.
        let mut client = Client::open(meta.clone(), &mut fetcher, "", now, limits)?;
        if client.load_cached().is_ok() {
            return f(&mut client);
        }
    }
    let mut client = Client::open(meta.clone(), &mut fetcher, "", now, limits)?;
    client.refresh()?;
    let result = f(&mut client);
    drop(client);
    if let Some(digest) = fetcher.digest() {
        std::fs::create_dir_all(state.parent().unwrap_or(meta.path())).map_err(local)?;
        vouch_keys::store::write_atomic(&state, digest.as_bytes(), 0o644, vouch_keys::store::Mode::Replace)
            .map_err(local)?;
    }
    result
}
