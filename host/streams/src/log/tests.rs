//! The segment log against real and failing storage: roll, reopen, torn tails, corruption, retention.

use super::*;
use crate::backend::{FailingBackend, MemBackend};

fn items(n: usize, tag: &str) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| (format!("k{i}"), format!("{tag}-{i}").into_bytes()))
        .collect()
}

fn append_all(log: &mut ShardLog, v: &[(String, Vec<u8>)]) -> Vec<(u64, i64)> {
    let it: Vec<AppendItem<'_>> = v
        .iter()
        .map(|(k, d)| AppendItem {
            partition_key: k,
            data: d,
        })
        .collect();
    log.append(&it, None).expect("append")
}

fn read_all(log: &ShardLog) -> Vec<StoredRecord> {
    read_spans(&log.read_plan(0), 0, usize::MAX, usize::MAX)
        .expect("read")
        .records
}

#[test]
fn append_read_roll_and_reopen() {
    let mem = MemBackend::new();
    let be: Arc<dyn StorageBackend> = Arc::new(mem.clone());
    let cfg = LogConfig {
        segment_bytes: 300,
        index_interval_bytes: 64,
    };
    let dir = Path::new("/s/shard");
    let mut log = ShardLog::open(be.clone(), dir, cfg.clone(), 1).expect("open");
    for round in 0..20 {
        append_all(&mut log, &items(3, &format!("r{round}")));
    }
    assert!(log.segment_count() > 3);
    let all = read_all(&log);
    assert_eq!(all.len(), 60);
    assert!(all.windows(2).all(|w| w[0].counter + 1 == w[1].counter));
    // seek into the middle
    let mid = read_spans(&log.read_plan(31), 31, 5, usize::MAX).expect("read");
    assert_eq!(
        mid.records.iter().map(|r| r.counter).collect::<Vec<_>>(),
        vec![31, 32, 33, 34, 35]
    );
    assert!(!mid.reached_tip);
    log.sync_handle().sync().expect("sync");
    drop(log);
    let log = ShardLog::open(be, dir, cfg, 1).expect("reopen");
    assert_eq!(read_all(&log), all);
    assert_eq!(log.next_counter(), 61);
}

#[test]
fn crash_keeps_synced_prefix_and_truncates_torn_tail() {
    let mem = MemBackend::new();
    let be: Arc<dyn StorageBackend> = Arc::new(mem.clone());
    let dir = Path::new("/s/a");
    let mut log = ShardLog::open(be.clone(), dir, LogConfig::default(), 1).expect("open");
    append_all(&mut log, &items(5, "a"));
    log.sync_handle().sync().expect("sync");
    append_all(&mut log, &items(5, "b")); // never synced
    mem.crash();
    let log = ShardLog::open(be.clone(), dir, LogConfig::default(), 1).expect("reopen");
    let got = read_all(&log);
    assert_eq!(got.len(), 5);
    assert_eq!(log.next_counter(), 6);
    // torn tail: half a frame on disk
    let seg = dir.join(seg_name(1));
    let f = be.open(&seg).expect("open seg");
    f.append(&[9, 0, 0, 0, 1, 2]).expect("append junk");
    f.sync().expect("sync");
    drop(log);
    let mut log = ShardLog::open(be.clone(), dir, LogConfig::default(), 1).expect("reopen");
    assert_eq!(read_all(&log).len(), 5);
    append_all(&mut log, &items(1, "c"));
    assert_eq!(read_all(&log).len(), 6);
}

#[test]
fn corrupt_record_is_never_served() {
    let mem = MemBackend::new();
    let be: Arc<dyn StorageBackend> = Arc::new(mem.clone());
    let dir = Path::new("/s/c");
    let mut log = ShardLog::open(be.clone(), dir, LogConfig::default(), 1).expect("open");
    append_all(&mut log, &items(3, "a"));
    let seg = dir.join(seg_name(1));
    // flip a byte inside the second record's data
    let first_len = FRAME_HEADER_LEN + BODY_FIXED_LEN + 2 + 3;
    mem.corrupt(&seg, SEGMENT_HEADER_LEN as usize + first_len + 30);
    assert!(matches!(
        read_spans(&log.read_plan(0), 0, 10, usize::MAX),
        Err(StreamsError::Corrupt { .. })
    ));
    // after a restart the corrupt tail is cut off
    drop(log);
    let log = ShardLog::open(be, dir, LogConfig::default(), 1).expect("reopen");
    assert_eq!(read_all(&log).len(), 1);
}

