//! OCI `index.json` and image manifests from an untrusted layout or
//! registry: tags (a tag named twice is refused), media types, and the
//! targets signing derives from a manifest or index.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::store::oci_layout::{Descriptor, index_tags, sha256_digest};

fuzz_target!(|data: &[u8]| {
    if let Ok(tags) = index_tags(data) {
        let mut names: Vec<&str> = tags.iter().map(|(t, _)| t.as_str()).collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a tag named twice was accepted");
    }
    let media_type = vouch::store::media_type_of(data);
    let desc = Descriptor {
        media_type,
        digest: sha256_digest(data),
        size: data.len() as u64,
        annotations: Default::default(),
        extra: Default::default(),
    };
    let _ = vouch::trust::targets::for_image("fuzz", &desc, Some(data), true);
});
