//! The streams engine on JetStream: `Streams::open_with_stores` with [`JetStreamStores`] on
//! the 3-node test cluster, driven through the engine's public (Kinesis) API. Each test uses
//! its own prefix, so its streams and catalog are its own; each runs under a time bound.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::NatsCluster;
use weir_cluster::{JetStreamStores, JsShard};
use weir_streams::seqno::SeqNo;
use weir_streams::{
    hashkey, shard_id, PutEntry, PutOutcome, StartPosition, Streams, StreamsConfig, StreamsError,
};
use weir_support::now_ms;

/// Longest a test may take (cluster operations are tens of ms; a leader election seconds).
const BOUND: Duration = Duration::from_secs(120);

/// Runs `f` on a thread and fails the test if it does not finish within [`BOUND`].
fn bounded(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(BOUND) {
        Ok(()) => t.join().expect("test thread"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The body panicked: report its panic.
            if let Err(p) = t.join() {
                std::panic::resume_unwind(p)
            }
        }
        Err(e) => panic!("test did not finish within {BOUND:?}: {e}"),
    }
}

/// One Weir host: its own NATS connection and its stores.
fn host(prefix: &str) -> Arc<JetStreamStores> {
    JetStreamStores::open(NatsCluster::shared().connect(prefix)).expect("stores")
}

fn engine(stores: &Arc<JetStreamStores>) -> Streams {
    let mut c = StreamsConfig::new("/unused-on-a-cluster");
    c.transition_delay = Duration::ZERO;
    Streams::open_with_stores(c, stores.clone()).expect("open engine on the cluster")
}

fn entry(key: &str, data: &str) -> PutEntry {
    PutEntry {
        partition_key: key.into(),
        explicit_hash_key: None,
        data: data.as_bytes().to_vec(),
    }
}

/// Every record of a shard from TRIM_HORIZON, and the children reported at its end.
fn read_all(s: &Streams, stream: &str, shard: &str) -> (Vec<(String, Vec<u8>, String)>, bool) {
    let mut it = s
        .get_shard_iterator(stream, shard, &StartPosition::TrimHorizon)
        .expect("iterator");
    let mut out = Vec::new();
    for _ in 0..100 {
        let page = s.get_records(&it, 3).expect("get records");
        let empty = page.records.is_empty();
        out.extend(
            page.records
                .into_iter()
                .map(|r| (r.partition_key, r.data, r.sequence_number)),
        );
        match page.next_iterator {
            None => return (out, page.child_shards.is_some()),
            Some(n) => it = n,
        }
        if empty {
            return (out, false);
        }
    }
    (out, false)
}

fn seq_of(o: &PutOutcome) -> (String, String) {
    match o {
        PutOutcome::Ok {
            shard_id,
            sequence_number,
        } => (shard_id.clone(), sequence_number.clone()),
        other => panic!("put failed: {other:?}"),
    }
}

fn counter(seq: &str) -> u64 {
    SeqNo::decode(seq).expect("a Weir sequence number").counter
}

