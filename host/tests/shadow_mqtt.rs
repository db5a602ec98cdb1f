//! The Device Shadow service over MQTT on the embedded broker, as AWS documents it ("Device
//! Shadow MQTT topics"), against `weir run` with real MQTT clients (rumqttc): requests on
//! `$aws/things/THING/shadow[/name/SHADOW]/update|get|delete`, answers on `/accepted`,
//! `/rejected`, `update/delta` and `update/documents` to clients subscribed to those `$aws`
//! filters; durability across a restart; rules that select Weir's answers; `#` subscribers
//! that see no `$` topic; and `republish` at QoS 1.

mod common;

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Weir;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

/// What a client's event loop saw.
enum Seen {
    Message {
        topic: String,
        payload: Value,
        qos: QoS,
    },
    SubAck(Vec<rumqttc::SubscribeReasonCode>),
    PubAck,
    Closed(String),
}

/// An MQTT 3.1.1 client whose events arrive on a channel.
struct Device {
    client: Client,
    events: mpsc::Receiver<Seen>,
    /// Messages read while waiting for something else.
    held: Vec<(String, Value, QoS)>,
}

const WAIT: Duration = Duration::from_secs(10);

impl Device {
    fn connect(port: u16, id: &str) -> Device {
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(10));
        let (client, mut conn) = Client::new(opts, 64);
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for ev in conn.iter() {
                let seen = match ev {
                    Ok(Event::Incoming(Packet::Publish(p))) => Seen::Message {
                        topic: p.topic.clone(),
                        payload: serde_json::from_slice(&p.payload).unwrap_or(Value::Null),
                        qos: p.qos,
                    },
                    Ok(Event::Incoming(Packet::SubAck(s))) => Seen::SubAck(s.return_codes),
                    Ok(Event::Incoming(Packet::PubAck(_))) => Seen::PubAck,
                    Ok(_) => continue,
                    Err(e) => {
                        let _ = tx.send(Seen::Closed(e.to_string()));
                        return;
                    }
                };
                if tx.send(seen).is_err() {
                    return;
                }
            }
        });
        Device {
            client,
            events,
            held: Vec::new(),
        }
    }

    fn next(&mut self, deadline: Instant) -> Option<Seen> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.events.recv_timeout(left).ok()
    }

    /// Subscribes and waits for a successful SUBACK.
    fn subscribe(&mut self, filter: &str, qos: QoS) {
        self.client.subscribe(filter, qos).expect("subscribe");
        let deadline = Instant::now() + WAIT;
        loop {
            match self.next(deadline) {
                Some(Seen::SubAck(codes)) => {
                    assert!(
                        codes
                            .iter()
                            .all(|c| matches!(c, rumqttc::SubscribeReasonCode::Success(_))),
                        "{filter}: {codes:?}"
                    );
                    return;
                }
                Some(Seen::Message {
                    topic,
                    payload,
                    qos,
                }) => self.held.push((topic, payload, qos)),
                Some(Seen::Closed(e)) => panic!("subscribing to {filter}: closed: {e}"),
                Some(Seen::PubAck) => {}
                None => panic!("no SUBACK for {filter}"),
            }
        }
    }

    /// Publishes `payload` at QoS 1 and waits for its PUBACK.
    fn request(&mut self, topic: &str, payload: &str) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
            .expect("publish");
        let deadline = Instant::now() + WAIT;
        loop {
            match self.next(deadline) {
                Some(Seen::PubAck) => return,
                Some(Seen::Message {
                    topic,
                    payload,
                    qos,
                }) => self.held.push((topic, payload, qos)),
                Some(Seen::Closed(e)) => panic!("publishing to {topic}: closed: {e}"),
                Some(Seen::SubAck(_)) => {}
                None => panic!("no PUBACK for {topic}"),
            }
        }
    }

    /// The next message on `topic` (others are kept for later), with its QoS.
    fn message_qos(&mut self, topic: &str) -> (Value, QoS) {
        if let Some(i) = self.held.iter().position(|(t, _, _)| t == topic) {
            let (_, v, q) = self.held.remove(i);
            return (v, q);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            match self.next(deadline) {
                Some(Seen::Message {
                    topic: t,
                    payload,
                    qos,
                }) => {
                    if t == topic {
                        return (payload, qos);
                    }
                    self.held.push((t, payload, qos));
                }
                Some(Seen::Closed(e)) => panic!("waiting for {topic}: closed: {e}"),
                Some(_) => {}
                None => panic!("nothing on {topic}; held: {:?}", self.held),
            }
        }
    }

    fn message(&mut self, topic: &str) -> Value {
        self.message_qos(topic).0
    }

    /// Every message that arrives within `d`.
    fn drain(&mut self, d: Duration) -> Vec<(String, Value, QoS)> {
        let deadline = Instant::now() + d;
        let mut out = std::mem::take(&mut self.held);
        while let Some(seen) = self.next(deadline) {
            if let Seen::Message {
                topic,
                payload,
                qos,
            } = seen
            {
                out.push((topic, payload, qos));
            }
        }
        out
    }
}

