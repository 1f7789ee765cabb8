//! One test per attack TUF defends against. Each runs vouch's client (the
//! real update workflow, fixed "now", no network) against a fixture folder
//! `testdata/tuf/<attack>/`: `trusted/` is the client's metadata directory
//! before the update, `repo/` what the repository serves. The fixtures are
//! built by `tests/suite/common/tuf.rs`; `fixtures_are_reproducible` keeps them
//! in step.

use std::path::{Path, PathBuf};

use crate::common::tuf::{APP, NOW, RELEASE, fixture, scenarios};
use vouch::store::DirFetcher;
use vouch::store::metadata_dir::MetadataDir;
use vouch::tuf::{Limits, TargetPath, TufError};
use vouch::update::{UpdateError, Updater};

struct Outcome {
    result: Result<Vec<PathBuf>, UpdateError>,
    meta: tempfile::TempDir,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    if let Ok(entries) = std::fs::read_dir(from) {
        for e in entries {
            let p = e.expect("entry").path();
            std::fs::copy(&p, to.join(p.file_name().expect("name"))).expect("copy");
        }
    }
}

/// Refreshes against the fixture, then resolves and downloads `targets`.
fn run(name: &str, targets: &[&str]) -> Outcome {
    let fx = fixture(name);
    assert!(fx.is_dir(), "missing fixture {}", fx.display());
    let meta = tempfile::tempdir().expect("tmp");
    copy_dir(&fx.join("trusted"), meta.path());
    let mut fetcher = DirFetcher::new("");
    let base = fx.join("repo/metadata").display().to_string();
    let dl = meta.path().join("downloads");
    let result = (|| {
        let mut client = Updater::open(
            MetadataDir::standard(meta.path()),
            &mut fetcher,
            &base,
            NOW,
            Limits::default(),
        )?;
        client.refresh()?;
        let mut got = Vec::new();
        for t in targets {
            let path = TargetPath::parse(t)?;
            let (signer, target) = client.resolve(&path)?;
            got.push(client.download(
                &path,
                signer.as_str(),
                &target,
                &fx.join("repo/targets").display().to_string(),
                &dl,
            )?);
        }
        Ok(got)
    })();
    Outcome { result, meta }
}

/// Asserts a refusal of the given kind whose message names `role`.
fn refused(name: &str, targets: &[&str], kind: &str, role: &str) -> TufError {
    match run(name, targets).result {
        Err(UpdateError::Refused(e)) => {
            eprintln!("{name}: refused: {e}");
            assert_eq!(e.kind(), kind, "{name}: {e}");
            assert!(e.to_string().contains(role), "{name}: `{role}` not named in: {e}");
            e
        }
        Err(other) => panic!("{name}: expected a {kind} refusal, got: {other}"),
        Ok(_) => panic!("{name}: the attack was not refused"),
    }
}

#[test]
fn valid_repository_resolves_through_delegation_and_downloads() {
    let out = run("valid", &["app", "apps/rel"]);
    let files = out.result.expect("valid repository");
    assert_eq!(std::fs::read(&files[0]).expect("app"), APP);
    assert_eq!(std::fs::read(&files[1]).expect("rel"), RELEASE);
    for file in [
        "root.json",
        "timestamp.json",
        "snapshot.json",
        "targets.json",
        "releases.json",
    ] {
        assert!(out.meta.path().join(file).is_file(), "{file} persisted");
    }
}

#[test]
fn arbitrary_package_attack_is_refused() {
    refused("arbitrary_package", &["app"], "signature", "targets");
}

#[test]
fn rollback_attack_on_timestamp_is_refused() {
    refused("rollback_timestamp", &[], "rollback", "timestamp");
}

#[test]
fn rollback_attack_on_snapshot_is_refused() {
    refused("rollback_snapshot", &[], "rollback", "snapshot");
}

#[test]
fn rollback_attack_on_targets_is_refused() {
    refused("rollback_targets", &[], "rollback", "targets");
}

#[test]
fn rollback_attack_on_delegated_role_is_refused() {
    refused("rollback_delegated", &[], "rollback", "releases");
}

#[test]
fn rollback_attack_on_root_is_refused() {
    refused("rollback_root", &[], "rollback", "root");
}

#[test]
fn freeze_attack_expired_timestamp_is_refused() {
    refused("freeze_timestamp", &[], "expired", "timestamp");
}

#[test]
fn freeze_attack_expired_snapshot_is_refused() {
    refused("freeze_snapshot", &[], "expired", "snapshot");
}

#[test]
fn freeze_attack_expired_targets_is_refused() {
    refused("freeze_targets", &[], "expired", "targets");
}

#[test]
fn freeze_attack_expired_root_is_refused() {
    refused("freeze_root", &[], "expired", "root");
}

#[test]
fn endless_data_attack_on_timestamp_is_refused() {
    let e = refused("endless_data_timestamp", &[], "too large", "timestamp");
    assert!(e.to_string().contains("16384"), "the limit is named: {e}");
}

#[test]
fn endless_data_attack_on_snapshot_is_refused() {
    refused("endless_data_snapshot", &[], "too large", "snapshot");
}

#[test]
fn mix_and_match_attack_is_refused() {
    refused("mix_and_match", &[], "mismatch", "targets");
}

#[test]
fn fast_forward_attack_recovery_after_timestamp_key_rotation() {
    // The client trusts a timestamp at version 1000 signed with the old
    // (compromised) key; root v2 rotates that key and the repository starts
    // over at version 1. The client must accept it, not call it a rollback.
    let out = run("fast_forward_recovery", &["app"]);
    out.result.expect("recovered after the rotation");
    let ts = std::fs::read(out.meta.path().join("timestamp.json")).expect("timestamp persisted");
    let v: serde_json::Value = serde_json::from_slice(&ts).expect("json");
    assert_eq!(v["signed"]["version"], 1);
}

