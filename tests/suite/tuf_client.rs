//! Client behaviours the specification requires beyond the named attacks:
//! no refetch on an unchanged timestamp, lazy delegation search honouring
//! `terminating`, k-of-n signing, timestamp-only refresh, consistent
//! snapshots off, exact bytes persisted.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use crate::common::tuf::{APP, BASE, NOW, commit, key, keys, target};
use vouch::store::metadata_dir::MetadataDir;
use vouch::store::tuf_repo_dir::write_metadata;
use vouch::store::{DirFetcher, FetchError, Fetcher};
use vouch::tuf::editor::{DelegatedPaths, Delegation, Expiries, MetadataEditor, RoleSetup};
use vouch::tuf::{Limits, TargetPath, TufError};
use vouch::update::{UpdateError, Updater};

/// Records every location fetched that existed.
struct Recording {
    inner: DirFetcher,
    log: Rc<RefCell<Vec<String>>>,
}

impl Fetcher for Recording {
    fn fetch(&mut self, location: &str, max: u64) -> Result<Option<Vec<u8>>, FetchError> {
        let got = self.inner.fetch(location, max)?;
        if got.is_some() {
            let name = Path::new(location)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            self.log.borrow_mut().push(name.unwrap_or_default());
        }
        Ok(got)
    }
}

struct Setup {
    repo_dir: tempfile::TempDir,
    meta: tempfile::TempDir,
    log: Rc<RefCell<Vec<String>>>,
}

impl Setup {
    fn new(repo: &MetadataEditor) -> Setup {
        let repo_dir = tempfile::tempdir().expect("tmp");
        write_metadata(repo, repo_dir.path()).expect("write");
        let meta = tempfile::tempdir().expect("tmp");
        std::fs::write(meta.path().join("root.json"), &repo.root_history[0]).expect("root");
        Setup {
            repo_dir,
            meta,
            log: Rc::default(),
        }
    }

    fn publish(&self, repo: &MetadataEditor) {
        write_metadata(repo, self.repo_dir.path()).expect("write");
    }

    /// Refreshes and resolves `paths`; returns the files fetched.
    fn run(&self, paths: &[&str]) -> (Result<Vec<String>, UpdateError>, Vec<String>) {
        self.log.borrow_mut().clear();
        let mut fetcher = Recording {
            inner: DirFetcher::new(""),
            log: self.log.clone(),
        };
        let base = self.repo_dir.path().join("metadata").display().to_string();
        let result = (|| {
            let mut c = Updater::open(
                MetadataDir::new(self.meta.path()),
                &mut fetcher,
                &base,
                NOW,
                Limits::default(),
            )?;
            c.refresh()?;
            let mut signers = Vec::new();
            for p in paths {
                signers.push(c.resolve(&TargetPath::parse(p)?)?.0.to_string());
            }
            Ok(signers)
        })();
        let log = self.log.borrow().clone();
        (result, log)
    }
}

fn simple_repo(consistent: bool) -> MetadataEditor {
    let k = keys();
    let others = [k.targets.public(), k.snapshot.public(), k.timestamp.public()];
    let mut repo =
        MetadataEditor::create_single_key(&k.root, others.each_ref(), consistent, BASE, Expiries::default())
            .expect("repository");
    repo.add_target("targets", "app", target(APP), BASE).expect("app");
    commit(&mut repo, &k);
    repo
}

#[test]
fn unchanged_timestamp_means_no_snapshot_or_targets_fetch() {
    let repo = simple_repo(true);
    let s = Setup::new(&repo);
    let (r, first) = s.run(&["app"]);
    r.expect("first refresh");
    assert_eq!(first, ["timestamp.json", "1.snapshot.json", "1.targets.json"]);
    let (r, second) = s.run(&["app"]);
    r.expect("second refresh");
    assert_eq!(
        second,
        ["timestamp.json"],
        "only the timestamp is fetched when nothing changed"
    );
}

