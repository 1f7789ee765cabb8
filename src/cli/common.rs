//! Shared by the commands that work on an image repository: parsing a
//! reference, opening its store, and unlocking or creating keys. Trust
//! decisions are not made here: they are the trust layer's
//! ([`crate::trust`]).

use vouch_keys::passphrase::{PassphraseProvider, Purpose, Request};
use vouch_keys::{KeyFile, KeyInfo, PrivateKey, Role, StoredKey, keyfile, sealed, unlock};

use super::prompt::Provider;
use super::{CliError, Context};
use crate::reference::{ImageRef, Location};
use crate::store::Store;
use crate::store::oci_layout::OciLayout;
use crate::store::registry::Registry;
use crate::trust::Trust;

/// Parses a reference, with the CLI's error shape.
pub fn parse_ref(s: &str) -> Result<ImageRef, CliError> {
    const FORMS: &str = "references look like oci:DIR:TAG, REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:…";
    if let Some(rest) = s.strip_prefix("http://").or_else(|| s.strip_prefix("https://")) {
        return Err(CliError::failed(
            format!("{s:?} is a URL, not an image reference"),
            format!(
                "write {rest} without the scheme: vouch speaks plain HTTP to registries on loopback and HTTPS to the rest"
            ),
        ));
    }
    // A directory named without `oci:` reads as a registry name (or not at
    // all): say what to write.
    let layout_hint = || {
        let path = s
            .rsplit_once(':')
            .map_or(s, |(p, tag)| if tag.contains('/') { s } else { p });
        let dir = std::path::Path::new(path);
        (dir.is_dir() && (dir.join("oci-layout").is_file() || dir.join("index.json").is_file()))
            .then(|| format!("{path} is an OCI image layout on this machine: write oci:{s}"))
    };
    match ImageRef::parse(s) {
        Ok(r) => match (&r.location, layout_hint()) {
            (crate::reference::Location::Registry { .. }, Some(hint)) => Err(CliError::failed(
                format!("{s:?} names a registry, and a directory here"),
                hint,
            )),
            _ => Ok(r),
        },
        Err(e) => Err(CliError::failed(
            e.to_string(),
            layout_hint().unwrap_or_else(|| FORMS.to_owned()),
        )),
    }
}

/// The level every gate starts from: enforcing unless
/// `VOUCH_CONTENT_TRUST` / `DOCKER_CONTENT_TRUST` switch it to audit or off;
/// a value that is not one of the forms (or not UTF-8) is a usage error.
pub fn gate_level() -> Result<crate::policy::Level, CliError> {
    crate::gate_switch::mode_enforcing_from_env().ok_or_else(|| {
        CliError::failed(
            "VOUCH_CONTENT_TRUST must be 0, 1, false, true or audit (and valid UTF-8)",
            "unset it to enforce, or set it to 0 to switch the gate off",
        )
    })
}

/// Most references one `--from-file` may list (twice the 100,000 tags of
/// a repository that tags every build).
const MAX_REFERENCES: usize = 200_000;
/// Most bytes of a references file read, all lines together.
const MAX_REFERENCES_BYTES: u64 = 32 << 20;
/// Longest line of a references file (a reference is far shorter).
const MAX_REFERENCE_LINE: usize = 4096;

/// The references in FILE (`-`: standard input), one a line; blank lines
/// and lines starting with `#` are skipped, surrounding spaces trimmed. A
/// line with a control character is refused (it could make a result line
/// print as another).
pub fn read_references(path: &std::path::Path) -> Result<Vec<String>, CliError> {
    use std::io::BufRead;
    let shown = path.display().to_string();
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| CliError::failed(format!("{shown}: {e}"), "check the --from-file path"))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut refs = Vec::new();
    // A line is read against its limit: a file without newlines is not
    // read into memory whole.
    let mut limited = std::io::Read::take(reader, 0);
    let mut left = MAX_REFERENCES_BYTES;
    for number in 1.. {
        let mut line = Vec::new();
        // The line, its line ending, and one byte to tell a longer line.
        let allowed = (MAX_REFERENCE_LINE as u64 + 3).min(left + 1);
        limited.set_limit(allowed);
        let n = limited
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::failed(format!("{shown}: {e}"), "check the --from-file path"))?;
        if n == 0 {
            break;
        }
        if n as u64 > left {
            return Err(CliError::failed(
                format!("{shown} is larger than {} MiB", MAX_REFERENCES_BYTES >> 20),
                "split the list and run once for each part",
            ));
        }
        left -= n as u64;
        if line.ends_with(b"\n") {
            line.pop();
            if line.ends_with(b"\r") {
                line.pop();
            }
        }
        if line.len() > MAX_REFERENCE_LINE {
            return Err(CliError::failed(
                format!("{shown}: line {number} is longer than {MAX_REFERENCE_LINE} bytes"),
                "list one reference a line",
            ));
        }
        let text = std::str::from_utf8(&line).map_err(|_| {
            CliError::failed(
                format!("{shown}: line {number} is not UTF-8"),
                "list one reference a line",
            )
        })?;
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if text.chars().any(char::is_control) {
            return Err(CliError::failed(
                format!("{shown}: line {number} has a control character"),
                "list one reference a line",
            ));
        }
        if refs.len() == MAX_REFERENCES {
            return Err(CliError::failed(
                format!("{shown} lists more than {MAX_REFERENCES} references"),
                "split the list and run once for each part",
            ));
        }
        refs.push(text.to_owned());
    }
    Ok(refs)
}

