//! Staged changes: a change that a threshold of keys has not signed, or
//! that this machine cannot publish (it lacks the snapshot and timestamp
//! keys), is kept beside the live trust data (`store::staged`) instead of
//! replacing it. Verifiers never see it. Others list it with a diff
//! against the live data, approve it (sign exactly its bytes), or
//! withdraw it; whoever holds snapshot and timestamp publishes it once a
//! threshold signed every role it changes and it still applies to the
//! live data.
//!
//! Every decision here is made against the live trust data as verified
//! (`load`): a staged role counts only if the live data (with the change's
//! own delegations) authorises its keys, its signatures verify over its
//! exact bytes, it is a new version of the live role it was made against,
//! and it is what its name says (a bin holds only its own tags, at a
//! version bound to its name). Nobody signs what they were not shown: a
//! writer builds on the live, fully signed roles only, never on another
//! staged change.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use time::OffsetDateTime;
use vouch_keys::PrivateKey;

use super::root::{RootCheck, Weighed, check_root, diff_root, parse_root, weigh};
use super::shortfall::{Shortfall, needs};
use super::{Publishing, Writer, bug, delegator_of, signers_of};
use crate::store::staged;
use crate::trust::error::TrustError;
use crate::trust::load::WriterState;
use crate::tuf::crypto::count_signatures;
use crate::tuf::editor::{BASE, MetadataEditor, ROLE_NAME, Signed};
use crate::tuf::metadata::{Envelope, Root, Signature, Targets, signed_bytes};
use crate::tuf::trusted_set::validate_delegations;
use crate::tuf::writer_load::RoleState;

/// Most staged changes pending at once for a repository.
pub const MAX_PENDING: usize = 64;

const PROPOSAL: &str = "vouch-proposal";
const APPROVAL: &str = "vouch-approval";

/// A staged change as stored: the roles it changes, each with the live
/// version it was made against and its new metadata with the signatures
/// made so far. Only `roles` is signed and checked; the rest is a label.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proposal {
    /// Always `vouch-proposal`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// The repository (a label).
    pub repository: String,
    /// What the change does, in words (a label).
    pub summary: String,
    /// Who staged it (a label; who signed is what the signatures say).
    pub by: String,
    /// When (a label).
    pub created: String,
    /// The tags it touches: the bins a reader of it loads.
    pub tags: Vec<String>,
    /// The roles it changes.
    pub roles: BTreeMap<String, StagedRole>,
}

/// One role of a staged change.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StagedRole {
    /// The live version it was made against (0: a role that does not
    /// exist yet).
    pub base_version: u64,
    /// The SHA-256 of the live role's canonical `signed` ("" when new).
    pub base: String,
    /// The new metadata: `{"signed": …, "signatures": […]}`.
    pub metadata: serde_json::Value,
}

/// Signatures someone added to a staged change, stored under a tag of
/// their own (so that two approvers never overwrite each other).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Approval {
    /// Always `vouch-approval`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// The change approved.
    pub id: String,
    /// Who (a label).
    pub by: String,
    /// Signatures by role.
    pub signatures: BTreeMap<String, Vec<Signature>>,
}

/// Where a staged change stands against the live data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// A threshold signed every role: it can be published.
    Complete,
    /// Roles still short of their threshold.
    Short(Vec<Shortfall>),
    /// The live data moved on since it was made: it no longer applies.
    Stale(String),
    /// It is not a valid change of this repository.
    Invalid(String),
}

/// A staged change as read and checked against the live data.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Its id (a hash of the roles it changes and what it was made
    /// against).
    pub id: String,
    /// The proposal (labels unverified).
    pub proposal: Proposal,
    /// Where it stands.
    pub standing: Standing,
    /// What it changes, line by line.
    pub diff: Vec<String>,
    /// Who signed each role so far (signer names where the repository
    /// names the key, else key ids).
    pub signed_by: BTreeMap<String, Vec<String>>,
    /// Its tags in the store (the proposal and its approvals).
    pub store_tags: Vec<String>,
    /// The roles with their valid signatures, ready to publish.
    roles: BTreeMap<String, Signed<Targets>>,
    /// A new root version, with its valid signatures.
    pub root: Option<Signed<Root>>,
    /// For a root change: per root key of the old and the new root,
    /// whether it signed, and whether each threshold is met.
    pub root_status: Vec<String>,
}

/// What a writer's change came to.
#[derive(Debug)]
pub enum Outcome {
    /// Published: the new live data.
    Published(Box<MetadataEditor>),
    /// Staged, with its id and what it still needs.
    Staged {
        /// The change's id.
        id: String,
        /// Roles short of their threshold (none: it waits for a
        /// publisher with the snapshot and timestamp keys).
        short: Vec<Shortfall>,
    },
}

/// What `publish` did with the staged changes.
#[derive(Debug, Default)]
pub struct PublishedStaged {
    /// Published.
    pub published: Vec<Pending>,
    /// Not complete, stale or not valid: left as they are.
    pub left: Vec<Pending>,
    /// Complete, but refused when published (the live data moved).
    pub failed: Vec<(Pending, TrustError)>,
}

/// A staged change read for approval ([`Writer::to_approve`]): what the
/// approver is shown is exactly what `approve` signs.
#[derive(Debug)]
pub struct ToApprove {
    live: WriterState,
    /// The change.
    pub pending: Pending,
    /// Key ids that may sign some role of it.
    pub approvers: BTreeSet<String>,
}

impl ToApprove {
    /// The live data it was checked against.
    pub fn live(&self) -> &WriterState {
        &self.live
    }
}

/// What `approve` did.
#[derive(Debug)]
pub enum Approved {
    /// The change is complete and was published.
    Published,
    /// The signatures were added; the change still needs these (none: a
    /// publisher).
    Added(Vec<Shortfall>),
}

fn bad(why: impl Into<String>) -> TrustError {
    TrustError::edit(
        why.into(),
        "`vouch staged REPO` lists the staged changes and what they need",
    )
}

/// The SHA-256 of a role's canonical `signed`, in hex.
fn content_hash(signed: &Targets) -> Result<String, TrustError> {
    crate::tuf::editor::content_hash(signed).map_err(bug)
}

impl Proposal {
    /// The change's id: a hash of what it was made against and the new
    /// `signed` of each role (signatures aside, so approvals do not change
    /// it). Its tag in the store is `vouch-stage-ID`.
    pub fn id(&self) -> Result<String, TrustError> {
        change_id(&self.roles)
    }
}