/// Spec 5.4.3.1 (and REFERENCE.md, corrected): a new timestamp with the
/// trusted version is ignored, even when its content differs. The trusted
/// timestamp stays, nothing else is fetched, and the refresh succeeds.
#[test]
fn same_version_timestamp_with_other_content_is_ignored() {
    let k = keys();
    let mut repo = simple_repo(true);
    let s = Setup::new(&repo);
    s.run(&["app"]).0.expect("first");
    let trusted = std::fs::read(s.meta.path().join("timestamp.json")).expect("persisted");
    // Same version, different content (a new expiry), validly signed.
    repo.timestamp.signed.expires = vouch::tuf::metadata::Expires::new(BASE + time::Duration::days(3));
    repo.timestamp.signatures.clear();
    repo.timestamp.sign(&k.timestamp).expect("sign");
    s.publish(&repo);
    let (r, fetched) = s.run(&["app"]);
    r.expect("the refresh succeeds");
    assert_eq!(
        fetched,
        ["timestamp.json"],
        "nothing but the timestamp is fetched"
    );
    assert_eq!(
        std::fs::read(s.meta.path().join("timestamp.json")).expect("persisted"),
        trusted,
        "the trusted timestamp is kept"
    );
}

#[test]
fn timestamp_only_refresh_needs_only_the_timestamp_key() {
    let k = keys();
    let mut repo = simple_repo(true);
    let s = Setup::new(&repo);
    s.run(&["app"]).0.expect("first");
    repo.bump_timestamp(BASE + time::Duration::hours(6))
        .expect("bump");
    repo.timestamp.sign(&k.timestamp).expect("timestamp key only");
    s.publish(&repo);
    let (r, fetched) = s.run(&["app"]);
    r.expect("refreshed");
    assert_eq!(
        fetched,
        ["timestamp.json"],
        "snapshot unchanged, so not fetched again"
    );
    let persisted = std::fs::read(s.meta.path().join("timestamp.json")).expect("persisted");
    assert_eq!(
        persisted,
        repo.timestamp.to_bytes().expect("bytes"),
        "exact bytes persisted"
    );
}

#[test]
fn lazy_search_fetches_only_needed_roles_and_honours_terminating() {
    let k = keys();
    let mut repo = simple_repo(true);
    let d = [k.delegate.public()];
    // a: terminating for a/*; b: everything (after a); c: never matches.
    repo.add_delegation(
        "targets",
        Delegation {
            name: "a",
            keys: &d,
            threshold: 1,
            paths: DelegatedPaths::Paths(vec!["a/*".into()]),
            terminating: true,
        },
        BASE,
    )
    .expect("a");
    repo.add_delegation(
        "targets",
        Delegation {
            name: "b",
            keys: &d,
            threshold: 1,
            paths: DelegatedPaths::Paths(vec!["*".into(), "*/*".into()]),
            terminating: false,
        },
        BASE,
    )
    .expect("b");
    repo.add_delegation(
        "targets",
        Delegation {
            name: "c",
            keys: &d,
            threshold: 1,
            paths: DelegatedPaths::Paths(vec!["zzz/*".into()]),
            terminating: false,
        },
        BASE,
    )
    .expect("c");
    repo.add_target("b", "a/in-b", target(b"x"), BASE).expect("in b");
    repo.add_target("b", "other", target(b"y"), BASE).expect("other");
    commit(&mut repo, &k);
    let s = Setup::new(&repo);

    // `a/in-b` matches a (terminating, does not list it): the search stops
    // there and b is never fetched.
    let (r, fetched) = s.run(&["a/in-b"]);
    assert!(matches!(r, Err(UpdateError::NoSuchTarget(_))), "{r:?}");
    assert!(fetched.iter().any(|f| f.ends_with(".a.json")), "{fetched:?}");
    assert!(
        !fetched
            .iter()
            .any(|f| f.ends_with(".b.json") || f.ends_with(".c.json")),
        "{fetched:?}"
    );

    // `other` does not match a or c: only b is fetched.
    let (r, fetched) = s.run(&["other"]);
    assert_eq!(r.expect("found"), ["b"]);
    assert!(fetched.iter().any(|f| f.ends_with(".b.json")), "{fetched:?}");
    assert!(!fetched.iter().any(|f| f.ends_with(".c.json")), "{fetched:?}");
}

