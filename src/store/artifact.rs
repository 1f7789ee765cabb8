//! The trust artifact (see `docs/trust-format.md`): TUF metadata files as
//! layers of OCI manifests, under one index tagged `vouch-trust` (format
//! 2: a core manifest and groups of bins); format 1, one manifest of every
//! file, is still read.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::oci_layout::{Descriptor, sha256_digest};
use super::{FetchError, FetchErrorKind, Fetcher, Store, StoreError};

/// The tag of the trust artifact.
pub const TRUST_TAG: &str = "vouch-trust";
use crate::media_type::{
    OCI_EMPTY as EMPTY_MEDIA_TYPE, OCI_INDEX as INDEX_MEDIA_TYPE, OCI_MANIFEST as MANIFEST_MEDIA_TYPE,
    VOUCH_TRUST_ARTIFACT as ARTIFACT_TYPE_V1, VOUCH_TRUST_ARTIFACT_V2 as ARTIFACT_TYPE,
    VOUCH_TUF_METADATA as METADATA_MEDIA_TYPE,
};
const TITLE: &str = "org.opencontainers.image.title";
const FORMAT: &str = "dev.vouch.trust.format";
const PART: &str = "dev.vouch.trust.part";
const FIRST: &str = "dev.vouch.trust.first";
const LAST: &str = "dev.vouch.trust.last";
/// Largest trust manifest (or index, or group of bins) read.
pub const MAX_TRUST_MANIFEST: u64 = 4 << 20;
/// Bins in one group manifest: a cold lookup reads one group (about 8 KB).
pub const BINS_PER_GROUP: usize = 32;
/// Most groups of bins an index may list (4,096 bins, twice over).
const MAX_GROUPS: usize = 256;
/// Most bytes of manifests read for one artifact.
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// A trust artifact as found in a store.
#[derive(Clone, Debug)]
pub struct TrustArtifact {
    /// Digest of the trust manifest (format 1) or index (format 2).
    pub digest: String,
    /// The format: 1 (one manifest) or 2 (an index of manifests).
    pub format: u32,
    /// Metadata files read so far by TUF file name: every file of format
    /// 1, the core files of format 2 and the bins of the groups loaded.
    pub files: BTreeMap<String, Descriptor>,
    /// Format 2: the groups of bins, by the range of role names they hold.
    pub groups: Vec<BinGroup>,
    /// Bytes of manifests read (the index, the core, groups loaded).
    pub manifest_bytes: u64,
    /// Digests of the manifests and blobs read from the store (checked
    /// against their digests as they were read): known to be there.
    pub fetched: BTreeSet<String>,
}

/// A group of bins in a format-2 artifact: its manifest lists the bin
/// files whose (encoded) role names sort from `first` to `last`.
#[derive(Clone, Debug)]
pub struct BinGroup {
    /// The first role name held.
    pub first: String,
    /// The last role name held.
    pub last: String,
    /// The group's manifest.
    pub manifest: Descriptor,
    /// Whether its files are in [`TrustArtifact::files`].
    pub loaded: bool,
}

