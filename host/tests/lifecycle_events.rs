//! AWS IoT's lifecycle events on the embedded broker ("Lifecycle events" in AWS's developer
//! guide), against `weir run` with real MQTT clients: `$aws/events/presence/connected/ID`
//! and `.../disconnected/ID` with AWS's payloads, reasons for a clean disconnect, a dropped
//! connection, a keep-alive timeout, a protocol violation and a duplicate client id, rules that listen to them, and
//! no events for Weir's own `/health` probes.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Weir;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

/// An MQTT 3.1.1 client that reports the messages it receives (and its end) on a channel.
struct Watcher {
    client: Client,
    messages: mpsc::Receiver<Result<(String, Value), String>>,
}

impl Watcher {
    fn connect(port: u16, id: &str) -> Watcher {
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(10));
        let (client, mut conn) = Client::new(opts, 64);
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            for ev in conn.iter() {
                let out = match ev {
                    Ok(Event::Incoming(Packet::Publish(p))) => Ok((
                        p.topic.clone(),
                        serde_json::from_slice(&p.payload).unwrap_or(Value::Null),
                    )),
                    Ok(Event::Incoming(Packet::SubAck(_))) => Ok(("(suback)".into(), Value::Null)),
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        Ok(("(connack)".into(), Value::Null))
                    }
                    Ok(_) => continue,
                    Err(e) => Err(e.to_string()),
                };
                let end = out.is_err();
                if tx.send(out).is_err() || end {
                    return;
                }
            }
        });
        Watcher { client, messages }
    }

    /// Waits for the client's CONNACK.
    fn connected(&self) {
        assert_eq!(self.next().0, "(connack)");
    }

    fn next(&self) -> (String, Value) {
        match self.messages.recv_timeout(WAIT) {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => panic!("connection closed: {e}"),
            Err(_) => panic!("nothing within {WAIT:?}"),
        }
    }

    /// Subscribes to AWS's presence topics and waits for the SUBACK.
    fn watch_presence(port: u16) -> Watcher {
        let w = Watcher::connect(port, "presence-watcher");
        w.connected();
        w.client
            .subscribe("$aws/events/presence/+/+", QoS::AtLeastOnce)
            .expect("subscribe");
        assert_eq!(w.next().0, "(suback)");
        w
    }

    /// The next presence event (topic and payload), except the watcher's own connection's:
    /// its connected event may be published before or after its subscription took effect.
    fn event(&self) -> (String, Value) {
        loop {
            let (topic, body) = self.next();
            assert!(
                topic.starts_with("$aws/events/presence/"),
                "not a presence event: {topic} {body}"
            );
            if topic != "$aws/events/presence/connected/presence-watcher" {
                return (topic, body);
            }
        }
    }

    /// Everything that arrives within `d`.
    fn quiet_for(&self, d: Duration) -> Vec<(String, Value)> {
        let deadline = Instant::now() + d;
        let mut out = Vec::new();
        while let Ok(Ok(m)) = self
            .messages
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if m.0 != "$aws/events/presence/connected/presence-watcher" {
                out.push(m);
            }
        }
        out
    }
}

/// A raw MQTT 3.1.1 CONNECT with `keep_alive` seconds, its CONNACK read: a client that can
/// then go silent or vanish without a DISCONNECT.
fn raw_connect(port: u16, client_id: &str, keep_alive: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02];
    body.extend_from_slice(&keep_alive.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    s.write_all(&packet).expect("CONNECT");
    let mut connack = [0u8; 4];
    s.read_exact(&mut connack).expect("CONNACK");
    assert_eq!(connack, [0x20, 2, 0, 0]);
    s
}

fn config(dir: &Path, rules: &str) -> std::path::PathBuf {
    common::write_config(
        dir,
        &format!("{}\n[streams.out]\n\n{rules}", common::base_config("")),
    )
}

/// A rule that keeps the rule set non-empty without listening to presence topics.
const PLAIN_RULE: &str = "[rules.plain]\nsql = \"SELECT * FROM 'plain/#'\"\n\n[[rules.plain.actions]]\nkind = \"kinesis\"\nstream = \"out\"\npartition_key = \"plain\"\n";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn is_uuid(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 36
            && s.char_indices().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    })
}

