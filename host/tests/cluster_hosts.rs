//! Two `weir run` hosts on one 3-node NATS JetStream cluster, behind a mosquitto whose shared
//! subscription splits the MQTT traffic between them (the layout of docs/cluster.md). QoS 1
//! publishers and a PutRecords producer run while one NATS node and then one Weir host are
//! SIGKILLed and restarted; afterwards every acknowledged message and record is in the stream,
//! the records of each partition key in the order they were acknowledged, and boto3 reads the
//! same stream through either host.
//!
//! Needs mosquitto (installed by the test command); nats-server is installed into a venv by
//! the harness when PATH has none.

mod common;
#[path = "../cluster/tests/common/mod.rs"]
mod nats;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::mqtt_hosts::{mosquitto_available, publish_ids, ranges, Mosquitto, WeirProcess};
use serde_json::{json, Value};

const SHARE_GROUP: &str = "weir-cluster";
const FILTER: &str = "load/+/data";
/// Partition keys of the PutRecords producer; one record of each per request.
const KEYS: usize = 5;

/// Writes one host's configuration: the external broker in the share group, the cluster,
/// and a rule that puts every message into the shared stream `out`.
fn write_config(
    dir: &Path,
    broker_port: u16,
    client_id: &str,
    nats: &[String],
    prefix: &str,
) -> PathBuf {
    std::fs::create_dir_all(dir).expect("host dir");
    let config = dir.join("weir.toml");
    let servers: Vec<String> = nats.iter().map(|u| format!("{u:?}")).collect();
    std::fs::write(
        &config,
        format!(
            r#"[broker.external]
url = "mqtt://127.0.0.1:{broker_port}"
client_id = "{client_id}"
share_group = "{SHARE_GROUP}"

[api]
listen = "127.0.0.1:0"

[storage]
dir = "data"

[cluster]
nats = [{servers}]
replicas = 3
prefix = "{prefix}"

[streams.out]
shards = 2

[rules.load]
sql = "SELECT * FROM '{FILTER}'"

[[rules.load.actions]]
kind = "kinesis"
stream = "out"
partition_key = "${{topic(2)}}"
buffer = {{ max_records = 50, max_age_ms = 10 }}
"#,
            servers = servers.join(", ")
        ),
    )
    .expect("write weir.toml");
    config
}

/// The API addresses of the hosts, as they restart.
type Apis = Arc<Mutex<Vec<String>>>;

/// Puts one record per partition key per request, alternating hosts, until `stop`; a request
/// that fails (a host or a NATS node down) is sent again, to the other host, before the next
/// one, so each key's records are acknowledged in order. Returns the acknowledged
/// `(key, n)`s in acknowledgement order.
fn put_records(apis: Apis, stop: Arc<AtomicBool>) -> JoinHandle<Vec<(usize, u64)>> {
    std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut n = 0u64;
        let mut turn = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let mut pending: Vec<usize> = (0..KEYS).collect();
            let give_up = Instant::now() + Duration::from_secs(60);
            while !pending.is_empty() {
                assert!(
                    Instant::now() < give_up,
                    "records of n={n} not acknowledged by any host within 60 s"
                );
                let api = {
                    let apis = apis.lock().expect("apis");
                    apis[turn % apis.len()].clone()
                };
                turn += 1;
                let records: Vec<Value> = pending
                    .iter()
                    .map(|k| {
                        json!({
                            "PartitionKey": format!("key-{k}"),
                            "Data": base64_of(&json!({"key": k, "n": n}).to_string()),
                        })
                    })
                    .collect();
                let answer = common::call(
                    &api,
                    "PutRecords",
                    &json!({"StreamName": "out", "Records": records}),
                );
                // Anything else is a host being killed or restarted, or a put that timed out
                // while the cluster elected a leader: the same records again, elsewhere.
                if let Ok((200, body)) = answer {
                    let results = body["Records"].as_array().cloned().unwrap_or_default();
                    assert_eq!(
                        results.len(),
                        pending.len(),
                        "one result per record: {body}"
                    );
                    let mut still = Vec::new();
                    for (k, r) in pending.iter().zip(&results) {
                        if r.get("ErrorCode").is_some() {
                            still.push(*k);
                        } else {
                            acked.push((*k, n));
                        }
                    }
                    pending = still;
                }
                if !pending.is_empty() {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            n += 1;
        }
        acked
    })
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Publishes `{"id": i}` QoS 1 in chunks until `stop`; returns the ids mosquitto acknowledged.
/// mosquitto keeps running, so its PUBACK means the message reaches a Weir host eventually
/// (a host that dies before acknowledging it gets it again when it reconnects).
fn publish(port: u16, stop: Arc<AtomicBool>) -> JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut next = 0u64;
        let mut chunk = 0;
        while !stop.load(Ordering::Relaxed) {
            publish_ids(port, &format!("pub-{chunk}"), next..next + 200);
            next += 200;
            chunk += 1;
        }
        (0..next).collect()
    })
}

