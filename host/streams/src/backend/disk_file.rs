//! A shard log's segment file on disk, with its space written ahead.
//!
//! With `fsync = "always"` every acknowledgement waits for an fdatasync of the segment. An
//! fdatasync after an append that grew the file must also commit the new size through the
//! filesystem's journal, and journal commits are shared by the whole filesystem: they queue
//! behind each other and behind whatever else writes metadata. Measured on this project's
//! ext4 volume with two files synced in turn, appending: 5.1-5.4k syncs/s, 4-12 of 6,000 over
//! 5 ms (the slowest 58 ms); overwriting space already written and synced: 8.7-9.5k syncs/s,
//! 0-1 over 5 ms. A publish-to-append p99 under 5 ms cannot survive the first kind.
//!
//! So once a file has taken a sustained stream of appends, each synced soon after it was
//! written, a background thread ([`super::prealloc`]) writes zeros ahead of its end and syncs
//! them, and appends land in that space: their fdatasync then flushes data only. Writing ahead
//! is an optimisation and never a condition: an append past the zeroed space is an ordinary
//! growing write, and a failure to write ahead (a full disk) only stops it for that file.
//!
//! It pays only while syncs are small. Each zero is a second write of the same byte, and the
//! zeros' own syncs compete with the appends'. Where a sync carries much data (a fast writer,
//! `fsync = "interval"`) the journal commit is a small share of it, and writing ahead cost
//! throughput and latency: measured with `streams_log_bench` (one writer, `always`, puts of
//! 55 KB: p99 0.66-0.87 ms without, 3.0 ms with; `interval` p99 0.3 ms without, 1.4 ms with).
//! So a file is written ahead only while its recent syncs average under [`SMALL_SYNC`]
//! (`never` syncs nothing, so it is never written ahead).
//!
//! What this changes for readers of the file: its length on disk can exceed what was appended
//! by up to [`MAX_AHEAD`] of zeros. A zero frame length is invalid in the log's framing, so
//! recovery ends the log there and trims the rest, and a sealed segment is trimmed to its
//! records ([`SegmentFile::release_spare`]). The logical length ([`SegmentFile::len`]) is what
//! was appended.
//!
//! The zeros are written, and synced, through a second descriptor of the same file: an
//! fdatasync reports a writeback error once per open file description, so a sync of the zeros
//! must never be the one to receive, and swallow, an error of the appended records.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use weir_support::lock;

use super::SegmentFile;

/// At most this much is zeroed ahead of a file's end.
pub(crate) const MAX_AHEAD: u64 = 4 << 20;
/// A file starts to be written ahead once this much was appended through its handle: an idle
/// shard never holds zeros.
pub(crate) const MIN_APPENDED: u64 = 64 << 10;
/// A file is written ahead only while the bytes appended between its syncs average under
/// this (a moving average over about the last eight syncs that carried data)...
pub(crate) const SMALL_SYNC: u64 = 32 << 10;
/// ...and after this many such syncs, so a file's first moments decide nothing.
const MIN_SYNCS: u32 = 8;
/// Zeros are written this much at a time, each piece with the append lock held (a piece is a
/// copy into the page cache, tens of microseconds).
const PIECE: usize = 64 << 10;

static ZEROS: [u8; PIECE] = [0; PIECE];

pub(crate) struct DiskFile {
    file: File,
    path: PathBuf,
    /// Bytes appended: the end of the log's data, where the next append goes.
    len: AtomicU64,
    space: Mutex<Space>,
    /// This file, for the write-ahead thread's queue.
    me: Weak<DiskFile>,
    /// Whether this file is written ahead at all.
    ahead: bool,
}

/// The file's space, guarded by the lock that serialises appends.
#[derive(Default)]
struct Space {
    /// `[0, written)` holds appended data or zeros this handle wrote: the next zeros go at
    /// `max(written, len)`.
    written: u64,
    /// Appended through this handle, for how far ahead to write.
    appended: u64,
    /// A write-ahead is queued or running.
    requested: bool,
    /// No more writing ahead: sealed, or a write-ahead failed.
    stopped: bool,
    /// Appended since the last sync began.
    since_sync: u64,
    /// Moving average of the bytes a sync carried, over the syncs that carried any.
    per_sync: u64,
    /// Syncs that carried data, up to [`MIN_SYNCS`].
    syncs: u32,
    /// The second descriptor, opened on the first write-ahead.
    zeroing: Option<File>,
}

impl Space {
    /// Whether this file's syncs are small and frequent: the case writing ahead is for.
    fn small_syncs(&self) -> bool {
        self.syncs >= MIN_SYNCS && self.per_sync < SMALL_SYNC
    }

    /// A sync begins: what was appended since the last one is what it carries.
    fn sync_began(&mut self) {
        let carried = std::mem::take(&mut self.since_sync);
        if carried == 0 {
            // An idle sync (an interval tick) says nothing about the writer.
            return;
        }
        self.per_sync = if self.syncs == 0 {
            carried
        } else {
            self.per_sync - self.per_sync / 8 + carried / 8
        };
        self.syncs = self.syncs.saturating_add(1).min(MIN_SYNCS);
    }
}

