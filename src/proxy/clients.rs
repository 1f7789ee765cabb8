//! Client configuration for `vouch proxy`: what podman (registries.conf),
//! containerd (`hosts.toml`) and Docker read so that every pull of an
//! upstream goes through the proxy, and only through it, and a check of
//! a configuration already in place.
//!
//! The one rule behind every check: a client must have no other endpoint
//! for the upstream. podman tries mirrors before a registry's location,
//! and containerd and the Docker engine try the next host (in the end the
//! registry itself) when one refuses, so a refused pull would quietly be
//! served unsigned from elsewhere.

use std::path::{Path, PathBuf};

use super::route::Upstream;

/// First line of every file vouch writes: a later `--write` replaces only
/// files that carry it.
pub const MARKER: &str = "# Written by `vouch proxy-config`";

/// A client whose configuration vouch writes and checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    /// podman, buildah, skopeo and CRI-O: a registries.conf drop-in.
    Podman,
    /// containerd (ctr, the CRI plugin, nerdctl): `hosts.toml` per registry.
    Containerd,
    /// The Docker engine with the containerd image store: the same
    /// `hosts.toml`, under /etc/docker/certs.d.
    Docker,
}

/// Where the proxy is and which upstreams it serves, as given to `vouch proxy`.
#[derive(Clone, Debug)]
pub struct Setup {
    /// `host:port` of the proxy.
    pub proxy: String,
    /// Whether the proxy serves HTTPS (`--tls-cert`).
    pub tls: bool,
    /// The proxy's upstreams.
    pub upstreams: Vec<Upstream>,
}

impl Setup {
    fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.proxy)
    }
}

/// One file of a configuration: a path relative to where it is written,
/// and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Relative path (`REGISTRY/hosts.toml`; empty for podman's single file).
    pub path: PathBuf,
    /// Contents.
    pub text: String,
}

/// The configuration `client` needs for `setup`.
pub fn render(client: Client, setup: &Setup) -> Vec<File> {
    match client {
        Client::Podman => {
            let mut text = format!(
                "{MARKER} podman`: pulls from these registries go through\n\
                 # vouch proxy at {}, and only through it (no mirror, no other location).\n",
                setup.proxy
            );
            for u in &setup.upstreams {
                text.push_str(&format!(
                    "\n[[registry]]\nprefix = \"{}\"\nlocation = \"{}/{}\"\n",
                    u.registry, setup.proxy, u.name
                ));
                if !setup.tls {
                    text.push_str("insecure = true\n");
                }
            }
            vec![File {
                path: PathBuf::new(),
                text,
            }]
        }
        Client::Containerd | Client::Docker => setup
            .upstreams
            .iter()
            .map(|u| File {
                path: Path::new(&u.registry).join("hosts.toml"),
                text: format!(
                    "{MARKER} {}`: pulls from {} go through vouch proxy,\n\
                     # and only through it: `server` is the proxy, so there is no endpoint to fall back to.\n\
                     server = \"{url}\"\n\n[host.\"{url}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
                    if client == Client::Docker {
                        "docker"
                    } else {
                        "containerd"
                    },
                    u.registry,
                    url = setup.url()
                ),
            })
            .collect(),
    }
}

/// Something in a configuration that lets a pull around the proxy, or
/// keeps pulls from working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The file it is in (or should be in).
    pub file: PathBuf,
    /// What is wrong, and what it leads to.
    pub problem: String,
}

/// Why a configuration could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not TOML (or JSON) the client would read.
    #[error("{path} is not valid {what}: {why}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// TOML or JSON.
        what: &'static str,
        /// The parser's message.
        why: String,
    },
}

/// Largest configuration file read.
const MAX_FILE: u64 = 1024 * 1024;

fn read(path: &Path) -> Result<Option<String>, CheckError> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CheckError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut text = String::new();
    file.take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(|source| CheckError::Read {
            path: path.to_owned(),
            source,
        })?;
    Ok(Some(text))
}

