//! Migration from Docker Content Trust (Notary v1) to vouch trust data in
//! the image's own repository, keeping the team's root key.
//!
//! [`plan`] reads only verified Notary data: the tags Docker Content Trust
//! would resolve, the signers (`targets/releases` and `targets/NAME`), and
//! which of the needed private keys are in `$DOCKER_CONFIG/trust/private`.
//! [`Writer::migrate`] then writes vouch trust data with the same tag →
//! digest map and signers: the root is the Docker Content Trust root
//! certificate itself (so its key id is the one `docker trust inspect`
//! printed), signed by the team's root key; snapshot and timestamp keys,
//! which Notary's server held, are new. Running it again changes only what
//! changed; the Notary side is only ever read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;
use vouch_keys::{PrivateKey, PublicKey};

use super::decide::{RELEASES, tag_holder};
use super::error::TrustError;
use super::notary_reader::{NotaryReader, canonical_key_id};
use super::writer::{Publishing, Writer, signature_count};
use crate::notary::signatures::NotaryKey;
use crate::tuf::editor::{DelegatedPaths, Delegation, MetadataEditor};
use crate::tuf::metadata::{Key, KeyId, TargetFile};

/// The Docker Content Trust private keys of this machine.
#[derive(Clone, Debug)]
pub struct DctKeys {
    dir: PathBuf,
}

impl DctKeys {
    /// `$DOCKER_CONFIG/trust/private` (default `~/.docker`), if it exists.
    pub fn find() -> Option<DctKeys> {
        let dir = crate::store::auth::docker_config_dir()?
            .join("trust")
            .join("private");
        dir.is_dir().then_some(DctKeys { dir })
    }

    /// The key file of canonical key id `id`, if present.
    pub fn file(&self, id: &str) -> Option<PathBuf> {
        let ok = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
        let path = self.dir.join(format!("{id}.key"));
        (ok && path.is_file()).then_some(path)
    }
}

/// A signer role to carry over.
#[derive(Clone, Debug, Serialize)]
pub struct SignerPlan {
    /// `targets/releases` or `targets/NAME`.
    pub role: String,
    /// The keys' ids as vouch's trust data lists them (whole).
    pub key_ids: Vec<String>,
    /// Threshold.
    pub threshold: u64,
    /// Notary's path prefixes, as vouch path patterns (`PREFIX*`).
    pub paths: Vec<String>,
    /// Key files found on this machine.
    #[serde(skip)]
    pub held: Vec<PathBuf>,
    /// The public keys.
    #[serde(skip)]
    pub keys: Vec<PublicKey>,
}

/// A tag to carry over.
#[derive(Clone, Debug, Serialize)]
pub struct TagPlan {
    /// The tag.
    pub tag: String,
    /// The signed manifest digest.
    pub digest: String,
    /// Its length.
    pub length: u64,
    /// The Notary roles that signed it (the first is where it resolved).
    #[serde(rename = "signedIn")]
    pub signed_in: Vec<String>,
    /// The target as vouch writes it.
    #[serde(skip)]
    pub target: TargetFile,
}

/// What a migration will do.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The GUN read.
    pub gun: String,
    /// The root key id (the certificate's, as `docker trust inspect` prints).
    #[serde(rename = "rootKeyId")]
    pub root_id: String,
    /// The root key's canonical id (its key file's name).
    #[serde(rename = "rootCanonicalKeyId")]
    pub root_canonical: String,
    /// The root key object, kept as Notary wrote it.
    #[serde(skip)]
    pub root_key: Key,
    /// The root key file, if here.
    #[serde(skip)]
    pub root_file: Option<PathBuf>,
    /// The targets key file, if here.
    #[serde(skip)]
    pub targets_file: Option<PathBuf>,
    /// Signers.
    pub signers: Vec<SignerPlan>,
    /// Tags that verify.
    pub tags: Vec<TagPlan>,
    /// Tags or roles left out, and why.
    pub skipped: Vec<(String, String)>,
}

