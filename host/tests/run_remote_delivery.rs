//! Actions that deliver to a remote endpoint, over real MQTT on loopback: a kinesis action
//! into a remote Kinesis API (SigV4 over HTTP), and the failures: a spooled record that fails
//! reaches the error action, and without one it is stored as a dead letter.

mod common;

use std::path::Path;

use common::small_config::{pub_in, small_config};
use common::{files, free_port, publish_all, read_stream, Weir};

#[test]
fn a_kinesis_action_can_put_into_a_remote_kinesis_endpoint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let api = free_port();
    // The remote endpoint is this host's own Kinesis API, reached over HTTP with SigV4.
    let cfg = small_config(
        tmp.path(),
        "listen = \"127.0.0.1:0\"",
        &format!("127.0.0.1:{api}"),
        &format!(
            "[[rules.r.actions]]\nkind = \"kinesis\"\nstream = \"out\"\n\
             partition_key = \"${{topic(2)}}\"\nendpoint = \"http://127.0.0.1:{api}\"\n"
        ),
    );
    let weir = Weir::start(&cfg);
    let messages: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| (format!("in/dev{i}"), format!(r#"{{"i":{i}}}"#).into_bytes()))
        .collect();
    publish_all(weir.mqtt, &messages);
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="r",action="0:kinesis:out"}"#,
        3,
    );
    let (status, _) = weir.terminate();
    assert!(status.success());
    let mut keys: Vec<String> = read_stream(&tmp.path().join("data/streams"), "out")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    assert_eq!(keys, ["dev0", "dev1", "dev2"]);
}

#[test]
fn a_spooled_record_that_fails_reaches_the_error_action() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The buffer waits 300 ms, so the record is spooled (and its message acknowledged) before
    // its delivery fails; the error action must still get it.
    let weir = publish_one_to_nowhere(
        tmp.path(),
        "buffer = { max_records = 100, max_age_ms = 300 }\n\n[rules.r.error_action]\nkind = \"firehose\"\nroot = \"data/errors\"\nbuffer_interval_ms = 0\n",
    );
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="r",action="error:firehose"}"#,
        1,
    );
    let (status, _) = weir.terminate();
    assert!(status.success());
    let errors = files(&tmp.path().join("data/errors"));
    assert_eq!(errors.len(), 1, "{:?}", errors.keys());
    let line: serde_json::Value =
        serde_json::from_slice(errors.values().next().expect("file")).expect("json");
    assert_eq!(line["failures"][0]["failedAction"], "KinesisAction");
    assert_eq!(weir_dead_letters(tmp.path()), 0);
    let left = files(&tmp.path().join("data/spool"));
    assert!(left.is_empty(), "{left:?}");
}

/// Starts a host in `dir` whose rule `r` has a kinesis action into stream `far` of a remote
/// endpoint nobody listens on (every put fails, after its retries), with `extra` lines after
/// the action, and publishes one message to it (acknowledged).
fn publish_one_to_nowhere(dir: &Path, extra: &str) -> Weir {
    let nowhere = free_port();
    let cfg = small_config(
        dir,
        "listen = \"127.0.0.1:0\"",
        "127.0.0.1:0",
        &format!(
            "[[rules.r.actions]]\nkind = \"kinesis\"\nstream = \"far\"\npartition_key = \"k\"\n\
             endpoint = \"http://127.0.0.1:{nowhere}\"\n{extra}"
        ),
    );
    let weir = Weir::start(&cfg);
    let out = pub_in("127.0.0.1", weir.mqtt, &[]);
    assert!(out.status.success());
    weir
}

fn weir_dead_letters(dir: &Path) -> usize {
    files(&dir.join("data/dead-letters")).len()
}

#[test]
fn a_failure_without_an_error_action_is_stored_as_a_dead_letter() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let weir = publish_one_to_nowhere(tmp.path(), "");
    weir.wait_metric("weir_dead_letters_total", 1);
    let (status, _) = weir.terminate();
    assert!(status.success());
    let dir = tmp.path().join("data/dead-letters");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("dead-letter folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).expect("read");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["ruleName"], "r");
    assert_eq!(lines[0]["topic"], "in/x");
    assert_eq!(lines[0]["failures"][0]["failedAction"], "KinesisAction");
}
