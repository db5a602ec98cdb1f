//! Raw append rate of one shard's log for each fsync policy, without HTTP.
//!
//! `streams_log_bench [DIR] [SECONDS] [WRITERS]` puts batches of 500 records of 100 bytes into
//! a one-shard stream and prints records/s, MB/s and the put latency (p50/p99) per policy,
//! once with one writer and once with WRITERS (default 8) concurrent writers, as an API server
//! with several connections has. With `always` every put returns only after the fdatasync
//! that covers it (the PutRecords acknowledgement path); concurrent writers share those syncs
//! through the group commit, whose rounds and syncs are printed.
//!
//! Figures (2-core VM, ext4 on virtio; `cargo run --release -p weir-host --example
//! streams_log_bench -- /tmp 3 8`) are kept in `host/benches/README.md`.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use weir_streams::{FsyncPolicy, GroupCommit, PutEntry, Streams, StreamsConfig};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let writers: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(8);
    println!(
        "{:<10} {:>7} {:>12} {:>8} {:>9} {:>9} {:>10} {:>8}",
        "fsync", "writers", "records/s", "MB/s", "p50 ms", "p99 ms", "puts", "syncs"
    );
    for w in [1, writers] {
        for (name, policy) in [
            ("always", FsyncPolicy::Always),
            ("interval", FsyncPolicy::Interval(Duration::from_millis(50))),
            ("never", FsyncPolicy::Never),
        ] {
            run(&base, name, policy, w, secs)?;
        }
    }
    Ok(())
}

fn run(
    base: &std::path::Path,
    name: &str,
    policy: FsyncPolicy,
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
    let start = Instant::now();
    let mut lat = Vec::new();
    for t in threads {
        lat.extend(
            t.join()
                .map_err(|_| anyhow::anyhow!("a writer panicked"))??,
        );
    }
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
        "{:<10} {:>7} {:>12.0} {:>8.1} {:>9.2} {:>9.2} {:>10} {:>8}",
        name,
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
