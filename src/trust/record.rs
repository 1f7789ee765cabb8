//! The publisher's record: what this machine itself changed in each
//! repository, kept apart from the verified cache (which every reader
//! overwrites with whatever verifies, a thief's metadata included), so
//! that after a key is stolen the roles it signed can be rebuilt from
//! what this machine did rather than from what the store serves.
//!
//! `TRUST_DIR/published/<repository>/log.jsonl` has one line per change
//! this machine published: a tag set (with its target) or removed, or a
//! role's delegations replaced, with when, the role, its version and the
//! key ids that signed it, and whether the change was made here or only
//! published here (a staged change someone else made: `made_here` false).
//!
//! A publish on top of a thief's state logs only what it changed, never
//! what it carried over, so replaying the lines made here rebuilds what
//! this machine signed and nothing the thief added. It is written by this
//! machine after its own publishes and read only by `vouch key rotate
//! --compromised`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::TrustError;
use crate::tuf::editor::MetadataEditor;
use crate::tuf::metadata::{Delegations, TargetFile, encode_segment};

/// Most bytes of the log read back.
const MAX_LOG_BYTES: u64 = 1 << 30;

/// One line of the log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// When it was published (RFC 3339).
    pub at: String,
    /// The role changed.
    pub role: String,
    /// That role's version.
    pub version: u64,
    /// The tag set or removed (`None`: the role's delegations changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Its manifest digest (`sha256:…`); `None`: removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The target signed (`None`: removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetFile>,
    /// The role's new delegations, for a delegation change (`null`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<serde_json::Value>,
    /// Its delegations before the change: what the change did is the
    /// difference, and only that is replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations_before: Option<serde_json::Value>,
    /// The key ids that signed the role.
    pub keyids: Vec<String>,
    /// Whether the change was made on this machine (not only published).
    pub made_here: bool,
    /// A change made here and staged (its id), not published by this
    /// machine: replayed only where the verified data shows it was
    /// published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged: Option<String>,
}

/// What a role held as this machine made it.
#[derive(Clone, Debug, Default)]
pub struct Rebuilt {
    /// Whether any change of these roles was made here.
    pub made_here: bool,
    /// Tags and their targets.
    pub tags: BTreeMap<String, TargetFile>,
    /// The delegations last set here (`None`: never changed here, so
    /// none).
    pub delegations: Option<Delegations>,
}

/// One repository's record.
#[derive(Clone, Debug)]
pub struct Record {
    dir: PathBuf,
    /// When a change is noted (the trust layer's one clock).
    clock: fn() -> time::OffsetDateTime,
}

