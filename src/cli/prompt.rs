//! The CLI's passphrase provider. Sources, in order: the role's environment
//! variables (vouch's, Docker's, notary's), `--passphrase-file`,
//! `--passphrase-stdin` (one line each time a passphrase is needed), the OS
//! keyring cache (existing keys only), then a no-echo prompt on the
//! terminal — asked twice for a new passphrase (again after a mismatch or
//! a passphrase under 8 characters), up to three times after a wrong one.
//! A wrong passphrase from any other source fails at once.
//!
//! The online keys (snapshot and timestamp) share one passphrase: one
//! typed or read from stdin for either is tried first for the other, and
//! seals the other when it is made in the same run. So `sign` asks for at
//! most two passphrases (the signing key's, the online keys'), `init` for
//! three (root, targets, online).
//!
//! Keys are unlocked in one order in every command (see [`unlock_order`]),
//! which is the order of `--passphrase-stdin`'s lines.

use std::collections::VecDeque;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use vouch_keys::keyfile::RoleClass;
use vouch_keys::keyring::KeyringCache;
use vouch_keys::passphrase::{self, Obtained, PassphraseProvider, Purpose, Request, Source};
use vouch_keys::{KeyError, Passphrase};
use zeroize::Zeroizing;

/// Passphrase options shared by the commands that unlock or create keys.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PassphraseArgs {
    /// Read the passphrase from FILE (its whole content, less one trailing newline)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Read passphrases from standard input, one line for each one needed,
    /// in this order: root keys, targets key, signer keys, then one line
    /// shared by the snapshot and timestamp keys (a further line only if
    /// the timestamp key has a passphrase of its own)
    #[arg(long)]
    pub passphrase_stdin: bool,
}

/// `--allow-short-passphrase`, for the commands that seal new keys.
#[derive(Clone, Copy, Debug, Default, clap::Args)]
pub struct AllowShort {
    /// Accept a new passphrase shorter than 8 characters, or an empty one
    /// (the key is then stored unprotected)
    #[arg(long, alias = "allow-empty-passphrase")]
    pub allow_short_passphrase: bool,
}

const MAX_PROMPTS: usize = 3;

/// Walks the sources in order.
pub struct Provider {
    args: PassphraseArgs,
    interactive: bool,
    allow_short: bool,
    /// Replaces the role's environment variables (for `key passwd`'s new passphrase).
    env_override: Option<&'static str>,
    /// The OS keyring, opened on first use (`None` inside: unavailable).
    keyring: std::cell::OnceCell<Option<KeyringCache>>,
    skip_keyring: bool,
    prompts: usize,
    /// The passphrase typed or read from stdin for an online key in this
    /// run, tried first to unlock the other one; it seals another new
    /// online key only when it was itself given for a new key (a rotation
    /// that unlocked the old key never reuses the old passphrase).
    online: Option<(Passphrase, Purpose)>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}

impl Provider {
    pub fn new(args: PassphraseArgs, interactive: bool) -> Provider {
        Provider {
            args,
            interactive,
            allow_short: false,
            env_override: None,
            keyring: std::cell::OnceCell::new(),
            skip_keyring: false,
            prompts: 0,
            online: None,
        }
    }

    /// Accept a new passphrase shorter than 8 characters, or empty.
    pub fn allow_short(mut self, allow: bool) -> Provider {
        self.allow_short = allow;
        self
    }

    /// Read only this environment variable instead of the role's.
    pub fn env_override(mut self, var: &'static str) -> Provider {
        self.env_override = Some(var);
        self
    }

    fn keyring(&self) -> Option<&KeyringCache> {
        self.keyring.get_or_init(|| KeyringCache::open().ok()).as_ref()
    }

    fn env_source(&self, req: &Request<'_>) -> Option<Obtained> {
        let env = |var: &str| std::env::var(var).ok();
        match self.env_override {
            Some(var) => env(var).filter(|v| !v.is_empty()).map(|v| Obtained {
                passphrase: Passphrase::new(v),
                source: Source::Env(var),
            }),
            None => passphrase::from_env(req.class, env),
        }
    }

    /// The online keys' shared passphrase, for an online key.
    fn shared(&self, req: &Request<'_>) -> Option<Obtained> {
        if !is_online(req.class) {
            return None;
        }
        match (&self.online, req.purpose) {
            (Some((p, _)), Purpose::Unlock) | (Some((p, Purpose::Create)), Purpose::Create) => {
                Some(Obtained {
                    passphrase: p.clone(),
                    source: Source::Shared,
                })
            }
            _ => None,
        }
    }

