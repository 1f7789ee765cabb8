//! A real registry (CNCF distribution, Debian's `docker-registry`) on a
//! free loopback port, and skopeo, for tests.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Env, oci_image};

/// Builds an image and pushes it with skopeo as `repo:tag` (the repository
/// path, without the registry); returns its digest.
pub fn push(env: &Env, reg: &Registry, repo: &str, tag: &str, message: &str) -> String {
    let layout = env.home().join(format!("build-{tag}"));
    let digest = oci_image(&layout, tag, message);
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &layout_ref(&layout, tag),
        &format!("docker://{}/{repo}:{tag}", reg.addr),
    ]);
    digest
}

/// A running `docker-registry serve`, stopped (by pid) on drop.
pub struct Registry {
    child: Child,
    pub addr: String,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with_auth(None)
    }

    /// With token authentication: a `Bearer` challenge naming `realm`
    /// (a token service that need not exist).
    pub fn start_with_token_realm(realm: &str) -> Registry {
        let dir = tempfile::tempdir().expect("tmp");
        let (cert, key) = (dir.path().join("token.crt"), dir.path().join("token.key"));
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
            ])
            .args(["-subj", "/CN=token", "-days", "2", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let auth = format!(
            "auth:\n  token:\n    realm: {realm}\n    service: vouch-test\n    issuer: vouch-test\n    rootcertbundle: {}\n",
            cert.display()
        );
        Registry::start_in(dir, auth)
    }

    /// With htpasswd authentication for `(user, password)`.
    pub fn start_with_auth(user: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().expect("tmp");
        let mut auth = String::new();
        if let Some((u, p)) = user {
            let out = Command::new("htpasswd")
                .args(["-Bbn", u, p])
                .output()
                .expect("htpasswd (apache2-utils)");
            assert!(out.status.success());
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, &out.stdout).expect("write htpasswd");
            auth = format!(
                "auth:\n  htpasswd:\n    realm: vouch-test\n    path: {}\n",
                file.display()
            );
        }
        Registry::start_in(dir, auth)
    }

    fn start_in(dir: tempfile::TempDir, auth: String) -> Registry {
        for _ in 0..5 {
            let addr = format!("127.0.0.1:{}", free_port());
            let config = format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{auth}",
                dir.path().join("data").display()
            );
            let cfg = dir.path().join("config.yml");
            std::fs::write(&cfg, config).expect("config");
            let child = Command::new("docker-registry")
                .arg("serve")
                .arg(&cfg)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("docker-registry (Debian package docker-registry) must be installed");
            let mut reg = Registry {
                child,
                addr,
                _dir: tempfile::tempdir().expect("tmp"),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect(&reg.addr).is_ok() {
                    reg._dir = dir;
                    return reg;
                }
                if let Ok(Some(_)) = reg.child.try_wait() {
                    break; // port taken meanwhile: try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("docker-registry did not start");
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs skopeo with TLS verification off (plain HTTP on loopback).
pub fn skopeo(args: &[&str]) {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo must be installed");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn layout_ref(dir: &Path, tag: &str) -> String {
    format!("oci:{}:{tag}", dir.display())
}

/// A fault-injecting proxy (`tests/py/fault_proxy.py`) in front of a real
/// registry: what the proxy does not break, the registry answers.
pub struct FaultProxy {
    child: Child,
    pub addr: String,
    control: tempfile::NamedTempFile,
}

impl FaultProxy {
    pub fn start(upstream: &str) -> FaultProxy {
        FaultProxy::spawn(upstream, &[])
    }

    /// An HTTPS proxy (with `cert` and `key`) in front of an HTTPS server
    /// whose certificate `ca` signed.
    pub fn start_tls(upstream: &str, cert: &Path, key: &Path, ca: &Path) -> FaultProxy {
        let arg = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
        FaultProxy::spawn(upstream, &["--tls".to_owned(), arg(cert), arg(key), arg(ca)])
    }

    fn spawn(upstream: &str, extra: &[String]) -> FaultProxy {
        use std::io::BufRead;
        let control = tempfile::NamedTempFile::new().expect("control file");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/fault_proxy.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(upstream)
            .arg(control.path())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("port");
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no port in {line:?}"));
        FaultProxy {
            child,
            addr: format!("127.0.0.1:{port}"),
            control,
        }
    }

    /// From now on, requests whose `METHOD PATH` matches `pattern` get
    /// `mode` (see the script).
    pub fn fault(&self, mode: &str, pattern: &str) {
        std::fs::write(self.control.path(), format!("{mode} {pattern}")).expect("control");
    }

    /// Pass everything through.
    pub fn clear(&self) {
        std::fs::write(self.control.path(), "").expect("control");
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP client for the harness's own registry requests (plain HTTP on
/// loopback), built once: building a client loads the platform's TLS roots,
/// which in a debug build costs more than the requests themselves.
fn plain_http() -> &'static reqwest::blocking::Client {
    static CLIENT: std::sync::OnceLock<reqwest::blocking::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::blocking::Client::builder()
            .tls_certs_only([])
            .build()
            .expect("an HTTP client")
    })
}

/// Points `tag` at the manifest `from` points at, with the registry API
/// (a GET and a PUT of the manifest, as any registry client tags).
pub fn retag(addr: &str, repo: &str, from: &str, tag: &str) {
    const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json";
    let http = plain_http();
    let got = http
        .get(format!("http://{addr}/v2/{repo}/manifests/{from}"))
        .header("Accept", ACCEPT)
        .send()
        .expect("GET manifest");
    assert!(got.status().is_success(), "{}", got.status());
    let media_type = got
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(ACCEPT)
        .to_owned();
    let body = got.bytes().expect("manifest");
    let put = http
        .put(format!("http://{addr}/v2/{repo}/manifests/{tag}"))
        .header("Content-Type", media_type)
        .body(body)
        .send()
        .expect("PUT manifest");
    assert!(put.status().is_success(), "{}", put.status());
}
