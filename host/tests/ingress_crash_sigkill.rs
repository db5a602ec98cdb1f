//! `weir run` on the embedded broker, killed with SIGKILL at random moments while QoS 1 and
//! QoS 2 publishers keep publishing. A message counts as acknowledged when its PUBACK (QoS 1)
//! or PUBREC (QoS 2) reached the publisher; every acknowledged message must be in the stream
//! afterwards. Publishers behave as devices do: after a lost connection they reconnect and
//! send again whatever was not acknowledged, so duplicates are expected; they are counted and
//! reported.

mod common;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{archived_ids, base_config, read_stream, write_config, Weir};
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};

const KILLS: usize = 20;
const PUBLISHERS: usize = 4;
/// Messages each publisher keeps in flight.
const WINDOW: usize = 16;

fn config(dir: &Path) -> PathBuf {
    let text = base_config("")
        + r#"
[streams.crash]
shards = 2

[rules.r]
sql = "SELECT * FROM 'crash/#'"
[[rules.r.actions]]
kind = "kinesis"
stream = "crash"
partition_key = "${topic()}"
"#;
    write_config(dir, &text)
}

/// Shared between a publisher and the test.
#[derive(Default)]
struct Tally {
    acked: Mutex<HashSet<String>>,
    sent: AtomicUsize,
    reconnects: AtomicUsize,
}

