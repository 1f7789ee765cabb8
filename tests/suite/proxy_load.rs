//! `vouch proxy` under load and against clients that mean harm (no key, no
//! registry access): each test is named after what it plays. A real
//! docker-registry holds a signed image with a 32 MiB layer, a small
//! signed image and an unsigned one.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::Digest as _;

use crate::common::proxy::RunningProxy;
use crate::common::registry::{Registry, layout_ref, push, skopeo};
use crate::common::{Env, publisher};

const NAME: &str = "up";
/// A little over the time a gate reuses the upstream's trust tag answer.
const TRUST_TAG_REUSE: Duration = Duration::from_millis(1300);
const BIG_MIB: u64 = 32;

struct Scene {
    env: Env,
    _reg: Registry,
    upstream: String,
    /// Layer digest of the signed `demo/big:v1`.
    big_layer: String,
    /// Layer digest of the signed `demo/app:v1`.
    small_layer: String,
}

/// The first layer of `REPO@DIGEST` (or of `REPO:TAG`, with no digest).
fn layer_of(repo: &str, digest: &str) -> String {
    let name = if digest.is_empty() {
        repo.to_owned()
    } else {
        format!("{repo}@{digest}")
    };
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{name}"))
        .output()
        .expect("skopeo");
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).expect("manifest");
    m["layers"][0]["digest"].as_str().expect("layer").to_owned()
}

fn scene(big: bool) -> Scene {
    let env = publisher();
    let reg = Registry::start();
    let upstream = reg.addr.clone();
    let app = format!("{upstream}/demo/app");
    let small = push(&env, &reg, "demo/app", "v1", "signed one\n");
    push(&env, &reg, "demo/app", "v2", "never signed\n");
    env.run(&["init", &app]).ok();
    env.run(&["sign", &format!("{app}:v1")]).ok();
    let mut big_layer = String::new();
    if big {
        let layout = env.home().join("build-big");
        let out = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-big-image"))
            .arg(&layout)
            .arg("v1")
            .arg(BIG_MIB.to_string())
            .output()
            .expect("python3");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let repo = format!("{upstream}/demo/big");
        skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            &layout_ref(&layout, "v1"),
            &format!("docker://{repo}:v1"),
        ]);
        env.run(&["init", &repo]).ok();
        env.run(&["sign", &format!("{repo}:v1")]).ok();
        big_layer = layer_of(&format!("{repo}:v1"), "");
    }
    Scene {
        small_layer: layer_of(&app, &small),
        env,
        _reg: reg,
        upstream,
        big_layer,
    }
}

/// `curl` of a URL: (status, sha256 of the body).
fn get(proxy: &RunningProxy, path: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "60", "-w", "\n%{http_code}", "-H"])
        .arg("Accept: application/vnd.oci.image.manifest.v1+json")
        .arg(format!("http://{}/v2/{NAME}/{path}", proxy.addr))
        .output()
        .expect("curl");
    let (body, status) = out
        .stdout
        .rsplit(|b| *b == b'\n')
        .next()
        .map(|s| (&out.stdout[..out.stdout.len() - s.len() - 1], s))
        .expect("status");
    (
        String::from_utf8_lossy(status).trim().to_owned(),
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(body))),
    )
}

/// Many requests in one curl (one connection, kept alive): the statuses.
fn get_many(proxy: &RunningProxy, paths: &[String], dir: &Path) -> Vec<String> {
    let config = dir.join(format!("curl-{}.conf", crate::common::unique()));
    let mut text = String::new();
    for p in paths {
        text.push_str(&format!(
            "url = \"http://{}/v2/{NAME}/{p}\"\noutput = \"/dev/null\"\n",
            proxy.addr
        ));
    }
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(&config, text).expect("config");
    let out = Command::new("curl")
        .args(["-s", "-w", "%{http_code}\n", "-K"])
        .arg(&config)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Made-up repository names: manifest requests (each decided: no trust
/// data there) and blob requests.
fn made_up(n: usize, salt: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i % 4 == 3 {
                format!("made-up/{salt}{i}/blobs/sha256:{}", "a".repeat(64))
            } else {
                format!("made-up/{salt}{i}/manifests/v1")
            }
        })
        .collect()
}

