//! Prompts on a real terminal: `script` gives vouch a pseudo-terminal and
//! the test types into it, one line at a time after each prompt appears.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::Env;

/// Runs `vouch ARGS` on a pty, typing `lines` with pauses; returns (exit
/// code, everything the terminal showed).
fn on_terminal(env: &Env, args: &str, lines: &[&str]) -> (i32, String) {
    let cmd = format!(
        "{} --trust-dir {} {args}",
        env!("CARGO_BIN_EXE_vouch"),
        env.trust().display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    let mut stdin = child.stdin.take().expect("stdin");
    for line in lines {
        // Wait for the prompt to switch echo off before typing.
        std::thread::sleep(Duration::from_millis(2000));
        stdin.write_all(format!("{line}\n").as_bytes()).expect("type");
        stdin.flush().expect("flush");
    }
    std::thread::sleep(Duration::from_millis(2000));
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), shown)
}

fn with_key() -> Env {
    let mut env = Env::new();
    env.set("VOUCH_TARGETS_PASSPHRASE", "right-one");
    env.run(&["key", "generate", "t", "--role", "targets"]).ok();
    env.vars.clear();
    env
}

#[test]
fn terminal_reprompts_after_a_wrong_passphrase_and_never_echoes() {
    let env = with_key();
    let (code, shown) = on_terminal(
        &env,
        "key passwd t",
        &["nope-1", "right-one", "brand-new", "brand-new"],
    );
    assert_eq!(code, 0, "{shown}");
    assert_eq!(shown.matches("wrong passphrase, try again").count(), 1, "{shown}");
    assert!(
        shown.contains("Repeat the passphrase"),
        "asked twice for the new one: {shown}"
    );
    for secret in ["nope-1", "right-one", "brand-new"] {
        assert!(!shown.contains(secret), "`{secret}` was echoed: {shown}");
    }
    env.run_with(
        &["key", "passwd", "t"],
        &[
            ("VOUCH_TARGETS_PASSPHRASE", "brand-new"),
            ("VOUCH_NEW_PASSPHRASE", "x"),
        ],
        "",
    )
    .ok();
}

#[test]
fn terminal_gives_up_after_three_wrong_passphrases() {
    let env = with_key();
    let before = crate::common::snapshot(&env.trust());
    let (code, shown) = on_terminal(&env, "key passwd t", &["w1", "w2", "w3"]);
    assert_eq!(code, 2, "{shown}");
    assert_eq!(shown.matches("Passphrase for key").count(), 3, "{shown}");
    assert!(
        shown.contains("error: wrong passphrase") && shown.contains("hint: "),
        "{shown}"
    );
    assert_eq!(crate::common::snapshot(&env.trust()), before);
}

#[test]
fn mismatched_new_passphrases_change_nothing() {
    let env = with_key();
    let before = crate::common::snapshot(&env.trust());
    let (code, shown) = on_terminal(
        &env,
        "key passwd t",
        &[
            "right-one",
            "first-one",
            "second-one",
            "third-one",
            "fourth-one",
            "fifth-one",
            "sixth-one",
        ],
    );
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("did not match"), "{shown}");
    assert_eq!(crate::common::snapshot(&env.trust()), before);
}

/// Issue 20, item 6: a mismatched confirmation, or a passphrase under 8
/// characters, is asked again rather than ending the command.
#[test]
fn a_mismatch_or_a_short_new_passphrase_is_asked_again() {
    let env = with_key();
    let (code, shown) = on_terminal(
        &env,
        "key passwd t",
        &[
            "right-one",
            "first-one",
            "second-one",
            "short",
            "brand-new",
            "brand-new",
        ],
    );
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("did not match; try again"), "{shown}");
    assert!(shown.contains("shorter than 8 characters"), "{shown}");
    assert_eq!(shown.matches("New passphrase for").count(), 3, "{shown}");
    env.run_with(
        &["key", "passwd", "t"],
        &[
            ("VOUCH_TARGETS_PASSPHRASE", "brand-new"),
            ("VOUCH_NEW_PASSPHRASE", "right-one"),
        ],
        "",
    )
    .ok();
}