#[test]
fn puts_reads_and_every_iterator_position_on_the_cluster() {
    bounded(|| {
        let stores = host("weir.eng1");
        let s = engine(&stores);
        s.create_stream("p", 1, false, BTreeMap::new())
            .expect("create");
        assert!(matches!(
            s.create_stream("p", 1, false, BTreeMap::new()),
            Err(StreamsError::InUse(_))
        ));
        let sh = shard_id(0);
        let out = s
            .put_records(
                "p",
                &[
                    entry("95B•140", "0"),
                    entry("k", "1"),
                    entry("95B•140", "2"),
                ],
            )
            .expect("put");
        let mut seqs: Vec<String> = out.iter().map(|o| seq_of(o).1).collect();
        for i in 3..5 {
            seqs.push(
                s.put_record("p", &entry("k", &i.to_string()), None)
                    .expect("put")
                    .1,
            );
        }
        assert!(
            seqs.windows(2).all(|w| counter(&w[0]) < counter(&w[1])),
            "{seqs:?}"
        );

        let (all, _) = read_all(&s, "p", &sh);
        let data: Vec<&[u8]> = all.iter().map(|r| r.1.as_slice()).collect();
        assert_eq!(data, [b"0", b"1", b"2", b"3", b"4"]);
        assert_eq!(
            all[0].0, "95B•140",
            "a Unicode partition key survives the envelope"
        );
        assert_eq!(all.iter().map(|r| r.2.clone()).collect::<Vec<_>>(), seqs);

        let latest = s
            .get_shard_iterator("p", &sh, &StartPosition::Latest)
            .expect("latest");
        assert!(s.get_records(&latest, 10).expect("get").records.is_empty());
        let at = s
            .get_shard_iterator("p", &sh, &StartPosition::AtSequence(seqs[2].clone()))
            .expect("at");
        assert_eq!(s.get_records(&at, 10).expect("get").records[0].data, b"2");
        let after = s
            .get_shard_iterator("p", &sh, &StartPosition::AfterSequence(seqs[2].clone()))
            .expect("after");
        assert_eq!(
            s.get_records(&after, 10).expect("get").records[0].data,
            b"3"
        );
        let ts = s
            .get_shard_iterator("p", &sh, &StartPosition::AtTimestamp(0))
            .expect("at timestamp");
        let page = s.get_records(&ts, 2).expect("get");
        assert_eq!(page.records.len(), 2);
        assert!(page.millis_behind_latest >= 0);
        let future =
            s.get_shard_iterator("p", &sh, &StartPosition::AtTimestamp(now_ms() + 100_000));
        assert!(matches!(future, Err(StreamsError::InvalidArgument(_))));

        // A record put after LATEST was taken is what that iterator reads next.
        let (_, fresh) = s.put_record("p", &entry("k", "5"), None).expect("put");
        let page = s.get_records(&latest, 10).expect("get");
        assert_eq!(page.records.len(), 1);
        assert_eq!(page.records[0].sequence_number, fresh);

        // SequenceNumberForOrdering: below the tip it is met; above, a JetStream sequence
        // cannot jump: the store refuses, PutRecord answers InvalidArgument, and nothing is
        // stored.
        let (_, next) = s
            .put_record("p", &entry("k", "6"), Some(&seqs[0]))
            .expect("ordering below the tip");
        assert!(counter(&next) > counter(&fresh));
        let ahead = SeqNo::new(counter(&next) + 1000, 0).encode();
        let e = s
            .put_record("p", &entry("k", "7"), Some(&ahead))
            .expect_err("a sequence number the shard has not reached");
        assert!(matches!(e, StreamsError::InvalidArgument(_)), "{e}");
        let (all, _) = read_all(&s, "p", &sh);
        assert_eq!(all.last().map(|r| r.1.clone()), Some(b"6".to_vec()));
        s.delete_stream("p").expect("delete");
    });
}

