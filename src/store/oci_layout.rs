//! An OCI image layout directory (what skopeo, buildah, podman and
//! `buildx --output type=oci` write): `oci-layout`, `index.json`,
//! `blobs/sha256/…`. vouch reads image manifests from it and keeps its trust
//! artifact in it, tagged `vouch-trust`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

use super::safe_dir::{Refusal, SafeDir};
use super::{StoreError, TagExpect};
use crate::digest::Digest;

/// The annotation naming a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An OCI content descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Annotations.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Any other fields (platform, artifactType, …), kept.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Index {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

/// `sha256:<hex>` of bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    Digest::of(bytes).into()
}

/// An OCI layout directory. Nothing inside it is followed through a
/// link or read unless it is a regular file (see [`super::safe_dir`]).
#[derive(Clone, Debug)]
pub struct OciLayout {
    dir: PathBuf,
}

/// Largest `index.json` read: 64 MiB. A tag's entry takes about 220
/// bytes, so this holds about 300,000 tags (a layout that tags every build
/// reaches 100,000: 22 MB), while a hostile layout still cannot make vouch
/// read, or parse into memory, more than this.
const MAX_INDEX: u64 = 64 << 20;
/// Largest `oci-layout` file read.
const MAX_LAYOUT_FILE: u64 = 4 << 10;

/// The refusal of something inside a layout, as a store error.
pub(crate) fn refused(r: Refusal) -> StoreError {
    match r {
        Refusal::NotRegular { path, found } => StoreError::Unsafe {
            path: path.display().to_string(),
            found,
        },
        Refusal::Io(path, e) => StoreError::io(&path, e),
    }
}

/// The hex of a sha256 digest, refused when it is anything else.
fn digest_hex(digest: &str) -> Result<&str, StoreError> {
    match Digest::parse(digest) {
        Ok(_) => Ok(&digest["sha256:".len()..]),
        Err(e) => Err(StoreError::Malformed {
            what: format!("digest {:?}", digest.chars().take(80).collect::<String>()),
            reason: e.to_string(),
        }),
    }
}

/// Checks that no object in a JSON value (an `index.json`, or one of its
/// entries) has two keys that Go's `encoding/json` would take as one: it
/// matches keys to fields ignoring case (with Unicode folding), and the
/// last one wins, while vouch reads the exact key. So keys must be ASCII
/// and distinct ignoring ASCII case (`digest` and `Digest`, `size` and
/// `Size`, `annotations` and `Annotations`, a key given twice).
fn check_keys(json: &str, what: &str) -> Result<(), StoreError> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

    struct Check;
    impl<'de> DeserializeSeed<'de> for Check {
        type Value = Option<(String, String)>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Check {
        type Value = Option<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(f) = seq.next_element_seed(Check)? {
                found = found.or(f);
            }
            Ok(found)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut keys: std::collections::HashMap<String, String> = std::collections::HashMap::new();
            let mut found = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                let folded = key.to_ascii_lowercase();
                if found.is_none() {
                    if !key.is_ascii() {
                        found = Some((key.to_string(), key.to_string()));
                    } else if let Some(first) = keys.get(&folded) {
                        found = Some((first.clone(), key.to_string()));
                    }
                }
                keys.insert(folded, key.into_owned());
                found = found.or(map.next_value_seed(Check)?);
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_str(json);
    let found = Check.deserialize(&mut de).map_err(|e| StoreError::Malformed {
        what: what.to_owned(),
        reason: e.to_string(),
    })?;
    match found {
        None => Ok(()),
        Some((first, second)) => Err(StoreError::AmbiguousKeys {
            index: what.to_owned(),
            first,
            second,
        }),
    }
}

/// Parses `index.json`, refusing a tag named twice (which entry a tool
/// takes would decide which image the tag is) and keys that collide
/// ignoring case ([`check_keys`]).
fn parse_index(bytes: &[u8], what: &str) -> Result<Index, StoreError> {
    let text = std::str::from_utf8(bytes).map_err(|e| StoreError::Malformed {
        what: what.to_owned(),
        reason: e.to_string(),
    })?;
    check_keys(text, what)?;
    let index: Index = serde_json::from_str(text).map_err(|e| StoreError::Malformed {
        what: what.to_owned(),
        reason: e.to_string(),
    })?;
    let mut seen = std::collections::BTreeSet::new();
    for d in &index.manifests {
        if let Some(tag) = d.annotations.get(REF_NAME)
            && !seen.insert(tag.as_str())
        {
            return Err(StoreError::DuplicateTag {
                index: what.to_owned(),
                tag: tag.clone(),
            });
        }
    }
    Ok(index)
}

/// [`check_keys`] for the top level of an `index.json` only (its entries
/// are checked one by one as they are read).
fn check_top_keys(bytes: &[u8], what: &str) -> Result<(), StoreError> {
    let bad = |e: serde_json::Error| StoreError::Malformed {
        what: what.to_owned(),
        reason: e.to_string(),
    };
    let top: Vec<(std::borrow::Cow<'_, str>, &RawValue)> = {
        let map: TopKeys<'_> = serde_json::from_slice(bytes).map_err(bad)?;
        map.0
    };
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for (key, _) in &top {
        let folded = key.to_ascii_lowercase();
        let clash = if key.is_ascii() {
            seen.get(&folded).copied()
        } else {
            Some(key.as_ref())
        };
        if let Some(first) = clash {
            return Err(StoreError::AmbiguousKeys {
                index: what.to_owned(),
                first: first.to_owned(),
                second: key.to_string(),
            });
        }
        seen.insert(folded, key);
    }
    Ok(())
}

/// The top-level keys of a JSON object in order, duplicates kept, values
/// unparsed.
struct TopKeys<'a>(Vec<(std::borrow::Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for TopKeys<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = TopKeys<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    out.push((key, value));
                }
                Ok(TopKeys(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Of an entry, its tag only.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow, default)]
    annotations: Option<RefName<'a>>,
}

