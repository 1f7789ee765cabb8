//! Debug output of every type that holds or touches a secret shows no
//! secret material.

use vouch_keys::sealed::{self, ScryptCost};
use vouch_keys::{Passphrase, PrivateKey};

const FAST: ScryptCost = ScryptCost {
    log_n: 10,
    r: 8,
    p: 1,
};

#[test]
fn debug_output_shows_no_secret() {
    let pass = Passphrase::new("hunter2-hunter2".to_owned());
    let key = PrivateKey::generate_ed25519().expect("rng");
    let PrivateKey::Ed25519(inner) = &key else {
        panic!("ed25519")
    };
    let seed = inner.to_bytes();
    let sealed_der = sealed::seal(&key, &pass, FAST).expect("seal");
    let opened = sealed::open(&sealed_der, &pass, &sealed::KdfCap::DEFAULT, "t").expect("open");

    let shown = format!("{pass:?} {key:?} {opened:?} {:#?}", key.public());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains(&hex::encode(seed)), "{shown}");
    assert!(!shown.contains(&format!("{seed:?}")), "{shown}");
    assert!(!shown.contains(&format!("{:?}", &seed[..8])), "{shown}");
    assert!(
        shown.contains(key.public().key_id().as_str()),
        "Debug names the key id: {shown}"
    );
}

#[test]
fn bytes_after_a_private_key_are_refused() {
    let key = PrivateKey::generate_ed25519().expect("rng");
    let der = key.to_pkcs8_der();
    assert!(PrivateKey::from_pkcs8_der(&der, "t").is_ok());
    let mut longer = der.to_vec();
    longer.extend_from_slice(&[0x41; 15]);
    assert!(
        PrivateKey::from_pkcs8_der(&longer, "t").is_err(),
        "trailing bytes accepted"
    );
}

#[test]
fn any_single_byte_change_to_a_sealed_key_is_refused() {
    let pass = Passphrase::new("p".to_owned());
    let key = PrivateKey::generate_ed25519().expect("rng");
    let der = sealed::seal(&key, &pass, ScryptCost { log_n: 4, r: 1, p: 1 }).expect("seal");
    // Ciphertext bytes (the tail): a flip never yields the same key.
    for i in der.len() - 32..der.len() {
        let mut bad = der.clone();
        bad[i] ^= 0x01;
        if let Ok(k) = sealed::open(&bad, &pass, &sealed::KdfCap::DEFAULT, "t") {
            assert_ne!(k.public(), key.public(), "byte {i}");
        }
    }
}