/// Works out the migration of the verified Notary data in `reader`.
pub fn plan(reader: &NotaryReader, dct: Option<&DctKeys>) -> Result<Plan, TrustError> {
    let set = reader.trusted();
    let gun = reader.gun().to_owned();
    let root = set.root().signed();
    let no_root = || TrustError::bug(format!("the Notary root of {gun} has no root key"));
    let file = |id: &str| dct.and_then(|d| d.file(id));
    // The root key: one whose private key is here, else the first.
    let root_ids = root
        .roles
        .get("root")
        .map(|r| r.keyids.clone())
        .unwrap_or_default();
    let held_root = root_ids.iter().find(|id| {
        root.keys
            .get(*id)
            .and_then(NotaryKey::parse)
            .and_then(|k| canonical_key_id(&k))
            .is_some_and(|c| file(&c).is_some())
    });
    let root_id = held_root.or(root_ids.first()).ok_or_else(no_root)?.clone();
    let object = root.keys.get(&root_id).ok_or_else(no_root)?;
    let parsed = NotaryKey::parse(object).ok_or_else(|| {
        TrustError::edit(
            format!("the Notary root key of {gun} is not an ECDSA P-256 certificate"),
            "vouch migrates ECDSA P-256 root keys, the kind docker and notary generate",
        )
    })?;
    let root_canonical = canonical_key_id(&parsed).ok_or_else(no_root)?;
    let root_key: Key = serde_json::from_value(object.clone())
        .map_err(|e| TrustError::bug(format!("the Notary root key: {e}")))?;
    let targets_ids = root
        .roles
        .get("targets")
        .map(|r| r.keyids.clone())
        .unwrap_or_default();
    let targets_file = targets_ids.iter().find_map(|id| {
        let key = NotaryKey::parse(root.keys.get(id)?)?;
        file(&canonical_key_id(&key)?)
    });
    let mut skipped: Vec<(String, String)> = set
        .skipped()
        .iter()
        .map(|(role, why)| (role.clone(), format!("role does not verify: {why}")))
        .collect();
    // Signers: the delegations of targets (Docker Content Trust's layout).
    let mut signers = Vec::new();
    if let Some(targets) = set.all_targets().get("targets") {
        let d = &targets.signed().delegations;
        for role in &d.roles {
            // Only targets' own children (`targets/NAME`), as Notary
            // requires: a deeper name is another role's to delegate.
            if role.name.rsplit_once('/').map(|(parent, _)| parent) != Some("targets") {
                skipped.push((role.name.clone(), "not a direct delegation of targets".to_owned()));
                continue;
            }
            let mut key_ids = Vec::new();
            let mut held = Vec::new();
            let mut keys = Vec::new();
            for id in &role.keyids {
                let Some(key) = d.keys.get(id).and_then(NotaryKey::parse) else {
                    continue;
                };
                let (Some(canonical), Some(public)) =
                    (canonical_key_id(&key), PublicKey::from_spki_der(&key.spki))
                else {
                    continue;
                };
                held.extend(file(&canonical));
                key_ids.push(public.key_id().to_string());
                keys.push(public);
            }
            if keys.is_empty() {
                skipped.push((
                    role.name.clone(),
                    "signer role without a key vouch can use: not carried over".to_owned(),
                ));
                continue;
            }
            // Notary's path prefixes become patterns; a prefix that holds
            // a pattern character cannot be carried over faithfully.
            if role.paths.iter().any(|p| p.contains(['*', '?', '[', ']', '\\'])) {
                skipped.push((
                    role.name.clone(),
                    "path prefixes vouch cannot express: not carried over".to_owned(),
                ));
                continue;
            }
            signers.push(SignerPlan {
                role: role.name.clone(),
                key_ids,
                threshold: role.threshold,
                paths: role.paths.iter().map(|p| format!("{p}*")).collect(),
                held,
                keys,
            });
        }
    }
    let mut tags = Vec::new();
    let mut seen = BTreeSet::new();
    for (t, roles) in reader.signed_tags() {
        seen.insert(t.tag.clone());
        let Some(hex) = t.meta.sha256_hex() else {
            skipped.push((t.tag.clone(), "lists no SHA-256".to_owned()));
            continue;
        };
        if let Err(e) = crate::tuf::TargetPath::parse(&t.tag) {
            skipped.push((t.tag.clone(), e.to_string()));
            continue;
        }
        let mut signed_in = vec![t.role.clone()];
        signed_in.extend(roles.into_iter().filter(|r| *r != t.role));
        tags.push(TagPlan {
            target: TargetFile {
                length: t.meta.length,
                hashes: BTreeMap::from([("sha256".to_owned(), hex)]),
                custom: t.meta.custom.clone(),
                extra: Default::default(),
            },
            tag: t.tag,
            digest: t.digest,
            length: t.meta.length,
            signed_in,
        });
    }
    // Names listed somewhere that Docker Content Trust would not resolve.
    for (role, t) in set.all_targets() {
        for name in t.signed().targets.keys() {
            if seen.insert(name.clone()) {
                skipped.push((
                    name.clone(),
                    format!("listed in {role}, which Docker Content Trust does not resolve it through"),
                ));
            }
        }
    }
    Ok(Plan {
        gun,
        root_id,
        root_file: file(&root_canonical),
        root_canonical,
        root_key,
        targets_file,
        signers,
        tags,
        skipped,
    })
}

