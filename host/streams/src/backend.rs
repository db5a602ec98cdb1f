//! Storage backends.
//!
//! The log never touches `std::fs` directly: everything goes through [`StorageBackend`], so
//! tests can swap in [`MemBackend`] (which can simulate a power cut by dropping every byte
//! that was not synced) or [`FailingBackend`] (which fails every operation after N), and
//! check that recovery never serves a torn or corrupt record.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// An open file that is only ever appended to, and read at offsets.
pub trait SegmentFile: Send + Sync {
    /// Appends `buf` at the end of the file.
    fn append(&self, buf: &[u8]) -> io::Result<()>;
    /// Makes every appended byte durable (fdatasync).
    fn sync(&self) -> io::Result<()>;
    /// Starts writing appended bytes to disk without waiting for it, so that the sync which
    /// follows (a group-commit round, perhaps after another round) has less left to do. A
    /// hint: the default does nothing.
    fn start_writeback(&self) {}
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// True when the file holds no bytes.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Cuts the file to `len` bytes (used by recovery to drop a torn tail) and syncs.
    fn truncate(&self, len: u64) -> io::Result<()>;
    /// Gives back space held beyond the appended bytes (zeros written ahead, see
    /// `backend/disk_file.rs`) and holds none from now on: for a segment that is sealed.
    fn release_spare(&self) -> io::Result<()> {
        Ok(())
    }
}

/// A directory tree of files.
pub trait StorageBackend: Send + Sync + 'static {
    /// Opens (creating if needed) a file for appending and reading.
    fn open(&self, path: &Path) -> io::Result<Arc<dyn SegmentFile>>;
    /// Names of the entries directly inside `dir` (empty if it does not exist).
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates `dir` and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Removes one file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory tree.
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Whole contents of a small file, `None` if it does not exist.
    fn read_file(&self, path: &Path) -> io::Result<Option<Vec<u8>>>;
    /// Replaces a small file atomically and durably: write a temp file, fsync it, rename
    /// it over `path`, fsync the directory. A crash leaves either the old or the new file.
    fn write_atomic(&self, path: &Path, data: &[u8]) -> io::Result<()>;
}

// ---------------------------------------------------------------------------------------
// Real files.

/// The production backend: plain files, appended with `pwrite` at the end of the data (into
/// space written ahead once a file is busy: `backend/disk_file.rs`), read with `pread`.
#[derive(Debug, Default, Clone)]
pub struct FileBackend;

mod disk_file;
mod prealloc;

use weir_support::lock;

use weir_support::sync_dir;

