//! `vouch key import FILE...`

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;

use vouch_keys::import::read_foreign;
use vouch_keys::keyfile::{self, KeyFile, KeyInfo, Role};
use vouch_keys::passphrase::{PassphraseProvider, Purpose, Request};
use vouch_keys::{KeyError, sealed};

use super::kdf::KdfChoice;
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context, output};

/// Import private keys and re-seal them with vouch's KDF.
///
/// Reads vouch key files, PKCS#8 PEM (plain or encrypted, as OpenSSL writes
/// it), SEC1 `EC PRIVATE KEY`, and Docker Content Trust / notary key files
/// (`role:` and `gun:` header lines give the role and repository). An
/// encrypted key keeps its passphrase; a plain one gets a new passphrase.
/// Every file is read and decrypted before any is stored.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Key files to import
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Name for the key (one file only) [default: the role, made unique]
    #[arg(long)]
    pub name: Option<String>,
    /// Role for the key [default: the file's `role:` header, else the name]
    #[arg(long)]
    pub role: Option<String>,
    /// Repository scope [default: the file's `gun:` header]
    #[arg(long, value_name = "REPO")]
    pub repo: Option<String>,
    #[command(flatten)]
    pub short: crate::cli::prompt::AllowShort,
    /// Key derivation cost for the new key files
    #[arg(long, value_enum, default_value_t)]
    pub kdf: KdfChoice,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

const MAX_INPUT: u64 = 64 * 1024;

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    if args.name.is_some() && args.files.len() > 1 {
        return Err(CliError::failed(
            "--name needs exactly one file",
            "import the files one at a time to name each",
        ));
    }
    if let Some(n) = &args.name {
        keyfile::validate_name(n)?;
    }
    if let Some(r) = &args.repo {
        keyfile::validate_repo(r)?;
    }
    let role_override = args.role.as_deref().map(Role::parse).transpose()?;
    ctx.trust_dir.check_permissions()?;
    let existing = ctx.trust_dir.list()?.keys;
    let mut names: HashSet<String> = existing.iter().map(|k| k.file.info.name.clone()).collect();
    let mut ids: HashSet<String> = existing.iter().map(|k| k.file.info.id.to_string()).collect();
    let mut provider =
        Provider::new(args.passphrase, ctx.interactive).allow_short(args.short.allow_short_passphrase);

    // Read and decrypt every file first: a bad one stores nothing.
    let mut staged = Vec::new();
    let mut progress = crate::cli::progress::Progress::new("Importing key", args.files.len(), 2);
    for (n, path) in args.files.iter().enumerate() {
        let shown = path.display().to_string();
        progress.step(n, &shown);
        let text = read_text(path)?;
        let stem_name = sanitize(path.file_stem().and_then(|s| s.to_str()).unwrap_or("key"));
        let default_role = Role::parse(args.name.as_deref().unwrap_or(&stem_name))?;
        let foreign = read_foreign(
            &text,
            &shown,
            role_override.as_ref(),
            &default_role,
            &mut provider,
        )?;
        let role = foreign.role.clone().unwrap_or(default_role);
        let public = foreign.key.public();
        let id = public.key_id();
        if !ids.insert(id.to_string()) {
            return Err(KeyError::DuplicateKey { id }.into());
        }
        let name = match (&args.name, &foreign.name) {
            (Some(n), _) => n.clone(),
            (None, Some(n)) if !names.contains(n) => n.clone(),
            _ => {
                let base = sanitize(&role.as_str().replace('/', "-"));
                if names.contains(&base) {
                    format!("{base}-{}", &id.as_str()[..8])
                } else {
                    base
                }
            }
        };
        if let Some(other) = existing.iter().find(|k| k.file.info.name == name) {
            return Err(KeyError::DuplicateName {
                name,
                id: other.file.info.id.clone(),
            }
            .into());
        }
        names.insert(name.clone());
        let repo = args.repo.clone().or(foreign.repo);
        let file = sealed_file(
            &mut provider,
            &foreign.key,
            foreign.opened_with,
            role,
            name,
            repo,
            args.kdf,
        )?;
        staged.push((file, shown, foreign.format));
    }
    let mut out = String::new();
    for (file, from, format) in &staged {
        ctx.trust_dir.insert(file)?;
        let i = &file.info;
        eprintln!(
            "Imported {} key {} as `{}` (role {}{}) from {from} ({format}), re-sealed with scrypt",
            i.algorithm(),
            i.id.short(),
            i.name,
            i.role,
            i.repo
                .as_deref()
                .map(|r| format!(", repo {r}"))
                .unwrap_or_default(),
        );
        out.push_str(&format!("{}\n", i.id));
    }
    output::print(&out)
}

