//! Routing, refusals and error rendering of the data plane, and its operations on a real
//! shadow store with a recording broker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine as _;
use weir_shadow::ShadowService;
use weir_sigv4::{format_amz_date, sha256_hex, sign, CanonicalRequest, ALGORITHM};

use super::request::{parse, Operation, ShadowTarget};
use super::*;
use crate::{ApiConfig, ApiState};

fn op(method: Method, uri: &str) -> Result<Operation, IotError> {
    op_with(method, uri, &HeaderMap::new())
}

fn op_with(method: Method, uri: &str, headers: &HeaderMap) -> Result<Operation, IotError> {
    let uri: Uri = uri.parse().expect("uri");
    parse(&method, uri.path(), uri.query(), headers)
}

fn target(thing: &str, name: Option<&str>) -> ShadowTarget {
    ShadowTarget {
        thing: thing.into(),
        shadow_name: name.map(Into::into),
    }
}

fn publish_of(o: Result<Operation, IotError>) -> HttpPublish {
    match o.expect("publish") {
        Operation::Publish(p) => p,
        other => panic!("not a publish: {other:?}"),
    }
}

#[test]
fn the_model_s_paths_and_methods_name_the_five_operations() {
    assert_eq!(
        op(Method::GET, "/things/car-1/shadow").expect("get"),
        Operation::GetThingShadow(target("car-1", None))
    );
    assert_eq!(
        op(Method::POST, "/things/car-1/shadow?name=conf%24ig").expect("update"),
        Operation::UpdateThingShadow(target("car-1", Some("conf$ig")))
    );
    assert_eq!(
        op(Method::DELETE, "/things/a%3Ab/shadow?name=x").expect("delete"),
        Operation::DeleteThingShadow(target("a:b", Some("x")))
    );
    assert_eq!(
        op(
            Method::GET,
            "/api/things/shadow/ListNamedShadowsForThing/car-1?pageSize=2&nextToken=b"
        )
        .expect("list"),
        Operation::ListNamedShadowsForThing {
            thing: "car-1".into(),
            next_token: Some("b".into()),
            page_size: Some(2),
        }
    );
    let p = publish_of(op(Method::POST, "/topics/cars%2Fspeed?qos=1&retain=false"));
    assert_eq!(
        (p.topic.as_str(), p.qos, p.retain),
        ("cars/speed", 1, false)
    );
    assert!(p.properties.is_empty());
    // Levels spelled out in the path mean the same topic.
    assert_eq!(
        publish_of(op(Method::POST, "/topics/cars/speed")).topic,
        "cars/speed"
    );
}

#[test]
fn publishing_on_a_subscribe_only_reserved_topic_is_refused() {
    for topic in [
        "%24aws%2Fthings%2Fcar-1%2Fshadow%2Fupdate%2Faccepted",
        "%24aws%2Fthings%2Fcar-1%2Fshadow%2Fname%2Fcfg%2Fupdate%2Fdelta",
        "%24aws%2Fevents%2Fpresence%2Fconnected%2Fc1",
    ] {
        let e = op(Method::POST, &format!("/topics/{topic}?qos=1")).expect_err(topic);
        assert_eq!((e.status, e.error_type), (400, "InvalidRequestException"));
    }
    // A shadow request and Basic Ingest are AWS's to take from clients.
    for topic in [
        "%24aws%2Fthings%2Fcar-1%2Fshadow%2Fupdate",
        "%24aws%2Frules%2Fr1%2Fa",
    ] {
        publish_of(op(Method::POST, &format!("/topics/{topic}")));
    }
}

#[test]
fn a_wrong_method_is_aws_s_method_not_allowed() {
    for (m, uri) in [
        (Method::PUT, "/things/t/shadow"),
        (Method::PATCH, "/things/t/shadow"),
        (
            Method::POST,
            "/api/things/shadow/ListNamedShadowsForThing/t",
        ),
        (Method::GET, "/topics/a"),
    ] {
        let e = op(m.clone(), uri).expect_err("refused");
        assert_eq!(
            (e.status, e.error_type),
            (405, "MethodNotAllowedException"),
            "{m} {uri}"
        );
    }
}

