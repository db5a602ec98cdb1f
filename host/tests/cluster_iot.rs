//! AWS IoT's documents on a cluster: two `weir run` hosts on one 3-node NATS JetStream
//! cluster, behind a mosquitto whose shared subscription splits the MQTT traffic between
//! them. A rule created through the rules API of one host runs on both (the other subscribes
//! its topic filter, and the messages it is handed reach the rule's stream), and is deleted
//! through the other; Device Shadows updated through one host are read, refused on a version
//! conflict, deleted and listed through the other (`tests/py/cluster_iot.py`, boto3). A rule
//! whose action always fails stores its dead letters in the cluster's `DEAD_LETTERS` stream,
//! whichever host ran it, and a PUBACK follows that store. Records waiting in an action's
//! buffer are spooled in the cluster's `SPOOLS` stream: a host killed with SIGKILL after
//! acknowledging them leaves them there, and the other host adopts and delivers them. The
//! Device Shadow MQTT topics work through the broker (one host holds the `$` session), and
//! still after the host that held it was killed.
//!
//! Needs mosquitto (installed by the test command); nats-server is installed into a venv by
//! the harness when PATH has none.

mod common;
#[path = "../cluster/tests/common/mod.rs"]
mod nats;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::mqtt_hosts::{
    mosquitto_available, mosquitto_rr, publish_ids, publish_ids_to, ranges, Mosquitto, WeirProcess,
};
use serde_json::Value;

const SHARE_GROUP: &str = "weir-iot";
/// The API-made rule's topic filter (`tests/py/cluster_iot.py`).
const FILTER: &str = "load/+/data";

/// One host's configuration: the external broker in the share group, the cluster, the
/// stream the API-made rule writes to, and one file rule on another topic.
fn write_config(
    dir: &Path,
    broker_port: u16,
    client_id: &str,
    nats: &[String],
    prefix: &str,
    nowhere: u16,
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

[streams.api_out]
shards = 1

[rules.file_only]
sql = "SELECT * FROM 'file/in'"

[[rules.file_only.actions]]
kind = "republish"
topic = "file/out"

# Records that wait 20 s in the buffer: spooled (and acknowledged) long before delivery.
[rules.spooled]
sql = "SELECT * FROM 'spool/in'"

[[rules.spooled.actions]]
kind = "kinesis"
stream = "spool_out"
partition_key = "${{topic()}}"
buffer.max_age_ms = 20000
buffer.max_records = 100000

[streams.spool_out]
shards = 1

# A rule on a `$` topic: behind the broker, served by the host holding the `$` session.
[rules.shadow_log]
sql = "SELECT state.reported.id AS id FROM '$aws/things/+/shadow/update'"

[[rules.shadow_log.actions]]
kind = "kinesis"
stream = "shadow_log"
partition_key = "${{topic(3)}}"

[streams.shadow_log]
shards = 1

[rules.nowhere]
sql = "SELECT * FROM 'fail/+'"

[[rules.nowhere.actions]]
kind = "kinesis"
stream = "far"
partition_key = "k"
endpoint = "http://127.0.0.1:{nowhere}"
"#,
            servers = servers.join(", ")
        ),
    )
    .expect("write weir.toml");
    config
}

/// Runs one step of `cluster_iot.py` through the two hosts' APIs.
fn step(name: &str, one: &WeirProcess, two: &WeirProcess) {
    let out = common::python::run_script(
        "cluster_iot.py",
        &[
            name.to_owned(),
            format!("http://{}", one.api),
            format!("http://{}", two.api),
        ],
    );
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "cluster_iot.py {name}: {}{}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        one.logs(),
        two.logs()
    );
}

/// The `id`s of the records of `stream`, read with boto3 through `api`.
fn ids_in(api: &str, stream: &str) -> BTreeSet<u64> {
    let out = common::python::run_script(
        "read_stream.py",
        &[format!("http://{api}"), stream.to_owned()],
    );
    assert!(
        out.status.success(),
        "read_stream.py through {api}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let Ok(Value::Array(records)) = serde_json::from_slice::<Value>(&out.stdout) else {
        panic!(
            "read_stream.py printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
    };
    records
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(r["data"].as_str()?).ok())
        .filter_map(|d| d["id"].as_u64())
        .collect()
}

