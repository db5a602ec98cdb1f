//! Two engines on one shared in-memory catalog ([`MemStores::shared`]), as two hosts on one
//! cluster: each sees the other's creates, deletes, reshards and settings.

use super::*;

fn cfg() -> StreamsConfig {
    let mut c = StreamsConfig::new("/weir");
    c.transition_delay = Duration::ZERO;
    c
}

/// Two hosts on one cluster.
fn hosts() -> (Streams, Streams) {
    let stores = Arc::new(MemStores::shared());
    let a = Streams::open_with_stores(cfg(), stores.clone()).expect("open a");
    let b = Streams::open_with_stores(cfg(), stores).expect("open b");
    (a, b)
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
fn data_in(s: &Streams, stream: &str, shard: &str) -> Vec<Vec<u8>> {
    let it = s
        .get_shard_iterator(stream, shard, &StartPosition::TrimHorizon)
        .expect("iterator");
    s.get_records(&it, 1000)
        .expect("get")
        .records
        .into_iter()
        .map(|r| r.data)
        .collect()
}

/// Polls `f` (no reload of its own) until it holds, for at most five seconds.
fn within_deadline(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_stream_created_on_one_host_is_described_and_written_on_another_at_once() {
    let (a, b) = hosts();
    a.create_stream("x", 2, false, BTreeMap::new())
        .expect("create on a");
    // b opened before the create: the lookup that misses reloads the catalog.
    assert_eq!(
        b.describe_stream("x").expect("describe on b").shards.len(),
        2
    );
    let out = b
        .put_records("x", &[entry("k", "from b")])
        .expect("put on b");
    let shard = ok_shard(&out[0]);
    assert_eq!(data_in(&a, "x", &shard), [b"from b".to_vec()]);
    // An iterator a issued for a stream b has not listed reads on b.
    a.create_stream("y", 1, false, BTreeMap::new())
        .expect("create on a");
    let it = a
        .get_shard_iterator("y", &shard_id(0), &StartPosition::TrimHorizon)
        .expect("iterator on a");
    assert!(b
        .get_records(&it, 10)
        .expect("a's iterator on b")
        .records
        .is_empty());
}

#[test]
fn the_maintenance_poll_shows_another_hosts_create_and_delete() {
    let (a, b) = hosts();
    a.create_stream("polled", 1, false, BTreeMap::new())
        .expect("create on a");
    // ListStreams does not reload by itself: only the poll can show the stream.
    assert!(
        within_deadline(|| b.list_streams().iter().any(|s| s.name == "polled")),
        "b never listed a's stream"
    );
    a.delete_stream("polled").expect("delete on a");
    assert!(
        within_deadline(|| b.list_streams().is_empty()),
        "b still lists a's deleted stream"
    );
    assert!(matches!(
        b.describe_stream("polled"),
        Err(StreamsError::NotFound(_))
    ));
    assert!(matches!(
        b.put_records("polled", &[entry("k", "late")]),
        Err(StreamsError::NotFound(_))
    ));
}

#[test]
fn a_delete_on_one_host_is_not_found_on_the_other_and_the_name_can_return() {
    let (a, b) = hosts();
    a.create_stream("d", 1, false, BTreeMap::new())
        .expect("create on a");
    b.put_records("d", &[entry("k", "1")]).expect("put on b");
    a.delete_stream("d").expect("delete on a");
    b.refresh().expect("refresh");
    assert!(matches!(
        b.describe_stream("d"),
        Err(StreamsError::NotFound(_))
    ));
    // Re-created on b: a finds the new stream, not the old one's records.
    b.create_stream("d", 1, false, BTreeMap::new())
        .expect("re-create on b");
    assert!(data_in(&a, "d", &shard_id(0)).is_empty());
}

#[test]
fn retention_tags_and_shard_counts_changed_on_one_host_show_on_the_other() {
    let (a, b) = hosts();
    a.create_stream("c", 2, false, BTreeMap::new())
        .expect("create on a");
    b.describe_stream("c").expect("b knows c");
    a.add_tags("c", BTreeMap::from([("team".to_string(), "a".to_string())]))
        .expect("tag on a");
    a.set_retention("c", 48, true).expect("retention on a");
    a.update_shard_count("c", 4).expect("scale on a");
    b.refresh().expect("refresh");
    let d = b.describe_stream("c").expect("describe on b");
    assert_eq!(d.retention_hours, 48);
    assert_eq!(d.open_shard_count, 4);
    assert_eq!(
        b.tags("c").expect("tags").get("team").map(String::as_str),
        Some("a")
    );
    // b's next write rebases on what it reloaded: a's changes stay.
    b.remove_tags("c", &["none".to_string()])
        .expect("write on b");
    a.refresh().expect("refresh");
    assert_eq!(
        a.describe_stream("c").expect("describe").retention_hours,
        48
    );
}

#[test]
fn a_put_that_meets_a_parent_another_host_split_goes_to_the_children() {
    let (a, b) = hosts();
    a.create_stream("r", 1, false, BTreeMap::new())
        .expect("create on a");
    b.put_records("r", &[entry("k0", "before")])
        .expect("put on b");
    let mid = hashkey::even_ranges(1)[0].end / 2;
    a.split_shard("r", &shard_id(0), mid).expect("split on a");
    // b still routes to shard 0, which is sealed: its put must land in the children.
    let entries: Vec<PutEntry> = (0..20)
        .map(|i| entry(&format!("k{i}"), &i.to_string()))
        .collect();
    let out = b.put_records("r", &entries).expect("put on b");
    let children = [shard_id(1), shard_id(2)];
    for o in &out {
        assert!(children.contains(&ok_shard(o)), "{o:?}");
    }
    let stored: usize = children.iter().map(|c| data_in(&a, "r", c).len()).sum();
    assert_eq!(stored, 20, "every re-routed record stored once");
    assert_eq!(data_in(&a, "r", &shard_id(0)), [b"before".to_vec()]);
    let listed: Vec<String> = b
        .list_shards("r", ShardFilter::AtLatest, now_ms())
        .expect("list on b")
        .into_iter()
        .map(|s| s.shard_id)
        .collect();
    assert_eq!(listed, children);
    // PutRecord too.
    let (sid, _) = b
        .put_record("r", &entry("k", "one"), None)
        .expect("put_record on b");
    assert!(children.contains(&sid));
}

#[test]
fn a_local_catalog_is_not_shared_and_never_polled() {
    let s = Streams::open_with_stores(cfg(), Arc::new(MemStores::new())).expect("open");
    assert!(!s.inner.shared);
    assert_eq!(s.inner.meta.catalog_changed().expect("changed"), None);
    let local = Streams::open_with_backend(cfg(), Arc::new(MemBackend::new())).expect("open");
    assert!(!local.inner.shared);
}

#[test]
fn an_unsynced_put_that_meets_a_parent_another_host_split_goes_to_the_children() {
    let (a, b) = hosts();
    a.create_stream("u", 1, false, BTreeMap::new())
        .expect("create on a");
    b.describe_stream("u").expect("b knows u");
    let mid = hashkey::even_ranges(1)[0].end / 2;
    a.split_shard("u", &shard_id(0), mid).expect("split on a");
    let entries: Vec<PutEntry> = (0..10)
        .map(|i| entry(&format!("k{i}"), &i.to_string()))
        .collect();
    let pending = b.put_records_unsynced("u", &entries).expect("put on b");
    assert!(pending.needs_sync());
    let out = PendingPut::sync_all(vec![pending]).remove(0);
    let children = [shard_id(1), shard_id(2)];
    for o in &out {
        assert!(children.contains(&ok_shard(o)), "{o:?}");
    }
    let stored: usize = children.iter().map(|c| data_in(&a, "u", c).len()).sum();
    assert_eq!(stored, 10);
}

#[test]
fn a_child_shard_listed_on_one_host_is_read_on_the_other_at_once() {
    let (a, b) = hosts();
    a.create_stream("k", 1, false, BTreeMap::new())
        .expect("create on a");
    b.describe_stream("k").expect("b knows k");
    let mid = hashkey::even_ranges(1)[0].end / 2;
    a.split_shard("k", &shard_id(0), mid).expect("split on a");
    let out = a
        .put_records("k", &[entry("k", "in a child")])
        .expect("put on a");
    let child = ok_shard(&out[0]);
    // A client that listed the shards on a asks b for the child before b's poll ran.
    let it = b
        .get_shard_iterator("k", &child, &StartPosition::TrimHorizon)
        .expect("the child's iterator on b");
    let page = b.get_records(&it, 10).expect("read on b");
    assert_eq!(page.records[0].data, b"in a child");
    // And an iterator a issued for a child b has not opened.
    a.split_shard(
        "k",
        &child,
        if child == shard_id(1) {
            mid / 2
        } else {
            mid + mid / 2
        },
    )
    .expect("split the child on a");
    let grand = ok_shard(&a.put_records("k", &[entry("k", "deeper")]).expect("put")[0]);
    let it = a
        .get_shard_iterator("k", &grand, &StartPosition::TrimHorizon)
        .expect("iterator on a");
    assert_eq!(
        b.get_records(&it, 10).expect("a's iterator on b").records[0].data,
        b"deeper"
    );
}