#[test]
fn many_clients_that_never_read_a_blob_stall_no_one() {
    let s = scene(true);
    let proxy = RunningProxy::start(&s.env, NAME, &s.upstream, &[], &[]);
    assert_eq!(get(&proxy, "demo/big/manifests/v1").0, "200");
    let request = format!(
        "GET /v2/{NAME}/demo/big/blobs/{} HTTP/1.1\r\nHost: proxy\r\n\r\n",
        s.big_layer
    );
    let stalled: Vec<std::net::TcpStream> = (0..64)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(&proxy.addr).expect("connect");
            c.write_all(request.as_bytes()).expect("request");
            c
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    // Everyone else is served meanwhile, whole and checked.
    assert_eq!(get(&proxy, "demo/app/manifests/v1").0, "200");
    let (status, digest) = get(&proxy, &format!("demo/app/blobs/{}", s.small_layer));
    assert_eq!(
        (status.as_str(), digest.as_str()),
        ("200", s.small_layer.as_str())
    );
    let threads = proxy.status("Threads");
    assert!(
        threads < 40,
        "no thread is held per transfer: {threads} threads with 64 stalled"
    );
    // A transfer nobody reads is closed after its stall timeout (30 s):
    // what is read afterwards ends early, never the whole layer.
    std::thread::sleep(Duration::from_secs(45));
    for mut c in stalled {
        c.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        assert!(
            (got.len() as u64) < BIG_MIB << 20,
            "the stalled transfer was closed ({} bytes)",
            got.len()
        );
    }
    assert_eq!(get(&proxy, "demo/app/manifests/v1").0, "200");
}

#[test]
fn thousands_of_made_up_repository_names_keep_the_proxy_bounded() {
    let s = scene(false);
    let proxy = RunningProxy::start(&s.env, NAME, &s.upstream, &[], &[]);
    let files_before = proxy.open_files();
    let statuses = get_many(&proxy, &made_up(3000, "x"), &s.env.home().join("curl"));
    assert_eq!(statuses.len(), 3000);
    assert!(statuses.iter().all(|c| c == "403"), "{:?}", &statuses[..8]);
    let files = proxy.open_files();
    assert!(
        files < files_before + 64,
        "file descriptors stay bounded: {files_before} before, {files} after"
    );
    let rss_mib = proxy.status("VmRSS") >> 10;
    assert!(rss_mib < 200, "memory stays bounded: {rss_mib} MiB");
    assert_eq!(get(&proxy, "demo/app/manifests/v1").0, "200", "still serving");
}

#[test]
fn eviction_during_a_pull_never_breaks_it() {
    let s = scene(true);
    let proxy = RunningProxy::start(&s.env, NAME, &s.upstream, &[], &[]);
    assert_eq!(get(&proxy, "demo/big/manifests/v1").0, "200");
    assert_eq!(get(&proxy, "demo/app/manifests/v1").0, "200");
    // A slow download of the big layer, under way while every idle
    // repository's state is pushed out by more names than are kept.
    let out = s.env.home().join("big-layer");
    let slow = Command::new("curl")
        .args(["-s", "--limit-rate", "4M", "-o"])
        .arg(&out)
        .arg(format!(
            "http://{}/v2/{NAME}/demo/big/blobs/{}",
            proxy.addr, s.big_layer
        ))
        .stdout(Stdio::null())
        .spawn()
        .expect("curl");
    let statuses = get_many(&proxy, &made_up(1600, "evict"), &s.env.home().join("curl"));
    assert!(statuses.iter().all(|c| c == "403"));
    // The pull that had its manifest before the eviction goes on.
    let (status, digest) = get(&proxy, &format!("demo/app/blobs/{}", s.small_layer));
    assert_eq!(
        (status.as_str(), digest.as_str()),
        ("200", s.small_layer.as_str())
    );
    let done = slow.wait_with_output().expect("curl");
    assert!(done.status.success());
    let body = std::fs::read(&out).expect("layer");
    assert_eq!(
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body))),
        s.big_layer,
        "the download in progress completed, whole"
    );
}