impl Record {
    /// The record of `repo` in `trust`'s trust directory.
    pub fn new(trust: &crate::trust::Trust, repo: &str) -> Record {
        Record {
            dir: trust.dir.join("published").join(encode_segment(repo)),
            clock: trust.clock,
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("log.jsonl")
    }

    /// Notes a publish: for every targets role of `after` that differs
    /// from `before` (`None`: a new repository), the tags it set or
    /// removed and its delegations when they changed.
    pub fn note(
        &self,
        before: Option<&MetadataEditor>,
        after: &MetadataEditor,
        made_here: bool,
    ) -> Result<(), TrustError> {
        self.write(before, after, made_here, None)
    }

    /// Notes a change made here and staged as `id` (published, if ever,
    /// by whoever holds the online keys).
    pub fn note_staged(
        &self,
        before: &MetadataEditor,
        after: &MetadataEditor,
        id: &str,
    ) -> Result<(), TrustError> {
        self.write(Some(before), after, true, Some(id))
    }

    fn write(
        &self,
        before: Option<&MetadataEditor>,
        after: &MetadataEditor,
        made_here: bool,
        staged: Option<&str>,
    ) -> Result<(), TrustError> {
        let now = (self.clock)();
        let at = now
            .replace_nanosecond(0)
            .unwrap_or(now)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let (mut removals, mut sets, mut delegations) = (Vec::new(), Vec::new(), Vec::new());
        let empty = BTreeMap::new();
        for (name, role) in &after.targets {
            let old = before.and_then(|b| b.targets.get(name));
            if old.is_some_and(|o| o.signed == role.signed) {
                continue;
            }
            let keyids: Vec<String> = role.signatures.iter().map(|s| s.keyid.to_string()).collect();
            let entry = |tag: Option<&String>, target: Option<&TargetFile>| Entry {
                at: at.clone(),
                role: name.to_string(),
                version: role.signed.version,
                tag: tag.cloned(),
                digest: target.and_then(|t| t.hashes.get("sha256").map(|h| format!("sha256:{h}"))),
                target: target.cloned(),
                delegations: None,
                delegations_before: None,
                keyids: keyids.clone(),
                made_here,
                staged: staged.map(str::to_owned),
            };
            let was = old.map_or(&empty, |o| &o.signed.targets);
            for (tag, t) in &role.signed.targets {
                if was.get(tag) != Some(t) {
                    sets.push(entry(Some(tag), Some(t)));
                }
            }
            for tag in was.keys().filter(|t| !role.signed.targets.contains_key(*t)) {
                removals.push(entry(Some(tag), None));
            }
            let old_delegations = old.and_then(|o| o.signed.delegations.as_ref());
            if old_delegations != role.signed.delegations.as_ref() {
                let json = |d: Option<&Delegations>| {
                    serde_json::to_value(d).map_err(|e| TrustError::bug(e.to_string()))
                };
                let mut e = entry(None, None);
                e.delegations = Some(json(role.signed.delegations.as_ref())?);
                e.delegations_before = Some(json(old_delegations)?);
                delegations.push(e);
            }
        }
        // One publish: a tag that moved (into a bin, say) is removed from
        // its old role before it is set in its new one.
        let mut lines = removals;
        lines.extend(sets);
        lines.extend(delegations);
        if lines.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).map_err(TrustError::local(&self.dir))?;
        let log = self.log_path();
        let mut text = Vec::new();
        for line in &lines {
            serde_json::to_writer(&mut text, line).map_err(|e| TrustError::bug(e.to_string()))?;
            text.push(b'\n');
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(TrustError::local(&log))?;
        f.write_all(&text).map_err(TrustError::local(&log))
    }

    /// Every line of the log, oldest first (`None`: no log).
    pub fn entries(&self) -> Result<Option<Vec<Entry>>, TrustError> {
        use std::io::Read as _;
        let path = self.log_path();
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TrustError::local(&path)(e)),
        };
        let mut text = String::new();
        file.take(MAX_LOG_BYTES)
            .read_to_string(&mut text)
            .map_err(TrustError::local(&path))?;
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            out.push(serde_json::from_str(line).map_err(|e| TrustError::Local {
                path: path.display().to_string(),
                source: std::io::Error::other(format!("line {}: {e}", n + 1)),
            })?);
        }
        Ok(Some(out))
    }

    /// What the roles `of` accepts held as this machine made them: the
    /// tags set and the delegations changed here, replayed, with every
    /// removal (a tag, a delegated role, a key), wherever it was made
    /// (`None`: nothing recorded; `Some` with `made_here` false: nothing
    /// of these roles was made here).
    ///
    /// A change staged here counts where the verified `live` data shows it
    /// published: a tag set to the same target, a delegated role as the
    /// change left it.
    pub fn rebuild(
        &self,
        of: impl Fn(&str) -> bool,
        live: &MetadataEditor,
    ) -> Result<Option<Rebuilt>, TrustError> {
        let Some(entries) = self.entries()? else {
            return Ok(None);
        };
        let bad = |e: serde_json::Error| TrustError::Local {
            path: self.log_path().display().to_string(),
            source: std::io::Error::other(e.to_string()),
        };
        let mut out = Rebuilt::default();
        let mut delegations: Option<Delegations> = None;
        let live_tags: BTreeMap<&String, &TargetFile> = live
            .targets
            .iter()
            .filter(|(name, _)| of(name.as_str()))
            .flat_map(|(_, r)| r.signed.targets.iter())
            .collect();
        let live_roles: Vec<crate::tuf::metadata::DelegatedRole> = live
            .targets
            .get("targets")
            .and_then(|t| t.signed.delegations.as_ref())
            .and_then(|d| d.roles.clone())
            .unwrap_or_default();
        for e in entries.into_iter().filter(|e| of(&e.role)) {
            let staged = e.staged.is_some();
            // A staged change counts once the verified data holds it.
            let published = |tag: &String, target: &TargetFile| live_tags.get(tag) == Some(&target);
            out.made_here |= e.made_here && !staged;
            match (e.tag, e.target, e.delegations) {
                (Some(tag), Some(target), _) if staged => {
                    if published(&tag, &target) {
                        out.made_here = true;
                        out.tags.insert(tag, target);
                    }
                }
                (Some(tag), Some(target), _) if e.made_here => {
                    out.tags.insert(tag, target);
                }
                (Some(_), Some(_), _) => {}
                (Some(tag), None, _) => {
                    out.tags.remove(&tag);
                }
                (None, _, Some(after)) => {
                    let after: Option<Delegations> = serde_json::from_value(after).map_err(bad)?;
                    let before: Option<Delegations> = match e.delegations_before {
                        Some(b) => serde_json::from_value(b).map_err(bad)?,
                        None => None,
                    };
                    // A staged one counts if every role it left is served
                    // as it left it.
                    let held = !staged
                        || after
                            .as_ref()
                            .and_then(|a| a.roles.as_ref())
                            .is_none_or(|roles| roles.iter().all(|r| live_roles.contains(r)));
                    if staged && held {
                        out.made_here = true;
                    }
                    delegations =
                        apply_change(delegations, before.as_ref(), after.as_ref(), e.made_here && held);
                }
                (None, _, None) => {}
            }
        }
        out.delegations = delegations;
        Ok(Some(out))
    }

    /// The tags of the roles `of` accepts, replaying the sets that
    /// `counts` accepts and every removal (`None`: nothing recorded of
    /// these roles).
    pub fn replay_tags(
        &self,
        of: impl Fn(&str) -> bool,
        counts: impl Fn(&Entry) -> bool,
    ) -> Result<Option<BTreeMap<String, TargetFile>>, TrustError> {
        let Some(entries) = self.entries()? else {
            return Ok(None);
        };
        let mut tags = BTreeMap::new();
        let mut any = false;
        for e in entries.iter().filter(|e| of(&e.role)) {
            any = true;
            match (&e.tag, &e.target) {
                (Some(tag), Some(target)) if counts(e) => {
                    tags.insert(tag.clone(), target.clone());
                }
                (Some(tag), None) => {
                    tags.remove(tag);
                }
                _ => {}
            }
        }
        Ok(any.then_some(tags))
    }

    /// Where the record lives.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

