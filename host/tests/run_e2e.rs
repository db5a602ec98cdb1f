//! `weir run` end to end over real MQTT on loopback: the embedded broker, rumqttc and the
//! Debian `mosquitto_pub` / `mosquitto_sub` clients, every action kind (kinesis, firehose,
//! republish, table, plugin emitter) and the error action, with malformed payloads, missing
//! fields, a template that cannot render and a plugin that panics. The host is stopped with
//! SIGTERM and everything it acknowledged is then read back from disk.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{files, free_port, publish_all, read_stream, Weir};
use serde_json::Value;
use weir_delivery::KvTable;

fn driver_plates(n: usize) -> Vec<String> {
    let text =
        std::fs::read_to_string(common::repo().join("examples/speeding/data/driver_data.csv"))
            .expect("driver table");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = header
        .iter()
        .position(|c| *c == "licensePlate")
        .expect("licensePlate column");
    lines
        .take(n)
        .map(|l| l.split(',').nth(col).expect("plate").to_owned())
        .collect()
}

fn seed(plate: &str, speed: &str) -> Vec<u8> {
    serde_json::json!({
        "iottimestamp": "2026-11-24 10:00:00",
        "licensePlate": plate,
        "longitude": "101.76",
        "latitude": "79.69",
        "city": "West Kristopher",
        "state": "Iowa",
        "speed": speed,
    })
    .to_string()
    .into_bytes()
}

