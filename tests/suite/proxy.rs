//! `vouch proxy`, `docker vouch` and the containerd verifier, with real
//! clients configured as a user would: podman (`registries.conf`),
//! containerd + ctr (`hosts.toml`), skopeo, and the docker CLI against
//! podman's Docker API. A real docker-registry holds `v1` (signed, then
//! moved upstream to an unsigned image), `v2` (unsigned) and `multi` (an
//! image index signed with `--recursive`).

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::notary::{DockerApi, free_port, openssl, wait_for_port};
use crate::common::proxy::RunningProxy;
use crate::common::publisher;
use crate::common::registry::{Registry, layout_ref, push, skopeo};
use crate::common::{Env, index_children, oci_image_index};

/// The upstream's name behind the proxy: `/v2/up/REPO/…`.
const NAME: &str = "up";

/// A little over the time a gate reuses the upstream's answer about its
/// trust tag (`vouch::serving::decider::TRUST_TAG_REUSE`, one second).
pub const TRUST_TAG_REUSE: Duration = Duration::from_millis(1300);

struct Scene {
    env: Env,
    reg: Option<Registry>,
    upstream: String,
    /// `UPSTREAM/demo/app`.
    repo: String,
    signed_v1: String,
    moved_v1: String,
    unsigned_v2: String,
    multi: String,
    multi_children: Vec<String>,
    root_id: String,
}

fn scene() -> Scene {
    let env = publisher();
    let reg = Registry::start();
    let upstream = reg.addr.clone();
    let repo = format!("{upstream}/demo/app");
    let signed_v1 = push(&env, &reg, "demo/app", "v1", "signed one\n");
    let unsigned_v2 = push(&env, &reg, "demo/app", "v2", "never signed\n");
    let layout = env.home().join("build-multi");
    let multi = oci_image_index(&layout, "multi");
    let multi_children = index_children(&layout, &multi);
    skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        &layout_ref(&layout, "multi"),
        &format!("docker://{repo}:multi"),
    ]);
    let root_id = env.run(&["init", &repo]).ok().trim().to_owned();
    env.run(&["sign", &format!("{repo}:v1")]).ok();
    env.run(&["sign", "--recursive", &format!("{repo}:multi")]).ok();
    // Whoever can write the registry moves v1 to an image nobody signed.
    let moved_v1 = push(&env, &reg, "demo/app", "v1", "moved by the registry\n");
    assert_ne!(moved_v1, signed_v1);
    Scene {
        env,
        reg: Some(reg),
        upstream,
        repo,
        signed_v1,
        moved_v1,
        unsigned_v2,
        multi,
        multi_children,
        root_id,
    }
}

/// `vouch proxy` in front of the scene's registry (or `upstream`).
struct Proxy;

impl Proxy {
    fn start(s: &Scene, vars: &[(&str, &str)], extra: &[&str]) -> RunningProxy {
        Proxy::start_for(s, &s.upstream, vars, extra)
    }

