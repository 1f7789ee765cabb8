//! A team publishing: an owner (root and targets keys), a CI job (snapshot
//! and timestamp keys), signers who hold only their own keys, a threshold
//! of two. Changes short of a threshold are staged beside the trust data
//! and never replace what verifiers see; co-signers approve exactly what
//! they were shown; the CI job publishes. Each attack of one signer (the
//! ride-along) or of a keyless writer of staged data is refused, and no
//! tag that verified stops verifying.

use std::path::Path;

use crate::common::attacker::Attacker;
use crate::common::proxy::RunningProxy;
use crate::common::py::{HttpServer, run_script};
use crate::common::registry::{Registry, push};
use crate::common::{Env, copy_key, gate_refuses, oci_image, publisher, staged_id};

/// An owner, a CI job, two signers and a reader (a machine that only
/// verifies), each with a trust directory of its own.
struct Team {
    owner: Env,
    ci: Env,
    alice: Env,
    bob: Env,
    reader: Env,
    repo: String,
}

impl Team {
    /// `repo` initialised by the owner (with `tags` signed by targets
    /// first), its online keys handed to CI, signers alice and bob added
    /// with a threshold of two (each change published by CI).
    fn new(repo: &str, tags: &[&str]) -> Team {
        let owner = publisher();
        let root = owner.run(&["init", repo]).ok().trim().to_owned();
        for tag in tags {
            owner.run(&["sign", &format!("{repo}:{tag}")]).ok();
        }
        let team = Team {
            ci: publisher(),
            alice: publisher(),
            bob: publisher(),
            reader: Env::new(),
            owner,
            repo: repo.to_owned(),
        };
        for role in ["snapshot", "timestamp"] {
            copy_key(&team.owner, &team.ci, role, true);
        }
        for env in [&team.ci, &team.alice, &team.bob, &team.reader] {
            env.run(&["pin", repo, &root]).ok();
        }
        for (name, env, threshold) in [("alice", &team.alice, Some("2")), ("bob", &team.bob, None)] {
            env.run(&["key", "generate", name]).ok();
            let public = env.home().join(format!("{name}.pub"));
            let mut args = vec![
                "signer",
                "add",
                name,
                repo,
                "--key",
                public.to_str().expect("utf8"),
            ];
            if let Some(t) = threshold {
                args.extend(["--threshold", t]);
            }
            // The owner holds no online key: staged, then published by CI.
            staged_id(&team.owner.run(&args));
            let published = team.ci.run(&["publish", repo]);
            published.ok();
            assert!(published.stderr.contains("Published"), "{}", published.stderr);
        }
        team
    }

    fn tag(&self, tag: &str) -> String {
        format!("{}:{tag}", self.repo)
    }

    /// Asserts that the reader verifies `tag` as `digest`.
    fn verifies(&self, tag: &str, digest: &str) {
        let run = self.reader.run(&["verify", &self.tag(tag)]);
        assert_eq!(run.ok().trim(), digest, "{tag}: {}", run.stderr);
    }

    /// Asserts that the reader refuses `tag` (exit 1, `needle`), and that
    /// the gate (`vouch pull`, enforcing) refuses it too.
    fn refuses(&self, tag: &str, needle: &str) {
        self.reader.run(&["verify", &self.tag(tag)]).fails(1, needle);
        gate_refuses(&self.reader, &self.tag(tag), needle);
    }

    /// `vouch staged` as `env` sees it.
    fn staged(&self, env: &Env) -> String {
        env.run(&["staged", &self.repo]).ok().to_owned()
    }
}

