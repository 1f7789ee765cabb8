//! Private keys at rest: PKCS#8 `EncryptedPrivateKeyInfo` with PBES2.
//!
//! vouch seals with scrypt (memory-hard) and AES-256-CBC. It opens whatever
//! PBES2 combination OpenSSL, Docker Content Trust and notary write (scrypt or
//! PBKDF2 with HMAC-SHA1/SHA-256, AES-CBC), but first checks the cost the
//! file asks for against a cap, so a hostile file cannot make us spend
//! gigabytes of memory or minutes of CPU.

use pkcs5::EncryptionScheme;
use pkcs5::pbes2;
use pkcs8::EncryptedPrivateKeyInfoRef;
use pkcs8::der::asn1::OctetStringRef;
use pkcs8::der::{Decode, Encode};
use zeroize::Zeroizing;

use crate::error::{KeyError, Result};
use crate::secret::{Passphrase, PrivateKey};

/// scrypt cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScryptCost {
    /// log2 of the CPU/memory cost N.
    pub log_n: u8,
    /// Block size r.
    pub r: u32,
    /// Parallelism p.
    pub p: u32,
}

impl ScryptCost {
    /// What vouch writes by default: N = 2^16, r = 3, p = 6, so 24 MiB a
    /// lane. `openssl pkey` must be able to read vouch's key files, and
    /// OpenSSL 3 refuses to derive with more than 32 MiB; at that memory
    /// this is slightly more scrypt work than N = 2^17, r = 8, p = 1
    /// (N·r·p ≈ 1.18 M against 1.05 M block operations).
    pub const DEFAULT: ScryptCost = ScryptCost {
        log_n: 16,
        r: 3,
        p: 6,
    };

    /// The memory-hard choice: N = 2^17, r = 8, p = 1 (128 MiB per guess).
    /// OpenSSL 3 cannot open files sealed this way.
    pub const STRONG: ScryptCost = ScryptCost {
        log_n: 17,
        r: 8,
        p: 1,
    };

    /// Memory one scrypt lane needs, in bytes (128·r·N).
    pub fn memory_bytes(&self) -> u128 {
        128u128 * u128::from(self.r) * (1u128 << self.log_n)
    }

    /// Memory when all `p` lanes run at once, as they may: vouch derives
    /// the lanes in parallel on as many cores as the machine has.
    pub fn peak_memory_bytes(&self) -> u128 {
        self.memory_bytes() * u128::from(self.p)
    }
}

impl std::fmt::Display for ScryptCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "scrypt log_n={} r={} p={}", self.log_n, self.r, self.p)
    }
}

/// The most key-derivation work a key file may ask of us.
#[derive(Clone, Copy, Debug)]
pub struct KdfCap {
    /// Maximum scrypt memory with every lane at once, 128·r·N·p bytes.
    pub max_scrypt_memory: u128,
    /// Maximum scrypt parallelism p.
    pub max_scrypt_p: u32,
    /// Maximum PBKDF2 iteration count.
    pub max_pbkdf2_iterations: u32,
}

impl KdfCap {
    /// 1 GiB of scrypt memory over all lanes (7× vouch's default, 8× the
    /// strong setting), p ≤ 16, and 10 million PBKDF2 iterations (Notary
    /// v1 writes 2,048).
    pub const DEFAULT: KdfCap = KdfCap {
        max_scrypt_memory: 1 << 30,
        max_scrypt_p: 16,
        max_pbkdf2_iterations: 10_000_000,
    };
}

/// Encrypts `key` under `passphrase` with scrypt at `cost` and AES-256-CBC;
/// returns the DER `EncryptedPrivateKeyInfo`.
pub fn seal(key: &PrivateKey, passphrase: &Passphrase, cost: ScryptCost) -> Result<Vec<u8>> {
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    let rng_err = |e: getrandom::Error| KeyError::Io {
        action: "reading randomness from",
        path: "the operating system".into(),
        source: std::io::Error::other(e.to_string()),
    };
    getrandom::fill(&mut salt).map_err(rng_err)?;
    getrandom::fill(&mut iv).map_err(rng_err)?;
    let internal = |what: &str| KeyError::Corrupt {
        path: "(new key)".to_owned(),
        reason: format!("could not {what}"),
    };
    let params = scrypt::Params::new(cost.log_n, cost.r, cost.p)
        .map_err(|_| internal("use these scrypt parameters"))?;
    let params = pbes2::Parameters::generate_scrypt_aes256cbc(params, &salt, iv)
        .map_err(|_| internal("use these scrypt parameters"))?;
    let plain = key.to_pkcs8_der();
    let ciphertext = params
        .encrypt(passphrase.expose(), &plain)
        .map_err(|_| internal("encrypt the key"))?;
    let info = EncryptedPrivateKeyInfoRef {
        encryption_algorithm: params.into(),
        encrypted_data: OctetStringRef::new(&ciphertext).map_err(|_| internal("encode the key"))?,
    };
    info.to_der().map_err(|_| internal("encode the key"))
}

/// What a sealed key asks of its opener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KdfDescription {
    /// scrypt with these parameters.
    Scrypt(ScryptCost),
    /// PBKDF2 with this many iterations.
    Pbkdf2 {
        /// The iteration count.
        iterations: u32,
    },
}

/// Reads the KDF parameters of a sealed key without deriving anything.
pub fn describe(der: &[u8], path: &str) -> Result<KdfDescription> {
    let info = parse(der, path)?;
    describe_scheme(&info.encryption_algorithm, path)
}