/// Every record of `out` as boto3 reads it through `api`.
fn read_with_boto3(api: &str) -> Vec<Value> {
    let out = common::python::run_script(
        "read_stream.py",
        &[format!("http://{api}"), "out".to_owned()],
    );
    assert!(
        out.status.success(),
        "read_stream.py through {api}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice::<Value>(&out.stdout) {
        Ok(Value::Array(records)) => records,
        other => panic!("read_stream.py printed {other:?}"),
    }
}

/// A sequence number's sort key: its length, then its digits.
type SeqKey = (usize, String);

/// The ids of the MQTT messages and the `(key, n)`s of the producer's records among
/// `records`, the latter per key in stream order (sequence numbers within the key's shard).
fn split(records: &[Value]) -> (BTreeSet<u64>, BTreeMap<usize, Vec<u64>>) {
    let mut ids = BTreeSet::new();
    // Sequence numbers are up to 56 decimal digits: compared by length, then text.
    let mut by_key: BTreeMap<usize, Vec<(SeqKey, u64)>> = BTreeMap::new();
    for r in records {
        let data: Value = serde_json::from_str(r["data"].as_str().expect("data")).expect("JSON");
        if let Some(id) = data["id"].as_u64() {
            ids.insert(id);
        } else {
            let key = data["key"].as_u64().expect("key") as usize;
            let n = data["n"].as_u64().expect("n");
            let seq = r["seq"].as_str().expect("seq");
            assert!(
                seq.bytes().all(|b| b.is_ascii_digit()),
                "sequence number {seq:?}"
            );
            let seq = (seq.len(), seq.to_owned());
            by_key.entry(key).or_default().push((seq, n));
        }
    }
    let by_key = by_key
        .into_iter()
        .map(|(k, mut v)| {
            v.sort();
            (k, v.into_iter().map(|(_, n)| n).collect())
        })
        .collect();
    (ids, by_key)
}

