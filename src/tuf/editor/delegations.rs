//! Delegations: adding, re-keying and removing delegated roles.

use super::*;

impl MetadataEditor {
    /// Delegates from `parent` to a new role (appended last in search
    /// order).
    pub fn add_delegation(
        &mut self,
        parent: &str,
        delegation: Delegation<'_>,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        let Delegation {
            name,
            keys,
            threshold,
            paths,
            terminating,
        } = delegation;
        let (paths, path_hash_prefixes) = match paths {
            DelegatedPaths::Paths(p) => (Some(p), None),
            DelegatedPaths::HashPrefixes(h) => (None, Some(h)),
        };
        // A name the verifier would refuse is never made (RoleName::is_delegable).
        let role_name = RoleName::parse(name);
        if name.is_empty() {
            return Err(EditError::refused(parent, "a delegated role needs a name"));
        }
        if !role_name.is_delegable() || self.targets.contains_key(name) {
            return Err(EditError::refused(parent, format!("role {name} already exists")));
        }
        // A name used before (its role since withdrawn) continues above the
        // version snapshot last listed, empty: nothing of the old role is
        // carried over.
        let version = self
            .snapshot
            .signed
            .meta
            .get(&crate::tuf::metadata::meta_key(&role_name))
            .map_or(1, |m| m.version.saturating_add(1));
        let setup = RoleSetup {
            keys: keys.to_vec(),
            threshold,
        };
        let role_keys = setup.role_keys();
        let parent_md = &mut self.role_mut(parent)?.signed;
        let delegations = parent_md.delegations.get_or_insert_with(|| Delegations {
            keys: BTreeMap::new(),
            roles: Some(Vec::new()),
            succinct_roles: None,
            extra: Extra::new(),
        });
        if delegations.succinct_roles.is_some() {
            return Err(EditError::refused(
                parent,
                "already delegates to succinct hashed bins",
            ));
        }
        for k in keys {
            delegations.keys.insert(KeyId::from(k.key_id()), tuf_key(k));
        }
        delegations
            .roles
            .get_or_insert_with(Vec::new)
            .push(DelegatedRole {
                name: role_name.clone(),
                keyids: role_keys.keyids,
                threshold,
                terminating,
                paths,
                path_hash_prefixes,
                extra: Extra::new(),
            });
        self.touch(parent, now)?;
        let mut role = new_targets(&role_name, now, self.expiries.targets);
        role.version = version;
        self.targets.insert(role_name.clone(), Signed::new(role));
        self.changed.insert(role_name);
        Ok(())
    }

    /// Changes the keys of an existing delegated role (role key rotation).
    pub fn set_delegation_keys(
        &mut self,
        parent: &str,
        name: &str,
        keys: &[PublicKey],
        threshold: u64,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        let setup = RoleSetup {
            keys: keys.to_vec(),
            threshold,
        };
        let delegations = self.delegations_mut(parent, name)?;
        let role = delegated_role_mut(&mut delegations.roles, name)?;
        role.keyids = setup.role_keys().keyids;
        role.threshold = threshold;
        for k in keys {
            delegations.keys.insert(KeyId::from(k.key_id()), tuf_key(k));
        }
        prune_keys(delegations);
        self.touch(parent, now)
    }

    /// Authorises one more key for a delegated role (and sets its
    /// threshold, when given).
    pub fn add_delegation_key(
        &mut self,
        parent: &str,
        name: &str,
        key: &PublicKey,
        threshold: Option<u64>,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        let delegations = self.delegations_mut(parent, name)?;
        let role = delegated_role_mut(&mut delegations.roles, name)?;
        let id = KeyId::from(key.key_id());
        if !role.keyids.contains(&id) {
            role.keyids.push(id.clone());
            role.keyids.sort();
        }
        if let Some(t) = threshold {
            role.threshold = t;
        }
        delegations.keys.insert(id, tuf_key(key));
        self.touch(parent, now)
    }

    /// Sets the threshold of delegated role `name` of `parent`.
    pub fn set_delegation_threshold(
        &mut self,
        parent: &str,
        name: &str,
        threshold: u64,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        let delegations = self.delegations_mut(parent, name)?;
        let role = delegated_role_mut(&mut delegations.roles, name)?;
        role.threshold = threshold;
        self.touch(parent, now)
    }

    /// Withdraws keys from a delegated role; returns how many keys remain.
    pub fn remove_delegation_keys(
        &mut self,
        parent: &str,
        name: &str,
        keyids: &[KeyId],
        now: OffsetDateTime,
    ) -> Result<usize, EditError> {
        let delegations = self.delegations_mut(parent, name)?;
        let role = delegated_role_mut(&mut delegations.roles, name)?;
        role.keyids.retain(|k| !keyids.contains(k));
        let left = role.keyids.len();
        prune_keys(delegations);
        self.touch(parent, now)?;
        Ok(left)
    }

    /// Removes a delegated role from `parent` (it stays listed in snapshot,
    /// at its last version, as clients require, but nothing reaches it).
    pub fn remove_delegation(
        &mut self,
        parent: &str,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<(), EditError> {
        let delegations = self.delegations_mut(parent, name)?;
        let roles = delegations.roles.get_or_insert_with(Vec::new);
        let before = roles.len();
        roles.retain(|r| r.name != name);
        if roles.len() == before {
            return Err(not_found(name));
        }
        prune_keys(delegations);
        self.touch(parent, now)?;
        // Nothing reaches it now: it is not published again, and snapshot
        // keeps listing its last version.
        self.targets.remove(name);
        Ok(())
    }
}
