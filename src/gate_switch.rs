//! The pull gate's switch: `VOUCH_CONTENT_TRUST`, and Docker's
//! `DOCKER_CONTENT_TRUST` when ours is unset.

use crate::policy::Level;

/// Parses Go's `strconv.ParseBool` forms.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The gate's mode from the two variables' values.
///
/// `VOUCH_CONTENT_TRUST`: unset, empty, `0` or `false` is off; `1` or
/// `true` enforces; `audit` warns and allows; anything else is refused as
/// a usage error by the caller (`None`). `DOCKER_CONTENT_TRUST`, read only
/// when ours is unset, is parsed as Docker does: a boolean, and any other
/// non-empty value counts as on.
pub fn mode(vouch: Option<&str>, docker: Option<&str>) -> Option<Level> {
    match vouch {
        Some(v) if !v.is_empty() => match v.to_ascii_lowercase().as_str() {
            "audit" => Some(Level::Audit),
            other => parse_go_bool(other)
                .or_else(|| parse_go_bool(v))
                .map(|on| if on { Level::Enforce } else { Level::Off }),
        },
        _ => match docker {
            None | Some("") => Some(Level::Off),
            Some(d) => Some(if parse_go_bool(d).unwrap_or(true) {
                Level::Enforce
            } else {
                Level::Off
            }),
        },
    }
}

/// A switch variable's value. `Err`: it is set but not valid UTF-8, which
/// no valid value is; the callers refuse it as a usage error (it must never
/// read as unset, which would fall through to the other variable or to
/// "off").
fn switch_var(name: &str) -> Result<Option<String>, ()> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(v) => v.into_string().map(Some).map_err(|_| ()),
    }
}

/// Both switch variables, or `None` when either is not valid UTF-8.
fn switch_vars() -> Option<(Option<String>, Option<String>)> {
    Some((
        switch_var("VOUCH_CONTENT_TRUST").ok()?,
        switch_var("DOCKER_CONTENT_TRUST").ok()?,
    ))
}

/// The gate's mode from the process environment. `None`: a value that is
/// not one of the forms (including one that is not valid UTF-8).
pub fn mode_from_env() -> Option<Level> {
    let (v, d) = switch_vars()?;
    mode(v.as_deref(), d.as_deref())
}

/// The mode of the entry points that exist to enforce (`vouch proxy`,
/// `docker vouch pull`, the containerd verifier): unset (both variables)
/// means enforce; `VOUCH_CONTENT_TRUST` / `DOCKER_CONTENT_TRUST` can still
/// switch them to audit or off. `None`: an invalid `VOUCH_CONTENT_TRUST`.
pub fn mode_enforcing_from_env() -> Option<Level> {
    let (v, d) = switch_vars()?;
    if v.as_deref().is_none_or(str::is_empty) && d.as_deref().is_none_or(str::is_empty) {
        return Some(Level::Enforce);
    }
    mode(v.as_deref(), d.as_deref())
}

/// What applies to a repository: the environment switches the gate; a
/// policy scope can lower it (audit, off) for its repositories.
pub fn effective(env: Level, scope: Option<Level>) -> Level {
    match (env, scope) {
        (Level::Off, _) => Level::Off,
        (Level::Audit, _) => Level::Audit,
        (Level::Enforce, Some(s)) => s,
        (Level::Enforce, None) => Level::Enforce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_docker() {
        assert_eq!(mode(None, None), Some(Level::Off));
        assert_eq!(mode(Some(""), Some("1")), Some(Level::Enforce));
        assert_eq!(mode(Some("0"), Some("1")), Some(Level::Off));
        assert_eq!(mode(Some("true"), None), Some(Level::Enforce));
        assert_eq!(mode(Some("audit"), None), Some(Level::Audit));
        assert_eq!(mode(Some("AUDIT"), None), Some(Level::Audit));
        assert_eq!(mode(Some("maybe"), None), None);
        assert_eq!(
            mode(None, Some("yes")),
            Some(Level::Enforce),
            "not a boolean: on, as Docker does"
        );
        assert_eq!(mode(None, Some("FALSE")), Some(Level::Off));
        assert_eq!(mode(None, Some("")), Some(Level::Off));
        assert_eq!(effective(Level::Enforce, Some(Level::Audit)), Level::Audit);
        assert_eq!(effective(Level::Audit, Some(Level::Enforce)), Level::Audit);
    }
}
