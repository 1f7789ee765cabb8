//! Reading keys written by other tools: OpenSSL (plain or encrypted PKCS#8,
//! SEC1), Docker Content Trust and notary (`role:` / `gun:` header lines,
//! PBES2 with PBKDF2-SHA1 and AES-256-CBC), and vouch's own files.

use crate::error::{KeyError, Result};
use crate::keyfile::{self, KeyFile, Role};
use crate::passphrase::{Obtained, PassphraseProvider};
use crate::pem::{self, PemError};
use crate::secret::PrivateKey;
use crate::unlock::open_with;

/// A private key read from a foreign file, with what the file said about it.
#[derive(Debug)]
pub struct Foreign {
    /// The key.
    pub key: PrivateKey,
    /// Role from the file (`role:` header or vouch metadata).
    pub role: Option<Role>,
    /// Repository from the file (`gun:` header or vouch metadata).
    pub repo: Option<String>,
    /// Name from vouch metadata.
    pub name: Option<String>,
    /// The passphrase that opened it, when it was encrypted.
    pub opened_with: Option<Obtained>,
    /// A word on the format, for messages.
    pub format: &'static str,
}

/// Reads a private key file written by another tool (or by vouch).
/// `role_override` is the role the user said the key has; it decides which
/// passphrase variables apply when the file does not say.
pub fn read_foreign(
    text: &str,
    path: &str,
    role_override: Option<&Role>,
    default_role: &Role,
    provider: &mut dyn PassphraseProvider,
) -> Result<Foreign> {
    let block = pem::parse(text).map_err(|e| match e {
        PemError::NoBlock => KeyError::NotPem {
            path: path.to_owned(),
        },
        PemError::Damaged(why) => KeyError::corrupt(path, why),
    })?;
    let header_role = block
        .header("role")
        .or(block.preamble_value("role"))
        .map(Role::parse)
        .transpose()?;
    let repo = block
        .header("gun")
        .or(block.preamble_value("repo"))
        .map(str::to_owned);
    if let Some(r) = &repo {
        keyfile::validate_repo(r)?;
    }
    let role = role_override.cloned().or(header_role);
    let class = role.as_ref().unwrap_or(default_role).class();
    match block.label.as_str() {
        keyfile::ENCRYPTED_LABEL => {
            let (name, expected) = if block.preamble_value("vouch-key-file").is_some() {
                let file = KeyFile::from_pem(block.clone(), path)?;
                (Some(file.info.name.clone()), Some(file.info.public.clone()))
            } else {
                (None, None)
            };
            let what = format!("key file {path}");
            let (key, got) = open_with(provider, &what, class, None, &block.der, path)?;
            if expected.is_some_and(|p| p != key.public()) {
                return Err(KeyError::corrupt(
                    path,
                    "the private key does not match the file's public key",
                ));
            }
            let format = if block.header("role").is_some() {
                "Docker Content Trust / notary"
            } else if name.is_some() {
                "vouch"
            } else {
                "encrypted PKCS#8"
            };
            Ok(Foreign {
                key,
                role,
                repo,
                name,
                opened_with: Some(got),
                format,
            })
        }
        "PRIVATE KEY" => Ok(Foreign {
            key: PrivateKey::from_pkcs8_der(&block.der, path)?,
            role,
            repo,
            name: None,
            opened_with: None,
            format: "PKCS#8",
        }),
        "EC PRIVATE KEY" => {
            if block.header("Proc-Type").is_some() {
                return Err(KeyError::Unsupported {
                    path: path.to_owned(),
                    what: "legacy PEM encryption (convert with `openssl pkcs8 -topk8`)".to_owned(),
                });
            }
            Ok(Foreign {
                key: PrivateKey::from_sec1_der(&block.der, path)?,
                role,
                repo,
                name: None,
                opened_with: None,
                format: "SEC1",
            })
        }
        "PUBLIC KEY" | "CERTIFICATE" | "EC PUBLIC KEY" | "RSA PUBLIC KEY" => Err(KeyError::PublicKeyOnly {
            path: path.to_owned(),
            label: block.label,
        }),
        _ => Err(KeyError::WrongLabel {
            path: path.to_owned(),
            label: block.label,
        }),
    }
}
