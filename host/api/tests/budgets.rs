//! The API's budgets against hostile clients, on a real server on 127.0.0.1 (`serve` with
//! short deadlines): an HTTP/2 client that answers PINGs and sends nothing is closed when
//! idle; a SubscribeToShard client that stops reading is dropped at the write deadline and
//! frees its connection slot; a request its headers condemn is refused before its body is
//! sent; bodies beyond the shared memory budget get 503 while a small request passes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weir_api::{router, serve, ApiConfig, ApiState, FanOutTiming, ServerLimits};
use weir_streams::{Streams, StreamsConfig};

const KEY: &str = "AKIDBUDGET";
const SECRET: &str = "budget-secret";

struct Api {
    addr: SocketAddr,
    streams: Streams,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(config: ApiConfig, limits: ServerLimits) -> Api {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = StreamsConfig::new(dir.path());
    cfg.transition_delay = Duration::ZERO;
    let streams = Streams::open(cfg).expect("streams");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = router(ApiState::new(streams.clone(), config));
    tokio::spawn(serve(listener, app, limits, async move {
        let _ = stopped.await;
    }));
    Api {
        addr,
        streams,
        _dir: dir,
        _stop: stop,
    }
}

fn limits(header: u64, write: u64, max_connections: usize) -> ServerLimits {
    ServerLimits {
        max_connections,
        header_timeout: Duration::from_millis(header),
        write_timeout: Duration::from_millis(write),
        drain_timeout: Duration::from_millis(500),
    }
}

/// A well-formed signature header: enough for a server without keys.
fn any_signature() -> String {
    "AWS4-HMAC-SHA256 Credential=AKIDANY/20260101/us-east-1/kinesis/aws4_request, \
     SignedHeaders=host;x-amz-date, Signature=00"
        .to_owned()
}

fn amz_date() -> String {
    weir_sigv4::format_amz_date(weir_support::now_ms() / 1000)
}

/// The head of an HTTP/1.1 Kinesis request.
fn head(addr: SocketAddr, action: &str, auth: Option<&str>, len: u64, extra: &str) -> String {
    head_at(addr, &amz_date(), action, auth, len, extra)
}

/// [`head`] dated `date`.
fn head_at(
    addr: SocketAddr,
    date: &str,
    action: &str,
    auth: Option<&str>,
    len: u64,
    extra: &str,
) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: Kinesis_20131202.{action}\r\nX-Amz-Date: {date}\r\n{auth}{extra}\
         Content-Length: {len}\r\n\r\n"
    )
}

/// Reads one HTTP/1.1 response (head and `Content-Length` body) within `within`; None if
/// it did not come.
async fn read_response(s: &mut TcpStream, within: Duration) -> Option<(u16, Value)> {
    let read = async {
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
                let len: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if raw.len() >= split + 4 + len {
                    let status = text.split_whitespace().nth(1)?.parse().ok()?;
                    let body = serde_json::from_slice(&raw[split + 4..split + 4 + len])
                        .unwrap_or(Value::Null);
                    return Some((status, body));
                }
            }
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok().flatten()
}

/// One whole HTTP/1.1 request on a new connection.
async fn call(addr: SocketAddr, action: &str, body: &[u8]) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    let h = head(
        addr,
        action,
        Some(&any_signature()),
        body.len() as u64,
        "Connection: close\r\n",
    );
    s.write_all(h.as_bytes()).await.ok()?;
    s.write_all(body).await.ok()?;
    read_response(&mut s, Duration::from_secs(5)).await
}

/// An HTTP/2 connection whose driver runs in its own task (it answers PINGs); the task ends
/// when the server closes the connection.
async fn h2_connect(
    addr: SocketAddr,
    window: u32,
) -> (h2::client::SendRequest<Bytes>, tokio::task::JoinHandle<()>) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (send, conn) = h2::client::Builder::new()
        .initial_window_size(window)
        .handshake(tcp)
        .await
        .expect("h2 handshake");
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    (send, driver)
}

