//! Image references as users, Docker and containerd write them: any text
//! parses or is refused, never a panic; what parses prints back as a
//! reference that parses to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::reference::ImageRef;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = ImageRef::parse(text) {
        let again = ImageRef::parse(&r.to_string()).expect("a printed reference parses");
        assert_eq!(again, r);
    }
    let _ = ImageRef::parse_docker(text);
});
