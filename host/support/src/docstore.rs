//! Small named documents with revisions: the catalogs, checkpoints and settings that Weir
//! keeps beside its logs (a delivery stream's checkpoint, the Firehose catalog, API-created
//! rules, an analytics application's checkpoint).
//!
//! Every such document is read whole, replaced whole and must survive a crash, and once
//! several hosts share one store (issue 31: a NATS JetStream key-value bucket) two of them may
//! try to replace the same document at once. [`DocStore`] is that contract: a write names the
//! revision it read ([`DocExpect`]), and a write based on a stale read is refused with
//! [`DocError::Conflict`] instead of silently undoing the other host's write.
//!
//! [`FolderDocStore`] is the single-host implementation: one file per document under a
//! folder, written with [`crate::write_atomic_via`] (temp file, fsync, rename, fsync of the
//! folder), so the file layout is exactly what the callers wrote by hand before. One process
//! owns the folder, so revisions are kept in memory: a document found on disk starts at
//! revision 1 in each process, and compare-and-set holds between the threads of that process.
//!
//! Keys are `/`-separated segments of ASCII letters, digits, `-`, `_`, `=` and `.` (not at a
//! segment's start or end): the intersection of what a file name and a NATS key may hold, so a
//! key valid here is valid in a cluster too, and no key can name a hidden or temporary file,
//! `.` or `..`.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::lock;

/// A document's revision: it changes with every write of that document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocRevision(pub u64);

impl fmt::Display for DocRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "revision {}", self.0)
    }
}

/// What a write expects to find, checked atomically with the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocExpect {
    /// Whatever is there (a single writer, such as a checkpoint only its owner moves).
    Any,
    /// No document yet (create once: of two creators, one wins).
    Absent,
    /// The document at exactly this revision (read, change, write back).
    Revision(DocRevision),
}

/// Why a document could not be read or written.
#[derive(Debug)]
pub enum DocError {
    /// The key is not one a store can hold.
    BadKey { key: String, reason: &'static str },
    /// The write's expectation did not hold: someone else wrote (or deleted) it first.
    Conflict {
        key: String,
        expected: DocExpect,
        found: Option<DocRevision>,
    },
    /// The storage failed.
    Io {
        key: String,
        what: String,
        source: io::Error,
    },
}

impl fmt::Display for DocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocError::BadKey { key, reason } => write!(f, "bad document key {key:?}: {reason}"),
            DocError::Conflict {
                key,
                expected,
                found,
            } => {
                let found = match found {
                    Some(r) => r.to_string(),
                    None => "no document".to_owned(),
                };
                let expected = match expected {
                    DocExpect::Any => "anything".to_owned(),
                    DocExpect::Absent => "no document".to_owned(),
                    DocExpect::Revision(r) => r.to_string(),
                };
                write!(
                    f,
                    "document {key:?} changed meanwhile: expected {expected}, found {found}"
                )
            }
            DocError::Io { key, what, source } => {
                write!(f, "document {key:?}: {what}: {source}")
            }
        }
    }
}

impl std::error::Error for DocError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DocError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A store of small documents with compare-and-set writes; see the module documentation.
pub trait DocStore: Send + Sync + fmt::Debug {
    /// The document under `key` and its revision; `None` when there is none.
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, DocRevision)>, DocError>;
    /// Replaces (or creates) the document if `expect` holds, durably before it returns;
    /// answers the new revision.
    fn put(&self, key: &str, bytes: &[u8], expect: DocExpect) -> Result<DocRevision, DocError>;
    /// Removes the document if `expect` holds; removing what is not there is not an error
    /// with [`DocExpect::Any`] or [`DocExpect::Absent`].
    fn delete(&self, key: &str, expect: DocExpect) -> Result<(), DocError>;
    /// The keys directly under the folder `prefix` (`""` for the top; no trailing `/`),
    /// sorted, documents only.
    fn keys(&self, prefix: &str) -> Result<Vec<String>, DocError>;
    /// Where `key` lives, for messages that must point an operator at it (a file's path, a
    /// bucket and key).
    fn describe(&self, key: &str) -> String;
}

/// Checks `key` against the rules in the module documentation.
pub fn check_key(key: &str) -> Result<(), DocError> {
    let bad = |reason| {
        Err(DocError::BadKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("it is empty");
    }
    if key.len() > 512 {
        return bad("it is longer than 512 bytes");
    }
    for seg in key.split('/') {
        if seg.is_empty() {
            return bad("it has an empty segment");
        }
        if seg.starts_with('.') || seg.ends_with('.') {
            return bad("a segment starts or ends with '.'");
        }
        if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'.'))
        {
            return bad("only ASCII letters, digits, '-', '_', '=', '.' and '/' may be used");
        }
    }
    Ok(())
}

