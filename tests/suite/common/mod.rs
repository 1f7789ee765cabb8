//! Helpers for running the real `vouch` binary the way a user does: a
//! fresh process, no controlling terminal (`setsid`), a clean environment.

pub mod attacker;
pub mod notary;
pub mod proxy;
pub mod py;
pub mod registry;
pub mod tuf;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts the error contract: exit `code`, an `error:` line containing
    /// `needle`, and a `hint:` line.
    pub fn fails(&self, code: i32, needle: &str) {
        assert_eq!(
            self.code, code,
            "exit code\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        let err = lines.iter().position(|l| l.starts_with("error: "));
        let err = err.unwrap_or_else(|| panic!("no `error:` line in {:?}", self.stderr));
        assert!(lines[err].contains(needle), "`{needle}` not in {:?}", lines[err]);
        assert!(
            lines
                .get(err + 1)
                .is_some_and(|l| l.starts_with("hint: ") && l.len() > 8),
            "no `hint:` line after the error in {:?}",
            self.stderr
        );
    }

    /// Everything the run printed.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A scratch home with a trust directory inside it.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub vars: Vec<(String, String)>,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            vars: Vec::new(),
        }
    }

    pub fn trust(&self) -> PathBuf {
        self.dir.path().join("trust")
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn set(&mut self, k: &str, v: &str) -> &mut Self {
        self.vars.push((k.to_owned(), v.to_owned()));
        self
    }

    /// Runs `vouch --trust-dir TRUST ARGS` with no terminal and `stdin`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[], "")
    }

    /// Like [`Env::run_with`], without the variables set with [`Env::set`].
    pub fn run_bare(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let bare = Env {
            dir: tempfile::tempdir().expect("tempdir"),
            vars: Vec::new(),
        };
        let mut cmd = self.command(args, &bare.vars);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        run_command(cmd, "")
    }

    /// Runs like [`Env::run_with`] and measures the peak resident memory
    /// of the `vouch` process (KiB, the kernel's `ru_maxrss`).
    pub fn run_measured(&self, args: &[&str], extra: &[(&str, &str)]) -> (Run, u64) {
        const MEASURE: &str = "import resource, subprocess, sys\n\
            code = subprocess.call(sys.argv[1:])\n\
            print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n\
            sys.exit(code)";
        let mut cmd = self.command(args, &self.vars);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut wrapped = Command::new("python3");
        wrapped
            .arg("-c")
            .arg(MEASURE)
            .arg(cmd.get_program())
            .args(cmd.get_args());
        wrapped.env_clear().current_dir(self.home());
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                wrapped.env(k, v);
            }
        }
        let mut run = run_command(wrapped, "");
        let last = run
            .stderr
            .trim_end()
            .rsplit('\n')
            .next()
            .unwrap_or_default()
            .to_owned();
        let kib = last
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no measurement in {:?}", run.stderr));
        run.stderr.truncate(run.stderr.trim_end().len() - last.len());
        (run, kib)
    }

    fn command(&self, args: &[&str], vars: &[(String, String)]) -> Command {
        let mut cmd = Command::new("setsid");
        cmd.arg("-w")
            .arg(env!("CARGO_BIN_EXE_vouch"))
            .arg("--trust-dir")
            .arg(self.trust())
            .args(args);
        cmd.current_dir(self.home()).env_clear();
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts `vouch --trust-dir TRUST ARGS` in the background, without a
    /// terminal prompt, with this environment's variables; stderr piped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
        cmd.arg("--trust-dir").arg(self.trust()).args(args);
        cmd.env("VOUCH_NON_INTERACTIVE", "1").env("HOME", self.home());
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd.spawn().expect("spawn vouch")
    }

    pub fn run_with(&self, args: &[&str], extra: &[(&str, &str)], stdin: &str) -> Run {
        let mut cmd = self.command(args, &self.vars);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        run_command(cmd, stdin)
    }
}

pub fn run_command(mut cmd: Command, stdin: &str) -> Run {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    // A child may exit before reading all of its input (a refusal before
    // any prompt): the pipe then breaks, which is the child's business.
    match input.write_all(stdin.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.expect("write stdin"),
    }
    drop(input);
    let out = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file and directory below `dir` with its mode and content.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let Ok(meta) = std::fs::metadata(dir) else {
        return out;
    };
    out.insert(dir.to_owned(), (meta.permissions().mode(), Vec::new()));
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                out.extend(snapshot(&path));
            } else {
                let meta = std::fs::metadata(&path).expect("meta");
                out.insert(
                    path.clone(),
                    (meta.permissions().mode(), std::fs::read(&path).expect("read")),
                );
            }
        }
    }
    out
}

/// A user holding the passphrases of a repository's four role keys and of
/// a signer's delegation key: `VOUCH_{ROLE}_PASSPHRASE` is
/// `passphrase(ROLE)`.
pub fn publisher_with(passphrase: impl Fn(&str) -> String) -> Env {
    let mut env = Env::new();
    for role in ["ROOT", "TARGETS", "SNAPSHOT", "TIMESTAMP", "DELEGATION"] {
        env.set(&format!("VOUCH_{role}_PASSPHRASE"), &passphrase(role));
    }
    env
}

/// A publisher whose passphrases are `ROLE-p`.
pub fn publisher() -> Env {
    publisher_with(|role| format!("{role}-p"))
}

pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(rel)
}

/// The single key file in the trust directory of `env`.
pub fn only_key_file(env: &Env) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(env.trust().join("private"))
        .expect("private dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.pop().expect("one file")
}

pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o7777
}

