//! Where trust starts ([`super::load::start`]), checked in milliseconds
//! against root files the editor makes, read from a directory: a repository
//! nothing pins, trust on first use, a pin to other keys, a pin that admits
//! only a later root, a denied root key, and an offline start with nothing
//! cached.

use std::path::Path;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use vouch_keys::PrivateKey;

use super::load::start;
use super::pinning::FirstUse;
use super::{Notice, Trust, TrustError};
use crate::policy::Policy;
use crate::store::DirFetcher;
use crate::store::tuf_repo_dir::write_metadata;
use crate::tuf::editor::{Expiries, MetadataEditor, RoleSetup};

const REPO: &str = "registry.example/team/app";

fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-12-05 12:00 UTC)
}

fn key() -> PrivateKey {
    PrivateKey::generate_ed25519().expect("key")
}

fn id(key: &PrivateKey) -> String {
    key.public().key_id().to_string()
}

/// A repository whose root is `root`'s and every other role `online`'s,
/// published under `dir/metadata`.
fn repository(dir: &Path, root: &PrivateKey, online: &PrivateKey) -> MetadataEditor {
    let public = online.public();
    let mut repo = MetadataEditor::create_single_key(root, [&public; 3], true, now(), Expiries::default())
        .expect("create");
    publish(dir, &mut repo, online);
    repo
}

fn publish(dir: &Path, repo: &mut MetadataEditor, online: &PrivateKey) {
    repo.sign_targets_roles(online).expect("targets");
    repo.bump_snapshot(now());
    repo.snapshot.sign(online).expect("snapshot");
    repo.bump_timestamp(now()).expect("timestamp");
    repo.timestamp.sign(online).expect("timestamp");
    write_metadata(repo, dir).expect("write");
}

/// Root version 2, whose only root key is `to`'s, signed by `from` and `to`.
fn rotate_root(
    dir: &Path,
    repo: &mut MetadataEditor,
    from: &PrivateKey,
    to: &PrivateKey,
    online: &PrivateKey,
) {
    repo.set_top_level_keys("root", &RoleSetup::single(to.public()), now())
        .expect("new root keys");
    repo.root.sign(from).expect("old key");
    repo.root.sign(to).expect("new key");
    repo.publish_root().expect("root v2");
    publish(dir, repo, online);
}

/// A trust directory in `dir`, on the test's clock, and what it told.
fn trust(dir: &Path, offline: bool) -> (Trust, Arc<Mutex<Vec<String>>>) {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&heard);
    let mut trust = Trust::new(
        dir.join("trust"),
        offline,
        Arc::new(move |n: &Notice| into.lock().expect("notices").push(n.to_string())),
    );
    trust.clock = now;
    (trust, heard)
}

fn pin(trust: &Trust, ids: &[&PrivateKey], deny: &[&PrivateKey]) {
    let mut policy = Policy::load(&trust.dir).expect("policy");
    policy.pin(REPO, ids.iter().map(|k| id(k)).collect(), 1);
    policy.deny.extend(deny.iter().map(|k| id(k)));
    std::fs::create_dir_all(&trust.dir).expect("trust dir");
    policy.save(&trust.dir).expect("save");
}

fn fetcher(dir: &Path) -> DirFetcher {
    DirFetcher::new(dir.join("metadata"))
}

#[test]
fn a_repository_nothing_pins_is_refused_with_its_root_keys_and_nothing_is_pinned() {
    let dir = tempfile::tempdir().expect("tmp");
    let (root, online) = (key(), key());
    repository(dir.path(), &root, &online);
    let (trust, _) = trust(dir.path(), false);
    match start(&trust, REPO, FirstUse::Refuse, &mut fetcher(dir.path())) {
        Err(TrustError::NotPinned { root_keys, .. }) => assert_eq!(root_keys, [id(&root)]),
        other => panic!("expected NotPinned, got {:?}", other.map(|s| s.anchor_version)),
    }
    let policy = Policy::load(&trust.dir).expect("policy");
    assert!(policy.exact(REPO).is_none(), "a refusal pins nothing");
}

#[test]
fn trust_on_first_use_pins_the_first_root_and_says_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let (root, online) = (key(), key());
    repository(dir.path(), &root, &online);
    let (trust, heard) = trust(dir.path(), false);
    let started = start(&trust, REPO, FirstUse::TrustOnFirstUse, &mut fetcher(dir.path())).expect("start");
    assert_eq!(started.anchor_version, 1);
    let policy = Policy::load(&trust.dir).expect("policy");
    let pinned = policy.exact(REPO).expect("pinned");
    assert_eq!(pinned.root_keys, [id(&root)]);
    let heard = heard.lock().expect("notices");
    assert!(
        heard.iter().any(|n| n.contains(&id(&root))),
        "the pin is told, with the key: {heard:?}"
    );
}

#[test]
fn a_pin_to_other_keys_admits_no_root() {
    let dir = tempfile::tempdir().expect("tmp");
    let (root, online, other) = (key(), key(), key());
    repository(dir.path(), &root, &online);
    let (trust, _) = trust(dir.path(), false);
    pin(&trust, &[&other], &[]);
    match start(&trust, REPO, FirstUse::TrustOnFirstUse, &mut fetcher(dir.path())) {
        Err(TrustError::PinNotMet { .. }) => {}
        other => panic!("expected PinNotMet, got {:?}", other.map(|s| s.anchor_version)),
    }
}

#[test]
fn trust_starts_at_the_first_root_the_pin_admits() {
    let dir = tempfile::tempdir().expect("tmp");
    let (old, new, online) = (key(), key(), key());
    let mut repo = repository(dir.path(), &old, &online);
    rotate_root(dir.path(), &mut repo, &old, &new, &online);
    for (pinned, anchor) in [(&old, 1), (&new, 2)] {
        let (trust, _) = trust(&dir.path().join(format!("pinned-{anchor}")), false);
        pin(&trust, &[pinned], &[]);
        let started = start(&trust, REPO, FirstUse::Refuse, &mut fetcher(dir.path())).expect("start");
        assert_eq!(started.anchor_version, anchor);
        assert_eq!(
            started.chain.len(),
            1,
            "later roots are reached by rotation, not by the pin"
        );
    }
}

#[test]
fn a_root_that_needs_a_denied_key_is_passed_over_for_the_next() {
    let dir = tempfile::tempdir().expect("tmp");
    let (lost, new, online) = (key(), key(), key());
    let mut repo = repository(dir.path(), &lost, &online);
    rotate_root(dir.path(), &mut repo, &lost, &new, &online);
    let (trust, _) = trust(dir.path(), false);
    // Both pinned; the lost one denied: root v1 stands only with it.
    pin(&trust, &[&lost, &new], &[&lost]);
    let started = start(&trust, REPO, FirstUse::Refuse, &mut fetcher(dir.path())).expect("start");
    assert_eq!(started.anchor_version, 2);
    assert_eq!(started.denied, [id(&lost)]);
}

#[test]
fn offline_with_nothing_cached_cannot_decide() {
    let dir = tempfile::tempdir().expect("tmp");
    let (root, online) = (key(), key());
    repository(dir.path(), &root, &online);
    let (trust, _) = trust(dir.path(), true);
    pin(&trust, &[&root], &[]);
    match start(&trust, REPO, FirstUse::Refuse, &mut fetcher(dir.path())) {
        Err(e @ TrustError::NoCache { .. }) => assert!(!e.is_refusal(), "undecided, never refused"),
        other => panic!("expected NoCache, got {:?}", other.map(|s| s.anchor_version)),
    }
}
