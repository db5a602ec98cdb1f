//! Acknowledged means fsynced: a simulated power cut loses nothing that was acknowledged.
//!
//! `weir run` runs under an LD_PRELOAD shim (`power_cut_shim.c`, compiled here with the
//! machine's gcc) that journals, for every successful fsync/fdatasync of a file under the
//! storage folder, the file's size when the sync started. PutRecord, PutRecords and Firehose
//! PutRecordBatch callers and MQTT QoS 1 publishers (a rule with a kinesis action) load it and
//! note what was acknowledged; the host is killed with SIGKILL mid-load, and every journaled
//! file is cut back to its last synced size: what a power cut would have kept, since the page
//! cache is gone. Every acknowledged PutRecordBatch record must then be in the Firehose
//! buffer; `weir run` starts again without the shim (it recovers, and delivers what its action
//! spools kept), stops, and every other acknowledged record must be in its stream.
//!
//! This cannot pass if an answer precedes the fsync of what it acknowledges: the bytes of such
//! a record are past the synced size when the kill lands. With `WEIR_POWER_CUT_FSYNC=interval`
//! the same test runs the opt-in policy, which answers before the sync, and fails.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{base_config, call, call_target, read_stream, ready_mqtt_ports, Weir};
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::json;
use weir_streams::{Streams, StreamsConfig};

const API_STREAM: &str = "direct";
const MQTT_STREAM: &str = "published";
const DELIVERY_STREAM: &str = "archive";
/// Load before the kill.
const LOAD: Duration = Duration::from_millis(1500);

/// What each kind of client had acknowledged.
#[derive(Default)]
struct Acked {
    put_record: Mutex<HashSet<String>>,
    put_records: Mutex<HashSet<String>>,
    put_record_batch: Mutex<HashSet<String>>,
    mqtt: Mutex<HashSet<String>>,
}

