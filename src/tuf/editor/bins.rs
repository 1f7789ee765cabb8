//! Hashed bins: succinct and listed bins, moving a role's targets into them and back.

use super::*;

impl MetadataEditor {
    /// Delegates all of `parent`'s paths to `2^bit_length` succinct hashed
    /// bins named `{name_prefix}-{hex}` (TAP 15), and creates them empty.
    pub fn add_succinct_bins(
        &mut self,
        parent: &str,
        name_prefix: &str,
        bit_length: u32,
        keys: &[PublicKey],
        threshold: u64,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        if !(1..=32).contains(&bit_length) {
            return Err(EditError::refused(parent, "bit_length must be 1 to 32"));
        }
        let setup = RoleSetup {
            keys: keys.to_vec(),
            threshold,
        };
        let bins = SuccinctRoles {
            keyids: setup.role_keys().keyids,
            threshold,
            bit_length,
            name_prefix: bin_prefix(parent, name_prefix)?,
            extra: Extra::new(),
        };
        let parent_md = &mut self.role_mut(parent)?.signed;
        if parent_md.delegations.is_some() {
            return Err(EditError::refused(parent, "already has delegations"));
        }
        parent_md.delegations = Some(Delegations {
            keys: keys
                .iter()
                .map(|k| (KeyId::from(k.key_id()), tuf_key(k)))
                .collect(),
            roles: None,
            succinct_roles: Some(bins.clone()),
            extra: Extra::new(),
        });
        self.touch(parent, now)?;
        self.create_bins(&bins, now);
        Ok(())
    }

    /// Creates the (empty) bins of `bins`. A name used before (a bin of an
    /// earlier layout, since withdrawn) continues above the version
    /// snapshot last listed for it, so no client sees a rollback.
    pub(super) fn create_bins(&mut self, bins: &SuccinctRoles, now: OffsetDateTime) {
        for n in 0..bins.bins() {
            let name = bins.bin_name(n);
            let mut role = new_targets(&name, now, self.expiries.targets);
            let above = self
                .snapshot
                .signed
                .meta
                .get(&crate::tuf::metadata::meta_key(&name))
                .map_or(1, |m| m.version.saturating_add(1));
            role.version = crate::tuf::bin_versions::next(name.as_str(), above, now).unwrap_or(above);
            self.targets.insert(name.clone(), Signed::new(role));
            self.changed.insert(name);
        }
    }

    /// Moves the tags `holder` lists itself into `2^bit_length` succinct
    /// hashed bins named `{name_prefix}-{hex}` (TAP 15), delegated with the
    /// holder's own keys and threshold: the same signers decide, and a
    /// cold lookup reads one bin instead of every tag. The holder must not
    /// delegate to anything else.
    pub fn convert_to_bins(
        &mut self,
        holder: &str,
        name_prefix: &str,
        bit_length: u32,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        if !(1..=12).contains(&bit_length) {
            return Err(EditError::refused(holder, "bins must number 2 to 4,096"));
        }
        let (keys, keyids, threshold) = self.signers_of(holder)?;
        let holder_md = &self.targets.get(holder).ok_or_else(|| not_found(holder))?.signed;
        if holder_md
            .delegations
            .as_ref()
            .is_some_and(|d| d.succinct_roles.is_some() || d.roles.as_ref().is_some_and(|r| !r.is_empty()))
        {
            return Err(EditError::refused(holder, "it already delegates"));
        }
        let bins = SuccinctRoles {
            keyids: keyids.clone(),
            threshold,
            bit_length,
            name_prefix: bin_prefix(holder, name_prefix)?,
            extra: Extra::new(),
        };
        self.create_bins(&bins, now);
        let holder_md = &mut self.role_mut(holder)?.signed;
        let tags = std::mem::take(&mut holder_md.targets);
        holder_md.delegations = Some(Delegations {
            keys: keys.into_iter().filter(|(id, _)| keyids.contains(id)).collect(),
            roles: None,
            succinct_roles: Some(bins.clone()),
            extra: Extra::new(),
        });
        self.touch(holder, now)?;
        for (path, target) in tags {
            let bin = bins.bin_for(&path);
            self.role_mut(bin.as_str())?.signed.targets.insert(path, target);
        }
        Ok(())
    }

    /// The keys, key ids and threshold that sign `role`, as root (for
    /// `targets`) or its delegator lists them.
    pub(super) fn signers_of(&self, role: &str) -> Result<crate::tuf::trusted_set::Signers, EditError> {
        if role == "targets" {
            crate::tuf::trusted_set::top_level_signers(&self.root.signed, &RoleName::Targets)
                .map_err(|e| EditError::refused(role, e.to_string()))
        } else {
            self.targets
                .values()
                .find_map(|t| crate::tuf::trusted_set::delegation_signers(&t.signed, role))
                .ok_or_else(|| not_found(role))
        }
    }

    /// Makes `holder`'s bins take the holder's own keys and threshold as
    /// its delegator now lists them (a signer added to `targets/releases`
    /// signs its bins too). Returns whether that changed the holder.
    pub fn sync_bin_keys(&mut self, holder: &str, now: OffsetDateTime) -> Result<bool, EditError> {
        let (keys, keyids, threshold) = self.signers_of(holder)?;
        let keys: BTreeMap<KeyId, Key> = keys.into_iter().filter(|(id, _)| keyids.contains(id)).collect();
        let Some(d) = self.role_mut(holder)?.signed.delegations.as_mut() else {
            return Ok(false);
        };
        let Some(bins) = d.succinct_roles.as_mut() else {
            return Ok(false);
        };
        if bins.keyids == keyids && bins.threshold == threshold && d.keys == keys {
            return Ok(false);
        }
        bins.keyids = keyids;
        bins.threshold = threshold;
        d.keys = keys;
        self.touch(holder, now)?;
        Ok(true)
    }

