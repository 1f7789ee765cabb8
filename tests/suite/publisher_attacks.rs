//! Attacks on publishers: a stale publisher fed an older state (the fork
//! is noticed by everyone who saw the newer one), a writer building on an
//! expired timestamp, a bin's file served as another bin's, a junk file
//! beside a bin, a bogus extra signature meant to stop writers, and
//! `recover` from a publisher that never read every bin. Each refusal is
//! shown at `verify`, at the gate, and in writers.

use std::collections::BTreeMap;
use std::path::Path;

use vouch::store::Store;

use crate::common::attacker::Attacker;
use crate::common::registry::{Registry, push};
use crate::common::{Env, copy_key, gate_refuses, oci_image, publisher};

/// The trust artifact's tag moved back to `digest` by someone who can
/// write the store and holds no key (one manifest PUT).
fn put_back(store: &dyn Store, digest: &str) {
    let bytes = store.manifest(digest, 1 << 22).expect("old manifest");
    let media_type = vouch::store::media_type_of(&bytes);
    store
        .put_manifest(
            "vouch-trust",
            &bytes,
            &media_type,
            vouch::store::TagExpect::Anything,
        )
        .expect("put back");
}

/// P1 revokes v1; the store is put back to the state before; P2, whose
/// cache last saw that state, signs twice. Everyone who saw the revoke
/// refuses the fork; P1 publishes nothing on it.
fn stale_publisher(repo: &str, store: &dyn Store, image: &dyn Fn(&str, &str) -> String) {
    let p1 = publisher();
    let root = p1.run(&["init", repo]).ok().trim().to_owned();
    let v1 = image("v1", "one\n");
    let v2 = image("v2", "two\n");
    p1.run(&["sign", &format!("{repo}:v1"), &format!("{repo}:v2")])
        .ok();
    let p2 = publisher();
    p2.run(&["pin", repo, &root]).ok();
    for role in ["targets", "snapshot", "timestamp"] {
        copy_key(&p1, &p2, role, false);
    }
    assert_eq!(p2.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    let before_revoke = store.head("vouch-trust").expect("head").expect("trust tag");

    p1.run(&["revoke", &format!("{repo}:v1")]).ok();
    let witness = Env::new();
    witness.run(&["pin", repo, &root]).ok();
    assert_eq!(witness.run(&["verify", &format!("{repo}:v2")]).ok().trim(), v2);
    witness
        .run(&["verify", &format!("{repo}:v1")])
        .fails(1, "not signed");

    // The attacker puts the state before the revoke back; P2 signs on it.
    put_back(store, &before_revoke);
    image("v3", "three\n");
    image("v4", "four\n");
    p2.run(&["sign", &format!("{repo}:v3")]).ok();
    p2.run(&["sign", &format!("{repo}:v4")]).ok();
    let forked = store.head("vouch-trust").expect("head");

    // The revoker and the witness refuse the fork, naming both states.
    for env in [&p1, &witness] {
        let run = env.run(&["verify", &format!("{repo}:v1")]);
        run.fails(1, "fork");
        assert!(run.stderr.contains("does not descend from"), "{}", run.stderr);
        gate_refuses(env, &format!("{repo}:v1"), "fork");
        gate_refuses(env, &format!("{repo}:v4"), "fork");
    }
    // The revoker's next sign publishes nothing on the fork.
    image("v5", "five\n");
    p1.run(&["sign", &format!("{repo}:v5")]).fails(1, "fork");
    assert_eq!(
        store.head("vouch-trust").expect("head"),
        forked,
        "nothing published"
    );
}

#[test]
fn stale_publisher_fork_is_refused_on_a_layout() {
    let home = tempfile::tempdir().expect("tmp");
    let layout = home.path().join("app");
    let store = vouch::store::oci_layout::OciLayout::create(&layout).expect("layout");
    let repo = format!("oci:{}", layout.display());
    stale_publisher(&repo, &store, &|tag, message| oci_image(&layout, tag, message));
}

#[test]
fn stale_publisher_fork_is_refused_on_a_registry() {
    let reg = Registry::start();
    let build = publisher();
    let scratch = tempfile::tempdir().expect("tmp");
    let store = vouch::store::registry::Registry::new(
        &reg.addr,
        "fork/app",
        vouch::store::registry::Credentials::Anonymous,
        scratch.path().join("attacker.lock"),
    )
    .expect("registry");
    let repo = format!("{}/fork/app", reg.addr);
    stale_publisher(&repo, &store, &|tag, message| {
        push(&build, &reg, "fork/app", tag, message)
    });
}

#[test]
fn a_writer_refuses_to_build_on_an_expired_timestamp() {
    let env = publisher();
    let home = tempfile::tempdir().expect("tmp");
    let layout = home.path().join("app");
    let repo = format!("oci:{}", layout.display());
    oci_image(&layout, "v1", "one\n");
    oci_image(&layout, "v2", "two\n");
    env.run(&["init", &repo]).ok();
    env.run(&["sign", &format!("{repo}:v1")]).ok();
    env.run(&["refresh", &repo, "--timestamp-expiry", "1s"]).ok();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let before = Attacker::layout(&layout).trust_digest();
    for args in [
        vec!["sign".to_owned(), format!("{repo}:v2")],
        vec!["revoke".to_owned(), format!("{repo}:v1")],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        env.run(&args).fails(1, "expired");
    }
    assert_eq!(
        Attacker::layout(&layout).trust_digest(),
        before,
        "nothing published"
    );
    // Its own verified state is renewed by refresh, then signing works.
    env.run(&["refresh", &repo]).ok();
    env.run(&["sign", &format!("{repo}:v2")]).ok();
}

/// Where a repository lives in a test: an OCI layout, or a real
/// docker-registry written with skopeo.
enum Site {
    Layout {
        _home: tempfile::TempDir,
        dir: std::path::PathBuf,
    },
    Registry {
        reg: Registry,
        build: Env,
        scratch: tempfile::TempDir,
    },
}

impl Site {
    fn layout() -> Site {
        let home = tempfile::tempdir().expect("tmp");
        let dir = home.path().join("app");
        Site::Layout { _home: home, dir }
    }

    fn registry() -> Site {
        Site::Registry {
            reg: Registry::start(),
            build: publisher(),
            scratch: tempfile::tempdir().expect("tmp"),
        }
    }

    fn repo(&self) -> String {
        match self {
            Site::Layout { dir, .. } => format!("oci:{}", dir.display()),
            Site::Registry { reg, .. } => format!("{}/site/app", reg.addr),
        }
    }

    /// Writes (or moves) `tag` to a new image; its digest.
    fn image(&self, tag: &str, message: &str) -> String {
        match self {
            Site::Layout { dir, .. } => oci_image(dir, tag, message),
            Site::Registry { reg, build, .. } => push(build, reg, "site/app", tag, message),
        }
    }

    /// Someone who can write the store and holds no key.
    fn attacker(&self) -> Attacker {
        match self {
            Site::Layout { dir, .. } => Attacker::layout(dir),
            Site::Registry { reg, scratch, .. } => Attacker::registry(&reg.addr, "site/app", scratch.path()),
        }
    }

    /// The store, through vouch's own adapters.
    fn store(&self) -> Box<dyn Store> {
        match self {
            Site::Layout { dir, .. } => {
                Box::new(vouch::store::oci_layout::OciLayout::open(dir).expect("layout"))
            }
            Site::Registry { reg, scratch, .. } => Box::new(
                vouch::store::registry::Registry::new(
                    &reg.addr,
                    "site/app",
                    vouch::store::registry::Credentials::Anonymous,
                    scratch.path().join("attacker.lock"),
                )
                .expect("registry"),
            ),
        }
    }

    /// Tags `t-000000`… `count` more times as `from`; the file listing
    /// their references.
    fn tag_many(&self, from: &str, count: usize, list: &Path) {
        match self {
            Site::Layout { dir, .. } => {
                let out = std::process::Command::new("python3")
                    .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tag-many"))
                    .args([dir.to_str().expect("utf8"), from, "t", &count.to_string()])
                    .args(["--list", list.to_str().expect("utf8")])
                    .output()
                    .expect("tag-many");
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            }
            Site::Registry { reg, .. } => {
                let mut refs = String::new();
                for n in 0..count {
                    let tag = format!("t-{n:06}");
                    crate::common::registry::retag(&reg.addr, "site/app", from, &tag);
                    refs.push_str(&format!("{}:{tag}\n", self.repo()));
                }
                std::fs::write(list, refs).expect("list");
            }
        }
    }
}

/// `site` with `count` tags `t-000000`… of one image in `bins` bins, every
/// tag signed: (the reference list, the image's digest, the root key id).
fn binned(env: &Env, site: &Site, count: usize, bins: &str) -> (std::path::PathBuf, String, String) {
    let repo = site.repo();
    let digest = site.image("base", "one image, many tags\n");
    let list = env.home().join("refs.txt");
    site.tag_many("base", count, &list);
    let root = env.run(&["init", &repo, "--bins", bins]).ok().trim().to_owned();
    env.run(&["sign", "--from-file", list.to_str().expect("utf8")])
        .ok();
    (list, digest, root)
}

/// Bin name and version of each bin file (`VERSION.b-HEX.json`).
fn bin_files(files: &BTreeMap<String, Vec<u8>>) -> Vec<(String, u64, String)> {
    files
        .keys()
        .filter_map(|name| {
            let (version, rest) = name.strip_suffix(".json")?.split_once('.')?;
            rest.starts_with("b-")
                .then(|| (rest.to_owned(), version.parse().expect("version"), name.clone()))
        })
        .collect()
}

/// The bin (of 16) that holds `tag`.
fn bin_of(tag: &str) -> vouch::tuf::RoleName {
    vouch::tuf::metadata::SuccinctRoles {
        keyids: Vec::new(),
        threshold: 1,
        bit_length: 4,
        name_prefix: vouch::tuf::RoleName::parse("b"),
        extra: Default::default(),
    }
    .bin_for(tag)
}

fn bin_swap_is_refused_at_verify_at_the_gate_and_in_the_writer(site: Site) {
    let env = publisher();
    let repo = site.repo();
    let (_, _, root) = binned(&env, &site, 40, "16");
    let attacker = site.attacker();
    let files = attacker.files();
    // Every bin's version is its own: bound to its name, none shared.
    let bins = bin_files(&files);
    assert_eq!(bins.len(), 16, "{bins:?}");
    let mut versions = std::collections::BTreeSet::new();
    for (bin, version, _) in &bins {
        let slot = u64::from_str_radix(bin.trim_start_matches("b-"), 16).expect("hex");
        assert_eq!(version % 8192, slot, "{bin} version {version}");
        assert!(versions.insert(*version), "{bin} shares version {version}");
    }
    // Bin Y's signed file served as bin X's.
    let tag = "t-000007";
    let x = bin_of(tag);
    let x_file = bins
        .iter()
        .find(|(b, _, _)| x == b.as_str())
        .expect("x")
        .2
        .clone();
    let y_file = bins
        .iter()
        .find(|(b, _, _)| x != b.as_str())
        .expect("y")
        .2
        .clone();
    let mut swapped = files.clone();
    swapped.insert(x_file, files[&y_file].clone());
    attacker.publish(&swapped);
    let served = attacker.trust_digest();
    // A machine that has the bin cached keeps using it; a new one is
    // served the swapped file and refuses it.
    let fresh = Env::new();
    fresh.run(&["pin", &repo, &root]).ok();
    fresh
        .run(&["verify", &format!("{repo}:{tag}")])
        .fails(1, "version");
    gate_refuses(&fresh, &format!("{repo}:{tag}"), "version");
    env.run(&["sign", &format!("{repo}:{tag}")])
        .fails(1, "nothing was published");
    assert_eq!(attacker.trust_digest(), served, "the writer published nothing");
}

fn a_junk_bin_file_is_never_published_by_a_writer(site: Site) {
    let env = publisher();
    let repo = site.repo();
    let (_, digest, root) = binned(&env, &site, 40, "16");
    let store = site.store();
    // One extra layer named like a bin file (a version that sorts after
    // the signed one) in the group of bins.
    let tag = "t-000011";
    let x = bin_of(tag);
    let index_digest = store.head("vouch-trust").expect("head").expect("tag");
    let mut index: serde_json::Value =
        serde_json::from_slice(&store.manifest(&index_digest, 1 << 22).expect("index")).expect("json");
    let group = index["manifests"]
        .as_array_mut()
        .expect("parts")
        .iter_mut()
        .find(|m| m["annotations"]["dev.vouch.trust.part"] == "bins")
        .expect("a group of bins");
    let group_digest = group["digest"].as_str().expect("digest").to_owned();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&store.manifest(&group_digest, 1 << 22).expect("group")).expect("json");
    let junk = b"{\"signed\":{},\"signatures\":[]}";
    let junk_digest = store.put_blob(junk).expect("blob");
    manifest["layers"]
        .as_array_mut()
        .expect("layers")
        .push(serde_json::json!({
            "mediaType": "application/vnd.vouch.tuf.metadata.v1+json",
            "digest": junk_digest,
            "size": junk.len(),
            "annotations": { "org.opencontainers.image.title": format!("99999999999999999.{x}.json") },
        }));
    let manifest = serde_json::to_vec(&manifest).expect("json");
    group["digest"] = serde_json::json!(
        store
            .put_manifest_by_digest(&manifest, "application/vnd.oci.image.manifest.v1+json")
            .expect("put")
    );
    group["size"] = serde_json::json!(manifest.len());
    store
        .put_manifest(
            "vouch-trust",
            &serde_json::to_vec(&index).expect("json"),
            "application/vnd.oci.image.index.v1+json",
            vouch::store::TagExpect::Anything,
        )
        .expect("put");
    // Verifiers read the file snapshot lists, and ignore the junk.
    let fresh = Env::new();
    fresh.run(&["pin", &repo, &root]).ok();
    assert_eq!(
        fresh.run(&["verify", &format!("{repo}:{tag}")]).ok().trim(),
        digest
    );
    // A writer changing another bin of that group carries bin X forward
    // by the exact file snapshot lists, not the junk.
    let other = (0..40)
        .map(|n| format!("t-{n:06}"))
        .find(|t| bin_of(t) != x)
        .expect("a tag in another bin");
    site.image(&other, "moved\n");
    env.run(&["sign", &format!("{repo}:{other}")]).ok();
    let files = site.attacker().files();
    assert!(
        !files.keys().any(|n| n.starts_with("99999999999999999.")),
        "{:?}",
        files.keys()
    );
    let cold = Env::new();
    cold.run(&["pin", &repo, &root]).ok();
    assert_eq!(
        cold.run(&["verify", &format!("{repo}:{tag}")]).ok().trim(),
        digest
    );

    // A core manifest that also lists a file of a group's range (which
    // would shadow the group's) is refused.
    let index_digest = store.head("vouch-trust").expect("head").expect("tag");
    let mut index: serde_json::Value =
        serde_json::from_slice(&store.manifest(&index_digest, 1 << 22).expect("index")).expect("json");
    let parts = index["manifests"].as_array_mut().expect("parts");
    let group_digest = parts
        .iter()
        .find(|m| m["annotations"]["dev.vouch.trust.part"] == "bins")
        .expect("group")["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    let group: serde_json::Value =
        serde_json::from_slice(&store.manifest(&group_digest, 1 << 22).expect("group")).expect("json");
    let core = parts
        .iter_mut()
        .find(|m| m["annotations"]["dev.vouch.trust.part"] == "core")
        .expect("core");
    let mut core_manifest: serde_json::Value = serde_json::from_slice(
        &store
            .manifest(core["digest"].as_str().expect("digest"), 1 << 22)
            .expect("core"),
    )
    .expect("json");
    core_manifest["layers"]
        .as_array_mut()
        .expect("layers")
        .push(group["layers"][0].clone());
    let bytes = serde_json::to_vec(&core_manifest).expect("json");
    core["digest"] = serde_json::json!(
        store
            .put_manifest_by_digest(&bytes, "application/vnd.oci.image.manifest.v1+json")
            .expect("put")
    );
    core["size"] = serde_json::json!(bytes.len());
    store
        .put_manifest(
            "vouch-trust",
            &serde_json::to_vec(&index).expect("json"),
            "application/vnd.oci.image.index.v1+json",
            vouch::store::TagExpect::Anything,
        )
        .expect("put");
    let shadowed = store.head("vouch-trust").expect("head");
    let cold = Env::new();
    cold.run(&["pin", &repo, &root]).ok();
    cold.run(&["verify", &format!("{repo}:{tag}")])
        .fails(2, "a file of a group of bins");
    env.run(&["sign", &format!("{repo}:{other}")])
        .fails(2, "a file of a group of bins");
    assert_eq!(
        store.head("vouch-trust").expect("head"),
        shadowed,
        "nothing published"
    );
}

fn a_bogus_signature_on_a_bin_does_not_stop_writers(site: Site) {
    // Signers alice and bob, threshold 1: past 256 tags their tags move
    // into bins both keys may sign. A bin alice signed is listed by
    // version only, so anyone can append a signature under bob's key id
    // that does not verify; a verifier accepts the bin (alice's suffices),
    // and so must a writer, or that is a keyless way to stop publishing.
    let env = publisher();
    let repo = site.repo();
    let (list, digest, root) = binned(&env, &site, 300, "16");
    let key = |name: &str| env.home().join(format!("{name}.pub")).display().to_string();
    for name in ["alice", "bob"] {
        env.run(&["key", "generate", name]).ok();
        env.run(&["signer", "add", name, &repo, "--key", &key(name)]).ok();
    }
    env.run(&[
        "sign",
        "--signer",
        "alice",
        "--from-file",
        list.to_str().expect("utf8"),
    ])
    .ok();
    let bob_id = env
        .run(&["key", "list"])
        .ok()
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("bob"))
        .and_then(|l| l.split_whitespace().next())
        .expect("bob's key id")
        .to_owned();
    let tag = "t-000003";
    let attacker = site.attacker();
    let mut files = attacker.files();
    let name = files
        .iter()
        .find(|(n, bytes)| {
            n.contains(".rb-")
                && serde_json::from_slice::<serde_json::Value>(bytes)
                    .is_ok_and(|v| v["signed"]["targets"][tag].is_object())
        })
        .map(|(n, _)| n.clone())
        .expect("the bin of the tag");
    let mut v: serde_json::Value = serde_json::from_slice(&files[&name]).expect("json");
    v["signatures"]
        .as_array_mut()
        .expect("signatures")
        .push(serde_json::json!({ "keyid": bob_id, "sig": "ab".repeat(64) }));
    files.insert(name, serde_json::to_vec(&v).expect("json"));
    attacker.publish(&files);
    let fresh = Env::new();
    fresh.run(&["pin", &repo, &root]).ok();
    assert_eq!(
        fresh.run(&["verify", &format!("{repo}:{tag}")]).ok().trim(),
        digest
    );
    // The writer, as the verifier, drops what does not verify.
    let moved = site.image(tag, "moved\n");
    env.run(&["sign", "--signer", "alice", &format!("{repo}:{tag}")])
        .ok();
    assert_eq!(
        fresh.run(&["verify", &format!("{repo}:{tag}")]).ok().trim(),
        moved
    );
}