fn change_id(roles: &BTreeMap<String, StagedRole>) -> Result<String, TrustError> {
    let mut h = sha2::Sha256::new();
    for (name, r) in roles {
        let signed = crate::tuf::metadata::canonical(&r.metadata["signed"]).map_err(bad)?;
        h.update((name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
        h.update(r.base_version.to_be_bytes());
        h.update(r.base.as_bytes());
        h.update((signed.len() as u64).to_be_bytes());
        h.update(&signed);
    }
    let mut id = hex::encode(h.finalize());
    id.truncate(24);
    Ok(id)
}

fn proposal_tag(id: &str) -> String {
    format!("{}{id}", staged::PREFIX)
}

fn approval_tag(id: &str, keyid: &str) -> String {
    format!("{}{id}-{}", staged::PREFIX, &keyid[..keyid.len().min(16)])
}

/// Of `candidates`, one valid signature per authorised key (in key id
/// order), as `repo` authorises `role`.
fn valid_signatures(
    repo: &MetadataEditor,
    role: &str,
    signed: &Targets,
    candidates: &[Signature],
) -> Result<(Vec<Signature>, u64), TrustError> {
    let Some((keys, ids, threshold)) = signers_of(repo, role) else {
        return Err(bad(format!("{role} is delegated by no role of the repository")));
    };
    let canonical = signed_bytes(signed).map_err(bug)?;
    let mut valid: BTreeMap<String, Signature> = BTreeMap::new();
    for sig in candidates {
        if valid.contains_key(&sig.keyid) {
            continue;
        }
        let one = std::slice::from_ref(sig);
        let count = count_signatures(role, signed.version, &canonical, one, &keys, &ids)
            .map_err(|e| bad(e.to_string()))?;
        if !count.valid.is_empty() {
            valid.insert(sig.keyid.clone(), sig.clone());
        }
    }
    // One key listed under two ids counts once: count the kept set.
    let kept: Vec<Signature> = valid.into_values().collect();
    let count = count_signatures(role, signed.version, &canonical, &kept, &keys, &ids)
        .map_err(|e| bad(e.to_string()))?;
    let kept = kept
        .into_iter()
        .filter(|s| count.valid.contains(&s.keyid))
        .collect();
    Ok((kept, threshold))
}

/// Whether a role may stand with fewer signatures than its threshold: a
/// new role at version 1 that lists nothing and delegates nothing (a
/// signer's role, or `targets/releases` before anyone signed into it). It
/// can sign nothing, and readers take it as empty.
fn empty_new_role(signed: &Targets) -> bool {
    signed.version == 1
        && signed.targets.is_empty()
        && signed
            .delegations
            .as_ref()
            .is_none_or(|d| d.roles.as_ref().is_none_or(Vec::is_empty) && d.succinct_roles.is_none())
}

/// The roles of `repo` (in `roles`) short of their threshold.
pub(crate) fn shortfalls<'a>(
    repo: &MetadataEditor,
    roles: impl IntoIterator<Item = &'a str>,
) -> Vec<Shortfall> {
    roles
        .into_iter()
        .filter_map(|role| {
            let r = repo.targets.get(role)?;
            if empty_new_role(&r.signed) {
                return None;
            }
            // A role nothing delegates to any more decides nothing.
            let (_, _, threshold) = signers_of(repo, role)?;
            let (valid, threshold) = super::signature_count(repo, role).unwrap_or((0, threshold));
            (valid < threshold).then(|| Shortfall {
                role: role.to_owned(),
                valid: valid as usize,
                threshold,
            })
        })
        .collect()
}

/// What a change made on `repo` (from live root `live_root`) still
/// needs: every changed role's threshold and, when the root changed, both
/// root thresholds.
fn change_shortfalls(repo: &MetadataEditor, live_root: &Root, denied: &BTreeSet<String>) -> Vec<Shortfall> {
    let mut short = shortfalls(repo, repo.changed_roles());
    if repo.root.signed != *live_root {
        short.extend(weigh(Some(live_root), &repo.root, denied).short);
    }
    short
}

/// Names for key ids: a signer's role `targets/NAME` with one key names it.
fn signer_names(repo: &MetadataEditor) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    if let Some(d) = repo
        .targets
        .get("targets")
        .and_then(|t| t.signed.delegations.as_ref())
    {
        for r in d.roles.iter().flatten() {
            if let (Some(name), [id]) = (r.name.strip_prefix("targets/"), r.keyids.as_slice())
                && name != "releases"
            {
                names.insert(id.clone(), name.to_owned());
            }
        }
    }
    if let Some(r) = repo.root.signed.roles.get("targets") {
        for id in &r.keyids {
            names
                .entry(id.clone())
                .or_insert_with(|| "owner (targets key)".to_owned());
        }
    }
    names
}

fn short_digest(t: &crate::tuf::metadata::TargetFile) -> String {
    t.hashes
        .get("sha256")
        .map_or_else(|| "(no sha256)".to_owned(), |h| format!("sha256:{h}"))
}

/// What `new` changes of `old` (`None`: a new role), line by line.
fn diff_role(role: &str, old: Option<&Targets>, new: &Targets, out: &mut Vec<String>) {
    out.push(match old {
        Some(o) => format!(
            "{role}: version {} -> {}, expires {} (was {})",
            o.version,
            new.version,
            new.expires.as_str(),
            o.expires.as_str()
        ),
        None => format!(
            "{role}: new, version {}, expires {}",
            new.version,
            new.expires.as_str()
        ),
    });
    let empty = BTreeMap::new();
    let before = old.map_or(&empty, |o| &o.targets);
    for (tag, t) in &new.targets {
        match before.get(tag) {
            None => out.push(format!("+ {tag} {} ({role})", short_digest(t))),
            Some(o) if o != t => out.push(format!(
                "~ {tag} {} -> {} ({role})",
                short_digest(o),
                short_digest(t)
            )),
            Some(_) => {}
        }
    }
    for (tag, o) in before {
        if !new.targets.contains_key(tag) {
            out.push(format!("- {tag} (was {}) ({role})", short_digest(o)));
        }
    }
    let roles_of = |t: Option<&Targets>| -> BTreeMap<String, (Vec<String>, u64)> {
        t.and_then(|t| t.delegations.as_ref())
            .map(|d| {
                let mut m: BTreeMap<String, (Vec<String>, u64)> = d
                    .roles
                    .iter()
                    .flatten()
                    .map(|r| (r.name.clone(), (r.keyids.clone(), r.threshold)))
                    .collect();
                if let Some(b) = &d.succinct_roles {
                    m.insert(
                        format!("{}-* ({} bins)", b.name_prefix, b.bins()),
                        (b.keyids.clone(), b.threshold),
                    );
                }
                m
            })
            .unwrap_or_default()
    };
    let (was, now) = (roles_of(old), roles_of(Some(new)));
    for (name, (ids, threshold)) in &now {
        match was.get(name) {
            None => out.push(format!(
                "delegation + {name}: threshold {threshold} of {} key(s) {}",
                ids.len(),
                short_ids(ids)
            )),
            Some((old_ids, old_threshold)) => {
                if old_threshold != threshold {
                    out.push(format!(
                        "delegation {name}: threshold {old_threshold} -> {threshold}"
                    ));
                }
                let added: Vec<String> = ids.iter().filter(|i| !old_ids.contains(i)).cloned().collect();
                let removed: Vec<String> = old_ids.iter().filter(|i| !ids.contains(i)).cloned().collect();
                if !added.is_empty() {
                    out.push(format!("delegation {name}: key(s) added {}", short_ids(&added)));
                }
                if !removed.is_empty() {
                    out.push(format!(
                        "delegation {name}: key(s) removed {}",
                        short_ids(&removed)
                    ));
                }
            }
        }
    }
    for name in was.keys().filter(|n| !now.contains_key(*n)) {
        out.push(format!("delegation - {name}"));
    }
    // What else a delegation says: the paths it may sign, whether it
    // terminates, the bins' bit length.
    let detail = |t: Option<&Targets>| -> BTreeMap<String, String> {
        t.and_then(|t| t.delegations.as_ref())
            .map(|d| {
                let mut m: BTreeMap<String, String> = d
                    .roles
                    .iter()
                    .flatten()
                    .map(|r| {
                        (
                            r.name.clone(),
                            format!(
                                "paths {:?}, hash prefixes {:?}, terminating {}",
                                r.paths, r.path_hash_prefixes, r.terminating
                            ),
                        )
                    })
                    .collect();
                if let Some(b) = &d.succinct_roles {
                    m.insert(format!("{}-*", b.name_prefix), format!("{} bins", b.bins()));
                }
                m
            })
            .unwrap_or_default()
    };
    let (was, now) = (detail(old), detail(Some(new)));
    for (name, what) in &now {
        if let Some(before) = was.get(name)
            && before != what
        {
            out.push(format!("delegation {name}: {before} -> {what}"));
        }
    }
}

