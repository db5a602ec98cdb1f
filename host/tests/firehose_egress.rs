//! `weir run` and the Firehose API: an HTTP endpoint destination on 127.0.0.1 is refused by
//! CreateDeliveryStream (InvalidArgumentException naming the URL and the config keys) and
//! never connected to, unless `[firehose] allowed_endpoints` lists it, and then its records
//! are delivered there (issue 27, item 7).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// A Firehose HTTP endpoint on 127.0.0.1 that counts the connections it accepts and keeps the
/// records it receives.
struct Endpoint {
    url: String,
    connections: Arc<AtomicUsize>,
    records: Arc<Mutex<Vec<Vec<u8>>>>,
}

fn endpoint() -> Endpoint {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/ingest", l.local_addr().expect("addr"));
    let connections = Arc::new(AtomicUsize::new(0));
    let records = Arc::new(Mutex::new(Vec::new()));
    let (c, r) = (connections.clone(), records.clone());
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            c.fetch_add(1, Ordering::SeqCst);
            let r = r.clone();
            std::thread::spawn(move || {
                let mut rd = BufReader::new(s);
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if rd.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim_end().to_ascii_lowercase();
                    if l.is_empty() {
                        break;
                    }
                    if let Some(v) = l.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                if rd.read_exact(&mut body).is_err() {
                    return;
                }
                let doc: Value = serde_json::from_slice(&body).unwrap_or_default();
                for rec in doc["records"].as_array().into_iter().flatten() {
                    let data = base64::engine::general_purpose::STANDARD
                        .decode(rec["data"].as_str().unwrap_or_default())
                        .unwrap_or_default();
                    r.lock().unwrap_or_else(|p| p.into_inner()).push(data);
                }
                let reply = json!({"requestId": doc["requestId"], "timestamp": 1}).to_string();
                let mut s = rd.into_inner();
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            });
        }
    });
    Endpoint {
        url,
        connections,
        records,
    }
}

fn start(dir: &Path, firehose: &str) -> common::Weir {
    let text = common::base_config(common::free_port(), "transition_ms = 0\n") + firehose;
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
    let ep = endpoint();
    let dir = tempfile::tempdir().expect("tempdir");
    let weir = start(dir.path(), "");
    let (status, body) = create(&weir, &ep.url);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["__type"], "InvalidArgumentException", "{body}");
    let msg = body["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains(&ep.url)
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
    assert_eq!(ep.connections.load(Ordering::SeqCst), 0);

    let dir = tempfile::tempdir().expect("tempdir");
    let weir = start(
        dir.path(),
        "\n[firehose]\nallowed_endpoints = [\"127.0.0.1\"]\n",
    );
    let (status, body) = create(&weir, &ep.url);
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
    while ep
        .records
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .is_empty()
    {
        assert!(Instant::now() < deadline, "nothing delivered");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        *ep.records.lock().unwrap_or_else(|p| p.into_inner()),
        vec![b"hello".to_vec()]
    );
}