fn config(dir: &Path, mqtt: u16, mqtt5: u16) -> PathBuf {
    let data = common::repo().join("examples/speeding/data/driver_data.csv");
    let p = |n: &str| common::component(n).display().to_string();
    let text = format!(
        r#"
[broker]
listen = "127.0.0.1:{mqtt}"
listen_v5 = "127.0.0.1:{mqtt5}"

[api]
listen = "127.0.0.1:0"

[storage]
dir = "data"
fsync = "always"

[streams.alerts]
shards = 2

[streams.passed]

[tables.drivers]
file = "{data}"
key = "licensePlate"

[tables.cars]
key = "licensePlate"

[notify.sms]
kind = "file"
path = "data/sms.jsonl"

[plugins.owner-enrich]
path = "{enrich}"
grants = ["config", "lookup", "log"]
params = {{ table = "drivers", columns = "first_name,last_name,myphone" }}

[plugins.sms-alert]
path = "{sms}"
grants = ["config", "outbox", "log"]
params = {{ channel = "sms", country_code = "1" }}

[plugins.hostile]
path = "{hostile}"
grants = ["config", "log"]
params = {{ mode = "panic" }}

[rules.speeding]
sql = "SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75"

[[rules.speeding.actions]]
kind = "kinesis"
stream = "alerts"
partition_key = "${{licensePlate}}"
transformers = ["owner-enrich"]
buffer = {{ max_records = 10, max_age_ms = 5 }}

[[rules.speeding.actions]]
kind = "plugin"
emitter = "sms-alert"
transformers = ["owner-enrich"]

[[rules.speeding.actions]]
kind = "table"
table = "cars"
key = "${{licensePlate}}"

[[rules.speeding.actions]]
kind = "republish"
topic = "alerts/${{licensePlate}}"
qos = 1

[rules.speeding.error_action]
kind = "firehose"
root = "data/errors"
prefix = "speeding/"
buffer_interval_ms = 0

[rules.archive]
sql = "SELECT * FROM 'rtr/iot/trafficdata'"

[[rules.archive.actions]]
kind = "firehose"
root = "data/archive"
buffer_interval_ms = 0

[rules.hostile]
sql = "SELECT * FROM 'hostile/#'"

[[rules.hostile.actions]]
kind = "kinesis"
stream = "passed"
partition_key = "${{topic()}}"
filters = ["hostile"]

[rules.hostile.error_action]
kind = "republish"
topic = "errors/${{topic(2)}}"
qos = 1

[rules.keyless]
sql = "SELECT * FROM 'keyless/#'"

[[rules.keyless.actions]]
kind = "kinesis"
stream = "passed"
partition_key = "${{device}}"

[rules.keyless.error_action]
kind = "republish"
topic = "errors/keyless"
"#,
        data = data.display(),
        enrich = p("owner-enrich"),
        sms = p("sms-alert"),
        hostile = p("hostile-behaviour"),
    );
    let path = dir.join("weir.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// `mosquitto_sub` on `filters`, its lines on a channel; it is subscribed once a warm-up
/// message published to `probe` comes back.
struct Sub {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Sub {
    fn start(port: u16, filters: &[&str], probe: &str) -> Sub {
        let mut cmd = Command::new("mosquitto_sub");
        cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-v"]);
        for f in filters {
            cmd.args(["-t", f]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("mosquitto_sub (apt install mosquitto-clients)");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            pub_cli(port, probe, "warm-up", &[]);
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                assert!(line.starts_with(probe), "unexpected {line}");
                break;
            }
            assert!(Instant::now() < deadline, "mosquitto_sub never subscribed");
        }
        // Later warm-ups may still be in flight: let them arrive, then forget them.
        std::thread::sleep(Duration::from_millis(100));
        while rx.try_recv().is_ok() {}
        Sub { child, lines: rx }
    }

    fn take(&self, n: usize) -> Vec<String> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with("alerts/warm") => {}
                Ok(l) => got.push(l),
                Err(_) => panic!("only {} of {n} messages: {got:?}", got.len()),
            }
        }
        got
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pub_cli(port: u16, topic: &str, payload: &str, extra: &[&str]) {
    let st = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args(["-t", topic, "-m", payload])
        .args(extra)
        .status()
        .expect("mosquitto_pub (apt install mosquitto-clients)");
    assert!(st.success(), "mosquitto_pub to {topic}");
}

#[test]
fn every_action_kind_and_the_error_action_over_real_mqtt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mqtt, mqtt5) = (free_port(), free_port());
    let cfg = config(tmp.path(), mqtt, mqtt5);
    let started = chrono::Utc::now();
    let weir = Weir::start(&cfg);
    assert!(weir.get("/health").contains("\"status\":\"ok\""));

    let sub = Sub::start(mqtt, &["alerts/#", "errors/#"], "alerts/warm");

    let plates = driver_plates(3);
    let unknown = "NOT-A-PLATE";
    let mut messages: Vec<(String, Vec<u8>)> = plates
        .iter()
        .map(|p| ("rtr/iot/trafficdata".to_owned(), seed(p, "82")))
        .collect();
    messages.push(("rtr/iot/trafficdata".into(), seed(&plates[0], "60")));
    messages.push(("rtr/iot/trafficdata".into(), seed(unknown, "90")));
    // Malformed: not JSON. Missing field: no speed. Neither fires `speeding`; both are archived.
    messages.push(("rtr/iot/trafficdata".into(), b"{not json".to_vec()));
    messages.push((
        "rtr/iot/trafficdata".into(),
        br#"{"licensePlate":"NO-SPEED"}"#.to_vec(),
    ));
    // A fault fails the plugin's whole batch (DESIGN.md, Sandbox): `fine` goes through on
    // its own first, so that `boom` cannot share its batch.
    publish_all(mqtt, &[("hostile/a".into(), b"fine".to_vec())]);
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="hostile",action="0:kinesis:passed"}"#,
        1,
    );
    messages.push(("hostile/b".into(), b"boom".to_vec()));
    messages.push(("keyless/1".into(), br#"{"temp": 21}"#.to_vec()));
    publish_all(mqtt, &messages);
    // One more speeding car through mosquitto_pub, over MQTT 5 on the second listener.
    let fourth = driver_plates(4).pop().expect("fourth plate");
    let fourth_payload = String::from_utf8(seed(&fourth, "99")).expect("utf8");
    pub_cli(
        mqtt5,
        "rtr/iot/trafficdata",
        &fourth_payload,
        &["-V", "mqttv5"],
    );

    let kinesis = r#"weir_action_delivered_total{rule="speeding",action="0:kinesis:alerts"}"#;
    weir.wait_metric(kinesis, 4);
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="speeding",action="1:plugin:sms-alert"}"#,
        4,
    );
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="speeding",action="error:firehose"}"#,
        2,
    );
    weir.wait_metric(r#"weir_rule_matched_total{rule="speeding"}"#, 5);
    weir.wait_metric(r#"weir_rule_matched_total{rule="archive"}"#, 8);

    // Republished alerts and both error payloads arrive at mosquitto_sub.
    // `republish` has no transformer, so the unknown plate is republished too.
    let lines = sub.take(7);
    let mut alerts = BTreeSet::new();
    let mut errors = BTreeMap::new();
    for l in &lines {
        // `-v` prints TOPIC PAYLOAD; topics may hold spaces ("826 YBL"), payloads are JSON.
        let (topic, body) = l
            .find(" {")
            .map(|i| (&l[..i], &l[i + 1..]))
            .expect("-v prints TOPIC PAYLOAD");
        if let Some(plate) = topic.strip_prefix("alerts/") {
            alerts.insert(plate.to_owned());
        } else {
            let v: Value = serde_json::from_str(body).expect("error payload is JSON");
            errors.insert(topic.to_owned(), v);
        }
    }
    let want: BTreeSet<String> = plates.iter().cloned().chain([fourth.clone()]).collect();
    let mut republished = want.clone();
    republished.insert(unknown.to_owned());
    assert_eq!(alerts, republished, "{lines:?}");
    let panic = &errors["errors/b"];
    assert_eq!(panic["ruleName"], "hostile");
    assert_eq!(panic["topic"], "hostile/b");
    assert_eq!(panic["failures"][0]["failedAction"], "KinesisAction");
    let reason = panic["failures"][0]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("hostile") && reason.contains("panic"),
        "{reason}"
    );
    let original = base64::engine::general_purpose::STANDARD
        .decode(panic["base64OriginalPayload"].as_str().unwrap_or_default())
        .expect("base64");
    assert_eq!(original, b"boom");
    let keyless = &errors["errors/keyless"];
    let reason = keyless["failures"][0]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("${device}"), "{reason}");

    let (status, rest) = weir.terminate();
    assert!(status.success(), "weir run exited with {status}");
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");

    // Everything acknowledged is on disk.
    let data = tmp.path().join("data");
    let alerts_stream = read_stream(&data.join("streams"), "alerts");
    let keys: BTreeSet<String> = alerts_stream.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, want);
    assert_eq!(alerts_stream.len(), 4, "each speeding record exactly once");
    for (plate, v) in &alerts_stream {
        assert_eq!(v["licensePlate"], plate.as_str());
        assert!(
            v["first_name"].is_string() && v["myphone"].is_string(),
            "{v}"
        );
    }
    let passed = read_stream(&data.join("streams"), "passed");
    assert_eq!(
        passed.len(),
        1,
        "only `fine` passes the hostile filter: {passed:?}"
    );
    assert_eq!(passed[0].0, "hostile/a");

    let sms = std::fs::read_to_string(data.join("sms.jsonl")).expect("sms outbox");
    let texts: Vec<Value> = sms
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(texts.len(), 4, "{sms}");
    for plate in &want {
        assert!(
            texts.iter().any(|t| t["message"]
                .as_str()
                .unwrap_or_default()
                .contains(plate.as_str())),
            "no SMS for {plate}: {sms}"
        );
    }

    let table = KvTable::open(data.join("tables"), "cars").expect("table");
    // Every speeding message's raw record, the unknown plate included (no transformer there).
    assert_eq!(table.len(), 5);
    assert_eq!(
        table.get(unknown).expect("read").expect("row"),
        messages[4].1
    );
    for (i, plate) in plates.iter().enumerate() {
        let row = table.get(plate).expect("read").expect("row");
        assert_eq!(row, messages[i].1, "the raw record under {plate}");
    }

    // Archive: every trafficdata message, byte for byte, under YYYY/MM/DD/HH/.
    let archive = files(&data.join("archive"));
    let ended = chrono::Utc::now();
    let hours: BTreeSet<String> = [started, ended]
        .iter()
        .map(|t| t.format("%Y/%m/%d/%H/").to_string())
        .collect();
    let mut archived = Vec::new();
    for (key, bytes) in &archive {
        assert!(
            hours.iter().any(|h| key.starts_with(h.as_str())),
            "{key} is not under {hours:?}"
        );
        archived.extend(
            bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    let mut expected: Vec<Vec<u8>> = messages
        .iter()
        .filter(|(t, _)| t == "rtr/iot/trafficdata")
        .map(|(_, p)| p.clone())
        .chain([fourth_payload.into_bytes()])
        .collect();
    expected.sort();
    archived.sort();
    assert_eq!(archived, expected);

    // The error action: the unknown plate, with the plugin's reason, under speeding/.
    let errors = files(&data.join("errors"));
    let docs: Vec<Value> = errors
        .iter()
        .inspect(|(k, _)| assert!(k.starts_with("speeding/"), "{k}"))
        .flat_map(|(_, b)| {
            b.split(|c| *c == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice::<Value>(l).expect("error payload"))
                .collect::<Vec<_>>()
        })
        .collect();
    // Two actions ran owner-enrich on the unknown plate: kinesis and the emitter.
    assert_eq!(docs.len(), 2, "{docs:?}");
    let mut failed_actions = BTreeSet::new();
    for d in &docs {
        assert_eq!(d["ruleName"], "speeding");
        let msg = d["failures"][0]["errorMessage"]
            .as_str()
            .unwrap_or_default();
        assert!(
            msg.contains("unknown-key") && msg.contains(unknown),
            "{msg}"
        );
        failed_actions.insert(
            d["failures"][0]["failedAction"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(
        failed_actions,
        BTreeSet::from(["KinesisAction".to_owned(), "LambdaAction".to_owned()])
    );
}

#[test]
fn a_config_with_mistakes_is_refused_with_every_mistake_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("weir.toml");
    std::fs::write(
        &path,
        "[broker]\nlisten = \"nowhere\"\n\n[rules.r]\nsql = \"SELECT * FROM\"\nbogus = 1\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broker.listen"), "{err}");
    assert!(err.contains("rules.r"), "{err}");
    assert!(err.contains("weir.toml:"), "{err}");
}

fn reload_config(dir: &Path, mqtt: u16, select: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"
[broker]
listen = "127.0.0.1:{mqtt}"

[api]
listen = "127.0.0.1:0"

[storage]
dir = "data"

[streams.out]
shards = 1

[rules.counter]
sql = "{select} FROM 'count/+'"

[[rules.counter.actions]]
kind = "kinesis"
stream = "out"
partition_key = "same-key"
buffer = {{ max_records = 20, max_age_ms = 5 }}
{extra}
"#
    );
    let path = dir.join("weir.toml");
    // Write and rename, as editors do, so the watcher never reads half a file.
    let tmp = dir.join("weir.toml.tmp");
    std::fs::write(&tmp, text).expect("write config");
    std::fs::rename(&tmp, &path).expect("rename config");
    path
}

#[test]
fn rule_changes_apply_while_traffic_flows_without_losing_or_reordering_a_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mqtt = free_port();
    let cfg = reload_config(tmp.path(), mqtt, "SELECT *, 'v1' AS version", "");
    let weir = Weir::start(&cfg);

    // A publisher that keeps going through both reloads, until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let publisher = std::thread::spawn(move || {
        let mut n = 0usize;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let chunk: Vec<(String, Vec<u8>)> = (n..n + 50)
                .map(|i| {
                    (
                        format!("count/{}", i % 7),
                        format!(r#"{{"n":{i}}}"#).into_bytes(),
                    )
                })
                .collect();
            publish_all(mqtt, &chunk);
            n += 50;
            std::thread::sleep(Duration::from_millis(5));
        }
        n
    });
    // Wait until some messages went through the first version, then change the rule.
    let delivered = r#"weir_action_delivered_total{rule="counter",action="0:kinesis:out"}"#;
    let deadline = Instant::now() + Duration::from_secs(30);
    while weir.metric(delivered) < 300 {
        assert!(Instant::now() < deadline, "no traffic");
        std::thread::sleep(Duration::from_millis(5));
    }
    reload_config(tmp.path(), mqtt, "SELECT *, 'v2' AS version", "");
    weir.wait_metric("weir_config_reloads_total", 1);
    // A broken edit is refused and the running rules carry on.
    std::fs::write(
        tmp.path().join("weir.toml.tmp"),
        "[rules.counter]\nsql = \"SELECT\"\n",
    )
    .expect("write");
    std::fs::rename(tmp.path().join("weir.toml.tmp"), &cfg).expect("rename");
    weir.wait_metric("weir_config_reload_errors_total", 1);
    // Some traffic after the refused edit, then stop.
    let after = weir.metric(delivered);
    while weir.metric(delivered) < after + 200 {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let n = publisher.join().expect("publisher");
    weir.wait_metric(delivered, n as u64);
    let (status, _) = weir.terminate();
    assert!(status.success());

    let records = read_stream(&tmp.path().join("data/streams"), "out");
    let seen: Vec<(u64, String)> = records
        .iter()
        .map(|(_, v)| {
            (
                v["n"].as_u64().expect("n"),
                v["version"].as_str().expect("version").to_owned(),
            )
        })
        .collect();
    assert_eq!(seen.len(), n, "every message exactly once");
    // One key, one shard: the stream order is the publish order, across the swap.
    let ns: Vec<u64> = seen.iter().map(|(n, _)| *n).collect();
    assert_eq!(ns, (0..n as u64).collect::<Vec<_>>());
    // v1 up to the swap, v2 after it, never back.
    let first_v2 = seen
        .iter()
        .position(|(_, v)| v == "v2")
        .expect("the new rule ran");
    assert!(first_v2 >= 300, "{first_v2}");
    assert!(seen[..first_v2].iter().all(|(_, v)| v == "v1"));
    assert!(seen[first_v2..].iter().all(|(_, v)| v == "v2"));
}

