//! Acknowledged means durable: puts answered under `fsync = "always"` survive a power cut
//! (the in-memory backend keeps only synced bytes), concurrent writers sharing the syncs of
//! the process-wide group commit; under the opt-in `interval` they do not.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use weir_streams::{
    shard_id, FsyncPolicy, GroupCommit, MemBackend, PutEntry, PutOutcome, StartPosition, Streams,
    StreamsConfig, MAX_GET_RECORDS,
};

fn cfg() -> StreamsConfig {
    let mut c = StreamsConfig::new("/weir");
    c.transition_delay = Duration::ZERO;
    c
}

fn entry(key: &str, data: &str) -> PutEntry {
    PutEntry {
        partition_key: key.into(),
        explicit_hash_key: None,
        data: data.as_bytes().to_vec(),
    }
}

/// Puts from `writers` threads into a 4-shard stream with `policy`, cuts the power (only
/// synced bytes stay), reopens, and returns (acknowledged, acknowledged and still there).
fn acknowledged_after_power_cut(policy: FsyncPolicy, writers: usize) -> (usize, usize) {
    let mem = MemBackend::new();
    let mut c = cfg();
    c.fsync = policy;
    let s = Streams::open_with_backend(c.clone(), Arc::new(mem.clone())).expect("open");
    s.create_stream("g", 4, false, BTreeMap::new())
        .expect("create");
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for n in 0..40 {
                    let batch: Vec<PutEntry> = (0..5)
                        .map(|k| entry(&format!("w{w}-{n}-{k}"), "v"))
                        .collect();
                    for (e, o) in batch.iter().zip(s.put_records("g", &batch).expect("put")) {
                        if matches!(o, PutOutcome::Ok { .. }) {
                            acked.push(e.partition_key.clone());
                        }
                    }
                }
                acked
            })
        })
        .collect();
    let acked: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("writer"))
        .collect();
    drop(s);
    mem.crash();
    let s = Streams::open_with_backend(c, Arc::new(mem.clone())).expect("reopen");
    let mut kept = BTreeSet::new();
    for i in 0..4 {
        let it = s
            .get_shard_iterator("g", &shard_id(i), &StartPosition::TrimHorizon)
            .expect("iterator");
        let page = s.get_records(&it, MAX_GET_RECORDS).expect("get");
        kept.extend(page.records.into_iter().map(|r| r.partition_key));
    }
    let survived = acked.iter().filter(|k| kept.contains(*k)).count();
    (acked.len(), survived)
}

#[test]
fn with_always_every_acknowledged_put_survives_a_power_cut_and_writers_share_syncs() {
    let before = GroupCommit::global().stats();
    let (acked, survived) = acknowledged_after_power_cut(FsyncPolicy::Always, 8);
    assert_eq!(acked, 8 * 40 * 5);
    assert_eq!(
        survived, acked,
        "acknowledged records lost at the power cut"
    );
    let after = GroupCommit::global().stats();
    // Other tests share the global committer, so only the totals' direction is checked:
    // every put asked for syncs, and the rounds took them.
    assert!(after.requests > before.requests && after.rounds > before.rounds);
}

#[test]
fn with_interval_acknowledged_puts_are_lost_at_a_power_cut() {
    // The opt-in policy answers before the sync: this is what `always` prevents.
    let (acked, survived) =
        acknowledged_after_power_cut(FsyncPolicy::Interval(Duration::from_secs(3600)), 2);
    assert_eq!(acked, 2 * 40 * 5);
    assert!(survived < acked, "{survived} of {acked} survived");
}

#[test]
fn always_is_the_default() {
    assert_eq!(cfg().fsync, FsyncPolicy::Always);
}
