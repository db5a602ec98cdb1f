//! The `firehose` rule action's storage: Firehose-style buffered delivery to files under a
//! root folder.
//!
//! Records are buffered in memory and written as one object when the buffer reaches its size
//! or its age (from the oldest record's arrival) reaches the interval, whichever comes first.
//! Keys follow Firehose: `PREFIX` (default `yyyy/MM/dd/HH/`, UTC, at the oldest record's
//! arrival) followed by `NAME-VERSION-yyyy-MM-dd-HH-mm-ss-RANDOM`. Failed records go under the
//! error prefix as Firehose's JSON lines.
//!
//! Durability contract: a record is durable only once [`FirehoseWriter::poll_flush`] or
//! [`FirehoseWriter::flush`] has returned an object that contains it; those calls return only
//! after the object was fsynced, renamed into place and its folder fsynced. A caller acks
//! records then, never on `put`. A failed flush keeps the buffer, so a retry loses nothing.
//!
//! The writer never reads the clock: callers pass arrival and current times in milliseconds
//! since the Unix epoch, which is what makes the logic testable with a fixed clock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Datelike, Timelike, Utc};

use super::fsutil::{self, IoAt, KeyError, PrepareError};
use super::prefix::{PrefixError, Prefixes, ERROR_OUTPUT_TYPES};

/// AWS's `SizeInMBs` bounds, in bytes.
pub const MIN_BUFFER_BYTES: u64 = 1024 * 1024;
pub const MAX_BUFFER_BYTES: u64 = 128 * 1024 * 1024;
/// AWS's `IntervalInSeconds` upper bound.
pub const MAX_BUFFER_INTERVAL: Duration = Duration::from_secs(900);
/// Firehose's per-record limit (1,000 KiB, before base64).
pub const MAX_RECORD_BYTES: usize = 1000 * 1024;

/// Configuration of one delivery stream's file destination.
#[derive(Debug, Clone)]
pub struct FirehoseConfig {
    /// Folder that holds every object; nothing is ever written outside it.
    pub root: PathBuf,
    /// Used in object names; letters, digits, `_`, `.` and `-`, 1 to 64 characters (AWS's rule).
    pub delivery_stream_name: String,
    /// Goes up on each configuration change, as in Firehose; starts at 1.
    pub delivery_stream_version: u32,
    /// `Prefix`; `None` means the default time folders.
    pub prefix: Option<String>,
    /// `ErrorOutputPrefix`; required when `prefix` uses expressions.
    pub error_prefix: Option<String>,
    /// `SizeInMBs` in bytes: 1 MiB to 128 MiB.
    pub buffer_bytes: u64,
    /// `IntervalInSeconds`: 0 to 900 s. Zero delivers on every poll.
    pub buffer_interval: Duration,
    /// Appended after every record (Firehose appends nothing unless asked).
    pub record_delimiter: Option<u8>,
}

impl FirehoseConfig {
    /// Firehose's defaults: 5 MiB, 300 s, no prefix, version 1, no delimiter.
    pub fn new(root: impl Into<PathBuf>, delivery_stream_name: impl Into<String>) -> Self {
        FirehoseConfig {
            root: root.into(),
            delivery_stream_name: delivery_stream_name.into(),
            delivery_stream_version: 1,
            prefix: None,
            error_prefix: None,
            buffer_bytes: 5 * 1024 * 1024,
            buffer_interval: Duration::from_secs(300),
            record_delimiter: None,
        }
    }
}

