//! A rule and a producer share one delivery stream: `weir run` creates the delivery stream
//! the config declares (with a transformer plugin and dynamic partitioning), a rule's
//! `firehose` action with `delivery_stream` puts MQTT messages into it, PutRecordBatch puts
//! more, and both arrive in the folder bucket, transformed and partitioned. A restart keeps
//! the delivery stream (the catalog) and does not create it twice.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn config(dir: &Path) -> std::path::PathBuf {
    let text = common::base_config("transition_ms = 0\n")
        + &format!(
            r#"
[plugins.general-processing]
path = {:?}
grants = ["config"]
params = {{ append_newline = "true" }}

[[firehose.delivery_streams]]
name = "cars"
bucket = "archive"
prefix = "plate=!{{partitionKeyFromQuery:plate}}/"
error_prefix = "errors/!{{firehose:error-output-type}}/"
buffer_interval_s = 0
buffer_size_mib = 1
lambda = "general-processing"
partition_query = "plate AS plate"

[rules.speeding]
sql = "SELECT plate, speed FROM 'cars/+/speed' WHERE speed > 100"

[[rules.speeding.actions]]
kind = "firehose"
delivery_stream = "cars"
"#,
            common::component("general-processing"),
        );
    common::write_config(dir, &text)
}

/// Every record in the bucket folder, by partition (`plate=...`).
fn records(bucket: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (key, body) in common::files(bucket) {
        let part = key.split('/').next().unwrap_or_default().to_owned();
        for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            out.push((
                part.clone(),
                serde_json::from_slice::<Value>(line).expect("a JSON line"),
            ));
        }
    }
    out.sort_by_key(|(p, v)| (p.clone(), v.to_string()));
    out
}

fn wait_records(bucket: &Path, n: usize) -> Vec<(String, Value)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = records(bucket);
        if r.len() >= n {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} records: {r:?}",
            r.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_rule_and_a_producer_share_a_declared_delivery_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path());
    let bucket = dir.path().join("data/s3/archive");
    let weir = common::Weir::start(&cfg);

    check_declared_stream(&weir.api);

    publish_from_rule_and_producer(weir.mqtt, &weir.api);

    let got = wait_records(&bucket, 3);
    assert_eq!(
        got,
        vec![
            (
                "plate=AB1".into(),
                json!({"plate":"AB1","speed":101,"from":"producer"})
            ),
            ("plate=AB1".into(), json!({"plate":"AB1","speed":130})),
            ("plate=CD2".into(), json!({"plate":"CD2","speed":120})),
        ]
    );
    let (status, _) = weir.terminate();
    assert!(status.success(), "weir run stopped with {status}");

    // Restarted: the declared stream is the one in the catalog (version 1, not re-created).
    let weir = common::Weir::start(&cfg);
    let (_, d) = common::call_target(
        &weir.api,
        "Firehose_20150804.ListDeliveryStreams",
        &json!({}),
    )
    .expect("list");
    assert_eq!(d["DeliveryStreamNames"], json!(["cars"]));
    common::publish_all(
        weir.mqtt,
        &[(
            "cars/4/speed".into(),
            br#"{"plate":"EF3","speed":140}"#.to_vec(),
        )],
    );
    let got = wait_records(&bucket, 4);
    assert!(
        got.contains(&("plate=EF3".into(), json!({"plate":"EF3","speed":140}))),
        "{got:?}"
    );
}

/// The declared stream as DescribeDeliveryStream shows it: the config's bucket and its
/// transformation.
fn check_declared_stream(api: &str) {
    let (status, d) = common::call_target(
        api,
        "Firehose_20150804.DescribeDeliveryStream",
        &json!({"DeliveryStreamName": "cars"}),
    )
    .expect("describe");
    assert_eq!(status, 200, "{d}");
    let ext =
        &d["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"];
    assert_eq!(ext["BucketARN"], "arn:aws:s3:::archive");
    assert_eq!(
        ext["ProcessingConfiguration"]["Processors"][0]["Type"],
        "Lambda"
    );
}

/// Three messages the rule takes (one of which its WHERE drops) and one record a producer
/// puts into the same delivery stream.
fn publish_from_rule_and_producer(mqtt: u16, api: &str) {
    common::publish_all(
        mqtt,
        &[
            (
                "cars/1/speed".into(),
                br#"{"plate":"AB1","speed":130}"#.to_vec(),
            ),
            (
                "cars/2/speed".into(),
                br#"{"plate":"CD2","speed":50}"#.to_vec(),
            ),
            (
                "cars/3/speed".into(),
                br#"{"plate":"CD2","speed":120}"#.to_vec(),
            ),
        ],
    );
    let (status, r) = common::call_target(
        api,
        "Firehose_20150804.PutRecordBatch",
        &json!({"DeliveryStreamName": "cars", "Records": [
            {"Data": base64(br#"{"plate":"AB1","speed":101,"from":"producer"}"#)}
        ]}),
    )
    .expect("put");
    assert_eq!((status, &r["FailedPutCount"]), (200, &json!(0)), "{r}");
}

fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}
