//! The live view of the catalog on the 3-node test cluster: two `Streams` engines on one
//! prefix, as two Weir hosts, each seeing the other's creates, deletes, reshards and
//! settings without a restart. Each test uses its own prefix and runs under a time bound.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{eventually, NatsCluster};
use weir_cluster::JetStreamStores;
use weir_streams::{
    hashkey, shard_id, PutEntry, PutOutcome, ShardFilter, StartPosition, Streams, StreamsConfig,
    StreamsError,
};
use weir_support::now_ms;

/// Longest a test may take.
const BOUND: Duration = Duration::from_secs(120);
/// How long another host's change may take to show through the poll (250 ms plus the
/// watch's delivery; seconds while a cluster is busy).
const SEEN_WITHIN: Duration = Duration::from_secs(15);

fn bounded(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(BOUND) {
        Ok(()) => t.join().expect("test thread"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = t.join() {
                std::panic::resume_unwind(p)
            }
        }
        Err(e) => panic!("test did not finish within {BOUND:?}: {e}"),
    }
}

/// Two Weir hosts on one prefix: each its own connection, stores and engine.
fn hosts(prefix: &str) -> (Streams, Streams) {
    let open = || {
        let stores = JetStreamStores::open(NatsCluster::shared().connect(prefix)).expect("stores");
        let mut c = StreamsConfig::new("/unused-on-a-cluster");
        c.transition_delay = Duration::ZERO;
        Streams::open_with_stores(c, stores).expect("open engine on the cluster")
    };
    (open(), open())
}

fn entry(key: &str, data: &str) -> PutEntry {
    PutEntry {
        partition_key: key.into(),
        explicit_hash_key: None,
        data: data.as_bytes().to_vec(),
    }
}

fn ok_shard(o: &PutOutcome) -> String {
    match o {
        PutOutcome::Ok { shard_id, .. } => shard_id.clone(),
        other => panic!("put failed: {other:?}"),
    }
}

/// Every record's data in one shard, read through `s`.
fn data_in(s: &Streams, stream: &str, shard: &str) -> Vec<String> {
    let mut it = s
        .get_shard_iterator(stream, shard, &StartPosition::TrimHorizon)
        .expect("iterator");
    let mut out = Vec::new();
    for _ in 0..1000 {
        let page = s.get_records(&it, 1000).expect("get records");
        let empty = page.records.is_empty();
        out.extend(
            page.records
                .into_iter()
                .map(|r| String::from_utf8_lossy(&r.data).into_owned()),
        );
        match page.next_iterator {
            Some(n) if !empty => it = n,
            _ => break,
        }
    }
    out
}

#[test]
fn a_stream_created_on_one_host_is_written_on_the_other_at_once_and_listed_by_the_poll() {
    bounded(|| {
        let (a, b) = hosts("weir.live1");
        a.create_stream("x", 2, false, BTreeMap::new())
            .expect("create on a");
        // b opened before the create: the name it does not know reloads the catalog.
        assert_eq!(
            b.describe_stream("x").expect("describe on b").shards.len(),
            2
        );
        let out = b
            .put_records("x", &[entry("k", "from b")])
            .expect("put on b");
        assert_eq!(data_in(&a, "x", &ok_shard(&out[0])), ["from b"]);

        // ListStreams does not reload: only the watch-fed poll shows a's next stream.
        a.create_stream("y", 1, false, BTreeMap::new())
            .expect("create on a");
        eventually(SEEN_WITHIN, Duration::from_millis(50), || {
            b.list_streams().iter().any(|s| s.name == "y").then_some(())
        });
        for n in ["x", "y"] {
            a.delete_stream(n).expect("delete");
        }
    });
}

#[test]
fn a_delete_on_one_host_answers_not_found_on_the_other() {
    bounded(|| {
        let (a, b) = hosts("weir.live2");
        a.create_stream("d", 1, false, BTreeMap::new())
            .expect("create on a");
        b.put_records("d", &[entry("k", "1")]).expect("put on b");
        a.delete_stream("d").expect("delete on a");
        eventually(SEEN_WITHIN, Duration::from_millis(50), || {
            matches!(b.describe_stream("d"), Err(StreamsError::NotFound(_))).then_some(())
        });
        let e = b
            .put_records("d", &[entry("k", "2")])
            .expect_err("a deleted stream");
        assert!(matches!(e, StreamsError::NotFound(_)), "{e}");
    });
}

