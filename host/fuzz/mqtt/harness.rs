//! The MQTT fuzz harness shared by the cargo-fuzz targets `mqtt_decode` and `mqtt_broker`
//! (`host/fuzz/mqtt/fuzz_targets/`) and by the stable test `host/tests/mqtt_fuzz.rs`, which
//! replays their corpora and runs a fixed-seed batch of generated sessions in `cargo test`.
//! Both include this file with `#[path]`, so a crash the fuzzer finds is replayed by the same
//! code on stable. It needs only `rumqttd`, `bytes` and std.
//!
//! - [`decode`]: rumqttd's v4 and v5 `Protocol::read_mut` over arbitrary bytes, as the broker's
//!   network loop calls it (frame after frame, with a size limit); every decoded packet is
//!   encoded again with the same protocol and must decode to itself.
//! - [`Broker`]: an embedded rumqttd with a v4 and a v5 listener on loopback and hold-the-ack
//!   mode on (a local link calls `hold_acks` then subscribes, on every topic, as Weir's
//!   ingress does); [`Broker::run`] turns the input into MQTT sessions (structure-aware: every packet type,
//!   v5 properties, topics with multi-byte UTF-8, `$` topics, wildcards in odd places, odd
//!   client ids, raw frames), sends them over TCP, then checks that an honest client still
//!   gets its CONNACK and the PUBACK of a QoS 1 publish.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rumqttd::protocol::{v4::V4, v5::V5, Error as ProtocolError, Protocol};

/// The largest packet the decoders accept, as the broker's `max_payload_size`.
pub const MAX_PACKET: usize = 64 * 1024;

/// How long the honest client waits for each answer before it calls the broker dead.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------------------------------
// Decoding

/// Decodes `data` as a v4 and as a v5 byte stream, packet after packet, until the decoder
/// wants more bytes or refuses the stream (the broker then closes the connection). Panics
/// (which the fuzzer reports) if a decoder panics or a decoded packet does not survive an
/// encode and decode with the same protocol. Returns how many packets decoded.
pub fn decode(data: &[u8]) -> usize {
    decode_with(V4, data) + decode_with(V5, data)
}

fn decode_with<P: Protocol + Clone>(mut protocol: P, data: &[u8]) -> usize {
    let mut stream = BytesMut::from(data);
    let mut packets = 0;
    loop {
        let before = stream.len();
        match protocol.read_mut(&mut stream, MAX_PACKET) {
            Ok(packet) => {
                packets += 1;
                let mut out = BytesMut::new();
                // The broker never encodes what it decoded as is, but it forwards a publish's
                // topic, payload and properties, and a refusal to encode is fine.
                if protocol.write(packet.clone(), &mut out).is_ok() {
                    let again = protocol.clone().read_mut(&mut out, usize::MAX);
                    assert_eq!(again.as_ref().ok(), Some(&packet), "re-encoded: {again:?}");
                }
            }
            // The network loop reads more bytes and calls again: nothing may have been taken,
            // or the next packet would be decoded from the wrong offset.
            Err(ProtocolError::InsufficientBytes(_)) => {
                assert_eq!(stream.len(), before, "a partial frame was consumed");
                return packets;
            }
            // The broker closes the connection.
            Err(_) => return packets,
        }
    }
}

// ------------------------------------------------------------------------------------------
// Input: a byte source that never runs dry (zeros once exhausted), as `arbitrary`'s
// `Unstructured` does, so that every input is a valid, finite program.

/// Reads choices from the fuzzer's bytes.
pub struct Gen<'a> {
    data: &'a [u8],
}

impl<'a> Gen<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Gen { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 256 {
            usize::from(self.byte()) % n
        } else {
            usize::from(self.u16()) % n
        }
    }

    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    pub fn pick<'b, T>(&mut self, items: &'b [T]) -> &'b T {
        &items[self.below(items.len())]
    }

    /// Exactly `n` bytes, or as many as remain.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// Up to `max` bytes (a length byte, then the bytes), as many as remain.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = self.below(max + 1);
        self.take(n)
    }
}

