//! The CLI's error contract: one `error:` line, one `hint:` line, and an
//! exit code — 0 done, 1 refused (a definite "no"), 2 could not decide or
//! could not do it (usage, I/O, passphrase, corrupt file).

use std::process::ExitCode;

use vouch_keys::KeyError;

/// How a command failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A definite "no": unsigned, invalid, expired, denied by policy.
    Refused,
    /// Could not decide or could not do it.
    Failed,
}

/// An error ready for the user: what happened and what to do about it.
#[derive(Clone, Debug)]
pub struct CliError {
    /// Refused or failed.
    pub failure: Failure,
    /// The `error:` line.
    pub message: String,
    /// The `hint:` line.
    pub hint: String,
}

impl CliError {
    /// A failure (exit 2).
    pub fn failed(message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError {
            failure: Failure::Failed,
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// A refusal (exit 1).
    pub fn refused(message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError {
            failure: Failure::Refused,
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// A broken invariant: a bug in vouch (exit 2, "could not do it").
    pub fn bug(what: impl std::fmt::Display) -> Self {
        CliError::failed(
            format!("internal error: {what}"),
            "this is a bug in vouch, not in your data: please report it with the command that hit it",
        )
    }

    /// The exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        match self.failure {
            Failure::Refused => ExitCode::from(1),
            Failure::Failed => ExitCode::from(2),
        }
    }

    /// Prints the two lines on stderr.
    pub fn report(&self) {
        eprintln!("error: {}", self.message);
        eprintln!("hint: {}", self.hint);
    }
}

impl From<KeyError> for CliError {
    fn from(e: KeyError) -> Self {
        let hint = match &e {
            KeyError::WrongPassphrase { .. } => {
                "check the passphrase (a wrong one from the environment or a file is not retried); \
                 `vouch key passwd` changes it"
                    .to_owned()
            }
            KeyError::NoPassphrase { env_vars, .. } => format!(
                "set {}, or pass --passphrase-file FILE or --passphrase-stdin, or run on a terminal",
                env_vars.join(" or ")
            ),
            KeyError::PromptsForbidden { env_vars, .. } => format!(
                "set {}, or pass --passphrase-file FILE or --passphrase-stdin, or drop --non-interactive to be asked",
                env_vars.join(" or ")
            ),
            KeyError::EmptyPassphrase { .. } => {
                "choose a passphrase (`--allow-short-passphrase`, where keys are made, stores a key unprotected)"
                    .to_owned()
            }
            KeyError::ShortPassphrase { min, .. } => format!(
                "choose one of {min} characters or more; `--allow-short-passphrase`, where keys are made, accepts a shorter one"
            ),
            KeyError::PassphraseMismatch => "type the same passphrase twice".to_owned(),
            KeyError::NotPem { .. } | KeyError::WrongLabel { .. } => {
                "give a PEM private key: PKCS#8 (`PRIVATE KEY` or `ENCRYPTED PRIVATE KEY`), SEC1 \
                 (`EC PRIVATE KEY`), or a Docker trust key from ~/.docker/trust/private"
                    .to_owned()
            }
            KeyError::PublicKeyOnly { .. } => {
                "import the private key file; a signer's public key is added with `vouch signer add`"
                    .to_owned()
            }
            KeyError::Corrupt { .. } => {
                "restore the file from a backup or re-import the key; vouch left it as it was".to_owned()
            }
            KeyError::KdfCostTooHigh { .. } => {
                "re-encrypt the key at a lower cost (e.g. `openssl pkcs8 -topk8 -scrypt`) before using it"
                    .to_owned()
            }
            KeyError::Unsupported { .. } => {
                "vouch holds ed25519 and ECDSA P-256 keys sealed with PBES2".to_owned()
            }
            KeyError::NotFound { .. } => "`vouch key list` shows the keys in the trust directory".to_owned(),
            KeyError::Ambiguous { .. } => "give more digits of the key id".to_owned(),
            KeyError::DuplicateKey { .. } => "the key is already there; `vouch key list` shows it".to_owned(),
            KeyError::DuplicateName { .. } => "choose another name, or remove the old key first".to_owned(),
            KeyError::InvalidName { .. } => "use letters, digits, '.', '_' and '-'".to_owned(),
            KeyError::InsecurePermissions { path, .. } => {
                let mode = if path.is_dir() { "700" } else { "600" };
                format!(
                    "run `chmod {mode} {}` if that access was not intended",
                    path.display()
                )
            }
            KeyError::Io { .. } => {
                "check that the path exists and that you may write there; --trust-dir or VOUCH_TRUST_DIR \
                 chooses another trust directory"
                    .to_owned()
            }
            KeyError::KeyringUnavailable { .. } => {
                "passphrases are read from the environment, a file, stdin or the terminal instead".to_owned()
            }
            _ => "see `vouch --help`".to_owned(),
        };
        CliError::failed(e.to_string(), hint)
    }
}

impl From<crate::trust::TrustError> for CliError {
    fn from(e: crate::trust::TrustError) -> Self {
        use crate::trust::TrustError;
        match e {
            TrustError::Key(k) => k.into(),
            e => CliError {
                failure: if e.is_refusal() {
                    Failure::Refused
                } else {
                    Failure::Failed
                },
                hint: e.hint(),
                message: e.to_string(),
            },
        }
    }
}

impl From<crate::policy::PolicyError> for CliError {
    fn from(e: crate::policy::PolicyError) -> Self {
        CliError::failed(e.to_string(), "fix or remove the policy file")
    }
}

impl From<crate::update::UpdateError> for CliError {
    fn from(e: crate::update::UpdateError) -> Self {
        use crate::tuf::TufError;
        use crate::update::UpdateError;
        let hint = match &e {
            UpdateError::Refused(t) => match t {
                TufError::Rollback { .. } | TufError::RoleRemoved { .. } => {
                    "the repository served older metadata than this client trusts: do not use it; \
                               if the repository was rebuilt on purpose, re-initialise from its new root"
                        .to_owned()
                }
                TufError::Expired { .. } => {
                    "the repository must re-sign its metadata (`vouch refresh` for vouch repositories)"
                        .to_owned()
                }
                _ => "the repository's metadata is not trustworthy; nothing was downloaded".to_owned(),
            },
            UpdateError::NoSuchTarget(_) => {
                "check the target name; `vouch tuf refresh` updates the metadata".to_owned()
            }
            UpdateError::Unavailable { .. } | UpdateError::Fetch(_) => {
                "check the URL and that the repository is reachable; nothing was decided".to_owned()
            }
            UpdateError::Local { .. } => {
                "check the metadata directory (`vouch tuf init` creates it)".to_owned()
            }
        };
        CliError {
            failure: if e.is_refusal() {
                Failure::Refused
            } else {
                Failure::Failed
            },
            message: e.to_string(),
            hint,
        }
    }
}

/// A store error: could not decide (exit 2).
impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        let hint = e.hint();
        CliError::failed(e.to_string(), hint)
    }
}