    /// In front of `upstream` (host:port).
    fn start_for(s: &Scene, upstream: &str, vars: &[(&str, &str)], extra: &[&str]) -> RunningProxy {
        RunningProxy::start(&s.env, NAME, upstream, vars, extra)
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `vouch proxy-config CLIENT` for the proxy at `proxy` with the
/// upstream `NAME=upstream`, with `extra` arguments; its stdout.
fn proxy_config(client: &str, upstream: &str, proxy: &str, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["proxy-config", client, "--proxy", proxy, "--upstream"])
        .arg(format!("{NAME}={upstream}"))
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("vouch");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Root podman with vfs storage in a scratch directory and the
/// `registries.conf` that `vouch proxy-config podman` writes: the
/// upstream's only location is the proxy.
struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    fn new(upstream: &str, proxy: &str) -> Podman {
        let dir = tempfile::tempdir().expect("tmp");
        let conf = proxy_config("podman", upstream, proxy, &[]);
        std::fs::write(
            dir.path().join("registries.conf"),
            format!("unqualified-search-registries = []\n{conf}"),
        )
        .expect("registries.conf");
        Podman { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        let d = self.dir.path();
        Command::new("podman")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .env("CONTAINERS_REGISTRIES_CONF", d.join("registries.conf"))
            .stdin(Stdio::null())
            .output()
            .expect("podman (Debian package podman) must be installed")
    }

    fn digest(&self, image: &str) -> Option<String> {
        let out = self.run(&["image", "inspect", "--format", "{{.Digest}}", image]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

#[test]
fn podman_pulls_the_signed_digest_through_the_proxy_and_is_refused_unsigned() {
    let s = scene();
    let proxy = Proxy::start(&s, &[], &[]);
    let podman = Podman::new(&s.upstream, &proxy.addr);
    let v1 = format!("{}:v1", s.repo);
    let out = podman.run(&["pull", &v1]);
    assert!(out.status.success(), "podman pull v1: {}", text(&out));
    assert_eq!(
        podman.digest(&v1).as_deref(),
        Some(s.signed_v1.as_str()),
        "the signed digest, not the upstream's moved tag ({})",
        s.moved_v1
    );
    assert!(
        proxy
            .log()
            .contains(&format!("the upstream tag {v1} points at {}", s.moved_v1)),
        "the moved tag is logged: {}",
        proxy.log()
    );

    let v2 = format!("{}:v2", s.repo);
    let out = podman.run(&["pull", &v2]);
    assert!(!out.status.success(), "podman pulled an unsigned tag");
    let msg = text(&out);
    assert!(
        msg.contains(&format!("vouch: {v2} is not signed")),
        "podman shows vouch's reason: {msg}"
    );
    assert!(podman.digest(&v2).is_none(), "nothing of v2 is stored");
    assert!(
        podman.digest(&format!("{}@{}", s.repo, s.unsigned_v2)).is_none(),
        "no fallback to the upstream"
    );

    let out = podman.run(&["pull", &format!("{}:multi", s.repo)]);
    assert!(out.status.success(), "podman pull multi: {}", text(&out));
    assert!(
        proxy.log().contains(&format!("served {}", s.multi)),
        "{}",
        proxy.log()
    );
}

/// containerd 1.6 with the `hosts.toml` that `vouch proxy-config
/// containerd --write` writes: the proxy is the only host for the upstream.
struct Containerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Containerd {
    fn start(upstream: &str, proxy: &str) -> Containerd {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        std::fs::write(
            d.join("config.toml"),
            format!(
                "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n[grpc]\n  address = \"{0}/c.sock\"\n[ttrpc]\n  address = \"{0}/c.sock.ttrpc\"\n",
                d.display()
            ),
        )
        .expect("config");
        let hosts = d.join("hosts");
        proxy_config(
            "containerd",
            upstream,
            proxy,
            &["--write", hosts.to_str().expect("utf-8")],
        );
        assert!(hosts.join(upstream).join("hosts.toml").is_file());
        let mut child = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("containerd (Debian package containerd) must be installed");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(d.join("c.sock")).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("containerd exited: {status}");
            }
            assert!(Instant::now() < deadline, "containerd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Containerd { child, dir }
    }

    fn ctr(&self, args: &[&str]) -> Output {
        let d = self.dir.path();
        let mut cmd = Command::new("ctr");
        cmd.arg("--address").arg(d.join("c.sock")).args(args);
        cmd.stdin(Stdio::null()).output().expect("ctr")
    }

    fn pull(&self, image: &str, all_platforms: bool) -> Output {
        let mut args = vec!["images", "pull"];
        if all_platforms {
            args.push("--all-platforms");
        }
        // The flags go before the reference.
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(self.dir.path().join("c.sock"))
            .args(&args)
            .arg("--hosts-dir")
            .arg(self.dir.path().join("hosts"))
            .arg(image);
        cmd.stdin(Stdio::null()).output().expect("ctr")
    }

    /// The digest containerd stored for an image name.
    fn digest(&self, image: &str) -> Option<String> {
        let out = self.ctr(&["images", "ls"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.split_whitespace().next() == Some(image))
            .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
    }

    fn has_content(&self, digest: &str) -> bool {
        let out = self.ctr(&["content", "ls", "-q"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.trim() == digest)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ctr_pulls_through_the_proxy_as_its_only_host() {
    let s = scene();
    let proxy = Proxy::start(&s, &[], &[]);
    let ctd = Containerd::start(&s.upstream, &proxy.addr);
    let v1 = format!("{}:v1", s.repo);
    let out = ctd.pull(&v1, false);
    assert!(out.status.success(), "ctr pull v1: {}", text(&out));
    assert_eq!(
        ctd.digest(&v1).as_deref(),
        Some(s.signed_v1.as_str()),
        "the signed digest"
    );
    assert!(
        !ctd.has_content(&s.moved_v1),
        "nothing from the moved upstream tag"
    );

    let v2 = format!("{}:v2", s.repo);
    let out = ctd.pull(&v2, false);
    assert!(!out.status.success(), "ctr pulled an unsigned tag");
    let msg = text(&out);
    assert!(
        msg.contains(&format!("vouch: {v2} is not signed")),
        "ctr shows vouch's reason: {msg}"
    );
    assert!(msg.contains("403"), "a refusal, not a failure: {msg}");
    assert_eq!(ctd.digest(&v2), None);
    assert!(!ctd.has_content(&s.unsigned_v2), "no fallback to the upstream");

    let multi = format!("{}:multi", s.repo);
    let out = ctd.pull(&multi, true);
    assert!(out.status.success(), "ctr pull multi: {}", text(&out));
    assert_eq!(ctd.digest(&multi).as_deref(), Some(s.multi.as_str()));
    for child in &s.multi_children {
        assert!(
            ctd.has_content(child),
            "platform manifest {child} pulled by digest"
        );
    }
}

#[test]
fn skopeo_copies_signed_and_is_refused_unsigned_and_every_request_is_logged() {
    let s = scene();
    let proxy = Proxy::start(&s, &[], &["--log-format", "json"]);
    let out_dir = s.env.home().join("copied");
    let copy = |tag: &str| {
        Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{}/{NAME}/demo/app:{tag}", proxy.addr))
            .arg(format!("oci:{}:{tag}", out_dir.display()))
            .output()
            .expect("skopeo")
    };
    let out = copy("v1");
    assert!(out.status.success(), "{}", text(&out));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("index.json")).expect("index.json"))
            .expect("json");
    assert_eq!(index["manifests"][0]["digest"], s.signed_v1.as_str());

    let out = copy("v2");
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(
        msg.contains(&format!("vouch: {}:v2 is not signed", s.repo)),
        "{msg}"
    );

    let lines: Vec<serde_json::Value> = proxy
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v.get("verdict").is_some())
        .collect();
    let refused = lines
        .iter()
        .find(|v| v["verdict"] == "refused")
        .expect("a refusal line");
    assert_eq!(refused["reference"], format!("{}:v2", s.repo));
    assert!(
        refused["reason"]
            .as_str()
            .expect("reason")
            .contains("is not signed")
    );
    assert!(
        refused["client"]
            .as_str()
            .expect("client")
            .starts_with("127.0.0.1:")
    );
    assert!(refused["ms"].is_u64());
    let served = lines
        .iter()
        .find(|v| v["verdict"] == "served" && v["reference"] == format!("{}:v1", s.repo))
        .expect("a served line");
    assert_eq!(served["digest"], s.signed_v1.as_str());
}

fn docker(api: &DockerApi, config: &Path, trust: &Path, args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", &api.host)
        .env("DOCKER_CONFIG", config)
        .env("VOUCH_TRUST_DIR", trust)
        .stdin(Stdio::null())
        .output()
        .expect("docker CLI")
}

fn docker_images(api: &DockerApi, config: &Path, trust: &Path) -> String {
    let out = docker(
        api,
        config,
        trust,
        &[
            "images",
            "--digests",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.Digest}}",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn docker_cli_is_refused_through_the_proxy_and_docker_vouch_pulls_the_signed_digest() {
    let s = scene();
    let proxy = Proxy::start(&s, &[], &[]);
    let api = DockerApi::start(&[&proxy.addr, &s.upstream]);
    let config = s.env.home().join("docker-config");
    let trust = s.env.trust();

    let out = docker(
        &api,
        &config,
        &trust,
        &["pull", &format!("{}/{NAME}/demo/app:v2", proxy.addr)],
    );
    assert!(
        !out.status.success(),
        "docker pulled an unsigned tag through the proxy"
    );
    assert!(
        text(&out).contains(&format!("vouch: {}:v2 is not signed", s.repo)),
        "{}",
        text(&out)
    );

    // `vouch docker-plugin install` puts the plugin where the CLI looks.
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["docker-plugin", "install"])
        .env("DOCKER_CONFIG", &config)
        .output()
        .expect("vouch");
    assert!(out.status.success(), "{}", text(&out));
    let out = docker(&api, &config, &trust, &["--help"]);
    assert!(
        text(&out).contains("vouch*"),
        "the CLI lists the plugin: {}",
        text(&out)
    );

    let out = docker(
        &api,
        &config,
        &trust,
        &["vouch", "pull", &format!("{}:v1", s.repo)],
    );
    assert!(out.status.success(), "docker vouch pull v1: {}", text(&out));
    let images = docker_images(&api, &config, &trust);
    assert!(
        images.contains(&format!("{}:v1 {}", s.repo, s.signed_v1)),
        "v1 tagged at the signed digest: {images}"
    );

    let out = docker(
        &api,
        &config,
        &trust,
        &["vouch", "pull", &format!("{}:v2", s.repo)],
    );
    assert_eq!(out.status.code(), Some(1), "refused: {}", text(&out));
    assert!(text(&out).contains("is not signed"));
    let images = docker_images(&api, &config, &trust);
    assert!(!images.contains(":v2"), "nothing pulled: {images}");
    assert!(!images.contains(&s.unsigned_v2), "nothing pulled: {images}");

    let out = docker(
        &api,
        &config,
        &trust,
        &["vouch", "verify", &format!("{}:multi", s.repo)],
    );
    assert!(out.status.success(), "docker vouch verify: {}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), s.multi);
}

#[test]
fn an_unreachable_upstream_is_undecided_never_denied_and_audit_serves_and_logs() {
    let mut s = scene();
    let proxy = Proxy::start(&s, &[], &[]);
    let audit = Proxy::start(&s, &[("VOUCH_CONTENT_TRUST", "audit")], &[]);

    let inspect = |proxy: &RunningProxy, tag: &str| {
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}/{NAME}/demo/app:{tag}", proxy.addr))
            .output()
            .expect("skopeo")
    };
    let out = inspect(&audit, "v2");
    assert!(
        out.status.success(),
        "audit serves the unsigned tag: {}",
        text(&out)
    );
    assert!(
        audit.log().contains("passed (audit)")
            && audit.log().contains(&format!("{}:v2 is not signed", s.repo)),
        "and logs why it would refuse: {}",
        audit.log()
    );

    drop(s.reg.take());
    let podman = Podman::new(&s.upstream, &proxy.addr);
    for out in [
        inspect(&proxy, "v1"),
        podman.run(&["pull", &format!("{}:v1", s.repo)]),
    ] {
        assert!(!out.status.success());
        let msg = text(&out);
        assert!(
            msg.contains("502") && msg.contains("vouch: could not decide"),
            "{msg}"
        );
        assert!(!msg.contains("denied"), "never the refusal: {msg}");
    }
    assert!(proxy.log().contains("undecided"), "{}", proxy.log());
}

#[test]
fn fifty_concurrent_manifest_requests_are_answered_correctly() {
    let s = scene();
    let proxy = Proxy::start(&s, &[], &[]);
    let children: Vec<(bool, Child)> = (0..50)
        .map(|i| {
            let signed = i % 2 == 0;
            let tag = if signed { "v1" } else { "v2" };
            let child = Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code} %header{docker-content-digest}",
                ])
                .args(["-H", "Accept: application/vnd.oci.image.manifest.v1+json"])
                .arg(format!(
                    "http://{}/v2/{NAME}/demo/app/manifests/{tag}",
                    proxy.addr
                ))
                .stdout(Stdio::piped())
                .spawn()
                .expect("curl");
            (signed, child)
        })
        .collect();
    for (signed, child) in children {
        let out = child.wait_with_output().expect("curl");
        let got = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if signed {
            assert_eq!(got, format!("200 {}", s.signed_v1));
        } else {
            assert_eq!(got, "403", "refused");
        }
    }
}

/// Runs the verifier as containerd 2 runs an image verifier: the
/// executable from its `bin_dir`, Go-style flags, the descriptor on stdin.
fn containerd_verifier(bin_dir: &Path, trust: &Path, name: &str, digest: &str) -> Output {
    containerd_verifier_with(bin_dir, trust, name, digest, &[])
}

fn containerd_verifier_with(
    bin_dir: &Path,
    trust: &Path,
    name: &str,
    digest: &str,
    vars: &[(&str, &str)],
) -> Output {
    use std::io::Write;
    let mut child = Command::new(bin_dir.join("vouch-containerd-verifier"))
        .args([
            "-name",
            name,
            "-digest",
            digest,
            "-stdin-media-type",
            "application/vnd.oci.descriptor.v1+json",
        ])
        .env_clear()
        .env("VOUCH_TRUST_DIR", trust)
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("verifier");
    let descriptor = serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 401,
    });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(descriptor.to_string().as_bytes())
        .expect("descriptor");
    child.wait_with_output().expect("verifier")
}

