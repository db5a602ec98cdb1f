//! Model-based property test: random puts, splits, merges, shard-count updates and
//! restarts (with a simulated power cut) against an in-memory model. Reading every shard
//! through the lineage (parents to SHARD_END before children, discovered through
//! `ChildShards`) must yield each key's records in put order, each exactly once.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use weir_streams::log::LogConfig;
use weir_streams::{
    FsyncPolicy, MemBackend, PutEntry, PutOutcome, StartPosition, Streams, StreamsConfig,
    StreamsError,
};

#[derive(Debug, Clone)]
enum Op {
    Put { key: u8, n: u8 },
    Split { pick: u8, frac: u8 },
    Merge { pick: u8 },
    Scale { up: bool },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..12, 1u8..6).prop_map(|(key, n)| Op::Put { key, n }),
        2 => (any::<u8>(), 1u8..255).prop_map(|(pick, frac)| Op::Split { pick, frac }),
        2 => any::<u8>().prop_map(|pick| Op::Merge { pick }),
        1 => any::<bool>().prop_map(|up| Op::Scale { up }),
        1 => Just(Op::Restart),
    ]
}

fn config() -> StreamsConfig {
    let mut c = StreamsConfig::new("/model");
    c.transition_delay = Duration::ZERO;
    c.fsync = FsyncPolicy::Always;
    c.log = LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 64,
    };
    c
}

/// Reads the whole stream in lineage order; returns key -> payloads in read order.
fn read_lineage(s: &Streams) -> BTreeMap<String, Vec<String>> {
    let info = s.describe_stream("m").expect("describe");
    let parents: HashMap<String, Vec<String>> = info
        .shards
        .iter()
        .map(|sh| {
            let p: Vec<String> = sh
                .parent_shard_id
                .iter()
                .chain(sh.adjacent_parent_shard_id.iter())
                .cloned()
                .collect();
            (sh.shard_id.clone(), p)
        })
        .collect();
    let mut done: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<String> = info
        .shards
        .iter()
        .filter(|sh| sh.parent_shard_id.is_none())
        .map(|sh| sh.shard_id.clone())
        .collect();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut guard = 0;
    while let Some(shard) = queue.pop_front() {
        guard += 1;
        assert!(guard < 10_000, "lineage walk does not terminate");
        if done.contains(&shard) {
            continue;
        }
        if !parents[&shard].iter().all(|p| done.contains(p)) {
            queue.push_back(shard);
            continue;
        }
        let mut it = s
            .get_shard_iterator("m", &shard, &StartPosition::TrimHorizon)
            .expect("iterator");
        loop {
            let page = s.get_records(&it, 7).expect("get records");
            let empty = page.records.is_empty();
            for r in page.records {
                out.entry(r.partition_key)
                    .or_default()
                    .push(String::from_utf8(r.data).expect("utf8"));
            }
            match page.next_iterator {
                None => {
                    for c in page.child_shards.unwrap_or_default() {
                        queue.push_back(c.shard_id);
                    }
                    break;
                }
                Some(n) if !empty => it = n,
                Some(_) => break, // open shard read to its tip
            }
        }
        done.insert(shard);
    }
    assert_eq!(
        done.len(),
        info.shards.len(),
        "every shard reachable through the lineage"
    );
    out
}

proptest! {
    // 48 cases by default (a few hundred ms); PROPTEST_CASES raises it for a soak.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn per_key_order_survives_resharding_and_restarts(ops in proptest::collection::vec(op(), 1..40)) {
        let mem = MemBackend::new();
        let mut s = Streams::open_with_backend(config(), Arc::new(mem.clone())).expect("open");
        s.create_stream("m", 2, false, BTreeMap::new()).expect("create");
        let mut model: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut counter = 0u32;
        for op in ops {
            match op {
                Op::Put { key, n } => {
                    let k = format!("key-{key}•");
                    let entries: Vec<PutEntry> = (0..n)
                        .map(|_| {
                            counter += 1;
                            PutEntry { partition_key: k.clone(), explicit_hash_key: None, data: format!("v{counter}").into_bytes() }
                        })
                        .collect();
                    let out = s.put_records("m", &entries).expect("put");
                    for (e, o) in entries.iter().zip(out) {
                        prop_assert!(matches!(o, PutOutcome::Ok { .. }), "put failed: {:?}", o);
                        model.entry(k.clone()).or_default().push(String::from_utf8(e.data.clone()).expect("utf8"));
                    }
                }
                Op::Split { pick, frac } => {
                    let info = s.describe_stream("m").expect("describe");
                    let open: Vec<_> = info.shards.iter().filter(|x| x.ending_sequence_number.is_none()).collect();
                    let sh = open[pick as usize % open.len()];
                    let (a, b) = (sh.hash_range.start, sh.hash_range.end);
                    let key = a + (b - a) / 256 * u128::from(frac);
                    match s.split_shard("m", &sh.shard_id, key) {
                        Ok(()) | Err(StreamsError::InvalidArgument(_)) | Err(StreamsError::LimitExceeded(_)) => {}
                        Err(e) => prop_assert!(false, "split: {e}"),
                    }
                }
                Op::Merge { pick } => {
                    let info = s.describe_stream("m").expect("describe");
                    let mut open: Vec<_> = info.shards.iter().filter(|x| x.ending_sequence_number.is_none()).collect();
                    open.sort_by_key(|x| x.hash_range.start);
                    if open.len() >= 2 {
                        let i = pick as usize % (open.len() - 1);
                        s.merge_shards("m", &open[i + 1].shard_id, &open[i].shard_id).expect("merge adjacent");
                    }
                }
                Op::Scale { up } => {
                    let cur = s.describe_stream("m").expect("describe").open_shard_count as u32;
                    let target = if up { (cur + 1).min(cur * 2) } else { cur.div_ceil(2).max(1) };
                    match s.update_shard_count("m", target) {
                        Ok(_) | Err(StreamsError::LimitExceeded(_)) => {}
                        Err(e) => prop_assert!(false, "scale {cur}->{target}: {e}"),
                    }
                }
                Op::Restart => {
                    drop(s);
                    mem.crash();
                    s = Streams::open_with_backend(config(), Arc::new(mem.clone())).expect("reopen");
                }
            }
        }
        let got = read_lineage(&s);
        prop_assert_eq!(got, model);
    }
}