/// Starts an HTTP/2 Kinesis request; the body is sent with `end` as its end of stream.
async fn h2_request(
    send: &mut h2::client::SendRequest<Bytes>,
    action: &str,
    body: Bytes,
    content_length: Option<u64>,
    end: bool,
) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
    let mut req = axum::http::Request::builder()
        .method("POST")
        .uri("http://127.0.0.1/")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("Kinesis_20131202.{action}"))
        .header("x-amz-date", amz_date())
        .header("authorization", any_signature());
    if let Some(n) = content_length {
        req = req.header("content-length", n);
    }
    let req = req.body(()).expect("request");
    let ready = send.clone().ready().await.expect("h2 ready");
    *send = ready;
    let (resp, mut stream) = send.send_request(req, false).expect("send request");
    stream.send_data(body, end).expect("send body");
    (resp, stream)
}

/// Stream `s` (one shard) with consumer `c`: its ARN.
fn stream_with_consumer(streams: &Streams) -> String {
    streams
        .create_stream("s", 1, false, BTreeMap::new())
        .expect("create stream");
    streams
        .register_consumer("s", "c", BTreeMap::new())
        .expect("register consumer")
        .arn
}

fn subscribe_body(arn: &str) -> Bytes {
    Bytes::from(
        json!({
            "ConsumerARN": arn,
            "ShardId": "shardId-000000000000",
            "StartingPosition": {"Type": "LATEST"},
        })
        .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_h2_client_that_answers_pings_is_closed_at_the_idle_timeout() {
    // Keep-alive PINGs go out every 300 ms and are answered: only the idle deadline can end
    // this connection.
    let api = start(ApiConfig::default(), limits(300, 10_000, 16)).await;
    let (_send, driver) = h2_connect(api.addr, 65_535).await;
    let opened = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), driver)
        .await
        .expect("the server closes an idle HTTP/2 connection")
        .expect("driver");
    let held = opened.elapsed();
    assert!(
        held >= Duration::from_millis(250),
        "closed too early: {held:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_outlives_the_idle_timeout_and_ends_at_its_lifetime() {
    let config = ApiConfig {
        fan_out: FanOutTiming {
            lifetime: Duration::from_millis(1500),
            heartbeat: Duration::from_millis(100),
        },
        ..ApiConfig::default()
    };
    let api = start(config, limits(300, 10_000, 16)).await;
    let arn = stream_with_consumer(&api.streams);
    let (mut send, driver) = h2_connect(api.addr, 65_535).await;
    let started = Instant::now();
    let (resp, _stream) = h2_request(
        &mut send,
        "SubscribeToShard",
        subscribe_body(&arn),
        None,
        true,
    )
    .await;
    let resp = resp.await.expect("response");
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut bytes = 0usize;
    let read_all = async {
        while let Some(chunk) = body.data().await {
            let chunk = chunk.expect("event");
            bytes += chunk.len();
            let _ = body.flow_control().release_capacity(chunk.len());
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read_all)
        .await
        .expect("the subscription ends at its lifetime");
    let lasted = started.elapsed();
    // In flight for five idle timeouts, and events all along (a heartbeat every 100 ms).
    assert!(
        lasted >= Duration::from_millis(1400),
        "ended early: {lasted:?}"
    );
    assert!(bytes > 10 * 100, "{bytes} bytes of events");
    // Then the connection is idle and closed.
    drop(send);
    tokio::time::timeout(Duration::from_secs(5), driver)
        .await
        .expect("closed once idle")
        .expect("driver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_is_dropped_and_its_slot_freed() {
    let config = ApiConfig {
        fan_out: FanOutTiming {
            lifetime: Duration::from_secs(300),
            heartbeat: Duration::from_millis(20),
        },
        ..ApiConfig::default()
    };
    // One connection slot: the subscriber's. The idle deadline is far; the write one short.
    let api = start(config, limits(10_000, 300, 1)).await;
    let arn = stream_with_consumer(&api.streams);
    // A 1 KiB stream window that is never given back: a few heartbeats fill it.
    let (mut send, driver) = h2_connect(api.addr, 1024).await;
    let (resp, _stream) = h2_request(
        &mut send,
        "SubscribeToShard",
        subscribe_body(&arn),
        None,
        true,
    )
    .await;
    let resp = resp.await.expect("response");
    assert_eq!(resp.status(), 200);
    let _unread = resp.into_body();
    let stalled = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), driver)
        .await
        .expect("the server drops a subscriber that stopped reading")
        .expect("driver");
    assert!(stalled.elapsed() >= Duration::from_millis(250));
    // The only slot is free again.
    let (status, body) = call(api.addr, "ListStreams", b"{}").await.expect("served");
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http1_subscriber_that_stops_reading_is_dropped_too() {
    let api = start(ApiConfig::default(), limits(10_000, 300, 1)).await;
    let arn = stream_with_consumer(&api.streams);
    // 8 MB of records: more than the loopback socket buffers on both sides can hold.
    let entries: Vec<weir_streams::PutEntry> = (0..8)
        .map(|i| weir_streams::PutEntry {
            partition_key: format!("k{i}"),
            explicit_hash_key: None,
            data: vec![b'x'; 1 << 20],
        })
        .collect();
    api.streams.put_records("s", &entries).expect("put");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let mut s = socket.connect(api.addr).await.expect("connect");
    let body = json!({
        "ConsumerARN": arn,
        "ShardId": "shardId-000000000000",
        "StartingPosition": {"Type": "TRIM_HORIZON"},
    })
    .to_string();
    let h = head(
        api.addr,
        "SubscribeToShard",
        Some(&any_signature()),
        body.len() as u64,
        "",
    );
    s.write_all(h.as_bytes()).await.expect("write head");
    s.write_all(body.as_bytes()).await.expect("write body");
    // The subscription is served: a status line, then events...
    let mut status = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut status))
        .await
        .expect("an answer")
        .expect("read");
    assert_eq!(&status, b"HTTP/1.1 200");
    // ...that are never read: the server's writes stall, and the only slot must come free.
    let stalled = Instant::now();
    let deadline = stalled + Duration::from_secs(8);
    loop {
        if let Some((status, body)) = call(api.addr, "ListStreams", b"{}").await {
            assert_eq!(status, 200, "{body}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stalled subscriber kept the only slot"
        );
    }
    assert!(stalled.elapsed() >= Duration::from_millis(250));
    drop(s);
}

/// A SigV4 header signed with `secret` over `claimed` as the payload hash.
fn signature_header(addr: SocketAddr, date: &str, claimed: &str, secret: &str) -> String {
    let scope = format!("{}/us-east-1/kinesis/aws4_request", &date[..8]);
    let headers = format!(
        "content-type:application/x-amz-json-1.1\nhost:{addr}\nx-amz-content-sha256:{claimed}\n\
         x-amz-date:{date}\nx-amz-target:Kinesis_20131202.PutRecords\n"
    );
    let signed_headers = "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target";
    let sig = weir_sigv4::sign(
        &weir_sigv4::CanonicalRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            signed_headers,
            payload_hash: claimed,
        },
        date,
        &scope,
        secret,
    );
    format!(
        "AWS4-HMAC-SHA256 Credential={KEY}/{scope}, SignedHeaders={signed_headers}, Signature={sig}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_its_headers_condemn_is_refused_before_its_body() {
    let config = ApiConfig {
        keys: [(KEY.to_owned(), SECRET.to_owned())].into(),
        ..ApiConfig::default()
    };
    let api = start(config, limits(10_000, 10_000, 16)).await;
    let claimed = weir_sigv4::sha256_hex(b"an 8 MB body that never comes");
    let cases: [(Option<String>, u64, &str); 3] = [
        // Signed with the wrong secret, over a claimed body hash.
        (
            Some(signature_header(
                api.addr,
                &amz_date(),
                &claimed,
                "not-the-secret",
            )),
            8_000_000,
            "InvalidSignatureException",
        ),
        // Unsigned.
        (None, 8_000_000, "MissingAuthenticationTokenException"),
        // An unknown key, announcing a terabyte.
        (
            Some(any_signature()),
            1_000_000_000_000,
            "UnrecognizedClientException",
        ),
    ];
    for (auth, len, want) in cases {
        let mut s = TcpStream::connect(api.addr).await.expect("connect");
        let extra = format!("x-amz-content-sha256: {claimed}\r\n");
        let h = head(api.addr, "PutRecords", auth.as_deref(), len, &extra);
        s.write_all(h.as_bytes()).await.expect("write head");
        // Nothing of the body is sent: the answer must come without it.
        let (status, body) = read_response(&mut s, Duration::from_secs(3))
            .await
            .unwrap_or_else(|| panic!("no answer before the body for {want}"));
        assert_eq!(
            (status, body["__type"].as_str()),
            (400, Some(want)),
            "{body}"
        );
    }
    // The right secret over the same claim passes the headers: the server then waits for
    // the body, and refuses one that does not hash to the claim.
    let mut s = TcpStream::connect(api.addr).await.expect("connect");
    let date = amz_date();
    let auth = signature_header(api.addr, &date, &claimed, SECRET);
    let extra = format!("x-amz-content-sha256: {claimed}\r\n");
    let h = head_at(api.addr, &date, "PutRecords", Some(&auth), 2, &extra);
    s.write_all(h.as_bytes()).await.expect("write head");
    assert!(read_response(&mut s, Duration::from_millis(300))
        .await
        .is_none());
    s.write_all(b"{}").await.expect("write body");
    let (status, body) = read_response(&mut s, Duration::from_secs(3))
        .await
        .expect("answer");
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("InvalidSignatureException")),
        "{body}"
    );
}

