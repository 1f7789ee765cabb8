//! The update workflow's refusals, checked in milliseconds against
//! metadata the editor makes: a wrong key, a rollback, an expired role, a
//! snapshot that does not match, and a signature listed twice.

use time::{Duration, OffsetDateTime};
use vouch_keys::PrivateKey;

use super::editor::{Expiries, MetadataEditor};
use super::error::TufError;
use super::limits::Limits;
use super::names::RoleName;
use super::trusted_set::TrustedSet;

fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-12-05 12:00 UTC)
}

/// A published repository whose every role is `key`'s.
fn published(key: &PrivateKey) -> MetadataEditor {
    let public = key.public();
    let mut repo = MetadataEditor::create_single_key(key, [&public; 3], true, now(), Expiries::default())
        .expect("create");
    publish(&mut repo, key);
    repo
}

/// Signs what changed, then a new snapshot and timestamp.
fn publish(repo: &mut MetadataEditor, key: &PrivateKey) {
    repo.sign_targets_roles(key).expect("targets");
    repo.bump_snapshot(now());
    repo.snapshot.sign(key).expect("snapshot");
    repo.bump_timestamp(now()).expect("timestamp");
    repo.timestamp.sign(key).expect("timestamp");
}

fn trusted(repo: &MetadataEditor, at: OffsetDateTime) -> TrustedSet {
    TrustedSet::new(&repo.root_history[0], at, Limits::default()).expect("root")
}

#[test]
fn the_whole_chain_verifies_and_a_later_timestamp_replaces_the_trusted_one() {
    let key = PrivateKey::generate_ed25519().expect("key");
    let mut repo = published(&key);
    let mut set = trusted(&repo, now());
    set.update_timestamp(&repo.timestamp.to_bytes().expect("bytes"))
        .expect("timestamp");
    set.update_snapshot(&repo.snapshot.to_bytes().expect("bytes"))
        .expect("snapshot");
    set.update_delegated(
        &RoleName::Targets,
        &RoleName::Root,
        &repo.targets["targets"].to_bytes().expect("bytes"),
    )
    .expect("targets");
    let old = set.timestamp().expect("trusted").signed().version;
    publish(&mut repo, &key);
    set.update_timestamp(&repo.timestamp.to_bytes().expect("bytes"))
        .expect("newer");
    assert_eq!(set.timestamp().expect("trusted").signed().version, old + 1);
}

#[test]
fn a_timestamp_signed_by_another_key_is_refused() {
    let key = PrivateKey::generate_ed25519().expect("key");
    let thief = PrivateKey::generate_ed25519().expect("key");
    let mut repo = published(&key);
    repo.timestamp.signatures.clear();
    repo.timestamp.sign(&thief).expect("sign");
    let mut set = trusted(&repo, now());
    let err = set
        .update_timestamp(&repo.timestamp.to_bytes().expect("bytes"))
        .expect_err("refused");
    assert!(matches!(err, TufError::ThresholdNotMet { .. }), "{err:?}");
    assert!(set.timestamp().is_none(), "nothing trusted from it");
}

#[test]
fn an_older_timestamp_is_a_rollback() {
    let key = PrivateKey::generate_ed25519().expect("key");
    let mut repo = published(&key);
    let old = repo.timestamp.to_bytes().expect("bytes");
    publish(&mut repo, &key);
    let mut set = trusted(&repo, now());
    set.update_timestamp(&repo.timestamp.to_bytes().expect("bytes"))
        .expect("newer");
    let err = set.update_timestamp(&old).expect_err("rollback");
    assert!(matches!(err, TufError::Rollback { .. }), "{err:?}");
}

#[test]
fn an_expired_timestamp_is_refused_by_the_clock_given() {
    let key = PrivateKey::generate_ed25519().expect("key");
    let repo = published(&key);
    let bytes = repo.timestamp.to_bytes().expect("bytes");
    let expires = repo.timestamp.signed.expires.at;
    trusted(&repo, expires - Duration::seconds(1))
        .update_timestamp(&bytes)
        .expect("fresh a second before");
    let err = trusted(&repo, expires + Duration::seconds(1))
        .update_timestamp(&bytes)
        .expect_err("expired a second after");
    assert!(matches!(err, TufError::Expired { .. }), "{err:?}");
}

#[test]
fn a_snapshot_other_than_the_one_the_timestamp_names_is_refused() {
    let key = PrivateKey::generate_ed25519().expect("key");
    let mut repo = published(&key);
    let named = repo.timestamp.to_bytes().expect("bytes");
    // A different snapshot at the same version, properly signed.
    repo.snapshot.signed.expires = super::metadata::Expires::new(now() + Duration::days(3));
    repo.snapshot.signatures.clear();
    repo.snapshot.sign(&key).expect("sign");
    let mut set = trusted(&repo, now());
    set.update_timestamp(&named).expect("timestamp");
    let err = set
        .update_snapshot(&repo.snapshot.to_bytes().expect("bytes"))
        .expect_err("not the one named");
    assert!(
        matches!(
            err,
            TufError::HashMismatch { .. } | TufError::VersionMismatch { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn a_signature_listed_twice_is_refused_so_one_key_never_counts_twice() {
    let key = PrivateKey::generate_ed25519().expect("key");
    let mut repo = published(&key);
    // The same signature listed twice.
    let again = repo.timestamp.signatures[0].clone();
    repo.timestamp.signatures.push(again);
    let mut set = trusted(&repo, now());
    let err = set
        .update_timestamp(&repo.timestamp.to_bytes().expect("bytes"))
        .expect_err("refused");
    assert!(matches!(err, TufError::DuplicateSignature { .. }), "{err:?}");
}