#[test]
fn split_and_merge_seal_parents_and_sequence_numbers_keep_rising() {
    bounded(|| {
        let stores = host("weir.eng2");
        let s = engine(&stores);
        s.create_stream("r", 2, false, BTreeMap::new())
            .expect("create");
        let before = s
            .put_records("r", &[entry("a", "1"), entry("b", "1")])
            .expect("put");
        let newest_before = before
            .iter()
            .map(|o| counter(&seq_of(o).1))
            .max()
            .unwrap_or(0);
        let mid = hashkey::even_ranges(2)[0].end / 2;
        s.split_shard("r", &shard_id(0), mid).expect("split");
        let d = s.describe_stream("r").expect("describe");
        assert_eq!(d.shards.len(), 4);
        assert!(
            d.shards[0].ending_sequence_number.is_some(),
            "parent closed"
        );
        assert_eq!(
            d.shards[2].parent_shard_id.as_deref(),
            Some("shardId-000000000000")
        );

        // The parent's stream is sealed: JetStream itself refuses a writer that did not hear
        // of the reshard.
        let uid_parent = JsShard::open(stores.bridge().clone(), stream_uid(&stores, "r"), 0)
            .expect("parent stream");
        assert!(uid_parent.is_closed().expect("sealed?"));

        // Every key now lands in open shards, above every parent's sequence number.
        let after = s
            .put_records(
                "r",
                &(0..20)
                    .map(|i| entry(&format!("key-{i}"), "2"))
                    .collect::<Vec<_>>(),
            )
            .expect("put after split");
        for o in &after {
            let (sid, seq) = seq_of(o);
            assert_ne!(sid, shard_id(0), "a closed shard takes no records");
            assert!(counter(&seq) > newest_before, "{seq} after {newest_before}");
        }
        // The parent reads to its end and names its children; the children are readable.
        let (recs, children) = read_all(&s, "r", &shard_id(0));
        assert!(children, "children at the closed shard's end");
        assert!(recs.len() <= 2);
        let in_children: usize = [2, 3]
            .iter()
            .map(|i| read_all(&s, "r", &shard_id(*i)).0.len())
            .sum();
        assert!(in_children > 0);

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
        // The merged child continues above both parents' sequence numbers.
        let newest_parents = after
            .iter()
            .map(seq_of)
            .filter(|(sid, _)| *sid == shard_id(1) || *sid == shard_id(3))
            .map(|(_, seq)| counter(&seq))
            .max()
            .unwrap_or(0);
        let merged = s
            .put_records(
                "r",
                &(0..20)
                    .map(|i| entry(&format!("key-{i}"), "3"))
                    .collect::<Vec<_>>(),
            )
            .expect("put after merge");
        let mut into_child = 0;
        for o in &merged {
            let (sid, seq) = seq_of(o);
            assert!(sid == shard_id(2) || sid == shard_id(4), "{sid} is closed");
            if sid == shard_id(4) {
                into_child += 1;
                assert!(
                    counter(&seq) > newest_parents,
                    "{seq} not above {newest_parents}"
                );
            }
        }
        assert!(into_child > 0, "no key of 20 hashed into the merged shard");

        // A restart of the engine finds the same topology in the KV catalog.
        drop(s);
        let s = engine(&stores);
        assert_eq!(s.describe_stream("r").expect("describe").shards.len(), 5);
        s.delete_stream("r").expect("delete");
    });
}

/// The uid of `name` as the catalog in the cluster records it (through a fresh engine).
fn stream_uid(stores: &Arc<JetStreamStores>, name: &str) -> u64 {
    use weir_streams::StoreFactory;
    let catalog = stores
        .meta()
        .and_then(|m| m.load_catalog())
        .expect("catalog");
    catalog
        .values()
        .find(|m| m.name == name)
        .map(|m| m.uid)
        .expect("stream in the catalog")
}

