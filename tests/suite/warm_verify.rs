//! A warm verify: while the trust artifact is the one this machine
//! verified, `vouch verify` answers from its record of verdicts (no
//! metadata parsed), and still refuses a moved tag, an expired repository
//! and a repository whose pin changed, as the verified path does.

use crate::common::registry::{Registry, push};
use crate::common::{Env, Run, publisher};

fn warm(run: &Run) -> bool {
    run.stderr.contains("answered from the record of verdicts")
}

#[test]
fn a_warm_verify_answers_from_the_record_and_still_refuses() {
    let reg = Registry::start();
    let env = publisher();
    let repo = format!("{}/team/app", reg.addr);
    let v1 = push(&env, &reg, "team/app", "v1", "v1\n");
    let v2 = push(&env, &reg, "team/app", "v2", "v2\n");
    let root = env.run(&["init", &repo]).ok().trim().to_owned();
    env.run(&["sign", &format!("{repo}:v1"), &format!("{repo}:v2")])
        .ok();

    let node = Env::new();
    node.run(&["pin", &repo, &root]).ok();
    let first = node.run(&["verify", "-v", &format!("{repo}:v1")]);
    assert_eq!(first.ok().trim(), v1);
    assert!(!warm(&first), "{}", first.stderr);
    let second = node.run(&["verify", "-v", &format!("{repo}:v1")]);
    assert_eq!(second.ok().trim(), v1);
    assert!(warm(&second), "{}", second.stderr);
    // A tag not yet in the record takes the verified path, then is recorded.
    assert!(!warm(&node.run(&["verify", "-v", &format!("{repo}:v2")])));
    let both = node.run(&["verify", "-v", &format!("{repo}:v1"), &format!("{repo}:v2")]);
    both.ok();
    assert!(warm(&both), "{}", both.stderr);

    // The tag moves to an unsigned image: refused from the record too.
    push(&env, &reg, "team/app", "v1", "not signed\n");
    node.run(&["verify", &format!("{repo}:v1")])
        .fails(1, "digest mismatch");

    // A changed pin takes effect at once: not answered from the record.
    node.run(&["pin", &repo, &"ab".repeat(32), "--replace"]).ok();
    node.run(&["verify", &format!("{repo}:v2")]).fails(1, "pin");
    node.run(&["pin", &repo, &root, "--replace"]).ok();
    assert_eq!(node.run(&["verify", &format!("{repo}:v2")]).ok().trim(), v2);
    assert!(warm(&node.run(&["verify", "-v", &format!("{repo}:v2")])));

    // Expiry is checked on every run.
    env.run(&["refresh", &repo, "--timestamp-expiry", "2s"]).ok();
    assert_eq!(node.run(&["verify", &format!("{repo}:v2")]).ok().trim(), v2);
    assert!(warm(&node.run(&["verify", "-v", &format!("{repo}:v2")])));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    node.run(&["verify", &format!("{repo}:v2")]).fails(1, "expired");
}
