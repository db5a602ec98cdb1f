//! Replays the full seed CSV into a real rumqttd broker on loopback, through the library and
//! through the built binary, and checks a subscriber receives every row in the seed device's
//! exact payload shape.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{seed_csv, start_broker, subscribe};
use weir_device::connection::{Connection, Protocol};
use weir_device::csv_source::{read_all, CsvSource, OnBadRow};
use weir_device::payload::SpeedingRow;
use weir_device::replay::{self, csv_messages, ReplayOptions};

const KEYS: [&str; 7] = [
    "iottimestamp",
    "licensePlate",
    "longitude",
    "latitude",
    "city",
    "state",
    "speed",
];
const WAIT: Duration = Duration::from_secs(60);

/// Checks one received payload against the row it came from.
fn check_payload(raw: &[u8], row: &SpeedingRow) {
    let text = std::str::from_utf8(raw).expect("payload is UTF-8");
    // serde_json with preserve_order keeps the wire order of keys
    let v: serde_json::Value = serde_json::from_str(text).expect("payload is JSON");
    let obj = v.as_object().expect("payload is an object");
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(keys, KEYS, "key order in {text}");
    assert!(
        obj.values().all(serde_json::Value::is_string),
        "all values are strings: {text}"
    );
    let s = |k: &str| obj[k].as_str().expect("string");
    assert_eq!(s("licensePlate"), row.license_plate);
    assert_eq!(s("longitude"), row.longitude);
    assert_eq!(s("latitude"), row.latitude);
    assert_eq!(s("city"), row.city);
    assert_eq!(s("state"), row.state);
    assert_eq!(s("speed"), row.speed);
    // non-ASCII plates travel as raw UTF-8, byte for byte
    assert!(text.contains(&format!("\"licensePlate\": \"{}\"", row.license_plate)));
    // Python's str(datetime.utcnow()): "YYYY-MM-DD HH:MM:SS[.ffffff]"
    let ts = s("iottimestamp");
    assert!(
        chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S%.f").is_ok()
            && (ts.len() == 19 || ts.len() == 26)
            && ts.as_bytes()[10] == b' ',
        "timestamp {ts:?}"
    );
}

