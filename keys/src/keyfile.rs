//! vouch's key file: metadata lines, then a standard PEM
//! `ENCRYPTED PRIVATE KEY` block.
//!
//! ```text
//! vouch-key-file: 1
//! id: 3f5c…
//! name: alice
//! role: targets
//! repo: registry.example/app
//! algorithm: ed25519
//! created: 2026-11-26T16:00:00Z
//! public: MCowBQYDK2VwAyEA…          (base64 DER SubjectPublicKeyInfo)
//! checksum: sha256:…                  (of the encrypted DER; detects damage)
//! -----BEGIN ENCRYPTED PRIVATE KEY-----
//! …
//! -----END ENCRYPTED PRIVATE KEY-----
//! ```
//!
//! OpenSSL skips text before a PEM block, so `openssl pkey` reads the file
//! as it is. The metadata is not secret and not authenticated: the key id is
//! recomputed from the public key, and the public key is checked against the
//! private key on every unlock.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{KeyError, Result};
use crate::pem;
use crate::secret::{KeyAlgorithm, KeyId, PrivateKey, PublicKey};

/// The PEM label of a sealed key.
pub const ENCRYPTED_LABEL: &str = "ENCRYPTED PRIVATE KEY";
const FORMAT_LINE: &str = "vouch-key-file";

/// A key's role: `root`, `targets`, `snapshot`, `timestamp`, or the name of
/// a signer / delegated role (`alice`, `targets/releases`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Role(String);

/// The passphrase class of a role: which environment variables serve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleClass {
    /// The root role.
    Root,
    /// The top-level targets role.
    Targets,
    /// The snapshot role.
    Snapshot,
    /// The timestamp role.
    Timestamp,
    /// Any signer or delegated role.
    Delegation,
}

