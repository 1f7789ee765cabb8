//! X.509 certificates, parsed once for whoever needs their facts: the TUF
//! core (a root key given as a certificate) and the Notary v1 reader (root
//! certificates whose common name is the GUN). A leaf: it imports nothing
//! of vouch.

use time::OffsetDateTime;

/// An X.509 certificate's facts that Notary checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject common name (must be the GUN).
    pub common_name: String,
    /// Validity start.
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
    /// Whether it is a CA certificate (a root key must be a leaf).
    pub is_ca: bool,
}

/// The certificate in a PEM text: its facts and its DER SubjectPublicKeyInfo.
pub fn parse_certificate(pem: &[u8]) -> Option<(CertInfo, Vec<u8>)> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).ok()?;
    let cert = pem.parse_x509().ok()?;
    let common_name = cert
        .subject()
        .iter_common_name()
        .last()
        .and_then(|cn| cn.as_str().ok())?
        .to_owned();
    let validity = cert.validity();
    let info = CertInfo {
        common_name,
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
        is_ca: cert.is_ca(),
    };
    Some((info, cert.public_key().raw.to_vec()))
}
