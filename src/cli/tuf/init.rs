//! `vouch tuf init --metadata-dir DIR ROOT_FILE`

use std::io::Read;
use std::path::PathBuf;

use crate::cli::{CliError, Failure};
use crate::store::metadata_dir::MetadataDir;
use crate::tuf::{Limits, RoleName, TrustedSet};

/// Trust ROOT_FILE as this client's root of trust. Offline: the root must
/// carry a threshold of its own signatures; its expiry does not matter
/// (the next refresh walks to the newest root).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of trusted metadata
    #[arg(long, value_name = "DIR")]
    pub metadata_dir: PathBuf,
    /// The root metadata to trust (obtained out of band)
    pub root_file: PathBuf,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let limits = Limits::default();
    let read_err = |e: std::io::Error| {
        CliError::failed(
            format!("reading {}: {e}", args.root_file.display()),
            "give the path of a root.json",
        )
    };
    let mut bytes = Vec::new();
    std::fs::File::open(&args.root_file)
        .map_err(read_err)?
        .take(limits.max_root_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    let set = TrustedSet::new(&bytes, time::OffsetDateTime::now_utc(), limits).map_err(|e| CliError {
        failure: Failure::Refused,
        message: format!("{} is not a trustworthy root: {e}", args.root_file.display()),
        hint: "a root must be valid TUF root metadata signed by a threshold of its own root keys".to_owned(),
    })?;
    let dir = MetadataDir::standard(&args.metadata_dir);
    let local_err = |e: std::io::Error| {
        CliError::failed(
            format!("{}: {e}", args.metadata_dir.display()),
            "check the metadata directory",
        )
    };
    if let Some(existing) = dir.read(&RoleName::Root).map_err(local_err)? {
        if existing == bytes {
            eprintln!("{} already trusts this root", args.metadata_dir.display());
            return Ok(());
        }
        return Err(CliError::failed(
            format!("{} already trusts a different root", args.metadata_dir.display()),
            "refresh to follow the repository's root rotations; use a new directory to trust another root",
        ));
    }
    dir.write(&RoleName::Root, &bytes).map_err(local_err)?;
    let root = set.root().signed();
    eprintln!(
        "Trusting root version {} ({} of {} root keys must sign), expires {}",
        root.version,
        root.roles.get("root").map(|r| r.threshold).unwrap_or(0),
        root.roles.get("root").map(|r| r.keyids.len()).unwrap_or(0),
        root.expires.as_str()
    );
    Ok(())
}