#[test]
fn bad_parameters_are_invalid_requests() {
    for uri in [
        "/topics/a?qos=2",
        "/topics/a?qos=x",
        "/topics/a?retain=yes",
        "/topics/a%2F%2B",
        "/topics/a%2F%23",
        "/topics/a?messageExpiry=-1",
        "/topics/a?messageExpiry=604801",
        "/topics/a?responseTopic=r%2F%23",
        "/topics/%FF",
    ] {
        let e = op(Method::POST, uri).expect_err(uri);
        assert_eq!(
            (e.status, e.error_type),
            (400, "InvalidRequestException"),
            "{uri}"
        );
    }
    let long = format!("/topics/{}", "a".repeat(257));
    assert_eq!(op(Method::POST, &long).expect_err("long").status, 400);
    assert!(op(Method::POST, &format!("/topics/{}", "a".repeat(256))).is_ok());
    for size in ["0", "101", "x"] {
        let uri = format!("/api/things/shadow/ListNamedShadowsForThing/t?pageSize={size}");
        assert_eq!(op(Method::GET, &uri).expect_err(&uri).status, 400);
    }
}

#[test]
fn mqtt5_properties_are_read_from_the_headers_and_query() {
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let mut h = HeaderMap::new();
    h.insert(
        "x-amz-mqtt5-user-properties",
        b64(br#"[{"deviceName": "alpha"}, {"deviceCnt": "45"}]"#)
            .parse()
            .expect("hdr"),
    );
    h.insert(
        "x-amz-mqtt5-payload-format-indicator",
        "UTF8_DATA".parse().expect("hdr"),
    );
    h.insert(
        "x-amz-mqtt5-correlation-data",
        b64(b"\x01\x02").parse().expect("hdr"),
    );
    let p = publish_of(op_with(
        Method::POST,
        "/topics/t?contentType=text%2Fplain&responseTopic=r%2F1&messageExpiry=60",
        &h,
    ));
    assert_eq!(
        p.properties,
        Mqtt5Properties {
            user_properties: vec![
                ("deviceName".into(), "alpha".into()),
                ("deviceCnt".into(), "45".into())
            ],
            payload_format_utf8: Some(true),
            content_type: Some("text/plain".into()),
            response_topic: Some("r/1".into()),
            correlation_data: Some(vec![1, 2]),
            message_expiry_secs: Some(60),
        }
    );
    for (name, value) in [
        ("x-amz-mqtt5-user-properties", "not base64!"),
        ("x-amz-mqtt5-user-properties", &b64(br#"{"a": "b"}"#)),
        ("x-amz-mqtt5-user-properties", &b64(br#"[{"a": 1}]"#)),
        ("x-amz-mqtt5-payload-format-indicator", "UTF16"),
        ("x-amz-mqtt5-correlation-data", "%%%"),
    ] {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().expect("hdr"));
        let e = op_with(Method::POST, "/topics/t", &h).expect_err(name);
        assert_eq!(e.error_type, "InvalidRequestException", "{name}: {value}");
    }
}

#[test]
fn the_signed_path_is_encoded_once_more_as_botocore_signs_it() {
    assert_eq!(canonical_path("/topics/a%2Fb"), "/topics/a%252Fb");
    assert_eq!(canonical_path("/things/a:b/shadow"), "/things/a%3Ab/shadow");
    assert_eq!(
        canonical_path("/things/a-b_c.d~e/shadow"),
        "/things/a-b_c.d~e/shadow"
    );
}

#[tokio::test]
async fn an_error_is_rendered_as_botocore_s_rest_json_parser_reads_it() {
    let resp = error_response(&IotError::not_found("No shadow exists with name: 'x'"));
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "ResourceNotFoundException"
    );
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["message"], "No shadow exists with name: 'x'");
}

/// A broker that records what it is given, or refuses everything with `refuse`.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<HttpPublish>>,
    refuse: Option<PublishRefused>,
}

impl MqttPublish for Recorder {
    fn publish(&self, message: &HttpPublish) -> Result<(), PublishRefused> {
        if let Some(r) = &self.refuse {
            return Err(r.clone());
        }
        self.sent.lock().expect("lock").push(message.clone());
        Ok(())
    }
}

fn service() -> (tempfile::TempDir, Arc<ShadowService>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(ShadowService::open(dir.path()).expect("open"));
    (dir, s)
}

fn run_json(iot: &IotData, o: Operation, body: &[u8]) -> Result<serde_json::Value, IotError> {
    run(iot, o, Bytes::copy_from_slice(body))
        .map(|b| serde_json::from_slice(&b).expect("json answer"))
}

#[test]
fn a_rest_update_is_stored_answered_and_announced_on_the_shadow_topics() {
    let (_dir, shadows) = service();
    let rec = Arc::new(Recorder::default());
    let iot = IotData {
        shadows: Some(shadows),
        mqtt: Some(rec.clone()),
    };
    let t = target("car-1", None);
    let accepted = run_json(
        &iot,
        Operation::UpdateThingShadow(t.clone()),
        br#"{"state": {"desired": {"speed": 50}}}"#,
    )
    .expect("update");
    assert_eq!(accepted["version"], 1);
    assert_eq!(accepted["state"]["desired"]["speed"], 50);
    let topics: Vec<String> = rec
        .sent
        .lock()
        .expect("lock")
        .iter()
        .inspect(|p| assert_eq!(p.qos, 1, "{}", p.topic))
        .map(|p| p.topic.clone())
        .collect();
    assert_eq!(
        topics,
        [
            "$aws/things/car-1/shadow/update/accepted",
            "$aws/things/car-1/shadow/update/delta",
            "$aws/things/car-1/shadow/update/documents"
        ]
    );
    let got = run_json(&iot, Operation::GetThingShadow(t.clone()), b"").expect("get");
    assert_eq!(got["state"]["delta"]["speed"], 50);
    // A stale version is AWS's 409, and nothing more is announced.
    let e = run_json(
        &iot,
        Operation::UpdateThingShadow(t.clone()),
        br#"{"state": {"reported": {"speed": 50}}, "version": 7}"#,
    )
    .expect_err("conflict");
    assert_eq!((e.status, e.error_type), (409, "ConflictException"));
    assert_eq!(rec.sent.lock().expect("lock").len(), 3);
    let e =
        run_json(&iot, Operation::UpdateThingShadow(t.clone()), b"{nope").expect_err("malformed");
    assert_eq!((e.status, e.error_type), (400, "InvalidRequestException"));
    let e = run_json(&iot, Operation::UpdateThingShadow(t.clone()), b"\xff\xfe")
        .expect_err("not utf-8");
    assert_eq!(
        (e.status, e.error_type),
        (415, "UnsupportedDocumentEncodingException")
    );
    let deleted = run_json(&iot, Operation::DeleteThingShadow(t.clone()), b"").expect("delete");
    assert_eq!(deleted["version"], 1);
    assert_eq!(
        rec.sent
            .lock()
            .expect("lock")
            .last()
            .map(|p| p.topic.clone()),
        Some("$aws/things/car-1/shadow/delete/accepted".to_string())
    );
    let e = run_json(&iot, Operation::GetThingShadow(t), b"").expect_err("gone");
    assert_eq!((e.status, e.error_type), (404, "ResourceNotFoundException"));
}

#[test]
fn a_publish_reaches_the_broker_or_says_why_not() {
    let rec = Arc::new(Recorder::default());
    let iot = IotData {
        shadows: None,
        mqtt: Some(rec.clone()),
    };
    let mut p = publish_of(op(Method::POST, "/topics/a%2Fb?qos=1"));
    let answer = run_json(&iot, Operation::Publish(p.clone()), b"hi").expect("publish");
    assert_eq!(answer["message"], "OK");
    p.payload = Bytes::from_static(b"hi");
    assert_eq!(rec.sent.lock().expect("lock").as_slice(), [p.clone()]);
    // Shadows are not served here.
    let e =
        run_json(&iot, Operation::GetThingShadow(target("t", None)), b"").expect_err("no store");
    assert_eq!(e.status, 503);
    // UTF8_DATA promises UTF-8.
    let mut utf8 = p.clone();
    utf8.properties.payload_format_utf8 = Some(true);
    let e = run_json(&iot, Operation::Publish(utf8), b"\xff").expect_err("not utf-8");
    assert_eq!(e.status, 400);
    for (refusal, status, error_type) in [
        (
            PublishRefused::Unsupported("no retain".into()),
            400,
            "InvalidRequestException",
        ),
        (
            PublishRefused::Failed("link closed".into()),
            500,
            "InternalFailureException",
        ),
    ] {
        let iot = IotData {
            shadows: None,
            mqtt: Some(Arc::new(Recorder {
                refuse: Some(refusal),
                ..Recorder::default()
            })),
        };
        let e = run_json(&iot, Operation::Publish(p.clone()), b"x").expect_err("refused");
        assert_eq!((e.status, e.error_type), (status, error_type));
    }
}

const KEY: &str = "AKIDTEST";
const SECRET: &str = "secret";

/// A request signed as botocore signs `iotdata`: the path encoded once more.
fn signed_request(
    method: Method,
    path_and_query: &str,
    body: &[u8],
    secret: &str,
) -> Request<Body> {
    let now = weir_support::now_ms() / 1000;
    let date = format_amz_date(now);
    let scope = format!("{}/us-east-1/iotdata/aws4_request", &date[..8]);
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let headers = format!("host:localhost\nx-amz-date:{date}\n");
    let sig = sign(
        &CanonicalRequest {
            method: method.as_str(),
            path: &canonical_path(path),
            query: &weir_sigv4::canonical_query(Some(query)),
            headers: &headers,
            signed_headers: "host;x-amz-date",
            payload_hash: &sha256_hex(body),
        },
        &date,
        &scope,
        secret,
    );
    Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", "localhost")
        .header("x-amz-date", date)
        .header(
            "authorization",
            format!("{ALGORITHM} Credential={KEY}/{scope}, SignedHeaders=host;x-amz-date, Signature={sig}"),
        )
        .body(Body::from(body.to_vec()))
        .expect("request")
}

async fn call(state: &ApiState, req: Request<Body>) -> (StatusCode, HeaderMap, serde_json::Value) {
    let resp = handle(State(state.clone()), req).await;
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.expect("body");
    let v = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (parts.status, parts.headers, v)
}

#[tokio::test]
async fn requests_signed_for_iotdata_are_verified_with_the_configured_keys() {
    let streams = weir_streams::Streams::open_with_backend(
        weir_streams::StreamsConfig::new("/weir"),
        Arc::new(weir_streams::MemBackend::new()),
    )
    .expect("streams");
    let (_sdir, shadows) = service();
    let rec = Arc::new(Recorder::default());
    let state = ApiState::new(
        streams,
        ApiConfig {
            keys: HashMap::from([(KEY.to_owned(), SECRET.to_owned())]),
            ..ApiConfig::default()
        },
    )
    .with_shadows(shadows)
    .with_mqtt(rec.clone());
    let (status, _, v) = call(
        &state,
        signed_request(
            Method::POST,
            "/things/car-1/shadow?name=cfg",
            br#"{"state": {"reported": {"on": true}}}"#,
            SECRET,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["state"]["reported"]["on"], true);
    // A topic with an encoded slash: the signature covers `%252F`.
    let (status, _, v) = call(
        &state,
        signed_request(Method::POST, "/topics/cars%2F1?qos=1", b"{}", SECRET),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        rec.sent
            .lock()
            .expect("lock")
            .last()
            .map(|p| p.topic.clone()),
        Some("cars/1".into())
    );
    // The wrong secret, and no signature at all.
    let (status, headers, _) = call(
        &state,
        signed_request(Method::GET, "/things/car-1/shadow?name=cfg", b"", "wrong"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["x-amzn-errortype"], "UnauthorizedException");
    let unsigned = Request::builder()
        .uri("/things/car-1/shadow")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&state, unsigned).await.0, StatusCode::UNAUTHORIZED);
    // A body over the limit is refused before the shadow service sees it.
    let big = vec![b' '; 128 * 1024 + 1];
    let (status, headers, _) = call(
        &state,
        signed_request(Method::POST, "/things/car-1/shadow", &big, SECRET),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        headers["x-amzn-errortype"],
        "RequestEntityTooLargeException"
    );
}
