//! Docker Content Trust for real: a notary-server + notary-signer (ECDSA,
//! as Docker Hub ran it), a docker-registry, images pushed with skopeo,
//! and trust data written by the docker CLI (`docker trust key generate`,
//! `signer add`, and `docker trust sign` through podman's Docker API) and by
//! the notary client (`notary addhash` into targets and into single signer
//! roles). `DOCKER_CONTENT_TRUST=1 docker pull` is the oracle of what docker
//! accepted. vouch then reads it (`verify`/`inspect --notary-server`) and
//! migrates it.

use std::path::PathBuf;

use crate::common::notary::{DockerApi, NotaryStack, REPO_PASS, ROOT_PASS, docker, docker_run};
use crate::common::registry::{FaultProxy, Registry, push};
use crate::common::{Env, Run};

/// A Docker Content Trust repository on a real stack: v1 signed by alice
/// with `docker trust sign` (targets/releases and targets/alice), v2 signed
/// into targets by the
/// repository key, v4 signed only by bob, whose key was then withdrawn (so
/// it no longer verifies), v6 signed only into targets/alice (docker
/// trusted tags in targets/releases and targets only), v3 never signed.
struct Dct {
    stack: NotaryStack,
    api: DockerApi,
    reg: Registry,
    /// The DOCKER_CONFIG the docker CLI and notary client used.
    config: PathBuf,
    gun: String,
    pusher: Env,
    digests: Vec<(String, String)>,
}

fn manifest_len(env: &Env, tag: &str, digest: &str) -> u64 {
    let blob = env
        .home()
        .join(format!("build-{tag}/blobs/sha256"))
        .join(digest.trim_start_matches("sha256:"));
    std::fs::metadata(blob).expect("manifest").len()
}

impl Dct {
    fn new() -> Dct {
        let stack = NotaryStack::start();
        let reg = Registry::start();
        let api = DockerApi::start(&[&reg.addr]);
        let pusher = Env::new();
        let gun = format!("{}/demo/app", reg.addr);
        let config = pusher.home().join("docker-config");
        std::fs::create_dir_all(&config).expect("config");
        let home = pusher.home().to_owned();
        docker(
            &stack,
            None,
            &config,
            &home,
            &["trust", "key", "generate", "alice"],
        );
        docker(&stack, None, &config, &home, &["trust", "key", "generate", "bob"]);
        for who in ["alice", "bob"] {
            docker(
                &stack,
                None,
                &config,
                &home,
                &[
                    "trust",
                    "signer",
                    "add",
                    "--key",
                    &format!("{who}.pub"),
                    who,
                    &gun,
                ],
            );
        }
        let trust = config.join("trust");
        let mut digests: Vec<(String, String)> = Vec::new();
        // v1: `docker trust sign` for real (the docker CLI pushes through
        // podman's Docker API and signs into targets/releases and
        // targets/alice, every role alice's key may sign).
        push(&pusher, &reg, "demo/app", "v1", "v1\n");
        let v1 = format!("{gun}:v1");
        docker(&stack, Some(&api), &config, &home, &["pull", "-q", &v1]);
        docker(&stack, Some(&api), &config, &home, &["trust", "sign", &v1]);
        let inspect = docker(&stack, None, &config, &home, &["trust", "inspect", &gun]);
        let inspect: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("json");
        let signed_v1 = inspect[0]["SignedTags"][0]["Digest"].as_str().expect("v1 signed");
        digests.push(("v1".to_owned(), format!("sha256:{signed_v1}")));
        // The rest with the notary client, as `notary addhash` signs.
        for (tag, roles) in [
            ("v2", vec![]),
            ("v4", vec!["targets/bob"]),
            ("v6", vec!["targets/alice"]),
        ] {
            let digest = push(&pusher, &reg, "demo/app", tag, &format!("{tag}\n"));
            let len = manifest_len(&pusher, tag, &digest).to_string();
            let hex = digest.trim_start_matches("sha256:").to_owned();
            let mut args = vec![
                "addhash",
                gun.as_str(),
                tag,
                len.as_str(),
                "--sha256",
                hex.as_str(),
                "-p",
            ];
            for r in &roles {
                args.extend(["-r", r]);
            }
            stack.notary(&trust, &args);
            if tag == "v2" {
                digests.push((tag.to_owned(), digest));
            }
        }
        push(&pusher, &reg, "demo/app", "v3", "v3 unsigned\n");
        // Bob's key is withdrawn from his role: what only he signed (v4)
        // no longer verifies.
        let bob = bob_key_id(&stack, &config, &gun);
        stack.notary(&trust, &["delegation", "remove", &gun, "targets/bob", &bob, "-p"]);
        Dct {
            stack,
            api,
            reg,
            config,
            gun,
            pusher,
            digests,
        }
    }

