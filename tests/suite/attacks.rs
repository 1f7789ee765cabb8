//! The trust layer against the attacker vouch is designed for: write
//! access to the store (an OCI layout, or a real registry repository),
//! no key. One test per attack class, written as the attacker would do it,
//! each showing the refusal at `verify` and at the gate
//! (`VOUCH_CONTENT_TRUST=1 vouch pull`, which then writes nothing).
//! `testdata/attacks/README.md` lists them with what refuses each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::attacker::{Attacker, forged_repository, key_id, key_object, new_key};
use crate::common::registry::{FaultProxy, Registry, push};
use crate::common::{Env, Run, oci_image};
use vouch::tuf::{KeyId, RoleName};

/// Where the image and its trust data live.
enum Place {
    Layout(PathBuf),
    Registry { reg: Registry, path: String },
}

/// A publisher with a signed repository: `v0` and `v1` signed.
struct Scene {
    env: Env,
    place: Place,
    repo: String,
    root_id: String,
    v0: String,
    v1: String,
}

fn publisher_env() -> Env {
    crate::common::publisher()
}

impl Scene {
    fn layout() -> Scene {
        let env = publisher_env();
        let dir = env.home().join("app");
        Scene::init(env, Place::Layout(dir.clone()), format!("oci:{}", dir.display()))
    }

    fn registry() -> Scene {
        let env = publisher_env();
        let reg = Registry::start();
        let repo = format!("{}/team/app", reg.addr);
        let place = Place::Registry {
            reg,
            path: "team/app".to_owned(),
        };
        Scene::init(env, place, repo)
    }

    fn init(env: Env, place: Place, repo: String) -> Scene {
        let mut s = Scene {
            env,
            place,
            repo,
            root_id: String::new(),
            v0: String::new(),
            v1: String::new(),
        };
        s.v0 = s.image("v0", "v0\n").0;
        s.v1 = s.image("v1", "v1\n").0;
        s.root_id = s.env.run(&["init", &s.repo]).ok().trim().to_owned();
        s.env.run(&["sign", &s.r(":v0"), &s.r(":v1")]).ok();
        s
    }

    fn r(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.repo)
    }

    /// Writes (or moves) `tag` to a new image; returns its digest and size.
    fn image(&self, tag: &str, message: &str) -> (String, u64) {
        let (layout, digest) = match &self.place {
            Place::Layout(dir) => (dir.clone(), oci_image(dir, tag, message)),
            Place::Registry { reg, path } => (
                self.env.home().join(format!("build-{tag}")),
                push(&self.env, reg, path, tag, message),
            ),
        };
        let blob = layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        (digest, std::fs::metadata(blob).expect("manifest blob").len())
    }

    fn attacker(&self) -> Attacker {
        match &self.place {
            Place::Layout(dir) => Attacker::layout(dir),
            Place::Registry { reg, path } => Attacker::registry(&reg.addr, path, self.env.home()),
        }
    }

    /// Someone else who pinned the repository's root key id.
    fn verifier(&self) -> Env {
        let env = Env::new();
        env.run(&["pin", &self.repo, &self.root_id]).ok();
        env
    }

    /// The gate, enforcing; asserts that nothing was written.
    fn gate(&self, env: &Env, reference: &str) -> Run {
        gate(env, reference)
    }
}

fn gate(env: &Env, reference: &str) -> Run {
    let dest = env.home().join("pulled");
    let out = crate::common::gate_pull(env, reference);
    assert!(
        !dest.exists(),
        "the gate wrote {} for {reference}",
        dest.display()
    );
    out
}

/// Attack 1: a new `1.root.json` maps the pinned root key id to the
/// attacker's key, every role is signed with it, and the tag moves to the
/// attacker's image. Key ids are recomputed from keys, so the pin does not
/// admit it.
fn forged_root_under_pinned_key_id(s: Scene) {
    let verifier = s.verifier();
    let (evil, len) = s.image("v1", "evil\n");
    let key = new_key();
    let keys = BTreeMap::from([(s.root_id.clone(), key_object(&key))]);
    let forged = forged_repository(&keys, 1, &[(&key, vec![&s.root_id])], "v1", &evil, len);
    s.attacker().publish(&forged);

    let out = verifier.run(&["verify", &s.r(":v1")]);
    out.fails(1, "not signed by the pinned root keys");
    assert!(out.stderr.contains("not that key's id"), "{}", out.stderr);
    s.gate(&verifier, &s.r(":v1"))
        .fails(1, "not signed by the pinned root keys");
    // --tofu does not help: the repository is pinned.
    verifier
        .run(&["verify", "--tofu", &s.r(":v1")])
        .fails(1, "pinned root keys");
    // The publisher, who verified before, refuses it as well.
    s.env.run(&["verify", &s.r(":v1")]).fails(1, "refused");
}

