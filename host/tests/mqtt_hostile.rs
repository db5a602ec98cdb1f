//! Hostile MQTT clients against `weir run`'s embedded broker (rumqttd, patched: see
//! `patches/rumqttd/PATCHES.md`). After each attack an honest client's QoS 1 publish is
//! acknowledged and lands in the stream.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::process::Command;

use common::Weir;

/// An MQTT 3.1.1 CONNECT with a clean session and this client id.
fn connect_packet(client_id: &str) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60];
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    let mut p = vec![0x10, body.len() as u8];
    p.extend(body);
    p
}

/// Starts `weir run` on a configuration of the embedded broker on a free port (with
/// `broker_extra`, lines of `[broker]`), the API on a free port, storage in a temporary folder,
/// a stream `out` and `rules`; returns the folder (kept while the test runs), the MQTT port
/// and the host.
fn start(broker_extra: &str, rules: &str) -> (tempfile::TempDir, u16, Weir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "[broker]\nlisten = \"127.0.0.1:0\"\n{broker_extra}\n[api]\nlisten = \"127.0.0.1:0\"\n\n\
         [storage]\ndir = \"data\"\n\n[streams.out]\n\n{rules}"
    );
    let cfg = tmp.path().join("weir.toml");
    std::fs::write(&cfg, text).expect("write config");
    let weir = Weir::start(&cfg);
    (tmp, weir.mqtt, weir)
}

/// A rule `name` that puts everything `FROM filter` sends into the stream `out`, keyed by the
/// template `key`.
fn to_out(name: &str, filter: &str, key: &str) -> String {
    format!(
        "[rules.{name}]\nsql = \"SELECT * FROM '{filter}'\"\n\n[[rules.{name}.actions]]\n\
         kind = \"kinesis\"\nstream = \"out\"\npartition_key = \"{key}\"\n"
    )
}

/// Closes with a TCP reset (SO_LINGER 0) instead of a FIN.
fn reset(s: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `linger`, which lives for the call, on a socket we own.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(s);
}

fn honest_publish(port: u16, client_id: &str, n: &str) {
    let out = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args([
            "-i",
            client_id,
            "-t",
            "in/x",
            "-m",
            &format!("{{\"n\":{n}}}"),
        ])
        .output()
        .expect("mosquitto_pub");
    assert!(
        out.status.success(),
        "an honest QoS 1 publish after the attack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn connect_then_reset_before_connack_with_one_client_id_does_not_silence_the_broker() {
    let (tmp, mqtt, weir) = start("", &to_out("r", "in/#", "k"));
    for round in 0..30 {
        let mut s = TcpStream::connect(("127.0.0.1", mqtt)).expect("connect");
        s.write_all(&connect_packet("victim"))
            .expect("send CONNECT");
        if round % 3 == 0 {
            // Sometimes give the broker time to answer; never read the CONNACK.
            let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(20)));
            let _ = std::io::Read::read(&mut s, &mut [0u8; 4]);
        }
        reset(s);
    }
    // The same client id, and another one, are still served.
    honest_publish(mqtt, "victim", "1");
    honest_publish(mqtt, "bystander", "2");
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="r",action="0:kinesis:out"}"#,
        2,
    );
    let (status, _) = weir.terminate();
    assert!(status.success());
    let records = common::read_stream(&tmp.path().join("data/streams"), "out");
    assert_eq!(records.len(), 2, "{records:?}");
}

/// Whether the broker closes `s` within `within`.
fn closed_by_broker(s: &mut TcpStream, within: std::time::Duration) -> bool {
    use std::io::Read;
    let _ = s.set_read_timeout(Some(within));
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn idle_garbage_and_oversized_clients_are_cut_off_and_health_probes_the_broker() {
    let (tmp, mqtt, weir) = start(
        "connect_timeout_ms = 300\nmax_packet_bytes = 4096\nmax_inflight = 10\n",
        &to_out("r", "in/#", "k"),
    );
    let wait = std::time::Duration::from_secs(10);

    // Hundreds of sockets that never send CONNECT are closed after the CONNECT timeout.
    let mut idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(("127.0.0.1", mqtt)).expect("connect"))
        .collect();
    for s in idle.iter_mut().take(10) {
        assert!(closed_by_broker(s, wait), "an idle socket stays open");
    }
    drop(idle);

    // Garbage, and a fixed header announcing a 256 MiB packet.
    let mut g = TcpStream::connect(("127.0.0.1", mqtt)).expect("connect");
    let _ = g.write_all(&[0xff; 64]);
    assert!(closed_by_broker(&mut g, wait));
    let mut big = TcpStream::connect(("127.0.0.1", mqtt)).expect("connect");
    let _ = big.write_all(&connect_packet("huge"));
    let _ = big.write_all(&[0x32, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert!(closed_by_broker(&mut big, wait));

    // A publish over max_packet_bytes is refused (the publisher is disconnected).
    let oversized = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &mqtt.to_string(), "-q", "1"])
        .args(["-t", "in/x", "-m", &"x".repeat(8192)])
        .output()
        .expect("mosquitto_pub");
    let _ = oversized;

    honest_publish(mqtt, "after-attacks", "1");
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="r",action="0:kinesis:out"}"#,
        1,
    );
    let health = weir.get("/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let (status, _) = weir.terminate();
    assert!(status.success());
    let records = common::read_stream(&tmp.path().join("data/streams"), "out");
    assert_eq!(
        records.len(),
        1,
        "the oversized publish is not in the stream: {records:?}"
    );
}