#[test]
fn the_containerd_verifier_admits_signed_digests_only() {
    let mut s = scene();
    let bin_dir = s.env.home().join("image-verifier-bin");
    std::fs::create_dir_all(&bin_dir).expect("bin_dir");
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_vouch"),
        bin_dir.join("vouch-containerd-verifier"),
    )
    .expect("link");
    let trust = s.env.trust();
    let v1 = format!("{}:v1", s.repo);

    let out = containerd_verifier(&bin_dir, &trust, &v1, &s.signed_v1);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("verified"));
    let out = containerd_verifier(&bin_dir, &trust, &format!("{}:multi", s.repo), &s.multi);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let out = containerd_verifier(&bin_dir, &trust, &v1, &s.moved_v1);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("digest mismatch"),
        "{}",
        text(&out)
    );
    let out = containerd_verifier(&bin_dir, &trust, &format!("{}:v2", s.repo), &s.unsigned_v2);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("vouch: {}:v2 is not signed", s.repo)),
        "the reason on stdout, where containerd reads it: {}",
        text(&out)
    );
    // A digest vouch does not read (another algorithm's) is unsigned: refused
    // where content trust is enforced, let through under audit.
    let sha512 = format!("sha512:{}", "ab".repeat(64));
    let out = containerd_verifier(&bin_dir, &trust, &v1, &sha512);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is not a signed target"),
        "{}",
        text(&out)
    );
    let out = containerd_verifier_with(
        &bin_dir,
        &trust,
        &v1,
        &sha512,
        &[("VOUCH_CONTENT_TRUST", "audit")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("audit mode: allowed"),
        "{}",
        text(&out)
    );

    drop(s.reg.take());
    let out = containerd_verifier(&bin_dir, &trust, &v1, &s.signed_v1);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("could not decide"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_non_loopback_listener_needs_tls() {
    let env = Env::new();
    let run = env.run(&["proxy", "--listen", "0.0.0.0:0", "--upstream", "127.0.0.1:1"]);
    run.fails(2, "needs --tls-cert and --tls-key");
}

/// `curl` a manifest through the proxy: "STATUS DIGEST".
fn curl_manifest(proxy: &RunningProxy, reference: &str) -> String {
    proxy.manifest(NAME, "demo/app", reference)
}

#[test]
fn a_revocation_or_forged_trust_data_is_refused_on_the_next_pull() {
    use std::collections::BTreeMap;

    use crate::common::attacker::{Attacker, forged_repository, key_id, key_object, new_key};

    let s = scene();
    let proxy = Proxy::start(&s, &[], &[]);
    assert_eq!(curl_manifest(&proxy, "v1"), format!("200 {}", s.signed_v1));
    assert_eq!(curl_manifest(&proxy, "multi"), format!("200 {}", s.multi));
    let child = &s.multi_children[0];
    assert_eq!(curl_manifest(&proxy, child), format!("200 {child}"));

    // The publisher revokes v1: the next pull sees the new trust data.
    s.env.run(&["revoke", &format!("{}:v1", s.repo)]).ok();
    // The proxy reuses the upstream's answer about its trust tag for a
    // second (README, "Gate every pull"): then it sees the new data.
    std::thread::sleep(TRUST_TAG_REUSE);
    assert_eq!(curl_manifest(&proxy, "v1"), "403", "revoked");
    assert_eq!(
        curl_manifest(&proxy, "multi"),
        format!("200 {}", s.multi),
        "still signed"
    );

    // Whoever can write the registry replaces the trust data with a
    // repository of their own that signs v2: not the pinned root.
    let manifest = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}@{}", s.repo, s.unsigned_v2))
        .output()
        .expect("skopeo");
    let key = new_key();
    let object = key_object(&key);
    let id = key_id(&object);
    let forged = forged_repository(
        &BTreeMap::from([(id.clone(), object)]),
        1,
        &[(&key, vec![id.as_str()])],
        "v2",
        &s.unsigned_v2,
        manifest.stdout.len() as u64,
    );
    Attacker::registry(&s.upstream, "demo/app", s.env.home()).publish(&forged);
    std::thread::sleep(TRUST_TAG_REUSE);
    assert_eq!(curl_manifest(&proxy, "v2"), "403", "forged trust data");
    assert_eq!(
        curl_manifest(&proxy, "multi"),
        "403",
        "nothing verifies from forged trust data"
    );
    assert_eq!(
        curl_manifest(&proxy, child),
        "403",
        "not even a child admitted before"
    );
}

#[test]
fn a_blob_swapped_upstream_is_never_delivered_whole() {
    use crate::common::registry::FaultProxy;

    let s = scene();
    // The upstream as seen through a hostile network path: every blob
    // comes back with one byte flipped (same length).
    let fault = FaultProxy::start(&s.upstream);
    s.env
        .run(&["pin", &format!("{}/demo/app", fault.addr), &s.root_id])
        .ok();
    let proxy = Proxy::start_for(&s, &fault.addr, &[], &[]);
    let out_dir = s.env.home().join("swapped");
    let copy = || {
        Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{}/{NAME}/demo/app:v1", proxy.addr))
            .arg(format!("oci:{}:v1", out_dir.display()))
            .output()
            .expect("skopeo")
    };
    // Verified while the path is clean (the trust data is blobs too).
    assert_eq!(curl_manifest(&proxy, "v1"), format!("200 {}", s.signed_v1));
    fault.fault("flip", "GET /v2/demo/app/blobs/");
    let out = copy();
    assert!(
        !out.status.success(),
        "a swapped blob was delivered: {}",
        text(&out)
    );
    let index = std::fs::read_to_string(out_dir.join("index.json")).unwrap_or_default();
    assert!(!index.contains(&s.signed_v1), "no image stored: {index}");

    // What any HTTP client gets: less than the whole blob, and an error.
    let manifest = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}@{}", s.repo, s.signed_v1))
        .output()
        .expect("skopeo");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).expect("manifest");
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .expect("layer")
        .to_owned();
    let size = manifest["layers"][0]["size"].as_u64().expect("size");
    let file = s.env.home().join("layer");
    let out = Command::new("curl")
        .args(["-s", "-o"])
        .arg(&file)
        .arg(format!("http://{}/v2/{NAME}/demo/app/blobs/{layer}", proxy.addr))
        .output()
        .expect("curl");
    assert!(!out.status.success(), "curl saw a complete transfer");
    let got = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    assert!(got < size, "{got} of {size} bytes delivered");

    fault.clear();
    let out = copy();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn only_blobs_of_images_the_proxy_served_are_fetched() {
    let s = scene();
    let proxy = Proxy::start(&s, &[], &[]);
    let layer_of = |digest: &str| {
        let out = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}@{digest}", s.repo))
            .output()
            .expect("skopeo");
        let m: serde_json::Value = serde_json::from_slice(&out.stdout).expect("manifest");
        m["layers"][0]["digest"].as_str().expect("layer").to_owned()
    };
    let blob = |digest: &str| {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("http://{}/v2/{NAME}/demo/app/blobs/{digest}", proxy.addr))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let unsigned_layer = layer_of(&s.unsigned_v2);
    let signed_layer = layer_of(&s.signed_v1);
    assert_eq!(blob(&unsigned_layer), "403", "a blob of an image never served");
    assert_eq!(blob(&signed_layer), "403", "not yet served either");
    assert_eq!(curl_manifest(&proxy, "v1"), format!("200 {}", s.signed_v1));
    assert_eq!(blob(&signed_layer), "200", "a layer of the image served");
    assert_eq!(blob(&unsigned_layer), "403");
    assert_eq!(curl_manifest(&proxy, "v2"), "403");
    assert_eq!(blob(&unsigned_layer), "403", "a refused manifest opens nothing");
}

