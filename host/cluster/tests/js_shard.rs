//! `JsShard` against a real 3-node JetStream cluster (R3 streams, `sync_interval: always`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{eventually, fresh_uid, NatsCluster};
use weir_cluster::{Bridge, ClusterError, JsRecord, JsShard, JsShardSpec};

const MIB: usize = 1 << 20;

fn spec(uid: u64) -> JsShardSpec {
    JsShardSpec {
        uid,
        index: 0,
        first_counter: None,
        retention: Duration::from_secs(24 * 3600),
        max_record_bytes: MIB,
    }
}

fn bridge() -> Arc<Bridge> {
    NatsCluster::shared().connect("weir.t")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// Appends and settles one put; its counters.
fn put(shard: &JsShard, items: &[(&str, &[u8])]) -> Vec<u64> {
    let pending = shard.append(items).expect("append");
    let mut out = shard.settle(vec![pending]);
    out.remove(0)
        .expect("settled")
        .into_iter()
        .map(|(c, _)| c)
        .collect()
}

fn read_all(shard: &JsShard, from: u64) -> Vec<JsRecord> {
    let mut out = Vec::new();
    let mut at = from;
    loop {
        let page = shard.read(at, 1000, 10 * MIB).expect("read");
        let Some(last) = page.last() else {
            return out;
        };
        at = last.counter + 1;
        out.extend(page);
    }
}

#[test]
fn put_then_read_round_trips_keys_data_and_arrival() {
    let b = bridge();
    let shard = JsShard::create(b, &spec(fresh_uid())).expect("create");
    assert_eq!(shard.tip().expect("tip"), 1);
    assert_eq!(shard.first_counter().expect("first"), 1);
    let before = now_ms();
    let items: Vec<(&str, &[u8])> = vec![("k1", b"one"), ("schlüssel", b""), ("k1", b"three")];
    let started = Instant::now();
    let counters = put(&shard, &items);
    eprintln!("append+settle of 3 records: {:?}", started.elapsed());
    let after = now_ms();
    assert_eq!(counters.len(), 3);
    assert!(counters.windows(2).all(|w| w[0] < w[1]), "{counters:?}");
    assert_eq!(shard.tip().expect("tip"), counters[2] + 1);
    assert_eq!(shard.first_counter().expect("first"), counters[0]);

    let started = Instant::now();
    let got = shard.read(counters[0], 100, MIB).expect("read");
    eprintln!(
        "read of 3 records (consumer per read): {:?}",
        started.elapsed()
    );
    let seen: Vec<(u64, &str, &[u8])> = got
        .iter()
        .map(|r| (r.counter, r.partition_key.as_str(), &r.data[..]))
        .collect();
    let want: Vec<(u64, &str, &[u8])> = counters
        .iter()
        .zip(&items)
        .map(|(c, (k, d))| (*c, *k, *d))
        .collect();
    assert_eq!(seen, want);
    for r in &got {
        // The leader's clock and ours are one machine's here.
        assert!(
            (before - 5..=after + 5).contains(&r.arrival_ms),
            "{} not in {before}..{after}",
            r.arrival_ms
        );
    }
    // Reading at the tip: nothing yet, and no error.
    assert!(shard
        .read(counters[2] + 1, 10, MIB)
        .expect("read")
        .is_empty());

    // Many reads, to see what one consumer per read costs.
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(shard.read(counters[1], 1, MIB).expect("read").len(), 1);
    }
    eprintln!("20 reads of 1 record: {:?} each", started.elapsed() / 20);
}

#[test]
fn reads_start_in_the_middle_and_honour_limit_and_bytes() {
    let shard = JsShard::create(bridge(), &spec(fresh_uid())).expect("create");
    let data: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 100]).collect();
    let items: Vec<(&str, &[u8])> = data.iter().map(|d| ("pk", &d[..])).collect();
    let c = put(&shard, &items);
    let got = shard.read(c[4], 3, MIB).expect("read");
    assert_eq!(
        got.iter().map(|r| r.counter).collect::<Vec<_>>(),
        c[4..7].to_vec()
    );
    assert_eq!(got[0].data[..], data[4][..]);
    // A byte budget of about two records returns fewer than the limit, but at least one.
    let two = shard.read(c[0], 10, 250).expect("read");
    assert!(
        (1..10).contains(&two.len()),
        "{} records for 250 bytes",
        two.len()
    );
    assert_eq!(two[0].counter, c[0]);
    // A budget below one record still returns that record (Kinesis returns at least one).
    let one = shard.read(c[9], 10, 10).expect("read");
    assert_eq!(
        one.iter().map(|r| r.counter).collect::<Vec<_>>(),
        vec![c[9]]
    );
    // From before the first counter: starts at the first record.
    assert_eq!(read_all(&shard, 0).len(), 10);
}

