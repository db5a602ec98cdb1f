//! Sealed segments hold descriptors only while they are read, within a process-wide bound.
//!
//! A shard's sealed segments are never written again, but a busy shard keeps many of them for
//! its retention period, and every host has thousands of shards' worth of descriptors at most
//! (the soft limit is often 1,024). So a sealed segment's file is a [`SealedFile`]: opened on
//! first read, registered in a bounded list of open sealed files, and closed when it is the
//! oldest entry and the list is full. Reads in progress hold their own handle, so closing
//! never pulls a file from under a reader; the next read reopens it.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use weir_support::lock;

use crate::backend::{SegmentFile, StorageBackend};

/// Sealed segment files open at once across the process.
pub const MAX_OPEN_SEALED: usize = 256;

/// The open sealed files, oldest first.
static OPEN: Mutex<VecDeque<Weak<SealedFile>>> = Mutex::new(VecDeque::new());

/// A sealed segment's file, opened on demand.
pub struct SealedFile {
    backend: Arc<dyn StorageBackend>,
    path: PathBuf,
    file: Mutex<Option<Arc<dyn SegmentFile>>>,
}

impl SealedFile {
    /// Wraps a segment that was just sealed (or loaded); `open` is its handle if one is at
    /// hand, so the first read does not reopen it.
    pub fn wrap(
        backend: Arc<dyn StorageBackend>,
        path: &Path,
        open: Option<Arc<dyn SegmentFile>>,
    ) -> Arc<SealedFile> {
        let had = open.is_some();
        let f = Arc::new(SealedFile {
            backend,
            path: path.to_path_buf(),
            file: Mutex::new(open),
        });
        if had {
            register(&f);
        }
        f
    }

    /// The open handle, opening (and registering) it if it was closed.
    fn handle(self: &Arc<Self>) -> io::Result<Arc<dyn SegmentFile>> {
        let mut slot = lock(&self.file);
        if let Some(f) = slot.as_ref() {
            return Ok(f.clone());
        }
        let f = self.backend.open(&self.path)?;
        *slot = Some(f.clone());
        drop(slot);
        register(self);
        Ok(f)
    }

    /// Drops this file's handle (readers that hold one keep it until they finish).
    fn close(&self) {
        lock(&self.file).take();
    }

    /// Whether it holds a descriptor now.
    #[cfg(test)]
    pub fn is_open(&self) -> bool {
        lock(&self.file).is_some()
    }
}

fn register(f: &Arc<SealedFile>) {
    let evicted: Vec<Arc<SealedFile>> = {
        let mut open = lock(&OPEN);
        open.retain(|w| w.strong_count() > 0);
        open.push_back(Arc::downgrade(f));
        let mut out = Vec::new();
        while open.len() > MAX_OPEN_SEALED {
            if let Some(old) = open.pop_front().and_then(|w| w.upgrade()) {
                out.push(old);
            }
        }
        out
    };
    // Closed outside the list's lock: each close takes its file's own lock.
    for old in evicted {
        if !Arc::ptr_eq(&old, f) {
            old.close();
        }
    }
}

/// Open sealed files registered now.
#[cfg(test)]
pub fn open_count() -> usize {
    let mut open = lock(&OPEN);
    open.retain(|w| w.upgrade().is_some_and(|f| f.is_open()));
    open.len()
}

/// The wrapper as a segment file: reads reopen on demand; writes are refused, a sealed
/// segment is immutable.
pub struct SealedHandle(pub Arc<SealedFile>);

impl SegmentFile for SealedHandle {
    fn append(&self, _buf: &[u8]) -> io::Result<()> {
        Err(io::Error::other(format!(
            "{} is sealed; appends go to the active segment",
            self.0.path.display()
        )))
    }
    fn sync(&self) -> io::Result<()> {
        // Sealing synced it.
        Ok(())
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.0.handle()?.read_at(offset, buf)
    }
    fn len(&self) -> io::Result<u64> {
        self.0.handle()?.len()
    }
    fn truncate(&self, _len: u64) -> io::Result<()> {
        Err(io::Error::other(format!(
            "{} is sealed and cannot be cut",
            self.0.path.display()
        )))
    }
}
