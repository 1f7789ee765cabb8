//! TUF benchmarks (a command, not a test): `cargo bench --bench tuf`.
//!
//! 1. Verifications per second of a signed targets role.
//! 2. A repository with 100,000 targets: bytes (and requests) a fresh
//!    client downloads to resolve one target, with succinct hashed bins
//!    (TAP 15) versus one flat targets.json — both, and the ratio.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Instant;

use sha2::Digest;
use time::OffsetDateTime;
use vouch::store::metadata_dir::MetadataDir;
use vouch::store::tuf_repo_dir::write_metadata;
use vouch::store::{DirFetcher, FetchError, Fetcher};
use vouch::tuf::editor::{Expiries, MetadataEditor, RoleSetup};
use vouch::tuf::metadata::{Envelope, RoleName, TargetFile, Targets};
use vouch::tuf::{Limits, TargetPath};
use vouch::update::Updater;
use vouch_keys::PrivateKey;

const TARGETS: usize = 100_000;
const BIT_LENGTH: u32 = 10;

fn key(seed: u8) -> PrivateKey {
    PrivateKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}

fn target(i: usize) -> (String, TargetFile) {
    let name = format!("registry.example/team/app-{:06}:v{}", i / 10, i % 10);
    let digest = hex::encode(sha2::Sha256::digest(name.as_bytes()));
    let tf = TargetFile {
        length: 1000 + (i as u64 % 500),
        hashes: BTreeMap::from([("sha256".to_owned(), digest)]),
        custom: Some(serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json"})),
        extra: Default::default(),
    };
    (name, tf)
}

/// Counts bytes and requests.
struct Counting {
    inner: DirFetcher,
    bytes: Cell<u64>,
    requests: Cell<u64>,
}

impl Fetcher for Counting {
    fn fetch(&mut self, location: &str, max: u64) -> Result<Option<Vec<u8>>, FetchError> {
        let got = self.inner.fetch(location, max)?;
        if let Some(b) = &got {
            self.bytes.set(self.bytes.get() + b.len() as u64);
            self.requests.set(self.requests.get() + 1);
        }
        Ok(got)
    }
}

fn build(dir: &std::path::Path, bins: bool, now: OffsetDateTime) -> String {
    let others = [key(2).public(), key(3).public(), key(4).public()];
    let mut repo =
        MetadataEditor::create_single_key(&key(1), others.each_ref(), true, now, Expiries::default())
            .expect("repository");
    if bins {
        repo.add_succinct_bins("targets", "bin", BIT_LENGTH, &[key(5).public()], 1, now)
            .expect("bins");
    }
    let mut grouped: BTreeMap<RoleName, Vec<(String, TargetFile)>> = BTreeMap::new();
    for i in 0..TARGETS {
        let (name, tf) = target(i);
        let role = if bins {
            repo.bin_for("targets", &name).expect("bin")
        } else {
            RoleName::Targets
        };
        grouped.entry(role).or_default().push((name, tf));
    }
    for (role, entries) in grouped {
        repo.targets
            .get_mut(&role)
            .expect("role")
            .signed
            .targets
            .extend(entries);
    }
    repo.sign_targets_roles(&key(2)).expect("sign");
    repo.sign_targets_roles(&key(5)).expect("sign");
    repo.bump_snapshot(now);
    repo.snapshot.sign(&key(3)).expect("sign");
    repo.bump_timestamp(now).expect("ts");
    repo.timestamp.sign(&key(4)).expect("sign");
    write_metadata(&repo, dir).expect("write");
    target(TARGETS / 2).0
}

fn cold_resolve(dir: &std::path::Path, path: &str, now: OffsetDateTime) -> (u64, u64) {
    let client_dir = tempfile::tempdir().expect("tmp");
    let meta = MetadataDir::new(client_dir.path());
    meta.write(
        &RoleName::Root,
        &std::fs::read(dir.join("metadata/1.root.json")).expect("root"),
    )
    .expect("init");
    let mut fetcher = Counting {
        inner: DirFetcher::new(""),
        bytes: Cell::new(0),
        requests: Cell::new(0),
    };
    // The flat targets.json is larger than the default 8 MiB limit a client
    // accepts when snapshot lists no length: raise it for the comparison.
    let limits = Limits {
        max_targets_bytes: 64 << 20,
        ..Limits::default()
    };
    let base = dir.join("metadata").display().to_string();
    let mut client = Updater::open(meta, &mut fetcher, &base, now, limits).expect("open");
    client.refresh().expect("refresh");
    client
        .resolve(&TargetPath::parse(path).expect("path"))
        .expect("resolve");
    (fetcher.bytes.get(), fetcher.requests.get())
}

fn verifications_per_second(now: OffsetDateTime) {
    let single = |s: u8| RoleSetup::single(key(s).public());
    let mut repo = MetadataEditor::create(
        &single(1),
        &single(2),
        &single(3),
        &single(4),
        true,
        now,
        Expiries::default(),
    );
    for i in 0..1000 {
        let (n, t) = target(i);
        repo.targets
            .get_mut("targets")
            .expect("t")
            .signed
            .targets
            .insert(n, t);
    }
    repo.sign_targets_roles(&key(2)).expect("sign");
    let bytes = repo.targets["targets"].to_bytes().expect("bytes");
    let root = &repo.root.signed;
    let role = &root.roles["targets"];
    let env: Envelope<Targets> = Envelope::parse("targets", &bytes).expect("parse");
    let verify = || {
        vouch::tuf::crypto::verify_threshold(
            "targets",
            1,
            &env.canonical,
            &env.signatures,
            &root.keys,
            &role.keyids,
            1,
        )
        .expect("verifies")
    };
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        verify();
    }
    let sig_only = n as f64 / t.elapsed().as_secs_f64();
    let n2 = 200;
    let t = Instant::now();
    for _ in 0..n2 {
        let env: Envelope<Targets> = Envelope::parse("targets", &bytes).expect("parse");
        vouch::tuf::crypto::verify_threshold(
            "targets",
            1,
            &env.canonical,
            &env.signatures,
            &root.keys,
            &role.keyids,
            1,
        )
        .expect("verifies");
    }
    let full = n2 as f64 / t.elapsed().as_secs_f64();
    println!("targets role with 1,000 targets ({} KiB):", bytes.len() / 1024);
    println!("  signature check (canonical bytes in hand): {sig_only:>10.0} verifications/s");
    println!("  parse + canonicalise + check:              {full:>10.0} verifications/s");
}

fn main() {
    let now = OffsetDateTime::now_utc();
    verifications_per_second(now);

    let flat_dir = tempfile::tempdir().expect("tmp");
    let bins_dir = tempfile::tempdir().expect("tmp");
    let path = build(flat_dir.path(), false, now);
    build(bins_dir.path(), true, now);
    let (flat, flat_req) = cold_resolve(flat_dir.path(), &path, now);
    let (bins, bins_req) = cold_resolve(bins_dir.path(), &path, now);
    println!();
    println!("cold resolve of one target in a repository of {TARGETS} targets (fresh client, root pinned):");
    println!("  flat targets.json:                        {flat:>10} bytes in {flat_req} requests");
    println!(
        "  succinct hashed bins (2^{BIT_LENGTH} bins):          {bins:>10} bytes in {bins_req} requests"
    );
    println!(
        "  ratio bins/flat:                          {:>9.2}%",
        100.0 * bins as f64 / flat as f64
    );
}
