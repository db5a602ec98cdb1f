//! `JetStreamStores::docs`: the DocStore contract (the same cases as the folder store's unit
//! tests in weir-support) on a KV bucket of the 3-node cluster, and across two hosts.

mod common;

use std::sync::Arc;

use common::NatsCluster;
use weir_cluster::JetStreamStores;
use weir_support::docstore::{DocError, DocExpect, DocStore};

/// The document store `name` of a new host (its own connection) under `prefix`.
fn docs(prefix: &str, name: &str) -> Arc<dyn DocStore> {
    JetStreamStores::open(NatsCluster::shared().connect(prefix))
        .expect("stores")
        .docs(name)
        .expect("doc store")
}

#[test]
fn a_document_is_written_read_and_replaced_by_revision() {
    let s = docs("weir.doc1", "FIREHOSE");
    assert!(s.get("checkpoints/abc").expect("get").is_none());
    let r1 = s
        .put("checkpoints/abc", b"1", DocExpect::Absent)
        .expect("create");
    assert_eq!(
        s.get("checkpoints/abc").expect("get"),
        Some((b"1".to_vec(), r1))
    );
    let r2 = s
        .put("checkpoints/abc", b"2", DocExpect::Revision(r1))
        .expect("update");
    assert!(r2 > r1);
    assert!(s.describe("checkpoints/abc").contains("WEIR_DOC1_FIREHOSE"));
}

#[test]
fn a_write_from_a_stale_read_is_refused_on_another_host_too() {
    let (a, b) = (docs("weir.doc2", "FIREHOSE"), docs("weir.doc2", "FIREHOSE"));
    let r1 = a.put("catalog.json", b"a", DocExpect::Any).expect("put");
    b.put("catalog.json", b"b", DocExpect::Revision(r1))
        .expect("update on b");
    let e = a
        .put("catalog.json", b"c", DocExpect::Revision(r1))
        .expect_err("stale");
    assert!(
        matches!(e, DocError::Conflict { found: Some(_), .. }),
        "{e}"
    );
    assert!(e.to_string().contains("changed meanwhile"), "{e}");
    let e = a
        .put("catalog.json", b"c", DocExpect::Absent)
        .expect_err("exists");
    assert!(matches!(e, DocError::Conflict { .. }), "{e}");
    assert_eq!(
        a.get("catalog.json").expect("get").map(|d| d.0),
        Some(b"b".to_vec())
    );
    // Any writes over whatever is there.
    a.put("catalog.json", b"d", DocExpect::Any).expect("any");
    assert_eq!(
        b.get("catalog.json").expect("get").map(|d| d.0),
        Some(b"d".to_vec())
    );
}

#[test]
fn of_two_hosts_creating_one_document_one_wins() {
    let (a, b) = (docs("weir.doc3", "FIREHOSE"), docs("weir.doc3", "FIREHOSE"));
    for round in 0..5 {
        let key = format!("names/one-{round}");
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let (key, barrier) = (key.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    s.put(&key, format!("{i}").as_bytes(), DocExpect::Absent)
                        .is_ok()
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .filter(|won| *won)
            .count();
        assert_eq!(wins, 1, "round {round}");
    }
}

#[test]
fn a_deleted_document_reads_absent_and_is_created_with_a_new_revision() {
    let s = docs("weir.doc4", "FIREHOSE");
    let rev = s
        .put("checkpoints/old", b"41", DocExpect::Any)
        .expect("put");
    s.delete("checkpoints/old", DocExpect::Revision(rev))
        .expect("delete");
    assert!(s.get("checkpoints/old").expect("get").is_none());
    s.delete("checkpoints/old", DocExpect::Any)
        .expect("deleting nothing");
    let e = s
        .delete("checkpoints/gone", DocExpect::Revision(rev))
        .expect_err("nothing at that revision");
    assert!(matches!(e, DocError::Conflict { found: None, .. }), "{e}");
    let r = s
        .put("checkpoints/old", b"1", DocExpect::Absent)
        .expect("recreate");
    assert_ne!(r, rev);
    let e = s
        .delete("checkpoints/old", DocExpect::Revision(rev))
        .expect_err("stale delete");
    assert!(matches!(e, DocError::Conflict { .. }), "{e}");
}

#[test]
fn keys_list_one_folder_and_bad_keys_are_refused() {
    let s = docs("weir.doc5", "FIREHOSE");
    s.put("checkpoints/b", b"1", DocExpect::Any).expect("put");
    s.put("checkpoints/a.source.json", b"{}", DocExpect::Any)
        .expect("put");
    s.put("checkpoints/deep/x", b"1", DocExpect::Any)
        .expect("put");
    s.put("catalog.json", b"[]", DocExpect::Any).expect("put");
    assert_eq!(
        s.keys("checkpoints").expect("keys"),
        vec!["checkpoints/a.source.json", "checkpoints/b"]
    );
    assert_eq!(s.keys("").expect("keys"), vec!["catalog.json"]);
    assert!(s.keys("nothing").expect("keys").is_empty());
    for bad in [
        "", "/a", "a/", "a//b", "../x", "a/./b", ".hidden", "x.", "a b", "é", "a\\b",
    ] {
        let e = s.put(bad, b"x", DocExpect::Any).expect_err(bad);
        assert!(matches!(e, DocError::BadKey { .. }), "{bad}: {e}");
    }
    assert!(s.put(&"k".repeat(513), b"x", DocExpect::Any).is_err());
    // Buckets are per use: another name holds other documents.
    let other = docs("weir.doc5", "CHECKPOINTS");
    assert!(other.get("catalog.json").expect("get").is_none());
    assert!(
        JetStreamStores::open(NatsCluster::shared().connect("weir.doc5"))
            .expect("stores")
            .docs("no.dots")
            .is_err()
    );
}