#[test]
fn puts_on_one_host_go_to_the_children_of_a_split_made_on_the_other() {
    bounded(|| {
        let (a, b) = hosts("weir.live3");
        a.create_stream("r", 1, false, BTreeMap::new())
            .expect("create on a");
        b.put_records("r", &[entry("k", "before")])
            .expect("put on b");
        let mid = hashkey::even_ranges(1)[0].end / 2;
        a.split_shard("r", &shard_id(0), mid).expect("split on a");
        // b still routes to shard 0, sealed now: its puts land in the children.
        let entries: Vec<PutEntry> = (0..50)
            .map(|i| entry(&format!("k{i}"), &format!("r{i}")))
            .collect();
        let out = b.put_records("r", &entries).expect("put on b");
        let children = [shard_id(1), shard_id(2)];
        for o in &out {
            assert!(children.contains(&ok_shard(o)), "{o:?}");
        }
        let mut stored: Vec<String> = children.iter().flat_map(|c| data_in(&a, "r", c)).collect();
        stored.sort();
        let mut want: Vec<String> = (0..50).map(|i| format!("r{i}")).collect();
        want.sort();
        assert_eq!(stored, want, "every record once, in the children");
        assert_eq!(data_in(&a, "r", &shard_id(0)), ["before"]);
        let listed: Vec<String> = b
            .list_shards("r", ShardFilter::AtLatest, now_ms())
            .expect("list on b")
            .into_iter()
            .map(|s| s.shard_id)
            .collect();
        assert_eq!(listed, children);
        a.delete_stream("r").expect("delete");
    });
}

#[test]
fn a_writer_on_one_host_loses_nothing_while_the_other_reshards() {
    bounded(|| {
        let (a, b) = hosts("weir.live4");
        a.create_stream("w", 2, false, BTreeMap::new())
            .expect("create on a");
        b.describe_stream("w").expect("b knows w");
        let stop = Arc::new(AtomicBool::new(false));
        let (started, first_batch) = std::sync::mpsc::channel();
        let writer = {
            let (b, stop) = (b.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let (mut batch, mut after_stop) = (0, 0);
                // Until three batches went after the reshard was done.
                while after_stop < 3 {
                    if stop.load(Ordering::SeqCst) {
                        after_stop += 1;
                    }
                    let entries: Vec<PutEntry> = (0..20)
                        .map(|i| entry(&format!("k{i}"), &format!("b{batch}-{i}")))
                        .collect();
                    let out = b.put_records("w", &entries).expect("put on b");
                    for (e, o) in entries.iter().zip(&out) {
                        match o {
                            PutOutcome::Ok { .. } => {
                                acked.push(String::from_utf8_lossy(&e.data).into_owned())
                            }
                            other => panic!("a put during another host's reshard: {other:?}"),
                        }
                    }
                    if batch == 0 {
                        let _ = started.send(());
                    }
                    batch += 1;
                }
                acked
            })
        };
        first_batch.recv().expect("the writer started");
        a.update_shard_count("w", 4).expect("scale on a");
        stop.store(true, Ordering::SeqCst);
        let acked = writer.join().expect("writer");
        let d = a.describe_stream("w").expect("describe");
        let stored: std::collections::HashSet<String> = d
            .shards
            .iter()
            .flat_map(|s| data_in(&a, "w", &s.shard_id))
            .collect();
        let lost: Vec<&String> = acked.iter().filter(|x| !stored.contains(*x)).collect();
        assert!(lost.is_empty(), "acked and not stored: {lost:?}");
        a.delete_stream("w").expect("delete");
    });
}