#[test]
fn a_reload_waits_for_a_slow_write_and_refuses_to_drop_every_rule() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mqtt = free_port();
    let cfg = reload_config(tmp.path(), mqtt, "SELECT *, 'v1' AS version", "");
    let weir = Weir::start(&cfg);
    let delivered = r#"weir_action_delivered_total{rule="counter",action="0:kinesis:out"}"#;
    let one = |n: u64| vec![("count/1".to_owned(), format!(r#"{{"n":{n}}}"#).into_bytes())];

    // A valid file without a rule would stop everything: refused, the rule keeps running.
    let full = std::fs::read_to_string(&cfg).expect("read");
    let no_rules = full
        .split("[rules.counter]")
        .next()
        .expect("head")
        .to_owned();
    std::fs::write(tmp.path().join("weir.toml.tmp"), &no_rules).expect("write");
    std::fs::rename(tmp.path().join("weir.toml.tmp"), &cfg).expect("rename");
    weir.wait_metric("weir_config_reload_errors_total", 1);
    publish_all(mqtt, &one(0));
    weir.wait_metric(delivered, 1);

    // A slow writer: the first part of the file (valid, but the rule has no action yet), then
    // the rest a moment later. Only the finished file is applied.
    let v2 = full.replace("'v1'", "'v2'");
    let cut = v2.find("[[rules.counter.actions]]").expect("actions");
    std::fs::write(&cfg, &v2[..cut]).expect("write the first part");
    std::thread::sleep(Duration::from_millis(350));
    std::fs::write(&cfg, &v2).expect("write the rest");
    weir.wait_metric("weir_config_reloads_total", 1);
    publish_all(mqtt, &one(1));
    weir.wait_metric(delivered, 2);
    assert_eq!(
        weir.metric("weir_config_reloads_total"),
        1,
        "the half-written file was applied"
    );
    assert_eq!(weir.metric("weir_config_reload_errors_total"), 1);
    let (status, _) = weir.terminate();
    assert!(status.success());
    let records = read_stream(&tmp.path().join("data/streams"), "out");
    let versions: Vec<&str> = records
        .iter()
        .map(|(_, v)| v["version"].as_str().expect("version"))
        .collect();
    assert_eq!(versions, ["v1", "v2"]);
}

#[test]
fn sigterm_right_after_a_burst_loses_nothing_the_broker_acknowledged() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mqtt = free_port();
    // Slow to flush on purpose (age 500 ms, large batches): the stop must flush the buffers.
    let cfg = reload_config(tmp.path(), mqtt, "SELECT *", "");
    let text = std::fs::read_to_string(&cfg).expect("config").replace(
        "max_records = 20, max_age_ms = 5",
        "max_records = 100000, max_age_ms = 500",
    );
    std::fs::write(&cfg, text).expect("config");
    let weir = Weir::start(&cfg);
    const N: usize = 5000;
    let messages: Vec<(String, Vec<u8>)> = (0..N)
        .map(|i| {
            (
                format!("count/{}", i % 3),
                format!(r#"{{"n":{i}}}"#).into_bytes(),
            )
        })
        .collect();
    // Every PUBACK is in: the broker acknowledged all of them. Stop at once.
    publish_all(mqtt, &messages);
    let (status, rest) = weir.terminate();
    assert!(status.success(), "{status}");
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    let records = read_stream(&tmp.path().join("data/streams"), "out");
    let ns: Vec<u64> = records
        .iter()
        .map(|(_, v)| v["n"].as_u64().expect("n"))
        .collect();
    assert_eq!(ns, (0..N as u64).collect::<Vec<_>>());
}

fn small_config(dir: &Path, broker: &str, api: &str, actions: &str) -> PathBuf {
    let text = format!(
        r#"
[broker]
{broker}

[api]
listen = "{api}"

[storage]
dir = "data"

[streams.out]

[rules.r]
sql = "SELECT * FROM 'in/#'"
{actions}
"#
    );
    let path = dir.join("weir.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// The kinesis action of [`small_config`]'s rule, into stream `out`.
const TO_OUT: &str =
    "[[rules.r.actions]]\nkind = \"kinesis\"\nstream = \"out\"\npartition_key = \"k\"\n";

/// One `mosquitto_pub -q 1` of `{}` to `in/x` on `host:port`, with `extra` arguments.
fn pub_in(host: &str, port: u16, extra: &[&str]) -> std::process::Output {
    Command::new("mosquitto_pub")
        .args(["-h", host, "-p", &port.to_string(), "-q", "1"])
        .args(["-t", "in/x", "-m", "{}"])
        .args(extra)
        .output()
        .expect("mosquitto_pub")
}

/// Waits for the one message `pub_in` sent to reach stream `out`, then stops the host.
fn expect_one_delivered_and_stop(weir: Weir) {
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="r",action="0:kinesis:out"}"#,
        1,
    );
    let (status, _) = weir.terminate();
    assert!(status.success());
}

#[test]
fn the_embedded_broker_checks_usernames_and_passwords() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mqtt = free_port();
    let cfg = small_config(
        tmp.path(),
        &format!("listen = \"127.0.0.1:{mqtt}\"\n\n[broker.auth]\nusers = {{ pi = \"s3cret\" }}"),
        "127.0.0.1:0",
        TO_OUT,
    );
    let weir = Weir::start(&cfg);
    let publish = |extra: &[&str]| pub_in("127.0.0.1", mqtt, extra);
    assert!(!publish(&[]).status.success(), "anonymous is refused");
    assert!(
        !publish(&["-u", "pi", "-P", "wrong"]).status.success(),
        "a wrong password is refused"
    );
    let ok = publish(&["-u", "pi", "-P", "s3cret"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    expect_one_delivered_and_stop(weir);
}

#[test]
fn a_kinesis_action_can_put_into_a_remote_kinesis_endpoint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mqtt, api) = (free_port(), free_port());
    // The remote endpoint is this host's own Kinesis API, reached over HTTP with SigV4.
    let cfg = small_config(
        tmp.path(),
        &format!("listen = \"127.0.0.1:{mqtt}\""),
        &format!("127.0.0.1:{api}"),
        &format!(
            "[[rules.r.actions]]\nkind = \"kinesis\"\nstream = \"out\"\n\
             partition_key = \"${{topic(2)}}\"\nendpoint = \"http://127.0.0.1:{api}\"\n"
        ),
    );
    let weir = Weir::start(&cfg);
    let messages: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| (format!("in/dev{i}"), format!(r#"{{"i":{i}}}"#).into_bytes()))
        .collect();
    publish_all(mqtt, &messages);
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="r",action="0:kinesis:out"}"#,
        3,
    );
    let (status, _) = weir.terminate();
    assert!(status.success());
    let mut keys: Vec<String> = read_stream(&tmp.path().join("data/streams"), "out")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    assert_eq!(keys, ["dev0", "dev1", "dev2"]);
}

#[test]
fn the_embedded_broker_speaks_tls() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Weir test CA");
    std::fs::write(
        tmp.path().join("ca.pem"),
        ca.self_signed(&ca_key).expect("ca").pem(),
    )
    .expect("write");
    let key = KeyPair::generate().expect("key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params");
    leaf.distinguished_name.push(DnType::CommonName, "weir");
    let cert = leaf
        .signed_by(&key, &Issuer::from_params(&ca, &ca_key))
        .expect("sign");
    std::fs::write(tmp.path().join("broker.pem"), cert.pem()).expect("write");
    std::fs::write(tmp.path().join("broker.key"), key.serialize_pem()).expect("write");

    let mqtt = free_port();
    let cfg = small_config(
        tmp.path(),
        &format!(
            "listen = \"127.0.0.1:{mqtt}\"\n\n[broker.tls]\ncert_file = \"broker.pem\"\nkey_file = \"broker.key\""
        ),
        "127.0.0.1:0",
        TO_OUT,
    );
    let weir = Weir::start(&cfg);
    // By name: rustls refuses an IP address as the TLS server name (SNI).
    let publish = |extra: &[&str]| pub_in("localhost", mqtt, extra);
    assert!(!publish(&[]).status.success(), "plain MQTT is refused");
    let ca_file = tmp.path().join("ca.pem").display().to_string();
    let ok = publish(&["--cafile", &ca_file]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    expect_one_delivered_and_stop(weir);
}

#[test]
fn with_an_admin_token_metrics_and_plugins_want_it_and_health_stays_open() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mqtt = free_port();
    let text = format!(
        "[broker]\nlisten = \"127.0.0.1:{mqtt}\"\n\n[api]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"e2e-admin-token-0123\"\n\n[storage]\ndir = \"data\"\n\n[rules.r]\nsql = \"SELECT * FROM 'in/#'\"\n"
    );
    let cfg = tmp.path().join("weir.toml");
    std::fs::write(&cfg, text).expect("write config");
    let weir = Weir::start(&cfg);
    let raw = |request: &str| {
        let mut s = std::net::TcpStream::connect(&weir.api).expect("connect api");
        s.write_all(request.as_bytes()).expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    };
    assert!(weir.get("/metrics").starts_with("HTTP/1.1 401"));
    assert!(weir.get("/plugins").starts_with("HTTP/1.1 401"));
    assert!(weir.get("/health").starts_with("HTTP/1.1 200"));
    let metrics = raw("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer e2e-admin-token-0123\r\nConnection: close\r\n\r\n");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("weir_messages_in_total"));
    let csrf = raw("POST /plugins/x/reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer e2e-admin-token-0123\r\nOrigin: https://evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert!(csrf.starts_with("HTTP/1.1 403"), "{csrf}");
    let (status, _) = weir.terminate();
    assert!(status.success());
}

