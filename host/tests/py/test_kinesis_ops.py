"""The Kinesis operations beyond data in and out, through boto3: enhanced fan-out
(RegisterStreamConsumer .. SubscribeToShard), settings, ARN-based tags, resource policies,
limits, account settings, transitional states and AWS's error types.

Run by tests/streams_python_suite.rs next to test_kinesis.py, against the same server
(`--transition-ms 100`).
"""

import base64
import datetime
import json
import time
import unittest

import botocore.session

from test_kinesis import K, MAX, error_code, make_stream, raw_post, wait_active


def wait_consumer(arn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = K.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]["ConsumerStatus"]
        if st == "ACTIVE":
            return
        time.sleep(0.02)
    raise AssertionError(f"{arn} never became ACTIVE")


def register(stream, name):
    arn = K.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    c = K.register_stream_consumer(StreamARN=arn, ConsumerName=name)["Consumer"]
    wait_consumer(c["ConsumerARN"])
    return arn, c


def subscribe_events(consumer_arn, shard, position, until):
    """Reads one subscription's events until `until(events)` is true or it ends."""
    resp = K.subscribe_to_shard(ConsumerARN=consumer_arn, ShardId=shard, StartingPosition=position)
    events = []
    stream = resp["EventStream"]
    try:
        for ev in stream:
            events.append(ev["SubscribeToShardEvent"])
            if until(events):
                break
    finally:
        stream.close()
    return events


def ops_of_model():
    model = botocore.session.get_session().get_service_model("kinesis")
    return [
        op for op in model.operation_names
        if not any(family in op for family in ("Channel", "Queue", "DeadLetter"))
    ]


class Operations(unittest.TestCase):
    def test_every_stream_operation_of_the_model_is_served(self):
        """Each of botocore's stream operations reaches an action: none is
        UnknownOperationException (an empty body gets a validation answer instead)."""
        ops = ops_of_model()
        self.assertEqual(len(ops), 40, ops)
        for op in ops:
            st, _, body = raw_post(f"Kinesis_20131202.{op}", b"{}")
            kind = json.loads(body or b"{}").get("__type") if st != 200 else None
            self.assertNotEqual(kind, "UnknownOperationException", op)


