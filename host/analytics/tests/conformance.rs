//! Runs every conformance case (`tests/conformance/<case>/`, one documented KDA example each)
//! through `weir_analytics::harness::run_test`, the same entry point as `weir analytics test`,
//! and compares the printed rows with `expected.jsonl` (rules in `support::compare`), or, for
//! code the docs say is refused, checks the compile error's line (`expected_error.json`).
//!
//! A case listed in `KNOWN_DIFFERENCES.md` must not match (the file says why); any other
//! mismatch fails, and so does a listed case that starts matching. `CONFORMANCE_CASE=name`
//! runs one case. The summary lists every case as pass, fail or known.

mod support;

use support::{compare, known_differences, load_cases, parse_lines, verdict, Case};
use weir_analytics::harness::HarnessError;

enum Outcome {
    Pass,
    Fail(String),
}

fn run(case: &Case) -> Outcome {
    let result = weir_analytics::harness::run_test(
        &case.code,
        &case.schema,
        &case.input,
        case.reference.as_deref(),
    );
    if let Some(line) = case.expected_error_line {
        return match result {
            Err(HarnessError::Compile(e)) if e.line == line => Outcome::Pass,
            Err(e) => Outcome::Fail(format!(
                "expected a compile error on line {line}, got: {e}\n"
            )),
            Ok(out) => Outcome::Fail(format!(
                "expected a compile error on line {line}, but the code ran:\n{out}"
            )),
        };
    }
    let out = match result {
        Ok(out) => out,
        Err(e) => return Outcome::Fail(format!("run_test failed: {e}\n")),
    };
    let actual = match parse_lines(&out) {
        Ok(rows) => rows,
        Err((line, e)) => {
            return Outcome::Fail(format!("output line {line} is not JSON: {e}\n{out}"))
        }
    };
    match compare(&case.expected, &actual) {
        Ok(()) => Outcome::Pass,
        Err(diff) => Outcome::Fail(diff),
    }
}

#[test]
fn documented_examples_conform() {
    let only = std::env::var("CONFORMANCE_CASE").ok();
    let cases = load_cases().unwrap_or_else(|e| panic!("{e}"));
    let known = known_differences().unwrap_or_else(|e| panic!("{e}"));
    let mut summary = Vec::new();
    let mut failures = Vec::new();
    for case in cases
        .iter()
        .filter(|c| only.as_deref().is_none_or(|o| o == c.name))
    {
        let outcome = match run(case) {
            Outcome::Pass => Ok(()),
            Outcome::Fail(diff) => Err(diff),
        };
        let (status, failure) = verdict(&case.name, &case.url, &outcome, known.get(&case.name));
        failures.extend(failure);
        summary.push(format!("{status:5} {}", case.name));
    }
    println!("{}", summary.join("\n"));
    let total = summary.len();
    assert!(total > 0, "no case is named {only:?}");
    assert!(
        failures.is_empty(),
        "{} of {total} conformance cases failed:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
