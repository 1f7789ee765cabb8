//! `vouch key generate`, `list`, `export`, `passwd`, `remove` as a user runs them.

use std::process::Command;

use crate::common::{Env, mode, only_key_file, run_command, snapshot};

fn openssl_decrypts(path: &std::path::Path, pass: &str) -> bool {
    let mut cmd = Command::new("openssl");
    cmd.args(["pkey", "-noout", "-in"])
        .arg(path)
        .arg("-passin")
        .arg(format!("pass:{pass}"));
    run_command(cmd, "").code == 0
}

#[test]
fn generate_without_terminal_seals_a_key_openssl_can_open() {
    let mut env = Env::new();
    env.set("VOUCH_TARGETS_PASSPHRASE", "x");
    let out = env.run(&["key", "generate", "alice", "--role", "targets"]);
    let id = out.ok().trim().to_owned();
    assert_eq!(id.len(), 64, "stdout is the key id: {id:?}");

    let file = only_key_file(&env);
    assert_eq!(
        file.file_name().and_then(|n| n.to_str()),
        Some(format!("{id}.key").as_str())
    );
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&env.trust()), 0o700);
    assert_eq!(mode(&env.trust().join("private")), 0o700);
    assert!(
        openssl_decrypts(&file, "x"),
        "openssl pkey must open the key with its passphrase"
    );
    assert!(
        !openssl_decrypts(&file, "y"),
        "openssl pkey must fail with another passphrase"
    );

    let public = std::fs::read_to_string(env.home().join("alice.pub")).expect("alice.pub written");
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{public}");
    assert_eq!(
        env.run(&["key", "export", &id[..10]]).ok(),
        public,
        "export prints the same public key"
    );
    let mut cmd = Command::new("openssl");
    cmd.args(["pkey", "-pubin", "-noout", "-in"])
        .arg(env.home().join("alice.pub"));
    assert_eq!(run_command(cmd, "").code, 0, "openssl reads alice.pub");
}

#[test]
fn list_shows_metadata_and_json_has_a_versioned_shape() {
    let mut env = Env::new();
    env.set("VOUCH_ROOT_PASSPHRASE", "r00t")
        .set("VOUCH_DELEGATION_PASSPHRASE", "d");
    let root = env.run(&[
        "key",
        "generate",
        "rk",
        "--role",
        "root",
        "--repo",
        "example.com/app",
    ]);
    let root = root.ok().trim().to_owned();
    let bob = env.run(&["key", "generate", "bob"]).ok().trim().to_owned();

    let table = env.run(&["key", "list"]);
    let table = table.ok();
    assert!(
        table
            .lines()
            .any(|l| l.contains(&root) && l.contains("rk") && l.contains("example.com/app"))
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains(&bob) && l.contains(" bob ") && l.contains("ed25519"))
    );

    let json: serde_json::Value =
        serde_json::from_str(env.run(&["key", "list", "--json"]).ok()).expect("json");
    assert_eq!(json["version"], 1);
    let keys = json["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2);
    let rk = keys
        .iter()
        .find(|k| k["id"] == root.as_str())
        .expect("root listed");
    assert_eq!(rk["name"], "rk");
    assert_eq!(rk["role"], "root");
    assert_eq!(rk["repo"], "example.com/app");
    assert_eq!(rk["algorithm"], "ed25519");
    assert!(
        rk["created"]
            .as_str()
            .is_some_and(|c| c.ends_with('Z') && c.len() == 20)
    );
    let b = keys.iter().find(|k| k["id"] == bob.as_str()).expect("bob listed");
    assert_eq!(
        b["role"], "bob",
        "a key's role defaults to its name, as with docker trust signer keys"
    );
}

#[test]
fn names_are_unique_and_nothing_is_overwritten() {
    let mut env = Env::new();
    env.set("VOUCH_DELEGATION_PASSPHRASE", "p");
    env.run(&["key", "generate", "carol"]).ok();
    std::fs::remove_file(env.home().join("carol.pub")).expect("rm pub");
    let before = snapshot(&env.trust());
    env.run(&["key", "generate", "carol"]).fails(2, "already exists");
    assert_eq!(snapshot(&env.trust()), before);
    assert!(!env.home().join("carol.pub").exists());

    // An existing NAME.pub is not replaced either.
    std::fs::write(env.home().join("dave.pub"), "mine").expect("write");
    env.run(&["key", "generate", "dave"])
        .fails(2, "dave.pub already exists");
    assert_eq!(
        std::fs::read_to_string(env.home().join("dave.pub")).expect("read"),
        "mine"
    );
    assert_eq!(snapshot(&env.trust()), before);
}

