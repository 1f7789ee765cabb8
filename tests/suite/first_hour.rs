//! What a new user tripped over in their first hour (issue 20), each
//! through the binary as they ran it.

use std::process::Command;

use crate::common::{Env, publisher};

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn offline_is_only_on_commands_that_read() {
    let env = publisher();
    let layout = env.home().join("img");
    let digest = crate::common::oci_image(&layout, "v1", "hello\n");
    assert!(digest.starts_with("sha256:"));
    let r = format!("oci:{}:v1", layout.display());
    // A writer never takes it (it once pushed and signed over the network).
    for args in [
        vec!["push", "--offline", &r, "127.0.0.1:1/x:v1"],
        vec!["init", "--offline", &r],
        vec!["sign", "--offline", &r],
        vec!["--offline", "verify", &r],
    ] {
        let run = env.run(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.all());
        assert!(
            run.all().contains("unexpected argument '--offline'"),
            "{}",
            run.all()
        );
    }
    for command in ["init", "sign", "push", "completions", "proxy"] {
        let help = env.run(&[command, "--help"]);
        assert!(!help.ok().contains("--offline"), "{command} --help");
    }
    for command in ["verify", "resolve", "inspect"] {
        assert!(
            env.run(&[command, "--help"]).ok().contains("--offline"),
            "{command}"
        );
    }
    let repo = format!("oci:{}", layout.display());
    env.run(&["init", &repo]).ok();
    env.run(&["sign", &r]).ok();
    assert!(env.run(&["verify", "--offline", &r]).ok().contains(&digest));
}

