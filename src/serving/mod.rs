//! What the long-running gates share: `vouch proxy` (a verifying registry
//! front) and `vouch admission` (a Kubernetes admission webhook).
//!
//! * [`decider`]: the one decision they make on an image, through the
//!   trust layer, with the pins and `policy.toml` every gate uses;
//!   per-repository state bounded by count, concurrent requests coalesced
//!   onto one check of the upstream's trust tag, and the answers of one
//!   verified trust artifact reused while it stays current.
//! * [`http`]: listening (TLS, connection limits, timeouts) and log lines.

pub mod decider;
pub mod http;

pub use decider::{Decided, Decider, Reference, Target};