    /// Refuses lines of `--passphrase-stdin` left unread once every
    /// passphrase was asked for: they were meant for keys in another order
    /// (or for a key that now shares a passphrase), and a key sealed or
    /// unlocked with the wrong line must not pass silently.
    pub fn check_stdin_used(&self) -> Result<(), crate::cli::CliError> {
        if !self.args.passphrase_stdin {
            return Ok(());
        }
        match stdin_lines_left() {
            0 => Ok(()),
            n => Err(crate::cli::CliError::failed(
                format!("standard input holds {n} line(s) more than the passphrases asked for"),
                "give one line a passphrase, in the order root, targets, signers, then one line the snapshot \
                 and timestamp keys share; nothing was written",
            )),
        }
    }

    fn next_source(&mut self, req: &Request<'_>) -> Result<Option<Obtained>, KeyError> {
        if let Some(path) = &self.args.passphrase_file {
            return Ok(Some(Obtained {
                passphrase: passphrase::read_file(path)?,
                source: Source::File(path.clone()),
            }));
        }
        if self.args.passphrase_stdin {
            return stdin_line().map(|p| {
                Some(Obtained {
                    passphrase: p,
                    source: Source::Stdin,
                })
            });
        }
        if let (Purpose::Unlock, Some(id), false) = (req.purpose, req.key_id, self.skip_keyring)
            && let Some(cache) = self.keyring()
            && let Ok(Some(p)) = cache.recall(id, time::OffsetDateTime::now_utc())
        {
            return Ok(Some(Obtained {
                passphrase: p,
                source: Source::Keyring,
            }));
        }
        Ok(None)
    }

    /// Whether a passphrase this provider lacks would be asked for on the
    /// terminal (rather than failing).
    pub fn may_prompt(&self) -> bool {
        self.interactive && terminal_available()
    }

    fn prompt(&mut self, req: &Request<'_>) -> Result<Obtained, KeyError> {
        let no_source = || KeyError::NoPassphrase {
            what: req.what.to_owned(),
            env_vars: match self.env_override {
                Some(v) => vec![v],
                None => passphrase::env_vars(req.class).to_vec(),
            },
        };
        if !terminal_available() {
            return Err(no_source());
        }
        if !self.interactive {
            return Err(KeyError::PromptsForbidden {
                what: req.what.to_owned(),
                env_vars: match self.env_override {
                    Some(v) => vec![v],
                    None => passphrase::env_vars(req.class).to_vec(),
                },
            });
        }
        let tty_err = |e: std::io::Error| KeyError::Io {
            action: "reading a passphrase from",
            path: "/dev/tty".into(),
            source: e,
        };
        let shared = if is_online(req.class) {
            " (the snapshot and timestamp keys share it)"
        } else {
            ""
        };
        if req.purpose == Purpose::Unlock {
            self.prompts += 1;
            let pass = Zeroizing::new(
                rpassword::prompt_password(format!("Passphrase for {}{shared}: ", req.what))
                    .map_err(tty_err)?,
            );
            return Ok(Obtained {
                passphrase: Passphrase::new(pass.to_string()),
                source: Source::Terminal,
            });
        }
        // A new passphrase: asked twice, and again (up to three times in
        // all) after a mismatch or one too short.
        let mut refused = KeyError::PassphraseMismatch;
        for attempt in 0..MAX_PROMPTS {
            if attempt > 0 {
                eprintln!("{refused}; try again");
            }
            let pass = Zeroizing::new(
                rpassword::prompt_password(format!("New passphrase for {}{shared}: ", req.what))
                    .map_err(tty_err)?,
            );
            if let Err(e) = self.check_new(req, &pass) {
                refused = e;
                continue;
            }
            let again =
                Zeroizing::new(rpassword::prompt_password("Repeat the passphrase: ").map_err(tty_err)?);
            if *pass != *again {
                refused = KeyError::PassphraseMismatch;
                continue;
            }
            return Ok(Obtained {
                passphrase: Passphrase::new(pass.to_string()),
                source: Source::Terminal,
            });
        }
        Err(refused)
    }

    /// Whether `pass` may seal a new key: at least
    /// [`passphrase::MIN_NEW_PASSPHRASE`] characters unless short ones
    /// were allowed.
    fn check_new(&self, req: &Request<'_>, pass: &str) -> Result<(), KeyError> {
        if self.allow_short {
            return Ok(());
        }
        if pass.is_empty() {
            return Err(KeyError::EmptyPassphrase {
                what: req.what.to_owned(),
            });
        }
        if pass.chars().count() < passphrase::MIN_NEW_PASSPHRASE {
            return Err(KeyError::ShortPassphrase {
                what: req.what.to_owned(),
                min: passphrase::MIN_NEW_PASSPHRASE,
            });
        }
        Ok(())
    }
}

