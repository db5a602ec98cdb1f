//! `weir run` and the Firehose API: an HTTP endpoint destination on 127.0.0.1 is refused by
//! CreateDeliveryStream (InvalidArgumentException naming the URL and the config keys) and
//! never connected to, unless `[firehose] allowed_endpoints` lists it, and then its records
//! are delivered there (issue 27, item 7).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use weir_testkit::FirehoseEndpoint;

fn start(dir: &Path, firehose: &str) -> common::Weir {
    let text = common::base_config("transition_ms = 0\n") + firehose;
    let path = dir.join("weir.toml");
    std::fs::write(&path, text).expect("write config");
    common::Weir::start(&path)
}

fn create(weir: &common::Weir, url: &str) -> (u16, Value) {
    common::call_target(
        &weir.api,
        "Firehose_20150804.CreateDeliveryStream",
        &json!({
            "DeliveryStreamName": "to-endpoint",
            "HttpEndpointDestinationConfiguration": {
                "EndpointConfiguration": {"Url": url},
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
                "S3Configuration": {
                    "RoleARN": "arn:aws:iam::000000000000:role/firehose",
                    "BucketARN": "arn:aws:s3:::backup"
                }
            }
        }),
    )
    .expect("create")
}

#[test]
fn a_loopback_endpoint_needs_the_operators_allow_list() {
    let ep = FirehoseEndpoint::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let weir = start(dir.path(), "");
    let (status, body) = create(&weir, &ep.url());
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["__type"], "InvalidArgumentException", "{body}");
    let msg = body["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains(&ep.url())
            && msg.contains("127.0.0.1 is a loopback address in 127.0.0.0/8")
            && msg.contains("[firehose] allow_private_endpoints = true")
            && msg.contains("allowed_endpoints"),
        "{body}"
    );
    let (status, body) = create(&weir, "http://169.254.169.254/latest/meta-data/");
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("cloud metadata service"),
        "{body}"
    );
    drop(weir);
    assert_eq!(ep.hits(), 0);

    let dir = tempfile::tempdir().expect("tempdir");
    let weir = start(
        dir.path(),
        "\n[firehose]\nallowed_endpoints = [\"127.0.0.1\"]\n",
    );
    let (status, body) = create(&weir, &ep.url());
    assert_eq!(status, 200, "{body}");
    // The list names 127.0.0.1 only.
    let (status, body) = create(&weir, "http://10.0.0.1/");
    assert_eq!(status, 400, "{body}");
    let data = base64::engine::general_purpose::STANDARD.encode(b"hello");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // CREATING for the transition delay (0 here), then puts are taken.
        let (status, r) = common::call_target(
            &weir.api,
            "Firehose_20150804.PutRecordBatch",
            &json!({"DeliveryStreamName": "to-endpoint", "Records": [{"Data": data}]}),
        )
        .expect("put");
        if status == 200 {
            assert_eq!(r["FailedPutCount"], 0, "{r}");
            break;
        }
        assert!(Instant::now() < deadline, "{status} {r}");
        std::thread::sleep(Duration::from_millis(20));
    }
    while ep.records().is_empty() {
        assert!(Instant::now() < deadline, "nothing delivered");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(ep.records(), vec![b"hello".to_vec()]);
}
