"""Weir's AWS IoT data-plane REST API driven by boto3's `iot-data` client, paho-mqtt and the
AWS CLI: the Device Shadow lifecycle (update, get with delta, version conflict, missing, malformed,
null delete, named shadows and their paged list, delete), HTTP Publish reaching an MQTT
subscriber and a rule (a kinesis action into stream `httpout`, read back with boto3's kinesis
client), and shadows surviving a restart.

Run by host/tests/iot_data_python_suite.rs, which starts `weir run` with `[api] verify_keys`
holding the test credentials (so every request's signature is checked, paths with encoded
slashes included) and sets:
  WEIR_ENDPOINT  Weir's API (iot-data, Kinesis)
  MQTT_PORT      the embedded broker's MQTT 3.1.1 port
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION (us-east-1)

Classes: `IotData` runs on a fresh host; `BeforeRestart` writes shadows, the harness kills the
host (SIGKILL) and starts it again on the same storage, then `AfterRestart` reads them back.
Every test uses its own thing names. Waits are polls with deadlines, never fixed sleeps.
"""

import json
import os
import queue
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid

import boto3
import paho.mqtt.client as mqtt
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("WEIR_ENDPOINT", "http://127.0.0.1:4567")
MQTT_PORT = int(os.environ.get("MQTT_PORT", "1883"))
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID", "AKIDTEST")
SECRET = os.environ.get("AWS_SECRET_ACCESS_KEY", "secret")
# The rule in the harness's config: SELECT *, topic() AS topic FROM 'http/rule/#' -> kinesis httpout.
RULE_PREFIX = "http/rule/"
RULE_STREAM = "httpout"


def iot():
    return boto3.client("iot-data", endpoint_url=ENDPOINT, region_name=REGION)


def kinesis():
    return boto3.client("kinesis", endpoint_url=ENDPOINT, region_name=REGION)