#[derive(Deserialize)]
struct RefName<'a> {
    #[serde(borrow, rename = "org.opencontainers.image.ref.name")]
    name: Option<std::borrow::Cow<'a, str>>,
}

/// `index.json` read in one pass, raw: its top-level fields, and its
/// entries with the tag of each (keys checked, [`check_keys`]; a tag named
/// twice refused, as [`parse_index`] refuses it). Only the entries a caller
/// looks at are parsed in full, so a lookup in, or a tag move of, a
/// 100,000-tag layout reads each entry's tag and nothing more.
struct RawIndex<'a> {
    what: &'a str,
    top: BTreeMap<String, &'a RawValue>,
    entries: Vec<(Option<std::borrow::Cow<'a, str>>, &'a RawValue)>,
}

impl<'a> RawIndex<'a> {
    fn read(bytes: &'a [u8], what: &'a str) -> Result<RawIndex<'a>, StoreError> {
        check_top_keys(bytes, what)?;
        let bad = |e: serde_json::Error| malformed_index(what, e.to_string());
        let top: BTreeMap<String, &RawValue> = serde_json::from_slice(bytes).map_err(bad)?;
        if top
            .get("schemaVersion")
            .is_none_or(|v| v.get().parse::<u32>().is_err())
        {
            return Err(malformed_index(what, "no schemaVersion"));
        }
        let raw: Vec<&RawValue> = match top.get("manifests") {
            Some(raw) => serde_json::from_str(raw.get()).map_err(bad)?,
            None => Vec::new(),
        };
        let mut seen = std::collections::HashSet::with_capacity(raw.len());
        let mut entries = Vec::with_capacity(raw.len());
        for entry in raw {
            check_keys(entry.get(), what)?;
            let name = serde_json::from_str::<Entry<'_>>(entry.get())
                .map_err(bad)?
                .annotations
                .and_then(|a| a.name);
            if let Some(name) = &name
                && !seen.insert(name.clone())
            {
                return Err(StoreError::DuplicateTag {
                    index: what.to_owned(),
                    tag: name.clone().into_owned(),
                });
            }
            entries.push((name, entry));
        }
        Ok(RawIndex { what, top, entries })
    }

    /// An entry parsed in full.
    fn descriptor(&self, raw: &RawValue) -> Result<Descriptor, StoreError> {
        serde_json::from_str(raw.get()).map_err(|e| malformed_index(self.what, e.to_string()))
    }

    /// The whole `index.json` again, every field as it was and `entries`
    /// (raw JSON) as its manifests.
    fn with_entries(&self, entries: &[&str]) -> Result<Vec<u8>, StoreError> {
        let bad = |e: serde_json::Error| malformed_index(self.what, e.to_string());
        let manifests = RawValue::from_string(format!("[{}]", entries.join(","))).map_err(bad)?;
        let mut out: BTreeMap<&str, &RawValue> = self.top.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        out.insert("manifests", &manifests);
        serde_json::to_vec(&out).map_err(bad)
    }
}

