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
        // Re-serialising what parsed reproduces its canonical bytes.
        let again = vouch::tuf::metadata::signed_bytes(&env.signed).expect("serialises");
        assert_eq!(again, env.canonical);
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = canonical(&v);
    }
    let _ = TrustedSet::new(data, time::OffsetDateTime::UNIX_EPOCH, Limits::default());
});
