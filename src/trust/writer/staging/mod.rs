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
use crate::tuf::metadata::{Envelope, KeyId, RoleName, Root, Signature, Targets, signed_bytes};
use crate::tuf::trusted_set::validate_delegations;
use crate::tuf::writer_load::RoleState;

mod approve;
mod diff;
mod evaluate;
mod genesis;

use diff::*;
pub(crate) use evaluate::shortfalls;
use evaluate::*;

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
    roles: BTreeMap<RoleName, Signed<Targets>>,
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
    pub approvers: BTreeSet<KeyId>,
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
    roles: BTreeMap<RoleName, Signed<Targets>>,
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
        let now = self.trust.now();
        let out = change(&mut repo, &state, now)?;
        let changed: Vec<String> = repo.changed_roles().map(str::to_owned).collect();
        // Nobody builds on what a threshold has not signed.
        if let Some(role) = changed.iter().find(|r| {
            state
                .states
                .get(r.as_str())
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
            let Some(role) = repo.targets.get(name.as_str()) else {
                continue;
            };
            let (base_version, base) = match state.repo.targets.get(name.as_str()) {
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
            return Err(TrustError::bug("the change changes no role"));
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
        crate::trust::record::Record::new(&self.trust, &self.repo).note_staged(&state.repo, repo, &id)?;
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
        let now = self.trust.now();
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
}

impl<'s> Writer<'s> {
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
}

impl<'s> Writer<'s> {
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
                .map(|(n, r)| (n.to_string(), r.signatures.clone()))
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
    roles: &BTreeMap<RoleName, Signed<Targets>>,
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
        let old = before
            .targets
            .get(name.as_str())
            .map_or(&empty, |t| &t.signed.targets);
        let new = after
            .targets
            .get(name.as_str())
            .map_or(&empty, |t| &t.signed.targets);
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