#[test]
fn a_spooled_record_that_fails_reaches_the_error_action() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mqtt = free_port();
    let nowhere = free_port();
    // The buffer waits 300 ms, so the record is spooled (and its message acknowledged) before
    // its delivery fails; the error action must still get it.
    let cfg = small_config(
        tmp.path(),
        &format!("listen = \"127.0.0.1:{mqtt}\""),
        "127.0.0.1:0",
        &format!(
            "[[rules.r.actions]]\nkind = \"kinesis\"\nstream = \"far\"\npartition_key = \"k\"\nendpoint = \"http://127.0.0.1:{nowhere}\"\nbuffer = {{ max_records = 100, max_age_ms = 300 }}\n\n[rules.r.error_action]\nkind = \"firehose\"\nroot = \"data/errors\"\nbuffer_interval_ms = 0\n"
        ),
    );
    let weir = Weir::start(&cfg);
    let out = pub_in("127.0.0.1", mqtt, &[]);
    assert!(out.status.success());
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="r",action="error:firehose"}"#,
        1,
    );
    let (status, _) = weir.terminate();
    assert!(status.success());
    let errors = files(&tmp.path().join("data/errors"));
    assert_eq!(errors.len(), 1, "{:?}", errors.keys());
    let line: serde_json::Value =
        serde_json::from_slice(errors.values().next().expect("file")).expect("json");
    assert_eq!(line["failures"][0]["failedAction"], "KinesisAction");
    assert_eq!(weir_dead_letters(tmp.path()), 0);
    let left = files(&tmp.path().join("data/spool"));
    assert!(left.is_empty(), "{left:?}");
}

fn weir_dead_letters(dir: &Path) -> usize {
    files(&dir.join("data/dead-letters")).len()
}

#[test]
fn a_failure_without_an_error_action_is_stored_as_a_dead_letter() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mqtt = free_port();
    // A remote endpoint nobody listens on: every put fails, after its retries.
    let nowhere = free_port();
    let cfg = small_config(
        tmp.path(),
        &format!("listen = \"127.0.0.1:{mqtt}\""),
        "127.0.0.1:0",
        &format!("[[rules.r.actions]]\nkind = \"kinesis\"\nstream = \"far\"\npartition_key = \"k\"\nendpoint = \"http://127.0.0.1:{nowhere}\"\n"),
    );
    let weir = Weir::start(&cfg);
    let out = pub_in("127.0.0.1", mqtt, &[]);
    assert!(out.status.success());
    weir.wait_metric("weir_dead_letters_total", 1);
    let (status, _) = weir.terminate();
    assert!(status.success());
    let dir = tmp.path().join("data/dead-letters");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("dead-letter folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).expect("read");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["ruleName"], "r");
    assert_eq!(lines[0]["topic"], "in/x");
    assert_eq!(lines[0]["failures"][0]["failedAction"], "KinesisAction");
}