/// The single-host [`DocStore`]: one file per document under `root`.
#[derive(Debug)]
pub struct FolderDocStore {
    root: PathBuf,
    /// Per key: its lock (writes of one key are serialised; other keys go on) and its
    /// revision in this process, `0` when not known yet.
    keys: Mutex<HashMap<String, Arc<Mutex<u64>>>>,
}

/// Distinguishes the temporary files of concurrent writers.
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl FolderDocStore {
    /// A store under `root` (created, durably, on the first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FolderDocStore {
            root: root.into(),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The folder the documents live in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds `key` (checked).
    pub fn path_of(&self, key: &str) -> Result<PathBuf, DocError> {
        check_key(key)?;
        Ok(key.split('/').fold(self.root.clone(), |p, s| p.join(s)))
    }

    fn slot(&self, key: &str) -> Arc<Mutex<u64>> {
        lock(&self.keys).entry(key.to_owned()).or_default().clone()
    }

    fn io(key: &str, what: String, source: io::Error) -> DocError {
        DocError::Io {
            key: key.to_owned(),
            what,
            source,
        }
    }

    fn read(key: &str, path: &Path) -> Result<Option<Vec<u8>>, DocError> {
        match fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io(key, format!("cannot read {}", path.display()), e)),
        }
    }

    /// The revision of what is on disk now, as this process numbers it.
    fn current(rev: &mut u64, exists: bool) -> Option<DocRevision> {
        if !exists {
            return None;
        }
        if *rev == 0 {
            *rev = 1;
        }
        Some(DocRevision(*rev))
    }

    fn check(key: &str, expect: DocExpect, found: Option<DocRevision>) -> Result<(), DocError> {
        let ok = match expect {
            DocExpect::Any => true,
            DocExpect::Absent => found.is_none(),
            DocExpect::Revision(r) => found == Some(r),
        };
        if ok {
            Ok(())
        } else {
            Err(DocError::Conflict {
                key: key.to_owned(),
                expected: expect,
                found,
            })
        }
    }
}

