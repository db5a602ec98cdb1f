//! Data-driven tests: the AWS conformance suite and the fuzz-corpus replay.

use serde_json::Value;

use super::{rule_test, EvalContext, RuleTestError, RuleTestOutput, Template};

/// `timestamp()` in the conformance suite.
const NOW_MS: i64 = 1_600_000_000_000;

/// JSON equality with a relative tolerance on decimals, so libm differences
/// in the last bit of `cosh` and friends do not fail a case.
fn approx_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
                return i == j;
            }
            match (x.as_f64(), y.as_f64()) {
                (Some(p), Some(q)) => p == q || (p - q).abs() <= 1e-12 * p.abs().max(q.abs()),
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| approx_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            // Key order matters: outputs keep SELECT order.
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && approx_eq(v1, v2))
        }
        _ => a == b,
    }
}

fn run_case(case: &Value) -> Result<(), String> {
    let s = |k: &str| case.get(k).and_then(Value::as_str);
    let topic = s("topic").ok_or("case has no topic")?;
    let payload: Vec<u8> = match (case.get("payload"), s("payload_text")) {
        (_, Some(t)) => t.as_bytes().to_vec(),
        (Some(p), None) => serde_json::to_vec(p).map_err(|e| e.to_string())?,
        (None, None) => return Err("case has no payload".into()),
    };
    let client = s("clientid");
    let expected_errors: Option<Vec<&str>> = case
        .get("expect_error")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect());

    if let Some(tpl) = s("template") {
        return check_template(case, tpl, topic, &payload, client, expected_errors);
    }

    let sql = s("sql").ok_or("case has no sql")?;
    let got = rule_test(sql, topic, &payload, client, NOW_MS);
    match (got, expected_errors) {
        (Err(RuleTestError::Invalid(diags)), Some(want)) => check_diagnostics(&diags, &want),
        (Ok(out), None) => {
            if let Some(b) = s("expect_binary") {
                return match out {
                    RuleTestOutput::Binary(bytes) if bytes == b.as_bytes() => Ok(()),
                    other => Err(format!("expected binary {b:?}, got {other:?}")),
                };
            }
            let want = case.get("expect").ok_or("case has no expectation")?;
            let got = out
                .as_json()
                .ok_or_else(|| format!("expected JSON, got {out:?}"))?;
            if approx_eq(&got, want) {
                Ok(())
            } else {
                Err(format!("got {got}, expected {want}"))
            }
        }
        (got, want) => Err(format!("got {got:?}, expected errors {want:?}")),
    }
}

/// A template case: renders `tpl` against the message and compares the text, or the error
/// with every expected fragment.
fn check_template(
    case: &Value,
    tpl: &str,
    topic: &str,
    payload: &[u8],
    client: Option<&str>,
    expected_errors: Option<Vec<&str>>,
) -> Result<(), String> {
    let json = super::parse_payload(payload);
    let mut cx = EvalContext::new(topic, payload, json.as_ref());
    cx.client_id = client;
    cx.timestamp_ms = NOW_MS;
    let rendered = Template::parse(tpl)
        .map_err(|d| {
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .and_then(|t| t.render(&cx).map_err(|e| e.to_string()));
    match (rendered, expected_errors, case.get("expect")) {
        (Ok(got), None, Some(Value::String(want))) if &got == want => Ok(()),
        (Err(got), Some(want), _) if want.iter().all(|w| got.contains(w)) => Ok(()),
        (got, _, want) => Err(format!("template rendered {got:?}, expected {want:?}")),
    }
}

/// A refused rule's diagnostics: each carries its position, there are as many as expected
/// when more than one is, and each expected fragment is in one of them.
fn check_diagnostics(diags: &[impl ToString], want: &[&str]) -> Result<(), String> {
    let printed: Vec<String> = diags.iter().map(ToString::to_string).collect();
    for d in &printed {
        if !d.ends_with(')') || !d.contains(" (line ") {
            return Err(format!("diagnostic without position: {d}"));
        }
    }
    if want.len() > 1 && printed.len() != want.len() {
        return Err(format!(
            "expected {} diagnostics, got {printed:?}",
            want.len()
        ));
    }
    for w in want {
        if !printed.iter().any(|p| p.contains(w)) {
            return Err(format!(
                "expected a diagnostic containing {w:?}, got {printed:?}"
            ));
        }
    }
    Ok(())
}

/// Every case of `testdata/conformance.jsonl`; all failures are reported
/// together, by name.
#[test]
fn aws_conformance_suite() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/testdata/conformance.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("conformance suite");
    let mut failures = Vec::new();
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        count += 1;
        let case: Value = match serde_json::from_str(line) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("line {}: invalid JSON: {e}", i + 1));
                continue;
            }
        };
        let name = case
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        if case
            .get("source")
            .and_then(Value::as_str)
            .is_none_or(|s| !s.contains("https://"))
        {
            failures.push(format!("{name}: no source URL"));
        }
        if let Err(e) = run_case(&case) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(count >= 150, "only {count} conformance cases");
    assert!(
        failures.is_empty(),
        "{} of {count} conformance cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Replays every file of the fuzz corpus through the parser (CI has no
/// nightly toolchain, so this is how the corpus is exercised).
#[test]
fn fuzz_corpus_replay() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/parse_rule");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("fuzz corpus directory") {
        let path = entry.expect("corpus entry").path();
        let bytes = std::fs::read(&path).expect("corpus file");
        let sql = String::from_utf8_lossy(&bytes);
        if let Ok(rule) = super::Rule::compile(&sql) {
            let payload = br#"{"a":1,"b":{"c":[1,2,3]},"speed":"82","s":"x"}"#;
            let json = super::parse_payload(payload);
            let cx = EvalContext::new("a/b/c", payload, json.as_ref());
            let _ = rule.evaluate(&cx);
        }
        n += 1;
    }
    assert!(n >= 50, "fuzz corpus has only {n} files");
}

