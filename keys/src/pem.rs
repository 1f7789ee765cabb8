//! A small PEM reader that also understands what other tools put around
//! the base64: RFC 1421-style header lines inside the block (Docker Content
//! Trust and notary write `role:` and `gun:` there) and explanatory text
//! before it (vouch keeps its key metadata there, where OpenSSL skips it).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// One parsed PEM block.
#[derive(Clone)]
pub struct Pem {
    /// The label, e.g. `ENCRYPTED PRIVATE KEY`.
    pub label: String,
    /// `key: value` lines before the `BEGIN` line.
    pub preamble: Vec<(String, String)>,
    /// `key: value` header lines inside the block.
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub der: Vec<u8>,
}

// The DER may be an encrypted private key; keep it out of Debug output.
impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pem")
            .field("label", &self.label)
            .field("preamble", &self.preamble)
            .field("headers", &self.headers)
            .field("der_len", &self.der.len())
            .finish()
    }
}

impl Pem {
    /// The value of a header line (inside the block), if present.
    pub fn header(&self, key: &str) -> Option<&str> {
        lookup(&self.headers, key)
    }

    /// The value of a preamble line (before the block), if present.
    pub fn preamble_value(&self, key: &str) -> Option<&str> {
        lookup(&self.preamble, key)
    }
}

fn lookup<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Why a text could not be read as PEM.
#[derive(Debug, PartialEq, Eq)]
pub enum PemError {
    /// No `-----BEGIN ...-----` line at all.
    NoBlock,
    /// A block that starts but is damaged: missing end line, bad base64, …
    Damaged(&'static str),
}

/// Parses the first PEM block of `text`.
pub fn parse(text: &str) -> Result<Pem, PemError> {
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    let mut preamble = Vec::new();
    let label = loop {
        let line = lines.next().ok_or(PemError::NoBlock)?;
        if let Some(rest) = line.strip_prefix("-----BEGIN ") {
            let label = rest
                .strip_suffix("-----")
                .ok_or(PemError::Damaged("malformed BEGIN line"))?;
            break label.to_owned();
        }
        if let Some((k, v)) = line.split_once(':') {
            preamble.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    };
    let end = format!("-----END {label}-----");
    let mut headers = Vec::new();
    let mut body = String::new();
    let mut in_headers = true;
    let mut ended = false;
    for line in lines.by_ref() {
        if line == end {
            ended = true;
            break;
        }
        if in_headers {
            if line.is_empty() {
                in_headers = false;
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
                continue;
            }
            in_headers = false;
        }
        body.push_str(line.trim());
    }
    if !ended {
        return Err(PemError::Damaged("no END line (is the file truncated?)"));
    }
    if body.is_empty() {
        return Err(PemError::Damaged("empty body"));
    }
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|_| PemError::Damaged("invalid base64 in the body"))?;
    Ok(Pem {
        label,
        preamble,
        headers,
        der,
    })
}

/// Encodes DER as a PEM block with 64-column lines and a trailing newline.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_headers_and_preamble() {
        let der = b"hello world".to_vec();
        let block = encode("ENCRYPTED PRIVATE KEY", &der);
        let with_headers = block.replacen("-----\n", "-----\nrole: alice\ngun: r/app\n\n", 1);
        let text = format!("name: x\n{with_headers}");
        let pem = parse(&text).expect("parses");
        assert_eq!(pem.label, "ENCRYPTED PRIVATE KEY");
        assert_eq!(pem.header("role"), Some("alice"));
        assert_eq!(pem.header("gun"), Some("r/app"));
        assert_eq!(pem.preamble_value("name"), Some("x"));
        assert_eq!(pem.der, der);
    }

    #[test]
    fn truncated_block_is_damaged() {
        let block = encode("PRIVATE KEY", &[1u8; 100]);
        let cut = &block[..block.len() - 20];
        assert!(matches!(parse(cut), Err(PemError::Damaged(_))));
        assert_eq!(parse("garbage\n").expect_err("not PEM"), PemError::NoBlock);
    }
}
