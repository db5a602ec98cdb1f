//! The Device Shadow service on the cluster: two `ShadowService`s ("hosts"), each on its own
//! connection to the "IOT" document bucket, serve the same shadows; updates that race across
//! hosts end as AWS's optimistic locking says (one success, one 409) and none is lost.

mod common;

use std::sync::{Arc, Barrier};

use common::NatsCluster;
use serde_json::{json, Value};
use weir_cluster::JetStreamStores;
use weir_shadow::{ShadowLimits, ShadowService};

/// A new host's shadow service under `prefix`, on its own connection.
fn host(prefix: &str) -> ShadowService {
    let docs = JetStreamStores::open(NatsCluster::shared().connect(prefix))
        .expect("stores")
        .docs("IOT")
        .expect("IOT bucket");
    ShadowService::on_docs(docs, "shadows", ShadowLimits::default()).expect("shadow service")
}

fn update(svc: &ShadowService, thing: &str, name: Option<&str>, body: Value, now_ms: i64) -> u64 {
    svc.update(thing, name, body.to_string().as_bytes(), now_ms)
        .expect("update accepted")
        .version
}

#[test]
fn two_hosts_share_shadows() {
    let (a, b) = (host("weir.shadow1"), host("weir.shadow1"));
    let thing = "lamp:1";
    for name in [None, Some("$cfg:net")] {
        assert_eq!(
            update(
                &a,
                thing,
                name,
                json!({"state": {"reported": {"on": true}}}),
                1000
            ),
            1
        );
        let got = b.get(thing, name, None, 2000).expect("read on b");
        assert_eq!(got["state"]["reported"], json!({"on": true}));
        assert_eq!(got["version"], json!(1));

        // Both expect version 1: the first to write wins, the other is refused.
        let first = b.update(
            thing,
            name,
            br#"{"state":{"desired":{"on":false}},"version":1}"#,
            3000,
        );
        let second = a.update(
            thing,
            name,
            br#"{"state":{"desired":{"on":true}},"version":1}"#,
            3000,
        );
        assert_eq!(first.map(|o| o.version), Ok(2));
        assert_eq!(second.map_err(|e| e.code()), Err(409));
        assert_eq!(
            a.get(thing, name, None, 4000).expect("read on a")["state"]["desired"],
            json!({"on": false})
        );

        assert_eq!(
            a.delete(thing, name, None, 5000).expect("delete on a")["version"],
            json!(2)
        );
        assert_eq!(
            b.get(thing, name, None, 6000).map_err(|e| e.code()),
            Err(404)
        );
        // Re-created on b within 48 hours: the version goes on from the deleted one's.
        assert_eq!(
            update(&b, thing, name, json!({"state": {}, "version": 2}), 7000),
            3
        );
        assert_eq!(
            a.get(thing, name, None, 8000).expect("read on a")["version"],
            json!(3)
        );
    }
    assert_eq!(
        a.list_named(thing, None, None, 0).expect("list").results,
        ["$cfg:net"]
    );
}

/// Of two updates with one expected version sent at once from two hosts, exactly one is
/// accepted, every round.
#[test]
fn simultaneous_updates_from_two_hosts_one_wins() {
    let (a, b) = (
        Arc::new(host("weir.shadow2")),
        Arc::new(host("weir.shadow2")),
    );
    update(&a, "t", None, json!({"state": {"reported": {"n": 0}}}), 0);
    for round in 1..=10u64 {
        let barrier = Arc::new(Barrier::new(2));
        let threads: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .enumerate()
            .map(|(i, svc)| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let body = json!({"state": {"reported": {"n": i}}, "version": round});
                    barrier.wait();
                    svc.update("t", None, body.to_string().as_bytes(), 0)
                        .map(|o| o.version)
                        .map_err(|e| e.code())
                })
            })
            .collect();
        let mut results: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        results.sort();
        assert_eq!(results, [Ok(round + 1), Err(409)], "round {round}");
    }
}

/// Two threads on each host add 1 to a counter 10 times each, with the version they read,
/// retrying after a 409: 40 increments, none lost, and the version is 1 + 40.
#[test]
fn concurrent_increments_from_two_hosts_lose_nothing() {
    let (a, b) = (
        Arc::new(host("weir.shadow3")),
        Arc::new(host("weir.shadow3")),
    );
    update(
        &a,
        "counter",
        None,
        json!({"state": {"reported": {"n": 0}}}),
        0,
    );
    let threads: Vec<_> = [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .map(|svc| {
            std::thread::spawn(move || {
                let mut conflicts = 0u32;
                for _ in 0..10 {
                    loop {
                        assert!(conflicts < 10_000, "never got through");
                        let got = svc.get("counter", None, None, 0).expect("get");
                        let n = got["state"]["reported"]["n"].as_u64().expect("n");
                        let body = json!({"state": {"reported": {"n": n + 1}},
                                          "version": got["version"]});
                        match svc.update("counter", None, body.to_string().as_bytes(), 0) {
                            Ok(_) => break,
                            Err(e) if e.code() == 409 => conflicts += 1,
                            Err(e) => panic!("update: {e}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    let conflicts: u32 = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    eprintln!("40 increments from 2 hosts: {conflicts} conflicts retried");
    for svc in [&a, &b] {
        let got = svc.get("counter", None, None, 0).expect("get");
        assert_eq!(got["state"]["reported"]["n"], json!(40));
        assert_eq!(got["version"], json!(41));
    }
}