fn malformed_index(what: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Malformed {
        what: what.to_owned(),
        reason: reason.into(),
    }
}

/// The descriptors `tags` name in `index.json` (`bytes`), in order, read in
/// one pass ([`RawIndex`]).
fn lookup(bytes: &[u8], what: &str, tags: &[String]) -> Result<Vec<Option<Descriptor>>, StoreError> {
    let index = RawIndex::read(bytes, what)?;
    let mut wanted: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
    for (i, t) in tags.iter().enumerate() {
        wanted.entry(t.as_str()).or_default().push(i);
    }
    let mut found: Vec<Option<Descriptor>> = vec![None; tags.len()];
    for (name, raw) in &index.entries {
        if let Some(places) = name.as_deref().and_then(|n| wanted.get(n)) {
            let desc = index.descriptor(raw)?;
            for &j in places {
                found[j] = Some(desc.clone());
            }
        }
    }
    Ok(found)
}

/// The descriptors `tags` name in an `index.json`, as a lookup in a layout
/// finds them (for fuzzing: the same checks as reading a layout).
pub fn index_lookup(bytes: &[u8], tags: &[String]) -> Result<Vec<Option<Descriptor>>, StoreError> {
    lookup(bytes, "index.json", tags)
}

/// Every tag an `index.json` names and its descriptor (for fuzzing and
/// tools: the same checks as reading a layout).
pub fn index_tags(bytes: &[u8]) -> Result<Vec<(String, Descriptor)>, StoreError> {
    Ok(tags_of(parse_index(bytes, "index.json")?))
}

fn tags_of(index: Index) -> Vec<(String, Descriptor)> {
    index
        .manifests
        .into_iter()
        .filter_map(|d| d.annotations.get(REF_NAME).cloned().map(|t| (t, d)))
        .collect()
}

