//! The decision a long-running gate makes on an image reference.
//!
//! One [`Decider`] per process answers "may `registry/repo` at this tag or
//! digest be pulled, and which digest is that?" for every request of
//! `vouch proxy` and `vouch admission`, through [`crate::trust::Reader`],
//! at the level the environment and `policy.toml` set.
//!
//! Speed without staleness:
//! * the answers of one verified trust artifact are kept (it is
//!   content-addressed: while the upstream's trust tag names it, the policy
//!   file is unchanged and the metadata is fresh, the same question has the
//!   same answer);
//! * whether the trust tag still names it is asked of the upstream at most
//!   once per [`TRUST_TAG_REUSE`] per repository, by one request while the
//!   others wait for its answer (coalesced): a revocation is seen within
//!   about a second, and a warm decision costs no upstream request.
//!
//! Bounded whatever clients send: state exists only for repositories a
//! decision touched on a registry the gate serves, at most [`MAX_REPOS`],
//! the least recently used forgotten first and never one a request is
//! using; blocking decisions run at most [`MAX_DECIDING`] at once; every
//! decision has a deadline.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::policy::{Level, Policy};
use crate::store::Store;
use crate::store::artifact::TRUST_TAG;
use crate::store::registry::Registry;
use crate::trust::gate::Asked;
use crate::trust::{Reader, Trust, Verdict};

/// How long one answer of the upstream's trust tag is reused: the time
/// within which a gate sees a revocation (or any new trust data).
pub const TRUST_TAG_REUSE: Duration = Duration::from_secs(1);
/// Repositories whose state is kept.
pub const MAX_REPOS: usize = 1024;
/// Decisions that may wait on the upstream at once (each holds a thread).
pub const MAX_DECIDING: usize = 64;
/// Answers kept per repository and trust artifact.
const MAX_ANSWERS: usize = 4096;
/// Manifest bytes kept in memory, by digest (content-addressed: safe).
const MANIFEST_CACHE_BYTES: usize = 64 << 20;
/// Blobs remembered as part of a manifest served, over all repositories.
const MAX_BLOB_REFS: usize = 262_144;
/// Manifests remembered per blob.
const MAX_MANIFESTS_PER_BLOB: usize = 8;
/// Tags listed per repository.
pub const MAX_TAGS: usize = 10_000;
/// Largest manifest read.
pub const MAX_MANIFEST: u64 = crate::store::copy::MAX_MANIFEST;

/// A manifest reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reference {
    /// A tag.
    Tag(String),
    /// A `sha256:` digest.
    Digest(String),
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Tag(t) => write!(f, ":{t}"),
            Reference::Digest(d) => write!(f, "@{d}"),
        }
    }
}

/// A repository on a registry the gate serves.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// `host[:port]`.
    pub registry: String,
    /// The repository path there.
    pub repo: String,
}

impl Target {
    /// `registry/repo`: the name pins and policy scopes match.
    pub fn id(&self) -> String {
        format!("{}/{}", self.registry, self.repo)
    }
}

/// A manifest's bytes and media type, shared between answers.
#[derive(Debug)]
pub struct Manifest {
    /// The bytes, as the upstream stores them.
    pub bytes: Vec<u8>,
    /// Their media type.
    pub media: String,
}

/// What the gate says about a reference.
#[derive(Clone, Debug)]
pub enum Decided {
    /// Trust data signs it: serve (or pin) `verdict.digest`, whose manifest
    /// is `manifest`.
    Signed {
        /// The signed digest and how it was established.
        verdict: Verdict,
        /// Its manifest.
        manifest: Arc<Manifest>,
    },
    /// It does not verify, and the level is `audit`: let it through, and
    /// report why it would have been refused.
    Audited(String),
    /// Content trust is off for this repository: not checked.
    Unchecked,
    /// Refused, and why.
    Refused(String),
    /// Could not decide (upstream down, a deadline passed), and why.
    Undecided(String),
    /// Could not decide for a reason of this machine's (an unreadable
    /// `policy.toml`, every repository slot in use, an internal error):
    /// never admitted, whatever the failure policy says about upstreams.
    Broken(String),
}

