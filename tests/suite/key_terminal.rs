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
    let (code, shown) = on_terminal(&env, "key passwd t", &["right-one", "first", "second"]);
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("did not match"), "{shown}");
    assert_eq!(crate::common::snapshot(&env.trust()), before);
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
