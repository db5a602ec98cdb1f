//! The `table` rule action's storage: a durable key-value table (the seed's DynamoDB write).
//!
//! One append-only log file per table, `DIR/NAME.kv`:
//!
//! ```text
//! header: b"WEIRKV\0\x01"
//! entry:  u32 LE body length | u32 LE crc32c(body) | body
//! body:   u8 op (1 put, 2 delete) | u16 LE key length | key (UTF-8) | value (JSON bytes)
//! ```
//!
//! Entries are `weir_support::framed` frames. The in-memory index (key -> entry offset) is
//! rebuilt on open with `framed::recover`: it truncates a torn tail (an incomplete or
//! unverifiable last entry, or a zero-filled one), skips a corrupt entry in the middle when its
//! length still leads to a valid entry, and otherwise refuses to open rather than guess: a
//! corrupt entry is never served, and `get` re-checks the CRC of what it reads.
//!
//! Writes are appended but not synced; a caller acks only after [`KvTable::sync`]. Compaction
//! rewrites the live entries to a temp file, syncs and renames it, so a crash leaves either the
//! old or the new log.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use weir_support::framed::{self, FrameBatch, FrameLimits, RecoverError, Visit, FRAME_HEADER_LEN};

use super::fsutil::{self, IoAt};

const MAGIC: &[u8; 8] = b"WEIRKV\0\x01";
const HEADER: u64 = 8;
const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
/// Keys: non-empty UTF-8, at most this many bytes (DynamoDB's partition key limit).
pub const MAX_KEY_BYTES: usize = 1024;
/// Values: at most DynamoDB's 400 KiB item size.
pub const MAX_VALUE_BYTES: usize = 400 * 1024;
/// An entry's body: op, key length, key, value.
const LIMITS: FrameLimits = FrameLimits::new(3, (3 + MAX_KEY_BYTES + MAX_VALUE_BYTES) as u32);
/// Below this log size, automatic compaction is not worth a rewrite.
const AUTO_COMPACT_MIN_BYTES: u64 = 1024 * 1024;

/// What a table refuses or fails at; every variant names the table or file.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("table name {name:?}: must be 1-255 of [A-Za-z0-9_.-], not starting with `.`")]
    InvalidName { name: String },
    #[error("table {table:?}: invalid key: {reason}")]
    InvalidKey { table: String, reason: String },
    #[error("table {table:?}, key {key:?}: value of {size} bytes exceeds the {MAX_VALUE_BYTES}-byte item limit")]
    ValueTooLarge {
        table: String,
        key: String,
        size: usize,
    },
    #[error("table {table:?}, key {key:?}: value is not JSON: {source}")]
    NotJson {
        table: String,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path:?}: corrupt entry at byte {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error(transparent)]
    Io(#[from] IoAt),
}

/// What recovery found when the table was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Bytes cut from the end of the log (a write interrupted by a crash).
    pub truncated_bytes: u64,
    /// Entries in the middle of the log that failed their CRC and were skipped. For a put, the
    /// key keeps its previous value (or none).
    pub corrupt_entries: u64,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    offset: u64,
    len: u64,
}

/// A durable key-value table backed by an append-only log.
#[derive(Debug)]
pub struct KvTable {
    name: String,
    path: PathBuf,
    dir: PathBuf,
    file: File,
    index: BTreeMap<String, Slot>,
    file_len: u64,
    live_bytes: u64,
    recovery: RecoveryReport,
}

/// An intact entry's body: its op, key and where its value starts; `None` when the body is not
/// one this table writes.
fn parse_body(body: &[u8]) -> Option<(u8, &str, usize)> {
    let (&op, rest) = body.split_first()?;
    let key_len = usize::from(u16::from_le_bytes(rest.get(..2)?.try_into().ok()?));
    let key = std::str::from_utf8(rest.get(2..2 + key_len)?).ok()?;
    matches!(op, OP_PUT | OP_DELETE).then_some((op, key, 3 + key_len))
}

/// Indexes one entry (a put replaces, a delete removes), keeping the live byte count.
fn apply(
    index: &mut BTreeMap<String, Slot>,
    live_bytes: &mut u64,
    op: u8,
    key: String,
    offset: u64,
    len: u64,
) {
    if let Some(old) = index.remove(&key) {
        *live_bytes -= old.len;
    }
    if op == OP_PUT {
        index.insert(key, Slot { offset, len });
        *live_bytes += len;
    }
}