fn check_all(received: &[weir_device::connection::Received], rows: &[SpeedingRow], topic: &str) {
    assert_eq!(received.len(), rows.len());
    // One publisher with QoS 1 on one connection: the broker keeps the order.
    for (msg, row) in received.iter().zip(rows) {
        assert_eq!(msg.topic, topic);
        check_payload(&msg.payload, row);
    }
    if rows.iter().any(|r| r.license_plate == "95B•140") {
        let plate = "95B•140".as_bytes();
        assert!(received
            .iter()
            .any(|m| m.payload.windows(plate.len()).any(|w| w == plate)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_replay_delivers_every_seed_row() {
    let broker = start_broker();
    let rows =
        read_all(&seed_csv(), OnBadRow::Stop, |e| panic!("seed row bad: {e}")).expect("seed csv");
    let mut sub = subscribe(&broker.url(), "lib-sub", "rtr/iot/#").await;

    let publisher = Connection::connect(&broker.options("lib-replay"))
        .await
        .expect("connects");
    let source = CsvSource::open(&seed_csv()).expect("opens");
    let opts = ReplayOptions::new("rtr/iot/trafficdata");
    let outcome = replay::run(
        &publisher,
        csv_messages(source, OnBadRow::Stop),
        &opts,
        &replay::Quiet,
    )
    .await;
    publisher.close().await;
    assert!(outcome.ok(), "{:?}", outcome);
    assert_eq!(
        (
            outcome.summary.sent,
            outcome.summary.acknowledged,
            outcome.summary.failed
        ),
        (1000, 1000, 0)
    );

    let received = sub.collect(rows.len(), WAIT).await;
    check_all(&received, &rows, "rtr/iot/trafficdata");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_replay_over_mqtt5() {
    let broker = start_broker();
    let rows = read_all(&seed_csv(), OnBadRow::Stop, |_| {}).expect("seed csv");
    let mut sub = subscribe(&broker.url(), "v5-sub", "rtr/iot/trafficdata").await;
    let mut o = broker.options("v5-replay");
    o.broker = weir_device::connection::BrokerUrl::parse(&broker.v5_url()).expect("url");
    o.protocol = Protocol::V5;
    let publisher = Connection::connect(&o).await.expect("connects over v5");
    let mut opts = ReplayOptions::new("rtr/iot/trafficdata");
    opts.count = Some(50);
    let source = csv_messages(CsvSource::open(&seed_csv()).expect("opens"), OnBadRow::Stop);
    let outcome = replay::run(&publisher, source, &opts, &replay::Quiet).await;
    publisher.close().await;
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(outcome.summary.acknowledged, 50);
    let received = sub.collect(50, WAIT).await;
    check_all(&received, &rows[..50], "rtr/iot/trafficdata");
}

fn run_binary(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_weir-device"))
        .args(args)
        .output()
        .expect("binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_replay_delivers_every_seed_row() {
    let broker = start_broker();
    let rows = read_all(&seed_csv(), OnBadRow::Stop, |_| {}).expect("seed csv");
    let mut sub = subscribe(&broker.url(), "bin-sub", "rtr/iot/trafficdata").await;
    let url = broker.url();
    let csv = seed_csv().display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        run_binary(&[
            "replay",
            "--broker",
            &url,
            "--csv",
            &csv,
            "--client-id",
            "bin-replay",
            "--quiet",
            "--summary-json",
        ])
    })
    .await
    .expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {stderr}",
        out.status
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("summary JSON on stdout");
    assert_eq!(summary["sent"], 1000);
    assert_eq!(summary["acknowledged"], 1000);
    assert_eq!(summary["failed"], 0);
    assert!(summary["rate_msgs_per_sec"]
        .as_f64()
        .is_some_and(|r| r > 0.0));

    let received = sub.collect(rows.len(), WAIT).await;
    check_all(&received, &rows, "rtr/iot/trafficdata");
}

#[test]
fn binary_names_the_broker_it_cannot_reach() {
    let csv = seed_csv().display().to_string();
    let out = run_binary(&[
        "replay",
        "--broker",
        "mqtt://127.0.0.1:1",
        "--csv",
        &csv,
        "--quiet",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: cannot connect to broker 127.0.0.1:1: connection refused"),
        "stderr: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_bad_rows_skip_or_stop() {
    let broker = start_broker();
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        "licensePlate,longitude,latitude,city,state,speed\nA1,1,2,C,S,80\nB2,1,2,C\nC3,x,2,C,S,90\nD4,1,2,C,S,70\n",
    )
    .expect("write csv");
    let url = broker.url();
    let path = csv.display().to_string();
    let (skip, stop) = tokio::task::spawn_blocking(move || {
        let common = [
            "--broker",
            url.as_str(),
            "--csv",
            path.as_str(),
            "--quiet",
            "--summary-json",
        ];
        let mut skip = vec!["replay", "--client-id", "bad-skip"];
        skip.extend(common);
        let mut stop = vec!["replay", "--client-id", "bad-stop", "--on-bad-row", "stop"];
        stop.extend(common);
        (run_binary(&skip), run_binary(&stop))
    })
    .await
    .expect("join");

    let err = String::from_utf8_lossy(&skip.stderr);
    assert!(skip.status.success(), "skip: {err}");
    assert!(
        err.contains(
            "warning: skipping bad row: line 3: missing column \"state\" (row has 4 fields)"
        ),
        "{err}"
    );
    assert!(
        err.contains("line 4: column \"longitude\" is not a number: \"x\""),
        "{err}"
    );
    let s: serde_json::Value = serde_json::from_slice(&skip.stdout).expect("json");
    assert_eq!(
        (s["sent"].as_u64(), s["skipped_rows"].as_u64()),
        (Some(2), Some(2))
    );

    let err = String::from_utf8_lossy(&stop.stderr);
    assert!(!stop.status.success(), "stop must fail");
    assert!(
        err.contains("error: line 3: missing column \"state\""),
        "{err}"
    );
    let s: serde_json::Value = serde_json::from_slice(&stop.stdout).expect("json");
    assert_eq!(
        s["sent"].as_u64(),
        Some(1),
        "rows before the bad one were sent and acknowledged"
    );
    assert_eq!(s["acknowledged"].as_u64(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_paces_the_replay() {
    let broker = start_broker();
    let publisher = Connection::connect(&broker.options("rate-replay"))
        .await
        .expect("connects");
    let mut opts = ReplayOptions::new("rate/t");
    opts.rate = Some(500.0);
    opts.count = Some(100);
    let source = csv_messages(CsvSource::open(&seed_csv()).expect("opens"), OnBadRow::Stop);
    let outcome = replay::run(&publisher, source, &opts, &replay::Quiet).await;
    publisher.close().await;
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(outcome.summary.acknowledged, 100);
    // 100 messages at 500/s: the last is due 99 * 2 ms after the first.
    assert!(outcome.summary.elapsed_secs >= 0.198, "{}", outcome.summary);
    assert!(
        outcome.summary.rate_msgs_per_sec <= 510.0,
        "{}",
        outcome.summary
    );
}