#[test]
fn failing_backend_surfaces_errors_not_bad_data() {
    for budget in 0..12 {
        let mem = MemBackend::new();
        let fail = FailingBackend::new(Arc::new(mem.clone()), budget);
        let be: Arc<dyn StorageBackend> = Arc::new(fail.clone());
        let dir = Path::new("/s/f");
        let mut acked = 0;
        if let Ok(mut log) = ShardLog::open(
            be.clone(),
            dir,
            LogConfig {
                segment_bytes: 100,
                index_interval_bytes: 10,
            },
            1,
        ) {
            for round in 0..5 {
                let v = items(2, &format!("r{round}"));
                let it: Vec<AppendItem<'_>> = v
                    .iter()
                    .map(|(k, d)| AppendItem {
                        partition_key: k,
                        data: d,
                    })
                    .collect();
                if log.append(&it, None).is_ok() && log.sync_handle().sync().is_ok() {
                    acked += 2;
                } else {
                    break;
                }
            }
        }
        mem.crash();
        let be: Arc<dyn StorageBackend> = Arc::new(mem.clone());
        let log = ShardLog::open(be, dir, LogConfig::default(), 1).expect("recover");
        let got = read_all(&log);
        assert!(
            got.len() >= acked,
            "budget {budget}: {} < {acked}",
            got.len()
        );
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r.counter, 1 + i as u64);
            assert_eq!(r.data, format!("r{}-{}", i / 2, i % 2).into_bytes());
        }
    }
}

#[test]
fn retention_drops_whole_segments_and_time_seek() {
    let mem = MemBackend::new();
    let be: Arc<dyn StorageBackend> = Arc::new(mem);
    let dir = Path::new("/s/r");
    let mut log = ShardLog::open(
        be,
        dir,
        LogConfig {
            segment_bytes: 200,
            index_interval_bytes: 10,
        },
        1,
    )
    .expect("open");
    for round in 0..10 {
        append_all(&mut log, &items(4, &format!("r{round}")));
    }
    let first_ts = read_all(&log)[0].arrival_ms;
    assert_eq!(
        first_at_time(&log.time_plan(first_ts), first_ts).expect("seek"),
        Some(1)
    );
    assert_eq!(
        first_at_time(&log.time_plan(i64::MAX), i64::MAX).expect("seek"),
        None
    );
    let n = log.drop_before(i64::MAX).expect("drop");
    assert!(n > 0);
    assert!(read_all(&log).is_empty());
    assert_eq!(log.first_counter(), 41);
    append_all(&mut log, &items(1, "z"));
    assert_eq!(read_all(&log)[0].counter, 41);
}

