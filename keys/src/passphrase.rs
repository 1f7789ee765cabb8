//! Where passphrases come from.
//!
//! The library never touches a terminal: it asks a [`PassphraseProvider`]
//! (the CLI's walks environment variables, `--passphrase-file`, stdin, the
//! OS keyring cache and finally a no-echo prompt). This module holds the
//! pieces every provider shares: the environment variable table and the
//! passphrase-file reader.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{KeyError, Result};
use crate::keyfile::RoleClass;
use crate::secret::{KeyId, Passphrase};

/// Where a passphrase came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An environment variable (its name).
    Env(&'static str),
    /// A file given with `--passphrase-file`.
    File(PathBuf),
    /// A line of standard input.
    Stdin,
    /// The OS keyring cache.
    Keyring,
    /// Typed at the terminal.
    Terminal,
    /// The passphrase given earlier in this run for the other online key
    /// (snapshot or timestamp): the two share one passphrase.
    Shared,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Env(v) => write!(f, "${v}"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Stdin => f.write_str("standard input"),
            Source::Keyring => f.write_str("the OS keyring"),
            Source::Terminal => f.write_str("the terminal"),
            Source::Shared => f.write_str("the other online key's passphrase"),
        }
    }
}

/// A passphrase and where it came from.
#[derive(Debug)]
pub struct Obtained {
    /// The passphrase.
    pub passphrase: Passphrase,
    /// Its source.
    pub source: Source,
}

/// Why a passphrase is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// To decrypt an existing key.
    Unlock,
    /// To encrypt a new key (or re-encrypt one): asked twice on a terminal,
    /// empty refused unless allowed.
    Create,
}

/// A request for a passphrase.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Unlock or create.
    pub purpose: Purpose,
    /// The key, described for people (e.g. `key 3f5c… (alice, targets)`).
    pub what: &'a str,
    /// Which environment variables apply.
    pub class: RoleClass,
    /// The key id, when the key exists already (used by the keyring cache).
    pub key_id: Option<&'a KeyId>,
}

/// Supplies passphrases.
pub trait PassphraseProvider {
    /// Returns a passphrase for `req`. `rejected` is the source of the
    /// previous answer when that passphrase turned out wrong; a provider
    /// returns an error rather than ask a non-interactive source again.
    fn obtain(&mut self, req: &Request<'_>, rejected: Option<&Source>) -> Result<Obtained>;
}

/// The environment variables read for a role class, in order: vouch's,
/// then Docker Content Trust's, then notary's.
pub fn env_vars(class: RoleClass) -> &'static [&'static str] {
    const REPO: &str = "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE";
    match class {
        RoleClass::Root => &[
            "VOUCH_ROOT_PASSPHRASE",
            "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE",
            "NOTARY_ROOT_PASSPHRASE",
        ],
        RoleClass::Targets => &["VOUCH_TARGETS_PASSPHRASE", REPO, "NOTARY_TARGETS_PASSPHRASE"],
        RoleClass::Snapshot => &["VOUCH_SNAPSHOT_PASSPHRASE", REPO, "NOTARY_SNAPSHOT_PASSPHRASE"],
        RoleClass::Timestamp => &["VOUCH_TIMESTAMP_PASSPHRASE", REPO],
        RoleClass::Delegation => &[
            "VOUCH_DELEGATION_PASSPHRASE",
            REPO,
            "NOTARY_DELEGATION_PASSPHRASE",
        ],
    }
}

/// The first non-empty variable of [`env_vars`] found by `lookup`.
pub fn from_env(class: RoleClass, lookup: impl Fn(&str) -> Option<String>) -> Option<Obtained> {
    env_vars(class).iter().find_map(|&var| {
        let value = lookup(var).filter(|v| !v.is_empty())?;
        Some(Obtained {
            passphrase: Passphrase::new(value),
            source: Source::Env(var),
        })
    })
}

/// The fewest characters a new passphrase may have, unless short ones are
/// explicitly allowed (notary's rule).
pub const MIN_NEW_PASSPHRASE: usize = 8;

/// Largest passphrase file we read.
pub const MAX_PASSPHRASE_FILE: u64 = 64 * 1024;

/// Reads a passphrase file: the whole file, less one trailing newline.
pub fn read_file(path: &Path) -> Result<Passphrase> {
    let file = std::fs::File::open(path).map_err(|e| KeyError::io("reading passphrase file", path, e))?;
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    file.take(MAX_PASSPHRASE_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| KeyError::io("reading passphrase file", path, e))?;
    if buf.len() as u64 > MAX_PASSPHRASE_FILE {
        return Err(KeyError::io(
            "reading passphrase file",
            path,
            std::io::Error::other("larger than 64 KiB"),
        ));
    }
    let text = std::str::from_utf8(&buf).map_err(|_| {
        KeyError::io(
            "reading passphrase file",
            path,
            std::io::Error::other("not UTF-8"),
        )
    })?;
    Ok(Passphrase::new(trim_newline(text).to_owned()))
}

/// Strips one trailing `\n` or `\r\n`.
pub fn trim_newline(s: &str) -> &str {
    s.strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_order_prefers_vouch_then_docker_then_notary() {
        let env = |v: &str| match v {
            "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE" => Some("docker".to_owned()),
            "NOTARY_TARGETS_PASSPHRASE" => Some("notary".to_owned()),
            "VOUCH_TARGETS_PASSPHRASE" => Some(String::new()),
            _ => None,
        };
        let got = from_env(RoleClass::Targets, env).expect("found");
        assert_eq!(got.passphrase.expose(), "docker");
        assert_eq!(
            got.source,
            Source::Env("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE")
        );
        assert!(from_env(RoleClass::Root, env).is_none());
    }

    #[test]
    fn newline_trimmed_once() {
        assert_eq!(trim_newline("a\r\n"), "a");
        assert_eq!(trim_newline("a\n\n"), "a\n");
        assert_eq!(trim_newline("a"), "a");
    }
}
