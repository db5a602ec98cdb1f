//! The plugin admin endpoints: listing versions and counters, and the explicit reload.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use weir_plugins::tables::LookupTables;
use weir_plugins::{Grant, PluginEngine, PluginRegistry, PluginSpec};

fn request(addr: &str, method: &str, path: &str) -> (u16, serde_json::Value) {
    request_with(addr, method, path, &[])
}

fn request_with(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n");
    s.write_all(head.as_bytes()).expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let status = String::from_utf8_lossy(&raw[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .expect("status");
    (
        status,
        serde_json::from_slice(&raw[split + 4..]).expect("json body"),
    )
}

/// A registry holding the `speed-limit` filter loaded from `path`.
fn speed_limit_registry(path: &Path) -> Arc<PluginRegistry> {
    let registry = Arc::new(PluginRegistry::new(
        PluginEngine::new(None).expect("engine"),
        Arc::new(LookupTables::new()),
    ));
    registry
        .add(PluginSpec::new("speed-limit", &[Grant::Config]), path)
        .expect("add");
    registry
}

/// Serves `app` on a free loopback port on `rt`; its address.
fn serve(rt: &tokio::runtime::Runtime, app: axum::Router) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    rt.spawn(async move { axum::serve(listener, app).await });
    addr
}

#[test]
fn list_and_reload_plugins_over_http() {
    let dir = std::env::temp_dir().join(format!("weir-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("speed-limit.wasm");
    let original = std::fs::read(common::component("speed-limit")).expect("component");
    std::fs::write(&path, &original).expect("write");

    let registry = speed_limit_registry(&path);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = weir_api::admin::router(weir_host::runtime::plugin_admin(registry.clone()));
    let addr = serve(&rt, app);

    let (status, body) = request(&addr, "GET", "/plugins");
    assert_eq!(status, 200);
    let p = &body["plugins"][0];
    assert_eq!(p["name"], "speed-limit");
    assert_eq!(p["kind"], "filter");
    assert_eq!(
        (p["tier"].as_str(), p["wit"].as_str()),
        (Some("optimized"), Some("0.1.1")),
        "{body}"
    );
    let first = p["version"].as_str().expect("version").to_string();
    assert_eq!(
        p["versions"][0]["calls"], 1,
        "the load-time health check: {body}"
    );

    let (status, body) = request(&addr, "POST", "/plugins/speed-limit/reload");
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("unchanged")),
        "{body}"
    );

    let mut changed = original.clone();
    changed.extend_from_slice(&[0, 3, 1, b'v', 1]);
    std::fs::write(&path, &changed).expect("write");
    let (status, body) = request(&addr, "POST", "/plugins/speed-limit/reload");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "swapped");
    assert_eq!(body["from"], first.as_str());
    assert_eq!(
        body["tier"], "quick",
        "never compiled, so Winch's code serves first: {body}"
    );

    std::fs::write(&path, b"broken").expect("write");
    let (status, body) = request(&addr, "POST", "/plugins/speed-limit/reload");
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("speed-limit.wasm"),
        "{body}"
    );
    let (_, listing) = request(&addr, "GET", "/plugins");
    assert_eq!(listing["plugins"][0]["version"], body["serving"]);
    assert!(listing["plugins"][0]["last_error"].is_string());
    assert_eq!(
        listing["plugins"][0]["versions"].as_array().map(Vec::len),
        Some(2)
    );

    let (status, _) = request(&addr, "POST", "/plugins/nope/reload");
    assert_eq!(status, 404);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The SigV4 `Authorization` and `X-Amz-Date` headers of an empty-bodied request, signed now.
fn sigv4_headers(
    addr: &str,
    method: &str,
    path: &str,
    secret: &str,
) -> Vec<(&'static str, String)> {
    sigv4_headers_for(addr, method, path, secret, b"")
}

/// The same for a request whose body is `body`.
fn sigv4_headers_for(
    addr: &str,
    method: &str,
    path: &str,
    secret: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let secs = weir_support::now_ms() / 1000;
    let date = weir_sigv4::format_amz_date(secs);
    let scope = format!("{}/us-east-1/weir/aws4_request", &date[..8]);
    let headers = format!("host:{addr}\nx-amz-date:{date}\n");
    let sig = weir_sigv4::sign(
        &weir_sigv4::CanonicalRequest {
            method,
            path,
            query: "",
            headers: &headers,
            signed_headers: "host;x-amz-date",
            payload_hash: &weir_sigv4::sha256_hex(body),
        },
        &date,
        &scope,
        secret,
    );
    vec![
        ("X-Amz-Date", date),
        (
            "Authorization",
            format!("AWS4-HMAC-SHA256 Credential=AKIDADMIN/{scope}, SignedHeaders=host;x-amz-date, Signature={sig}"),
        ),
    ]
}