impl DiskFile {
    pub(crate) fn open(path: &Path, file: File, ahead: bool) -> io::Result<Arc<DiskFile>> {
        let len = file.metadata()?.len();
        Ok(Arc::new_cyclic(|me| DiskFile {
            file,
            path: path.to_path_buf(),
            len: AtomicU64::new(len),
            space: Mutex::new(Space {
                written: len,
                zeroing: None,
                ..Space::default()
            }),
            me: me.clone(),
            ahead,
        }))
    }

    /// How far past the end zeros should reach, for a file that has taken `appended` bytes.
    fn wanted_ahead(appended: u64) -> u64 {
        if appended < MIN_APPENDED {
            0
        } else {
            appended.min(MAX_AHEAD)
        }
    }

    /// Writes zeros from the end of what is written up to the wanted distance ahead of the
    /// data's end, then syncs them. Runs on the write-ahead thread. If the appends overtook
    /// the zeros meanwhile, the file queues itself again (behind other files), so a busy file
    /// catches up without waiting for its next append to ask.
    pub(crate) fn write_ahead(&self) {
        let result = self.zero_ahead();
        let mut space = lock(&self.space);
        if let Err(e) = result {
            tracing::debug!(path = %self.path.display(), error = %e, "writing a shard segment's space ahead failed; appends grow the file instead");
            space.stopped = true;
            space.zeroing = None;
            space.requested = false;
            return;
        }
        let end = self.len.load(Ordering::Acquire);
        let ahead = Self::wanted_ahead(space.appended);
        if space.stopped || !space.small_syncs() || space.written >= end + ahead / 2 {
            space.requested = false;
            return;
        }
        drop(space);
        if !super::prealloc::request(self.me.clone()) {
            lock(&self.space).requested = false;
        }
    }

    fn zero_ahead(&self) -> io::Result<()> {
        let zeroing = {
            let mut space = lock(&self.space);
            if space.zeroing.is_none() {
                space.zeroing = Some(OpenOptions::new().write(true).open(&self.path)?);
            }
            match &space.zeroing {
                Some(f) => f.try_clone()?,
                None => return Ok(()),
            }
        };
        let mut wrote = false;
        loop {
            let mut guard = lock(&self.space);
            let space = &mut *guard;
            if space.stopped || !space.small_syncs() {
                break;
            }
            let end = self.len.load(Ordering::Acquire);
            let target = end + Self::wanted_ahead(space.appended);
            let start = space.written.max(end);
            if start >= target {
                break;
            }
            let n = usize::try_from(target - start).map_or(PIECE, |n| n.min(PIECE));
            // With the append lock held: an append cannot land in this piece meanwhile.
            zeroing.write_all_at(&ZEROS[..n], start)?;
            space.written = start + n as u64;
            wrote = true;
        }
        if wrote {
            // The new size and blocks, committed once here rather than by the next append's
            // fdatasync.
            zeroing.sync_data()?;
        }
        Ok(())
    }
}