#[test]
fn shard_count_retention_and_tags_changed_on_one_host_show_on_the_other() {
    bounded(|| {
        let (a, b) = hosts("weir.live5");
        a.create_stream("c", 2, false, BTreeMap::new())
            .expect("create on a");
        b.describe_stream("c").expect("b knows c");
        a.update_shard_count("c", 4).expect("scale on a");
        a.set_retention("c", 48, true).expect("retention on a");
        a.add_tags("c", BTreeMap::from([("team".to_string(), "a".to_string())]))
            .expect("tag on a");
        a.set_max_record_size("c", 2048, true)
            .expect("max record size on a");
        eventually(SEEN_WITHIN, Duration::from_millis(50), || {
            let d = b.describe_stream("c").ok()?;
            let tagged = b.tags("c").ok()?.get("team").is_some_and(|t| t == "a");
            let limit = b.max_record_bytes("c").ok()? == Some(2048 * 1024);
            (d.open_shard_count == 4 && d.retention_hours == 48 && tagged && limit).then_some(())
        });
        // b writes to the children it opened on reload.
        let out = b
            .put_records("c", &[entry("k", "after")])
            .expect("put on b");
        let open: Vec<String> = b
            .list_shards("c", ShardFilter::AtLatest, now_ms())
            .expect("list on b")
            .into_iter()
            .map(|s| s.shard_id)
            .collect();
        assert_eq!(open.len(), 4);
        assert!(open.contains(&ok_shard(&out[0])));
        // b writes on top of what it reloaded: a's changes stay.
        b.add_tags(
            "c",
            BTreeMap::from([("owner".to_string(), "b".to_string())]),
        )
        .expect("tag on b");
        eventually(SEEN_WITHIN, Duration::from_millis(50), || {
            let tags = a.tags("c").ok()?;
            (tags.len() == 2).then_some(())
        });
        assert_eq!(
            a.describe_stream("c").expect("describe").retention_hours,
            48
        );
        a.delete_stream("c").expect("delete");
    });
}

#[test]
fn sequence_number_for_ordering_above_the_tip_is_invalid_on_the_cluster() {
    bounded(|| {
        let (a, _b) = hosts("weir.live6");
        a.create_stream("o", 1, false, BTreeMap::new())
            .expect("create");
        let (_, seq) = a.put_record("o", &entry("k", "1"), None).expect("put");
        let counter = weir_streams::seqno::SeqNo::decode(&seq)
            .expect("a Weir sequence number")
            .counter;
        let ahead = weir_streams::seqno::SeqNo::new(counter + 1000, 0).encode();
        let e = a
            .put_record("o", &entry("k", "2"), Some(&ahead))
            .expect_err("a sequence number the shard has not reached");
        assert!(matches!(e, StreamsError::InvalidArgument(_)), "{e}");
        assert_eq!(data_in(&a, "o", &shard_id(0)), ["1"], "nothing stored");
        a.delete_stream("o").expect("delete");
    });
}

/// A reshard whose host sealed the parent's stream and died before its catalog write: the
/// catalog still shows the shard open, JetStream refuses every write to it. The next put
/// routed there waits for the catalog, then finishes the reshard itself (one child over the
/// parent's whole range), so the stream takes writes again and the lineage holds.
#[test]
fn a_put_finishes_a_reshard_that_sealed_its_parent_and_recorded_nothing() {
    bounded(|| {
        use weir_streams::StoreFactory;
        let prefix = "weir.live9";
        let (a, b) = hosts(prefix);
        a.create_stream("h", 1, false, BTreeMap::new())
            .expect("create on a");
        a.put_records("h", &[entry("k", "before")])
            .expect("put before");
        // The dead host's half of a split: the seal, and nothing in the catalog.
        let stores = JetStreamStores::open(NatsCluster::shared().connect(prefix)).expect("stores");
        let uid = stores
            .meta()
            .and_then(|m| m.load_catalog())
            .expect("catalog")
            .values()
            .find(|m| m.name == "h")
            .map(|m| m.uid)
            .expect("stream h");
        let parent = weir_cluster::JsShard::open(stores.bridge().clone(), uid, 0).expect("shard");
        parent.close().expect("seal the parent");

        let out = b
            .put_records("h", &[entry("k", "after-1"), entry("j", "after-2")])
            .expect("put on b");
        for o in &out {
            assert_eq!(ok_shard(o), shard_id(1), "{o:?}");
        }
        // Both hosts see the finished reshard: the parent closed, one child over its range.
        for s in [&a, &b] {
            eventually(SEEN_WITHIN, Duration::from_millis(50), || {
                let d = s.describe_stream("h").ok()?;
                (d.shards.len() == 2 && d.shards[0].ending_sequence_number.is_some()).then_some(())
            });
            let d = s.describe_stream("h").expect("describe");
            assert_eq!(
                d.shards[1].parent_shard_id.as_deref(),
                Some("shardId-000000000000")
            );
            assert_eq!(d.shards[1].hash_range, d.shards[0].hash_range);
        }
        a.put_records("h", &[entry("k", "after-3")])
            .expect("put on a");
        assert_eq!(data_in(&a, "h", &shard_id(0)), ["before"]);
        assert_eq!(
            data_in(&b, "h", &shard_id(1)),
            ["after-1", "after-2", "after-3"]
        );
        a.delete_stream("h").expect("delete");
    });
}
