//! The load generator against the embedded broker: paced rate, QoS 1 latency, and end-to-end
//! latency through a subscriber. Short runs; the ceiling is measured by
//! `examples/load_ceiling.rs`, not here.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{seed_csv, start_broker};
use weir_device::connection::Qos;
use weir_device::csv_source::{read_all, OnBadRow};
use weir_device::load::{self, LoadOptions, LoadPayload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_qos1_load_with_end_to_end_latency() {
    let broker = start_broker();
    let opts = LoadOptions {
        connection: broker.options("load-t"),
        connections: 4,
        rate: 2000.0,
        duration: Duration::from_millis(500),
        qos: Qos::AtLeastOnce,
        topic: "load/t".into(),
        payload: LoadPayload::Size(200),
        subscribe: Some("load/#".into()),
        drain_timeout: Duration::from_secs(30),
    };
    let r = load::run(&opts).await.expect("load runs");
    // 2000/s for 0.5 s, paced from a common start: 1000 messages split 4 ways. On a loaded
    // machine a connection's last slot can fall just past the deadline, so a few may be
    // missing; whatever was sent must be acknowledged and received, every one.
    assert!((990..=1000).contains(&r.sent), "{r}");
    assert_eq!((r.acknowledged, r.failed), (r.sent, 0), "{r}");
    assert_eq!(r.received, Some(r.sent), "{r}");
    let ack = r.publish_to_ack.expect("QoS 1 latency");
    assert_eq!(ack.count, r.sent);
    assert!(ack.p50_us <= ack.p90_us && ack.p90_us <= ack.p99_us && ack.p99_us <= ack.max_us);
    assert_eq!(r.end_to_end.expect("e2e latency").count, r.sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos0_csv_load_reports_rate_only() {
    let broker = start_broker();
    let rows = read_all(&seed_csv(), OnBadRow::Stop, |_| {}).expect("seed");
    let opts = LoadOptions {
        connection: broker.options("load-q0"),
        connections: 2,
        rate: 0.0,
        duration: Duration::from_millis(200),
        qos: Qos::AtMostOnce,
        topic: "load/q0".into(),
        payload: LoadPayload::Rows(Arc::new(rows)),
        subscribe: None,
        drain_timeout: Duration::from_secs(10),
    };
    let r = load::run(&opts).await.expect("load runs");
    assert!(r.sent > 0 && r.failed == 0, "{r}");
    assert!(r.publish_to_ack.is_none() && r.acked_per_sec.is_none());
    assert!(r.sent_per_sec > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_binary_prints_json_report() {
    let broker = start_broker();
    let url = broker.url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_weir-device"))
            .args([
                "load",
                "--broker",
                &url,
                "--connections",
                "2",
                "--rate",
                "400",
                "--duration",
                "0.5",
            ])
            .args([
                "--qos",
                "1",
                "--payload-size",
                "128",
                "--subscribe",
                "weir/load",
                "--json",
            ])
            .output()
            .expect("binary runs")
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    // 400/s for 0.5 s: 200, less a slot or two past the deadline on a loaded machine.
    let sent = v["sent"].as_u64().expect("sent");
    assert!((195..=200).contains(&sent), "{v}");
    assert_eq!(v["acknowledged"], sent);
    assert_eq!(v["received"], sent);
    for key in ["p50_us", "p90_us", "p99_us", "max_us"] {
        assert!(v["publish_to_ack"][key].is_u64(), "{key} in {v}");
        assert!(v["end_to_end"][key].is_u64(), "{key} in {v}");
    }
}