#[test]
fn k_of_n_verifies_only_once_the_threshold_is_met() {
    let k = keys();
    let mut repo = simple_repo(true);
    let (alice, bob) = (key(20), key(21));
    repo.add_delegation(
        "targets",
        Delegation {
            name: "release",
            keys: &[alice.public(), bob.public()],
            threshold: 2,
            paths: DelegatedPaths::Paths(vec!["rel/*".into()]),
            terminating: true,
        },
        BASE,
    )
    .expect("2-of-2");
    repo.add_target("release", "rel/v1", target(b"v1"), BASE)
        .expect("target");
    repo.sign_targets_roles(&k.targets).expect("targets");
    // Alice signs now…
    repo.sign_targets_roles(&alice).expect("alice");
    commit(&mut repo, &k);
    let s = Setup::new(&repo);
    match s.run(&["rel/v1"]).0 {
        Err(UpdateError::Refused(TufError::ThresholdNotMet {
            role,
            valid: 1,
            threshold: 2,
            ..
        })) => {
            assert_eq!(role, "release")
        }
        other => panic!("one of two signatures must not verify: {other:?}"),
    }
    // …Bob later, from the published bytes: Alice's signature is kept.
    let published = repo.targets["release"].to_bytes().expect("bytes");
    let mut release = vouch::tuf::editor::Signed::from_bytes("release", &published).expect("load");
    release.sign(&bob).expect("bob");
    assert_eq!(release.signatures.len(), 2);
    repo.targets
        .insert(vouch::tuf::RoleName::parse("release"), release);
    repo.bump_snapshot(BASE);
    repo.snapshot.sign(&k.snapshot).expect("sign");
    repo.bump_timestamp(BASE).expect("ts");
    repo.timestamp.sign(&k.timestamp).expect("sign");
    s.publish(&repo);
    assert_eq!(s.run(&["rel/v1"]).0.expect("two of two verify"), ["release"]);
}

#[test]
fn consistent_snapshots_off_reads_unversioned_files() {
    let repo = simple_repo(false);
    let s = Setup::new(&repo);
    let (r, fetched) = s.run(&["app"]);
    assert_eq!(r.expect("resolves"), ["targets"]);
    assert_eq!(fetched, ["timestamp.json", "snapshot.json", "targets.json"]);
}

#[test]
fn root_rotation_chain_is_followed_and_old_root_keys_refused() {
    let k = keys();
    let mut repo = simple_repo(true);
    let s = Setup::new(&repo);
    s.run(&[]).0.expect("v1");
    // v2 and v3, each cross-signed by the previous and the new root key.
    let mut prev = k.root;
    for seed in [30, 31] {
        let next = key(seed);
        repo.set_top_level_keys("root", &RoleSetup::single(next.public()), BASE)
            .expect("rotate");
        repo.root.sign(&prev).expect("old");
        repo.root.sign(&next).expect("new");
        repo.publish_root().expect("publish");
        prev = next;
    }
    s.publish(&repo);
    s.run(&[]).0.expect("walks to v3");
    let trusted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.meta.path().join("root.json")).expect("root")).expect("json");
    assert_eq!(trusted["signed"]["version"], 3);
    // A v4 signed only by the v1 key (no longer a root key) is refused.
    repo.set_top_level_keys("root", &RoleSetup::single(key(1).public()), BASE)
        .expect("rotate");
    repo.root.sign(&key(1)).expect("old v1 key");
    repo.publish_root().expect("publish");
    s.publish(&repo);
    match s.run(&[]).0 {
        Err(UpdateError::Refused(TufError::ThresholdNotMet { role, version: 4, .. })) => {
            assert_eq!(role, "root")
        }
        other => panic!("expected refusal of root v4: {other:?}"),
    }
}

/// A client that rebuilds its trusted root from a cached chain starts the
/// update at the newest cached root: a timestamp key rotation it had
/// already seen does not make it forget its trusted timestamp and snapshot
/// (the rollback references) on every run.
#[test]
fn key_rotations_in_the_cached_chain_are_not_new() {
    use vouch::tuf::TrustedSet;
    let k = keys();
    let mut repo = simple_repo(true);
    repo.set_top_level_keys("timestamp", &RoleSetup::single(key(9).public()), BASE)
        .expect("rotate");
    repo.root.sign(&k.root).expect("sign");
    repo.publish_root().expect("publish");
    let replay = |begin: bool| {
        let mut set = TrustedSet::new(&repo.root_history[0], NOW, Limits::default()).expect("v1");
        set.update_root(&repo.root_history[1]).expect("v2");
        if begin {
            set.begin_update();
        }
        set.finish_root_update().expect("finish")
    };
    assert_eq!(
        replay(false),
        ["timestamp", "snapshot"],
        "a rotation seen in this update"
    );
    assert!(replay(true).is_empty(), "a rotation seen before this update");
}