#[test]
fn connect_and_disconnect_events_carry_aws_payloads_and_reasons() {
    let tmp = tempfile::tempdir().expect("tmp");
    let weir = Weir::start(&config(tmp.path(), PLAIN_RULE));
    let w = Watcher::watch_presence(weir.mqtt);

    // A client connects, then disconnects with DISCONNECT.
    let before = now_ms();
    let dev = Watcher::connect(weir.mqtt, "dev-1");
    dev.connected();
    let (topic, c) = w.event();
    assert_eq!(topic, "$aws/events/presence/connected/dev-1");
    let keys: Vec<&str> = c
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "clientId",
            "timestamp",
            "eventType",
            "sessionIdentifier",
            "principalIdentifier",
            "ipAddress",
            "versionNumber"
        ],
        "{c}"
    );
    assert_eq!(c["clientId"], "dev-1");
    assert_eq!(c["eventType"], "connected");
    assert!(is_uuid(&c["sessionIdentifier"]), "{c}");
    assert_eq!(c["principalIdentifier"], "anonymous");
    assert_eq!(c["ipAddress"], "127.0.0.1");
    assert_eq!(c["versionNumber"], 0);
    let ts = c["timestamp"].as_i64().expect("timestamp");
    assert!(ts >= before && ts <= now_ms(), "{ts}");
    assert!(c.get("clientInitiatedDisconnect").is_none());

    dev.client.disconnect().expect("disconnect");
    let (topic, d) = w.event();
    assert_eq!(topic, "$aws/events/presence/disconnected/dev-1");
    assert_eq!(d["eventType"], "disconnected");
    assert_eq!(d["sessionIdentifier"], c["sessionIdentifier"]);
    assert_eq!(d["clientInitiatedDisconnect"], true);
    assert_eq!(d["disconnectReason"], "CLIENT_INITIATED_DISCONNECT");
    assert_eq!(d["versionNumber"], 0);

    // The same client id again: a new session, the next version; then the socket just
    // closes, without DISCONNECT.
    let raw = raw_connect(weir.mqtt, "dev-1", 30);
    let (_, c2) = w.event();
    assert_eq!(c2["eventType"], "connected");
    assert_eq!(c2["versionNumber"], 1);
    assert_ne!(c2["sessionIdentifier"], c["sessionIdentifier"]);
    drop(raw);
    let (topic, d2) = w.event();
    assert_eq!(topic, "$aws/events/presence/disconnected/dev-1");
    assert_eq!(d2["clientInitiatedDisconnect"], false);
    assert_eq!(d2["disconnectReason"], "CONNECTION_LOST");
    assert_eq!(d2["versionNumber"], 1);
    assert_eq!(d2["sessionIdentifier"], c2["sessionIdentifier"]);

    // A client that stops talking: disconnected after one and a half keep-alives.
    let silent = raw_connect(weir.mqtt, "quiet", 1);
    let (_, c3) = w.event();
    assert_eq!(c3["clientId"], "quiet");
    let (topic, d3) = w.event();
    assert_eq!(topic, "$aws/events/presence/disconnected/quiet");
    assert_eq!(d3["disconnectReason"], "MQTT_KEEP_ALIVE_TIMEOUT");
    assert_eq!(d3["clientInitiatedDisconnect"], false);
    drop(silent);

    // A client that breaks the protocol (a packet of the reserved type 0).
    let mut bad = raw_connect(weir.mqtt, "garbled", 30);
    let (_, c4) = w.event();
    assert_eq!(c4["clientId"], "garbled");
    bad.write_all(&[0x00, 0x00]).expect("write");
    let (topic, d4) = w.event();
    assert_eq!(topic, "$aws/events/presence/disconnected/garbled");
    assert_eq!(d4["disconnectReason"], "CLIENT_ERROR");
    assert_eq!(d4["clientInitiatedDisconnect"], false);
    drop(bad);

    // Weir's own /health probes connect to the broker, and are not reported.
    for _ in 0..3 {
        assert!(weir.get("/health").contains("200 OK"));
    }
    let extra = w.quiet_for(Duration::from_millis(500));
    assert!(extra.is_empty(), "unexpected events: {extra:?}");
    let (status, _) = weir.terminate();
    assert!(status.success());
}

#[test]
fn a_duplicate_client_id_takes_over_and_the_old_session_is_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let weir = Weir::start(&config(tmp.path(), PLAIN_RULE));
    let w = Watcher::watch_presence(weir.mqtt);

    let first = Watcher::connect(weir.mqtt, "twin");
    first.connected();
    let (_, c1) = w.event();
    assert_eq!(c1["versionNumber"], 0);
    let second = Watcher::connect(weir.mqtt, "twin");
    second.connected();
    let mut events = vec![w.event(), w.event()];
    events.sort_by(|a, b| a.0.cmp(&b.0));
    let [(t_c, c2), (t_d, d1)] = <[_; 2]>::try_from(events).expect("two events");
    assert_eq!(t_c, "$aws/events/presence/connected/twin");
    assert_eq!(t_d, "$aws/events/presence/disconnected/twin");
    assert_eq!(d1["disconnectReason"], "DUPLICATE_CLIENTID");
    assert_eq!(d1["clientInitiatedDisconnect"], false);
    assert_eq!(d1["sessionIdentifier"], c1["sessionIdentifier"]);
    assert_eq!(d1["versionNumber"], 0);
    assert_eq!(c2["versionNumber"], 1);
    assert_ne!(c2["sessionIdentifier"], c1["sessionIdentifier"]);
    // The first client was told by a closed connection.
    match first.messages.recv_timeout(WAIT) {
        Ok(Err(_)) => {}
        other => panic!("the replaced client is still connected: {other:?}"),
    }
    drop(second);
    let (status, _) = weir.terminate();
    assert!(status.success());
}

#[test]
fn a_rule_on_presence_topics_fires_into_a_stream() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rules = format!(
        "{PLAIN_RULE}\n[rules.presence]\nsql = \"SELECT clientId, eventType, disconnectReason, versionNumber, topic(4) AS state FROM '$aws/events/presence/+/+'\"\n\n\
         [[rules.presence.actions]]\nkind = \"kinesis\"\nstream = \"out\"\npartition_key = \"${{clientId}}\"\n"
    );
    let weir = Weir::start(&config(tmp.path(), &rules));
    let dev = Watcher::connect(weir.mqtt, "sensor-9");
    dev.connected();
    dev.client.disconnect().expect("disconnect");
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="presence",action="0:kinesis:out"}"#,
        2,
    );
    assert_eq!(weir.metric("weir_reserved_topic_refused_total"), 0);
    let (status, _) = weir.terminate();
    assert!(status.success());
    let records = common::read_stream(&tmp.path().join("data/streams"), "out");
    let got: Vec<(&str, &Value)> = records.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(
        got,
        [
            (
                "sensor-9",
                &serde_json::json!({"clientId": "sensor-9", "eventType": "connected", "versionNumber": 0, "state": "connected"})
            ),
            (
                "sensor-9",
                &serde_json::json!({"clientId": "sensor-9", "eventType": "disconnected", "disconnectReason": "CLIENT_INITIATED_DISCONNECT", "versionNumber": 0, "state": "disconnected"})
            ),
        ]
    );
}