/// An MQTT remaining length.
fn remaining_length(mut len: usize, out: &mut Vec<u8>) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            return;
        }
    }
}

/// A packet: fixed header byte, remaining length, body.
fn packet(header: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![header];
    remaining_length(body.len(), &mut p);
    p.extend_from_slice(body);
    p
}

/// A length-prefixed UTF-8 string.
fn string(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// MQTT 3.1.1 (`v5 = false`) or MQTT 5 packets of every kind that carries a topic, a filter
/// or a client id, each naming `text`.
fn packets_naming(text: &str, v5: bool) -> Vec<Vec<u8>> {
    let props = |b: &mut Vec<u8>| {
        if v5 {
            b.push(0);
        }
    };
    let mut connect = vec![0, 4, b'M', b'Q', b'T', b'T', if v5 { 5 } else { 4 }];
    // Clean session, a will at QoS 1 on a topic naming `text`.
    connect.extend_from_slice(&[0x02 | 0x04 | 0x08, 0, 60]);
    props(&mut connect);
    string(&format!("{text}-client"), &mut connect);
    props(&mut connect); // will properties
    string(&format!("{text}/will"), &mut connect);
    string("gone", &mut connect);
    let mut out = vec![packet(0x10, &connect)];
    for (qos, pkid) in [(0u8, None), (1, Some(1u16)), (2, Some(2))] {
        for topic in [format!("{text}/x"), text.to_owned(), format!("a/{text}")] {
            let mut b = Vec::new();
            string(&topic, &mut b);
            if let Some(id) = pkid {
                b.extend_from_slice(&id.to_be_bytes());
            }
            props(&mut b);
            b.extend_from_slice(b"{\"n\":0}");
            out.push(packet(0x30 | (qos << 1), &b));
        }
    }
    for filter in [format!("{text}/#"), format!("+/{text}"), text.to_owned()] {
        let mut b = 7u16.to_be_bytes().to_vec();
        props(&mut b);
        string(&filter, &mut b);
        b.push(1);
        out.push(packet(0x82, &b));
        let mut u = 8u16.to_be_bytes().to_vec();
        props(&mut u);
        string(&filter, &mut u);
        out.push(packet(0xa2, &u));
    }
    out
}

/// Sends `packets` on one connection, then reads whatever comes back until the broker closes
/// it or goes quiet.
fn send_all(port: u16, packets: &[Vec<u8>]) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    for p in packets {
        if s.write_all(p).is_err() {
            return;
        }
    }
    let _ = closed_by_broker(&mut s, std::time::Duration::from_millis(300));
}

fn publish_to(port: u16, client_id: &str, topic: &str, n: u32) -> std::process::Output {
    Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args([
            "-i",
            client_id,
            "-t",
            topic,
            "-m",
            &format!("{{\"n\":{n}}}"),
        ])
        .output()
        .expect("mosquitto_pub")
}