#[test]
fn a_private_upstream_is_read_with_the_proxy_users_credentials_only() {
    use base64::Engine;

    let reg = Registry::start_with_auth(Some(("alice", "s3cret")));
    let mut env = publisher();
    let docker_config = env.home().join("docker-config");
    std::fs::create_dir_all(&docker_config).expect("mkdir");
    let basic = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    std::fs::write(
        docker_config.join("config.json"),
        format!(r#"{{"auths": {{"{}": {{"auth": "{basic}"}}}}}}"#, reg.addr),
    )
    .expect("config.json");
    env.set("DOCKER_CONFIG", docker_config.to_str().expect("utf8"));
    let repo = format!("{}/team/app", reg.addr);
    let layout = env.home().join("build");
    let digest = crate::common::oci_image(&layout, "v1", "private\n");
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "alice:s3cret",
        &layout_ref(&layout, "v1"),
        &format!("docker://{repo}:v1"),
    ]);
    env.run(&["init", &repo]).ok();
    env.run(&["sign", &format!("{repo}:v1")]).ok();

    let addr = format!("127.0.0.1:{}", free_port());
    let log = env.home().join("proxy.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .arg("--trust-dir")
        .arg(env.trust())
        .args(["proxy", "--listen", &addr, "--upstream"])
        .arg(format!("{NAME}={}", reg.addr))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .env("DOCKER_CONFIG", &docker_config)
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("vouch proxy");
    wait_for_port(&addr, &mut child, "vouch proxy");
    let out_dir = env.home().join("copied");
    // A client sending wrong credentials of its own: they are not passed
    // upstream (which would refuse them); the proxy's are used.
    let wrong = base64::engine::general_purpose::STANDARD.encode("mallory:wrong");
    let curl = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %header{docker-content-digest}",
        ])
        .args(["-H", &format!("Authorization: Basic {wrong}")])
        .args(["-H", "Accept: application/vnd.oci.image.manifest.v1+json"])
        .arg(format!("http://{addr}/v2/{NAME}/team/app/manifests/v1"))
        .output()
        .expect("curl");
    let out = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{addr}/{NAME}/team/app:v1"))
        .arg(format!("oci:{}:v1", out_dir.display()))
        .output()
        .expect("skopeo");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let index = std::fs::read_to_string(out_dir.join("index.json")).expect("index.json");
    assert!(index.contains(&digest), "{index}");
    assert_eq!(
        String::from_utf8_lossy(&curl.stdout).trim(),
        format!("200 {digest}")
    );
}