/// What one verified trust artifact decided.
struct Decisions {
    artifact: String,
    policy: Arc<Vec<u8>>,
    /// The earliest expiry of the metadata the decisions used.
    until: OffsetDateTime,
    /// By reference: admitted, or refused and why.
    answers: HashMap<Reference, Result<Verdict, String>>,
    /// Platform manifests of the indexes admitted from this artifact.
    children: BTreeSet<String>,
}

/// The last answer about the upstream's trust tag.
struct TagCheck {
    at: Instant,
    /// Where the trust tag pointed (`None`: no trust data), or why it
    /// could not be read.
    current: Result<Option<String>, String>,
    /// The artifact this machine verified last for the repository (another
    /// vouch process may have seen newer trust data than the tag names).
    verified_here: Option<String>,
}

/// The tags one trust artifact signs (artifact, policy bytes, tags).
type TagList = (String, Arc<Vec<u8>>, Arc<Vec<String>>);

/// What is kept per repository.
pub struct RepoState {
    /// Its registry client (connections are shared per registry).
    pub store: Registry,
    /// One upstream decision at a time; the others wait for its answer.
    deciding: Arc<tokio::sync::Mutex<()>>,
    /// One check of the trust tag at a time, apart from decisions: answers
    /// already kept never wait behind a decision on something new.
    checking: Arc<tokio::sync::Mutex<()>>,
    check: Mutex<Option<TagCheck>>,
    decisions: Mutex<Option<Decisions>>,
    /// The tags a trust artifact signs, under a policy's bytes.
    tags: Mutex<Option<TagList>>,
}

impl RepoState {
    /// Whether the last answer about the trust tag is older than
    /// [`TRUST_TAG_REUSE`] (or there is none).
    fn check_stale(&self) -> bool {
        lock(&self.check)
            .as_ref()
            .is_none_or(|c| c.at.elapsed() >= TRUST_TAG_REUSE)
    }

    /// The kept answer to `reference`, if the trust tag was checked within
    /// [`TRUST_TAG_REUSE`] and still names the artifact it came from.
    fn kept(&self, reference: &Reference, policy: &[u8], now: Instant) -> Option<Result<Verdict, String>> {
        let check = lock(&self.check);
        let check = check
            .as_ref()
            .filter(|c| now.duration_since(c.at) < TRUST_TAG_REUSE)?;
        let current = check.current.as_ref().ok()?.as_ref()?;
        if check.verified_here.as_ref() != Some(current) {
            return None;
        }
        let decisions = lock(&self.decisions);
        let d = decisions.as_ref()?;
        if &d.artifact != current || *d.policy != policy || OffsetDateTime::now_utc() >= d.until {
            return None;
        }
        match (d.answers.get(reference)?, reference) {
            (Ok(v), _) => Some(Ok(v.clone())),
            // A digest refused before may since have become the child of
            // an admitted index.
            (Err(_), Reference::Digest(digest)) if d.children.contains(digest) => None,
            (Err(why), _) => Some(Err(why.clone())),
        }
    }
}

impl std::fmt::Debug for RepoState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoState")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The repositories, least recently used forgotten first.
#[derive(Default)]
struct Repos {
    map: HashMap<String, (Arc<RepoState>, u64)>,
    tick: u64,
}

#[derive(Default)]
struct ManifestCache {
    map: HashMap<String, Arc<Manifest>>,
    order: VecDeque<String>,
    bytes: usize,
}

impl ManifestCache {
    fn get(&self, digest: &str) -> Option<Arc<Manifest>> {
        self.map.get(digest).cloned()
    }

    fn put(&mut self, digest: &str, entry: Arc<Manifest>) {
        if self.map.contains_key(digest) || entry.bytes.len() > MANIFEST_CACHE_BYTES {
            return;
        }
        self.bytes += entry.bytes.len();
        self.map.insert(digest.to_owned(), entry);
        self.order.push_back(digest.to_owned());
        while self.bytes > MANIFEST_CACHE_BYTES {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(e) = self.map.remove(&old) {
                self.bytes -= e.bytes.len();
            }
        }
    }
}

