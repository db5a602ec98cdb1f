//! Processes for tests of `weir run` behind an external broker: a mosquitto on a free port,
//! `weir run` hosts started from a file and stopped or killed, and QoS 1 publishers that
//! count the broker's PUBACKs. Shared by `run_external.rs` and `cluster_hosts.rs`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use weir_testkit::free_port;

/// Whether mosquitto can be used; `false` (skip) only outside CI.
pub fn mosquitto_available(test: &str) -> bool {
    let found = ["mosquitto", "mosquitto_pub", "mosquitto_rr"]
        .iter()
        .all(|bin| {
            Command::new(bin)
                .arg("--help")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        });
    if found {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{test}: mosquitto / mosquitto_pub not on PATH, and CI is set: CI must install them"
        );
    }
    eprintln!(
        "SKIPPED {test}: mosquitto / mosquitto_pub not on PATH (install mosquitto 2.x to run it)"
    );
    false
}

/// The last `max` bytes of a log file, for failure messages.
pub fn tail(path: &Path, max: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let start = text.len().saturating_sub(max);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    format!("--- {} ---\n{}", path.display(), &text[start..])
}

/// A mosquitto broker on a free port, killed when dropped.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Mosquitto {
    pub fn start(dir: &Path) -> Mosquitto {
        let port = free_port();
        let conf = dir.join("mosquitto.conf");
        // mosquitto started as root drops to its own user and could not open a log file of
        // ours: it logs to stderr, which goes to the file opened here.
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_inflight_messages 100\nmax_queued_messages 100000\n\
                 log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n\
                 log_type information\nlog_type subscribe\n"
            ),
        )
        .expect("write mosquitto.conf");
        let log = dir.join("mosquitto.log");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create mosquitto.log"))
            .spawn()
            .expect("spawn mosquitto");
        let mut broker = Mosquitto { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!("mosquitto exited ({status})\n{}", tail(&broker.log, 4000));
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto does not listen on {port} after 10 s\n{}",
                tail(&broker.log, 4000)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        broker
    }

    /// Waits until mosquitto logged that `client_id` subscribed to the shared filter (the log
    /// line is written once the subscription is in place).
    pub fn wait_subscribed(&self, client_id: &str, group: &str, filter: &str) {
        self.wait_subscribed_plain(client_id, &format!("$share/{group}/{filter}"));
    }

    /// Waits until mosquitto logged that `client_id` subscribed to `filter` (not shared).
    #[allow(dead_code)]
    pub fn wait_subscribed_plain(&self, client_id: &str, filter: &str) {
        let line = format!("{client_id} 1 {filter}");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.lines().any(|l| l.ends_with(&line)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{client_id} has not subscribed after 15 s\n{}",
                tail(&self.log, 4000)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `weir run --config FILE`. Dropping it SIGKILLs the process if it still runs.
pub struct WeirProcess {
    pub name: String,
    pub child: Child,
    /// The API's `host:port`.
    pub api: String,
    /// Its stdout, line by line.
    pub lines: Receiver<String>,
    pub stderr: PathBuf,
}

impl WeirProcess {
    /// Starts the host and returns once it printed its `ready:` line.
    pub fn start(name: &str, config: &Path) -> WeirProcess {
        let stderr = config.with_file_name(format!("{name}.stderr.log"));
        let err_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr)
            .expect("open stderr log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err_file)
            .spawn()
            .expect("spawn weir run");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut weir = WeirProcess {
            name: name.to_owned(),
            child,
            api: String::new(),
            lines,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match weir.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("ready:") {
                        let api = rest
                            .rsplit_once("api http://")
                            .map(|(_, a)| a.trim().to_owned())
                            .unwrap_or_else(|| panic!("{name}: no API address in {line:?}"));
                        weir.api = api;
                        return weir;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{name}: no `ready:` line after 30 s\n{}", weir.logs())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = weir.child.wait().ok();
                    panic!(
                        "{name}: exited ({status:?}) before `ready:`\n{}",
                        weir.logs()
                    )
                }
            }
        }
    }

    pub fn logs(&self) -> String {
        tail(&self.stderr, 6000)
    }

    /// The lines of `GET /metrics` that contain `needle`, for failure messages.
    pub fn metrics_with(&self, needle: &str) -> String {
        use std::io::Write as _;
        let Ok(mut s) = TcpStream::connect(&self.api) else {
            return format!("{}: no API", self.name);
        };
        let _ = write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body.lines()
            .filter(|l| l.contains(needle))
            .map(|l| format!("{}: {l}\n", self.name))
            .collect()
    }

    /// A counter's value from `GET /metrics` (0 when absent).
    pub fn metric(&self, series: &str) -> u64 {
        use std::io::Write as _;
        let mut s = TcpStream::connect(&self.api).expect("api");
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut body = String::new();
        s.read_to_string(&mut body).expect("read");
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0)
    }

    /// SIGTERMs the host and waits (bounded) for it to exit; it must print `stopped`.
    pub fn stop(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "{}: kill -TERM {pid} failed", self.name);
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: still running 30 s after SIGTERM\n{}",
                self.name,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stopped = false;
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            stopped |= line.trim() == "stopped";
        }
        assert!(
            stopped,
            "{}: no `stopped` line ({status})\n{}",
            self.name,
            self.logs()
        );
        status
    }
}

