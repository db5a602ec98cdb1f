//! Replays the `api_request` fuzz corpus (`host/fuzz/corpus/api_request`) through
//! `handle_bytes` on stable, as CI has no nightly toolchain for cargo-fuzz: every input gets
//! an answer with a valid status, none panics, and the server's state stays usable.

use std::sync::Arc;

use weir_api::{handle_bytes, ApiConfig, ApiState};
use weir_streams::{MemBackend, Streams, StreamsConfig};

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00";

#[test]
fn fuzz_corpus_replay() {
    let mut c = StreamsConfig::new("/fuzz");
    c.transition_delay = std::time::Duration::ZERO;
    let streams = Streams::open_with_backend(c, Arc::new(MemBackend::new())).expect("streams");
    let state = ApiState::new(streams, ApiConfig::default());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/api_request");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus folder")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 30, "the corpus is there: {}", files.len());
    let mut answered = std::collections::BTreeMap::<u16, usize>::new();
    for f in &files {
        let data = std::fs::read(f).expect("read");
        let mut parts = data.splitn(4, |b| *b == b'\n');
        let mut header = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        let (ctype, target, auth) = (header(), header(), header());
        let body = parts.next().unwrap_or_default();
        let (status, out) = handle_bytes(&state, &ctype, &target, &auth, body);
        assert!(
            status == 200 || (400..600).contains(&status),
            "{}: status {status}",
            f.display()
        );
        assert!(!out.is_empty(), "{}: empty answer", f.display());
        *answered.entry(status).or_default() += 1;
    }
    // The corpus holds both valid requests and refusals.
    assert!(
        answered.get(&200).copied().unwrap_or(0) >= 10,
        "{answered:?}"
    );
    assert!(
        answered.get(&400).copied().unwrap_or(0) >= 5,
        "{answered:?}"
    );
    // And afterwards an ordinary request still works.
    let (status, _) = handle_bytes(
        &state,
        "application/x-amz-json-1.1",
        "Kinesis_20131202.ListStreams",
        AUTH,
        b"{}",
    );
    assert_eq!(status, 200);
}
