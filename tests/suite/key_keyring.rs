//! `vouch key unlock --remember` / `vouch key lock` with the OS keyring.

use crate::common::Env;

#[test]
fn unlock_remembers_until_lock_or_says_the_keyring_is_unavailable() {
    let mut env = Env::new();
    env.set("VOUCH_DELEGATION_PASSPHRASE", "kr-pass");
    let id = env.run(&["key", "generate", "kr"]).ok().trim().to_owned();
    let run_bare = |args: &[&str], extra: &[(&str, &str)]| env.run_bare(args, extra);

    let unlocked = env.run(&["key", "unlock", &id, "--remember", "5m"]);
    if unlocked.code != 0 {
        // Headless machine without a usable keyring: one clear error.
        unlocked.fails(2, "OS keyring unavailable");
        run_bare(&["key", "passwd", "kr"], &[("VOUCH_NEW_PASSPHRASE", "x")]).fails(2, "no passphrase");
        return;
    }
    assert!(unlocked.stderr.contains("until"), "{}", unlocked.stderr);
    // No variable, no terminal: the remembered passphrase unlocks the key.
    run_bare(&["key", "passwd", "kr"], &[("VOUCH_NEW_PASSPHRASE", "kr-new")]).ok();
    // passwd forgot the stale entry; remember the new one, then lock.
    env.run_with(
        &["key", "unlock", "kr", "--remember", "5m"],
        &[("VOUCH_DELEGATION_PASSPHRASE", "kr-new")],
        "",
    );
    let locked = env.run(&["key", "lock"]);
    assert!(locked.ok().is_empty());
    assert!(locked.stderr.contains("Forgot 1"), "{}", locked.stderr);
    run_bare(&["key", "passwd", "kr"], &[("VOUCH_NEW_PASSPHRASE", "y")]).fails(2, "no passphrase");
}