impl PassphraseProvider for Provider {
    fn obtain(&mut self, req: &Request<'_>, rejected: Option<&Source>) -> Result<Obtained, KeyError> {
        let wrong = || KeyError::WrongPassphrase {
            what: req.what.to_owned(),
        };
        let got = match rejected {
            None => match self.env_source(req).or_else(|| self.shared(req)) {
                Some(got) => got,
                None => match self.next_source(req)? {
                    Some(got) => got,
                    None => self.prompt(req)?,
                },
            },
            // The other online key has a passphrase of its own.
            Some(Source::Shared) => {
                self.online = None;
                match self.next_source(req)? {
                    Some(got) => got,
                    None => self.prompt(req)?,
                }
            }
            Some(Source::Keyring) => {
                // A stale cache entry: forget it and ask the person.
                if let (Some(id), Some(cache)) = (req.key_id, self.keyring()) {
                    let _ = cache.forget(id);
                }
                self.skip_keyring = true;
                self.prompt(req)?
            }
            // Several variables name a role's passphrase (vouch's, Docker
            // Content Trust's, notary's): a key from another tool may be
            // sealed under the next one, so a rejected one does not hide it.
            Some(Source::Env(var)) if self.env_override.is_none() => {
                next_env_after(req.class, var, |v| std::env::var(v).ok()).ok_or_else(wrong)?
            }
            Some(Source::Terminal) if self.prompts < MAX_PROMPTS => {
                eprintln!("wrong passphrase, try again");
                self.prompt(req)?
            }
            Some(_) => return Err(wrong()),
        };
        // A value in the environment is the deployment's own choice, as
        // with Docker and notary; the other sources are held to the rule.
        if req.purpose == Purpose::Create {
            match got.source {
                Source::Env(_) if !got.passphrase.is_empty() => {}
                _ => self.check_new(req, got.passphrase.expose())?,
            }
        }
        if is_online(req.class) && matches!(got.source, Source::Terminal | Source::Stdin) {
            self.online = Some((got.passphrase.clone(), req.purpose));
        }
        Ok(got)
    }
}

/// Whether keys of `class` are online keys (snapshot, timestamp), which
/// share one passphrase.
fn is_online(class: RoleClass) -> bool {
    matches!(class, RoleClass::Snapshot | RoleClass::Timestamp)
}

/// The order keys are unlocked in, in every command (and so the order of
/// `--passphrase-stdin`'s lines): root, targets, signers (delegations),
/// then the online keys, snapshot before timestamp.
pub fn unlock_order(class: RoleClass) -> u8 {
    match class {
        RoleClass::Root => 0,
        RoleClass::Targets => 1,
        RoleClass::Delegation => 2,
        RoleClass::Snapshot => 3,
        RoleClass::Timestamp => 4,
    }
}

/// The first variable after `rejected` in the role's list that is set, to
/// a value other than the rejected one's.
fn next_env_after(
    class: RoleClass,
    rejected: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Option<Obtained> {
    let vars = passphrase::env_vars(class);
    let at = vars.iter().position(|v| *v == rejected)?;
    let tried = Zeroizing::new(lookup(rejected).unwrap_or_default());
    vars[at + 1..].iter().find_map(|&var| {
        let value = Zeroizing::new(lookup(var)?);
        (!value.is_empty() && *value != *tried).then(|| Obtained {
            passphrase: Passphrase::new(value.to_string()),
            source: Source::Env(var),
        })
    })
}

/// Whether a controlling terminal can be opened for prompting.
pub fn terminal_available() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_ok()
}

/// Standard input's lines, read whole on first use.
static LINES: OnceLock<Mutex<Result<VecDeque<Zeroizing<String>>, String>>> = OnceLock::new();

/// Lines of standard input not yet taken (0 when it was never read).
fn stdin_lines_left() -> usize {
    LINES
        .get()
        .and_then(|l| l.lock().ok().map(|q| q.as_ref().map_or(0, VecDeque::len)))
        .unwrap_or(0)
}

/// The next line of standard input (all of stdin is read on first use).
fn stdin_line() -> Result<Passphrase, KeyError> {
    let lines = LINES.get_or_init(|| {
        let mut buf = Zeroizing::new(Vec::new());
        let read = std::io::stdin()
            .lock()
            .take(passphrase::MAX_PASSPHRASE_FILE)
            .read_to_end(&mut buf)
            .map_err(|e| e.to_string())
            .and_then(|_| String::from_utf8(buf.to_vec()).map_err(|_| "not UTF-8".to_owned()));
        Mutex::new(read.map(|text| {
            let text = Zeroizing::new(text);
            text.lines()
                .map(|l| Zeroizing::new(l.trim_end_matches('\r').to_owned()))
                .collect()
        }))
    });
    let stdin_err = |why: String| KeyError::Io {
        action: "reading a passphrase from",
        path: "standard input".into(),
        source: std::io::Error::other(why),
    };
    let mut guard = lines.lock().map_err(|_| stdin_err("poisoned".to_owned()))?;
    match guard.as_mut() {
        Ok(queue) => queue
            .pop_front()
            .map(|line| Passphrase::new(line.to_string()))
            .ok_or_else(|| stdin_err("no more lines: one line is needed for each passphrase".to_owned())),
        Err(e) => Err(stdin_err(e.clone())),
    }
}
