//! End-to-end check of the `weir rule test` contract: stdout, stderr and exit codes, exactly as
//! outside tests rely on them.

use std::process::Command;

const SEED: &str = r#"{"iottimestamp":"2019-09-12 03:14:48.123456","licensePlate":"95B•140","longitude":"-84.5","latitude":"30.1","city":"X","state":"Y","speed":"82"}"#;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["rule", "test"])
        .args(args)
        .output()
        .expect("weir rule test runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn fires_and_prints_one_json_line() {
    let (code, out, err) = run(&[
        "--sql",
        "SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75",
        "--topic",
        "rtr/iot/trafficdata",
        "--payload",
        SEED,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{SEED}\n"));
    assert!(err.is_empty());
}

#[test]
fn keys_in_select_order_and_clientid() {
    let (code, out, _) = run(&[
        "--sql",
        "SELECT speed, clientid() AS c, licensePlate AS p FROM 'rtr/iot/trafficdata'",
        "--topic",
        "rtr/iot/trafficdata",
        "--payload",
        SEED,
        "--clientid",
        "pi-7",
    ]);
    assert_eq!(code, 0);
    assert_eq!(out, "{\"speed\":\"82\",\"c\":\"pi-7\",\"p\":\"95B•140\"}\n");
}

#[test]
fn select_value_prints_bare_value() {
    let (code, out, _) = run(&[
        "--sql",
        "SELECT VALUE speed FROM 'rtr/iot/trafficdata'",
        "--topic",
        "rtr/iot/trafficdata",
        "--payload",
        SEED,
    ]);
    assert_eq!((code, out.as_str()), (0, "\"82\"\n"));
}

#[test]
fn not_fired_prints_null() {
    let (code, out, _) = run(&[
        "--sql",
        "SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75",
        "--topic",
        "rtr/iot/trafficdata",
        "--payload",
        r#"{"speed":"70"}"#,
    ]);
    assert_eq!((code, out.as_str()), (0, "null\n"));
}

#[test]
fn invalid_sql_exits_2_with_every_diagnostic() {
    let (code, out, err) = run(&[
        "--sql",
        "SELECT foo(a)\nFROM 'a/#/b'\nWHERE bar(1)",
        "--topic",
        "a/b",
        "--payload",
        "{}",
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(
        err,
        "error: unknown function foo (line 1, column 8)\n\
         error: invalid topic filter 'a/#/b': '#' must be a whole level and the last level of a topic filter (line 2, column 6)\n\
         error: unknown function bar (line 3, column 7)\n"
    );
}
