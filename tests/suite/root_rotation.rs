//! The root-rotation cases TUF clients get wrong, each played against
//! vouch's TUF client (`vouch tuf`, the real binary) and python-tuf's
//! ngclient on the same repository, served over HTTP: a 3-of-5 root with
//! one key rotated, a new root not signed by a threshold of the old root's
//! keys, the threshold raised and lowered, and one key listed under two
//! ids. A new root counts only when a threshold of the old root's keys and
//! a threshold of its own signed it, each key once (TUF 5.3.4).

use time::OffsetDateTime;
use vouch::store::tuf_repo_dir::write_metadata;
use vouch::tuf::editor::{Expiries, MetadataEditor, RoleSetup};
use vouch_keys::PrivateKey;

use crate::common::Env;
use crate::common::py::{HttpServer, run_script};
use crate::common::tuf::{APP, key, target};

/// The repository's other keys: targets, snapshot, timestamp.
fn others() -> [PrivateKey; 3] {
    [key(90), key(91), key(92)]
}

/// A repository whose root is `root_keys` with `threshold`, v1 signed by
/// `signers`; target `app` signed.
fn repository(root_keys: &[&PrivateKey], threshold: u64, signers: &[&PrivateKey]) -> MetadataEditor {
    let now = OffsetDateTime::now_utc();
    let [t, s, ts] = others();
    let mut repo = MetadataEditor::create(
        &RoleSetup {
            keys: root_keys.iter().map(|k| k.public()).collect(),
            threshold,
        },
        &RoleSetup::single(t.public()),
        &RoleSetup::single(s.public()),
        &RoleSetup::single(ts.public()),
        true,
        now,
        Expiries::default(),
    );
    for k in signers {
        repo.root.sign(k).expect("sign root");
    }
    repo.publish_root().expect("publish root");
    repo.add_target("targets", "app", target(APP), now).expect("app");
    commit(&mut repo);
    repo
}

/// A new snapshot and timestamp over the repository as it stands.
fn commit(repo: &mut MetadataEditor) {
    let now = OffsetDateTime::now_utc();
    let [t, s, ts] = others();
    repo.sign_targets_roles(&t).expect("targets");
    repo.bump_snapshot(now);
    repo.snapshot.sign(&s).expect("snapshot");
    repo.bump_timestamp(now).expect("timestamp");
    repo.timestamp.sign(&ts).expect("timestamp");
}

/// Root version N+1: `edit`, then signed by `signers`.
fn rotate(repo: &mut MetadataEditor, edit: impl FnOnce(&mut MetadataEditor), signers: &[&PrivateKey]) {
    let now = OffsetDateTime::now_utc();
    repo.bump_root(now);
    edit(repo);
    for k in signers {
        repo.root.sign(k).expect("sign root");
    }
    repo.publish_root().expect("publish root");
    commit(repo);
}

fn id(k: &PrivateKey) -> vouch::tuf::KeyId {
    k.public().key_id().into()
}

/// Whether vouch's client and python-tuf's accept the repository (a
/// client trusting its first root, updating to the newest).
fn clients_accept(repo: &MetadataEditor) -> (bool, bool, String) {
    let dir = tempfile::tempdir().expect("tmp");
    write_metadata(repo, dir.path()).expect("write");
    let server = HttpServer::serve(dir.path());
    let root = dir.path().join("metadata/1.root.json");
    let env = Env::new();
    let meta = env.home().join("client");
    let m = meta.to_str().expect("utf8");
    env.run(&["tuf", "init", "--metadata-dir", m, root.to_str().expect("utf8")])
        .ok();
    let url = server.url("metadata");
    let vouch = env.run(&["tuf", "refresh", "--metadata-dir", m, "--metadata-url", &url]);
    assert!(
        vouch.code == 0 || vouch.code == 1,
        "vouch neither accepted nor refused: {}",
        vouch.stderr
    );
    let work = tempfile::tempdir().expect("tmp");
    let (code, out, err) = run_script(
        "ngclient_lookup.py",
        &[
            root.to_str().expect("utf8"),
            &server.url("metadata/"),
            work.path().to_str().expect("utf8"),
            "app",
        ],
    );
    (
        vouch.code == 0,
        code == 0,
        format!("vouch: {}\npython-tuf: {out}{err}", vouch.stderr),
    )
}

/// Both clients accept (`true`) or both refuse.
fn both(repo: &MetadataEditor, accept: bool) {
    let (vouch, python, why) = clients_accept(repo);
    assert_eq!((vouch, python), (accept, accept), "{why}");
}