impl SegmentFile for DiskFile {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        let mut space = lock(&self.space);
        let at = self.len.load(Ordering::Acquire);
        self.file.write_all_at(buf, at)?;
        let end = at + buf.len() as u64;
        self.len.store(end, Ordering::Release);
        space.written = space.written.max(end);
        space.appended += buf.len() as u64;
        space.since_sync += buf.len() as u64;
        let ahead = Self::wanted_ahead(space.appended);
        if self.ahead
            && ahead > 0
            && !space.stopped
            && space.small_syncs()
            && !space.requested
            && space.written < end + ahead / 2
        {
            space.requested = true;
            drop(space);
            if !super::prealloc::request(self.me.clone()) {
                lock(&self.space).requested = false;
            }
        }
        Ok(())
    }
    fn sync(&self) -> io::Result<()> {
        lock(&self.space).sync_began();
        self.file.sync_data()
    }
    fn start_writeback(&self) {
        use std::os::fd::AsRawFd as _;
        // SAFETY: a plain syscall on a descriptor `self.file` owns for the whole call; range
        // 0..0 is the whole file, and WRITE alone only queues writeback (no durability claim,
        // so an error is of no consequence: the sync that follows reports its own).
        unsafe {
            libc::sync_file_range(self.file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.file.read_at(&mut buf[done..], offset + done as u64)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.len.load(Ordering::Acquire))
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        let mut space = lock(&self.space);
        self.file.set_len(len)?;
        self.file.sync_all()?;
        self.len.store(len, Ordering::Release);
        space.written = len;
        Ok(())
    }
    fn release_spare(&self) -> io::Result<()> {
        let mut space = lock(&self.space);
        space.stopped = true;
        let len = self.len.load(Ordering::Acquire);
        if self.file.metadata()?.len() > len {
            // Not synced: a crash may leave the zeros, which the index's length excludes.
            self.file.set_len(len)?;
        }
        space.written = len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn on_disk(path: &Path) -> u64 {
        std::fs::metadata(path).expect("metadata").len()
    }

    fn open(path: &Path) -> Arc<DiskFile> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)
            .expect("open");
        DiskFile::open(path, file, true).expect("disk file")
    }

    /// Waits until the write-ahead thread has nothing queued for `f`.
    fn settled(f: &DiskFile) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while lock(&f.space).requested {
            assert!(Instant::now() < deadline, "the write-ahead did not finish");
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_busy_file_is_written_ahead_and_reads_back_what_was_appended() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("0.seg");
        let f = open(&path);
        let mut expected = Vec::new();
        // Below MIN_APPENDED nothing is written ahead.
        let small = vec![7u8; 1000];
        f.append(&small).expect("append");
        expected.extend_from_slice(&small);
        settled(&f);
        assert_eq!(on_disk(&path), 1000);
        // Past it, with small syncs, the file runs ahead of its data by zeros, never by more
        // than MAX_AHEAD.
        for i in 0..300u32 {
            let chunk: Vec<u8> = (0..997).map(|j| (i as u8) ^ (j as u8) | 1).collect();
            f.append(&chunk).expect("append");
            f.sync().expect("sync");
            expected.extend_from_slice(&chunk);
        }
        settled(&f);
        let len = f.len().expect("len");
        assert_eq!(len, expected.len() as u64);
        assert!(
            on_disk(&path) > len,
            "written ahead: {} on disk",
            on_disk(&path)
        );
        assert!(on_disk(&path) <= len + MAX_AHEAD + PIECE as u64);
        let mut back = vec![0u8; expected.len()];
        assert_eq!(f.read_at(0, &mut back).expect("read"), expected.len());
        assert_eq!(back, expected);
        let mut tail = vec![1u8; 4096];
        let n = f.read_at(len, &mut tail).expect("read the space ahead");
        assert!(n > 0 && tail[..n].iter().all(|b| *b == 0));
        // A sealed file gives its space back and takes no more.
        f.release_spare().expect("release");
        assert_eq!(on_disk(&path), len);
        f.append(&vec![9u8; 100_000]).expect("append after sealing");
        settled(&f);
        assert_eq!(on_disk(&path), len + 100_000);
    }

    #[test]
    fn appends_racing_the_write_ahead_are_never_overwritten_by_zeros() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("0.seg");
        let f = open(&path);
        let mut expected = Vec::new();
        for i in 0..3000u32 {
            // Sizes that do not line up with the pieces of zeros.
            let n = 100 + (i as usize * 7919) % 3000;
            let chunk = vec![(i % 251) as u8 | 1; n];
            f.append(&chunk).expect("append");
            expected.extend_from_slice(&chunk);
            if i % 4 == 0 {
                f.sync().expect("sync");
            }
        }
        settled(&f);
        let mut back = vec![0u8; expected.len()];
        assert_eq!(f.read_at(0, &mut back).expect("read"), expected.len());
        assert!(back == expected, "an appended byte was lost");
    }

    #[test]
    fn truncating_drops_the_space_ahead_and_the_next_append_follows_the_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("0.seg");
        let f = open(&path);
        for _ in 0..100 {
            f.append(&[5u8; 2000]).expect("append");
            f.sync().expect("sync");
        }
        settled(&f);
        assert!(on_disk(&path) > 200_000, "written ahead");
        f.truncate(150_000).expect("truncate");
        assert_eq!(on_disk(&path), 150_000);
        f.append(b"after").expect("append");
        let mut back = [0u8; 5];
        f.read_at(150_000, &mut back).expect("read");
        assert_eq!(&back, b"after");
        assert_eq!(f.len().expect("len"), 150_005);
    }

    #[test]
    fn a_file_synced_in_large_pieces_is_not_written_ahead() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("0.seg");
        let f = open(&path);
        // Never synced (`fsync = "never"`): nothing ahead, however much is appended.
        for _ in 0..100 {
            f.append(&[3u8; 2000]).expect("append");
        }
        settled(&f);
        assert_eq!(on_disk(&path), 200_000);
        // Syncs carrying 64 KB each: the journal commit is a small share, no zeros.
        for _ in 0..20 {
            f.append(&[4u8; 64_000]).expect("append");
            f.sync().expect("sync");
        }
        settled(&f);
        assert_eq!(on_disk(&path), 200_000 + 20 * 64_000);
        // Small syncs from then on: the average falls under SMALL_SYNC and it starts.
        for _ in 0..200 {
            f.append(&[6u8; 500]).expect("append");
            f.sync().expect("sync");
        }
        settled(&f);
        let len = f.len().expect("len");
        assert_eq!(len, 200_000 + 20 * 64_000 + 200 * 500);
        assert!(on_disk(&path) > len, "small syncs are written ahead");
        // Idle syncs change nothing.
        for _ in 0..20 {
            f.sync().expect("sync");
        }
        assert!(lock(&f.space).small_syncs());
    }
}
