//! SIGKILL of a shard stream's leader while a producer writes through it: every record whose
//! put was acknowledged is readable afterwards, once, with its data. Its own cluster (it
//! kills a node), so it runs apart from the shared one.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{eventually, fresh_uid, NatsCluster};
use weir_cluster::{JsShard, JsShardSpec};

#[derive(Default)]
struct Log {
    /// (counter, data) of every acknowledged record.
    acked: Vec<(u64, Vec<u8>)>,
    /// When each settle answered, and whether it was Ok.
    settles: Vec<(Instant, bool)>,
    errors: Vec<String>,
}

#[test]
fn acked_records_survive_a_sigkill_of_the_streams_leader() {
    let cluster = NatsCluster::start();
    let shard = Arc::new(
        JsShard::create(
            cluster.connect("weir.k"),
            &JsShardSpec {
                uid: fresh_uid(),
                index: 0,
                first_counter: None,
                retention: Duration::from_secs(3600),
                max_record_bytes: 1 << 20,
            },
        )
        .expect("create"),
    );
    let leader = eventually(Duration::from_secs(10), Duration::from_millis(50), || {
        cluster.leader_of(shard.name())
    });

    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Log::default()));
    let producer = {
        let (shard, stop, log) = (shard.clone(), stop.clone(), log.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let data: Vec<Vec<u8>> = (0..20)
                    .map(|i| format!("record-{}", n + i).into_bytes())
                    .collect();
                n += 20;
                let items: Vec<(&str, &[u8])> = data.iter().map(|d| ("pk", d.as_slice())).collect();
                let outcome = shard
                    .append(&items)
                    .map(|p| shard.settle(vec![p]).remove(0));
                let mut log = log.lock().expect("log");
                match outcome {
                    Ok(Ok(acks)) => {
                        log.settles.push((Instant::now(), true));
                        for ((counter, _), d) in acks.into_iter().zip(data) {
                            log.acked.push((counter, d));
                        }
                    }
                    Ok(Err(e)) | Err(e) => {
                        log.settles.push((Instant::now(), false));
                        log.errors.push(e.to_string());
                    }
                }
            }
        })
    };
    let acked = || log.lock().expect("log").acked.len();
    eventually(Duration::from_secs(20), Duration::from_millis(10), || {
        (acked() >= 300).then_some(())
    });
    let killed_at = Instant::now();
    let before_kill = acked();
    cluster.kill(leader);
    // Writes go on through the new leader: 300 more acks, bounded.
    eventually(Duration::from_secs(30), Duration::from_millis(20), || {
        (acked() >= before_kill + 300).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    producer.join().expect("producer");
    let new_leader = cluster.leader_of(shard.name());
    assert_ne!(new_leader, Some(leader), "the killed node still leads");
    cluster.restart(leader);

    let log = log.lock().expect("log");
    // The longest wait for an answer after the kill: the failover as a writer sees it.
    let settles_after: Vec<Instant> = log
        .settles
        .iter()
        .filter(|(t, ok)| *ok && *t >= killed_at)
        .map(|(t, _)| *t)
        .collect();
    eprintln!(
        "killed n{} with {before_kill} acked; first ack after the kill {:?} later; \
         {} acked in all; {} failed puts: {:?}",
        leader + 1,
        settles_after.first().map(|t| *t - killed_at),
        log.acked.len(),
        log.errors.len(),
        log.errors.iter().take(3).collect::<Vec<_>>()
    );

    // Read everything back through a fresh connection.
    let reader = JsShard::open(cluster.connect("weir.k"), shard_uid(&shard), 0).expect("open");
    let started = Instant::now();
    let mut stored: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut at = 0;
    loop {
        let page = reader.read(at, 1000, 1 << 20).expect("read");
        let Some(last) = page.last() else { break };
        at = last.counter + 1;
        for r in page {
            stored.insert(r.counter, r.data.to_vec());
        }
    }
    eprintln!(
        "read back {} records in {:?}",
        stored.len(),
        started.elapsed()
    );
    for (counter, data) in &log.acked {
        assert_eq!(
            stored.get(counter),
            Some(data),
            "acked record {counter} is missing or changed"
        );
    }
    // Resends after lost acks were deduplicated: no data stored twice.
    let mut seen = HashMap::new();
    for (counter, data) in &stored {
        if let Some(other) = seen.insert(data.clone(), *counter) {
            panic!(
                "{} stored twice, at {other} and {counter}",
                String::from_utf8_lossy(data)
            );
        }
    }
}

/// The uid of a shard, from its stream name `<P>_S_<uid:016x>_<index>`.
fn shard_uid(shard: &JsShard) -> u64 {
    let hex = shard.name().rsplit('_').nth(1).expect("uid part");
    u64::from_str_radix(hex, 16).expect("hex uid")
}
