//! `vouch pull` — the content trust gate, switched by VOUCH_CONTENT_TRUST
//! or Docker's DOCKER_CONTENT_TRUST, on OCI layouts.

use std::path::PathBuf;

use crate::common::{Env, Run, oci_image};

struct Setup {
    env: Env,
    src: PathBuf,
    dest: PathBuf,
    signed: String,
}

fn setup() -> Setup {
    let env = crate::common::publisher();
    let src = env.home().join("src");
    let dest = env.home().join("dest");
    let signed = oci_image(&src, "v1", "signed\n");
    env.run(&["init", &format!("oci:{}", src.display())]).ok();
    env.run(&["sign", &format!("oci:{}:v1", src.display())]).ok();
    oci_image(&src, "unsigned", "unsigned\n");
    Setup {
        env,
        src,
        dest,
        signed,
    }
}

impl Setup {
    fn pull(&self, tag: &str, vars: &[(&str, &str)]) -> Run {
        let r = format!("oci:{}:{tag}", self.src.display());
        let to = format!("oci:{}", self.dest.display());
        self.env.run_with(&["pull", &r, "--to", &to], vars, "")
    }

    fn skopeo_digest(&self, tag: &str) -> String {
        let out = std::process::Command::new("skopeo")
            .args([
                "inspect",
                "--format",
                "{{.Digest}}",
                &format!("oci:{}:{tag}", self.dest.display()),
            ])
            .output()
            .expect("skopeo");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

#[test]
fn enforced_pull_copies_a_verified_image_by_digest() {
    let s = setup();
    let out = s.pull("v1", &[("VOUCH_CONTENT_TRUST", "1")]);
    assert_eq!(out.ok().trim(), s.signed);
    assert_eq!(s.skopeo_digest("v1"), s.signed, "skopeo reads the pulled image");
}

#[test]
fn enforced_pull_refuses_and_writes_nothing() {
    let s = setup();
    for vars in [
        [("VOUCH_CONTENT_TRUST", "1")],
        [("DOCKER_CONTENT_TRUST", "1")],
        [("DOCKER_CONTENT_TRUST", "yes")],
    ] {
        s.pull("unsigned", &vars).fails(1, "not signed");
        assert!(!s.dest.exists(), "nothing written with {vars:?}");
    }
    assert!(!s.dest.exists());
}

#[test]
fn a_moved_tag_pulls_the_signed_digest_with_a_warning() {
    let s = setup();
    // The tag moved after signing: the signed image is what is pulled, as
    // `docker vouch pull` and the proxy do.
    let moved = oci_image(&s.src, "v1", "tampered\n");
    for vars in [&[][..], &[("VOUCH_CONTENT_TRUST", "true")][..]] {
        let out = s.pull("v1", vars);
        assert_eq!(out.ok().trim(), s.signed, "{vars:?}");
        assert!(
            out.stderr.contains("warning:") && out.stderr.contains(&moved) && out.stderr.contains(&s.signed),
            "{}",
            out.stderr
        );
        assert_eq!(s.skopeo_digest("v1"), s.signed);
        std::fs::remove_dir_all(&s.dest).expect("rm");
    }
}

#[test]
fn pull_enforces_unless_switched_off_explicitly() {
    let s = setup();
    // Unset (both variables): enforcing, as its --help says.
    s.pull("unsigned", &[]).fails(1, "not signed");
    assert!(!s.dest.exists());
    let help = s.env.run(&["pull", "--help"]);
    assert!(help.ok().contains("enforcing unless"), "{}", help.stdout);
    for vars in [
        [("VOUCH_CONTENT_TRUST", "0")],
        [("DOCKER_CONTENT_TRUST", "0")],
        [("VOUCH_CONTENT_TRUST", "false")],
    ] {
        s.pull("unsigned", &vars).ok();
        std::fs::remove_dir_all(&s.dest).expect("rm");
    }
}

#[test]
fn audit_warns_and_off_does_not_check() {
    let s = setup();
    let audit = s.pull("unsigned", &[("VOUCH_CONTENT_TRUST", "audit")]);
    audit.ok();
    assert!(
        audit.stderr.contains("warning:") && audit.stderr.contains("audit"),
        "{}",
        audit.stderr
    );
    // Ours set to 0 wins over Docker's.
    s.pull(
        "unsigned",
        &[("VOUCH_CONTENT_TRUST", "0"), ("DOCKER_CONTENT_TRUST", "1")],
    )
    .ok();
    std::fs::remove_dir_all(&s.dest).expect("rm");
    let off = s.pull("unsigned", &[("VOUCH_CONTENT_TRUST", "0")]);
    assert!(!off.ok().is_empty());
    assert!(!off.stderr.contains("warning"), "{}", off.stderr);
}

#[test]
fn an_unknown_switch_value_is_a_usage_error() {
    let s = setup();
    s.pull("v1", &[("VOUCH_CONTENT_TRUST", "maybe")])
        .fails(2, "VOUCH_CONTENT_TRUST");
    assert!(!s.dest.exists());
}
