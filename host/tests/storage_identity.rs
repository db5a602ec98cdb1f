//! `weir run` keeps what it acknowledged across edits of the configuration, and the
//! dead-letter store keeps to its budget (issue 27 item 9).
//!
//! A Firehose-style action with a one-minute buffer acknowledges from its spool. The host is
//! killed with records in that spool, then the rule is edited: another action inserted before
//! it (restart), or the action removed and put back at another place (hot reload). Its records
//! must reach its own destination, never the action that now stands where it stood. And a
//! dead-letter store past `[storage] dead_letter_max_bytes` refuses a failure (counted, not
//! acknowledged) instead of filling the disk.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{archived_ids, base_config, files, publish_all, Weir};

const N: usize = 40;

/// An archive action: a folder under `data/`, flushed once a minute, its pipeline holding
/// records as long (so they stay in its spool; without `buffer` they would move on to the
/// action's implicit delivery stream after a second).
fn archive(root: &str, interval_ms: u64) -> String {
    format!(
        "[[rules.archive.actions]]\nkind = \"firehose\"\nroot = \"data/{root}\"\n\
         buffer_interval_ms = {interval_ms}\nbuffer = {{ max_age_ms = {interval_ms} }}\n"
    )
}

/// Writes `weir.toml` (write and rename, as editors do) with the `archive` rule's `actions`.
fn write_config(dir: &Path, actions: &[String]) -> PathBuf {
    let text = format!(
        "{}\n[rules.archive]\nsql = \"SELECT * FROM 'keep/#'\"\n{}",
        base_config(""),
        actions.concat()
    );
    common::write_config(dir, &text)
}

/// Publishes `N` messages, every one acknowledged (from the spool: the buffer waits a
/// minute), then kills the host with all of them in the spool.
fn spool_and_kill(dir: &Path, cfg: &Path) {
    let mut weir = Weir::start(cfg);
    let mqtt = weir.mqtt;
    let messages: Vec<(String, Vec<u8>)> = (0..N)
        .map(|i| {
            (
                "keep/a".to_owned(),
                format!(r#"{{"id":"m{i}"}}"#).into_bytes(),
            )
        })
        .collect();
    publish_all(mqtt, &messages);
    assert!(
        archived_ids(&dir.join("data/archive")).is_empty(),
        "the buffer flushed early: the test proves nothing"
    );
    let _ = weir.child.kill(); // SIGKILL: the records are in the spool only
    let _ = weir.child.wait();
    assert!(
        !spooled(dir).is_empty(),
        "nothing was left in the spool: the test proves nothing"
    );
}

fn all_ids() -> Vec<String> {
    let mut want: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    want.sort();
    want
}

/// The non-empty spool files.
fn spooled(dir: &Path) -> Vec<String> {
    files(&dir.join("data/spool"))
        .into_iter()
        .filter(|(_, b)| !b.is_empty())
        .map(|(n, _)| n)
        .collect()
}

#[test]
fn an_action_inserted_before_another_leaves_it_its_spool() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(tmp.path(), &[archive("archive", 60_000)]);
    spool_and_kill(tmp.path(), &cfg);

    // Another archive inserted first: it now stands where the first one stood, with the same
    // kind. Named by position, the spool would be handed to it.
    write_config(
        tmp.path(),
        &[archive("other", 60_000), archive("archive", 60_000)],
    );
    let weir = Weir::start(&cfg);
    // `weir run` prints "ready" just before it listens for SIGTERM: one API round trip first.
    assert!(weir.get("/health").starts_with("HTTP/1.1 200"));
    let (status, _) = weir.terminate(); // a clean stop flushes what the spool gave back
    assert!(status.success(), "{status}");
    assert_eq!(
        archived_ids(&tmp.path().join("data/other")),
        Vec::<String>::new(),
        "acknowledged records went to the action that took their action's place"
    );
    assert_eq!(archived_ids(&tmp.path().join("data/archive")), all_ids());
    assert_eq!(spooled(tmp.path()), Vec::<String>::new());
}

