//! `vouch key list`

use serde::Serialize;

use crate::cli::{CliError, Context, output};

/// List keys: id, name, role, repository, algorithm, creation time.
/// `--json` prints `{"version": 1, "keys": [...]}`; secrets never appear.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (a versioned shape, see docs) instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JsonList<'a> {
    version: u32,
    keys: Vec<JsonKey<'a>>,
}

#[derive(Serialize)]
struct JsonKey<'a> {
    id: &'a str,
    name: &'a str,
    role: &'a str,
    repo: Option<&'a str>,
    algorithm: &'static str,
    created: String,
    public_key: String,
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let listing = ctx.trust_dir.list()?;
    for problem in &listing.problems {
        eprintln!("warning: skipped {problem}");
    }
    let text = if args.json {
        let keys = listing
            .keys
            .iter()
            .map(|k| {
                let i = &k.file.info;
                JsonKey {
                    id: i.id.as_str(),
                    name: &i.name,
                    role: i.role.as_str(),
                    repo: i.repo.as_deref(),
                    algorithm: i.algorithm().as_str(),
                    created: i.created_rfc3339(),
                    public_key: i.public.to_pem(),
                }
            })
            .collect();
        let doc = JsonList { version: 1, keys };
        let mut s =
            serde_json::to_string_pretty(&doc).map_err(|e| CliError::bug(format!("encoding JSON: {e}")))?;
        s.push('\n');
        s
    } else if listing.keys.is_empty() {
        eprintln!("no keys in {}", ctx.trust_dir.path().display());
        String::new()
    } else {
        let rows: Vec<[String; 6]> = listing
            .keys
            .iter()
            .map(|k| {
                let i = &k.file.info;
                [
                    i.id.to_string(),
                    i.name.clone(),
                    i.role.to_string(),
                    i.repo.clone().unwrap_or_else(|| "-".to_owned()),
                    i.algorithm().to_string(),
                    i.created_rfc3339(),
                ]
            })
            .collect();
        table(["ID", "NAME", "ROLE", "REPO", "ALGORITHM", "CREATED"], &rows)
    };
    output::print(&text)
}

fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}
