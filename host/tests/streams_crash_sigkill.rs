//! Kill the server with SIGKILL at random points while writers put records, 50 times.
//! After every restart each acknowledged record must be read back exactly once, at the
//! sequence number it was acknowledged with, in order per key, and no record may be torn.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{call, Server};
use serde_json::json;

const WRITERS: usize = 2;
const ROUNDS: usize = 50;

/// Everything read back: payload -> (shard, seq).
fn read_all(addr: &str) -> Vec<(String, String, String)> {
    let (_, d) = call(addr, "ListShards", &json!({"StreamName": "crash"})).expect("list shards");
    let mut out = Vec::new();
    for sh in d["Shards"].as_array().expect("shards") {
        let id = sh["ShardId"].as_str().expect("id").to_owned();
        let (st, it) = call(
            addr,
            "GetShardIterator",
            &json!({"StreamName": "crash", "ShardId": id, "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .expect("iterator");
        assert_eq!(st, 200, "{it}");
        let mut iter = it["ShardIterator"].as_str().expect("it").to_owned();
        loop {
            let (st, page) = call(
                addr,
                "GetRecords",
                &json!({"ShardIterator": iter, "Limit": 10000}),
            )
            .expect("get");
            assert_eq!(st, 200, "{page}");
            let recs = page["Records"].as_array().expect("records");
            for r in recs {
                let data = base64::engine::general_purpose::STANDARD
                    .decode(r["Data"].as_str().expect("data"))
                    .expect("b64");
                let payload = String::from_utf8(data).expect("utf8 payload");
                out.push((
                    id.clone(),
                    r["SequenceNumber"].as_str().expect("seq").to_owned(),
                    payload,
                ));
            }
            if recs.is_empty() || page["NextShardIterator"].is_null() {
                break;
            }
            iter = page["NextShardIterator"].as_str().expect("next").to_owned();
        }
    }
    out
}

#[test]
fn sigkill_never_loses_or_tears_acknowledged_records() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    // payload -> (shard, seq) for acknowledged records
    let acked: Arc<Mutex<Locations>> = Arc::default();
    // every payload ever sent (acknowledged or not)
    let attempted: Arc<Mutex<HashSet<String>>> = Arc::default();
    // payloads seen after some restart: they must stay
    let mut durable: Locations = HashMap::new();
    let mut rng_state: u64 = 0x9e3779b97f4a7c15;
    let mut next_rand = move |n: u64| {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state % n
    };
    for round in 0..ROUNDS {
        let mut server = Server::start(dir.path(), &["--fsync", "always", "--transition-ms", "0"]);
        let addr = server.addr.clone();
        if round == 0 {
            let (st, b) = call(
                &addr,
                "CreateStream",
                &json!({"StreamName": "crash", "ShardCount": 4}),
            )
            .expect("create");
            assert_eq!(st, 200, "{b}");
        }
        // verify what survived the previous kill
        let got = read_all(&addr);
        durable = check_survivors(
            round,
            &got,
            &attempted.lock().expect("lock"),
            &acked.lock().expect("lock"),
            &durable,
        );
        if round + 1 == ROUNDS {
            break;
        }
        // write until a random number of acknowledgements, then SIGKILL mid-flight
        let kill_after = 1 + next_rand(25) as usize;
        write_then_kill(round, &mut server, kill_after, &acked, &attempted);
    }
    let acked_total = acked.lock().expect("lock").len();
    let attempted_total = attempted.lock().expect("lock").len();
    assert!(acked_total > 0);
    println!(
        "{ROUNDS} kills: {acked_total} acknowledged, {} more attempted, {} read back at the end",
        attempted_total - acked_total,
        durable.len()
    );
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "took {:?}",
        started.elapsed()
    );
}

/// One round's load: the writers (and every tenth round a resharder) run until `kill_after`
/// batches were acknowledged (or 20 s passed), then the server is SIGKILLed mid-flight.
fn write_then_kill(
    round: usize,
    server: &mut Server,
    kill_after: usize,
    acked: &Arc<Mutex<Locations>>,
    attempted: &Arc<Mutex<HashSet<String>>>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<()>();
    let mut handles = Vec::new();
    for w in 0..WRITERS {
        let (addr, stop, tx) = (server.addr.clone(), stop.clone(), tx.clone());
        let (acked, attempted) = (acked.clone(), attempted.clone());
        handles.push(spawn_writer(w, round, addr, stop, tx, acked, attempted));
    }
    // Every tenth round a reshard races the writers (and maybe the kill), so recovery
    // also meets closed parents, fresh children and a half-done catalog update.
    let resharder = (round % 10 == 5).then(|| spawn_resharder(server.addr.clone()));
    drop(tx);
    let deadline = Instant::now() + Duration::from_secs(20);
    for _ in 0..kill_after {
        if rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_err()
        {
            break;
        }
    }
    server.kill();
    stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.join().expect("writer");
    }
    if let Some(r) = resharder {
        let _ = r.join().expect("resharder"); // may fail: the server was killed
    }
}

