//! The sans-IO TUF core: metadata in, decisions out.
//!
//! Everything here takes bytes and a time and returns trusted state or a
//! typed [`TufError`]; no network, no file system, no clock. The update
//! workflow is [`trusted_set::TrustedSet`]; signing is [`editor::MetadataEditor`].

pub mod bin_versions;
pub mod crypto;
pub mod editor;
pub mod error;
pub mod history;
pub mod limits;
pub mod metadata;
pub mod names;
pub mod path;
pub mod trusted_set;
#[cfg(test)]
mod trusted_set_tests;
pub mod writer_load;

pub use error::TufError;
pub use limits::Limits;
pub use names::{KeyId, RoleName};
pub use path::TargetPath;
pub use trusted_set::{Lookup, RoleRequest, TimestampUpdate, TrustedSet};
