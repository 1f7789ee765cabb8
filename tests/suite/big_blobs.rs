//! Copies stream: a pull of an image with a 1 GiB layer, through a real
//! registry, keeps the `vouch` process under 64 MiB resident (the layer goes
//! through a hashed temporary file, never through memory). A push signs, and
//! unlocking a key takes scrypt's 64 MiB by design: its copy adds little to
//! what signing alone takes.

use std::path::Path;
use std::process::Command;

use crate::common::publisher;
use crate::common::registry::{Registry, skopeo};

const LAYER_MIB: u64 = 1024;
const BUDGET_KIB: u64 = 64 << 10;

fn big_image(layout: &Path, tag: &str) -> String {
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-big-image"))
        .arg(layout)
        .arg(tag)
        .arg(LAYER_MIB.to_string())
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn push_and_pull_of_a_1_gib_layer_stay_under_64_mib_resident() {
    let reg = Registry::start();
    let env = publisher();
    let build = env.home().join("build");
    let digest = big_image(&build, "v1");
    let repo = format!("{}/team/big", reg.addr);
    env.run(&["init", &repo]).ok();

    let (pushed, push_kib) = env.run_measured(
        &[
            "push",
            &format!("oci:{}:v1", build.display()),
            &format!("{repo}:v1"),
        ],
        &[],
    );
    pushed.ok();
    eprintln!("push of a {LAYER_MIB} MiB layer: peak RSS {} MiB", push_kib >> 10);

    // What vouch pushed is what skopeo reads back, byte for byte (checked
    // against its digest on the way).
    let check = env.home().join("check");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{repo}:v1"),
        &format!("oci:{}:v1", check.display()),
    ]);

    let dest = env.home().join("deploy");
    let (pulled, pull_kib) = env.run_measured(
        &[
            "pull",
            &format!("{repo}:v1"),
            "--to",
            &format!("oci:{}", dest.display()),
        ],
        &[("VOUCH_CONTENT_TRUST", "1")],
    );
    assert_eq!(pulled.ok().trim(), digest);
    eprintln!("pull of a {LAYER_MIB} MiB layer: peak RSS {} MiB", pull_kib >> 10);

    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dest.join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .expect("manifest"),
    )
    .expect("json");
    let layer = &manifest["layers"][0];
    let stored = dest.join("blobs/sha256").join(
        layer["digest"]
            .as_str()
            .expect("digest")
            .trim_start_matches("sha256:"),
    );
    assert_eq!(
        std::fs::metadata(&stored).expect("layer").len(),
        layer["size"].as_u64().expect("size")
    );
    // Signing alone (the same keys unlocked, nothing copied).
    let (refreshed, sign_kib) = env.run_measured(&["refresh", &repo], &[]);
    refreshed.ok();
    eprintln!("signing alone (refresh): peak RSS {} MiB", sign_kib >> 10);
    assert!(
        push_kib < sign_kib + (16 << 10),
        "push peaked at {push_kib} KiB, signing alone at {sign_kib} KiB"
    );
    assert!(pull_kib < BUDGET_KIB, "pull peaked at {pull_kib} KiB");
}
