//! The subject access bundle as a file: a zip whose root holds `manifest.json` (signed by the
//! node key) and `VERIFY.txt`, and one folder per recording. This module writes and verifies
//! bundles; it knows nothing of the catalog or the archive, so a bundle verifies offline with
//! only the node's public key.
//!
//! The manifest lists every other file of the zip with its size and SHA-256. A bundle verifies
//! when the signature verifies with the key the verifier supplies (never the one embedded in
//! the document), every listed file is present once with exactly that size and digest, and
//! the zip holds nothing that is not listed.
//!
//! A bundle is outside input when verified: entry counts and sizes are bounded, entries are
//! hashed as they stream (never held whole), and no entry is extracted to disk.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, Write};

use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::nodekey::{self, VerifyError};

/// The kind of the signed manifest document.
pub const MANIFEST_KIND: &str = "onrecord.subject-access-manifest.v1";
/// The format named inside the manifest body.
pub const FORMAT: &str = "onrecord-subject-access-bundle-v1";
pub const MANIFEST_PATH: &str = "manifest.json";
pub const VERIFY_PATH: &str = "VERIFY.txt";
/// Most entries a bundle may hold (a manifest naming more is refused before any hashing).
pub const MAX_ENTRIES: usize = 1_000_000;
/// Largest manifest read (bytes).
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// One file as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    pub path: String,
    pub size: u64,
    pub sha256: [u8; 32],
}

impl ListedFile {
    pub fn of(path: &str, bytes: &[u8]) -> ListedFile {
        ListedFile {
            path: path.to_owned(),
            size: bytes.len() as u64,
            sha256: Sha256::digest(bytes).into(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({ "path": self.path, "size": self.size, "sha256": hex::encode(self.sha256) })
    }
}

/// The first thing wrong with a bundle.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleProblem {
    #[error("not a readable zip file: {0}")]
    NotAZip(String),
    #[error("the zip holds more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    #[error("the zip has no {MANIFEST_PATH} at its root")]
    NoManifest,
    #[error("{MANIFEST_PATH} is not a signed manifest: {0}")]
    MalformedManifest(String),
    #[error("{MANIFEST_PATH}: {0}")]
    Signature(VerifyError),
    #[error("{0} is listed in the manifest but missing from the zip")]
    Missing(String),
    #[error("{path} has {actual} bytes, the manifest says {expected}")]
    WrongSize {
        path: String,
        expected: u64,
        actual: u64,
    },
    #[error("{0} does not match its SHA-256 in the manifest (modified)")]
    WrongDigest(String),
    #[error("{0} is in the zip but not listed in the manifest")]
    Unlisted(String),
    #[error("{0} appears more than once")]
    Duplicate(String),
    #[error("cannot read {path} from the zip: {message}")]
    Unreadable { path: String, message: String },
}

/// What a bundle that verifies says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub tenant: String,
    pub generated_at: String,
    pub generated_by: String,
    pub recordings: Vec<String>,
    pub erased: Vec<String>,
    pub files: usize,
    pub bytes: u64,
}

/// Writes a bundle entry by entry: content files first, then `VERIFY.txt`, then the signed
/// manifest naming them all. Nothing is listed that was not written.
pub struct BundleWriter<W: Write + Seek> {
    zip: ZipWriter<W>,
    listed: Vec<ListedFile>,
    names: BTreeSet<String>,
    modified: zip::DateTime,
}

impl<W: Write + Seek> std::fmt::Debug for BundleWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleWriter")
            .field("files", &self.listed.len())
            .finish_non_exhaustive()
    }
}

impl<W: Write + Seek> BundleWriter<W> {
    /// `now` stamps every entry (zip times are local-less; we write UTC).
    pub fn new(out: W, now: chrono::DateTime<chrono::Utc>) -> BundleWriter<W> {
        use chrono::{Datelike, Timelike};
        let modified = zip::DateTime::from_date_and_time(
            u16::try_from(now.year()).unwrap_or(1980),
            now.month() as u8,
            now.day() as u8,
            now.hour() as u8,
            now.minute() as u8,
            now.second() as u8,
        )
        .unwrap_or_default();
        BundleWriter {
            zip: ZipWriter::new(out),
            listed: Vec::new(),
            names: BTreeSet::new(),
            modified,
        }
    }

