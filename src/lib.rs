//! vouch: content trust for OCI images.
//!
//! A team signs what an image tag means (tag → manifest digest) when it
//! pushes, and verifies it before it deploys, with the guarantees of The
//! Update Framework. This crate holds the command-line interface; keys live
//! in the `vouch-keys` crate.

#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod gate;
pub mod policy;
pub mod reference;
pub mod store;
pub mod tuf;
pub mod update;