/// Writes (or re-tags) an image in an OCI layout with
/// `scripts/make-oci-image`, as skopeo would; returns its manifest digest.
pub fn oci_image(layout: &Path, tag: &str, message: &str) -> String {
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-oci-image"))
        .arg(layout)
        .arg(tag)
        .arg(message)
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Writes an image index (linux/amd64 + linux/arm64) tagged `tag`;
/// returns the index digest.
pub fn oci_image_index(layout: &Path, tag: &str) -> String {
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-oci-image"))
        .arg(layout)
        .arg(tag)
        .arg("multi-arch")
        .arg("--index")
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The child manifest digests of an index in a layout.
pub fn index_children(layout: &Path, digest: &str) -> Vec<String> {
    let hex = digest.trim_start_matches("sha256:");
    let bytes = std::fs::read(layout.join("blobs/sha256").join(hex)).expect("index blob");
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    v["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| m["digest"].as_str().expect("d").to_owned())
        .collect()
}

/// The gate (`vouch pull`, enforcing) on `reference` in `env`, into
/// `HOME/pulled` (tag `pulled`).
pub fn gate_pull(env: &Env, reference: &str) -> Run {
    let dest = env.home().join("pulled");
    env.run_with(
        &[
            "pull",
            reference,
            "--to",
            &format!("oci:{}:pulled", dest.display()),
        ],
        &[("VOUCH_CONTENT_TRUST", "1")],
        "",
    )
}

/// The gate (`vouch pull`, enforcing) refuses `reference` in `env` with
/// `needle`, and writes nothing.
pub fn gate_refuses(env: &Env, reference: &str, needle: &str) {
    gate_pull(env, reference).fails(1, needle);
    let dest = env.home().join("pulled");
    assert!(!dest.exists(), "the gate wrote {}", dest.display());
}

/// The gate (`vouch pull`, enforcing) on a tag moved to `moved` after it
/// was signed as `signed`: it copies the signed image, never the moved
/// one, and says so; the copy is removed again.
pub fn gate_pulls_signed(env: &Env, reference: &str, signed: &str, moved: &str) {
    let dest = env.home().join("pulled");
    let out = gate_pull(env, reference);
    assert_eq!(out.ok().trim(), signed, "{reference}");
    assert!(
        out.stderr.contains("warning:") && out.stderr.contains(moved),
        "{}",
        out.stderr
    );
    let inspected = Command::new("skopeo")
        .args(["inspect", "--format", "{{.Digest}}"])
        .arg(format!("oci:{}:pulled", dest.display()))
        .output()
        .expect("skopeo");
    assert_eq!(String::from_utf8_lossy(&inspected.stdout).trim(), signed);
    std::fs::remove_dir_all(&dest).expect("rm");
}

/// Copies the key of `role` from one trust directory to another (a second
/// publisher of the same repository); with `remove`, moves it (a team
/// handing its online keys to CI).
pub fn copy_key(from: &Env, to: &Env, role: &str, remove: bool) {
    let name = from
        .run(&["key", "list"])
        .ok()
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|cols| cols.get(2).map(String::as_str) == Some(role))
        .map(|cols| cols[1].clone())
        .unwrap_or_else(|| panic!("no {role} key"));
    let file = from.home().join(format!("{name}.key"));
    from.run(&[
        "key",
        "export",
        "--private",
        &name,
        "-o",
        file.to_str().expect("utf8"),
    ])
    .ok();
    to.run(&["key", "import", file.to_str().expect("utf8"), "--name", &name])
        .ok();
    if remove {
        from.run(&["key", "remove", "-y", &name]).ok();
    }
    std::fs::remove_file(&file).expect("rm");
}

/// The id a command that staged a change printed (`staged ID` on stdout).
pub fn staged_id(run: &Run) -> String {
    run.ok()
        .lines()
        .find_map(|l| l.strip_prefix("staged "))
        .unwrap_or_else(|| panic!("not staged: {}{}", run.stdout, run.stderr))
        .to_owned()
}

/// libfaketime, to run a command at another time (`LD_PRELOAD` it with
/// `FAKETIME=+400d`).
pub fn faketime_lib() -> String {
    for dir in [
        "/usr/lib/x86_64-linux-gnu/faketime",
        "/usr/lib/aarch64-linux-gnu/faketime",
        "/usr/lib/faketime",
    ] {
        let lib = format!("{dir}/libfaketime.so.1");
        if Path::new(&lib).is_file() {
            return lib;
        }
    }
    panic!("libfaketime is needed (Debian package faketime)");
}

/// The private key of `role` (a key's role label: root, targets, …) in
/// `env`'s trust directory, unsealed with `passphrase`: a key holder's
/// own key, or one a thief copied.
pub fn private_key(env: &Env, role: &str, passphrase: &str) -> vouch_keys::PrivateKey {
    let dir = vouch_keys::TrustDir::at(env.trust());
    let mut keys: Vec<vouch_keys::StoredKey> = dir
        .list()
        .expect("list")
        .keys
        .into_iter()
        .filter(|k| k.file.info.role.to_string() == role)
        .collect();
    keys.sort_by_key(|k| k.file.info.created);
    let stored = keys
        .pop()
        .unwrap_or_else(|| panic!("no {role} key in {}", env.trust().display()));
    vouch_keys::sealed::open(
        &stored.file.sealed,
        &vouch_keys::Passphrase::new(passphrase.to_owned()),
        &vouch_keys::sealed::KdfCap::DEFAULT,
        &stored.path.display().to_string(),
    )
    .expect("unseal")
}

/// A number no other call in this process returns: names for files that
/// concurrent tests write (a free port number can come back).
pub fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
