//! Runs the boto3 / AWS CLI Firehose suite (`tests/py/test_firehose.py`) against `weir run`,
//! delivering to moto's S3 server (`moto[server]` from PyPI), both on loopback ports the system gives.
//! Installs `tests/py/requirements.txt` with pip when boto3, moto, cramjam or the AWS CLI is
//! missing. `test_firehose_features.py` runs in the same server, which loads the blueprint
//! plugins it transforms with and declares the table it converts to Parquet with.

mod common;
#[path = "../cluster/tests/common/mod.rs"]
mod nats;

use std::process::Command;

fn python_deps_present() -> bool {
    let py = Command::new("python3")
        .args([
            "-c",
            "import boto3, cramjam, pyarrow.parquet, moto.server, awscli, botocore.session, sys; \
             ops = botocore.session.get_session().get_service_model('firehose').operation_names; \
             sys.exit(0 if 'PutRecordBatch' in ops else 1)",
        ])
        .status();
    let cli = Command::new("aws").arg("--version").output();
    matches!(py, Ok(s) if s.success()) && matches!(cli, Ok(o) if o.status.success())
}

#[test]
fn boto3_and_aws_cli_firehose_suite() {
    run_suite("Firehose suite", "");
}

/// The same suite against a `weir run` whose delivery streams (catalog, buffers, checkpoints)
/// and streams live on a real 3-node JetStream cluster (`[cluster]`), under a prefix of its
/// own.
#[test]
fn boto3_and_aws_cli_firehose_suite_on_a_nats_cluster() {
    let cluster = nats::NatsCluster::shared();
    let servers: Vec<String> = cluster.urls().iter().map(|u| format!("{u:?}")).collect();
    let section = format!(
        "\n[cluster]\nnats = [{}]\nreplicas = 3\nprefix = \"fhsuite{}\"\n",
        servers.join(", "),
        nats::fresh_uid()
    );
    run_suite("Firehose suite on a NATS cluster", &section);
}

/// Runs both modules against one `weir run` with `extra` appended to its configuration.
fn run_suite(what: &str, extra: &str) {
    common::python::install_requirements_unless(python_deps_present());
    let moto = common::moto::start();
    let s3 = moto.endpoint.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("weir.toml");
    let text = common::base_config("transition_ms = 100\n")
        + &format!(
            "\n[s3]\nendpoint_url = \"{s3}\"\nregion = \"us-east-1\"\n\
             access_key_id = \"AKIDTEST\"\nsecret_access_key = \"secret\"\n"
        )
        + &format!(
            "\n[plugins.apache-log-to-json]\npath = {:?}\n\
             \n[plugins.speed-limit]\npath = {:?}\ngrants = [\"config\"]\n\
             \n[firehose]\n# The HTTP endpoint tests' server is on 127.0.0.1; nothing else non-public.\n\
             allowed_endpoints = [\"127.0.0.1\"]\n\
             \n[[firehose.tables]]\ndatabase = \"weir\"\ntable = \"cars\"\n\
             columns = [\"car string\", \"speed double\", \"seen timestamp\", \"laps bigint\", \"ok boolean\"]\n",
            common::component("apache-log-to-json"),
            common::component("speed-limit"),
        )
        + extra;
    std::fs::write(&config, text).expect("write config");
    let weir = common::Weir::start(&config);
    common::python::run_unittest(
        what,
        &["test_firehose", "test_firehose_features"],
        &weir.api,
        &[("S3_ENDPOINT", s3)],
    );
}
