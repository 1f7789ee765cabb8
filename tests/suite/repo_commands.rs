//! `vouch inspect`, `refresh` and `revoke` on an OCI layout.

use std::path::PathBuf;

use crate::common::{Env, oci_image};

fn signed_repo() -> (Env, PathBuf, String) {
    let env = crate::common::publisher();
    let layout = env.home().join("app");
    let d1 = oci_image(&layout, "v1", "one\n");
    oci_image(&layout, "v2", "two\n");
    env.run(&["init", &format!("oci:{}", layout.display())]).ok();
    env.run(&[
        "sign",
        &format!("oci:{}:v1", layout.display()),
        &format!("oci:{}:v2", layout.display()),
    ])
    .ok();
    (env, layout, d1)
}

fn inspect(env: &Env, r: &str) -> serde_json::Value {
    serde_json::from_str(env.run(&["inspect", r]).ok()).expect("json")
}

#[test]
fn inspect_lists_signed_tags_roles_and_expiries() {
    let (env, layout, d1) = signed_repo();
    let repo = format!("oci:{}", layout.display());
    let report = inspect(&env, &repo);
    assert_eq!(report["version"], 1);
    let tags = report["signedTags"].as_array().expect("tags");
    assert_eq!(tags.len(), 2);
    assert_eq!(tags[0]["tag"], "v1");
    assert_eq!(tags[0]["digest"], d1.as_str());
    assert_eq!(tags[0]["signers"][0], "targets");
    // Signed as Docker Content Trust signs: digest and length, no media
    // type (the manifest names its own).
    assert!(tags[0]["mediaType"].is_null(), "{}", tags[0]);
    assert_eq!(
        tags[0]["length"].as_u64().map(|l| l > 0),
        Some(true),
        "{}",
        tags[0]
    );
    let roles: Vec<&str> = report["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| r["name"].as_str().expect("n"))
        .collect();
    assert_eq!(roles, ["root", "timestamp", "snapshot", "targets"]);
    assert!(
        report["roles"]
            .as_array()
            .expect("r")
            .iter()
            .all(|r| r["threshold"] == 1 && r["expires"].as_str().is_some_and(|e| e.ends_with('Z')))
    );
    assert!(
        report["warnings"].as_array().expect("w").is_empty(),
        "fresh metadata: no warning"
    );

    let one = inspect(&env, &format!("{repo}:v2"));
    assert_eq!(one["signedTags"].as_array().expect("tags").len(), 1);
    let pretty = env.run(&["inspect", &repo, "--pretty"]);
    let text = pretty.ok();
    assert!(
        text.contains("SIGNED TAG") && text.contains(&d1) && text.contains("timestamp"),
        "{text}"
    );
}

#[test]
fn refresh_needs_only_the_timestamp_key() {
    let (env, layout, _) = signed_repo();
    let repo = format!("oci:{}", layout.display());
    let before = inspect(&env, &repo);
    let ts_version = |r: &serde_json::Value| {
        r["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .find(|x| x["name"] == "timestamp")
            .expect("ts")["version"]
            .as_u64()
            .expect("v")
    };
    // Only the timestamp passphrase, as a cron job would have.
    env.run_bare(
        &["refresh", &repo],
        &[("VOUCH_TIMESTAMP_PASSPHRASE", "TIMESTAMP-p")],
    )
    .ok();
    let after = inspect(&env, &repo);
    assert_eq!(ts_version(&after), ts_version(&before) + 1);
    env.run(&["verify", &format!("{repo}:v1")]).ok();
    // Without the timestamp passphrase it cannot, and says which variable.
    env.run_bare(&["refresh", &repo], &[]).fails(2, "no passphrase");
}

#[test]
fn revoke_one_tag_then_all() {
    let (env, layout, _) = signed_repo();
    let repo = format!("oci:{}", layout.display());
    env.run(&["revoke", &format!("{repo}:v1")]).ok();
    env.run(&["verify", &format!("{repo}:v1")]).fails(1, "not signed");
    env.run(&["verify", &format!("{repo}:v2")]).ok();
    env.run(&["revoke", &repo, "--all"]).ok();
    env.run(&["verify", &format!("{repo}:v2")]).fails(1, "not signed");
    assert!(
        inspect(&env, &repo)["signedTags"]
            .as_array()
            .expect("tags")
            .is_empty()
    );
    env.run(&["revoke", &repo, "--all"]).fails(2, "no signed tag");
}