fn recover_of_a_binned_repository_from_a_second_publisher(site: Site) {
    let p1 = publisher();
    let repo = site.repo();
    let (_, digest, root) = binned(&p1, &site, 40, "16");
    // P2 holds the keys and verified one tag: its cache has one bin.
    let p2 = publisher();
    p2.run(&["pin", &repo, &root]).ok();
    for role in ["targets", "snapshot", "timestamp"] {
        copy_key(&p1, &p2, role, false);
    }
    assert_eq!(
        p2.run(&["verify", &format!("{repo}:t-000001")]).ok().trim(),
        digest
    );
    // Someone without a key edits snapshot (its signatures stripped).
    site.attacker().edit("snapshot", true, |signed| {
        signed["expires"] = serde_json::json!("2099-01-01T00:00:00Z");
    });
    let fresh = Env::new();
    fresh.run(&["pin", &repo, &root]).ok();
    fresh.run(&["verify", &format!("{repo}:t-000002")]).fails(1, "");
    // P2 republishes from its cache, fetching the bins it never read,
    // checked against its cached snapshot.
    p2.run(&["recover", &repo]).ok();
    for n in [1, 2, 17, 33] {
        let tag = format!("t-{n:06}");
        assert_eq!(
            fresh.run(&["verify", &format!("{repo}:{tag}")]).ok().trim(),
            digest,
            "{tag}"
        );
    }
}

