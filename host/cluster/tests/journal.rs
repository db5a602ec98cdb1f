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

#[test]
fn paths_are_listed_read_and_purged_one_writer_at_a_time() {
    let prefix = "weir.journal3";
    let j = JsJournal::open(NatsCluster::shared().connect(prefix), "spools").expect("open");
    j.append_at(&["rule", "act", "hosta-0"], &[b"a1", b"a2"])
        .expect("a");
    j.append_at(&["rule", "act", "hostb-0"], &[b"b1"])
        .expect("b");
    j.append_at(&["rule", "other", "hosta-1"], &[b"o1"])
        .expect("other action");
    assert_eq!(
        j.paths_under(&["rule", "act"]).expect("list"),
        [("hosta-0".to_owned(), 2), ("hostb-0".to_owned(), 1)]
    );
    // Every path, for the presence sweeper.
    assert_eq!(
        j.paths_under(&[]).expect("list all"),
        [
            ("rule.act.hosta-0".to_owned(), 2),
            ("rule.act.hostb-0".to_owned(), 1),
            ("rule.other.hosta-1".to_owned(), 1)
        ]
    );
    let a = j.read_at(&["rule", "act", "hosta-0"]).expect("read a");
    let bodies: Vec<&[u8]> = a.iter().map(|e| e.body.as_ref()).collect();
    assert_eq!(bodies, [b"a1".as_slice(), b"a2"]);
    // Appended after the read: a purge through the last sequence read keeps it.
    j.append_at(&["rule", "act", "hosta-0"], &[b"a3"])
        .expect("a3");
    let last = a.last().map(|e| e.seq);
    assert_eq!(
        j.purge_at(&["rule", "act", "hosta-0"], last)
            .expect("purge"),
        2
    );
    let left = j.read_at(&["rule", "act", "hosta-0"]).expect("read again");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].body.as_ref(), b"a3");
    // A purge of a whole path leaves the others alone, and an empty path is not listed.
    assert_eq!(
        j.purge_at(&["rule", "act", "hosta-0"], None)
            .expect("purge all"),
        1
    );
    assert_eq!(
        j.paths_under(&["rule", "act"]).expect("list"),
        [("hostb-0".to_owned(), 1)]
    );
    assert!(j
        .read_at(&["rule", "act", "hosta-0"])
        .expect("empty")
        .is_empty());
    for bad in [&["rule", "a.b"][..], &["*"], &[]] {
        let e = j.append_at(bad, &[b"x"]).expect_err("bad path");
        assert!(matches!(e, ClusterError::Config { .. }), "{bad:?}: {e}");
    }
}