impl Role {
    /// Parses a role name: 1–64 characters of `A-Za-z0-9._-/`, not starting
    /// with `.`, `-` or `/`, without `..` or `//`.
    pub fn parse(s: &str) -> Result<Role> {
        let bad = |reason| KeyError::InvalidName {
            what: "role",
            value: s.to_owned(),
            reason,
        };
        if s.is_empty() || s.len() > 64 {
            return Err(bad("must be 1 to 64 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        {
            return Err(bad("only letters, digits, '.', '_', '-' and '/' are allowed"));
        }
        if s.starts_with(['.', '-', '/']) || s.ends_with('/') || s.contains("..") || s.contains("//") {
            return Err(bad(
                "must not start with '.', '-' or '/', end with '/', or contain '..' or '//'",
            ));
        }
        Ok(Role(s.to_owned()))
    }

    /// The role name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Which passphrase class this role belongs to.
    pub fn class(&self) -> RoleClass {
        match self.0.as_str() {
            "root" => RoleClass::Root,
            "targets" => RoleClass::Targets,
            "snapshot" => RoleClass::Snapshot,
            "timestamp" => RoleClass::Timestamp,
            _ => RoleClass::Delegation,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a human key name: 1–64 of `A-Za-z0-9._-`, not starting with `.`
/// or `-` (it becomes the file name `NAME.pub`).
pub fn validate_name(s: &str) -> Result<()> {
    let bad = |reason| KeyError::InvalidName {
        what: "key name",
        value: s.to_owned(),
        reason,
    };
    if s.is_empty() || s.len() > 64 {
        return Err(bad("must be 1 to 64 characters"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(bad("only letters, digits, '.', '_' and '-' are allowed"));
    }
    if s.starts_with(['.', '-']) {
        return Err(bad("must not start with '.' or '-'"));
    }
    Ok(())
}

/// Checks a repository scope: 1–255 printable ASCII characters, no spaces.
pub fn validate_repo(s: &str) -> Result<()> {
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(KeyError::InvalidName {
            what: "repository",
            value: s.escape_default().to_string(),
            reason: "must be 1 to 255 printable ASCII characters without spaces",
        });
    }
    Ok(())
}

/// Everything about a stored key except the secret.
#[derive(Clone, Debug)]
pub struct KeyInfo {
    /// TUF key id.
    pub id: KeyId,
    /// Human name.
    pub name: String,
    /// Role the key is meant for.
    pub role: Role,
    /// Repository scope, if any.
    pub repo: Option<String>,
    /// The public key.
    pub public: PublicKey,
    /// When the key was generated or imported (whole seconds, UTC).
    pub created: OffsetDateTime,
}

impl KeyInfo {
    /// The algorithm of the key.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public.algorithm()
    }

    /// `created` as RFC 3339.
    pub fn created_rfc3339(&self) -> String {
        self.created.format(&Rfc3339).unwrap_or_default()
    }
}

/// A key file: metadata plus the sealed private key (ciphertext only).
#[derive(Clone, Debug)]
pub struct KeyFile {
    /// The metadata.
    pub info: KeyInfo,
    /// DER `EncryptedPrivateKeyInfo`.
    pub sealed: Vec<u8>,
}

impl KeyFile {
    /// The file text.
    pub fn render(&self) -> String {
        let i = &self.info;
        let mut out = format!(
            "{FORMAT_LINE}: 1\nid: {}\nname: {}\nrole: {}\n",
            i.id, i.name, i.role
        );
        if let Some(repo) = &i.repo {
            out.push_str(&format!("repo: {repo}\n"));
        }
        out.push_str(&format!(
            "algorithm: {}\ncreated: {}\npublic: {}\nchecksum: sha256:{}\n",
            i.algorithm(),
            i.created_rfc3339(),
            STANDARD.encode(i.public.to_spki_der()),
            hex::encode(Sha256::digest(&self.sealed)),
        ));
        out.push_str(&pem::encode(ENCRYPTED_LABEL, &self.sealed));
        out
    }

    /// Parses a vouch key file. `path` only names the file in errors.
    pub fn parse(text: &str, path: &str) -> Result<KeyFile> {
        let pem = pem::parse(text).map_err(|e| match e {
            pem::PemError::NoBlock => KeyError::corrupt(path, "no PEM block (is the file truncated?)"),
            pem::PemError::Damaged(why) => KeyError::corrupt(path, why),
        })?;
        if pem.label != ENCRYPTED_LABEL {
            return Err(KeyError::WrongLabel {
                path: path.to_owned(),
                label: pem.label,
            });
        }
        Self::from_pem(pem, path)
    }

    /// Builds a key file from a parsed PEM block whose preamble holds vouch
    /// metadata.
    pub fn from_pem(pem: pem::Pem, path: &str) -> Result<KeyFile> {
        let field = |k: &str| {
            pem.preamble_value(k)
                .ok_or_else(|| KeyError::corrupt(path, format!("missing `{k}` line")))
        };
        if field(FORMAT_LINE)? != "1" {
            return Err(KeyError::Unsupported {
                path: path.to_owned(),
                what: "key file version".to_owned(),
            });
        }
        if let Some(sum) = pem.preamble_value("checksum") {
            let actual = format!("sha256:{}", hex::encode(Sha256::digest(&pem.der)));
            if sum != actual {
                return Err(KeyError::corrupt(
                    path,
                    "checksum mismatch: the encrypted key was altered or damaged",
                ));
            }
        }
        let spki = STANDARD
            .decode(field("public")?)
            .map_err(|_| KeyError::corrupt(path, "bad `public` line"))?;
        let public =
            PublicKey::from_spki_der(&spki).ok_or_else(|| KeyError::corrupt(path, "bad `public` line"))?;
        let id = public.key_id();
        if field("id")? != id.as_str() {
            return Err(KeyError::corrupt(path, "`id` does not match the public key"));
        }
        if KeyAlgorithm::parse(field("algorithm")?) != Some(public.algorithm()) {
            return Err(KeyError::corrupt(
                path,
                "`algorithm` does not match the public key",
            ));
        }
        let name = field("name")?.to_owned();
        validate_name(&name)?;
        let role = Role::parse(field("role")?)?;
        let repo = pem.preamble_value("repo").map(str::to_owned);
        if let Some(r) = &repo {
            validate_repo(r)?;
        }
        let created = OffsetDateTime::parse(field("created")?, &Rfc3339)
            .map_err(|_| KeyError::corrupt(path, "bad `created` line"))?;
        Ok(KeyFile {
            info: KeyInfo {
                id,
                name,
                role,
                repo,
                public,
                created,
            },
            sealed: pem.der,
        })
    }

    /// Checks that an unlocked private key is the one this file describes.
    pub fn check_matches(&self, key: &PrivateKey, path: &str) -> Result<()> {
        if key.public() != self.info.public {
            return Err(KeyError::corrupt(
                path,
                "the private key does not match the file's public key",
            ));
        }
        Ok(())
    }
}

/// Now, truncated to whole seconds, UTC.
pub fn now_utc() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}
