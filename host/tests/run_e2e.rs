//! `weir run` end to end over real MQTT on loopback: the embedded broker, rumqttc and the
//! Debian `mosquitto_pub` / `mosquitto_sub` clients, every action kind (kinesis, firehose,
//! republish, table, plugin emitter) and the error action, with malformed payloads, missing
//! fields, a template that cannot render and a plugin that panics. The host is stopped with
//! SIGTERM and everything it acknowledged is then read back from disk.
//!
//! The rest of `weir run` over real MQTT: `run_lifecycle.rs` (reloads and stops),
//! `run_broker_access.rs` (passwords, TLS, the admin token), `run_remote_delivery.rs` (a remote
//! Kinesis endpoint, failures to the error action or a dead letter), `run_external.rs` (behind
//! mosquitto).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{files, publish_all, read_stream, Weir};
use serde_json::Value;
use weir_table::KvTable;

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

/// The test's configuration: two listeners, the streams, tables, notify channel and plugins
/// the rules use, then [`RULES`].
/// The broker listens on ports the system gives; the test reads them from [`Weir`].
fn config(dir: &Path) -> PathBuf {
    let data = common::repo().join("examples/speeding/data/driver_data.csv");
    let p = |n: &str| common::component(n).display().to_string();
    let resources = format!(
        r#"
[broker]
listen = "127.0.0.1:0"
listen_v5 = "127.0.0.1:0"

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

"#,
        data = data.display(),
        enrich = p("owner-enrich"),
        sms = p("sms-alert"),
        hostile = p("hostile-behaviour"),
    );
    common::write_config(dir, &(resources + RULES))
}

/// Every action kind on `speeding`, an archive, a hostile filter and a key template that
/// does not render; the rules that fail have error actions.
const RULES: &str = r#"[rules.speeding]
sql = "SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75"

[[rules.speeding.actions]]
kind = "kinesis"
stream = "alerts"
partition_key = "${licensePlate}"
transformers = ["owner-enrich"]
buffer = { max_records = 10, max_age_ms = 5 }

[[rules.speeding.actions]]
kind = "plugin"
emitter = "sms-alert"
transformers = ["owner-enrich"]

[[rules.speeding.actions]]
kind = "table"
table = "cars"
key = "${licensePlate}"

[[rules.speeding.actions]]
kind = "republish"
topic = "alerts/${licensePlate}"
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
partition_key = "${topic()}"
filters = ["hostile"]

[rules.hostile.error_action]
kind = "republish"
topic = "errors/${topic(2)}"
qos = 1

[rules.keyless]
sql = "SELECT * FROM 'keyless/#'"

[[rules.keyless.actions]]
kind = "kinesis"
stream = "passed"
partition_key = "${device}"

[rules.keyless.error_action]
kind = "republish"
topic = "errors/keyless"
"#;

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
    let cfg = config(tmp.path());
    let started = chrono::Utc::now();
    let weir = Weir::start(&cfg);
    let (mqtt, mqtt5) = (weir.mqtt, weir.mqtt5.expect("an MQTT 5 listener"));
    assert!(weir.get("/health").contains("\"status\":\"ok\""));

    let sub = Sub::start(mqtt, &["alerts/#", "errors/#"], "alerts/warm");

    let plates = driver_plates(3);
    let unknown = "NOT-A-PLATE";
    let mut messages = traffic(&plates, unknown);
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

    wait_for_every_action(&weir);

    // Republished alerts and both error payloads arrive at mosquitto_sub.
    // `republish` has no transformer, so the unknown plate is republished too.
    let lines = sub.take(7);
    let (alerts, errors) = split_alerts_and_errors(&lines);
    let want: BTreeSet<String> = plates.iter().cloned().chain([fourth.clone()]).collect();
    let mut republished = want.clone();
    republished.insert(unknown.to_owned());
    assert_eq!(alerts, republished, "{lines:?}");
    check_mqtt_error_payloads(&errors);

    let (status, rest) = weir.terminate();
    assert!(status.success(), "weir run exited with {status}");
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");

    // Everything acknowledged is on disk.
    let data = tmp.path().join("data");
    check_streams(&data, &want);
    check_sms_outbox(&data, &want);
    check_table(&data, &plates, unknown, &messages);
    check_archive(&data, started, &messages, fourth_payload.into_bytes());
    check_error_action_objects(&data, unknown);
}

/// The trafficdata messages: three speeding known plates, the first again under the limit,
/// a speeding unknown plate, and two that fire no rule but the archive (not JSON, no speed).
fn traffic(plates: &[String], unknown: &str) -> Vec<(String, Vec<u8>)> {
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
    messages
}

/// Waits until every action delivered what the traffic gives it.
fn wait_for_every_action(weir: &Weir) {
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
}

/// The republished alerts' plates and the error payloads (by topic) among the lines
/// `mosquitto_sub -v` printed.
fn split_alerts_and_errors(lines: &[String]) -> (BTreeSet<String>, BTreeMap<String, Value>) {
    let mut alerts = BTreeSet::new();
    let mut errors = BTreeMap::new();
    for l in lines {
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
    (alerts, errors)
}

/// The error payloads that went over MQTT: the hostile plugin's panic (with the original
/// payload) and the key template that did not render.
fn check_mqtt_error_payloads(errors: &BTreeMap<String, Value>) {
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
}

/// Each speeding record in the `alerts` stream exactly once, enriched; only `fine` passed
/// the hostile filter into `passed`.
fn check_streams(data: &Path, want: &BTreeSet<String>) {
    let alerts_stream = read_stream(&data.join("streams"), "alerts");
    let keys: BTreeSet<String> = alerts_stream.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(&keys, want);
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
}

/// One SMS per speeding plate in the emitter's outbox.
fn check_sms_outbox(data: &Path, want: &BTreeSet<String>) {
    let sms = std::fs::read_to_string(data.join("sms.jsonl")).expect("sms outbox");
    let texts: Vec<Value> = sms
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(texts.len(), 4, "{sms}");
    for plate in want {
        assert!(
            texts.iter().any(|t| t["message"]
                .as_str()
                .unwrap_or_default()
                .contains(plate.as_str())),
            "no SMS for {plate}: {sms}"
        );
    }
}

/// Every speeding message's raw record in the `cars` table, the unknown plate included (no
/// transformer there).
fn check_table(data: &Path, plates: &[String], unknown: &str, messages: &[(String, Vec<u8>)]) {
    let table = KvTable::open(data.join("tables"), "cars").expect("table");
    assert_eq!(table.len(), 5);
    assert_eq!(
        table.get(unknown).expect("read").expect("row"),
        messages[4].1
    );
    for (i, plate) in plates.iter().enumerate() {
        let row = table.get(plate).expect("read").expect("row");
        assert_eq!(row, messages[i].1, "the raw record under {plate}");
    }
}

/// The archive: every trafficdata message, byte for byte, under the hour's YYYY/MM/DD/HH/.
fn check_archive(
    data: &Path,
    started: chrono::DateTime<chrono::Utc>,
    messages: &[(String, Vec<u8>)],
    fourth_payload: Vec<u8>,
) {
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
        .chain([fourth_payload])
        .collect();
    expected.sort();
    archived.sort();
    assert_eq!(archived, expected);
}

/// The error action: the unknown plate, with the plugin's reason, under speeding/, once for
/// each of the two actions that ran owner-enrich on it (kinesis and the emitter).
fn check_error_action_objects(data: &Path, unknown: &str) {
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
