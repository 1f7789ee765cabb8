//! What expires when: each role of a repository's verified trust data
//! that expires before a given time, and the command that renews it.

use time::OffsetDateTime;

use crate::tuf::editor::MetadataEditor;

/// A role that expires before the time asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expiring {
    /// The role.
    pub role: String,
    /// When it expires (RFC 3339, as signed).
    pub expires: String,
    /// Whether it has expired already.
    pub expired: bool,
    /// When it expires.
    pub at: OffsetDateTime,
    /// The command that renews it.
    pub renew: String,
}

/// The roles of `repo` (`repo_id`) that expire before `before`, soonest
/// first, and whether each has already at `now`. Hashed bins are named by
/// the role that holds them, once.
pub fn expiring(
    repo: &MetadataEditor,
    repo_id: &str,
    now: OffsetDateTime,
    before: OffsetDateTime,
) -> Vec<Expiring> {
    let mut found: Vec<(OffsetDateTime, String, String)> = Vec::new();
    let mut add = |role: &str, at: OffsetDateTime, text: &str| {
        if at < before && !found.iter().any(|(_, r, _)| r == role) {
            found.push((at, role.to_owned(), text.to_owned()));
        }
    };
    add(
        "root",
        repo.root.signed.expires.at,
        repo.root.signed.expires.as_str(),
    );
    add(
        "timestamp",
        repo.timestamp.signed.expires.at,
        repo.timestamp.signed.expires.as_str(),
    );
    add(
        "snapshot",
        repo.snapshot.signed.expires.at,
        repo.snapshot.signed.expires.as_str(),
    );
    for (name, role) in &repo.targets {
        // A bin is renewed with the role that holds it.
        let holder = repo
            .targets
            .iter()
            .find(|(_, t)| {
                t.signed
                    .delegations
                    .as_ref()
                    .and_then(|d| d.succinct_roles.as_ref())
                    .is_some_and(|b| b.is_bin(name.as_str()))
            })
            .map_or_else(|| name.clone(), |(holder, _)| holder.clone());
        add(
            holder.as_str(),
            role.signed.expires.at,
            role.signed.expires.as_str(),
        );
    }
    found.sort();
    found
        .into_iter()
        .map(|(at, role, expires)| Expiring {
            renew: renew_command(repo_id, &role),
            expired: at <= now,
            at,
            role,
            expires,
        })
        .collect()
}

/// How long before it expires a role is listed as expiring: the
/// timestamp and snapshot, renewed by every publish and refresh, only
/// shortly before; the others within `within`.
pub fn window(role: &str, within: time::Duration) -> time::Duration {
    match role {
        "timestamp" => time::Duration::days(2),
        "snapshot" => time::Duration::days(7),
        _ => within,
    }
}

/// The command that renews `role` of `repo_id`.
pub fn renew_command(repo_id: &str, role: &str) -> String {
    match role {
        "timestamp" => format!("vouch refresh {repo_id}"),
        "snapshot" => format!("vouch refresh {repo_id} --snapshot"),
        other => format!("vouch renew {repo_id} {other}"),
    }
}