/// The keys a migration signs with, unlocked by the caller.
#[derive(Debug)]
pub struct MigrationKeys<'k> {
    /// The Docker Content Trust root key.
    pub root: &'k PrivateKey,
    /// The targets key (the team's, or a new one).
    pub targets: &'k PrivateKey,
    /// Signer keys at hand (for `targets/releases` and the signers' roles).
    pub signers: &'k [PrivateKey],
    /// A new signer key added to `targets/releases` when none of its keys
    /// is at hand, so migrated tags stay signed.
    pub stand_in: Option<(&'k str, &'k PrivateKey)>,
    /// Snapshot and timestamp keys.
    pub publishing: Publishing<'k>,
}

/// What one tag became.
#[derive(Clone, Debug, Serialize)]
pub struct TagReport {
    /// The tag.
    pub tag: String,
    /// Its digest.
    pub digest: String,
    /// `migrated` or `unchanged`.
    pub status: &'static str,
    /// Notary roles that signed it.
    #[serde(rename = "originallySignedIn")]
    pub originally: Vec<String>,
    /// vouch roles it is now signed in.
    #[serde(rename = "signedIn")]
    pub signed_in: Vec<String>,
    /// Key ids that signed it now.
    #[serde(rename = "signedBy")]
    pub signed_by: Vec<String>,
}

/// What a migration did.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Format version of this report.
    pub version: u32,
    /// The repository written.
    pub repository: String,
    /// The GUN read.
    pub gun: String,
    /// The root key id to pin.
    #[serde(rename = "rootKeyId")]
    pub root_id: String,
    /// The line consumers run.
    pub pin: String,
    /// Tags.
    pub tags: Vec<TagReport>,
    /// Left out, and why.
    pub skipped: Vec<(String, String)>,
    /// Signer roles and their canonical key ids.
    pub signers: Vec<SignerPlan>,
    /// Whether nothing was written (`--dry-run`).
    #[serde(rename = "dryRun")]
    pub dry_run: bool,
    /// The keys this migration makes (or, dry, would make), and what
    /// seals each; filled in by the caller, which knows the sources.
    #[serde(rename = "newKeys")]
    pub new_keys: Vec<NewKeyReport>,
}

/// A key a migration makes.
#[derive(Clone, Debug, Serialize)]
pub struct NewKeyReport {
    /// Its role (`snapshot`, `timestamp`, `targets`, or a signer's).
    pub role: String,
    /// Its key id (whole), once made.
    #[serde(rename = "keyId", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The passphrase that seals it, by source (`$VAR`, the terminal...).
    #[serde(rename = "sealedWith")]
    pub sealed_with: String,
}

impl Plan {
    /// The dry run's report for a repository without vouch trust data:
    /// every tag would be migrated.
    pub fn preview_fresh(&self, repository: &str) -> Report {
        let tags = self
            .tags
            .iter()
            .map(|t| TagReport {
                tag: t.tag.clone(),
                digest: t.digest.clone(),
                status: "would migrate",
                originally: t.signed_in.clone(),
                signed_in: Vec::new(),
                signed_by: Vec::new(),
            })
            .collect();
        self.report(repository, tags, true)
    }

    fn report(&self, repository: &str, tags: Vec<TagReport>, dry_run: bool) -> Report {
        Report {
            version: 1,
            repository: repository.to_owned(),
            gun: self.gun.clone(),
            root_id: self.root_id.clone(),
            pin: format!("vouch pin {repository} {}", self.root_id),
            tags,
            skipped: self.skipped.clone(),
            signers: self.signers.clone(),
            dry_run,
            new_keys: Vec::new(),
        }
    }
}