/// A configuration with the embedded broker, the stream `out` and `rules`.
fn config(dir: &Path, rules: &str) -> std::path::PathBuf {
    common::write_config(
        dir,
        &format!("{}\n[streams.out]\n\n{rules}", common::base_config("")),
    )
}

/// A rule that keeps the host's rule set non-empty without touching shadow topics.
const PLAIN_RULE: &str = "[rules.plain]\nsql = \"SELECT * FROM 'plain/#'\"\n\n[[rules.plain.actions]]\nkind = \"kinesis\"\nstream = \"out\"\npartition_key = \"plain\"\n";

const LAMP: &str = "$aws/things/lamp/shadow";

/// A device subscribed to the classic shadow's answer topics, as AWS's SDKs do.
fn lamp_device(port: u16, id: &str) -> Device {
    let mut d = Device::connect(port, id);
    for op in ["update", "get", "delete"] {
        for reply in ["accepted", "rejected"] {
            d.subscribe(&format!("{LAMP}/{op}/{reply}"), QoS::AtLeastOnce);
        }
    }
    d.subscribe(&format!("{LAMP}/update/delta"), QoS::AtLeastOnce);
    d.subscribe(&format!("{LAMP}/update/documents"), QoS::AtLeastOnce);
    d
}

#[test]
fn the_shadow_lifecycle_over_mqtt() {
    let tmp = tempfile::tempdir().expect("tmp");
    let weir = Weir::start(&config(tmp.path(), PLAIN_RULE));
    let mut d = lamp_device(weir.mqtt, "lamp");

    // A missing shadow: 404 with the client token.
    d.request(&format!("{LAMP}/get"), r#"{"clientToken":"t0"}"#);
    let r = d.message(&format!("{LAMP}/get/rejected"));
    assert_eq!(r["code"], 404, "{r}");
    assert_eq!(r["message"], "No shadow exists with name: 'lamp'");
    assert_eq!(r["clientToken"], "t0");

    // An update: acknowledged once stored, then accepted, delta and documents.
    d.request(
        &format!("{LAMP}/update"),
        r#"{"state":{"desired":{"color":"red","on":true},"reported":{"color":"green"}},"clientToken":"t1"}"#,
    );
    assert!(
        tmp.path().join("data/shadows/lamp/classic.shadow").exists(),
        "acknowledged before the shadow was stored"
    );
    let accepted = d.message(&format!("{LAMP}/update/accepted"));
    assert_eq!(
        accepted["state"],
        json!({"desired": {"color": "red", "on": true}, "reported": {"color": "green"}})
    );
    assert_eq!(accepted["version"], 1);
    assert_eq!(accepted["clientToken"], "t1");
    assert!(accepted["metadata"]["desired"]["color"]["timestamp"].is_u64());
    let delta = d.message(&format!("{LAMP}/update/delta"));
    assert_eq!(delta["state"], json!({"color": "red", "on": true}));
    assert_eq!(delta["version"], 1);
    let docs = d.message(&format!("{LAMP}/update/documents"));
    assert_eq!(docs["previous"], Value::Null);
    assert_eq!(docs["current"]["version"], 1);
    assert_eq!(docs["current"]["state"]["desired"]["color"], "red");
    assert_eq!(docs["clientToken"], "t1");

    // A get: the whole document with its delta.
    d.request(&format!("{LAMP}/get"), r#"{"clientToken":"t2"}"#);
    let got = d.message(&format!("{LAMP}/get/accepted"));
    assert_eq!(got["version"], 1);
    assert_eq!(got["state"]["delta"], json!({"color": "red", "on": true}));
    assert_eq!(got["state"]["reported"], json!({"color": "green"}));
    assert_eq!(got["clientToken"], "t2");

    // Optimistic locking: a stale version is a 409.
    d.request(
        &format!("{LAMP}/update"),
        r#"{"state":{"reported":{"color":"red"}},"version":7,"clientToken":"t3"}"#,
    );
    let r = d.message(&format!("{LAMP}/update/rejected"));
    assert_eq!(r["code"], 409, "{r}");
    assert_eq!(r["message"], "Version conflict");
    assert_eq!(r["clientToken"], "t3");

    // Malformed JSON is a 400.
    d.request(&format!("{LAMP}/update"), r#"{"state":"#);
    let r = d.message(&format!("{LAMP}/update/rejected"));
    assert_eq!(r["code"], 400, "{r}");

    // The right version is accepted; null deletes a field.
    d.request(
        &format!("{LAMP}/update"),
        r#"{"state":{"desired":{"on":null},"reported":{"color":"red"}},"version":1}"#,
    );
    let accepted = d.message(&format!("{LAMP}/update/accepted"));
    assert_eq!(accepted["version"], 2);
    let docs = d.message(&format!("{LAMP}/update/documents"));
    assert_eq!(docs["previous"]["version"], 1);
    assert_eq!(docs["current"]["state"]["desired"], json!({"color": "red"}));
    d.request(&format!("{LAMP}/get"), "{}");
    let got = d.message(&format!("{LAMP}/get/accepted"));
    assert_eq!(got["version"], 2);
    assert_eq!(got["state"]["desired"], json!({"color": "red"}));
    assert_eq!(got["state"].get("delta"), None, "{got}");

    // A named shadow is its own document.
    let named = "$aws/things/lamp/shadow/name/config";
    d.subscribe(&format!("{named}/+/+"), QoS::AtLeastOnce);
    d.request(
        &format!("{named}/update"),
        r#"{"state":{"reported":{"firmware":"1.2"}}}"#,
    );
    let accepted = d.message(&format!("{named}/update/accepted"));
    assert_eq!(accepted["version"], 1);
    assert_eq!(accepted["state"]["reported"]["firmware"], "1.2");
    assert!(tmp
        .path()
        .join("data/shadows/lamp/named/config.shadow")
        .exists());
    d.request(&format!("{named}/get"), "");
    let got = d.message(&format!("{named}/get/accepted"));
    assert_eq!(got["state"]["reported"], json!({"firmware": "1.2"}));
    assert_eq!(got["state"].get("desired"), None);
    // A QoS 0 request is served too.
    d.client
        .publish(
            format!("{named}/update"),
            QoS::AtMostOnce,
            false,
            br#"{"state":{"reported":{"firmware":"1.3"}}}"#.to_vec(),
        )
        .expect("publish");
    assert_eq!(d.message(&format!("{named}/update/accepted"))["version"], 2);

    // Delete, then the shadow is gone.
    d.request(&format!("{LAMP}/delete"), r#"{"clientToken":"t9"}"#);
    let deleted = d.message(&format!("{LAMP}/delete/accepted"));
    assert_eq!(deleted["version"], 2);
    assert_eq!(deleted["clientToken"], "t9");
    d.request(&format!("{LAMP}/get"), "");
    assert_eq!(d.message(&format!("{LAMP}/get/rejected"))["code"], 404);
    // The named one is still there.
    d.request(&format!("{named}/get"), "");
    assert_eq!(d.message(&format!("{named}/get/accepted"))["version"], 2);

    // Nothing answered was refused as an unserved `$` topic.
    assert_eq!(weir.metric("weir_reserved_topic_refused_total"), 0);
    let (status, _) = weir.terminate();
    assert!(status.success());
}

#[test]
fn acknowledged_shadows_survive_sigkill_and_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = config(tmp.path(), PLAIN_RULE);
    let weir = Weir::start(&cfg);
    let mut d = lamp_device(weir.mqtt, "lamp-1");
    d.request(
        &format!("{LAMP}/update"),
        r#"{"state":{"reported":{"temp":21}}}"#,
    );
    d.request(
        &format!("{LAMP}/update"),
        r#"{"state":{"desired":{"temp":19}}}"#,
    );
    assert_eq!(d.message(&format!("{LAMP}/update/accepted"))["version"], 1);
    assert_eq!(d.message(&format!("{LAMP}/update/accepted"))["version"], 2);
    drop(d);
    // SIGKILL: what was acknowledged is on disk, whatever the host had in memory.
    drop(weir);

    let weir = Weir::start(&cfg);
    let mut d = lamp_device(weir.mqtt, "lamp-2");
    d.request(&format!("{LAMP}/get"), "");
    let got = d.message(&format!("{LAMP}/get/accepted"));
    assert_eq!(got["version"], 2);
    assert_eq!(got["state"]["reported"], json!({"temp": 21}));
    assert_eq!(got["state"]["desired"], json!({"temp": 19}));
    assert_eq!(got["state"]["delta"], json!({"temp": 19}));
    // The version goes on from the stored one.
    d.request(
        &format!("{LAMP}/update"),
        r#"{"state":{"reported":{"temp":19}},"version":2}"#,
    );
    assert_eq!(d.message(&format!("{LAMP}/update/accepted"))["version"], 3);
    let (status, _) = weir.terminate();
    assert!(status.success());
}

#[test]
fn rules_see_the_answers_and_hash_subscribers_see_no_dollar_topic() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rules = format!(
        "{PLAIN_RULE}\n[rules.accepted]\nsql = \"SELECT state, version, topic(3) AS thing FROM '$aws/things/+/shadow/update/accepted'\"\n\n\
         [[rules.accepted.actions]]\nkind = \"kinesis\"\nstream = \"out\"\npartition_key = \"accepted-${{topic(3)}}\"\n\n\
         [rules.documents]\nsql = \"SELECT current.version AS v FROM '$aws/things/+/shadow/update/documents'\"\n\n\
         [[rules.documents.actions]]\nkind = \"kinesis\"\nstream = \"out\"\npartition_key = \"documents\"\n"
    );
    let weir = Weir::start(&config(tmp.path(), &rules));
    let mut everything = Device::connect(weir.mqtt, "hash");
    everything.subscribe("#", QoS::AtLeastOnce);
    let mut d = lamp_device(weir.mqtt, "lamp");
    d.request(
        &format!("{LAMP}/update"),
        r#"{"state":{"reported":{"on":true}}}"#,
    );
    d.message(&format!("{LAMP}/update/accepted"));
    d.request("plain/x", r#"{"n":1}"#);
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="accepted",action="0:kinesis:out"}"#,
        1,
    );
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="documents",action="0:kinesis:out"}"#,
        1,
    );
    let seen = everything.drain(Duration::from_millis(500));
    let topics: Vec<&str> = seen.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(topics, ["plain/x"], "a `#` subscriber saw {topics:?}");

    // The holder's catch-all stays the embedding program's: subscribing to it is refused.
    let mut snoop = Device::connect(weir.mqtt, "snoop");
    snoop
        .client
        .subscribe(rumqttd_all_topics(), QoS::AtMostOnce)
        .expect("subscribe");
    let deadline = Instant::now() + WAIT;
    loop {
        match snoop.next(deadline) {
            Some(Seen::Closed(_)) => break,
            Some(Seen::SubAck(codes)) => panic!("subscribed to the catch-all: {codes:?}"),
            Some(_) => {}
            None => panic!("the catch-all subscriber is still connected"),
        }
    }
    assert_eq!(weir.metric("weir_reserved_topic_refused_total"), 0);
    let (status, _) = weir.terminate();
    assert!(status.success());
    let records = common::read_stream(&tmp.path().join("data/streams"), "out");
    let accepted: Vec<&Value> = records
        .iter()
        .filter(|(k, _)| k == "accepted-lamp")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        accepted,
        [&json!({"state": {"reported": {"on": true}}, "version": 1, "thing": "lamp"})]
    );
    assert!(
        records
            .iter()
            .any(|(k, v)| k == "documents" && v == &json!({"v": 1})),
        "{records:?}"
    );
}