/// python-tuf's client, over the trust artifact exported as a standard
/// TUF repository, resolves each of `tags` to its digest.
fn python_tuf_resolves(layout: &Path, tags: &[(&str, &str)]) {
    let export = tempfile::tempdir().expect("tmp");
    let meta = export.path().join("metadata");
    std::fs::create_dir_all(&meta).expect("mkdir");
    for (name, bytes) in Attacker::layout(layout).files() {
        // python-tuf asks for `2.targets%2Freleases.json`, which the HTTP
        // server decodes to a path below `2.targets/`.
        let path = meta.join(name.replace("%2F", "/"));
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
    let server = HttpServer::serve(export.path());
    let work = tempfile::tempdir().expect("tmp");
    let mut args = vec![
        meta.join("1.root.json").to_str().expect("utf8").to_owned(),
        server.url("metadata/"),
        work.path().to_str().expect("utf8").to_owned(),
    ];
    args.extend(tags.iter().map(|(t, _)| (*t).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = run_script("ngclient_lookup.py", &args);
    assert_eq!(code, 0, "python-tuf: {stdout}\n{stderr}");
    for (tag, digest) in tags {
        let hex = digest.trim_start_matches("sha256:");
        assert!(stdout.contains(&format!("{tag} {hex}")), "{tag}: {stdout}");
    }
}

#[test]
fn a_team_signs_across_four_machines_and_no_tag_stops_verifying() {
    let home = tempfile::tempdir().expect("tmp");
    let layout = home.path().join("app");
    let repo = format!("oci:{}", layout.display());
    let v1 = oci_image(&layout, "v1", "signed by the owner before signers\n");
    let v2 = oci_image(&layout, "v2", "release two\n");
    let team = Team::new(&repo, &["v1"]);
    // Tags targets signed before the signers keep verifying (Docker's
    // rule: targets/releases first, then targets).
    team.verifies("v1", &v1);

    // A signer with only their own key signs v2: staged, nothing changes
    // for verifiers.
    let before = Attacker::layout(&layout).trust_digest();
    let id = staged_id(&team.alice.run(&["sign", &team.tag("v2")]));
    assert_eq!(
        Attacker::layout(&layout).trust_digest(),
        before,
        "the live data is untouched"
    );
    team.verifies("v1", &v1);
    team.refuses("v2", "not signed");
    // python-tuf sees the live data only.
    python_tuf_resolves(&layout, &[("v1", &v1)]);

    // The other signer sees the diff, approves; CI publishes.
    let listed = team.staged(&team.bob);
    assert!(listed.contains(&id[..12]), "{listed}");
    assert!(listed.contains(&format!("+ v2 {v2}")), "{listed}");
    assert!(listed.contains("targets/releases signed by 1 of 2"), "{listed}");
    let approved = team.bob.run(&["approve", &repo, &id[..8]]);
    approved.ok();
    assert!(
        approved.stderr.contains("waits for a publisher"),
        "{}",
        approved.stderr
    );
    team.refuses("v2", "not signed");
    team.ci.run(&["publish", &repo]).ok();
    team.verifies("v2", &v2);
    team.verifies("v1", &v1);
    assert!(
        team.staged(&team.reader).is_empty(),
        "published changes leave the staging area"
    );
    python_tuf_resolves(&layout, &[("v1", &v1), ("v2", &v2)]);

    // A revocation takes the same path: staged, v2 verifies meanwhile.
    let id = staged_id(&team.alice.run(&["revoke", &team.tag("v2")]));
    team.verifies("v2", &v2);
    assert!(
        team.staged(&team.bob).contains(&format!("- v2 (was {v2})")),
        "{}",
        team.staged(&team.bob)
    );
    team.bob.run(&["approve", &repo, &id]).ok();
    team.ci.run(&["publish", &repo]).ok();
    team.refuses("v2", "not signed");
    team.verifies("v1", &v1);
}

/// Ride-along, in a repository at `repo` whose images `image` writes.
fn ride_along(repo: &str, image: &dyn Fn(&str, &str) -> String) {
    let repo = repo.to_owned();
    let v3 = image("v3", "a routine release\n");
    let evil = image("evil", "only alice wants this\n");
    let team = Team::new(&repo, &[]);

    // Alice signs `evil` alone: 1 of 2, staged.
    let evil_id = staged_id(&team.alice.run(&["sign", &team.tag("evil")]));
    // Bob's routine sign builds on the live role only: his change holds v3
    // and nothing of alice's pending one.
    let v3_id = staged_id(&team.bob.run(&["sign", &team.tag("v3")]));
    let listed = team.staged(&team.alice);
    let bobs: String = listed
        .split("\n\n")
        .flat_map(str::lines)
        .skip_while(|l| !l.starts_with(&v3_id[..12]))
        .take_while(|l| l.starts_with(&v3_id[..12]) || l.starts_with("  "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(bobs.contains("+ v3"), "{listed}");
    assert!(
        !bobs.contains("evil"),
        "bob's change carries alice's tag: {listed}"
    );
    // Alice co-signs v3; CI publishes what is complete.
    team.alice.run(&["approve", &repo, &v3_id]).ok();
    team.ci.run(&["publish", &repo]).ok();
    team.verifies("v3", &v3);
    team.refuses("evil", "not signed");
    // Alice's change was made against the role v3 replaced: it no longer
    // applies, and she cannot approve it a second time anyway.
    team.alice
        .run(&["approve", &repo, &evil_id])
        .fails(1, "no longer applies");
    assert_ne!(evil, v3);
}

#[test]
fn ride_along_one_signer_never_meets_a_threshold_of_two_on_a_layout() {
    let home = tempfile::tempdir().expect("tmp");
    let layout = home.path().join("app");
    ride_along(&format!("oci:{}", layout.display()), &|tag, message| {
        oci_image(&layout, tag, message)
    });
}

#[test]
fn ride_along_one_signer_never_meets_a_threshold_of_two_on_a_registry() {
    let reg = Registry::start();
    let build = publisher();
    ride_along(&format!("{}/ride/app", reg.addr), &|tag, message| {
        push(&build, &reg, "ride/app", tag, message)
    });
}

#[test]
fn signers_on_a_registry_keep_the_proxy_serving_while_a_change_is_staged() {
    let reg = Registry::start();
    let build = publisher();
    let repo = format!("{}/team/app", reg.addr);
    let v1 = push(&build, &reg, "team/app", "v1", "one\n");
    let v2 = push(&build, &reg, "team/app", "v2", "two\n");
    let team = Team::new(&repo, &["v1"]);
    let proxy = RunningProxy::start(&team.reader, "up", &reg.addr, &[], &[]);
    let through = |tag: &str| proxy.manifest("up", "team/app", tag);
    assert_eq!(through("v1"), format!("200 {v1}"));

    team.verifies("v1", &v1);
    let id = staged_id(&team.alice.run(&["sign", &team.tag("v2")]));
    assert_eq!(
        through("v1"),
        format!("200 {v1}"),
        "still served while v2 is staged"
    );
    // Staging adds nothing to a reader's work: the trust artifact did not
    // change, so a warm verify answers from its record (one round trip).
    let warm = team.reader.run(&["verify", "--verbose", &team.tag("v1")]);
    assert_eq!(warm.ok().trim(), v1);
    assert!(
        warm.stderr.contains("answered from the record of verdicts"),
        "{}",
        warm.stderr
    );
    assert!(through("v2").starts_with("403"), "{}", through("v2"));
    team.verifies("v1", &v1);
    team.bob.run(&["approve", &repo, &id]).ok();
    team.ci.run(&["publish", &repo]).ok();
    team.verifies("v2", &v2);
    assert_eq!(through("v2"), format!("200 {v2}"));
    assert_eq!(through("v1"), format!("200 {v1}"));
}

#[test]
fn thresholds_change_without_an_outage() {
    let home = tempfile::tempdir().expect("tmp");
    let layout = home.path().join("app");
    let repo = format!("oci:{}", layout.display());
    let v1 = oci_image(&layout, "v1", "one\n");
    let v2 = oci_image(&layout, "v2", "two\n");
    let v3 = oci_image(&layout, "v3", "three\n");
    let team = Team::new(&repo, &["v1"]);
    let id = staged_id(&team.alice.run(&["sign", &team.tag("v2")]));
    team.bob.run(&["approve", &repo, &id]).ok();
    team.ci.run(&["publish", &repo]).ok();
    team.verifies("v2", &v2);

    // Lowering the threshold: published at once by CI, nothing breaks.
    staged_id(&team.owner.run(&["signer", "threshold", &repo, "1"]));
    team.ci.run(&["publish", &repo]).ok();
    team.verifies("v1", &v1);
    team.verifies("v2", &v2);

    // Under a threshold of one, alice alone signs v3 (CI publishes).
    staged_id(&team.alice.run(&["sign", &team.tag("v3")]));
    team.ci.run(&["publish", &repo]).ok();
    team.verifies("v3", &v3);

    // Raising it again: targets/releases carries one signature, so the
    // raise is staged with it to sign again; every tag verifies until both
    // signers approved and CI published.
    let raise = staged_id(&team.owner.run(&["signer", "threshold", &repo, "2"]));
    team.ci.run(&["publish", &repo]).ok();
    let listed = team.staged(&team.alice);
    assert!(listed.contains("threshold 1 -> 2"), "{listed}");
    assert!(listed.contains("targets/releases signed by 0 of 2"), "{listed}");
    team.verifies("v3", &v3);
    let one = team.alice.run(&["approve", &repo, &raise]);
    one.ok();
    assert!(one.stderr.contains("still needs"), "{}", one.stderr);
    team.ci.run(&["publish", &repo]).ok();
    team.verifies("v3", &v3);
    team.bob.run(&["approve", &repo, &raise]).ok();
    team.ci.run(&["publish", &repo]).ok();
    team.verifies("v3", &v3);
    team.verifies("v2", &v2);
    team.verifies("v1", &v1);
    // One signer alone is staged again.
    staged_id(&team.alice.run(&["revoke", &team.tag("v3")]));
    team.ci.run(&["publish", &repo]).ok();
    team.verifies("v3", &v3);

    // Removing bob would leave one key for a threshold of two: refused.
    team.owner
        .run(&["signer", "remove", "bob", &repo])
        .fails(2, "threshold of 2");
    team.verifies("v2", &v2);
    // Forced: targets/releases goes, and the tags only it signed are named.
    let forced = team.owner.run(&["signer", "remove", "bob", &repo, "--force"]);
    assert!(
        forced.stderr.contains(":v2 was signed only by"),
        "{}",
        forced.stderr
    );
    staged_id(&forced);
    team.ci.run(&["publish", &repo]).ok();
    team.refuses("v2", "not signed");
    team.verifies("v1", &v1);
}

#[test]
fn hostile_staged_data_is_refused_and_never_changes_what_verifiers_see() {
    let home = tempfile::tempdir().expect("tmp");
    let layout = home.path().join("app");
    let repo = format!("oci:{}", layout.display());
    let v1 = oci_image(&layout, "v1", "one\n");
    oci_image(&layout, "v2", "two\n");
    let v3 = oci_image(&layout, "v3", "three\n");
    let team = Team::new(&repo, &["v1"]);
    let id2 = staged_id(&team.alice.run(&["sign", &team.tag("v2")]));
    let id3 = staged_id(&team.alice.run(&["sign", &team.tag("v3")]));
    let live = Attacker::layout(&layout).trust_digest();
    let section = |listed: &str, id: &str| -> String {
        listed
            .lines()
            .skip_while(|l| !l.starts_with(&id[..12]))
            .take_while(|l| l.starts_with(&id[..12]) || l.starts_with("  "))
            .collect::<Vec<_>>()
            .join("\n")
    };

    // Whoever can write the layout, without a key: an approval by a key
    // the repository does not authorise...
    let outsider = crate::common::attacker::new_key();
    let forged = serde_json::json!({
        "_type": "vouch-approval",
        "id": id2,
        "by": "bob",
        "signatures": { "targets/releases": [
            { "keyid": outsider.public().key_id().to_string(), "sig": hex_sig(&outsider, b"v2") },
        ] },
    });
    write_staged(&layout, &format!("vouch-stage-{id2}-0000000000000000"), &forged);
    // ...bob's real approval of v3 replayed as an approval of v2...
    team.bob.run(&["approve", &repo, &id3]).ok();
    let bobs = staged_tags(&layout)
        .into_iter()
        .find(|t| t.starts_with(&format!("vouch-stage-{id3}-")))
        .expect("bob's approval");
    let mut replayed: serde_json::Value = serde_json::from_slice(&read_staged(&layout, &bobs)).expect("json");
    replayed["id"] = serde_json::json!(id2);
    write_staged(&layout, &format!("vouch-stage-{id2}-1111111111111111"), &replayed);
    // ...alice's signed v2 bytes offered as another role's (her own
    // targets/alice, which her key alone signs), under a correct id...
    let mut proposal: serde_json::Value =
        serde_json::from_slice(&read_staged(&layout, &format!("vouch-stage-{id2}"))).expect("json");
    let releases = proposal["roles"]["targets/releases"].clone();
    proposal["roles"] = serde_json::json!({ "targets/alice": releases });
    let typed: vouch::trust::writer::Proposal = serde_json::from_value(proposal.clone()).expect("proposal");
    let other = typed.id().expect("id");
    write_staged(&layout, &format!("vouch-stage-{other}"), &proposal);
    // ...a proposal under a tag that is not its id, and an oversize one.
    write_staged(&layout, "vouch-stage-0123456789abcdef01234567", &proposal);
    write_staged_bytes(
        &layout,
        "vouch-stage-feedfeedfeedfeedfeedfeed",
        &vec![b' '; 17 << 20],
    );

    let listed = team.staged(&team.reader);
    assert!(
        section(&listed, &id2).contains("targets/releases signed by 1 of 2"),
        "not counted: {listed}"
    );
    assert!(section(&listed, &id3).contains("complete"), "{listed}");
    assert!(section(&listed, &other).contains("INVALID"), "{listed}");
    assert!(
        section(&listed, &other).contains("targets/releases's"),
        "{listed}"
    );
    assert!(
        listed.contains("ignored vouch-stage-0123456789abcdef01234567"),
        "{listed}"
    );
    assert!(
        listed.contains("ignored vouch-stage-feedfeedfeedfeedfeedfeed"),
        "{listed}"
    );
    team.bob.run(&["approve", &repo, &other]).fails(1, "not valid");
    // None of it reached verifiers.
    assert_eq!(Attacker::layout(&layout).trust_digest(), live);
    team.refuses("v2", "not signed");
    team.refuses("v3", "not signed");

    // CI publishes what is complete (v3) and leaves the rest.
    let publish = team.ci.run(&["publish", &repo]);
    publish.ok();
    assert!(publish.stderr.contains("not valid"), "{}", publish.stderr);
    team.verifies("v3", &v3);
    team.refuses("v2", "not signed");
    team.verifies("v1", &v1);
    // v2 was made against the targets/releases v3 replaced: it no longer
    // applies, and is refused at approve.
    team.bob
        .run(&["approve", &repo, &id2])
        .fails(1, "no longer applies");
    team.alice.run(&["withdraw", &repo, &id2]).ok();
    assert!(!team.staged(&team.reader).contains(&id2[..12]));
}

/// The staged tags of a layout.
fn staged_tags(layout: &Path) -> Vec<String> {
    use vouch::store::Store;
    let store = vouch::store::oci_layout::OciLayout::open(layout).expect("layout");
    store.tags_with_prefix("vouch-stage-", 1000).expect("tags")
}

/// A hex ed25519 signature by `key` over `bytes`.
fn hex_sig(key: &vouch_keys::PrivateKey, bytes: &[u8]) -> String {
    hex::encode(key.sign(bytes))
}

/// Puts `value` in `layout` as a staged piece under `tag`, as anyone who
/// can write the layout can.
fn write_staged(layout: &Path, tag: &str, value: &serde_json::Value) {
    write_staged_bytes(layout, tag, &serde_json::to_vec(value).expect("json"));
}

fn write_staged_bytes(layout: &Path, tag: &str, bytes: &[u8]) {
    use vouch::store::Store;
    let store = vouch::store::oci_layout::OciLayout::open(layout).expect("layout");
    let empty = store.put_blob(b"{}").expect("blob");
    let digest = store.put_blob(bytes).expect("blob");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.vouch.staged.v1",
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2 },
        "layers": [{ "mediaType": "application/vnd.vouch.staged.v1+json", "digest": digest, "size": bytes.len() }],
    });
    store
        .put_manifest(
            tag,
            &serde_json::to_vec(&manifest).expect("json"),
            "application/vnd.oci.image.manifest.v1+json",
            vouch::store::TagExpect::Anything,
        )
        .expect("put");
}

/// The blob of the staged piece tagged `tag` in `layout`.
fn read_staged(layout: &Path, tag: &str) -> Vec<u8> {
    use vouch::store::Store;
    let store = vouch::store::oci_layout::OciLayout::open(layout).expect("layout");
    let (manifest, _) = store
        .tagged_manifest(tag, 1 << 20)
        .expect("read")
        .expect("tagged");
    let v: serde_json::Value = serde_json::from_slice(&manifest).expect("json");
    let layer = &v["layers"][0];
    store
        .blob(
            layer["digest"].as_str().expect("digest"),
            layer["size"].as_u64().expect("size"),
        )
        .expect("blob")
}