#[test]
fn wrong_target_length_is_refused() {
    refused("wrong_target_length", &["app"], "mismatch", "length");
}

#[test]
fn wrong_target_hash_is_refused() {
    refused("wrong_target_hash", &["app"], "mismatch", "sha256");
}

#[test]
fn duplicate_root_signatures_make_the_root_invalid() {
    // Root v2 needs two root signatures; one key signed it twice.
    let e = refused(
        "threshold_duplicate_root_signature",
        &[],
        "duplicate signature",
        "root",
    );
    assert!(e.to_string().contains("listed twice"), "{e}");
}

#[test]
fn a_delegation_listing_one_key_id_twice_is_refused() {
    // `targets` authorises the delegate's key id twice for a threshold of
    // 2 (and the delegate signed twice): the delegating role is malformed.
    let e = refused(
        "threshold_duplicate_delegation_signature",
        &["apps/rel"],
        "malformed",
        "targets",
    );
    assert!(e.to_string().contains("key id twice"), "{e}");
}

/// Spec: a signatures array naming one key id twice makes the metadata
/// invalid, even when the key alone meets the threshold.
#[test]
fn duplicate_key_id_in_signatures_makes_metadata_invalid() {
    let e = refused(
        "duplicate_signature_keyid",
        &["app"],
        "duplicate signature",
        "targets",
    );
    assert!(e.to_string().contains("listed twice"), "{e}");
}

/// Attack 6 of the trust-layer issue: one key under two ids (its public
/// hex in lower and upper case) meets a threshold of 2. Keys are compared
/// by their parsed bytes, so it counts once.
#[test]
fn one_key_under_two_ids_counts_once() {
    let e = refused("one_key_counted_twice", &[], "signature", "root");
    assert!(
        e.to_string().contains("1 valid signature(s)") && e.to_string().contains("threshold is 2"),
        "{e}"
    );
}

/// Attack 1 of the trust-layer issue, in the core: a root that lists the
/// attacker's key under the real root key's id. Key ids are recomputed.
#[test]
fn key_id_that_is_not_the_hash_of_its_key_is_refused() {
    let e = refused("key_id_not_the_hash_of_its_key", &[], "key id mismatch", "root");
    assert!(e.to_string().contains("not that key's id"), "{e}");
}

/// A delegated role may not take a top-level role's name (it could stand
/// in for the real timestamp in a client's metadata directory).
#[test]
fn delegated_role_named_timestamp_is_refused() {
    let e = refused(
        "delegated_role_named_timestamp",
        &["app"],
        "malformed",
        "timestamp",
    );
    assert!(e.to_string().contains("reserved name"), "{e}");
}

/// Spec: when two delegators delegate one role name to different keys, a
/// cached copy of the role is verified against the delegator through which
/// the current lookup reached it: valid through `a` is not valid through `b`.
#[test]
fn a_cached_role_is_verified_against_the_current_delegator() {
    run("two_delegators_same_role", &["a/x"])
        .result
        .expect("a/x through a verifies");
    refused("two_delegators_same_role", &["b/evil"], "signature", "shared");
    // The same client, `shared` already trusted through `a`.
    refused(
        "two_delegators_same_role",
        &["a/x", "b/evil"],
        "signature",
        "shared",
    );
}

#[test]
fn key_rotation_refuses_the_old_key() {
    refused("key_rotation_old_key_refused", &["app"], "signature", "targets");
}

#[test]
fn unauthorised_delegation_is_refused() {
    refused("unauthorised_delegation", &["apps/rel"], "signature", "releases");
}

#[test]
fn path_traversal_in_target_names_is_refused() {
    match run("path_traversal", &["../../escape"]).result {
        Err(UpdateError::Refused(TufError::BadTargetPath { .. })) => {}
        other => panic!("expected a refused target path, got {:?}", other.map(|_| ())),
    }
    // The legitimate target of the same repository still works, and
    // nothing was written outside the target directory.
    let out = run("path_traversal", &["app"]);
    out.result.expect("app still resolves");
    assert!(!out.meta.path().parent().expect("parent").join("escape").exists());
}

#[test]
fn delegated_role_absent_from_snapshot_is_refused() {
    refused(
        "delegated_role_absent_from_snapshot",
        &["apps/rel"],
        "not listed",
        "releases",
    );
}

#[test]
fn fixtures_are_reproducible() {
    for (name, scenario) in scenarios() {
        let dir = tempfile::tempdir().expect("tmp");
        scenario.write(dir.path());
        let fresh = crate::common::snapshot(dir.path());
        let committed = crate::common::snapshot(&fixture(name));
        let strip = |m: std::collections::BTreeMap<PathBuf, (u32, Vec<u8>)>, root: &Path| {
            m.into_iter()
                .filter(|(p, _)| p.is_file() || !p.exists())
                .map(|(p, (_, b))| (p.strip_prefix(root).expect("prefix").to_owned(), b))
                .filter(|(p, _)| !p.as_os_str().is_empty())
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        assert!(
            strip(fresh, dir.path()) == strip(committed, &fixture(name)),
            "testdata/tuf/{name} is out of date: run `cargo test --test suite -- --ignored tuf_attacks::regenerate_fixtures`"
        );
    }
}

#[test]
#[ignore = "writes testdata/tuf; run by hand after changing the scenarios"]
fn regenerate_fixtures() {
    for (name, scenario) in scenarios() {
        let dir = fixture(name);
        let _ = std::fs::remove_dir_all(&dir);
        scenario.write(&dir);
    }
}
