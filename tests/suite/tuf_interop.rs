//! Interop with independent TUF implementations, both ways: python-tuf's
//! ngclient reads what vouch writes (served over HTTP on loopback), vouch's
//! client reads what python-tuf's Metadata API writes, and tough's
//! RepositoryLoader loads what vouch writes.

use std::path::Path;

use crate::common::Env;
use crate::common::py::{HttpServer, run_script};
use crate::common::tuf::{APP, RELEASE, key, keys, target};
use sha2::Digest;
use time::OffsetDateTime;
use vouch::store::tuf_repo_dir::{write_metadata, write_target};
use vouch::tuf::editor::{DelegatedPaths, Delegation, Expiries, MetadataEditor, RoleSetup};

const WEB: &[u8] = b"web image manifest";

/// Bins of the `images` role: succinct (TAP 15) or classic hash prefixes.
#[derive(Clone, Copy)]
enum Bins {
    Succinct,
    Classic,
}

/// A vouch-written repository: `app` in targets; `apps/rel` in delegated
/// `releases` (paths apps/*); `images/web` in a hashed bin under `images`;
/// root rotated once (v2 signed by the old and the new root key).
fn vouch_repository(dir: &Path, bins: Bins) -> MetadataEditor {
    let k = keys();
    let now = OffsetDateTime::now_utc();
    let others = [k.targets.public(), k.snapshot.public(), k.timestamp.public()];
    let mut repo =
        MetadataEditor::create_single_key(&k.root, others.each_ref(), true, now, Expiries::default())
            .expect("repository");
    let new_root = key(12);
    repo.set_top_level_keys("root", &RoleSetup::single(new_root.public()), now)
        .expect("rotate");
    repo.root.sign(&k.root).expect("old key");
    repo.root.sign(&new_root).expect("new key");
    repo.publish_root().expect("publish v2");

    repo.add_target("targets", "app", target(APP), now).expect("app");
    let d = [k.delegate.public()];
    repo.add_delegation(
        "targets",
        Delegation {
            name: "releases",
            keys: &d,
            threshold: 1,
            paths: DelegatedPaths::Paths(vec!["apps/*".into()]),
            terminating: true,
        },
        now,
    )
    .expect("releases");
    repo.add_target("releases", "apps/rel", target(RELEASE), now)
        .expect("rel");
    repo.add_delegation(
        "targets",
        Delegation {
            name: "images",
            keys: &d,
            threshold: 1,
            paths: DelegatedPaths::Paths(vec!["images/*".into()]),
            terminating: false,
        },
        now,
    )
    .expect("images");
    let bin = match bins {
        Bins::Succinct => {
            repo.add_succinct_bins("images", "images-bin", 3, &d, 1, now)
                .expect("bins");
            repo.bin_for("images", "images/web").expect("bin")
        }
        Bins::Classic => {
            repo.add_hashed_bins("images", "images-bin", 1, &d, 1, now)
                .expect("bins");
            repo.hashed_bin_for("images", "images/web").expect("bin")
        }
    };
    repo.add_target(bin.as_str(), "images/web", target(WEB), now)
        .expect("web");
    repo.sign_targets_roles(&k.targets).expect("sign");
    repo.sign_targets_roles(&k.delegate).expect("sign");
    repo.bump_snapshot(now);
    repo.snapshot.sign(&k.snapshot).expect("snapshot");
    repo.bump_timestamp(now).expect("ts");
    repo.timestamp.sign(&k.timestamp).expect("timestamp");

    write_metadata(&repo, dir).expect("write metadata");
    for (path, content) in [("app", APP), ("apps/rel", RELEASE), ("images/web", WEB)] {
        let hashes: Vec<String> = target(content).hashes.into_values().collect();
        write_target(&repo, dir, path, &hashes, content).expect("write target");
    }
    repo
}

fn sha256(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

#[test]
fn python_tuf_ngclient_reads_a_vouch_repository_with_delegations_bins_and_root_rotation() {
    let dir = tempfile::tempdir().expect("tmp");
    vouch_repository(dir.path(), Bins::Succinct);
    let server = HttpServer::serve(dir.path());
    let work = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("metadata/1.root.json");
    let (code, stdout, stderr) = run_script(
        "ngclient_download.py",
        &[
            root.to_str().expect("utf8"),
            &server.url("metadata/"),
            &server.url("targets/"),
            work.path().to_str().expect("utf8"),
            "app",
            "apps/rel",
            "images/web",
        ],
    );
    assert_eq!(code, 0, "ngclient failed\nstdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains(&format!("app {}", sha256(APP))), "{stdout}");
    assert!(
        stdout.contains(&format!("apps/rel {}", sha256(RELEASE))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("images/web {}", sha256(WEB))),
        "{stdout}"
    );
    assert!(
        stdout.contains("trusted root version 2"),
        "ngclient followed the root rotation: {stdout}"
    );
}

#[test]
fn tough_loads_a_vouch_repository() {
    let dir = tempfile::tempdir().expect("tmp");
    vouch_repository(dir.path(), Bins::Classic);
    let root = std::fs::read(dir.path().join("metadata/1.root.json")).expect("root");
    let meta = url::Url::from_directory_path(dir.path().join("metadata")).expect("url");
    let targets = url::Url::from_directory_path(dir.path().join("targets")).expect("url");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let repo = tough::RepositoryLoader::new(&root, meta, targets)
            .load()
            .await
            .expect("tough loads it");
        let names: Vec<String> = repo.all_targets().map(|(n, _)| n.raw().to_owned()).collect();
        for want in ["app", "apps/rel", "images/web"] {
            assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
        }
        use tough::IntoVec;
        let name = tough::TargetName::new("app").expect("name");
        let stream = repo.read_target(&name).await.expect("read").expect("present");
        assert_eq!(stream.into_vec().await.expect("bytes"), APP);
    });
}

