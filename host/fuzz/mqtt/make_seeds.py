#!/usr/bin/env python3
"""Writes the seed corpora of the MQTT fuzz targets (host/fuzz/corpus/mqtt_decode and
mqtt_broker). The files are checked in; run this again only to change the seeds. The fuzzer
adds what it finds next to them (name them by content, as cargo-fuzz does)."""
import os, random, struct

HERE = os.path.dirname(os.path.abspath(__file__))
DECODE = os.path.join(HERE, "..", "corpus", "mqtt_decode")
BROKER = os.path.join(HERE, "..", "corpus", "mqtt_broker")


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack(">H", len(x)) + x


def frame(byte1, body):
    return bytes([byte1]) + varint(len(body)) + body


def props(*items):
    body = b"".join(items)
    return varint(len(body)) + body


def u8p(i, v):
    return bytes([i, v])


def u16p(i, v):
    return bytes([i]) + struct.pack(">H", v)


def u32p(i, v):
    return bytes([i]) + struct.pack(">I", v)


def sp(i, v):
    return bytes([i]) + s(v)


def user(k, v):
    return bytes([0x26]) + s(k) + s(v)


def connect(cid, v5=False, clean=True, will=None, login=False, p=b"", wp=b""):
    flags = (0x02 if clean else 0) | (0xC0 if login else 0)
    if will:
        flags |= 0x04 | (will[2] << 3)
    body = s("MQTT") + bytes([5 if v5 else 4, flags]) + struct.pack(">H", 60)
    if v5:
        body += props(p) if isinstance(p, bytes) else p
    body += s(cid)
    if will:
        if v5:
            body += props(wp)
        body += s(will[0]) + s(will[1])
    if login:
        body += s("user") + s("pass")
    return frame(0x10, body)


def publish(topic, qos=0, pkid=1, v5=False, p=b"", payload=b"x", retain=False, dup=False):
    body = s(topic)
    if qos:
        body += struct.pack(">H", pkid)
    if v5:
        body += props(p)
    return frame(0x30 | (dup << 3) | (qos << 1) | retain, body + payload)


def subscribe(filters, pkid=1, v5=False, p=b""):
    body = struct.pack(">H", pkid) + (props(p) if v5 else b"")
    for f, o in filters:
        body += s(f) + bytes([o])
    return frame(0x82, body)


def unsubscribe(filters, pkid=2, v5=False, p=b""):
    body = struct.pack(">H", pkid) + (props(p) if v5 else b"")
    for f in filters:
        body += s(f)
    return frame(0xA2, body)


def ack(ty, pkid, v5=False, reason=None, p=b""):
    body = struct.pack(">H", pkid)
    if v5 and reason is not None:
        body += bytes([reason]) + props(p)
    return frame((ty << 4) | (2 if ty == 6 else 0), body)


PING = frame(0xC0, b"")
DISC = frame(0xE0, b"")
PUB5 = (u8p(0x01, 1) + u32p(0x02, 60) + u16p(0x23, 1) + sp(0x08, "é/reply")
        + sp(0x09, b"\x00\xff") + user("é", "日本") + sp(0x03, "text/é"))
CONN5 = (u32p(0x11, 30) + u16p(0x21, 10) + u32p(0x27, 65536) + u16p(0x22, 5)
         + u8p(0x19, 1) + u8p(0x17, 1) + user("k", "v"))

