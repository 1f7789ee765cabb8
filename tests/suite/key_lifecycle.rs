//! Keys over time, through the real binary, each key holder a trust
//! directory of their own: a 2-of-3 root made by three holders, a root
//! key rotated by two of them, verifiers pinned to the first root
//! following the chain; targets, snapshot and timestamp keys rotated; a
//! stolen targets key recovered from the publisher's record; expired
//! metadata repaired; lost root keys denied. Each attack (one holder of a
//! k-of-n root, a thief with an old key) is refused at `verify`, at the
//! gate and by writers.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use vouch::tuf::editor::Signed;
use vouch::tuf::metadata::Root;
use vouch_keys::PrivateKey;

use crate::common::attacker::{Attacker, newest, resign_targets, sign_json};
use crate::common::{Env, faketime_lib, gate_refuses, oci_image, private_key, publisher, staged_id};

/// A layout with image `v1` (and `evil`, not signed); returns the dir,
/// the repository name and v1's digest.
fn layout() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let layout = dir.path().join("images");
    let v1 = oci_image(&layout, "v1", "release one");
    oci_image(&layout, "evil", "not ours");
    (dir, format!("oci:{}", layout.display()), v1)
}

fn layout_dir(repo: &str) -> PathBuf {
    PathBuf::from(repo.trim_start_matches("oci:"))
}

/// A root key holder: a machine of their own with a root key made there;
/// returns it, the public key file and the key id.
fn holder(name: &str) -> (Env, PathBuf, String) {
    let env = publisher();
    let public = env.home().join(format!("{name}.pub"));
    let id = env
        .run(&[
            "key",
            "generate",
            &format!("{name}-root"),
            "--role",
            "root",
            "--public-out",
            public.to_str().expect("utf8"),
        ])
        .ok()
        .trim()
        .to_owned();
    (env, public, id)
}

/// The root key ids and threshold `env` sees for `repo` (`inspect`).
fn root_of(env: &Env, repo: &str) -> (Vec<String>, u64, u64) {
    let out: Value = serde_json::from_str(env.run(&["inspect", repo]).ok()).expect("json");
    let root = out["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"] == "root")
        .expect("root role")
        .clone();
    let keys = root["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k.as_str().expect("id").to_owned())
        .collect();
    (
        keys,
        root["threshold"].as_u64().expect("t"),
        root["version"].as_u64().expect("v"),
    )
}

/// Recovery from stolen targets, snapshot and timestamp keys, on `env`.
fn recover_compromised(env: &Env, repo: &str) -> crate::common::Run {
    env.run(&[
        "key",
        "rotate",
        repo,
        "targets",
        "snapshot",
        "timestamp",
        "--compromised",
    ])
}

/// A verifier pinned to `ids` with `threshold`.
fn verifier(repo: &str, ids: &[String], threshold: u64) -> Env {
    let env = Env::new();
    let mut args = vec!["pin", repo];
    args.extend(ids.iter().map(String::as_str));
    let t = threshold.to_string();
    args.extend(["--threshold", &t]);
    env.run(&args).ok();
    env
}

/// Three root holders (alice made the repository and holds its targets,
/// snapshot and timestamp keys; bob and carol hold one root key each),
/// threshold two, v1 signed.
struct Ceremony {
    _dir: tempfile::TempDir,
    repo: String,
    v1: String,
    alice: Env,
    bob: Env,
    carol: Env,
    ids: Vec<String>,
    carol_id: String,
}

impl Ceremony {
    fn new() -> Ceremony {
        let (dir, repo, v1) = layout();
        let alice = publisher();
        let (bob, bob_pub, _) = holder("bob");
        let (carol, carol_pub, carol_id) = holder("carol");
        let staged = alice.run(&[
            "init",
            &repo,
            "--root-key",
            bob_pub.to_str().expect("utf8"),
            "--root-key",
            carol_pub.to_str().expect("utf8"),
            "--root-threshold",
            "2",
        ]);
        let id = staged_id(&staged);
        // Nothing is published until a second holder signs the first root.
        Env::new()
            .run(&["verify", "--tofu", &format!("{repo}:v1")])
            .fails(1, "no trust data");
        alice.run(&["publish", &repo]).fails(1, "first root of");
        let listed = bob.run(&["staged", &repo]);
        assert!(
            listed.ok().contains("new root v1 keys: 1 of 2 needed (not met)"),
            "{}",
            listed.stdout
        );
        bob.run(&["approve", &repo, &id]).ok();
        alice.run(&["publish", &repo]).ok();
        alice.run(&["sign", &format!("{repo}:v1")]).ok();
        let (ids, threshold, version) = root_of(&alice, &repo);
        assert_eq!((ids.len(), threshold, version), (3, 2, 1));
        for env in [&bob, &carol] {
            let mut args = vec!["pin", repo.as_str()];
            args.extend(ids.iter().map(String::as_str));
            args.extend(["--threshold", "2"]);
            env.run(&args).ok();
        }
        Ceremony {
            _dir: dir,
            repo,
            v1,
            alice,
            bob,
            carol,
            ids,
            carol_id,
        }
    }

    fn r(&self, rest: &str) -> String {
        format!("{}{rest}", self.repo)
    }

    /// Alice stages root v2 with a new holder, dave, in carol's place;
    /// returns the change's id and dave's key id.
    fn stage_dave_for_carol(&self) -> (String, String) {
        let (_dave, dave_pub, dave_id) = holder("dave");
        let staged = self.alice.run(&[
            "root",
            &self.repo,
            "--add-key",
            dave_pub.to_str().expect("utf8"),
            "--remove-key",
            &self.carol_id,
        ]);
        (staged_id(&staged), dave_id)
    }