/// Parses a repository (`oci:DIR` or `REGISTRY/REPO`) for a command that
/// takes a whole repository: a tag or digest is a usage error.
pub fn parse_repository(s: &str, command: &str) -> Result<ImageRef, CliError> {
    let r = parse_ref(s)?;
    if r.tag.is_some() || r.digest.is_some() {
        return Err(CliError::failed(
            format!("{command} takes a repository, not a tag"),
            "drop the :TAG",
        ));
    }
    Ok(r)
}

/// Opens the store of a reference (creating an empty layout when `create`).
pub fn open_store(ctx: &Context, r: &ImageRef, create: bool) -> Result<Box<dyn Store>, CliError> {
    match &r.location {
        Location::Layout(dir) => {
            let layout = if create {
                OciLayout::create(dir)
            } else {
                OciLayout::open(dir)
            }?;
            Ok(Box::new(layout))
        }
        Location::Registry { registry, repository } => {
            let auth = crate::store::auth::for_registry(registry).map_err(|e| {
                CliError::failed(
                    e.to_string(),
                    "check ~/.docker/config.json (or $DOCKER_CONFIG) and its credential helper",
                )
            })?;
            let lock = ctx.trust_dir.path().join("locks").join(format!(
                "{}.lock",
                crate::tuf::metadata::encode_segment(&r.repository())
            ));
            Ok(Box::new(Registry::new(registry, repository, auth, lock)?))
        }
    }
}

/// The trust layer's view of this invocation.
pub fn trust(ctx: &Context) -> Trust {
    Trust::new(
        ctx.trust_dir.path().to_owned(),
        ctx.offline,
        std::sync::Arc::new(|n: &crate::trust::Notice| eprintln!("{}: {n}", n.level())),
    )
}

/// Unlocks a stored key with the usual passphrase sources.
pub fn unlock_key(stored: &StoredKey, provider: &mut Provider) -> Result<PrivateKey, CliError> {
    Ok(unlock(stored, provider)?.0)
}

/// Unlocks several stored keys, asking in the one order every command
/// uses ([`crate::cli::prompt::unlock_order`]); returns them in the order given.
pub fn unlock_all(stored: &[StoredKey], provider: &mut Provider) -> Result<Vec<PrivateKey>, CliError> {
    let mut order: Vec<usize> = (0..stored.len()).collect();
    order.sort_by_key(|&i| crate::cli::prompt::unlock_order(stored[i].file.info.role.class()));
    let mut keys: Vec<Option<PrivateKey>> = (0..stored.len()).map(|_| None).collect();
    for i in order {
        keys[i] = Some(unlock_key(&stored[i], provider)?);
    }
    Ok(keys.into_iter().flatten().collect())
}

/// Generates and stores a key for `role` of `repo`, named `{base}-{role}`
/// (made unique), and returns it unlocked.
pub fn generate_key(
    ctx: &Context,
    provider: &mut Provider,
    base: &str,
    role: &str,
    repo: &str,
) -> Result<PrivateKey, CliError> {
    let new = NewKey::ask(ctx, provider, base, role, repo, &[])?;
    let file = new.seal()?;
    ctx.trust_dir.insert(&file)?;
    Ok(new.key)
}

/// A key made in memory with the passphrase that will seal it: nothing
/// is written until [`NewKey::seal`]'s file is inserted, so a command that
/// asks for several passphrases can ask them all before it writes a key.
pub struct NewKey {
    pub key: PrivateKey,
    info: KeyInfo,
    passphrase: vouch_keys::Passphrase,
    /// Where its passphrase came from.
    pub sealed_with: vouch_keys::passphrase::Source,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("name", &self.info.name)
            .finish_non_exhaustive()
    }
}