decode = {
    "connect_v4": connect("c1"),
    "connect_v4_id_e_acute": connect("é"),
    "connect_v4_empty_id_persistent": connect("", clean=False),
    "connect_v4_id_weir_ingress": connect("weir-ingress"),
    "connect_v4_id_wildcards": connect("#/+/$"),
    "connect_v4_id_nul": connect("\x00a"),
    "connect_v4_will_e_acute_login": connect("c1", will=("é/x", b"gone", 1), login=True),
    "connect_v5_properties": connect("c1", v5=True, p=CONN5),
    "connect_v5_will_properties": connect("日本語", v5=True, will=("é/x", b"gone", 2),
                                          wp=u32p(0x18, 5) + u8p(0x01, 1) + user("a", "b")),
    "connect_v5_auth_method": connect("c1", v5=True, p=sp(0x15, "SCRAM") + sp(0x16, b"\x01")),
    "connect_v3_level": frame(0x10, s("MQIsdp") + bytes([3, 2, 0, 60]) + s("c1")),
    "publish_v4_qos0_e_acute": publish("é/x"),
    "publish_v4_qos1_e_acute": publish("é/x", qos=1),
    "publish_v4_qos2_dollar": publish("$aws/things/t1/shadow/update", qos=2, retain=True),
    "publish_v4_wildcards_in_topic": publish("a/#/+", qos=1),
    "publish_v4_invalid_utf8": publish(b"\xc3/x"),
    "publish_v4_qos3": frame(0x36, s("a") + b"\x00\x01x"),
    "publish_v5_qos1_e_acute_properties": publish("é/x", qos=1, v5=True, p=PUB5),
    "publish_v5_topic_alias_only": publish("", qos=1, v5=True, p=u16p(0x23, 1)),
    "publish_v5_subscription_id": publish("é", v5=True, p=bytes([0x0B]) + varint(268435455)),
    "subscribe_v4_e_acute": subscribe([("é/x", 1), ("#", 0), ("+/é", 2), ("$share/g/é/#", 1)]),
    "subscribe_v4_qos3": subscribe([("é/x", 3)]),
    "subscribe_v4_odd_wildcards": subscribe([("a#", 0), ("#/a", 1), ("+a/b", 0), ("", 0)]),
    "subscribe_v5_e_acute_options": subscribe([("é/x", 0x2D), ("$share/g/+", 1)], v5=True,
                                              p=bytes([0x0B]) + varint(7) + user("k", "v")),
    "unsubscribe_v4_e_acute": unsubscribe(["é/x", "#"]),
    "unsubscribe_v5_e_acute": unsubscribe(["é/x", "$share/g/é"], v5=True, p=user("é", "v")),
    "acks_v4": ack(4, 1) + ack(5, 2) + ack(6, 2) + ack(7, 2),
    "acks_v5_reasons": (ack(4, 1, True, 0x10, sp(0x1F, "é")) + ack(5, 2, True, 0x80)
                        + ack(6, 2, True, 0x92) + ack(7, 2, True, 0)),
    "ping_disconnect": PING + DISC,
    "disconnect_v5_reason": frame(0xE0, b"\x04" + props(u32p(0x11, 0) + sp(0x1F, "bye"))),
    # Found by fuzzing (rumqttd patch 6): a reason code without a property length; a
    # subscription identifier before other properties.
    "disconnect_v5_reason_only": frame(0xE0, b"\x04") + PING,
    "publish_v5_subscription_ids_then_user": publish("é/x", 1, 1, True, bytes([0x0B, 11, 0x0B, 4]) + user("k", "v")),
    "subscribe_v5_subscription_id_then_user": subscribe([("é/x", 1)], v5=True, p=bytes([0x0B, 9]) + user("k", "v")),
    "connack_from_client": frame(0x20, b"\x00\x00\x00"),
    "unsuback_from_client": frame(0xB0, b"\x00\x01\x00\x00"),
    "suback_from_client": frame(0x90, b"\x00\x01\x00"),
    "remaining_length_too_long": b"\x30\xff\xff\xff\xff\x7f",
    "properties_length_past_end": frame(0x30, s("a") + b"\xff\xff\x03"),
    "session_v4": connect("c1") + subscribe([("é/#", 1)]) + publish("é/x", qos=1) + PING + DISC,
}

# Broker seeds: sessions of raw frames (see harness.rs: a head byte with bit 0 = v5 and
# bits 1 to 3 = no generated CONNECT, the number of packets less one, each packet as kind 27 with a
# 16-bit length, then how the session ends: 0 leaves at once, 1 half-closes and drains, 2
# reads for 50 ms first).


def session(v5, frames, end=1):
    out = bytes([(1 if v5 else 0) | 14, len(frames) - 1])
    for f in frames:
        out += bytes([27]) + struct.pack(">H", len(f)) + f
    return out + bytes([end])


