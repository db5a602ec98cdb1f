"""AWS IoT's Device Shadow service over MQTT, driven by paho-mqtt as devices and AWS's samples
drive it, on Weir's embedded broker: MQTT 3.1.1 and MQTT 5 clients subscribe to the answer
topics AWS's walkthrough and SDKs subscribe to (one exact topic each, never `shadow/#`), publish
requests at QoS 1 and wait for their PUBACK, and compare the answers with the documents of AWS's
developer guide: "Simulating Device Shadow service communications" (using-device-shadows.html,
the named shadow `simShadow1` of `mySimulatedThing`, followed step by step, its app side through
boto3's `iot-data`), "Device Shadow MQTT topics" (device-shadow-mqtt.html: which topic carries
what, the /update/delta rules), "Interacting with shadows" (device-shadow-data-flow.html:
optimistic locking, deleting a property, deleting a shadow) and "Device Shadow error messages".
Updates made over REST reach the MQTT subscribers and updates made over MQTT are read back over
REST; shadows written over MQTT before a SIGKILL are read back over MQTT after the restart.

Run by host/tests/iot_data_python_suite.rs, which sets:
  WEIR_ENDPOINT  Weir's API (iot-data)
  MQTT_PORT      the embedded broker's MQTT 3.1.1 port
  MQTT5_PORT     its MQTT 5 port (`[broker] listen_v5`)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION (us-east-1)

Classes: `ShadowOverMqtt311` and `ShadowOverMqtt5` run the same cases, one per protocol;
`BeforeRestart` writes shadows over MQTT, the harness kills the host (SIGKILL) and starts it
again on the same storage, then `AfterRestart` reads them back. Every case uses its own thing
names. Waits are for messages and acknowledgements with deadlines, never fixed sleeps: where a
case shows that something was *not* published, it relies on the broker delivering one
publisher's messages to one subscriber in order (the service publishes `/accepted`, `/delta`,
`/documents` in that order, so once `/documents` is in, a `/delta` would be too).
"""

import json
import os
import queue
import threading
import time
import unittest
import uuid

import boto3
import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

ENDPOINT = os.environ.get("WEIR_ENDPOINT", "http://127.0.0.1:4567")
MQTT_PORT = int(os.environ.get("MQTT_PORT", "1883"))
MQTT5_PORT = os.environ.get("MQTT5_PORT")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")

WAIT = 10

# The answer topics AWS's walkthrough has the device subscribe to, one by one, before it
# publishes anything ("Initialize the device"); AWS's SDKs subscribe to the same exact topics.
ANSWERS = [
    "delete/accepted",
    "delete/rejected",
    "get/accepted",
    "get/rejected",
    "update/accepted",
    "update/rejected",
    "update/delta",
    "update/documents",
]


def iot():
    return boto3.client("iot-data", endpoint_url=ENDPOINT, region_name=REGION)


def thing(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def prefix_of(thing_name, shadow=None):
    """AWS's ShadowTopicPrefix: classic or named."""
    base = f"$aws/things/{thing_name}/shadow"
    return f"{base}/name/{shadow}" if shadow else base


def stamped(value, ts):
    """The metadata AWS gives `value` written at `ts`: its shape with a `{"timestamp"}` at
    each leaf and one per array element (the walkthrough's `ColorRGB`)."""
    if isinstance(value, dict):
        return {k: stamped(v, ts) for k, v in value.items()}
    if isinstance(value, list):
        return [stamped(v, ts) for v in value]
    return {"timestamp": ts}


class Device:
    """A paho-mqtt client (MQTT 3.1.1 or 5) whose messages are kept per topic."""

    def __init__(self, port, protocol, name):
        self.protocol = protocol
        self._lock = threading.Lock()
        self._topics = {}
        self._subacks = {}
        self._pubacks = {}
        self.connected = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"{name}-{uuid.uuid4().hex[:8]}",
            protocol=protocol,
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self._queue(m.topic).put(m)
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(WAIT):
            raise AssertionError(f"no CONNACK from port {port}")

    def _on_connect(self, client, userdata, flags, reason, props):
        if not reason.is_failure:
            self.connected.set()

    def _on_subscribe(self, client, userdata, mid, codes, props):
        with self._lock:
            self._subacks.setdefault(mid, queue.Queue()).put(codes)

    def _on_publish(self, client, userdata, mid, reason, props):
        with self._lock:
            self._pubacks.setdefault(mid, queue.Queue()).put(reason)

    def _queue(self, topic):
        with self._lock:
            return self._topics.setdefault(topic, queue.Queue())

    def subscribe(self, *filters, qos=1):
        """Subscribes and waits for a SUBACK granting every filter."""
        rc, mid = self.client.subscribe([(f, qos) for f in filters])
        assert rc == mqtt.MQTT_ERR_SUCCESS, rc
        with self._lock:
            q = self._subacks.setdefault(mid, queue.Queue())
        codes = q.get(timeout=WAIT)
        for f, code in zip(filters, codes):
            assert not code.is_failure, f"{f}: {code}"
            assert code.value == qos, f"{f}: granted {code}"

    def subscribe_answers(self, prefix):
        """Subscribes to a shadow's eight answer topics, as the walkthrough's device does."""
        self.subscribe(*[f"{prefix}/{a}" for a in ANSWERS])

    def request(self, topic, payload, qos=1):
        """Publishes `payload` (a dict as JSON, or bytes) and, at QoS 1, waits for its PUBACK;
        returns the PUBACK's reason (MQTT 5) or None."""
        data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        info = self.client.publish(topic, data, qos=qos)
        if qos == 0:
            return None
        with self._lock:
            q = self._pubacks.setdefault(info.mid, queue.Queue())
        try:
            reason = q.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no PUBACK for {topic}") from None
        if isinstance(reason, ReasonCode):
            assert not reason.is_failure, f"{topic}: PUBACK {reason}"
        return reason

    def message(self, topic):
        """The next message on `topic`, its payload parsed (fields in the order sent)."""
        try:
            m = self._queue(topic).get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"nothing on {topic}") from None
        return json.loads(m.payload)

    def raw(self, topic):
        try:
            return self._queue(topic).get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"nothing on {topic}") from None

    def pending(self, topic):
        """How many messages on `topic` are waiting (not taken by `message`)."""
        return self._queue(topic).qsize()

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