impl OciLayout {
    /// Opens an existing layout (it must have an `oci-layout` file).
    pub fn open(dir: impl Into<PathBuf>) -> Result<OciLayout, StoreError> {
        let dir = dir.into();
        let missing = || StoreError::NotFound {
            what: format!(
                "OCI image layout at {} (it has no oci-layout file)",
                dir.display()
            ),
        };
        let root = match SafeDir::open(&dir) {
            Ok(root) => root,
            Err(Refusal::Io(_, e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Err(missing());
            }
            Err(r) => return Err(refused(r)),
        };
        root.read_file("oci-layout", MAX_LAYOUT_FILE)
            .map_err(refused)?
            .ok_or_else(missing)?;
        Ok(OciLayout { dir })
    }

    /// Creates an empty layout (or opens an existing one).
    pub fn create(dir: impl Into<PathBuf>) -> Result<OciLayout, StoreError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let root = SafeDir::open(&dir).map_err(refused)?;
        Self::blobs_in(&root, true)?;
        if root.kind("oci-layout").map_err(refused)?.is_none() {
            root.write_atomic("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644, false)
                .map_err(refused)?;
        }
        if root.kind("index.json").map_err(refused)?.is_none() {
            root.write_atomic(
                "index.json",
                br#"{"schemaVersion":2,"manifests":[]}"#,
                0o644,
                false,
            )
            .map_err(refused)?;
        }
        Ok(OciLayout { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn root(&self) -> Result<SafeDir, StoreError> {
        SafeDir::open(&self.dir).map_err(refused)
    }

    /// `blobs/sha256`, opened without following links (created when
    /// `create`); `None` when it does not exist.
    fn blobs_in(root: &SafeDir, create: bool) -> Result<Option<SafeDir>, StoreError> {
        match root.subdir("blobs", create).map_err(refused)? {
            Some(blobs) => blobs.subdir("sha256", create).map_err(refused),
            None => Ok(None),
        }
    }

    fn blobs(&self, create: bool) -> Result<Option<SafeDir>, StoreError> {
        Self::blobs_in(&self.root()?, create)
    }

    fn read_index_in(&self, root: &SafeDir) -> Result<Index, StoreError> {
        let (buf, what) = self.index_bytes(root)?;
        parse_index(&buf, &what)
    }

    fn read_index(&self) -> Result<Index, StoreError> {
        self.read_index_in(&self.root()?)
    }

    /// Every tag and its descriptor (a tag named twice is refused).
    pub fn tags(&self) -> Result<Vec<(String, Descriptor)>, StoreError> {
        Ok(tags_of(self.read_index()?))
    }

    /// The descriptor tagged `tag`, if any.
    pub fn resolve(&self, tag: &str) -> Result<Option<Descriptor>, StoreError> {
        Ok(self.resolve_many(&[tag.to_owned()])?.pop().flatten())
    }

    /// The descriptors tagged `tags`, in order; `index.json` is read once
    /// (see [`lookup`]).
    pub fn resolve_many(&self, tags: &[String]) -> Result<Vec<Option<Descriptor>>, StoreError> {
        let (buf, what) = self.index_bytes(&self.root()?)?;
        lookup(&buf, &what, tags)
    }

    /// The bytes of `index.json` (within [`MAX_INDEX`]) and its path, for
    /// messages.
    fn index_bytes(&self, root: &SafeDir) -> Result<(Vec<u8>, String), StoreError> {
        let what = self.dir.join("index.json").display().to_string();
        let buf = root
            .read_file("index.json", MAX_INDEX)
            .map_err(refused)?
            .ok_or_else(|| StoreError::NotFound { what: what.clone() })?;
        if buf.len() as u64 > MAX_INDEX {
            return Err(StoreError::TooLarge {
                what,
                limit: MAX_INDEX,
            });
        }
        Ok((buf, what))
    }

    fn no_blob(&self, digest: &str) -> StoreError {
        StoreError::NotFound {
            what: format!("blob {digest} in {}", self.dir.display()),
        }
    }

    /// Opens a blob (a regular file, never through a link) and checks its
    /// length against `max`.
    fn blob_file(&self, digest: &str, max: u64) -> Result<File, StoreError> {
        let hex = digest_hex(digest)?;
        let blobs = self.blobs(false)?.ok_or_else(|| self.no_blob(digest))?;
        let f = blobs
            .open_file(hex)
            .map_err(refused)?
            .ok_or_else(|| self.no_blob(digest))?;
        let len = f
            .metadata()
            .map_err(|e| StoreError::io(&blobs.path().join(hex), e))?
            .len();
        if len > max {
            return Err(StoreError::TooLarge {
                what: format!("blob {digest}"),
                limit: max,
            });
        }
        Ok(f)
    }

    /// Reads a blob, at most `max` bytes, and checks its digest.
    pub fn blob(&self, digest: &str, max: u64) -> Result<Vec<u8>, StoreError> {
        let f = self.blob_file(digest, max)?;
        let mut buf = Vec::new();
        f.take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| StoreError::io(&self.dir, e))?;
        if buf.len() as u64 > max {
            return Err(StoreError::TooLarge {
                what: format!("blob {digest}"),
                limit: max,
            });
        }
        if sha256_digest(&buf) != digest {
            return Err(StoreError::Malformed {
                what: format!("blob {digest}"),
                reason: "content does not match its digest".to_owned(),
            });
        }
        Ok(buf)
    }

    /// Stores a blob (content-addressed; an existing blob is kept).
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let digest = sha256_digest(bytes);
        let hex = digest_hex(&digest)?;
        let blobs = self.blobs(true)?.ok_or_else(|| self.no_blob(&digest))?;
        if blobs.kind(hex).map_err(refused)? == Some(super::safe_dir::FileType::RegularFile) {
            return Ok(digest);
        }
        self.refuse_odd_blob(&blobs, hex)?;
        blobs.write_atomic(hex, bytes, 0o644, false).map_err(refused)?;
        Ok(digest)
    }

    /// A name in `blobs/sha256` that is there but not a regular file.
    fn refuse_odd_blob(&self, blobs: &SafeDir, hex: &str) -> Result<(), StoreError> {
        match blobs.kind(hex).map_err(refused)? {
            None | Some(super::safe_dir::FileType::RegularFile) => Ok(()),
            Some(_) => blobs.open_file(hex).map(drop).map_err(refused),
        }
    }

    /// Stores a blob read from `src` as it arrives: into a temporary file
    /// beside its final name, hashed on the way, placed only when its
    /// length is within `max` and its digest is `digest`.
    pub fn put_blob_from(&self, digest: &str, max: u64, src: &mut dyn Read) -> Result<(), StoreError> {
        let hex = digest_hex(digest)?;
        let blobs = self.blobs(true)?.ok_or_else(|| self.no_blob(digest))?;
        self.refuse_odd_blob(&blobs, hex)?;
        let (mut f, temp) = blobs.create_temp(".partial-", 0o644).map_err(refused)?;
        let result = (|| {
            let actual = super::copy::hash_into(src, &mut f, max, digest)?;
            if actual != digest {
                return Err(StoreError::Malformed {
                    what: format!("blob {digest}"),
                    reason: "content does not match its digest".to_owned(),
                });
            }
            f.sync_all().map_err(|e| StoreError::io(blobs.path(), e))?;
            blobs.link_new(&temp, hex).map_err(refused)?;
            blobs.sync().map_err(refused)
        })();
        blobs.remove_file(&temp);
        result
    }

    /// Whether the layout holds the blob (a regular file by that name).
    pub fn has_blob(&self, digest: &str) -> Result<bool, StoreError> {
        let hex = digest_hex(digest)?;
        let Some(blobs) = self.blobs(false)? else {
            return Ok(false);
        };
        self.refuse_odd_blob(&blobs, hex)?;
        Ok(blobs.kind(hex).map_err(refused)?.is_some())
    }

    /// Points `tag` at `desc` if the tag currently points at `expected`
    /// (`None`: untagged). Holds a lock on the layout and replaces
    /// `index.json` atomically. Returns `false` (and changes nothing) when
    /// the tag moved meanwhile.
    pub fn swap_tag(&self, tag: &str, desc: &Descriptor, expected: Option<&str>) -> Result<bool, StoreError> {
        self.update_tag(tag, desc, TagExpect::At(expected))
    }

    /// Points `tag` at `desc`, whatever it pointed at.
    pub fn set_tag(&self, tag: &str, desc: &Descriptor) -> Result<(), StoreError> {
        self.update_tag(tag, desc, TagExpect::Anything).map(|_| ())
    }

    fn update_tag(&self, tag: &str, desc: &Descriptor, expect: TagExpect<'_>) -> Result<bool, StoreError> {
        // Writers serialise on a lock of the layout directory itself, so no
        // lock file is added to the layout.
        let root = self.root()?;
        let lock = root.lock().map_err(refused)?;
        let (buf, what) = self.index_bytes(&root)?;
        // Every other entry, and every other field, is carried over as it
        // is, unparsed.
        let index = RawIndex::read(&buf, &what)?;
        let mut kept: Vec<&str> = Vec::with_capacity(index.entries.len() + 1);
        let mut current = None;
        for (name, raw) in &index.entries {
            if name.as_deref() == Some(tag) {
                current = Some(index.descriptor(raw)?.digest);
            } else {
                kept.push(raw.get());
            }
        }
        if !expect.allows(current.as_deref()) {
            return Ok(false);
        }
        let mut d = desc.clone();
        d.annotations.insert(REF_NAME.to_owned(), tag.to_owned());
        let entry = serde_json::to_string(&d).map_err(|e| malformed_index(&what, e.to_string()))?;
        kept.push(&entry);
        let bytes = index.with_entries(&kept)?;
        root.write_atomic("index.json", &bytes, 0o644, true)
            .map_err(refused)?;
        drop(lock);
        Ok(true)
    }
}

impl OciLayout {
    /// Removes the entry of `tag` from `index.json`, if it has one and it
    /// points at `digest`.
    pub fn remove_entry(&self, tag: &str, digest: &str) -> Result<(), StoreError> {
        let root = self.root()?;
        let lock = root.lock().map_err(refused)?;
        let (buf, what) = self.index_bytes(&root)?;
        let index = RawIndex::read(&buf, &what)?;
        let mut kept: Vec<&str> = Vec::with_capacity(index.entries.len());
        let mut found = false;
        for (name, raw) in &index.entries {
            if name.as_deref() == Some(tag) && index.descriptor(raw)?.digest == digest {
                found = true;
            } else {
                kept.push(raw.get());
            }
        }
        if found {
            root.write_atomic("index.json", &index.with_entries(&kept)?, 0o644, true)
                .map_err(refused)?;
        }
        drop(lock);
        Ok(())
    }
}

impl super::Store for OciLayout {
    fn tags_with_prefix(&self, prefix: &str, max: usize) -> Result<Vec<String>, StoreError> {
        let root = self.root()?;
        let (buf, what) = self.index_bytes(&root)?;
        let mut tags: Vec<String> = RawIndex::read(&buf, &what)?
            .entries
            .into_iter()
            .filter_map(|(name, _)| name.filter(|n| n.starts_with(prefix)))
            .map(std::borrow::Cow::into_owned)
            .collect();
        tags.sort();
        if tags.len() > max {
            return Err(StoreError::TooMany {
                what: format!("{what}: tags beginning {prefix:?}"),
                limit: max,
            });
        }
        Ok(tags)
    }

    fn remove_tag(
        &self,
        tag: &str,
        digest: &str,
        _tombstone: &[u8],
        _media_type: &str,
    ) -> Result<(), StoreError> {
        self.remove_entry(tag, digest)
    }

    fn describe(&self) -> String {
        format!("oci:{}", self.dir.display())
    }

    fn atomic_tags(&self) -> bool {
        true
    }

    fn resolve(&self, tag: &str) -> Result<Option<Descriptor>, StoreError> {
        OciLayout::resolve(self, tag)
    }

    fn resolve_many(&self, tags: &[String]) -> Result<Vec<Option<Descriptor>>, StoreError> {
        OciLayout::resolve_many(self, tags)
    }

    fn manifest(&self, digest: &str, max: u64) -> Result<Vec<u8>, StoreError> {
        OciLayout::blob(self, digest, max)
    }

    fn blob(&self, digest: &str, max: u64) -> Result<Vec<u8>, StoreError> {
        OciLayout::blob(self, digest, max)
    }

    fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        OciLayout::put_blob(self, bytes)
    }

    fn open_blob(&self, digest: &str, max: u64) -> Result<Box<dyn Read + Send + '_>, StoreError> {
        Ok(Box::new(self.blob_file(digest, max)?))
    }

    fn open_blob_file(&self, digest: &str, max: u64) -> Result<Option<File>, StoreError> {
        self.blob_file(digest, max).map(Some)
    }

    fn has_blob(&self, digest: &str) -> Result<bool, StoreError> {
        OciLayout::has_blob(self, digest)
    }

    fn put_blob_from(&self, digest: &str, max: u64, src: &mut dyn Read) -> Result<(), StoreError> {
        OciLayout::put_blob_from(self, digest, max, src)
    }

    fn put_manifest_by_digest(&self, bytes: &[u8], _media_type: &str) -> Result<String, StoreError> {
        OciLayout::put_blob(self, bytes)
    }

    fn put_manifest(
        &self,
        tag: &str,
        bytes: &[u8],
        media_type: &str,
        expect: TagExpect<'_>,
    ) -> Result<bool, StoreError> {
        let digest = OciLayout::put_blob(self, bytes)?;
        let desc = Descriptor {
            media_type: media_type.to_owned(),
            digest,
            size: bytes.len() as u64,
            annotations: Default::default(),
            extra: Default::default(),
        };
        self.update_tag(tag, &desc, expect)
    }
}
