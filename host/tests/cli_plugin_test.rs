//! `weir plugin test` runs the built component on sample input and prints every record's
//! outcome.

mod common;
mod plugin_langs;

use std::path::{Path, PathBuf};
use std::process::Command;

fn input(tag: &str, lines: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "weir-plugin-test-{tag}-{}.jsonl",
        std::process::id()
    ));
    std::fs::write(&path, lines).expect("write input");
    path
}

/// `weir plugin test` of the built component `plugin` on `input` with `extra` arguments: its
/// success, stdout and stderr.
fn plugin_test(plugin: &str, input: &Path, extra: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["plugin", "test"])
        .arg(common::component(plugin))
        .arg("--input")
        .arg(input)
        .args(extra)
        .output()
        .expect("run weir");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_filter_reports_kept_dropped_and_failed_per_record() {
    let file = input(
        "filter",
        "{\"speed\":\"82\"}\n{\"speed\":60}\n\n{\"plate\":\"X\"}\n{\"speed\":\"fast\"}\n",
    );
    let (ok, out, err) = plugin_test("speed-limit", &file, &["--config", "limit=70"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("# filter speed-limit version "), "{out}");
    // Line numbers are the input's, blank lines skipped.
    assert!(out.contains("1\tkept\n"), "{out}");
    assert!(out.contains("2\tdropped\n"), "{out}");
    assert!(
        out.contains("4\tfailed: missing-field: field `speed` is missing\n"),
        "{out}"
    );
    assert!(
        out.contains("5\tfailed: bad-value: field `speed`: \"fast\" is not a number\n"),
        "{out}"
    );
    assert!(out.contains("# 4 records, 2 failed"), "{out}");
    let _ = std::fs::remove_file(file);
}

#[test]
fn a_transformer_with_a_table_and_an_emitter_with_its_outbox() {
    let drivers = common::repo().join("examples/speeding/data/driver_data.csv");
    let table = format!("drivers={}:licensePlate", drivers.display());
    let file = input(
        "join",
        "{\"licensePlate\":\"855TOP\",\"speed\":\"94\"}\n{\"licensePlate\":\"NOPE\"}\n",
    );
    let (ok, out, err) = plugin_test("owner-enrich", &file, &["--table", &table]);
    assert!(ok, "{err}");
    assert!(out.contains("1\t-> {\"licensePlate\":\"855TOP\",\"speed\":\"94\",\"first_name\":\"Joseph\",\"last_name\":\"Roberts\",\"myphone\":\"8324498188\"}"), "{out}");
    assert!(
        out.contains("2\tfailed: unknown-key: licensePlate \"NOPE\" is not in table \"drivers\""),
        "{out}"
    );

    let joined = input("emit", "{\"iottimestamp\":\"t\",\"licensePlate\":\"855TOP\",\"longitude\":\"1\",\"latitude\":\"2\",\"city\":\"C\",\"state\":\"S\",\"speed\":\"94\",\"first_name\":\"Joseph\",\"last_name\":\"Roberts\",\"myphone\":\"8324498188\"}\n");
    let (ok, out, err) = plugin_test("sms-alert", &joined, &[]);
    assert!(ok, "{err}");
    assert!(out.contains("1\tdelivered"), "{out}");
    assert!(out.contains("outbox\tnotify sms +18324498188: \"To Joseph Roberts, \\n Your vehicle with licenseplate 855TOP"), "{out}");
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(joined);
}

#[test]
fn bad_input_is_named_with_its_line() {
    let file = input("bad", "{\"ok\":1}\nnot json\n");
    let (ok, _, err) = plugin_test("speed-limit", &file, &[]);
    assert!(!ok);
    assert!(err.contains(":2: not JSON"), "{err}");
    let _ = std::fs::remove_file(file);
}

/// The five Firehose blueprints, each run by `weir plugin test` on the sample input its docs
/// point to, give exactly the outcomes in `examples/records.expected` (the header lines, which
/// hold the build's version and load time, are left out). This is the check that the built
/// components, not only their native unit tests, do what their docs show.
#[test]
fn every_blueprint_example_gives_its_expected_output() {
    let blueprints: [(&str, &str, &[&str]); 5] = [
        ("apache-log-to-json", "records.log", &["--raw"]),
        ("apache-log-to-csv", "records.log", &["--raw"]),
        ("syslog-to-json", "records.log", &["--raw"]),
        ("syslog-to-csv", "records.log", &["--raw"]),
        (
            "general-processing",
            "records.jsonl",
            &["--config", "append_newline=true"],
        ),
    ];
    for (name, input, extra) in blueprints {
        let examples = common::repo().join("plugins").join(name).join("examples");
        let (ok, out, err) = plugin_test(name, &examples.join(input), extra);
        assert!(ok, "{name}: {err}");
        assert!(
            out.starts_with(&format!("# transformer {name} version ")),
            "{name}: {out}"
        );
        let outcomes: String = out
            .split_inclusive('\n')
            .filter(|line| !line.starts_with("# transformer ") && !line.starts_with("# imports"))
            .collect();
        let expected_path = examples.join("records.expected");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        assert_eq!(outcomes, expected, "{name}: {}", expected_path.display());
    }
}
