"""Weir's Firehose beyond plain S3 delivery, driven by boto3: transformation by a transformer
plugin (Firehose's Lambda contract, every result kind), dynamic partitioning with IoT SQL,
record format conversion to Parquet (read back with pyarrow), a Kinesis stream as the source,
and the HTTP endpoint destination (a real HTTP server on loopback, Firehose's request format).

Run by the same harness as test_firehose.py (which see), with a config that loads the
blueprint plugins `apache-log-to-json` and `speed-limit` (a filter, not a transformer) and
declares the table `weir.cars`:
  columns = ["car string", "speed double", "seen timestamp", "laps bigint", "ok boolean"]
"""

import base64
import gzip
import http.server
import io
import json
import re
import threading
import time
import unittest

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from test_firehose import (
    ACCOUNT, DELIVERY_WAIT, ENDPOINT, F, FAST, KEY_ID, REGION, ROLE, SECRET, STEP, bucket_for,
    error_code, list_keys, make_bucket, read_object, s3_destination, wait_active,
)

try:
    import pyarrow.parquet as pq
except ImportError:  # reported by the Parquet test
    pq = None

K = boto3.client("kinesis", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id=KEY_ID,
                 aws_secret_access_key=SECRET, config=Config(retries={"max_attempts": 1}))
LAMBDA = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
ERRORS = "errors/!{firehose:error-output-type}/"


