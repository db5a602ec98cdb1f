//! The conformance cases' files are well-formed: what `weir analytics test` and the runner
//! (`conformance.rs`) read has the documented shape, so a case fails for what the engine
//! does, never for a typo in its files. Also the comparison rules the runner applies.

mod support;

use serde_json::{json, Value};
use support::{compare, known_differences, load_cases, values_match, verdict};

fn is_iso_ms(v: &Value) -> bool {
    // 2019-01-01T10:00:00.000Z: ISO-8601 UTC with milliseconds, as the test command prints.
    v.as_str().is_some_and(|s| {
        s.len() == 24
            && s.ends_with('Z')
            && chrono::DateTime::parse_from_rfc3339(s).is_ok()
            && s.as_bytes()[19] == b'.'
    })
}

fn check_input_schema(v: &Value, what: &str) {
    let format = v["RecordFormat"]["RecordFormatType"].as_str();
    assert!(
        matches!(format, Some("JSON") | Some("CSV")),
        "{what}: RecordFormat.RecordFormatType must be JSON or CSV"
    );
    assert_eq!(v["RecordEncoding"], "UTF-8", "{what}: RecordEncoding");
    let cols = v["RecordColumns"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: RecordColumns"));
    assert!(!cols.is_empty(), "{what}: RecordColumns is empty");
    for c in cols {
        assert!(
            c["Name"].is_string() && c["SqlType"].is_string(),
            "{what}: column {c}"
        );
        if format == Some("JSON") {
            assert!(
                c["Mapping"].as_str().is_some_and(|m| m.starts_with('$')),
                "{what}: JSON column {c} needs a JSONPath Mapping"
            );
        }
    }
}

#[test]
fn every_case_has_the_documented_shape() {
    let cases = load_cases().unwrap_or_else(|e| panic!("{e}"));
    assert!(cases.len() >= 25, "only {} cases", cases.len());
    for case in &cases {
        let name = &case.name;
        assert!(!case.code.trim().is_empty(), "{name}: empty app.sql");
        let schema: Value = serde_json::from_str(&case.schema)
            .unwrap_or_else(|e| panic!("{name}/schema.json: {e}"));
        check_input_schema(&schema, &format!("{name}/schema.json"));
        let csv = schema["RecordFormat"]["RecordFormatType"] == "CSV";
        let input = support::parse_lines(&case.input)
            .unwrap_or_else(|(l, e)| panic!("{name}/input.jsonl:{l}: {e}"));
        assert!(!input.is_empty(), "{name}: no input");
        let mut last = String::new();
        for (i, row) in input.iter().enumerate() {
            let at = format!("{name}/input.jsonl:{}", i + 1);
            assert!(
                is_iso_ms(&row["rowtime"]),
                "{at}: rowtime {}",
                row["rowtime"]
            );
            let t = row["rowtime"].as_str().unwrap_or_default().to_string();
            assert!(t >= last, "{at}: rowtime goes back ({t} < {last})");
            last = t;
            if csv {
                assert!(
                    row["data"].is_string(),
                    "{at}: a CSV record is a JSON string"
                );
            } else {
                assert!(row["data"].is_object(), "{at}: a JSON record is an object");
            }
        }
        assert!(
            case.expected_error_line.is_none() || !case.dir.join("expected.jsonl").exists(),
            "{name}: both expected.jsonl and expected_error.json"
        );
        for (i, row) in case.expected.iter().enumerate() {
            let at = format!("{name}/expected.jsonl:{}", i + 1);
            assert!(row["stream"].is_string(), "{at}: no stream");
            assert!(
                is_iso_ms(&row["ROWTIME"]),
                "{at}: ROWTIME {}",
                row["ROWTIME"]
            );
            if row["stream"] == "error_stream" {
                for col in [
                    "ERROR_TIME",
                    "ERROR_LEVEL",
                    "ERROR_NAME",
                    "MESSAGE",
                    "DATA_ROWTIME",
                    "DATA_ROW",
                    "PUMP_NAME",
                ] {
                    assert!(
                        row.get(col).is_some(),
                        "{at}: error_stream row without {col}"
                    );
                }
            }
        }
        if let Some(r) = &case.reference {
            let r: Value =
                serde_json::from_str(r).unwrap_or_else(|e| panic!("{name}/reference.json: {e}"));
            assert!(
                r["TableName"].is_string(),
                "{name}/reference.json: TableName"
            );
            check_input_schema(
                &r["ReferenceSchema"],
                &format!("{name}/reference.json ReferenceSchema"),
            );
            assert!(r["Rows"].is_array(), "{name}/reference.json: Rows");
        }
    }
}

#[test]
fn known_differences_name_existing_cases() {
    let cases: Vec<String> = load_cases()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|c| c.name)
        .collect();
    for name in known_differences().unwrap_or_else(|e| panic!("{e}")).keys() {
        assert!(
            cases.contains(name),
            "KNOWN_DIFFERENCES.md lists `{name}`, which is no case"
        );
    }
}

