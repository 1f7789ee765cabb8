//! How hard new key files are sealed (`--kdf`), shared by the commands that seal keys.

/// How hard to seal new key files.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum KdfChoice {
    /// scrypt N=2^16 r=3 p=6 (24 MiB a lane): readable by `openssl pkey`
    #[default]
    Default,
    /// scrypt N=2^17 r=8 p=1 (128 MiB): more memory-hard; OpenSSL 3 cannot open it
    Strong,
}

impl KdfChoice {
    pub fn cost(self) -> vouch_keys::sealed::ScryptCost {
        match self {
            KdfChoice::Default => vouch_keys::sealed::ScryptCost::DEFAULT,
            KdfChoice::Strong => vouch_keys::sealed::ScryptCost::STRONG,
        }
    }
}
