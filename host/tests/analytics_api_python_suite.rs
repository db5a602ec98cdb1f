//! Runs the boto3 `kinesisanalytics` suite (`tests/py/test_analytics.py`) against `weir run`
//! (API on a port the system gives, streams `cars` and `speeding`): the class `Applications`,
//! then weir stopped and started again on the same storage and configuration, then
//! `AfterRestart`, which finds the application the first phase left running. Installs
//! `tests/py/requirements.txt` with pip when boto3 lacks the service.

mod common;

use std::process::Command;

fn python_deps_present() -> bool {
    let py = Command::new("python3")
        .args([
            "-c",
            "import boto3, botocore.session, sys; \
             ops = botocore.session.get_session().get_service_model('kinesisanalytics').operation_names; \
             sys.exit(0 if 'CreateApplication' in ops else 1)",
        ])
        .status();
    matches!(py, Ok(s) if s.success())
}

#[test]
fn boto3_kinesisanalytics_suite() {
    common::python::install_requirements_unless(python_deps_present());
    let dir = tempfile::tempdir().expect("tempdir");
    let text = common::base_config("")
        + "\n[streams.cars]\nshards = 1\n\n[streams.speeding]\nshards = 1\n";
    let config = common::write_config(dir.path(), &text);

    let weir = common::Weir::start(&config);
    common::python::run_unittest(
        "kinesisanalytics suite",
        &["test_analytics.Applications"],
        &weir.api,
        &[],
    );
    let (status, _) = weir.terminate();
    assert!(status.success(), "weir run exited with {status}");

    let weir = common::Weir::start(&config);
    common::python::run_unittest(
        "kinesisanalytics suite after a restart",
        &["test_analytics.AfterRestart"],
        &weir.api,
        &[],
    );
}
