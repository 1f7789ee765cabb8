//! Repositories with many tags: past 256 tags the role that holds tags
//! moves them into succinct hashed bins (trust format 2, an index of a core
//! manifest and groups of bins), a cold verify reads one bin, adding a tag
//! rewrites one bin, python-tuf resolves tags of it, a format-1 repository
//! still verifies and is upgraded on its next sign, and the attacker who
//! swaps a bin is refused at `verify`, at the gate and by writers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common::attacker::Attacker;
use crate::common::py::{HttpServer, run_script};
use crate::common::{Env, Run, gate_refuses, oci_image, publisher, staged_id};

/// A layout with `count` tags `t-000000`… of one image, initialised; the
/// reference list is written to `refs.txt`.
struct Many {
    layout: PathBuf,
    repo: String,
    list: PathBuf,
    digest: String,
    root: String,
}

fn many_tags(env: &Env, count: usize, init: &[&str]) -> Many {
    let layout = env.home().join("app");
    let repo = format!("oci:{}", layout.display());
    let digest = oci_image(&layout, "base", "one image, many tags\n");
    let list = env.home().join("refs.txt");
    let out = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tag-many"))
        .args([layout.to_str().expect("utf8"), "base", "t", &count.to_string()])
        .args(["--list", list.to_str().expect("utf8")])
        .output()
        .expect("tag-many");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut args = vec!["init", repo.as_str()];
    args.extend_from_slice(init);
    let root = env.run(&args).ok().trim().to_owned();
    Many {
        layout,
        repo,
        list,
        digest,
        root,
    }
}

/// Generates a key for each of `names`; returns where each public key is.
fn signer_keys(env: &Env, names: &[&str]) -> impl Fn(&str) -> String {
    for name in names {
        env.run(&["key", "generate", name]).ok();
    }
    let home = env.home().to_path_buf();
    move |name: &str| home.join(format!("{name}.pub")).display().to_string()
}

/// A new machine that pins `repo`'s root (`root_id`).
fn verifier(repo: &str, root_id: &str) -> Env {
    let env = Env::new();
    env.run(&["pin", repo, root_id]).ok();
    env
}

/// The numbers `verify --verbose` reports: (metadata, manifests) bytes.
fn fetched(run: &Run) -> (u64, u64) {
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("bytes of trust metadata"))
        .unwrap_or_else(|| panic!("no byte count: {}", run.stderr));
    let numbers: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    (numbers[0], numbers[1])
}

/// The trust tag's manifest in a layout: its media type.
fn trust_media_type(layout: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index")).expect("json");
    index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "vouch-trust")
        .and_then(|m| m["mediaType"].as_str())
        .expect("a trust tag")
        .to_owned()
}

/// Blob names and sizes of a layout.
fn blobs(layout: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(layout.join("blobs/sha256"))
        .expect("blobs")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().expect("size").len(),
            )
        })
        .collect()
}

