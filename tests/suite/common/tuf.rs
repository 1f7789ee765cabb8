//! Builders for TUF test repositories and attack scenarios. Keys come from
//! fixed seeds and Ed25519 signatures are deterministic, so the fixture
//! folders in `testdata/tuf/` are reproducible (`fixtures_are_reproducible`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime, macros::datetime};
use vouch::store::tuf_repo_dir::write_metadata;
use vouch::tuf::editor::{DelegatedPaths, Delegation, Expiries, MetadataEditor, RoleSetup};
use vouch::tuf::metadata::{KeyId, RoleName, TargetFile};
use vouch_keys::PrivateKey;

/// When the fixture metadata was signed.
pub const BASE: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);
/// "Now" for the client in attack tests: one day later.
pub const NOW: OffsetDateTime = datetime!(2026-01-02 00:00:00 UTC);

/// A deterministic Ed25519 key.
pub fn key(seed: u8) -> PrivateKey {
    PrivateKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}

/// The keys of a test repository.
pub struct Keys {
    pub root: PrivateKey,
    pub targets: PrivateKey,
    pub snapshot: PrivateKey,
    pub timestamp: PrivateKey,
    pub delegate: PrivateKey,
    pub attacker: PrivateKey,
}

pub fn keys() -> Keys {
    Keys {
        root: key(1),
        targets: key(2),
        snapshot: key(3),
        timestamp: key(4),
        delegate: key(5),
        attacker: key(66),
    }
}

/// Content and metadata of a target.
pub fn target(content: &[u8]) -> TargetFile {
    use sha2::Digest;
    TargetFile {
        length: content.len() as u64,
        hashes: BTreeMap::from([("sha256".to_owned(), hex::encode(sha2::Sha256::digest(content)))]),
        custom: None,
        extra: Default::default(),
    }
}

pub const APP: &[u8] = b"app image manifest v1";
pub const RELEASE: &[u8] = b"release artifact";

/// A signed repository: target `app` in `targets`, target `apps/rel` in
/// delegated role `releases` (paths `apps/*`, terminating).
pub fn base_repo(k: &Keys, expiries: Expiries) -> MetadataEditor {
    base_repo_listing_hashes(k, expiries, true)
}

/// [`base_repo`], with snapshot listing each targets role's hash (vouch's
/// way) or only its version (as many standard repositories do).
pub fn base_repo_listing_hashes(k: &Keys, expiries: Expiries, hashes: bool) -> MetadataEditor {
    let others = [k.targets.public(), k.snapshot.public(), k.timestamp.public()];
    let mut repo = MetadataEditor::create_single_key(&k.root, others.each_ref(), true, BASE, expiries)
        .expect("repository");
    repo.snapshot_lists_hashes = hashes;
    repo.add_target("targets", "app", target(APP), BASE)
        .expect("add app");
    repo.add_delegation(
        "targets",
        Delegation {
            name: "releases",
            keys: &[k.delegate.public()],
            threshold: 1,
            paths: DelegatedPaths::Paths(vec!["apps/*".to_owned()]),
            terminating: true,
        },
        BASE,
    )
    .expect("delegate");
    repo.add_target("releases", "apps/rel", target(RELEASE), BASE)
        .expect("add rel");
    commit(&mut repo, k);
    repo
}

/// Signs every unsigned targets role with the targets and delegate keys,
/// then a new snapshot and timestamp.
pub fn commit(repo: &mut MetadataEditor, k: &Keys) {
    repo.sign_targets_roles(&k.targets).expect("sign targets");
    repo.sign_targets_roles(&k.delegate).expect("sign delegated");
    repo.bump_snapshot(BASE);
    repo.snapshot.sign(&k.snapshot).expect("sign snapshot");
    repo.bump_timestamp(BASE).expect("timestamp");
    repo.timestamp.sign(&k.timestamp).expect("sign timestamp");
}

/// Files of a scenario: the client's trusted metadata and what the
/// repository serves.
#[derive(Default)]
pub struct Scenario {
    pub trusted: BTreeMap<String, Vec<u8>>,
    pub served: BTreeMap<String, Vec<u8>>,
}

impl Scenario {
    /// The client trusts the repository's first root only.
    pub fn new(repo: &MetadataEditor) -> Scenario {
        let mut s = Scenario::default();
        s.trusted
            .insert("root.json".to_owned(), repo.root_history[0].clone());
        s.serve(repo);
        s
    }

