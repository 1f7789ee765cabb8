//! Publishers on different machines. Eight CI runners, each with its own
//! trust directory holding the same imported keys, sign eight different
//! tags of one repository at once, twenty rounds, against a real
//! `docker-registry` (distribution has no compare-and-swap, and each
//! machine's lock is its own). No update may be lost silently: at the end
//! every tag verifies, or the publisher that lost it exited non-zero.
//!
//! `VOUCH_RACE_BIN` runs another build of vouch (to measure the loss rate
//! of an older one); the assertion holds for this one.

use std::process::{Command, Stdio};

use crate::common::Env;
use crate::common::publisher;
use crate::common::registry::{Registry, push, retag};

const PUBLISHERS: usize = 8;
const ROUNDS: usize = 20;

fn vouch_bin() -> String {
    std::env::var("VOUCH_RACE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_vouch").to_owned())
}

#[test]
fn eight_publishers_in_separate_trust_dirs_lose_no_update_silently() {
    let reg = Registry::start();
    let owner = publisher();
    push(&owner, &reg, "team/app", "base", "one image, many tags\n");
    let repo = format!("{}/team/app", reg.addr);
    let root = owner.run(&["init", &repo]).ok().trim().to_owned();
    for i in 0..PUBLISHERS {
        for r in 0..ROUNDS {
            retag(&reg.addr, "team/app", "base", &format!("p{i}-r{r}"));
        }
    }

    // Eight machines: the owner's keys imported into each, the root pinned.
    let keys: Vec<String> = std::fs::read_dir(owner.trust().join("private"))
        .expect("keys")
        .map(|e| e.expect("entry").path().to_string_lossy().into_owned())
        .collect();
    let machines: Vec<Env> = (0..PUBLISHERS)
        .map(|_| {
            let mut env = Env::new();
            env.vars = owner.vars.clone();
            let mut args = vec!["key", "import"];
            args.extend(keys.iter().map(String::as_str));
            env.run(&args).ok();
            env.run(&["pin", &repo, &root]).ok();
            env
        })
        .collect();

    let mut outcomes = Vec::new(); // (tag, exit code, stderr)
    for r in 0..ROUNDS {
        let children: Vec<_> = machines
            .iter()
            .enumerate()
            .map(|(i, env)| {
                let tag = format!("p{i}-r{r}");
                let mut cmd = Command::new(vouch_bin());
                cmd.arg("--trust-dir")
                    .arg(env.trust())
                    .args(["--non-interactive", "sign", &format!("{repo}:{tag}")])
                    .env("HOME", env.home())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                for (k, v) in &env.vars {
                    cmd.env(k, v);
                }
                (tag, cmd.spawn().expect("spawn vouch"))
            })
            .collect();
        for (tag, child) in children {
            let out = child.wait_with_output().expect("wait");
            outcomes.push((
                tag,
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
    }

    // A reader on a ninth machine checks every tag.
    let reader = Env::new();
    reader.run(&["pin", &repo, &root]).ok();
    let (mut verified, mut reported, mut silent) = (0, 0, Vec::new());
    for (tag, code, stderr) in &outcomes {
        let ok = reader.run(&["verify", &format!("{repo}:{tag}")]).code == 0;
        match (code, ok) {
            (0, true) => verified += 1,
            (0, false) => silent.push(tag.clone()),
            (_, _) => {
                reported += 1;
                eprintln!("{tag}: exit {code}: {}", stderr.trim());
            }
        }
    }
    let total = outcomes.len();
    eprintln!(
        "{PUBLISHERS} publishers x {ROUNDS} rounds: {verified} of {total} published and verified, \
         {reported} reported failures (non-zero exit), {} silently lost ({:.1}%)",
        silent.len(),
        100.0 * silent.len() as f64 / total as f64
    );
    assert!(silent.is_empty(), "published (exit 0) but lost: {silent:?}");
    assert!(verified > 0);
}
