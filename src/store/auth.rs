//! Registry credentials from Docker's configuration, as `docker login`
//! leaves them: `$DOCKER_CONFIG/config.json` (default `~/.docker`), with
//! `credHelpers` (per registry), `auths` (basic credentials) and
//! `credsStore` (the default helper), in that order. Helpers are run as
//! `docker-credential-NAME get`. No configuration: anonymous.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine;
use reqwest::header::HeaderValue;
use zeroize::Zeroizing;

use serde::Deserialize;

/// Why credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The configuration is unreadable.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A credential helper failed.
    #[error("credential helper docker-credential-{helper} failed: {reason}")]
    Helper {
        /// The helper's name.
        helper: String,
        /// Why (what it printed, which holds no secret when it fails).
        reason: String,
    },
    /// A credential helper is not installed.
    #[error("credential helper docker-credential-{helper} is not installed")]
    HelperMissing {
        /// The helper's name.
        helper: String,
    },
}

#[derive(Deserialize, Default)]
struct Config {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

fn basic(username: String, password: String) -> Credentials {
    Credentials::Basic {
        username,
        password: Zeroizing::new(password),
    }
}

/// The names `docker login` may have stored a registry's entry under
/// (Docker Hub's is its old index URL).
fn keys_for(registry: &str) -> Vec<String> {
    let mut keys = vec![
        registry.to_owned(),
        format!("https://{registry}"),
        format!("http://{registry}"),
    ];
    if matches!(registry, "docker.io" | "index.docker.io" | "registry-1.docker.io") {
        keys.push("https://index.docker.io/v1/".to_owned());
    }
    keys
}

/// Docker's configuration directory: `$DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".docker")))
}

/// Credentials for `registry` (`host[:port]`).
pub fn for_registry(registry: &str) -> Result<Credentials, AuthError> {
    let dir = docker_config_dir();
    let Some(dir) = dir else {
        return Ok(Credentials::Anonymous);
    };
    let path = dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::Anonymous),
        Err(e) => {
            return Err(AuthError::Config {
                path: path.display().to_string(),
                reason: e.to_string(),
            });
        }
    };
    let config: Config = serde_json::from_str(&text).map_err(|e| AuthError::Config {
        path: path.display().to_string(),
        reason: format!("not valid JSON ({e})"),
    })?;
    let keys = keys_for(registry);
    if let Some(helper) = keys.iter().find_map(|k| config.cred_helpers.get(k)) {
        return run_helper(helper, registry);
    }
    if let Some(entry) = keys.iter().find_map(|k| config.auths.get(k)) {
        if let Some(encoded) = &entry.auth {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| AuthError::Config {
                    path: path.display().to_string(),
                    reason: format!("the auth entry for {registry} is not base64"),
                })?;
            let text = Zeroizing::new(String::from_utf8(decoded).map_err(|_| AuthError::Config {
                path: path.display().to_string(),
                reason: format!("the auth entry for {registry} is not UTF-8"),
            })?);
            if let Some((user, pass)) = text.split_once(':') {
                return Ok(basic(user.to_owned(), pass.to_owned()));
            }
        }
        if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
            return Ok(basic(u.clone(), p.clone()));
        }
    }
    if let Some(store) = &config.creds_store {
        return match run_helper(store, registry) {
            // The default store may simply have nothing for this registry.
            Err(AuthError::Helper { reason, .. }) if reason.contains("not found") => {
                Ok(Credentials::Anonymous)
            }
            // A default store left behind by another machine (Docker
            // Desktop's, say) must not stop public pulls.
            Err(AuthError::HelperMissing { helper }) => {
                eprintln!(
                    "warning: credsStore names docker-credential-{helper}, which is not installed; \
                     asking {registry} without credentials"
                );
                Ok(Credentials::Anonymous)
            }
            other => other,
        };
    }
    Ok(Credentials::Anonymous)
}

fn run_helper(helper: &str, registry: &str) -> Result<Credentials, AuthError> {
    let fail = |reason: String| AuthError::Helper {
        helper: helper.to_owned(),
        reason,
    };
    if !helper
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(fail("invalid helper name".to_owned()));
    }
    let mut child = Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AuthError::HelperMissing {
                helper: helper.to_owned(),
            },
            _ => fail(e.to_string()),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(registry.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        return Err(fail(if msg.is_empty() {
            format!("exit {}", out.status)
        } else {
            msg
        }));
    }
    let parsed: HelperOutput = serde_json::from_slice(&out.stdout)
        .map_err(|_| fail("its output is not the expected JSON".to_owned()))?;
    Ok(basic(parsed.username, parsed.secret))
}

/// Credentials for a registry, as Docker's configuration gives them.
#[derive(Clone, Default)]
pub enum Credentials {
    /// No credentials.
    #[default]
    Anonymous,
    /// A user name and a password (or a token a helper returned).
    Basic {
        /// The user name.
        username: String,
        /// The password; never printed.
        password: Zeroizing<String>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

impl Credentials {
    pub(crate) fn basic_header(&self) -> Option<HeaderValue> {
        let Credentials::Basic { username, password } = self else {
            return None;
        };
        let plain = Zeroizing::new(format!("{username}:{}", password.as_str()));
        let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(plain.as_bytes()));
        let mut value = HeaderValue::from_str(&format!("Basic {}", encoded.as_str())).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}
