//! A real Docker Content Trust stack for tests: notary-signer (gRPC over
//! mutual TLS, ECDSA timestamp keys, as Docker Hub ran it) and
//! notary-server (HTTPS) from Debian's `notary` package, on free loopback
//! ports, with a CA made by openssl; the real `notary` client and the real
//! docker CLI write the trust data (`docker trust sign` against podman's
//! Docker API, see [`DockerApi`]).
//! Processes are stopped by pid when the stack is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Passphrases the notary client and the docker CLI read.
pub const ROOT_PASS: &str = "dct-root-test";
pub const REPO_PASS: &str = "dct-repo-test";

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Runs openssl; asserts success.
pub fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn wait_for_port(addr: &str, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not start on {addr}");
}

/// notary-signer + notary-server.
pub struct NotaryStack {
    server: Option<Child>,
    signer: Child,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The CA of the server's certificate.
    pub ca: PathBuf,
    /// The server's certificate and key (for a TLS proxy in front of it).
    pub cert: PathBuf,
    pub key: PathBuf,
    dir: tempfile::TempDir,
}

impl NotaryStack {
    pub fn start() -> NotaryStack {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        let ca = d.join("ca.crt");
        let ca_key = d.join("ca.key");
        openssl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            s(&ca_key),
        ]);
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            s(&ca_key),
            "-sha256",
            "-days",
            "30",
            "-subj",
            "/CN=vouch test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            s(&ca),
        ]);
        for (name, eku) in [("server", "serverAuth,clientAuth"), ("signer", "serverAuth")] {
            let key = d.join(format!("{name}.key"));
            let csr = d.join(format!("{name}.csr"));
            let ext = d.join(format!("{name}.ext"));
            openssl(&[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                s(&key),
            ]);
            openssl(&[
                "req",
                "-new",
                "-key",
                s(&key),
                "-subj",
                &format!("/CN=notary-{name}"),
                "-out",
                s(&csr),
            ]);
            std::fs::write(
                &ext,
                format!(
                    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
                     extendedKeyUsage={eku}\nsubjectAltName=DNS:localhost,DNS:notary-{name},IP:127.0.0.1\n"
                ),
            )
            .expect("ext");
            openssl(&[
                "x509",
                "-req",
                "-in",
                s(&csr),
                "-CA",
                s(&ca),
                "-CAkey",
                s(&ca_key),
                "-CAcreateserial",
                "-days",
                "30",
                "-sha256",
                "-extfile",
                s(&ext),
                "-out",
                s(&d.join(format!("{name}.crt"))),
            ]);
        }
        let signer_addr = format!("127.0.0.1:{}", free_port());
        let signer_cfg = d.join("signer.json");
        std::fs::write(
            &signer_cfg,
            serde_json::json!({
                "server": {"grpc_addr": signer_addr, "tls_cert_file": d.join("signer.crt"),
                           "tls_key_file": d.join("signer.key"), "client_ca_file": ca},
                "logging": {"level": "error"},
                "storage": {"backend": "memory"},
            })
            .to_string(),
        )
        .expect("signer config");
        let mut signer = Command::new("notary-signer")
            .args(["-config", s(&signer_cfg)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("notary-signer (Debian package notary) must be installed");
        wait_for_port(&signer_addr, &mut signer, "notary-signer");
        let (host, port) = signer_addr.split_once(':').expect("addr");
        let addr = format!("127.0.0.1:{}", free_port());
        let server_cfg = d.join("server.json");
        std::fs::write(
            &server_cfg,
            serde_json::json!({
                "server": {"http_addr": addr, "tls_cert_file": d.join("server.crt"),
                           "tls_key_file": d.join("server.key")},
                "trust_service": {"type": "remote", "hostname": host, "port": port, "key_algorithm": "ecdsa",
                                  "tls_ca_file": ca, "tls_client_cert": d.join("server.crt"),
                                  "tls_client_key": d.join("server.key")},
                "logging": {"level": "error"},
                "storage": {"backend": "memory"},
            })
            .to_string(),
        )
        .expect("server config");
        let mut server = Command::new("notary-server")
            .args(["-config", s(&server_cfg)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("notary-server");
        wait_for_port(&addr, &mut server, "notary-server");
        NotaryStack {
            server: Some(server),
            signer,
            url: format!("https://{addr}"),
            addr,
            cert: d.join("server.crt"),
            key: d.join("server.key"),
            ca,
            dir,
        }
    }

    /// Runs the real notary client against the server, with trust
    /// directory `trust_dir`.
    pub fn notary(&self, trust_dir: &Path, args: &[&str]) -> Output {
        let out = Command::new("notary")
            .args(["-s", &self.url, "--tlscacert", s(&self.ca), "-d", s(trust_dir)])
            .args(args)
            .env("NOTARY_ROOT_PASSPHRASE", ROOT_PASS)
            .env("NOTARY_TARGETS_PASSPHRASE", REPO_PASS)
            .env("NOTARY_SNAPSHOT_PASSPHRASE", REPO_PASS)
            .env("NOTARY_DELEGATION_PASSPHRASE", REPO_PASS)
            .stdin(Stdio::null())
            .output()
            .expect("notary client");
        assert!(
            out.status.success(),
            "notary {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Stops notary-server (the signer keeps running).
    pub fn stop_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
    }

    /// Scratch space beside the stack.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for NotaryStack {
    fn drop(&mut self) {
        self.stop_server();
        let _ = self.signer.kill();
        let _ = self.signer.wait();
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Runs the real docker CLI with Docker Content Trust pointed at the stack,
/// in `cwd`, against `api` (`docker trust key generate`, `signer add` and
/// `inspect` need none). Asserts success.
pub fn docker(
    stack: &NotaryStack,
    api: Option<&DockerApi>,
    config: &Path,
    cwd: &Path,
    args: &[&str],
) -> Output {
    let out = docker_run(stack, api, config, cwd, args, &[]);
    assert!(
        out.status.success(),
        "docker {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// [`docker`], with extra environment, whatever the outcome.
pub fn docker_run(
    stack: &NotaryStack,
    api: Option<&DockerApi>,
    config: &Path,
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let host = api.map_or_else(
        || format!("unix://{}", stack.dir().join("no-engine.sock").display()),
        |a| a.host.clone(),
    );
    Command::new("docker")
        .args(args)
        .current_dir(cwd)
        .env("DOCKER_CONFIG", config)
        .env("DOCKER_CONTENT_TRUST_SERVER", &stack.url)
        .env("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", ROOT_PASS)
        .env("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", REPO_PASS)
        .env("DOCKER_HOST", host)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("docker CLI")
}

/// A Docker API for the docker CLI without a Docker engine: `podman system
/// service` (root, vfs storage, the test registry marked insecure) behind
/// `tests/py/docker_api_shim.py`, which adds the push record the docker CLI
/// signs from. With it `docker pull`, `docker trust sign` and
/// `DOCKER_CONTENT_TRUST=1 docker pull` run for real.
pub struct DockerApi {
    podman: Child,
    shim: Child,
    /// `unix://…` for DOCKER_HOST.
    pub host: String,
    _dir: tempfile::TempDir,
}

impl DockerApi {
    /// With `registries` (host:port) marked insecure (plain HTTP).
    pub fn start(registries: &[&str]) -> DockerApi {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        std::fs::write(
            d.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                d.join("root").display(),
                d.join("run").display()
            ),
        )
        .expect("storage.conf");
        std::fs::write(
            d.join("registries.conf"),
            registries
                .iter()
                .fold("unqualified-search-registries = []\n".to_owned(), |conf, r| {
                    conf + &format!("[[registry]]\nlocation = \"{r}\"\ninsecure = true\n")
                }),
        )
        .expect("registries.conf");
        let podman_sock = d.join("podman.sock");
        let mut podman = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", podman_sock.display()))
            .env("CONTAINERS_STORAGE_CONF", d.join("storage.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", d.join("registries.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman (Debian package podman) must be installed");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&podman_sock).is_err() {
            if let Ok(Some(status)) = podman.try_wait() {
                panic!("podman system service exited: {status}");
            }
            assert!(Instant::now() < deadline, "podman system service did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let docker_sock = d.join("docker.sock");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/docker_api_shim.py");
        let mut shim = Command::new("python3")
            .arg(script)
            .arg(&docker_sock)
            .arg(&podman_sock)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(shim.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("shim");
        assert_eq!(line.trim(), "ready");
        DockerApi {
            podman,
            shim,
            host: format!("unix://{}", docker_sock.display()),
            _dir: dir,
        }
    }
}

impl Drop for DockerApi {
    fn drop(&mut self) {
        for child in [&mut self.shim, &mut self.podman] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