class Window:
    """The wall-clock seconds around a request: AWS's timestamps are epoch seconds."""

    def __enter__(self):
        self.start = int(time.time())
        return self

    def __exit__(self, *exc):
        self.end = int(time.time()) + 1
        return False

    def check(self, case, ts):
        case.assertIsInstance(ts, int)
        case.assertTrue(self.start <= ts <= self.end, f"{ts} not in [{self.start}, {self.end}]")


class ShadowCases:
    """The cases, run once per protocol by the subclasses (`PORT`, `PROTOCOL`)."""

    PORT = None
    PROTOCOL = None

    def setUp(self):
        if self.PORT is None:
            self.fail("no MQTT port for this protocol (MQTT5_PORT unset?)")
        self.iot = iot()
        self.devices = []

    def tearDown(self):
        for d in self.devices:
            d.close()

    def device(self, name, *prefixes):
        d = Device(self.PORT, self.PROTOCOL, name)
        self.devices.append(d)
        for p in prefixes:
            d.subscribe_answers(p)
        return d

    def assertOrder(self, doc, keys):
        self.assertEqual(list(doc), keys, doc)

    def test_aws_walkthrough_named_shadow(self):
        """"Simulating Device Shadow service communications", step by step: the device (here
        a paho client) and the app (boto3's iot-data, which the walkthrough's CLI calls)."""
        t = thing("mySimulatedThing")
        p = prefix_of(t, "simShadow1")
        dev = self.device("sim", p)

        # "To get the current shadow state": an empty message to /get; no shadow yet.
        dev.request(f"{p}/get", b"")
        self.assertEqual(
            dev.message(f"{p}/get/rejected"),
            {"code": 404, "message": "No shadow exists with name: 'simShadow1'"},
        )

        # "To create a shadow with the current status of the device".
        report = {
            "state": {"reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
            "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6",
        }
        with Window() as w1:
            dev.request(f"{p}/update", report)
        accepted = dev.message(f"{p}/update/accepted")
        ts1 = accepted["timestamp"]
        w1.check(self, ts1)
        self.assertEqual(
            accepted,
            {
                "state": report["state"],
                "metadata": {"reported": stamped(report["state"]["reported"], ts1)},
                "version": 1,
                "timestamp": ts1,
                "clientToken": report["clientToken"],
            },
        )
        self.assertOrder(accepted, ["state", "metadata", "version", "timestamp", "clientToken"])
        created = dev.message(f"{p}/update/documents")
        self.assertEqual(created["current"]["version"], 1)
        # Only reported: no /delta was published before /documents.
        self.assertEqual(dev.pending(f"{p}/update/delta"), 0)

        # The device gets the shadow it created (the walkthrough's get/accepted shape).
        dev.request(f"{p}/get", b"")
        got = dev.message(f"{p}/get/accepted")
        self.assertEqual(
            got,
            {
                "state": report["state"],
                "metadata": {"reported": stamped(report["state"]["reported"], ts1)},
                "version": 1,
                "timestamp": got["timestamp"],
            },
        )
        self.assertOrder(got, ["state", "metadata", "version", "timestamp"])

        # "To get the current state of the shadow using the AWS CLI".
        out = self.iot.get_thing_shadow(thingName=t, shadowName="simShadow1")
        self.assertEqual(json.loads(out["payload"].read())["state"], report["state"])

        # "To update a shadow from an app".
        desire = {
            "state": {"desired": {"ColorRGB": [255, 255, 0]}},
            "clientToken": "21b21b21-bfd2-4279-8c65-e2f697ff4fab",
        }
        with Window() as w2:
            out = self.iot.update_thing_shadow(
                thingName=t, shadowName="simShadow1", payload=json.dumps(desire).encode()
            )
        app_accepted = json.loads(out["payload"].read())
        ts2 = app_accepted["timestamp"]
        w2.check(self, ts2)
        self.assertEqual(
            app_accepted,
            {
                "state": desire["state"],
                "metadata": {"desired": stamped(desire["state"]["desired"], ts2)},
                "version": 2,
                "timestamp": ts2,
                "clientToken": desire["clientToken"],
            },
        )
        # The device sees the same /accepted, then the /delta of "Respond to update in device".
        self.assertEqual(dev.message(f"{p}/update/accepted"), app_accepted)
        delta = dev.message(f"{p}/update/delta")
        self.assertEqual(
            delta,
            {
                "version": 2,
                "timestamp": ts2,
                "state": {"ColorRGB": [255, 255, 0]},
                "metadata": {"ColorRGB": stamped([255, 255, 0], ts2)},
                "clientToken": desire["clientToken"],
            },
        )
        self.assertOrder(delta, ["version", "timestamp", "state", "metadata", "clientToken"])
        dev.message(f"{p}/update/documents")

        # "To update the shadow from the device": the delta is resolved.
        resolve = {
            "state": {"reported": {"ColorRGB": [255, 255, 0]}},
            "clientToken": "a4dc2227-9213-4c6a-a6a5-053304f60258",
        }
        with Window() as w3:
            dev.request(f"{p}/update", resolve)
        accepted = dev.message(f"{p}/update/accepted")
        ts3 = accepted["timestamp"]
        w3.check(self, ts3)
        self.assertEqual(
            accepted,
            {
                "state": resolve["state"],
                "metadata": {"reported": {"ColorRGB": stamped([0, 0, 0], ts3)}},
                "version": 3,
                "timestamp": ts3,
                "clientToken": resolve["clientToken"],
            },
        )
        # The walkthrough's /update/documents: previous and current, whole.
        desired_meta = {"ColorRGB": stamped([0, 0, 0], ts2)}
        docs = dev.message(f"{p}/update/documents")
        self.assertEqual(
            docs,
            {
                "previous": {
                    "state": {
                        "desired": {"ColorRGB": [255, 255, 0]},
                        "reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]},
                    },
                    "metadata": {
                        "desired": desired_meta,
                        "reported": {
                            "ID": {"timestamp": ts1},
                            "ColorRGB": stamped([0, 0, 0], ts1),
                        },
                    },
                    "version": 2,
                },
                "current": {
                    "state": {
                        "desired": {"ColorRGB": [255, 255, 0]},
                        "reported": {"ID": "SmartLamp21", "ColorRGB": [255, 255, 0]},
                    },
                    "metadata": {
                        "desired": desired_meta,
                        "reported": {
                            "ID": {"timestamp": ts1},
                            "ColorRGB": stamped([0, 0, 0], ts3),
                        },
                    },
                    "version": 3,
                },
                "timestamp": ts3,
                "clientToken": resolve["clientToken"],
            },
        )
        self.assertOrder(docs, ["previous", "current", "timestamp", "clientToken"])
        self.assertEqual(dev.pending(f"{p}/update/delta"), 0, "a resolved delta was published")

        # "Observe the update in the app".
        out = self.iot.get_thing_shadow(thingName=t, shadowName="simShadow1")
        doc = json.loads(out["payload"].read())
        self.assertEqual(doc["state"], docs["current"]["state"])
        self.assertEqual(doc["metadata"], docs["current"]["metadata"])
        self.assertEqual(doc["version"], 3)

        # Deleting it from the app is announced to the device, then a get is a 404 again.
        self.iot.delete_thing_shadow(thingName=t, shadowName="simShadow1")
        deleted = dev.message(f"{p}/delete/accepted")
        self.assertEqual(deleted, {"version": 3, "timestamp": deleted["timestamp"]})
        dev.request(f"{p}/get", b"")
        self.assertEqual(dev.message(f"{p}/get/rejected")["code"], 404)

    def test_classic_shadow_lifecycle_and_refusals(self):
        t = thing("lamp")
        p = prefix_of(t)
        dev = self.device("lamp", p)

        # A missing classic shadow: 404 naming the thing, with the client token.
        dev.request(f"{p}/get", {"clientToken": "g0"})
        self.assertEqual(
            dev.message(f"{p}/get/rejected"),
            {"code": 404, "message": f"No shadow exists with name: '{t}'", "clientToken": "g0"},
        )
        dev.request(f"{p}/delete", b"")
        self.assertEqual(dev.message(f"{p}/delete/rejected")["code"], 404)

        # Desired and reported differ: accepted, delta (desired fields that differ), documents.
        req = {
            "state": {
                "desired": {"color": "red", "power": "on", "lights": {"r": 255, "g": 255}},
                "reported": {"color": "green", "power": "on", "lights": {"r": 255, "g": 0}},
            },
            "clientToken": "u1",
        }
        with Window() as w:
            dev.request(f"{p}/update", req)
        accepted = dev.message(f"{p}/update/accepted")
        ts = accepted["timestamp"]
        w.check(self, ts)
        self.assertEqual(
            accepted,
            {
                "state": req["state"],
                "metadata": stamped(req["state"], ts),
                "version": 1,
                "timestamp": ts,
                "clientToken": "u1",
            },
        )
        delta = dev.message(f"{p}/update/delta")
        # "When nested objects differ, the delta contains the path all the way to the root."
        self.assertEqual(delta["state"], {"color": "red", "lights": {"g": 255}})
        self.assertEqual(delta["metadata"], {"color": {"timestamp": ts}, "lights": {"g": {"timestamp": ts}}})
        self.assertEqual((delta["version"], delta["clientToken"]), (1, "u1"))
        docs = dev.message(f"{p}/update/documents")
        self.assertIsNone(docs["previous"])
        self.assertEqual(docs["current"]["state"], req["state"])
        self.assertEqual(docs["current"]["version"], 1)

        # A get with a client token: the state with its delta, the token echoed.
        dev.request(f"{p}/get", {"clientToken": "g1"})
        got = dev.message(f"{p}/get/accepted")
        self.assertEqual(
            got["state"],
            {**req["state"], "delta": {"color": "red", "lights": {"g": 255}}},
        )
        self.assertEqual(got["metadata"], stamped(req["state"], ts))
        self.assertEqual((got["version"], got["clientToken"]), (1, "g1"))

        # Optimistic locking ("Interacting with shadows"): a stale version is a 409.
        dev.request(
            f"{p}/update", {"state": {"reported": {"color": "red"}}, "version": 7, "clientToken": "c9"}
        )
        self.assertEqual(
            dev.message(f"{p}/update/rejected"),
            {"code": 409, "message": "Version conflict", "clientToken": "c9"},
        )
        # The matching version is accepted.
        dev.request(f"{p}/update", {"state": {"reported": {"color": "red"}}, "version": 1})
        self.assertEqual(dev.message(f"{p}/update/accepted")["version"], 2)
        self.assertEqual(dev.message(f"{p}/update/delta")["state"], {"lights": {"g": 255}})
        dev.message(f"{p}/update/documents")

        # Malformed requests: 400s with AWS's messages ("Device Shadow error messages").
        for payload, message in [
            (b'{"state":', "Invalid JSON"),
            (b"", "Invalid JSON"),
            (b'{"clientToken": "m1"}', "Missing required node: state"),
            (b'{"state": 5, "clientToken": "m1"}', "State node must be an object"),
            (b'{"state": {"desired": [1]}, "clientToken": "m1"}', "Desired node must be an object"),
            (b'{"state": {"delta": {}}, "clientToken": "m1"}', "State contains an invalid node"),
            (b'{"state": {}, "version": "2", "clientToken": "m1"}', "Invalid version"),
            (b'{"state": {}, "clientToken": 5}', "Invalid clientToken"),
        ]:
            with Window() as w:
                dev.request(f"{p}/update", payload)
            r = dev.message(f"{p}/update/rejected")
            self.assertEqual((r["code"], r["message"]), (400, message), payload)
            w.check(self, r["timestamp"])
            if b'"m1"' in payload:
                self.assertEqual(r["clientToken"], "m1", payload)
                self.assertOrder(r, ["code", "message", "timestamp", "clientToken"])
            else:
                self.assertNotIn("clientToken", r)
        # A refused request changed nothing and published nothing else.
        self.assertEqual(dev.pending(f"{p}/update/accepted"), 0)

        # "Deleting a property": null removes it; the /accepted echoes the null, timed.
        with Window() as w:
            dev.request(f"{p}/update", {"state": {"desired": {"power": None, "lights": None}}})
        accepted = dev.message(f"{p}/update/accepted")
        ts = accepted["timestamp"]
        w.check(self, ts)
        self.assertEqual(accepted["state"], {"desired": {"power": None, "lights": None}})
        self.assertEqual(
            accepted["metadata"],
            {"desired": {"power": {"timestamp": ts}, "lights": {"timestamp": ts}}},
        )
        self.assertEqual(accepted["version"], 3)
        docs = dev.message(f"{p}/update/documents")
        self.assertEqual(docs["current"]["state"]["desired"], {"color": "red"})
        self.assertEqual(set(docs["current"]["metadata"]["desired"]), {"color"})
        # desired.color == reported.color now: no delta before those /documents.
        self.assertEqual(dev.pending(f"{p}/update/delta"), 0)

        # "If an attribute is deleted from the reported section but still exists in the
        # desired section, it is included" in the /delta.
        dev.request(f"{p}/update", {"state": {"reported": {"color": None}}})
        dev.message(f"{p}/update/accepted")
        self.assertEqual(dev.message(f"{p}/update/delta")["state"], {"color": "red"})
        dev.message(f"{p}/update/documents")

        # Delete with a client token, then the shadow is gone.
        dev.request(f"{p}/delete", {"clientToken": "d1"})
        deleted = dev.message(f"{p}/delete/accepted")
        self.assertEqual(
            deleted, {"version": 4, "timestamp": deleted["timestamp"], "clientToken": "d1"}
        )
        dev.request(f"{p}/get", b"")
        self.assertEqual(dev.message(f"{p}/get/rejected")["code"], 404)

    def test_oversized_and_too_deep_documents_are_refused(self):
        t = thing("limits")
        p = prefix_of(t)
        dev = self.device("limits", p)
        dev.request(f"{p}/update", {"state": {"reported": {"blob": "x" * 9000}}, "clientToken": "big"})
        r = dev.message(f"{p}/update/rejected")
        self.assertEqual(
            (r["code"], r["message"], r["clientToken"]),
            (413, "The payload exceeds the maximum size allowed", "big"),
        )
        deep = {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}
        dev.request(f"{p}/update", {"state": {"desired": deep}})
        r = dev.message(f"{p}/update/rejected")
        self.assertEqual(
            (r["code"], r["message"]),
            (400, "JSON contains too many levels of nesting; maximum is 6"),
        )
        dev.request(f"{p}/update", b'{"state": {"reported": {"a": "\xff"}}}')
        r = dev.message(f"{p}/update/rejected")
        self.assertEqual(
            (r["code"], r["message"]),
            (415, "Unsupported documented encoding; supported encoding is UTF-8"),
        )
        # None of them created the shadow.
        dev.request(f"{p}/get", b"")
        self.assertEqual(dev.message(f"{p}/get/rejected")["code"], 404)
        # "A client token that is longer than 64 bytes causes a 400 (Bad Request) response
        # and an Invalid clientToken error message": on /get and /delete too.
        dev.request(f"{p}/update", {"state": {"reported": {"ok": 1}}, "clientToken": "x" * 64})
        self.assertEqual(dev.message(f"{p}/update/accepted")["clientToken"], "x" * 64)
        for op in ("get", "delete"):
            dev.request(f"{p}/{op}", {"clientToken": "x" * 65})
            r = dev.message(f"{p}/{op}/rejected")
            self.assertEqual((r["code"], r["message"]), (400, "Invalid clientToken"), op)
            self.assertNotIn("clientToken", r)
        dev.request(f"{p}/get", {"clientToken": "x" * 64})
        got = dev.message(f"{p}/get/accepted")
        self.assertEqual((got["version"], got["clientToken"]), (1, "x" * 64))

    def test_named_shadows_are_separate_documents_on_their_own_topics(self):
        t = thing("multi")
        classic, cfg, fw = prefix_of(t), prefix_of(t, "config"), prefix_of(t, "firmware")
        dev = self.device("multi", classic, cfg, fw)
        dev.request(f"{classic}/update", {"state": {"reported": {"on": True}}})
        dev.request(f"{cfg}/update", {"state": {"desired": {"interval": 30}}})
        dev.request(f"{fw}/update", {"state": {"reported": {"version": "1.2"}}})
        self.assertEqual(dev.message(f"{classic}/update/accepted")["version"], 1)
        self.assertEqual(dev.message(f"{cfg}/update/accepted")["version"], 1)
        self.assertEqual(dev.message(f"{cfg}/update/delta")["state"], {"interval": 30})
        self.assertEqual(dev.message(f"{fw}/update/accepted")["version"], 1)
        for q in (classic, fw):
            dev.message(f"{q}/update/documents")
        dev.message(f"{cfg}/update/documents")
        # Each answer went to its own shadow's topics only.
        for q in (classic, cfg, fw):
            self.assertEqual(dev.pending(f"{q}/update/accepted"), 0, q)
        self.assertEqual(dev.pending(f"{classic}/update/delta"), 0)
        # A named shadow's 404 names the shadow.
        absent = prefix_of(t, "absent")
        dev.subscribe(f"{absent}/get/rejected")
        dev.request(f"{absent}/get", b"")
        self.assertEqual(
            dev.message(f"{absent}/get/rejected"),
            {"code": 404, "message": "No shadow exists with name: 'absent'"},
        )
        dev.request(f"{cfg}/get", b"")
        got = dev.message(f"{cfg}/get/accepted")
        self.assertEqual(got["state"], {"desired": {"interval": 30}, "delta": {"interval": 30}})
        # Deleting one named shadow leaves the others.
        dev.request(f"{fw}/delete", b"")
        self.assertEqual(dev.message(f"{fw}/delete/accepted")["version"], 1)
        dev.request(f"{classic}/get", b"")
        self.assertEqual(dev.message(f"{classic}/get/accepted")["state"], {"reported": {"on": True}})
        self.assertEqual(
            self.iot.list_named_shadows_for_thing(thingName=t)["results"], ["config"]
        )
        # A wildcard subscriber sees every named shadow's answers (AWS advises against
        # `shadow/#`; `name/+/update/accepted` is how an app watches all of a thing's shadows).
        watcher = self.device("watch")
        watcher.subscribe(f"$aws/things/{t}/shadow/name/+/update/accepted")
        dev.request(f"{cfg}/update", {"state": {"reported": {"interval": 30}}})
        m = watcher.raw(f"{cfg}/update/accepted")
        self.assertEqual(json.loads(m.payload)["version"], 2)

    def test_a_qos1_request_is_acknowledged_once_stored_and_qos0_is_served(self):
        t = thing("acked")
        p = prefix_of(t)
        dev = self.device("acked", p)
        dev.request(f"{p}/update", {"state": {"reported": {"n": 1}}})
        # The PUBACK came after the store: the REST API reads it back at once.
        out = self.iot.get_thing_shadow(thingName=t)
        self.assertEqual(json.loads(out["payload"].read())["state"]["reported"], {"n": 1})
        self.assertEqual(dev.message(f"{p}/update/accepted")["version"], 1)
        # QoS 0 requests are served too; answers come at the subscription's QoS 1.
        dev.request(f"{p}/update", {"state": {"reported": {"n": 2}}}, qos=0)
        m = dev.raw(f"{p}/update/accepted")
        self.assertEqual(json.loads(m.payload)["version"], 2)
        self.assertEqual(m.qos, 1)
        dev.request(f"{p}/get", b"", qos=0)
        self.assertEqual(dev.message(f"{p}/get/accepted")["state"]["reported"], {"n": 2})

    def test_rest_and_mqtt_interleave(self):
        t = thing("mixed")
        p = prefix_of(t)
        dev = self.device("mixed", p)
        # The device reports over MQTT; the app reads it over REST.
        dev.request(f"{p}/update", {"state": {"reported": {"temp": 20}}, "clientToken": "dev-1"})
        self.assertEqual(dev.message(f"{p}/update/accepted")["version"], 1)
        dev.message(f"{p}/update/documents")
        doc = json.loads(self.iot.get_thing_shadow(thingName=t)["payload"].read())
        self.assertEqual((doc["state"], doc["version"]), ({"reported": {"temp": 20}}, 1))
        # The app sets a desired state over REST with the version it read; the device gets
        # the /delta with the app's token.
        self.iot.update_thing_shadow(
            thingName=t,
            payload=json.dumps(
                {"state": {"desired": {"temp": 22}}, "version": 1, "clientToken": "app-1"}
            ).encode(),
        )
        self.assertEqual(dev.message(f"{p}/update/accepted")["clientToken"], "app-1")
        delta = dev.message(f"{p}/update/delta")
        self.assertEqual((delta["state"], delta["version"], delta["clientToken"]), ({"temp": 22}, 2, "app-1"))
        dev.message(f"{p}/update/documents")
        # The device's update with the version it last saw is now stale: 409 over MQTT.
        dev.request(f"{p}/update", {"state": {"reported": {"temp": 22}}, "version": 1, "clientToken": "dev-2"})
        self.assertEqual(dev.message(f"{p}/update/rejected")["code"], 409)
        # With the delta's version it goes through; then the app's stale one is a 409 over REST.
        dev.request(f"{p}/update", {"state": {"reported": {"temp": 22}}, "version": 2})
        self.assertEqual(dev.message(f"{p}/update/accepted")["version"], 3)
        dev.message(f"{p}/update/documents")
        self.assertEqual(dev.pending(f"{p}/update/delta"), 0)
        with self.assertRaises(self.iot.exceptions.ConflictException):
            self.iot.update_thing_shadow(
                thingName=t,
                payload=json.dumps({"state": {"desired": {"temp": 25}}, "version": 2}).encode(),
            )
        doc = json.loads(self.iot.get_thing_shadow(thingName=t)["payload"].read())
        self.assertEqual(doc["state"], {"desired": {"temp": 22}, "reported": {"temp": 22}})
        self.assertEqual(doc["version"], 3)

    def test_a_null_state_empties_the_shadow_but_keeps_it(self):
        """"Setting the device's shadow state to null does not delete the shadow": both
        sections go, the shadow and its version stay."""
        t = thing("nulled")
        p = prefix_of(t)
        dev = self.device("nulled", p)
        dev.request(f"{p}/update", {"state": {"desired": {"a": 1}, "reported": {"b": 2}}})
        dev.message(f"{p}/update/accepted")
        dev.request(f"{p}/update", {"state": None, "clientToken": "n1"})
        accepted = dev.message(f"{p}/update/accepted")
        self.assertEqual((accepted["state"], accepted["version"]), (None, 2))
        self.assertEqual(accepted["clientToken"], "n1")
        dev.request(f"{p}/get", b"")
        got = dev.message(f"{p}/get/accepted")
        self.assertEqual((got["state"], got["metadata"], got["version"]), ({}, {}, 2))

    def test_an_offline_device_gets_the_delta_when_it_reconnects(self):
        """A device with a persistent session (MQTT 3.1.1 clean session off, MQTT 5 a session
        expiry) subscribed to /update/delta, offline while the app sets a desired state over
        REST, gets the /delta once it reconnects. The app waits for the device's
        `$aws/events/presence/disconnected` event before it updates."""
        t = thing("sleepy")
        p = prefix_of(t)
        client_id = f"sleepy-{uuid.uuid4().hex[:8]}"
        presence = self.device("presence")
        presence.subscribe(f"$aws/events/presence/disconnected/{client_id}")

        def connect():
            got = queue.Queue()
            c = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=self.PROTOCOL,
                **({} if self.PROTOCOL == mqtt.MQTTv5 else {"clean_session": False}),
            )
            c.on_connect = lambda c, u, flags, rc, props: got.put(("connack", flags.session_present))
            c.on_subscribe = lambda c, u, mid, codes, props: got.put(("suback", codes))
            c.on_message = lambda c, u, m: got.put((m.topic, json.loads(m.payload)))
            if self.PROTOCOL == mqtt.MQTTv5:
                from paho.mqtt.packettypes import PacketTypes
                from paho.mqtt.properties import Properties

                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = 600
                c.connect("127.0.0.1", self.PORT, clean_start=False, properties=props)
            else:
                c.connect("127.0.0.1", self.PORT)
            c.loop_start()
            return c, got

        c, got = connect()
        self.assertEqual(got.get(timeout=WAIT), ("connack", False))
        c.subscribe(f"{p}/update/delta", qos=1)
        self.assertEqual(got.get(timeout=WAIT)[0], "suback")
        c.disconnect()
        c.loop_stop()
        event = presence.message(f"$aws/events/presence/disconnected/{client_id}")
        self.assertEqual(event["clientId"], client_id)

        self.iot.update_thing_shadow(
            thingName=t,
            payload=json.dumps({"state": {"desired": {"on": True}}, "clientToken": "app"}).encode(),
        )
        c, got = connect()
        try:
            self.assertEqual(got.get(timeout=WAIT), ("connack", True))
            topic, delta = got.get(timeout=WAIT)
            self.assertEqual(topic, f"{p}/update/delta")
            self.assertEqual((delta["state"], delta["version"], delta["clientToken"]), ({"on": True}, 1, "app"))
        finally:
            c.disconnect()
            c.loop_stop()

    def test_a_refused_rest_update_is_not_published_on_rejected(self):
        """A refused REST update is only its HTTP error ("Device Shadow error messages": "If
        the client updates the document using the REST API, then it receives the HTTP error
        code as part of its response, and no MQTT error messages are emitted")."""
        t = thing("quiet")
        p = prefix_of(t)
        dev = self.device("quiet", p)
        self.iot.update_thing_shadow(thingName=t, payload=b'{"state": {"reported": {"a": 1}}}')
        self.assertEqual(dev.message(f"{p}/update/accepted")["version"], 1)
        dev.message(f"{p}/update/documents")
        with self.assertRaises(self.iot.exceptions.ConflictException):
            self.iot.update_thing_shadow(
                thingName=t, payload=b'{"state": {"reported": {"a": 2}}, "version": 5}'
            )
        with self.assertRaises(self.iot.exceptions.InvalidRequestException):
            self.iot.update_thing_shadow(thingName=t, payload=b'{"state": 1}')
        self.iot.update_thing_shadow(thingName=t, payload=b'{"state": {"reported": {"a": 3}}}')
        self.assertEqual(dev.message(f"{p}/update/accepted")["version"], 2)
        self.assertEqual(dev.pending(f"{p}/update/rejected"), 0)

    def test_a_device_cannot_forge_a_shadow_answer(self):
        """The answer topics are subscribe-only in AWS's reserved topics ("Unsupported publish
        or subscribe operations to reserved topics can result in a terminated connection"): a
        client publishing a fake /update/accepted is disconnected without a PUBACK and no
        subscriber gets it."""
        t = thing("forged")
        p = prefix_of(t)
        dev = self.device("honest", p)
        gone = threading.Event()
        forger = Device(self.PORT, self.PROTOCOL, "forger")
        forger.client.on_disconnect = lambda c, u, flags, reason, props: gone.set()
        try:
            info = forger.client.publish(
                f"{p}/update/accepted", b'{"state": {"desired": {"door": "open"}}, "version": 99}', qos=1
            )
            self.assertTrue(gone.wait(WAIT), "the forger is still connected")
            self.assertFalse(info.is_published(), "the forged answer was acknowledged")
        finally:
            forger.client.loop_stop()
        # Nor through the REST API's Publish.
        with self.assertRaises(self.iot.exceptions.InvalidRequestException):
            self.iot.publish(topic=f"{p}/update/accepted", qos=1, payload=b'{"version": 98}')
        dev.request(f"{p}/update", {"state": {"reported": {"door": "closed"}}})
        self.assertEqual(dev.message(f"{p}/update/accepted")["version"], 1)
        self.assertEqual(dev.pending(f"{p}/update/accepted"), 0)

    def test_a_rule_republishes_into_a_shadow(self):
        """A republish action to `$$aws/things/${topic(2)}/shadow/update` (AWS's escape for a
        reserved topic) is a shadow request like a device's: the harness's rule `to_shadow`
        takes `SELECT state FROM 'report/+'`."""
        t = thing("relay")
        p = prefix_of(t)
        dev = self.device("relay", p)
        dev.request(f"report/{t}", {"state": {"reported": {"rssi": -60}}, "noise": 1})
        accepted = dev.message(f"{p}/update/accepted")
        self.assertEqual((accepted["state"], accepted["version"]), ({"reported": {"rssi": -60}}, 1))
        out = self.iot.get_thing_shadow(thingName=t)
        self.assertEqual(json.loads(out["payload"].read())["state"], {"reported": {"rssi": -60}})

    def test_an_app_watching_the_whole_shadow_tree(self):
        """`$aws/things/THING/shadow/#` (which AWS advises against, as new topics may appear)
        still works: the watcher sees the request and its three answers, in order."""
        t = thing("tree")
        p = prefix_of(t)
        watcher = self.device("tree-watch")
        watcher.subscribe(f"$aws/things/{t}/shadow/#")
        dev = self.device("tree-dev")
        seen = []
        done = threading.Event()

        def on_message(client, userdata, m):
            seen.append(m.topic)
            if m.topic.endswith("/update/documents"):
                done.set()

        watcher.client.on_message = on_message
        dev.request(f"{p}/update", {"state": {"desired": {"x": 1}}})
        self.assertTrue(done.wait(WAIT), seen)
        self.assertEqual(seen[0], f"{p}/update")
        self.assertEqual(
            seen[1:], [f"{p}/update/accepted", f"{p}/update/delta", f"{p}/update/documents"]
        )


