//! `vouch containerd-verifier -name REF -digest DIGEST -stdin-media-type TYPE`
//!
//! containerd (2.0 and later) runs every executable in its image-verifier
//! `bin_dir` before it accepts a pulled image, with Go-style flags and the
//! image's descriptor on stdin, and blocks the pull unless it exits 0. It
//! shows what the verifier printed on stdout (it reads at most 32 KiB).
//! Also answers when the executable is called `vouch-containerd-verifier`
//! (a symlink in `bin_dir`).

use std::io::{Read, Write};

use crate::cli::common::{open_store, parse_ref, trust};
use crate::cli::{CliError, Context};
use crate::trust::gate::{Admission, TagRule, admit, admit_unreadable_digest};

/// containerd reads at most this much of the verifier's output.
const MAX_REASON: usize = 32 << 10;
/// The descriptor on stdin is a small JSON object.
const MAX_DESCRIPTOR: u64 = 64 << 10;

/// containerd's image verifier: exit 0 when trust data signs the pulled
/// digest for the image's tag (or some signed tag maps to a pulled digest),
/// 1 with the reason on stdout when it does not, 2 when vouch cannot decide.
/// Enforcing unless VOUCH_CONTENT_TRUST / DOCKER_CONTENT_TRUST set audit or
/// off. Put a script running it (with VOUCH_TRUST_DIR set) in containerd's
/// `[plugins."io.containerd.image-verifier.v1.bindir"] bin_dir`.
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// -name REF -digest sha256:… -stdin-media-type TYPE (as containerd passes them)
    #[arg(allow_hyphen_values = true, trailing_var_arg = true, num_args = 0.., value_name = "FLAGS")]
    pub flags: Vec<String>,
}

/// What `-help` prints (containerd itself never asks).
const HELP: &str = "\
containerd's image verifier: exit 0 when trust data signs the pulled digest
for the image's tag (or some signed tag maps to it), 1 with the reason on
stdout when it does not, 2 when vouch cannot decide.

Usage, as containerd runs it:
  vouch containerd-verifier -name REF -digest sha256:... [-stdin-media-type TYPE] < DESCRIPTOR

Enforcing unless VOUCH_CONTENT_TRUST / DOCKER_CONTENT_TRUST set audit or off.
Set it up (containerd >= 2.0, /etc/containerd/config.toml):
  [plugins.\"io.containerd.image-verifier.v1.bindir\"]
    bin_dir = \"/opt/containerd/image-verifier/bin\"
and put a script there running it with VOUCH_TRUST_DIR set.
";

/// containerd's flags.
#[derive(Debug, Default, PartialEq, Eq)]
struct Flags {
    name: String,
    digest: String,
    media_type: Option<String>,
}

/// Parses Go's flag syntax: `-flag value`, `-flag=value`, `--flag value`.
fn parse(args: &[String]) -> Result<Flags, String> {
    let mut flags = Flags::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (flag, value) = match flag.split_once('=') {
            Some((f, v)) => (f, v.to_owned()),
            None => (
                flag,
                it.next().ok_or_else(|| format!("-{flag} needs a value"))?.clone(),
            ),
        };
        match flag {
            "name" => flags.name = value,
            "digest" => flags.digest = value,
            "stdin-media-type" => flags.media_type = Some(value),
            other => return Err(format!("unknown flag -{other}")),
        }
    }
    if flags.name.is_empty() || flags.digest.is_empty() {
        return Err("-name and -digest are required".to_owned());
    }
    Ok(flags)
}

/// The descriptor containerd writes on stdin must name the digest it
/// passes: a verifier must not approve one object while containerd keeps
/// another.
fn check_descriptor(flags: &Flags, input: &[u8]) -> Result<(), String> {
    if input.iter().all(u8::is_ascii_whitespace) {
        return Ok(()); // nothing on stdin: the flags alone decide
    }
    let v: serde_json::Value =
        serde_json::from_slice(input).map_err(|e| format!("the descriptor on stdin is not JSON: {e}"))?;
    match v["digest"].as_str() {
        Some(d) if d == flags.digest => Ok(()),
        Some(d) => Err(format!(
            "the descriptor on stdin is {d}, not -digest {}",
            flags.digest
        )),
        None => Err("the descriptor on stdin has no digest".to_owned()),
    }
}

