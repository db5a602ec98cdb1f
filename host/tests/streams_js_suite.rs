//! Runs the JavaScript suite (`tests/js/test_kinesis.mjs`: the AWS SDK for JavaScript v3,
//! whose Kinesis client speaks HTTP/2, SubscribeToShard included) against a freshly started
//! server on a free loopback port. Installs the pinned client from npm (`npm ci`, from
//! `tests/js/package-lock.json`) when it is missing.

mod common;

use std::path::Path;
use std::process::Command;

/// The suite's own `node_modules` holds the pinned client.
fn client_installed(js: &Path) -> bool {
    js.join("node_modules/@aws-sdk/client-kinesis/package.json")
        .is_file()
}

#[test]
fn aws_sdk_for_javascript_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let js = root.join("tests/js");
    if !client_installed(&js) {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&js)
            .output()
            .expect("run npm (Node.js and npm are installed by `cargo xtask test`)");
        assert!(
            out.status.success(),
            "npm ci failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::Server::start(
        dir.path(),
        &["--fsync", "interval", "--transition-ms", "100"],
    );
    let out = Command::new("node")
        .args(["--test-reporter=tap", "test_kinesis.mjs"])
        .current_dir(&js)
        .env("WEIR_ENDPOINT", format!("http://{}", server.addr))
        // The SDK must take the test's endpoint and keys, never a profile or a real region.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_KINESIS")
        .output()
        .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "JavaScript suite failed:\n{text}");
    // Every case must run and pass: a skipped or cancelled one would hide a broken transport.
    for line in ["# fail 0", "# cancelled 0", "# skipped 0"] {
        assert!(
            text.contains(line),
            "JavaScript suite lacks `{line}`:\n{text}"
        );
    }
    let passed = text
        .lines()
        .find_map(|l| l.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0);
    assert!(
        passed >= 7,
        "JavaScript suite passed {passed} cases:\n{text}"
    );
}