#[test]
fn numbers_match_by_value_and_as_float32() {
    assert!(values_match(&json!(2.0), &json!(2)));
    // A REAL column holds 33.11 as float32; printed at double precision it still matches.
    assert!(values_match(&json!(33.11), &json!(33.11000061035156)));
    assert!(!values_match(&json!(33.11), &json!(33.12)));
    assert!(!values_match(&json!(1), &json!("1")));
    assert!(!values_match(&json!(null), &json!(0)));
    // Integers compare exactly, beyond what a double holds.
    assert!(!values_match(
        &json!(9007199254740993_i64),
        &json!(9007199254740992_i64)
    ));
    assert!(values_match(
        &json!(9007199254740993_i64),
        &json!(9007199254740993_i64)
    ));
}

#[test]
fn any_matches_a_present_column_only() {
    let e = json!({"stream": "error_stream", "MESSAGE": {"$any": "not documented"}});
    assert!(values_match(
        &e,
        &json!({"stream": "error_stream", "MESSAGE": "division by zero"})
    ));
    assert!(!values_match(&e, &json!({"stream": "error_stream"})));
    assert!(!values_match(
        &e,
        &json!({"stream": "error_stream", "MESSAGE": "x", "EXTRA": 1})
    ));
}

#[test]
fn rows_of_one_rowtime_compare_as_a_set() {
    let a = json!({"stream": "S", "ROWTIME": "2019-01-01T10:01:00.000Z", "K": "a"});
    let b = json!({"stream": "S", "ROWTIME": "2019-01-01T10:01:00.000Z", "K": "b"});
    let c = json!({"stream": "S", "ROWTIME": "2019-01-01T10:02:00.000Z", "K": "a"});
    assert!(compare(
        &[a.clone(), b.clone(), c.clone()],
        &[b.clone(), a.clone(), c.clone()]
    )
    .is_ok());
    // Rows one input row makes in two streams: the docs fix no order between streams.
    let other = json!({"stream": "T", "ROWTIME": "2019-01-01T10:01:00.000Z", "K": "a"});
    assert!(compare(&[a.clone(), other.clone()], &[other.clone(), a.clone()]).is_ok());
    // Across ROWTIMEs the order is emission order.
    assert!(compare(&[a.clone(), c.clone()], &[c.clone(), a.clone()]).is_err());
    // A missing or an extra row is a mismatch, and the diff shows it.
    let err = compare(&[a.clone(), b.clone()], std::slice::from_ref(&a)).unwrap_err();
    assert!(err.contains("- ") && err.contains("\"b\""), "{err}");
    assert!(compare(std::slice::from_ref(&a), &[a.clone(), a.clone()]).is_err());
}

#[test]
fn a_listed_case_must_differ_and_an_unlisted_one_must_match() {
    let why = "a reason".to_string();
    assert_eq!(verdict("c", "u", &Ok(()), None), ("pass", None));
    assert_eq!(
        verdict("c", "u", &Err("diff".into()), Some(&why)),
        ("known", None)
    );
    let (status, failure) = verdict("c", "u", &Ok(()), Some(&why));
    assert_eq!(status, "FAIL");
    assert!(failure.is_some_and(|f| f.contains("now matches")));
    let (status, failure) = verdict("c", "u", &Err("- a\n+ b\n".into()), None);
    assert_eq!(status, "FAIL");
    assert!(failure.is_some_and(|f| f.contains("u") && f.contains("+ b")));
}