/// Publishes a shadow update for `thing` reporting `id` (`mosquitto_rr`: subscribed to the
/// accepted topic before it publishes) and answers the accepted document.
fn shadow_update(port: u16, thing: &str, id: u64) -> Value {
    mosquitto_rr(
        port,
        &format!("$aws/things/{thing}/shadow/update"),
        &format!("$aws/things/{thing}/shadow/update/accepted"),
        &format!(r#"{{"state": {{"reported": {{"id": {id}}}}}}}"#),
    )
}

#[test]
fn a_rule_and_the_shadows_made_through_one_host_are_served_by_the_other() {
    if !mosquitto_available("cluster_iot") {
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
    let prefix = format!("iot{}", nats::fresh_uid());
    let urls = cluster.urls();
    // A Kinesis endpoint nobody listens on: the `nowhere` rule's every put fails.
    let nowhere = common::free_port();
    let configs: Vec<PathBuf> = ["weir-i1", "weir-i2"]
        .iter()
        .map(|id| {
            write_config(
                &work.path().join(id),
                broker.port,
                id,
                &urls,
                &prefix,
                nowhere,
            )
        })
        .collect();
    let mut h1 = WeirProcess::start("i1", &configs[0]);
    let h2 = WeirProcess::start("i2", &configs[1]);

    // Made through host 1: host 2 answers for it at once and subscribes its filter.
    step("rules", &h1, &h2);
    broker.wait_subscribed("weir-i1", SHARE_GROUP, FILTER);
    broker.wait_subscribed("weir-i2", SHARE_GROUP, FILTER);
    let published = 0..400u64;
    publish_ids(broker.port, "iot-pub", published.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    let stored = loop {
        let ids = ids_in(&h2.api, "api_out");
        if published.clone().all(|i| ids.contains(&i)) || Instant::now() > deadline {
            break ids;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let missing: Vec<u64> = published.filter(|i| !stored.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged messages missing from api_out: {}\n{}{}\n{}\n{}",
        ranges(&missing),
        h1.metrics_with("api_load"),
        h2.metrics_with("api_load"),
        h1.logs(),
        h2.logs()
    );
    // The share group split them: the rule ran on both hosts.
    let series = "weir_rule_matched_total{rule=\"api_load\"}";
    let (m1, m2) = (h1.metric(series), h2.metric(series));
    assert!(
        m1 > 0 && m2 > 0 && m1 + m2 >= 400,
        "the rule matched {m1} messages on host 1 and {m2} on host 2"
    );

    step("shadows", &h1, &h2);
    step("delete", &h1, &h2);

    // Failures without an error action: dead letters in the cluster's stream, from both
    // hosts (the share group splits `fail/+` too), each PUBACKed only once stored there.
    broker.wait_subscribed("weir-i1", SHARE_GROUP, "fail/+");
    broker.wait_subscribed("weir-i2", SHARE_GROUP, "fail/+");
    for n in 0..6 {
        let out = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1"])
            .args(["-t", &format!("fail/{n}"), "-m", &format!("{{\"n\": {n}}}")])
            .output()
            .expect("run mosquitto_pub");
        assert!(out.status.success(), "mosquitto_pub: {out:?}");
    }
    let journal =
        weir_cluster::JsJournal::open(cluster.connect(&prefix), "dead_letters").expect("journal");
    let deadline = Instant::now() + Duration::from_secs(60);
    let letters = loop {
        let letters = journal.read(0, 100).expect("read the dead letters");
        if letters.len() >= 6 || Instant::now() > deadline {
            break letters;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let topics: BTreeSet<String> = letters
        .iter()
        .filter_map(|e| serde_json::from_slice::<Value>(&e.body).ok())
        .filter_map(|v| Some(v["topic"].as_str()?.to_owned()))
        .collect();
    let wanted: BTreeSet<String> = (0..6).map(|n| format!("fail/{n}")).collect();
    assert_eq!(
        topics,
        wanted,
        "dead letters on the cluster: {letters:?}\n{}\n{}",
        h1.logs(),
        h2.logs()
    );
    let (d1, d2) = (
        h1.metric("weir_dead_letters_total"),
        h2.metric("weir_dead_letters_total"),
    );
    assert_eq!(d1 + d2, letters.len() as u64, "{d1} + {d2}");
    assert!(
        letters.iter().all(|e| e.part.len() == 10),
        "each under its UTC day"
    );

    // Device Shadow over MQTT through the broker: one host (host 1, the first up) holds the
    // `$` session; the rule on the request topic sees each update once.
    let dollar_id = format!("weir-dollar-{SHARE_GROUP}");
    broker.wait_subscribed_plain(&dollar_id, "$aws/things/+/shadow/+");
    broker.wait_subscribed_plain(&dollar_id, "$aws/things/+/shadow/update");
    assert!(
        std::fs::read_to_string(&h1.stderr).is_ok_and(|log| log.contains("takes the `$` topics")),
        "host 1 does not hold the `$` session\n{}",
        h1.logs()
    );
    let accepted = shadow_update(broker.port, "car-7", 5001);
    assert_eq!(accepted["version"], 1, "{accepted}");
    assert_eq!(accepted["state"]["reported"]["id"], 5001, "{accepted}");

    // Spooled on both hosts, then host 1 dies: host 2 adopts its spool once its presence
    // lease lapses, and delivers every acknowledged record.
    let spools = weir_cluster::JsJournal::open(cluster.connect(&prefix), "spools").expect("spools");
    let spooled_ids = 1000..1300u64;
    broker.wait_subscribed("weir-i1", SHARE_GROUP, "spool/in");
    broker.wait_subscribed("weir-i2", SHARE_GROUP, "spool/in");
    publish_ids_to(broker.port, "spool-pub", spooled_ids.clone(), "spool/in");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = spools.read(0, 10_000).expect("read the spools").len();
        if n >= 300 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{n} of 300 records spooled on the cluster\n{}\n{}",
            h1.logs(),
            h2.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let on_h1 = h1.metric("weir_rule_matched_total{rule=\"spooled\"}");
    assert!(on_h1 > 0, "host 1 ran none of the spooled rule's messages");
    h1.child.kill().expect("SIGKILL host 1");
    let _ = h1.child.wait();
    // Sent while nobody holds the `$` session: the broker queues it in the session, and host
    // 2 serves it once host 1's lease lapsed and it took the session over.
    let port = broker.port;
    let second_update = std::thread::spawn(move || shadow_update(port, "car-7", 5002));
    let deadline = Instant::now() + Duration::from_secs(90);
    let delivered = loop {
        let ids = ids_in(&h2.api, "spool_out");
        if spooled_ids.clone().all(|i| ids.contains(&i)) || Instant::now() > deadline {
            break ids;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let missing: Vec<u64> = spooled_ids.filter(|i| !delivered.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "spooled records missing from spool_out after host 1 died (it ran {on_h1}): {}\n{}",
        ranges(&missing),
        h2.logs()
    );
    assert!(
        std::fs::read_to_string(&h2.stderr)
            .is_ok_and(|log| log.contains("adopted a spool its writer left")),
        "host 2 did not adopt host 1's spool\n{}",
        h2.logs()
    );
    // The `$` session moved to host 2 with host 1's lease: the update sent in between was
    // served late, not lost.
    let accepted = second_update.join().expect("the second shadow update");
    assert_eq!(accepted["version"], 2, "{accepted}\n{}", h2.logs());
    let deadline = Instant::now() + Duration::from_secs(30);
    let logged = loop {
        let ids = ids_in(&h2.api, "shadow_log");
        if ids.len() >= 2 || Instant::now() > deadline {
            break ids;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(logged, BTreeSet::from([5001, 5002]), "{}", h2.logs());

    // Delivered, so purged: nothing is left to deliver twice.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !spools.read(0, 10_000).expect("read").is_empty() {
        assert!(Instant::now() < deadline, "the spools were not purged");
        std::thread::sleep(Duration::from_millis(100));
    }
}
