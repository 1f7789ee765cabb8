//! `WWW-Authenticate` challenges from an untrusted registry: any header
//! value parses to a challenge (what is not understood is "other"), and a
//! `Bearer` challenge always names a realm.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::store::registry::Challenge;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Challenge::Bearer { realm, .. } = Challenge::parse(text) {
        assert!(!realm.is_empty(), "a Bearer challenge without a realm");
    }
});
