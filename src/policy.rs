//! Which repositories must be verified, and against which root keys.
//!
//! `TRUST_DIR/policy.toml`:
//!
//! ```toml
//! [[scope]]
//! repository = "registry.example/team/*"   # `*` = one path component, `**` = any
//! root_keys = ["3f5c…"]                     # pinned root key ids
//! threshold = 1                             # how many of them must sign the first root
//! level = "enforce"                         # enforce | audit | off
//! tofu = false                              # pin on first use (loud)
//! ```
//!
//! The most specific matching scope wins: fewest wildcards, then the
//! longest pattern. Without a matching scope a repository is unpinned.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vouch_keys::trust_dir::{Mode, write_atomic};

/// What to do for a repository.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Refuse anything that does not verify.
    #[default]
    Enforce,
    /// Warn and allow.
    Audit,
    /// Do not check.
    Off,
}

/// One scope of the policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Repository pattern.
    pub repository: String,
    /// Pinned root key ids.
    #[serde(default)]
    pub root_keys: Vec<String>,
    /// How many pinned keys must sign the first root (default 1).
    #[serde(default = "one")]
    pub threshold: u64,
    /// Enforcement level.
    #[serde(default)]
    pub level: Level,
    /// Allow pinning on first use.
    #[serde(default)]
    pub tofu: bool,
}

fn one() -> u64 {
    1
}

/// The policy file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Root key ids never accepted again by any pin (`vouch deny`): keys
    /// lost or stolen. A pin counts none of them toward its threshold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    /// Scopes, in any order.
    #[serde(default)]
    pub scope: Vec<Scope>,
}

/// Errors reading or writing the policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid policy TOML.
    #[error("{path} is not a valid policy: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A TOML error in plain words: the line, the text there (which names the
/// key), and what was expected there.
fn explain(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().trim_end_matches('.');
    match e.span() {
        Some(span) => {
            let start = span.start.min(text.len());
            let line = text[..start].matches('\n').count() + 1;
            let shown = text.lines().nth(line - 1).unwrap_or_default().trim();
            let shown: String = shown.chars().take(120).collect();
            format!("line {line} (`{shown}`): {message}")
        }
        None => message.to_owned(),
    }
}

/// Whether `pattern` matches `repo`: `*` matches within one `/`-separated
/// component, `**` across components; everything else literally.
pub fn scope_matches(pattern: &str, repo: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => (0..=s.len()).any(|i| go(&p[2..], &s[i..])),
            Some(b'*') => {
                let stop = s.iter().position(|&c| c == b'/').unwrap_or(s.len());
                (0..=stop).any(|i| go(&p[1..], &s[i..]))
            }
            Some(&c) => s.first() == Some(&c) && go(&p[1..], &s[1..]),
        }
    }
    go(pattern.as_bytes(), repo.as_bytes())
}

impl Policy {
    /// The policy file of a trust directory.
    pub fn path(trust_dir: &Path) -> PathBuf {
        trust_dir.join("policy.toml")
    }

