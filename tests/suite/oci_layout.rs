//! Sign → verify on the embedded default store, an OCI image layout
//! directory, as a user runs it: images written the way skopeo writes
//! them, the real `vouch` binary, no terminal.

use std::path::PathBuf;

use crate::common::{Env, Run, oci_image};

struct Repo {
    env: Env,
    layout: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let env = crate::common::publisher();
        let layout = env.home().join("layout");
        Repo { env, layout }
    }

    fn r(&self, suffix: &str) -> String {
        format!("oci:{}{suffix}", self.layout.display())
    }

    fn run(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }
}

#[test]
fn sign_then_verify_then_refuse_a_moved_tag_and_an_unsigned_one() {
    let repo = Repo::new();
    let v1 = oci_image(&repo.layout, "v1", "v1\n");
    let root_id = repo.run(&["init", &repo.r("")]).ok().trim().to_owned();
    assert_eq!(root_id.len(), 64);
    let policy = std::fs::read_to_string(repo.env.trust().join("policy.toml")).expect("policy");
    assert!(policy.contains(&root_id), "init pins the root: {policy}");

    let signed = repo.run(&["sign", &repo.r(":v1")]);
    assert!(signed.ok().contains(&v1), "{}", signed.stdout);
    let verified = repo.run(&["verify", &repo.r(":v1")]);
    assert_eq!(verified.ok().trim(), v1);
    let resolved = repo.run(&["resolve", &repo.r(":v1")]);
    assert_eq!(resolved.ok().trim(), format!("{}@{v1}", repo.r("")));

    // A digest reference is allowed only when a signed tag maps to it.
    assert_eq!(repo.run(&["verify", &repo.r(&format!("@{v1}"))]).ok().trim(), v1);

    // Someone moves v1 to other content: refused, naming the mismatch.
    let evil = oci_image(&repo.layout, "v1", "not what was signed\n");
    repo.run(&["verify", &repo.r(":v1")]).fails(1, "digest mismatch");
    repo.run(&["verify", &repo.r(&format!("@{evil}"))])
        .fails(1, "not a signed target");

    // An unsigned tag is refused.
    oci_image(&repo.layout, "v2", "v2\n");
    repo.run(&["verify", &repo.r(":v2")]).fails(1, "not signed");
}

#[test]
fn unpinned_repositories_are_refused_unless_tofu() {
    let repo = Repo::new();
    let v1 = oci_image(&repo.layout, "v1", "v1\n");
    let root_id = repo.run(&["init", &repo.r("")]).ok().trim().to_owned();
    repo.run(&["sign", &repo.r(":v1")]).ok();

    // Another machine (trust directory) has no pin.
    let other = Env::new();
    let r = repo.r(":v1");
    let refused = other.run(&["verify", &r]);
    refused.fails(1, "not pinned");
    assert!(
        refused
            .stderr
            .contains(&format!("vouch pin {} {root_id}", repo.r(""))),
        "{}",
        refused.stderr
    );

    let tofu = other.run(&["verify", &r, "--tofu"]);
    assert_eq!(tofu.ok().trim(), v1);
    assert!(
        tofu.stderr.contains("WARNING: trusting") && tofu.stderr.contains("first use"),
        "{}",
        tofu.stderr
    );
    // Pinned now: no flag needed.
    other.run(&["verify", &r]).ok();

    // A third machine pins the right key explicitly.
    let third = Env::new();
    third.run(&["pin", &repo.r(""), &root_id]).ok();
    assert_eq!(third.run(&["verify", &r]).ok().trim(), v1);

    // A pin to another key refuses this root.
    let fourth = Env::new();
    fourth.run(&["pin", &repo.r(""), &"ab".repeat(32)]).ok();
    fourth
        .run(&["verify", &r])
        .fails(1, "not signed by the pinned root keys");
}

#[test]
fn rolled_back_trust_data_is_refused() {
    let repo = Repo::new();
    oci_image(&repo.layout, "v1", "v1\n");
    repo.run(&["init", &repo.r("")]).ok();
    repo.run(&["sign", &repo.r(":v1")]).ok();
    let old_index = std::fs::read(repo.layout.join("index.json")).expect("index");
    oci_image(&repo.layout, "v2", "v2\n");
    repo.run(&["sign", &repo.r(":v2")]).ok();
    repo.run(&["verify", &repo.r(":v2")]).ok();
    // Serve the old trust artifact again (its blobs are still there).
    std::fs::write(repo.layout.join("index.json"), old_index).expect("restore");
    repo.run(&["verify", &repo.r(":v1")]).fails(1, "rollback");
}

#[test]
fn concurrent_signers_lose_no_update() {
    let repo = Repo::new();
    let tags: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();
    let digests: Vec<String> = tags
        .iter()
        .map(|t| oci_image(&repo.layout, t, &format!("{t}\n")))
        .collect();
    repo.run(&["init", &repo.r("")]).ok();
    let children: Vec<_> = tags
        .iter()
        .map(|t| repo.env.spawn(&["sign", &repo.r(&format!(":{t}"))]))
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for (t, d) in tags.iter().zip(&digests) {
        assert_eq!(
            repo.run(&["verify", &repo.r(&format!(":{t}"))]).ok().trim(),
            d,
            "{t}"
        );
    }
}

#[test]
fn a_missing_store_is_could_not_decide() {
    let repo = Repo::new();
    repo.run(&["verify", "oci:/nonexistent/vouch-layout:v1"])
        .fails(2, "no OCI image layout");
}

#[test]
fn recursive_signing_covers_each_platform_of_an_index() {
    let repo = Repo::new();
    let index = crate::common::oci_image_index(&repo.layout, "multi");
    repo.run(&["init", &repo.r("")]).ok();
    // Without --recursive only the index is signed.
    repo.run(&["sign", &repo.r(":multi")]).ok();
    assert_eq!(repo.run(&["verify", &repo.r(":multi")]).ok().trim(), index);
    let children = crate::common::index_children(&repo.layout, &index);
    repo.run(&["verify", &repo.r(&format!("@{}", children[0]))])
        .fails(1, "not a signed target");
    // With it, each platform manifest is a signed target too.
    repo.run(&["sign", "--recursive", &repo.r(":multi")]).ok();
    for child in &children {
        assert_eq!(
            repo.run(&["verify", &repo.r(&format!("@{child}"))]).ok().trim(),
            child
        );
    }
    let report: serde_json::Value =
        serde_json::from_str(repo.run(&["inspect", &repo.r("")]).ok()).expect("json");
    let tags: Vec<&str> = report["signedTags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t["tag"].as_str().expect("tag"))
        .collect();
    assert!(
        tags.contains(&"multi@linux-amd64") && tags.contains(&"multi@linux-arm64"),
        "{tags:?}"
    );
}