#[test]
fn forged_root_under_pinned_key_id_is_refused_on_a_layout() {
    forged_root_under_pinned_key_id(Scene::layout());
}

#[test]
fn forged_root_under_pinned_key_id_is_refused_on_a_registry() {
    forged_root_under_pinned_key_id(Scene::registry());
}

/// Attack 2: the attacker edits the signed targets in the store (mapping
/// v1 to their image) and moves the tag. Verifiers refuse; the publisher's
/// routine commands refuse to publish over it (exit 1, nothing published)
/// instead of re-signing it; `vouch recover` restores trust data every
/// pinned verifier accepts.
fn keyless_edit_is_never_re_signed(s: Scene) {
    let verifier = s.verifier();
    assert_eq!(verifier.run(&["verify", &s.r(":v0")]).ok().trim(), s.v0);
    s.env.run(&["key", "generate", "carol"]).ok();
    let carol = s.env.home().join("carol.pub");
    let (v2, _) = s.image("v2", "v2\n");

    let (evil, len) = s.image("v1", "evil\n");
    let attacker = s.attacker();
    attacker.edit("targets", false, |signed| {
        signed["targets"]["v1"]["hashes"]["sha256"] = evil.trim_start_matches("sha256:").into();
        signed["targets"]["v1"]["length"] = len.into();
    });
    let tampered = attacker.trust_digest();

    // A verifier that trusts targets at this version keeps its verified
    // copy (and finds the tag moved); a new one refuses the edited file.
    verifier.run(&["verify", &s.r(":v1")]).fails(1, "digest mismatch");
    crate::common::gate_pulls_signed(&verifier, &s.r(":v1"), &s.v1, &evil);
    let fresh = s.verifier();
    fresh
        .run(&["verify", &s.r(":v1")])
        .fails(1, "targets does not match the sha256 listed in snapshot");
    s.gate(&fresh, &s.r(":v1")).fails(1, "targets does not match");

    let carol = carol.to_str().expect("utf8");
    let writers: [&[&str]; 5] = [
        &["sign", &s.r(":v2")],
        &["revoke", &s.r(":v0")],
        &["signer", "add", "carol", &s.repo, "--key", carol],
        &["signer", "remove", "carol", &s.repo],
        &["refresh", &s.repo],
    ];
    for args in writers {
        let out = s.env.run(args);
        out.fails(1, "does not verify, so nothing was published");
        assert!(
            out.stderr.contains(&format!("vouch recover {}", s.repo)),
            "{}",
            out.stderr
        );
        assert_eq!(attacker.trust_digest(), tampered, "{args:?} published");
    }
    // Signatures stripped instead: refused the same way.
    attacker.edit("targets", true, |_| {});
    let stripped = attacker.trust_digest();
    s.env
        .run(&["sign", &s.r(":v2")])
        .fails(1, "does not verify, so nothing was published");
    assert_eq!(attacker.trust_digest(), stripped);

    // One documented command moves every pinned verifier past it.
    let out = s.env.run(&["recover", &s.repo]);
    out.ok();
    assert_eq!(verifier.run(&["verify", &s.r(":v0")]).ok().trim(), s.v0);
    assert_eq!(fresh.run(&["verify", &s.r(":v0")]).ok().trim(), s.v0);
    assert_eq!(s.verifier().run(&["verify", &s.r(":v0")]).ok().trim(), s.v0);
    // v1 means what the publisher signed: the moved tag is refused by
    // verify, and the gate pulls the signed image.
    assert_eq!(
        verifier.run(&["resolve", &s.r(":v1")]).ok().trim(),
        format!("{}@{}", s.repo_id(), s.v1)
    );
    verifier.run(&["verify", &s.r(":v1")]).fails(1, "digest mismatch");
    crate::common::gate_pulls_signed(&verifier, &s.r(":v1"), &s.v1, &evil);
    // And publishing works again.
    s.env.run(&["sign", &s.r(":v2")]).ok();
    assert_eq!(verifier.run(&["verify", &s.r(":v2")]).ok().trim(), v2);
}

