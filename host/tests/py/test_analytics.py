"""Weir's Kinesis Data Analytics application API (v1, `KinesisAnalytics_20150814.*`) driven by
boto3's `kinesisanalytics` client.

Run by `host/tests/analytics_api_python_suite.rs`, which starts `weir run` with the streams
`cars` and `speeding` and sets:
  WEIR_ENDPOINT  Weir's API (Kinesis and the analytics API on one port)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION (us-east-1)

Every test makes applications of its own names, so the tests do not depend on each other or
on their order. `Applications` runs first; `AfterRestart` runs against the same storage after
the harness restarted Weir and finds what `Applications.test_kept_across_restart` made.
"""

import json
import os
import time
import unittest
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("WEIR_ENDPOINT", "http://127.0.0.1:4567")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/kda"
CARS = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/cars"
SPEEDING = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/speeding"
KEPT = "kept-across-restart"

CODE = """CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (CITY VARCHAR(16), SPEED INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM CITY, SPEED FROM "SOURCE_SQL_STREAM_001" WHERE SPEED > 120;
"""


def client():
    return boto3.client(
        "kinesisanalytics",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}),
    )


def schema():
    return {
        "RecordFormat": {
            "RecordFormatType": "JSON",
            "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}},
        },
        "RecordEncoding": "UTF-8",
        "RecordColumns": [
            {"Name": "CITY", "Mapping": "$.city", "SqlType": "VARCHAR(16)"},
            {"Name": "SPEED", "Mapping": "$.speed", "SqlType": "INTEGER"},
        ],
    }


def app_input():
    return {
        "NamePrefix": "SOURCE_SQL_STREAM",
        "KinesisStreamsInput": {"ResourceARN": CARS, "RoleARN": ROLE},
        "InputSchema": schema(),
    }


def app_output(name="DESTINATION_SQL_STREAM", fmt="JSON"):
    return {
        "Name": name,
        "KinesisStreamsOutput": {"ResourceARN": SPEEDING, "RoleARN": ROLE},
        "DestinationSchema": {"RecordFormatType": fmt},
    }


def kinesis():
    return boto3.client(
        "kinesis",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}),
    )


def put(kin, stream, rows):
    kin.put_records(
        StreamName=stream,
        Records=[
            {"Data": json.dumps({"city": c, "speed": s}).encode(), "PartitionKey": c}
            for c, s in rows
        ],
    )