#[test]
fn tags_past_the_threshold_live_in_bins_and_a_cold_verify_reads_one() {
    const TAGS: usize = 2000;
    let env = publisher();
    let Many {
        layout,
        repo,
        list,
        digest,
        root,
    } = many_tags(&env, TAGS, &[]);
    let signed = env.run(&["sign", "--from-file", list.to_str().expect("utf8")]);
    signed.ok();
    assert_eq!(signed.stdout.lines().count(), TAGS);
    assert_eq!(
        trust_media_type(&layout),
        "application/vnd.oci.image.index.v1+json",
        "format 2"
    );

    // A new machine verifies one tag cold: one bin and its share of
    // snapshot, not 2,000 targets (which alone would be ~360 KB).
    let cold = verifier(&repo, &root);
    let one = cold.run(&["verify", "--verbose", &format!("{repo}:t-001234")]);
    assert_eq!(one.ok().trim(), digest);
    let (metadata, manifests) = fetched(&one);
    assert!(
        metadata < 32 * 1024,
        "a cold verify read {metadata} bytes of metadata"
    );
    assert!(
        manifests < 16 * 1024,
        "a cold verify read {manifests} bytes of manifests"
    );
    assert!(
        one.stderr.contains("signed by b-"),
        "signed by a bin: {}",
        one.stderr
    );

    // One more tag: its bin, its group, snapshot, timestamp, the core and
    // the index are written; nothing else.
    let before = blobs(&layout);
    let extra = oci_image(&layout, "extra", "one more\n");
    let image_blobs = blobs(&layout);
    env.run(&["sign", &format!("{repo}:extra")]).ok();
    let after = blobs(&layout);
    let written: u64 = after
        .iter()
        .filter(|(name, _)| !image_blobs.contains_key(*name))
        .map(|(_, size)| size)
        .sum();
    assert!(written < 64 * 1024, "one tag wrote {written} bytes of trust data");
    assert!(before.len() < after.len());

    // Both verify, at the machine that saw the old state and at a new one.
    for env in [&cold, &verifier(&repo, &root)] {
        let both = env.run(&["verify", &format!("{repo}:extra"), &format!("{repo}:t-000007")]);
        both.ok();
        assert!(
            both.stdout.contains(&extra) && both.stdout.contains(&digest),
            "{}",
            both.stdout
        );
    }
    // Revoking one tag rewrites its bin too; the others still verify.
    env.run(&["revoke", &format!("{repo}:t-000007")]).ok();
    cold.run(&["verify", &format!("{repo}:t-000007")])
        .fails(1, "not signed");
    assert_eq!(
        cold.run(&["verify", &format!("{repo}:t-000008")]).ok().trim(),
        digest
    );

    // python-tuf's client resolves a tag of the trust data exported as a
    // standard TUF repository, within its default size limits.
    let export = tempfile::tempdir().expect("tmp");
    let meta = export.path().join("metadata");
    std::fs::create_dir_all(&meta).expect("mkdir");
    for (name, bytes) in Attacker::layout(&layout).files() {
        std::fs::write(meta.join(name), bytes).expect("write");
    }
    let server = HttpServer::serve(export.path());
    let work = tempfile::tempdir().expect("tmp");
    let (code, stdout, stderr) = run_script(
        "ngclient_lookup.py",
        &[
            meta.join("1.root.json").to_str().expect("utf8"),
            &server.url("metadata/"),
            work.path().to_str().expect("utf8"),
            "t-001234",
            "extra",
        ],
    );
    assert_eq!(code, 0, "python-tuf: {stdout}\n{stderr}");
    let hex = |d: &str| d.trim_start_matches("sha256:").to_owned();
    assert!(stdout.contains(&format!("t-001234 {}", hex(&digest))), "{stdout}");
    assert!(stdout.contains(&format!("extra {}", hex(&extra))), "{stdout}");
}

#[test]
fn init_with_bins_keeps_every_tag_in_a_bin() {
    let env = publisher();
    let Many {
        layout,
        repo,
        digest,
        root,
        ..
    } = many_tags(&env, 3, &["--bins", "16"]);
    env.run(&["sign", &format!("{repo}:t-000001")]).ok();
    let one = verifier(&repo, &root).run(&["verify", "--verbose", &format!("{repo}:t-000001")]);
    assert_eq!(one.ok().trim(), digest);
    assert!(one.stderr.contains("signed by b-"), "{}", one.stderr);
    assert_eq!(
        trust_media_type(&layout),
        "application/vnd.oci.image.index.v1+json"
    );
    // Not a power of two, or out of range: a usage error, nothing created.
    let other = publisher();
    let dir = other.home().join("other");
    oci_image(&dir, "v1", "v1\n");
    for n in ["17", "8", "131072", "many"] {
        let out = other.run(&["init", &format!("oci:{}", dir.display()), "--bins", n]);
        assert_eq!(out.code, 2, "{n}: {}", out.stderr);
        assert!(out.stderr.contains("--bins"), "{}", out.stderr);
    }
    assert!(!other.trust().join("policy.toml").exists());
}

