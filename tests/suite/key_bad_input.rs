//! Bad input: each case gives `error:` + `hint:`, exit 2, and leaves the
//! trust directory byte-for-byte as it was.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::{Env, Run, only_key_file, snapshot, testdata};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// An environment with one targets key `t` sealed under `pw`.
fn with_key() -> (Env, PathBuf) {
    let mut env = Env::new();
    env.set("VOUCH_TARGETS_PASSPHRASE", "pw");
    env.run(&["key", "generate", "t", "--role", "targets"]).ok();
    let file = only_key_file(&env);
    (env, file)
}

/// Runs `args`, checks the error contract and that nothing changed.
fn refused_unchanged(env: &Env, args: &[&str], extra: &[(&str, &str)], needle: &str) -> Run {
    let before = snapshot(&env.trust());
    let out = env.run_with(args, extra, "");
    out.fails(2, needle);
    assert_eq!(snapshot(&env.trust()), before, "the trust directory changed");
    out
}

fn edit(path: &Path, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).expect("read");
    std::fs::write(path, f(text)).expect("write");
}

#[test]
fn wrong_passphrase_from_the_environment_fails_at_once() {
    let (env, _) = with_key();
    let out = refused_unchanged(
        &env,
        &["key", "passwd", "t"],
        &[
            ("VOUCH_TARGETS_PASSPHRASE", "nope"),
            ("VOUCH_NEW_PASSPHRASE", "n"),
        ],
        "wrong passphrase",
    );
    assert!(
        !out.stderr.contains("try again"),
        "no re-prompt for a passphrase from the environment"
    );
}

#[test]
fn wrong_passphrase_from_a_file_fails_at_once() {
    let (env, _) = with_key();
    let pf = env.home().join("pass.txt");
    std::fs::write(&pf, "nope\n").expect("write");
    let mut quiet = Env::new();
    quiet.dir = env.dir;
    refused_unchanged(
        &quiet,
        &[
            "key",
            "unlock",
            "t",
            "--remember",
            "1m",
            "--passphrase-file",
            pf.to_str().expect("p"),
        ],
        &[],
        "",
    );
}

#[test]
fn empty_passphrase_on_creation_is_refused_unless_allowed() {
    let env = Env::new();
    let empty = env.home().join("empty");
    std::fs::write(&empty, "").expect("write");
    let p = empty.to_str().expect("p");
    refused_unchanged(
        &env,
        &["key", "generate", "e", "--passphrase-file", p],
        &[],
        "empty passphrase",
    );
    assert!(!env.trust().exists(), "no trust directory was created");
    assert!(!env.home().join("e.pub").exists());
    env.run(&[
        "key",
        "generate",
        "e",
        "--passphrase-file",
        p,
        "--allow-empty-passphrase",
    ])
    .ok();
}

#[test]
fn truncated_key_file_is_reported_corrupt() {
    let (env, file) = with_key();
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, &text[..text.len() / 2]).expect("truncate");
    refused_unchanged(
        &env,
        &["key", "passwd", "t"],
        &[("VOUCH_NEW_PASSPHRASE", "n")],
        "corrupt",
    );
    refused_unchanged(&env, &["key", "export", "t", "--private"], &[], "corrupt");
}

#[test]
fn key_file_with_a_flipped_byte_is_reported_corrupt() {
    let (env, file) = with_key();
    let mut bytes = std::fs::read(&file).expect("read");
    // Flip a bit inside the base64 body (second line after BEGIN).
    let begin = String::from_utf8_lossy(&bytes).find("-----BEGIN").expect("begin");
    let at = begin + 45;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&file, bytes).expect("write");
    refused_unchanged(
        &env,
        &["key", "passwd", &file_id(&file)],
        &[("VOUCH_NEW_PASSPHRASE", "n")],
        "corrupt",
    );
}

#[test]
fn key_file_with_the_wrong_pem_label_is_refused() {
    let (env, file) = with_key();
    edit(&file, |t| t.replace("ENCRYPTED PRIVATE KEY", "CERTIFICATE"));
    refused_unchanged(
        &env,
        &["key", "passwd", "t"],
        &[("VOUCH_NEW_PASSPHRASE", "n")],
        "not a private key",
    );
    // And on import.
    let other = Env::new();
    let rsa = other.home().join("rsa.pem");
    std::fs::write(
        &rsa,
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    )
    .expect("w");
    refused_unchanged(
        &other,
        &["key", "import", rsa.to_str().expect("p")],
        &[],
        "RSA PRIVATE KEY",
    );
}