/// The encoded role name of a TUF file name (`3.targets%2Freleases.json`
/// is `targets%2Freleases`).
fn role_of(file: &str) -> &str {
    let stem = file.strip_suffix(".json").unwrap_or(file);
    match stem.split_once('.') {
        Some((v, rest)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => stem,
    }
}

fn malformed(what: &str, reason: &str) -> StoreError {
    StoreError::Malformed {
        what: what.to_owned(),
        reason: reason.to_owned(),
    }
}

impl TrustArtifact {
    /// The descriptor of metadata file `name`, loading the group of bins
    /// that holds it when it is not a core file.
    pub fn descriptor(&mut self, store: &dyn Store, name: &str) -> Result<Option<Descriptor>, StoreError> {
        if let Some(d) = self.files.get(name) {
            return Ok(Some(d.clone()));
        }
        let role = role_of(name);
        let Some(i) = self
            .groups
            .iter()
            .position(|g| !g.loaded && g.first.as_str() <= role && role <= g.last.as_str())
        else {
            return Ok(None);
        };
        self.load_group(store, i)?;
        Ok(self.files.get(name).cloned())
    }

    /// Loads every group of bins: for writers, which verify every role.
    pub fn load_all(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        for i in 0..self.groups.len() {
            if !self.groups[i].loaded {
                self.load_group(store, i)?;
            }
        }
        Ok(())
    }

    fn load_group(&mut self, store: &dyn Store, i: usize) -> Result<(), StoreError> {
        let group = &self.groups[i];
        if group.manifest.size > MAX_TRUST_MANIFEST {
            return Err(StoreError::TooLarge {
                what: format!("trust manifest group {}", group.manifest.digest),
                limit: MAX_TRUST_MANIFEST,
            });
        }
        if self.manifest_bytes + group.manifest.size > MAX_MANIFEST_BYTES {
            return Err(StoreError::TooLarge {
                what: format!("the trust manifests of {}", self.digest),
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let bytes = store.manifest(&group.manifest.digest, group.manifest.size)?;
        self.manifest_bytes += bytes.len() as u64;
        self.fetched.insert(group.manifest.digest.clone());
        let what = format!("trust manifest group {}", group.manifest.digest);
        let (first, last) = (group.first.clone(), group.last.clone());
        let layers = parse_layers(&group.manifest.digest, &bytes)?;
        if layers.len() > BINS_PER_GROUP {
            return Err(malformed(&what, "it lists more bins than a group holds"));
        }
        for (name, desc) in layers {
            // A group holds only its own range: it cannot stand in for a
            // core file or another group's bin.
            let role = role_of(&name);
            if role < first.as_str() || role > last.as_str() {
                return Err(malformed(&what, "it lists a file outside its range"));
            }
            self.files.entry(name).or_insert(desc);
        }
        self.groups[i].loaded = true;
        Ok(())
    }
}

/// Reads the trust artifact of a store, if it has one (for format 2, the
/// index and the core manifest; groups of bins are read when needed).
pub fn read(store: &dyn Store) -> Result<Option<TrustArtifact>, StoreError> {
    let Some((bytes, digest)) = store.tagged_manifest(TRUST_TAG, MAX_TRUST_MANIFEST)? else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| malformed(&format!("trust manifest {digest}"), &e.to_string()))?;
    if v["artifactType"] == ARTIFACT_TYPE_V1 {
        let mut art = parse_manifest(&digest, &bytes)?;
        art.manifest_bytes = bytes.len() as u64;
        art.fetched.insert(digest);
        return Ok(Some(art));
    }
    // A format-2 core manifest tagged on its own: what a copy that picks
    // one manifest out of the index (`skopeo copy` without `--all`)
    // leaves. Complete while there are no bins; a bin it lacks is missing
    // (and nothing is decided on it).
    if v["artifactType"] == ARTIFACT_TYPE && v["mediaType"] == MANIFEST_MEDIA_TYPE {
        return Ok(Some(TrustArtifact {
            files: parse_layers(&digest, &bytes)?,
            fetched: BTreeSet::from([digest.clone()]),
            digest,
            format: 2,
            groups: Vec::new(),
            manifest_bytes: bytes.len() as u64,
        }));
    }
    let (core, groups) = parse_index(&digest, &bytes)?;
    if core.size > MAX_TRUST_MANIFEST {
        return Err(StoreError::TooLarge {
            what: format!("trust manifest {}", core.digest),
            limit: MAX_TRUST_MANIFEST,
        });
    }
    let core_bytes = store.manifest(&core.digest, core.size)?;
    let files = parse_layers(&core.digest, &core_bytes)?;
    // The core holds roots, timestamp, snapshot and the roles that are not
    // bins: a file in a group's range there would shadow the group's.
    if let Some(name) = files.keys().find(|name| {
        let role = role_of(name);
        groups
            .iter()
            .any(|g| g.first.as_str() <= role && role <= g.last.as_str())
    }) {
        return Err(malformed(
            &format!("trust manifest {}", core.digest),
            &format!("its core lists {name}, a file of a group of bins"),
        ));
    }
    Ok(Some(TrustArtifact {
        fetched: BTreeSet::from([digest.clone(), core.digest.clone()]),
        digest,
        format: 2,
        files,
        groups,
        manifest_bytes: (bytes.len() + core_bytes.len()) as u64,
    }))
}

/// Parses a format-2 trust index (whose digest is `digest`): its core
/// manifest and its groups of bins.
pub fn parse_index(digest: &str, bytes: &[u8]) -> Result<(Descriptor, Vec<BinGroup>), StoreError> {
    let what = format!("trust manifest {digest}");
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| malformed(&what, &e.to_string()))?;
    if v["artifactType"] != ARTIFACT_TYPE || v["mediaType"] != INDEX_MEDIA_TYPE {
        return Err(malformed(&what, "not a vouch trust artifact"));
    }
    let parts: Vec<Descriptor> = serde_json::from_value(v["manifests"].clone())
        .map_err(|e| malformed(&what, &format!("manifests: {e}")))?;
    let mut core = None;
    let mut groups = Vec::new();
    for d in parts {
        match d.annotations.get(PART).map(String::as_str) {
            Some("core") if core.is_none() => core = Some(d),
            Some("bins") => {
                let (Some(first), Some(last)) = (d.annotations.get(FIRST), d.annotations.get(LAST)) else {
                    return Err(malformed(&what, "a group of bins has no range"));
                };
                if first.is_empty() || first > last {
                    return Err(malformed(&what, "a group of bins has an empty range"));
                }
                groups.push(BinGroup {
                    first: first.clone(),
                    last: last.clone(),
                    manifest: d,
                    loaded: false,
                });
            }
            _ => {
                return Err(malformed(
                    &what,
                    "it lists a manifest that is not one core or a group of bins",
                ));
            }
        }
    }
    let core = core.ok_or_else(|| malformed(&what, "it has no core manifest"))?;
    // Ranges in order and disjoint: a role is in one group at most, and a
    // lookup reads one group at most.
    if groups.len() > MAX_GROUPS {
        return Err(malformed(&what, "it lists more groups of bins than vouch reads"));
    }
    if groups.windows(2).any(|w| w[0].last >= w[1].first) {
        return Err(malformed(&what, "its groups of bins overlap or are out of order"));
    }
    Ok((core, groups))
}

/// Parses a format-2 core or group manifest (whose digest is `digest`):
/// its layers by file name, each a plain name.
pub fn parse_layers(digest: &str, bytes: &[u8]) -> Result<BTreeMap<String, Descriptor>, StoreError> {
    layers(&format!("trust manifest {digest}"), bytes, ARTIFACT_TYPE)
}

/// The metadata layers of a trust manifest, by file name (each a plain
/// name), if its `artifactType` is `artifact_type`.
fn layers(what: &str, bytes: &[u8], artifact_type: &str) -> Result<BTreeMap<String, Descriptor>, StoreError> {
    let bad = |reason: &str| malformed(what, reason);
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
    if v["artifactType"] != artifact_type {
        return Err(bad("not a vouch trust artifact"));
    }
    let layers: Vec<Descriptor> =
        serde_json::from_value(v["layers"].clone()).map_err(|e| bad(&format!("layers: {e}")))?;
    let mut files = BTreeMap::new();
    for l in layers {
        let name = l
            .annotations
            .get(TITLE)
            .cloned()
            .ok_or_else(|| bad("a layer has no title"))?;
        if name.contains('/') || name.starts_with('.') {
            return Err(bad("a layer title is not a plain file name"));
        }
        files.insert(name, l);
    }
    Ok(files)
}

/// Parses a format-1 trust manifest (whose digest is `digest`): its layers
/// by file name, each a plain name.
pub fn parse_manifest(digest: &str, bytes: &[u8]) -> Result<TrustArtifact, StoreError> {
    Ok(TrustArtifact {
        digest: digest.to_owned(),
        format: 1,
        files: layers(&format!("trust manifest {digest}"), bytes, ARTIFACT_TYPE_V1)?,
        groups: Vec::new(),
        manifest_bytes: 0,
        fetched: BTreeSet::new(),
    })
}

/// An OCI manifest of metadata layers (format 2's core or a group).
fn manifest_of(
    store: &dyn Store,
    files: &[(&String, &Vec<u8>)],
    known: &BTreeSet<&str>,
    part: &str,
    empty: &str,
) -> Result<Vec<u8>, StoreError> {
    let mut layers = Vec::new();
    for (name, bytes) in files {
        let digest = sha256_digest(bytes);
        // A blob the previous artifact listed is in the store already.
        if !known.contains(digest.as_str()) {
            store.put_blob(bytes)?;
        }
        layers.push(layer(name, &digest, bytes.len() as u64));
    }
    part_manifest(layers, empty, part)
}

/// Publishes `files` as the new trust artifact (format 2) if the trust
/// tag still points at `expected` (the digest read before the change, or
/// `None`).
///
/// `bins` names every succinct bin the repository delegates to now (role
/// names), with the version the new snapshot lists for it, whether or not
/// its file is among `files`: the bins go into groups of
/// [`BINS_PER_GROUP`] in name order, the other files into the core
/// manifest. A bin not in `files` (the writer did not read it) keeps
/// exactly the file `previous` lists under the name that version gives
/// (`VERSION.BIN.json`; any other file a group lists is dropped), and a
/// group with none of `files` in it is referenced as `previous` has it,
/// unread. Blobs and manifests
/// `previous` lists are not written again, so a change to one bin writes
/// that bin, its group, the core and the index. Returns the new
/// artifact's digest and how long the last step took (checking where the
/// trust tag points and moving it: the window in which another
/// publisher's move can overwrite this one), or `None` when another writer
/// published first.
pub fn publish(
    store: &dyn Store,
    files: &BTreeMap<String, Vec<u8>>,
    bins: &BTreeMap<String, u64>,
    previous: Option<&TrustArtifact>,
    expected: Option<&str>,
) -> Result<Option<(String, std::time::Duration)>, StoreError> {
    // Only what was read back from the store is known to be there: a
    // descriptor the store merely lists could name a blob it lacks.
    let known: BTreeSet<&str> = previous
        .into_iter()
        .flat_map(|p| p.fetched.iter().map(String::as_str))
        .collect();
    let empty = store.put_blob(b"{}")?;
    let listed: BTreeMap<String, String> = bins
        .iter()
        .map(|(b, version)| {
            let encoded = crate::tuf::metadata::encode_segment(b);
            let file = format!("{version}.{encoded}.json");
            (encoded, file)
        })
        .collect();
    let bins: Vec<String> = listed.keys().cloned().collect();
    let is_bin = |name: &str| listed.contains_key(role_of(name));
    let core: Vec<(&String, &Vec<u8>)> = files.iter().filter(|(name, _)| !is_bin(name)).collect();
    let ours: BTreeMap<&str, (&String, &Vec<u8>)> = files
        .iter()
        .filter(|(name, _)| is_bin(name))
        .map(|(name, bytes)| (role_of(name), (name, bytes)))
        .collect();

    let mut parts = Vec::new();
    let core = manifest_of(store, &core, &known, "core", &empty)?;
    parts.push(json!({
        "mediaType": MANIFEST_MEDIA_TYPE,
        "digest": store.put_manifest_by_digest(&core, MANIFEST_MEDIA_TYPE)?,
        "size": core.len(),
        "annotations": { PART: "core" },
    }));
    for chunk in bins.chunks(BINS_PER_GROUP) {
        let (first, last) = (&chunk[0], &chunk[chunk.len() - 1]);
        let unchanged = previous
            .and_then(|p| p.groups.iter().find(|g| &g.first == first && &g.last == last))
            .filter(|_| !chunk.iter().any(|b| ours.contains_key(b.as_str())));
        let (digest, size) = match unchanged {
            Some(g) => (g.manifest.digest.clone(), g.manifest.size),
            None => {
                let mut layers = Vec::new();
                for bin in chunk {
                    let file = &listed[bin];
                    let before = previous.and_then(|p| p.files.get(file)).map(|d| (file, d));
                    match (ours.get(bin.as_str()), before) {
                        (Some((name, bytes)), _) => {
                            let digest = sha256_digest(bytes);
                            if !known.contains(digest.as_str()) {
                                store.put_blob(bytes)?;
                            }
                            layers.push(layer(name, &digest, bytes.len() as u64));
                        }
                        (None, Some((name, d))) => layers.push(layer(name, &d.digest, d.size)),
                        (None, None) => {
                            return Err(malformed(
                                "the trust artifact read",
                                &format!(
                                    "it lists no file {file} for bin {bin}, which is not being written either"
                                ),
                            ));
                        }
                    }
                }
                let bytes = part_manifest(layers, &empty, "bins")?;
                let mut digest = sha256_digest(&bytes);
                if !known.contains(digest.as_str()) {
                    digest = store.put_manifest_by_digest(&bytes, MANIFEST_MEDIA_TYPE)?;
                }
                (digest, bytes.len() as u64)
            }
        };
        parts.push(json!({
            "mediaType": MANIFEST_MEDIA_TYPE,
            "digest": digest,
            "size": size,
            "annotations": { PART: "bins", FIRST: first, LAST: last },
        }));
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "manifests": parts,
        "annotations": { FORMAT: "2" },
    });
    let bytes = serde_json::to_vec(&index).map_err(|e| malformed("trust index", &e.to_string()))?;
    let swap = std::time::Instant::now();
    let moved = store.put_manifest(
        TRUST_TAG,
        &bytes,
        INDEX_MEDIA_TYPE,
        super::TagExpect::At(expected),
    )?;
    Ok(moved.then(|| (sha256_digest(&bytes), swap.elapsed())))
}

/// A metadata layer descriptor.
fn layer(name: &str, digest: &str, size: u64) -> serde_json::Value {
    json!({
        "mediaType": METADATA_MEDIA_TYPE,
        "digest": digest,
        "size": size,
        "annotations": { TITLE: name },
    })
}

/// A format-2 manifest (`part`: `core` or `bins`) of `layers`.
fn part_manifest(layers: Vec<serde_json::Value>, empty: &str, part: &str) -> Result<Vec<u8>, StoreError> {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": { "mediaType": EMPTY_MEDIA_TYPE, "digest": empty, "size": 2 },
        "layers": layers,
        "annotations": { FORMAT: "2", PART: part },
    });
    serde_json::to_vec(&manifest).map_err(|e| malformed("trust manifest", &e.to_string()))
}

