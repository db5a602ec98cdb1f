//! The durable per-shard log: a directory of append-only segment files.
//!
//! See `FORMAT.md` for the byte layout. The in-memory state is a list of segments with a
//! sparse index (sequence counter, arrival time, byte offset) so reads seek without scanning
//! a whole segment. Writers append whole batches in one call; readers take a snapshot of
//! (file handle, valid length) under the shard lock and read outside it, so a slow reader
//! never blocks a writer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use weir_support::framed::{self, FrameBatch, FrameLimits, FrameSizeError, Visit, WalkEnd};

use super::backend::{SegmentFile, StorageBackend};
use super::error::{Result, StreamsError};

/// Magic at the start of every segment.
pub const SEGMENT_MAGIC: &[u8; 8] = b"WEIRSEG1";
/// Bytes in a segment header.
pub const SEGMENT_HEADER_LEN: u64 = 32;
/// Bytes before a record body: length and checksum (a `weir_support::framed` frame).
pub const FRAME_HEADER_LEN: usize = framed::FRAME_HEADER_LEN;
/// Fixed part of a record body: counter, arrival, key length.
pub const BODY_FIXED_LEN: usize = 18;
/// Anything larger is a corrupt length field (records are at most 10 MiB + key).
pub const MAX_BODY_LEN: usize = 11 * 1024 * 1024;
/// The body lengths a segment can hold.
const LIMITS: FrameLimits = FrameLimits::new(BODY_FIXED_LEN as u32, MAX_BODY_LEN as u32);
const INDEX_MAGIC: &[u8; 8] = b"WEIRIDX1";

/// Tunables of the log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// A segment is sealed and a new one started once it reaches this size.
    pub segment_bytes: u64,
    /// Distance in bytes between sparse index entries.
    pub index_interval_bytes: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 64 * 1024 * 1024,
            index_interval_bytes: 4096,
        }
    }
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub counter: u64,
    pub arrival_ms: i64,
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// One record to append.
#[derive(Debug, Clone, Copy)]
pub struct AppendItem<'a> {
    pub partition_key: &'a str,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
struct IndexEntry {
    counter: u64,
    arrival_ms: i64,
    offset: u64,
}

struct Segment {
    base: u64,
    path: PathBuf,
    file: Arc<dyn SegmentFile>,
    index: Vec<IndexEntry>,
    first: Option<(u64, i64)>,
    last: Option<(u64, i64)>,
    /// Bytes known to hold whole, checked frames.
    end: u64,
    last_indexed_offset: u64,
}

/// A read snapshot of one segment.
#[derive(Clone)]
pub struct ReadSpan {
    file: Arc<dyn SegmentFile>,
    path: PathBuf,
    start: u64,
    end: u64,
}

impl ReadSpan {
    /// The error for a damaged frame at `offset`: reported, never served.
    fn corrupt_at(&self, offset: u64) -> StreamsError {
        StreamsError::Corrupt {
            path: self.path.display().to_string(),
            offset,
        }
    }
}

/// The result of a read.
#[derive(Debug, Default)]
pub struct ReadOut {
    pub records: Vec<StoredRecord>,
    /// True when the read stopped because there was nothing more, not because of a limit.
    pub reached_tip: bool,
}

/// The log of one shard.
pub struct ShardLog {
    dir: PathBuf,
    backend: Arc<dyn StorageBackend>,
    config: LogConfig,
    segments: Vec<Segment>,
    next_counter: u64,
    last_arrival: i64,
    /// Set after a failed append that could not be rolled back, or a failed sync; further
    /// writes fail with this reason.
    broken: Option<String>,
    /// Every record below this counter is known to be on disk (a sync covered it).
    synced: u64,
    /// After a failed sync: records from this counter on may not be on disk, so reads stop
    /// before them. A later sync that reports success proves nothing (the kernel may have
    /// dropped the dirty pages and cleared the error), so this is never lifted while running.
    unsynced_from: Option<u64>,
}

fn seg_name(base: u64) -> String {
    format!("{base:020}.seg")
}

fn idx_name(base: u64) -> String {
    format!("{base:020}.idx")
}

