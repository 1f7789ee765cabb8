//! What a change still needs: the roles short of their threshold.

/// A role short of its threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortfall {
    /// The role.
    pub role: String,
    /// Valid signatures from distinct authorised keys.
    pub valid: usize,
    /// Its threshold.
    pub threshold: u64,
}

/// What a change still needs, for people: `ROLE signed by V of T, …`.
pub fn needs(short: &[Shortfall]) -> String {
    short
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} signed by {} of {}", self.role, self.valid, self.threshold)
    }
}