/// What the last migration of a repository carried over, kept in the
/// trust directory (`migrations/<repository>.json`): a rerun removes what
/// Notary no longer signs (revoked tags, withdrawn signer keys) and only
/// that, leaving what was signed with vouch since.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Record {
    /// Tag → digest, as migrated.
    pub tags: BTreeMap<String, String>,
    /// Signer role → vouch key ids, as migrated.
    pub signers: BTreeMap<String, Vec<String>>,
}

impl Record {
    fn path(trust: &super::Trust, repo: &str) -> PathBuf {
        trust
            .dir
            .join("migrations")
            .join(format!("{}.json", crate::tuf::metadata::encode_segment(repo)))
    }

    fn load(trust: &super::Trust, repo: &str) -> Record {
        std::fs::read(Record::path(trust, repo))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save(&self, trust: &super::Trust, repo: &str) -> Result<(), TrustError> {
        let path = Record::path(trust, repo);
        let dir = path.parent().unwrap_or(&trust.dir);
        std::fs::create_dir_all(dir).map_err(TrustError::local(dir))?;
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| TrustError::bug(e.to_string()))?;
        vouch_keys::trust_dir::write_atomic(&path, &bytes, 0o600, vouch_keys::trust_dir::Mode::Replace)
            .map_err(TrustError::local(&path))
    }

    fn of(plan: &Plan, keys: &MigrationKeys<'_>) -> Record {
        Record {
            tags: plan
                .tags
                .iter()
                .map(|t| (t.tag.clone(), t.digest.clone()))
                .collect(),
            signers: plan
                .signers
                .iter()
                .map(|s| {
                    (
                        s.role.clone(),
                        wanted_keys(s, Some(keys))
                            .iter()
                            .map(|k| k.key_id().to_string())
                            .collect(),
                    )
                })
                .collect(),
        }
    }
}

/// The vouch keys of a signer role: its Notary keys, and the stand-in for
/// `targets/releases` (not yet made in a preview).
fn wanted_keys(signer: &SignerPlan, keys: Option<&MigrationKeys<'_>>) -> Vec<PublicKey> {
    let mut wanted = signer.keys.clone();
    if signer.role == RELEASES
        && let Some((_, key)) = keys.and_then(|k| k.stand_in)
    {
        wanted.push(key.public());
    }
    wanted
}

impl Writer<'_> {
    /// What [`Writer::migrate`] would do now, writing nothing: each tag's
    /// status against the verified vouch trust data already here (all
    /// "would migrate" when there is none), removals included.
    pub fn migration_preview(&self, plan: &Plan) -> Result<Report, TrustError> {
        if crate::store::artifact::read(self.store())?.is_none() {
            return Ok(plan.preview_fresh(self.repository()));
        }
        let previous = Record::load(self.trust(), self.repository());
        let mut probe = self.load()?.repo;
        let now = self.trust().now();
        let mut tags = sync(&mut probe, self.repository(), plan, None, &previous, now)?.0;
        for t in &mut tags {
            t.status = match t.status {
                "migrated" => "would migrate",
                s if s.starts_with("removed") => "would be removed (no longer signed in Notary)",
                s => s,
            };
        }
        Ok(plan.report(self.repository(), tags, true))
    }

    /// Writes (or brings up to date) vouch trust data for `plan`.
    pub fn migrate(&self, plan: &Plan, keys: &MigrationKeys<'_>) -> Result<Report, TrustError> {
        if crate::store::artifact::read(self.store())?.is_none() {
            let root_id = KeyId::new(plan.root_id.as_str());
            self.create(
                keys.root,
                Some((&root_id, plan.root_key.clone())),
                keys.targets,
                keys.publishing,
                None,
            )?;
        }
        let previous = Record::load(self.trust(), self.repository());
        // Nothing to change: nothing is published.
        let mut probe = self.load()?.repo;
        let now = self.trust().now();
        let (tags, changed) = sync(&mut probe, self.repository(), plan, Some(keys), &previous, now)?;
        let tags = if changed {
            self.publish(keys.publishing, |repo, _, now| {
                sync(repo, self.repository(), plan, Some(keys), &previous, now)
            })?
            .0
            .0
        } else {
            tags
        };
        Record::of(plan, keys).save(self.trust(), self.repository())?;
        Ok(plan.report(self.repository(), tags, false))
    }
}