impl KvTable {
    /// Opens (or creates) `DIR/NAME.kv`, recovering from a crash: leftover compaction files are
    /// removed, a torn tail is truncated, and the index is rebuilt.
    pub fn open(dir: impl AsRef<Path>, name: &str) -> Result<Self, KvError> {
        if name.is_empty()
            || name.len() > 255
            || name.starts_with('.')
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(KvError::InvalidName { name: name.into() });
        }
        let dir = dir.as_ref().to_path_buf();
        // Synced as created, like the table file's own name below.
        fsutil::at(
            weir_support::create_dir_all_synced(&dir),
            "create folder",
            &dir,
        )?;
        let path = dir.join(format!("{name}.kv"));
        let tmp = compact_temp_path(&path);
        if tmp.exists() {
            fsutil::at(std::fs::remove_file(&tmp), "remove", &tmp)?;
        }
        let existed = path.exists();
        let file = fsutil::at(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path),
            "open",
            &path,
        )?;
        let mut t = KvTable {
            name: name.into(),
            path,
            dir,
            file,
            index: BTreeMap::new(),
            file_len: 0,
            live_bytes: 0,
            recovery: RecoveryReport::default(),
        };
        t.file_len = fsutil::at(t.file.metadata(), "stat", &t.path)?.len();
        if t.file_len < HEADER {
            // New, or the crash hit while the header was written.
            let mut head = vec![0; t.file_len as usize];
            fsutil::at(t.file.read_exact_at(&mut head, 0), "read", &t.path)?;
            if !MAGIC.starts_with(&head) {
                return Err(t.corrupt(0, "not a Weir table (bad header)"));
            }
            fsutil::at(t.file.set_len(0), "truncate", &t.path)?;
            fsutil::at(t.file.write_all_at(MAGIC, 0), "write", &t.path)?;
            fsutil::at(t.file.sync_all(), "fsync", &t.path)?;
            if !existed {
                fsutil::at(fsutil::sync_dir(&t.dir), "fsync folder", &t.dir)?;
            }
            t.file_len = HEADER;
            return Ok(t);
        }
        let mut head = [0u8; 8];
        fsutil::at(t.file.read_exact_at(&mut head, 0), "read", &t.path)?;
        if &head != MAGIC {
            return Err(t.corrupt(0, "not a Weir table (bad header)"));
        }
        t.recover()?;
        Ok(t)
    }

    fn recover(&mut self) -> Result<(), KvError> {
        let (index, live_bytes) = (&mut self.index, &mut self.live_bytes);
        let found = framed::recover(&self.file, HEADER, self.file_len, LIMITS, |body, at| {
            let Some((op, key, _)) = parse_body(body) else {
                return Visit::Reject;
            };
            let len = (FRAME_HEADER_LEN + body.len()) as u64;
            apply(index, live_bytes, op, key.to_owned(), at, len);
            Visit::Next
        });
        let found = match found {
            Ok(found) => found,
            Err(RecoverError::Io(e)) => return Err(fsutil::io_at("read", &self.path, e).into()),
            Err(RecoverError::Corrupt { offset, damage }) => {
                return Err(self.corrupt(offset, &damage.to_string()))
            }
        };
        self.recovery.corrupt_entries = found.skipped;
        if found.end < self.file_len {
            self.recovery.truncated_bytes = self.file_len - found.end;
            fsutil::at(self.file.set_len(found.end), "truncate", &self.path)?;
            fsutil::at(self.file.sync_all(), "fsync", &self.path)?;
            self.file_len = found.end;
        }
        Ok(())
    }

    fn apply(&mut self, op: u8, key: String, offset: u64, len: u64) {
        apply(&mut self.index, &mut self.live_bytes, op, key, offset, len);
    }

    fn corrupt(&self, offset: u64, reason: &str) -> KvError {
        KvError::Corrupt {
            path: self.path.clone(),
            offset,
            reason: reason.into(),
        }
    }

    /// What recovery did when the table was opened.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of live keys.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn check_key(&self, key: &str) -> Result<(), KvError> {
        let reason = if key.is_empty() {
            "empty"
        } else if key.len() > MAX_KEY_BYTES {
            "longer than 1024 bytes"
        } else {
            return Ok(());
        };
        Err(KvError::InvalidKey {
            table: self.name.clone(),
            reason: reason.into(),
        })
    }

    /// Appends one entry. On a failed write the log is cut back, so the next append starts
    /// on an entry boundary.
    fn append(&mut self, op: u8, key: &str, value: &[u8]) -> Result<u64, KvError> {
        let mut entry = FrameBatch::with_capacity(LIMITS, 8 + 3 + key.len() + value.len());
        entry
            .push(|body| {
                body.push(op);
                // check_key bounds the key at 1024 bytes, so it fits in u16.
                body.extend_from_slice(&(key.len() as u16).to_le_bytes());
                body.extend_from_slice(key.as_bytes());
                body.extend_from_slice(value);
            })
            .map_err(|e| fsutil::io_at("append", &self.path, e.into()))?;
        let offset = self.file_len;
        let file = &self.file;
        framed::append_or_cut(
            offset,
            || file.write_all_at(entry.bytes(), offset),
            |at| file.set_len(at),
        )
        .map_err(|e| fsutil::io_at("append", &self.path, e.error))?;
        self.file_len += entry.len() as u64;
        Ok(offset)
    }

    /// Stores `value` (JSON bytes, at most 400 KiB) under `key`. Not durable until
    /// [`KvTable::sync`].
    pub fn put(&mut self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.check_key(key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(KvError::ValueTooLarge {
                table: self.name.clone(),
                key: key.into(),
                size: value.len(),
            });
        }
        if let Err(source) = serde_json::from_slice::<serde::de::IgnoredAny>(value) {
            return Err(KvError::NotJson {
                table: self.name.clone(),
                key: key.into(),
                source,
            });
        }
        let offset = self.append(OP_PUT, key, value)?;
        self.apply(OP_PUT, key.into(), offset, self.file_len - offset);
        self.maybe_compact();
        Ok(())
    }

    /// Removes `key`; returns whether it was present. Not durable until [`KvTable::sync`].
    pub fn delete(&mut self, key: &str) -> Result<bool, KvError> {
        self.check_key(key)?;
        if !self.index.contains_key(key) {
            return Ok(false);
        }
        let offset = self.append(OP_DELETE, key, &[])?;
        self.apply(OP_DELETE, key.into(), offset, self.file_len - offset);
        self.maybe_compact();
        Ok(true)
    }

    /// The value under `key`, re-verified against its checksum.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        match self.index.get(key) {
            None => Ok(None),
            Some(slot) => self.read_value(key, *slot).map(Some),
        }
    }

    fn read_value(&self, key: &str, slot: Slot) -> Result<Vec<u8>, KvError> {
        let read = framed::read_frame(&self.file, slot.offset, self.file_len, LIMITS);
        let body = match fsutil::at(read, "read", &self.path)? {
            Ok(body) => body,
            Err(damage) => return Err(self.corrupt(slot.offset, &damage.to_string())),
        };
        match parse_body(&body) {
            Some((OP_PUT, k, value_at)) if k == key => Ok(body[value_at..].to_vec()),
            Some(_) => Err(self.corrupt(slot.offset, "entry does not match the index")),
            None => Err(self.corrupt(slot.offset, "malformed body")),
        }
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    /// Key-value pairs in key order, each read and verified lazily.
    pub fn iter(&self) -> impl Iterator<Item = Result<(String, Vec<u8>), KvError>> + '_ {
        self.index
            .iter()
            .map(|(k, slot)| self.read_value(k, *slot).map(|v| (k.clone(), v)))
    }

    /// Every pair, in key order.
    pub fn scan(&self) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        self.iter().collect()
    }

    /// Makes every write so far durable.
    pub fn sync(&self) -> Result<(), KvError> {
        fsutil::at(self.file.sync_data(), "fsync", &self.path)?;
        Ok(())
    }

    /// Bytes in the log file, and bytes of it that hold live values.
    pub fn sizes(&self) -> (u64, u64) {
        (self.file_len, HEADER + self.live_bytes)
    }

    /// Compacts when the log is over twice the live data. The write that triggered it has
    /// already succeeded, so a failed compaction is logged rather than reported as a failed
    /// write; the old log stays in use.
    fn maybe_compact(&mut self) {
        if self.file_len >= AUTO_COMPACT_MIN_BYTES && self.file_len > 2 * (HEADER + self.live_bytes)
        {
            if let Err(e) = self.compact() {
                tracing::warn!(table = %self.name, error = %e, "compaction failed");
            }
        }
    }

    /// Rewrites the log with only the live entries (temp file, fsync, rename, fsync folder).
    /// Also makes every earlier write durable.
    pub fn compact(&mut self) -> Result<(), KvError> {
        let tmp = compact_temp_path(&self.path);
        let mut out = FrameBatch::with_header(LIMITS, MAGIC, self.live_bytes as usize);
        let mut index = BTreeMap::new();
        for (key, slot) in &self.index {
            let read = framed::read_frame(&self.file, slot.offset, self.file_len, LIMITS);
            let body = match fsutil::at(read, "read", &self.path)? {
                Ok(body) => body,
                Err(damage) => {
                    let reason = format!("{damage} during compaction");
                    return Err(self.corrupt(slot.offset, &reason));
                }
            };
            let offset = out
                .push_body(&body)
                .map_err(|e| fsutil::io_at("compact", &self.path, e.into()))?;
            let len = slot.len;
            index.insert(key.clone(), Slot { offset, len });
        }
        let _ = std::fs::remove_file(&tmp);
        fsutil::write_atomic_to(&tmp, &self.path, out.bytes())?;
        self.file = fsutil::at(
            OpenOptions::new().read(true).write(true).open(&self.path),
            "open",
            &self.path,
        )?;
        self.file_len = out.len() as u64;
        self.index = index;
        Ok(())
    }
}

