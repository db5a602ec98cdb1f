"""Weir's Kinesis API driven by boto3, the AWS CLI and raw JSON/CBOR requests.

Run by tests/python_suite.rs, which starts the server and sets WEIR_ENDPOINT (and
WEIR_SERVER_CMD, used here to start extra servers with other options).
"""

import base64
import datetime
import hashlib
import hmac
import shlex
import json
import os
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import boto3
import cbor2
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ENDPOINT = os.environ.get("WEIR_ENDPOINT", "http://127.0.0.1:4567")
SERVER_BIN = shlex.split(os.environ.get("WEIR_SERVER_CMD", ""))
PLATE = "95B•140"
MAX = 2**128 - 1


def client(endpoint=ENDPOINT, key="AKIDTEST", secret="secret"):
    return boto3.client(
        "kinesis",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


K = client()


def wait_active(name, c=K, timeout=10.0):
    """Polls DescribeStreamSummary until ACTIVE (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
        if st == "ACTIVE":
            return
        time.sleep(0.02)
    raise AssertionError(f"{name} never became ACTIVE")


def make_stream(name, shards):
    K.create_stream(StreamName=name, ShardCount=shards)
    wait_active(name)


def error_code(fn, **kw):
    try:
        fn(**kw)
    except K.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("no error raised")


def route(key, shards):
    h = int.from_bytes(hashlib.md5(key.encode("utf-8")).digest(), "big")
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]) and "EndingSequenceNumber" not in s["SequenceNumberRange"]:
            return s["ShardId"]
    raise AssertionError("no shard")


def read_shard(name, shard, it_type="TRIM_HORIZON", limit=10000):
    it = K.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType=it_type)["ShardIterator"]
    out = []
    while True:
        page = K.get_records(ShardIterator=it, Limit=limit)
        out.extend(page["Records"])
        nxt = page.get("NextShardIterator")
        if nxt is None:
            return out, page.get("ChildShards")
        if not page["Records"]:
            return out, None
        it = nxt


def raw_post(target, body, content_type="application/x-amz-json-1.1", signed=True, endpoint=ENDPOINT):
    headers = {"Content-Type": content_type}
    if target is not None:
        headers["X-Amz-Target"] = target
    if signed:
        req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
        SigV4Auth(Credentials("AKIDTEST", "secret"), "kinesis", "us-east-1").add_auth(req)
        headers = dict(req.headers.items())
    r = urllib.request.Request(endpoint + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def sign_at(when, body, target, endpoint, key="AKIDGOOD", secret="goodsecret"):
    """Headers of a request SigV4-signed at `when`, computed here step by step (so the date can
    be any); the same code signing at the current time is the positive control."""
    host = endpoint.split("//", 1)[1]
    amz = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz[:8]
    headers = {
        "content-type": "application/x-amz-json-1.1",
        "host": host,
        "x-amz-date": amz,
        "x-amz-target": target,
    }
    signed = "content-type;host;x-amz-date;x-amz-target"
    canon_headers = "".join(f"{k}:{headers[k]}\n" for k in signed.split(";"))
    creq = "\n".join(["POST", "/", "", canon_headers, signed, hashlib.sha256(body).hexdigest()])
    scope = f"{day}/us-east-1/kinesis/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (day, "us-east-1", "kinesis", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed}, Signature={sig}"
    return headers


def send(url, body, headers):
    r = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class Server:
    """An extra server with other flags, on a free port."""

    def __init__(self, *flags):
        self.dir = tempfile.TemporaryDirectory()
        if os.environ.get("WEIR_SERVER_FRESH_NATS_PREFIX"):
            # On a shared NATS cluster each extra server is a deployment of its own.
            flags = (*flags, "--nats-prefix", "t" + os.urandom(6).hex())
        self.proc = subprocess.Popen(
            [*SERVER_BIN, "--listen", "127.0.0.1:0", "--dir", self.dir.name, "--transition-ms", "0", *flags],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), line
        self.endpoint = "http://" + line.split()[-1]

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.dir.cleanup()


class ControlPlane(unittest.TestCase):
    def test_create_describe_list_delete(self):
        K.create_stream(StreamName="cp1", ShardCount=3)
        st = K.describe_stream(StreamName="cp1")["StreamDescription"]["StreamStatus"]
        self.assertIn(st, ("CREATING", "ACTIVE"))
        wait_active("cp1")
        d = K.describe_stream(StreamName="cp1")["StreamDescription"]
        ranges = [(s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"]) for s in d["Shards"]]
        self.assertEqual(ranges[0], ("0", "113427455640312821154458202477256070484"))
        self.assertEqual(ranges[1][0], "113427455640312821154458202477256070485")
        self.assertEqual(ranges[2][1], str(MAX))
        self.assertEqual([s["ShardId"] for s in d["Shards"]], [f"shardId-{i:012d}" for i in range(3)])
        self.assertEqual(d["RetentionPeriodHours"], 24)
        self.assertIsInstance(d["StreamCreationTimestamp"], datetime.datetime)
        seq = d["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"]
        self.assertEqual(len(seq), 56)
        summ = K.describe_stream_summary(StreamName="cp1")["StreamDescriptionSummary"]
        self.assertEqual(summ["OpenShardCount"], 3)
        arn = summ["StreamARN"]
        self.assertTrue(arn.endswith(":stream/cp1"))
        self.assertEqual(K.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]["StreamName"], "cp1")
        ls = K.list_streams()
        self.assertIn("cp1", ls["StreamNames"])
        self.assertIn("cp1", [s["StreamName"] for s in ls["StreamSummaries"]])
        page = K.list_streams(Limit=1)
        self.assertEqual(len(page["StreamNames"]), 1)
        self.assertEqual(error_code(K.create_stream, StreamName="cp1", ShardCount=1), ("ResourceInUseException", 400))
        # paging through DescribeStream
        d1 = K.describe_stream(StreamName="cp1", Limit=2)["StreamDescription"]
        self.assertTrue(d1["HasMoreShards"])
        d2 = K.describe_stream(StreamName="cp1", ExclusiveStartShardId=d1["Shards"][-1]["ShardId"])["StreamDescription"]
        self.assertEqual([s["ShardId"] for s in d2["Shards"]], ["shardId-000000000002"])
        K.delete_stream(StreamName="cp1")
        # DELETING for the transition delay, then gone.
        K.get_waiter("stream_not_exists").wait(StreamName="cp1", WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        self.assertEqual(error_code(K.describe_stream, StreamName="cp1")[0], "ResourceNotFoundException")
        self.assertEqual(error_code(K.delete_stream, StreamName="cp1")[0], "ResourceNotFoundException")

    def test_validation_errors(self):
        code, status = error_code(K.create_stream, StreamName="bad name!", ShardCount=1)
        self.assertEqual((code, status), ("ValidationException", 400))
        self.assertEqual(error_code(K.create_stream, StreamName="x" * 129, ShardCount=1)[0], "ValidationException")
        self.assertEqual(error_code(K.describe_stream_summary, StreamName="nope")[0], "ResourceNotFoundException")
        self.assertEqual(
            error_code(K.describe_stream_summary, StreamARN="arn:aws:kinesis:us-east-1:000000000000:stream/nope")[0],
            "ResourceNotFoundException",
        )
        self.assertEqual(error_code(K.describe_stream_summary, StreamARN="not-an-arn")[0], "ValidationException")
        self.assertEqual(error_code(K.list_streams, Limit=10001)[0], "ValidationException")

    def test_list_shards(self):
        make_stream("ls1", 4)
        p1 = K.list_shards(StreamName="ls1", MaxResults=3)
        self.assertEqual(len(p1["Shards"]), 3)
        p2 = K.list_shards(NextToken=p1["NextToken"])
        self.assertEqual([s["ShardId"] for s in p2["Shards"]], ["shardId-000000000003"])
        self.assertNotIn("NextToken", p2)
        self.assertEqual(
            error_code(K.list_shards, StreamName="ls1", NextToken=p1["NextToken"])[0], "InvalidArgumentException"
        )
        ex = K.list_shards(StreamName="ls1", ExclusiveStartShardId="shardId-000000000001")
        self.assertEqual([s["ShardId"] for s in ex["Shards"]], ["shardId-000000000002", "shardId-000000000003"])
        K.split_shard(StreamName="ls1", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**124))
        wait_active("ls1")
        latest = K.list_shards(StreamName="ls1", ShardFilter={"Type": "AT_LATEST"})["Shards"]
        self.assertEqual(len(latest), 5)
        self.assertNotIn("shardId-000000000000", [s["ShardId"] for s in latest])
        horizon = K.list_shards(StreamName="ls1", ShardFilter={"Type": "AT_TRIM_HORIZON"})["Shards"]
        self.assertEqual(len(horizon), 4)
        after = K.list_shards(StreamName="ls1", ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000003"})
        self.assertEqual([s["ShardId"] for s in after["Shards"]], ["shardId-000000000004", "shardId-000000000005"])
        self.assertEqual(
            error_code(K.list_shards, StreamName="ls1", ShardFilter={"Type": "BOGUS"})[0], "ValidationException"
        )

    def test_retention(self):
        make_stream("ret1", 1)
        K.increase_stream_retention_period(StreamName="ret1", RetentionPeriodHours=48)
        self.assertEqual(K.describe_stream(StreamName="ret1")["StreamDescription"]["RetentionPeriodHours"], 48)
        self.assertEqual(
            error_code(K.increase_stream_retention_period, StreamName="ret1", RetentionPeriodHours=30)[0],
            "InvalidArgumentException",
        )
        self.assertEqual(
            error_code(K.increase_stream_retention_period, StreamName="ret1", RetentionPeriodHours=8761)[0],
            "InvalidArgumentException",
        )
        self.assertEqual(
            error_code(K.decrease_stream_retention_period, StreamName="ret1", RetentionPeriodHours=23)[0],
            "InvalidArgumentException",
        )
        self.assertEqual(
            error_code(K.decrease_stream_retention_period, StreamName="ret1", RetentionPeriodHours=72)[0],
            "InvalidArgumentException",
        )
        K.decrease_stream_retention_period(StreamName="ret1", RetentionPeriodHours=24)
        self.assertEqual(K.describe_stream(StreamName="ret1")["StreamDescription"]["RetentionPeriodHours"], 24)

    def test_tags(self):
        make_stream("tag1", 1)
        K.add_tags_to_stream(StreamName="tag1", Tags={"a": "1", "b": "2", "c": "3"})
        t = K.list_tags_for_stream(StreamName="tag1", Limit=2)
        self.assertEqual([x["Key"] for x in t["Tags"]], ["a", "b"])
        self.assertTrue(t["HasMoreTags"])
        t2 = K.list_tags_for_stream(StreamName="tag1", ExclusiveStartTagKey="b")
        self.assertEqual(t2["Tags"], [{"Key": "c", "Value": "3"}])
        K.remove_tags_from_stream(StreamName="tag1", TagKeys=["a", "c"])
        self.assertEqual(K.list_tags_for_stream(StreamName="tag1")["Tags"], [{"Key": "b", "Value": "2"}])
        many = {f"k{i}": "v" for i in range(51)}
        self.assertEqual(error_code(K.add_tags_to_stream, StreamName="tag1", Tags=many)[0], "InvalidArgumentException")
        self.assertEqual(
            error_code(K.add_tags_to_stream, StreamName="tag1", Tags={"x" * 129: "v"})[0], "ValidationException"
        )


class DataPlane(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        make_stream("dp", 3)
        cls.shards = K.describe_stream(StreamName="dp")["StreamDescription"]["Shards"]

    def test_put_record_routes_by_md5_and_reads_back(self):
        r = K.put_record(StreamName="dp", PartitionKey=PLATE, Data=b"speeding")
        self.assertEqual(r["ShardId"], route(PLATE, self.shards))
        self.assertEqual(len(r["SequenceNumber"]), 56)
        recs, _ = read_shard("dp", r["ShardId"])
        mine = [x for x in recs if x["SequenceNumber"] == r["SequenceNumber"]]
        self.assertEqual(mine[0]["Data"], b"speeding")
        self.assertEqual(mine[0]["PartitionKey"], PLATE)
        self.assertIsInstance(mine[0]["ApproximateArrivalTimestamp"], datetime.datetime)
        # ExplicitHashKey: both ends of a shard's range are inclusive
        end0 = self.shards[0]["HashKeyRange"]["EndingHashKey"]
        self.assertEqual(K.put_record(StreamName="dp", PartitionKey="x", Data=b"1", ExplicitHashKey=end0)["ShardId"], "shardId-000000000000")
        self.assertEqual(K.put_record(StreamName="dp", PartitionKey="x", Data=b"1", ExplicitHashKey=str(MAX))["ShardId"], "shardId-000000000002")
        self.assertEqual(error_code(K.put_record, StreamName="dp", PartitionKey="x", Data=b"1", ExplicitHashKey=str(MAX + 1))[0], "InvalidArgumentException")
        # Off the model's pattern `0|([1-9]\d{0,38})`: a shape violation, not a range error.
        self.assertEqual(error_code(K.put_record, StreamName="dp", PartitionKey="x", Data=b"1", ExplicitHashKey="-1")[0], "ValidationException")
        self.assertEqual(error_code(K.put_record, StreamName="dp", PartitionKey="k" * 257, Data=b"1")[0], "ValidationException")
        self.assertEqual(error_code(K.put_record, StreamName="dp", PartitionKey="k", Data=b"x" * (1024 * 1024))[0], "ValidationException")
        self.assertEqual(error_code(K.put_record, StreamName="missing", PartitionKey="k", Data=b"x")[0], "ResourceNotFoundException")
        arn = K.describe_stream_summary(StreamName="dp")["StreamDescriptionSummary"]["StreamARN"]
        self.assertEqual(K.put_record(StreamARN=arn, PartitionKey=PLATE, Data=b"a")["ShardId"], r["ShardId"])

    def test_sequence_number_for_ordering(self):
        a = K.put_record(StreamName="dp", PartitionKey="ord", Data=b"1")
        b = K.put_record(StreamName="dp", PartitionKey="ord", Data=b"2", SequenceNumberForOrdering=a["SequenceNumber"])
        self.assertGreater(int(b["SequenceNumber"]), int(a["SequenceNumber"]))
        self.assertEqual(error_code(K.put_record, StreamName="dp", PartitionKey="ord", Data=b"2", SequenceNumberForOrdering="01")[0], "ValidationException")

    def test_put_records_limits_and_order(self):
        recs = [{"Data": (b"%03d" % i) * 33 + b"!", "PartitionKey": f"{PLATE}-{i % 7}"} for i in range(500)]
        out = K.put_records(StreamName="dp", Records=recs)
        self.assertEqual(out["FailedRecordCount"], 0)
        self.assertEqual(len(out["Records"]), 500)
        for rq, rs in zip(recs, out["Records"]):
            self.assertEqual(rs["ShardId"], route(rq["PartitionKey"], self.shards))
        self.assertEqual(error_code(K.put_records, StreamName="dp", Records=recs + recs[:1])[0], "ValidationException")
        big = [{"Data": b"x" * (1024 * 1024), "PartitionKey": "k"}, {"Data": b"y", "PartitionKey": "k"}]
        self.assertEqual(error_code(K.put_records, StreamName="dp", Records=big)[0], "ValidationException")
        # per-key order when reading each shard
        for shard in {r["ShardId"] for r in out["Records"]}:
            got, _ = read_shard("dp", shard)
            seqs = [int(x["SequenceNumber"]) for x in got]
            self.assertEqual(seqs, sorted(seqs))

    def test_iterators(self):
        sid = route("itkey", self.shards)
        first = K.put_record(StreamName="dp", PartitionKey="itkey", Data=b"a")
        second = K.put_record(StreamName="dp", PartitionKey="itkey", Data=b"b")
        def one(**kw):
            it = K.get_shard_iterator(StreamName="dp", ShardId=sid, **kw)["ShardIterator"]
            return K.get_records(ShardIterator=it, Limit=1)
        self.assertEqual(one(ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=first["SequenceNumber"])["Records"][0]["Data"], b"a")
        self.assertEqual(one(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=first["SequenceNumber"])["Records"][0]["Data"], b"b")
        page = one(ShardIteratorType="TRIM_HORIZON")
        self.assertEqual(len(page["Records"]), 1)
        self.assertIn("MillisBehindLatest", page)
        self.assertEqual(one(ShardIteratorType="LATEST")["Records"], [])
        ts = one(ShardIteratorType="AT_TIMESTAMP", Timestamp=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
        self.assertEqual(len(ts["Records"]), 1)
        self.assertEqual(error_code(K.get_shard_iterator, StreamName="dp", ShardId=sid, ShardIteratorType="BOGUS")[0], "ValidationException")
        self.assertEqual(error_code(K.get_shard_iterator, StreamName="dp", ShardId=sid, ShardIteratorType="AT_SEQUENCE_NUMBER")[0], "InvalidArgumentException")
        other = [s["ShardId"] for s in self.shards if s["ShardId"] != sid][0]
        self.assertEqual(error_code(K.get_shard_iterator, StreamName="dp", ShardId=other, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=first["SequenceNumber"])[0], "InvalidArgumentException")
        self.assertEqual(error_code(K.get_shard_iterator, StreamName="dp", ShardId="shardId-000000000099", ShardIteratorType="LATEST")[0], "ResourceNotFoundException")
        self.assertEqual(error_code(K.get_records, ShardIterator="garbage")[0], "InvalidArgumentException")
        it = K.get_shard_iterator(StreamName="dp", ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        raw = bytearray(base64.b64decode(it))
        raw[20] ^= 1
        self.assertEqual(error_code(K.get_records, ShardIterator=base64.b64encode(bytes(raw)).decode())[0], "InvalidArgumentException")
        self.assertEqual(error_code(K.get_records, ShardIterator=it, Limit=10001)[0], "ValidationException")
        future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        self.assertEqual(error_code(K.get_shard_iterator, StreamName="dp", ShardId=sid, ShardIteratorType="AT_TIMESTAMP", Timestamp=future)[0], "InvalidArgumentException")


class Resharding(unittest.TestCase):
    def test_split_merge_update_keep_per_key_order(self):
        make_stream("rs", 2)
        keys = [f"{PLATE}-{i}" for i in range(16)]
        sent = {k: [] for k in keys}
        def put(tag):
            recs = [{"Data": f"{k}|{tag}".encode(), "PartitionKey": k} for k in keys]
            out = K.put_records(StreamName="rs", Records=recs)
            self.assertEqual(out["FailedRecordCount"], 0)
            for k in keys:
                sent[k].append(tag)
        put(0)
        K.split_shard(StreamName="rs", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**126))
        st = K.describe_stream_summary(StreamName="rs")["StreamDescriptionSummary"]["StreamStatus"]
        self.assertIn(st, ("UPDATING", "ACTIVE"))
        wait_active("rs")
        put(1)
        d = K.describe_stream(StreamName="rs")["StreamDescription"]["Shards"]
        parent = d[0]
        self.assertIn("EndingSequenceNumber", parent["SequenceNumberRange"])
        self.assertEqual(d[2]["ParentShardId"], "shardId-000000000000")
        self.assertEqual(d[2]["HashKeyRange"]["EndingHashKey"], str(2**126 - 1))
        self.assertEqual(d[3]["HashKeyRange"]["StartingHashKey"], str(2**126))
        self.assertEqual(error_code(K.split_shard, StreamName="rs", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**125))[0], "ResourceInUseException")
        self.assertEqual(error_code(K.split_shard, StreamName="rs", ShardToSplit="shardId-000000000001", NewStartingHashKey="1")[0], "InvalidArgumentException")
        self.assertEqual(error_code(K.merge_shards, StreamName="rs", ShardToMerge="shardId-000000000002", AdjacentShardToMerge="shardId-000000000001")[0], "InvalidArgumentException")
        K.merge_shards(StreamName="rs", ShardToMerge="shardId-000000000002", AdjacentShardToMerge="shardId-000000000003")
        wait_active("rs")
        put(2)
        d = K.describe_stream(StreamName="rs")["StreamDescription"]["Shards"]
        self.assertEqual(d[4]["ParentShardId"], "shardId-000000000002")
        self.assertEqual(d[4]["AdjacentParentShardId"], "shardId-000000000003")
        u = K.update_shard_count(StreamName="rs", TargetShardCount=3, ScalingType="UNIFORM_SCALING")
        self.assertEqual((u["CurrentShardCount"], u["TargetShardCount"]), (2, 3))
        wait_active("rs")
        put(3)
        self.assertEqual(error_code(K.update_shard_count, StreamName="rs", TargetShardCount=7, ScalingType="UNIFORM_SCALING")[0], "InvalidArgumentException")
        self.assertEqual(error_code(K.update_shard_count, StreamName="rs", TargetShardCount=2, ScalingType="BOGUS")[0], "ValidationException")
        # closed parent: null NextShardIterator and ChildShards
        _, kids = read_shard("rs", "shardId-000000000000")
        self.assertEqual(sorted(c["ShardId"] for c in kids), ["shardId-000000000002", "shardId-000000000003"])
        self.assertEqual(kids[0]["ParentShards"], ["shardId-000000000000"])
        # read through the lineage: parents before children
        shards = K.list_shards(StreamName="rs")["Shards"]
        parents = {s["ShardId"]: [p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p] for s in shards}
        done, order, got = set(), [], {k: [] for k in keys}
        queue = [s for s, p in parents.items() if not p]
        while queue:
            s = queue.pop(0)
            if s in done:
                continue
            if not all(p in done for p in parents[s]):
                queue.append(s)
                continue
            recs, children = read_shard("rs", s)
            for r in recs:
                k, tag = r["Data"].decode().split("|")
                got[k].append(int(tag))
            done.add(s)
            order.append(s)
            queue.extend(c["ShardId"] for c in (children or []))
        self.assertEqual(len(done), len(shards))
        self.assertEqual(got, sent)
        open_ranges = sorted(
            (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
            for s in K.list_shards(StreamName="rs", ShardFilter={"Type": "AT_LATEST"})["Shards"]
        )
        step = 2**128 // 3
        self.assertEqual(open_ranges, [(0, step - 1), (step, 2 * step - 1), (2 * step, MAX)])


class Wire(unittest.TestCase):
    def test_unknown_operation_bad_body_unsigned(self):
        st, h, body = raw_post("Kinesis_20131202.Bogus", b"{}")
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(body)["__type"], "UnknownOperationException")
        st, h, body = raw_post(None, b"{}")
        self.assertEqual(json.loads(body)["__type"], "UnknownOperationException")
        st, h, body = raw_post("Kinesis_20131202.ListStreams", b"{not json")
        self.assertEqual((st, json.loads(body)["__type"]), (400, "SerializationException"))
        st, h, body = raw_post("Kinesis_20131202.ListStreams", b'{"Limit": "ten"}')
        self.assertEqual(json.loads(body)["__type"], "SerializationException")
        st, h, body = raw_post("Kinesis_20131202.ListStreams", b"{}", signed=False)
        self.assertEqual((st, json.loads(body)["__type"]), (400, "MissingAuthenticationTokenException"))
        st, h, body = raw_post("Kinesis_20131202.ListStreams", b"{}")
        self.assertEqual(st, 200)
        self.assertIn("x-amzn-requestid", {k.lower() for k in h})
        self.assertEqual(h.get("Content-Type") or h.get("content-type"), "application/x-amz-json-1.1")

    def test_cbor(self):
        cb = "application/x-amz-cbor-1.1"
        st, h, body = raw_post("Kinesis_20131202.CreateStream", cbor2.dumps({"StreamName": "cbor1", "ShardCount": 1}), cb)
        self.assertEqual(st, 200, body)
        wait_active("cbor1")
        st, h, body = raw_post("Kinesis_20131202.PutRecord", cbor2.dumps({"StreamName": "cbor1", "PartitionKey": PLATE, "Data": b"\x00\xffbin"}), cb)
        self.assertEqual(st, 200, body)
        self.assertEqual((h.get("Content-Type") or h.get("content-type")), cb)
        put = cbor2.loads(body)
        self.assertEqual(put["ShardId"], "shardId-000000000000")
        # AT_TIMESTAMP with a CBOR tag-1 timestamp (Java SDK style, epoch millis)
        ts = cbor2.CBORTag(1, int((time.time() - 3600) * 1000))
        st, h, body = raw_post("Kinesis_20131202.GetShardIterator", cbor2.dumps({"StreamName": "cbor1", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": ts}), cb)
        self.assertEqual(st, 200, body)
        it = cbor2.loads(body)["ShardIterator"]
        st, h, body = raw_post("Kinesis_20131202.GetRecords", cbor2.dumps({"ShardIterator": it}), cb)
        self.assertEqual(st, 200)
        # Java SDK style: tag 1 around epoch *milliseconds* (cbor2 itself would read seconds)
        marker = cbor2.dumps("ApproximateArrivalTimestamp")
        at = body.index(marker) + len(marker)
        self.assertEqual(body[at], 0xC1)  # tag 1
        millis = cbor2.loads(body[at + 1 : at + 10])
        self.assertLess(abs(millis / 1000 - time.time()), 600)
        raw = cbor2.loads(body.replace(body[at : at + 10], cbor2.dumps(0)))
        rec = raw["Records"][0]
        self.assertEqual(rec["Data"], b"\x00\xffbin")
        self.assertEqual(rec["PartitionKey"], PLATE)
        self.assertEqual(rec["SequenceNumber"], put["SequenceNumber"])
        st, h, body = raw_post("Kinesis_20131202.DescribeStream", cbor2.dumps({"StreamName": "nope"}), cb)
        self.assertEqual((st, cbor2.loads(body)["__type"]), (400, "ResourceNotFoundException"))
        st, h, body = raw_post("Kinesis_20131202.ListStreams", b"\xff\xff", cb)
        self.assertEqual(cbor2.loads(body)["__type"], "SerializationException")


class Cli(unittest.TestCase):
    def aws(self, *args, check=True):
        env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret", AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="")
        p = subprocess.run(["aws", "kinesis", *args, "--endpoint-url", ENDPOINT, "--output", "json"], capture_output=True, text=True, env=env, timeout=60)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
            return json.loads(p.stdout) if p.stdout.strip() else None
        return p

    def test_cli_round_trip(self):
        self.aws("create-stream", "--stream-name", "cli1", "--shard-count", "2")
        wait_active("cli1")
        summ = self.aws("describe-stream-summary", "--stream-name", "cli1")["StreamDescriptionSummary"]
        self.assertEqual(summ["OpenShardCount"], 2)
        put = self.aws("put-record", "--stream-name", "cli1", "--partition-key", PLATE, "--data", "from cli")  # CLI v1 sends blob arguments as-is
        self.assertEqual(put["ShardId"], route(PLATE, K.describe_stream(StreamName="cli1")["StreamDescription"]["Shards"]))
        it = self.aws("get-shard-iterator", "--stream-name", "cli1", "--shard-id", put["ShardId"], "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
        recs = self.aws("get-records", "--shard-iterator", it)["Records"]
        self.assertEqual(base64.b64decode(recs[0]["Data"]), b"from cli")
        self.assertEqual(recs[0]["PartitionKey"], PLATE)
        shards = self.aws("list-shards", "--stream-name", "cli1")["Shards"]
        self.assertEqual(len(shards), 2)
        self.aws("add-tags-to-stream", "--stream-name", "cli1", "--tags", "owner=weir")
        self.assertEqual(self.aws("list-tags-for-stream", "--stream-name", "cli1")["Tags"], [{"Key": "owner", "Value": "weir"}])
        self.aws("split-shard", "--stream-name", "cli1", "--shard-to-split", "shardId-000000000000", "--new-starting-hash-key", str(2**125))
        wait_active("cli1")
        self.assertEqual(len(self.aws("list-shards", "--stream-name", "cli1")["Shards"]), 4)
        p = self.aws("describe-stream", "--stream-name", "no-such-stream", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ResourceNotFoundException", p.stderr)
        p = self.aws("get-shard-iterator", "--stream-name", "cli1", "--shard-id", "shardId-000000000001", "--shard-iterator-type", "BOGUS", check=False)
        self.assertIn("ValidationException", p.stderr)
        self.aws("delete-stream", "--stream-name", "cli1")
        self.assertNotIn("cli1", self.aws("list-streams")["StreamNames"])


@unittest.skipUnless(SERVER_BIN, "WEIR_SERVER_CMD not set")
class Options(unittest.TestCase):
    def test_sigv4_verification(self):
        srv = Server("--verify-key", "AKIDGOOD:goodsecret")
        try:
            good = client(srv.endpoint, "AKIDGOOD", "goodsecret")
            good.create_stream(StreamName="auth", ShardCount=1)
            self.assertIn("auth", good.list_streams()["StreamNames"])
            bad = client(srv.endpoint, "AKIDGOOD", "wrong")
            self.assertEqual(error_code(bad.list_streams)[0], "InvalidSignatureException")
            unknown = client(srv.endpoint, "AKIDNOPE", "x")
            self.assertEqual(error_code(unknown.list_streams)[0], "UnrecognizedClientException")
        finally:
            srv.close()

    def test_hostile_signatures_are_refused_and_the_stream_survives(self):
        srv = Server("--verify-key", "AKIDGOOD:goodsecret")
        try:
            good = client(srv.endpoint, "AKIDGOOD", "goodsecret")
            good.create_stream(StreamName="victim", ShardCount=1)
            delete = "Kinesis_20131202.DeleteStream"
            victim = b'{"StreamName":"victim"}'
            now = datetime.datetime.now(datetime.timezone.utc)

            # A "presigned" query with nothing behind it is not a free pass.
            st, body = send(srv.endpoint + "/?X-Amz-Algorithm=x", victim,
                            {"X-Amz-Target": delete, "Content-Type": "application/x-amz-json-1.1"})
            self.assertEqual((st, body["__type"]), (400, "IncompleteSignatureException"))
            # Unsigned.
            st, body = send(srv.endpoint + "/", victim,
                            {"X-Amz-Target": delete, "Content-Type": "application/x-amz-json-1.1"})
            self.assertEqual(body["__type"], "MissingAuthenticationTokenException")
            # The wrong secret.
            st, body = send(srv.endpoint + "/", victim,
                            sign_at(now, victim, delete, srv.endpoint, secret="wrong"))
            self.assertEqual(body["__type"], "InvalidSignatureException")
            # Signed an hour ago (a captured request replayed), or an hour ahead.
            for delta, words in ((-3600, "Signature expired"), (3600, "Signature not yet current")):
                when = now + datetime.timedelta(seconds=delta)
                st, body = send(srv.endpoint + "/", victim, sign_at(when, victim, delete, srv.endpoint))
                self.assertEqual((st, body["__type"]), (400, "InvalidSignatureException"))
                self.assertIn(words, body["message"])
            # A body swapped under a valid signature.
            decoy = b'{"StreamName":"decoy"}'
            st, body = send(srv.endpoint + "/", victim, sign_at(now, decoy, delete, srv.endpoint))
            self.assertEqual(body["__type"], "InvalidSignatureException")
            # A payload-hash header that names the signed body while another one comes.
            req = AWSRequest(method="POST", url=srv.endpoint + "/", data=decoy, headers={
                "X-Amz-Target": delete, "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Content-SHA256": hashlib.sha256(decoy).hexdigest()})
            SigV4Auth(Credentials("AKIDGOOD", "goodsecret"), "kinesis", "us-east-1").add_auth(req)
            st, body = send(srv.endpoint + "/", victim, dict(req.headers.items()))
            self.assertEqual(body["__type"], "InvalidSignatureException")
            self.assertIn("victim", good.list_streams()["StreamNames"])

            # Positive controls: the same hand signer at the current time, and botocore's own
            # presigned query, verify. (botocore moves a presigned request's body into the
            # query string and signs an empty body; the JSON protocol reads no parameters from
            # the query, so the request gets past authentication and fails validation.)
            describe = "Kinesis_20131202.DescribeStreamSummary"
            st, body = send(srv.endpoint + "/", victim, sign_at(now, victim, describe, srv.endpoint))
            self.assertEqual(st, 200, body)
            req = AWSRequest(method="POST", url=srv.endpoint + "/", data=victim, headers={
                "X-Amz-Target": describe, "Content-Type": "application/x-amz-json-1.1"})
            SigV4QueryAuth(Credentials("AKIDGOOD", "goodsecret"), "kinesis", "us-east-1", expires=300).add_auth(req)
            self.assertIn("X-Amz-Signature=", req.url)
            st, body = send(req.url, b"", dict(req.headers.items()))
            self.assertEqual(st, 400, body)
            self.assertNotIn(body["__type"], ("InvalidSignatureException", "IncompleteSignatureException",
                                              "MissingAuthenticationTokenException"), body)
            self.assertIn("StreamName", body["message"])
            # ... and the same presigned URL with a body it did not sign is refused.
            st, body = send(req.url, victim, dict(req.headers.items()))
            self.assertEqual(body["__type"], "InvalidSignatureException")
            st, body = send(req.url.replace("goodsecret", "x").replace("X-Amz-Expires=300", "X-Amz-Expires=301"),
                            b"", dict(req.headers.items()))
            self.assertEqual(body["__type"], "InvalidSignatureException")
        finally:
            srv.close()

    def test_throughput_emulation(self):
        srv = Server("--throughput-limits")
        try:
            c = client(srv.endpoint)
            c.create_stream(StreamName="thr", ShardCount=1)
            recs = [{"Data": b"x" * 100, "PartitionKey": "k"} for _ in range(500)]
            failed = []
            for _ in range(4):
                out = c.put_records(StreamName="thr", Records=recs)
                failed += [r for r in out["Records"] if "ErrorCode" in r]
            self.assertGreater(len(failed), 0)
            self.assertEqual(failed[0]["ErrorCode"], "ProvisionedThroughputExceededException")
        finally:
            srv.close()

    def test_streams_survive_restart(self):
        d = tempfile.TemporaryDirectory()
        def start():
            p = subprocess.Popen([*SERVER_BIN, "--listen", "127.0.0.1:0", "--dir", d.name, "--transition-ms", "0", "--fsync", "always"], stdout=subprocess.PIPE, text=True)
            return p, "http://" + p.stdout.readline().split()[-1]
        p, ep = start()
        c = client(ep)
        c.create_stream(StreamName="persist", ShardCount=2)
        put = c.put_record(StreamName="persist", PartitionKey=PLATE, Data=b"kept")
        p.terminate()
        p.wait(timeout=10)
        p.stdout.close()
        p, ep = start()
        try:
            c = client(ep)
            it = c.get_shard_iterator(StreamName="persist", ShardId=put["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            recs = c.get_records(ShardIterator=it)["Records"]
            self.assertEqual([(r["Data"], r["SequenceNumber"]) for r in recs], [(b"kept", put["SequenceNumber"])])
            nxt = c.put_record(StreamName="persist", PartitionKey=PLATE, Data=b"more")
            self.assertGreater(int(nxt["SequenceNumber"]), int(put["SequenceNumber"]))
        finally:
            p.terminate()
            p.wait(timeout=10)
            p.stdout.close()
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
