//! The shared JSON-helper vectors (`test-vectors/json-fields.json`) against this SDK. The
//! Python and JavaScript SDKs run the same file, so all three give the same answers; this
//! test keeps the file true to the Rust SDK, the reference.

use weir_sdk::serde_json::{self, Value};
use weir_sdk::{json, Record, RecordError};

fn run(case: &Value) -> Result<Value, RecordError> {
    let text = case["payload"].as_str().expect("payload text");
    let field = case["field"].as_str().expect("field name");
    let object = Record::new(text).json_object()?;
    match case["helper"].as_str().expect("helper name") {
        "number_field" => json::number_field(&object, field).map(Value::from),
        "string_field" => json::string_field(&object, field).map(Value::from),
        "field" => json::field(&object, field).cloned(),
        other => panic!("unknown helper {other}"),
    }
}

#[test]
fn every_shared_vector_holds_for_the_rust_sdk() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/json-fields.json");
    let text = std::fs::read_to_string(path).expect("the vectors file");
    let doc: Value = serde_json::from_str(&text).expect("the vectors are JSON");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 50, "{} cases", cases.len());
    for (i, case) in cases.iter().enumerate() {
        let got = run(case);
        match (got, case.get("ok")) {
            (Ok(v), Some(want)) => {
                let same = match (v.as_f64(), want.as_f64()) {
                    (Some(a), Some(b)) if v.is_number() => a == b,
                    _ => &v == want,
                };
                assert!(same, "case {i} {case}: got {v}");
            }
            (Ok(v), None) => panic!("case {i} {case}: expected an error, got {v}"),
            (Err(e), Some(_)) => panic!("case {i} {case}: expected a value, got {e}"),
            (Err(e), None) => {
                assert_eq!(
                    Some(e.code.as_str()),
                    case["error"].as_str(),
                    "case {i} {case}"
                );
                if let Some(m) = case.get("message") {
                    assert_eq!(Some(e.message.as_str()), m.as_str(), "case {i} {case}");
                }
                for part in case
                    .get("message_contains")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let part = part.as_str().expect("text");
                    assert!(e.message.contains(part), "case {i} {case}: {e}");
                }
            }
        }
    }
}