struct Drivers;

impl super::RowLookup for Drivers {
    fn lookup(
        &self,
        table: &str,
        key_column: &str,
        key: &str,
    ) -> Result<Option<serde_json::Map<String, Value>>, super::LookupError> {
        if table != "drivers" {
            return Err(super::LookupError::NoSuchTable(table.into()));
        }
        if key_column != "licensePlate" {
            return Err(super::LookupError::NoSuchColumn {
                table: table.into(),
                column: key_column.into(),
            });
        }
        Ok((key == "95B•140").then(|| {
            let mut m = serde_json::Map::new();
            m.insert("first_name".into(), "Ann".into());
            m.insert("myphone".into(), "555".into());
            m
        }))
    }
}

#[test]
fn get_dynamodb_reads_lookup_tables() {
    let sql = "SELECT licensePlate, get_dynamodb('drivers', 'licensePlate', licensePlate, \
               'arn:aws:iam::1:role/r').first_name AS owner FROM 'rtr/iot/trafficdata'";
    let rule = super::Rule::compile(sql).expect("compiles");
    let payload = br#"{"licensePlate":"95B\u2022140"}"#;
    let json = super::parse_payload(payload);
    let mut cx = EvalContext::new("rtr/iot/trafficdata", payload, json.as_ref());
    assert!(matches!(
        rule.evaluate(&cx),
        Err(super::EvalError::NoLookupTables { .. })
    ));
    cx.lookup = Some(&Drivers);
    let out = rule.evaluate_json(&cx).expect("evaluates");
    assert_eq!(
        out,
        Some(serde_json::json!({"licensePlate": "95B•140", "owner": "Ann"}))
    );
    let missing = super::Rule::compile(
        "SELECT get_dynamodb('cars', 'k', 'v', 'arn') AS x FROM 'rtr/iot/trafficdata'",
    )
    .expect("compiles");
    assert!(matches!(
        missing.evaluate(&cx),
        Err(super::EvalError::Lookup { .. })
    ));
}

/// The shadows `get_thing_shadow` reads in these tests: `lamp`'s classic shadow and its
/// named shadow `battery`; `broken` cannot be read.
struct Shadows;

impl super::ShadowLookup for Shadows {
    fn shadow(
        &self,
        thing: &str,
        shadow_name: Option<&str>,
    ) -> Result<Option<Value>, super::LookupError> {
        match (thing, shadow_name) {
            ("lamp", None) => Ok(Some(serde_json::json!({
                "state": {"reported": {"alarm": "ON", "color": "red"}},
                "metadata": {"reported": {"alarm": {"timestamp": 1}, "color": {"timestamp": 1}}},
                "version": 3,
                "timestamp": 2
            }))),
            ("lamp", Some("battery")) => Ok(Some(serde_json::json!({
                "state": {"reported": {"level": 41}},
                "version": 1,
                "timestamp": 2
            }))),
            ("broken", _) => Err(super::LookupError::Other("shadow file damaged".into())),
            _ => Ok(None),
        }
    }
}