fn parse<'a>(der: &'a [u8], path: &str) -> Result<EncryptedPrivateKeyInfoRef<'a>> {
    EncryptedPrivateKeyInfoRef::from_der(der)
        .map_err(|e| KeyError::corrupt(path, format!("not a PKCS#8 encrypted private key ({e})")))
}

fn describe_scheme(scheme: &EncryptionScheme, path: &str) -> Result<KdfDescription> {
    let params = match scheme {
        EncryptionScheme::Pbes2(p) => p,
        _ => {
            return Err(KeyError::Unsupported {
                path: path.to_owned(),
                what: "encryption scheme PBES1 (re-encrypt with `openssl pkcs8 -topk8 -v2 aes-256-cbc`)"
                    .to_owned(),
            });
        }
    };
    if let Some(s) = params.kdf.scrypt() {
        let n = s.cost_parameter;
        if n < 2 || !n.is_power_of_two() {
            return Err(KeyError::corrupt(path, "scrypt N is not a power of two"));
        }
        return Ok(KdfDescription::Scrypt(ScryptCost {
            log_n: n.trailing_zeros() as u8,
            r: u32::from(s.block_size),
            p: u32::from(s.parallelization),
        }));
    }
    if let Some(p) = params.kdf.pbkdf2() {
        return Ok(KdfDescription::Pbkdf2 {
            iterations: p.iteration_count,
        });
    }
    Err(KeyError::Unsupported {
        path: path.to_owned(),
        what: "key derivation function".to_owned(),
    })
}

fn check_cap(kdf: KdfDescription, cap: &KdfCap, path: &str) -> Result<()> {
    match kdf {
        KdfDescription::Scrypt(c)
            if c.peak_memory_bytes() > cap.max_scrypt_memory || c.p > cap.max_scrypt_p =>
        {
            Err(KeyError::KdfCostTooHigh {
                path: path.to_owned(),
                cost: format!("{c}, {} MiB over its lanes", c.peak_memory_bytes() >> 20),
                cap: format!(
                    "{} MiB of scrypt memory over all lanes and p <= {}",
                    cap.max_scrypt_memory >> 20,
                    cap.max_scrypt_p
                ),
            })
        }
        KdfDescription::Pbkdf2 { iterations } if iterations > cap.max_pbkdf2_iterations => {
            Err(KeyError::KdfCostTooHigh {
                path: path.to_owned(),
                cost: format!("PBKDF2 with {iterations} iterations"),
                cap: format!("{} PBKDF2 iterations", cap.max_pbkdf2_iterations),
            })
        }
        _ => Ok(()),
    }
}

/// Checks, without deriving anything, that opening the sealed key stays
/// within `cap`.
pub fn check(der: &[u8], cap: &KdfCap, path: &str) -> Result<()> {
    check_cap(describe(der, path)?, cap, path)
}

/// Decrypts a sealed key. `path` only names the file in errors.
pub fn open(der: &[u8], passphrase: &Passphrase, cap: &KdfCap, path: &str) -> Result<PrivateKey> {
    let info = parse(der, path)?;
    check_cap(describe_scheme(&info.encryption_algorithm, path)?, cap, path)?;
    let wrong = || KeyError::WrongPassphrase {
        what: path.to_owned(),
    };
    let plain = Zeroizing::new(
        info.encryption_algorithm
            .decrypt(passphrase.expose(), info.encrypted_data.as_bytes())
            .map_err(|e| match e {
                pkcs5::Error::DecryptFailed => wrong(),
                other => KeyError::Unsupported {
                    path: path.to_owned(),
                    what: format!("encryption parameters ({other})"),
                },
            })?,
    );
    // A wrong passphrase occasionally yields valid CBC padding; the inner
    // DER then fails to parse, and that is still a wrong passphrase.
    PrivateKey::from_pkcs8_der(&plain, path).map_err(|e| match e {
        KeyError::Corrupt { .. } => wrong(),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: ScryptCost = ScryptCost {
        log_n: 10,
        r: 8,
        p: 1,
    };

    #[test]
    fn seal_open_round_trip() {
        let key = PrivateKey::generate_ed25519().expect("rng");
        let pass = Passphrase::new("correct horse".into());
        let der = seal(&key, &pass, FAST).expect("seal");
        let back = open(&der, &pass, &KdfCap::DEFAULT, "t").expect("open");
        assert_eq!(back.public(), key.public());
        let err = open(&der, &Passphrase::new("nope".into()), &KdfCap::DEFAULT, "t").expect_err("must fail");
        assert!(matches!(err, KeyError::WrongPassphrase { .. }), "{err:?}");
        assert_eq!(
            describe(&der, "t").expect("describe"),
            KdfDescription::Scrypt(FAST)
        );
    }

    #[test]
    fn cost_above_cap_is_refused_before_deriving() {
        let key = PrivateKey::generate_ed25519().expect("rng");
        let pass = Passphrase::new("p".into());
        let der = seal(&key, &pass, FAST).expect("seal");
        let tiny = KdfCap {
            max_scrypt_memory: 1024,
            ..KdfCap::DEFAULT
        };
        let err = open(&der, &pass, &tiny, "t").expect_err("must fail");
        assert!(matches!(err, KeyError::KdfCostTooHigh { .. }), "{err:?}");
    }
}