    /// Adds the repository's current files (metadata and target content).
    pub fn serve(&mut self, repo: &MetadataEditor) {
        let dir = tempfile::tempdir().expect("tmp");
        write_metadata(repo, dir.path()).expect("write");
        for entry in std::fs::read_dir(dir.path().join("metadata")).expect("dir") {
            let p = entry.expect("entry").path();
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            self.served
                .insert(format!("metadata/{name}"), std::fs::read(&p).expect("read"));
        }
        self.served.insert(
            format!("targets/{}.app", target(APP).hashes["sha256"]),
            APP.to_vec(),
        );
        self.served.insert(
            format!("targets/apps/{}.rel", target(RELEASE).hashes["sha256"]),
            RELEASE.to_vec(),
        );
    }

    /// Makes the client trust `role` as the repository has it now.
    pub fn trust(&mut self, repo: &MetadataEditor, role: &str) {
        let bytes = match role {
            "timestamp" => repo.timestamp.to_bytes(),
            "snapshot" => repo.snapshot.to_bytes(),
            "root" => Ok(repo.root_history.last().expect("root").clone()),
            other => repo.targets[other].to_bytes(),
        }
        .expect("bytes");
        self.trusted.insert(format!("{role}.json"), bytes);
    }

    pub fn write(&self, dir: &Path) {
        for (sub, files) in [("trusted", &self.trusted), ("repo", &self.served)] {
            for (name, bytes) in files {
                let p = dir.join(sub).join(name);
                std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
                std::fs::write(p, bytes).expect("write");
            }
        }
    }
}

/// Re-serialises metadata with its old signatures after `edit`.
fn tamper(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).expect("json");
    edit(&mut v["signed"]);
    vouch::tuf::metadata::canonical(&v).expect("canonical")
}

