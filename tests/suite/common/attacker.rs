//! The attacker of the trust-layer tests: write access to the store (an
//! OCI layout directory or a registry repository) and no key of the
//! repository. It reads and rewrites the trust artifact through vouch's
//! own store code, as anyone with the store's API could.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use vouch::store::Store;
use vouch::store::artifact;
use vouch::tuf::metadata::canonical;
use vouch_keys::PrivateKey;

/// Someone who can write the store but holds no key.
pub struct Attacker {
    store: Box<dyn Store>,
}

impl Attacker {
    /// Write access to an OCI layout directory.
    pub fn layout(dir: &Path) -> Attacker {
        let store = vouch::store::oci_layout::OciLayout::open(dir).expect("layout");
        Attacker {
            store: Box::new(store),
        }
    }

    /// Write access to a registry repository (`addr` is host:port).
    pub fn registry(addr: &str, repository: &str, scratch: &Path) -> Attacker {
        let store = vouch::store::registry::Registry::new(
            addr,
            repository,
            vouch::store::registry::Credentials::Anonymous,
            scratch.join("attacker.lock"),
        )
        .expect("registry");
        Attacker {
            store: Box::new(store),
        }
    }

    /// The digest the trust tag points at (to show nothing was published).
    pub fn trust_digest(&self) -> Option<String> {
        self.store.head(artifact::TRUST_TAG).expect("head")
    }

    /// Every file of the trust artifact, by name.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut art = artifact::read(self.store.as_ref())
            .expect("read")
            .expect("trust artifact");
        art.load_all(self.store.as_ref()).expect("groups of bins");
        art.files
            .iter()
            .map(|(name, d)| (name.clone(), self.store.blob(&d.digest, d.size).expect("blob")))
            .collect()
    }

    /// Makes `files` the trust artifact.
    pub fn publish(&self, files: &BTreeMap<String, Vec<u8>>) {
        let current = self.trust_digest();
        artifact::publish(
            self.store.as_ref(),
            files,
            &Default::default(),
            None,
            current.as_deref(),
        )
        .expect("publish")
        .expect("the trust tag moved meanwhile");
    }

    /// Stages `proposal` (a `vouch-proposal` document) under the tag its
    /// id names, as anyone who can write the store can; returns the id.
    pub fn stage(&self, proposal: &Value) -> String {
        let parsed: vouch::trust::writer::Proposal =
            serde_json::from_value(proposal.clone()).expect("a proposal");
        let id = parsed.id().expect("id");
        let bytes = serde_json::to_vec(proposal).expect("bytes");
        vouch::store::staged::put(
            self.store.as_ref(),
            &format!("{}{id}", vouch::store::staged::PREFIX),
            "vouch-proposal",
            &bytes,
        )
        .expect("stage");
        id
    }

    /// Whether the store holds trust data.
    pub fn has_trust_data(&self) -> bool {
        artifact::read(self.store.as_ref()).expect("read").is_some()
    }

    /// Rewrites the `signed` part of the newest `N.ROLE.json` with `edit`,
    /// keeping the old signatures (now invalid) or stripping them.
    pub fn edit(&self, role: &str, strip: bool, edit: impl FnOnce(&mut Value)) {
        let mut files = self.files();
        let name = newest(&files, role);
        let mut v: Value = serde_json::from_slice(&files[&name]).expect("json");
        edit(&mut v["signed"]);
        if strip {
            v["signatures"] = json!([]);
        }
        files.insert(name, serde_json::to_vec(&v).expect("bytes"));
        self.publish(&files);
    }
}

/// The newest `N.ROLE.json` among `files`.
pub fn newest(files: &BTreeMap<String, Vec<u8>>, role: &str) -> String {
    let suffix = format!(".{role}.json");
    files
        .keys()
        .filter_map(|n| {
            n.strip_suffix(&suffix)
                .and_then(|v| v.parse::<u64>().ok())
                .map(|v| (v, n.clone()))
        })
        .max()
        .map(|(_, n)| n)
        .unwrap_or_else(|| panic!("no {role} in {:?}", files.keys()))
}

