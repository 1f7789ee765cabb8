//! The publisher's record: what this machine published of each
//! repository, kept apart from the verified cache (which every reader
//! overwrites with whatever verifies, a thief's metadata included), so
//! that after a key is stolen the roles it signed can be rebuilt from
//! what this machine published rather than from what the store serves.
//!
//! In `TRUST_DIR/published/<repository>/`:
//!
//! * `roles/<role>.json`: the last version of each targets role this
//!   machine published, exact bytes;
//! * `log.jsonl`: one line per tag this machine published or removed:
//!   when, the role and its version, the tag, its digest, and the key ids
//!   whose signatures it carried.
//!
//! Everything here was written by this machine after a publish of
//! verified data; it is read back only by `vouch key rotate --compromised`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vouch_keys::trust_dir::{Mode, write_atomic};

use super::error::TrustError;
use crate::tuf::editor::{MetadataEditor, Signed};
use crate::tuf::metadata::{Targets, encode_segment};

/// Most bytes of one recorded role read back.
const MAX_ROLE_BYTES: u64 = 64 << 20;

/// One line of the log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// When it was published (RFC 3339).
    pub at: String,
    /// The role that lists it.
    pub role: String,
    /// That role's version.
    pub version: u64,
    /// The tag.
    pub tag: String,
    /// Its manifest digest (`sha256:…`); `None`: the tag was removed.
    pub digest: Option<String>,
    /// The key ids that signed the role.
    pub keyids: Vec<String>,
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

    fn role_path(&self, role: &str) -> PathBuf {
        self.dir
            .join("roles")
            .join(format!("{}.json", encode_segment(role)))
    }

    /// Notes a publish: every targets role of `after` that differs from
    /// `before` (`None`: a new repository) is kept, and its tag changes
    /// logged.
    pub fn note(&self, before: Option<&MetadataEditor>, after: &MetadataEditor) -> Result<(), TrustError> {
        let roles = self.dir.join("roles");
        std::fs::create_dir_all(&roles).map_err(TrustError::local(&roles))?;
        let at = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut lines = Vec::new();
        let empty = std::collections::BTreeMap::new();
        for (name, role) in &after.targets {
            let old = before.and_then(|b| b.targets.get(name));
            if old.is_some_and(|o| o.signed == role.signed && o.signatures == role.signatures) {
                continue;
            }
            let bytes = role
                .to_bytes()
                .map_err(|e| TrustError::edit(e.to_string(), "report this as a bug"))?;
            let path = self.role_path(name);
            write_atomic(&path, &bytes, 0o600, Mode::Replace).map_err(TrustError::local(&path))?;
            let keyids: Vec<String> = role.signatures.iter().map(|s| s.keyid.clone()).collect();
            let was = old.map_or(&empty, |o| &o.signed.targets);
            for (tag, t) in &role.signed.targets {
                if was.get(tag) != Some(t) {
                    lines.push(Entry {
                        at: at.clone(),
                        role: name.clone(),
                        version: role.signed.version,
                        tag: tag.clone(),
                        digest: t.hashes.get("sha256").map(|h| format!("sha256:{h}")),
                        keyids: keyids.clone(),
                    });
                }
            }
            for tag in was.keys().filter(|t| !role.signed.targets.contains_key(*t)) {
                lines.push(Entry {
                    at: at.clone(),
                    role: name.clone(),
                    version: role.signed.version,
                    tag: tag.clone(),
                    digest: None,
                    keyids: keyids.clone(),
                });
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        let log = self.dir.join("log.jsonl");
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

    /// The last version of `role` this machine published, if any.
    pub fn role(&self, role: &str) -> Result<Option<Signed<Targets>>, TrustError> {
        use std::io::Read as _;
        let path = self.role_path(role);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TrustError::local(&path)(e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_ROLE_BYTES)
            .read_to_end(&mut bytes)
            .map_err(TrustError::local(&path))?;
        Signed::from_bytes(role, &bytes)
            .map(Some)
            .map_err(|e| TrustError::Local {
                path: path.display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })
    }

    /// Whether anything was recorded.
    pub fn exists(&self) -> bool {
        self.dir.join("roles").is_dir()
    }

    /// Where the record lives.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}