/// The in-process holder's filter (`rumqttd::local::ALL_TOPICS`).
fn rumqttd_all_topics() -> &'static str {
    "$weir/all-topics"
}

#[test]
fn republish_honours_its_qos() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rules = "[rules.one]\nsql = \"SELECT * FROM 'in/one'\"\n\n[[rules.one.actions]]\nkind = \"republish\"\ntopic = \"out/one\"\nqos = 1\n\n\
                 [rules.zero]\nsql = \"SELECT * FROM 'in/zero'\"\n\n[[rules.zero.actions]]\nkind = \"republish\"\ntopic = \"out/zero\"\nqos = 0\n";
    let weir = Weir::start(&config(tmp.path(), rules));
    let mut sub = Device::connect(weir.mqtt, "sub");
    sub.subscribe("out/#", QoS::AtLeastOnce);
    let mut publisher = Device::connect(weir.mqtt, "pub");
    publisher.request("in/one", r#"{"n":1}"#);
    publisher.request("in/zero", r#"{"n":0}"#);
    let (one, qos1) = sub.message_qos("out/one");
    assert_eq!(one, json!({"n": 1}));
    assert_eq!(qos1, QoS::AtLeastOnce, "republish qos = 1");
    let (zero, qos0) = sub.message_qos("out/zero");
    assert_eq!(zero, json!({"n": 0}));
    assert_eq!(
        qos0,
        QoS::AtMostOnce,
        "republish qos = 0: the lower of the two QoS"
    );
    let (status, _) = weir.terminate();
    assert!(status.success());
}

#[test]
fn a_request_that_cannot_be_stored_is_answered_500_and_never_acknowledged() {
    let tmp = tempfile::tempdir().expect("tmp");
    let weir = Weir::start(&config(tmp.path(), PLAIN_RULE));
    // A file where the thing's folder would go: its shadow cannot be written.
    std::fs::write(tmp.path().join("data/shadows/blocked"), b"in the way").expect("write");
    let topic = "$aws/things/blocked/shadow/update";
    let mut watcher = Device::connect(weir.mqtt, "watcher");
    watcher.subscribe(&format!("{topic}/rejected"), QoS::AtLeastOnce);
    let mut d = Device::connect(weir.mqtt, "blocked");
    d.client
        .publish(
            topic,
            QoS::AtLeastOnce,
            false,
            br#"{"state":{"reported":{"a":1}}}"#.to_vec(),
        )
        .expect("publish");
    let r = watcher.message(&format!("{topic}/rejected"));
    assert_eq!(r["code"], 500, "{r}");
    assert_eq!(r["message"], "Internal service failure");
    // The publisher is disconnected without a PUBACK, so it sends the request again.
    let deadline = Instant::now() + WAIT;
    loop {
        match d.next(deadline) {
            Some(Seen::Closed(_)) => break,
            Some(Seen::PubAck) => panic!("a request that was not stored was acknowledged"),
            Some(_) => {}
            None => panic!("the publisher of an unstored request is still connected"),
        }
    }
    let (status, _) = weir.terminate();
    assert!(status.success());
}