/// Topic levels: multi-byte first characters, `$` prefixes, empties; the first
/// [`PLAIN_LEVELS`] are valid in a topic name, the rest (wildcards, NUL, `$share`) only in odd
/// places or in filters.
const LEVELS: &[&str] = &[
    "é",
    "日本",
    "😀",
    "$aws",
    "$SYS",
    "a",
    "x",
    "things",
    "shadow",
    "update",
    "ß",
    "honest",
    "weir-ingress",
    "",
    "$",
    "+",
    "#",
    "é#",
    "a+",
    "\u{0}",
    "\u{7f}",
    "$share",
    "$share/g",
];
const PLAIN_LEVELS: usize = 14;

/// Client ids: empty, multi-byte, wildcards, slashes, very long, the holder's and the honest
/// client's (taking over either must not stop the broker serving the honest client).
const CLIENT_IDS: &[&str] = &[
    "",
    "c1",
    "c2",
    "é",
    "日本語",
    "$",
    "#",
    "+",
    "a/b",
    "\u{0}",
    "fuzz-holder",
    "weir-ingress",
    "fuzz-honest",
    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
];

/// A topic or a filter, of any level.
fn topic(g: &mut Gen) -> Vec<u8> {
    topic_of(g, LEVELS)
}

/// A topic to publish to: mostly of valid levels.
fn publish_topic(g: &mut Gen) -> Vec<u8> {
    if g.byte() < 32 {
        topic(g)
    } else {
        topic_of(g, &LEVELS[..PLAIN_LEVELS])
    }
}

fn topic_of(g: &mut Gen, levels: &[&str]) -> Vec<u8> {
    if g.byte() < 8 {
        // Raw bytes: not UTF-8, or a topic of any shape.
        return g.bytes(24).to_vec();
    }
    let mut t = String::new();
    for i in 0..=g.below(5) {
        if i > 0 {
            t.push('/');
        }
        let level = g.pick::<&str>(levels);
        t.push_str(level);
    }
    t.into_bytes()
}

fn mqtt_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(n as u16).to_be_bytes());
    out.extend_from_slice(&b[..n]);
}

fn varint(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return;
        }
    }
}

/// The properties MQTT 5 allows in each packet.
const CONNECT_PROPS: &[u8] = &[0x11, 0x21, 0x27, 0x22, 0x19, 0x17, 0x26, 0x15, 0x16];
const WILL_PROPS: &[u8] = &[0x18, 0x01, 0x02, 0x03, 0x08, 0x09, 0x26];
const PUBLISH_PROPS: &[u8] = &[0x01, 0x02, 0x23, 0x08, 0x09, 0x26, 0x0B, 0x03];
const SUBSCRIBE_PROPS: &[u8] = &[0x0B, 0x26];
const ACK_PROPS: &[u8] = &[0x1F, 0x26];
const DISCONNECT_PROPS: &[u8] = &[0x11, 0x1F, 0x26, 0x1C];

/// MQTT 5 properties: mostly none; else a few of those `allowed` in this packet (now and then
/// any identifier, valid or not), with values of their type, or a raw block.
fn properties(g: &mut Gen, allowed: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    let choice = g.byte();
    if choice < 128 {
        // None: most packets carry none, and a misplaced one ends the session.
    } else if choice < 144 {
        p.extend_from_slice(g.bytes(16));
    } else {
        for _ in 0..g.below(4) {
            let id = if g.byte() < 16 {
                *g.pick(&[
                    0x01u8, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18,
                    0x19, 0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29,
                    0x2A, 0x00, 0x7F,
                ])
            } else {
                *g.pick(allowed)
            };
            p.push(id);
            match id {
                0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => p.push(g.byte()),
                0x13 | 0x21 | 0x22 | 0x23 => p.extend_from_slice(&g.u16().to_be_bytes()),
                0x02 | 0x11 | 0x18 | 0x27 => p.extend_from_slice(&g.u32().to_be_bytes()),
                0x0B => varint(&mut p, g.u32() as usize & 0x0FFF_FFFF),
                0x26 => {
                    let (k, v) = (topic(g), topic(g));
                    mqtt_bytes(&mut p, &k);
                    mqtt_bytes(&mut p, &v);
                }
                _ => {
                    let t = topic(g);
                    mqtt_bytes(&mut p, &t);
                }
            }
        }
    }
    let mut out = Vec::new();
    varint(&mut out, p.len());
    out.extend_from_slice(&p);
    out
}

