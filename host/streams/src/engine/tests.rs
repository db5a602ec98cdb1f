//! Engine-level tests. The behavioural ones run on both stores (`on_both_stores!`): the
//! local log on the in-memory file system, and the in-memory stores whose counters come
//! with settlement, so the engine is shown to reach its records only through the boundary.
//! The crash and fsync tests are the local log's own.

use super::*;
use std::path::Path;

/// The stores a behavioural test runs on.
#[derive(Clone)]
enum Store {
    /// The local log on a file system that loses what was not synced at a crash.
    Local(MemBackend),
    /// `MemStores`: counters assigned at settlement, in append order.
    Mem(MemStores),
}

impl Store {
    fn local() -> Store {
        Store::Local(MemBackend::new())
    }

    fn mem() -> Store {
        Store::Mem(MemStores::new())
    }

    fn open_with(&self, c: StreamsConfig) -> Streams {
        match self {
            Store::Local(b) => Streams::open_with_backend(c, Arc::new(b.clone())),
            Store::Mem(m) => Streams::open_with_stores(c, Arc::new(m.clone())),
        }
        .expect("open")
    }

    fn open(&self) -> Streams {
        self.open_with(cfg())
    }

    /// A power cut: the local log loses what was not synced; settled records in the
    /// in-memory stores are kept (as a cluster keeps what it acknowledged).
    fn crash(&self) {
        if let Store::Local(b) = self {
            b.crash();
        }
    }
}

/// `name::local` and `name::mem` for each behavioural test `fn name(store: Store)`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn local() {
                super::$name(super::Store::local())
            }
            #[test]
            fn mem() {
                super::$name(super::Store::mem())
            }
        }
    )*};
}

on_both_stores!(
    create_put_read_and_restart,
    iterators_positions,
    split_merge_lineage_and_shard_end,
    retention_tags_and_ensure,
    creating_status_is_observable,
    throughput_emulation_throttles_per_record,
    expired_closed_shards_disappear,
    old_iterators_expire_and_engine_guards_keys,
    list_shards_filters_by_retention_and_lineage,
    sequence_numbers_rise_across_a_reshard,
    a_put_started_before_a_split_lands_before_the_parents_end,
    at_timestamp_starts_at_the_first_later_record,
    an_unsettled_put_is_answered_and_served_only_after_sync_all,
);

fn cfg() -> StreamsConfig {
    let mut c = StreamsConfig::new("/weir");
    c.transition_delay = Duration::ZERO;
    c.fsync = FsyncPolicy::Always;
    c
}

fn entry(key: &str, data: &str) -> PutEntry {
    PutEntry {
        partition_key: key.into(),
        explicit_hash_key: None,
        data: data.as_bytes().to_vec(),
    }
}

fn read_shard(s: &Streams, stream: &str, shard: &str) -> (Vec<RecordOut>, Option<Vec<ChildShard>>) {
    let mut it = s
        .get_shard_iterator(stream, shard, &StartPosition::TrimHorizon)
        .expect("iterator");
    let mut out = Vec::new();
    for _ in 0..100 {
        let page = s.get_records(&it, 3).expect("get");
        let empty = page.records.is_empty();
        out.extend(page.records);
        match page.next_iterator {
            None => return (out, page.child_shards),
            Some(n) => it = n,
        }
        if empty {
            return (out, None);
        }
    }
    (out, None)
}

fn create_put_read_and_restart(st: Store) {
    let s = st.open();
    s.create_stream("a", 3, false, BTreeMap::new())
        .expect("create");
    assert!(matches!(
        s.create_stream("a", 1, false, BTreeMap::new()),
        Err(StreamsError::InUse(_))
    ));
    let out = s
        .put_records(
            "a",
            &[
                entry("95B•140", "x"),
                entry("k2", "y"),
                entry("95B•140", "z"),
            ],
        )
        .expect("put");
    let PutOutcome::Ok {
        shard_id: sid,
        sequence_number: s1,
    } = &out[0]
    else {
        panic!("{out:?}")
    };
    let PutOutcome::Ok {
        sequence_number: s3,
        ..
    } = &out[2]
    else {
        panic!("{out:?}")
    };
    assert!(s1 < s3);
    let (recs, _) = read_shard(&s, "a", sid);
    let mine: Vec<_> = recs
        .iter()
        .filter(|r| r.partition_key == "95B•140")
        .map(|r| r.data.clone())
        .collect();
    assert_eq!(mine, vec![b"x".to_vec(), b"z".to_vec()]);
    drop(s);
    st.crash();
    let s = st.open();
    let (again, _) = read_shard(&s, "a", sid);
    assert_eq!(again, recs);
    // new records keep increasing sequence numbers
    let (_, seq) = s
        .put_record("a", &entry("95B•140", "w"), None)
        .expect("put");
    assert!(seq > *s3);
}