#[test]
fn bin_swap_is_refused_at_verify_at_the_gate_and_in_the_writer_on_a_layout() {
    bin_swap_is_refused_at_verify_at_the_gate_and_in_the_writer(Site::layout());
}

#[test]
fn bin_swap_is_refused_at_verify_at_the_gate_and_in_the_writer_on_a_registry() {
    bin_swap_is_refused_at_verify_at_the_gate_and_in_the_writer(Site::registry());
}

#[test]
fn a_junk_bin_file_is_never_published_by_a_writer_on_a_layout() {
    a_junk_bin_file_is_never_published_by_a_writer(Site::layout());
}

#[test]
fn a_junk_bin_file_is_never_published_by_a_writer_on_a_registry() {
    a_junk_bin_file_is_never_published_by_a_writer(Site::registry());
}

#[test]
fn a_bogus_signature_on_a_bin_does_not_stop_writers_on_a_layout() {
    a_bogus_signature_on_a_bin_does_not_stop_writers(Site::layout());
}

#[test]
fn a_bogus_signature_on_a_bin_does_not_stop_writers_on_a_registry() {
    a_bogus_signature_on_a_bin_does_not_stop_writers(Site::registry());
}

#[test]
fn recover_of_a_binned_repository_from_a_second_publisher_on_a_layout() {
    recover_of_a_binned_repository_from_a_second_publisher(Site::layout());
}

#[test]
fn recover_of_a_binned_repository_from_a_second_publisher_on_a_registry() {
    recover_of_a_binned_repository_from_a_second_publisher(Site::registry());
}
