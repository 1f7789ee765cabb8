//! Limits on untrusted input. Defaults are generous for real repositories
//! and small enough that a hostile one cannot exhaust memory or time.

/// Limits applied while updating and searching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest root metadata accepted (bytes). Default 512 KiB.
    pub max_root_bytes: u64,
    /// Largest timestamp metadata (bytes). Default 16 KiB.
    pub max_timestamp_bytes: u64,
    /// Largest snapshot metadata when timestamp lists no length. Default 4 MiB.
    pub max_snapshot_bytes: u64,
    /// Largest targets (or delegated) metadata when snapshot lists no
    /// length. Default 8 MiB.
    pub max_targets_bytes: u64,
    /// Most root versions fetched in one update. Default 256.
    pub max_root_rotations: u64,
    /// Most targets roles visited in one target search. Default 32.
    pub max_roles_visited: u64,
    /// Deepest delegation chain followed. Default 16.
    pub max_delegation_depth: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_root_bytes: 512 * 1024,
            max_timestamp_bytes: 16 * 1024,
            max_snapshot_bytes: 4 * 1024 * 1024,
            max_targets_bytes: 8 * 1024 * 1024,
            max_root_rotations: 256,
            max_roles_visited: 32,
            max_delegation_depth: 16,
        }
    }
}
