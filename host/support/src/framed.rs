//! The one framed-log format every append-only file of Weir uses: the streams segments, the
//! action spool and the key-value table.
//!
//! A frame is `u32 LE body length | u32 LE CRC-32C(body) | body`. The three logs already wrote
//! exactly this before they shared it (their data directories open unchanged); what they keep
//! to themselves is the file header before the first frame (a segment's 32 bytes, the table's
//! magic, none for a spool), what a body holds, and what to do about damage:
//!
//! - [`FrameLimits`]: which body lengths are plausible. A length outside them is damage, found
//!   before anything is read, so a flipped length bit cannot make a reader allocate gigabytes.
//! - [`walk`]: visits the intact frames of a range in order and stops at the first damage,
//!   saying what it was ([`Damage`]) and where. The streams log cuts its active segment there
//!   on start and reports `Corrupt` on a read; the spool keeps what came before.
//! - [`recover`]: the tolerant policy of the key-value table: a damaged frame whose successor
//!   is intact is skipped and counted, a damaged last frame or a zero-filled tail is a torn
//!   write to cut, anything else is refused ([`RecoverError::Corrupt`]) rather than guessed at.
//! - [`FrameBatch`] and [`append_or_cut`]: frames are built in memory and written with one
//!   call; a write that fails is cut back, so the next append starts on a frame boundary (a
//!   reader stops at a partial frame and would never see what followed it).
//!
//! Fsync is not here: when a write becomes durable is each log's decision (the streams group
//! commit, the spool's sync before acknowledging, the table's explicit `sync`).

use std::fmt;
use std::io;

/// Bytes before a frame's body: its length and its checksum.
pub const FRAME_HEADER_LEN: usize = 8;

/// Reads at most this much at once while walking: large enough that a walk over a segment of
/// small records is a few reads, small enough not to matter per open reader.
const CHUNK: usize = 256 * 1024;

/// The body lengths a log can have written; anything else is a damaged length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    pub min_body: u32,
    pub max_body: u32,
}

impl FrameLimits {
    /// Bodies of `min_body..=max_body` bytes.
    pub const fn new(min_body: u32, max_body: u32) -> FrameLimits {
        FrameLimits { min_body, max_body }
    }

    fn allows(&self, len: u64) -> bool {
        (u64::from(self.min_body)..=u64::from(self.max_body)).contains(&len)
    }
}

/// A body that [`FrameBatch::push`] refused: its reader would have taken it for damage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSizeError {
    pub body_len: usize,
    pub limits: FrameLimits,
}

impl fmt::Display for FrameSizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a frame body of {} bytes is outside this log's {}..={} bytes",
            self.body_len, self.limits.min_body, self.limits.max_body
        )
    }
}

impl std::error::Error for FrameSizeError {}

