//! Runs the Python suite (boto3, the AWS CLI, raw JSON and CBOR requests) against a
//! freshly started server on a free loopback port. Installs `tests/py/requirements.txt`
//! with pip when boto3, cbor2 or the AWS CLI is missing.

mod common;
#[path = "../cluster/tests/common/mod.rs"]
mod nats;

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

/// The same suite against `weir streams serve --nats`: every stream on a real 3-node
/// JetStream cluster (R3, `sync_interval: always`) instead of a folder. The suite's extra
/// servers get a prefix of their own (`WEIR_SERVER_FRESH_NATS_PREFIX`), as separate
/// deployments on one cluster would.
#[test]
fn boto3_and_aws_cli_suite_on_a_nats_cluster() {
    common::python::install_requirements_unless(python_deps_present());
    let cluster = nats::NatsCluster::start();
    let mut flags = vec!["--transition-ms".to_owned(), "100".to_owned()];
    for url in cluster.urls() {
        flags.extend(["--nats".to_owned(), url]);
    }
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    // With --nats the folder stays empty: the streams live on the cluster.
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::Server::start(dir.path(), &flag_refs);
    let nats_flags = cluster
        .urls()
        .iter()
        .map(|u| format!("--nats {u}"))
        .collect::<Vec<_>>()
        .join(" ");
    common::python::run_unittest(
        "python suite on a NATS cluster",
        &["test_kinesis", "test_kinesis_ops"],
        &server.addr,
        &[
            (
                "WEIR_SERVER_CMD",
                format!("{} streams serve {nats_flags}", env!("CARGO_BIN_EXE_weir")),
            ),
            ("WEIR_SERVER_FRESH_NATS_PREFIX", "1".to_owned()),
        ],
    );
}