#[test]
fn sealed_segments_hold_descriptors_within_the_bound_and_reopen_to_read() {
    use super::sealed;
    let dir = tempfile::tempdir().expect("tempdir");
    let be: Arc<dyn StorageBackend> = Arc::new(crate::FileBackend);
    let cfg = LogConfig {
        // A few records per segment: hundreds of sealed segments from a small log.
        segment_bytes: 256,
        ..LogConfig::default()
    };
    let mut log = ShardLog::open(be.clone(), dir.path(), cfg.clone(), 1).expect("open");
    let n = (MAX_OPEN_SEALED + 100) * 6;
    for i in 0..n {
        let data = format!("record-{i:06}-padding-padding-padding");
        log.append(
            &[AppendItem {
                partition_key: "k",
                data: data.as_bytes(),
            }],
            None,
        )
        .expect("append");
    }
    assert!(
        log.segments.len() > MAX_OPEN_SEALED + 50,
        "{}",
        log.segments.len()
    );
    assert!(sealed::open_count() <= MAX_OPEN_SEALED);
    // Every record reads back, the early (closed) segments reopened on demand.
    let read_all = |log: &ShardLog| {
        let out = read_spans(&log.read_plan(1), 1, usize::MAX, usize::MAX).expect("read");
        out.records.len()
    };
    assert_eq!(read_all(&log), n);
    assert!(sealed::open_count() <= MAX_OPEN_SEALED);
    drop(log);
    // And after a restart, loading them does not keep them all open either.
    let log = ShardLog::open(be, dir.path(), cfg, 1).expect("reopen");
    assert!(sealed::open_count() <= MAX_OPEN_SEALED);
    assert_eq!(read_all(&log), n);
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A record frame as FORMAT.md lays it out, its CRC-32C computed outside Rust: what a segment
/// held before the log used `weir_support::framed`, and what it writes now.
const DOCUMENTED_FRAME: &str = "190000003c61b32107000000000000007b68e5cf8b0100000200706b68656c6c6f";

#[test]
fn segments_keep_the_documented_frame_bytes() {
    let mut batch = FrameBatch::with_capacity(LIMITS, 0);
    encode_frame(&mut batch, 7, 1_700_000_000_123, "pk", b"hello").expect("fits");
    assert_eq!(batch.bytes(), &unhex(DOCUMENTED_FRAME)[..]);
    // A segment written byte by byte to the format opens and serves its record.
    let mem = MemBackend::new();
    let be: Arc<dyn StorageBackend> = Arc::new(mem.clone());
    let dir = Path::new("/s/old");
    let f = be.open(&dir.join(seg_name(7))).expect("create");
    f.append(&segment_header(7, 1_700_000_000_000))
        .expect("header");
    f.append(&unhex(DOCUMENTED_FRAME)).expect("frame");
    f.sync().expect("sync");
    let log = ShardLog::open(be, dir, LogConfig::default(), 1).expect("open");
    let want = StoredRecord {
        counter: 7,
        arrival_ms: 1_700_000_000_123,
        partition_key: "pk".into(),
        data: b"hello".to_vec(),
    };
    assert_eq!(read_all(&log), vec![want]);
    assert_eq!(log.next_counter(), 8);
}

/// On real files a busy segment synced often is written ahead with zeros (`backend/disk_file.rs`): a
/// restart reads exactly the records, trims the zeros, and appends right after the last one;
/// a sealed segment holds no zeros.
#[test]
fn space_written_ahead_is_trimmed_on_reopen_and_at_seal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let be: Arc<dyn StorageBackend> = Arc::new(crate::FileBackend);
    let cfg = LogConfig {
        segment_bytes: 1 << 20,
        ..LogConfig::default()
    };
    let mut log = ShardLog::open(be.clone(), dir.path(), cfg.clone(), 1).expect("open");
    let payload = vec![b'x'; 900];
    let mut n = 0usize;
    // Enough for a roll and a busy second segment.
    while log.segments.len() < 2 || log.active().end < 300_000 {
        let items = vec![
            AppendItem {
                partition_key: "k",
                data: &payload,
            };
            10
        ];
        log.append(&items, None).expect("append");
        // Synced after each append, as with `fsync = "always"`: small syncs are what is
        // written ahead for.
        log.sync_handle().sync().expect("sync");
        n += 10;
    }
    let sealed = log.segments[0].path.clone();
    let active = log.active().path.clone();
    let sealed_end = log.segments[0].end;
    assert_eq!(
        std::fs::metadata(&sealed).expect("sealed").len(),
        sealed_end
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&active).expect("active").len() <= log.active().end {
        assert!(std::time::Instant::now() < deadline, "never written ahead");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let end = log.active().end;
    drop(log);

    let mut log = ShardLog::open(be, dir.path(), cfg, 1).expect("reopen");
    assert_eq!(std::fs::metadata(&active).expect("active").len(), end);
    let records = read_spans(&log.read_plan(1), 1, usize::MAX, usize::MAX)
        .expect("read")
        .records;
    assert_eq!(records.len(), n);
    assert_eq!(log.next_counter(), n as u64 + 1);
    let at = log
        .append(
            &[AppendItem {
                partition_key: "k",
                data: b"next",
            }],
            None,
        )
        .expect("append");
    assert_eq!(at[0].0, n as u64 + 1);
}
