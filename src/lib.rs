//! vouch: content trust for OCI images.
//!
//! A team signs what an image tag means (tag → manifest digest) when it
//! pushes, and verifies it before it deploys, with the guarantees of The
//! Update Framework. Keys live in the `vouch-keys` crate.
//!
//! * [`tuf`]: the sans-IO TUF core (bytes and a clock in, decisions out).
//! * [`trust`]: the trust layer every command goes through: pins bound to
//!   key material, the verified cache, the edit session, and one function
//!   per trust decision.
//! * [`store`]: adapters at the edge (registry, OCI layout, TUF
//!   repositories), which move bytes and decide nothing.
//! * [`cli`]: the `vouch` command line, which parses, calls the layers
//!   above, and prints.
//! * [`notary`]: Notary v1 (Docker Content Trust) metadata, verified
//!   sans-IO; [`proxy`]: `vouch proxy`, the gate as a registry mirror.
//! * [`digest`], [`reference`](mod@reference), [`media_type`]: digests, image references
//!   and media types, each parsed or listed once; [`update`] drives the TUF
//!   core against a fetcher; [`policy`] and [`gate_switch`] say which
//!   repositories must verify.

#![forbid(unsafe_code)]

pub mod admission;
pub mod cli;
pub mod digest;
pub mod gate_switch;
pub mod media_type;
pub mod notary;
pub mod policy;
pub mod proxy;
pub mod reference;
pub mod serving;
pub mod store;
pub mod trust;
pub mod tuf;
pub mod update;
pub mod x509;