#[test]
fn the_proxy_serves_tls_with_the_given_certificate() {
    let s = scene();
    let certs = s.env.home().join("certs");
    std::fs::create_dir_all(&certs).expect("mkdir");
    // The key outside the directory skopeo reads CAs from: a `.key` there
    // is taken for a client certificate's.
    let cert = certs.join("ca.crt");
    let key = s.env.home().join("proxy-key.pem");
    let (cert_s, key_s) = (cert.to_str().expect("utf8"), key.to_str().expect("utf8"));
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        key_s,
    ]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        key_s,
        "-out",
        cert_s,
        "-days",
        "2",
        "-subj",
        "/CN=vouch proxy",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
    ]);
    let proxy = Proxy::start(
        &s,
        &[],
        &[
            "--tls-cert",
            cert.to_str().expect("utf8"),
            "--tls-key",
            key.to_str().expect("utf8"),
        ],
    );
    let inspect = |tag: &str| {
        Command::new("skopeo")
            .args(["inspect", "--raw", "--cert-dir"])
            .arg(&certs)
            .arg(format!("docker://{}/{NAME}/demo/app:{tag}", proxy.addr))
            .output()
            .expect("skopeo")
    };
    let out = inspect("v1");
    assert!(out.status.success(), "{}", text(&out));
    let served: serde_json::Value = serde_json::from_slice(&out.stdout).expect("manifest");
    assert!(served["layers"].is_array());
    let out = inspect("v2");
    assert!(text(&out).contains("is not signed"), "{}", text(&out));
}