#[test]
fn vouch_cli_reads_a_python_tuf_repository_and_names_a_rollback() {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, listing, err) = run_script("write_repo.py", &[dir.path().to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    let server = HttpServer::serve(dir.path());
    let env = Env::new();
    let meta = env.home().join("client");
    let dl = env.home().join("downloads");
    let (m, d) = (meta.to_str().expect("utf8"), dl.to_str().expect("utf8"));
    let root = dir.path().join("metadata/1.root.json");
    env.run(&["tuf", "init", "--metadata-dir", m, root.to_str().expect("utf8")])
        .ok();

    let url = server.url("metadata");
    let targets_url = server.url("targets");
    let paths: Vec<&str> = listing
        .lines()
        .map(|l| l.split(' ').next().expect("path"))
        .collect();
    let mut args = vec![
        "tuf",
        "download",
        "--metadata-dir",
        m,
        "--metadata-url",
        &url,
        "--target-base-url",
        &targets_url,
        "--target-dir",
        d,
    ];
    args.extend(&paths);
    let out = env.run(&args);
    let printed: Vec<&str> = out.ok().lines().collect();
    assert_eq!(printed.len(), paths.len());
    for (line, file) in listing.lines().zip(&printed) {
        let want = line.split(' ').nth(1).expect("hash");
        assert_eq!(sha256(&std::fs::read(file).expect("downloaded")), want, "{line}");
    }
    // The client persisted the rotated root and exact bytes of every role.
    let served_root = std::fs::read(dir.path().join("metadata/2.root.json")).expect("v2");
    assert_eq!(std::fs::read(meta.join("root.json")).expect("root"), served_root);
    let mut files: Vec<String> = std::fs::read_dir(&meta)
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "releases.json",
            "root.json",
            "snapshot.json",
            "targets.json",
            "timestamp.json"
        ]
    );

    // A second download of the same target is not fetched again.
    let again = env.run(&args[..11]);
    assert_eq!(again.ok().trim(), printed[0]);

    // Serve timestamp v2, refresh; then the old v1 again: a rollback.
    let ts = dir.path().join("metadata/timestamp.json");
    let v1 = std::fs::read(&ts).expect("v1");
    std::fs::copy(dir.path().join("timestamp-v2.json"), &ts).expect("v2");
    env.run(&["tuf", "refresh", "--metadata-dir", m, "--metadata-url", &url])
        .ok();
    std::fs::write(&ts, v1).expect("restore v1");
    let rolled = env.run(&["tuf", "refresh", "--metadata-dir", m, "--metadata-url", &url]);
    rolled.fails(1, "rollback attack: timestamp version 1");

    // Unreachable repository: could not decide (2), never a verdict.
    drop(server);
    let down = env.run(&["tuf", "refresh", "--metadata-dir", m, "--metadata-url", &url]);
    down.fails(2, "unreachable");
}

#[test]
fn canonical_json_key_order_matches_python_tuf() {
    // Keys that are prefixes of others followed by low characters, quotes,
    // backslashes, control characters and non-ASCII.
    let doc = serde_json::json!({
        "a": 1, "a!": 2, "a\u{0}": 3, "": 4, "\"": 5, "\\": 6, "é": 7, "z": [true, null, -3, "x\"y\\z\u{1}"],
        "not NFC": "\u{fb9}e\u{301}",
        "nested": {"b": {"a": "", "a ": "v"}}
    });
    let file = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(file.path(), serde_json::to_vec(&doc).expect("json")).expect("write");
    let out = std::process::Command::new(crate::common::py::python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/canonical.py"))
        .arg(file.path())
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&vouch::tuf::metadata::canonical(&doc).expect("canonical")),
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn vouch_tuf_keeps_each_role_as_its_percent_encoded_name_like_python_tuf() {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, listing, err) = run_script(
        "write_repo.py",
        &[dir.path().to_str().expect("utf8"), "--odd-names"],
    );
    assert_eq!(code, 0, "{err}");
    let server = HttpServer::serve(dir.path());
    let env = Env::new();
    let meta = env.home().join("client");
    let dl = env.home().join("downloads");
    let (m, d) = (meta.to_str().expect("utf8"), dl.to_str().expect("utf8"));
    let root = dir.path().join("metadata/1.root.json");
    env.run(&["tuf", "init", "--metadata-dir", m, root.to_str().expect("utf8")])
        .ok();
    let (url, targets_url) = (server.url("metadata"), server.url("targets"));
    let mut args = vec![
        "tuf",
        "download",
        "--metadata-dir",
        m,
        "--metadata-url",
        &url,
        "--target-base-url",
        &targets_url,
        "--target-dir",
        d,
    ];
    let paths: Vec<&str> = listing
        .lines()
        .map(|l| l.split(' ').next().expect("path"))
        .filter(|p| p.starts_with("odd/"))
        .collect();
    assert_eq!(paths.len(), 4);
    args.extend(&paths);
    env.run(&args).ok();
    // Each role where python-tuf's client keeps it: the exact bytes served,
    // as `{quote(name, '')}.json` at the top level.
    for (role, file) in [("?", "%3F"), ("#", "%23"), ("/x", "%2Fx"), ("../x", "..%2Fx")] {
        let served = std::fs::read(dir.path().join(format!("metadata/1.{role}.json"))).expect(role);
        assert_eq!(
            std::fs::read(meta.join(format!("{file}.json"))).expect(role),
            served,
            "{role}"
        );
    }
    assert!(!meta.join("delegated").exists());
    assert!(
        !env.home().join("x.json").exists(),
        "nothing outside the metadata directory"
    );
}
