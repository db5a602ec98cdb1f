"""AWS IoT's rules API (boto3 `iot`, the AWS CLI's `aws iot`) against `weir run`, with MQTT
(paho-mqtt) to fire the rules and boto3 `kinesis` to read what they wrote.

Run by host/tests/iot_rules_python_suite.rs, which starts `weir run` with a configuration
holding one file rule (`file_rule`: `file/in` into the stream `file_stream`), runs the class
`RulesApi`, restarts weir on the same storage and runs `AfterRestart`. It sets:
  WEIR_ENDPOINT   the API (Kinesis and the rules API on one port)
  WEIR_MQTT_PORT  the embedded broker's MQTT 3.1.1 port
  WEIR_CONFIG     the configuration file (a test adds a rule to it)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION (us-east-1)

Each test uses its own rule, stream and topic names. A rule created through the API applies
before CreateTopicRule answers, so the tests publish right after it, never after a sleep;
every wait for a delivery is a poll with a deadline.
"""

import base64
import json
import os
import queue
import subprocess
import threading
import time
import unittest
import uuid

import boto3
import paho.mqtt.client as mqtt
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("WEIR_ENDPOINT", "http://127.0.0.1:4567")
MQTT_PORT = int(os.environ.get("WEIR_MQTT_PORT", "1883"))
CONFIG = os.environ.get("WEIR_CONFIG", "weir.toml")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
ROLE = "arn:aws:iam::123456789012:role/iot-rules"
WAIT = 15.0
STEP = 0.02


def iot():
    return boto3.client("iot", endpoint_url=ENDPOINT, region_name=REGION)


def kinesis():
    return boto3.client("kinesis", endpoint_url=ENDPOINT, region_name=REGION)


def error_code(ctx):
    return ctx.exception.response["Error"]["Code"]


def status(ctx):
    return ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"]


def create_stream(name):
    k = kinesis()
    k.create_stream(StreamName=name, ShardCount=1)
    deadline = time.time() + WAIT
    while k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        assert time.time() < deadline, f"stream {name} not ACTIVE"
        time.sleep(STEP)


