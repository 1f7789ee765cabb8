//! Fuzzes the metadata parser and the first step of the client: any bytes
//! as root, timestamp, snapshot or targets metadata must give a value or an
//! error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::tuf::metadata::{Envelope, Root, Snapshot, Targets, Timestamp, canonical};
use vouch::tuf::{Limits, TrustedSet};

fuzz_target!(|data: &[u8]| {
    let _ = Envelope::<Root>::parse("root", data);
    let _ = Envelope::<Timestamp>::parse("timestamp", data);
    let _ = Envelope::<Snapshot>::parse("snapshot", data);
    if let Ok(env) = Envelope::<Targets>::parse("targets", data) {
        // What parsed serialises back to the same value, and its canonical
        // bytes are stable. (Not always byte-equal to the input's canonical
        // form: an optional field given as null is left out.)
        // (Through a JSON value: OLPC canonical bytes are not always JSON.)
        let again = vouch::tuf::metadata::signed_bytes(&env.signed).expect("serialises");
        let value = serde_json::to_value(&env.signed).expect("serialises");
        let reparsed: Targets = serde_json::from_value(value).expect("re-parses");
        assert_eq!(reparsed, env.signed);
        let twice = vouch::tuf::metadata::signed_bytes(&reparsed).expect("serialises");
        assert_eq!(twice, again);
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = canonical(&v);
    }
    let _ = TrustedSet::new(data, time::OffsetDateTime::UNIX_EPOCH, Limits::default());
});