#[test]
fn skopeo_inspect_lists_only_the_signed_tags_through_the_proxy() {
    let s = scene();
    let proxy = Proxy::start(&s, &[], &[]);
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{}/{NAME}/demo/app:v1", proxy.addr))
        .output()
        .expect("skopeo");
    assert!(out.status.success(), "{}", text(&out));
    let inspected: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(inspected["Digest"], s.signed_v1.as_str(), "the signed digest");
    let tags: Vec<&str> = inspected["RepoTags"]
        .as_array()
        .expect("RepoTags")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert_eq!(tags, ["multi", "v1"], "the signed tags, not v2 nor vouch's own");

    // Paged as the distribution API pages it.
    let out = Command::new("curl")
        .args(["-s", "-D", "-"])
        .arg(format!("http://{}/v2/{NAME}/demo/app/tags/list?n=1", proxy.addr))
        .output()
        .expect("curl");
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        answer.contains(r#"{"name":"up/demo/app","tags":["multi"]}"#),
        "{answer}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("link: </v2/up/demo/app/tags/list?n=1&last=multi>"),
        "{answer}"
    );
}

/// Issue 20, item 10: `vouch proxy-config --check` finds the ways a
/// client configuration lets a pull around the proxy (a `hosts.toml` with
/// only `server =` for the upstream pulled unsigned tags from it), and
/// `--write` never replaces a file it did not write.
#[test]
fn proxy_config_checks_for_ways_around_the_proxy() {
    let dir = tempfile::tempdir().expect("tmp");
    let upstream = "registry.example:5000";
    let proxy = "127.0.0.1:5100";
    let vouch = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vouch"))
            .args(["proxy-config"])
            .args(args)
            .args(["--proxy", proxy, "--upstream", &format!("{NAME}={upstream}")])
            .stdin(Stdio::null())
            .output()
            .expect("vouch")
    };
    let hosts = dir.path().join("certs.d");
    let hosts_arg = hosts.to_str().expect("utf-8");
    let file = hosts.join(upstream).join("hosts.toml");
    // Nothing there: containerd would pull from the upstream directly.
    let out = vouch(&["containerd", "--check", hosts_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("directly"), "{}", text(&out));
    // The configuration users wrote by hand: the upstream as server.
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    let by_hand = format!("server = \"https://{upstream}\"\n");
    std::fs::write(&file, &by_hand).expect("write");
    let out = vouch(&["containerd", "--check", hosts_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("falls back"), "{}", text(&out));
    assert!(text(&out).contains("no [host] table"), "{}", text(&out));
    // --write leaves a file it did not write alone.
    let out = vouch(&["containerd", "--write", hosts_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), by_hand);
    std::fs::remove_file(&file).expect("rm");
    let out = vouch(&["containerd", "--write", hosts_arg]);
    assert!(out.status.success(), "{}", text(&out));
    let out = vouch(&["containerd", "--check", hosts_arg]);
    assert!(out.status.success(), "{}", text(&out));
    // Writing again replaces its own file.
    assert!(vouch(&["containerd", "--write", hosts_arg]).status.success());

    // podman: a mirror would serve what the proxy refuses.
    let conf = dir.path().join("registries.conf");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nprefix = \"{upstream}\"\nlocation = \"{proxy}/{NAME}\"\ninsecure = true\n\n[[registry.mirror]]\nlocation = \"mirror.example\"\n"
        ),
    )
    .expect("write");
    let out = vouch(&["podman", "--check", conf.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("mirror"), "{}", text(&out));
    std::fs::remove_file(&conf).expect("rm");
    assert!(
        vouch(&["podman", "--write", conf.to_str().expect("utf-8")])
            .status
            .success()
    );
    assert!(
        vouch(&["podman", "--check", conf.to_str().expect("utf-8")])
            .status
            .success()
    );

    // Docker: a registry mirror is never a gate.
    let etc = dir.path().join("docker");
    std::fs::create_dir_all(&etc).expect("mkdir");
    std::fs::write(
        etc.join("daemon.json"),
        format!("{{\"registry-mirrors\": [\"http://{proxy}\"]}}"),
    )
    .expect("write");
    let etc_arg = etc.to_str().expect("utf-8");
    let certs = etc.join("certs.d");
    assert!(
        vouch(&["docker", "--write", certs.to_str().expect("utf-8")])
            .status
            .success()
    );
    let out = vouch(&["docker", "--check", etc_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not a gate"), "{}", text(&out));
    std::fs::remove_file(etc.join("daemon.json")).expect("rm");
    assert!(vouch(&["docker", "--check", etc_arg]).status.success());
}

/// Issue 21: the trust layer prints nothing itself; its notices reach the
/// proxy's log in the log's format, so `--log-format json` stays JSON
/// (a root pinned on first use was once a plain-text line in it).
#[test]
fn json_logs_stay_json_when_the_trust_layer_has_something_to_say() {
    let s = scene();
    let fresh = Env::new();
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(fresh.trust()).expect("trust dir");
    std::fs::set_permissions(fresh.trust(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let policy = fresh.trust().join("policy.toml");
    std::fs::write(
        &policy,
        format!("[[scope]]\nrepository = \"{}\"\ntofu = true\n", s.repo),
    )
    .expect("policy");
    std::fs::set_permissions(&policy, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let proxy = RunningProxy::start(&fresh, NAME, &s.upstream, &[], &["--log-format", "json"]);
    assert_eq!(
        proxy.manifest(NAME, "demo/app", "multi"),
        format!("200 {}", s.multi)
    );
    let log = proxy.log();
    let mut notices = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{log}"));
        if v["notice"].as_str().is_some_and(|n| n.contains("first use")) {
            assert_eq!(v["level"], "WARNING", "{line}");
            notices += 1;
        }
    }
    assert_eq!(notices, 1, "{log}");
}
