//! Sign and verify against a real registry (CNCF distribution, started on a
//! free loopback port), with images pushed by the real skopeo.

use crate::common::publisher;
use crate::common::registry::{Registry, layout_ref, push, skopeo};
use crate::common::{Env, oci_image};

/// A registry repository `team/app` with `v1` pushed and signed: the
/// publisher, the repository and v1's digest.
fn signed_v1(reg: &Registry) -> (Env, String, String) {
    let env = publisher();
    let repo = format!("{}/team/app", reg.addr);
    let v1 = push(&env, reg, "team/app", "v1", "v1\n");
    env.run(&["init", &repo]).ok();
    env.run(&["sign", &format!("{repo}:v1")]).ok();
    (env, repo, v1)
}

#[test]
fn sign_verify_tamper_gate_and_registry_down() {
    let reg = Registry::start();
    let (env, repo, v1) = signed_v1(&reg);
    assert_eq!(env.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    assert_eq!(
        env.run(&["resolve", &format!("{repo}:v1")]).ok().trim(),
        format!("{repo}@{v1}")
    );

    // A different image copied over the tag: refused, and the gate writes nothing.
    push(&env, &reg, "team/app", "v1", "something else\n");
    env.run(&["verify", &format!("{repo}:v1")])
        .fails(1, "digest mismatch");
    let dest = env.home().join("pulled");
    let to = format!("oci:{}", dest.display());
    // The gate pulls the signed image, never the one the tag moved to.
    for var in ["VOUCH_CONTENT_TRUST", "DOCKER_CONTENT_TRUST"] {
        let pulled = env.run_with(&["pull", &format!("{repo}:v1"), "--to", &to], &[(var, "1")], "");
        assert_eq!(pulled.ok().trim(), v1, "{var}=1");
        assert!(pulled.stderr.contains("which nobody signed"), "{}", pulled.stderr);
        std::fs::remove_dir_all(&dest).expect("rm");
    }

    // A signed tag pulls through the gate into a layout skopeo can read.
    let v2 = push(&env, &reg, "team/app", "v2", "v2\n");
    env.run(&["sign", &format!("{repo}:v2")]).ok();
    let pulled = env.run_with(
        &["pull", &format!("{repo}:v2"), "--to", &to],
        &[("VOUCH_CONTENT_TRUST", "1")],
        "",
    );
    assert_eq!(pulled.ok().trim(), v2);
    skopeo(&["inspect", &layout_ref(&dest, "v2")]);

    // Registry down: could not decide, never "unsigned" or "verified".
    drop(reg);
    let down = env.run(&["verify", &format!("{repo}:v2")]);
    down.fails(2, "unreachable");
}

#[test]
fn unpinned_is_refused_tofu_pins_and_a_synced_copy_verifies_with_the_same_root() {
    let reg = Registry::start();
    let env = publisher();
    let repo = format!("{}/team/app", reg.addr);
    let v1 = push(&env, &reg, "team/app", "v1", "v1\n");
    let root_id = env.run(&["init", &repo]).ok().trim().to_owned();
    env.run(&["sign", &format!("{repo}:v1")]).ok();

    let user = Env::new();
    user.run(&["verify", &format!("{repo}:v1")])
        .fails(1, "not pinned");
    let tofu = user.run(&["verify", "--tofu", &format!("{repo}:v1")]);
    assert_eq!(tofu.ok().trim(), v1);
    assert!(tofu.stderr.contains("WARNING"), "{}", tofu.stderr);

    // Mirror the repository (images and trust artifact) to a second registry.
    let reg2 = Registry::start();
    skopeo(&[
        "sync",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--src",
        "docker",
        "--dest",
        "docker",
        &repo,
        &format!("{}/mirror", reg2.addr),
    ]);
    // Trust is bound to the root key, not the hostname: one pin covers
    // every copy.
    let consumer = Env::new();
    consumer.run(&["pin", "**/app", &root_id]).ok();
    assert_eq!(
        consumer
            .run(&["verify", &format!("{}/mirror/app:v1", reg2.addr)])
            .ok()
            .trim(),
        v1
    );
    assert_eq!(consumer.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
}

#[test]
fn eight_concurrent_signers_lose_no_update() {
    let reg = Registry::start();
    let env = publisher();
    let repo = format!("{}/team/app", reg.addr);
    let tags: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();
    let digests: Vec<String> = tags
        .iter()
        .map(|t| push(&env, &reg, "team/app", t, &format!("{t}\n")))
        .collect();
    env.run(&["init", &repo]).ok();
    let children: Vec<_> = tags
        .iter()
        .map(|t| env.spawn(&["sign", &format!("{repo}:{t}")]))
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for (t, d) in tags.iter().zip(&digests) {
        assert_eq!(env.run(&["verify", &format!("{repo}:{t}")]).ok().trim(), d, "{t}");
    }
}

#[test]
fn push_copies_and_signs_in_one_step() {
    let reg = Registry::start();
    let env = publisher();
    let repo = format!("{}/team/app", reg.addr);
    let layout = env.home().join("build");
    let digest = oci_image(&layout, "1.0", "pushed\n");
    env.run(&["init", &repo]).ok();
    env.run(&["push", &layout_ref(&layout, "1.0"), &repo]).ok();
    assert_eq!(env.run(&["verify", &format!("{repo}:1.0")]).ok().trim(), digest);
    skopeo(&["inspect", "--tls-verify=false", &format!("docker://{repo}:1.0")]);
}

#[test]
fn credentials_come_from_docker_config_and_credential_helpers() {
    let reg = Registry::start_with_auth(Some(("alice", "s3cret")));
    let mut env = publisher();
    let repo = format!("{}/team/app", reg.addr);
    let layout = env.home().join("build");
    let digest = oci_image(&layout, "v1", "private\n");
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "alice:s3cret",
        &layout_ref(&layout, "v1"),
        &format!("docker://{repo}:v1"),
    ]);
    // No credentials: an authentication failure is could-not-decide.
    let docker_config = env.home().join("docker-config");
    std::fs::create_dir_all(&docker_config).expect("mkdir");
    env.set("DOCKER_CONFIG", docker_config.to_str().expect("utf8"));
    let denied = env.run(&["init", &repo]);
    denied.fails(2, &repo);
    assert!(
        denied.stderr.to_lowercase().contains("auth"),
        "names the authentication failure: {}",
        denied.stderr
    );

    // `auths` basic credentials, as `docker login` writes them.
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    std::fs::write(
        docker_config.join("config.json"),
        format!(r#"{{"auths": {{"{}": {{"auth": "{basic}"}}}}}}"#, reg.addr),
    )
    .expect("config");
    env.run(&["init", &repo]).ok();
    env.run(&["sign", &format!("{repo}:v1")]).ok();
    assert_eq!(env.run(&["verify", &format!("{repo}:v1")]).ok().trim(), digest);

    // A credential helper (credHelpers), run as docker-credential-NAME get.
    let bin = env.home().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let helper = bin.join("docker-credential-vouchtest");
    std::fs::write(&helper, "#!/bin/sh\nread server\necho '{\"ServerURL\":\"'$server'\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}'\n")
        .expect("helper");
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    std::fs::write(
        docker_config.join("config.json"),
        format!(r#"{{"credHelpers": {{"{}": "vouchtest"}}}}"#, reg.addr),
    )
    .expect("config");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = env.run_with(&["verify", &format!("{repo}:v1")], &[("PATH", &path)], "");
    assert_eq!(out.ok().trim(), digest);
    // A helper that fails: exit 2, naming the helper.
    std::fs::write(
        &helper,
        "#!/bin/sh\necho 'credentials not reachable' >&2\nexit 1\n",
    )
    .expect("helper");
    env.run_with(&["verify", &format!("{repo}:v1")], &[("PATH", &path)], "")
        .fails(2, "docker-credential-vouchtest");

    // A default store whose helper is not installed (left by Docker
    // Desktop, say) does not stop a registry that needs no credentials.
    let open = Registry::start();
    let public = format!("{}/team/public", open.addr);
    let public_digest = push(&env, &open, "team/public", "v1", "public\n");
    std::fs::write(
        docker_config.join("config.json"),
        r#"{"credsStore": "vouch-absent"}"#,
    )
    .expect("config");
    let init = env.run(&["init", &public]);
    init.ok();
    assert!(
        init.stderr.contains("docker-credential-vouch-absent"),
        "{}",
        init.stderr
    );
    env.run(&["sign", &format!("{public}:v1")]).ok();
    assert_eq!(
        env.run(&["verify", &format!("{public}:v1")]).ok().trim(),
        public_digest
    );
}

#[test]
fn kill_9_during_sign_leaves_a_verifiable_repository() {
    let reg = Registry::start();
    let env = publisher();
    let repo = format!("{}/team/app", reg.addr);
    push(&env, &reg, "team/app", "base", "base\n");
    env.run(&["init", &repo]).ok();
    env.run(&["sign", &format!("{repo}:base")]).ok();
    for (i, delay_ms) in [10u64, 300, 700, 1100, 1400, 1700, 2000, 2400]
        .into_iter()
        .enumerate()
    {
        let tag = format!("k{i}");
        let digest = push(&env, &reg, "team/app", &tag, &format!("{tag}\n"));
        let mut child = env.spawn(&["sign", &format!("{repo}:{tag}")]);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Old state or new, the repository verifies.
        env.run(&["verify", &format!("{repo}:base")]).ok();
        // Re-running the sign completes.
        env.run(&["sign", &format!("{repo}:{tag}")]).ok();
        assert_eq!(env.run(&["verify", &format!("{repo}:{tag}")]).ok().trim(), digest);
    }
}

#[test]
fn warm_verify_reuses_cached_trust_data_and_offline_needs_no_registry() {
    let reg = Registry::start();
    let (env, repo, v1) = signed_v1(&reg);
    assert_eq!(env.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    // Warm: same answer, and a new signature is still picked up.
    assert_eq!(env.run(&["verify", &format!("{repo}:v1")]).ok().trim(), v1);
    let v2 = push(&env, &reg, "team/app", "v2", "v2\n");
    env.run(&["sign", &format!("{repo}:v2")]).ok();
    assert_eq!(env.run(&["verify", &format!("{repo}:v2")]).ok().trim(), v2);

    // Offline: no registry at all, cached trust data answers and says how
    // long it stays fresh.
    drop(reg);
    let offline = env.run(&["verify", "--offline", &format!("{repo}:v2")]);
    assert_eq!(offline.ok().trim(), v2);
    assert!(offline.stderr.contains("fresh until"), "{}", offline.stderr);
    env.run(&["verify", "--offline", &format!("{repo}:nope")])
        .fails(1, "not signed");
    let fresh = Env::new();
    fresh
        .run(&["verify", "--offline", &format!("{repo}:v2")])
        .fails(2, "no cached trust data");
}

#[test]
fn near_expiry_is_warned_about_and_expired_data_is_refused_online_and_offline() {
    let reg = Registry::start();
    let (env, repo, v1) = signed_v1(&reg);
    let tag = format!("{repo}:v1");

    // Fresh for a week: no warning. A day left: inspect warns.
    let calm = env.run(&["inspect", &repo]);
    calm.ok();
    assert!(!calm.stderr.contains("warning"), "{}", calm.stderr);
    env.run(&["refresh", &repo, "--timestamp-expiry", "1d"]).ok();
    let warned = env.run(&["inspect", &repo]);
    warned.ok();
    assert!(
        warned.stderr.contains("warning: timestamp expires at") && warned.stderr.contains("vouch refresh"),
        "{}",
        warned.stderr
    );

    // Three seconds left: cached and verified while fresh, refused after,
    // from the registry and from the cache alike.
    env.run(&["refresh", &repo, "--timestamp-expiry", "3s"]).ok();
    assert_eq!(env.run(&["verify", &tag]).ok().trim(), v1);
    assert_eq!(env.run(&["verify", "--offline", &tag]).ok().trim(), v1);
    std::thread::sleep(std::time::Duration::from_secs(4));
    env.run(&["verify", "--offline", &tag]).fails(1, "expired");
    env.run(&["verify", &tag]).fails(1, "expired");
    let dest = env.home().join("pulled");
    env.run_with(
        &["pull", &tag, "--to", &format!("oci:{}", dest.display())],
        &[("VOUCH_CONTENT_TRUST", "1")],
        "",
    )
    .fails(1, "expired");
    assert!(!dest.exists());

    // The cron job's refresh brings it back.
    env.run(&["refresh", &repo]).ok();
    assert_eq!(env.run(&["verify", &tag]).ok().trim(), v1);
}
