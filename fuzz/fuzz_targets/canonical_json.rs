//! Canonical JSON: any JSON value canonicalises without panicking, and
//! canonicalising is idempotent (what signatures are computed over must not
//! depend on how often it was re-encoded).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::tuf::metadata::canonical;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(once) = canonical(&value) else {
        return;
    };
    let reparsed: serde_json::Value = serde_json::from_slice(&once).expect("canonical JSON parses");
    let twice = canonical(&reparsed).expect("canonical JSON canonicalises");
    assert_eq!(once, twice);
});
