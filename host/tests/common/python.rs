//! The Python suites (`tests/py`, boto3 and the AWS CLI) run against a Weir on loopback:
//! their requirements installed when missing, and one `python3 -m unittest` run that must pass
//! every case, shared by the Kinesis and the Firehose suite.

use std::path::Path;
use std::process::Command;

/// Installs `tests/py/requirements.txt` with pip unless `present` (the suite's own check of
/// what it imports). One install at a time, across the tests of a binary and across binaries:
/// two pips writing the same site-packages at once corrupt it (a fresh machine's CI run lost
/// botocore that way), so each takes an exclusive lock on a file in the target folder, and a
/// pip that finds everything already installed by the one before it has nothing to do.
pub fn install_requirements_unless(present: bool) {
    if present {
        return;
    }
    let lock_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pip-install.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap_or_else(|e| panic!("open {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", lock_path.display()));
    let req = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/requirements.txt");
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
    // The lock is released when `lock` is dropped here.
}

/// Runs `python3 tests/py/SCRIPT ARGS` with the test credentials (the region us-east-1) and
/// returns what it did; the caller judges it.
#[allow(dead_code)] // Not every test binary that includes `common` runs a script.
pub fn run_script(script: &str, args: &[String]) -> std::process::Output {
    Command::new("python3")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/py")
                .join(script),
        )
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("run python3")
}

/// Runs `python3 -m unittest -v MODULES` in `tests/py` against the Weir API at `api`
/// (`WEIR_ENDPOINT`), with test credentials and `env`; fails unless every case ran and passed
/// (`what` names the suite in the failure).
pub fn run_unittest(what: &str, modules: &[&str], api: &str, env: &[(&str, String)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .args(["-m", "unittest", "-v"])
        .args(modules)
        .current_dir(root.join("tests/py"))
        .env("WEIR_ENDPOINT", format!("http://{api}"))
        .envs(env.iter().map(|(k, v)| (k, v)))
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
    assert!(out.status.success(), "{what} failed:\n{text}");
    assert!(text.contains("OK"), "{what} did not report OK:\n{text}");
    // Every case must run: a skipped case would hide a missing server command or client.
    assert!(!text.contains("skipped"), "{what} skipped cases:\n{text}");
}