fn short_ids(ids: &[String]) -> String {
    ids.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(", ")
}

/// Parses a staged role's metadata.
fn parse_role(role: &str, metadata: &serde_json::Value) -> Result<Signed<Targets>, String> {
    let bytes = serde_json::to_vec(metadata).map_err(|e| e.to_string())?;
    let env: Envelope<Targets> = Envelope::parse(role, &bytes).map_err(|e| e.to_string())?;
    Ok(Signed {
        signed: env.signed,
        signatures: env.signatures,
    })
}

/// Checks a change against the live data `live` (and the clock): where it
/// stands, what it changes, and its roles with their valid signatures.
fn evaluate(
    live: &WriterState,
    proposal: &Proposal,
    approvals: &[Approval],
    now: OffsetDateTime,
    denied: &BTreeSet<String>,
) -> Evaluation {
    let mut diff = Vec::new();
    let mut signed_by = BTreeMap::new();
    let mut roles = BTreeMap::new();
    let invalid = |why: String| Evaluation {
        standing: Standing::Invalid(why),
        diff: Vec::new(),
        signed_by: BTreeMap::new(),
        roles: BTreeMap::new(),
        root: None,
        root_status: Vec::new(),
    };
    // The change applied to the live data, its signatures unchecked yet.
    let mut result = live.repo.clone();
    let mut staged: BTreeMap<String, Signed<Targets>> = BTreeMap::new();
    let mut stale = None;
    // A new root first: the roles staged with it are checked against it.
    let mut new_root: Option<Signed<Root>> = None;
    if let Some(r) = proposal.roles.get("root") {
        let mut root = match parse_root(&r.metadata) {
            Ok(root) => root,
            Err(why) => return invalid(format!("root: {why}")),
        };
        for a in approvals {
            root.signatures
                .extend(a.signatures.get("root").into_iter().flatten().cloned());
        }
        let live_root = &live.repo.root.signed;
        match check_root(Some(live_root), r.base_version, &r.base, &root.signed, now) {
            Err(RootCheck::Invalid(why)) => return invalid(why),
            Err(RootCheck::Stale(why)) => stale = Some(why),
            Ok(()) => {
                diff_root(Some(live_root), &root.signed, &mut diff);
                result.root = root.clone();
                new_root = Some(root);
            }
        }
    }
    for (name, r) in &proposal.roles {
        if name == "root" {
            continue;
        }
        let mut role = match parse_role(name, &r.metadata) {
            Ok(role) => role,
            Err(why) => return invalid(format!("{name}: {why}")),
        };
        for a in approvals {
            role.signatures
                .extend(a.signatures.get(name).into_iter().flatten().cloned());
        }
        // What it says it is: signed bytes of one role never pass for
        // another's (TUF metadata does not name its role; vouch's does).
        match role.signed.extra.get(ROLE_NAME).and_then(|v| v.as_str()) {
            Some(n) if n == name => {}
            Some(other) => return invalid(format!("the metadata staged as {name} is {other}'s")),
            None => return invalid(format!("the metadata staged as {name} does not name its role")),
        }
        match live.repo.targets.get(name) {
            Some(current) => {
                let hash = content_hash(&current.signed).unwrap_or_default();
                if r.base_version != current.signed.version || r.base != hash {
                    stale = stale.or(Some(if r.base_version == current.signed.version {
                        format!(
                            "{name} version {} is not what the change was made against",
                            r.base_version
                        )
                    } else {
                        format!(
                            "{name} is at version {} now; the change was made against version {}",
                            current.signed.version, r.base_version
                        )
                    }));
                    continue;
                }
                if live
                    .states
                    .get(name)
                    .is_some_and(|s| matches!(s, RoleState::PartlySigned { .. }))
                {
                    return invalid(format!(
                        "the live {name} is signed by fewer keys than its threshold (left by an older vouch)"
                    ));
                }
            }
            None if r.base_version == 0 => {}
            None => {
                stale = stale.or(Some(format!(
                    "{name} is not in the live data read (it was removed, or is a bin the change does not name a tag of)"
                )));
                continue;
            }
        }
        // Made on this repository's live role: the hash of the version it
        // replaces is in the signed bytes, so signed bytes from another
        // repository (or another line) never apply here.
        let made_on = role
            .signed
            .extra
            .get(BASE)
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        if made_on != r.base {
            return invalid(format!(
                "the metadata staged as {name} was not made on the live {name} it claims to replace"
            ));
        }
        // Only the delegations vouch makes: each delegated role (or bin) is
        // the staged role's own by name.
        if let Some(d) = &role.signed.delegations {
            let names = d
                .roles
                .iter()
                .flatten()
                .map(|r| r.name.clone())
                .chain(d.succinct_roles.iter().map(|b| b.bin_name(0)));
            if let Some(child) = names
                .into_iter()
                .find(|c| delegator_of(c).as_deref() != Some(name.as_str()))
            {
                return invalid(format!(
                    "{name} delegates to {child}, which is not a role of its own"
                ));
            }
        }
        // The next version of the role as snapshot lists it: one above
        // (a bin: above, and bound to its name).
        let listed = live
            .repo
            .snapshot
            .signed
            .meta
            .get(&crate::tuf::metadata::meta_key(name))
            .map_or(0, |m| m.version);
        let version = role.signed.version;
        let next = if crate::tuf::bin_versions::slot(name).is_some() {
            version > listed && crate::tuf::bin_versions::bound_to(name, version)
        } else {
            version == listed + 1
        };
        if !next || version <= r.base_version {
            return invalid(format!(
                "{name} version {version} is not the next version of the live {name} (version {listed})"
            ));
        }
        if role.signed.expires.at <= now {
            return invalid(format!("{name} expired at {}", role.signed.expires.as_str()));
        }
        if let Some(d) = &role.signed.delegations
            && let Err(e) = validate_delegations(name, d)
        {
            return invalid(e.to_string());
        }
        if let Some(tag) = role
            .signed
            .targets
            .keys()
            .find(|t| crate::tuf::TargetPath::parse(t).is_err())
        {
            return invalid(format!("{name} lists {tag:?}, which is not a tag"));
        }
        diff_role(
            name,
            live.repo.targets.get(name).map(|t| &t.signed),
            &role.signed,
            &mut diff,
        );
        result.targets.insert(name.clone(), role.clone());
        staged.insert(name.clone(), role);
    }
    if let Some(why) = stale {
        return Evaluation {
            standing: Standing::Stale(why),
            diff,
            signed_by,
            roles,
            root: None,
            root_status: Vec::new(),
        };
    }
    // Each role as the changed data authorises it: a bin is its own, and
    // only valid signatures by authorised keys count.
    let names = signer_names(&result);
    let mut short = Vec::new();
    for (name, role) in &staged {
        if let Some(bins) = result.targets.values().find_map(|t| {
            t.signed
                .delegations
                .as_ref()?
                .succinct_roles
                .as_ref()
                .filter(|b| b.is_bin(name))
        }) && let Err(e) = crate::tuf::trusted_set::check_bin(name, bins, &role.signed, false, true)
        {
            return invalid(e.to_string());
        }
        let (valid, threshold) = match valid_signatures(&result, name, &role.signed, &role.signatures) {
            Ok(v) => v,
            Err(e) => return invalid(e.to_string()),
        };
        signed_by.insert(
            name.clone(),
            valid
                .iter()
                .map(|s| names.get(&s.keyid).cloned().unwrap_or_else(|| s.keyid.clone()))
                .collect(),
        );
        if (valid.len() as u64) < threshold && !empty_new_role(&role.signed) {
            short.push(Shortfall {
                role: name.clone(),
                valid: valid.len(),
                threshold,
            });
        }
        roles.insert(
            name.clone(),
            Signed {
                signed: role.signed.clone(),
                signatures: valid,
            },
        );
    }
    // A change to a role's delegations (keys, threshold) must leave every
    // role it delegates to, and the change does not sign again, signed by
    // its threshold: else what verified before would stop verifying.
    for (name, role) in &staged {
        let before = live
            .repo
            .targets
            .get(name)
            .and_then(|t| t.signed.delegations.as_ref());
        if role.signed.delegations.as_ref() == before {
            continue;
        }
        let children: Vec<&str> = result
            .targets
            .keys()
            .map(String::as_str)
            .filter(|c| !staged.contains_key(*c) && delegator_of(c).as_deref() == Some(name.as_str()))
            .collect();
        if let Some(child) = shortfalls(&result, children).into_iter().next() {
            return Evaluation {
                standing: Standing::Stale(format!(
                    "under it, {} would fall short ({}), signed since it was made: make the change again",
                    child.role, child
                )),
                diff,
                signed_by,
                roles: BTreeMap::new(),
                root: None,
                root_status: Vec::new(),
            };
        }
    }
    let mut status = Vec::new();
    if let Some(root) = &mut new_root {
        // A root that changes the targets keys comes with targets signed
        // by them: else every tag would stop verifying.
        if !staged.contains_key("targets")
            && let Some(t) = shortfalls(&result, ["targets"]).into_iter().next()
        {
            return invalid(format!(
                "root v{} changes the targets keys, and targets is not signed again with them ({t})",
                root.signed.version
            ));
        }
        let weighed = weigh(Some(&live.repo.root.signed), root, denied);
        status = weighed.status;
        let names = signer_names(&live.repo);
        root.signatures = weighed.signatures;
        signed_by.insert(
            "root".to_owned(),
            root.signatures
                .iter()
                .map(|s| names.get(&s.keyid).cloned().unwrap_or_else(|| s.keyid.clone()))
                .collect(),
        );
        short.extend(weighed.short);
    }
    let standing = if short.is_empty() {
        Standing::Complete
    } else {
        Standing::Short(short)
    };
    Evaluation {
        standing,
        diff,
        signed_by,
        roles,
        root: new_root,
        root_status: status,
    }
}

