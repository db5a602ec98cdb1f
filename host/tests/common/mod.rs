//! Shared helpers for integration tests: the repository and its built plugin components; start
//! the server binary on a free port and talk to it with a tiny blocking HTTP/1.1 client (no
//! extra dependencies).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use weir_streams::{StartPosition, Streams, StreamsConfig};

pub mod http_server;
pub mod moto;
pub mod mqtt_hosts;
pub mod python;
pub mod small_config;

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    weir_testkit::free_port()
}

/// Where `cargo xtask plugins` put the components (`WEIR_PLUGIN_DIR` overrides).
pub fn plugin_dir() -> PathBuf {
    weir_testkit::plugin_dir()
}

/// The repository root.
pub fn repo() -> PathBuf {
    weir_testkit::repo_root()
}

/// A built component; fails with the command to build it rather than letting a test skip.
pub fn component(name: &str) -> PathBuf {
    weir_testkit::plugin_path(name)
}

/// A running `weir streams serve`.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Server {
    /// Starts the server and returns once it printed `listening on ADDR`.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["streams", "serve", "--listen", "127.0.0.1:0", "--dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn weir streams serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let addr = loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(n) if n > 0 => {
                    if let Some(a) = line.trim().strip_prefix("listening on ") {
                        break Some(a.to_owned());
                    }
                }
                _ => break None,
            }
        };
        let mut server = Server {
            child,
            addr: addr.clone().unwrap_or_default(),
        };
        if addr.is_none() {
            server.kill();
            panic!("server exited before listening");
        }
        server
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL on unix
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// POSTs a Kinesis JSON request; returns (status, parsed body). Errors (connection reset
/// by a killed server) come back as `Err`.
pub fn call(
    addr: &str,
    action: &str,
    body: &serde_json::Value,
) -> std::io::Result<(u16, serde_json::Value)> {
    call_target(addr, &format!("Kinesis_20131202.{action}"), body)
}