/// Serves the files of a trust artifact to the TUF client by name. The
/// artifact's manifest is read on the first request, so a client that
/// needs nothing (cached metadata is current) makes no request at all.
#[derive(Debug)]
pub struct ArtifactFetcher<'a> {
    store: &'a dyn Store,
    artifact: Lookup,
    metadata_bytes: u64,
}

/// What is known of the store's trust artifact.
#[derive(Debug)]
enum Lookup {
    /// Not read yet.
    Unread,
    /// The store has none.
    Absent,
    /// Read.
    Found(TrustArtifact),
}

impl Lookup {
    fn found(&self) -> Option<&TrustArtifact> {
        match self {
            Lookup::Found(a) => Some(a),
            Lookup::Unread | Lookup::Absent => None,
        }
    }
}

impl<'a> ArtifactFetcher<'a> {
    /// A fetcher that reads the store's trust artifact when first needed.
    pub fn new(store: &'a dyn Store) -> Self {
        ArtifactFetcher {
            store,
            artifact: Lookup::Unread,
            metadata_bytes: 0,
        }
    }

    /// A fetcher serving an artifact already read.
    pub fn with_artifact(store: &'a dyn Store, artifact: TrustArtifact) -> Self {
        ArtifactFetcher {
            store,
            artifact: Lookup::Found(artifact),
            metadata_bytes: 0,
        }
    }

