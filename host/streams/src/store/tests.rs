//! The [`ShardStore`] contract, checked on both implementations, and what only the
//! in-memory store shows (counters assigned at settlement, in append order).

use std::sync::Arc;

use super::*;
use crate::log::LogConfig;
use crate::{FsyncPolicy, HashRange, MemBackend};

fn item<'a>(key: &'a str, data: &'a str) -> AppendItem<'a> {
    AppendItem {
        partition_key: key,
        data: data.as_bytes(),
    }
}

fn shard_meta(index: u64, start_counter: u64) -> ShardMeta {
    ShardMeta {
        index,
        range: HashRange {
            start: 0,
            end: u128::MAX,
        },
        parent: None,
        adjacent_parent: None,
        start_counter,
        end_counter: None,
        created_ms: 0,
        closed_ms: None,
    }
}

fn local(start: u64) -> Box<dyn ShardStore> {
    let shard = LocalShard::open(
        Arc::new(MemBackend::new()),
        "/s/0".as_ref(),
        LogConfig::default(),
        start,
        FsyncPolicy::Always,
    )
    .expect("open");
    Box::new(shard)
}

fn mem(start: u64) -> Box<dyn ShardStore> {
    MemStores::new()
        .open_shard(1, &shard_meta(0, start))
        .expect("open")
}

fn data(page: &ShardPage) -> Vec<String> {
    page.records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.data).into_owned())
        .collect()
}

