//! A `firehose` action without `delivery_stream` writes Firehose objects under its `root`.
//! This pins what those objects hold, byte for byte, and how their keys are shaped, through
//! `weir demo`'s own path (`runtime::replay`: in-process, no broker): records one per line in
//! arrival order, `!{timestamp:...}` prefixes, the default `YYYY/MM/DD/HH/` prefix, a
//! plugin stage's failures as Firehose's `processing-failed` JSON lines under
//! `!{firehose:error-output-type}`, and the rule's error action (itself a folder action)
//! holding AWS's error payloads. Keys end in `NAME-1-yyyy-MM-dd-HH-mm-ss-UUID`, `NAME` being
//! the plan's `RULE-INDEX-firehose`. Then, under `weir run`, what the action's implicit
//! delivery stream keeps across a SIGKILL.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use weir_host::runtime::{replay, Message};

const KNOWN: [&str; 2] = ["4-2288B", "855TOP"];
const STRANGER: &str = "ZZ-0000";

fn config(dir: &Path) -> std::path::PathBuf {
    let text = common::base_config("")
        + &format!(
            r#"
[tables.drivers]
file = {drivers:?}
key = "licensePlate"

[tables.rows]
key = "licensePlate"

[plugins.owner-enrich]
path = {enrich:?}
grants = ["config", "lookup", "log"]
params = {{ table = "drivers", columns = "first_name,last_name" }}
tables = ["drivers"]

[rules.arch]
sql = "SELECT * FROM 'cars/#'"

[[rules.arch.actions]]
kind = "firehose"
root = "data/archive"
prefix = "arch/!{{timestamp:yyyy}}/"
error_prefix = "fail/!{{firehose:error-output-type}}/!{{timestamp:yyyy}}/"
buffer_bytes = 1048576
buffer_interval_ms = 60000
transformers = ["owner-enrich"]

[[rules.arch.actions]]
kind = "firehose"
root = "data/plain"

[[rules.arch.actions]]
kind = "table"
table = "rows"
key = "${{missing}}"

[rules.arch.error_action]
kind = "firehose"
root = "data/errors"
prefix = "e/"
buffer_interval_ms = 1000
"#,
            drivers = common::repo().join("examples/speeding/data/driver_data.csv"),
            enrich = common::component("owner-enrich"),
        );
    let path = dir.join("weir.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn payloads() -> Vec<String> {
    let mut out = Vec::new();
    for (i, plate) in [KNOWN[0], STRANGER, KNOWN[1], KNOWN[0]].iter().enumerate() {
        out.push(format!(
            r#"{{"licensePlate":"{plate}","speed":"{}","n":{i}}}"#,
            70 + i
        ));
    }
    out
}

/// `NAME-1-yyyy-MM-dd-HH-mm-ss-UUID` after `prefix`, the time's digits anywhere.
fn assert_key_shape(key: &str, prefix_shape: &str, name: &str) {
    let shape: String = key
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    let (head, uuid) = shape.split_at(shape.len().saturating_sub(36));
    let want = format!("{prefix_shape}{name}-9-9999-99-99-99-99-99-");
    let name_digits: String = want
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(head, name_digits, "{key}");
    assert!(
        uuid.len() == 36
            && uuid.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            }),
        "{key}: no UUID at the end"
    );
}

/// Every object under `root` (temp files would be a bug too: they are listed).
fn objects(root: &Path) -> BTreeMap<String, Vec<u8>> {
    common::files(root)
}

#[test]
fn folder_action_objects_hold_what_they_always_held() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = weir_config::Config::load(config(dir.path())).expect("config");
    let started = chrono::Utc::now().timestamp_millis();
    let topic: Arc<str> = Arc::from("cars/1");
    let sent = payloads();
    let report = replay(
        &cfg,
        sent.iter().map(|p| Message {
            topic: topic.clone(),
            payload: Bytes::from(p.clone()),
            client_id: Some(Arc::from("pin")),
        }),
    )
    .expect("replay");
    let ended = chrono::Utc::now().timestamp_millis();
    assert_eq!(report.not_acknowledged, 0, "{report:?}");
    let data = dir.path().join("data");

    check_plain(&data, &sent);
    check_transformed(&data, &sent, (started, ended));
    check_error_action(&data, &sent);
}