fn healthy(weir: &Weir) {
    let health = weir.get("/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert_eq!(weir.metric("weir_worker_deaths_total"), 0);
}

#[test]
fn multibyte_topics_filters_and_client_ids_in_every_packet_type_are_text() {
    let (tmp, mqtt, weir) = start("listen_v5 = \"127.0.0.1:0\"\n", &to_out("r", "é/+", "k"));
    let mqtt5 = weir.mqtt5.expect("an MQTT 5 listener");
    // Two-, three- and four-byte first characters, a lone multi-byte level, and a `$` one.
    for name in ["é", "日本", "𝄞", "$é", "é+", "ü#"] {
        send_all(mqtt, &packets_naming(name, false));
        send_all(mqtt5, &packets_naming(name, true));
        healthy(&weir);
    }
    // The broker still serves, and a rule on a multi-byte filter receives what it matches.
    let out = publish_to(mqtt, "honest", "é/x", 1);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = weir.metric(r#"weir_action_delivered_total{rule="r",action="0:kinesis:out"}"#);
    assert!(before >= 1, "the honest publish on é/x was delivered");
    healthy(&weir);
    let (status, _) = weir.terminate();
    assert!(status.success());
    let records = common::read_stream(&tmp.path().join("data/streams"), "out");
    assert!(
        records.iter().any(|(_, v)| v["n"] == 1),
        "the honest é/x publish is stored: {records:?}"
    );
}

#[test]
fn a_client_cannot_take_the_hosts_own_link_identities() {
    let (tmp, mqtt, weir) = start("", &to_out("r", "in/#", "k"));
    for id in ["weir-ingress", "weir-publisher"] {
        // Refused: the connection closes without a successful CONNACK.
        let mut s = TcpStream::connect(("127.0.0.1", mqtt)).expect("connect");
        s.write_all(&connect_packet(id)).expect("CONNECT");
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let mut ack = [0u8; 4];
        let accepted = std::io::Read::read_exact(&mut s, &mut ack).is_ok() && ack[3] == 0;
        assert!(!accepted, "a client took the client id {id}: {ack:02x?}");
        // And a real client that keeps trying does not get it either.
        let out = publish_to(mqtt, id, "in/x", 9);
        assert!(!out.status.success(), "{id} was accepted");
    }
    // Rules still run: an honest QoS 1 publish is acknowledged and stored.
    honest_publish(mqtt, "honest", "1");
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="r",action="0:kinesis:out"}"#,
        1,
    );
    healthy(&weir);
    let (status, _) = weir.terminate();
    assert!(status.success());
    let records = common::read_stream(&tmp.path().join("data/streams"), "out");
    assert_eq!(records.len(), 1, "{records:?}");
}

/// Reads until the broker closes `s`; returns everything it sent.
fn read_until_closed(s: &mut TcpStream, within: std::time::Duration) -> (Vec<u8>, bool) {
    use std::io::Read;
    let _ = s.set_read_timeout(Some(within));
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (got, false)
            }
            Err(_) => return (got, true),
        }
    }
}

#[test]
fn dollar_topics_reach_their_rules_and_unserved_ones_are_refused() {
    let (tmp, mqtt, weir) = start(
        "",
        "[rules.shadow]\nsql = \"SELECT state.reported.temp AS temp, topic(3) AS thing FROM '$aws/things/+/shadow/update'\"\n\n[[rules.shadow.actions]]\nkind = \"kinesis\"\nstream = \"out\"\npartition_key = \"${topic(3)}\"\n\n[rules.all]\nsql = \"SELECT * FROM '#'\"\n\n[[rules.all.actions]]\nkind = \"kinesis\"\nstream = \"out\"\npartition_key = \"all\"\n",
    );
    let out = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &mqtt.to_string(), "-q", "1"])
        .args(["-t", "$aws/things/t1/shadow/update"])
        .args(["-m", r#"{"state":{"reported":{"temp":21}}}"#])
        .output()
        .expect("mosquitto_pub");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="shadow",action="0:kinesis:out"}"#,
        1,
    );

    // A QoS 1 publish to a `$` topic no rule serves: no PUBACK, the connection is closed
    // (AWS IoT: unsupported operations on reserved topics end the connection), and `#`
    // rules do not see `$` topics (MQTT 3.1.1 §4.7.2).
    let mut s = TcpStream::connect(("127.0.0.1", mqtt)).expect("connect");
    s.write_all(&connect_packet("reserved-writer"))
        .expect("CONNECT");
    let mut body = Vec::new();
    string("$aws/nobody/listens", &mut body);
    body.extend_from_slice(&5u16.to_be_bytes());
    body.extend_from_slice(b"{}");
    s.write_all(&packet(0x32, &body)).expect("PUBLISH");
    let (got, closed) = read_until_closed(&mut s, std::time::Duration::from_secs(10));
    assert!(closed, "the publisher is disconnected");
    // CONNACK (4 bytes), and no PUBACK after it.
    assert!(got.starts_with(&[0x20, 0x02, 0x00, 0x00]), "{got:02x?}");
    assert!(!got[4..].contains(&0x40), "a PUBACK came back: {got:02x?}");
    assert_eq!(weir.metric("weir_reserved_topic_refused_total"), 1);
    assert_eq!(
        weir.metric(r#"weir_action_delivered_total{rule="all",action="0:kinesis:out"}"#),
        0,
        "`#` matched a `$` topic"
    );
    healthy(&weir);
    let (status, _) = weir.terminate();
    assert!(status.success());
    let records = common::read_stream(&tmp.path().join("data/streams"), "out");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].0, "t1");
    assert_eq!(records[0].1, serde_json::json!({"temp": 21, "thing": "t1"}));
}

