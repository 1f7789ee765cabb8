//! `vouch policy list | set PATTERN --level LEVEL | unpin PATTERN`

use clap::Subcommand;

use crate::cli::{CliError, Context, output};
use crate::policy::{Level, Policy};

/// The trust directory's policy (`policy.toml`) without editing it by
/// hand: pins and levels by repository pattern.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List the scopes: pattern, level, pinned root key ids (whole) and
    /// threshold, and the denied key ids
    List(ListArgs),
    /// Set the level for a repository pattern (`*` within a path
    /// component, `**` across): enforce, audit or off
    Set(SetArgs),
    /// Remove a pattern's pin (its root keys); the next verify needs a new
    /// pin (or --tofu)
    Unpin(UnpinArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// One JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// A repository pattern: REGISTRY/REPO, registry.example/team/*, registry.k8s.io/**
    pub pattern: String,
    /// What the gates do for it
    #[arg(long, value_name = "LEVEL", value_parser = ["enforce", "audit", "off"])]
    pub level: String,
}

#[derive(Debug, clap::Args)]
pub struct UnpinArgs {
    /// The pattern whose pin goes (exactly as listed)
    pub pattern: String,
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Enforce => "enforce",
        Level::Audit => "audit",
        Level::Off => "off",
    }
}

pub fn run(cmd: PolicyCommand, ctx: &Context) -> Result<(), CliError> {
    let dir = ctx.trust_dir.path();
    match cmd {
        PolicyCommand::List(args) => {
            let policy = Policy::load(dir)?;
            if args.json {
                let scopes: Vec<serde_json::Value> = policy
                    .scope
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "repository": s.repository, "level": level_name(s.level),
                            "root_keys": s.root_keys, "threshold": s.threshold, "tofu": s.tofu,
                        })
                    })
                    .collect();
                return output::print(&format!(
                    "{}\n",
                    serde_json::json!({"scopes": scopes, "deny": policy.deny})
                ));
            }
            let mut out = String::new();
            for s in &policy.scope {
                out.push_str(&format!("{}  level={}", s.repository, level_name(s.level)));
                if !s.root_keys.is_empty() {
                    out.push_str(&format!(" threshold={}", s.threshold));
                }
                if s.tofu {
                    out.push_str(" tofu");
                }
                out.push('\n');
                for k in &s.root_keys {
                    out.push_str(&format!("  root key {k}\n"));
                }
            }
            for k in &policy.deny {
                out.push_str(&format!("denied {k}\n"));
            }
            if out.is_empty() {
                eprintln!(
                    "no scopes: every repository is enforced and needs a pin (`vouch pin REPO ROOT_KEY_ID`)"
                );
            }
            output::print(&out)
        }
        PolicyCommand::Set(args) => {
            if args.pattern.is_empty() || args.pattern.contains(char::is_whitespace) {
                return Err(CliError::failed(
                    format!("{:?} is not a repository pattern", args.pattern),
                    "give REGISTRY/REPO, or a pattern with * (one path component) or ** (any)",
                ));
            }
            ctx.trust_dir.ensure()?;
            let mut policy = Policy::load(dir)?;
            let level = match args.level.as_str() {
                "audit" => Level::Audit,
                "off" => Level::Off,
                _ => Level::Enforce,
            };
            policy.set_level(&args.pattern, level);
            policy.save(dir)?;
            Policy::log(dir, &format!("level {} {}", args.pattern, args.level))?;
            eprintln!("{}: level {}", args.pattern, args.level);
            Ok(())
        }
        PolicyCommand::Unpin(args) => {
            ctx.trust_dir.ensure()?;
            let mut policy = Policy::load(dir)?;
            if !policy.unpin(&args.pattern) {
                return Err(CliError::refused(
                    format!("{} has no pin", args.pattern),
                    "`vouch policy list` shows the pins, each pattern exactly as it is written",
                ));
            }
            policy.save(dir)?;
            Policy::log(dir, &format!("unpin {}", args.pattern))?;
            eprintln!("Unpinned {}", args.pattern);
            Ok(())
        }
    }
}