fn iterators_positions(st: Store) {
    let s = st.open();
    s.create_stream("p", 1, false, BTreeMap::new())
        .expect("create");
    let sh = shard_id(0);
    let mut seqs = Vec::new();
    for i in 0..5 {
        seqs.push(
            s.put_record("p", &entry("k", &i.to_string()), None)
                .expect("put")
                .1,
        );
    }
    let latest = s
        .get_shard_iterator("p", &sh, &StartPosition::Latest)
        .expect("it");
    assert!(s.get_records(&latest, 10).expect("get").records.is_empty());
    let at = s
        .get_shard_iterator("p", &sh, &StartPosition::AtSequence(seqs[2].clone()))
        .expect("it");
    assert_eq!(s.get_records(&at, 10).expect("get").records[0].data, b"2");
    let after = s
        .get_shard_iterator("p", &sh, &StartPosition::AfterSequence(seqs[2].clone()))
        .expect("it");
    assert_eq!(
        s.get_records(&after, 10).expect("get").records[0].data,
        b"3"
    );
    let ts = s
        .get_shard_iterator("p", &sh, &StartPosition::AtTimestamp(0))
        .expect("it");
    assert_eq!(s.get_records(&ts, 10).expect("get").records.len(), 5);
    assert!(matches!(
        s.get_shard_iterator("p", &sh, &StartPosition::AtTimestamp(now_ms() + 100_000)),
        Err(StreamsError::InvalidArgument(_))
    ));
    let other = SeqNo::new(1, 7).encode();
    assert!(matches!(
        s.get_shard_iterator("p", &sh, &StartPosition::AtSequence(other)),
        Err(StreamsError::InvalidArgument(_))
    ));
    // ordering
    let (_, a) = s
        .put_record("p", &entry("k", "o1"), Some(&SeqNo::new(1000, 0).encode()))
        .expect("put");
    assert!(SeqNo::decode(&a).expect("seq").counter > 1000);
    assert!(matches!(
        s.get_records("AAAA", 1),
        Err(StreamsError::InvalidArgument(_))
    ));
    // limit on records
    let page = s.get_records(&ts, 2).expect("get");
    assert_eq!(page.records.len(), 2);
    assert!(page.millis_behind_latest >= 0);
}

fn split_merge_lineage_and_shard_end(st: Store) {
    let s = st.open();
    s.create_stream("r", 2, false, BTreeMap::new())
        .expect("create");
    s.put_records("r", &[entry("a", "1"), entry("b", "1")])
        .expect("put");
    let mid = hashkey::even_ranges(2)[0].end / 2;
    s.split_shard("r", &shard_id(0), mid).expect("split");
    assert!(matches!(
        s.split_shard("r", &shard_id(0), mid),
        Err(StreamsError::InUse(_))
    ));
    assert!(matches!(
        s.split_shard("r", &shard_id(1), 1),
        Err(StreamsError::InvalidArgument(_))
    ));
    let d = s.describe_stream("r").expect("describe");
    assert_eq!(d.shards.len(), 4);
    assert_eq!(
        d.shards[2].parent_shard_id.as_deref(),
        Some("shardId-000000000000")
    );
    assert!(d.shards[0].ending_sequence_number.is_some());
    assert!(matches!(
        s.merge_shards("r", &shard_id(2), &shard_id(1)),
        Err(StreamsError::InvalidArgument(_))
    ));
    s.merge_shards("r", &shard_id(3), &shard_id(1))
        .expect("merge");
    let d = s.describe_stream("r").expect("describe");
    assert_eq!(
        d.shards[4].parent_shard_id.as_deref(),
        Some("shardId-000000000003")
    );
    assert_eq!(
        d.shards[4].adjacent_parent_shard_id.as_deref(),
        Some("shardId-000000000001")
    );
    assert_eq!(d.open_shard_count, 2);
    let (_, kids) = read_shard(&s, "r", &shard_id(0));
    let kids = kids.expect("children at shard end");
    assert_eq!(kids.len(), 2);
    // restart keeps topology
    drop(s);
    let s = st.open();
    assert_eq!(s.describe_stream("r").expect("d").shards.len(), 5);
    let (cur, target) = s.update_shard_count("r", 4).expect("scale");
    assert_eq!((cur, target), (2, 4));
    let d = s.describe_stream("r").expect("describe");
    let mut open: Vec<_> = d
        .shards
        .iter()
        .filter(|x| x.ending_sequence_number.is_none())
        .collect();
    open.sort_by_key(|x| x.hash_range.start);
    assert_eq!(open.len(), 4);
    let even = hashkey::even_ranges(4);
    for (o, e) in open.iter().zip(&even) {
        assert_eq!(o.hash_range, *e);
    }
    assert!(matches!(
        s.update_shard_count("r", 9),
        Err(StreamsError::InvalidArgument(_))
    ));
    s.update_shard_count("r", 3).expect("scale down");
    assert_eq!(s.describe_stream("r").expect("d").open_shard_count, 3);
}

