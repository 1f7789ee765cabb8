//! The gate's one decision ([`decide`]), shared by every entry point that
//! lets a pull through: `vouch pull`, `docker vouch pull` and the
//! containerd verifier through [`admit`] (at the level the environment and
//! the policy set for its repository), `vouch proxy` and `vouch admission`
//! through `serving::Decider`, which keeps its answers while the verified
//! trust artifact they came from stands.

use std::collections::BTreeSet;

use super::decide::How;
use super::{Reader, Trust, TrustError, Verdict};
use crate::policy::{Level, Policy};
use crate::reference::ImageRef;
use crate::store::Store;

/// What the gate lets through.
#[derive(Debug)]
pub enum Admission {
    /// Trust data signs it.
    Verified(Verdict),
    /// It does not verify, but the level is `audit`: let through, with the
    /// refusal to report.
    Audited(TrustError),
    /// Content trust is off for this repository: not checked.
    Unchecked,
}

/// What a tag without a digest resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagRule {
    /// The store's tag must point at the signed manifest (`vouch verify`,
    /// `vouch pull`): a moved tag is refused.
    StoreMustMatch,
    /// The signed digest is what gets pulled, wherever the store's tag
    /// points now (Docker Content Trust's rule: `docker vouch pull`, the
    /// proxy).
    SignedDigest,
}

/// What a pull asks the gate about.
#[derive(Clone, Copy, Debug)]
pub enum Asked<'a> {
    /// A tag, pulled as its signed digest wherever the store's tag points
    /// now (Docker Content Trust's rule: `docker vouch pull`, the proxy,
    /// the webhook).
    SignedDigest(&'a str),
    /// A digest: admitted when a signed tag maps to it, or it is one of
    /// `children`, the platform manifests of an index admitted before.
    Digest {
        /// The digest.
        digest: &'a str,
        /// Platform manifests of signed indexes already admitted.
        children: &'a BTreeSet<String>,
    },
    /// A reference verified against the store (`vouch pull`, the
    /// containerd verifier): a tag must point at its signed manifest.
    Verify(&'a ImageRef, &'a dyn Store),
}

/// The gate's one decision, on verified trust data.
pub fn decide(reader: &mut Reader<'_>, asked: Asked<'_>) -> Result<Verdict, TrustError> {
    match asked {
        Asked::SignedDigest(tag) => reader
            .resolve_tag(tag)
            .map(|signed| Verdict::new(signed.digest.clone(), How::Tag { role: &signed.role })),
        Asked::Digest { digest, children } => reader.admit_digest(digest, children),
        Asked::Verify(r, store) => reader.verify(r, store),
    }
}

/// The level the environment sets, lowered by the policy scope of `repo`.
fn level(trust: &Trust, repo: &str, env: Level) -> Result<Level, TrustError> {
    let policy = Policy::load(&trust.dir)?;
    Ok(crate::gate_switch::effective(
        env,
        policy.lookup(repo).map(|s| s.level),
    ))
}

/// Decides on a pull named by a digest vouch does not read (another
/// algorithm's, or malformed; containerd passes the digest it will use):
/// no signed tag maps to it, so it is refused where content trust is
/// enforced, let through with the refusal under `audit`, and not checked
/// where content trust is off, as any unsigned digest would be.
pub fn admit_unreadable_digest(
    trust: &Trust,
    r: &ImageRef,
    digest: &str,
    env: Level,
) -> Result<Admission, TrustError> {
    let repo = r.repository();
    let refusal = TrustError::DigestNotSigned {
        repo: repo.clone(),
        digest: digest.chars().take(80).collect(),
    };
    match level(trust, &repo, env)? {
        Level::Off => Ok(Admission::Unchecked),
        Level::Audit => Ok(Admission::Audited(refusal)),
        Level::Enforce => Err(refusal),
    }
}

/// Decides whether `r` may be pulled. `env` is the level the environment
/// sets ([`crate::gate_switch`]); a policy scope may lower it. A refusal under
/// `enforce` and every "could not decide" are errors.
pub fn admit(
    trust: &Trust,
    r: &ImageRef,
    store: &dyn Store,
    env: Level,
    rule: TagRule,
    tofu: bool,
) -> Result<Admission, TrustError> {
    let repo = r.repository();
    let level = level(trust, &repo, env)?;
    if level == Level::Off {
        return Ok(Admission::Unchecked);
    }
    let verdict = Reader::open(trust, &repo, store, tofu).and_then(|mut reader| {
        let asked = match (&r.tag, &r.digest, rule) {
            (Some(tag), None, TagRule::SignedDigest) => Asked::SignedDigest(tag),
            _ => Asked::Verify(r, store),
        };
        decide(&mut reader, asked)
    });
    match verdict {
        Ok(v) => Ok(Admission::Verified(v)),
        Err(e) if e.is_refusal() && level == Level::Audit => Ok(Admission::Audited(e)),
        Err(e) => Err(e),
    }
}