impl DocStore for FolderDocStore {
    fn describe(&self, key: &str) -> String {
        match self.path_of(key) {
            Ok(p) => p.display().to_string(),
            Err(_) => format!("{key:?} under {}", self.root.display()),
        }
    }

    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, DocRevision)>, DocError> {
        let path = self.path_of(key)?;
        let slot = self.slot(key);
        let mut rev = lock(&slot);
        let bytes = Self::read(key, &path)?;
        let found = Self::current(&mut rev, bytes.is_some());
        Ok(bytes.zip(found))
    }

    fn put(&self, key: &str, bytes: &[u8], expect: DocExpect) -> Result<DocRevision, DocError> {
        let path = self.path_of(key)?;
        let slot = self.slot(key);
        let mut rev = lock(&slot);
        let exists = path.exists();
        let found = Self::current(&mut rev, exists);
        Self::check(key, expect, found)?;
        let dir = path.parent().unwrap_or(&self.root);
        crate::create_dir_all_synced(dir)
            .map_err(|e| Self::io(key, format!("cannot create {}", dir.display()), e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A name no key can have (it starts with '.'), so `keys` never lists it and a crash
        // leaves nothing a reader mistakes for a document.
        let tmp = dir.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        crate::write_atomic_via(&tmp, &path, &[bytes]).map_err(|e| DocError::Io {
            key: key.to_owned(),
            what: format!("cannot {} {}", e.step, e.path.display()),
            source: e.source,
        })?;
        *rev += 1;
        Ok(DocRevision(*rev))
    }

    fn delete(&self, key: &str, expect: DocExpect) -> Result<(), DocError> {
        let path = self.path_of(key)?;
        let slot = self.slot(key);
        let mut rev = lock(&slot);
        let exists = path.exists();
        let found = Self::current(&mut rev, exists);
        Self::check(key, expect, found)?;
        if !exists {
            return Ok(());
        }
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Self::io(
                    key,
                    format!("cannot remove {}", path.display()),
                    e,
                ))
            }
        }
        let dir = path.parent().unwrap_or(&self.root);
        crate::sync_dir(dir)
            .map_err(|e| Self::io(key, format!("cannot fsync {}", dir.display()), e))?;
        // A later create starts from a revision no reader of the old document holds.
        *rev += 1;
        Ok(())
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>, DocError> {
        let dir = if prefix.is_empty() {
            self.root.clone()
        } else {
            self.path_of(prefix)?
        };
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Self::io(
                    prefix,
                    format!("cannot list {}", dir.display()),
                    e,
                ))
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| Self::io(prefix, format!("cannot list {}", dir.display()), e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let key = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            if is_file && check_key(&key).is_ok() {
                out.push(key);
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, FolderDocStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = FolderDocStore::new(dir.path().join("state"));
        (dir, s)
    }

    #[test]
    fn a_document_is_written_read_and_replaced_by_revision() {
        let (_d, s) = store();
        assert!(s.get("checkpoints/abc").expect("get").is_none());
        let r1 = s
            .put("checkpoints/abc", b"1", DocExpect::Absent)
            .expect("create");
        assert_eq!(
            s.get("checkpoints/abc").expect("get"),
            Some((b"1".to_vec(), r1))
        );
        let r2 = s
            .put("checkpoints/abc", b"2", DocExpect::Revision(r1))
            .expect("update");
        assert!(r2 > r1);
        // The file is where a caller that wrote it by hand would have put it.
        let on_disk = fs::read(s.root().join("checkpoints").join("abc")).expect("file");
        assert_eq!(on_disk, b"2");
    }

    #[test]
    fn a_write_from_a_stale_read_is_refused() {
        let (_d, s) = store();
        let r1 = s.put("catalog.json", b"a", DocExpect::Any).expect("put");
        s.put("catalog.json", b"b", DocExpect::Revision(r1))
            .expect("first update");
        let e = s
            .put("catalog.json", b"c", DocExpect::Revision(r1))
            .expect_err("stale");
        assert!(matches!(e, DocError::Conflict { .. }), "{e}");
        assert!(e.to_string().contains("changed meanwhile"), "{e}");
        let e = s
            .put("catalog.json", b"c", DocExpect::Absent)
            .expect_err("exists");
        assert!(matches!(e, DocError::Conflict { .. }), "{e}");
        assert_eq!(
            s.get("catalog.json").expect("get").map(|d| d.0),
            Some(b"b".to_vec())
        );
    }

    #[test]
    fn of_two_creators_one_wins() {
        let (_d, s) = store();
        let s = Arc::new(s);
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    s.put("names/one", format!("{i}").as_bytes(), DocExpect::Absent)
                        .is_ok()
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .filter(|won| *won)
            .count();
        assert_eq!(wins, 1);
        assert!(s.get("names/one").expect("get").is_some());
    }

    #[test]
    fn a_document_found_on_disk_has_a_revision_and_a_deleted_one_none() {
        let (_d, s) = store();
        let path = s.path_of("checkpoints/old").expect("path");
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, b"41").expect("write");
        let (bytes, rev) = s.get("checkpoints/old").expect("get").expect("found");
        assert_eq!(bytes, b"41");
        s.delete("checkpoints/old", DocExpect::Revision(rev))
            .expect("delete");
        assert!(s.get("checkpoints/old").expect("get").is_none());
        s.delete("checkpoints/old", DocExpect::Any)
            .expect("deleting nothing");
        let e = s
            .delete("checkpoints/gone", DocExpect::Revision(rev))
            .expect_err("nothing at that revision");
        assert!(matches!(e, DocError::Conflict { found: None, .. }), "{e}");
        // A new document under the old key does not take the deleted one's revision.
        let r = s
            .put("checkpoints/old", b"1", DocExpect::Absent)
            .expect("recreate");
        assert_ne!(r, rev);
    }

    #[test]
    fn keys_list_documents_only_and_bad_keys_are_refused() {
        let (_d, s) = store();
        s.put("checkpoints/b", b"1", DocExpect::Any).expect("put");
        s.put("checkpoints/a.source.json", b"{}", DocExpect::Any)
            .expect("put");
        s.put("catalog.json", b"[]", DocExpect::Any).expect("put");
        // What a crash mid-write leaves behind is not a document.
        fs::write(s.root().join("checkpoints/.b.tmp-1-2"), b"x").expect("tmp");
        assert_eq!(
            s.keys("checkpoints").expect("keys"),
            vec!["checkpoints/a.source.json", "checkpoints/b"]
        );
        assert_eq!(s.keys("").expect("keys"), vec!["catalog.json"]);
        assert!(s.keys("nothing").expect("keys").is_empty());
        for bad in [
            "", "/a", "a/", "a//b", "../x", "a/./b", ".hidden", "x.", "a b", "é", "a\\b",
        ] {
            let e = s.put(bad, b"x", DocExpect::Any).expect_err(bad);
            assert!(matches!(e, DocError::BadKey { .. }), "{bad}: {e}");
        }
        assert!(s.put(&"k".repeat(513), b"x", DocExpect::Any).is_err());
    }

    #[test]
    fn a_failing_disk_is_an_io_error_that_names_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The store's root is a file: nothing can be created under it.
        let root = dir.path().join("file");
        fs::write(&root, b"").expect("file");
        let s = FolderDocStore::new(&root);
        let e = s
            .put("a/b", b"x", DocExpect::Any)
            .expect_err("cannot write");
        assert!(matches!(e, DocError::Io { .. }), "{e}");
        assert!(e.to_string().contains("\"a/b\""), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
