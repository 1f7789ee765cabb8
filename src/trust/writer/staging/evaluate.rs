//! Checking a staged change against the live trust data: whose signatures count, what it still needs, and whether it applies.

use super::*;

/// Of `candidates`, one valid signature per authorised key (in key id
/// order), as `repo` authorises `role`.
pub(in crate::trust::writer) fn valid_signatures(
    repo: &MetadataEditor,
    role: &str,
    signed: &Targets,
    candidates: &[Signature],
) -> Result<(Vec<Signature>, u64), TrustError> {
    let Some((keys, ids, threshold)) = signers_of(repo, role) else {
        return Err(bad(format!("{role} is delegated by no role of the repository")));
    };
    let canonical = signed_bytes(signed).map_err(bug)?;
    let mut valid: BTreeMap<KeyId, Signature> = BTreeMap::new();
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
pub(in crate::trust::writer) fn empty_new_role(signed: &Targets) -> bool {
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
            let (valid, threshold) = super::super::signature_count(repo, role).unwrap_or((0, threshold));
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
pub(in crate::trust::writer) fn change_shortfalls(
    repo: &MetadataEditor,
    live_root: &Root,
    denied: &BTreeSet<String>,
) -> Vec<Shortfall> {
    let mut short = shortfalls(repo, repo.changed_roles());
    if repo.root.signed != *live_root {
        short.extend(weigh(Some(live_root), &repo.root, denied).short);
    }
    short
}

/// Parses a staged role's metadata.
pub(in crate::trust::writer) fn parse_role(
    role: &str,
    metadata: &serde_json::Value,
) -> Result<Signed<Targets>, String> {
    let bytes = serde_json::to_vec(metadata).map_err(|e| e.to_string())?;
    let env: Envelope<Targets> = Envelope::parse(role, &bytes).map_err(|e| e.to_string())?;
    Ok(Signed {
        signed: env.signed,
        signatures: env.signatures,
    })
}

/// Checks a change against the live data `live` (and the clock): where it
/// stands, what it changes, and its roles with their valid signatures.
pub(in crate::trust::writer) fn evaluate(
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
    let mut staged: BTreeMap<RoleName, Signed<Targets>> = BTreeMap::new();
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
        let role_name = RoleName::parse(name);
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
        match live.repo.targets.get(name.as_str()) {
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
                    .get(name.as_str())
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
                .find(|c| delegator_of(c.as_str()).as_deref() != Some(name.as_str()))
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
            .get(&crate::tuf::metadata::meta_key(&role_name))
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
            live.repo.targets.get(name.as_str()).map(|t| &t.signed),
            &role.signed,
            &mut diff,
        );
        result.targets.insert(role_name.clone(), role.clone());
        staged.insert(role_name, role);
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
                .filter(|b| b.is_bin(name.as_str()))
        }) && let Err(e) = crate::tuf::trusted_set::check_bin(name, bins, &role.signed, false, true)
        {
            return invalid(e.to_string());
        }
        let (valid, threshold) =
            match valid_signatures(&result, name.as_str(), &role.signed, &role.signatures) {
                Ok(v) => v,
                Err(e) => return invalid(e.to_string()),
            };
        signed_by.insert(
            name.to_string(),
            valid
                .iter()
                .map(|s| {
                    names
                        .get(&s.keyid)
                        .cloned()
                        .unwrap_or_else(|| s.keyid.to_string())
                })
                .collect(),
        );
        if (valid.len() as u64) < threshold && !empty_new_role(&role.signed) {
            short.push(Shortfall {
                role: name.to_string(),
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
            .get(name.as_str())
            .and_then(|t| t.signed.delegations.as_ref());
        if role.signed.delegations.as_ref() == before {
            continue;
        }
        let children: Vec<&str> = result
            .targets
            .keys()
            .map(RoleName::as_str)
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
                .map(|s| {
                    names
                        .get(&s.keyid)
                        .cloned()
                        .unwrap_or_else(|| s.keyid.to_string())
                })
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