#[test]
fn a_second_host_reads_the_first_hosts_records_and_both_catalogs_merge() {
    bounded(|| {
        let (ha, hb) = (host("weir.eng3"), host("weir.eng3"));
        let a = engine(&ha);
        a.create_stream("shared", 1, false, BTreeMap::new())
            .expect("create on a");
        let (sid, seq) = a
            .put_record("shared", &entry("k", "from a"), None)
            .expect("put");
        let it = a
            .get_shard_iterator("shared", &sid, &StartPosition::AtSequence(seq.clone()))
            .expect("iterator on a");

        // Host b opens after a wrote: it sees the stream, and a's iterator reads on b (one
        // iterator key for all hosts).
        let b = engine(&hb);
        assert!(b.list_streams().iter().any(|x| x.name == "shared"));
        let page = b.get_records(&it, 10).expect("a's iterator on b");
        assert_eq!(page.records[0].data, b"from a");
        assert_eq!(page.records[0].sequence_number, seq);
        // b writes, a reads it without reopening (the records are in the shared stream).
        let (_, seq_b) = b
            .put_record("shared", &entry("k", "from b"), None)
            .expect("put on b");
        let (recs, _) = read_all(&a, "shared", &sid);
        assert_eq!(recs.last().map(|r| r.2.clone()), Some(seq_b));

        // Each host creates a stream the other's engine does not know of: the catalog
        // document keeps both (compare-and-set, the loser re-applies its change).
        a.create_stream("only-a", 1, false, BTreeMap::new())
            .expect("create on a");
        b.create_stream("only-b", 1, false, BTreeMap::new())
            .expect("create on b");
        drop(a);
        let a = engine(&ha);
        let names: Vec<String> = a.list_streams().into_iter().map(|x| x.name).collect();
        for n in ["shared", "only-a", "only-b"] {
            assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
        }

        // A delete removes the shard streams from the cluster.
        let uid = stream_uid(&ha, "only-b");
        a.delete_stream("only-b").expect("delete");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let gone = matches!(
                JsShard::open(ha.bridge().clone(), uid, 0),
                Err(weir_cluster::ClusterError::NoStream(_))
            );
            if gone {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "shard stream of a deleted stream stays"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        for n in ["shared", "only-a"] {
            a.delete_stream(n).expect("delete");
        }
    });
}

#[test]
fn both_hosts_changing_one_stream_gives_in_use_not_a_lost_update() {
    bounded(|| {
        let (ha, hb) = (host("weir.eng4"), host("weir.eng4"));
        let a = engine(&ha);
        a.create_stream("t", 1, false, BTreeMap::new())
            .expect("create");
        let b = engine(&hb);
        a.add_tags(
            "t",
            BTreeMap::from([("owner".to_string(), "a".to_string())]),
        )
        .expect("tag on a");
        // b's engine may not have reloaded a's change yet: its write to the same stream is
        // then refused (InUse) rather than undoing a's tag, and succeeds once b reloaded
        // (the watch-fed poll); either way both tags end up stored.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match b.add_tags("t", BTreeMap::from([("team".to_string(), "b".to_string())])) {
                Ok(()) => break,
                Err(StreamsError::InUse(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("b's tag: {e}"),
            }
        }
        drop(b);
        let b = engine(&hb);
        let tags = b.tags("t").expect("tags");
        assert_eq!(
            tags.get("owner").map(String::as_str),
            Some("a"),
            "a's tag kept"
        );
        assert_eq!(tags.get("team").map(String::as_str), Some("b"));
        b.delete_stream("t").expect("delete");
    });
}

#[test]
fn two_hosts_creating_one_name_give_one_stream_and_an_in_use() {
    bounded(|| {
        let (ha, hb) = (host("weir.eng8"), host("weir.eng8"));
        let (a, b) = (engine(&ha), engine(&hb));
        a.create_stream("same", 1, false, BTreeMap::new())
            .expect("create on a");
        // b's engine has not seen a's stream; the catalog document has.
        let e = b
            .create_stream("same", 2, false, BTreeMap::new())
            .expect_err("the name is taken on the cluster");
        assert!(matches!(e, StreamsError::InUse(_)), "{e}");
        let uid = stream_uid(&ha, "same");
        drop(b);
        let b = engine(&hb);
        let d = b.describe_stream("same").expect("describe on b");
        assert_eq!(d.shards.len(), 1, "a's stream, not b's");
        assert_eq!(stream_uid(&hb, "same"), uid);
        b.delete_stream("same").expect("delete");
    });
}

#[test]
fn a_subscription_on_one_host_wakes_for_a_record_put_through_another() {
    use weir_streams::SubscriptionEvent;
    bounded(|| {
        let (ha, hb) = (host("weir.eng5"), host("weir.eng5"));
        let a = engine(&ha);
        a.create_stream("sub", 1, false, BTreeMap::new())
            .expect("create");
        let b = engine(&hb);
        let mut sub = b
            .subscribe("sub", &shard_id(0), StartPosition::Latest)
            .expect("subscribe on b");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let waiter = std::thread::spawn(move || {
            rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(30), sub.next())
                    .await
                    .expect("woken within 30 s")
                    .expect("next")
            })
        });
        // Put after the subscriber is waiting: only the stream's tip watch can wake it.
        std::thread::sleep(Duration::from_millis(200));
        let (_, seq) = a
            .put_record("sub", &entry("k", "hello"), None)
            .expect("put on a");
        match waiter.join().expect("subscriber") {
            SubscriptionEvent::Records(recs) => {
                assert_eq!(recs[0].data, b"hello");
                assert_eq!(recs[0].sequence_number, seq);
            }
            other => panic!("expected records, got {other:?}"),
        }
        a.delete_stream("sub").expect("delete");
    });
}

