//! Notary v1 metadata captured from the real notary 0.7.0 and docker CLI
//! (`testdata/notary-v1/`, see its README) verifies offline with vouch's
//! Notary reader, and each tampered form is refused.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::macros::datetime;
use vouch::notary::{NotaryError, NotaryLimits, NotarySet};

/// When the samples were fresh (they were made on 2026-11-26).
const NOW: OffsetDateTime = datetime!(2026-11-27 00:00:00 UTC);

fn sample(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/notary-v1")
        .join(dir)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn gun_of(dir: &str) -> String {
    let v: serde_json::Value = serde_json::from_slice(&read(&sample(dir).join("sample.json"))).expect("json");
    v["gun"].as_str().expect("gun").to_owned()
}

/// Runs the Notary client's checks over a sample's served files, with
/// `edit` applied to the bytes of one file first.
fn load(
    dir: &str,
    gun: &str,
    now: OffsetDateTime,
    edit: impl Fn(&str, &mut Vec<u8>),
) -> Result<NotarySet, NotaryError> {
    let server = sample(dir).join("server");
    let file = |role: &str| {
        let mut bytes = read(&server.join(format!("{role}.json")));
        edit(role, &mut bytes);
        bytes
    };
    let root = file("root");
    let mut set = NotarySet::new(gun, &root, now, NotaryLimits::default())?;
    set.update_root(&root)?;
    set.update_timestamp(&file("timestamp"), 0)?;
    set.snapshot_request()?;
    set.update_snapshot(&file("snapshot"), 0)?;
    let mut queue = vec!["targets".to_owned()];
    while let Some(role) = queue.pop() {
        if set.role_request(&role)?.is_none() {
            continue;
        }
        match set.update_targets(&role, &file(&role), 0) {
            Ok(()) => queue.extend(set.children(&role)),
            Err(e) if role != "targets" && e.skips_delegation() => set.skip(&role, e),
            Err(e) => return Err(e),
        }
    }
    Ok(set)
}

fn expected_targets(dir: &str) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(&read(&sample(dir).join("sample.json"))).expect("json");
    v["targets"]
        .as_object()
        .expect("targets")
        .iter()
        .map(|(tag, t)| (tag.clone(), t["digest"].as_str().expect("digest").to_owned()))
        .collect()
}

#[test]
fn docker_cli_samples_verify_and_resolve_as_docker_did() {
    for dir in ["docker-style", "notary-cli", "local-ed25519"] {
        let gun = gun_of(dir);
        let set = load(dir, &gun, NOW, |_, _| {}).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for (tag, digest) in expected_targets(dir) {
            let (role, meta) = set
                .lookup(&tag)
                .unwrap_or_else(|| panic!("{dir}: {tag} not found"));
            assert_eq!(
                format!("sha256:{}", meta.sha256_hex().expect("sha256")),
                digest,
                "{dir} {tag}"
            );
            eprintln!("{dir}: {tag} -> {digest} ({role})");
        }
    }
    // Docker Content Trust resolves targets/releases first: in the notary
    // CLI sample v1 is in both, v2 only in targets.
    let set = load("notary-cli", &gun_of("notary-cli"), NOW, |_, _| {}).expect("loads");
    assert_eq!(set.lookup("v1").expect("v1").0, "targets/releases");
    assert_eq!(set.lookup("v2").expect("v2").0, "targets");
    assert!(set.lookup("v3").is_none());
}

#[test]
fn docker_trust_inspect_agrees_on_every_signed_tag() {
    let inspect: serde_json::Value =
        serde_json::from_slice(&read(&sample("docker-style").join("docker-trust-inspect.json")))
            .expect("json");
    let set = load("docker-style", &gun_of("docker-style"), NOW, |_, _| {}).expect("loads");
    for tag in inspect[0]["SignedTags"].as_array().expect("tags") {
        let name = tag["SignedTag"].as_str().expect("tag");
        let (_, meta) = set.lookup(name).expect("signed");
        assert_eq!(meta.sha256_hex().as_deref(), tag["Digest"].as_str(), "{name}");
    }
}

