//! Staged first roots: a repository whose root threshold is above one starts as a staged root that its holders approve.

use super::*;

impl<'s> Writer<'s> {
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
        let now = self.trust.now();
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
                            r.threshold < p.threshold
                                || r.keyids.iter().any(|k| !p.keys.iter().any(|p| k == p.as_str()))
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
                                root.signatures.iter().map(|s| s.keyid.to_string()).collect(),
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
    pub(in crate::trust::writer) fn check_empty_is_new(&self) -> Result<(), TrustError> {
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
    pub(in crate::trust::writer) fn denied(&self) -> Result<BTreeSet<String>, TrustError> {
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
            let kid = KeyId::from(key.public().key_id());
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
}
