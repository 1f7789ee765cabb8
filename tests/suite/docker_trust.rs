//! `docker trust` for docker 29, which dropped it (issue 20, item 12):
//! vouch installed as the CLI plugin `docker-trust`, run the way the docker
//! CLI runs a plugin (`docker-trust trust COMMAND …`), with the real docker
//! CLI 28.2.2 (against podman's Docker API) pushing images, and the real
//! `docker trust key generate` as the oracle of Docker's output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::Env;
use crate::common::notary::DockerApi;
use crate::common::registry::{Registry, push};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

struct Scene {
    env: Env,
    api: DockerApi,
    reg: Registry,
    config: PathBuf,
}

impl Scene {
    fn docker_cli(&self) -> String {
        String::from_utf8(
            Command::new("sh")
                .args(["-c", "command -v docker"])
                .output()
                .expect("sh")
                .stdout,
        )
        .expect("utf-8")
        .trim()
        .to_owned()
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.env.home())
            .env("DOCKER_HOST", &self.api.host)
            .env("DOCKER_CONFIG", &self.config)
            .env("VOUCH_TRUST_DIR", self.env.trust())
            .env("DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND", self.docker_cli())
            .stdin(Stdio::null());
        for (k, v) in &self.env.vars {
            cmd.env(k, v);
        }
        cmd
    }

    /// `docker trust ARGS` as docker 29 would run the installed plugin.
    fn trust(&self, args: &[&str]) -> Output {
        let plugin = self.config.join("cli-plugins/docker-trust");
        let mut all = vec!["trust"];
        all.extend_from_slice(args);
        self.command(&plugin, &all).output().expect("plugin")
    }

    fn docker(&self, args: &[&str]) -> Output {
        self.command(Path::new("docker"), args)
            .output()
            .expect("docker CLI")
    }
}

/// Lines with the variable parts (names, paths, ids) taken out.
fn shape(out: &str, names: &[&str]) -> Vec<String> {
    out.lines()
        .map(|l| {
            let mut l = l.to_owned();
            for n in names {
                l = l.replace(n, "NAME");
            }
            l
        })
        .collect()
}