/// Staged pieces as read.
struct Read {
    proposals: BTreeMap<String, (String, Proposal)>,
    approvals: BTreeMap<String, Vec<(String, Approval)>>,
    skipped: Vec<(String, String)>,
}

/// A change checked against the live data.
struct Evaluation {
    standing: Standing,
    diff: Vec<String>,
    signed_by: BTreeMap<String, Vec<String>>,
    roles: BTreeMap<String, Signed<Targets>>,
    root: Option<Signed<Root>>,
    root_status: Vec<String>,
}

/// The staged changes of a repository, as read and checked.
#[derive(Debug)]
pub struct StagedList {
    /// The live data they were checked against.
    pub live: WriterState,
    /// Each change.
    pub pending: Vec<Pending>,
    /// Staged tags that hold no valid change, with why.
    pub skipped: Vec<(String, String)>,
}

impl<'s> Writer<'s> {
    /// Applies `change` to the live data: publishes it when every role it
    /// changes is signed by its threshold and `keys` (snapshot and
    /// timestamp) are given; stages it otherwise, where verifiers never
    /// see it. `scope`: the tags whose bins it touches (`None`: any);
    /// `tags`: the tags it touches, recorded for those who read it.
    pub(super) fn change_or_stage<R>(
        &self,
        keys: Option<Publishing<'_>>,
        scope: Option<&[String]>,
        summary: &str,
        by: &str,
        mut change: impl FnMut(&mut MetadataEditor, &WriterState, OffsetDateTime) -> Result<R, TrustError>,
    ) -> Result<(R, Outcome), TrustError> {
        let denied = self.denied()?;
        let state = crate::trust::load::load_for_writing(
            &self.trust,
            &self.repo,
            self.store,
            scope,
            self.mode.for_publishing(),
        )?;
        let mut repo = state.repo.clone();
        let now = OffsetDateTime::now_utc();
        let out = change(&mut repo, &state, now)?;
        let changed: Vec<String> = repo.changed_roles().map(str::to_owned).collect();
        // Nobody builds on what a threshold has not signed.
        if let Some(role) = changed.iter().find(|r| {
            state
                .states
                .get(*r)
                .is_some_and(|s| matches!(s, RoleState::PartlySigned { .. }))
        }) {
            return Err(TrustError::edit(
                format!(
                    "the live {role} of {} is signed by fewer keys than its threshold (left by an older vouch), so nothing is built on it",
                    self.repo
                ),
                "its signers sign it again, or the owner withdraws it (`vouch signer remove`)",
            ));
        }
        let short = change_shortfalls(&repo, &state.repo.root.signed, &denied);
        match keys {
            Some(keys) if short.is_empty() => {
                // Applied again to what another publisher left (a registry
                // has no compare-and-swap), the change must still meet
                // every threshold there, or nothing is published.
                let (out, repo) = self.publish_from(keys, scope, Some(state), |repo, state, now| {
                    let out = change(repo, state, now)?;
                    let short = change_shortfalls(repo, &state.repo.root.signed, &denied);
                    if !short.is_empty() {
                        return Err(TrustError::edit(
                            format!(
                                "the trust data of {} moved while this change was made, and on it the change needs {}",
                                self.repo,
                                needs(&short)
                            ),
                            "run the command again: on the data as it is now, it is staged for the holders it needs",
                        ));
                    }
                    Ok(out)
                })?;
                Ok((out, Outcome::Published(Box::new(repo))))
            }
            _ => {
                let tags = touched_tags(&state.repo, &repo, &changed);
                let id = self.stage(&state, &repo, &changed, summary, by, tags, now)?;
                Ok((out, Outcome::Staged { id, short }))
            }
        }
    }

