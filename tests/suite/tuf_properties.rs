//! Property tests: canonical JSON round trips, sign → verify round trips,
//! and any single-byte change to signed metadata is refused.

use crate::common::tuf::{BASE, NOW, key, target};
use proptest::prelude::*;
use vouch::tuf::editor::{Expiries, MetadataEditor};
use vouch::tuf::metadata::{Envelope, Targets, canonical, signed_bytes};
use vouch::tuf::{Limits, TrustedSet};

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    json_value_with(".*", ".*")
}

fn json_value_with(keys: &'static str, strings: &'static str) -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        // By default any string: control characters, quotes, non-ASCII.
        strings.prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
            prop::collection::btree_map(keys, inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A signed single-role repository: root, and targets with `names`.
fn repo_with(names: &[String]) -> (Vec<u8>, Vec<u8>) {
    let others = [key(2).public(), key(3).public(), key(4).public()];
    let mut repo =
        MetadataEditor::create_single_key(&key(1), others.each_ref(), true, BASE, Expiries::default())
            .expect("repository");
    for n in names {
        repo.add_target("targets", n, target(n.as_bytes()), BASE)
            .expect("add");
    }
    repo.sign_targets_roles(&key(2)).expect("sign");
    (
        repo.root_history[0].clone(),
        repo.targets["targets"].to_bytes().expect("bytes"),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn canonical_json_round_trips_through_what_vouch_writes(v in json_value()) {
        // vouch writes standard JSON; its canonical form is what is signed.
        let once = canonical(&v).expect("canonical");
        let written = serde_json::to_vec(&v).expect("json");
        let reparsed: serde_json::Value = serde_json::from_slice(&written).expect("parses back");
        prop_assert_eq!(&reparsed, &v);
        prop_assert_eq!(canonical(&reparsed).expect("again"), once);
    }

    // olpc-cjson differs from python-tuf in two ways, so the comparison
    // stays where they agree: it sorts keys by their *encoded* form (quotes
    // included), which differs when a key is a prefix of another followed
    // by a character below '"', and it NFC-normalises strings. See
    // `canonical_json_key_order_matches_python_tuf` in tuf_interop.rs.
    #[test]
    fn canonical_json_matches_olpc_cjson(v in json_value_with("[a-z0-9/._-]{0,6}", "[ -~]{0,12}")) {
        use serde::Serialize;
        let mut oracle = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut oracle, olpc_cjson::CanonicalFormatter::new());
        v.serialize(&mut ser).expect("olpc-cjson");
        prop_assert_eq!(canonical(&v).expect("canonical"), oracle);
    }

    #[test]
    fn canonical_json_is_sorted_compact_and_escapes_only_quote_and_backslash(s in ".*") {
        let v = serde_json::json!({"b": s.clone(), "a": 1});
        let c = String::from_utf8(canonical(&v).expect("canonical")).expect("utf8");
        let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
        prop_assert_eq!(c, format!("{{\"a\":1,\"b\":\"{escaped}\"}}"));
    }

    #[test]
    fn parse_then_serialise_reproduces_the_signed_bytes(extra in json_value(), names in prop::collection::vec("[a-z]{1,8}(/[a-z]{1,8})?", 0..5)) {
        let (_, bytes) = repo_with(&names);
        // Unknown fields must survive a parse → serialise round trip.
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        v["signed"]["x-unknown"] = extra;
        let with_extra = serde_json::to_vec(&v).expect("json");
        let env: Envelope<Targets> = Envelope::parse("targets", &with_extra).expect("parses");
        prop_assert_eq!(signed_bytes(&env.signed).expect("bytes"), env.canonical);
    }

    #[test]
    fn sign_then_verify_round_trips(names in prop::collection::vec("[a-z]{1,12}", 0..6)) {
        let (root, targets) = repo_with(&names);
        let set = TrustedSet::new(&root, NOW, Limits::default()).expect("root verifies");
        let env: Envelope<Targets> = Envelope::parse("targets", &targets).expect("parse");
        let r = set.root().signed();
        let role = &r.roles["targets"];
        vouch::tuf::crypto::verify_threshold("targets", 1, &env.canonical, &env.signatures, &r.keys, &role.keyids, 1)
            .expect("signature verifies");
    }

    #[test]
    fn any_single_byte_change_to_signed_metadata_is_refused(pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let (root, _) = repo_with(&["app".to_owned()]);
        let mut bad = root.clone();
        let i = pos.index(bad.len());
        bad[i] ^= flip;
        // Either it no longer parses, or its signature no longer verifies;
        // a change that leaves the canonical form intact (whitespace
        // outside strings) is not a change to the signed content.
        match TrustedSet::new(&bad, NOW, Limits::default()) {
            Err(_) => {}
            Ok(set) => {
                let original: serde_json::Value = serde_json::from_slice(&root).expect("json");
                let changed: serde_json::Value = serde_json::from_slice(&bad).expect("json");
                prop_assert_eq!(
                    canonical(&original["signed"]).expect("c"),
                    canonical(&changed["signed"]).expect("c"),
                    "byte {} changed the signed content and still verified", i
                );
                drop(set);
            }
        }
    }
}
