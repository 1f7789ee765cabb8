//! An OCI layout is untrusted input. Each test plays someone who can write
//! the layout directory (but holds no key) and plants what a careless
//! reader would trip on: a tag named twice, links where files and
//! directories belong, a FIFO where a blob belongs, a staging directory
//! left by a killed run. vouch refuses with exit 2, an error and a hint,
//! never hangs, and reads or writes nothing outside the layout.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Env, Run, oci_image, snapshot};

struct Repo {
    env: Env,
    /// Another machine: the pin only, no cache, so it reads every blob.
    fresh: Env,
    layout: PathBuf,
    /// Where the attacker moves things to (outside the layout).
    outside: PathBuf,
}

impl Repo {
    /// A layout with `v1` signed and `v2` unsigned.
    fn signed() -> Repo {
        let env = crate::common::publisher();
        let layout = env.home().join("layout");
        let outside = env.home().join("outside");
        std::fs::create_dir_all(&outside).expect("outside");
        let repo = Repo {
            env,
            fresh: Env::new(),
            layout,
            outside,
        };
        oci_image(&repo.layout, "v1", "v1\n");
        oci_image(&repo.layout, "v2", "v2\n");
        let root = repo.run(&["init", &repo.r("")]).ok().trim().to_owned();
        repo.run(&["sign", &repo.r(":v1")]).ok();
        repo.fresh.run(&["pin", &repo.r(""), &root]).ok();
        repo
    }

    fn r(&self, suffix: &str) -> String {
        format!("oci:{}{suffix}", self.layout.display())
    }

    fn run(&self, args: &[&str]) -> Run {
        self.env.run(args)
    }

    /// Every command that reads or writes the layout, each must refuse.
    fn every_command_refuses(&self, needle: &str) {
        let pulled = self.env.home().join("pulled");
        let to = format!("oci:{}", pulled.display());
        for args in [
            vec!["verify", &self.r(":v1")],
            vec!["resolve", &self.r(":v1")],
            vec!["inspect", &self.r("")],
            vec!["sign", &self.r(":v2")],
            vec!["revoke", &self.r(":v1")],
            vec!["refresh", &self.r("")],
            vec!["pull", &self.r(":v1"), "--to", &to],
        ] {
            let run = self.run(&args);
            eprintln!("{args:?}: {}", run.stderr);
            run.fails(2, needle);
        }
        assert!(!pulled.exists(), "a refused pull wrote its destination");
    }

    fn trust_manifest_blob(&self) -> PathBuf {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.layout.join("index.json")).expect("index"))
                .expect("json");
        let digest = index["manifests"]
            .as_array()
            .expect("manifests")
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "vouch-trust")
            .expect("the trust tag")["digest"]
            .as_str()
            .expect("digest")
            .to_owned();
        self.layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    }
}

#[test]
fn a_tag_named_twice_in_index_json_is_refused_by_every_command() {
    let repo = Repo::signed();
    // The attacker adds a second `v1` entry pointing at the unsigned image:
    // a reader taking the first entry and one taking the last would
    // disagree about which image `v1` is.
    let path = repo.layout.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("index")).expect("json");
    let manifests = index["manifests"].as_array_mut().expect("manifests");
    let v2 = manifests
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "v2")
        .expect("v2")
        .clone();
    let mut second_v1 = v2;
    second_v1["annotations"]["org.opencontainers.image.ref.name"] = "v1".into();
    manifests.push(second_v1);
    std::fs::write(&path, serde_json::to_vec(&index).expect("json")).expect("write");
    let before = snapshot(&repo.layout);

    repo.every_command_refuses("names the tag \"v1\" more than once");
    assert_eq!(
        snapshot(&repo.layout),
        before,
        "a refused command changed the layout"
    );
}

#[test]
fn case_colliding_keys_in_index_json_are_refused_by_every_command() {
    // Go's encoding/json (skopeo, podman, containerd) matches keys
    // ignoring case and takes the last: `v1` with both `digest` (the
    // signed image) and `Digest` (the unsigned one) is v2 to them.
    for (key, twin) in [
        ("digest", "Digest"),
        ("size", "Size"),
        ("annotations", "Annotations"),
    ] {
        let repo = Repo::signed();
        let path = repo.layout.join("index.json");
        let text = String::from_utf8(std::fs::read(&path).expect("index")).expect("utf8");
        let mut index: serde_json::Value = serde_json::from_str(&text).expect("json");
        let manifests = index["manifests"].as_array_mut().expect("manifests");
        let v2 = manifests
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "v2")
            .expect("v2")
            .clone();
        let v1 = manifests
            .iter_mut()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "v1")
            .expect("v1");
        v1[twin] = v2[key].clone();
        std::fs::write(&path, serde_json::to_vec(&index).expect("json")).expect("write");
        let before = snapshot(&repo.layout);

        repo.every_command_refuses("has the keys");
        assert_eq!(
            snapshot(&repo.layout),
            before,
            "a refused command changed the layout"
        );
    }
}

#[test]
fn a_symlinked_index_json_is_refused_and_its_target_untouched() {
    let repo = Repo::signed();
    let moved = repo.outside.join("index.json");
    std::fs::rename(repo.layout.join("index.json"), &moved).expect("move");
    symlink(&moved, repo.layout.join("index.json")).expect("symlink");
    let before = snapshot(&repo.outside);

    repo.every_command_refuses("is a symbolic link");
    assert_eq!(snapshot(&repo.outside), before, "vouch wrote through the link");
    assert!(
        repo.layout
            .join("index.json")
            .symlink_metadata()
            .expect("link")
            .file_type()
            .is_symlink(),
        "the link was replaced"
    );
}