#[test]
fn docker_key_with_the_wrong_passphrase_is_refused() {
    let env = Env::new();
    let file =
        testdata("keys/docker-style/f46b632ec3ead16c2423f8fbb9cfdccd8e76ebaf983df2eac2792d7bbf702d57.key");
    refused_unchanged(
        &env,
        &["key", "import", file.to_str().expect("p")],
        &[("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "not-it")],
        "wrong passphrase",
    );
    assert!(!env.trust().exists());
}

#[test]
fn importing_a_public_key_or_garbage_is_refused() {
    let (env, _) = with_key();
    let public = testdata("keys/docker-style/alice.pub");
    refused_unchanged(
        &env,
        &["key", "import", public.to_str().expect("p")],
        &[],
        "public key",
    );
    let garbage = env.home().join("garbage.key");
    std::fs::write(&garbage, [0u8, 159, 146, 150, 1, 2, 3]).expect("write");
    refused_unchanged(
        &env,
        &["key", "import", garbage.to_str().expect("p")],
        &[],
        "not a PEM key file",
    );
    let text = env.home().join("text.key");
    std::fs::write(&text, "hello\nworld\n").expect("write");
    refused_unchanged(
        &env,
        &["key", "import", text.to_str().expect("p")],
        &[],
        "not a PEM key file",
    );
}

#[test]
fn kdf_cost_above_the_cap_is_refused_before_any_derivation() {
    let (env, file) = with_key();
    // Raise scrypt N from 2^16 to 2^22 in a copy (same DER length): 1.5 GiB.
    let text = std::fs::read_to_string(&file).expect("read");
    let block = &text[text.find("-----BEGIN").expect("begin")..];
    let body: String = block.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut der = STANDARD.decode(body).expect("b64");
    let pos = der
        .windows(5)
        .position(|w| w == [0x02, 0x03, 0x01, 0x00, 0x00])
        .expect("N = 65536 in the DER");
    der[pos + 2] = 0x40;
    let hostile = env.home().join("hostile.pem");
    let b64 = STANDARD.encode(&der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    std::fs::write(
        &hostile,
        format!(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{}\n-----END ENCRYPTED PRIVATE KEY-----\n",
            lines.join("\n")
        ),
    )
    .expect("write");
    let started = std::time::Instant::now();
    let other = Env::new();
    refused_unchanged(
        &other,
        &["key", "import", hostile.to_str().expect("p")],
        &[],
        "above the cap",
    );
    // Refused from the parameters alone, so no passphrase was needed.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn trust_dir_not_writable_is_reported_and_left_alone() {
    let env = Env::new();
    std::fs::create_dir(env.trust()).expect("mkdir");
    std::fs::set_permissions(env.home(), PermissionsExt::from_mode(0o755)).expect("chmod home");
    std::fs::set_permissions(env.trust(), PermissionsExt::from_mode(0o500)).expect("chmod trust");
    // root ignores permission bits, so run as `nobody` when we are root.
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let before = snapshot(&env.trust());
    let mut cmd;
    if is_root {
        let chown = crate::common::run_command(
            {
                let mut c = std::process::Command::new("chown");
                c.args(["-R", "65534:65534"]).arg(env.trust());
                c
            },
            "",
        );
        assert_eq!(chown.code, 0);
        cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "setsid", "-w"]);
    } else {
        cmd = std::process::Command::new("setsid");
        cmd.arg("-w");
    }
    // A copy of the binary `nobody` can reach wherever the checkout lives.
    let bin = env.home().join("vouch");
    std::fs::copy(env!("CARGO_BIN_EXE_vouch"), &bin).expect("copy binary");
    std::fs::set_permissions(&bin, PermissionsExt::from_mode(0o755)).expect("chmod bin");
    cmd.arg(&bin).arg("--trust-dir").arg(env.trust());
    cmd.args([
        "key",
        "generate",
        "w",
        "--public-out",
        "/tmp/vouch-never-written.pub",
    ]);
    cmd.env_clear()
        .env("VOUCH_DELEGATION_PASSPHRASE", "p")
        .env("HOME", env.home());
    let before = if is_root { snapshot(&env.trust()) } else { before };
    let out = crate::common::run_command(cmd, "");
    out.fails(2, "private");
    assert_eq!(snapshot(&env.trust()), before);
    assert!(!Path::new("/tmp/vouch-never-written.pub").exists());
}

#[test]
fn trust_dir_or_key_file_open_to_others_is_refused() {
    let (env, file) = with_key();
    std::fs::set_permissions(env.trust(), PermissionsExt::from_mode(0o755)).expect("chmod");
    let out = refused_unchanged(&env, &["key", "list"], &[], "accessible by other users");
    assert!(out.stderr.contains("chmod 700"), "{}", out.stderr);
    std::fs::set_permissions(env.trust(), PermissionsExt::from_mode(0o700)).expect("chmod");

    std::fs::set_permissions(&file, PermissionsExt::from_mode(0o644)).expect("chmod");
    let out = refused_unchanged(
        &env,
        &["key", "export", "t", "--private"],
        &[],
        "accessible by other users",
    );
    assert!(out.stderr.contains("chmod 600"), "{}", out.stderr);
}

#[test]
fn no_terminal_and_no_passphrase_source_is_an_error_not_a_hang() {
    let env = Env::new();
    let started = std::time::Instant::now();
    let out = refused_unchanged(
        &env,
        &["key", "generate", "n", "--role", "timestamp"],
        &[],
        "no passphrase",
    );
    assert!(
        out.stderr.contains("VOUCH_TIMESTAMP_PASSPHRASE"),
        "the hint names the variable: {}",
        out.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(!env.trust().exists());

    let (env, _) = with_key();
    let mut bare = Env::new();
    bare.dir = env.dir;
    refused_unchanged(&bare, &["key", "passwd", "t"], &[], "no passphrase");
}

fn file_id(path: &Path) -> String {
    path.file_stem().expect("stem").to_string_lossy().into_owned()
}