class FanOut(unittest.TestCase):
    def test_register_describe_list_deregister(self):
        make_stream("efo1", 1)
        arn = K.describe_stream_summary(StreamName="efo1")["StreamDescriptionSummary"]["StreamARN"]
        c = K.register_stream_consumer(StreamARN=arn, ConsumerName="app1", Tags={"team": "a"})["Consumer"]
        self.assertEqual(c["ConsumerStatus"], "CREATING")
        self.assertTrue(c["ConsumerARN"].startswith(arn + "/consumer/app1:"))
        wait_consumer(c["ConsumerARN"])
        d = K.describe_stream_consumer(StreamARN=arn, ConsumerName="app1")["ConsumerDescription"]
        self.assertEqual((d["ConsumerARN"], d["StreamARN"], d["ConsumerStatus"]), (c["ConsumerARN"], arn, "ACTIVE"))
        self.assertEqual(
            error_code(K.register_stream_consumer, StreamARN=arn, ConsumerName="app1")[0], "ResourceInUseException"
        )
        for i in range(2, 5):
            K.register_stream_consumer(StreamARN=arn, ConsumerName=f"app{i}")
        page = K.list_stream_consumers(StreamARN=arn, MaxResults=3)
        self.assertEqual([x["ConsumerName"] for x in page["Consumers"]], ["app1", "app2", "app3"])
        rest = K.list_stream_consumers(StreamARN=arn, NextToken=page["NextToken"])
        self.assertEqual([x["ConsumerName"] for x in rest["Consumers"]], ["app4"])
        self.assertNotIn("NextToken", rest)
        self.assertEqual(K.describe_stream_summary(StreamName="efo1")["StreamDescriptionSummary"]["ConsumerCount"], 4)
        tags = K.list_tags_for_resource(ResourceARN=c["ConsumerARN"])["Tags"]
        self.assertEqual(tags, [{"Key": "team", "Value": "a"}])
        # A stream with consumers is not deleted unless asked to take them along.
        self.assertEqual(error_code(K.delete_stream, StreamName="efo1")[0], "ResourceInUseException")
        K.deregister_stream_consumer(ConsumerARN=c["ConsumerARN"])
        gone = K.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])["ConsumerDescription"]
        self.assertEqual(gone["ConsumerStatus"], "DELETING")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            code = None
            try:
                K.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])
            except K.exceptions.ResourceNotFoundException:
                code = "gone"
            if code:
                break
            time.sleep(0.02)
        self.assertEqual(code, "gone")
        self.assertEqual(
            error_code(K.describe_stream_consumer, StreamARN=arn, ConsumerName="nobody")[0],
            "ResourceNotFoundException",
        )
        K.delete_stream(StreamName="efo1", EnforceConsumerDeletion=True)

    def test_consumer_limit_is_twenty(self):
        make_stream("efo20", 1)
        arn = K.describe_stream_summary(StreamName="efo20")["StreamDescriptionSummary"]["StreamARN"]
        for i in range(20):
            K.register_stream_consumer(StreamARN=arn, ConsumerName=f"c{i}")
        self.assertEqual(
            error_code(K.register_stream_consumer, StreamARN=arn, ConsumerName="c20")[0], "LimitExceededException"
        )

    def test_subscribe_delivers_every_record_once_in_order(self):
        make_stream("efo2", 1)
        _, c = register("efo2", "reader")
        sent = [f"rec-{i}".encode() for i in range(300)]
        for i in range(0, 300, 100):
            K.put_records(StreamName="efo2", Records=[{"Data": d, "PartitionKey": "k"} for d in sent[i : i + 100]])
        events = subscribe_events(
            c["ConsumerARN"],
            "shardId-000000000000",
            {"Type": "TRIM_HORIZON"},
            lambda evs: sum(len(e["Records"]) for e in evs) >= 300,
        )
        got = [r["Data"] for e in events for r in e["Records"]]
        self.assertEqual(got, sent)
        seqs = [r["SequenceNumber"] for e in events for r in e["Records"]]
        self.assertEqual(seqs, sorted(seqs, key=int))
        last = events[-1]
        self.assertIn("ContinuationSequenceNumber", last)
        self.assertEqual(last["MillisBehindLatest"], 0)
        # Resuming after the continuation gets only what came later, exactly once. (Another
        # consumer resumes: AWS refuses the same consumer on the same shard within 5 s.)
        K.put_record(StreamName="efo2", Data=b"later", PartitionKey="k")
        _, c2 = register("efo2", "resumer")
        more = subscribe_events(
            c2["ConsumerARN"],
            "shardId-000000000000",
            {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last["ContinuationSequenceNumber"]},
            lambda evs: any(e["Records"] for e in evs),
        )
        self.assertEqual([r["Data"] for e in more for r in e["Records"]], [b"later"])

    def test_second_subscription_within_five_seconds_is_refused(self):
        make_stream("efo3", 1)
        _, c = register("efo3", "twice")
        K.put_record(StreamName="efo3", Data=b"x", PartitionKey="k")
        subscribe_events(c["ConsumerARN"], "shardId-000000000000", {"Type": "TRIM_HORIZON"}, lambda evs: True)
        self.assertEqual(
            error_code(
                K.subscribe_to_shard,
                ConsumerARN=c["ConsumerARN"],
                ShardId="shardId-000000000000",
                StartingPosition={"Type": "TRIM_HORIZON"},
            )[0],
            "ResourceInUseException",
        )

    def test_shard_end_carries_child_shards_and_no_continuation(self):
        make_stream("efo4", 1)
        _, c = register("efo4", "lineage")
        K.put_record(StreamName="efo4", Data=b"before", PartitionKey="k")
        K.split_shard(StreamName="efo4", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
        wait_active("efo4")
        events = subscribe_events(
            c["ConsumerARN"], "shardId-000000000000", {"Type": "TRIM_HORIZON"}, lambda evs: "ChildShards" in evs[-1]
        )
        self.assertEqual([r["Data"] for e in events for r in e["Records"]], [b"before"])
        end = events[-1]
        self.assertNotIn("ContinuationSequenceNumber", end)
        self.assertEqual(
            sorted(k["ShardId"] for k in end["ChildShards"]), ["shardId-000000000001", "shardId-000000000002"]
        )
        for k in end["ChildShards"]:
            self.assertEqual(k["ParentShards"], ["shardId-000000000000"])

    def test_subscribe_errors(self):
        make_stream("efo5", 1)
        arn, c = register("efo5", "errs")
        pos = {"Type": "TRIM_HORIZON"}
        self.assertEqual(
            error_code(K.subscribe_to_shard, ConsumerARN=c["ConsumerARN"], ShardId="shardId-000000000009", StartingPosition=pos)[0],
            "ResourceNotFoundException",
        )
        self.assertEqual(
            error_code(K.subscribe_to_shard, ConsumerARN=arn + "/consumer/nobody:1", ShardId="shardId-000000000000", StartingPosition=pos)[0],
            "ResourceNotFoundException",
        )
        self.assertEqual(
            error_code(K.subscribe_to_shard, ConsumerARN=c["ConsumerARN"], ShardId="shardId-000000000000", StartingPosition={"Type": "AT_SEQUENCE_NUMBER"})[0],
            "InvalidArgumentException",
        )
        self.assertEqual(
            error_code(K.subscribe_to_shard, ConsumerARN="arn:aws:kinesis:us-east-1:000000000000:bogus", ShardId="shardId-000000000000", StartingPosition=pos)[0],
            "ValidationException",
        )
        self.assertEqual(
            error_code(K.subscribe_to_shard, ConsumerARN=c["ConsumerARN"], ShardId="shardId-000000000000", StartingPosition=pos, DryRun=True)[0],
            "DryRunOperationException",
        )


class Settings(unittest.TestCase):
    def test_encryption_start_and_stop(self):
        make_stream("enc1", 1)
        K.start_stream_encryption(StreamName="enc1", EncryptionType="KMS", KeyId="alias/aws/kinesis")
        d = K.describe_stream_summary(StreamName="enc1")["StreamDescriptionSummary"]
        self.assertEqual((d["StreamStatus"], d["EncryptionType"], d["KeyId"]), ("UPDATING", "KMS", "alias/aws/kinesis"))
        wait_active("enc1")
        K.put_record(StreamName="enc1", Data=b"secret", PartitionKey="k")
        it = K.get_shard_iterator(StreamName="enc1", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        rec = K.get_records(ShardIterator=it)["Records"][0]
        self.assertEqual((rec["Data"], rec["EncryptionType"]), (b"secret", "KMS"))
        K.stop_stream_encryption(StreamName="enc1", EncryptionType="KMS", KeyId="alias/aws/kinesis")
        wait_active("enc1")
        d = K.describe_stream(StreamName="enc1")["StreamDescription"]
        self.assertEqual(d["EncryptionType"], "NONE")
        self.assertNotIn("KeyId", d)

    def test_enhanced_monitoring(self):
        make_stream("mon1", 1)
        r = K.enable_enhanced_monitoring(StreamName="mon1", ShardLevelMetrics=["OutgoingBytes", "IncomingBytes"])
        self.assertEqual((r["CurrentShardLevelMetrics"], r["DesiredShardLevelMetrics"]), ([], ["IncomingBytes", "OutgoingBytes"]))
        r = K.enable_enhanced_monitoring(StreamName="mon1", ShardLevelMetrics=["ALL"])
        self.assertEqual(len(r["DesiredShardLevelMetrics"]), 7)
        r = K.disable_enhanced_monitoring(StreamName="mon1", ShardLevelMetrics=["IncomingBytes"])
        self.assertNotIn("IncomingBytes", r["DesiredShardLevelMetrics"])
        self.assertEqual(len(r["DesiredShardLevelMetrics"]), 6)
        em = K.describe_stream(StreamName="mon1")["StreamDescription"]["EnhancedMonitoring"]
        self.assertEqual(em[0]["ShardLevelMetrics"], r["DesiredShardLevelMetrics"])
        self.assertEqual(
            error_code(K.enable_enhanced_monitoring, StreamName="mon1", ShardLevelMetrics=["Bogus"])[0], "ValidationException"
        )

    def test_limits_and_account_settings(self):
        lim = K.describe_limits()
        self.assertGreaterEqual(lim["ShardLimit"], lim["OpenShardCount"])
        self.assertGreater(lim["OnDemandStreamCountLimit"], 0)
        self.assertEqual(K.describe_account_settings()["MinimumThroughputBillingCommitment"]["Status"], "DISABLED")
        on = K.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
        c = on["MinimumThroughputBillingCommitment"]
        self.assertEqual(c["Status"], "ENABLED")
        self.assertGreater(c["EarliestAllowedEndAt"], c["StartedAt"])
        off = K.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})
        self.assertEqual(off["MinimumThroughputBillingCommitment"]["Status"], "ENABLED_UNTIL_EARLIEST_ALLOWED_END")
        self.assertEqual(
            K.describe_account_settings()["MinimumThroughputBillingCommitment"]["Status"],
            "ENABLED_UNTIL_EARLIEST_ALLOWED_END",
        )

    def test_max_record_size(self):
        make_stream("big1", 1)
        self.assertEqual(K.describe_stream_summary(StreamName="big1")["StreamDescriptionSummary"]["MaxRecordSizeInKiB"], 1024)
        two_mib = b"x" * (2 * 1024 * 1024)
        self.assertEqual(error_code(K.put_record, StreamName="big1", Data=two_mib, PartitionKey="k")[0], "ValidationException")
        arn = K.describe_stream_summary(StreamName="big1")["StreamDescriptionSummary"]["StreamARN"]
        K.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=4096)
        self.assertEqual(K.describe_stream_summary(StreamName="big1")["StreamDescriptionSummary"]["MaxRecordSizeInKiB"], 4096)
        put = K.put_record(StreamName="big1", Data=two_mib, PartitionKey="k")
        self.assertEqual(put["ShardId"], "shardId-000000000000")
        self.assertEqual(
            error_code(K.update_max_record_size, StreamARN=arn, MaxRecordSizeInKiB=20000)[0], "ValidationException"
        )

    def test_stream_mode_and_warm_throughput(self):
        make_stream("mode1", 2)
        arn = K.describe_stream_summary(StreamName="mode1")["StreamDescriptionSummary"]["StreamARN"]
        self.assertEqual(
            error_code(K.update_stream_warm_throughput, StreamARN=arn, WarmThroughputMiBps=10)[0], "InvalidArgumentException"
        )
        K.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        d = K.describe_stream_summary(StreamName="mode1")["StreamDescriptionSummary"]
        self.assertEqual((d["StreamStatus"], d["StreamModeDetails"]["StreamMode"]), ("UPDATING", "ON_DEMAND"))
        # A second change while one is in progress is refused, as on AWS.
        self.assertEqual(
            error_code(K.update_stream_mode, StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})[0],
            "ResourceInUseException",
        )
        wait_active("mode1")
        w = K.update_stream_warm_throughput(StreamARN=arn, WarmThroughputMiBps=10)
        self.assertEqual(w["WarmThroughput"]["TargetMiBps"], 10)
        self.assertEqual(
            K.describe_stream_summary(StreamName="mode1")["StreamDescriptionSummary"]["WarmThroughput"]["TargetMiBps"], 10
        )

    def test_record_distribution_strategy(self):
        ops = ops_of_model()
        self.assertIn("UpdateStreamRecordDistributionStrategy", ops)
        make_stream("dist1", 1)
        arn = K.describe_stream_summary(StreamName="dist1")["StreamDescriptionSummary"]["StreamARN"]
        K.update_stream_record_distribution_strategy(StreamARN=arn, RecordDistributionStrategy="USER_PARTITION_KEY")
        d = K.describe_stream_summary(StreamName="dist1")["StreamDescriptionSummary"]
        self.assertEqual(d["RecordDistributionStrategy"], "USER_PARTITION_KEY")
        self.assertEqual(
            error_code(K.update_stream_record_distribution_strategy, StreamARN=arn, RecordDistributionStrategy="BOGUS")[0],
            "ValidationException",
        )

    def test_resource_policy(self):
        make_stream("pol1", 1)
        arn = K.describe_stream_summary(StreamName="pol1")["StreamDescriptionSummary"]["StreamARN"]
        self.assertEqual(json.loads(K.get_resource_policy(ResourceARN=arn)["Policy"]), {})
        doc = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kinesis:GetRecords", "Resource": arn}],
        }
        K.put_resource_policy(ResourceARN=arn, Policy=json.dumps(doc))
        self.assertEqual(json.loads(K.get_resource_policy(ResourceARN=arn)["Policy"]), doc)
        self.assertEqual(error_code(K.put_resource_policy, ResourceARN=arn, Policy="{not json")[0], "InvalidArgumentException")
        K.delete_resource_policy(ResourceARN=arn)
        self.assertEqual(error_code(K.delete_resource_policy, ResourceARN=arn)[0], "ResourceNotFoundException")
        missing = arn.replace("pol1", "nope")
        self.assertEqual(error_code(K.get_resource_policy, ResourceARN=missing)[0], "ResourceNotFoundException")

    def test_arn_tags(self):
        make_stream("tagarn", 1)
        arn = K.describe_stream_summary(StreamName="tagarn")["StreamDescriptionSummary"]["StreamARN"]
        K.tag_resource(ResourceARN=arn, Tags={"env": "test", "owner": "weir"})
        self.assertEqual(
            K.list_tags_for_resource(ResourceARN=arn)["Tags"],
            [{"Key": "env", "Value": "test"}, {"Key": "owner", "Value": "weir"}],
        )
        # The stream-name tag actions see the same tags.
        self.assertEqual(len(K.list_tags_for_stream(StreamName="tagarn")["Tags"]), 2)
        K.untag_resource(ResourceARN=arn, TagKeys=["env"])
        self.assertEqual(K.list_tags_for_resource(ResourceARN=arn)["Tags"], [{"Key": "owner", "Value": "weir"}])
        self.assertEqual(
            error_code(K.tag_resource, ResourceARN=arn.replace("tagarn", "nope"), Tags={"a": "b"})[0],
            "ResourceNotFoundException",
        )
        self.assertEqual(error_code(K.list_tags_for_resource, ResourceARN="arn:aws:s3:::bucket")[0], "ValidationException")