#[test]
fn a_symlinked_blobs_directory_is_refused_and_its_target_untouched() {
    for which in ["blobs", "blobs/sha256"] {
        let repo = Repo::signed();
        let moved = repo.outside.join("moved");
        std::fs::rename(repo.layout.join(which), &moved).expect("move");
        symlink(&moved, repo.layout.join(which)).expect("symlink");
        let before = snapshot(&repo.outside);

        repo.fresh
            .run(&["verify", &repo.r(":v1")])
            .fails(2, "is a symbolic link");
        // Writers store blobs: refused too (a cached verify reads none).
        for args in [vec!["sign", &repo.r(":v2")], vec!["refresh", &repo.r("")]] {
            repo.run(&args).fails(2, "is a symbolic link");
        }
        assert_eq!(snapshot(&repo.outside), before, "vouch wrote through {which}");
    }
}

#[test]
fn a_symlinked_blob_is_refused() {
    let repo = Repo::signed();
    // The trust artifact's manifest, moved out and linked back: the same
    // bytes, but vouch does not read a blob through a link.
    let blob = repo.trust_manifest_blob();
    let moved = repo.outside.join("blob");
    std::fs::rename(&blob, &moved).expect("move");
    symlink(&moved, &blob).expect("symlink");
    let before = snapshot(&repo.outside);

    repo.fresh
        .run(&["verify", &repo.r(":v1")])
        .fails(2, "is a symbolic link");
    // A writer whose cache already holds that state need not read the blob;
    // whether it refuses or publishes anew, nothing goes through the link.
    let signed = repo.run(&["sign", &repo.r(":v2")]);
    assert!(signed.code == 0 || signed.code == 2, "{signed:?}");
    assert_eq!(snapshot(&repo.outside), before);
    assert!(blob.symlink_metadata().expect("link").file_type().is_symlink());
}

#[test]
fn a_fifo_blob_is_refused_without_hanging() {
    let repo = Repo::signed();
    let blob = repo.trust_manifest_blob();
    std::fs::remove_file(&blob).expect("remove");
    let made = Command::new("mkfifo").arg(&blob).status().expect("mkfifo");
    assert!(made.success());

    // No writer ever opens the FIFO: a reader that opened it blocking
    // would wait forever.
    let started = Instant::now();
    let mut child = repo.fresh.spawn(&["verify", &repo.r(":v1")]);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("vouch verify hung on a FIFO blob");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("stderr");
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is a FIFO"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");

    // And a FIFO where index.json belongs.
    let index = repo.layout.join("index.json");
    std::fs::remove_file(&index).expect("remove");
    assert!(
        Command::new("mkfifo")
            .arg(&index)
            .status()
            .expect("mkfifo")
            .success()
    );
    repo.run(&["verify", &repo.r(":v1")]).fails(2, "is a FIFO");
}

/// The staging directory of `pull --to` for a destination.
fn staging_dirs(parent: &Path, name: &str) -> Vec<PathBuf> {
    std::fs::read_dir(parent)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!(".{name}.vouch-partial-")))
        })
        .collect()
}

#[test]
fn pull_stages_under_a_random_name_and_clears_what_a_killed_run_left() {
    let mut repo = Repo::signed();
    repo.env.set("VOUCH_CONTENT_TRUST", "1");
    let parent = repo.env.home().join("deploy");
    std::fs::create_dir_all(&parent).expect("parent");
    let dest = parent.join("app");
    // What a killed run left (no one holds it) ...
    let abandoned = parent.join(".app.vouch-partial-0123456789abcdef");
    std::fs::create_dir_all(abandoned.join("blobs")).expect("abandoned");
    let aged = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&abandoned)
        .status()
        .expect("touch");
    assert!(aged.success());
    // ... and a link an attacker planted at a staging-like name, pointing
    // outside: it is not a directory of vouch's, so it is left alone.
    let planted = parent.join(".app.vouch-partial-planted");
    symlink(&repo.outside, &planted).expect("symlink");
    std::fs::write(repo.outside.join("keep"), b"keep").expect("keep");

    let to = format!("oci:{}", dest.display());
    repo.run(&["pull", &repo.r(":v1"), "--to", &to]).ok();
    assert!(dest.join("index.json").is_file());
    assert!(
        !abandoned.exists(),
        "the abandoned staging directory is still there"
    );
    assert!(planted.symlink_metadata().is_ok(), "the planted link was removed");
    assert_eq!(std::fs::read(repo.outside.join("keep")).expect("keep"), b"keep");
    assert_eq!(
        staging_dirs(&parent, "app"),
        vec![planted.clone()],
        "only the planted link remains"
    );

    // A refused pull leaves no staging directory and no destination.
    let refused = parent.join("refused");
    repo.run(&[
        "pull",
        &repo.r(":v2"),
        "--to",
        &format!("oci:{}", refused.display()),
    ])
    .fails(1, "not signed");
    assert!(!refused.exists());
    assert!(staging_dirs(&parent, "refused").is_empty());
}
