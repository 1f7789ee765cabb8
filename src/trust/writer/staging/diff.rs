//! What a staged change changes, in words for the people asked to approve it.

use super::*;

/// Names for key ids: a signer's role `targets/NAME` with one key names it.
pub(in crate::trust::writer) fn signer_names(repo: &MetadataEditor) -> BTreeMap<KeyId, String> {
    let mut names = BTreeMap::new();
    if let Some(d) = repo
        .targets
        .get("targets")
        .and_then(|t| t.signed.delegations.as_ref())
    {
        for r in d.roles.iter().flatten() {
            if let (Some(name), [id]) = (r.name.as_str().strip_prefix("targets/"), r.keyids.as_slice())
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

pub(in crate::trust::writer) fn short_digest(t: &crate::tuf::metadata::TargetFile) -> String {
    t.hashes
        .get("sha256")
        .map_or_else(|| "(no sha256)".to_owned(), |h| format!("sha256:{h}"))
}

/// What `new` changes of `old` (`None`: a new role), line by line.
pub(in crate::trust::writer) fn diff_role(
    role: &str,
    old: Option<&Targets>,
    new: &Targets,
    out: &mut Vec<String>,
) {
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
    let roles_of = |t: Option<&Targets>| -> BTreeMap<String, (Vec<KeyId>, u64)> {
        t.and_then(|t| t.delegations.as_ref())
            .map(|d| {
                let mut m: BTreeMap<String, (Vec<KeyId>, u64)> = d
                    .roles
                    .iter()
                    .flatten()
                    .map(|r| (r.name.to_string(), (r.keyids.clone(), r.threshold)))
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
                let added: Vec<KeyId> = ids.iter().filter(|i| !old_ids.contains(i)).cloned().collect();
                let removed: Vec<KeyId> = old_ids.iter().filter(|i| !ids.contains(i)).cloned().collect();
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
                            r.name.to_string(),
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

pub(in crate::trust::writer) fn short_ids(ids: &[KeyId]) -> String {
    ids.iter().map(KeyId::as_str).collect::<Vec<_>>().join(", ")
}