impl Scene {
    /// The repository as vouch prints it (absolute layout path).
    fn repo_id(&self) -> String {
        match &self.place {
            Place::Layout(dir) => format!("oci:{}", dir.canonicalize().expect("dir").display()),
            Place::Registry { .. } => self.repo.clone(),
        }
    }
}

#[test]
fn keyless_edit_is_never_re_signed_on_a_layout() {
    keyless_edit_is_never_re_signed(Scene::layout());
}

#[test]
fn keyless_edit_is_never_re_signed_on_a_registry() {
    keyless_edit_is_never_re_signed(Scene::registry());
}

/// Attack 3: after `signer remove alice`, a digest only alice signed must
/// not verify by digest (nor a digest that the role holding tags does not
/// sign): digests resolve through the verified trusted set, by the same
/// rule as tags, and a removed signer's own role counts for nothing.
fn digest_through_a_removed_signer(s: Scene) {
    let verifier = s.verifier();
    for name in ["alice", "bob"] {
        s.env.run(&["key", "generate", name]).ok();
        let key = s.env.home().join(format!("{name}.pub"));
        s.env
            .run(&[
                "signer",
                "add",
                name,
                &s.repo,
                "--key",
                key.to_str().expect("utf8"),
            ])
            .ok();
    }
    let (v5, _) = s.image("v5", "v5\n");
    s.env.run(&["sign", "--signer", "alice", &s.r(":v5")]).ok();
    let by_digest = s.r(&format!("@{v5}"));
    assert_eq!(verifier.run(&["verify", &by_digest]).ok().trim(), v5);

    // Removing alice: targets/releases must be signed again without her
    // key, so the removal is staged for bob, and nothing stops verifying
    // meanwhile.
    let removed = s.env.run(&["signer", "remove", "alice", &s.repo]);
    let id = crate::common::staged_id(&removed);
    assert_eq!(verifier.run(&["verify", &by_digest]).ok().trim(), v5);
    s.env.run(&["approve", &s.repo, &id, "--signer", "bob"]).ok();
    assert_eq!(verifier.run(&["verify", &by_digest]).ok().trim(), v5);
    // Bob revokes v5: neither alice's own role (no longer delegated) nor
    // her old signatures make its digest signed.
    s.env.run(&["revoke", &s.r(":v5")]).ok();
    verifier.run(&["verify", &s.r(":v5")]).fails(1, "not signed");
    verifier
        .run(&["verify", &by_digest])
        .fails(1, "not a signed target");
    s.gate(&verifier, &by_digest).fails(1, "not a signed target");
    // v1 was signed in `targets` before signers existed: tags and digests
    // resolve through targets/releases first, then targets.
    let v1 = s.r(&format!("@{}", s.v1));
    assert_eq!(verifier.run(&["verify", &v1]).ok().trim(), s.v1);
}

#[test]
fn digest_through_a_removed_signer_is_refused_on_a_layout() {
    digest_through_a_removed_signer(Scene::layout());
}

#[test]
fn digest_through_a_removed_signer_is_refused_on_a_registry() {
    digest_through_a_removed_signer(Scene::registry());
}