#[test]
fn a_qos0_flood_does_not_hold_up_an_honest_qos1_publish() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (tmp, mqtt, weir) = start("", &to_out("r", "in/#", "${topic()}"));
    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..2)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", mqtt)).expect("connect");
                s.write_all(&connect_packet(&format!("flood-{i}")))
                    .expect("CONNECT");
                let mut body = Vec::new();
                string("in/flood", &mut body);
                body.extend_from_slice(br#"{"flood":true}"#);
                let one = packet(0x30, &body);
                let burst: Vec<u8> = one.iter().copied().cycle().take(one.len() * 512).collect();
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if s.write_all(&burst).is_err() {
                        break;
                    }
                    sent += 512;
                }
                sent
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_secs(5));
    // Still flooding: the honest publish is acknowledged (and so stored) within a second.
    let started = std::time::Instant::now();
    honest_publish(mqtt, "honest", "1");
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let sent: u64 = flooders
        .into_iter()
        .map(|f| f.join().expect("flooder"))
        .sum();
    assert!(
        took < std::time::Duration::from_secs(1),
        "the QoS 1 publish took {took:?} behind {sent} QoS 0 messages"
    );
    let shed = weir.metric("weir_qos0_shed_total");
    eprintln!("flood: {sent} QoS 0 messages sent, {shed} shed; QoS 1 acknowledged in {took:?}");
    healthy(&weir);
    let (status, _) = weir.terminate();
    assert!(status.success());
    let records = common::read_stream(&tmp.path().join("data/streams"), "out");
    assert!(
        records.iter().any(|(k, v)| k == "in/x" && v["n"] == 1),
        "the honest publish is stored"
    );
}

#[test]
fn the_per_connection_publish_rate_slows_a_fast_publisher_without_dropping() {
    let (tmp, mqtt, weir) = start("max_publish_rate = 50\n", &to_out("r", "in/#", "k"));
    let messages: Vec<(String, Vec<u8>)> = (0..200)
        .map(|n| ("in/rate".to_owned(), format!("{{\"n\":{n}}}").into_bytes()))
        .collect();
    let started = std::time::Instant::now();
    common::publish_all(mqtt, &messages);
    let took = started.elapsed();
    // 50 in the first second's burst, then 50 a second: at least 3 s for 200, whatever the
    // machine's speed (an upper bound would be a timing test; the lower bound is the limit).
    assert!(
        took >= std::time::Duration::from_millis(2500),
        "200 publishes at 50/s took {took:?}"
    );
    let (status, _) = weir.terminate();
    assert!(status.success());
    let records = common::read_stream(&tmp.path().join("data/streams"), "out");
    assert_eq!(records.len(), 200, "nothing is dropped");
}

/// AWS IoT's subscribe-only reserved topics (lifecycle events, Device Shadow answers) are
/// Weir's to publish: a network client that publishes to one gets no PUBACK and is
/// disconnected (rumqttd patch 11), and a subscriber of the topic receives nothing, so no
/// device can forge a presence event or a shadow answer. Requests stay open to clients.
#[test]
fn a_client_cannot_forge_events_or_shadow_answers() {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let (_tmp, mqtt, weir) = start("", &to_out("r", "in/#", "k"));
    let (watcher, mut conn) = Client::new(MqttOptions::new("watcher", "127.0.0.1", mqtt), 8);
    for filter in [
        "$aws/events/presence/connected/victim",
        "$aws/things/t1/shadow/update/accepted",
        "$aws/things/t1/shadow/update/rejected",
    ] {
        watcher
            .subscribe(filter, QoS::AtLeastOnce)
            .expect("queue subscribe");
    }
    let mut subacks = 0;
    let next = |conn: &mut rumqttc::Connection| -> Option<Packet> {
        match conn.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(Ok(Event::Incoming(p))) => Some(p),
            Ok(Ok(_)) => None,
            other => panic!("the watcher's connection: {other:?}"),
        }
    };
    while subacks < 3 {
        if let Some(Packet::SubAck(_)) = next(&mut conn) {
            subacks += 1;
        }
    }
    for topic in [
        "$aws/events/presence/connected/victim",
        "$aws/things/t1/shadow/update/accepted",
    ] {
        let out = publish_to(mqtt, "forger", topic, 1);
        assert!(
            !out.status.success(),
            "a forged publish to {topic} was acknowledged"
        );
    }
    // A request is still a client's to publish; its answer (400: no `state`) arrives after
    // anything the forgers could have got through.
    let out = publish_to(mqtt, "device", "$aws/things/t1/shadow/update", 2);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    loop {
        if let Some(Packet::Publish(p)) = next(&mut conn) {
            assert_eq!(
                p.topic, "$aws/things/t1/shadow/update/rejected",
                "a subscriber received a forged message: {p:?}"
            );
            break;
        }
    }
    healthy(&weir);
}