fn retention_tags_and_ensure(st: Store) {
    let s = st.open();
    let info = s.ensure_stream("cfg", 2, 48).expect("ensure");
    assert_eq!(info.status, StreamStatus::Active);
    assert_eq!(info.retention_hours, 48);
    s.ensure_stream("cfg", 2, 72).expect("ensure again");
    assert_eq!(s.describe_stream("cfg").expect("d").retention_hours, 72);
    assert!(matches!(
        s.set_retention("cfg", 24, true),
        Err(StreamsError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.set_retention("cfg", 8761, true),
        Err(StreamsError::InvalidArgument(_))
    ));
    s.set_retention("cfg", 24, false).expect("decrease");
    let mut tags = BTreeMap::new();
    tags.insert("k".to_string(), "v".to_string());
    s.add_tags("cfg", tags).expect("tags");
    assert_eq!(s.tags("cfg").expect("tags").len(), 1);
    s.remove_tags("cfg", &["k".to_string()]).expect("rm");
    assert!(s.tags("cfg").expect("tags").is_empty());
    s.put_record("cfg", &entry("k", "old"), None).expect("put");
    s.enforce_retention(now_ms() + 25 * 3600 * 1000)
        .expect("retention");
    let (recs, _) = read_shard(&s, "cfg", &shard_id(0));
    let (recs1, _) = read_shard(&s, "cfg", &shard_id(1));
    assert!(recs.is_empty() && recs1.is_empty());
    s.delete_stream("cfg").expect("delete");
    assert!(matches!(
        s.describe_stream("cfg"),
        Err(StreamsError::NotFound(_))
    ));
}

fn creating_status_is_observable(st: Store) {
    let mut c = cfg();
    c.transition_delay = Duration::from_secs(60);
    let s = st.open_with(c);
    s.create_stream("slow", 1, false, BTreeMap::new())
        .expect("create");
    assert_eq!(
        s.describe_stream("slow").expect("d").status,
        StreamStatus::Creating
    );
    assert!(matches!(
        s.put_record("slow", &entry("k", "v"), None),
        Err(StreamsError::NotFound(_))
    ));
}

fn throughput_emulation_throttles_per_record(st: Store) {
    let mut c = cfg();
    c.throughput_limits = true;
    let s = st.open_with(c);
    s.create_stream("t", 1, false, BTreeMap::new())
        .expect("create");
    let batch: Vec<PutEntry> = (0..500).map(|i| entry("k", &i.to_string())).collect();
    let mut throttled = 0;
    for _ in 0..3 {
        throttled += s
            .put_records("t", &batch)
            .expect("put")
            .iter()
            .filter(|o| matches!(o, PutOutcome::Throttled { .. }))
            .count();
    }
    assert!(throttled >= 200, "throttled {throttled}");
}

#[tokio::test]
async fn subscription_wakes_and_deaggregates_local() {
    subscription_wakes_and_deaggregates(Store::local()).await
}

#[tokio::test]
async fn subscription_wakes_and_deaggregates_mem() {
    subscription_wakes_and_deaggregates(Store::mem()).await
}

async fn subscription_wakes_and_deaggregates(st: Store) {
    let s = st.open();
    s.create_stream("sub", 1, false, BTreeMap::new())
        .expect("create");
    let mut sub = s
        .subscribe("sub", &shard_id(0), StartPosition::Latest)
        .expect("subscribe");
    let writer = s.clone();
    let agg = kpl::tests::build_aggregate(
        &["95B•140", "x"],
        &[(0, None, b"one"), (1, None, b"two")],
        &[],
    );
    let task = tokio::spawn(async move {
        writer
            .put_record("sub", &entry("plain", "p"), None)
            .expect("put");
        writer
            .put_record(
                "sub",
                &PutEntry {
                    partition_key: "agg".into(),
                    explicit_hash_key: None,
                    data: agg,
                },
                None,
            )
            .expect("put");
    });
    let mut got = Vec::new();
    while got.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("woken")
            .expect("next");
        match ev {
            SubscriptionEvent::Records(r) => got.extend(r),
            SubscriptionEvent::ShardEnd { .. } => panic!("unexpected end"),
        }
    }
    task.await.expect("writer");
    assert_eq!(got[0].data, b"p");
    assert_eq!(got[1].partition_key, "95B•140");
    assert_eq!(got[1].sub_sequence_number, Some(0));
    assert_eq!(got[2].data, b"two");
    assert_eq!(got[1].sequence_number, got[2].sequence_number);
    // split: the subscription sees the shard end and the children
    s.split_shard("sub", &shard_id(0), 1u128 << 100)
        .expect("split");
    let ev = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("woken")
        .expect("next");
    match ev {
        SubscriptionEvent::ShardEnd { child_shards } => assert_eq!(child_shards.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn failing_backend_reports_internal_failure_and_recovers() {
    for budget in [5u64, 20, 40, 60] {
        let mem = MemBackend::new();
        let fail = FailingBackend::new(Arc::new(mem.clone()), budget);
        let mut acked: Vec<String> = Vec::new();
        if let Ok(s) = Streams::open_with_backend(cfg(), Arc::new(fail.clone())) {
            if s.create_stream("f", 1, false, BTreeMap::new()).is_ok() {
                for i in 0..30 {
                    if let Ok(out) = s.put_records("f", &[entry("k", &format!("v{i}"))]) {
                        if let PutOutcome::Ok { .. } = out[0] {
                            acked.push(format!("v{i}"));
                        }
                    }
                }
            }
        }
        mem.crash();
        let s = Streams::open_with_backend(cfg(), Arc::new(mem)).expect("recover");
        if s.describe_stream("f").is_err() {
            assert!(acked.is_empty());
            continue;
        }
        let (recs, _) = read_shard(&s, "f", &shard_id(0));
        let got: Vec<String> = recs
            .iter()
            .map(|r| String::from_utf8_lossy(&r.data).into_owned())
            .collect();
        for a in &acked {
            assert_eq!(
                got.iter().filter(|g| *g == a).count(),
                1,
                "budget {budget}: {a} in {got:?}"
            );
        }
    }
}

fn expired_closed_shards_disappear(st: Store) {
    let s = st.open();
    s.create_stream("x", 1, false, BTreeMap::new())
        .expect("create");
    s.put_record("x", &entry("k", "old"), None).expect("put");
    s.split_shard("x", &shard_id(0), 1u128 << 127)
        .expect("split");
    s.put_record("x", &entry("k", "new"), None).expect("put");
    // within retention nothing changes
    s.enforce_retention(now_ms()).expect("retention");
    assert_eq!(s.describe_stream("x").expect("d").shards.len(), 3);
    s.enforce_retention(now_ms() + 25 * 3600 * 1000)
        .expect("retention");
    let d = s.describe_stream("x").expect("d");
    let ids: Vec<_> = d.shards.iter().map(|x| x.shard_id.clone()).collect();
    assert_eq!(ids, vec![shard_id(1), shard_id(2)]);
    assert_eq!(
        d.shards[0].parent_shard_id.as_deref(),
        Some("shardId-000000000000")
    );
    assert!(matches!(
        s.get_shard_iterator("x", &shard_id(0), &StartPosition::TrimHorizon),
        Err(StreamsError::NotFound(_))
    ));
    // open shards stay, even when empty, and keep taking writes
    s.put_record("x", &entry("k", "later"), None).expect("put");
}

fn old_iterators_expire_and_engine_guards_keys(st: Store) {
    let s = st.open();
    s.create_stream("e", 1, false, BTreeMap::new())
        .expect("create");
    let uid = s.stream("e").expect("stream").uid;
    let old = s.inner.codec.encode(&IteratorPos {
        stream_uid: uid,
        shard_index: 0,
        counter: 0,
        issued_ms: now_ms() - ITERATOR_TTL_MS - 1,
    });
    assert!(matches!(
        s.get_records(&old, 1),
        Err(StreamsError::ExpiredIterator(_))
    ));
    let fresh = s.inner.codec.encode(&IteratorPos {
        stream_uid: uid,
        shard_index: 0,
        counter: 0,
        issued_ms: now_ms(),
    });
    assert!(s.get_records(&fresh, 1).is_ok());
    let long = "k".repeat(257);
    assert!(matches!(
        s.put_record("e", &entry(&long, "x"), None),
        Err(StreamsError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.put_record("e", &entry("", "x"), None),
        Err(StreamsError::InvalidArgument(_))
    ));
}

#[test]
fn update_shard_count_is_all_or_nothing() {
    for budget in 0..40u64 {
        let mem = MemBackend::new();
        let fail = FailingBackend::new(Arc::new(mem.clone()), u64::MAX);
        let s = Streams::open_with_backend(cfg(), Arc::new(fail.clone())).expect("open");
        s.create_stream("u", 2, false, BTreeMap::new())
            .expect("create");
        s.put_records("u", &[entry("a", "1"), entry("b", "2")])
            .expect("put");
        fail.refill(budget);
        let result = s.update_shard_count("u", 4);
        fail.refill(u64::MAX);
        let after = s.describe_stream("u").expect("describe");
        match result {
            Ok(_) => assert_eq!(after.open_shard_count, 4),
            Err(_) => {
                assert_eq!(
                    after.shards.len(),
                    2,
                    "budget {budget}: partial reshard visible"
                );
                assert_eq!(after.open_shard_count, 2);
                // The parents the failed attempt sealed are unsealed (a failed fsync may
                // still have broken one: that is final until restart, and not a seal).
                let stream = s.stream("u").expect("stream");
                for sh in read(&stream.topo).shards.values() {
                    assert!(
                        !matches!(sh.store.append(&[], None), Err(StreamsError::Sealed(_))),
                        "budget {budget}: a parent stays sealed"
                    );
                }
            }
        }
        drop(s);
        mem.crash();
        let s = Streams::open_with_backend(cfg(), Arc::new(mem)).expect("reopen");
        let d = s.describe_stream("u").expect("describe");
        assert!(
            d.shards.len() == 2 || d.open_shard_count == 4,
            "budget {budget}: {} shards",
            d.shards.len()
        );
        let total: usize = d
            .shards
            .iter()
            .map(|sh| read_shard(&s, "u", &sh.shard_id).0.len())
            .sum();
        assert_eq!(total, 2, "budget {budget}");
    }
}

#[test]
fn a_failed_fsync_stops_writes_and_hides_what_it_may_have_lost() {
    let mut c = cfg();
    // Group commit, with the flusher far away: the test drives `sync_all` itself.
    c.fsync = FsyncPolicy::Interval(Duration::from_secs(3600));
    let mem = MemBackend::new();
    let fail = FailingBackend::new(Arc::new(mem.clone()), u64::MAX);
    let s = Streams::open_with_backend(c, Arc::new(fail.clone())).expect("open");
    s.create_stream("f", 1, false, BTreeMap::new())
        .expect("create");
    s.put_records("f", &[entry("k", "synced")]).expect("put");
    s.sync_all().expect("a good sync");
    s.put_records("f", &[entry("k", "maybe-lost")])
        .expect("put");
    fail.refill(0);
    assert!(s.sync_all().is_err(), "the failed sync is reported");
    fail.refill(u64::MAX);
    // No silent retry: a later sync that happens to succeed does not make the log good.
    let _ = s.sync_all();
    match s.put_records("f", &[entry("k", "after")]) {
        Ok(out) => assert!(matches!(out[0], PutOutcome::Failed { .. }), "{out:?}"),
        Err(e) => assert!(e.to_string().contains("refuses writes"), "{e}"),
    }
    // Reads keep working for what the last good sync covered, and nothing past it.
    let (recs, _) = read_shard(&s, "f", &shard_id(0));
    let got: Vec<String> = recs
        .iter()
        .map(|r| String::from_utf8_lossy(&r.data).into_owned())
        .collect();
    assert_eq!(got, ["synced"]);
}

fn list_shards_filters_by_retention_and_lineage(st: Store) {
    let s = st.open();
    s.create_stream("ls", 1, false, BTreeMap::new())
        .expect("create");
    s.put_record("ls", &entry("k", "old"), None).expect("put");
    let split_at = now_ms();
    s.split_shard("ls", &shard_id(0), 1u128 << 127)
        .expect("split");
    let ids = |f: ShardFilter, now: i64| -> Vec<String> {
        s.list_shards("ls", f, now)
            .expect("list")
            .into_iter()
            .map(|x| x.shard_id)
            .collect()
    };
    let (p, a, b) = (shard_id(0), shard_id(1), shard_id(2));
    let now = now_ms();
    // The closed parent is within retention: a reader from the trim horizon starts there.
    assert_eq!(ids(ShardFilter::AtTrimHorizon, now), vec![p.clone()]);
    assert_eq!(
        ids(ShardFilter::FromTrimHorizon, now),
        vec![p.clone(), a.clone(), b.clone()]
    );
    assert_eq!(ids(ShardFilter::AtLatest, now), vec![a.clone(), b.clone()]);
    // Before the stream existed: the shards it started with.
    assert_eq!(ids(ShardFilter::AtTimestamp(0), now), vec![p.clone()]);
    assert_eq!(
        ids(ShardFilter::AtTimestamp(now + 1), now),
        vec![a.clone(), b.clone()]
    );
    // Moved up to the trim horizon, where the parent is still open.
    assert_eq!(
        ids(ShardFilter::FromTimestamp(0), now),
        vec![p.clone(), a.clone(), b.clone()]
    );
    assert_eq!(
        ids(ShardFilter::FromTimestamp(now + 1), now),
        vec![a.clone(), b.clone()]
    );
    // A day and more later the parent has expired, swept or not: it is no longer listed,
    // and its children are where the trim horizon (or an older timestamp) now starts.
    let later = now + 25 * 3600 * 1000;
    assert_eq!(s.describe_stream("ls").expect("d").shards.len(), 3);
    assert_eq!(
        ids(ShardFilter::AtTrimHorizon, later),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(
        ids(ShardFilter::FromTrimHorizon, later),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(
        ids(ShardFilter::AtTimestamp(split_at - 1000), later),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(
        ids(ShardFilter::FromTimestamp(0), later),
        vec![a.clone(), b.clone()]
    );
    assert!(matches!(
        s.list_shards("nope", ShardFilter::AtLatest, now),
        Err(StreamsError::NotFound(_))
    ));
}

/// A backend whose syncs can be held: the window between an append and its fdatasync,
/// which a real disk opens for a millisecond, held open for as long as a test needs.
#[derive(Clone)]
struct GatedBackend {
    inner: MemBackend,
    gate: Arc<Gate>,
}

#[derive(Default)]
struct Gate {
    /// `Some(n)`: syncs wait; `n` of them are waiting.
    held: Mutex<Option<usize>>,
    changed: std::sync::Condvar,
    /// Syncs fail (a disk that returned EIO).
    failing: std::sync::atomic::AtomicBool,
}

impl Gate {
    fn hold(&self) {
        *lock(&self.held) = Some(0);
    }
    fn release(&self) {
        *lock(&self.held) = None;
        self.changed.notify_all();
    }
    /// Waits until a sync is held at the gate.
    fn wait_for_a_held_sync(&self) {
        let mut held = lock(&self.held);
        while !held.is_some_and(|n| n > 0) {
            held = self.changed.wait(held).unwrap_or_else(|p| p.into_inner());
        }
    }
    fn pass(&self) {
        let mut held = lock(&self.held);
        if let Some(n) = held.as_mut() {
            *n += 1;
            self.changed.notify_all();
            while held.is_some() {
                held = self.changed.wait(held).unwrap_or_else(|p| p.into_inner());
            }
        }
    }
}

struct GatedFile {
    inner: Arc<dyn crate::backend::SegmentFile>,
    gate: Arc<Gate>,
}

impl crate::backend::SegmentFile for GatedFile {
    fn append(&self, buf: &[u8]) -> std::io::Result<()> {
        self.inner.append(buf)
    }
    fn sync(&self) -> std::io::Result<()> {
        self.gate.pass();
        if self.gate.failing.load(std::sync::atomic::Ordering::Acquire) {
            return Err(std::io::Error::other("injected EIO"));
        }
        self.inner.sync()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read_at(offset, buf)
    }
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn truncate(&self, len: u64) -> std::io::Result<()> {
        self.inner.truncate(len)
    }
}

impl StorageBackend for GatedBackend {
    fn open(&self, path: &Path) -> std::io::Result<Arc<dyn crate::backend::SegmentFile>> {
        Ok(Arc::new(GatedFile {
            inner: self.inner.open(path)?,
            gate: self.gate.clone(),
        }))
    }
    fn list(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        self.inner.remove_file(path)
    }
    fn remove_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        self.inner.remove_dir_all(dir)
    }
    fn read_file(&self, path: &Path) -> std::io::Result<Option<Vec<u8>>> {
        self.inner.read_file(path)
    }
    fn write_atomic(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        self.inner.write_atomic(path, data)
    }
}

#[test]
fn with_fsync_always_readers_see_a_record_only_once_it_is_synced() {
    let backend = GatedBackend {
        inner: MemBackend::new(),
        gate: Arc::new(Gate::default()),
    };
    let gate = backend.gate.clone();
    let s = Streams::open_with_backend(cfg(), Arc::new(backend)).expect("open");
    s.create_stream("d", 1, false, BTreeMap::new())
        .expect("create");
    s.put_record("d", &entry("k", "synced"), None).expect("put");
    let shard = shard_id(0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let mut sub = s
        .subscribe("d", &shard, StartPosition::TrimHorizon)
        .expect("subscribe");
    let first = rt.block_on(sub.next()).expect("first event");
    assert!(
        matches!(&first, SubscriptionEvent::Records(r) if r.len() == 1),
        "{first:?}"
    );

    // The next put is appended, and its sync held.
    gate.hold();
    let writer = {
        let s = s.clone();
        std::thread::spawn(move || s.put_record("d", &entry("k", "in-flight"), None))
    };
    gate.wait_for_a_held_sync();
    let data = |recs: &[RecordOut]| -> Vec<String> {
        recs.iter()
            .map(|r| String::from_utf8_lossy(&r.data).into_owned())
            .collect()
    };
    assert_eq!(
        data(&read_shard(&s, "d", &shard).0),
        ["synced"],
        "a record whose put has not been answered is not served before its sync"
    );
    let early =
        rt.block_on(async { tokio::time::timeout(Duration::from_millis(50), sub.next()).await });
    assert!(
        early.is_err(),
        "a subscriber got an unsynced record: {early:?}"
    );

    gate.release();
    writer.join().expect("writer thread").expect("put");
    assert_eq!(
        data(&read_shard(&s, "d", &shard).0),
        ["synced", "in-flight"]
    );
    let next = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), sub.next()).await })
        .expect("the subscriber wakes once the sync lands")
        .expect("event");
    match next {
        SubscriptionEvent::Records(r) => {
            let got: Vec<String> = r
                .iter()
                .map(|u| String::from_utf8_lossy(&u.data).into_owned())
                .collect();
            assert_eq!(got, ["in-flight"]);
        }
        other => panic!("{other:?}"),
    }
}

/// A gated stream: (the streams, the gate, the one shard's id).
fn gated_stream() -> (Streams, Arc<Gate>, String) {
    let backend = GatedBackend {
        inner: MemBackend::new(),
        gate: Arc::new(Gate::default()),
    };
    let gate = backend.gate.clone();
    let s = Streams::open_with_backend(cfg(), Arc::new(backend)).expect("open");
    s.create_stream("d", 1, false, BTreeMap::new())
        .expect("create");
    (s, gate, shard_id(0))
}

/// `put_records_unsynced` returns once the records are appended, without waiting for any
/// sync (the gate holds every sync, and the put still returns); readers see nothing until
/// `PendingPut::sync_all` has synced them, and the outcomes it gives are the answers.
#[test]
fn an_unsynced_put_is_answered_and_served_only_after_sync_all() {
    let (s, gate, shard) = gated_stream();
    gate.hold();
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let s = s.clone();
        std::thread::spawn(move || {
            let _ = tx.send(s.put_records_unsynced("d", &[entry("k", "a"), entry("k", "b")]));
        });
    }
    let pending = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the put returned without waiting for a sync")
        .expect("put");
    assert!(pending.needs_sync());
    assert!(
        read_shard(&s, "d", &shard).0.is_empty(),
        "served before its sync"
    );
    gate.release();
    let finals = PendingPut::sync_all(vec![pending]);
    assert_eq!(finals.len(), 1);
    assert!(
        finals[0].iter().all(|o| matches!(o, PutOutcome::Ok { .. })),
        "{finals:?}"
    );
    let data: Vec<Vec<u8>> = read_shard(&s, "d", &shard)
        .0
        .into_iter()
        .map(|r| r.data.to_vec())
        .collect();
    assert_eq!(data, [b"a".to_vec(), b"b".to_vec()]);
}

/// A failed sync fails every entry of the puts it covered: appended, never answered as
/// stored, never served.
#[test]
fn a_failed_sync_all_fails_its_entries_and_serves_nothing() {
    let (s, gate, shard) = gated_stream();
    let first = s
        .put_records_unsynced("d", &[entry("k", "a")])
        .expect("put");
    let second = s
        .put_records_unsynced("d", &[entry("k", "b")])
        .expect("put");
    gate.failing
        .store(true, std::sync::atomic::Ordering::Release);
    let finals = PendingPut::sync_all(vec![first, second]);
    assert_eq!(finals.len(), 2);
    for outcomes in &finals {
        assert!(
            outcomes.iter().all(|o| !matches!(o, PutOutcome::Ok { .. })),
            "{finals:?}"
        );
    }
    assert!(read_shard(&s, "d", &shard).0.is_empty());
}

fn counter_of(seq: &str) -> u64 {
    SeqNo::decode(seq).expect("sequence number").counter
}

fn ok_seq(o: &PutOutcome) -> String {
    match o {
        PutOutcome::Ok {
            sequence_number, ..
        } => sequence_number.clone(),
        other => panic!("{other:?}"),
    }
}

/// The parent's `EndingSequenceNumber` is its last record, and every child's records (and
/// a merged grandchild's) sort after it: per-key order holds through the lineage.
fn sequence_numbers_rise_across_a_reshard(st: Store) {
    let s = st.open();
    s.create_stream("q", 1, false, BTreeMap::new())
        .expect("create");
    let before: Vec<u64> = s
        .put_records("q", &[entry("a", "1"), entry("b", "2"), entry("c", "3")])
        .expect("put")
        .iter()
        .map(|o| counter_of(&ok_seq(o)))
        .collect();
    s.split_shard("q", &shard_id(0), 1u128 << 127)
        .expect("split");
    let d = s.describe_stream("q").expect("describe");
    let end = counter_of(
        d.shards[0]
            .ending_sequence_number
            .as_deref()
            .expect("closed"),
    );
    assert_eq!(end, before[2], "the parent ends at its last record");
    for child in &d.shards[1..] {
        assert!(counter_of(&child.starting_sequence_number) > end);
    }
    let mut child_seqs = Vec::new();
    for key in ["a", "b", "c", "d", "e", "f"] {
        let (_, seq) = s.put_record("q", &entry(key, "x"), None).expect("put");
        assert!(counter_of(&seq) > end, "{key}: {seq} not after {end}");
        child_seqs.push(counter_of(&seq));
    }
    s.merge_shards("q", &shard_id(1), &shard_id(2))
        .expect("merge");
    let (_, seq) = s.put_record("q", &entry("a", "y"), None).expect("put");
    assert!(child_seqs.iter().all(|c| counter_of(&seq) > *c));
    let d = s.describe_stream("q").expect("describe");
    assert_eq!(d.open_shard_count, 1);
    for closed in &d.shards[1..3] {
        let closed_end = counter_of(closed.ending_sequence_number.as_deref().expect("closed"));
        assert!(counter_of(&d.shards[3].starting_sequence_number) > closed_end);
    }
}

/// A put appended before a split and settled after it is inside the parent: the seal settles
/// it (the local log syncs it) and the parent's end covers it, so a reader of the parent
/// sees it before the shard end, and nothing lands in the parent after.
fn a_put_started_before_a_split_lands_before_the_parents_end(st: Store) {
    let s = st.open();
    s.create_stream("f", 1, false, BTreeMap::new())
        .expect("create");
    let pending = s
        .put_records_unsynced("f", &[entry("k", "early-1"), entry("k", "early-2")])
        .expect("put");
    s.split_shard("f", &shard_id(0), 1u128 << 127)
        .expect("split");
    let finals = PendingPut::sync_all(vec![pending]);
    let seqs: Vec<u64> = finals[0].iter().map(|o| counter_of(&ok_seq(o))).collect();
    let d = s.describe_stream("f").expect("describe");
    let end = counter_of(
        d.shards[0]
            .ending_sequence_number
            .as_deref()
            .expect("closed"),
    );
    assert_eq!(seqs.last(), Some(&end), "{seqs:?} end {end}");
    let (recs, kids) = read_shard(&s, "f", &shard_id(0));
    let got: Vec<&[u8]> = recs.iter().map(|r| r.data.as_slice()).collect();
    assert_eq!(got, [b"early-1".as_slice(), b"early-2".as_slice()]);
    assert_eq!(kids.expect("shard end").len(), 2);
    let (_, seq) = s.put_record("f", &entry("k", "late"), None).expect("put");
    assert!(counter_of(&seq) > end);
    assert_eq!(read_shard(&s, "f", &shard_id(0)).0.len(), 2);
}

/// AT_TIMESTAMP starts at the first record that arrived at or after the time; past the
/// newest record it behaves as LATEST and reads what comes next.
fn at_timestamp_starts_at_the_first_later_record(st: Store) {
    let s = st.open();
    s.create_stream("t", 1, false, BTreeMap::new())
        .expect("create");
    let sh = shard_id(0);
    s.put_record("t", &entry("k", "a"), None).expect("put");
    let arrival = |s: &Streams| {
        read_shard(s, "t", &sh)
            .0
            .last()
            .expect("a record")
            .arrival_ms
    };
    let wait_past = |ms: i64| {
        while now_ms() <= ms {
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    wait_past(arrival(&s));
    s.put_record("t", &entry("k", "b"), None).expect("put");
    let at_b = arrival(&s);
    let it = s
        .get_shard_iterator("t", &sh, &StartPosition::AtTimestamp(at_b))
        .expect("iterator");
    let page = s.get_records(&it, 10).expect("get");
    let got: Vec<&[u8]> = page.records.iter().map(|r| r.data.as_slice()).collect();
    assert_eq!(got, [b"b".as_slice()]);
    wait_past(at_b);
    let it = s
        .get_shard_iterator("t", &sh, &StartPosition::AtTimestamp(at_b + 1))
        .expect("iterator");
    let page = s.get_records(&it, 10).expect("get");
    assert!(page.records.is_empty());
    s.put_record("t", &entry("k", "c"), None).expect("put");
    let page = s
        .get_records(page.next_iterator.as_deref().expect("open shard"), 10)
        .expect("get");
    assert_eq!(page.records[0].data, b"c");
}

/// `put_records_unsynced` returns with the records appended and unsettled: nobody reads
/// them until `PendingPut::sync_all`, whose outcomes carry the sequence numbers the reader
/// then sees. Stores whose counters come with settlement have none before it.
fn an_unsettled_put_is_answered_and_served_only_after_sync_all(st: Store) {
    let s = st.open();
    s.create_stream("u", 1, false, BTreeMap::new())
        .expect("create");
    let pending = s
        .put_records_unsynced("u", &[entry("k", "a"), entry("k", "b")])
        .expect("put");
    assert!(pending.needs_sync());
    let before = pending.outcomes();
    assert!(before.iter().all(|o| matches!(o, PutOutcome::Ok { .. })));
    if matches!(st, Store::Mem(_)) {
        assert!(before.iter().all(|o| ok_seq(o).is_empty()), "{before:?}");
    }
    assert!(
        read_shard(&s, "u", &shard_id(0)).0.is_empty(),
        "served unsettled"
    );
    let finals = PendingPut::sync_all(vec![pending]);
    let seqs: Vec<String> = finals[0].iter().map(ok_seq).collect();
    let read: Vec<String> = read_shard(&s, "u", &shard_id(0))
        .0
        .into_iter()
        .map(|r| r.sequence_number)
        .collect();
    assert_eq!(seqs, read);
}

/// A settlement the store refuses fails every entry it covered, and nothing of it is served.
#[test]
fn a_refused_settlement_fails_its_entries_and_serves_nothing() {
    let stores = MemStores::new();
    let s = Streams::open_with_stores(cfg(), Arc::new(stores.clone())).expect("open");
    s.create_stream("r", 1, false, BTreeMap::new())
        .expect("create");
    let pending = s
        .put_records_unsynced("r", &[entry("k", "a"), entry("k", "b")])
        .expect("put");
    stores.refuse_settlements(true);
    let finals = PendingPut::sync_all(vec![pending]);
    assert!(finals[0]
        .iter()
        .all(|o| matches!(o, PutOutcome::Failed { .. })));
    let direct = s.put_records("r", &[entry("k", "c")]).expect("put");
    assert!(matches!(direct[0], PutOutcome::Failed { .. }), "{direct:?}");
    stores.refuse_settlements(false);
    assert!(read_shard(&s, "r", &shard_id(0)).0.is_empty());
    let ok = s.put_records("r", &[entry("k", "d")]).expect("put");
    assert!(matches!(ok[0], PutOutcome::Ok { .. }), "{ok:?}");
    let (recs, _) = read_shard(&s, "r", &shard_id(0));
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].sequence_number, ok_seq(&ok[0]));
}

#[tokio::test]
async fn deleting_a_stream_ends_its_subscriptions_local() {
    deleting_a_stream_ends_its_subscriptions(Store::local()).await
}

#[tokio::test]
async fn deleting_a_stream_ends_its_subscriptions_mem() {
    deleting_a_stream_ends_its_subscriptions(Store::mem()).await
}

/// A subscriber waiting on an idle shard is woken by the delete and told the stream is gone.
async fn deleting_a_stream_ends_its_subscriptions(st: Store) {
    let s = st.open();
    s.create_stream("gone", 1, false, BTreeMap::new())
        .expect("create");
    let mut sub = s
        .subscribe("gone", &shard_id(0), StartPosition::Latest)
        .expect("subscribe");
    let waiting = tokio::spawn(async move { sub.next().await });
    tokio::task::yield_now().await;
    s.delete_stream("gone").expect("delete");
    let ended = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("woken by the delete")
        .expect("task");
    assert!(matches!(ended, Err(StreamsError::NotFound(_))), "{ended:?}");
}