fn segment_header(base: u64, created_ms: i64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..16].copy_from_slice(&base.to_le_bytes());
    h[16..24].copy_from_slice(&created_ms.to_le_bytes());
    let crc = crc32c::crc32c(&h[..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

fn header_valid(h: &[u8], base: u64) -> bool {
    h.len() >= SEGMENT_HEADER_LEN as usize
        && &h[..8] == SEGMENT_MAGIC
        && h[8..16] == base.to_le_bytes()
        && h[28..32] == crc32c::crc32c(&h[..28]).to_le_bytes()
}

/// Appends one framed record to `batch` and returns its offset there.
pub fn encode_frame(
    batch: &mut FrameBatch,
    counter: u64,
    arrival_ms: i64,
    key: &str,
    data: &[u8],
) -> Result<u64, FrameSizeError> {
    batch.push(|out| {
        out.extend_from_slice(&counter.to_le_bytes());
        out.extend_from_slice(&arrival_ms.to_le_bytes());
        out.extend_from_slice(&(key.len() as u16).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(data);
    })
}

/// A record from a frame body whose checksum held; `None` when its structure is wrong. Key
/// and data are copied only `with_payload` (a time seek needs neither).
fn decode_body(body: &[u8], with_payload: bool) -> Option<StoredRecord> {
    let counter = u64::from_le_bytes(body.get(0..8)?.try_into().ok()?);
    let arrival_ms = i64::from_le_bytes(body.get(8..16)?.try_into().ok()?);
    let key_len = u16::from_le_bytes(body.get(16..18)?.try_into().ok()?) as usize;
    let key = std::str::from_utf8(body.get(BODY_FIXED_LEN..BODY_FIXED_LEN + key_len)?).ok()?;
    let (partition_key, data) = if with_payload {
        (key.to_owned(), body[BODY_FIXED_LEN + key_len..].to_vec())
    } else {
        (String::new(), Vec::new())
    };
    Some(StoredRecord {
        counter,
        arrival_ms,
        partition_key,
        data,
    })
}

impl<'a> framed::ReadAt for dyn SegmentFile + 'a {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        SegmentFile::read_at(self, offset, buf)
    }
}

/// Walks the records of `file` in `[start, end)`, calling `f` with each and its frame's
/// offset until it returns false. The end is just past the last record visited; a damaged
/// or torn frame, or a body that is not a record, stops the walk and is reported.
fn walk(
    file: &dyn SegmentFile,
    start: u64,
    end: u64,
    with_payload: bool,
    mut f: impl FnMut(StoredRecord, u64) -> bool,
) -> std::io::Result<WalkEnd> {
    framed::walk(file, start, end, LIMITS, |body, at| {
        match decode_body(body, with_payload).map(|rec| f(rec, at)) {
            None => Visit::Reject,
            Some(true) => Visit::Next,
            Some(false) => Visit::Stop,
        }
    })
}

pub(crate) use weir_support::now_ms;

/// Whether `file` holds only zero bytes in `[from, to)`.
fn zeros_from(file: &dyn SegmentFile, from: u64, to: u64) -> std::io::Result<bool> {
    let mut buf = vec![0u8; 64 << 10];
    let mut at = from;
    while at < to {
        let want = usize::try_from(to - at).map_or(buf.len(), |n| n.min(buf.len()));
        let n = file.read_at(at, &mut buf[..want])?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|b| *b != 0) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}

impl ShardLog {
    /// Opens or creates the log in `dir`, recovering from a crash: a torn or corrupt tail of
    /// the active segment is cut off, and `initial_counter` is used only for a brand new log.
    pub fn open(
        backend: Arc<dyn StorageBackend>,
        dir: &Path,
        config: LogConfig,
        initial_counter: u64,
    ) -> Result<ShardLog> {
        backend.create_dir_all(dir)?;
        let mut bases: Vec<u64> = backend
            .list(dir)?
            .iter()
            .filter_map(|n| n.strip_suffix(".seg").and_then(|b| b.parse().ok()))
            .collect();
        bases.sort_unstable();
        let mut log = ShardLog {
            dir: dir.to_path_buf(),
            backend,
            config,
            segments: Vec::new(),
            next_counter: initial_counter,
            last_arrival: 0,
            broken: None,
            synced: initial_counter,
            unsynced_from: None,
        };
        let count = bases.len();
        for (i, base) in bases.into_iter().enumerate() {
            let active = i + 1 == count;
            let mut seg = log.load_segment(base, active)?;
            if !active {
                seg.file = log.seal(&seg);
            }
            if let Some((c, a)) = seg.last {
                log.next_counter = log.next_counter.max(c + 1);
                log.last_arrival = log.last_arrival.max(a);
            }
            log.next_counter = log.next_counter.max(seg.base);
            log.segments.push(seg);
        }
        if log.segments.is_empty() {
            let base = log.next_counter;
            let seg = log.create_segment(base)?;
            log.segments.push(seg);
        }
        // What an earlier run left is read back from its files: durable as far as it goes.
        log.synced = log.next_counter;
        Ok(log)
    }

    fn create_segment(&self, base: u64) -> Result<Segment> {
        let path = self.dir.join(seg_name(base));
        let file = self.backend.open(&path)?;
        if file.len()? != 0 {
            file.truncate(0)?;
        }
        file.append(&segment_header(base, now_ms()))?;
        Ok(Segment {
            base,
            path,
            file,
            index: Vec::new(),
            first: None,
            last: None,
            end: SEGMENT_HEADER_LEN,
            last_indexed_offset: 0,
        })
    }

    fn load_segment(&self, base: u64, active: bool) -> Result<Segment> {
        let path = self.dir.join(seg_name(base));
        let file = self.backend.open(&path)?;
        let len = file.len()?;
        let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
        let n = file.read_at(0, &mut header)?;
        if n < header.len() || !header_valid(&header, base) {
            // A segment whose header never reached the disk cannot hold acknowledged data
            // (the header is written, and synced, before any record).
            file.truncate(0)?;
            file.append(&segment_header(base, now_ms()))?;
            file.sync()?;
            return Ok(Segment {
                base,
                path,
                file,
                index: Vec::new(),
                first: None,
                last: None,
                end: SEGMENT_HEADER_LEN,
                last_indexed_offset: 0,
            });
        }
        if !active {
            if let Some(seg) = self.load_index(base, &path, &file, len)? {
                return Ok(seg);
            }
        }
        let mut seg = Segment {
            base,
            path,
            file: file.clone(),
            index: Vec::new(),
            first: None,
            last: None,
            end: SEGMENT_HEADER_LEN,
            last_indexed_offset: 0,
        };
        let interval = self.config.index_interval_bytes;
        let valid_end = walk(&*file, SEGMENT_HEADER_LEN, len, false, |rec, at| {
            seg.note_record(rec.counter, rec.arrival_ms, at, interval);
            true
        })?
        .end;
        seg.end = valid_end;
        if active && valid_end < len {
            if zeros_from(&*file, valid_end, len)? {
                // Space written ahead of the appends (`backend/disk_file.rs`), not a torn write.
                tracing::debug!(path = %seg.path.display(), valid_end, len, "trimming the space written ahead");
            } else {
                tracing::warn!(path = %seg.path.display(), valid_end, len, "truncating torn tail");
            }
            file.truncate(valid_end)?;
        }
        Ok(seg)
    }

    fn load_index(
        &self,
        base: u64,
        path: &Path,
        file: &Arc<dyn SegmentFile>,
        len: u64,
    ) -> Result<Option<Segment>> {
        let Some(raw) = self.backend.read_file(&self.dir.join(idx_name(base)))? else {
            return Ok(None);
        };
        // magic(8) end(8) count(4) entries(24*n) crc(4)
        if raw.len() < 24 || &raw[..8] != INDEX_MAGIC {
            return Ok(None);
        }
        let (body, crc) = raw.split_at(raw.len() - 4);
        if crc32c::crc32c(body).to_le_bytes() != crc {
            return Ok(None);
        }
        let rd8 = |o: usize| -> [u8; 8] { body[o..o + 8].try_into().unwrap_or([0; 8]) };
        let end = u64::from_le_bytes(rd8(8));
        let count = u32::from_le_bytes(body[16..20].try_into().unwrap_or([0; 4])) as usize;
        if body.len() != 20 + count * 24 + 32 || end > len {
            return Ok(None);
        }
        let mut index = Vec::with_capacity(count);
        for i in 0..count {
            let o = 20 + i * 24;
            index.push(IndexEntry {
                counter: u64::from_le_bytes(rd8(o)),
                arrival_ms: i64::from_le_bytes(rd8(o + 8)),
                offset: u64::from_le_bytes(rd8(o + 16)),
            });
        }
        let o = 20 + count * 24;
        let first = (u64::from_le_bytes(rd8(o)), i64::from_le_bytes(rd8(o + 8)));
        let last = (
            u64::from_le_bytes(rd8(o + 16)),
            i64::from_le_bytes(rd8(o + 24)),
        );
        let has = !index.is_empty();
        Ok(Some(Segment {
            base,
            path: path.to_path_buf(),
            file: file.clone(),
            last_indexed_offset: index.last().map(|e| e.offset).unwrap_or(0),
            index,
            first: has.then_some(first),
            last: has.then_some(last),
            end,
        }))
    }

    fn write_index(&self, seg: &Segment) -> Result<()> {
        let mut out = Vec::with_capacity(56 + seg.index.len() * 24);
        out.extend_from_slice(INDEX_MAGIC);
        out.extend_from_slice(&seg.end.to_le_bytes());
        out.extend_from_slice(&(seg.index.len() as u32).to_le_bytes());
        for e in &seg.index {
            out.extend_from_slice(&e.counter.to_le_bytes());
            out.extend_from_slice(&e.arrival_ms.to_le_bytes());
            out.extend_from_slice(&e.offset.to_le_bytes());
        }
        let (fc, fa) = seg.first.unwrap_or((0, 0));
        let (lc, la) = seg.last.unwrap_or((0, 0));
        for v in [
            fc.to_le_bytes(),
            fa.to_le_bytes(),
            lc.to_le_bytes(),
            la.to_le_bytes(),
        ] {
            out.extend_from_slice(&v);
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        self.backend
            .write_atomic(&self.dir.join(idx_name(seg.base)), &out)?;
        Ok(())
    }

    /// The counter the next appended record will get.
    pub fn next_counter(&self) -> u64 {
        self.next_counter
    }

    /// Counter and arrival time of the newest record.
    pub fn last_record(&self) -> Option<(u64, i64)> {
        self.segments.iter().rev().find_map(|s| s.last)
    }

    /// Counter of the oldest record still kept, or `next_counter` when the log is empty.
    pub fn first_counter(&self) -> u64 {
        self.segments
            .iter()
            .find_map(|s| s.first.map(|f| f.0))
            .unwrap_or(self.next_counter)
    }

    /// Appends `items` in order, as one write. `min_counter` raises the counter first (for
    /// `SequenceNumberForOrdering`). Returns (counter, arrival ms) per item. On error nothing
    /// of the batch becomes readable.
    pub fn append(
        &mut self,
        items: &[AppendItem<'_>],
        min_counter: Option<u64>,
    ) -> Result<Vec<(u64, i64)>> {
        if let Some(why) = &self.broken {
            return Err(StreamsError::Io(std::io::Error::other(format!(
                "shard log {} refuses writes: {why}; restart to recover what is on disk",
                self.dir.display()
            ))));
        }
        if items.is_empty() {
            return Ok(Vec::new());
        }
        if self.active().end >= self.config.segment_bytes {
            if let Err(e) = self.roll() {
                self.sync_failed(&e.to_string());
                return Err(e);
            }
        }
        if let Some(m) = min_counter {
            self.next_counter = self.next_counter.max(m);
        }
        let arrival = now_ms().max(self.last_arrival);
        let mut buf = FrameBatch::with_capacity(
            LIMITS,
            items
                .iter()
                .map(|i| FRAME_HEADER_LEN + BODY_FIXED_LEN + i.partition_key.len() + i.data.len())
                .sum(),
        );
        let mut out = Vec::with_capacity(items.len());
        let mut offsets = Vec::with_capacity(items.len());
        for (k, item) in items.iter().enumerate() {
            let counter = self.next_counter + k as u64;
            let at = encode_frame(&mut buf, counter, arrival, item.partition_key, item.data)
                .map_err(|e| StreamsError::InvalidArgument(e.to_string()))?;
            offsets.push(at);
            out.push((counter, arrival));
        }
        let seg_end = self.active().end;
        let file = &self.active().file;
        if let Err(e) =
            framed::append_or_cut(seg_end, || file.append(buf.bytes()), |at| file.truncate(at))
        {
            if e.cut_error.is_some() {
                let why = format!("a failed append could not be rolled back ({})", e.error);
                self.broken = Some(why);
            }
            return Err(e.error.into());
        }
        let interval = self.config.index_interval_bytes;
        let seg = self.active_mut();
        for (k, (counter, arrival)) in out.iter().enumerate() {
            seg.note_record(*counter, *arrival, seg_end + offsets[k], interval);
        }
        seg.end = seg_end + buf.len() as u64;
        self.next_counter += items.len() as u64;
        self.last_arrival = arrival;
        Ok(out)
    }

    fn active(&self) -> &Segment {
        // `open` guarantees at least one segment and nothing removes the last one.
        &self.segments[self.segments.len() - 1]
    }

    fn active_mut(&mut self) -> &mut Segment {
        let i = self.segments.len() - 1;
        &mut self.segments[i]
    }

    /// Seals the active segment (sync + index file) and starts a new one.
    fn roll(&mut self) -> Result<()> {
        self.active().file.sync()?;
        self.write_index(self.active())?;
        // The zeros written ahead of the sealed segment's end are not needed any more. Only
        // disk space rides on it (the index bounds the segment), so a failure is logged.
        if let Err(e) = self.active().file.release_spare() {
            tracing::warn!(path = %self.active().path.display(), error = %e, "cannot trim a sealed segment's space written ahead");
        }
        let seg = self.create_segment(self.next_counter)?;
        seg.file.sync()?;
        let sealed = self.seal(self.active());
        self.active_mut().file = sealed;
        self.segments.push(seg);
        Ok(())
    }

    /// A sealed segment's file: it holds a descriptor only while read, within the
    /// process-wide bound of `sealed.rs`.
    fn seal(&self, seg: &Segment) -> Arc<dyn SegmentFile> {
        Arc::new(sealed::SealedHandle(sealed::SealedFile::wrap(
            self.backend.clone(),
            &seg.path,
            Some(seg.file.clone()),
        )))
    }

    /// The handle to sync for durability of everything appended so far.
    pub fn sync_handle(&self) -> Arc<dyn SegmentFile> {
        self.active().file.clone()
    }

    /// What to sync and how far it reaches: the active segment's handle and the counter
    /// below which a successful sync of it makes every record durable. `Err` once the log
    /// is broken: there is nothing a sync could make true any more.
    pub fn sync_point(&self) -> Result<(Arc<dyn SegmentFile>, u64)> {
        if let Some(why) = &self.broken {
            return Err(StreamsError::Io(std::io::Error::other(format!(
                "shard log {}: {why}",
                self.dir.display()
            ))));
        }
        Ok((self.active().file.clone(), self.next_counter))
    }

    /// Records that a sync taken at [`ShardLog::sync_point`] succeeded. `Err` when an earlier
    /// sync failed meanwhile: a later success proves nothing (see `unsynced_from`), and reads
    /// stop before these records, so they must not be acknowledged.
    pub fn synced_to(&mut self, counter: u64) -> Result<()> {
        if let Some(why) = &self.broken {
            return Err(StreamsError::Io(std::io::Error::other(format!(
                "shard log {}: {why}",
                self.dir.display()
            ))));
        }
        self.synced = self.synced.max(counter);
        Ok(())
    }

    /// Records that a sync failed: the log refuses writes from now on, and reads stop at the
    /// last counter a successful sync covered.
    pub fn sync_failed(&mut self, error: &str) {
        if self.broken.is_none() {
            tracing::error!(log = %self.dir.display(), error, durable_below = self.synced, "fsync failed: the shard refuses writes until restarted");
            self.broken = Some(format!("an fsync failed ({error})"));
            self.unsynced_from = Some(self.synced);
        }
    }

    /// Every record below this counter is on disk (a sync taken at [`ShardLog::sync_point`]
    /// covered it, or an earlier run left it): with `fsync = "always"`, reads stop here.
    pub fn synced_below(&self) -> u64 {
        self.synced
    }

    /// Reads must stop before this counter (after a failed sync).
    pub fn readable_below(&self) -> Option<u64> {
        self.unsynced_from
    }

    /// Why the log refuses writes, if it does.
    pub fn failure(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// Snapshot of the spans that hold records with counter >= `from`.
    pub fn read_plan(&self, from: u64) -> Vec<ReadSpan> {
        let mut spans = Vec::new();
        for seg in &self.segments {
            let Some((last, _)) = seg.last else { continue };
            if last < from {
                continue;
            }
            let start = if spans.is_empty() {
                let i = seg.index.partition_point(|e| e.counter <= from);
                if i == 0 {
                    SEGMENT_HEADER_LEN
                } else {
                    seg.index[i - 1].offset
                }
            } else {
                SEGMENT_HEADER_LEN
            };
            spans.push(ReadSpan {
                file: seg.file.clone(),
                path: seg.path.clone(),
                start,
                end: seg.end,
            });
        }
        spans
    }

    /// Snapshot of the spans from the first record with arrival >= `ts_ms`.
    pub fn time_plan(&self, ts_ms: i64) -> Vec<ReadSpan> {
        let mut spans = Vec::new();
        for seg in &self.segments {
            let Some((_, last_arrival)) = seg.last else {
                continue;
            };
            if last_arrival < ts_ms {
                continue;
            }
            let start = if spans.is_empty() {
                let i = seg.index.partition_point(|e| e.arrival_ms < ts_ms);
                if i == 0 {
                    SEGMENT_HEADER_LEN
                } else {
                    seg.index[i - 1].offset
                }
            } else {
                SEGMENT_HEADER_LEN
            };
            spans.push(ReadSpan {
                file: seg.file.clone(),
                path: seg.path.clone(),
                start,
                end: seg.end,
            });
        }
        spans
    }

    /// Removes sealed segments whose newest record arrived before `cutoff_ms`. The active
    /// segment is never removed, so the counter survives an empty log.
    pub fn drop_before(&mut self, cutoff_ms: i64) -> Result<usize> {
        let mut dropped = 0;
        while self.segments.len() > 1 {
            let seg = &self.segments[0];
            let expired = seg.last.is_none_or(|(_, a)| a < cutoff_ms);
            if !expired {
                break;
            }
            let base = seg.base;
            let path = seg.path.clone();
            self.segments.remove(0);
            self.backend.remove_file(&self.dir.join(idx_name(base)))?;
            self.backend.remove_file(&path)?;
            dropped += 1;
        }
        // An active segment whose records all expired stays (it holds the counter), but its
        // records must no longer be served: roll so it becomes sealed, then drop it.
        if self.segments.len() == 1 && self.active().last.is_some_and(|(_, a)| a < cutoff_ms) {
            self.roll()?;
            dropped += self.drop_before(cutoff_ms)?;
        }
        Ok(dropped)
    }

    /// Number of segment files.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

impl Segment {
    fn note_record(&mut self, counter: u64, arrival_ms: i64, offset: u64, interval: u64) {
        if self.first.is_none() {
            self.first = Some((counter, arrival_ms));
        }
        self.last = Some((counter, arrival_ms));
        if self.index.is_empty() || offset >= self.last_indexed_offset + interval {
            self.index.push(IndexEntry {
                counter,
                arrival_ms,
                offset,
            });
            self.last_indexed_offset = offset;
        }
    }
}

/// Reads records with counter >= `from` from a plan, up to `max_records` records and
/// `max_bytes` of key + data (at least one record is returned if any exists).
pub fn read_spans(
    spans: &[ReadSpan],
    from: u64,
    max_records: usize,
    max_bytes: usize,
) -> Result<ReadOut> {
    let mut out = ReadOut {
        records: Vec::new(),
        reached_tip: true,
    };
    let mut bytes = 0usize;
    for span in spans {
        let mut stop = false;
        let walked = walk(&*span.file, span.start, span.end, true, |rec, _| {
            if rec.counter < from {
                return true;
            }
            let size = rec.partition_key.len() + rec.data.len();
            if out.records.len() >= max_records
                || (!out.records.is_empty() && bytes + size > max_bytes)
            {
                stop = true;
                return false;
            }
            bytes += size;
            out.records.push(rec);
            true
        })?;
        if stop {
            out.reached_tip = false;
            return Ok(out);
        }
        if walked.damage.is_some() {
            return Err(span.corrupt_at(walked.end));
        }
    }
    Ok(out)
}

/// The counter of the first record with arrival >= `ts_ms` in a time plan.
pub fn first_at_time(spans: &[ReadSpan], ts_ms: i64) -> Result<Option<u64>> {
    for span in spans {
        let mut found = None;
        let walked = walk(&*span.file, span.start, span.end, false, |rec, _| {
            if rec.arrival_ms >= ts_ms {
                found = Some(rec.counter);
                return false;
            }
            true
        })?;
        if found.is_some() {
            return Ok(found);
        }
        if walked.damage.is_some() {
            return Err(span.corrupt_at(walked.end));
        }
    }
    Ok(None)
}

mod sealed;
pub use sealed::MAX_OPEN_SEALED;

#[cfg(test)]
mod tests;