/// The artifact rewritten as format 1 (one manifest, every file a layer):
/// what vouch wrote before format 2, with the same signed files.
fn as_format_1(layout: &Path) {
    use vouch::store::Store;
    let files = Attacker::layout(layout).files();
    let store = vouch::store::oci_layout::OciLayout::open(layout).expect("layout");
    let empty = store.put_blob(b"{}").expect("empty");
    let layers: Vec<serde_json::Value> = files
        .iter()
        .map(|(name, bytes)| {
            serde_json::json!({
                "mediaType": "application/vnd.vouch.tuf.metadata.v1+json",
                "digest": store.put_blob(bytes).expect("blob"),
                "size": bytes.len(),
                "annotations": {"org.opencontainers.image.title": name},
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.vouch.trust.v1",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": layers,
        "annotations": {"dev.vouch.trust.format": "1"},
    });
    let bytes = serde_json::to_vec(&manifest).expect("json");
    assert!(
        store
            .put_manifest(
                "vouch-trust",
                &bytes,
                "application/vnd.oci.image.manifest.v1+json",
                vouch::store::TagExpect::Anything,
            )
            .expect("put")
    );
}

#[test]
fn a_format_1_repository_verifies_and_is_upgraded_on_its_next_sign() {
    let env = publisher();
    let Many {
        layout,
        repo,
        digest,
        root,
        ..
    } = many_tags(&env, 3, &[]);
    env.run(&["sign", &format!("{repo}:t-000000")]).ok();
    as_format_1(&layout);
    assert_eq!(
        trust_media_type(&layout),
        "application/vnd.oci.image.manifest.v1+json"
    );
    let old = verifier(&repo, &root);
    assert_eq!(
        old.run(&["verify", &format!("{repo}:t-000000")]).ok().trim(),
        digest
    );
    env.run(&["sign", &format!("{repo}:t-000001")]).ok();
    assert_eq!(
        trust_media_type(&layout),
        "application/vnd.oci.image.index.v1+json",
        "upgraded to format 2"
    );
    for env in [&old, &verifier(&repo, &root)] {
        env.run(&["verify", &format!("{repo}:t-000000"), &format!("{repo}:t-000001")])
            .ok();
    }
}

/// The newest version of `role`'s file among `files`, by name.
fn newest_of(files: &BTreeMap<String, Vec<u8>>, role: &str) -> String {
    crate::common::attacker::newest(files, role)
}

/// The bin file that lists `tag`, by name.
fn bin_listing(files: &BTreeMap<String, Vec<u8>>, tag: &str) -> String {
    let bins: BTreeSet<String> = files
        .keys()
        .filter_map(|n| n.split_once('.'))
        .map(|(_, rest)| rest.trim_end_matches(".json").to_owned())
        .filter(|role| role.starts_with("b-"))
        .collect();
    for role in bins {
        let name = newest_of(files, &role);
        let v: serde_json::Value = serde_json::from_slice(&files[&name]).expect("json");
        if v["signed"]["targets"].get(tag).is_some() {
            return name;
        }
    }
    panic!("no bin lists {tag}");
}

#[test]
fn a_rolled_back_or_emptied_bin_is_refused() {
    let env = publisher();
    let Many {
        layout,
        repo,
        list,
        digest,
        root,
    } = many_tags(&env, 300, &[]);
    env.run(&["sign", "--from-file", list.to_str().expect("utf8")])
        .ok();
    let attacker = Attacker::layout(&layout);
    let old = attacker.files();
    // Move t-000042 to another image and sign it: its bin gets a new version.
    let moved = oci_image(&layout, "t-000042", "moved\n");
    env.run(&["sign", &format!("{repo}:t-000042")]).ok();
    let verifier_env = verifier(&repo, &root);
    assert_eq!(
        verifier_env
            .run(&["verify", &format!("{repo}:t-000042")])
            .ok()
            .trim(),
        moved
    );
    let current = attacker.files();
    let bin = bin_listing(&current, "t-000042");
    let old_bin = bin_listing(&old, "t-000042");
    assert_ne!(bin, old_bin, "a new version of the bin");

    // Rollback: the old bin (validly signed, old digest) under the new
    // name, and the tag moved back to the old image.
    let mut files = current.clone();
    files.insert(bin.clone(), old[&old_bin].clone());
    attacker.publish(&files);
    assert_eq!(oci_image(&layout, "t-000042", "one image, many tags\n"), digest);
    // A machine that verified the new bin keeps it: the tag no longer
    // matches it (verify refuses; the gate pulls what is signed, never the
    // rolled-back image); a new one is served the old bin and refuses it.
    let fresh = verifier(&repo, &root);
    verifier_env
        .run(&["verify", &format!("{repo}:t-000042")])
        .fails(1, "digest mismatch");
    crate::common::gate_pulls_signed(&verifier_env, &format!("{repo}:t-000042"), &moved, &digest);
    fresh
        .run(&["verify", &format!("{repo}:t-000042")])
        .fails(1, "version");
    gate_refuses(&fresh, &format!("{repo}:t-000042"), "version");

    // Emptied: the bin's file stripped of its tags and signatures, same
    // version. Readers refuse it; a writer refuses to sign over it.
    let mut v: serde_json::Value = serde_json::from_slice(&current[&bin]).expect("json");
    let neighbour = v["signed"]["targets"]
        .as_object()
        .expect("targets")
        .keys()
        .find(|t| *t != "t-000042")
        .expect("another tag in the bin")
        .clone();
    v["signed"]["targets"] = serde_json::json!({});
    v["signatures"] = serde_json::json!([]);
    let mut files = current.clone();
    files.insert(bin.clone(), serde_json::to_vec(&v).expect("json"));
    attacker.publish(&files);
    let swapped = attacker.trust_digest();
    let fresh = verifier(&repo, &root);
    fresh
        .run(&["verify", &format!("{repo}:{neighbour}")])
        .fails(1, "signature");
    gate_refuses(&fresh, &format!("{repo}:{neighbour}"), "signature");
    env.run(&["sign", &format!("{repo}:t-000042")])
        .fails(1, "does not verify, so nothing was published");
    assert_eq!(attacker.trust_digest(), swapped, "nothing published");
}

#[test]
fn two_of_two_signers_share_the_bins() {
    let env = publisher();
    let Many {
        repo,
        list,
        digest,
        root,
        ..
    } = many_tags(&env, 300, &[]);
    let key = signer_keys(&env, &["alice", "bob"]);
    env.run(&[
        "signer",
        "add",
        "alice",
        &repo,
        "--key",
        &key("alice"),
        "--threshold",
        "2",
    ])
    .ok();
    env.run(&["signer", "add", "bob", &repo, "--key", &key("bob")])
        .ok();
    let list = list.to_str().expect("utf8");
    // Alice alone: staged (moving the tags into bins), nothing published.
    let id = staged_id(&env.run(&["sign", "--signer", "alice", "--from-file", list]));
    let tag = format!("{repo}:t-000123");
    verifier(&repo, &root)
        .run(&["verify", &tag])
        .fails(1, "not signed");
    // Bob approves exactly that change: both signed every bin.
    env.run(&["approve", &repo, &id, "--signer", "bob"]).ok();
    let both = verifier(&repo, &root).run(&["verify", "--verbose", &tag]);
    assert_eq!(both.ok().trim(), digest);
    assert!(both.stderr.contains("signed by rb-"), "{}", both.stderr);
    // Removing alice would leave one key for a threshold of two: refused.
    env.run(&["signer", "remove", "alice", &repo])
        .fails(2, "threshold of 2");
    // With carol added, alice's removal is staged with every bin for bob
    // and carol to sign again; the tags verify throughout.
    env.run(&["key", "generate", "carol"]).ok();
    env.run(&["signer", "add", "carol", &repo, "--key", &key("carol")])
        .ok();
    let id = staged_id(&env.run(&["signer", "remove", "alice", &repo]));
    assert_eq!(verifier(&repo, &root).run(&["verify", &tag]).ok().trim(), digest);
    env.run(&["approve", &repo, &id, "--signer", "bob"]).ok();
    assert_eq!(verifier(&repo, &root).run(&["verify", &tag]).ok().trim(), digest);
    env.run(&["approve", &repo, &id, "--signer", "carol"]).ok();
    let again = verifier(&repo, &root).run(&["verify", "--verbose", &tag]);
    assert_eq!(again.ok().trim(), digest);
    assert!(again.stderr.contains("signed by rb-"), "{}", again.stderr);
}

#[test]
fn a_repository_that_passes_the_threshold_keeps_every_signed_tag() {
    let env = publisher();
    let Many {
        layout,
        repo,
        list,
        digest,
        root,
    } = many_tags(&env, 257, &[]);
    // 256 tags, kept flat; then the 257th alone moves them all into bins.
    let all = std::fs::read_to_string(&list).expect("list");
    let (first, last) = all.trim_end().rsplit_once('\n').expect("lines");
    let head = env.home().join("head.txt");
    std::fs::write(&head, first).expect("write");
    env.run(&["sign", "--from-file", head.to_str().expect("utf8")])
        .ok();
    let node = verifier(&repo, &root);
    assert_eq!(
        node.run(&["verify", &format!("{repo}:t-000100")]).ok().trim(),
        digest
    );
    env.run(&["sign", last]).ok();
    // Every tag still verifies, through its bin, here and on a new machine.
    for env in [&node, &verifier(&repo, &root)] {
        let out = env.run(&["verify", "--from-file", list.to_str().expect("utf8")]);
        out.ok();
        assert_eq!(out.stdout.lines().count(), 257);
        let one = env.run(&["verify", "--verbose", &format!("{repo}:t-000100")]);
        assert!(one.stderr.contains("signed by b-"), "{}", one.stderr);
    }
    // And the repository stays writable: another tag, another revoke.
    let extra = oci_image(&layout, "extra", "extra\n");
    env.run(&["sign", &format!("{repo}:extra")]).ok();
    env.run(&["revoke", &format!("{repo}:t-000100")]).ok();
    let node = verifier(&repo, &root);
    assert_eq!(node.run(&["verify", &format!("{repo}:extra")]).ok().trim(), extra);
    node.run(&["verify", &format!("{repo}:t-000100")])
        .fails(1, "not signed");
}

#[test]
fn a_new_threshold_is_staged_with_every_bin_for_the_signers_to_sign_again() {
    let env = publisher();
    let Many {
        layout,
        repo,
        list,
        digest,
        root,
        ..
    } = many_tags(&env, 300, &[]);
    let key = signer_keys(&env, &["alice", "bob"]);
    env.run(&["signer", "add", "alice", &repo, "--key", &key("alice")])
        .ok();
    let list = list.to_str().expect("utf8");
    env.run(&["sign", "--signer", "alice", "--from-file", list]).ok();
    let tag = format!("{repo}:t-000123");
    assert_eq!(verifier(&repo, &root).run(&["verify", &tag]).ok().trim(), digest);
    // bob joins with a threshold of 2: staged with targets/releases and
    // every bin to sign again; the tags verify meanwhile.
    let id = staged_id(&env.run(&[
        "signer",
        "add",
        "bob",
        &repo,
        "--key",
        &key("bob"),
        "--threshold",
        "2",
    ]));
    assert_eq!(verifier(&repo, &root).run(&["verify", &tag]).ok().trim(), digest);
    let one = env.run(&["approve", &repo, &id, "--signer", "alice"]);
    one.ok();
    assert!(one.stderr.contains("still needs"), "{}", one.stderr);
    assert_eq!(verifier(&repo, &root).run(&["verify", &tag]).ok().trim(), digest);
    env.run(&["approve", &repo, &id, "--signer", "bob"]).ok();
    let both = verifier(&repo, &root).run(&["verify", "--verbose", &tag]);
    assert_eq!(both.ok().trim(), digest);
    assert!(both.stderr.contains("signed by rb-"), "{}", both.stderr);
    // One signer alone now stages.
    oci_image(&layout, "t-000123", "moved\n");
    staged_id(&env.run(&["sign", "--signer", "alice", &tag]));
    verifier(&repo, &root).run(&["verify", &tag]).fails(1, "");
}
