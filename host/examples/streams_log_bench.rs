//! Raw append rate of one shard's log for each fsync policy, without HTTP.
//!
//! `log-bench [DIR] [SECONDS]` appends batches of 500 records of 100 bytes to one shard and
//! prints records/s and MB/s per policy. With `always`, every batch is fdatasync'ed before
//! the next (the PutRecords acknowledgement path).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use weir_streams::{FsyncPolicy, PutEntry, Streams, StreamsConfig};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    println!(
        "{:<10} {:>14} {:>10} {:>12}",
        "fsync", "records/s", "MB/s", "batches"
    );
    for (name, policy) in [
        ("always", FsyncPolicy::Always),
        ("interval", FsyncPolicy::Interval(Duration::from_millis(50))),
        ("never", FsyncPolicy::Never),
    ] {
        let dir = base.join(format!("weir-log-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cfg = StreamsConfig::new(&dir);
        cfg.fsync = policy;
        cfg.transition_delay = Duration::ZERO;
        let streams = Streams::open(cfg)?;
        streams.create_stream("bench", 1, false, BTreeMap::new())?;
        let batch: Vec<PutEntry> = (0..500)
            .map(|i| PutEntry {
                partition_key: format!("k{i}"),
                explicit_hash_key: None,
                data: vec![b'x'; 100],
            })
            .collect();
        let start = Instant::now();
        let mut batches = 0u64;
        while start.elapsed().as_secs_f64() < secs {
            streams.put_records("bench", &batch)?;
            batches += 1;
        }
        streams.sync_all()?;
        let el = start.elapsed().as_secs_f64();
        let records = batches as f64 * 500.0;
        println!(
            "{:<10} {:>14.0} {:>10.1} {:>12}",
            name,
            records / el,
            records * 100.0 / el / 1e6,
            batches
        );
        drop(streams);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
