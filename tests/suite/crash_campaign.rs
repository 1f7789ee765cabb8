//! The crash campaign: `vouch sign`, `revoke`, `signer add` and `refresh`
//! killed with SIGKILL at random moments, 200 kills in all, half against a
//! real `docker-registry` and half against an OCI layout. After every kill:
//! the repository verifies (the old state or the new one) for a reader on
//! another machine and for the publisher, the trust directory's keys all
//! open, and re-running the command completes with the change in place.
//!
//! The seed is printed; `VOUCH_CRASH_SEED=N` replays a campaign.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::registry::{Registry, push, retag};
use crate::common::{Env, oci_image};

const KILLS: usize = 200;
const PASSPHRASE: &str = "crash-campaign-pass";

/// A small deterministic generator (xorshift), seeded per campaign.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// One repository under attack: where it is and how to make a tag there.
struct Target {
    /// `oci:DIR` or `REGISTRY/REPO`.
    repo: String,
    layout: Option<PathBuf>,
    registry: Option<String>,
}

impl Target {
    fn r(&self, tag: &str) -> String {
        format!("{}:{tag}", self.repo)
    }

    /// Makes `tag` exist in the store (an image to sign).
    fn make_tag(&self, tag: &str) {
        if let Some(layout) = &self.layout {
            oci_image(layout, tag, &format!("{tag}\n"));
        }
        if let Some(addr) = &self.registry {
            retag(addr, "team/crash", "base", tag);
        }
    }
}

/// A signer key, generated into the publisher's trust directory (so the
/// publisher can sign the signer's role); returns the public key file.
fn signer_key(env: &Env, name: &str) -> PathBuf {
    env.run(&["key", "generate", name, "--role", name]).ok();
    env.home().join(format!("{name}.pub"))
}

/// A public key of someone else's (made with openssl; its private half is
/// not in the trust directory, so signing does not unlock it).
fn others_key(dir: &Path, name: &str) -> PathBuf {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub"));
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "ed25519",
            "-out",
            private.to_str().expect("utf-8"),
        ],
        vec![
            "pkey",
            "-pubout",
            "-in",
            private.to_str().expect("utf-8"),
            "-out",
            public.to_str().expect("utf-8"),
        ],
    ] {
        assert!(
            Command::new("openssl")
                .args(&args)
                .status()
                .expect("openssl")
                .success()
        );
    }
    public
}

/// Every key file with its bytes; each new or changed one must open.
fn check_keys(env: &Env, known: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(env.trust().join("private")).expect("private") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("key file");
        if known.get(&path) == Some(&bytes) {
            continue;
        }
        let opened = Command::new("openssl")
            .args(["pkey", "-noout", "-passin", &format!("pass:{PASSPHRASE}"), "-in"])
            .arg(&path)
            .status()
            .expect("openssl");
        assert!(opened.success(), "{} does not open", path.display());
        known.insert(path, bytes);
    }
}

/// The commands of the campaign.
#[derive(Clone, Copy, Debug)]
enum Op {
    Sign,
    Revoke,
    SignerAdd,
    Refresh,
}

struct Campaign<'a> {
    env: &'a Env,
    reader: Env,
    target: Target,
    keys: BTreeMap<PathBuf, Vec<u8>>,
    /// Signed tags that may be revoked.
    signed: Vec<String>,
    next: usize,
    /// Typical duration of each command (ms), learnt from complete runs.
    took: BTreeMap<&'static str, u64>,
    kills: usize,
    finished_first: usize,
}

