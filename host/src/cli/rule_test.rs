//! `weir rule test --sql SQL --topic TOPIC --payload JSON [--clientid ID]`.
//!
//! The contract outside tests rely on: the rule's output as one line of JSON on stdout (keys in
//! SELECT order; a bare value for SELECT VALUE) or `null` when the rule does not fire, exit 0.
//! SQL that does not parse or type-check: one `error: ... (line L, column C)` line per problem
//! on stderr, exit 2. A failure while evaluating (e.g. a lookup with no tables): exit 1.

use std::io::Write;
use std::process::ExitCode;

use weir_rules::{rule_test, RuleTestError};

pub fn run(
    sql: &str,
    topic: &str,
    payload: &str,
    client_id: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    match rule_test(sql, topic, payload.as_bytes(), client_id, now_ms) {
        Ok(out) => {
            let mut line = out.to_line();
            line.push(b'\n');
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&line)?;
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(RuleTestError::Invalid(diagnostics)) => {
            for d in diagnostics {
                eprintln!("error: {d}");
            }
            Ok(ExitCode::from(2))
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