/// Everything the Firehose writer can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum FirehoseError {
    #[error("delivery stream {name:?}: invalid configuration: {reason}")]
    Config { name: String, reason: String },
    #[error("delivery stream {name:?}: {source}")]
    Prefix {
        name: String,
        #[source]
        source: PrefixError,
    },
    #[error("delivery stream {name:?}: root {root:?}: {source}")]
    Root {
        name: String,
        root: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("delivery stream {name:?}: record of {size} bytes exceeds the {MAX_RECORD_BYTES}-byte limit")]
    RecordTooLarge { name: String, size: usize },
    #[error("delivery stream {name:?}: buffer is full ({bytes} bytes); flush before putting more")]
    BufferFull { name: String, bytes: u64 },
    #[error("delivery stream {name:?}: timestamp {ms} ms is out of range")]
    BadTimestamp { name: String, ms: i64 },
    #[error("delivery stream {name:?}: unknown error output type {value:?} (expected one of {ERROR_OUTPUT_TYPES:?})")]
    UnknownErrorOutputType { name: String, value: String },
    #[error("delivery stream {name:?}: refused object key: {source}")]
    Key {
        name: String,
        #[source]
        source: KeyError,
    },
    #[error("delivery stream {name:?}: {source}")]
    Io {
        name: String,
        #[source]
        source: IoAt,
    },
}

/// A flush in which at least one buffer could not be written. The objects in `delivered` are
/// durable nonetheless (ack their records); the failed buffers stay for the next flush.
#[derive(Debug, thiserror::Error)]
#[error("{error} ({} other object(s) were delivered)", delivered.len())]
pub struct FlushError {
    pub delivered: Vec<DeliveredObject>,
    /// Boxed to keep `Result`s small on the success path.
    #[source]
    pub error: Box<FirehoseError>,
}

/// An object made durable by a flush.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredObject {
    /// The object key, relative to the root, `/`-separated.
    pub key: String,
    /// Where it is on disk.
    pub path: PathBuf,
    /// Records in it, in `put` order: the caller acks exactly these.
    pub records: usize,
    pub bytes: u64,
    /// `None` for delivered data, else the error output type.
    pub error_output_type: Option<String>,
}

/// A record that failed processing, for [`FirehoseWriter::put_error`].
#[derive(Debug, Clone)]
pub struct FailedRecord<'a> {
    pub data: &'a [u8],
    pub arrival_ms: i64,
    pub attempts_made: u32,
    pub attempt_ending_ms: i64,
    /// e.g. `Lambda.FunctionError`, or a plugin's error code.
    pub error_code: &'a str,
    pub error_message: &'a str,
}

#[derive(Debug, Default)]
struct Buffer {
    bytes: Vec<u8>,
    records: usize,
    /// Arrival of the oldest record: the object's timestamp and the start of its age.
    oldest_ms: Option<i64>,
}

impl Buffer {
    fn push(&mut self, data: &[u8], delimiter: Option<u8>, arrival_ms: i64) {
        self.bytes.extend_from_slice(data);
        if let Some(d) = delimiter {
            self.bytes.push(d);
        }
        self.records += 1;
        self.oldest_ms = Some(self.oldest_ms.map_or(arrival_ms, |o| o.min(arrival_ms)));
    }

    fn is_due(&self, now_ms: i64, size: u64, interval: Duration) -> bool {
        let Some(oldest) = self.oldest_ms else {
            return false;
        };
        let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        self.bytes.len() as u64 >= size || now_ms.saturating_sub(oldest) >= interval_ms
    }
}

/// Buffers records and writes them as Firehose-named objects under a root folder.
#[derive(Debug)]
pub struct FirehoseWriter {
    config: FirehoseConfig,
    root: PathBuf,
    prefixes: Prefixes,
    data: Buffer,
    errors: BTreeMap<String, Buffer>,
}