#[test]
fn two_hosts_on_a_cluster_lose_nothing_acknowledged_when_a_nats_node_and_a_host_die() {
    if !mosquitto_available("two_hosts_on_a_cluster") {
        return;
    }
    common::python::install_requirements_unless(
        Command::new("python3")
            .args(["-c", "import boto3"])
            .status()
            .is_ok_and(|s| s.success()),
    );
    let cluster = nats::NatsCluster::start();
    let work = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(work.path());
    let prefix = format!("hosts{}", nats::fresh_uid());
    let urls = cluster.urls();
    let configs: Vec<PathBuf> = ["weir-h1", "weir-h2"]
        .iter()
        .map(|id| write_config(&work.path().join(id), broker.port, id, &urls, &prefix))
        .collect();
    // Both at once: both declare `out`, one creates it on the cluster, the other finds it.
    let second = configs[1].clone();
    let starting = std::thread::spawn(move || WeirProcess::start("h2", &second));
    let h1 = WeirProcess::start("h1", &configs[0]);
    let mut h2 = starting.join().expect("h2 started");
    broker.wait_subscribed("weir-h1", SHARE_GROUP, FILTER);
    broker.wait_subscribed("weir-h2", SHARE_GROUP, FILTER);
    let apis: Apis = Arc::new(Mutex::new(vec![h1.api.clone(), h2.api.clone()]));

    let stop = Arc::new(AtomicBool::new(false));
    let producer = put_records(apis.clone(), stop.clone());
    let publisher = publish(broker.port, stop.clone());
    let pause = |s: u64| std::thread::sleep(Duration::from_secs(s));

    // Traffic, then a NATS node dies under it and comes back.
    pause(2);
    cluster.kill(1);
    pause(3);
    cluster.restart(1);
    pause(1);
    // Then a Weir host dies under it and comes back (mosquitto hands its unacknowledged
    // messages to it again when it reconnects with its session).
    let _ = h2.child.kill();
    let _ = h2.child.wait();
    apis.lock().expect("apis").retain(|a| a != &h2.api);
    pause(2);
    h2 = WeirProcess::start("h2", &configs[1]);
    broker.wait_subscribed("weir-h2", SHARE_GROUP, FILTER);
    apis.lock().expect("apis").push(h2.api.clone());
    pause(2);
    stop.store(true, Ordering::Relaxed);
    let acked_records = producer.join().expect("producer");
    let published = publisher.join().expect("publisher");
    assert!(
        acked_records.len() > 100 && published.len() > 400,
        "too little traffic to mean anything: {} records, {} messages",
        acked_records.len(),
        published.len()
    );

    // Every published message reaches the stream once a host has processed it: wait (bounded).
    let deadline = Instant::now() + Duration::from_secs(60);
    let through_h1 = loop {
        let records = read_with_boto3(&h1.api);
        let (ids, _) = split(&records);
        if published.iter().all(|id| ids.contains(id)) || Instant::now() > deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let through_h2 = read_with_boto3(&h2.api);
    let logs = || format!("{}\n{}\n{}", h1.logs(), h2.logs(), cluster.logs());

    let (ids, by_key) = split(&through_h1);
    let missing: Vec<u64> = published
        .iter()
        .copied()
        .filter(|id| !ids.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages are not in the stream: {}\n{}",
        missing.len(),
        published.len(),
        ranges(&missing),
        logs()
    );
    for k in 0..KEYS {
        let acked: Vec<u64> = acked_records
            .iter()
            .filter(|(key, _)| *key == k)
            .map(|(_, n)| *n)
            .collect();
        let stored = by_key.get(&k).cloned().unwrap_or_default();
        // First occurrences in stream order: a put resent after a lost answer may repeat a
        // record, never reorder the key's acknowledged ones.
        let mut seen = BTreeSet::new();
        let firsts: Vec<u64> = stored.iter().copied().filter(|n| seen.insert(*n)).collect();
        let acked_set: BTreeSet<u64> = acked.iter().copied().collect();
        let missing: Vec<u64> = acked
            .iter()
            .copied()
            .filter(|n| !seen.contains(n))
            .collect();
        assert!(
            missing.is_empty(),
            "key-{k}: acknowledged records missing: {}\n{}",
            ranges(&missing),
            logs()
        );
        let in_order: Vec<u64> = firsts
            .into_iter()
            .filter(|n| acked_set.contains(n))
            .collect();
        assert_eq!(
            in_order, acked,
            "key-{k}: records out of acknowledgement order"
        );
    }
    // Both hosts serve one stream: the same records, at the same sequence numbers.
    let view = |records: &[Value]| -> BTreeSet<(String, String, String)> {
        records
            .iter()
            .map(|r| {
                (
                    r["shard"].as_str().unwrap_or_default().to_owned(),
                    r["seq"].as_str().unwrap_or_default().to_owned(),
                    r["data"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let (v1, v2) = (view(&through_h1), view(&through_h2));
    // h2 read later: it may hold a few more records that arrived in between, never fewer.
    assert!(
        v1.is_subset(&v2),
        "h2 serves a different stream: {} records through h1 missing through h2",
        v1.difference(&v2).count()
    );
    eprintln!(
        "cluster_hosts: {} messages and {} records acknowledged, {} in the stream",
        published.len(),
        acked_records.len(),
        through_h1.len()
    );
}