#[test]
fn at_timestamp_finds_the_first_record_at_or_after_it() {
    let shard = JsShard::create(bridge(), &spec(fresh_uid())).expect("create");
    let tip_empty = shard.tip().expect("tip");
    assert_eq!(shard.counter_at_time(0).expect("at"), tip_empty);
    let a = put(&shard, &[("a", b"1"), ("a", b"2")]);
    // Two batches a few ms apart, so some timestamp falls between them.
    std::thread::sleep(Duration::from_millis(20));
    let b = put(&shard, &[("b", b"3"), ("b", b"4")]);
    let all = read_all(&shard, 0);
    let at = |i: usize| all[i].arrival_ms;
    assert!(at(2) > at(1), "the batches got one millisecond");
    assert_eq!(shard.counter_at_time(0).expect("at"), a[0]);
    assert_eq!(shard.counter_at_time(at(1) + 1).expect("at"), b[0]);
    assert_eq!(shard.counter_at_time(at(2)).expect("at"), b[0]);
    // After the last record: the tip (LATEST).
    assert_eq!(
        shard.counter_at_time(now_ms() + 60_000).expect("at"),
        b[1] + 1
    );
}

#[test]
fn sealing_fences_writers_and_returns_the_last_counter() {
    let b = bridge();
    let shard = JsShard::create(b.clone(), &spec(fresh_uid())).expect("create");
    let c = put(&shard, &[("k", b"1"), ("k", b"2")]);
    // Another host's handle on the same shard.
    let other_host = NatsCluster::shared().connect("weir.t");
    let uid_shard = JsShard::open(other_host, shard_uid(&shard), 0).expect("open");
    assert_eq!(shard.close().expect("close"), c[1]);
    assert!(shard.is_closed().expect("sealed"));
    for writer in [&shard, &uid_shard] {
        let pending = writer.append(&[("k", b"late")]).expect("sent");
        let outcome = writer.settle(vec![pending]).remove(0);
        assert!(
            matches!(outcome, Err(ClusterError::Sealed(ref s)) if s == shard.name()),
            "{outcome:?}"
        );
    }
    assert_eq!(shard.tip().expect("tip"), c[1] + 1);
    // Closing again answers the same counter (a second host finishing one reshard).
    assert_eq!(uid_shard.close().expect("close again"), c[1]);
    assert_eq!(read_all(&shard, 0).len(), 2);
}

/// The uid a test shard was made with, from its stream name `<P>_S_<uid:016x>_<index>`.
fn shard_uid(shard: &JsShard) -> u64 {
    let hex = shard.name().rsplit('_').nth(1).expect("uid part");
    u64::from_str_radix(hex, 16).expect("hex uid")
}

#[test]
fn a_child_shard_starts_after_its_parents_last_counter() {
    let b = bridge();
    let uid = fresh_uid();
    let parent = JsShard::create(b.clone(), &spec(uid)).expect("parent");
    put(&parent, &[("k", b"1"), ("k", b"2"), ("k", b"3")]);
    let end = parent.close().expect("seal");
    let child = JsShard::create(
        b,
        &JsShardSpec {
            index: 1,
            first_counter: Some(end + 1),
            ..spec(uid)
        },
    )
    .expect("child");
    assert_eq!(child.tip().expect("tip"), end + 1);
    assert_eq!(child.first_counter().expect("first"), end + 1);
    let c = put(&child, &[("k", b"4")]);
    assert_eq!(c, vec![end + 1]);
    assert_eq!(child.read(0, 10, MIB).expect("read")[0].counter, end + 1);
}

#[test]
fn a_retried_put_is_stored_once() {
    let shard = JsShard::create(bridge(), &spec(fresh_uid())).expect("create");
    let items: &[(&str, &[u8])] = &[("k", b"a"), ("k", b"b")];
    let first = shard.append_as("host-1-put-7", items).expect("append");
    let first = shard.settle(vec![first]).remove(0).expect("settle");
    let again = shard.append_as("host-1-put-7", items).expect("append");
    let again = shard.settle(vec![again]).remove(0).expect("settle");
    let counters = |v: &[(u64, i64)]| v.iter().map(|(c, _)| *c).collect::<Vec<_>>();
    assert_eq!(counters(&first), counters(&again));
    assert_eq!(shard.tip().expect("tip"), first[1].0 + 1);
    assert_eq!(read_all(&shard, 0).len(), 2);
    // Another put id is a new put.
    let other = put(&shard, items);
    assert!(other[0] > first[1].0);
}

