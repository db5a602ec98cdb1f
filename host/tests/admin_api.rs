//! The plugin admin endpoints: listing versions and counters, and the explicit reload.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use weir_plugins::tables::LookupTables;
use weir_plugins::{Grant, PluginEngine, PluginRegistry, PluginSpec};

fn request(addr: &str, method: &str, path: &str) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
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

#[test]
fn list_and_reload_plugins_over_http() {
    let dir = std::env::temp_dir().join(format!("weir-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("speed-limit.wasm");
    let original = std::fs::read(common::component("speed-limit")).expect("component");
    std::fs::write(&path, &original).expect("write");

    let registry = Arc::new(PluginRegistry::new(
        PluginEngine::new(None).expect("engine"),
        Arc::new(LookupTables::new()),
    ));
    registry
        .add(PluginSpec::new("speed-limit", &[Grant::Config]), &path)
        .expect("add");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let app = weir_api::admin::router(weir_host::runtime::plugin_admin(registry.clone()));
    rt.spawn(async move { axum::serve(listener, app).await });

    let (status, body) = request(&addr, "GET", "/plugins");
    assert_eq!(status, 200);
    let p = &body["plugins"][0];
    assert_eq!(p["name"], "speed-limit");
    assert_eq!(p["kind"], "filter");
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