fn frame(byte1: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![byte1];
    varint(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

fn connect(g: &mut Gen, v5: bool) -> Vec<u8> {
    let mut b = Vec::new();
    mqtt_bytes(&mut b, if g.byte() < 8 { b"MQIsdp" } else { b"MQTT" });
    let level = if g.byte() < 8 {
        g.byte()
    } else if v5 {
        5
    } else {
        4
    };
    b.push(level);
    let flags = if g.byte() < 16 {
        // Any flags: a reserved bit, a will QoS of 3, a password without a user name...
        g.byte()
    } else {
        // Consistent ones: clean session, maybe a will (its QoS and retain), maybe a login.
        let will = g.byte() < 64;
        let login = g.byte() < 32;
        let mut f = g.byte() & 0x02;
        if will {
            f |= 0x04 | ((g.byte() % 3) << 3) | (g.byte() & 0x20);
        }
        if login {
            f |= 0xC0;
        }
        f
    };
    b.push(flags);
    b.extend_from_slice(&g.u16().to_be_bytes());
    if v5 {
        b.extend_from_slice(&properties(g, CONNECT_PROPS));
    }
    let id = if g.byte() < 16 {
        g.bytes(40).to_vec()
    } else {
        g.pick(CLIENT_IDS).as_bytes().to_vec()
    };
    mqtt_bytes(&mut b, &id);
    if flags & 0x04 != 0 {
        if v5 {
            b.extend_from_slice(&properties(g, WILL_PROPS));
        }
        let t = topic(g);
        mqtt_bytes(&mut b, &t);
        let p = g.bytes(16);
        mqtt_bytes(&mut b, p);
    }
    if flags & 0x80 != 0 {
        mqtt_bytes(&mut b, b"user");
    }
    if flags & 0x40 != 0 {
        mqtt_bytes(&mut b, b"pass");
    }
    frame(0x10, &b)
}

/// How many filters a SUBSCRIBE or UNSUBSCRIBE has: one to three, now and then none (invalid).
fn filter_count(g: &mut Gen) -> usize {
    if g.byte() < 8 {
        0
    } else {
        1 + g.below(3)
    }
}

fn packet_id(g: &mut Gen) -> [u8; 2] {
    // Small ids, so that acks and retransmissions meet; now and then zero (invalid).
    let b = g.byte();
    u16::from(if b < 8 { 0 } else { 1 + b % 7 }).to_be_bytes()
}

/// One packet of any type, mostly well formed.
fn packet(g: &mut Gen, v5: bool) -> Vec<u8> {
    // Weighted towards what keeps a session going (a second CONNECT, a server's packet or
    // garbage ends it): kind 27 is a raw frame (the seeds use it).
    let kind = g.below(32);
    let mut b = Vec::new();
    let mut flags = 0u8;
    let ty = match kind {
        0 => return connect(g, v5),
        1..=12 | 28..=31 => {
            let qos = if g.byte() < 16 { 3 } else { g.byte() % 3 }; // 3 is invalid
            let dup = g.byte() < 32;
            let retain = g.byte() < 48;
            flags = (u8::from(dup) << 3) | (qos << 1) | u8::from(retain);
            let t = if g.byte() < 8 {
                Vec::new()
            } else {
                publish_topic(g)
            };
            mqtt_bytes(&mut b, &t);
            if qos > 0 {
                b.extend_from_slice(&packet_id(g));
            }
            if v5 {
                b.extend_from_slice(&properties(g, PUBLISH_PROPS));
            }
            b.extend_from_slice(g.bytes(32));
            3
        }
        13..=16 => {
            flags = if g.byte() < 16 { 0 } else { 2 };
            b.extend_from_slice(&packet_id(g));
            if v5 {
                b.extend_from_slice(&properties(g, SUBSCRIBE_PROPS));
            }
            for _ in 0..filter_count(g) {
                let t = topic(g);
                mqtt_bytes(&mut b, &t);
                b.push(if g.byte() < 16 {
                    g.byte()
                } else {
                    g.byte() % 3
                });
            }
            8
        }
        17..=18 => {
            flags = if g.byte() < 16 { 0 } else { 2 };
            b.extend_from_slice(&packet_id(g));
            if v5 {
                b.extend_from_slice(&properties(g, SUBSCRIBE_PROPS));
            }
            for _ in 0..filter_count(g) {
                let t = topic(g);
                mqtt_bytes(&mut b, &t);
            }
            10
        }
        19..=22 => {
            // PUBACK, PUBREC, PUBREL, PUBCOMP: a packet id, in v5 maybe a reason and properties.
            let ty = 4 + (kind - 19) as u8;
            if ty == 6 {
                flags = 2;
            }
            b.extend_from_slice(&packet_id(g));
            if v5 && g.bool() {
                b.push(g.byte());
                b.extend_from_slice(&properties(g, ACK_PROPS));
            }
            ty
        }
        23 => 12, // PINGREQ
        24 => {
            if v5 && g.bool() {
                b.push(g.byte());
                b.extend_from_slice(&properties(g, DISCONNECT_PROPS));
            }
            14
        }
        25 => {
            // A packet only the server sends: CONNACK, SUBACK, UNSUBACK, PINGRESP, or type 0/15.
            let ty = *g.pick(&[2u8, 9, 11, 13, 0, 15]);
            b.extend_from_slice(g.bytes(8));
            ty
        }
        26 => {
            // Any first byte and body.
            let byte1 = g.byte();
            return frame(byte1, g.bytes(64));
        }
        _ => {
            // Raw bytes, a 16-bit length first: lets a seed hold exact MQTT frames.
            let n = usize::from(g.u16()) % 4096;
            return g.take(n).to_vec();
        }
    };
    frame((ty << 4) | flags, &b)
}

/// One MQTT connection of a fuzz input.
pub struct Session {
    /// To the v5 listener (else v4).
    pub v5: bool,
    /// What the client sends, at once.
    pub bytes: Vec<u8>,
    pub end: End,
}

/// How a session ends.
pub enum End {
    /// Drops the connection at once (the broker may see a reset).
    Leave,
    /// Half-closes, then reads what the broker answers until it closes.
    HalfClose,
    /// Reads for a moment first (retained messages, a persistent session's queue).
    Linger,
}

/// The sessions of an input: up to four, one after the other.
pub fn sessions(data: &[u8]) -> Vec<Session> {
    let mut g = Gen::new(data);
    let mut out = Vec::new();
    while out.len() < 4 && !g.is_empty() {
        let head = g.byte();
        let v5 = head & 1 == 1;
        let mut bytes = Vec::new();
        // Mostly a CONNECT first; bits 1 to 3 of the head all set: none.
        if head & 14 != 14 {
            bytes.extend(connect(&mut g, v5));
        }
        for _ in 0..=g.below(8) {
            bytes.extend(packet(&mut g, v5));
        }
        let end = match g.byte() % 4 {
            0 => End::Leave,
            2 => End::Linger,
            _ => End::HalfClose,
        };
        out.push(Session { v5, bytes, end });
    }
    out
}

// ------------------------------------------------------------------------------------------
// The broker

/// Panics counted by the hook [`count_panics`] installs (the fuzzer's own hook aborts instead).
pub static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic, on any thread (the broker's router, its connection tasks), then runs
/// the previous hook.
pub fn count_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info)
    }));
}

