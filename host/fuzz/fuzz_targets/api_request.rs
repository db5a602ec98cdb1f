//! Fuzzes the Kinesis API's request decoding: the `Content-Type`, `X-Amz-Target` and
//! `Authorization` header values and the JSON or CBOR body, through signature parsing,
//! decoding, validation and the action, against in-memory streams.
//!
//! Input: three header lines (`\n`-terminated), then the body. Run with
//! `cargo +nightly fuzz run api_request` in `host/fuzz`; the corpus is replayed on stable by
//! `weir-api`'s test `fuzz_corpus_replay`.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use weir_api::{handle_bytes, ApiConfig, ApiState};
use weir_streams::{MemBackend, Streams, StreamsConfig};

fn state() -> &'static ApiState {
    static STATE: OnceLock<ApiState> = OnceLock::new();
    STATE.get_or_init(|| {
        let mut c = StreamsConfig::new("/fuzz");
        c.transition_delay = std::time::Duration::ZERO;
        let streams =
            Streams::open_with_backend(c, Arc::new(MemBackend::new())).expect("in-memory streams");
        ApiState::new(streams, ApiConfig::default())
    })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let mut header = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (ctype, target, auth) = (header(), header(), header());
    let body = parts.next().unwrap_or_default();
    let (status, out) = handle_bytes(state(), &ctype, &target, &auth, body);
    assert!(status == 200 || (400..600).contains(&status));
    assert!(!out.is_empty());
});
