//! Target paths and delegation path patterns.

use super::error::TufError;

/// A target path that cannot escape a target directory: relative, no empty,
/// `.` or `..` segments, no backslash or NUL, at most 1,024 bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetPath(String);

impl TargetPath {
    /// Parses a target path.
    pub fn parse(s: &str) -> Result<TargetPath, TufError> {
        let bad = |reason| TufError::BadTargetPath {
            path: s.to_owned(),
            reason,
        };
        if s.is_empty() || s.len() > 1024 {
            return Err(bad("must be 1 to 1024 bytes"));
        }
        if s.starts_with('/') {
            return Err(bad("absolute paths are not allowed"));
        }
        if s.contains('\\') || s.contains('\0') {
            return Err(bad("backslash and NUL are not allowed"));
        }
        if s.split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return Err(bad("empty, '.' and '..' segments are not allowed"));
        }
        Ok(TargetPath(s.to_owned()))
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path with the last segment prefixed by `hash.` (consistent
    /// snapshots): `a/b/c.txt` → `a/b/HASH.c.txt`.
    pub fn with_hash_prefix(&self, hash: &str) -> String {
        match self.0.rsplit_once('/') {
            Some((dir, file)) => format!("{dir}/{hash}.{file}"),
            None => format!("{hash}.{}", self.0),
        }
    }
}

impl std::fmt::Display for TargetPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shell-style match of a delegation `paths` pattern: `*` matches any run
/// of characters except `/`, `?` one character except `/`, anything else
/// itself (case-sensitive). The whole path must match.
pub fn delegated_path_matches(pattern: &str, path: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    // Iterative matcher with one backtrack point per `*` (which cannot cross
    // `/`, so backtracking never needs to pass a separator).
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && (p[pi] == s[si] || (p[pi] == '?' && s[si] != '/')) {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star.filter(|&(_, ss)| s[ss] != '/') {
            star = Some((sp, ss + 1));
            pi = sp + 1;
            si = ss + 1;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether a path's SHA-256 (hex) starts with any of `prefixes`.
pub fn hash_prefix_matches(prefixes: &[String], path: &str) -> bool {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(path.as_bytes()));
    prefixes.iter().any(|p| digest.starts_with(p.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question_do_not_cross_slashes() {
        assert!(delegated_path_matches("targets/*.tgz", "targets/foo.tgz"));
        assert!(!delegated_path_matches("targets/*.tgz", "targets/sub/foo.tgz"));
        assert!(delegated_path_matches("*/*", "a/b"));
        assert!(!delegated_path_matches("*", "a/b"));
        assert!(delegated_path_matches("a?c", "abc"));
        assert!(!delegated_path_matches("a?c", "a/c"));
        assert!(!delegated_path_matches("File.txt", "file.txt"), "case sensitive");
        assert!(delegated_path_matches("v*", "v1.2"));
        assert!(delegated_path_matches("*", ""));
        assert!(delegated_path_matches("a*b*c", "aXbYc"));
        assert!(!delegated_path_matches("a*b*c", "aXbY/c"));
        assert!(delegated_path_matches("", ""));
        assert!(!delegated_path_matches("", "x"));
    }

    #[test]
    fn traversal_is_refused() {
        for bad in ["../x", "a/../b", "/etc/passwd", "a//b", "a\\b", ".", "a/./b", ""] {
            assert!(TargetPath::parse(bad).is_err(), "{bad}");
        }
        let p = TargetPath::parse("dir/file.txt").expect("ok");
        assert_eq!(p.with_hash_prefix("abc"), "dir/abc.file.txt");
        assert_eq!(TargetPath::parse("f").expect("ok").with_hash_prefix("h"), "h.f");
    }
}