    /// The digest of the artifact served, once read.
    pub fn digest(&self) -> Option<&str> {
        self.artifact.found().map(|a| a.digest.as_str())
    }

    /// The artifact served, once read (with the groups of bins loaded so
    /// far).
    pub fn artifact(&self) -> Option<&TrustArtifact> {
        self.artifact.found()
    }

    /// Bytes fetched so far: (TUF metadata, trust manifests).
    pub fn bytes_fetched(&self) -> (u64, u64) {
        (
            self.metadata_bytes,
            self.artifact.found().map_or(0, |a| a.manifest_bytes),
        )
    }

    /// A store error: the registry or layout failed to serve what the
    /// artifact lists (a body longer than its descriptor included), so
    /// nothing can be decided.
    fn io(location: &str, e: &StoreError) -> FetchError {
        FetchError {
            location: location.to_owned(),
            kind: FetchErrorKind::Io,
            detail: e.to_string(),
        }
    }
}

impl Fetcher for ArtifactFetcher<'_> {
    fn fetch(&mut self, location: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, FetchError> {
        if let Lookup::Unread = self.artifact {
            self.artifact = match read(self.store).map_err(|e| Self::io(location, &e))? {
                Some(a) => Lookup::Found(a),
                None => Lookup::Absent,
            };
        }
        let desc = match &mut self.artifact {
            Lookup::Found(a) => a
                .descriptor(self.store, location)
                .map_err(|e| Self::io(location, &e))?,
            Lookup::Unread | Lookup::Absent => None,
        };
        let Some(desc) = desc else {
            return Ok(None);
        };
        // Metadata larger than its role may be: the TUF client refuses it.
        if desc.size > max_bytes {
            return Err(FetchError {
                location: location.to_owned(),
                kind: FetchErrorKind::TooLarge(max_bytes),
                detail: String::new(),
            });
        }
        let bytes = self
            .store
            .blob(&desc.digest, desc.size)
            .map_err(|e| Self::io(location, &e))?;
        self.metadata_bytes += bytes.len() as u64;
        if let Lookup::Found(a) = &mut self.artifact {
            a.fetched.insert(desc.digest.clone());
        }
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    //! What a trust artifact may be, checked before anything in it is read:
    //! these parsers see bytes anyone who can write the store chose.

    use super::*;

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn part(kind: &str, range: Option<(&str, &str)>) -> serde_json::Value {
        let mut annotations = serde_json::json!({ PART: kind });
        if let Some((first, last)) = range {
            annotations[FIRST] = first.into();
            annotations[LAST] = last.into();
        }
        serde_json::json!({"mediaType": MANIFEST_MEDIA_TYPE, "digest": D, "size": 10, "annotations": annotations})
    }

    fn index(parts: Vec<serde_json::Value>) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "artifactType": ARTIFACT_TYPE, "manifests": parts,
        }))
        .expect("json")
    }

    fn refused(result: Result<impl std::fmt::Debug, StoreError>, why: &str) {
        match result {
            Err(StoreError::Malformed { reason, .. }) => assert!(reason.contains(why), "{reason}"),
            other => panic!("expected malformed ({why}), got {other:?}"),
        }
    }

    #[test]
    fn an_index_has_one_core_and_ordered_disjoint_groups() {
        let (core, groups) = parse_index(
            D,
            &index(vec![
                part("core", None),
                part("bins", Some(("b-000", "b-01f"))),
                part("bins", Some(("b-020", "b-03f"))),
            ]),
        )
        .expect("valid");
        assert_eq!(core.annotations[PART], "core");
        assert_eq!(groups.len(), 2);
        refused(
            parse_index(D, &index(vec![part("bins", Some(("b-0", "b-1")))])),
            "no core",
        );
        refused(
            parse_index(D, &index(vec![part("core", None), part("core", None)])),
            "not one core",
        );
        refused(
            parse_index(
                D,
                &index(vec![
                    part("core", None),
                    part("bins", Some(("b-000", "b-020"))),
                    part("bins", Some(("b-010", "b-03f"))),
                ]),
            ),
            "overlap",
        );
        refused(
            parse_index(
                D,
                &index(vec![part("core", None), part("bins", Some(("b-9", "b-1")))]),
            ),
            "empty range",
        );
        refused(
            parse_index(D, &index(vec![part("core", None), part("bins", None)])),
            "no range",
        );
        refused(
            parse_index(D, &index(vec![part("core", None), part("other", None)])),
            "not one core",
        );
        let too_many: Vec<serde_json::Value> = std::iter::once(part("core", None))
            .chain((0..=MAX_GROUPS).map(|n| {
                let name = format!("b-{n:04}");
                part("bins", Some((&name, &name)))
            }))
            .collect();
        refused(parse_index(D, &index(too_many)), "more groups");
    }

    fn manifest(artifact_type: &str, titles: &[Option<&str>]) -> Vec<u8> {
        let layers: Vec<serde_json::Value> = titles
            .iter()
            .map(|t| {
                let annotations = match t {
                    Some(t) => serde_json::json!({ TITLE: t }),
                    None => serde_json::json!({}),
                };
                serde_json::json!({"mediaType": "application/json", "digest": D, "size": 1, "annotations": annotations})
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE, "artifactType": artifact_type, "layers": layers,
        }))
        .expect("json")
    }

    #[test]
    fn layers_are_plain_file_names_of_the_right_artifact() {
        let files = parse_layers(
            D,
            &manifest(ARTIFACT_TYPE, &[Some("root.json"), Some("1.targets.json")]),
        )
        .expect("valid");
        assert_eq!(files.keys().collect::<Vec<_>>(), ["1.targets.json", "root.json"]);
        for bad in ["../root.json", "a/b.json", ".hidden.json"] {
            refused(
                parse_layers(D, &manifest(ARTIFACT_TYPE, &[Some(bad)])),
                "plain file name",
            );
        }
        refused(parse_layers(D, &manifest(ARTIFACT_TYPE, &[None])), "no title");
        refused(
            parse_layers(D, &manifest(ARTIFACT_TYPE_V1, &[Some("root.json")])),
            "not a vouch trust artifact",
        );
        refused(
            parse_manifest(D, &manifest(ARTIFACT_TYPE, &[Some("root.json")])),
            "not a vouch",
        );
        assert_eq!(
            parse_manifest(D, &manifest(ARTIFACT_TYPE_V1, &[Some("root.json")]))
                .expect("v1")
                .format,
            1
        );
        refused(parse_layers(D, b"not json"), "");
    }
}
