//! Logs written to a pipe or a file are plain text: no ANSI colour escapes (the `weir` binary
//! colours its log lines only when stderr is a terminal and `NO_COLOR` is unset).

use std::process::{Command, Stdio};

/// `weir streams serve` with a `--verify-key` logs a warning before anything else, then stops
/// on the malformed key: a log line without a listener, a store or a config file.
fn warning_through_a_pipe() -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weir"));
    cmd.args(["streams", "serve", "--dir"])
        .arg(dir.path().join("streams"))
        .args(["--verify-key", "no-colon-here"])
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    let out = cmd.output().expect("weir runs");
    assert!(!out.status.success(), "a key without ':' is refused");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("WARN") && err.contains("--verify-key is visible"),
        "the warning is logged: {err:?}"
    );
    err
}

#[test]
fn log_lines_to_a_pipe_carry_no_escape_bytes() {
    let err = warning_through_a_pipe();
    assert!(
        !err.contains('\u{1b}'),
        "ANSI escape in piped stderr: {err:?}"
    );
}
