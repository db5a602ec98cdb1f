//! `weir run` as a client of an external MQTT 5 broker (mosquitto): two hosts in one shared
//! subscription group split the traffic and together process every message exactly once, and
//! the persistent session keeps what was published while the only host was down.
//!
//! Needs `mosquitto` and `mosquitto_pub` on PATH. Without them the tests are skipped, unless
//! the `CI` environment variable is set: then a missing mosquitto is a failure.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::mqtt_hosts::{
    mosquitto_available, mosquitto_pub, mosquitto_rr, publish_ids, publish_padded, ranges, tail,
    Mosquitto, WeirProcess,
};

use base64::Engine as _;

const SHARE_GROUP: &str = "weir-test";
const FILTER: &str = "load/+/data";
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

/// A running `weir run --config FILE` and what its stream `out` has given so far.
struct Weir {
    process: WeirProcess,
    /// Where its stream has been read up to, and the ids read so far (in order).
    iterator: Option<String>,
    ids: Vec<u64>,
}

impl std::ops::Deref for Weir {
    type Target = WeirProcess;
    fn deref(&self) -> &WeirProcess {
        &self.process
    }
}

impl std::ops::DerefMut for Weir {
    fn deref_mut(&mut self) -> &mut WeirProcess {
        &mut self.process
    }
}

impl Weir {
    fn start(name: &str, config: &Path) -> Weir {
        Weir {
            process: WeirProcess::start(name, config),
            iterator: None,
            ids: Vec::new(),
        }
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
    broker.wait_subscribed("weir-a", SHARE_GROUP, FILTER);
    broker.wait_subscribed("weir-b", SHARE_GROUP, FILTER);
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
    broker.wait_subscribed("weir-solo", SHARE_GROUP, FILTER);
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
    broker.wait_subscribed("weir-stop", SHARE_GROUP, FILTER);
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
        broker.wait_subscribed(client_id, SHARE_GROUP, FILTER);
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

/// The Device Shadow MQTT topics through an external broker, without a cluster: the host's
/// own `$` session (`CLIENT_ID-dollar`) subscribes the request topics plainly (mosquitto
/// gives `$` topics to no shared subscription) and the answers come back through the broker.
#[test]
fn device_shadow_topics_are_served_through_the_external_broker() {
    const TEST: &str = "device_shadow_topics_are_served_through_the_external_broker";
    if !mosquitto_available(TEST) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path());
    let config = write_config(&dir.path().join("shadows"), broker.port, "weir-sh");
    let mut host = Weir::start("weir-sh", &config);
    broker.wait_subscribed_plain("weir-sh-dollar", "$aws/things/+/shadow/+");
    broker.wait_subscribed_plain("weir-sh-dollar", "$aws/things/+/shadow/name/+/+");

    let base = "$aws/things/pump:1/shadow";
    let accepted = mosquitto_rr(
        broker.port,
        &format!("{base}/update"),
        &format!("{base}/update/accepted"),
        r#"{"state": {"desired": {"on": true}, "reported": {"on": false}}, "clientToken": "t1"}"#,
    );
    assert_eq!(accepted["version"], 1, "{accepted}");
    assert_eq!(accepted["clientToken"], "t1", "{accepted}");
    let got = mosquitto_rr(
        broker.port,
        &format!("{base}/get"),
        &format!("{base}/get/accepted"),
        "",
    );
    assert_eq!(
        got["state"]["delta"],
        serde_json::json!({"on": true}),
        "{got}"
    );
    let named = "$aws/things/pump:1/shadow/name/cfg";
    let accepted = mosquitto_rr(
        broker.port,
        &format!("{named}/update"),
        &format!("{named}/update/accepted"),
        r#"{"state": {"reported": {"rate": 3}}}"#,
    );
    assert_eq!(accepted["state"]["reported"]["rate"], 3, "{accepted}");
    // A refusal is an answer too.
    let rejected = mosquitto_rr(
        broker.port,
        &format!("{base}/update"),
        &format!("{base}/update/rejected"),
        r#"{"state": {"reported": {"on": true}}, "version": 7}"#,
    );
    assert_eq!(rejected["code"], 409, "{rejected}");

    let status = host.stop();
    assert!(status.success(), "stop: {status}\n{}", host.logs());
}
