//! Canonical JSON (OLPC's, as TUF signs it): any JSON value canonicalises
//! without panicking; the result does not depend on how the input was
//! formatted; and, for ASCII output, it is byte for byte what tough's
//! `olpc-cjson` writes. (It need not be valid JSON: OLPC canonical JSON
//! escapes only `"` and `\`, so control characters stay raw, as in
//! securesystemslib. Beyond ASCII the two differ on purpose: olpc-cjson
//! normalises strings to Unicode NFC, securesystemslib, whose bytes
//! python-tuf signs, does not, and vouch follows securesystemslib.
//! The two also order keys differently when a key is a prefix of another
//! followed by a character below `"`, or holds `"` or `\`: olpc-cjson sorts
//! the escaped, quoted keys, securesystemslib and Go's canonical JSON sort
//! the keys themselves, and vouch does as they do. The byte comparison is
//! made only where the two orders agree.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use vouch::tuf::metadata::canonical;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let ours = canonical(&value);
    let pretty = serde_json::to_vec_pretty(&value).expect("a value serialises");
    let reparsed: serde_json::Value = serde_json::from_slice(&pretty).expect("serde's own output parses");
    assert_eq!(canonical(&reparsed).ok(), ours.as_ref().ok().cloned());

    let mut theirs = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut theirs, olpc_cjson::CanonicalFormatter::new());
    if value.serialize(&mut ser).is_ok()
        && let Ok(ours) = ours
        && ours.is_ascii()
        && olpc_key_order_agrees(&value)
    {
        assert_eq!(ours, theirs, "vouch and olpc-cjson disagree");
    }
});

/// Whether, in every object of `value`, sorting the keys as olpc-cjson does
/// (their escaped, quoted form) gives the same order as sorting the keys.
fn olpc_key_order_agrees(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Array(items) => items.iter().all(olpc_key_order_agrees),
        Value::Object(map) => {
            let mut quoted: Vec<(Vec<u8>, &String)> = map
                .keys()
                .map(|k| (canonical(&Value::String(k.clone())).expect("a string canonicalises"), k))
                .collect();
            quoted.sort();
            quoted.iter().map(|(_, k)| *k).eq(map.keys()) && map.values().all(olpc_key_order_agrees)
        }
        _ => true,
    }
}
