//! `vouch key import` of Docker Content Trust and notary key files, and of
//! OpenSSL-written keys.

use std::process::Command;

use crate::common::{Env, run_command, testdata};
use base64::Engine;
use sha2::{Digest, Sha256};

/// notary's canonical key id for an ECDSA public key (SPKI DER).
fn notary_key_id(spki: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(spki);
    let canonical = format!(r#"{{"keytype":"ecdsa","keyval":{{"private":null,"public":"{b64}"}}}}"#);
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn pem_body(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.contains(':'))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64")
}

fn key_files(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(testdata(dir))
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

fn listed(env: &Env) -> Vec<serde_json::Value> {
    let json: serde_json::Value =
        serde_json::from_str(env.run(&["key", "list", "--json"]).ok()).expect("json");
    json["keys"].as_array().expect("keys").clone()
}

/// Checks each imported key is the very key notary stored: its public key
/// has the notary key id the fixture file is named after.
fn assert_same_keys_as_notary(env: &Env, files: &[String]) {
    let mut expected: Vec<String> = files
        .iter()
        .map(|f| {
            std::path::Path::new(f)
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut got: Vec<String> = listed(env)
        .iter()
        .map(|k| notary_key_id(&pem_body(k["public_key"].as_str().expect("pem"))))
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
}

#[test]
fn imports_docker_trust_keys_with_docker_passphrases() {
    let mut env = Env::new();
    env.set("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "docker-root-test");
    env.set("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "docker-repo-test");
    let files = key_files("keys/docker-style");
    let mut args = vec!["key", "import"];
    args.extend(files.iter().map(String::as_str));
    let out = env.run(&args);
    assert_eq!(out.ok().lines().count(), 3, "one key id per imported key");

    let keys = listed(&env);
    let role_of = |role: &str| {
        keys.iter()
            .find(|k| k["role"] == role)
            .unwrap_or_else(|| panic!("{role} listed"))
    };
    assert_eq!(role_of("root")["repo"], serde_json::Value::Null);
    assert_eq!(role_of("targets")["repo"], "127.0.0.1:5001/demo/dct");
    assert_eq!(role_of("alice")["name"], "alice");
    assert!(keys.iter().all(|k| k["algorithm"] == "ecdsa-p256"));
    assert_same_keys_as_notary(&env, &files);

    // Re-sealed with vouch's KDF under the same passphrase: OpenSSL opens it.
    let id = role_of("alice")["id"].as_str().expect("id").to_owned();
    let path = env.trust().join("private").join(format!("{id}.key"));
    let mut cmd = Command::new("openssl");
    cmd.args(["pkey", "-noout", "-passin", "pass:docker-repo-test", "-in"])
        .arg(&path);
    assert_eq!(run_command(cmd, "").code, 0);
    let mut cmd = Command::new("openssl");
    cmd.args(["asn1parse", "-in"]).arg(&path);
    let parsed = run_command(cmd, "");
    assert!(
        parsed.stdout.contains(":scrypt"),
        "re-sealed with scrypt: {}",
        parsed.stdout
    );
}

#[test]
fn imports_notary_cli_keys_with_notary_passphrases() {
    let mut env = Env::new();
    env.set("NOTARY_ROOT_PASSPHRASE", "rootpass-test")
        .set("NOTARY_TARGETS_PASSPHRASE", "targetspass-test")
        .set("NOTARY_SNAPSHOT_PASSPHRASE", "snapshotpass-test")
        .set("NOTARY_DELEGATION_PASSPHRASE", "delegationpass-test");
    let files = key_files("keys/notary-cli");
    let mut args = vec!["key", "import"];
    args.extend(files.iter().map(String::as_str));
    env.run(&args).ok();
    let keys = listed(&env);
    let mut roles: Vec<&str> = keys.iter().map(|k| k["role"].as_str().expect("role")).collect();
    roles.sort();
    assert_eq!(roles, ["releases-signer", "root", "snapshot", "targets"]);
    for k in &keys {
        let expect_repo = matches!(k["role"].as_str(), Some("targets" | "snapshot"));
        assert_eq!(k["repo"] == "127.0.0.1:5001/demo/app", expect_repo, "{k}");
    }
    assert_same_keys_as_notary(&env, &files);
}

/// A team that already uses vouch has `VOUCH_*` passphrases set for its
/// own keys; importing Docker Content Trust and notary keys in the same
/// shell must still find the DCT and notary variables for their roles.
#[test]
fn foreign_keys_import_with_vouch_passphrases_also_set() {
    for (dir, vars) in [
        (
            "keys/docker-style",
            &[
                ("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "docker-root-test"),
                ("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "docker-repo-test"),
            ][..],
        ),
        (
            "keys/notary-cli",
            &[
                ("NOTARY_ROOT_PASSPHRASE", "rootpass-test"),
                ("NOTARY_TARGETS_PASSPHRASE", "targetspass-test"),
                ("NOTARY_SNAPSHOT_PASSPHRASE", "snapshotpass-test"),
                ("NOTARY_DELEGATION_PASSPHRASE", "delegationpass-test"),
            ][..],
        ),
    ] {
        let mut env = Env::new();
        for role in ["ROOT", "TARGETS", "SNAPSHOT", "TIMESTAMP", "DELEGATION"] {
            env.set(&format!("VOUCH_{role}_PASSPHRASE"), &format!("vouch-{role}-pass"));
        }
        for (k, v) in vars {
            env.set(k, v);
        }
        let files = key_files(dir);
        let mut args = vec!["key", "import"];
        args.extend(files.iter().map(String::as_str));
        let out = env.run(&args);
        assert_eq!(out.ok().lines().count(), files.len(), "{dir}: one key id per key");
        assert_same_keys_as_notary(&env, &files);
    }

    // With only the wrong passphrases set, the import still fails cleanly.
    let mut env = Env::new();
    env.set("VOUCH_ROOT_PASSPHRASE", "wrong")
        .set("NOTARY_ROOT_PASSPHRASE", "also-wrong");
    let root = key_files("keys/notary-cli")
        .into_iter()
        .find(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("role: root")))
        .expect("a root key file");
    env.run(&["key", "import", &root]).fails(2, "wrong passphrase");
}

#[test]
fn plain_pkcs8_and_sec1_keys_from_openssl_are_sealed_on_import() {
    let env = Env::new();
    let ed = env.home().join("ed.pem");
    let ec = env.home().join("ec.pem");
    let mut cmd = Command::new("openssl");
    cmd.args(["genpkey", "-algorithm", "ed25519", "-out"]).arg(&ed);
    assert_eq!(run_command(cmd, "").code, 0);
    let mut cmd = Command::new("openssl");
    cmd.args(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out"])
        .arg(&ec);
    assert_eq!(run_command(cmd, "").code, 0);

    // Two plain keys: each needs a new passphrase, one stdin line each.
    let out = env.run_with(
        &[
            "key",
            "import",
            "--role",
            "targets",
            "--passphrase-stdin",
            ed.to_str().expect("p"),
            ec.to_str().expect("p"),
        ],
        &[],
        "one-passphrase\ntwo-passphrase\n",
    );
    assert_eq!(out.ok().lines().count(), 2);
    let json: serde_json::Value =
        serde_json::from_str(env.run(&["key", "list", "--json"]).ok()).expect("json");
    let algos: Vec<&str> = json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["algorithm"].as_str().expect("a"))
        .collect();
    assert!(
        algos.contains(&"ed25519") && algos.contains(&"ecdsa-p256"),
        "{algos:?}"
    );

    // The same key again is refused, and nothing changes.
    let before = crate::common::snapshot(&env.trust());
    env.run_with(
        &["key", "import", "--passphrase-stdin", ed.to_str().expect("p")],
        &[],
        "x-passphrase\n",
    )
    .fails(2, "already in the trust directory");
    assert_eq!(crate::common::snapshot(&env.trust()), before);
}

#[test]
fn openssl_encrypted_pkcs8_keeps_its_passphrase() {
    let env = Env::new();
    let enc = env.home().join("enc.pem");
    let mut cmd = Command::new("openssl");
    cmd.args([
        "genpkey",
        "-algorithm",
        "ed25519",
        "-aes-256-cbc",
        "-pass",
        "pass:openssl-pass",
        "-out",
    ])
    .arg(&enc);
    assert_eq!(run_command(cmd, "").code, 0);
    let out = env.run_with(
        &[
            "key",
            "import",
            enc.to_str().expect("p"),
            "--name",
            "ossl",
            "--role",
            "targets",
        ],
        &[("VOUCH_TARGETS_PASSPHRASE", "openssl-pass")],
        "",
    );
    let id = out.ok().trim().to_owned();
    let stored = env.trust().join("private").join(format!("{id}.key"));
    // Same passphrase, now sealed with scrypt.
    let mut cmd = Command::new("openssl");
    cmd.args(["pkey", "-noout", "-passin", "pass:openssl-pass", "-in"])
        .arg(&stored);
    assert_eq!(run_command(cmd, "").code, 0);
    // A wrong passphrase for it fails at once, changing nothing.
    let other = Env::new();
    let before = crate::common::snapshot(&other.trust());
    other
        .run_with(
            &["key", "import", enc.to_str().expect("p")],
            &[("VOUCH_DELEGATION_PASSPHRASE", "nope")],
            "",
        )
        .fails(2, "wrong passphrase");
    assert_eq!(crate::common::snapshot(&other.trust()), before);
}