/// An embedded rumqttd with hold-the-ack mode on, and its v4 and v5 listeners.
pub struct Broker {
    pub v4: SocketAddr,
    pub v5: SocketAddr,
    /// Messages the holder received.
    pub received: Arc<AtomicUsize>,
}

impl Broker {
    /// Starts the broker, its holder and its threads (they live as long as the process).
    pub fn start() -> Broker {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let connections = rumqttd::ConnectionSettings {
            connection_timeout_ms: 2000,
            max_payload_size: MAX_PACKET,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
            max_publish_rate: None,
        };
        let server = |name: &str, listen| rumqttd::ServerSettings {
            name: name.to_owned(),
            listen,
            tls: None,
            next_connection_delay_ms: 0,
            connections: connections.clone(),
        };
        let config = rumqttd::Config {
            id: 0,
            router: rumqttd::RouterConfig {
                max_connections: 10_000,
                max_outgoing_packet_count: 200,
                // Small segments, so that the holder's log drops some.
                max_segment_size: 64 * 1024,
                max_segment_count: 4,
                custom_segment: None,
                initialized_filters: None,
                shared_subscriptions_strategy: Default::default(),
            },
            v4: Some([("v4".to_owned(), server("fuzz-v4", any_port))].into()),
            v5: Some([("v5".to_owned(), server("fuzz-v5", any_port))].into()),
            ..Default::default()
        };
        let mut broker = rumqttd::Broker::new(config);
        let (mut tx, mut rx) = broker.link("fuzz-holder").expect("the holder's link");
        // As Weir's ingress does: the holder takes every topic, `$` ones included.
        let confirmer = tx.hold_acks(rumqttd::local::ALL_TOPICS).expect("hold acks");
        tx.subscribe(rumqttd::local::ALL_TOPICS)
            .expect("subscribe to every topic");
        // Bound now, on ports the system gives (rumqttd patch 8): listening before `start`.
        let bound = broker.bind_listeners().expect("bind the listeners");
        let addr_of = |name: &str| {
            bound
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, a)| *a)
                .expect("a bound listener")
        };
        let (v4, v5) = (addr_of("fuzz-v4"), addr_of("fuzz-v5"));
        std::thread::spawn(move || {
            // It returns only if it failed; the honest client then fails too.
            if let Err(e) = broker.start() {
                eprintln!("the broker stopped: {e}");
            }
        });
        let received = Arc::new(AtomicUsize::new(0));
        let counter = received.clone();
        std::thread::spawn(move || {
            let _keep = tx;
            // Confirms every message, except those whose payload says "reject" (the publisher
            // is then disconnected and must send again).
            loop {
                match rx.recv_deadline(Instant::now() + Duration::from_millis(100)) {
                    Ok(Some(rumqttd::Notification::Forward(f))) => {
                        counter.fetch_add(1, Ordering::Relaxed);
                        if let Some(cursor) = f.cursor {
                            if f.publish.payload.starts_with(b"reject") {
                                confirmer.reject(cursor);
                            } else {
                                confirmer.confirm(cursor);
                            }
                        }
                    }
                    Ok(Some(rumqttd::Notification::Unschedule)) => {
                        if rx.ready().is_err() {
                            return;
                        }
                    }
                    Ok(_) | Err(rumqttd::local::LinkError::RecvTimeout(_)) => {}
                    Err(_) => return,
                }
            }
        });
        Broker { v4, v5, received }
    }

    /// Plays `data` as up to four MQTT sessions, one after the other, then checks that an
    /// honest client is still served.
    pub fn run(&self, data: &[u8]) {
        for session in sessions(data) {
            self.session(&session);
        }
        self.honest(data.first().is_some_and(|b| b & 1 == 1));
    }

    fn session(&self, session: &Session) {
        let addr = if session.v5 { self.v5 } else { self.v4 };
        let Ok(mut s) = TcpStream::connect(addr) else {
            return;
        };
        let _ = s.set_nodelay(true);
        // A write error is the broker closing on a bad packet; it must still serve others.
        let _ = s.write_all(&session.bytes);
        match session.end {
            End::Leave => {}
            End::Linger => {
                drain(&mut s, Duration::from_millis(50));
                let _ = s.shutdown(std::net::Shutdown::Write);
                drain(&mut s, Duration::from_millis(500));
            }
            End::HalfClose => {
                let _ = s.shutdown(std::net::Shutdown::Write);
                drain(&mut s, Duration::from_millis(500));
            }
        }
    }

    /// An honest client connects (v4 or v5), publishes at QoS 1 and must get its PUBACK,
    /// which the router sends only once the holder confirmed the message. A connection closed
    /// under it is tried once more: a fuzzed session that guessed its client id (the fuzzer
    /// learns ids from comparisons) and was still being set up may take the id over, which is
    /// MQTT's session takeover, not a fault. A broker that cannot serve fails both.
    pub fn honest(&self, v5: bool) {
        if let Err(first) = self.try_honest(v5) {
            if let Err(second) = self.try_honest(v5) {
                panic!("the broker no longer serves an honest client: {first}; then {second}");
            }
        }
    }

    fn try_honest(&self, v5: bool) -> Result<(), String> {
        static HONEST: AtomicUsize = AtomicUsize::new(0);
        let id = format!("fuzz-honest-{}", HONEST.fetch_add(1, Ordering::Relaxed));
        let fail = |what: &str| {
            let id = id.clone();
            let what = what.to_owned();
            move |e: std::io::Error| format!("{id} (v5 {v5}): {what}: {e}")
        };
        let mut s =
            TcpStream::connect(if v5 { self.v5 } else { self.v4 }).map_err(fail("connect"))?;
        s.set_read_timeout(Some(ANSWER_WITHIN))
            .map_err(fail("timeout"))?;
        let mut c = Vec::new();
        mqtt_bytes(&mut c, b"MQTT");
        c.extend_from_slice(&[if v5 { 5 } else { 4 }, 0x02, 0, 60]);
        if v5 {
            c.push(0);
        }
        mqtt_bytes(&mut c, id.as_bytes());
        s.write_all(&frame(0x10, &c))
            .map_err(fail("send CONNECT"))?;
        let (byte1, body) = read_frame(&mut s).map_err(fail("read CONNACK"))?;
        if byte1 != 0x20 || body.get(1) != Some(&0) {
            return Err(format!(
                "{id}: not an accepting CONNACK: {byte1:#x} {body:?}"
            ));
        }
        let mut p = Vec::new();
        mqtt_bytes(&mut p, "honest/é".as_bytes());
        p.extend_from_slice(&[0x12, 0x34]);
        if v5 {
            p.push(0);
        }
        p.extend_from_slice(b"honest");
        s.write_all(&frame(0x32, &p))
            .map_err(fail("send PUBLISH"))?;
        loop {
            let (byte1, body) = read_frame(&mut s).map_err(fail("read PUBACK"))?;
            if byte1 >> 4 == 4 {
                if body.get(..2) != Some(&[0x12, 0x34][..]) {
                    return Err(format!("{id}: PUBACK of another packet: {body:?}"));
                }
                break;
            }
            // Anything else: a PUBLISH the router sends this id.
        }
        let _ = s.write_all(&[0xE0, 0]);
        Ok(())
    }
}

/// Reads one MQTT frame: its first byte and its body.
fn read_frame(s: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let mut b = [0u8; 1];
    s.read_exact(&mut b)?;
    let byte1 = b[0];
    let (mut len, mut shift) = (0usize, 0);
    loop {
        s.read_exact(&mut b)?;
        len |= usize::from(b[0] & 0x7F) << shift;
        shift += 7;
        if b[0] & 0x80 == 0 || shift > 21 {
            break;
        }
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body)?;
    Ok((byte1, body))
}

/// Reads until the broker closes the connection or `within` passes.
fn drain(s: &mut TcpStream, within: Duration) {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// A splitmix64 generator, for the fixed-seed runs of the stable test.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