#[test]
fn concurrent_generators_do_not_corrupt_the_trust_dir() {
    let mut env = Env::new();
    env.set("VOUCH_DELEGATION_PASSPHRASE", "p");
    // Eight processes: four distinct names, and four racing for one name.
    let names = ["k0", "k1", "k2", "k3", "same", "same", "same", "same"];
    let children: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let public = env.home().join(format!("{name}-{i}.pub"));
            env.spawn(&[
                "key",
                "generate",
                name,
                "--public-out",
                public.to_str().expect("utf8"),
            ])
        })
        .collect();
    let codes: Vec<i32> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait").status.code().unwrap_or(-1))
        .collect();
    assert!(codes[..4].iter().all(|&c| c == 0), "{codes:?}");
    assert_eq!(
        codes[4..].iter().filter(|&&c| c == 0).count(),
        1,
        "exactly one `same` wins: {codes:?}"
    );
    assert!(codes[4..].iter().all(|&c| c == 0 || c == 2), "{codes:?}");

    let json: serde_json::Value =
        serde_json::from_str(env.run(&["key", "list", "--json"]).ok()).expect("json");
    let mut listed: Vec<String> = json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["name"].as_str().unwrap_or("").to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, ["k0", "k1", "k2", "k3", "same"]);
    let stray: Vec<_> = std::fs::read_dir(env.trust().join("private"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".key"))
        .collect();
    assert!(stray.is_empty(), "temporary files left behind: {stray:?}");
    // Every stored key still opens.
    for name in ["k0", "k1", "k2", "k3", "same"] {
        let f = env.trust().join("private").join(format!(
            "{}.key",
            json["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .find(|k| k["name"] == name)
                .expect("k")["id"]
                .as_str()
                .expect("id")
        ));
        assert!(openssl_decrypts(&f, "p"), "{name}");
    }
}

#[test]
fn passwd_replaces_the_passphrase_atomically() {
    let mut env = Env::new();
    env.set("VOUCH_TARGETS_PASSPHRASE", "old");
    let id = env
        .run(&["key", "generate", "t", "--role", "targets"])
        .ok()
        .trim()
        .to_owned();
    let file = only_key_file(&env);

    env.run_with(&["key", "passwd", "t"], &[("VOUCH_NEW_PASSPHRASE", "new")], "")
        .ok();
    assert!(openssl_decrypts(&file, "new"));
    assert!(!openssl_decrypts(&file, "old"));
    assert_eq!(mode(&file), 0o600);
    assert_eq!(only_key_file(&env), file, "same file name, no stray files");

    // The old passphrase no longer unlocks it; nothing changes on failure.
    let before = snapshot(&env.trust());
    env.run_with(&["key", "passwd", &id], &[("VOUCH_NEW_PASSPHRASE", "newer")], "")
        .fails(2, "wrong passphrase");
    assert_eq!(snapshot(&env.trust()), before);

    // Both passphrases from stdin, one line each.
    let stdin_env = Env::new();
    stdin_env
        .run_with(
            &["key", "generate", "s", "--role", "targets", "--passphrase-stdin"],
            &[],
            "first-pass\n",
        )
        .ok();
    stdin_env
        .run_with(
            &["key", "passwd", "s", "--passphrase-stdin"],
            &[],
            "first-pass\nsecond-pass\n",
        )
        .ok();
    assert!(openssl_decrypts(&only_key_file(&stdin_env), "second-pass"));
}

#[test]
fn remove_needs_confirmation_without_a_terminal() {
    let mut env = Env::new();
    env.set("VOUCH_DELEGATION_PASSPHRASE", "p");
    let id = env.run(&["key", "generate", "gone"]).ok().trim().to_owned();
    let before = snapshot(&env.trust());
    env.run(&["key", "remove", "gone"])
        .fails(2, "without confirmation");
    assert_eq!(snapshot(&env.trust()), before);
    env.run(&["key", "remove", &id, "--yes"]).ok();
    assert!(env.run(&["key", "list", "--json"]).ok().contains("\"keys\": []"));
    env.run(&["key", "export", &id]).fails(2, "no key matches");
}

#[test]
fn export_private_is_encrypted_and_imports_elsewhere() {
    let mut env = Env::new();
    env.set("VOUCH_SNAPSHOT_PASSPHRASE", "s3");
    let id = env
        .run(&["key", "generate", "snap", "--role", "snapshot"])
        .ok()
        .trim()
        .to_owned();
    let exported = env.run(&["key", "export", "snap", "--private"]);
    let text = exported.ok();
    assert!(text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    assert!(!text.contains("-----BEGIN PRIVATE KEY-----"));

    let other = Env::new();
    let path = other.home().join("snap.key");
    std::fs::write(&path, text).expect("write");
    let imported = other.run_with(
        &["key", "import", path.to_str().expect("utf8")],
        &[("VOUCH_SNAPSHOT_PASSPHRASE", "s3")],
        "",
    );
    assert_eq!(imported.ok().trim(), id);
    let json: serde_json::Value =
        serde_json::from_str(other.run(&["key", "list", "--json"]).ok()).expect("json");
    assert_eq!(json["keys"][0]["name"], "snap", "name kept from the vouch file");
    assert_eq!(json["keys"][0]["role"], "snapshot");
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let env = Env::new();
    let bash = env.run(&["completions", "bash"]);
    assert!(
        bash.ok().contains("generate"),
        "completion script lists subcommands"
    );
    let man = env.run(&["man"]);
    assert!(man.ok().contains(".TH vouch"));
    let dir = env.home().join("man");
    env.run(&["man", "--out-dir", dir.to_str().expect("utf8")]).ok();
    assert!(dir.join("vouch-key-generate.1").exists());
}
