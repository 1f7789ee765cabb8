//! How long unlocking a key takes: vouch's scrypt settings next to the
//! 2,048-round PBKDF2 that Notary v1 / Docker Content Trust keys use.
//!
//! Run with `cargo bench -p vouch-keys --bench unlock`. Prints medians and
//! ratios; a benchmark, not a test.

use std::time::{Duration, Instant};

use vouch_keys::sealed::{self, KdfCap, ScryptCost};
use vouch_keys::{Passphrase, PrivateKey, pem};

const RUNS: usize = 9;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_open(der: &[u8], pass: &Passphrase) -> Duration {
    median(
        (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                let key = sealed::open(der, pass, &KdfCap::DEFAULT, "bench").expect("opens");
                std::hint::black_box(key);
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let pass = Passphrase::new("benchmark passphrase".to_owned());
    let key = PrivateKey::generate_ed25519().expect("rng");

    let notary_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/keys/docker-style/f46b632ec3ead16c2423f8fbb9cfdccd8e76ebaf983df2eac2792d7bbf702d57.key"
    );
    let text = std::fs::read_to_string(notary_file).expect("notary fixture");
    let notary_der = pem::parse(&text).expect("pem").der;
    let notary = time_open(&notary_der, &Passphrase::new("docker-repo-test".to_owned()));

    println!("unlock one key, median of {RUNS} runs on this machine");
    println!("{:<52} {:>10} {:>12}", "KDF", "time", "vs notary");
    println!(
        "{:<52} {:>8.2}ms {:>11}",
        "notary v1 / DCT: PBKDF2-HMAC-SHA1, 2,048 rounds",
        notary.as_secs_f64() * 1e3,
        "1x"
    );
    for (label, cost) in [
        (
            "vouch default: scrypt N=2^16 r=3 p=6 (24 MiB)",
            ScryptCost::DEFAULT,
        ),
        (
            "vouch --kdf strong: scrypt N=2^17 r=8 p=1 (128 MiB)",
            ScryptCost::STRONG,
        ),
    ] {
        let der = sealed::seal(&key, &pass, cost).expect("seal");
        let t = time_open(&der, &pass);
        println!(
            "{label:<52} {:>8.2}ms {:>10.0}x",
            t.as_secs_f64() * 1e3,
            t.as_secs_f64() / notary.as_secs_f64()
        );
    }
    println!(
        "(each guess at a passphrase costs an attacker the same work; scrypt also needs the memory shown per guess)"
    );
}