/// AWS's examples ("SQL functions", get_thing_shadow): the classic shadow by thing name and
/// role ARN, a named shadow with the shadow name in between, in WHERE and in SELECT.
#[test]
fn get_thing_shadow_reads_the_hosts_shadows() {
    const ROLE: &str = "'arn:aws:iam::123456789012:role/AllowsThingShadowAccess'";
    let eval = |sql: &str, shadows: Option<&dyn super::ShadowLookup>| {
        let rule = super::Rule::compile(sql).expect("compiles");
        let payload = br#"{"thing":"lamp","n":1}"#;
        let json = super::parse_payload(payload);
        let mut cx = EvalContext::new("things/lamp/ping", payload, json.as_ref());
        cx.shadows = shadows;
        rule.evaluate_json(&cx)
    };
    let classic = format!(
        "SELECT * FROM 'things/+/ping' WHERE get_thing_shadow('lamp', {ROLE}).state.reported.alarm = 'ON'"
    );
    assert_eq!(
        eval(&classic, Some(&Shadows)).expect("evaluates"),
        Some(serde_json::json!({"thing": "lamp", "n": 1}))
    );
    let named = format!(
        "SELECT get_thing_shadow(topic(2), 'battery', {ROLE}).state.reported.level AS level, \
         get_thing_shadow(thing, {ROLE}).version AS v FROM 'things/+/ping'"
    );
    assert_eq!(
        eval(&named, Some(&Shadows)).expect("evaluates"),
        Some(serde_json::json!({"level": 41, "v": 3}))
    );
    // A missing shadow is Undefined: the WHERE is false, the field absent.
    let missing = format!(
        "SELECT get_thing_shadow('nobody', {ROLE}) AS s, n FROM 'things/+/ping' \
         WHERE isUndefined(get_thing_shadow('lamp', 'nope', {ROLE}))"
    );
    assert_eq!(
        eval(&missing, Some(&Shadows)).expect("evaluates"),
        Some(serde_json::json!({"n": 1}))
    );
    // A shadow that cannot be read, or a host without shadows, fails the message.
    let broken = format!("SELECT get_thing_shadow('broken', {ROLE}) AS s FROM 'things/+/ping'");
    assert!(matches!(
        eval(&broken, Some(&Shadows)),
        Err(super::EvalError::Lookup {
            function: "get_thing_shadow",
            ..
        })
    ));
    assert!(matches!(
        eval(&classic, None),
        Err(super::EvalError::NoShadows { .. })
    ));
}

#[test]
fn rule_set_routes_by_topic() {
    let mut set = super::RuleSet::new();
    for (id, sql) in [
        (
            "speeding",
            "SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75",
        ),
        ("all", "SELECT * FROM 'rtr/#'"),
        ("other", "SELECT * FROM 'fleet/+/pos'"),
    ] {
        set.insert(id, super::Rule::compile(sql).expect("compiles"));
    }
    let mut hit: Vec<&str> = set
        .matching("rtr/iot/trafficdata")
        .into_iter()
        .map(|(id, _)| *id)
        .collect();
    hit.sort_unstable();
    assert_eq!(hit, ["all", "speeding"]);
    assert!(set.matching("nothing/here").is_empty());
    assert!(set.remove(&"all").is_some());
    assert_eq!(set.matching("rtr/iot/trafficdata").len(), 1);
}

#[test]
fn template_positions_and_rendering() {
    let err = Template::parse("a/${topic(}/b").expect_err("invalid");
    assert_eq!(err.len(), 1);
    assert!(
        err[0].to_string().ends_with("(line 1, column 11)"),
        "{}",
        err[0]
    );
    let t = Template::parse("${topic(2)}/${newuuid()}").expect("valid");
    let cx = EvalContext::new("a/b", b"{}", None);
    let s = t.render(&cx).expect("renders");
    assert!(s.starts_with("b/") && s.len() == 2 + 36, "{s}");
}

#[test]
fn context_functions_read_the_context() {
    let rule = super::Rule::compile(
        "SELECT principal() AS p, sourceip() AS ip, traceid() AS t, clientid() AS c, \
         timestamp() AS ts, topic(2) AS t2 FROM 'a/+'",
    )
    .expect("compiles");
    let msg = super::Message::new("a/b", b"{}".to_vec());
    let mut cx = msg.context();
    let out = rule.evaluate_json(&cx).expect("evaluates");
    assert_eq!(
        out,
        Some(serde_json::json!({"c": "n/a", "ts": 0, "t2": "b"}))
    );
    cx.principal = Some("cert-1");
    cx.source_ip = Some("10.0.0.7");
    cx.trace_id = Some("tr-1");
    cx.client_id = Some("pi");
    cx.timestamp_ms = 42;
    let out = rule.evaluate_json(&cx).expect("evaluates");
    assert_eq!(
        out,
        Some(serde_json::json!({
            "p": "cert-1", "ip": "10.0.0.7", "t": "tr-1", "c": "pi", "ts": 42, "t2": "b"
        }))
    );
}