#[test]
fn three_of_five_with_one_key_rotated() {
    let k: Vec<PrivateKey> = (60..66).map(key).collect();
    let five: Vec<&PrivateKey> = k[..5].iter().collect();
    let base = repository(&five, 3, &five[..3]);
    // k4 is replaced by k5; three old keys that stay sign: met twice.
    let replace = |r: &mut MetadataEditor| {
        let root = &mut r.root.signed;
        let role = root.roles.get_mut("root").expect("root");
        role.keyids.retain(|i| *i != id(&k[4]));
        role.keyids.push(id(&k[5]));
        root.keys.remove(&id(&k[4]));
        root.keys
            .insert(id(&k[5]), vouch::tuf::editor::tuf_key(&k[5].public()));
    };
    let mut good = base.clone();
    rotate(&mut good, replace, &[&k[0], &k[1], &k[2]]);
    both(&good, true);
    // The rotated-out key counts toward the old threshold only, the new
    // key toward the new one only: k0, k1, k4, k5 meet both.
    let mut crossed = base.clone();
    rotate(&mut crossed, replace, &[&k[0], &k[1], &k[4], &k[5]]);
    both(&crossed, true);
    // k0, k1 and the new k5: two of the old keys, refused.
    let mut short = base.clone();
    rotate(&mut short, replace, &[&k[0], &k[1], &k[5]]);
    both(&short, false);
}

#[test]
fn a_new_root_not_signed_by_a_threshold_of_old_keys_is_refused() {
    let old = key(70);
    let new = key(71);
    let base = repository(&[&old], 1, &[&old]);
    let to_new = |r: &mut MetadataEditor| {
        r.edit_top_level(
            "root",
            &[new.public()],
            &[id(&old)],
            None,
            OffsetDateTime::now_utc(),
        )
        .expect("edit");
    };
    let mut only_new = base.clone();
    rotate(&mut only_new, to_new, &[&new]);
    both(&only_new, false);
    let mut cross = base.clone();
    rotate(&mut cross, to_new, &[&old, &new]);
    both(&cross, true);
    // Only the old key: the new root's own threshold is not met.
    let mut only_old = base;
    rotate(&mut only_old, to_new, &[&old]);
    both(&only_old, false);
}

#[test]
fn threshold_raised_then_lowered() {
    let k: Vec<PrivateKey> = (75..78).map(key).collect();
    let three: Vec<&PrivateKey> = k.iter().collect();
    let base = repository(&three, 1, &[&k[0]]);
    let raise = |r: &mut MetadataEditor| r.root.signed.roles.get_mut("root").expect("root").threshold = 3;
    // Raised to 3: the new root needs 3 of its own keys.
    let mut raised_short = base.clone();
    rotate(&mut raised_short, raise, &[&k[0], &k[1]]);
    both(&raised_short, false);
    let mut raised = base.clone();
    rotate(&mut raised, raise, &three);
    both(&raised, true);
    // Under 3, a v3 signed by two is refused, by three accepted.
    let lower = |r: &mut MetadataEditor| r.root.signed.roles.get_mut("root").expect("root").threshold = 1;
    let mut lowered_short = raised.clone();
    rotate(&mut lowered_short, lower, &[&k[0], &k[1]]);
    both(&lowered_short, false);
    let mut lowered = raised.clone();
    rotate(&mut lowered, lower, &three);
    both(&lowered, true);
    // Lowered to 1: one key signs v4.
    let mut after = lowered.clone();
    rotate(&mut after, |_| {}, &[&k[2]]);
    both(&after, true);
}

#[test]
fn one_key_listed_under_two_ids_counts_once_in_a_rotation() {
    let k1 = key(80);
    let k2 = key(81);
    let base = repository(&[&k1, &k2], 2, &[&k1, &k2]);
    both(&base, true);
    // Root v2 lists k1 a second time, under another id (its key object
    // with one more field hashes to another id), and only k1 signs v3,
    // under both ids.
    let mut alias = vouch::tuf::editor::tuf_key(&k1.public());
    alias
        .extra
        .insert("x-alias".to_owned(), serde_json::json!("again"));
    let alias_id = vouch::tuf::crypto::key_id(&alias).expect("id");
    let mut repo = base.clone();
    rotate(
        &mut repo,
        |r| {
            r.root.signed.keys.insert(alias_id.clone(), alias.clone());
            let role = r.root.signed.roles.get_mut("root").expect("root");
            role.keyids.push(alias_id.clone());
            role.keyids.sort();
        },
        &[&k1, &k2],
    );
    both(&repo, true);
    let now = OffsetDateTime::now_utc();
    repo.bump_root(now);
    repo.root.sign(&k1).expect("k1");
    repo.root.sign_as(&k1, &alias_id).expect("k1 again");
    repo.publish_root().expect("publish");
    commit(&mut repo);
    let (vouch, python, why) = clients_accept(&repo);
    // vouch counts keys by their material: one key, threshold 2, refused.
    assert!(!vouch, "one key counted twice: {why}");
    // python-tuf counts key ids; it takes v3 (what this test shows vouch
    // does not do).
    assert!(python, "python-tuf's behaviour changed: {why}");
}
