//! The publisher's record: what this machine itself changed in each
//! repository, kept apart from the verified cache (which every reader
//! overwrites with whatever verifies, a thief's metadata included), so
//! that after a key is stolen the roles it signed can be rebuilt from
//! what this machine did rather than from what the store serves.
//!
//! `TRUST_DIR/published/<repository>/log.jsonl` has one line per change
//! this machine published: a tag set (with its target) or removed, or a
//! role's delegations replaced, with when, the role, its version and the
//! key ids that signed it, and whether the change was made here or only
//! published here (a staged change someone else made: `made_here` false).
//!
//! A publish on top of a thief's state logs only what it changed, never
//! what it carried over, so replaying the lines made here rebuilds what
//! this machine signed and nothing the thief added. It is written by this
//! machine after its own publishes and read only by `vouch key rotate
//! --compromised`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::TrustError;
use crate::tuf::editor::MetadataEditor;
use crate::tuf::metadata::{Delegations, TargetFile, encode_segment};

/// Most bytes of the log read back.
const MAX_LOG_BYTES: u64 = 1 << 30;

/// One line of the log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// When it was published (RFC 3339).
    pub at: String,
    /// The role changed.
    pub role: String,
    /// That role's version.
    pub version: u64,
    /// The tag set or removed (`None`: the role's delegations changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Its manifest digest (`sha256:…`); `None`: removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The target signed (`None`: removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetFile>,
    /// The role's new delegations, for a delegation change (`null`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<serde_json::Value>,
    /// The key ids that signed the role.
    pub keyids: Vec<String>,
    /// Whether the change was made on this machine (not only published).
    pub made_here: bool,
}

/// What a role held as this machine made it.
#[derive(Clone, Debug, Default)]
pub struct Rebuilt {
    /// Tags and their targets.
    pub tags: BTreeMap<String, TargetFile>,
    /// The delegations last set here (`None`: never changed here, so
    /// none).
    pub delegations: Option<Delegations>,
}

/// One repository's record.
#[derive(Clone, Debug)]
pub struct Record {
    dir: PathBuf,
}

impl Record {
    /// The record of `repo` in trust directory `trust_dir`.
    pub fn new(trust_dir: &Path, repo: &str) -> Record {
        Record {
            dir: trust_dir.join("published").join(encode_segment(repo)),
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("log.jsonl")
    }

    /// Notes a publish: for every targets role of `after` that differs
    /// from `before` (`None`: a new repository), the tags it set or
    /// removed and its delegations when they changed.
    pub fn note(
        &self,
        before: Option<&MetadataEditor>,
        after: &MetadataEditor,
        made_here: bool,
    ) -> Result<(), TrustError> {
        let at = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut lines = Vec::new();
        let empty = BTreeMap::new();
        for (name, role) in &after.targets {
            let old = before.and_then(|b| b.targets.get(name));
            if old.is_some_and(|o| o.signed == role.signed) {
                continue;
            }
            let keyids: Vec<String> = role.signatures.iter().map(|s| s.keyid.clone()).collect();
            let entry = |tag: Option<&String>, target: Option<&TargetFile>| Entry {
                at: at.clone(),
                role: name.clone(),
                version: role.signed.version,
                tag: tag.cloned(),
                digest: target.and_then(|t| t.hashes.get("sha256").map(|h| format!("sha256:{h}"))),
                target: target.cloned(),
                delegations: None,
                keyids: keyids.clone(),
                made_here,
            };
            let was = old.map_or(&empty, |o| &o.signed.targets);
            for (tag, t) in &role.signed.targets {
                if was.get(tag) != Some(t) {
                    lines.push(entry(Some(tag), Some(t)));
                }
            }
            for tag in was.keys().filter(|t| !role.signed.targets.contains_key(*t)) {
                lines.push(entry(Some(tag), None));
            }
            let old_delegations = old.and_then(|o| o.signed.delegations.as_ref());
            if old_delegations != role.signed.delegations.as_ref() {
                let mut e = entry(None, None);
                e.delegations = Some(
                    serde_json::to_value(&role.signed.delegations)
                        .map_err(|e| TrustError::edit(e.to_string(), "report this as a bug"))?,
                );
                lines.push(e);
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).map_err(TrustError::local(&self.dir))?;
        let log = self.log_path();
        let mut text = Vec::new();
        for line in &lines {
            serde_json::to_writer(&mut text, line)
                .map_err(|e| TrustError::edit(e.to_string(), "report this as a bug"))?;
            text.push(b'\n');
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(TrustError::local(&log))?;
        f.write_all(&text).map_err(TrustError::local(&log))
    }

    /// Every line of the log, oldest first (`None`: no log).
    pub fn entries(&self) -> Result<Option<Vec<Entry>>, TrustError> {
        use std::io::Read as _;
        let path = self.log_path();
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TrustError::local(&path)(e)),
        };
        let mut text = String::new();
        file.take(MAX_LOG_BYTES)
            .read_to_string(&mut text)
            .map_err(TrustError::local(&path))?;
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            out.push(serde_json::from_str(line).map_err(|e| TrustError::Local {
                path: path.display().to_string(),
                source: std::io::Error::other(format!("line {}: {e}", n + 1)),
            })?);
        }
        Ok(Some(out))
    }

    /// What the roles `of` accepts held, replaying only the changes made
    /// here (`None`: nothing was ever recorded).
    pub fn rebuild(&self, of: impl Fn(&str) -> bool) -> Result<Option<Rebuilt>, TrustError> {
        let Some(entries) = self.entries()? else {
            return Ok(None);
        };
        let mut out = Rebuilt::default();
        for e in entries.into_iter().filter(|e| e.made_here && of(&e.role)) {
            match (e.tag, e.target, e.delegations) {
                (Some(tag), Some(target), _) => {
                    out.tags.insert(tag, target);
                }
                (Some(tag), None, _) => {
                    out.tags.remove(&tag);
                }
                (None, _, Some(d)) => {
                    out.delegations = serde_json::from_value(d).map_err(|e| TrustError::Local {
                        path: self.log_path().display().to_string(),
                        source: std::io::Error::other(e.to_string()),
                    })?;
                }
                (None, _, None) => {}
            }
        }
        Ok(Some(out))
    }

    /// Where the record lives.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}