    /// Stores the `changed` roles of `repo` (made from `state`) as a
    /// staged change; returns its id.
    #[allow(clippy::too_many_arguments)]
    fn stage(
        &self,
        state: &WriterState,
        repo: &MetadataEditor,
        changed: &[String],
        summary: &str,
        by: &str,
        tags: Vec<String>,
        now: OffsetDateTime,
    ) -> Result<String, TrustError> {
        let pending = staged::read_all(self.store)?
            .pieces
            .iter()
            .filter(|p| !p.tag[staged::PREFIX.len()..].contains('-'))
            .count();
        if pending >= MAX_PENDING {
            return Err(TrustError::edit(
                format!(
                    "{} already has {pending} staged changes, the most vouch keeps",
                    self.repo
                ),
                "publish or withdraw some first (`vouch staged`, `vouch withdraw`)",
            ));
        }
        let mut roles = BTreeMap::new();
        if repo.root.signed != state.repo.root.signed {
            roles.insert(
                "root".to_owned(),
                StagedRole {
                    base_version: state.repo.root.signed.version,
                    base: crate::tuf::editor::root_hash(&state.repo.root.signed).map_err(bug)?,
                    metadata: serde_json::json!({
                        "signed": serde_json::to_value(&repo.root.signed).map_err(bug)?,
                        "signatures": serde_json::to_value(&repo.root.signatures).map_err(bug)?,
                    }),
                },
            );
        }
        for name in changed {
            let Some(role) = repo.targets.get(name) else {
                continue;
            };
            let (base_version, base) = match state.repo.targets.get(name) {
                Some(live) => (live.signed.version, content_hash(&live.signed)?),
                None => (0, String::new()),
            };
            let metadata = serde_json::json!({
                "signed": serde_json::to_value(&role.signed).map_err(bug)?,
                "signatures": serde_json::to_value(&role.signatures).map_err(bug)?,
            });
            roles.insert(
                name.clone(),
                StagedRole {
                    base_version,
                    base,
                    metadata,
                },
            );
        }
        if roles.is_empty() {
            return Err(TrustError::edit(
                "the change changes no role",
                "report this as a bug",
            ));
        }
        let id = change_id(&roles)?;
        let proposal = Proposal {
            kind: PROPOSAL.to_owned(),
            repository: self.repo.clone(),
            summary: summary.to_owned(),
            by: by.to_owned(),
            created: now
                .replace_nanosecond(0)
                .unwrap_or(now)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            tags,
            roles,
        };
        let bytes = serde_json::to_vec(&proposal).map_err(bug)?;
        staged::put(self.store, &proposal_tag(&id), PROPOSAL, &bytes)?;
        crate::trust::cache::Cache::new(&self.trust.dir, &self.repo).note_staged_here(&id)?;
        crate::trust::record::Record::new(&self.trust.dir, &self.repo).note_staged(&state.repo, repo, &id)?;
        Ok(id)
    }

    /// Every staged change of the repository, checked against the live
    /// data (loaded with the bins the changes touch), and the staged
    /// pieces that are not valid ones (with why).
    pub fn staged(&self) -> Result<StagedList, TrustError> {
        let denied = self.denied()?;
        let Read {
            proposals,
            mut approvals,
            mut skipped,
        } = self.read_staged()?;
        let scope: Option<Vec<String>> = proposals
            .values()
            .map(|(_, p)| scope_of(p))
            .try_fold(BTreeSet::new(), |mut all, s| {
                all.extend(s?);
                Some(all)
            })
            .map(|all| all.into_iter().collect());
        let live = crate::trust::load::load_for_writing(
            &self.trust,
            &self.repo,
            self.store,
            scope.as_deref(),
            self.mode,
        )?;
        let now = OffsetDateTime::now_utc();
        let mut out = Vec::new();
        for (id, (tag, proposal)) in proposals {
            let approvals_of: Vec<(String, Approval)> = approvals.remove(&id).unwrap_or_default();
            let list: Vec<Approval> = approvals_of.iter().map(|(_, a)| a.clone()).collect();
            let Evaluation {
                standing,
                diff,
                signed_by,
                roles,
                root,
                root_status,
            } = evaluate(&live, &proposal, &list, now, &denied);
            let mut store_tags = vec![tag];
            store_tags.extend(approvals_of.into_iter().map(|(t, _)| t));
            out.push(Pending {
                id,
                proposal,
                standing,
                diff,
                signed_by,
                store_tags,
                roles,
                root,
                root_status,
            });
        }
        for (_, left) in approvals {
            for (tag, _) in left {
                skipped.push((tag, "an approval of no staged change".to_owned()));
            }
        }
        Ok(StagedList {
            live,
            pending: out,
            skipped,
        })
    }

    /// The staged proposals and approvals of the repository, parsed (not
    /// checked), and the staged tags that are neither.
    fn read_staged(&self) -> Result<Read, TrustError> {
        let staged::Found { pieces, mut skipped } = staged::read_all(self.store)?;
        let mut proposals: BTreeMap<String, (String, Proposal)> = BTreeMap::new();
        let mut approvals: BTreeMap<String, Vec<(String, Approval)>> = BTreeMap::new();
        for piece in pieces {
            let rest = &piece.tag[staged::PREFIX.len()..];
            let parsed: Result<(), String> = match rest.split_once('-') {
                None => match serde_json::from_slice::<Proposal>(&piece.bytes) {
                    Ok(p) if p.kind == PROPOSAL => match change_id(&p.roles) {
                        Ok(id) if id == rest => {
                            proposals.insert(id, (piece.tag.clone(), p));
                            Ok(())
                        }
                        Ok(_) => Err("its tag is not the id of what it holds".to_owned()),
                        Err(e) => Err(e.to_string()),
                    },
                    Ok(_) => Err("not a proposal".to_owned()),
                    Err(e) => Err(e.to_string()),
                },
                Some((id, _)) => match serde_json::from_slice::<Approval>(&piece.bytes) {
                    Ok(a) if a.kind == APPROVAL && a.id == id => {
                        approvals
                            .entry(id.to_owned())
                            .or_default()
                            .push((piece.tag.clone(), a));
                        Ok(())
                    }
                    Ok(_) => Err("not an approval of the change its tag names".to_owned()),
                    Err(e) => Err(e.to_string()),
                },
            };
            if let Err(why) = parsed {
                skipped.push((piece.tag, why));
            }
        }
        Ok(Read {
            proposals,
            approvals,
            skipped,
        })
    }