#[test]
fn help_is_there_for_the_containerd_verifier_and_the_docker_plugin() {
    let env = Env::new();
    let out = env.run(&["containerd-verifier", "--help"]);
    assert!(out.ok().contains("-name REF -digest"), "{}", out.all());
    let out = env.run(&["containerd-verifier", "-help"]);
    assert!(out.ok().contains("bin_dir"));

    // The plugin as the docker CLI (28.2.2) runs it.
    let plugins = env.home().join("docker/cli-plugins");
    env.run(&[
        "docker-plugin",
        "install",
        "--dir",
        plugins.to_str().expect("utf8"),
    ])
    .ok();
    let docker = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .env("DOCKER_CONFIG", env.home().join("docker"))
            .env("HOME", env.home())
            .env("VOUCH_TRUST_DIR", env.trust())
            .output()
            .expect("docker")
    };
    let out = docker(&["vouch", "--help"]);
    let help = text(&out);
    assert!(out.status.success(), "{help}");
    assert!(
        help.contains("Usage: docker vouch")
            && help.contains("pull")
            && help.contains("Every other vouch command"),
        "{help}"
    );
    let out = docker(&["vouch", "pull", "--help"]);
    let help = text(&out);
    assert!(out.status.success(), "{help}");
    assert!(
        help.contains("Usage: docker vouch pull [OPTIONS] <IMAGE>"),
        "{help}"
    );
    let out = docker(&["vouch", "verify", "--help"]);
    assert!(
        text(&out).contains("Usage: docker vouch verify"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_typo_in_a_tag_says_no_such_tag_not_unsigned() {
    let env = publisher();
    let layout = env.home().join("img");
    crate::common::oci_image(&layout, "1.2", "one two\n");
    let repo = format!("oci:{}", layout.display());
    env.run(&["init", &repo]).ok();
    env.run(&["sign", &format!("{repo}:1.2")]).ok();
    let typo = env.run(&["verify", &format!("{repo}:1.3")]);
    typo.fails(1, "no such tag");
    assert!(
        !typo.stderr.contains("vouch sign"),
        "no hint to sign a typo: {}",
        typo.stderr
    );
    env.run(&["sign", &format!("{repo}:1.3")]).fails(1, "no such tag");
    // A tag the store has but nobody signed is still "not signed".
    crate::common::oci_image(&layout, "1.4", "unsigned\n");
    env.run(&["verify", &format!("{repo}:1.4")])
        .fails(1, "is not signed");
}

#[test]
fn diagnostics_say_what_to_write_in_plain_words() {
    let env = publisher();
    let layout = env.home().join("img");
    crate::common::oci_image(&layout, "v1", "hello\n");
    // A layout named without oci:, relative or absolute.
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
        cmd.arg("--trust-dir")
            .arg(env.trust())
            .args(args)
            .current_dir(env.home())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", env.home());
        crate::common::run_command(cmd, "")
    };
    let says = |out: &crate::common::Run, needle: &str| {
        assert_eq!(out.code, 2, "{}", out.all());
        assert!(out.stderr.contains(needle), "`{needle}` not in {}", out.stderr);
    };
    for given in ["img:v1".to_owned(), format!("{}:v1", layout.display())] {
        let dir = given.trim_end_matches(":v1");
        says(
            &run(&["verify", &given]),
            &format!("hint: {dir} is an OCI image layout on this machine: write oci:{given}"),
        );
    }
    // A URL.
    says(
        &run(&["verify", "http://127.0.0.1:5000/team/app:v1"]),
        "write 127.0.0.1:5000/team/app:v1 without the scheme",
    );
    // A registry that is not there: in plain words, never a raw connector error.
    let port = crate::common::notary::free_port();
    let out = run(&["verify", &format!("127.0.0.1:{port}/team/app:v1")]);
    out.fails(
        2,
        &format!("registry 127.0.0.1:{port} unreachable (connection refused)"),
    );
    assert!(out.stderr.contains("is up and reachable"), "{}", out.stderr);
    assert!(!out.stderr.contains("tcp connect error"), "{}", out.stderr);
}

#[test]
fn policy_is_kept_without_editing_toml_and_a_bad_file_says_where() {
    let env = publisher();
    let layout = env.home().join("img");
    crate::common::oci_image(&layout, "v1", "hello\n");
    let repo = format!("oci:{}", layout.display());
    let root_id = env.run(&["init", &repo]).ok().trim().to_owned();
    env.run(&["sign", &format!("{repo}:v1")]).ok();
    assert_eq!(root_id.len(), 64);

    let user = Env::new();
    user.run(&["pin", &repo, &root_id]).ok();
    user.run(&["policy", "set", "registry.k8s.io/**", "--level", "off"])
        .ok();
    let listed = user.run(&["policy", "list"]).ok().to_owned();
    assert!(listed.contains(&format!("root key {root_id}")), "{listed}");
    assert!(listed.contains("registry.k8s.io/**  level=off"), "{listed}");
    let json: serde_json::Value =
        serde_json::from_str(user.run(&["policy", "list", "--json"]).ok()).expect("json");
    assert_eq!(json["scopes"][0]["root_keys"][0], root_id.as_str(), "{json}");
    user.run(&["verify", &format!("{repo}:v1")]).ok();

    user.run(&["policy", "unpin", &repo]).ok();
    assert!(!user.run(&["policy", "list"]).ok().contains(&root_id));
    user.run(&["verify", &format!("{repo}:v1")])
        .fails(1, "not pinned");
    user.run(&["policy", "unpin", &repo]).fails(1, "has no pin");

    // A malformed file: the file, the line (and so the key) and what is
    // expected there.
    let policy = user.trust().join("policy.toml");
    for (text, needles) in [
        (
            "[[scope]]\nrepository = \"x\"\nlevel = \"sometimes\"\n",
            &[
                "policy.toml",
                "line 3",
                "level = \"sometimes\"",
                "expected one of",
            ][..],
        ),
        (
            "[[scope]]\nrepository = \"x\"\nlevl = \"audit\"\n",
            &["policy.toml", "unknown field `levl`", "expected one of"][..],
        ),
    ] {
        std::fs::write(&policy, text).expect("policy");
        let out = user.run(&["verify", &format!("{repo}:v1")]);
        assert_eq!(out.code, 2, "{}", out.all());
        for n in needles {
            assert!(out.stderr.contains(n), "`{n}` not in {}", out.stderr);
        }
    }
}

#[test]
fn inspect_pretty_shows_the_ids_pin_needs_whole() {
    let env = publisher();
    let layout = env.home().join("img");
    crate::common::oci_image(&layout, "v1", "hello\n");
    let repo = format!("oci:{}", layout.display());
    let root_id = env.run(&["init", &repo]).ok().trim().to_owned();
    env.run(&["sign", &format!("{repo}:v1")]).ok();
    let shown = env.run(&["inspect", "--pretty", &repo]).ok().to_owned();
    let root_line = shown
        .lines()
        .find(|l| l.starts_with("root "))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(root_line.contains(&root_id), "the whole root key id: {shown}");
    // What it shows is what `vouch pin` takes.
    let user = Env::new();
    user.run(&["pin", &repo, &root_id]).ok();
    user.run(&["verify", &format!("{repo}:v1")]).ok();
}

/// Issue 20, items 6 and 7: `--passphrase-stdin` reads one line a
/// passphrase in one order for every command (root, targets, signers, then
/// one line the online keys share); `init` reads three, `sign` and
/// `revoke` two, and a passphrase under 8 characters is refused unless
/// allowed.
#[test]
fn passphrase_lines_come_in_one_order_and_the_online_keys_share_one() {
    let env = Env::new();
    let layout = env.home().join("img");
    let digest = crate::common::oci_image(&layout, "v1", "one\n");
    crate::common::oci_image(&layout, "v2", "two\n");
    let repo = format!("oci:{}", layout.display());
    let stdin = |args: &[&str], lines: &str| env.run_with(args, &[], lines);

    // Too short, from stdin: refused, and nothing is left behind.
    let short = stdin(
        &["init", &repo, "--passphrase-stdin"],
        "root-pass\nshort\nonline-pass\n",
    );
    short.fails(2, "shorter than 8 characters");
    assert!(
        short.stderr.contains("--allow-short-passphrase"),
        "{}",
        short.all()
    );
    assert!(
        env.run(&["key", "list"]).ok().trim().is_empty(),
        "orphan keys after a refusal"
    );

    // An old script's four lines (one for each key) are refused, not
    // silently half used.
    let four = stdin(
        &["init", &repo, "--passphrase-stdin"],
        "root-pass\ntargets-pass\nsnapshot-pass\ntimestamp-pass\n",
    );
    four.fails(2, "more than the passphrases asked for");
    assert!(env.run(&["key", "list"]).ok().trim().is_empty());

    // Three lines for init: root, targets, online.
    stdin(
        &["init", &repo, "--passphrase-stdin"],
        "root-pass\ntargets-pass\nonline-pass\n",
    )
    .ok();
    assert_eq!(env.run(&["key", "list"]).ok().matches("img-").count(), 4);
    // Two for sign, in the documented order: targets, then online.
    let signed = stdin(
        &[
            "sign",
            &format!("{repo}:v1"),
            &format!("{repo}:v2"),
            "--passphrase-stdin",
        ],
        "targets-pass\nonline-pass\n",
    );
    assert!(signed.ok().contains(&digest), "{}", signed.all());
    // The same order for revoke (it once read them the other way round).
    stdin(
        &["revoke", &format!("{repo}:v2"), "--passphrase-stdin"],
        "targets-pass\nonline-pass\n",
    )
    .ok();
    env.run(&["verify", &format!("{repo}:v2")]).fails(1, "not signed");
    // (Two lines were enough: the timestamp key took the snapshot key's.)

    // A rotated timestamp key gets a passphrase of its own: the old online
    // passphrase, given to unlock the old keys, never seals a new key.
    // (Rotation unlocks the root and targets keys, then the online keys.)
    stdin(
        &["key", "rotate", &repo, "timestamp", "--passphrase-stdin"],
        "root-pass\ntargets-pass\nonline-pass\nnew-timestamp-pass\n",
    )
    .ok();
    crate::common::oci_image(&layout, "v3", "three\n");
    stdin(
        &["sign", &format!("{repo}:v3"), "--passphrase-stdin"],
        "targets-pass\nonline-pass\nnew-timestamp-pass\n",
    )
    .ok();

    // A signer's repository: signer key, then online; a revoke that
    // needs the targets key and the signer's reads targets, signer, online.
    let env2 = Env::new();
    let layout2 = env2.home().join("img2");
    crate::common::oci_image(&layout2, "v1", "one\n");
    let repo2 = format!("oci:{}", layout2.display());
    let stdin2 = |args: &[&str], lines: &str| env2.run_with(args, &[], lines);
    stdin2(
        &["init", &repo2, "--passphrase-stdin"],
        "root-pass\ntargets-pass\nonline-pass\n",
    )
    .ok();
    stdin2(
        &["sign", &format!("{repo2}:v1"), "--passphrase-stdin"],
        "targets-pass\nonline-pass\n",
    )
    .ok();
    let public = env2.home().join("alice.pub");
    stdin2(
        &[
            "key",
            "generate",
            "alice",
            "--public-out",
            public.to_str().expect("utf-8"),
            "--passphrase-stdin",
        ],
        "alice-pass\n",
    )
    .ok();
    stdin2(
        &[
            "signer",
            "add",
            "alice",
            &repo2,
            "--key",
            public.to_str().expect("utf-8"),
            "--passphrase-stdin",
        ],
        "targets-pass\nonline-pass\n",
    )
    .ok();
    stdin2(
        &["sign", &format!("{repo2}:v1"), "--passphrase-stdin"],
        "alice-pass\nonline-pass\n",
    )
    .ok();
    stdin2(
        &["revoke", &format!("{repo2}:v1"), "--passphrase-stdin"],
        "targets-pass\nalice-pass\nonline-pass\n",
    )
    .ok();
    env2.run(&["verify", &format!("{repo2}:v1")])
        .fails(1, "not signed");

    // Allowed explicitly, a short passphrase is taken.
    let env3 = Env::new();
    stdin3_init(&env3);
}

fn stdin3_init(env: &Env) {
    let layout = env.home().join("img3");
    crate::common::oci_image(&layout, "v1", "one\n");
    let repo = format!("oci:{}", layout.display());
    env.run_with(
        &["init", &repo, "--passphrase-stdin", "--allow-short-passphrase"],
        &[],
        "r\nt\no\n",
    )
    .ok();
    env.run_with(
        &["sign", &format!("{repo}:v1"), "--passphrase-stdin"],
        &[],
        "t\no\n",
    )
    .ok();
}

/// Issue 20, item 6: an init whose publish fails leaves no keys behind
/// (a real registry behind a proxy that refuses the trust tag's upload).
#[test]
fn a_failed_init_leaves_no_orphan_keys() {
    use crate::common::registry::{FaultProxy, Registry};
    let reg = Registry::start();
    let proxy = FaultProxy::start(&reg.addr);
    let env = publisher();
    let repo = format!("{}/team/app", proxy.addr);
    proxy.fault("status:500", "^PUT /v2/team/app/manifests/vouch-trust$");
    let out = env.run(&["init", &repo]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(env.run(&["key", "list"]).ok().trim().is_empty(), "{}", out.all());
    proxy.clear();
    env.run(&["init", &repo]).ok();
    assert_eq!(env.run(&["key", "list"]).ok().matches("app-").count(), 4);
}
