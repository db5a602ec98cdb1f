//! Who may reach a running `weir run`: usernames and passwords and TLS on the embedded broker,
//! and the admin token on the HTTP API (health stays open, cross-origin posts are refused).

mod common;

use std::io::{Read, Write};

use common::small_config::{expect_one_delivered_and_stop, pub_in, small_config, TO_OUT};
use common::Weir;

#[test]
fn the_embedded_broker_checks_usernames_and_passwords() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = small_config(
        tmp.path(),
        "listen = \"127.0.0.1:0\"\n\n[broker.auth]\nusers = { pi = \"s3cret\" }",
        "127.0.0.1:0",
        TO_OUT,
    );
    let weir = Weir::start(&cfg);
    let mqtt = weir.mqtt;
    let publish = |extra: &[&str]| pub_in("127.0.0.1", mqtt, extra);
    assert!(!publish(&[]).status.success(), "anonymous is refused");
    assert!(
        !publish(&["-u", "pi", "-P", "wrong"]).status.success(),
        "a wrong password is refused"
    );
    expect_one_delivered_and_stop(weir, &publish(&["-u", "pi", "-P", "s3cret"]));
}

#[test]
fn the_embedded_broker_speaks_tls() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Weir test CA");
    std::fs::write(
        tmp.path().join("ca.pem"),
        ca.self_signed(&ca_key).expect("ca").pem(),
    )
    .expect("write");
    let key = KeyPair::generate().expect("key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params");
    leaf.distinguished_name.push(DnType::CommonName, "weir");
    let cert = leaf
        .signed_by(&key, &Issuer::from_params(&ca, &ca_key))
        .expect("sign");
    std::fs::write(tmp.path().join("broker.pem"), cert.pem()).expect("write");
    std::fs::write(tmp.path().join("broker.key"), key.serialize_pem()).expect("write");

    let cfg = small_config(
        tmp.path(),
        "listen = \"127.0.0.1:0\"\n\n[broker.tls]\ncert_file = \"broker.pem\"\nkey_file = \"broker.key\"",
        "127.0.0.1:0",
        TO_OUT,
    );
    let weir = Weir::start(&cfg);
    let mqtt = weir.mqtt;
    // By name: rustls refuses an IP address as the TLS server name (SNI).
    let publish = |extra: &[&str]| pub_in("localhost", mqtt, extra);
    assert!(!publish(&[]).status.success(), "plain MQTT is refused");
    let ca_file = tmp.path().join("ca.pem").display().to_string();
    expect_one_delivered_and_stop(weir, &publish(&["--cafile", &ca_file]));
}

#[test]
fn with_an_admin_token_metrics_and_plugins_want_it_and_health_stays_open() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = "[broker]\nlisten = \"127.0.0.1:0\"\n\n[api]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"e2e-admin-token-0123\"\n\n[storage]\ndir = \"data\"\n\n[rules.r]\nsql = \"SELECT * FROM 'in/#'\"\n";
    let cfg = common::write_config(tmp.path(), text);
    let weir = Weir::start(&cfg);
    let raw = |request: &str| {
        let mut s = std::net::TcpStream::connect(&weir.api).expect("connect api");
        s.write_all(request.as_bytes()).expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    };
    assert!(weir.get("/metrics").starts_with("HTTP/1.1 401"));
    assert!(weir.get("/plugins").starts_with("HTTP/1.1 401"));
    assert!(weir.get("/health").starts_with("HTTP/1.1 200"));
    let metrics = raw("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer e2e-admin-token-0123\r\nConnection: close\r\n\r\n");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("weir_messages_in_total"));
    let csrf = raw("POST /plugins/x/reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer e2e-admin-token-0123\r\nOrigin: https://evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert!(csrf.starts_with("HTTP/1.1 403"), "{csrf}");
    let (status, _) = weir.terminate();
    assert!(status.success());
}

/// `POST /rules/test` (issue 33): the seed's speeding rule on a seed payload through a running
/// host, guarded like the admin routes: 401 without the token, 403 from a web page.
#[test]
fn rules_test_answers_a_rule_output_behind_the_admin_token() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = "[broker]\nlisten = \"127.0.0.1:0\"\n\n[api]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"e2e-admin-token-0123\"\n\n[storage]\ndir = \"data\"\n\n[rules.r]\nsql = \"SELECT * FROM 'in/#'\"\n";
    let cfg = common::write_config(tmp.path(), text);
    let weir = Weir::start(&cfg);
    let post = |headers: &str, body: &str| {
        let mut s = std::net::TcpStream::connect(&weir.api).expect("connect api");
        let req = format!(
            "POST /rules/test HTTP/1.1\r\nHost: x\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    };
    let token = "Authorization: Bearer e2e-admin-token-0123\r\n";
    let seed = r#"{"sql": "SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75", "topic": "rtr/iot/trafficdata", "payload": {"licensePlate": "855TOP", "longitude": -1.616434, "latitude": -27.559417, "city": "Johnfort", "state": "Wisconsin", "speed": 94}}"#;
    let open = post("", seed);
    assert!(open.starts_with("HTTP/1.1 401"), "{open}");
    let fired = post(token, seed);
    assert!(fired.starts_with("HTTP/1.1 200"), "{fired}");
    let body = fired.split("\r\n\r\n").nth(1).expect("body");
    let v: serde_json::Value = serde_json::from_str(body).expect("json");
    assert_eq!(v["output"]["licensePlate"], "855TOP", "{v}");
    assert_eq!(v["output"]["speed"], 94, "{v}");
    let slow = post(token, &seed.replace("94}", "68}"));
    assert!(slow.ends_with("{\"output\":null}"), "{slow}");
    let bad = post(
        token,
        r#"{"sql": "SELECT *\nFROM 'a'\nWHERE speed >", "topic": "a", "payload": {}}"#,
    );
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert!(bad.contains("\"line\":3"), "{bad}");
    let not_json = post(token, "{\"sql\": ");
    assert!(not_json.starts_with("HTTP/1.1 400"), "{not_json}");
    let csrf = post(&format!("{token}Origin: https://evil.example\r\n"), seed);
    assert!(csrf.starts_with("HTTP/1.1 403"), "{csrf}");
    let (status, _) = weir.terminate();
    assert!(status.success());
}

/// A broker address something else holds stops `weir run` at start with an error naming it,
/// instead of a host that prints `ready` and serves nobody.
#[test]
fn a_taken_broker_address_fails_the_start_and_names_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = holder.local_addr().expect("addr");
    let cfg = small_config(
        tmp.path(),
        &format!("listen = \"{taken}\""),
        "127.0.0.1:0",
        TO_OUT,
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .expect("run weir");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started on a taken address");
    assert!(
        stderr.contains(&format!("cannot listen on {taken}")),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("ready"),
        "printed ready"
    );
    drop(holder);
}
