//! The top-level roles: their keys, root versions, snapshot and timestamp, and signing every targets role.

use super::*;

impl MetadataEditor {
    /// Replaces the root keys, or any top-level role's keys and threshold:
    /// a new root version to be signed by a threshold of both the old and
    /// the new root keys.
    pub fn set_top_level_keys(
        &mut self,
        role: &str,
        setup: &RoleSetup,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        let role = top_level(role)?;
        self.bump_root(now);
        let root = &mut self.root.signed;
        root.roles.insert(role, setup.role_keys());
        for k in &setup.keys {
            root.keys.insert(KeyId::from(k.key_id()), tuf_key(k));
        }
        let used: std::collections::BTreeSet<KeyId> = root
            .roles
            .values()
            .flat_map(|r| r.keyids.iter().cloned())
            .collect();
        root.keys.retain(|id, _| used.contains(id));
        Ok(())
    }

    /// Changes the keys of top-level role `role` in a new root version:
    /// adds `add`, removes the key ids `remove`, sets the threshold when
    /// given. Refused when the role would be left with fewer keys than its
    /// threshold, or with none.
    pub fn edit_top_level(
        &mut self,
        role: &str,
        add: &[PublicKey],
        remove: &[KeyId],
        threshold: Option<u64>,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        let role = top_level(role)?;
        let current = self
            .root
            .signed
            .roles
            .get(&role)
            .ok_or_else(|| not_found(role.as_str()))?;
        let mut ids: Vec<KeyId> = current.keyids.clone();
        for id in remove {
            if !ids.contains(id) {
                return Err(EditError::refused(role, format!("{id} is not one of its keys")));
            }
            ids.retain(|i| i != id);
        }
        for k in add {
            let id = KeyId::from(k.key_id());
            if ids.contains(&id) {
                return Err(EditError::refused(
                    role,
                    format!("{id} is already one of its keys"),
                ));
            }
            ids.push(id);
        }
        ids.sort();
        let threshold = threshold.unwrap_or(current.threshold);
        if threshold == 0 || threshold > ids.len() as u64 {
            return Err(EditError::refused(
                role,
                format!(
                    "a threshold of {threshold} needs between 1 and {} key(s), and it would have {}",
                    ids.len().max(1),
                    ids.len()
                ),
            ));
        }
        // The new version names the one it replaces, as it was.
        self.bump_root(now);
        let root = &mut self.root.signed;
        for k in add {
            root.keys.insert(KeyId::from(k.key_id()), tuf_key(k));
        }
        if let Some(r) = root.roles.get_mut(&role) {
            r.keyids = ids;
            r.threshold = threshold;
        }
        let used: BTreeSet<KeyId> = root
            .roles
            .values()
            .flat_map(|r| r.keyids.iter().cloned())
            .collect();
        root.keys.retain(|id, _| used.contains(id));
        Ok(())
    }

    /// Makes `key`, listed under `id`, the only root key (threshold 1):
    /// `vouch migrate` keeps a Docker Content Trust root certificate as is,
    /// so that its key id stays the one its users know.
    pub fn adopt_root_key(&mut self, id: &KeyId, key: Key) {
        let root = &mut self.root.signed;
        root.keys.insert(id.clone(), key);
        root.roles.insert(
            RoleName::Root,
            RoleKeys {
                keyids: vec![id.clone()],
                threshold: 1,
                extra: Extra::new(),
            },
        );
        let used: BTreeSet<KeyId> = root
            .roles
            .values()
            .flat_map(|r| r.keyids.iter().cloned())
            .collect();
        root.keys.retain(|k, _| used.contains(k));
        self.root.signatures.clear();
    }

    /// A new root version with a fresh expiry (signatures dropped). The
    /// new version names the one it replaces (`BASE`).
    pub fn bump_root(&mut self, now: OffsetDateTime) {
        let base = root_hash(&self.root.signed).unwrap_or_default();
        let root = &mut self.root.signed;
        // The previous version is kept in `root_history` once published.
        if self.root_history.len() as u64 >= root.version {
            root.version += 1;
            root.extra
                .insert(BASE.to_owned(), serde_json::Value::String(base));
        }
        root.expires = Expires::new(now + self.expiries.root);
        self.root.signatures.clear();
    }

    /// Records the signed root as published (appends to the history when
    /// its version is new, replaces it when more signatures were added).
    pub fn publish_root(&mut self) -> Result<(), EditError> {
        let bytes = self.root.to_bytes()?;
        let v = self.root.signed.version as usize;
        if self.root_history.len() >= v {
            self.root_history[v - 1] = bytes;
        } else {
            self.root_history.push(bytes);
        }
        Ok(())
    }