def lambda_processing(function, retries=None):
    params = [{"ParameterName": "LambdaArn", "ParameterValue": LAMBDA + function}]
    if retries is not None:
        params.append({"ParameterName": "NumberOfRetries", "ParameterValue": str(retries)})
    return {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": params}]}


def objects_under(bucket, prefix, want, timeout=DELIVERY_WAIT):
    """Polls until at least `want` objects exist under `prefix`; returns {key: bytes}."""
    deadline = time.monotonic() + timeout
    while True:
        keys = list_keys(bucket, prefix)
        if len(keys) >= want:
            return {k: read_object(bucket, k) for k in keys}
        if time.monotonic() >= deadline:
            raise AssertionError(f"s3://{bucket}/{prefix}: {len(keys)} of {want} objects after {timeout} s")
        time.sleep(STEP)


def json_docs(body):
    """Concatenated JSON documents (with or without newlines between them)."""
    dec, i, out, text = json.JSONDecoder(), 0, [], body.decode("utf-8")
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            break
        doc, i = dec.raw_decode(text, i)
        out.append(doc)
    return out


def error_lines(bodies):
    return [json.loads(line) for body in bodies for line in body.decode().splitlines() if line]


def kinesis_stream(name, shards):
    """Creates a Kinesis stream on Weir and returns its ARN once it is ACTIVE."""
    K.create_stream(StreamName=name, ShardCount=shards)
    deadline = time.monotonic() + 15
    while True:
        summary = K.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return summary["StreamARN"]
        if time.monotonic() >= deadline:
            raise AssertionError(f"Kinesis stream {name} is not ACTIVE after 15 s")
        time.sleep(STEP)


def create(name, bucket, **dest):
    make_bucket(bucket)
    dest.setdefault("BufferingHints", FAST)
    F.create_delivery_stream(DeliveryStreamName=name,
                             ExtendedS3DestinationConfiguration=s3_destination(bucket, **dest))
    wait_active(name)


class Transformation(unittest.TestCase):
    """ProcessingConfiguration with a Lambda processor runs the transformer plugin its ARN
    names: Ok records are delivered as the plugin made them, Dropped ones vanish, and
    ProcessingFailed ones land under the error prefix as Firehose's error records."""

    def test_each_result_kind(self):
        name, bucket = "fh-tx-apache", bucket_for("fh-tx-apache")
        create(name, bucket, Prefix="logs/", ErrorOutputPrefix=ERRORS,
               ProcessingConfiguration=lambda_processing("apache-log-to-json"))
        d = F.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertEqual(ext["ProcessingConfiguration"]["Processors"][0]["Type"], "Lambda")
        params = {p["ParameterName"]: p["ParameterValue"] for p in ext["ProcessingConfiguration"]["Processors"][0]["Parameters"]}
        self.assertEqual(params["LambdaArn"], LAMBDA + "apache-log-to-json")

        good = [f'10.0.0.{i} - frank [10/Oct/2000:13:55:36 -0700] "GET /a{i}.gif HTTP/1.0" 200 {100 + i}\n'.encode()
                for i in range(5)]
        bad = b"this is not an access log line\n"
        blank = b"\n"
        r = F.put_record_batch(DeliveryStreamName=name, Records=[{"Data": x} for x in [*good[:2], bad, blank, *good[2:]]])
        self.assertEqual(r["FailedPutCount"], 0)

        data = objects_under(bucket, "logs/", 1)
        docs = [doc for body in data.values() for doc in json_docs(body)]
        self.assertEqual(sorted(doc["host"] for doc in docs), [f"10.0.0.{i}" for i in range(5)])
        for doc in docs:
            self.assertEqual((doc["authuser"], doc["response"]), ("frank", 200))
            self.assertEqual(doc["bytes"], 100 + int(doc["host"].rsplit(".", 1)[1]))

        failed = objects_under(bucket, "errors/processing-failed/", 1)
        lines = error_lines(failed.values())
        self.assertEqual(len(lines), 1, lines)
        e = lines[0]
        self.assertEqual(base64.b64decode(e["rawData"]), bad)
        self.assertEqual(e["errorCode"], "Lambda.ProcessingFailedStatus")
        self.assertTrue(e["errorMessage"].startswith("ProcessingFailed status set for record"), e)
        self.assertIn("line 1", e["errorMessage"])
        self.assertEqual(e["lambdaArn"], LAMBDA + "apache-log-to-json")
        self.assertEqual(e["attemptsMade"], 1)
        self.assertIsInstance(e["arrivalTimestamp"], int)
        self.assertGreaterEqual(e["attemptEndingTimestamp"], e["arrivalTimestamp"])
        # The blank record was Dropped: neither delivered nor an error.
        self.assertEqual(len(docs) + len(lines), len(good) + 1)

    def test_update_destination_turns_processing_on_and_off(self):
        """UpdateDestination merges a ProcessingConfiguration: enabled, the plugin transforms
        what arrives afterwards; `Enabled: False` turns it off again, and Describe shows each
        state."""
        name, bucket = "fh-tx-update", bucket_for("fh-tx-update")
        create(name, bucket, ErrorOutputPrefix=ERRORS)
        line = b'10.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 7\n'

        def update(version, **ext):
            F.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId=version,
                                 DestinationId="destinationId-000000000001", ExtendedS3DestinationUpdate=ext)
            return F.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]

        d = update("1", Prefix="on/", ProcessingConfiguration=lambda_processing("apache-log-to-json"))
        self.assertEqual(d["VersionId"], "2")
        ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertTrue(ext["ProcessingConfiguration"]["Enabled"])
        F.put_record(DeliveryStreamName=name, Record={"Data": line})
        on = objects_under(bucket, "on/", 1)
        self.assertEqual([doc["authuser"] for body in on.values() for doc in json_docs(body)], ["frank"])

        d = update("2", Prefix="off/", ProcessingConfiguration={"Enabled": False})
        self.assertEqual(d["VersionId"], "3")
        self.assertNotIn("ProcessingConfiguration", d["Destinations"][0]["ExtendedS3DestinationDescription"])
        F.put_record(DeliveryStreamName=name, Record={"Data": line})
        off = objects_under(bucket, "off/", 1)
        self.assertEqual(b"".join(off.values()), line)

        # A stream that does not partition can not start to (AWS refuses it too).
        code, _ = error_code(F.update_destination, DeliveryStreamName=name, CurrentDeliveryStreamVersionId="3",
                             DestinationId="destinationId-000000000001",
                             ExtendedS3DestinationUpdate={"DynamicPartitioningConfiguration": {"Enabled": True}})
        self.assertEqual(code, "InvalidArgumentException")
        # An unknown plugin is refused in an update as in a create, and nothing changes.
        code, _ = error_code(F.update_destination, DeliveryStreamName=name, CurrentDeliveryStreamVersionId="3",
                             DestinationId="destinationId-000000000001",
                             ExtendedS3DestinationUpdate={"ProcessingConfiguration": lambda_processing("no-such-plugin")})
        self.assertEqual(code, "InvalidArgumentException")
        d = F.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        self.assertEqual(d["VersionId"], "3")

    def test_unknown_or_non_transformer_functions_are_refused(self):
        bucket = bucket_for("fh-tx-refused")
        for name, function in [("fh-tx-none", "no-such-plugin"), ("fh-tx-filter", "speed-limit")]:
            code, status = error_code(
                F.create_delivery_stream, DeliveryStreamName=name,
                ExtendedS3DestinationConfiguration=s3_destination(bucket, ProcessingConfiguration=lambda_processing(function)))
            self.assertEqual((code, status), ("InvalidArgumentException", 400), name)
        code, _ = error_code(
            F.create_delivery_stream, DeliveryStreamName="fh-tx-retries",
            ExtendedS3DestinationConfiguration=s3_destination(
                bucket, ProcessingConfiguration=lambda_processing("apache-log-to-json", retries=301)))
        self.assertEqual(code, "InvalidArgumentException")


