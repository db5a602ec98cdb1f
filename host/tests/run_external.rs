//! `weir run` as a client of an external MQTT 5 broker (mosquitto): two hosts in one shared
//! subscription group split the traffic and together process every message exactly once, and
//! the persistent session keeps what was published while the only host was down.
//!
//! Needs `mosquitto` and `mosquitto_pub` on PATH. Without them the tests are skipped, unless
//! the `CI` environment variable is set: then a missing mosquitto is a failure.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use base64::Engine as _;

const SHARE_GROUP: &str = "weir-test";
const FILTER: &str = "load/+/data";

/// Whether mosquitto can be used; `false` (skip) only outside CI.
fn mosquitto_available(test: &str) -> bool {
    let found = ["mosquitto", "mosquitto_pub"].iter().all(|bin| {
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

use weir_testkit::free_port;

/// The last `max` bytes of a log file, for failure messages.
fn tail(path: &Path, max: usize) -> String {
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
struct Mosquitto {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Mosquitto {
    fn start(dir: &Path) -> Mosquitto {
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
    fn wait_subscribed(&self, client_id: &str) {
        let line = format!("{client_id} 1 $share/{SHARE_GROUP}/{FILTER}");
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

/// Writes the configuration of one Weir host into `dir` (its storage is `dir/data`).
fn write_config(dir: &Path, broker_port: u16, client_id: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("host dir");
    let config = dir.join("weir.toml");
    std::fs::write(
        &config,
        format!(
            r#"[broker.external]
url = "mqtt://127.0.0.1:{broker_port}"
client_id = "{client_id}"
share_group = "{SHARE_GROUP}"

[api]
listen = "127.0.0.1:0"

[storage]
dir = "data"

[streams.out]
shards = 1

[rules.load]
sql = "SELECT * FROM '{FILTER}'"

[[rules.load.actions]]
kind = "kinesis"
stream = "out"
partition_key = "${{topic(2)}}"
buffer = {{ max_records = 50, max_age_ms = 10 }}
"#
        ),
    )
    .expect("write weir.toml");
    config
}

/// A running `weir run --config FILE`. Dropping it SIGKILLs the process if it still runs.
struct Weir {
    name: String,
    child: Child,
    api: String,
    lines: Receiver<String>,
    stderr: PathBuf,
    /// Where its stream has been read up to, and the ids read so far (in order).
    iterator: Option<String>,
    ids: Vec<u64>,
}

impl Weir {
    /// Starts the host and returns once it printed its `ready:` line.
    fn start(name: &str, config: &Path) -> Weir {
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
        let mut weir = Weir {
            name: name.to_owned(),
            child,
            api: String::new(),
            lines,
            stderr,
            iterator: None,
            ids: Vec::new(),
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

    fn logs(&self) -> String {
        tail(&self.stderr, 6000)
    }

    /// A counter's value from `GET /metrics` (0 when absent).
    fn metric(&self, series: &str) -> u64 {
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

    /// Reads the records its stream `out` got since the last call; returns how many.
    fn read_new(&mut self) -> usize {
        let it = match self.iterator.take() {
            Some(it) => it,
            None => {
                let (status, shards) = common::call(
                    &self.api,
                    "ListShards",
                    &serde_json::json!({"StreamName": "out"}),
                )
                .expect("ListShards");
                assert_eq!(status, 200, "{}: ListShards: {shards}", self.name);
                let shard = shards["Shards"][0]["ShardId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: no shard in {shards}", self.name))
                    .to_owned();
                let (status, body) = common::call(
                    &self.api,
                    "GetShardIterator",
                    &serde_json::json!({
                        "StreamName": "out",
                        "ShardId": shard,
                        "ShardIteratorType": "TRIM_HORIZON",
                    }),
                )
                .expect("GetShardIterator");
                assert_eq!(status, 200, "{}: GetShardIterator: {body}", self.name);
                body["ShardIterator"]
                    .as_str()
                    .expect("ShardIterator")
                    .to_owned()
            }
        };
        let mut it = it;
        let mut got = 0;
        loop {
            let (status, body) = common::call(
                &self.api,
                "GetRecords",
                &serde_json::json!({"ShardIterator": it, "Limit": 10000}),
            )
            .expect("GetRecords");
            assert_eq!(status, 200, "{}: GetRecords: {body}", self.name);
            let records = body["Records"].as_array().cloned().unwrap_or_default();
            for r in &records {
                let data = base64::engine::general_purpose::STANDARD
                    .decode(r["Data"].as_str().expect("Data"))
                    .expect("Data is base64");
                let v: serde_json::Value = serde_json::from_slice(&data).unwrap_or_else(|e| {
                    panic!("{}: record is not JSON ({e}): {data:?}", self.name)
                });
                let id = v["id"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{}: record without an id: {v}", self.name));
                self.ids.push(id);
            }
            got += records.len();
            it = body["NextShardIterator"]
                .as_str()
                .expect("NextShardIterator (the shard is open)")
                .to_owned();
            if records.is_empty() {
                break;
            }
        }
        self.iterator = Some(it);
        got
    }

    /// SIGTERMs the host and waits (bounded) for it to exit; it must print `stopped`.
    fn stop(&mut self) -> ExitStatus {
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

impl Drop for Weir {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes `{"id": i}` for every id, QoS 1, to `load/<i % 10>/data` with a rumqttc
/// (MQTT 3.1.1) client; returns once the broker acknowledged all of them.
fn publish_ids(port: u16, client_id: &str, ids: std::ops::Range<u64>) {
    publish_padded(port, client_id, ids, 0)
}

/// [`publish_ids`] with a `pad` field of `pad` bytes in every message.
fn publish_padded(port: u16, client_id: &str, ids: std::ops::Range<u64>, pad: usize) {
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
                format!("load/{}/data", i % 10),
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
fn mosquitto_pub(port: u16, id: u64) {
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
fn ranges(ids: &[u64]) -> String {
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

/// Reads the hosts' streams until every id of `expected_ids` arrived and a further read finds
/// nothing new (30 s at most), then checks that each appears exactly once across them and that
/// nothing else arrived.
fn collect_exactly_once(hosts: &mut [&mut Weir], broker: &Mosquitto, expected_ids: &[u64]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut new = 0;
        for h in hosts.iter_mut() {
            new += h.read_new();
        }
        let seen: HashSet<u64> = hosts.iter().flat_map(|h| h.ids.iter().copied()).collect();
        let complete = expected_ids.iter().all(|id| seen.contains(id));
        if (complete && new == 0) || Instant::now() > deadline {
            break;
        }
        if new == 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // Where each id went.
    let mut seen: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for h in hosts.iter() {
        for id in &h.ids {
            seen.entry(*id).or_default().push(&h.name);
        }
    }
    let missing: Vec<u64> = expected_ids
        .iter()
        .copied()
        .filter(|id| !seen.contains_key(id))
        .collect();
    let duplicated: Vec<(u64, &Vec<&str>)> = seen
        .iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(id, at)| (*id, at))
        .collect();
    let wanted: HashSet<u64> = expected_ids.iter().copied().collect();
    let unexpected: Vec<u64> = seen
        .keys()
        .copied()
        .filter(|id| !wanted.contains(id))
        .collect();
    if missing.is_empty() && duplicated.is_empty() && unexpected.is_empty() {
        return;
    }
    let per_host: Vec<String> = hosts
        .iter()
        .map(|h| format!("{}: {} records", h.name, h.ids.len()))
        .collect();
    let logs: Vec<String> = hosts.iter().map(|h| h.logs()).collect();
    panic!(
        "not exactly once ({}; expected {} ids)\nmissing {}: {}\nduplicated {}: {} (first {:?})\n\
         unexpected {:?}\n{}\n{}",
        per_host.join(", "),
        expected_ids.len(),
        missing.len(),
        ranges(&missing),
        duplicated.len(),
        ranges(&duplicated.iter().map(|(id, _)| *id).collect::<Vec<_>>()),
        &duplicated[..duplicated.len().min(5)],
        unexpected,
        logs.join("\n"),
        tail(&broker.log, 4000),
    );
}

#[test]
fn two_hosts_sharing_a_subscription_process_every_message_exactly_once() {
    const TEST: &str = "two_hosts_sharing_a_subscription_process_every_message_exactly_once";
    if !mosquitto_available(TEST) {
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path());
    let mut a = Weir::start(
        "weir-a",
        &write_config(&dir.path().join("a"), broker.port, "weir-a"),
    );
    let mut b = Weir::start(
        "weir-b",
        &write_config(&dir.path().join("b"), broker.port, "weir-b"),
    );
    broker.wait_subscribed("weir-a");
    broker.wait_subscribed("weir-b");
    eprintln!("both hosts subscribed after {:?}", started.elapsed());

    const N: u64 = 2000;
    let t = Instant::now();
    publish_ids(broker.port, "load-publisher", 0..N);
    let extra: Vec<u64> = (1_000_000..1_000_005).collect();
    for id in &extra {
        mosquitto_pub(broker.port, *id);
    }
    let expected: Vec<u64> = (0..N).chain(extra.iter().copied()).collect();
    collect_exactly_once(&mut [&mut a, &mut b], &broker, &expected);
    eprintln!(
        "{} messages published and appended exactly once in {:?}: weir-a {}, weir-b {}",
        expected.len(),
        t.elapsed(),
        a.ids.len(),
        b.ids.len()
    );
    assert!(
        !a.ids.is_empty() && !b.ids.is_empty(),
        "both hosts must take a share: weir-a {}, weir-b {}",
        a.ids.len(),
        b.ids.len()
    );

    let status_a = a.stop();
    let status_b = b.stop();
    assert!(status_a.success(), "weir-a: {status_a}\n{}", a.logs());
    assert!(status_b.success(), "weir-b: {status_b}\n{}", b.logs());
    eprintln!("total {:?}", started.elapsed());
}

#[test]
fn messages_published_while_the_host_is_down_are_processed_after_it_restarts() {
    const TEST: &str = "messages_published_while_the_host_is_down_are_processed_after_it_restarts";
    if !mosquitto_available(TEST) {
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path());
    let config = write_config(&dir.path().join("solo"), broker.port, "weir-solo");

    // First run: subscribe (that creates the persistent session), take a few messages, stop.
    let mut first = Weir::start("weir-solo", &config);
    broker.wait_subscribed("weir-solo");
    publish_ids(broker.port, "before-publisher", 0..20);
    let before: Vec<u64> = (0..20).collect();
    collect_exactly_once(&mut [&mut first], &broker, &before);
    let status = first.stop();
    assert!(status.success(), "first run: {status}\n{}", first.logs());
    drop(first);

    // While it is down: the broker queues these in the session.
    publish_ids(broker.port, "offline-publisher", 20..120);

    // Second run: same client id and storage; the stream keeps the first 20 and gets the
    // 100 queued ones, none twice (the first run's messages were all acknowledged).
    let t = Instant::now();
    let mut second = Weir::start("weir-solo", &config);
    let all: Vec<u64> = (0..120).collect();
    collect_exactly_once(&mut [&mut second], &broker, &all);
    eprintln!(
        "100 queued messages appended {:?} after the restart",
        t.elapsed()
    );
    let status = second.stop();
    assert!(status.success(), "second run: {status}\n{}", second.logs());
    eprintln!("total {:?}", started.elapsed());
}

/// A clean stop (SIGTERM) while the broker is still pushing messages: the host must leave
/// every message it appended acknowledged, or the restarted host would append it again. The
/// poller keeps reading after its DISCONNECT until the broker closes the connection; closing
/// the socket with unread PUBLISHes would reset it, and mosquitto would drop the PUBACKs still
/// in its receive buffer (host/src/runtime/ingress.rs, `Ingress::external`).
#[test]
fn a_clean_stop_under_traffic_acknowledges_everything_it_appended() {
    const TEST: &str = "a_clean_stop_under_traffic_acknowledges_everything_it_appended";
    if !mosquitto_available(TEST) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path());
    let config = write_config(&dir.path().join("solo"), broker.port, "weir-stop");
    const M: u64 = 30_000;

    let mut host = Weir::start("weir-stop", &config);
    broker.wait_subscribed("weir-stop");
    let port = broker.port;
    let publisher = std::thread::spawn(move || publish_ids(port, "stream-publisher", 0..M));
    // Stop twice while messages flow, restarting on the same session and storage.
    for stop_at in [3_000, 12_000] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while host.ids.len() < stop_at {
            if host.read_new() == 0 {
                assert!(
                    Instant::now() < deadline,
                    "only {} records after 30 s\n{}",
                    host.ids.len(),
                    host.logs()
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let status = host.stop();
        assert!(status.success(), "stop: {status}\n{}", host.logs());
        drop(host);
        host = Weir::start("weir-stop", &config);
    }
    publisher.join().expect("publisher");
    let all: Vec<u64> = (0..M).collect();
    collect_exactly_once(&mut [&mut host], &broker, &all);
    let status = host.stop();
    assert!(status.success(), "last stop: {status}\n{}", host.logs());
}

/// A tmpfs mounted over a folder for a test, unmounted when dropped. Mounting needs root (or
/// CAP_SYS_ADMIN); without it the test is skipped, unless `CI` is set: then it fails.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str, test: &str) -> Option<Tmpfs> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(at.to_path_buf())),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                if std::env::var_os("CI").is_some() {
                    panic!(
                        "{test}: cannot mount a tmpfs ({why}), and CI is set: CI must run as root"
                    );
                }
                eprintln!("SKIPPED {test}: cannot mount a tmpfs: {why}");
                None
            }
        }
    }

    /// Gives the filesystem room: the disk was cleaned up.
    fn grow(&self, size: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("run mount");
        assert!(st.success(), "remount {}", self.0.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The ids in the dead-letter files under `data`: stored too, for the rule's operator.
fn dead_letter_ids(data: &Path) -> Vec<u64> {
    let mut ids = Vec::new();
    for (_, bytes) in common::files(&data.join("dead-letters")) {
        for line in String::from_utf8_lossy(&bytes).lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue; // a line torn by the full disk was never acknowledged
            };
            let Some(b64) = v["base64OriginalPayload"].as_str() else {
                continue;
            };
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64 payload");
            let p: serde_json::Value = serde_json::from_slice(&raw).expect("json payload");
            ids.push(p["id"].as_u64().expect("id"));
        }
    }
    ids
}

/// Messages in the full-disk tests: about 2 KiB each, 3 MiB into a 1 MiB filesystem.
const FULL_DISK_MESSAGES: u64 = 1500;

/// A host whose storage is a 1 MiB tmpfs, behind a mosquitto, after three times as much
/// traffic as the disk holds was published to the broker (the broker acknowledged it all).
struct FullDisk {
    broker: Mosquitto,
    host: Weir,
    config: PathBuf,
    data: PathBuf,
    disk: Tmpfs,
    _dir: tempfile::TempDir,
}

impl FullDisk {
    fn start(test: &str, client_id: &str) -> Option<FullDisk> {
        if !mosquitto_available(test) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let broker = Mosquitto::start(dir.path());
        let host_dir = dir.path().join("solo");
        let config = write_config(&host_dir, broker.port, client_id);
        let data = host_dir.join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let disk = Tmpfs::mount(&data, "1m", test)?;
        let host = Weir::start(client_id, &config);
        broker.wait_subscribed(client_id);
        publish_padded(
            broker.port,
            &format!("{client_id}-publisher"),
            0..FULL_DISK_MESSAGES,
            2000,
        );
        Some(FullDisk {
            broker,
            host,
            config,
            data,
            disk,
            _dir: dir,
        })
    }
}

/// Reads `host`'s stream until every message is in it or a dead letter under `data` (60 s at
/// most); returns the ids that are neither.
fn missing_ids(data: &Path, host: &mut Weir) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        host.read_new();
        let mut have: HashSet<u64> = host.ids.iter().copied().collect();
        have.extend(dead_letter_ids(data));
        let missing: Vec<u64> = (0..FULL_DISK_MESSAGES)
            .filter(|i| !have.contains(i))
            .collect();
        if missing.is_empty() || Instant::now() > deadline {
            return missing;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The host's storage on a small filesystem, a rule without an error action, and three times
/// as much traffic as the disk holds: what cannot be stored must stay unacknowledged at the
/// broker, and after a restart with room every message is stored (in the stream, or as a dead
/// letter for the few that failed while the disk still took those).
#[test]
fn a_full_disk_acknowledges_nothing_it_did_not_store() {
    let Some(mut fd) = FullDisk::start(
        "a_full_disk_acknowledges_nothing_it_did_not_store",
        "weir-full",
    ) else {
        return;
    };
    const N: u64 = FULL_DISK_MESSAGES;
    // Until the disk is full and the host has stopped making progress.
    let delivered = r#"weir_action_delivered_total{rule="load",action="0:kinesis:out"}"#;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = u64::MAX;
    loop {
        let failing = fd.host.metric("weir_dead_letter_write_errors_total") > 0;
        let now = fd.host.metric(delivered);
        if failing && now == last {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the disk never filled: {now} delivered\n{}",
            fd.host.logs()
        );
        last = now;
        std::thread::sleep(Duration::from_millis(1500));
    }
    let stored_first = fd.host.read_new();
    assert!(
        (stored_first as u64) < N,
        "everything fit: the test proves nothing"
    );
    let status = fd.host.stop();
    assert!(status.success(), "first run: {status}\n{}", fd.host.logs());

    // Room again; the same host starts, and the broker delivers what was never acknowledged.
    fd.disk.grow("64m");
    let mut again = Weir::start("weir-full", &fd.config);
    let missing = missing_ids(&fd.data, &mut again);
    eprintln!(
        "{N} messages: {stored_first} stored before the disk was full, {} in the stream after the restart, {} dead letters",
        again.ids.len(),
        dead_letter_ids(&fd.data).len()
    );
    assert!(
        missing.is_empty(),
        "{} of {N} messages were acknowledged and lost: {}\n{}",
        missing.len(),
        ranges(&missing),
        tail(&fd.broker.log, 2000)
    );
    let status = again.stop();
    assert!(status.success(), "second run: {status}\n{}", again.logs());
}

/// The same full disk, but the disk gets room while the host keeps running: the messages that
/// failed must not keep the broker's window pinned (mosquitto sends at most 100 unacknowledged
/// messages). The host renews its connection while messages wait, the broker delivers them
/// again, and every one is stored without a restart.
#[test]
fn failed_messages_are_delivered_again_without_a_restart() {
    let Some(mut fd) = FullDisk::start(
        "failed_messages_are_delivered_again_without_a_restart",
        "weir-pinned",
    ) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&fd.host.stderr)
        .unwrap_or_default()
        .contains("reconnecting so that the broker delivers them again")
    {
        assert!(
            Instant::now() < deadline,
            "no redelivery while messages failed\n{}",
            fd.host.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        (fd.host.read_new() as u64) < FULL_DISK_MESSAGES,
        "everything fit: the test proves nothing"
    );
    fd.disk.grow("64m");
    let missing = missing_ids(&fd.data, &mut fd.host);
    assert!(
        missing.is_empty(),
        "{} of {FULL_DISK_MESSAGES} messages did not arrive while the host kept running: {}\n{}",
        missing.len(),
        ranges(&missing),
        fd.host.logs()
    );
    let status = fd.host.stop();
    assert!(status.success(), "{status}\n{}", fd.host.logs());
}
