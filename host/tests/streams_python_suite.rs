//! Runs the Python suite (boto3, the AWS CLI, raw JSON and CBOR requests) against a
//! freshly started server on a free loopback port. Installs `tests/py/requirements.txt`
//! with pip when boto3, cbor2 or the AWS CLI is missing.

mod common;

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
    common::python::install_requirements_unless(python_deps_present());
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::Server::start(
        dir.path(),
        &["--fsync", "interval", "--transition-ms", "100"],
    );
    common::python::run_unittest(
        "python suite",
        &["test_kinesis", "test_kinesis_ops"],
        &server.addr,
        &[(
            "WEIR_SERVER_CMD",
            format!("{} streams serve", env!("CARGO_BIN_EXE_weir")),
        )],
    );
}