    /// Renews targets role `role` as if it changed: a new version and
    /// expiry, signatures dropped (its signers sign it again).
    pub fn renew(&mut self, role: &str, now: OffsetDateTime) -> Result<(), EditError> {
        self.touch(role, now)
    }

    /// Withdraws `parent`'s succinct hashed bins (and what they list): they
    /// stay in snapshot at their last version, as any withdrawn role does.
    pub fn remove_bins(&mut self, parent: &str, now: OffsetDateTime) -> Result<(), EditError> {
        let parent_md = &mut self.role_mut(parent)?.signed;
        let Some(bins) = parent_md
            .delegations
            .as_ref()
            .and_then(|d| d.succinct_roles.clone())
        else {
            return Ok(());
        };
        parent_md.delegations = None;
        self.touch(parent, now)?;
        self.targets.retain(|name, _| !bins.is_bin(name.as_str()));
        self.changed.retain(|name| !bins.is_bin(name.as_str()));
        Ok(())
    }

    /// Moves the tags of `holder`'s succinct hashed bins back into
    /// `holder`'s own list and withdraws the bins (which stay listed in
    /// snapshot at their last version): a role that delegates to other
    /// roles cannot also delegate to bins. Every bin must be loaded.
    pub fn flatten_bins(&mut self, holder: &str, now: OffsetDateTime) -> Result<usize, EditError> {
        let Some(bins) = self.bins_of(holder).cloned() else {
            return Ok(0);
        };
        let mut moved = BTreeMap::new();
        for n in 0..bins.bins() {
            let name = bins.bin_name(n);
            let bin = self
                .targets
                .get(&name)
                .ok_or_else(|| EditError::refused(holder, format!("bin {name} is not loaded")))?;
            moved.extend(bin.signed.targets.clone());
        }
        let count = moved.len();
        self.remove_bins(holder, now)?;
        self.role_mut(holder)?.signed.targets.extend(moved);
        Ok(count)
    }

    /// The succinct bins `role` delegates to, if any.
    pub fn bins_of(&self, role: &str) -> Option<&SuccinctRoles> {
        self.targets
            .get(role)?
            .signed
            .delegations
            .as_ref()?
            .succinct_roles
            .as_ref()
    }

    /// Whether `role` is a succinct bin of some targets role here.
    pub fn is_bin(&self, role: &str) -> bool {
        self.targets.values().any(|t| {
            t.signed
                .delegations
                .as_ref()
                .and_then(|d| d.succinct_roles.as_ref())
                .is_some_and(|b| b.is_bin(role))
        })
    }

    /// Targets roles changed since the last timestamp was made.
    pub fn changed_roles(&self) -> impl Iterator<Item = &str> {
        self.changed.iter().map(RoleName::as_str)
    }

    /// Delegates from `parent` to `16^prefix_len` classic hashed bins (spec
    /// 4.5): roles `{name_prefix}-{hex}` each owning one `path_hash_prefixes`
    /// entry, for clients that predate TAP 15.
    pub fn add_hashed_bins(
        &mut self,
        parent: &str,
        name_prefix: &str,
        prefix_len: usize,
        keys: &[PublicKey],
        threshold: u64,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, EditError> {
        if !(1..=4).contains(&prefix_len) {
            return Err(EditError::refused(
                parent,
                "hash prefix length must be 1 to 4 hex digits",
            ));
        }
        let mut names = Vec::new();
        for n in 0..16u64.pow(prefix_len as u32) {
            let prefix = format!("{n:0prefix_len$x}");
            let name = format!("{name_prefix}-{prefix}");
            self.add_delegation(
                parent,
                Delegation {
                    name: &name,
                    keys,
                    threshold,
                    paths: DelegatedPaths::HashPrefixes(vec![prefix]),
                    terminating: true,
                },
                now,
            )?;
            names.push(name);
        }
        Ok(names)
    }

    /// The classic hashed bin of `parent` whose prefix matches `path`.
    pub fn hashed_bin_for(&self, parent: &str, path: &str) -> Result<RoleName, EditError> {
        let parent_md = &self.targets.get(parent).ok_or_else(|| not_found(parent))?.signed;
        parent_md
            .delegations
            .as_ref()
            .and_then(|d| d.roles.as_ref())
            .and_then(|roles| {
                roles.iter().find(|r| {
                    r.path_hash_prefixes
                        .as_ref()
                        .is_some_and(|p| crate::tuf::path::hash_prefix_matches(p, path))
                })
            })
            .map(|r| r.name.clone())
            .ok_or_else(|| EditError::NoRoleFor {
                parent: parent.to_owned(),
                path: path.to_owned(),
            })
    }

    /// The succinct bin of `parent` that holds `path`.
    pub fn bin_for(&self, parent: &str, path: &str) -> Result<RoleName, EditError> {
        let parent_md = &self.targets.get(parent).ok_or_else(|| not_found(parent))?.signed;
        let bins = parent_md
            .delegations
            .as_ref()
            .and_then(|d| d.succinct_roles.as_ref())
            .ok_or_else(|| EditError::refused(parent, "it has no succinct hashed bins"))?;
        Ok(bins.bin_for(path))
    }
}

/// The name prefix of new succinct bins: one a delegated role may have
/// ([`RoleName::is_delegable`]), as the verifier requires.
fn bin_prefix(by: &str, prefix: &str) -> Result<RoleName, EditError> {
    match RoleName::parse(prefix) {
        name if name.is_delegable() => Ok(name),
        name => Err(EditError::refused(
            by,
            format!("{name:?} cannot name bins: a delegated role's name is needed"),
        )),
    }
}