#[test]
fn docker_trust_commands_from_scripts_run_on_vouch() {
    let mut env = crate::common::publisher_with(|role| format!("{role}-passphrase"));
    env.set(
        "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
        "docker-repo-passphrase",
    );
    let reg = Registry::start();
    let api = DockerApi::start(&[&reg.addr]);
    let config = env.home().join("docker-config");
    std::fs::create_dir_all(&config).expect("config");
    let s = Scene {
        env,
        api,
        reg,
        config,
    };
    let repo = format!("{}/demo/dt", s.reg.addr);

    // Installed under that name, never over someone else's plugin.
    let plugins = s.config.join("cli-plugins");
    std::fs::create_dir_all(&plugins).expect("plugins");
    let foreign = plugins.join("docker-trust");
    std::fs::write(&foreign, "#!/bin/sh\necho another plugin\n").expect("write");
    let install = |extra: &[&str]| {
        let mut args = vec!["docker-plugin", "install", "--as", "trust"];
        args.extend_from_slice(extra);
        s.command(Path::new(env!("CARGO_BIN_EXE_vouch")), &args)
            .output()
            .expect("vouch")
    };
    let out = install(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not vouch"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&foreign).expect("read"),
        "#!/bin/sh\necho another plugin\n"
    );
    std::fs::remove_file(&foreign).expect("rm");
    assert!(install(&[]).status.success());
    // vouch's own is replaced (an upgrade).
    assert!(install(&[]).status.success(), "reinstall");
    let meta = s
        .command(&plugins.join("docker-trust"), &["docker-cli-plugin-metadata"])
        .output()
        .expect("metadata");
    assert!(String::from_utf8_lossy(&meta.stdout).contains("SchemaVersion"));

    // key generate: Docker's lines, as the real docker CLI prints them.
    let dir = s.env.home().join("keys");
    std::fs::create_dir_all(&dir).expect("keys dir");
    let dir_arg = dir.to_str().expect("utf-8");
    let ours = s.trust(&["key", "generate", "alice", "--dir", dir_arg]);
    assert!(ours.status.success(), "{}", text(&ours));
    let real = s.docker(&["trust", "key", "generate", "docker-carol", "--dir", dir_arg]);
    assert!(real.status.success(), "{}", text(&real));
    let dir_abs = dir.to_str().expect("utf-8");
    assert_eq!(
        shape(&String::from_utf8_lossy(&ours.stdout), &["alice"]),
        shape(&String::from_utf8_lossy(&real.stdout), &["docker-carol"]),
        "vouch: {}\ndocker: {}",
        text(&ours),
        text(&real)
    );
    assert!(dir.join("alice.pub").is_file(), "{dir_abs}");

    // sign a local image: pushed, the repository initialised, signed.
    push(&s.env, &s.reg, "demo/base", "v0", "base\n");
    let base = format!("{}/demo/base:v0", s.reg.addr);
    assert!(s.docker(&["pull", &base]).status.success());
    assert!(s.docker(&["tag", &base, &format!("{repo}:v1")]).status.success());
    let out = s.trust(&["sign", &format!("{repo}:v1")]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("Initializing signed repository for {repo}...")),
        "{stdout}"
    );
    assert!(stdout.contains("Signing and pushing trust metadata"), "{stdout}");
    assert!(
        stdout.contains(&format!("Successfully signed {repo}:v1")),
        "{stdout}"
    );
    let v1 = s
        .env
        .run(&["verify", &format!("{repo}:v1")])
        .ok()
        .trim()
        .to_owned();

    // signer add, then a signer's sign.
    let alice_pub = dir.join("alice.pub");
    let out = s.trust(&[
        "signer",
        "add",
        "--key",
        alice_pub.to_str().expect("utf-8"),
        "alice",
        &repo,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("Successfully added signer: alice to {repo}")),
        "{}",
        text(&out)
    );
    push(&s.env, &s.reg, "demo/dt", "v2", "two\n");
    let out = s.trust(&["sign", &format!("{repo}:v2")]);
    assert!(out.status.success(), "{}", text(&out));

    // inspect: Docker's JSON.
    let out = s.trust(&["inspect", &repo]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let entry = &json[0];
    assert_eq!(entry["Name"], repo.as_str());
    let tags: Vec<(String, String, String)> = entry["SignedTags"]
        .as_array()
        .expect("SignedTags")
        .iter()
        .map(|t| {
            (
                t["SignedTag"].as_str().expect("tag").to_owned(),
                t["Digest"].as_str().expect("digest").to_owned(),
                t["Signers"].to_string(),
            )
        })
        .collect();
    assert_eq!(tags.len(), 2, "{json}");
    assert_eq!(tags[0].0, "v1");
    assert_eq!(tags[0].1, v1.trim_start_matches("sha256:"));
    assert_eq!(tags[0].2, "[\"Repo Admin\"]");
    assert_eq!(tags[1].2, "[\"alice\"]", "{json}");
    assert_eq!(entry["Signers"][0]["Name"], "alice");
    let admin: Vec<&str> = entry["AdministrativeKeys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["Name"].as_str().expect("name"))
        .collect();
    assert_eq!(admin, ["Root", "Repository"]);
    let root_id = entry["AdministrativeKeys"][0]["Keys"][0]["ID"]
        .as_str()
        .expect("id");
    assert_eq!(root_id.len(), 64);
    let pretty = s.trust(&["inspect", "--pretty", &repo]);
    let pretty = String::from_utf8_lossy(&pretty.stdout);
    for line in [
        format!("Signatures for {repo}"),
        format!("List of signers and their keys for {repo}"),
        format!("Administrative keys for {repo}"),
        format!("Root Key:\t{root_id}"),
    ] {
        assert!(pretty.contains(&line), "{line}: {pretty}");
    }

    // revoke, signer remove.
    let out = s.trust(&["revoke", &format!("{repo}:v2")]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("Successfully deleted signature for {repo}:v2"))
    );
    s.env
        .run(&["verify", &format!("{repo}:v2")])
        .fails(1, "not signed");
    let out = s.trust(&["revoke", &repo]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "revoking all without -y: {}",
        text(&out)
    );
    s.env.run(&["verify", &format!("{repo}:v1")]).ok();
    let out = s.trust(&["signer", "remove", "alice", &repo]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("Successfully removed alice from {repo}"))
    );

    // key load: a PEM key from openssl.
    let pem = s.env.home().join("bob.pem");
    let made = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&pem)
        .output()
        .expect("openssl");
    assert!(made.status.success());
    let out = s.trust(&["key", "load", pem.to_str().expect("utf-8"), "--name", "bob"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Successfully imported key from"));
    assert!(s.env.run(&["key", "list"]).ok().contains("bob"));
}