/// No stage: the records as they came, one per line, one object, default hour prefix.
fn check_plain(data: &Path, sent: &[String]) {
    let plain = objects(&data.join("plain"));
    assert_eq!(plain.len(), 1, "{:?}", plain.keys());
    let (key, body) = plain.iter().next().expect("one object");
    assert_key_shape(key, "9999/99/99/99/", "arch-1-firehose");
    let want: String = sent.iter().map(|p| format!("{p}\n")).collect();
    assert_eq!(String::from_utf8_lossy(body), want);
}

/// With a transformer: its outputs, one per line; the stranger is a processing failure,
/// written as Firehose writes it (field for field and in its order, timestamps within the
/// run).
fn check_transformed(data: &Path, sent: &[String], (started, ended): (i64, i64)) {
    let archive = objects(&data.join("archive"));
    let (data_objects, failed): (Vec<_>, Vec<_>) =
        archive.iter().partition(|(k, _)| k.starts_with("arch/"));
    assert_eq!(data_objects.len(), 1, "{:?}", archive.keys());
    let (key, body) = data_objects[0];
    assert_key_shape(key, "arch/9999/", "arch-0-firehose");
    let enriched = String::from_utf8_lossy(body);
    assert_eq!(
        enriched,
        concat!(
            r#"{"licensePlate":"4-2288B","speed":"70","n":0,"first_name":"Laurie","last_name":"Mullins"}"#,
            "\n",
            r#"{"licensePlate":"855TOP","speed":"72","n":2,"first_name":"Joseph","last_name":"Roberts"}"#,
            "\n",
            r#"{"licensePlate":"4-2288B","speed":"73","n":3,"first_name":"Laurie","last_name":"Mullins"}"#,
            "\n",
        )
    );
    assert_eq!(failed.len(), 1, "{:?}", archive.keys());
    let (key, body) = failed[0];
    assert_key_shape(key, "fail/processing-failed/9999/", "arch-0-firehose");
    let text = String::from_utf8_lossy(body);
    assert!(text.ends_with('\n') && text.lines().count() == 1, "{text}");
    let line: Value = serde_json::from_str(text.trim_end()).expect("JSON line");
    let arrival = line["arrivalTimestamp"].as_i64().expect("arrival");
    let ending = line["attemptEndingTimestamp"].as_i64().expect("ending");
    assert!((started..=ended).contains(&arrival), "{line}");
    assert!((arrival..=ended).contains(&ending), "{line}");
    let reason = line["errorMessage"].as_str().expect("message").to_owned();
    assert!(
        reason.contains("owner-enrich") && reason.contains(STRANGER),
        "{reason}"
    );
    // Field for field and in Firehose's order, timestamps aside.
    assert_eq!(
        text.trim_end()
            .replace(
                &format!(r#""arrivalTimestamp":{arrival},"#),
                r#""arrivalTimestamp":ARRIVAL,"#
            )
            .replace(
                &format!(r#""attemptEndingTimestamp":{ending},"#),
                r#""attemptEndingTimestamp":ENDING,"#
            ),
        format!(
            r#"{{"attemptsMade":1,"arrivalTimestamp":ARRIVAL,"errorCode":{},"errorMessage":{},"attemptEndingTimestamp":ENDING,"rawData":{}}}"#,
            line["errorCode"],
            Value::String(reason.clone()),
            Value::String(base64(sent[1].as_bytes())),
        )
    );
    assert_eq!(line["errorCode"], "unknown-key", "{line}");
}

/// The error action: AWS's error payload per failed message, one per line.
fn check_error_action(data: &Path, sent: &[String]) {
    let errors = objects(&data.join("errors"));
    let mut lines = Vec::new();
    for (key, body) in &errors {
        assert_key_shape(key, "e/9999/99/99/99/", "arch-error-firehose");
        let text = String::from_utf8_lossy(body);
        assert!(text.ends_with('\n'), "{text}");
        lines.extend(text.lines().map(str::to_owned));
    }
    assert_eq!(lines.len(), sent.len(), "{lines:?}");
    for (line, payload) in lines.iter().zip(sent) {
        assert_eq!(
            line,
            &format!(
                r#"{{"ruleName":"arch","topic":"cars/1","clientId":"pin","base64OriginalPayload":"{}","failures":[{{"failedAction":"DynamoDBv2Action","failedResource":"rows","errorMessage":"template \"${{missing}}\": substitution ${{missing}} is undefined for this message"}}]}}"#,
                base64(payload.as_bytes())
            )
        );
    }
}

/// A folder action flushed once a minute, its pipeline handing records on at once.
fn archive(root: &str) -> String {
    format!(
        "[[rules.keep.actions]]\nkind = \"firehose\"\nroot = \"data/{root}\"\n\
         buffer_interval_ms = 60000\nbuffer = {{ max_age_ms = 0 }}\n"
    )
}

fn write_config(dir: &Path, actions: &[String]) -> std::path::PathBuf {
    let text = format!(
        "{}\n[rules.keep]\nsql = \"SELECT * FROM 'keep/#'\"\n{}",
        common::base_config(""),
        actions.concat()
    );
    let path = dir.join("weir.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// The ids in the objects under `root`.
fn ids(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = objects(root)
        .into_values()
        .flat_map(|bytes| {
            String::from_utf8(bytes)
                .expect("utf8")
                .lines()
                .map(|l| {
                    let v: Value = serde_json::from_str(l).expect("json line");
                    v["id"].as_str().expect("id").to_owned()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}

/// A folder action's records are acknowledged once its implicit delivery stream's buffer has
/// them (a minute before any object is due), and the API does not list that stream. After a
/// SIGKILL the restarted host delivers them under the action's root even though the action
/// is gone, and not to the folder action that took its place in the file: the stream is the
/// action's by what it is, not by its position.
#[test]
fn a_folder_action_keeps_its_buffer_across_sigkill_and_delivers_it_once_gone() {
    const N: usize = 50;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), &[archive("archive")]);
    let mut weir = common::Weir::start(&cfg);
    let mqtt = weir.mqtt;
    let messages: Vec<(String, Vec<u8>)> = (0..N)
        .map(|i| {
            (
                "keep/a".to_owned(),
                format!(r#"{{"id":"m{i:02}"}}"#).into_bytes(),
            )
        })
        .collect();
    common::publish_all(mqtt, &messages);
    let (status, listed) = common::call_target(
        &weir.api,
        "Firehose_20150804.ListDeliveryStreams",
        &serde_json::json!({}),
    )
    .expect("list");
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["DeliveryStreamNames"], serde_json::json!([]));
    assert!(
        objects(&dir.path().join("data/archive")).is_empty(),
        "an object was written early: the test proves nothing"
    );
    let _ = weir.child.kill(); // SIGKILL: the records are in the Firehose buffer only
    let _ = weir.child.wait();

    write_config(dir.path(), &[archive("other")]);
    let weir = common::Weir::start(&cfg);
    assert!(weir.get("/health").starts_with("HTTP/1.1 200"));
    let (status, _) = weir.terminate(); // a clean stop delivers what the buffers hold
    assert!(status.success(), "{status}");
    assert_eq!(ids(&dir.path().join("data/other")), Vec::<String>::new());
    let want: Vec<String> = (0..N).map(|i| format!("m{i:02}")).collect();
    assert_eq!(ids(&dir.path().join("data/archive")), want);
}

fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}
