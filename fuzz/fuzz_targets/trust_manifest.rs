//! The trust artifact's manifest, as an untrusted store serves it: it
//! parses to metadata file names that are plain names, or is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::store::artifact::parse_manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(artifact) = parse_manifest("sha256:fuzz", data) {
        for name in artifact.files.keys() {
            assert!(!name.contains('/') && !name.starts_with('.'), "{name}");
        }
    }
});
