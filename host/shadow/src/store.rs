//! Shadows on disk: one file per shadow, replaced whole on every change.
//!
//! **Why one file per shadow, not a log.** A shadow is small (8 KB of state, its metadata
//! about as much again) and is always rewritten whole, so a write is one temp file, fsync,
//! rename, fsync of the folder ([`weir_support::write_atomic_via`]): a crash leaves the old
//! file or the new one, never a mix, and there is nothing to compact. A damaged file damages
//! one shadow and nothing else, and opening the store reads nothing: a shadow is read on its
//! first use, so a thousand things cost nothing at start. A shared log would batch fsyncs
//! across shadows but needs compaction and an index, and one bad frame would stop every shadow
//! after it. Listing a thing's named shadows is one folder read.
//!
//! Layout under the store's folder: `THING/classic.shadow` for the classic shadow,
//! `THING/named/NAME.shadow` for named ones. Names are checked ([`crate::ShadowKey`]) to
//! `[$a-zA-Z0-9:_-]`, so each is one path component.
//!
//! A file is the 8-byte magic `WEIRSHD1` then one `weir_support::framed` frame (length,
//! CRC-32C, body) whose body is the JSON of [`Stored`]; the CRC catches a flipped bit that
//! would still parse as JSON. A deleted shadow stays as a tombstone (no state, its version and
//! the time of deletion) because AWS continues the version of a shadow recreated within 48
//! hours.
//!
//! The same bytes ([`encode`] / [`decode`]) are a shadow's document when the service keeps its
//! shadows in a `DocStore` instead (`docs.rs`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use weir_support::framed::{read_frame, FrameBatch, FrameLimits, FRAME_HEADER_LEN};

use crate::error::ShadowError;
use crate::model::ShadowDoc;
use crate::names::ShadowKey;

const MAGIC: &[u8; 8] = b"WEIRSHD1";
/// Bodies the store can have written: `{}` at least, and far more than any shadow can hold.
const LIMITS: FrameLimits = FrameLimits::new(2, 64 * 1024 * 1024);
const SUFFIX: &str = ".shadow";

/// What a shadow file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stored {
    pub doc: ShadowDoc,
    /// Set when the shadow was deleted: the file is a tombstone that keeps the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at_ms: Option<i64>,
}

/// The file of `key` under `dir`.
pub(crate) fn path_of(dir: &Path, key: &ShadowKey) -> PathBuf {
    let thing = dir.join(key.thing());
    match key.shadow_name() {
        None => thing.join(format!("classic{SUFFIX}")),
        Some(n) => thing.join("named").join(format!("{n}{SUFFIX}")),
    }
}

/// The folder of `thing`'s named shadows.
pub(crate) fn named_dir(dir: &Path, thing: &str) -> PathBuf {
    dir.join(thing).join("named")
}

/// The shadow names that have a file in `named` (tombstones included), sorted.
pub(crate) fn named_files(named: &Path) -> Result<Vec<String>, ShadowError> {
    let entries = match fs::read_dir(named) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(ShadowError::internal(format!(
                "cannot list {}: {e}",
                named.display()
            )))
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry
            .map_err(|e| ShadowError::internal(format!("cannot list {}: {e}", named.display())))?;
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        if let Some(name) = file.strip_suffix(SUFFIX) {
            if crate::names::is_shadow_name(name) {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Reads `path`: `Ok(None)` when there is no file; a 500 naming the file when it cannot be
/// read or is damaged.
pub(crate) fn read(path: &Path) -> Result<Option<Stored>, ShadowError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ShadowError::internal(format!(
                "cannot read shadow file {}: {e}",
                path.display()
            )))
        }
    };
    decode(&bytes).map(Some).map_err(|what| {
        ShadowError::internal(format!(
            "shadow file {} is damaged ({what}); move it away to reset that shadow",
            path.display()
        ))
    })
}

/// The bytes of a stored shadow, a file's or a document's alike: the magic, then one frame
/// whose body is the JSON of `stored`. One format for both backends, so a shadow can be
/// copied between a folder and a document store as it is.
pub(crate) fn encode(stored: &Stored) -> Result<Vec<u8>, String> {
    let body = serde_json::to_vec(stored).map_err(|e| e.to_string())?;
    let mut batch =
        FrameBatch::with_header(LIMITS, MAGIC, MAGIC.len() + FRAME_HEADER_LEN + body.len());
    batch.push_body(&body).map_err(|e| e.to_string())?;
    Ok(batch.bytes().to_vec())
}