/// payload -> (shard, sequence number).
type Locations = HashMap<String, (String, String)>;

/// What a restart must show, checked against what was read back: only records some writer
/// sent, none torn or twice, sequence numbers rising per shard and `n` per key, and every
/// acknowledged record (and every one seen after an earlier restart) where it was. Returns
/// what was seen, which must survive every later kill too.
fn check_survivors(
    round: usize,
    got: &[(String, String, String)],
    attempted: &HashSet<String>,
    acked: &Locations,
    durable: &Locations,
) -> Locations {
    let mut seen: HashMap<String, (String, String)> = HashMap::new();
    let mut last_per_key: HashMap<String, u64> = HashMap::new();
    let mut last_seq: HashMap<String, String> = HashMap::new();
    for (shard, seq, payload) in got {
        assert!(
            attempted.contains(payload),
            "round {round}: unknown or torn record {payload:?}"
        );
        assert!(
            seen.insert(payload.clone(), (shard.clone(), seq.clone()))
                .is_none(),
            "duplicate {payload}"
        );
        if let Some(prev) = last_seq.insert(shard.clone(), seq.clone()) {
            assert!(prev < *seq, "sequence numbers out of order in {shard}");
        }
        // payload = w{writer}-k{key}-n{n}: per key, n rises
        let parts: Vec<&str> = payload.split('-').collect();
        let key = format!("{}-{}", parts[0], parts[1]);
        let n: u64 = parts[2][1..].parse().expect("n");
        if let Some(p) = last_per_key.insert(key.clone(), n) {
            assert!(p < n, "round {round}: key {key} out of order: {p} then {n}");
        }
    }
    for (p, loc) in acked.iter().chain(durable.iter()) {
        assert_eq!(
            seen.get(p),
            Some(loc),
            "round {round}: acknowledged record {p} lost or moved"
        );
    }
    seen
}

/// One writer: PutRecords batches of five over four keys of its own until `stop`, noting
/// each payload before sending and its location once acknowledged (and telling `tx`). It
/// never retries, so a key's order is the order sent; it ends when the server dies.
fn spawn_writer(
    w: usize,
    round: usize,
    addr: String,
    stop: Arc<AtomicBool>,
    tx: mpsc::Sender<()>,
    acked: Arc<Mutex<Locations>>,
    attempted: Arc<Mutex<HashSet<String>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop.load(Ordering::SeqCst) {
            let batch: Vec<(String, String)> = (0..5)
                .map(|j| {
                    let key = format!("w{w}-k{}", (n as usize + j) % 4);
                    (
                        format!("{key}-n{}", round as u64 * 1_000_000 + n * 10 + j as u64),
                        key,
                    )
                })
                .collect();
            n += 1;
            {
                let mut a = attempted.lock().expect("lock");
                for (p, _) in &batch {
                    a.insert(p.clone());
                }
            }
            let records: Vec<_> = batch
                .iter()
                .map(|(p, k)| json!({"Data": base64::engine::general_purpose::STANDARD.encode(p), "PartitionKey": k}))
                .collect();
            match call(
                &addr,
                "PutRecords",
                &json!({"StreamName": "crash", "Records": records}),
            ) {
                Ok((200, resp)) => {
                    let mut a = acked.lock().expect("lock");
                    for ((p, _), r) in batch
                        .iter()
                        .zip(resp["Records"].as_array().expect("records"))
                    {
                        if let (Some(sh), Some(seq)) =
                            (r["ShardId"].as_str(), r["SequenceNumber"].as_str())
                        {
                            a.insert(p.clone(), (sh.to_owned(), seq.to_owned()));
                        }
                    }
                    drop(a);
                    let _ = tx.send(());
                }
                // the server died: a writer never retries, so the key order stays
                _ => return,
            }
        }
    })
}

/// Scales the stream by two shards (up from 4, down otherwise) while the writers run.
fn spawn_resharder(addr: String) -> std::thread::JoinHandle<std::io::Result<()>> {
    std::thread::spawn(move || {
        let (_, d) = call(
            &addr,
            "DescribeStreamSummary",
            &json!({"StreamName": "crash"}),
        )?;
        let open = d["StreamDescriptionSummary"]["OpenShardCount"]
            .as_u64()
            .unwrap_or(4);
        let target = if open <= 4 { open + 2 } else { open - 2 };
        call(
            &addr,
            "UpdateShardCount",
            &json!({"StreamName": "crash", "TargetShardCount": target, "ScalingType": "UNIFORM_SCALING"}),
        )
        .map(|_| ())
    })
}
