//! A registry that fails: 5xx, 429, a body cut short, a body that does not
//! end or claims to be huge. A real registry sits behind a fault-injecting
//! proxy (`tests/py/fault_proxy.py`), which breaks the requests a test names
//! and passes the rest through. Every fault is "could not decide" (exit 2)
//! with its cause, never "unsigned" and never "verified", and nothing is
//! lost: the repository verifies again once the registry recovers.

use crate::common::publisher;
use crate::common::registry::{FaultProxy, Registry, push};
use crate::common::{Env, Run};

/// Exit 2 naming `cause`, and neither a verdict of "unsigned" nor a digest.
fn undecided(run: &Run, cause: &str, digest: &str) {
    run.fails(2, cause);
    assert!(!run.all().contains("not signed"), "{}", run.all());
    assert!(!run.stdout.contains(digest), "{}", run.all());
}

/// A reader who pinned the repository's root and has no cached trust data.
fn cold_reader(root_id: &str) -> Env {
    let reader = Env::new();
    reader.run(&["pin", "**/app", root_id]).ok();
    reader
}

#[test]
fn registry_faults_are_undecided_with_their_cause_and_lose_nothing() {
    let reg = Registry::start();
    let proxy = FaultProxy::start(&reg.addr);
    let env = publisher();
    let repo = format!("{}/team/app", proxy.addr);
    let v1 = push(&env, &reg, "team/app", "v1", "v1\n");
    let root_id = env.run(&["init", &repo]).ok().trim().to_owned();
    env.run(&["sign", &format!("{repo}:v1")]).ok();
    let tag = format!("{repo}:v1");
    assert_eq!(env.run(&["verify", &tag]).ok().trim(), v1);

    // Warm reader: the HEAD of the trust tag fails.
    proxy.fault("status:503", "HEAD .*/manifests/vouch-trust");
    undecided(&env.run(&["verify", &tag]), "HTTP 503", &v1);
    proxy.fault("status:429", "/manifests/");
    let limited = env.run(&["verify", &tag]);
    undecided(&limited, "rate limited (HTTP 429), retry after 7 s", &v1);
    // A 404 that does not come from a registry (a proxy, a wrong path) is
    // not "no trust data".
    proxy.fault("status:404", "/manifests/vouch-trust");
    undecided(
        &env.run(&["verify", &tag]),
        "HTTP 404 without a registry error code",
        &v1,
    );
    proxy.fault("status:500", "HEAD .*/manifests/v1");
    undecided(&env.run(&["verify", &tag]), "HTTP 500", &v1);

    // Cold readers: each download of the trust data fails in its own way.
    let faults = [
        ("status:502", "GET .*/blobs/", "HTTP 502"),
        ("truncate", "GET .*/blobs/", "cut short"),
        ("truncate", "GET .*/manifests/vouch-trust", "cut short"),
        ("endless", "GET .*/blobs/", "larger than the limit"),
        ("huge", "GET .*/blobs/", "larger than the limit"),
        (
            "huge",
            "GET .*/manifests/vouch-trust",
            "larger than the limit of 4194304 bytes",
        ),
        (
            "endless",
            "GET .*/manifests/vouch-trust",
            "larger than the limit of 4194304 bytes",
        ),
    ];
    for (mode, pattern, cause) in faults {
        proxy.fault(mode, pattern);
        let reader = cold_reader(&root_id);
        let run = reader.run(&["verify", &tag]);
        assert_eq!(run.code, 2, "{mode} {pattern}: {}", run.all());
        undecided(&run, cause, &v1);
        // The reader trusts nothing it could not check: once the registry
        // recovers, the same reader verifies.
        proxy.clear();
        assert_eq!(
            reader.run(&["verify", &tag]).ok().trim(),
            v1,
            "after {mode} {pattern}"
        );
    }

    // A publisher whose upload of the new trust data fails loses nothing.
    let v2 = push(&env, &reg, "team/app", "v2", "v2\n");
    proxy.fault("status:500", "PUT .*/manifests/vouch-trust");
    env.run(&["sign", &format!("{repo}:v2")]).fails(2, "HTTP 500");
    proxy.fault("truncate", "GET .*/manifests/v2");
    env.run(&["sign", &format!("{repo}:v2")]).fails(2, "cut short");
    proxy.clear();
    assert_eq!(env.run(&["verify", &tag]).ok().trim(), v1);
    env.run(&["verify", &format!("{repo}:v2")]).fails(1, "not signed");
    env.run(&["sign", &format!("{repo}:v2")]).ok();
    assert_eq!(env.run(&["verify", &format!("{repo}:v2")]).ok().trim(), v2);

    // The gate: a layer cut short during the copy writes nothing.
    let dest = env.home().join("pulled");
    let to = format!("oci:{}", dest.display());
    proxy.fault("truncate", "GET .*/blobs/");
    let pull = env.run_with(&["pull", &tag, "--to", &to], &[("VOUCH_CONTENT_TRUST", "1")], "");
    pull.fails(2, "cut short");
    assert!(!dest.exists(), "nothing written");
    let leftovers: Vec<_> = std::fs::read_dir(env.home())
        .expect("home")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    proxy.clear();
    env.run_with(&["pull", &tag, "--to", &to], &[("VOUCH_CONTENT_TRUST", "1")], "")
        .ok();
}

#[test]
fn an_authentication_failure_is_undecided() {
    let reg = Registry::start_with_auth(Some(("alice", "right")));
    let proxy = FaultProxy::start(&reg.addr);
    let env = Env::new();
    let config = docker_config(&env, &proxy.addr, "alice", "Xq9-wrong-pass");
    let run = env.run_with(
        &["verify", "--tofu", &format!("{}/team/app:v1", proxy.addr)],
        &[("DOCKER_CONFIG", config.to_str().expect("utf-8"))],
        "",
    );
    undecided(&run, "authentication failed", "sha256:");
    assert!(
        !run.all().contains("Xq9-wrong-pass"),
        "no secret in the output: {}",
        run.all()
    );
}

/// A Docker `config.json` with Basic credentials for `registry`; returns
/// its directory (for `DOCKER_CONFIG`).
fn docker_config(env: &Env, registry: &str, user: &str, password: &str) -> std::path::PathBuf {
    use base64::Engine;
    let config = env.home().join("docker");
    std::fs::create_dir_all(&config).expect("mkdir");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        config.join("config.json"),
        format!(r#"{{"auths":{{"{registry}":{{"auth":"{auth}"}}}}}}"#),
    )
    .expect("config");
    config
}

/// A registry on loopback whose `Bearer` challenge names a plain-HTTP token
/// service elsewhere: vouch sends the configured credentials nowhere (not
/// even a connection is tried: 192.0.2.1 is TEST-NET and would hang) and
/// cannot decide.
#[test]
fn a_plain_http_token_service_off_loopback_gets_no_credentials() {
    let reg = Registry::start_with_token_realm("http://192.0.2.1/token");
    let env = Env::new();
    let config = docker_config(&env, &reg.addr, "alice", "Zr7-secret-pass");
    let started = std::time::Instant::now();
    let run = env.run_with(
        &["verify", "--tofu", &format!("{}/team/app:v1", reg.addr)],
        &[("DOCKER_CONFIG", config.to_str().expect("utf-8"))],
        "",
    );
    undecided(
        &run,
        "is not HTTPS; vouch does not send credentials there",
        "sha256:",
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "vouch tried to reach the token service"
    );
    assert!(!run.all().contains("Zr7-secret-pass"), "{}", run.all());
}