/// Waits (a millisecond at a time) until the clock is past `ms`, so the next record
/// arrives later than the last one.
fn after(ms: i64) {
    while weir_support::now_ms() <= ms {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// What the engine relies on, whatever the store.
fn contract(store: &dyn ShardStore, start: u64) {
    const MAX: usize = 1 << 20;
    let mut rx = store.watch();
    rx.borrow_and_update();
    assert_eq!(store.tip().expect("tip"), start);
    assert_eq!(store.newest().expect("newest"), None);

    let pending = store
        .append(&[item("k", "a"), item("k", "b")], None)
        .expect("append");
    assert!(pending.needs_settle());
    let early = store.read(0, 10, MAX).expect("read");
    assert!(early.records.is_empty(), "served before settlement");
    assert!(early.reached_tip);
    let written = pending.settle().expect("settle");
    let counters: Vec<u64> = written.iter().map(|w| w.0).collect();
    assert_eq!(counters, [start, start + 1]);
    assert!(rx.has_changed().expect("watch"), "watchers woken");

    let page = store.read(0, 10, MAX).expect("read");
    assert_eq!(data(&page), ["a", "b"]);
    assert_eq!(
        page.start, start,
        "a read from 0 starts at the first record"
    );
    assert!(page.reached_tip);
    assert_eq!(page.newest_arrival_ms, Some(written[1].1));
    let first = store.read(0, 1, MAX).expect("read");
    assert_eq!(data(&first), ["a"]);
    assert!(!first.reached_tip);
    assert_eq!(
        data(&store.read(start + 1, 10, 0).expect("read")),
        ["b"],
        "at least one record whatever max_bytes"
    );

    // SequenceNumberForOrdering raises the counter.
    after(written[1].1);
    let c = store
        .append(&[item("k", "c")], Some(start + 100))
        .expect("append")
        .settle()
        .expect("settle");
    assert_eq!(c[0].0, start + 100);
    assert!(c[0].1 > written[1].1);
    assert_eq!(store.tip().expect("tip"), start + 101);
    assert_eq!(store.newest().expect("newest"), Some(c[0]));

    // AT_TIMESTAMP: the first record at or after the time, or the tip.
    assert_eq!(store.counter_at_time(0).expect("time"), start);
    assert_eq!(store.counter_at_time(c[0].1).expect("time"), start + 100);
    assert_eq!(
        store.counter_at_time(c[0].1 + 1).expect("time"),
        start + 101
    );

    // The fence: settles what came before, refuses what comes after, until unsealed.
    let staged = store.append(&[item("k", "d")], None).expect("append");
    let end = store.seal().expect("seal");
    assert_eq!(
        end,
        start + 102,
        "the end covers the append staged before it"
    );
    assert!(matches!(
        store.append(&[item("k", "e")], None),
        Err(StreamsError::Sealed(_))
    ));
    assert_eq!(staged.settle().expect("settle")[0].0, start + 101);
    store.unseal().expect("unseal");
    store
        .append(&[item("k", "e")], None)
        .expect("append")
        .settle()
        .expect("settle");

    // Retention drops what arrived before the cutoff; the counter survives.
    let newest = store.newest().expect("newest").expect("records");
    assert!(store.expire(0).is_ok());
    assert_eq!(store.read(0, 10, MAX).expect("read").records.len(), 5);
    assert!(store.expire(newest.1 + 1).expect("expire") > 0);
    assert_eq!(store.newest().expect("newest"), None);
    let empty = store.read(0, 10, MAX).expect("read");
    assert!(empty.records.is_empty());
    assert_eq!(empty.start, start + 103);
    assert_eq!(store.tip().expect("tip"), start + 103);
    let next = store
        .append(&[item("k", "f")], None)
        .expect("append")
        .settle()
        .expect("settle");
    assert_eq!(next[0].0, start + 103);
}

#[test]
fn local_shard_keeps_the_store_contract() {
    contract(&*local(7), 7);
}

#[test]
fn mem_shard_keeps_the_store_contract() {
    contract(&*mem(7), 7);
}

/// Counters are assigned at settlement, in append order: settling a later append first
/// settles the earlier ones (a server acknowledges a stream's publishes in order).
#[test]
fn mem_counters_come_with_settlement_in_append_order() {
    let store = mem(0);
    let a = store.append(&[item("k", "a")], None).expect("append");
    let b = store.append(&[item("k", "b")], None).expect("append");
    assert_eq!(a.counters(), None, "no counter before settlement");
    assert_eq!(store.tip().expect("tip"), 0);
    assert_eq!(b.settle().expect("settle")[0].0, 1);
    assert_eq!(a.settle().expect("settle")[0].0, 0);
    // A dropped append is stored all the same (nobody waited for its acknowledgement).
    drop(store.append(&[item("k", "c")], None).expect("append"));
    assert_eq!(
        data(&store.read(0, 10, 1 << 20).expect("read")),
        ["a", "b", "c"]
    );
}

/// A refused settlement fails, and its records are not stored.
#[test]
fn mem_refused_settlement_stores_nothing() {
    let stores = MemStores::new();
    let store = stores.open_shard(1, &shard_meta(0, 0)).expect("open");
    let p = store.append(&[item("k", "a")], None).expect("append");
    stores.refuse_settlements(true);
    assert!(p.settle().is_err());
    stores.refuse_settlements(false);
    assert!(store.read(0, 10, 1 << 20).expect("read").records.is_empty());
    assert_eq!(store.tip().expect("tip"), 0);
}

/// The local settlement is the group commit: with `fsync = "always"` a settled append is
/// what a power cut keeps.
#[test]
fn local_settled_appends_survive_a_power_cut() {
    let backend = MemBackend::new();
    let open = |b: &MemBackend| {
        LocalShard::open(
            Arc::new(b.clone()),
            "/s/0".as_ref(),
            LogConfig::default(),
            0,
            FsyncPolicy::Always,
        )
        .expect("open")
    };
    let shard = open(&backend);
    let settled = shard.append(&[item("k", "kept")], None).expect("append");
    PendingAppend::settle_all(vec![settled])
        .pop()
        .expect("outcome")
        .expect("settled");
    let _unsettled = shard.append(&[item("k", "lost")], None).expect("append");
    drop(shard);
    backend.crash();
    let page = open(&backend).read(0, 10, 1 << 20).expect("read");
    assert_eq!(data(&page), ["kept"]);
}

/// At open the engine sweeps what the catalog does not name; the in-memory stores then
/// start those shards afresh.
#[test]
fn mem_sweep_removes_what_the_catalog_does_not_name() {
    let stores = MemStores::new();
    for (uid, index) in [(1, 0), (1, 5), (2, 0)] {
        stores
            .open_shard(uid, &shard_meta(index, 0))
            .expect("open")
            .append(&[item("k", "x")], None)
            .expect("append")
            .settle()
            .expect("settle");
    }
    let meta = StreamMeta {
        name: "s".into(),
        uid: 1,
        created_ms: 0,
        retention_hours: 24,
        on_demand: false,
        shards: vec![shard_meta(0, 0)],
        next_shard_index: 1,
        tags: BTreeMap::new(),
        scaling_ops_ms: Vec::new(),
        settings: Default::default(),
    };
    stores.sweep(&BTreeMap::from([(1, meta)])).expect("sweep");
    let kept = |uid, index| {
        stores
            .open_shard(uid, &shard_meta(index, 0))
            .expect("open")
            .tip()
            .expect("tip")
    };
    assert_eq!(kept(1, 0), 1, "named in the catalog: kept");
    assert_eq!(kept(1, 5), 0, "a shard the catalog does not name: removed");
    assert_eq!(kept(2, 0), 0, "a stream the catalog does not name: removed");
}
