//! No secret in listings, error text or Debug output.

use std::process::Command;

use crate::common::{Env, only_key_file};

const PASS: &str = "Sup3r-Secret-Passphrase-4711";

fn private_key_bytes(file: &std::path::Path) -> Vec<u8> {
    let mut cmd = Command::new("openssl");
    cmd.args(["pkey", "-outform", "DER", "-passin"])
        .arg(format!("pass:{PASS}"))
        .arg("-in")
        .arg(file);
    cmd.stdout(std::process::Stdio::piped());
    let out = cmd.output().expect("openssl");
    assert!(out.status.success());
    // Ed25519 PKCS#8 v1: the 32-byte seed is the last 32 bytes.
    out.stdout[out.stdout.len() - 32..].to_vec()
}

#[test]
fn secrets_never_appear_in_output_or_errors() {
    use base64::Engine;
    let mut env = Env::new();
    env.set("VOUCH_TARGETS_PASSPHRASE", PASS);
    let mut outputs = vec![env.run(&["key", "generate", "s", "--role", "targets"])];
    let file = only_key_file(&env);
    let seed = private_key_bytes(&file);
    outputs.push(env.run(&["key", "list", "--json"]));
    outputs.push(env.run(&["key", "list"]));
    outputs.push(env.run(&["key", "export", "s"]));
    outputs.push(env.run(&["key", "export", "s", "--private"]));
    // Failures that handle the passphrase.
    outputs.push(env.run_with(
        &["key", "passwd", "s"],
        &[("VOUCH_TARGETS_PASSPHRASE", &format!("{PASS}x"))],
        "",
    ));
    outputs.push(env.run_with(&["key", "passwd", "s"], &[("VOUCH_NEW_PASSPHRASE", "")], ""));
    outputs.push(env.run_with(&["key", "unlock", "s", "--remember", "1m"], &[], ""));
    outputs.push(env.run(&["key", "lock"]));
    let pf = env.home().join("pf");
    std::fs::write(&pf, PASS).expect("w");
    outputs.push(env.run(&["key", "import", pf.to_str().expect("p")]));

    let needles = [
        PASS.to_owned(),
        hex::encode(&seed),
        base64::engine::general_purpose::STANDARD.encode(&seed),
        format!("{seed:?}"),
    ];
    for out in &outputs {
        for n in &needles {
            assert!(!out.all().contains(n.as_str()), "secret leaked in: {}", out.all());
        }
    }
    assert!(
        outputs.iter().filter(|o| o.code == 2).count() >= 3,
        "the failure cases did fail"
    );
}

#[test]
fn stdin_passphrases_are_never_echoed() {
    // The library's Debug output is checked in keys/tests/debug.rs.
    let env = Env::new();
    let out = env.run_with(&["key", "generate", "x", "--passphrase-stdin"], &[], "\n");
    out.fails(2, "empty passphrase");
    let out2 = env.run_with(
        &["key", "generate", "x", "--passphrase-stdin"],
        &[],
        &format!("{PASS}\n"),
    );
    out2.ok();
    assert!(!out2.all().contains(PASS));
}
