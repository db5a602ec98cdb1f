//! A small `weir run` config (one rule `r` on `in/#`, one stream `out`) with the broker, API
//! and actions given by the test, and the `mosquitto_pub` that feeds it: shared by the
//! `run_*` tests that each check one edge of the host.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Weir;

pub fn small_config(dir: &Path, broker: &str, api: &str, actions: &str) -> PathBuf {
    let text = format!(
        r#"
[broker]
{broker}

[api]
listen = "{api}"

[storage]
dir = "data"

[streams.out]

[rules.r]
sql = "SELECT * FROM 'in/#'"
{actions}
"#
    );
    let path = dir.join("weir.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// The kinesis action of [`small_config`]'s rule, into stream `out`.
pub const TO_OUT: &str =
    "[[rules.r.actions]]\nkind = \"kinesis\"\nstream = \"out\"\npartition_key = \"k\"\n";

/// One `mosquitto_pub -q 1` of `{}` to `in/x` on `host:port`, with `extra` arguments.
pub fn pub_in(host: &str, port: u16, extra: &[&str]) -> std::process::Output {
    Command::new("mosquitto_pub")
        .args(["-h", host, "-p", &port.to_string(), "-q", "1"])
        .args(["-t", "in/x", "-m", "{}"])
        .args(extra)
        .output()
        .expect("mosquitto_pub")
}

/// Checks that the `pub_in` whose output is `published` was accepted, waits for its message
/// to reach stream `out`, then stops the host.
pub fn expect_one_delivered_and_stop(weir: Weir, published: &std::process::Output) {
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="r",action="0:kinesis:out"}"#,
        1,
    );
    let (status, _) = weir.terminate();
    assert!(status.success());
}