def thing(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def update(client, thing_name, doc, shadow=None):
    kw = {"shadowName": shadow} if shadow else {}
    out = client.update_thing_shadow(
        thingName=thing_name, payload=json.dumps(doc).encode(), **kw
    )
    return json.loads(out["payload"].read())


def get(client, thing_name, shadow=None):
    kw = {"shadowName": shadow} if shadow else {}
    out = client.get_thing_shadow(thingName=thing_name, **kw)
    return json.loads(out["payload"].read())


class Subscriber:
    """A paho-mqtt client subscribed (SUBACK received) to `topic_filter` at QoS 1."""

    def __init__(self, topic_filter):
        self.messages = queue.Queue()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"iot-data-test-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.subscribed.set()
        self.client.connect("127.0.0.1", MQTT_PORT, keepalive=30)
        self.client.loop_start()
        self.client.subscribe(topic_filter, qos=1)
        if not self.subscribed.wait(10):
            raise AssertionError(f"no SUBACK for {topic_filter}")

    def next(self, timeout=10):
        return self.messages.get(timeout=timeout)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


class IotData(unittest.TestCase):
    def setUp(self):
        self.iot = iot()

    def assertError(self, ctx, code, status):
        err = ctx.exception.response
        self.assertEqual(err["Error"]["Code"], code, err)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status, err)

    def test_update_then_get_shows_state_metadata_version_and_delta(self):
        t = thing("lifecycle")
        accepted = update(
            self.iot, t, {"state": {"desired": {"color": "red", "speed": 50}}, "clientToken": "tok-1"}
        )
        self.assertEqual(accepted["state"], {"desired": {"color": "red", "speed": 50}})
        self.assertEqual(accepted["version"], 1)
        self.assertEqual(accepted["clientToken"], "tok-1")
        self.assertIn("timestamp", accepted["metadata"]["desired"]["color"])
        doc = get(self.iot, t)
        self.assertEqual(doc["state"]["desired"], {"color": "red", "speed": 50})
        self.assertEqual(doc["state"]["delta"], {"color": "red", "speed": 50})
        self.assertEqual(doc["version"], 1)
        update(self.iot, t, {"state": {"reported": {"color": "red"}}})
        doc = get(self.iot, t)
        self.assertEqual(doc["state"]["delta"], {"speed": 50})
        self.assertEqual(doc["state"]["reported"], {"color": "red"})
        self.assertEqual(doc["version"], 2)
        update(self.iot, t, {"state": {"reported": {"speed": 50}}})
        doc = get(self.iot, t)
        self.assertNotIn("delta", doc["state"])

    def test_a_stale_version_is_a_409_conflict(self):
        t = thing("conflict")
        update(self.iot, t, {"state": {"reported": {"on": True}}})
        ok = update(self.iot, t, {"state": {"reported": {"on": False}}, "version": 1})
        self.assertEqual(ok["version"], 2)
        with self.assertRaises(ClientError) as ctx:
            update(self.iot, t, {"state": {"reported": {"on": True}}, "version": 1})
        self.assertError(ctx, "ConflictException", 409)
        with self.assertRaises(self.iot.exceptions.ConflictException):
            update(self.iot, t, {"state": {"reported": {"on": True}}, "version": 7})
        self.assertEqual(get(self.iot, t)["state"]["reported"], {"on": False})

    def test_a_missing_shadow_is_a_404(self):
        t = thing("missing")
        with self.assertRaises(ClientError) as ctx:
            get(self.iot, t)
        self.assertError(ctx, "ResourceNotFoundException", 404)
        self.assertIn("No shadow exists with name", ctx.exception.response["Error"]["Message"])
        with self.assertRaises(self.iot.exceptions.ResourceNotFoundException):
            self.iot.delete_thing_shadow(thingName=t)
        update(self.iot, t, {"state": {"reported": {"x": 1}}})
        with self.assertRaises(self.iot.exceptions.ResourceNotFoundException):
            get(self.iot, t, shadow="not-there")

    def test_malformed_and_oversized_documents_are_refused_with_aws_codes(self):
        t = thing("malformed")
        for payload, message in [
            (b"{not json", "Invalid JSON"),
            (b'{"state": 1}', "State node must be an object"),
            (b'{"desired": {}}', "Missing required node: state"),
        ]:
            with self.assertRaises(ClientError) as ctx:
                self.iot.update_thing_shadow(thingName=t, payload=payload)
            self.assertError(ctx, "InvalidRequestException", 400)
            self.assertEqual(ctx.exception.response["Error"]["Message"], message)
        with self.assertRaises(ClientError) as ctx:
            self.iot.update_thing_shadow(thingName=t, payload=b"\xff\xfe")
        self.assertError(ctx, "UnsupportedDocumentEncodingException", 415)
        # More than AWS's 8 KB of state.
        big = {"state": {"desired": {"blob": "x" * 9000}}}
        with self.assertRaises(ClientError) as ctx:
            update(self.iot, t, big)
        self.assertError(ctx, "RequestEntityTooLargeException", 413)
        # None of these created the shadow.
        with self.assertRaises(self.iot.exceptions.ResourceNotFoundException):
            get(self.iot, t)
        # Names outside the model's patterns (sent percent-encoded, signed encoded twice).
        with self.assertRaises(ClientError) as ctx:
            get(self.iot, "bad name!")
        self.assertError(ctx, "InvalidRequestException", 400)
        with self.assertRaises(ClientError) as ctx:
            get(self.iot, t, shadow="no/slash")
        self.assertError(ctx, "InvalidRequestException", 400)
        # `$` is in the shadow name pattern.
        update(self.iot, t, {"state": {"reported": {"ok": 1}}}, shadow="$cfg")
        self.assertEqual(get(self.iot, t, shadow="$cfg")["state"]["reported"], {"ok": 1})

    def test_null_deletes_a_field_and_a_null_state_section_empties_it(self):
        t = thing("null")
        update(self.iot, t, {"state": {"desired": {"a": 1, "b": {"c": 2, "d": 3}}}})
        update(self.iot, t, {"state": {"desired": {"a": None, "b": {"c": None}}}})
        doc = get(self.iot, t)
        self.assertEqual(doc["state"]["desired"], {"b": {"d": 3}})
        self.assertEqual(set(doc["metadata"]["desired"]), {"b"})
        update(self.iot, t, {"state": {"desired": None}})
        doc = get(self.iot, t)
        self.assertNotIn("desired", doc["state"])

    def test_named_shadows_are_separate_and_listed_in_pages(self):
        t = thing("named")
        update(self.iot, t, {"state": {"reported": {"classic": True}}})
        names = [f"s{i}" for i in range(5)]
        for i, n in enumerate(names):
            update(self.iot, t, {"state": {"reported": {"i": i}}}, shadow=n)
        self.assertEqual(get(self.iot, t, shadow="s3")["state"]["reported"], {"i": 3})
        self.assertEqual(get(self.iot, t)["state"]["reported"], {"classic": True})
        seen, token, pages = [], None, 0
        while True:
            kw = {"nextToken": token} if token else {}
            page = self.iot.list_named_shadows_for_thing(thingName=t, pageSize=2, **kw)
            self.assertLessEqual(len(page["results"]), 2)
            self.assertIsInstance(page["timestamp"], int)
            seen += page["results"]
            pages += 1
            token = page.get("nextToken")
            if not token:
                break
        self.assertEqual(seen, names)
        self.assertEqual(pages, 3)
        self.iot.delete_thing_shadow(thingName=t, shadowName="s1")
        self.assertEqual(
            self.iot.list_named_shadows_for_thing(thingName=t)["results"],
            ["s0", "s2", "s3", "s4"],
        )
        self.assertEqual(
            self.iot.list_named_shadows_for_thing(thingName=thing("nobody"))["results"], []
        )
        with self.assertRaises(ClientError) as ctx:
            self.iot.list_named_shadows_for_thing(thingName=t, nextToken="bad token!")
        self.assertError(ctx, "InvalidRequestException", 400)

    def test_delete_answers_the_version_and_a_new_shadow_continues_it(self):
        t = thing("delete")
        update(self.iot, t, {"state": {"reported": {"a": 1}}})
        update(self.iot, t, {"state": {"reported": {"a": 2}}})
        out = self.iot.delete_thing_shadow(thingName=t)
        doc = json.loads(out["payload"].read())
        self.assertEqual(doc["version"], 2)
        self.assertIn("timestamp", doc)
        with self.assertRaises(self.iot.exceptions.ResourceNotFoundException):
            get(self.iot, t)
        again = update(self.iot, t, {"state": {"reported": {"a": 3}}})
        self.assertEqual(again["version"], 3)

    def test_a_wrong_method_is_method_not_allowed(self):
        t = thing("method")
        url = f"{ENDPOINT}/things/{t}/shadow"
        req = AWSRequest(method="PUT", url=url, data=b"{}")
        SigV4Auth(Credentials(KEY_ID, SECRET), "iotdata", REGION).add_auth(req)
        prepared = req.prepare()
        http = urllib.request.Request(url, data=b"{}", method="PUT", headers=dict(prepared.headers))
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(http, timeout=10)
        self.assertEqual(ctx.exception.code, 405)
        self.assertEqual(ctx.exception.headers["x-amzn-ErrorType"], "MethodNotAllowedException")

    def test_publish_reaches_an_mqtt_subscriber(self):
        base = f"http/sub/{uuid.uuid4().hex[:8]}"
        sub = Subscriber(f"{base}/#")
        try:
            self.iot.publish(topic=f"{base}/a", qos=1, payload=b'{"hello": 1}')
            self.iot.publish(topic=f"{base}/b", payload=b"\x00\x01binary")
            first, second = sub.next(), sub.next()
            got = dict([first, second])
            self.assertEqual(got[f"{base}/a"], b'{"hello": 1}')
            self.assertEqual(got[f"{base}/b"], b"\x00\x01binary")
        finally:
            sub.close()

    def test_publish_reaches_a_rule(self):
        marker = uuid.uuid4().hex
        topic = f"{RULE_PREFIX}{marker}"
        self.iot.publish(topic=topic, qos=1, payload=json.dumps({"marker": marker}).encode())
        k = kinesis()
        shards = k.list_shards(StreamName=RULE_STREAM)["Shards"]
        iterators = [
            k.get_shard_iterator(
                StreamName=RULE_STREAM, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for s in shards
        ]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            next_iterators = []
            for it in iterators:
                out = k.get_records(ShardIterator=it)
                for r in out["Records"]:
                    data = json.loads(r["Data"])
                    if data.get("marker") == marker:
                        self.assertEqual(data["topic"], topic)
                        return
                next_iterators.append(out["NextShardIterator"])
            iterators = next_iterators
            time.sleep(0.05)
        self.fail(f"the rule did not put {marker} into {RULE_STREAM}")

    def test_a_wrong_secret_is_unauthorized(self):
        wrong = boto3.client(
            "iot-data", endpoint_url=ENDPOINT, region_name=REGION,
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET + "-wrong",
        )
        for call in [
            lambda: wrong.publish(topic="http/a/b", payload=b"x"),
            lambda: wrong.get_thing_shadow(thingName="any"),
        ]:
            with self.assertRaises(ClientError) as ctx:
                call()
            self.assertError(ctx, "UnauthorizedException", 401)

    def test_publish_refusals(self):
        for kw in [{"retain": True}, {"contentType": "text/plain"}]:
            with self.assertRaises(ClientError) as ctx:
                self.iot.publish(topic="http/refused", payload=b"x", **kw)
            self.assertError(ctx, "InvalidRequestException", 400)
        with self.assertRaises(ClientError) as ctx:
            self.iot.publish(topic="http/+/wild", payload=b"x")
        self.assertError(ctx, "InvalidRequestException", 400)

    def test_an_http_publish_on_a_shadow_topic_updates_the_shadow(self):
        t = thing("via-publish")
        self.iot.publish(
            topic=f"$aws/things/{t}/shadow/name/cfg/update",
            qos=1,
            payload=json.dumps({"state": {"reported": {"fw": "1.2"}}}).encode(),
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                doc = get(self.iot, t, shadow="cfg")
                break
            except self.iot.exceptions.ResourceNotFoundException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self.assertEqual(doc["state"]["reported"], {"fw": "1.2"})

    def test_a_rest_update_is_announced_on_the_shadow_topics(self):
        t = thing("announced")
        sub = Subscriber(f"$aws/things/{t}/shadow/update/#")
        try:
            update(self.iot, t, {"state": {"desired": {"led": "on"}}})
            got = dict(sub.next() for _ in range(3))
        finally:
            sub.close()
        prefix = f"$aws/things/{t}/shadow/update"
        self.assertEqual(set(got), {f"{prefix}/accepted", f"{prefix}/delta", f"{prefix}/documents"})
        self.assertEqual(json.loads(got[f"{prefix}/delta"])["state"], {"led": "on"})
        docs = json.loads(got[f"{prefix}/documents"])
        self.assertEqual(docs["current"]["state"]["desired"], {"led": "on"})

    def test_aws_cli_get_thing_shadow(self):
        t = thing("cli")
        update(self.iot, t, {"state": {"reported": {"temp": 21.5}}})
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "shadow.json")
            run = subprocess.run(
                ["aws", "iot-data", "get-thing-shadow", "--thing-name", t, out,
                 "--endpoint-url", ENDPOINT],
                capture_output=True, text=True, timeout=60,
            )
            self.assertEqual(run.returncode, 0, run.stderr)
            with open(out) as f:
                doc = json.load(f)
        self.assertEqual(doc["state"]["reported"], {"temp": 21.5})
        self.assertEqual(doc["version"], 1)


PERSIST_THING = "persist-thing"


class BeforeRestart(unittest.TestCase):
    def test_write_shadows(self):
        c = iot()
        update(c, PERSIST_THING, {"state": {"desired": {"mode": "eco"}, "reported": {"mode": "off"}}})
        update(c, PERSIST_THING, {"state": {"reported": {"mode": "eco"}}})
        update(c, PERSIST_THING, {"state": {"reported": {"n": 7}}}, shadow="cfg")
        update(c, PERSIST_THING, {"state": {"reported": {"n": 1}}}, shadow="gone")
        c.delete_thing_shadow(thingName=PERSIST_THING, shadowName="gone")


class AfterRestart(unittest.TestCase):
    def test_shadows_survived(self):
        c = iot()
        doc = get(c, PERSIST_THING)
        self.assertEqual(doc["state"]["reported"], {"mode": "eco"})
        self.assertEqual(doc["state"]["desired"], {"mode": "eco"})
        self.assertNotIn("delta", doc["state"])
        self.assertEqual(doc["version"], 2)
        self.assertEqual(get(c, PERSIST_THING, shadow="cfg")["state"]["reported"], {"n": 7})
        self.assertEqual(
            c.list_named_shadows_for_thing(thingName=PERSIST_THING)["results"], ["cfg"]
        )
        with self.assertRaises(c.exceptions.ResourceNotFoundException):
            get(c, PERSIST_THING, shadow="gone")
        # The deleted shadow's version continues after the restart too.
        self.assertEqual(update(c, PERSIST_THING, {"state": {"reported": {"n": 2}}}, shadow="gone")["version"], 2)


if __name__ == "__main__":
    unittest.main()