/// POSTs a JSON 1.1 request to any target (`Firehose_20150804.PutRecordBatch`, ...).
pub fn call_target(
    addr: &str,
    target: &str,
    body: &serde_json::Value,
) -> std::io::Result<(u16, serde_json::Value)> {
    let payload = serde_json::to_vec(body).expect("json");
    let mut s = TcpStream::connect(addr)?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: {target}\r\nX-Amz-Date: 20260101T000000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(&payload)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("truncated response"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let body = &raw[split + 4..];
    let v = serde_json::from_slice(body)
        .map_err(|e| std::io::Error::other(format!("bad body: {e}")))?;
    Ok((status, v))
}

// ---------------------------------------------------------------------------------------
// `weir run` over MQTT.

/// A `weir run` child; killed on drop if the test did not stop it.
pub struct Weir {
    pub child: Child,
    pub api: String,
    /// The embedded broker's MQTT 3.1.1 port, as bound (configure port 0: see `base_config`).
    pub mqtt: u16,
    /// The MQTT 5 port, when `listen_v5` is configured.
    pub mqtt5: Option<u16>,
    pub stdout: mpsc::Receiver<String>,
}

/// The ports of the `mqtt://HOST:PORT` addresses a `ready` line names, in order.
pub fn ready_mqtt_ports(ready: &str) -> Vec<u16> {
    ready
        .split("mqtt://")
        .skip(1)
        .filter_map(|rest| {
            let addr = rest.split([' ', ',']).next()?;
            addr.rsplit_once(':')?.1.parse().ok()
        })
        .collect()
}

impl Weir {
    pub fn start(config: &Path) -> Weir {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["run", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn weir run");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let ready = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("weir run printed nothing");
        let api = ready
            .rsplit_once("api http://")
            .map(|(_, a)| a.trim().to_owned())
            .unwrap_or_else(|| panic!("unexpected first line: {ready}"));
        let ports = ready_mqtt_ports(&ready);
        Weir {
            child,
            api,
            mqtt: ports.first().copied().unwrap_or(0),
            mqtt5: ports.get(1).copied(),
            stdout: rx,
        }
    }

    /// Rewrites `config` so the embedded broker listens on the ports this run was given
    /// (`listen = "127.0.0.1:0"` as [`base_config`] writes it, and `listen_v5` likewise):
    /// for tests that stop the host and start it again while their clients keep the port.
    pub fn pin_mqtt_ports(&self, config: &Path) {
        let text = std::fs::read_to_string(config).expect("read config");
        let mut pinned = text.replacen(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{}\"", self.mqtt),
            1,
        );
        if let Some(v5) = self.mqtt5 {
            pinned = pinned.replacen(
                "listen_v5 = \"127.0.0.1:0\"",
                &format!("listen_v5 = \"127.0.0.1:{v5}\""),
                1,
            );
        }
        assert_ne!(
            pinned,
            text,
            "no port-0 broker listener in {}",
            config.display()
        );
        let dir = config.parent().expect("config folder");
        let tmp = dir.join(".pinned.toml.tmp");
        std::fs::write(&tmp, pinned).expect("write config");
        std::fs::rename(&tmp, config).expect("rename config");
    }

    pub fn get(&self, path: &str) -> String {
        let mut s = TcpStream::connect(&self.api).expect("connect api");
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut body = String::new();
        s.read_to_string(&mut body).expect("read");
        body
    }

    /// A counter's value from GET /metrics (0 when absent).
    pub fn metric(&self, series: &str) -> u64 {
        self.get("/metrics")
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn wait_metric(&self, series: &str, want: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.metric(series);
            if got >= want {
                assert_eq!(got, want, "{series}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{series}: {got}, want {want}\n{}",
                self.get("/metrics")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status and the rest of stdout.
    pub fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let status = self.child.wait().expect("wait");
        let rest: Vec<String> = self.stdout.try_iter().collect();
        (status, rest)
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes with rumqttc (MQTT 3.1.1, QoS 1) and returns once every PUBACK came back.
pub fn publish_all(port: u16, messages: &[(String, Vec<u8>)]) {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new("e2e-publisher", "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(10));
    // Every publish is queued before the event loop runs: the queue must hold them all.
    let (client, mut conn) = Client::new(opts, messages.len() + 16);
    for (topic, payload) in messages {
        client
            .publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone())
            .expect("queue publish");
    }
    let mut acked = 0;
    for ev in conn.iter() {
        match ev {
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                acked += 1;
                if acked == messages.len() {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => panic!("publisher: {e}"),
        }
    }
    let _ = client.disconnect();
}

pub fn read_stream(dir: &Path, name: &str) -> Vec<(String, Value)> {
    let streams = Streams::open(StreamsConfig::new(dir)).expect("open streams");
    let info = streams.describe_stream(name).expect("stream");
    let mut out = Vec::new();
    for shard in info.shards {
        let mut it = streams
            .get_shard_iterator(name, &shard.shard_id, &StartPosition::TrimHorizon)
            .expect("iterator");
        loop {
            let got = streams.get_records(&it, 1000).expect("records");
            if got.records.is_empty() {
                break;
            }
            for r in got.records {
                let v = serde_json::from_slice(&r.data).unwrap_or(Value::Null);
                out.push((r.partition_key, v));
            }
            match got.next_iterator {
                Some(n) => it = n,
                None => break,
            }
        }
    }
    out
}

/// The `[broker]`, `[api]` and `[storage]` tables of a `weir run` test configuration: the
/// embedded broker and the API on ports the system gives (read them from [`Weir::mqtt`] and
/// [`Weir::api`]: a port picked before the start could be taken meanwhile by another test),
/// data under `data/` next to the file, and `storage_extra` (lines) in `[storage]`.
pub fn base_config(storage_extra: &str) -> String {
    format!(
        "[broker]\nlisten = \"127.0.0.1:0\"\n\n[api]\nlisten = \"127.0.0.1:0\"\n\n\
         [storage]\ndir = \"data\"\n{storage_extra}"
    )
}

/// Writes `text` as `dir/weir.toml` and returns its path. Write and rename, as editors do,
/// so a running host watching the file never reads half of it.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("weir.toml");
    let tmp = dir.join("weir.toml.tmp");
    std::fs::write(&tmp, text).expect("write config");
    std::fs::rename(&tmp, &path).expect("rename config");
    path
}

/// Every file under `root`, by path relative to it.
pub use weir_testkit::files;

/// The `id` of every JSON line archived under `root` (error objects under `errors/` aside),
/// sorted.
pub fn archived_ids(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = files(root)
        .into_iter()
        .filter(|(name, _)| !name.starts_with("errors/"))
        .flat_map(|(_, bytes)| {
            String::from_utf8(bytes)
                .expect("utf8")
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).expect("json line");
                    v["id"].as_str().expect("id").to_owned()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}