/// Every attack scenario, by name. The expectation is documented beside
/// each test in `tests/suite/tuf_attacks.rs`.
pub fn scenarios() -> BTreeMap<&'static str, Scenario> {
    let k = keys();
    let mut out = BTreeMap::new();

    // A good repository, for the fast path and the download tests.
    let repo = base_repo(&k, Expiries::default());
    out.insert("valid", Scenario::new(&repo));

    // Arbitrary package: targets content changed after signing (with a
    // snapshot that lists versions only, so that the signature is what
    // stands between the client and the edit; vouch's own snapshots also
    // pin the hash).
    let plain = base_repo_listing_hashes(&k, Expiries::default(), false);
    let mut s = Scenario::new(&plain);
    let f = format!(
        "metadata/{}.targets.json",
        plain.targets["targets"].signed.version
    );
    let evil = tamper(&s.served[&f], |signed| {
        signed["targets"]["app"]["hashes"]["sha256"] = serde_json::json!("00".repeat(32));
    });
    s.served.insert(f, evil);
    out.insert("arbitrary_package", s);

    // Rollback of each role: the client trusts a newer state.
    let mut newer = repo.clone();
    newer
        .add_target("targets", "app2", target(b"two"), BASE)
        .expect("add");
    newer
        .add_target("releases", "apps/rel2", target(b"rel2"), BASE)
        .expect("add");
    commit(&mut newer, &k);
    let mut s = Scenario::new(&repo);
    s.trust(&newer, "timestamp");
    out.insert("rollback_timestamp", s);

    // Snapshot: a newer timestamp that lists an older snapshot.
    let mut s = Scenario::new(&repo);
    s.trust(&newer, "timestamp");
    let mut back = repo.clone();
    back.timestamp.signed.version = newer.timestamp.signed.version + 1;
    back.timestamp.signatures.clear();
    back.timestamp.sign(&k.timestamp).expect("sign");
    s.served.insert(
        "metadata/timestamp.json".to_owned(),
        back.timestamp.to_bytes().expect("ts"),
    );
    out.insert("rollback_snapshot", s);

    // Targets and a delegated role: a newer snapshot listing older versions.
    for (name, role) in [
        ("rollback_targets", "targets"),
        ("rollback_delegated", "releases"),
    ] {
        let mut s = Scenario::new(&repo);
        s.trust(&newer, "timestamp");
        s.trust(&newer, "snapshot");
        let mut back = newer.clone();
        back.snapshot
            .signed
            .meta
            .get_mut(&format!("{role}.json"))
            .expect("listed")
            .version -= 1;
        back.snapshot.signed.version += 1;
        back.snapshot.signatures.clear();
        back.snapshot.sign(&k.snapshot).expect("sign");
        back.bump_timestamp(BASE).expect("ts");
        back.timestamp.sign(&k.timestamp).expect("sign");
        s.serve(&back);
        out.insert(name, s);
    }

    // Root: `3.root.json` holds version 2 (validly signed).
    let mut rotated = repo.clone();
    rotated.bump_root(BASE);
    rotated.root.sign(&k.root).expect("sign");
    rotated.publish_root().expect("publish");
    let mut s = Scenario::new(&rotated);
    s.trust(&rotated, "root");
    s.served
        .insert("metadata/3.root.json".to_owned(), rotated.root_history[1].clone());
    out.insert("rollback_root", s);

    // Freeze: each role expired at NOW (signed properly, just stale).
    for (name, role) in [
        ("freeze_timestamp", "timestamp"),
        ("freeze_snapshot", "snapshot"),
        ("freeze_targets", "targets"),
        ("freeze_root", "root"),
    ] {
        let mut stale = base_repo(&k, Expiries::default());
        let exp = vouch::tuf::metadata::Expires::new(BASE + Duration::hours(12));
        match role {
            "timestamp" => {
                stale.timestamp.signed.expires = exp;
                stale.timestamp.signatures.clear();
                stale.timestamp.sign(&k.timestamp).expect("sign");
            }
            "snapshot" => {
                stale.snapshot.signed.expires = exp;
                stale.snapshot.signatures.clear();
                stale.snapshot.sign(&k.snapshot).expect("sign");
                stale.bump_timestamp(BASE).expect("ts");
                stale.timestamp.sign(&k.timestamp).expect("sign");
            }
            "targets" => {
                let t = stale.targets.get_mut("targets").expect("t");
                t.signed.expires = exp;
                t.signed.version += 1;
                t.signatures.clear();
                commit(&mut stale, &k);
            }
            _ => {
                stale.root.signed.expires = exp;
                stale.root.signatures.clear();
                stale.root.sign(&k.root).expect("sign");
                stale.publish_root().expect("publish");
            }
        }
        out.insert(name, Scenario::new(&stale));
    }

    // Endless data: a 20 KiB timestamp, and a snapshot longer than the
    // length the timestamp lists.
    let mut s = Scenario::new(&repo);
    let mut big = s.served["metadata/timestamp.json"].clone();
    big.extend(std::iter::repeat_n(b' ', 20 * 1024));
    s.served.insert("metadata/timestamp.json".to_owned(), big);
    out.insert("endless_data_timestamp", s);
    let mut s = Scenario::new(&repo);
    let f = "metadata/1.snapshot.json".to_owned();
    let mut big = s.served[&f].clone();
    big.extend(std::iter::repeat_n(b' ', 4096));
    s.served.insert(f, big);
    out.insert("endless_data_snapshot", s);

    // Mix-and-match: the snapshot lists targets v3, the file served as
    // `3.targets.json` is the older v2.
    let mut s = Scenario::new(&newer);
    let old_targets = repo.targets["targets"].to_bytes().expect("bytes");
    let v = newer.targets["targets"].signed.version;
    s.served.insert(format!("metadata/{v}.targets.json"), old_targets);
    out.insert("mix_and_match", s);

    // Fast-forward: an attacker with the old timestamp key pushed version
    // 1000; the repository rotated the timestamp key and starts over at 1.
    let mut ff = repo.clone();
    ff.timestamp.signed.version = 999;
    ff.bump_timestamp(BASE).expect("ts");
    ff.timestamp.sign(&k.timestamp).expect("sign");
    let mut s = Scenario::new(&repo);
    s.trust(&ff, "timestamp");
    let mut recovered = repo.clone();
    let new_ts = key(9);
    recovered
        .set_top_level_keys("timestamp", &RoleSetup::single(new_ts.public()), BASE)
        .expect("rotate");
    recovered.root.sign(&k.root).expect("sign");
    recovered.publish_root().expect("publish");
    recovered.timestamp.signed.version = 0;
    recovered.bump_timestamp(BASE).expect("ts");
    recovered.timestamp.sign(&new_ts).expect("sign");
    s.serve(&recovered);
    out.insert("fast_forward_recovery", s);

    // Wrong target: content of a different length, and same length with a
    // different hash.
    let mut s = Scenario::new(&repo);
    let app_file = format!("targets/{}.app", target(APP).hashes["sha256"]);
    s.served.insert(
        app_file.clone(),
        b"a much longer malicious manifest than the real one".to_vec(),
    );
    out.insert("wrong_target_length", s);
    let mut s = Scenario::new(&repo);
    let mut evil = APP.to_vec();
    evil[0] ^= 1;
    s.served.insert(app_file, evil);
    out.insert("wrong_target_hash", s);

    // Threshold not met by one key signing twice: a new root requiring
    // two root signatures, signed twice by the same key.
    let mut dup = repo.clone();
    dup.set_top_level_keys(
        "root",
        &RoleSetup {
            keys: vec![k.root.public(), key(10).public()],
            threshold: 2,
        },
        BASE,
    )
    .expect("threshold 2");
    dup.root.sign(&k.root).expect("sign");
    let sig = dup.root.signatures[0].clone();
    dup.root.signatures.push(sig);
    dup.publish_root().expect("publish");
    out.insert("threshold_duplicate_root_signature", Scenario::new(&dup));

    // …and for a delegation: threshold 2, the delegate's key id listed
    // twice and its signature twice.
    let mut dup = base_repo(&k, Expiries::default());
    {
        let t = dup.targets.get_mut("targets").expect("targets");
        let role = &mut t
            .signed
            .delegations
            .as_mut()
            .expect("d")
            .roles
            .as_mut()
            .expect("roles")[0];
        role.threshold = 2;
        let id = role.keyids[0].clone();
        role.keyids.push(id);
        t.signatures.clear();
    }
    dup.targets.get_mut("targets").expect("t").signed.version += 1;
    dup.sign_targets_roles(&k.targets).expect("sign");
    let rel = dup.targets.get_mut("releases").expect("rel");
    let sig = rel.signatures[0].clone();
    rel.signatures.push(sig);
    dup.bump_snapshot(BASE);
    dup.snapshot.sign(&k.snapshot).expect("sign");
    dup.bump_timestamp(BASE).expect("ts");
    dup.timestamp.sign(&k.timestamp).expect("sign");
    out.insert("threshold_duplicate_delegation_signature", Scenario::new(&dup));

    // Key rotation: root v2 replaces the targets key; targets stays signed
    // by the old one.
    let mut rot = repo.clone();
    rot.set_top_level_keys("targets", &RoleSetup::single(key(11).public()), BASE)
        .expect("rotate");
    rot.root.sign(&k.root).expect("sign");
    rot.publish_root().expect("publish");
    out.insert("key_rotation_old_key_refused", Scenario::new(&rot));

    // Unauthorised delegation: `releases` signed by a key targets never listed.
    let mut un = repo.clone();
    // New content, signed only by a key `targets` never listed.
    un.add_target("releases", "apps/evil", target(b"evil"), BASE)
        .expect("touch");
    un.targets
        .get_mut("releases")
        .expect("rel")
        .sign(&k.attacker)
        .expect("sign");
    un.bump_snapshot(BASE);
    un.snapshot.sign(&k.snapshot).expect("sign");
    un.bump_timestamp(BASE).expect("ts");
    un.timestamp.sign(&k.timestamp).expect("sign");
    out.insert("unauthorised_delegation", Scenario::new(&un));

    // Path traversal: a signed target named `../../escape`.
    let mut pt = repo.clone();
    {
        let t = pt.targets.get_mut("targets").expect("t");
        t.signed
            .targets
            .insert("../../escape".to_owned(), target(b"escape"));
        t.signed.version += 1;
        t.signatures.clear();
    }
    commit(&mut pt, &k);
    out.insert("path_traversal", Scenario::new(&pt));

    // A delegated role missing from snapshot.
    let mut missing = repo.clone();
    missing.bump_snapshot(BASE);
    missing.snapshot.signed.meta.remove("releases.json");
    missing.snapshot.sign(&k.snapshot).expect("sign");
    missing.bump_timestamp(BASE).expect("ts");
    missing.timestamp.sign(&k.timestamp).expect("sign");
    out.insert("delegated_role_absent_from_snapshot", Scenario::new(&missing));

    // A signatures array naming one key id twice: the metadata is invalid,
    // although the one key alone meets the threshold of 1.
    let mut dup = repo.clone();
    dup.add_target("targets", "app2", target(b"two"), BASE)
        .expect("add");
    dup.sign_targets_roles(&k.targets).expect("sign");
    let t = dup.targets.get_mut("targets").expect("targets");
    let sig = t.signatures[0].clone();
    t.signatures.push(sig);
    commit(&mut dup, &k);
    out.insert("duplicate_signature_keyid", Scenario::new(&dup));

    // One key under two ids: a new root whose threshold of 2 is met by one
    // key, its public hex written once in lower and once in upper case
    // (both ids are the true hashes of their key objects).
    let mut twice = repo.clone();
    let mut upper = vouch::tuf::editor::tuf_key(&k.root.public());
    upper.keyval.public = upper.keyval.public.to_ascii_uppercase();
    let upper_id = vouch::tuf::crypto::key_id(&upper).expect("key id");
    twice.root.signed.keys.insert(upper_id.clone(), upper);
    let role = twice.root.signed.roles.get_mut("root").expect("root role");
    role.keyids.push(upper_id.clone());
    role.threshold = 2;
    twice.bump_root(BASE);
    twice.root.sign(&k.root).expect("sign");
    let mut sig = twice.root.signatures[0].clone();
    sig.keyid = upper_id;
    twice.root.signatures.push(sig);
    twice.publish_root().expect("publish");
    out.insert("one_key_counted_twice", Scenario::new(&twice));

    // A root that lists the attacker's key under the real root key's id,
    // signed by the attacker under that id (as a pin would name it).
    let mut forged = repo.clone();
    let real_id = k.root.public().key_id().to_string();
    forged.root.signed.keys.insert(
        KeyId::new(real_id.as_str()),
        vouch::tuf::editor::tuf_key(&k.attacker.public()),
    );
    forged.root.signatures.clear();
    forged.root.sign(&k.attacker).expect("sign");
    forged.root.signatures[0].keyid = KeyId::new(real_id);
    let mut s = Scenario::new(&repo);
    s.trusted
        .insert("root.json".to_owned(), forged.root.to_bytes().expect("bytes"));
    out.insert("key_id_not_the_hash_of_its_key", s);

    // A delegated role named like a top-level role.
    let mut named = repo.clone();
    {
        let t = named.targets.get_mut("targets").expect("targets");
        let d = t.signed.delegations.as_mut().expect("delegations");
        let mut role = d.roles.as_ref().expect("roles")[0].clone();
        role.name = RoleName::Timestamp;
        role.paths = Some(vec!["x/*".to_owned()]);
        d.roles.as_mut().expect("roles").push(role);
        t.signed.version += 1;
        t.signatures.clear();
    }
    commit(&mut named, &k);
    out.insert("delegated_role_named_timestamp", Scenario::new(&named));

    // Two delegators, one role name, different keys: `a` authorises the
    // delegate's key for `shared`, `b` the attacker's. `shared` is signed
    // by the delegate: valid through `a`, not through `b`.
    let mut two = repo.clone();
    let all = |p: &str| vec![p.to_owned()];
    for (name, paths) in [("a", "a/*"), ("b", "b/*")] {
        two.add_delegation(
            "targets",
            Delegation {
                name,
                keys: &[k.delegate.public()],
                threshold: 1,
                paths: DelegatedPaths::Paths(all(paths)),
                terminating: false,
            },
            BASE,
        )
        .expect("delegate");
    }
    two.add_delegation(
        "a",
        Delegation {
            name: "shared",
            keys: &[k.delegate.public()],
            threshold: 1,
            paths: DelegatedPaths::Paths(vec!["a/*".to_owned(), "b/*".to_owned()]),
            terminating: false,
        },
        BASE,
    )
    .expect("delegate");
    {
        let b = two.targets.get_mut("b").expect("b");
        let mut via_a = two_shared_entry(&k);
        via_a.keyids = vec![KeyId::from(k.attacker.public().key_id())];
        b.signed.delegations = Some(vouch::tuf::metadata::Delegations {
            keys: BTreeMap::from([(
                KeyId::from(k.attacker.public().key_id()),
                vouch::tuf::editor::tuf_key(&k.attacker.public()),
            )]),
            roles: Some(vec![via_a]),
            succinct_roles: None,
            extra: Default::default(),
        });
    }
    two.add_target("shared", "a/x", target(SHARED_A), BASE)
        .expect("add");
    two.add_target("shared", "b/evil", target(SHARED_B), BASE)
        .expect("add");
    commit(&mut two, &k);
    let mut s = Scenario::new(&two);
    for (path, content) in [("a/x", SHARED_A), ("b/evil", SHARED_B)] {
        let (dir, file) = path.split_once('/').expect("dir");
        let hash = &target(content).hashes["sha256"];
        s.served
            .insert(format!("targets/{dir}/{hash}.{file}"), content.to_vec());
    }
    out.insert("two_delegators_same_role", s);

    out
}

pub const SHARED_A: &[u8] = b"shared a";
pub const SHARED_B: &[u8] = b"shared b";

/// `b`'s entry for `shared` (keys replaced by the caller).
fn two_shared_entry(k: &Keys) -> vouch::tuf::metadata::DelegatedRole {
    vouch::tuf::metadata::DelegatedRole {
        name: RoleName::parse("shared"),
        keyids: vec![KeyId::from(k.delegate.public().key_id())],
        threshold: 1,
        terminating: false,
        paths: Some(vec!["b/*".to_owned()]),
        path_hash_prefixes: None,
        extra: Default::default(),
    }
}

/// The fixture folder of a scenario.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join("tuf")
        .join(name)
}
