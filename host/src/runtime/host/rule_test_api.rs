//! `POST /rules/test`: one rule evaluated against one message, over HTTP, through the same
//! rules engine as `weir rule test` (`weir_rules::rule_test`), for tools and for the console.
//!
//! Request: `{"sql": ..., "topic": ..., "payload": JSON, "clientid": ...}` (`clientid`
//! optional). Answers, all JSON:
//! - 200 `{"output": JSON}`: what the rule produced, or `null` when it does not fire (the topic
//!   does not match its FROM filter, or its WHERE is not true);
//! - 400 `{"error": ..., "line": L, "column": C, "errors": [...]}` for SQL that does not parse
//!   or type-check (the first problem, and every problem in `errors`);
//! - 400 `{"error": ...}` for a request that is not such an object, or a rule that fails on
//!   this message (a function given a wrong argument, a lookup with no tables).
//!
//! It sits behind the admin guard, like the plugin routes: it runs SQL the caller wrote.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use weir_api::admin::reply;
use weir_rules::{rule_test, RuleTestError, RuleTestOutput};

/// A request body beyond this is refused: AWS IoT's largest message is 128 KiB, and a rule's
/// SQL is at most a few KiB.
pub(super) const MAX_BODY: usize = 512 << 10;

/// The route, without its guard.
pub(super) fn router() -> Router {
    Router::new().route(
        "/rules/test",
        post(test).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY)),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    sql: String,
    topic: String,
    payload: Value,
    #[serde(default)]
    clientid: Option<String>,
}

async fn test(body: Bytes) -> Response {
    let req: TestRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({ "error": format!("the request is not {{\"sql\", \"topic\", \"payload\", \"clientid\"}}: {e}") }),
            )
        }
    };
    if let Some(why) = topic_problem(&req.topic) {
        return reply(StatusCode::BAD_REQUEST, json!({ "error": why }));
    }
    // Evaluation is synchronous and may take a while on a large payload: off the API's
    // async workers.
    match tokio::task::spawn_blocking(move || answer(&req)).await {
        Ok((status, body)) => reply(status, body),
        Err(e) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": format!("the rule test stopped: {e}") }),
        ),
    }
}

/// Why `topic` cannot be a message's topic, if it cannot.
fn topic_problem(topic: &str) -> Option<String> {
    if topic.is_empty() {
        return Some("`topic` is empty; a message has a topic".into());
    }
    if topic.contains(['+', '#']) {
        return Some(format!(
            "`topic` {topic:?} holds a wildcard; give the topic a message is published on"
        ));
    }
    if topic.contains('\0') {
        return Some("`topic` holds a NUL character".into());
    }
    None
}

/// The status and body for one request.
fn answer(req: &TestRequest) -> (StatusCode, Value) {
    let payload = match serde_json::to_vec(&req.payload) {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                json!({ "error": format!("`payload`: {e}") }),
            )
        }
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    match rule_test(
        &req.sql,
        &req.topic,
        &payload,
        req.clientid.as_deref(),
        now_ms,
    ) {
        Ok(out) => (StatusCode::OK, json!({ "output": output_json(out) })),
        Err(RuleTestError::Invalid(diagnostics)) => {
            let errors: Vec<Value> = diagnostics
                .iter()
                .map(|d| json!({ "error": d.message, "line": d.line, "column": d.column }))
                .collect();
            let mut first = errors
                .first()
                .cloned()
                .unwrap_or_else(|| json!({ "error": "invalid rule SQL", "line": 1, "column": 1 }));
            if let Value::Object(map) = &mut first {
                map.insert("errors".into(), Value::Array(errors));
            }
            (StatusCode::BAD_REQUEST, first)
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            json!({ "error": format!("the rule failed on this message: {e}") }),
        ),
    }
}

/// The rule's output as JSON. The payload here is always JSON, so a binary output (`SELECT *`
/// over a payload that is not JSON) cannot occur; it would be given as text.
fn output_json(out: RuleTestOutput) -> Value {
    match out {
        RuleTestOutput::Binary(b) => Value::String(String::from_utf8_lossy(&b).into_owned()),
        other => other.as_json().unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: Value) -> (StatusCode, Value) {
        let req: TestRequest = serde_json::from_value(body).expect("request");
        answer(&req)
    }

    #[test]
    fn the_seed_rule_fires_on_a_speeding_car_and_not_on_a_slow_one() {
        let sql = "SELECT * FROM 'iot/speed' WHERE speed > 75";
        let (status, body) = run(json!({
            "sql": sql, "topic": "iot/speed",
            "payload": {"licensePlate": "855TOP", "speed": 94, "city": "Johnfort"},
        }));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"output": {"licensePlate": "855TOP", "speed": 94, "city": "Johnfort"}})
        );
        let (status, body) = run(json!({
            "sql": sql, "topic": "iot/speed", "payload": {"speed": 68},
        }));
        assert_eq!((status, body), (StatusCode::OK, json!({"output": null})));
        // A topic the FROM filter does not match: the rule does not fire.
        let (_, body) = run(json!({"sql": sql, "topic": "other", "payload": {"speed": 99}}));
        assert_eq!(body, json!({"output": null}));
    }

    #[test]
    fn clientid_and_select_value_reach_the_engine() {
        let (status, body) = run(json!({
            "sql": "SELECT VALUE clientid() FROM 'a/+'", "topic": "a/b",
            "payload": {}, "clientid": "car-7",
        }));
        assert_eq!((status, body), (StatusCode::OK, json!({"output": "car-7"})));
    }

    #[test]
    fn bad_sql_answers_the_first_problem_with_its_line_and_column() {
        let (status, body) = run(json!({
            "sql": "SELECT *\nFROM 'a/b'\nWHERE speed >", "topic": "a/b", "payload": {},
        }));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
        assert_eq!(body["line"], json!(3), "{body}");
        assert!(body["column"].as_u64().is_some_and(|c| c >= 1), "{body}");
        assert!(body["errors"].as_array().is_some_and(|e| !e.is_empty()));
    }

    #[test]
    fn a_topic_with_a_wildcard_or_nothing_is_refused() {
        assert!(topic_problem("a/#").is_some());
        assert!(topic_problem("a/+/b").is_some());
        assert!(topic_problem("").is_some());
        assert!(topic_problem("$aws/things/t/shadow/update").is_none());
        assert!(topic_problem("é/x").is_none());
    }
}