impl NewKey {
    /// Generates a key for `role` of `repo`, named `{base}-{role}` (made
    /// unique among the keys here and `also_taken`), and asks for its passphrase.
    pub fn ask(
        ctx: &Context,
        provider: &mut Provider,
        base: &str,
        role: &str,
        repo: &str,
        also_taken: &[&NewKey],
    ) -> Result<NewKey, CliError> {
        let role = Role::parse(role)?;
        let mut taken: Vec<String> = ctx
            .trust_dir
            .list()?
            .keys
            .into_iter()
            .map(|k| k.file.info.name)
            .collect();
        taken.extend(also_taken.iter().map(|k| k.info.name.clone()));
        let mut name = format!("{base}-{role}");
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}-{role}-{n}");
            n += 1;
        }
        let what = format!("new {role} key {name} for {repo}");
        let pass = provider.obtain(
            &Request {
                purpose: Purpose::Create,
                what: &what,
                class: role.class(),
                key_id: None,
            },
            None,
        )?;
        let key = PrivateKey::generate_ed25519()?;
        Ok(NewKey {
            info: KeyInfo {
                id: key.public().key_id(),
                name,
                role,
                repo: Some(repo.to_owned()),
                public: key.public(),
                created: keyfile::now_utc(),
            },
            key,
            passphrase: pass.passphrase,
            sealed_with: pass.source,
        })
    }

    /// The key file: the key sealed under its passphrase.
    pub fn seal(&self) -> Result<KeyFile, CliError> {
        Ok(KeyFile {
            info: self.info.clone(),
            sealed: sealed::seal(&self.key, &self.passphrase, sealed::ScryptCost::DEFAULT)?,
        })
    }
}

/// A key name base for a repository: its last path component.
pub fn name_base(repo: &str) -> String {
    key_name_from(repo.rsplit('/').next().unwrap_or(repo), "repo", 40)
}

/// A key name from arbitrary text: characters a name may not hold become
/// '-', leading dots and dashes go, at most `max` characters; `fallback`
/// when nothing is left.
pub fn key_name_from(text: &str, fallback: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches(['.', '-']);
    if trimmed.is_empty() {
        fallback.to_owned()
    } else {
        trimmed.chars().take(max).collect()
    }
}

/// A repository's snapshot and timestamp keys, unlocked: what every
/// publish signs with.
pub struct OnlineKeys {
    snapshot: Option<PrivateKey>,
    timestamp: PrivateKey,
}

impl std::fmt::Debug for OnlineKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineKeys").finish_non_exhaustive()
    }
}

impl OnlineKeys {
    /// Finds the keys of the verified repository's timestamp role (and
    /// snapshot role, when `snapshot`) in the trust directory and unlocks them.
    pub fn unlock(
        ctx: &Context,
        state: &crate::trust::load::WriterState,
        repo_id: &str,
        provider: &mut Provider,
        snapshot: bool,
    ) -> Result<OnlineKeys, CliError> {
        Self::unlock_for(ctx, &state.repo.root.signed, repo_id, provider, snapshot)
    }

    /// [`OnlineKeys::unlock`] for the keys `root` lists (a root about to
    /// be published, when it replaces an online key).
    pub fn unlock_for(
        ctx: &Context,
        root: &crate::tuf::metadata::Root,
        repo_id: &str,
        provider: &mut Provider,
        snapshot: bool,
    ) -> Result<OnlineKeys, CliError> {
        use crate::trust::signing_keys::listed_by;
        let timestamp = listed_by(&ctx.trust_dir, root, repo_id, "timestamp")?;
        let snapshot = match snapshot {
            true => Some(unlock_key(
                &listed_by(&ctx.trust_dir, root, repo_id, "snapshot")?,
                provider,
            )?),
            false => None,
        };
        let timestamp = unlock_key(&timestamp, provider)?;
        Ok(OnlineKeys { snapshot, timestamp })
    }

    /// [`OnlineKeys::unlock`] of both keys when this trust directory holds
    /// them both; `None` when it lacks either (a signer's machine: what it
    /// signs is staged for a publisher).
    pub fn unlock_if_held(
        ctx: &Context,
        state: &crate::trust::load::WriterState,
        repo_id: &str,
        provider: &mut Provider,
    ) -> Result<Option<OnlineKeys>, CliError> {
        Self::unlock_if_listed(ctx, &state.repo.root.signed, repo_id, provider)
    }