impl StorageBackend for FileBackend {
    fn open(&self, path: &Path) -> io::Result<Arc<dyn SegmentFile>> {
        let existed = path.exists();
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)?;
        if !existed {
            if let Some(parent) = path.parent() {
                sync_dir(parent)?;
            }
        }
        Ok(disk_file::DiskFile::open(path, file, true)?)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        match fs::read_dir(dir) {
            Ok(rd) => {
                let mut out = Vec::new();
                for e in rd {
                    out.push(e?.file_name().to_string_lossy().into_owned());
                }
                Ok(out)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        // Each new folder's name is synced into its parent: a shard's first segment must not
        // be acknowledged while the folder holding it could vanish in a power cut.
        weir_support::create_dir_all_synced(dir)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        match fs::remove_dir_all(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
    fn read_file(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        match fs::read(path) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn write_atomic(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let tmp = path.with_extension("tmp");
        // A temp file left by a crash mid-write is stale: the write starts over.
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        Ok(weir_support::write_atomic_via(&tmp, path, &[data])?)
    }
}

// ---------------------------------------------------------------------------------------
// In memory, with crash simulation.

#[derive(Default)]
struct MemFileState {
    data: Vec<u8>,
    synced: usize,
}

struct MemFile {
    state: Mutex<MemFileState>,
}

impl SegmentFile for MemFile {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        lock(&self.state).data.extend_from_slice(buf);
        Ok(())
    }
    fn sync(&self) -> io::Result<()> {
        let mut s = lock(&self.state);
        s.synced = s.data.len();
        Ok(())
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let s = lock(&self.state);
        let off = usize::try_from(offset).unwrap_or(usize::MAX);
        if off >= s.data.len() {
            return Ok(0);
        }
        let n = buf.len().min(s.data.len() - off);
        buf[..n].copy_from_slice(&s.data[off..off + n]);
        Ok(n)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(lock(&self.state).data.len() as u64)
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        let mut s = lock(&self.state);
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(s.data.len());
        s.data.truncate(len);
        s.synced = len;
        Ok(())
    }
}

/// An in-memory file system. [`MemBackend::crash`] simulates a power cut: every file keeps
/// only the bytes that were synced, which is what a real disk guarantees.
#[derive(Default, Clone)]
pub struct MemBackend {
    files: Arc<Mutex<BTreeMap<PathBuf, Arc<MemFile>>>>,
}

impl MemBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops every unsynced byte of every file. Handles opened before the crash must not be
    /// used afterwards (reopen the engine on the same backend).
    pub fn crash(&self) {
        let files = lock(&self.files);
        for f in files.values() {
            let mut s = lock(&f.state);
            let keep = s.synced;
            s.data.truncate(keep);
        }
    }

    /// Flips one byte of a file, to test checksum handling.
    pub fn corrupt(&self, path: &Path, offset: usize) {
        if let Some(f) = lock(&self.files).get(path) {
            let mut s = lock(&f.state);
            if let Some(b) = s.data.get_mut(offset) {
                *b ^= 0xff;
            }
        }
    }

    /// Every file path currently stored.
    pub fn paths(&self) -> Vec<PathBuf> {
        lock(&self.files).keys().cloned().collect()
    }
}

impl StorageBackend for MemBackend {
    fn open(&self, path: &Path) -> io::Result<Arc<dyn SegmentFile>> {
        let mut files = lock(&self.files);
        let f = files
            .entry(path.to_path_buf())
            .or_insert_with(|| {
                Arc::new(MemFile {
                    state: Mutex::new(MemFileState::default()),
                })
            })
            .clone();
        Ok(f)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let files = lock(&self.files);
        let mut out: Vec<String> = Vec::new();
        for p in files.keys() {
            if let Ok(rest) = p.strip_prefix(dir) {
                if let Some(first) = rest.components().next() {
                    let name = first.as_os_str().to_string_lossy().into_owned();
                    if out.last() != Some(&name) && !out.contains(&name) {
                        out.push(name);
                    }
                }
            }
        }
        Ok(out)
    }
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        lock(&self.files).remove(path);
        Ok(())
    }
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        lock(&self.files).retain(|p, _| !p.starts_with(dir));
        Ok(())
    }
    fn read_file(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        Ok(lock(&self.files)
            .get(path)
            .map(|f| lock(&f.state).data.clone()))
    }
    fn write_atomic(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let f = Arc::new(MemFile {
            state: Mutex::new(MemFileState {
                data: data.to_vec(),
                synced: data.len(),
            }),
        });
        lock(&self.files).insert(path.to_path_buf(), f);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Fault injection.

/// Wraps a backend and fails every operation after the first `budget` ones, like a disk
/// that dies mid-run. Used to check that errors surface as errors, never as bad data.
#[derive(Clone)]
pub struct FailingBackend {
    inner: Arc<dyn StorageBackend>,
    remaining: Arc<AtomicU64>,
}

impl FailingBackend {
    pub fn new(inner: Arc<dyn StorageBackend>, budget: u64) -> Self {
        FailingBackend {
            inner,
            remaining: Arc::new(AtomicU64::new(budget)),
        }
    }

    /// Grants `n` more operations (e.g. to let recovery proceed after the injected failure).
    pub fn refill(&self, n: u64) {
        self.remaining.store(n, Ordering::SeqCst);
    }

    fn tick(&self) -> io::Result<()> {
        let ok = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| r.checked_sub(1))
            .is_ok();
        if ok {
            Ok(())
        } else {
            Err(io::Error::other("injected i/o failure"))
        }
    }
}

struct FailingFile {
    inner: Arc<dyn SegmentFile>,
    owner: FailingBackend,
}

impl SegmentFile for FailingFile {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        self.owner.tick()?;
        self.inner.append(buf)
    }
    fn sync(&self) -> io::Result<()> {
        self.owner.tick()?;
        self.inner.sync()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.owner.tick()?;
        self.inner.read_at(offset, buf)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        self.owner.tick()?;
        self.inner.truncate(len)
    }
}

impl StorageBackend for FailingBackend {
    fn open(&self, path: &Path) -> io::Result<Arc<dyn SegmentFile>> {
        self.tick()?;
        let inner = self.inner.open(path)?;
        Ok(Arc::new(FailingFile {
            inner,
            owner: self.clone(),
        }))
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.tick()?;
        self.inner.list(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.tick()?;
        self.inner.create_dir_all(dir)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.tick()?;
        self.inner.remove_file(path)
    }
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.tick()?;
        self.inner.remove_dir_all(dir)
    }
    fn read_file(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        self.tick()?;
        self.inner.read_file(path)
    }
    fn write_atomic(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.tick()?;
        self.inner.write_atomic(path, data)
    }
}