def read_until(kin, stream, n, timeout=15):
    """The records of `stream` (one shard) as JSON, once there are at least `n` (polled)."""
    deadline = time.time() + timeout
    while True:
        it = kin.get_shard_iterator(
            StreamName=stream, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        got = [json.loads(r["Data"]) for r in kin.get_records(ShardIterator=it)["Records"]]
        if len(got) >= n or time.time() > deadline:
            return got
        time.sleep(0.02)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Applications(unittest.TestCase):
    def setUp(self):
        self.kda = client()

    def error(self, call, **kwargs):
        with self.assertRaises(ClientError) as cm:
            call(**kwargs)
        e = cm.exception.response["Error"]
        return e["Code"], e.get("Message", "")

    def describe(self, name):
        return self.kda.describe_application(ApplicationName=name)["ApplicationDetail"]

    def test_create_describe_list_delete(self):
        name = unique("create")
        out = self.kda.create_application(
            ApplicationName=name,
            ApplicationDescription="speeding cars",
            Inputs=[app_input()],
            Outputs=[app_output()],
            ApplicationCode=CODE,
            Tags=[{"Key": "team", "Value": "roads"}],
        )
        arn = f"arn:aws:kinesisanalytics:{REGION}:{ACCOUNT}:application/{name}"
        self.assertEqual(
            out["ApplicationSummary"],
            {"ApplicationName": name, "ApplicationARN": arn, "ApplicationStatus": "READY"},
        )
        d = self.describe(name)
        self.assertEqual(d["ApplicationVersionId"], 1)
        self.assertEqual(d["ApplicationCode"], CODE)
        self.assertEqual(d["ApplicationDescription"], "speeding cars")
        (inp,) = d["InputDescriptions"]
        self.assertEqual(inp["InputId"], "1.1")
        self.assertEqual(inp["InAppStreamNames"], ["SOURCE_SQL_STREAM_001"])
        self.assertEqual(inp["KinesisStreamsInputDescription"]["ResourceARN"], CARS)
        self.assertEqual(inp["InputSchema"], schema())
        (out,) = d["OutputDescriptions"]
        self.assertEqual(out["OutputId"], "1.1")
        self.assertEqual(out["KinesisStreamsOutputDescription"]["ResourceARN"], SPEEDING)
        self.assertEqual(d["ReferenceDataSourceDescriptions"], [])
        tags = self.kda.list_tags_for_resource(ResourceARN=arn)["Tags"]
        self.assertEqual(tags, [{"Key": "team", "Value": "roads"}])

        names = []
        start = None
        while True:
            kwargs = {"Limit": 1}
            if start:
                kwargs["ExclusiveStartApplicationName"] = start
            page = self.kda.list_applications(**kwargs)
            names += [s["ApplicationName"] for s in page["ApplicationSummaries"]]
            if not page["HasMoreApplications"]:
                break
            start = names[-1]
        self.assertIn(name, names)
        self.assertEqual(names, sorted(names))

        # boto3 sends back the creation time it read, a datetime.
        code, _ = self.error(
            self.kda.delete_application,
            ApplicationName=name,
            CreateTimestamp=d["CreateTimestamp"].replace(year=2020),
        )
        self.assertEqual(code, "ConcurrentModificationException")
        self.kda.delete_application(ApplicationName=name, CreateTimestamp=d["CreateTimestamp"])
        code, message = self.error(self.kda.describe_application, ApplicationName=name)
        self.assertEqual(code, "ResourceNotFoundException")
        self.assertEqual(message, f"Application {name} is not found.")

    def test_versions_and_parts(self):
        name = unique("versions")
        self.kda.create_application(ApplicationName=name)
        code, message = self.error(
            self.kda.add_application_input,
            ApplicationName=name,
            CurrentApplicationVersionId=3,
            Input=app_input(),
        )
        self.assertEqual(code, "ConcurrentModificationException")
        self.assertIn("(3)", message)
        self.kda.add_application_input(
            ApplicationName=name, CurrentApplicationVersionId=1, Input=app_input()
        )
        code, _ = self.error(
            self.kda.add_application_input,
            ApplicationName=name,
            CurrentApplicationVersionId=2,
            Input=app_input(),
        )
        self.assertEqual(code, "InvalidArgumentException")  # one streaming source
        self.kda.add_application_output(
            ApplicationName=name, CurrentApplicationVersionId=2, Output=app_output()
        )
        self.kda.add_application_reference_data_source(
            ApplicationName=name,
            CurrentApplicationVersionId=3,
            ReferenceDataSource={
                "TableName": "CITIES",
                "S3ReferenceDataSource": {
                    "BucketARN": "arn:aws:s3:::reference",
                    "FileKey": "cities.csv",
                    "ReferenceRoleARN": ROLE,
                },
                "ReferenceSchema": {
                    "RecordFormat": {
                        "RecordFormatType": "CSV",
                        "MappingParameters": {
                            "CSVMappingParameters": {
                                "RecordRowDelimiter": "\n",
                                "RecordColumnDelimiter": ",",
                            }
                        },
                    },
                    "RecordColumns": [
                        {"Name": "CITY", "SqlType": "VARCHAR(16)"},
                        {"Name": "LIMIT_KMH", "SqlType": "INTEGER"},
                    ],
                },
            },
        )
        self.kda.add_application_cloud_watch_logging_option(
            ApplicationName=name,
            CurrentApplicationVersionId=4,
            CloudWatchLoggingOption={
                "LogStreamARN": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:kda:log-stream:app",
                "RoleARN": ROLE,
            },
        )
        self.kda.add_application_input_processing_configuration(
            ApplicationName=name,
            CurrentApplicationVersionId=5,
            InputId="2.1",
            InputProcessingConfiguration={
                "InputLambdaProcessor": {
                    "ResourceARN": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:clean",
                    "RoleARN": ROLE,
                }
            },
        )
        self.kda.update_application(
            ApplicationName=name,
            CurrentApplicationVersionId=6,
            ApplicationUpdate={
                "ApplicationCodeUpdate": CODE,
                "OutputUpdates": [
                    {"OutputId": "3.1", "DestinationSchemaUpdate": {"RecordFormatType": "CSV"}}
                ],
            },
        )
        d = self.describe(name)
        self.assertEqual(d["ApplicationVersionId"], 7)
        self.assertEqual(d["InputDescriptions"][0]["InputId"], "2.1")
        self.assertEqual(d["OutputDescriptions"][0]["OutputId"], "3.1")
        self.assertEqual(
            d["OutputDescriptions"][0]["DestinationSchema"], {"RecordFormatType": "CSV"}
        )
        self.assertEqual(d["ReferenceDataSourceDescriptions"][0]["ReferenceId"], "4.1")
        self.assertEqual(
            d["CloudWatchLoggingOptionDescriptions"][0]["CloudWatchLoggingOptionId"], "5.1"
        )
        lam = d["InputDescriptions"][0]["InputProcessingConfigurationDescription"]
        self.assertTrue(lam["InputLambdaProcessorDescription"]["ResourceARN"].endswith(":clean"))
        for call, kwargs in [
            (self.kda.delete_application_input_processing_configuration, {"InputId": "2.1"}),
            (self.kda.delete_application_reference_data_source, {"ReferenceId": "4.1"}),
            (self.kda.delete_application_cloud_watch_logging_option,
             {"CloudWatchLoggingOptionId": "5.1"}),
            (self.kda.delete_application_output, {"OutputId": "3.1"}),
        ]:
            version = self.describe(name)["ApplicationVersionId"]
            call(ApplicationName=name, CurrentApplicationVersionId=version, **kwargs)
        d = self.describe(name)
        self.assertEqual(d["ApplicationVersionId"], 11)
        self.assertEqual(d["OutputDescriptions"], [])
        self.assertEqual(d["ReferenceDataSourceDescriptions"], [])
        self.assertNotIn("InputProcessingConfigurationDescription", d["InputDescriptions"][0])
        code, _ = self.error(
            self.kda.delete_application_output,
            ApplicationName=name,
            CurrentApplicationVersionId=11,
            OutputId="3.1",
        )
        self.assertEqual(code, "ResourceNotFoundException")

    def test_start_stop_states(self):
        name = unique("states")
        self.kda.create_application(
            ApplicationName=name, Inputs=[app_input()], Outputs=[app_output()], ApplicationCode=CODE
        )
        code, _ = self.error(self.kda.stop_application, ApplicationName=name)
        self.assertEqual(code, "ResourceInUseException")
        code, _ = self.error(
            self.kda.start_application,
            ApplicationName=name,
            InputConfigurations=[
                {"Id": "7.7", "InputStartingPositionConfiguration": {"InputStartingPosition": "NOW"}}
            ],
        )
        self.assertEqual(code, "InvalidArgumentException")
        self.kda.start_application(
            ApplicationName=name,
            InputConfigurations=[
                {
                    "Id": "1.1",
                    "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"},
                }
            ],
        )
        d = self.describe(name)
        self.assertEqual(d["ApplicationStatus"], "RUNNING")
        self.assertEqual(d["ApplicationVersionId"], 1)
        self.assertEqual(
            d["InputDescriptions"][0]["InputStartingPositionConfiguration"],
            {"InputStartingPosition": "TRIM_HORIZON"},
        )
        code, _ = self.error(
            self.kda.start_application,
            ApplicationName=name,
            InputConfigurations=[
                {"Id": "1.1", "InputStartingPositionConfiguration": {"InputStartingPosition": "NOW"}}
            ],
        )
        self.assertEqual(code, "ResourceInUseException")
        # A running application takes a new version of its code.
        self.kda.update_application(
            ApplicationName=name,
            CurrentApplicationVersionId=1,
            ApplicationUpdate={"ApplicationCodeUpdate": CODE + "-- v2\n"},
        )
        self.kda.stop_application(ApplicationName=name)
        d = self.describe(name)
        self.assertEqual(d["ApplicationStatus"], "READY")
        self.assertEqual(d["ApplicationVersionId"], 2)

    def test_validation_messages(self):
        code, message = self.error(self.kda.create_application, ApplicationName="no spaces")
        self.assertEqual(code, "ValidationException")
        self.assertEqual(
            message,
            "1 validation error detected: Value 'no spaces' at 'applicationName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        )
        code, message = self.error(self.kda.list_applications, Limit=51)
        self.assertEqual(code, "ValidationException")
        self.assertIn("Member must have value less than or equal to 50", message)
        bad = app_input()
        bad["InputSchema"]["RecordColumns"][1]["SqlType"] = "NUMBERISH"
        code, message = self.error(
            self.kda.create_application, ApplicationName=unique("bad"), Inputs=[bad]
        )
        self.assertEqual(code, "InvalidArgumentException")
        self.assertIn("inputs.1.member.inputSchema.recordColumns.2.member.sqlType", message)
        missing = app_input()
        missing["KinesisStreamsInput"]["ResourceARN"] = CARS.replace("cars", "trucks")
        code, message = self.error(
            self.kda.create_application, ApplicationName=unique("bad"), Inputs=[missing]
        )
        self.assertEqual(code, "InvalidArgumentException")
        self.assertIn("trucks", message)
        code, _ = self.error(
            self.kda.update_application,
            ApplicationName="does-not-exist",
            CurrentApplicationVersionId=1,
            ApplicationUpdate={"ApplicationCodeUpdate": ""},
        )
        self.assertEqual(code, "ResourceNotFoundException")
        name = unique("dup")
        self.kda.create_application(ApplicationName=name)
        code, _ = self.error(self.kda.create_application, ApplicationName=name)
        self.assertEqual(code, "ResourceInUseException")

    def test_tags(self):
        name = unique("tags")
        arn = self.kda.create_application(ApplicationName=name)["ApplicationSummary"][
            "ApplicationARN"
        ]
        self.kda.tag_resource(ResourceARN=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
        self.kda.untag_resource(ResourceARN=arn, TagKeys=["a"])
        self.assertEqual(
            self.kda.list_tags_for_resource(ResourceARN=arn)["Tags"], [{"Key": "b", "Value": "2"}]
        )
        code, _ = self.error(
            self.kda.tag_resource,
            ResourceARN=arn,
            Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)],
        )
        self.assertEqual(code, "TooManyTagsException")
        code, _ = self.error(
            self.kda.list_tags_for_resource,
            ResourceARN=arn.replace(name, name + "x"),
        )
        self.assertEqual(code, "ResourceNotFoundException")

    def test_records_flow_through_a_running_application(self):
        """Start from TRIM_HORIZON over a stream with records, the output in the output stream,
        the code updated while running, a stop, a restart from LAST_STOPPED_POINT: every
        record counted once, none lost."""
        kin = kinesis()
        src, dst = unique("src"), unique("dst")
        for s in (src, dst):
            kin.create_stream(StreamName=s, ShardCount=1)
            kin.get_waiter("stream_exists").wait(
                StreamName=s, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
            )
        put(kin, src, [("a", 130), ("b", 90), ("c", 150)])
        name = unique("flow")
        inp = app_input()
        inp["KinesisStreamsInput"]["ResourceARN"] = CARS.replace("cars", src)
        out = app_output()
        out["KinesisStreamsOutput"]["ResourceARN"] = SPEEDING.replace("speeding", dst)
        self.kda.create_application(
            ApplicationName=name, Inputs=[inp], Outputs=[out], ApplicationCode=CODE
        )
        start = lambda pos: self.kda.start_application(  # noqa: E731
            ApplicationName=name,
            InputConfigurations=[
                {"Id": "1.1", "InputStartingPositionConfiguration": {"InputStartingPosition": pos}}
            ],
        )
        start("TRIM_HORIZON")
        self.assertEqual(
            read_until(kin, dst, 2), [{"CITY": "a", "SPEED": 130}, {"CITY": "c", "SPEED": 150}]
        )
        self.kda.update_application(
            ApplicationName=name,
            CurrentApplicationVersionId=1,
            ApplicationUpdate={"ApplicationCodeUpdate": CODE.replace("> 120", "> 100")},
        )
        put(kin, src, [("d", 110), ("e", 95)])
        self.assertEqual(read_until(kin, dst, 3)[2], {"CITY": "d", "SPEED": 110})
        self.kda.stop_application(ApplicationName=name)
        put(kin, src, [("f", 101), ("g", 102)])
        start("LAST_STOPPED_POINT")
        rows = read_until(kin, dst, 5)
        self.assertEqual(rows[3:], [{"CITY": "f", "SPEED": 101}, {"CITY": "g", "SPEED": 102}])
        self.kda.stop_application(ApplicationName=name)
        self.assertEqual(len(read_until(kin, dst, 5)), 5, "no record is written twice")
        # Code that does not parse is refused at once; code that parses but does not compile
        # against the input (an unknown stream) at the start, with its line and column.
        code, message = self.error(
            self.kda.update_application,
            ApplicationName=name,
            CurrentApplicationVersionId=2,
            ApplicationUpdate={"ApplicationCodeUpdate": "CREATE STREAM oops oops;"},
        )
        self.assertEqual(code, "CodeValidationException")
        self.assertRegex(message, r"\(line 1, column \d+\)")
        self.kda.update_application(
            ApplicationName=name,
            CurrentApplicationVersionId=2,
            ApplicationUpdate={
                "ApplicationCodeUpdate": 'CREATE OR REPLACE PUMP "P" AS INSERT INTO "NOPE"\n'
                'SELECT STREAM * FROM "SOURCE_SQL_STREAM_001";'
            },
        )
        code, message = self.error(start, pos="NOW")
        self.assertEqual(code, "CodeValidationException")
        self.assertRegex(message, r"\(line 1, column \d+\)")
        self.assertEqual(self.describe(name)["ApplicationStatus"], "READY")

    def test_discover_input_schema(self):
        kin = kinesis()
        src = unique("disc")
        kin.create_stream(StreamName=src, ShardCount=1)
        kin.get_waiter("stream_exists").wait(
            StreamName=src, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
        )
        arn = CARS.replace("cars", src)
        trim = {"InputStartingPosition": "TRIM_HORIZON"}
        code, _ = self.error(
            self.kda.discover_input_schema,
            ResourceARN=arn,
            RoleARN=ROLE,
            InputStartingPositionConfiguration=trim,
        )
        self.assertEqual(code, "UnableToDetectSchemaException")
        put(kin, src, [("Paris", 131), ("Lyon", 88)])
        d = self.kda.discover_input_schema(
            ResourceARN=arn, RoleARN=ROLE, InputStartingPositionConfiguration=trim
        )
        cols = [(c["Name"], c["SqlType"]) for c in d["InputSchema"]["RecordColumns"]]
        self.assertEqual([n for n, _ in cols], ["city", "speed"])
        self.assertEqual(d["InputSchema"]["RecordFormat"]["RecordFormatType"], "JSON")
        self.assertEqual(len(d["RawInputRecords"]), 2)
        self.assertEqual(d["ParsedInputRecords"][0][0], "Paris")

    def test_kept_across_restart(self):
        try:
            self.kda.create_application(
                ApplicationName=KEPT, Inputs=[app_input()], Outputs=[app_output()]
            )
        except ClientError as e:  # a rerun on the same storage
            self.assertEqual(e.response["Error"]["Code"], "ResourceInUseException")
            return
        self.kda.update_application(
            ApplicationName=KEPT,
            CurrentApplicationVersionId=1,
            ApplicationUpdate={"ApplicationCodeUpdate": CODE},
        )
        self.kda.start_application(
            ApplicationName=KEPT,
            InputConfigurations=[
                {"Id": "1.1", "InputStartingPositionConfiguration": {"InputStartingPosition": "NOW"}}
            ],
        )


class AfterRestart(unittest.TestCase):
    def test_application_is_kept(self):
        kda = client()
        d = kda.describe_application(ApplicationName=KEPT)["ApplicationDetail"]
        self.assertEqual(d["ApplicationVersionId"], 2)
        self.assertEqual(d["ApplicationStatus"], "RUNNING")
        self.assertEqual(d["ApplicationCode"], CODE)
        self.assertEqual(
            d["InputDescriptions"][0]["InputStartingPositionConfiguration"],
            {"InputStartingPosition": "NOW"},
        )
        kda.stop_application(ApplicationName=KEPT)
        kda.delete_application(ApplicationName=KEPT, CreateTimestamp=d["CreateTimestamp"])


if __name__ == "__main__":
    unittest.main()
