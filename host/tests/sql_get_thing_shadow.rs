//! `get_thing_shadow` in IoT SQL against `weir run`: a device updates its classic and named
//! shadows over MQTT (`$aws/things/THING/shadow[/name/NAME]/update`, acknowledged once
//! stored), then a rule `SELECT get_thing_shadow(topic(2), ROLE) ...` on its pings republishes
//! what it read; a thing without a shadow reads Undefined.

mod common;

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use common::Weir;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

enum Seen {
    Message(String, Value),
    Ack,
}

/// An MQTT 3.1.1 client whose PUBACKs, SUBACKs and messages arrive on a channel.
fn connect(port: u16, id: &str) -> (Client, mpsc::Receiver<Seen>) {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(10));
    let (client, mut conn) = Client::new(opts, 64);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for ev in conn.iter() {
            let seen = match ev {
                Ok(Event::Incoming(Packet::Publish(p))) => Seen::Message(
                    p.topic.clone(),
                    serde_json::from_slice(&p.payload).unwrap_or(Value::Null),
                ),
                Ok(Event::Incoming(Packet::PubAck(_) | Packet::SubAck(_))) => Seen::Ack,
                Ok(_) => continue,
                Err(_) => return,
            };
            if tx.send(seen).is_err() {
                return;
            }
        }
    });
    (client, rx)
}

fn acked(rx: &mpsc::Receiver<Seen>) {
    loop {
        match rx.recv_timeout(WAIT).expect("no ack") {
            Seen::Ack => return,
            Seen::Message(..) => {}
        }
    }
}

fn message(rx: &mpsc::Receiver<Seen>, topic: &str) -> Value {
    loop {
        match rx.recv_timeout(WAIT) {
            Ok(Seen::Message(t, v)) if t == topic => return v,
            Ok(_) => {}
            Err(_) => panic!("nothing on {topic}"),
        }
    }
}

fn config(dir: &Path) -> std::path::PathBuf {
    let rules = "[rules.read]\nsql = \"SELECT get_thing_shadow(topic(2), 'arn:aws:iam::123456789012:role/x') AS shadow, \
                 get_thing_shadow(topic(2), 'battery', 'arn:aws:iam::123456789012:role/x').state.reported.level AS level \
                 FROM 'things/+/ping'\"\n\n\
                 [[rules.read.actions]]\nkind = \"republish\"\ntopic = \"shadow/out/${topic(2)}\"\nqos = 1\n";
    common::write_config(dir, &format!("{}\n{rules}", common::base_config("")))
}

#[test]
fn a_rule_reads_classic_and_named_shadows() {
    let tmp = tempfile::tempdir().expect("tmp");
    let weir = Weir::start(&config(tmp.path()));
    let (reader, out) = connect(weir.mqtt, "reader");
    reader
        .subscribe("shadow/out/+", QoS::AtLeastOnce)
        .expect("subscribe");
    acked(&out);

    let (lamp, acks) = connect(weir.mqtt, "lamp");
    let publish = |topic: &str, body: Value| {
        lamp.publish(topic, QoS::AtLeastOnce, false, body.to_string())
            .expect("publish");
        acked(&acks);
    };
    publish(
        "$aws/things/lamp/shadow/update",
        json!({"state": {"desired": {"on": true}, "reported": {"on": false}}}),
    );
    publish(
        "$aws/things/lamp/shadow/name/battery/update",
        json!({"state": {"reported": {"level": 41}}}),
    );
    publish("things/lamp/ping", json!({}));
    let got = message(&out, "shadow/out/lamp");
    assert_eq!(got["level"], 41, "{got}");
    let shadow = &got["shadow"];
    assert_eq!(
        shadow["state"],
        json!({"desired": {"on": true}, "reported": {"on": false}, "delta": {"on": true}}),
        "{got}"
    );
    assert_eq!(shadow["version"], 1);
    assert!(
        shadow["metadata"]["reported"]["on"]["timestamp"].is_u64(),
        "{got}"
    );
    assert!(shadow["timestamp"].is_u64(), "{got}");

    // A thing without shadows: both reads are Undefined, so the output is empty.
    publish("things/ghost/ping", json!({}));
    assert_eq!(message(&out, "shadow/out/ghost"), json!({}));
    let (status, _) = weir.terminate();
    assert!(status.success());
}
