//! The seed's speeding-car scenario end to end on the shipped configuration
//! (`examples/speeding/weir.toml`, copied to a temporary folder with free ports): every row of
//! `speeding_data.csv` published over MQTT as the device sends it, plus two speeding cars whose
//! plates are not in the driver table, and every outcome checked exactly against an
//! independent computation from the two CSV files.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use common::{files, publish_all, read_stream, Weir};
use serde_json::Value;
use weir_device::csv_source::{read_all, OnBadRow};
use weir_device::payload::{seed_payload, SpeedingRow};
use weir_table::KvTable;

/// Rows of a CSV file as column -> value maps.
fn csv_rows(path: &std::path::Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).expect("csv");
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("row");
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

#[test]
fn the_speeding_scenario_on_the_shipped_configuration() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (cfg, data_dir) = shipped_config(tmp.path());
    let expected = Expected::from_csv(&data_dir);
    let strangers = ["UNKNOWN-1", "UNKNOWN-2"];
    let (messages, payload_of) = device_messages(&data_dir, &strangers);

    let started = chrono::Utc::now();
    let weir = Weir::start(&cfg);
    publish_all(weir.mqtt, &messages);
    let matched = expected.speeding.len() as u64 + 2;
    wait_for_deliveries(&weir, matched);
    let (status, _) = weir.terminate();
    assert!(status.success(), "weir run exited with {status}");
    let ended = chrono::Utc::now();
    let data = tmp.path().join("weir-data");

    check_sms(&data, &expected);
    check_stream(&data, &expected);
    check_table(&data, &expected, &strangers, matched, &payload_of);
    check_archive(&data, [started, ended], &messages);
    check_error_action(&data, &strangers);
}

/// The shipped configuration with ports the system gives and the built plugins, and the
/// seed's CSV files beside it; (config path, data folder).
fn shipped_config(dir: &Path) -> (PathBuf, PathBuf) {
    let example = common::repo().join("examples/speeding");
    let text = std::fs::read_to_string(example.join("weir.toml"))
        .expect("shipped config")
        .replace(
            "../../target/plugins",
            &common::plugin_dir().display().to_string(),
        )
        .replace("127.0.0.1:1883", "127.0.0.1:0")
        .replace("127.0.0.1:1884", "127.0.0.1:0")
        .replace("127.0.0.1:4567", "127.0.0.1:0");
    let cfg = dir.join("weir.toml");
    std::fs::write(&cfg, text).expect("write config");
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&data_dir).expect("mkdir");
    for f in ["speeding_data.csv", "driver_data.csv"] {
        std::fs::copy(example.join("data").join(f), data_dir.join(f)).expect("copy data");
    }
    (cfg, data_dir)
}

/// What the run must produce, computed from the two CSV files alone.
struct Expected {
    drivers: HashMap<String, HashMap<String, String>>,
    /// Plates driven over 75.
    speeding: BTreeSet<String>,
    /// Speeding plates whose owner is known: one alert each.
    alerted: BTreeSet<String>,
}

impl Expected {
    fn from_csv(data_dir: &Path) -> Expected {
        let drivers: HashMap<String, HashMap<String, String>> =
            csv_rows(&data_dir.join("driver_data.csv"))
                .into_iter()
                .map(|r| (r["licensePlate"].clone(), r))
                .collect();
        let traffic = csv_rows(&data_dir.join("speeding_data.csv"));
        let speeding: BTreeSet<String> = traffic
            .iter()
            .filter(|r| r["speed"].parse::<f64>().is_ok_and(|s| s > 75.0))
            .map(|r| r["licensePlate"].clone())
            .collect();
        let alerted: BTreeSet<String> = speeding
            .iter()
            .filter(|p| drivers.contains_key(*p))
            .cloned()
            .collect();
        assert_eq!(alerted.len(), 693, "the seed data as shipped");
        Expected {
            drivers,
            speeding,
            alerted,
        }
    }
}

/// A topic and a payload, as published.
type Message = (String, Vec<u8>);

/// The messages the device sends for every CSV row plus two speeding strangers (seed payload
/// shape, every value a string), and each plate's payload.
fn device_messages(
    data_dir: &Path,
    strangers: &[&str],
) -> (Vec<Message>, HashMap<String, Vec<u8>>) {
    let mut rows = read_all(&data_dir.join("speeding_data.csv"), OnBadRow::Stop, |_| {})
        .expect("device reads the CSV");
    for plate in strangers {
        rows.push(SpeedingRow {
            license_plate: (*plate).into(),
            longitude: "1.0".into(),
            latitude: "2.0".into(),
            city: "Nowhere".into(),
            state: "Iowa".into(),
            speed: "99".into(),
        });
    }
    let now = chrono::Utc::now();
    let messages: Vec<Message> = rows
        .iter()
        .map(|r| ("rtr/iot/trafficdata".to_owned(), seed_payload(r, now)))
        .collect();
    let payload_of: HashMap<String, Vec<u8>> = rows
        .iter()
        .zip(&messages)
        .map(|(r, (_, p))| (r.license_plate.clone(), p.clone()))
        .collect();
    (messages, payload_of)
}