impl Drop for WeirProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes `{"id": i}` for every id, QoS 1, to `load/<i % 10>/data` with a rumqttc
/// (MQTT 3.1.1) client; returns once the broker acknowledged all of them.
pub fn publish_ids(port: u16, client_id: &str, ids: std::ops::Range<u64>) {
    publish_padded(port, client_id, ids, 0)
}

/// [`publish_ids`] with a `pad` field of `pad` bytes in every message.
pub fn publish_padded(port: u16, client_id: &str, ids: std::ops::Range<u64>, pad: usize) {
    publish_on(port, client_id, ids, pad, |i| {
        format!("load/{}/data", i % 10)
    })
}

/// [`publish_ids`] to `topic`, every message.
pub fn publish_ids_to(port: u16, client_id: &str, ids: std::ops::Range<u64>, topic: &str) {
    publish_on(port, client_id, ids, 0, |_| topic.to_owned())
}

fn publish_on(
    port: u16,
    client_id: &str,
    ids: std::ops::Range<u64>,
    pad: usize,
    topic: impl Fn(u64) -> String,
) {
    use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};
    let padding = "x".repeat(pad);
    let expected = ids.end - ids.start;
    let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut connection) = Client::new(opts, 256);
    let (tx, acks) = channel::<Result<(), String>>();
    let driver = std::thread::spawn(move || {
        for event in connection.iter() {
            let report = match event {
                Ok(Event::Incoming(Packet::PubAck(_))) => Ok(()),
                Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
                Ok(_) => continue,
                Err(e) => Err(e.to_string()),
            };
            let fatal = report.is_err();
            if tx.send(report).is_err() || fatal {
                return;
            }
        }
    });
    for i in ids {
        client
            .publish(
                topic(i),
                QoS::AtLeastOnce,
                false,
                if pad == 0 {
                    serde_json::json!({ "id": i }).to_string()
                } else {
                    serde_json::json!({ "id": i, "pad": padding }).to_string()
                },
            )
            .expect("queue a publish");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for n in 0..expected {
        let left = deadline.saturating_duration_since(Instant::now());
        match acks.recv_timeout(left) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("publisher {client_id}: connection error after {n} PUBACKs: {e}"),
            Err(_) => panic!("publisher {client_id}: {n} of {expected} PUBACKs after 30 s"),
        }
    }
    client.disconnect().expect("disconnect");
    let _ = driver.join();
}

/// Publishes `{"id": ID}` to `load/pub/data` with `mosquitto_pub -q 1`.
pub fn mosquitto_pub(port: u16, id: u64) {
    let out = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args(["-t", "load/pub/data", "-m", &format!("{{\"id\": {id}}}")])
        .output()
        .expect("run mosquitto_pub");
    assert!(
        out.status.success(),
        "mosquitto_pub: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sorted ids as ranges, `3-7, 9`, for failure messages.
pub fn ranges(ids: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

/// `mosquitto_rr`: publishes `payload` to `topic` at QoS 1 once subscribed to `answer`, and
/// answers the first document published there (within 60 s).
#[allow(dead_code)]
pub fn mosquitto_rr(port: u16, topic: &str, answer: &str, payload: &str) -> serde_json::Value {
    let out = Command::new("mosquitto_rr")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-W",
            "60",
        ])
        .args(["-t", topic, "-e", answer, "-m", payload])
        .output()
        .expect("run mosquitto_rr");
    assert!(out.status.success(), "mosquitto_rr {topic}: {out:?}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the answer on {answer}: {e}: {out:?}"))
}