    /// Adds one file (JSON and text are deflated; audio is stored as is).
    pub fn add(&mut self, path: &str, bytes: &[u8]) -> anyhow::Result<ListedFile> {
        if path == MANIFEST_PATH || !self.names.insert(path.to_owned()) {
            anyhow::bail!("bundle: {path} written twice");
        }
        let method = if path.ends_with(".json") || path.ends_with(".txt") {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(self.modified)
            .unix_permissions(0o600)
            .large_file(bytes.len() as u64 >= u64::from(u32::MAX));
        self.zip.start_file(path, options)?;
        self.zip.write_all(bytes)?;
        let listed = ListedFile::of(path, bytes);
        self.listed.push(listed.clone());
        Ok(listed)
    }

    pub fn listed(&self) -> &[ListedFile] {
        &self.listed
    }

    /// Writes `VERIFY.txt`, then the manifest: `body` plus `files`, signed by `sign`.
    pub fn finish(
        mut self,
        mut body: Value,
        sign: impl FnOnce(Value) -> Value,
    ) -> anyhow::Result<Finished<W>> {
        self.add(VERIFY_PATH, verify_text().as_bytes())?;
        body["files"] = Value::Array(self.listed.iter().map(ListedFile::to_json).collect());
        let manifest = sign(body);
        let text = serde_json::to_vec_pretty(&manifest)?;
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(self.modified)
            .unix_permissions(0o600);
        self.zip.start_file(MANIFEST_PATH, options)?;
        self.zip.write_all(&text)?;
        Ok(Finished {
            out: self.zip.finish()?,
            manifest,
            manifest_sha256: Sha256::digest(&text).into(),
            files: self.listed,
        })
    }
}

/// A written bundle.
#[derive(Debug)]
pub struct Finished<W> {
    pub out: W,
    /// The signed manifest document.
    pub manifest: Value,
    /// SHA-256 of `manifest.json` as stored in the zip.
    pub manifest_sha256: [u8; 32],
    /// Every file the manifest lists.
    pub files: Vec<ListedFile>,
}

/// `VERIFY.txt`: how to check the bundle without onrecord's data, or without onrecord.
pub fn verify_text() -> String {
    format!(
        "Subject access bundle ({FORMAT})

{MANIFEST_PATH} lists every other file of this zip with its size in bytes and its SHA-256,
and is signed with the recording node's Ed25519 key (kind {MANIFEST_KIND}).

Check it offline with onrecord (no data directory needed):

    onrecord audit verify-bundle THIS.zip --public-key NODE_PUBLIC_KEY_HEX

The node's public key comes from its operator (`onrecord audit node-key`); do not take it
from the manifest itself. The command checks the signature, that every listed file is
present with the listed size and SHA-256, and that the zip holds no file that is not listed,
and exits non-zero naming the first problem.

Without onrecord: unzip, compare `sha256sum` of each file with {MANIFEST_PATH}, and verify
the Ed25519 signature over the bytes

    \"onrecord/signed/v1\" 0x00 \"{MANIFEST_KIND}\" 0x00 CANONICAL_BODY

where CANONICAL_BODY is the manifest's \"body\" as compact JSON with object keys sorted
(serde_json's compact form), and the signature is signature.value (hex).

Each recording's folder holds vcon.json, a vCon (draft-ietf-vcon-vcon-core) describing the
call: its parties (the data subject marked), the audio files with their SHA-512
content_hash, the transcript when there is one, and the consent evidence recorded for each
participant. Recordings erased before this export are listed in the manifest under
\"erased\" with their erasure time; their content no longer exists.
"
    )
}

/// Verifies a bundle with the node's public `key`.
pub fn verify<R: Read + Seek>(reader: R, key: &VerifyingKey) -> Result<Verified, BundleProblem> {
    let mut zip = ZipArchive::new(reader).map_err(|e| BundleProblem::NotAZip(e.to_string()))?;
    if zip.len() > MAX_ENTRIES {
        return Err(BundleProblem::TooManyEntries);
    }
    // Names as stored, in zip order; a name twice is a problem whatever the manifest says.
    let mut entries: BTreeMap<String, usize> = BTreeMap::new();
    for index in 0..zip.len() {
        let entry = zip
            .by_index_raw(index)
            .map_err(|e| BundleProblem::NotAZip(e.to_string()))?;
        let name = entry
            .name()
            .map_err(|e| BundleProblem::NotAZip(e.to_string()))?
            .into_owned();
        if entry.is_dir() {
            continue;
        }
        if entries.insert(name.clone(), index).is_some() {
            return Err(BundleProblem::Duplicate(name));
        }
    }
    let manifest_index = *entries
        .get(MANIFEST_PATH)
        .ok_or(BundleProblem::NoManifest)?;
    let manifest_bytes = read_bounded(&mut zip, manifest_index, MANIFEST_PATH, MAX_MANIFEST_BYTES)?;
    let manifest: Value = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| BundleProblem::MalformedManifest(e.to_string()))?;
    let body = nodekey::verify(&manifest, MANIFEST_KIND, key).map_err(BundleProblem::Signature)?;
    if body["format"] != FORMAT {
        return Err(BundleProblem::MalformedManifest(format!(
            "format is not {FORMAT}"
        )));
    }
    let listed = listed_files(body)?;
    for file in &listed {
        let index = *entries
            .get(&file.path)
            .ok_or_else(|| BundleProblem::Missing(file.path.clone()))?;
        let (size, digest) = hash_bounded(&mut zip, index, &file.path, file.size)?;
        if size != file.size {
            return Err(BundleProblem::WrongSize {
                path: file.path.clone(),
                expected: file.size,
                actual: size,
            });
        }
        if digest != file.sha256 {
            return Err(BundleProblem::WrongDigest(file.path.clone()));
        }
    }
    let listed_paths: BTreeSet<&str> = listed.iter().map(|file| file.path.as_str()).collect();
    if let Some(unlisted) = entries
        .keys()
        .find(|name| name.as_str() != MANIFEST_PATH && !listed_paths.contains(name.as_str()))
    {
        return Err(BundleProblem::Unlisted(unlisted.clone()));
    }
    let ids = |key: &str| -> Vec<String> {
        body[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
    Ok(Verified {
        tenant: text("tenant"),
        generated_at: text("generated_at"),
        generated_by: text("generated_by"),
        recordings: ids("recordings"),
        erased: ids("erased"),
        files: listed.len(),
        bytes: listed.iter().map(|file| file.size).sum(),
    })
}

fn listed_files(body: &Value) -> Result<Vec<ListedFile>, BundleProblem> {
    let malformed = |what: &str| BundleProblem::MalformedManifest(what.to_owned());
    let items = body["files"]
        .as_array()
        .ok_or_else(|| malformed("no files list"))?;
    if items.len() > MAX_ENTRIES {
        return Err(BundleProblem::TooManyEntries);
    }
    let mut seen = BTreeSet::new();
    items
        .iter()
        .map(|item| {
            let path = item["path"]
                .as_str()
                .filter(|path| !path.is_empty() && *path != MANIFEST_PATH)
                .ok_or_else(|| malformed("a file without a usable path"))?;
            if !seen.insert(path) {
                return Err(BundleProblem::Duplicate(path.to_owned()));
            }
            let size = item["size"]
                .as_u64()
                .ok_or_else(|| malformed("a file without a size"))?;
            let sha256: [u8; 32] = item["sha256"]
                .as_str()
                .and_then(|text| hex::decode(text).ok())
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| malformed("a file whose sha256 is not 64 hex digits"))?;
            Ok(ListedFile {
                path: path.to_owned(),
                size,
                sha256,
            })
        })
        .collect()
}

fn unreadable(path: &str, error: impl std::fmt::Display) -> BundleProblem {
    BundleProblem::Unreadable {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

fn read_bounded<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    index: usize,
    path: &str,
    limit: u64,
) -> Result<Vec<u8>, BundleProblem> {
    let entry = zip.by_index(index).map_err(|e| unreadable(path, e))?;
    let mut bytes = Vec::new();
    entry
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(unreadable(path, format!("larger than {limit} bytes")));
    }
    Ok(bytes)
}

/// Streams an entry through SHA-256, reading at most one byte more than `expected` (a zip
/// bomb stops there and reads as the wrong size).
fn hash_bounded<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    index: usize,
    path: &str,
    expected: u64,
) -> Result<(u64, [u8; 32]), BundleProblem> {
    let entry = zip.by_index(index).map_err(|e| unreadable(path, e))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut entry.take(expected.saturating_add(1)), &mut hasher)
        .map_err(|e| unreadable(path, e))?;
    Ok((size, hasher.finalize().into()))
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::nodekey::NodeKey;