/// Waits until every rule matched and every action delivered what it should.
fn wait_for_deliveries(weir: &Weir, matched: u64) {
    weir.wait_metric(r#"weir_rule_matched_total{rule="speeding"}"#, matched);
    weir.wait_metric(r#"weir_rule_matched_total{rule="archive"}"#, 1002);
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="speeding",action="0:kinesis:speeding-alerts"}"#,
        693,
    );
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="speeding",action="1:plugin:sms-alert"}"#,
        693,
    );
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="speeding",action="2:table:speeding-cars"}"#,
        matched,
    );
    // Each stranger fails owner-enrich twice: in the kinesis action and in the emitter's.
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="speeding",action="error:firehose"}"#,
        4,
    );
}

/// Alerts: one SMS per speeding car whose owner is known, naming the plate.
fn check_sms(data: &Path, expected: &Expected) {
    let sms = std::fs::read_to_string(data.join("sms.jsonl")).expect("sms outbox");
    let mut alerted = BTreeSet::new();
    for line in sms.lines() {
        let v: Value = serde_json::from_str(line).expect("json line");
        let msg = v["message"].as_str().expect("message");
        let plate = msg
            .split("licenseplate ")
            .nth(1)
            .and_then(|rest| rest.split(" was clocked").next())
            .expect("plate in the SMS text");
        assert!(alerted.insert(plate.to_owned()), "two alerts for {plate}");
        let owner = &expected.drivers[plate];
        assert_eq!(v["target"], format!("+1{}", owner["myphone"]));
    }
    assert_eq!(alerted, expected.alerted);
}

/// The outgoing stream: every such record exactly once, partitioned by plate, owner joined.
fn check_stream(data: &Path, expected: &Expected) {
    let stream = read_stream(&data.join("streams"), "speeding-alerts");
    assert_eq!(stream.len(), 693);
    let mut in_stream = BTreeSet::new();
    for (key, v) in &stream {
        assert!(in_stream.insert(key.clone()), "{key} twice in the stream");
        assert_eq!(v["licensePlate"], key.as_str());
        let owner = &expected.drivers[key];
        for col in ["first_name", "last_name", "myphone"] {
            assert_eq!(v[col], owner[col].as_str(), "{key}.{col}");
        }
    }
    assert_eq!(in_stream, expected.alerted);
}

/// The table: every speeding message's raw record, byte for byte.
fn check_table(
    data: &Path,
    expected: &Expected,
    strangers: &[&str],
    matched: u64,
    payload_of: &HashMap<String, Vec<u8>>,
) {
    let table = KvTable::open(data.join("tables"), "speeding-cars").expect("table");
    assert_eq!(table.len() as u64, matched);
    for plate in expected
        .speeding
        .iter()
        .map(String::as_str)
        .chain(strangers.iter().copied())
    {
        let row = table.get(plate).expect("read").expect("row");
        assert_eq!(&row, &payload_of[plate], "{plate}");
    }
}

/// The archive: every message under trafficdata/YYYY/MM/DD/HH/ of the run's hours.
fn check_archive(data: &Path, run: [chrono::DateTime<chrono::Utc>; 2], messages: &[Message]) {
    let hours: BTreeSet<String> = run
        .iter()
        .map(|t| t.format("trafficdata/%Y/%m/%d/%H/").to_string())
        .collect();
    let mut archived = Vec::new();
    for (key, bytes) in files(&data.join("archive")) {
        assert!(hours.iter().any(|h| key.starts_with(h.as_str())), "{key}");
        archived.extend(
            bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    let mut sent: Vec<Vec<u8>> = messages.iter().map(|(_, p)| p.clone()).collect();
    sent.sort();
    archived.sort();
    assert_eq!(archived.len(), 1002);
    assert_eq!(archived, sent);
}

/// The error action: both strangers, from both actions that join the owner, with the reason.
fn check_error_action(data: &Path, strangers: &[&str]) {
    let mut reasons: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, bytes) in files(&data.join("errors")) {
        assert!(key.starts_with("speeding/"), "{key}");
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let v: Value = serde_json::from_slice(line).expect("error payload");
            assert_eq!(v["ruleName"], "speeding");
            let msg = v["failures"][0]["errorMessage"]
                .as_str()
                .unwrap_or_default();
            assert!(msg.contains("unknown-key"), "{msg}");
            let plate = strangers
                .iter()
                .find(|p| msg.contains(**p))
                .unwrap_or_else(|| panic!("no stranger named in {msg}"));
            reasons.entry((*plate).to_owned()).or_default().insert(
                v["failures"][0]["failedAction"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    let both = BTreeSet::from(["KinesisAction".to_owned(), "LambdaAction".to_owned()]);
    assert_eq!(
        reasons,
        strangers
            .iter()
            .map(|p| ((*p).to_owned(), both.clone()))
            .collect()
    );
}