    /// Stages the first root of a repository that has no trust data yet,
    /// for its root holders to approve; returns the change's id.
    pub(super) fn stage_genesis(
        &self,
        root: &Signed<Root>,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<String, TrustError> {
        let mut roles = BTreeMap::new();
        roles.insert(
            "root".to_owned(),
            StagedRole {
                base_version: 0,
                base: String::new(),
                metadata: serde_json::json!({
                    "signed": serde_json::to_value(&root.signed).map_err(bug)?,
                    "signatures": serde_json::to_value(&root.signatures).map_err(bug)?,
                }),
            },
        );
        let id = change_id(&roles)?;
        let proposal = Proposal {
            kind: PROPOSAL.to_owned(),
            repository: self.repo.clone(),
            summary: "first root".to_owned(),
            by: by.to_owned(),
            created: now
                .replace_nanosecond(0)
                .unwrap_or(now)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            tags: Vec::new(),
            roles,
        };
        let bytes = serde_json::to_vec(&proposal).map_err(bug)?;
        staged::put(self.store, &proposal_tag(&id), PROPOSAL, &bytes)?;
        Ok(id)
    }

    /// The staged first roots of a repository with no trust data yet,
    /// each checked on its own: version 1, unexpired, well formed, and how
    /// many of its own root keys signed it.
    pub fn genesis(&self) -> Result<Vec<Pending>, TrustError> {
        // An empty store is not a new repository to a machine that
        // verified its trust data: it was deleted or is withheld.
        self.check_empty_is_new()?;
        let pin = crate::trust::Pin::of(&crate::policy::Policy::load(&self.trust.dir)?, &self.repo);
        let denied = self.denied()?;
        let Read {
            proposals,
            mut approvals,
            ..
        } = self.read_staged()?;
        let now = OffsetDateTime::now_utc();
        let mut out = Vec::new();
        for (id, (tag, proposal)) in proposals {
            let approvals_of = approvals.remove(&id).unwrap_or_default();
            let mut store_tags = vec![tag];
            store_tags.extend(approvals_of.iter().map(|(t, _)| t.clone()));
            let Some(r) = proposal.roles.get("root").filter(|_| proposal.roles.len() == 1) else {
                continue;
            };
            if r.base_version != 0 {
                continue;
            }
            let mut diff = Vec::new();
            let mut status = Vec::new();
            let mut signed_by = BTreeMap::new();
            let (standing, root) = match parse_root(&r.metadata) {
                Err(why) => (Standing::Invalid(format!("root: {why}")), None),
                Ok(mut root) => {
                    for (_, a) in &approvals_of {
                        root.signatures
                            .extend(a.signatures.get("root").into_iter().flatten().cloned());
                    }
                    // A machine that pins the repository takes only a
                    // first root of the keys it pins.
                    let unpinned = pin.as_ref().is_some_and(|p| {
                        root.signed.roles.get("root").is_none_or(|r| {
                            r.threshold < p.threshold || r.keyids.iter().any(|k| !p.keys.contains(k))
                        })
                    });
                    match check_root(None, 0, "", &root.signed, now) {
                        Err(RootCheck::Invalid(why) | RootCheck::Stale(why)) => {
                            (Standing::Invalid(why), None)
                        }
                        Ok(()) if unpinned => (
                            Standing::Invalid(
                                "its root keys are not the ones this machine pins for the repository"
                                    .to_owned(),
                            ),
                            None,
                        ),
                        Ok(()) => {
                            diff_root(None, &root.signed, &mut diff);
                            let Weighed {
                                signatures,
                                status: lines,
                                short,
                            } = weigh(None, &root, &denied);
                            status = lines;
                            root.signatures = signatures;
                            signed_by.insert(
                                "root".to_owned(),
                                root.signatures.iter().map(|s| s.keyid.clone()).collect(),
                            );
                            let standing = if short.is_empty() {
                                Standing::Complete
                            } else {
                                Standing::Short(short)
                            };
                            (standing, Some(root))
                        }
                    }
                }
            };
            out.push(Pending {
                id,
                proposal,
                standing,
                diff,
                signed_by,
                store_tags,
                roles: BTreeMap::new(),
                root,
                root_status: status,
            });
        }
        Ok(out)
    }

    /// Refuses to treat an empty store as a new repository where this
    /// machine verified the repository's trust data before: it was
    /// deleted or is withheld.
    pub(super) fn check_empty_is_new(&self) -> Result<(), TrustError> {
        if crate::trust::cache::Cache::new(&self.trust.dir, &self.repo)
            .anchor()?
            .is_some()
        {
            return Err(TrustError::edit(
                format!(
                    "{} has no trust data in the store, yet this machine verified it before: it was deleted or is \
                     withheld, and nothing is staged, approved or published as a new repository",
                    self.repo
                ),
                "republish what this machine verified (`vouch recover`), or ask the publisher",
            ));
        }
        Ok(())
    }

    /// The root key ids this machine never counts (`vouch deny`).
    pub(super) fn denied(&self) -> Result<BTreeSet<String>, TrustError> {
        Ok(crate::policy::Policy::load(&self.trust.dir)?
            .deny
            .into_iter()
            .collect())
    }

    /// The id of the first root this machine staged, if any.
    pub fn genesis_id(&self) -> Result<Option<String>, TrustError> {
        crate::trust::cache::Cache::new(&self.trust.dir, &self.repo).genesis()
    }

    /// The staged first root with exactly this id (a first root has
    /// nothing to be checked against but its id: the whole id, as its
    /// maker printed it, never a prefix).
    pub fn genesis_by_id(&self, id: &str) -> Result<Option<Pending>, TrustError> {
        Ok(self.genesis()?.into_iter().find(|p| p.id == id))
    }

    /// Approves staged first root `pending` (no trust data yet), as read
    /// by [`Writer::genesis_by_id`] and shown: each of `keys` that its
    /// root role lists signs it.
    pub fn approve_genesis(
        &self,
        mut pending: Pending,
        keys: &[PrivateKey],
        by: &str,
    ) -> Result<(Pending, Vec<Shortfall>), TrustError> {
        let denied = self.denied()?;
        let Some(root) = pending.root.as_mut() else {
            let why = match &pending.standing {
                Standing::Invalid(why) => why.clone(),
                _ => "it holds no root".to_owned(),
            };
            return Err(TrustError::StagedRefused {
                id: pending.id.clone(),
                why: format!("it is not valid: {why}"),
                hint: "withdraw it (`vouch withdraw`); do not approve it",
            });
        };
        let mut added = Vec::new();
        for key in keys {
            let kid = key.public().key_id().to_string();
            let listed = root
                .signed
                .roles
                .get("root")
                .is_some_and(|r| r.keyids.contains(&kid));
            if listed && !root.signatures.iter().any(|s| s.keyid == kid) {
                root.sign(key).map_err(bug)?;
                if let Some(sig) = root.signatures.iter().find(|s| s.keyid == kid) {
                    added.push(sig.clone());
                }
            }
        }
        if added.is_empty() {
            return Err(TrustError::edit(
                format!(
                    "no key given is a root key of staged first root {} that has not signed it",
                    pending.id
                ),
                "approve with a root key the first root lists (`vouch staged` shows them)",
            ));
        }
        let Weighed { status, short, .. } = weigh(None, root, &denied);
        pending.root_status = status;
        let mut ids: Vec<String> = keys.iter().map(|k| k.public().key_id().to_string()).collect();
        ids.sort();
        let first_key = hex::encode(sha2::Sha256::digest(ids.join(",").as_bytes()));
        let approval = Approval {
            kind: APPROVAL.to_owned(),
            id: pending.id.clone(),
            by: by.to_owned(),
            signatures: BTreeMap::from([("root".to_owned(), added)]),
        };
        let bytes = serde_json::to_vec(&approval).map_err(bug)?;
        let tag = approval_tag(&pending.id, &first_key);
        staged::put(self.store, &tag, APPROVAL, &bytes)?;
        if !pending.store_tags.contains(&tag) {
            pending.store_tags.push(tag);
        }
        pending.standing = if short.is_empty() {
            Standing::Complete
        } else {
            Standing::Short(short.clone())
        };
        Ok((pending, short))
    }

    /// The staged change whose id begins with `id`.
    fn find(&self, id: &str) -> Result<(WriterState, Pending), TrustError> {
        if id.len() < 4 {
            return Err(bad(format!(
                "{id:?} is too short to name a staged change (4 or more hex digits)"
            )));
        }
        let StagedList { live, pending, .. } = self.staged()?;
        let mut matches: Vec<Pending> = pending.into_iter().filter(|p| p.id.starts_with(id)).collect();
        match matches.len() {
            0 => Err(bad(format!("{} has no staged change {id}", self.repo))),
            1 => Ok((live, matches.remove(0))),
            _ => Err(bad(format!(
                "{id} names more than one staged change of {}",
                self.repo
            ))),
        }
    }

    /// Approves staged change `id`: each of `keys` signs the roles it may
    /// sign, exactly as staged. Refused when the change no longer applies
    /// or is not valid, or when no key may sign any of its roles. Publishes
    /// it when it is then complete and `publishing` is given.
    pub fn approve(
        &self,
        to: ToApprove,
        keys: &[PrivateKey],
        publishing: Option<Publishing<'_>>,
        by: &str,
    ) -> Result<(Pending, Approved), TrustError> {
        let denied = self.denied()?;
        let ToApprove {
            live, mut pending, ..
        } = to;
        match &pending.standing {
            Standing::Stale(why) => {
                return Err(TrustError::StagedRefused {
                    id: pending.id.clone(),
                    why: format!("it no longer applies: {why}"),
                    hint: "withdraw it (`vouch withdraw`) and make the change again on the live data",
                });
            }
            Standing::Invalid(why) => {
                return Err(TrustError::StagedRefused {
                    id: pending.id.clone(),
                    why: format!("it is not valid: {why}"),
                    hint: "withdraw it (`vouch withdraw`); do not approve it",
                });
            }
            Standing::Complete | Standing::Short(_) => {}
        }
        // The changed data authorises the keys (a change may add one).
        let result = result_with(&live.repo, &pending.roles, pending.root.as_ref());
        let mut added: BTreeMap<String, Vec<Signature>> = BTreeMap::new();
        for key in keys {
            let id = key.public().key_id().to_string();
            // A new root: by the old root's root keys and its own.
            if let Some(root) = &pending.root {
                let may = [&live.repo.root.signed, &root.signed]
                    .iter()
                    .any(|r| r.roles.get("root").is_some_and(|k| k.keyids.contains(&id)));
                if may && !root.signatures.iter().any(|s| s.keyid == id) {
                    let mut copy = root.clone();
                    copy.sign(key).map_err(bug)?;
                    if let Some(sig) = copy.signatures.into_iter().find(|s| s.keyid == id) {
                        added.entry("root".to_owned()).or_default().push(sig);
                    }
                }
            }
            for (name, role) in &pending.roles {
                let may = signers_of(&result, name).is_some_and(|(_, ids, _)| ids.contains(&id));
                if may && !role.signatures.iter().any(|s| s.keyid == id) {
                    let mut copy = role.clone();
                    copy.sign(key).map_err(bug)?;
                    if let Some(sig) = copy.signatures.into_iter().find(|s| s.keyid == id) {
                        added.entry(name.clone()).or_default().push(sig);
                    }
                }
            }
        }
        if added.is_empty() {
            return Err(TrustError::edit(
                format!(
                    "no key given may sign a role of staged change {} that it has not signed already",
                    pending.id
                ),
                "approve with a key of a role it changes (`vouch staged` shows who signed what)",
            ));
        }
        for (name, sigs) in &added {
            if let Some(role) = pending.roles.get_mut(name) {
                role.signatures.extend(sigs.iter().cloned());
            }
            if name == "root"
                && let Some(root) = &mut pending.root
            {
                root.signatures.extend(sigs.iter().cloned());
                root.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
            }
        }
        let mut short = shortfalls(
            &result_with(&live.repo, &pending.roles, pending.root.as_ref()),
            pending.roles.keys().map(String::as_str),
        );
        if let Some(root) = &pending.root {
            let weighed = weigh(Some(&live.repo.root.signed), root, &denied);
            short.extend(weighed.short);
            pending.root_status = weighed.status;
        }
        if short.is_empty()
            && let Some(keys) = publishing
        {
            self.publish_pending(keys, &pending)?;
            return Ok((pending, Approved::Published));
        }
        // One tag per set of approving keys: approving again with the same
        // keys replaces only their own earlier approval.
        let mut ids: Vec<String> = keys.iter().map(|k| k.public().key_id().to_string()).collect();
        ids.sort();
        let first_key = hex::encode(sha2::Sha256::digest(ids.join(",").as_bytes()));
        let approval = Approval {
            kind: APPROVAL.to_owned(),
            id: pending.id.clone(),
            by: by.to_owned(),
            signatures: added,
        };
        let bytes = serde_json::to_vec(&approval).map_err(bug)?;
        staged::put(
            self.store,
            &approval_tag(&pending.id, &first_key),
            APPROVAL,
            &bytes,
        )?;
        pending.standing = if short.is_empty() {
            Standing::Complete
        } else {
            Standing::Short(short.clone())
        };
        Ok((pending, Approved::Added(short)))
    }

    /// Staged change `id` as `approve` takes it: checked against the live
    /// data, with the key ids that may sign some role of it (as the live
    /// data, with the change's own delegations, authorises them), whose
    /// keys an approver unlocks.
    pub fn to_approve(&self, id: &str) -> Result<ToApprove, TrustError> {
        let (live, pending) = self.find(id)?;
        let result = result_with(&live.repo, &pending.roles, pending.root.as_ref());
        let mut approvers: BTreeSet<String> = pending
            .roles
            .keys()
            .filter(|r| *r != "root")
            .filter_map(|r| signers_of(&result, r))
            .flat_map(|(_, ids, _)| ids)
            .collect();
        if let Some(root) = &pending.root {
            for r in [&live.repo.root.signed, &root.signed] {
                approvers.extend(
                    r.roles
                        .get("root")
                        .into_iter()
                        .flat_map(|k| k.keyids.iter().cloned()),
                );
            }
        }
        Ok(ToApprove {
            live,
            pending,
            approvers,
        })
    }

    /// Withdraws staged change `id` (its proposal and approvals).
    pub fn withdraw(&self, id: &str) -> Result<Pending, TrustError> {
        let pending = if crate::store::artifact::read(self.store)?.is_none() {
            let mut matches: Vec<Pending> = self
                .genesis()?
                .into_iter()
                .filter(|p| id.len() >= 4 && p.id.starts_with(id))
                .collect();
            if matches.len() != 1 {
                return Err(bad(format!("{} has no staged first root {id}", self.repo)));
            }
            matches.remove(0)
        } else {
            self.find(id)?.1
        };
        for tag in &pending.store_tags {
            staged::remove(self.store, tag)?;
        }
        Ok(pending)
    }

    /// Publishes every complete staged change that still applies, one
    /// publish each, in id order: what was published, what was left (not
    /// complete, stale or not valid, as listed), and the complete ones
    /// that could not be published (with why).
    pub fn publish_staged(&self, keys: Publishing<'_>) -> Result<PublishedStaged, TrustError> {
        let mut pending = self.staged()?.pending;
        // Root changes first: a change published after one names its keys.
        pending.sort_by_key(|p| p.root.is_none());
        let mut out = PublishedStaged::default();
        for p in pending {
            if p.standing != Standing::Complete {
                out.left.push(p);
                continue;
            }
            match self.publish_pending(keys, &p) {
                Ok(()) => out.published.push(p),
                Err(e) => out.failed.push((p, e)),
            }
        }
        Ok(out)
    }

    /// Publishes staged change `pending` (as listed by
    /// [`Writer::staged`]), checked again against the live data.
    pub fn publish_one(&self, keys: Publishing<'_>, pending: &Pending) -> Result<(), TrustError> {
        self.publish_pending(keys, pending)
    }

    /// Publishes one staged change, checked again against the live data
    /// as it stands at each attempt, then withdraws its tags.
    fn publish_pending(&self, keys: Publishing<'_>, pending: &Pending) -> Result<(), TrustError> {
        let denied = self.denied()?;
        let scope = scope_of(&pending.proposal);
        let proposal = pending.proposal.clone();
        let id = pending.id.clone();
        // The approvals as read: every signature the roles now carry.
        let approvals = vec![Approval {
            kind: APPROVAL.to_owned(),
            id: id.clone(),
            by: String::new(),
            signatures: pending
                .roles
                .iter()
                .map(|(n, r)| (n.clone(), r.signatures.clone()))
                .chain(
                    pending
                        .root
                        .iter()
                        .map(|r| ("root".to_owned(), r.signatures.clone())),
                )
                .collect(),
        }];
        // Made elsewhere (not staged here): the publisher's record notes
        // it as relayed.
        let here = crate::trust::cache::Cache::new(&self.trust.dir, &self.repo).staged_here()?;
        let relay = Writer {
            relayed: !here.contains(&pending.id),
            ..self.clone_writer()
        };
        relay.publish_scoped(keys, scope.as_deref(), |repo, state, now| {
            let Evaluation {
                standing,
                roles,
                root,
                ..
            } = evaluate(state, &proposal, &approvals, now, &denied);
            match standing {
                Standing::Complete => {}
                Standing::Short(short) => {
                    return Err(bad(format!(
                        "staged change {id} is not complete: {}",
                        needs(&short)
                    )));
                }
                Standing::Stale(why) => {
                    return Err(bad(format!("staged change {id} no longer applies: {why}")));
                }
                Standing::Invalid(why) => return Err(bad(format!("staged change {id} is not valid: {why}"))),
            }
            // The new root goes out with (never after) anything its new
            // keys sign: one artifact holds both.
            if let Some(root) = root {
                repo.root = root;
                repo.publish_root().map_err(bug)?;
            }
            for (name, role) in roles {
                repo.targets.insert(name, role);
            }
            Ok(())
        })?;
        for tag in &pending.store_tags {
            staged::remove(self.store, tag)?;
        }
        Ok(())
    }
}

/// The tags whose bins a reader of `proposal` loads: the tags it touches,
/// unless it changes a bin none of them selects (a bin signed again for a
/// new threshold or key), when every bin is loaded.
fn scope_of(proposal: &Proposal) -> Option<Vec<String>> {
    let tags: BTreeSet<&str> = proposal.tags.iter().map(String::as_str).collect();
    // A change to delegations is checked against every role they reach.
    if proposal
        .roles
        .values()
        .any(|r| r.metadata["signed"]["delegations"].is_object())
    {
        return None;
    }
    let every_bin_named = proposal
        .roles
        .iter()
        .filter(|(name, _)| crate::tuf::bin_versions::slot(name).is_some())
        .all(|(_, r)| {
            r.metadata["signed"]["targets"]
                .as_object()
                .is_some_and(|t| t.keys().any(|k| tags.contains(k.as_str())))
        });
    every_bin_named.then(|| proposal.tags.clone())
}

/// `live` with `roles` (and a new root) in place.
fn result_with(
    live: &MetadataEditor,
    roles: &BTreeMap<String, Signed<Targets>>,
    root: Option<&Signed<Root>>,
) -> MetadataEditor {
    let mut result = live.clone();
    if let Some(root) = root {
        result.root = root.clone();
    }
    for (name, role) in roles {
        result.targets.insert(name.clone(), role.clone());
    }
    result
}

/// The tags whose entries differ between `before` and `after` in `roles`.
fn touched_tags(before: &MetadataEditor, after: &MetadataEditor, roles: &[String]) -> Vec<String> {
    let mut tags = BTreeSet::new();
    let empty = BTreeMap::new();
    for name in roles {
        let old = before.targets.get(name).map_or(&empty, |t| &t.signed.targets);
        let new = after.targets.get(name).map_or(&empty, |t| &t.signed.targets);
        for (tag, t) in new {
            if old.get(tag) != Some(t) {
                tags.insert(tag.clone());
            }
        }
        for tag in old.keys() {
            if !new.contains_key(tag) {
                tags.insert(tag.clone());
            }
        }
    }
    tags.into_iter().collect()
}