/// Brings a verified repository in line with the plan: signers (keys and
/// path patterns; keys Notary withdrew since the last migration removed),
/// then tags (into the role that holds tags, and each signer role that
/// signed them in Notary; tags Notary no longer signs removed), signing
/// only what changed, with the keys at hand. Every changed role must meet
/// its threshold. Returns the tag reports and whether anything changed.
/// Without `keys` (a preview) nothing is signed or checked for signatures.
fn sync(
    repo: &mut MetadataEditor,
    repo_id: &str,
    plan: &Plan,
    keys: Option<&MigrationKeys<'_>>,
    previous: &Record,
    now: time::OffsetDateTime,
) -> Result<(Vec<TagReport>, bool), TrustError> {
    let roots = repo
        .root
        .signed
        .roles
        .get("root")
        .map(|r| r.keyids.iter().map(ToString::to_string).collect::<Vec<String>>())
        .unwrap_or_default();
    if roots != [plan.root_id.clone()] {
        return Err(TrustError::edit(
            format!(
                "{repo_id} already has vouch trust data under another root ({})",
                roots.join(", ")
            ),
            "migrate into a repository without vouch trust data, or into the one migrated before",
        ));
    }
    let edit = |e: crate::tuf::editor::EditError| TrustError::bug(e.to_string());
    let mut changed: BTreeSet<String> = BTreeSet::new();
    let mut removed_any = false;
    for signer in &plan.signers {
        let wanted = wanted_keys(signer, keys);
        let wanted_ids: Vec<String> = wanted.iter().map(|k| k.key_id().to_string()).collect();
        match repo.delegation("targets", &signer.role) {
            None => repo
                .add_delegation(
                    "targets",
                    Delegation {
                        name: &signer.role,
                        keys: &wanted,
                        threshold: signer.threshold,
                        paths: DelegatedPaths::Paths(signer.paths.clone()),
                        terminating: false,
                    },
                    now,
                )
                .map_err(edit)?,
            Some((ids, _)) => {
                for key in wanted.iter().filter(|k| !ids.contains(&KeyId::from(k.key_id()))) {
                    repo.add_delegation_key("targets", &signer.role, key, None, now)
                        .map_err(edit)?;
                }
                let gone: Vec<KeyId> = previous
                    .signers
                    .get(&signer.role)
                    .into_iter()
                    .flatten()
                    .map(KeyId::new)
                    .filter(|id| !wanted_ids.iter().any(|w| id == w.as_str()) && ids.contains(id))
                    .collect();
                if !gone.is_empty() {
                    repo.remove_delegation_keys("targets", &signer.role, &gone, now)
                        .map_err(edit)?;
                    removed_any = true;
                }
            }
        }
    }
    // Signer roles Notary no longer has: the keys migrated into them go.
    for (role, ids) in &previous.signers {
        if plan.signers.iter().any(|s| &s.role == role) {
            continue;
        }
        if let Some((current, _)) = repo.delegation("targets", role) {
            let gone: Vec<KeyId> = ids
                .iter()
                .map(KeyId::new)
                .filter(|id| current.contains(id))
                .collect();
            if gone.is_empty() {
                continue;
            }
            if repo
                .remove_delegation_keys("targets", role, &gone, now)
                .map_err(edit)?
                == 0
            {
                repo.remove_delegation("targets", role, now).map_err(edit)?;
            }
            removed_any = true;
        }
    }
    let (holder, _) = tag_holder(&repo.targets["targets"].signed);
    let mut reports = Vec::new();
    // Tags Notary no longer signs (revoked, or no longer verifying): the
    // migrated entries go, where they are still as migrated.
    for (tag, digest) in &previous.tags {
        if plan.tags.iter().any(|t| &t.tag == tag) {
            continue;
        }
        let roles: Vec<String> = repo.targets.keys().map(ToString::to_string).collect();
        let mut from = Vec::new();
        for role in roles {
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
            let listed = repo
                .targets
                .get(role.as_str())
                .and_then(|r| r.signed.targets.get(tag))
                .is_some_and(|t| t.hashes.get("sha256").map(String::as_str) == Some(hex));
            if listed {
                repo.remove_target(&role, tag, now).map_err(edit)?;
                changed.insert(role.clone());
                from.push(role);
            }
        }
        if !from.is_empty() {
            reports.push(TagReport {
                tag: tag.clone(),
                digest: digest.clone(),
                status: "removed (no longer signed in Notary)",
                originally: Vec::new(),
                signed_in: from,
                signed_by: Vec::new(),
            });
        }
    }
    let mut planned = Vec::new();
    for t in &plan.tags {
        let mut roles = vec![holder.to_owned()];
        if holder == RELEASES {
            roles.extend(
                t.signed_in
                    .iter()
                    .filter(|r| {
                        r.starts_with("targets/") && *r != RELEASES && repo.targets.contains_key(r.as_str())
                    })
                    .cloned(),
            );
        }
        let mut status = "unchanged";
        for role in &roles {
            let current = repo
                .targets
                .get(role.as_str())
                .and_then(|r| r.signed.targets.get(&t.tag));
            if current.map(|c| (&c.hashes, c.length)) != Some((&t.target.hashes, t.target.length)) {
                repo.add_target(role, &t.tag, t.target.clone(), now)
                    .map_err(|source| TrustError::EditRefused {
                        source,
                        hint: "check the tag",
                    })?;
                changed.insert(role.clone());
                status = "migrated";
            }
        }
        planned.push((t, status, roles));
    }
    if removed_any {
        for role in repo.drop_unsigned_content(now).map_err(edit)? {
            changed.insert(role.to_string());
        }
    }
    // Adding or removing signers changed `targets` (its signatures are gone).
    if repo
        .targets
        .get("targets")
        .is_some_and(|t| t.signatures.is_empty())
    {
        changed.insert("targets".to_owned());
    }
    let any = !changed.is_empty();
    let Some(keys) = keys else {
        reports.extend(planned.into_iter().map(|(t, status, roles)| TagReport {
            tag: t.tag.clone(),
            digest: t.digest.clone(),
            status,
            originally: t.signed_in.clone(),
            signed_by: Vec::new(),
            signed_in: roles,
        }));
        return Ok((reports, any));
    };
    // Sign what changed: targets with the targets key, delegated roles with
    // every key at hand that each may sign.
    let mut signed_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut signing: Vec<&PrivateKey> = keys.signers.iter().collect();
    signing.extend(keys.stand_in.map(|(_, k)| k));
    for role in &changed {
        let authorised: Vec<KeyId> = if role == "targets" {
            repo.root
                .signed
                .roles
                .get("targets")
                .map(|k| k.keyids.clone())
                .unwrap_or_default()
        } else {
            repo.delegation("targets", role)
                .map(|(ids, _)| ids)
                .unwrap_or_default()
        };
        let mut by = Vec::new();
        let candidates: Vec<&PrivateKey> = if role == "targets" {
            vec![keys.targets]
        } else {
            signing.clone()
        };
        for key in candidates {
            let id = KeyId::from(key.public().key_id());
            if authorised.contains(&id)
                && let Some(r) = repo.targets.get_mut(role.as_str())
            {
                r.sign(key).map_err(|e| edit(e.into()))?;
                by.push(id.to_string());
            }
        }
        signed_by.insert(role.clone(), by);
    }
    // Every role that lists migrated tags must verify: no publish that
    // leaves them below their threshold.
    for role in &changed {
        let has_content = repo
            .targets
            .get(role.as_str())
            .is_some_and(|r| !r.signed.targets.is_empty());
        if let Some((valid, threshold)) = signature_count(repo, role)
            && has_content
            && valid < threshold
        {
            return Err(TrustError::edit(
                format!("{role} needs {threshold} signature(s) and only {valid} of its keys are here"),
                "put the signers' Docker Content Trust keys in $DOCKER_CONFIG/trust/private and run migrate again",
            ));
        }
    }
    reports.extend(planned.into_iter().map(|(t, status, roles)| {
        TagReport {
            tag: t.tag.clone(),
            digest: t.digest.clone(),
            status,
            originally: t.signed_in.clone(),
            signed_by: roles
                .iter()
                .flat_map(|r| signed_by.get(r).cloned().unwrap_or_default())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            signed_in: roles,
        }
    }));
    Ok((reports, any))
}
