//! `vouch inspect REPO[:TAG]`

use std::collections::BTreeMap;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::cli::repo::{open_store, parse_ref, with_trusted};
use crate::cli::{CliError, Context, output};
use crate::tuf::metadata::Role as _;

/// Show a repository's verified trust data: signed tags with digests and
/// signing roles, each role's keys, threshold, version and expiry. JSON by
/// default (`{"version": 1, …}`), like `docker trust inspect`; --pretty for
/// people. Warns on stderr when metadata expires soon.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// oci:DIR, or oci:DIR:TAG for one tag
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
    version: u64,
    expires: String,
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
    let layout = store.as_ref();
    let report = with_trusted(ctx, &r, layout, args.tofu, |client| {
        client.load_all_roles(4096)?;
        let t = client.trusted();
        let now = OffsetDateTime::now_utc();
        let root = t.root().signed();
        let mut roles = Vec::new();
        let mut warnings = Vec::new();
        let mut add = |name: &str,
                       keys: Vec<String>,
                       threshold: u64,
                       version: u64,
                       expires: &crate::tuf::metadata::Expires| {
            if expires.at - now < warn_window(name) {
                warnings.push(format!(
                    "{name} expires at {}: run `vouch refresh {}` (or re-sign) before then",
                    expires.as_str(),
                    r.repository()
                ));
            }
            roles.push(RoleInfo {
                name: name.to_owned(),
                keys,
                threshold,
                version,
                expires: expires.as_str().to_owned(),
            });
        };
        let top = |role: &str| {
            root.roles
                .get(role)
                .map(|k| (k.keyids.clone(), k.threshold))
                .unwrap_or_default()
        };
        let (k, th) = top("root");
        add("root", k, th, root.version, &root.expires);
        if let Some(ts) = t.timestamp() {
            let (k, th) = top("timestamp");
            add("timestamp", k, th, ts.signed().version, ts.signed().expires());
        }
        if let Some(sn) = t.snapshot() {
            let (k, th) = top("snapshot");
            add("snapshot", k, th, sn.signed().version, sn.signed().expires());
        }
        // Keys and thresholds of delegated roles, as their delegators list them.
        let mut delegated: BTreeMap<String, (Vec<String>, u64)> = BTreeMap::new();
        for md in t.all_targets().values() {
            if let Some(d) = &md.signed().delegations {
                for role in d.roles.iter().flatten() {
                    delegated.insert(role.name.clone(), (role.keyids.clone(), role.threshold));
                }
            }
        }
        let mut tags: BTreeMap<String, Tag> = BTreeMap::new();
        for (name, md) in t.all_targets() {
            let (k, th) = if name == "targets" {
                top("targets")
            } else {
                delegated.get(name).cloned().unwrap_or_default()
            };
            add(name, k, th, md.signed().version, md.signed().expires());
            for (tag, target) in &md.signed().targets {
                let entry = tags.entry(tag.clone()).or_insert_with(|| Tag {
                    tag: tag.clone(),
                    digest: format!(
                        "sha256:{}",
                        target.hashes.get("sha256").cloned().unwrap_or_default()
                    ),
                    length: target.length,
                    media_type: target
                        .custom
                        .as_ref()
                        .and_then(|c| c["mediaType"].as_str())
                        .map(str::to_owned),
                    signers: Vec::new(),
                });
                entry.signers.push(name.clone());
            }
        }
        let signed_tags = tags
            .into_values()
            .filter(|t| r.tag.as_ref().is_none_or(|want| &t.tag == want))
            .collect();
        Ok(Report {
            version: 1,
            repository: r.repository(),
            signed_tags,
            roles,
            warnings,
        })
    })?;
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
        out.push_str(&format!(
            "{:<20}  {:>9}  {:>7}  {:<20}  {}\n",
            role.name,
            role.threshold,
            role.version,
            role.expires,
            keys.join(", ")
        ));
    }
    out
}