#[test]
fn many_puts_settle_together_in_order() {
    let shard = JsShard::create(bridge(), &spec(fresh_uid())).expect("create");
    let data: Vec<Vec<u8>> = (0..500u32).map(|i| i.to_be_bytes().to_vec()).collect();
    let started = Instant::now();
    let pendings: Vec<_> = data
        .chunks(50)
        .map(|chunk| {
            let items: Vec<(&str, &[u8])> = chunk.iter().map(|d| ("pk", &d[..])).collect();
            shard.append(&items).expect("append")
        })
        .collect();
    let settled = shard.settle(pendings);
    eprintln!(
        "10 appends of 50 records, settled together: {:?}",
        started.elapsed()
    );
    let counters: Vec<u64> = settled
        .into_iter()
        .flat_map(|r| r.expect("settled"))
        .map(|(c, _)| c)
        .collect();
    assert_eq!(counters.len(), 500);
    assert!(counters.windows(2).all(|w| w[0] < w[1]));
    let started = Instant::now();
    let got = read_all(&shard, 0);
    eprintln!("read of 500 records in pages: {:?}", started.elapsed());
    assert_eq!(
        got.iter().map(|r| r.data.to_vec()).collect::<Vec<_>>(),
        data
    );
}

#[test]
fn the_watch_sees_records_put_through_another_host() {
    let shard = JsShard::create(bridge(), &spec(fresh_uid())).expect("create");
    let mut rx = shard.watch().expect("watch");
    let start = *rx.borrow();
    let other = JsShard::open(
        NatsCluster::shared().connect("weir.t"),
        shard_uid(&shard),
        0,
    )
    .expect("open");
    let c = put(&other, &[("k", b"x"), ("k", b"y")]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            while *rx.borrow_and_update() <= c[1] {
                rx.changed().await.expect("watch alive");
            }
        })
        .await
        .expect("the watch saw the records in time");
    });
    assert_eq!(start, c[0]);
    assert_eq!(*rx.borrow(), c[1] + 1);
}

#[test]
fn retention_removes_old_records() {
    let shard = JsShard::create(bridge(), &spec(fresh_uid())).expect("create");
    let c = put(&shard, &[("k", b"old"), ("k", b"old2")]);
    shard
        .set_retention(Duration::from_secs(1))
        .expect("retention");
    let started = Instant::now();
    let first = eventually(Duration::from_secs(30), Duration::from_millis(100), || {
        let f = shard.first_counter().expect("first");
        (f > c[1]).then_some(f)
    });
    eprintln!(
        "records of a 1 s max_age gone after {:?}",
        started.elapsed()
    );
    assert_eq!(first, c[1] + 1);
    assert!(shard.read(0, 10, MIB).expect("read").is_empty());
    // The counters go on after the expired ones.
    let n = put(&shard, &[("k", b"new")]);
    assert_eq!(n, vec![c[1] + 1]);
}

#[test]
fn open_of_a_missing_shard_and_delete() {
    let b = bridge();
    let uid = fresh_uid();
    assert!(matches!(
        JsShard::open(b.clone(), uid, 0),
        Err(ClusterError::NoStream(_))
    ));
    let shard = JsShard::create(b.clone(), &spec(uid)).expect("create");
    put(&shard, &[("k", b"1")]);
    shard.delete().expect("delete");
    shard.delete().expect("delete again");
    assert!(matches!(
        JsShard::open(b, uid, 0),
        Err(ClusterError::NoStream(_))
    ));
}

/// Read-your-write across hosts: a record acked through one connection is returned at once by
/// a read through another (reads must not be served by a replica that has not applied it).
#[test]
fn an_acked_record_is_readable_at_once_through_another_host() {
    let writer = JsShard::create(bridge(), &spec(fresh_uid())).expect("create");
    let reader = JsShard::open(
        NatsCluster::shared().connect("weir.t"),
        shard_uid(&writer),
        0,
    )
    .expect("open");
    let mut misses = 0;
    for i in 0..100u32 {
        let c = put(&writer, &[("k", &i.to_be_bytes())]);
        let got = reader.read(c[0], 10, MIB).expect("read");
        if got.first().map(|r| r.counter) != Some(c[0]) {
            misses += 1;
        }
    }
    assert_eq!(misses, 0, "reads that missed a just-acked record");
}

/// A poller reading where it stopped continues on its cached consumer: it sees records put
/// after its last (empty) read, in order, none skipped, and is faster than a fresh consumer.
#[test]
fn a_poller_continues_where_it_stopped() {
    let shard = JsShard::create(bridge(), &spec(fresh_uid())).expect("create");
    let mut at = shard.tip().expect("tip");
    assert!(shard.read(at, 10, MIB).expect("read at the tip").is_empty());
    let mut seen = Vec::new();
    let started = Instant::now();
    let mut reads = 0u32;
    for round in 0..30u32 {
        let c = put(&shard, &[("k", &round.to_be_bytes()), ("k", b"x")]);
        // Pages of one record, so every read continues the previous one.
        for _ in 0..3 {
            let page = shard.read(at, 1, MIB).expect("read");
            reads += 1;
            if let Some(r) = page.last() {
                at = r.counter + 1;
            }
            seen.extend(page.into_iter().map(|r| r.counter));
        }
        assert_eq!(at, c[1] + 1, "round {round}");
    }
    eprintln!(
        "{reads} continuing reads of 1 record: {:?} each",
        started.elapsed() / reads
    );
    assert_eq!(seen.len(), 60);
    assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "{seen:?}");
}