impl From<FrameSizeError> for io::Error {
    fn from(e: FrameSizeError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// Frames encoded back to back in memory, to be written with one append.
#[derive(Debug, Clone)]
pub struct FrameBatch {
    buf: Vec<u8>,
    limits: FrameLimits,
}

impl FrameBatch {
    /// An empty batch for a log with `limits`, with room for `bytes` of frames.
    pub fn with_capacity(limits: FrameLimits, bytes: usize) -> FrameBatch {
        FrameBatch {
            buf: Vec::with_capacity(bytes),
            limits,
        }
    }

    /// A batch that begins with a file's `header` (a rewritten log, header and frames in one
    /// write): the offsets [`FrameBatch::push`] returns are then offsets in the file.
    pub fn with_header(limits: FrameLimits, header: &[u8], bytes: usize) -> FrameBatch {
        let mut buf = Vec::with_capacity(header.len() + bytes);
        buf.extend_from_slice(header);
        FrameBatch { buf, limits }
    }

    /// Adds one frame whose body `fill` writes (appending to the vector it is given) and
    /// returns the frame's offset within the batch. A body outside the limits is taken back
    /// out and refused: writing it would hide every later frame from the reader.
    pub fn push(&mut self, fill: impl FnOnce(&mut Vec<u8>)) -> Result<u64, FrameSizeError> {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; FRAME_HEADER_LEN]);
        fill(&mut self.buf);
        let body_len = self.buf.len() - start - FRAME_HEADER_LEN;
        let len = match u32::try_from(body_len) {
            Ok(len) if self.limits.allows(u64::from(len)) => len,
            _ => {
                self.buf.truncate(start);
                return Err(FrameSizeError {
                    body_len,
                    limits: self.limits,
                });
            }
        };
        let crc = crc32c::crc32c(&self.buf[start + FRAME_HEADER_LEN..]);
        self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.buf[start + 4..start + FRAME_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
        Ok(start as u64)
    }

    /// [`FrameBatch::push`] of a body already at hand.
    pub fn push_body(&mut self, body: &[u8]) -> Result<u64, FrameSizeError> {
        self.push(|out| out.extend_from_slice(body))
    }

    /// The encoded frames.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes in the batch.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// A failed [`append_or_cut`].
#[derive(Debug)]
pub struct AppendError {
    /// Why the write failed.
    pub error: io::Error,
    /// Set when cutting the log back failed too: it may now end in a partial frame, so the
    /// log must take no more appends until it is recovered (reopened).
    pub cut_error: Option<io::Error>,
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cut_error {
            None => write!(f, "{}", self.error),
            Some(c) => write!(
                f,
                "{} (and cutting back the partial write failed: {c})",
                self.error
            ),
        }
    }
}

impl std::error::Error for AppendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Runs `write`, which appends a batch to a log whose intact frames end at `end`; if it fails,
/// runs `cut(end)` so that no partial frame stays behind for a later append to follow.
pub fn append_or_cut(
    end: u64,
    write: impl FnOnce() -> io::Result<()>,
    cut: impl FnOnce(u64) -> io::Result<()>,
) -> Result<(), AppendError> {
    write().map_err(|error| AppendError {
        error,
        cut_error: cut(end).err(),
    })
}

/// A file, or anything else, that frames are read from by offset.
pub trait ReadAt {
    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of the data.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

impl ReadAt for [u8] {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let from = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - from);
        buf[..n].copy_from_slice(&self[from..from + n]);
        Ok(n)
    }
}

#[cfg(unix)]
impl ReadAt for std::fs::File {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            match FileExt::read_at(self, &mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

/// What is wrong with the frame where a walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The data ends inside the frame: a write cut short.
    Torn,
    /// The length field is outside the log's [`FrameLimits`]: where the next frame starts is unknown.
    BadLength(u32),
    /// The body fails its checksum; `frame_len` (header and body) is what its length claims.
    BadChecksum { frame_len: u64 },
    /// The checksum holds but the log's own decoder refused the body.
    BadBody { frame_len: u64 },
}

impl Damage {
    /// The damaged frame's length, when its length field is plausible.
    pub fn frame_len(&self) -> Option<u64> {
        match *self {
            Damage::BadChecksum { frame_len } | Damage::BadBody { frame_len } => Some(frame_len),
            Damage::Torn | Damage::BadLength(_) => None,
        }
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Torn => f.write_str("incomplete frame"),
            Damage::BadLength(n) => write!(f, "implausible length {n}"),
            Damage::BadChecksum { .. } => f.write_str("checksum mismatch"),
            Damage::BadBody { .. } => f.write_str("malformed body"),
        }
    }
}

/// What a [`walk`]'s visitor says after seeing a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Go on to the next frame.
    Next,
    /// Stop here (the visitor has what it wanted).
    Stop,
    /// The body is not one this log writes: stop, reporting [`Damage::BadBody`].
    Reject,
}

/// Where a [`walk`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkEnd {
    /// Just past the last frame visited: where damage starts, if any.
    pub end: u64,
    /// What stopped the walk before the end of its range; `None` when it reached the end or
    /// the visitor stopped it.
    pub damage: Option<Damage>,
}

/// Reads until `buf` holds `want` bytes from `pos` or the data ends; returns how many.
fn fill<S: ReadAt + ?Sized>(
    src: &S,
    pos: u64,
    want: usize,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    buf.resize(want, 0);
    let n = src.read_at(pos, buf)?;
    buf.truncate(n);
    Ok(n)
}

