//! `weir run` killed with SIGKILL while producers keep calling PutRecordBatch on a delivery
//! stream that buffers (15 minutes, 128 MiB: nothing is delivered before the kill). After
//! each restart the producers go on; at the end the buffering interval is set to zero with
//! UpdateDestination and every record whose PutRecordBatch was answered must be in the
//! bucket (a folder: no `[s3]` here, so this is also the local folder destination).
//! Delivery is at least once: duplicates are allowed and counted.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{call_target, Weir};
use serde_json::json;

const KILLS: usize = 10;
const PRODUCERS: usize = 3;
const STREAM: &str = "crashy";
const BUCKET: &str = "crash-bucket";

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("weir.toml");
    std::fs::write(&path, common::base_config("transition_ms = 0\n")).expect("write config");
    path
}

fn firehose(
    addr: &str,
    op: &str,
    body: &serde_json::Value,
) -> std::io::Result<(u16, serde_json::Value)> {
    call_target(addr, &format!("Firehose_20150804.{op}"), body)
}

/// One producer: batches of 20 records `p<N>-<seq>\n` until `stop`; what was answered with
/// 200 and no per-record failure goes into `acked`.
fn produce(
    addr: Arc<Mutex<String>>,
    id: usize,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<HashSet<String>>>,
) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut seq = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let batch: Vec<String> = (0..20).map(|i| format!("p{id}-{}\n", seq + i)).collect();
        let records: Vec<_> = batch
            .iter()
            .map(|r| json!({"Data": b64.encode(r)}))
            .collect();
        let target = addr.lock().expect("addr").clone();
        match firehose(
            &target,
            "PutRecordBatch",
            &json!({"DeliveryStreamName": STREAM, "Records": records}),
        ) {
            Ok((200, body)) => {
                let responses = body["RequestResponses"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                assert_eq!(responses.len(), batch.len(), "{body}");
                let mut a = acked.lock().expect("acked");
                for (r, resp) in batch.iter().zip(&responses) {
                    if resp.get("RecordId").is_some() {
                        a.insert(r.trim_end().to_owned());
                    }
                }
                seq += batch.len();
            }
            // The server is down or restarting: try the same records again, as SDKs do.
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Every record in every object under the bucket folder.
fn delivered(bucket: &Path) -> Vec<String> {
    common::files(bucket)
        .values()
        .flat_map(|bytes| {
            String::from_utf8_lossy(bytes)
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn sigkill_while_buffering_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path());
    let mut weir = Weir::start(&cfg);
    create_buffered_stream(&weir.api);

    let addr = Arc::new(Mutex::new(weir.api.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|id| {
            let (addr, stop, acked) = (addr.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || produce(addr, id, stop, acked))
        })
        .collect();
    let bucket = dir.path().join("data/s3").join(BUCKET);
    for kill in 0..KILLS {
        // Let some batches be answered, then kill in the middle of the traffic.
        let before = acked.lock().expect("acked").len();
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.lock().expect("acked").len() < before + 200 {
            assert!(
                Instant::now() < deadline,
                "kill {kill}: producers made no progress"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        weir.child.kill().expect("SIGKILL");
        weir.child.wait().expect("wait");
        assert!(
            delivered(&bucket).is_empty(),
            "nothing is due before the kill (15-minute buffer)"
        );
        weir = Weir::start(&cfg);
        *addr.lock().expect("addr") = weir.api.clone();
    }
    stop.store(true, Ordering::SeqCst);
    for p in producers {
        p.join().expect("producer");
    }

    // Deliver now: the buffered records of every run go out under the new settings.
    deliver_now(&weir.api);
    let acked = acked.lock().expect("acked").clone();
    wait_for_every_acknowledged(&bucket, &acked);
}

/// The delivery stream, buffering for 15 minutes or 128 MB: nothing is due while the kills
/// happen, so every acknowledged record must survive them in the buffer.
fn create_buffered_stream(api: &str) {
    let (status, body) = firehose(
        api,
        "CreateDeliveryStream",
        &json!({
            "DeliveryStreamName": STREAM,
            "ExtendedS3DestinationConfiguration": {
                "RoleARN": "arn:aws:iam::000000000000:role/firehose",
                "BucketARN": format!("arn:aws:s3:::{BUCKET}"),
                "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 900}
            }
        }),
    )
    .expect("create");
    assert_eq!(status, 200, "{body}");
}

/// Shrinks the buffering hints to deliver at once.
fn deliver_now(api: &str) {
    let (status, d) = firehose(
        api,
        "DescribeDeliveryStream",
        &json!({"DeliveryStreamName": STREAM}),
    )
    .expect("describe");
    assert_eq!(status, 200, "{d}");
    let version = d["DeliveryStreamDescription"]["VersionId"]
        .as_str()
        .expect("version")
        .to_owned();
    let (status, body) = firehose(
        api,
        "UpdateDestination",
        &json!({
            "DeliveryStreamName": STREAM,
            "CurrentDeliveryStreamVersionId": version,
            "DestinationId": "destinationId-000000000001",
            "ExtendedS3DestinationUpdate": {"BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}}
        }),
    )
    .expect("update");
    assert_eq!(status, 200, "{body}");
}

/// Waits (up to a minute) until every acknowledged record is in some object; duplicates are
/// allowed (at least once), losses are not.
fn wait_for_every_acknowledged(bucket: &Path, acked: &HashSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = delivered(bucket);
        let seen: HashSet<&str> = got.iter().map(String::as_str).collect();
        let missing: Vec<&String> = acked
            .iter()
            .filter(|r| !seen.contains(r.as_str()))
            .collect();
        if missing.is_empty() {
            println!(
                "{KILLS} SIGKILLs: {} records acknowledged, {} delivered ({} duplicates)",
                acked.len(),
                got.len(),
                got.len() - seen.len()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} acknowledged records never arrived, e.g. {:?}",
            missing.len(),
            acked.len(),
            &missing[..missing.len().min(5)]
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