/// `current` with what the change from `before` to `after` did: roles,
/// keys and bins it added or changed (only when `made_here`), and roles
/// and keys it removed (always). Within a role both had, only the key ids
/// the change itself added or removed: a key someone else added to the
/// role before this change is not carried along.
fn apply_change(
    current: Option<Delegations>,
    before: Option<&Delegations>,
    after: Option<&Delegations>,
    made_here: bool,
) -> Option<Delegations> {
    let mut d = current.unwrap_or_else(|| Delegations {
        keys: BTreeMap::new(),
        roles: None,
        succinct_roles: None,
        extra: Default::default(),
    });
    let roles_of = |x: Option<&Delegations>| -> Vec<crate::tuf::metadata::DelegatedRole> {
        x.and_then(|x| x.roles.clone()).unwrap_or_default()
    };
    let (was, now) = (roles_of(before), roles_of(after));
    let mut roles = d.roles.take().unwrap_or_default();
    // Removed roles go.
    roles.retain(|r| !was.iter().any(|w| w.name == r.name) || now.iter().any(|n| n.name == r.name));
    if made_here {
        for n in &now {
            match (
                was.iter().find(|w| w.name == n.name),
                roles.iter_mut().find(|r| r.name == n.name),
            ) {
                // New here, or changed here from what this machine made.
                (None, None) => roles.push(n.clone()),
                (None, Some(r)) => *r = n.clone(),
                (Some(w), Some(r)) => {
                    for id in n.keyids.iter().filter(|i| !w.keyids.contains(i)) {
                        if !r.keyids.contains(id) {
                            r.keyids.push(id.clone());
                        }
                    }
                    r.keyids.retain(|i| !w.keyids.contains(i) || n.keyids.contains(i));
                    r.keyids.sort();
                    if w.threshold != n.threshold {
                        r.threshold = n.threshold;
                    }
                    if (&w.paths, &w.path_hash_prefixes, w.terminating)
                        != (&n.paths, &n.path_hash_prefixes, n.terminating)
                    {
                        r.paths = n.paths.clone();
                        r.path_hash_prefixes = n.path_hash_prefixes.clone();
                        r.terminating = n.terminating;
                    }
                }
                // Changed here, but never made here: it is not ours.
                (Some(_), None) => {}
            }
        }
        if before.and_then(|b| b.succinct_roles.as_ref()) != after.and_then(|a| a.succinct_roles.as_ref()) {
            d.succinct_roles = after.and_then(|a| a.succinct_roles.clone());
        }
    } else if before.is_some_and(|b| b.succinct_roles.is_some())
        && after.is_none_or(|a| a.succinct_roles.is_none())
    {
        d.succinct_roles = None;
    }
    // The keys the result lists, as this change names them when it is
    // the one that added them; keys no role (or bin) lists go.
    let used: std::collections::BTreeSet<crate::tuf::KeyId> = roles
        .iter()
        .flat_map(|r| r.keyids.iter())
        .chain(d.succinct_roles.iter().flat_map(|b| b.keyids.iter()))
        .cloned()
        .collect();
    if made_here && let Some(a) = after {
        for id in &used {
            if let (false, Some(key)) = (d.keys.contains_key(id), a.keys.get(id)) {
                d.keys.insert(id.clone(), key.clone());
            }
        }
    }
    d.keys.retain(|id, _| used.contains(id));
    roles.retain(|r| !r.keyids.is_empty() || now.iter().any(|n| n.name == r.name));
    d.roles = (!roles.is_empty()).then_some(roles);
    (d.roles.is_some() || d.succinct_roles.is_some()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuf::editor::{DelegatedPaths, Delegation, Expiries, MetadataEditor};
    use time::OffsetDateTime;
    use vouch_keys::PrivateKey;

    fn target(n: u8) -> TargetFile {
        TargetFile {
            length: 1,
            hashes: BTreeMap::from([("sha256".to_owned(), format!("{n:02x}").repeat(32))]),
            custom: None,
            extra: Default::default(),
        }
    }

    fn repo() -> MetadataEditor {
        let k = || PrivateKey::generate_ed25519().expect("key");
        let (t, s, ts) = (k(), k(), k());
        MetadataEditor::create_single_key(
            &k(),
            [&t.public(), &s.public(), &ts.public()],
            true,
            OffsetDateTime::now_utc(),
            Expiries::default(),
        )
        .expect("repo")
    }

    fn targets_or_bin(r: &str) -> bool {
        r == "targets" || r.starts_with("b-")
    }

    #[test]
    fn tags_moved_into_bins_are_kept_by_the_replay() {
        let dir = tempfile::tempdir().expect("tmp");
        let trust = crate::trust::Trust::new(dir.path().to_owned(), false, std::sync::Arc::new(|_| {}));
        let record = Record::new(&trust, "r");
        let now = OffsetDateTime::now_utc();
        let mut a = repo();
        for n in 0..5 {
            a.add_target("targets", &format!("t{n}"), target(n), now)
                .expect("add");
        }
        record.note(None, &a, true).expect("note");
        let mut b = a.clone();
        b.convert_to_bins("targets", "b", 4, now).expect("bins");
        record.note(Some(&a), &b, true).expect("note");
        let rebuilt = record.rebuild(targets_or_bin, &a).expect("read").expect("some");
        assert_eq!(rebuilt.tags.len(), 5, "{:?}", rebuilt.tags.keys());
        assert!(rebuilt.delegations.and_then(|d| d.succinct_roles).is_some());
    }

    #[test]
    fn a_key_someone_else_added_is_not_replayed_with_a_later_change_made_here() {
        let dir = tempfile::tempdir().expect("tmp");
        let trust = crate::trust::Trust::new(dir.path().to_owned(), false, std::sync::Arc::new(|_| {}));
        let record = Record::new(&trust, "r");
        let now = OffsetDateTime::now_utc();
        let key = || PrivateKey::generate_ed25519().expect("key").public();
        let (alice, mallory, carol) = (key(), key(), key());
        let delegate = |repo: &mut MetadataEditor, name: &str, keys: &[vouch_keys::PublicKey]| {
            repo.add_delegation(
                "targets",
                Delegation {
                    name,
                    keys,
                    threshold: 1,
                    paths: DelegatedPaths::Paths(vec!["*".to_owned()]),
                    terminating: false,
                },
                now,
            )
            .expect("delegate");
        };
        let mut a = repo();
        record.note(None, &a, true).expect("note");
        let mut b = a.clone();
        delegate(&mut b, "targets/releases", std::slice::from_ref(&alice));
        record.note(Some(&a), &b, true).expect("note");
        // Someone else's publish: mallory joins releases, and a role of
        // their own; this machine only saw it.
        let mut c = b.clone();
        c.add_delegation_key("targets", "targets/releases", &mallory, None, now)
            .expect("key");
        delegate(&mut c, "targets/mallory", std::slice::from_ref(&mallory));
        // This machine adds carol on top: its change carries mallory over.
        let mut d = c.clone();
        d.add_delegation_key("targets", "targets/releases", &carol, None, now)
            .expect("key");
        record.note(Some(&c), &d, true).expect("note");
        a = d;
        let rebuilt = record.rebuild(targets_or_bin, &a).expect("read").expect("some");
        let delegations = rebuilt.delegations.expect("delegations");
        let roles = delegations.roles.expect("roles");
        assert_eq!(roles.len(), 1, "{roles:?}");
        let mut want = vec![
            crate::tuf::KeyId::from(alice.key_id()),
            crate::tuf::KeyId::from(carol.key_id()),
        ];
        want.sort();
        assert_eq!(roles[0].keyids, want);
        assert!(!delegations.keys.contains_key(mallory.key_id().as_str()));
        assert!(a.targets.contains_key("targets/mallory"));
    }
}