broker = {
    "publish_v4_qos0_e_acute": session(False, [connect("c1"), publish("é/x")]),
    "publish_v4_qos1_e_acute": session(False, [connect("c1"), publish("é/x", qos=1)]),
    "publish_v5_qos1_e_acute": session(True, [connect("c1", True), publish("é/x", 1, 1, True, PUB5)]),
    "sub_pub_unsub_v4_e_acute": session(False, [connect("c1"), subscribe([("é/x", 1)]),
                                                publish("é/x", qos=1), unsubscribe(["é/x"])]),
    "sub_pub_unsub_v5_shared": session(True, [connect("c2", True), subscribe([("$share/g/é/x", 1)], v5=True),
                                              publish("é/x", 1, 3, True), unsubscribe(["$share/g/é/x"], v5=True)]),
    "connect_holder_id": session(False, [connect("fuzz-holder"), publish("a", qos=1)]),
    "connect_weir_ingress_id": session(True, [connect("weir-ingress", True), publish("a", 1, 1, True)]),
    "connect_empty_id_persistent": session(False, [connect("", clean=False), publish("a")]),
    "connect_honest_id_persistent": session(False, [connect("fuzz-honest", clean=False),
                                                    subscribe([("#", 1)]), publish("honest/x", qos=1)]),
    "will_e_acute_abrupt": session(False, [connect("日本語", will=("é/x", b"gone", 1))], end=0),
    "will_v5_delay_abrupt": session(True, [connect("é", True, will=("é/w", b"w", 1), wp=u32p(0x18, 1))], end=0),
    "dollar_topics_v5": session(True, [connect("c1", True), publish("$aws/things/t1/shadow/update", 1, 1, True),
                                       publish("$SYS/x", 0, 0, True)]),
    "subscribe_all_then_odd_topics": session(False, [connect("c1"), subscribe([("#", 1), ("+", 0), ("$SYS/#", 1)]),
                                                     publish("é/x", qos=1), publish("$SYS/x"), publish("/", qos=1)]),
    "publish_before_connect": session(False, [publish("é/x", qos=1), connect("c1")]),
    "stray_acks_v5": session(True, [connect("c1", True), ack(6, 9, True, 0), ack(7, 8, True, 0), ack(4, 7, True, 0)]),
    "qos2_flow_e_acute": session(False, [connect("c1"), publish("é/x", qos=2, pkid=3), ack(6, 3), publish("é/x", qos=2, pkid=3, dup=True)]),
    "topic_alias_v5": session(True, [connect("c1", True, p=u16p(0x22, 4)), publish("é/x", 1, 1, True, u16p(0x23, 1)),
                                     publish("", 1, 2, True, u16p(0x23, 1)), publish("", 1, 3, True, u16p(0x23, 5))]),
    "persistent_then_publisher": session(False, [connect("c2", clean=False), subscribe([("é/#", 1)])])
    + session(False, [connect("c1"), publish("é/y", qos=1)]) + session(False, [connect("c2", clean=False)]),
    "rejected_publish": session(False, [connect("c1"), publish("r", qos=1, payload=b"reject")]),
    "connack_from_client_v5": session(True, [connect("c1", True), frame(0x20, b"\x00\x00\x00")]),
    "unsuback_from_client_v5": session(True, [frame(0xB0, b"\x00\x01\x00\x00")]),
    "odd_wildcard_filters": session(False, [connect("c1"), subscribe([("a#", 0), ("#/a", 1), ("+a/b", 0), ("", 0), ("é+", 1)])]),
    "garbage": session(False, [b"\x10\xff\xff\xff\x7f" + b"\x00" * 16]),
    # A v5 message with properties forwarded to a v4 subscriber (the v4 encoder panicked).
    "v5_properties_to_v4_subscriber": session(False, [connect("c3", clean=False), subscribe([("é/p", 1)])])
    + session(True, [connect("c1", True), publish("é/p", 1, 1, True, user("k", "v"))])
    + session(False, [connect("c3", clean=False), PING], end=2),
    "v5_retained_properties_to_v4": session(True, [connect("c1", True), publish("é/r", 1, 1, True, PUB5, retain=True)])
    + session(False, [connect("c1"), subscribe([("é/#", 1)]), PING], end=2),
    # A persistent session with a shared subscription and an unacknowledged message, which
    # disconnects: upstream's router panicked ("group must exists"; rumqttd patch 6).
    "persistent_shared_subscription_v5": session(True, [connect("s3", True, clean=False), subscribe([("$share/g/s/x", 1)], v5=True),
                                                        publish("s/x", 1, 1, True), PING], end=2),
    "persistent_shared_subscription_v4": session(False, [connect("s4", clean=False), subscribe([("$share/g/s/x", 1)]), publish("s/x", qos=1), PING], end=2)
    + session(False, [connect("s4", clean=False), publish("s/x", qos=1), PING], end=2),
    "duplicate_ids_two_sessions": session(True, [connect("c1", True)], end=0) + session(True, [connect("c1", True), publish("é", 1, 1, True)]),
}

rnd = random.Random(27)
for i in range(8):
    broker[f"random_{i}"] = bytes(rnd.randrange(256) for _ in range(rnd.choice([16, 64, 200, 400])))
for i in range(4):
    decode[f"random_{i}"] = bytes(rnd.randrange(256) for _ in range(64))

for folder, seeds in ((DECODE, decode), (BROKER, broker)):
    os.makedirs(folder, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
print(len(decode), len(broker))