impl FirehoseWriter {
    /// Validates the configuration (buffer hints, stream name, prefixes by AWS's rules), creates
    /// the root if needed and removes temp files left by a crash, so no partial object survives.
    pub fn new(config: FirehoseConfig) -> Result<Self, FirehoseError> {
        let name = config.delivery_stream_name.clone();
        let cfg_err = |reason: String| FirehoseError::Config {
            name: name.clone(),
            reason,
        };
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            || name.starts_with('.')
        {
            return Err(cfg_err(
                "delivery stream name must be 1-64 of [A-Za-z0-9_.-], not starting with `.`".into(),
            ));
        }
        if !(MIN_BUFFER_BYTES..=MAX_BUFFER_BYTES).contains(&config.buffer_bytes) {
            return Err(cfg_err(format!(
                "buffer size {} bytes is outside 1-128 MiB",
                config.buffer_bytes
            )));
        }
        if config.buffer_interval > MAX_BUFFER_INTERVAL {
            return Err(cfg_err(format!(
                "buffer interval {:?} is over 900 s",
                config.buffer_interval
            )));
        }
        let prefixes = Prefixes::new(config.prefix.as_deref(), config.error_prefix.as_deref())
            .map_err(|source| FirehoseError::Prefix {
                name: name.clone(),
                source,
            })?;
        if let Some(key) = prefixes.data.partition_keys().first() {
            return Err(cfg_err(format!(
                "prefix uses !{{partitionKeyFromQuery:{key}}}, which needs a delivery stream with dynamic partitioning (name one with `delivery_stream`)"
            )));
        }
        // Refuse a prefix that can never give a safe key now, not at the first flush. Keys are
        // checked again when each object is written.
        for error_type in [None, Some("processing-failed")] {
            let sample = object_key(&prefixes, &name, 1, 0, error_type, "r").unwrap_or_default();
            fsutil::check_key(&sample).map_err(|source| FirehoseError::Key {
                name: name.clone(),
                source,
            })?;
        }
        let root_err = |source| FirehoseError::Root {
            name: name.clone(),
            root: config.root.clone(),
            source,
        };
        // Synced as created: an object acknowledged under a new root keeps the root too.
        weir_support::create_dir_all_synced(&config.root).map_err(root_err)?;
        let root = std::fs::canonicalize(&config.root).map_err(root_err)?;
        fsutil::remove_temp_files(&root).map_err(|source| FirehoseError::Io {
            name: name.clone(),
            source,
        })?;
        Ok(FirehoseWriter {
            config,
            root,
            prefixes,
            data: Buffer::default(),
            errors: BTreeMap::new(),
        })
    }

    /// The canonical root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Records buffered and not yet durable (data and error records).
    pub fn pending_records(&self) -> usize {
        self.data.records + self.errors.values().map(|b| b.records).sum::<usize>()
    }

    /// Buffers one record that arrived at `arrival_ms`. Does no IO. Refuses the record when
    /// the buffer already holds `buffer_bytes`, so memory stays bounded if the caller forgets
    /// to poll.
    pub fn put(&mut self, record: &[u8], arrival_ms: i64) -> Result<(), FirehoseError> {
        let name = &self.config.delivery_stream_name;
        if record.len() > MAX_RECORD_BYTES {
            return Err(FirehoseError::RecordTooLarge {
                name: name.clone(),
                size: record.len(),
            });
        }
        self.check_time(arrival_ms)?;
        if self.data.bytes.len() as u64 >= self.config.buffer_bytes {
            return Err(FirehoseError::BufferFull {
                name: name.clone(),
                bytes: self.data.bytes.len() as u64,
            });
        }
        self.data
            .push(record, self.config.record_delimiter, arrival_ms);
        Ok(())
    }

    /// Buffers a failed record under `error_output_type` (one of Firehose's documented values,
    /// e.g. `processing-failed`) as a JSON line in Firehose's error shape.
    pub fn put_error(
        &mut self,
        failed: &FailedRecord<'_>,
        error_output_type: &str,
    ) -> Result<(), FirehoseError> {
        let name = &self.config.delivery_stream_name;
        if !ERROR_OUTPUT_TYPES.contains(&error_output_type) {
            return Err(FirehoseError::UnknownErrorOutputType {
                name: name.clone(),
                value: error_output_type.into(),
            });
        }
        if failed.data.len() > MAX_RECORD_BYTES {
            return Err(FirehoseError::RecordTooLarge {
                name: name.clone(),
                size: failed.data.len(),
            });
        }
        self.check_time(failed.arrival_ms)?;
        let buf = self.errors.entry(error_output_type.into()).or_default();
        if buf.bytes.len() as u64 >= self.config.buffer_bytes {
            return Err(FirehoseError::BufferFull {
                name: name.clone(),
                bytes: buf.bytes.len() as u64,
            });
        }
        let line = serde_json::json!({
            "attemptsMade": failed.attempts_made,
            "arrivalTimestamp": failed.arrival_ms,
            "errorCode": failed.error_code,
            "errorMessage": failed.error_message,
            "attemptEndingTimestamp": failed.attempt_ending_ms,
            "rawData": base64::engine::general_purpose::STANDARD.encode(failed.data),
        });
        buf.push(line.to_string().as_bytes(), Some(b'\n'), failed.arrival_ms);
        Ok(())
    }

