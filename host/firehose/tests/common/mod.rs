//! What the service's integration tests share: a service on a folder store under a temp
//! dir, an S3 delivery stream's request, and the objects in its bucket folder as they
//! appear. Each test file uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use weir_firehose::*;

/// How long a test waits for a delivery before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// An S3 destination `bkt` delivering at once (1 MiB, 0 s), uncompressed.
pub fn s3(prefix: Option<&str>, error_prefix: Option<&str>) -> S3Destination {
    S3Destination {
        role_arn: "arn:aws:iam::000000000000:role/firehose".into(),
        bucket_arn: "arn:aws:s3:::bkt".into(),
        prefix: prefix.map(str::to_owned),
        error_output_prefix: error_prefix.map(str::to_owned),
        buffering: Buffering {
            size_mib: 1,
            interval_s: 0,
        },
        compression: Compression::Uncompressed,
        file_extension: None,
    }
}

/// A DirectPut delivery stream `name` to the S3 destination `s3`, no stages.
pub fn request(name: &str, s3: S3Destination) -> CreateRequest {
    CreateRequest {
        name: name.into(),
        source: SourceKind::DirectPut,
        kinesis_stream_arn: None,
        destination: DeliveryDestination::ExtendedS3(s3),
        tags: BTreeMap::new(),
        encryption: None,
        processing: None,
        partitioning: None,
        conversion: None,
    }
}

/// A DirectPut delivery stream `name` partitioned by `query`, its data under `prefix` (which
/// uses the query's keys), its errors under `err/TYPE/`, failing objects retried for
/// `retry_s`.
pub fn partitioned(name: &str, prefix: &str, query: &str, retry_s: u32) -> CreateRequest {
    let mut req = request(
        name,
        s3(Some(prefix), Some("err/!{firehose:error-output-type}/")),
    );
    req.partitioning = Some(Partitioning {
        query: query.into(),
        keys: Vec::new(),
        retry_s,
    });
    req
}

/// The service under `dir/fh`, its buckets as folders under `dir/s3`, no transition delay.
pub fn config(dir: &Path) -> FirehoseConfig {
    let mut c = FirehoseConfig::new(dir.join("fh"), Storage::Folder(dir.join("s3")));
    c.transition_delay = Duration::ZERO;
    c
}

/// The folder of bucket `bkt`.
pub fn bucket(dir: &Path) -> PathBuf {
    dir.join("s3/bkt")
}

/// Every object under the bucket folder by its path there. The folder store writes
/// `.KEY.UUID.weir-tmp` and renames it to `KEY` when complete: a staging file is not an
/// object, and may be gone by the read.
pub fn objects(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = weir_testkit::files(&bucket(dir));
    out.retain(|key, _| !key.ends_with(".weir-tmp"));
    out
}

/// Polls the bucket until `done(objects)` holds; fails after [`WAIT`] listing every file.
pub fn wait_for(
    dir: &Path,
    what: &str,
    done: impl Fn(&BTreeMap<String, Vec<u8>>) -> bool,
) -> BTreeMap<String, Vec<u8>> {
    let deadline = Instant::now() + WAIT;
    loop {
        let o = objects(dir);
        if done(&o) {
            return o;
        }
        if Instant::now() >= deadline {
            let files = weir_testkit::file_paths(dir);
            panic!("{what}: objects {:?}; files {files:?}", o.keys());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The records stored under `prefix`, one per line (newline kept).
pub fn lines_under(o: &BTreeMap<String, Vec<u8>>, prefix: &str) -> Vec<Vec<u8>> {
    o.iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .flat_map(|(_, b)| b.split_inclusive(|c| *c == b'\n').map(<[u8]>::to_vec))
        .collect()
}

/// The error records under `prefix`, parsed.
pub fn error_lines(o: &BTreeMap<String, Vec<u8>>, prefix: &str) -> Vec<serde_json::Value> {
    lines_under(o, prefix)
        .iter()
        .map(|l| serde_json::from_slice(l).expect("an error record is JSON"))
        .collect()
}

/// An error record's `rawData`, decoded.
pub fn raw(e: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(e["rawData"].as_str().expect("rawData"))
        .expect("base64")
}