/// A complete trust repository that signs `tag` as the manifest
/// (`digest`, `length`), with every role's key list made by `keys` (id →
/// key object) and `threshold`, and every file signed by `signers` (each a
/// private key and the ids it signs under).
pub fn forged_repository(
    keys: &BTreeMap<String, Value>,
    threshold: u64,
    signers: &[(&PrivateKey, Vec<&str>)],
    tag: &str,
    digest: &str,
    length: u64,
) -> BTreeMap<String, Vec<u8>> {
    let expires = "2030-01-01T00:00:00Z";
    let ids: Vec<&String> = keys.keys().collect();
    let role = json!({"keyids": ids, "threshold": threshold});
    let root = json!({
        "_type": "root", "spec_version": "1.0.31", "version": 1, "expires": expires,
        "consistent_snapshot": true, "keys": keys,
        "roles": {"root": role, "targets": role, "snapshot": role, "timestamp": role},
    });
    let hex = digest.trim_start_matches("sha256:");
    let targets = json!({
        "_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": expires,
        "targets": {tag: {"length": length, "hashes": {"sha256": hex},
                          "custom": {"mediaType": "application/vnd.oci.image.manifest.v1+json"}}},
    });
    let snapshot = json!({
        "_type": "snapshot", "spec_version": "1.0.31", "version": 1, "expires": expires,
        "meta": {"targets.json": {"version": 1}},
    });
    let sign = |signed: &Value| {
        let bytes = canonical(signed).expect("canonical");
        let mut signatures = Vec::new();
        for (key, ids) in signers {
            let sig = hex::encode(key.sign(&bytes));
            for id in ids {
                signatures.push(json!({"keyid": id, "sig": sig}));
            }
        }
        serde_json::to_vec(&json!({"signed": signed, "signatures": signatures})).expect("bytes")
    };
    let snapshot_bytes = sign(&snapshot);
    use sha2::Digest;
    let timestamp = json!({
        "_type": "timestamp", "spec_version": "1.0.31", "version": 1, "expires": expires,
        "meta": {"snapshot.json": {"version": 1, "length": snapshot_bytes.len(),
                 "hashes": {"sha256": hex::encode(sha2::Sha256::digest(&snapshot_bytes))}}},
    });
    BTreeMap::from([
        ("1.root.json".to_owned(), sign(&root)),
        ("1.targets.json".to_owned(), sign(&targets)),
        ("1.snapshot.json".to_owned(), snapshot_bytes),
        ("timestamp.json".to_owned(), sign(&timestamp)),
    ])
}

/// A key's TUF JSON object.
pub fn key_object(key: &PrivateKey) -> Value {
    key.public().tuf_json()
}

/// The TUF key id of a key object (SHA-256 of its canonical JSON).
pub fn key_id(object: &Value) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(canonical(object).expect("canonical")))
}

/// A fresh Ed25519 key.
pub fn new_key() -> PrivateKey {
    PrivateKey::generate_ed25519().expect("key")
}

/// `signed` in an envelope signed by each key (under its own key id).
pub fn sign_json(signed: &Value, keys: &[&PrivateKey]) -> Vec<u8> {
    let bytes = canonical(signed).expect("canonical");
    let signatures: Vec<Value> = keys
        .iter()
        .map(|k| json!({"keyid": k.public().key_id().to_string(), "sig": hex::encode(k.sign(&bytes))}))
        .collect();
    serde_json::to_vec(&json!({"signed": signed, "signatures": signatures})).expect("bytes")
}

/// `files` with one more targets version, edited by `edit`, signed by
/// `targets` and listed by a new snapshot (signed by `snapshot`) and
/// timestamp (signed by `timestamp`): what a holder of those keys
/// publishes on their own.
pub fn resign_targets(
    files: &BTreeMap<String, Vec<u8>>,
    edit: impl FnOnce(&mut Value),
    targets: &PrivateKey,
    snapshot: &PrivateKey,
    timestamp: &PrivateKey,
) -> BTreeMap<String, Vec<u8>> {
    use sha2::Digest;
    let mut files = files.clone();
    let parse = |name: &str| -> Value {
        serde_json::from_slice::<Value>(&files[name]).expect("json")["signed"].clone()
    };
    let meta = |bytes: &[u8], version: u64| {
        json!({"version": version, "length": bytes.len(),
               "hashes": {"sha256": hex::encode(sha2::Sha256::digest(bytes))}})
    };
    let mut t = parse(&newest(&files, "targets"));
    let tv = t["version"].as_u64().expect("version") + 1;
    t["version"] = json!(tv);
    edit(&mut t);
    let t_bytes = sign_json(&t, &[targets]);
    let mut s = parse(&newest(&files, "snapshot"));
    // A state that descends from the one served (vouch's fork check): the
    // refusal a test looks for is then about keys, not history.
    let previous: vouch::tuf::metadata::Snapshot = serde_json::from_value(s.clone()).expect("snapshot");
    s[vouch::tuf::history::FIELD] = vouch::tuf::history::next_history(&previous).expect("history");
    let sv = s["version"].as_u64().expect("version") + 1;
    s["version"] = json!(sv);
    s["meta"]["targets.json"] = meta(&t_bytes, tv);
    let s_bytes = sign_json(&s, &[snapshot]);
    let mut ts = parse("timestamp.json");
    ts["version"] = json!(ts["version"].as_u64().expect("version") + 1);
    ts["meta"]["snapshot.json"] = meta(&s_bytes, sv);
    files.insert(format!("{tv}.targets.json"), t_bytes);
    files.insert(format!("{sv}.snapshot.json"), s_bytes);
    files.insert("timestamp.json".to_owned(), sign_json(&ts, &[timestamp]));
    files
}
