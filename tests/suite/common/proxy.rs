//! A running `vouch proxy` for tests: in front of one upstream registry,
//! with a trust directory's pins; its log (stderr) goes to a file.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Env;
use super::notary::free_port;

/// Starts a long-running `vouch` command (`proxy`, `admission`) with
/// `env`'s trust directory and only the given variables, its log (stderr)
/// in a file; returns once it accepts connections on `addr`.
pub fn spawn_server(
    env: &Env,
    what: &str,
    addr: &str,
    args: &[std::ffi::OsString],
    vars: &[(&str, &str)],
) -> (Child, PathBuf) {
    let log = env.home().join(format!("{what}-{}.log", addr.replace(':', "-")));
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .arg("--trust-dir")
        .arg(env.trust())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .unwrap_or_else(|e| panic!("vouch {what}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "vouch {what} exited ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "vouch {what} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, log)
}

/// A running `vouch proxy`, killed on drop.
pub struct RunningProxy {
    child: Child,
    /// Where it listens (host:port).
    pub addr: String,
    log: PathBuf,
}

impl RunningProxy {
    /// `vouch proxy` with `env`'s trust directory, serving `upstream`
    /// (host:port) as `/v2/NAME/…`.
    pub fn start(
        env: &Env,
        name: &str,
        upstream: &str,
        vars: &[(&str, &str)],
        extra: &[&str],
    ) -> RunningProxy {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut args: Vec<std::ffi::OsString> = ["proxy", "--listen", &addr, "--upstream"]
            .iter()
            .map(Into::into)
            .collect();
        args.push(format!("{name}={upstream}").into());
        args.extend(extra.iter().map(Into::into));
        let (child, log) = spawn_server(env, "proxy", &addr, &args, vars);
        RunningProxy { child, addr, log }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A line of its `/proc/PID/status` (`Threads`, `VmRSS`): the number.
    pub fn status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in {status}"))
    }

    /// File descriptors it has open.
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("fd")
            .count()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).expect("proxy log")
    }

    /// A manifest request through the proxy, as curl makes it: "STATUS
    /// DIGEST" (the digest header, empty when refused).
    pub fn manifest(&self, name: &str, repository: &str, reference: &str) -> String {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %header{docker-content-digest}",
            ])
            .args([
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
            ])
            .arg(format!(
                "http://{}/v2/{name}/{repository}/manifests/{reference}",
                self.addr
            ))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
