//! Runs the Python suite (boto3, the AWS CLI, raw JSON and CBOR requests) against a
//! freshly started server on a free loopback port. Installs `tests/py/requirements.txt`
//! with pip when boto3, cbor2 or the AWS CLI is missing.

mod common;

use std::path::Path;
use std::process::Command;

/// boto3, cbor2 and the AWS CLI importable, and a botocore new enough to know every stream
/// operation the suite calls (UpdateStreamRecordDistributionStrategy is the newest).
fn python_deps_present() -> bool {
    let py = Command::new("python3")
        .args([
            "-c",
            "import boto3, cbor2, awscli, botocore.session, sys; \
             ops = botocore.session.get_session().get_service_model('kinesis').operation_names; \
             sys.exit(0 if 'UpdateStreamRecordDistributionStrategy' in ops else 1)",
        ])
        .status();
    let cli = Command::new("aws").arg("--version").output();
    matches!(py, Ok(s) if s.success()) && matches!(cli, Ok(o) if o.status.success())
}

#[test]
fn boto3_and_aws_cli_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !python_deps_present() {
        let req = root.join("tests/py/requirements.txt");
        let out = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--upgrade", "-r"])
            .arg(&req)
            .output()
            .expect("run pip");
        assert!(
            out.status.success(),
            "pip install failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::Server::start(
        dir.path(),
        &["--fsync", "interval", "--transition-ms", "100"],
    );
    let out = Command::new("python3")
        .args(["-m", "unittest", "-v", "test_kinesis", "test_kinesis_ops"])
        .current_dir(root.join("tests/py"))
        .env("WEIR_ENDPOINT", format!("http://{}", server.addr))
        .env(
            "WEIR_SERVER_CMD",
            format!("{} streams serve", env!("CARGO_BIN_EXE_weir")),
        )
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("PYTHONWARNINGS", "ignore::ResourceWarning")
        .output()
        .expect("run python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "python suite failed:\n{text}");
    assert!(
        text.contains("OK"),
        "python suite did not report OK:\n{text}"
    );
    // Every case must run: a skipped case would hide a missing server command or client.
    assert!(
        !text.contains("skipped"),
        "python suite skipped cases:\n{text}"
    );
}