#[test]
fn layers_of_a_revoked_image_are_refused() {
    let s = scene(false);
    let proxy = RunningProxy::start(&s.env, NAME, &s.upstream, &[], &[]);
    let layer = format!("demo/app/blobs/{}", s.small_layer);
    assert_eq!(get(&proxy, &layer).0, "403", "not part of an image served yet");
    assert_eq!(get(&proxy, "demo/app/manifests/v1").0, "200");
    assert_eq!(get(&proxy, &layer).0, "200");
    s.env
        .run(&["revoke", &format!("{}/demo/app:v1", s.upstream)])
        .ok();
    std::thread::sleep(TRUST_TAG_REUSE);
    assert_eq!(get(&proxy, &layer).0, "403", "a revoked image's layer");
    assert_eq!(get(&proxy, "demo/app/manifests/v1").0, "403");
}

#[test]
fn shadowing_or_duplicate_upstream_names_are_refused_at_start() {
    let env = Env::new();
    for (upstreams, needle) in [
        (
            &["a=127.0.0.1:5000", "a=127.0.0.1:5001"][..],
            "two upstreams are named",
        ),
        (&["a=127.0.0.1:5000", "b=127.0.0.1:5000"][..], "given twice"),
        (&["ghcr.io=127.0.0.1:5000"][..], "would shadow ghcr.io"),
    ] {
        let mut args = vec!["proxy", "--listen", "127.0.0.1:0"];
        for u in upstreams {
            args.extend(["--upstream", u]);
        }
        env.run(&args).fails(2, needle);
    }
}

#[test]
fn a_non_utf8_switch_value_never_turns_a_gate_off() {
    use std::os::unix::ffi::OsStrExt;

    let s = scene(false);
    let bad = std::ffi::OsStr::from_bytes(b"\xff1");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vouch"))
            .arg("--trust-dir")
            .arg(s.env.trust())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", s.env.home())
            .env("VOUCH_CONTENT_TRUST", bad)
            .env("DOCKER_CONTENT_TRUST", "0")
            .stdin(Stdio::null())
            .output()
            .expect("vouch")
    };
    let dest = s.env.home().join("pulled");
    let unsigned = format!("{}/demo/app:v2", s.upstream);
    let proxy_args = [
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &format!("{NAME}={}", s.upstream),
    ];
    let to = format!("oci:{}", dest.display());
    for args in [&["pull", &unsigned, "--to", &to][..], &proxy_args[..]] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: a usage error, never off: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("VOUCH_CONTENT_TRUST"));
    }
    assert!(!dest.exists(), "nothing was pulled");
}

#[test]
fn audit_and_off_modes_stay_bounded_in_memory() {
    let s = scene(false);
    for level in ["audit", "0"] {
        let proxy = RunningProxy::start(&s.env, NAME, &s.upstream, &[("VOUCH_CONTENT_TRUST", level)], &[]);
        let files_before = proxy.open_files();
        let mut paths = made_up(2000, level);
        paths.extend((0..500).map(|_| "demo/app/manifests/v2".to_owned()));
        let statuses = get_many(&proxy, &paths, &s.env.home().join("curl"));
        assert_eq!(statuses.len(), paths.len());
        assert!(
            statuses[2000..].iter().all(|c| c == "200"),
            "{level}: the unsigned tag passes"
        );
        let files = proxy.open_files();
        assert!(
            files < files_before + 64,
            "{level}: {files_before} -> {files} files"
        );
        let rss_mib = proxy.status("VmRSS") >> 10;
        assert!(rss_mib < 200, "{level}: {rss_mib} MiB");
    }
}