    /// Reads the policy (an absent file is an empty policy).
    pub fn load(trust_dir: &Path) -> Result<Policy, PolicyError> {
        let path = Policy::path(trust_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => Policy::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Policy::default()),
            Err(source) => Err(PolicyError::Io { path, source }),
        }
    }

    /// Parses a policy file's text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyError> {
        toml::from_str(text).map_err(|e| PolicyError::Invalid {
            path: path.to_owned(),
            reason: explain(text, &e),
        })
    }

    /// Writes the policy atomically.
    pub fn save(&self, trust_dir: &Path) -> Result<(), PolicyError> {
        let path = Policy::path(trust_dir);
        let text = toml::to_string_pretty(self).map_err(|e| PolicyError::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let header =
            "# vouch policy: repository patterns -> pinned root keys and level. See `vouch --help`.\n";
        write_atomic(&path, format!("{header}{text}").as_bytes(), 0o600, Mode::Replace)
            .map_err(|source| PolicyError::Io { path, source })
    }

    /// The most specific scope matching `repo`.
    pub fn lookup(&self, repo: &str) -> Option<&Scope> {
        self.scope
            .iter()
            .filter(|s| scope_matches(&s.repository, repo))
            .min_by_key(|s| {
                let wildcards = s.repository.matches('*').count();
                (wildcards, std::cmp::Reverse(s.repository.len()))
            })
    }

    /// Whether root key id `id` is on the deny list.
    pub fn denied(&self, id: &str) -> bool {
        self.deny.iter().any(|d| d == id)
    }

    /// The exact scope of `repo`, if it has one.
    pub fn exact(&self, repo: &str) -> Option<&Scope> {
        self.scope.iter().find(|s| s.repository == repo)
    }

    /// Appends a line to the trust directory's pin log (`pins.log`): pin
    /// replacements and deny-list additions, with when they were made.
    pub fn log(trust_dir: &Path, line: &str) -> Result<(), PolicyError> {
        use std::io::Write as _;
        let path = trust_dir.join("pins.log");
        let at = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let io = |source| PolicyError::Io {
            path: path.clone(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        f.write_all(format!("{at} {line}\n").as_bytes()).map_err(io)
    }

    /// Sets the level of `pattern`'s exact scope, making the scope (with no
    /// pin) if there is none.
    pub fn set_level(&mut self, pattern: &str, level: Level) {
        match self.scope.iter_mut().find(|s| s.repository == pattern) {
            Some(s) => s.level = level,
            None => {
                self.scope.push(Scope {
                    repository: pattern.to_owned(),
                    root_keys: Vec::new(),
                    threshold: 1,
                    level,
                    tofu: false,
                });
                self.scope.sort_by(|a, b| a.repository.cmp(&b.repository));
            }
        }
    }

    /// Removes the pin of `pattern`'s exact scope (its root keys and
    /// threshold); a scope left with nothing but the default level goes.
    /// Whether there was a pin.
    pub fn unpin(&mut self, pattern: &str) -> bool {
        let Some(s) = self.scope.iter_mut().find(|s| s.repository == pattern) else {
            return false;
        };
        let had = !s.root_keys.is_empty();
        s.root_keys.clear();
        s.threshold = 1;
        self.scope
            .retain(|s| !(s.repository == pattern && s.level == Level::Enforce && !s.tofu));
        had
    }

    /// Pins `repo` (an exact pattern) to `root_keys`, `threshold` of which
    /// must sign, replacing an exact scope for it if there is one.
    pub fn pin(&mut self, repo: &str, root_keys: Vec<String>, threshold: u64) {
        self.scope.retain(|s| s.repository != repo);
        self.scope.push(Scope {
            repository: repo.to_owned(),
            root_keys,
            threshold,
            level: Level::Enforce,
            tofu: false,
        });
        self.scope.sort_by(|a, b| a.repository.cmp(&b.repository));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_scope_wins() {
        let scope = |r: &str, level| Scope {
            repository: r.to_owned(),
            root_keys: vec![],
            threshold: 1,
            level,
            tofu: false,
        };
        let p = Policy {
            deny: Vec::new(),
            scope: vec![
                scope("**", Level::Audit),
                scope("reg.io/team/*", Level::Off),
                scope("reg.io/team/app", Level::Enforce),
            ],
        };
        assert_eq!(p.lookup("reg.io/team/app").map(|s| s.level), Some(Level::Enforce));
        assert_eq!(p.lookup("reg.io/team/web").map(|s| s.level), Some(Level::Off));
        assert_eq!(
            p.lookup("reg.io/team/sub/web").map(|s| s.level),
            Some(Level::Audit)
        );
        assert!(scope_matches("*/team/app", "reg2.io:5000/team/app"));
        assert!(!scope_matches("reg.io/*", "reg.io/a/b"));
    }
}