/// Writes the reason where containerd reads it.
fn say(reason: &str) {
    let mut end = reason.len().min(MAX_REASON - 1);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", &reason[..end]);
    let _ = out.flush();
}

pub fn run(args: Args, ctx: &Context) -> Result<(), CliError> {
    let usage = |why: String| {
        say(&format!("vouch: {why}"));
        CliError::failed(
            why,
            "containerd passes -name REF -digest DIGEST -stdin-media-type TYPE",
        )
    };
    if args
        .flags
        .iter()
        .any(|f| matches!(f.as_str(), "-h" | "-help" | "--help"))
    {
        return crate::cli::output::print(HELP);
    }
    let flags = parse(&args.flags).map_err(usage)?;
    let mut input = Vec::new();
    std::io::stdin()
        .take(MAX_DESCRIPTOR)
        .read_to_end(&mut input)
        .map_err(|e| usage(format!("reading the descriptor on stdin: {e}")))?;
    check_descriptor(&flags, &input).map_err(|why| {
        say(&format!("vouch: {why}"));
        CliError {
            failure: crate::cli::Failure::Refused,
            message: why,
            hint: "containerd passes the descriptor of the digest it verifies".to_owned(),
        }
    })?;
    let mut r = parse_ref(&flags.name).map_err(|e| usage(e.message))?;
    let env = crate::cli::common::gate_level().map_err(|e| usage(e.message))?;
    let admission = match crate::digest::Digest::parse(&flags.digest) {
        Ok(digest) => {
            r.digest = Some(digest);
            let store = open_store(ctx, &r, false)
                .inspect_err(|e| say(&format!("vouch: could not decide: {}", e.message)))?;
            admit(
                &trust(ctx),
                &r,
                store.as_ref(),
                env,
                TagRule::StoreMustMatch,
                false,
            )
        }
        // Not a digest vouch reads: nothing signs it (decided by the gate,
        // which also knows whether content trust is on for the repository).
        Err(_) => admit_unreadable_digest(&trust(ctx), &r, &flags.digest, env),
    };
    match admission {
        Ok(Admission::Verified(v)) => {
            say(&format!("vouch: {r} verified ({})", v.how));
            Ok(())
        }
        Ok(Admission::Audited(e)) => {
            say(&format!("vouch: {e} (content trust in audit mode: allowed)"));
            Ok(())
        }
        Ok(Admission::Unchecked) => {
            say("vouch: content trust is off for this repository: not checked");
            Ok(())
        }
        Err(e) => {
            let refused = e.is_refusal();
            say(&if refused {
                format!("vouch: {e}")
            } else {
                format!("vouch: could not decide on {r}: {e}")
            });
            Err(CliError::from(e))
        }
    }
}

/// Whether this process was started under the verifier's own name.
pub fn called_as_verifier(argv0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(argv0)
        .file_name()
        .is_some_and(|n| n == "vouch-containerd-verifier")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_containerds_flags() {
        let f = parse(&args(&[
            "-name",
            "r.example/app:v1",
            "-digest=sha256:aa",
            "--stdin-media-type",
            "application/vnd.oci.descriptor.v1+json",
        ]))
        .expect("flags");
        assert_eq!(f.name, "r.example/app:v1");
        assert_eq!(f.digest, "sha256:aa");
        assert!(parse(&args(&["-name", "x"])).is_err(), "no digest");
        assert!(parse(&args(&["-name"])).is_err(), "no value");
        assert!(parse(&args(&["-bogus", "1", "-name", "x", "-digest", "d"])).is_err());
    }

    #[test]
    fn the_descriptor_must_name_the_digest() {
        let f = Flags {
            name: "r/a:v".into(),
            digest: "sha256:aa".into(),
            media_type: None,
        };
        assert!(check_descriptor(&f, br#"{"digest":"sha256:aa","size":1}"#).is_ok());
        assert!(check_descriptor(&f, br#"{"digest":"sha256:bb"}"#).is_err());
        assert!(check_descriptor(&f, b"{}").is_err());
        assert!(check_descriptor(&f, b"").is_ok());
    }
}