    /// A root v2 one valid signature short of a threshold of 2 is refused
    /// by `reader`'s verify and gate, and by alice's writer.
    fn root_v2_refused_everywhere(&self, reader: &Env) {
        let why = "root version 2: 1 valid signature(s) from authorised keys, threshold is 2";
        reader.run(&["verify", &self.r(":v1")]).fails(1, why);
        gate_refuses(reader, &self.r(":v1"), why);
        self.alice.run(&["sign", &self.r(":v1")]).fails(1, why);
    }
}

#[test]
fn a_two_of_three_root_is_made_by_three_holders_and_a_root_key_rotated_by_two() {
    let c = Ceremony::new();
    let pinned = verifier(&c.repo, &c.ids, 2);
    assert_eq!(pinned.run(&["verify", &c.r(":v1")]).ok().trim(), c.v1);

    // Dave replaces carol: alice stages root v2, bob signs it.
    let (id, dave_id) = c.stage_dave_for_carol();
    let listed = c.carol.run(&["staged", &c.repo]);
    let text = listed.ok();
    assert!(
        text.contains("old root v1 keys: 1 of 2 needed (not met)"),
        "{text}"
    );
    assert!(
        text.contains("new root v2 keys: 1 of 2 needed (not met)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("root role root: + key {dave_id}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("root role root: - key {}", c.carol_id)),
        "{text}"
    );
    // Short of both thresholds: publish refuses it, and nothing changes.
    c.alice.run(&["publish", &c.repo, &id]).fails(1, "not published");
    assert_eq!(root_of(&c.alice, &c.repo).2, 1);
    c.bob.run(&["approve", &c.repo, &id]).ok();
    c.alice.run(&["publish", &c.repo, &id]).ok();
    let (ids, threshold, version) = root_of(&c.alice, &c.repo);
    assert_eq!((threshold, version), (2, 2));
    assert!(ids.contains(&dave_id) && !ids.contains(&c.carol_id), "{ids:?}");

    // Verifiers pinned to the first root follow the chain: one with a
    // cache, and a new one.
    assert_eq!(pinned.run(&["verify", &c.r(":v1")]).ok().trim(), c.v1);
    let fresh = verifier(&c.repo, &c.ids, 2);
    assert_eq!(fresh.run(&["verify", &c.r(":v1")]).ok().trim(), c.v1);
    // Every root version stays in the trust data.
    let files = Attacker::layout(&layout_dir(&c.repo)).files();
    assert!(files.contains_key("1.root.json") && files.contains_key("2.root.json"));
    // Carol's key no longer counts: alone with bob it cannot meet the
    // old root's threshold for v3.
    let staged = c.carol.run(&["root", &c.repo, "--threshold", "1"]);
    let id = staged_id(&staged);
    let listed = c.bob.run(&["staged", &c.repo]);
    assert!(
        listed.ok().contains("old root v2 keys: 0 of 2 needed (not met)"),
        "{}",
        listed.stdout
    );
    c.alice.run(&["withdraw", &c.repo, &id]).ok();
}

/// The new root a holder of some root keys makes on their own: version
/// N+1 of the newest root, with `edit` applied, signed by `signers`.
fn forge_root(
    files: &std::collections::BTreeMap<String, Vec<u8>>,
    edit: impl FnOnce(&mut Root),
    signers: &[&PrivateKey],
) -> (String, Vec<u8>) {
    let name = newest(files, "root");
    let mut root: Signed<Root> = Signed::from_bytes("root", &files[&name]).expect("root");
    root.signed.version += 1;
    edit(&mut root.signed);
    let value = serde_json::to_value(&root.signed).expect("json");
    (
        format!("{}.root.json", root.signed.version),
        sign_json(&value, signers),
    )
}

fn tuf_key(key: &PrivateKey) -> vouch::tuf::metadata::Key {
    vouch::tuf::editor::tuf_key(&key.public())
}

/// Makes `key` the only key of every role of `root` with threshold one.
fn take_over(root: &mut Root, key: &PrivateKey) {
    let id = vouch::tuf::KeyId::from(key.public().key_id());
    root.keys = [(id.clone(), tuf_key(key))].into_iter().collect();
    for role in root.roles.values_mut() {
        role.keyids = vec![id.clone()];
        role.threshold = 1;
    }
}

#[test]
fn one_root_key_holder_cannot_make_a_new_root_count() {
    let c = Ceremony::new();
    let pinned = verifier(&c.repo, &c.ids, 2);
    assert_eq!(pinned.run(&["verify", &c.r(":v1")]).ok().trim(), c.v1);
    // Bob, one of the three root keys, makes himself sole owner: root v2
    // lists only a key of his (threshold 1), signed by his root key and
    // that key, and every role signed by it, `v1` moved to `evil`.
    let bob_root = private_key(&c.bob, "root", "ROOT-p");
    let own = PrivateKey::generate_ed25519().expect("key");
    let attacker = Attacker::layout(&layout_dir(&c.repo));
    let mut files = attacker.files();
    let (name, bytes) = forge_root(&files, |r| take_over(r, &own), &[&bob_root, &own]);
    files.insert(name, bytes);
    let evil = oci_image(&layout_dir(&c.repo), "evil", "not ours");
    let evil_hex = evil.trim_start_matches("sha256:").to_owned();
    let files = resign_targets(
        &files,
        |t| {
            t["targets"]["v1"]["hashes"] = json!({"sha256": evil_hex});
        },
        &own,
        &own,
        &own,
    );
    attacker.publish(&files);
    // Refused by the verifier with a cache, a new one, the gate, and the
    // owner's writer.
    c.root_v2_refused_everywhere(&pinned);
    c.root_v2_refused_everywhere(&verifier(&c.repo, &c.ids, 2));
}