#[test]
fn a_closed_shard_past_its_retention_disappears_with_its_stream() {
    bounded(|| {
        let stores = host("weir.eng6");
        let s = engine(&stores);
        s.create_stream("old", 1, false, BTreeMap::new())
            .expect("create");
        s.put_record("old", &entry("k", "1"), None).expect("put");
        let mid = hashkey::even_ranges(1)[0].end / 2;
        s.split_shard("old", &shard_id(0), mid).expect("split");
        let uid = stream_uid(&stores, "old");
        // Within retention the closed shard stays and reads to its end.
        s.enforce_retention(now_ms()).expect("retention now");
        assert_eq!(s.describe_stream("old").expect("describe").shards.len(), 3);
        assert_eq!(read_all(&s, "old", &shard_id(0)).0.len(), 1);
        // A day and an hour later its records are past the 24 h retention: the sealed stream
        // keeps them (JetStream does not age a sealed stream), so the store hides them and
        // the engine drops the shard and its stream.
        s.enforce_retention(now_ms() + 25 * 3600 * 1000)
            .expect("retention a day later");
        let d = s.describe_stream("old").expect("describe");
        assert!(
            d.shards.iter().all(|x| x.shard_id != shard_id(0)),
            "{:?}",
            d.shards
        );
        assert!(matches!(
            JsShard::open(stores.bridge().clone(), uid, 0),
            Err(weir_cluster::ClusterError::NoStream(_))
        ));
        // The open children were not touched.
        s.put_record("old", &entry("k", "2"), None)
            .expect("put after");
        s.delete_stream("old").expect("delete");
    });
}

/// A figure, not a gate: PutRecords of 500 x 100 B through the engine on the cluster, one
/// caller, then every record read back. Run with `--ignored --nocapture`.
#[test]
#[ignore]
fn put_records_500_by_100_bytes_figure() {
    bounded(|| {
        let stores = host("weir.eng7");
        let s = engine(&stores);
        s.create_stream("bench", 4, false, BTreeMap::new())
            .expect("create");
        let batch: Vec<PutEntry> = (0..500)
            .map(|i| PutEntry {
                partition_key: format!("key-{i}"),
                explicit_hash_key: None,
                data: vec![b'x'; 100],
            })
            .collect();
        let mut took = Vec::new();
        let start = Instant::now();
        for _ in 0..20 {
            let t = Instant::now();
            let out = s.put_records("bench", &batch).expect("put");
            assert!(out.iter().all(|o| matches!(o, PutOutcome::Ok { .. })));
            took.push(t.elapsed());
        }
        let total = start.elapsed();
        took.sort();
        let stored: usize = (0..4)
            .map(|i| read_all_fast(&s, "bench", &shard_id(i)))
            .sum();
        assert_eq!(stored, 20 * 500);
        println!(
            "PutRecords 500 x 100 B, 20 calls, one caller: {:.0} records/s, p50 {:?}, max {:?}",
            10_000.0 / total.as_secs_f64(),
            took[took.len() / 2],
            took[took.len() - 1]
        );
        s.delete_stream("bench").expect("delete");
    });
}

/// How many records a shard holds, read in pages of 10,000.
fn read_all_fast(s: &Streams, stream: &str, shard: &str) -> usize {
    let mut it = s
        .get_shard_iterator(stream, shard, &StartPosition::TrimHorizon)
        .expect("iterator");
    let mut n = 0;
    loop {
        let page = s.get_records(&it, 10_000).expect("get records");
        if page.records.is_empty() {
            return n;
        }
        n += page.records.len();
        match page.next_iterator {
            Some(next) => it = next,
            None => return n,
        }
    }
}
