//! The trust artifact's manifests, as an untrusted store serves them (a
//! format-1 manifest, a format-2 index, a format-2 core or group): each
//! parses to metadata file names that are plain names and groups whose
//! range is ordered, or is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::store::artifact::{parse_index, parse_layers, parse_manifest};

fuzz_target!(|data: &[u8]| {
    let plain = |name: &str| assert!(!name.contains('/') && !name.starts_with('.'), "{name}");
    if let Ok(artifact) = parse_manifest("sha256:fuzz", data) {
        artifact.files.keys().for_each(|n| plain(n));
    }
    if let Ok(files) = parse_layers("sha256:fuzz", data) {
        files.keys().for_each(|n| plain(n));
    }
    if let Ok((_, groups)) = parse_index("sha256:fuzz", data) {
        for g in groups {
            assert!(g.first <= g.last, "{} > {}", g.first, g.last);
        }
    }
});