/// Checks a frame header against `limits`: the body length, or the damage.
fn body_len(head: &[u8], limits: FrameLimits) -> Result<usize, Damage> {
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    if !limits.allows(u64::from(len)) {
        return Err(Damage::BadLength(len));
    }
    usize::try_from(len).map_err(|_| Damage::BadLength(len))
}

fn checksum_holds(frame: &[u8]) -> bool {
    let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    crc32c::crc32c(&frame[FRAME_HEADER_LEN..]) == crc
}

/// Visits the intact frames in `start..end` of `src`, in order, with each body and the offset
/// of its frame, until the visitor stops, the range ends, or a frame is damaged. Reads a chunk
/// at a time, so a walk over many small frames is a few reads.
pub fn walk<S: ReadAt + ?Sized>(
    src: &S,
    start: u64,
    end: u64,
    limits: FrameLimits,
    visit: impl FnMut(&[u8], u64) -> Visit,
) -> io::Result<WalkEnd> {
    walk_chunked(src, start, end, limits, CHUNK, visit)
}

/// [`walk`] reading `chunk` bytes at a time (tests use tiny chunks to cross every boundary).
fn walk_chunked<S: ReadAt + ?Sized>(
    src: &S,
    start: u64,
    end: u64,
    limits: FrameLimits,
    chunk: usize,
    mut visit: impl FnMut(&[u8], u64) -> Visit,
) -> io::Result<WalkEnd> {
    let mut pos = start;
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_start = start;
    let stop = |end, damage| Ok(WalkEnd { end, damage });
    loop {
        if pos >= end {
            return stop(pos, None);
        }
        let remaining = usize::try_from(end - pos).unwrap_or(usize::MAX);
        let mut rel = (pos - buf_start) as usize;
        if buf.len() - rel < FRAME_HEADER_LEN {
            (buf_start, rel) = (pos, 0);
            if fill(
                src,
                pos,
                chunk.max(FRAME_HEADER_LEN).min(remaining),
                &mut buf,
            )? < FRAME_HEADER_LEN
            {
                return stop(pos, Some(Damage::Torn));
            }
        }
        let total = match body_len(&buf[rel..], limits) {
            Ok(n) => FRAME_HEADER_LEN + n,
            Err(d) => return stop(pos, Some(d)),
        };
        if total > remaining {
            return stop(pos, Some(Damage::Torn));
        }
        if buf.len() - rel < total {
            (buf_start, rel) = (pos, 0);
            if fill(src, pos, total.max(chunk).min(remaining), &mut buf)? < total {
                return stop(pos, Some(Damage::Torn));
            }
        }
        let frame = &buf[rel..rel + total];
        if !checksum_holds(frame) {
            let frame_len = total as u64;
            return stop(pos, Some(Damage::BadChecksum { frame_len }));
        }
        match visit(&frame[FRAME_HEADER_LEN..], pos) {
            Visit::Next => pos += total as u64,
            Visit::Stop => return stop(pos + total as u64, None),
            Visit::Reject => {
                let frame_len = total as u64;
                return stop(pos, Some(Damage::BadBody { frame_len }));
            }
        }
    }
}

/// The body of the one frame at `offset` (a lookup through an index), read with two reads
/// and checked; `Err(damage)` when it is not intact. `end` is where the log's data ends.
pub fn read_frame<S: ReadAt + ?Sized>(
    src: &S,
    offset: u64,
    end: u64,
    limits: FrameLimits,
) -> io::Result<Result<Vec<u8>, Damage>> {
    let remaining = usize::try_from(end.saturating_sub(offset)).unwrap_or(usize::MAX);
    let mut frame = Vec::new();
    if remaining < FRAME_HEADER_LEN
        || fill(src, offset, FRAME_HEADER_LEN, &mut frame)? < FRAME_HEADER_LEN
    {
        return Ok(Err(Damage::Torn));
    }
    let total = match body_len(&frame, limits) {
        Ok(n) => FRAME_HEADER_LEN + n,
        Err(d) => return Ok(Err(d)),
    };
    if total > remaining {
        return Ok(Err(Damage::Torn));
    }
    frame.resize(total, 0);
    let n = src.read_at(
        offset + FRAME_HEADER_LEN as u64,
        &mut frame[FRAME_HEADER_LEN..],
    )?;
    if n < total - FRAME_HEADER_LEN {
        return Ok(Err(Damage::Torn));
    }
    if !checksum_holds(&frame) {
        return Ok(Err(Damage::BadChecksum {
            frame_len: total as u64,
        }));
    }
    frame.drain(..FRAME_HEADER_LEN);
    Ok(Ok(frame))
}