def read_stream(name, want, wait=WAIT):
    """The stream's first `want` records as (partition key, JSON data), polling until they
    are there; fails after `wait` seconds."""
    k = kinesis()
    shards = k.describe_stream(StreamName=name)["StreamDescription"]["Shards"]
    iterators = [
        k.get_shard_iterator(StreamName=name, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        for s in shards
    ]
    got = []
    deadline = time.time() + wait
    while True:
        for i, it in enumerate(iterators):
            out = k.get_records(ShardIterator=it)
            iterators[i] = out["NextShardIterator"]
            got += [(r["PartitionKey"], json.loads(r["Data"])) for r in out["Records"]]
        if len(got) >= want:
            return got
        assert time.time() < deadline, f"{name}: {len(got)} records, want {want}: {got}"
        time.sleep(STEP)


class Mqtt:
    """One paho client: subscriptions collected into a queue, QoS 1 publishes that return
    once acknowledged."""

    def __init__(self, subscribe=()):
        self.messages = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"rules-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda _c, _u, m: self.messages.put((m.topic, m.payload))
        self.client.connect("127.0.0.1", MQTT_PORT)
        self.client.loop_start()
        for f in subscribe:
            _, mid = self.client.subscribe(f, qos=1)
        if subscribe:
            # Wait for the SUBACKs: a round trip on the same connection after them.
            self.client.publish("rules-suite/sync", b"", qos=1).wait_for_publish(WAIT)

    def publish(self, topic, payload):
        info = self.client.publish(topic, json.dumps(payload).encode(), qos=1)
        info.wait_for_publish(WAIT)
        assert info.is_published(), f"no PUBACK for {topic}"

    def next(self, wait=WAIT):
        try:
            topic, payload = self.messages.get(timeout=wait)
        except queue.Empty:
            raise AssertionError("no message arrived")
        return topic, json.loads(payload)

    def none_within(self, seconds):
        try:
            got = self.messages.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected message {got}")

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def republish_rule(sql, topic, **extra):
    payload = {"sql": sql, "actions": [{"republish": {"topic": topic, "roleArn": ROLE}}]}
    payload.update(extra)
    return payload


class RulesApi(unittest.TestCase):
    def test_lifecycle_create_get_list_replace_disable_enable_delete(self):
        c = iot()
        c.create_topic_rule(
            ruleName="life_cycle",
            topicRulePayload=republish_rule("SELECT * FROM 'life/+/in'", "life/out", description="first"),
            tags="team=weir&env=test",
        )
        got = c.get_topic_rule(ruleName="life_cycle")
        self.assertEqual(got["ruleArn"], "arn:aws:iot:us-east-1:000000000000:rule/life_cycle")
        rule = got["rule"]
        self.assertEqual(rule["ruleName"], "life_cycle")
        self.assertEqual(rule["sql"], "SELECT * FROM 'life/+/in'")
        self.assertEqual(rule["description"], "first")
        # AWS's defaults for what the payload left out.
        self.assertEqual(rule["awsIotSqlVersion"], "2015-10-08")
        self.assertIs(rule["ruleDisabled"], False)
        self.assertEqual(rule["actions"], [{"republish": {"topic": "life/out", "roleArn": ROLE}}])
        self.assertLess(abs(rule["createdAt"].timestamp() - time.time()), 60)

        listed = {r["ruleName"]: r for r in c.list_topic_rules()["rules"]}
        self.assertIn("file_rule", listed)
        self.assertEqual(listed["life_cycle"]["topicPattern"], "life/+/in")
        self.assertEqual(listed["life_cycle"]["ruleArn"], got["ruleArn"])
        only = c.list_topic_rules(topic="life/+/in")["rules"]
        self.assertEqual([r["ruleName"] for r in only], ["life_cycle"])
        # Pages of one, through the paginator's nextToken.
        pages = c.get_paginator("list_topic_rules").paginate(PaginationConfig={"PageSize": 1})
        names = [r["ruleName"] for p in pages for r in p["rules"]]
        self.assertEqual(names, sorted(listed))

        c.replace_topic_rule(
            ruleName="life_cycle",
            topicRulePayload=republish_rule("SELECT temp FROM 'life/+/in2'", "life/out2", awsIotSqlVersion="2016-03-23"),
        )
        rule = c.get_topic_rule(ruleName="life_cycle")["rule"]
        self.assertEqual(rule["sql"], "SELECT temp FROM 'life/+/in2'")
        self.assertEqual(rule["awsIotSqlVersion"], "2016-03-23")
        self.assertNotIn("description", rule)

        # Tags, as Terraform reads them back: the x-amz-tagging of the create, then
        # TagResource and UntagResource.
        arn = got["ruleArn"]
        tags = lambda: sorted((t["Key"], t["Value"]) for t in c.list_tags_for_resource(resourceArn=arn)["tags"])
        self.assertEqual(tags(), [("env", "test"), ("team", "weir")])
        c.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "r2"}])
        c.untag_resource(resourceArn=arn, tagKeys=["team"])
        self.assertEqual(tags(), [("env", "prod"), ("owner", "r2")])

        c.disable_topic_rule(ruleName="life_cycle")
        self.assertIs(c.get_topic_rule(ruleName="life_cycle")["rule"]["ruleDisabled"], True)
        disabled = [r["ruleName"] for r in c.list_topic_rules(ruleDisabled=True)["rules"]]
        self.assertIn("life_cycle", disabled)
        self.assertNotIn("file_rule", disabled)
        c.enable_topic_rule(ruleName="life_cycle")
        self.assertIs(c.get_topic_rule(ruleName="life_cycle")["rule"]["ruleDisabled"], False)

        c.delete_topic_rule(ruleName="life_cycle")
        # AWS answers a rule that does not exist with UnauthorizedException (401).
        with self.assertRaises(ClientError) as ctx:
            c.get_topic_rule(ruleName="life_cycle")
        self.assertEqual((error_code(ctx), status(ctx)), ("UnauthorizedException", 401))
        for call in (c.delete_topic_rule, c.enable_topic_rule, c.disable_topic_rule):
            with self.assertRaises(ClientError) as ctx:
                call(ruleName="life_cycle")
            self.assertEqual(error_code(ctx), "UnauthorizedException")
        self.assertNotIn("life_cycle", [r["ruleName"] for r in c.list_topic_rules()["rules"]])
        with self.assertRaises(ClientError) as ctx:
            c.list_tags_for_resource(resourceArn=arn)
        self.assertEqual((error_code(ctx), status(ctx)), ("ResourceNotFoundException", 404))

    def test_invalid_sql_is_sql_parse_exception(self):
        c = iot()
        with self.assertRaises(ClientError) as ctx:
            c.create_topic_rule(ruleName="bad_sql", topicRulePayload=republish_rule("SELEC * FROM 'x'", "y"))
        self.assertEqual((error_code(ctx), status(ctx)), ("SqlParseException", 400))
        self.assertIn("sql", ctx.exception.response["Error"]["Message"])
        with self.assertRaises(ClientError) as ctx:
            c.get_topic_rule(ruleName="bad_sql")
        self.assertEqual(error_code(ctx), "UnauthorizedException")

    def test_invalid_requests(self):
        c = iot()
        cases = [
            ("not_weirs", {"sql": "SELECT * FROM 'a'", "actions": [{"cloudwatchMetric": {"roleArn": ROLE, "metricNamespace": "n", "metricName": "m", "metricValue": "1", "metricUnit": "Count"}}]}, "cloudwatchMetric"),
            ("bad_version", {"sql": "SELECT * FROM 'a'", "actions": [], "awsIotSqlVersion": "2099-01-01"}, "awsIotSqlVersion"),
            ("no_stream", {"sql": "SELECT * FROM 'a'", "actions": [{"kinesis": {"streamName": "nowhere_stream", "roleArn": ROLE}}]}, "nowhere_stream"),
        ]
        for name, payload, named in cases:
            with self.assertRaises(ClientError, msg=name) as ctx:
                c.create_topic_rule(ruleName=name, topicRulePayload=payload)
            self.assertEqual((error_code(ctx), status(ctx)), ("InvalidRequestException", 400), name)
            self.assertIn(named, ctx.exception.response["Error"]["Message"], name)

    def test_duplicate_name(self):
        c = iot()
        c.create_topic_rule(ruleName="twice", topicRulePayload=republish_rule("SELECT * FROM 'twice/in'", "twice/out"))
        with self.assertRaises(ClientError) as ctx:
            c.create_topic_rule(ruleName="twice", topicRulePayload=republish_rule("SELECT * FROM 'other'", "x"))
        self.assertEqual((error_code(ctx), status(ctx)), ("ResourceAlreadyExistsException", 409))
        # The first stays as it was.
        self.assertEqual(c.get_topic_rule(ruleName="twice")["rule"]["sql"], "SELECT * FROM 'twice/in'")
        # A name of the file's is taken too.
        with self.assertRaises(ClientError) as ctx:
            c.create_topic_rule(ruleName="file_rule", topicRulePayload=republish_rule("SELECT * FROM 'x'", "y"))
        self.assertEqual(error_code(ctx), "ResourceAlreadyExistsException")
        c.delete_topic_rule(ruleName="twice")

    def test_file_rule_is_read_only(self):
        c = iot()
        rule = c.get_topic_rule(ruleName="file_rule")["rule"]
        self.assertEqual(rule["sql"], "SELECT * FROM 'file/in'")
        self.assertEqual(rule["actions"], [{"kinesis": {"streamName": "file_stream", "partitionKey": "${topic()}"}}])
        calls = [
            lambda: c.replace_topic_rule(ruleName="file_rule", topicRulePayload=republish_rule("SELECT * FROM 'x'", "y")),
            lambda: c.delete_topic_rule(ruleName="file_rule"),
            lambda: c.enable_topic_rule(ruleName="file_rule"),
            lambda: c.disable_topic_rule(ruleName="file_rule"),
        ]
        for call in calls:
            with self.assertRaises(ClientError) as ctx:
                call()
            self.assertEqual(error_code(ctx), "InvalidRequestException")
            self.assertIn(os.path.basename(CONFIG), ctx.exception.response["Error"]["Message"])
        self.assertIs(c.get_topic_rule(ruleName="file_rule")["rule"]["ruleDisabled"], False)
        arn = c.get_topic_rule(ruleName="file_rule")["ruleArn"]
        self.assertEqual(c.list_tags_for_resource(resourceArn=arn)["tags"], [])
        with self.assertRaises(ClientError) as ctx:
            c.tag_resource(resourceArn=arn, tags=[{"Key": "k", "Value": "v"}])
        self.assertEqual(error_code(ctx), "InvalidRequestException")

    def test_rule_fires_on_mqtt_into_a_stream_and_a_republish(self):
        create_stream("fire_stream")
        sub = Mqtt(subscribe=["fire/alerts/#"])
        try:
            iot().create_topic_rule(
                ruleName="fire_rule",
                topicRulePayload={
                    "sql": "SELECT *, topic() AS t FROM 'fire/+/telemetry' WHERE temp > 30",
                    "awsIotSqlVersion": "2016-03-23",
                    "actions": [
                        {"kinesis": {"streamName": "fire_stream", "partitionKey": "${topic(2)}", "roleArn": ROLE}},
                        {"republish": {"topic": "fire/alerts/${topic(2)}", "qos": 1, "roleArn": ROLE}},
                    ],
                },
            )
            # At once: the publish right after CreateTopicRule answered reaches the rule.
            pub = Mqtt()
            pub.publish("fire/d1/telemetry", {"temp": 35})
            pub.publish("fire/d2/telemetry", {"temp": 10})
            pub.close()
            topic, body = sub.next()
            self.assertEqual(topic, "fire/alerts/d1")
            self.assertEqual(body, {"temp": 35, "t": "fire/d1/telemetry"})
            self.assertEqual(read_stream("fire_stream", 1), [("d1", {"temp": 35, "t": "fire/d1/telemetry"})])
            sub.none_within(0.3)
        finally:
            sub.close()
        # Disabled, it no longer fires; enabled again, it does.
        c = iot()
        c.disable_topic_rule(ruleName="fire_rule")
        pub = Mqtt()
        sub = Mqtt(subscribe=["fire/alerts/#"])
        try:
            pub.publish("fire/d3/telemetry", {"temp": 40})
            c.enable_topic_rule(ruleName="fire_rule")
            pub.publish("fire/d4/telemetry", {"temp": 41})
            topic, body = sub.next()
            self.assertEqual(topic, "fire/alerts/d4")
        finally:
            sub.close()
            pub.close()

    def test_error_action(self):
        create_stream("err_stream")
        sub = Mqtt(subscribe=["err/failed"])
        try:
            iot().create_topic_rule(
                ruleName="err_rule",
                topicRulePayload={
                    "sql": "SELECT * FROM 'err/in'",
                    "actions": [{"kinesis": {"streamName": "err_stream", "partitionKey": "${device}", "roleArn": ROLE}}],
                    "errorAction": {"republish": {"topic": "err/failed", "roleArn": ROLE}},
                },
            )
            pub = Mqtt()
            # No `device`: the partition key does not render, and the failure goes to the error action.
            pub.publish("err/in", {"temp": 1})
            pub.close()
            topic, body = sub.next()
            self.assertEqual(topic, "err/failed")
            self.assertEqual(body["ruleName"], "err_rule")
            self.assertEqual(body["topic"], "err/in")
            self.assertEqual(json.loads(base64.b64decode(body["base64OriginalPayload"])), {"temp": 1})
            self.assertEqual(body["failures"][0]["failedAction"], "KinesisAction")
            self.assertEqual(body["failures"][0]["failedResource"], "err_stream")
        finally:
            sub.close()

    def test_basic_ingest_reaches_only_the_named_rule(self):
        c = iot()
        for name in ("ingest_a", "ingest_b"):
            c.create_topic_rule(
                ruleName=name,
                topicRulePayload=republish_rule("SELECT *, topic() AS t FROM 'sensors/#'", f"ingest/out/{name}"),
            )
        sub = Mqtt(subscribe=["ingest/out/#"])
        pub = Mqtt()
        try:
            pub.publish("$aws/rules/ingest_a/sensors/room1/temp", {"v": 1})
            topic, body = sub.next()
            self.assertEqual((topic, body), ("ingest/out/ingest_a", {"v": 1, "t": "sensors/room1/temp"}))
            # The same topic without the prefix reaches both rules, the ingest reached one.
            pub.publish("sensors/room2", {"v": 2})
            got = sorted([sub.next(), sub.next()])
            self.assertEqual(got, [
                ("ingest/out/ingest_a", {"v": 2, "t": "sensors/room2"}),
                ("ingest/out/ingest_b", {"v": 2, "t": "sensors/room2"}),
            ])
            sub.none_within(0.3)
            # A rule of the file takes Basic Ingest too.
            pub.publish("$aws/rules/file_rule/file/in", {"v": 3})
            records = read_stream("file_stream", 1)
            self.assertIn(("file/in", {"v": 3}), records)
        finally:
            sub.close()
            pub.close()
        # To a rule that does not exist: refused like any reserved topic nothing serves (not
        # acknowledged, the publisher disconnected).
        gone = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rules-ingest-nobody")
        client.on_disconnect = lambda *_: gone.set()
        client.connect("127.0.0.1", MQTT_PORT)
        client.loop_start()
        try:
            info = client.publish("$aws/rules/no_such_rule/sensors/x", b"{}", qos=1)
            self.assertTrue(gone.wait(WAIT), "the publisher was not disconnected")
            self.assertFalse(info.is_published())
        finally:
            client.loop_stop()

    def test_aws_cli_create_topic_rule(self):
        payload = json.dumps(republish_rule("SELECT * FROM 'cli/in'", "cli/out", description="from the CLI"))
        env = dict(os.environ)
        subprocess.run(
            ["aws", "iot", "create-topic-rule", "--endpoint-url", ENDPOINT,
             "--rule-name", "cli_rule", "--topic-rule-payload", payload],
            check=True, capture_output=True, env=env,
        )
        out = subprocess.run(
            ["aws", "iot", "get-topic-rule", "--endpoint-url", ENDPOINT, "--rule-name", "cli_rule"],
            check=True, capture_output=True, env=env,
        )
        rule = json.loads(out.stdout)["rule"]
        self.assertEqual((rule["ruleName"], rule["description"]), ("cli_rule", "from the CLI"))
        bad = subprocess.run(
            ["aws", "iot", "create-topic-rule", "--endpoint-url", ENDPOINT,
             "--rule-name", "cli_bad", "--topic-rule-payload", '{"sql": "SELECT FROM", "actions": []}'],
            capture_output=True, env=env,
        )
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn(b"SqlParseException", bad.stderr)

    def test_the_file_wins_a_name_it_gains(self):
        c = iot()
        c.create_topic_rule(ruleName="clash", topicRulePayload=republish_rule("SELECT * FROM 'clash/api'", "clash/out"))
        with open(CONFIG) as f:
            text = f.read()
        text += "\n[rules.clash]\nsql = \"SELECT * FROM 'clash/file'\"\n\n[[rules.clash.actions]]\nkind = \"republish\"\ntopic = \"clash/out\"\n"
        tmp = CONFIG + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, CONFIG)
        deadline = time.time() + WAIT
        while c.get_topic_rule(ruleName="clash")["rule"]["sql"] != "SELECT * FROM 'clash/file'":
            self.assertLess(time.time(), deadline, "the reloaded file's rule did not take the name")
            time.sleep(STEP)
        with self.assertRaises(ClientError) as ctx:
            c.delete_topic_rule(ruleName="clash")
        self.assertEqual(error_code(ctx), "InvalidRequestException")
        self.assertEqual([r["ruleName"] for r in c.list_topic_rules()["rules"]].count("clash"), 1)

    def test_z_rules_for_after_the_restart(self):
        """Rules the second phase finds after weir restarted (runs last: `z`)."""
        create_stream("persist_stream")
        c = iot()
        c.create_topic_rule(
            ruleName="persist_rule",
            topicRulePayload={
                "sql": "SELECT * FROM 'persist/in'",
                "description": "kept",
                "actions": [{"kinesis": {"streamName": "persist_stream", "partitionKey": "p", "roleArn": ROLE}}],
            },
            tags="kept=yes",
        )
        c.create_topic_rule(
            ruleName="persist_off",
            topicRulePayload=republish_rule("SELECT * FROM 'persist/off'", "persist/off/out", ruleDisabled=True),
        )
        created = c.get_topic_rule(ruleName="persist_rule")["rule"]["createdAt"].timestamp()
        with open(os.path.join(os.path.dirname(CONFIG), "created_at"), "w") as f:
            f.write(repr(created))


