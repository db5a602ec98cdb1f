//! Streams declared in a config file are created by `weir streams serve --config` and, like
//! streams created through the API, persist across restarts; config mistakes are reported with
//! the file, line and key path.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn serve(config: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["streams", "serve", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn weir streams serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, addr)
}

fn shard_count(addr: &str, stream: &str) -> usize {
    let (status, body) = common::call(
        addr,
        "ListShards",
        &serde_json::json!({"StreamName": stream}),
    )
    .expect("ListShards");
    assert_eq!(status, 200, "{body}");
    body["Shards"].as_array().map_or(0, Vec::len)
}

#[test]
fn declared_streams_are_created_and_persist_with_api_created_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        "[api]\nlisten = \"127.0.0.1:0\"\n\n[storage]\ndir = \"data\"\nfsync = \"always\"\n\n\
         [streams.alerts]\nshards = 3\nretention_hours = 48\n",
    )
    .expect("write config");

    let (mut server, addr) = serve(&config);
    assert_eq!(shard_count(&addr, "alerts"), 3);
    let (status, body) = common::call(
        &addr,
        "CreateStream",
        &serde_json::json!({"StreamName": "adhoc", "ShardCount": 2}),
    )
    .expect("CreateStream");
    assert_eq!(status, 200, "{body}");
    server.kill().expect("kill");
    server.wait().expect("wait");

    // Restart: both are still there, and the declared one is not created twice.
    let (mut server, addr) = serve(&config);
    assert_eq!(shard_count(&addr, "alerts"), 3);
    let (_, summary) = common::call(
        &addr,
        "DescribeStreamSummary",
        &serde_json::json!({"StreamName": "alerts"}),
    )
    .expect("DescribeStreamSummary");
    assert_eq!(
        summary["StreamDescriptionSummary"]["RetentionPeriodHours"], 48,
        "{summary}"
    );
    let (_, list) =
        common::call(&addr, "ListStreams", &serde_json::json!({})).expect("ListStreams");
    let names: Vec<&str> = list["StreamNames"]
        .as_array()
        .expect("names")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(names, vec!["adhoc", "alerts"]);
    assert!(
        dir.path().join("data/streams").is_dir(),
        "storage dir is relative to the config file"
    );
    server.kill().expect("kill");
    let _ = server.wait();
}

#[test]
fn config_mistakes_are_reported_with_line_and_key_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        "[api]\nlisten = \"127.0.0.1:0\"\n\n[streams.alerts]\nshards = 0\n[streams.other]\nshrads = 2\n",
    )
    .expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["streams", "serve", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("weir.toml:5:") && err.contains("streams.alerts.shards"),
        "{err}"
    );
    assert!(
        err.contains("weir.toml:7:") && err.contains("streams.other.shrads"),
        "{err}"
    );
    assert!(err.contains("2 configuration errors"), "{err}");
}
