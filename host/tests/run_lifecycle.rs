//! A running `weir run` over real MQTT on loopback: rule changes applied while traffic flows
//! (nothing lost or reordered), edits refused (broken, dropping every rule, half-written), and
//! a SIGTERM right after a burst that must flush everything the broker acknowledged.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{base_config, publish_all, read_stream, write_config, Weir};

fn reload_config(dir: &Path, select: &str, extra: &str) -> PathBuf {
    let text = base_config("")
        + &format!(
            r#"
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
    write_config(dir, &text)
}

#[test]
fn rule_changes_apply_while_traffic_flows_without_losing_or_reordering_a_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = reload_config(tmp.path(), "SELECT *, 'v1' AS version", "");
    let weir = Weir::start(&cfg);
    let mqtt = weir.mqtt;

    // A publisher that keeps going through both reloads, until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = spawn_counting_publisher(mqtt, stop.clone());
    // Wait until some messages went through the first version, then change the rule.
    let delivered = r#"weir_action_delivered_total{rule="counter",action="0:kinesis:out"}"#;
    let deadline = Instant::now() + Duration::from_secs(30);
    while weir.metric(delivered) < 300 {
        assert!(Instant::now() < deadline, "no traffic");
        std::thread::sleep(Duration::from_millis(5));
    }
    reload_config(tmp.path(), "SELECT *, 'v2' AS version", "");
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

    check_order_across_the_swap(&tmp.path().join("data/streams"), n);
}

/// Publishes `{"n": i}` in chunks of 50 over seven topics, 5 ms apart, until `stop`; returns
/// how many it published. It keeps going through the reloads.
fn spawn_counting_publisher(
    mqtt: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut n = 0usize;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
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
    })
}

/// Every message exactly once, in publish order (one key, one shard) across the swap: v1 up
/// to it, v2 after it, never back.
fn check_order_across_the_swap(streams: &Path, n: usize) {
    let records = read_stream(streams, "out");
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
    let cfg = reload_config(tmp.path(), "SELECT *, 'v1' AS version", "");
    let weir = Weir::start(&cfg);
    let mqtt = weir.mqtt;
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
    // Slow to flush on purpose (age 500 ms, large batches): the stop must flush the buffers.
    let cfg = reload_config(tmp.path(), "SELECT *", "");
    let text = std::fs::read_to_string(&cfg).expect("config").replace(
        "max_records = 20, max_age_ms = 5",
        "max_records = 100000, max_age_ms = 500",
    );
    std::fs::write(&cfg, text).expect("config");
    let weir = Weir::start(&cfg);
    let mqtt = weir.mqtt;
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
