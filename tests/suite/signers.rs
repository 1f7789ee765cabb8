//! Signers and thresholds: `vouch signer add … --threshold 2`, then one
//! signature is refused and two verify (Docker Content Trust's layout:
//! targets/releases plus targets/NAME).

use crate::common::oci_image;

#[test]
fn a_threshold_of_two_needs_two_signers() {
    let env = crate::common::publisher();
    let layout = env.home().join("app");
    let repo = format!("oci:{}", layout.display());
    let v0 = oci_image(&layout, "v0", "before signers\n");
    let v1 = oci_image(&layout, "v1", "release one\n");
    env.run(&["init", &repo]).ok();
    env.run(&["sign", &format!("{repo}:v0")]).ok();
    assert_eq!(env.run(&["verify", &format!("{repo}:v0")]).ok().trim(), v0);

    env.run(&["key", "generate", "alice"]).ok();
    env.run(&["key", "generate", "bob"]).ok();
    let alice_pub = env.home().join("alice.pub");
    let bob_pub = env.home().join("bob.pub");
    let add = env.run(&[
        "signer",
        "add",
        "alice",
        &repo,
        "--key",
        alice_pub.to_str().expect("utf8"),
        "--threshold",
        "2",
    ]);
    add.ok();
    assert!(
        add.stderr.contains("needs 2 signatures"),
        "warns while the threshold cannot be met: {}",
        add.stderr
    );
    env.run(&[
        "signer",
        "add",
        "bob",
        &repo,
        "--key",
        bob_pub.to_str().expect("utf8"),
    ])
    .ok();

    // As with Docker Content Trust, tags are looked up in
    // targets/releases first, then in targets: v0, signed by targets
    // before the signers, still verifies.
    assert_eq!(env.run(&["verify", &format!("{repo}:v0")]).ok().trim(), v0);

    // One signer of two: staged, not published.
    let signed = env.run(&["sign", "--signer", "alice", &format!("{repo}:v1")]);
    let id = crate::common::staged_id(&signed);
    assert!(signed.stderr.contains("signed by 1 of 2"), "{}", signed.stderr);
    let one = env.run(&["verify", &format!("{repo}:v1")]);
    one.fails(1, "not signed");
    assert!(one.stderr.contains("targets/releases"), "{}", one.stderr);
    assert_eq!(env.run(&["verify", &format!("{repo}:v0")]).ok().trim(), v0);

    // The second signer approves that change: it verifies.
    env.run(&["approve", &repo, &id, "--signer", "bob"]).ok();
    assert_eq!(env.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    let report: serde_json::Value =
        serde_json::from_str(env.run(&["inspect", &format!("{repo}:v1")]).ok()).expect("json");
    let signers: Vec<&str> = report["signedTags"][0]["signers"]
        .as_array()
        .expect("signers")
        .iter()
        .map(|s| s.as_str().expect("s"))
        .collect();
    assert!(
        signers.contains(&"targets/releases") && signers.contains(&"targets/alice"),
        "{signers:?}"
    );

    // Removing bob would leave one key under a threshold of two: refused,
    // and nothing changes.
    env.run(&["signer", "remove", "bob", &repo])
        .fails(2, "threshold of 2");
    assert_eq!(env.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    env.run(&["signer", "remove", "nobody", &repo])
        .fails(2, "no signer nobody");
}