/// Reads what [`encode`] wrote; the error says what is wrong (bad magic, a frame's damage,
/// trailing bytes, a body that is not a [`Stored`]), for a message that also names where.
pub(crate) fn decode(bytes: &[u8]) -> Result<Stored, String> {
    let Some(rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
        return Err("not a shadow file: bad magic".into());
    };
    let body = read_frame(rest, 0, rest.len() as u64, LIMITS)
        .map_err(|e| e.to_string())?
        .map_err(|d| d.to_string())?;
    if FRAME_HEADER_LEN + body.len() != rest.len() {
        return Err("bytes after the frame".into());
    }
    serde_json::from_slice(&body).map_err(|e| format!("malformed body: {e}"))
}

/// Writes `stored` to `path` durably: when this returns `Ok`, the file and its folders are
/// on disk.
pub(crate) fn write(path: &Path, stored: &Stored) -> Result<(), ShadowError> {
    let fail = |e: &dyn std::fmt::Display| ShadowError::internal(e.to_string());
    let dir = path
        .parent()
        .ok_or_else(|| fail(&format!("no folder for {}", path.display())))?;
    weir_support::create_dir_all_synced(dir)
        .map_err(|e| fail(&format!("cannot create {}: {e}", dir.display())))?;
    let bytes = encode(stored).map_err(|e| fail(&e))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| fail(&format!("no file name in {}", path.display())))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    // A temp file left by a crash mid-write: the caller holds the shadow's lock, so nobody
    // else is writing it now.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(&format!("cannot remove {}: {e}", tmp.display()))),
    }
    weir_support::write_atomic_via(&tmp, path, &[&bytes]).map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Stored {
        Stored {
            doc: ShadowDoc {
                version: 3,
                ..ShadowDoc::default()
            },
            deleted_at_ms: Some(5),
        }
    }

    #[test]
    fn a_written_file_reads_back_and_damage_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = ShadowKey::new("t", Some("s")).expect("key");
        let path = path_of(dir.path(), &key);
        assert_eq!(read(&path).expect("absent"), None);
        write(&path, &sample()).expect("write");
        assert_eq!(read(&path).expect("read"), Some(sample()));
        assert_eq!(
            named_files(&named_dir(dir.path(), "t")).expect("list"),
            ["s"]
        );

        let good = fs::read(&path).expect("bytes");
        let mut flipped = good.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 0x01;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (flipped, "checksum mismatch"),
            (good[..good.len() - 1].to_vec(), "incomplete frame"),
            ([good.as_slice(), b"x"].concat(), "bytes after the frame"),
            (b"{\"doc\":{}}".to_vec(), "bad magic"),
            (Vec::new(), "bad magic"),
        ];
        for (bytes, what) in cases {
            fs::write(&path, &bytes).expect("damage");
            let e = read(&path).expect_err("damaged");
            assert_eq!(e.code(), 500);
            let detail = e.detail().expect("detail");
            assert!(detail.contains(&path.display().to_string()), "{detail}");
            assert!(detail.contains(what), "{detail} should say {what}");
        }
        // A frame that holds intact JSON of the wrong shape.
        let mut batch = FrameBatch::with_header(LIMITS, MAGIC, 64);
        batch.push_body(b"[1,2]").expect("push");
        fs::write(&path, batch.bytes()).expect("write");
        let e = read(&path).expect_err("shape");
        assert!(
            e.detail().is_some_and(|d| d.contains("malformed body")),
            "{e}"
        );
    }

    #[test]
    fn a_stale_temp_file_does_not_block_a_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = ShadowKey::new("t", None).expect("key");
        let path = path_of(dir.path(), &key);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(dir.path().join("t/.classic.shadow.tmp"), b"half").expect("stale");
        write(&path, &sample()).expect("write over stale temp");
        assert_eq!(read(&path).expect("read"), Some(sample()));
        assert!(!dir.path().join("t/.classic.shadow.tmp").exists());
    }
}
