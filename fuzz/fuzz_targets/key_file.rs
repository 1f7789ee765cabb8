//! Key files: vouch's, PKCS#8 and SEC1 PEM, Docker Content Trust / notary
//! PEM with headers. Any text gives a key or an error; no passphrase is
//! ever given, so nothing is decrypted (the KDF parameters are still
//! checked against their cap before a passphrase is asked for).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_keys::passphrase::{Obtained, PassphraseProvider, Request, Source};
use vouch_keys::{KeyError, KeyFile, Role};

struct NoPassphrase;

impl PassphraseProvider for NoPassphrase {
    fn obtain(&mut self, req: &Request<'_>, _: Option<&Source>) -> vouch_keys::Result<Obtained> {
        Err(KeyError::NoPassphrase {
            what: req.what.to_owned(),
            env_vars: Vec::new(),
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let targets = Role::parse("targets").expect("a role name");
    let _ = vouch_keys::pem::parse(text);
    let _ = KeyFile::parse(text, "fuzz.key");
    let _ = vouch_keys::import::read_foreign(text, "fuzz.key", None, &targets, &mut NoPassphrase);
});