class AfterRestart(unittest.TestCase):
    def test_api_rules_survive_a_restart_and_run(self):
        c = iot()
        rule = c.get_topic_rule(ruleName="persist_rule")["rule"]
        self.assertEqual((rule["sql"], rule["description"]), ("SELECT * FROM 'persist/in'", "kept"))
        with open(os.path.join(os.path.dirname(CONFIG), "created_at")) as f:
            self.assertAlmostEqual(rule["createdAt"].timestamp(), float(f.read()), places=3)
        self.assertIs(c.get_topic_rule(ruleName="persist_off")["rule"]["ruleDisabled"], True)
        arn = c.get_topic_rule(ruleName="persist_rule")["ruleArn"]
        self.assertEqual(c.list_tags_for_resource(resourceArn=arn)["tags"], [{"Key": "kept", "Value": "yes"}])
        names = [r["ruleName"] for r in c.list_topic_rules()["rules"]]
        for name in ("file_rule", "persist_rule", "persist_off", "cli_rule", "fire_rule", "clash"):
            self.assertIn(name, names)
        self.assertNotIn("life_cycle", names)
        # Still the file's: the file keeps the name across the restart.
        self.assertEqual(c.get_topic_rule(ruleName="clash")["rule"]["sql"], "SELECT * FROM 'clash/file'")
        pub = Mqtt()
        try:
            pub.publish("persist/in", {"after": "restart"})
        finally:
            pub.close()
        self.assertEqual(read_stream("persist_stream", 1), [("p", {"after": "restart"})])
        c.delete_topic_rule(ruleName="persist_rule")


if __name__ == "__main__":
    unittest.main()