class ShadowOverMqtt311(ShadowCases, unittest.TestCase):
    PORT = MQTT_PORT
    PROTOCOL = mqtt.MQTTv311


class ShadowOverMqtt5(ShadowCases, unittest.TestCase):
    PORT = int(MQTT5_PORT) if MQTT5_PORT else None
    PROTOCOL = mqtt.MQTTv5


PERSIST_THING = "mqtt-persist-thing"


class BeforeRestart(unittest.TestCase):
    def test_write_shadows_over_mqtt(self):
        p, named, gone = (
            prefix_of(PERSIST_THING),
            prefix_of(PERSIST_THING, "cfg"),
            prefix_of(PERSIST_THING, "gone"),
        )
        dev = Device(MQTT_PORT, mqtt.MQTTv311, "persist")
        try:
            dev.subscribe_answers(p)
            dev.subscribe_answers(named)
            dev.subscribe_answers(gone)
            # Only the PUBACKs are waited for: acknowledged means stored.
            dev.request(f"{p}/update", {"state": {"desired": {"mode": "eco"}, "reported": {"mode": "off"}}})
            dev.request(f"{p}/update", {"state": {"reported": {"fan": 2}}})
            dev.request(f"{named}/update", {"state": {"reported": {"n": 7}}})
            dev.request(f"{gone}/update", {"state": {"reported": {"n": 1}}})
            dev.request(f"{gone}/delete", b"")
            self.assertEqual(dev.message(f"{gone}/delete/accepted")["version"], 1)
        finally:
            dev.close()


