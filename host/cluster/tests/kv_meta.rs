//! `KvMeta` against a real 3-node JetStream cluster: CAS by revision, create-if-absent races
//! between hosts, the shared secret, and leases that expire.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{eventually, NatsCluster};
use weir_cluster::{ClusterError, KvMeta};

/// Two hosts: two connections, each with its own handle on the bucket.
fn two_hosts(prefix: &str) -> (Arc<KvMeta>, Arc<KvMeta>) {
    let c = NatsCluster::shared();
    let a = KvMeta::open(c.connect(prefix), "META").expect("open on host a");
    let b = KvMeta::open(c.connect(prefix), "META").expect("open on host b");
    (Arc::new(a), Arc::new(b))
}

/// Runs `f` on both hosts at the same moment (as close as a barrier gets).
fn race<T: Send + 'static>(
    a: &Arc<KvMeta>,
    b: &Arc<KvMeta>,
    f: impl Fn(&KvMeta, usize) -> T + Send + Sync + 'static,
) -> (T, T) {
    let f = Arc::new(f);
    let barrier = Arc::new(Barrier::new(2));
    let spawn = |kv: Arc<KvMeta>, i: usize| {
        let (f, barrier) = (f.clone(), barrier.clone());
        std::thread::spawn(move || {
            barrier.wait();
            f(&kv, i)
        })
    };
    let ta = spawn(a.clone(), 0);
    let tb = spawn(b.clone(), 1);
    (
        ta.join().expect("host a thread"),
        tb.join().expect("host b thread"),
    )
}

#[test]
fn two_hosts_creating_one_name_give_one_winner() {
    let (a, b) = two_hosts("weir.kv1");
    for round in 0..10 {
        let key = format!("names.orders-{round}");
        let k = key.clone();
        let (ra, rb) = race(&a, &b, move |kv, i| {
            kv.create(&k, format!("uid-{i}").as_bytes())
        });
        let (winner, loser) = match (&ra, &rb) {
            (Ok(_), Err(ClusterError::Exists(_))) => (0, &rb),
            (Err(ClusterError::Exists(_)), Ok(_)) => (1, &ra),
            _ => panic!("round {round}: expected one winner, got {ra:?} and {rb:?}"),
        };
        assert!(matches!(loser, Err(ClusterError::Exists(k)) if *k == key));
        // Both hosts read the winner's value.
        for kv in [&a, &b] {
            let e = kv.get(&key).expect("get").expect("present");
            assert_eq!(e.value, format!("uid-{winner}").as_bytes());
        }
    }
}

#[test]
fn a_stale_revision_is_refused_for_update_and_delete() {
    let (a, b) = two_hosts("weir.kv2");
    let r1 = a.create("streams.1", b"v1").expect("create");
    let r2 = b.update("streams.1", b"v2", r1).expect("update at r1");
    assert!(r2 > r1);
    // Host a still holds r1: its update and its delete are both refused, typed.
    match a.update("streams.1", b"v2-from-a", r1) {
        Err(ClusterError::Conflict { key, expected }) => {
            assert_eq!((key.as_str(), expected), ("streams.1", r1))
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        a.delete("streams.1", r1),
        Err(ClusterError::Conflict { .. })
    ));
    assert_eq!(a.get("streams.1").expect("get").expect("live").value, "v2");
    // At the current revision both work; a deleted key can be created again.
    a.delete("streams.1", r2).expect("delete at r2");
    assert_eq!(b.get("streams.1").expect("get"), None);
    assert!(!b.keys().expect("keys").contains(&"streams.1".to_string()));
    let r3 = b.create("streams.1", b"v3").expect("re-create");
    assert!(r3 > r2);
    assert!(matches!(
        a.create("streams.1", b"again"),
        Err(ClusterError::Exists(_))
    ));
    assert!(a.keys().expect("keys").contains(&"streams.1".to_string()));
}

#[test]
fn the_shared_secret_is_the_first_hosts() {
    let (a, b) = two_hosts("weir.kv3");
    let (sa, sb) = race(&a, &b, |kv, i| {
        kv.shared_secret("iterator-key", [i as u8 + 1; 32])
    });
    let (sa, sb) = (sa.expect("host a"), sb.expect("host b"));
    assert_eq!(sa, sb);
    assert!(sa == [1; 32] || sa == [2; 32]);
    // Later calls keep it.
    assert_eq!(a.shared_secret("iterator-key", [9; 32]).expect("again"), sa);
}

#[test]
fn a_lease_expires_and_another_holder_takes_it() {
    let (a, b) = two_hosts("weir.kv4");
    let ttl = Duration::from_secs(1);
    let lease = a
        .acquire_lease("lease.ds.7", "host-a", ttl)
        .expect("acquire")
        .expect("free");
    assert_eq!(
        b.acquire_lease("lease.ds.7", "host-b", ttl).expect("try"),
        None
    );
    // A renewal keeps it past the first TTL.
    std::thread::sleep(Duration::from_millis(600));
    let lease = a.renew_lease(&lease).expect("renew");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        b.acquire_lease("lease.ds.7", "host-b", ttl).expect("try"),
        None,
        "the renewed lease is still held"
    );
    // Host a stops renewing (it died): host b gets the lease once the TTL runs out.
    let started = Instant::now();
    let taken = eventually(Duration::from_secs(15), Duration::from_millis(100), || {
        b.acquire_lease("lease.ds.7", "host-b", ttl).expect("try")
    });
    eprintln!(
        "lease taken over {:?} after the last renewal",
        started.elapsed() + Duration::from_millis(600)
    );
    assert_eq!(taken.holder, "host-b");
    // The old holder's renewal is refused: it must stop acting as the holder.
    assert!(matches!(
        a.renew_lease(&lease),
        Err(ClusterError::Conflict { .. })
    ));
    // A clean release frees it at once.
    b.release_lease(&taken).expect("release");
    assert!(a
        .acquire_lease("lease.ds.7", "host-a", ttl)
        .expect("acquire")
        .is_some());
}
