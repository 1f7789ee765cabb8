//! `vouch inspect REPO[:TAG]`

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::cli::repo::{open_store, parse_ref, trust};
use crate::cli::{CliError, Context, output};
use crate::trust::Reader;

/// Show a repository's verified trust data: signed tags with digests and
/// signing roles, each role's keys, threshold, version and expiry. JSON by
/// default (`{"version": 1, …}`), like `docker trust inspect`; --pretty for
/// people. Warns on stderr when metadata expires soon.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A repository (oci:DIR, REGISTRY/REPO), or one tag of it (…:TAG)
    pub reference: String,
    /// JSON output (the default)
    #[arg(long, conflicts_with = "pretty")]
    pub json: bool,
    /// Human-readable output
    #[arg(long)]
    pub pretty: bool,
    /// Pin the repository's root on first use if it is not pinned (loud)
    #[arg(long)]
    pub tofu: bool,
}

#[derive(Serialize)]
struct Report {
    version: u32,
    repository: String,
    #[serde(rename = "signedTags")]
    signed_tags: Vec<Tag>,
    roles: Vec<RoleInfo>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct Tag {
    tag: String,
    digest: String,
    length: u64,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    signers: Vec<String>,
}

#[derive(Serialize)]
struct RoleInfo {
    name: String,
    keys: Vec<String>,
    threshold: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
}

/// How long before expiry `inspect` warns, per role.
fn warn_window(role: &str) -> Duration {
    match role {
        "timestamp" => Duration::days(2),
        "snapshot" => Duration::days(7),
        _ => Duration::days(30),
    }
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.reference)?;
    let store = open_store(ctx, &r, false)?;
    let mut reader = Reader::open(&trust(ctx), &r.repository(), store.as_ref(), args.tofu)?;
    let listing = reader.listing()?;
    let now = OffsetDateTime::now_utc();
    let mut warnings = Vec::new();
    let roles = listing
        .roles
        .into_iter()
        .map(|role| {
            if let Some(expires) = &role.expires
                && expires.at - now < warn_window(&role.name)
            {
                warnings.push(format!(
                    "{} expires at {}: run `vouch refresh {}` (or re-sign) before then",
                    role.name,
                    expires.as_str(),
                    r.repository()
                ));
            }
            if let Some(why) = &role.refused {
                warnings.push(format!("{} does not verify: {why}", role.name));
            }
            RoleInfo {
                name: role.name,
                keys: role.keys,
                threshold: role.threshold,
                version: role.version,
                expires: role.expires.map(|e| e.as_str().to_owned()),
                refused: role.refused,
            }
        })
        .collect();
    let signed_tags = listing
        .tags
        .into_iter()
        .filter(|t| r.tag.as_ref().is_none_or(|want| &t.tag == want))
        .map(|t| Tag {
            tag: t.tag,
            digest: t.digest,
            length: t.length,
            media_type: t.media_type,
            signers: t.signers,
        })
        .collect();
    let report = Report {
        version: 1,
        repository: r.repository(),
        signed_tags,
        roles,
        warnings,
    };
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if args.pretty {
        return output::print(&pretty(&report));
    }
    let mut text = serde_json::to_string_pretty(&report)
        .map_err(|e| CliError::failed(format!("encoding JSON: {e}"), "report this as a bug"))?;
    text.push('\n');
    output::print(&text)
}

fn pretty(r: &Report) -> String {
    let mut out = format!("Signatures for {}\n\n", r.repository);
    if r.signed_tags.is_empty() {
        out.push_str("No signed tags.\n");
    } else {
        let w = r
            .signed_tags
            .iter()
            .map(|t| t.tag.len())
            .max()
            .unwrap_or(3)
            .max(10);
        out.push_str(&format!("{:<w$}  {:<71}  SIGNERS\n", "SIGNED TAG", "DIGEST"));
        for t in &r.signed_tags {
            out.push_str(&format!(
                "{:<w$}  {:<71}  {}\n",
                t.tag,
                t.digest,
                t.signers.join(", ")
            ));
        }
    }
    out.push_str("\nRoles\n\n");
    out.push_str(&format!(
        "{:<20}  {:>9}  {:>7}  {:<20}  KEYS\n",
        "ROLE", "THRESHOLD", "VERSION", "EXPIRES"
    ));
    for role in &r.roles {
        let keys: Vec<&str> = role.keys.iter().map(|k| &k[..k.len().min(12)]).collect();
        let version = role.version.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let expires = match (&role.expires, &role.refused) {
            (Some(e), _) => e.clone(),
            (None, Some(_)) => "does not verify".to_owned(),
            (None, None) => "-".to_owned(),
        };
        out.push_str(&format!(
            "{:<20}  {:>9}  {:>7}  {:<20}  {}\n",
            role.name,
            role.threshold,
            version,
            expires,
            keys.join(", ")
        ));
    }
    out
}
