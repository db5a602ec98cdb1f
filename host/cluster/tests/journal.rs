//! `JsJournal`: the append-only log the hosts' dead letters go to, on the 3-node cluster.

mod common;

use common::NatsCluster;
use weir_cluster::{ClusterError, JsJournal};

#[test]
fn entries_appended_through_two_hosts_are_read_back_in_order_under_their_part() {
    let prefix = "weir.journal1";
    let a = JsJournal::open(NatsCluster::shared().connect(prefix), "dead_letters").expect("a");
    // Empty: nothing to read, nothing held.
    assert!(a.read(0, 10).expect("read empty").is_empty());
    assert_eq!(a.bytes().expect("bytes"), 0);
    let b = JsJournal::open(NatsCluster::shared().connect(prefix), "dead_letters").expect("b");
    assert_eq!(a.name(), "WEIR_JOURNAL1_DEAD_LETTERS");
    assert_eq!(a.subjects(), "weir.journal1.dead_letters.>");
    a.append("2026-12-06", &[b"one", b"two"]).expect("append a");
    b.append("2026-12-07", &[b"three"]).expect("append b");
    let read = b.read(0, 10).expect("read");
    let got: Vec<(u64, &str, &[u8])> = read
        .iter()
        .map(|e| (e.seq, e.part.as_str(), e.body.as_ref()))
        .collect();
    assert_eq!(
        got,
        [
            (1, "2026-12-06", b"one".as_slice()),
            (2, "2026-12-06", b"two".as_slice()),
            (3, "2026-12-07", b"three".as_slice()),
        ]
    );
    assert_eq!(a.read(3, 10).expect("from 3").len(), 1);
    assert_eq!(a.read(0, 2).expect("limit").len(), 2);
    assert!(a.bytes().expect("bytes") >= 11);
}

#[test]
fn a_bad_name_or_part_is_refused_before_anything_is_sent() {
    let bridge = NatsCluster::shared().connect("weir.journal2");
    for bad in ["", "Dead", "a.b", "a b", "*"] {
        let e = JsJournal::open(bridge.clone(), bad).expect_err(bad);
        assert!(matches!(e, ClusterError::Config { .. }), "{bad:?}: {e}");
    }
    let j = JsJournal::open(bridge, "dl").expect("open");
    for bad in ["", "a.b", ">", "*", "a b"] {
        let e = j.append(bad, &[b"x"]).expect_err(bad);
        assert!(matches!(e, ClusterError::Config { .. }), "{bad:?}: {e}");
    }
    assert!(j.read(0, 10).expect("read").is_empty(), "nothing was sent");
}