    /// A user of this machine's Docker trust directory.
    fn user(&self) -> Env {
        let mut env = Env::new();
        env.set("DOCKER_CONFIG", self.config.to_str().expect("utf8"));
        env
    }

    fn verify(&self, env: &Env, url: &str, tag: &str) -> Run {
        env.run(&["verify", "--notary-server", url, &format!("{}:{tag}", self.gun)])
    }

    fn inspect(&self) -> serde_json::Value {
        let home = self.pusher.home().to_owned();
        let out = docker(
            &self.stack,
            None,
            &self.config,
            &home,
            &["trust", "inspect", &self.gun],
        );
        serde_json::from_slice(&out.stdout).expect("docker trust inspect JSON")
    }
}

fn bob_key_id(stack: &NotaryStack, config: &std::path::Path, gun: &str) -> String {
    let out = docker(stack, None, config, config, &["trust", "inspect", gun]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v[0]["Signers"]
        .as_array()
        .expect("signers")
        .iter()
        .find(|s| s["Name"] == "bob")
        .and_then(|s| s["Keys"][0]["ID"].as_str())
        .expect("bob's key")
        .to_owned()
}

#[test]
fn verify_agrees_with_docker_trust_inspect_and_refuses_what_docker_refused() {
    let mut dct = Dct::new();
    let user = dct.user();
    let url = dct.stack.url.clone();
    // The same digests `docker trust inspect` shows, tag by tag.
    let inspect = dct.inspect();
    let signed = inspect[0]["SignedTags"].as_array().expect("signed tags");
    assert_eq!(signed.len(), 2, "{inspect}");
    for t in signed {
        let tag = t["SignedTag"].as_str().expect("tag");
        let out = dct.verify(&user, &url, tag);
        assert_eq!(
            out.ok().trim(),
            format!("sha256:{}", t["Digest"].as_str().expect("digest")),
            "{tag}"
        );
    }
    for (tag, digest) in &dct.digests {
        assert_eq!(dct.verify(&user, &url, tag).ok().trim(), digest);
    }
    // --notary-server takes a URL and never swallows the reference.
    let out = user.run(&["verify", "--notary-server", &format!("{}:v1", dct.gun)]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("is not a URL"), "{}", out.stderr);
    // DOCKER_CONTENT_TRUST_SERVER alone, as docker read it: the registry
    // holds no vouch trust data, so the Notary server's data is verified.
    if let Some((tag, digest)) = dct.digests.first() {
        let reference = format!("{}:{tag}", dct.gun);
        for args in [vec!["verify", &reference], vec!["verify", "--notary", &reference]] {
            let out = user.run_with(&args, &[("DOCKER_CONTENT_TRUST_SERVER", &url)], "");
            assert_eq!(out.ok().trim(), digest, "{args:?}");
        }
        let report = user.run_with(
            &["inspect", &dct.gun],
            &[("DOCKER_CONTENT_TRUST_SERVER", &url)],
            "",
        );
        assert!(report.ok().contains(tag.as_str()), "{}", report.stdout);
    }
    // v4 was signed only by bob, whose key is gone; v3 never was.
    dct.verify(&user, &url, "v4").fails(1, "is not signed");
    dct.verify(&user, &url, "v6").fails(1, "is not signed");
    // Docker itself pulled v1 with content trust on, and refused the others.
    let home = dct.pusher.home().to_owned();
    for (tag, pulls) in [("v1", true), ("v3", false), ("v4", false), ("v6", false)] {
        let out = docker_run(
            &dct.stack,
            Some(&dct.api),
            &dct.config,
            &home,
            &["pull", "-q", &format!("{}:{tag}", dct.gun)],
            &[("DOCKER_CONTENT_TRUST", "1")],
        );
        assert_eq!(
            out.status.success(),
            pulls,
            "DOCKER_CONTENT_TRUST=1 docker pull {tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dct.verify(&user, &url, "v3").fails(1, "is not signed");
    let report: serde_json::Value =
        serde_json::from_str(user.run(&["inspect", "--notary-server", &url, &dct.gun]).ok()).expect("json");
    let v1 = report["signedTags"]
        .as_array()
        .expect("tags")
        .iter()
        .find(|t| t["tag"] == "v1")
        .expect("v1");
    assert_eq!(
        v1["signers"],
        serde_json::json!(["targets/alice", "targets/releases"])
    );

    // A tag moved in the registry after signing.
    push(&dct.pusher, &dct.reg, "demo/app", "v2", "moved\n");
    dct.verify(&user, &url, "v2").fails(1, "digest mismatch");

    // Tampered metadata, served by a proxy in front of the real server.
    let proxy = FaultProxy::start_tls(&dct.stack.addr, &dct.stack.cert, &dct.stack.key, &dct.stack.ca);
    let via = format!("https://{}", proxy.addr);
    for (file, why) in [
        ("timestamp", "signature"),
        ("snapshot", "does not match"),
        ("targets/releases", "does not match"),
    ] {
        proxy.fault("flip", &format!("GET .*/_trust/tuf/{file}[.]"));
        dct.verify(&user, &via, "v1").fails(1, why);
    }
    proxy.clear();

    // A rolled-back timestamp: what the server served before a new publish.
    let old_ts = dct.stack.dir().join("old-timestamp.json");
    std::fs::write(&old_ts, fetch(&dct, "timestamp.json")).expect("old timestamp");
    let digest = push(&dct.pusher, &dct.reg, "demo/app", "v5", "v5\n");
    let len = manifest_len(&dct.pusher, "v5", &digest).to_string();
    let hex = digest.trim_start_matches("sha256:");
    dct.stack.notary(
        &dct.config.join("trust"),
        &["addhash", &dct.gun, "v5", &len, "--sha256", hex, "-p"],
    );
    assert_eq!(dct.verify(&user, &url, "v5").ok().trim(), digest);
    proxy.fault(
        &format!("replace:{}", old_ts.display()),
        "GET .*/_trust/tuf/timestamp[.]json",
    );
    dct.verify(&user, &via, "v5").fails(1, "rollback");
    proxy.clear();

    // An expired timestamp (14 days): vouch's clock 15 days on.
    let later = user.run_with(
        &["verify", "--notary-server", &url, &format!("{}:v5", dct.gun)],
        &[
            ("LD_PRELOAD", &crate::common::faketime_lib()),
            ("FAKETIME", "+15d"),
        ],
        "",
    );
    later.fails(1, "expired");

    // The root of another GUN (its certificate names that GUN).
    let other = format!("{}/demo/other", dct.reg.addr);
    let scratch = dct.stack.dir().join("other-trust");
    dct.stack.notary(&scratch, &["init", &other, "-p"]);
    let other_root = fetch_gun(&dct, &other, "root.json");
    let ids = vouch::trust::notary_reader::root_key_ids(&other_root);
    proxy.fault("rewrite:/demo/app/=/demo/other/", "GET .*/demo/app/_trust/");
    let pinned = Env::new();
    pinned.run(&["pin", &dct.gun, &ids[0]]).ok();
    dct.verify(&pinned, &via, "v1").fails(1, "certificate");
    proxy.clear();

    // The server down: could not decide.
    dct.stack.stop_server();
    dct.verify(&user, &url, "v1").fails(2, "unreachable");
}

/// A file as the real server serves it (over its CA).
/// Each tag's status in a migration report, with a dry run's "would"
/// taken off.
fn statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    report["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| {
            let status = t["status"].as_str().expect("status");
            let status = status
                .strip_prefix("would be ")
                .or_else(|| status.strip_prefix("would "))
                .unwrap_or(status);
            let status = if status == "migrate" { "migrated" } else { status };
            (t["tag"].as_str().expect("tag").to_owned(), status.to_owned())
        })
        .collect()
}

fn fetch(dct: &Dct, name: &str) -> Vec<u8> {
    fetch_gun(dct, &dct.gun, name)
}

fn fetch_gun(dct: &Dct, gun: &str, name: &str) -> Vec<u8> {
    let out = std::process::Command::new("curl")
        .args(["-fsS", "--cacert"])
        .arg(&dct.stack.ca)
        .arg(format!("{}/v2/{gun}/_trust/tuf/{name}", dct.stack.url))
        .output()
        .expect("curl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn migrate_then_verify_with_the_notary_server_gone() {
    let mut dct = Dct::new();
    let mut publisher = dct.user();
    for (k, v) in [
        ("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", ROOT_PASS),
        ("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", REPO_PASS),
        ("VOUCH_SNAPSHOT_PASSPHRASE", "snapshot-p"),
        ("VOUCH_TIMESTAMP_PASSPHRASE", "timestamp-p"),
    ] {
        publisher.set(k, v);
    }
    let url = dct.stack.url.clone();
    let root_key = dct.inspect()[0]["AdministrativeKeys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["Name"] == "Root")
        .and_then(|k| k["Keys"][0]["ID"].as_str())
        .expect("root key id")
        .to_owned();

    // A dry run writes nothing.
    let dry: serde_json::Value = serde_json::from_str(
        publisher
            .run(&[
                "migrate",
                &dct.gun,
                "--notary-server",
                &url,
                "--dry-run",
                "--json",
            ])
            .ok(),
    )
    .expect("json");
    assert_eq!(dry["dryRun"], true);
    publisher
        .run(&["verify", &format!("{}:v1", dct.gun)])
        .fails(1, "no trust data");
    // It says which keys it would make, and what seals each.
    let sealing = |report: &serde_json::Value| -> Vec<(String, String)> {
        report["newKeys"]
            .as_array()
            .expect("newKeys")
            .iter()
            .map(|k| {
                (
                    k["role"].as_str().expect("role").to_owned(),
                    k["sealedWith"].as_str().expect("sealedWith").to_owned(),
                )
            })
            .collect()
    };
    let expected_keys = [
        ("snapshot".to_owned(), "$VOUCH_SNAPSHOT_PASSPHRASE".to_owned()),
        ("timestamp".to_owned(), "$VOUCH_TIMESTAMP_PASSPHRASE".to_owned()),
    ];
    assert_eq!(sealing(&dry), expected_keys, "{dry}");

    let out = publisher.run(&["migrate", &dct.gun, "--notary-server", &url, "--json"]);
    let report: serde_json::Value = serde_json::from_str(out.ok()).expect("json");
    assert_eq!(sealing(&report), expected_keys, "{report}");
    assert_eq!(statuses(&dry), statuses(&report), "the dry run agreed");
    // One key, one id: the Docker key files' own (canonical) ids are not
    // shown; a signer is named by the id vouch's trust data lists it by.
    let canonical: Vec<String> = std::fs::read_dir(dct.config.join("trust/private"))
        .expect("DCT keys")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
        .collect();
    assert!(!canonical.is_empty());
    for id in &canonical {
        assert!(!out.all().contains(id.as_str()), "{id} shown: {}", out.all());
    }
    let signer_ids: std::collections::BTreeSet<String> = report["signers"]
        .as_array()
        .expect("signers")
        .iter()
        .flat_map(|s| s["key_ids"].as_array().expect("ids").iter())
        .map(|i| i.as_str().expect("id").to_owned())
        .collect();
    for t in report["tags"].as_array().expect("tags") {
        for by in t["signedBy"].as_array().expect("signedBy") {
            assert!(
                signer_ids.contains(by.as_str().expect("id"))
                    || t["signedIn"].to_string().contains("\"targets\""),
                "{report}"
            );
        }
    }
    assert_eq!(report["rootKeyId"], root_key.as_str(), "the DCT root key is kept");
    let migrated: Vec<&str> = report["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t["tag"].as_str().expect("tag"))
        .collect();
    assert_eq!(migrated, ["v1", "v2"], "{report}");
    let skipped = report["skipped"].to_string();
    assert!(
        skipped.contains("targets/bob"),
        "bob's role is listed as skipped: {skipped}"
    );

    assert!(
        skipped.contains("v6"),
        "v6 (only in targets/alice) is listed as skipped: {skipped}"
    );

    // Running it again changes nothing.
    let again: serde_json::Value = serde_json::from_str(
        publisher
            .run(&["migrate", &dct.gun, "--notary-server", &url, "--json"])
            .ok(),
    )
    .expect("json");
    assert!(
        again["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .all(|t| t["status"] == "unchanged"),
        "{again}"
    );
    // A tag revoked in Notary is revoked by the next run, too, and the
    // dry run says so first.
    dct.stack
        .notary(&dct.config.join("trust"), &["remove", &dct.gun, "v2", "-p"]);
    let dry: serde_json::Value = serde_json::from_str(
        publisher
            .run(&[
                "migrate",
                &dct.gun,
                "--notary-server",
                &url,
                "--dry-run",
                "--json",
            ])
            .ok(),
    )
    .expect("json");
    assert!(dry["newKeys"].as_array().expect("newKeys").is_empty(), "{dry}");
    let third: serde_json::Value = serde_json::from_str(
        publisher
            .run(&["migrate", &dct.gun, "--notary-server", &url, "--json"])
            .ok(),
    )
    .expect("json");
    let v2 = third["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .find(|t| t["tag"] == "v2")
        .expect("v2 reported");
    assert!(
        v2["status"].as_str().expect("status").starts_with("removed"),
        "{third}"
    );
    assert_eq!(statuses(&dry), statuses(&third), "the dry run agreed");
    dct.digests.retain(|(tag, _)| tag != "v2");

    // The Notary server goes away; a machine that pinned only the printed
    // root key id verifies every migrated tag from the registry alone.
    dct.stack.stop_server();
    let consumer = Env::new();
    consumer.run(&["pin", &dct.gun, &root_key]).ok();
    for (tag, digest) in &dct.digests {
        assert_eq!(
            consumer
                .run(&["verify", &format!("{}:{tag}", dct.gun)])
                .ok()
                .trim(),
            digest,
            "{tag}"
        );
    }
    consumer
        .run(&["verify", &format!("{}:v3", dct.gun)])
        .fails(1, "not signed");
    for tag in ["v2", "v4", "v6"] {
        consumer
            .run(&["verify", &format!("{}:{tag}", dct.gun)])
            .fails(1, "not signed");
    }
}