class States(unittest.TestCase):
    def test_creating_updating_deleting(self):
        K.create_stream(StreamName="st1", ShardCount=1)
        self.assertEqual(K.describe_stream(StreamName="st1")["StreamDescription"]["StreamStatus"], "CREATING")
        wait_active("st1")
        K.update_shard_count(StreamName="st1", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
        self.assertEqual(K.describe_stream(StreamName="st1")["StreamDescription"]["StreamStatus"], "UPDATING")
        self.assertEqual(
            error_code(K.split_shard, StreamName="st1", ShardToSplit="shardId-000000000001", NewStartingHashKey="5")[0],
            "ResourceInUseException",
        )
        wait_active("st1")
        K.delete_stream(StreamName="st1")
        self.assertEqual(K.describe_stream_summary(StreamName="st1")["StreamDescriptionSummary"]["StreamStatus"], "DELETING")
        self.assertEqual(error_code(K.create_stream, StreamName="st1", ShardCount=1)[0], "ResourceInUseException")
        K.get_waiter("stream_not_exists").wait(StreamName="st1", WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        self.assertEqual(error_code(K.describe_stream, StreamName="st1")[0], "ResourceNotFoundException")

    def test_list_shards_trim_horizon_includes_closed_parents(self):
        make_stream("lsh", 1)
        K.put_record(StreamName="lsh", Data=b"x", PartitionKey="k")
        K.split_shard(StreamName="lsh", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
        wait_active("lsh")
        at = [s["ShardId"] for s in K.list_shards(StreamName="lsh", ShardFilter={"Type": "AT_TRIM_HORIZON"})["Shards"]]
        self.assertEqual(at, ["shardId-000000000000"])
        frm = [s["ShardId"] for s in K.list_shards(StreamName="lsh", ShardFilter={"Type": "FROM_TRIM_HORIZON"})["Shards"]]
        self.assertEqual(frm, ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"])
        closed = K.list_shards(StreamName="lsh", ShardFilter={"Type": "FROM_TRIM_HORIZON"})["Shards"][0]
        self.assertIn("EndingSequenceNumber", closed["SequenceNumberRange"])
        latest = [s["ShardId"] for s in K.list_shards(StreamName="lsh", ShardFilter={"Type": "AT_LATEST"})["Shards"]]
        self.assertEqual(latest, ["shardId-000000000001", "shardId-000000000002"])
        # Before the stream existed: AT_TIMESTAMP starts where it started, FROM_TIMESTAMP is
        # moved up to the trim horizon (every retained shard).
        y2k = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
        at_ts = K.list_shards(StreamName="lsh", ShardFilter={"Type": "AT_TIMESTAMP", "Timestamp": y2k})["Shards"]
        self.assertEqual([s["ShardId"] for s in at_ts], ["shardId-000000000000"])
        from_ts = K.list_shards(StreamName="lsh", ShardFilter={"Type": "FROM_TIMESTAMP", "Timestamp": y2k})["Shards"]
        self.assertEqual([s["ShardId"] for s in from_ts], frm)


class ErrorTypes(unittest.TestCase):
    def test_explicit_hash_key_pattern_is_validation_range_is_invalid_argument(self):
        make_stream("ehk", 1)
        # Off the model's pattern: ValidationException, in AWS's words.
        try:
            K.put_record(StreamName="ehk", Data=b"x", PartitionKey="k", ExplicitHashKey="abc")
            raise AssertionError("no error raised")
        except K.exceptions.ClientError as e:
            self.assertEqual(e.response["Error"]["Code"], "ValidationException")
            self.assertEqual(
                e.response["Error"]["Message"],
                "1 validation error detected: Value 'abc' at 'explicitHashKey' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})",
            )
        for bad in ["-1", "", "01"]:
            self.assertEqual(
                error_code(K.put_record, StreamName="ehk", Data=b"x", PartitionKey="k", ExplicitHashKey=bad)[0],
                "ValidationException",
                bad,
            )
        code = error_code(K.put_records, StreamName="ehk", Records=[{"Data": b"x", "PartitionKey": "k", "ExplicitHashKey": "x1"}])
        self.assertEqual(code[0], "ValidationException")
        # On the pattern but past 2^128-1: the semantic check after validation.
        self.assertEqual(
            error_code(K.put_record, StreamName="ehk", Data=b"x", PartitionKey="k", ExplicitHashKey=str(2**128))[0],
            "InvalidArgumentException",
        )
        r = K.put_records(StreamName="ehk", Records=[{"Data": b"x", "PartitionKey": "k", "ExplicitHashKey": str(MAX)}])
        self.assertEqual(r["FailedRecordCount"], 0)

    def test_model_violations_of_other_operations(self):
        def raw_error(op, body):
            st, _, raw = raw_post(f"Kinesis_20131202.{op}", json.dumps(body).encode())
            doc = json.loads(raw)
            return st, doc["__type"], doc.get("message")

        make_stream("mv", 1)
        self.assertEqual(
            raw_error("CreateStream", {"StreamName": "bad/name", "ShardCount": 1}),
            (
                400,
                "ValidationException",
                "1 validation error detected: Value 'bad/name' at 'streamName' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            ),
        )
        # boto3 refuses Limit 0 itself: sent raw. Two violations, joined as AWS joins them.
        self.assertEqual(
            raw_error("ListStreams", {"Limit": 0, "ExclusiveStartStreamName": "a b"}),
            (
                400,
                "ValidationException",
                "2 validation errors detected: "
                "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; "
                "Value 'a b' at 'exclusiveStartStreamName' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            ),
        )
        try:
            K.get_records(ShardIterator="x", Limit=10001)
            raise AssertionError("no error raised")
        except K.exceptions.ClientError as e:
            self.assertEqual(
                e.response["Error"]["Message"],
                "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
                "Member must have value less than or equal to 10000",
            )
        st, ty, msg = raw_error(
            "GetShardIterator", {"StreamName": "mv", "ShardId": "shardId-000000000000", "ShardIteratorType": "OLDEST"}
        )
        self.assertEqual((st, ty), (400, "ValidationException"))
        self.assertEqual(
            msg,
            "1 validation error detected: Value 'OLDEST' at 'shardIteratorType' failed to satisfy constraint: "
            "Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]",
        )
        # Nested members are named by their dotted path.
        st, ty, msg = raw_error("ListShards", {"StreamName": "mv", "ShardFilter": {"Type": "AT_LATEST", "ShardId": "a b"}})
        self.assertEqual((ty, msg.split(" failed")[0]), ("ValidationException", "1 validation error detected: Value 'a b' at 'shardFilter.shardId'"))

    def test_no_stream_name_or_arn_is_validation(self):
        for op in ["DescribeStream", "DescribeStreamSummary", "PutRecord", "ListShards", "DeleteStream"]:
            body = b'{"Data": "eA==", "PartitionKey": "k"}' if op == "PutRecord" else b"{}"
            st, _, raw = raw_post(f"Kinesis_20131202.{op}", body)
            self.assertEqual((st, json.loads(raw)["__type"]), (400, "ValidationException"), op)

    def test_protocol_errors_carry_only_their_type(self):
        for target, body in [
            ("Kinesis_20131202.Bogus", b"{}"),
            ("Kinesis_20131202.ListStreams", b"{not json"),
            ("Kinesis_20131202.ListStreams", b'{"Limit": "ten"}'),
        ]:
            st, _, raw = raw_post(target, body)
            doc = json.loads(raw)
            self.assertEqual(st, 400)
            self.assertEqual(list(doc), ["__type"], (target, doc))


if __name__ == "__main__":
    unittest.main()