/// The id of the key named `name` in `env`'s trust directory.
fn key_id_of(env: &Env, name: &str) -> String {
    let list: serde_json::Value =
        serde_json::from_str(env.run(&["key", "list", "--json"]).ok()).expect("json");
    list["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["name"] == name)
        .and_then(|k| k["id"].as_str())
        .expect("key")
        .to_owned()
}

/// Attack 4: once signers exist, tags live in targets/releases; `revoke`
/// removes a tag from every role that lists it and that a key here may
/// sign, and says which it could not.
#[test]
fn revoke_works_once_signers_exist() {
    let s = Scene::layout();
    let verifier = s.verifier();
    s.env.run(&["key", "generate", "alice"]).ok();
    let alice = s.env.home().join("alice.pub");
    s.env
        .run(&[
            "signer",
            "add",
            "alice",
            &s.repo,
            "--key",
            alice.to_str().expect("utf8"),
        ])
        .ok();
    let (v5, _) = s.image("v5", "v5\n");
    s.env.run(&["sign", "--signer", "alice", &s.r(":v5")]).ok();
    assert_eq!(verifier.run(&["verify", &s.r(":v5")]).ok().trim(), v5);

    // Without alice's key, the revocation from targets/releases is staged
    // for its signers: v5 verifies until one approves it.
    let id = key_id_of(&s.env, "alice");
    let file = s.env.trust().join("private").join(format!("{id}.key"));
    let away = s.env.home().join("alice.key.away");
    std::fs::rename(&file, &away).expect("move key away");
    let out = s.env.run(&["revoke", &s.r(":v5")]);
    let staged = crate::common::staged_id(&out);
    assert!(
        out.stderr.contains("in targets/releases (staged)"),
        "{}",
        out.stderr
    );
    assert_eq!(verifier.run(&["verify", &s.r(":v5")]).ok().trim(), v5);
    std::fs::rename(&away, &file).expect("move key back");

    s.env.run(&["approve", &s.repo, &staged]).ok();
    verifier.run(&["verify", &s.r(":v5")]).fails(1, "not signed");
    s.gate(&verifier, &s.r(":v5")).fails(1, "not signed");
    verifier
        .run(&["verify", &s.r(&format!("@{v5}"))])
        .fails(1, "not a signed target");
}

/// Attack 5: a changed pin takes effect at once, cache or not; and a pin
/// with --threshold 2 needs two pinned root keys.
#[test]
fn a_changed_pin_takes_effect_at_once() {
    let s = Scene::layout();
    let verifier = s.verifier();
    assert_eq!(verifier.run(&["verify", &s.r(":v1")]).ok().trim(), s.v1);
    let other = key_id(&key_object(&new_key()));
    // Replacing a pin is explicit, and logged.
    verifier.run(&["pin", &s.repo, &other]).fails(1, "pinned to 1 of");
    verifier.run(&["pin", &s.repo, &other, "--replace"]).ok();
    let log = std::fs::read_to_string(verifier.trust().join("pins.log")).expect("pins.log");
    assert!(
        log.contains(&format!("replace {}", s.repo)) && log.contains(&other),
        "{log}"
    );
    verifier
        .run(&["verify", &s.r(":v1")])
        .fails(1, "not signed by the pinned root keys");
    s.gate(&verifier, &s.r(":v1")).fails(1, "pinned root keys");
    verifier
        .run(&[
            "pin",
            &s.repo,
            &s.root_id,
            &other,
            "--threshold",
            "2",
            "--replace",
        ])
        .ok();
    verifier.run(&["verify", &s.r(":v1")]).fails(1, "threshold is 2");
    s.gate(&verifier, &s.r(":v1")).fails(1, "threshold is 2");
    verifier
        .run(&["pin", &s.repo, &s.root_id, "--threshold", "2"])
        .fails(2, "--threshold 2");
    verifier.run(&["pin", &s.repo, &s.root_id, "--replace"]).ok();
    assert_eq!(verifier.run(&["verify", &s.r(":v1")]).ok().trim(), s.v1);
}

/// Writes a trust artifact built with vouch's library (a publisher whose
/// keys the test holds) into the layout at `dir`.
fn publish_library_repo(dir: &Path, repo: &vouch::tuf::editor::MetadataEditor) {
    let files = vouch::store::tuf_repo_dir::current_files(repo).expect("files");
    Attacker::layout(dir).publish(&files);
}

/// `vouch pin … --threshold 2` against a root with two root keys: one
/// signature is refused, two verify.
#[test]
fn a_pin_with_threshold_two_needs_two_pinned_root_keys() {
    use vouch::tuf::editor::{Expiries, MetadataEditor, RoleSetup};
    let home = tempfile::tempdir().expect("tmp");
    let dir = home.path().join("app");
    let digest = oci_image(&dir, "v1", "v1\n");
    let size = std::fs::metadata(
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .expect("blob")
    .len();
    let (k1, k2, online) = (new_key(), new_key(), new_key());
    let now = time::OffsetDateTime::now_utc();
    let mut repo = MetadataEditor::create(
        &RoleSetup {
            keys: vec![k1.public(), k2.public()],
            threshold: 1,
        },
        &RoleSetup::single(online.public()),
        &RoleSetup::single(online.public()),
        &RoleSetup::single(online.public()),
        true,
        now,
        Expiries::default(),
    );
    repo.root.sign(&k1).expect("sign");
    repo.publish_root().expect("publish");
    let target = vouch::tuf::metadata::TargetFile {
        length: size,
        hashes: BTreeMap::from([(
            "sha256".to_owned(),
            digest.trim_start_matches("sha256:").to_owned(),
        )]),
        custom: None,
        extra: Default::default(),
    };
    repo.add_target("targets", "v1", target, now).expect("target");
    repo.sign_targets_roles(&online).expect("sign");
    repo.bump_snapshot(now);
    repo.snapshot.sign(&online).expect("sign");
    repo.bump_timestamp(now).expect("ts");
    repo.timestamp.sign(&online).expect("sign");
    publish_library_repo(&dir, &repo);

    let layout = format!("oci:{}", dir.display());
    let (id1, id2) = (k1.public().key_id().to_string(), k2.public().key_id().to_string());
    let verifier = Env::new();
    verifier
        .run(&["pin", &layout, &id1, &id2, "--threshold", "2"])
        .ok();
    let v1 = format!("{layout}:v1");
    verifier.run(&["verify", &v1]).fails(1, "threshold is 2");
    gate(&verifier, &v1).fails(1, "threshold is 2");

    // The second root key holder signs the same root: now it verifies.
    repo.root.sign(&k2).expect("sign");
    repo.publish_root().expect("publish");
    publish_library_repo(&dir, &repo);
    assert_eq!(verifier.run(&["verify", &v1]).ok().trim(), digest);
}

/// Attack 6: one key listed under two ids (its public hex in lower and in
/// upper case: both ids are true hashes of their key objects) meets a
/// threshold of 2 with one private key. Keys count once by their bytes.
#[test]
fn one_key_listed_twice_counts_once() {
    let home = tempfile::tempdir().expect("tmp");
    let image = |name: &str| {
        let dir = home.path().join(name);
        let digest = oci_image(&dir, "v1", "v1\n");
        let blob = dir
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        let size = std::fs::metadata(blob).expect("blob").len();
        (format!("oci:{}", dir.display()), digest, size, dir)
    };
    let key = new_key();
    let lower = key_object(&key);
    let mut upper = lower.clone();
    upper["keyval"]["public"] = lower["keyval"]["public"]
        .as_str()
        .expect("hex")
        .to_ascii_uppercase()
        .into();
    let (lower_id, upper_id) = (key_id(&lower), key_id(&upper));
    assert_ne!(lower_id, upper_id, "two true ids for one key");
    let verifier = Env::new();

    // Control: two distinct keys meet the threshold of 2.
    let other = new_key();
    let other_id = key_id(&key_object(&other));
    let (layout, digest, size, dir) = image("two-keys");
    let keys = BTreeMap::from([
        (lower_id.clone(), lower.clone()),
        (other_id.clone(), key_object(&other)),
    ]);
    let signers = [(&key, vec![lower_id.as_str()]), (&other, vec![other_id.as_str()])];
    Attacker::layout(&dir).publish(&forged_repository(&keys, 2, &signers, "v1", &digest, size));
    verifier.run(&["pin", &layout, &lower_id]).ok();
    assert_eq!(
        verifier.run(&["verify", &format!("{layout}:v1")]).ok().trim(),
        digest
    );

    // The attack: the one key under both ids, signing under both. The
    // verifier pins both root key ids the trust data names (one of them
    // must sign), so only the root's own threshold of 2 stands between
    // one private key and a verified image.
    let (layout, digest, size, dir) = image("one-key");
    let keys = BTreeMap::from([(lower_id.clone(), lower), (upper_id.clone(), upper)]);
    let signers = [(&key, vec![lower_id.as_str(), upper_id.as_str()])];
    Attacker::layout(&dir).publish(&forged_repository(&keys, 2, &signers, "v1", &digest, size));
    verifier.run(&["pin", &layout, &lower_id, &upper_id]).ok();
    let v1 = format!("{layout}:v1");
    verifier.run(&["verify", &v1]).fails(1, "threshold is 2");
    gate(&verifier, &v1).fails(1, "threshold is 2");
    // Pinning on first use takes the root's own ids and threshold: refused too.
    let newcomer = Env::new();
    newcomer
        .run(&["verify", "--tofu", &v1])
        .fails(1, "threshold is 2");
}

/// Found by reading: a delegated role named like a top-level role (here
/// `timestamp`) could stand in for the real one in a client's cache. Such
/// trust data is refused.
#[test]
fn a_delegated_role_named_timestamp_is_refused() {
    use vouch::tuf::editor::{Expiries, MetadataEditor, tuf_key};
    use vouch::tuf::metadata::{DelegatedRole, Delegations};
    let home = tempfile::tempdir().expect("tmp");
    let dir = home.path().join("app");
    let digest = oci_image(&dir, "v1", "v1\n");
    let size = std::fs::metadata(
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .expect("blob")
    .len();
    let key = new_key();
    let now = time::OffsetDateTime::now_utc();
    let public = key.public();
    let mut repo = MetadataEditor::create_single_key(&key, [&public; 3], true, now, Expiries::default())
        .expect("repository");
    let target = vouch::tuf::metadata::TargetFile {
        length: size,
        hashes: BTreeMap::from([(
            "sha256".to_owned(),
            digest.trim_start_matches("sha256:").to_owned(),
        )]),
        custom: None,
        extra: Default::default(),
    };
    repo.add_target("targets", "v1", target, now).expect("target");
    let id = key.public().key_id().to_string();
    repo.targets
        .get_mut("targets")
        .expect("targets")
        .signed
        .delegations = Some(Delegations {
        keys: BTreeMap::from([(KeyId::new(id.as_str()), tuf_key(&key.public()))]),
        roles: Some(vec![DelegatedRole {
            name: RoleName::Timestamp,
            keyids: vec![KeyId::new(id.as_str())],
            threshold: 1,
            terminating: false,
            paths: Some(vec!["x*".to_owned()]),
            path_hash_prefixes: None,
            extra: Default::default(),
        }]),
        succinct_roles: None,
        extra: Default::default(),
    });
    repo.sign_targets_roles(&key).expect("sign");
    repo.bump_snapshot(now);
    repo.snapshot.sign(&key).expect("sign");
    repo.bump_timestamp(now).expect("ts");
    repo.timestamp.sign(&key).expect("sign");
    publish_library_repo(&dir, &repo);

    let verifier = Env::new();
    verifier
        .run(&["pin", &format!("oci:{}", dir.display()), &id])
        .ok();
    let v1 = format!("oci:{}:v1", dir.display());
    verifier.run(&["verify", &v1]).fails(1, "reserved name");
    gate(&verifier, &v1).fails(1, "reserved name");
}

/// Found by reading: `vouch push` signed a second lookup of the tag, so a
/// writer who moved the tag right after the copy got their image signed.
/// A proxy in front of the real registry moves the tag the moment push's
/// manifest lands; the signature is still for what push copied.
#[test]
fn push_signs_exactly_what_it_copied() {
    let reg = Registry::start();
    let proxy = FaultProxy::start(&reg.addr);
    let env = publisher_env();
    let repo = format!("{}/team/app", proxy.addr);
    // The racer's image is in the registry already (its blobs too).
    let evil = push(&env, &reg, "team/app", "evil", "evil\n");
    let evil_manifest = env
        .home()
        .join("build-evil/blobs/sha256")
        .join(evil.trim_start_matches("sha256:"));
    env.run(&["init", &repo]).ok();
    let src = env.home().join("src");
    let good = oci_image(&src, "v1", "good\n");

    proxy.fault(
        &format!("retag:{}", evil_manifest.display()),
        "^PUT /v2/team/app/manifests/v1$",
    );
    let out = env.run(&["push", &format!("oci:{}:v1", src.display()), &repo]);
    proxy.clear();
    assert!(out.ok().contains(&good), "{}", out.stdout);
    assert!(!out.stdout.contains(&evil), "{}", out.stdout);

    assert_eq!(
        env.run(&["resolve", &format!("{repo}:v1")]).ok().trim(),
        format!("{repo}@{good}")
    );
    env.run(&["verify", &format!("{repo}:v1")])
        .fails(1, "digest mismatch");
    crate::common::gate_pulls_signed(&env, &format!("{repo}:v1"), &good, &evil);
}

/// Review finding: the attacker swaps a role file for an empty, unsigned
/// one of the same version (as a newly created role looks). Snapshot pins
/// every role's bytes by hash, so writers refuse it instead of signing an
/// emptied `targets` (dropping every tag and signer) or `targets/releases`.
#[test]
fn an_emptied_role_is_not_re_signed() {
    let s = Scene::layout();
    s.env.run(&["key", "generate", "alice"]).ok();
    s.env.run(&["key", "generate", "carol"]).ok();
    let alice = s.env.home().join("alice.pub");
    s.env
        .run(&[
            "signer",
            "add",
            "alice",
            &s.repo,
            "--key",
            alice.to_str().expect("utf8"),
        ])
        .ok();
    let (v5, _) = s.image("v5", "v5\n");
    s.env.run(&["sign", "--signer", "alice", &s.r(":v5")]).ok();
    let verifier = s.verifier();
    assert_eq!(verifier.run(&["verify", &s.r(":v5")]).ok().trim(), v5);
    let attacker = s.attacker();
    let original = attacker.files();
    let carol = s.env.home().join("carol.pub");
    let carol = carol.to_str().expect("utf8");
    // Role file names are percent-encoded in the artifact.
    for role in ["targets", "targets%2Freleases"] {
        attacker.edit(role, true, |signed| {
            signed["targets"] = serde_json::json!({});
            if let Some(o) = signed.as_object_mut() {
                o.remove("delegations");
            }
        });
        let swapped = attacker.trust_digest();
        for args in [
            vec!["signer", "add", "carol", &s.repo, "--key", carol],
            vec!["sign", "--signer", "alice", &s.r(":v5")],
        ] {
            let out = s.env.run(&args);
            out.fails(1, "does not verify, so nothing was published");
            assert_eq!(attacker.trust_digest(), swapped, "{role}: {args:?} published");
        }
        // A verifier that holds the role keeps its verified copy; a new
        // one refuses the swapped file.
        assert_eq!(verifier.run(&["verify", &s.r(":v5")]).ok().trim(), v5);
        s.verifier()
            .run(&["verify", &s.r(":v5")])
            .fails(1, "listed in snapshot");
        attacker.publish(&original);
    }
    assert_eq!(verifier.run(&["verify", &s.r(":v5")]).ok().trim(), v5);
}

/// Copies the keys and pins of `from` into a new trust directory: another
/// machine of the same publisher, with no verified copy of anything.
fn same_keys_elsewhere(from: &Env) -> Env {
    use std::os::unix::fs::PermissionsExt;
    let env = publisher_env();
    let private = env.trust().join("private");
    std::fs::create_dir_all(&private).expect("mkdir");
    for dir in [env.trust(), private.clone()] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    for entry in std::fs::read_dir(from.trust().join("private")).expect("private") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, private.join(path.file_name().expect("name"))).expect("copy key");
    }
    std::fs::copy(from.trust().join("policy.toml"), env.trust().join("policy.toml")).expect("policy");
    env
}

/// Review finding: a writer with no verified copy of its own must not
/// re-sign expired trust data (it could be an old state served again,
/// which re-signing would make fresh). Where it was published, the cache
/// is the reference, and `vouch refresh` repairs an expired repository.
#[test]
fn an_expired_state_is_not_refreshed_without_a_verified_copy() {
    let s = Scene::layout();
    s.env.run(&["refresh", &s.repo, "--timestamp-expiry", "1s"]).ok();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let verifier = s.verifier();
    verifier.run(&["verify", &s.r(":v0")]).fails(1, "expired");
    let before = s.attacker().trust_digest();
    let elsewhere = same_keys_elsewhere(&s.env);
    elsewhere
        .run(&["refresh", &s.repo])
        .fails(1, "no verified copy to check it against");
    assert_eq!(s.attacker().trust_digest(), before, "nothing published");
    s.env.run(&["refresh", &s.repo]).ok();
    assert_eq!(verifier.run(&["verify", &s.r(":v0")]).ok().trim(), s.v0);
}
