//! Hostile HTTP clients against `weir streams serve` with signature checking on: slow and idle
//! connections, oversized and stalled bodies, garbage, huge CreateStream requests, a bad
//! signature with an 8 MB body it never sends, bodies beyond the memory budget. Each is
//! refused the way the issue asks, and a correctly signed request is still served afterwards
//! (and while the attack is going on).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const KEY: &str = "AKIDHOSTILE";
const SECRET: &str = "hostile-secret";

/// POSTs a Kinesis request signed with SigV4 as a client signs it; (status, body).
fn signed(addr: &str, action: &str, body: &Value) -> (u16, Value) {
    let payload = serde_json::to_vec(body).expect("json");
    let date = weir_sigv4::format_amz_date(weir_support::now_ms() / 1000);
    let scope = format!("{}/us-east-1/kinesis/aws4_request", &date[..8]);
    let target = format!("Kinesis_20131202.{action}");
    let headers =
        format!("content-type:application/x-amz-json-1.1\nhost:{addr}\nx-amz-date:{date}\nx-amz-target:{target}\n");
    let signed_headers = "content-type;host;x-amz-date;x-amz-target";
    let sig = weir_sigv4::sign(
        &weir_sigv4::CanonicalRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            signed_headers,
            payload_hash: &weir_sigv4::sha256_hex(&payload),
        },
        &date,
        &scope,
        SECRET,
    );
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: {target}\r\nX-Amz-Date: {date}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential={KEY}/{scope}, SignedHeaders={signed_headers}, Signature={sig}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(&payload).expect("write");
    response(&mut s)
}

fn response(s: &mut TcpStream) -> (u16, Value) {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
    let status = String::from_utf8_lossy(&raw[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .expect("status");
    let body = serde_json::from_slice(&raw[split + 4..]).unwrap_or(Value::Null);
    (status, body)
}

/// Whether the server closes `s` within `within` (a read sees end of stream or a reset).
fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a 408 or 400 before the close is fine
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

fn start(dir: &std::path::Path) -> common::Server {
    common::Server::start(
        dir,
        &[
            "--verify-key",
            &format!("{KEY}:{SECRET}"),
            "--max-connections",
            "64",
            "--header-timeout-ms",
            "300",
            "--body-timeout-ms",
            "300",
            "--max-streams",
            "3",
            "--max-shards",
            "8",
            "--transition-ms",
            "0",
        ],
    )
}

#[test]
fn slow_and_idle_clients_do_not_keep_a_signed_request_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let addr = server.addr.clone();
    // 200 clients, three times the connection limit: each sends half a request head and
    // stalls (slowloris), or sends nothing at all.
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut s = TcpStream::connect(&addr).expect("connect");
            if i % 2 == 0 {
                let _ = s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kin");
            }
            s
        })
        .collect();
    let started = Instant::now();
    let (status, body) = signed(&addr, "ListStreams", &json!({}));
    assert_eq!(status, 200, "{body}");
    // Served once the header deadline freed connections: well within the read timeout.
    assert!(started.elapsed() < Duration::from_secs(15));
    // Every slow or idle client is disconnected by the server, not left holding a slot.
    for s in slow.iter_mut().take(20) {
        assert!(closed_by_server(s, Duration::from_secs(10)));
    }
    drop(slow);
}

#[test]
fn oversized_stalled_and_garbage_bodies_are_refused_and_the_host_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let addr = server.addr.clone();

    // A control action declaring 100 MB, signed: refused before a byte of it is read. (An
    // unsigned one is refused before that, for its missing signature.)
    let hash = weir_sigv4::sha256_hex(b"{}");
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(signed_head(&addr, "ListStreams", 100_000_000, &hash, SECRET, false).as_bytes())
        .expect("write");
    let (status, body) = response(&mut s);
    assert_eq!(status, 413, "{body}");
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("65536-byte limit of ListStreams")));

    // A body that stops arriving: 408 after the body deadline.
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(signed_head(&addr, "ListStreams", 10, &hash, SECRET, false).as_bytes())
        .expect("write");
    s.write_all(b"{\"").expect("write");
    assert_eq!(response(&mut s).0, 408);

    // Garbage instead of HTTP.
    let mut s = TcpStream::connect(&addr).expect("connect");
    let _ = s.write_all(&[0xff; 4096]);
    assert!(closed_by_server(&mut s, Duration::from_secs(10)));

    // Unsigned, and signed with a secret the server does not have.
    let (status, body) = common::call(&addr, "ListStreams", &json!({})).expect("call unsigned-ish");
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("UnrecognizedClientException"))
    );

    let (status, body) = signed(&addr, "ListStreams", &json!({}));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn huge_create_stream_requests_hit_the_host_caps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let addr = server.addr.clone();
    let (status, body) = signed(
        &addr,
        "CreateStream",
        &json!({"StreamName": "huge", "ShardCount": 10000}),
    );
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "LimitExceededException", "{body}");
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("Current limit on shards is 8")));
    // Shards add up across streams.
    for (name, shards) in [("a", 4), ("b", 4)] {
        let (status, body) = signed(
            &addr,
            "CreateStream",
            &json!({"StreamName": name, "ShardCount": shards}),
        );
        assert_eq!(status, 200, "{body}");
    }
    let (_, body) = signed(
        &addr,
        "CreateStream",
        &json!({"StreamName": "c", "ShardCount": 1}),
    );
    assert_eq!(body["__type"], "LimitExceededException", "{body}");
    let (_, body) = signed(
        &addr,
        "UpdateShardCount",
        &json!({"StreamName": "a", "TargetShardCount": 8, "ScalingType": "UNIFORM_SCALING"}),
    );
    assert_eq!(body["__type"], "LimitExceededException", "{body}");
    // And streams are capped on their own.
    let (status, _) = signed(
        &addr,
        "MergeShards",
        &json!({"StreamName": "a", "ShardToMerge": "shardId-000000000000", "AdjacentShardToMerge": "shardId-000000000001"}),
    );
    assert_eq!(status, 200);
    let (status, body) = signed(
        &addr,
        "CreateStream",
        &json!({"StreamName": "c", "ShardCount": 1}),
    );
    assert_eq!(status, 200, "{body}");
    let (_, body) = signed(
        &addr,
        "CreateStream",
        &json!({"StreamName": "d", "ShardCount": 1}),
    );
    assert_eq!(body["__type"], "LimitExceededException", "{body}");
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("Current limit on streams is 3")));
    let (status, body) = signed(&addr, "ListStreams", &json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["StreamNames"], json!(["a", "b", "c"]));
}

