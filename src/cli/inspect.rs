//! `vouch inspect REPO[:TAG]`

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::cli::common::{open_store, parse_ref, trust};
use crate::cli::{CliError, Context, output};
use crate::trust::Reader;

/// Show a repository's verified trust data: signed tags with digests and
/// signing roles, each role's keys, threshold, version and expiry. JSON by
/// default (`{"version": 1, …}`), like `docker trust inspect`; --pretty for
/// people. Warns on stderr when metadata expires soon.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub offline: crate::cli::OfflineArg,
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
    #[command(flatten)]
    pub notary: crate::cli::verify::NotaryArgs,
    /// List the roles expiring within this period, with the command that
    /// renews each: a number with s, m, h or d (the timestamp and snapshot,
    /// renewed by every publish, only within 2 and 7 days)
    #[arg(long, value_name = "DURATION", value_parser = super::duration::expiry, default_value = "60d")]
    pub within: Duration,
}

#[derive(Serialize)]
struct Report {
    version: u32,
    repository: String,
    #[serde(rename = "signedTags")]
    signed_tags: Vec<Tag>,
    roles: Vec<RoleInfo>,
    /// Roles expiring within the window, soonest first.
    expiring: Vec<Expiring>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct Expiring {
    role: String,
    expires: String,
    renew: String,
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

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let r = parse_ref(&args.reference)?;
    let from_notary = |url: &str| -> Result<(), CliError> {
        let source = crate::cli::verify::notary_source(&r, url)?;
        let reader = crate::trust::notary_reader::NotaryReader::open(&trust(ctx), source, args.tofu)?;
        print(&args, notary_report(&r, &reader))
    };
    if let Some(url) = args.notary.server() {
        return from_notary(&url);
    }
    let store = open_store(ctx, &r, false)?;
    if crate::cli::verify::NotaryArgs::env_server()
        && matches!(r.location, crate::reference::Location::Registry { .. })
        && matches!(store.head(crate::store::artifact::TRUST_TAG), Ok(None))
    {
        eprintln!(
            "{}: no vouch trust data; reading Docker Content Trust data from DOCKER_CONTENT_TRUST_SERVER",
            r.repository()
        );
        return from_notary("");
    }
    let mut reader = Reader::open(&trust(ctx), &r.repository(), store.as_ref(), args.tofu)?;
    let listing = reader.listing()?;
    let now = OffsetDateTime::now_utc();
    let mut warnings = Vec::new();
    let mut expiring = Vec::new();
    let roles = listing
        .roles
        .into_iter()
        .map(|role| {
            if let Some(expires) = &role.expires
                && expires.at - now < crate::trust::expiry::window(&role.name, args.within)
            {
                let renew = crate::trust::expiry::renew_command(&r.repository(), &role.name);
                warnings.push(format!(
                    "{} expires at {} (in {} days): renew with `{renew}`",
                    role.name,
                    expires.as_str(),
                    (expires.at - now).whole_days()
                ));
                expiring.push(Expiring {
                    role: role.name.clone(),
                    expires: expires.as_str().to_owned(),
                    renew,
                });
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
        expiring: {
            expiring.sort_by(|a: &Expiring, b: &Expiring| a.expires.cmp(&b.expires));
            expiring
        },
        warnings,
    };
    print(&args, report)
}

/// The report of a GUN's verified Notary data.
fn notary_report(
    r: &crate::reference::ImageRef,
    reader: &crate::trust::notary_reader::NotaryReader,
) -> Report {
    let set = reader.trusted();
    let root = set.root().signed();
    let mut roles = Vec::new();
    let mut warnings = Vec::new();
    let top = |name: &str| {
        root.roles
            .get(name)
            .map(|k| (k.keyids.clone(), k.threshold))
            .unwrap_or_default()
    };
    let mut add =
        |name: &str, (keys, threshold): (Vec<String>, u64), version: Option<u64>, expires: Option<String>| {
            roles.push(RoleInfo {
                name: name.to_owned(),
                keys,
                threshold,
                version,
                expires,
                refused: None,
            })
        };
    add(
        "root",
        top("root"),
        Some(root.version),
        Some(root.expires.raw.clone()),
    );
    if let Some(t) = set.timestamp() {
        add(
            "timestamp",
            top("timestamp"),
            Some(t.signed().version),
            Some(t.signed().expires.raw.clone()),
        );
    }
    if let Some(t) = set.snapshot() {
        add(
            "snapshot",
            top("snapshot"),
            Some(t.signed().version),
            Some(t.signed().expires.raw.clone()),
        );
    }
    let mut delegated = std::collections::BTreeMap::new();
    for t in set.all_targets().values() {
        for d in &t.signed().delegations.roles {
            delegated.insert(d.name.clone(), (d.keyids.clone(), d.threshold));
        }
    }
    for (name, t) in set.all_targets() {
        let keys = if name == "targets" {
            top("targets")
        } else {
            delegated.get(name).cloned().unwrap_or_default()
        };
        add(
            name,
            keys,
            Some(t.signed().version),
            Some(t.signed().expires.raw.clone()),
        );
    }
    for (name, why) in set.skipped() {
        warnings.push(format!("{name} does not verify and was skipped: {why}"));
        let keys = delegated.get(name).cloned().unwrap_or_default();
        roles.push(RoleInfo {
            name: name.clone(),
            keys: keys.0,
            threshold: keys.1,
            version: None,
            expires: None,
            refused: Some(why.to_string()),
        });
    }
    let signed_tags = reader
        .signed_tags()
        .into_iter()
        .filter(|(t, _)| r.tag.as_ref().is_none_or(|want| &t.tag == want))
        .map(|(t, signers)| Tag {
            tag: t.tag,
            digest: t.digest,
            length: t.meta.length,
            media_type: t
                .meta
                .custom
                .as_ref()
                .and_then(|c| c["mediaType"].as_str())
                .map(str::to_owned),
            signers,
        })
        .collect();
    Report {
        expiring: Vec::new(),
        version: 1,
        repository: r.repository(),
        signed_tags,
        roles,
        warnings,
    }
}

fn print(args: &Args, report: Report) -> Result<(), CliError> {
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if args.pretty {
        return output::print(&pretty(&report));
    }
    let mut text =
        serde_json::to_string_pretty(&report).map_err(|e| CliError::bug(format!("encoding JSON: {e}")))?;
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
        // The administrative roles' key ids whole: a root key id is what
        // `vouch pin` takes. Delegated roles' keys are shortened.
        let whole = crate::tuf::RoleName::parse(&role.name).is_top_level();
        let keys: Vec<&str> = role
            .keys
            .iter()
            .map(|k| if whole { k.as_str() } else { &k[..k.len().min(12)] })
            .collect();
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