#[test]
fn a_new_root_meeting_the_old_threshold_but_not_its_own_is_refused() {
    let c = Ceremony::new();
    let pinned = verifier(&c.repo, &c.ids, 2);
    assert_eq!(pinned.run(&["verify", &c.r(":v1")]).ok().trim(), c.v1);
    let alice_root = private_key(&c.alice, "root", "ROOT-p");
    let bob_root = private_key(&c.bob, "root", "ROOT-p");
    // Root v2 moves root to three new keys, threshold 2, and only one of
    // them signed: the old threshold is met (alice and bob), the new not.
    let new: Vec<PrivateKey> = (0..3)
        .map(|_| PrivateKey::generate_ed25519().expect("key"))
        .collect();
    let attacker = Attacker::layout(&layout_dir(&c.repo));
    let mut files = attacker.files();
    let (name, bytes) = forge_root(
        &files,
        |r| {
            let ids: Vec<vouch::tuf::KeyId> = new.iter().map(|k| k.public().key_id().into()).collect();
            for k in &new {
                r.keys.insert(k.public().key_id().into(), tuf_key(k));
            }
            let role = r.roles.get_mut("root").expect("root");
            role.keyids = ids;
            role.threshold = 2;
        },
        &[&alice_root, &bob_root, &new[0]],
    );
    files.insert(name, bytes);
    attacker.publish(&files);
    c.root_v2_refused_everywhere(&pinned);
}

#[test]
fn a_staged_root_short_of_its_own_threshold_is_not_published() {
    let c = Ceremony::new();
    // Alice and bob raise the root threshold to 3 while adding dave:
    // the old root's threshold is met, the new one (3 of 4) is not.
    let (dave, dave_pub, _) = holder("dave");
    let id = staged_id(&c.alice.run(&[
        "root",
        &c.repo,
        "--add-key",
        dave_pub.to_str().expect("utf8"),
        "--threshold",
        "3",
    ]));
    c.bob.run(&["approve", &c.repo, &id]).ok();
    let listed = c.alice.run(&["staged", &c.repo]);
    let text = listed.ok();
    assert!(text.contains("old root v1 keys: 2 of 2 needed (met)"), "{text}");
    assert!(
        text.contains("new root v2 keys: 2 of 3 needed (not met)"),
        "{text}"
    );
    c.alice.run(&["publish", &c.repo, &id]).fails(1, "its own keys");
    assert_eq!(root_of(&c.alice, &c.repo).2, 1);
    // Dave signs on his machine (pinned like the others): published.
    let mut args = vec!["pin", c.repo.as_str()];
    args.extend(c.ids.iter().map(String::as_str));
    args.extend(["--threshold", "2"]);
    dave.run(&args).ok();
    dave.run(&["approve", &c.repo, &id]).ok();
    c.alice.run(&["publish", &c.repo, &id]).ok();
    assert_eq!(root_of(&c.alice, &c.repo), {
        let (ids, _, _) = root_of(&c.alice, &c.repo);
        (ids, 3, 2)
    });
    let pinned = verifier(&c.repo, &c.ids, 2);
    assert_eq!(pinned.run(&["verify", &c.r(":v1")]).ok().trim(), c.v1);
}

