//! Approving (signing exactly what was staged) and withdrawing staged changes.

use super::*;

impl<'s> Writer<'s> {
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
            let id = KeyId::from(key.public().key_id());
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
                let may = signers_of(&result, name.as_str()).is_some_and(|(_, ids, _)| ids.contains(&id));
                if may && !role.signatures.iter().any(|s| s.keyid == id) {
                    let mut copy = role.clone();
                    copy.sign(key).map_err(bug)?;
                    if let Some(sig) = copy.signatures.into_iter().find(|s| s.keyid == id) {
                        added.entry(name.to_string()).or_default().push(sig);
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
            if let Some(role) = pending.roles.get_mut(name.as_str()) {
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
            pending.roles.keys().map(RoleName::as_str),
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
        let mut approvers: BTreeSet<KeyId> = pending
            .roles
            .keys()
            .filter(|r| *r != "root")
            .filter_map(|r| signers_of(&result, r.as_str()))
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
}
