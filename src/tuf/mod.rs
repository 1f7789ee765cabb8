//! The sans-IO TUF core: metadata in, decisions out.
//!
//! Everything here takes bytes and a time and returns trusted state or a
//! typed [`TufError`]; no network, no file system, no clock. The update
//! workflow is [`client::TrustedSet`]; signing is [`repo::Repository`].

pub mod client;
pub mod crypto;
pub mod editable;
pub mod error;
pub mod limits;
pub mod metadata;
pub mod path;
pub mod repo;

pub use client::{Lookup, RoleRequest, TimestampUpdate, TrustedSet};
pub use error::TufError;
pub use limits::Limits;
pub use path::TargetPath;
