"""Weir's Firehose API (JSON 1.1, `Firehose_20150804.*`) driven by boto3 and the AWS CLI, with
delivery to moto's S3 server.

Run by a Rust harness that starts moto_server and `weir run` and sets:
  WEIR_ENDPOINT  Weir's API (Firehose and Kinesis on one port)
  S3_ENDPOINT    moto's S3, where Weir delivers objects
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION (us-east-1)

Every test makes its own buckets (moto starts empty) and its own delivery stream names, so the
tests do not depend on each other or on their order. Streams that deliver use
`IntervalInSeconds: 0`, so objects are written as soon as records are buffered; every wait is
a poll in 20 ms steps with a deadline (15 s for deliveries), never a fixed sleep.

Delivered objects are compared byte for byte: each record is one line ending in "\\n", so the
objects (after decompression) split back into the records that were sent. Several objects may
be written for one batch, and their keys do not sort in arrival order (a second-resolution time,
then a random UUID), so the checks are: the records of all objects together equal what was sent
(as a multiset), and within each object the records keep the order they were sent in.

Needs boto3, the AWS CLI and cramjam (Snappy framing format).
"""

import collections
import datetime
import gzip
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

try:
    import cramjam
except ImportError:  # reported by the Snappy test, so the other tests still run
    cramjam = None

ENDPOINT = os.environ.get("WEIR_ENDPOINT", "http://127.0.0.1:4567")
S3_ENDPOINT = os.environ.get("S3_ENDPOINT", "http://127.0.0.1:5000")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID", "AKIDTEST")
SECRET = os.environ.get("AWS_SECRET_ACCESS_KEY", "secret")

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/firehose"
DESTINATION_ID = "destinationId-000000000001"
TARGET = "Firehose_20150804"
# Deliver at once: the smallest size hint and no interval.
FAST = {"SizeInMBs": 1, "IntervalInSeconds": 0}
DELIVERY_WAIT = 15.0
STATE_WAIT = 15.0
STEP = 0.02
# BufferingHints outside 1..128 MiB / 0..900 s: the error type this suite's spec asks of Weir
# (a check against the model's ranges, as for other fields, would answer ValidationException).
HINTS_OUT_OF_RANGE = "ValidationException"
# A status read this soon after the change that started a transition (shown ~100 ms) must
# still see the transitional status; a slower read may see either.
TRANSIENT_WINDOW = 0.04

# The repository's copy of the scenario's driver table (this file is host/tests/py/...).
REPO = Path(__file__).resolve().parents[3]
DRIVERS_CSV = REPO / "examples" / "speeding" / "data" / "driver_data.csv"

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Firehose's default prefix: the oldest record's arrival hour, UTC, as YYYY/MM/DD/HH/.
DEFAULT_PREFIX_RE = r"(?P<pY>\d{4})/(?P<pM>\d\d)/(?P<pD>\d\d)/(?P<ph>\d\d)/"
SNAPPY_STREAM_ID = b"\xff\x06\x00\x00sNaPpY"
RUN = uuid.uuid4().hex[:8]


def client(service, endpoint, **config):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )


F = client("firehose", ENDPOINT)
S3 = client("s3", S3_ENDPOINT, s3={"addressing_style": "path"})


# ---------------------------------------------------------------------------------------------
# Requests


def error_code(fn, **kw):
    """The AWS error code and HTTP status of a call that must fail."""
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{getattr(fn, '__name__', fn)} raised no error")


def raw_call(op, payload):
    """POSTs one Firehose request signed with SigV4 but not checked by botocore.

    For the cases botocore refuses client-side (it enforces the model's minimums: an empty
    Records list, SizeInMBs 0). Returns (HTTP status, error type or None, decoded JSON body).
    """
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{TARGET}.{op}"}
    req = AWSRequest(method="POST", url=ENDPOINT + "/", data=body, headers=headers)
    SigV4Auth(Credentials(KEY_ID, SECRET), "firehose", REGION).add_auth(req)
    r = urllib.request.Request(ENDPOINT + "/", data=body, headers=dict(req.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    doc = json.loads(raw or b"{}")
    kind = doc.get("__type")
    # The type may come namespaced ("com.amazonaws...#ValidationException").
    return status, kind.rsplit("#", 1)[-1] if kind else None, doc


def arn_of(name):
    return f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}"


def s3_destination(bucket, **extra):
    """An (Extended)S3DestinationConfiguration for `bucket` plus `extra` fields."""
    d = {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}"}
    d.update(extra)
    return d


def describe(name):
    return F.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]


def poll(read, want, what, timeout=STATE_WAIT):
    """Calls `read()` every 20 ms until it returns `want`; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = read()
        if last == want:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: still {last!r} after {timeout} s, wanted {want!r}")
        time.sleep(STEP)


def wait_active(name):
    poll(lambda: describe(name)["DeliveryStreamStatus"], "ACTIVE", f"delivery stream {name}")


def encryption_status(name):
    return describe(name)["DeliveryStreamEncryptionConfiguration"]["Status"]


def gone(name):
    try:
        describe(name)
    except ClientError as e:
        if e.response["Error"]["Code"] == "ResourceNotFoundException":
            return True
        raise
    return False


def bucket_for(stream):
    """A bucket name of this run, so a moto that outlived an earlier run holds nothing of it."""
    return f"{stream}-{RUN}"


def make_bucket(bucket):
    S3.create_bucket(Bucket=bucket)


def make_stream(name, bucket, create_bucket=True, **dest):
    """A DirectPut stream delivering to `bucket` at once (unless `dest` says otherwise),
    ACTIVE before it returns. The bucket is created in moto first unless told not to."""
    if create_bucket:
        make_bucket(bucket)
    dest.setdefault("BufferingHints", FAST)
    out = F.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=s3_destination(bucket, **dest))
    wait_active(name)
    return out


def assert_transient(test, read, transient, settled, started):
    """Right after a change, `read()` shows `transient`; if the read itself was slow (past
    TRANSIENT_WINDOW), `settled` is accepted too. Then waits for `settled`."""
    first = read()
    if time.monotonic() - started < TRANSIENT_WINDOW:
        test.assertEqual(first, transient)
    else:
        test.assertIn(first, (transient, settled))
    poll(read, settled, f"transition {transient} -> {settled}")


# ---------------------------------------------------------------------------------------------
# Records in, objects out


def json_records(tag, count, start=0):
    """`count` distinct JSON-line records (each ends in "\\n"), numbered from `start`; some
    non-ASCII text so they are bytes, not just ASCII, end to end."""
    return [
        (json.dumps({"src": tag, "seq": i, "plate": "95B\u2022140", "speed": 60 + i % 50, "pad": "x" * (i % 9)},
                    ensure_ascii=False) + "\n").encode()
        for i in range(start, start + count)
    ]


def put_records(test, name, records, batch=100, encrypted=False):
    """Sends `records` in order: the first and the last with PutRecord, the rest with
    PutRecordBatch in chunks of `batch`. Checks every answer; returns the RecordIds."""
    ids = []

    def one(data):
        r = F.put_record(DeliveryStreamName=name, Record={"Data": data})
        test.assertIsInstance(r["RecordId"], str)
        test.assertTrue(r["RecordId"])
        test.assertIs(r["Encrypted"], encrypted)
        ids.append(r["RecordId"])

    if not records:
        return ids
    one(records[0])
    middle = records[1:-1]
    for i in range(0, len(middle), batch):
        chunk = middle[i : i + batch]
        r = F.put_record_batch(DeliveryStreamName=name, Records=[{"Data": d} for d in chunk])
        test.assertEqual(r["FailedPutCount"], 0)
        test.assertIs(r["Encrypted"], encrypted)
        test.assertEqual(len(r["RequestResponses"]), len(chunk))
        for entry in r["RequestResponses"]:
            test.assertNotIn("ErrorCode", entry)
            test.assertIsInstance(entry["RecordId"], str)
            ids.append(entry["RecordId"])
    if len(records) > 1:
        one(records[-1])
    test.assertEqual(len(set(ids)), len(ids), "RecordIds are distinct")
    return ids


def list_keys(bucket, prefix=""):
    keys = []
    for page in S3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def read_object(bucket, key):
    return S3.get_object(Bucket=bucket, Key=key)["Body"].read()


def split_records(body, where):
    """An object's (decompressed) bytes back into its newline-terminated records."""
    parts = body.split(b"\n")
    if parts[-1] != b"":
        raise AssertionError(f"{where}: the object does not end with a whole record: {body[-80:]!r}")
    return [p + b"\n" for p in parts[:-1]]