fn compact_temp_path(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".compact");
    name.push(fsutil::TEMP_SUFFIX);
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> KvTable {
        KvTable::open(dir, "speeding").unwrap()
    }

    #[test]
    fn delivery_table_put_get_delete_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = open(dir.path());
        assert!(t.is_empty());
        t.put("95B•140", br#"{"speed":"90"}"#).unwrap();
        t.put("ABC", br#"{"speed":"80"}"#).unwrap();
        t.put("ABC", br#"{"speed":"81"}"#).unwrap();
        assert!(t.delete("ABC").unwrap());
        assert!(!t.delete("ABC").unwrap());
        t.put("Z", b"1").unwrap();
        t.sync().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.get("ABC").unwrap(), None);
        drop(t);
        let t = open(dir.path());
        assert_eq!(t.recovery(), &RecoveryReport::default());
        assert_eq!(t.get("95B•140").unwrap().unwrap(), br#"{"speed":"90"}"#);
        assert_eq!(t.keys().collect::<Vec<_>>(), vec!["95B•140", "Z"]);
        assert_eq!(
            t.scan().unwrap(),
            vec![
                ("95B•140".to_string(), br#"{"speed":"90"}"#.to_vec()),
                ("Z".to_string(), b"1".to_vec())
            ]
        );
    }

    #[test]
    fn delivery_table_limits() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = open(dir.path());
        assert!(matches!(t.put("", b"1"), Err(KvError::InvalidKey { .. })));
        assert!(matches!(
            t.put(&"k".repeat(1025), b"1"),
            Err(KvError::InvalidKey { .. })
        ));
        t.put(&"k".repeat(1024), b"1").unwrap();
        let mut big = vec![b' '; MAX_VALUE_BYTES + 1];
        big[0] = b'1';
        assert!(matches!(
            t.put("a", &big),
            Err(KvError::ValueTooLarge { .. })
        ));
        big.pop();
        t.put("a", &big).unwrap();
        assert!(matches!(t.put("b", b"{nope"), Err(KvError::NotJson { .. })));
        assert!(matches!(
            KvTable::open(dir.path(), "../evil"),
            Err(KvError::InvalidName { .. })
        ));
    }

    #[test]
    fn delivery_table_torn_tail_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = open(dir.path());
        t.put("a", b"1").unwrap();
        t.put("b", b"2").unwrap();
        t.sync().unwrap();
        let good_len = t.sizes().0;
        t.put("c", br#""a longer value""#).unwrap();
        let path = t.path().to_path_buf();
        drop(t);
        // Crash mid-append: only part of the last entry reached the disk.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(good_len + 11).unwrap();
        drop(f);
        let t = open(dir.path());
        assert_eq!(t.recovery().truncated_bytes, 11);
        assert_eq!(t.len(), 2);
        assert_eq!(t.get("c").unwrap(), None);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);
        // A zero-filled tail (file extended, data lost) is a torn write as well.
        drop(t);
        let f = OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut &f, &[0u8; 20]).unwrap();
        drop(f);
        let mut t = open(dir.path());
        assert_eq!(t.recovery().truncated_bytes, 20);
        assert_eq!(t.len(), 2);
        // Garbage that is not a torn write refuses to open rather than guess.
        let mut garbage = std::fs::read(&path).unwrap();
        garbage.extend_from_slice(&[0xff; 8]);
        garbage.extend_from_slice(b"more data follows");
        let bad_dir = tempfile::tempdir().unwrap();
        std::fs::write(bad_dir.path().join("speeding.kv"), &garbage).unwrap();
        assert!(matches!(
            KvTable::open(bad_dir.path(), "speeding"),
            Err(KvError::Corrupt { .. })
        ));
        // Appends continue on an entry boundary.
        t.put("d", b"4").unwrap();
        drop(t);
        let t = open(dir.path());
        assert_eq!(t.recovery(), &RecoveryReport::default());
        assert_eq!(t.get("d").unwrap().unwrap(), b"4");
    }

    #[test]
    fn delivery_table_flipped_byte_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = open(dir.path());
        t.put("a", b"\"old\"").unwrap();
        let second = t.sizes().0;
        t.put("a", b"\"new\"").unwrap();
        t.put("b", b"2").unwrap();
        let last = t.sizes().0;
        t.put("c", b"3").unwrap();
        let path = t.path().to_path_buf();
        drop(t);
        let flip = |at: u64| {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .unwrap();
            let mut b = [0u8];
            f.read_exact_at(&mut b, at).unwrap();
            f.write_all_at(&[b[0] ^ 0x40], at).unwrap();
        };
        // A flipped value byte in the middle: the entry is skipped, later ones survive.
        flip(second + 8 + 3 + 1 + 1);
        let t = open(dir.path());
        assert_eq!(t.recovery().corrupt_entries, 1);
        assert_eq!(t.get("a").unwrap().unwrap(), b"\"old\"");
        assert_eq!(t.get("b").unwrap().unwrap(), b"2");
        assert_eq!(t.get("c").unwrap().unwrap(), b"3");
        drop(t);
        // A flipped byte in the last entry: treated as a torn write and cut.
        flip(last + 8 + 3 + 1);
        let t = open(dir.path());
        assert_eq!(t.get("c").unwrap(), None);
        assert!(t.recovery().truncated_bytes > 0);
        // Corruption after open is caught by get's checksum, not served.
        let b_at = {
            let slot = t.index["b"];
            slot.offset + slot.len - 1
        };
        flip(b_at);
        assert!(matches!(t.get("b"), Err(KvError::Corrupt { .. })));
        assert!(t.scan().is_err());
    }

    /// A table file as the module docs lay it out, its CRC-32C computed outside Rust: what a
    /// table held before it used `weir_support::framed`, and what a put writes now.
    #[test]
    fn delivery_table_keeps_the_documented_bytes() {
        let documented: Vec<u8> = (0..42)
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(&"574549524b56000105000000e2c490f10101006131"[i..i + 2], 16)
            })
            .collect::<Result<_, _>>()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut t = open(dir.path());
        t.put("a", b"1").unwrap();
        t.sync().unwrap();
        assert_eq!(std::fs::read(t.path()).unwrap(), documented);
        let old = tempfile::tempdir().unwrap();
        std::fs::write(old.path().join("speeding.kv"), &documented).unwrap();
        let t = open(old.path());
        assert_eq!(t.recovery(), &RecoveryReport::default());
        assert_eq!(t.get("a").unwrap().unwrap(), b"1");
    }

    #[test]
    fn delivery_table_compaction_keeps_latest() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = open(dir.path());
        for i in 0..50 {
            t.put("car", format!("{{\"n\":{i}}}").as_bytes()).unwrap();
            t.put(&format!("k{i}"), b"true").unwrap();
        }
        for i in 0..40 {
            t.delete(&format!("k{i}")).unwrap();
        }
        let (before, live) = t.sizes();
        assert!(before > 2 * live);
        t.compact().unwrap();
        let (after, live_after) = t.sizes();
        assert_eq!(after, live_after);
        assert!(after < before);
        assert_eq!(t.get("car").unwrap().unwrap(), br#"{"n":49}"#);
        assert_eq!(t.len(), 11);
        // Automatic compaction once the log passes 1 MiB and twice the live data.
        let mut value = vec![b' '; 100 * 1024];
        value[0] = b'7';
        for _ in 0..15 {
            t.put("big", &value).unwrap();
        }
        // 15 x 100 KiB were written; without compaction the log would be over 1.5 MB.
        let (file, _) = t.sizes();
        assert!(file < AUTO_COMPACT_MIN_BYTES, "{file}");
        assert_eq!(t.get("big").unwrap().unwrap(), value);
        assert!(t.delete("big").unwrap());
        t.put("after", b"null").unwrap();
        drop(t);
        // A leftover compaction temp file (crash mid-compaction) is ignored and removed.
        let tmp = compact_temp_path(&dir.path().join("speeding.kv"));
        std::fs::write(&tmp, b"partial").unwrap();
        let t = open(dir.path());
        assert!(!tmp.exists());
        assert_eq!(t.len(), 12);
        assert_eq!(t.get("car").unwrap().unwrap(), br#"{"n":49}"#);
        assert_eq!(t.get("k45").unwrap().unwrap(), b"true");
        assert_eq!(t.get("k5").unwrap(), None);
        assert_eq!(t.get("after").unwrap().unwrap(), b"null");
    }
}