/// One device: publishes `p<N>-<seq>` with up to [`WINDOW`] in flight; on a lost connection it
/// reconnects (a new session) and sends the unacknowledged ones again before new ones.
fn publisher(n: usize, port: u16, qos: QoS, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let mut seq = 0u64;
    let mut resend: VecDeque<String> = VecDeque::new();
    while !stop.load(Ordering::Acquire) {
        let mut opts = MqttOptions::new(format!("crash-pub-{n}"), "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(5));
        opts.set_inflight(WINDOW as u16);
        let (client, mut conn) = Client::new(opts, 2 * WINDOW);
        // Queued to the client, waiting for their packet id.
        let mut queued: VecDeque<String> = VecDeque::new();
        // Packet id -> payload, sent and not acknowledged.
        let mut inflight: HashMap<u16, String> = HashMap::new();
        let topic = format!("crash/{n}");
        loop {
            while !stop.load(Ordering::Acquire) && queued.len() + inflight.len() < WINDOW {
                let payload = resend.pop_front().unwrap_or_else(|| {
                    seq += 1;
                    format!("p{n}-{seq}")
                });
                let body = format!(r#"{{"id":"{payload}"}}"#);
                if client
                    .try_publish(&topic, qos, false, body.into_bytes())
                    .is_err()
                {
                    resend.push_front(payload);
                    break;
                }
                tally.sent.fetch_add(1, Ordering::Relaxed);
                queued.push_back(payload);
            }
            if stop.load(Ordering::Acquire) && queued.is_empty() && inflight.is_empty() {
                return;
            }
            let acked_pkid = match conn.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(Event::Outgoing(Outgoing::Publish(pkid)))) => {
                    if let Some(p) = queued.pop_front() {
                        inflight.insert(pkid, p);
                    }
                    None
                }
                Ok(Ok(Event::Incoming(Packet::PubAck(a)))) if qos == QoS::AtLeastOnce => {
                    Some(a.pkid)
                }
                Ok(Ok(Event::Incoming(Packet::PubRec(r)))) if qos == QoS::ExactlyOnce => {
                    Some(r.pkid)
                }
                Ok(Ok(_)) => None,
                Ok(Err(_)) => break, // the connection is gone
                Err(_) => {
                    if stop.load(Ordering::Acquire) {
                        break; // nobody is listening any more
                    }
                    None
                }
            };
            if let Some(p) = acked_pkid.and_then(|id| inflight.remove(&id)) {
                tally.acked.lock().expect("tally").insert(p);
            }
        }
        requeue_unacknowledged(&mut resend, queued, inflight);
        tally.reconnects.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigkill_of_the_embedded_broker_host_never_loses_an_acknowledged_message() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = config(tmp.path());
    let stop = Arc::new(AtomicBool::new(false));
    let tallies: Vec<Arc<Tally>> = (0..PUBLISHERS).map(|_| Arc::default()).collect();
    let weir = Weir::start(&cfg);
    // The publishers keep this port across the restarts.
    weir.pin_mqtt_ports(&cfg);
    let mqtt = weir.mqtt;
    let threads = start_publishers(&tallies, mqtt, &stop);
    let (weir, acked_before_kill) = kill_repeatedly(weir, &cfg, &tallies);
    // Let the publishers finish what is in flight, then stop cleanly.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Release);
    for t in threads {
        t.join().expect("publisher");
    }
    let (status, _) = weir.terminate();
    assert!(status.success(), "{status}");

    let records = read_stream(&tmp.path().join("data/streams"), "crash");
    let (raw, acked_total, mut missing) = acknowledged_in_stream(&records, &tallies);
    let duplicates: usize = raw.values().filter(|&&n| n > 1).map(|n| n - 1).sum();
    let sent: usize = tallies.iter().map(|t| t.sent.load(Ordering::Relaxed)).sum();
    let reconnects: usize = tallies
        .iter()
        .map(|t| t.reconnects.load(Ordering::Relaxed))
        .sum();
    eprintln!(
        "{KILLS} kills in {:.1} s: {acked_total} acknowledged, {sent} sends, {} records, \
         {duplicates} duplicates, {reconnects} reconnects, acknowledged before each kill: {acked_before_kill:?}",
        started.elapsed().as_secs_f64(),
        records.len(),
    );
    missing.sort();
    assert!(
        missing.is_empty(),
        "{} of {acked_total} acknowledged messages are not in the stream: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    // The kills must have landed while traffic flowed, or the test proves nothing.
    assert!(
        acked_before_kill.windows(2).filter(|w| w[1] > w[0]).count() >= KILLS / 2,
        "traffic did not flow between kills: {acked_before_kill:?}"
    );
}

/// A Firehose-style archive flushes once a minute: its messages are acknowledged as soon as
/// they are in the action's spool, not a minute later, and a SIGKILL before the flush loses
/// none of them: the restarted host delivers what the spool kept.
#[test]
fn a_long_buffer_acknowledges_from_its_spool_and_survives_sigkill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = long_buffer_config(tmp.path());
    let mut weir = Weir::start(&cfg);
    let mqtt = weir.mqtt;
    const N: usize = 300;
    let messages: Vec<(String, Vec<u8>)> = (0..N)
        .map(|i| {
            (
                "crash/a".to_owned(),
                format!(r#"{{"id":"m{i}"}}"#).into_bytes(),
            )
        })
        .collect();
    // Every PUBACK comes back well before the buffer's minute is up.
    let t = Instant::now();
    common::publish_all(mqtt, &messages);
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "acknowledgements waited for the buffer: {:?}",
        t.elapsed()
    );
    let archive = tmp.path().join("data/archive");
    assert!(
        common::files(&archive).is_empty(),
        "the buffer flushed early: the test proves nothing"
    );
    let _ = weir.child.kill(); // SIGKILL, with every message in the buffer
    let _ = weir.child.wait();
    let weir = Weir::start(&cfg);
    let (status, _) = weir.terminate(); // a clean stop flushes what the spool gave back
    assert!(status.success(), "{status}");
    let ids = archived_ids(&archive);
    let mut want: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(ids, want);
    let left = common::files(&tmp.path().join("data/spool"));
    assert!(
        left.is_empty(),
        "a clean stop leaves no spool file behind: {left:?}"
    );
}

/// Not acknowledged when the connection went: sent again, oldest first, before anything new.
fn requeue_unacknowledged(
    resend: &mut VecDeque<String>,
    queued: VecDeque<String>,
    inflight: HashMap<u16, String>,
) {
    let mut lost: Vec<(u16, String)> = inflight.into_iter().collect();
    lost.sort();
    for p in queued.into_iter().rev() {
        resend.push_front(p);
    }
    for (_, p) in lost.into_iter().rev() {
        resend.push_front(p);
    }
}

/// One publisher thread per tally; one of the devices publishes at QoS 2, so its PUBREC is
/// held the same way as the others' PUBACK.
fn start_publishers(
    tallies: &[Arc<Tally>],
    mqtt: u16,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    tallies
        .iter()
        .enumerate()
        .map(|(n, t)| {
            let (stop, t) = (stop.clone(), t.clone());
            // One of the devices publishes at QoS 2: its PUBREC is held the same way.
            let qos = if n == 0 {
                QoS::ExactlyOnce
            } else {
                QoS::AtLeastOnce
            };
            std::thread::spawn(move || publisher(n, mqtt, qos, stop, t))
        })
        .collect()
}

/// SIGKILLs the host [`KILLS`] times at pseudo-random moments 150-600 ms apart, restarting
/// it each time; returns the running host and how many messages were acknowledged before
/// each kill.
fn kill_repeatedly(mut weir: Weir, cfg: &Path, tallies: &[Arc<Tally>]) -> (Weir, Vec<usize>) {
    let mut rng: u64 = 0x2545f4914f6cdd1d;
    let mut acked_before_kill = Vec::new();
    for _ in 0..KILLS {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(150 + rng % 450));
        let acked: usize = tallies
            .iter()
            .map(|t| t.acked.lock().expect("tally").len())
            .sum();
        acked_before_kill.push(acked);
        let _ = weir.child.kill(); // SIGKILL
        let _ = weir.child.wait();
        weir = Weir::start(cfg);
    }
    (weir, acked_before_kill)
}

/// How often each id is in the stream, how many messages were acknowledged, and which of
/// those the stream lacks.
fn acknowledged_in_stream(
    records: &[(String, serde_json::Value)],
    tallies: &[Arc<Tally>],
) -> (HashMap<String, usize>, usize, Vec<String>) {
    let mut raw: HashMap<String, usize> = HashMap::new();
    for (_, v) in records {
        let id = v["id"]
            .as_str()
            .unwrap_or_else(|| panic!("record without an id: {v}"));
        *raw.entry(id.to_owned()).or_default() += 1;
    }
    let mut acked_total = 0;
    let mut missing = Vec::new();
    for t in tallies {
        for p in t.acked.lock().expect("tally").iter() {
            acked_total += 1;
            if !raw.contains_key(p) {
                missing.push(p.clone());
            }
        }
    }
    (raw, acked_total, missing)
}

/// A folder `firehose` action that flushes once a minute.
fn long_buffer_config(dir: &Path) -> PathBuf {
    let text = base_config("")
        + r#"
[rules.archive]
sql = "SELECT * FROM 'crash/#'"
[[rules.archive.actions]]
kind = "firehose"
root = "data/archive"
buffer_interval_ms = 60000
"#;
    write_config(dir, &text)
}