class Partitioning(unittest.TestCase):
    """Dynamic partitioning: keys from each record by a MetadataExtractionQuery (IoT SQL, or
    jq's `{name: .path}` form), used in the prefix as !{partitionKeyFromQuery:NAME}."""

    def partitioned(self, name, query, key_of):
        bucket = bucket_for(name)
        create(name, bucket, Prefix="cars/make=!{partitionKeyFromQuery:make}/",
               ErrorOutputPrefix=ERRORS,
               ProcessingConfiguration={"Enabled": True, "Processors": [{
                   "Type": "MetadataExtraction",
                   "Parameters": [{"ParameterName": "MetadataExtractionQuery", "ParameterValue": query},
                                  {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]},
               DynamicPartitioningConfiguration={"Enabled": True, "RetryOptions": {"DurationInSeconds": 60}})
        d = F.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
        self.assertIs(ext["DynamicPartitioningConfiguration"]["Enabled"], True)
        makes = ["volvo", "saab", "volvo", "fiat", "saab", "volvo"]
        records = [(json.dumps({"car": {"make": m}, "seq": i}) + "\n").encode() for i, m in enumerate(makes)]
        no_key = b'{"seq": 99}\n'
        F.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in [*records, no_key]])
        want = {key_of(m) for m in makes}
        objs = objects_under(bucket, "cars/", len(want))
        got = {}
        for key, body in objs.items():
            part = key.split("/")[1]
            self.assertTrue(part.startswith("make="), key)
            got.setdefault(part[5:], []).extend(body.splitlines(keepends=True))
        self.assertEqual(set(got), want)
        for m in set(makes):
            self.assertEqual(sorted(got[key_of(m)]), sorted(r for r, mm in zip(records, makes) if mm == m))
        failed = error_lines(objects_under(bucket, "errors/partitioning-failed/", 1).values())
        self.assertEqual([base64.b64decode(e["rawData"]) for e in failed], [no_key])
        self.assertIn("make", failed[0]["errorMessage"])

    def test_jq_form(self):
        self.partitioned("fh-dp-jq", "{make: .car.make}", lambda m: m)

    def test_keys_s3_allows_are_written_as_they_are(self):
        """Key values with `//`, `.`, `..` or a leading `/` make keys S3 stores as they are
        (object_store would refuse them): the object's key is exactly PREFIX with the value
        + NAME-VERSION-yyyy-MM-dd-HH-mm-ss-UUID, as Firehose writes it, and the records
        behind such a value are delivered too."""
        name = "fh-dp-odd-keys"
        bucket = bucket_for(name)
        create(name, bucket, Prefix="k/!{partitionKeyFromQuery:v}/", ErrorOutputPrefix=ERRORS,
               ProcessingConfiguration={"Enabled": True, "Processors": [{
                   "Type": "MetadataExtraction",
                   "Parameters": [{"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{v: .v}"},
                                  {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]},
               DynamicPartitioningConfiguration={"Enabled": True})
        values = ["a//b", ".", "..", "/lead", "ok"]
        records = {v: (json.dumps({"v": v}) + "\n").encode() for v in values}
        for v in values:
            F.put_record(DeliveryStreamName=name, Record={"Data": records[v]})
        objs = objects_under(bucket, "k/", len(values))
        name_re = re.compile(rf"^{re.escape(name)}-1-\d{{4}}(-\d\d){{5}}-[0-9a-f-]{{36}}$")
        by_value = {}
        for key, body in objs.items():
            for v in values:
                rest = key[len(f"k/{v}/"):]
                if key.startswith(f"k/{v}/") and name_re.match(rest):
                    by_value.setdefault(v, []).append(body)
        self.assertEqual(sorted(by_value), sorted(values), sorted(objs))
        for v in values:
            self.assertEqual(b"".join(by_value[v]), records[v], v)
        self.assertEqual(list_keys(bucket, "errors/"), [])

    def test_iot_sql_form(self):
        self.partitioned("fh-dp-sql", "SELECT upper(car.make) AS make", lambda m: m.upper())

    def test_configuration_errors(self):
        bucket = bucket_for("fh-dp-errors")
        extraction = {"Enabled": True, "Processors": [{"Type": "MetadataExtraction", "Parameters": [
            {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{make: .make}"}]}]}
        dp = {"Enabled": True}
        cases = {
            # A key in the prefix the query does not define.
            "fh-dp-undefined": dict(Prefix="x/!{partitionKeyFromQuery:model}/", ErrorOutputPrefix=ERRORS,
                                    ProcessingConfiguration=extraction, DynamicPartitioningConfiguration=dp),
            # Partition keys without dynamic partitioning.
            "fh-dp-disabled": dict(Prefix="x/!{partitionKeyFromQuery:make}/", ErrorOutputPrefix=ERRORS),
            # Dynamic partitioning without an error prefix.
            "fh-dp-no-errors": dict(Prefix="x/!{partitionKeyFromQuery:make}/",
                                    ProcessingConfiguration=extraction, DynamicPartitioningConfiguration=dp),
            # A query that is neither form.
            "fh-dp-bad-query": dict(Prefix="x/!{partitionKeyFromQuery:make}/", ErrorOutputPrefix=ERRORS,
                                    ProcessingConfiguration={"Enabled": True, "Processors": [{"Type": "MetadataExtraction", "Parameters": [
                                        {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{make: .make | ascii_downcase}"}]}]},
                                    DynamicPartitioningConfiguration=dp),
        }
        for name, extra in cases.items():
            self.assertEqual(
                error_code(F.create_delivery_stream, DeliveryStreamName=name,
                           ExtendedS3DestinationConfiguration=s3_destination(bucket, **extra)),
                ("InvalidArgumentException", 400), name)


class Parquet(unittest.TestCase):
    """DataFormatConversionConfiguration: JSON records become Parquet with the columns of a
    table declared in Weir's config; a record that does not fit goes to
    format-conversion-failed."""

    def test_json_to_parquet_read_back(self):
        self.assertIsNotNone(pq, "pyarrow is needed to read Parquet back")
        name, bucket = "fh-parquet", bucket_for("fh-parquet")
        conversion = {
            "Enabled": True,
            "SchemaConfiguration": {"RoleARN": ROLE, "DatabaseName": "weir", "TableName": "cars", "Region": REGION},
            "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
            "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}},
        }
        create(name, bucket, Prefix="pq/", ErrorOutputPrefix=ERRORS, DataFormatConversionConfiguration=conversion)
        d = F.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        dfc = d["Destinations"][0]["ExtendedS3DestinationDescription"]["DataFormatConversionConfiguration"]
        self.assertEqual(dfc["SchemaConfiguration"]["TableName"], "cars")
        rows = [
            {"car": "c1", "speed": 88.5, "seen": 1767225600000, "laps": 3, "ok": True},
            {"Car": "c2", "SPEED": 61, "laps": 12, "ok": False},
            {"car": "c3", "speed": None, "seen": "2026-01-01 00:00:01", "extra": "ignored"},
        ]
        bad = {"car": "c4", "speed": "fast"}
        records = [json.dumps(r).encode() + b"\n" for r in [*rows, bad]]
        F.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
        objs = objects_under(bucket, "pq/", 1)
        self.assertEqual(len(objs), 1, list(objs))
        key, body = next(iter(objs.items()))
        self.assertTrue(key.endswith(".parquet"), key)
        self.assertEqual(body[:4], b"PAR1")
        table = pq.read_table(io.BytesIO(body))
        self.assertEqual(table.column_names, ["car", "speed", "seen", "laps", "ok"])
        got = table.to_pylist()
        self.assertEqual([r["car"] for r in got], ["c1", "c2", "c3"])
        self.assertEqual([r["speed"] for r in got], [88.5, 61.0, None])
        self.assertEqual([r["laps"] for r in got], [3, 12, None])
        self.assertEqual([r["ok"] for r in got], [True, False, None])
        self.assertEqual(int(got[0]["seen"].timestamp() * 1000), 1767225600000)
        self.assertIsNone(got[1]["seen"])
        self.assertEqual(int(got[2]["seen"].timestamp()), 1767225601)
        failed = error_lines(objects_under(bucket, "errors/format-conversion-failed/", 1).values())
        self.assertEqual([base64.b64decode(e["rawData"]) for e in failed], [records[3]])
        self.assertIn("speed", failed[0]["lastErrorMessage"])

    def test_unknown_table_and_compression_are_refused(self):
        bucket = bucket_for("fh-parquet-bad")
        conv = lambda table: {"Enabled": True, "SchemaConfiguration": {"RoleARN": ROLE, "DatabaseName": "weir", "TableName": table},
                              "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}}
        self.assertEqual(error_code(F.create_delivery_stream, DeliveryStreamName="fh-pq-no-table",
                                    ExtendedS3DestinationConfiguration=s3_destination(bucket, DataFormatConversionConfiguration=conv("nope")))[0],
                         "InvalidArgumentException")
        self.assertEqual(error_code(F.create_delivery_stream, DeliveryStreamName="fh-pq-gzip",
                                    ExtendedS3DestinationConfiguration=s3_destination(bucket, CompressionFormat="GZIP",
                                                                                      DataFormatConversionConfiguration=conv("cars")))[0],
                         "InvalidArgumentException")

    def test_update_turns_conversion_off_and_checks_compression(self):
        """UpdateDestination with a disabled DataFormatConversionConfiguration stops the
        conversion; GZIP on a converting stream is refused in an update as in a create."""
        name, bucket = "fh-pq-update", bucket_for("fh-pq-update")
        conversion = {"Enabled": True, "SchemaConfiguration": {"RoleARN": ROLE, "DatabaseName": "weir", "TableName": "cars"},
                      "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}}
        create(name, bucket, Prefix="pq/", ErrorOutputPrefix=ERRORS, DataFormatConversionConfiguration=conversion)
        update = lambda version, **ext: F.update_destination(
            DeliveryStreamName=name, CurrentDeliveryStreamVersionId=version,
            DestinationId="destinationId-000000000001", ExtendedS3DestinationUpdate=ext)
        code, _ = error_code(update, version="1", CompressionFormat="GZIP")
        self.assertEqual(code, "InvalidArgumentException")
        update("1", Prefix="json/", DataFormatConversionConfiguration={"Enabled": False})
        d = F.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        self.assertNotIn("DataFormatConversionConfiguration", d["Destinations"][0]["ExtendedS3DestinationDescription"])
        record = b'{"car": "c1", "speed": 1}\n'
        F.put_record(DeliveryStreamName=name, Record={"Data": record})
        self.assertEqual(b"".join(objects_under(bucket, "json/", 1).values()), record)
        # Without conversion, compression is free again.
        update("2", CompressionFormat="GZIP")


class KinesisSource(unittest.TestCase):
    """KinesisStreamAsSource: the delivery stream reads a Weir stream (every shard, also after
    a split) from its creation on; PutRecord on it is refused as on AWS."""

    def test_reads_the_stream_through_a_split(self):
        stream, name, bucket = "fh-src-cars", "fh-src", bucket_for("fh-src")
        stream_arn = kinesis_stream(stream, 2)
        K.put_record(StreamName=stream, Data=b"before the delivery stream\n", PartitionKey="p")
        make_bucket(bucket)
        F.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": ROLE},
            ExtendedS3DestinationConfiguration=s3_destination(bucket, BufferingHints=FAST))
        wait_active(name)
        d = F.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        self.assertEqual(d["DeliveryStreamType"], "KinesisStreamAsSource")
        self.assertEqual(d["Source"]["KinesisStreamSourceDescription"]["KinesisStreamARN"], stream_arn)
        self.assertEqual(error_code(F.put_record, DeliveryStreamName=name, Record={"Data": b"x"}),
                         ("InvalidArgumentException", 400))
        try:
            F.put_record(DeliveryStreamName=name, Record={"Data": b"x"})
        except ClientError as e:
            self.assertEqual(e.response["Error"]["Message"],
                             "This operation is not permitted on KinesisStreamAsSource delivery stream type.")

        sent = [f"rec-{i}\n".encode() for i in range(40)]
        K.put_records(StreamName=stream, Records=[{"Data": r, "PartitionKey": f"k{i}"} for i, r in enumerate(sent[:20])])
        shard = K.list_shards(StreamName=stream)["Shards"][0]
        lo, hi = int(shard["HashKeyRange"]["StartingHashKey"]), int(shard["HashKeyRange"]["EndingHashKey"])
        K.split_shard(StreamName=stream, ShardToSplit=shard["ShardId"], NewStartingHashKey=str((lo + hi) // 2))
        deadline = time.monotonic() + 15
        while K.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
            self.assertLess(time.monotonic(), deadline)
            time.sleep(STEP)
        K.put_records(StreamName=stream, Records=[{"Data": r, "PartitionKey": f"k{i}"} for i, r in enumerate(sent[20:])])

        deadline = time.monotonic() + DELIVERY_WAIT
        while True:
            got = [line for k in list_keys(bucket) for line in read_object(bucket, k).splitlines(keepends=True)]
            if len(got) >= len(sent) or time.monotonic() > deadline:
                break
            time.sleep(STEP)
        self.assertEqual(sorted(got), sorted(sent))
        K.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)

    def test_source_errors(self):
        bucket = bucket_for("fh-src-errors")
        missing = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/fh-src-no-such"
        self.assertEqual(error_code(
            F.create_delivery_stream, DeliveryStreamName="fh-src-missing", DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": missing, "RoleARN": ROLE},
            ExtendedS3DestinationConfiguration=s3_destination(bucket))[0], "InvalidArgumentException")
        self.assertEqual(error_code(
            F.create_delivery_stream, DeliveryStreamName="fh-src-none", DeliveryStreamType="KinesisStreamAsSource",
            ExtendedS3DestinationConfiguration=s3_destination(bucket))[0], "InvalidArgumentException")
        # A stream of this name exists (made by the split test, or here), but not in that account.
        try:
            K.create_stream(StreamName="fh-src-other-account", ShardCount=1)
        except ClientError:
            pass
        other = f"arn:aws:kinesis:{REGION}:123456789012:stream/fh-src-other-account"
        self.assertEqual(error_code(
            F.create_delivery_stream, DeliveryStreamName="fh-src-other", DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": other, "RoleARN": ROLE},
            ExtendedS3DestinationConfiguration=s3_destination(bucket))[0], "InvalidArgumentException")

    def test_server_side_encryption_is_for_direct_put_only(self):
        """StartDeliveryStreamEncryption, and encryption at create, are refused on a Kinesis
        source, as AWS documents: its data is encrypted, or not, by its stream."""
        stream, name = "fh-src-sse-stream", "fh-src-sse"
        stream_arn = kinesis_stream(stream, 1)
        source = dict(DeliveryStreamType="KinesisStreamAsSource",
                      KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": ROLE},
                      ExtendedS3DestinationConfiguration=s3_destination(bucket_for(name)))
        self.assertEqual(error_code(
            F.create_delivery_stream, DeliveryStreamName=name,
            DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"}, **source)[0],
            "InvalidArgumentException")
        F.create_delivery_stream(DeliveryStreamName=name, **source)
        wait_active(name)
        self.assertEqual(error_code(F.start_delivery_stream_encryption, DeliveryStreamName=name,
                                    DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"})[0],
                         "InvalidArgumentException")
        d = F.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        self.assertEqual(d["DeliveryStreamEncryptionConfiguration"]["Status"], "DISABLED")


class Endpoint(http.server.BaseHTTPRequestHandler):
    """An HTTP endpoint as Firehose's spec describes: answers 200 with the requestId, or
    `status` when the test says so. Keeps every request."""
    requests = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Endpoint.requests.append((dict(self.headers), body))
        doc = json.loads(gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body)
        reply = json.dumps({"requestId": doc["requestId"], "timestamp": int(time.time() * 1000)}).encode()
        self.send_response(Endpoint.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


class HttpDestination(unittest.TestCase):
    """HttpEndpointDestinationConfiguration: batches POSTed in Firehose's request format with
    the access key and common attributes; what the endpoint refuses for good is backed up to
    S3 under http-endpoint-failed."""

    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.url = f"http://127.0.0.1:{cls.server.server_address[1]}/ingest"

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()

    def create(self, name, bucket, retry_s=300, gzip_body=False):
        make_bucket(bucket)
        F.create_delivery_stream(DeliveryStreamName=name, HttpEndpointDestinationConfiguration={
            "EndpointConfiguration": {"Url": self.url, "Name": "test endpoint", "AccessKey": "s3cr3t"},
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            "RequestConfiguration": {"ContentEncoding": "GZIP" if gzip_body else "NONE",
                                     "CommonAttributes": [{"AttributeName": "team", "AttributeValue": "weir"}]},
            "RetryOptions": {"DurationInSeconds": retry_s},
            "S3BackupMode": "FailedDataOnly",
            "S3Configuration": {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "ErrorOutputPrefix": ERRORS},
        })
        wait_active(name)

    def wait_requests(self, n):
        deadline = time.monotonic() + DELIVERY_WAIT
        while len(Endpoint.requests) < n:
            self.assertLess(time.monotonic(), deadline, f"{len(Endpoint.requests)} of {n} requests")
            time.sleep(STEP)

    def test_delivers_in_firehose_request_format(self):
        Endpoint.requests, Endpoint.status = [], 200
        name = "fh-http"
        self.create(name, bucket_for(name), gzip_body=True)
        d = F.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        hd = d["Destinations"][0]["HttpEndpointDestinationDescription"]
        self.assertEqual(hd["EndpointConfiguration"]["Url"], self.url)
        self.assertNotIn("AccessKey", hd["EndpointConfiguration"])
        sent = [f"event-{i}\n".encode() for i in range(10)]
        F.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in sent])
        got = []
        deadline = time.monotonic() + DELIVERY_WAIT
        while len(got) < len(sent):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(STEP)
            got = []
            for headers, body in list(Endpoint.requests):
                h = {k.lower(): v for k, v in headers.items()}
                self.assertEqual(h["x-amz-firehose-access-key"], "s3cr3t")
                self.assertEqual(h["x-amz-firehose-protocol-version"], "1.0")
                self.assertEqual(h["x-amz-firehose-source-arn"], f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{name}")
                self.assertEqual(json.loads(h["x-amz-firehose-common-attributes"]), {"commonAttributes": {"team": "weir"}})
                self.assertEqual(h["content-encoding"], "gzip")
                doc = json.loads(gzip.decompress(body))
                self.assertEqual(doc["requestId"], h["x-amz-firehose-request-id"])
                got.extend(base64.b64decode(r["data"]) for r in doc["records"])
        self.assertEqual(got, sent)

    def test_endpoints_the_operator_did_not_allow_are_refused(self):
        """The suite's config allows 127.0.0.1 only ([firehose] allowed_endpoints): the metadata
        service, other loopback and private addresses are refused at create, by name."""
        port = self.server.server_address[1]
        for url in ["http://169.254.169.254/latest/meta-data/", f"http://127.0.0.2:{port}/",
                    "https://10.0.0.1/", "http://[fd00:ec2::254]/", f"http://[::ffff:127.0.0.2]:{port}/"]:
            with self.assertRaises(ClientError) as cm:
                F.create_delivery_stream(DeliveryStreamName="fh-http-refused", HttpEndpointDestinationConfiguration={
                    "EndpointConfiguration": {"Url": url},
                    "S3Configuration": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::fh-http-refused"},
                })
            err = cm.exception.response["Error"]
            self.assertEqual(err["Code"], "InvalidArgumentException", url)
            self.assertIn(url, err["Message"])
            self.assertIn("allow_private_endpoints", err["Message"])
        with self.assertRaises(ClientError):
            F.describe_delivery_stream(DeliveryStreamName="fh-http-refused")

    def test_refused_batches_are_backed_up(self):
        Endpoint.requests, Endpoint.status = [], 500
        name, bucket = "fh-http-down", bucket_for("fh-http-down")
        self.create(name, bucket, retry_s=0)
        sent = [f"lost-{i}\n".encode() for i in range(3)]
        F.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in sent])
        failed = error_lines(objects_under(bucket, "errors/http-endpoint-failed/", 1).values())
        Endpoint.status = 200
        self.assertEqual(sorted(base64.b64decode(e["rawData"]) for e in failed), sorted(sent))
        self.assertEqual(failed[0]["errorCode"], "HttpEndpoint.DestinationException")
        self.assertGreaterEqual(failed[0]["attemptsMade"], 1)


if __name__ == "__main__":
    unittest.main()