    /// Lists every targets role's current version in snapshot, with the
    /// length and SHA-256 of its bytes (signatures included) when
    /// `snapshot_lists_hashes`: the snapshot key then binds each role's
    /// exact bytes, so no role file can be swapped, stripped of signatures
    /// or replayed under another name. Roles it listed before and nothing
    /// delegates to any more stay listed (a client refuses a snapshot that
    /// drops a role it knew).
    pub(super) fn refresh_snapshot_meta(&mut self) {
        use sha2::Digest;
        let bins: Vec<&SuccinctRoles> = self
            .targets
            .values()
            .filter_map(|t| t.signed.delegations.as_ref()?.succinct_roles.as_ref())
            .collect();
        for (name, t) in &self.targets {
            // A bin is listed by version only once a threshold of its keys
            // signed it: with hashes, snapshot would grow by 100 bytes a bin
            // and a cold lookup would read them all (docs/trust-format.md,
            // "Bins"). A bin short of its threshold keeps its hash, which is
            // what lets a writer carry it on for the other signers. (The
            // editor holds only signatures it made or verified.)
            let hashed = self.snapshot_lists_hashes
                && bins.iter().find(|b| b.is_bin(name.as_str())).is_none_or(|b| {
                    let signed: BTreeSet<&KeyId> = t
                        .signatures
                        .iter()
                        .filter(|s| b.keyids.contains(&s.keyid))
                        .map(|s| &s.keyid)
                        .collect();
                    (signed.len() as u64) < b.threshold
                });
            let bytes = hashed.then(|| t.to_bytes().ok()).flatten();
            self.snapshot.signed.meta.insert(
                crate::tuf::metadata::meta_key(name),
                MetaFile {
                    version: t.signed.version,
                    length: bytes.as_ref().map(|b| b.len() as u64),
                    hashes: bytes.map(|b| {
                        BTreeMap::from([("sha256".to_owned(), hex::encode(sha2::Sha256::digest(&b)))])
                    }),
                    extra: Extra::new(),
                },
            );
        }
    }

    /// A new snapshot version listing every targets role (signatures dropped).
    pub fn bump_snapshot(&mut self, now: OffsetDateTime) {
        // A snapshot that was published (signed) is the state the next
        // one descends from (`history`).
        if !self.snapshot.signatures.is_empty()
            && let Ok(history) = crate::tuf::history::next_history(&self.snapshot.signed)
        {
            self.snapshot
                .signed
                .extra
                .insert(crate::tuf::history::FIELD.to_owned(), history);
        }
        // Superseded states stay named as long as the history reaches
        // back to them: the previous snapshot's, then this writer's own.
        let mut superseded = crate::tuf::history::superseded_of(&self.snapshot.signed);
        superseded.extend(self.superseded.iter().cloned());
        let oldest = crate::tuf::history::history_of(&self.snapshot.signed)
            .ok()
            .and_then(|h| h.last().map(|s| s.version))
            .unwrap_or(0);
        superseded.retain(|s| s.version >= oldest);
        self.snapshot.signed.extra.remove(crate::tuf::history::SUPERSEDED);
        if !superseded.is_empty() {
            self.snapshot.signed.extra.insert(
                crate::tuf::history::SUPERSEDED.to_owned(),
                crate::tuf::history::superseded_value(&superseded),
            );
        }
        self.refresh_snapshot_meta();
        let s = &mut self.snapshot.signed;
        s.version = s.version.max(self.snapshot_floor) + 1;
        s.expires = Expires::new(now + self.expiries.snapshot);
        self.snapshot.signatures.clear();
    }

    /// A new timestamp version listing the current snapshot's version,
    /// length and SHA-256 (signatures dropped). Needs only the timestamp
    /// key to sign, so an online job can keep a repository fresh.
    pub fn bump_timestamp(&mut self, now: OffsetDateTime) -> Result<(), EditError> {
        use sha2::Digest;
        let snap = self.snapshot.to_bytes()?;
        let mut hashes = BTreeMap::new();
        hashes.insert("sha256".to_owned(), hex::encode(sha2::Sha256::digest(&snap)));
        let t = &mut self.timestamp.signed;
        t.meta = BTreeMap::from([(
            "snapshot.json".to_owned(),
            MetaFile {
                version: self.snapshot.signed.version,
                length: Some(snap.len() as u64),
                hashes: Some(hashes),
                extra: Extra::new(),
            },
        )]);
        t.version += 1;
        t.expires = Expires::new(now + self.expiries.timestamp);
        self.timestamp.signatures.clear();
        self.changed.clear();
        Ok(())
    }

    /// Signs every targets role whose keys include `key` and that lacks its
    /// signature (k-of-n: other holders' signatures are kept).
    pub fn sign_targets_roles(&mut self, key: &PrivateKey) -> Result<Vec<RoleName>, EditError> {
        let id = KeyId::from(key.public().key_id());
        let mut authorised: Vec<RoleName> = Vec::new();
        if self
            .root
            .signed
            .roles
            .get(&RoleName::Targets)
            .is_some_and(|r| r.keyids.contains(&id))
        {
            authorised.push(RoleName::Targets);
        }
        for t in self.targets.values() {
            if let Some(d) = &t.signed.delegations {
                for r in d.roles.iter().flatten() {
                    if r.keyids.contains(&id) {
                        authorised.push(r.name.clone());
                    }
                }
                if let Some(bins) = &d.succinct_roles
                    && bins.keyids.contains(&id)
                {
                    authorised.extend((0..bins.bins()).map(|n| bins.bin_name(n)));
                }
            }
        }
        let mut signed = Vec::new();
        for name in authorised {
            if let Some(role) = self.targets.get_mut(&name)
                && !role.signatures.iter().any(|s| s.keyid == id)
            {
                role.sign(key)?;
                signed.push(name);
            }
        }
        Ok(signed)
    }
}