    /// Writes every buffer whose size or age (at `now_ms`) is reached. Returns the objects made
    /// durable; a buffer that failed is kept for the next call.
    pub fn poll_flush(&mut self, now_ms: i64) -> Result<Vec<DeliveredObject>, FlushError> {
        self.flush_where(|b, size, interval| b.is_due(now_ms, size, interval))
    }

    /// Writes every non-empty buffer now (shutdown, or a caller that must ack).
    pub fn flush(&mut self) -> Result<Vec<DeliveredObject>, FlushError> {
        self.flush_where(|b, _, _| b.records > 0)
    }

    /// Tries every due buffer, even after one fails, so one bad error prefix cannot hold back
    /// data delivery; what did become durable is reported either way, so acks stay exact.
    fn flush_where(
        &mut self,
        due: impl Fn(&Buffer, u64, Duration) -> bool,
    ) -> Result<Vec<DeliveredObject>, FlushError> {
        let (size, interval) = (self.config.buffer_bytes, self.config.buffer_interval);
        let mut delivered = Vec::new();
        let mut first_error = None;
        if due(&self.data, size, interval) {
            match self.write_buffer(None) {
                Ok(d) => delivered.push(d),
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        let types: Vec<String> = self
            .errors
            .iter()
            .filter(|(_, b)| due(b, size, interval))
            .map(|(t, _)| t.clone())
            .collect();
        for t in types {
            match self.write_buffer(Some(&t)) {
                Ok(d) => {
                    delivered.push(d);
                    self.errors.remove(&t);
                }
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        match first_error {
            None => Ok(delivered),
            Some(error) => Err(FlushError {
                delivered,
                error: Box::new(error),
            }),
        }
    }

    /// Names, writes and syncs one buffer, then empties it.
    fn write_buffer(&mut self, error_type: Option<&str>) -> Result<DeliveredObject, FirehoseError> {
        let name = self.config.delivery_stream_name.clone();
        let buf = match error_type {
            None => &self.data,
            Some(t) => self.errors.get(t).ok_or_else(|| FirehoseError::Config {
                name: name.clone(),
                reason: format!("no buffer for error output type {t:?}"),
            })?,
        };
        let oldest = buf.oldest_ms.unwrap_or_default();
        let key = object_key(
            &self.prefixes,
            &name,
            self.config.delivery_stream_version,
            oldest,
            error_type,
            &random_string(),
        )
        .ok_or_else(|| FirehoseError::BadTimestamp {
            name: name.clone(),
            ms: oldest,
        })?;
        let path = fsutil::prepare_object_path(&self.root, &key).map_err(|e| match e {
            PrepareError::Key(source) => FirehoseError::Key {
                name: name.clone(),
                source,
            },
            PrepareError::Io(source) => FirehoseError::Io {
                name: name.clone(),
                source,
            },
        })?;
        fsutil::write_atomic(&path, &[&buf.bytes]).map_err(|source| FirehoseError::Io {
            name: name.clone(),
            source,
        })?;
        let delivered = DeliveredObject {
            key,
            path,
            records: buf.records,
            bytes: buf.bytes.len() as u64,
            error_output_type: error_type.map(str::to_string),
        };
        if error_type.is_none() {
            self.data = Buffer::default();
        }
        Ok(delivered)
    }

    fn check_time(&self, ms: i64) -> Result<(), FirehoseError> {
        match DateTime::<Utc>::from_timestamp_millis(ms) {
            Some(t) if (0..=9999).contains(&t.year()) => Ok(()),
            _ => Err(FirehoseError::BadTimestamp {
                name: self.config.delivery_stream_name.clone(),
                ms,
            }),
        }
    }
}

/// Firehose's `!{firehose:random-string}`: 11 characters.
fn random_string() -> String {
    let mut s = uuid::Uuid::new_v4().simple().to_string();
    s.truncate(11);
    s
}

/// The full key of an object whose oldest record arrived at `oldest_ms`: the evaluated prefix,
/// then `NAME-VERSION-yyyy-MM-dd-HH-mm-ss-RANDOM`. `None` if the time is out of range.
pub fn object_key(
    prefixes: &Prefixes,
    stream: &str,
    version: u32,
    oldest_ms: i64,
    error_type: Option<&str>,
    random: &str,
) -> Option<String> {
    let at = DateTime::<Utc>::from_timestamp_millis(oldest_ms)?;
    let prefix = match error_type {
        None => prefixes.data.render(&at, random, ""),
        Some(t) => prefixes.error.render(&at, random, t),
    };
    Some(format!("{prefix}{}", object_name(stream, version, &at)))
}

/// Firehose's object name after the prefix: `NAME-VERSION-yyyy-MM-dd-HH-mm-ss-UUID`, the time
/// being the oldest record's arrival (UTC).
pub fn object_name(stream: &str, version: u32, at: &DateTime<Utc>) -> String {
    format!(
        "{stream}-{version}-{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{}",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        uuid::Uuid::new_v4()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-07T09:05:02.250Z
    const T0: i64 = 1_772_874_302_250;

    fn config(root: &Path) -> FirehoseConfig {
        let mut c = FirehoseConfig::new(root, "cars");
        c.buffer_bytes = MIN_BUFFER_BYTES;
        c.buffer_interval = Duration::from_secs(60);
        c.record_delimiter = Some(b'\n');
        c
    }

    fn files(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn delivery_firehose_default_key_layout() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = FirehoseWriter::new(config(dir.path())).unwrap();
        // Oldest arrival wins, even if it is not the first put.
        w.put(b"b", T0 + 3_600_000).unwrap();
        w.put(b"a", T0).unwrap();
        let objs = w.flush().unwrap();
        assert_eq!(objs.len(), 1);
        let key = &objs[0].key;
        assert!(
            key.starts_with("2026/03/07/09/cars-1-2026-03-07-09-05-02-"),
            "{key}"
        );
        let uuid_part = key.rsplit_once("09-05-02-").unwrap().1;
        assert_eq!(uuid_part.len(), 36);
        assert_eq!(std::fs::read(&objs[0].path).unwrap(), b"b\na\n");
        assert_eq!(objs[0].records, 2);
        assert_eq!(files(w.root()), vec![key.clone()]);
        assert_eq!(w.pending_records(), 0);
        assert!(w.flush().unwrap().is_empty());
    }

    #[test]
    fn delivery_firehose_custom_prefix_layout() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.prefix = Some("trafficdata/year=!{timestamp:yyyy}/month=!{timestamp:MM}/".into());
        c.error_prefix =
            Some("errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/".into());
        c.delivery_stream_version = 3;
        let mut w = FirehoseWriter::new(c).unwrap();
        w.put(b"{}", T0).unwrap();
        let objs = w.flush().unwrap();
        assert!(
            objs[0]
                .key
                .starts_with("trafficdata/year=2026/month=03/cars-3-2026-03-07-09-05-02-"),
            "{}",
            objs[0].key
        );
    }

    #[test]
    fn delivery_firehose_rejects_bad_config() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.prefix = Some("x/!{timestamp:yyyy}/".into());
        assert!(matches!(
            FirehoseWriter::new(c),
            Err(FirehoseError::Prefix {
                source: PrefixError::ErrorPrefixRequired { .. },
                ..
            })
        ));
        let mut c = config(dir.path());
        c.prefix = Some("!{timestamp:YYYY-ww}".into());
        c.error_prefix = Some("e/!{firehose:error-output-type}".into());
        let e = FirehoseWriter::new(c).unwrap_err();
        assert!(e.to_string().contains("YYYY"), "{e}");
        let mut c = config(dir.path());
        c.buffer_bytes = 1000;
        assert!(matches!(
            FirehoseWriter::new(c),
            Err(FirehoseError::Config { .. })
        ));
        let mut c = config(dir.path());
        c.buffer_interval = Duration::from_secs(901);
        assert!(FirehoseWriter::new(c).is_err());
        let mut c = config(dir.path());
        c.delivery_stream_name = "../x".into();
        assert!(FirehoseWriter::new(c).is_err());
    }

    #[test]
    fn delivery_firehose_size_vs_interval() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = FirehoseWriter::new(config(dir.path())).unwrap();
        // Interval: nothing is due before 60 s from the oldest arrival, then it is.
        w.put(b"x", T0).unwrap();
        assert!(w.poll_flush(T0 + 59_999).unwrap().is_empty());
        let objs = w.poll_flush(T0 + 60_000).unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].records, 1);
        // Size: 1 MiB reached long before the interval.
        let big = vec![b'z'; 400 * 1024];
        for i in 0..3 {
            w.put(&big, T0 + 100_000 + i).unwrap();
        }
        assert_eq!(w.pending_records(), 3);
        // Full buffer refuses more until flushed.
        assert!(matches!(
            w.put(b"y", T0 + 100_010),
            Err(FirehoseError::BufferFull { .. })
        ));
        let objs = w.poll_flush(T0 + 100_010).unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].records, 3);
        assert_eq!(objs[0].bytes, 3 * (400 * 1024 + 1));
        assert!(w.poll_flush(T0 + 10_000_000).unwrap().is_empty());
        // Interval zero: every poll delivers what is buffered.
        let mut c = config(dir.path());
        c.buffer_interval = Duration::ZERO;
        let mut w = FirehoseWriter::new(c).unwrap();
        w.put(b"now", T0).unwrap();
        assert_eq!(w.poll_flush(T0).unwrap().len(), 1);
        // Oversized record.
        assert!(matches!(
            w.put(&vec![0; MAX_RECORD_BYTES + 1], T0),
            Err(FirehoseError::RecordTooLarge { .. })
        ));
    }

    #[test]
    fn delivery_firehose_error_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.prefix = Some("ok/".into());
        let mut w = FirehoseWriter::new(c).unwrap();
        let failed = FailedRecord {
            data: b"{\"speed\":\"90\"}",
            arrival_ms: T0,
            attempts_made: 4,
            attempt_ending_ms: T0 + 500,
            error_code: "Plugin.Trap",
            error_message: "wasm trap: unreachable",
        };
        w.put_error(&failed, "processing-failed").unwrap();
        assert!(matches!(
            w.put_error(&failed, "../../etc"),
            Err(FirehoseError::UnknownErrorOutputType { .. })
        ));
        assert!(w.poll_flush(T0 + 1).unwrap().is_empty());
        let objs = w.poll_flush(T0 + 60_000).unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!(
            objs[0].error_output_type.as_deref(),
            Some("processing-failed")
        );
        assert!(
            objs[0]
                .key
                .starts_with("ok/processing-failed/2026/03/07/09/cars-1-2026-03-07-09-05-02-"),
            "{}",
            objs[0].key
        );
        let text = std::fs::read_to_string(&objs[0].path).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["attemptsMade"], 4);
        assert_eq!(v["arrivalTimestamp"], T0);
        assert_eq!(v["attemptEndingTimestamp"], T0 + 500);
        assert_eq!(v["errorCode"], "Plugin.Trap");
        assert_eq!(v["errorMessage"], "wasm trap: unreachable");
        assert_eq!(v["rawData"], "eyJzcGVlZCI6IjkwIn0=");
        assert_eq!(w.pending_records(), 0);

        // Custom error prefix.
        let mut c = config(dir.path());
        c.prefix = Some("d/!{firehose:random-string}/".into());
        c.error_prefix = Some("e/!{timestamp:yyyy}/!{firehose:error-output-type}/".into());
        let mut w = FirehoseWriter::new(c).unwrap();
        w.put_error(&failed, "format-conversion-failed").unwrap();
        let objs = w.flush().unwrap();
        assert!(
            objs[0]
                .key
                .starts_with("e/2026/format-conversion-failed/cars-1-"),
            "{}",
            objs[0].key
        );
    }

    #[test]
    fn delivery_firehose_escape_attempts_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let canon = std::fs::canonicalize(&root).unwrap();
        for key in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "a\0b",
            "a\\..\\b",
            "",
            "dir/",
        ] {
            assert!(
                matches!(
                    fsutil::prepare_object_path(&canon, key),
                    Err(PrepareError::Key(KeyError::Unsafe { .. }))
                ),
                "{key:?}"
            );
        }
        // Prefixes that try to climb out are refused up front.
        for prefix in ["../outside/", "/abs/", "a/../../", "!{timestamp:'..'}/"] {
            let mut c = config(&root);
            c.prefix = Some(prefix.into());
            c.error_prefix = Some("e/!{firehose:error-output-type}/".into());
            assert!(
                matches!(FirehoseWriter::new(c), Err(FirehoseError::Key { .. })),
                "{prefix}"
            );
        }
        let mut c = config(&root);
        c.error_prefix = Some("../!{firehose:error-output-type}/".into());
        assert!(matches!(
            FirehoseWriter::new(c),
            Err(FirehoseError::Key { .. })
        ));
        assert!(!dir.path().join("outside").exists());

        #[cfg(unix)]
        {
            let outside = dir.path().join("outside");
            std::fs::create_dir(&outside).unwrap();
            std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
            let mut c = config(&root);
            c.prefix = Some("link/".into());
            let mut w = FirehoseWriter::new(c).unwrap();
            w.put(b"x", T0).unwrap();
            assert!(matches!(
                w.flush(),
                Err(FlushError { ref error, .. }) if matches!(
                    **error,
                    FirehoseError::Key {
                        source: KeyError::EscapesRoot { .. },
                        ..
                    }
                )
            ));
            // Refused, not lost: the record is still buffered for a retry.
            assert_eq!(w.pending_records(), 1);
            assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
            // A symlink that stays inside the root is fine.
            std::fs::create_dir(root.join("real")).unwrap();
            std::os::unix::fs::symlink(root.join("real"), root.join("inside")).unwrap();
            let mut c = config(&root);
            c.prefix = Some("inside/".into());
            let mut w = FirehoseWriter::new(c).unwrap();
            w.put(b"x", T0).unwrap();
            let objs = w.flush().unwrap();
            assert!(objs[0].path.starts_with(canon.join("real")));
        }
    }

    #[cfg(unix)]
    #[test]
    fn delivery_firehose_partial_flush_reports_what_was_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("ok")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("ok/processing-failed")).unwrap();
        let mut c = config(&root);
        c.prefix = Some("ok/".into());
        let mut w = FirehoseWriter::new(c).unwrap();
        w.put(b"good", T0).unwrap();
        let failed = FailedRecord {
            data: b"bad",
            arrival_ms: T0,
            attempts_made: 1,
            attempt_ending_ms: T0,
            error_code: "E",
            error_message: "m",
        };
        w.put_error(&failed, "processing-failed").unwrap();
        let err = w.flush().unwrap_err();
        assert_eq!(err.delivered.len(), 1);
        assert_eq!(err.delivered[0].records, 1);
        assert!(err.delivered[0].key.starts_with("ok/2026/03/07/09/"));
        assert!(matches!(*err.error, FirehoseError::Key { .. }));
        // The error record is kept, not lost.
        assert_eq!(w.pending_records(), 1);
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn delivery_firehose_crash_mid_write_leaves_no_partial_object() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = FirehoseWriter::new(config(dir.path())).unwrap();
        w.put(b"done", T0).unwrap();
        let done = w.flush().unwrap();
        // Simulate a crash between create and rename: a temp file next to the real object.
        let final_path = done[0].path.with_file_name("cars-1-2026-03-07-09-05-03-x");
        let tmp = fsutil::temp_path(&final_path);
        std::fs::write(&tmp, b"half an obj").unwrap();
        assert!(!final_path.exists());
        // Reopening removes it; only the completed object remains.
        let w = FirehoseWriter::new(config(dir.path())).unwrap();
        assert!(!tmp.exists());
        assert_eq!(files(w.root()), vec![done[0].key.clone()]);
        assert_eq!(std::fs::read(&done[0].path).unwrap(), b"done\n");
    }
}