fn config(dir: &Path) -> PathBuf {
    // The policy under test: the default unless the environment names another.
    let fsync = std::env::var("WEIR_POWER_CUT_FSYNC")
        .map(|p| format!("fsync = \"{p}\"\n"))
        .unwrap_or_default();
    let text = format!(
        r#"{}
[streams.{API_STREAM}]
shards = 2

[streams.{MQTT_STREAM}]
shards = 2

[rules.r]
sql = "SELECT * FROM 'cut/#'"
[[rules.r.actions]]
kind = "kinesis"
stream = "{MQTT_STREAM}"
partition_key = "${{topic()}}"
# Flushed before a record would wait for the spool (10 ms): acknowledged from the stream.
buffer = {{ max_records = 50, max_age_ms = 2 }}

# Nothing is delivered during the test: acknowledged records are in the Firehose buffer.
[[firehose.delivery_streams]]
name = "{DELIVERY_STREAM}"
bucket = "cut-bucket"
buffer_interval_s = 900
"#,
        base_config(&fsync)
    );
    let path = dir.join("weir.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Compiles the shim with the machine's C compiler.
fn build_shim(out: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/power_cut_shim.c");
    let so = out.join("power_cut_shim.so");
    let built = Command::new("gcc")
        .args(["-shared", "-fPIC", "-O1", "-Wall", "-o"])
        .arg(&so)
        .arg(&src)
        .arg("-ldl")
        .output()
        .expect("gcc (the power-cut test compiles its LD_PRELOAD shim with it)");
    assert!(
        built.status.success(),
        "gcc failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    so
}

/// `weir run` under the shim; (the child, its API address, its MQTT port). While the file
/// `gate` exists, no sync under `data` starts.
fn start_shimmed(
    cfg: &Path,
    shim: &Path,
    data: &Path,
    journal: &Path,
    gate: &Path,
) -> (Child, String, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--config"])
        .arg(cfg)
        .env("LD_PRELOAD", shim)
        .env("WEIR_SHIM_DIR", data)
        .env("WEIR_SHIM_JOURNAL", journal)
        .env("WEIR_SHIM_SYNC_GATE", gate)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn weir run");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("weir run's first line");
    let api = line
        .rsplit_once("api http://")
        .map(|(_, a)| a.trim().to_owned())
        .unwrap_or_else(|| panic!("unexpected first line: {line}"));
    let mqtt = ready_mqtt_ports(&line)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no MQTT port in: {line}"));
    (child, api, mqtt)
}

fn data_of(id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(json!({ "id": id }).to_string())
}

/// PutRecord (`batch` = 0) or PutRecords of `batch` records, until `stop`.
fn api_client(n: usize, api: String, batch: usize, stop: Arc<AtomicBool>, acked: Arc<Acked>) {
    let mut seq = 0u64;
    while !stop.load(Ordering::Acquire) {
        if batch == 0 {
            seq += 1;
            let id = format!("r{n}-{seq}");
            let body = json!({"StreamName": API_STREAM, "PartitionKey": id, "Data": data_of(&id)});
            if let Ok((200, v)) = call(&api, "PutRecord", &body) {
                if v["SequenceNumber"].is_string() {
                    acked.put_record.lock().expect("acked").insert(id);
                }
            }
        } else {
            let ids: Vec<String> = (0..batch)
                .map(|_| {
                    seq += 1;
                    format!("b{n}-{seq}")
                })
                .collect();
            let records: Vec<_> = ids
                .iter()
                .map(|id| json!({"PartitionKey": id, "Data": data_of(id)}))
                .collect();
            let body = json!({"StreamName": API_STREAM, "Records": records});
            if let Ok((200, v)) = call(&api, "PutRecords", &body) {
                let results = v["Records"].as_array().cloned().unwrap_or_default();
                let mut a = acked.put_records.lock().expect("acked");
                for (id, r) in ids.iter().zip(results) {
                    if r["SequenceNumber"].is_string() {
                        a.insert(id.clone());
                    }
                }
            }
        }
    }
}

/// Firehose PutRecordBatch of 20 records, until `stop`.
fn firehose_client(n: usize, api: String, stop: Arc<AtomicBool>, acked: Arc<Acked>) {
    let mut seq = 0u64;
    while !stop.load(Ordering::Acquire) {
        let ids: Vec<String> = (0..20)
            .map(|_| {
                seq += 1;
                format!("f{n}-{seq}")
            })
            .collect();
        let records: Vec<_> = ids.iter().map(|id| json!({"Data": data_of(id)})).collect();
        let body = json!({"DeliveryStreamName": DELIVERY_STREAM, "Records": records});
        if let Ok((200, v)) = call_target(&api, "Firehose_20150804.PutRecordBatch", &body) {
            let answers = v["RequestResponses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut a = acked.put_record_batch.lock().expect("acked");
            for (id, r) in ids.iter().zip(answers) {
                if r["RecordId"].is_string() {
                    a.insert(id.clone());
                }
            }
        }
    }
}

/// The ids in the Firehose buffer (a private streams engine; one stream per delivery stream).
fn buffered(dir: &Path) -> HashSet<String> {
    let engine = Streams::open(StreamsConfig::new(dir)).expect("open the Firehose buffer");
    let names: Vec<String> = engine.list_streams().into_iter().map(|s| s.name).collect();
    drop(engine);
    names
        .iter()
        .flat_map(|name| read_stream(dir, name))
        .filter_map(|(_, v)| v["id"].as_str().map(str::to_owned))
        .collect()
}

/// A QoS 1 publisher with 16 messages in flight; a message counts once its PUBACK arrived.
/// Ends when the connection is gone (the kill) or at `stop`.
fn publisher(n: usize, port: u16, stop: Arc<AtomicBool>, acked: Arc<Acked>) {
    const WINDOW: usize = 16;
    let mut opts = MqttOptions::new(format!("cut-pub-{n}"), "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(5));
    opts.set_inflight(WINDOW as u16);
    let (client, mut conn) = Client::new(opts, 2 * WINDOW);
    let mut seq = 0u64;
    let mut queued: std::collections::VecDeque<String> = Default::default();
    let mut inflight: HashMap<u16, String> = HashMap::new();
    while !stop.load(Ordering::Acquire) {
        while queued.len() + inflight.len() < WINDOW {
            seq += 1;
            let id = format!("m{n}-{seq}");
            let body = json!({ "id": id }).to_string().into_bytes();
            if client
                .try_publish(format!("cut/{n}"), QoS::AtLeastOnce, false, body)
                .is_err()
            {
                return;
            }
            queued.push_back(id);
        }
        match conn.recv_timeout(Duration::from_millis(50)) {
            Ok(Ok(Event::Outgoing(Outgoing::Publish(pkid)))) => {
                if let Some(id) = queued.pop_front() {
                    inflight.insert(pkid, id);
                }
            }
            Ok(Ok(Event::Incoming(Packet::PubAck(a)))) => {
                if let Some(id) = inflight.remove(&a.pkid) {
                    acked.mqtt.lock().expect("acked").insert(id);
                }
            }
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(_)) => return, // the connection is gone
        }
    }
}

/// What a power cut leaves of every journaled file: cut back to its last synced size, and the
/// writes inside that size that no later sync covered (space written ahead, then overwritten)
/// zeroed, as they were before. Returns (files changed, bytes lost).
fn power_cut(journal: &Path) -> (usize, u64) {
    let text = std::fs::read_to_string(journal).expect("the shim's journal");
    let mut synced: BTreeMap<String, u64> = BTreeMap::new();
    // Writes since the last sync of each file began: (offset, length).
    let mut unsynced: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        match f.as_slice() {
            ["W", offset, len, path] => {
                if let (Ok(offset), Ok(len)) = (offset.parse(), len.parse()) {
                    unsynced
                        .entry((*path).to_owned())
                        .or_default()
                        .push((offset, len));
                }
            }
            ["S", size, path] => {
                unsynced.remove(*path);
                synced.insert((*path).to_owned(), size.parse().expect("size"));
            }
            ["R", from, to] => {
                let writes = unsynced.remove(*from);
                unsynced.remove(*to);
                if let Some(writes) = writes {
                    unsynced.insert((*to).to_owned(), writes);
                }
                match synced.remove(*from) {
                    Some(size) => {
                        synced.insert((*to).to_owned(), size);
                    }
                    None => {
                        synced.remove(*to);
                    }
                }
            }
            _ => {} // a line torn by the kill
        }
    }
    let (mut files, mut lost) = (0, 0);
    for (path, size) in synced {
        let Ok(file) = std::fs::OpenOptions::new().write(true).open(&path) else {
            continue; // removed since
        };
        let len = file.metadata().expect("metadata").len();
        let mut changed = false;
        if len > size {
            file.set_len(size).expect("cut back");
            changed = true;
            lost += len - size;
        }
        for (offset, n) in unsynced.remove(&path).unwrap_or_default() {
            let end = (offset + n).min(size);
            if offset < end {
                let zeros = vec![0u8; usize::try_from(end - offset).expect("length")];
                std::os::unix::fs::FileExt::write_all_at(&file, &zeros, offset).expect("zero");
                changed = true;
                lost += end - offset;
            }
        }
        files += usize::from(changed);
    }
    (files, lost)
}

#[test]
fn a_power_cut_loses_no_acknowledged_record() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().canonicalize().expect("canonical tempdir");
    let shim = build_shim(&root);
    let cfg = config(&root);
    let data = root.join("data");
    let journal = root.join("journal");

    let gate = root.join("gate");
    let (mut child, api, mqtt) = start_shimmed(&cfg, &shim, &data, &journal, &gate);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Acked::default());
    let threads = start_clients(&api, mqtt, &stop, &acked);
    std::thread::sleep(LOAD);
    let before = |m: &Mutex<HashSet<String>>| m.lock().expect("acked").len();
    let flowing = (
        before(&acked.put_record),
        before(&acked.put_records),
        before(&acked.put_record_batch),
        before(&acked.mqtt),
    );
    let _ = child.kill(); // SIGKILL, mid-load
    let _ = child.wait();
    stop.store(true, Ordering::Release);
    for t in threads {
        t.join().expect("client thread");
    }
    // The shim saw the shards' appends (pwrite): without that, writes into space written
    // ahead would survive the cut unseen.
    let journaled = std::fs::read_to_string(&journal).expect("journal");
    assert!(
        journaled
            .lines()
            .any(|l| l.starts_with("W\t") && l.ends_with(".seg")),
        "no shard append in the shim's journal"
    );
    let (cut_files, cut_bytes) = power_cut(&journal);
    let in_firehose = buffered(&data.join("firehose/buffer"));

    restart_and_drain(&cfg);

    let lost = lost_records(&acked, &data, &in_firehose);
    eprintln!(
        "power cut after {:.1} s: acknowledged PutRecord {}, PutRecords {}, PutRecordBatch {}, MQTT {} \
         (at the kill: {flowing:?}); {cut_bytes} unsynced bytes discarded from {cut_files} files; \
         lost: {:?}",
        started.elapsed().as_secs_f64(),
        acked.put_record.lock().expect("acked").len(),
        acked.put_records.lock().expect("acked").len(),
        acked.put_record_batch.lock().expect("acked").len(),
        acked.mqtt.lock().expect("acked").len(),
        lost.iter().map(|(k, m)| (k, m.len())).collect::<Vec<_>>(),
    );
    // Every kind of client must have been acknowledged while the load ran, or this proves
    // nothing.
    assert!(
        flowing.0 > 0 && flowing.1 > 0 && flowing.2 > 0 && flowing.3 > 0,
        "no traffic before the kill: {flowing:?}"
    );
    for (kind, m) in &lost {
        assert!(
            m.is_empty(),
            "{} acknowledged {kind} records lost at the power cut: {:?}",
            m.len(),
            &m[..m.len().min(10)]
        );
    }
}

/// The load: four API writers (PutRecord and PutRecords of 25), two MQTT QoS 1 publishers
/// and a PutRecordBatch client, each noting what was acknowledged, until `stop`.
fn start_clients(
    api: &str,
    mqtt: u16,
    stop: &Arc<AtomicBool>,
    acked: &Arc<Acked>,
) -> Vec<std::thread::JoinHandle<()>> {
    let mut threads = Vec::new();
    for (n, batch) in [0, 0, 25, 25].into_iter().enumerate() {
        let (api, stop, acked) = (api.to_owned(), stop.clone(), acked.clone());
        threads.push(std::thread::spawn(move || {
            api_client(n, api, batch, stop, acked)
        }));
    }
    for n in 0..2 {
        let (stop, acked) = (stop.clone(), acked.clone());
        threads.push(std::thread::spawn(move || publisher(n, mqtt, stop, acked)));
    }
    {
        let (api, stop, acked) = (api.to_owned(), stop.clone(), acked.clone());
        threads.push(std::thread::spawn(move || {
            firehose_client(0, api, stop, acked)
        }));
    }
    threads
}

/// Restarts the host without the shim and stops it with SIGTERM, which drains what the
/// spools held into the stream.
fn restart_and_drain(cfg: &Path) {
    let weir = Weir::start(cfg);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !weir.get("/health").starts_with("HTTP/1.1 200") {
        assert!(
            Instant::now() < deadline,
            "the restarted host never got healthy"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, _) = weir.terminate();
    assert!(status.success(), "{status}");
}

/// The acknowledged records, per kind of client, that are not where they were stored
/// after recovery (the streams, or the Firehose buffer for PutRecordBatch).
fn lost_records(
    acked: &Acked,
    data: &Path,
    in_firehose: &HashSet<String>,
) -> [(&'static str, Vec<String>); 4] {
    let ids = |stream: &str| -> HashSet<String> {
        read_stream(&data.join("streams"), stream)
            .into_iter()
            .filter_map(|(_, v)| v["id"].as_str().map(str::to_owned))
            .collect()
    };
    let (in_api, in_mqtt) = (ids(API_STREAM), ids(MQTT_STREAM));
    [
        ("PutRecord", missing(&acked.put_record, &in_api)),
        ("PutRecords", missing(&acked.put_records, &in_api)),
        (
            "PutRecordBatch",
            missing(&acked.put_record_batch, in_firehose),
        ),
        ("MQTT QoS 1", missing(&acked.mqtt, &in_mqtt)),
    ]
}

/// The acknowledged ids `kept` does not hold, sorted.
fn missing(acked: &Mutex<HashSet<String>>, kept: &HashSet<String>) -> Vec<String> {
    let mut m: Vec<String> = acked
        .lock()
        .expect("acked")
        .iter()
        .filter(|id| !kept.contains(*id))
        .cloned()
        .collect();
    m.sort();
    m
}

/// An MQTT QoS 1 publish is acknowledged only once its record is synced, whatever runs the
/// sync (the pipeline or the action's syncer): with every sync under the storage folder held
/// at the shim's gate, the record reaches the stream's log file and no PUBACK comes; once
/// the gate opens, it does. An acknowledgement sent at append fails this at once, on every
/// run, where the power cut above catches it only when the kill lands in the window.
#[test]
fn a_puback_waits_for_the_sync_of_its_record() {
    if std::env::var("WEIR_POWER_CUT_FSYNC").is_ok_and(|p| p != "always") {
        return; // the opt-in policies answer before the sync, by design
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().canonicalize().expect("canonical tempdir");
    let shim = build_shim(&root);
    let cfg = config(&root);
    let (data, gate) = (root.join("data"), root.join("gate"));
    let (child, _api, mqtt) = start_shimmed(&cfg, &shim, &data, &root.join("journal"), &gate);
    let _child = KillOnDrop(child);
    let mut opts = MqttOptions::new("gated", "127.0.0.1", mqtt);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut conn) = Client::new(opts, 4);
    let mut publish = |payload: &str, within: Duration| -> bool {
        client
            .publish(
                "cut/0",
                QoS::AtLeastOnce,
                false,
                payload.as_bytes().to_vec(),
            )
            .expect("queue publish");
        wait_for_puback(&mut conn, within)
    };
    // Flowing first: the rule's action and its threads are up.
    assert!(
        publish("{\"id\":\"warm\"}", Duration::from_secs(10)),
        "no PUBACK at all"
    );
    // Every shard log (only the MQTT stream takes records during this test).
    let log = data.join("streams").join("data");
    let before = bytes_under(&log);
    std::fs::write(&gate, b"").expect("shut the gate");
    assert!(
        !publish("{\"id\":\"held\"}", Duration::from_millis(50)),
        "acknowledged at once with every sync held"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while bytes_under(&log) == before {
        assert!(
            Instant::now() < deadline,
            "the record never reached the log"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        !wait_for_puback(&mut conn, Duration::from_millis(300)),
        "acknowledged after its append, before its sync"
    );
    std::fs::remove_file(&gate).expect("open the gate");
    assert!(
        wait_for_puback(&mut conn, Duration::from_secs(10)),
        "not acknowledged once the sync could run"
    );
}

/// Kills the host when the test ends, passed or not (a host left running would keep the
/// test harness's output pipe open).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Drives `conn` until a PUBACK comes (true) or `within` passes (false).
fn wait_for_puback(conn: &mut rumqttc::Connection, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match conn.recv_timeout(left) {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => return true,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("the connection failed: {e}"),
            Err(_) => return false,
        }
    }
}

/// Every file below `root` with its bytes: a record reaching a log changes them even when it
/// lands in space written ahead, where the file's length does not change.
fn bytes_under(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    weir_testkit::file_paths(root)
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect()
}