def identity(body):
    return body


def wait_delivered(bucket, count, prefix="", decode=identity, timeout=DELIVERY_WAIT, skip=()):
    """Polls the bucket until the objects under `prefix` (other than the keys in `skip`) hold
    at least `count` records; returns {key: (raw object bytes, [records])}."""
    seen = {}
    deadline = time.monotonic() + timeout
    while True:
        for key in list_keys(bucket, prefix):
            if key in seen or key in skip:
                continue
            raw = read_object(bucket, key)
            seen[key] = (raw, split_records(decode(raw), f"s3://{bucket}/{key}"))
        have = sum(len(recs) for _, recs in seen.values())
        if have >= count:
            return seen
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"s3://{bucket}/{prefix}: {have} of {count} records after {timeout} s in {sorted(seen)}"
            )
        time.sleep(STEP)


def assert_records(test, objects, sent):
    """All objects together hold exactly the records sent; each object keeps their order."""
    test.assertEqual(len(set(sent)), len(sent), "the test's records are distinct")
    got = [r for _, recs in objects.values() for r in recs]
    test.assertEqual(len(got), len(sent))
    test.assertEqual(collections.Counter(got), collections.Counter(sent))
    position = {r: i for i, r in enumerate(sent)}
    for key, (_, recs) in objects.items():
        order = [position[r] for r in recs]
        test.assertEqual(order, sorted(order), f"{key}: records out of the order they were sent in")


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def key_regex(name, version, prefix_re=DEFAULT_PREFIX_RE, ext=""):
    """PREFIX + NAME-VERSION-YYYY-MM-DD-HH-MM-SS-UUID + extension, the whole key."""
    return re.compile(
        rf"^{prefix_re}{re.escape(name)}-{version}-"
        r"(?P<Y>\d{4})-(?P<M>\d\d)-(?P<D>\d\d)-(?P<h>\d\d)-(?P<m>\d\d)-(?P<s>\d\d)-"
        rf"{UUID_RE}{re.escape(ext)}$"
    )


def check_key(test, key, regex, before, after):
    """`key` matches `regex`; its time (the oldest record's arrival) lies between `before`
    and `after` (a second of slack each side for the truncation to seconds); a default
    prefix (groups pY..ph) names that time's UTC hour. Returns the match."""
    m = regex.match(key)
    test.assertIsNotNone(m, f"{key!r} does not match {regex.pattern}")
    g = m.groupdict()
    stamp = datetime.datetime(int(g["Y"]), int(g["M"]), int(g["D"]), int(g["h"]), int(g["m"]), int(g["s"]),
                              tzinfo=datetime.timezone.utc)
    slack = datetime.timedelta(seconds=1)
    test.assertGreaterEqual(stamp, before.replace(microsecond=0) - slack, key)
    test.assertLessEqual(stamp, after + slack, key)
    if g.get("pY") is not None:
        test.assertEqual((g["pY"], g["pM"], g["pD"], g["ph"]), (g["Y"], g["M"], g["D"], g["h"]), key)
        # The current UTC hour, or the previous one if the test ran across an hour boundary.
        hours = {before.strftime("%Y/%m/%d/%H"), after.strftime("%Y/%m/%d/%H")}
        test.assertIn(f"{g['pY']}/{g['pM']}/{g['pD']}/{g['ph']}", hours, key)
    return m


def gunzip(body):
    return gzip.decompress(body)


def unsnappy(body):
    return bytes(cramjam.snappy.decompress(body))


# ---------------------------------------------------------------------------------------------


