//! `WWW-Authenticate` challenges, parsed (public for fuzzing).

/// A `WWW-Authenticate` challenge (public for fuzzing).
#[derive(Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic`: answered with the configured credentials.
    Basic,
    /// `Bearer`: a token from `realm`.
    Bearer {
        /// The token service's URL.
        realm: String,
        /// The `service` parameter, if any.
        service: Option<String>,
    },
    /// Anything else (not answered).
    Other(String),
}

impl Challenge {
    /// Parses one challenge; never fails (what is not understood is
    /// [`Challenge::Other`]).
    pub fn parse(value: &str) -> Challenge {
        let value = value.trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Challenge::Basic;
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Challenge::Other(scheme.chars().take(32).collect());
        }
        let params = auth_params(rest);
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        match get("realm").filter(|realm| !realm.is_empty()) {
            Some(realm) => Challenge::Bearer {
                realm,
                service: get("service"),
            },
            None => Challenge::Other("Bearer without a realm".to_owned()),
        }
    }
}

/// `key="value", key=token, …` (quoted values may hold commas and `\"`).
pub(super) fn auth_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            return out;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
        }
        out.push((key.trim().to_owned(), value.trim().to_owned()));
    }
}