/// One owner holding all four keys, `v1` signed, and a verifier.
fn owned() -> (tempfile::TempDir, String, String, Env, Env) {
    let (dir, repo, v1) = layout();
    let owner = publisher();
    let root = owner.run(&["init", &repo]).ok().trim().to_owned();
    owner.run(&["sign", &format!("{repo}:v1")]).ok();
    let reader = verifier(&repo, &[root], 1);
    assert_eq!(reader.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    (dir, repo, v1, owner, reader)
}

#[test]
fn after_a_targets_key_rotation_the_old_key_signs_nothing() {
    let (_dir, repo, v1, owner, reader) = owned();
    let old_targets = private_key(&owner, "targets", "TARGETS-p");
    let root_ids = root_of(&owner, &repo).0;
    let snapshot = private_key(&owner, "snapshot", "SNAPSHOT-p");
    let timestamp = private_key(&owner, "timestamp", "TIMESTAMP-p");
    let rotated = owner.run(&["key", "rotate", &repo, "targets"]);
    rotated.ok();
    assert!(rotated.stderr.contains("Published"), "{}", rotated.stderr);
    assert_eq!(reader.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    // Signing goes on with the new key.
    owner.run(&["sign", &format!("{repo}:v1")]).ok();
    // Whoever kept the old targets key (and the online keys) signs a new
    // targets version with it: refused everywhere.
    let dir = layout_dir(&repo);
    let evil = oci_image(&dir, "evil", "not ours");
    let attacker = Attacker::layout(&dir);
    let files = resign_targets(
        &attacker.files(),
        |t| {
            t["targets"]["evil"] =
                json!({"length": 1, "hashes": {"sha256": evil.trim_start_matches("sha256:")}});
        },
        &old_targets,
        &snapshot,
        &timestamp,
    );
    attacker.publish(&files);
    reader
        .run(&["verify", &format!("{repo}:evil")])
        .fails(1, "targets version 4: 0 valid signature(s)");
    let fresh = verifier(&repo, &root_ids, 1);
    fresh
        .run(&["verify", &format!("{repo}:v1")])
        .fails(1, "targets version 4: 0 valid signature(s)");
    gate_refuses(
        &reader,
        &format!("{repo}:evil"),
        "targets version 4: 0 valid signature(s)",
    );
    owner
        .run(&["sign", &format!("{repo}:v1")])
        .fails(1, "targets version 4 lists content that none of its keys signed");
}

#[test]
fn snapshot_and_timestamp_rotation_keeps_cached_clients_working() {
    let (_dir, repo, v1, owner, reader) = owned();
    let before = root_of(&owner, &repo).0;
    let rotated = owner.run(&["key", "rotate", &repo, "snapshot", "timestamp"]);
    rotated.ok();
    assert!(rotated.stderr.contains("Published"), "{}", rotated.stderr);
    // The reader cached the old snapshot and timestamp: it drops them and
    // goes on (TUF 5.3.11), through verify and the gate.
    assert_eq!(reader.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    let dest = reader.home().join("pulled");
    reader
        .run_with(
            &[
                "pull",
                &format!("{repo}:v1"),
                "--to",
                &format!("oci:{}:v1", dest.display()),
            ],
            &[("VOUCH_CONTENT_TRUST", "1")],
            "",
        )
        .ok();
    // Publishing goes on with the new online keys.
    owner.run(&["refresh", &repo]).ok();
    owner.run(&["sign", &format!("{repo}:v1")]).ok();
    assert_eq!(reader.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    assert_eq!(root_of(&owner, &repo).0, before, "root keys unchanged");
}

#[test]
fn a_stolen_targets_key_is_recovered_from_the_publishers_record() {
    let (_dir, repo, v1, owner, reader) = owned();
    // The thief copies the targets, snapshot and timestamp keys and
    // publishes: `evil` signed, `v1` moved to another image.
    let thief = publisher();
    for role in ["targets", "snapshot", "timestamp"] {
        crate::common::copy_key(&owner, &thief, role, false);
    }
    let root = root_of(&owner, &repo).0;
    thief.run(&["pin", &repo, &root[0]]).ok();
    let dir = layout_dir(&repo);
    let moved = oci_image(&dir, "v1", "the thief's v1");
    thief
        .run(&["sign", &format!("{repo}:v1"), &format!("{repo}:evil")])
        .ok();
    // The reader verified the thief's state (and cached it).
    assert_eq!(reader.run(&["verify", &format!("{repo}:v1")]).ok().trim(), moved);
    reader.run(&["verify", &format!("{repo}:evil")]).ok();

    // Before anyone notices, the owner signs v2 on top of the thief's
    // state: what the thief added is carried over, not made here.
    let v2 = oci_image(&dir, "v2", "release two");
    owner.run(&["sign", &format!("{repo}:v2")]).ok();
    // Recovery on the owner's machine: new keys, targets rebuilt from
    // what the owner made; the report names the thief's tags.
    let recovered = recover_compromised(&owner, &repo);
    let report = recovered.ok();
    assert!(
        report.contains(&format!("changed v1 {moved} -> {v1}")),
        "{report}"
    );
    assert!(report.contains("changed evil sha256:"), "{report}");
    assert!(report.contains("-> unsigned"), "{report}");
    // The reader that cached the thief's versions: the thief's tags are
    // refused, v1 verifies as the owner signed it.
    reader
        .run(&["verify", &format!("{repo}:evil")])
        .fails(1, "not signed");
    reader
        .run(&["verify", &format!("{repo}:v1")])
        .fails(1, "digest mismatch");
    assert_eq!(reader.run(&["verify", &format!("{repo}@{v1}")]).ok().trim(), v1);
    gate_refuses(&reader, &format!("{repo}:evil"), "not signed");
    assert_eq!(reader.run(&["verify", &format!("{repo}:v2")]).ok().trim(), v2);
    // The thief's keys sign nothing any more: the writer refuses, and
    // metadata signed with them is refused.
    thief.run(&["sign", &format!("{repo}:evil")]).fails(2, "no key");
    let stolen = |role: &str, p: &str| private_key(&thief, role, p);
    let attacker = Attacker::layout(&dir);
    let files = resign_targets(
        &attacker.files(),
        |t| {
            t["targets"]["evil"] = json!({"length": 1, "hashes": {"sha256": "00".repeat(32)}});
        },
        &stolen("targets", "TARGETS-p"),
        &stolen("snapshot", "SNAPSHOT-p"),
        &stolen("timestamp", "TIMESTAMP-p"),
    );
    attacker.publish(&files);
    reader
        .run(&["verify", &format!("{repo}:evil")])
        .fails(1, "timestamp version 6: 0 valid signature(s)");
}

#[test]
fn expired_root_targets_and_timestamp_are_repaired_with_the_keys_at_hand() {
    let (_dir, repo, v1, owner, reader) = owned();
    let root_id = root_of(&owner, &repo).0.remove(0);
    // 400 days on, every role has expired (root's year included).
    let later = |env: &Env, args: &[&str]| {
        env.run_with(
            args,
            &[("LD_PRELOAD", &faketime_lib()), ("FAKETIME", "+400d")],
            "",
        )
    };
    let refused = later(&reader, &["verify", &format!("{repo}:v1")]);
    refused.fails(1, "expired");
    assert!(
        refused.stderr.contains(&format!("vouch renew {repo} root")),
        "{}",
        refused.stderr
    );
    let listed = later(&owner, &["renew", &repo, "--list"]);
    let text = listed.ok();
    for role in ["root", "targets", "snapshot", "timestamp"] {
        assert!(
            text.lines().any(|l| l.starts_with(role) && l.contains("EXPIRED")),
            "{text}"
        );
    }
    later(&owner, &["renew", &repo]).ok();
    assert_eq!(later(&reader, &["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    // A new machine pinned to the (expired) first root walks the chain to
    // the renewed one: the pinned root is not refused for its expiry.
    let fresh = verifier(&repo, &[root_id], 1);
    assert_eq!(later(&fresh, &["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    assert_eq!(root_of(&owner, &repo).2, 2);
}

#[test]
fn a_denied_root_key_is_accepted_by_no_pin() {
    let (_dir, repo, _v1, owner, reader) = owned();
    let root_id = root_of(&owner, &repo).0.remove(0);
    reader.run(&["deny", &root_id]).ok();
    reader.run(&["verify", &format!("{repo}:v1")]).fails(1, "pin");
    reader
        .run(&["pin", &repo, &root_id, "--replace"])
        .fails(1, "deny list");
    let log = std::fs::read_to_string(reader.trust().join("pins.log")).expect("log");
    assert!(log.contains(&format!("deny {root_id}")), "{log}");
    // Not on first use either.
    let newcomer = Env::new();
    newcomer.run(&["deny", &root_id]).ok();
    newcomer
        .run(&["verify", "--tofu", &format!("{repo}:v1")])
        .fails(1, "deny list");
}

#[test]
fn roles_expiring_soon_are_listed_with_their_renewal() {
    let (_dir, repo, _v1, owner, _reader) = owned();
    let out: Value =
        serde_json::from_str(owner.run(&["inspect", &repo, "--within", "366d"]).ok()).expect("json");
    let expiring = out["expiring"].as_array().expect("expiring");
    let root = expiring
        .iter()
        .find(|e| e["role"] == "root")
        .expect("root listed");
    assert_eq!(root["renew"], format!("vouch renew {repo} root"));
    let quiet: Value = serde_json::from_str(owner.run(&["inspect", &repo]).ok()).expect("json");
    assert!(quiet["expiring"].as_array().expect("expiring").is_empty());
    // Inside the window (the online keys keeping the timestamp fresh),
    // sign says so.
    let at = [("LD_PRELOAD", faketime_lib()), ("FAKETIME", "+320d".to_owned())];
    let at: Vec<(&str, &str)> = at.iter().map(|(k, v)| (*k, v.as_str())).collect();
    owner.run_with(&["refresh", &repo], &at, "").ok();
    let later = owner.run_with(&["sign", &format!("{repo}:v1")], &at, "");
    later.ok();
    assert!(
        later
            .stderr
            .contains(&format!("renew it with `vouch renew {repo} root`")),
        "{}",
        later.stderr
    );
}

/// The files of `repo`'s trust data (a layout), written as a TUF
/// repository's metadata directory.
fn export(repo: &str, to: &Path) {
    let meta = to.join("metadata");
    std::fs::create_dir_all(&meta).expect("mkdir");
    for (name, bytes) in Attacker::layout(&layout_dir(repo)).files() {
        std::fs::write(meta.join(name), bytes).expect("write");
    }
}

#[test]
fn python_tuf_and_tough_follow_a_root_chain_vouch_rotated() {
    let c = Ceremony::new();
    let (id, _) = c.stage_dave_for_carol();
    c.bob.run(&["approve", &c.repo, &id]).ok();
    c.alice.run(&["publish", &c.repo]).ok();
    let id = staged_id(&c.alice.run(&["key", "rotate", &c.repo, "targets", "timestamp"]));
    c.bob.run(&["approve", &c.repo, &id]).ok();
    c.alice.run(&["publish", &c.repo]).ok();
    assert_eq!(root_of(&c.alice, &c.repo).2, 3);
    let out = tempfile::tempdir().expect("tmp");
    export(&c.repo, out.path());
    let first = out.path().join("metadata/1.root.json");

    let server = crate::common::py::HttpServer::serve(out.path());
    let work = tempfile::tempdir().expect("tmp");
    let (code, stdout, stderr) = crate::common::py::run_script(
        "ngclient_lookup.py",
        &[
            first.to_str().expect("utf8"),
            &server.url("metadata/"),
            work.path().to_str().expect("utf8"),
            "v1",
        ],
    );
    assert_eq!(code, 0, "ngclient: {stdout}{stderr}");
    assert!(
        stdout.contains(&format!("v1 {}", c.v1.trim_start_matches("sha256:"))),
        "{stdout}"
    );

    let root = std::fs::read(&first).expect("root");
    let meta = url::Url::from_directory_path(out.path().join("metadata")).expect("url");
    let targets = url::Url::from_directory_path(out.path().join("targets")).expect("url");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let loaded = tough::RepositoryLoader::new(&root, meta, targets)
            .load()
            .await
            .expect("tough follows the chain");
        assert_eq!(loaded.root().signed.version.get(), 3);
        let names: Vec<String> = loaded.all_targets().map(|(n, _)| n.raw().to_owned()).collect();
        assert!(names.iter().any(|n| n == "v1"), "{names:?}");
    });
}

#[test]
fn a_keyless_writer_cannot_get_a_first_root_of_its_own_published() {
    let (_dir, repo, _v1) = layout();
    let alice = publisher();
    let (bob, bob_pub, _) = holder("bob");
    let id = staged_id(&alice.run(&[
        "init",
        &repo,
        "--root-key",
        bob_pub.to_str().expect("utf8"),
        "--root-threshold",
        "2",
    ]));
    // The attacker reads alice's staged first root and stages one of its
    // own beside it: the same online keys (so alice's machine could sign
    // under it), a root key of the attacker's, threshold 1, self-signed:
    // complete as far as its own threshold goes.
    let attacker = Attacker::layout(&layout_dir(&repo));
    let staged = bob.run(&["staged", &repo]);
    assert!(staged.ok().contains(&id[..12]), "{}", staged.stdout);
    let tags = std::fs::read_to_string(layout_dir(&repo).join("index.json")).expect("index");
    assert!(tags.contains(&format!("vouch-stage-{id}")), "{tags}");
    let theirs = PrivateKey::generate_ed25519().expect("key");
    let ours_root = {
        let listing = bob.run(&["staged", &repo]);
        let text = listing.ok().to_owned();
        // The online key ids alice's first root lists.
        let ids: Vec<String> = text
            .lines()
            .filter(|l| {
                l.contains("root role targets: + key")
                    || l.contains("root role snapshot: + key")
                    || l.contains("root role timestamp: + key")
            })
            .map(|l| {
                l.split("+ key ")
                    .nth(1)
                    .expect("id")
                    .split(' ')
                    .next()
                    .expect("id")
                    .to_owned()
            })
            .collect();
        assert_eq!(ids.len(), 3, "{text}");
        ids
    };
    let files_key = |id: &str| -> Value {
        // The public key objects, from alice's proposal in the store.
        let index: Value = serde_json::from_str(&tags).expect("json");
        let digest = index["manifests"]
            .as_array()
            .expect("manifests")
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == format!("vouch-stage-{id}"))
            .expect("alice's proposal")["digest"]
            .as_str()
            .expect("digest")
            .to_owned();
        let blobs = layout_dir(&repo).join("blobs/sha256");
        let manifest: Value = serde_json::from_slice(
            &std::fs::read(blobs.join(digest.trim_start_matches("sha256:"))).expect("manifest"),
        )
        .expect("json");
        let layer = manifest["layers"][0]["digest"]
            .as_str()
            .expect("layer")
            .to_owned();
        serde_json::from_slice(
            &std::fs::read(blobs.join(layer.trim_start_matches("sha256:"))).expect("layer"),
        )
        .expect("json")
    };
    let proposal = files_key(&id);
    let mut root = proposal["roles"]["root"]["metadata"]["signed"].clone();
    let their_id = theirs.public().key_id().to_string();
    let keys = root["keys"].as_object_mut().expect("keys");
    keys.retain(|k, _| ours_root.contains(k));
    keys.insert(their_id.clone(), theirs.public().tuf_json());
    root["roles"]["root"] = json!({"keyids": [their_id], "threshold": 1});
    let signed = serde_json::from_slice::<Value>(&sign_json(&root, &[&theirs])).expect("json");
    let mut forged = proposal.clone();
    forged["roles"]["root"]["metadata"] = signed;
    let forged_id = attacker.stage(&forged);
    assert_ne!(forged_id, id);
    // A second init does not make another first root over it.
    alice.run(&["init", &repo]).fails(2, "staged already");
    // Alice's publish (a cron, say) publishes only the first root she
    // staged, which still needs bob: nothing is published.
    alice.run(&["publish", &repo]).fails(1, "first root of");
    assert!(!attacker.has_trust_data(), "a first root was published");
    // Bob sees both; the forged one does not list his key, and a prefix
    // does not name a first root.
    bob.run(&["approve", &repo, &forged_id]).fails(2, "no key given");
    bob.run(&["approve", &repo, &id[..12]]).fails(2, "whole id");
    bob.run(&["approve", &repo, &id]).ok();
    alice.run(&["publish", &repo]).ok();
    let (ids, threshold, _) = root_of(&alice, &repo);
    assert_eq!(threshold, 2);
    assert!(!ids.contains(&their_id), "{ids:?}");
}

#[test]
fn a_denied_root_key_counts_for_no_root_in_the_chain() {
    let (_dir, repo, v1) = layout();
    let owner = publisher();
    let (bob, bob_pub, bob_id) = holder("bob");
    owner
        .run(&["init", &repo, "--root-key", bob_pub.to_str().expect("utf8")])
        .ok();
    owner.run(&["sign", &format!("{repo}:v1")]).ok();
    let (ids, threshold, _) = root_of(&owner, &repo);
    assert_eq!((ids.len(), threshold), (2, 1));
    let careful = verifier(&repo, &ids, 1);
    let careless = verifier(&repo, &ids, 1);
    for env in [&careful, &careless] {
        assert_eq!(env.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    }
    // Bob's root key is stolen; one verifier denies it.
    careful.run(&["deny", &bob_id]).ok();
    // The thief's root v2: only his key, everything re-signed, v1 moved.
    let stolen = private_key(&bob, "root", "ROOT-p");
    let attacker = Attacker::layout(&layout_dir(&repo));
    let mut files = attacker.files();
    let (name, bytes) = forge_root(&files, |r| take_over(r, &stolen), &[&stolen]);
    files.insert(name, bytes);
    let evil = oci_image(&layout_dir(&repo), "evil", "not ours");
    let evil_hex = evil.trim_start_matches("sha256:").to_owned();
    let files = resign_targets(
        &files,
        |t| t["targets"]["v1"]["hashes"] = json!({"sha256": evil_hex}),
        &stolen,
        &stolen,
        &stolen,
    );
    attacker.publish(&files);
    // A 1-of-2 root lets one holder rotate: the verifier that did not deny
    // the key follows the thief; the one that did refuses, at verify and
    // at the gate.
    careful
        .run(&["verify", &format!("{repo}:v1")])
        .fails(1, "root version 2: 0 valid signature(s)");
    gate_refuses(&careful, &format!("{repo}:v1"), "root version 2");
    careless
        .run(&["verify", &format!("{repo}:v1")])
        .fails(1, "digest mismatch");
}

#[test]
fn a_root_ceremony_and_rotations_on_a_registry() {
    let reg = crate::common::registry::Registry::start();
    let build = Env::new();
    let v1 = crate::common::registry::push(&build, &reg, "keys/app", "v1", "one\n");
    let repo = format!("{}/keys/app", reg.addr);
    let alice = publisher();
    let (bob, bob_pub, _) = holder("bob");
    let id = staged_id(&alice.run(&[
        "init",
        &repo,
        "--root-key",
        bob_pub.to_str().expect("utf8"),
        "--root-threshold",
        "2",
    ]));
    bob.run(&["approve", &repo, &id]).ok();
    alice.run(&["publish", &repo]).ok();
    alice.run(&["sign", &format!("{repo}:v1")]).ok();
    let (ids, _, _) = root_of(&alice, &repo);
    let reader = verifier(&repo, &ids, 2);
    assert_eq!(reader.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    let mut args = vec!["pin", repo.as_str()];
    args.extend(ids.iter().map(String::as_str));
    args.extend(["--threshold", "2"]);
    bob.run(&args).ok();
    // Targets and timestamp keys replaced in root v2, which bob co-signs.
    let id = staged_id(&alice.run(&["key", "rotate", &repo, "targets", "timestamp"]));
    alice.run(&["publish", &repo, &id]).fails(1, "keys of root v1");
    bob.run(&["approve", &repo, &id]).ok();
    alice.run(&["publish", &repo, &id]).ok();
    assert_eq!(root_of(&alice, &repo).2, 2);
    assert_eq!(reader.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    alice.run(&["refresh", &repo]).ok();
    assert_eq!(reader.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
}

#[test]
fn a_timestamp_key_made_on_the_publishing_machine_replaces_the_old_one() {
    let (_dir, repo, v1, owner, reader) = owned();
    // The owner hands the online keys to CI; CI makes the new timestamp
    // key; the owner puts it in root v2; CI publishes with it.
    let ci = publisher();
    for role in ["snapshot", "timestamp"] {
        crate::common::copy_key(&owner, &ci, role, true);
    }
    let root = root_of(&owner, &repo).0;
    ci.run(&["pin", &repo, &root[0]]).ok();
    let public = ci.home().join("ci-timestamp.pub");
    let new_id = ci
        .run(&[
            "key",
            "generate",
            "ci-timestamp",
            "--role",
            "timestamp",
            "--public-out",
            public.to_str().expect("utf8"),
        ])
        .ok()
        .trim()
        .to_owned();
    let id = staged_id(&owner.run(&[
        "key",
        "rotate",
        &repo,
        "timestamp",
        "--key",
        public.to_str().expect("utf8"),
    ]));
    ci.run(&["publish", &repo, &id]).ok();
    ci.run(&["refresh", &repo]).ok();
    assert_eq!(reader.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    let out: Value = serde_json::from_str(reader.run(&["inspect", &repo]).ok()).expect("json");
    let timestamp = out["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"] == "timestamp")
        .expect("timestamp")
        .clone();
    assert_eq!(timestamp["keys"], json!([new_id]));
}

#[test]
fn recovery_keeps_what_the_owner_staged_and_ci_published() {
    let (_dir, repo, v1, owner, reader) = owned();
    // The team setup: the owner holds root and targets, CI the online
    // keys; the owner's later changes are staged and published by CI.
    let ci = publisher();
    for role in ["snapshot", "timestamp"] {
        crate::common::copy_key(&owner, &ci, role, true);
    }
    let root = root_of(&owner, &repo).0;
    ci.run(&["pin", &repo, &root[0]]).ok();
    let dir = layout_dir(&repo);
    let v2 = oci_image(&dir, "v2", "release two");
    staged_id(&owner.run(&["sign", &format!("{repo}:v2")]));
    ci.run(&["publish", &repo]).ok();
    // A thief with the targets key and CI's keys publishes `evil`.
    let thief = publisher();
    crate::common::copy_key(&owner, &thief, "targets", false);
    for role in ["snapshot", "timestamp"] {
        crate::common::copy_key(&ci, &thief, role, false);
    }
    thief.run(&["pin", &repo, &root[0]]).ok();
    thief.run(&["sign", &format!("{repo}:evil")]).ok();
    reader.run(&["verify", &format!("{repo}:evil")]).ok();
    // The owner recovers: v1 (published here) and v2 (staged here,
    // published by CI) stay; evil goes.
    let report = recover_compromised(&owner, &repo);
    let text = report.ok();
    assert!(
        text.contains("changed evil sha256:") && text.contains("-> unsigned"),
        "{text}"
    );
    assert!(
        !text.contains("changed v1") && !text.contains("changed v2"),
        "{text}"
    );
    assert_eq!(reader.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    assert_eq!(reader.run(&["verify", &format!("{repo}:v2")]).ok().trim(), v2);
    reader
        .run(&["verify", &format!("{repo}:evil")])
        .fails(1, "not signed");
}

#[test]
fn a_denied_key_in_the_pinned_root_is_passed_over_for_the_next_root() {
    let c = Ceremony::new();
    // Root v1 stands on alice's and bob's signatures; a verifier pins
    // alice's key alone.
    let id_of = |env: &Env| private_key(env, "root", "ROOT-p").public().key_id().to_string();
    let (alice_id, bob_id) = (id_of(&c.alice), id_of(&c.bob));
    let reader = verifier(&c.repo, std::slice::from_ref(&alice_id), 1);
    assert_eq!(reader.run(&["verify", &c.r(":v1")]).ok().trim(), c.v1);
    // Bob's key is stolen: denied here, v1 no longer stands.
    reader.run(&["deny", &bob_id]).ok();
    reader.run(&["verify", &c.r(":v1")]).fails(1, "pin");
    // The holders publish root v2 without bob (alice and carol sign).
    let id = staged_id(&c.alice.run(&["root", &c.repo, "--remove-key", &bob_id]));
    c.carol.run(&["approve", &c.repo, &id]).ok();
    c.alice.run(&["publish", &c.repo, &id]).ok();
    // The reader starts from v2, the first root that stands without bob.
    assert_eq!(reader.run(&["verify", &c.r(":v1")]).ok().trim(), c.v1);
}

#[test]
fn a_thief_added_signer_is_dropped_and_releases_rebuilt_for_its_signers() {
    let (_dir, repo, _v1, owner, reader) = owned();
    let dir = layout_dir(&repo);
    let root = root_of(&owner, &repo).0;
    // Sam signs (threshold 1); the owner, who holds the online keys,
    // publishes.
    let sam = publisher();
    let sam_pub = sam.home().join("sam.pub");
    sam.run(&[
        "key",
        "generate",
        "sam",
        "--public-out",
        sam_pub.to_str().expect("utf8"),
    ])
    .ok();
    owner
        .run(&[
            "signer",
            "add",
            "sam",
            &repo,
            "--key",
            sam_pub.to_str().expect("utf8"),
        ])
        .ok();
    sam.run(&["pin", &repo, &root[0]]).ok();
    let two = oci_image(&dir, "2.0", "release two");
    staged_id(&sam.run(&["sign", &format!("{repo}:2.0")]));
    owner.run(&["publish", &repo]).ok();
    // The thief (targets and online keys) adds a signer of their own and
    // signs `evil` through it.
    let thief = publisher();
    for role in ["targets", "snapshot", "timestamp"] {
        crate::common::copy_key(&owner, &thief, role, false);
    }
    thief.run(&["pin", &repo, &root[0]]).ok();
    let mallory_pub = thief.home().join("mallory.pub");
    thief
        .run(&[
            "key",
            "generate",
            "mallory",
            "--public-out",
            mallory_pub.to_str().expect("utf8"),
        ])
        .ok();
    thief
        .run(&[
            "signer",
            "add",
            "mallory",
            &repo,
            "--key",
            mallory_pub.to_str().expect("utf8"),
        ])
        .ok();
    thief
        .run(&["sign", &format!("{repo}:evil"), "--signer", "mallory"])
        .ok();
    reader.run(&["verify", &format!("{repo}:evil")]).ok();
    // Recovery: mallory's delegation goes; releases is rebuilt from what
    // the owner published (sam's 2.0, not mallory's evil) and staged for
    // sam, who approves; the report names evil.
    let recovered = recover_compromised(&owner, &repo);
    let id = staged_id(&recovered);
    assert!(
        recovered.stdout.contains("changed evil sha256:"),
        "{}",
        recovered.stdout
    );
    let listed = sam.run(&["staged", &repo]);
    let text = listed.ok();
    assert!(text.contains("- evil"), "{text}");
    assert!(text.contains("delegation - targets/mallory"), "{text}");
    sam.run(&["approve", &repo, &id]).ok();
    owner.run(&["publish", &repo, &id]).ok();
    reader
        .run(&["verify", &format!("{repo}:evil")])
        .fails(1, "not signed");
    assert_eq!(reader.run(&["verify", &format!("{repo}:2.0")]).ok().trim(), two);
}

#[test]
fn an_expired_root_is_renewed_by_holders_without_a_verified_copy() {
    let c = Ceremony::new();
    let at = [("LD_PRELOAD", faketime_lib()), ("FAKETIME", "+400d".to_owned())];
    let at: Vec<(&str, &str)> = at.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let pinned = verifier(&c.repo, &c.ids, 2);
    pinned
        .run_with(&["verify", &c.r(":v1")], &at, "")
        .fails(1, "expired");
    // Alice stages the renewal; carol, who never verified the repository,
    // reads it (warned) and approves; alice publishes.
    let id = staged_id(&c.alice.run_with(&["renew", &c.repo], &at, ""));
    let listed = c.carol.run_with(&["staged", &c.repo], &at, "");
    assert!(listed.stderr.contains("no verified copy"), "{}", listed.stderr);
    c.carol.run_with(&["approve", &c.repo, &id], &at, "").ok();
    c.alice.run_with(&["publish", &c.repo, &id], &at, "").ok();
    assert_eq!(
        pinned.run_with(&["verify", &c.r(":v1")], &at, "").ok().trim(),
        c.v1
    );
}

#[test]
fn a_lost_root_threshold_is_replaced_and_repinned() {
    let (_dir, repo, _v1, owner, reader) = owned();
    let old_root = root_of(&owner, &repo).0;
    // The root key is lost: a new root over the old trust data.
    let fresh = publisher();
    fresh.run(&["init", &repo]).fails(2, "already has trust data");
    let new_root = fresh.run(&["init", &repo, "--replace"]).ok().trim().to_owned();
    fresh.run(&["sign", &format!("{repo}:v1")]).ok();
    // Verifiers refuse it until they deny the old root and re-pin.
    reader
        .run(&["verify", &format!("{repo}:v1")])
        .fails(1, "valid signature(s)");
    reader.run(&["deny", &old_root[0]]).ok();
    reader.run(&["pin", &repo, &new_root]).fails(1, "pinned to 1 of");
    reader.run(&["pin", &repo, &new_root, "--replace"]).ok();
    reader.run(&["verify", &format!("{repo}:v1")]).ok();
    let log = std::fs::read_to_string(fresh.trust().join("pins.log")).expect("log");
    assert!(log.contains("init --replace"), "{log}");
}