#[test]
fn a_spool_whose_action_is_gone_waits_and_is_delivered_when_it_returns_on_reload() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(tmp.path(), &[archive("archive", 60_000)]);
    spool_and_kill(tmp.path(), &cfg);

    // The action is gone: its spool is reported and kept, and nothing else takes it.
    write_config(tmp.path(), &[archive("other", 60_000)]);
    let weir = Weir::start(&cfg);
    let left = spooled(tmp.path());
    assert!(!left.is_empty(), "the orphaned spool was removed");

    // It comes back, at another place and with another buffer interval: a hot reload hands
    // it what it had acknowledged.
    write_config(
        tmp.path(),
        &[archive("other", 60_000), archive("archive", 45_000)],
    );
    weir.wait_metric("weir_config_reloads_total", 1);
    let (status, _) = weir.terminate();
    assert!(status.success(), "{status}");
    assert_eq!(
        archived_ids(&tmp.path().join("data/other")),
        Vec::<String>::new()
    );
    assert_eq!(archived_ids(&tmp.path().join("data/archive")), all_ids());
    assert_eq!(spooled(tmp.path()), Vec::<String>::new());
}

/// Publishes one QoS 1 message on a connection of its own; whether its PUBACK came.
fn acknowledged(port: u16, n: usize) -> bool {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new(format!("dl-{n}"), "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(10));
    let (client, mut conn) = Client::new(opts, 8);
    let payload = format!(r#"{{"n":{n},"pad":"{}"}}"#, "x".repeat(100));
    client
        .publish("fail/x", QoS::AtLeastOnce, false, payload)
        .expect("queue publish");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match conn.recv_timeout(Duration::from_millis(200)) {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => {
                let _ = client.disconnect();
                return true;
            }
            // Nothing yet (a timeout), or another packet.
            Ok(Ok(_)) | Err(_) => {}
            // The broker drops the publisher of a message that was not handled.
            Ok(Err(_)) => return false,
        }
    }
    false
}

#[test]
fn a_full_dead_letter_store_refuses_counts_and_does_not_acknowledge() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Every message fails on the dispatcher (its partition key is undefined) and the rule has
    // no error action: each becomes a dead letter of about 500 bytes, until 2 KB are used.
    let text = format!(
        "{}\n[streams.out]\n\n[rules.r]\nsql = \"SELECT * FROM 'fail/#'\"\n\
         [[rules.r.actions]]\nkind = \"kinesis\"\nstream = \"out\"\npartition_key = \"${{missing}}\"\n",
        base_config("dead_letter_max_bytes = 2000\n")
    );
    let cfg = tmp.path().join("weir.toml");
    std::fs::write(&cfg, text).expect("write config");
    let weir = Weir::start(&cfg);
    let mqtt = weir.mqtt;
    let mut stored: u64 = 0;
    let mut refused = false;
    for n in 0..20 {
        if acknowledged(mqtt, n) {
            stored += 1;
        } else {
            refused = true;
            break;
        }
    }
    assert!(stored >= 1, "no dead letter was stored");
    assert!(
        refused,
        "{stored} dead letters stored past a 2000-byte budget"
    );
    assert_eq!(weir.metric("weir_dead_letters_total"), stored);
    assert!(
        weir.metric("weir_dead_letters_refused_total{reason=\"budget\"}") >= 1,
        "{}",
        weir.get("/metrics")
    );
    let (status, _) = weir.terminate();
    assert!(status.success(), "{status}");
    let bytes: usize = files(&tmp.path().join("data/dead-letters"))
        .values()
        .map(Vec::len)
        .sum();
    assert!(bytes <= 2000, "{bytes} bytes of dead letters");
    assert_eq!(
        files(&tmp.path().join("data/dead-letters"))
            .values()
            .map(|b| b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count())
            .sum::<usize>() as u64,
        stored
    );
}
