//! PutRecordBatch throughput (500 records of 100 bytes per call) against Weir's Firehose and
//! moto's Firehose in the same run, with the same client:
//!
//!     cargo run --release -p weir-api --example firehose_bench
//!
//! Weir answers once the batch is synced to its buffer (fdatasync per call); moto keeps it in
//! memory. The ceiling of client and HTTP is measured against Weir with the same batch for a
//! stream that does not exist (read, decoded, refused, nothing written), so the figures show
//! the load generator is not what limits them. Needs `python3 -m moto.server` (`pip install
//! 'moto[server]'`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde_json::json;

const CONNECTIONS: usize = 4;
const RECORDS: usize = 500;
const RECORD_BYTES: usize = 100;
const RUN: Duration = Duration::from_secs(4);

/// One keep-alive HTTP/1.1 connection that POSTs JSON 1.1 requests.
struct Conn {
    stream: BufReader<TcpStream>,
    addr: String,
    /// The server said `Connection: close` (moto's server does after every answer).
    closed: bool,
}

impl Conn {
    fn open(addr: &str) -> Result<Conn> {
        let s = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            stream: BufReader::new(s),
            addr: addr.to_owned(),
            closed: false,
        })
    }

    /// Sends one request, returns (status, body).
    fn post(&mut self, target: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        if self.closed {
            *self = Conn::open(&self.addr)?;
        }
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.1\r\n\
             X-Amz-Target: {target}\r\nX-Amz-Date: 20260101T000000Z\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/firehose/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n\
             Content-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let s = self.stream.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let mut status_line = String::new();
        self.stream.read_line(&mut status_line)?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|x| x.parse().ok())
            .with_context(|| format!("bad status line {status_line:?}"))?;
        let mut len = 0usize;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().context("content-length")?;
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
            if lower.starts_with("connection:") && lower.contains("close") {
                self.closed = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                self.stream.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim(), 16).context("chunk size")?;
                let mut chunk = vec![0u8; n + 2];
                self.stream.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(len, 0);
            self.stream.read_exact(&mut body)?;
        }
        Ok((status, body))
    }
}

/// Calls per second of `target` over [`CONNECTIONS`] connections for [`RUN`].
fn drive(addr: &str, target: &str, body: &[u8], want: u16) -> Result<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for _ in 0..CONNECTIONS {
        let (stop, calls) = (stop.clone(), calls.clone());
        let (addr, target, body) = (addr.to_owned(), target.to_owned(), body.to_vec());
        threads.push(std::thread::spawn(move || -> Result<()> {
            let mut c = Conn::open(&addr)?;
            while !stop.load(Ordering::Relaxed) {
                let (status, answer) = c.post(&target, &body)?;
                if status != want {
                    bail!(
                        "{target}: HTTP {status}: {}",
                        String::from_utf8_lossy(&answer)
                    );
                }
                calls.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    let started = Instant::now();
    std::thread::sleep(RUN);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
    }
    Ok(calls.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto() -> Result<(Moto, String)> {
    let port = free_port()?;
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("python3 -m moto.server (pip install 'moto[server]')")?;
    let moto = Moto(child);
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&addr).is_err() {
        if Instant::now() > deadline {
            bail!("moto did not start on {addr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The bucket its delivery stream writes to.
    let mut s = TcpStream::connect(&addr)?;
    write!(
        s,
        "PUT /bench-bucket HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    if !answer.starts_with("HTTP/1.1 200") {
        bail!("moto CreateBucket: {answer}");
    }
    Ok((moto, addr))
}

fn create_stream(addr: &str) -> Result<()> {
    let body = json!({
        "DeliveryStreamName": "bench",
        "ExtendedS3DestinationConfiguration": {
            "RoleARN": "arn:aws:iam::000000000000:role/firehose",
            "BucketARN": "arn:aws:s3:::bench-bucket",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60}
        }
    });
    let (status, answer) = Conn::open(addr)?.post(
        "Firehose_20150804.CreateDeliveryStream",
        &serde_json::to_vec(&body)?,
    )?;
    if status != 200 {
        bail!(
            "CreateDeliveryStream on {addr}: HTTP {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    // Weir shows CREATING briefly.
    std::thread::sleep(Duration::from_millis(300));
    Ok(())
}

fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let streams =
        weir_streams::Streams::open(weir_streams::StreamsConfig::new(dir.path().join("streams")))?;
    let firehose = weir_firehose::Firehose::open(
        weir_firehose::FirehoseConfig::new(
            dir.path().join("firehose"),
            weir_firehose::Storage::Folder(dir.path().join("s3")),
        ),
        rt.handle().clone(),
    )?;
    let state =
        weir_api::ApiState::new(streams, weir_api::ApiConfig::default()).with_firehose(firehose);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let weir = listener.local_addr()?.to_string();
    rt.spawn(weir_api::serve(
        listener,
        weir_api::router(state),
        weir_api::ServerLimits::default(),
        std::future::pending(),
    ));
    let (_moto, moto) = start_moto()?;
    create_stream(&weir).context("CreateDeliveryStream on Weir")?;
    create_stream(&moto).context("CreateDeliveryStream on moto")?;

    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<_> = (0..RECORDS)
        .map(|i| json!({"Data": b64.encode(format!("{i:0>99}\n"))}))
        .collect();
    let batch = serde_json::to_vec(&json!({"DeliveryStreamName": "bench", "Records": records}))?;
    assert_eq!(format!("{:0>99}\n", 1).len(), RECORD_BYTES);

    // The same batch to a stream that does not exist: read, decoded and refused with
    // ResourceNotFoundException, no buffer write. What the client and HTTP reach at most.
    let unknown = serde_json::to_vec(&json!({"DeliveryStreamName": "nobody", "Records": records}))?;
    let ceiling = drive(&weir, "Firehose_20150804.PutRecordBatch", &unknown, 400)
        .context("the ceiling run")?;
    let weir_calls =
        drive(&weir, "Firehose_20150804.PutRecordBatch", &batch, 200).context("the Weir run")?;
    let moto_calls =
        drive(&moto, "Firehose_20150804.PutRecordBatch", &batch, 200).context("the moto run")?;
    let per = RECORDS as f64;
    println!(
        "PutRecordBatch, {RECORDS} x {RECORD_BYTES} B, {CONNECTIONS} connections, {} s each:",
        RUN.as_secs()
    );
    println!(
        "  ceiling (same batch, unknown stream, no write): {:>9.0} records/s",
        ceiling * per
    );
    println!(
        "  weir (synced buffer)                         : {:>9.0} records/s",
        weir_calls * per
    );
    println!(
        "  moto (in memory)                             : {:>9.0} records/s",
        moto_calls * per
    );
    println!(
        "  ratio weir / moto: {:.1}x (target: at least 10x)",
        weir_calls / moto_calls
    );
    Ok(())
}