/// What [`recover`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Where the intact log ends: the caller cuts the file here.
    pub end: u64,
    /// Damaged frames in the middle that were skipped (their successors were intact).
    pub skipped: u64,
}

/// Why [`recover`] refused a log.
#[derive(Debug)]
pub enum RecoverError {
    Io(io::Error),
    /// Damage that is not a torn write and that no intact frame follows: what comes after it
    /// cannot be trusted, so nothing is guessed.
    Corrupt {
        offset: u64,
        damage: Damage,
    },
}

impl fmt::Display for RecoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoverError::Io(e) => write!(f, "{e}"),
            RecoverError::Corrupt { offset, damage } => {
                write!(f, "corrupt frame at byte {offset}: {damage}")
            }
        }
    }
}

impl std::error::Error for RecoverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecoverError::Io(e) => Some(e),
            RecoverError::Corrupt { .. } => None,
        }
    }
}

impl From<io::Error> for RecoverError {
    fn from(e: io::Error) -> Self {
        RecoverError::Io(e)
    }
}

/// Walks `start..end` like [`walk`], tolerating what a crash or a single bad sector leaves:
/// - a torn frame, a damaged *last* frame, or a tail of zero bytes (a file extended before its
///   data arrived) ends the log there;
/// - a damaged frame whose length is plausible and whose successor is intact (or torn) is
///   skipped and counted; the walk goes on after it;
/// - anything else (an implausible length before non-zero bytes, two damaged frames in a row)
///   is refused.
///
/// The visitor sees every intact frame, as in [`walk`]; [`Visit::Stop`] ends the log after
/// the frame it stops at.
pub fn recover<S: ReadAt + ?Sized>(
    src: &S,
    start: u64,
    end: u64,
    limits: FrameLimits,
    mut visit: impl FnMut(&[u8], u64) -> Visit,
) -> Result<Recovered, RecoverError> {
    let mut out = Recovered {
        end: start,
        skipped: 0,
    };
    // A damaged frame skipped over, until the frame after it proves to be intact (or torn).
    let mut suspect: Option<(u64, Damage)> = None;
    loop {
        let w = walk(src, out.end, end, limits, &mut visit)?;
        let progressed = w.end > out.end;
        if let Some((at, damage)) = suspect.take() {
            match w.damage {
                Some(Damage::Torn) | None => out.skipped += 1,
                Some(_) if progressed => out.skipped += 1,
                Some(_) => return Err(RecoverError::Corrupt { offset: at, damage }),
            }
        }
        out.end = w.end;
        let Some(damage) = w.damage else {
            return Ok(out);
        };
        match damage.frame_len() {
            None if damage == Damage::Torn || zero_from(src, w.end, end)? => return Ok(out),
            None => {
                return Err(RecoverError::Corrupt {
                    offset: w.end,
                    damage,
                })
            }
            // The last frame of the log: a torn write.
            Some(len) if w.end + len >= end => return Ok(out),
            Some(len) => {
                suspect = Some((w.end, damage));
                out.end = w.end + len;
            }
        }
    }
}

/// Whether `start..end` of `src` holds only zero bytes.
fn zero_from<S: ReadAt + ?Sized>(src: &S, start: u64, end: u64) -> io::Result<bool> {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut pos = start;
    while pos < end {
        let want = usize::try_from(end - pos)
            .unwrap_or(usize::MAX)
            .min(chunk.len());
        let n = src.read_at(pos, &mut chunk[..want])?;
        if n == 0 {
            break;
        }
        if chunk[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        pos += n as u64;
    }
    Ok(true)
}

#[cfg(test)]
mod tests;