class Control(unittest.TestCase):
    """CreateDeliveryStream, DescribeDeliveryStream, ListDeliveryStreams, DeleteDeliveryStream
    and UpdateDestination, without looking at deliveries."""

    def test_create_and_describe_with_defaults(self):
        """A stream created with only a bucket and a role: DirectPut, CREATING then ACTIVE,
        version 1, one S3 destination with the default buffering (5 MiB / 300 s), no
        compression and no encryption."""
        bucket = bucket_for("fh-ctl-defaults")
        before = utc_now()
        out = F.create_delivery_stream(
            DeliveryStreamName="fh-ctl-defaults",
            ExtendedS3DestinationConfiguration=s3_destination(bucket),
        )
        started = time.monotonic()
        self.assertEqual(out["DeliveryStreamARN"], arn_of("fh-ctl-defaults"))
        assert_transient(self, lambda: describe("fh-ctl-defaults")["DeliveryStreamStatus"], "CREATING", "ACTIVE", started)

        d = describe("fh-ctl-defaults")
        self.assertEqual(d["DeliveryStreamName"], "fh-ctl-defaults")
        self.assertEqual(d["DeliveryStreamARN"], arn_of("fh-ctl-defaults"))
        self.assertEqual(d["DeliveryStreamStatus"], "ACTIVE")
        self.assertEqual(d["DeliveryStreamType"], "DirectPut")
        self.assertEqual(d["VersionId"], "1")
        self.assertIsInstance(d["CreateTimestamp"], datetime.datetime)
        self.assertLess(abs((d["CreateTimestamp"] - before).total_seconds()), 60)
        self.assertIs(d["HasMoreDestinations"], False)
        self.assertEqual(d["DeliveryStreamEncryptionConfiguration"]["Status"], "DISABLED")
        self.assertEqual(len(d["Destinations"]), 1)
        dest = d["Destinations"][0]
        self.assertEqual(dest["DestinationId"], DESTINATION_ID)
        for field in ("ExtendedS3DestinationDescription", "S3DestinationDescription"):
            s3 = dest[field]
            self.assertEqual(s3["BucketARN"], f"arn:aws:s3:::{bucket}", field)
            self.assertEqual(s3["RoleARN"], ROLE, field)
            self.assertEqual(s3["BufferingHints"], {"SizeInMBs": 5, "IntervalInSeconds": 300}, field)
            self.assertEqual(s3["CompressionFormat"], "UNCOMPRESSED", field)
            self.assertEqual(s3["EncryptionConfiguration"], {"NoEncryptionConfig": "NoEncryption"}, field)
            self.assertFalse(s3.get("Prefix"), field)
            self.assertFalse(s3.get("ErrorOutputPrefix"), field)

    def test_create_with_settings_and_the_older_s3_configuration(self):
        """Prefix, ErrorOutputPrefix, BufferingHints and CompressionFormat come back in both
        descriptions, whether set through ExtendedS3DestinationConfiguration (with an explicit
        DirectPut type) or the older S3DestinationConfiguration."""
        bucket = bucket_for("fh-ctl-settings")
        settings = {
            "Prefix": "raw/",
            "ErrorOutputPrefix": "failed/",
            "BufferingHints": {"SizeInMBs": 2, "IntervalInSeconds": 60},
            "CompressionFormat": "GZIP",
        }
        F.create_delivery_stream(
            DeliveryStreamName="fh-ctl-extended",
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration=s3_destination(bucket, **settings),
        )
        F.create_delivery_stream(
            DeliveryStreamName="fh-ctl-legacy",
            S3DestinationConfiguration=s3_destination(bucket, **settings),
        )
        for name in ("fh-ctl-extended", "fh-ctl-legacy"):
            wait_active(name)
            d = describe(name)
            self.assertEqual(d["DeliveryStreamType"], "DirectPut", name)
            dest = d["Destinations"][0]
            self.assertEqual(dest["DestinationId"], DESTINATION_ID, name)
            for field in ("ExtendedS3DestinationDescription", "S3DestinationDescription"):
                s3 = dest[field]
                self.assertEqual(s3["BucketARN"], f"arn:aws:s3:::{bucket}", (name, field))
                self.assertEqual(s3["RoleARN"], ROLE, (name, field))
                self.assertEqual(s3["Prefix"], "raw/", (name, field))
                self.assertEqual(s3["ErrorOutputPrefix"], "failed/", (name, field))
                self.assertEqual(s3["BufferingHints"], {"SizeInMBs": 2, "IntervalInSeconds": 60}, (name, field))
                self.assertEqual(s3["CompressionFormat"], "GZIP", (name, field))
                self.assertEqual(s3["EncryptionConfiguration"], {"NoEncryptionConfig": "NoEncryption"}, (name, field))

    def test_create_errors(self):
        """A taken name, a bad name, buffering hints out of range and a prefix with expressions
        but no ErrorOutputPrefix are refused with AWS's error types; nothing refused is made."""
        bucket = bucket_for("fh-ctl-errors")
        F.create_delivery_stream(DeliveryStreamName="fh-ctl-dup", ExtendedS3DestinationConfiguration=s3_destination(bucket))
        self.assertEqual(
            error_code(F.create_delivery_stream, DeliveryStreamName="fh-ctl-dup",
                       ExtendedS3DestinationConfiguration=s3_destination(bucket)),
            ("ResourceInUseException", 400),
        )
        # botocore checks no patterns and no maximums, so these reach Weir.
        for bad in ("bad name!", "x" * 65):
            self.assertEqual(
                error_code(F.create_delivery_stream, DeliveryStreamName=bad,
                           ExtendedS3DestinationConfiguration=s3_destination(bucket)),
                ("ValidationException", 400),
                bad,
            )
        cases = {
            "fh-ctl-size-200": ({"BufferingHints": {"SizeInMBs": 200, "IntervalInSeconds": 60}}, HINTS_OUT_OF_RANGE),
            "fh-ctl-interval-901": ({"BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 901}}, HINTS_OUT_OF_RANGE),
            "fh-ctl-no-error-prefix": ({"Prefix": "data/!{timestamp:yyyy}/"}, "InvalidArgumentException"),
        }
        for name, (extra, code) in cases.items():
            self.assertEqual(
                error_code(F.create_delivery_stream, DeliveryStreamName=name,
                           ExtendedS3DestinationConfiguration=s3_destination(bucket, **extra)),
                (code, 400),
                name,
            )
        # SizeInMBs 0 is under the model's minimum, which botocore enforces: sent raw.
        status, kind, _ = raw_call("CreateDeliveryStream", {
            "DeliveryStreamName": "fh-ctl-size-0",
            "ExtendedS3DestinationConfiguration": s3_destination(bucket, BufferingHints={"SizeInMBs": 0, "IntervalInSeconds": 60}),
        })
        self.assertEqual((status, kind), (400, HINTS_OUT_OF_RANGE))
        for name in [*cases, "fh-ctl-size-0"]:
            self.assertEqual(error_code(F.describe_delivery_stream, DeliveryStreamName=name)[0],
                             "ResourceNotFoundException", name)
        self.assertEqual(error_code(F.describe_delivery_stream, DeliveryStreamName="fh-ctl-never-made"),
                         ("ResourceNotFoundException", 400))

    def test_validation_messages_name_the_dotted_path(self):
        """A violation inside a nested structure is reported as AWS reports it: one list,
        each at its dotted member path."""
        status, kind, doc = raw_call("CreateDeliveryStream", {
            "DeliveryStreamName": "fh-ctl-nested",
            "ExtendedS3DestinationConfiguration": {
                "BucketARN": "arn:aws:s3:::b-nested", "BufferingHints": {"SizeInMBs": 129}},
        })
        self.assertEqual((status, kind), (400, "ValidationException"))
        message = doc.get("message") or doc.get("Message")
        self.assertEqual(message, "2 validation errors detected: "
                         "Value null at 'extendedS3DestinationConfiguration.roleARN' failed to satisfy constraint: Member must not be null; "
                         "Value '129' at 'extendedS3DestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy constraint: "
                         "Member must have value less than or equal to 128")

    def test_settings_weir_can_not_honour_are_refused(self):
        """KMS-encrypted objects and a time zone other than UTC are refused by name rather
        than accepted and ignored; a FileExtension off its pattern is a ValidationException."""
        bucket = bucket_for("fh-ctl-refused")
        for name, extra, code in [
            ("fh-ctl-kms", {"EncryptionConfiguration": {"KMSEncryptionConfig": {
                "AWSKMSKeyARN": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/abc"}}}, "InvalidArgumentException"),
            ("fh-ctl-tz", {"CustomTimeZone": "Asia/Tokyo"}, "InvalidArgumentException"),
            ("fh-ctl-ext", {"FileExtension": "json"}, "ValidationException"),
            ("fh-ctl-ext-upper", {"FileExtension": ".JSON"}, "ValidationException"),
            ("fh-ctl-role", {"RoleARN": "notanarn"}, "ValidationException"),
            ("fh-ctl-role-account", {"RoleARN": "arn:aws:iam::123:role/r"}, "ValidationException"),
        ]:
            self.assertEqual(error_code(F.create_delivery_stream, DeliveryStreamName=name,
                                        ExtendedS3DestinationConfiguration=s3_destination(bucket, **extra)),
                             (code, 400), name)
        F.create_delivery_stream(DeliveryStreamName="fh-ctl-utc", ExtendedS3DestinationConfiguration=s3_destination(
            bucket, CustomTimeZone="UTC", BucketARN=f"arn:aws-cn:s3:::{bucket}", EncryptionConfiguration={"NoEncryptionConfig": "NoEncryption"},
            CloudWatchLoggingOptions={"Enabled": True, "LogGroupName": "g", "LogStreamName": "s"}))
        wait_active("fh-ctl-utc")
        d = F.describe_delivery_stream(DeliveryStreamName="fh-ctl-utc",
                                       ExclusiveStartDestinationId=DESTINATION_ID)["DeliveryStreamDescription"]
        # The only destination is the one to start after: none is left to list.
        self.assertEqual((d["Destinations"], d["HasMoreDestinations"]), ([], False))

    def test_list_sorted_paged_and_filtered(self):
        """ListDeliveryStreams: names sorted; at most 10 by default; Limit and
        ExclusiveStartDeliveryStreamName page; HasMoreDeliveryStreams says whether more follow;
        DeliveryStreamType filters. (Names start with "zzlist-" so they sort after every other
        test's streams, which may exist too.)"""
        names = [f"zzlist-{i:02d}" for i in range(12)]
        for i in (7, 0, 11, 3, 9, 1, 5, 10, 2, 8, 4, 6):  # not created in name order
            F.create_delivery_stream(DeliveryStreamName=names[i],
                                     ExtendedS3DestinationConfiguration=s3_destination(bucket_for("fh-list")))
        page = F.list_delivery_streams(ExclusiveStartDeliveryStreamName="zzlist-")
        self.assertEqual(page["DeliveryStreamNames"], names[:10])
        self.assertIs(page["HasMoreDeliveryStreams"], True)
        page = F.list_delivery_streams(ExclusiveStartDeliveryStreamName="zzlist-09")
        self.assertEqual(page["DeliveryStreamNames"], names[10:])
        self.assertIs(page["HasMoreDeliveryStreams"], False)
        page = F.list_delivery_streams(ExclusiveStartDeliveryStreamName="zzlist-03", Limit=3)
        self.assertEqual(page["DeliveryStreamNames"], names[4:7])
        self.assertIs(page["HasMoreDeliveryStreams"], True)
        page = F.list_delivery_streams(ExclusiveStartDeliveryStreamName="zzlist-10", Limit=1)
        self.assertEqual(page["DeliveryStreamNames"], ["zzlist-11"])
        self.assertIs(page["HasMoreDeliveryStreams"], False)
        # Walking every page from the start: sorted, no repeats, ours all there.
        seen, start = [], None
        for _ in range(1000):
            kw = {"Limit": 4}
            if start is not None:
                kw["ExclusiveStartDeliveryStreamName"] = start
            page = F.list_delivery_streams(**kw)
            seen.extend(page["DeliveryStreamNames"])
            if not page["HasMoreDeliveryStreams"]:
                break
            start = page["DeliveryStreamNames"][-1]
        self.assertEqual(seen, sorted(set(seen)))
        self.assertEqual([n for n in seen if n.startswith("zzlist-")], names)
        direct = F.list_delivery_streams(DeliveryStreamType="DirectPut", ExclusiveStartDeliveryStreamName="zzlist-", Limit=100)
        self.assertEqual(direct["DeliveryStreamNames"], names)
        other = F.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource", Limit=100)
        self.assertFalse([n for n in other["DeliveryStreamNames"] if n.startswith("zzlist-")])

    def test_delete(self):
        """DeleteDeliveryStream: DELETING briefly, then gone from Describe and List; deleting an
        unknown stream is ResourceNotFoundException."""
        make_stream("fh-ctl-delete", bucket_for("fh-ctl-delete"))
        F.delete_delivery_stream(DeliveryStreamName="fh-ctl-delete")
        started = time.monotonic()

        def status():
            try:
                return describe("fh-ctl-delete")["DeliveryStreamStatus"]
            except ClientError as e:
                return e.response["Error"]["Code"]

        assert_transient(self, status, "DELETING", "ResourceNotFoundException", started)
        self.assertTrue(gone("fh-ctl-delete"))
        listed = F.list_delivery_streams(ExclusiveStartDeliveryStreamName="fh-ctl-delete", Limit=100)
        self.assertNotIn("fh-ctl-delete", listed["DeliveryStreamNames"])
        self.assertNotIn("fh-ctl-delete", F.list_delivery_streams(Limit=10000)["DeliveryStreamNames"])
        self.assertEqual(error_code(F.delete_delivery_stream, DeliveryStreamName="fh-ctl-delete"),
                         ("ResourceNotFoundException", 400))
        self.assertEqual(error_code(F.delete_delivery_stream, DeliveryStreamName="fh-ctl-never-made")[0],
                         "ResourceNotFoundException")

    def test_update_destination_versions(self):
        """UpdateDestination: each update raises VersionId by one and merges into the
        destination (unnamed fields are kept); a stale version is
        ConcurrentModificationException, an unknown DestinationId InvalidArgumentException."""
        make_stream("fh-ctl-update", bucket_for("fh-ctl-update"), CompressionFormat="GZIP")
        self.assertEqual(describe("fh-ctl-update")["VersionId"], "1")
        F.update_destination(
            DeliveryStreamName="fh-ctl-update",
            CurrentDeliveryStreamVersionId="1",
            DestinationId=DESTINATION_ID,
            ExtendedS3DestinationUpdate={"Prefix": "v2/"},
        )
        d = describe("fh-ctl-update")
        self.assertEqual(d["VersionId"], "2")
        s3 = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(s3["Prefix"], "v2/")
        self.assertEqual(s3["CompressionFormat"], "GZIP")
        self.assertEqual(s3["BucketARN"], f"arn:aws:s3:::{bucket_for('fh-ctl-update')}")
        self.assertEqual(s3["BufferingHints"], FAST)
        self.assertEqual(d["Destinations"][0]["S3DestinationDescription"]["Prefix"], "v2/")

        self.assertEqual(
            error_code(F.update_destination, DeliveryStreamName="fh-ctl-update", CurrentDeliveryStreamVersionId="1",
                       DestinationId=DESTINATION_ID, ExtendedS3DestinationUpdate={"Prefix": "stale/"}),
            ("ConcurrentModificationException", 400),
        )
        self.assertEqual(
            error_code(F.update_destination, DeliveryStreamName="fh-ctl-update", CurrentDeliveryStreamVersionId="2",
                       DestinationId="destinationId-000000000002", ExtendedS3DestinationUpdate={"Prefix": "other/"}),
            ("InvalidArgumentException", 400),
        )
        d = describe("fh-ctl-update")
        self.assertEqual(d["VersionId"], "2")
        self.assertEqual(d["Destinations"][0]["ExtendedS3DestinationDescription"]["Prefix"], "v2/")

        F.update_destination(
            DeliveryStreamName="fh-ctl-update",
            CurrentDeliveryStreamVersionId="2",
            DestinationId=DESTINATION_ID,
            ExtendedS3DestinationUpdate={"CompressionFormat": "Snappy"},
        )
        d = describe("fh-ctl-update")
        self.assertEqual(d["VersionId"], "3")
        s3 = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual((s3["Prefix"], s3["CompressionFormat"]), ("v2/", "Snappy"))


class Limits(unittest.TestCase):
    """PutRecord and PutRecordBatch answers and Firehose's limits: 500 records, 1,000 KiB per
    record, 4 MiB per batch."""

    @classmethod
    def setUpClass(cls):
        make_stream("fh-limits", bucket_for("fh-limits"))

    def test_put_answers(self):
        """PutRecord answers a RecordId and Encrypted false; PutRecordBatch of the maximum 500
        records answers FailedPutCount 0 and one distinct RecordId per record, in order."""
        r = F.put_record(DeliveryStreamName="fh-limits", Record={"Data": b"one\n"})
        self.assertIsInstance(r["RecordId"], str)
        self.assertTrue(r["RecordId"])
        self.assertIs(r["Encrypted"], False)
        records = json_records("limits", 500)
        b = F.put_record_batch(DeliveryStreamName="fh-limits", Records=[{"Data": d} for d in records])
        self.assertEqual(b["FailedPutCount"], 0)
        self.assertIs(b["Encrypted"], False)
        self.assertEqual(len(b["RequestResponses"]), 500)
        ids = [e["RecordId"] for e in b["RequestResponses"]]
        self.assertTrue(all(isinstance(i, str) and i for i in ids))
        self.assertEqual(len(set(ids + [r["RecordId"]])), 501)

    def test_record_count_and_size_limits(self):
        """501 records and an empty Records list are ValidationException; a record of 1,024,001
        bytes is ValidationException (1,024,000 is accepted); a batch over 4 MiB is
        InvalidArgumentException (4,000,000 bytes is accepted)."""
        code = error_code(F.put_record_batch, DeliveryStreamName="fh-limits", Records=[{"Data": b"x\n"}] * 501)
        self.assertEqual(code, ("ValidationException", 400))
        # botocore enforces the list's minimum of 1: sent raw.
        status, kind, _ = raw_call("PutRecordBatch", {"DeliveryStreamName": "fh-limits", "Records": []})
        self.assertEqual((status, kind), (400, "ValidationException"))

        too_big = b"x" * 1_024_001
        self.assertEqual(error_code(F.put_record, DeliveryStreamName="fh-limits", Record={"Data": too_big}),
                         ("ValidationException", 400))
        self.assertEqual(
            error_code(F.put_record_batch, DeliveryStreamName="fh-limits", Records=[{"Data": b"ok\n"}, {"Data": too_big}]),
            ("ValidationException", 400),
        )
        r = F.put_record(DeliveryStreamName="fh-limits", Record={"Data": b"y" * 1_024_000})
        self.assertTrue(r["RecordId"])

        five = [{"Data": b"z" * 1_000_000} for _ in range(5)]
        self.assertEqual(error_code(F.put_record_batch, DeliveryStreamName="fh-limits", Records=five),
                         ("InvalidArgumentException", 400))
        b = F.put_record_batch(DeliveryStreamName="fh-limits", Records=five[:4])
        self.assertEqual((b["FailedPutCount"], len(b["RequestResponses"])), (0, 4))

    def test_unknown_stream(self):
        """Putting to a stream that does not exist is ResourceNotFoundException."""
        self.assertEqual(error_code(F.put_record, DeliveryStreamName="fh-no-such", Record={"Data": b"x\n"}),
                         ("ResourceNotFoundException", 400))
        self.assertEqual(
            error_code(F.put_record_batch, DeliveryStreamName="fh-no-such", Records=[{"Data": b"x\n"}]),
            ("ResourceNotFoundException", 400),
        )


class Delivery(unittest.TestCase):
    """Records reach S3 byte for byte, named as Firehose names objects."""

    def test_records_arrive_with_the_default_prefix(self):
        """Records from PutRecord and PutRecordBatch arrive concatenated as sent, in objects
        named YYYY/MM/DD/HH/NAME-1-YYYY-MM-DD-HH-MM-SS-UUID (the oldest record's arrival, UTC,
        this hour), with no extension."""
        name, bucket = "fh-plain", bucket_for("fh-plain")
        make_stream(name, bucket)
        records = json_records(name, 320)
        before = utc_now()
        put_records(self, name, records, batch=150)
        objects = wait_delivered(bucket, len(records))
        after = utc_now()
        assert_records(self, objects, records)
        regex = key_regex(name, 1)
        for key in objects:
            check_key(self, key, regex, before, after)

    def test_objects_keep_to_the_size_hint(self):
        """SizeInMBs is an upper bound on objects even when one call brings more: 3.9 MB in one
        PutRecordBatch to a 1 MiB stream becomes objects of at most 1 MiB, every record in one
        of them, in order."""
        name, bucket = "fh-size-hint", bucket_for("fh-size-hint")
        make_stream(name, bucket, BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
        records = [(f"{i:04d}".encode() + b"x" * 99_995 + b"\n") for i in range(39)]
        out = F.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
        self.assertEqual(out["FailedPutCount"], 0)
        # 39 x 100,000 bytes: whatever part of them waits for the 60 s interval is flushed by
        # one more MiB of records.
        tail = [(f"t{i:03d}".encode() + b"y" * 99_995 + b"\n") for i in range(11)]
        F.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in tail])
        objects = wait_delivered(bucket, len(records) + len(tail))
        for key, (raw, _) in objects.items():
            self.assertLessEqual(len(raw), 1024 * 1024, key)
        got = [r for _, (_, recs) in sorted(objects.items(), key=lambda kv: kv[1][1][0]) for r in recs]
        # Compared by their first bytes: a failing assertEqual would diff 100 kB strings.
        self.assertEqual([r[:4] for r in got], [r[:4] for r in records + tail])
        self.assertTrue(got == records + tail, "the records' bytes differ from what was sent")

    def test_custom_timestamp_prefixes(self):
        """A prefix with !{timestamp:...} expressions (and an ErrorOutputPrefix, which it needs)
        is evaluated at the oldest record's arrival; no time folders are added to it. Nothing
        lands under the error prefix."""
        before = utc_now()
        make_stream("fh-prefix-year", bucket_for("fh-prefix"), Prefix="data/!{timestamp:yyyy}/", ErrorOutputPrefix="errors/")
        make_stream("fh-prefix-day", bucket_for("fh-prefix-day"),
                    Prefix="daily/!{timestamp:yyyy/MM/dd}/hour=!{timestamp:HH}/", ErrorOutputPrefix="errors/")
        s3 = describe("fh-prefix-year")["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual((s3["Prefix"], s3["ErrorOutputPrefix"]), ("data/!{timestamp:yyyy}/", "errors/"))

        year_records = json_records("year", 40)
        day_records = json_records("day", 40)
        put_records(self, "fh-prefix-year", year_records, batch=20)
        put_records(self, "fh-prefix-day", day_records, batch=20)
        year_objects = wait_delivered(bucket_for("fh-prefix"), len(year_records))
        day_objects = wait_delivered(bucket_for("fh-prefix-day"), len(day_records))
        after = utc_now()
        assert_records(self, year_objects, year_records)
        assert_records(self, day_objects, day_records)

        years = {str(before.year), str(after.year)}
        year_regex = key_regex("fh-prefix-year", 1, prefix_re=r"data/(?P<yr>\d{4})/")
        for key in year_objects:
            m = check_key(self, key, year_regex, before, after)
            self.assertIn(m["yr"], years, key)
            self.assertEqual(m["yr"], m["Y"], key)
        day_regex = key_regex("fh-prefix-day", 1,
                              prefix_re=r"daily/(?P<dY>\d{4})/(?P<dM>\d\d)/(?P<dD>\d\d)/hour=(?P<dh>\d\d)/")
        for key in day_objects:
            m = check_key(self, key, day_regex, before, after)
            self.assertEqual((m["dY"], m["dM"], m["dD"], m["dh"]), (m["Y"], m["M"], m["D"], m["h"]), key)
        self.assertEqual(list_keys(bucket_for("fh-prefix"), "errors/"), [])
        self.assertEqual(list_keys(bucket_for("fh-prefix-day"), "errors/"), [])

    def test_java_date_time_formatter_patterns(self):
        """Timestamp patterns are Java's DateTimeFormatter's (two-digit years, unpadded and
        named months, day of year), rendered in UTC; a letter it would format by locale rules
        (week-based year `YYYY`) is refused at create."""
        name, bucket = "fh-prefix-java", bucket_for("fh-prefix-java")
        make_stream(name, bucket, Prefix="j/!{timestamp:yy}/!{timestamp:M-MMM-MMMM}/!{timestamp:D}/", ErrorOutputPrefix="errors/")
        before = utc_now()
        records = json_records(name, 10)
        put_records(self, name, records, batch=10)
        objects = wait_delivered(bucket, len(records))
        after = utc_now()
        want = {f"j/{t:%y}/{t.month}-{t:%b}-{t:%B}/{t.timetuple().tm_yday}/" for t in (before, after)}
        for key in objects:
            self.assertIn(key[: key.rindex("/") + 1], want, key)
        self.assertEqual(error_code(F.create_delivery_stream, DeliveryStreamName="fh-prefix-week",
                                    ExtendedS3DestinationConfiguration=s3_destination(
                                        bucket, Prefix="w/!{timestamp:YYYY}/", ErrorOutputPrefix="errors/"))[0],
                         "InvalidArgumentException")

    def test_update_destination_applies_to_later_objects(self):
        """After UpdateDestination to Prefix "v2/", records sent afterwards land under
        v2/YYYY/MM/DD/HH/ in objects whose names carry version 2; the earlier objects stay
        where they were, with version 1."""
        name, bucket = "fh-update", bucket_for("fh-update")
        make_stream(name, bucket)
        first = json_records("first", 60)
        before = utc_now()
        put_records(self, name, first, batch=25)
        old = wait_delivered(bucket, len(first))
        assert_records(self, old, first)
        F.update_destination(
            DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId="1",
            DestinationId=DESTINATION_ID,
            ExtendedS3DestinationUpdate={"Prefix": "v2/"},
        )
        self.assertEqual(describe(name)["VersionId"], "2")
        second = json_records("second", 60, start=60)
        put_records(self, name, second, batch=25)
        new = wait_delivered(bucket, len(second), prefix="v2/")
        after = utc_now()
        assert_records(self, new, second)
        for key in new:
            check_key(self, key, key_regex(name, 2, prefix_re="v2/" + DEFAULT_PREFIX_RE), before, after)
        for key in old:
            check_key(self, key, key_regex(name, 1), before, after)
        # Nothing else was written: every object is one of the two sets.
        self.assertEqual(sorted(list_keys(bucket)), sorted([*old, *new]))

    def test_acknowledged_records_wait_for_a_missing_bucket(self):
        """A stream whose bucket does not exist yet still acknowledges PutRecordBatch (the
        records are durable in Weir's buffer); once the bucket is made, Weir's retries deliver
        them. A second stream with a bucket is the witness that delivery has been running (so
        the first attempts really met a missing bucket)."""
        name, bucket = "fh-late-bucket", bucket_for("fh-late-bucket")
        make_stream(name, bucket, create_bucket=False)
        make_stream("fh-late-witness", bucket_for("fh-late-witness"))
        records = json_records("late", 50)
        before = utc_now()
        put_records(self, name, records, batch=20)
        witness = json_records("witness", 3)
        put_records(self, "fh-late-witness", witness)
        assert_records(self, wait_delivered(bucket_for("fh-late-witness"), len(witness)), witness)
        self.assertNotIn(bucket, [b["Name"] for b in S3.list_buckets()["Buckets"]])
        make_bucket(bucket)
        objects = wait_delivered(bucket, len(records))
        after = utc_now()
        assert_records(self, objects, records)
        for key in objects:
            check_key(self, key, key_regex(name, 1), before, after)


class Compression(unittest.TestCase):
    """GZIP, ZIP, Snappy (the framing format) and HADOOP_SNAPPY objects, with their
    extensions."""

    def test_gzip(self):
        """GZIP: objects end in .gz, are gzip streams, and gunzip to the records."""
        name, bucket = "fh-gzip", bucket_for("fh-gzip")
        make_stream(name, bucket, CompressionFormat="GZIP")
        records = json_records(name, 200)
        before = utc_now()
        put_records(self, name, records, batch=80)
        objects = wait_delivered(bucket, len(records), decode=gunzip)
        after = utc_now()
        assert_records(self, objects, records)
        for key, (raw, _) in objects.items():
            check_key(self, key, key_regex(name, 1, ext=".gz"), before, after)
            self.assertEqual(raw[:2], b"\x1f\x8b", key)

    def test_snappy(self):
        """Snappy: objects end in .snappy, start with the framing format's stream identifier
        and decompress (framed) to the records."""
        self.assertIsNotNone(cramjam, "the Snappy test needs cramjam (pip install cramjam)")
        name, bucket = "fh-snappy", bucket_for("fh-snappy")
        make_stream(name, bucket, CompressionFormat="Snappy")
        records = json_records(name, 200)
        before = utc_now()
        put_records(self, name, records, batch=80)
        objects = wait_delivered(bucket, len(records), decode=unsnappy)
        after = utc_now()
        assert_records(self, objects, records)
        for key, (raw, _) in objects.items():
            check_key(self, key, key_regex(name, 1, ext=".snappy"), before, after)
            self.assertEqual(raw[: len(SNAPPY_STREAM_ID)], SNAPPY_STREAM_ID, key)

    def test_zip(self):
        """ZIP: objects end in .zip and hold one deflated file, named after the object, with
        the records."""
        import io
        import zipfile
        name, bucket = "fh-zip", bucket_for("fh-zip")
        make_stream(name, bucket, CompressionFormat="ZIP")

        def unzip(body):
            with zipfile.ZipFile(io.BytesIO(body)) as z:
                (info,) = z.infolist()
                self.assertEqual(info.compress_type, zipfile.ZIP_DEFLATED)
                return z.read(info)

        records = json_records(name, 120)
        before = utc_now()
        put_records(self, name, records, batch=60)
        objects = wait_delivered(bucket, len(records), decode=unzip)
        after = utc_now()
        assert_records(self, objects, records)
        for key, (raw, _) in objects.items():
            check_key(self, key, key_regex(name, 1, ext=".zip"), before, after)
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                self.assertEqual(z.namelist(), [key.rsplit("/", 1)[1][: -len(".zip")]])

    def test_hadoop_snappy(self):
        """HADOOP_SNAPPY: objects end in .snappy and are Hadoop's Snappy blocks (uncompressed
        length, compressed length, raw Snappy), each block at most 256 KiB."""
        self.assertIsNotNone(cramjam, "the Snappy test needs cramjam (pip install cramjam)")
        name, bucket = "fh-hadoop-snappy", bucket_for("fh-hadoop-snappy")
        make_stream(name, bucket, CompressionFormat="HADOOP_SNAPPY")

        def unhadoop(body):
            out, i = b"", 0
            while i < len(body):
                block, chunk = int.from_bytes(body[i:i + 4], "big"), int.from_bytes(body[i + 4:i + 8], "big")
                self.assertLessEqual(block, 256 * 1024)
                plain = bytes(cramjam.snappy.decompress_raw(body[i + 8:i + 8 + chunk]))
                self.assertEqual(len(plain), block)
                out, i = out + plain, i + 8 + chunk
            return out

        records = json_records(name, 120)
        put_records(self, name, records, batch=60)
        objects = wait_delivered(bucket, len(records), decode=unhadoop)
        assert_records(self, objects, records)
        for key in objects:
            self.assertTrue(key.endswith(".snappy"), key)

    def test_file_extension_replaces_the_compression_extension(self):
        """FileExtension replaces the extension of data objects (here GZIP's .gz); Describe
        shows it."""
        name, bucket = "fh-file-ext", bucket_for("fh-file-ext")
        make_stream(name, bucket, CompressionFormat="GZIP", FileExtension=".json.gz.custom")
        ext = describe(name)["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(ext["FileExtension"], ".json.gz.custom")
        records = json_records(name, 20)
        before = utc_now()
        put_records(self, name, records, batch=20)
        objects = wait_delivered(bucket, len(records), decode=gunzip)
        after = utc_now()
        assert_records(self, objects, records)
        for key in objects:
            check_key(self, key, key_regex(name, 1, ext=".json.gz.custom"), before, after)

    def test_update_to_gzip(self):
        """An UNCOMPRESSED stream updated to GZIP: objects before the update are plain with
        no extension and version 1, those after are .gz with version 2."""
        name, bucket = "fh-to-gzip", bucket_for("fh-to-gzip")
        make_stream(name, bucket)
        before = utc_now()
        plain = json_records("plain", 30)
        put_records(self, name, plain, batch=10)
        old = wait_delivered(bucket, len(plain))
        assert_records(self, old, plain)
        F.update_destination(
            DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId="1",
            DestinationId=DESTINATION_ID,
            ExtendedS3DestinationUpdate={"CompressionFormat": "GZIP"},
        )
        packed = json_records("packed", 30, start=30)
        put_records(self, name, packed, batch=10)
        new = wait_delivered(bucket, len(packed), decode=gunzip, skip=set(old))
        after = utc_now()
        assert_records(self, new, packed)
        for key in old:
            check_key(self, key, key_regex(name, 1), before, after)
        for key in new:
            check_key(self, key, key_regex(name, 2, ext=".gz"), before, after)


class Encryption(unittest.TestCase):
    """Start/StopDeliveryStreamEncryption: the status moves through ENABLING/DISABLING and
    PutRecord's Encrypted flag follows; the data reaches S3 unchanged."""

    def test_start_and_stop(self):
        name, bucket = "fh-encrypt", bucket_for("fh-encrypt")
        make_stream(name, bucket)
        self.assertEqual(encryption_status(name), "DISABLED")
        self.assertEqual(
            error_code(F.start_delivery_stream_encryption, DeliveryStreamName=name,
                       DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK"}),
            ("InvalidArgumentException", 400),
        )
        self.assertEqual(encryption_status(name), "DISABLED")

        F.start_delivery_stream_encryption(
            DeliveryStreamName=name, DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"}
        )
        started = time.monotonic()
        assert_transient(self, lambda: encryption_status(name), "ENABLING", "ENABLED", started)
        enc = describe(name)["DeliveryStreamEncryptionConfiguration"]
        self.assertEqual(enc.get("KeyType", "AWS_OWNED_CMK"), "AWS_OWNED_CMK")
        secret = json_records("sealed", 20)
        put_records(self, name, secret, batch=10, encrypted=True)
        objects = wait_delivered(bucket, len(secret))
        assert_records(self, objects, secret)

        F.stop_delivery_stream_encryption(DeliveryStreamName=name)
        started = time.monotonic()
        assert_transient(self, lambda: encryption_status(name), "DISABLING", "DISABLED", started)
        opened = json_records("open", 20, start=20)
        put_records(self, name, opened, batch=10, encrypted=False)
        more = wait_delivered(bucket, len(opened), skip=set(objects))
        assert_records(self, more, opened)


class Tags(unittest.TestCase):
    """TagDeliveryStream, UntagDeliveryStream, ListTagsForDeliveryStream, and tags given at
    creation; at most 50 tags per stream."""

    def test_tag_untag_list(self):
        """Tags from CreateDeliveryStream and TagDeliveryStream are listed by key; a tag given
        again replaces its value; Limit and ExclusiveStartTagKey page, HasMoreTags says whether
        more follow; UntagDeliveryStream removes."""
        F.create_delivery_stream(
            DeliveryStreamName="fh-tags",
            ExtendedS3DestinationConfiguration=s3_destination(bucket_for("fh-tags")),
            Tags=[{"Key": "team", "Value": "traffic"}],
        )
        wait_active("fh-tags")
        t = F.list_tags_for_delivery_stream(DeliveryStreamName="fh-tags")
        self.assertEqual(t["Tags"], [{"Key": "team", "Value": "traffic"}])
        self.assertIs(t["HasMoreTags"], False)
        F.tag_delivery_stream(DeliveryStreamName="fh-tags", Tags=[
            {"Key": "env", "Value": "test"}, {"Key": "owner", "Value": "weir"}, {"Key": "team", "Value": "speeding"},
        ])
        t = F.list_tags_for_delivery_stream(DeliveryStreamName="fh-tags")
        self.assertEqual(t["Tags"], [
            {"Key": "env", "Value": "test"}, {"Key": "owner", "Value": "weir"}, {"Key": "team", "Value": "speeding"},
        ])
        self.assertIs(t["HasMoreTags"], False)
        t = F.list_tags_for_delivery_stream(DeliveryStreamName="fh-tags", Limit=2)
        self.assertEqual([x["Key"] for x in t["Tags"]], ["env", "owner"])
        self.assertIs(t["HasMoreTags"], True)
        t = F.list_tags_for_delivery_stream(DeliveryStreamName="fh-tags", ExclusiveStartTagKey="owner")
        self.assertEqual(t["Tags"], [{"Key": "team", "Value": "speeding"}])
        self.assertIs(t["HasMoreTags"], False)
        t = F.list_tags_for_delivery_stream(DeliveryStreamName="fh-tags", ExclusiveStartTagKey="env", Limit=1)
        self.assertEqual(t["Tags"], [{"Key": "owner", "Value": "weir"}])
        self.assertIs(t["HasMoreTags"], True)
        F.untag_delivery_stream(DeliveryStreamName="fh-tags", TagKeys=["env", "team"])
        t = F.list_tags_for_delivery_stream(DeliveryStreamName="fh-tags")
        self.assertEqual(t["Tags"], [{"Key": "owner", "Value": "weir"}])
        self.assertIs(t["HasMoreTags"], False)
        # Keys and values outside AWS's tag patterns, and the reserved aws: prefix.
        for tag in [{"Key": "bad#key!", "Value": "v"}, {"Key": "aws:owner", "Value": "v"}, {"Key": "k", "Value": "semi;colon"}]:
            self.assertEqual(error_code(F.tag_delivery_stream, DeliveryStreamName="fh-tags", Tags=[tag]),
                             ("ValidationException", 400), tag)
        F.tag_delivery_stream(DeliveryStreamName="fh-tags", Tags=[{"Key": "Größe 1/2", "Value": "a b_c.d:e/f=g+h-i@j%"}])

    def test_more_than_fifty_tags_is_limit_exceeded(self):
        """A stream may hold 50 tags; a TagDeliveryStream that would make 51 is
        LimitExceededException and changes nothing; replacing a value at 50 is fine."""
        F.create_delivery_stream(
            DeliveryStreamName="fh-tag-limit",
            ExtendedS3DestinationConfiguration=s3_destination(bucket_for("fh-tag-limit")),
            Tags=[{"Key": "k00", "Value": "v"}],
        )
        wait_active("fh-tag-limit")
        F.tag_delivery_stream(DeliveryStreamName="fh-tag-limit",
                              Tags=[{"Key": f"k{i:02d}", "Value": "v"} for i in range(1, 50)])
        self.assertEqual(len(F.list_tags_for_delivery_stream(DeliveryStreamName="fh-tag-limit", Limit=50)["Tags"]), 50)
        self.assertEqual(
            error_code(F.tag_delivery_stream, DeliveryStreamName="fh-tag-limit", Tags=[{"Key": "k50", "Value": "v"}]),
            ("LimitExceededException", 400),
        )
        t = F.list_tags_for_delivery_stream(DeliveryStreamName="fh-tag-limit", Limit=50)
        self.assertEqual([x["Key"] for x in t["Tags"]], [f"k{i:02d}" for i in range(50)])
        self.assertIs(t["HasMoreTags"], False)
        F.tag_delivery_stream(DeliveryStreamName="fh-tag-limit", Tags=[{"Key": "k00", "Value": "changed"}])
        t = F.list_tags_for_delivery_stream(DeliveryStreamName="fh-tag-limit", Limit=1)
        self.assertEqual(t["Tags"], [{"Key": "k00", "Value": "changed"}])
        self.assertIs(t["HasMoreTags"], True)


class Cli(unittest.TestCase):
    """The AWS CLI against Weir's Firehose: the scenario's driver table, line by line."""

    def aws(self, *args, check=True):
        env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET,
                   AWS_DEFAULT_REGION=REGION, AWS_PAGER="")
        p = subprocess.run(["aws", "firehose", *args, "--endpoint-url", ENDPOINT, "--output", "json"],
                           capture_output=True, text=True, env=env, timeout=120)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
            return json.loads(p.stdout) if p.stdout.strip() else None
        return p

    @staticmethod
    def cli_v2():
        p = subprocess.run(["aws", "--version"], capture_output=True, text=True, timeout=60)
        return (p.stdout + p.stderr).strip().startswith("aws-cli/2")

    def test_put_record_batch_from_the_driver_csv(self):
        """`aws firehose put-record-batch --records file://...` with every line of
        examples/speeding/data/driver_data.csv (header too) as a record ending in "\\n": the
        CLI's answers count every record, and the objects in S3 hold exactly those lines."""
        name, bucket = "fh-cli-drivers", bucket_for("fh-cli-drivers")
        make_stream(name, bucket)
        d = self.aws("describe-delivery-stream", "--delivery-stream-name", name)["DeliveryStreamDescription"]
        self.assertEqual((d["DeliveryStreamName"], d["DeliveryStreamStatus"]), (name, "ACTIVE"))
        self.assertIn(name, self.aws("list-delivery-streams", "--limit", "10000")["DeliveryStreamNames"])

        lines = [ln for ln in DRIVERS_CSV.read_text(encoding="utf-8").splitlines() if ln]
        self.assertGreater(len(lines), 500, DRIVERS_CSV)
        self.assertTrue(lines[0].startswith("first_name,"), lines[0])
        records = [(ln + "\n").encode("utf-8") for ln in lines]
        # CLI v1 sends a blob given as JSON text as that text (as put-record --data in
        # test_kinesis.py); v2 needs raw-in-base64-out for the same.
        binary = ["--cli-binary-format", "raw-in-base64-out"] if self.cli_v2() else []
        before = utc_now()
        with tempfile.TemporaryDirectory() as tmp:
            for n, i in enumerate(range(0, len(lines), 500)):
                chunk = lines[i : i + 500]
                path = Path(tmp) / f"records-{n}.json"
                path.write_text(json.dumps([{"Data": ln + "\n"} for ln in chunk]), encoding="utf-8")
                out = self.aws("put-record-batch", "--delivery-stream-name", name, "--records", f"file://{path}", *binary)
                self.assertEqual(out["FailedPutCount"], 0)
                self.assertEqual(len(out["RequestResponses"]), len(chunk))
                self.assertTrue(all(e.get("RecordId") for e in out["RequestResponses"]))
        objects = wait_delivered(bucket, len(records))
        after = utc_now()
        assert_records(self, objects, records)
        for key in objects:
            check_key(self, key, key_regex(name, 1), before, after)

        p = self.aws("put-record-batch", "--delivery-stream-name", "fh-cli-no-such",
                     "--records", '[{"Data": "x"}]', *binary, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ResourceNotFoundException", p.stderr)


if __name__ == "__main__":
    unittest.main()