fn toml_of(path: &Path, text: &str) -> Result<toml::Table, CheckError> {
    text.parse::<toml::Table>().map_err(|e| CheckError::Malformed {
        path: path.to_owned(),
        what: "TOML",
        why: e.message().to_owned(),
    })
}

/// What a check found, and the files it read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Ways around the proxy, or pulls that would fail; empty when none.
    pub findings: Vec<Finding>,
    /// The files read (a finding may also name a file that is missing).
    pub read: Vec<PathBuf>,
}

/// Checks the configuration at `path`. podman: `registries.conf` and the
/// `registries.conf.d` drop-ins beside it (given the file, the folder
/// holding it, or the drop-in folder), read as podman does, a later
/// file's entry replacing an earlier one's for the same prefix;
/// containerd: the `certs.d` folder; Docker: `/etc/docker` (its `certs.d`
/// and `daemon.json`). No findings: in the files read, every pull of
/// every upstream goes through the proxy alone.
pub fn check(client: Client, setup: &Setup, path: &Path) -> Result<Checked, CheckError> {
    let mut checked = Checked::default();
    match client {
        Client::Podman => check_podman(setup, path, &mut checked)?,
        Client::Containerd => check_hosts(setup, path, &mut checked)?,
        Client::Docker => {
            check_hosts(setup, &path.join("certs.d"), &mut checked)?;
            check_daemon_json(setup, &path.join("daemon.json"), &mut checked)?;
        }
    }
    Ok(checked)
}