class AfterRestart(unittest.TestCase):
    def test_shadows_survived_over_mqtt(self):
        p, named, gone = (
            prefix_of(PERSIST_THING),
            prefix_of(PERSIST_THING, "cfg"),
            prefix_of(PERSIST_THING, "gone"),
        )
        ports = [(MQTT_PORT, mqtt.MQTTv311)]
        if MQTT5_PORT:
            ports.append((int(MQTT5_PORT), mqtt.MQTTv5))
        for port, protocol in ports:
            dev = Device(port, protocol, "after")
            try:
                dev.subscribe_answers(p)
                dev.subscribe_answers(named)
                dev.subscribe_answers(gone)
                dev.request(f"{p}/get", b"")
                got = dev.message(f"{p}/get/accepted")
                self.assertEqual(
                    got["state"],
                    {
                        "desired": {"mode": "eco"},
                        "reported": {"mode": "off", "fan": 2},
                        "delta": {"mode": "eco"},
                    },
                )
                self.assertEqual(got["version"], 2)
                dev.request(f"{named}/get", b"")
                self.assertEqual(dev.message(f"{named}/get/accepted")["state"], {"reported": {"n": 7}})
                dev.request(f"{gone}/get", b"")
                self.assertEqual(dev.message(f"{gone}/get/rejected")["code"], 404)
            finally:
                dev.close()
        # The version goes on from the stored one, and a deleted shadow's continues too.
        dev = Device(MQTT_PORT, mqtt.MQTTv311, "after-update")
        try:
            dev.subscribe_answers(p)
            dev.subscribe_answers(gone)
            dev.request(f"{p}/update", {"state": {"reported": {"mode": "eco"}}, "version": 2})
            self.assertEqual(dev.message(f"{p}/update/accepted")["version"], 3)
            dev.request(f"{gone}/update", {"state": {"reported": {"n": 2}}})
            self.assertEqual(dev.message(f"{gone}/update/accepted")["version"], 2)
        finally:
            dev.close()


if __name__ == "__main__":
    unittest.main()
