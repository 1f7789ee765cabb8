//! `vouch key generate NAME`

use std::path::PathBuf;

use vouch_keys::keyfile::{self, KeyFile, KeyInfo, Role};
use vouch_keys::passphrase::{PassphraseProvider, Purpose, Request};
use vouch_keys::trust_dir::{Mode, write_atomic};
use vouch_keys::{KeyError, PrivateKey, sealed};

use super::kdf::KdfChoice;
use crate::cli::prompt::{PassphraseArgs, Provider};
use crate::cli::{CliError, Context, output};

/// Generate an ed25519 key. The private key is sealed in the trust
/// directory; NAME.pub (PEM) is written to the current directory, like
/// `docker trust key generate`; the key id is printed on stdout.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A name for the key (letters, digits, '.', '_', '-')
    pub name: String,
    /// Role the key is for: root, targets, snapshot, timestamp, or a signer name [default: NAME]
    #[arg(long)]
    pub role: Option<String>,
    /// Repository the key is scoped to
    #[arg(long, value_name = "REPO")]
    pub repo: Option<String>,
    /// Where to write the public key [default: ./NAME.pub]
    #[arg(long, value_name = "PATH")]
    pub public_out: Option<PathBuf>,
    #[command(flatten)]
    pub short: crate::cli::prompt::AllowShort,
    /// Key derivation cost for the key file
    #[arg(long, value_enum, default_value_t)]
    pub kdf: KdfChoice,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    // Validate everything before anything is written.
    keyfile::validate_name(&args.name)?;
    let role = Role::parse(args.role.as_deref().unwrap_or(&args.name))?;
    if let Some(repo) = &args.repo {
        keyfile::validate_repo(repo)?;
    }
    let public_out = args
        .public_out
        .unwrap_or_else(|| PathBuf::from(format!("{}.pub", args.name)));
    if public_out.exists() {
        return Err(CliError::failed(
            format!("{} already exists", public_out.display()),
            "remove it, or choose another path with --public-out",
        ));
    }
    ctx.trust_dir.check_permissions()?;
    if let Some(existing) = ctx
        .trust_dir
        .list()?
        .keys
        .iter()
        .find(|k| k.file.info.name == args.name)
    {
        return Err(KeyError::DuplicateName {
            name: args.name.clone(),
            id: existing.file.info.id.clone(),
        }
        .into());
    }

    let what = format!("new key {} (role {role})", args.name);
    let mut provider =
        Provider::new(args.passphrase, ctx.interactive).allow_short(args.short.allow_short_passphrase);
    let req = Request {
        purpose: Purpose::Create,
        what: &what,
        class: role.class(),
        key_id: None,
    };
    let pass = provider.obtain(&req, None)?;

    let key = PrivateKey::generate_ed25519()?;
    let file = KeyFile {
        info: KeyInfo {
            id: key.public().key_id(),
            name: args.name.clone(),
            role,
            repo: args.repo,
            public: key.public(),
            created: keyfile::now_utc(),
        },
        sealed: sealed::seal(&key, &pass.passphrase, args.kdf.cost())?,
    };
    let path = ctx.trust_dir.insert(&file)?;
    write_atomic(
        &public_out,
        file.info.public.to_pem().as_bytes(),
        0o644,
        Mode::CreateNew,
    )
    .map_err(|e| {
        CliError::failed(
            format!(
                "the key is stored, but writing {} failed: {e}",
                public_out.display()
            ),
            format!(
                "`vouch key export {}` prints the public key",
                file.info.id.short()
            ),
        )
    })?;
    eprintln!(
        "Generated {} key {} (role {}), sealed in {}; public key in {}",
        file.info.algorithm(),
        file.info.name,
        file.info.role,
        path.display(),
        public_out.display()
    );
    output::print(&format!("{}\n", file.info.id))
}