#[test]
fn the_root_key_ids_are_the_ones_docker_and_notary_name() {
    use vouch::trust::notary_reader::{canonical_key_id, root_key_ids};
    let root = read(&sample("docker-style").join("server/root.json"));
    // `docker trust inspect` prints the certificate's key id as the root key.
    assert_eq!(
        root_key_ids(&root),
        ["94a5a79f50ab846f5688f13d66d74cf4e586a3346b7e32886718ac4be4639061"]
    );
    // notary names the private key file by the canonical id of the key.
    let v: serde_json::Value = serde_json::from_slice(&root).expect("json");
    let object = &v["signed"]["keys"]["94a5a79f50ab846f5688f13d66d74cf4e586a3346b7e32886718ac4be4639061"];
    let key = vouch::notary::signatures::NotaryKey::parse(object).expect("certificate key");
    assert_eq!(
        canonical_key_id(&key).as_deref(),
        Some("af0bb6151d376a8c673020c37f00157bcd2855a254b0afa5de66110bcb473851")
    );
    assert!(
        sample("docker-style")
            .join("client-trust-dir/private/af0bb6151d376a8c673020c37f00157bcd2855a254b0afa5de66110bcb473851.key")
            .is_file()
    );
}

/// Flips one byte inside the `signed` part of `role`'s file.
fn flip(target: &'static str) -> impl Fn(&str, &mut Vec<u8>) {
    move |role, bytes| {
        if role == target {
            let at = bytes
                .windows(8)
                .position(|w| w == b"\"expires")
                .expect("an expires field");
            bytes[at + 12] ^= 0x01;
        }
    }
}

#[test]
fn tampered_notary_metadata_is_refused() {
    let dir = "docker-style";
    let gun = gun_of(dir);
    // A flipped byte: a hash or signature no longer matches.
    for (role, kind) in [
        ("root", "signature"),
        ("timestamp", "signature"),
        ("snapshot", "mismatch"),
        ("targets", "mismatch"),
    ] {
        let e = load(dir, &gun, NOW, flip(role)).expect_err(role);
        assert_eq!(e.kind(), kind, "{role}: {e}");
    }
    // A flipped byte in a delegation: its hash no longer matches the
    // snapshot, which ends the update (only expiry and thresholds skip).
    let e = load(dir, &gun, NOW, flip("targets/releases")).expect_err("releases");
    assert_eq!(e.kind(), "mismatch", "{e}");
    // A root whose certificate is for another GUN.
    let e = load(dir, "127.0.0.1:5001/demo/other", NOW, |_, _| {}).expect_err("other GUN");
    assert_eq!(e.kind(), "certificate", "{e}");
    // Expired: the timestamp (14 days) after its expiry.
    let later = datetime!(2026-12-11 00:00:00 UTC);
    let e = load(dir, &gun, later, |_, _| {}).expect_err("expired");
    assert_eq!(e.kind(), "expired", "{e}");
    assert!(e.to_string().contains("timestamp"), "{e}");
}

#[test]
fn a_rolled_back_notary_snapshot_is_refused() {
    let dir = "docker-style";
    let gun = gun_of(dir);
    let server = sample(dir).join("server");
    let root = read(&server.join("root.json"));
    let mut set = NotarySet::new(&gun, &root, NOW, NotaryLimits::default()).expect("root");
    set.update_root(&root).expect("root");
    set.update_timestamp(&read(&server.join("timestamp.json")), 0)
        .expect("timestamp");
    // This client verified snapshot version 3 before: version 2 is older.
    let e = set
        .update_snapshot(&read(&server.join("snapshot.json")), 3)
        .expect_err("rollback");
    assert_eq!(e.kind(), "rollback", "{e}");
    let e = set
        .update_timestamp(&read(&server.join("timestamp.json")), 5)
        .expect_err("rollback");
    assert_eq!(e.kind(), "rollback", "{e}");
}