/// Issue 20, item 6: `init` asks for three passphrases (root, targets, and
/// one the snapshot and timestamp keys share) and `sign` for two.
#[test]
fn init_asks_three_passphrases_and_sign_two() {
    let env = crate::common::Env::new();
    let layout = env.home().join("img");
    crate::common::oci_image(&layout, "v1", "one\n");
    let repo = format!("oci:{}", layout.display());
    let (code, shown) = on_terminal(
        &env,
        &format!("init {repo}"),
        &[
            "root-pass",
            "root-pass",
            "targets-pass",
            "targets-pass",
            "online-pass",
            "online-pass",
        ],
    );
    assert_eq!(code, 0, "{shown}");
    assert_eq!(shown.matches("New passphrase for").count(), 3, "{shown}");
    assert!(
        shown.contains("the snapshot and timestamp keys share it"),
        "{shown}"
    );
    let (code, shown) = on_terminal(&env, &format!("sign {repo}:v1"), &["targets-pass", "online-pass"]);
    assert_eq!(code, 0, "{shown}");
    assert_eq!(shown.matches("Passphrase for").count(), 2, "{shown}");
    env.run(&["verify", &format!("{repo}:v1")]).ok();
}

/// Issue 20, item 6: stopping `init` at a prompt leaves no keys behind.
#[test]
fn an_init_stopped_at_a_prompt_leaves_no_keys() {
    let env = crate::common::Env::new();
    let layout = env.home().join("img");
    crate::common::oci_image(&layout, "v1", "one\n");
    let repo = format!("oci:{}", layout.display());
    // Two passphrases given, then the terminal closes at the third.
    let (code, shown) = on_terminal(
        &env,
        &format!("init {repo}"),
        &["root-pass", "root-pass", "targets-pass", "targets-pass"],
    );
    assert_ne!(code, 0, "{shown}");
    assert!(env.run(&["key", "list"]).ok().trim().is_empty(), "{shown}");
    env.run(&["verify", &format!("{repo}:v1")])
        .fails(1, "no trust data");
}

#[test]
fn sign_says_no_such_tag_before_asking_for_a_passphrase() {
    let mut env = crate::common::publisher();
    let layout = env.home().join("img");
    crate::common::oci_image(&layout, "1.2", "one two\n");
    let repo = format!("oci:{}", layout.display());
    env.run(&["init", &repo]).ok();
    // Nothing in the environment: every passphrase would be asked for.
    env.vars.clear();
    let (code, shown) = on_terminal(&env, &format!("sign {repo}:1.2 {repo}:latest"), &[]);
    assert_eq!(code, 1, "{shown}");
    assert!(
        shown.contains("no such tag") && shown.contains("latest"),
        "{shown}"
    );
    assert!(
        !shown.contains("assphrase"),
        "asked before checking the tags: {shown}"
    );
}

#[test]
fn non_interactive_on_a_terminal_says_so() {
    let env = with_key();
    let (code, shown) = on_terminal(&env, "--non-interactive key passwd t", &[]);
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("--non-interactive"), "{shown}");
    assert!(!shown.contains("there is no terminal"), "{shown}");
}

/// Issue 20, item 14: long operations show progress on a terminal (and
/// only there): looking up many tags for `sign`, importing several keys.
#[test]
fn long_operations_show_progress_on_a_terminal_only() {
    use std::path::Path;
    let env = crate::common::publisher_with(|_| "one-passphrase".to_owned());
    let layout = env.home().join("app");
    let repo = format!("oci:{}", layout.display());
    crate::common::oci_image(&layout, "base", "many tags\n");
    let list = env.home().join("refs.txt");
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tag-many"))
        .args([layout.to_str().expect("utf8"), "base", "t", "600"])
        .args(["--list", list.to_str().expect("utf8")])
        .output()
        .expect("tag-many");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    env.run(&["init", &repo]).ok();
    let (code, shown) = on_terminal(
        &env,
        &format!("sign --from-file {}", list.display()),
        &["one-passphrase", "one-passphrase"],
    );
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Looking up the tags of"), "{shown}");
    assert!(shown.contains("600/600"), "{shown}");
    assert!(shown.contains("Signing 600 tags"), "{shown}");
    // Redirected, no progress.
    let quiet = env.run(&["sign", "--from-file", list.to_str().expect("utf8")]);
    quiet.ok();
    assert!(!quiet.stderr.contains("Looking up"), "{}", quiet.stderr);

    // Importing several keys: one line for each, before its passphrase.
    let mut files = Vec::new();
    for name in ["k1", "k2"] {
        let pem = env.home().join(format!("{name}.pem"));
        let made = Command::new("openssl")
            .args(["genpkey", "-algorithm", "ED25519", "-out"])
            .arg(&pem)
            .output()
            .expect("openssl");
        assert!(made.status.success());
        files.push(pem.display().to_string());
    }
    let fresh = crate::common::Env::new();
    let (code, shown) = on_terminal(
        &fresh,
        &format!("key import --role targets {} {}", files[0], files[1]),
        &[
            "first-passphrase",
            "first-passphrase",
            "second-passphrase",
            "second-passphrase",
        ],
    );
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Importing key 1/2"), "{shown}");
    assert!(shown.contains("Importing key 2/2"), "{shown}");
}