/// The registries.conf files podman reads for `path`, in order.
fn podman_files(path: &Path) -> Result<Vec<PathBuf>, CheckError> {
    let (main, dropins) = if path.is_dir() {
        if path.file_name().is_some_and(|n| n == "registries.conf.d") {
            (path.parent().map(|p| p.join("registries.conf")), path.to_owned())
        } else {
            (Some(path.join("registries.conf")), path.join("registries.conf.d"))
        }
    } else {
        let dir = path.parent().unwrap_or(Path::new("."));
        (Some(path.to_owned()), dir.join("registries.conf.d"))
    };
    let mut files: Vec<PathBuf> = main.filter(|m| m.is_file()).into_iter().collect();
    if dropins.is_dir() {
        let mut more: Vec<PathBuf> = std::fs::read_dir(&dropins)
            .map_err(|source| CheckError::Read {
                path: dropins.clone(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        more.sort();
        files.extend(more);
    }
    Ok(files)
}

/// A `[[registry]]` entry, as podman merges them.
struct Entry {
    file: PathBuf,
    table: toml::Table,
}

fn check_podman(setup: &Setup, path: &Path, checked: &mut Checked) -> Result<(), CheckError> {
    let files = podman_files(path)?;
    // Entries by prefix; a later file's entry replaces an earlier one's.
    let mut entries: std::collections::BTreeMap<String, Entry> = Default::default();
    for file in &files {
        let Some(text) = read(file)? else {
            continue;
        };
        checked.read.push(file.clone());
        let table = toml_of(file, &text)?;
        let Some(list) = table.get("registry").and_then(|r| r.as_array()) else {
            continue;
        };
        for item in list.iter().filter_map(|r| r.as_table()) {
            let prefix = item
                .get("prefix")
                .or_else(|| item.get("location"))
                .and_then(|p| p.as_str())
                .unwrap_or_default()
                .to_owned();
            entries.insert(
                prefix,
                Entry {
                    file: file.clone(),
                    table: item.clone(),
                },
            );
        }
    }
    let found = &mut checked.findings;
    for u in &setup.upstreams {
        let at = format!("{}/{}", setup.proxy, u.name);
        let mut covered = false;
        for (prefix, entry) in &entries {
            // The entry for the registry itself, one for a namespace in
            // it, or a wildcard (`*.example.com`) that takes it in.
            let namespace = prefix.strip_prefix(&format!("{}/", u.registry));
            let own = prefix == &u.registry || wildcard_matches(prefix, &u.registry);
            if !own && namespace.is_none() {
                continue;
            }
            let problem = |p: String| Finding {
                file: entry.file.clone(),
                problem: format!("[[registry]] prefix = \"{prefix}\": {p}"),
            };
            if entry.table.get("blocked").and_then(|b| b.as_bool()) == Some(true) {
                covered |= own;
                continue;
            }
            let location = entry
                .table
                .get("location")
                .and_then(|l| l.as_str())
                .unwrap_or(prefix);
            let want = match namespace {
                Some(ns) => format!("{at}/{ns}"),
                None => at.clone(),
            };
            if location.trim_end_matches('/') != want {
                found.push(problem(format!(
                    "location \"{location}\" is not the proxy (\"{want}\"): pulls from it skip vouch"
                )));
            }
            if let Some(mirrors) = entry.table.get("mirror").and_then(|m| m.as_array())
                && !mirrors.is_empty()
            {
                found.push(problem(
                    "has mirrors: podman pulls from a mirror before the location, so a mirror serves what vouch would refuse"
                        .to_owned(),
                ));
            }
            if !setup.tls && entry.table.get("insecure").and_then(|i| i.as_bool()) != Some(true) {
                found.push(problem(
                    "lacks `insecure = true`: the proxy speaks plain HTTP on loopback, so every pull fails"
                        .to_owned(),
                ));
            }
            covered |= own;
        }
        if !covered {
            found.push(Finding {
                file: path.to_owned(),
                problem: format!(
                    "no [[registry]] entry with prefix = \"{}\": podman pulls from it directly, unchecked",
                    u.registry
                ),
            });
        }
    }
    Ok(())
}

/// Whether a registries.conf wildcard prefix (`*.example.com`) takes in `host`.
fn wildcard_matches(prefix: &str, registry: &str) -> bool {
    let host = registry.split(':').next().unwrap_or(registry);
    prefix
        .strip_prefix("*.")
        .is_some_and(|domain| host.ends_with(&format!(".{domain}")))
}

fn check_hosts(setup: &Setup, dir: &Path, checked: &mut Checked) -> Result<(), CheckError> {
    let url = setup.url();
    let same = |s: &str| s.trim_end_matches('/') == url;
    let found = &mut checked.findings;
    for u in &setup.upstreams {
        let own = dir.join(&u.registry);
        // containerd reads the registry's own folder when it exists (a
        // folder with only certificates in it means: the upstream
        // itself); `_default` only when there is none.
        let file = if own.is_dir() {
            own.join("hosts.toml")
        } else {
            dir.join("_default").join("hosts.toml")
        };
        let text = read(&file)?;
        let Some(text) = text else {
            found.push(Finding {
                file: dir.join(&u.registry).join("hosts.toml"),
                problem: format!(
                    "missing: containerd pulls from {} directly, unchecked",
                    u.registry
                ),
            });
            continue;
        };
        checked.read.push(file.clone());
        let table = toml_of(&file, &text)?;
        let problem = |p: String| Finding {
            file: file.clone(),
            problem: p,
        };
        match table.get("server").and_then(|s| s.as_str()) {
            Some(server) if same(server) => {}
            Some(server) => found.push(problem(format!(
                "server = \"{server}\" is not the proxy ({url}): containerd falls back to it when the proxy refuses, \
                 and pulls unsigned tags from there"
            ))),
            None => found.push(problem(format!(
                "no `server`: containerd falls back to https://{} when the proxy refuses, and pulls unsigned tags from there",
                u.registry
            ))),
        }
        let hosts = table.get("host").and_then(|h| h.as_table());
        match hosts {
            None => found.push(problem(
                "no [host] table: containerd 1.6 rejects a hosts.toml with only `server`, and then pulls from the upstream directly"
                    .to_owned(),
            )),
            Some(hosts) => {
                for other in hosts.keys().filter(|h| !same(h)) {
                    found.push(problem(format!(
                        "[host.\"{other}\"] is another endpoint: containerd tries it too, and serves what it answers"
                    )));
                }
            }
        }
    }
    Ok(())
}

fn check_daemon_json(setup: &Setup, path: &Path, checked: &mut Checked) -> Result<(), CheckError> {
    let Some(text) = read(path)? else {
        return Ok(());
    };
    checked.read.push(path.to_owned());
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| CheckError::Malformed {
        path: path.to_owned(),
        what: "JSON",
        why: e.to_string(),
    })?;
    let hub = setup
        .upstreams
        .iter()
        .any(|u| ["docker.io", "registry-1.docker.io", "index.docker.io"].contains(&u.registry.as_str()));
    let mirrors = value["registry-mirrors"].as_array().cloned().unwrap_or_default();
    for m in mirrors.iter().filter_map(|m| m.as_str()) {
        let problem = if m.contains(&setup.proxy) {
            format!(
                "registry-mirrors lists the proxy ({m}): not a gate, since the Docker engine pulls from Docker Hub \
                 when a mirror refuses; use the certs.d hosts.toml (containerd image store) or `docker vouch pull`"
            )
        } else if hub {
            format!("registry-mirrors lists {m}: Docker Hub pulls go there, around the proxy")
        } else {
            continue;
        };
        checked.findings.push(Finding {
            file: path.to_owned(),
            problem,
        });
    }
    if value["features"]["containerd-snapshotter"] == serde_json::Value::Bool(false) {
        checked.findings.push(Finding {
            file: path.to_owned(),
            problem: "features.containerd-snapshotter is false: the classic image store ignores certs.d, so \
                      pulls skip the proxy; use `docker vouch pull`"
                .to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> Setup {
        Setup {
            proxy: "127.0.0.1:5100".to_owned(),
            tls: false,
            upstreams: vec![Upstream::parse("up=registry.example:5000").expect("upstream")],
        }
    }

    #[test]
    fn what_is_written_passes_its_own_check() {
        let dir = tempfile::tempdir().expect("tmp");
        for client in [Client::Podman, Client::Containerd] {
            let root = dir.path().join(format!("{client:?}"));
            for f in render(client, &setup()) {
                let path = if f.path.as_os_str().is_empty() {
                    root.join("registries.conf.d/50-vouch.conf")
                } else {
                    root.join(&f.path)
                };
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                std::fs::write(&path, f.text).expect("write");
            }
            assert_eq!(
                check(client, &setup(), &root).expect("check").findings,
                Vec::new(),
                "{client:?}"
            );
        }
    }

    #[test]
    fn a_way_around_the_proxy_is_found() {
        let dir = tempfile::tempdir().expect("tmp");
        let conf = dir.path().join("r.conf");
        std::fs::write(
            &conf,
            "[[registry]]\nprefix = \"registry.example:5000\"\nlocation = \"127.0.0.1:5100/up\"\ninsecure = true\n\
             [[registry.mirror]]\nlocation = \"mirror.example\"\n\
             [[registry]]\nprefix = \"registry.example:5000/team\"\nlocation = \"registry.example:5000/team\"\n",
        )
        .expect("write");
        let found = check(Client::Podman, &setup(), &conf).expect("check").findings;
        assert_eq!(found.len(), 3, "{found:?}");
        let hosts = dir.path().join("certs.d");
        std::fs::create_dir_all(hosts.join("registry.example:5000")).expect("mkdir");
        std::fs::write(
            hosts.join("registry.example:5000/hosts.toml"),
            "server = \"https://registry.example:5000\"\n",
        )
        .expect("write");
        let found = check(Client::Containerd, &setup(), &hosts)
            .expect("check")
            .findings;
        assert_eq!(found.len(), 2, "{found:?}");
        // A folder with only a certificate: containerd pulls from the
        // upstream (it never reads `_default` then).
        std::fs::remove_file(hosts.join("registry.example:5000/hosts.toml")).expect("rm");
        std::fs::write(hosts.join("registry.example:5000/ca.crt"), "x").expect("write");
        std::fs::create_dir_all(hosts.join("_default")).expect("mkdir");
        for f in render(Client::Containerd, &setup()) {
            std::fs::write(hosts.join("_default/hosts.toml"), f.text).expect("write");
        }
        let found = check(Client::Containerd, &setup(), &hosts)
            .expect("check")
            .findings;
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