/// A PutRecords body of about `n` bytes.
fn put_records(n: usize) -> Vec<u8> {
    let data = "A".repeat(n / 4 * 4);
    json!({"StreamName": "s", "Records": [{"Data": data, "PartitionKey": "k"}]})
        .to_string()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_beyond_the_budget_get_503_while_a_small_request_passes() {
    let config = ApiConfig {
        body_budget_bytes: 3 << 20,
        body_timeout: Duration::from_secs(20),
        ..ApiConfig::default()
    };
    let api = start(config, limits(10_000, 10_000, 16)).await;
    api.streams
        .create_stream("s", 1, false, BTreeMap::new())
        .expect("create stream");
    let big = put_records(1_250_000);
    let len = big.len() as u64;
    // Big bodies declared and begun, never finished, taking turns between streams of one
    // HTTP/2 connection and HTTP/1.1 connections: two fit in the 3 MiB (2.5 MB), the next
    // must get 503 at once, before its body.
    let (mut send, _driver) = h2_connect(api.addr, 65_535).await;
    let part = Bytes::copy_from_slice(&big[..32 * 1024]);
    let mut h2_holders = Vec::new();
    let mut h1_holders = Vec::new();
    let mut refused = None;
    for i in 0..8 {
        let wait = Duration::from_millis(300);
        if i % 2 == 0 {
            let (mut resp, stream) =
                h2_request(&mut send, "PutRecords", part.clone(), Some(len), false).await;
            match tokio::time::timeout(wait, &mut resp).await {
                Ok(r) => {
                    let r = r.expect("response");
                    refused = Some(r.status().as_u16());
                    break;
                }
                Err(_) => h2_holders.push((resp, stream)),
            }
        } else {
            let mut s = TcpStream::connect(api.addr).await.expect("connect");
            let h = head(api.addr, "PutRecords", Some(&any_signature()), len, "");
            s.write_all(h.as_bytes()).await.expect("write head");
            s.write_all(&part).await.expect("write part");
            match read_response(&mut s, wait).await {
                Some((status, body)) => {
                    assert_eq!(body["__type"], "ServiceUnavailableException", "{body}");
                    refused = Some(status);
                    break;
                }
                None => h1_holders.push(s),
            }
        }
    }
    assert_eq!(refused, Some(503), "no 503 while the budget is full");
    assert_eq!(h2_holders.len() + h1_holders.len(), 2);
    // A small request fits in what is left.
    let (status, body) = call(api.addr, "ListStreams", b"{}").await.expect("served");
    assert_eq!(status, 200, "{body}");
    // The holders give up: their share comes back, and a big body is served again.
    drop((h2_holders, h1_holders, send));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Until the server has noticed the holders are gone it still refuses at once, before
        // the body, and closes: the client's write of the rest then fails (a reset), so no
        // answer is read. Both mean "not yet".
        match call(api.addr, "PutRecords", &big).await {
            Some((200, body)) => {
                assert_eq!(body["FailedRecordCount"], 0, "{body}");
                break;
            }
            Some((status, body)) => assert_eq!(status, 503, "{body}"),
            None => {}
        }
        assert!(Instant::now() < deadline, "the budget never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