    fn bundle(key: &NodeKey, files: &[(&str, &[u8])]) -> anyhow::Result<Vec<u8>> {
        let mut writer = BundleWriter::new(Cursor::new(Vec::new()), chrono::DateTime::UNIX_EPOCH);
        for (path, bytes) in files {
            writer.add(path, bytes)?;
        }
        let body = json!({ "format": FORMAT, "tenant": "acme", "recordings": [{ "id": "r1" }] });
        let finished = writer.finish(body, |body| key.sign(MANIFEST_KIND, body))?;
        Ok(finished.out.into_inner())
    }

    /// Rewrites a bundle through `change(name, bytes) -> Some(new bytes) | None (drop)`, then
    /// optionally appends an entry.
    fn rewrite(
        bytes: &[u8],
        change: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>,
        extra: Option<(&str, &[u8])>,
    ) -> anyhow::Result<Vec<u8>> {
        let mut zip = ZipArchive::new(Cursor::new(bytes))?;
        let mut out = ZipWriter::new(Cursor::new(Vec::new()));
        for index in 0..zip.len() {
            let mut entry = zip.by_index(index)?;
            let name = entry.name()?.into_owned();
            let mut content = Vec::new();
            entry.read_to_end(&mut content)?;
            if let Some(content) = change(&name, content) {
                out.start_file(name, SimpleFileOptions::default())?;
                out.write_all(&content)?;
            }
        }
        if let Some((name, content)) = extra {
            out.start_file(name, SimpleFileOptions::default())?;
            out.write_all(content)?;
        }
        Ok(out.finish()?.into_inner())
    }