fn read_text(path: &PathBuf) -> Result<String, CliError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| KeyError::Io {
        action: "reading",
        path: path.clone(),
        source: e,
    })?;
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    file.take(MAX_INPUT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| KeyError::Io {
            action: "reading",
            path: path.clone(),
            source: e,
        })?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(KeyError::NotPem { path: shown }.into());
    }
    String::from_utf8(buf.to_vec()).map_err(|_| KeyError::NotPem { path: shown }.into())
}

/// A key name from arbitrary text: disallowed characters become '-'.
fn sanitize(s: &str) -> String {
    crate::cli::common::key_name_from(s, "key", 48)
}

/// Imports one foreign key file (a Docker Content Trust or notary key)
/// into the trust directory, re-sealed with vouch's KDF under the
/// passphrase that opened it, or finds it there when it was imported
/// before. Returns the key, unlocked. The message names the key by
/// `known_as` when given, else by its whole key id.
pub fn import_or_find(
    ctx: &Context,
    provider: &mut Provider,
    path: &std::path::Path,
    default_role: &str,
    known_as: Option<&str>,
) -> Result<vouch_keys::PrivateKey, CliError> {
    let shown = path.display().to_string();
    let text = read_text(&path.to_path_buf())?;
    let default_role = Role::parse(default_role)?;
    // The file is named by another id of the key (Docker's canonical id):
    // the message names its folder, so the key shows one id.
    let folder = path.parent().unwrap_or(path).display().to_string();
    let foreign = read_foreign(&text, &shown, None, &default_role, provider)?;
    let role = foreign.role.clone().unwrap_or(default_role);
    let public = foreign.key.public();
    let id = public.key_id();
    let existing = ctx.trust_dir.list()?.keys;
    if existing.iter().any(|k| k.file.info.id == id) {
        return Ok(foreign.key);
    }
    ctx.trust_dir.check_permissions()?;
    let base = sanitize(&role.as_str().replace('/', "-"));
    let name = if existing.iter().any(|k| k.file.info.name == base) {
        format!("{base}-{}", &id.as_str()[..8])
    } else {
        base
    };
    let file = sealed_file(
        provider,
        &foreign.key,
        foreign.opened_with,
        role,
        name,
        foreign.repo,
        KdfChoice::default(),
    )?;
    ctx.trust_dir.insert(&file)?;
    // A key its trust data lists under another id (a Docker Content Trust
    // root, by its certificate's) is named by that id alone.
    let id = known_as.unwrap_or(file.info.id.as_str());
    eprintln!(
        "Imported {} key {id} as `{}` (role {}) from {folder}",
        file.info.algorithm(),
        file.info.name,
        file.info.role
    );
    Ok(foreign.key)
}

/// A foreign key sealed with vouch's KDF, under the passphrase that
/// opened it (or a new one, for a key that was not encrypted).
#[allow(clippy::too_many_arguments)] // each is one field of the new key file
fn sealed_file(
    provider: &mut Provider,
    key: &vouch_keys::PrivateKey,
    opened_with: Option<vouch_keys::passphrase::Obtained>,
    role: Role,
    name: String,
    repo: Option<String>,
    kdf: KdfChoice,
) -> Result<KeyFile, CliError> {
    let passphrase = match opened_with {
        Some(got) => got.passphrase,
        None => {
            let what = format!("imported key {name} (role {role})");
            let req = Request {
                purpose: Purpose::Create,
                what: &what,
                class: role.class(),
                key_id: None,
            };
            provider.obtain(&req, None)?.passphrase
        }
    };
    let public = key.public();
    Ok(KeyFile {
        info: KeyInfo {
            id: public.key_id(),
            name,
            role,
            repo,
            public,
            created: keyfile::now_utc(),
        },
        sealed: sealed::seal(key, &passphrase, kdf.cost())?,
    })
}