/// Which manifests served reference a blob, per repository: a blob is
/// served only while one of them is still admitted. Kept apart from the
/// per-repository state, so forgetting a repository never breaks a pull
/// in progress.
#[derive(Default)]
struct BlobRefs {
    map: HashMap<(String, String), Vec<String>>,
    order: VecDeque<(String, String)>,
}

impl BlobRefs {
    fn note(&mut self, repo_id: &str, manifest: &str, blobs: Vec<String>) {
        for blob in blobs {
            let key = (repo_id.to_owned(), blob);
            match self.map.get_mut(&key) {
                Some(list) => {
                    if !list.iter().any(|m| m == manifest) {
                        if list.len() >= MAX_MANIFESTS_PER_BLOB {
                            list.remove(0);
                        }
                        list.push(manifest.to_owned());
                    }
                }
                None => {
                    self.map.insert(key.clone(), vec![manifest.to_owned()]);
                    self.order.push_back(key);
                }
            }
        }
        while self.order.len() > MAX_BLOB_REFS {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

/// The blobs an image manifest references (its config and layers).
fn referenced_blobs(manifest: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(manifest) else {
        return Vec::new();
    };
    std::iter::once(&v["config"])
        .chain(v["layers"].as_array().into_iter().flatten())
        .filter_map(|d| d["digest"].as_str())
        .filter(|d| crate::digest::Digest::parse(d).is_ok())
        .map(str::to_owned)
        .collect()
}

/// A policy file's bytes and what they parse to.
type PolicyFile = (Arc<Vec<u8>>, Arc<Policy>);

/// The decision every long-running gate makes (see the module's notes).
pub struct Decider {
    trust: Trust,
    level: Level,
    /// The policy file's bytes and what they parse to, re-read on every
    /// decision (a changed pin applies at once) and re-parsed when changed.
    policy: Mutex<Option<PolicyFile>>,
    repos: Mutex<Repos>,
    manifests: Mutex<ManifestCache>,
    blob_refs: Mutex<BlobRefs>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Decider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decider")
            .field("level", &self.level)
            .field("repos", &self.repos_kept())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Decider {
    /// A decider reading pins, policy and the verified cache from `trust`,
    /// at the level the environment sets (`level`; a policy scope may
    /// lower it per repository).
    pub fn new(trust: Trust, level: Level) -> Decider {
        Decider {
            trust,
            level,
            policy: Mutex::new(None),
            repos: Mutex::new(Repos::default()),
            manifests: Mutex::new(ManifestCache::default()),
            blob_refs: Mutex::new(BlobRefs::default()),
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_DECIDING)),
        }
    }

    /// The pins, policy and verified cache.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    fn policy(&self) -> Result<PolicyFile, String> {
        let path = Policy::path(&self.trust.dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        if let Some((b, p)) = lock(&self.policy).as_ref()
            && **b == bytes
        {
            return Ok((b.clone(), p.clone()));
        }
        let text =
            String::from_utf8(bytes.clone()).map_err(|_| format!("{} is not UTF-8", path.display()))?;
        let parsed = Arc::new(Policy::parse(&text, &path).map_err(|e| e.to_string())?);
        let bytes = Arc::new(bytes);
        *lock(&self.policy) = Some((bytes.clone(), parsed.clone()));
        Ok((bytes, parsed))
    }

    /// The level that applies to a repository, and the policy bytes it
    /// was read from.
    pub fn level_for(&self, repo_id: &str) -> Result<(Level, Arc<Vec<u8>>), String> {
        let (bytes, policy) = self.policy()?;
        let level = crate::gate_switch::effective(self.level, policy.lookup(repo_id).map(|s| s.level));
        Ok((level, bytes))
    }

    /// The state of a repository, made if it is new (forgetting the least
    /// recently used one no request holds, when there are
    /// [`MAX_REPOS`]). Holding the `Arc` keeps it.
    pub fn repo(&self, target: &Target) -> Result<Arc<RepoState>, String> {
        if let Some(r) = self.existing(target) {
            return Ok(r);
        }
        let id = target.id();
        let store = self.store(target)?;
        let state = Arc::new(RepoState {
            store,
            deciding: Arc::new(tokio::sync::Mutex::new(())),
            checking: Arc::new(tokio::sync::Mutex::new(())),
            check: Mutex::new(None),
            decisions: Mutex::new(None),
            tags: Mutex::new(None),
        });
        let mut repos = lock(&self.repos);
        let tick = repos.tick;
        if let Some((r, _)) = repos.map.get(&id) {
            return Ok(r.clone());
        }
        if repos.map.len() >= MAX_REPOS {
            let idle = repos
                .map
                .iter()
                .filter(|(_, (r, _))| Arc::strong_count(r) == 1)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            match idle {
                // Dropped here, on whatever thread: a repository's state
                // holds no runtime and no connection of its own.
                Some(old) => drop(repos.map.remove(&old)),
                None => {
                    return Err(format!(
                        "{MAX_REPOS} repositories are in use at once; try again shortly"
                    ));
                }
            }
        }
        repos.map.insert(id, (state.clone(), tick));
        Ok(state)
    }

    /// The state of a repository if it is kept (made by [`Decider::repo`]).
    fn existing(&self, target: &Target) -> Option<Arc<RepoState>> {
        let mut repos = lock(&self.repos);
        repos.tick += 1;
        let tick = repos.tick;
        let (r, used) = repos.map.get_mut(&target.id())?;
        *used = tick;
        Some(r.clone())
    }

    /// [`Decider::repo`] from an async task: a new repository's state is
    /// made on a blocking thread under a decision slot (reading
    /// credentials may run a credential helper), never on an async worker.
    pub async fn repo_async(
        self: &Arc<Self>,
        target: &Target,
        deadline: Instant,
    ) -> Result<Arc<RepoState>, Decided> {
        if let Some(r) = self.existing(target) {
            return Ok(r);
        }
        let (this, target) = (self.clone(), target.clone());
        self.blocking(deadline, move || this.repo(&target))
            .await?
            .map_err(Decided::Broken)
    }

    /// Runs blocking work (upstream requests) on a blocking thread once one
    /// of the [`MAX_DECIDING`] slots is free, by `deadline`.
    pub async fn blocking<T: Send + 'static>(
        &self,
        deadline: Instant,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Decided> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let Ok(Ok(slot)) = tokio::time::timeout(wait, self.slots.clone().acquire_owned()).await else {
            return Err(Decided::Undecided("too busy to answer in time".to_owned()));
        };
        let task = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        });
        let wait = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, task).await {
            Ok(Ok(t)) => Ok(t),
            Ok(Err(e)) => Err(Decided::Broken(format!("internal error: {e}"))),
            Err(_) => Err(Decided::Undecided("no answer in time".to_owned())),
        }
    }

    /// Runs blocking work if a slot is free now (work that may be
    /// skipped, such as a log-only check).
    pub fn try_blocking(&self, work: impl FnOnce() + Send + 'static) {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            drop(tokio::task::spawn_blocking(move || {
                let _slot = slot;
                work()
            }));
        }
    }

    /// Repositories whose state is kept now.
    pub fn repos_kept(&self) -> usize {
        lock(&self.repos).map.len()
    }

    fn store(&self, target: &Target) -> Result<Registry, String> {
        let credentials = crate::store::auth::for_registry(&target.registry)
            .map_err(|e| format!("credentials for {}: {e}", target.registry))?;
        let lock = self.trust.dir.join("locks").join(format!(
            "{}.lock",
            crate::tuf::metadata::encode_segment(&target.id())
        ));
        Registry::new(&target.registry, &target.repo, credentials, lock).map_err(|e| e.to_string())
    }

    /// Answers on `reference` in `target` by `deadline` at the latest
    /// (with [`Decided::Undecided`] if the upstream has not answered by
    /// then): the answer kept while the verified trust artifact stands, or
    /// the gate's one decision ([`crate::trust::gate::decide`]); a tag is
    /// answered with its signed digest.
    pub async fn answer(
        self: &Arc<Self>,
        target: &Target,
        reference: &Reference,
        deadline: Instant,
    ) -> Decided {
        let repo_id = target.id();
        let (level, policy) = match self.level_for(&repo_id) {
            Ok(l) => l,
            Err(e) => return Decided::Broken(e),
        };
        if level == Level::Off {
            return Decided::Unchecked;
        }
        let outcome = self.trusted(target, reference, &policy, deadline).await;
        match outcome {
            Decided::Refused(why) if level == Level::Audit => Decided::Audited(why),
            other => other,
        }
    }

    /// What trust data says (the level aside).
    async fn trusted(
        self: &Arc<Self>,
        target: &Target,
        reference: &Reference,
        policy: &Arc<Vec<u8>>,
        deadline: Instant,
    ) -> Decided {
        let repo = match self.repo_async(target, deadline).await {
            Ok(r) => r,
            Err(d) => return d,
        };
        if let Some(d) = self.kept(&repo, reference, policy) {
            return d;
        }
        let late = || Decided::Undecided(format!("no answer from {} in time", target.registry));
        if repo.check_stale() {
            // One request asks the upstream where its trust tag points; the
            // others wait for that answer, then find theirs kept.
            let timeout = deadline.saturating_duration_since(Instant::now());
            let Ok(guard) = tokio::time::timeout(timeout, repo.checking.clone().lock_owned()).await else {
                return late();
            };
            if repo.check_stale() {
                let (this, r, id) = (self.clone(), repo.clone(), target.id());
                let refreshed = self
                    .blocking(deadline, move || {
                        let _one = guard;
                        this.refresh_check(&r, &id);
                    })
                    .await;
                if let Err(d) = refreshed {
                    return d;
                }
            }
            if let Some(d) = self.kept(&repo, reference, policy) {
                return d;
            }
        }
        let timeout = deadline.saturating_duration_since(Instant::now());
        // One upstream decision per repository at a time: whoever waits
        // here usually finds the answer kept when its turn comes.
        let Ok(guard) = tokio::time::timeout(timeout, repo.deciding.clone().lock_owned()).await else {
            return late();
        };
        if let Some(d) = self.kept(&repo, reference, policy) {
            return d;
        }
        let (this, repo_id, reference, policy) =
            (self.clone(), target.id(), reference.clone(), policy.clone());
        // Past the deadline the decision goes on and keeps its answer for
        // the next one.
        self.blocking(deadline, move || {
            let _one = guard;
            this.decide_upstream(&repo, &repo_id, &reference, &policy)
        })
        .await
        .unwrap_or_else(|d| match d {
            Decided::Undecided(_) => late(),
            other => other,
        })
    }

    /// The kept answer, with its manifest, if both are at hand.
    fn kept(&self, repo: &RepoState, reference: &Reference, policy: &[u8]) -> Option<Decided> {
        match repo.kept(reference, policy, Instant::now())? {
            Ok(verdict) => {
                let manifest = lock(&self.manifests).get(&verdict.digest)?;
                Some(Decided::Signed { verdict, manifest })
            }
            Err(why) => Some(Decided::Refused(why)),
        }
    }

    /// Asks the upstream (on a blocking thread, one per repository).
    fn decide_upstream(
        &self,
        repo: &RepoState,
        repo_id: &str,
        reference: &Reference,
        policy: &Arc<Vec<u8>>,
    ) -> Decided {
        if repo.check_stale() {
            self.refresh_check(repo, repo_id);
        }
        if let Some(Err(e)) = lock(&repo.check).as_ref().map(|c| c.current.clone()) {
            return Decided::Undecided(e);
        }
        if let Some(d) = self.kept(repo, reference, policy) {
            return d;
        }
        let mut reader = match Reader::open(&self.trust, repo_id, &repo.store, false) {
            Ok(r) => r,
            Err(e) if e.is_refusal() => return Decided::Refused(e.to_string()),
            Err(e) => return Decided::Undecided(e.to_string()),
        };
        let artifact = reader.artifact().map(str::to_owned);
        let children = match reference {
            Reference::Tag(_) => BTreeSet::new(),
            Reference::Digest(_) => lock(&repo.decisions)
                .as_ref()
                .filter(|c| Some(&c.artifact) == artifact.as_ref() && c.policy == *policy)
                .map(|c| c.children.clone())
                .unwrap_or_default(),
        };
        let asked = match reference {
            Reference::Tag(t) => Asked::SignedDigest(t),
            Reference::Digest(digest) => Asked::Digest {
                digest,
                children: &children,
            },
        };
        let result = crate::trust::gate::decide(&mut reader, asked);
        let until = reader.trusted().fresh_until().map(|e| e.at);
        drop(reader);
        let manifest = match &result {
            Ok(v) => match self.manifest(repo, &v.digest) {
                Ok(m) => Some(m),
                Err(e) => return Decided::Undecided(e),
            },
            Err(_) => None,
        };
        if let (Some(artifact), Some(until)) = (&artifact, until) {
            // What was just verified is this machine's latest.
            if let Some(c) = lock(&repo.check).as_mut()
                && c.current.as_ref().is_ok_and(|t| t.as_ref() == Some(artifact))
            {
                c.verified_here = Some(artifact.clone());
            }
            let mut kept = lock(&repo.decisions);
            if kept
                .as_ref()
                .is_none_or(|c| &c.artifact != artifact || c.policy != *policy)
            {
                *kept = Some(Decisions {
                    artifact: artifact.clone(),
                    policy: policy.clone(),
                    until,
                    answers: HashMap::new(),
                    children: BTreeSet::new(),
                });
            }
            if let Some(c) = kept.as_mut() {
                c.until = c.until.min(until);
                if c.answers.len() >= MAX_ANSWERS {
                    c.answers.clear();
                }
                match &result {
                    Ok(v) => {
                        c.answers.insert(reference.clone(), Ok(v.clone()));
                    }
                    Err(e) if e.is_refusal() => {
                        c.answers.insert(reference.clone(), Err(e.to_string()));
                    }
                    Err(_) => {}
                }
                if let Some(m) = &manifest {
                    c.children.extend(crate::trust::decide::index_children(&m.bytes));
                }
            }
        }
        match (result, manifest) {
            (Ok(verdict), Some(manifest)) => {
                self.note_served(repo_id, &verdict.digest, &manifest.bytes);
                Decided::Signed { verdict, manifest }
            }
            (Err(e), _) if e.is_refusal() => Decided::Refused(e.to_string()),
            (Err(e), _) => Decided::Undecided(e.to_string()),
            (Ok(_), None) => Decided::Broken("internal error: no manifest".to_owned()),
        }
    }

    /// The tags a client may list in `target`: those trust data signs (the
    /// tags the gate would serve), sorted; where content trust is off or
    /// auditing, the upstream's own list. At most [`MAX_TAGS`].
    pub async fn tags(
        self: &Arc<Self>,
        target: &Target,
        deadline: Instant,
    ) -> Result<Arc<Vec<String>>, Decided> {
        let (level, policy) = self.level_for(&target.id()).map_err(Decided::Broken)?;
        let repo = self.repo_async(target, deadline).await?;
        let wait = deadline.saturating_duration_since(Instant::now());
        let Ok(guard) = tokio::time::timeout(wait, repo.deciding.clone().lock_owned()).await else {
            return Err(Decided::Undecided(format!(
                "no answer from {} in time",
                target.registry
            )));
        };
        let (this, id) = (self.clone(), target.id());
        self.blocking(deadline, move || {
            let _one = guard;
            this.tags_upstream(&repo, &id, level, &policy)
        })
        .await?
    }

    fn tags_upstream(
        &self,
        repo: &RepoState,
        repo_id: &str,
        level: Level,
        policy: &Arc<Vec<u8>>,
    ) -> Result<Arc<Vec<String>>, Decided> {
        if level != Level::Enforce {
            let mut tags = repo
                .store
                .tags_with_prefix("", MAX_TAGS)
                .map_err(|e| Decided::Undecided(e.to_string()))?;
            tags.retain(|t| crate::reference::valid_tag(t));
            tags.sort();
            return Ok(Arc::new(tags));
        }
        if repo.check_stale() {
            self.refresh_check(repo, repo_id);
        }
        let current = lock(&repo.check).as_ref().map(|c| c.current.clone());
        let current = match current {
            Some(Ok(c)) => c,
            Some(Err(e)) => return Err(Decided::Undecided(e)),
            None => None,
        };
        if let (Some(c), Some((artifact, p, tags))) = (&current, lock(&repo.tags).as_ref())
            && c == artifact
            && p == policy
        {
            return Ok(tags.clone());
        }
        let mut reader = match Reader::open(&self.trust, repo_id, &repo.store, false) {
            Ok(r) => r,
            Err(e) if e.is_refusal() => return Err(Decided::Refused(e.to_string())),
            Err(e) => return Err(Decided::Undecided(e.to_string())),
        };
        let tags = match reader.signed_tags(MAX_TAGS) {
            Ok(t) => Arc::new(t),
            Err(e) if e.is_refusal() => return Err(Decided::Refused(e.to_string())),
            Err(e) => return Err(Decided::Undecided(e.to_string())),
        };
        if let Some(artifact) = reader.artifact() {
            *lock(&repo.tags) = Some((artifact.to_owned(), policy.clone(), tags.clone()));
        }
        Ok(tags)
    }

    /// Asks the upstream where its trust tag points now (a blocking call).
    fn refresh_check(&self, repo: &RepoState, repo_id: &str) {
        let at = Instant::now();
        let current = repo.store.head(TRUST_TAG).map_err(|e| e.to_string());
        // Read after the tag: a verify by another process in between can
        // only make this newer.
        let verified_here = crate::trust::cache::Cache::new(&self.trust.dir, repo_id)
            .last_artifact()
            .ok()
            .flatten();
        *lock(&repo.check) = Some(TagCheck {
            at,
            current,
            verified_here,
        });
    }

    /// A manifest by digest, from memory or the upstream.
    fn manifest(&self, repo: &RepoState, digest: &str) -> Result<Arc<Manifest>, String> {
        if let Some(m) = lock(&self.manifests).get(digest) {
            return Ok(m);
        }
        let bytes = repo
            .store
            .manifest(digest, MAX_MANIFEST)
            .map_err(|e| e.to_string())?;
        let media = crate::store::media_type_of(&bytes);
        let entry = Arc::new(Manifest { bytes, media });
        lock(&self.manifests).put(digest, entry.clone());
        Ok(entry)
    }

    /// Records that a manifest was served: its blobs may be fetched while
    /// it stays admitted ([`Decider::admit_blob`]).
    pub fn note_served(&self, repo_id: &str, manifest_digest: &str, bytes: &[u8]) {
        let blobs = referenced_blobs(bytes);
        if !blobs.is_empty() {
            lock(&self.blob_refs).note(repo_id, manifest_digest, blobs);
        }
    }

    /// Whether a blob may be served: it is part of a manifest served from
    /// this repository that the gate still lets through now (a revoked
    /// image's layers are refused like its manifest). `Ok(())`, or the
    /// refusal (`Decided::Refused`) or could-not-decide.
    pub async fn admit_blob(
        self: &Arc<Self>,
        target: &Target,
        blob: &str,
        deadline: Instant,
    ) -> Result<(), Decided> {
        let repo_id = target.id();
        let manifests = lock(&self.blob_refs)
            .map
            .get(&(repo_id.clone(), blob.to_owned()))
            .cloned()
            .unwrap_or_default();
        if manifests.is_empty() {
            return Err(Decided::Refused(format!(
                "blob {blob} of {repo_id} is not part of an image this gate served"
            )));
        }
        let mut undecided = None;
        for m in manifests.iter().rev() {
            match self.answer(target, &Reference::Digest(m.clone()), deadline).await {
                Decided::Signed { .. } | Decided::Audited(_) | Decided::Unchecked => return Ok(()),
                Decided::Undecided(e) => undecided = Some(Decided::Undecided(e)),
                Decided::Broken(e) => undecided = Some(Decided::Broken(e)),
                Decided::Refused(_) => {}
            }
        }
        Err(match undecided {
            Some(d) => d,
            None => Decided::Refused(format!(
                "blob {blob} of {repo_id} belongs only to images no longer admitted"
            )),
        })
    }
}