/// The head of a request for `action` signed with `secret`; with `claim`, the body's hash
/// is claimed in a signed `x-amz-content-sha256` (so the headers decide the signature).
fn signed_head(
    addr: &str,
    action: &str,
    len: usize,
    body_hash: &str,
    secret: &str,
    claim: bool,
) -> String {
    let date = weir_sigv4::format_amz_date(weir_support::now_ms() / 1000);
    let scope = format!("{}/us-east-1/kinesis/aws4_request", &date[..8]);
    let target = format!("Kinesis_20131202.{action}");
    let (claim_header, claim_line, signed_headers) = if claim {
        (
            format!("x-amz-content-sha256:{body_hash}\n"),
            format!("X-Amz-Content-Sha256: {body_hash}\r\n"),
            "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target",
        )
    } else {
        (
            String::new(),
            String::new(),
            "content-type;host;x-amz-date;x-amz-target",
        )
    };
    let headers = format!(
        "content-type:application/x-amz-json-1.1\nhost:{addr}\n{claim_header}x-amz-date:{date}\nx-amz-target:{target}\n"
    );
    let sig = weir_sigv4::sign(
        &weir_sigv4::CanonicalRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            signed_headers,
            payload_hash: body_hash,
        },
        &date,
        &scope,
        secret,
    );
    format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: {target}\r\nX-Amz-Date: {date}\r\n{claim_line}\
         Authorization: AWS4-HMAC-SHA256 Credential={KEY}/{scope}, SignedHeaders={signed_headers}, Signature={sig}\r\n\
         Content-Length: {len}\r\n\r\n"
    )
}

#[test]
fn headers_are_judged_before_the_body_and_bodies_share_one_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::Server::start(
        dir.path(),
        &[
            "--verify-key",
            &format!("{KEY}:{SECRET}"),
            "--body-budget-bytes",
            "16777216",
            "--body-timeout-ms",
            "20000",
        ],
    );
    let addr = server.addr.clone();
    let len = 8_000_000;
    let hash = weir_sigv4::sha256_hex(b"a body that is never sent");

    // A wrong signature over a claimed body hash: refused on the headers, nothing of the
    // 8 MB body sent.
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(signed_head(&addr, "PutRecords", len, &hash, "not-the-secret", true).as_bytes())
        .expect("write head");
    let (status, body) = response(&mut s);
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("InvalidSignatureException")),
        "{body}"
    );

    // Correctly signed requests pass the headers and take 8 MB each of the 16 MiB budget
    // while their bodies come; the third does not fit and gets 503 before its body.
    let mut holders = Vec::new();
    let mut refused = None;
    for _ in 0..4 {
        let mut s = TcpStream::connect(&addr).expect("connect");
        s.write_all(signed_head(&addr, "PutRecords", len, &hash, SECRET, false).as_bytes())
            .expect("write head");
        s.write_all(&[b' '; 1024]).expect("write part");
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let mut first = [0u8; 1];
        match s.peek(&mut first) {
            Ok(n) if n > 0 => {
                s.set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                refused = Some(response(&mut s));
                break;
            }
            _ => holders.push(s),
        }
    }
    let (status, body) = refused.expect("no 503 while the budget is full");
    assert_eq!(
        (status, body["__type"].as_str()),
        (503, Some("ServiceUnavailableException")),
        "{body}"
    );
    assert_eq!(holders.len(), 2);
    // A small signed request still fits.
    let (status, body) = signed(&addr, "ListStreams", &json!({}));
    assert_eq!(status, 200, "{body}");
    drop(holders);
}