impl Campaign<'_> {
    fn args(&mut self, op: Op) -> (Vec<String>, &'static str) {
        self.next += 1;
        let n = self.next;
        match op {
            Op::Sign => {
                let tag = format!("t{n}");
                self.target.make_tag(&tag);
                (vec!["sign".into(), self.target.r(&tag)], "sign")
            }
            Op::Revoke => {
                let tag = self.signed.pop().expect("a signed tag");
                (vec!["revoke".into(), self.target.r(&tag)], "revoke")
            }
            Op::SignerAdd => {
                let name = format!("{}{n}", if self.target.layout.is_some() { "l" } else { "r" });
                let key = others_key(self.env.home(), &name);
                (
                    vec![
                        "signer".into(),
                        "add".into(),
                        name,
                        self.target.repo.clone(),
                        "--key".into(),
                        key.to_string_lossy().into_owned(),
                    ],
                    "signer add",
                )
            }
            Op::Refresh => (vec!["refresh".into(), self.target.repo.clone()], "refresh"),
        }
    }

    /// Runs one command, killed after a random delay; checks the state
    /// after the kill; re-runs it to completion.
    fn round(&mut self, op: Op, rng: &mut Rng) {
        let (args, name) = self.args(op);
        let typical = *self.took.get(name).unwrap_or(&600);
        let delay = Duration::from_millis(rng.below(typical + 1));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
        cmd.arg("--trust-dir")
            .arg(self.env.trust())
            .arg("--non-interactive")
            .args(&args)
            .env("HOME", self.env.home())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in &self.env.vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn vouch");
        std::thread::sleep(delay);
        if child.try_wait().expect("wait").is_none() {
            child.kill().expect("SIGKILL");
            self.kills += 1;
        } else {
            self.finished_first += 1;
        }
        let _ = child.wait();

        // The repository verifies, old state or new: for a reader on
        // another machine (cold for what changed) and for the publisher.
        let base = self.target.r("base");
        let by_reader = self.reader.run(&["verify", &base]);
        assert_eq!(
            by_reader.code, 0,
            "after killing `{args:?}`: {}",
            by_reader.stderr
        );
        let by_publisher = self.env.run(&["verify", &base]);
        assert_eq!(
            by_publisher.code, 0,
            "after killing `{args:?}`: {}",
            by_publisher.stderr
        );
        check_keys(self.env, &mut self.keys);

        // Re-running completes, with the change in place.
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let rerun = self.env.run(&argv);
        let ms = started.elapsed().as_millis() as u64;
        match op {
            Op::Sign => {
                rerun.ok();
                self.env.run(&["verify", &args[1]]).ok();
                let tag = args[1].rsplit(':').next().expect("tag").to_owned();
                self.signed.push(tag);
            }
            Op::Revoke => {
                // The killed run may have finished the job already.
                if rerun.code != 0 {
                    rerun.fails(2, "no signed tag to revoke");
                }
                assert_eq!(
                    self.reader.run(&["verify", &args[1]]).code,
                    1,
                    "{args:?} still verifies"
                );
            }
            Op::SignerAdd => {
                if rerun.code != 0 {
                    rerun.fails(2, &format!("already has a signer {}", args[2]));
                }
                let listed = self.env.run(&["inspect", &self.target.repo]);
                assert!(listed.ok().contains(&args[2]), "{}", listed.stdout);
            }
            Op::Refresh => {
                rerun.ok();
            }
        }
        if rerun.code == 0 {
            self.took.insert(name, ms);
        }
    }
}

fn campaign(env: &Env, target: Target, root: &str, kills: usize, rng: &mut Rng) -> (usize, usize) {
    let reader = Env::new();
    reader.run(&["pin", &target.repo, root]).ok();
    let mut c = Campaign {
        env,
        reader,
        target,
        keys: BTreeMap::new(),
        signed: Vec::new(),
        next: 0,
        took: BTreeMap::new(),
        kills: 0,
        finished_first: 0,
    };
    check_keys(env, &mut c.keys);
    let ops = [Op::Sign, Op::Sign, Op::Revoke, Op::SignerAdd, Op::Refresh];
    let mut i = 0;
    while c.kills < kills {
        assert!(i < kills * 4, "too few kills landed: {} of {i} runs", c.kills);
        let mut op = ops[i % ops.len()];
        if matches!(op, Op::Revoke) && c.signed.is_empty() {
            op = Op::Sign;
        }
        c.round(op, rng);
        i += 1;
    }
    (c.kills, c.finished_first)
}

#[test]
fn two_hundred_kills_corrupt_nothing() {
    let seed = std::env::var("VOUCH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 | 1)
                .unwrap_or(0x9e37_79b9_7f4a_7c15)
        });
    eprintln!("crash campaign seed: {seed} (VOUCH_CRASH_SEED={seed} replays it)");

    let reg = Registry::start();
    let env = crate::common::publisher_with(|_| PASSPHRASE.to_owned());
    push(&env, &reg, "team/crash", "base", "base\n");
    let registry_repo = format!("{}/team/crash", reg.addr);
    let layout = env.home().join("layout");
    oci_image(&layout, "base", "base\n");
    let layout_repo = format!("oci:{}", layout.display());

    // The two campaigns run side by side (one publisher, two repositories).
    let mut starts = Vec::new();
    for (repo, is_layout) in [(registry_repo, false), (layout_repo, true)] {
        let root = env.run(&["init", &repo]).ok().trim().to_owned();
        // A first signer whose key is here, so tags resolve through
        // targets/releases from the start (Docker Content Trust's rule once
        // signers exist) and that role stays signed as others join it.
        let keeper = if is_layout { "keeper-l" } else { "keeper-r" };
        let key = signer_key(&env, keeper);
        env.run(&[
            "signer",
            "add",
            keeper,
            &repo,
            "--key",
            key.to_str().expect("utf-8"),
        ])
        .ok();
        env.run(&["sign", &format!("{repo}:base")]).ok();
        let target = Target {
            repo: repo.clone(),
            layout: is_layout.then(|| layout.clone()),
            registry: (!is_layout).then(|| reg.addr.clone()),
        };
        starts.push((repo, root, target, Rng(seed ^ u64::from(is_layout) << 32 | 1)));
    }
    let env = &env;
    let report: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = starts
            .into_iter()
            .map(|(repo, root, target, mut rng)| {
                scope.spawn(move || {
                    let (kills, finished) = campaign(env, target, &root, KILLS / 2, &mut rng);
                    format!("{repo}: {kills} kills ({finished} runs finished before their kill)")
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("a campaign failed"))
            .collect()
    });
    eprintln!(
        "crash campaign: {KILLS} kills, 0 corrupt\n  {}",
        report.join("\n  ")
    );
}