    #[test]
    fn a_bundle_verifies_and_each_kind_of_tampering_is_named() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let key = NodeKey::load_or_create(dir.path())?;
        let public = key.public_key();
        let good = bundle(
            &key,
            &[("r1/vcon.json", b"{}"), ("r1/original.wav", b"RIFFdata")],
        )?;
        let verified = verify(Cursor::new(&good), &public).map_err(anyhow::Error::msg)?;
        assert_eq!(verified.files, 3); // two files and VERIFY.txt
        assert_eq!(verified.recordings, vec!["r1".to_owned()]);

        let flipped = rewrite(
            &good,
            |name, mut bytes| {
                if name == "r1/original.wav" {
                    bytes[0] ^= 1;
                }
                Some(bytes)
            },
            None,
        )?;
        assert_eq!(
            verify(Cursor::new(&flipped), &public),
            Err(BundleProblem::WrongDigest("r1/original.wav".into()))
        );
        let removed = rewrite(
            &good,
            |name, bytes| (name != "r1/vcon.json").then_some(bytes),
            None,
        )?;
        assert_eq!(
            verify(Cursor::new(&removed), &public),
            Err(BundleProblem::Missing("r1/vcon.json".into()))
        );
        let added = rewrite(&good, |_, bytes| Some(bytes), Some(("r1/extra.txt", b"x")))?;
        assert_eq!(
            verify(Cursor::new(&added), &public),
            Err(BundleProblem::Unlisted("r1/extra.txt".into()))
        );
        let longer = rewrite(
            &good,
            |name, mut bytes| {
                if name == "r1/original.wav" {
                    bytes.push(0);
                }
                Some(bytes)
            },
            None,
        )?;
        assert!(matches!(
            verify(Cursor::new(&longer), &public),
            Err(BundleProblem::WrongSize { .. })
        ));
        let other = NodeKey::load_or_create(tempfile::tempdir()?.path())?;
        assert!(matches!(
            verify(Cursor::new(&good), &other.public_key()),
            Err(BundleProblem::Signature(VerifyError::BadSignature(_)))
        ));
        assert!(matches!(
            verify(Cursor::new(b"not a zip".as_slice()), &public),
            Err(BundleProblem::NotAZip(_))
        ));
        Ok(())
    }

    #[test]
    fn a_file_written_twice_is_refused() -> anyhow::Result<()> {
        let mut writer = BundleWriter::new(Cursor::new(Vec::new()), chrono::DateTime::UNIX_EPOCH);
        writer.add("a.json", b"{}")?;
        assert!(writer.add("a.json", b"{}").is_err());
        assert!(writer.add(MANIFEST_PATH, b"{}").is_err());
        Ok(())
    }
}