    /// [`OnlineKeys::unlock_if_held`] for the keys `root` lists.
    pub fn unlock_if_listed(
        ctx: &Context,
        root: &crate::tuf::metadata::Root,
        repo_id: &str,
        provider: &mut Provider,
    ) -> Result<Option<OnlineKeys>, CliError> {
        use crate::trust::signing_keys::listed_by;
        let (Ok(snapshot), Ok(timestamp)) = (
            listed_by(&ctx.trust_dir, root, repo_id, "snapshot"),
            listed_by(&ctx.trust_dir, root, repo_id, "timestamp"),
        ) else {
            return Ok(None);
        };
        Ok(Some(OnlineKeys {
            snapshot: Some(unlock_key(&snapshot, provider)?),
            timestamp: unlock_key(&timestamp, provider)?,
        }))
    }

    /// As the trust layer takes them.
    pub fn publishing(&self) -> crate::trust::writer::Publishing<'_> {
        crate::trust::writer::Publishing {
            snapshot: self.snapshot.as_ref(),
            timestamp: &self.timestamp,
        }
    }
}

/// Says what became of a change that was staged rather than published.
pub fn report_staged(repo_id: &str, id: &str, short: &[crate::trust::writer::Shortfall]) {
    let short_id = &id[..id.len().min(12)];
    if short.is_empty() {
        eprintln!(
            "Staged change {short_id} of {repo_id}: signed by its threshold; it waits for a publisher \
             with the snapshot and timestamp keys (`vouch publish {repo_id}`)"
        );
    } else {
        eprintln!(
            "Staged change {short_id} of {repo_id}, not yet published: {}. Verifiers see the live trust data \
             until co-signers approve it (`vouch staged {repo_id}`, then `vouch approve {repo_id} {short_id}`)",
            crate::trust::writer::needs(short)
        );
    }
}

/// A public key file (PEM `PUBLIC KEY`, as `vouch key generate NAME`
/// writes NAME.pub).
pub fn read_public(path: &std::path::PathBuf) -> Result<vouch_keys::PublicKey, CliError> {
    let bad = |why: &str| {
        CliError::failed(
            format!("{} is not a public key file: {why}", path.display()),
            "give the PEM `PUBLIC KEY` file that `vouch key generate NAME` wrote as NAME.pub",
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(&e.to_string()))?;
    let pem = vouch_keys::pem::parse(&text).map_err(|_| bad("no PEM block"))?;
    if pem.label != "PUBLIC KEY" {
        return Err(bad(&format!("found `{}`", pem.label)));
    }
    vouch_keys::PublicKey::from_spki_der(&pem.der).ok_or_else(|| bad("not an ed25519 or ECDSA P-256 key"))
}

/// Keys held here for an admin change: those of the live root's
/// top-level `roles`, unlocked, a label naming them, and the online keys
/// when both are here.
pub fn held_keys(
    ctx: &Context,
    state: &crate::trust::load::WriterState,
    repo_id: &str,
    roles: &[&str],
    provider: &mut Provider,
) -> Result<(Vec<PrivateKey>, String, Option<OnlineKeys>), CliError> {
    let root = &state.repo.root.signed;
    let ids: std::collections::BTreeSet<crate::tuf::KeyId> = roles
        .iter()
        .filter_map(|r| root.roles.get(*r))
        .flat_map(|r| r.keyids.iter().cloned())
        .collect();
    let stored = crate::trust::signing_keys::for_approving(&ctx.trust_dir, &ids, &[])?;
    let names: Vec<String> = stored.iter().map(|k| k.file.info.name.clone()).collect();
    let keys = unlock_all(&stored, provider)?;
    let online = OnlineKeys::unlock_if_held(ctx, state, repo_id, provider)?;
    let by = if names.is_empty() {
        "a key holder".to_owned()
    } else {
        names.join(", ")
    };
    Ok((keys, by, online))
}

/// Says what became of a change: published (`done`), or staged with what
/// it needs and its id on stdout (`staged ID`).
pub fn report_outcome(
    repo_id: &str,
    outcome: &crate::trust::writer::Outcome,
    done: &str,
) -> Result<(), CliError> {
    match outcome {
        crate::trust::writer::Outcome::Published(_) => {
            eprintln!("{done} of {repo_id}");
            Ok(())
        }
        crate::trust::writer::Outcome::Staged { id, short } => {
            report_staged(repo_id, id, short);
            crate::cli::output::print(&format!("staged {id}\n"))
        }
    }
}
