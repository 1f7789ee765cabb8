//! The editor's edge cases, checked in milliseconds: versions move once
//! per edit, signatures last until content changes, bins hold only their
//! own tags, and what is refused is refused before anything changes.

use super::*;

fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-12-05 12:00 UTC)
}

fn target(byte: u8) -> TargetFile {
    TargetFile {
        length: 100 + u64::from(byte),
        hashes: BTreeMap::from([("sha256".to_owned(), format!("{byte:02x}").repeat(32))]),
        custom: None,
        extra: Default::default(),
    }
}

/// A repository whose every role is `key`'s, as published: its first
/// versions signed and timestamped, so the next edit is a new version.
fn repo(key: &PrivateKey) -> MetadataEditor {
    let public = key.public();
    let mut repo = MetadataEditor::create_single_key(key, [&public; 3], true, now(), Expiries::default())
        .expect("create");
    repo.sign_targets_roles(key).expect("sign");
    repo.bump_snapshot(now());
    repo.bump_timestamp(now()).expect("timestamp");
    assert_eq!(repo.changed_roles().count(), 0);
    repo
}

fn version(repo: &MetadataEditor, role: &str) -> u64 {
    repo.targets[role].signed.version
}

#[test]
fn a_role_moves_one_version_per_edit_however_many_changes() {
    let key = PrivateKey::generate_ed25519().expect("key");
    let mut repo = repo(&key);
    let before = version(&repo, "targets");
    repo.add_target("targets", "v1", target(1), now()).expect("add");
    repo.add_target("targets", "v2", target(2), now()).expect("add");
    repo.remove_target("targets", "v1", now()).expect("remove");
    assert_eq!(version(&repo, "targets"), before + 1);
    assert_eq!(repo.changed_roles().collect::<Vec<_>>(), ["targets"]);
    // Each change records what it replaces and names its role.
    let extra = &repo.targets["targets"].signed.extra;
    assert!(extra.contains_key(BASE) && extra[ROLE_NAME] == "targets");
}

#[test]
fn signatures_last_until_the_content_changes() {
    let key = PrivateKey::generate_ed25519().expect("key");
    let mut repo = repo(&key);
    repo.add_target("targets", "v1", target(1), now()).expect("add");
    repo.targets
        .get_mut("targets")
        .expect("targets")
        .sign(&key)
        .expect("sign");
    // The same target again is no change: the signature stays.
    repo.add_target("targets", "v1", target(1), now()).expect("add");
    assert_eq!(repo.targets["targets"].signatures.len(), 1);
    // Another digest for the tag is: the signature goes.
    repo.add_target("targets", "v1", target(9), now()).expect("add");
    assert!(repo.targets["targets"].signatures.is_empty());
}

#[test]
fn a_bad_target_name_or_an_unknown_role_changes_nothing() {
    let key = PrivateKey::generate_ed25519().expect("key");
    let mut repo = repo(&key);
    let before = version(&repo, "targets");
    for path in ["", "../escape", "a//b"] {
        assert!(
            repo.add_target("targets", path, target(1), now()).is_err(),
            "{path:?}"
        );
    }
    assert!(repo.add_target("targets/nobody", "v1", target(1), now()).is_err());
    assert_eq!(version(&repo, "targets"), before);
    assert_eq!(repo.changed_roles().count(), 0);
}

#[test]
fn bins_hold_exactly_the_tags_that_hash_to_them() {
    let key = PrivateKey::generate_ed25519().expect("key");
    let mut repo = repo(&key);
    let tags: Vec<String> = (0..64).map(|n| format!("t-{n:03}")).collect();
    for (n, tag) in tags.iter().enumerate() {
        repo.add_target("targets", tag, target(n as u8), now())
            .expect("add");
    }
    repo.convert_to_bins("targets", "b", 4, now()).expect("bins");
    assert!(
        repo.targets["targets"].signed.targets.is_empty(),
        "the holder lists no tag itself"
    );
    for tag in &tags {
        let bin = repo.bin_for("targets", tag).expect("bin");
        assert!(repo.is_bin(bin.as_str()), "{bin}");
        for (name, role) in repo.targets.iter().filter(|(n, _)| repo.is_bin(n.as_str())) {
            assert_eq!(
                role.signed.targets.contains_key(tag),
                *name == bin,
                "{tag} in {name}"
            );
        }
    }
    // Too many or too few bins are refused.
    let mut other = self::repo(&key);
    assert!(other.convert_to_bins("targets", "b", 0, now()).is_err());
    assert!(other.convert_to_bins("targets", "b", 13, now()).is_err());
}

#[test]
fn a_delegation_keeps_only_keys_it_names_and_goes_when_emptied() {
    let key = PrivateKey::generate_ed25519().expect("key");
    let alice = PrivateKey::generate_ed25519().expect("key").public();
    let bob = PrivateKey::generate_ed25519().expect("key").public();
    let mut repo = repo(&key);
    repo.add_delegation(
        "targets",
        Delegation {
            name: "targets/releases",
            keys: &[alice.clone(), bob.clone()],
            threshold: 2,
            paths: DelegatedPaths::Paths(vec!["*".to_owned()]),
            terminating: false,
        },
        now(),
    )
    .expect("delegate");
    let (ids, threshold) = repo.delegation("targets", "targets/releases").expect("listed");
    assert_eq!((ids.len(), threshold), (2, 2));
    // A withdrawn key leaves the role and, named by no role, the keys.
    let bob_id = KeyId::from(bob.key_id());
    let left = repo
        .remove_delegation_keys(
            "targets",
            "targets/releases",
            std::slice::from_ref(&bob_id),
            now(),
        )
        .expect("remove key");
    assert_eq!(left, 1);
    assert!(!repo.delegation_keys("targets").contains_key(&bob_id));
    assert!(
        repo.delegation_keys("targets")
            .contains_key(alice.key_id().as_str())
    );
    repo.remove_delegation("targets", "targets/releases", now())
        .expect("remove");
    assert!(repo.delegation("targets", "targets/releases").is_none());
    assert!(repo.delegation_keys("targets").is_empty());
    assert!(
        !repo.targets.contains_key("targets/releases"),
        "nothing reaches it: not published again"
    );
    // Removing it again is an error, not a silent success.
    assert!(
        repo.remove_delegation("targets", "targets/releases", now())
            .is_err()
    );
}
