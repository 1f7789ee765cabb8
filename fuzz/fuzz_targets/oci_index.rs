//! OCI `index.json` and image manifests from an untrusted layout or
//! registry: tags (a tag named twice is refused), media types, and the
//! targets signing derives from a manifest or index.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::store::StoreError;
use vouch::store::oci_layout::{Descriptor, index_lookup, index_tags, sha256_digest};

fuzz_target!(|data: &[u8]| {
    let full = index_tags(data);
    if let Ok(tags) = &full {
        let mut names: Vec<&str> = tags.iter().map(|(t, _)| t.as_str()).collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a tag named twice was accepted");
        // A lookup (one pass, only the tags asked for parsed in full)
        // finds what the full read finds.
        let asked: Vec<String> = tags.iter().take(4).map(|(t, _)| t.clone()).chain(["absent".to_owned()]).collect();
        let found = index_lookup(data, &asked).expect("what reads in full looks up");
        for (tag, d) in asked.iter().zip(found) {
            let expected = tags.iter().find(|(t, _)| t == tag).map(|(_, d)| d.digest.clone());
            assert_eq!(d.map(|d| d.digest), expected, "{tag}");
        }
    }
    if let Err(StoreError::DuplicateTag { .. }) = full {
        assert!(
            index_lookup(data, &[]).is_err(),
            "a tag named twice is refused by a lookup too"
        );
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
