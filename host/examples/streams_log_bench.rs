//! Raw append rate of one shard's log for each fsync policy, without HTTP.
//!
//! `streams_log_bench [DIR] [SECONDS] [WRITERS]` puts batches of 500 records of 100 bytes into
//! a one-shard stream and prints records/s, MB/s and the put latency (p50/p99) per policy, in
//! three shapes:
//!
//! - `waits`, one writer: each put returns only after the fdatasync that covers it (the
//!   PutRecords acknowledgement path of a single synchronous API client), and the next put
//!   starts after it. Nothing can share that sync, so this row is bound by the disk's flush
//!   latency, not by the log.
//! - `piped`, one writer: the `kinesis` rule action's path (`runtime/kinesis_local.rs`). The
//!   writer appends with `put_records_unsynced` and hands each put to a syncer thread, at most
//!   4 in flight; the syncer settles everything queued in one group-commit round. Latency is
//!   from the append to the settlement (when the action may acknowledge).
//! - `waits`, WRITERS (default 8) writers: concurrent API connections, sharing syncs through
//!   the group commit, whose syncs are printed.
//!
//! Figures (2-core VM, ext4 on virtio; `cargo run --release -p weir-host --example
//! streams_log_bench -- /tmp 3 8`) are kept in `host/benches/README.md`.

use std::collections::BTreeMap;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use weir_streams::{FsyncPolicy, GroupCommit, PendingPut, PutEntry, Streams, StreamsConfig};

/// Puts whose sync may be outstanding at once in the `piped` shape (the action's `IN_FLIGHT`).
const IN_FLIGHT: usize = 4;

/// How the writers wait for their puts.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// Each put waits for its sync before the next starts.
    Waits,
    /// One writer appends; a syncer thread settles, as the `kinesis` action does.
    Piped,
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let writers: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(8);
    println!(
        "{:<10} {:>6} {:>7} {:>12} {:>8} {:>9} {:>9} {:>10} {:>8}",
        "fsync", "shape", "writers", "records/s", "MB/s", "p50 ms", "p99 ms", "puts", "syncs"
    );
    for (shape, w) in [
        (Shape::Waits, 1),
        (Shape::Piped, 1),
        (Shape::Waits, writers),
    ] {
        for (name, policy) in [
            ("always", FsyncPolicy::Always),
            ("interval", FsyncPolicy::Interval(Duration::from_millis(50))),
            ("never", FsyncPolicy::Never),
        ] {
            run(&base, name, policy, shape, w, secs)?;
        }
    }
    Ok(())
}

fn run(
    base: &std::path::Path,
    name: &str,
    policy: FsyncPolicy,
    shape: Shape,
    writers: usize,
    secs: f64,
) -> anyhow::Result<()> {
    let dir = base.join(format!("weir-log-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = StreamsConfig::new(&dir);
    cfg.fsync = policy;
    cfg.transition_delay = Duration::ZERO;
    let streams = Streams::open(cfg)?;
    streams.create_stream("bench", 1, false, BTreeMap::new())?;
    let batch: Arc<Vec<PutEntry>> = Arc::new(
        (0..500)
            .map(|i| PutEntry {
                partition_key: format!("k{i}"),
                explicit_hash_key: None,
                data: vec![b'x'; 100],
            })
            .collect(),
    );
    let sync0 = GroupCommit::global().stats();
    let start = Instant::now();
    let mut lat = if shape == Shape::Piped {
        piped(&streams, &batch, secs)?
    } else {
        waits(&streams, &batch, writers, secs)?
    };
    streams.sync_all()?;
    let el = start.elapsed().as_secs_f64();
    let sync1 = GroupCommit::global().stats();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |us| f64::from(*us) / 1000.0)
    };
    let records = lat.len() as f64 * 500.0;
    println!(
        "{:<10} {:>6} {:>7} {:>12.0} {:>8.1} {:>9.2} {:>9.2} {:>10} {:>8}",
        name,
        if shape == Shape::Piped {
            "piped"
        } else {
            "waits"
        },
        writers,
        records / el,
        records * 100.0 / el / 1e6,
        pct(0.5),
        pct(0.99),
        lat.len(),
        sync1.syncs - sync0.syncs,
    );
    drop(streams);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// `writers` threads, each putting and waiting for its put; the latencies in microseconds.
fn waits(
    streams: &Streams,
    batch: &Arc<Vec<PutEntry>>,
    writers: usize,
    secs: f64,
) -> anyhow::Result<Vec<u32>> {
    let barrier = Arc::new(Barrier::new(writers + 1));
    let threads: Vec<_> = (0..writers)
        .map(|_| {
            let (streams, batch, barrier) = (streams.clone(), batch.clone(), barrier.clone());
            std::thread::spawn(move || -> anyhow::Result<Vec<u32>> {
                let mut lat_us = Vec::new();
                barrier.wait();
                let start = Instant::now();
                while start.elapsed().as_secs_f64() < secs {
                    let t = Instant::now();
                    streams.put_records("bench", &batch)?;
                    lat_us.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
                Ok(lat_us)
            })
        })
        .collect();
    barrier.wait();
    let mut lat = Vec::new();
    for t in threads {
        lat.extend(
            t.join()
                .map_err(|_| anyhow::anyhow!("a writer panicked"))??,
        );
    }
    Ok(lat)
}

/// One writer appending and a syncer thread settling, at most [`IN_FLIGHT`] puts apart; the
/// latencies (append to settlement) in microseconds.
fn piped(streams: &Streams, batch: &[PutEntry], secs: f64) -> anyhow::Result<Vec<u32>> {
    let (tx, rx) = sync_channel::<(Instant, PendingPut)>(IN_FLIGHT);
    let syncer = std::thread::spawn(move || -> anyhow::Result<Vec<u32>> {
        let mut lat_us = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut round = vec![first];
            round.extend(rx.try_iter());
            let (starts, puts): (Vec<Instant>, Vec<PendingPut>) = round.into_iter().unzip();
            for outcomes in PendingPut::sync_all(puts) {
                anyhow::ensure!(
                    outcomes
                        .iter()
                        .all(|o| matches!(o, weir_streams::PutOutcome::Ok { .. })),
                    "a put failed: {:?}",
                    outcomes
                        .iter()
                        .find(|o| !matches!(o, weir_streams::PutOutcome::Ok { .. }))
                );
            }
            let now = Instant::now();
            lat_us.extend(
                starts
                    .iter()
                    .map(|t| u32::try_from((now - *t).as_micros()).unwrap_or(u32::MAX)),
            );
        }
        Ok(lat_us)
    });
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        let t = Instant::now();
        let put = streams.put_records_unsynced("bench", batch)?;
        if tx.send((t, put)).is_err() {
            break;
        }
    }
    drop(tx);
    syncer
        .join()
        .map_err(|_| anyhow::anyhow!("the syncer panicked"))?
}