#[test]
fn admin_routes_want_credentials_and_refuse_web_pages() {
    let registry = speed_limit_registry(&common::component("speed-limit"));
    let auth = Arc::new(weir_api::admin::AdminAuth {
        keys: [("AKIDADMIN".to_owned(), "admin-secret".to_owned())].into(),
        token: Some("a-token-of-sixteen-or-more".to_owned()),
    });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = weir_api::admin::router(weir_host::runtime::plugin_admin(registry)).layer(
        axum::middleware::from_fn_with_state(auth, weir_api::admin::guard),
    );
    let addr = serve(&rt, app);

    let bearer = |t: &str| ("Authorization", format!("Bearer {t}"));
    assert_eq!(request(&addr, "GET", "/plugins").0, 401);
    assert_eq!(request(&addr, "POST", "/plugins/speed-limit/reload").0, 401);
    assert_eq!(
        request_with(
            &addr,
            "GET",
            "/plugins",
            &[bearer("wrong-token-wrong-token")]
        )
        .0,
        401
    );
    let (status, body) = request_with(
        &addr,
        "GET",
        "/plugins",
        &[bearer("a-token-of-sixteen-or-more")],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["plugins"][0]["name"], "speed-limit");
    // SigV4 with one of the API's keys works too; a wrong secret does not.
    let signed = sigv4_headers(&addr, "GET", "/plugins", "admin-secret");
    assert_eq!(request_with(&addr, "GET", "/plugins", &signed).0, 200);
    let forged = sigv4_headers(&addr, "GET", "/plugins", "guessed");
    assert_eq!(request_with(&addr, "GET", "/plugins", &forged).0, 401);
    // A web page's request (cross-site form post or fetch) cannot reload, even with the
    // browser holding credentials.
    for header in [
        ("Origin", "https://evil.example".to_owned()),
        ("Sec-Fetch-Site", "cross-site".to_owned()),
    ] {
        let (status, body) = request_with(
            &addr,
            "POST",
            "/plugins/speed-limit/reload",
            &[bearer("a-token-of-sixteen-or-more"), header],
        );
        assert_eq!(status, 403, "{body}");
    }
    let (status, body) = request_with(
        &addr,
        "POST",
        "/plugins/speed-limit/reload",
        &[bearer("a-token-of-sixteen-or-more")],
    );
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("unchanged")),
        "{body}"
    );
}

/// A signed admin request with a body (`POST /rules/test`): the guard checks the signature
/// against the body it read, and the route still receives that body.
#[test]
fn a_signed_admin_post_is_checked_against_its_body() {
    let auth = Arc::new(weir_api::admin::AdminAuth {
        keys: [("AKIDADMIN".to_owned(), "admin-secret".to_owned())].into(),
        token: None,
    });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = axum::Router::new()
        .route(
            "/echo",
            axum::routing::post(|body: axum::body::Bytes| async move {
                format!("{{\"got\": {}}}", body.len())
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            auth,
            weir_api::admin::guard,
        ));
    let addr = serve(&rt, app);
    let post = |headers: &[(&str, String)], body: &[u8]| {
        let mut s = TcpStream::connect(&addr).expect("connect");
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let head = format!(
            "POST /echo HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).expect("write");
        s.write_all(body).expect("body");
        let mut raw = String::new();
        s.read_to_string(&mut raw).expect("read");
        raw
    };
    let body = br#"{"sql": "SELECT * FROM 'a'", "topic": "a", "payload": {}}"#;
    let signed = sigv4_headers_for(&addr, "POST", "/echo", "admin-secret", body);
    let ok = post(&signed, body);
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(
        ok.ends_with(&format!("{{\"got\": {}}}", body.len())),
        "{ok}"
    );
    // Signed for another body (or none): refused.
    let for_empty = sigv4_headers_for(&addr, "POST", "/echo", "admin-secret", b"");
    assert!(post(&for_empty, body).starts_with("HTTP/1.1 401"));
    let wrong_key = sigv4_headers_for(&addr, "POST", "/echo", "guessed", body);
    assert!(post(&wrong_key, body).starts_with("HTTP/1.1 401"));
}
